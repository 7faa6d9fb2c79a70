-- drop_info.lua - drops informational events (severity 7) so only
-- High, Medium and Low ones are forwarded. Events without a severity
-- (activity audit) pass through.
local M = {}

function M.process(ev, ctx)
    if ev.severity == 7 then
        return false
    end
    return true
end

return M
