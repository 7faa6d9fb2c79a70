-- tag.lua - tags each event with the integration it is being sent to, so a
-- SIEM that receives from several gateways or integrations can tell them
-- apart. Meant as a per-integration script (`scripts:` of one integration):
-- there ctx.integration is that integration's name. As a global script it
-- tags "all".
local M = {}

function M.process(ev, ctx)
    ev:set("forwarded_by", "siemrelay")
    ev:set("forwarded_to", ctx.integration or "all")
    return true
end

return M
