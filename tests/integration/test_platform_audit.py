"""Platform audit (channel PLATFORM_AUDIT, event type audittrail) and
monitor events (MONITOR_EVENTS, type monitor) reach every type that takes
them, each checked by that type's strict receiver (or rsyslog), field by
field with exact 64-bit integers: SPLUNK (sourcetypes sysdig:platform:audit
and sysdig:monitor:event), ELASTIC (the document under its id), SENTINEL
(Logs Ingestion and the Data Collector API), SQS, PUBSUB, CHRONICLE (log
type SYSDIG), SYSLOG as JSON, CEF and LEEF, and QRADAR (LEEF 2.0), mapped as
docs/integrations.md says (an audit record's signature
audittrail:<entity>:<method> and severity from the response status; a
monitor event's name, description and scope).

Every integration subscribes to those two channels only, and a policy
event posted with them reaches none: the channels route.
MCM and SCC do not take platform audit (findings APIs; see the docs), and
a --check that subscribes them to it is refused.

docs/integrations.md's channel lists (the "Channels per type" table and
each type's "Channels:" line) are compared with every module's M.channels
as the running gateway reports them (GET /api/types), so they cannot drift.
"""

import copy
import json
import re
import socket
import time

import pytest

from dest_util import post_all
from google_util import conf as fast_conf
from google_util import integration, json_exact, new_id
from harness import repo_path, run_cli, sample_bytes, strict_loads, wait_until
from peers.rsyslog import rsyslog_available, rsyslog_tls_available
from receivers.azure import AzureReceiver
from receivers.elastic import ElasticReceiver
from receivers.google import GoogleReceiver
from receivers.splunk import HecReceiver
from receivers.sqs import SqsReceiver
from siem_formats import (bsd_time, expected_cef, expected_leef, parse_3164, parse_5424, parse_cef,
                          parse_leef, rfc3339_micro, syslog_severity)
from syslog_common import pki, rsyslog  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(not (rsyslog_available() and rsyslog_tls_available()),
                                reason="rsyslogd with the ossl driver (rsyslog-openssl) is not installed")

CHANNELS = ["PLATFORM_AUDIT", "MONITOR_EVENTS"]
HEC_TOKEN = "0d9b7c2e-5a41-4f0e-8d3c-6b2a1e0f9c87"
ES_USER, ES_PASSWORD = "elastic", "audit-pw"
AZ_SECRET = "entra-secret-audit.7vZ"
AKID, AWS_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCOUNT, QUEUE, REGION = "123456789012", "sysdig-audit", "eu-west-1"
PROJECT, TOPIC = "siemrelay-test", "sysdig-audit"
CHRONICLE_KEY = "AIzaSyTest_chronicle-audit-0123456789"
BATCH = {"max_events": 50, "linger": "20ms"}
WAIT = 30  # seconds: generous, the machine is shared


def audit_events():
    """The published sample, and a refused request with 64-bit integers at
    their limits and characters every format has to escape."""
    sample = json.loads(sample_bytes("platform_audit.json"))
    denied = copy.deepcopy(sample)
    denied["id"] = new_id()
    denied["timestamp"] = 1700000000123456789
    denied["timestampRFC3339Nano"] = "2023-11-14T22:13:20.123456789Z"
    denied["content"].update({
        "timestampNs": 1700000000123456789, "customerId": 18446744073709551615,
        "userId": 9223372036854775807, "teamId": -9223372036854775808, "requestMethod": "DELETE",
        "requestUri": "/api/policies/a=b|c\\d", "queryString": "force=true&why=x y",
        "userOriginIP": "10.1.2.3", "responseStatusCode": 403, "entityType": "policy",
        "username": "eve"})
    denied["labels"] = {"entityType": "policy"}
    failed = copy.deepcopy(sample)
    failed["id"] = new_id()
    failed["content"].update({"requestMethod": "POST", "responseStatusCode": 500, "queryString": ""})
    return [sample, denied, failed]


def monitor_events():
    """Monitor events as siemrelay's own test event has them (Sysdig
    publishes no sample): one with a host label and 64-bit integers, one
    with characters CEF and LEEF escape and no severity."""
    alert = {"id": new_id(), "type": "monitor", "timestamp": 1606322950000000001,
             "timestampRFC3339Nano": "2020-11-25T16:49:10.000000001Z", "source": "monitor",
             "name": "Pod restarts high", "description": "restarts > 5 in 10m", "severity": 2,
             "scope": "kubernetes.namespace.name = 'prod'", "count": 18446744073709551615,
             "labels": {"host.hostName": "node-3", "kubernetes.cluster.name": "prod-eu"}}
    custom = {"id": new_id(), "type": "monitor", "timestamp": 1700000001000000000,
              "timestampRFC3339Nano": "2023-11-14T22:13:21Z", "source": "api",
              "name": "deploy|v2=ok\\done", "description": "line1\nline2\ttab", "scope": "",
              "labels": {}}
    return [alert, custom]


def a_policy_event():
    e = json.loads(sample_bytes("policy_event.json"))
    e["id"] = new_id()
    return e


def entry(name, type_, configuration):
    return integration(name, type_, configuration, channels=CHANNELS, batch=dict(BATCH))


@pytest.fixture(scope="module")
def peers():
    made = {
        "hec": HecReceiver(tokens={HEC_TOKEN: ["audit"]}),
        "es": ElasticReceiver(auth=("basic", ES_USER, ES_PASSWORD)),
        "azure": AzureReceiver(client_secret=AZ_SECRET),
        "sqs": SqsReceiver(credentials={AKID: (AWS_SECRET, None)}, region=REGION, queues={(ACCOUNT, QUEUE)}),
        "google": GoogleReceiver(),
    }
    for r in made.values():
        r.start()
    yield made
    for r in made.values():
        r.stop()


@pytest.fixture(scope="module")
def env(peers, rsyslog, pki, module_gateway_factory):  # noqa: F811 (fixtures)
    g = peers["google"]
    sa = g.add_service_account()
    g.add_topic(PROJECT, TOPIC)
    g.add_chronicle_key(CHRONICLE_KEY)
    az = peers["azure"]
    tcp = rsyslog.port("tcp")
    integrations = [
        entry("splunk", "SPLUNK", {"ServiceURL": peers["hec"].url(), "ServiceToken": HEC_TOKEN,
                                   "Index": "audit"}),
        entry("elastic", "ELASTIC", {"endpoint": peers["es"].url(), "index": "sysdig-audit-%Y.%m",
                                     "auth": "BASIC_AUTH", "secret": "%s:%s" % (ES_USER, ES_PASSWORD)}),
        entry("sentinel", "SENTINEL", {"endpoint": az.url(""), "dcrImmutableId": az.dcr,
                                       "streamName": az.stream, "tenantId": az.tenant,
                                       "clientId": az.client_id, "clientSecret": AZ_SECRET,
                                       "authorityHost": az.authority()}),
        entry("collector", "SENTINEL", {"workspaceId": az.workspace, "secret": az.shared_key,
                                        "endpoint": az.url(""), "logType": "SysdigAudit"}),
        entry("sqs", "SQS", {"ownerAccount": ACCOUNT, "region": REGION, "queue": QUEUE, "accessKey": AKID,
                             "accessSecret": AWS_SECRET, "endpoint": peers["sqs"].url("")}),
        entry("pubsub", "PUBSUB", {"project": PROJECT, "topic": TOPIC, "credentialsJson": sa.json(),
                                   "endpoint": g.url()}),
        entry("chronicle", "CHRONICLE", {"region": "europe", "apiKey": CHRONICLE_KEY, "endpoint": g.url()}),
        entry("json5424", "SYSLOG", {"address": "127.0.0.1", "port": tcp, "appName": "json5424"}),
        entry("cef", "SYSLOG", {"address": "127.0.0.1", "port": tcp, "appName": "cef", "formatter": "CEF",
                                "facility": "auth"}),
        entry("leef", "SYSLOG", {"address": "127.0.0.1", "port": tcp, "appName": "leef", "formatter": "LEEF",
                                 "messageFormat": "RFC_3164", "framing": "lf"}),
        # QRADAR alone on rsyslog's TLS listener: its RFC 3164 header has no tag.
        entry("qradar", "QRADAR", {"address": "127.0.0.1", "port": rsyslog.port("tls"), "isTls": True,
                                   "caFile": pki.ca_cert}),
    ]
    gw = module_gateway_factory(integrations, conf=fast_conf())
    audit, monitor = audit_events(), monitor_events()
    policy = a_policy_event()
    post_all(gw, audit[:1] + [policy] + monitor + audit[1:])
    return {"gw": gw, "sent": audit + monitor, "audit": audit, "monitor": monitor, "policy": policy,
            "rs": rsyslog, **peers}


def own_host():
    h = socket.gethostname()
    ok = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    return "".join(c if c in ok else "_" for c in h)[:255].strip("._-")


def seconds_text(ns):
    return "%d.%09d" % (ns // 10 ** 9, ns % 10 ** 9)


def only_sent(ids, env):
    """Every audit record and monitor event once, the policy event never."""
    assert sorted(ids) == sorted(e["id"] for e in env["sent"]), ids
    assert env["policy"]["id"] not in ids


def assert_records(records, env):
    """The records a platform received are the events sent, each
    once, every field equal (Python ints: exact 64-bit values)."""
    only_sent([r["id"] for r in records], env)
    by_id = {r["id"]: r for r in records}
    for ev in env["sent"]:
        assert by_id[ev["id"]] == ev


SOURCETYPES = {"audittrail": "sysdig:platform:audit", "monitor": "sysdig:monitor:event"}


def event_host(ev):
    """The syslog HOSTNAME: the host label, else the gateway's own name."""
    return ev["labels"].get("host.hostName") or own_host()


def test_splunk_sourcetype_and_envelope(env):
    hec = env["hec"]

    def envelopes():
        got = [e for r in hec.requests if r.status == 200 for e in r.envelopes]
        return got if len(got) >= len(env["sent"]) else None

    wait_until(envelopes, WAIT, message="HEC did not index the events")
    time.sleep(0.2)
    got = [e for r in hec.requests if r.status == 200 for e in r.envelopes]
    only_sent([e.event["id"] for e in got], env)
    by_id = {e.event["id"]: e for e in got}
    for ev in env["sent"]:
        envl = by_id[ev["id"]]
        assert envl.event == ev  # every field, integers exact
        assert envl.get("sourcetype") == SOURCETYPES[ev["type"]]
        assert envl.get("index") == "audit" and envl.get("source") == "siemrelay"
        assert envl.time_text == seconds_text(ev["timestamp"])
        # An audit record names no host: HEC's default.
        assert envl.get("host") == ev["labels"].get("host.hostName")


def test_elastic_document_under_its_id(env):
    es = env["es"]
    es.wait_for(len(env["sent"]), timeout=WAIT)
    time.sleep(0.2)
    docs = es.docs
    only_sent([i for _index, i in docs], env)
    for ev in env["sent"]:
        month = "2020.11" if ev["timestamp"] < 1700000000000000000 else "2023.11"  # UTC
        doc = docs[("sysdig-audit-" + month, ev["id"])]
        assert doc == ev
    assert len(es.created) == len(env["sent"])


@pytest.mark.parametrize("api", ["logs", "collector"])
def test_sentinel_records(env, api):
    az = env["azure"]
    az.wait_records(api, len(env["sent"]), timeout=WAIT)
    time.sleep(0.2)
    got = az.records(api)
    only_sent([r["id"] for r in got], env)
    by_id = {r["id"]: dict(r) for r in got}
    for ev in env["sent"]:
        rec = by_id[ev["id"]]
        if api == "logs":
            assert rec.pop("TimeGenerated") == ev["timestampRFC3339Nano"]
        assert rec == ev
    if api == "collector":
        assert {r.header("log-type") for r in az.of("collector")} == {"SysdigAudit"}
        assert az.truncated == [] and az.time_fallback == []


def test_sqs_messages(env):
    q = env["sqs"]
    q.wait(lambda: len(q.messages) >= len(env["sent"]), WAIT, "SQS got too few messages")
    time.sleep(0.2)
    assert_records([json_exact(m["body"]) for m in q.messages], env)
    assert all(m["attributes"] in (None, {}) for m in q.messages)
    assert q.signature_checks == len(q.of("send"))


def test_pubsub_messages(env):
    g = env["google"]
    g.wait(lambda: len(g.messages) >= len(env["sent"]), timeout=WAIT)
    time.sleep(0.2)
    assert_records([json_exact(m["data"]) for m in g.messages], env)


def test_chronicle_entries(env):
    g = env["google"]
    g.wait(lambda: len(g.entries) >= len(env["sent"]), timeout=WAIT)
    time.sleep(0.2)
    got = {}
    for e in g.entries:
        ev = json_exact(e["log_text"])
        got.setdefault(ev["id"], []).append((e, ev))
    only_sent(list(got), env)
    for ev in env["sent"]:
        [(e, back)] = got[ev["id"]]
        assert back == ev
        # ts_rfc3339: the nanosecond timestamp, all nine digits.
        assert e["log_type"] == "SYSDIG" and e["ts"] == rfc3339_micro(ev["timestamp"])[:-1] + \
            "%03dZ" % (ev["timestamp"] % 1000)


def syslog_received(env, app):
    env["rs"].wait_for(lambda m: m["app"] == app, count=len(env["sent"]), timeout=WAIT)
    time.sleep(0.2)
    return [m for m in env["rs"].messages() if m["app"] == app]


def test_syslog_json(env):
    got = {}
    for m in syslog_received(env, "json5424"):
        h = parse_5424(m["raw"])
        body = strict_loads(h["msg"])
        assert body["id"] not in got
        got[body["id"]] = (h, body)
    only_sent(list(got), env)
    for ev in env["sent"]:
        h, body = got[ev["id"]]
        assert body == ev
        assert h["pri"] == 16 * 8 + syslog_severity(ev)
        assert (h["host"], h["app"], h["msgid"]) == (event_host(ev), "json5424", ev["type"])
        assert h["time"] == rfc3339_micro(ev["timestamp"])
    assert [syslog_severity(e) for e in env["audit"]] == [6, 4, 5], "rated by the response status"
    assert [syslog_severity(e) for e in env["monitor"]] == [2, 6], "their own, else 6"


def test_syslog_cef(env):
    got = {}
    for m in syslog_received(env, "cef"):
        h = parse_5424(m["raw"])
        header, ext = parse_cef(h["msg"])
        got[ext["externalId"]] = (h, header, ext)
    only_sent(list(got), env)
    for ev in env["sent"]:
        h, header, ext = got[ev["id"]]
        assert h["pri"] == 4 * 8 + syslog_severity(ev)
        want_header, want_ext = expected_cef(ev)
        assert header == want_header
        assert ext == want_ext
    # The mapping spelled out once, for the published sample.
    h, header, ext = got[env["audit"][0]["id"]]
    assert header[4:] == ["audittrail:integration:GET", "Platform audit: GET /api/integrations/discovery/", "3"]
    assert (ext["suid"], ext["src"], ext["requestMethod"], ext["outcome"]) == \
        ("454926", "187.188.243.122", "GET", "success")
    assert ext["request"] == "/api/integrations/discovery/?cluster=demo-env-prom&namespace=sysdig-agent"
    assert (ext["cn2"], ext["cn3"], ext["flexNumber1"], ext["flexString1"]) == ("200", "46902", "1", "integration")
    denied = got[env["audit"][1]["id"]]
    assert denied[1][4] == "audittrail:policy:DELETE" and denied[1][6] == "6"
    assert denied[2]["flexNumber1"] == "18446744073709551615" and denied[2]["suid"] == "9223372036854775807"
    assert denied[2]["cn3"] == "-9223372036854775808" and denied[2]["suser"] == "eve"
    assert denied[2]["outcome"] == "failure"
    alert = got[env["monitor"][0]["id"]]
    assert alert[1][4:] == ["monitor", "Pod restarts high", "8"]
    assert alert[2]["msg"] == "restarts > 5 in 10m"
    assert alert[2]["flexString2"] == "kubernetes.namespace.name = 'prod'"
    custom = got[env["monitor"][1]["id"]]
    assert custom[1][5] == "deploy|v2=ok\\done" and "flexString2" not in custom[2]


def check_leef(ev, header, attrs):
    want_header, want_attrs = expected_leef(ev)
    assert header == want_header
    assert attrs == want_attrs


def test_syslog_leef(env):
    got = {}
    for m in syslog_received(env, "leef"):
        h = parse_3164(m["raw"])
        header, delim, attrs = parse_leef(h["msg"])
        got[attrs["externalId"]] = (h, header, attrs)
    only_sent(list(got), env)
    for ev in env["sent"]:
        h, header, attrs = got[ev["id"]]
        assert h["pri"] == 16 * 8 + syslog_severity(ev) and h["time"] == bsd_time(ev["timestamp"])
        check_leef(ev, header, attrs)


def test_qradar_leef(env):
    env["rs"].wait_for(lambda m: m["input"] == "tls", count=len(env["sent"]), timeout=WAIT)
    time.sleep(0.2)
    got = {}
    for m in [m for m in env["rs"].messages() if m["input"] == "tls"]:
        h = parse_3164(m["raw"], tag=False)
        header, delim, attrs = parse_leef(h["msg"])
        assert delim == "\t"
        got[attrs["externalId"]] = (h, header, attrs)
    only_sent(list(got), env)
    for ev in env["sent"]:
        h, header, attrs = got[ev["id"]]
        assert h["pri"] == 16 * 8 + syslog_severity(ev) and h["host"] == event_host(ev)
        check_leef(ev, header, attrs)
    attrs = got[env["audit"][1]["id"]][2]
    assert (attrs["sev"], attrs["cat"], attrs["usrName"], attrs["src"]) == ("6", "audittrail", "eve", "10.1.2.3")
    assert attrs["url"] == "/api/policies/a=b|c\\d?force=true&why=x y"
    assert attrs["customerId"] == "18446744073709551615" and attrs["teamId"] == "-9223372036854775808"
    attrs = got[env["monitor"][1]["id"]][2]
    assert (attrs["eventName"], attrs["msg"]) == ("deploy|v2=ok\\done", "line1\nline2\ttab")


def test_every_type_delivered_and_nothing_dead_lettered(env):
    n = len(env["sent"])
    rs, g, az = env["rs"], env["google"], env["azure"]
    counts = {
        "splunk": lambda: sum(len(r.envelopes) for r in env["hec"].requests if r.status == 200),
        "elastic": lambda: len(env["es"].docs),
        "sentinel": lambda: len(az.records("logs")),
        "collector": lambda: len(az.records("collector")),
        "sqs": lambda: len(env["sqs"].messages),
        "pubsub": lambda: len(g.messages),
        "chronicle": lambda: len(g.entries),
        "syslog": lambda: len([m for m in rs.messages() if m["app"] in ("json5424", "cef", "leef")]),
        "qradar": lambda: len([m for m in rs.messages() if m["input"] == "tls"]),
    }
    want = {k: 3 * n if k == "syslog" else n for k in counts}
    wait_until(lambda: {k: f() for k, f in counts.items()} == want, WAIT,
               message="not every type got every event")
    assert env["gw"].deadletters() == []


@pytest.mark.parametrize("type_", ["MCM", "SCC"])
def test_findings_types_refuse_the_channel(tmp_path, type_):
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps({"integrations": [
        {"name": "x", "type": type_, "channels": ["PLATFORM_AUDIT"], "configuration": {}}]}))
    r = run_cli(["--check", "-c", str(path)])
    assert r.returncode != 0
    assert "PLATFORM_AUDIT" in r.stderr, r.stderr


# ---- docs/integrations.md's channel lists against the modules ------------------

CHANNEL_NAMES = ("SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", "PLATFORM_AUDIT", "MONITOR_EVENTS")


def docs_channels():
    """({type: channels} from the "Channels per type" table,
    {type: channels} from each type section's "Channels:" sentence)."""
    with open(repo_path("docs", "integrations.md"), encoding="utf-8") as f:
        text = f.read()
    table_part = text.split("## Channels per type", 1)[1].split("\n## ", 1)[0]
    table = {}
    for m in re.finditer(r"^\| ([A-Z]+) \| (.*) \|$", table_part, re.M):
        table[m.group(1)] = re.findall(r"`([A-Z_]+)`", m.group(2))
    sections = {}
    for m in re.finditer(r"^## ([A-Z]+)\n(.*?)(?=^## |\Z)", text, re.M | re.S):
        said = re.search(r"\bChannels?:\s+(.*?)[.(]", m.group(2), re.S)
        assert said, "section %s does not say its channels" % m.group(1)
        names = re.findall(r"`([A-Z_]+)`", said.group(1))
        assert names and all(n in CHANNEL_NAMES for n in names), (m.group(1), said.group(0))
        sections[m.group(1)] = names
    return table, sections


def test_docs_channel_lists_match_the_modules(gateway_factory):
    gw = gateway_factory([])
    r = gw.admin_get("/api/types")
    assert r.status_code == 200, r.text
    modules = {}
    for t in r.json():
        assert t["error"] is None, t
        modules[t["type"]] = t["channels"]
    assert len(modules) == 13, sorted(modules)
    table, sections = docs_channels()
    assert table == modules, "the Channels per type table differs from the modules' M.channels"
    assert sections == modules, "a type section's Channels: line differs from its module's M.channels"
    # Platform audit and monitor events everywhere but the findings types
    # (the docs say why).
    for channel in ("PLATFORM_AUDIT", "MONITOR_EVENTS"):
        assert sorted(t for t, ch in modules.items() if channel not in ch) == ["MCM", "SCC"], channel
