-- w1_helpers.lua - the W1 transform with its fields taken from the helper
-- modules a sandboxed script may require: the label from severity, the CEF
-- and LEEF severity (0..10) from secfields, the host from syslog. The
-- benchmark's "helpers" cost, beside its sandboxed run, is what a
-- sandboxed script's own instances of the helpers cost per event
-- (docs/scripting.md#sandbox). Output: the tuned transform's fields plus
-- "sev10" and "host".
local severity = require "severity"
local secfields = require "secfields"
local syslog = require "syslog"

local M = {}

function M.process(ev, ctx)
    local sev = ev.severity
    if sev == 7 then
        return false
    end
    local label = severity.label(sev)
    if label then
        ev:set("severity_label", label)
    end
    ev:set("cluster", ev:label("kubernetes.cluster.name") or "unknown")
    ev:set("gateway", "bench")
    ev:set("sev10", secfields.severity10(ev))
    ev:set("host", syslog.hostname(ev))
    return true
end

return M
