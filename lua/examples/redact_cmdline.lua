-- redact_cmdline.lua - replaces process command lines (which can carry
-- passwords and tokens) with a fixed marker before events leave the site.
-- The edits are spliced into the event: every other byte stays as it came.
local M = {}

local MARK = "[redacted]"

-- Falco's output fields in policy events, and the activity audit command.
local PATHS = {
    'content.fields["proc.cmdline"]',
    'content.fields["proc.pcmdline"]',
}

function M.process(ev, ctx)
    for i = 1, #PATHS do
        if ev:get_path(PATHS[i]) ~= nil then
            ev:set_path(PATHS[i], MARK)
        end
    end
    if ev:type_name() == "command" then
        ev:set("cmdline", MARK)
    end
    return true
end

return M
