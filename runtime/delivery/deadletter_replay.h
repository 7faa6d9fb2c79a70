/* deadletter_replay.h - dead letters sent again: an integration's records
 * through its queue, or the pipeline's events through the whole pipeline.
 *
 * After the cause of a rejection is fixed (a mapping, a token, an index),
 * the records an integration's dead-letter files hold can be replayed. All
 * of its files are read, oldest first (the rotated <name>.jsonl.5 ... .1,
 * then <name>.jsonl), and the lines that match the filter are queued for the
 * integration in that order as one unit (sr_delivery_enqueue_many). Only
 * once they are queued are the files rewritten without them (a temporary
 * file, fsync, rename; a rotated file left empty is removed). A second
 * replay therefore finds nothing to send again; a crash between the two
 * steps can only send a record twice, never lose it.
 *
 * What is sent for a line of an integration's file:
 *   - by default, the stored `record` (the wire record as it was encoded),
 *     queued with the line's `event` beside it when it has one, so a second
 *     rejection dead-letters it with its event again. Lines holding an
 *     `event` only (a site script or the module's encode failed on it) have
 *     no record: they are kept and counted (`events`);
 *   - with `reencode`, after a mapping or script fix: the stored `event`
 *     (the event as received; a platform-rejected record's line holds it
 *     beside the record when its queue kept events, queue.keep_events) is
 *     run again through the host's current pipeline (global scripts,
 *     routing, the integration's scripts and encode), and the records it
 *     yields for the integration are queued, each with that event. An event
 *     that yields none (it fails again, is dropped or not routed to the
 *     integration) is kept, and the first reason is reported. Lines with no
 *     event (a record dead-lettered with keep_events off, or by a release
 *     before events were kept) are kept and counted (`records`): there is
 *     nothing to rebuild them from.
 *
 * The pipeline's file (_pipeline.jsonl: events a global site script failed
 * on) is replayed with sr_deadletter_replay_pipeline: each matching line's
 * event runs through the host's current pipeline, as at ingest, and the
 * records it yields for every integration are queued (each integration's
 * as one unit, in line order; if one cannot take them, no line leaves and
 * the others' may be sent again by the next replay: at least once). A line
 * leaves its file once its event got through the global scripts: its
 * records queued, and failures of integrations' own scripts or encoders
 * written to those integrations' dead letters (as ingest does; written
 * before the line leaves, so a crash can only write them twice). An event
 * a global script fails on again, or that yields nothing (dropped, routed
 * to no integration), is kept, with the first reason reported.
 *
 * Times are compared as times: the filter's bounds and each line's "time"
 * are parsed (RFC 3339 with any zone offset, or seconds since the epoch).
 * A line whose time cannot be read matches no time filter.
 *
 * Runs on the loop thread (delivery.h); `host` must be one the loop thread
 * owns (the delivery loop's). */
#ifndef SR_DEADLETTER_REPLAY_H
#define SR_DEADLETTER_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "deadletter.h"
#include "delivery.h"
#include "lua_host.h"

typedef struct sr_replay_filter {
    const char *stage;          /* exact stage ("rejected", "request", ...); NULL = any */
    const char *reason;         /* a substring of the reason; NULL = any */
    int has_since, has_until;   /* whether the bounds apply */
    int64_t since_ns, until_ns; /* lines with since <= time < until (ns since the epoch) */
    int reencode;               /* rebuild from the stored event (see above) */
} sr_replay_filter;

typedef struct sr_replay_result {
    uint64_t replayed;  /* records queued (integrations' lines gone from the files) */
    uint64_t reencoded; /* lines of those rebuilt from their event; the pipeline's: lines gone */
    uint64_t kept;      /* lines left: not matching the filter */
    uint64_t events;    /* matching lines holding an event that gave no record (kept) */
    uint64_t records;   /* matching lines with no event to run, when one is run (kept) */
    uint64_t moved;     /* the pipeline's: integrations' failures dead-lettered there */
    uint64_t files;     /* dead-letter files read */
    char error[256];    /* why the first event run gave no record; "" none */
} sr_replay_result;

/* A filter bound: RFC 3339 with any zone offset ("2026-12-05T22:10:00+01:00",
 * fraction allowed), or seconds since the epoch ("1764972600", "1764972600.25").
 * 0, or -1 when `text` is neither. */
int sr_replay_time_parse(const char *text, int64_t *ns);

/* Replays integration `integ`'s dead letters; `host` (may be NULL when not
 * re-encoding) runs the events again. Returns 0, or -1 with `err` when
 * nothing was replayed (the files unchanged, nothing queued). */
int sr_deadletter_replay(sr_deadletter *dl, sr_delivery *d, sr_lua_host *host, size_t integ,
                         const sr_replay_filter *f, sr_replay_result *out, char *err,
                         size_t errlen);

/* Replays the pipeline's dead letters (_pipeline.jsonl) through the whole
 * pipeline `host` runs (required; the filter's `reencode` is implied).
 * Returns 0, or -1 with `err` when nothing was replayed. */
int sr_deadletter_replay_pipeline(sr_deadletter *dl, sr_delivery *d, sr_lua_host *host,
                                  const sr_replay_filter *f, sr_replay_result *out, char *err,
                                  size_t errlen);

#endif
