-- scc.lua - SCC: Google Security Command Center (API v1), one finding per
-- runtime policy event.
--
-- Keys: Sysdig's organization, securityMarks and credentialsJson; source
-- (an existing source, skipping discovery), sourceDisplayName,
-- sourceDescription and resourceName; endpoint and tokenUri override
-- Google's URLs (tests, private endpoints).
--
-- Sequence, one event per batch (max_events_limit = 1), each request
-- authorized with the service account's token (scope cloud-platform):
--   1. token      POST <token URI>                        (step "token", when needed)
--   2. sources    GET  /v1/organizations/O/sources?pageSize=100[&pageToken=]
--                 the first source whose displayName is sourceDisplayName
--                 is used                                  (step "sources", once)
--   3. source     POST /v1/organizations/O/sources {displayName, description}
--                 when none matched                        (step "source", once)
--   4. finding    POST /v1/<source>/findings?findingId=<id> <Finding>
--   5. marks      PATCH /v1/<source>/findings/<id>/securityMarks?updateMask=marks.k1,...
--                 {"marks":{...}}, when securityMarks are configured
-- The source name is kept for the gateway's life (per conf). With marks,
-- 4 is a step and 5 the batch's own request (SCC ignores marks on create);
-- without, 4 is the batch's request.
--
-- findingId is the event's id (32 hex characters for Sysdig events). An id
-- that is not 1-32 letters and digits is replaced by the first 32 hex
-- digits of its SHA-256, so that a resent event maps to the same finding.
-- A 409 ALREADY_EXISTS on create is success: the event was sent before.
--
-- The finding: state ACTIVE, findingClass THREAT, category the rule name
-- (else the policy name), eventTime the event's nanosecond timestamp
-- (exact), severity from Sysdig's (0-3 HIGH, 4-5 MEDIUM, 6-7 LOW),
-- description the rule's output, resourceName the organization (or
-- `resourceName`), and sourceProperties the event's fields flattened:
-- keys are the JSON path joined with "_", characters other than letters,
-- digits and "_" replaced by "_", prefixed with "p_" when they would not
-- start with a letter (SCC's rule). Integers beyond 2^53 (the nanosecond
-- timestamp) are strings so that no digit is lost in a protobuf Value.
-- Arrays of strings stay arrays; other arrays are their JSON text.
--
-- Outcomes. Finding and marks: 2xx ok; 409 ALREADY_EXISTS on create ok;
-- 401 new token and again at once (twice refused: retry); 404 (source or
-- finding gone) finds the source again / creates the finding again, at
-- once; the retryable gRPC codes and 408, 429, 499, 5xx retry; anything
-- else (400, 403...) rejects: dead-lettered. Source discovery failures
-- retry whatever the status: they are about the integration's setup (a
-- missing role), not the event, so events stay queued until it is fixed.
local crypto = require "siemrelay.crypto"
local google = require "google"
local json = require "json"
local per_conf = require "per_conf"
local severity_of = require "severity"

local M = {}

M.type = "SCC"
M.transport = "http"
M.framing = "list"
-- Runtime policy events only: findings. Activity and platform audit
-- records are logs of what happened, not security issues about a resource
-- (docs/integrations.md, "Channels per type").
M.channels = { "SECURE_EVENTS_POLICIES" }

M.ENDPOINT = "https://securitycenter.googleapis.com"
M.SCOPE = google.SCOPE_CLOUD_PLATFORM
M.DISPLAY_NAME = "Sysdig Secure"
M.DESCRIPTION = "Sysdig Secure runtime policy events, forwarded by siemrelay"

M.options = {
    organization = { required = true, type = "string",
        description = "GCP organization id (digits, or organizations/<id>)" },
    securityMarks = { type = "any",
        description = "security marks set on each finding: a list of {key, value} or a map" },
    credentialsJson = { required = true, type = "string", secret = true,
        description = "the service account's JSON key" },
    source = { type = "string",
        description = "an existing source (organizations/O/sources/S, or S): skips discovery" },
    sourceDisplayName = { type = "string", default = M.DISPLAY_NAME,
        description = "display name of the source found or created" },
    sourceDescription = { type = "string", default = M.DESCRIPTION,
        description = "description of a source created" },
    resourceName = { type = "string",
        description = "the findings' resourceName (default: the organization)" },
    endpoint = { type = "string", default = M.ENDPOINT,
        description = "Security Command Center API base URL (override for tests)" },
    tokenUri = { type = "string",
        description = "OAuth2 token URI (default: the key's token_uri, else Google's)" },
    timeout = { type = "integer", default = 30000, description = "request timeout in milliseconds" },
}

-- One finding per request: a batch is one event.
M.batch = { max_events = 1, max_bytes = 1048576, linger_ms = 0 }

local type, tostring, tonumber, pairs, ipairs = type, tostring, tonumber, pairs, ipairs
local find, format, gsub, match, sub = string.find, string.format, string.gsub, string.match,
    string.sub
local concat, sort = table.concat, table.sort
local floor = math.floor
local unpack = unpack
local q = json.encode_string

-- What the delivery state learned per conf: the source, the discovery's
-- progress, the finding created ahead of its marks.
local states = setmetatable({}, { __mode = "k" })

local function state(conf)
    local st = states[conf]
    if not st then
        st = {}
        states[conf] = st
    end
    return st
end

local prepare = per_conf(function(conf)
    local org = match(conf.organization, "^organizations/(%d+)$") or conf.organization
    if not find(org, "^%d+$") then
        error("organization must be the organization's numeric id", 0)
    end
    local base = google.base_url(conf.endpoint, M.ENDPOINT)
    local p = {
        org = org,
        parent = "organizations/" .. org,
        base = base,
        display = conf.sourceDisplayName or M.DISPLAY_NAME,
        resource = conf.resourceName or ("//cloudresourcemanager.googleapis.com/organizations/" .. org),
    }
    if p.display == "" then
        error("sourceDisplayName must not be empty", 0)
    end
    if conf.source and conf.source ~= "" then
        local s = conf.source
        if find(s, "^[%w%-_]+$") then
            s = p.parent .. "/sources/" .. s
        end
        if not match(s, "^organizations/" .. org .. "/sources/[%w%-_]+$") then
            error("source must be organizations/" .. org .. "/sources/<id> or <id>", 0)
        end
        p.source = s
    end
    local marks = google.key_values(conf.securityMarks, "securityMarks")
    if #marks > 0 then
        local body, mask = {}, {}
        for i, kv in ipairs(marks) do
            -- The key goes into the update mask (marks.<key>) unescaped.
            if not find(kv[1], "^[%w_%-]+$") or #kv[1] > 256 then
                error(format("securityMarks: key '%s' must be 1-256 letters, digits, '_' or '-'",
                    kv[1]), 0)
            end
            body[i] = q(kv[1]) .. ":" .. q(kv[2])
            mask[i] = "marks." .. kv[1]
        end
        p.marks_body = '{"marks":{' .. concat(body, ",") .. "}}"
        p.mask = concat(mask, ",")
    end
    if conf.timeout and conf.timeout <= 0 then
        error("'timeout' must be a positive number of milliseconds", 0)
    end
    return p
end)

function M.setup(conf)
    prepare(conf)
    google.token_cache(conf, conf.credentialsJson, M.SCOPE, conf.tokenUri, "credentialsJson")
    return { timeout_ms = conf.timeout, max_events = 1, max_events_limit = 1 }
end

-- ---- encode ------------------------------------------------------------------

--- The findingId of an event id: the id itself when it is 1-32 letters and
--- digits, else 32 hex digits of its SHA-256.
function M.finding_id(id)
    if type(id) == "string" and find(id, "^%w+$") and #id <= 32 then
        return id
    end
    return sub(crypto.hex(crypto.sha256(tostring(id or ""))), 1, 32)
end

--- A sourceProperties key from a JSON path.
function M.property_key(path)
    local k = gsub(concat(path, "_"), "[^%w_]", "_")
    if not find(k, "^%a") then
        k = "p_" .. k
    end
    return sub(k, 1, 255)
end

local MAX_EXACT = 2 ^ 53
local MAX_DEPTH = 8 -- within ev:get_path's 16 keys

local function all_strings(t)
    for i = 1, #t do
        if type(t[i]) ~= "string" then
            return false
        end
    end
    return true
end

-- Sets props[key(path)], keeping the first of two paths that clean up to
-- the same key ("a.b" and "a_b") and giving the second a trailing "_".
local function put(props, path, value)
    local key = M.property_key(path)
    while props[key] ~= nil do
        key = key .. "_"
    end
    props[key] = value
end

-- The exact text of an integer leaf beyond 2^53, else its number.
local function exact_number(ev, path)
    local v = ev:get_path(unpack(path))
    if type(v) == "cdata" then
        return (match(tostring(v), "^(%-?%d+)"))
    end
    if type(v) == "number" and v == floor(v) and (v > MAX_EXACT or v < -MAX_EXACT) then
        return format("%.0f", v)
    end
    return v
end

-- Flattens decoded value v at `path` into props. Numbers are read again
-- through ev:get_path, which keeps 64-bit integers exact (the decoded copy
-- holds doubles).
local function flatten(ev, v, path, props)
    local tv = type(v)
    if tv == "table" then
        if #v > 0 then
            if all_strings(v) then
                put(props, path, v)
            elseif #path == 1 then
                put(props, path, ev:raw(path[1])) -- exact, whatever it holds
            else
                put(props, path, json.encode(v))
            end
            return
        end
        if #path >= MAX_DEPTH then
            put(props, path, json.encode(v))
            return
        end
        local keys = {}
        for k in pairs(v) do
            keys[#keys + 1] = k
        end
        sort(keys)
        for _, k in ipairs(keys) do
            path[#path + 1] = k
            flatten(ev, v[k], path, props)
            path[#path] = nil
        end
    elseif tv == "number" then
        put(props, path, exact_number(ev, path))
    elseif tv == "string" or tv == "boolean" then
        put(props, path, v)
    end -- null: nothing to say
end

--- The event's fields as sourceProperties.
function M.source_properties(ev)
    local doc = json.decode(ev:json())
    local props = {}
    if type(doc) == "table" then
        flatten(ev, doc, {}, props)
    end
    return props
end

local scc_severity = { High = "HIGH", Medium = "MEDIUM", Low = "LOW", Info = "LOW" }

local function event_time(ev)
    local ts = ev:raw("timestamp")
    if ts and find(ts, "^%d+$") then
        local ok, t = pcall(crypto.rfc3339, ts, 9)
        if ok then
            return t
        end
    end
    local t = ev:get("timestampRFC3339Nano")
    if type(t) == "string" and t ~= "" then
        return t
    end
    return crypto.rfc3339(crypto.now_ns(), 9)
end

--- The Finding for an event (a Lua table for json.encode).
function M.finding(ev, conf)
    local p = prepare(conf)
    local category = ev:get_path("content", "ruleName")
    if type(category) ~= "string" or category == "" then
        category = ev:get("name")
    end
    if type(category) ~= "string" or category == "" then
        category = "Sysdig policy event"
    end
    local f = {
        state = "ACTIVE",
        findingClass = "THREAT",
        category = category,
        eventTime = event_time(ev),
        resourceName = p.resource,
        sourceProperties = M.source_properties(ev),
    }
    local sev = scc_severity[severity_of.label(ev.severity) or ""]
    if sev then
        f.severity = sev
    end
    local output = ev:get_path("content", "output")
    if type(output) == "string" and output ~= "" then
        f.description = output
    end
    return f
end

--- The record: {"findingId":"<id>","finding":{...}}; request() splits it
--- without decoding (decoding would round the 64-bit integers).
function M.encode(ev, conf)
    return '{"findingId":"' .. M.finding_id(ev:get("id")) .. '","finding":'
        .. json.encode(M.finding(ev, conf)) .. "}"
end

--- findingId and the finding's JSON text of a record.
function M.split_record(rec)
    local id, finding = match(rec, '^{"findingId":"(%w+)","finding":(.*)}$')
    return id, finding
end

-- ---- request, step, outcome ----------------------------------------------------------

local json_headers = { ["Content-Type"] = "application/json" }

function M.request(body, n, conf)
    local p = prepare(conf)
    local rec = type(body) == "table" and body[1] or body
    local id, finding = M.split_record(rec or "")
    if not id then
        error("not an SCC record (expected {\"findingId\":...,\"finding\":...})", 0)
    end
    local headers = google.auth_headers(conf, json_headers)
    if not headers then
        return google.fetch_request(conf)
    end
    local st = state(conf)
    st.source = st.source or p.source
    if not st.source then
        if st.listed then
            return { method = "POST", url = p.base .. "/v1/" .. p.parent .. "/sources",
                headers = headers, step = "source",
                body = json.encode({ displayName = p.display,
                    description = conf.sourceDescription or M.DESCRIPTION }) }
        end
        local url = p.base .. "/v1/" .. p.parent .. "/sources?pageSize=100"
        if st.page then
            url = url .. "&pageToken=" .. google.escape(st.page)
        end
        return { method = "GET", url = url, headers = headers, body = "", step = "sources" }
    end
    p.last_id = id
    local create = { method = "POST", headers = headers, body = finding,
        url = p.base .. "/v1/" .. st.source .. "/findings?findingId=" .. id }
    if not p.marks_body then
        p.last = "finding"
        return create
    end
    if st.created ~= id then
        create.step = "finding"
        return create
    end
    p.last = "marks"
    return { method = "PATCH", headers = headers, body = p.marks_body,
        url = p.base .. "/v1/" .. st.source .. "/findings/" .. id .. "/securityMarks?updateMask="
            .. p.mask }
end

-- A 401 on any request: a fresh token, once.
local function step_unauthorized(conf, status, body)
    local kind, reason = google.unauthorized(conf, status, body)
    if kind == "again" then
        return true
    end
    return false, reason
end

-- 409 is ALREADY_EXISTS unless the body says otherwise (ABORTED).
local function already_exists(status, body)
    if status ~= 409 then
        return false
    end
    local _, code = google.error_of(body)
    return code == nil or code == "ALREADY_EXISTS"
end

local function forget_source(conf)
    local st = state(conf)
    st.source, st.listed, st.page, st.created = nil, nil, nil, nil
end

local steps = {}

function steps.sources(conf, status, body)
    local p, st = prepare(conf), state(conf)
    local doc = json.decode(body)
    if type(doc) ~= "table" then
        return false, format("list sources: HTTP %d: not JSON", status)
    end
    for _, s in ipairs(type(doc.sources) == "table" and doc.sources or {}) do
        if type(s) == "table" and s.displayName == p.display and type(s.name) == "string"
            and find(s.name, "^organizations/[^/]+/sources/[%w%-_]+$") then
            st.source, st.page = s.name, nil
            return true
        end
    end
    local nextp = doc.nextPageToken
    if type(nextp) == "string" and nextp ~= "" then
        st.page = nextp
    else
        st.page, st.listed = nil, true
    end
    return true
end

function steps.source(conf, status, body)
    local doc = json.decode(body)
    local name = type(doc) == "table" and doc.name
    if type(name) ~= "string" or not find(name, "^organizations/[^/]+/sources/[%w%-_]+$") then
        return false, format("create source: HTTP %d without a source name", status)
    end
    state(conf).source = name
    return true
end

function steps.finding(conf, status, body)
    local p = prepare(conf)
    state(conf).created = p.last_id
    return true
end

function M.step(name, status, body, conf)
    status = tonumber(status) or 0
    if name == "token" then
        return google.take_token(conf, status, body)
    end
    local fn = steps[name]
    if not fn then
        return false, "unknown step " .. tostring(name)
    end
    local ok2xx = status >= 200 and status < 300
    if ok2xx or (name == "finding" and already_exists(status, body)) then
        google.authorized(conf)
        return fn(conf, status, body)
    end
    if status == 401 then
        return step_unauthorized(conf, status, body)
    end
    local what = name == "finding" and "create finding" or
        (name == "sources" and "list sources" or "create source")
    local kind, reason = google.classify(status, body)
    reason = what .. ": " .. reason
    if name == "finding" then
        if status == 404 then
            -- The source went away: find or create it again.
            forget_source(conf)
            return true
        end
        if kind == "reject" then
            return "reject", reason
        end
    end
    return false, reason
end

function M.outcome(status, body, n, conf)
    local p = prepare(conf)
    status = tonumber(status) or 0
    local what = p.last == "marks" and "set security marks" or "create finding"
    if status >= 200 and status < 300 then
        google.authorized(conf)
        state(conf).created = nil
        return "ok", what .. ": HTTP " .. status
    end
    if p.last == "finding" and already_exists(status, body) then
        google.authorized(conf)
        return "ok", "create finding: HTTP 409: already exists (sent before)"
    end
    if status == 401 then
        local kind, reason = google.unauthorized(conf, status, body)
        return kind, what .. ": " .. reason
    end
    if status == 404 then
        -- The finding (marks) or the source (create) is gone: make it again.
        if p.last == "marks" then
            state(conf).created = nil
        else
            forget_source(conf)
        end
        return "again", what .. ": " .. google.reason(status, body)
    end
    local kind, reason = google.classify(status, body)
    if kind == "reject" then
        -- The batch is settled: a later one starts with its own create.
        state(conf).created = nil
    end
    return kind, what .. ": " .. reason
end

return M
