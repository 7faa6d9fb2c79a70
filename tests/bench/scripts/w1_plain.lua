-- w1_plain.lua - the W1 transform (lua/examples/w1_transform.lua) written
-- the plain way a Fluent Bit user would port it: a severity table indexed
-- from [0], the severity read with ev:get, the label read with a path, no
-- tuning. The benchmark's "plain" scenario compares its cost with the
-- tuned script's (tests/bench/README.md); both must produce the same
-- records, byte for byte.
local M = {}

local severity_labels = {
    [0] = "High", [1] = "High", [2] = "High", [3] = "High",
    [4] = "Medium", [5] = "Medium", [6] = "Low", [7] = "Info",
}

function M.process(ev, ctx)
    local severity = ev:get("severity")
    if severity == 7 then
        return false
    end
    if severity ~= nil then
        ev:set("severity_label", severity_labels[severity])
    end
    ev:set("cluster", ev:get_path('labels["kubernetes.cluster.name"]') or "unknown")
    ev:set("gateway", "bench")
    return true
end

return M
