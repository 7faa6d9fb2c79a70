-- Loads, but its setup never returns.
return {
    setup = function()
        while true do
            string.format("%d", 1)
        end
    end,
    process = function() return true end,
}
