-- route_by_tag.lua - only events of rules tagged with a MITRE ATT&CK
-- technique reach the SOC; everything still goes to the other integrations.
local M = {}

local function has_mitre_tag(tags)
    if type(tags) ~= "table" then
        return false
    end
    for i = 1, #tags do
        if type(tags[i]) == "string" and tags[i]:sub(1, 6) == "MITRE_" then
            return true
        end
    end
    return false
end

function M.process(ev, ctx)
    if not has_mitre_tag(ev:get_path("content.ruleTags")) then
        ev:unroute { "soc" }
    end
    return true
end

return M
