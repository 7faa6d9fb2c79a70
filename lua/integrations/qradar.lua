-- qradar.lua - QRADAR: LEEF 2.0 events over syslog (TCP or TLS) to a QRadar
-- event collector's syslog listener.
--
-- Keys: Sysdig's API names (address, port, isTls, isInsecure), matched
-- case-insensitively, plus siemrelay's own TLS files (caFile, certFile,
-- keyFile), framing, facility, leefDelimiter and timeout.
--
-- Each event is one message in QRadar's LEEF-over-syslog form: an RFC 3164
-- header without a tag, then the LEEF record (lib/leef.lua):
--   <PRI>Nov 25 16:49:08 ardbox LEEF:2.0|Sysdig|Secure|1.0|Write below etc|x09|devTime=...
-- PRI is facility * 8 + the event's severity (lib/syslog.lua). Messages end
-- with a line feed unless `framing: octet` (RFC 6587 octet counting), over
-- TCP and TLS alike: QRadar's syslog listeners split on line feeds.
local leef = require "leef"
local syslog = require "syslog"

local M = {}

M.type = "QRADAR"
M.transport = "stream"
M.channels = { "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT" }

M.options = {
    address = { required = true, type = "string", description = "QRadar event collector host name or IP address" },
    port = { type = "integer", description = "syslog listener port; default 514 (TCP) or 6514 (TLS)" },
    isTls = { type = "boolean", default = false, description = "syslog over TLS instead of plain TCP" },
    isInsecure = { type = "boolean", default = false,
        description = "TLS: skip certificate and host name verification" },
    caFile = { type = "string", description = "TLS: PEM bundle to verify QRadar with (default: system store)" },
    caCertFile = { alias_of = "caFile" },
    certFile = { type = "string", description = "TLS: client certificate (PEM)" },
    keyFile = { type = "string", description = "TLS: client certificate's key (PEM)" },
    framing = { type = "string", enum = { "lf", "octet" }, default = "lf",
        description = "a line feed after each message, or octet counting" },
    facility = { type = "any", default = syslog.DEFAULT_FACILITY,
        description = "syslog facility: a name (local0..local7, auth, ...) or 0..23" },
    leefDelimiter = { type = "string",
        description = "LEEF attribute delimiter: one character or xHH; default tab (x09)" },
    timeout = { type = "integer", default = 30000,
        description = "milliseconds a batch may take, reconnects included, before it is retried" },
}

M.batch = { max_events = 500, max_bytes = 1048576, linger_ms = 200 }

local prepared = setmetatable({}, { __mode = "k" })

local function prepare(conf)
    local p = prepared[conf]
    if p then
        return p
    end
    if conf.address == "" then
        error("'address' must not be empty", 0)
    end
    local port = conf.port or (conf.isTls and 6514 or 514)
    if port < 1 or port > 65535 then
        error("'port' must be in 1..65535", 0)
    end
    local facility, ferr = syslog.facility(conf.facility)
    if not facility then
        error("'facility': " .. ferr, 0)
    end
    local delim, derr = leef.parse_delimiter(conf.leefDelimiter)
    if not delim then
        error("'leefDelimiter' " .. derr, 0)
    end
    if conf.timeout <= 0 then
        error("'timeout' must be a positive number of milliseconds", 0)
    end
    if (conf.certFile ~= nil) ~= (conf.keyFile ~= nil) then
        error("'certFile' and 'keyFile' go together", 0)
    end
    p = {
        port = port,
        header = { format = "RFC_3164", facility = facility },
        delimiter = delim,
    }
    prepared[conf] = p
    return p
end

function M.setup(conf)
    local p = prepare(conf)
    return {
        host = conf.address,
        port = p.port,
        protocol = conf.isTls and "tls" or "tcp",
        insecure = conf.isInsecure == true,
        ca_file = conf.caFile,
        cert_file = conf.certFile,
        key_file = conf.keyFile,
        timeout_ms = conf.timeout,
    }
end

function M.encode(ev, conf)
    local p = prepare(conf)
    local msg = syslog.message(ev, leef.format(ev, p.delimiter), p.header)
    return syslog.frame(msg, conf.framing)
end

return M
