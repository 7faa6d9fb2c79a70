/* delivery.c - queues, batches, retries and statuses per integration.
 *
 * Each integration runs a small state machine on the loop thread:
 *
 *   idle --kick/linger--> sending --response--> (all done) --> idle
 *                            ^  |               (some left, progress) --backoff-->
 *                            |  +--failed attempt--> backoff --timer--> sending
 *                            |  +--last attempt failed--> inhibited --timer--> sending
 *                            +--step done / "again" / "split"--+
 *
 * The batch in flight (`cur`) is a prefix of what is queued, minus records
 * already settled; the queue is acked up to the oldest record still in it,
 * so a crash resends at most that batch (at least once). */
#include "delivery.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "fsutil.h"
#include "log.h"
#include "queue.h"
#include "sink.h"

#define MAX_AGAIN   2    /* "again" verdicts in a row before one counts as a failure */
#define MAX_STEPS   8    /* auxiliary requests per attempt: a loop guard */
#define TICK_MS     1000 /* fsync interval, Warning decay */
#define DROP_LOG_MS 10000

typedef enum { TIMER_IDLE, TIMER_LINGER, TIMER_BACKOFF, TIMER_INHIBIT } timer_purpose;

typedef struct sr_integ_rt {
    sr_delivery *d;
    size_t idx;
    const sr_integration_conf *conf;
    sr_integration_info info;
    sr_queue_conf qconf;
    sr_sink *sink;
    sr_queue *queue;
    sr_queue_batch rb; /* the last read; `cur` points into it */
    sr_queue_rec *cur; /* the batch: records not settled yet, in order */
    size_t ncur, cur_cap;
    size_t send_n;      /* how many of cur the next request carries (split) */
    uint64_t read_next; /* first sequence number not read into a batch */
    unsigned attempt, again, steps;
    int needed_retry; /* the current batch failed an attempt before */
    int in_flight;
    char step[32]; /* the auxiliary request in flight, if any */
    uv_timer_t timer;
    timer_purpose timer_for;
    int64_t inhibited_until_ms;
    sr_status_state status;
    sr_integration_stats st;
    uint64_t drops_unlogged;
    uint64_t last_drop_log_ms;
    unsigned all_rejected;     /* batches in a row whose every record was rejected */
    uint64_t rejects_unlogged; /* rejected records not in a log line yet */
} sr_integ_rt;

struct sr_delivery {
    uv_loop_t *loop;
    sr_lua_host *host;
    sr_deadletter *dl;
    sr_delivery_conf conf;
    sr_queue_conf queue_defaults;
    char *data_dir;
    sr_integ_rt **rt; /* each integration stays put: timers and sinks point at it */
    size_t n;
    int draining;
    uv_timer_t drain_timer, tick;
    void (*drain_done)(void *ud);
    void *drain_ud;
    int open_handles;
};

static int64_t wall_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void set_status(sr_integ_rt *r, sr_status s, const char *reason) {
    sr_status_set(&r->status, r->conf->name, s, reason, wall_ms());
}

/* ---- the batch ---------------------------------------------------------- */

static void flush(sr_integ_rt *r);
static void arm_timer(sr_integ_rt *r, timer_purpose why, uint64_t ms);
static void maybe_drained(sr_delivery *d);
static void log_drops(sr_integ_rt *r, int force);

/* Reads the next batch from the queue into `cur`. Returns its size. */
static size_t take_batch(sr_integ_rt *r) {
    char err[256];
    size_t max_n = r->info.max_events > 0 ? (size_t)r->info.max_events : 500;
    size_t max_b = r->info.max_bytes > 0 ? (size_t)r->info.max_bytes : (1u << 20);
    if (sr_queue_read(r->queue, r->read_next, max_n, max_b, &r->rb, err, sizeof err) != 0) {
        sr_error("delivery", "integration '%s': reading its queue: %s", r->conf->name, err);
        return 0;
    }
    if (r->rb.n > r->cur_cap) {
        sr_queue_rec *c = realloc(r->cur, r->rb.n * sizeof *c);
        if (!c)
            return 0;
        r->cur = c;
        r->cur_cap = r->rb.n;
    }
    memcpy(r->cur, r->rb.recs, r->rb.n * sizeof *r->cur);
    r->ncur = r->send_n = r->rb.n;
    if (r->ncur)
        r->read_next = r->cur[r->ncur - 1].seq + 1;
    r->attempt = r->again = r->steps = 0;
    r->needed_retry = 0;
    return r->ncur;
}

/* Acks the queue up to the oldest record still unsettled. */
static void ack_settled(sr_integ_rt *r) {
    char err[256];
    uint64_t upto = r->ncur ? r->cur[0].seq : r->read_next;
    if (sr_queue_ack(r->queue, upto, err, sizeof err) != 0)
        sr_error("delivery", "integration '%s': %s", r->conf->name, err);
}

static void dead_letter(sr_integ_rt *r, const sr_queue_rec *rec, const char *stage,
                        const char *reason, const sr_sink_result *res) {
    sr_deadletter_entry e = {
        .integration = r->conf->name,
        .stage = stage,
        .reason = reason,
        .response = res ? res->body : NULL,
        .response_len = res ? res->body_len : 0,
        .payload = rec->data,
        .payload_len = rec->len,
        .payload_is_event = 0,
        .event = rec->event,
        .event_len = rec->event_len,
    };
    if (sr_deadletter_write(r->d->dl, &e) == 0)
        r->st.dead_lettered++;
}

/* Application errors: `nrej` of the `total` records of one batch were
 * refused for good (by the platform, or by the module that could not build
 * or encode them). They show in last_error, the status and its history, and
 * the log (rate-limited with the history), so an integration that drops
 * everything cannot look healthy. */
static void note_rejected(sr_integ_rt *r, size_t nrej, size_t total, const char *reason) {
    char why[200];
    sr_status to = SR_STATUS_WARNING;
    if (!nrej)
        return;
    r->all_rejected = nrej >= total ? r->all_rejected + 1 : 0;
    snprintf(r->st.last_error, sizeof r->st.last_error, "%s",
             reason && *reason ? reason : "rejected");
    if (r->all_rejected >= SR_STATUS_REJECT_ERROR_BATCHES) {
        to = SR_STATUS_ERROR;
        snprintf(why, sizeof why, "every record of the last %u batches rejected: %.140s",
                 r->all_rejected, r->st.last_error);
    } else {
        snprintf(why, sizeof why, "%zu of %zu record(s) rejected: %.140s", nrej, total,
                 r->st.last_error);
    }
    r->rejects_unlogged += nrej;
    if (sr_status_rejected(&r->status, r->conf->name, to, why, wall_ms())) {
        sr_warn("delivery", "integration '%s': %llu record(s) rejected and dead-lettered (%s)",
                r->conf->name, (unsigned long long)r->rejects_unlogged, why);
        r->rejects_unlogged = 0;
    }
}

/* Settles the first `n` records of cur as rejected, as one batch. */
static void reject_front(sr_integ_rt *r, size_t n, const char *stage, const char *reason,
                         const sr_sink_result *res) {
    for (size_t i = 0; i < n; i++) {
        dead_letter(r, &r->cur[i], stage, reason, res);
        r->st.rejected++;
    }
    memmove(r->cur, r->cur + n, (r->ncur - n) * sizeof *r->cur);
    r->ncur -= n;
    r->send_n = r->ncur;
    note_rejected(r, n, n, reason);
}

/* ---- sending ------------------------------------------------------------ */

static void on_sent(void *ud, const sr_sink_result *res);
static void attempt_failed(sr_integ_rt *r, const char *reason, long retry_after_ms);
static int open_sink(sr_delivery *d, sr_integ_rt *r, char *err, size_t errlen);

static void send_batch(sr_integ_rt *r) {
    char err[256];
    size_t n = r->send_n ? r->send_n : r->ncur;
    const char **recs = malloc(n * sizeof *recs);
    uint32_t *lens = malloc(n * sizeof *lens);
    sr_http_request_buf req;
    memset(&req, 0, sizeof req);
    if (!recs || !lens) {
        free(recs);
        free(lens);
        attempt_failed(r, "out of memory", -1);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        recs[i] = r->cur[i].data;
        lens[i] = r->cur[i].len;
    }
    sr_sink_payload p = {.recs = recs, .lens = lens, .n = n};
    r->step[0] = '\0';
    if (!r->sink && open_sink(r->d, r, err, sizeof err) != 0) {
        /* A reload could not open it (a FILE path turned into a link, say):
         * each attempt tries again and fails with the reason, so the status
         * says why and the queue waits, without a reload once it is fixed. */
        r->st.attempts++;
        attempt_failed(r, err, -1);
        goto done;
    }
    if (strcmp(r->info.transport, "http") == 0) {
        if (sr_lua_host_request(r->d->host, r->idx, recs, lens, n, &req, err, sizeof err) != 0) {
            /* The module cannot build a request for these records: no attempt
             * would ever succeed, so they are dead-lettered. */
            sr_lua_host_redact(r->d->host, r->idx, err, strlen(err));
            sr_warn("delivery", "integration '%s': request: %s", r->conf->name, err);
            reject_front(r, n, "request", err, NULL);
            ack_settled(r);
            goto done;
        }
        snprintf(r->step, sizeof r->step, "%s", req.step);
        p.http = &req.req;
    }
    r->st.attempts++;
    if (sr_sink_send(r->sink, &p, on_sent, r) != 0) {
        r->step[0] = '\0';
        attempt_failed(r, "transport refused the batch", -1);
        goto done;
    }
    r->in_flight = 1;
done:
    sr_buf_free(&req.storage);
    free(recs);
    free(lens);
    if (!r->in_flight && r->timer_for == TIMER_IDLE)
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
    return ms ? ms : 1;
}

/* A whole attempt failed: back off, or give up for the inhibition. */
static void attempt_failed(sr_integ_rt *r, const char *reason, long retry_after_ms) {
    int64_t now = wall_ms();
    r->attempt++;
    r->again = 0; /* "again" is limited in a row, within one attempt */
    r->needed_retry = 1;
    r->st.failed_attempts++;
    sr_status_note_retry(&r->status, now);
    snprintf(r->st.last_error, sizeof r->st.last_error, "%s",
             reason && *reason ? reason : "failed");
    if (r->attempt >= r->d->conf.max_attempts) {
        char why[320];
        snprintf(why, sizeof why, "failed after %u attempts: %s", r->attempt, r->st.last_error);
        set_status(r, SR_STATUS_ERROR, why);
        sr_warn("delivery", "integration '%s': inhibited for %llu ms; %llu event(s) stay queued",
                r->conf->name, (unsigned long long)r->d->conf.inhibit_ms,
                (unsigned long long)sr_queue_events(r->queue));
        r->attempt = 0;
        r->inhibited_until_ms = now + (int64_t)r->d->conf.inhibit_ms;
        arm_timer(r, TIMER_INHIBIT, r->d->conf.inhibit_ms);
        return;
    }
    r->st.retried += r->ncur;
    /* Still failing after an inhibition: the integration stays in Error
     * until something is delivered. */
    if (r->status.status != SR_STATUS_ERROR)
        set_status(r, SR_STATUS_WARNING, r->st.last_error);
    uint64_t ms = backoff_ms(r->d, r->attempt, retry_after_ms);
    sr_warn("delivery",
            "integration '%s': attempt %u failed (%s); retrying %zu record(s) in %llu ms",
            r->conf->name, r->attempt, r->st.last_error, r->ncur, (unsigned long long)ms);
    arm_timer(r, TIMER_BACKOFF, ms);
}

/* Applies per-record verdicts to the first send_n records of cur: delivered
 * and rejected ones leave, the ones to retry stay, in order. Returns how many
 * were settled. */
static size_t apply_items(sr_integ_rt *r, const sr_outcome *o, const sr_sink_result *res) {
    size_t n = r->send_n, keep = 0, settled = 0;
    for (size_t i = 0; i < n; i++) {
        sr_outcome_kind k = o->kind;
        if (o->items && i < o->nitems)
            k = (sr_outcome_kind)o->items[i];
        if (k == SR_OUTCOME_OK) {
            r->st.delivered++;
            settled++;
        } else if (k == SR_OUTCOME_REJECT) {
            r->st.rejected++;
            dead_letter(r, &r->cur[i], "rejected", o->reason, res);
            settled++;
        } else {
            r->cur[keep++] = r->cur[i];
        }
    }
    memmove(r->cur + keep, r->cur + n, (r->ncur - n) * sizeof *r->cur);
    r->ncur = keep + (r->ncur - n);
    r->send_n = r->ncur;
    return settled;
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

static void classify(sr_integ_rt *r, const sr_sink_result *res, sr_outcome *o) {
    memset(o, 0, sizeof *o);
    if (strcmp(r->info.transport, "http") == 0) {
        if (sr_lua_host_outcome(r->d->host, r->idx, res, r->send_n, o) != 0) {
            o->kind = SR_OUTCOME_RETRY;
            snprintf(o->reason, sizeof o->reason, "outcome() failed");
        }
    } else if (res->items && res->nitems == r->send_n) {
        sink_items(o, res);
    } else {
        o->kind = res->transport_ok ? SR_OUTCOME_OK : SR_OUTCOME_RETRY;
        snprintf(o->reason, sizeof o->reason, "%s", res->transport_ok ? "" : res->error);
    }
}

/* The response to an auxiliary request (token, source, note...). The module
 * parses the response as sent (`res`); dead letters get the masked copy. */
static void step_done(sr_integ_rt *r, const sr_sink_result *res, const sr_sink_result *safe) {
    char reason[256];
    int v = sr_lua_host_step(r->d->host, r->idx, r->step, res, reason, sizeof reason);
    sr_lua_host_redact(r->d->host, r->idx, reason, strlen(reason));
    r->step[0] = '\0';
    if (v == 0 && ++r->steps <= MAX_STEPS) {
        send_batch(r);
        return;
    }
    if (v == 0)
        snprintf(reason, sizeof reason, "more than %d auxiliary requests for one batch", MAX_STEPS);
    if (v == 2) {
        sr_warn("delivery", "integration '%s': %s; dead-lettering %zu record(s)", r->conf->name,
                reason, r->send_n);
        reject_front(r, r->send_n, "rejected", reason, safe);
        ack_settled(r);
        flush(r);
        return;
    }
    r->steps = 0;
    attempt_failed(r, reason, res->retry_after_ms);
}

static void on_sent(void *ud, const sr_sink_result *res) {
    sr_integ_rt *r = ud;
    r->in_flight = 0;
    r->st.last_latency_ms = res->latency_ms;

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

    if (r->step[0]) {
        step_done(r, res, &safe);
        free(body);
        return;
    }
    r->steps = 0; /* the limit is per attempt: the batch's own request ends one */
    sr_outcome o;
    classify(r, res, &o);
    sr_lua_host_redact(r->d->host, r->idx, o.reason, strlen(o.reason));

    if (o.kind == SR_OUTCOME_AGAIN && ++r->again <= MAX_AGAIN) {
        sr_info("delivery", "integration '%s': sending the batch again (%s)", r->conf->name,
                o.reason);
        send_batch(r);
        goto done;
    }
    if (o.kind == SR_OUTCOME_AGAIN)
        o.kind = SR_OUTCOME_RETRY;
    if (o.kind == SR_OUTCOME_SPLIT) {
        if (r->send_n > 1) {
            r->send_n /= 2;
            sr_info("delivery", "integration '%s': batch too large (%s); sending %zu record(s)",
                    r->conf->name, o.reason, r->send_n);
            send_batch(r);
        } else {
            reject_front(r, 1, "rejected", o.reason[0] ? o.reason : "too large", &safe);
            ack_settled(r);
            flush(r);
        }
        goto done;
    }

    size_t before = r->ncur, sent = r->send_n;
    uint64_t delivered0 = r->st.delivered, rejected0 = r->st.rejected;
    size_t settled = apply_items(r, &o, &safe);
    size_t delivered = (size_t)(r->st.delivered - delivered0);
    if (settled)
        ack_settled(r);
    if (r->st.rejected > rejected0)
        note_rejected(r, (size_t)(r->st.rejected - rejected0), sent, o.reason);
    if (delivered)
        r->all_rejected = 0;
    if (r->ncur == 0 || (settled == sent && settled > 0)) {
        /* Everything sent is settled (what remains was never sent: split). */
        r->attempt = r->again = 0;
        if (delivered)
            sr_status_delivered(&r->status, r->conf->name, r->needed_retry, wall_ms());
        r->inhibited_until_ms = 0;
        flush(r);
        goto done;
    }
    if (settled > 0) {
        /* Progress: some items went (or were refused for good); only the
         * failed ones go again, after a pause, without spending an attempt. */
        r->needed_retry = 1;
        r->again = 0;
        r->st.retried += r->ncur;
        sr_status_note_retry(&r->status, wall_ms());
        snprintf(r->st.last_error, sizeof r->st.last_error, "%s", o.reason);
        set_status(r, SR_STATUS_WARNING, o.reason);
        sr_info("delivery", "integration '%s': %zu of %zu record(s) settled; retrying %zu (%s)",
                r->conf->name, settled, before, r->ncur, o.reason);
        arm_timer(r, TIMER_BACKOFF, backoff_ms(r->d, 1, res->retry_after_ms));
        goto done;
    }
    attempt_failed(r, o.reason, res->retry_after_ms);
done:
    sr_outcome_free(&o);
    free(body);
}

/* Starts the next batch if nothing is in flight or waiting. */
static void flush(sr_integ_rt *r) {
    if (r->in_flight || r->timer_for == TIMER_BACKOFF || r->timer_for == TIMER_INHIBIT)
        return;
    if (r->ncur == 0) {
        /* Draining a disk queue: what is not in flight persists; stop here. */
        if (r->d->draining && r->qconf.type == SR_QUEUE_DISK) {
            maybe_drained(r->d);
            return;
        }
        if (!take_batch(r)) {
            maybe_drained(r->d);
            return;
        }
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
    if (why == TIMER_INHIBIT) {
        sr_info("delivery", "integration '%s': inhibition over, resuming with the oldest event",
                r->conf->name);
        r->inhibited_until_ms = 0;
        /* A fresh start: delivered at the first attempt now means Connected. */
        r->needed_retry = 0;
    }
    flush(r);
}

static void arm_timer(sr_integ_rt *r, timer_purpose why, uint64_t ms) {
    r->timer_for = why;
    uv_timer_start(&r->timer, on_timer, ms, 0);
}

/* ---- public ------------------------------------------------------------- */

static int open_sink(sr_delivery *d, sr_integ_rt *r, char *err, size_t errlen) {
    char why[256] = "";
    r->sink = sr_sink_open(d->loop, r->info.transport, r->info.settings, why, sizeof why);
    if (r->sink)
        return 0;
    snprintf(err, errlen, "%s:%d: integration '%s' (%s): %s", r->conf->file, r->conf->line,
             r->conf->name, r->conf->type, why);
    return -1;
}

static int open_queue(sr_delivery *d, sr_integ_rt *r, char *err, size_t errlen) {
    char safe[200], dir[4096], state[4096], why[256];
    sr_safe_file_name(r->conf->name, safe, sizeof safe);
    snprintf(dir, sizeof dir, "%s/spool/%s", d->data_dir, safe);
    snprintf(state, sizeof state, "%s/state/%s.json", d->data_dir, safe);
    const sr_queue_conf *global = d->conf.queue_defaults;
    sr_queue_conf none;
    memset(&none, 0, sizeof none);
    sr_queue_conf_resolve(global ? global : &none, &r->conf->queue, &r->qconf);
    r->queue = sr_queue_open(&r->qconf, dir, r->conf->name, why, sizeof why);
    if (!r->queue) {
        snprintf(err, errlen, "integration '%s': queue: %s", r->conf->name, why);
        return -1;
    }
    r->read_next = sr_queue_oldest_seq(r->queue);
    if (sr_status_init(&r->status, state, r->conf->name, (int64_t)d->conf.status_window_ms) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
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

static void on_tick(uv_timer_t *t) {
    sr_delivery *d = t->data;
    int64_t now = wall_ms();
    for (size_t i = 0; i < d->n; i++) {
        sr_integ_rt *r = d->rt[i];
        sr_queue_tick(r->queue, uv_now(d->loop));
        sr_status_settle(&r->status, r->conf->name, now);
        log_drops(r, uv_now(d->loop) - r->last_drop_log_ms >= DROP_LOG_MS);
        if (r->rejects_unlogged && now - r->status.last_note_ms >= SR_STATUS_NOTE_MS) {
            sr_warn("delivery", "integration '%s': %llu more record(s) rejected and dead-lettered",
                    r->conf->name, (unsigned long long)r->rejects_unlogged);
            r->rejects_unlogged = 0;
        }
    }
}

static void on_rt_closed(uv_handle_t *h);

/* Creates integration i's runtime: info, queue (recovered), status, sink. */
static sr_integ_rt *rt_new(sr_delivery *d, size_t i, const sr_integration_conf *conf, char *err,
                           size_t errlen) {
    sr_integ_rt *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->d = d;
    r->idx = i;
    r->conf = conf;
    uv_timer_init(d->loop, &r->timer);
    r->timer.data = r;
    d->open_handles++;
    if (sr_lua_host_info(d->host, i, &r->info) != 0) {
        snprintf(err, errlen, "integration '%s': cannot read its transport settings", conf->name);
        goto fail;
    }
    sr_integration_batch_apply(conf, &r->info);
    if (open_queue(d, r, err, errlen) != 0 || open_sink(d, r, err, errlen) != 0)
        goto fail;
    return r;
fail:
    uv_close((uv_handle_t *)&r->timer, on_rt_closed);
    return NULL;
}

/* Closes the sink (an in-flight callback will not fire) and the timer; the
 * runtime is freed when the timer is closed. */
static void rt_close(sr_integ_rt *r) {
    log_drops(r, 1);
    if (r->sink)
        sr_sink_close(r->sink);
    r->sink = NULL;
    uv_close((uv_handle_t *)&r->timer, on_rt_closed);
}

sr_delivery *sr_delivery_new(uv_loop_t *loop, sr_lua_host *host,
                             const sr_integration_conf *const *integrations, size_t n,
                             const sr_delivery_conf *conf, sr_deadletter *dl, char *err,
                             size_t errlen) {
    if (!conf->data_dir) {
        snprintf(err, errlen, "no data_dir");
        return NULL;
    }
    sr_delivery *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->loop = loop;
    d->host = host;
    d->dl = dl;
    d->conf = *conf;
    sr_conf_fill_unset(sr_delivery_conf_keys, &d->conf, NULL);
    if (conf->queue_defaults)
        d->queue_defaults = *conf->queue_defaults;
    d->conf.queue_defaults = &d->queue_defaults;
    d->data_dir = strdup(conf->data_dir);
    if (!d->data_dir) {
        snprintf(err, errlen, "out of memory");
        free(d);
        return NULL;
    }
    d->conf.data_dir = d->data_dir;
    d->rt = calloc(n ? n : 1, sizeof *d->rt);
    uv_timer_init(loop, &d->drain_timer);
    d->drain_timer.data = d;
    d->open_handles++;
    uv_timer_init(loop, &d->tick);
    d->tick.data = d;
    d->open_handles++;
    if (!d->rt || !d->data_dir) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    char state_dir[4096];
    snprintf(state_dir, sizeof state_dir, "%s/state", d->data_dir);
    if (sr_mkdir_p(state_dir, 0, NULL, err, errlen) != 0)
        sr_warn("delivery", "%s; statuses will not survive a restart", err);
    for (size_t i = 0; i < n; i++) {
        if (!(d->rt[i] = rt_new(d, i, integrations[i], err, errlen)))
            goto fail;
        d->n = i + 1;
    }
    uv_timer_start(&d->tick, on_tick, TICK_MS, TICK_MS);
    uv_unref((uv_handle_t *)&d->tick);
    sr_delivery_kick(d); /* what the spools recovered goes out now */
    return d;
fail:
    sr_delivery_free(d);
    return NULL;
}

int sr_delivery_reload(sr_delivery *d, sr_lua_host *host,
                       const sr_integration_conf *const *integrations, size_t n,
                       const sr_delivery_conf *conf, char *err, size_t errlen) {
    sr_integ_rt **rt = calloc(n ? n : 1, sizeof *rt);
    char *used = calloc(d->n ? d->n : 1, 1);
    if (!rt || !used) {
        free(rt);
        free(used);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    sr_lua_host *old_host = d->host;
    d->host = host;
    /* The new settings first, so integrations added now start with them; a
     * failure below puts the old ones back. */
    const sr_delivery_conf old_conf = d->conf;
    const sr_queue_conf old_queue_defaults = d->queue_defaults;
    d->conf.max_attempts = conf->max_attempts;
    d->conf.backoff_ms = conf->backoff_ms;
    d->conf.backoff_max_ms = conf->backoff_max_ms;
    d->conf.inhibit_ms = conf->inhibit_ms;
    d->conf.status_window_ms = conf->status_window_ms;
    d->conf.shutdown_timeout_ms = conf->shutdown_timeout_ms;
    sr_conf_fill_unset(sr_delivery_conf_keys, &d->conf, NULL);
    if (conf->queue_defaults)
        d->queue_defaults = *conf->queue_defaults;
    /* New integrations first: a failure leaves everything as it was. */
    for (size_t i = 0; i < n; i++) {
        long old = sr_delivery_find(d, integrations[i]->name);
        if (old >= 0 && !used[old]) {
            used[old] = 1;
            continue;
        }
        if (!(rt[i] = rt_new(d, i, integrations[i], err, errlen))) {
            for (size_t j = 0; j < i; j++)
                if (rt[j])
                    rt_close(rt[j]);
            d->host = old_host;
            d->conf = old_conf;
            d->queue_defaults = old_queue_defaults;
            free(rt);
            free(used);
            return -1;
        }
    }
    /* Kept integrations keep their queue, batch and status; they get the
     * new settings and a new sink. A batch in flight is sent again. */
    for (size_t i = 0; i < n; i++) {
        if (rt[i])
            continue;
        sr_integ_rt *r = d->rt[sr_delivery_find(d, integrations[i]->name)];
        rt[i] = r;
        r->idx = i;
        r->conf = integrations[i];
        r->status.window_ms = (int64_t)d->conf.status_window_ms;
        sr_lua_host_info(host, i, &r->info);
        sr_integration_batch_apply(r->conf, &r->info);
        if (r->sink)
            sr_sink_close(r->sink);
        r->sink = NULL;
        r->in_flight = 0;
        r->step[0] = '\0';
        r->send_n = r->ncur;
        if (open_sink(d, r, err, errlen) != 0)
            sr_error("delivery", "%s; its events stay queued, and each attempt opens it again",
                     err); /* send_batch() does, with r->sink NULL */
        if (r->timer_for == TIMER_LINGER || r->timer_for == TIMER_IDLE) {
            uv_timer_stop(&r->timer);
            r->timer_for = TIMER_IDLE;
        }
    }
    /* Removed integrations: a disk spool stays on disk (and comes back with
     * the name); a memory queue's events are gone, and said so. */
    for (size_t i = 0; i < d->n; i++) {
        if (used[i])
            continue;
        sr_integ_rt *r = d->rt[i];
        uint64_t left = sr_queue_events(r->queue);
        if (left && r->qconf.type == SR_QUEUE_DISK)
            sr_warn("delivery",
                    "integration '%s' removed; its %llu queued event(s) stay in its "
                    "spool until an integration of that name returns",
                    r->conf->name, (unsigned long long)left);
        else if (left)
            sr_error("delivery",
                     "integration '%s' removed; its %llu queued event(s) (memory "
                     "queue) are discarded",
                     r->conf->name, (unsigned long long)left);
        rt_close(r);
    }
    free(used);
    free(d->rt);
    d->rt = rt;
    d->n = n;
    sr_delivery_kick(d);
    return 0;
}

/* Logs drops not logged yet: at most every DROP_LOG_MS while they go on
 * (`force` at the periodic tick after that, and at close), so every drop
 * is eventually in the log. */
static void log_drops(sr_integ_rt *r, int force) {
    if (!r->drops_unlogged)
        return;
    uint64_t now = uv_now(r->d->loop);
    if (!force && r->last_drop_log_ms && now - r->last_drop_log_ms < DROP_LOG_MS)
        return;
    sr_warn("delivery",
            "integration '%s': queue full (%llu bytes); dropped the %llu oldest event(s) "
            "(overflow: drop_oldest; %llu dropped in all)",
            r->conf->name, (unsigned long long)sr_queue_limit(r->queue),
            (unsigned long long)r->drops_unlogged, (unsigned long long)r->st.dropped);
    r->drops_unlogged = 0;
    r->last_drop_log_ms = now;
}

/* Overflow drop_oldest: make room for `incoming` bytes by skipping the
 * oldest records not yet in a batch. */
static void make_room(sr_integ_rt *r, uint64_t incoming) {
    uint64_t next;
    uint64_t n = sr_queue_drop_oldest(r->queue, r->read_next, incoming, &next);
    if (!n)
        return;
    r->read_next = next;
    r->st.dropped += n;
    r->drops_unlogged += n;
    log_drops(r, 0);
    if (r->ncur == 0)
        ack_settled(r);
}

int sr_delivery_enqueue_many(sr_delivery *d, size_t integ, const char *const *recs,
                             const uint32_t *lens, const char *const *events,
                             const uint32_t *event_lens, size_t n, char *err, size_t errlen) {
    sr_integ_rt *r = d->rt[integ];
    uint64_t bytes = sr_queue_push_bytes(r->queue, lens, events, event_lens, n);
    if (r->qconf.overflow == SR_OVERFLOW_DROP_OLDEST &&
        sr_queue_bytes(r->queue) + bytes > sr_queue_limit(r->queue))
        make_room(r, bytes);
    if (sr_queue_push(r->queue, recs, lens, events, event_lens, n, err, errlen) != 0)
        return -1;
    r->st.received += n;
    return 0;
}

int sr_delivery_enqueue(sr_delivery *d, size_t integ, const char *rec, size_t len) {
    char err[256];
    uint32_t l = (uint32_t)len;
    if (sr_delivery_enqueue_many(d, integ, &rec, &l, NULL, NULL, 1, err, sizeof err) != 0) {
        sr_error("delivery", "integration '%s': %s", d->rt[integ]->conf->name, err);
        return -1;
    }
    return 0;
}

void sr_delivery_kick(sr_delivery *d) {
    for (size_t i = 0; i < d->n; i++) {
        sr_integ_rt *r = d->rt[i];
        /* Lingering waits for a fuller batch: once one is full, stop waiting
         * (a batch's bytes are records, not the events kept beside them). */
        if (r->in_flight || (r->timer_for != TIMER_IDLE && r->timer_for != TIMER_LINGER))
            continue;
        uint64_t waiting = sr_queue_next_seq(r->queue) - r->read_next;
        if (!waiting && !r->ncur)
            continue;
        int full = (r->info.max_events > 0 && waiting >= (uint64_t)r->info.max_events) ||
                   (r->info.max_bytes > 0 &&
                    sr_queue_record_bytes(r->queue) >= (uint64_t)r->info.max_bytes);
        if (full || r->ncur || r->info.linger_ms <= 0 || d->draining)
            flush(r);
        else if (r->timer_for == TIMER_IDLE)
            arm_timer(r, TIMER_LINGER, (uint64_t)r->info.linger_ms);
    }
}

long sr_delivery_busy(const sr_delivery *d) {
    for (size_t i = 0; i < d->n; i++) {
        const sr_integ_rt *r = d->rt[i];
        if (r->qconf.overflow != SR_OVERFLOW_DROP_OLDEST && sr_queue_full(r->queue))
            return r->inhibited_until_ms ? 5 : 1;
    }
    return 0;
}

size_t sr_delivery_count(const sr_delivery *d) { return d->n; }

uint64_t sr_delivery_next_seq(const sr_delivery *d, size_t integ) {
    return sr_queue_next_seq(d->rt[integ]->queue);
}

uint64_t sr_delivery_safe_seq(const sr_delivery *d, size_t integ) {
    return sr_queue_safe_seq(d->rt[integ]->queue);
}

const char *sr_delivery_name(const sr_delivery *d, size_t integ) {
    return d->rt[integ]->conf->name;
}

const char *sr_delivery_type(const sr_delivery *d, size_t integ) {
    return d->rt[integ]->conf->type;
}

long sr_delivery_find(const sr_delivery *d, const char *name) {
    for (size_t i = 0; i < d->n; i++)
        if (strcasecmp(d->rt[i]->conf->name, name) == 0)
            return (long)i;
    return -1;
}

void sr_delivery_stats(const sr_delivery *d, size_t integ, sr_integration_stats *out) {
    const sr_integ_rt *r = d->rt[integ];
    *out = r->st;
    out->queued_events = sr_queue_events(r->queue);
    out->queued_bytes = sr_queue_bytes(r->queue);
    out->queue_limit_bytes = sr_queue_limit(r->queue);
    out->queue_type = sr_queue_type_name(r->queue);
    out->status = r->status.status;
    out->status_since_ms = r->status.since_ms;
    out->inhibited = r->timer_for == TIMER_INHIBIT;
    out->inhibited_until_ms = out->inhibited ? r->inhibited_until_ms : 0;
}

const sr_status_history *sr_delivery_history(const sr_delivery *d, size_t integ) {
    return &d->rt[integ]->status.history;
}

void sr_delivery_rejected(sr_delivery *d, size_t integ, size_t nrej, size_t total,
                          const char *reason) {
    if (integ < d->n)
        note_rejected(d->rt[integ], nrej, total, reason);
}

/* An event its integration's module could not encode is an application
 * error of that integration, like a platform's rejection. */
void sr_delivery_encode_failures(sr_delivery *d, const sr_emit *emit) {
    for (size_t integ = 0; integ < d->n; integ++) {
        size_t nfail = 0, nrec = 0;
        const char *why = NULL;
        for (size_t i = 0; i < emit->nfails; i++) {
            const sr_emit_fail *f = &emit->fails[i];
            if (f->integ >= 0 && (size_t)f->integ == integ && strcmp(f->stage, "encode") == 0) {
                why = why ? why : f->msg;
                nfail++;
            }
        }
        if (!nfail)
            continue;
        for (size_t i = 0; i < emit->nrecs; i++)
            nrec += emit->recs[i].integ == integ;
        char reason[300];
        snprintf(reason, sizeof reason, "encode: %s", why);
        sr_delivery_rejected(d, integ, nfail, nfail + nrec, reason);
    }
}

static int integ_idle(const sr_integ_rt *r) {
    if (r->in_flight)
        return 0;
    if (r->qconf.type == SR_QUEUE_DISK)
        return 1; /* the rest persists */
    return sr_queue_events(r->queue) == 0;
}

/* A memory queue cannot outlive the process: what the deadline left is
 * written to the dead-letter file (stage "shutdown"), oldest first, so it
 * can be replayed rather than lost. Records of the batch in flight that the
 * platform took without saying so may be written too (at least once). */
static void persist_leftovers(sr_integ_rt *r, uint64_t left) {
    char err[256];
    uint64_t written = 0;
    const char *why = "not delivered before the shutdown deadline (memory queue)";
    for (size_t i = 0; i < r->ncur; i++, written++)
        dead_letter(r, &r->cur[i], "shutdown", why, NULL);
    sr_queue_batch b = SR_QUEUE_BATCH_INIT;
    uint64_t from = r->read_next;
    for (;;) {
        if (sr_queue_read(r->queue, from, 1024, SIZE_MAX, &b, err, sizeof err) != 0 || b.n == 0)
            break;
        for (size_t i = 0; i < b.n; i++, written++)
            dead_letter(r, &b.recs[i], "shutdown", why, NULL);
        from = b.recs[b.n - 1].seq + 1;
    }
    sr_queue_batch_free(&b);
    sr_warn("delivery",
            "integration '%s': %llu event(s) still queued at shutdown were not delivered; "
            "%llu written to its dead-letter file for replay",
            r->conf->name, (unsigned long long)left, (unsigned long long)written);
}

static void finish_drain(sr_delivery *d) {
    if (!d->drain_done)
        return;
    void (*done)(void *) = d->drain_done;
    d->drain_done = NULL;
    uv_timer_stop(&d->drain_timer);
    for (size_t i = 0; i < d->n; i++) {
        const sr_integ_rt *r = d->rt[i];
        uint64_t left = sr_queue_events(r->queue);
        if (!left)
            continue;
        if (r->qconf.type == SR_QUEUE_DISK)
            sr_info("delivery", "integration '%s': %llu event(s) stay in the disk spool",
                    r->conf->name, (unsigned long long)left);
        else
            persist_leftovers(d->rt[i], left);
    }
    done(d->drain_ud);
}

static void maybe_drained(sr_delivery *d) {
    if (!d->draining)
        return;
    for (size_t i = 0; i < d->n; i++)
        if (!integ_idle(d->rt[i]))
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
        sr_integ_rt *r = d->rt[i];
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

static void delivery_release(sr_delivery *d) {
    if (--d->open_handles > 0)
        return;
    free(d->rt);
    free(d->data_dir);
    free(d);
}

static void on_rt_closed(uv_handle_t *h) {
    sr_integ_rt *r = h->data;
    sr_delivery *d = r->d;
    free(r->cur);
    sr_queue_batch_free(&r->rb);
    sr_queue_close(r->queue);
    sr_status_free(&r->status);
    free(r);
    delivery_release(d);
}

static void on_handle_closed(uv_handle_t *h) { delivery_release(h->data); }

void sr_delivery_free(sr_delivery *d) {
    if (!d)
        return;
    d->drain_done = NULL;
    for (size_t i = 0; i < d->n; i++)
        rt_close(d->rt[i]);
    d->n = 0;
    uv_close((uv_handle_t *)&d->drain_timer, on_handle_closed);
    uv_close((uv_handle_t *)&d->tick, on_handle_closed);
}
