-- event_view.lua - the event as a sandboxed site script sees it: a view
-- with the event's documented methods and nothing else
-- (docs/scripting.md#sandbox).
--
-- A script that runs sandboxed is handed this view instead of the sr_event
-- cdata, whose fields (pointers into the gateway's memory among them) any
-- script could read and write. The view is a zero-sized FFI struct of a
-- type of its own, so:
--   * it has no fields: ev.raw_bytes, ev.members, ev.flags, ... raise, and so
--     does every assignment (ev.severity = 1 included);
--   * rawget, rawset, next, pairs and setmetatable refuse a cdata, and
--     getmetatable answers "ffi", never its metatable;
--   * the FFI refuses to pass it where C takes an sr_event * or a string, so
--     even event.lua's own methods, called with the view as the event, fail
--     rather than read memory (scripts cannot reach them anyway);
--   * tostring shows no address.
-- Its methods are exactly the documented ones (NAMES), each calling
-- event.lua's method on the event the view is bound to, so they behave the
-- same on the view as on the cdata; ev.severity reads the event's. Anything
-- a method returns is a Lua value (tables of the event's objects and
-- arrays hold strings, numbers, booleans, json.null and int64_t/uint64_t
-- values), never a pointer. A helper module a script passes the view to
-- (severity, secfields, syslog, cef, leef) reaches the event through the
-- same methods.
--
-- One view per Lua state, bound to the event of the call that is running:
-- bind(process) wraps a sandboxed script's process so that it is called
-- with the view, bound to that call's event until it returns. Binding
-- stores one pointer: no allocation per event. A view used outside any
-- call (kept by a callback the host runs later) finds no event and raises.
--
--   bind(process)  -> function(ev, ctx): process(view, ctx), view bound to ev
--   release()      -> unbinds (event_loop.lua, after a call that failed)

local ffi = require "ffi"
local event = require "event" -- declares sr_event

local methods = event.methods
local error, format, rawequal, tostring, type = error, string.format, rawequal, tostring, type
local assert, loadstring = assert, loadstring
local concat = table.concat

ffi.cdef [[ typedef struct sr_event_view {} sr_event_view; ]]

-- The documented methods (docs/scripting.md, "The event"); ev.severity is
-- the one field.
local NAMES = { "get", "raw", "get_path", "label", "set", "set_raw", "delete", "set_path",
    "set_path_raw", "delete_path", "rename", "set_label", "delete_label", "rename_label",
    "route", "unroute", "drop", "dropped", "json", "type_name", "data_type", "channel" }

-- sr_event's fields as event.lua declares them: named in the refusal.
local FIELDS = { raw_bytes = true, raw_len = true, nmembers = true, members = true,
    edits = true, nedits = true, edits_cap = true, arena = true, severity = true,
    data_type_id = true, flags = true, channel_bit = true, msg_type_bit = true, seq = true }

-- The event of the call running now, NULL between calls. A pointer in C
-- memory rather than an upvalue: storing it boxes nothing.
local current = ffi.new("sr_event *[1]")

local view -- the state's one view, created below

local M = {}

-- `level` as error's, counted from unbound's caller.
local function unbound(what, level)
    error(format("%s: this ev is no longer valid: an ev is only valid during the "
        .. "process(ev, ctx) call it was handed to", what), level + 1)
end

-- The event behind `v` for method `name`; level 3 is the script's call.
local function bound(v, name)
    if not rawequal(v, view) then
        error(format("ev:%s: called on a %s, not on the event (use ev:%s(...))", name,
            type(v), name), 3)
    end
    local ev = current[0]
    if ev == nil then
        unbound("ev:" .. name, 3)
    end
    return ev
end

local vm = {}

-- Each wrapper is compiled from its own source text: closures of one
-- function literal share a prototype, and LuaJIT's traces, keyed by the
-- prototype, would then see a different `m` at every call site and never
-- settle. Two arguments cover every method but get_path (variadic): an
-- argument the script left out arrives as nil, as it would on the cdata.
-- The call is a tail call, so the method's error levels name the script.
local WRAPPER = "local m, bound, name = ... return function(v, a, b) "
    .. "return m(bound(v, name), a, b) end"
local WRAPPER_VARARG = "local m, bound, name = ... return function(v, ...) "
    .. "return m(bound(v, name), ...) end"
for i = 1, #NAMES do
    local name = NAMES[i]
    local text = name == "get_path" and WRAPPER_VARARG or WRAPPER
    vm[name] = assert(loadstring(text, "=event_view.lua: ev:" .. name))(methods[name], bound, name)
end

local listed = "ev:" .. concat(NAMES, ", ev:") .. " and ev.severity"

-- __index is a function rather than vm itself: LuaJIT does not compile a
-- cdata's __index table that has an __index of its own (every lookup went
-- through the interpreter). Past the methods: ev.severity, or a refusal:
-- for a field of the struct naming what there is, for another name as on
-- the cdata. Error level 2 is the script's line.
local function index(_, k)
    local f = vm[k]
    if f ~= nil then
        return f
    end
    if k == "severity" then
        local ev = current[0]
        if ev == nil then
            unbound("ev.severity", 2)
        end
        return ev.severity
    end
    if FIELDS[k] then
        error(format("ev.%s: a sandboxed script reaches the event through its methods only, "
            .. "not the fields of its C struct (%s)", k, listed), 2)
    end
    if type(k) == "string" then
        event.no_such_method(k, 2) -- as on the cdata
    end
    error(format("ev[%s]: no such method or field (a sandboxed script's ev has %s)",
        tostring(k), listed), 2)
end

ffi.metatype("sr_event_view", {
    __index = index,
    __newindex = function(_, k)
        error(format("ev.%s = ...: the event's fields cannot be assigned; edit it with "
            .. "ev:set, ev:set_path, ev:set_label", tostring(k)), 2)
    end,
    __tostring = function()
        return "sr_event (sandboxed view)"
    end,
})

view = ffi.new("sr_event_view")

-- The per-event path is one trace (event_loop.lua), and the wrappers add
-- constants to it (each wrapper, its method, its name): with a nested edit
-- (tests/bench/scripts/w1_redact.lua) that went past LuaJIT's default of
-- 500 IR constants per trace, the loop stopped compiling and a sandboxed
-- redaction cost 40% more instructions than the same script unsandboxed
-- (3.7% with the room below). Only a state that runs a sandboxed script
-- gets the room; the limit is the state's own.
local jit_room = false

function M.bind(process)
    if not jit_room then
        require("jit.opt").start("maxirconst=1000")
        jit_room = true
    end
    return function(ev, ctx)
        current[0] = ev
        local keep = process(view, ctx)
        current[0] = nil
        return keep
    end
end

function M.release()
    current[0] = nil
end

return M
