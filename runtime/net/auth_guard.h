/* auth_guard.h - failed authentication, limited per peer and summarised.
 *
 * A listener that checks credentials (the HTTP input's token, the admin
 * API's tokens) keeps one guard. Each failed attempt is noted against the
 * peer's address: after `max_failures` within `window_ms` the peer is
 * limited until its window ends, and every request from it that needs
 * credentials is answered 429 with Retry-After (without checking them).
 *
 * So that a flood of bad credentials can neither fill the log nor rotate
 * the audit trail, the guard also tells its listener what to report: the
 * first failure of each summary interval (as long as the window) in full,
 * a few more log lines per interval, and for the rest one summary per
 * interval (sr_auth_guard_take_summary).
 *
 * Peers are kept in a fixed table (`peers` slots); when it is full the peer
 * whose window started first is forgotten. The thresholds are settings of
 * each listener (sr_auth_guard_conf_keys: `failed_auth:` under
 * inputs.http and admin), the constants below their defaults. Loop thread
 * only. */
#ifndef SR_AUTH_GUARD_H
#define SR_AUTH_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "conf_table.h"

#define SR_AUTH_GUARD_PEERS    4096  /* default peers */
#define SR_AUTH_GUARD_LOG_MAX  10    /* default log_lines: failure lines per interval */
#define SR_AUTH_GUARD_FAILURES 20    /* default max_failures */
#define SR_AUTH_GUARD_WINDOW   60000 /* default window_ms */

/* A listener's `failed_auth:` section; 0 in a field takes its default. */
typedef struct sr_auth_guard_conf {
    unsigned max_failures;        /* failures per peer within a window before 429 */
    unsigned long long window_ms; /* the window, and the summary interval */
    unsigned log_lines;           /* single-failure log lines per interval */
    unsigned peers;               /* addresses remembered at once */
} sr_auth_guard_conf;

/* Its rows (conf_table.h), defaults the constants above. */
extern const sr_conf_key sr_auth_guard_conf_keys[];

typedef struct sr_auth_guard sr_auth_guard;

/* NULL `conf` takes every default. NULL when out of memory. */
sr_auth_guard *sr_auth_guard_new(const sr_auth_guard_conf *conf);
void sr_auth_guard_free(sr_auth_guard *g);

/* The window in effect (ms): how often a listener ends a summary interval. */
uint64_t sr_auth_guard_window(const sr_auth_guard *g);

/* 0 when `ip` may try its credentials now; else the seconds until it may
 * (answer 429). Counts a limited attempt. */
long sr_auth_guard_check(sr_auth_guard *g, const char *ip, uint64_t now_ms);

enum {
    SR_AUTH_REPORT_NONE = 0, /* counted for the summary only */
    SR_AUTH_REPORT_LOG = 1,  /* worth a log line */
    SR_AUTH_REPORT_FULL = 3, /* the interval's first: log and audit it in full */
};

/* Notes a failed authentication from `ip`; returns what to report now. */
int sr_auth_guard_failed(sr_auth_guard *g, const char *ip, uint64_t now_ms);

typedef struct sr_auth_guard_summary {
    uint64_t failures; /* failed attempts in the interval */
    uint64_t limited;  /* attempts answered 429 in the interval */
    uint64_t peers;    /* distinct addresses among them */
    uint64_t since_ms; /* the interval's start (the clock given to the calls) */
} sr_auth_guard_summary;

/* Fills `out` and returns 1 when an interval that ended by `now_ms` (or,
 * with `force`, the current one) saw more than its first failure (already
 * reported in full); the summary is then taken. Returns 0 otherwise. Call it
 * after each failure and from a timer (or at close) with `force`. */
int sr_auth_guard_take_summary(sr_auth_guard *g, uint64_t now_ms, int force,
                               sr_auth_guard_summary *out);

typedef struct sr_auth_guard_stats {
    uint64_t failures; /* ever */
    uint64_t limited;  /* ever */
} sr_auth_guard_stats;

void sr_auth_guard_stats_get(const sr_auth_guard *g, sr_auth_guard_stats *out);

#endif
