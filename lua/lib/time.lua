-- time.lua - exact conversions of nanosecond timestamps.
--
-- Sysdig events carry "timestamp" as a JSON integer of nanoseconds since the
-- epoch (1606322948648718268): more digits than a double holds. Everything
-- here works on the integer's decimal text (what ev:raw("timestamp")
-- returns) with string arithmetic, so no digit is ever lost.
--
-- Division truncates toward zero, like Go's integer division (what Sysdig's
-- own code would do); "-0" never appears.
local ffi = require "ffi"

local M = {}

local sub, rep, match, format = string.sub, string.rep, string.match, string.format

ffi.cdef [[
int sr_lua_ns_seconds9(const char *p, size_t n, char *out);
]]
local C, ffi_string = ffi.C, ffi.string
local seconds_buf = ffi.new("char[32]") -- a state runs one event at a time

-- Digits dropped to go from nanoseconds to each unit.
local shift = { nanoseconds = 0, microseconds = 3, milliseconds = 6, seconds = 9 }
M.units = { "seconds", "milliseconds", "microseconds", "nanoseconds" }

-- Splits integer text into sign and digits without leading zeros; nil when
-- the text is not a plain JSON integer.
local function split(text)
    if type(text) ~= "string" then
        return nil
    end
    local sign, digits = match(text, "^(%-?)(%d+)$")
    if not digits then
        return nil
    end
    digits = match(digits, "^0*(%d-)$")
    if digits == "" then
        digits = "0"
    end
    return sign, digits
end

--- Integer text of nanoseconds `ns_text` in `unit` ("seconds",
--- "milliseconds", "microseconds" or "nanoseconds"), truncated. Returns nil
--- and a message when the text is not an integer or the unit unknown.
function M.convert(ns_text, unit)
    local k = shift[unit]
    if not k then
        return nil, format("unknown time unit '%s'", tostring(unit))
    end
    local sign, digits = split(ns_text)
    if not sign then
        return nil, "not an integer: " .. tostring(ns_text)
    end
    if k > 0 then
        if #digits <= k then
            return "0"
        end
        digits = sub(digits, 1, #digits - k)
    end
    if digits == "0" then
        return "0"
    end
    return sign .. digits
end

--- Decimal seconds with `decimals` (0..9, default 9) fraction digits, e.g.
--- "1606322948.648718268": what Splunk's "time" takes. Truncated.
-- The usual case (plain digits, 9 decimals) is done in C: in Lua the digit
-- check and the substrings cost more than the rest of SPLUNK's envelope.
function M.seconds_decimal(ns_text, decimals)
    decimals = decimals or 9
    if decimals == 9 and type(ns_text) == "string" then
        local n = C.sr_lua_ns_seconds9(ns_text, #ns_text, seconds_buf)
        if n > 0 then
            return ffi_string(seconds_buf, n)
        end
    end
    local sign, digits = split(ns_text)
    if not sign then
        return nil, "not an integer: " .. tostring(ns_text)
    end
    if #digits < 10 then
        digits = rep("0", 10 - #digits) .. digits
    end
    local whole, frac = sub(digits, 1, #digits - 9), sub(digits, #digits - 8, #digits - 9 + decimals)
    if sign == "-" and match(whole .. frac, "^0*$") then
        sign = ""
    end
    if decimals == 0 then
        return sign .. whole
    end
    return sign .. whole .. "." .. frac
end

return M
