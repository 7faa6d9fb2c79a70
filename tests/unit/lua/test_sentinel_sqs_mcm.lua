-- test_sentinel_sqs_mcm.lua - SigV4 (lua/lib/sigv4.lua) against vectors
-- computed by botocore and AWS's published example, and the SENTINEL, SQS
-- and MCM modules' pure parts on real events (parsed by the C event
-- parser through the FFI): option checks, bodies, signatures, token and
-- note steps, outcome rules. Run by tests/unit/test_lualib_sentinel_sqs_mcm.c,
-- which passes the source directory and expects the number of failures back.
local src = ...
local ffi = require "ffi"
local cjson = require "cjson"
local crypto = require "siemrelay.crypto"
local event = require "event"
local oauth = require "oauth"
local sigv4 = require "sigv4"

local t = dofile(src .. "/tests/unit/lua/checks.lua")
local check, eq, raises = t.check, t.eq, t.raises

local function module(name)
    return assert(loadfile(src .. "/lua/integrations/" .. name .. ".lua"))()
end

-- The checked conf the host would pass: options' defaults filled in.
local function conf_of(mod, given)
    local c = {}
    for name, o in pairs(mod.options) do
        if o.default ~= nil then
            c[name] = o.default
        end
    end
    for k, v in pairs(given) do
        c[k] = v
    end
    return c
end

-- Real events: parsed by sr_event_parse into an arena, with event.lua's methods.
local events = dofile(src .. "/tests/unit/lua/events.lua")(src)
local parse, sample = events.parse, events.sample

local POLICY = sample("policy_event.json")

-- ---- SigV4 ---------------------------------------------------------------------------

eq(sigv4.uri_encode("a b/c~d_e.f-g%"), "a%20b%2Fc~d_e.f-g%25", "uri_encode")
eq(sigv4.uri_encode("a b/c", true), "a%20b/c", "uri_encode keeps slashes")
eq(sigv4.uri_encode("\u{e9}"), "%C3%A9", "uri_encode UTF-8")
eq(sigv4.host_header("https://SQS.eu-west-1.amazonaws.com/"), "sqs.eu-west-1.amazonaws.com", "host")
eq(sigv4.host_header("https://sqs.example:443/x"), "sqs.example", "default https port dropped")
eq(sigv4.host_header("http://127.0.0.1:80"), "127.0.0.1", "default http port dropped")
eq(sigv4.host_header("http://127.0.0.1:4566/"), "127.0.0.1:4566", "other port kept")
eq(sigv4.host_header("http://u:p@[::1]:8080/"), "[::1]:8080", "IPv6, userinfo dropped")
eq(sigv4.host_header("sqs.example"), nil, "not a URL")
eq(sigv4.amz_date(1795741323), "20261127T010203Z", "amz_date")

-- AWS's own example (IAM ListUsers, "Create a signed AWS API request").
local creq, signed = sigv4.canonical_request("GET",
    "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", {
        ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8",
        Host = "iam.amazonaws.com",
        ["X-Amz-Date"] = "20150830T123600Z",
    }, crypto.hex(crypto.sha256("")))
eq(creq, "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
    .. "content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\n"
    .. "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
    .. "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "AWS example canonical request")
eq(signed, "content-type;host;x-amz-date", "AWS example signed headers")
local sts = sigv4.string_to_sign("20150830T123600Z", "20150830/us-east-1/iam/aws4_request", creq)
eq(sts, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
    .. "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59", "AWS example string to sign")
local skey = sigv4.signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam")
eq(crypto.hex(skey), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9",
    "AWS example signing key")
eq(sigv4.signature(skey, sts), "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    "AWS example signature")

-- Path normalisation and double encoding, query sorting, value trimming
-- (the expected texts are botocore's).
creq = sigv4.canonical_request("POST", "https://sqs.eu-west-1.amazonaws.com/a%20b/./c/../d?b=2&a=x%2Fy&a=1", {
    Host = "sqs.eu-west-1.amazonaws.com", ["Content-Type"] = "application/x-amz-json-1.0",
    ["X-Amz-Target"] = "  AmazonSQS.SendMessageBatch   x", ["X-Amz-Date"] = "20261127T010203Z",
    ["User-Agent"] = "not signed",
}, crypto.hex(crypto.sha256("")))
eq(creq, "POST\n/a%2520b/d\na=1&a=x%2Fy&b=2\ncontent-type:application/x-amz-json-1.0\n"
    .. "host:sqs.eu-west-1.amazonaws.com\nx-amz-date:20261127T010203Z\nx-amz-target:AmazonSQS.SendMessageBatch x\n"
    .. "\ncontent-type;host;x-amz-date;x-amz-target\n"
    .. "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "normalised canonical request")

-- A whole SendMessageBatch request with a session token (botocore's signature).
local body = '{"QueueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/sysdig-events",'
    .. '"Entries":[{"Id":"0","MessageBody":"{\\"a\\":1}"}]}'
local req = sigv4.sign({
    method = "POST", url = "http://127.0.0.1:4566/", body = body,
    headers = { ["Content-Type"] = "application/x-amz-json-1.0", ["X-Amz-Target"] = "AmazonSQS.SendMessageBatch",
        authorization = "stale", host = "stale" },
}, { access_key = "AKIAIOSFODNN7EXAMPLE", secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    session_token = "FQoGZXIvYXdzE//session+token=" }, "eu-west-1", "sqs", 1795741323)
eq(req.headers.Host, "127.0.0.1:4566", "signed Host")
eq(req.headers.host, nil, "other spellings replaced")
eq(req.headers.authorization, nil, "stale Authorization dropped")
eq(req.headers["X-Amz-Date"], "20261127T010203Z", "X-Amz-Date")
eq(req.headers["X-Amz-Security-Token"], "FQoGZXIvYXdzE//session+token=", "session token header")
eq(req.headers.Authorization, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261127/eu-west-1/sqs/aws4_request, "
    .. "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
    .. "Signature=185b0308195cb1a3262df02a054b999dbf304f415aafa426af3627ac6a77756c", "botocore's signature")
raises("access key and a secret key", "no secret", sigv4.sign, { url = "https://x/" }, { access_key = "A" },
    "eu-west-1", "sqs")
local err = raises("bad region", "bad region", sigv4.sign, { url = "https://x/" },
    { access_key = "AKID", secret_key = "s3cr3t-value" }, "eu west", "sqs")
check(not tostring(err):find("s3cr3t", 1, true), "no secret in sigv4 errors")

-- ---- SQS -------------------------------------------------------------------------------

local sqs = module("sqs")
eq(sqs.type, "SQS", "sqs type")
eq(sqs.options.accessSecret.secret, true, "accessSecret is secret")
eq(sqs.options.sessionToken.secret, true, "sessionToken is secret")
eq(sqs.batch.max_events, 10, "sqs max_events")
eq(sqs.batch.max_bytes, 262144, "sqs max_bytes")

local base = { region = "eu-west-1", ownerAccount = "123456789012", queue = "sysdig-events",
    accessKey = "AKIAIOSFODNN7EXAMPLE", accessSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }
local function sqs_conf(extra)
    local c = {}
    for k, v in pairs(base) do
        c[k] = v
    end
    for k, v in pairs(extra or {}) do
        c[k] = v
    end
    return conf_of(sqs, c)
end

local sc = sqs_conf()
local st = sqs.setup(sc)
eq(st.max_events_limit, 10, "hard cap of 10 entries")
eq(st.max_bytes, 262144, "no attributes: the whole payload")
eq(st.insecure, false, "verify TLS by default")

local records = { POLICY:gsub("%s+", " "), '{"id":"x","n":1606322948648718268}' }
local doc = cjson.decode(sqs.batch_body(records, sc))
eq(doc.QueueUrl, "https://sqs.eu-west-1.amazonaws.com/123456789012/sysdig-events", "QueueUrl")
eq(#doc.Entries, 2, "entries")
eq(doc.Entries[1].Id, "0", "first Id")
eq(doc.Entries[2].Id, "1", "second Id")
eq(doc.Entries[1].MessageBody, records[1], "MessageBody is the record")
eq(doc.Entries[2].MessageBody, records[2], "MessageBody keeps the 64-bit integer's text")
eq(doc.Entries[1].DelaySeconds, nil, "no DelaySeconds unless delay is set")
eq(doc.Entries[1].MessageAttributes, nil, "no attributes unless headers are set")

req = sqs.request(records, 2, sc)
eq(req.url, "https://sqs.eu-west-1.amazonaws.com/", "default endpoint")
eq(req.headers["X-Amz-Target"], "AmazonSQS.SendMessageBatch", "target")
eq(req.headers["Content-Type"], "application/x-amz-json-1.0", "content type")
eq(req.headers.Host, "sqs.eu-west-1.amazonaws.com", "host")
check(req.headers.Authorization:find("^AWS4%-HMAC%-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/%d+/eu%-west%-1/sqs/aws4_request, "
    .. "SignedHeaders=content%-type;host;x%-amz%-date;x%-amz%-target, Signature=%x+$") ~= nil,
    "Authorization shape: " .. req.headers.Authorization)
eq(req.headers["X-Amz-Security-Token"], nil, "no token header without a session token")

local hc = sqs_conf({ delay = 30, endpoint = "http://127.0.0.1:9324", sessionToken = "tok",
    headers = { { key = "source", value = "sysdig" }, { key = "site", value = "lab \u{e9}" } } })
st = sqs.setup(hc)
eq(st.max_bytes, 262144 - 10 * (#"source" + 6 + #"sysdig" + #"site" + 6 + #"lab \u{e9}"),
    "attributes are counted against the payload")
doc = cjson.decode(sqs.batch_body({ "{}" }, hc))
eq(doc.Entries[1].DelaySeconds, 30, "DelaySeconds")
eq(doc.Entries[1].MessageAttributes.source.DataType, "String", "attribute type")
eq(doc.Entries[1].MessageAttributes.source.StringValue, "sysdig", "attribute value")
eq(doc.Entries[1].MessageAttributes.site.StringValue, "lab \u{e9}", "attribute UTF-8 value")
req = sqs.request({ "{}" }, 1, hc)
eq(req.url, "http://127.0.0.1:9324/", "endpoint override")
eq(req.headers.Host, "127.0.0.1:9324", "override host")
eq(req.headers["X-Amz-Security-Token"], "tok", "session token header")
eq(cjson.decode(req.body).QueueUrl, "https://sqs.eu-west-1.amazonaws.com/123456789012/sysdig-events",
    "QueueUrl stays the queue's own URL")
eq(cjson.decode(sqs.batch_body({ "{}" }, sqs_conf({ ownerAccount = "", queue = "https://q.example/1/q" })))
    .QueueUrl, "https://q.example/1/q", "queue as a URL")

raises("'region' must be", "bad region", sqs.setup, sqs_conf({ region = "EU" }))
raises("'ownerAccount' must be", "bad account", sqs.setup, sqs_conf({ ownerAccount = "12345" }))
raises("'queue' must be", "bad queue", sqs.setup, sqs_conf({ queue = "a/b" }))
raises("FIFO", "fifo", sqs.setup, sqs_conf({ queue = "events.fifo" }))
raises("'delay' must be", "delay", sqs.setup, sqs_conf({ delay = 901 }))
raises("not a valid SQS message attribute name", "attr name", sqs.setup,
    sqs_conf({ headers = { ["a..b"] = "v" } }))
raises("reserved", "AWS. attr", sqs.setup, sqs_conf({ headers = { ["AWS.x"] = "v" } }))
raises("empty value", "empty attr", sqs.setup, sqs_conf({ headers = { a = "" } }))
local many = {}
for i = 1, 11 do
    many["a" .. i] = "v"
end
raises("at most 10", "11 attributes", sqs.setup, sqs_conf({ headers = many }))
err = raises("'accessSecret' must be", "secret with a newline", sqs.setup, sqs_conf({ accessSecret = "ab\ncd" }))
check(not tostring(err):find("ab\ncd", 1, true), "no secret in sqs errors")

local function outcome(mod, status, body, n, conf)
    local k, r, items = mod.outcome(status, body, n, conf)
    return k, r, items and table.concat(items, ",") or nil
end
local k, r, items = outcome(sqs, 200, '{"Successful":[{"Id":"0","MessageId":"m0"},{"Id":"1","MessageId":"m1"}]}', 2, sc)
eq(k, "ok", "all successful")
eq(items, nil, "all successful: no items")
k, r, items = outcome(sqs, 200, '{"Successful":[{"Id":"0","MessageId":"m"},{"Id":"3","MessageId":"m"}],'
    .. '"Failed":[{"Id":"1","SenderFault":false,"Code":"InternalError","Message":"try again"},'
    .. '{"Id":"2","SenderFault":true,"Code":"InvalidMessageContents","Message":"bad char"}]}', 4, sc)
eq(k, "retry", "partial failure")
eq(items, "ok,retry,reject,ok", "per-message verdicts")
check(r:find("2 of 4", 1, true) and r:find("message 2: InvalidMessageContents (sender fault): bad char; message 1: InternalError", 1, true), "partial reason: " .. r)
k, r, items = outcome(sqs, 200, '{"Successful":[{"Id":"0","MessageId":"m"}],"Failed":[]}', 2, sc)
eq(items, "ok,retry", "an Id in neither list is retried")
eq(select(1, outcome(sqs, 200, "", 1, sc)), "retry", "200 without a result")
local function aws_error(t, m)
    return string.format('{"__type":"%s","message":"%s"}', t, m or "m")
end
eq(select(1, outcome(sqs, 400, aws_error("com.amazonaws.sqs#BatchRequestTooLong"), 10, sc)), "split", "too long")
eq(select(1, outcome(sqs, 400, aws_error("com.amazonaws.sqs#TooManyEntriesInBatchRequest"), 10, sc)), "split",
    "too many")
eq(select(1, outcome(sqs, 413, "", 10, sc)), "split", "413")
k, r = outcome(sqs, 403, aws_error("com.amazon.coral.service#InvalidClientTokenId", "The security token is invalid."), 1, sc)
eq(k, "retry", "InvalidClientTokenId retries (Error status)")
eq(r, "HTTP 403: InvalidClientTokenId: The security token is invalid.", "auth reason")
eq(select(1, outcome(sqs, 403, aws_error("com.amazon.coral.service#SignatureDoesNotMatch"), 1, sc)), "retry", "sig")
eq(select(1, outcome(sqs, 400, aws_error("com.amazonaws.sqs#QueueDoesNotExist"), 1, sc)), "retry", "no queue")
eq(select(1, outcome(sqs, 400, aws_error("com.amazon.coral.availability#ThrottlingException"), 1, sc)), "retry",
    "throttling")
eq(select(1, outcome(sqs, 500, aws_error("com.amazon.coral.service#InternalFailure"), 1, sc)), "retry", "500")
eq(select(1, outcome(sqs, 503, "", 1, sc)), "retry", "503 without a body")
eq(select(1, outcome(sqs, 400, aws_error("com.amazonaws.sqs#InvalidParameterValue"), 1, sc)), "reject", "invalid")
eq(select(1, outcome(sqs, 400, aws_error("com.amazonaws.sqs#BatchEntryIdsNotDistinct"), 1, sc)), "reject", "ids")
eq(sqs.error_code({ __type = "com.amazon.coral.service#ExpiredToken" }), "ExpiredToken", "error_code")
eq(sqs.error_code({ code = "AccessDenied" }), "AccessDenied", "error_code from code")

-- ---- SENTINEL ---------------------------------------------------------------------------

local sentinel = module("sentinel")
eq(sentinel.type, "SENTINEL", "sentinel type")
eq(sentinel.framing, "json_array", "sentinel framing")
eq(sentinel.options.secret.secret, true, "workspace key is secret")
eq(sentinel.options.clientSecret.secret, true, "client secret is secret")
eq(sentinel.options.logType.default, "SysdigSecure", "logType default")
check(sentinel.batch.max_bytes < 1000000, "Logs Ingestion batches under 1 MB")

local KEY = "d29ya3NwYWNlLXByaW1hcnkta2V5LTAxMjM0NTY3ODk=" -- base64 of a made-up key
eq(sentinel.shared_key("ws-1", crypto.base64_decode(KEY), 123, "Fri, 27 Nov 2026 01:02:03 GMT"),
    "SharedKey ws-1:uZ8kGUGjX8gfsE+15lreGFS1FdKDU325rsE8MtmcgKE=", "SharedKey (Python hmac's value)")

local dc = conf_of(sentinel, { workspaceId = "0b1c2d3e-aaaa-bbbb-cccc-1234567890ab", secret = KEY })
st = sentinel.setup(dc)
eq(st.max_bytes, 30000000 - 1024, "Data Collector: 30 MB posts")
local now = sentinel.now
sentinel.now = function() return 1795741323 end
req = sentinel.request("[{}]", 1, dc)
sentinel.now = now
eq(req.url, "https://0b1c2d3e-aaaa-bbbb-cccc-1234567890ab.ods.opinsights.azure.com/api/logs?api-version=2016-04-01",
    "Data Collector URL")
eq(req.headers["x-ms-date"], "Fri, 27 Nov 2026 01:02:03 GMT", "x-ms-date")
eq(req.headers["Log-Type"], "SysdigSecure", "Log-Type")
eq(req.headers["time-generated-field"], "timestampRFC3339Nano", "time-generated-field")
eq(req.headers["Content-Type"], "application/json", "content type")
eq(req.headers.Authorization, sentinel.shared_key("0b1c2d3e-aaaa-bbbb-cccc-1234567890ab",
    crypto.base64_decode(KEY), 4, "Fri, 27 Nov 2026 01:02:03 GMT"), "signature over the body's length")
eq(req.step, nil, "no token step for SharedKey")
local dco = conf_of(sentinel, { workspaceId = "ws", secret = KEY, endpoint = "http://127.0.0.1:8/",
    logType = "Custom_1", azureResourceId = "/subscriptions/x" })
sentinel.setup(dco)
req = sentinel.request("[]", 0, dco)
eq(req.url, "http://127.0.0.1:8/api/logs?api-version=2016-04-01", "Data Collector override")
eq(req.headers["Log-Type"], "Custom_1", "custom Log-Type")
eq(req.headers["x-ms-AzureResourceId"], "/subscriptions/x", "resource id")

raises("not both", "both modes", sentinel.setup, conf_of(sentinel, { workspaceId = "w", secret = KEY, clientId = "c" }))
raises("needs endpoint, dcrImmutableId", "nothing", sentinel.setup, conf_of(sentinel, {}))
raises("needs secret", "no key", sentinel.setup, conf_of(sentinel, { workspaceId = "w" }))
err = raises("in base64", "bad key", sentinel.setup, conf_of(sentinel, { workspaceId = "w", secret = "not base64!" }))
check(not tostring(err):find("not base64!", 1, true), "no key in sentinel errors")
raises("'logType' must be", "bad log type", sentinel.setup, conf_of(sentinel, { workspaceId = "w", secret = KEY,
    logType = "a-b" }))
raises("Logs Ingestion API only", "gzip on Data Collector", sentinel.setup,
    conf_of(sentinel, { workspaceId = "w", secret = KEY, compress = true }))

-- Data Collector records: the event as is; a field over 32 KB refused.
local pev = parse(POLICY)
local rec = sentinel.encode(pev, dc)
check(rec:find('"timestamp":1606322948648718268', 1, true) ~= nil, "exact timestamp")
eq(rec:find("TimeGenerated", 1, true), nil, "no TimeGenerated for the Data Collector")
local big = parse('{"id":"b","type":"policy","timestamp":1,"content":{"output":"' .. string.rep("x", 40000) .. '"}}')
raises("field 'content' is", "oversize field", sentinel.encode, big, dc)
local small = parse('{"id":"b","type":"policy","timestamp":1,"a":"' .. string.rep("x", 30000) .. '","b":"'
    .. string.rep("y", 30000) .. '"}')
check(#sentinel.encode(small, dc) > 60000, "large event, fields under the limit")

-- Logs Ingestion: token first, then the stream's URL with the bearer token.
local li = conf_of(sentinel, { endpoint = "https://dce-1.westeurope-1.ingest.monitor.azure.com/",
    dcrImmutableId = "dcr-00112233445566778899aabbccddeeff", streamName = "Custom-SysdigEvents_CL",
    tenantId = "tenant-1", clientId = "client-1", clientSecret = "client-secret-1" })
st = sentinel.setup(li)
eq(st.max_bytes, 1000000 - 1024, "Logs Ingestion: 1 MB calls")
req = sentinel.request("[{}]", 1, li)
eq(req.step, "token", "token first")
eq(req.url, "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token", "Entra token URL")
check(req.body:find("scope=https%3A%2F%2Fmonitor.azure.com%2F%2F.default", 1, true) ~= nil, "monitor scope")
check(req.body:find("grant_type=client_credentials", 1, true) ~= nil, "client credentials")
eq(sentinel.step("token", 200, '{"access_token":"tok-1","token_type":"Bearer","expires_in":3599}', li), true,
    "token taken")
req = sentinel.request("[{}]", 1, li)
eq(req.url, "https://dce-1.westeurope-1.ingest.monitor.azure.com/dataCollectionRules/"
    .. "dcr-00112233445566778899aabbccddeeff/streams/Custom-SysdigEvents_CL?api-version=2023-01-01", "stream URL")
eq(req.headers.Authorization, "Bearer tok-1", "bearer token")
eq(req.body, "[{}]", "body as framed")
eq(req.headers["Content-Encoding"], nil, "not compressed by default")
k = sentinel.outcome(401, '{"error":{"code":"InvalidToken","message":"expired"}}', 1, li)
eq(k, "again", "401: again")
eq(sentinel.request("[{}]", 1, li).step, "token", "401 dropped the token")
eq(select(1, sentinel.step("token", 400, '{"error":"invalid_client","error_description":"AADSTS7000215"}', li)),
    "reject", "refused credentials")

local lz = conf_of(sentinel, { endpoint = "http://127.0.0.1:9", dcrImmutableId = "dcr-1", streamName = "s",
    tenantId = "t", clientId = "c", clientSecret = "s3", compress = true, authorityHost = "http://127.0.0.1:10/" })
sentinel.setup(lz)
req = sentinel.request("[{}]", 1, lz)
eq(req.url, "http://127.0.0.1:10/t/oauth2/v2.0/token", "authority override")
sentinel.step("token", 200, '{"access_token":"t2","expires_in":3600}', lz)
req = sentinel.request(string.rep("[{}]", 100), 1, lz)
eq(req.headers["Content-Encoding"], "gzip", "gzip header")
eq(req.body:sub(1, 2), "\31\139", "gzip body")
raises("'dcrImmutableId' must not contain", "slash in DCR id", sentinel.setup, conf_of(sentinel, {
    endpoint = "https://e", dcrImmutableId = "a/b", streamName = "s", tenantId = "t", clientId = "c",
    clientSecret = "x" }))
raises("needs streamName", "missing stream", sentinel.setup, conf_of(sentinel, {
    endpoint = "https://e", dcrImmutableId = "d", tenantId = "t", clientId = "c", clientSecret = "x" }))

-- Logs Ingestion records get TimeGenerated from the event's own time.
rec = cjson.decode(sentinel.encode(parse(POLICY), li))
eq(rec.TimeGenerated, "2020-11-25T16:49:08.648718268Z", "TimeGenerated from timestampRFC3339Nano")
rec = sentinel.encode(parse('{"id":"n","type":"policy","timestamp":1606322948648718268}'), li)
check(rec:find('"TimeGenerated":"2020-11-25T16:49:08.648718268Z"', 1, true) ~= nil,
    "TimeGenerated from the nanosecond timestamp: " .. rec)
rec = sentinel.encode(parse('{"id":"n","type":"policy","TimeGenerated":"2001-01-01T00:00:00Z"}'), li)
check(rec:find('"TimeGenerated":"2001-01-01T00:00:00Z"', 1, true) ~= nil, "own TimeGenerated kept")

local function kind(mod, status, body, conf)
    return (mod.outcome(status, body, 4, conf))
end
eq(kind(sentinel, 204, "", li), "ok", "204")
eq(kind(sentinel, 413, "", li), "split", "413 splits")
eq(kind(sentinel, 429, "", li), "retry", "429")
eq(kind(sentinel, 503, "", li), "retry", "503")
eq(kind(sentinel, 403, '{"error":{"code":"OperationFailed","message":"no role"}}', li), "retry", "403 config")
eq(kind(sentinel, 404, "", li), "retry", "404 config")
eq(kind(sentinel, 400, '{"error":{"code":"InvalidPayload","message":"bad"}}', li), "reject", "400")
eq(select(2, sentinel.outcome(400, '{"error":{"code":"InvalidPayload","message":"bad"}}', 1, li)),
    "HTTP 400: InvalidPayload: bad", "Azure error reason")
eq(kind(sentinel, 200, "", dc), "ok", "collector 200")
eq(kind(sentinel, 400, '{"Error":"InvalidDataFormat","Message":"bad json"}', dc), "reject", "bad data")
eq(kind(sentinel, 400, '{"Error":"InvalidLogType","Message":"x"}', dc), "retry", "config 400")
eq(kind(sentinel, 403, '{"Error":"InvalidAuthorization","Message":"x"}', dc), "retry", "403 InvalidAuthorization")
sentinel.request("[]", 0, dc)
eq(kind(sentinel, 404, "", dc), "retry", "404 with a small body: URL")
eq(kind(sentinel, 413, "", dc), "split", "collector 413")
eq(kind(sentinel, 500, '{"Error":"UnspecifiedError"}', dc), "retry", "collector 500")

-- ---- MCM -------------------------------------------------------------------------------------

local mcm = module("mcm")
eq(mcm.type, "MCM", "mcm type")
eq(#mcm.channels, 1, "policy events only")
eq(mcm.channels[1], "SECURE_EVENTS_POLICIES", "policy channel")
eq(mcm.options.apiKey.secret, true, "apiKey is secret")
eq(mcm.options.accountId.default, "id-mycluster-account", "accountId default")
eq(mcm.options.providerId.default, "sysdig-secure", "providerId default")
eq(mcm.options.noteName.default, "policy-event", "noteName default")
eq(mcm.severity(0), "HIGH", "severity 0")
eq(mcm.severity(3), "HIGH", "severity 3")
eq(mcm.severity(5), "MEDIUM", "severity 5")
eq(mcm.severity(6), "LOW", "severity 6")
eq(mcm.severity(7), "LOW", "severity 7 (Info)")
eq(mcm.severity(-1), "MEDIUM", "no severity")

local mc = conf_of(mcm, { endpoint = "https://us-south.secadvisor.cloud.ibm.com/findings/", apiKey = "ibm-key-1" })
st = mcm.setup(mc)
eq(st.max_events_limit, 1, "one occurrence per request")
eq(st.framing, "list", "list framing")
raises("'providerId' must be", "bad provider", mcm.setup, conf_of(mcm, { endpoint = "https://x",
    apiKey = "k", providerId = "a/b" }))
raises("apiKey is required", "no key", mcm.setup, conf_of(mcm, { endpoint = "https://x", apiKey = "" }))
raises("endpoint must be", "bad endpoint", mcm.setup, conf_of(mcm, { endpoint = "x", apiKey = "k" }))

local occ_text = mcm.encode(parse(POLICY), mc)
local occ = cjson.decode(occ_text)
eq(occ.note_name, "id-mycluster-account/providers/sysdig-secure/notes/policy-event", "note_name")
eq(occ.kind, "FINDING", "kind")
eq(occ.id, "164ace360cc3cfbc26ec22d61b439500-policy-event", "occurrence id: event id and note")
eq(occ.finding.severity, "HIGH", "finding severity")
check(occ.finding.next_steps[1].title:find("Notable Filesystem Changes", 1, true) ~= nil, "next step names the policy")
eq(occ.context.resource_type, "Host", "host event")
eq(occ.context.resource_name, "ardbox", "host name")
eq(occ.context.resource_id, "08:00:27:54:f3:9d", "machine id")
eq(occ.context.service_name, "Sysdig Secure", "service name")
eq(occ.reference_data.id, "164ace360cc3cfbc26ec22d61b439500", "the event in reference_data")
check(occ_text:find('"timestamp":1606322948648718268', 1, true) ~= nil, "exact timestamp in reference_data")
check(occ_text:find('"group.gid":"8589935592"', 1, true) ~= nil, "fields as received")
local kev = parse('{"id":"k1","type":"policy","timestamp":1,"severity":4,"containerId":"abc123",'
    .. '"content":{"fields":{"container.id":"abc123","container.image.repository":"nginx"}},'
    .. '"labels":{"kubernetes.cluster.name":"prod","kubernetes.namespace.name":"web","kubernetes.pod.name":"p-1"}}')
occ = cjson.decode(mcm.encode(kev, mc))
eq(occ.context.resource_type, "Container", "container event")
eq(occ.context.resource_id, "abc123", "container id")
eq(occ.context.resource_name, "nginx (abc123)", "image and container")
eq(occ.context.environment_name, "prod", "cluster")
eq(occ.context.component_name, "web/p-1", "namespace/pod")
eq(occ.finding.severity, "MEDIUM", "medium")
occ = cjson.decode(mcm.encode(parse('{"type":"policy","timestamp":1,"id":"has space"}'), mc))
check(occ.id:find("^%x+%-policy%-event$") and #occ.id == 45, "an unusable id becomes a digest: " .. occ.id)

-- The steps: token, note lookup, note creation, then the occurrence.
req = mcm.request({ occ_text }, 1, mc)
eq(req.step, "token", "IAM token first")
eq(req.url, "https://iam.cloud.ibm.com/identity/token", "IAM URL")
eq(mcm.step("token", 200, '{"access_token":"iam-1","token_type":"Bearer","expires_in":3600}', mc), true, "token")
req = mcm.request({ occ_text }, 1, mc)
eq(req.step, "note", "note lookup")
eq(req.method, "GET", "GET the note")
eq(req.body, "", "no body")
eq(req.url, "https://us-south.secadvisor.cloud.ibm.com/findings/v1/id-mycluster-account/providers/sysdig-secure/notes/"
    .. "policy-event", "note URL")
eq(req.headers.Authorization, "Bearer iam-1", "bearer")
eq(select(1, mcm.step("note", 500, "oops", mc)), false, "lookup failure: failed attempt")
eq(mcm.step("note", 404, '{"code":"not_found"}', mc), true, "missing note")
req = mcm.request({ occ_text }, 1, mc)
eq(req.step, "create_note", "note creation")
eq(req.method, "POST", "POST the note")
eq(req.url, "https://us-south.secadvisor.cloud.ibm.com/findings/v1/id-mycluster-account/providers/sysdig-secure/notes",
    "notes URL")
local note = cjson.decode(req.body)
eq(note.kind, "FINDING", "note kind")
eq(note.id, "policy-event", "note id")
eq(note.reported_by.id, "sysdig-secure", "reporter")
eq(note.finding.severity, "HIGH", "note severity")
check(type(note.short_description) == "string" and type(note.long_description) == "string", "descriptions")
eq(mcm.step("create_note", 409, '{"code":"conflict"}', mc), true, "409: exists")
req = mcm.request({ occ_text }, 1, mc)
eq(req.step, nil, "the occurrence")
eq(req.url, "https://us-south.secadvisor.cloud.ibm.com/findings/v1/id-mycluster-account/providers/sysdig-secure/"
    .. "occurrences", "occurrences URL")
eq(req.body, occ_text, "the record")
eq(req.headers["Content-Type"], "application/json", "json")
eq(kind(mcm, 200, "{}", mc), "ok", "created")
eq(kind(mcm, 409, "{}", mc), "ok", "already there")
eq(kind(mcm, 400, "{}", mc), "reject", "400")
eq(kind(mcm, 403, "{}", mc), "retry", "403")
eq(kind(mcm, 503, "{}", mc), "retry", "503")
eq(kind(mcm, 404, "{}", mc), "again", "404: check the note again")
eq(mcm.request({ occ_text }, 1, mc).step, "note", "note looked up again after a 404")
eq(mcm.step("note", 200, "{}", mc), true, "note exists")
eq(kind(mcm, 401, "{}", mc), "again", "401")
eq(mcm.request({ occ_text }, 1, mc).step, "token", "token dropped after a 401")
eq(mcm.step("token", 200, '{"access_token":"iam-2","expires_in":3600}', mc), true, "new token")
eq(mcm.request({ occ_text }, 1, mc).headers.Authorization, "Bearer iam-2", "new token used, note known")
eq(mcm.step("note", 401, "{}", mc), true, "401 on a step drops the token")
eq(mcm.request({ occ_text }, 1, mc).step, "token", "and fetches another")
raises("one event per request", "two records", mcm.request, { "{}", "{}" }, 2, mc)
local mo = conf_of(mcm, { endpoint = "http://127.0.0.1:1", apiKey = "k", iamUrl = "http://127.0.0.1:2/identity/token" })
mcm.setup(mo)
eq(mcm.request({ "{}" }, 1, mo).url, "http://127.0.0.1:2/identity/token", "IAM override")
eq(oauth.cache(mo, "main"):token(), nil, "separate caches per conf")

events.free()
return t.summary("lua (sentinel, sqs, mcm)")
