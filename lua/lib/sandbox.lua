-- sandbox.lua - what a sandboxed site script can reach (`script_sandbox:
-- true`, or `sandbox: true` in one script's entry; docs/scripting.md#sandbox).
--
-- The host (runtime/lua/lua_state.c) runs such a script with the
-- environment env() returns instead of one reading through to _G. Its
-- globals are a fixed list of safe functions and copies of the standard
-- libraries (so a script cannot replace string.format under the modules
-- that share the state); `require` gives only the helper modules below, as
-- read-only views; `load` and `loadstring` take text only and run it in the
-- sandbox. Left out: io, os but its clock functions, debug, ffi, jit,
-- package (loadlib, native loaders), dofile, loadfile, getfenv, setfenv,
-- module, newproxy, print, string.dump; and the metatable of strings.
-- The event such a script gets is a method-only view (event_view.lua), and
-- `require "event"` gives it encode, quote, null and keys only.
--
--   require("sandbox").env() -> a fresh environment for one script

local setmetatable, getmetatable, type, pairs, error, tostring =
    setmetatable, getmetatable, type, pairs, error, tostring
local real_require, real_load, setfenv = require, load, setfenv

local M = {}

-- The helper modules a sandboxed script may require (lua/lib/ and the
-- linked-in C ones that touch nothing outside the state).
local REQUIRABLE = {
    event = true, log = true, json = true, time = true, severity = true,
    secfields = true, syslog = true, cef = true, leef = true,
    cjson = true, ["cjson.safe"] = true, ["siemrelay.crypto"] = true,
}

-- Modules a sandboxed script sees only part of: `event` without its
-- internals (the routing state, the methods that take the raw event).
local EXPOSED = {
    event = { encode = true, quote = true, null = true, keys = true },
}

local function copy(t, leave_out)
    local out = {}
    for k, v in pairs(t) do
        if not (leave_out and leave_out[k]) then
            out[k] = v
        end
    end
    return out
end

-- A view of a module a script can read and call but not change: modules
-- are shared with the integrations in the same state.
local function readonly(mod, name)
    if type(mod) ~= "table" then
        return mod
    end
    return setmetatable({}, {
        __index = mod,
        __newindex = function()
            error("sandbox: module '" .. name .. "' is read-only", 2)
        end,
        __metatable = false,
    })
end

local globals -- shared by every sandboxed script of the state, built once

local function build()
    local g = {
        assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
        pcall = pcall, xpcall = xpcall, select = select, tonumber = tonumber,
        tostring = tostring, type = type, unpack = unpack, rawget = rawget,
        rawset = rawset, rawequal = rawequal, setmetatable = setmetatable,
        _VERSION = _VERSION,
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
    -- The string metatable's __index is the real string table.
    g.getmetatable = function(v)
        if type(v) == "string" then
            return nil
        end
        return getmetatable(v)
    end
    g.collectgarbage = function(opt, arg)
        if opt == nil or opt == "collect" or opt == "count" or opt == "step" then
            return collectgarbage(opt, arg)
        end
        error("sandbox: collectgarbage('" .. tostring(opt) .. "') is not available", 2)
    end
    g.require = function(name)
        if libs[name] then
            return libs[name]
        end
        if not REQUIRABLE[name] then
            error("sandbox: require '" .. tostring(name) .. "' is not available (a sandboxed "
                .. "script may require: event, log, json, time, severity, secfields, syslog, "
                .. "cef, leef, cjson, cjson.safe, siemrelay.crypto, bit, string, table, math, "
                .. "coroutine, os)", 2)
        end
        local mod = real_require(name)
        if EXPOSED[name] then
            local part = {}
            for k in pairs(EXPOSED[name]) do
                part[k] = mod[k]
            end
            mod = part
        end
        return readonly(mod, name)
    end
    local function sandboxed_load(chunk, name, mode, env)
        if mode ~= nil and mode ~= "t" then
            return nil, "sandbox: only text chunks can be loaded"
        end
        local f, err = real_load(chunk, name, "t")
        if not f then
            return nil, err
        end
        return setfenv(f, env or M.env())
    end
    g.load = sandboxed_load
    g.loadstring = function(s, name)
        return sandboxed_load(s, name, "t")
    end
    g._G = g
    return g
end

function M.env()
    globals = globals or build()
    return setmetatable({}, { __index = globals, __metatable = false })
end

return M
