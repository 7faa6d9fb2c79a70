"""Dead-letter replay from the admin API (POST /api/integrations/{name}/replay):
after the receiver is fixed, every dead-lettered record is delivered exactly
once, in order; the lines leave the dead-letter file only once queued, so a
second replay sends nothing; filters pick lines; only an admin may replay,
and every replay is in the audit trail.
"""

import json
import os

from admin_util import ADMIN_TOKEN, VIEWER_TOKEN, Admin, tokens_conf
from delivery_util import events, launch, order_check, post_ok, receivers
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


def replay(admin, name, query=""):
    return admin.call("POST", "/api/integrations/%s/replay%s" % (name, query))


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
    admin = Admin(gw)

    # A filter that matches nothing changes nothing.
    r = replay(admin, "siem", "?stage=encode")
    assert r.status_code == 200, r.text
    assert r.json() == {"replayed": 0, "kept": 6, "events": 0}
    assert dead_lines(gw, "siem") == lines

    # Only an admin may replay.
    assert replay(Admin(gw, VIEWER_TOKEN), "siem").status_code == 403
    assert replay(Admin(gw, None), "siem").status_code == 401
    assert replay(admin, "nobody").status_code == 404

    rcv.ok()
    assert len(dead_lines(gw, "siem")) == 6, dead_lines(gw, "siem")
    r = replay(admin, "siem", "?stage=rejected&reason=HTTP%20400")
    assert r.status_code == 200, r.text
    assert r.json() == {"replayed": 6, "kept": 0, "events": 0}
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
    gw = launch.start(launch.workdir("replay-time"),
                      [webhook("siem", rcv.url("/siem"), channels=["ACTIVITY_AUDIT"], batch={"max_events": 1, "linger": "10ms"})],
                      conf={"admin": tokens_conf()})
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
