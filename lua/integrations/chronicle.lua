-- chronicle.lua - CHRONICLE: Google Security Operations (Chronicle), the
-- Ingestion API's unstructured log entries, log type SYSDIG (Chronicle's
-- default parser for Sysdig JSON). Channels: runtime policy events (as in
-- Sysdig's table), platform audit and monitor events, which go in the same
-- way: the API takes any log text.
--
-- Two variants, as Sysdig's integration has them, told apart by the
-- credential given:
--   v1  apiKey (+ region: us, europe, asia-southeast1)
--       POST https://<host>/v1/unstructuredlogentries?key=<apiKey>
--       {"log_type":"SYSDIG","entries":[...]}
--   v2  credentialsOAuth2 (a service account's JSON key) + chronicleCustomerId
--       (+ namespace, region)
--       POST https://<host>/v2/unstructuredlogentries:batchCreate
--       Authorization: Bearer <token, scope .../auth/malachite-ingestion>
--       {"customer_id":"<uuid>","log_type":"SYSDIG","namespace":"...","entries":[...]}
-- <host> is malachiteingestion-pa.googleapis.com for us, else
-- <region>-malachiteingestion-pa.googleapis.com. endpoint replaces
-- https://<host> (tests, private endpoints); tokenUri the token URI.
--
-- Each entry: {"log_text":"<the event's JSON>","ts_rfc3339":"<its timestamp>"}
-- with the nanosecond timestamp written exactly (9 fraction digits); an
-- event without one leaves the time to Chronicle. Field names are the
-- ones Google's Ingestion API documentation uses (proto JSON also accepts
-- logText, tsRfc3339...).
--
-- A request stays under 1 MB: batches are sized for it. Should a `batch:`
-- override make one larger, the 400 "payload size exceeds" (or a 413)
-- sends it again in halves.
--
-- Outcomes: 2xx ok. 401 on v2: new token, the batch again at once (twice
-- refused: retry). The retryable gRPC codes and, without one, 408, 429,
-- 499, 5xx retry. Other answers (400 INVALID_ARGUMENT, a bad API key, 403)
-- reject: dead-lettered. Chronicle deduplicates identical batches, so a
-- retry does not duplicate.
local crypto = require "siemrelay.crypto"
local google = require "google"
local json = require "json"
local per_conf = require "per_conf"

local M = {}

M.type = "CHRONICLE"
M.transport = "http"
M.framing = "list"
M.channels = { "SECURE_EVENTS_POLICIES", "PLATFORM_AUDIT", "MONITOR_EVENTS" }

M.SCOPE = "https://www.googleapis.com/auth/malachite-ingestion"
M.MAX_REQUEST_BYTES = 1000000

M.regions_v1 = { "us", "europe", "asia-southeast1" }
M.regions_v2 = { "us", "europe", "europe-west2", "europe-west3", "europe-west6", "asia-southeast1",
    "asia-south1", "asia-northeast1", "me-west1", "me-central2", "australia-southeast1" }

M.options = {
    region = { type = "string", default = "us", description = "Chronicle region" },
    apiKey = { type = "string", secret = true, description = "v1: the Ingestion API key" },
    chronicleCustomerId = { type = "string", description = "v2: the Chronicle customer id (a UUID)" },
    namespace = { type = "string", description = "v2: the namespace the logs are tagged with" },
    credentialsOAuth2 = { type = "string", secret = true,
        description = "v2: the service account's JSON key" },
    logType = { type = "string", default = "SYSDIG", description = "Chronicle log type" },
    endpoint = { type = "string",
        description = "base URL replacing https://<region host> (tests, private endpoints)" },
    tokenUri = { type = "string",
        description = "v2: OAuth2 token URI (default: the key's token_uri, else Google's)" },
    timeout = { type = "integer", default = 30000, description = "request timeout in milliseconds" },
}

M.batch = { max_events = 500, max_bytes = 950000, linger_ms = 500 }

local q = json.encode_string
local concat = table.concat
local find, format = string.find, string.format

--- The ingestion host of a region.
function M.host(region)
    if region == "us" then
        return "malachiteingestion-pa.googleapis.com"
    end
    return region .. "-malachiteingestion-pa.googleapis.com"
end

local function listed(list, v)
    for _, x in ipairs(list) do
        if x == v then
            return true
        end
    end
    return false
end

local prepare = per_conf(function(conf)
    local v1 = conf.apiKey ~= nil and conf.apiKey ~= ""
    local v2 = conf.credentialsOAuth2 ~= nil and conf.credentialsOAuth2 ~= ""
    if v1 and v2 then
        error("give apiKey (v1) or credentialsOAuth2 (v2), not both", 0)
    end
    if not v1 and not v2 then
        error("missing credentials: apiKey (v1) or credentialsOAuth2 with chronicleCustomerId (v2)", 0)
    end
    local region = (conf.region or "us"):lower()
    local regions = v1 and M.regions_v1 or M.regions_v2
    if not listed(regions, region) then
        error(format("region '%s' is not a Chronicle %s region (%s)", region, v1 and "v1" or "v2",
            concat(regions, ", ")), 0)
    end
    local log_type = conf.logType or "SYSDIG"
    if not find(log_type, "^[%u%d_]+$") then
        error("logType must be upper-case letters, digits and '_'", 0)
    end
    if conf.timeout and conf.timeout <= 0 then
        error("'timeout' must be a positive number of milliseconds", 0)
    end
    local base = google.base_url(conf.endpoint, "https://" .. M.host(region))
    local prefix
    local p = {}
    if v1 then
        if conf.chronicleCustomerId or conf.namespace then
            error("chronicleCustomerId and namespace are v2 keys (with credentialsOAuth2)", 0)
        end
        -- API keys are [A-Za-z0-9_-]: the key goes into the URL as is,
        -- which is also the spelling the log redaction knows.
        if not find(conf.apiKey, "^[%w%-_]+$") then
            error("apiKey must hold only letters, digits, '-' and '_'", 0)
        end
        p.url = base .. "/v1/unstructuredlogentries?key=" .. conf.apiKey
        prefix = '{"log_type":' .. q(log_type) .. ',"entries":['
    else
        local cid = conf.chronicleCustomerId
        if not cid or cid == "" then
            error("missing required key 'chronicleCustomerId' (v2)", 0)
        end
        if not find(cid, "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") then
            error("chronicleCustomerId must be a UUID", 0)
        end
        if conf.namespace and find(conf.namespace, "%c") then
            error("namespace must not hold control characters", 0)
        end
        p.url = base .. "/v2/unstructuredlogentries:batchCreate"
        p.v2 = true
        prefix = '{"customer_id":' .. q(cid:lower()) .. ',"log_type":' .. q(log_type)
        if conf.namespace and conf.namespace ~= "" then
            prefix = prefix .. ',"namespace":' .. q(conf.namespace)
        end
        prefix = prefix .. ',"entries":['
    end
    p.prefix = prefix
    return p
end)

function M.setup(conf)
    local p = prepare(conf)
    if p.v2 then
        google.token_cache(conf, conf.credentialsOAuth2, M.SCOPE, conf.tokenUri, "credentialsOAuth2")
    end
    -- Room for the wrapper and a comma per entry within 1 MB.
    return {
        timeout_ms = conf.timeout,
        max_bytes = M.MAX_REQUEST_BYTES - #p.prefix - 2 - M.batch.max_events,
    }
end

--- One entry: the event's JSON as the log text, and its time.
function M.encode(ev, conf)
    local entry = '{"log_text":' .. q(ev:json())
    local ts = ev:raw("timestamp")
    if ts and find(ts, "^%d+$") then
        local ok, t = pcall(crypto.rfc3339, ts, 9)
        if ok then
            entry = entry .. ',"ts_rfc3339":"' .. t .. '"'
        end
    end
    return entry .. "}"
end

function M.request(body, n, conf)
    local p = prepare(conf)
    local text = p.prefix .. concat(body, ",") .. "]}"
    p.last_bytes = #text -- request() and outcome() of a conf never interleave
    return google.post_json(conf, p.url, text, p.v2)
end

M.step = google.step

function M.outcome(status, body, n, conf)
    local p = prepare(conf)
    return google.outcome(status, body, n, conf, p.last_bytes, p.v2)
end

return M
