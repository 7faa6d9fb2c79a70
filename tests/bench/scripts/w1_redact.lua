-- w1_redact.lua - the W1 transform plus one nested edit on every event:
-- labels["aws.accountId"] (present in every W1 event) replaced with
-- "[redacted]" through ev:set_path, which splices the new value into the
-- event's bytes. The benchmark's "redact" scenario reports its cost beside
-- the tuned transform's (tests/bench/README.md); the receiver expects the
-- redacted value and every other byte unchanged.
local M = {}

local labels = { "High", "High", "High", "High", "Medium", "Medium", "Low", "Info" }

function M.process(ev, ctx)
    local sev = ev.severity
    if sev == 7 then
        return false
    end
    local label = sev and labels[sev + 1]
    if label then
        ev:set("severity_label", label)
    end
    ev:set("cluster", ev:label("kubernetes.cluster.name") or "unknown")
    ev:set("gateway", "bench")
    ev:set_path('labels["aws.accountId"]', "[redacted]")
    return true
end

return M
