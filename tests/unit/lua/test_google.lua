-- test_google.lua - the OAuth2 token cache and the Google modules
-- (CHRONICLE, PUBSUB, SCC): their pure parts, with a made-up clock and a
-- fresh RSA key. Run by tests/unit/test_lualib_google.c, which passes the
-- source directory and expects the number of failures back.
local src = ...

local t = dofile(src .. "/tests/unit/lua/checks.lua")
local check, eq, raises = t.check, t.eq, t.raises

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

return t.summary("lua (google)")
