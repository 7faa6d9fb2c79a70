-- sandbox.lua - what a sandboxed site script can reach (`script_sandbox:
-- true`, or `sandbox: true` in one script's entry; docs/scripting.md#sandbox).
--
-- The host (runtime/lua/lua_state.c) runs such a script with the
-- environment env() returns instead of one reading through to _G. Its
-- globals are a fixed list of safe functions and copies of the standard
-- libraries; `load` and `loadstring` take text only and run it in the
-- sandbox. Left out: io, os but its clock functions, debug, ffi, jit,
-- package (loadlib, native loaders), dofile, loadfile, getfenv, setfenv,
-- module, newproxy, print, string.dump; and the metatable of strings.
-- The event such a script gets is a method-only view (event_view.lua).
--
-- Nothing a sandboxed script can reach is used by anyone else: not by the
-- gateway's own modules, not by an unsandboxed script, not by another
-- sandboxed script. Each call of env() builds a world of its own:
--   * its globals and its copies of string, table, math, bit, coroutine, os;
--   * the pure-Lua helper modules (OWN) as instances of its own, compiled
--     from their source in lua/lib, requiring each other within the world;
--     whatever the script changes in them (json.array_mt,
--     secfields.sources, cef.keys, ...) is its own;
--   * cjson and cjson.safe as instances of their own (the host's opener
--     called again): their settings (encode_number_precision, ...) are the
--     instance's;
--   * event, log and siemrelay.crypto as a new table of functions that keep
--     nothing a script could change (event without its internals, log
--     without attach).
-- The one place the worlds meet is the array marker: arrays a method of
-- the event returns carry the gateway's json.array_mt, which getmetatable
-- shows to the script (and to its modules) as the script's own
-- json.array_mt; and the gateway's encoder (event.lua) takes the script's
-- json.array_mt and json.empty_array as its own (event.mark_arrays), so
-- ev:set(k, json.array({})) writes [].
-- Building a world costs compiling the helpers a script requires, once per
-- script (when it requires them, at load as a rule); an event costs
-- nothing more.
--
--   require("sandbox").env() -> a fresh environment (and world) for one script

local setmetatable, getmetatable, type, pairs, error, tostring, assert =
    setmetatable, getmetatable, type, pairs, error, tostring, assert
local real_require, real_load, loadstring, setfenv = require, load, loadstring, setfenv
local io_open, searchpath = io.open, package.searchpath
local G = _G

local event = real_require "event"
local mark_arrays = event.mark_arrays
-- The gateway's array marker, on every array an event's method returns.
local host_array_mt = real_require("json").array_mt

local M = {}

-- The helper modules a sandboxed script may require, by how it gets them.
-- Pure-Lua modules of lua/lib: an instance of its own, from their source.
local OWN = {
    json = true, time = true, severity = true, secfields = true, syslog = true, cef = true,
    leef = true,
}
-- C modules with settings: a new instance from the host's (guarded) opener.
local OPENERS = { cjson = package.preload.cjson, ["cjson.safe"] = package.preload["cjson.safe"] }
-- Functions that keep no state a script can change, in a new table; true:
-- all of the module's.
local FUNCTIONS = {
    event = { "encode", "quote", "null", "keys" },
    log = { "debug", "info", "warn", "error" },
    ["siemrelay.crypto"] = true,
}

local REQUIRABLE_LIST = "event, log, json, time, severity, secfields, syslog, cef, leef, cjson, "
    .. "cjson.safe, siemrelay.crypto, bit, string, table, math, coroutine, os"

local function copy(t, leave_out)
    local out = {}
    for k, v in pairs(t) do
        if not (leave_out and leave_out[k]) then
            out[k] = v
        end
    end
    return out
end

-- The source text of lua/lib modules, read once per state.
local sources = {}

local function compile(name)
    local s = sources[name]
    if not s then
        local path = assert(searchpath(name, package.path))
        local f = assert(io_open(path, "rb"))
        s = { text = f:read("*a"), chunkname = "@" .. path }
        f:close()
        sources[name] = s
    end
    return assert(loadstring(s.text, s.chunkname))
end

-- A new cjson (or cjson.safe) instance; its `new` gives another one from
-- the host's opener (cjson's own would skip the watchdog's guard).
local function cjson_instance(name)
    local inst = OPENERS[name]()
    inst.new = function()
        return cjson_instance(name)
    end
    return inst
end

local function functions_of(name)
    local mod, names = real_require(name), FUNCTIONS[name]
    local out = {}
    if names == true then
        for k, v in pairs(mod) do
            if type(v) == "function" then
                out[k] = v
            end
        end
    else
        for i = 1, #names do
            out[names[i]] = mod[names[i]]
        end
    end
    return out
end

-- One script's modules. get(name, for_module) -> the world's instance of a
-- module (ffi for the helpers' own code only), nil for one not offered.
local function world()
    local loaded = {}
    local array_mt -- the world's json.array_mt as its json was loaded
    local get

    -- getmetatable as the script and its helpers see it: the gateway's
    -- array marker shows as the world's own.
    local function shown_metatable(v)
        if type(v) == "string" then
            return nil -- its __index is the real string table
        end
        local mt = getmetatable(v)
        if mt == host_array_mt then
            if not array_mt then
                get("json")
            end
            return array_mt
        end
        return mt
    end

    -- The helpers' globals: the real ones (the script cannot reach this
    -- table), but require and getmetatable are the world's.
    local modules_env = setmetatable({
        require = function(name)
            local m = get(name, true)
            if m == nil then
                error("sandbox: a helper module required '" .. tostring(name) .. "'", 2)
            end
            return m
        end,
        getmetatable = shown_metatable,
    }, { __index = G })

    get = function(name, for_module)
        local m = loaded[name]
        if m ~= nil then
            return m
        end
        if OWN[name] then
            local chunk = compile(name)
            setfenv(chunk, modules_env)
            m = chunk(name)
            if name == "json" then
                array_mt = m.array_mt
                mark_arrays(m.array_mt, m.empty_array)
            end
        elseif OPENERS[name] then
            m = cjson_instance(name)
        elseif FUNCTIONS[name] then
            m = functions_of(name)
        elseif name == "ffi" and for_module then
            return real_require("ffi")
        else
            return nil
        end
        loaded[name] = m
        return m
    end
    return get, shown_metatable
end

-- The globals of one script: built for each, so that no two scripts share
-- a table (string.format replaced by one is not replaced for another).
local function globals()
    local get, shown_metatable = world()
    local g = {
        assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
        pcall = pcall, xpcall = xpcall, select = select, tonumber = tonumber,
        tostring = tostring, type = type, unpack = unpack, rawget = rawget,
        rawset = rawset, rawequal = rawequal, setmetatable = setmetatable,
        getmetatable = shown_metatable, _VERSION = _VERSION,
    }
    local libs = {
        string = copy(string, { dump = true }),
        table = copy(table),
        math = copy(math),
        bit = copy(real_require("bit")),
        coroutine = copy(coroutine),
        os = { time = os.time, clock = os.clock, date = os.date, difftime = os.difftime },
    }
    for name, lib in pairs(libs) do
        g[name] = lib
    end
    g.collectgarbage = function(opt, arg)
        if opt == nil or opt == "collect" or opt == "count" or opt == "step" then
            return collectgarbage(opt, arg)
        end
        error("sandbox: collectgarbage('" .. tostring(opt) .. "') is not available", 2)
    end
    g.require = function(name)
        local m = libs[name] or get(name)
        if m == nil then
            error("sandbox: require '" .. tostring(name) .. "' is not available (a sandboxed "
                .. "script may require: " .. REQUIRABLE_LIST .. ")", 2)
        end
        return m
    end
    -- A chunk loaded without an environment of its own gets a new one
    -- reading through to these globals: the same world as the script's.
    local function sandboxed_load(chunk, name, mode, env)
        if mode ~= nil and mode ~= "t" then
            return nil, "sandbox: only text chunks can be loaded"
        end
        local f, err = real_load(chunk, name, "t")
        if not f then
            return nil, err
        end
        return setfenv(f, env or setmetatable({}, { __index = g, __metatable = false }))
    end
    g.load = sandboxed_load
    g.loadstring = function(s, name)
        return sandboxed_load(s, name, "t")
    end
    g._G = g
    return g
end

function M.env()
    return setmetatable({}, { __index = globals(), __metatable = false })
end

return M
