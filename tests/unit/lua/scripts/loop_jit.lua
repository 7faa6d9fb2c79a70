-- Never returns for "command" events, in a loop the JIT compiles: only the
-- watchdog's signal can stop it.
return {
    process = function(ev, ctx)
        if ev:type_name() == "command" then
            while true do
            end
        end
    end,
}
