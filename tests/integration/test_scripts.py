"""Site scripts: a global transform whose added fields show up at the
receiver while every other field stays exact; drops; a per-integration
script that only affects its integration; a script error (dead letter with
the reason and the original event, the gateway keeps running); an endless
loop stopped after script_timeout (dead letter with stage "timeout", later
events still delivered)."""

import time

import pytest

from harness import ndjson, samples, strict_loads, summary_of, webhook

GLOBAL_LUA = r'''
-- test global script: behaviour chosen by the event id's prefix
local M = {}

local function starts(s, p) return type(s) == "string" and s:sub(1, #p) == p end

function M.process(ev, ctx)
    local id = ev:get("id")
    if starts(id, "drop-") then
        return false
    end
    if starts(id, "boom-") then
        error("kaboom-global for " .. id)
    end
    if starts(id, "spin-") then
        while true do end
    end
    ev:set("site", "lab-eu-1")
    ev:set("relay_n", 42)
    return true
end

return M
'''

B_LUA = r'''
-- test per-integration script for integration "b" only
local M = {}

local function starts(s, p) return type(s) == "string" and s:sub(1, #p) == p end

function M.process(ev, ctx)
    local id = ev:get("id")
    if starts(id, "bdrop-") then
        return false
    end
    if starts(id, "bboom-") then
        error("kaboom-b for " .. id)
    end
    ev:set("b_only", true)
    return true
end

return M
'''

SCRIPT_TIMEOUT = 0.2
ADDED = {"site": "lab-eu-1", "relay_n": 42}


@pytest.fixture(scope="module")
def env(module_gateway_factory, module_receiver_factory, tmp_path_factory):
    d = tmp_path_factory.mktemp("scripts")
    g = d / "global.lua"
    g.write_text(GLOBAL_LUA, encoding="utf-8")
    b = d / "b.lua"
    b.write_text(B_LUA, encoding="utf-8")
    rcv = module_receiver_factory()
    gw = module_gateway_factory(
        [webhook("a", rcv.url("/a")),
         webhook("b", rcv.url("/b"), scripts=[str(b)])],
        # the module's runaways add up past the default limit, which would
        # disable the script (test_script_bounds.py tests that)
        conf={"scripts": [str(g)], "script_timeout": "200ms", "workers": 2,
              "script_runaway_limit": 0})
    return gw, rcv


_n = [0]


def ev(prefix, **extra):
    _n[0] += 1
    e = {"type": "command", "id": "%s%05d" % (prefix, _n[0]), "timestamp": 1606322948648718268 + _n[0],
         "comm": "bash", "labels": {"host.hostName": "h1"}}
    e.update(extra)
    return e


def got_by_id(rcv, path):
    return {e["id"]: e for e in rcv.events(path)}


def wait_ids(rcv, path, ids, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        got = got_by_id(rcv, path)
        if set(ids) <= set(got):
            return got
        if time.monotonic() > deadline:
            raise AssertionError("%s never received %r" % (path, sorted(set(ids) - set(got))))
        time.sleep(0.02)


def test_global_transform_adds_fields_and_keeps_the_rest(env):
    gw, rcv = env
    sent = []
    for name, raw, parsed in samples():
        # keep the sample's raw text; only the id changes
        new_id = "tx-" + parsed["id"]
        raw2 = raw.replace(parsed["id"].encode(), new_id.encode(), 1)
        r = gw.post(raw2, content_type="application/json")
        assert r.status_code == 200, r.text
        s = summary_of(r)
        assert (s["accepted"], s["dropped"], s["failed"]) == (1, 0, 0), s
        sent.append(strict_loads(raw2))
    uni = ev("tx-uni-", text="\u00e9 \u65e5\u672c \U0001F600", big=18446744073709551615, neg=-9223372036854775808,
             empty={"a": [], "b": {}}, f=2.5)
    assert gw.post_json(uni).status_code == 200
    sent.append(uni)
    ga = wait_ids(rcv, "/a", [e["id"] for e in sent])
    gb = wait_ids(rcv, "/b", [e["id"] for e in sent])
    for e in sent:
        assert ga[e["id"]] == dict(e, **ADDED), "integration a: %s" % e["id"]
        assert gb[e["id"]] == dict(e, b_only=True, **ADDED), "integration b: %s" % e["id"]
        assert type(ga[e["id"]]["relay_n"]) is int


def test_drop(env):
    gw, rcv = env
    ok1, d1, d2, ok2 = ev("keep-"), ev("drop-"), ev("drop-"), ev("keep-")
    r = gw.post_ndjson([ok1, d1, d2, ok2])
    assert r.status_code == 200, r.text
    s = summary_of(r)
    assert (s["accepted"], s["dropped"], s["rejected"], s["failed"]) == (2, 2, 0, 0), s
    for path in ("/a", "/b"):
        got = wait_ids(rcv, path, [ok1["id"], ok2["id"]])
        assert d1["id"] not in got and d2["id"] not in got


def test_only_dropped_events_is_200(env):
    gw, rcv = env
    r = gw.post_ndjson([ev("drop-"), ev("drop-")])
    assert r.status_code == 200, r.text
    s = summary_of(r)
    assert (s["accepted"], s["dropped"]) == (0, 2), s


def test_per_integration_script_only_affects_its_integration(env):
    gw, rcv = env
    x, bdrop, y = ev("pi-"), ev("bdrop-"), ev("pi-")
    r = gw.post_ndjson([x, bdrop, y])
    assert r.status_code == 200, r.text
    ga = wait_ids(rcv, "/a", [x["id"], bdrop["id"], y["id"]])
    gb = wait_ids(rcv, "/b", [x["id"], y["id"]])
    for e in (x, bdrop, y):
        assert ga[e["id"]] == dict(e, **ADDED), "a must not see b's script"
        assert "b_only" not in ga[e["id"]]
    for e in (x, y):
        assert gb[e["id"]] == dict(e, b_only=True, **ADDED)
    assert bdrop["id"] not in gb


def test_script_error_is_dead_lettered_and_gateway_keeps_running(env):
    gw, rcv = env
    ok1, boom, ok2 = ev("se-"), ev("boom-", nested={"k": [1, 2, {}]}, big=9223372036854775807), ev("se-")
    r = gw.post_ndjson([ok1, boom, ok2])
    assert r.status_code == 200, r.text
    s = summary_of(r)
    assert (s["accepted"], s["failed"], s["rejected"], s["dropped"]) == (2, 1, 0, 0), s
    errs = [e for e in s["errors"] if e.get("line") == 2]
    assert errs, s
    assert errs[0].get("stage") == "script", errs
    rec = gw.wait_deadletter(lambda d: (d.get("event") or {}).get("id") == boom["id"])
    assert rec["stage"] == "script", rec
    assert rec["integration"] is None, rec
    assert "kaboom-global for " + boom["id"] in rec["reason"], rec
    assert rec["event"] == boom, "dead letter must hold the original event"
    assert isinstance(rec.get("time"), str) and rec["time"], rec
    for path in ("/a", "/b"):
        got = wait_ids(rcv, path, [ok1["id"], ok2["id"]])
        assert boom["id"] not in got
    # still running, still forwarding
    later = ev("se-later-")
    assert gw.post_json(later).status_code == 200
    wait_ids(rcv, "/a", [later["id"]])
    gw.assert_running()


def test_per_integration_script_error(env):
    gw, rcv = env
    bb = ev("bboom-")
    r = gw.post_json(bb)
    assert r.status_code == 200, r.text
    rec = gw.wait_deadletter(lambda d: (d.get("event") or {}).get("id") == bb["id"])
    assert rec["stage"] == "script", rec
    assert rec["integration"] == "b", rec
    assert "kaboom-b for " + bb["id"] in rec["reason"], rec
    orig = {k: v for k, v in rec["event"].items() if k not in ADDED}
    assert orig == bb
    ga = wait_ids(rcv, "/a", [bb["id"]])
    assert ga[bb["id"]] == dict(bb, **ADDED)
    time.sleep(0.3)
    assert bb["id"] not in got_by_id(rcv, "/b")


def test_infinite_loop_is_stopped_and_dead_lettered(env):
    gw, rcv = env
    ok1, spin, ok2 = ev("lp-"), ev("spin-"), ev("lp-")
    t0 = time.monotonic()
    r = gw.post_ndjson([ok1, spin, ok2], timeout=15)
    elapsed = time.monotonic() - t0
    assert r.status_code == 200, r.text
    assert elapsed < 5 * SCRIPT_TIMEOUT + 0.5, "runaway script took %.2fs to stop" % elapsed
    s = summary_of(r)
    assert (s["accepted"], s["failed"]) == (2, 1), s
    rec = gw.wait_deadletter(lambda d: (d.get("event") or {}).get("id") == spin["id"])
    assert rec["stage"] == "timeout", rec
    assert rec["event"] == spin
    assert rec["integration"] is None
    assert isinstance(rec.get("reason"), str) and rec["reason"]
    for path in ("/a", "/b"):
        got = wait_ids(rcv, path, [ok1["id"], ok2["id"]])
        assert spin["id"] not in got


def test_repeated_runaway_scripts_do_not_exhaust_workers(env):
    """More runaway events than workers, one after the other: each is
    stopped, and events after them still flow promptly."""
    gw, rcv = env
    for _ in range(4):
        t0 = time.monotonic()
        r = gw.post_json(ev("spin-"), timeout=15)
        assert time.monotonic() - t0 < 5 * SCRIPT_TIMEOUT + 0.5
        assert r.status_code == 400 or r.status_code == 200, r.text
        s = summary_of(r)
        assert s["failed"] == 1 and s["accepted"] == 0, s
    later = [ev("after-spin-") for _ in range(10)]
    t0 = time.monotonic()
    r = gw.post(ndjson(later), content_type="application/x-ndjson", timeout=15)
    assert r.status_code == 200 and time.monotonic() - t0 < 1.0, r.text
    got = wait_ids(rcv, "/a", [e["id"] for e in later])
    for e in later:
        assert got[e["id"]] == dict(e, **ADDED)
    gw.assert_running()
