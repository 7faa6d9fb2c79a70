-- event.lua - a security event as Lua sees it: an FFI view of the C
-- sr_event (runtime/event/event.h) with methods.
--
--   ev:get(key)             top-level field as a Lua value (nil if absent)
--   ev:get_path(k1, k2, ...) nested field, e.g. ev:get_path("content", "fields")
--   ev:label(name)          labels[name] as a string, or nil
--   ev:raw(key)             the field's JSON text, untouched
--   ev:set(key, value)      value: string, number, boolean, int64 cdata, table; nil deletes
--   ev:set_raw(key, json)   JSON text, validated
--   ev:delete(key), ev:drop()
--   ev:json()               the whole event, edits applied, as one line of JSON
--   ev.severity             0 (most severe) .. 7, or -1 when the event has none
--   ev:type_name()          its "type" ("policy", "command", "audittrail", ...)
--   ev:data_type()          "policy", "activity_audit", "platform_audit", ...
--   ev:channel()            "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", ...
--
-- Numbers come back as Lua numbers when a double holds them exactly, else as
-- int64_t cdata, so 64-bit ids and nanosecond timestamps survive a get/set
-- round trip. Objects and arrays are decoded into tables (fine for reading;
-- use raw/set_raw to pass them through exactly).
--
-- An ev is only valid during the call it was handed to: do not keep it.
--
-- This module owns the cdefs of sr_event, sr_buf and sr_json_error (a type
-- can be declared once per state): other modules require "event" for them.
-- tests/unit/test_ffi_layouts.c checks every struct a cdef under lua/
-- declares against the C definition, field by field.
-- Lua reaches C through the sr_lua_* wrappers of runtime/lua/lua_ffi.c rather
-- than sr_event_* directly, because the wrappers tell the script watchdog
-- when it must not interrupt.

local ffi = require "ffi"
local bit = require "bit"
local cjson = require "cjson.safe"

local C = ffi.C
local band = bit.band
local error, select, tonumber, tostring, type = error, select, tonumber, tostring, type
local pairs, sort, concat = pairs, table.sort, table.concat
local floor, huge = math.floor, math.huge
local format, gsub, byte = string.format, string.gsub, string.byte
local ffi_string, istype = ffi.string, ffi.istype

ffi.cdef [[
typedef struct sr_buf { char *data; size_t len; size_t cap; } sr_buf;
typedef struct sr_json_error { size_t offset; char msg[120]; } sr_json_error;

/* Field names differ from event.h where a method has the C name (raw,
 * data_type, channel, msg_type): a struct field hides the method of the
 * same name. Only the layout has to match event.h. */
typedef struct sr_event {
    const char *raw_bytes;
    uint32_t raw_len;
    uint32_t nmembers;
    struct sr_json_member *members;
    struct sr_event_edit *edits;
    uint32_t nedits, edits_cap;
    struct sr_arena *arena;
    int32_t severity;
    uint8_t data_type_id;
    uint8_t flags;
    uint16_t channel_bit;
    uint16_t msg_type_bit;
    uint32_t seq;
} sr_event;

int sr_lua_ev_get(const sr_event *ev, const char *key, uint32_t klen, const char **val,
                  uint32_t *vlen);
int sr_lua_ev_get_path(const sr_event *ev, const char *const *path, const uint32_t *lens,
                       uint32_t n, const char **val, uint32_t *vlen);
int sr_lua_ev_set(sr_event *ev, const char *key, uint32_t klen, const char *val, uint32_t vlen);
int sr_lua_ev_set_raw(sr_event *ev, const char *key, uint32_t klen, const char *val,
                      uint32_t vlen, sr_json_error *err);
int sr_lua_ev_set_string(sr_event *ev, const char *key, uint32_t klen, const char *s,
                         uint32_t slen);
int sr_lua_ev_set_int(sr_event *ev, const char *key, uint32_t klen, int64_t v);
int sr_lua_ev_delete(sr_event *ev, const char *key, uint32_t klen);
void sr_lua_ev_drop(sr_event *ev);
int sr_lua_ev_fork(sr_event *dst, const sr_event *src);
int sr_lua_ev_write(const sr_event *ev, sr_buf *out);
int sr_lua_json_unescape(const char *p, size_t n, sr_buf *out);
int sr_lua_json_token_escaped(const char *p, size_t n);
void sr_lua_buf_free(sr_buf *b);
int sr_json_to_int64(const char *p, size_t n, int64_t *out);
int sr_json_to_double(const char *p, size_t n, double *out);
const char *sr_data_type_name(int dt);
const char *sr_channel_name(unsigned channel_bit);
]]

-- sr_json_type
local T_NULL, T_FALSE, T_TRUE, T_NUMBER, T_STRING = 0, 1, 2, 3, 4
local EV_DROPPED = 1
local MAX_EXACT = 2 ^ 53
local MAX_PATH = 16

local int64_t, uint64_t = ffi.typeof("int64_t"), ffi.typeof("uint64_t")

-- Scratch shared by every call in this state: a state runs one event at a
-- time, and results are copied into Lua strings before the next call.
local val = ffi.new("const char *[1]")
local vlen = ffi.new("uint32_t[1]")
local i64 = ffi.new("int64_t[1]")
local dbl = ffi.new("double[1]")
local path_keys = ffi.new("const char *[?]", MAX_PATH)
local path_lens = ffi.new("uint32_t[?]", MAX_PATH)
local jerr = ffi.new("sr_json_error")
local scratch = ffi.gc(ffi.new("sr_buf"), C.sr_lua_buf_free)

---------------------------------------------------------------------------
-- JSON text -> Lua

local function decode_number(p, n)
    if C.sr_json_to_int64(p, n, i64) == 0 then
        local v = i64[0]
        if v >= -MAX_EXACT and v <= MAX_EXACT then
            return tonumber(v)
        end
        return v
    end
    C.sr_json_to_double(p, n, dbl)
    return dbl[0]
end

local function decode(p, n, t)
    if t == T_STRING then
        if C.sr_lua_json_token_escaped(p, n) == 0 then
            return ffi_string(p + 1, n - 2)
        end
        if C.sr_lua_json_unescape(p, n, scratch) ~= 0 then
            error("out of memory", 3)
        end
        return ffi_string(scratch.data, scratch.len)
    elseif t == T_NUMBER then
        return decode_number(p, n)
    elseif t == T_TRUE then
        return true
    elseif t == T_FALSE then
        return false
    elseif t == T_NULL then
        return nil
    end
    local v, err = cjson.decode(ffi_string(p, n))
    if v == nil then
        error("cannot decode: " .. tostring(err), 3)
    end
    return v
end

---------------------------------------------------------------------------
-- Lua -> JSON text

local escapes = {
    ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
    ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}
local function escape_char(c)
    return escapes[c] or format("\\u%04x", byte(c))
end

local function quote(s)
    return '"' .. gsub(s, '[%c"\\]', escape_char) .. '"'
end

-- Integers exactly; other numbers in the shortest form that reads back the
-- same double.
local function number_text(v)
    if v ~= v or v == huge or v == -huge then
        error("cannot encode " .. tostring(v) .. " as JSON", 4)
    end
    if v == floor(v) and v >= -MAX_EXACT and v <= MAX_EXACT then
        return format("%d", v)
    end
    local s = format("%.14g", v)
    if tonumber(s) ~= v then
        s = format("%.17g", v)
    end
    return s
end

local encode_value

local function encode_table(t, out, depth)
    local n, count = #t, 0
    for _ in pairs(t) do
        count = count + 1
    end
    if count > 0 and count == n then
        out[#out + 1] = "["
        for i = 1, n do
            if i > 1 then
                out[#out + 1] = ","
            end
            encode_value(t[i], out, depth + 1)
        end
        out[#out + 1] = "]"
        return
    end
    -- Sorted keys keep records stable from one run to the next.
    local keys = {}
    for k in pairs(t) do
        keys[#keys + 1] = tostring(k)
    end
    sort(keys)
    out[#out + 1] = "{"
    for i = 1, #keys do
        local k = keys[i]
        local v = t[k]
        if v == nil then
            v = t[tonumber(k)]
        end
        out[#out + 1] = (i > 1 and "," or "") .. quote(k) .. ":"
        encode_value(v, out, depth + 1)
    end
    out[#out + 1] = "}"
end

encode_value = function(v, out, depth)
    if depth > 64 then
        error("cannot encode a table nested deeper than 64 (a cycle?)", 4)
    end
    local tv = type(v)
    if tv == "string" then
        out[#out + 1] = quote(v)
    elseif tv == "number" then
        out[#out + 1] = number_text(v)
    elseif tv == "boolean" then
        out[#out + 1] = v and "true" or "false"
    elseif tv == "table" then
        encode_table(v, out, depth)
    elseif tv == "nil" or v == cjson.null then
        out[#out + 1] = "null"
    elseif istype(int64_t, v) then
        out[#out + 1] = (gsub(tostring(v), "LL$", ""))
    elseif istype(uint64_t, v) then
        out[#out + 1] = (gsub(tostring(v), "ULL$", ""))
    else
        error("cannot encode a " .. tv .. " as JSON", 4)
    end
end

-- Any Lua value as JSON text.
local function encode(v)
    local out = {}
    encode_value(v, out, 0)
    return concat(out)
end

---------------------------------------------------------------------------
-- Methods

local function check_key(key, what)
    if type(key) ~= "string" then
        error(what .. ": the key must be a string, got a " .. type(key), 3)
    end
end

local function check_rc(rc, what, key)
    if rc ~= 0 then
        error(format("%s('%s'): out of memory", what, key), 3)
    end
end

local methods = {}

function methods.get(ev, key)
    check_key(key, "ev:get")
    local t = C.sr_lua_ev_get(ev, key, #key, val, vlen)
    if t < 0 then
        return nil
    end
    return decode(val[0], vlen[0], t)
end

function methods.get_path(ev, ...)
    local n = select("#", ...)
    if n > MAX_PATH then
        error("ev:get_path: more than " .. MAX_PATH .. " keys", 2)
    end
    for i = 1, n do
        local k = select(i, ...)
        check_key(k, "ev:get_path")
        -- The pointer stays valid: the string is an argument of this call.
        path_keys[i - 1] = k
        path_lens[i - 1] = #k
    end
    local t = C.sr_lua_ev_get_path(ev, path_keys, path_lens, n, val, vlen)
    if t < 0 then
        return nil
    end
    return decode(val[0], vlen[0], t)
end

function methods.label(ev, name)
    check_key(name, "ev:label")
    path_keys[0] = "labels"
    path_lens[0] = 6
    path_keys[1] = name
    path_lens[1] = #name
    local t = C.sr_lua_ev_get_path(ev, path_keys, path_lens, 2, val, vlen)
    if t ~= T_STRING then
        return nil
    end
    return decode(val[0], vlen[0], t)
end

function methods.raw(ev, key)
    check_key(key, "ev:raw")
    if C.sr_lua_ev_get(ev, key, #key, val, vlen) < 0 then
        return nil
    end
    return ffi_string(val[0], vlen[0])
end

function methods.set(ev, key, v)
    check_key(key, "ev:set")
    local tv, rc = type(v), nil
    if tv == "string" then
        rc = C.sr_lua_ev_set_string(ev, key, #key, v, #v)
    elseif tv == "number" and v == floor(v) and v >= -MAX_EXACT and v <= MAX_EXACT then
        rc = C.sr_lua_ev_set_int(ev, key, #key, v)
    elseif tv == "nil" then
        rc = C.sr_lua_ev_delete(ev, key, #key)
    elseif tv == "cdata" and istype(int64_t, v) then
        rc = C.sr_lua_ev_set_int(ev, key, #key, v)
    else
        local s = encode(v)
        rc = C.sr_lua_ev_set(ev, key, #key, s, #s)
    end
    check_rc(rc, "ev:set", key)
end

function methods.set_raw(ev, key, json)
    check_key(key, "ev:set_raw")
    if type(json) ~= "string" then
        error("ev:set_raw: the value must be JSON text, got a " .. type(json), 2)
    end
    local rc = C.sr_lua_ev_set_raw(ev, key, #key, json, #json, jerr)
    if rc == -2 then
        error(format("ev:set_raw('%s'): invalid JSON at byte %d: %s", key,
            tonumber(jerr.offset), ffi_string(jerr.msg)), 2)
    end
    check_rc(rc, "ev:set_raw", key)
end

function methods.delete(ev, key)
    check_key(key, "ev:delete")
    check_rc(C.sr_lua_ev_delete(ev, key, #key), "ev:delete", key)
end

function methods.drop(ev)
    C.sr_lua_ev_drop(ev)
end

function methods.dropped(ev)
    return band(ev.flags, EV_DROPPED) ~= 0
end

function methods.json(ev)
    if C.sr_lua_ev_write(ev, scratch) ~= 0 then
        error("ev:json(): out of memory", 2)
    end
    return ffi_string(scratch.data, scratch.len)
end

function methods.type_name(ev)
    return methods.get(ev, "type")
end

local data_type_names, channel_names = {}, {}

function methods.data_type(ev)
    local id = ev.data_type_id
    local name = data_type_names[id]
    if not name then
        name = ffi_string(C.sr_data_type_name(id))
        data_type_names[id] = name
    end
    return name
end

function methods.channel(ev)
    local b = ev.channel_bit
    local name = channel_names[b]
    if name == nil then
        local p = C.sr_channel_name(b)
        name = p ~= nil and ffi_string(p) or false
        channel_names[b] = name
    end
    return name or nil
end

ffi.metatype("sr_event", { __index = methods })

-- The encode(ev, conf) of a module that defines envelope(ev, conf): the
-- same record as a Lua string. The pipeline itself calls envelope and has C
-- write the record; this serves every other caller (tests, tools).
local function enveloped(envelope)
    return function(ev, conf)
        local pre, suf = envelope(ev, conf)
        if pre == nil then
            return nil
        end
        return pre .. ev:json() .. suf
    end
end

---------------------------------------------------------------------------
-- Routing from scripts, and answers for a mistyped method
--
--   ev:route(names)    only the named integrations get the event (a name or
--                      a list; a second call narrows further)
--   ev:unroute(names)  the named integrations do not get it
--
-- Both are for global scripts: they decide before any integration has the
-- event. The loop (event_loop.lua) resets `routing` for each event, opens
-- it while the global scripts run, and asks its skip_reason() per
-- integration. `known` holds the configured integration names; a name
-- outside it is reported through routing.unknown (counted, logged once).

local routing = { allow = nil, deny = nil, open = false, known = {}, unknown = nil }

local function route_names(what, names)
    if not routing.open then
        error(what .. ": only a global script can route an event (a per-integration script "
            .. "runs after routing)", 3)
    end
    if type(names) == "string" then
        names = { names }
    elseif type(names) ~= "table" then
        error(what .. ": expected an integration name or a list of names, got a "
            .. type(names), 3)
    end
    local known, unknown = routing.known, routing.unknown
    for i = 1, #names do
        local name = names[i]
        if type(name) ~= "string" then
            error(what .. ": integration names are strings, got a " .. type(name), 3)
        end
        if not known[name] and unknown then
            unknown(name)
        end
    end
    return names
end

function methods.route(ev, names)
    names = route_names("ev:route", names)
    local prev, allow = routing.allow, {}
    for i = 1, #names do
        local name = names[i]
        if not prev or prev[name] then
            allow[name] = true
        end
    end
    routing.allow = allow
end

function methods.unroute(ev, names)
    names = route_names("ev:unroute", names)
    local deny = routing.deny or {}
    for i = 1, #names do
        deny[names[i]] = true
    end
    routing.deny = deny
end

-- Levenshtein distance, for suggestions (short names only).
local function distance(a, b)
    local la, lb = #a, #b
    local prev, cur = {}, {}
    for j = 0, lb do
        prev[j] = j
    end
    for i = 1, la do
        cur[0] = i
        local ca = byte(a, i)
        for j = 1, lb do
            local cost = ca == byte(b, j) and 0 or 1
            local d = prev[j] + 1
            if cur[j - 1] + 1 < d then
                d = cur[j - 1] + 1
            end
            if prev[j - 1] + cost < d then
                d = prev[j - 1] + cost
            end
            cur[j] = d
        end
        prev, cur = cur, prev
    end
    return prev[lb]
end

-- A method lookup that found nothing lands here (hot lookups never do):
-- name the closest method rather than "attempt to call a nil value".
setmetatable(methods, { __index = function(_, name)
    if type(name) ~= "string" then
        return nil
    end
    local best, best_d
    for known in pairs(methods) do
        local d = distance(name, known)
        if not best_d or d < best_d or (d == best_d and known < best) then
            best, best_d = known, d
        end
    end
    if best and best_d <= 2 + floor(#name / 4) then
        error(format("ev:%s: no such method; did you mean ev:%s?", name, best), 2)
    end
    error(format("ev:%s: no such method", name), 2)
end })

return {
    encode = encode, -- any Lua value as JSON text, integers exact
    enveloped = enveloped, -- encode(ev, conf) from envelope(ev, conf)
    as_is = function() -- an envelope(): the record is the event as it stands
        return "", ""
    end,
    quote = quote,   -- a Lua string as a JSON string
    null = cjson.null,
    DROPPED = EV_DROPPED,
    routing = routing, -- script routes of the event being processed (see above)
}
