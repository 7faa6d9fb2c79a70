-- testfile.lua - a file integration type for test_lua_host.c: activity
-- audit only, no outcome(), records framed back to back.
local M = { type = "TESTFILE", transport = "file", framing = "concat", channels = { "ACTIVITY_AUDIT" } }

M.options = {
    path = { required = true, type = "string" },
}

function M.setup(conf)
    return { path = conf.path, rotate_bytes = 1000, keep_files = 2 }
end

function M.encode(ev, conf)
    return ev:json()
end

return M
