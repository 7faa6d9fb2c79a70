-- pipeline.lua - the per-batch loop: global site scripts, routing,
-- per-integration scripts, encode.
--
-- The host (runtime/lua_state.c) calls pipeline.new(plan, batch) once per
-- state and then the returned run() once per batch, so crossing from C into
-- Lua costs one call per batch and the loop over events is JIT-compiled.
--
-- plan = {
--   scripts = { process, ... },           -- global site scripts, in order
--   integrations = { {                    -- in configuration order
--     index, name, mask, min_severity,    -- routing (index is 0-based, as C counts)
--     scripts = { process, ... }, ctx = { integration = name },
--     encode, envelope, conf,             -- from the type's module (envelope optional)
--   }, ... },
--   transmit = SR_MT_* mask, enabled = local_forwarder.enabled,
-- }
-- batch: the host's sr_lua_batch (runtime/lua_host_impl.h), as light
-- userdata. Before each event run() stores its index in batch.progress:
-- the watchdog's only evidence that scripts are moving.
--
-- Every script and encode call is protected: an error fails that event for
-- that stage (and integration) and the loop goes on.

local ffi = require "ffi"
local bit = require "bit"
local event = require "event" -- declares sr_event and its methods

local C = ffi.C
local band = bit.band
local pcall, tostring, type = pcall, tostring, type

ffi.cdef [[
typedef struct sr_emit {
    sr_buf data;
    void *recs;
    size_t nrecs, recs_cap;
    void *fails;
    size_t nfails, fails_cap;
    uint32_t ndropped;
} sr_emit;

typedef struct sr_lua_batch {
    sr_event *evs;
    uint32_t n;
    uint32_t start;
    sr_emit *out;
    uint32_t progress;
    int32_t integ;
    uint32_t timed_out;
    uint32_t timeout_ms;
} sr_lua_batch;

int sr_emit_record(sr_emit *e, uint32_t integ, uint32_t ev, const char *p, size_t n);
int sr_emit_event(sr_emit *e, uint32_t integ, uint32_t ev_index, const sr_event *ev,
                  const char *pre, size_t plen, const char *suf, size_t slen);
int sr_emit_failure(sr_emit *e, uint32_t ev, int32_t integ, const char *stage,
                    const char *msg, size_t msglen);
]]

local DROPPED = event.DROPPED
local GLOBAL = -1

local M = {}

function M.new(plan, batch_ptr)
    local batch = ffi.cast("sr_lua_batch *", batch_ptr)
    local scripts, nscripts = plan.scripts, #plan.scripts
    local integs, ninteg = plan.integrations, #plan.integrations
    local transmit, enabled = plan.transmit, plan.enabled
    local global_ctx = {}
    -- Each integration works on its own fork of the event, so its scripts'
    -- edits and drops never reach another. One fork slot serves them all.
    local fork_slot = ffi.new("sr_event[1]")
    local fork = ffi.cast("sr_event *", fork_slot)

    local function fail(i, integ, stage, err)
        if batch.timed_out ~= 0 then
            -- the error is the one the watchdog's hook raised
            batch.timed_out = 0
            stage = "timeout"
        end
        local msg = tostring(err)
        C.sr_emit_failure(batch.out, i, integ, stage, msg, #msg)
    end

    -- Runs a list of site scripts; true when the event is still wanted.
    local function run_scripts(list, n, ev, ctx, i, integ)
        for s = 1, n do
            local ok, keep = pcall(list[s], ev, ctx)
            if not ok then
                fail(i, integ, "script", keep)
                return false
            end
            if keep == false or band(ev.flags, DROPPED) ~= 0 then
                C.sr_lua_ev_drop(ev)
                local out = batch.out
                out.ndropped = out.ndropped + 1
                return false
            end
        end
        return true
    end

    local function routes(it, ev)
        if band(it.mask, ev.channel_bit) == 0 then
            return false
        end
        local mt = ev.msg_type_bit
        if mt ~= 0 and band(transmit, mt) == 0 then
            return false -- platform audit has no message type and always passes
        end
        local min, sev = it.min_severity, ev.severity
        return min < 0 or sev < 0 or sev <= min
    end

    local function deliver(it, ev, i)
        local index = it.index
        batch.integ = index
        if C.sr_lua_ev_fork(fork_slot, ev) ~= 0 then -- (also anchors fork_slot)
            fail(i, index, "script", "out of memory")
            return
        end
        local list = it.scripts
        if not run_scripts(list, #list, fork, it.ctx, i, index) then
            return
        end
        local envelope = it.envelope
        if envelope then
            -- The record is pre .. ev:json() .. suf, written by C.
            local ok, pre, suf = pcall(envelope, fork, it.conf)
            if not ok then
                fail(i, index, "encode", pre)
            elseif type(pre) == "string" and type(suf) == "string" then
                if C.sr_emit_event(batch.out, index, i, fork, pre, #pre, suf, #suf) ~= 0 then
                    fail(i, index, "encode", "out of memory")
                end
            elseif pre ~= nil then
                fail(i, index, "encode", "envelope returned a " .. type(pre) .. " and a "
                    .. type(suf) .. ", expected two strings or nil")
            end
            return
        end
        local ok, rec = pcall(it.encode, fork, it.conf)
        if not ok then
            fail(i, index, "encode", rec)
        elseif type(rec) == "string" then
            if C.sr_emit_record(batch.out, index, i, rec, #rec) ~= 0 then
                fail(i, index, "encode", "out of memory")
            end
        elseif rec ~= nil then
            fail(i, index, "encode", "encode returned a " .. type(rec) .. ", expected a string or nil")
        end
    end

    local function process(i, ev)
        batch.progress = i
        batch.integ = GLOBAL
        if not run_scripts(scripts, nscripts, ev, global_ctx, i, GLOBAL) or not enabled then
            return
        end
        for k = 1, ninteg do
            local it = integs[k]
            if routes(it, ev) then
                deliver(it, ev, i)
            end
        end
    end

    return function()
        local evs = batch.evs
        for i = batch.start, batch.n - 1 do
            process(i, evs + i)
        end
    end
end

return M
