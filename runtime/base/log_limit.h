/* log_limit.h - holds back repeated log lines, counting what it held back.
 *
 * A script that fails on every event, or logs the same message for each,
 * must not bury the log: per key (a caller-chosen string such as
 * "script|where"), the first `burst` lines of a `window_ms` window are
 * written and the rest are counted. The next line written for that key
 * reports how many were held back, so nothing is silenced without a trace;
 * metrics count every occurrence regardless of this limit.
 *
 * Keys are remembered by a 64-bit hash in a small fixed table; a key that
 * finds no free slot is always allowed (the limiter never loses a line it
 * cannot account for).
 *
 * Thread-safe: one mutex, taken only for the slot lookup. */
#ifndef SR_LOG_LIMIT_H
#define SR_LOG_LIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct sr_log_limit sr_log_limit;

/* Returns NULL when out of memory. */
sr_log_limit *sr_log_limit_new(unsigned burst, unsigned window_ms);
void sr_log_limit_free(sr_log_limit *l);

/* Returns 1 when a line for the key may be written now, with *suppressed
 * set to the lines of this key held back since the last one written (and
 * reset); 0 when this line is held back (and counted). */
int sr_log_limit_allow(sr_log_limit *l, const char *key, size_t len, uint64_t *suppressed);

/* The same with an explicit clock (milliseconds), for tests. */
int sr_log_limit_allow_at(sr_log_limit *l, const char *key, size_t len, uint64_t now_ms,
                          uint64_t *suppressed);

#endif
