-- log.lua - site scripts' lines in the gateway's own log.
--
--   local log = require "log"
--   log.warn("unexpected rule", { rule = ev:get("name"), id = ev:get("id") })
--
-- log.debug / info / warn / error(msg, fields): `msg` a string, `fields` an
-- optional table (written as JSON, 64-bit integers exact). The line has
-- component "script" and is tagged with the calling script's FILE:LINE; it
-- follows the gateway's logging.level and logging.format:
--
--   2026-12-05T19:10:00.000Z warn  [script] unexpected rule script="/etc/siemrelay/tag.lua:12" fields={"id":"x"}
--   {"time":"...","level":"warn","component":"script","msg":"unexpected rule",
--    "script":"/etc/siemrelay/tag.lua:12","fields":{"id":"x"}}
--
-- The same message from the same line is written at most 5 times in 10
-- seconds; the next line written for it carries suppressed=N, the count of
-- those held back (runtime/lua/script_stats.h).

local ffi = require "ffi"
local event = require "event"

local C = ffi.C
local getinfo, sub = debug.getinfo, string.sub
local error, tostring, type = error, tostring, type

ffi.cdef [[
int sr_log_enabled(int level);
void sr_lua_log(void *stats, int level, const char *where, size_t wlen, const char *msg,
                size_t mlen, const char *fields, size_t flen);
]]

local DEBUG, INFO, WARN, ERROR = 0, 1, 2, 3

-- The process's script counters and log limits, handed over by the host
-- (runtime/lua/lua_state.c) when it builds the state; nil: no limit.
local stats = nil

local function emit(level, msg, fields)
    if C.sr_log_enabled(level) == 0 then
        return
    end
    msg = tostring(msg)
    local ftext = ""
    if fields ~= nil then
        if type(fields) ~= "table" then
            error("log: fields must be a table, got a " .. type(fields), 3)
        end
        ftext = event.encode(fields)
    end
    local info = getinfo(3, "Sl")
    local where = "?"
    if info and sub(info.source, 1, 1) == "@" then
        where = sub(info.source, 2) .. ":" .. info.currentline
    end
    C.sr_lua_log(stats, level, where, #where, msg, #msg, ftext, #ftext)
end

return {
    debug = function(msg, fields) emit(DEBUG, msg, fields) end,
    info = function(msg, fields) emit(INFO, msg, fields) end,
    warn = function(msg, fields) emit(WARN, msg, fields) end,
    error = function(msg, fields) emit(ERROR, msg, fields) end,
    -- for the host only
    attach = function(p) stats = p end,
}
