/* delivery.h - per-integration queues, batching, sending, retry and
 * inhibition, and the Sysdig status of each integration.
 *
 * Runs on the loop thread. Every integration has its own FIFO of encoded
 * records and at most one batch in flight, so a slow or failing destination
 * only ever delays itself, and records leave in the order they were queued.
 *
 * Retry follows Sysdig's rule: a batch gets `max_attempts` (3) attempts with
 * exponential backoff and jitter (Retry-After honoured); after the last one
 * the integration's status is Error and it is inhibited for `inhibit_ms`
 * (five minutes). Its records stay queued and are sent, oldest first, when the
 * inhibition ends. Records the destination rejects for good go to the
 * integration's dead-letter file. Only failed items of a batch are re-sent
 * when the integration's `outcome` reports per-item results. */
#ifndef SR_DELIVERY_H
#define SR_DELIVERY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "deadletter.h"
#include "lua_host.h"

typedef enum {
    SR_STATUS_NOT_CONNECTED, /* configured, nothing delivered yet */
    SR_STATUS_CONNECTED,     /* no failed attempt in the last 24 h */
    SR_STATUS_WARNING,       /* a delivery needed a retry in the last 24 h */
    SR_STATUS_ERROR,         /* failed after max_attempts; inhibited */
} sr_status;

const char *sr_status_name(sr_status s); /* "Not Connected", "Connected", ... */

typedef struct sr_delivery_conf {
    unsigned max_attempts;    /* default 3 */
    uint64_t backoff_ms;      /* first retry delay; default 1000 */
    uint64_t backoff_max_ms;  /* default 30000 */
    uint64_t inhibit_ms;      /* default 300000 */
} sr_delivery_conf;

typedef struct sr_integration_stats {
    uint64_t received, delivered, retried, rejected, dead_lettered;
    uint64_t queued_events, queued_bytes;
    sr_status status;
    int64_t status_since_ms; /* wall clock, ms since epoch */
    char last_error[256];
} sr_integration_stats;

typedef struct sr_delivery sr_delivery;

/* `integrations[i]` and `host` integration i are the same integration; the
 * host is the loop thread's own (for `request`/`outcome`). */
/* Applies an integration's `batch:` overrides to the module's batch settings,
 * keeping max_events within the module's hard limit. */
void sr_integration_batch_apply(const sr_integration_conf *ic, sr_integration_info *info);

sr_delivery *sr_delivery_new(uv_loop_t *loop, sr_lua_host *host,
                             const sr_integration_conf *const *integrations, size_t n,
                             const sr_delivery_conf *conf, sr_deadletter *dl, char *err,
                             size_t errlen);

/* Copies the record onto integration `integ`'s queue. Batches go out when
 * kicked (see below), so callers enqueue a whole commit first. */
int sr_delivery_enqueue(sr_delivery *d, size_t integ, const char *rec, size_t len);
/* Sends full batches now and starts linger timers for partial ones. */
void sr_delivery_kick(sr_delivery *d);

size_t sr_delivery_count(const sr_delivery *d);
const char *sr_delivery_name(const sr_delivery *d, size_t integ);
void sr_delivery_stats(const sr_delivery *d, size_t integ, sr_integration_stats *out);

/* Shutdown: sends everything queued without lingering, then calls `done`
 * once nothing is queued or in flight, or when `deadline_ms` passes (what is
 * left is logged per integration). */
void sr_delivery_drain(sr_delivery *d, uint64_t deadline_ms, void (*done)(void *ud), void *ud);
/* Closes the sinks and timers; `d` is freed once every handle is closed. */
void sr_delivery_free(sr_delivery *d);

#endif
