-- sqs.lua - SQS: events as Amazon SQS messages, SendMessageBatch over the
-- AWS JSON protocol, signed with Signature Version 4 (lua/lib/sigv4.lua).
--
-- Keys: Sysdig's API names (ownerAccount, region, queue, delay, headers,
-- accessKey, accessSecret), plus sessionToken (temporary credentials),
-- endpoint (another SQS endpoint: a VPC endpoint, a FIPS host, a test peer),
-- isInsecure, caFile and timeout.
--
-- Wire format: POST <endpoint>/ with
--   X-Amz-Target: AmazonSQS.SendMessageBatch
--   Content-Type: application/x-amz-json-1.0
--   {"QueueUrl":"https://sqs.<region>.amazonaws.com/<ownerAccount>/<queue>",
--    "Entries":[{"Id":"0","MessageBody":"<the event's JSON>","DelaySeconds":<delay>,
--                "MessageAttributes":{"<key>":{"DataType":"String","StringValue":"<value>"}}}, ...]}
-- Id is the record's index in the batch (0-based); DelaySeconds is only sent
-- when `delay` is set; `headers` become the message attributes of every
-- message. `queue` may also be a full queue URL, used as is.
--
-- Limits (SendMessageBatch): at most 10 entries per request (a hard cap,
-- max_events_limit) and 256 KiB of payload for the whole batch: message
-- bodies plus attribute names, types and values. AWS raised the payload
-- limit to 1 MiB in 2026; 256 KiB stays the default because queues and
-- consumers configured for the old limit still exist (`batch: {max_bytes}`
-- raises it).
--
-- Outcomes:
--   200 with Successful/Failed   per message: Successful ok; Failed with
--                                SenderFault false (an SQS-side problem)
--                                retry, and only those are sent again;
--                                SenderFault true (the message itself)
--                                reject (dead letter); an Id in neither
--                                list retry
--   BatchRequestTooLong,         split (the batch again in halves; a single
--   TooManyEntriesInBatchRequest message still too large is rejected)
--   throttling (ThrottlingException, RequestThrottled, KMS throttling),
--   OverLimit, 408, 429, 5xx     retry
--   credentials and permissions  retry: the integration ends in the Error
--   (InvalidClientTokenId,       status and is inhibited, and the events
--   SignatureDoesNotMatch,       stay queued for a corrected configuration
--   ExpiredToken, AccessDenied, ... ), a missing queue (QueueDoesNotExist)
--   and clock skew (RequestExpired)
--   any other error              reject
local event = require "event"
local bulk = require "bulk"
local http = require "http"
local json = require "json"
local per_conf = require "per_conf"
local sigv4 = require "sigv4"

local M = {}

M.type = "SQS"
M.transport = "http"
M.framing = "list"
M.channels = { "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", "PLATFORM_AUDIT", "MONITOR_EVENTS" }

M.options = http.transport_options({
    ownerAccount = { type = "string",
        description = "AWS account id of the queue's owner (12 digits); optional when queue is a URL" },
    region = { required = true, type = "string", description = "AWS region of the queue, e.g. eu-west-1" },
    queue = { required = true, type = "string", description = "queue name, or the queue's full URL" },
    delay = { type = "integer", description = "DelaySeconds of every message (0-900)" },
    headers = { type = "any",
        description = "message attributes (String) of every message: a list of {key, value} or a map" },
    accessKey = { required = true, type = "string", description = "AWS access key id" },
    accessSecret = { required = true, type = "string", secret = true, description = "AWS secret access key" },
    sessionToken = { type = "string", secret = true,
        description = "session token of temporary credentials (X-Amz-Security-Token)" },
    endpoint = { type = "string",
        description = "SQS endpoint URL instead of https://sqs.<region>.amazonaws.com" },
}, false)

M.MAX_ENTRIES = 10
M.MAX_PAYLOAD = 262144
M.MAX_ATTRIBUTES = 10

M.batch = { max_events = M.MAX_ENTRIES, max_bytes = M.MAX_PAYLOAD, linger_ms = 500 }

local type, pairs, ipairs, tostring, tonumber, error = type, pairs, ipairs, tostring, tonumber, error
local floor, min = math.floor, math.min
local format, find, match, lower, sub = string.format, string.find, string.match, string.lower,
    string.sub
local concat, sort = table.concat, table.sort
local q = json.encode_string

-- ---- configuration ----------------------------------------------------------------

-- SQS's rules for attribute names: up to 256 of A-Z a-z 0-9 _ - ., not
-- starting with AWS. or Amazon. (any case), no leading or trailing dot, no
-- two dots in a row.
local function check_attribute_name(name)
    if #name > 256 or not find(name, "^[%w_%-%.]+$") or find(name, "^%.") or find(name, "%.$")
        or find(name, "..", 1, true) then
        error(format("headers: '%s' is not a valid SQS message attribute name", name), 0)
    end
    local l = lower(name)
    if sub(l, 1, 4) == "aws." or sub(l, 1, 7) == "amazon." then
        error(format("headers: '%s': attribute names starting with AWS. or Amazon. are reserved", name), 0)
    end
end

-- The MessageAttributes JSON shared by every entry, and its size as SQS
-- counts it against the payload limit (name, data type and value bytes).
local function attributes(opt)
    local h = http.parse_headers(opt, "headers")
    local names = {}
    for k in pairs(h) do
        check_attribute_name(k)
        if h[k] == "" then
            error(format("headers: '%s' has an empty value (SQS refuses empty attribute values)", k), 0)
        end
        names[#names + 1] = k
    end
    if #names > M.MAX_ATTRIBUTES then
        error(format("headers: %d message attributes, SQS allows at most %d", #names, M.MAX_ATTRIBUTES), 0)
    end
    if #names == 0 then
        return nil, 0
    end
    sort(names)
    local parts, size = {}, 0
    for i, k in ipairs(names) do
        parts[i] = q(k) .. ':{"DataType":"String","StringValue":' .. q(h[k]) .. "}"
        size = size + #k + #"String" + #h[k]
    end
    return "{" .. concat(parts, ",") .. "}", size
end

local function standard_endpoint(region)
    return "https://sqs." .. region .. ".amazonaws.com"
end

local prepare = per_conf(function(conf)
    local region = conf.region
    if type(region) ~= "string" or not find(region, "^[a-z][a-z0-9%-]*%d$") then
        error("'region' must be an AWS region such as eu-west-1", 0)
    end
    if find(conf.queue, "%.fifo/?$") then
        -- A FIFO queue needs a MessageGroupId per message, which Sysdig's
        -- keys do not carry: refuse it here rather than fail every batch.
        error("'queue' is a FIFO queue (.fifo); only standard queues are supported", 0)
    end
    local queue_url
    if http.split_url(conf.queue) then
        queue_url = conf.queue
    else
        if not find(conf.queue, "^[%w_%-]+$") or #conf.queue > 80 then
            error("'queue' must be a queue name (up to 80 of A-Z a-z 0-9 _ -) or a queue URL", 0)
        end
        local owner = conf.ownerAccount
        if type(owner) ~= "string" or not find(owner, "^%d%d%d%d%d%d%d%d%d%d%d%d$") then
            error("'ownerAccount' must be the 12-digit AWS account id that owns the queue", 0)
        end
        queue_url = standard_endpoint(region) .. "/" .. owner .. "/" .. conf.queue
    end
    local url = conf.endpoint or standard_endpoint(region)
    http.check_url(url, "endpoint")
    if conf.delay ~= nil and (conf.delay < 0 or conf.delay > 900 or conf.delay ~= floor(conf.delay)) then
        error("'delay' must be a whole number of seconds from 0 to 900", 0)
    end
    if conf.timeout and conf.timeout <= 0 then
        error("'timeout' must be a positive number of milliseconds", 0)
    end
    local key = conf.accessKey
    if type(key) ~= "string" or not find(key, "^[%w]+$") or #key > 128 then
        error("'accessKey' must be an AWS access key id", 0)
    end
    local secret = conf.accessSecret
    if type(secret) ~= "string" or secret == "" or find(secret, "%c") then
        error("'accessSecret' must be a non-empty secret access key", 0)
    end
    local token = conf.sessionToken
    if token ~= nil and (type(token) ~= "string" or find(token, "%c")) then
        error("'sessionToken' must be a session token without line breaks", 0)
    end
    local attrs, attr_size = attributes(conf.headers)
    -- Each entry's fixed part, between MessageBody and the end of the entry.
    local tail = ""
    if conf.delay ~= nil then
        tail = tail .. ',"DelaySeconds":' .. format("%d", conf.delay)
    end
    if attrs then
        tail = tail .. ',"MessageAttributes":' .. attrs
    end
    -- Base the request path on the endpoint's own path (usually "/").
    local _, path = http.split_url(url)
    return {
        url = (path == "" or path == nil) and url .. "/" or url,
        queue_url = queue_url,
        region = region,
        creds = { access_key = key, secret_key = secret, session_token = token },
        tail = tail,
        attr_size = attr_size,
    }
end)

function M.setup(conf)
    local p = prepare(conf)
    -- Room for every message's attributes within the payload limit: the
    -- batch's byte budget counts message bodies only.
    local max_bytes = M.MAX_PAYLOAD - M.MAX_ENTRIES * p.attr_size
    if max_bytes < 1024 then
        error("headers: the message attributes leave no room for events under SQS's 256 KiB limit", 0)
    end
    return http.transport(conf, {
        max_events = M.MAX_ENTRIES,
        max_events_limit = M.MAX_ENTRIES,
        max_bytes = max_bytes,
    })
end

-- The record is the event as it stands (written by C: see docs/lua-contract.md).
M.envelope = event.as_is

M.encode = event.enveloped(M.envelope)

--- The SendMessageBatch body for records (an array of message bodies).
function M.batch_body(records, conf)
    local p = prepare(conf)
    local entries = {}
    for i, rec in ipairs(records) do
        entries[i] = format('{"Id":"%d","MessageBody":%s%s}', i - 1, q(rec), p.tail)
    end
    return '{"QueueUrl":' .. q(p.queue_url) .. ',"Entries":[' .. concat(entries, ",") .. "]}"
end

function M.request(records, n, conf)
    local p = prepare(conf)
    local req = {
        method = "POST",
        url = p.url,
        headers = {
            ["Content-Type"] = "application/x-amz-json-1.0",
            ["X-Amz-Target"] = "AmazonSQS.SendMessageBatch",
        },
        body = M.batch_body(records, conf),
    }
    return sigv4.sign(req, p.creds, p.region, "sqs")
end

-- ---- outcomes -------------------------------------------------------------------------

-- Error codes (the part of "__type" after '#') by class.
local split_codes = {
    BatchRequestTooLong = true,
    TooManyEntriesInBatchRequest = true,
}
local retry_codes = {
    -- throttling and capacity
    ThrottlingException = true, Throttling = true, RequestThrottled = true, OverLimit = true,
    ["KMS.ThrottlingException"] = true, KmsThrottled = true, ServiceUnavailable = true,
    InternalFailure = true, InternalError = true, RequestTimeout = true,
    -- credentials, permissions, the queue: the configuration, not the events
    InvalidClientTokenId = true, SignatureDoesNotMatch = true, IncompleteSignature = true,
    MissingAuthenticationToken = true, UnrecognizedClientException = true, ExpiredToken = true,
    ExpiredTokenException = true, InvalidSecurity = true, AccessDenied = true,
    AccessDeniedException = true, NotAuthorized = true, OptInRequired = true, RequestExpired = true,
    QueueDoesNotExist = true, NonExistentQueue = true, ["AWS.SimpleQueueService.NonExistentQueue"] = true,
    ["KMS.AccessDeniedException"] = true, KmsAccessDenied = true, ["KMS.DisabledException"] = true,
    KmsDisabled = true, ["KMS.NotFoundException"] = true, KmsNotFound = true,
    ["KMS.InvalidStateException"] = true, KmsInvalidState = true,
}

--- The error code of an AWS JSON error body: "__type" without its
--- namespace ("com.amazon.coral.service#InvalidClientTokenId"), or "code".
function M.error_code(doc)
    if type(doc) ~= "table" then
        return nil
    end
    local t = doc.__type or doc.code or doc.Code
    if type(t) ~= "string" then
        return nil
    end
    return match(t, "#([^#]*)$") or t
end

local function message_of(doc)
    if type(doc) ~= "table" then
        return nil
    end
    local m = doc.message or doc.Message
    return type(m) == "string" and m or nil
end

local function decode(body)
    if type(body) ~= "string" or not find(body, "^%s*{") then
        return nil
    end
    local doc = json.decode(body)
    return type(doc) == "table" and doc or nil
end

-- Per-message verdicts of a 200 answer. The reason names up to three
-- failures, sender faults first: it is what the dead letters of the
-- rejected messages say.
local function per_message(doc, n)
    local items = {}
    local ok = doc.Successful
    if type(ok) == "table" then
        for _, s in ipairs(ok) do
            local i = type(s) == "table" and tonumber(s.Id)
            if i and i >= 0 and i < n and i == floor(i) then
                items[i + 1] = "ok"
            end
        end
    end
    local notes, nfailed, nrejected = {}, 0, 0
    local failed = doc.Failed
    if type(failed) == "table" then
        for _, f in ipairs(failed) do
            local i = type(f) == "table" and tonumber(f.Id)
            if i and i >= 0 and i < n and i == floor(i) then
                local sender = f.SenderFault == true
                items[i + 1] = sender and "reject" or "retry"
                nfailed = nfailed + 1
                notes[#notes + 1] = { sender, i, format("message %d: %s%s: %s", i, tostring(f.Code or "?"),
                    sender and " (sender fault)" or "", http.excerpt(tostring(f.Message or ""), 120) or "") }
                if sender then
                    nrejected = nrejected + 1
                end
            end
        end
    end
    local missing = 0
    for i = 1, n do
        if not items[i] then
            items[i] = "retry"
            missing = missing + 1
        end
    end
    local reason = "HTTP 200"
    if nfailed > 0 then
        sort(notes, function(a, b)
            if a[1] ~= b[1] then
                return a[1]
            end
            return a[2] < b[2]
        end)
        local shown = {}
        for i = 1, min(3, #notes) do
            shown[i] = notes[i][3]
        end
        reason = format("HTTP 200: %d of %d message(s) failed, %d for good: %s", nfailed, n, nrejected,
            concat(shown, "; "))
    end
    if missing > 0 then
        reason = reason .. format("; %d message(s) in neither Successful nor Failed", missing)
    end
    return items, reason
end

function M.outcome(status, body, n, conf)
    status = tonumber(status) or 0
    n = tonumber(n) or 0
    local doc = decode(body)
    if status >= 200 and status < 300 then
        if not doc then
            return "retry", format("HTTP %d without a SendMessageBatch result", status)
        end
        local items, reason = per_message(doc, n)
        return bulk.verdict(items, n, reason)
    end
    local code = M.error_code(doc)
    local reason = format("HTTP %d", status)
    if code then
        reason = reason .. ": " .. code
        local msg = message_of(doc)
        if msg then
            reason = reason .. ": " .. (http.excerpt(msg, 200) or "")
        end
    else
        local e = http.excerpt(body)
        if e then
            reason = reason .. ": " .. e
        end
    end
    if (code and split_codes[code]) or status == 413 then
        return "split", reason
    end
    if (code and retry_codes[code]) or status == 408 or status == 429 or status >= 500 then
        return "retry", reason
    end
    -- Unknown 401/403 answers are about the credentials too.
    if not code and (status == 401 or status == 403) then
        return "retry", reason
    end
    return "reject", reason
end

return M
