/* deadletter.h - where events that cannot be delivered go instead of away.
 *
 * One JSON-lines file per integration, <data_dir>/deadletter/<name>.jsonl,
 * and <data_dir>/deadletter/_pipeline.jsonl for events a global site script
 * failed on. Each line:
 *   {"time":"<RFC 3339>","integration":"<name>"|null,"stage":"script"|
 *    "timeout"|"encode"|"rejected"|..., "reason":"...", "response":"<excerpt>",
 *    "where":"FILE:LINE", "traceback":"<Lua traceback>",
 *    "event":{...} | "record":{...}|"<text>"[,"event":{...}]}
 * `where` and `traceback` are present for script and encode failures: the
 * site script (or module) line that failed and the Lua stack at the time.
 * `event` is the event as received (compacted onto one line); `record` is
 * what the integration had encoded (written raw when it is JSON, else as a
 * string). A record line also holds the `event` it was encoded from when
 * its queue kept it (queue.keep_events), so it can be rebuilt. Files rotate at
 * 64 MiB, keeping 5 (<name>.jsonl.1 the newest). Writes are synchronous: dead letters are rare, and
 * a dead letter that was not written must not be acknowledged as handled. */
#ifndef SR_DEADLETTER_H
#define SR_DEADLETTER_H

#include <stddef.h>
#include <stdint.h>

#include "lua_host.h"

typedef struct sr_deadletter sr_deadletter;

sr_deadletter *sr_deadletter_new(const char *data_dir);
void sr_deadletter_free(sr_deadletter *d);

typedef struct sr_deadletter_entry {
    const char *integration; /* NULL: the global pipeline */
    const char *stage;
    const char *reason;
    const char *response; /* may be NULL */
    size_t response_len;
    const char *payload; /* the event or the record */
    size_t payload_len;
    int payload_is_event; /* 1: "event", 0: "record" */
    const char *event;    /* a record's event, written beside it; may be NULL */
    size_t event_len;
    const char *where;     /* may be NULL */
    const char *traceback; /* may be NULL */
    size_t traceback_len;
} sr_deadletter_entry;

/* Returns 0, or -1 after logging why the line could not be written. */
int sr_deadletter_write(sr_deadletter *d, const sr_deadletter_entry *e);
/* The line for an event a script or encoder failed on (`f`, from `emit`):
 * the event as received (`event`, compacted), stage, reason, where and
 * traceback; `integration` NULL for a global script. */
int sr_deadletter_write_failure(sr_deadletter *d, const char *integration, const sr_emit *emit,
                                const sr_emit_fail *f, const char *event, size_t event_len);
uint64_t sr_deadletter_count(const sr_deadletter *d);

/* The most rotated files of one integration read back: path.1 .. path.N. */
#define SR_DEADLETTER_KEEP_FILES 5

/* Runs `fn(ud, paths, n)` on every dead-letter file of the integration
 * (NULL: the pipeline's, _pipeline.jsonl), oldest first: the rotated ones
 * that exist (<name>.jsonl.5 ... .1), then the current one (always listed,
 * present or not). Writes to them are held off for the call (other threads
 * wait): the current file is closed and reopened by the next write, so `fn`
 * may replace or remove any of them. `fn` may itself write dead letters of
 * other integrations (the lock is recursive), never of this one. Returns
 * what `fn` returns. */
int sr_deadletter_rewrite(sr_deadletter *d, const char *integration,
                          int (*fn)(void *ud, const char *const *paths, size_t n), void *ud);

#endif
