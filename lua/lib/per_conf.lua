-- per_conf.lua - what an integration module derives from a conf table,
-- derived once per table.
--
-- A module checks an integration's settings and derives what it sends
-- with (URLs, headers, parsed credentials) in setup(), and needs the same
-- again in encode() and request(). Each Lua state has its own copy of the
-- conf table, so the result is kept per table, and weakly: a conf dropped
-- at a reload takes what was derived from it along.
--
--   local prepare = per_conf(function(conf) ...; return p end)
--   prepare(conf)  -> p, derived at the first call for that table; an error
--                     raised while deriving is raised again at the next call

local setmetatable = setmetatable

return function(derive)
    local derived = setmetatable({}, { __mode = "k" })
    return function(conf)
        local p = derived[conf]
        if p == nil then
            p = derive(conf)
            derived[conf] = p
        end
        return p
    end
end
