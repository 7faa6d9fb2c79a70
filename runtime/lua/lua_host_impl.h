/* lua_host_impl.h - what the files of the Lua host share; not a public API.
 *
 *   lua_host.c      lifecycle, process(), and the delivery-side calls
 *   lua_state.c     building a state: libraries, modules, options, setup,
 *                   scripts and the pipeline
 *   lua_options.c   checking a configuration tree against a module's option
 *                   schema, and describing the result with secrets masked
 *   lua_sink_settings.c  a transport's settings from what `setup` returned
 *   lua_watchdog.c  the allocator, the interrupt guard and the watchdog
 *                   thread that stops runaway scripts
 *   lua_ffi.c       the C functions Lua reaches through ffi.C
 *
 * Lua keeps per-integration state in one registry table (integs_ref), an
 * array of records { name, type, module, conf, setup, scripts, ... }; C
 * keeps what must outlive a state (info strings, the describe document). */
#ifndef SR_LUA_HOST_IMPL_H
#define SR_LUA_HOST_IMPL_H

#include <lua.h>
#include <stdint.h>

#include "lua_host.h"

/* The batch in flight, shared with event_loop.lua through the FFI (its cdef
 * mirrors this layout; tests/unit/test_ffi_layouts.c checks they agree). Its address is handed to
 * each state once, so per batch C only fills it in and calls run(). */
typedef struct sr_lua_batch {
    sr_event *evs;
    uint32_t n;
    uint32_t start; /* first event to process: > 0 after a rebuild */
    sr_emit *out;
    uint32_t progress;  /* event being processed; written by Lua, read by the watchdog */
    int32_t integ;      /* integration being processed, -1 for global scripts */
    uint32_t timed_out; /* set by the timeout hook: the error Lua caught is ours */
    uint32_t timeout_ms;
    double *counts;         /* SR_SCRIPT_NCOUNTERS per script slot, added up by Lua */
    int32_t script;         /* slot of the script running, -1 when none */
    uint32_t nslots;        /* script slots */
    double script_t0;       /* clock when that script was called (sr_lua_clock_ns) */
    sr_script_stats *stats; /* may be NULL */
    uint32_t mem_exceeded;  /* the state's memory limit refused an allocation: the
                               error Lua caught is "not enough memory"; cleared by
                               Lua once it has collected */
    uint32_t rebuild;       /* set by Lua: still over the limit after collecting */
    double memory_limit;    /* bytes; 0 = none */
    uint8_t *disabled;      /* per script slot, 1: disabled after too many runaways */
} sr_lua_batch;

/* A site script as the host counts it: slot k of the batch's counts. Global
 * scripts come first, then each integration's, in configuration order. */
typedef struct sr_lua_script {
    const char *path;
    const char *integration; /* NULL: global */
    int row;                 /* in conf->stats, -1 when none */
} sr_lua_script;

/* What the first build learned about one integration; kept for the host's
 * lifetime so pointers handed out by sr_lua_host_info stay valid. */
typedef struct sr_lua_integ {
    const sr_integration_spec *spec;
    unsigned channels; /* effective mask */
    sr_integration_info info;
    char *transport, *framing; /* info's strings */
    void *settings;            /* info.settings, of info.sink */
    sr_buf describe;
    sr_buf secrets; /* secret option values, each NUL-terminated */
} sr_lua_integ;

typedef struct sr_lua_watchdog sr_lua_watchdog;
typedef struct sr_lua_heap sr_lua_heap;

struct sr_lua_host {
    const sr_lua_host_conf *conf;
    lua_State *L;
    sr_lua_heap *heap; /* L's memory */
    int integs_ref;    /* registry: array of per-integration records */
    int run_ref;       /* registry: pipeline run() */
    sr_lua_integ *integs;
    int built; /* integs[].info and .describe are filled */
    sr_lua_batch batch;
    sr_lua_watchdog *wd; /* started by the first process() with a timeout */
    /* States abandoned after an interrupt (never closed: they may be
     * inconsistent; their heaps are released block by block at once). */
    size_t nabandoned;
    char loading[512]; /* what the build is loading, for a load that never ends */
    sr_buf scratch;
    sr_lua_script *scripts; /* the batch's script slots */
    size_t nscripts;
};

/* ---- lua_state.c ---- */

/* Creates h->L (and h->heap) and loads everything; on failure both are
 * NULL. */
int sr_lua_state_build(sr_lua_host *h, char *err, size_t errlen);

/* Runs a Lua file in its own environment (globals read through to _G) and
 * pushes what it returned; raises "<what>: <error>" on failure. Also used
 * by lua_schema.c to read integration modules' option schemas. */
void sr_lua_run_file(lua_State *L, const char *path, const char *what);

/* Raises a Lua error with a printf-style message (full printf, unlike
 * luaL_error). */
void sr_lua_raise(lua_State *L, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));

/* Raises "FILE:LINE: integration 'NAME' (TYPE): <message>". */
void sr_lua_raise_integ(lua_State *L, const sr_integration_spec *s, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

/* ---- lua_options.c ---- */

/* With the module at `mod` on the stack, checks spec->configuration against
 * M.options and pushes the canonical conf table. Raises on invalid input,
 * naming file, line and key. With `describe`, also writes the conf there as
 * JSON with secret options masked, and appends each secret option's string
 * value, NUL-terminated, to `secrets` (for redaction). */
void sr_lua_options_check(lua_State *L, int mod, const sr_integration_spec *spec, sr_buf *describe,
                          sr_buf *secrets);

/* With a site script's module table at `mod`, checks its `params:` (may be
 * NULL) against the module's `params` schema (same shape as M.options;
 * without one, any map is taken as is, typed like an `any` option) and
 * pushes the params table. Errors read "FILE:LINE: <who>: ...", the line
 * of the offending key or else of the entry. */
void sr_lua_params_check(lua_State *L, int mod, const char *who, const sr_node *params,
                         const char *file, int line);

/* ---- lua_sink_settings.c ---- */

/* Fills in->info.sink and in->settings (replacing earlier ones) for the
 * transport named in->info.transport from setup's result at `ret` (nil: all
 * defaults). Raises for a transport that is not a native one, a value of the
 * wrong type, or a key that is neither in `host_keys` (NULL-terminated: what
 * the host reads itself) nor declared by the transport. */
void sr_lua_sink_settings(lua_State *L, sr_lua_integ *in, int ret, const char *const *host_keys);

/* Raises setup's error `msg` for integration `s` (module at `mod`) at the
 * line of the configuration key it names (quoted or leading, as modules
 * write them), or at the entry's line when it names none. */
void sr_lua_setup_failed(lua_State *L, int mod, const sr_integration_spec *s, const char *msg)
    __attribute__((noreturn));

/* ---- lua_watchdog.c ---- */

/* The allocator every state is created with (ud: the state's heap, which
 * tracks every block so an abandoned state stays reachable). Counts as a
 * guarded region so an interrupt never leaves malloc's locks held. */
void *sr_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
sr_lua_heap *sr_lua_heap_new(void);
void sr_lua_heap_free(sr_lua_heap *heap); /* after lua_close: the heap is empty */
size_t sr_lua_heap_bytes(const sr_lua_heap *heap);
/* Caps the heap at `limit` bytes (0: none). A refused allocation sets
 * *exceeded (may be NULL), which then allows SR_LUA_HEAP_SLACK more until
 * the owner clears it. */
void sr_lua_heap_limit(sr_lua_heap *heap, size_t limit, uint32_t *exceeded);
/* Frees every block of an abandoned state's heap without touching the
 * state, and the heap; returns the bytes it held. Safe once no thread runs
 * the state: nothing outside it points into its heap. */
size_t sr_lua_heap_release(sr_lua_heap *heap);

/* Brackets C code that must not be interrupted (our FFI entry points). */
void sr_lua_guard_enter(void);
void sr_lua_guard_leave(void);

/* Watches calls made on the calling thread (whose interrupt signal it
 * unblocks). With `interrupt_first`, an overrun is interrupted at once instead of
 * first being given the hook: for a build, whose state is thrown away on
 * any failure, so a clean Lua error buys nothing and would double the
 * time the caller waits. */
sr_lua_watchdog *sr_lua_watchdog_new(sr_lua_batch *batch, unsigned long long timeout_ms,
                                     int interrupt_first, char *err, size_t errlen);
void sr_lua_watchdog_free(sr_lua_watchdog *wd);

enum { SR_LUA_INTERRUPTED = -100 };

/* Calls the function on top of L's stack with `nargs` arguments under the
 * watchdog (if wd is not NULL). Returns 0, a lua_pcall error code (message
 * on the stack), or SR_LUA_INTERRUPTED: the watchdog abandoned the call and
 * L must never be touched again. */
int sr_lua_watched_pcall(sr_lua_watchdog *wd, lua_State *L, int nargs);

/* Wraps every C function in the table at `idx` so that calling it counts as
 * a guarded region (for C libraries that call malloc directly: cjson, io,
 * os, crypto). */
void sr_lua_guard_table(lua_State *L, int idx);

/* ---- lua_ffi.c (also exported to Lua) ---- */

int sr_lua_ns_seconds9(const char *p, size_t n, char *out);
int sr_lua_json_token_escaped(const char *p, size_t n);
int sr_lua_json_plain(const char *s, size_t n);
size_t sr_lua_utf8_clean(const char *s, size_t n, char *out);
int sr_emit_record(sr_emit *e, uint32_t integ, uint32_t ev, const char *p, size_t n);
/* A module's envelope(): pre + the event's JSON + suf, one record. */
int sr_emit_event(sr_emit *e, uint32_t integ, uint32_t ev_index, const sr_event *ev,
                  const char *pre, size_t plen, const char *suf, size_t slen);
int sr_emit_failure(sr_emit *e, uint32_t ev, int32_t integ, const char *stage, const char *msg,
                    size_t msglen);
/* The same, naming where it failed ("FILE:LINE") and with the traceback. */
int sr_emit_failure_at(sr_emit *e, uint32_t ev, int32_t integ, const char *stage, const char *msg,
                       size_t msglen, const char *where, size_t wlen, const char *trace,
                       size_t tlen);
/* A script ran away (timed out, or hit the memory limit) in slot `slot`:
 * counted for it, and the script disabled after conf->runaway_limit of them
 * within conf->runaway_window_ms. Returns 1 when the script is now disabled. */
int sr_lua_script_runaway(sr_lua_batch *b, int32_t slot);
/* A monotonic clock in nanoseconds, for per-script time. */
double sr_lua_clock_ns(void);
/* A script's log line (lua/lib/log.lua); `stats` may be NULL. */
void sr_lua_log(sr_script_stats *stats, int level, const char *where, size_t wlen, const char *msg,
                size_t mlen, const char *fields, size_t flen);
/* A route name no integration has (ev:route); `stats` may be NULL. */
void sr_lua_unknown_route(sr_script_stats *stats, const char *name, size_t len);
/* A trace note (conf->trace); see sr_emit_note. */
int sr_emit_note_add(sr_emit *e, uint32_t ev, int32_t integ, const char *kind, const char *detail,
                     size_t len);

#endif
