-- kafka.lua - KAFKA: events as messages of a Kafka topic.
--
-- Keys: Sysdig's API names (brokers, topic, balancer, compression,
-- isTlsEnabled, isInsecure, auth: gssapi with principal, realm, service and
-- a base64 keytab), matched case-insensitively, plus siemrelay's own: SASL
-- PLAIN/SCRAM (saslMechanism, username, password), the TLS files (caFile,
-- certFile, keyFile), keyField, headers, timeout and further librdkafka
-- `properties`. docs/integrations.md has the table.
--
-- Each event is one message whose value is the event's JSON exactly as
-- received (with site-script edits). The native "kafka" sink (sinks/kafka.c)
-- produces them with an idempotent librdkafka producer and acks=all; the key
-- is the event's top-level `keyField` (default `id`), the headers are the
-- configured static ones. setup() turns the keys into librdkafka properties
-- (the sink's `props`); the sink adds bootstrap.servers, idempotence and acks
-- last, so no key can weaken them.
local event = require "event"
local crypto = require "siemrelay.crypto"

local M = {}

M.type = "KAFKA"
M.transport = "kafka"
-- Beyond Sysdig (policy events and activity audit): a data platform also
-- takes the platform audit trail and monitor events.
M.channels = { "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", "PLATFORM_AUDIT", "MONITOR_EVENTS" }

M.options = {
    brokers = { required = true, type = "any",
        description = "bootstrap brokers: a list of host:port, or one comma-separated string" },
    topic = { required = true, type = "string", description = "topic events are written to" },
    balancer = { type = "string", enum = { "murmur2", "crc32", "hash", "roundrobin", "leastbytes" },
        default = "murmur2", description = "how messages are spread over partitions (by key)" },
    compression = { type = "string", enum = { "none", "gzip", "snappy", "lz4", "zstd" },
        default = "none", description = "compression codec of message batches" },
    isTlsEnabled = { type = "boolean", default = false, description = "connect to the brokers over TLS" },
    isInsecure = { type = "boolean", default = false,
        description = "TLS: skip certificate and host name verification" },
    caFile = { type = "string", description = "TLS: PEM bundle to verify the brokers with (default: system store)" },
    caCertFile = { alias_of = "caFile" },
    certFile = { type = "string", description = "TLS: client certificate (PEM)" },
    keyFile = { type = "string", description = "TLS: client certificate's key (PEM)" },
    auth = { type = "string", enum = { "gssapi" }, description = "gssapi: Kerberos (SASL GSSAPI)" },
    principal = { type = "string", description = "gssapi: the client's Kerberos principal" },
    realm = { type = "string", description = "gssapi: Kerberos realm, appended to the principal as @REALM" },
    service = { type = "string", default = "kafka", description = "gssapi: the brokers' Kerberos service name" },
    keytab = { type = "string", secret = true, description = "gssapi: the client's keytab, base64" },
    saslMechanism = { type = "string", enum = { "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512" },
        description = "SASL with username and password (beyond Sysdig)" },
    username = { type = "string", description = "SASL user name" },
    password = { type = "string", secret = true, description = "SASL password" },
    keyField = { type = "string", default = "id",
        description = "top-level event field whose value is the message key" },
    headers = { type = "map", description = "static message headers, Name: value" },
    timeout = { type = "integer", default = 30000,
        description = "milliseconds the producer keeps retrying a message before the batch is retried" },
    properties = { type = "map", description = "further librdkafka producer properties" },
}

M.batch = { max_events = 1000, max_bytes = 4194304, linger_ms = 100 }

-- Sysdig's balancers are kafka-go's; these are the librdkafka partitioners
-- that place a keyed message the same way (murmur2 as the Java client,
-- crc32 as librdkafka's consistent hashing, hash as FNV-1a). kafka-go's
-- roundrobin and leastbytes ignore the key; librdkafka has no equivalent,
-- and `random` spreads messages evenly as they do.
local partitioners = {
    murmur2 = "murmur2_random",
    crc32 = "consistent_random",
    hash = "fnv1a_random",
    roundrobin = "random",
    leastbytes = "random",
}

-- Properties the keys above own; `properties` may not set them.
local owned = {
    ["bootstrap.servers"] = "brokers", ["metadata.broker.list"] = "brokers",
    ["enable.idempotence"] = "(always on)", ["acks"] = "(always all)",
    ["request.required.acks"] = "(always all)", ["transactional.id"] = "(not supported)",
    ["partitioner"] = "balancer", ["compression.codec"] = "compression",
    ["compression.type"] = "compression", ["security.protocol"] = "isTlsEnabled",
    ["sasl.mechanisms"] = "auth or saslMechanism", ["sasl.mechanism"] = "auth or saslMechanism",
    ["sasl.username"] = "username", ["sasl.password"] = "password",
    ["sasl.kerberos.principal"] = "principal", ["sasl.kerberos.service.name"] = "service",
    ["sasl.kerberos.keytab"] = "keytab", ["ssl.ca.location"] = "caFile",
    ["ssl.certificate.location"] = "certFile", ["ssl.key.location"] = "keyFile",
    ["enable.ssl.certificate.verification"] = "isInsecure",
    ["ssl.endpoint.identification.algorithm"] = "isInsecure",
    ["message.timeout.ms"] = "timeout",
}

local function broker_list(v)
    local list = {}
    if type(v) == "table" then
        for i = 1, #v do
            list[#list + 1] = v[i]
        end
    else
        for b in tostring(v):gmatch("[^,]+") do
            list[#list + 1] = b
        end
    end
    if #list == 0 then
        error("'brokers' must name at least one host:port", 0)
    end
    for i, b in ipairs(list) do
        if type(b) ~= "string" then
            error("'brokers' entry " .. i .. " must be a host:port string", 0)
        end
        b = b:match("^%s*(.-)%s*$")
        if b:find("://", 1, true) then
            error("'brokers' entry '" .. b .. "' must be host:port, without a scheme", 0)
        end
        local port = b:match(":(%d+)$")
        if not port or #b == #port + 1 or tonumber(port) < 1 or tonumber(port) > 65535 then
            error("'brokers' entry '" .. b .. "' must be host:port", 0)
        end
        list[i] = b
    end
    return table.concat(list, ",")
end

local function check_topic(t)
    -- Kafka's own rule: what a broker would refuse is a configuration error.
    if #t == 0 or #t > 249 or t == "." or t == ".." or t:find("[^%w%._%-]") then
        error("'topic' must be 1..249 letters, digits, '.', '_' or '-' (and not '.' or '..')", 0)
    end
end

local function add_auth(conf, props)
    local mech = conf.saslMechanism
    if conf.auth == "gssapi" then
        if mech then
            error("'auth: gssapi' and 'saslMechanism' exclude each other", 0)
        end
        if not conf.principal or conf.principal == "" then
            error("'auth: gssapi' needs 'principal'", 0)
        end
        if not conf.keytab or conf.keytab == "" then
            error("'auth: gssapi' needs 'keytab' (base64)", 0)
        end
        -- Line breaks are allowed in the base64 text (YAML block scalars).
        local keytab = conf.keytab:gsub("%s", "")
        local bytes = crypto.base64_decode(keytab)
        if not bytes or #bytes == 0 then
            error("'keytab' is not valid base64", 0) -- never quote the secret
        end
        local principal = conf.principal
        if conf.realm and conf.realm ~= "" and not principal:find("@", 1, true) then
            principal = principal .. "@" .. conf.realm
        end
        props["sasl.mechanisms"] = "GSSAPI"
        props["sasl.kerberos.principal"] = principal
        props["sasl.kerberos.service.name"] = conf.service
        props["keytab.base64"] = keytab -- the sink writes it to a private file
        return true
    end
    for _, k in ipairs({ "principal", "realm", "keytab" }) do
        if conf[k] then
            error("'" .. k .. "' is for 'auth: gssapi'", 0)
        end
    end
    if mech then
        if not conf.username or conf.username == "" or not conf.password or conf.password == "" then
            error("'saslMechanism' needs 'username' and 'password'", 0)
        end
        props["sasl.mechanisms"] = mech
        props["sasl.username"] = conf.username
        props["sasl.password"] = conf.password
        return true
    end
    if conf.username or conf.password then
        error("'username' and 'password' need 'saslMechanism'", 0)
    end
    return false
end

local function add_properties(conf, props)
    for name, value in pairs(conf.properties or {}) do
        local key = owned[name:lower()]
        if key then
            error("'properties' cannot set '" .. name .. "': use " .. key, 0)
        end
        if name:lower():sub(1, 7) == "header." or name:lower() == "keytab.base64" then
            error("'properties' cannot set '" .. name .. "': use headers or keytab", 0)
        end
        if type(value) ~= "string" then
            error("'properties' value of '" .. name .. "' must be a scalar", 0)
        end
        props[name] = value
    end
end

-- Only setup() needs what the keys mean: encode() sends the event as it is.
function M.setup(conf)
    local brokers = broker_list(conf.brokers)
    check_topic(conf.topic)
    if conf.timeout <= 0 then
        error("'timeout' must be a positive number of milliseconds", 0)
    end
    if conf.keyField == "" then
        error("'keyField' must name a field", 0)
    end
    local tls = conf.isTlsEnabled == true
    if not tls and (conf.caFile or conf.certFile or conf.keyFile) then
        error("'caFile', 'certFile' and 'keyFile' need 'isTlsEnabled: true'", 0)
    end
    if (conf.certFile ~= nil) ~= (conf.keyFile ~= nil) then
        error("'certFile' and 'keyFile' go together", 0)
    end
    local props = {
        partitioner = partitioners[conf.balancer],
        ["compression.codec"] = conf.compression,
    }
    local sasl = add_auth(conf, props)
    props["security.protocol"] = (sasl and "sasl_" or "") .. (tls and "ssl" or "plaintext")
    for name, value in pairs(conf.headers or {}) do
        if type(value) ~= "string" then
            error("'headers' value of '" .. name .. "' must be a scalar", 0)
        end
        props["header." .. name] = value
    end
    add_properties(conf, props)
    return {
        brokers = brokers,
        topic = conf.topic,
        key_field = conf.keyField,
        timeout_ms = conf.timeout,
        insecure = conf.isInsecure == true,
        ca_file = conf.caFile,
        cert_file = conf.certFile,
        key_file = conf.keyFile,
        props = props,
    }
end

-- The record is the event as it stands (written by C: see docs/lua-contract.md).
M.envelope = event.as_is

M.encode = event.enveloped(M.envelope)

return M
