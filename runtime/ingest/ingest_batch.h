/* ingest_batch.h - one unit of ingest work: the bytes a sender submitted, the
 * events parsed from them, and what the pipeline made of each.
 *
 * A batch is created on the loop thread by the pipeline, parsed and run
 * through Lua on a worker thread, and committed (queued, dead-lettered,
 * answered) back on the loop thread. Everything it parsed lives in its
 * arena, so it is freed in one go. */
#ifndef SR_INGEST_BATCH_H
#define SR_INGEST_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "event.h"
#include "ingest.h"
#include "lua_host.h"

typedef enum { SR_FRAME_SINGLE, SR_FRAME_ARRAY, SR_FRAME_NDJSON } sr_body_framing;

/* Why one event (or the whole body) was refused at parse time. */
typedef struct sr_reject {
    uint32_t line; /* NDJSON: 1-based line; 0 when not line-framed */
    int32_t index; /* JSON array: 0-based element; -1 otherwise */
    size_t offset; /* byte offset of the problem (within the line for
                      NDJSON, within the body otherwise) */
    char msg[160];
} sr_reject;

typedef struct sr_ingest_batch {
    /* input */
    char *data; /* owned */
    size_t len;
    sr_body_format fmt;
    uint32_t first_line;
    char origin[64];
    sr_ingest_cb cb;
    void *ud;
    /* parsed */
    sr_arena arena;
    sr_event *events;
    size_t nevents, events_cap;
    sr_reject *rejects;
    size_t nrejects, rejects_cap;
    sr_body_framing framing; /* what the body turned out to be */
    /* processed */
    sr_emit emit;
    int failed; /* the pipeline itself failed (no Lua state); nothing queued */
    /* bookkeeping for the pipeline's ordered commit */
    uint64_t seq;
    struct sr_ingest_batch *next;       /* worker pool queues */
    struct sr_ingest_batch *order_next; /* the pipeline's submission order */
    int done;                           /* set on the loop thread when it returns */
} sr_ingest_batch;

sr_ingest_batch *sr_ingest_batch_new(char *data, size_t len, sr_body_format fmt,
                                     uint32_t first_line, const char *origin, sr_ingest_cb cb,
                                     void *ud);
void sr_ingest_batch_free(sr_ingest_batch *b);

/* Splits the body into events and parses each (see docs/inputs.md for how a
 * body's framing is recognised). Never fails as a whole: every problem is
 * recorded as a reject. */
void sr_ingest_batch_parse(sr_ingest_batch *b, const sr_event_limits *limits);

/* Writes the JSON summary a sender gets and returns the HTTP status. Its
 * `unrouted` counts accepted events no integration took (docs/inputs.md). */
int sr_ingest_batch_summary(const sr_ingest_batch *b, sr_buf *out);
/* Events of the batch that no integration took, all reasons. */
uint32_t sr_ingest_batch_unrouted(const sr_ingest_batch *b);

#endif
