/* script_stats.h - what site scripts did, counted per script for the whole
 * process: events in, dropped, failed, timed out, and time spent.
 *
 * One object per process, created by the gateway and handed to every Lua
 * host through sr_lua_host_conf.stats. A script is identified by its path
 * and the integration whose script it is ("" for a global script); its row
 * is created the first time a host is built with it and kept for the life
 * of the process, so counters survive reloads as Prometheus expects.
 *
 * Hosts count into a private array while they run a batch and add it here
 * once per batch (sr_script_stats_add), so the per-event path takes no
 * lock and touches no shared cache line.
 *
 * The object also counts route names scripts gave that match no
 * integration (ev:route / ev:unroute), and logs each such name once; and
 * it holds back repeated lines scripts log (require "log").
 *
 * Thread-safe: rows are added under a mutex; counters are atomic. */
#ifndef SR_SCRIPT_STATS_H
#define SR_SCRIPT_STATS_H

#include <stddef.h>
#include <stdint.h>

enum {
    SR_SCRIPT_EVENTS,    /* events the script was called with */
    SR_SCRIPT_DROPPED,   /* events it dropped */
    SR_SCRIPT_FAILED,    /* events it raised an error on */
    SR_SCRIPT_TIMED_OUT, /* events it ran out of time on */
    SR_SCRIPT_TIME_NS,   /* nanoseconds spent in it (worker thread clock) */
    SR_SCRIPT_MEMORY,    /* events it ran out of its state's memory limit on */
    SR_SCRIPT_NCOUNTERS
};

typedef struct sr_script_stats sr_script_stats;

sr_script_stats *sr_script_stats_new(void);
void sr_script_stats_free(sr_script_stats *s);

/* The row of a script (created on first use); -1 when out of memory.
 * `integration` is NULL or "" for a global script. */
int sr_script_stats_row(sr_script_stats *s, const char *path, const char *integration);

/* Adds counts[SR_SCRIPT_NCOUNTERS] to a row. */
void sr_script_stats_add(sr_script_stats *s, int row, const uint64_t *counts);

typedef struct sr_script_stat {
    const char *path;        /* valid for the life of the object */
    const char *integration; /* "" for a global script */
    uint64_t c[SR_SCRIPT_NCOUNTERS];
    int disabled;        /* 1: disabled after too many runaways, until a reload */
    uint64_t runaways;   /* timeouts and memory failures, all time */
    uint64_t disablings; /* times it was disabled, all time */
} sr_script_stat;

size_t sr_script_stats_count(const sr_script_stats *s);
/* Copies row i (i < count). */
void sr_script_stats_get(const sr_script_stats *s, size_t i, sr_script_stat *out);

/* Runaways: a script that times out or exceeds the memory limit
 * `limit` times within `window_ms` (a runaway costs a Lua state or a
 * collection each time) is disabled: its events fail with stage
 * "disabled" until the next reload. At most SR_SCRIPT_RUNAWAY_MAX are
 * remembered per script. */
#define SR_SCRIPT_RUNAWAY_MAX 64
/* Records a runaway of `row` at `now_ms` (monotonic); with `limit` > 0 it
 * disables the script when it is the limit-th within `window_ms`. Returns
 * 1 when the script is disabled (now or earlier). */
int sr_script_stats_runaway(sr_script_stats *s, int row, uint64_t now_ms, unsigned limit,
                            uint64_t window_ms);
int sr_script_stats_disabled(const sr_script_stats *s, int row);
/* A reload: every script enabled again with a clean runaway history. */
void sr_script_stats_enable_all(sr_script_stats *s);

/* Lua states abandoned after a runaway in compiled code (never closed,
 * their heaps released), and the heap bytes they held. */
void sr_script_stats_abandoned(sr_script_stats *s, size_t bytes);
void sr_script_stats_abandoned_get(const sr_script_stats *s, uint64_t *states, uint64_t *bytes);

/* A route name that matches no integration: counted; logged the first time
 * this process sees the name. */
void sr_script_stats_unknown_route(sr_script_stats *s, const char *name, size_t len);
uint64_t sr_script_stats_unknown_routes(const sr_script_stats *s);

/* A script's log line (lua/lib/log.lua): `where` is the script's
 * "FILE:LINE", `fields` JSON text or empty. Lines with the same place and
 * message are written at most SR_SCRIPT_LOG_BURST times per
 * SR_SCRIPT_LOG_WINDOW_MS; the next one written carries "suppressed":N.
 * `s` may be NULL (no limit). */
#define SR_SCRIPT_LOG_BURST     5
#define SR_SCRIPT_LOG_WINDOW_MS 10000
void sr_script_log(sr_script_stats *s, int level, const char *where, size_t wlen, const char *msg,
                   size_t mlen, const char *fields, size_t flen);

#endif
