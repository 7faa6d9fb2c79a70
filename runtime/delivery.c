/* delivery.c - queues, batches, retries and statuses per integration. */
#include "delivery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"
#include "sink.h"

#define SR_HISTORY_MAX 32

typedef struct sr_rec {
    struct sr_rec *next;
    uint32_t len;
    char data[];
} sr_rec;

typedef enum { TIMER_IDLE, TIMER_LINGER, TIMER_BACKOFF, TIMER_INHIBIT } timer_purpose;

typedef struct sr_integ_rt {
    sr_delivery *d;
    size_t idx;
    const sr_integration_conf *conf;
    sr_integration_info info;
    sr_sink *sink;
    /* queue: records waiting, oldest first */
    sr_rec *head, *tail;
    /* the batch in flight (or waiting for its next attempt) */
    sr_rec **batch;
    size_t nbatch, batch_cap;
    unsigned attempt;
    int in_flight;
    uv_timer_t timer;
    timer_purpose timer_for;
    int64_t last_retry_ms; /* wall clock of the last failed attempt */
    sr_integration_stats st;
} sr_integ_rt;

struct sr_delivery {
    uv_loop_t *loop;
    sr_lua_host *host;
    sr_deadletter *dl;
    sr_delivery_conf conf;
    sr_integ_rt *rt;
    size_t n;
    int draining;
    uv_timer_t drain_timer;
    void (*drain_done)(void *ud);
    void *drain_ud;
    int open_handles;
};

static const char *status_names[] = {"Not Connected", "Connected", "Warning", "Error"};

const char *sr_status_name(sr_status s) { return status_names[s]; }

static int64_t wall_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void set_status(sr_integ_rt *r, sr_status s, const char *reason) {
    if (r->st.status == s)
        return;
    sr_log(s == SR_STATUS_ERROR ? SR_LOG_ERROR : SR_LOG_INFO, "delivery",
           "integration '%s': status %s -> %s%s%s", r->conf->name, status_names[r->st.status],
           status_names[s], reason && *reason ? ": " : "", reason ? reason : "");
    r->st.status = s;
    r->st.status_since_ms = wall_ms();
}

/* ---- sending ----------------------------------------------------------- */

static void flush(sr_integ_rt *r);

static void arm_timer(sr_integ_rt *r, timer_purpose why, uint64_t ms);

static int take_batch(sr_integ_rt *r) {
    long max_events = r->info.max_events > 0 ? r->info.max_events : 500;
    long max_bytes = r->info.max_bytes > 0 ? r->info.max_bytes : (1 << 20);
    size_t bytes = 0;
    r->nbatch = 0;
    while (r->head && r->nbatch < (size_t)max_events) {
        /* A record larger than max_bytes still goes, alone. */
        if (r->nbatch && bytes + r->head->len > (size_t)max_bytes)
            break;
        if (r->nbatch == r->batch_cap) {
            size_t cap = r->batch_cap ? r->batch_cap * 2 : 64;
            sr_rec **b = realloc(r->batch, cap * sizeof *b);
            if (!b)
                break;
            r->batch = b;
            r->batch_cap = cap;
        }
        sr_rec *rec = r->head;
        r->head = rec->next;
        if (!r->head)
            r->tail = NULL;
        r->batch[r->nbatch++] = rec;
        bytes += rec->len;
    }
    return r->nbatch > 0;
}

static void on_sent(void *ud, const sr_sink_result *res);

static void dead_letter(sr_integ_rt *r, sr_rec *rec, const char *stage, const char *reason,
                        const sr_sink_result *res) {
    sr_deadletter_entry e = {
        .integration = r->conf->name,
        .stage = stage,
        .reason = reason,
        .response = res ? res->body : NULL,
        .response_len = res ? res->body_len : 0,
        .payload = rec->data,
        .payload_len = rec->len,
        .payload_is_event = 0,
    };
    sr_deadletter_write(r->d->dl, &e);
    r->st.dead_lettered++;
}

static void release(sr_integ_rt *r, sr_rec *rec) {
    r->st.queued_events--;
    r->st.queued_bytes -= rec->len;
    free(rec);
}

static void send_batch(sr_integ_rt *r) {
    const char **recs = malloc(r->nbatch * sizeof *recs);
    uint32_t *lens = malloc(r->nbatch * sizeof *lens);
    sr_http_request_buf req;
    memset(&req, 0, sizeof req);
    char err[256] = "";
    if (!recs || !lens) {
        snprintf(err, sizeof err, "out of memory");
        goto retry_later;
    }
    for (size_t i = 0; i < r->nbatch; i++) {
        recs[i] = r->batch[i]->data;
        lens[i] = r->batch[i]->len;
    }
    sr_sink_payload p = {.recs = recs, .lens = lens, .n = r->nbatch};
    if (strcmp(r->info.transport, "http") == 0) {
        if (sr_lua_host_request(r->d->host, r->idx, recs, lens, r->nbatch, &req, err,
                                sizeof err) != 0) {
            /* The module could not build a request for these records: no
             * attempt will ever succeed, so they are dead-lettered. */
            sr_warn("delivery", "integration '%s': request: %s", r->conf->name, err);
            for (size_t i = 0; i < r->nbatch; i++) {
                dead_letter(r, r->batch[i], "request", err, NULL);
                r->st.rejected++;
                release(r, r->batch[i]);
            }
            r->nbatch = 0;
            goto done;
        }
        p.http = &req.req;
    }
    if (sr_sink_send(r->sink, &p, on_sent, r) != 0) {
        snprintf(err, sizeof err, "transport refused the batch");
        goto retry_later;
    }
    r->in_flight = 1;
    goto done;

retry_later:
    sr_warn("delivery", "integration '%s': %s", r->conf->name, err);
    arm_timer(r, TIMER_BACKOFF, r->d->conf.backoff_ms);
done:
    sr_buf_free(&req.storage);
    free(recs);
    free(lens);
    if (r->nbatch == 0)
        flush(r);
}

static uint64_t backoff_ms(const sr_delivery *d, unsigned attempt, long retry_after_ms) {
    uint64_t ms = d->conf.backoff_ms << (attempt > 1 ? attempt - 1 : 0);
    if (ms > d->conf.backoff_max_ms)
        ms = d->conf.backoff_max_ms;
    /* +-20% jitter so many gateways do not retry in lockstep. */
    ms = ms * (80 + (uint64_t)(rand() % 41)) / 100;
    if (retry_after_ms > 0 && (uint64_t)retry_after_ms > ms)
        ms = (uint64_t)retry_after_ms < d->conf.inhibit_ms ? (uint64_t)retry_after_ms
                                                           : d->conf.inhibit_ms;
    return ms;
}

/* Applies a verdict to the batch: delivered records are freed, rejected ones
 * dead-lettered, and the ones to retry stay in r->batch, in order. */
static size_t apply_outcome(sr_integ_rt *r, const sr_outcome *o, const sr_sink_result *res) {
    size_t keep = 0;
    for (size_t i = 0; i < r->nbatch; i++) {
        sr_outcome_kind k = o->kind;
        if (o->items && i < o->nitems)
            k = (sr_outcome_kind)o->items[i];
        sr_rec *rec = r->batch[i];
        if (k == SR_OUTCOME_OK) {
            r->st.delivered++;
            release(r, rec);
        } else if (k == SR_OUTCOME_REJECT) {
            r->st.rejected++;
            dead_letter(r, rec, "rejected", o->reason, res);
            release(r, rec);
        } else {
            r->batch[keep++] = rec;
        }
    }
    r->nbatch = keep;
    return keep;
}

/* A non-HTTP transport's per-record verdicts as an outcome; the reason is
 * the first failed record's. */
static void sink_items(sr_outcome *o, const sr_sink_result *res) {
    o->kind = SR_OUTCOME_OK;
    o->items = malloc(res->nitems);
    if (!o->items) {
        o->kind = SR_OUTCOME_RETRY;
        snprintf(o->reason, sizeof o->reason, "out of memory");
        return;
    }
    o->nitems = res->nitems;
    for (size_t i = 0; i < res->nitems; i++) {
        sr_sink_item it = (sr_sink_item)res->items[i];
        o->items[i] = it == SR_SINK_ITEM_OK       ? SR_OUTCOME_OK
                      : it == SR_SINK_ITEM_REJECT ? SR_OUTCOME_REJECT
                                                  : SR_OUTCOME_RETRY;
        if (it != SR_SINK_ITEM_OK && !o->reason[0])
            snprintf(o->reason, sizeof o->reason, "%s",
                     res->item_errors && res->item_errors[i] ? res->item_errors[i] : res->error);
    }
}

static void on_sent(void *ud, const sr_sink_result *res) {
    sr_integ_rt *r = ud;
    r->in_flight = 0;
    sr_outcome o;
    memset(&o, 0, sizeof o);
    if (strcmp(r->info.transport, "http") == 0) {
        if (sr_lua_host_outcome(r->d->host, r->idx, res, r->nbatch, &o) != 0) {
            o.kind = SR_OUTCOME_RETRY;
            snprintf(o.reason, sizeof o.reason, "outcome() failed");
        }
    } else if (res->items && res->nitems == r->nbatch) {
        sink_items(&o, res);
    } else {
        o.kind = res->transport_ok ? SR_OUTCOME_OK : SR_OUTCOME_RETRY;
        snprintf(o.reason, sizeof o.reason, "%s", res->transport_ok ? "" : res->error);
    }
    /* From here on the response only feeds logs, status and dead letters:
     * mask any credential the platform echoed back. */
    sr_sink_result safe = *res;
    char *body = NULL;
    if (res->body_len && (body = malloc(res->body_len))) {
        memcpy(body, res->body, res->body_len);
        sr_lua_host_redact(r->d->host, r->idx, body, res->body_len);
        safe.body = body;
    } else {
        safe.body = NULL;
        safe.body_len = 0;
    }
    sr_lua_host_redact(r->d->host, r->idx, safe.error, strlen(safe.error));
    sr_lua_host_redact(r->d->host, r->idx, o.reason, strlen(o.reason));
    size_t left = apply_outcome(r, &o, &safe);
    sr_outcome_free(&o);
    free(body);
    if (left == 0) {
        r->attempt = 0;
        int recent = r->last_retry_ms && wall_ms() - r->last_retry_ms < 24LL * 3600 * 1000;
        set_status(r, recent ? SR_STATUS_WARNING : SR_STATUS_CONNECTED, NULL);
        flush(r);
        return;
    }
    r->attempt++;
    r->last_retry_ms = wall_ms();
    snprintf(r->st.last_error, sizeof r->st.last_error, "%s", o.reason[0] ? o.reason : "failed");
    if (r->attempt >= r->d->conf.max_attempts) {
        char why[320];
        snprintf(why, sizeof why, "failed after %u attempts: %s", r->attempt, r->st.last_error);
        set_status(r, SR_STATUS_ERROR, why);
        r->attempt = 0;
        arm_timer(r, TIMER_INHIBIT, r->d->conf.inhibit_ms);
        return;
    }
    r->st.retried += left;
    set_status(r, SR_STATUS_WARNING, r->st.last_error);
    uint64_t ms = backoff_ms(r->d, r->attempt, res->retry_after_ms);
    sr_warn("delivery", "integration '%s': attempt %u failed (%s); retrying %zu record(s) in %llu ms",
            r->conf->name, r->attempt, r->st.last_error, left, (unsigned long long)ms);
    arm_timer(r, TIMER_BACKOFF, ms);
}

static void maybe_drained(sr_delivery *d);

/* Starts the next batch if nothing is in flight or waiting. */
static void flush(sr_integ_rt *r) {
    if (r->in_flight || r->timer_for == TIMER_BACKOFF || r->timer_for == TIMER_INHIBIT) {
        return;
    }
    if (r->nbatch == 0 && !take_batch(r)) {
        maybe_drained(r->d);
        return;
    }
    if (r->timer_for == TIMER_LINGER) {
        uv_timer_stop(&r->timer);
        r->timer_for = TIMER_IDLE;
    }
    send_batch(r);
}

static void on_timer(uv_timer_t *t) {
    sr_integ_rt *r = t->data;
    timer_purpose why = r->timer_for;
    r->timer_for = TIMER_IDLE;
    if (why == TIMER_INHIBIT)
        sr_info("delivery", "integration '%s': inhibition over, resuming delivery",
                r->conf->name);
    flush(r);
}

static void arm_timer(sr_integ_rt *r, timer_purpose why, uint64_t ms) {
    r->timer_for = why;
    uv_timer_start(&r->timer, on_timer, ms, 0);
}

/* ---- public ------------------------------------------------------------ */

static int open_sink(sr_delivery *d, sr_integ_rt *r, char *err, size_t errlen) {
    char why[256] = "";
    r->sink = sr_sink_open(d->loop, r->info.transport, &r->info.sink, why, sizeof why);
    if (r->sink)
        return 0;
    snprintf(err, errlen, "%s:%d: integration '%s' (%s): %s", r->conf->file, r->conf->line,
             r->conf->name, r->conf->type, why);
    return -1;
}

void sr_integration_batch_apply(const sr_integration_conf *ic, sr_integration_info *info) {
    if (ic->max_events > 0)
        info->max_events = ic->max_events;
    if (ic->max_bytes > 0)
        info->max_bytes = ic->max_bytes;
    if (ic->linger_ms >= 0)
        info->linger_ms = ic->linger_ms;
    if (info->max_events_limit > 0 && info->max_events > info->max_events_limit)
        info->max_events = info->max_events_limit;
}

sr_delivery *sr_delivery_new(uv_loop_t *loop, sr_lua_host *host,
                             const sr_integration_conf *const *integrations, size_t n,
                             const sr_delivery_conf *conf, sr_deadletter *dl, char *err,
                             size_t errlen) {
    sr_delivery *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->loop = loop;
    d->host = host;
    d->dl = dl;
    d->conf.max_attempts = conf && conf->max_attempts ? conf->max_attempts : 3;
    d->conf.backoff_ms = conf && conf->backoff_ms ? conf->backoff_ms : 1000;
    d->conf.backoff_max_ms = conf && conf->backoff_max_ms ? conf->backoff_max_ms : 30000;
    d->conf.inhibit_ms = conf && conf->inhibit_ms ? conf->inhibit_ms : 300000;
    d->rt = calloc(n ? n : 1, sizeof *d->rt);
    if (!d->rt) {
        free(d);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    uv_timer_init(loop, &d->drain_timer);
    d->drain_timer.data = d;
    d->open_handles = 1;
    for (size_t i = 0; i < n; i++) {
        sr_integ_rt *r = &d->rt[i];
        r->d = d;
        r->idx = i;
        r->conf = integrations[i];
        uv_timer_init(loop, &r->timer);
        r->timer.data = r;
        d->open_handles++;
        d->n = i + 1;
        if (sr_lua_host_info(host, i, &r->info) != 0) {
            snprintf(err, errlen, "integration '%s': cannot read its transport settings",
                     r->conf->name);
            goto fail;
        }
        sr_integration_batch_apply(r->conf, &r->info);
        if (open_sink(d, r, err, errlen) != 0)
            goto fail;
        r->st.status = SR_STATUS_NOT_CONNECTED;
        r->st.status_since_ms = wall_ms();
    }
    return d;
fail:
    sr_delivery_free(d);
    return NULL;
}

int sr_delivery_enqueue(sr_delivery *d, size_t integ, const char *data, size_t len) {
    sr_integ_rt *r = &d->rt[integ];
    sr_rec *rec = malloc(sizeof *rec + len + 1);
    if (!rec)
        return -1;
    rec->next = NULL;
    rec->len = (uint32_t)len;
    memcpy(rec->data, data, len);
    rec->data[len] = '\0';
    if (r->tail)
        r->tail->next = rec;
    else
        r->head = rec;
    r->tail = rec;
    r->st.received++;
    r->st.queued_events++;
    r->st.queued_bytes += len;
    return 0;
}

void sr_delivery_kick(sr_delivery *d) {
    for (size_t i = 0; i < d->n; i++) {
        sr_integ_rt *r = &d->rt[i];
        if (!r->head || r->in_flight || r->timer_for != TIMER_IDLE)
            continue;
        uint64_t waiting = r->st.queued_events - r->nbatch;
        int full = r->info.max_events > 0 && waiting >= (uint64_t)r->info.max_events;
        if (full || r->info.linger_ms <= 0 || d->draining)
            flush(r);
        else
            arm_timer(r, TIMER_LINGER, (uint64_t)r->info.linger_ms);
    }
}

size_t sr_delivery_count(const sr_delivery *d) { return d->n; }

const char *sr_delivery_name(const sr_delivery *d, size_t integ) {
    return d->rt[integ].conf->name;
}

void sr_delivery_stats(const sr_delivery *d, size_t integ, sr_integration_stats *out) {
    *out = d->rt[integ].st;
}

static void finish_drain(sr_delivery *d) {
    if (!d->drain_done)
        return;
    void (*done)(void *) = d->drain_done;
    d->drain_done = NULL;
    uv_timer_stop(&d->drain_timer);
    for (size_t i = 0; i < d->n; i++) {
        const sr_integ_rt *r = &d->rt[i];
        if (r->st.queued_events)
            sr_warn("delivery",
                    "integration '%s': %llu event(s) still queued at shutdown were not "
                    "delivered (memory queue)",
                    r->conf->name, (unsigned long long)r->st.queued_events);
    }
    done(d->drain_ud);
}

static void maybe_drained(sr_delivery *d) {
    if (!d->draining)
        return;
    for (size_t i = 0; i < d->n; i++)
        if (d->rt[i].st.queued_events || d->rt[i].in_flight)
            return;
    finish_drain(d);
}

static void on_drain_deadline(uv_timer_t *t) { finish_drain(t->data); }

void sr_delivery_drain(sr_delivery *d, uint64_t deadline_ms, void (*done)(void *ud), void *ud) {
    d->draining = 1;
    d->drain_done = done;
    d->drain_ud = ud;
    uv_timer_start(&d->drain_timer, on_drain_deadline, deadline_ms, 0);
    for (size_t i = 0; i < d->n; i++) {
        sr_integ_rt *r = &d->rt[i];
        /* Lingering is pointless now; backoff and inhibition are kept, so a
         * failing destination is not hammered on the way out. */
        if (r->timer_for == TIMER_LINGER) {
            uv_timer_stop(&r->timer);
            r->timer_for = TIMER_IDLE;
        }
    }
    sr_delivery_kick(d);
    maybe_drained(d);
}

static void free_records(sr_rec *rec) {
    while (rec) {
        sr_rec *next = rec->next;
        free(rec);
        rec = next;
    }
}

static void on_handle_closed(uv_handle_t *h) {
    sr_delivery *d = h->data;
    if (--d->open_handles > 0)
        return;
    for (size_t i = 0; i < d->n; i++) {
        sr_integ_rt *r = &d->rt[i];
        for (size_t j = 0; j < r->nbatch; j++)
            free(r->batch[j]);
        free(r->batch);
        free_records(r->head);
    }
    free(d->rt);
    free(d);
}

void sr_delivery_free(sr_delivery *d) {
    if (!d)
        return;
    d->drain_done = NULL;
    for (size_t i = 0; i < d->n; i++) {
        sr_integ_rt *r = &d->rt[i];
        if (r->sink)
            sr_sink_close(r->sink); /* in-flight callbacks will not fire */
        r->sink = NULL;
        r->timer.data = d;
        uv_close((uv_handle_t *)&r->timer, on_handle_closed);
    }
    d->drain_timer.data = d;
    uv_close((uv_handle_t *)&d->drain_timer, on_handle_closed);
}
