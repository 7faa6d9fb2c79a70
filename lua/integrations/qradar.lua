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
local common = require "stream_conf"
local per_conf = require "per_conf"
local syslog = require "syslog"

local M = {}

M.type = "QRADAR"
M.transport = "stream"
M.channels = { "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", "PLATFORM_AUDIT", "MONITOR_EVENTS" }

M.options = common.options({
    port = { type = "integer", description = "syslog listener port; default 514 (TCP) or 6514 (TLS)" },
    isTls = { type = "boolean", default = false, description = "syslog over TLS instead of plain TCP" },
    framing = { type = "string", enum = { "lf", "octet" }, default = "lf",
        description = "a line feed after each message, or octet counting" },
})

M.batch = { max_events = 500, max_bytes = 1048576, linger_ms = 200 }

local prepare = per_conf(function(c)
    local p = common.check(c, c.isTls and 6514 or 514)
    p.header = { format = "RFC_3164", facility = p.facility }
    return p
end)

function M.setup(c)
    local p = prepare(c)
    return common.settings(c, p.port, c.isTls and "tls" or "tcp")
end

function M.encode(ev, c)
    local p = prepare(c)
    local msg = syslog.message(ev, leef.format(ev, p.delimiter), p.header)
    return syslog.frame(msg, c.framing)
end

return M
