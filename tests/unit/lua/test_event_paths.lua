-- test_event_paths.lua - the event API's nested edits, labels and lossless
-- tables (lua/lib/event.lua, event_tree.lua) on real events parsed by the C
-- parser: the samples in tests/data and W1 events (tests/bench/w1.c),
-- compared as raw bytes. Run by tests/unit/test_lualib_event_paths.c, which
-- passes the source directory and expects the number of failures back.
local src = ...
local ffi = require "ffi"
local event = require "event"
local json = require "json"

local t = dofile(src .. "/tests/unit/lua/checks.lua")
local check, eq, raises = t.check, t.eq, t.raises

local events = dofile(src .. "/tests/unit/lua/events.lua")(src)
local parse, compact, w1 = events.parse, events.compact, events.w1

local function sample(name)
    return compact(events.sample(name))
end

-- Byte equality with the position of the first difference on failure.
local function same_bytes(got, want, what)
    if got == want then
        return check(true)
    end
    local i = 1
    while i <= #got and got:byte(i) == want:byte(i) do
        i = i + 1
    end
    check(false, string.format("%s: differ at byte %d\n  got  ...%s\n  want ...%s", what, i,
        got:sub(i, i + 60), want:sub(i, i + 60)))
end

-- `text` with the first plain occurrence of `old` replaced by `new`.
local function replaced(text, old, new)
    local a, b = text:find(old, 1, true)
    assert(a, "not found: " .. old)
    return text:sub(1, a - 1) .. new .. text:sub(b + 1)
end

local SAMPLES = { "policy_event.json", "audit_command.json", "audit_file.json",
    "audit_kube_exec.json", "audit_network.json", "platform_audit.json" }

local inputs = {}
for _, name in ipairs(SAMPLES) do
    inputs[#inputs + 1] = { name = name, text = sample(name) }
end
for i = 0, 199 do
    inputs[#inputs + 1] = { name = "w1 #" .. i, text = w1(i) }
end

-- Table round trip: every object and array field read into a table and set
-- back unchanged leaves the event byte for byte as it was.
do
    local fields = 0
    for _, input in ipairs(inputs) do
        local ev = parse(input.text)
        for _, key in ipairs({ "content", "labels", "actions", "sourceDetails", "user", "args",
            "stages", "sourceAddresses", "dnsDomains" }) do
            local v = ev:get(key)
            if type(v) == "table" then
                ev:set(key, v)
                fields = fields + 1
            end
        end
        same_bytes(ev:json(), input.text, "round trip of " .. input.name)
    end
    check(fields > 400, "tables round-tripped: " .. fields)
end

-- A changed table writes back exactly what set_path writes for the same
-- change: every untouched member keeps its bytes.
do
    local n = 0
    for _, input in ipairs(inputs) do
        local a, b = parse(input.text), parse(input.text)
        local c = a:get("content")
        if type(c) == "table" and type(c.fields) == "table" and c.fields["proc.cmdline"] then
            c.fields["proc.cmdline"] = "[redacted]"
            c.policyVersion = nil
            a:set("content", c)
            b:set_path('content.fields["proc.cmdline"]', "[redacted]")
            b:delete_path("content.policyVersion")
            same_bytes(a:json(), b:json(), "changed table of " .. input.name)
            n = n + 1
        end
        local labels = a:get("labels")
        if labels then
            labels["site.zone"] = "eu-1"
            a:set("labels", labels)
            b:set_label("site.zone", "eu-1")
            same_bytes(a:json(), b:json(), "added label of " .. input.name)
        end
    end
    check(n > 50, "policy events with a command line: " .. n)
end

-- Labels: set, delete and rename in place on every input, checked against
-- the original text with exactly that member changed.
do
    for _, input in ipairs(inputs) do
        local text = input.text
        local ev = parse(text)
        local cluster = ev:label("kubernetes.cluster.name")
        if cluster then
            ev:set_label("kubernetes.cluster.name", "other")
            local want = replaced(text, '"kubernetes.cluster.name":"' .. cluster .. '"',
                '"kubernetes.cluster.name":"other"')
            same_bytes(ev:json(), want, "set_label of " .. input.name)
            ev:rename_label("kubernetes.cluster.name", "cluster")
            want = replaced(want, '"kubernetes.cluster.name":', '"cluster":')
            same_bytes(ev:json(), want, "rename_label of " .. input.name)
            eq(ev:label("cluster"), "other", "renamed label")
            eq(ev:delete_label("cluster"), true, "delete_label")
            eq(ev:delete_label("cluster"), false, "delete_label again")
            check(not ev:json():find('"cluster"', 1, true), "label gone in " .. input.name)
        end
    end
end

-- Path syntax, index segments, segment tables, the legacy key list.
local DOC = '{"type":"policy","severity":3,"ts":1606322948648718268,' ..
    '"labels":{"kubernetes.namespace.name":"prod","a":null,"e":[],"o":{}},' ..
    '"content":{"ruleTags":["x","y"],"fields":{"proc.cmdline":"sh -c secret"},' ..
    '"big":18446744073709551615,"neg":-9223372036854775808,"f":1.50,"s":"\\u2603\\"",' ..
    '"k":[1,{"z":[]},null]},"s":"str","a.b":1}'
do
    local ev = parse(DOC)
    eq(ev:get_path('labels["kubernetes.namespace.name"]'), "prod", "quoted key")
    eq(ev:get_path("labels['kubernetes.namespace.name']"), "prod", "single quotes")
    eq(ev:get_path({ "labels", "kubernetes.namespace.name" }), "prod", "segment table")
    eq(ev:get_path("labels", "kubernetes.namespace.name"), "prod", "key list")
    eq(ev:get_path("content.ruleTags[1]"), "y", "index from 0")
    eq(ev:get_path({ "content", "ruleTags", 0 }), "x", "index segment from 0")
    eq(ev:get_path("content.ruleTags[2]"), nil, "index past the end")
    eq(ev:get_path("labels.kubernetes.namespace.name"), nil, "dots split keys")
    eq(ev:get_path("s.x"), nil, "through a string")
    eq(ev:get_path("labels.a"), nil, "a null value reads as nil (json.null inside tables)")
    eq(ev:get("labels").a, json.null, "null member of a table")
    eq(ev:get_path({ "a.b" }), 1, "a top-level key with a dot")
    eq(tostring(ev:get_path("content.big")), "18446744073709551615ULL", "uint64")
    eq(tostring(ev:get_path("content.neg")), "-9223372036854775808LL", "int64 min")
    eq(tostring(ev:get_path("ts")), "1606322948648718268LL", "int64")
    raises("bad path at byte 3: empty key", "parse error", ev.get_path, ev, "a..b")
    raises("segment 1 must be a key", "index first", ev.get_path, ev, { 0 })
    raises("segment 2 must be a key or an index from 0", "bad segment", ev.get_path, ev,
        { "a", -1 })
    raises("the path must be a string or an array", "bad path type", ev.get_path, ev, 5)
end

-- A table read from an object keeps what a plain decoder loses.
do
    local ev = parse(DOC)
    local c = ev:get("content")
    check(ffi.istype("uint64_t", c.big), "uint64 cdata in a table")
    check(ffi.istype("int64_t", c.neg), "int64 cdata in a table")
    eq(c.f, 1.5, "double")
    eq(c.s, "\226\152\131\"", "unescaped string")
    eq(c.k[3], json.null, "null element")
    eq(getmetatable(c.k[2].z), json.array_mt, "empty array marked")
    eq(table.concat(event.keys(c), ","), "ruleTags,fields,big,neg,f,s,k", "key order")
    -- An untouched member keeps its spelling (1.50, \u2603) when a sibling changes.
    c.fields = nil
    c.added = { 1, json.null, json.array() }
    c.ruleTags[3] = "z"
    ev:set("content", c)
    eq(ev:raw("content"), '{"ruleTags":["x","y","z"],"big":18446744073709551615,' ..
        '"neg":-9223372036854775808,"f":1.50,"s":"\\u2603\\"","k":[1,{"z":[]},null],' ..
        '"added":[1,null,[]]}', "changed table")
    local l = ev:get("labels")
    l.e[1] = "first"
    ev:set("labels", l)
    eq(ev:raw("labels"), '{"kubernetes.namespace.name":"prod","a":null,"e":["first"],"o":{}}',
        "element added to an empty array")
    -- What cannot be written back exactly raises.
    local k = parse(DOC):get_path("content.k")
    k[2] = nil
    raises("its keys are not 1..", "hole in an array", ev.set, ev, "x", k)
    local d = parse('{"type":"policy","c":{"a":1,"a":2}}')
    local dup = d:get("c")
    eq(dup.a, 2, "duplicate key: the last one")
    d:set("c", dup)
    eq(d:raw("c"), '{"a":1,"a":2}', "unchanged duplicate-key object")
    dup.b = 1
    raises("duplicate key", "changed duplicate-key object", d.set, d, "c", dup)
    local o = parse(DOC):get("labels")
    o[1] = "x"
    raises("a key is a number", "number key in an object", ev.set, ev, "labels", o)
    local f = parse(DOC):get("content")
    f.f = 0 / 0
    raises("cannot encode", "NaN", ev.set, ev, "content", f)
end

-- Nested edits from Lua: values of every kind, errors with the path.
do
    local ev = parse(DOC)
    ev:set_path('content.fields["proc.cmdline"]', "[redacted]")
    ev:set_path("content.n", 9007199254740993LL)
    ev:set_path("content.t", { a = 1 })
    ev:set_path("content.ruleTags[2]", true)
    ev:set_path("new.deep.x", 0.25)
    ev:set_path_raw("labels.raw", '{ "x" : [ 1 ] }')
    ev:set_path("labels.q", 'a"b\n\1')
    eq(ev:get_path("labels.q"), 'a"b\n\1', "escaped string value")
    check(ev:json():find('"q":"a\\"b\\n\\u0001"', 1, true), "escapes: " .. ev:json())
    ev:delete_path("labels.q")
    eq(ev:delete_path("content.ruleTags[0]"), true, "delete element")
    eq(ev:delete_path("content.nothing"), false, "delete missing")
    ev:set_path("labels.a", nil)
    ev:rename("content.f", "content.g")
    ev:rename("s", "labels.s")
    eq(ev:json(), '{"type":"policy","severity":3,"ts":1606322948648718268,' ..
        '"labels":{"kubernetes.namespace.name":"prod","e":[],"o":{},"raw":{"x":[1]},"s":"str"},' ..
        '"content":{"ruleTags":["y",true],"fields":{"proc.cmdline":"[redacted]"},' ..
        '"big":18446744073709551615,"neg":-9223372036854775808,"g":1.50,"s":"\\u2603\\"",' ..
        '"k":[1,{"z":[]},null],"n":9007199254740993,"t":{"a":1}},"a.b":1,"new":{"deep":{"x":0.25}}}',
        "nested edits")
    raises("ev:set_path('ts.x'): 'ts' is a number, not an object", "through a number",
        ev.set_path, ev, "ts.x", 1)
    raises("'content.ruleTags[5]' is out of range (2 elements)", "index", ev.set_path, ev,
        "content.ruleTags[5]", 1)
    raises("ev:rename('nope'): 'nope' does not exist", "rename missing", ev.rename, ev, "nope", "x")
    raises("invalid JSON", "set_path_raw", ev.set_path_raw, ev, "a.b", "{")
    local err = raises("'ts' is a number", "level", function() ev:set_path({ "ts", "x" }, 1) end)
    check(err:find('ev:set_path({"ts", "x"})', 1, true), "table path shown: " .. err)
    check(err:find("test_event_paths.lua:", 1, true), "error points at the script: " .. err)
    err = raises("bad path", "level", function() ev:get_path("a[") end)
    check(err:find("test_event_paths.lua:", 1, true), "parse error points at the script: " .. err)
    err = raises("segment 2", "level", function() ev:rename("a", { "a", {} }) end)
    check(err:find("test_event_paths.lua:", 1, true), "segment error points at the script: " .. err)
end

-- ev:set / ev:delete take names: an unknown dotted name raises, pointing to
-- set_path; a real top-level name with a dot still works.
do
    local ev = parse(DOC)
    local err = raises("ev:set('labels.k8s_ns'): the event has no top-level field of that name",
        "dotted set", function() ev:set("labels.k8s_ns", "x") end)
    check(err:find("ev:set_path('labels.k8s_ns', v)", 1, true), "hint: " .. err)
    check(err:find("test_event_paths.lua", 1, true), "error points at the script: " .. err)
    raises("has no top-level field", "dotted set_raw", ev.set_raw, ev, "a[0]", "1")
    raises("has no top-level field", "dotted delete", ev.delete, ev, "x.y")
    ev:set("a.b", 2)
    ev:set_path({ "c.d" }, 3)
    ev:set("c.d", 4)
    eq(ev:get("a.b"), 2, "existing dotted name")
    eq(ev:get("c.d"), 4, "dotted name created through set_path")
    check(not ev:json():find('"labels.k8s_ns"', 1, true), "nothing created")
end

events.free()
return t.summary("event paths")
