"""Delivery engine: queue bounds, back-pressure, drop_oldest, isolation.

  - a full queue (overflow: block, memory and disk): HTTP ingest gets 503
    with Retry-After; a TCP sender's writes block (the gateway stops
    reading); when the receiver comes back everything acknowledged (HTTP
    200) and everything written on TCP is delivered;
  - overflow: drop_oldest: ingest keeps getting 200, the oldest queued
    events are dropped, counted and logged, the newest delivered;
  - isolation: one integration's receiver is down (then slow) while the
    other's is healthy; the healthy one keeps its delivery rate and latency
    (compared with a baseline run in the same gateway).
"""

import re
import select
import socket
import time

import pytest

from delivery_util import (events, wait_counters, launch, ndjson_bytes, order_check, post_ok,
                           receivers)
from harness import summary_of, webhook

__all__ = ["launch", "receivers"]  # fixtures


def hook(name, rcv, queue=None, max_events=50, linger="20ms"):
    h = webhook(name, rcv.url("/" + name), batch={"max_events": max_events, "linger": linger})
    if queue:
        h["queue"] = queue
    return h


def fill_until_503(gw, prefix, per_request=4, max_requests=200):
    """Posts until the gateway answers 503; returns (acked ids, the 503)."""
    acked = []
    for i in range(max_requests):
        evs = events(prefix, per_request, start=i * per_request)
        r = gw.post(ndjson_bytes(evs), content_type="application/x-ndjson")
        if r.status_code == 503:
            return acked, r
        assert r.status_code == 200, (r.status_code, r.text)
        assert summary_of(r)["accepted"] == per_request
        acked.extend(e["id"] for e in evs)
    raise AssertionError("no 503 after %d requests (%d events): the queue bound is not enforced"
                         % (max_requests, len(acked)))


def fill_socket(sock, data, limit_s=20):
    """Writes `data` into the non-blocking `sock` until a write would block.
    Returns the number of bytes written, or None if everything went."""
    sent = 0
    deadline = time.monotonic() + limit_s
    while sent < len(data):
        try:
            sent += sock.send(data[sent:sent + 65536])
        except BlockingIOError:
            # Blocked now; make sure it stays so for a moment (not a slow
            # reader that catches up at once).
            _, w, _ = select.select([], [sock], [], 0.5)
            if not w:
                return sent
            continue
        if time.monotonic() > deadline:
            break
    return None


@pytest.mark.parametrize("qtype", ["memory", "disk"])
def test_full_queue_refuses_http_pauses_tcp_and_loses_nothing(launch, receivers, qtype):
    rcv = receivers()
    rcv.down()
    queue = {"type": qtype, "max_bytes": "24KiB", "overflow": "block"}
    gw = launch.start(launch.workdir("full"), [hook("full", rcv, queue=queue)], tcp=True)

    # HTTP: accepted until the bound, then 503 with Retry-After.
    acked, refused = fill_until_503(gw, "h")
    assert 10 <= len(acked) <= 80, "%d events of ~1.1 KB fit a 24 KiB queue" % len(acked)
    ra = refused.headers.get("Retry-After")
    assert ra is not None and ra.isdigit() and int(ra) >= 1, "503 without a usable Retry-After: %r" % ra
    assert "queue" in refused.text.lower(), refused.text
    # Still full: still refused (nothing is delivered, nothing dropped).
    again = gw.post(ndjson_bytes(events("x", 1)), content_type="application/x-ndjson")
    assert again.status_code == 503, again.status_code

    # TCP: the gateway stops reading, so the sender's writes block.
    tcp_evs = events("tcp", 3000)
    data = ndjson_bytes(tcp_evs)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
    s.connect(("127.0.0.1", gw.tcp_port))
    s.setblocking(False)
    try:
        sent = fill_socket(s, data)
        assert sent is not None, "all %d bytes were taken while the queue was full: TCP did not pause" % len(data)
        blocked_at = sent
        gw.wait_stderr(r"a queue is full; pausing reads", timeout=10)
        gw.assert_running()

        # The receiver comes back: the queue drains, reading resumes, the
        # rest of the TCP stream goes through.
        rcv.up()
        deadline = time.monotonic() + 60
        while sent < len(data):
            assert time.monotonic() < deadline, "TCP stayed paused after the receiver came back"
            _, w, _ = select.select([], [s], [], 0.5)
            if w:
                try:
                    sent += s.send(data[sent:sent + 65536])
                except BlockingIOError:
                    pass
        s.setblocking(True)
        s.shutdown(socket.SHUT_WR)
        want_tcp = [e["id"] for e in tcp_evs]
        rcv.wait(lambda r: set(acked) | set(want_tcp) <= set(r.accepted_ids()), timeout=60,
                 message="acknowledged or TCP events lost after the queue drained")
    finally:
        s.close()
    got = rcv.accepted_ids()
    missing, dups, in_order = order_check(got, acked)
    assert not missing and in_order, missing
    missing, _, in_order = order_check(got, want_tcp)
    assert not missing and in_order, missing
    # TCP lines were held, never refused.
    assert not re.search(r"lines \d+-\d+ refused", gw.stderr()), gw.stderr()[-3000:]
    assert "reading again" in gw.stderr()
    assert "dropped" not in gw.stderr()
    print("\nfull %s queue: %d events acknowledged over HTTP before the 503, %d bytes written on TCP "
          "before it blocked, %d deliveries, %d duplicated" % (qtype, len(acked), blocked_at, len(got), len(dups)))
    # The way out for HTTP too: once the queue has room, a POST is answered
    # 200 again and delivered.
    late = events("late", 1)
    r = gw.post(ndjson_bytes(late), content_type="application/x-ndjson")
    assert r.status_code == 200, (r.status_code, r.text)
    rcv.wait(lambda r: late[0]["id"] in r.accepted_ids(), timeout=30,
             message="the event posted after the queue drained was not delivered")


def drop_lines(text):
    return [(int(m.group(1)), int(m.group(2))) for m in re.finditer(
        r"dropped the (\d+) oldest event\(s\) \(overflow: drop_oldest; (\d+) dropped in all\)", text)]


def overflow_while_down(launch, receivers, name):
    """A 16 KiB drop_oldest memory queue, its receiver down, 80 events of
    ~1.1 KB posted (all must get 200); then the receiver comes back and a
    probe behind them arrives. Returns (gw, posted ids, delivered ids)."""
    rcv = receivers()
    rcv.down()
    queue = {"type": "memory", "max_bytes": "16KiB", "overflow": "drop_oldest"}
    gw = launch.start(launch.workdir(name), [hook(name, rcv, queue=queue, max_events=5)])
    posted = []
    for i in range(40):
        evs = events("d", 2, start=2 * i)
        post_ok(gw, evs)  # 200 every time: the queue makes room instead
        posted.extend(e["id"] for e in evs)
    gw.wait_stderr(r"dropped the \d+ oldest event\(s\)", timeout=10)
    assert "queue is full; pausing" not in gw.stderr()
    rcv.up()
    post_ok(gw, events("probe", 1))
    rcv.wait(lambda r: "probe-000000" in r.accepted_ids(), timeout=30, message="the probe never arrived")
    return gw, posted, [i for i in rcv.accepted_ids() if i != "probe-000000"]


def test_drop_oldest_keeps_accepting_and_counts_what_it_drops(launch, receivers):
    gw, posted, got = overflow_while_down(launch, receivers, "drop")
    assert len(got) == len(set(got)), "duplicates: %r" % got
    assert set(got) <= set(posted)
    # What went out is oldest first: batches that were in flight when room
    # was made (at most max_events each), then the newest events, which
    # drop_oldest never drops; everything else was dropped.
    idx = [posted.index(i) for i in got]
    assert idx == sorted(idx), got
    runs = []
    for i in idx:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    assert runs and runs[-1][-1] == len(posted) - 1, "the newest event was dropped: %r" % got
    assert all(len(r) <= 5 for r in runs[:-1]), "older events kept beyond the batch in flight: %r" % runs
    dropped = [i for i in posted if i not in set(got)]
    assert dropped, "nothing was dropped: the bound was not applied"
    # The oldest events are dropped unless a batch of them was already in
    # flight (a full batch goes out at once, before the queue fills).
    assert posted[0] in dropped or runs[0][0] == 0 and len(runs[0]) <= 5, "the oldest event survived"
    kept_bytes = sum(len(ndjson_bytes(events("d", 1))) for _ in got)
    assert kept_bytes < 16384 + 2 * 5 * 1200, "far more delivered than the bound holds: %d" % len(got)

    # Counted and logged: every log line names how many it dropped, and the
    # running total never exceeds what actually went missing.
    lines = drop_lines(gw.stderr())
    assert lines, gw.stderr()
    assert all(total <= len(dropped) for _, total in lines), (lines, len(dropped))
    wait_counters(gw, "drop", dropped=len(dropped), delivered=len(got) + 1)
    print("\ndrop_oldest: %d posted (all 200), %d delivered, %d dropped; log lines %r"
          % (len(posted), len(got), len(dropped), lines))


def test_drop_oldest_every_drop_is_eventually_logged(launch, receivers):
    gw, posted, got = overflow_while_down(launch, receivers, "droplog")
    got = set(got)
    dropped = [i for i in posted if i not in got]
    gw.stop(check=True)
    lines = drop_lines(gw.stderr())
    assert sum(n for n, _ in lines) == len(dropped), (lines, len(dropped))


# ---- isolation ---------------------------------------------------------------------

def run_load(gw, rcv, prefix, requests_n=20, per_request=5, interval=0.025, timeout=30):
    """Posts at a steady pace; returns (latencies in s per event at rcv,
    seconds from the first post to the last delivery, ids in arrival order)."""
    posted_at = {}
    want = []
    start = time.monotonic()
    for i in range(requests_n):
        evs = events(prefix, per_request, start=i * per_request)
        t = time.monotonic()
        post_ok(gw, evs)
        for e in evs:
            posted_at[e["id"]] = t
            want.append(e["id"])
        time.sleep(max(0.0, start + (i + 1) * interval - time.monotonic()))  # pacing, not correctness
    rcv.wait(lambda r: set(want) <= set(r.accepted_ids()), timeout=timeout,
             message="the healthy integration did not deliver %s" % prefix)
    arrivals = {}
    for r in rcv.requests:
        if r.status == 200:
            for i in r.ids():
                if i in posted_at and i not in arrivals:
                    arrivals[i] = r.time
    lat = [arrivals[i] - posted_at[i] for i in want]
    dur = max(arrivals.values()) - start
    got = [i for i in rcv.accepted_ids() if i in posted_at]
    return lat, dur, got, want


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def test_isolation_healthy_integration_unaffected_by_a_down_or_slow_one(launch, receivers):
    good, bad = receivers(), receivers()
    # The sick one first: an engine that walks its integrations in order and
    # stops at a busy one would show here.
    integ = [webhook("bad", bad.url("/bad"), batch={"max_events": 50, "linger": "20ms"}, timeout=20000),
             hook("good", good, max_events=50, linger="20ms")]
    gw = launch.start(launch.workdir("iso"), integ)

    base_lat, base_dur, got, want = run_load(gw, good, "base")
    bad.wait(lambda r: set(want) <= set(r.accepted_ids()), timeout=20)
    results = {"baseline": (base_lat, base_dur)}

    bad.down()
    lat, dur, got, want = run_load(gw, good, "down")
    missing, dups, in_order = order_check(got, want)
    assert not missing and not dups and in_order
    results["bad down"] = (lat, dur)

    # Slow: the bad receiver holds every request for 1.5 s (a hanging SIEM).
    # Measure once `bad` is out of its inhibition and hangs on a request.
    n_bad = len(bad.requests)
    bad.slow(1.5).up()
    post_ok(gw, events("wake", 1))
    bad.wait(lambda r: len(r.requests) > n_bad, timeout=20, message="bad never tried again")
    lat, dur, got, want = run_load(gw, good, "slow")
    missing, dups, in_order = order_check(got, want)
    assert not missing and not dups and in_order
    results["bad slow"] = (lat, dur)

    report = "; ".join("%s: p50 %.0f ms, p95 %.0f ms, %.2f s for 100 events" % (
        k, pct(v[0], 50) * 1000, pct(v[0], 95) * 1000, v[1]) for k, v in results.items())
    print("\nisolation: " + report)
    b50, b95 = pct(base_lat, 50), pct(base_lat, 95)
    for k in ("bad down", "bad slow"):
        lat, dur = results[k]
        assert pct(lat, 50) < 2 * b50 + 0.05, "%s: p50 latency %.0f ms vs baseline %.0f ms (%s)" % (
            k, pct(lat, 50) * 1000, b50 * 1000, report)
        assert pct(lat, 95) < 2 * b95 + 0.2, "%s: p95 latency (%s)" % (k, report)
        assert dur < 2 * base_dur + 0.5, "%s: delivery rate fell (%s)" % (k, report)
    # The sick one really was sick meanwhile: it failed attempts.
    assert "integration 'bad': attempt 1 failed" in gw.stderr()
    assert "integration 'good': attempt" not in gw.stderr()
    bad.ok()
