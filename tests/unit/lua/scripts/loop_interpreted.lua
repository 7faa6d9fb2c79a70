-- Never returns for "command" events, in code the JIT may not compile, so
-- the watchdog's count hook can stop it.
local function spin()
    while true do
    end
end
jit.off(spin)

return {
    process = function(ev, ctx)
        if ev:type_name() == "command" then
            spin()
        end
    end,
}
