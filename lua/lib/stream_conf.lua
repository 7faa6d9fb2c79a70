-- stream_conf.lua - the configuration SYSLOG and QRADAR share: checks of
-- their common keys, and the "stream" sink settings setup() returns.
local leef = require "leef"
local syslog = require "syslog"

local M = {}

--- Checks address, port (default `default_port`), facility, leefDelimiter,
--- timeout and the client certificate pair; raises a configuration error.
--- Returns { port, facility (code), delimiter }.
function M.check(conf, default_port)
    if conf.address == "" then
        error("'address' must not be empty", 0)
    end
    local port = conf.port or default_port
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
    return { port = port, facility = facility, delimiter = delim }
end

--- What setup() returns for the stream sink.
function M.settings(conf, port, protocol)
    return {
        host = conf.address,
        port = port,
        protocol = protocol,
        insecure = conf.isInsecure == true,
        ca_file = conf.caFile,
        cert_file = conf.certFile,
        key_file = conf.keyFile,
        timeout_ms = conf.timeout,
    }
end

--- The option schema entries both types have.
function M.options(extra)
    local o = {
        address = { required = true, type = "string", description = "server host name or IP address" },
        isInsecure = { type = "boolean", default = false,
            description = "TLS: skip certificate and host name verification" },
        caFile = { type = "string", description = "TLS: PEM bundle to verify the server with (default: system store)" },
        caCertFile = { alias_of = "caFile" },
        certFile = { type = "string", description = "TLS: client certificate (PEM)" },
        keyFile = { type = "string", description = "TLS: client certificate's key (PEM)" },
        facility = { type = "any", default = syslog.DEFAULT_FACILITY,
            description = "syslog facility: a name (local0..local7, auth, ...) or 0..23" },
        leefDelimiter = { type = "string",
            description = "LEEF attribute delimiter: one character or xHH; default tab (x09)" },
        timeout = { type = "integer", default = 30000,
            description = "milliseconds a batch may take, reconnects included, before it is retried" },
    }
    for k, v in pairs(extra) do
        o[k] = v
    end
    return o
end

return M
