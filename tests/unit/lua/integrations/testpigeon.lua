-- testpigeon.lua - a type whose transport is not a native one, for
-- test_lua_host.c.
local M = { type = "TESTPIGEON", transport = "pigeon" }

M.options = {}

function M.setup(conf)
    return {}
end

function M.encode(ev, conf)
    return ev:json()
end

return M
