-- enrich.lua - adds where an event passed through: the site name (change it
-- here) and the severity as a label, for SIEM rules that match on text.
local severity = require "severity"

local SITE = "lab-eu-1"

local M = {}

function M.process(ev, ctx)
    ev:set("site", SITE)
    local label = severity.label(ev.severity)
    if label then
        ev:set("severity_label", label)
    end
    -- ctx.integration is set when the script runs for one integration only.
    return true
end

return M
