-- testhttp.lua - an http integration type for test_lua_host.c.
local M = {
    type = "TESTHTTP",
    transport = "http",
    framing = "ndjson",
    channels = { "SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT", "PLATFORM_AUDIT", "MONITOR_EVENTS" },
}

M.options = {
    endpoint = { required = true, type = "string", description = "where to POST" },
    ServiceURL = { alias_of = "endpoint" },
    token = { type = "string", secret = true },
    isInsecure = { type = "boolean", default = false },
    headers = { type = "map" },
    tags = { type = "list" },
    output = { type = "string", enum = { "json", "ndjson" }, default = "json" },
    retries = { type = "integer", default = 3 },
    encode_error = { type = "string", description = "fail encode for events of this type" },
    setup_extra = { type = "any", description = "keys added to what setup returns" },
}

M.batch = { max_events = 100, max_bytes = 65536, linger_ms = 50 }

function M.setup(conf)
    if not conf.endpoint:match("^https?://") then
        error("endpoint must be an http(s) URL, got '" .. conf.endpoint .. "'", 0)
    end
    local ret = { timeout_ms = 1234, insecure = conf.isInsecure, max_events = 7, ca_file = "/ca.pem" }
    for k, v in pairs(conf.setup_extra or {}) do
        ret[k] = v
    end
    return ret
end

function M.encode(ev, conf)
    if conf.encode_error and ev:type_name() == conf.encode_error then
        error("cannot encode a " .. conf.encode_error, 0)
    end
    return ev:json()
end

function M.request(body, n, conf)
    local headers = { ["X-Count"] = n, ["Content-Type"] = "application/x-ndjson" }
    if conf.token then
        headers.Authorization = "Bearer " .. conf.token
    end
    for k, v in pairs(conf.headers or {}) do
        headers[k] = v
    end
    return { method = "PUT", url = conf.endpoint .. "/ingest", headers = headers, body = body }
end

-- 207: the body lists one verdict per record, comma-separated.
function M.outcome(status, body, n, conf, headers)
    if status == 207 then
        local items = {}
        for v in body:gmatch("[^,]+") do
            items[#items + 1] = v
        end
        return "retry", "partial", items
    elseif status == 418 then
        return "sideways"
    elseif status == 429 then
        return "retry", "slow down for " .. (headers["retry-after"] or "?") .. "s"
    end
    return status < 300 and "ok" or "reject", "status " .. status
end

return M
