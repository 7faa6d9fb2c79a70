-- test_kafka.lua - lua/integrations/kafka.lua: the transport settings and
-- librdkafka properties setup() derives from the keys (balancer mapping,
-- codecs, security protocol, SASL and GSSAPI, headers, properties), and the
-- configuration errors, which must never quote a secret. Run by
-- tests/unit/test_lualib_kafka.c with the source directory; returns the
-- number of failures.
local src = ...
local M = dofile(src .. "/lua/integrations/kafka.lua")

local t = dofile(src .. "/tests/unit/lua/checks.lua")
local expect, same = t.check, t.eq

-- A conf as the option checker hands it over: defaults filled in.
local function conf(keys)
    local c = { brokers = "k1:9092", topic = "events", balancer = "murmur2", compression = "none",
        isTlsEnabled = false, isInsecure = false, service = "kafka", keyField = "id", timeout = 30000 }
    for k, v in pairs(keys or {}) do
        c[k] = v
    end
    return c
end

local function setup_error(keys)
    local ok, err = pcall(M.setup, conf(keys))
    return not ok and tostring(err) or nil
end

-- Plain defaults.
local s = M.setup(conf())
same(s.brokers, "k1:9092", "brokers")
same(s.topic, "events", "topic")
same(s.key_field, "id", "key field")
same(s.timeout_ms, 30000, "timeout")
same(s.insecure, false, "insecure")
same(s.props.partitioner, "murmur2_random", "default partitioner")
same(s.props["compression.codec"], "none", "default codec")
same(s.props["security.protocol"], "plaintext", "default protocol")
same(s.props["sasl.mechanisms"], nil, "no sasl")

same(M.setup(conf({ brokers = { " k1:9092", "k2:9093 " } })).brokers, "k1:9092,k2:9093", "broker list")
same(M.setup(conf({ brokers = "k1:9092, k2:9093" })).brokers, "k1:9092,k2:9093", "broker string")

local partitioners = { murmur2 = "murmur2_random", crc32 = "consistent_random", hash = "fnv1a_random",
    roundrobin = "random", leastbytes = "random" }
for balancer, want in pairs(partitioners) do
    same(M.setup(conf({ balancer = balancer })).props.partitioner, want, "balancer " .. balancer)
end
for _, codec in ipairs({ "none", "gzip", "snappy", "lz4", "zstd" }) do
    same(M.setup(conf({ compression = codec })).props["compression.codec"], codec, "codec " .. codec)
end

-- Security protocol from TLS and SASL.
same(M.setup(conf({ isTlsEnabled = true })).props["security.protocol"], "ssl", "tls")
local sasl = M.setup(conf({ saslMechanism = "SCRAM-SHA-256", username = "u", password = "pw" }))
same(sasl.props["security.protocol"], "sasl_plaintext", "sasl")
same(sasl.props["sasl.mechanisms"], "SCRAM-SHA-256", "mechanism")
same(sasl.props["sasl.username"], "u", "user")
same(sasl.props["sasl.password"], "pw", "password")
local tls = M.setup(conf({ isTlsEnabled = true, isInsecure = true, caFile = "/ca.pem",
    certFile = "/c.pem", keyFile = "/k.pem", saslMechanism = "PLAIN", username = "u", password = "p" }))
same(tls.props["security.protocol"], "sasl_ssl", "sasl over tls")
same(tls.insecure, true, "insecure")
same(tls.ca_file, "/ca.pem", "ca file")
same(tls.cert_file, "/c.pem", "cert file")
same(tls.key_file, "/k.pem", "key file")

-- GSSAPI: realm appended, the keytab passed on without line breaks.
local g = M.setup(conf({ auth = "gssapi", principal = "svc", realm = "EXAMPLE.COM", service = "kfk",
    keytab = "c2llbXJl\nbGF5IGtl\n  eXRhYgAB\n" }))
same(g.props["sasl.mechanisms"], "GSSAPI", "gssapi")
same(g.props["sasl.kerberos.principal"], "svc@EXAMPLE.COM", "principal with realm")
same(g.props["sasl.kerberos.service.name"], "kfk", "service")
same(g.props["keytab.base64"], "c2llbXJlbGF5IGtleXRhYgAB", "keytab")
same(g.props["security.protocol"], "sasl_plaintext", "gssapi protocol")
same(M.setup(conf({ auth = "gssapi", principal = "svc/host@OTHER", realm = "EXAMPLE.COM",
    keytab = "AAAA" })).props["sasl.kerberos.principal"], "svc/host@OTHER", "principal kept")

-- Headers and further properties.
local h = M.setup(conf({ headers = { ["X-Source"] = "siemrelay", Env = "prod" },
    properties = { ["linger.ms"] = "20", ["socket.timeout.ms"] = "5000" } }))
same(h.props["header.X-Source"], "siemrelay", "header")
same(h.props["header.Env"], "prod", "second header")
same(h.props["linger.ms"], "20", "property")
same(h.props["socket.timeout.ms"], "5000", "second property")

-- Every refusal names the problem; none quotes a secret.
local refusals = {
    { { brokers = "" }, "at least one" },
    { { brokers = "k1" }, "host:port" },
    { { brokers = "k1:0" }, "host:port" },
    { { brokers = "PLAINTEXT://k1:9092" }, "without a scheme" },
    { { brokers = { "k1:9092", {} } }, "entry 2" },
    { { topic = "a/b" }, "'topic'" },
    { { topic = ".." }, "'topic'" },
    { { topic = ("x"):rep(250) }, "'topic'" },
    { { timeout = 0 }, "'timeout'" },
    { { keyField = "" }, "'keyField'" },
    { { caFile = "/ca.pem" }, "isTlsEnabled" },
    { { isTlsEnabled = true, certFile = "/c.pem" }, "go together" },
    { { auth = "gssapi", keytab = "AAAA" }, "principal" },
    { { auth = "gssapi", principal = "p" }, "keytab" },
    { { auth = "gssapi", principal = "p", keytab = "secret*keytab" }, "not valid base64" },
    { { auth = "gssapi", principal = "p", keytab = "AAAA", saslMechanism = "PLAIN" }, "exclude" },
    { { realm = "R" }, "gssapi" },
    { { saslMechanism = "PLAIN", username = "u" }, "'password'" },
    { { password = "secret-pw" }, "saslMechanism" },
    { { properties = { ACKS = "1" } }, "cannot set 'ACKS'" },
    { { properties = { ["sasl.password"] = "secret-pw" } }, "use password" },
    { { properties = { ["header.X"] = "1" } }, "use headers" },
    { { properties = { ["linger.ms"] = { "1" } } }, "scalar" },
}
for i, r in ipairs(refusals) do
    local err = setup_error(r[1])
    expect(err and err:find(r[2], 1, true), ("refusal %d: want '%s', got %s"):format(i, r[2], tostring(err)))
    expect(not (err and err:find("secret", 1, true)), ("refusal %d quotes a secret: %s"):format(i, tostring(err)))
end

-- The record is the event's JSON, untouched.
same(M.encode({ json = function() return '{"id":"x"}' end }), '{"id":"x"}', "encode")

return t.summary("lua (kafka)")
