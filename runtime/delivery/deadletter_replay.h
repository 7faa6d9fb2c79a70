/* deadletter_replay.h - dead-lettered records sent again, through their
 * integration's queue.
 *
 * After the cause of a rejection is fixed (a mapping, a token, an index),
 * the records an integration's dead-letter file holds can be replayed: the
 * lines that match the filter and carry an encoded `record` are queued for
 * the integration as one unit (sr_delivery_enqueue_many), and only once
 * they are queued is the file rewritten without them (a temporary file,
 * fsync, rename). A second replay therefore finds nothing to send again; a
 * crash between the two steps can only send a record twice, never lose it.
 * Lines holding an `event` (a site script or the module's encode failed)
 * have no record to send: they are kept and counted. Only the current file
 * is read, not its rotated predecessors (<name>.jsonl.1, ...).
 *
 * Runs on the loop thread (delivery.h). */
#ifndef SR_DEADLETTER_REPLAY_H
#define SR_DEADLETTER_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "deadletter.h"
#include "delivery.h"

typedef struct sr_replay_filter {
    const char *stage;  /* exact stage ("rejected", "request", ...); NULL = any */
    const char *reason; /* a substring of the reason; NULL = any */
    const char *since;  /* lines with "time" >= since (RFC 3339 text, UTC); NULL = any */
    const char *until;  /* lines with "time" < until; NULL = any */
} sr_replay_filter;

typedef struct sr_replay_result {
    uint64_t replayed; /* records queued (and gone from the file) */
    uint64_t kept;     /* lines left in the file: not matching the filter */
    uint64_t events;   /* matching lines holding an event, not a record (kept) */
} sr_replay_result;

/* Replays integration `integ`'s dead letters. Returns 0, or -1 with `err`
 * when nothing was replayed (the file unchanged, nothing queued). */
int sr_deadletter_replay(sr_deadletter *dl, sr_delivery *d, size_t integ, const sr_replay_filter *f,
                         sr_replay_result *out, char *err, size_t errlen);

#endif
