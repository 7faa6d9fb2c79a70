-- splunk.lua - SPLUNK: the HTTP Event Collector (HEC).
--
-- Keys: Sysdig's local-forwarder names (ServiceURL, ServiceToken, Index) and
-- the API names (endpoint, token, index, sourceType, isInsecure), matched
-- case-insensitively, plus host, source, compress, caFile and timeout.
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
-- them over from one object to the next. compress: true gzips the body
-- (Content-Encoding: gzip, which HEC accepts).
--
-- sourcetype, unless `sourceType` overrides it (see M.sourcetypes):
--   policy events (and Falco output)    sysdig:secure:policy
--   activity audit, by event type       sysdig:secure:activity:<type>
--                                       (command, connection, fileaccess, kubernetes)
--   platform audit (audittrail)         sysdig:platform:audit
--   monitor events                      sysdig:monitor:event
--
-- Authorization: Splunk <token>.
--
-- Outcomes (HTTP status and HEC code). The principle: a problem with an
-- event dead-letters that event; a problem with the integration's
-- configuration (token, index, URL) keeps the events queued and retries, so
-- the engine's three attempts end in the Error status and a five-minute
-- inhibition, and nothing a corrected configuration would deliver is lost.
--   2xx                          ok
--   400 invalid-event-number j   events before j (0-based) were indexed (ok);
--                                event j is rejected, or retried when the
--                                code is 7 (incorrect index: configuration);
--                                the ones after it are retried
--   400 otherwise                reject; codes 7, 10, 11 (index, ack channel:
--                                configuration) retry
--   401, 403 (token), 404 (URL)  retry
--   413                          split: the engine sends the batch again in
--                                halves; a lone event too large is rejected
--   408, 429, 5xx                retry
--   other                        reject
local bulk = require "bulk"
local crypto = require "siemrelay.crypto"
local event = require "event"
local http = require "http"
local json = require "json"
local per_conf = require "per_conf"
local time = require "time"

local M = {}

M.type = "SPLUNK"
M.transport = "http"
M.framing = "concat"
M.channels = { "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", "PLATFORM_AUDIT", "MONITOR_EVENTS" }

M.options = http.transport_options({
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
    compress = { type = "boolean", default = false,
        description = "gzip request bodies (Content-Encoding: gzip)" },
}, false)

-- HEC's request limit is 1 MB on Splunk Cloud (and older Enterprise).
M.batch = { max_events = 500, max_bytes = 900000, linger_ms = 500 }

-- Activity audit events get their event type in the sourcetype: command,
-- connection, file and kube exec records have different fields, and
-- Splunk's field extraction is per sourcetype.
local activity = "sysdig:secure:activity"
local by_type = {
    policy = "sysdig:secure:policy",
    command = activity .. ":command",
    connection = activity .. ":connection",
    fileaccess = activity .. ":fileaccess",
    kubernetes = activity .. ":kubernetes",
    audittrail = "sysdig:platform:audit",
}
-- By the event's data type (ev:data_type()), for types not listed above.
local by_data_type = {
    policy = "sysdig:secure:policy",
    activity_audit = activity,
    platform_audit = "sysdig:platform:audit",
    monitor = "sysdig:monitor:event",
}
M.sourcetypes = { by_type = by_type, by_data_type = by_data_type, default = "sysdig:event" }

--- The sourcetype of an event under conf.
function M.sourcetype(ev, conf)
    if conf.sourceType then
        return conf.sourceType
    end
    local t = ev:get("type")
    return (type(t) == "string" and by_type[t]) or by_data_type[ev:data_type()] or "sysdig:event"
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

local q = json.encode_string
local concat = table.concat

-- '"sourcetype":"..."' per sourcetype, built once: a handful of values
-- serve every event.
local quoted_sourcetype = setmetatable({}, { __index = function(t, st)
    local v = '"sourcetype":' .. q(st)
    t[st] = v
    return v
end })
local prepare = per_conf(function(conf)
    local url = M.collector_url(conf.ServiceURL)
    local token = conf.ServiceToken
    if type(token) ~= "string" or token == "" or token:find("[%c]") then
        error("'ServiceToken' must be a non-empty token", 0)
    end
    if conf.timeout and conf.timeout <= 0 then
        error("'timeout' must be a positive number of milliseconds", 0)
    end
    if conf.sourceType == "" then
        error("'sourceType' must not be empty", 0)
    end
    local headers = { Authorization = "Splunk " .. token, ["Content-Type"] = "application/json" }
    if conf.compress then
        headers["Content-Encoding"] = "gzip"
    end
    return {
        url = url,
        headers = headers,
        compress = conf.compress == true,
        -- Envelope pieces that do not change per event.
        host = conf.host and conf.host ~= "" and q(conf.host),
        source = q(conf.source or "siemrelay"),
        index = conf.Index and conf.Index ~= "" and q(conf.Index),
    }
end)

function M.setup(conf)
    prepare(conf)
    return http.transport(conf)
end

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

--- The HEC envelope around the event: '{"time":...,"event":' and '}'. The
--- pipeline has C write the event between them (see docs/lua-contract.md).
function M.envelope(ev, conf)
    local p = prepare(conf)
    local ts = ev:raw("timestamp")
    local t = ts and time.seconds_decimal(ts, 9)
    local pre = t and '{"time":' .. t .. "," or "{"
    local host = p.host
    if not host then
        local h = event_host(ev)
        host = h and q(h)
    end
    if host then
        pre = pre .. '"host":' .. host .. ","
    end
    pre = pre .. '"source":' .. p.source .. "," .. quoted_sourcetype[M.sourcetype(ev, conf)]
    if p.index then
        pre = pre .. ',"index":' .. p.index
    end
    return pre .. ',"event":', "}"
end

M.encode = event.enveloped(M.envelope)

function M.request(body, n, conf)
    local p = prepare(conf)
    bulk.note_size(conf, body)
    if p.compress then
        body = crypto.gzip(body)
    end
    return { method = "POST", url = p.url, headers = p.headers, body = body }
end

-- HEC codes that mean the integration is misconfigured rather than an event
-- bad: 1-4 token disabled, missing, malformed or invalid; 7 index not
-- allowed for the token; 10, 11 the token wants indexer acknowledgement
-- (a data channel), which siemrelay does not use.
local config_codes = { [1] = true, [2] = true, [3] = true, [4] = true, [7] = true, [10] = true,
    [11] = true }

local function hec_reason(status, doc, body)
    if type(doc) == "table" and doc.text then
        return string.format("HTTP %d: HEC code %s: %s", status, tostring(doc.code), tostring(doc.text))
    end
    local e = http.excerpt(body)
    return e and string.format("HTTP %d: %s", status, e) or ("HTTP " .. status)
end

function M.outcome(status, body, n, conf)
    status = tonumber(status) or 0
    n = tonumber(n) or 0
    if status >= 200 and status < 300 then
        return "ok", "HTTP " .. status
    end
    if status == 413 then
        return bulk.too_large(conf, n)
    end
    local doc = (type(body) == "string" and body:find("^%s*{")) and json.decode(body) or nil
    local code = type(doc) == "table" and tonumber(doc.code) or nil
    local reason = hec_reason(status, doc, body)
    local config = code and config_codes[code]
    if status == 400 and type(doc) == "table" then
        local j = tonumber(doc["invalid-event-number"])
        if j and j >= 0 and j < n and j == math.floor(j) then
            -- HEC indexed the events before j and stopped at j.
            local items = bulk.fill("ok", j, "retry", n)
            items[j + 1] = config and "retry" or "reject"
            return bulk.verdict(items, n, string.format("%s (event %d of %d; %d before it were indexed)",
                reason, j + 1, n, j))
        end
    end
    if config or status == 401 or status == 403 or status == 404 or status == 408
        or status == 429 or status >= 500 then
        return "retry", reason
    end
    return "reject", reason
end

return M
