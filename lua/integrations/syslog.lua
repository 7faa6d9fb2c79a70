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
local common = require "stream_conf"
local per_conf = require "per_conf"
local syslog = require "syslog"

local M = {}

M.type = "SYSLOG"
M.transport = "stream"
M.channels = { "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", "PLATFORM_AUDIT", "MONITOR_EVENTS" }

M.options = common.options({
    port = { type = "integer", description = "server port; default 514 (tcp, udp) or 6514 (tls)" },
    type = { type = "string", enum = { "tcp", "udp", "tls" }, default = "tcp",
        description = "transport protocol" },
    messageFormat = { type = "string", enum = { "RFC_3164", "RFC_5424", "RFC_5425" },
        default = "RFC_5424", description = "syslog header format; RFC_5425 is RFC 5424 over TLS" },
    formatter = { type = "string", enum = { "JSON", "CEF", "LEEF" }, default = "JSON",
        description = "message body: the event's JSON, CEF or LEEF 2.0" },
    framing = { type = "string", enum = { "octet", "lf" },
        description = "TCP framing: octet counting (default) or a line feed after each message" },
    appName = { type = "string", default = "siemrelay",
        description = "RFC 5424 APP-NAME / RFC 3164 TAG" },
})

M.batch = { max_events = 500, max_bytes = 1048576, linger_ms = 200 }

local default_ports = { tcp = 514, udp = 514, tls = 6514 }

local prepare = per_conf(function(c)
    local proto = c.type
    if c.messageFormat == "RFC_5425" and proto ~= "tls" then
        error("messageFormat RFC_5425 is syslog over TLS: it needs type: tls", 0)
    end
    local framing = c.framing
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
    if not syslog.check_app_name(c.appName) then
        error("'appName' must be 1..32 letters, digits or ._-/", 0)
    end
    local p = common.check(c, default_ports[proto])
    p.framing = framing
    p.header = {
        format = c.messageFormat == "RFC_3164" and "RFC_3164" or "RFC_5424",
        facility = p.facility,
        app_name = c.appName,
    }
    return p
end)

function M.setup(c)
    local p = prepare(c)
    return common.settings(c, p.port, c.type)
end

local bodies = {
    JSON = function(ev) return ev:json() end,
    CEF = function(ev) return cef.format(ev) end,
    LEEF = function(ev, p) return leef.format(ev, p.delimiter) end,
}

function M.encode(ev, c)
    local p = prepare(c)
    local body = bodies[c.formatter](ev, p)
    return syslog.frame(syslog.message(ev, body, p.header), p.framing)
end

return M
