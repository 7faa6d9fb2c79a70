"""Script parameters: a `scripts:` entry may be {path, params} (global and
per integration); the script's setup(params) runs once per Lua state and
its process() sees ctx.params; params are checked against the script's
`params` schema by --check and at start (a wrong one is refused, naming the
file, line and key)."""

import yaml

from harness import run_cli, summary_of, wait_until, webhook

TAG_LUA = r'''
-- tags each event with a site and a weight given as parameters
local M = {}

M.params = {
    site = { type = "string", required = true },
    weight = { type = "integer", default = 3 },
    big = { type = "any" },
}

local setups = 0
local label

function M.setup(params)
    setups = setups + 1
    label = "site-" .. params.site
end

function M.process(ev, ctx)
    ev:set("site", label)
    ev:set("weight", ctx.params.weight)
    ev:set("setups", setups)
    ev:set("integration", ctx.integration or "global")
    if ctx.params.big ~= nil then
        ev:set("big", ctx.params.big)
    end
    return true
end

return M
'''

FREE_LUA = r'''
-- declares no schema: takes any params as given
return {
    process = function(ev, ctx)
        ev:set("free", ctx.params)
    end,
}
'''


def scripts(tmp_path):
    tag = tmp_path / "tag.lua"
    tag.write_text(TAG_LUA, encoding="utf-8")
    free = tmp_path / "free.lua"
    free.write_text(FREE_LUA, encoding="utf-8")
    return str(tag), str(free)


def ev(id_):
    return {"type": "command", "id": id_, "timestamp": 1606322948648718268, "comm": "bash"}


def test_params_reach_setup_and_ctx(gateway_factory, receiver_factory, tmp_path):
    tag, free = scripts(tmp_path)
    rcv = receiver_factory()
    b = webhook("b", rcv.url("/b"))
    b["scripts"] = [{"path": tag, "params": {"site": "b-side", "weight": 9}}]
    gw = gateway_factory(
        [webhook("a", rcv.url("/a")), b],
        conf={"workers": 1,
              "scripts": [{"path": tag, "params": {"site": "lab-eu-1", "big": 9223372036854775807}},
                          {"path": free, "params": {"n": 5, "on": True, "s": "x", "l": [1, "two"]}}]})
    r = gw.post_ndjson([ev("p-1"), ev("p-2")])
    assert r.status_code == 200, r.text
    assert summary_of(r)["accepted"] == 2
    wait_until(lambda: len(rcv.events("/a")) == 2 and len(rcv.events("/b")) == 2, 10)
    for e in rcv.events("/a"):
        assert e["site"] == "site-lab-eu-1" and e["weight"] == 3 and e["integration"] == "global", e
        assert e["setups"] == 1, e  # once per state, not per event
        # `any` types integers a double holds exactly; larger ones stay text, unchanged
        assert e["big"] == "9223372036854775807", e
        assert e["free"] == {"n": 5, "on": True, "s": "x", "l": [1, "two"]}, e
    for e in rcv.events("/b"):
        # b's own script instance ran after the global one, with b's params
        assert e["site"] == "site-b-side" and e["weight"] == 9 and e["integration"] == "b", e


def write_conf(tmp_path, scripts_value):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({
        "scripts": scripts_value,
        "integrations": [{"name": "f", "type": "FILE", "configuration": {"path": str(tmp_path / "o.jsonl")}}],
    }, sort_keys=False), encoding="utf-8")
    return str(cfg)


def line_of(path, needle):
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if needle in line:
                return i
    raise AssertionError(needle)


def test_check_accepts_good_params(tmp_path):
    tag, _ = scripts(tmp_path)
    cfg = write_conf(tmp_path, [{"path": tag, "params": {"site": "x"}}])
    p = run_cli(["--check", "-c", cfg])
    assert p.returncode == 0, p.stderr


def test_check_refuses_bad_params(tmp_path):
    tag, _ = scripts(tmp_path)
    cases = [
        ({"path": tag, "params": {"sit": "x"}}, "sit:", "unknown key 'sit' (did you mean 'site'?)"),
        ({"path": tag, "params": {"site": "x", "weight": "heavy"}}, "weight:",
         "key 'weight' must be an integer, got 'heavy'"),
        ({"path": tag}, "path:", "missing required key 'site'"),
        ({"path": tag, "params": ["site"]}, "params:", "params must be a map of parameters"),
        ({"path": tag, "parms": {}}, "parms:", "unknown key 'parms' in a script entry"),
    ]
    for entry, needle, message in cases:
        cfg = write_conf(tmp_path, [entry])
        p = run_cli(["--check", "-c", cfg])
        assert p.returncode != 0, (entry, p.stdout)
        err = p.stderr.strip()
        assert message in err, (entry, err)
        line = line_of(cfg, needle)
        # the key's line, or (for a value on its own lines) the value's
        assert any(err.startswith("siemrelay: %s:%d: " % (cfg, n)) for n in (line, line + 1)), (entry, err, line)


def test_setup_error_is_refused_with_its_message(tmp_path):
    bad = tmp_path / "bad.lua"
    bad.write_text("return { setup = function(p) error('no table named ' .. tostring(p.t), 0) end,"
                   " process = function() end }\n", encoding="utf-8")
    cfg = write_conf(tmp_path, [{"path": str(bad), "params": {"t": "geo"}}])
    p = run_cli(["--check", "-c", cfg])
    assert p.returncode != 0
    assert "site script %s: setup: no table named geo" % bad in p.stderr, p.stderr
