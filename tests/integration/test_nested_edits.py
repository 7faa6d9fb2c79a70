"""Nested edits end to end: a global site script redacts a nested field
with ev:set_path, renames, adds and deletes labels, changes a table read
with ev:get and sets it back, and copies a 64-bit integer into a new
nested object. The receiver's events are compared field by field (Python
ints: exact 64-bit integers) and in key order against the samples as sent,
and the record's bytes must hold the untouched values as they were sent."""

import json

import pytest

from harness import samples, strict_loads, summary_of, webhook

SCRIPT = r'''
local event = require "event"
local M = {}

function M.process(ev, ctx)
    local id = ev:get("id")
    if type(id) ~= "string" or id:sub(1, 3) ~= "ne-" then
        return true
    end
    if ev:get_path('content.fields["proc.cmdline"]') ~= nil then
        ev:set_path('content.fields["proc.cmdline"]', "[redacted]")
    end
    if ev:label("host.hostName") then
        ev:rename_label("host.hostName", "host")
    end
    ev:delete_label("aws.accountId")
    ev:set_label("site.zone", "eu-1")
    local c = ev:get("content")
    if type(c) == "table" then
        c.checked = true
        ev:set("content", c)
    end
    ev:set_path("relay.ts", ev:get("timestamp"))
    ev:set_path({"relay", "dotted.key"}, 1)
    return true
end

return M
'''


@pytest.fixture(scope="module")
def env(module_gateway_factory, module_receiver_factory, tmp_path_factory):
    d = tmp_path_factory.mktemp("nested")
    s = d / "nested.lua"
    s.write_text(SCRIPT, encoding="utf-8")
    rcv = module_receiver_factory()
    gw = module_gateway_factory([webhook("a", rcv.url("/a"))], conf={"scripts": [str(s)]})
    return gw, rcv


def expected(sent):
    """What the script must make of `sent` (a dict in the sample's key order)."""
    e = json.loads(json.dumps(sent))
    labels = e.get("labels")
    if labels is not None:
        labels = {("host" if k == "host.hostName" else k): v for k, v in labels.items()
                  if k != "aws.accountId"}
        labels["site.zone"] = "eu-1"
    else:
        labels = {"site.zone": "eu-1"}
    e["labels"] = labels
    c = e.get("content")
    if isinstance(c, dict):
        if isinstance(c.get("fields"), dict) and "proc.cmdline" in c["fields"]:
            c["fields"]["proc.cmdline"] = "[redacted]"
        c["checked"] = True
    e["relay"] = {"ts": sent["timestamp"], "dotted.key": 1}
    return e


def same_in_order(got, want, where):
    """Field by field, recursively, key order included; ints compared as
    Python ints (exact)."""
    if isinstance(want, dict):
        assert isinstance(got, dict), where
        assert list(got.keys()) == list(want.keys()), "%s: keys %r, want %r" % (
            where, list(got.keys()), list(want.keys()))
        for k in want:
            same_in_order(got[k], want[k], where + "." + k)
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            same_in_order(g, w, "%s[%d]" % (where, i))
    else:
        assert type(got) is type(want) and got == want, "%s: %r, want %r" % (where, got, want)


def test_nested_edits_reach_the_receiver_exactly(env):
    gw, rcv = env
    sent = []
    for name, raw, parsed in samples():
        new_id = "ne-" + parsed["id"]
        raw2 = raw.replace(parsed["id"].encode(), new_id.encode(), 1)
        r = gw.post(raw2, content_type="application/json")
        assert r.status_code == 200, r.text
        s = summary_of(r)
        assert (s["accepted"], s["failed"]) == (1, 0), s
        sent.append(strict_loads(raw2))
    crafted = {"type": "policy", "id": "ne-crafted", "timestamp": 9223372036854775807, "severity": 3,
               "content": {"fields": {"proc.cmdline": "curl -H 'Authorization: secret'", "n": None},
                           "big": 18446744073709551615, "neg": -9223372036854775808,
                           "e": [], "o": {}, "arr": [1, None, {"z": []}], "s": "\u2603\"\\"},
               "labels": {"kubernetes.cluster.name": "prod", "host.hostName": "h1"}}
    r = gw.post(json.dumps(crafted, ensure_ascii=False).encode(), content_type="application/json")
    assert r.status_code == 200, r.text
    sent.append(crafted)

    evs = rcv.wait_for(len(sent), path="/a")
    got = {e["id"]: e for e in evs}
    for e in sent:
        same_in_order(got[e["id"]], expected(e), e["id"])

    body = b"".join(req.body for req in rcv.requests_for("/a"))
    # Untouched bytes as sent: the 64-bit integers and escapes of the
    # crafted event, and no secret left anywhere.
    assert b'"big":18446744073709551615,"neg":-9223372036854775808,"e":[],"o":{},' \
           b'"arr":[1,null,{"z":[]}]' in body
    assert b'"proc.cmdline":"[redacted]","n":null' in body
    assert b"secret" not in body
    assert b'"relay":{"ts":9223372036854775807,"dotted.key":1}' in body
