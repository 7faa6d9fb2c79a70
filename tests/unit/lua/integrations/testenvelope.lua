-- testenvelope.lua - a file integration type for test_lua_host.c whose
-- records come from envelope(): the pipeline has C write them. Per event
-- type it wraps the event, skips it, fails, or returns what is not allowed.
local M = { type = "TESTENVELOPE", transport = "file", framing = "ndjson",
    channels = { "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT" } }

M.options = {
    path = { required = true, type = "string" },
}

function M.setup(conf)
    return { path = conf.path }
end

function M.envelope(ev)
    local t = ev:type_name()
    if t == "command" then
        return nil -- skipped
    elseif t == "connection" then
        error("no envelope for a connection", 0)
    elseif t == "fileaccess" then
        return 42, "}"
    end
    ev:set("wrapped", true) -- an edit: the record must carry it
    return '{"type":' .. string.format("%q", t) .. ',"event":', "}"
end

function M.encode()
    error("encode must not be called when envelope exists", 0)
end

return M
