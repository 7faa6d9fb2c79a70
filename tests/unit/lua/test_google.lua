-- test_google.lua - the OAuth2 token cache and the Google modules
-- (CHRONICLE, PUBSUB, SCC): their pure parts, with a made-up clock and a
-- fresh RSA key. Run by tests/unit/test_lualib_google.c, which passes the
-- source directory and expects the number of failures back.
local src = ...

local failures, passed = 0, 0

local function check(cond, msg)
    if cond then
        passed = passed + 1
    else
        failures = failures + 1
        io.stderr:write(debug.traceback("FAIL: " .. msg, 3), "\n")
    end
end

local function eq(got, want, what)
    check(got == want, string.format("%s: got %s, want %s", what,
        type(got) == "string" and string.format("%q", got) or tostring(got),
        type(want) == "string" and string.format("%q", want) or tostring(want)))
end

local function raises(needle, what, f, ...)
    local ok, err = pcall(f, ...)
    check(not ok and tostring(err):find(needle, 1, true),
        what .. ": expected an error with '" .. needle .. "', got " .. tostring(ok and "none" or err))
end

-- A 2048-bit key per run, so no private key sits in the tree.
local function new_key()
    local p = assert(io.popen("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null"))
    local pem = p:read("*a")
    p:close()
    assert(pem:find("BEGIN PRIVATE KEY", 1, true), "openssl genpkey failed")
    return pem
end

local helpers = { eq = eq, raises = raises, check = check, pem = new_key(), src = src }
for _, name in ipairs({ "test_oauth.lua", "test_google_modules.lua" }) do
    local path = src .. "/tests/unit/lua/" .. name
    local chunk, err = loadfile(path)
    check(chunk ~= nil, "cannot load " .. path .. ": " .. tostring(err))
    if chunk then
        local ok, e = pcall(chunk, helpers)
        check(ok, name .. " raised: " .. tostring(e))
    end
end

io.stdout:write(string.format("lua (google): %d passed, %d failed\n", passed, failures))
return failures
