-- enrich_table.lua - enriches events from a lookup table: the team that owns
-- the Kubernetes cluster and its environment, as labels, so the SIEM can
-- assign alerts without its own lookup. Unknown clusters get "unassigned".
local M = {}

local OWNERS = {
    ["k8s-onprem"] = { team = "platform", env = "production" },
    ["demo-env-prom"] = { team = "sales-engineering", env = "demo" },
}
local UNKNOWN = { team = "unassigned", env = "unknown" }

function M.process(ev, ctx)
    local cluster = ev:label("kubernetes.cluster.name") or ev:label("agent.tag.cluster")
    local owner = cluster and OWNERS[cluster] or UNKNOWN
    ev:set_label("owner.team", owner.team)
    ev:set_label("owner.env", owner.env)
    return true
end

return M
