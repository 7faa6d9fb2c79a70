-- strip_fields.lua - removes bulky fields a SIEM does not need (the rule's
-- long description and the agent's full output line) and the AWS account
-- label, to cut ingestion volume. Everything else keeps its exact bytes.
local M = {}

local REMOVE = { "description", "content.output", 'labels["aws.accountId"]' }

function M.process(ev, ctx)
    for i = 1, #REMOVE do
        if ev:get_path(REMOVE[i]) ~= nil then
            ev:delete_path(REMOVE[i])
        end
    end
    return true
end

return M
