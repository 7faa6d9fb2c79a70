-- webhook.lua - WEBHOOK: events POSTed to an HTTP(S) endpoint, with
-- Sysdig's webhook options.
--
-- Wire format:
--   output: json    one event per request, the body is the event's JSON
--                   object (Sysdig's default); Content-Type application/json
--   output: ndjson  a batch per request, one event per line, each line
--                   ending in "\n"; Content-Type application/x-ndjson
-- timestampFormat rewrites the event's "timestamp" (nanoseconds) to the
-- chosen resolution, exactly (integer text arithmetic, truncated).
--
-- Authentication (auth):
--   BASIC_AUTH    Authorization: Basic base64(secret); secret is "user:password"
--   BEARER_TOKEN  Authorization: Bearer <secret>
--   SIGNATURE     <signatureHeader>: sha256=<hex HMAC-SHA256 of the exact body, key = secret>
--   CERTIFICATE   client certificate (mTLS) from certFile and keyFile
--
-- User `headers` are sent with every request, but cannot replace
-- Authorization, Content-Type, Content-Length, Content-Encoding,
-- Transfer-Encoding or the signature header: those are removed from the
-- user's set (in any spelling) and set by the module or the transport.
--
-- Outcomes are the generic HTTP ones: 2xx ok; 408, 429, 5xx retry; other
-- statuses reject.
local event = require "event"
local http = require "http"
local per_conf = require "per_conf"
local time = require "time"

local M = {}

M.type = "WEBHOOK"
M.transport = "http"
M.framing = "list" -- setup() picks ndjson for output: ndjson
-- Beyond Sysdig: a generic endpoint also takes the platform audit trail
-- (siemrelay's own admin audit events) and monitor events.
M.channels = { "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", "PLATFORM_AUDIT", "MONITOR_EVENTS" }

M.options = http.transport_options({
    endpoint = { required = true, type = "string",
        description = "URL events are POSTed to (http:// or https://)" },
    headers = { type = "any",
        description = "extra request headers: a list of {key, value} (Sysdig's form) or a map" },
    output = { type = "string", enum = { "json", "ndjson" }, default = "json",
        description = "json: one event per request; ndjson: batches, one event per line" },
    timestampFormat = { type = "string",
        enum = { "seconds", "milliseconds", "microseconds", "nanoseconds" },
        default = "nanoseconds", description = "resolution of the event's timestamp field" },
    auth = { type = "string", enum = { "BASIC_AUTH", "BEARER_TOKEN", "SIGNATURE", "CERTIFICATE" },
        description = "how requests are authenticated" },
    secret = { type = "string", secret = true,
        description = "user:password (BASIC_AUTH), the token (BEARER_TOKEN) or the HMAC key (SIGNATURE)" },
    signatureHeader = { type = "string", default = "X-Siemrelay-Signature",
        description = "header carrying sha256=<hex HMAC> when auth is SIGNATURE" },
}, true)

M.batch = { max_events = 500, max_bytes = 1048576, linger_ms = 500 }

-- Headers the user's `headers` cannot set.
local reserved = { "Authorization", "Content-Type", "Content-Length", "Content-Encoding",
    "Transfer-Encoding" }

-- What setup() derives from a conf, kept per conf table (request() runs on
-- another state's copy, which has its own setup).
local prepare = per_conf(function(conf)
    http.check_url(conf.endpoint, "endpoint")
    local auth, secret = conf.auth, conf.secret
    if (auth == "BASIC_AUTH" or auth == "BEARER_TOKEN" or auth == "SIGNATURE")
        and (secret == nil or secret == "") then
        error("auth " .. auth .. " needs 'secret'", 0)
    end
    if auth == "CERTIFICATE" and (not conf.certFile or not conf.keyFile) then
        error("auth CERTIFICATE needs 'certFile' and 'keyFile'", 0)
    end
    local sig = conf.signatureHeader or M.options.signatureHeader.default
    if not sig:find("^[%w!#$%%&'*+%-.^_`|~]+$") then
        error("'signatureHeader' is not a valid header name", 0)
    end

    local h = http.parse_headers(conf.headers, "headers")
    for _, name in ipairs(reserved) do
        http.remove_header(h, name)
    end
    http.remove_header(h, sig)
    local ndjson = conf.output == "ndjson"
    h["Content-Type"] = ndjson and "application/x-ndjson" or "application/json"
    if auth == "BASIC_AUTH" then
        h.Authorization = http.basic(secret) -- raises unless "user:password"
    elseif auth == "BEARER_TOKEN" then
        h.Authorization = http.bearer(secret)
    end
    return {
        headers = h,
        ndjson = ndjson,
        sign = auth == "SIGNATURE" and secret or nil,
        sig_header = sig,
        unit = conf.timestampFormat or "nanoseconds",
    }
end)

function M.setup(conf)
    local p = prepare(conf)
    return http.transport(conf, {
        -- json: a request holds one event, exactly as Sysdig sends it.
        framing = p.ndjson and "ndjson" or "list",
        max_events = (not p.ndjson) and 1 or nil,
        max_events_limit = (not p.ndjson) and 1 or nil,
    })
end

-- The record is the event, its timestamp converted if asked (written by C:
-- see docs/lua-contract.md).
function M.envelope(ev, conf)
    local unit = conf.timestampFormat
    if unit and unit ~= "nanoseconds" then
        local ts = ev:raw("timestamp")
        local v = ts and time.convert(ts, unit)
        if v then
            ev:set_raw("timestamp", v)
        end
    end
    return "", ""
end

M.encode = event.enveloped(M.envelope)

local concat = table.concat

function M.request(body, n, conf)
    local p = prepare(conf)
    if type(body) == "table" then
        -- output: json. One record is the body; should a batch override
        -- have grouped more, they go as a JSON array rather than as
        -- invalid concatenated JSON.
        if #body == 1 then
            body = body[1]
        else
            body = "[" .. concat(body, ",") .. "]"
        end
    end
    local headers = p.headers
    if p.sign then
        headers = http.copy(headers)
        headers[p.sig_header] = "sha256=" .. http.signature(p.sign, body)
    end
    return { method = "POST", url = conf.endpoint, headers = headers, body = body }
end

M.outcome = http.outcome

return M
