/* lua_host.h - one LuaJIT state and everything that runs in it.
 *
 * A host is created per worker thread (to run site scripts and integration
 * `encode` over batches of events) and once on the delivery loop (to call
 * integration `request` and `outcome` per batch). Every host loads the same
 * modules and runs the same `setup`, so a host can be created, thrown away
 * and created again (after a runaway script) without anyone noticing.
 *
 * Integration types are Lua modules found as <dir>/<type in lower case>.lua,
 * first in the configured integration_paths, then in <lua_dir>/integrations.
 * The module contract is documented in docs/lua-contract.md.
 *
 * Thread-safety: a host is used by one thread at a time. */
#ifndef SR_LUA_HOST_H
#define SR_LUA_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "event.h"
#include "node.h"
#include "script_stats.h"
#include "sink.h"

/* What the host needs to know about one configured integration. */
typedef struct sr_integration_spec {
    const char *name;
    const char *type;             /* upper case */
    const sr_node *configuration; /* may be NULL */
    const char *const *scripts;   /* per-integration site scripts */
    size_t nscripts;
    const sr_node *const *script_entries; /* each as written (a path, or a map with
                                             `params`), for its params; may be NULL */
    unsigned channels;                    /* SR_CH_* mask; 0 = the type's own list */
    int min_severity;                     /* -1 = all */
    const char *file;                     /* for error messages */
    int line;
    int type_line; /* the `type:` line; 0 = `line` */
    int paused;    /* 1: routed no events (being deleted, its
                      queue draining); still set up */
    /* Defined through the admin API (admin_bounds.h) when files_root is
     * set; NULL: file-defined, full power.
     *   files_root: its transport's `root` setting (the FILE sink's
     *     confinement, file.h) is this directory, whatever setup returned;
     *   scripts_root: its scripts are read below it, no link followed on
     *     the way (confine.h); NULL: it may have none (admin.script_dir);
     *   credentials_root: the files its transport reads (the PATH keys:
     *     caFile, certFile, keyFile) must lie below it, reached without a
     *     link; NULL: it may name none (admin.credentials_dir). Transport
     *     properties that load code or read files are refused
     *     (sr_sink_transport.restricted_prop). */
    const char *files_root;
    const char *scripts_root;
    const char *credentials_root;
} sr_integration_spec;

typedef struct sr_lua_host_conf {
    const char *lua_dir; /* holds lib/ and integrations/ */
    const char *const *integration_paths;
    size_t nintegration_paths;
    const char *const *scripts; /* global site scripts */
    size_t nscripts;
    const sr_node *const *script_entries; /* as for an integration's; may be NULL */
    const sr_integration_spec *integrations;
    size_t nintegrations;
    unsigned transmit_message_types; /* SR_MT_* mask */
    int forwarder_enabled;
    unsigned long long script_timeout_ms; /* per event; 0 = no limit */
    unsigned long long load_timeout_ms;   /* building a state: loading the modules and
                                             scripts, their top-level code and `setup`;
                                             0 = SR_LUA_LOAD_TIMEOUT_MS */
    size_t memory_limit;                  /* bytes per Lua state; 0 = no limit */
    unsigned runaway_limit;               /* a script that runs away (timeout, memory) this
                                             often within runaway_window_ms is disabled
                                             until a reload; 0 = never (needs `stats`) */
    unsigned long long runaway_window_ms;
    int sandbox;            /* 1: every site script runs sandboxed (docs/scripting.md) */
    sr_script_stats *stats; /* per-script counters; may be NULL */
    int trace;              /* 1: record sr_emit notes saying why events went nowhere
                               (`siemrelay test`); costs a little per event */
} sr_lua_host_conf;

typedef struct sr_lua_host sr_lua_host;

/* The load budget when the conf gives none. A load that overruns it is
 * stopped like a runaway event (lua_watchdog.c) and fails the build. */
#define SR_LUA_LOAD_TIMEOUT_MS 5000ULL

/* Creates a state, loads the shared libraries, the global scripts and each
 * integration's module and scripts, validates each integration's
 * configuration against its module's option schema, and runs its `setup`,
 * all within the load budget (load_timeout_ms) and the memory limit: a
 * file that loops at load fails the build with an error naming it.
 * Errors name the file, line and key, e.g.
 *   "cfg.yaml:12: integration 'siem' (WEBHOOK): unknown key 'endpont' (did you mean 'endpoint'?)"
 * The conf (and everything it points to) must outlive the host. */
sr_lua_host *sr_lua_host_new(const sr_lua_host_conf *conf, char *err, size_t errlen);
void sr_lua_host_free(sr_lua_host *h);

/* ---- Worker side ------------------------------------------------------- */

/* Records and failures one batch produced. Records of all integrations are
 * stored back to back in `data`; recs[] says whose each is. */
typedef struct sr_emit_rec {
    uint32_t integ; /* index into conf->integrations */
    uint32_t ev;    /* index of the event in the batch */
    uint32_t off, len;
} sr_emit_rec;

typedef struct sr_emit_fail {
    uint32_t ev;
    int32_t integ;  /* -1: a global script; else the integration */
    char stage[12]; /* "script", "encode", "timeout", "memory", "disabled" */
    char msg[256];
    char where[192]; /* "FILE:LINE" of the script (or module) that failed; "" unknown */
    uint32_t trace_off, trace_len; /* the Lua traceback, in sr_emit.traces */
} sr_emit_fail;

/* With conf->trace, why an event did not reach an integration:
 *   kind "drop": site script number `detail` (0-based, in the order
 *     configured) dropped it; integ -1: a global script, else one of the
 *     integration's own;
 *   kind "skip": routing passed integration `integ` by; `detail` is the
 *     failed test: "channel", "message_type", "severity", "script_route"
 *     or "script_unroute";
 *   kind "unknown": a global script's ev:route/ev:unroute named `detail`,
 *     which is no integration. */
typedef struct sr_emit_note {
    uint32_t ev;
    int32_t integ;
    char kind[12];
    char detail[52];
} sr_emit_note;

/* Why an event the global scripts kept reached no integration, by how far
 * routing got with the integration that came closest (event_loop.lua ranks
 * skip_reason()'s answers in this order). */
typedef enum {
    SR_UNROUTED_DISABLED,     /* local_forwarder.enabled: false */
    SR_UNROUTED_NO_CHANNEL,   /* no integration takes the event's channel */
    SR_UNROUTED_MESSAGE_TYPE, /* its message type is not in transmit_message_types */
    SR_UNROUTED_SEVERITY,     /* below every matching integration's min_severity */
    SR_UNROUTED_SCRIPT,       /* a global script routed it (ev:route/ev:unroute) elsewhere */
    SR_UNROUTED_REASONS
} sr_unrouted_reason;

/* "forwarder_disabled", "no_integration", "message_type", "min_severity",
 * "script_route". */
const char *sr_unrouted_reason_name(int reason);

typedef struct sr_emit {
    sr_buf data;
    sr_emit_rec *recs;
    size_t nrecs, recs_cap;
    sr_emit_fail *fails;
    size_t nfails, fails_cap;
    uint32_t ndropped; /* events a script dropped */
    sr_buf traces;     /* failures' tracebacks, back to back */
    sr_emit_note *notes;
    size_t nnotes, notes_cap;
    uint32_t unrouted[SR_UNROUTED_REASONS]; /* events no integration took, by reason */
    uint32_t unrouted_channels;             /* SR_CH_* bits of events no integration takes */
} sr_emit;

void sr_emit_init(sr_emit *e);
void sr_emit_reset(sr_emit *e);
void sr_emit_free(sr_emit *e);

/* Runs the pipeline over `n` parsed events: global scripts, routing
 * (channels, transmit_message_types, min_severity), per-integration scripts,
 * `encode`. A script error, a timeout or an encode error fails that event
 * for that stage (recorded in out->fails, with the script's FILE:LINE and
 * the Lua traceback) and the batch goes on; a runaway
 * script is stopped by a watchdog and the state is rebuilt. Returns 0, or -1
 * only if the state could not be rebuilt. */
int sr_lua_host_process(sr_lua_host *h, sr_event *evs, size_t n, sr_emit *out);

/* ---- Delivery side ----------------------------------------------------- */

typedef struct sr_integration_info {
    const char *transport; /* "http", "file", ... (module's M.transport) */
    const char
        *framing; /* how records join into a body: "ndjson", "concat", "json_array", "list" */
    long max_events, max_bytes, linger_ms; /* the module's M.batch defaults */
    long max_events_limit;         /* a hard cap no `batch:` override may exceed; 0 = none */
    unsigned channels;             /* effective channel mask */
    const sr_sink_transport *sink; /* the native transport named by `transport` */
    const void *settings;          /* its settings struct (the transport's header), filled from
                                      `setup`'s result through its key table; owned by the host */
} sr_integration_info;

int sr_lua_host_info(sr_lua_host *h, size_t integ, sr_integration_info *out);

/* Builds the request for a batch by calling the module's `request`. The
 * result's strings live in `storage` and stay valid until it is reset; a
 * body the module left as framed points into the host's scratch buffer,
 * valid until the host's next call. */
typedef struct sr_http_request_buf {
    sr_sink_request req;
    sr_sink_header headers[64];
    sr_buf storage;
    char step[32]; /* non-empty: an auxiliary request (token, setup) for step() */
} sr_http_request_buf;

int sr_lua_host_request(sr_lua_host *h, size_t integ, const char *const *recs, const uint32_t *lens,
                        size_t n, sr_http_request_buf *out, char *err, size_t errlen);

/* A response's meaning, from the module's `outcome`. */
typedef enum {
    SR_OUTCOME_OK,
    SR_OUTCOME_RETRY,
    SR_OUTCOME_REJECT,
    SR_OUTCOME_AGAIN, /* batch only: send it again now, not a failed attempt (fresh token) */
    SR_OUTCOME_SPLIT, /* batch only: too large; send it again in halves */
} sr_outcome_kind;

typedef struct sr_outcome {
    sr_outcome_kind kind; /* the batch as a whole */
    char reason[256];
    uint8_t *items; /* per-record sr_outcome_kind when the module returned
                       them (malloc'd, n entries), else NULL */
    size_t nitems;
} sr_outcome;

int sr_lua_host_outcome(sr_lua_host *h, size_t integ, const sr_sink_result *res, size_t n,
                        sr_outcome *out);
void sr_outcome_free(sr_outcome *o);

/* Classifies the response to an auxiliary request (`step` set by request())
 * with the module's step(name, status, body, conf, headers): it returns true
 * to go on (request() is called again for the same batch), or false/"reject"
 * and a reason. Returns 0 (go on), 1 (a failed attempt: retry) or 2 (the
 * batch can never be sent: reject it); `reason` says why. */
int sr_lua_host_step(sr_lua_host *h, size_t integ, const char *step, const sr_sink_result *res,
                     char *reason, size_t reasonlen);

/* The integration's effective configuration as JSON, secrets shown as
 * "******", for --check and the admin API. */
int sr_lua_host_describe(sr_lua_host *h, size_t integ, sr_buf *out);

/* For --check: appends "FILE:LINE: site script assigns the global 'x' ..."
 * for each assignment to a global in the site scripts (read from their
 * bytecode, nothing of them runs). Returns how many, or -1. */
int sr_lua_host_script_globals(sr_lua_host *h, sr_buf *out);

/* Masks, in place and keeping the length, every occurrence of the
 * integration's secret option values in `text`: platforms echo credentials
 * back in error bodies, and those bodies reach logs and dead letters. */
void sr_lua_host_redact(sr_lua_host *h, size_t integ, char *text, size_t len);

#endif
