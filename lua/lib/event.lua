-- event.lua - a security event as Lua sees it: an FFI view of the C
-- sr_event (runtime/event/event.h) with methods.
--
--   ev:get(key)             top-level field as a Lua value (nil if absent)
--   ev:label(name)          labels[name] as a string, or nil
--   ev:raw(key)             the field's JSON text, untouched
--   ev:set(key, value)      value: string, number, boolean, int64 cdata, table; nil deletes
--   ev:set_raw(key, json)   JSON text, validated
--   ev:delete(key), ev:drop()
--   (set, set_raw and delete take a top-level name: a name with '.' or '['
--   that the event does not have raises, pointing to set_path)
--   nested fields, labels (section "Paths" below; docs/lua-contract.md):
--   ev:get_path(path), ev:set_path(path, v), ev:set_path_raw(path, json),
--   ev:delete_path(path), ev:rename(from, to), ev:set_label(k, v),
--   ev:delete_label(k), ev:rename_label(from, to)
--   ev:json()               the whole event, edits applied, as one line of JSON
--   ev.severity             0 (most severe) .. 7, or -1 when the event has none
--   ev:type_name()          its "type" ("policy", "command", "audittrail", ...)
--   ev:data_type()          "policy", "activity_audit", "platform_audit", ...
--   ev:channel()            "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", ...
--
-- Numbers come back as Lua numbers when a double holds them exactly, else as
-- int64_t cdata, so 64-bit ids and nanosecond timestamps survive a get/set
-- round trip. Objects and arrays are decoded into tables that write back
-- exactly (event_tree.lua): json.null for null, empty arrays marked, key
-- order and untouched bytes kept.
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
local json = require "json"

local C = ffi.C
local band = bit.band
local error, select, tonumber, tostring, type = error, select, tonumber, tostring, type
local pairs, next, sort, concat = pairs, next, table.sort, table.concat
local getmetatable = getmetatable
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
int sr_lua_ev_set_path(sr_event *ev, const char *const *keys, const uint32_t *lens, uint32_t n,
                       const char *val, uint32_t vlen, sr_json_error *err);
int sr_lua_ev_set_path_string(sr_event *ev, const char *const *keys, const uint32_t *lens,
                              uint32_t n, const char *s, uint32_t slen, sr_json_error *err);
int sr_lua_ev_set_path_raw(sr_event *ev, const char *const *keys, const uint32_t *lens,
                           uint32_t n, const char *val, uint32_t vlen, sr_json_error *err);
int sr_lua_ev_delete_path(sr_event *ev, const char *const *keys, const uint32_t *lens, uint32_t n,
                          sr_json_error *err);
int sr_lua_ev_rename_path(sr_event *ev, const char *const *fkeys, const uint32_t *flens,
                          uint32_t fn, const char *const *tkeys, const uint32_t *tlens, uint32_t tn,
                          sr_json_error *err);
int sr_event_path_parse(const char *s, size_t n, const char **keys, uint32_t *lens, uint32_t max,
                        char *store, sr_json_error *err);
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
int sr_json_to_uint64(const char *p, size_t n, uint64_t *out);
int sr_json_to_double(const char *p, size_t n, double *out);
const char *sr_data_type_name(int dt);
const char *sr_channel_name(unsigned channel_bit);
]]

-- After the cdefs above: it uses sr_event's neighbours' types.
local tree = require "event_tree"

-- sr_json_type
local T_NULL, T_FALSE, T_TRUE, T_NUMBER, T_STRING = 0, 1, 2, 3, 4
local EV_DROPPED = 1
local MAX_EXACT = 2 ^ 53
local MAX_PATH = 32 -- SR_EVENT_PATH_MAX

local int64_t, uint64_t = ffi.typeof("int64_t"), ffi.typeof("uint64_t")

-- Scratch shared by every call in this state: a state runs one event at a
-- time, and results are copied into Lua strings before the next call.
local val = ffi.new("const char *[1]")
local vlen = ffi.new("uint32_t[1]")
local i64 = ffi.new("int64_t[1]")
local u64 = ffi.new("uint64_t[1]")
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
    if C.sr_json_to_uint64(p, n, u64) == 0 then
        return u64[0] -- above INT64_MAX
    end
    C.sr_json_to_double(p, n, dbl)
    return dbl[0]
end

local decode
decode = function(p, n, t)
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
    return tree.decode(ffi_string(p, n), t, decode)
end

---------------------------------------------------------------------------
-- Lua -> JSON text

-- Strings as json.lua writes them: escaped, and bytes that are not UTF-8
-- (a string cut mid-character) written as U+FFFD.
local quote = json.encode_string

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

-- What marks an empty table as an array: json.array_mt and
-- json.empty_array, and those of the json instances sandboxed scripts have
-- of their own (sandbox.lua registers them with mark_arrays).
local array_mts = setmetatable({ [json.array_mt] = true }, { __mode = "k" })
local empty_arrays = setmetatable({ [json.empty_array] = true }, { __mode = "k" })

local function encode_table(t, out, depth)
    if tree.encode(t, out, depth, encode_value, quote) then
        return
    end
    if next(t) == nil and (array_mts[getmetatable(t)] or empty_arrays[t]) then
        out[#out + 1] = "[]"
        return
    end
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
    if rc == -3 then
        error(format("%s('%s'): the event has no top-level field of that name, and %s takes " ..
            "a name, not a path: for a nested field use the _path form, e.g. " ..
            "ev:set_path('%s', v); for a new top-level name with a dot, ev:set_path({'%s'}, v)",
            what, key, what, key, key), 3)
    end
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


---------------------------------------------------------------------------
-- Paths: nested fields, nested edits and labels (runtime/event/event_path.h)
--
-- A path is a string in path syntax, parsed in C once and cached here:
--   content.fields["proc.cmdline"]   labels['kubernetes.pod.name']
--   content.ruleTags[0]              (indexes count from 0)
-- or a Lua array of segments, used as given: strings are keys (dots and
-- all), numbers are array indexes from 0: {"labels", "kubernetes.pod.name"}.

local path_keys2 = ffi.new("const char *[?]", MAX_PATH)
local path_lens2 = ffi.new("uint32_t[?]", MAX_PATH)
local parse_keys = ffi.new("const char *[?]", MAX_PATH)
local parse_lens = ffi.new("uint32_t[?]", MAX_PATH)
local parsed, nparsed = {}, 0
local MAX_PARSED = 1024 -- distinct path strings kept (scripts use a handful)

-- `level` as error's, counted from path_error's caller.
local function path_error(what, path, msg, level)
    local shown = type(path) == "string" and path or "<table>"
    if type(path) == "table" then
        local parts = {}
        for i = 1, #path do
            parts[i] = type(path[i]) == "string" and format("%q", path[i]) or tostring(path[i])
        end
        shown = "{" .. concat(parts, ", ") .. "}"
    end
    error(format("%s(%s): %s", what, type(path) == "string" and "'" .. shown .. "'" or shown, msg),
        level + 1)
end

-- A parsed path string: its segments (keys as Lua strings, indexes as
-- numbers) and, ready for C, `keys`/`lens` arrays pointing at those
-- strings (the table keeps them alive), so a cached path costs no loop.
local function parse_path(s, what)
    local segs = parsed[s]
    if segs then
        return segs
    end
    local store = ffi.new("char[?]", #s + 1)
    local n = C.sr_event_path_parse(s, #s, parse_keys, parse_lens, MAX_PATH, store, jerr)
    if n < 0 then
        path_error(what, s, format("bad path at byte %d: %s", tonumber(jerr.offset) + 1,
            ffi_string(jerr.msg)), 4)
    end
    segs = { n = n, keys = ffi.new("const char *[?]", n), lens = ffi.new("uint32_t[?]", n) }
    for i = 0, n - 1 do
        if parse_keys[i] == nil then
            segs[i + 1] = tonumber(parse_lens[i])
            segs.keys[i] = nil
        else
            segs[i + 1] = ffi_string(parse_keys[i], parse_lens[i])
            segs.keys[i] = segs[i + 1]
        end
        segs.lens[i] = parse_lens[i]
    end
    if nparsed >= MAX_PARSED then
        parsed, nparsed = {}, 0
    end
    parsed[s] = segs
    nparsed = nparsed + 1
    return segs
end

-- `path` (string or segment array) as C arrays: a parsed string's own, or
-- `keys`/`lens` filled from the array. Returns keys, lens, count. Key
-- pointers stay valid: the strings are held by the cache or by the
-- caller's table for the duration of the call.
local function load_path(path, keys, lens, what)
    if type(path) == "string" then
        local segs = parse_path(path, what)
        return segs.keys, segs.lens, segs.n
    elseif type(path) ~= "table" then
        error(format("%s: the path must be a string or an array of segments, got a %s", what,
            type(path)), 3)
    end
    local n = #path
    if n == 0 or n > MAX_PATH then
        path_error(what, path, "a path has 1 to " .. MAX_PATH .. " segments", 3)
    end
    for i = 1, n do
        local seg = path[i]
        if type(seg) == "string" then
            keys[i - 1] = seg
            lens[i - 1] = #seg
        elseif type(seg) == "number" and seg >= 0 and seg < 2 ^ 32 and seg == floor(seg)
            and i > 1 then
            keys[i - 1] = nil
            lens[i - 1] = seg
        else
            path_error(what, path, format("segment %d must be %s, got %s", i,
                i == 1 and "a key (a string)" or "a key or an index from 0", tostring(seg)), 3)
        end
    end
    return keys, lens, n
end

-- `level`: the script's level as seen from path_failed's caller.
local function path_failed(what, path, level)
    local msg = ffi_string(jerr.msg)
    if msg == "out of memory" then
        error(format("%s: out of memory", what), level + 1)
    end
    path_error(what, path, msg, level + 1)
end

-- ev:get_path(path): the value at path, nil when it does not resolve.
-- ev:get_path(k1, k2, ...) (several arguments): each one a key, as given.
function methods.get_path(ev, path, ...)
    local keys, lens, n = path_keys, path_lens, nil
    if select("#", ...) > 0 then
        n = select("#", ...) + 1
        if n > MAX_PATH then
            error("ev:get_path: more than " .. MAX_PATH .. " keys", 2)
        end
        for i = 1, n do
            local k = select(i, path, ...)
            check_key(k, "ev:get_path")
            path_keys[i - 1] = k
            path_lens[i - 1] = #k
        end
    else
        keys, lens, n = load_path(path, path_keys, path_lens, "ev:get_path")
    end
    local t = C.sr_lua_ev_get_path(ev, keys, lens, n, val, vlen)
    if t < 0 then
        return nil
    end
    return decode(val[0], vlen[0], t)
end

-- Sets v at the path in keys/lens (n segments): strings are escaped in C
-- (no pattern matching in Lua on the hot path), other values encoded.
-- `what` and `shown` name the call in errors.
local function set_at(ev, keys, lens, n, v, what, shown)
    local rc
    if type(v) == "string" then
        rc = C.sr_lua_ev_set_path_string(ev, keys, lens, n, v, #v, jerr)
    else
        local s = encode(v)
        rc = C.sr_lua_ev_set_path(ev, keys, lens, n, s, #s, jerr)
    end
    if rc ~= 0 then
        path_failed(what, shown, 3)
    end
end

local function delete_at(ev, keys, lens, n, what, shown)
    local rc = C.sr_lua_ev_delete_path(ev, keys, lens, n, jerr)
    if rc < 0 then
        path_failed(what, shown, 3)
    end
    return rc == 1
end

function methods.set_path(ev, path, v)
    if v == nil then
        return methods.delete_path(ev, path)
    end
    local keys, lens, n = load_path(path, path_keys, path_lens, "ev:set_path")
    set_at(ev, keys, lens, n, v, "ev:set_path", path)
end

function methods.set_path_raw(ev, path, text)
    if type(text) ~= "string" then
        error("ev:set_path_raw: the value must be JSON text, got a " .. type(text), 2)
    end
    local keys, lens, n = load_path(path, path_keys, path_lens, "ev:set_path_raw")
    local rc = C.sr_lua_ev_set_path_raw(ev, keys, lens, n, text, #text, jerr)
    if rc == -2 then
        path_error("ev:set_path_raw", path, format("invalid JSON at byte %d: %s",
            tonumber(jerr.offset), ffi_string(jerr.msg)), 2)
    elseif rc ~= 0 then
        path_failed("ev:set_path_raw", path, 2)
    end
end

-- True when something was removed, false when there was nothing there.
function methods.delete_path(ev, path)
    local keys, lens, n = load_path(path, path_keys, path_lens, "ev:delete_path")
    local removed = delete_at(ev, keys, lens, n, "ev:delete_path", path) -- not a tail call: error levels
    return removed
end

function methods.rename(ev, from, to)
    local fk, fl, fn = load_path(from, path_keys, path_lens, "ev:rename")
    local tk, tl, tn = load_path(to, path_keys2, path_lens2, "ev:rename")
    if C.sr_lua_ev_rename_path(ev, fk, fl, fn, tk, tl, tn, jerr) ~= 0 then
        path_failed("ev:rename", from, 2)
    end
end

-- Labels live in the top-level object "labels" of every Sysdig event type
-- (docs/lua-contract.md); their names are keys with dots in them.
local function label_path(keys, lens, name)
    keys[0] = "labels"
    lens[0] = 6
    keys[1] = name
    lens[1] = #name
end

function methods.set_label(ev, name, v)
    if v == nil then
        return methods.delete_label(ev, name)
    end
    check_key(name, "ev:set_label")
    label_path(path_keys, path_lens, name)
    set_at(ev, path_keys, path_lens, 2, v, "ev:set_label", name)
end

function methods.delete_label(ev, name)
    check_key(name, "ev:delete_label")
    label_path(path_keys, path_lens, name)
    local removed = delete_at(ev, path_keys, path_lens, 2, "ev:delete_label", name) -- not a tail call
    return removed
end

function methods.rename_label(ev, from, to)
    check_key(from, "ev:rename_label")
    check_key(to, "ev:rename_label")
    label_path(path_keys, path_lens, from)
    label_path(path_keys2, path_lens2, to)
    if C.sr_lua_ev_rename_path(ev, path_keys, path_lens, 2, path_keys2, path_lens2, 2,
        jerr) ~= 0 then
        path_failed("ev:rename_label", from, 2)
    end
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

-- Raises "no such method", naming the closest method rather than leaving
-- "attempt to call a nil value". `level` as error's, from the caller.
local function no_such_method(name, level)
    local best, best_d
    for known in pairs(methods) do
        local d = distance(name, known)
        if not best_d or d < best_d or (d == best_d and known < best) then
            best, best_d = known, d
        end
    end
    if best and best_d <= 2 + floor(#name / 4) then
        error(format("ev:%s: no such method; did you mean ev:%s?", name, best), level + 1)
    end
    error(format("ev:%s: no such method", name), level + 1)
end

-- A method lookup that found nothing lands here (hot lookups never do).
setmetatable(methods, { __index = function(_, name)
    if type(name) ~= "string" then
        return nil
    end
    no_such_method(name, 2)
end })

return {
    encode = encode, -- any Lua value as JSON text, integers exact
    enveloped = enveloped, -- encode(ev, conf) from envelope(ev, conf)
    as_is = function() -- an envelope(): the record is the event as it stands
        return "", ""
    end,
    quote = quote,   -- a Lua string as a JSON string
    null = cjson.null,
    keys = tree.keys, -- the keys of a table read from an object, in order
    DROPPED = EV_DROPPED,
    routing = routing, -- script routes of the event being processed (see above)
    -- for event_view.lua and sandbox.lua; a sandboxed script's require
    -- "event" leaves them out
    methods = methods,
    no_such_method = no_such_method,
    mark_arrays = function(mt, empty) -- a sandboxed script's json markers
        array_mts[mt], empty_arrays[empty] = true, true
    end,
}
