-- siem_schema.lua - adds the fields of a SIEM's common schema (here a few
-- of Elastic's ECS names) beside Sysdig's own, so the SIEM's stock rules and
-- dashboards work. Values are copied exactly: the nanosecond timestamp as
-- the RFC 3339 text Sysdig sent, integers as they are.
local M = {}

-- ECS field <- Sysdig path (the first that is present).
local MAP = {
    { "ecs.rule.name", { "content.ruleName", "name" } },
    { "ecs.host.name", { 'labels["host.hostName"]', "hostname" } },
    { "ecs.process.command_line", { 'content.fields["proc.cmdline"]', "cmdline" } },
    { "ecs.user.name", { 'content.fields["user.name"]', "username" } },
    { "ecs.orchestrator.cluster.name", { 'labels["kubernetes.cluster.name"]' } },
}

function M.process(ev, ctx)
    ev:set_path("ecs.@timestamp", ev:get("timestampRFC3339Nano"))
    ev:set_path("ecs.event.kind", ev:data_type() == "policy" and "alert" or "event")
    for i = 1, #MAP do
        local to, from = MAP[i][1], MAP[i][2]
        for k = 1, #from do
            local v = ev:get_path(from[k])
            if v ~= nil then
                ev:set_path(to, v)
                break
            end
        end
    end
    return true
end

return M
