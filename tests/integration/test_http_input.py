"""The HTTP input: POST /v1/events with an object, an array or NDJSON (gzip
too), the pipeline's summary, bad inputs (each a clear 4xx, the gateway keeps
serving), the bearer token, max_body (also after inflation), routes, slow
clients, and the normalisation of Falco output."""

import calendar
import gzip
import re
import socket
import threading
import time

import pytest
import requests

from harness import (INVALID_SAMPLE, compact, ndjson, sample_bytes, strict_loads, summary_of,
                     webhook)

IDLE_TIMEOUT = 2.0
MAX_BODY = 1024 * 1024


@pytest.fixture(scope="module")
def env(module_gateway_factory, module_receiver_factory):
    rcv = module_receiver_factory()
    gw = module_gateway_factory(
        [webhook("hook", rcv.url("/hook"), output="ndjson")],
        conf={"inputs": {"http": {"max_body": "1MiB", "idle_timeout": "2s"}}})
    return gw, rcv


def event(i, typ="command", **extra):
    ev = {"type": typ, "id": "%032x" % (0xE0000000 + i), "timestamp": 1606322948648718268 + i, "seq": i}
    ev.update(extra)
    return ev


_counter = [0]


def fresh(typ="command", **extra):
    _counter[0] += 1
    return event(_counter[0] * 1000 + 7, typ, **extra)


def received_ids(rcv):
    return [e.get("id") for e in rcv.events("/hook")]


def wait_ids(rcv, ids, timeout=10):
    want = set(ids)
    deadline = time.monotonic() + timeout
    while True:
        got = {e.get("id"): e for e in rcv.events("/hook")}
        if want <= set(got):
            return got
        if time.monotonic() > deadline:
            raise AssertionError("never received %r" % sorted(want - set(got)))
        time.sleep(0.02)


def assert_serving(gw, rcv):
    """The gateway is alive and still forwards a valid event."""
    gw.assert_running()
    assert requests.get(gw.url("/healthz"), timeout=5).status_code == 200
    ev = fresh()
    r = gw.post_json(ev)
    assert r.status_code == 200, r.text
    wait_ids(rcv, [ev["id"]])


# ---- routes ----------------------------------------------------------------

def test_healthz(env):
    gw, _ = env
    r = requests.get(gw.url("/healthz"), timeout=5)
    assert r.status_code == 200


def test_unknown_path_404(env):
    gw, _ = env
    assert requests.get(gw.url("/nope"), timeout=5).status_code == 404
    assert requests.post(gw.url("/v1/eventz"), data=b"{}", timeout=5).status_code == 404


def test_get_events_405(env):
    gw, _ = env
    r = requests.get(gw.url("/v1/events"), timeout=5)
    assert r.status_code == 405
    assert "POST" in r.headers.get("Allow", "")


# ---- accepted bodies -------------------------------------------------------

def test_single_object(env):
    gw, rcv = env
    ev = fresh()
    r = gw.post_json(ev)
    assert r.status_code == 200, r.text
    s = summary_of(r)
    assert (s["accepted"], s["rejected"], s["dropped"], s["failed"]) == (1, 0, 0, 0), s
    assert s.get("errors", []) == []
    assert wait_ids(rcv, [ev["id"]])[ev["id"]] == ev


def test_array(env):
    gw, rcv = env
    evs = [fresh(), fresh("policy", severity=3), fresh("kubernetes")]
    r = gw.post(compact(evs), content_type="application/json")
    assert r.status_code == 200, r.text
    s = summary_of(r)
    assert (s["accepted"], s["rejected"]) == (3, 0), s
    got = wait_ids(rcv, [e["id"] for e in evs])
    for e in evs:
        assert got[e["id"]] == e


def test_ndjson(env):
    gw, rcv = env
    evs = [fresh() for _ in range(5)]
    r = gw.post_ndjson(evs)
    assert r.status_code == 200, r.text
    s = summary_of(r)
    assert (s["accepted"], s["rejected"]) == (5, 0), s
    got = wait_ids(rcv, [e["id"] for e in evs])
    for e in evs:
        assert got[e["id"]] == e


def test_ndjson_crlf_and_no_final_newline(env):
    gw, rcv = env
    a, b = fresh(), fresh()
    body = (compact(a) + "\r\n" + compact(b)).encode()
    r = gw.post(body, content_type="application/x-ndjson")
    assert r.status_code == 200, r.text
    assert summary_of(r)["accepted"] == 2
    got = wait_ids(rcv, [a["id"], b["id"]])
    assert got[a["id"]] == a and got[b["id"]] == b


def test_gzip(env):
    gw, rcv = env
    evs = [fresh() for _ in range(20)]
    r = gw.post(ndjson(evs), gzip=True, content_type="application/x-ndjson")
    assert r.status_code == 200, r.text
    assert summary_of(r)["accepted"] == 20
    got = wait_ids(rcv, [e["id"] for e in evs])
    for e in evs:
        assert got[e["id"]] == e


def test_gzip_concatenated_members(env):
    gw, rcv = env
    a, b = fresh(), fresh()
    body = gzip.compress(ndjson([a])) + gzip.compress(ndjson([b]))
    r = gw.post(body, headers={"Content-Encoding": "gzip"}, content_type="application/x-ndjson")
    assert r.status_code == 200, r.text
    assert summary_of(r)["accepted"] == 2
    wait_ids(rcv, [a["id"], b["id"]])


def test_body_of_exactly_max_body_is_accepted(env):
    gw, rcv = env
    ev = fresh()
    head = compact(dict(ev, pad=""))[:-2]  # ..."pad":"
    pad = MAX_BODY - len(head.encode()) - 2
    body = (head + "x" * pad + '"}').encode()
    assert len(body) == MAX_BODY
    r = gw.post(body, content_type="application/json")
    assert r.status_code == 200, r.text
    got = wait_ids(rcv, [ev["id"]])
    assert len(got[ev["id"]]["pad"]) == pad


# ---- the summary of a partly bad body ----------------------------------------

def test_partial_ndjson_summary_names_lines(env):
    gw, rcv = env
    ok1, ok2, ok3 = fresh(), fresh(), fresh()
    bad_unknown = fresh("nonsense")
    lines = [
        compact(ok1),                                    # 1
        '{"type":"command","id":"truncated',             # 2 malformed
        compact(ok2),                                    # 3
        compact(bad_unknown),                            # 4 unknown type
        '"just a string"',                               # 5 not an object
        compact(ok3),                                    # 6
    ]
    r = gw.post(("\n".join(lines) + "\n").encode(), content_type="application/x-ndjson")
    assert r.status_code == 200, r.text
    s = summary_of(r)
    assert (s["accepted"], s["rejected"], s["dropped"], s["failed"]) == (3, 3, 0, 0), s
    errs = s["errors"]
    assert sorted(e.get("line") for e in errs) == [2, 4, 5], errs
    for e in errs:
        assert isinstance(e.get("offset"), int) and e["offset"] >= 0, e
        assert isinstance(e.get("error"), str) and e["error"], e
        assert "index" not in e
    got = wait_ids(rcv, [ok1["id"], ok2["id"], ok3["id"]])
    assert bad_unknown["id"] not in got


def test_partial_array_summary_names_index(env):
    gw, rcv = env
    ok1, ok2 = fresh(), fresh()
    body = "[%s,5,%s,{\"id\":\"no-type\"}]" % (compact(ok1), compact(ok2))
    r = gw.post(body, content_type="application/json")
    assert r.status_code == 200, r.text
    s = summary_of(r)
    assert (s["accepted"], s["rejected"]) == (2, 2), s
    assert sorted(e.get("index") for e in s["errors"]) == [1, 3], s["errors"]
    for e in s["errors"]:
        assert isinstance(e.get("offset"), int) and isinstance(e.get("error"), str) and e["error"]
    wait_ids(rcv, [ok1["id"], ok2["id"]])


def test_invalid_published_sample_is_400_with_position(env):
    gw, rcv = env
    raw = sample_bytes(INVALID_SAMPLE)
    r = gw.post(raw, content_type="application/json")
    assert r.status_code == 400, (r.status_code, r.text)
    s = summary_of(r)
    assert s["accepted"] == 0 and s["rejected"] == 1, s
    assert s["errors"], s
    err = s["errors"][0]
    assert isinstance(err.get("error"), str) and err["error"]
    # The comma is missing after "connection"; the parser meets "tty" instead.
    after = raw.index(b'"connection"') + len(b'"connection"')
    tty = raw.index(b'"tty"')
    tty_line = raw[:tty].count(b"\n") + 1
    where_ok = (isinstance(err.get("offset"), int) and after <= err["offset"] <= tty + 1) \
        or err.get("line") == tty_line \
        or re.search(r"\b(offset|byte)\s*%d\b" % tty, err["error"]) \
        or re.search(r"\bline\s*%d\b" % tty_line, err["error"])
    assert where_ok, "error does not locate the missing comma (offset %d..%d or line %d): %r" % (after, tty, tty_line, err)
    assert "164806f43b4d7e8c6708f40cdbb47838" not in received_ids(rcv)
    gw.assert_running()


# ---- bad inputs: a clear 4xx each, and the gateway keeps serving ----------------

def deep(levels):
    """An event whose total nesting depth (the event object included) is `levels`."""
    inner = levels - 1
    return ('{"type":"command","id":"deep-%d","x":' % levels + "[" * inner + "]" * inner + "}").encode()


BAD_BODIES = {
    "malformed": b'{"type":"command","id":"m1",',
    "trailing-garbage": b'{"type":"command","id":"m2"} xyz',
    "bad-literal": b'{"type":"command","id":"m3","x":tru}',
    "deep-66": deep(66),
    "deep-100000": b'{"type":"command","x":' + b"[" * 100000 + b"]" * 100000 + b"}",
    "utf8-invalid-byte": b'{"type":"command","id":"u1","s":"\xff\xfe"}',
    "utf8-overlong": b'{"type":"command","id":"u2","s":"\xc0\xaf"}',
    "utf8-surrogate": b'{"type":"command","id":"u3","s":"\xed\xa0\x80"}',
    "utf8-truncated": b'{"type":"command","id":"u4","s":"\xe6\x97"}',
    "utf8-in-key": b'{"type":"command","id":"u5","\xff":1}',
    "missing-type": b'{"id":"t1","comm":"x"}',
    "unknown-type": b'{"type":"nonsense","id":"t2"}',
    "type-not-string": b'{"type":5,"id":"t3"}',
    "not-an-object": b"5",
    "string": b'"hello"',
    "null": b"null",
}


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_bad_input_gets_400(env, name):
    gw, rcv = env
    r = gw.post(BAD_BODIES[name], content_type="application/json")
    assert r.status_code == 400, (name, r.status_code, r.text[:500])
    s = summary_of(r)
    assert s["accepted"] == 0 and s["rejected"] >= 1, s
    assert s["errors"] and all(isinstance(e.get("error"), str) and e["error"] for e in s["errors"]), s
    assert_serving(gw, rcv)


def test_depth_64_is_accepted(env):
    gw, rcv = env
    r = gw.post(deep(64), content_type="application/json")
    assert r.status_code == 200, r.text
    got = wait_ids(rcv, ["deep-64"])["deep-64"]
    x, n = got["x"], 0
    while isinstance(x, list):
        n += 1
        x = x[0] if x else None
    assert n == 63


def test_oversized_body_413(env):
    gw, rcv = env
    body = b'{"type":"command","id":"too-big","pad":"' + b"y" * MAX_BODY + b'"}'
    r = gw.post(body, content_type="application/json")
    assert r.status_code == 413, (r.status_code, r.text[:300])
    assert_serving(gw, rcv)
    assert "too-big" not in received_ids(rcv)


def test_oversized_by_one_byte_413(env):
    gw, rcv = env
    head = b'{"type":"command","id":"too-big-1","pad":"'
    body = head + b"z" * (MAX_BODY + 1 - len(head) - 2) + b'"}'
    assert len(body) == MAX_BODY + 1
    r = gw.post(body, content_type="application/json")
    assert r.status_code == 413, (r.status_code, r.text[:300])
    assert_serving(gw, rcv)


def test_gzip_bomb_413(env):
    gw, rcv = env
    inflated = b'{"type":"command","id":"bomb","pad":"' + b"A" * (64 * 1024 * 1024) + b'"}'
    body = gzip.compress(inflated, compresslevel=9)
    assert len(body) < MAX_BODY
    t0 = time.monotonic()
    r = gw.post(body, headers={"Content-Encoding": "gzip"}, content_type="application/json")
    assert r.status_code == 413, (r.status_code, r.text[:300])
    assert time.monotonic() - t0 < 5
    assert_serving(gw, rcv)
    assert "bomb" not in received_ids(rcv)


def test_gzip_just_over_limit_after_inflation_413(env):
    gw, rcv = env
    head = b'{"type":"command","id":"inflated-over","pad":"'
    inflated = head + b"B" * (MAX_BODY + 1 - len(head) - 2) + b'"}'
    r = gw.post(gzip.compress(inflated), headers={"Content-Encoding": "gzip"}, content_type="application/json")
    assert r.status_code == 413, (r.status_code, r.text[:300])
    assert_serving(gw, rcv)


def test_corrupt_gzip_is_4xx(env):
    gw, rcv = env
    good = gzip.compress(ndjson([fresh()]))
    corrupt = good[:10] + bytes(b ^ 0x5A for b in good[10:-8]) + good[-8:]
    r = gw.post(corrupt, headers={"Content-Encoding": "gzip"}, content_type="application/x-ndjson")
    assert 400 <= r.status_code < 500, r.status_code
    truncated = good[: len(good) // 2]
    r = gw.post(truncated, headers={"Content-Encoding": "gzip"}, content_type="application/x-ndjson")
    assert 400 <= r.status_code < 500, r.status_code
    assert_serving(gw, rcv)


# ---- slow clients -------------------------------------------------------------

def _read_until_closed(sock, limit):
    """Reads until EOF/reset; returns (bytes, seconds), or raises on timeout."""
    t0 = time.monotonic()
    sock.settimeout(limit)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError("connection still open after %.1fs (idle_timeout %.1fs); got %r"
                             % (time.monotonic() - t0, IDLE_TIMEOUT, data[:200]))
    return data, time.monotonic() - t0


def test_slow_client_is_cut_off_and_others_are_served(env):
    gw, rcv = env
    s = socket.create_connection(("127.0.0.1", gw.http_port))
    try:
        s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 200\r\n\r\n" + b'{"type":"command",')
        t_start = time.monotonic()
        # Meanwhile other clients are served promptly.
        for _ in range(3):
            ev = fresh()
            t0 = time.monotonic()
            r = gw.post_json(ev, timeout=5)
            assert r.status_code == 200
            assert time.monotonic() - t0 < 1.0, "a stalled client slowed others down"
            wait_ids(rcv, [ev["id"]])
        data, _ = _read_until_closed(s, IDLE_TIMEOUT + 4)
        elapsed = time.monotonic() - t_start
        assert elapsed >= IDLE_TIMEOUT - 0.3, "closed after %.2fs, before idle_timeout" % elapsed
        assert elapsed <= IDLE_TIMEOUT + 3.5, elapsed
        if data:
            assert re.match(rb"HTTP/1\.[01] 408", data), data[:200]
    finally:
        s.close()
    assert_serving(gw, rcv)


def test_slowloris_trickle_does_not_extend_deadline(env):
    gw, rcv = env
    s = socket.create_connection(("127.0.0.1", gw.http_port))
    closed = threading.Event()
    t_start = time.monotonic()

    def trickle():
        head = b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
        for b in head:
            if closed.is_set():
                return
            try:
                s.send(bytes([b]))
            except OSError:
                return
            time.sleep(0.1)

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        data, _ = _read_until_closed(s, IDLE_TIMEOUT + 5)
        elapsed = time.monotonic() - t_start
        assert elapsed <= IDLE_TIMEOUT + 3.5, "trickling kept the connection open for %.1fs" % elapsed
    finally:
        closed.set()
        s.close()
        t.join(5)
    assert_serving(gw, rcv)


def test_many_bad_requests_then_still_serving(env):
    gw, rcv = env
    for i in range(30):
        r = gw.post(b'{"type":"command",' + str(i).encode(), content_type="application/json")
        assert r.status_code == 400
    assert_serving(gw, rcv)


# ---- Falco output -------------------------------------------------------------

FALCO_FIELDS = ('{"container.id":"a407fb17332b","evt.time":1704164645123456789,'
                '"proc.pid":9223372036854775807,"fd.num":-1,"user.name":"root",'
                '"proc.cmdline":"sh -c \\"id\\"","k8s.ns.name":null,"evt.arg.flags":"O_RDWR|O_CREAT"}')


def falco_body(rule="Terminal shell in container", priority="Warning",
               time_str="2024-01-02T03:04:05.123456789Z", hostname="node-1"):
    return ('{"time":"%s","rule":"%s","priority":"%s",'
            '"output":"03:04:05.123456789: %s A shell was spawned (user=root \\u00e9)",'
            '"output_fields":%s,"tags":["container","shell","mitre_execution"],'
            '"hostname":"%s","source":"syscall"}') % (time_str, rule, priority, priority, FALCO_FIELDS, hostname)


def ns_of(time_str):
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", time_str)
    secs = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    frac = (m.group(2) or "").ljust(9, "0")[:9]
    return secs * 10 ** 9 + int(frac)


def find_by(rcv, key, value, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        for r in rcv.requests_for("/hook"):
            if r.status != 200:
                continue
            for e in r.events():
                if e.get(key) == value:
                    return e, r
        if time.monotonic() > deadline:
            raise AssertionError("no event with %s=%r arrived" % (key, value))
        time.sleep(0.02)


def test_falco_output_is_normalised(env):
    gw, rcv = env
    body = falco_body(rule="Falco rule fidelity")
    sent = strict_loads(body)
    r = gw.post(body, content_type="application/json")
    assert r.status_code == 200, r.text
    assert summary_of(r)["accepted"] == 1
    ev, req = find_by(rcv, "name", "Falco rule fidelity")
    assert ev["type"] == "policy"
    assert ev["severity"] == 4
    assert ev["content"]["ruleName"] == sent["rule"]
    assert ev["content"]["output"] == sent["output"]
    assert ev["content"]["fields"] == sent["output_fields"]
    assert ev["content"]["fields"]["proc.pid"] == 9223372036854775807
    assert ev["content"]["fields"]["evt.time"] == 1704164645123456789
    assert ev["content"]["ruleTags"] == sent["tags"]
    assert ev["labels"]["host.hostName"] == "node-1"
    assert ev["timestamp"] == ns_of(sent["time"]) == 1704164645123456789
    assert type(ev["timestamp"]) is int
    assert re.fullmatch(r"[0-9a-fA-F]{32}", ev["id"]), ev["id"]
    # output_fields pass through byte for byte
    assert FALCO_FIELDS.encode() in req.body, "content.fields is not the sender's exact text"


def test_falco_id_is_deterministic(env):
    gw, rcv = env
    b1 = falco_body(rule="Falco determinism A")
    b2 = falco_body(rule="Falco determinism B", time_str="2024-01-02T03:04:06.000000001Z")
    for b in (b1, b1, b2):
        assert gw.post(b, content_type="application/json").status_code == 200
    deadline = time.monotonic() + 10
    while True:
        a = [e for e in rcv.events("/hook") if e.get("name") == "Falco determinism A"]
        b = [e for e in rcv.events("/hook") if e.get("name") == "Falco determinism B"]
        if len(a) >= 2 and b:
            break
        assert time.monotonic() < deadline, "Falco events did not arrive"
        time.sleep(0.02)
    assert a[0]["id"] == a[1]["id"], "the same Falco event must get the same id"
    assert a[0]["id"] != b[0]["id"]
    assert b[0]["timestamp"] == 1704164646000000001


@pytest.mark.parametrize("priority,severity", [
    ("Emergency", 0), ("Alert", 1), ("Critical", 2), ("Error", 3),
    ("Warning", 4), ("Notice", 5), ("Informational", 6), ("Debug", 7),
])
def test_falco_priority_to_severity(env, priority, severity):
    gw, rcv = env
    rule = "Falco priority %s" % priority
    r = gw.post(falco_body(rule=rule, priority=priority), content_type="application/json")
    assert r.status_code == 200, r.text
    ev, _ = find_by(rcv, "name", rule)
    assert ev["severity"] == severity


def test_falco_microsecond_time(env):
    gw, rcv = env
    rule = "Falco micro time"
    r = gw.post(falco_body(rule=rule, time_str="2023-06-30T23:59:59.654321Z"), content_type="application/json")
    assert r.status_code == 200, r.text
    ev, _ = find_by(rcv, "name", rule)
    assert ev["timestamp"] == ns_of("2023-06-30T23:59:59.654321Z") == 1688169599654321000


# ---- bearer token -------------------------------------------------------------

TOKEN = "ingest-tok-3f9a71c2e5"


@pytest.fixture(scope="module")
def token_env(module_gateway_factory, module_receiver_factory):
    rcv = module_receiver_factory()
    gw = module_gateway_factory([webhook("hook", rcv.url("/hook"))],
                                conf={"inputs": {"http": {"token": "${INGEST_TOKEN}",
                                                               "max_body": "16MiB"}}},
                                env={"INGEST_TOKEN": TOKEN})
    return gw, rcv


@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", "Bearer " + TOKEN + "x", "Basic " + TOKEN,
                                  TOKEN, "Bearer"])
def test_token_required_401(token_env, auth):
    gw, rcv = token_env
    ev = fresh()
    h = {"Authorization": auth} if auth is not None else {}
    r = gw.post(compact(ev), headers=h, content_type="application/json")
    assert r.status_code == 401, (auth, r.status_code, r.text)
    time.sleep(0.1)
    assert ev["id"] not in received_ids(rcv)


def test_token_accepted(token_env):
    gw, rcv = token_env
    ev = fresh()
    r = gw.post(compact(ev), token=TOKEN, content_type="application/json")
    assert r.status_code == 200, r.text
    assert wait_ids(rcv, [ev["id"]])[ev["id"]] == ev


def _peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmHWM for %d" % pid)


def _raw_post(port, body, token=None, source="127.0.0.1"):
    """POST /v1/events from `source`; returns the status line's code."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    try:
        auth = b"Authorization: Bearer %s\r\n" % token.encode() if token else b""
        s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Connection: close\r\n" + auth + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        got, _ = _read_until_closed(s, 10)
        return int(got.split(b" ", 2)[1])
    finally:
        s.close()


def test_unauthenticated_bodies_are_never_read(gateway_factory, receiver_factory):
    """100 senders without the token, each announcing and pushing 15 MiB: each
    is answered on its head alone (401, then 429 once the peer has failed 20
    times), and the gateway's peak RSS stays under 200 MB. The limited peer
    is limited even with the token; another address is not."""
    rcv = receiver_factory()
    gw = gateway_factory([webhook("hook", rcv.url("/hook"))],
                         conf={"inputs": {"http": {"token": "${INGEST_TOKEN}", "max_body": "16MiB"}}},
                         env={"INGEST_TOKEN": TOKEN})
    size = 15 * 1024 * 1024
    block = b"x" * (1 << 20)
    head = (b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer wrong\r\nContent-Length: %d\r\n\r\n" % size)
    answers = []

    def sender():
        s = socket.create_connection(("127.0.0.1", gw.http_port))
        s.settimeout(20)
        try:
            s.sendall(head)
            answers.append(s.recv(12))  # before one body byte is sent
            try:
                for _ in range(size // len(block)):
                    s.sendall(block)
            except OSError:
                pass  # the gateway closed: it does not read the body
        except OSError as e:
            answers.append(repr(e).encode())
        finally:
            s.close()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert answers.count(b"HTTP/1.1 401") == 20, answers
    assert answers.count(b"HTTP/1.1 429") == 80, answers
    peak = _peak_rss_mb(gw.proc.pid)
    assert peak < 200, "peak RSS %.0f MB" % peak
    text = gw.admin_get("/metrics").text
    assert 'siemrelay_http_refused_total{listener="input.http",reason="unauthorized"} 20\n' in text
    assert 'siemrelay_http_refused_total{listener="input.http",reason="rate_limited"} 80\n' in text
    ev, ev2 = fresh(), fresh()
    assert _raw_post(gw.http_port, compact(ev).encode(), TOKEN) == 429
    assert _raw_post(gw.http_port, compact(ev2).encode(), TOKEN, source="127.0.0.2") == 200
    wait_ids(rcv, [ev2["id"]])
    # A few log lines, not one per failure.
    assert gw.stderr().count("missing or invalid bearer token") <= 12


def test_bodies_in_progress_share_a_budget(env):
    """max_body 1 MiB: the bodies being received together may hold 64 MiB.
    Announced bodies beyond it get 503 with Retry-After at once; once they are
    gone a normal post goes through."""
    gw, rcv = env
    socks = []
    try:
        for _ in range(64):  # 64 x 1 MiB announced, not sent: the budget is full
            s = socket.create_connection(("127.0.0.1", gw.http_port))
            s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % MAX_BODY)
            socks.append(s)
        time.sleep(0.3)
        extra = socket.create_connection(("127.0.0.1", gw.http_port))
        extra.sendall(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n")
        got, _ = _read_until_closed(extra, 5)
        extra.close()
        assert got.startswith(b"HTTP/1.1 503 "), got[:200]
        assert b"Retry-After: 1\r\n" in got
    finally:
        for s in socks:
            s.close()
    time.sleep(0.3)
    assert_serving(gw, rcv)


def test_token_not_needed_for_healthz_and_never_logged(token_env):
    gw, _ = token_env
    assert requests.get(gw.url("/healthz"), timeout=5).status_code == 200
    assert TOKEN not in gw.stderr()


# ---- strict framing (RFC 9112) --------------------------------------------------

def _raw_exchange(port, data, limit=5):
    """Sends raw bytes, reads until the server closes; returns what came back."""
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.sendall(data)
        got, _ = _read_until_closed(s, limit)
        return got
    finally:
        s.close()


def _refused(gw, listener, reason):
    text = gw.admin_get("/metrics").text
    m = re.search(r'^siemrelay_http_refused_total\{listener="%s",reason="%s"\} (\d+)$'
                  % (re.escape(listener), reason), text, re.M)
    assert m, "no siemrelay_http_refused_total for %s/%s" % (listener, reason)
    return int(m.group(1))


SMUGGLE_BODY = b'3\r\n{}\n\r\n0\r\n\r\nPOST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}'

LENIENT_FRAMING = [
    ("ws_before_colon", b"Transfer-Encoding : chunked\r\n", SMUGGLE_BODY, 400, "bad_field_name"),
    ("identity_chunked", b"Transfer-Encoding: identity, chunked\r\n", SMUGGLE_BODY, 501,
     "te_unsupported"),
    ("unknown_coding", b"Transfer-Encoding: gzip\r\n", b"", 501, "te_unsupported"),
    ("obs_fold_te", b"Transfer-Encoding: chunked\r\n identity\r\nX-A: b\r\n", SMUGGLE_BODY, 400,
     "obs_fold"),
    ("obs_fold_tab", b"X-A: a\r\n\tb\r\nContent-Length: 2\r\n", b"{}", 400, "obs_fold"),
    ("ctl_in_value", b"X-A: a\x0bb\r\nContent-Length: 2\r\n", b"{}", 400, "bad_field_value"),
    ("ctl_in_name", b"X\x0bA: a\r\nContent-Length: 2\r\n", b"{}", 400, "bad_field_name"),
    ("bare_cr", b"X-A: a\rContent-Length: 2\r\n", b"{}", 400, "bad_line"),
    ("cl_and_te", b"Content-Length: 14\r\nTransfer-Encoding: chunked\r\n", SMUGGLE_BODY, 400,
     "cl_and_te"),
    ("bad_chunk_ext", b"Transfer-Encoding: chunked\r\n",
     b'3;a=b;;\x01\r\n{}\n\r\n0\r\n\r\n', 400, "bad_chunk"),
    ("quoted_ext_unterminated", b"Transfer-Encoding: chunked\r\n",
     b'3;a="b\r\n{}\n\r\n0\r\n\r\n', 400, "bad_chunk"),
]


@pytest.mark.parametrize("name,fields,body,status,reason", LENIENT_FRAMING,
                         ids=[c[0] for c in LENIENT_FRAMING])
def test_lenient_framing_is_refused(env, name, fields, body, status, reason):
    gw, rcv = env
    before = _refused(gw, "input.http", reason)
    req = (b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           + fields + b"\r\n" + body)
    got = _raw_exchange(gw.http_port, req)
    assert got.startswith(b"HTTP/1.1 %d " % status), got[:200]
    assert b"Connection: close\r\n" in got
    assert got.count(b"HTTP/1.1 ") == 1, "a smuggled second request was answered: %r" % got
    assert _refused(gw, "input.http", reason) == before + 1
    assert_serving(gw, rcv)


def test_transfer_encoding_in_http10_is_refused_then_closed(env):
    gw, rcv = env
    before = _refused(gw, "input.http", "te_http10")
    got = _raw_exchange(gw.http_port,
                        b"POST /v1/events HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n"
                        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + SMUGGLE_BODY)
    assert got.startswith(b"HTTP/1.1 400 "), got[:200]
    assert got.count(b"HTTP/1.1 ") == 1
    assert _refused(gw, "input.http", "te_http10") == before + 1
    assert_serving(gw, rcv)


def test_strict_framing_on_the_admin_listener(env):
    gw, _ = env
    before = _refused(gw, "admin", "bad_field_name")
    got = _raw_exchange(gw.admin_port, b"GET /healthz HTTP/1.1\r\nHost : 127.0.0.1\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 400 "), got[:200]
    assert _refused(gw, "admin", "bad_field_name") == before + 1


def test_chunk_extensions_and_any_case_chunked_are_accepted(env):
    gw, rcv = env
    ev = fresh()
    body = compact(ev).encode()
    s = socket.create_connection(("127.0.0.1", gw.http_port))
    try:
        s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: ChUnKeD\r\nConnection: close\r\n\r\n"
                  + b"%x;name=\"v;1\" ; flag\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        got, _ = _read_until_closed(s, 5)
    finally:
        s.close()
    assert got.startswith(b"HTTP/1.1 200 "), got[:300]
    wait_ids(rcv, [ev["id"]])


def test_descriptor_limit_raised_to_the_hard_limit(gateway_factory, receiver_factory):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 256:
        pytest.skip("no finite hard limit above 256 here")
    rcv = receiver_factory()
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        gw = gateway_factory([webhook("hook", rcv.url("/hook"))])
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    with open("/proc/%d/limits" % gw.proc.pid) as f:
        line = [l for l in f if l.startswith("Max open files")][0]
    assert line.split()[3:5] == [str(hard), str(hard)], line
    assert "descriptor limit 256 -> %d (hard limit)" % hard in gw.stderr()
