"""require "log" in site scripts: lines in the gateway's log in its text or
JSON format, tagged with the script's FILE:LINE and carrying the fields
(64-bit integers exact); logging.level applies; the same message from the
same line is written at most 5 times per 10 s, and the next line written
says how many were held back."""

import json
import time

from harness import strict_loads, summary_of, wait_until, webhook

LOG_LUA = r'''
local log = require "log"
local M = {}

function M.setup(params)
    log.info("script ready", { site = params.site })
end

function M.process(ev, ctx)
    local id = ev:get("id") or ""
    if id:find("^noisy%-") then
        log.warn("noisy rule seen", { id = id, n = ev:get("n") })   -- line 12
    elseif id:find("^dbg%-") then
        log.debug("not at info level")
    elseif id:find("^err%-") then
        log.error("bad shape", { missing = { "a", "b" } })          -- line 16
    end
    return true
end

return M
'''


def ev(id_, **kw):
    e = {"type": "command", "id": id_, "timestamp": 1606322948648718268, "comm": "bash"}
    e.update(kw)
    return e


def start(gateway_factory, receiver_factory, tmp_path, fmt):
    rcv = receiver_factory()
    script = tmp_path / "logs.lua"
    script.write_text(LOG_LUA, encoding="utf-8")
    gw = gateway_factory([webhook("a", rcv.url("/a"))],
                         conf={"logging": {"level": "info", "format": fmt}, "workers": 2,
                               "scripts": [{"path": str(script), "params": {"site": "lab"}}]})
    return gw, rcv, str(script)


def json_lines(gw):
    out = []
    for line in gw.stderr().splitlines():
        if line.startswith("{"):
            out.append(strict_loads(line.encode()))
    return out


def test_json_format_fields_tag_and_rate_limit(gateway_factory, receiver_factory, tmp_path):
    gw, rcv, script = start(gateway_factory, receiver_factory, tmp_path, "json")
    ready = [r for r in json_lines(gw) if r.get("component") == "script" and r["msg"] == "script ready"]
    assert len(ready) == 2, ready  # setup ran once per worker state
    assert ready[0]["fields"] == {"site": "lab"} and ready[0]["level"] == "info", ready
    assert ready[0]["script"].startswith(script + ":"), ready

    big = 9223372036854775807
    events = [ev("noisy-%d" % i, n=big) for i in range(40)] + [ev("dbg-1"), ev("err-1")]
    r = gw.post_ndjson(events)
    assert r.status_code == 200, r.text
    assert summary_of(r)["accepted"] == len(events)
    wait_until(lambda: any(r.get("msg") == "bad shape" for r in json_lines(gw)), 10)
    wait_until(lambda: len(rcv.events("/a")) == len(events), 10)
    noisy = [r for r in json_lines(gw) if r.get("msg") == "noisy rule seen"]
    assert len(noisy) == 5, noisy
    for rec in noisy:
        assert rec["level"] == "warn" and rec["component"] == "script", rec
        assert rec["script"] == script + ":12", rec
        assert rec["fields"]["n"] == big and rec["fields"]["id"].startswith("noisy-"), rec
        assert "suppressed" not in rec, rec
    err = [r for r in json_lines(gw) if r.get("msg") == "bad shape"]
    assert err[0]["level"] == "error" and err[0]["fields"] == {"missing": ["a", "b"]}, err
    assert err[0]["script"] == script + ":16"
    assert not [r for r in json_lines(gw) if r.get("msg") == "not at info level"]

    # after the window, the next line says how many were held back
    time.sleep(10.2)
    r = gw.post_json(ev("noisy-late", n=1))
    assert r.status_code == 200, r.text
    wait_until(lambda: len([r for r in json_lines(gw) if r.get("msg") == "noisy rule seen"]) == 6, 10)
    last = [r for r in json_lines(gw) if r.get("msg") == "noisy rule seen"][-1]
    assert last["suppressed"] == 35, last
    assert last["fields"] == {"id": "noisy-late", "n": 1}, last


def test_text_format(gateway_factory, receiver_factory, tmp_path):
    gw, rcv, script = start(gateway_factory, receiver_factory, tmp_path, "text")
    r = gw.post_ndjson([ev("noisy-1", n=5), ev("err-1")])
    assert r.status_code == 200, r.text
    line = gw.wait_stderr(r"warn  \[script\] noisy rule seen ")
    lines = [l for l in gw.stderr().splitlines() if "[script] noisy rule seen" in l]
    assert len(lines) == 1, lines
    want = ' warn  [script] noisy rule seen script=%s fields={"id":"noisy-1","n":5}' % json.dumps(script + ":12")
    assert lines[0].endswith(want), (lines[0], want)
    assert line
    gw.wait_stderr(r'error \[script\] bad shape script=".*logs\.lua:16" fields=\{"missing":\["a","b"\]\}')
