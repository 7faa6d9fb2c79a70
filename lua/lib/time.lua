-- time.lua - exact conversions of nanosecond timestamps.
--
-- Sysdig events carry "timestamp" as a JSON integer of nanoseconds since the
-- epoch (1606322948648718268): more digits than a double holds. Everything
-- here works on the integer's decimal text (what ev:raw("timestamp")
-- returns) with string arithmetic, so no digit is ever lost.
--
-- Division truncates toward zero, like Go's integer division (what Sysdig's
-- own code would do); "-0" never appears.
local M = {}

local sub, rep, match, format, byte = string.sub, string.rep, string.match, string.format, string.byte

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
-- True for the usual case: 10 to 20 digits, no sign, no leading zero.
-- Checked byte by byte, which LuaJIT compiles (patterns are not).
local function plain_ns(s)
    local n = #s
    if n < 10 or n > 20 then
        return false
    end
    local b = byte(s, 1)
    if b < 49 or b > 57 then
        return false
    end
    for i = 2, n do
        b = byte(s, i)
        if b < 48 or b > 57 then
            return false
        end
    end
    return true
end

function M.seconds_decimal(ns_text, decimals)
    decimals = decimals or 9
    if decimals == 9 and type(ns_text) == "string" and plain_ns(ns_text) then
        local n = #ns_text
        return sub(ns_text, 1, n - 9) .. "." .. sub(ns_text, n - 8)
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
