-- pubsub.lua - PUBSUB: Google Cloud Pub/Sub, the REST publish method.
--
--   POST <endpoint>/v1/projects/<project>/topics/<topic>:publish
--   Authorization: Bearer <token from the service account's JWT grant,
--                  scope https://www.googleapis.com/auth/pubsub>
--   {"messages":[{"data":"<base64 of the event's JSON>",
--                 "attributes":{...},"orderingKey":"..."}, ...]}
--
-- Keys are Sysdig's (project, topic, orderingKey, attributes,
-- credentialsJson); endpoint and tokenUri override Google's URLs (tests,
-- private endpoints). attributes are Sysdig's list of {key, value} (or a
-- map) and go on every message; orderingKey too, so the messages of one
-- request share it, as Pub/Sub requires.
--
-- Limits: 1000 messages and 10 MB per publish request. The batch is capped
-- at 1000 events (max_events_limit) and sized so that the request body
-- stays under 10 MB; should a `batch:` override make it larger, Pub/Sub's
-- 400 "Request payload size exceeds the limit" (or a 413) sends the batch
-- again in halves.
--
-- Outcomes: 2xx ok. 401: the token is dropped and the batch sent again at
-- once with a new one; refused again, retry. The retryable gRPC codes
-- (CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED,
-- INTERNAL, UNAVAILABLE) and, without one in the body, HTTP 408, 429, 499
-- and 5xx retry. Everything else (INVALID_ARGUMENT, PERMISSION_DENIED,
-- NOT_FOUND, ALREADY_EXISTS...) rejects: dead-lettered. A publish that
-- timed out may have gone through: a retry can duplicate messages.
local crypto = require "siemrelay.crypto"
local google = require "google"
local json = require "json"
local per_conf = require "per_conf"

local M = {}

M.type = "PUBSUB"
M.transport = "http"
M.framing = "list"
M.channels = { "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", "PLATFORM_AUDIT", "MONITOR_EVENTS" }

M.SCOPE = "https://www.googleapis.com/auth/pubsub"
M.ENDPOINT = "https://pubsub.googleapis.com"
M.MAX_MESSAGES = 1000
M.MAX_REQUEST_BYTES = 10000000

M.options = {
    project = { type = "string",
        description = "GCP project id of the topic (optional when topic is projects/P/topics/T)" },
    topic = { required = true, type = "string", description = "topic name, or projects/P/topics/T" },
    orderingKey = { type = "string", description = "ordering key set on every message" },
    attributes = { type = "any",
        description = "message attributes: a list of {key, value} (Sysdig's form) or a map" },
    credentialsJson = { required = true, type = "string", secret = true,
        description = "the service account's JSON key" },
    endpoint = { type = "string", default = M.ENDPOINT,
        description = "Pub/Sub API base URL (override for tests and private endpoints)" },
    tokenUri = { type = "string",
        description = "OAuth2 token URI (default: the key's token_uri, else Google's)" },
    timeout = { type = "integer", default = 30000, description = "request timeout in milliseconds" },
}

-- '{"messages":[' + ']}' + a comma between messages: what a request adds
-- to its records.
local WRAP = #'{"messages":[' + #"]}" + (M.MAX_MESSAGES - 1)
M.batch = { max_events = M.MAX_MESSAGES, max_bytes = M.MAX_REQUEST_BYTES - WRAP, linger_ms = 500 }

local q = json.encode_string
local concat = table.concat
local find, format = string.find, string.format

local function check_attributes(list)
    if #list > 100 then
        error("attributes: at most 100 per message", 0)
    end
    for _, kv in ipairs(list) do
        local k, v = kv[1], kv[2]
        if #k > 256 then
            error(format("attributes: key '%s...' is longer than 256 bytes", k:sub(1, 32)), 0)
        end
        if k:lower():find("^goog") then
            error(format("attributes: key '%s' is reserved (keys may not start with 'goog')", k), 0)
        end
        if #v > 1024 then
            error(format("attributes: the value of '%s' is longer than 1024 bytes", k), 0)
        end
    end
end

local prepare = per_conf(function(conf)
    local project, topic = conf.project, conf.topic
    local fp, ft = topic:match("^projects/([^/]+)/topics/([^/]+)$")
    if fp then
        if project and project ~= fp then
            error(format("topic names project '%s' but project is '%s'", fp, project), 0)
        end
        project, topic = fp, ft
    end
    if not project or project == "" then
        error("missing required key 'project' (or give topic as projects/P/topics/T)", 0)
    end
    if not find(project, "^[%w][%w%-%.:]*$") then
        error("project must be a GCP project id", 0)
    end
    if not find(topic, "^%a[%w%-_%.~%+%%]*$") or #topic < 3 or #topic > 255 then
        error("topic must start with a letter and hold 3 to 255 letters, digits or -_.~+%", 0)
    end
    if topic:lower():find("^goog") then
        error("topic may not start with 'goog'", 0)
    end
    if conf.orderingKey and #conf.orderingKey > 1024 then
        error("orderingKey is longer than 1024 bytes", 0)
    end
    if conf.timeout and conf.timeout <= 0 then
        error("'timeout' must be a positive number of milliseconds", 0)
    end
    local attrs = google.key_values(conf.attributes, "attributes")
    check_attributes(attrs)
    local base = google.base_url(conf.endpoint, M.ENDPOINT)
    -- The message fields after "data", the same for every event.
    local tail = {}
    if #attrs > 0 then
        local parts = {}
        for i, kv in ipairs(attrs) do
            parts[i] = q(kv[1]) .. ":" .. q(kv[2])
        end
        tail[#tail + 1] = ',"attributes":{' .. concat(parts, ",") .. "}"
    end
    if conf.orderingKey and conf.orderingKey ~= "" then
        tail[#tail + 1] = ',"orderingKey":' .. q(conf.orderingKey)
    end
    return {
        url = base .. "/v1/projects/" .. google.escape(project) .. "/topics/" .. google.escape(topic)
            .. ":publish",
        tail = concat(tail) .. "}",
    }
end)

function M.setup(conf)
    prepare(conf)
    google.token_cache(conf, conf.credentialsJson, M.SCOPE, conf.tokenUri, "credentialsJson")
    return {
        timeout_ms = conf.timeout,
        max_events_limit = M.MAX_MESSAGES,
    }
end

--- One PubsubMessage: the event's JSON, base64, with the configured
--- attributes and ordering key.
function M.encode(ev, conf)
    local p = prepare(conf)
    return '{"data":"' .. crypto.base64(ev:json()) .. '"' .. p.tail
end

function M.request(body, n, conf)
    local p = prepare(conf)
    local text = '{"messages":[' .. concat(body, ",") .. "]}"
    p.last_bytes = #text -- request() and outcome() of a conf never interleave
    return google.post_json(conf, p.url, text, true)
end

M.step = google.step

function M.outcome(status, body, n, conf)
    local kind, reason = google.outcome(status, body, n, conf, prepare(conf).last_bytes, true)
    if kind == "ok" then
        -- Pub/Sub answers one id per message stored.
        local doc = json.decode(body)
        local ids = type(doc) == "table" and doc.messageIds
        if type(ids) == "table" and #ids ~= n then
            reason = format("%s: %d message id(s) for %d message(s)", reason, #ids, n)
        end
    end
    return kind, reason
end

return M
