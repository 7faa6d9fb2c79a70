-- test_google_modules.lua - CHRONICLE, PUBSUB and SCC: configuration
-- checks, records, requests, step sequences and outcome rules, driven the
-- way the delivery engine drives them (request -> step -> request ... ->
-- outcome), against scripted answers. Run from test_google.lua.
local t = ...
local eq, raises, check, pem, src = t.eq, t.raises, t.check, t.pem, t.src
local json = require "json"
local crypto = require "siemrelay.crypto"
local oauth = require "oauth"

local function load_module(name)
    return assert(loadfile(src .. "/lua/integrations/" .. name .. ".lua"))()
end

local function with_defaults(mod, conf)
    local c = {}
    for k, v in pairs(conf) do
        c[k] = v
    end
    for name, o in pairs(mod.options) do
        if not o.alias_of and c[name] == nil and o.default ~= nil then
            c[name] = o.default
        end
    end
    return c
end

local SA = json.encode({ type = "service_account", client_email = "relay@p.iam.gserviceaccount.com",
    private_key = pem, private_key_id = "k1", token_uri = "http://127.0.0.1:1/token" })

-- A stand-in for the FFI event: the JSON text, and a decoded copy whose
-- big integers are int64 cdata (as ev:get_path returns them).
local function fake_event(text, doc, sev, raws)
    local ev = { severity = sev or -1 }
    function ev:json() return text end
    function ev:get(k) return doc[k] end
    function ev:raw(k)
        if raws and raws[k] then
            return raws[k]
        end
        local v = doc[k]
        if type(v) == "cdata" then
            return (tostring(v):gsub("LL$", ""))
        end
        return v ~= nil and json.encode(v) or nil
    end
    function ev:get_path(...)
        local v = doc
        for i = 1, select("#", ...) do
            if type(v) ~= "table" then
                return nil
            end
            v = v[select(i, ...)]
        end
        return v
    end
    return ev
end

local POLICY_TEXT = '{"id":"164ace360cc3cfbc26ec22d61b439500","type":"policy",' ..
    '"timestamp":1606322948648718268,"name":"Notable Filesystem Changes","severity":0,' ..
    '"agentId":13530,"actions":[{"type":"CAPTURE","afterEventNs":5000000000}],' ..
    '"content":{"policyId":544,"ruleName":"Write below etc","ruleTags":["NIST","ISO"],' ..
    '"output":"File below /etc opened","fields":{"proc.name":"touch","proc.aname[2]":"su",' ..
    '"group.gid":"8589935592"}},"labels":{"host.hostName":"ardbox"},"big":-9007199254740993}'
local function policy_event()
    local doc = json.decode(POLICY_TEXT)
    doc.timestamp = 1606322948648718268LL
    doc.big = -9007199254740993LL
    return fake_event(POLICY_TEXT, doc, 0,
        { actions = '[{"type":"CAPTURE","afterEventNs":5000000000}]' })
end

-- Runs one batch as the engine does: request() -> (step -> request())* ->
-- outcome(). `answer(req)` returns status, body. Returns the outcome's
-- kind and reason, or the step's verdict when a step stops the batch, and
-- the requests sent.
local function run_batch(mod, conf, records, answer)
    local sent = {}
    for _ = 1, 9 do
        local req = mod.request(records, #records, conf)
        sent[#sent + 1] = req
        local status, body = answer(req)
        if req.step then
            local v, reason = mod.step(req.step, status, body, conf)
            if v ~= true then
                return v, reason, sent
            end
        else
            local kind, reason = mod.outcome(status, body, #records, conf)
            return kind, reason, sent
        end
    end
    return "too many steps", nil, sent
end

local TOKEN_OK = '{"access_token":"ya29.tok","token_type":"Bearer","expires_in":3599}'
local function gerr(code, status, message)
    return json.encode({ error = { code = code, status = status, message = message } })
end

-- ---- google helpers ---------------------------------------------------------------

local google = require "google"
eq(google.classify(503, ""), "retry", "503 retries")
eq(google.classify(499, ""), "retry", "499 retries")
eq(google.classify(429, ""), "retry", "429 retries")
eq(google.classify(400, gerr(400, "INVALID_ARGUMENT", "bad")), "reject", "400 rejects")
eq(google.classify(409, gerr(409, "ABORTED", "x")), "retry", "409 ABORTED retries")
eq(google.classify(409, gerr(409, "ALREADY_EXISTS", "x")), "reject", "409 ALREADY_EXISTS rejects")
eq(google.classify(403, gerr(403, "PERMISSION_DENIED", "no")), "reject", "403 rejects")
eq(google.classify(400, gerr(400, "UNAVAILABLE", "x")), "retry", "the gRPC code wins")
eq(select(2, google.classify(400, gerr(400, "INVALID_ARGUMENT", "bad\nthing"))),
    "HTTP 400: INVALID_ARGUMENT: bad thing", "google reason")
eq(google.too_large(400, gerr(400, "INVALID_ARGUMENT",
    "Request payload size exceeds the limit: 10485760 bytes.")), true, "payload size 400")
eq(google.too_large(413, ""), true, "413 too large")
eq(google.too_large(400, gerr(400, "INVALID_ARGUMENT", "bad")), false, "other 400")
local kv = google.key_values({ { key = "a", value = "1" }, { key = "b", value = 2 } }, "x")
eq(kv[2][1] .. "=" .. kv[2][2], "b=2", "key_values list")
kv = google.key_values({ z = "1", a = "2" }, "x")
eq(kv[1][1], "a", "key_values map sorted")
raises("given twice", "key_values repeated", google.key_values,
    { { key = "a", value = "1" }, { key = "a", value = "2" } }, "x")

-- ---- PUBSUB --------------------------------------------------------------------------

local pubsub = load_module("pubsub")
eq(pubsub.options.credentialsJson.secret, true, "pubsub credentials secret")
eq(pubsub.batch.max_events, 1000, "pubsub 1000 messages")
local pconf = with_defaults(pubsub, { project = "my-proj", topic = "sysdig-events", orderingKey = "k1",
    attributes = { { key = "source", value = "sysdig" }, { key = "env", value = "prod" } },
    credentialsJson = SA, endpoint = "http://127.0.0.1:9/" })
local st = pubsub.setup(pconf)
eq(st.max_events_limit, 1000, "pubsub hard cap")
local rec = pubsub.encode(policy_event(), pconf)
local m = json.decode(rec)
eq(crypto.base64_decode(m.data), POLICY_TEXT, "pubsub data is the event")
eq(m.attributes.source .. "," .. m.attributes.env, "sysdig,prod", "pubsub attributes")
eq(m.orderingKey, "k1", "pubsub ordering key")
check(pubsub.batch.max_bytes + #'{"messages":[' + 2 + 999 <= 10000000, "pubsub bytes within 10 MB")

local now = 1700000000
oauth.now = function() return now end
local kind, reason, sent = run_batch(pubsub, pconf, { rec, rec }, function(req)
    if req.step then
        return 200, TOKEN_OK
    end
    return 200, '{"messageIds":["1","2"]}'
end)
eq(kind, "ok", "pubsub ok")
eq(#sent, 2, "pubsub token then publish")
eq(sent[1].url, "http://127.0.0.1:1/token", "pubsub token from the key's token_uri")
eq(sent[2].url, "http://127.0.0.1:9/v1/projects/my-proj/topics/sysdig-events:publish", "pubsub url")
eq(sent[2].headers.Authorization, "Bearer ya29.tok", "pubsub bearer")
eq(sent[2].body, '{"messages":[' .. rec .. "," .. rec .. "]}", "pubsub body")
-- The token is reused for the next batch.
kind, reason, sent = run_batch(pubsub, pconf, { rec }, function() return 200, '{"messageIds":["3"]}' end)
eq(#sent, 1, "pubsub token reused")
-- A 401: again, with a new token; twice: retry.
kind, reason = pubsub.outcome(401, gerr(401, "UNAUTHENTICATED", "expired"), 1, pconf)
eq(kind, "again", "pubsub 401 again")
eq(oauth.cache(pconf, "main"):token(), nil, "pubsub 401 drops the token")
kind, reason, sent = run_batch(pubsub, pconf, { rec }, function(req)
    if req.step then
        return 200, TOKEN_OK
    end
    return 401, gerr(401, "UNAUTHENTICATED", "still bad")
end)
eq(kind, "retry", "pubsub second 401 retries")
kind, reason, sent = run_batch(pubsub, pconf, { rec }, function(req)
    if req.step then
        return 200, TOKEN_OK
    end
    return 200, '{"messageIds":["4"]}'
end)
eq(kind, "ok", "pubsub ok after the refusals")
eq(pubsub.outcome(401, "", 1, pconf), "again", "a later 401 is a first one again")
eq(pubsub.outcome(503, gerr(503, "UNAVAILABLE", "x"), 1, pconf), "retry", "pubsub 503")
eq(pubsub.outcome(404, gerr(404, "NOT_FOUND", "Resource not found"), 1, pconf), "reject", "pubsub 404")
eq(pubsub.outcome(400, gerr(400, "INVALID_ARGUMENT",
    "Request payload size exceeds the limit: 10485760 bytes."), 2, pconf), "split", "pubsub split")
-- Token endpoint refusing the key: the batch is rejected.
oauth.cache(pconf, "main"):invalidate()
kind, reason = run_batch(pubsub, pconf, { rec }, function()
    return 400, '{"error":"invalid_grant","error_description":"Invalid JWT Signature."}'
end)
eq(kind, "reject", "pubsub refused key rejects")
eq(reason, "token endpoint: HTTP 400: invalid_grant: Invalid JWT Signature.", "pubsub refused reason")

local full = with_defaults(pubsub, { topic = "projects/other/topics/t-1", credentialsJson = SA })
pubsub.setup(full)
eq(pubsub.request({ rec }, 1, full).url, "http://127.0.0.1:1/token", "token request first")
raises("missing required key 'project'", "pubsub without project", pubsub.setup,
    with_defaults(pubsub, { topic = "t-1", credentialsJson = SA }))
raises("reserved", "pubsub goog attribute", pubsub.setup, with_defaults(pubsub, { project = "p-123",
    topic = "t-1", credentialsJson = SA, attributes = { googFoo = "x" } }))
raises("topic must start", "pubsub bad topic", pubsub.setup,
    with_defaults(pubsub, { project = "p-123", topic = "1x", credentialsJson = SA }))
raises("credentialsJson is not valid JSON", "pubsub bad credentials", pubsub.setup,
    with_defaults(pubsub, { project = "p-123", topic = "top", credentialsJson = "{nope" }))

-- ---- CHRONICLE -------------------------------------------------------------------------

local chronicle = load_module("chronicle")
eq(chronicle.host("us"), "malachiteingestion-pa.googleapis.com", "chronicle us host")
eq(chronicle.host("europe-west2"), "europe-west2-malachiteingestion-pa.googleapis.com", "chronicle host")
local c1 = with_defaults(chronicle, { apiKey = "AIzaKey_1-x", region = "EUROPE" })
local s1 = chronicle.setup(c1)
local entry = chronicle.encode(policy_event(), c1)
local e = json.decode(entry)
eq(e.log_text, POLICY_TEXT, "chronicle log_text")
eq(e.ts_rfc3339, "2020-11-25T16:49:08.648718268Z", "chronicle timestamp exact")
local req = chronicle.request({ entry }, 1, c1)
eq(req.url, "https://europe-malachiteingestion-pa.googleapis.com/v1/unstructuredlogentries?key=AIzaKey_1-x",
    "chronicle v1 url")
eq(req.step, nil, "chronicle v1 has no token")
eq(req.body, '{"log_type":"SYSDIG","entries":[' .. entry .. "]}", "chronicle v1 body")
check(s1.max_bytes + #'{"log_type":"SYSDIG","entries":[' + 2 + 500 <= 1000000, "chronicle v1 < 1 MB")
eq(chronicle.outcome(401, gerr(401, "UNAUTHENTICATED", "x"), 1, c1), "reject", "chronicle v1 401 rejects")
eq(chronicle.outcome(400, gerr(400, "INVALID_ARGUMENT", "API key not valid"), 1, c1), "reject",
    "chronicle v1 bad key")

local c2 = with_defaults(chronicle, { region = "asia-south1", credentialsOAuth2 = SA,
    chronicleCustomerId = "0E2B4C6A-1111-2222-3333-444455556666", namespace = "prod",
    endpoint = "http://127.0.0.1:5", tokenUri = "http://127.0.0.1:6/t" })
local s2 = chronicle.setup(c2)
kind, reason, sent = run_batch(chronicle, c2, { entry, entry }, function(r)
    if r.step then
        return 200, TOKEN_OK
    end
    return 200, "{}"
end)
eq(kind, "ok", "chronicle v2 ok")
eq(sent[1].url, "http://127.0.0.1:6/t", "chronicle token uri override")
eq(sent[2].url, "http://127.0.0.1:5/v2/unstructuredlogentries:batchCreate", "chronicle v2 url")
local prefix = '{"customer_id":"0e2b4c6a-1111-2222-3333-444455556666","log_type":"SYSDIG",' ..
    '"namespace":"prod","entries":['
eq(sent[2].body, prefix .. entry .. "," .. entry .. "]}", "chronicle v2 body")
check(s2.max_bytes + #prefix + 2 + 500 <= 1000000, "chronicle v2 < 1 MB")
local jwt = sent[1].body:match("assertion=([^&]+)")
local claims = json.decode(crypto.base64url_decode(jwt:match("^[^.]+%.([^.]+)")))
eq(claims.scope, "https://www.googleapis.com/auth/malachite-ingestion", "chronicle scope")
eq(chronicle.outcome(401, "", 1, c2), "again", "chronicle v2 401 again")
eq(chronicle.outcome(429, "", 1, c2), "retry", "chronicle 429")
eq(chronicle.outcome(413, "", 2, c2), "split", "chronicle 413 split")
raises("not both", "chronicle both", chronicle.setup, with_defaults(chronicle, { apiKey = "k",
    credentialsOAuth2 = SA }))
raises("missing credentials", "chronicle neither", chronicle.setup, with_defaults(chronicle, {}))
raises("not a Chronicle v1 region", "chronicle v1 region", chronicle.setup,
    with_defaults(chronicle, { apiKey = "k", region = "me-west1" }))
raises("chronicleCustomerId", "chronicle v2 without customer", chronicle.setup,
    with_defaults(chronicle, { credentialsOAuth2 = SA }))
raises("must be a UUID", "chronicle v2 bad customer", chronicle.setup,
    with_defaults(chronicle, { credentialsOAuth2 = SA, chronicleCustomerId = "nope" }))
raises("v2 keys", "chronicle v1 with namespace", chronicle.setup,
    with_defaults(chronicle, { apiKey = "k", namespace = "n" }))

-- ---- SCC -------------------------------------------------------------------------------

local scc = load_module("scc")
eq(scc.finding_id("164ace360cc3cfbc26ec22d61b439500"), "164ace360cc3cfbc26ec22d61b439500", "finding id")
eq(#scc.finding_id("a-b-c"), 32, "finding id hashed")
eq(scc.finding_id("a-b-c"), scc.finding_id("a-b-c"), "finding id stable")
eq(scc.finding_id("a-b-c"):find("^%x+$") ~= nil, true, "finding id hex")
eq(scc.property_key({ "content", "fields", "proc.aname[2]" }), "content_fields_proc_aname_2_", "prop key")
eq(scc.property_key({ "9lives" }), "p_9lives", "prop key starts with a letter")

local sconf = with_defaults(scc, { organization = "organizations/123456", credentialsJson = SA,
    securityMarks = { { key = "team", value = "secops" }, { key = "origin", value = "sysdig" } },
    endpoint = "http://127.0.0.1:4" })
scc.setup(sconf)
local srec = scc.encode(policy_event(), sconf)
local id, ftext = scc.split_record(srec)
eq(id, "164ace360cc3cfbc26ec22d61b439500", "scc record id")
local f = json.decode(ftext)
eq(f.state, "ACTIVE", "scc state")
eq(f.category, "Write below etc", "scc category")
eq(f.eventTime, "2020-11-25T16:49:08.648718268Z", "scc event time")
eq(f.severity, "HIGH", "scc severity")
eq(f.resourceName, "//cloudresourcemanager.googleapis.com/organizations/123456", "scc resource")
eq(f.description, "File below /etc opened", "scc description")
local sp = f.sourceProperties
eq(sp.timestamp, "1606322948648718268", "scc timestamp exact, as a string")
eq(sp.big, "-9007199254740993", "scc negative big int exact")
eq(sp.agentId, 13530, "scc small int as a number")
eq(sp.content_policyId, 544, "scc nested int")
eq(sp.content_fields_proc_aname_2_, "su", "scc flattened field key")
eq(sp.content_fields_group_gid, "8589935592", "scc string kept")
eq(sp.labels_host_hostName, "ardbox", "scc label")
eq(table.concat(sp.content_ruleTags, ","), "NIST,ISO", "scc string array")
eq(sp.actions, '[{"type":"CAPTURE","afterEventNs":5000000000}]', "scc object array as its JSON text")
check(ftext:find('"timestamp":"1606322948648718268"', 1, true) ~= nil, "scc timestamp text")

-- A scripted SCC: sources listed over two pages, none matching, so one
-- is created; then the finding, then its marks.
local calls = {}
local function scc_server(r)
    calls[#calls + 1] = r.method .. " " .. r.url:gsub("^http://127.0.0.1:4", "")
    if r.step == "token" then
        return 200, TOKEN_OK
    elseif r.step == "sources" then
        if r.url:find("pageToken=p2", 1, true) then
            return 200, '{"sources":[{"name":"organizations/123456/sources/9","displayName":"Other"}]}'
        end
        return 200, '{"sources":[{"name":"organizations/123456/sources/8","displayName":"X"}],' ..
            '"nextPageToken":"p2"}'
    elseif r.step == "source" then
        return 200, '{"name":"organizations/123456/sources/77","displayName":"Sysdig Secure"}'
    elseif r.step == "finding" then
        return 200, "{}"
    end
    return 200, '{"marks":{}}'
end
kind = run_batch(scc, sconf, { srec }, scc_server)
eq(kind, "ok", "scc first batch ok")
eq(table.concat(calls, "\n"), table.concat({
    "POST http://127.0.0.1:1/token",
    "GET /v1/organizations/123456/sources?pageSize=100",
    "GET /v1/organizations/123456/sources?pageSize=100&pageToken=p2",
    "POST /v1/organizations/123456/sources",
    "POST /v1/organizations/123456/sources/77/findings?findingId=164ace360cc3cfbc26ec22d61b439500",
    "PATCH /v1/organizations/123456/sources/77/findings/164ace360cc3cfbc26ec22d61b439500/securityMarks" ..
        "?updateMask=marks.team,marks.origin",
}, "\n"), "scc sequence")
-- The second event: the source is known; a 409 on create still sets marks.
calls = {}
kind = run_batch(scc, sconf, { srec }, function(r)
    calls[#calls + 1] = r.method
    if r.step == "finding" then
        return 409, gerr(409, "ALREADY_EXISTS", "Requested entity already exists")
    end
    return 200, "{}"
end)
eq(kind, "ok", "scc 409 then marks ok")
eq(table.concat(calls, ","), "POST,PATCH", "scc second event: create and marks only")
-- Marks refused for good: rejected; the next attempt starts with the create.
kind = run_batch(scc, sconf, { srec }, function(r)
    if r.step == "finding" then
        return 200, "{}"
    end
    return 400, gerr(400, "INVALID_ARGUMENT", "bad mark")
end)
eq(kind, "reject", "scc marks 400 rejects")
-- Create refused for good: the step rejects the batch.
kind, reason = run_batch(scc, sconf, { srec }, function()
    return 403, gerr(403, "PERMISSION_DENIED", "denied")
end)
eq(kind, "reject", "scc create 403 rejects")
eq(reason, "create finding: HTTP 403: PERMISSION_DENIED: denied", "scc create reason")
-- Without marks, the create is the batch's own request, and 409 is ok.
local nconf = with_defaults(scc, { organization = "42", credentialsJson = SA, source = "5" })
scc.setup(nconf)
local nrec = scc.encode(policy_event(), nconf)
calls = {}
kind, reason = run_batch(scc, nconf, { nrec }, function(r)
    calls[#calls + 1] = r.method .. " " .. r.url:gsub("^https://securitycenter.googleapis.com", "")
    if r.step then
        return 200, TOKEN_OK
    end
    return 409, gerr(409, "ALREADY_EXISTS", "exists")
end)
eq(kind, "ok", "scc create 409 ok")
eq(calls[2], "POST /v1/organizations/42/sources/5/findings?findingId=164ace360cc3cfbc26ec22d61b439500",
    "scc configured source")
eq(scc.outcome(409, gerr(409, "ABORTED", "x"), 1, nconf), "retry", "scc 409 ABORTED retries")
eq(scc.outcome(503, "", 1, nconf), "retry", "scc 503 retries")
eq(scc.outcome(404, gerr(404, "NOT_FOUND", "x"), 1, nconf), "again", "scc 404 finds the source again")
-- Discovery failing with a 403 keeps the event (retry), whatever the status.
local dconf = with_defaults(scc, { organization = "7", credentialsJson = SA })
scc.setup(dconf)
kind = run_batch(scc, dconf, { scc.encode(policy_event(), dconf) }, function(r)
    if r.step == "token" then
        return 200, TOKEN_OK
    end
    return 403, gerr(403, "PERMISSION_DENIED", "no list")
end)
eq(kind, false, "scc discovery 403 is a failed attempt")
raises("numeric id", "scc bad organization", scc.setup,
    with_defaults(scc, { organization = "acme", credentialsJson = SA }))
raises("securityMarks: key", "scc bad mark key", scc.setup, with_defaults(scc, { organization = "1",
    credentialsJson = SA, securityMarks = { ["a b"] = "x" } }))
raises("not an SCC record", "scc foreign record", scc.request, { "{}" }, 1, sconf)

oauth.now = os.time
