-- checks.lua - the assertions every Lua unit test uses. Each records a
-- failure with a traceback and goes on, so one run shows every broken
-- expectation; summary() prints the counts line and returns the number of
-- failures, which the C driver expects back.
--
--   local t = dofile(src .. "/tests/unit/lua/checks.lua")
--   local check, eq, raises = t.check, t.eq, t.raises
local M = { failures = 0, passed = 0 }

local function show(v)
    if type(v) == "string" then
        return string.format("%q", v)
    end
    return tostring(v)
end

function M.check(cond, msg)
    if cond then
        M.passed = M.passed + 1
    else
        M.failures = M.failures + 1
        io.stderr:write(debug.traceback("FAIL: " .. tostring(msg), 3), "\n")
    end
end

function M.eq(got, want, what)
    M.check(got == want, string.format("%s: got %s, want %s", what or "value", show(got), show(want)))
end

-- Expects f(...) to raise an error containing `needle`; returns the error.
function M.raises(needle, what, f, ...)
    local ok, err = pcall(f, ...)
    M.check(not ok and tostring(err):find(needle, 1, true),
        what .. ": expected an error with '" .. needle .. "', got " .. tostring(ok and "none" or err))
    return err
end

function M.summary(label)
    io.stdout:write(string.format("%s: %d passed, %d failed\n", label, M.passed, M.failures))
    return M.failures
end

return M
