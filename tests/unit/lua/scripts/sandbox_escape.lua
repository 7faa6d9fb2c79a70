-- Reaches for the event's C struct: sandboxed, the event fails; not
-- sandboxed, the script reads and writes the struct (the cdata).
return {
    process = function(ev, ctx)
        local t = ev:type_name()
        if t == "command" then
            ev:set("raw_len", ev.raw_len)
        elseif t == "fileaccess" then
            ev.flags = 1 -- SR_EV_DROPPED
        end
        return true
    end,
}
