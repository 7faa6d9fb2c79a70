"""QRADAR against a real rsyslogd standing in for a QRadar syslog listener
(peers/rsyslog.py), and a byte capture for the framing.

Every message must be QRadar's LEEF-over-syslog form, parsed strictly:
    <PRI>Mmm dd hh:mm:ss HOST LEEF:2.0|Sysdig|Secure|1.0|<event id>|x09|k=v<TAB>k=v...
with PRI = local0 * 8 + severity and the LEEF attributes exactly as
docs/integrations.md maps them, delimiters escaped. Over TCP and over TLS
(isTls with the test CA), and TLS verification (a wrong CA delivers
nothing; isInsecure skips verification).
"""

import json

import pytest

from harness import compact, repo_path, run_cli, samples, strict_loads
from peers.capture import Capture
from peers.rsyslog import rsyslog_available, rsyslog_tls_available
from syslog_common import assert_refused, pki, rsyslog, wait_frames  # noqa: F401 (fixtures)
from siem_formats import (bsd_time, expected_leef, lf_frames, octet_frames, parse_3164, parse_leef,
                          syslog_severity)

pytestmark = pytest.mark.skipif(not (rsyslog_available() and rsyslog_tls_available()),
                                reason="rsyslogd with the ossl driver (rsyslog-openssl) is not installed")

CHANNELS = ["SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT"]
FAST_BATCH = {"max_events": 50, "linger": "20ms"}

NASTY = {
    "type": "policy", "id": "badc0ffeebadc0ffeebadc0ffeebadc0", "timestamp": 1700000000999000000,
    "severity": 6, "hostname": "q-host", "name": "tab\there|pipe\\slash",
    "content": {"policyId": 12, "ruleName": "r|1", "ruleTags": ["t\t1"],
                "output": "a=b\tc\\d\ne|f ^g", "fields": {"proc.cmdline": "x\ty"}},
}


def qradar(name, port, **conf):
    c = {"address": "127.0.0.1", "port": port}
    c.update(conf)
    return {"name": name, "type": "QRADAR", "channels": CHANNELS, "batch": dict(FAST_BATCH),
            "configuration": c}


@pytest.fixture(scope="module")
def env(module_gateway_factory, rsyslog, pki):
    gw = module_gateway_factory([
        qradar("q-tcp", rsyslog.port("tcp")),
        qradar("q-tls", rsyslog.port("tls"), isTls=True, caFile=pki.ca_cert),
    ])
    sent = []
    for name, raw, parsed in samples():
        if parsed["type"] == "audittrail":
            continue
        assert gw.post(raw, content_type="application/json").status_code == 200, name
        sent.append(parsed)
    body = compact(NASTY).encode("utf-8")
    assert gw.post(body, content_type="application/json").status_code == 200
    sent.append(strict_loads(body))
    return {"gw": gw, "rs": rsyslog, "sent": sent}


def received(env, listener):
    msgs = env["rs"].wait_for(lambda m: m["input"] == listener, count=len(env["sent"]), timeout=15)
    out = {}
    for m in msgs:
        h = parse_3164(m["raw"], tag=False)
        assert h["msg"].startswith("LEEF:2.0|"), h["msg"][:80]
        header, delim, attrs = parse_leef(h["msg"])
        assert attrs["externalId"] not in out, "delivered twice: %s" % attrs["externalId"]
        out[attrs["externalId"]] = (h, header, delim, attrs)
    return out


@pytest.mark.parametrize("listener", ["tcp", "tls"])
def test_leef_over_syslog_field_by_field(env, listener):
    got = received(env, listener)
    assert set(got) == {e["id"] for e in env["sent"]}
    for ev in env["sent"]:
        h, header, delim, attrs = got[ev["id"]]
        assert h["pri"] == 16 * 8 + syslog_severity(ev)
        assert h["time"] == bsd_time(ev["timestamp"])
        assert h["host"] == (ev.get("hostname") or ev["labels"]["host.hostName"])
        assert delim == "\t" and "|x09|" in h["msg"]
        want_header, want_attrs = expected_leef(ev)
        assert header == want_header
        assert attrs == want_attrs


def test_leef_escaping(env):
    h, header, delim, attrs = received(env, "tcp")[NASTY["id"]]
    raw = h["msg"]
    assert header[3] == "r|1" and "|r\\|1|" in raw
    assert attrs["policy"] == NASTY["name"] and "tab\\there|pipe\\\\slash" in raw
    assert attrs["msg"] == NASTY["content"]["output"]
    assert attrs["cmdline"] == "x\ty" and attrs["ruleTags"] == "t\t1"
    # The only raw tabs are the delimiters.
    assert raw.count("\t") == len(attrs) - 1


@pytest.mark.parametrize("kind", ["tcp-lf", "tls-octet"])
def test_framing_on_the_wire(gateway_factory, pki, kind):
    cap = Capture(pki if kind.startswith("tls") else None)
    try:
        conf = {}
        if kind == "tls-octet":
            conf = {"isTls": True, "caFile": pki.ca_cert, "framing": "octet"}
        gw = gateway_factory([qradar("wire", cap.port, **conf)])
        events = [p for _, _, p in samples() if p["type"] != "audittrail"]
        for ev in events:
            assert gw.post_json(ev).status_code == 200
        frames = wait_frames(cap, lf_frames if kind == "tcp-lf" else octet_frames, len(events))
        ids = sorted(parse_leef(parse_3164(f.decode("utf-8"), tag=False)["msg"])[2]["externalId"]
                     for f in frames)
        assert ids == sorted(e["id"] for e in events)
    finally:
        cap.close()


def test_tls_with_wrong_ca_delivers_nothing(gateway_factory, rsyslog, pki):
    gw = gateway_factory([qradar("q-wrong", rsyslog.port("tls"), isTls=True, caFile=pki.other_ca_cert)])
    before = len(rsyslog.messages())
    ev = dict(json.loads(samples()[0][1]), id="0" * 31 + "1")
    assert gw.post_json(ev).status_code == 200
    gw.wait_stderr(r"integration 'q-wrong': attempt 1 failed \(cannot connect to 127\.0\.0\.1:%d: "
                   r"TLS handshake failed: server certificate" % rsyslog.port("tls"), timeout=10)
    assert not [m for m in rsyslog.messages()[before:] if ev["id"] in m["raw"]]


def test_tls_insecure(gateway_factory, rsyslog, pki):
    gw = gateway_factory([qradar("q-insecure", rsyslog.port("tls"), isTls=True, isInsecure=True,
                                 caFile=pki.other_ca_cert)])
    ev = dict(json.loads(samples()[0][1]), id="0" * 31 + "2")
    assert gw.post_json(ev).status_code == 200
    rsyslog.wait_for(lambda m: ev["id"] in m["raw"], timeout=10)


def test_example_config_is_accepted():
    r = run_cli(["--check", "-c", repo_path("config", "examples", "qradar.yaml")])
    assert r.returncode == 0, r.stderr
    assert '"type":"QRADAR"' in r.stdout and '"isTls":true' in r.stdout


@pytest.mark.parametrize("conf,message", [
    ({"port": 70000}, "'port' must be in 1..65535"),
    ({"leefDelimiter": "ab"}, "leefDelimiter"),
    ({"framing": "crlf"}, "must be one of 'lf', 'octet'"),
    ({"isTls": "maybe"}, "must be true or false"),
])
def test_bad_configurations_are_refused(tmp_path, conf, message):
    assert_refused(tmp_path, "QRADAR", conf, message)
