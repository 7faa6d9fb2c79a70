-- event_tree.lua - JSON objects and arrays of an event as Lua tables that
-- write back exactly: what ev:get / ev:get_path return for an object or an
-- array, and what ev:set / ev:set_path accept back.
--
-- A decoded table remembers where it came from (the JSON text, and the
-- range of every member), in a weak side table rather than in the table
-- itself, so it is an ordinary Lua table for the script:
--   * integers beyond 2^53 are int64_t cdata (uint64_t above INT64_MAX);
--   * null is json.null, so a member holding null is still there;
--   * arrays carry json.array_mt, so an empty one writes back as [];
--   * keys keep their order: members are written in the order they came,
--     new ones after them (sorted); event.keys(t) lists them in that order.
-- Writing one back copies the original bytes of every member that did not
-- change (escapes, number spelling, 64-bit integers, whitespace compacted
-- later by C) and encodes only what did. What cannot be written back
-- exactly raises an error: an array given keys other than 1..n (a nil in
-- the middle: use json.null), an object read with duplicate keys and then
-- changed, a key that is not a string.
--
-- Loaded by event.lua after its cdefs; not meant to be required directly.
local ffi = require "ffi"
local json = require "json"

local C = ffi.C
local error, pairs, rawequal, type, tostring = error, pairs, rawequal, type, tostring
local setmetatable, sort, sub, format = setmetatable, table.sort, string.sub, string.format
local ffi_string = ffi.string

ffi.cdef [[
struct sr_json_member {
    uint32_t key_off, key_len;
    uint32_t val_off, val_len;
    uint8_t type;
    uint8_t key_escaped;
    uint8_t val_has_ws;
};
int sr_json_object_next(const char *p, size_t n, size_t *pos, struct sr_json_member *m);
int sr_json_array_next(const char *p, size_t n, size_t *pos, struct sr_json_member *m);
]]

local T_NULL, T_STRING, T_ARRAY, T_OBJECT = 0, 4, 5, 6
local null, array_mt = json.null, json.array_mt

-- decoded table -> { src, off, len, keys (objects, in order, duplicates
-- included), koff, klen (raw key text by position), voff, vlen, orig (by
-- key or index), n (arrays), dup }
local meta = setmetatable({}, { __mode = "k" })

local M = {}

local decode

local function decode_array(src, base, off, len, scalar)
    local t, orig, voff, vlen = {}, {}, {}, {}
    local pos, m = ffi.new("size_t[1]"), ffi.new("struct sr_json_member")
    local n = 0
    while C.sr_json_array_next(base + off, len, pos, m) ~= 0 do
        n = n + 1
        local vo, vl = off + m.val_off, m.val_len
        voff[n], vlen[n] = vo, vl
        local v = decode(src, base, vo, vl, m.type, scalar)
        t[n], orig[n] = v, v
    end
    meta[t] = { src = src, off = off, len = len, n = n, orig = orig, voff = voff, vlen = vlen }
    return setmetatable(t, array_mt)
end

local function decode_object(src, base, off, len, scalar)
    local t, orig, keys, koff, klen, voff, vlen = {}, {}, {}, {}, {}, {}, {}
    local pos, m = ffi.new("size_t[1]"), ffi.new("struct sr_json_member")
    local p, n, dup = base + off, 0, false
    while C.sr_json_object_next(p, len, pos, m) ~= 0 do
        local key
        if m.key_escaped ~= 0 then
            key = scalar(p + m.key_off - 1, m.key_len + 2, T_STRING)
        else
            key = ffi_string(p + m.key_off, m.key_len)
        end
        n = n + 1
        if orig[key] ~= nil then
            dup = true
        end
        keys[n], koff[n], klen[n] = key, off + m.key_off - 1, m.key_len + 2
        local vo, vl = off + m.val_off, m.val_len
        voff[key], vlen[key] = vo, vl
        local v = decode(src, base, vo, vl, m.type, scalar)
        t[key], orig[key] = v, v
    end
    meta[t] = {
        src = src, off = off, len = len, keys = keys, koff = koff, klen = klen,
        voff = voff, vlen = vlen, orig = orig, dup = dup,
    }
    return t
end

-- The value of type t at [off, off+len) of src (base = src as a pointer);
-- scalar(p, n, type) decodes strings, numbers and booleans.
decode = function(src, base, off, len, t, scalar)
    if t == T_OBJECT then
        return decode_object(src, base, off, len, scalar)
    elseif t == T_ARRAY then
        return decode_array(src, base, off, len, scalar)
    elseif t == T_NULL then
        return null
    end
    return scalar(base + off, len, t)
end

--- The JSON text (a Lua string) of an object or array as a table.
function M.decode(text, t, scalar)
    return decode(text, ffi.cast("const char *", text), 0, #text, t, scalar)
end

local unchanged

-- Whether the current value v is still the decoded value d, deep.
local function same(v, d)
    if not rawequal(v, d) then
        return false
    end
    if type(v) == "table" then
        return unchanged(v)
    end
    return true
end

local function count(t)
    local c = 0
    for _ in pairs(t) do
        c = c + 1
    end
    return c
end

unchanged = function(t)
    local m = meta[t]
    if m.n then
        if count(t) ~= m.n then
            return false
        end
        for i = 1, m.n do
            if not same(t[i], m.orig[i]) then
                return false
            end
        end
        return true
    end
    local c = 0
    for k, d in pairs(m.orig) do
        if not same(t[k], d) then
            return false
        end
        c = c + 1
    end
    return count(t) == c
end

local function text(m, off, len)
    return sub(m.src, off + 1, off + len)
end

local function encode_array(t, m, out, depth, encode_value)
    local n = #t
    if count(t) ~= n then
        error("cannot write this array back: its keys are not 1.." .. n ..
            " (a nil in the middle? use json.null)", 0)
    end
    out[#out + 1] = "["
    for i = 1, n do
        if i > 1 then
            out[#out + 1] = ","
        end
        local v = t[i]
        if i <= m.n and same(v, m.orig[i]) then
            out[#out + 1] = text(m, m.voff[i], m.vlen[i])
        else
            encode_value(v, out, depth + 1)
        end
    end
    out[#out + 1] = "]"
end

local function encode_object(t, m, out, depth, encode_value, quote)
    if m.dup then
        error("cannot write this object back: it was read with a duplicate key and has " ..
            "changed (set its members with ev:set_path instead)", 0)
    end
    out[#out + 1] = "{"
    local first = true
    local keys, orig = m.keys, m.orig
    for i = 1, #keys do
        local k = keys[i]
        local v = t[k]
        if v ~= nil then
            out[#out + 1] = first and "" or ","
            first = false
            out[#out + 1] = text(m, m.koff[i], m.klen[i])
            out[#out + 1] = ":"
            if same(v, orig[k]) then
                out[#out + 1] = text(m, m.voff[k], m.vlen[k])
            else
                encode_value(v, out, depth + 1)
            end
        end
    end
    local added
    for k in pairs(t) do
        if orig[k] == nil then
            if type(k) ~= "string" then
                error(format("cannot write this object back: a key is a %s (%s), not a string",
                    type(k), tostring(k)), 0)
            end
            added = added or {}
            added[#added + 1] = k
        end
    end
    if added then
        sort(added)
        for i = 1, #added do
            local k = added[i]
            out[#out + 1] = first and "" or ","
            first = false
            out[#out + 1] = quote(k)
            out[#out + 1] = ":"
            encode_value(t[k], out, depth + 1)
        end
    end
    out[#out + 1] = "}"
end

--- Appends the JSON text of t to out and returns true when t was decoded
--- from an event; false (nothing appended) for any other table.
function M.encode(t, out, depth, encode_value, quote)
    local m = meta[t]
    if not m then
        return false
    end
    if unchanged(t) then
        out[#out + 1] = text(m, m.off, m.len)
    elseif m.n then
        encode_array(t, m, out, depth, encode_value)
    else
        encode_object(t, m, out, depth, encode_value, quote)
    end
    return true
end

--- The keys of a table decoded from an object, in their order (members
--- since added come last, sorted); nil for any other table.
function M.keys(t)
    local m = meta[t]
    if not m or m.n then
        return nil
    end
    local out, seen = {}, {}
    for i = 1, #m.keys do
        local k = m.keys[i]
        if t[k] ~= nil and not seen[k] then
            seen[k] = true
            out[#out + 1] = k
        end
    end
    local added = {}
    for k in pairs(t) do
        if m.orig[k] == nil and type(k) == "string" then
            added[#added + 1] = k
        end
    end
    sort(added)
    for i = 1, #added do
        out[#out + 1] = added[i]
    end
    return out
end

return M
