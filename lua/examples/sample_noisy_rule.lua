-- sample_noisy_rule.lua - keeps one event in 16 of a rule known to be
-- noisy, and marks the ones kept with the rate. The choice hashes nothing
-- and counts nothing: it is the event id's last hex digit, so every worker
-- (each has its own Lua state) keeps the same events, and a test can say
-- which.
local M = {}

local NOISY = { ["Write below etc"] = true }

function M.process(ev, ctx)
    if not NOISY[ev:get_path("content.ruleName") or ""] then
        return true
    end
    local id = ev:get("id")
    if type(id) ~= "string" or id:sub(-1) ~= "0" then
        return false
    end
    ev:set("sample_rate", 16)
    return true
end

return M
