-- Never finishes loading: a top-level loop with no call in it, which LuaJIT
-- compiles, so only the load watchdog's interrupt stops it.
local n = 0
while true do
    n = n + 1
end
return { process = function() return true end }
