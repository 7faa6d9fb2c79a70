-- test_sandbox.lua - what a sandboxed script can reach is its own
-- (lua/lib/sandbox.lua): no table it can reach from its globals, the
-- helper modules it may require, their metatables, what their functions
-- return or the arrays of the event is one the gateway's modules or another
-- script use; whatever it changes, the gateway's helpers give the same
-- output; and the array marker still crosses (ev:set of its json.array({})
-- writes []). Run by tests/unit/test_lualib_sandbox.c, which passes the
-- source directory and expects the number of failures back.
local src = ...
local event = require "event"
local json = require "json"
local view = require "event_view"
local sandbox = require "sandbox"

local t = dofile(src .. "/tests/unit/lua/checks.lua")
local check, eq, raises = t.check, t.eq, t.raises

local events = dofile(src .. "/tests/unit/lua/events.lua")(src)
local parse = events.parse
local SAMPLES = { "policy_event.json", "audit_command.json", "audit_network.json",
    "platform_audit.json" }
local texts = {}
for i, name in ipairs(SAMPLES) do
    texts[i] = events.compact(events.sample(name))
end

local MODULES = { "event", "log", "json", "time", "severity", "secfields", "syslog", "cef",
    "leef", "cjson", "cjson.safe", "siemrelay.crypto" }
local LIBS = { "string", "table", "math", "bit", "coroutine", "os" }

-- A sandboxed script's chunk, run in env; what it returned.
local function run(env, text, name)
    return setfenv(assert(loadstring(text, "=" .. name)), env)()
end

-- Calls f(v) with v the view bound to ev, as the host calls a sandboxed
-- script.
local function through_view(ev, f)
    local out
    view.bind(function(v) out = f(v) end)(ev, nil)
    return out
end

-- Every table reachable from `roots` by keys, values and metatables (as
-- `getmeta` shows them), and, with `call`, the tables the helper modules'
-- functions return for a few arguments.
local function args() -- new tables each time: a function may keep or mark one
    return { {}, { {} }, { "[[1],{}]" }, { "x" }, { 3 } }
end
local function reach(roots, getmeta, call)
    local seen = {}
    local function walk(v, calls)
        if type(v) ~= "table" or seen[v] then
            return
        end
        seen[v] = true
        walk(getmeta(v), calls)
        for k, x in pairs(v) do
            walk(k, calls)
            walk(x, calls)
            if calls and type(x) == "function" then
                for _, a in ipairs(args()) do
                    local res = { pcall(x, unpack(a)) }
                    for i = 2, #res do
                        walk(res[i], false)
                    end
                end
            end
        end
    end
    for _, r in ipairs(roots) do
        walk(r.value, call and r.call)
    end
    return seen
end

-- What a sandboxed script in env reaches: its globals, every module it may
-- require, and the event's objects and arrays as its methods return them.
local function script_reach(env)
    local roots = { { value = env._G } }
    for _, name in ipairs(MODULES) do
        roots[#roots + 1] = { value = env.require(name), call = name ~= "log" }
    end
    for _, name in ipairs(LIBS) do
        roots[#roots + 1] = { value = env.require(name) }
    end
    local ev = parse(texts[1])
    through_view(ev, function(v)
        roots[#roots + 1] = { value = v:get("content") }
        roots[#roots + 1] = { value = v:get("labels") }
        roots[#roots + 1] = { value = v:get_path("content.ruleTags") }
    end)
    return reach(roots, env.getmetatable, true)
end

-- What the gateway's own modules and an unsandboxed script reach.
local function host_reach()
    local roots = { { value = _G }, { value = package.loaded } }
    for _, name in ipairs(MODULES) do
        roots[#roots + 1] = { value = require(name) }
    end
    local ev = parse(texts[1])
    roots[#roots + 1] = { value = ev:get("content") }
    return reach(roots, getmetatable, false)
end

-- Nothing shared: not with the host, not between two scripts.
do
    local a, b = sandbox.env(), sandbox.env()
    local ra, rb, host = script_reach(a), script_reach(b), host_reach()
    local na, shared_host, shared_ab = 0, {}, {}
    for tab in pairs(ra) do
        na = na + 1
        if host[tab] then
            shared_host[#shared_host + 1] = tab
        end
        if rb[tab] then
            shared_ab[#shared_ab + 1] = tab
        end
    end
    check(na > 60, "the walk reached the script's tables: " .. na)
    eq(#shared_host, 0, "tables a sandboxed script shares with the gateway")
    eq(#shared_ab, 0, "tables two sandboxed scripts share")
    for _, name in ipairs(MODULES) do
        check(a.require(name) ~= require(name), name .. ": the script's own")
        check(a.require(name) == a.require(name), name .. ": one per script")
    end
    eq(a.require("string"), a.string, "require 'string' is the script's string")
    check(a.string ~= b.string and a.string ~= string, "string: each script's own copy")
end

-- What each module offers: event and log their functions only, no
-- internals; cjson a working instance with `new`.
do
    local env = sandbox.env()
    local keys = {}
    for k in pairs(env.require("event")) do
        keys[#keys + 1] = k
    end
    table.sort(keys)
    eq(table.concat(keys, ","), "encode,keys,null,quote", "require 'event'")
    eq(env.require("log").attach, nil, "log.attach is the host's")
    check(type(env.require("log").warn) == "function", "log.warn")
    local c = env.require("cjson")
    local c2 = c.new()
    check(c2 ~= c and c2.encode ~= c.encode, "cjson.new: another instance")
    eq(c2.encode({ 1, "a" }), '[1,"a"]', "cjson.new's instance works")
    eq(env.require("cjson.safe").decode("[1"), nil, "cjson.safe stays safe")
    raises("not available", "ffi", env.require, "ffi")
    raises("not available", "sandbox", env.require, "sandbox")
    -- a chunk the script loads lives in the script's world
    local same = run(env, "return loadstring('return require(\"json\")')() == require('json')", "l")
    eq(same, true, "loadstring's chunk requires the script's json")
end

-- What the gateway's helpers give for the samples (and another sandboxed
-- script's), before and after a sandboxed script changed every table of its
-- helpers it knows of.
local SNAPSHOT = [[
local cef, leef, syslog = require "cef", require "leef", require "syslog"
local secfields, json, cjson, time = require "secfields", require "json", require "cjson", require "time"
return function(ev)
    local tags = ev:get_path("content.ruleTags") or json.array({})
    tags[#tags + 1] = "grown"
    return table.concat({ cef.format(ev), leef.format(ev), syslog.message(ev, "m",
        { format = "RFC_5424", facility = syslog.facility("local3"), app_name = "t" }),
        table.concat(secfields.extract(ev).list, ","), json.encode({ json.array({}),
        json.empty_array, tags, { a = 1.5 } }), cjson.encode({ 1.234567891234, { { { 1 } } } }),
        table.concat(time.units, ","), string.format("%05d", 7) }, "\n")
end
]]

-- The same chunk run as an unsandboxed script: the gateway's helpers.
local host_snapshot = setfenv(assert(loadstring(SNAPSHOT, "=host")),
    setmetatable({}, { __index = _G }))()

local VANDAL = [[
local json, secfields, cef, leef = require "json", require "secfields", require "cef", require "leef"
local syslog, time, severity = require "syslog", require "time", require "severity"
local function pwned() return "PWNED" end
return function(ev)
    for i = #secfields.sources, 1, -1 do table.remove(secfields.sources, i) end
    secfields.extract, secfields.severity10 = pwned, pwned
    cef.keys[1], leef.keys[1] = { "id", "PWNED" }, { "id", "PWNED" }
    cef.VENDOR, leef.VENDOR = "PWNED", "PWNED"
    syslog.facilities.local3 = 1
    time.units[1] = "PWNED"
    severity.label = pwned
    local arr = ev:get_path("content.ruleTags")
    for _, mt in ipairs({ json.array_mt, getmetatable(arr), getmetatable(json.array({})) }) do
        rawset(mt, "__newindex", function() end)
        rawset(mt, "__index", function() return "PWNED" end)
    end
    rawset(json.empty_array, 1, "PWNED")
    getmetatable(json.empty_array).__index = function() return "PWNED" end
    for _, name in ipairs({ "cjson", "cjson.safe" }) do
        local c = require(name)
        c.encode_number_precision(1)
        c.encode_max_depth(2)
        c.decode_max_depth(2)
    end
    string.format = pwned
    table.concat = pwned
    return true
end
]]

do
    local bystander = sandbox.env()
    local snapshot = run(bystander, SNAPSHOT, "bystander")
    local function all()
        local out = {}
        for i, text in ipairs(texts) do
            out[#out + 1] = host_snapshot(parse(text))
            out[#out + 1] = through_view(parse(text), snapshot)
        end
        return out
    end
    local before = all()
    check(before[1]:find("\n[[],[],[", 1, true) and before[1]:find("\"grown\"", 1, true),
        "the snapshot sees arrays: " .. before[1])
    eq(before[1], before[2], "a sandboxed script's helpers give what the gateway's give")
    local vandal = sandbox.env()
    local wreck = run(vandal, VANDAL, "vandal")
    for _, text in ipairs(texts) do
        check(through_view(parse(text), wreck), "the vandal ran")
    end
    local after = all()
    for i = 1, #before do
        eq(after[i], before[i], "output " .. i .. " after a sandboxed script changed its helpers")
    end
    -- ... while the vandal's own helpers did change
    local own = run(vandal, "return require('cef').VENDOR .. require('syslog').facility('local3')",
        "own")
    eq(own, "PWNED1", "the vandal's own helpers")
end

-- The array marker crosses: an array from the event shows the script's own
-- json.array_mt (its real one is the gateway's, unchanged), and the
-- script's json.array({}) and json.empty_array write [] through the event.
do
    local env = sandbox.env()
    local ev = parse(texts[1])
    local f = run(env, [[
        local json, event = require "json", require "event"
        return function(ev)
            local tags = ev:get_path("content.ruleTags")
            ev:set_raw("empty", "[]")
            ev:set("a", json.array({}))
            ev:set("b", json.empty_array)
            ev:set_path("c.d", { json.array({}), { x = json.empty_array } })
            return { tags = tags, shown = getmetatable(tags) == json.array_mt,
                empty = json.encode(ev:get("empty")), enc = event.encode({ json.array({}) }),
                plain_empty = getmetatable(json.array({})) == json.array_mt }
        end
    ]], "marker")
    local out = through_view(ev, f)
    eq(out.shown, true, "getmetatable(an event's array) is the script's json.array_mt")
    eq(getmetatable(out.tags), json.array_mt, "... and really the gateway's")
    eq(out.plain_empty, true, "json.array's marker")
    eq(out.empty, "[]", "the script's json.encode of an event's empty array")
    eq(out.enc, "[[]]", "event.encode of the script's json.array({})")
    eq(ev:raw("a"), "[]", "ev:set(k, json.array({}))")
    eq(ev:raw("b"), "[]", "ev:set(k, json.empty_array)")
    eq(ev:raw("c"), '{"d":[[],{"x":[]}]}', "ev:set_path with the script's markers")
    eq(event.encode({ a = {} }), '{"a":{}}', "an unmarked empty table is still an object")
end

events.free()
return t.summary("sandbox")
