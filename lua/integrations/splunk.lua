-- splunk.lua - SPLUNK: the HTTP Event Collector (HEC).
--
-- Keys: Sysdig's local-forwarder names (ServiceURL, ServiceToken, Index) and
-- the API names (endpoint, token, index, sourceType, isInsecure), matched
-- case-insensitively.
--
-- URL: ServiceURL may be the Splunk base URL (https://splunk:8088) or a full
-- collector path; /services/collector/event is appended unless the path
-- already contains /services/collector.
--
-- Wire format: one envelope per event, batched by concatenation (HEC's
-- batch format; not a JSON array), each request under ~900 KB:
--   {"time":1606322948.648718268,"host":"...","source":"siemrelay",
--    "sourcetype":"sysdig:secure:policy","index":"...","event":{...the event...}}
-- time is the event's nanosecond "timestamp" as seconds with 9 decimals,
-- computed on the integer's text (exact). host is `host`, else the event's
-- "hostname", else its label host.hostName, else left to HEC. index is only
-- sent when configured. Every envelope carries every key: HEC does not carry
-- them over from one object to the next.
--
-- sourcetype, unless `sourceType` overrides it, by the event's data type:
--   policy events (and Falco output)            sysdig:secure:policy
--   activity audit (command, connection,
--                   fileaccess, kubernetes)     sysdig:secure:activity
--   platform audit (audittrail)                 sysdig:platform:audit
--   monitor events                              sysdig:monitor:event
--
-- Authorization: Splunk <token>.
--
-- Outcomes (HEC status and code):
--   2xx                       ok
--   400 invalid-event-number k (0-based): events 1..k were indexed (ok),
--                             event k+1 is rejected, the rest are retried
--   400 otherwise, 401, 403   reject (bad data, token, index: retrying will
--                             not help)
--   413                       reject, "request too large"
--   408, 429, 5xx             retry
--   other                     reject
local http = require "http"
local json = require "json"
local time = require "time"

local M = {}

M.type = "SPLUNK"
M.transport = "http"
M.framing = "concat"
M.channels = { "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT" }

M.options = {
    ServiceURL = { required = true, type = "string",
        description = "Splunk HEC base URL, or the full collector URL" },
    endpoint = { alias_of = "ServiceURL" },
    ServiceToken = { required = true, type = "string", secret = true,
        description = "HTTP Event Collector token" },
    token = { alias_of = "ServiceToken" },
    Index = { type = "string", description = "target index; HEC's default index when unset" },
    sourceType = { type = "string", description = "sourcetype for every event (overrides the mapping)" },
    host = { type = "string", description = "host field; the event's hostname when unset" },
    source = { type = "string", default = "siemrelay", description = "source field" },
    isInsecure = { type = "boolean", default = false,
        description = "skip TLS certificate and host name verification" },
    caFile = { type = "string", description = "PEM bundle to verify Splunk's certificate" },
    caCertFile = { alias_of = "caFile" },
    timeout = { type = "integer", default = 30000, description = "request timeout in milliseconds" },
}

-- HEC's request limit is 1 MB on Splunk Cloud (and older Enterprise).
M.batch = { max_events = 500, max_bytes = 900000, linger_ms = 500 }

-- By the event's data type (ev:data_type(), sr_data_type_name's names).
local sourcetypes = {
    policy = "sysdig:secure:policy",
    activity_audit = "sysdig:secure:activity",
    platform_audit = "sysdig:platform:audit",
    monitor = "sysdig:monitor:event",
}
M.sourcetypes = sourcetypes

-- The same mapping from the "type" string, should the data type be unknown.
local by_type = {
    policy = "policy", command = "activity_audit", connection = "activity_audit",
    fileaccess = "activity_audit", kubernetes = "activity_audit", audittrail = "platform_audit",
    monitor = "monitor",
}

local function data_type(ev)
    local dt = ev:data_type()
    if sourcetypes[dt] then
        return dt
    end
    return by_type[ev:get("type")]
end

--- The sourcetype of an event under conf.
function M.sourcetype(ev, conf)
    return conf.sourceType or sourcetypes[data_type(ev)] or "sysdig:event"
end

--- The collector URL for a configured ServiceURL.
function M.collector_url(url)
    local origin, path, query = http.split_url(url)
    if not origin then
        error("ServiceURL must be an http:// or https:// URL, got '" .. tostring(url) .. "'", 0)
    end
    if path:find("/services/collector", 1, true) then
        return url
    end
    return http.join(origin .. path, "/services/collector/event") .. query
end

local prepared = setmetatable({}, { __mode = "k" })

local function prepare(conf)
    local p = prepared[conf]
    if p then
        return p
    end
    local url = M.collector_url(conf.ServiceURL)
    local token = conf.ServiceToken
    if type(token) ~= "string" or token == "" or token:find("[\r\n]") then
        error("'ServiceToken' must be a non-empty token", 0)
    end
    if conf.timeout and conf.timeout <= 0 then
        error("'timeout' must be a positive number of milliseconds", 0)
    end
    local q = json.encode_string
    p = {
        url = url,
        headers = { Authorization = "Splunk " .. token, ["Content-Type"] = "application/json" },
        -- Envelope pieces that do not change per event.
        host = conf.host and q(conf.host),
        source = q(conf.source or "siemrelay"),
        index = conf.Index and conf.Index ~= "" and q(conf.Index),
        sourcetype = conf.sourceType and q(conf.sourceType),
    }
    prepared[conf] = p
    return p
end

function M.setup(conf)
    local p = prepare(conf)
    return {
        url = p.url,
        timeout_ms = conf.timeout,
        insecure = conf.isInsecure == true,
        ca_file = conf.caFile,
    }
end

local q = json.encode_string
local concat = table.concat

local function event_host(ev)
    local h = ev:get("hostname")
    if type(h) == "string" and h ~= "" then
        return h
    end
    h = ev:label("host.hostName")
    if type(h) == "string" and h ~= "" then
        return h
    end
    return nil
end

function M.encode(ev, conf)
    local p = prepare(conf)
    local parts, n = {}, 0
    local ts = ev:raw("timestamp")
    local t = ts and time.seconds_decimal(ts, 9)
    if t then
        n = n + 1; parts[n] = '"time":' .. t
    end
    local host = p.host
    if not host then
        local h = event_host(ev)
        host = h and q(h)
    end
    if host then
        n = n + 1; parts[n] = '"host":' .. host
    end
    n = n + 1; parts[n] = '"source":' .. p.source
    n = n + 1; parts[n] = '"sourcetype":' .. (p.sourcetype or q(M.sourcetype(ev, conf)))
    if p.index then
        n = n + 1; parts[n] = '"index":' .. p.index
    end
    n = n + 1; parts[n] = '"event":' .. ev:json()
    return "{" .. concat(parts, ",", 1, n) .. "}"
end

function M.request(body, n, conf)
    local p = prepare(conf)
    return { method = "POST", url = p.url, headers = p.headers, body = body }
end

local function hec_reason(status, doc, body)
    if type(doc) == "table" and doc.text then
        return string.format("HTTP %d: HEC code %s: %s", status, tostring(doc.code), tostring(doc.text))
    end
    local e = http.excerpt(body)
    return e and string.format("HTTP %d: %s", status, e) or ("HTTP " .. status)
end

function M.outcome(status, body, n, conf)
    status = tonumber(status) or 0
    if status >= 200 and status < 300 then
        return "ok", "HTTP " .. status
    end
    local doc = (type(body) == "string" and body:find("^%s*{")) and json.decode(body) or nil
    if status == 413 then
        return "reject", "request too large (HTTP 413)"
    end
    if status == 400 and type(doc) == "table" then
        local k = tonumber(doc["invalid-event-number"])
        n = tonumber(n) or 0
        if k and k >= 0 and k < n and k == math.floor(k) then
            local items = {}
            for i = 1, n do
                items[i] = i <= k and "ok" or (i == k + 1 and "reject" or "retry")
            end
            local reason = string.format("%s (event %d of %d; %d before it were indexed)",
                hec_reason(status, doc, body), k + 1, n, k)
            return k + 1 < n and "retry" or "reject", reason, items
        end
    end
    if status == 408 or status == 429 or status >= 500 then
        return "retry", hec_reason(status, doc, body)
    end
    return "reject", hec_reason(status, doc, body)
end

return M
