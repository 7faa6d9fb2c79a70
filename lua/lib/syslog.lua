-- syslog.lua - syslog messages: PRI, RFC 3164 and RFC 5424 headers, and
-- the framing of RFC 6587 / RFC 5425.
--
--   RFC 5424:  <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
--              2020-11-25T16:49:08.648718Z: UTC, microseconds (5424 allows
--              six fraction digits; the rest are truncated)
--   RFC 3164:  <PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MSG
--              in UTC (3164 has no zone; receivers assume their own)
--
-- PRI = facility * 8 + severity. Sysdig's severity scale is syslog's
-- (0 emergency .. 7 debug; Sysdig calls 0-3 High, 4-5 Medium, 6 Low,
-- 7 Info), so the event's severity is the syslog severity; an event without
-- one (activity audit) counts as 6 (informational), and a platform audit
-- record is rated by its response status (secfields.severity).
--
-- The timestamp is the event's nanosecond "timestamp" (its integer text, so
-- nothing is rounded), or the current time when it has none. HOSTNAME is
-- the event's "hostname", else its label host.hostName, else the gateway's
-- own host name. Bytes other than letters, digits, ".", "-" and "_" become
-- "_", leading and trailing punctuation is dropped, and it is cut at 255. PROCID and STRUCTURED-DATA are "-";
-- MSGID is the event's "type".
--
-- Framing: "octet" is RFC 6587 octet counting ("LEN SP MSG", mandatory over
-- TLS by RFC 5425), "lf" ends each message with a line feed (the messages
-- built here never contain one), "none" is the bare message (UDP: one
-- datagram each).
local secfields = require "secfields"

local M = {}

local find, format, gsub, match, sub, rep =
    string.find, string.format, string.gsub, string.match, string.sub, string.rep
local tonumber, type, tostring = tonumber, type, tostring
local os_date, os_time = os.date, os.time

M.facilities = {
    kern = 0, user = 1, mail = 2, daemon = 3, auth = 4, syslog = 5, lpr = 6, news = 7,
    uucp = 8, cron = 9, authpriv = 10, ftp = 11, ntp = 12, security = 13, audit = 13,
    console = 14, alert = 14, clock = 15,
    local0 = 16, local1 = 17, local2 = 18, local3 = 19,
    local4 = 20, local5 = 21, local6 = 22, local7 = 23,
}

M.DEFAULT_FACILITY = "local0"

--- The facility code of a name ("local0", case-insensitive) or a number
--- 0..23; nil and a message otherwise.
function M.facility(v)
    if v == nil then
        v = M.DEFAULT_FACILITY
    end
    local n = tonumber(v)
    if n then
        if n >= 0 and n <= 23 and n == math.floor(n) then
            return n
        end
        return nil, format("facility %s is not in 0..23", tostring(v))
    end
    local code = type(v) == "string" and M.facilities[v:lower()]
    if not code then
        return nil, format("unknown facility '%s' (use kern, user, ..., local0..local7 or 0..23)",
            tostring(v))
    end
    return code
end

--- The syslog severity of an event: its own 0..7, else 6; platform audit
--- by its response status (secfields.severity).
M.severity = secfields.severity

--- Seconds since the epoch (a number) and the nine fraction digits (a
--- string) of the event's nanosecond timestamp; the current time when it
--- has none (or a negative one).
function M.event_time(ev)
    local ts = ev:raw("timestamp")
    local digits = type(ts) == "string" and match(ts, "^(%d+)$")
    if not digits then
        return os_time(), "000000000"
    end
    if #digits < 10 then
        digits = rep("0", 10 - #digits) .. digits
    end
    return tonumber(sub(digits, 1, -10)), sub(digits, -9)
end

--- RFC 3339 as RFC 5424 wants it: UTC, microseconds.
function M.rfc3339(secs, frac9)
    return os_date("!%Y-%m-%dT%H:%M:%S", secs) .. "." .. sub(frac9, 1, 6) .. "Z"
end

--- RFC 3164's "Mmm dd hh:mm:ss" (day padded with a space), in UTC.
function M.bsd_time(secs)
    local day = tonumber(os_date("!%d", secs))
    return os_date("!%b ", secs) .. format("%2d", day) .. os_date("! %H:%M:%S", secs)
end

-- Printable US-ASCII only (33..126), at most `max` bytes; "-" when empty.
local function printable(s, max)
    s = gsub(s, "[^!-~]", "_")
    if #s > max then
        s = sub(s, 1, max)
    end
    return s ~= "" and s or "-"
end
M.printable = printable

-- A host name both RFCs and their parsers accept: letters, digits, ".",
-- "-" and "_", not starting or ending with a punctuation mark (rsyslog's
-- RFC 3164 parser refuses a name that ends in "-" or "_"). nil if nothing
-- is left.
local function clean_host(h)
    h = gsub(h, "[^%w%.%-_]", "_")
    if #h > 255 then
        h = sub(h, 1, 255)
    end
    h = match(h, "^[%.%-_]*(.-)[%.%-_]*$")
    return h ~= "" and h or nil
end

local own_host
--- The gateway's host name (read once), for events that carry none.
function M.own_hostname()
    if own_host then
        return own_host
    end
    local f = io.open("/proc/sys/kernel/hostname", "r")
    local h = f and f:read("*l")
    if f then
        f:close()
    end
    own_host = clean_host(h or os.getenv("HOSTNAME") or "") or "siemrelay"
    return own_host
end

--- The event's host name ("hostname", else the label host.hostName), cleaned
--- for a syslog header; the gateway's own when the event has none.
function M.hostname(ev)
    local h = ev:get("hostname")
    if type(h) ~= "string" or h == "" then
        h = ev:label("host.hostName")
    end
    return type(h) == "string" and clean_host(h) or M.own_hostname()
end

--- Checks an APP-NAME / TAG: letters, digits and ._-/ only, 1..32 bytes
--- (RFC 3164's TAG limit, within RFC 5424's 48).
function M.check_app_name(name)
    return type(name) == "string" and #name >= 1 and #name <= 32 and
        find(name, "^[%w%._%-/]+$") ~= nil
end

--- A whole message. opts: format ("RFC_3164", "RFC_5424" or "RFC_5425"),
--- facility (code), app_name (nil: RFC 3164 without a TAG, as QRadar's
--- LEEF-over-syslog convention has it).
function M.message(ev, body, opts)
    local pri = opts.facility * 8 + M.severity(ev)
    local secs, frac9 = M.event_time(ev)
    local host = M.hostname(ev)
    if opts.format == "RFC_3164" then
        local tag = opts.app_name and (opts.app_name .. ": ") or ""
        return format("<%d>%s %s %s%s", pri, M.bsd_time(secs), host, tag, body)
    end
    local msgid = ev:get("type")
    msgid = type(msgid) == "string" and printable(msgid, 32) or "-"
    return format("<%d>1 %s %s %s - %s - %s", pri, M.rfc3339(secs, frac9), host,
        opts.app_name or "-", msgid, body)
end

--- The message framed for the wire: "octet", "lf" or "none".
function M.frame(msg, framing)
    if framing == "octet" then
        return #msg .. " " .. msg
    elseif framing == "lf" then
        return msg .. "\n"
    end
    return msg
end

return M
