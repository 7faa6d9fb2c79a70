/* test_run.h - events through the gateway's own pipeline, offline, with the
 * reasons: what `siemrelay test` and script suites report.
 *
 * A run loads the configuration as a start would (gateway.h) and builds one
 * Lua host from it with tracing on (lua_host.h's conf->trace). A body (one
 * JSON object, an array of them, or NDJSON, as the HTTP input takes them)
 * is parsed by the ingest batch parser and processed by
 * sr_lua_host_process, the calls a worker makes, then explained event by
 * event and integration by integration. Nothing is queued or sent.
 *
 * Ownership: a body's events, records and reasons live until the body is
 * freed; a body must be freed before its run. */
#ifndef SR_TEST_RUN_H
#define SR_TEST_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "ingest_batch.h"
#include "lua_host.h"

typedef enum {
    SR_TEST_ACCEPTED, /* went on past the global scripts */
    SR_TEST_DROPPED,  /* a global script dropped it */
    SR_TEST_FAILED,   /* a global script failed or timed out */
    SR_TEST_REJECTED, /* not an event: the parser refused it */
} sr_test_status;

/* What became of an event for one integration. */
typedef enum {
    SR_TARGET_RECORD,      /* a wire record */
    SR_TARGET_NO_RECORD,   /* routed, but encode/envelope returned nil */
    SR_TARGET_UNROUTED,    /* routing passed it by */
    SR_TARGET_DROPPED,     /* one of the integration's scripts dropped it */
    SR_TARGET_FAILED,      /* its scripts or encode failed */
    SR_TARGET_NOT_REACHED, /* the event stopped before routing */
} sr_test_target_kind;

typedef struct sr_test_target {
    sr_test_target_kind kind;
    char stage[12];  /* FAILED: "script", "encode", "timeout" */
    char why[512];   /* all but RECORD: the reason, in words */
    const char *rec; /* RECORD: the exact bytes that would go into a batch */
    size_t rec_len;
} sr_test_target;

typedef struct sr_test_event {
    sr_test_status status;
    char stage[12];          /* FAILED: "script", "timeout" */
    char why[512];           /* DROPPED, FAILED, REJECTED: the reason */
    const sr_event *ev;      /* as the global scripts left it; NULL when rejected */
    uint32_t line;           /* NDJSON: 1-based line; 0 otherwise */
    int32_t index;           /* JSON array: 0-based element; -1 otherwise */
    char warning[256];       /* route names that match no integration, or "" */
    sr_test_target *targets; /* one per integration (sr_test_run_count) */
} sr_test_event;

typedef struct sr_test_body {
    sr_ingest_batch *batch;
    sr_test_event *events; /* parsed events in input order, then rejects */
    size_t nevents;
} sr_test_body;

typedef struct sr_test_run sr_test_run;

/* Scripts a suite puts under test in place of the configuration's: the
 * global list (`integration` NULL) or one integration's. `entries` (may be
 * NULL) are the nodes as written, a path or a map with `params`; they and
 * the paths must outlive the run. */
typedef struct sr_test_scripts {
    const char *integration;
    const char *const *paths;
    const sr_node *const *entries;
    size_t n;
} sr_test_scripts;

/* Loads the configuration files and applies `swap` (may be NULL). Fails,
 * with a message in `err`, when a swap names no configured integration. */
sr_test_run *sr_test_run_new(const char *const *paths, size_t npaths, const sr_test_scripts *swap,
                             size_t nswap, char *err, size_t errlen);
void sr_test_run_free(sr_test_run *r);

/* The integrations, in configuration order (enabled ones only). */
size_t sr_test_run_count(const sr_test_run *r);
const sr_integration_spec *sr_test_run_integration(const sr_test_run *r, size_t i);
sr_lua_host *sr_test_run_host(sr_test_run *r);

/* Runs `data` (copied) through the pipeline. NULL only when out of memory
 * or the Lua state is unusable (`err` says which). */
sr_test_body *sr_test_run_body(sr_test_run *r, const char *data, size_t len, char *err,
                               size_t errlen);
void sr_test_body_free(sr_test_body *b);

const char *sr_test_status_name(sr_test_status s);      /* "accepted", "dropped", ... */
const char *sr_test_target_name(sr_test_target_kind k); /* "record", "unrouted", ... */

#endif
