-- test_splunk_elastic.lua - the SPLUNK and ELASTIC modules' pure parts:
-- envelopes and bulk lines, index names, KV_PAIRS, outcome rules. Run from
-- test_lualib.lua, which passes its helpers in.
local t = ...
local eq, raises, load_module, fake_event = t.eq, t.raises, t.load_module, t.fake_event
local with_defaults, outcome_is = t.with_defaults, t.outcome_is
local json = require "json"
local crypto = require "siemrelay.crypto"
local bulk = require "bulk"
local _

local function kinds(items)
    return table.concat(items or {}, ",")
end

-- ---- bulk -------------------------------------------------------------------

local k, reason, items = bulk.verdict({ "ok", "ok" }, 2, "r")
eq(k, "ok", "verdict all ok")
eq(items, nil, "verdict all ok: no items")
k, _, items = bulk.verdict({ "ok", "reject" }, 2)
eq(k, "reject", "verdict ok+reject")
eq(kinds(items), "ok,reject", "verdict ok+reject items")
k, _, items = bulk.verdict({ "reject", "retry", "ok" }, 3)
eq(k, "retry", "verdict any retry")
eq(#items, 3, "verdict mixed items")
eq(kinds(bulk.fill("ok", 2, "retry", 4)), "ok,ok,retry,retry", "fill")
eq(select(1, bulk.too_large({}, 4)), "split", "413 splits")

-- ---- splunk -----------------------------------------------------------------

local splunk = load_module("integrations/splunk.lua")
eq(splunk.type, "SPLUNK", "splunk type")
eq(splunk.framing, "concat", "splunk framing")
eq(splunk.batch.max_bytes, 900000, "splunk max_bytes")
eq(splunk.options.endpoint.alias_of, "ServiceURL", "endpoint alias")
eq(splunk.options.token.alias_of, "ServiceToken", "token alias")
eq(splunk.options.ServiceToken.secret, true, "token is secret")
eq(splunk.options.compress.default, false, "compress off by default")

eq(splunk.collector_url("https://s.example:8088"), "https://s.example:8088/services/collector/event",
    "base URL")
eq(splunk.collector_url("https://s.example:8088/"), "https://s.example:8088/services/collector/event",
    "base URL slash")
eq(splunk.collector_url("https://s.example/splunk/"),
    "https://s.example/splunk/services/collector/event", "base URL with a prefix")
eq(splunk.collector_url("https://s.example:8088/services/collector"),
    "https://s.example:8088/services/collector", "collector path kept")
eq(splunk.collector_url("https://s.example:8088/services/collector/raw?channel=x"),
    "https://s.example:8088/services/collector/raw?channel=x", "full path kept")
eq(splunk.collector_url("https://s.example?x=1"), "https://s.example/services/collector/event?x=1",
    "query kept")
raises("must be an http", "bad URL", splunk.collector_url, "splunk.example:8088")

local sconf = with_defaults(splunk, { ServiceURL = "https://s.example:8088", ServiceToken = "tok",
    Index = "security" })
local st = splunk.setup(sconf)
eq(st.insecure, false, "setup insecure")
eq(st.timeout_ms, 30000, "setup timeout")
local req = splunk.request("{}{}", 2, sconf)
eq(req.url, "https://s.example:8088/services/collector/event", "request url")
eq(req.headers.Authorization, "Splunk tok", "HEC auth")
eq(req.headers["Content-Encoding"], nil, "not compressed by default")
eq(req.body, "{}{}", "request body")
eq(req.method, "POST", "request method")
raises("non-empty token", "token with a line break", splunk.setup,
    with_defaults(splunk, { ServiceURL = "https://s", ServiceToken = "a\nb" }))
raises("must not be empty", "empty sourceType", splunk.setup,
    with_defaults(splunk, { ServiceURL = "https://s", ServiceToken = "t", sourceType = "" }))

local zconf = with_defaults(splunk, { ServiceURL = "https://s", ServiceToken = "t", compress = true })
splunk.setup(zconf)
req = splunk.request(string.rep('{"event":1}', 100), 100, zconf)
eq(req.headers["Content-Encoding"], "gzip", "gzip header")
eq(req.body:sub(1, 2), "\31\139", "gzip magic")
eq(#req.body < 1100, true, "gzip compresses")

local policy = fake_event({
    { "id", '"164ace360cc3cfbc26ec22d61b439500"' },
    { "type", '"policy"' },
    { "timestamp", "1606322948648718268" },
    { "severity", "0" },
    { "labels", '{"host.hostName":"ardbox","kubernetes.cluster.name":"prod"}' },
}, { severity = 0, data_type = "policy" })
eq(splunk.encode(policy, sconf),
    '{"time":1606322948.648718268,"host":"ardbox","source":"siemrelay",' ..
    '"sourcetype":"sysdig:secure:policy","index":"security","event":' .. policy:json() .. "}",
    "splunk envelope")
local audit = fake_event({
    { "type", '"command"' }, { "hostname", '"qa-k8smetrics"' }, { "timestamp", "1606322948648718268" },
}, { data_type = "activity_audit" })
eq(splunk.encode(audit, with_defaults(splunk, { ServiceURL = "https://s", ServiceToken = "t",
    source = "edge", host = 'h"1' })),
    '{"time":1606322948.648718268,"host":"h\\"1","source":"edge",' ..
    '"sourcetype":"sysdig:secure:activity:command","event":' .. audit:json() .. "}",
    "configured host and source, no index")
local platform = fake_event({ { "type", '"audittrail"' } }, { data_type = "platform_audit" })
eq(splunk.encode(platform, with_defaults(splunk, { ServiceURL = "https://s", ServiceToken = "t" })),
    '{"source":"siemrelay","sourcetype":"sysdig:platform:audit","event":{"type":"audittrail"}}',
    "no timestamp, no host")
local function sourcetype_of(typ, dt)
    return splunk.sourcetype(fake_event({ { "type", json.encode(typ) } }, { data_type = dt }), {})
end
eq(sourcetype_of("connection", "activity_audit"), "sysdig:secure:activity:connection", "connection")
eq(sourcetype_of("fileaccess", "activity_audit"), "sysdig:secure:activity:fileaccess", "fileaccess")
eq(sourcetype_of("kubernetes", "activity_audit"), "sysdig:secure:activity:kubernetes", "kubernetes")
eq(sourcetype_of("newkind", "activity_audit"), "sysdig:secure:activity", "other activity")
eq(sourcetype_of("alert", "monitor"), "sysdig:monitor:event", "monitor")
eq(sourcetype_of("whatever", "unknown"), "sysdig:event", "unknown data")
eq(splunk.encode(policy, with_defaults(splunk, { ServiceURL = "https://s", ServiceToken = "t",
    sourceType = "my:type" })):match('"sourcetype":"([^"]*)"'), "my:type", "sourceType overrides")
local tiny = fake_event({ { "type", '"command"' }, { "timestamp", "5" } })
eq(splunk.encode(tiny, sconf):match('"time":([^,]*)'), "0.000000005", "time below a second")

outcome_is(splunk, 200, '{"text":"Success","code":0}', 3, "ok", "HEC 200")
reason, items = outcome_is(splunk, 400,
    '{"text":"Invalid data format","code":6,"invalid-event-number":2}', 5, "retry", "HEC partial")
eq(kinds(items), "ok,ok,reject,retry,retry", "HEC partial items")
eq(reason, "HTTP 400: HEC code 6: Invalid data format (event 3 of 5; 2 before it were indexed)",
    "HEC partial reason")
_, items = outcome_is(splunk, 400, '{"text":"Invalid data format","code":6,"invalid-event-number":0}',
    3, "retry", "HEC first bad")
eq(kinds(items), "reject,retry,retry", "HEC first bad items")
_, items = outcome_is(splunk, 400, '{"text":"Invalid data format","code":6,"invalid-event-number":2}',
    3, "reject", "HEC last bad")
eq(kinds(items), "ok,ok,reject", "HEC last bad items")
_, items = outcome_is(splunk, 400, '{"text":"Invalid data format","code":6,"invalid-event-number":0}',
    1, "reject", "HEC only event bad")
eq(items, nil, "HEC only event bad: no items")
_, items = outcome_is(splunk, 400, '{"text":"Invalid data format","code":6,"invalid-event-number":7}',
    3, "reject", "HEC number out of range")
eq(items, nil, "HEC number out of range: no items")
_, items = outcome_is(splunk, 400, '{"text":"Invalid data format","code":6}', 3, "reject", "HEC code 6")
eq(items, nil, "HEC code 6 without number: no items")
_, items = outcome_is(splunk, 400, '{"text":"Incorrect index","code":7,"invalid-event-number":1}', 3,
    "retry", "HEC code 7: configuration")
eq(kinds(items), "ok,retry,retry", "HEC code 7 items")
outcome_is(splunk, 400, '{"text":"Incorrect index","code":7}', 1, "retry", "HEC code 7 alone")
outcome_is(splunk, 400, '{"text":"Data channel is missing","code":10}', 1, "retry", "HEC code 10")
outcome_is(splunk, 400, '{"text":"No data","code":5}', 1, "reject", "HEC code 5")
outcome_is(splunk, 400, '{"text":"Event field is required","code":12,"invalid-event-number":0}', 2,
    "retry", "HEC code 12")
outcome_is(splunk, 401, '{"text":"Token is required","code":2}', 1, "retry", "HEC 401")
eq(outcome_is(splunk, 403, '{"text":"Invalid token","code":4}', 1, "retry", "HEC 403"),
    "HTTP 403: HEC code 4: Invalid token", "HEC 403 reason")
outcome_is(splunk, 403, '{"text":"Token disabled","code":1}', 1, "retry", "HEC token disabled")
outcome_is(splunk, 403, "<html>Forbidden</html>", 1, "retry", "403 from a proxy")
outcome_is(splunk, 401, "", 1, "retry", "401 without a body")
outcome_is(splunk, 404, '{"text":"The requested URL was not found on this server.","code":404}', 1,
    "retry", "HEC 404")
outcome_is(splunk, 429, "", 1, "retry", "HEC 429")
outcome_is(splunk, 500, '{"text":"Internal server error","code":8}', 1, "retry", "HEC 500")
eq(outcome_is(splunk, 503, '{"text":"Server is busy","code":9}', 1, "retry", "HEC 503"),
    "HTTP 503: HEC code 9: Server is busy", "HEC 503 reason")
outcome_is(splunk, 502, "<html>bad gateway</html>", 1, "retry", "HEC 502 from a proxy")
splunk.request(string.rep("x", 1234), 3, sconf)
k, reason = splunk.outcome(413, "<html>too large</html>", 3, sconf, {})
eq(k, "split", "HEC 413")
eq(reason, "HTTP 413: request too large (3 records, 1234 bytes); if this repeats, set batch max_bytes " ..
    "under the limit", "413 reason")
outcome_is(splunk, 415, '{"text":"Unsupported Media Type"}', 1, "reject", "HEC 415")

-- ---- elastic ----------------------------------------------------------------

local elastic = load_module("integrations/elastic.lua")
eq(elastic.type, "ELASTIC", "elastic type")
eq(elastic.framing, "concat", "elastic framing")
eq(elastic.options.secret.secret, true, "elastic secret is secret")
eq(elastic.options.index.required, true, "index required")

local FILTER = "filter_path=errors,error,items.*.status,items.*.error.type,items.*.error.reason"
eq(elastic.bulk_url("https://es:9200"), "https://es:9200/_bulk?" .. FILTER, "bulk url")
eq(elastic.bulk_url("https://es:9200/"), "https://es:9200/_bulk?" .. FILTER, "bulk url slash")
eq(elastic.bulk_url("https://es/prefix"), "https://es/prefix/_bulk?" .. FILTER, "bulk url prefix")
eq(elastic.bulk_url("https://es/_bulk"), "https://es/_bulk?" .. FILTER, "bulk url given")
eq(elastic.bulk_url("https://es/?pipeline=p"), "https://es/_bulk?pipeline=p&" .. FILTER, "query kept")
raises("must be an http", "bad endpoint", elastic.bulk_url, "es:9200")

-- Index patterns.
local pieces = elastic.compile_index("sysdig-%Y.%m.%d")
eq(elastic.index_name(pieces, "1606322948648718268"), "sysdig-2020.11.25", "daily index")
eq(elastic.index_name(elastic.compile_index("s-%Y%m%d%H"), "1606322948648718268"), "s-2020112516",
    "hourly index")
eq(elastic.index_name(elastic.compile_index("s-%%-%Y"), "1606322948648718268"), "s-%-2020", "%%")
eq(elastic.index_name(elastic.compile_index("plain"), nil), "plain", "plain index")
eq(elastic.index_name(pieces, "0"), "sysdig-1970.01.01", "epoch")
eq(elastic.index_name(pieces, "1609459199999999999"), "sysdig-2020.12.31", "last ns of a year")
local today = elastic.index_name(pieces, '"not a number"')
eq(today, "sysdig-" .. crypto.rfc3339(crypto.now_ns(), 0):sub(1, 10):gsub("-", "."),
    "no timestamp: today")
raises("unknown date field '%x'", "unknown field", elastic.compile_index, "s-%x")
raises("lower case", "upper case", elastic.compile_index, "Sysdig")
raises("must not contain ' '", "space", elastic.compile_index, "a b")
raises("must not contain '*'", "star", elastic.compile_index, "a*")
raises("must not start", "leading underscore", elastic.compile_index, "_x")
raises("must not be empty", "empty index", elastic.compile_index, "")

-- KV_PAIRS.
eq(elastic.kv_pairs('{"a":"b","c.d":"e"}'), '[{"key":"a","value":"b"},{"key":"c.d","value":"e"}]',
    "kv pairs")
eq(elastic.kv_pairs("{}"), "[]", "kv empty")
eq(elastic.kv_pairs(' { "k\\"q" : "v,}" , "n" : 18446744073709551615, "o":{"x":[1,{"y":"]"}]} } '),
    '[{"key":"k\\"q","value":"v,}"},{"key":"n","value":18446744073709551615},' ..
    '{"key":"o","value":{"x":[1,{"y":"]"}]}}]', "kv exact values, escapes, nesting")
eq(elastic.kv_pairs('["a"]'), '["a"]', "kv leaves arrays alone")

local econf = with_defaults(elastic, { endpoint = "https://es:9200", index = "sysdig-%Y.%m.%d",
    auth = "BASIC_AUTH", secret = "elastic:changeme" })
local es = elastic.setup(econf)
eq(es.insecure, false, "elastic insecure default")
local ev = fake_event({
    { "id", '"164ace360cc3cfbc26ec22d61b439500"' }, { "type", '"policy"' },
    { "timestamp", "1606322948648718268" },
    { "content", '{"policyId":544,"fields":{"proc.name":"touch","group.gid":"8589935592"},"x":[]}' },
    { "labels", '{"host.hostName":"ardbox"}' },
})
local plain_json = ev:json()
local rec = elastic.encode(ev, econf)
eq(rec, '{"create":{"_index":"sysdig-2020.11.25","_id":"164ace360cc3cfbc26ec22d61b439500"}}\n'
    .. plain_json .. "\n", "bulk record")
local kvconf = with_defaults(elastic, { endpoint = "https://es:9200", index = "x", format = "KV_PAIRS" })
elastic.setup(kvconf)
rec = elastic.encode(ev, kvconf)
eq(rec:match("\n(.*)\n$"), '{"id":"164ace360cc3cfbc26ec22d61b439500","type":"policy",' ..
    '"timestamp":1606322948648718268,"content":{"policyId":544,"fields":[{"key":"proc.name",' ..
    '"value":"touch"},{"key":"group.gid","value":"8589935592"}],"x":[]},' ..
    '"labels":[{"key":"host.hostName","value":"ardbox"}]}', "KV_PAIRS document")
local noid = fake_event({ { "type", '"command"' }, { "timestamp", "1606322948648718268" } })
local doc = noid:json()
eq(elastic.encode(noid, econf):match('"_id":"(%x+)"'), crypto.hex(crypto.sha256(doc)),
    "no id: sha256 of the document")

req = elastic.request(rec .. rec, 2, econf)
eq(req.url, "https://es:9200/_bulk?" .. FILTER, "elastic request url")
eq(req.headers["Content-Type"], "application/x-ndjson", "ndjson content type")
eq(req.headers.Authorization, "Basic " .. crypto.base64("elastic:changeme"), "basic auth")
eq(req.body, rec .. rec, "elastic body")
local function auth_of(auth, secret)
    local c = with_defaults(elastic, { endpoint = "https://es", index = "x", auth = auth, secret = secret })
    elastic.setup(c)
    return elastic.request("", 0, c).headers.Authorization
end
eq(auth_of("BEARER_TOKEN", "tok"), "Bearer tok", "bearer")
eq(auth_of("APIKEY", "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="),
    "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==", "api key encoded")
eq(auth_of("APIKEY", "id1:key1"), "ApiKey " .. crypto.base64("id1:key1"), "api key id:key")
eq(auth_of(nil, nil), nil, "no auth")
raises("needs 'secret'", "auth without secret", auth_of, "BEARER_TOKEN", nil)
raises("user:password", "basic without colon", auth_of, "BASIC_AUTH", "nocolon")
raises("go together", "cert without key", elastic.setup,
    with_defaults(elastic, { endpoint = "https://es", index = "x", certFile = "/c.pem" }))

-- Outcomes.
local function item(status, etype)
    local r = { status = status }
    if etype then
        r.error = { type = etype, reason = etype .. " reason" }
    end
    return { create = r }
end
local function bulk_body(errors, list)
    return json.encode({ errors = errors, items = list })
end
outcome_is(elastic, 200, bulk_body(false, { item(201), item(201) }), 2, "ok", "bulk all created")
outcome_is(elastic, 200, '{"errors":false}', 3, "ok", "bulk errors false, no items")
reason, items = outcome_is(elastic, 200, bulk_body(true, { item(201), item(409, "version_conflict_engine_exception"),
    item(429, "es_rejected_execution_exception"), item(400, "mapper_parsing_exception"),
    item(503, "unavailable_shards_exception"), item(403, "security_exception"),
    item(404, "index_not_found_exception") }), 7, "retry", "bulk mixed")
eq(kinds(items), "ok,ok,retry,reject,retry,reject,reject", "bulk mixed items")
eq(reason, "HTTP 200: 2 of 7 documents stored, 3 rejected (item 4: HTTP 400 mapper_parsing_exception: " ..
    "mapper_parsing_exception reason), 2 to retry (item 3: HTTP 429 es_rejected_execution_exception: " ..
    "es_rejected_execution_exception reason)", "bulk mixed reason")
_, items = outcome_is(elastic, 200, bulk_body(true, { item(201), item(400, "mapper_parsing_exception") }), 2,
    "reject", "bulk ok and rejected")
eq(kinds(items), "ok,reject", "bulk ok and rejected items")
-- A body cut at 64 KiB: complete items count, the rest is retried.
local cut = bulk_body(true, { item(201), item(400, "mapper_parsing_exception"), item(201) })
cut = cut:sub(1, #cut - 20)
_, items = outcome_is(elastic, 200, cut, 4, "retry", "bulk cut body")
eq(kinds(items), "ok,reject,retry,retry", "bulk cut items")
local errors, list = elastic.parse_bulk('{"took":3,"errors":true,"items":[{"create":{"status":201}},{"cre')
eq(errors, true, "cut body errors flag")
eq(#list, 1, "cut body items")
outcome_is(elastic, 200, "garbage", 2, "retry", "unreadable 200: retry (idempotent)")
eq(outcome_is(elastic, 401, '{"error":{"root_cause":[],"type":"security_exception",' ..
    '"reason":"unable to authenticate user [elastic]"},"status":401}', 2, "retry", "bulk 401"),
    "HTTP 401: security_exception: unable to authenticate user [elastic]", "bulk 401 reason")
outcome_is(elastic, 403, "", 2, "retry", "bulk 403")
outcome_is(elastic, 404, "", 2, "retry", "bulk 404")
outcome_is(elastic, 429, "", 2, "retry", "bulk 429")
outcome_is(elastic, 503, "", 2, "retry", "bulk 503")
outcome_is(elastic, 400, '{"error":{"type":"illegal_argument_exception","reason":"The bulk request ' ..
    'must be terminated by a newline [\\n]"},"status":400}', 2, "reject", "bulk 400")
outcome_is(elastic, 413, "", 2, "split", "bulk 413")
eq(elastic.item_kind(201), "ok", "item 201")
eq(elastic.item_kind(409), "ok", "item 409")
eq(elastic.item_kind(429), "retry", "item 429")
eq(elastic.item_kind(500), "retry", "item 500")
eq(elastic.item_kind(400), "reject", "item 400")
eq(elastic.item_kind(nil), "retry", "item without status")
