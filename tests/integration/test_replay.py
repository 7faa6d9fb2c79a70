"""Dead-letter replay from the admin API (POST /api/integrations/{name}/replay):
after the receiver is fixed, every dead-lettered record is delivered exactly
once, in order; the lines leave the dead-letter files only once queued, so a
second replay sends nothing; rotated files are read too, oldest first;
filters pick lines, times compared as times whatever their zone; after a
script fix, --reencode rebuilds the records from the stored events; records
the platform rejected are dead-lettered with their event and, after a
mapping fix, rebuilt from it exactly once (memory and disk queues, 64-bit
integers exact), while a plain replay re-queues them with their event; the
pipeline's dead letters (POST /api/replay, replay --pipeline) run through
the fixed pipeline to every integration once; only an admin may replay, and
every replay is in the audit trail.
"""

import calendar
import time
import json
import os
import signal

from admin_util import ADMIN_TOKEN, VIEWER_TOKEN, Admin, tokens_conf
from delivery_util import events, launch, order_check, post_ok, receivers
import pytest
from harness import run_cli, wait_until, webhook

__all__ = ["launch", "receivers"]  # fixtures


def dead_lines(gw, name):
    path = os.path.join(gw.data_dir, "deadletter", name + ".jsonl")
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return [json.loads(line) for line in f.read().split(b"\n") if line.strip()]


def wait_dead(gw, name, n):
    wait_until(lambda: len(dead_lines(gw, name)) >= n, 15,
               message="never %d dead letters: %r" % (n, dead_lines(gw, name)))


def start_siem(launch, rcv, workdir, max_events=5, scripts=None):
    """A gateway with one WEBHOOK "siem" on `rcv` and admin tokens."""
    return launch.start(workdir, [webhook("siem", rcv.url("/siem"), channels=["ACTIVITY_AUDIT"], scripts=scripts,
                                          batch={"max_events": max_events, "linger": "10ms"})],
                        conf={"admin": tokens_conf()})


def replay(admin, name, query=""):
    return admin.call("POST", "/api/integrations/%s/replay%s" % (name, query))


def rewrite_and_reload(gw, path, text):
    """The fix: a script rewritten, then a reload (the delivery host runs it)."""
    with open(path, "w") as f:
        f.write(text)
    gw.proc.send_signal(signal.SIGHUP)
    gw.wait_stderr("configuration reloaded", timeout=15)


def cli_replay(gw, *args):
    """`siemrelay replay ARGS` against the gateway's admin API, as an admin."""
    p = run_cli(["replay"] + list(args) + ["--admin", "127.0.0.1:%d" % gw.admin_port],
                env={"SIEMRELAY_ADMIN_TOKEN": ADMIN_TOKEN})
    assert p.returncode == 0, p.stderr
    return p.stdout


# The integrations take ACTIVITY_AUDIT only: the admin API's own audit
# events (PLATFORM_AUDIT) would otherwise be refused and dead-lettered too.

def test_replay_after_the_fix_delivers_every_record_exactly_once(launch, receivers):
    rcv = receivers()
    rcv.fail(400, body=b'{"error":"mapping: field [pad] cannot be changed"}')
    gw = launch.start(launch.workdir("replay"),
                      [webhook("siem", rcv.url("/siem"), channels=["ACTIVITY_AUDIT"], batch={"max_events": 2, "linger": "20ms"})],
                      conf={"admin": tokens_conf()})
    evs = events("dl", 6)
    post_ok(gw, evs)
    wait_dead(gw, "siem", 6)
    lines = dead_lines(gw, "siem")
    assert [ln["record"]["id"] for ln in lines] == [e["id"] for e in evs], lines
    # Each beside the event it was encoded from (queue.keep_events).
    assert [ln["event"] for ln in lines] == evs, lines
    admin = Admin(gw)

    # A filter that matches nothing changes nothing.
    r = replay(admin, "siem", "?stage=encode")
    assert r.status_code == 200, r.text
    assert r.json() == {"replayed": 0, "reencoded": 0, "kept": 6, "events": 0, "records": 0, "files": 1}
    assert dead_lines(gw, "siem") == lines

    # Only an admin may replay.
    assert replay(Admin(gw, VIEWER_TOKEN), "siem").status_code == 403
    assert replay(Admin(gw, None), "siem").status_code == 401
    assert replay(admin, "nobody").status_code == 404

    rcv.ok()
    assert len(dead_lines(gw, "siem")) == 6, dead_lines(gw, "siem")
    r = replay(admin, "siem", "?stage=rejected&reason=HTTP%20400")
    assert r.status_code == 200, r.text
    assert r.json() == {"replayed": 6, "reencoded": 0, "kept": 0, "events": 0, "records": 0, "files": 1}
    assert dead_lines(gw, "siem") == []
    rcv.wait(lambda x: len(x.accepted_ids()) >= 6, timeout=15, message="replayed records not delivered")

    # A second replay finds nothing; a probe behind shows nothing more came.
    r = replay(admin, "siem")
    assert r.status_code == 200 and r.json()["replayed"] == 0, r.text
    post_ok(gw, events("probe", 1))
    rcv.wait(lambda x: "probe-000000" in x.accepted_ids(), timeout=15)
    ids = rcv.accepted_ids()
    missing, dups, in_order = order_check(ids, [e["id"] for e in evs])
    assert not missing and not dups and in_order, ids
    # Field by field, as dead-lettered.
    got = {e["id"]: e for e in rcv.accepted_events()}
    for e in evs:
        assert got[e["id"]] == e

    # Audited, with who and what.
    audit = [k for k in admin.audit(1000) if k["content"]["requestUri"] == "/api/integrations/siem/replay"]
    ok = [k for k in audit if k["content"]["responseStatusCode"] == 200]
    assert ok and all(k["content"]["username"] == "alice" for k in ok), audit
    assert any(k["content"]["responseStatusCode"] == 403 and k["content"]["username"] == "victor"
               for k in audit), audit
    assert "integration 'siem': 6 dead-lettered record(s) replayed" in gw.stderr()


def test_replay_by_time_range_keeps_the_rest(launch, receivers):
    rcv = receivers()
    rcv.fail(400)
    gw = start_siem(launch, rcv, launch.workdir("replay-time"), max_events=1)
    post_ok(gw, events("old", 2))
    wait_dead(gw, "siem", 2)
    cut = dead_lines(gw, "siem")[-1]["time"]
    post_ok(gw, events("new", 2))
    wait_dead(gw, "siem", 4)
    lines = dead_lines(gw, "siem")
    newer = [ln for ln in lines if ln["time"] > cut]
    assert newer, lines
    rcv.ok()
    # Everything strictly after the cut: "since" is inclusive, so the cut's
    # own line is left out by taking the next millisecond's text.
    since = newer[0]["time"]
    # From the command line this time.
    p = run_cli(["replay", "-i", "siem", "--since", since, "--admin", "127.0.0.1:%d" % gw.admin_port],
                env={"SIEMRELAY_ADMIN_TOKEN": ADMIN_TOKEN})
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("replayed %d record(s) of integration 'siem'; %d line(s) kept"
                               % (len(newer), len(lines) - len(newer))), p.stdout
    # Without the admin token the gateway refuses, and the command says so.
    p = run_cli(["replay", "-i", "siem", "--admin", "127.0.0.1:%d" % gw.admin_port])
    assert p.returncode == 1 and "HTTP 401" in p.stderr, p.stderr
    left = dead_lines(gw, "siem")
    assert [ln["record"]["id"] for ln in left] == [ln["record"]["id"] for ln in lines if ln["time"] < since]
    rcv.wait(lambda x: len(x.accepted_ids()) >= len(newer), timeout=15)
    assert sorted(rcv.accepted_ids()) == sorted(ln["record"]["id"] for ln in newer)


# ---- re-encoding after a fix ----------------------------------------------

BROKEN = """local M = {}
function M.process(ev, ctx)
    local mapping = nil
    ev:set("mapped", mapping.version) -- the bug: indexes nil
    return true
end
return M
"""

FIXED = """local M = {}
function M.process(ev, ctx)
    ev:set("mapped", "v2")
    return true
end
return M
"""


def test_reencode_after_a_script_fix_delivers_the_corrected_record_once(launch, receivers):
    rcv = receivers()
    wd = launch.workdir("replay-reencode")
    script = os.path.join(wd, "mapping.lua")
    with open(script, "w") as f:
        f.write(BROKEN)
    gw = start_siem(launch, rcv, wd, max_events=10, scripts=[script])
    evs = events("fix", 3)
    r = gw.post_ndjson(evs)
    assert r.status_code == 200, r.text
    wait_dead(gw, "siem", 3)
    lines = dead_lines(gw, "siem")
    assert [ln["stage"] for ln in lines] == ["script"] * 3, lines
    assert [ln["event"] for ln in lines] == evs  # the events as received
    admin = Admin(gw)

    # Without re-encoding there is nothing to resend: no record was made.
    r = replay(admin, "siem")
    assert r.json() == {"replayed": 0, "reencoded": 0, "kept": 0, "events": 3, "records": 0, "files": 1}, r.text

    # Re-encoding through the script still broken fails again: kept, and why.
    r = replay(admin, "siem", "?reencode=true")
    body = r.json()
    assert r.status_code == 200 and body["replayed"] == 0 and body["events"] == 3, r.text
    assert body["error"].startswith("script: ") and "mapping" in body["error"], body
    assert dead_lines(gw, "siem") == lines

    # The fix, then a reload: the delivery host runs the new script.
    rewrite_and_reload(gw, script, FIXED)

    out = cli_replay(gw, "-i", "siem", "--reencode")
    assert out == ("replayed 3 record(s) of integration 'siem'; 0 line(s) kept (0 event(s) with no "
                        "record, 0 stored record(s) with no event to re-encode); 1 dead-letter file(s) read\n"
                        "re-encoded 3 record(s) from their original event\n"), out
    assert dead_lines(gw, "siem") == []
    rcv.wait(lambda x: len(x.accepted_ids()) >= 3, timeout=15, message="re-encoded records not delivered")
    # A second run finds nothing; a probe behind shows nothing more came.
    r = replay(admin, "siem", "?reencode=1")
    assert r.json()["replayed"] == 0 and r.json()["events"] == 0, r.text
    post_ok(gw, events("probe", 1))
    rcv.wait(lambda x: "probe-000000" in x.accepted_ids(), timeout=15)
    got = [e for e in rcv.accepted_events() if e["id"].startswith("fix-")]
    assert [e["id"] for e in got] == [e["id"] for e in evs], got
    for want, e in zip(evs, got):
        corrected = dict(want)
        corrected["mapped"] = "v2"
        assert e == corrected  # field by field, the fix applied
    assert "replay refused" not in gw.stderr()


def test_reencode_keeps_records_that_have_no_event(launch, receivers):
    # queue.keep_events: false, as before events were kept: a rejected
    # record is dead-lettered alone, with nothing to rebuild it from.
    rcv = receivers()
    rcv.fail(400)
    gw = launch.start(launch.workdir("replay-noevent"),
                      [webhook("siem", rcv.url("/siem"), channels=["ACTIVITY_AUDIT"],
                               batch={"max_events": 5, "linger": "10ms"})],
                      conf={"admin": tokens_conf(), "queue": {"keep_events": False}})
    post_ok(gw, events("rej", 2))
    wait_dead(gw, "siem", 2)
    assert all("event" not in ln and ln["record"] for ln in dead_lines(gw, "siem"))
    rcv.ok()
    r = replay(Admin(gw), "siem", "?reencode=true")
    assert r.json() == {"replayed": 0, "reencoded": 0, "kept": 0, "events": 0, "records": 2, "files": 1}, r.text
    assert len(dead_lines(gw, "siem")) == 2
    assert replay(Admin(gw), "siem", "?reencode=maybe").status_code == 400


# ---- rotated files and times ----------------------------------------------

def dl_line(ev_id, time, stage="rejected"):
    ev = dict(events(ev_id, 1)[0])
    ev["id"] = ev_id
    return {"time": time, "integration": "siem", "stage": stage, "reason": "HTTP 400", "record": ev}


def write_lines(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for ln in lines:
            f.write(json.dumps(ln, separators=(",", ":")) + "\n")


def test_rotated_files_are_replayed_oldest_first_and_once(launch, receivers):
    rcv = receivers()
    wd = launch.workdir("replay-rotated")
    dl = os.path.join(wd, "data", "deadletter")
    # As the writer leaves them: siem.jsonl.2 oldest, then .1, then the current file.
    write_lines(os.path.join(dl, "siem.jsonl.2"), [dl_line("r2-a", "2026-01-01T00:00:00.000Z"),
                                                   dl_line("r2-b", "2026-01-01T00:00:01.000Z")])
    write_lines(os.path.join(dl, "siem.jsonl.1"), [dl_line("r1-a", "2026-01-01T00:00:02.000Z"),
                                                   dl_line("r1-keep", "2026-01-01T00:00:03.000Z", stage="request")])
    rcv.fail(400)
    gw = start_siem(launch, rcv, wd)
    post_ok(gw, events("cur", 2))
    wait_dead(gw, "siem", 2)
    rcv.ok()
    admin = Admin(gw)
    r = replay(admin, "siem", "?stage=rejected")
    assert r.json() == {"replayed": 5, "reencoded": 0, "kept": 1, "events": 0, "records": 0, "files": 3}, r.text
    # Emptied rotated files are gone; what did not match stays where it was.
    assert not os.path.exists(os.path.join(dl, "siem.jsonl.2"))
    with open(os.path.join(dl, "siem.jsonl.1")) as f:
        assert [json.loads(x)["record"]["id"] for x in f.read().splitlines()] == ["r1-keep"]
    assert dead_lines(gw, "siem") == []
    rcv.wait(lambda x: len(x.accepted_ids()) >= 5, timeout=15)
    # Again: nothing more. A probe behind shows nothing more came.
    r = replay(admin, "siem", "?stage=rejected")
    assert r.json()["replayed"] == 0 and r.json()["files"] == 2, r.text
    post_ok(gw, events("probe", 1))
    rcv.wait(lambda x: "probe-000000" in x.accepted_ids(), timeout=15)
    ids = [i for i in rcv.accepted_ids() if i != "probe-000000"]
    assert ids == ["r2-a", "r2-b", "r1-a", "cur-000000", "cur-000001"], ids


def epoch(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


@pytest.mark.parametrize("query,want", [
    # since is inclusive and until exclusive, whatever the offsets say.
    ("since=2026-03-01T11:00:01%2B01:00&until=2026-03-01T05:00:03-05:00", ["t1", "t2"]),
    ("since=2026-03-01T10:00:01.001Z", ["t2", "t3"]),
    ("until=2026-03-01T10:00:01Z", ["t0"]),
    # A line written with an offset is placed by its instant: t2 is 10:00:02Z.
    ("since=2026-03-01T10:00:02Z&until=2026-03-01T10:00:02.000000001Z", ["t2"]),
    ("since=%d&until=%d.5" % (epoch("2026-03-01T10:00:00Z"), epoch("2026-03-01T10:00:01Z")), ["t0", "t1"]),
    # Across midnight and the date line: 2026-03-02T00:00:03+14:00 is 2026-03-01T10:00:03Z.
    ("since=2026-03-02T00:00:03%2B14:00", ["t3"]),
])
def test_time_range_compares_instants(launch, receivers, query, want):
    rcv = receivers()
    wd = launch.workdir("replay-times")
    lines = [dl_line("t0", "2026-03-01T10:00:00.000Z"),
             dl_line("t1", "2026-03-01T10:00:01.000Z"),
             dl_line("t2", "2026-03-01T12:00:02.000+02:00"),
             dl_line("t3", "2026-03-01T10:30:00Z")]
    write_lines(os.path.join(wd, "data", "deadletter", "siem.jsonl"), lines)
    gw = start_siem(launch, rcv, wd)
    r = replay(Admin(gw), "siem", "?" + query)
    assert r.status_code == 200, r.text
    assert r.json()["replayed"] == len(want), (query, r.text)
    left = [ln["record"]["id"] for ln in dead_lines(gw, "siem")]
    assert left == [ln["record"]["id"] for ln in lines if ln["record"]["id"] not in want]
    if want:
        rcv.wait(lambda x: len(x.accepted_ids()) >= len(want), timeout=15)
    assert rcv.accepted_ids() == want


def test_a_bound_that_is_not_a_time_is_refused(launch, receivers):
    rcv = receivers()
    gw = start_siem(launch, rcv, launch.workdir("replay-badtime"))
    for q in ("?since=yesterday", "?until=2026-03-01T10:00:00", "?since=2026-13-01T00:00:00Z"):
        r = replay(Admin(gw), "siem", q)
        assert r.status_code == 400, (q, r.text)
        assert "is not a time" in r.json()["error"], r.text


# ---- platform rejections rebuilt from their event (queue.keep_events) ------

# Exact 64-bit integers, beyond a double's 53 bits: rebuilt from the stored
# event, they must arrive digit for digit.
BIG = {"big": 9223372036854775807, "neg": -9223372036854775807, "odd": 9007199254740993,
       "nested": {"u": 18446744073709551615, "list": [9007199254740995, -1]}}

MAPPING_V1 = """local M = {}
function M.process(ev, ctx)
    ev:set("mapping", "v1")
    return true
end
return M
"""

MAPPING_V2 = MAPPING_V1.replace('"v1"', '"v2"')


def big_events(prefix, n):
    out = []
    for e in events(prefix, n):
        e.update(BIG)
        e["seq"] = 9007199254740993 + len(out) * 2
        out.append(e)
    return out


@pytest.mark.parametrize("queue", ["memory", "disk"])
def test_reencode_rebuilds_rejected_records_from_their_event(launch, receivers, queue):
    rcv = receivers()
    rcv.fail(400, body=b'{"error":"mapping v1 refused"}')
    wd = launch.workdir("replay-rejected-" + queue)
    script = os.path.join(wd, "mapping.lua")
    with open(script, "w") as f:
        f.write(MAPPING_V1)
    integ = webhook("siem", rcv.url("/siem"), channels=["ACTIVITY_AUDIT"], scripts=[script],
                    batch={"max_events": 3, "linger": "10ms"})
    # Disk queues keep events only when asked (it doubles the spool's bytes).
    integ["queue"] = {"type": queue, "keep_events": True} if queue == "disk" else {"type": queue}
    gw = launch.start(wd, [integ], conf={"admin": tokens_conf()})
    evs = big_events("rej", 7)
    post_ok(gw, evs)
    wait_dead(gw, "siem", 7)
    lines = dead_lines(gw, "siem")
    assert [ln["stage"] for ln in lines] == ["rejected"] * 7, lines
    assert [ln["record"]["mapping"] for ln in lines] == ["v1"] * 7
    # The event as received, beside the record it gave (exact integers).
    assert [ln["event"] for ln in lines] == evs
    admin = Admin(gw)

    # Resent as is while the platform still refuses: dead-lettered again,
    # and still with its event (the replay queued it with the record).
    r = replay(admin, "siem", "?stage=rejected")
    assert r.json() == {"replayed": 7, "reencoded": 0, "kept": 0, "events": 0, "records": 0, "files": 1}, r.text
    wait_until(lambda: len(dead_lines(gw, "siem")) == 7 and
               all(ln["event"] for ln in dead_lines(gw, "siem")), 15,
               message="not dead-lettered again with their event: %r" % dead_lines(gw, "siem"))
    assert [ln["event"] for ln in dead_lines(gw, "siem")] == evs

    # The fix (the mapping, a reload), and the platform takes v2.
    rewrite_and_reload(gw, script, MAPPING_V2)
    rcv.ok()
    before = len(rcv.accepted_ids())
    out = cli_replay(gw, "-i", "siem", "--reencode")
    assert out == ("replayed 7 record(s) of integration 'siem'; 0 line(s) kept (0 event(s) with no "
                        "record, 0 stored record(s) with no event to re-encode); 1 dead-letter file(s) read\n"
                        "re-encoded 7 record(s) from their original event\n"), out
    assert dead_lines(gw, "siem") == []
    rcv.wait(lambda x: len(x.accepted_ids()) >= before + 7, timeout=15, message="rebuilt records not delivered")
    # A second replay sends nothing; a probe behind shows nothing more came.
    r = replay(admin, "siem", "?reencode=true")
    assert r.json() == {"replayed": 0, "reencoded": 0, "kept": 0, "events": 0, "records": 0, "files": 1}, r.text
    post_ok(gw, events("probe", 1))
    rcv.wait(lambda x: "probe-000000" in x.accepted_ids(), timeout=15)
    got = [e for e in rcv.accepted_events() if e["id"].startswith("rej-")]
    assert [e["id"] for e in got] == [e["id"] for e in evs], got  # each once, in order
    for want, e in zip(evs, got):
        rebuilt = dict(want)
        rebuilt["mapping"] = "v2"
        assert e == rebuilt  # field by field, 64-bit integers exact
    assert "replay refused" not in gw.stderr()


# ---- the pipeline's dead letters (_pipeline.jsonl) --------------------------

# Only the test's events (with "big"): the admin API's own audit events go
# through the global scripts too.
GLOBAL_BROKEN = """local M = {}
function M.process(ev, ctx)
    if not ev:get("big") then return true end
    local tenant = nil
    ev:set("tenant", tenant.name) -- the bug: indexes nil
    return true
end
return M
"""

GLOBAL_FIXED = """local M = {}
function M.process(ev, ctx)
    if not ev:get("big") then return true end
    ev:set("tenant", "acme")
    return true
end
return M
"""

# The second integration's own script refuses one event: after the global
# fix, that failure belongs in its own dead letters, as at ingest.
OTHER_SCRIPT = """local M = {}
function M.process(ev, ctx)
    if ev:get("poison") then error("poisoned event") end
    return true
end
return M
"""


def pipeline_lines(gw):
    return dead_lines(gw, "_pipeline")


def replay_pipeline(admin, query=""):
    return admin.call("POST", "/api/replay%s" % query)


def test_pipeline_dead_letters_replayed_through_the_fixed_pipeline_once(launch, receivers):
    siem, other = receivers(), receivers()
    wd = launch.workdir("replay-pipeline")
    gscript, oscript = os.path.join(wd, "tenant.lua"), os.path.join(wd, "other.lua")
    with open(gscript, "w") as f:
        f.write(GLOBAL_BROKEN)
    with open(oscript, "w") as f:
        f.write(OTHER_SCRIPT)
    gw = launch.start(wd, [webhook("siem", siem.url("/siem"), channels=["ACTIVITY_AUDIT"],
                                   batch={"max_events": 4, "linger": "10ms"}),
                           webhook("other", other.url("/other"), channels=["ACTIVITY_AUDIT"],
                                   scripts=[oscript], batch={"max_events": 4, "linger": "10ms"})],
                      conf={"admin": tokens_conf(), "scripts": [gscript]})
    evs = big_events("pl", 5)
    evs[3]["poison"] = True
    r = gw.post_ndjson(evs)
    assert r.status_code == 200, r.text
    wait_until(lambda: len(pipeline_lines(gw)) >= 5, 15, message="never 5 pipeline dead letters")
    lines = pipeline_lines(gw)
    assert [ln["stage"] for ln in lines] == ["script"] * 5 and [ln["event"] for ln in lines] == evs, lines
    admin = Admin(gw)

    # Only an admin; reencode does not apply; a bad time is refused.
    assert replay_pipeline(Admin(gw, VIEWER_TOKEN)).status_code == 403
    assert replay_pipeline(Admin(gw, None)).status_code == 401
    assert replay_pipeline(admin, "?reencode=true").status_code == 400
    assert replay_pipeline(admin, "?since=yesterday").status_code == 400

    # Still broken: every event fails again and stays, with the reason.
    r = replay_pipeline(admin)
    body = r.json()
    assert r.status_code == 200 and body["replayed"] == 0 and body["failed"] == 5, r.text
    assert body["error"].startswith("script: ") and "tenant" in body["error"], body
    assert pipeline_lines(gw) == lines

    rewrite_and_reload(gw, gscript, GLOBAL_FIXED)
    out = cli_replay(gw, "--pipeline", "--stage", "script")
    assert out == ("replayed 5 event(s) of the pipeline's dead letters: 9 record(s) queued, 1 failure(s) "
                        "of integrations' own scripts or encoders dead-lettered there; 0 line(s) kept (0 failing "
                        "again or giving no record); 1 dead-letter file(s) read\n"), out
    assert pipeline_lines(gw) == []
    siem.wait(lambda x: len(x.accepted_ids()) >= 5, timeout=15, message="siem: replayed events not delivered")
    other.wait(lambda x: len(x.accepted_ids()) >= 4, timeout=15, message="other: replayed events not delivered")
    # The poisoned event failed in other's own script: now in its dead letters.
    moved = dead_lines(gw, "other")
    assert [(ln["stage"], ln["event"]["id"]) for ln in moved] == [("script", evs[3]["id"])], moved
    assert "poisoned event" in moved[0]["reason"] and moved[0]["event"] == evs[3]

    # Again: nothing. Probes behind show nothing more came, to either.
    r = replay_pipeline(admin)
    assert r.json() == {"replayed": 0, "queued": 0, "dead_lettered": 0, "failed": 0, "kept": 0, "files": 1}, r.text
    post_ok(gw, events("probe", 1))
    for rcv in (siem, other):
        rcv.wait(lambda x: "probe-000000" in x.accepted_ids(), timeout=15)
    for rcv, want in ((siem, evs), (other, evs[:3] + evs[4:])):
        got = [e for e in rcv.accepted_events() if e["id"].startswith("pl-")]
        assert [e["id"] for e in got] == [e["id"] for e in want], got  # each once, in order
        for w, e in zip(want, got):
            fixed = dict(w)
            fixed["tenant"] = "acme"
            assert e == fixed  # field by field, 64-bit integers exact

    audit = [k for k in admin.audit(1000) if k["content"]["requestUri"] == "/api/replay"]
    ok = [k for k in audit if k["content"]["responseStatusCode"] == 200]
    assert len(ok) >= 2 and all(k["content"]["username"] == "alice" for k in ok), audit
    assert any(k["content"]["responseStatusCode"] == 403 for k in audit), audit
    assert "pipeline: 5 dead-lettered event(s) replayed through the pipeline" in gw.stderr()


# A test type writing a file whose mapping fails for events with an
# "unmappable" field (as test_status_window's).
BROKEN_TYPE = r'''
local M = { type = "BROKEN", transport = "file", framing = "ndjson", channels = { "ACTIVITY_AUDIT" } }
M.options = { path = { required = true, type = "string" } }
M.batch = { max_events = 10, max_bytes = 1048576, linger_ms = 20 }
function M.setup(conf) return { path = conf.path } end
function M.encode(ev, conf)
    if ev:get("unmappable") then error("no mapping for field unmappable") end
    return ev:json()
end
return M
'''


def test_pipeline_replay_encode_failure_moves_the_status(launch, receivers):
    # An event the global fix lets through but the integration's module
    # cannot encode is an application error of that integration, on replay
    # as at ingest: dead-lettered there (stage encode) and its status moves
    # to Warning with the reason.
    wd = launch.workdir("replay-pipeline-encode")
    types = os.path.join(wd, "types")
    os.makedirs(types)
    with open(os.path.join(types, "broken.lua"), "w") as f:
        f.write(BROKEN_TYPE)
    gscript, out = os.path.join(wd, "tenant.lua"), os.path.join(wd, "out.jsonl")
    with open(gscript, "w") as f:
        f.write(GLOBAL_BROKEN)
    gw = launch.start(wd, [{"name": "enc", "type": "BROKEN", "channels": ["ACTIVITY_AUDIT"],
                            "configuration": {"path": out}}],
                      conf={"admin": tokens_conf(), "scripts": [gscript], "integration_paths": [types],
                            "delivery": {"backoff": "100ms", "backoff_max": "200ms"}})
    admin = Admin(gw)

    def status_is(want):
        wait_until(lambda: admin.one("enc")["status"] == want, 20,
                   message="enc never %s: %r" % (want, admin.one("enc")))
        return admin.one("enc")

    post_ok(gw, events("fine", 1))
    status_is("Connected")
    evs = big_events("pe", 3)
    evs[1]["unmappable"] = True
    assert gw.post_ndjson(evs).status_code == 200
    wait_until(lambda: len(pipeline_lines(gw)) >= 3, 15, message="never 3 pipeline dead letters")
    assert admin.one("enc")["status"] == "Connected"
    rewrite_and_reload(gw, gscript, GLOBAL_FIXED)
    r = replay_pipeline(admin)
    assert r.status_code == 200 and r.json()["replayed"] == 3 and r.json()["dead_lettered"] == 1, r.text
    a = status_is("Warning")
    assert "encode" in a["last_error"] and "no mapping for field unmappable" in a["last_error"], a
    assert "1 of 3 record(s) rejected: encode:" in a["history"][-1]["reason"], a["history"]
    moved = dead_lines(gw, "enc")
    assert [(ln["stage"], ln["event"]["id"]) for ln in moved] == [("encode", evs[1]["id"])], moved
    wait_until(lambda: sum(1 for ln in open(out) if '"pe-' in ln) == 2, 10, message="the other two not written")
