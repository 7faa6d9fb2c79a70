-- sigv4.lua - AWS Signature Version 4 for requests built by integration
-- modules (SQS today; any AWS JSON or query API the same way).
--
--   sigv4.sign(req, creds, region, service [, t])
--       req    {method, url, headers, body}: headers gets Host, X-Amz-Date,
--              X-Amz-Security-Token (when creds.session_token is set) and
--              Authorization; every header already in req.headers is signed
--       creds  {access_key, secret_key [, session_token]}
--       t      seconds since the epoch (default sigv4.now())
--
-- The steps of AWS's "Create a signed AWS API request", each exported so
-- the unit tests can check them against AWS's published examples:
--   canonical_request(method, url, headers, payload_hash) -> text, signed header list
--   string_to_sign(amz_date, scope, canonical_request)
--   signing_key(secret, date, region, service)
--   signature(signing_key, string_to_sign) -> lower-case hex
--
-- The Host header is set explicitly (host, plus the port when it is not the
-- scheme's default) so that what is signed is byte for byte what libcurl
-- sends. The secret key never leaves this module: only the derived signature
-- goes into a header, and no error quotes a credential.
local crypto = require "siemrelay.crypto"
local http = require "http"

local M = {}

local type, tostring, tonumber, pairs, ipairs, error = type, tostring, tonumber, pairs, ipairs,
    error
local format, lower, gsub, match, byte, char, sub, find = string.format, string.lower, string.gsub,
    string.match, string.byte, string.char, string.sub, string.find
local concat, sort = table.concat, table.sort
local hmac, sha256, hex = crypto.hmac_sha256, crypto.sha256, crypto.hex

--- Seconds since the epoch; a field so tests can fix the clock.
M.now = os.time

M.ALGORITHM = "AWS4-HMAC-SHA256"

-- Headers never signed: the transport may add or change them (Expect,
-- User-Agent, Content-Length from libcurl), and Authorization is the
-- signature itself.
local unsigned = {
    authorization = true, ["user-agent"] = true, expect = true, ["content-length"] = true,
    ["x-amzn-trace-id"] = true,
}

--- "YYYYMMDDTHHMMSSZ" for seconds since the epoch (UTC).
function M.amz_date(t)
    return os.date("!%Y%m%dT%H%M%SZ", t)
end

-- ---- URI encoding -----------------------------------------------------------

local function pct(c)
    return format("%%%02X", byte(c))
end

--- AWS's UriEncode: every byte but A-Z a-z 0-9 - . _ ~ as %XX (upper-case
--- hex); "/" too unless keep_slash.
function M.uri_encode(s, keep_slash)
    if keep_slash then
        return (gsub(s, "[^%w%-%._~/]", pct))
    end
    return (gsub(s, "[^%w%-%._~]", pct))
end

local function unescape(s)
    return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

-- The path with "." and ".." segments resolved (RFC 3986 5.2.4); empty means "/".
local function normalize_path(path)
    if path == "" then
        return "/"
    end
    local out = {}
    for seg in (path .. "/"):gmatch("([^/]*)/") do
        if seg == ".." then
            if #out > 1 then
                out[#out] = nil
            end
        elseif seg ~= "." then
            out[#out + 1] = seg
        end
    end
    local p = concat(out, "/")
    if sub(p, 1, 1) ~= "/" then
        p = "/" .. p
    end
    if sub(path, -1) == "/" and sub(p, -1) ~= "/" then
        p = p .. "/"
    end
    return p
end

-- The canonical URI of every service but S3: the path as it appears in the
-- URL (already percent-encoded once), encoded again.
local function canonical_uri(path)
    return M.uri_encode(normalize_path(path), true)
end

-- Parameters decoded, encoded AWS's way, sorted by name then value.
local function canonical_query(query)
    if query == nil or query == "" then
        return ""
    end
    local params = {}
    for pair in query:gmatch("[^&]+") do
        local k, v = match(pair, "^([^=]*)=?(.*)$")
        k = M.uri_encode(unescape((gsub(k, "+", " "))))
        v = M.uri_encode(unescape((gsub(v, "+", " "))))
        params[#params + 1] = { k, v }
    end
    sort(params, function(a, b)
        if a[1] ~= b[1] then
            return a[1] < b[1]
        end
        return a[2] < b[2]
    end)
    for i, p in ipairs(params) do
        params[i] = p[1] .. "=" .. p[2]
    end
    return concat(params, "&")
end

--- scheme, host (lower case), port or nil, path, query of an http(s) URL;
--- nil when it is not one.
function M.split_url(url)
    if type(url) ~= "string" then
        return nil
    end
    local scheme, authority, rest = match(url, "^([hH][tT][tT][pP][sS]?)://([^/?#]+)(.*)$")
    if not scheme then
        return nil
    end
    authority = gsub(authority, "^.*@", "") -- userinfo is never sent as Host
    local host, port = match(authority, "^(%[[^%]]+%]):?(%d*)$")
    if not host then
        host, port = match(authority, "^([^:]+):?(%d*)$")
    end
    if not host then
        return nil
    end
    local path, query = match(rest, "^([^?#]*)%??([^#]*)")
    return lower(scheme), lower(host), port ~= "" and port or nil, path, query
end

--- The Host header libcurl would send for url: the port only when it is not
--- the scheme's default.
function M.host_header(url)
    local scheme, host, port = M.split_url(url)
    if not scheme then
        return nil
    end
    if port and not ((scheme == "http" and port == "80") or (scheme == "https" and port == "443")) then
        return host .. ":" .. port
    end
    return host
end

-- ---- The four steps ---------------------------------------------------------------

local function trim_value(v)
    v = gsub(tostring(v), "^%s+", "")
    v = gsub(v, "%s+$", "")
    return (gsub(v, "%s+", " "))
end

--- The canonical request and the ";"-joined signed header names. headers is
--- a name -> value table (any spelling; spellings of one name are joined
--- with "," in table order, which Lua does not define: give each name once).
function M.canonical_request(method, url, headers, payload_hash)
    local scheme, _, _, path, query = M.split_url(url)
    if not scheme then
        error("sigv4: url must be an http:// or https:// URL", 2)
    end
    local by_name, names = {}, {}
    for k, v in pairs(headers) do
        local n = lower(k)
        if not unsigned[n] then
            if by_name[n] then
                by_name[n] = by_name[n] .. "," .. trim_value(v)
            else
                by_name[n] = trim_value(v)
                names[#names + 1] = n
            end
        end
    end
    sort(names)
    local lines = {}
    for i, n in ipairs(names) do
        lines[i] = n .. ":" .. by_name[n] .. "\n"
    end
    local signed = concat(names, ";")
    local text = concat({
        method,
        canonical_uri(path),
        canonical_query(query),
        concat(lines),
        signed,
        payload_hash,
    }, "\n")
    return text, signed
end

function M.string_to_sign(amz_date, scope, creq)
    return M.ALGORITHM .. "\n" .. amz_date .. "\n" .. scope .. "\n" .. hex(sha256(creq))
end

function M.signing_key(secret, date, region, service)
    local k = hmac("AWS4" .. secret, date)
    k = hmac(k, region)
    k = hmac(k, service)
    return hmac(k, "aws4_request")
end

function M.signature(key, sts)
    return hex(hmac(key, sts))
end

-- ---- Signing a request --------------------------------------------------------------

local function check_creds(creds)
    if type(creds) ~= "table" or type(creds.access_key) ~= "string" or creds.access_key == ""
        or type(creds.secret_key) ~= "string" or creds.secret_key == "" then
        error("sigv4: an access key and a secret key are required", 2)
    end
end

--- Signs req in place (see the top of the file); returns req.
function M.sign(req, creds, region, service, t)
    check_creds(creds)
    if type(region) ~= "string" or not find(region, "^[%w%-]+$") then
        error("sigv4: bad region", 2)
    end
    local url = req.url
    local host = M.host_header(url)
    if not host then
        error("sigv4: url must be an http:// or https:// URL", 2)
    end
    t = t or M.now()
    local amz_date = M.amz_date(t)
    local date = sub(amz_date, 1, 8)
    local h = req.headers or {}
    req.headers = h
    for _, name in ipairs({ "Host", "X-Amz-Date", "X-Amz-Security-Token", "Authorization" }) do
        http.remove_header(h, name)
    end
    h.Host = host
    h["X-Amz-Date"] = amz_date
    if creds.session_token and creds.session_token ~= "" then
        h["X-Amz-Security-Token"] = creds.session_token
    end
    local body = req.body or ""
    local creq, signed = M.canonical_request(req.method or "POST", url, h, hex(sha256(body)))
    local scope = date .. "/" .. region .. "/" .. service .. "/aws4_request"
    local sts = M.string_to_sign(amz_date, scope, creq)
    local sig = M.signature(M.signing_key(creds.secret_key, date, region, service), sts)
    h.Authorization = format("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s", M.ALGORITHM,
        creds.access_key, scope, signed, sig)
    return req
end

return M
