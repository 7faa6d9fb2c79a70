"""Delivery engine: retry, inhibition, statuses, per-item results and dead
letters, against a receiver the test controls (receivers/controlled.py).

All gateways run with `delivery: {backoff: 100ms, backoff_max: 300ms,
inhibit: 2s}` so an outage longer than the inhibition takes seconds.

  - an outage longer than the inhibition: exactly three attempts per batch
    before each inhibition, spaced by the backoff, nothing sent while
    inhibited, every event delivered afterwards, once, in order; statuses
    Connected -> Warning -> Error recorded with reasons;
  - the same outage's status sequence, ending in Warning (24-hour window);
  - a partial batch failure: only the failed items are sent again; an item
    the platform refuses for good is dead-lettered, not resent;
  - a permanent rejection (HTTP 400) is dead-lettered with the event, the
    reason, a response excerpt and the time, and not retried;
  - the status and its history survive a restart.
"""

import datetime
import json
import os
import time

import pytest

from delivery_util import (Launcher, admin_integration, events, history_of, launch, order_check,
                           post_ok, receivers, state_file, status_of, wait_counters, wait_status)
from harness import webhook
from receivers.controlled import ControlledReceiver

__all__ = ["launch", "receivers"]  # fixtures

BACKOFF = 0.100  # FAST_DELIVERY's first backoff
INHIBIT = 2.0    # FAST_DELIVERY's inhibition
JITTER_LOW = 0.8  # backoff jitter is +-20%


def hook(name, rcv, max_events=5, linger="20ms", **kw):
    return webhook(name, rcv.url("/" + name), batch={"max_events": max_events, "linger": linger}, **kw)


# ---- an outage longer than the inhibition -------------------------------------

@pytest.fixture(scope="module")
def outage(tmp_path_factory):
    """Runs the outage once; the tests below check different aspects of it.

    Batch A (5 events) is delivered. Then the receiver answers 503 to
    everything; batch B (10 events = two batches of 5) is posted. The
    first batch of B fails three times, is inhibited for 2 s, fails three
    times again, is inhibited again; the receiver is healthy from the
    sixth failed request on, so after the second inhibition both batches go.
    """
    la = Launcher(tmp_path_factory)
    rcv = ControlledReceiver().start()
    res = {}
    try:
        gw = la.start(la.workdir("outage"), [hook("out", rcv)])
        a, b = events("a", 5), events("b", 10)
        post_ok(gw, a)
        rcv.wait_events(5)
        wait_status(gw, "out", "Connected")
        res["status_before"] = status_of(gw, "out")
        res["admin_before"] = admin_integration(gw, "out")

        seen = []

        def failing(req):
            # 503 for the first six requests of the outage, then healthy.
            if len(seen) < 6:
                seen.append(req)
                return 503, {}, b'{"error":"maintenance"}'
            return None

        rcv.handler = failing
        n_before = len(rcv.requests)
        t_post = time.monotonic()
        post_ok(gw, b)
        # 6 failed requests, then the two batches of B.
        rcv.wait(lambda r: len(r.accepted_events()) >= 15, timeout=30,
                 message="batch B never delivered after the outage")
        res["during"] = rcv.requests[n_before:]
        res["t_post"] = t_post
        # Statuses as the gateway reports them once B is settled.
        wait_counters(gw, "out", delivered=15)
        res["status_after"] = status_of(gw, "out")
        res["state"] = state_file(gw, "out")
        # Anything sent again later would be a duplicate: a probe batch
        # behind B shows the queue moved on (FIFO, one batch in flight).
        probe = events("probe", 1)
        post_ok(gw, probe)
        rcv.wait(lambda r: "probe-000000" in r.accepted_ids(), timeout=20)
        # 5 + 10 + the probe, all settled; B's first batch failed six times.
        res["admin_after"] = wait_counters(gw, "out", delivered=16)
        res["ids"] = rcv.accepted_ids()
        res["want"] = [e["id"] for e in a + b + probe]
        res["b_ids"] = [e["id"] for e in b]
        gw.stop(check=True)
        res["stderr"] = gw.stderr()
    finally:
        la.close()
        rcv.down()
    return res


def test_outage_three_attempts_per_inhibition_then_everything_in_order(outage):
    reqs = outage["during"]
    b_ids = outage["b_ids"]
    statuses = [r.status for r in reqs]
    assert statuses[:6] == [503] * 6, "expected six refused attempts first: %r" % reqs
    assert all(s == 200 for s in statuses[6:]), reqs

    # Each failed attempt carried the same, oldest batch: B's first five.
    for r in reqs[:6]:
        assert r.ids() == b_ids[:5], "a retry did not resend the oldest batch as it was: %r" % r.ids()

    # Exactly three attempts, then the inhibition: no request during it.
    t = [r.time for r in reqs]
    for first in (0, 3):
        gap1, gap2 = t[first + 1] - t[first], t[first + 2] - t[first + 1]
        # Backoff 100 ms then 200 ms, +-20% jitter; measured arrival to
        # arrival, which can only add to the delay.
        assert gap1 >= BACKOFF * JITTER_LOW - 0.005, "attempts %d->%d only %.3fs apart (tight retry loop?)" \
            % (first + 1, first + 2, gap1)
        assert gap2 >= 2 * BACKOFF * JITTER_LOW - 0.005, "attempts %d->%d only %.3fs apart" \
            % (first + 2, first + 3, gap2)
    inhibited_1 = t[3] - t[2]
    inhibited_2 = t[6] - t[5]
    assert inhibited_1 >= INHIBIT - 0.05, "sent again %.3fs after the third failed attempt; " \
        "the inhibition is %.1fs" % (inhibited_1, INHIBIT)
    assert inhibited_2 >= INHIBIT - 0.05, "sent again %.3fs after the sixth failed attempt" % inhibited_2
    # ...and not much longer either: delivery resumes when the inhibition ends.
    assert inhibited_1 < INHIBIT + 3 and inhibited_2 < INHIBIT + 3, (inhibited_1, inhibited_2)

    # After the outage: B in two batches, oldest first, no duplicate.
    assert [r.ids() for r in reqs[6:8]] == [b_ids[:5], b_ids[5:]], [r.ids() for r in reqs[6:]]
    missing, dups, in_order = order_check(outage["ids"], outage["want"])
    assert not missing, "events never delivered: %r" % missing
    assert not dups, "events delivered more than once: %r" % dups
    assert in_order, "events out of order: %r" % outage["ids"]
    assert outage["ids"] == outage["want"]

    # The engine says so in its log too.
    err = outage["stderr"]
    assert err.count("inhibited for 2000 ms") == 2, err
    assert "inhibition over, resuming with the oldest event" in err


def test_outage_statuses_and_history(outage):
    assert outage["status_before"] == "Connected"
    hist = [(h["from"], h["to"], h["reason"]) for h in outage["state"]["history"]]
    pairs = [(f, t) for f, t, _ in hist]
    assert pairs[0] == ("Not Connected", "Connected"), hist
    # Connected -> Warning at the first failed attempt, -> Error at the third.
    i = pairs.index(("Connected", "Warning"))
    assert pairs[i + 1] == ("Warning", "Error"), hist
    assert "503" in hist[i][2], "the Warning's reason should name the HTTP status: %r" % (hist[i],)
    assert "3 attempts" in hist[i + 1][2] and "503" in hist[i + 1][2], hist[i + 1]
    # Times are increasing and recent.
    times = [h["time_ms"] for h in outage["state"]["history"]]
    assert times == sorted(times), times
    assert abs(times[-1] / 1000.0 - time.time()) < 120, times
    # Delivery recovered: the last transition leaves Error, for a delivering
    # status, with a reason saying it delivered.
    last = hist[-1]
    assert last[0] == "Error" and last[1] in ("Connected", "Warning"), hist
    assert "deliver" in last[2], last
    assert outage["status_after"] == last[1]
    a = outage["admin_after"]
    assert a["status"] == outage["status_after"], a
    assert [(h["from"], h["to"]) for h in a["history"]] == pairs, a
    assert a["counters"]["failed_attempts"] == 6, a
    assert a["counters"]["attempts"] == 1 + 6 + 2 + 1, a
    assert a["counters"]["received"] == 16 and a["queue"]["events"] == 0, a


def test_outage_first_delivery_after_inhibition_is_warning_not_connected(outage):
    # The outage's last request (the first after the second inhibition)
    # delivered at its first attempt: Sysdig's Connected means no error in
    # the last 24 hours, so Error recovers to Warning (test_status_window.py
    # follows it on to Connected over a short window).
    last = outage["state"]["history"][-1]
    assert (last["from"], last["to"]) == ("Error", "Warning"), outage["state"]["history"]
    assert "after the Error" in last["reason"] and "24h" in last["reason"], last
    assert outage["status_after"] == "Warning"


def test_outage_status_sequence(outage):
    seq = ["Not Connected"]
    for h in outage["state"]["history"]:
        if h["to"] != seq[-1]:
            seq.append(h["to"])
    assert seq == ["Not Connected", "Connected", "Warning", "Error", "Warning"], seq


# ---- a partial batch failure ------------------------------------------------------

PARTIAL_LUA = r'''
-- partial.lua - a test integration type: NDJSON batches; the platform
-- answers 200 {"failed":[i,...],"rejected":[j,...]} with 0-based indexes of
-- the items it could not take now (retry) or refuses for good (reject).
local http = require "http"
local json = require "json"

local M = { type = "PARTIAL", transport = "http", framing = "ndjson",
            channels = { "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", "PLATFORM_AUDIT" } }
M.options = { endpoint = { required = true, type = "string" } }
M.batch = { max_events = 10, max_bytes = 1048576, linger_ms = 20 }

function M.setup(conf)
    return { timeout_ms = 10000 }
end

function M.encode(ev, conf)
    return ev:json()
end

function M.request(body, n, conf)
    return { method = "POST", url = conf.endpoint, body = body,
             headers = { ["Content-Type"] = "application/x-ndjson", ["X-Items"] = n } }
end

function M.outcome(status, body, n, conf, headers)
    if status ~= 200 then
        return http.outcome(status, body)
    end
    local doc = json.decode(body or "")
    if type(doc) ~= "table" then
        return "retry", "unreadable answer"
    end
    local items, nfailed, nrejected = {}, 0, 0
    for _, i in ipairs(doc.failed or {}) do
        items[i + 1] = "retry"
        nfailed = nfailed + 1
    end
    for _, i in ipairs(doc.rejected or {}) do
        items[i + 1] = "reject"
        nrejected = nrejected + 1
    end
    if nfailed + nrejected == 0 then
        return "ok"
    end
    for i = 1, n do
        items[i] = items[i] or "ok"
    end
    return "ok", string.format("%d item(s) failed, %d refused", nfailed, nrejected), items
end

return M
'''


def test_partial_batch_failure_resends_only_failed_items(launch, receivers, tmp_path):
    types = tmp_path / "types"
    types.mkdir()
    (types / "partial.lua").write_text(PARTIAL_LUA)
    rcv = receivers()
    # Items the platform fails once (retry), and one it refuses for good.
    flaky = {"p-000001", "p-000004", "p-000005", "p-000009"}
    refuse = "p-000007"
    failed_once = set()
    taken = []  # ids the platform stored, in the order it stored them

    def platform(req):
        ids = req.ids()
        failed, rejected = [], []
        for i, id_ in enumerate(ids):
            if id_ == refuse:
                rejected.append(i)
            elif id_ in flaky and id_ not in failed_once:
                failed_once.add(id_)
                failed.append(i)
            else:
                taken.append(id_)
        return 200, {}, json.dumps({"failed": failed, "rejected": rejected}).encode()

    rcv.handler = platform
    integ = {"name": "part", "type": "PARTIAL", "channels": ["ACTIVITY_AUDIT"],
             "batch": {"max_events": 10, "linger": "20ms"},
             "configuration": {"endpoint": rcv.url("/part")}}
    gw = launch.start(launch.workdir("partial"), [integ], conf={"integration_paths": [str(types)]})
    evs = events("p", 10)
    ids = [e["id"] for e in evs]
    post_ok(gw, evs)
    want_taken = [i for i in ids if i != refuse]
    rcv.wait(lambda r: len(taken) >= len(want_taken), timeout=20,
             message="the platform never stored every item: %r" % taken)
    # A probe behind the batch: once it is stored, nothing of the batch can
    # still be pending (FIFO, one batch in flight).
    post_ok(gw, events("probe", 1))
    rcv.wait(lambda r: "probe-000000" in taken, timeout=20)

    reqs = rcv.requests
    assert reqs[0].ids() == ids, "the first request should carry the whole batch: %r" % reqs[0].ids()
    # Only the failed items went again, once, in their order; the refused
    # one and the stored ones never again.
    assert reqs[1].ids() == [i for i in ids if i in flaky], \
        "the second request should carry exactly the failed items: %r" % reqs[1].ids()
    assert reqs[2].ids() == ["probe-000000"], [r.ids() for r in reqs]
    assert len(reqs) == 3, [r.ids() for r in reqs]
    assert sorted(taken) == sorted(want_taken + ["probe-000000"]), taken
    assert len(taken) == len(set(taken)), "an item was stored twice: %r" % taken
    # A partial failure is progress, not a failed attempt: no inhibition,
    # and the rest goes after a short pause only.
    assert reqs[1].time - reqs[0].time >= BACKOFF * JITTER_LOW - 0.005
    assert reqs[1].time - reqs[0].time < 1.5, "the failed items waited %.2fs" % (reqs[1].time - reqs[0].time)
    assert "inhibited" not in gw.stderr()
    # The refused item is dead-lettered with the module's reason.
    dl = gw.wait_deadletter(lambda d: d.get("integration") == "part", timeout=10)
    rec = dl["record"] if isinstance(dl["record"], dict) else json.loads(dl["record"])
    assert rec["id"] == refuse, dl
    assert dl["stage"] == "rejected" and "refused" in dl["reason"], dl
    assert [d for d in gw.deadletters() if d.get("integration") == "part"] == [dl]
    # 9 stored + the probe; 1 refused; 3 requests, none a failed attempt.
    a = wait_counters(gw, "part", delivered=10, dead_lettered=1, rejected=1)
    assert a["counters"]["attempts"] == 3 and a["counters"]["failed_attempts"] == 0, a


# ---- a permanent rejection ---------------------------------------------------------

def test_permanent_rejection_is_dead_lettered_not_retried(launch, receivers):
    rcv = receivers()
    answer = b'{"error":"invalid data format: field \\"pad\\" not allowed","code":4007}'
    rcv.fail(400, body=answer)
    gw = launch.start(launch.workdir("reject"), [hook("rej", rcv)])
    t0 = time.time()
    evs = events("r", 3)
    post_ok(gw, evs)
    rcv.wait_requests(1)

    def lines():
        return [d for d in gw.deadletters() if d.get("integration") == "rej"]

    rcv.wait(lambda r: len(lines()) >= 3, timeout=15, message="not dead-lettered: %r" % gw.deadletters())
    # Not retried: the platform recovers, a probe goes through, and the
    # rejected batch never came back before it (one batch in flight, FIFO).
    rcv.ok()
    post_ok(gw, events("probe", 1))
    rcv.wait(lambda r: "probe-000000" in r.accepted_ids(), timeout=15)
    reqs = rcv.requests
    assert [r.status for r in reqs] == [400, 200], reqs
    assert reqs[0].ids() == [e["id"] for e in evs]

    dl = lines()
    assert [d["_file"] for d in dl] == ["rej.jsonl"] * 3
    assert os.path.isfile(os.path.join(gw.data_dir, "deadletter", "rej.jsonl"))
    for d, ev in zip(dl, evs):
        assert d["stage"] == "rejected", d
        rec = d["record"] if isinstance(d["record"], dict) else json.loads(d["record"])
        assert rec == ev, "the dead letter does not hold the event as sent"
        assert "400" in d["reason"], d
        assert "invalid data format" in d.get("response", ""), "no response excerpt: %r" % d
        when = datetime.datetime.strptime(d["time"].rstrip("Z")[:23], "%Y-%m-%dT%H:%M:%S.%f")
        when = when.replace(tzinfo=datetime.timezone.utc).timestamp()
        assert t0 - 5 <= when <= time.time() + 5, "dead-letter time %r is not now" % d["time"]
    assert len(dl) == 3
    # A rejection is not a failed attempt: no retry, no Error, but an
    # application error the status shows.
    assert "attempt 1 failed" not in gw.stderr()
    assert status_of(gw, "rej") == "Warning"
    a = wait_counters(gw, "rej", dead_lettered=3, rejected=3, delivered=1)
    assert a["counters"]["attempts"] == 2 and a["counters"]["failed_attempts"] == 0, a


# ---- status persistence ------------------------------------------------------------

def test_status_and_history_survive_a_restart(launch, receivers):
    rcv = receivers()
    workdir = launch.workdir("persist")
    integ = [hook("keep", rcv)]
    gw = launch.start(workdir, integ)
    post_ok(gw, events("k", 3))
    rcv.wait_events(3)
    wait_status(gw, "keep", "Connected")
    rcv.fail(503, count=1)
    post_ok(gw, events("k", 3, start=3))
    rcv.wait_events(6)
    wait_status(gw, "keep", "Warning")
    before = state_file(gw, "keep")
    assert [(h["from"], h["to"]) for h in before["history"]] == \
        [("Not Connected", "Connected"), ("Connected", "Warning")], before
    assert before["last_retry_ms"] > 0
    gw.stop(check=True)

    gw2 = launch.start(workdir, integ)
    # Read back, not reset: same status, same since, same history.
    assert status_of(gw2, "keep") == "Warning"
    after = state_file(gw2, "keep")
    assert after["status"] == "Warning" and after["since_ms"] == before["since_ms"], (before, after)
    assert after["history"] == before["history"], (before, after)
    a = admin_integration(gw2, "keep")
    assert a["status"] == "Warning", a
    assert [(h["from"], h["to"]) for h in a["history"]] == \
        [("Not Connected", "Connected"), ("Connected", "Warning")], a
    # The 24-hour Warning window survived too: a clean delivery right
    # after the restart does not turn the Warning into Connected.
    post_ok(gw2, events("k", 2, start=6))
    rcv.wait_events(8)
    # A probe behind it: once it arrives, the batch before it was settled.
    post_ok(gw2, events("probe", 1))
    rcv.wait(lambda r: "probe-000000" in r.accepted_ids(), timeout=15)
    assert status_of(gw2, "keep") == "Warning"
    assert history_of(gw2, "keep")[:2] == [(h["from"], h["to"], h["reason"]) for h in before["history"]]
