-- mcm.lua - MCM: policy events as findings in IBM Cloud Pak for Multicloud
-- Management / IBM Cloud Security Advisor, through the Findings API (based
-- on Grafeas): one note describes the kind of finding, one occurrence per
-- event refers to it.
--
-- Keys: Sysdig's API names (endpoint, accountId, providerId, noteName,
-- isInsecure, apiKey), plus iamUrl (the IAM token endpoint: on-premises
-- installations and tests), caFile and timeout.
--
-- Requests, all with Authorization: Bearer <IAM token>:
--   token   POST <iamUrl>, form grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=...
--           (lib/oauth.lua: fetched once, renewed before expiry, again after a 401)
--   note    GET  <endpoint>/v1/<accountId>/providers/<providerId>/notes/<noteName>
--           and when it answers 404:
--           POST <endpoint>/v1/<accountId>/providers/<providerId>/notes
--           {"kind":"FINDING","id":<noteName>,"short_description":..,"long_description":..,
--            "reported_by":{"id":<providerId>,"title":"Sysdig Secure","url":..},
--            "finding":{"severity":"HIGH","next_steps":[..]}}
--           a 409 (created meanwhile) counts as existing. Checked once per
--           gateway (and again after a 404 on an occurrence).
--   event   POST <endpoint>/v1/<accountId>/providers/<providerId>/occurrences, one per event
--           {"note_name":"<accountId>/providers/<providerId>/notes/<noteName>",
--            "kind":"FINDING","id":"<event id>-<noteName>",
--            "context":{"resource_name","resource_type","resource_id","service_name",
--                       "environment_name","component_name"},
--            "finding":{"severity":"HIGH|MEDIUM|LOW","next_steps":[{"title":..}]},
--            "reference_data":<the event, every field as received>}
--
-- Severity: Sysdig's High (0-3) HIGH, Medium (4-5) MEDIUM, Low and Info
-- (6-7) LOW; no severity MEDIUM.
--
-- Outcomes of an occurrence: 2xx ok; 409 ok (the occurrence id comes from
-- the event id: an earlier attempt created it); 401 new token, sent again at
-- once; 404 (the note is gone) the note is checked again and the event sent
-- again at once; 403 (the API key lacks the role), 408, 429, 5xx retry; 400
-- and anything else reject. A note that cannot be read or created is a failed
-- attempt (retry, then the Error status); credentials IAM refuses for good
-- dead-letter the batch.
local crypto = require "siemrelay.crypto"
local http = require "http"
local json = require "json"
local oauth = require "oauth"
local per_conf = require "per_conf"
local secfields = require "secfields"
local severity = require "severity"

local M = {}

M.type = "MCM"
M.transport = "http"
M.framing = "list"
-- Runtime policy events only: findings. Activity and platform audit
-- records are logs of what happened, not security issues about a resource
-- (docs/integrations.md, "Channels per type").
M.channels = { "SECURE_EVENTS_POLICIES" }

M.options = http.transport_options({
    endpoint = { required = true, type = "string",
        description = "Findings API base URL, e.g. https://us-south.secadvisor.cloud.ibm.com/findings" },
    accountId = { type = "string", default = "id-mycluster-account", description = "account the findings belong to" },
    providerId = { type = "string", default = "sysdig-secure",
        description = "the provider the findings are associated to" },
    noteName = { type = "string", default = "policy-event",
        description = "id of the note the occurrences refer to; created when missing" },
    apiKey = { required = true, type = "string", secret = true, description = "IBM Cloud API key" },
    iamUrl = { type = "string",
        description = "IAM token endpoint instead of https://iam.cloud.ibm.com/identity/token" },
}, false)

M.batch = { max_events = 1, max_bytes = 1048576, linger_ms = 0 }

local type, tostring, tonumber, error, setmetatable = type, tostring, tonumber, error, setmetatable
local format, find, gsub, sub = string.format, string.find, string.gsub, string.sub
local q = json.encode_string

M.SERVICE_NAME = "Sysdig Secure"
M.REPORTER_URL = "https://sysdig.com/products/secure/"

local finding_severity = { High = "HIGH", Medium = "MEDIUM", Low = "LOW", Info = "LOW" }

--- The Findings API severity of a Sysdig severity (0..7, -1 for none).
function M.severity(sev)
    return finding_severity[severity.label(sev) or ""] or "MEDIUM"
end

-- ---- configuration ----------------------------------------------------------------

-- Ids that go into URL paths and note names.
local function check_id(v, name)
    if type(v) ~= "string" or v == "" or #v > 256 or not find(v, "^[%w_%-%.]+$") then
        error(format("'%s' must be 1-256 letters, digits, '_', '-' or '.'", name), 0)
    end
    return v
end

local prepare = per_conf(function(conf)
    local base = gsub(http.check_url(conf.endpoint, "endpoint"), "/+$", "")
    local account = check_id(conf.accountId or M.options.accountId.default, "accountId")
    local provider = check_id(conf.providerId or M.options.providerId.default, "providerId")
    local note = check_id(conf.noteName or M.options.noteName.default, "noteName")
    if conf.timeout and conf.timeout <= 0 then
        error("'timeout' must be a positive number of milliseconds", 0)
    end
    oauth.ibm_iam(oauth.cache(conf, "main"), conf.apiKey, conf.iamUrl)
    local provider_url = format("%s/v1/%s/providers/%s", base, account, provider)
    return {
        notes_url = provider_url .. "/notes",
        note_url = provider_url .. "/notes/" .. note,
        occurrences_url = provider_url .. "/occurrences",
        note = note,
        note_name = format("%s/providers/%s/notes/%s", account, provider, note),
        note_body = json.encode({
            kind = "FINDING",
            id = note,
            short_description = "Sysdig Secure policy event",
            long_description = "A Sysdig Secure runtime policy matched an event on a host or "
                .. "container. Each occurrence carries the event in reference_data.",
            reported_by = { id = provider, title = M.SERVICE_NAME, url = M.REPORTER_URL },
            finding = {
                severity = "HIGH",
                next_steps = { { title = "Review the policy event and the workload in Sysdig Secure" } },
            },
        }),
    }
end)

function M.setup(conf)
    prepare(conf)
    return http.transport(conf, {
        max_events = 1,
        max_events_limit = 1,
        framing = "list",
    })
end

-- ---- the occurrence -------------------------------------------------------------------

-- The occurrence id: "<event id>-<noteName>". The same event always makes
-- the same id, so a resend after a lost answer is a 409, not a duplicate;
-- the note's name keeps two integrations that write one event under
-- different notes of one provider from colliding (occurrence ids are unique
-- per provider). An event without a usable id gets a digest of itself.
local function occurrence_id(ev, text, note)
    local id = ev:get("id")
    if type(id) ~= "string" or not find(id, "^[%w_%-%.]+$") or #id > 128 then
        id = sub(crypto.hex(crypto.sha256(text)), 1, 32)
    end
    return id .. "-" .. note
end

-- Context from the event's host, container and Kubernetes fields.
local function context(ev, f)
    local c = { service_name = M.SERVICE_NAME }
    local container = f.container
    if container and container ~= "host" then
        c.resource_type = "Container"
        c.resource_id = container
        c.resource_name = f.image and (f.image .. " (" .. container .. ")") or container
    else
        c.resource_type = "Host"
        local machine = ev:get("machineId")
        c.resource_id = type(machine) == "string" and machine ~= "" and machine or f.host
        c.resource_name = f.host
    end
    c.environment_name = f.cluster
    if f.pod then
        c.component_name = f.namespace and (f.namespace .. "/" .. f.pod) or f.pod
    end
    return c
end

function M.encode(ev, conf)
    local p = prepare(conf)
    local text = ev:json()
    local f = secfields.extract(ev)
    local step = "Investigate the policy event in Sysdig Secure"
    if f.policy then
        step = step .. ": " .. f.policy
        if f.rule then
            step = step .. " (rule " .. f.rule .. ")"
        end
    end
    local head = json.encode({
        note_name = p.note_name,
        kind = "FINDING",
        id = occurrence_id(ev, text, p.note),
        context = context(ev, f),
        finding = { severity = M.severity(ev.severity), next_steps = { { title = step } } },
    })
    -- The event goes in as received (64-bit integers exact): spliced in,
    -- never re-encoded.
    return sub(head, 1, -2) .. ',"reference_data":' .. text .. "}"
end

-- ---- requests -------------------------------------------------------------------------

-- Per conf: true once the note is known to exist, false when it must be
-- created, nil when it has not been checked.
local note_state = setmetatable({}, { __mode = "k" })

local function bearer(tok)
    return { Authorization = "Bearer " .. tok, Accept = "application/json" }
end

function M.request(records, n, conf)
    local p = prepare(conf)
    if n ~= 1 then
        error(format("MCM sends one event per request, got %d", n), 0)
    end
    local c = oauth.cache(conf, "main")
    local tok = c:token()
    if not tok then
        return c:fetch_request()
    end
    local known = note_state[conf]
    if known == nil then
        return { method = "GET", url = p.note_url, headers = bearer(tok), body = "", step = "note" }
    end
    local h = bearer(tok)
    h["Content-Type"] = "application/json"
    if known == false then
        return { method = "POST", url = p.notes_url, headers = h, body = p.note_body, step = "create_note" }
    end
    return { method = "POST", url = p.occurrences_url, headers = h, body = records[1] }
end

local function reason(what, status, body)
    local e = http.excerpt(body)
    return format("%s: HTTP %d%s", what, status, e and (": " .. e) or "")
end

function M.step(name, status, body, conf)
    status = tonumber(status) or 0
    if name == "token" then
        return oauth.cache(conf, "main"):take(status, body)
    end
    if status == 401 then
        -- The token was refused: drop it; request() fetches another.
        oauth.cache(conf, "main"):invalidate()
        return true
    end
    if name == "note" then
        if status >= 200 and status < 300 then
            note_state[conf] = true
            return true
        elseif status == 404 then
            note_state[conf] = false
            return true
        end
        return false, reason("reading the note", status, body)
    end
    if name == "create_note" then
        if (status >= 200 and status < 300) or status == 409 then
            note_state[conf] = true
            return true
        end
        return false, reason("creating the note", status, body)
    end
    return false, "unknown step " .. tostring(name)
end

function M.outcome(status, body, n, conf)
    status = tonumber(status) or 0
    if status >= 200 and status < 300 then
        return "ok", "HTTP " .. status
    end
    if status == 409 then
        return "ok", "HTTP 409: the occurrence exists already"
    end
    if status == 401 then
        oauth.cache(conf, "main"):invalidate()
        return "again", reason("occurrence", status, body) .. " (token refused; fetching a new one)"
    end
    if status == 404 then
        note_state[conf] = nil
        return "again", reason("occurrence", status, body) .. " (checking the note again)"
    end
    if status == 403 or status == 408 or status == 429 or status >= 500 then
        return "retry", reason("occurrence", status, body)
    end
    return "reject", reason("occurrence", status, body)
end

return M
