/* admin_audit.h - the gateway's own audit trail.
 *
 * Every admin action (create, update, delete, test, reload) and every failed
 * authentication becomes one event in Sysdig's platform-audit shape
 * (tests/data/platform_audit.json): type "audittrail", a 32-hex-digit id,
 * timestamp in nanoseconds, and a `content` with the request method, URI,
 * query string, response status, entity type and id, the user's name and
 * origin IP. The event is
 *   - submitted to the pipeline like any received event (origin "admin"),
 *     so integrations subscribed to PLATFORM_AUDIT forward it: a site can
 *     send its gateway's audit trail to its SIEM. While the pipeline cannot
 *     take it (a reload holds ingest back, queues are full) it waits in a
 *     bounded list and is submitted again every second;
 *   - appended to <data_dir>/audit.jsonl, rotated at 4 MiB with one older
 *     file kept (audit.jsonl.1), so the local log stays under 8 MiB;
 *   - kept in memory (the newest SR_AUDIT_RECENT, seeded from the log at
 *     start) for GET /api/audit.
 * Nothing secret goes into an event: callers pass names, never values, and
 * the values of credential-like query parameters are masked (redact.h)
 * before the event is built or logged.
 *
 * Loop thread only. */
#ifndef SR_ADMIN_AUDIT_H
#define SR_ADMIN_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "buf.h"
#include "ingest.h"

#define SR_AUDIT_RECENT  1000
#define SR_AUDIT_PENDING 512 /* events waiting for the pipeline; older ones are not forwarded */

typedef struct sr_audit sr_audit;

typedef struct sr_audit_entry {
    const char *action;      /* "create", "update", "delete", "test", "reload", "authenticate" */
    const char *method;      /* "POST", ...; "SIGHUP" for a signal */
    const char *uri;         /* the path, e.g. "/api/integrations/siem" */
    const char *query;       /* may be NULL */
    int status;              /* the answer's HTTP status */
    const char *entity_type; /* "integration", "configuration", ... */
    const char *entity_id;   /* e.g. the integration's name; may be NULL */
    const char *user;        /* the token's name, "anonymous" or "unknown" */
    const char *origin_ip;   /* may be NULL */
    const char *description; /* one human sentence; may be NULL */
} sr_audit_entry;

/* Opens <data_dir>/audit.jsonl. NULL with `err` when it cannot. */
sr_audit *sr_audit_new(uv_loop_t *loop, const char *data_dir, char *err, size_t errlen);

/* Where events go besides the log; borrowed, NULL for nowhere. */
void sr_audit_set_ingest(sr_audit *a, const sr_ingest *ingest);

/* Builds, logs, keeps and submits one event. NULL `a` is ignored. */
void sr_audit_record(sr_audit *a, const sr_audit_entry *e);

/* Appends the newest `limit` events (newest first) as a JSON array. */
int sr_audit_recent(const sr_audit *a, size_t limit, sr_buf *out);

/* Writes one event document for `e` at `now_ns` with `id` (32 hex digits)
 * to `out`; exposed for tests. */
int sr_audit_format(const sr_audit_entry *e, int64_t now_ns, const char *id, const char *host,
                    sr_buf *out);

/* A random event id: 32 lower-case hex digits and a NUL. */
void sr_audit_new_id(char out[33]);

/* Stops retrying, closes the log; freed once its handle is closed and the
 * pipeline answered every submission. NULL is ignored. */
void sr_audit_free(sr_audit *a);

#endif
