"""SYSLOG against a real rsyslogd (peers/rsyslog.py) and, for the exact
bytes on the wire, small TCP/TLS listeners in the test.

One gateway with an integration per combination (TCP RFC 5424 and RFC 3164
with LF framing, TLS RFC 5425, TLS with a client certificate, UDP, CEF,
LEEF) posts every sample plus two synthetic events (64-bit integers and
unicode; delimiters to escape). What rsyslog received is parsed strictly and
compared field by field with what was sent: PRI (facility, severity), the
header, the JSON body (exact integers), the CEF and LEEF fields.

Separate gateways check TLS verification (a wrong CA must fail and deliver
nothing; isInsecure skips it; mTLS without a client certificate is refused)
and a receiver restart in the middle of a stream (every event arrives at
least once).
"""

import json
import socket
import threading
import time

import pytest

from harness import compact, repo_path, run_cli, samples, strict_loads, wait_until
from peers.capture import Capture
from peers.rsyslog import Rsyslog, rsyslog_available, rsyslog_tls_available
from syslog_common import assert_refused, pki, rsyslog, wait_frames  # noqa: F401 (fixtures)
from siem_formats import (bsd_time, expected_cef, expected_leef, lf_frames, octet_frames, parse_3164,
                          parse_5424, parse_cef, parse_leef, rfc3339_micro, syslog_severity)

pytestmark = pytest.mark.skipif(not (rsyslog_available() and rsyslog_tls_available()),
                                reason="rsyslogd with the ossl driver (rsyslog-openssl) is not installed")

CHANNELS = ["SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT"]
FAST_BATCH = {"max_events": 50, "linger": "20ms"}

# 64-bit integers, unicode and escapes in the JSON body.
WIDE = ('{"type":"command","id":"5f1e0c2a9b8d7e6f5a4b3c2d1e0f9a8b","timestamp":1606322948648718268,'
        '"hostname":"h\u00f4te-\u65e5\u672c","severity":2,'
        '"u64":18446744073709551615,"int64min":-9223372036854775808,"neg":-42,'
        '"text":"caf\u00e9 \U0001F600","escaped":"caf\\u00e9 \\ud83d\\ude00",'
        '"quotes":"say \\"hi\\" \\\\ tab\\t nl\\n","emptyArr":[],"emptyObj":{},'
        '"float":3.141592653589793,"nested":{"a":[1,-2,{"c":null}]}}')

# Every delimiter CEF and LEEF must escape, in header and body fields.
NASTY = {
    "type": "policy", "id": "c0ffee00c0ffee00c0ffee00c0ffee00", "timestamp": 1700000000123456789,
    "severity": 4, "hostname": "nasty-host", "name": "pipe|back\\slash=eq\nnew line",
    "content": {
        "policyId": 9007199254740993, "ruleName": "rule|x\\y",
        "ruleTags": ["a|b", "c=d"],
        "output": "out=1 \\ back | pipe\ttab\r\nline2 ^caret key=value",
        "fields": {"proc.cmdline": "sh -c 'a=b; echo \\x'", "user.name": "r\u00f6ot", "proc.name": "sh"},
    },
    "labels": {"kubernetes.pod.name": "pod\twith\ttabs"},
}


def syslog_integration(name, rs, kind, **conf):
    base = {"address": "127.0.0.1", "port": rs.port(kind), "appName": name}
    base.update(conf)
    return {"name": name, "type": "SYSLOG", "channels": CHANNELS, "batch": dict(FAST_BATCH),
            "configuration": base}


@pytest.fixture(scope="module")
def env(module_gateway_factory, rsyslog, pki):
    rs = rsyslog
    integrations = [
        syslog_integration("tcp5424", rs, "tcp", type="tcp", messageFormat="RFC_5424"),
        syslog_integration("tcp3164", rs, "tcp", type="tcp", messageFormat="RFC_3164", framing="lf",
                           facility="auth"),
        syslog_integration("tls5425", rs, "tls", type="tls", messageFormat="RFC_5425", caFile=pki.ca_cert),
        syslog_integration("mtlscef", rs, "mtls", type="tls", formatter="CEF", caFile=pki.ca_cert,
                           certFile=pki.client_cert, keyFile=pki.client_key, facility=3),
        syslog_integration("udpleef", rs, "udp", type="udp", formatter="LEEF", facility="local7"),
        syslog_integration("tcpleef", rs, "tcp", type="tcp", formatter="LEEF", leefDelimiter="^"),
    ]
    gw = module_gateway_factory(integrations)
    sent = []
    for name, raw, parsed in samples():
        if parsed.get("type") == "audittrail":
            continue  # platform audit is not a SYSLOG channel
        r = gw.post(raw, content_type="application/json")
        assert r.status_code == 200, (name, r.text)
        sent.append(parsed)
    for body in (WIDE.encode("utf-8"), compact(NASTY).encode("utf-8")):
        r = gw.post(body, content_type="application/json")
        assert r.status_code == 200, r.text
        sent.append(strict_loads(body))
    return {"gw": gw, "rs": rs, "sent": sent}


def clean_host(h):
    """As docs/integrations.md says: other bytes than letters, digits and
    ._- become "_", leading and trailing punctuation goes, at most 255."""
    ok = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    s = "".join(chr(b) if b in ok else "_" for b in h.encode("utf-8"))[:255]
    return s.strip("._-")


def received(env, app, count=None, field="app"):
    n = len(env["sent"]) if count is None else count
    return env["rs"].wait_for(lambda m: m[field] == app, count=n, timeout=15)


def by_event_id(msgs, extract_id):
    out = {}
    for m in msgs:
        out.setdefault(extract_id(m), []).append(m)
    return out


def test_json_rfc5424_over_tcp_field_by_field(env):
    msgs = received(env, "tcp5424")
    got = {}
    for m in msgs:
        assert m["input"] == "tcp"
        h = parse_5424(m["raw"])
        body = strict_loads(h["msg"])
        got[body["id"]] = (m, h, body)
    assert len(got) == len(env["sent"]), "each event once: %r" % sorted(got)
    for ev in env["sent"]:
        m, h, body = got[ev["id"]]
        assert body == ev  # Python ints: exact 64-bit values
        sev = syslog_severity(ev)
        assert h["pri"] == 16 * 8 + sev, "local0 and the event's severity"
        assert (m["facility"], m["severity"], m["version"]) == ("16", str(sev), "1")
        assert h["time"] == rfc3339_micro(ev["timestamp"]) == m["time"]
        host = ev.get("hostname") or ev["labels"]["host.hostName"]
        assert h["host"] == clean_host(host) == m["hostname"]
        assert (h["app"], h["procid"], h["msgid"], h["sd"]) == ("tcp5424", "-", ev["type"], "-")
    wide = got["5f1e0c2a9b8d7e6f5a4b3c2d1e0f9a8b"][2]
    assert wide["u64"] == 18446744073709551615 and wide["int64min"] == -9223372036854775808
    assert wide["text"] == "caf\u00e9 \U0001F600" and wide["escaped"] == "caf\u00e9 \U0001F600"
    assert wide["emptyArr"] == [] and wide["emptyObj"] == {}


def test_json_rfc3164_with_lf_framing(env):
    msgs = received(env, "tcp3164")
    got = {}
    for m in msgs:
        h = parse_3164(m["raw"])
        assert h["tag"] == "tcp3164"
        got[strict_loads(h["msg"])["id"]] = (m, h, strict_loads(h["msg"]))
    for ev in env["sent"]:
        m, h, body = got[ev["id"]]
        assert body == ev
        assert h["pri"] == 4 * 8 + syslog_severity(ev), "facility auth (4)"
        assert m["facility"] == "4" and m["version"] == "0"
        assert h["time"] == bsd_time(ev["timestamp"])


def test_json_rfc5425_over_tls(env):
    msgs = received(env, "tls5425")
    assert {m["input"] for m in msgs} == {"tls"}
    got = {strict_loads(parse_5424(m["raw"])["msg"])["id"]: m for m in msgs}
    for ev in env["sent"]:
        h = parse_5424(got[ev["id"]]["raw"])
        assert strict_loads(h["msg"]) == ev
        assert h["pri"] == 16 * 8 + syslog_severity(ev)


def test_cef_over_tls_with_client_certificate(env):
    msgs = received(env, "mtlscef")
    assert {m["input"] for m in msgs} == {"mtls"}
    got = {}
    for m in msgs:
        h = parse_5424(m["raw"])
        header, ext = parse_cef(h["msg"])
        got[ext["externalId"]] = (h, header, ext)
    for ev in env["sent"]:
        h, header, ext = got[ev["id"]]
        assert h["pri"] == 3 * 8 + syslog_severity(ev), "facility 3 given as a number"
        want_header, want_ext = expected_cef(ev)
        assert header == want_header
        assert ext == want_ext


def leef_messages(env, app, tagged=True):
    out = {}
    for m in received(env, app):
        h = parse_5424(m["raw"]) if m["version"] == "1" else parse_3164(m["raw"], tag=tagged)
        header, delim, attrs = parse_leef(h["msg"])
        out[attrs["externalId"]] = (m, h, header, delim, attrs)
    return out


def test_leef_over_udp_with_tab_delimiter(env):
    got = leef_messages(env, "udpleef")
    for ev in env["sent"]:
        m, h, header, delim, attrs = got[ev["id"]]
        assert m["input"] == "udp"
        assert h["pri"] == 23 * 8 + syslog_severity(ev), "local7"
        assert delim == "\t" and "|x09|" in h["msg"]
        want_header, want_attrs = expected_leef(ev)
        assert header == want_header
        assert attrs == want_attrs


def test_leef_with_caret_delimiter(env):
    got = leef_messages(env, "tcpleef")
    for ev in env["sent"]:
        _, h, header, delim, attrs = got[ev["id"]]
        assert delim == "^" and "|^|" in h["msg"]
        assert (header, attrs) == expected_leef(ev)


def test_delimiters_are_escaped(env):
    """The nasty event's values come back exactly through strict parsers."""
    cef = [m for m in received(env, "mtlscef") if "c0ffee00" in m["raw"]]
    assert len(cef) == 1
    text = parse_5424(cef[0]["raw"])["msg"]
    assert "\n" not in text and "\r" not in text
    header, ext = parse_cef(text)
    assert header[4] == "rule|x\\y" and header[5] == "pipe|back\\slash=eq new line"
    assert ext["msg"] == NASTY["content"]["output"]
    assert ext["cs4"] == "sh -c 'a=b; echo \\x'"
    assert ext["cs2"] == "a|b,c=d"
    assert ext["cn1"] == "9007199254740993", "integers beyond 2^53 keep every digit"
    assert ext["suser"] == "r\u00f6ot"
    assert "rule\\|x\\\\y" in text and "out\\=1 \\\\ back | pipe" in text
    for app in ("udpleef", "tcpleef"):
        m = [m for m in received(env, app) if "c0ffee00" in m["raw"]][0]
        h = parse_5424(m["raw"])
        header, delim, attrs = parse_leef(h["msg"])
        assert header[3] == "rule|x\\y"
        assert attrs["msg"] == NASTY["content"]["output"]
        assert attrs["k8sPod"] == "pod\twith\ttabs"
        assert attrs["policy"] == "pipe|back\\slash=eq\nnew line"
        if delim == "\t":
            assert "pod\\twith\\ttabs" in h["msg"]
        else:
            assert "\\^caret" in h["msg"]


# ---- the exact bytes on the wire ------------------------------------------------

@pytest.mark.parametrize("kind", ["tls-octet", "tcp-octet", "tcp-lf"])
def test_framing_on_the_wire(gateway_factory, pki, kind):
    cap = Capture(pki if kind.startswith("tls") else None)
    try:
        conf = {"address": "127.0.0.1", "port": cap.port, "type": kind.split("-")[0]}
        if kind == "tls-octet":
            conf.update(caFile=pki.ca_cert, messageFormat="RFC_5425")
        if kind == "tcp-lf":
            conf["framing"] = "lf"
        gw = gateway_factory([{"name": "w", "type": "SYSLOG", "channels": CHANNELS,
                               "batch": FAST_BATCH, "configuration": conf}])
        events = [p for _, _, p in samples() if p["type"] != "audittrail"]
        for ev in events:
            assert gw.post_json(ev).status_code == 200
        frames = wait_frames(cap, lf_frames if kind == "tcp-lf" else octet_frames, len(events))
        ids = [strict_loads(parse_5424(f.decode("utf-8"))["msg"])["id"] for f in frames]
        assert sorted(ids) == sorted(e["id"] for e in events)
    finally:
        cap.close()


# ---- TLS verification --------------------------------------------------------

def test_tls_wrong_ca_fails_and_delivers_nothing(gateway_factory, rsyslog, pki):
    gw = gateway_factory([syslog_integration("wrongca", rsyslog, "tls", type="tls",
                                             caFile=pki.other_ca_cert)])
    assert gw.post(samples()[0][1], content_type="application/json").status_code == 200
    gw.wait_stderr(r"cannot connect to 127\.0\.0\.1:%d: TLS handshake failed: server certificate: "
                   r"(self-signed certificate in certificate chain|unable to get local issuer)"
                   % rsyslog.port("tls"), timeout=10)
    gw.wait_stderr(r"integration 'wrongca': attempt 1 failed", timeout=10)
    time.sleep(0.3)
    assert not [m for m in rsyslog.messages() if m["app"] == "wrongca"]


def test_tls_by_host_name(gateway_factory, rsyslog, pki):
    # The certificate names "localhost" (a DNS name) besides 127.0.0.1; the
    # sink uses the first address a name resolves to, and rsyslog listens on
    # 127.0.0.1 only.
    first = socket.getaddrinfo("localhost", None, 0, socket.SOCK_STREAM)[0]
    if first[4][0] != "127.0.0.1":
        pytest.skip("localhost resolves to %s first" % first[4][0])
    gw = gateway_factory([syslog_integration("byname", rsyslog, "tls", type="tls", caFile=pki.ca_cert,
                                             address="localhost")])
    assert gw.post(samples()[0][1], content_type="application/json").status_code == 200
    rsyslog.wait_for(lambda m: m["app"] == "byname", timeout=10)


def test_tls_insecure_skips_verification(gateway_factory, rsyslog, pki):
    gw = gateway_factory([syslog_integration("insecure", rsyslog, "tls", type="tls",
                                             caFile=pki.other_ca_cert, isInsecure=True)])
    assert gw.post(samples()[0][1], content_type="application/json").status_code == 200
    rsyslog.wait_for(lambda m: m["app"] == "insecure", timeout=10)


def test_mtls_without_client_certificate_is_refused(gateway_factory, rsyslog, pki):
    gw = gateway_factory([syslog_integration("nocert", rsyslog, "mtls", type="tls", caFile=pki.ca_cert,
                                             timeout=3000)])
    assert gw.post(samples()[0][1], content_type="application/json").status_code == 200
    gw.wait_stderr(r"127\.0\.0\.1:%d.*(TLS error|TLS handshake failed|peer closed|reset)" % rsyslog.port("mtls"),
                   timeout=10)
    gw.wait_stderr(r"integration 'nocert': attempt 1 failed", timeout=10)
    assert not [m for m in rsyslog.messages() if m["app"] == "nocert"]


# ---- a receiver restart in the middle of a stream -------------------------------

@pytest.mark.parametrize("kind", ["tcp", "tls"])
def test_receiver_restart_loses_nothing(gateway_factory, tmp_path, pki, kind):
    rs = Rsyslog(tmp_path / "restart", pki).start()
    try:
        conf = {"type": kind}
        if kind == "tls":
            conf["caFile"] = pki.ca_cert
        gw = gateway_factory([syslog_integration("restart", rs, kind, **conf)])
        base = json.loads(samples()[1][1])
        ids, stop = [], threading.Event()
        errors = []

        def stream():
            # As fast as the gateway acknowledges: batches are on the wire
            # at the moment rsyslog goes down.
            i = 0
            while not stop.is_set():
                ev = dict(base, id="%032x" % (0xabc000 + i))
                try:
                    r = gw.post_json(ev)
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(repr(e))
                    return
                if r.status_code != 200:
                    errors.append(r.text)
                    return
                ids.append(ev["id"])
                i += 1
                time.sleep(0.002)

        poster = threading.Thread(target=stream, daemon=True)
        poster.start()
        try:
            rs.wait_for(lambda m: m["app"] == "restart", count=50, timeout=10)
            rs.stop()
            time.sleep(0.5)
            rs.start()
            # One event acknowledged after the restart, fixed before waiting
            # for it: the stream goes on, and waiting for whatever is last at
            # each poll chases a target that moves every 2 ms.
            mark = len(ids)
            wait_until(lambda: len(ids) > mark or errors, 10, message="no event acknowledged after the restart")
            target = '"id":"%s"' % ids[-1]
            rs.wait_for(lambda m: m["app"] == "restart" and m["raw"].find(target) > 0, count=1, timeout=15)
        finally:
            stop.set()
            poster.join(10)
        assert not errors, errors

        def arrived():
            seen = set()
            for m in rs.messages():
                if m["app"] == "restart":
                    seen.add(strict_loads(parse_5424(m["raw"])["msg"])["id"])
            return seen

        wait_until(lambda: set(ids) <= arrived(), 30,
                   message="lost across the restart: %s" % sorted(set(ids) - arrived())[:10])
        # At least once, not wildly more.
        total = len([m for m in rs.messages() if m["app"] == "restart"])
        assert total <= 2 * len(ids)
    finally:
        rs.stop()


# ---- configuration -----------------------------------------------------------------

def test_example_config_is_accepted():
    r = run_cli(["--check", "-c", repo_path("config", "examples", "syslog.yaml")])
    assert r.returncode == 0, r.stderr
    assert '"type":"SYSLOG"' in r.stdout


@pytest.mark.parametrize("conf,message", [
    ({"type": "udp", "messageFormat": "RFC_5425"}, "RFC_5425 is syslog over TLS"),
    ({"type": "tls", "framing": "lf"}, "framing lf is not allowed over TLS"),
    ({"type": "tcp", "facility": "local9"}, "unknown facility 'local9'"),
    ({"type": "tcp", "leefDelimiter": "="}, "leefDelimiter"),
    ({"type": "TCP", "formatter": "xml"}, "must be one of 'JSON', 'CEF', 'LEEF'"),
])
def test_bad_configurations_are_refused(tmp_path, conf, message):
    assert_refused(tmp_path, "SYSLOG", conf, message)
