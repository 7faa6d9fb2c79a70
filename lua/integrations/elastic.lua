-- elastic.lua - ELASTIC: Elasticsearch (and OpenSearch) through the _bulk API.
--
-- Keys: the Sysdig API's names (endpoint, index, auth, secret, isInsecure,
-- format), matched case-insensitively, plus caFile, certFile, keyFile and
-- timeout.
--
-- Wire format: POST <endpoint>/_bulk, Content-Type application/x-ndjson,
-- two lines per event, the last line ending in "\n" as _bulk requires:
--   {"create":{"_index":"sysdig-2020.11.25","_id":"164ace360cc3cfbc26ec22d61b439500"}}
--   {...the event...}
-- `create` with the event's id as _id makes a retry idempotent: a document
-- already stored answers 409, which counts as delivered. An event without
-- a string id gets the SHA-256 of its document as _id, for the same reason.
-- The index is `index` with %Y, %m, %d, %H (and %% for a percent sign)
-- replaced from the event's timestamp in UTC (the current time when it has
-- none), e.g. sysdig-%Y.%m.%d.
--
-- format: KV_PAIRS (Sysdig's) turns the objects `labels` and
-- `content.fields` into arrays of {"key": ..., "value": ...}, in their
-- original order, values exactly as received. Without it, documents are the
-- events as received.
--
-- Authentication (auth): BASIC_AUTH (secret "user:password"), BEARER_TOKEN,
-- and beyond Sysdig's set APIKEY: Authorization: ApiKey <secret>, where
-- secret is the encoded key Elasticsearch returns, or "id:api_key" (encoded
-- here).
--
-- Outcomes. _bulk answers 200 even when documents fail; each item's status
-- decides: 2xx and 409 ok, 429 and 5xx retry, other 4xx reject (mapping
-- errors, security_exception). Whole requests: 401, 403 (credentials) and
-- 404 (URL) retry, so a configuration error ends in the Error status with
-- the events kept; 408, 429, 5xx retry; 413 split (the engine sends the
-- batch again in halves; a lone document too large is rejected); other
-- statuses reject. Responses are asked for with filter_path so that 500
-- items fit the 64 KiB of body outcome() sees; items a cut body does not
-- show are retried (and answer 409 if they had been stored).
local bulk = require "bulk"
local crypto = require "siemrelay.crypto"
local http = require "http"
local json = require "json"
local per_conf = require "per_conf"

local M = {}

M.type = "ELASTIC"
M.transport = "http"
-- Each record is its two _bulk lines, "\n" included.
M.framing = "concat"
M.channels = { "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", "PLATFORM_AUDIT", "MONITOR_EVENTS" }

M.options = http.transport_options({
    endpoint = { required = true, type = "string",
        description = "Elasticsearch URL (https://es:9200); /_bulk is appended" },
    index = { required = true, type = "string",
        description = "target index; %Y %m %d %H take the event's UTC date, e.g. sysdig-%Y.%m.%d" },
    auth = { type = "string", enum = { "BASIC_AUTH", "BEARER_TOKEN", "APIKEY", "API_KEY" },
        description = "how requests are authenticated" },
    secret = { type = "string", secret = true,
        description = "user:password (BASIC_AUTH), the token (BEARER_TOKEN) or the API key (APIKEY)" },
    format = { type = "string", enum = { "KV_PAIRS" },
        description = "KV_PAIRS: labels and content.fields as arrays of {key, value}" },
}, true)

-- Elastic recommends bulk requests of a few MB; http.max_content_length
-- defaults to 100 MB; a proxy on the way may allow less (see bulk.too_large).
M.batch = { max_events = 500, max_bytes = 5242880, linger_ms = 500 }

local byte, sub, find, format, gsub, lower = string.byte, string.sub, string.find, string.format,
    string.gsub, string.lower
local concat = table.concat
local q = json.encode_string

-- ---- JSON text ------------------------------------------------------------
-- Events reach encode() already validated; responses may be cut at 64 KiB.
-- These read JSON text without decoding it, so values keep their exact
-- bytes, and stop quietly where the text ends.

local function skip_ws(s, i)
    return find(s, "[^ \t\r\n]", i) or #s + 1
end

-- The index just past the JSON value that starts at i, or nil if s ends
-- first.
local function value_end(s, i)
    local c = byte(s, i)
    if c == 34 then -- a string
        local j = i + 1
        while true do
            local p = find(s, '["\\]', j)
            if not p then
                return nil
            elseif byte(s, p) == 34 then
                return p + 1
            end
            j = p + 2
        end
    elseif c == 123 or c == 91 then -- an object or an array
        local depth, j = 0, i
        while true do
            local p = find(s, '[%[%]{}"]', j)
            if not p then
                return nil
            end
            local b = byte(s, p)
            if b == 34 then
                j = value_end(s, p)
                if not j then
                    return nil
                end
            else
                depth = depth + ((b == 123 or b == 91) and 1 or -1)
                j = p + 1
                if depth == 0 then
                    return j
                end
            end
        end
    elseif c then -- a number, true, false or null
        return find(s, "[,%]}%s]", i)
    end
    return nil
end

-- Calls f(text) for each element of the array or f(key, text) for each
-- member of the object whose text starts at i; returns true if it was
-- complete.
local function each(s, i, f)
    local object = byte(s, i) == 123
    local close = object and 125 or 93
    i = skip_ws(s, i + 1)
    if byte(s, i) == close then
        return true
    end
    while true do
        local key
        if object then
            local ke = value_end(s, i)
            if not ke then
                return false
            end
            key = sub(s, i, ke - 1)
            i = find(s, ":", ke, true)
            if not i then
                return false
            end
            i = skip_ws(s, i + 1)
        end
        local ve = value_end(s, i)
        if not ve then
            return false
        end
        if object then
            f(key, sub(s, i, ve - 1))
        else
            f(sub(s, i, ve - 1))
        end
        i = skip_ws(s, ve)
        local c = byte(s, i)
        if c == close then
            return true
        elseif c ~= 44 then
            return false
        end
        i = skip_ws(s, i + 1)
    end
end

local function key_is(key_text, name)
    if key_text == '"' .. name .. '"' then
        return true
    end
    return find(key_text, "\\", 1, true) ~= nil and json.decode(key_text) == name
end

-- ---- KV_PAIRS ---------------------------------------------------------------

--- JSON object text as Sysdig's KV_PAIRS array text: {"a":"b"} becomes
--- [{"key":"a","value":"b"}]. Anything but an object is returned unchanged.
function M.kv_pairs(text)
    if type(text) ~= "string" or byte(text, skip_ws(text, 1)) ~= 123 then
        return text
    end
    local out, n = {}, 0
    each(text, skip_ws(text, 1), function(key, value)
        n = n + 1
        out[n] = '{"key":' .. key .. ',"value":' .. value .. "}"
    end)
    return "[" .. concat(out, ",", 1, n) .. "]"
end

local function apply_kv_pairs(ev)
    local labels = ev:raw("labels")
    if labels then
        local kv = M.kv_pairs(labels)
        if kv ~= labels then
            ev:set_raw("labels", kv)
        end
    end
    local content = ev:raw("content")
    if content and byte(content, skip_ws(content, 1)) == 123 then
        local parts, n, changed = {}, 0, false
        each(content, skip_ws(content, 1), function(key, value)
            if key_is(key, "fields") then
                local kv = M.kv_pairs(value)
                changed = changed or kv ~= value
                value = kv
            end
            n = n + 1
            parts[n] = key .. ":" .. value
        end)
        if changed then
            ev:set_raw("content", "{" .. concat(parts, ",", 1, n) .. "}")
        end
    end
end

-- ---- Index names --------------------------------------------------------------

local date_fields = { Y = true, m = true, d = true, H = true }

--- Checks an index pattern; returns it as a list of literal strings and
--- date field letters (as { field = "Y" }). Raises with a message for
--- --check on what Elasticsearch would refuse.
function M.compile_index(pattern)
    if type(pattern) ~= "string" or pattern == "" then
        error("'index' must not be empty", 0)
    end
    local pieces, literal, i = {}, {}, 1
    while i <= #pattern do
        local c = sub(pattern, i, i)
        if c == "%" then
            local f = sub(pattern, i + 1, i + 1)
            if f == "%" then
                literal[#literal + 1] = "%"
            elseif date_fields[f] then
                if #literal > 0 then
                    pieces[#pieces + 1] = concat(literal)
                    literal = {}
                end
                pieces[#pieces + 1] = { field = f }
            else
                error(format("'index': unknown date field '%%%s' (use %%Y, %%m, %%d, %%H or %%%%)", f), 0)
            end
            i = i + 2
        else
            literal[#literal + 1] = c
            i = i + 1
        end
    end
    if #literal > 0 then
        pieces[#pieces + 1] = concat(literal)
    end
    -- The name with every date field as digits, for the checks below.
    local sample = {}
    for k, piece in ipairs(pieces) do
        sample[k] = type(piece) == "string" and piece or (piece.field == "Y" and "2020" or "01")
    end
    local text = concat(sample)
    if lower(text) ~= text then
        error("'index' must be lower case (Elasticsearch refuses upper-case index names)", 0)
    end
    local bad = find(text, '[\\/%*%?"<>|, #:]')
    if bad then
        error(format("'index' must not contain '%s'", sub(text, bad, bad)), 0)
    end
    if find(text, "^[%-_+]") or text == "." or text == ".." then
        error("'index' must not start with '-', '_' or '+', nor be '.' or '..'", 0)
    end
    if #text > 255 then
        error("'index' is longer than 255 bytes", 0)
    end
    return pieces
end

--- The index name for a compiled pattern and a nanosecond timestamp text
--- (nil: now).
function M.index_name(pieces, ts_text)
    if #pieces == 1 and type(pieces[1]) == "string" then
        return pieces[1]
    end
    local ok, stamp = false, nil
    if ts_text then
        ok, stamp = pcall(crypto.rfc3339, ts_text, 0)
    end
    if not ok then
        stamp = crypto.rfc3339(crypto.now_ns(), 0)
    end
    -- "2020-11-25T16:49:08Z"
    local v = { Y = sub(stamp, 1, 4), m = sub(stamp, 6, 7), d = sub(stamp, 9, 10), H = sub(stamp, 12, 13) }
    local out = {}
    for i, p in ipairs(pieces) do
        out[i] = type(p) == "string" and p or v[p.field]
    end
    return concat(out)
end

-- ---- Setup ------------------------------------------------------------------

-- Only what outcome() reads: each item's status and error type and reason,
-- and a whole-request error (filter_path applies to error answers too).
local FILTER = "filter_path=errors,error,items.*.status,items.*.error.type,items.*.error.reason"

--- The _bulk URL for an endpoint: /_bulk appended unless the path already
--- ends in it, and the filter_path parameter added.
function M.bulk_url(endpoint)
    local origin, path, query = http.split_url(endpoint)
    if not origin then
        error(format("'endpoint' must be an http:// or https:// URL, got '%s'", tostring(endpoint)), 0)
    end
    if not find(path, "/_bulk/?$") then
        path = http.join(path, "_bulk")
        if sub(path, 1, 1) ~= "/" then
            path = "/" .. path
        end
    end
    query = gsub(query, "#.*$", "")
    return origin .. path .. (query == "" and "?" or query .. "&") .. FILTER
end

local function authorization(auth, secret)
    if not auth then
        return nil
    end
    if secret == nil or secret == "" then
        error("auth " .. auth .. " needs 'secret'", 0)
    end
    if find(secret, "%c") then
        error("'secret' must not contain control characters", 0)
    end
    if auth == "BASIC_AUTH" then
        return http.basic(secret) -- raises unless "user:password"
    elseif auth == "BEARER_TOKEN" then
        return http.bearer(secret)
    end
    -- APIKEY: Elasticsearch hands out the key as base64("id:api_key")
    -- ("encoded"); the id and key as given are encoded here.
    if find(secret, ":", 1, true) then
        secret = crypto.base64(secret)
    end
    return "ApiKey " .. secret
end

local prepare = per_conf(function(conf)
    local url = M.bulk_url(conf.endpoint)
    local pieces = M.compile_index(conf.index)
    local headers = { ["Content-Type"] = "application/x-ndjson" }
    headers.Authorization = authorization(conf.auth, conf.secret)
    return { url = url, headers = headers, index = pieces, kv_pairs = conf.format == "KV_PAIRS" }
end)

function M.setup(conf)
    prepare(conf)
    return http.transport(conf)
end

-- ---- Records and requests -------------------------------------------------------

-- A record is the event's action and document lines, each ending in "\n",
-- so records joined back to back are a _bulk body (and a dead-lettered
-- record can be replayed as one).
function M.encode(ev, conf)
    local p = prepare(conf)
    if p.kv_pairs then
        apply_kv_pairs(ev)
    end
    local doc = ev:json()
    local id = ev:get("id")
    if type(id) == "number" or type(id) == "cdata" then
        id = ev:raw("id") -- the integer's exact digits
    elseif type(id) ~= "string" or id == "" then
        id = crypto.hex(crypto.sha256(doc))
    end
    local index = M.index_name(p.index, ev:raw("timestamp"))
    return '{"create":{"_index":' .. q(index) .. ',"_id":' .. q(id) .. "}}\n" .. doc .. "\n"
end

function M.request(body, n, conf)
    local p = prepare(conf)
    bulk.note_size(conf, body)
    return { method = "POST", url = p.url, headers = p.headers, body = body }
end

-- ---- Outcomes ---------------------------------------------------------------

--- Reads a _bulk response, whole or cut short: returns the "errors" flag
--- (nil if not seen) and the items that arrived complete, decoded.
function M.parse_bulk(body)
    local doc = json.decode(body)
    if type(doc) == "table" then
        return doc.errors, type(doc.items) == "table" and doc.items or {}
    end
    local errors
    local e = body:match('^%s*{.-"errors"%s*:%s*(%a+)')
    if e == "true" or e == "false" then
        errors = e == "true"
    end
    local items = {}
    local at = find(body, '"items"%s*:%s*%[')
    if at then
        each(body, find(body, "[", at, true), function(text)
            local item = json.decode(text)
            items[#items + 1] = type(item) == "table" and item or false
        end)
    end
    return errors, items
end

local function item_result(item)
    if type(item) ~= "table" then
        return nil
    end
    local _, r = next(item) -- { "create": {...} }
    return type(r) == "table" and r or nil
end

--- The kind for an item's status.
function M.item_kind(status)
    status = tonumber(status)
    if not status then
        return "retry"
    elseif (status >= 200 and status < 300) or status == 409 then
        return "ok"
    elseif status == 429 or status >= 500 then
        return "retry"
    end
    return "reject"
end

local function error_text(status, err)
    if type(err) == "table" then
        return format("HTTP %s %s: %s", tostring(status), tostring(err.type), tostring(err.reason))
    end
    return "HTTP " .. tostring(status)
end

-- A whole-request error's reason: Elasticsearch's {"error":{"type","reason"}}
-- when it sent one.
local function request_reason(status, body)
    local doc = type(body) == "string" and find(body, "^%s*{") and json.decode(body) or nil
    local err = type(doc) == "table" and doc.error
    if type(err) == "table" and err.type then
        return format("HTTP %d: %s: %s", status, tostring(err.type), tostring(err.reason))
    elseif type(err) == "string" then
        return format("HTTP %d: %s", status, err)
    end
    local e = http.excerpt(body)
    return e and format("HTTP %d: %s", status, e) or ("HTTP " .. status)
end

local function bulk_outcome(status, body, n)
    local errors, items = M.parse_bulk(body)
    if errors == false then
        -- "errors": false says every action succeeded, whatever the items
        -- a cut body shows.
        return "ok", "HTTP " .. status
    end
    local out = {}
    local first = {}
    local counts = { ok = 0, retry = 0, reject = 0, missing = 0 }
    for i = 1, n do
        local r = item_result(items[i])
        local kind = r and M.item_kind(r.status) or "retry"
        out[i] = kind
        if not r then
            counts.missing = counts.missing + 1
        else
            counts[kind] = counts[kind] + 1
            if kind ~= "ok" and not first[kind] then
                first[kind] = format("item %d: %s", i, error_text(r.status, r.error))
            end
        end
    end
    local reason = format("HTTP %d: %d of %d documents stored", status, counts.ok, n)
    if counts.reject > 0 then
        reason = reason .. format(", %d rejected (%s)", counts.reject, first.reject)
    end
    if counts.retry > 0 then
        reason = reason .. format(", %d to retry (%s)", counts.retry, first.retry)
    end
    if counts.missing > 0 then
        reason = reason .. format(", %d not in the response (retried)", counts.missing)
    end
    return bulk.verdict(out, n, reason)
end

function M.outcome(status, body, n, conf)
    status = tonumber(status) or 0
    n = tonumber(n) or 0
    if status >= 200 and status < 300 then
        return bulk_outcome(status, type(body) == "string" and body or "", n)
    end
    if status == 413 then
        return bulk.too_large(conf, n)
    end
    local reason = request_reason(status, body)
    if status == 401 or status == 403 or status == 404 or status == 408 or status == 429
        or status >= 500 then
        return "retry", reason
    end
    return "reject", reason
end

return M
