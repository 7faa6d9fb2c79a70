/* kafka.c - the Kafka transport: an idempotent librdkafka producer driven by
 * the uv loop.
 *
 * send() produces each record of a batch as one message (value: the record;
 * key: the record's key_field, kafka_msg.c; headers: the static ones) and
 * returns. librdkafka batches, sends and retries on its own threads; what it
 * has to say (delivery reports, errors) lands on its main queue. That queue
 * writes a byte into a pipe when it becomes non-empty
 * (rd_kafka_queue_io_event_enable) and a uv_poll on the pipe's read end
 * calls rd_kafka_poll(rk, 0), which serves the reports on the loop thread.
 * There is no busy loop and no added latency. A timer also polls every
 * SAFETY_POLL_MS, but only while messages are outstanding, so a lost
 * wake-up could only delay a report, never lose it.
 *
 * Each report settles one record of its batch (kafka_errors.c classifies
 * failures); when the last one is in, the batch's callback gets per-record
 * items. Callbacks never run inside rd_kafka_poll (a callback may close the
 * sink, and librdkafka must not be destroyed from its own callback) nor
 * inside send(): finished batches are completed after the poll returns, in
 * send order, or from the timer for batches every record of which failed
 * at produce() time (queue full, too large, fatal producer).
 *
 * A fatal producer error (possible with idempotence, e.g. after the broker
 * lost the producer's state) makes librdkafka refuse everything after it;
 * the sink then replaces the producer with a new one at the next send()
 * that finds no batch outstanding.
 *
 * Teardown never blocks the loop: close() abandons the batches and hands the
 * producer to the uv threadpool, which flushes for at most CLOSE_FLUSH_MS,
 * purges what is left and destroys it (joining librdkafka's threads). The
 * sink's memory, and the keytab file, go once that is done and the uv
 * handles are closed. */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka.h"
#include "log.h"

#define CLOSE_FLUSH_MS 1000
#define SAFETY_POLL_MS 250
#define REASON_LEN     160

typedef struct kafka_sink kafka_sink;
typedef struct kbatch kbatch;

/* A message's opaque: which record of which batch it is. */
typedef struct kslot {
    kbatch *b;
    uint32_t i;
} kslot;

struct kbatch {
    sr_sink_done_cb cb;
    void *ud;
    size_t n, pending;
    uint8_t *items;            /* sr_sink_item per record */
    rd_kafka_resp_err_t *errs; /* per record */
    kslot *slots;
    uint64_t start_ns;
    kbatch *prev, *next; /* the sink's batches, in send order */
};

/* One librdkafka producer with its wake-up pipe. */
typedef struct kprod {
    kafka_sink *ks;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    rd_kafka_queue_t *mainq;
    int fds[2];
    uv_poll_t poll;
    uv_work_t work;
    int polling; /* the uv_poll handle is initialised */
    int retired; /* set before destruction: reports no longer touch batches */
    int fatal;   /* librdkafka raised a fatal error: replace it */
    int pending; /* poll handle close + destruction still due */
} kprod;

struct kafka_sink {
    sr_sink base; /* first, so an sr_sink * is a kafka_sink * */
    uv_loop_t *loop;
    sr_kafka_opts opts;
    kprod *kp;
    kbatch *head, *tail;
    uv_timer_t timer;
    sr_buf key;
    unsigned refs; /* the timer, and each producer not yet destroyed */
    int closing;
};

/* ---- lifetime ------------------------------------------------------------ */

static void sink_release(kafka_sink *ks) {
    if (--ks->refs)
        return;
    sr_kafka_opts_free(&ks->opts); /* removes the keytab: no producer reads it now */
    sr_buf_free(&ks->key);
    free(ks);
}

static void kp_release(kprod *kp) {
    if (--kp->pending)
        return;
    kafka_sink *ks = kp->ks;
    if (kp->fds[0] >= 0)
        close(kp->fds[0]);
    if (kp->fds[1] >= 0)
        close(kp->fds[1]);
    free(kp);
    sink_release(ks);
}

/* librdkafka's own objects, in the order it requires. */
static void kp_destroy_rk(kprod *kp) {
    if (kp->rkt)
        rd_kafka_topic_destroy(kp->rkt);
    if (kp->mainq)
        rd_kafka_queue_destroy(kp->mainq);
    if (kp->rk)
        rd_kafka_destroy(kp->rk);
    kp->rkt = NULL;
    kp->mainq = NULL;
    kp->rk = NULL;
}

/* On the threadpool: may block for CLOSE_FLUSH_MS and librdkafka's thread
 * joins. Reports served here see `retired` and touch nothing. */
static void kp_destroy_work(uv_work_t *w) {
    kprod *kp = w->data;
    if (rd_kafka_outq_len(kp->rk) > 0)
        rd_kafka_flush(kp->rk, CLOSE_FLUSH_MS);
    rd_kafka_purge(kp->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(kp->rk, 0);
    kp_destroy_rk(kp);
}

static void kp_destroy_done(uv_work_t *w, int status) {
    kprod *kp = w->data;
    if (status != 0) /* cancelled: cannot happen for started work; be safe */
        kp_destroy_rk(kp);
    kp_release(kp);
}

static void on_kp_poll_closed(uv_handle_t *h) { kp_release(h->data); }

static void kp_retire(kprod *kp) {
    kp->retired = 1; /* uv_queue_work orders this before the worker's reads */
    if (kp->polling)
        uv_close((uv_handle_t *)&kp->poll, on_kp_poll_closed);
    else
        kp->pending--;
    kp->work.data = kp;
    if (uv_queue_work(kp->ks->loop, &kp->work, kp_destroy_work, kp_destroy_done) != 0) {
        kp_destroy_work(&kp->work);
        kp_release(kp);
    }
}

/* ---- librdkafka callbacks (inside rd_kafka_poll, or its threads for logs) */

static void on_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    kprod *kp = opaque;
    kslot *slot = m->_private;
    if (kp->retired || !slot)
        return; /* the batch was abandoned (and freed) at close */
    kbatch *b = slot->b;
    b->errs[slot->i] = m->err;
    b->items[slot->i] = (uint8_t)sr_kafka_classify(m->err);
    b->pending--;
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    kprod *kp = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof why);
        sr_error("sink.kafka", "fatal producer error %s: %s; the producer will be replaced",
                 rd_kafka_err2name(orig), why);
        kp->fatal = 1;
        return;
    }
    /* A broker connection failing is already in librdkafka's own log. */
    if (err != RD_KAFKA_RESP_ERR__TRANSPORT)
        sr_warn("sink.kafka", "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    /* librdkafka's LOG_ERR covers a broker that is briefly unreachable;
     * what matters reaches the integration's status through the reports. */
    sr_log_level l = level <= 2   ? SR_LOG_ERROR
                     : level <= 4 ? SR_LOG_WARN
                     : level <= 6 ? SR_LOG_INFO
                                  : SR_LOG_DEBUG;
    sr_log(l, "sink.kafka", "%s: %s", fac, buf);
}

/* ---- batches ------------------------------------------------------------- */

static void batch_free(kbatch *b) {
    free(b->items);
    free(b->errs);
    free(b->slots);
    free(b);
}

static void batch_unlink(kafka_sink *ks, kbatch *b) {
    if (b->prev)
        b->prev->next = b->next;
    else
        ks->head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        ks->tail = b->prev;
    b->prev = b->next = NULL;
}

/* Hands a settled batch to its callback (which may send() or close()). */
static void batch_finish(kbatch *b) {
    sr_sink_result res;
    memset(&res, 0, sizeof res);
    res.retry_after_ms = -1;
    res.latency_ms = (double)(uv_hrtime() - b->start_ns) / 1e6;
    size_t nfailed = 0, first = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i] != SR_SINK_ITEM_OK && nfailed++ == 0)
            first = i;
    const char **errors = NULL;
    char *texts = NULL;
    if (nfailed) {
        errors = calloc(b->n, sizeof *errors);
        texts = malloc(nfailed * REASON_LEN);
        if (errors && texts) {
            char *t = texts;
            for (size_t i = 0; i < b->n; i++) {
                if (b->items[i] == SR_SINK_ITEM_OK)
                    continue;
                sr_kafka_describe(b->errs[i], t, REASON_LEN);
                errors[i] = t;
                t += REASON_LEN;
            }
        } else {
            free(errors);
            errors = NULL;
        }
        char why[REASON_LEN];
        sr_kafka_describe(b->errs[first], why, sizeof why);
        snprintf(res.error, sizeof res.error, "%s (%zu of %zu message(s) failed)", why, nfailed,
                 b->n);
    }
    res.transport_ok = nfailed == 0;
    res.items = b->items;
    res.item_errors = errors;
    res.nitems = b->n;
    b->cb(b->ud, &res);
    free(errors);
    free(texts);
    batch_free(b);
}

/* Completes settled batches in send order; stops if a callback closed us. */
static void complete_settled(kafka_sink *ks) {
    kbatch *b = ks->head;
    while (b && !ks->closing) {
        kbatch *next = b->next;
        if (b->pending == 0) {
            batch_unlink(ks, b);
            batch_finish(b);
            if (ks->closing)
                return; /* close() freed the rest, `next` included */
        }
        b = next;
    }
}

/* ---- the loop side ------------------------------------------------------- */

static void on_timer(uv_timer_t *t);

static void serve(kafka_sink *ks) {
    if (ks->kp)
        rd_kafka_poll(ks->kp->rk, 0);
    complete_settled(ks);
    if (ks->closing)
        return;
    if (ks->head && !uv_is_active((uv_handle_t *)&ks->timer))
        uv_timer_start(&ks->timer, on_timer, SAFETY_POLL_MS, 0);
}

static void on_timer(uv_timer_t *t) { serve(t->data); }

static void on_readable(uv_poll_t *p, int status, int events) {
    (void)status;
    (void)events;
    kprod *kp = p->data;
    char drain[64];
    while (read(kp->fds[0], drain, sizeof drain) > 0)
        ;
    if (kp->retired)
        return;
    serve(kp->ks);
}

/* ---- producers ----------------------------------------------------------- */

static kprod *kp_open(kafka_sink *ks, char *err, size_t errlen) {
    kprod *kp = calloc(1, sizeof *kp);
    rd_kafka_conf_t *conf = NULL;
    if (!kp) {
        snprintf(err, errlen, "kafka sink: out of memory");
        return NULL;
    }
    kp->ks = ks;
    kp->fds[0] = kp->fds[1] = -1;
    if (pipe2(kp->fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "kafka sink: pipe: %s", strerror(errno));
        goto fail;
    }
    if (!(conf = sr_kafka_conf_new(&ks->opts, err, errlen)))
        goto fail;
    rd_kafka_conf_set_opaque(conf, kp);
    rd_kafka_conf_set_dr_msg_cb(conf, on_report);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    char why[512];
    kp->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!kp->rk) {
        snprintf(err, errlen, "kafka sink: %s", why);
        goto fail;
    }
    conf = NULL; /* the producer owns it now */
    kp->rkt = rd_kafka_topic_new(kp->rk, ks->opts.topic, NULL);
    if (!kp->rkt) {
        snprintf(err, errlen, "kafka sink: topic '%s': %s", ks->opts.topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    kp->mainq = rd_kafka_queue_get_main(kp->rk);
    if (uv_poll_init(ks->loop, &kp->poll, kp->fds[0]) != 0) {
        snprintf(err, errlen, "kafka sink: cannot watch the wake-up pipe");
        goto fail;
    }
    kp->polling = 1;
    kp->poll.data = kp;
    rd_kafka_queue_io_event_enable(kp->mainq, kp->fds[1], "1", 1);
    uv_poll_start(&kp->poll, UV_READABLE, on_readable);
    /* What was queued before the pipe was wired (early logs, errors). */
    rd_kafka_poll(kp->rk, 0);
    kp->pending = 2;
    ks->refs++;
    return kp;

fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    kp_destroy_rk(kp); /* nothing produced yet: quick */
    if (kp->polling) {
        /* The handle must be closed before its memory goes. */
        kp->pending = 1;
        ks->refs++;
        uv_close((uv_handle_t *)&kp->poll, on_kp_poll_closed);
        return NULL;
    }
    if (kp->fds[0] >= 0)
        close(kp->fds[0]);
    if (kp->fds[1] >= 0)
        close(kp->fds[1]);
    free(kp);
    return NULL;
}

/* ---- the sink ------------------------------------------------------------ */

static kbatch *batch_new(size_t n) {
    kbatch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    size_t m = n ? n : 1;
    b->items = calloc(m, 1);
    b->errs = calloc(m, sizeof *b->errs);
    b->slots = calloc(m, sizeof *b->slots);
    if (!b->items || !b->errs || !b->slots) {
        batch_free(b);
        return NULL;
    }
    b->n = b->pending = n;
    for (size_t i = 0; i < n; i++) {
        b->slots[i].b = b;
        b->slots[i].i = (uint32_t)i;
    }
    return b;
}

static rd_kafka_resp_err_t produce_one(kafka_sink *ks, kbatch *b, size_t i, const char *rec,
                                       size_t len) {
    const void *key = NULL;
    size_t klen = 0;
    if (ks->opts.key_field && sr_kafka_record_key(rec, len, ks->opts.key_field, &ks->key) == 1) {
        key = ks->key.data ? ks->key.data : "";
        klen = ks->key.len;
    }
    rd_kafka_headers_t *hdrs = NULL;
    if (ks->opts.headers && !(hdrs = rd_kafka_headers_copy(ks->opts.headers)))
        return RD_KAFKA_RESP_ERR__QUEUE_FULL; /* out of memory: worth a retry */
    rd_kafka_resp_err_t err = rd_kafka_producev(
        ks->kp->rk, RD_KAFKA_V_RKT(ks->kp->rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE((void *)rec, len), RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_OPAQUE(&b->slots[i]), RD_KAFKA_V_END);
    if (err && hdrs)
        rd_kafka_headers_destroy(hdrs); /* only a produced message takes them */
    return err;
}

static int kafka_send(sr_sink *s, const sr_sink_payload *p, sr_sink_done_cb cb, void *ud) {
    kafka_sink *ks = (kafka_sink *)s;
    if (ks->closing || !cb || !p || (p->n && (!p->recs || !p->lens)))
        return -1;
    if (ks->kp && ks->kp->fatal && !ks->head) {
        kp_retire(ks->kp);
        ks->kp = NULL;
    }
    if (!ks->kp) {
        char err[256];
        if (!(ks->kp = kp_open(ks, err, sizeof err))) {
            sr_warn("sink.kafka", "cannot replace the producer: %s", err);
            return -1;
        }
        sr_info("sink.kafka", "new producer for %s (topic %s)", ks->opts.brokers, ks->opts.topic);
    }
    kbatch *b = batch_new(p->n);
    if (!b)
        return -1;
    b->cb = cb;
    b->ud = ud;
    b->start_ns = uv_hrtime();
    for (size_t i = 0; i < p->n; i++) {
        rd_kafka_resp_err_t err = produce_one(ks, b, i, p->recs[i], p->lens[i]);
        if (err) {
            /* No report will come for it: settled now. */
            b->errs[i] = err;
            b->items[i] = (uint8_t)sr_kafka_classify(err);
            b->pending--;
        }
    }
    b->prev = ks->tail;
    if (ks->tail)
        ks->tail->next = b;
    else
        ks->head = b;
    ks->tail = b;
    /* Never complete inside send(): a settled batch waits for the timer. */
    if (b->pending == 0)
        uv_timer_start(&ks->timer, on_timer, 0, 0);
    else if (!uv_is_active((uv_handle_t *)&ks->timer))
        uv_timer_start(&ks->timer, on_timer, SAFETY_POLL_MS, 0);
    return 0;
}

static void on_timer_closed(uv_handle_t *h) { sink_release(h->data); }

static void kafka_close(sr_sink *s) {
    kafka_sink *ks = (kafka_sink *)s;
    ks->closing = 1;
    while (ks->head) {
        kbatch *b = ks->head;
        batch_unlink(ks, b);
        batch_free(b);
    }
    if (ks->kp)
        kp_retire(ks->kp);
    ks->kp = NULL;
    uv_close((uv_handle_t *)&ks->timer, on_timer_closed);
}

static const sr_sink_ops kafka_ops = {
    .name = "kafka",
    .send = kafka_send,
    .close = kafka_close,
};

sr_sink *sr_kafka_sink_new(uv_loop_t *loop, const sr_kafka_settings *s, char *err, size_t errlen) {
    kafka_sink *ks = calloc(1, sizeof *ks);
    if (!ks) {
        snprintf(err, errlen, "kafka sink: out of memory");
        return NULL;
    }
    ks->base.ops = &kafka_ops;
    ks->loop = loop;
    if (sr_kafka_opts_init(&ks->opts, s, err, errlen) != 0) {
        free(ks);
        return NULL;
    }
    uv_timer_init(loop, &ks->timer);
    ks->timer.data = ks;
    ks->refs = 1;
    if (!(ks->kp = kp_open(ks, err, errlen))) {
        /* Through close(), which waits for the handles; creation still fails. */
        kafka_close(&ks->base);
        return NULL;
    }
    return &ks->base;
}

static const sr_sink_key kafka_keys[] = {
    SR_SINK_KEY(sr_kafka_settings, brokers, SR_SINK_KEY_STRING, 0,
                "bootstrap servers, \"h1:9092,h2:9092\""),
    SR_SINK_KEY(sr_kafka_settings, topic, SR_SINK_KEY_STRING, 0, "topic the records go to"),
    SR_SINK_KEY(sr_kafka_settings, key_field, SR_SINK_KEY_STRING, 0,
                "top-level record field used as the message key"),
    SR_SINK_KEY(sr_kafka_settings, timeout_ms, SR_SINK_KEY_INT, 30000,
                "message.timeout.ms: a message's time to be acknowledged"),
    SR_SINK_TLS_KEYS(sr_kafka_settings),
    SR_SINK_KEY(sr_kafka_settings, props, SR_SINK_KEY_PROPS, 0,
                "librdkafka properties, \"header.<Name>\" static headers, \"keytab.base64\""),
    {0},
};

static sr_sink *kafka_open(uv_loop_t *loop, const void *s, char *err, size_t errlen) {
    return sr_kafka_sink_new(loop, s, err, errlen);
}

const sr_sink_transport sr_transport_kafka = {"kafka", kafka_keys, sizeof(sr_kafka_settings),
                                              kafka_open, sr_kafka_restricted_prop};
