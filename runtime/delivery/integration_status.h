/* integration_status.h - an integration's Sysdig status, its transition history, and
 * their persistence.
 *
 * Statuses as Sysdig defines them, over a window (`delivery.status_window`,
 * 24 hours unless configured shorter):
 *   Not Connected  configured, nothing delivered yet;
 *   Connected      delivering, no failed attempt and no rejection in the
 *                  last window;
 *   Warning        a failed attempt or a rejection in the last window, or
 *                  delivering again after an Error;
 *   Error          a batch failed after its last attempt (inhibited), or
 *                  every record of the last SR_STATUS_REJECT_ERROR_BATCHES
 *                  batches was rejected.
 * Only a full window with no issue turns Warning into Connected, so an
 * Error never turns green at the first delivery after it.
 *
 * Every transition is recorded with its wall-clock time and reason (HTTP
 * status, error text; secrets already masked by the caller) in a bounded
 * history (the newest SR_STATUS_HISTORY_MAX); so is a rejection that leaves
 * the status as it is (from == to), at most once per SR_STATUS_NOTE_MS.
 * Status, history and the times of the last failed attempt and the last
 * rejection are written to a small JSON file (atomically: a temporary file,
 * fsync, rename) at each change, and read back on start, so a restart
 * neither forgets an outage nor resets Warning to Connected. */
#ifndef SR_INTEGRATION_STATUS_H
#define SR_INTEGRATION_STATUS_H

#include <stddef.h>
#include <stdint.h>

#define SR_STATUS_HISTORY_MAX          64
#define SR_STATUS_REJECT_ERROR_BATCHES 3
#define SR_STATUS_NOTE_MS              10000

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
    int64_t since_ms;       /* when the current status began */
    int64_t last_retry_ms;  /* last failed attempt, 0 = never */
    int64_t last_reject_ms; /* last rejected record, 0 = never */
    int64_t window_ms;      /* the Connected window (not persisted) */
    int64_t last_note_ms;   /* last unchanged-status history entry (not persisted) */
    sr_status_history history;
    char *path; /* the state file; NULL = not persisted */
} sr_status_state;

/* Starts as Not Connected, then loads `path` if it exists (a damaged file is
 * logged and ignored). `path` may be NULL; `window_ms` is the configured
 * `delivery.status_window` (its one default is that row's).
 * Returns 0, or -1 if out of memory. */
int sr_status_init(sr_status_state *s, const char *path, const char *name, int64_t window_ms);
void sr_status_free(sr_status_state *s);

/* Moves to `to` (no-op when already there), records the change, logs it and
 * persists the state. Returns 1 when the status changed. */
int sr_status_set(sr_status_state *s, const char *name, sr_status to, const char *reason,
                  int64_t now_ms);

/* Records a failed attempt (it keeps Warning for a window). */
void sr_status_note_retry(sr_status_state *s, int64_t now_ms);

/* A batch delivered something: Connected when nothing went wrong in the
 * window and the batch needed no retry, else Warning (from Error too), with
 * the reason. */
void sr_status_delivered(sr_status_state *s, const char *name, int needed_retry, int64_t now_ms);

/* Records a rejection: `to` is the status it leads to (Warning, or Error
 * when the integration rejects everything). A history entry is written even
 * when the status stays, at most once per SR_STATUS_NOTE_MS. Returns 1 when
 * an entry was written (the caller logs on that beat too). */
int sr_status_rejected(sr_status_state *s, const char *name, sr_status to, const char *reason,
                       int64_t now_ms);

/* Moves Warning to Connected once a full window passed with no failed
 * attempt and no rejection (called periodically, so idle integrations
 * recover too). */
void sr_status_settle(sr_status_state *s, const char *name, int64_t now_ms);

/* `ms` as a short duration for messages: "24h", "90s", "1500ms". */
void sr_status_window_text(int64_t ms, char *out, size_t outlen);

#endif
