"""Diagnostics of site scripts: a failure names the script's FILE:LINE and
the event's id, its dead letter carries the Lua traceback; a mistyped ev
method answers with the closest one; a timeout names the script; repeated
identical failures are rate-limited in the log but counted exactly in
/metrics and GET /api/scripts; --check warns of assignments to globals."""

import re

import requests

from harness import summary_of, wait_until, webhook

SCRIPT_LUA = r'''
-- fails in several ways, chosen by the event id's prefix
local M = {}

local function check(id)
    error("bad event " .. id)                       -- line 6
end

function M.process(ev, ctx)
    local id = ev:get("id") or ""
    if id:find("^boom%-") then
        check(id)                                   -- line 12
    elseif id:find("^typo%-") then
        return ev:lable("x")                        -- line 14
    elseif id:find("^spin%-") then
        local n = 0
        while true do n = n + 1 end                 -- line 17
    elseif id:find("^drop%-") then
        return false
    end
    return true
end

return M
'''


def ev(id_):
    return {"type": "command", "id": id_, "timestamp": 1606322948648718268, "comm": "bash"}


def start(gateway_factory, receiver_factory, tmp_path, **conf):
    rcv = receiver_factory()
    script = tmp_path / "diag.lua"
    script.write_text(SCRIPT_LUA, encoding="utf-8")
    c = {"scripts": [str(script)], "script_timeout": "100ms", "workers": 2}
    c.update(conf)
    gw = gateway_factory([webhook("a", rcv.url("/a"))], conf=c)
    return gw, rcv, str(script)


def dead_letter(gw, id_):
    return gw.wait_deadletter(lambda d: (d.get("event") or {}).get("id") == id_)


def test_failure_names_script_line_event_id_and_carries_traceback(gateway_factory, receiver_factory, tmp_path):
    gw, rcv, script = start(gateway_factory, receiver_factory, tmp_path)
    r = gw.post_json(ev("boom-7"))
    assert r.status_code == 200, r.text
    assert summary_of(r)["failed"] == 1
    rec = dead_letter(gw, "boom-7")
    assert rec["stage"] == "script" and rec["integration"] is None, rec
    assert rec["where"] == script + ":6", rec
    assert "bad event boom-7" in rec["reason"], rec
    tb = rec["traceback"]
    assert tb.startswith(rec["reason"]) and "stack traceback:" in tb, tb
    assert re.search(r"diag\.lua:6: in function 'check'", tb), tb
    assert re.search(r"diag\.lua:12: in function", tb), tb
    line = gw.wait_stderr(r'event \d+ \(id "boom-7"\) failed in script at ' + re.escape(script) + ":6: ")
    assert line


def test_mistyped_method_suggests_the_closest(gateway_factory, receiver_factory, tmp_path):
    gw, rcv, script = start(gateway_factory, receiver_factory, tmp_path)
    assert gw.post_json(ev("typo-1")).status_code == 200
    rec = dead_letter(gw, "typo-1")
    assert rec["where"] == script + ":14", rec
    assert rec["reason"].endswith("ev:lable: no such method; did you mean ev:label?"), rec


def test_timeout_names_the_script(gateway_factory, receiver_factory, tmp_path):
    gw, rcv, script = start(gateway_factory, receiver_factory, tmp_path)
    assert gw.post_json(ev("spin-1")).status_code == 200
    rec = dead_letter(gw, "spin-1")
    assert rec["stage"] == "timeout", rec
    # interpreted code stopped by the hook has a line; a compiled loop cut
    # short (the state abandoned) only the script
    assert rec["where"] == script or rec["where"].startswith(script + ":1"), rec
    gw.wait_stderr(r'event \d+ \(id "spin-1"\) failed in timeout at ' + re.escape(script), timeout=10)
    # still running
    assert gw.post_json(ev("ok-1")).status_code == 200
    wait_until(lambda: any(e["id"] == "ok-1" for e in rcv.events("/a")), 10)
    row = scripts_doc(gw)["scripts"][0]
    assert (row["events"], row["timed_out"], row["failed"]) == (2, 1, 0), row
    assert row["seconds"] >= 0.1, row  # the 100 ms the loop ran count as the script's


def scripts_doc(gw):
    r = requests.get(gw.admin_url("/api/scripts"), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def metric_value(text, name, script):
    m = re.search(r'^%s\{script="%s",integration=""\} (\S+)$' % (re.escape(name), re.escape(script)), text, re.M)
    assert m, "no %s for %s in /metrics" % (name, script)
    return float(m.group(1))


def test_750_failures_bounded_log_exact_counters(gateway_factory, receiver_factory, tmp_path):
    gw, rcv, script = start(gateway_factory, receiver_factory, tmp_path)
    before = gw.stderr_len()
    events = [ev("boom-%d" % i) for i in range(750)] + [ev("drop-%d" % i) for i in range(30)] + \
             [ev("keep-%d" % i) for i in range(20)]
    for k in range(0, len(events), 200):
        r = gw.post_ndjson(events[k:k + 200])
        assert r.status_code == 200, r.text
    wait_until(lambda: len([e for e in rcv.events("/a") if e["id"].startswith("keep-")]) == 20, 10)
    wait_until(lambda: scripts_doc(gw)["scripts"][0]["events"] == 800, 10)
    lines = [l for l in gw.stderr()[before:].splitlines() if "failed in script" in l]
    assert 1 <= len(lines) <= 6, "%d failure lines:\n%s" % (len(lines), "\n".join(lines))
    doc = scripts_doc(gw)
    assert len(doc["scripts"]) == 1, doc
    row = doc["scripts"][0]
    assert row["script"] == script and row["integration"] is None, row
    assert (row["events"], row["dropped"], row["failed"], row["timed_out"]) == (800, 30, 750, 0), row
    assert row["seconds"] > 0, row
    assert doc["unknown_routes"] == 0
    text = requests.get(gw.admin_url("/metrics"), timeout=10).text
    assert metric_value(text, "siemrelay_script_events_total", script) == 800
    assert metric_value(text, "siemrelay_script_failed_total", script) == 750
    assert metric_value(text, "siemrelay_script_dropped_total", script) == 30
    assert metric_value(text, "siemrelay_script_timed_out_total", script) == 0
    assert metric_value(text, "siemrelay_script_seconds_total", script) > 0
    assert re.search(r"^siemrelay_pipeline_events_failed_total 750$", text, re.M), text
    wait_until(lambda: len([d for d in gw.deadletters() if d["stage"] == "script"]) == 750, 10)


GLOBALS_LUA = r'''
local M = {}
counter = 0                                  -- line 3
local function helper(x)
    seen = x                                 -- line 5
    local y = x
    return y
end
function M.process(ev, ctx)
    total = (total or 0) + helper(1)         -- line 10: reads are fine, the store is not
    local ok = true
    return ok
end
return M
'''


def test_check_flags_globals_once_per_script(tmp_path):
    from harness import run_cli
    script = tmp_path / "globals.lua"
    script.write_text(GLOBALS_LUA, encoding="utf-8")
    clean = tmp_path / "clean.lua"
    clean.write_text("local M = {}\nfunction M.process(ev) return true end\nreturn M\n", encoding="utf-8")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("scripts: [%s, %s]\nintegrations:\n  - {name: f, type: FILE, scripts: [%s], "
                   "configuration: {path: %s}}\n" % (script, clean, script, tmp_path / "o.jsonl"), encoding="utf-8")
    p = run_cli(["--check", "-c", str(cfg)])
    assert p.returncode == 0, p.stderr
    warnings = [l for l in p.stderr.splitlines() if l.startswith("siemrelay: warning: ") and "global" in l]
    assert warnings == [
        "siemrelay: warning: %s:3: site script assigns the global 'counter' (a missing 'local'?)" % script,
        "siemrelay: warning: %s:5: site script assigns the global 'seen' (a missing 'local'?)" % script,
        "siemrelay: warning: %s:10: site script assigns the global 'total' (a missing 'local'?)" % script,
    ], p.stderr
