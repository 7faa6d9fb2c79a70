-- google.lua - what the Google Cloud integrations (CHRONICLE, PUBSUB, SCC)
-- share: service-account tokens through the oauth cache, Google's error
-- shape, and which answers are worth another try.
--
-- Google APIs answer errors as
--   {"error": {"code": 400, "message": "...", "status": "INVALID_ARGUMENT"}}
-- where status is the gRPC canonical code. The code decides when it is
-- there, because one HTTP status stands for several codes (409 is ABORTED,
-- worth a retry, or ALREADY_EXISTS, which is not); without it the HTTP
-- status decides.
local http = require "http"
local json = require "json"
local oauth = require "oauth"

local M = {}

local type, tostring, tonumber, pairs, ipairs, pcall, error = type, tostring, tonumber, pairs,
    ipairs, pcall, error
local format, find, gsub = string.format, string.find, string.gsub

M.SCOPE_CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"

-- gRPC codes a client retries (the publisher's retry settings, and the
-- cross-type summary in the destination reference).
M.retry_codes = {
    CANCELLED = true, UNKNOWN = true, DEADLINE_EXCEEDED = true, RESOURCE_EXHAUSTED = true,
    ABORTED = true, INTERNAL = true, UNAVAILABLE = true,
}
-- HTTP statuses that mean the same when the body says nothing: 499 is
-- CANCELLED, 504 DEADLINE_EXCEEDED, 429 RESOURCE_EXHAUSTED.
M.retry_http = { [408] = true, [429] = true, [499] = true, [500] = true, [502] = true,
    [503] = true, [504] = true }

--- The error of a Google API answer: code (number), status (gRPC code
--- name) and message, each possibly nil.
function M.error_of(body)
    if type(body) ~= "string" or not find(body, "^%s*{") then
        return nil
    end
    local doc = json.decode(body)
    local e = type(doc) == "table" and doc.error
    if type(e) ~= "table" then
        return nil
    end
    local status = type(e.status) == "string" and e.status or nil
    local message = type(e.message) == "string" and e.message or nil
    return tonumber(e.code), status, message
end

--- "HTTP 400: INVALID_ARGUMENT: <message>" (message cut to 200 bytes, on
--- one line), or the body's excerpt when it is not Google's shape.
function M.reason(status, body)
    local _, code, message = M.error_of(body)
    local r = "HTTP " .. tostring(status)
    if code then
        r = r .. ": " .. code
    end
    if message then
        return r .. ": " .. http.excerpt(message, 200)
    end
    if not code then
        local e = http.excerpt(body)
        if e then
            r = r .. ": " .. e
        end
    end
    return r
end

--- "retry" or "reject" for a non-2xx answer, and its reason.
function M.classify(status, body)
    status = tonumber(status) or 0
    local _, code = M.error_of(body)
    local retry
    if code then
        retry = M.retry_codes[code] == true
    else
        retry = M.retry_http[status] == true or status >= 500
    end
    return retry and "retry" or "reject", M.reason(status, body)
end

--- True when the answer says the request body was too large: HTTP 413, or
--- the front end's 400 "Request payload size exceeds the limit".
function M.too_large(status, body)
    if status == 413 then
        return true
    end
    if status ~= 400 then
        return false
    end
    local _, _, message = M.error_of(body)
    return message ~= nil and find(message:lower(), "payload size exceeds", 1, true) ~= nil
end

--- outcome()'s answer to a request too large: "split" (the engine sends
--- the batch again in halves, and rejects a single record still too large).
function M.split(status, body, n, bytes)
    return "split", format("%s (%d records, %s bytes); if this repeats, set batch max_bytes "
        .. "under the limit", M.reason(status, body), n, tostring(bytes or "?"))
end

--- The token cache of conf, with the service-account flow set (setup()
--- calls this; request, step and outcome then use oauth.cache(conf)).
function M.token_cache(conf, credentials, scope, token_uri, what)
    local c = oauth.cache(conf, "main")
    local ok, err = pcall(oauth.google_jwt, c, credentials, scope, token_uri)
    if not ok then
        -- oauth's messages say "credentials"; name the user's key instead.
        error((gsub(tostring(err), "^credentials", what or "credentials")), 0)
    end
    return c
end

--- "Authorization: Bearer" headers for conf's cached token, or nil when a
--- token must be fetched first.
function M.auth_headers(conf, extra)
    local tok = oauth.cache(conf, "main"):token()
    if not tok then
        return nil
    end
    local h = { Authorization = "Bearer " .. tok }
    for k, v in pairs(extra or {}) do
        h[k] = v
    end
    return h
end

--- The token request to return from request() when auth_headers gave nil.
function M.fetch_request(conf)
    return oauth.cache(conf, "main"):fetch_request()
end

--- step("token", ...): stores the token.
function M.take_token(conf, status, body)
    return oauth.cache(conf, "main"):take(status, body)
end

--- What to do with a 401: the first time, drop the token and send again at
--- once ("again"; the engine fetches a new token through step()); when the
--- fresh token is refused too, "retry" (backoff, then the Error status), so
--- that a revoked key stops the integration rather than its events.
function M.unauthorized(conf, status, body)
    local c = oauth.cache(conf, "main")
    c:invalidate()
    local reason = M.reason(status, body)
    if c.refused_after_refresh then
        return "retry", reason .. " (refused again with a new token)"
    end
    c.refused_after_refresh = true
    return "again", reason .. "; fetching a new token"
end

--- A request went through with the token: a later 401 is a first one again.
function M.authorized(conf)
    oauth.cache(conf, "main").refused_after_refresh = nil
end

local json_headers = { ["Content-Type"] = "application/json" }

--- A POST of JSON text to url, with conf's bearer token when with_token;
--- the token request instead when there is no token yet.
function M.post_json(conf, url, text, with_token)
    local headers = json_headers
    if with_token then
        headers = M.auth_headers(conf, json_headers)
        if not headers then
            return M.fetch_request(conf)
        end
    end
    return { method = "POST", url = url, headers = headers, body = text }
end

--- step() of a module whose only step is the token.
function M.step(name, status, body, conf)
    if name ~= "token" then
        return false, "unknown step " .. tostring(name)
    end
    return M.take_token(conf, status, body)
end

--- outcome() of a batch request: 2xx ok; 401 a new token (with_token) or
--- the rule below; too large: split (`bytes`, the size sent, for the
--- reason); else classify().
function M.outcome(status, body, n, conf, bytes, with_token)
    status = tonumber(status) or 0
    if status >= 200 and status < 300 then
        if with_token then
            M.authorized(conf)
        end
        return "ok", "HTTP " .. status
    end
    if status == 401 and with_token then
        return M.unauthorized(conf, status, body)
    end
    if M.too_large(status, body) then
        return M.split(status, body, n, bytes)
    end
    return M.classify(status, body)
end

--- Base URL of an API: `endpoint` (an override, for tests and private
--- endpoints) or the default, without a trailing slash.
function M.base_url(endpoint, default, what)
    local url = endpoint or default
    http.check_url(url, what or "endpoint")
    if find(url, "[?#]") then
        error(format("%s must be a base URL without a query", what or "endpoint"), 0)
    end
    return (gsub(url, "/+$", ""))
end

--- Sysdig's list of {key, value} (or a map name: value) as an array of
--- {key, value}: the list's order, or a map's keys sorted. Values become
--- strings. Raises naming `what` on anything else or a repeated key.
function M.key_values(opt, what)
    local out = {}
    if opt == nil then
        return out
    end
    if type(opt) ~= "table" then
        error(what .. " must be a list of {key, value} or a map of key: value", 0)
    end
    local seen = {}
    local function add(k, v, where)
        if type(k) ~= "string" or k == "" then
            error(where .. " needs a non-empty key", 0)
        end
        if seen[k] then
            error(format("%s: key '%s' is given twice", what, k), 0)
        end
        if type(v) == "table" then
            error(format("%s: the value of '%s' must be a scalar", what, k), 0)
        end
        seen[k] = true
        out[#out + 1] = { k, v == nil and "" or tostring(v) }
    end
    if #opt > 0 then
        for i, item in ipairs(opt) do
            local where = format("%s[%d]", what, i)
            if type(item) ~= "table" then
                error(where .. " must be a {key, value} map", 0)
            end
            add(item.key, item.value, where)
        end
    else
        local keys = {}
        for k in pairs(opt) do
            keys[#keys + 1] = tostring(k)
        end
        table.sort(keys)
        for _, k in ipairs(keys) do
            add(k, opt[k], what)
        end
    end
    return out
end

--- Percent-encodes a URL path segment or query value.
function M.escape(s)
    return (gsub(s, "[^%w%-%._~]", function(c) return format("%%%02X", c:byte()) end))
end

return M
