-- cef.lua - ArcSight Common Event Format (CEF:0) from a Sysdig event.
--
--   CEF:0|Sysdig|Secure|1.0|<signature>|<name>|<severity>|<extension>
--
-- signature is the rule name of a policy event, "audittrail:<entity>:<method>"
-- for platform audit, else the event type; name the policy name, a monitor
-- event's name, the request of a platform audit record, else a title per
-- type; severity 0..10 (secfields: platform audit rated by its response
-- status). The extension's keys come from secfields.lua (the table in
-- docs/integrations.md), each present field once, in a fixed order.
--
-- Escaping (CEF specification): in the header "\" and "|" get a backslash
-- and line breaks become spaces; in extension values "\" and "=" get a
-- backslash and CR / LF are written as \r / \n. Extension keys are fixed
-- alphanumeric names.
local fields = require "secfields"
local time = require "time"

local M = {}

local gsub, format = string.gsub, string.format
local tonumber = tonumber
local concat = table.concat

M.VENDOR, M.PRODUCT, M.VERSION = "Sysdig", "Secure", "1.0"

local header_escapes = { ["\\"] = "\\\\", ["|"] = "\\|", ["\r"] = " ", ["\n"] = " " }
function M.escape_header(s)
    return (gsub(s, "[\\|\r\n]", header_escapes))
end

local value_escapes = { ["\\"] = "\\\\", ["="] = "\\=", ["\r"] = "\\r", ["\n"] = "\\n" }
function M.escape_value(s)
    return (gsub(s, "[\\=\r\n]", value_escapes))
end

-- Field -> CEF key, and the label of the custom fields (csN / cnN).
M.keys = {
    { "id", "externalId" },
    { "type", "cat" },
    { "host", "dvchost" },
    { "output", "msg" },
    { "user", "suser" },
    { "process", "sproc" },
    { "pid", "spid" },
    { "file", "filePath" },
    { "src", "src" },
    { "sport", "spt" },
    { "dst", "dst" },
    { "dport", "dpt" },
    { "proto", "proto" },
    { "rule", "cs1", "ruleName" },
    { "tags", "cs2", "ruleTags" },
    { "container", "cs3", "containerId" },
    { "cmdline", "cs4", "cmdline" },
    { "namespace", "cs5", "k8sNamespace" },
    { "pod", "cs6", "k8sPod" },
    { "policy_id", "cn1", "policyId" },
    -- Platform audit: the request (user id, method, URL, response status).
    { "user_id", "suid" },
    { "method", "requestMethod" },
    { "url", "request" },
    { "status", "cn2", "responseStatusCode" },
    { "team_id", "cn3", "teamId" },
    { "entity", "flexString1", "entityType" },
    { "customer_id", "flexNumber1", "customerId" },
    -- Monitor events: the scope the event fired for (the name is the header's).
    { "scope", "flexString2", "scope" },
}

local directions = { ["in"] = "0", out = "1" }

--- The CEF line for an event (no syslog header).
function M.format(ev)
    local f = fields.extract(ev)
    local ext, n = {}, 0
    local ts = ev:raw("timestamp")
    local rt = ts and time.convert(ts, "milliseconds")
    if rt then
        n = n + 1; ext[n] = "rt=" .. rt
    end
    for _, k in ipairs(M.keys) do
        local v = f[k[1]]
        if v then
            if k[3] then
                n = n + 1; ext[n] = k[2] .. "Label=" .. M.escape_value(k[3])
            end
            n = n + 1; ext[n] = k[2] .. "=" .. M.escape_value(v)
        end
    end
    local dir = f.direction and directions[f.direction]
    if dir then
        n = n + 1; ext[n] = "deviceDirection=" .. dir
    end
    -- A platform audit request succeeded below status 400.
    local st = tonumber(f.status)
    if st and f.method then
        n = n + 1; ext[n] = "outcome=" .. (st < 400 and "success" or "failure")
    end
    return format("CEF:0|%s|%s|%s|%s|%s|%d|%s", M.escape_header(M.VENDOR),
        M.escape_header(M.PRODUCT), M.escape_header(M.VERSION),
        M.escape_header(fields.event_id(f)), M.escape_header(fields.title(f)),
        fields.severity10(ev), concat(ext, " ", 1, n))
end

return M
