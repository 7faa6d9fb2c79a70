/* delivery.h - per-integration queues, batching, sending, retry and
 * inhibition, and the Sysdig status of each integration.
 *
 * Runs on the loop thread. Every integration has its own queue (memory or
 * disk spool, see queue.h), bounded in bytes, and at most one batch in
 * flight, so a slow or failing destination only ever delays itself, and
 * records leave in the order they were queued.
 *
 * Retry follows Sysdig's rule: a batch gets `max_attempts` (3) attempts with
 * exponential backoff and jitter (Retry-After honoured); after the last one
 * the integration's status is Error and it is inhibited for `inhibit_ms`
 * (five minutes). Its records stay queued and are sent, oldest first, when the
 * inhibition ends. Records the destination rejects for good go to the
 * integration's dead-letter file. When the integration's `outcome` reports
 * per-item results only the failed items are sent again; a response that
 * delivered some items and asks to retry the rest is progress, not a failed
 * attempt, and the rest goes again at once.
 *
 * Admission (back-pressure): sr_delivery_busy() tells the inputs to hold off
 * while a queue with overflow `block` is at its bound; with `drop_oldest`
 * the oldest queued records make room instead (counted and logged).
 *
 * Statuses and their history are kept in <data_dir>/state/<name>.json and
 * survive restarts (integration_status.h). */
#ifndef SR_DELIVERY_H
#define SR_DELIVERY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "conf_table.h"
#include "deadletter.h"
#include "lua_host.h"
#include "integration_status.h"
#include "node.h"
#include "queue.h"

/* One entry of an `integrations:` list, as configured. */
typedef struct sr_integration_conf {
    char *name;             /* `name:`, or "<type in lower case>-<n>" */
    char *type;             /* upper case, e.g. "WEBHOOK" */
    unsigned channels;      /* SR_CH_* mask; 0 = every channel the type supports */
    int min_severity;       /* forward only severity <= this (0 most severe); -1 = all */
    int enabled;            /* `enabled: false` keeps it configured but idle */
    sr_node *configuration; /* the `configuration:` map (owned by cfg->docs), or NULL */
    char **scripts;         /* per-integration site scripts, run after the global ones */
    size_t nscripts;
    const sr_node **script_entries;        /* each as written: a path, or {path, params} */
    long max_events, max_bytes, linger_ms; /* `batch:` overrides; -1 = type default */
    sr_queue_conf queue;                   /* `queue:` overrides */
    const char *file;                      /* where it was defined */
    int line;
    int type_line; /* the `type:` line, for unknown-type errors */
} sr_integration_conf;

/* `delivery:`; zero values take the defaults of sr_delivery_conf_keys. */
typedef struct sr_delivery_conf {
    unsigned max_attempts;
    uint64_t backoff_ms; /* first retry delay */
    uint64_t backoff_max_ms;
    uint64_t inhibit_ms;
    uint64_t status_window_ms;    /* Warning -> Connected after this long clean */
    uint64_t shutdown_timeout_ms; /* what the gateway gives sr_delivery_drain on SIGTERM */
    /* Not configuration keys: the gateway sets them. */
    const char *data_dir; /* required: spools under <data_dir>/spool/<name>, states under state/ */
    const sr_queue_conf *queue_defaults; /* the global `queue:`; NULL = built-in defaults */
} sr_delivery_conf;

/* The `delivery:` section's keys, with the defaults (delivery_conf.c). */
extern const sr_conf_key sr_delivery_conf_keys[];

typedef struct sr_integration_stats {
    uint64_t received;      /* records queued */
    uint64_t delivered;     /* records the destination took */
    uint64_t retried;       /* records sent again after a failed attempt */
    uint64_t rejected;      /* records refused for good (dead-lettered) */
    uint64_t dead_lettered; /* records written to the dead-letter file */
    uint64_t dropped;       /* records dropped by overflow drop_oldest */
    uint64_t attempts;      /* requests sent */
    uint64_t failed_attempts;
    uint64_t queued_events, queued_bytes;
    uint64_t queue_limit_bytes;
    const char *queue_type; /* "memory" | "disk" */
    sr_status status;
    int64_t status_since_ms; /* wall clock, ms since epoch */
    int inhibited;           /* waiting out an inhibition now */
    int64_t inhibited_until_ms;
    double last_latency_ms; /* of the last completed request */
    char last_error[256];   /* secrets masked */
} sr_integration_stats;

typedef struct sr_delivery sr_delivery;

/* Applies an integration's `batch:` overrides to the module's batch settings,
 * keeping max_events within the module's hard limit. */
void sr_integration_batch_apply(const sr_integration_conf *ic, sr_integration_info *info);

/* `integrations[i]` and `host` integration i are the same integration; the
 * host is the loop thread's own (for `request`/`outcome`). Opens each
 * integration's queue (recovering disk spools) and status file. */
sr_delivery *sr_delivery_new(uv_loop_t *loop, sr_lua_host *host,
                             const sr_integration_conf *const *integrations, size_t n,
                             const sr_delivery_conf *conf, sr_deadletter *dl, char *err,
                             size_t errlen);

/* Applies a reloaded configuration (SIGHUP). `host` (the new delivery host)
 * and `integrations` replace the old ones, which the caller frees after this
 * returns 0. An integration whose name stays keeps its queue, its batch and
 * its status, and gets the new settings (a batch in flight is sent again:
 * at least once); a queue's type and bound change only on restart. New ones
 * start; removed ones close (a disk spool stays on disk; a memory queue's
 * events are discarded, and logged). Ingest must be paused and the pipeline
 * empty. On -1 nothing changed. */
int sr_delivery_reload(sr_delivery *d, sr_lua_host *host,
                       const sr_integration_conf *const *integrations, size_t n,
                       const sr_delivery_conf *conf, char *err, size_t errlen);

/* Queues records for integration `integ` as one unit: all or none (-1, with
 * `err`). `events` (NULL: none; a NULL entry: none for that record) holds
 * the raw event each record was encoded from, kept beside it when the
 * queue's keep_events is on, so a rejected record is dead-lettered with it.
 * With fsync `always` they are on disk when this returns. Batches go out
 * when kicked, so callers enqueue a whole commit first. */
int sr_delivery_enqueue_many(sr_delivery *d, size_t integ, const char *const *recs,
                             const uint32_t *lens, const char *const *events,
                             const uint32_t *event_lens, size_t n, char *err, size_t errlen);
int sr_delivery_enqueue(sr_delivery *d, size_t integ, const char *rec, size_t len);
/* Sequence numbers of integration `integ`'s queue (queue.h): the next one
 * a record gets, and the one below which every record is safe (on disk per
 * the fsync policy, or delivered/dead-lettered from a memory queue). A record
 * pushed when next_seq was N is safe once safe_seq >= N + 1. */
uint64_t sr_delivery_next_seq(const sr_delivery *d, size_t integ);
uint64_t sr_delivery_safe_seq(const sr_delivery *d, size_t integ);

/* Sends full batches now and starts linger timers for partial ones. */
void sr_delivery_kick(sr_delivery *d);

/* 0 when ingest may go on; else the seconds a sender should wait (a queue
 * with overflow `block` is at its bound). */
long sr_delivery_busy(const sr_delivery *d);

size_t sr_delivery_count(const sr_delivery *d);
const char *sr_delivery_name(const sr_delivery *d, size_t integ);
const char *sr_delivery_type(const sr_delivery *d, size_t integ);
/* Index of the integration named `name` (case-insensitive), or -1. */
long sr_delivery_find(const sr_delivery *d, const char *name);
void sr_delivery_stats(const sr_delivery *d, size_t integ, sr_integration_stats *out);
/* The integration's status history, oldest first (valid until the next
 * transition on the loop). */
const sr_status_history *sr_delivery_history(const sr_delivery *d, size_t integ);

/* Records refused before they reached the queue (the module could not
 * encode them): `nrej` of `total` for integration `integ` in one ingest
 * batch. They move the status like a platform's rejection. */
void sr_delivery_rejected(sr_delivery *d, size_t integ, size_t nrej, size_t total,
                          const char *reason);

/* The same for what one run of the pipeline produced (an ingest batch, a
 * replay of the pipeline's dead letters): per integration, the events its
 * module could not encode against those it did, one report each. */
void sr_delivery_encode_failures(sr_delivery *d, const sr_emit *emit);

/* Shutdown: sends everything queued without lingering, then calls `done`
 * once nothing is queued or in flight, or when `deadline_ms` passes. What is
 * left stays in disk spools, and is logged as lost for memory queues. */
void sr_delivery_drain(sr_delivery *d, uint64_t deadline_ms, void (*done)(void *ud), void *ud);
/* Closes the sinks, timers and queues (spools persist their cursor); `d` is
 * freed once every handle is closed. */
void sr_delivery_free(sr_delivery *d);

#endif
