-- script_check.lua - what `siemrelay --check` says about a site script
-- beyond loading it: assignments to globals, found in the compiled
-- bytecode without running any of the script.
--
-- A site script runs in its own environment, so a global it sets does not
-- leak into others; but it is shared by every event the state processes,
-- which is rarely what a missing `local` meant.
--
--   require("script_check").globals(path) -> { { name = "x", line = 12 }, ... }
--   (in the order of the file; nil, err when the file does not compile)

local jutil = require "jit.util"
local bit = require "bit"

local band, rshift = bit.band, bit.rshift
local funcbc, funcinfo, funck = jutil.funcbc, jutil.funcinfo, jutil.funck
local loadfile, loadstring, tostring, type = loadfile, loadstring, tostring, type

-- An instruction's D operand is a string constant when its mode says so
-- (jit/bc.lua's BCMstr).
local function d_string(f, ins, m)
    if band(m, 15 * 128) ~= 10 * 128 or band(m, 15 * 8) ~= 0 then
        return nil
    end
    return funck(f, -rshift(ins, 16) - 1)
end

-- GSET's opcode, learnt from a probe chunk rather than a table of opcode
-- numbers (which differ between LuaJIT versions): the probe's only
-- instruction with the string operand "probe_" is its global store.
local function find_gset()
    local probe = loadstring("probe_ = 0")
    local pc = 1
    while true do
        local ins, m = funcbc(probe, pc)
        if not ins then
            return nil
        end
        if d_string(probe, ins, m) == "probe_" then
            return band(ins, 0xff)
        end
        pc = pc + 1
    end
end

local GSET = find_gset()

local function scan(f, out)
    local pc = 1
    while true do
        local ins, m = funcbc(f, pc)
        if not ins then
            break
        end
        if band(ins, 0xff) == GSET then
            local name = d_string(f, ins, m)
            out[#out + 1] = { name = tostring(name), line = funcinfo(f, pc).currentline }
        end
        pc = pc + 1
    end
    -- nested functions are the proto constants (as jit/bc.lua finds them)
    local n = -1
    while true do
        local k = funck(f, n)
        if k == nil then
            break
        end
        if type(k) == "proto" then
            scan(k, out)
        end
        n = n - 1
    end
end

local function globals(path)
    local f, err = loadfile(path)
    if not f then
        return nil, err
    end
    local out = {}
    scan(f, out)
    table.sort(out, function(a, b)
        return a.line < b.line
    end)
    return out
end

return { globals = globals }
