/* queue.c - memory and disk queues behind one interface. */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* `data` holds the record, a NUL, then the event (if kept) and a NUL. */
typedef struct mem_rec {
    struct mem_rec *next;
    uint64_t seq;
    uint32_t len, event_len;
    char data[];
} mem_rec;

/* What a memory record counts against the bound. */
static uint64_t mem_size(const mem_rec *r) { return (uint64_t)r->len + r->event_len; }

struct sr_queue {
    sr_queue_conf conf;
    char *name;
    /* memory */
    mem_rec *head, *tail;
    uint64_t next_seq;
    uint64_t events, bytes;
    uint64_t record_bytes; /* memory: of `bytes`, the records' own */
    /* disk: pushed since open, records and what was stored with them, to
     * tell how much of the spool's bytes are records */
    uint64_t pushed_records, pushed_stored;
    /* disk */
    sr_spool *spool;
    /* disk: records skipped by drop_oldest, still on disk until acked */
    uint64_t skipped_events, skipped_bytes, skip_end;
};

void sr_queue_batch_free(sr_queue_batch *b) {
    free(b->recs);
    b->recs = NULL;
    b->n = b->cap = 0;
    sr_spool_batch_free(&b->spool);
}

static int batch_room(sr_queue_batch *b, size_t n) {
    if (n <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < n)
        cap *= 2;
    sr_queue_rec *r = realloc(b->recs, cap * sizeof *r);
    if (!r)
        return -1;
    b->recs = r;
    b->cap = cap;
    return 0;
}

static sr_fsync_policy fsync_policy(sr_fsync_conf c) {
    return c == SR_FSYNC_CONF_INTERVAL ? SR_FSYNC_INTERVAL
           : c == SR_FSYNC_CONF_NEVER  ? SR_FSYNC_NEVER
                                       : SR_FSYNC_ALWAYS;
}

sr_queue *sr_queue_open(const sr_queue_conf *conf, const char *spool_dir, const char *name,
                        char *err, size_t errlen) {
    sr_queue *q = calloc(1, sizeof *q);
    if (!q || !(q->name = strdup(name))) {
        snprintf(err, errlen, "out of memory");
        free(q);
        return NULL;
    }
    q->conf = *conf;
    q->next_seq = 1;
    if (conf->type != SR_QUEUE_DISK)
        return q;

    sr_spool_conf sc = {
        .segment_bytes = conf->segment_bytes,
        .fsync = fsync_policy(conf->fsync),
        .fsync_interval_ms = conf->fsync_interval_ms,
    };
    sr_spool_recovery rec;
    q->spool = sr_spool_open(spool_dir, &sc, &rec, err, errlen);
    if (!q->spool) {
        sr_queue_close(q);
        return NULL;
    }
    if (rec.pending)
        sr_info("queue", "integration '%s': %llu record(s) recovered from the spool in %s", name,
                (unsigned long long)rec.pending, spool_dir);
    return q;
}

void sr_queue_close(sr_queue *q) {
    if (!q)
        return;
    sr_spool_close(q->spool);
    for (mem_rec *r = q->head; r;) {
        mem_rec *next = r->next;
        free(r);
        r = next;
    }
    free(q->name);
    free(q);
}

static int keeps_events(const sr_queue *q) { return q->conf.keep_events != SR_KEEP_EVENTS_OFF; }

/* The event pushed with record i that the queue keeps (0: none). */
static uint32_t kept_len(const sr_queue *q, const char *const *events, const uint32_t *event_lens,
                         size_t i) {
    return keeps_events(q) && events && events[i] ? event_lens[i] : 0;
}

uint64_t sr_queue_push_bytes(const sr_queue *q, const uint32_t *lens, const char *const *events,
                             const uint32_t *event_lens, size_t n) {
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += (uint64_t)lens[i] + kept_len(q, events, event_lens, i);
    return bytes;
}

int sr_queue_push(sr_queue *q, const char *const *recs, const uint32_t *lens,
                  const char *const *events, const uint32_t *event_lens, size_t n, char *err,
                  size_t errlen) {
    if (n == 0)
        return 0;
    if (!keeps_events(q))
        events = NULL;
    if (q->spool) {
        if (sr_spool_append(q->spool, recs, lens, events, event_lens, n, NULL, err, errlen) != 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            q->pushed_records += lens[i];
        q->pushed_stored += sr_queue_push_bytes(q, lens, events, event_lens, n);
        return 0;
    }

    /* All or nothing: build the chain first, then link it. */
    mem_rec *first = NULL, *last = NULL;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t elen = kept_len(q, events, event_lens, i);
        mem_rec *r = malloc(sizeof *r + lens[i] + 1 + (elen ? elen + 1 : 0));
        if (!r) {
            for (mem_rec *f = first; f;) {
                mem_rec *next = f->next;
                free(f);
                f = next;
            }
            snprintf(err, errlen, "out of memory queueing %zu record(s)", n);
            return -1;
        }
        r->next = NULL;
        r->seq = q->next_seq + i;
        r->len = lens[i];
        r->event_len = elen;
        memcpy(r->data, recs[i], lens[i]);
        r->data[lens[i]] = '\0';
        if (elen) {
            memcpy(r->data + lens[i] + 1, events[i], elen);
            r->data[lens[i] + 1 + elen] = '\0';
        }
        if (last)
            last->next = r;
        else
            first = r;
        last = r;
        bytes += mem_size(r);
    }
    if (q->tail)
        q->tail->next = first;
    else
        q->head = first;
    q->tail = last;
    q->next_seq += n;
    q->events += n;
    q->bytes += bytes;
    for (size_t i = 0; i < n; i++)
        q->record_bytes += lens[i];
    return 0;
}

static sr_queue_rec mem_view(const mem_rec *r) {
    return (sr_queue_rec){r->seq, r->data, r->len, r->event_len ? r->data + r->len + 1 : NULL,
                          r->event_len};
}

int sr_queue_read(sr_queue *q, uint64_t from_seq, size_t max_n, size_t max_bytes,
                  sr_queue_batch *out, char *err, size_t errlen) {
    out->n = 0;
    out->bytes = 0;
    if (q->spool) {
        if (sr_spool_read(q->spool, from_seq, max_n, max_bytes, &out->spool, err, errlen) != 0)
            return -1;
        if (batch_room(out, out->spool.n) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < out->spool.n; i++) {
            const sr_spool_record *s = &out->spool.recs[i];
            out->recs[i] = (sr_queue_rec){s->seq, s->data, s->len, s->event, s->event_len};
            out->bytes += s->len;
        }
        out->n = out->spool.n;
        return 0;
    }
    mem_rec *r = q->head;
    while (r && r->seq < from_seq)
        r = r->next;
    for (; r && out->n < max_n; r = r->next) {
        if (out->n && out->bytes + r->len > max_bytes)
            break;
        if (batch_room(out, out->n + 1) != 0) {
            if (out->n)
                break;
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        out->recs[out->n++] = mem_view(r);
        out->bytes += r->len;
    }
    return 0;
}

int sr_queue_ack(sr_queue *q, uint64_t upto_seq, char *err, size_t errlen) {
    if (q->spool) {
        if (upto_seq >= q->skip_end)
            q->skipped_events = q->skipped_bytes = 0;
        return sr_spool_ack(q->spool, upto_seq, err, errlen);
    }
    while (q->head && q->head->seq < upto_seq) {
        mem_rec *r = q->head;
        q->head = r->next;
        q->events--;
        q->bytes -= mem_size(r);
        q->record_bytes -= r->len;
        free(r);
    }
    if (!q->head)
        q->tail = NULL;
    return 0;
}

uint64_t sr_queue_events(const sr_queue *q) {
    if (!q->spool)
        return q->events;
    sr_spool_info si;
    sr_spool_stats(q->spool, &si);
    return si.pending_records - q->skipped_events;
}

uint64_t sr_queue_bytes(const sr_queue *q) {
    if (!q->spool)
        return q->bytes;
    sr_spool_info si;
    sr_spool_stats(q->spool, &si);
    return si.pending_bytes - q->skipped_bytes;
}

uint64_t sr_queue_record_bytes(const sr_queue *q) {
    if (!q->spool)
        return q->record_bytes;
    uint64_t bytes = sr_queue_bytes(q);
    if (!q->pushed_stored || q->pushed_records >= q->pushed_stored)
        return bytes;
    return (uint64_t)((double)bytes * (double)q->pushed_records / (double)q->pushed_stored);
}

uint64_t sr_queue_limit(const sr_queue *q) { return q->conf.max_bytes; }

int sr_queue_full(const sr_queue *q) { return sr_queue_bytes(q) >= q->conf.max_bytes; }

const char *sr_queue_type_name(const sr_queue *q) { return q->spool ? "disk" : "memory"; }

uint64_t sr_queue_next_seq(const sr_queue *q) {
    if (!q->spool)
        return q->next_seq;
    sr_spool_info si;
    sr_spool_stats(q->spool, &si);
    return si.next_seq;
}

uint64_t sr_queue_oldest_seq(const sr_queue *q) {
    if (!q->spool)
        return q->head ? q->head->seq : q->next_seq;
    sr_spool_info si;
    sr_spool_stats(q->spool, &si);
    return si.oldest_seq;
}

uint64_t sr_queue_safe_seq(const sr_queue *q) {
    if (!q->spool)
        return sr_queue_oldest_seq(q);
    sr_spool_info si;
    sr_spool_stats(q->spool, &si);
    return si.durable_seq;
}

/* Memory: unlinks and frees records from `from_seq` on. */
static uint64_t drop_memory(sr_queue *q, uint64_t from_seq, uint64_t target, uint64_t *next_seq) {
    mem_rec *prev = NULL, *r = q->head;
    while (r && r->seq < from_seq) {
        prev = r;
        r = r->next;
    }
    uint64_t dropped = 0;
    while (r && q->bytes > target) {
        mem_rec *next = r->next;
        q->events--;
        q->bytes -= mem_size(r);
        q->record_bytes -= r->len;
        free(r);
        dropped++;
        r = next;
    }
    if (prev)
        prev->next = r;
    else
        q->head = r;
    if (!r)
        q->tail = prev;
    *next_seq = r ? r->seq : q->next_seq;
    return dropped;
}

/* Disk: skips records (reading them only for their sizes). */
static uint64_t drop_disk(sr_queue *q, uint64_t from_seq, uint64_t target, uint64_t *next_seq) {
    sr_spool_batch b = SR_SPOOL_BATCH_INIT;
    char err[256];
    uint64_t dropped = 0, seq = from_seq;
    while (sr_queue_bytes(q) > target) {
        if (sr_spool_read(q->spool, seq, 256, 1 << 20, &b, err, sizeof err) != 0) {
            sr_error("queue", "integration '%s': %s", q->name, err);
            break;
        }
        if (b.n == 0)
            break;
        size_t i = 0;
        for (; i < b.n && sr_queue_bytes(q) > target; i++) {
            q->skipped_events++;
            /* framing included, as pending_bytes counts */
            q->skipped_bytes += b.recs[i].stored + 16;
            dropped++;
            seq = b.recs[i].seq + 1;
        }
        if (i < b.n)
            break;
        seq = b.next_seq;
    }
    sr_spool_batch_free(&b);
    if (seq > q->skip_end)
        q->skip_end = seq;
    *next_seq = seq;
    return dropped;
}

uint64_t sr_queue_drop_oldest(sr_queue *q, uint64_t from_seq, uint64_t room, uint64_t *next_seq) {
    uint64_t target = q->conf.max_bytes > room ? q->conf.max_bytes - room : 0;
    return q->spool ? drop_disk(q, from_seq, target, next_seq)
                    : drop_memory(q, from_seq, target, next_seq);
}

void sr_queue_tick(sr_queue *q, uint64_t now_ms) {
    char err[256];
    if (q->spool && sr_spool_sync_if_due(q->spool, now_ms, err, sizeof err) != 0)
        sr_error("queue", "integration '%s': %s", q->name, err);
}
