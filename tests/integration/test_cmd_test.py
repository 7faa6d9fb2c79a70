"""`siemrelay test`: every sample through the configured pipeline offline,
its status, the reasons it went nowhere (dropped by which script, failed
with the script's file:line, unrouted by channel / message type /
severity), and each integration's wire record compared byte for byte with
what the real gateway sends for the same event (FILE contents, the bodies
WEBHOOK, SPLUNK and ELASTIC receivers got, SYSLOG and QRADAR TCP streams,
KAFKA payloads from the mock cluster, and what the strict receivers of
PUBSUB, CHRONICLE, SCC, SENTINEL, MCM and SQS were sent); secrets masked in
the requests shown; script routes; script suites (a failing case gives a
diff and a non-zero exit); the cookbook's recipes are the shipped, tested
scripts."""

import json
import os
import pytest

from dest_util import FORWARDER, Peers
from harness import (DATA_DIR, INVALID_SAMPLE, SAMPLE_NAMES, file_integration, repo_path, run_cli,
                     sample_bytes, strict_loads, summary_of, wait_until, webhook, yaml_text)
from peers.capture import Capture
from receivers.elastic import ElasticReceiver
from receivers.splunk import HecReceiver

SECRET = "hook-secret-7f3a9c1e"
HEC_TOKEN = "5a4bfc2e-8d0d-4b0e-9c52-3a1d6f0e7c11"
ES_USER, ES_PASSWORD = "elastic", "s3cr3t-pw-for-cmd-test"

SCRIPT = """\
-- drops file access events, fails on kubectl exec, marks the rest
local M = {}
function M.process(ev, ctx)
    local t = ev:get("type")
    if t == "fileaccess" then
        return false
    end
    if t == "kubernetes" then
        error("no exec events here")
    end
    ev:set("checked", true)
    return true
end
return M
"""

INTEG_SCRIPT = """\
local M = {}
function M.process(ev, ctx)
    if ev:get("type") == "connection" then
        return false
    end
    ev:set("via", ctx.integration)
end
return M
"""


def sample_paths():
    return [os.path.join(DATA_DIR, n) for n in SAMPLE_NAMES]


def run_test(config, files, *extra, stdin=None):
    args = ["test", "-c", config, "--json"] + list(extra) + list(files)
    if stdin is None:
        p = run_cli(args)
    else:
        import subprocess
        from harness import gateway_bin
        p = subprocess.run([gateway_bin()] + args, input=stdin, capture_output=True, timeout=15)
        p.stdout = p.stdout.decode()
        p.stderr = p.stderr.decode()
    out = [strict_loads(line) for line in p.stdout.splitlines() if line.strip()]
    return p, out


def by_name(report):
    return {i["name"]: i for i in report["integrations"]}


# ---- statuses and reasons -------------------------------------------------------

@pytest.fixture
def scripted(tmp_path):
    (tmp_path / "global.lua").write_text(SCRIPT)
    (tmp_path / "per.lua").write_text(INTEG_SCRIPT)
    conf = {
        "data_dir": str(tmp_path / "data"),
        "scripts": [str(tmp_path / "global.lua")],
        "local_forwarder": {"enabled": True, "transmit_message_types": ["POLICY_EVENTS"]},
        "integrations": [
            webhook("soc", "http://127.0.0.1:9/hook", min_severity=3, scripts=[str(tmp_path / "per.lua")],
                    auth="BEARER_TOKEN", secret=SECRET),
            file_integration("archive", str(tmp_path / "archive.jsonl"), channels=["PLATFORM_AUDIT"]),
        ],
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml_text(conf))
    return str(path), tmp_path


def test_every_sample_status_and_reasons(scripted):
    config, tmp = scripted
    files = sample_paths() + [os.path.join(DATA_DIR, INVALID_SAMPLE)]
    p, out = run_test(config, files)
    assert p.returncode == 1, p.stderr  # one failed, one rejected
    got = {os.path.basename(r["source"]): r for r in out}
    assert sorted(got) == sorted(SAMPLE_NAMES + [INVALID_SAMPLE])

    # a global drop names the script
    r = got["audit_file.json"]
    assert r["status"] == "dropped"
    assert r["reason"] == "dropped by global script %s" % (tmp / "global.lua")
    assert {i["result"] for i in r["integrations"]} == {"not_reached"}

    # a global failure: stage, message with the script's file:line
    r = got["audit_kube_exec.json"]
    assert r["status"] == "failed" and r["stage"] == "script"
    # Lua shortens a long chunk name in the message; the location is whole
    assert "global.lua:9: no exec events here" in r["reason"], r["reason"]
    assert r["reason"].endswith(" (at %s:9)" % (tmp / "global.lua")), r["reason"]

    # parse errors: where and why
    r = got[INVALID_SAMPLE]
    assert r["status"] == "rejected" and r["line"] == 26
    assert "expected ',' or '}' after object member" in r["reason"]

    # message type: SECURE_AUDIT is not transmitted
    r = got["audit_command.json"]
    assert r["status"] == "accepted"
    soc = by_name(r)["soc"]
    assert soc["result"] == "unrouted"
    assert soc["reason"] == "message type SECURE_AUDIT is not in local_forwarder.transmit_message_types"
    assert by_name(r)["archive"]["reason"] == ("channel ACTIVITY_AUDIT is not among the integration's "
                                               "channels [PLATFORM_AUDIT]")

    # the policy event reaches soc (severity 0 <= 3), with both scripts' edits
    r = got["policy_event.json"]
    assert r["status"] == "accepted" and r["severity"] == 0
    assert r["event"]["checked"] is True and "via" not in r["event"]  # per-integration edits stay there
    soc = by_name(r)["soc"]
    assert soc["result"] == "record"
    rec = strict_loads(soc["record"])
    assert rec["via"] == "soc" and rec["checked"] is True
    assert rec["timestamp"] == 1606322948648718268
    req = soc["request"]
    assert req["method"] == "POST" and req["url"] == "http://127.0.0.1:9/hook"
    assert req["headers"]["Authorization"] == "Bearer ******"
    assert SECRET not in p.stdout and SECRET not in p.stderr

    # platform audit goes to the archive only through its channel
    r = got["platform_audit.json"]
    assert by_name(r)["archive"]["result"] == "record"
    assert "request" not in by_name(r)["archive"]  # FILE is not an HTTP type


def test_severity_and_per_integration_drop_reasons(scripted):
    config, tmp = scripted
    ev = json.loads(sample_bytes("policy_event.json"))
    ev["severity"] = 6
    conn = json.loads(sample_bytes("audit_network.json"))
    body = (json.dumps(ev) + "\n" + json.dumps(conn) + "\n").encode()
    p, out = run_test(config, ["-"], stdin=body)
    assert p.returncode == 0, p.stderr
    assert [r["line"] for r in out] == [1, 2]
    soc = by_name(out[0])["soc"]
    assert soc["result"] == "unrouted"
    assert soc["reason"] == "severity 6 (Low) is less severe than min_severity 3 (High)"
    # connection events: SECURE_AUDIT is not transmitted, so soc never sees them;
    # with it transmitted the per-integration script drops them
    conf = yaml_text_load(config)
    conf["local_forwarder"]["transmit_message_types"] = ["POLICY_EVENTS", "SECURE_AUDIT"]
    (tmp / "cfg2.yaml").write_text(yaml_text(conf))
    p, out = run_test(str(tmp / "cfg2.yaml"), [os.path.join(DATA_DIR, "audit_network.json")])
    soc = by_name(out[0])["soc"]
    assert soc["result"] == "dropped"
    assert soc["reason"] == "dropped by the integration's script %s" % (tmp / "per.lua")


def yaml_text_load(path):
    import yaml
    with open(path) as f:
        return yaml.safe_load(f)


def test_text_output_names_everything(scripted):
    config, tmp = scripted
    p = run_cli(["test", "-c", config, os.path.join(DATA_DIR, "policy_event.json"),
                 os.path.join(DATA_DIR, "audit_file.json")])
    assert p.returncode == 0, p.stderr
    text = p.stdout
    assert "policy_event.json: event 1: accepted (id \"164ace360cc3cfbc26ec22d61b439500\"" in text
    assert "  soc (WEBHOOK): record, " in text
    assert "    POST http://127.0.0.1:9/hook\n" in text
    assert "      Authorization: Bearer ******\n" in text
    assert "  archive (FILE): unrouted: channel SECURE_EVENTS_POLICIES is not among" in text
    assert "audit_file.json: event 1: dropped" in text
    assert "dropped by global script %s" % (tmp / "global.lua") in text
    assert SECRET not in text


def test_usage_and_bad_input(scripted, tmp_path):
    config, _ = scripted
    assert run_cli(["test"]).returncode == 2
    p = run_cli(["test", "-c", config, str(tmp_path / "missing.json")])
    assert p.returncode == 2 and "cannot open" in p.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("integrations:\n- type: WEBHOK\n")
    p = run_cli(["test", "-c", str(bad), os.path.join(DATA_DIR, "policy_event.json")])
    assert p.returncode == 2 and "did you mean 'WEBHOOK'" in p.stderr


# ---- wire records: the same bytes the gateway sends -----------------------------

@pytest.fixture
def peers():
    made = []

    def make(cls, **kw):
        p = Peers(cls, **kw)
        made.append(p)
        return p()
    yield make
    for p in made:
        p.close()


def one_each(entry):
    entry["batch"] = {"max_events": 1, "linger": "0ms"}
    return entry


def test_wire_records_match_what_the_gateway_sends(tmp_path, peers, receiver_factory, gateway_factory):
    hook = receiver_factory()
    hec = peers(HecReceiver, tokens={HEC_TOKEN: None})
    es = peers(ElasticReceiver, auth=("basic", ES_USER, ES_PASSWORD))
    tcp = Capture()
    archive = str(tmp_path / "archive.jsonl")
    integrations = [
        one_each(file_integration("archive", archive)),
        one_each(webhook("hook", hook.url())),
        one_each({"name": "hec", "type": "SPLUNK", "channels": ["SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT"],
                  "configuration": {"endpoint": hec.url(), "token": HEC_TOKEN}}),
        one_each({"name": "es", "type": "ELASTIC", "channels": ["SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT"],
                  "configuration": {"endpoint": es.url(), "index": "sysdig-%Y.%m.%d", "auth": "BASIC_AUTH",
                                    "secret": "%s:%s" % (ES_USER, ES_PASSWORD)}}),
        one_each({"name": "syslog", "type": "SYSLOG",
                  "configuration": {"address": "127.0.0.1", "port": tcp.port, "type": "tcp",
                                    "formatter": "CEF", "messageFormat": "RFC_5424"}}),
    ]
    try:
        gw = gateway_factory(integrations, conf=FORWARDER)
        for name in SAMPLE_NAMES:
            r = gw.post(sample_bytes(name), content_type="application/json")
            assert r.status_code == 200 and summary_of(r)["accepted"] == 1, r.text

        p, out = run_test(gw.config_path, sample_paths())
        assert p.returncode == 0, p.stderr
        want = {}
        for report in out:
            for i in report["integrations"]:
                if i["result"] == "record":
                    want.setdefault(i["name"], []).append(i["record"].encode())
        assert sorted(want) == ["archive", "es", "hec", "hook", "syslog"]
        assert len(want["archive"]) == len(SAMPLE_NAMES)

        def got_hook():
            return [r.body for r in hook.requests] if len(hook.requests) >= len(want["hook"]) else None
        bodies = wait_until(got_hook, 15)
        assert sorted(bodies) == sorted(rec + b"\n" for rec in want["hook"])

        bodies = wait_until(lambda: [r.body for r in hec.requests if r.status == 200]
                            if len([r for r in hec.requests if r.status == 200]) >= len(want["hec"]) else None, 15)
        assert sorted(bodies) == sorted(want["hec"])  # HEC: records back to back

        bodies = wait_until(lambda: [r.body for r in es.requests if r.status == 200]
                            if len([r for r in es.requests if r.status == 200]) >= len(want["es"]) else None, 15)
        assert sorted(bodies) == sorted(want["es"])  # framing "concat": each record ends its line itself

        stream = b"".join(want["syslog"])
        wait_until(lambda: len(tcp.bytes()) >= len(stream), 15)
        got_stream = tcp.bytes()
        # records go in posting order, each one whole
        assert got_stream == stream or sorted(split_by(got_stream, want["syslog"])) == sorted(want["syslog"])

        def file_done():
            return os.path.exists(archive) and open(archive, "rb").read().count(b"\n") >= len(SAMPLE_NAMES)
        wait_until(file_done, 15)
        with open(archive, "rb") as f:
            lines = f.read().split(b"\n")[:-1]
        assert lines == want["archive"]  # FILE writes in submission order

        # the requests shown are the ones sent, secrets masked
        reports = {os.path.basename(r["source"]): by_name(r) for r in out}
        shown = reports["policy_event.json"]["es"]["request"]
        sent = [r for r in es.requests if r.status == 200][0]
        assert shown["url"] == es.url() + sent.path
        assert shown["headers"]["Authorization"] == "Basic ******"
        assert shown["headers"]["Content-Type"] == sent.header("content-type")
        assert reports["policy_event.json"]["hec"]["request"]["headers"]["Authorization"] == "Splunk ******"
        assert HEC_TOKEN not in p.stdout and ES_PASSWORD not in p.stdout
    finally:
        tcp.close()


def split_by(stream, records):
    out, pos = [], 0
    while pos < len(stream):
        rec = next(r for r in records if stream.startswith(r, pos))
        out.append(rec)
        pos += len(rec)
    return out


# ---- script suites ---------------------------------------------------------------

def test_every_example_script_ships_a_passing_suite():
    examples = repo_path("lua", "examples")
    scripts = sorted(f[:-4] for f in os.listdir(examples) if f.endswith(".lua"))
    assert "tag" in scripts  # docs/configuration.md cites it
    for name in scripts:
        suite = os.path.join(examples, name + ".test.yaml")
        assert os.path.exists(suite), "lua/examples/%s.lua has no suite" % name
        p = run_cli(["test", "--suite", suite])
        assert p.returncode == 0, p.stdout + p.stderr
        assert "FAIL" not in p.stdout and " 0 failed" in p.stdout


FAILING_SUITE = """\
config: %(config)s
scripts: [%(script)s]
cases:
  - name: passes
    event: %(data)s/policy_event.json
    expect: {integrations: [soc], fields: {timestamp: 1606322948648718268}}
  - name: wrong on purpose
    event: %(data)s/policy_event.json
    set: {severity: 2}
    expect:
      dropped: true
      fields:
        timestamp: 1606322948648718269
        'content.fields["proc.cmdline"]': "touch /etc/ard"
      absent: [content.output]
      records:
        soc: {contains: "no such text", matches: '"checked":true'}
"""


def test_a_failing_suite_case_gives_a_diff_and_exit_1(scripted, tmp_path):
    config, tmp = scripted
    suite = tmp_path / "s.test.yaml"
    suite.write_text(FAILING_SUITE % {"config": config, "script": tmp / "global.lua", "data": DATA_DIR})
    p = run_cli(["test", "--suite", str(suite)])
    assert p.returncode == 1, p.stdout + p.stderr
    out = p.stdout
    assert "ok   %s:4: passes" % suite in out
    assert "FAIL %s:7: wrong on purpose" % suite in out
    assert "  dropped:\n      expected true\n      got      accepted\n" in out
    # 64-bit integers are compared digit by digit
    assert "  fields timestamp:\n      expected 1606322948648718269\n      got      1606322948648718268\n" in out
    assert 'fields content.fields["proc.cmdline"]' not in out  # that one holds
    assert "  absent content.output:\n      expected (absent)\n      got      \"File below /etc" in out
    assert '  records.soc contains:\n      expected to contain "no such text"\n' in out
    assert "records.soc matches" not in out  # the record does have "checked":true
    assert "%s: 1 passed, 1 failed" % suite in out


def test_a_malformed_suite_is_reported_with_its_line(scripted, tmp_path):
    config, _ = scripted
    suite = tmp_path / "m.test.yaml"
    suite.write_text("config: %s\ncases:\n  - name: typo\n    event: '{\"type\":\"policy\"}'\n"
                     "    expect: {statsu: accepted}\n" % config)
    p = run_cli(["test", "--suite", str(suite)])
    assert p.returncode == 1
    assert "%s:5: unknown expectation 'statsu' (did you mean 'status'?)" % suite in p.stdout
    suite.write_text("confg: x\ncases: []\n")
    p = run_cli(["test", "--suite", str(suite)])
    assert p.returncode == 2 and "unknown key 'confg' (did you mean 'config'?)" in p.stderr


ROUTE_SCRIPT = """\
local M = {}
function M.process(ev, ctx)
    if ev:get("type") == "policy" then
        ev:route{"archive"}
    elseif ev:get("type") == "connection" then
        ev:unroute{"archive"}
    end
end
return M
"""


def test_script_routes_are_reported(tmp_path):
    (tmp_path / "route.lua").write_text(ROUTE_SCRIPT)
    conf = {"data_dir": str(tmp_path / "data"), "scripts": [str(tmp_path / "route.lua")],
            "integrations": [webhook("soc", "http://127.0.0.1:9/hook"),
                             file_integration("archive", str(tmp_path / "a.jsonl"))]}
    (tmp_path / "cfg.yaml").write_text(yaml_text(conf))
    p, out = run_test(str(tmp_path / "cfg.yaml"), [os.path.join(DATA_DIR, "policy_event.json"),
                                                   os.path.join(DATA_DIR, "audit_network.json")])
    assert p.returncode == 0, p.stderr
    policy, conn = by_name(out[0]), by_name(out[1])
    assert policy["archive"]["result"] == "record"
    assert policy["soc"] == {"name": "soc", "type": "WEBHOOK", "result": "unrouted",
                             "reason": "a global script routed the event to other integrations (ev:route)"}
    assert conn["soc"]["result"] == "record"
    assert conn["archive"]["result"] == "unrouted"
    assert conn["archive"]["reason"] == "a global script excluded this integration (ev:unroute)"


def test_every_cookbook_recipe_is_a_shipped_script_with_a_named_case():
    import re
    with open(repo_path("docs", "scripting.md")) as f:
        doc = f.read()
    cookbook = doc[doc.index("## Cookbook"):doc.index("## Passing parameters")]
    recipes = re.findall(r"^### \d+\. .*$", cookbook, re.M)
    assert len(recipes) >= 12
    blocks = re.findall(r"```lua\n-- lua/examples/(\w+)\.lua\n(.*?)```", cookbook, re.S)
    cases = re.findall(r"Tested by `lua/examples/(\w+)\.test\.yaml`, case \*(.+?)\*\.", cookbook)
    assert len(blocks) == len(recipes) == len(cases)
    for (name, code), (suite_name, case) in zip(blocks, cases):
        assert name == suite_name
        with open(repo_path("lua", "examples", name + ".lua")) as f:
            assert f.read() == code, "docs/scripting.md shows an outdated lua/examples/%s.lua" % name
        suite = repo_path("lua", "examples", name + ".test.yaml")
        p = run_cli(["test", "--suite", suite])
        assert p.returncode == 0, p.stdout + p.stderr
        assert re.search(r"^ok   \S+:\d+: %s$" % re.escape(case), p.stdout, re.M), (name, case, p.stdout)


# ---- the other types: what each platform's strict receiver got for an event ------

def records_by_id(out):
    """{integration name: {event id: record bytes}} from `siemrelay test --json`."""
    got = {}
    for report in out:
        for i in report["integrations"]:
            if i["result"] == "record":
                got.setdefault(i["name"], {})[report["event"]["id"]] = i["record"].encode()
    return got


def test_wire_records_of_the_cloud_and_stream_types(tmp_path, gateway_factory):
    import base64 as b64
    from google_util import conf as google_conf
    from peers.kafka_mock import KafkaMock
    from receivers.azure import AzureReceiver
    from receivers.google import GoogleReceiver
    from receivers.ibm import IbmReceiver
    from receivers.sqs import SqsReceiver
    from test_kafka import kafka as kafka_integration
    from test_mcm import API_KEY as IBM_KEY, ACCOUNT as IBM_ACCOUNT, mcm
    from test_pubsub import PROJECT, TOPIC, pubsub
    from test_chronicle import v1 as chronicle_v1, API_KEY as CHRONICLE_KEY
    from test_scc import scc
    from test_sentinel import KEY as SENTINEL_KEY, data_collector, CLIENT_SECRET
    from test_sqs import ACCOUNT, AKID, QUEUE, REGION, SECRET as SQS_SECRET, sqs_integration

    google = GoogleReceiver().start()
    sa = google.add_service_account()
    google.add_topic(PROJECT, TOPIC)
    google.add_chronicle_key(CHRONICLE_KEY)
    google.add_organization("123456789012")
    azure = AzureReceiver(client_secret=CLIENT_SECRET, shared_key=SENTINEL_KEY).start()
    ibm = IbmReceiver(api_keys={IBM_KEY: IBM_ACCOUNT}).start()
    sqs = SqsReceiver(credentials={AKID: (SQS_SECRET, None)}, region=REGION, queues={(ACCOUNT, QUEUE)}).start()
    km = KafkaMock(brokers=1, topics=["events:1"], log_path=str(tmp_path / "kafka_mock.log")).start()
    qradar = Capture()
    try:
        one = {"max_events": 1, "linger": "0ms"}
        integrations = [
            pubsub(google, sa, batch=one), chronicle_v1(google), scc(google, sa),
            data_collector(azure, batch=one), mcm(ibm), sqs_integration(sqs, batch=one),
            kafka_integration("kafka", km.bootstrap, "events", batch=one),
            {"name": "qradar", "type": "QRADAR", "channels": ["SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT"],
             "batch": one, "configuration": {"address": "127.0.0.1", "port": qradar.port}},
        ]
        cfg = dict(google_conf())
        cfg.update(FORWARDER)
        gw = gateway_factory(integrations, conf=cfg)
        names = [n for n in SAMPLE_NAMES if n != "platform_audit.json"]
        for name in names:
            r = gw.post(sample_bytes(name), content_type="application/json")
            assert r.status_code == 200 and summary_of(r)["accepted"] == 1, r.text

        p, out = run_test(gw.config_path, [os.path.join(DATA_DIR, n) for n in names])
        assert p.returncode == 0, p.stderr
        want = records_by_id(out)
        ids = sorted(strict_loads(sample_bytes(n))["id"] for n in names)
        for name in ("ps", "legacy", "sqs", "kafka", "qradar"):  # the types that take every channel sent
            assert sorted(want.get(name, {})) == ids, (name, sorted(want.get(name, {})))
        for name in ("chr1", "scc", "mcm"):  # policy events
            assert sorted(want.get(name, {})) == ["164ace360cc3cfbc26ec22d61b439500"], name

        # PUBSUB: the record is the PubsubMessage; the data published is its data
        google.wait(lambda: len(google.messages) >= len(ids))
        got = {strict_loads(m["data"])["id"]: m["data"] for m in google.messages}
        assert {i: (v if isinstance(v, bytes) else v.encode()) for i, v in got.items()} == {
            i: b64.b64decode(strict_loads(rec)["data"]) for i, rec in want["ps"].items()}
        # CHRONICLE: each entry's log_text is the record's
        google.wait(lambda: len(google.entries) >= len(want["chr1"]))
        for e in google.entries:  # the record is the entry: {"log_text":..., "ts_rfc3339":...}
            rec = strict_loads(want["chr1"][strict_loads(e["log_text"])["id"]])
            assert rec == e["entry"], (rec, e)
        # SENTINEL (Data Collector): the records as stored, integers exact
        stored = azure.wait_records("collector", len(ids))
        assert sorted(compact_json(r) for r in stored) == sorted(
            compact_json(strict_loads(v)) for v in want["legacy"].values())
        # SQS: each message body is the record, byte for byte
        sqs.wait(lambda: len(sqs.messages) >= len(ids), 15, "fewer SQS messages")
        assert sorted(b.encode() if isinstance(b, str) else b for b in sqs.bodies()) == sorted(want["sqs"].values())
        # KAFKA: each payload is the record
        msgs = wait_until(lambda: (lambda m: m if len(m) >= len(ids) else None)(km.consume("events")), 30,
                          interval=0.3)
        assert sorted(m["payload"] if isinstance(m["payload"], bytes) else m["payload"].encode()
                      for m in msgs) == sorted(want["kafka"].values())
        # QRADAR: the TCP stream is the records
        stream = b"".join(want["qradar"].values())
        wait_until(lambda: len(qradar.bytes()) >= len(stream), 15)
        assert sorted(split_by(qradar.bytes(), list(want["qradar"].values()))) == sorted(want["qradar"].values())
        # SCC and MCM: the record is what the create request carries (SCC:
        # {findingId, finding}, the finding as the body and the id in the query)
        def bodies(rcv):
            out = []
            for q in list(rcv.requests):
                try:
                    out.append(strict_loads(q.body))
                except Exception:
                    pass
            return out
        google.wait(lambda: len(google.findings) >= len(want["scc"]))
        for rec in want["scc"].values():
            r = strict_loads(rec)
            assert r["finding"] in bodies(google), r
        ibm.wait(lambda: len(ibm.occurrence_list()) >= len(want["mcm"]), 15, "fewer occurrences")
        for rec in want["mcm"].values():
            assert strict_loads(rec) in bodies(ibm), rec
        for secret in (CHRONICLE_KEY, SENTINEL_KEY, SQS_SECRET, IBM_KEY):
            assert secret not in p.stdout
    finally:
        for r in (google, azure, ibm, sqs, km):
            r.stop()
        qradar.close()


def compact_json(v):
    return json.dumps(v, separators=(",", ":"), sort_keys=True)


def test_credentials_in_requests_are_masked(tmp_path):
    import base64 as b64
    user_pw = "alice:pa55-w0rd-secret"
    conf = {"data_dir": str(tmp_path / "data"), "integrations": [
        webhook("basic", "http://127.0.0.1:9/hook", auth="BASIC_AUTH", secret=user_pw,
                headers={"X-Api-Token": "first-word rest-of-token", "X-Site": "lab"}),
        webhook("signed", "http://127.0.0.1:9/hook?sig=" + SECRET, auth="SIGNATURE", secret=SECRET),
    ]}
    (tmp_path / "cfg.yaml").write_text(yaml_text(conf))
    p, out = run_test(str(tmp_path / "cfg.yaml"), [os.path.join(DATA_DIR, "policy_event.json")])
    assert p.returncode == 0, p.stderr
    basic, signed = by_name(out[0])["basic"]["request"], by_name(out[0])["signed"]["request"]
    assert basic["headers"]["Authorization"] == "Basic ******"
    assert basic["headers"]["X-Api-Token"] == "******"  # no word of it shown
    assert basic["headers"]["X-Site"] == "lab"
    assert signed["headers"]["X-Siemrelay-Signature"] == "******"
    assert signed["url"] == "http://127.0.0.1:9/hook?sig=" + "*" * len(SECRET)  # the secret, wherever it is
    text = p.stdout + p.stderr
    for s in (user_pw, b64.b64encode(user_pw.encode()).decode(), "first-word", SECRET):
        assert s not in text


def test_a_route_name_that_matches_no_integration_is_a_warning(tmp_path):
    (tmp_path / "typo.lua").write_text('local M = {}\nfunction M.process(ev, ctx) ev:route{"scoc", "archive"} '
                                       'ev:unroute{"nope"} end\nreturn M\n')
    conf = {"data_dir": str(tmp_path / "data"), "scripts": [str(tmp_path / "typo.lua")],
            "integrations": [webhook("soc", "http://127.0.0.1:9/hook"),
                             file_integration("archive", str(tmp_path / "a.jsonl"))]}
    (tmp_path / "cfg.yaml").write_text(yaml_text(conf))
    p, out = run_test(str(tmp_path / "cfg.yaml"), [os.path.join(DATA_DIR, "policy_event.json")])
    assert p.returncode == 0, p.stderr
    assert out[0]["warning"] == "ev:route/ev:unroute names no integration: 'scoc', 'nope'"
    assert by_name(out[0])["soc"]["result"] == "unrouted"
    p = run_cli(["test", "-c", str(tmp_path / "cfg.yaml"), os.path.join(DATA_DIR, "policy_event.json")])
    assert "\n  warning: ev:route/ev:unroute names no integration: 'scoc', 'nope'\n" in p.stdout


SWAP_SCRIPT = """\
local M = {}
function M.process(ev, ctx)
    ev:set("site", "lab-" .. ctx.integration)
end
return M
"""

SWAP_SUITE = """\
config: %(config)s
integration_scripts:
  soc: [%(swap)s]
cases:
  - name: soc runs the suite's script instead of its own, after the global one
    event: %(data)s/policy_event.json
    set: {severity: 0}
    expect:
      integrations: [soc]
      records:
        soc: {fields: {site: lab-soc, checked: true}, absent: [via]}
"""


def test_a_suite_swaps_an_integrations_scripts(scripted, tmp_path):
    config, tmp = scripted
    (tmp_path / "swap.lua").write_text(SWAP_SCRIPT)
    suite = tmp_path / "swap.test.yaml"
    suite.write_text(SWAP_SUITE % {"config": config, "swap": "swap.lua", "data": DATA_DIR})
    p = run_cli(["test", "--suite", str(suite)])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "%s: 1 passed, 0 failed" % suite in p.stdout
    # Without the swap the configuration's own per-integration script runs:
    # the same expectations fail on exactly the swapped-in field.
    suite.write_text((SWAP_SUITE % {"config": config, "swap": "swap.lua", "data": DATA_DIR})
                     .replace("integration_scripts:\n  soc: [swap.lua]\n", ""))
    p = run_cli(["test", "--suite", str(suite)])
    assert p.returncode == 1, p.stdout + p.stderr
    assert "records.soc fields site:" in p.stdout
    assert "records.soc absent via:" in p.stdout
    # A name the configuration does not have cannot run at all.
    suite.write_text((SWAP_SUITE % {"config": config, "swap": "swap.lua", "data": DATA_DIR})
                     .replace("  soc: [swap.lua]", "  sco: [swap.lua]"))
    p = run_cli(["test", "--suite", str(suite)])
    assert p.returncode == 2
    assert "integration_scripts: the configuration has no integration 'sco'" in p.stderr
    suite.write_text("config: %s\nintegration_scripts: [swap.lua]\ncases: []\n" % config)
    p = run_cli(["test", "--suite", str(suite)])
    assert p.returncode == 2
    assert "'integration_scripts' maps integration names to their scripts" in p.stderr
