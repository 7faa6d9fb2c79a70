-- events.lua - real events for Lua unit tests: parsed by the C parser
-- (sr_event_parse) into an arena, with event.lua's methods.
--
--   local events = dofile(src .. "/tests/unit/lua/events.lua")(src)
--   local ev = events.parse(events.sample("policy_event.json"))
--   events.compact(text)   the JSON text compacted (sr_json_compact)
--   events.w1(i)           W1 event i of seed 1 (tests/bench/w1.c; only in
--                          drivers linked with it)
local ffi = require "ffi"
require "event" -- the sr_event, sr_buf and sr_json_error types

ffi.cdef [[
typedef struct sr_arena { void *head; size_t chunk_size; size_t total; } sr_arena;
void sr_arena_init(sr_arena *a, size_t chunk_size);
void sr_arena_free(sr_arena *a);
int sr_event_parse(sr_event *ev, sr_arena *arena, const char *p, size_t n, const void *limits,
                   sr_json_error *err);
int sr_json_compact(const char *p, size_t n, sr_buf *out);
typedef struct w1_info {
    int kind;
    int severity;
    uint64_t timestamp;
    char host[64];
    char cluster[48];
    int has_cluster;
} w1_info;
size_t w1_event(uint64_t seed, uint64_t index, char *out, w1_info *info);
]]

return function(src)
    local arena = ffi.new("sr_arena")
    ffi.C.sr_arena_init(arena, 65536)
    local keep = {} -- the texts parsed: their events point into the arena copy, but keep them anyway

    local M = {}

    function M.parse(text)
        local ev = ffi.new("sr_event")
        local err = ffi.new("sr_json_error")
        keep[#keep + 1] = text
        assert(ffi.C.sr_event_parse(ev, arena, text, #text, nil, err) == 0, ffi.string(err.msg))
        return ev
    end

    -- A sample payload from tests/data, as stored (pretty-printed).
    function M.sample(name)
        local f = assert(io.open(src .. "/tests/data/" .. name, "rb"))
        local text = f:read("*a")
        f:close()
        return text
    end

    function M.compact(text)
        local b = ffi.new("sr_buf")
        assert(ffi.C.sr_json_compact(text, #text, b) == 0)
        local s = ffi.string(b.data, b.len)
        ffi.C.sr_lua_buf_free(b)
        return s
    end

    local w1buf, w1info = ffi.new("char[6144]"), ffi.new("w1_info")
    function M.w1(i)
        local n = ffi.C.w1_event(1, i, w1buf, w1info)
        return ffi.string(w1buf, n)
    end

    function M.free()
        ffi.C.sr_arena_free(arena)
        keep = {}
    end

    return M
end
