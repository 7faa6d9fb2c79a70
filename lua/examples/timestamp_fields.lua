-- timestamp_fields.lua - adds fields computed from the event's nanosecond
-- timestamp: milliseconds (what many SIEMs index on), the UTC date and the
-- hour, for partitioning and "outside business hours" rules. The arithmetic
-- works on the timestamp's decimal text (ev:raw), so no digit is lost.
local time = require "time"
local crypto = require "siemrelay.crypto"

local M = {}

function M.process(ev, ctx)
    local ns = ev:raw("timestamp")
    if not ns then
        return true
    end
    ev:set_raw("timestamp_ms", time.convert(ns, "milliseconds"))
    local iso = crypto.rfc3339(ns, 0) -- "2020-11-25T16:49:08Z"
    ev:set("event_date", iso:sub(1, 10))
    ev:set("event_hour_utc", tonumber(iso:sub(12, 13)))
    return true
end

return M
