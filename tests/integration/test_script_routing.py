"""Routing from site scripts: ev:route{...} restricts an event to named
integrations, ev:unroute{...} keeps it from some; both compose with
channels, message types and min_severity (all must allow it). An
integration added later through the admin API gets nothing a script
restricted elsewhere (route is an allow-list by name). A route name that
matches no integration is counted in /metrics and logged once."""

import json
import re

from admin_util import ADMIN_TOKEN, Admin, tokens_conf
from harness import sample_bytes, summary_of, wait_until, webhook

ROUTER_LUA = r'''
-- routes by the event id's prefix
local M = {}

function M.process(ev, ctx)
    local id = ev:get("id") or ""
    if id:find("^soc%-") then
        ev:route{"soc"}
    elseif id:find("^noarch%-") then
        ev:unroute("archive")
    elseif id:find("^ghost%-") then
        ev:route{"soc", "no-such-integration"}
    elseif id:find("^narrow%-") then
        ev:route{"soc", "archive"}
        ev:route{"archive", "acts"}       -- narrows: only archive is in both
    elseif id:find("^act%-") then
        ev:route{"soc", "acts"}           -- soc takes policy events only
    end
    return true
end

return M
'''

POLICY = ["SECURE_EVENTS_POLICIES"]


def policy(id_, severity=0):
    e = json.loads(sample_bytes("policy_event.json"))
    e["id"] = id_
    e["severity"] = severity
    return e


def command(id_):
    return {"type": "command", "id": id_, "timestamp": 1606322948648718268, "comm": "bash"}


def ids(rcv, path):
    return sorted(e["id"] for e in rcv.events(path))


def settle(gw, rcv, paths, marker):
    """Posts a marker every integration gets, and waits for it everywhere:
    after it, nothing else from the same post is still on its way."""
    r = gw.post_json(policy(marker))
    assert r.status_code == 200, r.text
    wait_until(lambda: all(marker in ids(rcv, p) for p in paths), 10,
               message="marker %s not delivered to all of %r" % (marker, paths))


def metric(gw, name):
    text = Admin(gw).get("/metrics").text
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    assert m, "no %s in /metrics" % name
    return float(m.group(1))


def test_route_unroute_compose_and_bind_later_integrations(gateway_factory, receiver_factory, tmp_path):
    rcv = receiver_factory()
    script = tmp_path / "router.lua"
    script.write_text(ROUTER_LUA, encoding="utf-8")
    gw = gateway_factory(
        [webhook("soc", rcv.url("/soc"), channels=POLICY, min_severity=3),
         webhook("archive", rcv.url("/archive"), channels=POLICY),
         webhook("acts", rcv.url("/acts"), channels=["ACTIVITY_AUDIT"])],
        conf={"scripts": [str(script)], "admin": tokens_conf(), "workers": 2})

    sent = [policy("soc-1"), policy("noarch-1"), policy("plain-1"), policy("soc-lowsev-1", severity=7),
            policy("narrow-1"), command("act-1"), command("plaincmd-1")]
    r = gw.post_ndjson(sent)
    assert r.status_code == 200, r.text
    assert summary_of(r)["accepted"] == len(sent)
    settle(gw, rcv, ["/soc", "/archive"], "mark-1")

    # soc: min_severity 3 keeps soc-lowsev-1 out although the script routes it there;
    # acts: channel ACTIVITY_AUDIT only, so "act-1" reaches acts and not soc.
    assert ids(rcv, "/soc") == ["mark-1", "noarch-1", "plain-1", "soc-1"]
    assert ids(rcv, "/archive") == ["mark-1", "narrow-1", "plain-1"]
    wait_until(lambda: ids(rcv, "/acts") == ["act-1", "plaincmd-1"], 10,
               message="acts got %r" % ids(rcv, "/acts"))

    # An integration added through the admin API gets no event a script routed elsewhere.
    admin = Admin(gw, ADMIN_TOKEN)
    r = admin.create(webhook("later", rcv.url("/later"), channels=POLICY))
    assert r.status_code == 201, r.text
    sent = [policy("soc-2"), policy("noarch-2"), policy("plain-2"), policy("narrow-2")]
    r = gw.post_ndjson(sent)
    assert r.status_code == 200, r.text
    settle(gw, rcv, ["/soc", "/archive", "/later"], "mark-2")
    assert ids(rcv, "/later") == ["mark-2", "noarch-2", "plain-2"]
    assert "soc-2" in ids(rcv, "/soc") and "soc-2" not in ids(rcv, "/archive")
    assert "noarch-2" not in ids(rcv, "/archive")
    gw.assert_running()


def test_unknown_route_name_is_counted_and_logged_once(gateway_factory, receiver_factory, tmp_path):
    rcv = receiver_factory()
    script = tmp_path / "router.lua"
    script.write_text(ROUTER_LUA, encoding="utf-8")
    gw = gateway_factory([webhook("soc", rcv.url("/soc"), channels=POLICY),
                          webhook("archive", rcv.url("/archive"), channels=POLICY)],
                         conf={"scripts": [str(script)], "workers": 2})
    assert metric(gw, "siemrelay_script_unknown_routes_total") == 0
    ghosts = [policy("ghost-%d" % i) for i in range(40)]
    for chunk in (ghosts[:20], ghosts[20:]):
        r = gw.post_ndjson(chunk)
        assert r.status_code == 200, r.text
        s = summary_of(r)
        assert (s["accepted"], s["failed"]) == (20, 0), s
    settle(gw, rcv, ["/soc", "/archive"], "mark")
    # the known part of the route still applies
    assert ids(rcv, "/soc") == sorted(["mark"] + [e["id"] for e in ghosts])
    assert ids(rcv, "/archive") == ["mark"]
    assert metric(gw, "siemrelay_script_unknown_routes_total") == 40
    lines = [l for l in gw.stderr().splitlines() if "no-such-integration" in l]
    assert len(lines) == 1, lines
    assert "no integration is named 'no-such-integration'" in lines[0]


def test_route_from_a_per_integration_script_is_an_error(gateway_factory, receiver_factory, tmp_path):
    rcv = receiver_factory()
    script = tmp_path / "late.lua"
    script.write_text("return { process = function(ev) ev:route{'soc'} end }\n", encoding="utf-8")
    gw = gateway_factory([webhook("soc", rcv.url("/soc"), channels=POLICY, scripts=[str(script)])])
    r = gw.post_json(policy("late-1"))
    assert r.status_code == 200, r.text
    rec = gw.wait_deadletter(lambda d: (d.get("event") or {}).get("id") == "late-1")
    assert rec["integration"] == "soc" and rec["stage"] == "script", rec
    assert "only a global script can route" in rec["reason"], rec
    assert rec["where"] == "%s:1" % script, rec
