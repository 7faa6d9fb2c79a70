"""Bounded scripts: a script that loops while loading is refused (SIGHUP,
admin API, --check) while the gateway keeps serving and SIGTERM drains; a
per-state memory limit fails the event with stage `memory`; a script that
runs away again and again is disabled (its events dead-lettered with stage
`disabled`) with memory bounded over 10,000 events, and a reload enables it
again; `sandbox: true` takes away every facility docs/scripting.md lists,
and hands the script a method-only view of the event instead of its C
struct."""

import json
import os
import re
import signal
import threading
import time

import requests

from admin_util import Admin, tokens_conf
from harness import ALL_CHANNELS, run_cli, summary_of, wait_until, webhook
from peers.capture import Capture

GOOD_LUA = r'''
local M = {}
function M.process(ev)
    ev:set("tagged_by", "good")
    local id = ev:get("id") or ""
    if id:find("^spin%-") then
        while true do end              -- a compiled loop: only the interrupt stops it
    elseif id:find("^hog%-") then
        local t = {}
        for i = 1, 1e9 do t[i] = string.rep("x", 1048576) .. i end
    end
    return true
end
return M
'''

# Loops at load: top level, with no call in the loop (compiled by LuaJIT)
LOOP_AT_LOAD_LUA = r'''
local n = 0
while true do n = n + 1 end
return { process = function() return true end }
'''

# Loops in setup(), interpreted with calls in it
LOOP_IN_SETUP_LUA = r'''
local M = {}
function M.setup() while true do string.format("%d", 1) end end
function M.process() return true end
return M
'''


def ev(id_):
    return {"type": "command", "id": id_, "timestamp": 1606322948648718268, "comm": "bash"}


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def sanitized(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def scripts_doc(gw):
    r = requests.get(gw.admin_url("/api/scripts"), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def metrics(gw):
    return requests.get(gw.admin_url("/metrics"), timeout=10).text


def metric(text, name, script=None):
    if script is None:
        m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    else:
        m = re.search(r'^%s\{script="%s",integration=""\} (\S+)$' % (re.escape(name), re.escape(script)),
                      text, re.M)
    assert m, "no %s in /metrics" % name
    return float(m.group(1))


def start(gateway_factory, receiver_factory, tmp_path, **conf):
    rcv = receiver_factory()
    script = tmp_path / "bounded.lua"
    script.write_text(GOOD_LUA, encoding="utf-8")
    c = {"scripts": [str(script)], "script_timeout": "100ms", "script_load_timeout": "1s", "workers": 2}
    c.update(conf)
    gw = gateway_factory([webhook("a", rcv.url("/a"))], conf=c)
    return gw, rcv, script


class Sender:
    """Posts events one at a time from a thread and records every answer,
    so a test can tell that ingest kept answering through something."""

    def __init__(self, gw, prefix):
        self.gw, self.prefix = gw, prefix
        self.answers = []  # (status, seconds)
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        i = 0
        while not self.stop_flag.is_set():
            t0 = time.monotonic()
            try:
                status = self.gw.post_json(ev("%s-%d" % (self.prefix, i)), timeout=30).status_code
            except requests.RequestException as e:
                status = repr(e)
            self.answers.append((status, time.monotonic() - t0))
            i += 1
            time.sleep(0.02)

    def stop(self):
        self.stop_flag.set()
        self.thread.join(40)
        return self.answers


def assert_still_good(gw, rcv, id_):
    """The running configuration stayed: the good script still tags events."""
    assert gw.post_json(ev(id_)).status_code == 200
    wait_until(lambda: any(e["id"] == id_ and e.get("tagged_by") == "good" for e in rcv.events("/a")), 10)


def test_loop_at_load_refused_on_sighup_while_ingest_answers_and_sigterm_drains(
        gateway_factory, receiver_factory, tmp_path):
    # the reload loads off the loop thread: ingest answers at once all through
    # a 4 s judgement (a frozen loop would hold each answer that long)
    gw, rcv, script = start(gateway_factory, receiver_factory, tmp_path, script_load_timeout="4s")
    assert_still_good(gw, rcv, "before-1")
    for text, what in ((LOOP_AT_LOAD_LUA, "site script " + str(script)),
                       (LOOP_IN_SETUP_LUA, "site script " + str(script) + ": setup")):
        script.write_text(text, encoding="utf-8")
        since = gw.stderr_len()
        sender = Sender(gw, "during")
        t0 = time.monotonic()
        os.kill(gw.proc.pid, signal.SIGHUP)
        line = gw.wait_stderr(r"configuration reload failed: (.*)", timeout=20, since=since)
        took = time.monotonic() - t0
        time.sleep(0.3)
        answers = sender.stop()
        assert what in line.group(1) and "load budget of 4000 ms" in line.group(1), line.group(0)
        assert 3.5 < took < 20, took
        assert len(answers) >= 10 and all(a[0] == 200 for a in answers), answers
        assert max(a[1] for a in answers) < 2.5, answers
        assert requests.get(gw.admin_url("/readyz"), timeout=5).status_code == 200
        assert_still_good(gw, rcv, "after-%d" % len(text))
    # SIGTERM while a reload is loading a looping script, with an
    # acknowledged event queued: drained and delivered, exit 0
    script.write_text(LOOP_AT_LOAD_LUA, encoding="utf-8")
    rcv_ids = lambda: {e["id"] for e in rcv.events("/a")}  # noqa: E731
    assert gw.post_json(ev("last-1")).status_code == 200
    os.kill(gw.proc.pid, signal.SIGHUP)
    t0 = time.monotonic()
    code, err = gw.stop()
    assert code == 0
    assert time.monotonic() - t0 < 15
    assert "last-1" in rcv_ids()


def test_loop_at_load_refused_by_admin_api_running_configuration_stays(
        gateway_factory, receiver_factory, tmp_path):
    # the API's check loads off the loop thread, as a reload does: ingest
    # and the admin API answer at once all through a 4 s judgement
    gw, rcv, script = start(gateway_factory, receiver_factory, tmp_path, admin=tokens_conf(),
                            script_load_timeout="4s")
    admin = Admin(gw)
    assert_still_good(gw, rcv, "before-1")
    script.write_text(LOOP_AT_LOAD_LUA, encoding="utf-8")
    sender = Sender(gw, "during")
    entry = webhook("b", rcv.url("/b"))
    created = {}
    creator = threading.Thread(target=lambda: created.update(r=admin.create(entry)), daemon=True)
    t0 = time.monotonic()
    creator.start()
    time.sleep(1.0)
    t1 = time.monotonic()
    listed = admin.get("/api/integrations")
    list_took = time.monotonic() - t1
    creator.join(30)
    took = time.monotonic() - t0
    answers = sender.stop()
    r = created["r"]
    assert r.status_code == 400, r.text
    assert str(script) in r.text and "load budget of 4000 ms" in r.text, r.text
    assert 3.5 < took < 20, took
    assert listed.status_code == 200 and list_took < 2.5, (listed.status_code, list_took)
    assert len(answers) >= 10 and all(a[0] == 200 for a in answers), answers
    assert max(a[1] for a in answers) < 2.5, answers
    assert "b" not in admin.names()
    # the admin API answers, the running configuration stays
    assert admin.get("/api/integrations").status_code == 200
    assert_still_good(gw, rcv, "after-1")
    # SIGTERM while the API's check loads a looping script, with an
    # acknowledged event queued: the waiting create hears so, the queue is
    # drained and delivered, exit 0
    assert gw.post_json(ev("last-1")).status_code == 200
    creator = threading.Thread(target=lambda: created.update(r=admin.create(entry)), daemon=True)
    creator.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    code, err = gw.stop()
    creator.join(30)
    assert code == 0, err
    assert time.monotonic() - t0 < 15
    assert created["r"].status_code in (400, 503), created["r"].text
    assert any(w in created["r"].text for w in ("shutting down", "load budget")), created["r"].text
    assert "last-1" in {e["id"] for e in rcv.events("/a")}


def test_check_on_a_looping_script_fails_in_bounded_time(tmp_path):
    for name, text in (("top.lua", LOOP_AT_LOAD_LUA), ("setup.lua", LOOP_IN_SETUP_LUA)):
        script = tmp_path / name
        script.write_text(text, encoding="utf-8")
        cfg = tmp_path / ("check-" + name + ".yaml")
        cfg.write_text(json.dumps({"data_dir": str(tmp_path / "data"), "scripts": [str(script)],
                                   "script_load_timeout": "500ms"}), encoding="utf-8")
        t0 = time.monotonic()
        p = run_cli(["--check", "-c", str(cfg)], timeout=30)
        took = time.monotonic() - t0
        assert p.returncode == 1, p.stderr
        assert str(script) in p.stderr and "load budget of 500 ms" in p.stderr, p.stderr
        assert took < 8, took


def test_memory_limit_fails_the_event_with_stage_memory(gateway_factory, receiver_factory, tmp_path):
    gw, rcv, script = start(gateway_factory, receiver_factory, tmp_path, script_memory_limit="48MiB",
                            script_timeout="5s")
    pid = gw.proc.pid
    r = gw.post_ndjson([ev("ok-1"), ev("hog-1"), ev("ok-2")])
    assert r.status_code == 200, r.text
    assert summary_of(r)["failed"] == 1, r.text
    rec = gw.wait_deadletter(lambda d: (d.get("event") or {}).get("id") == "hog-1")
    assert rec["stage"] == "memory", rec
    assert "not enough memory" in rec["reason"] and "memory limit" in rec["reason"], rec
    assert rec["where"] == str(script) or rec["where"].startswith(str(script) + ":"), rec
    wait_until(lambda: {"ok-1", "ok-2"} <= {e["id"] for e in rcv.events("/a")}, 10)
    row = scripts_doc(gw)["scripts"][0]
    assert (row["memory"], row["timed_out"], row["failed"], row["disabled"]) == (1, 0, 0, False), row
    assert metric(metrics(gw), "siemrelay_script_memory_exceeded_total", str(script)) == 1
    # the memory was collected: events after it run in the same state
    assert_still_good(gw, rcv, "after-1")
    assert rss_kib(pid) < 400 * 1024, rss_kib(pid)
    gw.stop()


def test_runaways_over_10000_events_bounded_memory_disabled_then_reload_enables(
        gateway_factory, receiver_factory, tmp_path):
    gw, rcv, script = start(gateway_factory, receiver_factory, tmp_path, script_timeout="50ms",
                            script_runaway_limit=10, script_runaway_window="10m",
                            script_memory_limit="16MiB")
    pid = gw.proc.pid
    assert_still_good(gw, rcv, "warm-1")
    rss0 = rss_kib(pid)
    failed = 0
    # compiled loops (the state abandoned) and allocation loops (the memory
    # limit) in turn, until the script is disabled
    for k in range(0, 10000, 500):
        r = gw.post_ndjson([ev("%s-%d" % ("hog" if i % 2 else "spin", i)) for i in range(k, k + 500)],
                           timeout=60)
        assert r.status_code == 200, r.text
        failed += summary_of(r)["failed"]
    assert failed == 10000
    rss1 = rss_kib(pid)
    # at most a memory limit's worth per worker state, however many events
    # (AddressSanitizer keeps up to 256 MiB of freed memory in quarantine)
    bound = 2 * 16 * 1024 + 40 * 1024 + (400 * 1024 if sanitized(pid) else 0)
    assert rss1 - rss0 < bound, (rss0, rss1)
    doc = scripts_doc(gw)
    row = doc["scripts"][0]
    assert row["disabled"] is True and row["disablings"] == 1, row
    # at most one runaway per worker past the limit (both may be in one)
    assert 10 <= row["runaways"] <= 10 + 2, row
    # (which of the two stops an allocation loop first depends on the
    # machine's load: test_memory_limit_... covers the memory stage alone)
    assert row["timed_out"] >= 1, row
    assert row["memory"] + row["timed_out"] == row["runaways"], row
    assert 1 <= doc["abandoned_states"] <= row["timed_out"], doc
    text = metrics(gw)
    assert metric(text, "siemrelay_script_disabled", str(script)) == 1
    assert metric(text, "siemrelay_lua_states_abandoned_total") == doc["abandoned_states"]
    assert metric(text, "siemrelay_lua_abandoned_bytes_total") > 0
    disabled = gw.wait_deadletter(lambda d: d["stage"] == "disabled")
    assert str(script) in disabled["reason"] and "reload" in disabled["reason"], disabled
    # a normal event is dead-lettered too while the script is disabled
    r = gw.post_json(ev("normal-1"))
    assert summary_of(r)["failed"] == 1, r.text
    rec = gw.wait_deadletter(lambda d: (d.get("event") or {}).get("id") == "normal-1")
    assert rec["stage"] == "disabled", rec

    since = gw.stderr_len()
    os.kill(pid, signal.SIGHUP)
    gw.wait_stderr(r"configuration reloaded", timeout=20, since=since)
    assert scripts_doc(gw)["scripts"][0]["disabled"] is False
    assert metric(metrics(gw), "siemrelay_script_disabled", str(script)) == 0
    assert_still_good(gw, rcv, "reloaded-1")
    gw.stop()


SANDBOX_PROBE_LUA = r'''
local M = {}
local probes = {
    os_execute = function() return os.execute end,
    os_exit = function() return os.exit end,
    os_getenv = function() return os.getenv end,
    io = function() return io end,
    io_popen = function() return io.popen end,
    ffi = function() return require "ffi" end,
    jit = function() return require "jit" end,
    package_loadlib = function() return package.loadlib end,
    native_require = function() return require "script_check" end,
    bytecode = function()
        local f = load("\27LJ\2\0\0", "bc", "b")
        assert(f)
        return f
    end,
    bytecode_text_mode = function() return assert(loadstring("\27LJ\2\0\0")) end,
    string_dump = function() return string.dump end,
    debug = function() return debug end,
    getfenv = function() return getfenv(0) end,
    string_metatable = function() return getmetatable("").__index end,
    dofile = function() return dofile end,
    loadfile = function() return loadfile end,
}
function M.process(ev)
    for name, probe in pairs(probes) do
        local ok, v = pcall(probe)
        ev:set("sb_" .. name, (ok and v ~= nil) and "available" or "refused")
    end
    -- what a sandboxed script keeps
    ev:set("sb_keeps", string.format("%s|%s|%d", require("json").encode({1}),
                                     type(os.time()), math.floor(2.5)))
    local f = assert(loadstring("return 40 + 2"))
    ev:set("sb_text_load", f())
    return true
end
return M
'''


def test_sandbox_refuses_each_removed_facility(gateway_factory, receiver_factory, tmp_path):
    rcv = receiver_factory()
    script = tmp_path / "probe.lua"
    script.write_text(SANDBOX_PROBE_LUA, encoding="utf-8")
    # the same script: sandboxed through its entry for "a", not for "b";
    # sandboxed for everything with script_sandbox
    a = webhook("a", rcv.url("/a"), scripts=[{"path": str(script), "sandbox": True}])
    b = webhook("b", rcv.url("/b"), scripts=[str(script)])
    gw = gateway_factory([a, b])
    assert gw.post_json(ev("p-1")).status_code == 200
    wait_until(lambda: rcv.events("/a") and rcv.events("/b"), 10)
    sandboxed, full = rcv.events("/a")[0], rcv.events("/b")[0]
    probes = sorted(k for k in sandboxed if k.startswith("sb_") and k not in ("sb_keeps", "sb_text_load"))
    assert len(probes) == 17, probes
    for k in probes:
        assert sandboxed[k] == "refused", (k, sandboxed)
    # the probes are real: without the sandbox the same script reaches them
    for k in ("sb_os_execute", "sb_io_popen", "sb_ffi", "sb_package_loadlib", "sb_debug", "sb_getfenv",
              "sb_string_dump", "sb_os_getenv"):
        assert full[k] == "available", (k, full)
    for doc in (sandboxed, full):
        assert doc["sb_keeps"] == "[1]|number|2" and doc["sb_text_load"] == 42, doc
    gw.stop()

    gw2 = gateway_factory([webhook("c", rcv.url("/c"), scripts=[str(script)])], conf={"script_sandbox": True})
    assert gw2.post_json(ev("p-2")).status_code == 200
    wait_until(lambda: rcv.events("/c"), 10)
    doc = rcv.events("/c")[0]
    assert all(doc[k] == "refused" for k in probes), doc
    gw2.stop()


def test_sandboxed_bytecode_script_refused_and_entry_key_checked(tmp_path):
    bc = tmp_path / "compiled.lua"
    bc.write_bytes(b"\x1bLJ\x02\x00\x00")
    for entry, expect in (({"path": str(bc), "sandbox": True}, "must be Lua source text, not bytecode"),
                          ({"path": str(bc), "sandbox": "maybe"}, "sandbox must be true or false")):
        cfg = tmp_path / "c.yaml"
        cfg.write_text(json.dumps({"data_dir": str(tmp_path / "data"), "scripts": [entry]}), encoding="utf-8")
        p = run_cli(["--check", "-c", str(cfg)])
        assert p.returncode == 1 and expect in p.stderr, p.stderr


# A global sandboxed script that reaches for the event's C struct, one way
# per event id; every other event passes untouched. (No tail calls: the
# failure names the probe's own line.)
VIEW_PROBE_LUA = r'''
local M = {}
local probes = {
    ["read-raw_bytes"] = function(ev) return ev.raw_bytes end,
    ["read-members"] = function(ev) return ev.members end,
    ["write-flags"] = function(ev) ev.flags = 1 end,
    ["write-raw_len"] = function(ev) ev.raw_len = 0 end,
    ["rawget"] = function(ev) return (rawget(ev, "raw_bytes")) end,
    ["rawset"] = function(ev) rawset(ev, "raw_len", 0) end,
    ["pairs"] = function(ev) for k in pairs(ev) do end end,
    ["index"] = function(ev) return ev.__index.raw_bytes end,
    ["metatable"] = function(ev) return getmetatable(ev).__index.raw_bytes end,
    ["method-on-table"] = function(ev) return (ev.get(ev:get("labels") or {}, "id")) end,
}
function M.process(ev)
    local probe = probes[ev:get("id")]
    if probe then
        probe(ev)
    end
    return true
end
return M
'''

# The same edits, sandboxed for integration "a" and not for "b".
VIEW_EDITS_LUA = r'''
local M = {}
function M.process(ev, ctx)
    ev:set("shown", tostring(ev))
    ev:set("mt", tostring(getmetatable(ev)))
    ev:set("ts_next", ev:get("timestamp") + 1)
    ev:set_raw("big", "18446744073709551615")
    ev:set_path('content.fields["proc.cmdline"]', "[redacted]")
    ev:set_path("relay.hops", { 1, ev:get("timestamp") })
    ev:delete_path("content.policyVersion")
    ev:set_label("owner.team", "platform")
    local labels = ev:get("labels")
    if labels then
        labels["site.zone"] = "eu-1"
        ev:set("labels", labels)
    end
    ev:set("cef", require("cef").format(ev))
    ev:set("kind", ev:data_type() .. "/" .. tostring(ev:channel()) .. "/" .. ev.severity)
    return ev
end
return M
'''


def test_sandboxed_event_is_a_method_only_view(gateway_factory, receiver_factory, tmp_path):
    """A sandboxed script gets a view of the event with its methods only:
    each reach for the C struct (fields read or written, rawget/rawset,
    pairs, __index, the metatable) fails the event as a script error at the
    script's line, dead-lettered; every method gives the same record as on
    the cdata an unsandboxed script still gets, 64-bit integers exact."""
    rcv = receiver_factory()
    probe, edits = tmp_path / "probe.lua", tmp_path / "edits.lua"
    probe.write_text(VIEW_PROBE_LUA, encoding="utf-8")
    edits.write_text(VIEW_EDITS_LUA, encoding="utf-8")
    a = webhook("a", rcv.url("/a"), scripts=[{"path": str(edits), "sandbox": True}])
    b = webhook("b", rcv.url("/b"), scripts=[str(edits)])
    gw = gateway_factory([a, b], conf={"scripts": [{"path": str(probe), "sandbox": True}]})

    refusals = {
        "read-raw_bytes": (4, "ev.raw_bytes: a sandboxed script reaches the event through its methods only"),
        "read-members": (5, "ev.members: a sandboxed script reaches the event through its methods only"),
        "write-flags": (6, "ev.flags = ...: the event's fields cannot be assigned"),
        "write-raw_len": (7, "ev.raw_len = ...: the event's fields cannot be assigned"),
        "rawget": (8, "table expected, got cdata"),
        "rawset": (9, "table expected, got cdata"),
        "pairs": (10, "has no '__pairs' metamethod"),
        "index": (11, "ev:__index: no such method"),
        "metatable": (12, "attempt to index"),
        "method-on-table": (13, "ev:get: called on a table, not on the event"),
    }
    for id_ in refusals:
        r = gw.post_json(ev(id_))
        assert summary_of(r)["failed"] == 1, (id_, r.text)
    for id_, (line, text) in refusals.items():
        rec = gw.wait_deadletter(lambda d, id_=id_: (d.get("event") or {}).get("id") == id_)
        assert rec["stage"] == "script" and rec["integration"] is None, rec
        assert text in rec["reason"], (id_, rec)
        assert rec["where"] == "%s:%d" % (probe, line), (id_, rec)

    # the gateway is unharmed, and the methods answer on the view as on the cdata
    samples = []
    for name in ("policy_event.json", "audit_command.json", "audit_network.json"):
        with open(os.path.join(os.environ["SIEMRELAY_SOURCE_DIR"], "tests", "data", name)) as f:
            samples.append(json.load(f))
    for doc in samples:
        assert summary_of(gw.post_json(doc))["failed"] == 0
    wait_until(lambda: len(rcv.events("/a")) == 3 and len(rcv.events("/b")) == 3, 10)
    boxed = {e["id"]: e for e in rcv.events("/a")}
    plain = {e["id"]: e for e in rcv.events("/b")}
    assert sorted(boxed) == sorted(plain) == sorted(d["id"] for d in samples)
    for id_ in boxed:
        got, want = boxed[id_], plain[id_]
        assert got.pop("shown") == "sr_event (sandboxed view)", got
        assert want.pop("shown").startswith("cdata<struct sr_event *>: 0x"), want
        assert list(got) == list(want), (list(got), list(want))
        for k in want:
            assert got[k] == want[k], (id_, k, got[k], want[k])
        assert got["mt"] == "ffi" and got["big"] == 18446744073709551615, got
        assert got["ts_next"] == got["timestamp"] + 1, got
    policy = boxed[samples[0]["id"]]
    assert policy["ts_next"] == 1606322948648718269 and policy["relay"]["hops"] == [1, 1606322948648718268]
    assert policy["content"]["fields"]["proc.cmdline"] == "[redacted]" and policy["cef"].startswith("CEF:0|")
    gw.stop()


# Uses every helper a script may require, each in a way that depends on the
# helpers' tables: secfields.sources, cef.keys, leef.keys, syslog.facilities,
# json.array_mt (an array read from the event grown by one, an empty
# json.array), json.empty_array, cjson's settings, and the globals.
HELPERS_LUA = r'''
local cef, leef, syslog = require "cef", require "leef", require "syslog"
local secfields, severity, time = require "secfields", require "severity", require "time"
local json, cjson, csafe = require "json", require "cjson", require "cjson.safe"
local crypto, event, log = require "siemrelay.crypto", require "event", require "log"
local M = {}
function M.process(ev)
    ev:set("cef", cef.format(ev))
    ev:set("leef", leef.format(ev))
    ev:set("syslog", syslog.message(ev, "m", { format = "RFC_5424",
        facility = syslog.facility("local3"), app_name = "t" }))
    local f = secfields.extract(ev)
    ev:set("fields", table.concat(f.list, ","))
    ev:set("title", secfields.title(f) .. "/" .. secfields.event_id(f))
    ev:set("label", tostring(severity.label(ev.severity)) .. "/" .. tostring(severity.from_label("low")))
    ev:set("secs", time.seconds_decimal(ev:raw("timestamp") or "0"))
    ev:set("units", table.concat(time.units, ","))
    local tags = ev:get_path("content.ruleTags") or json.array({ "none" })
    tags[#tags + 1] = "grown"
    ev:set("tags", tags)
    ev:set("none", tags[#tags + 1] == nil)
    ev:set("arrays", { json.array({}), json.empty_array, json.array({ 1 }) })
    ev:set("enc", json.encode({ a = json.array({}), b = json.empty_array, c = { 1.5, "x" } }))
    ev:set("dec", json.encode(json.decode('{"a":[1,{"b":[2,{"c":3}]}]}')))
    ev:set("cj", cjson.encode({ 1.234567891234, { x = { y = { z = 1 } } } }))
    ev:set("cs", csafe.encode(csafe.decode('[0.1234567891234,[[[[1]]]]]')))
    ev:set("crypto", crypto.hex(crypto.sha256("x")))
    ev:set("quoted", event.quote("q") .. event.encode({ k = event.null }))
    ev:set("fmt", string.format("%05d", 42) .. math.floor(2.5) .. table.concat({ "a", "b" }, "+"))
    log.info("helpers ran")
    return true
end
return M
'''

# Sandboxed: walks every table it can reach from the helper modules it may
# require (their metatables, the tables their functions return, the arrays
# of the event and their metatable) and changes each one every way the
# sandbox lets it: fields and functions replaced, entries removed,
# metamethods added, metatables set; cjson's settings changed. Once per
# Lua state, on its first event.
VANDAL_LUA = r'''
local MODULES = { "event", "log", "json", "time", "severity", "secfields", "syslog", "cef",
    "leef", "cjson", "cjson.safe", "siemrelay.crypto", "string", "table", "math", "bit",
    "coroutine", "os" }
-- named too: a walk with pairs finds nothing in a module offered as a proxy
local KNOWN = { json = { "array_mt", "empty_array" }, secfields = { "sources" },
    cef = { "keys" }, leef = { "keys" }, syslog = { "facilities" }, time = { "units" } }
local STD = { string = true, table = true, math = true, bit = true, coroutine = true, os = true }
local done, found = false, 0
local function pwned() return "PWNED" end
local function wreck(t, seen, ev, call)
    if type(t) ~= "table" or seen[t] then
        return
    end
    seen[t] = true
    found = found + 1
    local mt = getmetatable(t)
    if type(mt) == "table" then
        wreck(mt, seen, ev, call)
    end
    local keys = {}
    for k in pairs(t) do
        keys[#keys + 1] = k
    end
    for _, k in ipairs(keys) do
        local v = rawget(t, k)
        if type(v) == "table" then
            wreck(v, seen, ev, call)
        elseif type(v) == "function" and call then
            for _, args in ipairs({ {}, { ev }, { {} }, { "[[1],{}]" }, { "x" } }) do
                local res = { pcall(v, unpack(args)) }
                for i = 2, #res do
                    wreck(res[i], seen, ev, false)
                end
            end
        end
        if type(v) == "function" then
            pcall(rawset, t, k, pwned)
        elseif type(v) == "string" then
            pcall(rawset, t, k, "PWNED")
        elseif type(v) == "number" then
            pcall(rawset, t, k, 1)
        end
    end
    for i = #t, 1, -1 do
        pcall(table.remove, t, i)
    end
    pcall(rawset, t, 1, { "PWNED", "PWNED" })
    pcall(rawset, t, "__index", function() return "PWNED" end)
    pcall(rawset, t, "__newindex", function() end)
    pcall(rawset, t, "__call", pwned)
    pcall(rawset, t, "__tostring", pwned)
    pcall(setmetatable, t, { __index = function() return "PWNED" end, __newindex = function() end })
end
local M = {}
function M.process(ev)
    if done then
        ev:set("vandal_found", found)
        return true
    end
    done = true
    for _, name in ipairs({ "cjson", "cjson.safe" }) do
        local c = require(name)
        pcall(c.decode_max_depth, 1)
        pcall(c.encode_max_depth, 1)
        pcall(c.encode_number_precision, 1)
        pcall(c.encode_sparse_array, true, 1, 1)
        pcall(c.encode_keep_buffer, false)
        pcall(c.encode_invalid_numbers, true)
    end
    local seen = {}
    wreck(ev:get("content"), seen, ev, false)
    wreck(ev:get_path("content.ruleTags"), seen, ev, false)
    wreck(require("json").array({}), seen, ev, false)
    for name, keys in pairs(KNOWN) do
        for _, k in ipairs(keys) do
            wreck(require(name)[k], seen, ev, false)
        end
    end
    for _, name in ipairs(MODULES) do
        wreck(require(name), seen, ev, not STD[name])
    end
    ev:set("vandal_found", found)
    return true
end
return M
'''


def test_sandboxed_script_cannot_change_what_other_scripts_and_integrations_use(
        gateway_factory, receiver_factory, tmp_path):
    """A sandboxed script that changes every table it can reach from the
    helper modules (and cjson's settings, and the arrays of the event and
    their metatable) changes nothing for anyone else: an unsandboxed
    script's records, another sandboxed script's, and a QRADAR integration's
    LEEF (the gateway's own leef, secfields and syslog) are, field by field
    and byte for byte, what a gateway without it delivers."""
    helpers, vandal = tmp_path / "helpers.lua", tmp_path / "vandal.lua"
    helpers.write_text(HELPERS_LUA, encoding="utf-8")
    vandal.write_text(VANDAL_LUA, encoding="utf-8")
    docs = []
    for name in ("policy_event.json", "audit_command.json", "audit_network.json",
                 "platform_audit.json"):
        with open(os.path.join(os.environ["SIEMRELAY_SOURCE_DIR"], "tests", "data", name)) as f:
            docs.append(json.load(f))

    def run(with_vandal):
        rcv = receiver_factory()
        cap = Capture()
        plain = webhook("plain", rcv.url("/plain"), scripts=[str(helpers)])
        boxed = webhook("boxed", rcv.url("/boxed"), scripts=[{"path": str(helpers), "sandbox": True}])
        qradar = {"name": "q", "type": "QRADAR", "channels": list(ALL_CHANNELS),
                  "batch": {"max_events": 50, "linger": "20ms"},
                  "configuration": {"address": "127.0.0.1", "port": cap.port}}
        conf = {"scripts": [{"path": str(vandal), "sandbox": True}]} if with_vandal else {}
        gw = gateway_factory([plain, boxed, qradar], conf=conf)
        for doc in docs:
            r = gw.post_json(doc)
            assert summary_of(r)["failed"] == 0, (with_vandal, r.text)
        wait_until(lambda: len(rcv.events("/plain")) == len(docs)
                   and len(rcv.events("/boxed")) == len(docs)
                   and cap.bytes().count(b"\n") == len(docs), 15)
        out = {"plain": {e["id"]: e for e in rcv.events("/plain")},
               "boxed": {e["id"]: e for e in rcv.events("/boxed")},
               "leef": sorted(cap.bytes().decode("utf-8").splitlines())}
        gw.stop()
        cap.close()
        return out

    before, after = run(False), run(True)
    assert len(before["leef"]) == len(docs) and before["leef"] == after["leef"]
    for kind in ("plain", "boxed"):
        assert sorted(before[kind]) == sorted(after[kind]) == sorted(d["id"] for d in docs)
        for id_, want in before[kind].items():
            got = dict(after[kind][id_])
            assert got.pop("vandal_found") > 30, got
            assert list(got) == list(want), (kind, id_, list(got), list(want))
            for k in want:
                assert got[k] == want[k], (kind, id_, k, got[k], want[k])
    policy = before["plain"][docs[0]["id"]]
    assert policy["tags"][-1] == "grown" and policy["none"] is True, policy
    assert policy["arrays"] == [[], [], [1]] and policy["cef"].startswith("CEF:0|Sysdig|"), policy
    assert policy["enc"] == '{"a":[],"b":[],"c":[1.5,"x"]}', policy
