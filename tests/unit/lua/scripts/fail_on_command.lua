return {
    process = function(ev, ctx)
        if ev:type_name() == "command" then
            error("script failed on purpose", 0)
        end
    end,
}
