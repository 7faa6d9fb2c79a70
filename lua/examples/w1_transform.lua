-- w1_transform.lua - the benchmark's site script (workload W1).
--
-- Labels each event with its severity, drops informational events (7), tags
-- the Kubernetes cluster and the gateway. Kept deliberately small and
-- allocation-light: it runs once per event on the hot path.
local M = {}

-- Sysdig's scale: 0-3 High, 4-5 Medium, 6 Low, 7 Info. Indexed by
-- severity + 1: a plain array keeps the lookup on LuaJIT's compiled path (a
-- [0] slot makes a mixed sparse/dense table, which aborts every trace).
local labels = { "High", "High", "High", "High", "Medium", "Medium", "Low", "Info" }

function M.process(ev, ctx)
    local sev = ev.severity
    if sev == 7 then
        return false -- drop Info
    end
    local label = sev and labels[sev + 1]
    if label then
        ev:set("severity_label", label)
    end
    ev:set("cluster", ev:label("kubernetes.cluster.name") or "unknown")
    ev:set("gateway", "bench")
    return true
end

return M
