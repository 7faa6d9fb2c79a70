-- http.lua - what HTTP integrations share: the default outcome
-- classification, header tables, authentication values and URL joining.
--
-- Header tables map a name to a value ({["Content-Type"] = "..."}). HTTP
-- header names are case-insensitive but Lua keys are not, so set and remove
-- headers through set_header / remove_header, which replace any spelling.
local crypto = require "siemrelay.crypto"

local M = {}

local type, tostring, pairs, ipairs, error = type, tostring, pairs, ipairs, error
local format, lower, gsub, sub, match, find = string.format, string.lower, string.gsub,
    string.sub, string.match, string.find

-- ---- Outcomes -------------------------------------------------------------

-- A short, single-line excerpt of a response body for a reason string.
function M.excerpt(body, max)
    if type(body) ~= "string" or body == "" then
        return nil
    end
    max = max or 200
    local s = gsub(sub(body, 1, max), "[%c%s]+", " ")
    s = match(s, "^%s*(.-)%s*$")
    if s == "" then
        return nil
    end
    if #body > max then
        s = s .. "..."
    end
    return s
end

--- Classifies a status as "ok" (2xx), "retry" (408, 429, 5xx: the platform
--- may take it later) or "reject" (any other status: the same request would
--- fail again). Returns the kind and a reason ("HTTP 503: <body excerpt>").
--- Same signature as a module's outcome(), so `M.outcome = http.outcome`.
function M.outcome(status, body)
    status = tonumber(status) or 0
    local kind
    if status >= 200 and status < 300 then
        kind = "ok"
    elseif status == 408 or status == 429 or status >= 500 then
        kind = "retry"
    else
        kind = "reject"
    end
    local reason = "HTTP " .. status
    if kind ~= "ok" then
        local e = M.excerpt(body)
        if e then
            reason = reason .. ": " .. e
        end
    end
    return kind, reason
end

-- ---- Headers --------------------------------------------------------------

--- Removes every spelling of header `name` from table h.
function M.remove_header(h, name)
    local ln = lower(name)
    for k in pairs(h) do
        if lower(k) == ln then
            h[k] = nil
        end
    end
    return h
end

--- Sets header `name`, replacing any other spelling of it.
function M.set_header(h, name, value)
    M.remove_header(h, name)
    h[name] = value
    return h
end

--- The value of header `name` in any spelling, or nil.
function M.get_header(h, name)
    local ln = lower(name)
    for k, v in pairs(h) do
        if lower(k) == ln then
            return v
        end
    end
    return nil
end

local function header_value(v, where)
    local tv = type(v)
    if tv == "string" then
        return v
    elseif tv == "number" or tv == "boolean" then
        return tostring(v)
    end
    error(format("%s: a header value must be a string, got a %s", where, tv), 0)
end

local function check_name(name, where)
    if type(name) ~= "string" or not find(name, "^[!#$%%&'*+%-.^_`|~%w]+$") then
        error(format("%s: '%s' is not a valid header name", where, tostring(name)), 0)
    end
    return name
end

--- Normalises a `headers` option into a name -> value table. Accepts Sysdig's
--- list of {key = ..., value = ...} and a plain map {Name = value}; nil gives
--- an empty table. Raises with a message naming `where` (default "headers")
--- on anything else. Values may not contain line breaks.
function M.parse_headers(opt, where)
    where = where or "headers"
    local h = {}
    if opt == nil then
        return h
    end
    if type(opt) ~= "table" then
        error(where .. " must be a list of {key, value} or a map of name: value", 0)
    end
    if #opt > 0 then
        for i, item in ipairs(opt) do
            local w = format("%s[%d]", where, i)
            if type(item) ~= "table" or item.key == nil then
                error(w .. " must have a key and a value", 0)
            end
            local v = header_value(item.value == nil and "" or item.value, w)
            M.set_header(h, check_name(item.key, w), v)
        end
    else
        for k, v in pairs(opt) do
            M.set_header(h, check_name(k, where), header_value(v, where .. "." .. tostring(k)))
        end
    end
    for k, v in pairs(h) do
        if find(v, "[\r\n]") then
            error(format("%s: the value of '%s' contains a line break", where, k), 0)
        end
    end
    return h
end

--- A shallow copy of a header table (request() must not share the table it
--- prepared once with the caller).
function M.copy(h)
    local c = {}
    for k, v in pairs(h) do
        c[k] = v
    end
    return c
end

-- ---- Authentication -------------------------------------------------------

--- "Basic <base64(user:password)>"; raises unless the secret has a colon.
function M.basic(user_colon_password)
    if type(user_colon_password) ~= "string" or not find(user_colon_password, ":", 1, true) then
        error("basic auth needs the secret as 'user:password'", 0)
    end
    return "Basic " .. crypto.base64(user_colon_password)
end

function M.bearer(token)
    if type(token) ~= "string" or token == "" then
        error("bearer auth needs a token", 0)
    end
    return "Bearer " .. token
end

--- Lower-case hex HMAC-SHA256 of the exact body.
function M.signature(secret, body)
    return crypto.hex(crypto.hmac_sha256(secret, body))
end

-- ---- URLs -----------------------------------------------------------------

--- base .. "/" .. path with exactly one slash between them.
function M.join(base, path)
    if path == nil or path == "" then
        return base
    end
    local b = gsub(base, "/+$", "")
    local p = gsub(path, "^/+", "")
    return b .. "/" .. p
end

--- Splits a URL into scheme://authority, path and ?query (each possibly
--- ""); nil when it is not an http(s) URL.
function M.split_url(url)
    if type(url) ~= "string" then
        return nil
    end
    local origin, rest = match(url, "^([hH][tT][tT][pP][sS]?://[^/?#]+)(.*)$")
    if not origin then
        return nil
    end
    local path, query = match(rest, "^([^?#]*)(.*)$")
    return origin, path, query
end

--- Checks that `url` is an absolute http:// or https:// URL; returns it.
function M.check_url(url, what)
    if not M.split_url(url) then
        error(format("%s must be an http:// or https:// URL, got '%s'", what or "url",
            tostring(url)), 0)
    end
    return url
end

--- Adds the transport options every HTTP integration shares to a module's
--- option schema (keys the module declares itself win): isInsecure, caFile
--- (alias caCertFile) and timeout, and with `client_cert` certFile and
--- keyFile (mTLS). Returns `options`.
function M.transport_options(options, client_cert)
    local shared = {
        isInsecure = { type = "boolean", default = false,
            description = "skip TLS certificate and host name verification" },
        caFile = { type = "string", description = "PEM bundle to verify the server's certificate" },
        caCertFile = { alias_of = "caFile" },
        timeout = { type = "integer", default = 30000, description = "request timeout in milliseconds" },
    }
    if client_cert then
        shared.certFile = { type = "string", description = "client certificate (PEM) for mTLS" }
        shared.keyFile = { type = "string", description = "client private key (PEM) for mTLS" }
    end
    for name, opt in pairs(shared) do
        if options[name] == nil then
            options[name] = opt
        end
    end
    return options
end

--- The http sink settings those options give, added to `settings` (setup's
--- return table; a new one when nil). Raises when only one of certFile and
--- keyFile is set, or the timeout is not positive.
function M.transport(conf, settings)
    if (conf.certFile == nil) ~= (conf.keyFile == nil) then
        error("'certFile' and 'keyFile' go together", 0)
    end
    if conf.timeout and conf.timeout <= 0 then
        error("'timeout' must be a positive number of milliseconds", 0)
    end
    settings = settings or {}
    settings.timeout_ms = conf.timeout
    settings.insecure = conf.isInsecure == true
    settings.ca_file = conf.caFile
    settings.cert_file = conf.certFile
    settings.key_file = conf.keyFile
    return settings
end

return M
