-- drop_tmp_access.lua - drops file access audit events under scratch
-- directories (/tmp/, /var/tmp/, dpkg's update area), which busy hosts
-- produce by the thousand and no one investigates.
local M = {}

local PREFIXES = { "/tmp/", "/var/tmp/", "/var/lib/dpkg/updates/" }

function M.process(ev, ctx)
    if ev:type_name() ~= "fileaccess" then
        return true
    end
    local dir = ev:get("directory") or ""
    for i = 1, #PREFIXES do
        if dir:sub(1, #PREFIXES[i]) == PREFIXES[i] then
            return false
        end
    end
    return true
end

return M
