-- test_oauth.lua - the OAuth2 token cache (lua/lib/oauth.lua): expiry and
-- its margin, per-conf caches, the three flows' requests, token responses
-- and their classification, secrets kept out of reasons. Run from
-- test_google.lua, which passes its helpers and a test RSA key in.
local t = ...
local eq, raises, pem = t.eq, t.raises, t.pem
local oauth = require "oauth"
local json = require "json"
local crypto = require "siemrelay.crypto"

local clock = 1700000000
local real_now = oauth.now
oauth.now = function() return clock end

-- Form bodies back to a table (the test's own decoder).
local function unform(body)
    local f = {}
    for pair in body:gmatch("[^&]+") do
        local k, v = pair:match("^([^=]*)=(.*)$")
        v = v:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
        f[k] = v
    end
    return f
end

-- ---- form encoding ------------------------------------------------------------

eq(oauth.form_encode({ { "a", "b c" }, { "x&y", "1=2/3+4" }, { "u", "é~._-" } }),
    "a=b+c&x%26y=1%3D2%2F3%2B4&u=%C3%A9~._-", "form_encode")

-- ---- caches per conf and key ---------------------------------------------------

local conf1, conf2 = {}, {}
local c1 = oauth.cache(conf1, "main")
eq(oauth.cache(conf1, "main"), c1, "same conf, same key: same cache")
eq(oauth.cache(conf1), c1, "key defaults to main")
eq(oauth.cache(conf2, "main") ~= c1, true, "another conf: another cache")
eq(oauth.cache(conf1, "iam") ~= c1, true, "another key: another cache")
eq(c1.step, "token", "main cache's step")
eq(oauth.cache(conf1, "iam").step, "token:iam", "other cache's step")
eq(c1:token(), nil, "empty cache has no token")
raises("no token flow", "fetch without a flow", function() return c1:fetch_request() end)
raises("conf must be a table", "cache without conf", oauth.cache, nil, "main")

-- ---- IBM IAM ------------------------------------------------------------------------

local ibm = oauth.ibm_iam(oauth.cache({}, "main"), "my-api-key/+=", nil)
local req = ibm:fetch_request()
eq(req.method, "POST", "ibm method")
eq(req.url, "https://iam.cloud.ibm.com/identity/token", "ibm url")
eq(req.step, "token", "ibm step")
eq(req.headers["Content-Type"], "application/x-www-form-urlencoded", "ibm content type")
eq(req.headers.Accept, "application/json", "ibm accept")
eq(req.body, "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=my-api-key%2F%2B%3D",
    "ibm body")
eq(oauth.ibm_iam(oauth.cache({}), "k", "http://127.0.0.1:9/iam"):fetch_request().url,
    "http://127.0.0.1:9/iam", "ibm url override")
raises("apiKey is required", "ibm without key", oauth.ibm_iam, oauth.cache({}), "")
raises("IAM URL must be", "ibm bad url", oauth.ibm_iam, oauth.cache({}), "k", "iam.example")

-- ---- token responses and expiry --------------------------------------------------------

clock = 1700000000
req = ibm:fetch_request()
eq(ibm:take(200, '{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}'), true,
    "take 200")
eq(ibm:token(), "tok-1", "token cached")
clock = clock + 3600 - 61
eq(ibm:token(), "tok-1", "still valid 61 s before expiry")
clock = clock + 1
eq(ibm:token(), nil, "not handed out 60 s before expiry")
-- A short-lived token: 10% of its lifetime (30 s) is the margin.
clock = 1700000000
ibm:fetch_request()
eq(ibm:take(200, '{"access_token":"tok-2","expires_in":300}'), true, "take without token_type")
clock = clock + 269
eq(ibm:token(), "tok-2", "short token valid 31 s before expiry")
clock = clock + 1
eq(ibm:token(), nil, "short token expired 30 s before expiry")
-- The lifetime counts from the request, not from the response.
clock = 1700000000
ibm:fetch_request()
clock = clock + 100
ibm:take(200, '{"access_token":"tok-3","expires_in":1000}')
clock = 1700000000 + 1000 - 61
eq(ibm:token(), "tok-3", "lifetime from the request: valid")
clock = clock + 1
eq(ibm:token(), nil, "lifetime from the request: renewed")
-- expires_in as a string (Entra v1), or missing.
clock = 1700000000
ibm:fetch_request()
eq(ibm:take(200, '{"access_token":"tok-4","expires_in":"120"}'), true, "expires_in string")
clock = clock + 107
eq(ibm:token(), "tok-4", "string lifetime honoured")
clock = clock + 1
eq(ibm:token(), nil, "string lifetime: margin 12 s")
ibm:fetch_request()
ibm:take(200, '{"access_token":"tok-5"}')
clock = clock + oauth.DEFAULT_LIFETIME - 61
eq(ibm:token(), "tok-5", "default lifetime")
ibm:invalidate()
eq(ibm:token(), nil, "invalidate drops the token")

-- Bad 2xx answers keep nothing.
local ok, reason = ibm:take(200, "not json")
eq(ok, false, "2xx without JSON")
eq(reason, "token endpoint: HTTP 200 without a usable access_token", "2xx without JSON: reason")
eq((ibm:take(200, '{"access_token":""}')), false, "empty access_token")
eq((ibm:take(200, '{"access_token":"a b"}')), false, "access_token with a space")
ok, reason = ibm:take(200, '{"access_token":"x","token_type":"mac"}')
eq(ok, false, "non-bearer token")
eq(reason, "token endpoint: token_type 'mac', expected Bearer", "non-bearer reason")
eq(ibm:token(), nil, "nothing stored after bad answers")

-- Errors: credentials refused for good -> reject; anything else -> false.
local function take_is(c, status, body, want_kind, want_reason)
    local k, r = c:take(status, body)
    eq(k, want_kind, "take " .. status .. " kind")
    eq(r, want_reason, "take " .. status .. " reason")
end
take_is(ibm, 400, '{"error":"invalid_grant","error_description":"Invalid JWT Signature."}',
    "reject", "token endpoint: HTTP 400: invalid_grant: Invalid JWT Signature.")
take_is(ibm, 401, '{"error":"invalid_client","error_description":"bad\nclient"}',
    "reject", "token endpoint: HTTP 401: invalid_client: bad client")
take_is(ibm, 403, '{"error":"unauthorized_client"}', "reject",
    "token endpoint: HTTP 403: unauthorized_client")
take_is(ibm, 400, '{"errorCode":"BXNIM0415E","errorMessage":"Provided API key could not be found."}',
    "reject", "token endpoint: HTTP 400: BXNIM0415E: Provided API key could not be found.")
take_is(ibm, 400, '{"error":"invalid_scope"}', false, "token endpoint: HTTP 400: invalid_scope")
take_is(ibm, 500, '{"error":"invalid_grant"}', false, "token endpoint: HTTP 500: invalid_grant")
take_is(ibm, 503, "<html>down</html>", false, "token endpoint: HTTP 503")
take_is(ibm, 429, '{"error":{"code":429,"message":"Quota","status":"RESOURCE_EXHAUSTED"}}', false,
    "token endpoint: HTTP 429: RESOURCE_EXHAUSTED: Quota")
-- An endpoint that echoes the secret does not get it into a reason.
take_is(ibm, 400, '{"error":"invalid_request","error_description":"apikey my-api-key/+= is bad"}',
    false, "token endpoint: HTTP 400: invalid_request: apikey ****** is bad")

-- ---- Entra ID ------------------------------------------------------------------------

local entra = oauth.entra_client_credentials(oauth.cache({}), "contoso.onmicrosoft.com", "cid",
    "s3cr&t", "https://monitor.azure.com//.default")
req = entra:fetch_request()
eq(req.url, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", "entra url")
local f = unform(req.body)
eq(f.grant_type, "client_credentials", "entra grant")
eq(f.client_id, "cid", "entra client id")
eq(f.client_secret, "s3cr&t", "entra secret")
eq(f.scope, "https://monitor.azure.com//.default", "entra scope")
eq(oauth.entra_client_credentials(oauth.cache({}), "t1", "c", "s", "x/.default",
    "http://127.0.0.1:8/"):fetch_request().url, "http://127.0.0.1:8/t1/oauth2/v2.0/token",
    "entra authority override")
raises("tenant must be", "entra bad tenant", oauth.entra_client_credentials, oauth.cache({}),
    "a/b", "c", "s", "x")
raises("client secret is required", "entra without secret", oauth.entra_client_credentials,
    oauth.cache({}), "t", "c", nil, "x")

-- Setting the same flow again keeps the token; another flow drops it.
local ec = oauth.cache({})
oauth.entra_client_credentials(ec, "t", "c", "s", "x")
ec:fetch_request()
ec:take(200, '{"access_token":"e1","expires_in":3600}')
oauth.entra_client_credentials(ec, "t", "c", "s", "x")
eq(ec:token(), "e1", "same flow again keeps the token")
oauth.entra_client_credentials(ec, "t", "c", "s2", "x")
eq(ec:token(), nil, "another secret drops the token")

-- ---- Google service account --------------------------------------------------------------

local sa = json.encode({
    type = "service_account", project_id = "p", private_key_id = "kid-1", private_key = pem,
    client_email = "relay@p.iam.gserviceaccount.com", token_uri = "https://oauth2.googleapis.com/token",
})
clock = 1700000000
local g = oauth.google_jwt(oauth.cache({}), sa, "https://www.googleapis.com/auth/pubsub")
req = g:fetch_request()
eq(req.url, "https://oauth2.googleapis.com/token", "google token uri")
eq(req.step, "token", "google step")
f = unform(req.body)
eq(f.grant_type, "urn:ietf:params:oauth:grant-type:jwt-bearer", "google grant")
local h64, c64, s64 = f.assertion:match("^([%w_-]+)%.([%w_-]+)%.([%w_-]+)$")
eq(h64 ~= nil, true, "assertion is a compact JWS")
local header = json.decode(crypto.base64url_decode(h64))
eq(header.alg, "RS256", "jwt alg")
eq(header.typ, "JWT", "jwt typ")
eq(header.kid, "kid-1", "jwt kid")
local claims = json.decode(crypto.base64url_decode(c64))
eq(claims.iss, "relay@p.iam.gserviceaccount.com", "jwt iss")
eq(claims.scope, "https://www.googleapis.com/auth/pubsub", "jwt scope")
eq(claims.aud, "https://oauth2.googleapis.com/token", "jwt aud")
eq(claims.iat, 1700000000 - 10, "jwt iat, set back for clock skew")
eq(claims.exp, 1700003590, "jwt exp, an hour after iat")
eq(claims.sub, nil, "jwt has no sub")
eq(crypto.base64url(crypto.rs256_sign(pem, h64 .. "." .. c64)), s64, "jwt signature")
-- A token URI override becomes both the URL and the audience.
req = oauth.google_jwt(oauth.cache({}), sa, "s", "http://127.0.0.1:7/token"):fetch_request()
eq(req.url, "http://127.0.0.1:7/token", "token uri override")
claims = json.decode(crypto.base64url_decode(unform(req.body).assertion:match("^[^.]+%.([^.]+)")))
eq(claims.aud, "http://127.0.0.1:7/token", "override is the audience")

raises("credentials is required", "no credentials", oauth.google_jwt, oauth.cache({}), "", "s")
raises("credentials is not valid JSON", "bad JSON", oauth.google_jwt, oauth.cache({}), "{", "s")
raises("client_email is missing", "no email", oauth.google_jwt, oauth.cache({}),
    '{"private_key":"-----BEGIN x"}', "s")
raises("private_key is missing", "no key", oauth.google_jwt, oauth.cache({}),
    '{"client_email":"a@b"}', "s")
raises("type is 'authorized_user'", "user credentials", oauth.google_jwt, oauth.cache({}),
    '{"type":"authorized_user","client_email":"a@b","private_key":"-----BEGIN x"}', "s")
local bad = json.encode({ client_email = "a@b",
    private_key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" })
local okk, err = pcall(oauth.google_jwt, oauth.cache({}), bad, "s")
eq(okk, false, "unreadable key fails")
eq(err, "credentials: private_key cannot be used for RS256 signing", "unreadable key message")
-- The key never appears in a reason, even when echoed.
g:fetch_request()
local ok2, r2 = g:take(400, json.encode({ error = "invalid_request", error_description = pem }))
eq(ok2, false, "echoed key: kind")
eq(r2:find("PRIVATE KEY", 1, true), nil, "echoed key masked")

oauth.now = real_now
