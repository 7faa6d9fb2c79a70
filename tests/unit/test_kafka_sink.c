/* test_kafka_sink.c - the kafka sink's parts and the sink itself against
 * librdkafka's mock cluster, in process.
 *
 * Pure parts: error classification, message keys, settings (headers, the
 * private keytab file), the librdkafka configuration built from them (the
 * guarantees cannot be overridden, errors never echo a value). The sink:
 * records produced and read back with a consumer (value, key, headers),
 * per-record results of injected broker errors (too large: reject;
 * authorization: retry), produce-time failures (queue full), a fatal
 * idempotence error replaced by a new producer, callbacks never inside
 * send(), and close() with messages in flight (no callback, nothing leaked:
 * run under ASan). */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "kafka_mock_cluster.h"
#include "kafka.h"
#include "sink.h"

#define API_PRODUCE          0
#define API_INIT_PRODUCER_ID 22

/* ---- pure parts --------------------------------------------------------- */

static void test_classify(void) {
    CHECK_INT(sr_kafka_classify(RD_KAFKA_RESP_ERR_NO_ERROR), SR_SINK_ITEM_OK);
    CHECK_INT(sr_kafka_classify(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE), SR_SINK_ITEM_REJECT);
    CHECK_INT(sr_kafka_classify(RD_KAFKA_RESP_ERR_INVALID_RECORD), SR_SINK_ITEM_REJECT);
    CHECK_INT(sr_kafka_classify(RD_KAFKA_RESP_ERR_INVALID_MSG), SR_SINK_ITEM_REJECT);
    CHECK_INT(sr_kafka_classify(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT), SR_SINK_ITEM_RETRY);
    CHECK_INT(sr_kafka_classify(RD_KAFKA_RESP_ERR__TRANSPORT), SR_SINK_ITEM_RETRY);
    CHECK_INT(sr_kafka_classify(RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE), SR_SINK_ITEM_RETRY);
    CHECK_INT(sr_kafka_classify(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS), SR_SINK_ITEM_RETRY);
    CHECK_INT(sr_kafka_classify(RD_KAFKA_RESP_ERR__QUEUE_FULL), SR_SINK_ITEM_RETRY);
    CHECK_INT(sr_kafka_classify(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED), SR_SINK_ITEM_RETRY);
    CHECK_INT(sr_kafka_classify(RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED), SR_SINK_ITEM_RETRY);
    CHECK_INT(sr_kafka_classify(RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION), SR_SINK_ITEM_RETRY);
    CHECK_INT(sr_kafka_classify(RD_KAFKA_RESP_ERR__FATAL), SR_SINK_ITEM_RETRY);
    CHECK_INT(sr_kafka_classify((rd_kafka_resp_err_t)12345), SR_SINK_ITEM_RETRY);
    char buf[160];
    sr_kafka_describe(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, buf, sizeof buf);
    CHECK(strncmp(buf, "MSG_SIZE_TOO_LARGE: ", 20) == 0);
}

static void test_record_key(void) {
    sr_buf k = SR_BUF_INIT;
    const char *rec = "{\"id\":\"ab\\u00e9\\\"c\",\"n\":18446744073709551615,\"z\":null,"
                      "\"o\":{\"a\":[1, 2]},\"t\":true}";
    size_t n = strlen(rec);
    CHECK_INT(sr_kafka_record_key(rec, n, "id", &k), 1);
    CHECK_MEM(k.data, k.len, "ab\xc3\xa9\"c");
    CHECK_INT(sr_kafka_record_key(rec, n, "n", &k), 1);
    CHECK_MEM(k.data, k.len, "18446744073709551615");
    CHECK_INT(sr_kafka_record_key(rec, n, "o", &k), 1);
    CHECK_MEM(k.data, k.len, "{\"a\":[1, 2]}");
    CHECK_INT(sr_kafka_record_key(rec, n, "t", &k), 1);
    CHECK_MEM(k.data, k.len, "true");
    CHECK_INT(sr_kafka_record_key(rec, n, "z", &k), 0);
    CHECK_INT(sr_kafka_record_key(rec, n, "missing", &k), 0);
    CHECK_INT(sr_kafka_record_key("{\"id\":\"x\"}\n", 11, "id", &k), 1);
    CHECK_MEM(k.data, k.len, "x");
    CHECK_INT(sr_kafka_record_key("not json", 8, "id", &k), -1);
    CHECK_INT(sr_kafka_record_key("{\"id\":", 6, "id", &k), -1);
    CHECK_INT(sr_kafka_record_key("[1]", 3, "id", &k), -1);
    sr_buf_free(&k);
}

static int mode_of(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

static void test_opts(void) {
    char err[256];
    sr_kafka_opts o;
    sr_kafka_settings s = {0};
    CHECK_INT(sr_kafka_opts_init(&o, &s, err, sizeof err), -1);
    CHECK(strstr(err, "brokers and topic") != NULL);

    /* "c2lla3JlbGF5IGtleXRhYgBcx" is not base64 of anything: bad length. */
    sr_sink_prop bad[] = {{"keytab.base64", "c2llbXJlbGF5!!"}};
    s.brokers = "127.0.0.1:1";
    s.topic = "t";
    s.props = (sr_sink_props){bad, 1};
    CHECK_INT(sr_kafka_opts_init(&o, &s, err, sizeof err), -1);
    CHECK(strstr(err, "base64") != NULL && strstr(err, "c2ll") == NULL);

    sr_sink_prop props[] = {
        {"compression.codec", "lz4"},
        {"header.X-Source", "siemrelay"},
        {"header.Empty", ""},
        /* "siemrelay keytab\0\x01" */
        {"keytab.base64", "c2llbXJlbGF5IGtleXRhYgAB"},
    };
    s.props = (sr_sink_props){props, 4};
    s.key_field = "id";
    CHECK_INT(sr_kafka_opts_init(&o, &s, err, sizeof err), 0);
    CHECK_INT(o.nprops, 1);
    CHECK_STR(o.props[0].name, "compression.codec");
    CHECK_STR(o.key_field, "id");
    CHECK(o.headers != NULL);
    if (o.headers) {
        CHECK_INT(rd_kafka_header_cnt(o.headers), 2);
        const void *v;
        size_t vlen;
        CHECK_INT(rd_kafka_header_get_last(o.headers, "X-Source", &v, &vlen), 0);
        CHECK_MEM((const char *)v, vlen, "siemrelay");
    }
    CHECK(o.keytab_path != NULL && o.keytab_dir != NULL);
    char dir[4096] = "", path[4200] = "";
    if (o.keytab_path) {
        snprintf(dir, sizeof dir, "%s", o.keytab_dir);
        snprintf(path, sizeof path, "%s", o.keytab_path);
        CHECK_INT(mode_of(dir), 0700);
        CHECK_INT(mode_of(path), 0600);
        FILE *fp = fopen(path, "rb");
        char got[64];
        size_t n = fp ? fread(got, 1, sizeof got, fp) : 0;
        if (fp)
            fclose(fp);
        CHECK_INT(n, 18);
        CHECK(n == 18 && memcmp(got, "siemrelay keytab\0\x01", 18) == 0);
    }
    sr_kafka_opts_free(&o);
    CHECK_INT(mode_of(path), -1);
    CHECK_INT(mode_of(dir), -1);
}

/* The value librdkafka holds for `name` in a configuration. */
static const char *conf_value(rd_kafka_conf_t *c, const char *name, char *buf, size_t len) {
    size_t n = len;
    if (rd_kafka_conf_get(c, name, buf, &n) != RD_KAFKA_CONF_OK)
        return "(unset)";
    return buf;
}

static void test_conf(void) {
    char err[256], v[512];
    sr_kafka_opts o;
    sr_sink_prop props[] = {
        {"acks", "1"}, /* cannot weaken the guarantees */
        {"enable.idempotence", "false"},
        {"linger.ms", "7"},
        {"sasl.mechanisms", "PLAIN"},
        {"sasl.password", "hunter2-secret"},
        {"sasl.username", "u"},
        {"security.protocol", "sasl_plaintext"},
    };
    sr_kafka_settings s = {.brokers = "127.0.0.1:1,127.0.0.1:2",
                           .topic = "t",
                           .timeout_ms = 4321,
                           .insecure = 1,
                           .props = {props, 7}};
    CHECK_INT(sr_kafka_opts_init(&o, &s, err, sizeof err), 0);
    rd_kafka_conf_t *c = sr_kafka_conf_new(&o, err, sizeof err);
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(conf_value(c, "enable.idempotence", v, sizeof v), "true");
        CHECK_STR(conf_value(c, "bootstrap.servers", v, sizeof v), "127.0.0.1:1,127.0.0.1:2");
        CHECK_STR(conf_value(c, "message.timeout.ms", v, sizeof v), "4321");
        CHECK_STR(conf_value(c, "linger.ms", v, sizeof v), "7");
        CHECK_STR(conf_value(c, "security.protocol", v, sizeof v), "sasl_plaintext");
        CHECK_STR(conf_value(c, "sasl.mechanisms", v, sizeof v), "PLAIN");
        CHECK_STR(conf_value(c, "enable.ssl.certificate.verification", v, sizeof v), "false");
        CHECK_STR(conf_value(c, "ssl.endpoint.identification.algorithm", v, sizeof v), "none");
        const char *acks = conf_value(c, "acks", v, sizeof v);
        CHECK(strcmp(acks, "all") == 0 || strcmp(acks, "-1") == 0);
        rd_kafka_conf_destroy(c);
    }
    sr_kafka_opts_free(&o);

    sr_sink_prop unknown[] = {{"no.such.property", "x"}};
    s.props = (sr_sink_props){unknown, 1};
    CHECK_INT(sr_kafka_opts_init(&o, &s, err, sizeof err), 0);
    c = sr_kafka_conf_new(&o, err, sizeof err);
    CHECK(c == NULL && strstr(err, "no.such.property") != NULL);
    sr_kafka_opts_free(&o);

    /* A bad value is not repeated: it might have been a credential. */
    sr_sink_prop badval[] = {{"linger.ms", "s3cr3t-value"}};
    s.props = (sr_sink_props){badval, 1};
    CHECK_INT(sr_kafka_opts_init(&o, &s, err, sizeof err), 0);
    c = sr_kafka_conf_new(&o, err, sizeof err);
    CHECK(c == NULL && strstr(err, "linger.ms") != NULL && strstr(err, "s3cr3t") == NULL);
    sr_kafka_opts_free(&o);
}

/* ---- the sink against the mock cluster ---------------------------------- */

typedef struct result {
    int done, in_send;
    int called_in_send;
    size_t nitems;
    uint8_t items[16];
    char errors[16][160];
    char error[256];
    int transport_ok;
} result;

static int sending; /* set around send(): no callback may run then */

static void on_done(void *ud, const sr_sink_result *res) {
    result *r = ud;
    r->called_in_send |= sending;
    r->done++;
    r->transport_ok = res->transport_ok;
    snprintf(r->error, sizeof r->error, "%s", res->error);
    r->nitems = res->nitems;
    for (size_t i = 0; i < res->nitems && i < 16; i++) {
        r->items[i] = res->items[i];
        snprintf(r->errors[i], sizeof r->errors[i], "%s",
                 res->item_errors && res->item_errors[i] ? res->item_errors[i] : "");
    }
}

static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

/* Runs the loop until *flag or timeout_ms; returns *flag. */
static int run_until(uv_loop_t *loop, int *flag, uint64_t timeout_ms) {
    int expired = 0;
    uv_timer_t t;
    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, timeout_ms, 0);
    while (!*flag && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag;
}

static int send_recs(sr_sink *s, const char **recs, size_t n, result *r) {
    uint32_t lens[16];
    for (size_t i = 0; i < n; i++)
        lens[i] = (uint32_t)strlen(recs[i]);
    sr_sink_payload p = {.recs = recs, .lens = lens, .n = n};
    memset(r, 0, sizeof *r);
    sending = 1;
    int rc = sr_sink_send(s, &p, on_done, r);
    sending = 0;
    return rc;
}

/* What the tests check of a consumed message: copies, since librdkafka
 * wants every message destroyed before its handle is. */
typedef struct msg {
    char value[256], key[64], header[64];
    int has_key, has_header;
} msg;

static void copy_bytes(char *dst, size_t cap, const void *p, size_t n) {
    n = n < cap - 1 ? n : cap - 1;
    if (n)
        memcpy(dst, p, n);
    dst[n] = '\0';
}

/* Reads every message of partition 0 of `topic` from offset 0. */
static size_t consume(const char *bootstrap, const char *topic, msg *out, size_t max) {
    char errstr[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(c, "group.id", "siemrelay-test", errstr, sizeof errstr);
    rd_kafka_conf_set(c, "enable.partition.eof", "true", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof errstr);
    CHECK(rk != NULL);
    if (!rk)
        return 0;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    size_t n = 0;
    for (int tries = 0; tries < 100 && n < max; tries++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            break;
        }
        if (m->err)
            fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
        if (!m->err) {
            msg *o = &out[n++];
            memset(o, 0, sizeof *o);
            copy_bytes(o->value, sizeof o->value, m->payload, m->len);
            if ((o->has_key = m->key != NULL))
                copy_bytes(o->key, sizeof o->key, m->key, m->key_len);
            rd_kafka_headers_t *h = NULL;
            const void *v = NULL;
            size_t vlen = 0;
            if (rd_kafka_message_headers(m, &h) == 0 &&
                rd_kafka_header_get_last(h, "X-Source", &v, &vlen) == 0) {
                o->has_header = 1;
                copy_bytes(o->header, sizeof o->header, v, vlen);
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

static sr_sink *open_sink(uv_loop_t *loop, const mock *m, sr_sink_prop *props, size_t nprops) {
    char err[256] = "";
    sr_kafka_settings s = {.brokers = m->bootstrap,
                           .topic = "events",
                           .key_field = "id",
                           .timeout_ms = 5000,
                           .props = {props, nprops}};
    sr_sink *sink = sr_sink_open(loop, "kafka", &s, err, sizeof err);
    if (!sink)
        fprintf(stderr, "kafka sink: %s\n", err);
    return sink;
}

static void close_sink(uv_loop_t *loop, sr_sink *s) {
    sr_sink_close(s);
    uv_run(loop, UV_RUN_DEFAULT); /* the producer is destroyed on the threadpool */
}

static void test_produce_and_read_back(uv_loop_t *loop, mock *m) {
    sr_sink_prop props[] = {{"header.X-Source", "siemrelay"}, {"linger.ms", "1"}};
    sr_sink *s = open_sink(loop, m, props, 2);
    CHECK(s != NULL);
    if (!s)
        return;
    const char *recs[] = {
        "{\"id\":\"e1\",\"timestamp\":1606322948648718268}",
        "{\"id\":\"e\\u00e9\",\"n\":1}",
        "{\"noid\":true}",
    };
    result r;
    CHECK_INT(send_recs(s, recs, 3, &r), 0);
    CHECK_INT(r.done, 0); /* never inside send() */
    CHECK(run_until(loop, &r.done, 10000));
    CHECK_INT(r.called_in_send, 0);
    CHECK_INT(r.transport_ok, 1);
    CHECK_INT(r.nitems, 3);
    for (int i = 0; i < 3; i++)
        CHECK_INT(r.items[i], SR_SINK_ITEM_OK);
    close_sink(loop, s);

    msg msgs[8];
    size_t n = consume(m->bootstrap, "events", msgs, 8);
    CHECK_INT(n, 3);
    for (size_t i = 0; i < n; i++) {
        CHECK_STR(msgs[i].value, recs[i]);
        CHECK_INT(msgs[i].has_header, 1);
        CHECK_STR(msgs[i].header, "siemrelay");
    }
    if (n == 3) {
        CHECK_STR(msgs[0].key, "e1");
        CHECK_STR(msgs[1].key, "e\xc3\xa9");
        CHECK_INT(msgs[2].has_key, 0);
    }
}

static void test_broker_errors(uv_loop_t *loop, mock *m) {
    sr_sink_prop props[] = {{"linger.ms", "1"}};
    sr_sink *s = open_sink(loop, m, props, 1);
    CHECK(s != NULL);
    if (!s)
        return;
    const char *recs[] = {"{\"id\":\"big\"}"};
    result r;

    /* Transient errors are librdkafka's to retry: the batch just succeeds. */
    rd_kafka_mock_push_request_errors(
        m->mc, API_PRODUCE, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    CHECK_INT(send_recs(s, recs, 1, &r), 0);
    CHECK(run_until(loop, &r.done, 15000));
    CHECK_INT(r.items[0], SR_SINK_ITEM_OK);
    if (r.items[0] != SR_SINK_ITEM_OK)
        fprintf(stderr, "transient: %s\n", r.errors[0]);
    /* A permanent error for the record: rejected, with the reason. */
    rd_kafka_mock_push_request_errors(m->mc, API_PRODUCE, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    CHECK_INT(send_recs(s, recs, 1, &r), 0);
    CHECK(run_until(loop, &r.done, 10000));
    CHECK_INT(r.transport_ok, 0);
    CHECK_INT(r.items[0], SR_SINK_ITEM_REJECT);
    CHECK(strstr(r.errors[0], "MSG_SIZE_TOO_LARGE") != NULL);
    CHECK(strstr(r.error, "MSG_SIZE_TOO_LARGE") != NULL);

    /* Authorization: the destination's problem, retried. */
    rd_kafka_mock_push_request_errors(m->mc, API_PRODUCE, 1,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    CHECK_INT(send_recs(s, recs, 1, &r), 0);
    CHECK(run_until(loop, &r.done, 10000));
    CHECK_INT(r.items[0], SR_SINK_ITEM_RETRY);
    CHECK(strstr(r.errors[0], "TOPIC_AUTHORIZATION_FAILED") != NULL);

    /* Once the broker accepts again, so does the producer: librdkafka keeps
     * the topic's error until its metadata is refreshed, moments later. */
    int ok = 0;
    for (int attempt = 0; attempt < 20 && !ok; attempt++) {
        int pause = 0;
        run_until(loop, &pause, 250);
        CHECK_INT(send_recs(s, recs, 1, &r), 0);
        CHECK(run_until(loop, &r.done, 15000));
        ok = r.items[0] == SR_SINK_ITEM_OK;
    }
    CHECK(ok);
    close_sink(loop, s);
}

static void test_queue_full(uv_loop_t *loop, mock *m) {
    /* Room for one message: the rest fail at produce() time. */
    sr_sink_prop props[] = {{"queue.buffering.max.messages", "1"}, {"linger.ms", "50"}};
    sr_sink *s = open_sink(loop, m, props, 2);
    CHECK(s != NULL);
    if (!s)
        return;
    const char *recs[] = {"{\"id\":\"q1\"}", "{\"id\":\"q2\"}", "{\"id\":\"q3\"}"};
    result r;
    CHECK_INT(send_recs(s, recs, 3, &r), 0);
    CHECK(run_until(loop, &r.done, 10000));
    CHECK_INT(r.called_in_send, 0);
    CHECK_INT(r.items[0], SR_SINK_ITEM_OK);
    CHECK_INT(r.items[1], SR_SINK_ITEM_RETRY);
    CHECK_INT(r.items[2], SR_SINK_ITEM_RETRY);
    CHECK(strstr(r.errors[1], "QUEUE_FULL") != NULL);
    close_sink(loop, s);
}

/* The gateway's log (stderr) of a stretch of the test, kept in a file so
 * the test can read what the sink reported; echoed when the capture ends. */
typedef struct log_capture {
    int saved;
    FILE *f;
} log_capture;

static int capture_start(log_capture *c) {
    fflush(stderr);
    c->f = tmpfile();
    c->saved = dup(STDERR_FILENO);
    if (!c->f || c->saved < 0 || dup2(fileno(c->f), STDERR_FILENO) < 0)
        return -1;
    return 0;
}

/* Whether the log so far holds `text`. */
static int capture_has(log_capture *c, const char *text) {
    fflush(stderr);
    off_t end = lseek(STDERR_FILENO, 0, SEEK_CUR);
    char *seen = end >= 0 ? calloc(1, (size_t)end + 1) : NULL;
    int found = seen && pread(fileno(c->f), seen, (size_t)end, 0) >= 0 && strstr(seen, text);
    free(seen);
    return found;
}

static void capture_stop(log_capture *c, char *out, size_t cap) {
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    rewind(c->f);
    size_t n = fread(out, 1, cap - 1, c->f);
    out[n] = '\0';
    fclose(c->f);
    fputs(out, stderr);
}

static void test_fatal_replaced(uv_loop_t *loop, mock *m) {
    /* The idempotent producer cannot get a producer id: a fatal error. */
    rd_kafka_mock_push_request_errors(m->mc, API_INIT_PRODUCER_ID, 1,
                                      RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED);
    log_capture cap;
    CHECK_INT(capture_start(&cap), 0);
    sr_sink_prop props[] = {{"linger.ms", "1"}};
    sr_sink *s = open_sink(loop, m, props, 1);
    CHECK(s != NULL);
    if (!s) {
        char ignored[256];
        capture_stop(&cap, ignored, sizeof ignored);
        return;
    }
    /* Whether the first batch meets the fatal error or squeezes through
     * before librdkafka gives up on the producer id is librdkafka's timing.
     * Either way no record is ever rejected or lost for it: a batch that
     * meets it is retried, and the batch after it goes through a new
     * producer. */
    const char *recs[] = {"{\"id\":\"f1\"}"};
    result r;
    int ok_after_new = 0, rejected = 0, settled = 1;
    for (int attempt = 0; attempt < 20 && !ok_after_new && settled; attempt++) {
        int replaced_before = capture_has(&cap, "new producer");
        if (send_recs(s, recs, 1, &r) != 0)
            break;
        settled = run_until(loop, &r.done, 10000);
        rejected += r.items[0] == SR_SINK_ITEM_REJECT;
        ok_after_new = replaced_before && r.items[0] == SR_SINK_ITEM_OK;
        if (!ok_after_new) {
            int pause = 0;
            run_until(loop, &pause, 100);
        }
    }
    char log[65536];
    capture_stop(&cap, log, sizeof log);
    CHECK(settled);
    CHECK_INT(rejected, 0);
    CHECK(strstr(log, "fatal producer error CLUSTER_AUTHORIZATION_FAILED") != NULL);
    CHECK(strstr(log, "new producer for") != NULL);
    CHECK(ok_after_new);
    close_sink(loop, s);
}

static void test_close_in_flight(uv_loop_t *loop, mock *m) {
    sr_sink_prop props[] = {{"linger.ms", "1"}};
    sr_sink *s = open_sink(loop, m, props, 1);
    CHECK(s != NULL);
    if (!s)
        return;
    /* The broker answers only after 3 s: the batch is in flight at close. */
    rd_kafka_mock_broker_push_request_error_rtts(m->mc, 1, API_PRODUCE, 1,
                                                 RD_KAFKA_RESP_ERR_NO_ERROR, 3000);
    const char *recs[] = {"{\"id\":\"c1\"}", "{\"id\":\"c2\"}"};
    result r;
    CHECK_INT(send_recs(s, recs, 2, &r), 0);
    int never = 0;
    run_until(loop, &never, 200);
    uint64_t t0 = uv_hrtime();
    close_sink(loop, s);
    CHECK_INT(r.done, 0); /* no callback after close */
    /* Flushing is brief: well under the broker's delay plus teardown. */
    CHECK((uv_hrtime() - t0) / 1000000 < 2900);
}

static void test_bad_settings(uv_loop_t *loop) {
    char err[256] = "";
    sr_sink_prop props[] = {{"no.such.property", "1"}};
    sr_kafka_settings s = {.brokers = "127.0.0.1:1", .topic = "t", .props = {props, 1}};
    sr_sink *sink = sr_sink_open(loop, "kafka", &s, err, sizeof err);
    CHECK(sink == NULL);
    CHECK(strstr(err, "no.such.property") != NULL);
    uv_run(loop, UV_RUN_DEFAULT); /* the failed sink's handles close */
}

int main(void) {
    test_classify();
    test_record_key();
    test_opts();
    test_conf();

    uv_loop_t loop;
    uv_loop_init(&loop);
    test_bad_settings(&loop);
    mock m = {0};
    CHECK_INT(mock_start(&m, 1, "events", 1), 0);
    if (m.mc) {
        test_produce_and_read_back(&loop, &m);
        test_broker_errors(&loop, &m);
        test_queue_full(&loop, &m);
        test_fatal_replaced(&loop, &m);
        test_close_in_flight(&loop, &m);
    }
    mock_stop(&m);
    CHECK_INT(uv_loop_close(&loop), 0);
    return CHECK_DONE();
}
