/* input_kafka.c - the Kafka consumer-group input (see input_kafka.h).
 *
 * A submission (`ksub`) goes through these states, in one FIFO in
 * submission order:
 *
 *   gathering --submit--> INFLIGHT --reply 200/400--> QUEUED --mark safe--> popped,
 *                            ^   \--reply 503--> RETRY (bytes handed back)     its offsets
 *                            \------resubmit------/                            committable
 *
 * A submission whose partitions were rewound (seeked back) or revoked
 * carries no offsets for them any more; one left with nothing to wait for
 * is DONE. Only the head of the FIFO may pop, so a partition's commit
 * position never passes a message that is not safe. */
#include "input_kafka.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "input_kafka_conf.h"
#include "json.h"
#include "log.h"

#define TICK_MS          100
#define SYNC_TIMEOUT_MS  5000 /* synchronous commits at revoke and close */
#define CLOSE_TIMEOUT_MS 5000 /* leaving the group at shutdown, at most */
#define QUERY_TIMEOUT_MS 2000 /* each lag query */

typedef enum { SUB_GATHER, SUB_INFLIGHT, SUB_RETRY, SUB_QUEUED, SUB_DONE } sub_state;

/* The messages of one partition a submission holds: [first, next). */
typedef struct kofs {
    const char *topic; /* interned */
    int32_t partition;
    int64_t first, next;
} kofs;

typedef struct ksub {
    struct ksub *next;
    sr_input_kafka *in;
    sub_state state;
    kofs *ofs;
    size_t nofs, ofs_cap;
    sr_buf chunk; /* SUB_GATHER: the NDJSON body being built */
    char *data;   /* SUB_RETRY: the body the pipeline handed back */
    size_t len;
    uint64_t events;
    sr_ingest_mark *mark; /* SUB_QUEUED; NULL: take one when next checked */
} ksub;

typedef struct kpart {
    sr_input_kafka_partition pub;
    int64_t sent; /* the last offset handed to a commit */
} kpart;

typedef struct lag_query {
    uv_work_t work;
    sr_input_kafka *in;
    rd_kafka_topic_partition_list_t *list; /* the group's committed offsets */
    int64_t *lo, *hi;
} lag_query;

struct sr_input_kafka {
    uv_loop_t *loop;
    sr_ingest ing;
    sr_kafka_input_conf conf;
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    int fds[2];
    uv_poll_t poll;
    uv_timer_t tick, kick;
    uv_work_t close_work;
    ksub *gather;
    ksub *head, *tail;
    size_t inflight, nretry;
    uint64_t retry_at_ms;
    kpart *parts;
    size_t nparts, parts_cap;
    char **names; /* interned topic names */
    size_t nnames;
    uint64_t last_commit_ms, last_lag_ms;
    int paused, stopped, closing, lag_running, rk_gone;
    int handles;
    sr_input_kafka_stats st;
};

/* ---- small helpers ------------------------------------------------------ */

static const char *intern(sr_input_kafka *in, const char *topic) {
    for (size_t i = 0; i < in->nnames; i++)
        if (strcmp(in->names[i], topic) == 0)
            return in->names[i];
    char **n = realloc(in->names, (in->nnames + 1) * sizeof *n);
    if (!n)
        return NULL;
    in->names = n;
    if (!(n[in->nnames] = strdup(topic)))
        return NULL;
    return n[in->nnames++];
}

static kpart *find_part(sr_input_kafka *in, const char *topic, int32_t partition) {
    for (size_t i = 0; i < in->nparts; i++)
        if (in->parts[i].pub.partition == partition && strcmp(in->parts[i].pub.topic, topic) == 0)
            return &in->parts[i];
    return NULL;
}

static void sub_free(ksub *s) {
    sr_buf_free(&s->chunk);
    free(s->data);
    free(s->ofs);
    free(s->mark);
    free(s);
}

static int sub_add_offset(ksub *s, const char *topic, int32_t partition, int64_t offset) {
    for (size_t i = 0; i < s->nofs; i++)
        if (s->ofs[i].topic == topic && s->ofs[i].partition == partition) {
            s->ofs[i].next = offset + 1;
            return 0;
        }
    if (s->nofs == s->ofs_cap) {
        size_t cap = s->ofs_cap ? 2 * s->ofs_cap : 8;
        kofs *o = realloc(s->ofs, cap * sizeof *o);
        if (!o)
            return -1;
        s->ofs = o;
        s->ofs_cap = cap;
    }
    s->ofs[s->nofs++] = (kofs){topic, partition, offset, offset + 1};
    return 0;
}

/* Forgets a partition in one submission: it will not be committed from it. */
static void sub_strip(ksub *s, const char *topic, int32_t partition) {
    for (size_t i = 0; i < s->nofs; i++)
        if (s->ofs[i].topic == topic && s->ofs[i].partition == partition) {
            s->ofs[i] = s->ofs[--s->nofs];
            return;
        }
}

static void strip_everywhere(sr_input_kafka *in, const char *topic, int32_t partition) {
    for (ksub *s = in->head; s; s = s->next)
        sub_strip(s, topic, partition);
    if (in->gather)
        sub_strip(in->gather, topic, partition);
}

static rd_kafka_topic_partition_list_t *all_parts(const sr_input_kafka *in) {
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(in->nparts ? (int)in->nparts : 1);
    for (size_t i = 0; l && i < in->nparts; i++)
        rd_kafka_topic_partition_list_add(l, in->parts[i].pub.topic, in->parts[i].pub.partition);
    return l;
}

/* ---- commits -------------------------------------------------------------- */

/* Pops every submission at the head that is safe, moving its partitions'
 * safe positions past its messages. */
static void advance_safe(sr_input_kafka *in) {
    while (in->head) {
        ksub *s = in->head;
        if (s->state == SUB_QUEUED) {
            if (!s->mark && !(s->mark = in->ing.mark(in->ing.ctx)))
                break;
            if (!in->ing.safe(in->ing.ctx, &s->mark))
                break;
        } else if (s->state != SUB_DONE) {
            break;
        }
        for (size_t i = 0; i < s->nofs; i++) {
            kpart *kp = find_part(in, s->ofs[i].topic, s->ofs[i].partition);
            if (kp && s->ofs[i].next > kp->pub.safe)
                kp->pub.safe = s->ofs[i].next;
        }
        in->head = s->next;
        if (!in->head)
            in->tail = NULL;
        sub_free(s);
    }
}

/* Commits every partition whose safe position moved since its last commit.
 * Results (counted, and the committed offsets) arrive in on_commit. */
static void commit_safe(sr_input_kafka *in, int sync) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    if (!l)
        return;
    for (size_t i = 0; i < in->nparts; i++) {
        kpart *kp = &in->parts[i];
        if (kp->pub.safe > kp->sent) {
            rd_kafka_topic_partition_list_add(l, kp->pub.topic, kp->pub.partition)->offset =
                kp->pub.safe;
            kp->sent = kp->pub.safe;
        }
    }
    if (l->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_commit(in->rk, l, !sync);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            in->st.commit_failures++;
            sr_warn("input.kafka", "cannot commit offsets: %s", rd_kafka_err2str(err));
            for (int i = 0; i < l->cnt; i++) { /* try again at the next commit */
                kpart *kp = find_part(in, l->elems[i].topic, l->elems[i].partition);
                if (kp)
                    kp->sent = kp->pub.committed;
            }
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    in->last_commit_ms = uv_now(in->loop);
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque) {
    (void)rk;
    sr_input_kafka *in = opaque;
    if (in->closing || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return; /* the close thread's own commit, or nothing was due */
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &offsets->elems[i];
        kpart *kp = find_part(in, p->topic, p->partition);
        rd_kafka_resp_err_t e = err ? err : p->err;
        if (e) {
            in->st.commit_failures++;
            sr_warn("input.kafka", "commit of %s[%d] at %lld failed: %s", p->topic,
                    (int)p->partition, (long long)p->offset, rd_kafka_err2str(e));
            if (kp && kp->sent == p->offset)
                kp->sent = kp->pub.committed; /* again at the next commit */
        } else {
            in->st.commits++;
            if (kp && p->offset > kp->pub.committed)
                kp->pub.committed = p->offset;
        }
    }
}

/* ---- pausing -------------------------------------------------------------- */

static void set_paused(sr_input_kafka *in, int paused) {
    if (in->paused == paused || in->nparts == 0) {
        in->paused = paused && in->nparts ? 1 : in->paused && paused;
        return;
    }
    rd_kafka_topic_partition_list_t *l = all_parts(in);
    if (!l)
        return;
    rd_kafka_resp_err_t err =
        paused ? rd_kafka_pause_partitions(in->rk, l) : rd_kafka_resume_partitions(in->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        sr_warn("input.kafka", "cannot %s partitions: %s", paused ? "pause" : "resume",
                rd_kafka_err2str(err));
        return;
    }
    in->paused = paused;
    if (paused && !in->stopped) {
        in->st.pauses++;
        sr_info("input.kafka", "ingest is busy: %zu partition(s) paused, still in the group",
                in->nparts);
    } else if (!paused) {
        sr_info("input.kafka", "%zu partition(s) resumed", in->nparts);
    }
}

/* Seeks a submission's partitions back to its first messages, to be read
 * again: it was refused and its bytes are gone. Every later message of those
 * partitions is re-read too, so no submission may commit them any more. */
static void rewind_sub(sr_input_kafka *in, ksub *s) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    for (size_t i = 0; l && i < s->nofs; i++) {
        kpart *kp = find_part(in, s->ofs[i].topic, s->ofs[i].partition);
        if (!kp)
            continue;
        rd_kafka_topic_partition_list_add(l, kp->pub.topic, kp->pub.partition)->offset =
            s->ofs[i].first;
        kp->pub.position = s->ofs[i].first;
    }
    for (int i = 0; l && i < l->cnt; i++)
        strip_everywhere(in, intern(in, l->elems[i].topic), l->elems[i].partition);
    if (l && l->cnt > 0) {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(in->rk, l, 0);
        if (e) {
            sr_error("input.kafka", "cannot seek back to re-read refused messages: %s",
                     rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    s->state = SUB_DONE;
}

/* ---- submitting ------------------------------------------------------------ */

static void on_reply(void *ud, const sr_ingest_reply *reply);
static void maybe_free(sr_input_kafka *in);

static void on_kick(uv_timer_t *t);

/* Replies arrive inside the pipeline's commit: the next round starts from
 * the loop, not from there. */
static void kick(sr_input_kafka *in) {
    if (!in->closing)
        uv_timer_start(&in->kick, on_kick, 0, 0);
}

static void fifo_push(sr_input_kafka *in, ksub *s) {
    s->next = NULL;
    if (in->tail)
        in->tail->next = s;
    else
        in->head = s;
    in->tail = s;
}

/* Hands `data` to the pipeline for `s`; on an up-front refusal the data is
 * gone and the submission's messages are read again from Kafka. */
static int submit(sr_input_kafka *in, ksub *s, char *data, size_t len) {
    s->state = SUB_INFLIGHT;
    in->inflight++;
    if (in->ing.submit(in->ing.ctx, data, len, SR_BODY_NDJSON, 1, "kafka", on_reply, s) == 0)
        return 0;
    in->inflight--;
    sr_warn("input.kafka", "the pipeline refused %llu message(s); reading them again",
            (unsigned long long)s->events);
    rewind_sub(in, s);
    return -1;
}

static void submit_gather(sr_input_kafka *in) {
    ksub *s = in->gather;
    in->gather = NULL;
    char *data = s->chunk.data;
    size_t len = s->chunk.len;
    s->chunk = (sr_buf)SR_BUF_INIT;
    if (!data && !(data = malloc(1))) {
        fifo_push(in, s);
        rewind_sub(in, s);
        return;
    }
    fifo_push(in, s);
    submit(in, s, data, len);
}

/* Submissions the pipeline handed back go again first, in order. */
static int resubmit(sr_input_kafka *in) {
    for (ksub *s = in->head; s && in->nretry; s = s->next) {
        if (s->state != SUB_RETRY)
            continue;
        if (uv_now(in->loop) < in->retry_at_ms || in->ing.busy(in->ing.ctx) > 0 ||
            in->inflight >= SR_INPUT_KAFKA_MAX_INFLIGHT)
            return -1;
        char *data = s->data;
        s->data = NULL;
        in->nretry--;
        submit(in, s, data, s->len);
    }
    return 0;
}

static void on_reply(void *ud, const sr_ingest_reply *reply) {
    ksub *s = ud;
    sr_input_kafka *in = s->in;
    in->inflight--;
    if (reply->status == 503) {
        in->st.refused++;
        if (reply->data) {
            s->state = SUB_RETRY;
            s->data = reply->data;
            s->len = reply->data_len;
            in->nretry++;
            long after = reply->retry_after_s > 0 ? reply->retry_after_s : 1;
            in->retry_at_ms = uv_now(in->loop) + (uint64_t)after * 1000;
        } else {
            rewind_sub(in, s);
        }
    } else {
        in->st.accepted += reply->accepted;
        in->st.rejected += reply->rejected;
        s->state = SUB_QUEUED;
        s->mark = in->ing.mark(in->ing.ctx);
    }
    if (in->closing)
        maybe_free(in);
    else
        kick(in);
}

/* Appends one message to the submission being gathered. */
static int gather_message(sr_input_kafka *in, const rd_kafka_message_t *m, const char *topic) {
    if (!in->gather) {
        if (!(in->gather = calloc(1, sizeof *in->gather)))
            return -1;
        in->gather->in = in;
        in->gather->state = SUB_GATHER;
    }
    ksub *g = in->gather;
    if (sub_add_offset(g, topic, m->partition, m->offset) != 0)
        return -1;
    if (m->len == 0 || !m->payload) {
        in->st.empty++;
        return 0;
    }
    const char *p = m->payload;
    size_t n = m->len;
    int rc = 0;
    if (!in->conf.ndjson && memchr(p, '\n', n)) {
        /* One event per message: a pretty-printed one goes on one line. */
        sr_json_error jerr;
        if (sr_json_validate(p, n, SR_JSON_DEFAULT_MAX_DEPTH, &jerr) == 0) {
            rc |= sr_json_compact(p, n, &g->chunk);
        } else { /* rejected by the pipeline, as one line */
            size_t start = g->chunk.len;
            rc |= sr_buf_append(&g->chunk, p, n);
            for (size_t i = start; rc == 0 && i < g->chunk.len; i++)
                if (g->chunk.data[i] == '\n' || g->chunk.data[i] == '\r')
                    g->chunk.data[i] = ' ';
        }
    } else {
        rc |= sr_buf_append(&g->chunk, p, n);
    }
    if (p[n - 1] != '\n' || !in->conf.ndjson)
        rc |= sr_buf_putc(&g->chunk, '\n');
    g->events++;
    return rc ? -1 : 0;
}

static void take_message(sr_input_kafka *in, rd_kafka_message_t *m) {
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            return;
        in->st.errors++;
        sr_warn("input.kafka", "consumer: %s", rd_kafka_message_errstr(m));
        return;
    }
    const char *topic = intern(in, rd_kafka_topic_name(m->rkt));
    kpart *kp = topic ? find_part(in, topic, m->partition) : NULL;
    if (!kp || in->stopped)
        return; /* not ours (any more) or shutting down: not acknowledged */
    in->st.messages++;
    in->st.bytes += m->len;
    if (gather_message(in, m, topic) != 0) {
        /* Out of memory: read it again from here. */
        sr_error("input.kafka", "out of memory gathering messages; reading them again");
        ksub *g = in->gather;
        in->gather = NULL;
        if (g) {
            fifo_push(in, g);
            rewind_sub(in, g);
        }
        return;
    }
    kp->pub.position = m->offset + 1;
}

static int gather_full(const sr_input_kafka *in) {
    return in->gather && (in->gather->events >= in->conf.max_batch_events ||
                          in->gather->chunk.len >= in->conf.max_batch_bytes);
}

/* Polls what librdkafka has (messages, rebalances, commit results) and
 * submits it, as far as ingest and the in-flight window allow. */
static void pump(sr_input_kafka *in) {
    if (in->closing)
        return;
    int retrying = resubmit(in) != 0;
    for (;;) {
        int busy = in->stopped || retrying || in->ing.busy(in->ing.ctx) > 0;
        set_paused(in, busy);
        int room = !busy && in->inflight < SR_INPUT_KAFKA_MAX_INFLIGHT;
        if (!room && !in->paused)
            break; /* the window is full: a reply kicks the next round */
        if (room && gather_full(in)) {
            submit_gather(in);
            continue;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(in->rk, 0);
        if (!m)
            break;
        take_message(in, m);
        rd_kafka_message_destroy(m);
        if (in->closing)
            return;
    }
    if (in->gather && !in->paused && !in->stopped && in->inflight < SR_INPUT_KAFKA_MAX_INFLIGHT)
        submit_gather(in);
}

/* ---- rebalances ------------------------------------------------------------ */

static void assigned(sr_input_kafka *in, rd_kafka_topic_partition_list_t *l) {
    for (int i = 0; i < l->cnt; i++) {
        const char *topic = intern(in, l->elems[i].topic);
        if (!topic || find_part(in, topic, l->elems[i].partition))
            continue;
        if (in->nparts == in->parts_cap) {
            size_t cap = in->parts_cap ? 2 * in->parts_cap : 16;
            kpart *p = realloc(in->parts, cap * sizeof *p);
            if (!p)
                continue;
            in->parts = p;
            in->parts_cap = cap;
        }
        in->parts[in->nparts++] = (kpart){
            .pub = {topic, l->elems[i].partition, -1, -1, -1, -1, -1},
            .sent = -1,
        };
    }
}

static void revoked(sr_input_kafka *in, rd_kafka_topic_partition_list_t *l) {
    advance_safe(in);
    commit_safe(in, 1);
    for (int i = 0; i < l->cnt; i++) {
        const char *topic = intern(in, l->elems[i].topic);
        kpart *kp = topic ? find_part(in, topic, l->elems[i].partition) : NULL;
        if (!kp)
            continue;
        strip_everywhere(in, topic, l->elems[i].partition);
        *kp = in->parts[--in->nparts];
    }
    if (in->nparts == 0)
        in->paused = 0;
}

static void describe(const rd_kafka_topic_partition_list_t *l, char *out, size_t outlen) {
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < l->cnt && o + 1 < outlen; i++) {
        int w = snprintf(out + o, outlen - o, "%s%s[%d]", i ? " " : "", l->elems[i].topic,
                         (int)l->elems[i].partition);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *l, void *opaque) {
    sr_input_kafka *in = opaque;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    int assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    if (!in->closing) {
        char names[512];
        describe(l, names, sizeof names);
        in->st.rebalances++;
        if (assign) {
            assigned(in, l);
            sr_info("input.kafka", "assigned %d partition(s): %s", l->cnt, names);
        } else {
            revoked(in, l);
            sr_info("input.kafka", "%d partition(s) revoked: %s", l->cnt, names);
        }
    }
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (coop)
        e = assign ? rd_kafka_incremental_assign(rk, l) : rd_kafka_incremental_unassign(rk, l);
    else
        aerr = rd_kafka_assign(rk, assign ? l : NULL);
    if (e) {
        sr_error("input.kafka", "assignment failed: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    } else if (aerr) {
        sr_error("input.kafka", "assignment failed: %s", rd_kafka_err2str(aerr));
    }
    /* New partitions start paused while ingest is held back. */
    if (assign && !in->closing && in->paused && l->cnt > 0)
        rd_kafka_pause_partitions(rk, l);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    sr_input_kafka *in = opaque;
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        sr_warn("input.kafka", "%s", reason); /* librdkafka retries on its own */
        return;
    }
    if (!in->closing)
        in->st.errors++;
    sr_error("input.kafka", "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    sr_log_level l = level <= 3 ? SR_LOG_ERROR : level <= 4 ? SR_LOG_WARN : SR_LOG_DEBUG;
    sr_log(l, "input.kafka", "%s: %s", fac, buf);
}

/* ---- lag ---------------------------------------------------------------------- */

static void lag_work(uv_work_t *w) {
    lag_query *q = w->data;
    rd_kafka_committed(q->in->rk, q->list, QUERY_TIMEOUT_MS);
    for (int i = 0; i < q->list->cnt; i++)
        if (rd_kafka_query_watermark_offsets(q->in->rk, q->list->elems[i].topic,
                                             q->list->elems[i].partition, &q->lo[i], &q->hi[i],
                                             QUERY_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
            q->hi[i] = -1;
}

static void start_close(sr_input_kafka *in);

static void lag_done(uv_work_t *w, int status) {
    lag_query *q = w->data;
    sr_input_kafka *in = q->in;
    for (int i = 0; status == 0 && !in->closing && i < q->list->cnt; i++) {
        kpart *kp = find_part(in, q->list->elems[i].topic, q->list->elems[i].partition);
        if (!kp || q->hi[i] < 0)
            continue;
        int64_t committed = q->list->elems[i].offset;
        if (committed >= 0 && committed > kp->pub.committed)
            kp->pub.committed = committed;
        kp->pub.high = q->hi[i];
        int64_t base = kp->pub.committed >= 0 ? kp->pub.committed : q->lo[i];
        kp->pub.lag = q->hi[i] > base ? q->hi[i] - base : 0;
    }
    rd_kafka_topic_partition_list_destroy(q->list);
    free(q->lo);
    free(q->hi);
    free(q);
    in->lag_running = 0;
    if (in->closing)
        start_close(in);
}

static void query_lag(sr_input_kafka *in) {
    if (in->lag_running || in->nparts == 0)
        return;
    in->last_lag_ms = uv_now(in->loop);
    lag_query *q = calloc(1, sizeof *q);
    if (!q)
        return;
    q->in = in;
    q->list = all_parts(in);
    q->lo = calloc(in->nparts, sizeof *q->lo);
    q->hi = calloc(in->nparts, sizeof *q->hi);
    q->work.data = q;
    if (!q->list || !q->lo || !q->hi ||
        uv_queue_work(in->loop, &q->work, lag_work, lag_done) != 0) {
        if (q->list)
            rd_kafka_topic_partition_list_destroy(q->list);
        free(q->lo);
        free(q->hi);
        free(q);
        return;
    }
    in->lag_running = 1;
}

/* ---- loop callbacks ------------------------------------------------------------ */

static void on_readable(uv_poll_t *h, int status, int events) {
    (void)status;
    (void)events;
    sr_input_kafka *in = h->data;
    char buf[64];
    while (read(in->fds[0], buf, sizeof buf) > 0)
        ;
    pump(in);
}

static void on_kick(uv_timer_t *t) { pump(t->data); }

static void on_tick(uv_timer_t *t) {
    sr_input_kafka *in = t->data;
    pump(in);
    if (in->closing)
        return;
    advance_safe(in);
    uint64_t now = uv_now(in->loop);
    if (now - in->last_commit_ms >= in->conf.commit_interval_ms)
        commit_safe(in, 0);
    if (now - in->last_lag_ms >= in->conf.lag_interval_ms)
        query_lag(in);
}

/* ---- lifecycle ------------------------------------------------------------------ */

static void free_input(sr_input_kafka *in) {
    while (in->head) {
        ksub *s = in->head;
        in->head = s->next;
        sub_free(s);
    }
    if (in->gather)
        sub_free(in->gather);
    for (size_t i = 0; i < in->nnames; i++)
        free(in->names[i]);
    free(in->names);
    free(in->parts);
    if (in->fds[0] >= 0)
        close(in->fds[0]);
    if (in->fds[1] >= 0)
        close(in->fds[1]);
    sr_kafka_input_conf_free(&in->conf);
    free(in);
}

static void maybe_free(sr_input_kafka *in) {
    if (in->closing && in->handles == 0 && in->rk_gone && in->inflight == 0)
        free_input(in);
}

static void on_handle_closed(uv_handle_t *h) {
    sr_input_kafka *in = h->data;
    in->handles--;
    maybe_free(in);
}

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* On the threadpool: leaving the group waits for the coordinator, and a
 * rebalance in progress (a member that died holds it until its session
 * times out, 45 s by default) would hold a plain rd_kafka_consumer_close
 * that long, and SIGTERM with it. So the close is asynchronous, served
 * here (rebalance callbacks included) for CLOSE_TIMEOUT_MS at most; past
 * that the handle goes without leaving the group. What was made safe is
 * committed already (sr_input_kafka_close), so the group's next owner
 * re-reads only what was not: duplicates, never a loss. */
static void close_work(uv_work_t *w) {
    sr_input_kafka *in = w->data;
    int closed = 0;
    rd_kafka_error_t *e = rd_kafka_consumer_close_queue(in->rk, in->queue);
    if (e) {
        sr_warn("input.kafka", "leaving the group: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    } else {
        uint64_t deadline = mono_ms() + CLOSE_TIMEOUT_MS;
        while (!(closed = rd_kafka_consumer_closed(in->rk)) && mono_ms() < deadline) {
            rd_kafka_message_t *m = rd_kafka_consume_queue(in->queue, 100);
            if (m)
                rd_kafka_message_destroy(m);
        }
        if (!closed)
            sr_warn("input.kafka",
                    "leaving the group took over %d ms (a rebalance in progress?); closed "
                    "without it: the group reassigns the partitions when the session times out",
                    CLOSE_TIMEOUT_MS);
    }
    rd_kafka_queue_destroy(in->queue);
    rd_kafka_destroy_flags(in->rk, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

static void close_done(uv_work_t *w, int status) {
    (void)status;
    sr_input_kafka *in = w->data;
    in->rk = NULL;
    in->queue = NULL;
    in->rk_gone = 1;
    maybe_free(in);
}

static void start_close(sr_input_kafka *in) {
    in->close_work.data = in;
    if (uv_queue_work(in->loop, &in->close_work, close_work, close_done) != 0) {
        close_work(&in->close_work);
        close_done(&in->close_work, 0);
    }
}

sr_input_kafka *sr_input_kafka_start(uv_loop_t *loop, const sr_kafka_input_conf *conf,
                                     const sr_ingest *ingest, char *err, size_t errlen) {
    sr_input_kafka *in = calloc(1, sizeof *in);
    rd_kafka_conf_t *rc = NULL;
    rd_kafka_topic_partition_list_t *topics = NULL;
    if (!in) {
        snprintf(err, errlen, "inputs.kafka: out of memory");
        return NULL;
    }
    in->fds[0] = in->fds[1] = -1;
    in->loop = loop;
    in->ing = *ingest;
    if (sr_kafka_input_conf_copy(&in->conf, conf) != 0) {
        snprintf(err, errlen, "inputs.kafka: out of memory");
        goto fail;
    }
    if (!(rc = sr_kafka_input_rdconf(&in->conf, err, errlen)))
        goto fail;
    rd_kafka_conf_set_opaque(rc, in);
    rd_kafka_conf_set_rebalance_cb(rc, on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(rc, on_commit);
    rd_kafka_conf_set_error_cb(rc, on_error);
    rd_kafka_conf_set_log_cb(rc, on_log);
    char why[512];
    in->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rc, why, sizeof why);
    if (!in->rk) {
        snprintf(err, errlen, "inputs.kafka: %s", why);
        goto fail; /* rc is still ours */
    }
    rc = NULL;
    rd_kafka_poll_set_consumer(in->rk);
    in->queue = rd_kafka_queue_get_consumer(in->rk);
    if (!in->queue || pipe2(in->fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "inputs.kafka: cannot set up the consumer's wake-up");
        goto fail;
    }
    rd_kafka_queue_io_event_enable(in->queue, in->fds[1], "1", 1);
    topics = rd_kafka_topic_partition_list_new((int)in->conf.ntopics);
    for (size_t i = 0; i < in->conf.ntopics; i++)
        rd_kafka_topic_partition_list_add(topics, in->conf.topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(in->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        snprintf(err, errlen, "inputs.kafka: cannot subscribe: %s", rd_kafka_err2str(e));
        goto fail;
    }
    uv_poll_init(loop, &in->poll, in->fds[0]);
    uv_timer_init(loop, &in->tick);
    uv_timer_init(loop, &in->kick);
    in->poll.data = in->tick.data = in->kick.data = in;
    in->handles = 3;
    uv_poll_start(&in->poll, UV_READABLE, on_readable);
    uv_timer_start(&in->tick, on_tick, TICK_MS, TICK_MS);
    in->last_commit_ms = in->last_lag_ms = uv_now(loop);
    sr_info("input.kafka", "consuming %zu topic(s) from %s as group '%s'", in->conf.ntopics,
            in->conf.brokers, in->conf.group_id ? in->conf.group_id : "siemrelay");
    return in;

fail:
    if (rc)
        rd_kafka_conf_destroy(rc);
    if (in->queue)
        rd_kafka_queue_destroy(in->queue);
    if (in->rk)
        rd_kafka_destroy(in->rk);
    free_input(in);
    return NULL;
}

void sr_input_kafka_stop(sr_input_kafka *in) {
    if (!in || in->stopped)
        return;
    in->stopped = 1;
    set_paused(in, 1);
}

void sr_input_kafka_close(sr_input_kafka *in) {
    if (!in || in->closing)
        return;
    sr_input_kafka_stop(in);
    advance_safe(in);
    commit_safe(in, 1);
    in->closing = 1;
    uv_close((uv_handle_t *)&in->poll, on_handle_closed);
    uv_close((uv_handle_t *)&in->tick, on_handle_closed);
    uv_close((uv_handle_t *)&in->kick, on_handle_closed);
    if (!in->lag_running)
        start_close(in);
}

void sr_input_kafka_get_stats(const sr_input_kafka *in, sr_input_kafka_stats *out) {
    *out = in->st;
    out->paused = in->paused;
    out->partitions = in->nparts;
}

void sr_input_kafka_foreach_partition(const sr_input_kafka *in,
                                      void (*visit)(void *ud, const sr_input_kafka_partition *p),
                                      void *ud) {
    for (size_t i = 0; i < in->nparts; i++)
        visit(ud, &in->parts[i].pub);
}
