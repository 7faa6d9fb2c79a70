"""The TCP input: NDJSON lines flow to the webhook in order; a malformed line
is counted and logged with its line number while the connection stays open
and later lines still flow; lines split across TCP writes are reassembled.
A fast stream is cut into large gathered chunks and still names its lines
exactly; a slow trickle is not held back waiting for a chunk to fill."""

import re
import time

import pytest

from harness import compact, samples, wait_until, webhook


@pytest.fixture(scope="module")
def env(module_gateway_factory, module_receiver_factory):
    rcv = module_receiver_factory()
    gw = module_gateway_factory([webhook("hook", rcv.url("/hook"), output="ndjson")], tcp=True)
    return gw, rcv


_n = [0]


def ev(tag, **extra):
    _n[0] += 1
    e = {"type": "command", "id": "%s-%06d" % (tag, _n[0]), "timestamp": 1606322948648718268 + _n[0],
         "seq": _n[0]}
    e.update(extra)
    return e


def line(e):
    return (compact(e) + "\n").encode("utf-8")


def ids_with_prefix(rcv, prefix):
    return [e["id"] for e in rcv.events("/hook") if str(e.get("id", "")).startswith(prefix)]


def wait_prefix(rcv, prefix, n, timeout=10):
    return wait_until(lambda: (lambda ids: ids if len(ids) >= n else None)(ids_with_prefix(rcv, prefix)),
                      timeout, message="fewer than %d events %s* arrived: %r"
                      % (n, prefix, ids_with_prefix(rcv, prefix)))


def test_lines_flow_in_order(env):
    gw, rcv = env
    evs = [ev("order") for _ in range(200)]
    s = gw.tcp_connect()
    try:
        s.sendall(b"".join(line(e) for e in evs))
        ids = wait_prefix(rcv, "order-", len(evs))
    finally:
        s.close()
    assert ids == [e["id"] for e in evs], "events arrived out of order"
    got = {e["id"]: e for e in rcv.events("/hook")}
    for e in evs:
        assert got[e["id"]] == e


def test_samples_over_tcp_are_exact(env):
    gw, rcv = env
    s = gw.tcp_connect()
    sent = []
    try:
        for name, raw, parsed in samples():
            p = dict(parsed)
            p["id"] = "tcp-sample-" + p["id"]
            sent.append(p)
            s.sendall(line(p))
        wait_prefix(rcv, "tcp-sample-", len(sent))
    finally:
        s.close()
    got = {e["id"]: e for e in rcv.events("/hook")}
    for p in sent:
        assert got[p["id"]] == p


def test_malformed_line_is_logged_and_connection_stays_open(env):
    gw, rcv = env
    before = [ev("mal") for _ in range(12)]          # lines 1..12
    after = [ev("mal") for _ in range(3)]            # lines 14..16
    late = ev("mal")                                  # line 17, sent later
    mark = gw.stderr_len()
    s = gw.tcp_connect()
    try:
        for e in before:                             # separate writes: numbering must continue across reads
            s.sendall(line(e))
            time.sleep(0.005)
        s.sendall(b'{"type":"command","id":"mal-broken",\n')   # line 13
        s.sendall(b"".join(line(e) for e in after))
        wait_prefix(rcv, "mal-", 15)
        # The gateway says which line was bad.
        gw.wait_stderr(r"line[^0-9\n]{0,12}\b13\b", timeout=5, since=mark)
        # Same connection, still open: a later line still flows.
        s.sendall(line(late))
        ids = wait_prefix(rcv, "mal-", 16)
    finally:
        s.close()
    assert ids == [e["id"] for e in before + after + [late]]
    assert "mal-broken" not in ids
    gw.assert_running()


def test_invalid_utf8_and_unknown_type_lines_are_rejected(env):
    gw, rcv = env
    a, b = ev("rej"), ev("rej")
    mark = gw.stderr_len()
    s = gw.tcp_connect()
    try:
        s.sendall(line(a))                                           # 1
        s.sendall(b'{"type":"command","id":"rej-utf8","s":"\xff"}\n')  # 2
        s.sendall(b'{"type":"bogus","id":"rej-type"}\n')               # 3
        s.sendall(line(b))                                           # 4
        wait_prefix(rcv, "rej-", 2)
        gw.wait_stderr(r"line[^0-9\n]{0,12}\b2\b", timeout=5, since=mark)
        gw.wait_stderr(r"line[^0-9\n]{0,12}\b3\b", timeout=5, since=mark)
    finally:
        s.close()
    time.sleep(0.2)
    assert ids_with_prefix(rcv, "rej-") == [a["id"], b["id"]]


def test_line_split_across_writes(env):
    gw, rcv = env
    e = ev("split", text="d\u00e9j\u00e0 vu \u65e5\u672c \U0001F600", big=18446744073709551615, empty=[])
    data = line(e)
    # cut inside the multi-byte characters too
    cut1 = data.index("\u65e5".encode()) + 1
    cut2 = data.index("\U0001F600".encode()) + 2
    pieces = [data[:5], data[5:cut1], data[cut1:cut2], data[cut2:-1], data[-1:]]
    s = gw.tcp_connect()
    try:
        for p in pieces:
            s.sendall(p)
            time.sleep(0.05)
        wait_prefix(rcv, "split-", 1)
    finally:
        s.close()
    got = [x for x in rcv.events("/hook") if x.get("id") == e["id"]]
    assert got == [e]


def test_many_lines_split_at_random_points(env):
    gw, rcv = env
    evs = [ev("chunks", pad="p" * (i * 7 % 300)) for i in range(100)]
    data = b"".join(line(x) for x in evs)
    s = gw.tcp_connect()
    try:
        pos, step = 0, 1
        while pos < len(data):
            s.sendall(data[pos:pos + step])
            pos += step
            step = step * 3 % 997 + 1
        ids = wait_prefix(rcv, "chunks-", len(evs))
    finally:
        s.close()
    assert ids == [x["id"] for x in evs]


def test_crlf_line_endings(env):
    gw, rcv = env
    a, b = ev("crlf"), ev("crlf")
    s = gw.tcp_connect()
    try:
        s.sendall(compact(a).encode() + b"\r\n" + compact(b).encode() + b"\r\n")
        wait_prefix(rcv, "crlf-", 2)
    finally:
        s.close()
    got = {x["id"]: x for x in rcv.events("/hook")}
    assert got[a["id"]] == a and got[b["id"]] == b


def test_last_line_without_newline_is_taken_at_close(env):
    gw, rcv = env
    a, b = ev("eof"), ev("eof")
    s = gw.tcp_connect()
    try:
        s.sendall(line(a) + compact(b).encode())
    finally:
        s.close()
    ids = wait_prefix(rcv, "eof-", 2)
    assert ids == [a["id"], b["id"]]


def test_concurrent_connections_each_in_order(env):
    gw, rcv = env
    conns = [gw.tcp_connect() for _ in range(4)]
    streams = [[ev("conc%d" % i) for _ in range(50)] for i in range(4)]
    try:
        for k in range(50):
            for c, st in zip(conns, streams):
                c.sendall(line(st[k]))
        for i, st in enumerate(streams):
            ids = wait_prefix(rcv, "conc%d-" % i, 50)
            assert ids == [x["id"] for x in st], "connection %d out of order" % i
    finally:
        for c in conns:
            c.close()


def test_oversize_line_is_skipped_and_following_lines_flow(env):
    gw, rcv = env
    a, b = ev("big"), ev("big")
    huge = {"type": "command", "id": "big-huge", "pad": "h" * (70 * 1024)}  # max_line 64KiB
    s = gw.tcp_connect()
    try:
        s.sendall(line(a) + line(huge) + line(b))
        ids = wait_prefix(rcv, "big-", 2)
    finally:
        s.close()
    time.sleep(0.2)
    assert ids_with_prefix(rcv, "big-") == [a["id"], b["id"]]
    assert ids == [a["id"], b["id"]]
    gw.assert_running()


def test_fast_stream_names_lines_exactly_across_chunks(env):
    # ~4.5 MiB in one go: many reads, gathered into chunks while earlier ones
    # are with the pipeline. A malformed and an oversize line deep inside
    # must still be reported with the sender's line numbers.
    gw, rcv = env
    n, bad_at, huge_at = 2400, 1777, 1234
    evs, data = [], []
    for i in range(1, n + 1):
        if i == bad_at:
            data.append(b'{"type":"command","id":"fast-broken",\n')
        elif i == huge_at:
            data.append(line({"type": "command", "id": "fast-huge", "pad": "h" * (70 * 1024)}))
        else:
            e = ev("fast", pad="f" * 1800)
            evs.append(e)
            data.append(line(e))
    mark = gw.stderr_len()
    s = gw.tcp_connect()
    try:
        s.sendall(b"".join(data))
        ids = wait_prefix(rcv, "fast-", len(evs), timeout=60)
        gw.wait_stderr(r'"line":%d[,}]' % bad_at, timeout=5, since=mark)
        gw.wait_stderr(r"line %d is longer than" % huge_at, timeout=5, since=mark)
    finally:
        s.close()
    assert ids == [e["id"] for e in evs]
    log = gw.stderr()[mark:]
    assert re.findall(r'"line":(\d+)', log) == [str(bad_at)], "other lines reported as bad"
    assert re.findall(r"line (\d+) is longer than", log) == [str(huge_at)]
    gw.assert_running()


def test_slow_trickle_is_delivered_promptly(env):
    # One event at a time with pauses, and pairs in back-to-back writes (the
    # second arrives while the first is with the pipeline): each is delivered
    # within the webhook's linger, not held for a chunk to fill.
    gw, rcv = env
    s = gw.tcp_connect()
    try:
        for k in range(6):
            evs = [ev("trickle")] if k % 2 == 0 else [ev("trickle"), ev("trickle")]
            want = len(ids_with_prefix(rcv, "trickle-")) + len(evs)
            t0 = time.monotonic()
            for e in evs:
                s.sendall(line(e))
            wait_prefix(rcv, "trickle-", want, timeout=5)
            took = time.monotonic() - t0
            assert took < 2.0, "event %d took %.2f s to arrive" % (k, took)
            time.sleep(0.3)
    finally:
        s.close()


def test_ready_line_logged(env):
    gw, _ = env
    assert "siemrelay ready" in gw.stderr()
