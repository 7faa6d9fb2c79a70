/* lua_host.c - a host's lifecycle, the worker-side batch call, and the
 * delivery-side calls (info, request, outcome, describe).
 *
 * Ownership: the host owns its state, the watchdog, the per-integration
 * info strings and descriptions, and releases the heaps of abandoned states. The
 * conf it was created with is borrowed. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "log.h"
#include "lua_host_impl.h"
#include "redact.h"

static void add_slot(sr_lua_host *h, const char *path, const char *integration) {
    sr_lua_script *s = &h->scripts[h->nscripts++];
    s->path = path;
    s->integration = integration;
    s->row = h->conf->stats ? sr_script_stats_row(h->conf->stats, path, integration) : -1;
}

/* One slot per script, global ones first (the order lua_state.c numbers
 * them in), each with its counters. */
static int script_slots(sr_lua_host *h) {
    const sr_lua_host_conf *c = h->conf;
    size_t n = c->nscripts;
    for (size_t i = 0; i < c->nintegrations; i++)
        n += c->integrations[i].nscripts;
    h->scripts = calloc(n ? n : 1, sizeof *h->scripts);
    h->batch.counts = calloc((n ? n : 1) * SR_SCRIPT_NCOUNTERS, sizeof *h->batch.counts);
    h->batch.disabled = calloc(n ? n : 1, 1);
    if (!h->scripts || !h->batch.counts || !h->batch.disabled)
        return -1;
    for (size_t i = 0; i < c->nscripts; i++)
        add_slot(h, c->scripts[i], NULL);
    for (size_t i = 0; i < c->nintegrations; i++)
        for (size_t k = 0; k < c->integrations[i].nscripts; k++)
            add_slot(h, c->integrations[i].scripts[k], c->integrations[i].name);
    h->batch.nslots = (uint32_t)n;
    h->batch.script = -1;
    h->batch.stats = c->stats;
    return 0;
}

/* Adds what the last batch counted to the process's counters. */
static void flush_counts(sr_lua_host *h) {
    double *c = h->batch.counts;
    for (size_t i = 0; i < h->nscripts; i++, c += SR_SCRIPT_NCOUNTERS) {
        uint64_t add[SR_SCRIPT_NCOUNTERS];
        int any = 0;
        for (int k = 0; k < SR_SCRIPT_NCOUNTERS; k++) {
            add[k] = c[k] > 0 ? (uint64_t)c[k] : 0;
            any |= add[k] != 0;
            c[k] = 0;
        }
        if (any && h->conf->stats)
            sr_script_stats_add(h->conf->stats, h->scripts[i].row, add);
    }
}

sr_lua_host *sr_lua_host_new(const sr_lua_host_conf *conf, char *err, size_t errlen) {
    sr_lua_host *h = calloc(1, sizeof *h);
    if (!h)
        goto oom;
    h->conf = conf;
    h->integs = calloc(conf->nintegrations ? conf->nintegrations : 1, sizeof *h->integs);
    if (!h->integs || script_slots(h) != 0)
        goto oom;
    for (size_t i = 0; i < conf->nintegrations; i++)
        h->integs[i].spec = &conf->integrations[i];
    h->batch.timeout_ms = (uint32_t)conf->script_timeout_ms;
    h->batch.memory_limit = (double)conf->memory_limit;
    if (sr_lua_state_build(h, err, errlen) != 0)
        goto fail;
    return h;

oom:
    snprintf(err, errlen, "out of memory");
fail:
    sr_lua_host_free(h);
    return NULL;
}

void sr_lua_host_free(sr_lua_host *h) {
    if (!h)
        return;
    sr_lua_watchdog_free(h->wd);
    if (h->L)
        lua_close(h->L);
    sr_lua_heap_free(h->heap);
    for (size_t i = 0; h->integs && i < h->conf->nintegrations; i++) {
        free(h->integs[i].transport);
        free(h->integs[i].framing);
        if (h->integs[i].info.sink)
            sr_sink_settings_free(h->integs[i].info.sink, h->integs[i].settings);
        sr_buf_free(&h->integs[i].describe);
        sr_buf_free(&h->integs[i].secrets);
    }
    free(h->integs);
    sr_buf_free(&h->scratch);
    free(h->scripts);
    free(h->batch.counts);
    free(h->batch.disabled);
    free(h);
}

/* ---- Worker side -------------------------------------------------------- */

/* An interrupted state may be inconsistent (the jump left it anywhere
 * outside malloc and our C), so it is never closed; but no thread runs it
 * any more and nothing outside it points into its heap, so every block the
 * heap tracks is freed now. What LuaJIT allocated past the allocator (the
 * machine code of its traces) stays mapped. Returns the bytes released. */
static size_t abandon(sr_lua_host *h) {
    size_t bytes = sr_lua_heap_release(h->heap);
    h->L = NULL;
    h->heap = NULL;
    h->nabandoned++;
    sr_script_stats_abandoned(h->conf->stats, bytes);
    return bytes;
}

static uint64_t mono_ms(void) { return (uint64_t)(sr_lua_clock_ns() / 1e6); }

int sr_lua_script_runaway(sr_lua_batch *b, int32_t slot) {
    sr_lua_host *h = (sr_lua_host *)((char *)b - offsetof(sr_lua_host, batch));
    if (slot < 0 || (size_t)slot >= h->nscripts)
        return 0;
    int off = sr_script_stats_runaway(h->conf->stats, h->scripts[slot].row, mono_ms(),
                                      h->conf->runaway_limit, h->conf->runaway_window_ms);
    if (off)
        b->disabled[slot] = 1;
    return off;
}

/* Each slot's disabled flag as the process has it now (another worker may
 * have disabled a script, a reload enabled them all). */
static void refresh_disabled(sr_lua_host *h) {
    for (size_t i = 0; i < h->nscripts; i++)
        h->batch.disabled[i] = (uint8_t)sr_script_stats_disabled(h->conf->stats, h->scripts[i].row);
}

static void fail_event(sr_emit *out, uint32_t ev, int32_t integ, const char *stage, const char *msg,
                       const char *where) {
    if (sr_emit_failure_at(out, ev, integ, stage, msg, strlen(msg), where, strlen(where), "", 0) !=
        0)
        sr_error("lua", "event %u: %s: %s (and no memory to record it)", ev, stage, msg);
}

/* The script the batch was in, or "" (then it was an encode). */
static const char *running_script(const sr_lua_host *h) {
    int32_t k = h->batch.script;
    return k >= 0 && (size_t)k < h->nscripts ? h->scripts[k].path : "";
}

/* The watchdog cut a compiled loop short: abandon the state, build a new
 * one. Returns 0 or -1 (the host is unusable until a rebuild succeeds). */
static int recover(sr_lua_host *h) {
    char err[512];
    sr_lua_batch *b = &h->batch;
    const char *script = running_script(h);
    fail_event(b->out, b->progress, b->integ, "timeout",
               "script exceeded its time budget; it was stopped and the Lua state rebuilt", script);
    if (b->script >= 0 && (uint32_t)b->script < b->nslots) {
        double *c = b->counts + (size_t)b->script * SR_SCRIPT_NCOUNTERS;
        c[SR_SCRIPT_TIMED_OUT] += 1;
        c[SR_SCRIPT_TIME_NS] += sr_lua_clock_ns() - b->script_t0;
        sr_lua_script_runaway(b, b->script);
    }
    size_t bytes = abandon(h);
    sr_error("lua",
             "event %u: script %s ran past its %u ms budget in compiled code; abandoned "
             "the Lua state (%zu KiB released; %zu so far) and rebuilt it",
             b->progress, *script ? script : "(an encode)", b->timeout_ms, bytes / 1024,
             h->nabandoned);
    if (sr_lua_state_build(h, err, sizeof err) != 0) {
        sr_error("lua", "cannot rebuild the Lua state: %s", err);
        return -1;
    }
    return 0;
}

static int start_watchdog(sr_lua_host *h) {
    char err[256];
    if (h->wd || !h->conf->script_timeout_ms)
        return 0;
    h->wd = sr_lua_watchdog_new(&h->batch, h->conf->script_timeout_ms, 0, err, sizeof err);
    if (!h->wd) {
        sr_error("lua", "%s", err);
        return -1;
    }
    return 0;
}

/* The state stayed over its memory limit after collecting (a script keeps
 * what it allocated): closed (it is consistent) and built again. */
static int renew(sr_lua_host *h) {
    char err[512];
    size_t bytes = sr_lua_heap_bytes(h->heap);
    lua_close(h->L);
    sr_lua_heap_free(h->heap);
    h->L = NULL;
    h->heap = NULL;
    sr_warn("lua",
            "the Lua state held %zu KiB after collecting, over its limit of %zu KiB; "
            "closed and rebuilt it",
            bytes / 1024, h->conf->memory_limit / 1024);
    if (sr_lua_state_build(h, err, sizeof err) != 0) {
        sr_error("lua", "cannot rebuild the Lua state: %s", err);
        return -1;
    }
    return 0;
}

int sr_lua_host_process(sr_lua_host *h, sr_event *evs, size_t n, sr_emit *out) {
    sr_lua_batch *b = &h->batch;
    if (n == 0)
        return 0;
    if (!h->L || n > UINT32_MAX || start_watchdog(h) != 0)
        return -1;
    refresh_disabled(h);

    b->evs = evs;
    b->n = (uint32_t)n;
    b->out = out;
    b->start = 0;
    while (b->start < b->n) {
        b->progress = b->start;
        b->integ = -1;
        b->timed_out = 0;
        b->script = -1;
        lua_rawgeti(h->L, LUA_REGISTRYINDEX, h->run_ref);
        b->rebuild = 0;
        int rc = sr_lua_watched_pcall(h->wd, h->L, 0);
        if (rc == 0 && b->rebuild) {
            /* run() stopped before event `progress`: it starts the new state */
            if (renew(h) != 0)
                return -1;
            b->start = b->progress;
            continue;
        } else if (rc == 0) {
            break;
        } else if (rc == SR_LUA_INTERRUPTED) {
            if (recover(h) != 0)
                return -1;
        } else {
            /* The per-stage pcalls catch script errors; this is a timeout
             * hook that fired between them, or a bug in event_loop.lua. */
            const char *msg = lua_tostring(h->L, -1);
            fail_event(out, b->progress, b->integ,
                       b->mem_exceeded ? "memory"
                       : b->timed_out  ? "timeout"
                                       : "internal",
                       msg ? msg : "unknown error", running_script(h));
            lua_pop(h->L, 1);
        }
        b->start = b->progress + 1;
    }
    b->evs = NULL;
    b->out = NULL;
    flush_counts(h);
    return 0;
}

/* ---- Delivery side ------------------------------------------------------ */

/* Pushes integs[integ].module[field] and integs[integ].conf; returns 0, or
 * -1 (nothing pushed) when the module has no such function. */
static int push_method(sr_lua_host *h, size_t integ, const char *field) {
    lua_State *L = h->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->integs_ref);
    lua_rawgeti(L, -1, (int)integ + 1);
    lua_getfield(L, -1, "module");
    lua_getfield(L, -1, field);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 4);
        return -1;
    }
    lua_getfield(L, -3, "conf");
    lua_replace(L, -5);
    lua_replace(L, -3);
    lua_pop(L, 1);
    return 0; /* stack: conf, fn */
}

int sr_lua_host_info(sr_lua_host *h, size_t integ, sr_integration_info *out) {
    if (integ >= h->conf->nintegrations)
        return -1;
    *out = h->integs[integ].info;
    return 0;
}

int sr_lua_host_describe(sr_lua_host *h, size_t integ, sr_buf *out) {
    if (integ >= h->conf->nintegrations)
        return -1;
    const sr_buf *d = &h->integs[integ].describe;
    return sr_buf_append(out, d->data, d->len);
}

void sr_lua_host_redact(sr_lua_host *h, size_t integ, char *text, size_t len) {
    if (!text || integ >= h->conf->nintegrations)
        return;
    const sr_buf *s = &h->integs[integ].secrets;
    /* A signed assertion or token the module made from a secret (a service
     * account's JWT) is a credential too, and a token endpoint may echo it. */
    sr_redact_jwt(text, len);
    for (size_t off = 0; off < s->len;) {
        const char *v = s->data + off;
        size_t vlen = strlen(v);
        /* Each secret in every encoding it may be echoed in (redact.h); for
         * "user:password", the password alone too. */
        sr_redact(text, len, v, vlen);
        const char *colon = memchr(v, ':', vlen);
        if (colon)
            sr_redact(text, len, colon + 1, vlen - (size_t)(colon + 1 - v));
        off += vlen + 1;
    }
}

/* Pushes the records joined as the integration's framing says. */
static int push_body(sr_lua_host *h, const char *framing, const char *const *recs,
                     const uint32_t *lens, size_t n) {
    lua_State *L = h->L;
    sr_buf *b = &h->scratch;
    int rc = 0;

    if (strcmp(framing, "list") == 0) {
        lua_createtable(L, (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            lua_pushlstring(L, recs[i], lens[i]);
            lua_rawseti(L, -2, (int)i + 1);
        }
        return 0;
    }
    int array = strcmp(framing, "json_array") == 0;
    int ndjson = strcmp(framing, "ndjson") == 0;
    sr_buf_reset(b);
    if (array)
        rc |= sr_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (array && i > 0)
            rc |= sr_buf_putc(b, ',');
        rc |= sr_buf_append(b, recs[i], lens[i]);
        if (ndjson)
            rc |= sr_buf_putc(b, '\n');
    }
    if (array)
        rc |= sr_buf_putc(b, ']');
    if (rc != 0)
        return -1;
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    return 0;
}

/* Where each string of a request will sit in storage: offsets, because
 * storage may move while it grows. */
typedef struct req_layout {
    size_t method, url, body, body_len;
    size_t names[64], values[64];
    size_t nheaders;
} req_layout;

static int store(sr_buf *s, const char *p, size_t n, size_t *off) {
    *off = s->len;
    return sr_buf_append(s, p, n) || sr_buf_putc(s, '\0');
}

static int store_value(lua_State *L, int idx, sr_buf *s, size_t *off) {
    size_t n;
    const char *p = lua_tolstring(L, idx, &n);
    return store(s, p, n, off);
}

static int has_crlf(const char *p, size_t n) {
    return memchr(p, '\r', n) != NULL || memchr(p, '\n', n) != NULL;
}

/* Copies the table `request` returned (at the top of the stack) into out.
 * `body` is the stack index of the framed batch and `framed` its bytes: a
 * request that sends them unchanged points at `framed` instead of taking a
 * copy (batches are up to megabytes, and the sink copies them once more). */
static int take_request(lua_State *L, int body, const sr_buf *framed, sr_http_request_buf *out,
                        char *err, size_t errlen) {
    int t = lua_gettop(L);
    sr_buf *s = &out->storage;
    req_layout lay = {0};
    int rc = 0;

    lua_getfield(L, t, "method");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushliteral(L, "POST");
    }
    lua_getfield(L, t, "url");
    lua_getfield(L, t, "body");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        /* The framed batch; with "list" framing there is none to default to
         * (a GET or a step then sends an empty body). */
        if (lua_type(L, body) == LUA_TSTRING)
            lua_pushvalue(L, body);
        else
            lua_pushliteral(L, "");
    }
    if (lua_type(L, t + 1) != LUA_TSTRING || lua_type(L, t + 2) != LUA_TSTRING ||
        lua_type(L, t + 3) != LUA_TSTRING) {
        snprintf(err, errlen,
                 "request() must return { method = string, url = string, body = "
                 "string, headers = table }");
        return -1;
    }
    rc |= store_value(L, t + 1, s, &lay.method);
    rc |= store_value(L, t + 2, s, &lay.url);
    lay.body_len = lua_objlen(L, t + 3);
    int unchanged = lua_type(L, body) == LUA_TSTRING && lua_rawequal(L, t + 3, body) &&
                    framed->len == lay.body_len;
    if (!unchanged)
        rc |= store_value(L, t + 3, s, &lay.body);

    lua_getfield(L, t, "headers");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, t + 4)) {
            size_t nl, vl;
            if (lua_type(L, -2) != LUA_TSTRING ||
                (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)) {
                snprintf(err, errlen, "request(): headers must map names to strings");
                return -1;
            }
            const char *name = lua_tolstring(L, -2, &nl);
            const char *value = lua_tolstring(L, -1, &vl);
            if (lay.nheaders == 64) {
                snprintf(err, errlen, "request(): more than 64 headers");
                return -1;
            }
            if (has_crlf(name, nl) || has_crlf(value, vl)) {
                snprintf(err, errlen, "request(): header '%s' contains a line break", name);
                return -1;
            }
            rc |= store(s, name, nl, &lay.names[lay.nheaders]);
            rc |= store(s, value, vl, &lay.values[lay.nheaders]);
            lay.nheaders++;
            lua_pop(L, 1);
        }
    }
    if (rc != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    out->req.method = s->data + lay.method;
    out->req.url = s->data + lay.url;
    out->req.body = unchanged ? (framed->data ? framed->data : "") : s->data + lay.body;
    out->req.body_len = lay.body_len;
    for (size_t i = 0; i < lay.nheaders; i++)
        out->headers[i] = (sr_sink_header){s->data + lay.names[i], s->data + lay.values[i]};
    out->req.headers = out->headers;
    out->req.nheaders = lay.nheaders;
    out->step[0] = '\0';
    lua_getfield(L, t, "step");
    if (lua_type(L, -1) == LUA_TSTRING)
        snprintf(out->step, sizeof out->step, "%s", lua_tostring(L, -1));
    else if (!lua_isnil(L, -1)) {
        snprintf(err, errlen, "request(): step must be a string");
        return -1;
    }
    return 0;
}

int sr_lua_host_request(sr_lua_host *h, size_t integ, const char *const *recs, const uint32_t *lens,
                        size_t n, sr_http_request_buf *out, char *err, size_t errlen) {
    lua_State *L = h->L;
    if (!L || integ >= h->conf->nintegrations) {
        snprintf(err, errlen, "no such integration");
        return -1;
    }
    int top = lua_gettop(L);
    int rc = -1;
    sr_buf_reset(&out->storage);
    memset(&out->req, 0, sizeof out->req);

    if (push_method(h, integ, "request") != 0) {
        snprintf(err, errlen, "integration type %s has no request() function",
                 h->integs[integ].spec->type);
        goto done;
    }
    if (push_body(h, h->integs[integ].info.framing, recs, lens, n) != 0) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    int body = lua_gettop(L);
    lua_pushvalue(L, -1);
    lua_insert(L, body - 1); /* keep a copy: the default request body */
    lua_pushnumber(L, (lua_Number)n);
    lua_pushvalue(L, body - 2); /* conf */
    if (lua_pcall(L, 3, 1, 0) != 0) {
        snprintf(err, errlen, "request(): %s", lua_tostring(L, -1));
        goto done;
    }
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "request() returned a %s, expected a table", luaL_typename(L, -1));
        goto done;
    }
    rc = take_request(L, body - 1, &h->scratch, out, err, errlen);
done:
    lua_settop(L, top);
    return rc;
}

static int parse_kind(const char *s, sr_outcome_kind *k) {
    if (!s)
        return -1;
    if (strcmp(s, "ok") == 0)
        *k = SR_OUTCOME_OK;
    else if (strcmp(s, "retry") == 0)
        *k = SR_OUTCOME_RETRY;
    else if (strcmp(s, "reject") == 0)
        *k = SR_OUTCOME_REJECT;
    else if (strcmp(s, "again") == 0)
        *k = SR_OUTCOME_AGAIN;
    else if (strcmp(s, "split") == 0)
        *k = SR_OUTCOME_SPLIT;
    else
        return -1;
    return 0;
}

/* 2xx ok; 408, 429 and 5xx are worth trying again; anything else is the
 * request's fault and would fail the same way. */
static void default_outcome(const sr_sink_result *res, sr_outcome *out) {
    long st = res->status;
    if (st >= 200 && st < 300)
        out->kind = SR_OUTCOME_OK;
    else if (st == 408 || st == 429 || st >= 500)
        out->kind = SR_OUTCOME_RETRY;
    else
        out->kind = SR_OUTCOME_REJECT;
    snprintf(out->reason, sizeof out->reason, "HTTP %ld", st);
}

/* Reads outcome()'s (kind, reason, items) from the top three slots. */
static int take_outcome(lua_State *L, size_t n, sr_outcome *out, char *err, size_t errlen) {
    int kind = lua_gettop(L) - 2;
    if (parse_kind(lua_tostring(L, kind), &out->kind) != 0) {
        snprintf(err, errlen,
                 "outcome() returned %s, expected \"ok\", \"retry\", \"reject\", \"again\" or "
                 "\"split\"",
                 lua_isstring(L, kind) ? lua_tostring(L, kind) : luaL_typename(L, kind));
        return -1;
    }
    if (lua_isstring(L, kind + 1))
        snprintf(out->reason, sizeof out->reason, "%s", lua_tostring(L, kind + 1));
    if (!lua_istable(L, kind + 2) || n == 0)
        return 0;
    out->items = malloc(n);
    if (!out->items) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    out->nitems = n;
    for (size_t i = 0; i < n; i++) {
        sr_outcome_kind k = out->kind; /* an item not given shares the batch's fate */
        lua_rawgeti(L, kind + 2, (int)i + 1);
        if (!lua_isnil(L, -1) &&
            (parse_kind(lua_tostring(L, -1), &k) != 0 || k > SR_OUTCOME_REJECT)) {
            snprintf(err, errlen, "outcome(): item %zu is not \"ok\", \"retry\" or \"reject\"",
                     i + 1);
            lua_pop(L, 1);
            return -1;
        }
        out->items[i] = (uint8_t)k;
        lua_pop(L, 1);
    }
    return 0;
}

static void push_response_headers(lua_State *L, const sr_sink_result *res) {
    lua_newtable(L);
    if (res->retry_after_ms >= 0) {
        lua_pushfstring(L, "%d", (int)((res->retry_after_ms + 999) / 1000));
        lua_setfield(L, -2, "retry-after");
    }
}

int sr_lua_host_outcome(sr_lua_host *h, size_t integ, const sr_sink_result *res, size_t n,
                        sr_outcome *out) {
    lua_State *L = h->L;
    char err[256];
    memset(out, 0, sizeof *out);
    if (!res->transport_ok) {
        out->kind = SR_OUTCOME_RETRY;
        snprintf(out->reason, sizeof out->reason, "%s", res->error);
        return 0;
    }
    if (!L || integ >= h->conf->nintegrations)
        return -1;
    int top = lua_gettop(L);
    if (push_method(h, integ, "outcome") != 0) {
        default_outcome(res, out);
        return 0;
    }
    lua_insert(L, -2); /* fn, conf */
    int conf = lua_gettop(L);
    lua_pushnumber(L, (lua_Number)res->status);
    lua_insert(L, conf);
    lua_pushlstring(L, res->body ? res->body : "", res->body ? res->body_len : 0);
    lua_insert(L, conf + 1);
    lua_pushnumber(L, (lua_Number)n);
    lua_insert(L, conf + 2); /* fn, status, body, n, conf */
    push_response_headers(L, res);
    int rc = lua_pcall(L, 5, 3, 0);
    if (rc != 0)
        snprintf(err, sizeof err, "outcome(): %s", lua_tostring(L, -1));
    if (rc != 0 || take_outcome(L, n, out, err, sizeof err) != 0) {
        /* A broken outcome() must not wedge delivery: fall back to the
         * status code, and say why. */
        sr_outcome_free(out);
        default_outcome(res, out);
        sr_error("lua", "integration '%s': %s", h->integs[integ].spec->name, err);
        snprintf(out->reason, sizeof out->reason, "HTTP %ld (%.200s)", res->status, err);
    }
    lua_settop(L, top);
    return 0;
}

int sr_lua_host_step(sr_lua_host *h, size_t integ, const char *step, const sr_sink_result *res,
                     char *reason, size_t reasonlen) {
    lua_State *L = h->L;
    reason[0] = '\0';
    if (!res->transport_ok) {
        snprintf(reason, reasonlen, "%s: %s", step, res->error);
        return 1;
    }
    if (!L || integ >= h->conf->nintegrations)
        return 1;
    int top = lua_gettop(L);
    int rc = 1;
    if (push_method(h, integ, "step") != 0) {
        snprintf(reason, reasonlen, "request() returned step '%s' but there is no step()", step);
        goto done;
    }
    lua_insert(L, -2); /* fn, conf */
    int conf = lua_gettop(L);
    lua_pushstring(L, step);
    lua_insert(L, conf);
    lua_pushnumber(L, (lua_Number)res->status);
    lua_insert(L, conf + 1);
    lua_pushlstring(L, res->body ? res->body : "", res->body ? res->body_len : 0);
    lua_insert(L, conf + 2); /* fn, step, status, body, conf */
    push_response_headers(L, res);
    if (lua_pcall(L, 5, 2, 0) != 0) {
        snprintf(reason, reasonlen, "step(%s): %s", step, lua_tostring(L, -1));
        sr_error("lua", "integration '%s': %s", h->integs[integ].spec->name, reason);
        goto done;
    }
    int v = lua_gettop(L) - 1;
    if (lua_isstring(L, v + 1))
        snprintf(reason, reasonlen, "%s", lua_tostring(L, v + 1));
    if (lua_toboolean(L, v) && !(lua_isstring(L, v) && strcmp(lua_tostring(L, v), "reject") == 0))
        rc = 0;
    else if (lua_isstring(L, v) && strcmp(lua_tostring(L, v), "reject") == 0)
        rc = 2;
    if (rc != 0 && !reason[0])
        snprintf(reason, reasonlen, "%s: HTTP %ld", step, res->status);
done:
    lua_settop(L, top);
    return rc;
}

void sr_outcome_free(sr_outcome *o) {
    free(o->items);
    o->items = NULL;
    o->nitems = 0;
}
