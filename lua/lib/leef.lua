-- leef.lua - IBM QRadar's Log Event Extended Format, version 2.0, from a
-- Sysdig event.
--
--   LEEF:2.0|Sysdig|Secure|1.0|<event id>|<delimiter>|k=v<d>k=v...
--
-- event id is the rule name of a policy event, "audittrail:<entity>:<method>"
-- for platform audit (secfields.event_id), else the event type. The
-- delimiter defaults to a tab and is announced in the header as "x09" (a
-- printable delimiter such as "^" is written as itself). Attributes: devTime
-- with its devTimeFormat (milliseconds, UTC), cat, sev (1..10; platform
-- audit rated by its response status, secfields.severity), then the
-- fields of secfields.lua under the keys of M.keys (LEEF's predefined names
-- where one exists: usrName, src, dst, srcPort, dstPort, proto, policy).
--
-- Escaping: in the header "\" and "|" get a backslash and line breaks become
-- spaces; in values "\" becomes "\\", the delimiter "\" followed by the
-- delimiter (a tab: "\t", so a value never holds a raw tab), CR and LF
-- "\r" and "\n". "=" needs no escape: an attribute is split at its first
-- "=", and keys are fixed names.
local fields = require "secfields"
local syslog = require "syslog"

local M = {}

local byte, char, find, format, gsub, match, sub =
    string.byte, string.char, string.find, string.format, string.gsub, string.match, string.sub
local concat = table.concat
local os_date, tonumber = os.date, tonumber

M.VENDOR, M.PRODUCT, M.VERSION = "Sysdig", "Secure", "1.0"
M.DEFAULT_DELIMITER = "\t"
M.TIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"

local header_escapes = { ["\\"] = "\\\\", ["|"] = "\\|", ["\r"] = " ", ["\n"] = " " }
function M.escape_header(s)
    return (gsub(s, "[\\|\r\n]", header_escapes))
end

--- A delimiter from configuration: one character, or "xHH" / "0xHH".
--- nil and a message when it is unusable.
function M.parse_delimiter(v)
    if v == nil then
        return M.DEFAULT_DELIMITER
    end
    local d
    if type(v) == "string" and #v == 1 then
        d = v
    else
        local hex = type(v) == "string" and match(v, "^0?[xX](%x%x)$")
        d = hex and char(tonumber(hex, 16))
    end
    if not d then
        return nil, "must be one character, or its hex code as xHH (x09 is a tab)"
    end
    if find(d, "[%w\\|=\r\n ]") then
        return nil, "cannot be a letter, a digit, '\\', '|', '=', a space or a line break"
    end
    return d
end

--- How the header announces a delimiter.
function M.delimiter_field(d)
    if find(d, "^[!-~]$") then
        return d
    end
    return format("x%02X", byte(d))
end

local function value_escaper(d)
    local escapes = { ["\\"] = "\\\\", ["\r"] = "\\r", ["\n"] = "\\n" }
    escapes[d] = d == "\t" and "\\t" or "\\" .. d
    local class = "[\\\r\n%" .. d .. "]"
    return function(s)
        return (gsub(s, class, escapes))
    end
end

local escapers = {}
function M.escape_value(s, d)
    d = d or M.DEFAULT_DELIMITER
    local e = escapers[d]
    if not e then
        e = value_escaper(d)
        escapers[d] = e
    end
    return e(s)
end

-- Field -> LEEF key.
M.keys = {
    { "id", "externalId" },
    { "host", "hostname" },
    { "policy", "policy" },
    { "rule", "ruleName" },
    { "policy_id", "policyId" },
    { "tags", "ruleTags" },
    { "output", "msg" },
    { "user", "usrName" },
    { "process", "process" },
    { "pid", "pid" },
    { "cmdline", "cmdline" },
    { "file", "filePath" },
    { "src", "src" },
    { "sport", "srcPort" },
    { "dst", "dst" },
    { "dport", "dstPort" },
    { "proto", "proto" },
    { "direction", "direction" },
    { "container", "containerId" },
    { "image", "image" },
    { "namespace", "k8sNamespace" },
    { "pod", "k8sPod" },
    { "cluster", "k8sCluster" },
    -- Platform audit: the request (user id, method, URL, response status).
    { "user_id", "userId" },
    { "method", "requestMethod" },
    { "url", "url" },
    { "status", "responseStatusCode" },
    { "entity", "entityType" },
    { "team_id", "teamId" },
    { "customer_id", "customerId" },
    -- Monitor events: the event's name and the scope it fired for.
    { "event_name", "eventName" },
    { "scope", "scope" },
}

--- devTime in M.TIME_FORMAT: "2020-11-25T16:49:08.648+0000".
function M.dev_time(ev)
    local secs, frac9 = syslog.event_time(ev)
    return os_date("!%Y-%m-%dT%H:%M:%S", secs) .. "." .. sub(frac9, 1, 3) .. "+0000"
end

--- The LEEF line for an event (no syslog header); `d` the delimiter.
function M.format(ev, d)
    d = d or M.DEFAULT_DELIMITER
    local f = fields.extract(ev)
    local attrs = {
        "devTime=" .. M.dev_time(ev),
        "devTimeFormat=" .. M.TIME_FORMAT,
        "cat=" .. M.escape_value(f.type or "event", d),
        "sev=" .. fields.severity10(ev),
    }
    local n = #attrs
    for _, k in ipairs(M.keys) do
        local v = f[k[1]]
        if v then
            n = n + 1; attrs[n] = k[2] .. "=" .. M.escape_value(v, d)
        end
    end
    return format("LEEF:2.0|%s|%s|%s|%s|%s|%s", M.escape_header(M.VENDOR),
        M.escape_header(M.PRODUCT), M.escape_header(M.VERSION),
        M.escape_header(fields.event_id(f)), M.delimiter_field(d), concat(attrs, d, 1, n))
end

return M
