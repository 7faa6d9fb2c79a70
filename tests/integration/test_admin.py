"""The admin API on its own listener: /api/integrations (statuses, counters,
history), /metrics as strict Prometheus text agreeing with the API, /healthz
and /readyz, 404/405, no secret in any answer, `siemrelay status`, and the
listener's lifecycle (disabled, port taken)."""

import http.client
import json
import math
import re
import socket
import subprocess
import time
import urllib.parse

import requests

from harness import (SANITIZER_MARKERS, Gateway, compact, free_port, gateway_bin, refusing_port, run_cli, sample_bytes, strict_loads,
                     summary_of, wait_until, webhook, yaml_text)

INPUT_TOKEN = "ingest-tok-a41f9e"
HOOK_SECRET = "hook-secret-7c2d55"
OTHER_SECRET = "other-secret-19e0b3"
SECRETS = [INPUT_TOKEN, HOOK_SECRET, OTHER_SECRET]

STATUSES = ["Not Connected", "Connected", "Warning", "Error"]
COUNTERS = ["received", "delivered", "retried", "rejected", "dead_lettered", "dropped", "attempts",
            "failed_attempts"]
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# Short retries so a 500 turns into Warning quickly; long inhibition is not needed.
FAST_DELIVERY = {"delivery": {"backoff": "100ms", "backoff_max": "200ms", "inhibit": "1s",
                              "shutdown_timeout": "2s"}}


def policy_events(n, prefix):
    base = json.loads(sample_bytes("policy_event.json"))
    out = []
    for i in range(n):
        e = dict(base)
        e["id"] = "%s-%d" % (prefix, i)
        out.append(e)
    return out


def start(factory, rcv, extra=(), conf=None, **kw):
    integrations = [webhook("siem", rcv.url("/hook"), auth="BEARER_TOKEN", secret=HOOK_SECRET)]
    integrations += list(extra)
    c = {"inputs": {"http": {"token": INPUT_TOKEN}}}
    c.update(FAST_DELIVERY)
    c.update(conf or {})
    return factory(integrations, conf=c, **kw)


def post(gw, events):
    r = gw.post_ndjson(events, token=INPUT_TOKEN)
    assert r.status_code == 200, r.text
    assert summary_of(r)["accepted"] == len(events)


def integrations(gw):
    r = gw.admin_get("/api/integrations")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    doc = strict_loads(r.content)
    assert isinstance(doc, list), doc
    return {o["name"]: o for o in doc}


def integration(gw, name):
    r = gw.admin_get("/api/integrations/" + urllib.parse.quote(name, safe=""))
    assert r.status_code == 200, r.text
    return strict_loads(r.content)


def check_shape(o):
    """Every documented field, with its JSON type."""
    assert isinstance(o["name"], str) and isinstance(o["type"], str)
    assert o["status"] in STATUSES, o
    assert o["since"] is None or RFC3339_MS.match(o["since"]), o["since"]
    assert isinstance(o["inhibited"], bool)
    assert o["inhibited_until"] is None or RFC3339_MS.match(o["inhibited_until"])
    q = o["queue"]
    assert q["type"] in ("memory", "disk")
    for k in ("events", "bytes", "limit_bytes"):
        assert isinstance(q[k], int) and q[k] >= 0, q
    for k in COUNTERS:
        assert isinstance(o["counters"][k], int) and o["counters"][k] >= 0, o["counters"]
    assert o["last_error"] is None or isinstance(o["last_error"], str)
    assert o["last_latency_ms"] is None or isinstance(o["last_latency_ms"], (int, float))


def status_cli(args):
    """`siemrelay status ARGS`, checked for sanitizer reports."""
    p = run_cli(["status"] + list(args))
    for m in SANITIZER_MARKERS:
        assert m not in p.stderr, "sanitizer report:\n" + p.stderr
    return p


def wait_delivered(gw, name, n, timeout=10):
    def done():
        o = integrations(gw)[name]
        return o if o["counters"]["delivered"] >= n and o["queue"]["events"] == 0 else None

    return wait_until(done, timeout, message="%s never delivered %d: %r" % (name, n, integrations(gw)))


# ---- a strict Prometheus text format 0.0.4 parser --------------------------

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def parse_labels(text, pos):
    """Parses `{a="x",b="y"}` starting at text[pos] == '{'; returns (dict, pos after '}')."""
    assert text[pos] == "{"
    pos += 1
    labels = {}
    while text[pos] != "}":
        m = LABEL_NAME.match(text, pos)
        assert m, "bad label name at %r" % text[pos:pos + 40]
        name = m.group(0)
        pos = m.end()
        assert text[pos:pos + 2] == '="', "expected =\" at %r" % text[pos:pos + 40]
        pos += 2
        value = []
        while text[pos] != '"':
            c = text[pos]
            assert c != "\n", "raw newline in a label value"
            if c == "\\":
                esc = text[pos + 1]
                assert esc in '\\"n', "bad escape \\%s" % esc
                value.append({"\\": "\\", '"': '"', "n": "\n"}[esc])
                pos += 2
            else:
                value.append(c)
                pos += 1
        pos += 1
        assert name not in labels, "label %s repeated" % name
        labels[name] = "".join(value)
        if text[pos] == ",":
            pos += 1
        else:
            assert text[pos] == "}", "expected , or } at %r" % text[pos:pos + 40]
    return labels, pos + 1


def parse_prometheus(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}}; raises on
    anything the 0.0.4 text format does not allow."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    families = {}
    current = None
    seen_samples = set()
    for line in text[:-1].split("\n"):
        assert line != "", "empty line"
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert METRIC_NAME.fullmatch(name), name
            fam = families.setdefault(name, {"samples": []})
            assert "help" not in fam, "HELP repeated for %s" % name
            fam["help"] = help_text
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert METRIC_NAME.fullmatch(name), name
            assert typ in ("counter", "gauge", "histogram", "summary", "untyped"), typ
            fam = families.setdefault(name, {"samples": []})
            assert "type" not in fam, "TYPE repeated for %s" % name
            assert not fam["samples"], "TYPE after samples of %s" % name
            fam["type"] = typ
            current = name
            continue
        assert not line.startswith("#"), "unexpected comment %r" % line
        m = METRIC_NAME.match(line)
        assert m, "bad sample line %r" % line
        name = m.group(0)
        pos = m.end()
        labels = {}
        if pos < len(line) and line[pos] == "{":
            labels, pos = parse_labels(line, pos)
        assert line[pos] == " ", "expected a space after %r" % line[:pos]
        parts = line[pos + 1:].split(" ")
        assert 1 <= len(parts) <= 2, line
        value = float(parts[0])  # Go's ParseFloat and Python's agree on plain decimals
        assert not math.isnan(value), line
        assert name == current, "sample %s outside its family (%s)" % (name, current)
        if families[name].get("type") == "counter":
            assert name.endswith("_total"), "counter %s without _total" % name
            assert value >= 0, line
        key = (name, tuple(sorted(labels.items())))
        assert key not in seen_samples, "duplicate sample %r" % (key,)
        seen_samples.add(key)
        families[name]["samples"].append((name, labels, value))
    for name, fam in families.items():
        assert "type" in fam and "help" in fam, "%s lacks HELP or TYPE" % name
    return families


def metrics(gw):
    r = gw.admin_get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse_prometheus(r.content.decode("utf-8"))


def sample_value(fams, family, **labels):
    found = [v for (_n, lab, v) in fams[family]["samples"] if all(lab.get(k) == w for k, w in labels.items())]
    assert len(found) == 1, "%s%r: %r" % (family, labels, fams.get(family))
    return found[0]


# ---- tests ------------------------------------------------------------------


def test_not_connected_then_connected_with_counters_and_history(gateway_factory, receiver_factory):
    rcv = receiver_factory(auth=("bearer", HOOK_SECRET))
    other = webhook("east.side-2", "http://127.0.0.1:%d/never" % refusing_port(), auth="BEARER_TOKEN",
                    secret=OTHER_SECRET, channels=["PLATFORM_AUDIT"])
    gw = start(gateway_factory, rcv, extra=[other])

    before = integrations(gw)
    assert set(before) == {"siem", "east.side-2"}
    for o in before.values():
        check_shape(o)
        assert o["status"] == "Not Connected"
        assert all(v == 0 for v in o["counters"].values()), o
        assert o["queue"]["events"] == 0 and o["last_error"] is None
    assert before["siem"]["type"] == "WEBHOOK"

    events = policy_events(7, "adm")
    post(gw, events)
    rcv.wait_for(7)
    o = wait_delivered(gw, "siem", 7)
    check_shape(o)
    assert o["status"] == "Connected", o
    assert o["since"] is not None
    c = o["counters"]
    assert (c["received"], c["delivered"], c["retried"], c["rejected"], c["dead_lettered"],
            c["dropped"], c["failed_attempts"]) == (7, 7, 0, 0, 0, 0, 0), c
    assert c["attempts"] >= 1 and o["last_latency_ms"] is not None
    assert o["queue"] == {"type": "memory", "events": 0, "bytes": 0,
                          "limit_bytes": o["queue"]["limit_bytes"]}
    # the PLATFORM_AUDIT-only integration saw none of the policy events
    assert integrations(gw)["east.side-2"]["counters"]["received"] == 0

    one = integration(gw, "siem")
    check_shape(one)
    assert one["counters"] == c
    hist = one["history"]
    assert hist and hist[-1]["to"] == "Connected", hist
    assert hist[-1]["from"] == "Not Connected"
    assert RFC3339_MS.match(hist[-1]["time"]) and isinstance(hist[-1]["reason"], str)
    assert integration(gw, "SIEM")["name"] == "siem"  # names are case-insensitive
    r = gw.admin_get("/api/integrations/%65ast%2Eside-2")  # percent-decoded
    assert r.status_code == 200, r.text
    spaced = strict_loads(r.content)
    assert spaced["name"] == "east.side-2" and spaced["history"] == []


def test_receiver_500_is_warning_with_retries(gateway_factory, receiver_factory):
    rcv = receiver_factory(auth=("bearer", HOOK_SECRET))
    gw = start(gateway_factory, rcv)
    rcv.respond_with(500, count=1)
    events = policy_events(3, "warn")
    post(gw, events)
    rcv.wait_for(3)
    o = wait_delivered(gw, "siem", 3)
    assert o["status"] == "Warning", o
    c = o["counters"]
    assert c["delivered"] == 3 and c["received"] == 3
    assert c["retried"] >= 3 and c["failed_attempts"] >= 1 and c["attempts"] >= 2, c
    assert o["last_error"] is not None and "500" in o["last_error"], o
    hist = integration(gw, "siem")["history"]
    assert [h["to"] for h in hist][-1] == "Warning", hist
    assert "500" in hist[-1]["reason"]
    times = [h["time"] for h in hist]
    assert times == sorted(times), "history is not oldest first: %r" % hist

    fams = metrics(gw)
    lab = {"integration": "siem", "type": "WEBHOOK"}
    assert sample_value(fams, "siemrelay_integration_status", status="Warning", **lab) == 1
    assert sample_value(fams, "siemrelay_integration_status", status="Connected", **lab) == 0
    assert sample_value(fams, "siemrelay_integration_events_retried_total", **lab) == c["retried"]


def test_metrics_agree_with_the_api(gateway_factory, receiver_factory):
    rcv = receiver_factory(auth=("bearer", HOOK_SECRET))
    second = webhook("second_hook", rcv.url("/hook"), auth="BEARER_TOKEN", secret=HOOK_SECRET)
    gw = start(gateway_factory, rcv, extra=[second])
    post(gw, policy_events(5, "met"))
    bad = gw.post(b'{"not json"\n', token=INPUT_TOKEN, content_type="application/x-ndjson")
    assert bad.status_code == 400
    rcv.wait_for(10)
    wait_delivered(gw, "siem", 5)
    wait_delivered(gw, "second_hook", 5)

    api = integrations(gw)
    fams = metrics(gw)
    names = {
        "received": "siemrelay_integration_events_received_total",
        "delivered": "siemrelay_integration_events_delivered_total",
        "retried": "siemrelay_integration_events_retried_total",
        "rejected": "siemrelay_integration_events_rejected_total",
        "dead_lettered": "siemrelay_integration_events_dead_lettered_total",
        "dropped": "siemrelay_integration_events_dropped_total",
        "attempts": "siemrelay_integration_attempts_total",
        "failed_attempts": "siemrelay_integration_failed_attempts_total",
    }
    for name, o in api.items():
        lab = {"integration": name, "type": "WEBHOOK"}
        for key, fam in names.items():
            assert fams[fam]["type"] == "counter"
            assert sample_value(fams, fam, **lab) == o["counters"][key], (name, key)
        assert sample_value(fams, "siemrelay_integration_queue_events", **lab) == o["queue"]["events"]
        assert sample_value(fams, "siemrelay_integration_queue_bytes", **lab) == o["queue"]["bytes"]
        assert sample_value(fams, "siemrelay_integration_queue_limit_bytes", **lab) == \
            o["queue"]["limit_bytes"]
        assert sample_value(fams, "siemrelay_integration_inhibited", **lab) == int(o["inhibited"])
        for st in STATUSES:
            assert sample_value(fams, "siemrelay_integration_status", status=st, **lab) == \
                (1 if st == o["status"] else 0)
    assert {lab["integration"] for (_n, lab, _v)
            in fams["siemrelay_integration_events_received_total"]["samples"]} == set(api)

    assert sample_value(fams, "siemrelay_pipeline_events_accepted_total") == 5
    assert sample_value(fams, "siemrelay_pipeline_events_rejected_total") == 1
    assert sample_value(fams, "siemrelay_pipeline_records_queued_total") == 10
    assert sample_value(fams, "siemrelay_deadletter_records_total") == 0
    assert sample_value(fams, "siemrelay_ready") == 1
    version = run_cli(["--version"]).stdout.split()[1]  # "siemrelay X.Y.Z" leads
    assert sample_value(fams, "siemrelay_build_info", version=version) == 1
    start_s = sample_value(fams, "process_start_time_seconds")
    assert abs(start_s - time.time()) < 600
    assert sample_value(fams, "process_resident_memory_bytes") > 1 << 20
    assert fams["process_cpu_seconds_total"]["type"] == "counter"


def test_tcp_input_counters(gateway_factory, receiver_factory):
    rcv = receiver_factory(auth=("bearer", HOOK_SECRET))
    gw = start(gateway_factory, rcv, tcp=True)
    s = gw.tcp_connect()
    try:
        for e in policy_events(4, "tcp"):
            s.sendall((compact(e) + "\n").encode("utf-8"))
        s.sendall(b"{broken\n")
        rcv.wait_for(4)

        def counted():
            fams = metrics(gw)
            return fams if sample_value(fams, "siemrelay_input_events_rejected_total", input="tcp") == 1 \
                else None

        fams = wait_until(counted, 10)
        assert sample_value(fams, "siemrelay_input_events_accepted_total", input="tcp") == 4
        assert sample_value(fams, "siemrelay_input_connections_total", input="tcp") == 1
        assert sample_value(fams, "siemrelay_input_connections_open", input="tcp") == 1
        assert sample_value(fams, "siemrelay_input_bytes_received_total", input="tcp") > 0
    finally:
        s.close()


def test_health_ready_and_routes(gateway_factory, receiver_factory):
    rcv = receiver_factory()
    gw = start(gateway_factory, rcv)
    r = gw.admin_get("/healthz")
    assert r.status_code == 200 and strict_loads(r.content) == {"status": "ok"}
    r = gw.admin_get("/readyz")
    assert r.status_code == 200 and strict_loads(r.content)["status"] == "ready"

    r = gw.admin_get("/api/integrations/nobody")
    assert r.status_code == 404
    assert strict_loads(r.content) == {"error": "no integration named 'nobody'"}
    # requests would re-quote a malformed escape; http.client sends it as is
    conn = http.client.HTTPConnection("127.0.0.1", gw.admin_port, timeout=10)
    conn.request("GET", "/api/integrations/a%2")
    resp = conn.getresponse()
    assert resp.status == 400
    assert "error" in strict_loads(resp.read())
    conn.close()
    for path in ("/api", "/api/integrations/", "/api/integrations/siem/history", "/v1/events",
                 "/metrics/x"):
        r = gw.admin_get(path)
        assert r.status_code == 404, path
        assert "error" in strict_loads(r.content)
    # Changes need an admin token; with none configured they are refused
    # (test_admin_write.py covers them). Other methods are 405 with Allow.
    allow = {"/api/integrations": "GET, HEAD, POST", "/api/integrations/siem": "GET, HEAD, PUT, DELETE",
             "/metrics": "GET, HEAD", "/healthz": "GET, HEAD", "/readyz": "GET, HEAD"}
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path, methods in allow.items():
            r = requests.request(method, gw.admin_url(path), data=b"{}", timeout=10)
            if method in methods.split(", "):
                assert r.status_code == 403, (method, path)
                assert "admin.tokens" in strict_loads(r.content)["error"]
                continue
            assert r.status_code == 405, (method, path)
            assert r.headers.get("Allow") == methods
    r = requests.head(gw.admin_url("/metrics"), timeout=10)
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["Content-Length"]) > 0
    r = requests.head(gw.admin_url("/api/integrations/siem"), timeout=10)
    assert r.status_code == 200

    # the events input does not serve the admin routes
    assert requests.get(gw.url("/api/integrations"), timeout=10).status_code == 404


def test_readyz_during_shutdown(gateway_factory, receiver_factory):
    # An unreachable destination keeps the gateway draining after SIGTERM.
    dead = "http://127.0.0.1:%d/hook" % refusing_port()
    gw = gateway_factory([webhook("siem", dead)],
                         conf={"delivery": {"backoff": "100ms", "backoff_max": "100ms",
                                            "max_attempts": 100, "shutdown_timeout": "3s"}})
    post(gw, policy_events(1, "drain"))
    wait_until(lambda: integrations(gw)["siem"]["counters"]["failed_attempts"] >= 1, 10)
    gw.proc.send_signal(15)

    def not_ready():
        try:
            r = gw.admin_get("/readyz", timeout=2)
        except requests.RequestException:
            return None
        return [r] if r.status_code == 503 else None  # a 503 Response is falsy

    [r] = wait_until(not_ready, 5)
    assert strict_loads(r.content) == {"status": "not ready", "reason": "shutting down"}
    # still answering while it drains, and gone once it has stopped
    assert gw.admin_get("/healthz").status_code == 200
    gw.proc.wait(timeout=20)
    try:
        gw.admin_get("/healthz", timeout=2)
        raise AssertionError("the admin API still answers after the gateway stopped")
    except requests.ConnectionError:
        pass


def test_no_secret_in_any_admin_answer(gateway_factory, receiver_factory):
    # First the receiver refuses the token, echoing it in its 401 (the
    # records are rejected and dead-lettered); then it echoes it in a 500.
    rcv = receiver_factory(auth=("bearer", "not-the-" + HOOK_SECRET))
    gw = start(gateway_factory, rcv)
    post(gw, policy_events(2, "sec"))
    rcv.wait_requests(1)
    assert HOOK_SECRET in rcv.requests[0].header("authorization")
    o = wait_until(lambda: integrations(gw)["siem"]["counters"]["rejected"] >= 2, 10)

    # A platform echoing the credential in a retryable error: the text reaches
    # last_error and the status history, masked.
    rcv.auth = None
    echo = ('{"error":"refusing Authorization: Bearer %s"}' % HOOK_SECRET).encode()
    rcv.respond_with(500, count=1, body=echo)
    post(gw, policy_events(2, "sec2"))
    rcv.wait_for(2)
    o = wait_delivered(gw, "siem", 2)
    assert o["status"] == "Warning" and "500" in o["last_error"], o
    assert "refusing Authorization: Bearer " in o["last_error"]  # the text, minus the secret

    bodies = []
    for path in ("/api/integrations", "/api/integrations/siem", "/metrics", "/healthz", "/readyz",
                 "/api/integrations/" + HOOK_SECRET, "/nope"):
        r = gw.admin_get(path)
        bodies.append(r.text + "\n" + "\n".join("%s: %s" % kv for kv in r.headers.items()))
    status = status_cli(["--admin", "127.0.0.1:%d" % gw.admin_port])
    bodies += [status.stdout, status.stderr]
    as_json = status_cli(["--json", "-c", gw.config_path])
    bodies += [as_json.stdout, as_json.stderr]
    for secret in SECRETS:
        for i, body in enumerate(bodies):
            # the 404 for a path that *is* the secret echoes what was asked, nothing more
            if i == 5:
                continue
            assert secret not in body, "secret %r in admin answer %d:\n%s" % (secret, i, body[:3000])


def test_status_command(gateway_factory, receiver_factory):
    rcv = receiver_factory(auth=("bearer", HOOK_SECRET))
    other = webhook("idle", "http://127.0.0.1:%d/x" % refusing_port(), channels=["PLATFORM_AUDIT"])
    gw = start(gateway_factory, rcv, extra=[other])
    post(gw, policy_events(4, "cli"))
    rcv.wait_for(4)
    wait_delivered(gw, "siem", 4)

    p = status_cli(["-c", gw.config_path])
    assert p.returncode == 0, p.stderr
    lines = p.stdout.rstrip("\n").split("\n")
    assert lines[0].split() == ["NAME", "TYPE", "STATUS", "SINCE", "QUEUED", "DELIVERED", "RETRIED",
                                "DEAD-LETTERED", "LAST", "ERROR"], lines[0]
    rows = {ln.split()[0]: ln for ln in lines[1:]}
    assert set(rows) == {"siem", "idle"}, p.stdout
    assert re.match(r"^siem\s+WEBHOOK\s+Connected\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+0\s+4\s+0\s+0\s+-$",
                    rows["siem"]), rows["siem"]
    assert re.match(r"^idle\s+WEBHOOK\s+Not Connected\s+", rows["idle"]), rows["idle"]
    # columns line up: each heading starts where its values start
    col = lines[0].index("DELIVERED")
    assert rows["siem"][col:].split()[0] == "4"

    p = status_cli(["--admin", "127.0.0.1:%d" % gw.admin_port, "--json"])
    assert p.returncode == 0, p.stderr
    doc = strict_loads(p.stdout)
    assert {o["name"] for o in doc} == {"siem", "idle"}


def test_status_command_fails_cleanly(tmp_path):
    port = free_port()
    p = status_cli(["--admin", "127.0.0.1:%d" % port])
    assert p.returncode == 1
    assert p.stdout == ""
    assert "cannot reach the gateway's admin API at 127.0.0.1:%d" % port in p.stderr
    assert len(p.stderr.strip().split("\n")) == 1, p.stderr

    cfg = tmp_path / "off.yaml"
    cfg.write_text(yaml_text({"admin": {"enabled": False}}), encoding="utf-8")
    p = status_cli(["-c", str(cfg)])
    assert p.returncode == 1 and "disabled" in p.stderr

    p = status_cli(["--admin", "[::1]:%d" % port])
    assert p.returncode == 1 and "admin API at [::1]:%d" % port in p.stderr, p.stderr

    p = status_cli(["--admin", "nonsense"])
    assert p.returncode == 2 and "HOST:PORT" in p.stderr
    p = status_cli(["-c", str(tmp_path / "missing.yaml")])
    assert p.returncode == 2 and "missing.yaml" in p.stderr
    p = status_cli(["--help"])
    assert p.returncode == 0 and "usage: siemrelay status" in p.stdout


def test_admin_disabled(gateway_factory, receiver_factory):
    rcv = receiver_factory()
    gw = start(gateway_factory, rcv, conf={"admin": {"enabled": False}})
    assert gw.url("/healthz") and requests.get(gw.url("/healthz"), timeout=5).status_code == 200
    try:
        gw.admin_get("/healthz", timeout=2)
        raise AssertionError("admin API answers although admin.enabled is false")
    except requests.ConnectionError:
        pass
    assert "admin API listening" not in gw.stderr()


def test_admin_port_taken_is_a_startup_error(tmp_path):
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        port = holder.getsockname()[1]
        gw = Gateway(tmp_path / "gw", conf={"admin": {"listen": "127.0.0.1:%d" % port}})
        gw.http_port, gw.tcp_port, gw.admin_port = free_port(), free_port(), port
        paths = gw.write_config()
        p = subprocess.run([gateway_bin(), "-c", paths[0]], capture_output=True,
                           text=True, timeout=30, cwd=str(tmp_path))
        assert p.returncode == 1, p.stderr
        assert "admin API: cannot listen on 127.0.0.1:%d" % port in p.stderr, p.stderr
        assert "address already in use" in p.stderr.lower()
    finally:
        holder.close()
