/* pipeline.c - ordered commit of processed batches. */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_limit.h"

/* Reject log lines per batch: enough to diagnose, not enough to flood. */
#define SR_REJECT_LOG_MAX 5
/* Failure log lines: per failing place (stage, integration, script line),
 * this many per window; the rest are counted and reported with the next. */
#define SR_FAIL_LOG_BURST     5
#define SR_FAIL_LOG_WINDOW_MS 10000

struct sr_pipeline {
    uv_loop_t *loop;
    sr_delivery *delivery;
    sr_deadletter *dl;
    const char *const *names;
    sr_worker_pool *pool;
    sr_ingest_batch *head, *tail; /* submitted, in order, until committed */
    uint64_t next_seq, pending;
    int accepting;
    int paused;               /* a reload is swapping configurations: ingest waits */
    uint64_t generation;      /* +1 per reload: marks of older ones are renumbered */
    unsigned warned_channels; /* unsubscribed channels already warned about */
    sr_pipeline_stats st;
    sr_log_limit *fail_log; /* NULL: out of memory at start, every line written */
};

sr_pipeline *sr_pipeline_new(uv_loop_t *loop, sr_delivery *delivery, sr_deadletter *dl,
                             const char *const *integration_names) {
    sr_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->loop = loop;
    p->delivery = delivery;
    p->dl = dl;
    p->names = integration_names;
    p->accepting = 1;
    p->fail_log = sr_log_limit_new(SR_FAIL_LOG_BURST, SR_FAIL_LOG_WINDOW_MS);
    return p;
}

void sr_pipeline_set_workers(sr_pipeline *p, sr_worker_pool *pool) { p->pool = pool; }

static int submit(void *ctx, char *data, size_t len, sr_body_format fmt, uint32_t first_line,
                  const char *origin, sr_ingest_cb cb, void *ud) {
    sr_pipeline *p = ctx;
    if (!p->accepting || p->paused || !p->pool || sr_delivery_busy(p->delivery)) {
        free(data);
        return -1;
    }
    sr_ingest_batch *b = sr_ingest_batch_new(data, len, fmt, first_line, origin, cb, ud);
    if (!b) {
        free(data);
        sr_error("pipeline", "out of memory accepting %zu bytes from %s", len,
                 origin ? origin : "?");
        return -1;
    }
    b->seq = p->next_seq++;
    if (p->tail)
        p->tail->order_next = b;
    else
        p->head = b;
    p->tail = b;
    p->pending++;
    sr_worker_pool_submit(p->pool, b);
    return 0;
}

static long busy(void *ctx) {
    sr_pipeline *p = ctx;
    long s = !p->accepting ? 5 : p->paused ? 1 : sr_delivery_busy(p->delivery);
    if (s > 0)
        p->st.busy++;
    return s;
}

struct sr_ingest_mark {
    uint64_t generation;
    size_t n;
    uint64_t next_seq[]; /* per integration, when the mark was taken */
};

static sr_ingest_mark *mark(void *ctx) {
    sr_pipeline *p = ctx;
    size_t n = sr_delivery_count(p->delivery);
    sr_ingest_mark *m = malloc(sizeof *m + n * sizeof m->next_seq[0]);
    if (!m)
        return NULL;
    m->generation = p->generation;
    m->n = n;
    for (size_t i = 0; i < n; i++)
        m->next_seq[i] = sr_delivery_next_seq(p->delivery, i);
    return m;
}

static int mark_safe(void *ctx, sr_ingest_mark **m) {
    sr_pipeline *p = ctx;
    if ((*m)->generation != p->generation) {
        /* A reload renumbered the integrations (kept ones keep their
         * queues): wait for everything queued until now instead. */
        sr_ingest_mark *fresh = mark(p);
        if (fresh) {
            free(*m);
            *m = fresh;
        }
        return 0;
    }
    for (size_t i = 0; i < (*m)->n; i++)
        if (sr_delivery_safe_seq(p->delivery, i) < (*m)->next_seq[i])
            return 0;
    return 1;
}

sr_ingest sr_pipeline_ingest(sr_pipeline *p) {
    sr_ingest ing = {.submit = submit, .busy = busy, .mark = mark, .safe = mark_safe, .ctx = p};
    return ing;
}

static void log_rejects(const sr_ingest_batch *b) {
    for (size_t i = 0; i < b->nrejects && i < SR_REJECT_LOG_MAX; i++) {
        const sr_reject *r = &b->rejects[i];
        if (r->line)
            sr_warn("pipeline", "%s: line %u rejected at offset %zu: %s", b->origin, r->line,
                    r->offset, r->msg);
        else if (r->index >= 0)
            sr_warn("pipeline", "%s: element %d rejected at offset %zu: %s", b->origin, r->index,
                    r->offset, r->msg);
        else
            sr_warn("pipeline", "%s: body rejected at offset %zu: %s", b->origin, r->offset,
                    r->msg);
    }
    if (b->nrejects > SR_REJECT_LOG_MAX)
        sr_warn("pipeline", "%s: %zu more rejected event(s) in the same submission", b->origin,
                b->nrejects - SR_REJECT_LOG_MAX);
}

/* ` (id "x")` for an event with a scalar "id", else "". */
static void event_id(const sr_event *e, char *out, size_t outlen) {
    const char *val;
    uint32_t vlen;
    int t = sr_event_get(e, "id", 2, &val, &vlen);
    out[0] = '\0';
    if (t == SR_JSON_STRING || t == SR_JSON_NUMBER)
        snprintf(out, outlen, " (id %.*s)", (int)(vlen > 80 ? 80 : vlen), val);
}

/* Lua's message usually starts with the same FILE:LINE as `where`, or its
 * tail after "..." (Lua shortens long paths): the line says it once. */
static const char *without_where(const char *msg, const char *where) {
    size_t wlen = strlen(where);
    if (!wlen)
        return msg;
    if (strncmp(msg, where, wlen) == 0 && strncmp(msg + wlen, ": ", 2) == 0)
        return msg + wlen + 2;
    const char *colon = strstr(msg, ": ");
    if (strncmp(msg, "...", 3) == 0 && colon) {
        size_t n = (size_t)(colon - (msg + 3));
        if (n <= wlen && memcmp(where + wlen - n, msg + 3, n) == 0)
            return colon + 2;
    }
    return msg;
}

/* One line per failing place and window (see SR_FAIL_LOG_*): 750 events
 * failing on one script line make five lines, and the next line of that
 * place says how many were not written. Metrics count every one. */
static void log_failure(sr_pipeline *p, const sr_ingest_batch *b, const sr_emit_fail *f,
                        const char *integ) {
    const sr_event *e = &b->events[f->ev];
    char key[512];
    int klen = snprintf(key, sizeof key, "%s|%s|%s", f->stage, integ ? integ : "",
                        f->where[0] ? f->where : f->msg);
    uint64_t held = 0;
    if (p->fail_log &&
        !sr_log_limit_allow(p->fail_log, key,
                            klen < (int)sizeof key ? (size_t)klen : sizeof key - 1, &held))
        return;
    char id[100], more[96] = "";
    event_id(e, id, sizeof id);
    if (held)
        snprintf(more, sizeof more, " (%llu more like it not logged)", (unsigned long long)held);
    const char *msg = without_where(f->msg, f->where);
    sr_warn("pipeline", "%s: event %u%s failed in %s%s%s%s%s: %s%s", b->origin, e->seq, id,
            f->stage, integ ? " for integration " : "", integ ? integ : "",
            f->where[0] ? " at " : "", f->where, msg, more);
}

/* A failed event is written as it was received (compacted), so the dead
 * letter can be replayed as is. */
static void dead_letter_failures(sr_pipeline *p, const sr_ingest_batch *b) {
    for (size_t i = 0; i < b->emit.nfails; i++) {
        const sr_emit_fail *f = &b->emit.fails[i];
        const sr_event *e = &b->events[f->ev];
        const char *integ = f->integ >= 0 ? p->names[f->integ] : NULL;
        log_failure(p, b, f, integ);
        sr_deadletter_write_failure(p->dl, integ, &b->emit, f, e->raw, e->raw_len);
    }
}

/* Queues a batch's records, each integration's as one unit (one spool
 * append, one fsync), each with the raw event it came from (the queue keeps
 * it when keep_events is on, for a replay that re-encodes). Returns -1 if
 * any integration could not take them: the sender is then told to retry,
 * and integrations that did take theirs will see those again (at least
 * once). */
static int queue_records(sr_pipeline *p, const sr_ingest_batch *b) {
    size_t n = b->emit.nrecs;
    if (n == 0)
        return 0;
    const char **recs = malloc(n * sizeof *recs), **events = malloc(n * sizeof *events);
    uint32_t *lens = malloc(n * sizeof *lens), *event_lens = malloc(n * sizeof *event_lens);
    int rc = 0;
    if (!recs || !lens || !events || !event_lens) {
        sr_error("pipeline", "out of memory queueing %zu record(s)", n);
        rc = -1;
        goto done;
    }
    for (size_t integ = 0, left = n; left > 0 && integ < sr_delivery_count(p->delivery); integ++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            const sr_emit_rec *r = &b->emit.recs[i];
            if (r->integ != integ)
                continue;
            const sr_event *e = &b->events[r->ev];
            recs[k] = b->emit.data.data + r->off;
            lens[k] = r->len;
            events[k] = e->raw;
            event_lens[k++] = e->raw_len;
        }
        left -= k;
        char err[256];
        if (k && sr_delivery_enqueue_many(p->delivery, integ, recs, lens, events, event_lens, k,
                                          err, sizeof err) != 0) {
            sr_error("pipeline", "integration '%s': cannot queue %zu record(s): %s",
                     p->names[integ], k, err);
            rc = -1;
        }
    }
done:
    free(recs);
    free(lens);
    free(events);
    free(event_lens);
    return rc;
}

/* Counts events no integration took, and warns once per configuration
 * about each channel that receives events no integration subscribes to. */
static void note_unrouted(sr_pipeline *p, const sr_ingest_batch *b) {
    for (int r = 0; r < SR_UNROUTED_REASONS; r++)
        p->st.unrouted[r] += b->emit.unrouted[r];
    unsigned fresh = b->emit.unrouted_channels & ~p->warned_channels;
    for (unsigned bit = 1; fresh && bit <= SR_CH_MONITOR_EVENTS; bit <<= 1)
        if (fresh & bit)
            sr_warn("pipeline",
                    "%s: events on channel %s reach no integration: none subscribes to it; "
                    "they are accepted and counted as unrouted (no_integration)",
                    b->origin, sr_channel_name(bit));
    p->warned_channels |= fresh;
}

static void commit(sr_pipeline *p, sr_ingest_batch *b) {
    if (!b->failed) {
        if (queue_records(p, b) != 0)
            b->failed = 1; /* the sender is told to retry */
        dead_letter_failures(p, b);
        if (b->emit.nfails)
            sr_delivery_encode_failures(p->delivery, &b->emit);
    }
    log_rejects(b);
    p->st.batches++;
    p->st.accepted += b->failed ? 0 : b->nevents;
    p->st.rejected += b->nrejects;
    p->st.dropped += b->emit.ndropped;
    p->st.failed += b->emit.nfails;
    p->st.records += b->failed ? 0 : b->emit.nrecs;
    if (!b->failed)
        note_unrouted(p, b);

    sr_buf body = SR_BUF_INIT;
    int status = sr_ingest_batch_summary(b, &body);
    sr_ingest_reply reply = {
        .status = status,
        .body = body.data ? body.data : "{}",
        .body_len = body.len,
        .retry_after_s = status == 503 ? 1 : -1,
        .accepted = b->failed ? 0 : (uint32_t)b->nevents,
        .rejected = (uint32_t)b->nrejects,
    };
    if (status == 503) {
        /* Not taken: the body goes back to the input, to be sent again. */
        reply.data = b->data;
        reply.data_len = b->len;
        b->data = NULL;
    }
    b->cb(b->ud, &reply);
    sr_buf_free(&body);
}

void sr_pipeline_batch_done(void *pipeline, sr_ingest_batch *b) {
    sr_pipeline *p = pipeline;
    b->done = 1;
    int committed = 0;
    while (p->head && p->head->done) {
        sr_ingest_batch *c = p->head;
        p->head = c->order_next;
        if (!p->head)
            p->tail = NULL;
        p->pending--;
        commit(p, c);
        sr_ingest_batch_free(c);
        committed = 1;
    }
    if (committed)
        sr_delivery_kick(p->delivery);
}

void sr_pipeline_stop_accepting(sr_pipeline *p) { p->accepting = 0; }

void sr_pipeline_pause(sr_pipeline *p, int paused) { p->paused = paused; }

void sr_pipeline_set_names(sr_pipeline *p, const char *const *integration_names) {
    p->names = integration_names;
    p->generation++;
    p->warned_channels = 0; /* a new configuration: warn again */
}

uint64_t sr_pipeline_pending(const sr_pipeline *p) { return p->pending; }

void sr_pipeline_stats_get(const sr_pipeline *p, sr_pipeline_stats *out) { *out = p->st; }

void sr_pipeline_free(sr_pipeline *p) {
    if (p)
        sr_log_limit_free(p->fail_log);
    free(p);
}
