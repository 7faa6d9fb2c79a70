-- syslog.lua - SYSLOG: events as syslog messages over TCP, UDP or TLS.
--
-- Keys: Sysdig's API names (address, port, type, messageFormat, formatter,
-- isInsecure), matched case-insensitively, plus siemrelay's own: the TLS
-- files (caFile, certFile, keyFile), framing, facility, appName,
-- leefDelimiter and timeout. docs/integrations.md has the table.
--
-- Each event is one message: a header (lib/syslog.lua: PRI from the event's
-- severity and the facility, RFC 3164 or RFC 5424), then the body in the
-- chosen formatter: the event's JSON exactly as received (with site-script
-- edits), CEF (lib/cef.lua) or LEEF 2.0 (lib/leef.lua). encode() returns the
-- framed message; the native "stream" sink writes the records as they are.
--
-- Framing: octet counting (RFC 6587 / RFC 5425) over TLS always, over TCP
-- unless `framing: lf`; over UDP none (one datagram per message).
-- messageFormat RFC_5425 is RFC 5424 over TLS, so it needs type tls.
local cef = require "cef"
local leef = require "leef"
local syslog = require "syslog"

local M = {}

M.type = "SYSLOG"
M.transport = "stream"
M.channels = { "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT" }

M.options = {
    address = { required = true, type = "string", description = "syslog server host name or IP address" },
    port = { type = "integer", description = "server port; default 514 (tcp, udp) or 6514 (tls)" },
    type = { type = "string", enum = { "tcp", "udp", "tls" }, default = "tcp",
        description = "transport protocol" },
    messageFormat = { type = "string", enum = { "RFC_3164", "RFC_5424", "RFC_5425" },
        default = "RFC_5424", description = "syslog header format; RFC_5425 is RFC 5424 over TLS" },
    formatter = { type = "string", enum = { "JSON", "CEF", "LEEF" }, default = "JSON",
        description = "message body: the event's JSON, CEF or LEEF 2.0" },
    isInsecure = { type = "boolean", default = false,
        description = "TLS: skip certificate and host name verification" },
    caFile = { type = "string", description = "TLS: PEM bundle to verify the server with (default: system store)" },
    caCertFile = { alias_of = "caFile" },
    certFile = { type = "string", description = "TLS: client certificate (PEM)" },
    keyFile = { type = "string", description = "TLS: client certificate's key (PEM)" },
    framing = { type = "string", enum = { "octet", "lf" },
        description = "TCP framing: octet counting (default) or a line feed after each message" },
    facility = { type = "any", default = syslog.DEFAULT_FACILITY,
        description = "syslog facility: a name (local0..local7, auth, ...) or 0..23" },
    appName = { type = "string", default = "siemrelay",
        description = "RFC 5424 APP-NAME / RFC 3164 TAG" },
    leefDelimiter = { type = "string",
        description = "LEEF attribute delimiter: one character or xHH; default tab (x09)" },
    timeout = { type = "integer", default = 30000,
        description = "milliseconds a batch may take, reconnects included, before it is retried" },
}

M.batch = { max_events = 500, max_bytes = 1048576, linger_ms = 200 }

local default_ports = { tcp = 514, udp = 514, tls = 6514 }

local prepared = setmetatable({}, { __mode = "k" })

local function prepare(conf)
    local p = prepared[conf]
    if p then
        return p
    end
    if conf.address == "" then
        error("'address' must not be empty", 0)
    end
    local proto = conf.type
    if conf.messageFormat == "RFC_5425" and proto ~= "tls" then
        error("messageFormat RFC_5425 is syslog over TLS: it needs type: tls", 0)
    end
    local framing = conf.framing
    if proto == "tls" then
        if framing == "lf" then
            error("framing lf is not allowed over TLS: RFC 5425 requires octet counting", 0)
        end
        framing = "octet"
    elseif proto == "udp" then
        framing = "none"
    else
        framing = framing or "octet"
    end
    local port = conf.port or default_ports[proto]
    if port < 1 or port > 65535 then
        error("'port' must be in 1..65535", 0)
    end
    local facility, ferr = syslog.facility(conf.facility)
    if not facility then
        error("'facility': " .. ferr, 0)
    end
    if not syslog.check_app_name(conf.appName) then
        error("'appName' must be 1..32 letters, digits or ._-/", 0)
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
        framing = framing,
        header = {
            format = conf.messageFormat == "RFC_3164" and "RFC_3164" or "RFC_5424",
            facility = facility,
            app_name = conf.appName,
        },
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
        protocol = conf.type,
        insecure = conf.isInsecure == true,
        ca_file = conf.caFile,
        cert_file = conf.certFile,
        key_file = conf.keyFile,
        timeout_ms = conf.timeout,
    }
end

local bodies = {
    JSON = function(ev) return ev:json() end,
    CEF = function(ev) return cef.format(ev) end,
    LEEF = function(ev, p) return leef.format(ev, p.delimiter) end,
}

function M.encode(ev, conf)
    local p = prepare(conf)
    local body = bodies[conf.formatter](ev, p)
    return syslog.frame(syslog.message(ev, body, p.header), p.framing)
end

return M
