-- event_loop.lua - the per-batch loop: global site scripts, routing,
-- per-integration scripts, encode.
--
-- The host (runtime/lua/lua_state.c) calls event_loop.new(plan, batch) once per
-- state and then the returned run() once per batch, so crossing from C into
-- Lua costs one call per batch and the loop over events is JIT-compiled.
--
-- plan = {
--   scripts = { script, ... },            -- global site scripts, in order
--   integrations = { {                    -- in configuration order
--     index, name, mask, min_severity,    -- routing (index is 0-based, as C counts)
--     scripts = { script, ... },
--     encode, envelope, conf,             -- from the type's module (envelope optional)
--   }, ... },
-- script = { process, ctx = { integration, params }, slot, path }: slot
-- numbers the script's counters in batch.counts (lua_host.c).
--   transmit = SR_MT_* mask, enabled = local_forwarder.enabled,
--   trace = true for `siemrelay test`: notes say which script dropped an
--     event, why routing passed an integration by, and route names that
--     match no integration (sr_emit_note),
-- }
-- batch: the host's sr_lua_batch (runtime/lua/lua_host_impl.h), as light
-- userdata. Before each event run() stores its index in batch.progress:
-- the watchdog's only evidence that scripts are moving.
--
-- Every script and encode call is protected: an error fails that event for
-- that stage (and integration) and the loop goes on, with the next
-- integration of the same event or the next event (one xpcall around the
-- loop, resumed after a failure: see the end of new()). The failure names
-- the innermost site script (or module) frame as FILE:LINE and carries the
-- Lua traceback for the dead letter.
--
-- The loop over events is meant to be one LuaJIT trace that inlines
-- routing, scripts and encode: hot code below keeps clear of what ends a
-- trace (a pcall per call, loops that run once per call, string patterns;
-- see tests/bench/README.md).

local ffi = require "ffi"
local bit = require "bit"
local event = require "event" -- declares sr_event and its methods
local view = require "event_view" -- what sandboxed scripts get (lua_state.c binds them)

local C = ffi.C
local band, bor = bit.band, bit.bor
local xpcall, tostring, type = xpcall, tostring, type
local getinfo, traceback, sub = debug.getinfo, debug.traceback, string.sub

ffi.cdef [[
typedef struct sr_emit {
    sr_buf data;
    void *recs;
    size_t nrecs, recs_cap;
    void *fails;
    size_t nfails, fails_cap;
    uint32_t ndropped;
    sr_buf traces;
    void *notes;
    size_t nnotes, notes_cap;
    uint32_t unrouted[5];
    uint32_t unrouted_channels;
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
    double *counts;
    int32_t script;
    uint32_t nslots;
    double script_t0;
    void *stats;
    uint32_t mem_exceeded;
    uint32_t rebuild;
    double memory_limit;
    uint8_t *disabled;
} sr_lua_batch;

int sr_emit_record(sr_emit *e, uint32_t integ, uint32_t ev, const char *p, size_t n);
int sr_emit_event(sr_emit *e, uint32_t integ, uint32_t ev_index, const sr_event *ev,
                  const char *pre, size_t plen, const char *suf, size_t slen);
int sr_emit_failure_at(sr_emit *e, uint32_t ev, int32_t integ, const char *stage,
                       const char *msg, size_t msglen, const char *where, size_t wlen,
                       const char *trace, size_t tlen);
double sr_lua_clock_ns(void);
int sr_lua_script_runaway(sr_lua_batch *b, int32_t slot);
void sr_lua_unknown_route(void *stats, const char *name, size_t len);
int sr_emit_note_add(sr_emit *e, uint32_t ev, int32_t integ, const char *kind,
                     const char *detail, size_t len);
]]

local DROPPED = event.DROPPED
local GLOBAL = -1
local routing = event.routing

-- Per-script counters in batch.counts (script_stats.h's order).
local NCOUNTERS, C_DROPPED, C_FAILED, C_TIMED_OUT, C_TIME, C_MEMORY = 6, 1, 2, 3, 4, 5

-- A state still holding this share of its memory limit after a full
-- collection is rebuilt: a script keeps what it allocated.
local KEEP_SHARE = 0.75

local M = {}

-- Why integration `it` does not get event `ev`, or nil when it does. The
-- one routing decision: the loop, counters and tools all ask it. `transmit`
-- is the plan's SR_MT_* mask; script routes are those the global scripts
-- set on the event being processed (event.routing).
local function skip_reason(it, ev, transmit)
    if band(it.mask, ev.channel_bit) == 0 then
        return "channel"
    end
    local mt = ev.msg_type_bit
    if mt ~= 0 and band(transmit, mt) == 0 then
        return "message_type" -- platform audit has no message type and always passes
    end
    local min, sev = it.min_severity, ev.severity
    if min >= 0 and sev >= 0 and sev > min then
        return "severity"
    end
    local allow, deny = routing.allow, routing.deny
    if allow and not allow[it.name] then
        return "script_route"
    end
    if deny and deny[it.name] then
        return "script_unroute"
    end
    return nil
end
M.skip_reason = skip_reason

-- An event no integration takes is counted under the reason of the
-- integration that came closest (runtime/lua/lua_host.h's
-- sr_unrouted_reason, in that order); ROUTED ranks above them all.
local DISABLED, NO_CHANNEL, ROUTED = 0, 1, 5
local RANK = { channel = 1, message_type = 2, severity = 3, script_route = 4,
               script_unroute = 4 }

-- Where a failure happened: the innermost frame of a site script (the
-- `sources` set, "@path" -> true), else of any Lua file but this loop and
-- the event binding (an integration module's encode).
local function locate(sources)
    local fallback
    for level = 2, 80 do
        local info = getinfo(level, "Sl")
        if not info then
            break
        end
        local src = info.source
        if sources[src] and info.currentline > 0 then
            return sub(src, 2) .. ":" .. info.currentline
        end
        if not fallback and info.currentline > 0 and sub(src, 1, 1) == "@"
            and not src:find("/event_loop%.lua$") and not src:find("/event%.lua$") then
            fallback = sub(src, 2) .. ":" .. info.currentline
        end
    end
    return fallback or ""
end

-- The tracing variant of a script list: each script notes the drops it
-- makes, naming itself by its 0-based position in the list.
local function traced(list, note, batch)
    local out = {}
    for s = 1, #list do
        local script, name = list[s], tostring(s - 1)
        local process = script.process
        out[s] = {
            process = function(ev, ctx)
                local keep = process(ev, ctx)
                if keep == false or band(ev.flags, DROPPED) ~= 0 then
                    note(batch.progress, batch.integ, "drop", name)
                end
                return keep
            end,
            ctx = script.ctx, slot = script.slot, path = script.path,
        }
    end
    return out
end

function M.new(plan, batch_ptr)
    local batch = ffi.cast("sr_lua_batch *", batch_ptr)
    local scripts, nscripts = plan.scripts, #plan.scripts
    local integs, ninteg = plan.integrations, #plan.integrations
    local transmit, enabled = plan.transmit, plan.enabled
    local note = nil
    if plan.trace then
        note = function(i, integ, kind, detail)
            C.sr_emit_note_add(batch.out, i, integ, kind, detail, #detail)
        end
        scripts = traced(scripts, note, batch)
        for k = 1, ninteg do
            integs[k].scripts = traced(integs[k].scripts, note, batch)
        end
    end
    local counts, now = batch.counts, C.sr_lua_clock_ns
    -- Script files, for naming where a failure happened; integration names,
    -- for telling a route name that matches none.
    local sources, known, script_paths = {}, {}, {}
    for s = 1, nscripts do
        sources["@" .. scripts[s].path] = true
        script_paths[scripts[s].slot] = scripts[s].path
    end
    for k = 1, ninteg do
        known[integs[k].name] = true
        for s = 1, #integs[k].scripts do
            sources["@" .. integs[k].scripts[s].path] = true
            script_paths[integs[k].scripts[s].slot] = integs[k].scripts[s].path
        end
    end
    routing.known = known
    routing.unknown = function(name)
        C.sr_lua_unknown_route(batch.stats, name, #name)
    end
    if note then
        -- `siemrelay test` names the event whose script routed to nothing
        local count = routing.unknown
        routing.unknown = function(name)
            note(batch.progress, GLOBAL, "unknown", name)
            count(name)
        end
    end
    -- Each integration works on its own fork of the event, so its scripts'
    -- edits and drops never reach another. One fork slot serves them all.
    local fork_slot = ffi.new("sr_event[1]")
    local fork = ffi.cast("sr_event *", fork_slot)

    -- err is what on_error returned (a table) or a message of our own.
    local function fail(i, integ, stage, err)
        view.release() -- a sandboxed script that raised left its view bound
        if batch.mem_exceeded ~= 0 then
            -- the allocator refused past the state's memory limit; collected
            -- before the next event (run). A memory error skips the xpcall
            -- handler, so err is the bare message and the script is the one
            -- that was running.
            stage = "memory"
            batch.timed_out = 0
            local path = script_paths[batch.script] or ""
            err = { msg = tostring(type(err) == "table" and err.msg or err)
                        .. " (the Lua state's memory limit is "
                        .. tostring(batch.memory_limit) .. " bytes)",
                    where = type(err) == "table" and err.where ~= "" and err.where or path,
                    trace = type(err) == "table" and err.trace or "" }
        elseif batch.timed_out ~= 0 then
            -- the error is the one the watchdog's hook raised
            batch.timed_out = 0
            stage = "timeout"
        end
        local slot = batch.script
        if slot >= 0 then
            local base = slot * NCOUNTERS
            local k = stage == "timeout" and C_TIMED_OUT or stage == "memory" and C_MEMORY
                or C_FAILED
            counts[base + k] = counts[base + k] + 1
            counts[base + C_TIME] = counts[base + C_TIME] + (now() - batch.script_t0)
            batch.script = -1
            if k ~= C_FAILED then
                C.sr_lua_script_runaway(batch, slot) -- may disable it (disabled[slot])
            end
        end
        local msg, where, trace
        if type(err) == "table" then
            msg, where, trace = err.msg, err.where, err.trace
        else
            msg, where, trace = tostring(err), "", ""
        end
        C.sr_emit_failure_at(batch.out, i, integ, stage, msg, #msg, where, #where, trace, #trace)
    end

    -- The xpcall handler: runs where the error was raised, so the stack
    -- still shows which script line it came from.
    local function on_error(err)
        local msg = tostring(err)
        return { msg = msg, where = locate(sources), trace = traceback(msg, 2) }
    end

    -- Where the loop is, for the one pcall around it (see run below); the
    -- event is batch.progress.
    local cur_k, cur_stage = 0, "script"

    -- Runs one site script; true when the event is still wanted. An error
    -- goes up to run's xpcall. batch.script and script_t0 say which script
    -- is running since when (for fail() and the watchdog).
    local disabled = batch.disabled
    local function run_script(s, ev)
        if disabled[s.slot] ~= 0 then
            cur_stage = "disabled"
            error("site script " .. s.path .. " is disabled: it ran away (timeouts or "
                .. "memory) too often; a reload enables it again", 0)
        end
        local base = s.slot * NCOUNTERS
        batch.script = s.slot
        counts[base] = counts[base] + 1
        local t0 = now()
        batch.script_t0 = t0
        local keep = s.process(ev, s.ctx)
        counts[base + C_TIME] = counts[base + C_TIME] + (now() - t0)
        batch.script = -1
        if keep == false or band(ev.flags, DROPPED) ~= 0 then
            C.sr_lua_ev_drop(ev)
            counts[base + C_DROPPED] = counts[base + C_DROPPED] + 1
            local out = batch.out
            out.ndropped = out.ndropped + 1
            return false
        end
        return true
    end

    -- Runs a list of site scripts. One script (and one integration, in
    -- run) is the common case; a loop that runs once per call keeps LuaJIT
    -- from compiling its caller ("leaving loop in root trace"), so that
    -- case has no loop.
    local function run_scripts(list, n, ev)
        if n == 1 then
            return run_script(list[1], ev)
        end
        for s = 1, n do
            if not run_script(list[s], ev) then
                return false
            end
        end
        return true
    end

    -- After an event that hit the memory limit: a full collection, and the
    -- flag down again. True when the state still holds too much (rebuild).
    local function collect_over()
        collectgarbage("collect")
        batch.mem_exceeded = 0
        return collectgarbage("count") * 1024 > batch.memory_limit * KEEP_SHARE
    end

    local function deliver(it, ev, i)
        local index = it.index
        batch.integ = index
        if C.sr_lua_ev_fork(fork_slot, ev) ~= 0 then -- (also anchors fork_slot)
            fail(i, index, "script", "out of memory")
            return
        end
        cur_stage = "script"
        local list = it.scripts
        if not run_scripts(list, #list, fork) then
            return
        end
        cur_stage = "encode"
        local envelope = it.envelope
        if envelope then
            -- The record is pre .. ev:json() .. suf, written by C.
            local pre, suf = envelope(fork, it.conf)
            if type(pre) == "string" and type(suf) == "string" then
                if C.sr_emit_event(batch.out, index, i, fork, pre, #pre, suf, #suf) ~= 0 then
                    fail(i, index, "encode", "out of memory")
                end
            elseif pre ~= nil then
                fail(i, index, "encode", "envelope returned a " .. type(pre) .. " and a "
                    .. type(suf) .. ", expected two strings or nil")
            end
            return
        end
        local rec = it.encode(fork, it.conf)
        if type(rec) == "string" then
            if C.sr_emit_record(batch.out, index, i, rec, #rec) ~= 0 then
                fail(i, index, "encode", "out of memory")
            end
        elseif rec ~= nil then
            fail(i, index, "encode", "encode returned a " .. type(rec) .. ", expected a string or nil")
        end
    end

    local function unrouted(ev, rank)
        local out = batch.out
        out.unrouted[rank] = out.unrouted[rank] + 1
        if rank == NO_CHANNEL then
            out.unrouted_channels = bor(out.unrouted_channels, ev.channel_bit)
        end
    end

    -- Offers the event to integration k (1-based, in configuration order);
    -- returns ROUTED or the rank of why it was skipped.
    local function offer(k, ev, i)
        cur_k = k
        local it = integs[k]
        local why = skip_reason(it, ev, transmit)
        if why == nil then
            deliver(it, ev, i)
            return ROUTED
        elseif note then
            note(i, it.index, "skip", why)
        end
        return RANK[why]
    end

    -- Events i0.. from integration k0 + 1 on (k0 > 0 resumes an event whose
    -- global scripts already ran).
    local function run(i0, k0)
        local evs = batch.evs
        for i = i0, batch.n - 1 do
            local ev = evs + i
            batch.progress = i
            if batch.mem_exceeded ~= 0 and k0 == 0 and collect_over() then
                batch.rebuild = 1 -- the host rebuilds the state and starts again at i
                return
            end
            local wanted = true
            -- Resumed after a failure in integration k0's scripts or
            -- encode: the event was routed to it.
            local best = k0 > 0 and ROUTED or NO_CHANNEL
            if k0 == 0 then
                cur_k, cur_stage = 0, "script"
                batch.integ = GLOBAL
                routing.allow, routing.deny, routing.open = nil, nil, true
                wanted = run_scripts(scripts, nscripts, ev)
                routing.open = false
                if wanted and not enabled then
                    wanted = false
                    unrouted(ev, DISABLED)
                end
            end
            if wanted and ninteg == 1 and k0 == 0 then
                best = offer(1, ev, i) -- no loop for the common case (see run_scripts)
            elseif wanted then
                for k = k0 + 1, ninteg do
                    local rank = offer(k, ev, i)
                    if rank > best then
                        best = rank
                    end
                end
            end
            if wanted and best ~= ROUTED then
                unrouted(ev, best)
            end
            k0 = 0
        end
    end

    -- One xpcall around the loop rather than one per script and encode
    -- call: LuaJIT cannot compile a return through pcall to a frame below
    -- where a trace started, so per-call pcalls kept the per-event path
    -- interpreted. An error fails that event for that stage (and
    -- integration), and the loop resumes right after it.
    return function()
        local i, k = batch.start, 0
        while true do
            local ok, err = xpcall(run, on_error, i, k)
            if ok then
                return
            end
            local at = batch.progress
            fail(at, cur_k == 0 and GLOBAL or integs[cur_k].index, cur_stage, err)
            if cur_k == 0 or cur_k == ninteg then
                i, k = at + 1, 0
            else
                i, k = at, cur_k
            end
        end
    end
end

return M
