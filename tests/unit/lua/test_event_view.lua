-- test_event_view.lua - the method-only view a sandboxed script gets for
-- its event (lua/lib/event_view.lua): every documented method answers on
-- the view exactly as on the cdata (results, errors and the edited event,
-- byte for byte), and nothing of the C struct can be reached through it.
-- Run by tests/unit/test_lualib_event_view.c, which passes the source
-- directory and expects the number of failures back.
local src = ...
local ffi = require "ffi"
local event = require "event"
local json = require "json"
local cjson = require "cjson"
local view = require "event_view"
local sandbox = require "sandbox"

local t = dofile(src .. "/tests/unit/lua/checks.lua")
local check, eq, raises = t.check, t.eq, t.raises

local events = dofile(src .. "/tests/unit/lua/events.lua")(src)
local parse = events.parse

local inputs = {}
for _, name in ipairs({ "policy_event.json", "audit_command.json", "audit_file.json",
    "audit_kube_exec.json", "audit_network.json", "platform_audit.json" }) do
    inputs[#inputs + 1] = { name = name, text = events.compact(events.sample(name)) }
end
for i = 0, 99 do
    inputs[#inputs + 1] = { name = "w1 #" .. i, text = events.w1(i) }
end

-- Calls f(v) with v the view bound to ev, as the host calls a sandboxed
-- script; returns what f returned.
local function through_view(ev, f)
    local out
    view.bind(function(v) out = f(v) end)(ev, nil)
    return out
end

-- A value as text that tells types apart: int64_t from number, an array
-- table from an object, json.null from nil; tables written back exactly.
local function shown(v)
    local tv = type(v)
    if tv == "table" then
        return (getmetatable(v) == json.array_mt and "array:" or "table:") .. event.encode(v)
    elseif tv == "cdata" then
        return "cdata:" .. tostring(ffi.typeof(v)) .. ":" .. tostring(v)
    end
    return tv .. ":" .. tostring(v)
end

-- Every documented method, on every kind of argument, errors included. The
-- results go into `log`; both runs call from these same lines, so error
-- messages (which name the calling line) must match too.
local function exercise(ev, keys, log)
    local function rec(label, ok, ...)
        local parts = { label, tostring(ok) }
        for i = 1, select("#", ...) do
            parts[#parts + 1] = shown((select(i, ...)))
        end
        log[#log + 1] = table.concat(parts, " ")
    end
    rec("severity", true, ev.severity)
    rec("type_name", pcall(function() return ev:type_name() end))
    rec("data_type", pcall(function() return ev:data_type() end))
    rec("channel", pcall(function() return ev:channel() end))
    rec("dropped", pcall(function() return ev:dropped() end))
    for _, k in ipairs(keys) do
        rec("get " .. k, pcall(function() return ev:get(k) end))
        rec("raw " .. k, pcall(function() return ev:raw(k) end))
    end
    rec("get missing", pcall(function() return ev:get("no_such_field") end))
    rec("get number key", pcall(function() return ev:get(1) end))
    rec("get_path string", pcall(function() return ev:get_path('content.fields["proc.cmdline"]') end))
    rec("get_path table", pcall(function() return ev:get_path({ "labels", "kubernetes.cluster.name" }) end))
    rec("get_path keys", pcall(function() return ev:get_path("content", "ruleTags") end))
    rec("get_path index", pcall(function() return ev:get_path("content.ruleTags[0]") end))
    rec("get_path bad", pcall(function() return ev:get_path("content[[") end))
    rec("label", pcall(function() return ev:label("kubernetes.cluster.name") end))
    rec("label missing", pcall(function() return ev:label("no.such.label") end))
    -- exact 64-bit integers both ways
    rec("set int64", pcall(function()
        local ts = ev:get("timestamp")
        if ts then ev:set("ts_copy", ts + 1) end
        return ev:get("ts_copy")
    end))
    rec("set big", pcall(function() ev:set("big", 9007199254740993LL); return ev:get("big") end))
    rec("set_raw big", pcall(function() ev:set_raw("ubig", "18446744073709551615"); return ev:get("ubig") end))
    rec("set string", pcall(function() ev:set("site", "lab \"eu\" \226\152\131") end))
    rec("set number", pcall(function() ev:set("ratio", 0.1) end))
    rec("set table", pcall(function() ev:set("tbl", { a = { 1, 2, json.null }, b = true }) end))
    rec("set nan", pcall(function() ev:set("nan", 0 / 0) end))
    rec("set dotted", pcall(function() ev:set("labels.x", 1) end))
    rec("set_raw bad", pcall(function() ev:set_raw("r", "{bad") end))
    rec("set_raw", pcall(function() ev:set_raw("r", '{"k":[1,2]}') end))
    rec("table round trip", pcall(function()
        local labels = ev:get("labels")
        if labels then
            labels["site.zone"] = "eu-1"
            ev:set("labels", labels)
        end
    end))
    rec("set_path nested", pcall(function() ev:set_path('content.fields["proc.cmdline"]', "[redacted]") end))
    rec("set_path new", pcall(function() ev:set_path("relay.route.hops", 3) end))
    rec("set_path table", pcall(function() ev:set_path({ "relay", "who.am.i" }, { "x" }) end))
    rec("set_path_raw", pcall(function() ev:set_path_raw("relay.raw", "[1, 2 ,3]") end))
    rec("set_path_raw bad", pcall(function() ev:set_path_raw("relay.raw", "[1,") end))
    rec("delete_path", pcall(function() return ev:delete_path("content.policyVersion") end))
    rec("delete_path none", pcall(function() return ev:delete_path("content.nothing.here") end))
    rec("set_path nil", pcall(function() return ev:set_path("relay.route", nil) end))
    rec("rename", pcall(function() ev:rename("relay.raw", "relay.moved") end))
    rec("rename missing", pcall(function() ev:rename("nope.x", "nope.y") end))
    rec("set_label", pcall(function() ev:set_label("owner.team", "platform") end))
    rec("rename_label", pcall(function() ev:rename_label("kubernetes.namespace.name", "k8s_ns") end))
    rec("delete_label", pcall(function() return ev:delete_label("owner.team") end))
    rec("set_label nil", pcall(function() return ev:set_label("k8s_ns", nil) end))
    rec("delete", pcall(function() ev:delete("ratio") end))
    rec("set nil", pcall(function() ev:set("site", nil) end))
    rec("route closed", pcall(function() ev:route("a") end))
    event.routing.open = true
    rec("route", pcall(function() ev:route({ "a", "b" }) end))
    rec("unroute", pcall(function() ev:unroute("b") end))
    rec("route bad", pcall(function() ev:route(7) end))
    event.routing.open = false
    rec("routes", true, event.routing.allow and event.encode(event.routing.allow),
        event.routing.deny and event.encode(event.routing.deny))
    event.routing.allow, event.routing.deny = nil, nil
    rec("no such method", pcall(function() return ev:lable("x") end))
    rec("json", pcall(function() return ev:json() end))
    if ev.severity == 7 then
        rec("drop", pcall(function() ev:drop() end))
    end
    rec("dropped after", pcall(function() return ev:dropped() end))
end

-- Fidelity: the same calls on the cdata and on the view give the same
-- results and leave the same event, field by field and byte for byte.
do
    local compared = 0
    for _, input in ipairs(inputs) do
        local keys = {}
        for k in pairs(cjson.decode(input.text)) do
            keys[#keys + 1] = k
        end
        table.sort(keys)
        local a, b = parse(input.text), parse(input.text)
        local la, lb = {}, {}
        exercise(a, keys, la)
        through_view(b, function(v) exercise(v, keys, lb) end)
        eq(#lb, #la, input.name .. ": calls")
        for i = 1, #la do
            if la[i] ~= lb[i] then
                check(false, input.name .. ": differs\n  cdata: " .. la[i] .. "\n  view:  " .. lb[i])
                break
            end
            compared = compared + 1
        end
        eq(b:json(), a:json(), input.name .. ": the edited event")
        for _, k in ipairs(keys) do
            eq(b:raw(k), a:raw(k), input.name .. ": field " .. k)
        end
        eq(b.flags, a.flags, input.name .. ": flags (dropped)")
    end
    check(compared > 5000, "results compared: " .. compared)
end

-- The helper modules a sandboxed script may require take the view where
-- they take an event, and answer as for the cdata.
do
    local syslog, cef, leef = require "syslog", require "cef", require "leef"
    local secfields, severity = require "secfields", require "severity"
    local function helpers(ev)
        local f = secfields.extract(ev)
        return table.concat({ cef.format(ev), leef.format(ev, "^"), f.list and table.concat(f.list, ","),
            tostring(secfields.severity10(ev)), tostring(severity.label(ev.severity)),
            syslog.message(ev, "body", { format = "RFC_5424", facility = 1, app_name = "sr" }),
            syslog.hostname(ev) }, "\n")
    end
    for _, input in ipairs(inputs) do
        local a, b = parse(input.text), parse(input.text)
        eq(through_view(b, helpers), helpers(a), input.name .. ": helper modules")
    end
end

-- What methods return holds no pointer: every cdata in it is a 64-bit integer.
do
    local int64_t, uint64_t = ffi.typeof("int64_t"), ffi.typeof("uint64_t")
    local seen, bad = 0, 0
    local function walk(v, depth)
        if type(v) == "cdata" then
            seen = seen + 1
            if not (ffi.istype(int64_t, v) or ffi.istype(uint64_t, v)) then
                bad = bad + 1
            end
        elseif type(v) == "table" and depth < 64 then
            for _, x in pairs(v) do
                walk(x, depth + 1)
            end
        end
    end
    for _, input in ipairs(inputs) do
        local ev = parse(input.text)
        through_view(ev, function(v)
            for k in pairs(cjson.decode(input.text)) do
                walk(v:get(k), 0)
                walk(v:get_path(k), 0)
            end
        end)
    end
    check(seen > 100, "64-bit values seen: " .. seen)
    eq(bad, 0, "cdata other than int64_t/uint64_t in method results")
end

-- Containment: a sandboxed script cannot reach the struct, its fields or
-- its pointers through the view, and each attempt fails with a clear error.
local FIELDS = { "raw_bytes", "raw_len", "nmembers", "members", "edits", "nedits", "edits_cap",
    "arena", "data_type_id", "flags", "channel_bit", "msg_type_bit", "seq" }

local PROBE = [[
local FIELDS = ...
return function(ev)
    local out = {}
    local function try(name, f)
        local ok, err = pcall(f)
        out[name] = ok and { ok = true, v = err } or { ok = false, err = tostring(err) }
    end
    for _, k in ipairs(FIELDS) do
        try("read " .. k, function() return ev[k] end)
        try("write " .. k, function() ev[k] = 0 end)
    end
    try("write severity", function() ev.severity = 0 end)
    try("write get", function() ev.get = print end)
    try("getmetatable", function() return getmetatable(ev) end)
    try("getmetatable index", function() return getmetatable(ev).__index end)
    try("rawget", function() return rawget(ev, "raw_bytes") end)
    try("rawset", function() rawset(ev, "get", 1) end)
    try("rawlen via table.insert", function() table.insert(ev, 1) end)
    try("next", function() return next(ev) end)
    try("pairs", function() for k in pairs(ev) do return k end end)
    try("setmetatable", function() setmetatable(ev, {}) end)
    try("__index", function() return ev.__index end)
    try("__metatable", function() return ev.__metatable end)
    try("index 0", function() return ev[0] end)
    try("arith", function() return ev + 0 end)
    try("len", function() return #ev end)
    try("call", function() return ev() end)
    try("tostring", function() return tostring(ev) end)
    try("type", function() return type(ev) end)
    try("method on a table", function() return ev.get({}, "id") end)
    try("method on nil", function() local get = ev.get; return get(nil, "id") end)
    try("event module internals", function()
        local e = require "event"
        return tostring(e.methods) .. " " .. tostring(e.routing) .. " " .. tostring(e.enveloped)
    end)
    try("event module documented", function()
        local e = require "event"
        return e.encode({ n = 1 }) .. e.quote("q") .. type(e.keys) .. tostring(e.null ~= nil)
    end)
    try("json of ev", function() return require("json").encode(ev) end)
    try("event.encode of ev", function() return require("event").encode(ev) end)
    try("set ev into the event", function() ev:set("self", ev) end)
    try("severity", function() return ev.severity end)
    try("get", function() return ev:get("id") end)
    kept = ev
    return out
end
]]

do
    local env = sandbox.env()
    local make = setfenv(assert(loadstring(PROBE, "=probe")), env)
    local probe = make(FIELDS)
    local ev = parse(inputs[1].text)
    local out = through_view(ev, probe)
    local function refused(name, needle)
        local r = out[name]
        check(r and not r.ok and r.err:find(needle, 1, true),
            name .. ": expected an error with '" .. needle .. "', got "
            .. (r and (r.ok and "ok " .. tostring(r.v) or r.err) or "nothing"))
    end
    for _, k in ipairs(FIELDS) do
        refused("read " .. k, "probe:")
        refused("read " .. k, "ev." .. k .. ": a sandboxed script reaches the event through its "
            .. "methods only, not the fields of its C struct")
        refused("write " .. k, "ev." .. k .. " = ...: the event's fields cannot be assigned")
    end
    refused("write severity", "ev.severity = ...: the event's fields cannot be assigned")
    refused("write get", "ev.get = ...: the event's fields cannot be assigned")
    eq(out.getmetatable.ok and out.getmetatable.v, "ffi", "getmetatable(ev) is no table")
    check(out["getmetatable index"].ok and out["getmetatable index"].v == nil,
        "getmetatable(ev).__index: the string \"ffi\" has none")
    refused("rawget", "table expected, got cdata")
    refused("rawset", "table expected, got cdata")
    refused("rawlen via table.insert", "table expected, got cdata")
    refused("next", "table expected, got cdata")
    refused("pairs", "'struct sr_event_view' has no '__pairs' metamethod")
    refused("setmetatable", "table expected, got cdata")
    refused("__index", "probe:")
    refused("__index", "ev:__index: no such method")
    refused("__metatable", "ev:__metatable: no such method")
    refused("index 0", "ev[0]: no such method or field (a sandboxed script's ev has ev:get,")
    refused("arith", "attempt to perform arithmetic on 'struct sr_event_view'")
    refused("len", "attempt to get length of 'struct sr_event_view'")
    refused("call", "'struct sr_event_view' is not callable")
    eq(out.tostring.v, "sr_event (sandboxed view)", "tostring(ev) shows no address")
    eq(out.type.v, "cdata", "type(ev) as before")
    refused("method on a table", "ev:get: called on a table, not on the event")
    refused("method on nil", "ev:get: called on a nil, not on the event")
    eq(out["event module internals"].v, "nil nil nil", "require 'event' leaves its internals out")
    eq(out["event module documented"].v, '{"n":1}"q"functiontrue', "require 'event' documented part")
    refused("json of ev", "cannot encode a cdata")
    refused("event.encode of ev", "cannot encode a cdata")
    refused("set ev into the event", "cannot encode a cdata")
    eq(out.severity.v, 0, "ev.severity")
    eq(out.get.v, "164ace360cc3cfbc26ec22d61b439500", "ev:get")
    eq(ev:get("self"), nil, "nothing was set")

    -- A view kept past its call finds no event.
    local kept = rawget(env, "kept")
    check(kept ~= nil, "the probe kept its ev")
    raises("ev:get: this ev is no longer valid: an ev is only valid during the process(ev, ctx) "
        .. "call it was handed to", "kept ev", function() return kept:get("id") end)
    raises("ev.severity: this ev is no longer valid", "kept ev.severity",
        function() return kept.severity end)
    -- ... and a call that raised leaves it bound until the loop releases it
    local ok = pcall(view.bind(function() error("boom") end), ev, nil)
    check(not ok, "the failing call raised")
    eq(kept:get("id"), "164ace360cc3cfbc26ec22d61b439500", "bound after the error")
    view.release()
    raises("no longer valid", "released", function() return kept:get("id") end)

    -- Even handed to event.lua's own methods, the view is not an sr_event:
    -- the FFI refuses to pass it to C, and it has none of the fields.
    raises("cannot convert 'struct sr_event_view'", "methods.get(view)", event.methods.get, kept, "id")
    raises("cannot convert 'struct sr_event_view'", "methods.json(view)", event.methods.json, kept)
    raises("cannot convert 'struct sr_event_view'", "methods.set(view)", event.methods.set, kept,
        "k", "v")
    raises("not the fields of its C struct", "methods.dropped(view)", event.methods.dropped, kept)
    raises("not the fields of its C struct", "methods.data_type(view)", event.methods.data_type, kept)

    -- The error names the script's line, as an error on the cdata does.
    local line = setfenv(assert(loadstring("\n\nreturn function(ev) return ev.flags end", "=s.lua")), env)()
    local okl, err = pcall(view.bind(line), ev, nil)
    check(not okl and err:find("^s.lua:3: ev.flags: "), "error at the script's line: " .. tostring(err))
    view.release()
end

-- A script that is not sandboxed gets the cdata itself, unchanged.
do
    local ev = parse(inputs[1].text)
    check(ffi.istype("sr_event *", ev) or ffi.istype("sr_event", ev), "parse gives the struct")
    check(tostring(ev):find("^cdata<struct sr_event") ~= nil, "plain ev: " .. tostring(ev))
end

events.free()
return t.summary("event view")
