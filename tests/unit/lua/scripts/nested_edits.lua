-- Nested edits through the path and label methods, a route, and `return
-- ev`: the same records whether it runs sandboxed (on the event's view) or
-- not (on the cdata).
return {
    process = function(ev, ctx)
        ev:set_path('content.fields["proc.cmdline"]', "[redacted]")
        ev:set_path("relay.hops", { 1, 2, ev:get("timestamp") })
        ev:set_path_raw("relay.raw", '{"n":18446744073709551615}')
        ev:delete_path("content.policyVersion")
        if ev:label("kubernetes.namespace.name") then
            ev:rename_label("kubernetes.namespace.name", "k8s_ns")
        end
        ev:set_label("owner.team", "platform")
        local labels = ev:get("labels")
        if labels then
            ev:set("labels", labels)
        end
        ev:set("kind", ev:data_type() .. "/" .. tostring(ev:channel()) .. "/"
            .. tostring(ev:type_name()) .. "/" .. ev.severity)
        if ev:type_name() == "connection" then
            ev:route("b")
        end
        return ev -- kept, as any value but false
    end,
}
