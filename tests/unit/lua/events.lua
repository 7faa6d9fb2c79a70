-- events.lua - real events for Lua unit tests: parsed by the C parser
-- (sr_event_parse) into an arena, with event.lua's methods.
--
--   local events = dofile(src .. "/tests/unit/lua/events.lua")(src)
--   local ev = events.parse(events.sample("policy_event.json"))
local ffi = require "ffi"
require "event" -- the sr_event, sr_buf and sr_json_error types

ffi.cdef [[
typedef struct sr_arena { void *head; size_t chunk_size; size_t total; } sr_arena;
void sr_arena_init(sr_arena *a, size_t chunk_size);
void sr_arena_free(sr_arena *a);
int sr_event_parse(sr_event *ev, sr_arena *arena, const char *p, size_t n, const void *limits,
                   sr_json_error *err);
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

    function M.free()
        ffi.C.sr_arena_free(arena)
        keep = {}
    end

    return M
end
