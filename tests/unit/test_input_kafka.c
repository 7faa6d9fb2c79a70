/* test_input_kafka.c - the Kafka input against librdkafka's mock cluster, in
 * process, with a recording ingest in place of the pipeline (whose marks
 * the test declares safe when it wants), so offsets, pauses and order can be
 * checked exactly:
 *
 *   - every produced message is submitted once, partition by partition in
 *     offset order;
 *   - nothing is committed while the marks are not safe; once they are, the
 *     group's committed offset of every partition is its end;
 *   - a submission answered 503 is submitted again, before anything newer;
 *   - while ingest is busy the partitions are paused (stats say so), nothing
 *     is submitted, and after it clears the rest arrives;
 *   - a message holding newlines becomes one line; an empty one is skipped
 *     but its offset still committed;
 *   - a bad property fails start without echoing a secret value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h */

#include "check.h"
#include "kafka_mock_cluster.h"
#include "input_kafka.h"

#define TOPIC  "events"
#define NPARTS 4

/* ---- a recording ingest ----------------------------------------------------- */

struct sr_ingest_mark {
    uint64_t n; /* submissions replied to when it was taken */
};

typedef struct pending {
    struct pending *next;
    char *data;
    size_t len;
    sr_ingest_cb cb;
    void *ud;
} pending;

typedef struct rec_ingest {
    uv_loop_t *loop;
    uv_timer_t reply_timer;
    pending *head, *tail;
    uint64_t replied, safe_upto; /* marks of the first safe_upto replies are safe */
    long busy;
    int refuse_next; /* answer the next submission 503 */
    uint64_t submissions, resubmitted;
    char *first_refused;
    /* what arrived, per partition: the last sequence number seen */
    long last_seq[NPARTS];
    uint64_t lines, out_of_order;
    char joined[4096]; /* lines that are not "p:seq" */
} rec_ingest;

static void record_lines(rec_ingest *ri, const char *data, size_t len) {
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        int part;
        long seq;
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        if (sscanf(line, "{\"p\":%d,\"seq\":%ld}", &part, &seq) == 2 && part >= 0 &&
            part < NPARTS) {
            if (seq != ri->last_seq[part] + 1)
                ri->out_of_order++;
            ri->last_seq[part] = seq;
            ri->lines++;
        } else {
            size_t o = strlen(ri->joined);
            snprintf(ri->joined + o, sizeof ri->joined - o, "%s|", line);
        }
        p += n + 1;
    }
}

static void on_reply_timer(uv_timer_t *t) {
    rec_ingest *ri = t->data;
    while (ri->head) {
        pending *pd = ri->head;
        ri->head = pd->next;
        if (!ri->head)
            ri->tail = NULL;
        sr_ingest_reply r = {.status = 200, .body = "{}", .body_len = 2, .retry_after_s = -1};
        if (ri->refuse_next) {
            ri->refuse_next = 0;
            r.status = 503;
            r.retry_after_s = 0;
            r.data = pd->data; /* handed back, as the pipeline does */
            r.data_len = pd->len;
            ri->first_refused = strndup(pd->data, pd->len);
            pd->data = NULL;
        } else {
            if (ri->first_refused && pd->len == strlen(ri->first_refused) &&
                memcmp(pd->data, ri->first_refused, pd->len) == 0)
                ri->resubmitted++;
            record_lines(ri, pd->data, pd->len);
            free(pd->data);
            ri->replied++;
        }
        pd->cb(pd->ud, &r);
        free(pd);
    }
}

static int rec_submit(void *ctx, char *data, size_t len, sr_body_format fmt, uint32_t first_line,
                      const char *origin, sr_ingest_cb cb, void *ud) {
    (void)fmt;
    (void)first_line;
    (void)origin;
    rec_ingest *ri = ctx;
    pending *pd = calloc(1, sizeof *pd);
    *pd = (pending){NULL, data, len, cb, ud};
    if (ri->tail)
        ri->tail->next = pd;
    else
        ri->head = pd;
    ri->tail = pd;
    ri->submissions++;
    uv_timer_start(&ri->reply_timer, on_reply_timer, 0, 0); /* replies come later, on the loop */
    return 0;
}

static long rec_busy(void *ctx) { return ((rec_ingest *)ctx)->busy; }

static sr_ingest_mark *rec_mark(void *ctx) {
    sr_ingest_mark *m = malloc(sizeof *m);
    m->n = ((rec_ingest *)ctx)->replied;
    return m;
}

static int rec_safe(void *ctx, sr_ingest_mark **m) {
    return (*m)->n <= ((rec_ingest *)ctx)->safe_upto;
}

/* ---- helpers --------------------------------------------------------------------- */

/* Produces `n` messages per partition: {"p":P,"seq":S}, S from `from`. */
static void produce(const mock *m, int from, int n) {
    char errstr[256], v[64];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", m->bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(c, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof errstr);
    for (int i = from; i < from + n; i++)
        for (int part = 0; part < NPARTS; part++) {
            int len = snprintf(v, sizeof v, "{\"p\":%d,\"seq\":%d}", part, i);
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(part),
                              RD_KAFKA_V_VALUE(v, (size_t)len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        }
    CHECK_INT(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);
}

static void produce_raw(const mock *m, int part, const char *v, size_t len) {
    char errstr[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", m->bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(c, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof errstr);
    rd_kafka_producev(p, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(part),
                      RD_KAFKA_V_VALUE((void *)v, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                      RD_KAFKA_V_END);
    CHECK_INT(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);
}

/* The group's committed offsets, asked of the coordinator by a separate
 * client (what a restarted member would resume from). */
static void committed(const mock *m, const char *group, int64_t out[NPARTS]) {
    char errstr[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", m->bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(c, "group.id", group, errstr, sizeof errstr);
    rd_kafka_conf_set(c, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *k = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof errstr);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NPARTS);
    for (int i = 0; i < NPARTS; i++)
        rd_kafka_topic_partition_list_add(l, TOPIC, i);
    rd_kafka_resp_err_t err = rd_kafka_committed(k, l, 10000);
    CHECK_INT(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int i = 0; i < NPARTS; i++)
        out[l->elems[i].partition] = err ? -2 : l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(k);
}

static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

/* Runs the loop until pred(ud) or timeout_ms; returns pred(ud). */
static int run_until(uv_loop_t *loop, int (*pred)(void *), void *ud, uint64_t timeout_ms) {
    int expired = 0;
    uv_timer_t t;
    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, timeout_ms, 0);
    while (!(pred && pred(ud)) && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return pred ? pred(ud) : 0;
}

static uint64_t want_lines;
static int got_lines(void *ud) { return ((rec_ingest *)ud)->lines >= want_lines; }

static const mock *cur_mock;
static const char *cur_group;
static int all_committed_at(void *ud) {
    int64_t off[NPARTS];
    committed(cur_mock, cur_group, off);
    for (int i = 0; i < NPARTS; i++)
        if (off[i] != *(int64_t *)ud)
            return 0;
    return 1;
}

static void lag_sum(void *ud, const sr_input_kafka_partition *p) {
    if (p->lag >= 0)
        *(int64_t *)ud += p->lag;
}

static int committed_at(void *ud) {
    int64_t off[NPARTS];
    committed(cur_mock, cur_group, off);
    return memcmp(off, ud, sizeof off) == 0;
}

static sr_input_kafka *cur_input;
static int got_raw(void *ud) {
    sr_input_kafka_stats st;
    sr_input_kafka_get_stats(cur_input, &st);
    return st.empty == 1 && ((rec_ingest *)ud)->joined[0];
}

static int lag_is_400(void *ud) {
    (void)ud;
    int64_t lag = 0;
    sr_input_kafka_foreach_partition(cur_input, lag_sum, &lag);
    return lag == 100 * NPARTS;
}

static void run_for(uv_loop_t *loop, uint64_t ms) { run_until(loop, NULL, NULL, ms); }

static sr_kafka_input_conf conf_for(const mock *m, const char *group, char **topics) {
    sr_kafka_input_conf c;
    sr_kafka_input_conf_defaults(&c);
    c.enabled = 1;
    c.brokers = (char *)m->bootstrap;
    c.topics = topics;
    c.ntopics = 1;
    free(c.group_id); /* the table's default strings: the test uses literals */
    free(c.client_id);
    c.client_id = NULL;
    c.group_id = (char *)group;
    c.max_batch_events = 50;
    c.commit_interval_ms = 100;
    c.lag_interval_ms = 200;
    return c;
}

/* ---- tests -------------------------------------------------------------------- */

static void test_commit_only_when_safe(uv_loop_t *loop, const mock *m) {
    char *topics[] = {TOPIC};
    sr_kafka_input_conf c = conf_for(m, "g-safe", topics);
    rec_ingest ri = {.loop = loop};
    for (int i = 0; i < NPARTS; i++)
        ri.last_seq[i] = -1;
    uv_timer_init(loop, &ri.reply_timer);
    ri.reply_timer.data = &ri;
    sr_ingest ing = {rec_submit, rec_busy, rec_mark, rec_safe, &ri};
    char err[256] = "";
    produce(m, 0, 100);
    sr_input_kafka *in = sr_input_kafka_start(loop, &c, &ing, err, sizeof err);
    CHECK(in != NULL);
    if (!in) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    want_lines = 100 * NPARTS;
    CHECK(run_until(loop, got_lines, &ri, 30000));
    CHECK_INT(ri.lines, 100 * NPARTS);
    CHECK_INT(ri.out_of_order, 0);

    /* Nothing is safe yet: nothing may be committed. */
    run_for(loop, 500);
    int64_t off[NPARTS];
    committed(m, "g-safe", off);
    for (int i = 0; i < NPARTS; i++)
        CHECK_INT(off[i], RD_KAFKA_OFFSET_INVALID);
    sr_input_kafka_stats st;
    sr_input_kafka_get_stats(in, &st);
    CHECK_INT(st.messages, 100 * NPARTS);
    CHECK_INT(st.partitions, NPARTS);

    /* Lag: everything is still uncommitted. */
    cur_input = in;
    CHECK(run_until(loop, lag_is_400, NULL, 10000));

    /* Safe: every partition is committed at its end. */
    ri.safe_upto = ri.replied;
    int64_t end = 100;
    cur_mock = m;
    cur_group = "g-safe";
    CHECK(run_until(loop, all_committed_at, &end, 10000));

    /* Back-pressure: busy pauses every partition; nothing is submitted. */
    ri.busy = 1;
    run_for(loop, 300);
    sr_input_kafka_get_stats(in, &st);
    CHECK_INT(st.paused, 1);
    CHECK_INT(st.pauses, 1);
    uint64_t before = ri.submissions;
    produce(m, 100, 20);
    run_for(loop, 1000);
    CHECK_INT(ri.submissions, before);
    ri.busy = 0;
    want_lines = 120 * NPARTS;
    CHECK(run_until(loop, got_lines, &ri, 10000));
    CHECK_INT(ri.out_of_order, 0);
    sr_input_kafka_get_stats(in, &st);
    CHECK_INT(st.paused, 0);

    /* Lines: a pretty-printed event goes on one line; an empty message is
     * skipped but committed past. */
    produce_raw(m, 0, "{\n  \"x\": 1\n}", 12);
    produce_raw(m, 1, "", 0);
    cur_input = in;
    CHECK(run_until(loop, got_raw, &ri, 10000));
    CHECK_STR(ri.joined, "{\"x\":1}|");
    sr_input_kafka_get_stats(in, &st);
    CHECK_INT(st.empty, 1);
    ri.safe_upto = ri.replied;
    int64_t want[NPARTS] = {121, 121, 120, 120};
    CHECK(run_until(loop, committed_at, want, 10000));

    /* A submission handed back (503) goes again with the same bytes, and
     * is committed only once it was taken: nothing is lost. */
    ri.refuse_next = 1;
    produce(m, 120, 20);
    want_lines = 140 * NPARTS;
    CHECK(run_until(loop, got_lines, &ri, 15000));
    CHECK_INT(ri.lines, 140 * NPARTS);
    CHECK(ri.first_refused != NULL);
    CHECK_INT(ri.resubmitted, 1);
    sr_input_kafka_get_stats(in, &st);
    CHECK_INT(st.refused, 1);
    ri.safe_upto = ri.replied;
    int64_t want2[NPARTS] = {141, 141, 140, 140};
    CHECK(run_until(loop, committed_at, want2, 10000));

    sr_input_kafka_close(in);
    uv_close((uv_handle_t *)&ri.reply_timer, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    free(ri.first_refused);
}

static void test_bad_property(uv_loop_t *loop, const mock *m) {
    char *topics[] = {TOPIC};
    sr_kafka_input_conf c = conf_for(m, "g-bad", topics);
    sr_kafka_prop props[] = {{"sasl.password", "hunter2-secret"}, {"no.such.property", "x"}};
    c.props = props;
    c.nprops = 2;
    rec_ingest ri = {.loop = loop};
    sr_ingest ing = {rec_submit, rec_busy, rec_mark, rec_safe, &ri};
    char err[256] = "";
    CHECK(sr_input_kafka_start(loop, &c, &ing, err, sizeof err) == NULL);
    CHECK(strstr(err, "no.such.property") != NULL);
    /* A bad value of a secret property is not echoed. */
    c.nprops = 0;
    c.sasl_mechanism = "NOT-A-MECHANISM";
    c.password = "hunter2-secret";
    err[0] = '\0';
    sr_input_kafka *in = sr_input_kafka_start(loop, &c, &ing, err, sizeof err);
    if (in) { /* librdkafka may accept it until it connects: then nothing to check */
        sr_input_kafka_close(in);
        uv_run(loop, UV_RUN_DEFAULT);
    }
    CHECK(strstr(err, "hunter2") == NULL);
    c.brokers = NULL;
    CHECK(sr_input_kafka_start(loop, &c, &ing, err, sizeof err) == NULL);
    CHECK(strstr(err, "brokers") != NULL);
}

int main(void) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    mock m = {0};
    CHECK_INT(mock_start(&m, 3, TOPIC, NPARTS), 0);
    if (m.mc) {
        test_commit_only_when_safe(&loop, &m);
        test_bad_property(&loop, &m);
    }
    mock_stop(&m);
    CHECK_INT(uv_loop_close(&loop), 0);
    return CHECK_DONE();
}
