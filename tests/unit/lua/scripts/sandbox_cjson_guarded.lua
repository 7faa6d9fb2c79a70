-- sandbox_cjson_guarded.lua - (not sandboxed: it uses debug) the cjson
-- instances a sandboxed script gets are opened through the host's guarded
-- opener (runtime/lua/lua_state.c), so each of their C functions is the
-- watchdog's guarded wrapper, whose upvalue is cjson's own function; cjson's
-- own functions have its settings (a userdata) as their upvalue instead.
-- Records "guarded" (how many) and "unguarded" (their names).
local sandbox = require "sandbox"

local M = {}

function M.process(ev)
    local env = sandbox.env()
    local instances = {
        cjson = env.require("cjson"), ["cjson.safe"] = env.require("cjson.safe"),
    }
    instances["cjson.new()"] = instances.cjson.new()
    instances["cjson.safe.new()"] = instances["cjson.safe"].new()
    local guarded, unguarded = 0, {}
    for iname, inst in pairs(instances) do
        for k, f in pairs(inst) do
            if type(f) == "function" and debug.getinfo(f, "S").what == "C" then
                local _, up = debug.getupvalue(f, 1)
                if type(up) == "function" then
                    guarded = guarded + 1
                else
                    unguarded[#unguarded + 1] = iname .. "." .. k
                end
            end
        end
    end
    table.sort(unguarded)
    ev:set("guarded", guarded)
    ev:set("unguarded", table.concat(unguarded, ","))
    return true
end

return M
