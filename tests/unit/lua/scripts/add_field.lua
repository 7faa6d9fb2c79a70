-- Adds fields to every event and drops the Info ones (severity 7).
return {
    process = function(ev, ctx)
        ev:set("relay", { name = "siemrelay", big = ev:get("timestamp") })
        ev:set_raw("raw_ts", ev:raw("timestamp"))
        local host = ev:label("host.hostName")
        if host then
            ev:set("host", host)
            ev:set("rule", ev:get_path("content", "ruleName"))
        end
        if ev.severity == 7 then
            return false
        end
    end,
}
