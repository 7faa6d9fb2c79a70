/* log_budget.h - at most N log lines per window about one kind of refusal,
 * so that a flood of bad requests costs a counter, not the log.
 *
 * The owner keeps one sr_log_budget per kind (zeroed to start) and asks
 * before each line; what is not logged is expected to be counted
 * elsewhere (a metric). Not thread-safe: one owner thread. */
#ifndef SR_LOG_BUDGET_H
#define SR_LOG_BUDGET_H

#include <stdint.h>

typedef struct sr_log_budget {
    uint64_t since; /* the window's start, in the caller's clock (ms) */
    unsigned used;  /* lines logged in it */
} sr_log_budget;

enum {
    SR_LOG_BUDGET_SPENT = 0, /* do not log */
    SR_LOG_BUDGET_LOG = 1,   /* log */
    SR_LOG_BUDGET_LAST = 2,  /* log, and say that further ones are only counted */
};

/* Whether a line may be logged at `now_ms`, `max` lines per `window_ms`. */
static inline int sr_log_budget_take(sr_log_budget *b, uint64_t now_ms, unsigned max,
                                     uint64_t window_ms) {
    if (b->used == 0 || now_ms - b->since >= window_ms) {
        b->since = now_ms;
        b->used = 0;
    }
    if (b->used >= max)
        return SR_LOG_BUDGET_SPENT;
    return ++b->used == max ? SR_LOG_BUDGET_LAST : SR_LOG_BUDGET_LOG;
}

#endif
