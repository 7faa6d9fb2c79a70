-- severity.lua - Sysdig's severity scale: 0-3 High, 4-5 Medium, 6 Low,
-- 7 Info. (The C side has the same table: sr_severity_label.)
local M = {}

local labels = { [0] = "High", "High", "High", "High", "Medium", "Medium", "Low", "Info" }

--- The label of a severity integer, or nil when it is not 0..7 (an event
--- without a severity has ev.severity == -1).
function M.label(sev)
    return labels[tonumber(sev)]
end

--- The lowest severity integer (the most severe) of a label; nil if unknown.
local first = { high = 0, medium = 4, low = 6, info = 7 }
function M.from_label(label)
    return type(label) == "string" and first[label:lower()] or nil
end

return M
