-- route_by_cluster.lua - Splunk is licensed for production only: events of
-- clusters not named "prod-..." (and events without a cluster) are kept
-- out of it.
local M = {}

function M.process(ev, ctx)
    local cluster = ev:label("kubernetes.cluster.name")
    if not (cluster and cluster:sub(1, 5) == "prod-") then
        ev:unroute { "splunk" }
    end
    return true
end

return M
