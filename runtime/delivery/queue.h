/* queue.h - one integration's queue of encoded records: in memory, or in a
 * disk spool (spool.h), behind one interface.
 *
 * Records get sequence numbers in push order. The delivery loop reads ahead
 * from a sequence number (the records after its in-flight batch), and acks a
 * prefix once the destination took it: ack(upto) forgets every record below
 * `upto`. Reading never removes anything, so a crash or a failed attempt
 * rereads from the oldest unacked record (at least once).
 *
 * Each record may carry the raw text of the event it was encoded from
 * (`keep_events`: on by default in memory, off on disk, where it doubles
 * the spool's bytes; queue_conf.c): the delivery dead letter stores it beside a
 * rejected record, so the record can be rebuilt after a fix
 * (deadletter_replay.h). With `keep_events: false` pushed events are not
 * stored and reads return none.
 *
 * The queue counts what it holds (records and stored payload bytes, events
 * kept beside records included; unacked records, in-flight ones included)
 * against `max_bytes`: sr_queue_full() says when it reached its bound. It never refuses a push by
 * itself (the caller decides: back-pressure upstream, or sr_queue_drop_oldest).
 *
 * Dropping (overflow drop_oldest): the oldest records not yet read are
 * skipped: the read position moves past them and the next ack covers them.
 *
 * Threads: the loop thread only. */
#ifndef SR_QUEUE_H
#define SR_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "conf_table.h"
#include "spool.h"

/* `queue:`, globally (defaults for every integration) and per integration
 * (overriding the global one key by key). Zero values mean "not set". */
typedef enum { SR_QUEUE_UNSET, SR_QUEUE_MEMORY, SR_QUEUE_DISK } sr_queue_type;
typedef enum { SR_OVERFLOW_UNSET, SR_OVERFLOW_BLOCK, SR_OVERFLOW_DROP_OLDEST } sr_overflow_policy;
typedef enum {
    SR_FSYNC_UNSET,
    SR_FSYNC_CONF_ALWAYS,
    SR_FSYNC_CONF_INTERVAL,
    SR_FSYNC_CONF_NEVER
} sr_fsync_conf;
typedef enum { SR_KEEP_EVENTS_UNSET, SR_KEEP_EVENTS_ON, SR_KEEP_EVENTS_OFF } sr_keep_events;

typedef struct sr_queue_conf {
    sr_queue_type type;
    unsigned long long max_bytes; /* queued payload bytes, in-flight included */
    sr_overflow_policy overflow;
    sr_fsync_conf fsync;                  /* disk */
    unsigned long long fsync_interval_ms; /* disk, fsync interval */
    unsigned long long segment_bytes;     /* disk */
    sr_keep_events keep_events;           /* store each record's event beside it */
} sr_queue_conf;

/* The `queue:` section's keys, with the defaults (queue_conf.c). */
extern const sr_conf_key sr_queue_conf_keys[];

/* Fills what `integ` leaves unset from `global`, then the defaults. */
void sr_queue_conf_resolve(const sr_queue_conf *global, const sr_queue_conf *integ,
                           sr_queue_conf *out);

typedef struct sr_queue sr_queue;

typedef struct sr_queue_rec {
    uint64_t seq;
    const char *data;
    uint32_t len;
    const char *event; /* the raw event it was encoded from; NULL: none kept */
    uint32_t event_len;
} sr_queue_rec;

/* What a read returned. Memory queues point into their own records (valid
 * until acked); disk queues into `spool` (valid until the next read into
 * this batch). Reused across reads. */
typedef struct sr_queue_batch {
    sr_queue_rec *recs;
    size_t n, cap;
    uint64_t bytes;
    sr_spool_batch spool;
} sr_queue_batch;

#define SR_QUEUE_BATCH_INIT                                                                        \
    { NULL, 0, 0, 0, SR_SPOOL_BATCH_INIT }
void sr_queue_batch_free(sr_queue_batch *b);

/* Opens a queue as `conf` (resolved) says; a disk queue lives in
 * `spool_dir` and is recovered now (what recovery found is logged). */
sr_queue *sr_queue_open(const sr_queue_conf *conf, const char *spool_dir, const char *name,
                        char *err, size_t errlen);
/* Closes (a spool persists its cursor) and frees; NULL is ignored. */
void sr_queue_close(sr_queue *q);

/* Appends records as one unit; -1 (with `err`) means none was queued.
 * `events` (NULL: none) holds each record's event, `event_lens` their
 * lengths; a NULL entry means the record has none. Kept only with
 * keep_events on. */
int sr_queue_push(sr_queue *q, const char *const *recs, const uint32_t *lens,
                  const char *const *events, const uint32_t *event_lens, size_t n, char *err,
                  size_t errlen);

/* Reads up to `max_n` records / `max_bytes` record bytes (events not
 * counted; a first record larger than that comes alone) at or after
 * `from_seq`. out->n == 0: none. */
int sr_queue_read(sr_queue *q, uint64_t from_seq, size_t max_n, size_t max_bytes,
                  sr_queue_batch *out, char *err, size_t errlen);

/* Forgets every record below `upto_seq`. */
int sr_queue_ack(sr_queue *q, uint64_t upto_seq, char *err, size_t errlen);

/* Skips the oldest records at or after `from_seq` until the queue is below
 * its bound by `room` bytes. Returns how many were skipped and sets
 * *next_seq to the first record still wanted. */
uint64_t sr_queue_drop_oldest(sr_queue *q, uint64_t from_seq, uint64_t room, uint64_t *next_seq);

/* The first sequence number not yet pushed; the oldest unacked one. */
uint64_t sr_queue_next_seq(const sr_queue *q);
uint64_t sr_queue_oldest_seq(const sr_queue *q);
/* Every record below it is safe from a crash of the process: on disk as the
 * spool's fsync policy promises (disk), or acked, that is delivered,
 * dead-lettered or dropped by overflow (memory). Inputs that acknowledge
 * upstream only once events are safe (Kafka offsets) wait for it. */
uint64_t sr_queue_safe_seq(const sr_queue *q);

uint64_t sr_queue_events(const sr_queue *q);
/* What the bound counts: records and the events kept beside them (disk:
 * with the spool's framing). */
uint64_t sr_queue_bytes(const sr_queue *q);
/* Of sr_queue_bytes, about how many are records, the bytes a batch sends
 * (exact for memory queues; disk queues estimate from what was pushed
 * since open). */
uint64_t sr_queue_record_bytes(const sr_queue *q);
/* The bytes a push of these records would add (before disk framing). */
uint64_t sr_queue_push_bytes(const sr_queue *q, const uint32_t *lens, const char *const *events,
                             const uint32_t *event_lens, size_t n);
uint64_t sr_queue_limit(const sr_queue *q);
int sr_queue_full(const sr_queue *q);
const char *sr_queue_type_name(const sr_queue *q); /* "memory" | "disk" */

/* Disk queues with fsync `interval`: call every so often (cheap). */
void sr_queue_tick(sr_queue *q, uint64_t now_ms);

#endif
