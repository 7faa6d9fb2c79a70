-- rename_label.lua - renames labels to the short names a SIEM's rules use.
-- The label keeps its place in `labels` and its value's exact bytes; every
-- other byte of the event is unchanged.
local M = {}

local RENAMES = {
    ["kubernetes.namespace.name"] = "k8s_ns",
    ["kubernetes.cluster.name"] = "k8s_cluster",
}

function M.process(ev, ctx)
    for from, to in pairs(RENAMES) do
        if ev:label(from) then
            ev:rename_label(from, to)
        end
    end
    return true
end

return M
