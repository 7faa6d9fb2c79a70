-- route_by_rule.lua - sends events of the "Write below ..." rules only to
-- the SOC's integration. ev:route is an allow-list: an integration added
-- later (from the admin page, say) does not get these events either.
local M = {}

function M.process(ev, ctx)
    local rule = ev:get_path("content.ruleName")
    if type(rule) == "string" and rule:sub(1, 12) == "Write below " then
        ev:route { "soc" }
    end
    return true
end

return M
