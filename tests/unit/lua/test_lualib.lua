-- test_lualib.lua - the shared Lua helpers (lua/lib) and the integration
-- modules' pure parts. Run by tests/unit/test_lualib.c, which passes the
-- source directory as the chunk's argument and expects the number of
-- failures back.
local src = ...
local ffi = require "ffi"
local json = require "json"
local time = require "time"
local severity = require "severity"
local http = require "http"
local crypto = require "siemrelay.crypto"

local t = dofile(src .. "/tests/unit/lua/checks.lua")
local check, eq, raises = t.check, t.eq, t.raises

local function load_module(path)
    local chunk = assert(loadfile(src .. "/lua/" .. path))
    return chunk()
end

-- A stand-in for the FFI event (lua/lib/event.lua): top-level fields as JSON
-- text, in order, with the same methods.
local function fake_event(fields, opts)
    opts = opts or {}
    local ev = { keys = {}, vals = {}, severity = opts.severity or -1 }
    function ev:data_type() return opts.data_type or "unknown" end
    for _, kv in ipairs(fields) do
        ev.keys[#ev.keys + 1] = kv[1]
        ev.vals[kv[1]] = kv[2]
    end
    function ev:raw(k) return self.vals[k] end
    function ev:get(k)
        local r = self.vals[k]
        return r and json.decode(r)
    end
    function ev:label(k)
        local l = self:get("labels")
        return type(l) == "table" and l[k] or nil
    end
    function ev:set_raw(k, text)
        if self.vals[k] == nil then
            self.keys[#self.keys + 1] = k
        end
        self.vals[k] = text
    end
    function ev:set(k, v) self:set_raw(k, json.encode(v)) end
    function ev:delete(k) self.vals[k] = nil end
    function ev:json()
        local parts = {}
        for _, k in ipairs(self.keys) do
            if self.vals[k] then
                parts[#parts + 1] = json.encode_string(k) .. ":" .. self.vals[k]
            end
        end
        return "{" .. table.concat(parts, ",") .. "}"
    end
    return ev
end

-- What the host's option check does with defaults.
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

-- ---- json -----------------------------------------------------------------

local enc = json.encode
eq(enc(1606322948648718268LL), "1606322948648718268", "int64 cdata")
eq(enc(-9223372036854775807LL - 1), "-9223372036854775808", "int64 min")
eq(enc(18446744073709551615ULL), "18446744073709551615", "uint64 max")
eq(enc(ffi.new("int64_t", 42)), "42", "boxed int64")
eq(enc({ ts = 1606322948648718268LL }), '{"ts":1606322948648718268}', "int64 in a table")
eq(enc(3), "3", "integer")
eq(enc(3.0), "3", "integral float")
eq(enc(-0.5), "-0.5", "negative float")
eq(enc(0.1), "0.10000000000000001", "float %.17g")
eq(enc(2 ^ 53), "9007199254740992", "2^53")
eq(enc(1e300), "1.0000000000000001e+300", "large float")
eq(enc(1 / 3), "0.33333333333333331", "1/3")
raises("cannot encode nan", "NaN", enc, 0 / 0)
raises("cannot encode inf", "inf", enc, math.huge)
eq(enc(true), "true", "true")
eq(enc(false), "false", "false")
eq(enc(nil), "null", "nil")
eq(enc(json.null), "null", "json.null")
eq(enc("plain"), '"plain"', "plain string")
eq(enc('a"b\\c/d'), '"a\\"b\\\\c/d"', "quote and backslash")
eq(enc("\n\r\t\b\f"), '"\\n\\r\\t\\b\\f"', "short escapes")
eq(enc("\0\1\31\127"), '"\\u0000\\u0001\\u001f\\u007f"', "control characters")
eq(enc("h\195\169llo \226\156\147 \240\159\152\128"), '"h\195\169llo \226\156\147 \240\159\152\128"',
    "UTF-8 kept")
eq(enc("h\195"), '"h\239\191\189"', "a character cut in two becomes U+FFFD")
eq(enc('\255a"\192\175'), '"\239\191\189a\\"\239\191\189\239\191\189"', "invalid and overlong bytes")
eq(enc({}), "{}", "empty table")
eq(enc(json.empty_array), "[]", "json.empty_array")
eq(enc(json.array({})), "[]", "json.array marks")
eq(enc({ list = json.empty_array, obj = {} }), '{"list":[],"obj":{}}', "empties nested")
eq(enc({ 1, 2, 3 }), "[1,2,3]", "array")
eq(enc({ "a", { b = true }, { 1, { 2 } } }), '["a",{"b":true},[1,[2]]]', "nested array")
eq(enc({ b = 1, a = { c = "x", b = json.null }, c = { 1, 2 } }),
    '{"a":{"b":null,"c":"x"},"b":1,"c":[1,2]}', "nested object, sorted keys")
eq(enc({ [1] = "a", [3] = "b" }), '{"1":"a","3":"b"}', "sparse array as object")
eq(enc({ [1] = "a", x = "b" }), '{"1":"a","x":"b"}', "mixed keys")
eq(enc({ ["k\n"] = 1 }), '{"k\\n":1}', "escaped key")
local shared = { 1 }
eq(enc({ a = shared, b = shared }), '{"a":[1],"b":[1]}', "shared subtable is no cycle")
local cyc = {}
cyc.self = cyc
raises("cycle detected", "cycle", enc, cyc)
local cyc2 = { {} }
cyc2[1][1] = cyc2
raises("cycle detected", "array cycle", enc, cyc2)
raises("cannot encode a function", "function", enc, { f = print })
raises("cannot use a boolean as an object key", "boolean key", enc, { [true] = 1 })
raises("cannot encode a cdata", "pointer cdata", enc, ffi.new("int[1]"))

local doc = json.decode('{"a":[1,2,{"b":"c"}],"n":null}')
eq(type(doc), "table", "decode object")
eq(doc.a[2], 2, "decode array element")
eq(doc.a[3].b, "c", "decode nested")
eq(doc.n, json.null, "decode null")
local bad, err = json.decode("{nope")
eq(bad, nil, "decode invalid")
eq(type(err), "string", "decode error message")
eq(select(2, json.decode(nil)) ~= nil, true, "decode non-string")
eq(enc(json.decode('{"x":[1,"y",true]}')), '{"x":[1,"y",true]}', "round trip")

-- ---- time / severity --------------------------------------------------------

local ns = "1606322948648718268"
eq(time.convert(ns, "nanoseconds"), ns, "ns")
eq(time.convert(ns, "microseconds"), "1606322948648718", "us")
eq(time.convert(ns, "milliseconds"), "1606322948648", "ms")
eq(time.convert(ns, "seconds"), "1606322948", "s")
eq(time.convert("999999999", "seconds"), "0", "under a second")
eq(time.convert("1000000000", "seconds"), "1", "one second")
eq(time.convert("0", "milliseconds"), "0", "zero")
eq(time.convert("-1606322948648718268", "milliseconds"), "-1606322948648", "negative truncates")
eq(time.convert("-5", "seconds"), "0", "no -0")
eq(time.convert("-0", "nanoseconds"), "0", "-0 ns")
eq(time.convert("0007", "nanoseconds"), "7", "leading zeros")
eq(time.convert("18446744073709551615999", "seconds"), "18446744073709", "beyond 64 bits")
eq(time.convert("1.6e18", "seconds"), nil, "float text")
eq(time.convert("", "seconds"), nil, "empty")
eq(time.convert(nil, "seconds"), nil, "nil")
eq(time.convert(ns, "days"), nil, "unknown unit")
eq(time.seconds_decimal(ns), "1606322948.648718268", "seconds with 9 decimals")
eq(time.seconds_decimal(ns, 3), "1606322948.648", "3 decimals")
eq(time.seconds_decimal(ns, 0), "1606322948", "0 decimals")
eq(time.seconds_decimal("5"), "0.000000005", "small")
eq(time.seconds_decimal("-5"), "-0.000000005", "small negative")
eq(time.seconds_decimal("-0"), "0.000000000", "negative zero")
eq(time.seconds_decimal("1000000000"), "1.000000000", "one second")
eq(time.seconds_decimal("x"), nil, "not a number")
-- The fast path (10 to 20 plain digits) and its edges.
eq(time.seconds_decimal("18446744073709551615"), "18446744073.709551615", "20 digits")
eq(time.seconds_decimal("100000000000000000000"), "100000000000.000000000", "21 digits")
eq(time.seconds_decimal("0001000000000"), "1.000000000", "leading zeros")
eq(time.seconds_decimal("999999999"), "0.999999999", "9 digits")
eq(time.seconds_decimal("1606322948.5"), nil, "fraction")
eq(time.seconds_decimal("160632294864871826x"), nil, "trailing junk")

local want_labels = { [0] = "High", "High", "High", "High", "Medium", "Medium", "Low", "Info" }
for s = 0, 7 do
    eq(severity.label(s), want_labels[s], "severity " .. s)
end
eq(severity.label(-1), nil, "no severity")
eq(severity.label(8), nil, "severity 8")
eq(severity.label(nil), nil, "nil severity")
eq(severity.from_label("medium"), 4, "from_label")

-- ---- http -----------------------------------------------------------------

eq(http.basic("user:pass"), "Basic dXNlcjpwYXNz", "basic")
eq(http.basic("a:b:c"), "Basic " .. crypto.base64("a:b:c"), "basic, colon in password")
raises("user:password", "basic without colon", http.basic, "userpass")
eq(http.bearer("tok"), "Bearer tok", "bearer")
raises("needs a token", "bearer empty", http.bearer, "")
eq(http.signature("key", "The quick brown fox jumps over the lazy dog"),
    "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8", "signature")
eq(http.join("https://a.example/", "/b/c"), "https://a.example/b/c", "join slashes")
eq(http.join("https://a.example", "b"), "https://a.example/b", "join none")
eq(http.join("https://a.example/x//", "//y"), "https://a.example/x/y", "join many")
eq(http.join("https://a.example/x", ""), "https://a.example/x", "join empty")

local h = http.parse_headers({ { key = "X-A", value = "1" }, { key = "X-B", value = 2 } })
eq(h["X-A"], "1", "list header")
eq(h["X-B"], "2", "list header number")
h = http.parse_headers({ ["X-A"] = "1", ["x-b"] = true })
eq(h["X-A"], "1", "map header")
eq(h["x-b"], "true", "map header boolean")
eq(next(http.parse_headers(nil)), nil, "no headers")
h = http.parse_headers({ { key = "x-a", value = "1" }, { key = "X-A", value = "2" } })
eq(h["X-A"], "2", "later spelling wins")
eq(h["x-a"], nil, "earlier spelling removed")
eq(http.get_header(h, "x-A"), "2", "get_header any spelling")
raises("headers[1] must have a key", "list item", http.parse_headers, { { value = "v" } })
raises("not a valid header name", "bad name", http.parse_headers, { { key = "a b", value = "v" } })
raises("line break", "CRLF value", http.parse_headers, { { key = "X", value = "a\r\nB: c" } })
raises("must be a list", "scalar headers", http.parse_headers, "X-A: 1")

local function outcome_is(mod, status, body, n, kind, what)
    local k, reason, items = mod.outcome(status, body, n or 1, {}, {})
    eq(k, kind, what .. " kind")
    return reason, items
end

outcome_is(http, 200, "", 1, "ok", "200")
outcome_is(http, 204, "", 1, "ok", "204")
outcome_is(http, 408, "", 1, "retry", "408")
outcome_is(http, 429, "", 1, "retry", "429")
outcome_is(http, 500, "", 1, "retry", "500")
eq(outcome_is(http, 503, "busy\n now", 1, "retry", "503"), "HTTP 503: busy now", "503 reason")
outcome_is(http, 400, "", 1, "reject", "400")
outcome_is(http, 404, "", 1, "reject", "404")
outcome_is(http, 301, "", 1, "reject", "301")
eq(select(2, http.outcome(400, "")), "HTTP 400", "reason without body")

-- ---- splunk, elastic: tests/unit/lua/test_splunk_elastic.lua -------------

assert(loadfile(src .. "/tests/unit/lua/test_splunk_elastic.lua"))({
    eq = eq, raises = raises, load_module = load_module, fake_event = fake_event,
    with_defaults = with_defaults, outcome_is = outcome_is,
})

-- ---- webhook --------------------------------------------------------------

local webhook = load_module("integrations/webhook.lua")
eq(webhook.type, "WEBHOOK", "webhook type")
eq(webhook.options.endpoint.required, true, "endpoint required")
eq(webhook.options.output.default, "json", "output default")
eq(webhook.options.timestampFormat.default, "nanoseconds", "timestampFormat default")
eq(webhook.options.signatureHeader.default, "X-Siemrelay-Signature", "signatureHeader default")
eq(webhook.options.isInsecure.default, false, "isInsecure default")
eq(webhook.options.secret.secret, true, "secret is secret")
eq(webhook.options.caCertFile.alias_of, "caFile", "caCertFile alias")
eq(webhook.outcome, http.outcome, "generic outcome")

local wconf = with_defaults(webhook, { endpoint = "https://siem.example/ingest" })
local ws = webhook.setup(wconf)
eq(ws.max_events, 1, "json: one event per request")
eq(ws.framing, "list", "json framing")
eq(ws.insecure, false, "webhook insecure default")
eq(ws.timeout_ms, 30000, "webhook timeout default")
local r = webhook.request({ '{"a":1}' }, 1, wconf)
eq(r.body, '{"a":1}', "json body is the event")
eq(r.headers["Content-Type"], "application/json", "json content type")
eq(r.headers.Authorization, nil, "no auth")
eq(r.url, "https://siem.example/ingest", "request url")
eq(webhook.request({ '{"a":1}', '{"b":2}' }, 2, wconf).body, '[{"a":1},{"b":2}]',
    "json batch override becomes an array")

local nconf = with_defaults(webhook, { endpoint = "https://siem.example/ingest", output = "ndjson",
    auth = "SIGNATURE", secret = "s3cret",
    headers = { { key = "X-Site", value = "lab" }, { key = "content-type", value = "text/plain" },
        { key = "X-SIEMRELAY-SIGNATURE", value = "forged" }, { key = "authorization", value = "x" } } })
local ns_setup = webhook.setup(nconf)
eq(ns_setup.framing, "ndjson", "ndjson framing")
eq(ns_setup.max_events, nil, "ndjson batches")
local body = '{"a":1}\n{"b":2}\n'
r = webhook.request(body, 2, nconf)
eq(r.body, body, "ndjson body")
eq(r.headers["Content-Type"], "application/x-ndjson", "ndjson content type")
eq(r.headers["X-Siemrelay-Signature"], "sha256=" .. crypto.hex(crypto.hmac_sha256("s3cret", body)),
    "signature header")
eq(r.headers["X-Site"], "lab", "user header kept")
eq(r.headers["content-type"], nil, "user content-type dropped")
eq(r.headers["X-SIEMRELAY-SIGNATURE"], nil, "user signature header dropped")
eq(r.headers.authorization, nil, "user authorization dropped")
local count = 0
for _ in pairs(r.headers) do
    count = count + 1
end
eq(count, 3, "header count")
r = webhook.request("other\n", 1, nconf)
eq(r.headers["X-Siemrelay-Signature"], "sha256=" .. http.signature("s3cret", "other\n"),
    "signature per body")

local bconf = with_defaults(webhook, { endpoint = "http://h/x", auth = "BASIC_AUTH", secret = "u:p",
    headers = { ["X-Map"] = "m" } })
webhook.setup(bconf)
r = webhook.request({ "{}" }, 1, bconf)
eq(r.headers.Authorization, "Basic dTpw", "basic header")
eq(r.headers["X-Map"], "m", "map headers")
local tconf = with_defaults(webhook, { endpoint = "http://h/x", auth = "BEARER_TOKEN", secret = "tk",
    signatureHeader = "X-Sig" })
r = webhook.request({ "{}" }, 1, tconf)
eq(r.headers.Authorization, "Bearer tk", "bearer header")
eq(r.headers["X-Sig"], nil, "no signature without SIGNATURE")

raises("needs 'secret'", "basic without secret", webhook.setup,
    with_defaults(webhook, { endpoint = "http://h", auth = "BASIC_AUTH" }))
raises("user:password", "basic without colon", webhook.setup,
    with_defaults(webhook, { endpoint = "http://h", auth = "BASIC_AUTH", secret = "nocolon" }))
raises("needs 'secret'", "signature without secret", webhook.setup,
    with_defaults(webhook, { endpoint = "http://h", auth = "SIGNATURE" }))
raises("needs 'certFile' and 'keyFile'", "certificate without key", webhook.setup,
    with_defaults(webhook, { endpoint = "http://h", auth = "CERTIFICATE", certFile = "/c.pem" }))
raises("must be an http", "bad endpoint", webhook.setup,
    with_defaults(webhook, { endpoint = "siem.example/ingest" }))
local ok_secret, err_secret = pcall(webhook.setup,
    with_defaults(webhook, { endpoint = "http://h", auth = "BASIC_AUTH", secret = "topsecretvalue" }))
eq(ok_secret, false, "bad basic secret fails")
eq(tostring(err_secret):find("topsecretvalue", 1, true), nil, "secret not in the error")
local mt = webhook.setup(with_defaults(webhook, { endpoint = "https://h", auth = "CERTIFICATE",
    certFile = "/c.pem", keyFile = "/k.pem", caCertFile = nil, caFile = "/ca.pem", isInsecure = true }))
eq(mt.cert_file, "/c.pem", "mTLS cert")
eq(mt.key_file, "/k.pem", "mTLS key")
eq(mt.ca_file, "/ca.pem", "ca file")
eq(mt.insecure, true, "insecure")

local function wh_event()
    return fake_event({ { "type", '"policy"' }, { "timestamp", "1606322948648718268" }, { "x", "1" } })
end
local ev = wh_event()
eq(webhook.encode(ev, wconf), '{"type":"policy","timestamp":1606322948648718268,"x":1}',
    "nanoseconds unchanged")
for unit, want in pairs({ seconds = "1606322948", milliseconds = "1606322948648",
    microseconds = "1606322948648718" }) do
    eq(webhook.encode(wh_event(), with_defaults(webhook, { endpoint = "http://h", timestampFormat = unit })),
        '{"type":"policy","timestamp":' .. want .. ',"x":1}', "timestampFormat " .. unit)
end
eq(webhook.encode(fake_event({ { "timestamp", '"text"' } }),
    with_defaults(webhook, { endpoint = "http://h", timestampFormat = "seconds" })),
    '{"timestamp":"text"}', "non-integer timestamp untouched")

-- ---- file -----------------------------------------------------------------

local file = load_module("integrations/file.lua")
eq(file.transport, "file", "file transport")
eq(file.options.maxBytes.alias_of, "rotate_bytes", "maxBytes alias")
local fs = file.setup(with_defaults(file, { path = "/tmp/x.jsonl" }))
eq(fs.path, "/tmp/x.jsonl", "file path")
eq(fs.rotate_bytes, 104857600, "rotate default")
eq(fs.keep_files, 5, "keep default")
eq(file.encode(wh_event(), {}), wh_event():json(), "file encode")
raises("rotate_bytes", "negative rotate", file.setup,
    with_defaults(file, { path = "/x", rotate_bytes = -1 }))

-- ---- examples -------------------------------------------------------------

local w1 = load_module("examples/w1_transform.lua")
local function labelled(sev)
    return fake_event({ { "type", '"policy"' }, { "severity", tostring(sev) },
        { "labels", '{"kubernetes.cluster.name":"prod"}' } }, { severity = sev })
end
eq(w1.process(labelled(7), {}), false, "w1 drops Info")
ev = labelled(2)
eq(w1.process(ev, {}), true, "w1 keeps High")
eq(ev:json(), '{"type":"policy","severity":2,"labels":{"kubernetes.cluster.name":"prod"},' ..
    '"severity_label":"High","cluster":"prod","gateway":"bench"}', "w1 fields")
ev = fake_event({ { "type", '"command"' } })
w1.process(ev, {})
eq(ev:json(), '{"type":"command","cluster":"unknown","gateway":"bench"}', "w1 without severity")
ev = labelled(5)
w1.process(ev, {})
eq(ev:raw("severity_label"), '"Medium"', "w1 Medium")
eq(load_module("examples/drop_info.lua").process(labelled(7), {}), false, "drop_info drops")
eq(load_module("examples/drop_info.lua").process(labelled(6), {}), true, "drop_info keeps")
ev = labelled(6)
eq(load_module("examples/enrich.lua").process(ev, {}), true, "enrich keeps")
eq(ev:raw("site"), '"lab-eu-1"', "enrich site")
eq(ev:raw("severity_label"), '"Low"', "enrich label")

return t.summary("lua")
