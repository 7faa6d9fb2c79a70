/* admin.h - the admin HTTP API, on its own listener (127.0.0.1:9090 by
 * default; `admin:` in the configuration).
 *
 *   GET /api/integrations         every integration: status, queue, counters
 *   GET /api/integrations/{name}  one integration (name percent-decoded,
 *                                 case-insensitive) with its status history;
 *                                 404 {"error":"no integration named 'x'"}
 *   GET /metrics                  Prometheus text format (admin_metrics.h)
 *   GET /healthz                  200 {"status":"ok"} while the process runs
 *   GET /readyz                   200 {"status":"ready"} when the gateway takes
 *                                 events; 503 {"status":"not ready","reason":...}
 *                                 while starting, reloading or shutting down
 * HEAD works wherever GET does; any other method is 405 with
 * `Allow: GET, HEAD`; any other path 404. docs/admin.md has the documents.
 *
 * The API reads only counters, statuses and names; it never reads
 * configuration values, so no secret can appear in an answer (error texts
 * are masked by delivery before they are stored).
 *
 * Everything runs on the loop thread, and every answer is built from one
 * snapshot taken while handling the request. */
#ifndef SR_ADMIN_H
#define SR_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* Declared, not included: the listener side (admin.c) only passes these
 * through to admin_docs.c, and stays free of the delivery headers. */
typedef struct sr_delivery sr_delivery;
typedef struct sr_pipeline sr_pipeline;
typedef struct sr_input_tcp sr_input_tcp;
typedef struct sr_deadletter sr_deadletter;

/* What the API reports on. All borrowed; any pointer may be NULL (its
 * figures are then left out). The owner keeps them valid until it replaces
 * them with sr_admin_set_sources() or closes the API. */
typedef struct sr_admin_sources {
    const sr_delivery *delivery;
    const sr_pipeline *pipeline;
    const sr_input_tcp *tcp;
    const sr_deadletter *deadletter;
    int64_t start_time_ms; /* process start, wall clock */
    /* NULL when the gateway is ready, else why it is not ("starting",
     * "shutting down", ...). A NULL callback means always ready. */
    const char *(*not_ready)(void *ud);
    void *ud;
} sr_admin_sources;

typedef struct sr_admin sr_admin;

/* Listens on host:port (0: any free port) and logs "admin API listening on
 * HOST:PORT". `src` is copied. Returns NULL with e.g. "admin API: cannot
 * listen on 127.0.0.1:9090: address already in use" in err. */
sr_admin *sr_admin_new(uv_loop_t *loop, const char *host, int port, const sr_admin_sources *src,
                       char *err, size_t errlen);

/* Replaces the sources (after a configuration reload); copied. */
void sr_admin_set_sources(sr_admin *a, const sr_admin_sources *src);

/* The bound port. */
int sr_admin_port(const sr_admin *a);

/* Stops listening and closes every connection. From now on the API no
 * longer touches its sources. `cb` (may be NULL) runs once the handles are
 * closed; `a` is freed then. NULL `a` is ignored. */
void sr_admin_close(sr_admin *a, void (*cb)(void *ud), void *ud);

/* Decodes %XX escapes of a path segment into `out` (capacity outlen,
 * NUL-terminated). Returns the decoded length, or -1 for a malformed escape,
 * an escaped NUL, or a result that does not fit. */
long sr_admin_percent_decode(const char *in, size_t inlen, char *out, size_t outlen);

#endif
