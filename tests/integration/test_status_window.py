"""Statuses as Sysdig defines them, on a short window
(`delivery.status_window`) and a short inhibition, against the real gateway:

  - an outage goes Connected -> Warning -> Error -> Warning, and only a full
    window with no failed attempt turns it Connected; the Warning after the
    Error survives a restart, and so does its window;
  - a receiver that refuses everything (HTTP 400) shows the platform's
    reason in last_error, the history and the log; the status is Warning,
    then Error once every record of 3 batches in a row was rejected,
    Warning again when delivery resumes, and Connected a full window after
    the last rejection;
  - a module that cannot encode an integration's events moves its status
    the same way.
"""

import time

from delivery_util import (admin_integration, events, launch, post_ok, receivers, state_file,
                           status_of, wait_counters, wait_status)
from harness import webhook

__all__ = ["launch", "receivers"]  # fixtures

WINDOW_S = 6
SHORT = {"backoff": "100ms", "backoff_max": "300ms", "inhibit": "1s",
         "status_window": "%ds" % WINDOW_S, "shutdown_timeout": "3s"}


def hook(name, rcv, max_events=5):
    return webhook(name, rcv.url("/" + name), batch={"max_events": max_events, "linger": "20ms"})


def sequence(history):
    seq = []
    for h in history:
        if not seq or h["to"] != seq[-1]:
            seq.append(h["to"])
    return seq


def test_outage_recovers_to_warning_then_connected_after_a_full_window(launch, receivers):
    rcv = receivers()
    workdir = launch.workdir("window")
    integ = [hook("out", rcv)]
    gw = launch.start(workdir, integ, conf={"delivery": dict(SHORT)})
    post_ok(gw, events("a", 2))
    rcv.wait_events(2)
    wait_status(gw, "out", "Connected")

    # Three refused attempts: Warning, then Error and the inhibition; the
    # first attempt after it delivers.
    rcv.fail(503, count=3)
    post_ok(gw, events("b", 2))
    rcv.wait_events(4, timeout=20)
    wait_status(gw, "out", "Warning")
    st = state_file(gw, "out")
    assert sequence(st["history"]) == ["Connected", "Warning", "Error", "Warning"], st["history"]
    back = st["history"][-1]
    assert back["from"] == "Error", back
    assert "after the Error" in back["reason"] and "%ds" % WINDOW_S in back["reason"], back
    last_failure = st["last_retry_ms"]
    assert 0 < last_failure <= back["time_ms"], st
    a = admin_integration(gw, "out")
    assert a["status"] == "Warning" and "503" in a["last_error"], a
    gw.stop(check=True)

    # A restart inside the window keeps the Warning and the window.
    gw2 = launch.start(workdir, integ, conf={"delivery": dict(SHORT)})
    after = state_file(gw2, "out")
    assert after["last_retry_ms"] == last_failure, after
    if time.time() * 1000 - last_failure < (WINDOW_S - 1) * 1000:
        assert status_of(gw2, "out") == "Warning"
    # Clean deliveries inside the window do not make it Connected early.
    post_ok(gw2, events("c", 1))
    rcv.wait_events(5)
    wait_status(gw2, "out", "Connected", timeout=WINDOW_S + 10)
    st = state_file(gw2, "out")
    assert sequence(st["history"]) == ["Connected", "Warning", "Error", "Warning", "Connected"], \
        st["history"]
    settled = st["history"][-1]
    assert settled["from"] == "Warning", settled
    assert settled["reason"] == "no failed attempt or rejection in the last %ds" % WINDOW_S, settled
    # Connected exactly a full window after the last failed attempt (the
    # status is checked once a second).
    assert settled["time_ms"] - last_failure >= WINDOW_S * 1000, (settled, last_failure)
    assert settled["time_ms"] - last_failure < (WINDOW_S + 5) * 1000, (settled, last_failure)
    assert "status Warning -> Connected: no failed attempt or rejection" in gw2.stderr()


def test_a_receiver_refusing_everything_shows_in_status_history_and_log(launch, receivers):
    rcv = receivers()
    reason = b'{"error":"mapper_parsing_exception: field [pad] cannot be changed","code":4007}'
    rcv.fail(400, body=reason)
    gw = launch.start(launch.workdir("reject-all"), [hook("rej", rcv, max_events=2)],
                      conf={"delivery": dict(SHORT)})
    for k in range(3):
        post_ok(gw, events("r%d" % k, 2))
        wait_counters(gw, "rej", rejected=2 * (k + 1), dead_lettered=2 * (k + 1))
        a = admin_integration(gw, "rej")
        assert "400" in a["last_error"], a
        if k < 2:
            assert a["status"] == "Warning", a
    a = admin_integration(gw, "rej")
    assert a["status"] == "Error", a
    assert a["counters"]["failed_attempts"] == 0 and a["inhibited"] is False, a
    hist = a["history"]
    assert [h["to"] for h in hist] == ["Warning", "Error"], hist
    assert hist[0]["from"] == "Not Connected" and "2 of 2 record(s) rejected: HTTP 400" in hist[0]["reason"], hist
    assert "every record of the last 3 batches rejected" in hist[1]["reason"], hist
    assert "400" in hist[1]["reason"], hist
    err = gw.stderr()
    assert "record(s) rejected and dead-lettered" in err, err
    assert "status Warning -> Error: every record of the last 3 batches rejected" in err, err

    # The platform is fixed: delivering again leaves Error for Warning.
    last_rejection_ms = state_file(gw, "rej")["history"][-1]["time_ms"]  # the Error
    rcv.ok()
    post_ok(gw, events("fixed", 2))
    rcv.wait(lambda r: "fixed-000001" in r.accepted_ids(), timeout=15)
    wait_status(gw, "rej", "Warning")
    hist = admin_integration(gw, "rej")["history"]
    assert (hist[-1]["from"], hist[-1]["to"]) == ("Error", "Warning"), hist
    # And a full window with no rejection makes it Connected, not sooner.
    wait_status(gw, "rej", "Connected", timeout=WINDOW_S + 10)
    settled = state_file(gw, "rej")["history"][-1]
    assert (settled["from"], settled["reason"]) == (
        "Warning", "no failed attempt or rejection in the last %ds" % WINDOW_S), settled
    assert settled["time_ms"] - last_rejection_ms >= WINDOW_S * 1000, (settled, last_rejection_ms)


BROKEN_LUA = r'''
-- broken.lua - a test integration type writing a file, whose mapping fails
-- for events with an "unmappable" field.
local M = { type = "BROKEN", transport = "file", framing = "ndjson",
            channels = { "ACTIVITY_AUDIT" } }
M.options = { path = { required = true, type = "string" } }
M.batch = { max_events = 10, max_bytes = 1048576, linger_ms = 20 }

function M.setup(conf)
    return { path = conf.path }
end

function M.encode(ev, conf)
    if ev:get("unmappable") then
        error("no mapping for field unmappable")
    end
    return ev:json()
end

return M
'''


def test_an_encode_failure_is_an_application_error(launch, tmp_path):
    types = tmp_path / "types"
    types.mkdir()
    (types / "broken.lua").write_text(BROKEN_LUA)
    out = tmp_path / "out.jsonl"
    integ = {"name": "enc", "type": "BROKEN", "channels": ["ACTIVITY_AUDIT"],
             "configuration": {"path": str(out)}}
    gw = launch.start(launch.workdir("encode"), [integ],
                      conf={"integration_paths": [str(types)], "delivery": dict(SHORT)})
    post_ok(gw, events("ok", 1))
    wait_status(gw, "enc", "Connected")
    assert "ok-000000" in out.read_text()
    bad = events("bad", 1)
    bad[0]["unmappable"] = True
    post_ok(gw, bad)
    wait_status(gw, "enc", "Warning")
    a = admin_integration(gw, "enc")
    assert "encode" in a["last_error"] and "no mapping for field unmappable" in a["last_error"], a
    last = a["history"][-1]
    assert (last["from"], last["to"]) == ("Connected", "Warning"), a["history"]
    assert "1 of 1 record(s) rejected: encode:" in last["reason"], last
    dl = gw.wait_deadletter(lambda d: d.get("integration") == "enc", timeout=10)
    assert dl["stage"] == "encode", dl
