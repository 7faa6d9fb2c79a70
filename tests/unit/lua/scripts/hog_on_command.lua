-- Allocates without end for "command" events (the memory limit stops it);
-- with params.keep, keeps 2 MiB per event in a table that outlives it.
local kept = {}
local keep = false
return {
    setup = function(params)
        keep = params.keep == true
    end,
    process = function(ev, ctx)
        if keep then
            kept[#kept + 1] = string.rep("k", 2 * 1048576) .. #kept
        end
        if ev:type_name() == "command" then
            local t = {}
            for i = 1, 1e9 do
                t[i] = string.rep("x", 4096) .. i
            end
        end
    end,
}
