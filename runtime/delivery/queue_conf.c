/* queue_conf.c - the `queue:` section's keys and their defaults, and how an
 * integration's queue settings are resolved over the global ones. */
#include "queue.h"

#include <stddef.h>
#include <string.h>

/* A disk queue is bounded by the disk, not by memory. */
#define DISK_MAX_BYTES (1ull << 30)

static const char *const queue_types[] = {"memory", "disk", NULL};
static const int queue_type_values[] = {SR_QUEUE_MEMORY, SR_QUEUE_DISK};
static const char *const overflows[] = {"block", "drop_oldest", NULL};
static const int overflow_values[] = {SR_OVERFLOW_BLOCK, SR_OVERFLOW_DROP_OLDEST};
static const char *const fsyncs[] = {"always", "interval", "never", NULL};
static const int fsync_values[] = {SR_FSYNC_CONF_ALWAYS, SR_FSYNC_CONF_INTERVAL,
                                   SR_FSYNC_CONF_NEVER};
/* A boolean whose zero value means "not set" (a plain SR_CONF_BOOL cannot
 * tell `false` from unset, and an integration's false must override a
 * global true): the spellings sr_node_bool takes. */
static const char *const bools[] = {"true", "false", "yes", "no", "on", "off", NULL};
static const int keep_values[] = {SR_KEEP_EVENTS_ON,  SR_KEEP_EVENTS_OFF, SR_KEEP_EVENTS_ON,
                                  SR_KEEP_EVENTS_OFF, SR_KEEP_EVENTS_ON,  SR_KEEP_EVENTS_OFF};

/* --check prints it as the boolean it is. */
static void print_keep(sr_buf *out, const void *field) {
    int v;
    memcpy(&v, field, sizeof v);
    sr_buf_puts(out, v == SR_KEEP_EVENTS_OFF ? "false" : "true");
}

const sr_conf_key sr_queue_conf_keys[] = {
    {.name = "type",
     .type = SR_CONF_ENUM,
     SR_CONF_AT(sr_queue_conf, type),
     .dflt = "memory",
     .names = queue_types,
     .values = queue_type_values,
     .expected = "memory or disk",
     .doc = "`memory` or `disk` (a spool under `data_dir/spool/<name>/`); the default for every "
            "integration"},
    {.name = "max_bytes",
     .type = SR_CONF_SIZE,
     SR_CONF_AT(sr_queue_conf, max_bytes),
     .dflt = "16MiB",
     .doc_default = "`16MiB` (memory), `1GiB` (disk)",
     .doc = "the queue's bound: queued payload bytes, records and the events kept beside them "
            "(`keep_events`), in-flight included"},
    {.name = "overflow",
     .type = SR_CONF_ENUM,
     SR_CONF_AT(sr_queue_conf, overflow),
     .dflt = "block",
     .names = overflows,
     .values = overflow_values,
     .expected = "block or drop_oldest",
     .doc = "at the bound: `block` (ingest answers 503 with `Retry-After`; TCP stops reading) or "
            "`drop_oldest` (the oldest queued events are dropped, counted and logged)"},
    {.name = "fsync",
     .type = SR_CONF_ENUM,
     SR_CONF_AT(sr_queue_conf, fsync),
     .dflt = "always",
     .names = fsyncs,
     .values = fsync_values,
     .expected = "always, interval or never",
     .doc = "disk queues: `always` (acknowledged only once on disk), `interval`, `never`"},
    {.name = "fsync_interval",
     .type = SR_CONF_DURATION,
     SR_CONF_AT(sr_queue_conf, fsync_interval_ms),
     .dflt = "1s",
     .doc = "disk queues with `fsync: interval`"},
    {.name = "segment_bytes",
     .type = SR_CONF_SIZE,
     SR_CONF_AT(sr_queue_conf, segment_bytes),
     .dflt = "64MiB",
     .doc = "disk queues: segment file size"},
    {.name = "keep_events",
     .type = SR_CONF_ENUM,
     SR_CONF_AT(sr_queue_conf, keep_events),
     .dflt = "true",
     .doc_default = "`true` (memory), `false` (disk)",
     .names = bools,
     .values = keep_values,
     .print = print_keep,
     .expected = "true or false",
     .doc = "keep each record's original event beside it in the queue, so a record the platform "
            "rejects is dead-lettered with its event and `replay --reencode` can rebuild it; "
            "`max_bytes` counts the events kept; `false`: records only, and rejected ones cannot "
            "be re-encoded. Free in memory; on disk it doubles what the spool writes and costs "
            "about a quarter of the throughput, hence off there unless set "
            "([delivery.md](delivery.md#per-integration-queues))"},
    {.name = NULL},
};

void sr_queue_conf_resolve(const sr_queue_conf *global, const sr_queue_conf *integ,
                           sr_queue_conf *out) {
    *out = *integ;
    sr_conf_fill_unset(sr_queue_conf_keys, out, global);
    if (!out->max_bytes && out->type == SR_QUEUE_DISK)
        out->max_bytes = DISK_MAX_BYTES;
    /* On disk every kept event is written and read back beside its record:
     * about twice the spool's bytes, measured at a quarter of the disk
     * queue's throughput on W1 (tests/bench/README.md); a memory queue pays
     * no measurable price. So disk queues keep events only when asked. */
    if (!out->keep_events && out->type == SR_QUEUE_DISK)
        out->keep_events = SR_KEEP_EVENTS_OFF;
    sr_conf_fill_unset(sr_queue_conf_keys, out, NULL);
}
