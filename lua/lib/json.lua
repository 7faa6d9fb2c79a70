-- json.lua - JSON text from Lua values (encode), and Lua values from JSON
-- text (decode, through the linked-in lua-cjson).
--
-- encode(value) rules:
--   nil, json.null (= cjson.null)  -> null
--   booleans                       -> true / false
--   int64_t / uint64_t cdata       -> the exact integer (no LL / ULL suffix)
--   numbers                        -> integral values as integers ("3", not
--                                     "3.0"), others with %.17g (round-trips);
--                                     NaN and infinities raise an error
--   strings                        -> quoted; '"', '\' and control characters
--                                     escaped, UTF-8 kept as is, a byte that is
--                                     not part of UTF-8 written as U+FFFD
--   tables                         -> an array when the keys are exactly 1..n,
--                                     else an object with keys in sorted order
--                                     (stable output: records are compared and
--                                     hashed downstream). Number keys of an
--                                     object become strings. An empty table is
--                                     {} unless it is json.empty_array or was
--                                     marked with json.array(t).
--   anything else                  -> error; so is a cycle
--
-- decode(text) -> value, or nil and a message. Numbers become doubles: do not
-- round-trip events through it (the event API keeps them exact); it is for
-- small documents such as platform responses.
local ffi = require "ffi"

local ok_cjson, cjson = pcall(require, "cjson.safe")
if not ok_cjson then
    cjson = nil
end

local type, pairs, next, tostring, error = type, pairs, next, tostring, error
local format, gsub, find, byte, sub = string.format, string.gsub, string.find, string.byte, string.sub
local concat, sort = table.concat, table.sort
local floor, huge = math.floor, math.huge
local getmetatable, setmetatable = getmetatable, setmetatable
local istype = ffi.istype

ffi.cdef [[
int sr_lua_json_plain(const char *s, size_t n);
size_t sr_lua_utf8_clean(const char *s, size_t n, char *out);
]]
local C = ffi.C

local M = {}

-- Marks a table as an array so that it encodes as [] when empty.
local array_mt = {}
M.array_mt = array_mt

function M.array(t)
    return setmetatable(t or {}, array_mt)
end

M.empty_array = setmetatable({}, {
    __index = function() return nil end,
    __newindex = function() error("json.empty_array is read-only", 2) end,
})

M.null = cjson and cjson.null or ffi.cast("void *", nil)

local cjson_array_mt = cjson and cjson.array_mt
local cjson_empty_array = cjson and cjson.empty_array

local escapes = {
    ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
    ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}
for i = 0, 31 do
    local c = string.char(i)
    if not escapes[c] then
        escapes[c] = format("\\u%04x", i)
    end
end
escapes["\127"] = "\\u007f"

local function quote(s)
    local plain = C.sr_lua_json_plain(s, #s)
    if plain == 1 then
        return '"' .. s .. '"'
    end
    if plain == 2 then
        -- Bytes that are not UTF-8 (a string cut mid-character) would make
        -- the document invalid for every strict reader: U+FFFD instead.
        local out = ffi.new("char[?]", 3 * #s)
        s = ffi.string(out, C.sr_lua_utf8_clean(s, #s, out))
    end
    return '"' .. gsub(s, '[%c"\\]', escapes) .. '"'
end

--- A Lua string as a JSON string literal.
M.encode_string = quote

local function number(x)
    if x ~= x or x == huge or x == -huge then
        error("json.encode: cannot encode " .. tostring(x), 0)
    end
    if x == floor(x) and x > -1e18 and x < 1e18 then
        return format("%d", x)
    end
    return format("%.17g", x)
end

local function int64(v)
    if istype("int64_t", v) or istype("uint64_t", v) then
        local s = tostring(v)
        -- "123LL", "123ULL"
        return sub(s, 1, #s - (byte(s, -3) == 85 and 3 or 2))
    end
    return nil
end

-- True when t's keys are exactly 1..n (n >= 1).
local function is_array(t)
    local n = #t
    if n == 0 then
        return false
    end
    local count = 0
    for _ in pairs(t) do
        count = count + 1
        if count > n then
            return false
        end
    end
    return count == n
end

local function key_string(k)
    local tk = type(k)
    if tk == "string" then
        return k
    elseif tk == "number" then
        return number(k)
    end
    error("json.encode: cannot use a " .. tk .. " as an object key", 0)
end

local function encode_value(v, buf, n, seen)
    local tv = type(v)
    if tv == "string" then
        n = n + 1; buf[n] = quote(v)
    elseif tv == "number" then
        n = n + 1; buf[n] = number(v)
    elseif tv == "boolean" then
        n = n + 1; buf[n] = v and "true" or "false"
    elseif tv == "nil" then
        n = n + 1; buf[n] = "null"
    elseif tv == "table" then
        if seen[v] then
            error("json.encode: cycle detected", 0)
        end
        if v == M.empty_array then
            n = n + 1; buf[n] = "[]"
            return n
        end
        seen[v] = true
        if is_array(v) then
            n = n + 1; buf[n] = "["
            for i = 1, #v do
                if i > 1 then
                    n = n + 1; buf[n] = ","
                end
                n = encode_value(v[i], buf, n, seen)
            end
            n = n + 1; buf[n] = "]"
        elseif next(v) == nil then
            local mt = getmetatable(v)
            local arr = mt ~= nil and (mt == array_mt or mt == cjson_array_mt)
            n = n + 1; buf[n] = arr and "[]" or "{}"
        else
            local keys, nk = {}, 0
            for k in pairs(v) do
                nk = nk + 1
                keys[nk] = key_string(k)
            end
            -- Number keys were converted; map their text back to the key.
            local lookup
            for k in pairs(v) do
                if type(k) ~= "string" then
                    lookup = lookup or {}
                    lookup[key_string(k)] = k
                end
            end
            sort(keys)
            n = n + 1; buf[n] = "{"
            for i = 1, nk do
                local ks = keys[i]
                if i > 1 then
                    n = n + 1; buf[n] = ","
                end
                n = n + 1; buf[n] = quote(ks)
                n = n + 1; buf[n] = ":"
                local val = v[ks]
                if val == nil and lookup then
                    val = v[lookup[ks]]
                end
                n = encode_value(val, buf, n, seen)
            end
            n = n + 1; buf[n] = "}"
        end
        seen[v] = nil
    elseif tv == "cdata" then
        local s = int64(v)
        if s then
            n = n + 1; buf[n] = s
        elseif v == nil then -- a NULL pointer: cjson.null and json.null
            n = n + 1; buf[n] = "null"
        else
            error("json.encode: cannot encode a cdata of type " .. tostring(ffi.typeof(v)), 0)
        end
    elseif tv == "userdata" and v == M.null then
        n = n + 1; buf[n] = "null"
    elseif tv == "userdata" and cjson_empty_array ~= nil and v == cjson_empty_array then
        n = n + 1; buf[n] = "[]"
    else
        error("json.encode: cannot encode a " .. tv, 0)
    end
    return n
end

--- JSON text of a Lua value; raises on values JSON cannot hold and on cycles.
function M.encode(v)
    -- Scalars are common (ev:set("k", "v")): no buffer for them.
    local tv = type(v)
    if tv == "string" then
        return quote(v)
    elseif tv == "number" then
        return number(v)
    end
    local buf = {}
    local n = encode_value(v, buf, 0, {})
    return concat(buf, "", 1, n)
end

--- Lua value of JSON text, or nil and a message.
function M.decode(text)
    if not cjson then
        error("json.decode: cjson.safe is not available (the host preloads it)", 2)
    end
    if type(text) ~= "string" then
        return nil, "json.decode: expected a string, got a " .. type(text)
    end
    return cjson.decode(text)
end

return M
