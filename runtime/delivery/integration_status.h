/* integration_status.h - an integration's Sysdig status, its transition history, and
 * their persistence.
 *
 * Statuses as Sysdig defines them:
 *   Not Connected  configured, nothing delivered yet;
 *   Connected      delivering, no failed attempt in the last 24 hours;
 *   Warning        a delivery needed a retry in the last 24 hours;
 *   Error          a batch failed after its last attempt; inhibited.
 *
 * Every transition is recorded with its wall-clock time and reason (HTTP
 * status, error text; secrets already masked by the caller) in a bounded
 * history (the newest SR_STATUS_HISTORY_MAX). Status, history and the time of
 * the last retry are written to a small JSON file (atomically: a temporary
 * file, fsync, rename) at each transition, and read back on start, so a
 * restart neither forgets an outage nor resets Warning to Connected. */
#ifndef SR_INTEGRATION_STATUS_H
#define SR_INTEGRATION_STATUS_H

#include <stddef.h>
#include <stdint.h>

#define SR_STATUS_HISTORY_MAX       64
#define SR_STATUS_WARNING_WINDOW_MS (24LL * 3600 * 1000)

typedef enum {
    SR_STATUS_NOT_CONNECTED,
    SR_STATUS_CONNECTED,
    SR_STATUS_WARNING,
    SR_STATUS_ERROR,
} sr_status;

/* "Not Connected", "Connected", "Warning", "Error". */
const char *sr_status_name(sr_status s);

typedef struct sr_status_change {
    int64_t time_ms; /* wall clock */
    sr_status from, to;
    char reason[200];
} sr_status_change;

/* A ring of the newest transitions; entry(i) for i in [0, n) is oldest first. */
typedef struct sr_status_history {
    sr_status_change ring[SR_STATUS_HISTORY_MAX];
    size_t start, n;
} sr_status_history;

const sr_status_change *sr_status_history_at(const sr_status_history *h, size_t i);

typedef struct sr_status_state {
    sr_status status;
    int64_t since_ms;      /* when the current status began */
    int64_t last_retry_ms; /* last failed attempt, 0 = never */
    sr_status_history history;
    char *path; /* the state file; NULL = not persisted */
} sr_status_state;

/* Starts as Not Connected, then loads `path` if it exists (a damaged file is
 * logged and ignored). `path` may be NULL. Returns 0, or -1 if out of memory. */
int sr_status_init(sr_status_state *s, const char *path, const char *name);
void sr_status_free(sr_status_state *s);

/* Moves to `to` (no-op when already there), records the change, logs it and
 * persists the state. Returns 1 when the status changed. */
int sr_status_set(sr_status_state *s, const char *name, sr_status to, const char *reason,
                  int64_t now_ms);

/* Records a failed attempt (for the 24-hour Warning window). */
void sr_status_note_retry(sr_status_state *s, int64_t now_ms);

/* Moves Warning back to Connected once 24 hours passed without a retry
 * (called periodically, so idle integrations recover too). */
void sr_status_settle(sr_status_state *s, const char *name, int64_t now_ms);

#endif
