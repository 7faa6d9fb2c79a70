-- sentinel.lua - SENTINEL: events into a Log Analytics workspace (Microsoft
-- Sentinel), through one of two APIs.
--
-- Logs Ingestion API (the default, and Microsoft's supported way):
--   keys endpoint (the data collection endpoint, or the DCR's own logs
--   ingestion endpoint), dcrImmutableId, streamName, tenantId, clientId,
--   clientSecret; scope and authorityHost for other clouds and tests.
--   POST <endpoint>/dataCollectionRules/<dcrImmutableId>/streams/<streamName>?api-version=2023-01-01
--     Authorization: Bearer <Entra ID token>  (client credentials, scope
--                    https://monitor.azure.com//.default, from the token
--                    cache: fetched once, renewed before expiry, and again
--                    after a 401)
--     Content-Type: application/json; Content-Encoding: gzip with compress
--     body: a JSON array of the events, each with TimeGenerated added (RFC
--     3339, from its nanosecond timestamp) unless it has one, since the
--     table a DCR writes to requires that column
--   Limits: 1 MB per call (compressed or not): batches stay under it, a 413
--   splits the batch. Outcomes: 2xx ok; 413 split; 401 new token and the
--   batch again at once; 403 (the app lacks the Monitoring Metrics
--   Publisher role on the DCR) and 404 (no such DCR, stream or endpoint)
--   retry, so a wrong configuration ends in the Error status with the events
--   kept; 408, 429 (Retry-After honoured), 5xx retry; 400 (records the
--   stream cannot take) and anything else reject.
--
-- HTTP Data Collector API (Sysdig-compatible: workspaceId and secret).
--   Microsoft retired it on 14 September 2026; it is kept for workspaces
--   set up as Sysdig's forwarder sets them up.
--   POST https://<workspaceId>.ods.opinsights.azure.com/api/logs?api-version=2016-04-01
--   (endpoint replaces https://<workspaceId>.ods.opinsights.azure.com)
--     Authorization: SharedKey <workspaceId>:<base64 HMAC-SHA256 over
--       "POST\n<Content-Length>\napplication/json\nx-ms-date:<RFC 1123 date>\n/api/logs",
--       keyed with the base64-decoded secret>
--     Log-Type: <logType> (table <logType>_CL), x-ms-date,
--     time-generated-field: <timeGeneratedField>, x-ms-AzureResourceId
--     when azureResourceId is set
--     body: a JSON array of the events as received
--   Limits: 30 MB per post (batches stay under it); 32 KB per field value,
--   which Azure would truncate: such an event is dead-lettered instead.
--   Outcomes: 2xx ok; 400 InvalidDataFormat reject; other 400 codes
--   (InvalidCustomerId, InvalidLogType, MissingContentType, ...) and 403
--   InvalidAuthorization are configuration: retry; 404 ("URL incorrect or
--   request too large") split when the body was over the limit, else retry;
--   413 split; 408, 429, 5xx retry; anything else reject.
local bulk = require "bulk"
local crypto = require "siemrelay.crypto"
local http = require "http"
local json = require "json"
local oauth = require "oauth"
local per_conf = require "per_conf"

local M = {}

M.type = "SENTINEL"
M.transport = "http"
M.framing = "json_array"
M.channels = { "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", "PLATFORM_AUDIT", "MONITOR_EVENTS" }

M.options = http.transport_options({
    -- Logs Ingestion API
    endpoint = { type = "string",
        description = "Logs Ingestion: the DCE (or DCR) ingestion endpoint URL; Data Collector: replaces "
            .. "https://<workspaceId>.ods.opinsights.azure.com" },
    dcrImmutableId = { type = "string", description = "immutable id of the data collection rule (dcr-...)" },
    streamName = { type = "string", description = "the DCR's input stream, e.g. Custom-SysdigEvents_CL" },
    tenantId = { type = "string", description = "Entra ID tenant (directory) id" },
    clientId = { type = "string", description = "application (client) id of the app registration" },
    clientSecret = { type = "string", secret = true, description = "client secret of the app registration" },
    scope = { type = "string", default = "https://monitor.azure.com//.default",
        description = "token scope (another cloud: https://monitor.azure.us//.default, ...)" },
    authorityHost = { type = "string",
        description = "Entra ID authority instead of https://login.microsoftonline.com" },
    compress = { type = "boolean", default = false, description = "gzip request bodies (Logs Ingestion)" },
    -- HTTP Data Collector API (Sysdig's keys)
    workspaceId = { type = "string", description = "Log Analytics workspace id (Data Collector API)" },
    secret = { type = "string", secret = true,
        description = "the workspace's primary or secondary key (Data Collector API)" },
    logType = { type = "string", default = "SysdigSecure",
        description = "Log-Type: the custom table is <logType>_CL (Data Collector API)" },
    timeGeneratedField = { type = "string", default = "timestampRFC3339Nano",
        description = "event field Azure takes TimeGenerated from (Data Collector API)" },
    azureResourceId = { type = "string",
        description = "x-ms-AzureResourceId: the Azure resource the data is associated with" },
}, false)

M.LOGS_MAX_BYTES = 1000000       -- Logs Ingestion: 1 MB per call
M.COLLECTOR_MAX_BYTES = 30000000 -- Data Collector: 30 MB per post
M.FIELD_MAX_BYTES = 32768        -- Data Collector: 32 KB per field value
M.LOGS_API_VERSION = "2023-01-01"
M.COLLECTOR_API_VERSION = "2016-04-01"

-- The batch's byte budget counts records only; the array adds "[", "]" and
-- a comma per record: 1024 bytes of room covers max_events up to 1023.
M.batch = { max_events = 500, max_bytes = M.LOGS_MAX_BYTES - 1024, linger_ms = 500 }

local type, tonumber, pairs, ipairs, error = type, tonumber, pairs, ipairs, error
local format, find, gsub = string.format, string.find, string.gsub
local concat = table.concat

local LOGS_KEYS = { "endpoint", "dcrImmutableId", "streamName", "tenantId", "clientId", "clientSecret" }

local function set(v)
    return v ~= nil and v ~= ""
end

local function need(conf, keys, what)
    local missing = {}
    for _, k in ipairs(keys) do
        if not set(conf[k]) then
            missing[#missing + 1] = k
        end
    end
    if #missing > 0 then
        error(format("%s needs %s", what, concat(missing, ", ")), 0)
    end
end

-- A path segment must not carry what would change the URL's meaning.
local function segment(v, name)
    if find(v, "[/?#%%%s]") then
        error(format("'%s' must not contain '/', '?', '#', '%%' or spaces", name), 0)
    end
    return v
end

local function prepare_logs(conf)
    need(conf, LOGS_KEYS, "the Logs Ingestion API")
    local base = gsub(http.check_url(conf.endpoint, "endpoint"), "/+$", "")
    local url = format("%s/dataCollectionRules/%s/streams/%s?api-version=%s", base,
        segment(conf.dcrImmutableId, "dcrImmutableId"), segment(conf.streamName, "streamName"),
        M.LOGS_API_VERSION)
    if conf.authorityHost then
        http.check_url(conf.authorityHost, "authorityHost")
    end
    oauth.entra_client_credentials(oauth.cache(conf, "main"), conf.tenantId, conf.clientId,
        conf.clientSecret, conf.scope or M.options.scope.default, conf.authorityHost)
    return { mode = "logs", url = url, compress = conf.compress == true, max_bytes = M.LOGS_MAX_BYTES }
end

local function prepare_collector(conf)
    need(conf, { "workspaceId", "secret" }, "the Data Collector API")
    local ws = conf.workspaceId
    if #ws > 63 or not find(ws, "^[%w%-]+$") then
        error("'workspaceId' must be a Log Analytics workspace id (letters, digits and '-')", 0)
    end
    local key = crypto.base64_decode(conf.secret)
    if not key or key == "" then
        error("'secret' must be the workspace key, in base64", 0)
    end
    local log_type = conf.logType or M.options.logType.default
    if #log_type > 100 or not find(log_type, "^[%w_]+$") then
        error("'logType' must be letters, digits and '_', at most 100 characters", 0)
    end
    local tgf = conf.timeGeneratedField or M.options.timeGeneratedField.default
    if find(tgf, "[%c]") then
        error("'timeGeneratedField' must be a field name", 0)
    end
    if conf.azureResourceId and find(conf.azureResourceId, "[%c]") then
        error("'azureResourceId' must not contain control characters", 0)
    end
    if conf.compress then
        error("'compress' applies to the Logs Ingestion API only", 0)
    end
    local base = conf.endpoint or ("https://" .. ws .. ".ods.opinsights.azure.com")
    base = gsub(http.check_url(base, "endpoint"), "/+$", "")
    return {
        mode = "collector",
        url = base .. "/api/logs?api-version=" .. M.COLLECTOR_API_VERSION,
        workspace = ws,
        key = key,
        log_type = log_type,
        time_field = tgf,
        resource_id = conf.azureResourceId,
        max_bytes = M.COLLECTOR_MAX_BYTES,
    }
end

local prepare = per_conf(function(conf)
    local logs = false
    for _, k in ipairs(LOGS_KEYS) do
        -- endpoint alone can also override the Data Collector's URL.
        if k ~= "endpoint" and set(conf[k]) then
            logs = true
        end
    end
    local collector = set(conf.workspaceId) or set(conf.secret)
    if logs and collector then
        error("set either the Logs Ingestion keys (endpoint, dcrImmutableId, streamName, tenantId, "
            .. "clientId, clientSecret) or the Data Collector keys (workspaceId, secret), not both", 0)
    end
    if conf.timeout and conf.timeout <= 0 then
        error("'timeout' must be a positive number of milliseconds", 0)
    end
    if collector then
        return prepare_collector(conf)
    end
    return prepare_logs(conf)
end)

function M.setup(conf)
    local p = prepare(conf)
    return http.transport(conf, { max_bytes = p.max_bytes - 1024 })
end

-- ---- records -----------------------------------------------------------------------

-- The first top-level field of ev whose value is over the Data Collector's
-- limit (strings counted as their bytes, anything else as its JSON text),
-- and its size. Only an event larger than the limit can have one.
local function oversize_field(ev, text)
    if #text <= M.FIELD_MAX_BYTES then
        return nil
    end
    local doc = json.decode(text)
    if type(doc) ~= "table" then
        return nil
    end
    for k, v in pairs(doc) do
        local size = type(v) == "string" and #v or #(ev:raw(k) or "")
        if size > M.FIELD_MAX_BYTES then
            return k, size
        end
    end
    return nil
end

function M.encode(ev, conf)
    local p = prepare(conf)
    if p.mode == "logs" then
        if ev:raw("TimeGenerated") == nil then
            local t = ev:get("timestampRFC3339Nano")
            if type(t) ~= "string" then
                local ns = ev:raw("timestamp")
                t = ns and find(ns, "^%d+$") and crypto.rfc3339(ns) or nil
            end
            if t then
                ev:set("TimeGenerated", t)
            end
        end
        return ev:json()
    end
    local text = ev:json()
    local k, size = oversize_field(ev, text)
    if k then
        error(format("field '%s' is %d bytes; the Data Collector API keeps at most %d bytes of a "
            .. "field and would truncate it", k, size, M.FIELD_MAX_BYTES), 0)
    end
    return text
end

--- The SharedKey Authorization value for a body of `len` bytes sent at `date`.
function M.shared_key(workspace, key, len, date)
    local sts = format("POST\n%d\napplication/json\nx-ms-date:%s\n/api/logs", len, date)
    return "SharedKey " .. workspace .. ":" .. crypto.base64(crypto.hmac_sha256(key, sts))
end

--- Seconds since the epoch for x-ms-date; a field so tests can fix it.
M.now = os.time

-- The size of the last body built per conf: a Data Collector 404 means "too
-- large" only when that body was over the limit. request() and outcome()
-- of one integration never interleave.
local sent = setmetatable({}, { __mode = "k" })

function M.request(body, n, conf)
    local p = prepare(conf)
    bulk.note_size(conf, body)
    sent[conf] = #body
    if p.mode == "collector" then
        local date = crypto.rfc1123(M.now())
        local h = {
            ["Content-Type"] = "application/json",
            ["Log-Type"] = p.log_type,
            ["x-ms-date"] = date,
            ["time-generated-field"] = p.time_field,
            Authorization = M.shared_key(p.workspace, p.key, #body, date),
        }
        if p.resource_id then
            h["x-ms-AzureResourceId"] = p.resource_id
        end
        return { method = "POST", url = p.url, headers = h, body = body }
    end
    local c = oauth.cache(conf, "main")
    local tok = c:token()
    if not tok then
        return c:fetch_request()
    end
    local h = { ["Content-Type"] = "application/json", Authorization = "Bearer " .. tok }
    if p.compress then
        h["Content-Encoding"] = "gzip"
        body = crypto.gzip(body)
    end
    return { method = "POST", url = p.url, headers = h, body = body }
end

function M.step(name, status, body, conf)
    return oauth.cache(conf, "main"):take(status, body)
end

-- ---- outcomes -------------------------------------------------------------------------

local function decode(body)
    if type(body) ~= "string" or not find(body, "^%s*{") then
        return nil
    end
    local doc = json.decode(body)
    return type(doc) == "table" and doc or nil
end

-- "HTTP 400: <code>: <message>" from either API's error body.
local function reason_of(status, doc, body)
    local code, msg
    if doc then
        if type(doc.error) == "table" then -- Logs Ingestion (Azure's error shape)
            code, msg = doc.error.code, doc.error.message
        else                               -- Data Collector
            code, msg = doc.Error, doc.Message
        end
    end
    local r = "HTTP " .. status
    if type(code) == "string" and code ~= "" then
        r = r .. ": " .. code
        if type(msg) == "string" and msg ~= "" then
            r = r .. ": " .. (http.excerpt(msg, 200) or "")
        end
        return r, code
    end
    local e = http.excerpt(body)
    return e and (r .. ": " .. e) or r, nil
end

-- Data Collector 400 codes that mean the request, not the events, is wrong.
local collector_config = {
    InactiveCustomer = true, InvalidApiVersion = true, InvalidCustomerId = true,
    InvalidLogType = true, MissingApiVersion = true, MissingContentType = true,
    MissingLogType = true, UnsupportedContentType = true,
}

function M.outcome(status, body, n, conf)
    status = tonumber(status) or 0
    n = tonumber(n) or 0
    local p = prepare(conf)
    if status >= 200 and status < 300 then
        return "ok", "HTTP " .. status
    end
    if status == 413 then
        return bulk.too_large(conf, n)
    end
    local reason, code = reason_of(status, decode(body), body)
    if p.mode == "logs" then
        if status == 401 then
            oauth.cache(conf, "main"):invalidate()
            return "again", reason .. " (token refused; fetching a new one)"
        end
        if status == 403 or status == 404 or status == 408 or status == 429 or status >= 500 then
            return "retry", reason
        end
        return "reject", reason
    end
    if status == 400 then
        return collector_config[code] and "retry" or "reject", reason
    end
    if status == 404 then
        if (sent[conf] or 0) > M.COLLECTOR_MAX_BYTES then
            return "split", reason
        end
        return "retry", reason
    end
    if status == 401 or status == 403 or status == 408 or status == 429 or status >= 500 then
        return "retry", reason
    end
    return "reject", reason
end

return M
