-- oauth.lua - the one OAuth2 access-token cache every integration shares,
-- and the token requests of the flows siemrelay speaks:
--
--   oauth.google_jwt(c, sa_json, scope [, token_uri])
--       Google service account, JWT bearer grant (RFC 7523): an RS256 JWT
--       {iss = client_email, scope, aud = token URI, iat = now - 10 s, exp = iat + 3600}
--       signed with the account's private_key, POSTed as
--       grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT
--   oauth.ibm_iam(c, apikey [, url])
--       IBM Cloud IAM: grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=KEY
--       to https://iam.cloud.ibm.com/identity/token
--   oauth.entra_client_credentials(c, tenant, client_id, client_secret, scope [, authority])
--       Microsoft Entra ID client credentials to
--       https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token
--
-- A module keeps one cache per (conf, key) and drives it from its own
-- request/step/outcome (docs/lua-contract.md, "Token cache"):
--
--   local c = oauth.cache(conf, "main")
--   request():  local tok = c:token(); if not tok then return c:fetch_request() end
--   step():     return c:take(status, body)
--   outcome():  on 401, c:invalidate() and return "again"
--
-- The delivery engine calls request/outcome/step in one Lua state, so a
-- token fetched once serves every batch until it nears expiry. Worker
-- states have their own (unused) caches: nothing here is shared across
-- states, and nothing needs to be.
--
-- Secrets (private key, API key, client secret) and tokens never appear in
-- an error or a reason: what a token endpoint says is reduced to its error
-- code and description, with any secret the cache knows masked.
local crypto = require "siemrelay.crypto"
local json = require "json"

local M = {}

local type, tostring, tonumber, setmetatable, error, pairs = type, tostring, tonumber,
    setmetatable, error, pairs
local format, gsub, gmatch, byte, find, lower, sub = string.format, string.gsub,
    string.gmatch, string.byte, string.find, string.lower, string.sub
local concat = table.concat
local min, floor = math.min, math.floor

--- Seconds since the epoch. A field so that tests can move the clock.
M.now = os.time

-- How long before its expiry a token stops being handed out: 60 s, or 10%
-- of its lifetime when that is shorter (a token that lives 5 minutes is
-- still used for 4.5 of them). Renewing early means a batch never leaves
-- with a token that expires in flight.
M.MARGIN = 60
-- Lifetime assumed when a token response omits expires_in (RFC 6749 makes
-- it only RECOMMENDED); a 401 invalidates the token anyway.
M.DEFAULT_LIFETIME = 3600
-- Lifetime of the JWT assertion: Google accepts at most one hour.
M.JWT_LIFETIME = 3600
-- Seconds the assertion's iat is set back.
M.JWT_BACKDATE = 10

M.GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
M.IBM_IAM_URL = "https://iam.cloud.ibm.com/identity/token"
M.ENTRA_AUTHORITY = "https://login.microsoftonline.com"

-- ---- Form encoding ---------------------------------------------------------

local function pct(c)
    return format("%%%02X", byte(c))
end

-- application/x-www-form-urlencoded (WHATWG URL): unreserved bytes stay,
-- a space becomes "+", everything else %XX.
local function form_escape(s)
    s = gsub(s, "[^%w%-%._~ ]", pct)
    return (gsub(s, " ", "+"))
end

--- A form body from an array of {name, value} pairs (order kept).
function M.form_encode(fields)
    local out = {}
    for i = 1, #fields do
        local f = fields[i]
        out[i] = form_escape(f[1]) .. "=" .. form_escape(tostring(f[2]))
    end
    return concat(out, "&")
end

-- ---- The cache ----------------------------------------------------------------

local Cache = {}
Cache.__index = Cache

-- conf -> key -> cache. Weak keys: a reload drops the old conf and its
-- tokens with it. A cache never refers to its conf, so the entry can go.
local caches = setmetatable({}, { __mode = "k" })

--- The cache of `key` (default "main") for this conf table.
function M.cache(conf, key)
    if type(conf) ~= "table" then
        error("oauth.cache: conf must be a table", 2)
    end
    key = key or "main"
    local per = caches[conf]
    if not per then
        per = {}
        caches[conf] = per
    end
    local c = per[key]
    if not c then
        c = setmetatable({
            key = key,
            -- Several caches of one module must be told apart in step().
            step = key == "main" and "token" or ("token:" .. key),
            secrets = {},
        }, Cache)
        per[key] = c
    end
    return c
end

--- The cached access token, or nil when there is none or it is about to expire.
function Cache:token()
    local tok, exp = self.access_token, self.expires_at
    if not tok then
        return nil
    end
    local margin = min(M.MARGIN, (self.lifetime or 0) * 0.1)
    if M.now() >= exp - margin then
        return nil
    end
    return tok
end

--- Drops the token (the platform refused it: revoked, or the clock lied).
function Cache:invalidate()
    self.access_token, self.expires_at, self.lifetime = nil, nil, nil
end

--- The request that fetches a token, for request() to return.
function Cache:fetch_request()
    local flow = self.flow
    if not flow then
        error("oauth: no token flow is set for '" .. self.key .. "'", 2)
    end
    -- The lifetime counts from when the request was built: the token can
    -- only be younger than that, never older.
    self.requested_at = M.now()
    local req = flow(self)
    req.method = "POST"
    req.step = self.step
    return req
end

local function mask_one(s, secret)
    local at = 1
    while true do
        local i, j = find(s, secret, at, true)
        if not i then
            return s
        end
        s = sub(s, 1, i - 1) .. "******" .. sub(s, j + 1)
        at = i + 6
    end
end

-- Replaces every secret the cache knows in s, and every long line of one
-- (a PEM key echoed in part).
local function mask(self, s)
    for _, secret in pairs(self.secrets) do
        if #secret >= 4 then
            s = mask_one(s, secret)
            for line in gmatch(secret, "[^\r\n]+") do
                if #line >= 16 then
                    s = mask_one(s, line)
                end
            end
        end
    end
    return s
end

-- A short, single-line, secret-free text from a token endpoint's answer.
local function clean(self, s)
    if type(s) ~= "string" then
        return nil
    end
    s = gsub(mask(self, s), "[%c%s]+", " ")
    if #s > 200 then
        s = sub(s, 1, 200) .. "..."
    end
    return s
end

-- Error codes that mean the credentials themselves are refused: sending
-- the same request again cannot succeed (RFC 6749 5.2). IBM IAM names an
-- unknown or deleted API key with its own code.
local refused = {
    invalid_client = true,
    invalid_grant = true,
    unauthorized_client = true,
    ["BXNIM0415E"] = true,
}

--- Takes a token endpoint's response. Returns true once a token is stored;
--- false, reason when it may work later; "reject", reason when the
--- credentials are refused for good.
function Cache:take(status, body)
    status = tonumber(status) or 0
    local doc = type(body) == "string" and json.decode(body) or nil
    if type(doc) ~= "table" then
        doc = nil
    end
    if status >= 200 and status < 300 then
        local tok = doc and doc.access_token
        if type(tok) ~= "string" or tok == "" or find(tok, "[%c%s]") then
            return false, format("token endpoint: HTTP %d without a usable access_token", status)
        end
        local tt = doc.token_type
        if tt ~= nil and (type(tt) ~= "string" or lower(tt) ~= "bearer") then
            return false, format("token endpoint: token_type '%s', expected Bearer",
                clean(self, tostring(tt)))
        end
        -- Entra ID's v1 endpoint sent expires_in as a string; accept both.
        local life = tonumber(doc.expires_in)
        if not life or life <= 0 then
            life = M.DEFAULT_LIFETIME
        end
        life = floor(life)
        self.access_token = tok
        self.lifetime = life
        self.expires_at = (self.requested_at or M.now()) + life
        self.requested_at = nil
        return true
    end
    -- OAuth2's {"error", "error_description"}, Google API's
    -- {"error": {"status", "message"}} and IBM's {"errorCode", "errorMessage"}.
    local code, desc
    if doc then
        if type(doc.error) == "string" then
            code, desc = doc.error, doc.error_description
        elseif type(doc.error) == "table" then
            code, desc = doc.error.status, doc.error.message
        elseif type(doc.errorCode) == "string" then
            code, desc = doc.errorCode, doc.errorMessage
        end
    end
    local reason = format("token endpoint: HTTP %d", status)
    code = clean(self, code)
    if code then
        reason = reason .. ": " .. code
    end
    desc = clean(self, desc)
    if desc and desc ~= "" then
        reason = reason .. ": " .. desc
    end
    if (status == 400 or status == 401 or status == 403) and code and refused[code] then
        return "reject", reason
    end
    return false, reason
end

-- ---- Flows ---------------------------------------------------------------------

local form_headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    Accept = "application/json",
}

local function form_request(url, fields)
    local h = {}
    for k, v in pairs(form_headers) do
        h[k] = v
    end
    return { url = url, headers = h, body = M.form_encode(fields) }
end

local function check_url(url, what)
    if type(url) ~= "string" or not find(url, "^[hH][tT][tT][pP][sS]?://[^/?#]+") then
        error(what .. " must be an http:// or https:// URL", 0)
    end
    return url
end

local function check_string(v, what)
    if type(v) ~= "string" or v == "" then
        error(what .. " is required", 0)
    end
    return v
end

-- Sets a flow. A cache that already runs the same flow (same identity:
-- setup() runs once per state, and again on a state rebuild) keeps its
-- token; a different one starts afresh.
local function set_flow(c, identity, secrets, build)
    if c.identity ~= identity then
        c:invalidate()
    end
    c.identity = identity
    c.secrets = secrets
    c.flow = build
    return c
end

--- The parsed fields of a Google service-account key file, checked. Raises
--- a message that names what is wrong and never quotes the key.
function M.service_account(sa_json, what)
    what = what or "credentials"
    if type(sa_json) == "table" then
        return sa_json
    end
    if type(sa_json) ~= "string" or sa_json == "" then
        error(what .. " is required (a service account's JSON key)", 0)
    end
    local sa = json.decode(sa_json)
    if type(sa) ~= "table" then
        error(what .. " is not valid JSON (expected a service account's JSON key)", 0)
    end
    if sa.type ~= nil and sa.type ~= "service_account" then
        error(format("%s: type is '%s', expected 'service_account'", what, tostring(sa.type)), 0)
    end
    if type(sa.client_email) ~= "string" or sa.client_email == "" then
        error(what .. ": client_email is missing", 0)
    end
    if type(sa.private_key) ~= "string" or not find(sa.private_key, "-----BEGIN", 1, true) then
        error(what .. ": private_key is missing or not PEM", 0)
    end
    return sa
end

--- Google's JWT bearer grant with a service account. scope is one scope or
--- several separated by spaces; token_uri overrides the account's token_uri
--- (itself defaulting to Google's). Raises on unusable credentials.
function M.google_jwt(c, sa_json, scope, token_uri)
    local sa = M.service_account(sa_json)
    check_string(scope, "scope")
    local uri = token_uri or sa.token_uri or M.GOOGLE_TOKEN_URI
    check_url(uri, "token URI")
    local key = sa.private_key
    -- Sign once now, so a key OpenSSL cannot read fails setup() instead of
    -- every batch. The error names no key material.
    local ok = pcall(crypto.rs256_sign, key, "probe")
    if not ok then
        error("credentials: private_key cannot be used for RS256 signing", 0)
    end
    local header = { alg = "RS256", typ = "JWT" }
    if type(sa.private_key_id) == "string" and sa.private_key_id ~= "" then
        header.kid = sa.private_key_id
    end
    local h64 = crypto.base64url(json.encode(header))
    local email = sa.client_email
    return set_flow(c, concat({ "google", email, scope, uri, key }, "\0"), { key },
        function(self)
            -- Issued a little in the past: Google refuses a JWT whose iat
            -- is ahead of its own clock, and hosts' clocks drift.
            local iat = floor(self.requested_at or M.now()) - M.JWT_BACKDATE
            local claims = crypto.base64url(json.encode({
                iss = email, scope = scope, aud = uri, iat = iat, exp = iat + M.JWT_LIFETIME,
            }))
            local input = h64 .. "." .. claims
            local jwt = input .. "." .. crypto.base64url(crypto.rs256_sign(key, input))
            return form_request(uri, {
                { "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer" },
                { "assertion", jwt },
            })
        end)
end

--- IBM Cloud IAM's API-key grant; url overrides the IAM token endpoint.
function M.ibm_iam(c, apikey, url)
    check_string(apikey, "apiKey")
    url = check_url(url or M.IBM_IAM_URL, "IAM URL")
    return set_flow(c, concat({ "ibm", url, apikey }, "\0"), { apikey }, function()
        return form_request(url, {
            { "grant_type", "urn:ibm:params:oauth:grant-type:apikey" },
            { "apikey", apikey },
        })
    end)
end

--- Entra ID client credentials (v2.0 endpoint); authority overrides
--- https://login.microsoftonline.com (the tenant and path are appended).
function M.entra_client_credentials(c, tenant, client_id, client_secret, scope, authority)
    check_string(tenant, "tenant")
    check_string(client_id, "client id")
    check_string(client_secret, "client secret")
    check_string(scope, "scope")
    if find(tenant, "[/?#%s]") then
        error("tenant must be a tenant id or domain", 0)
    end
    authority = gsub(check_url(authority or M.ENTRA_AUTHORITY, "authority"), "/+$", "")
    local url = authority .. "/" .. tenant .. "/oauth2/v2.0/token"
    return set_flow(c, concat({ "entra", url, client_id, client_secret, scope }, "\0"),
        { client_secret }, function()
            return form_request(url, {
                { "grant_type", "client_credentials" },
                { "client_id", client_id },
                { "client_secret", client_secret },
                { "scope", scope },
            })
        end)
end

return M
