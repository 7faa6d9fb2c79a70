-- drop_below.lua - drops events less severe than a threshold given as a
-- parameter (scripts: [{path: drop_below.lua, params: {max_severity: 5}}]);
-- events without a severity (activity audit) pass.
local M = {}

M.params = {
    max_severity = { type = "integer", default = 6,
        description = "the least severe level kept: 0-3 High, 4-5 Medium, 6 Low, 7 Info" },
}

local max_severity

function M.setup(params)
    if params.max_severity < 0 or params.max_severity > 7 then
        error("max_severity must be 0..7", 0)
    end
    max_severity = params.max_severity
end

function M.process(ev, ctx)
    if ev.severity > max_severity then
        return false
    end
    return true
end

return M
