-- secfields.lua - the security fields CEF and LEEF carry, taken from a
-- Sysdig event. One table of sources, so both formats (and the mapping in
-- docs/integrations.md) agree.
--
-- Each field takes the first source that is present and not empty. "f:X"
-- is content.fields["X"] (Falco's output fields in policy events), "l:X" the
-- label X, "c:X" content.X, "m:X" the top-level X of a monitor event only
-- (other types use "name" and "description" for other things), a plain
-- name a top-level field, "a/b" a nested
-- one, "=policy" the "name" of a policy event (other types use "name" for
-- other things), "=path" a file access's directory joined with its filename,
-- "=url" a platform audit record's requestUri with "?" and its queryString
-- when it has one. Values
-- come back as strings: integers keep every digit (top-level ones are read
-- as their JSON text), tables are skipped (but ruleTags, joined with ",").
local M = {}

local type, tostring, tonumber, ipairs = type, tostring, tonumber, ipairs
local concat = table.concat
local format, match, sub = string.format, string.match, string.sub

-- Ordered: the formats emit fields in this order.
M.sources = {
    { "id", "id" },
    { "type", "type" },
    { "policy", "=policy" }, -- =policy: "name", in policy events only
    { "host", "hostname", "l:host.hostName" },
    { "user", "username", "user/username", "f:user.name", "c:username" },
    { "process", "comm", "processName", "f:proc.name" },
    { "pid", "pid" },
    { "cmdline", "cmdline", "f:proc.cmdline" },
    { "file", "=path", "f:fd.name" }, -- =path: directory .. filename
    { "src", "clientIpv4Dot", "c:userOriginIP" },
    { "sport", "clientPort" },
    { "dst", "serverIpv4Dot" },
    { "dport", "serverPort" },
    { "proto", "l4protocol" },
    { "direction", "direction" },
    { "container", "containerId", "f:container.id" },
    { "image", "l:container.image.repo", "f:container.image.repository" },
    { "namespace", "namespace", "l:kubernetes.namespace.name",
        "l:container.label.io.kubernetes.pod.namespace" },
    { "pod", "l:kubernetes.pod.name" },
    { "cluster", "l:kubernetes.cluster.name" },
    { "policy_id", "c:policyId" },
    { "rule", "c:ruleName" },
    { "tags", "c:ruleTags" },
    { "output", "c:output", "m:description" },
    -- Platform audit (audittrail): the request a user made to the platform.
    { "user_id", "c:userId" },
    { "method", "c:requestMethod" },
    { "url", "=url" },
    { "status", "c:responseStatusCode" },
    { "entity", "c:entityType" },
    { "team_id", "c:teamId" },
    { "customer_id", "c:customerId" },
    -- Monitor events: the event's name and the scope it fired for.
    { "event_name", "m:name" },
    { "scope", "m:scope" },
}

-- IANA protocol numbers of the l4protocol field.
local protocols = { [1] = "ICMP", [6] = "TCP", [17] = "UDP", [58] = "ICMPv6", [132] = "SCTP" }

local function int_text(v)
    if type(v) == "number" then
        if v == math.floor(v) and v >= -2 ^ 53 and v <= 2 ^ 53 then
            return format("%d", v)
        end
        return format("%.17g", v)
    end
    if type(v) == "cdata" then
        return (match(tostring(v), "^(%-?%d+)"))
    end
    return nil
end

local function as_text(v)
    local t = type(v)
    if t == "string" then
        return v ~= "" and v or nil
    elseif t == "boolean" then
        return tostring(v)
    end
    return int_text(v)
end

local function tags_text(v)
    if type(v) ~= "table" then
        return as_text(v)
    end
    local out = {}
    for i, tag in ipairs(v) do
        out[i] = tostring(tag)
    end
    return #out > 0 and concat(out, ",") or nil
end

local function read(ev, src)
    local kind, rest = match(src, "^(%a):(.+)$")
    if kind == "f" then
        return ev:get_path("content", "fields", rest)
    elseif kind == "l" then
        return ev:label(rest)
    elseif kind == "c" then
        return ev:get_path("content", rest)
    elseif kind == "m" then
        return ev:data_type() == "monitor" and ev:get(rest) or nil
    end
    local a, b = match(src, "^([^/]+)/(.+)$")
    if a then
        return ev:get_path(a, b)
    end
    if src == "=policy" then
        return ev:get("type") == "policy" and ev:get("name") or nil
    end
    if src == "=path" then
        local dir, name = ev:get("directory"), ev:get("filename")
        if type(name) ~= "string" or name == "" then
            return nil
        end
        if type(dir) == "string" and dir ~= "" then
            return sub(dir, -1) == "/" and dir .. name or dir .. "/" .. name
        end
        return name
    end
    if src == "=url" then
        local uri = ev:get_path("content", "requestUri")
        if type(uri) ~= "string" or uri == "" then
            return nil
        end
        local qs = ev:get_path("content", "queryString")
        return (type(qs) == "string" and qs ~= "") and uri .. "?" .. qs or uri
    end
    -- Top-level numbers as their JSON text: exact whatever their size.
    local raw = ev:raw(src)
    if raw and match(raw, "^%-?%d+$") then
        return raw
    end
    return ev:get(src)
end

--- The fields of an event: a table name -> string, plus `list`, the names
--- present, in M.sources order.
function M.extract(ev)
    local f, list = {}, {}
    for _, spec in ipairs(M.sources) do
        local name = spec[1]
        for i = 2, #spec do
            local v = read(ev, spec[i])
            v = name == "tags" and tags_text(v) or as_text(v)
            if v then
                f[name] = v
                list[#list + 1] = name
                break
            end
        end
    end
    if f.proto then
        f.proto = protocols[tonumber(f.proto)] or f.proto
    end
    f.list = list
    return f
end

-- Names for the event classes, for formats that want a human title.
local titles = {
    policy = "Policy event",
    command = "Command executed",
    connection = "Network connection",
    fileaccess = "File access",
    kubernetes = "Kubernetes activity",
    audittrail = "Platform audit",
    monitor = "Monitor event",
}

--- A short title: the policy name, a monitor event's name; for platform
--- audit "Platform audit: " with the request's method and path; else one
--- per event type.
function M.title(f)
    if f.policy or f.event_name then
        return f.policy or f.event_name
    end
    if f.type == "audittrail" and f.method and f.url then
        return "Platform audit: " .. f.method .. " " .. (match(f.url, "^[^?]*"))
    end
    return titles[f.type] or f.type or "Sysdig event"
end

--- An identifier of the kind of event: the rule name of a policy event;
--- for platform audit "audittrail" with the entity type and the request
--- method ("audittrail:integration:GET"), a small fixed set a SIEM can map
--- to its own event classes; else the event type.
function M.event_id(f)
    if f.rule then
        return f.rule
    end
    if f.type == "audittrail" then
        return "audittrail" .. (f.entity and ":" .. f.entity or "") .. (f.method and ":" .. f.method or "")
    end
    return f.type or "event"
end

--- The severity of an event on Sysdig's scale (0 most severe .. 7), for
--- the formats that rate events. A platform audit record always carries
--- "severity": 0, which rates nothing (it is not a High event); its
--- response status does: 401 and 403 (access refused) 4, other statuses of
--- 400 and more 5, the rest 6. Other events: their own severity, 6 when
--- they have none (activity audit).
function M.severity(ev)
    if ev:data_type() == "platform_audit" then
        local st = tonumber(ev:get_path("content", "responseStatusCode"))
        if st == 401 or st == 403 then
            return 4
        end
        return (st and st >= 400) and 5 or 6
    end
    local s = ev.severity
    if type(s) == "number" and s >= 0 and s <= 7 then
        return s
    end
    return 6
end

--- Sysdig severity (0 most severe .. 7, see M.severity) on the 0..10 scale
--- of CEF and LEEF (10 most severe): High 0..3 -> 10..7, Medium 4..5 ->
--- 6..5, Low 6 -> 3, Info 7 -> 1.
local ten = { [0] = 10, 9, 8, 7, 6, 5, 3, 1 }
function M.severity10(ev)
    return ten[M.severity(ev)]
end

return M
