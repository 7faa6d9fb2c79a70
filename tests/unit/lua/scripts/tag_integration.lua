-- Per-integration edits: must not be seen by other integrations.
return {
    process = function(ev, ctx)
        ev:set("only_for", ctx.integration)
        ev:delete("id")
        if ev:type_name() == "fileaccess" then
            ev:drop()
        end
    end,
}
