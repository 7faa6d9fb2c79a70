-- bulk.lua - what integrations whose platforms answer per record share
-- (SPLUNK's HEC batches, ELASTIC's _bulk): folding per-record verdicts into
-- outcome()'s (kind, reason, items), and the answer to a 413.
local M = {}

local format = string.format
local setmetatable = setmetatable

--- outcome()'s answer for records whose kinds are items[1..n]: the batch's
--- kind ("retry" if any record is to be retried, else "reject" if any was
--- rejected, else "ok"), the reason, and the items table only when the
--- records differ.
function M.verdict(items, n, reason)
    local ok, retry, reject = 0, 0, 0
    for i = 1, n do
        local k = items[i]
        if k == "ok" then
            ok = ok + 1
        elseif k == "reject" then
            reject = reject + 1
        else
            retry = retry + 1
        end
    end
    local kind = retry > 0 and "retry" or (reject > 0 and "reject" or "ok")
    if ok == n or retry == n or reject == n then
        return kind, reason
    end
    return kind, reason, items
end

--- items[1..k] = kind, items[k+1..n] = rest.
function M.fill(kind, k, rest, n)
    local items = {}
    for i = 1, n do
        items[i] = i <= k and kind or rest
    end
    return items
end

-- Request sizes. Platforms cap request bodies (Splunk Cloud at 1 MB,
-- Elasticsearch's http.max_content_length, a proxy's client_max_body_size)
-- and a 413 does not say by how much. The verdict "split" has the delivery
-- engine send the batch again in halves without spending an attempt (and
-- reject a single record that is still too large); the reason names the
-- refused size so that an operator can set `batch: {max_bytes}` under the
-- limit rather than pay a split for every batch. request() and outcome() of
-- an integration never interleave (one batch in flight), so the size the
-- last request() noted is the one refused.
local sizes = setmetatable({}, { __mode = "k" })

--- Notes the size of the request body built for conf.
function M.note_size(conf, body)
    sizes[conf] = #body
end

--- outcome()'s answer to HTTP 413.
function M.too_large(conf, n)
    local bytes = sizes[conf]
    if not bytes then
        return "split", "HTTP 413: request too large"
    end
    return "split", format("HTTP 413: request too large (%d records, %d bytes); if this repeats, "
        .. "set batch max_bytes under the limit", n, bytes)
end

return M
