/* test_admin.c - the admin API's documents (JSON, Prometheus text), its
 * routes on a real loopback listener, and the `siemrelay status` table.
 *
 * Rendering is tested on hand-made views (admin_view.h), so every number
 * and escape is known; the listener runs on a loop thread with no delivery
 * behind it and is driven by blocking sockets from the main thread. */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "admin.h"
#include "admin_docs.h"
#include "admin_json.h"
#include "admin_metrics.h"
#include "admin_view.h"
#include "check.h"
#include "json.h"
#include "log.h"
#include "cmd_status.h"

#define T_SINCE 1795723200123LL /* 2026-11-26T20:00:00.123Z */
#define T_UNTIL 1795723500000LL /* 2026-11-26T20:05:00.000Z */

static int contains(const sr_buf *b, const char *needle) {
    return b->data && strstr(b->data, needle) != NULL;
}

static int valid_json(const sr_buf *b) {
    return b->data && sr_json_validate(b->data, b->len, 64, NULL) == 0;
}

/* ---- UTF-8, time, percent-decoding --------------------------------------- */

static void test_utf8(void) {
    sr_buf b = SR_BUF_INIT;
    CHECK_INT(sr_admin_put_utf8(&b, "ok \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 14), 0);
    CHECK_STR(b.data, "ok \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    sr_buf_reset(&b);
    /* a lone continuation byte, an overlong '/', a surrogate, a cut-off € */
    const char bad[] = "a\x80"
                       "b\xC0\xAF"
                       "c\xED\xA0\x80"
                       "d\xE2\x82";
    CHECK_INT(sr_admin_put_utf8(&b, bad, sizeof bad - 1), 0);
    CHECK_STR(b.data, "a\xEF\xBF\xBD"
                      "b\xEF\xBF\xBD\xEF\xBF\xBD"
                      "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                      "d\xEF\xBF\xBD\xEF\xBF\xBD");
    sr_buf_free(&b);
}

static void test_time(void) {
    sr_buf b = SR_BUF_INIT;
    sr_admin_json_time(&b, T_SINCE);
    CHECK_STR(b.data, "\"2026-11-26T20:00:00.123Z\"");
    sr_buf_reset(&b);
    sr_admin_json_time(&b, 0);
    CHECK_STR(b.data, "null");
    sr_buf_free(&b);
}

static void test_percent_decode(void) {
    char out[16];
    CHECK_INT(sr_admin_percent_decode("a%20b%2Fc", 9, out, sizeof out), 5);
    CHECK_STR(out, "a b/c");
    CHECK_INT(sr_admin_percent_decode("plain", 5, out, sizeof out), 5);
    CHECK_STR(out, "plain");
    CHECK_INT(sr_admin_percent_decode("%zz", 3, out, sizeof out), -1);
    CHECK_INT(sr_admin_percent_decode("ab%2", 4, out, sizeof out), -1);
    CHECK_INT(sr_admin_percent_decode("%00x", 4, out, sizeof out), -1);
    CHECK_INT(sr_admin_percent_decode("0123456789abcdef", 16, out, sizeof out), -1);
}

/* ---- JSON documents ------------------------------------------------------ */

static sr_admin_integration sample(sr_status_history *h) {
    sr_admin_integration ai;
    memset(&ai, 0, sizeof ai);
    ai.name = "siem \"east\"";
    ai.type = "WEBHOOK";
    sr_integration_stats *s = &ai.stats;
    s->received = 10;
    s->delivered = 7;
    s->retried = 3;
    s->rejected = 1;
    s->dead_lettered = 1;
    s->dropped = 0;
    s->attempts = 5;
    s->failed_attempts = 2;
    s->queued_events = 2;
    s->queued_bytes = 512;
    s->queue_limit_bytes = 67108864;
    s->queue_type = "memory";
    s->status = SR_STATUS_WARNING;
    s->status_since_ms = T_SINCE;
    s->last_latency_ms = 12.5;
    snprintf(s->last_error, sizeof s->last_error, "HTTP 500: boom\n\x80");
    memset(h, 0, sizeof *h);
    /* A ring that wrapped: oldest first means starting at h->start. */
    h->start = SR_STATUS_HISTORY_MAX - 1;
    h->n = 2;
    h->ring[SR_STATUS_HISTORY_MAX - 1] =
        (sr_status_change){T_SINCE - 1000, SR_STATUS_NOT_CONNECTED, SR_STATUS_CONNECTED, "ok"};
    h->ring[0] = (sr_status_change){T_SINCE, SR_STATUS_CONNECTED, SR_STATUS_WARNING, "HTTP 500"};
    ai.history = h;
    return ai;
}

static void test_integration_json(void) {
    sr_status_history h;
    sr_admin_integration ai = sample(&h);
    sr_buf b = SR_BUF_INIT;
    CHECK_INT(sr_admin_json_integration(&b, &ai, 0), 0);
    CHECK_STR(b.data, "{\"name\":\"siem \\\"east\\\"\",\"type\":\"WEBHOOK\",\"status\":\"Warning\","
                      "\"since\":\"2026-11-26T20:00:00.123Z\",\"inhibited\":false,"
                      "\"inhibited_until\":null,\"queue\":{\"type\":\"memory\",\"events\":2,"
                      "\"bytes\":512,\"limit_bytes\":67108864},\"counters\":{\"received\":10,"
                      "\"delivered\":7,\"retried\":3,\"rejected\":1,\"dead_lettered\":1,"
                      "\"dropped\":0,\"attempts\":5,\"failed_attempts\":2},"
                      "\"last_error\":\"HTTP 500: boom\\n\xEF\xBF\xBD\","
                      "\"last_latency_ms\":12.500}");
    CHECK(valid_json(&b));

    sr_buf_reset(&b);
    ai.stats.inhibited = 1;
    ai.stats.inhibited_until_ms = T_UNTIL;
    ai.stats.status = SR_STATUS_ERROR;
    CHECK_INT(sr_admin_json_integration(&b, &ai, 1), 0);
    CHECK(valid_json(&b));
    CHECK(contains(&b, "\"status\":\"Error\""));
    CHECK(contains(&b, "\"inhibited\":true,\"inhibited_until\":\"2026-11-26T20:05:00.000Z\""));
    CHECK(contains(&b, "\"history\":[{\"time\":\"2026-11-26T19:59:59.123Z\",\"from\":\"Not "
                       "Connected\",\"to\":\"Connected\",\"reason\":\"ok\"},{\"time\":"
                       "\"2026-11-26T20:00:00.123Z\",\"from\":\"Connected\",\"to\":\"Warning\","
                       "\"reason\":\"HTTP 500\"}]}"));

    /* Nothing sent yet: no latency, no error. */
    sr_buf_reset(&b);
    memset(&ai.stats, 0, sizeof ai.stats);
    ai.history = NULL;
    CHECK_INT(sr_admin_json_integration(&b, &ai, 1), 0);
    CHECK(contains(&b, "\"status\":\"Not Connected\",\"since\":null"));
    CHECK(contains(&b, "\"last_error\":null,\"last_latency_ms\":null,\"history\":[]}"));
    CHECK(valid_json(&b));
    sr_buf_free(&b);
}

static void test_integrations_json(void) {
    sr_status_history h;
    sr_admin_integration items[2];
    items[0] = sample(&h);
    items[1] = sample(&h);
    items[1].name = "other";
    sr_admin_view v;
    memset(&v, 0, sizeof v);
    sr_buf b = SR_BUF_INIT;
    CHECK_INT(sr_admin_json_integrations(&b, &v), 0);
    CHECK_STR(b.data, "[]");
    v.integrations = items;
    v.nintegrations = 2;
    sr_buf_reset(&b);
    CHECK_INT(sr_admin_json_integrations(&b, &v), 0);
    CHECK(valid_json(&b));
    CHECK(b.data[0] == '[' && contains(&b, "},{\"name\":\"other\""));
    CHECK(!contains(&b, "history"));
    sr_buf_free(&b);
}

static void test_docs(void) {
    sr_admin_sources none;
    memset(&none, 0, sizeof none);
    sr_buf b = SR_BUF_INIT;
    CHECK_INT(sr_admin_doc_ready(NULL, &b), 200);
    CHECK_STR(b.data, "{\"status\":\"ready\"}");
    sr_buf_reset(&b);
    CHECK_INT(sr_admin_doc_ready("shutting down", &b), 503);
    CHECK_STR(b.data, "{\"status\":\"not ready\",\"reason\":\"shutting down\"}");
    sr_buf_reset(&b);
    CHECK_INT(sr_admin_doc_integration(&none, "x\"y", &b), 404);
    CHECK_STR(b.data, "{\"error\":\"no integration named 'x\\\"y'\"}");
    sr_buf_reset(&b);
    CHECK_INT(sr_admin_doc_integrations(&none, &b), 200);
    CHECK_STR(b.data, "[]");
    sr_buf_free(&b);
}

/* ---- Prometheus text ----------------------------------------------------- */

/* Every line is a HELP/TYPE comment or `name{labels} value`, and each
 * sample's family was announced by TYPE before it. */
static int exposition_ok(const char *text) {
    char family[128] = "";
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            return 0; /* the format ends every line */
        size_t n = (size_t)(nl - p);
        if (n > 7 && memcmp(p, "# TYPE ", 7) == 0) {
            size_t k = strcspn(p + 7, " ");
            if (k >= sizeof family)
                return 0;
            memcpy(family, p + 7, k);
            family[k] = '\0';
        } else if (!(n > 7 && memcmp(p, "# HELP ", 7) == 0)) {
            size_t k = strcspn(p, "{ ");
            if (k != strlen(family) || memcmp(p, family, k) != 0)
                return 0;
            const char *sp = memchr(p, ' ', n);
            if (p[k] == '{') {
                /* skip the labels, quoted values may hold spaces and braces */
                const char *q = p + k + 1;
                int in_str = 0;
                for (; q < nl && (in_str || *q != '}'); q++) {
                    if (in_str && *q == '\\')
                        q++;
                    else if (*q == '"')
                        in_str = !in_str;
                }
                if (q >= nl)
                    return 0;
                sp = q + 1;
                if (*sp != ' ')
                    return 0;
            }
            char *end;
            if (!sp || strtod(sp + 1, &end) < 0 || end != nl)
                return 0;
        }
        p = nl + 1;
    }
    return 1;
}

static void test_metrics(void) {
    sr_status_history h;
    sr_admin_integration items[2];
    items[0] = sample(&h);
    items[0].name = "a\\b\"c\nd";
    items[1] = sample(&h);
    items[1].name = "plain";
    items[1].type = "SPLUNK";
    items[1].stats.status = SR_STATUS_CONNECTED;
    items[1].stats.inhibited = 1;
    sr_admin_view v;
    memset(&v, 0, sizeof v);
    v.version = "1.2.3";
    v.ready = 1;
    v.integrations = items;
    v.nintegrations = 2;
    v.have_pipeline = 1;
    v.pipeline.accepted = 42;
    v.pipeline.rejected = 4;
    v.pipeline_pending = 1;
    v.have_tcp = 1;
    v.tcp.connections_total = 3;
    v.tcp.connections_open = 1;
    v.tcp.totals.bytes = 999;
    v.have_deadletter = 1;
    v.deadletter_records = 6;
    v.process.start_time_s = 1795723200.5;
    v.process.cpu_seconds = 0.25;
    v.process.resident_bytes = 4096;

    sr_buf b = SR_BUF_INIT;
    CHECK_INT(sr_admin_metrics(&b, &v), 0);
    CHECK(exposition_ok(b.data));
    CHECK(contains(&b, "# TYPE siemrelay_integration_events_received_total counter\n"));
    CHECK(contains(&b, "siemrelay_integration_events_received_total{integration=\"a\\\\b\\\"c\\nd"
                       "\",type=\"WEBHOOK\"} 10\n"));
    CHECK(contains(&b, "siemrelay_integration_events_delivered_total{integration=\"plain\","
                       "type=\"SPLUNK\"} 7\n"));
    CHECK(contains(&b, "siemrelay_integration_events_dead_lettered_total{integration=\"plain\","
                       "type=\"SPLUNK\"} 1\n"));
    CHECK(contains(&b, "siemrelay_integration_queue_limit_bytes{integration=\"plain\","
                       "type=\"SPLUNK\"} 67108864\n"));
    CHECK(contains(&b, "siemrelay_integration_status{integration=\"plain\",type=\"SPLUNK\","
                       "status=\"Connected\"} 1\n"));
    CHECK(contains(&b, "siemrelay_integration_status{integration=\"plain\",type=\"SPLUNK\","
                       "status=\"Warning\"} 0\n"));
    CHECK(contains(&b, "siemrelay_integration_status{integration=\"plain\",type=\"SPLUNK\","
                       "status=\"Not Connected\"} 0\n"));
    CHECK(
        contains(&b, "siemrelay_integration_inhibited{integration=\"plain\",type=\"SPLUNK\"} 1\n"));
    CHECK(contains(&b, "siemrelay_integration_last_latency_seconds{integration=\"plain\","
                       "type=\"SPLUNK\"} 0.012500\n"));
    CHECK(contains(&b, "# TYPE siemrelay_pipeline_events_accepted_total counter\n"
                       "siemrelay_pipeline_events_accepted_total 42\n"));
    CHECK(contains(&b, "siemrelay_pipeline_pending_batches 1\n"));
    CHECK(contains(&b, "siemrelay_input_bytes_received_total{input=\"tcp\"} 999\n"));
    CHECK(contains(&b, "# TYPE siemrelay_input_connections_open gauge\n"
                       "siemrelay_input_connections_open{input=\"tcp\"} 1\n"));
    CHECK(contains(&b, "siemrelay_deadletter_records_total 6\n"));
    CHECK(contains(&b, "siemrelay_ready 1\n"));
    CHECK(contains(&b, "siemrelay_build_info{version=\"1.2.3\"} 1\n"));
    CHECK(contains(&b, "process_start_time_seconds 1795723200.500\n"));
    CHECK(contains(&b, "process_resident_memory_bytes 4096\n"));
    CHECK(contains(&b, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 0.25"));
    /* A label value must never end a line early. */
    CHECK(!contains(&b, "c\nd"));

    /* Without integrations or inputs, their families are left out. */
    sr_buf_reset(&b);
    v.nintegrations = 0;
    v.have_tcp = 0;
    v.have_pipeline = 0;
    v.have_deadletter = 0;
    v.ready = 0;
    CHECK_INT(sr_admin_metrics(&b, &v), 0);
    CHECK(exposition_ok(b.data));
    CHECK(!contains(&b, "siemrelay_integration_"));
    CHECK(!contains(&b, "siemrelay_input_"));
    CHECK(!contains(&b, "siemrelay_pipeline_"));
    CHECK(contains(&b, "siemrelay_ready 0\n"));

    /* The process's own figures are real. */
    sr_admin_process pr;
    sr_admin_process_read(1000, &pr);
    CHECK(pr.start_time_s == 1.0);
    CHECK(pr.resident_bytes > 0);
    CHECK(pr.cpu_seconds >= 0);
    sr_buf_free(&b);
}

/* ---- the status table ---------------------------------------------------- */

static void test_table(void) {
    const char *json =
        "[{\"name\":\"siem\",\"type\":\"WEBHOOK\",\"status\":\"Connected\","
        "\"since\":\"2026-11-26T20:00:00.123Z\",\"queue\":{\"events\":0},"
        "\"counters\":{\"delivered\":12,\"retried\":0,\"dead_lettered\":0},\"last_error\":null},"
        "{\"name\":\"spl\\u00e9\",\"type\":\"SPLUNK\",\"status\":\"Not Connected\",\"since\":null,"
        "\"queue\":{\"events\":3},\"counters\":{\"delivered\":0,\"retried\":2,"
        "\"dead_lettered\":1},\"last_error\":\"HTTP 503:\\nbusy\"}]";
    sr_buf b = SR_BUF_INIT;
    char err[256] = "";
    CHECK_INT(sr_status_table(json, strlen(json), &b, err, sizeof err), 0);
    CHECK_STR(b.data, "NAME  TYPE     STATUS         SINCE                 QUEUED  DELIVERED  "
                      "RETRIED  DEAD-LETTERED  LAST ERROR\n"
                      "siem  WEBHOOK  Connected      2026-11-26T20:00:00Z  0       12         "
                      "0        0              -\n"
                      "spl\xC3\xA9  SPLUNK   Not Connected  -                     3       0   "
                      "       2        1              HTTP 503: busy\n");
    sr_buf_reset(&b);
    CHECK_INT(sr_status_table("[]", 2, &b, err, sizeof err), 0);
    CHECK(contains(&b, "NAME") && strchr(b.data, '\n') == b.data + b.len - 1);
    sr_buf_reset(&b);
    CHECK_INT(sr_status_table("{\"a\":1}", 7, &b, err, sizeof err), -1);
    CHECK(strstr(err, "not a JSON array") != NULL);
    CHECK_INT(sr_status_table("[1,", 3, &b, err, sizeof err), -1);
    CHECK(strstr(err, "not JSON") != NULL);
    CHECK_INT(sr_status_table("[1]", 3, &b, err, sizeof err), -1);
    sr_buf_free(&b);
}

/* ---- the listener -------------------------------------------------------- */

typedef struct live {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t stop;
    sr_admin *admin;
    atomic_int ready;
    int closed;
} live;

static const char *live_not_ready(void *ud) {
    return atomic_load(&((live *)ud)->ready) ? NULL : "reloading";
}

static void on_admin_closed(void *ud) { ((live *)ud)->closed = 1; }

static void on_stop(uv_async_t *a) {
    live *lv = a->data;
    sr_admin_close(lv->admin, on_admin_closed, lv);
    uv_close((uv_handle_t *)a, NULL);
}

static void live_main(void *arg) { uv_run(&((live *)arg)->loop, UV_RUN_DEFAULT); }

/* One request on a fresh connection; returns the status, the whole answer
 * in `out`. */
static int request(int port, const char *req, sr_buf *out) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    char chunk[4096];
    ssize_t k;
    sr_buf_reset(out);
    while ((k = read(fd, chunk, sizeof chunk)) > 0)
        sr_buf_append(out, chunk, (size_t)k);
    close(fd);
    int status = -1;
    if (out->data)
        sscanf(out->data, "HTTP/1.1 %d", &status);
    return status;
}

static void test_listener(void) {
    live lv;
    memset(&lv, 0, sizeof lv);
    atomic_store(&lv.ready, 1);
    uv_loop_init(&lv.loop);
    uv_async_init(&lv.loop, &lv.stop, on_stop);
    lv.stop.data = &lv;
    sr_admin_sources src = {.start_time_ms = 1000, .not_ready = live_not_ready, .ud = &lv};
    char err[256] = "";
    lv.admin = sr_admin_new(&lv.loop, "127.0.0.1", 0, NULL, &src, err, sizeof err);
    CHECK(lv.admin != NULL);
    if (!lv.admin)
        return;
    int port = sr_admin_port(lv.admin);
    CHECK(port > 0);

    /* A second listener on the same port fails with a clear message. */
    char err2[256] = "";
    sr_admin *dup = sr_admin_new(&lv.loop, "127.0.0.1", port, NULL, &src, err2, sizeof err2);
    CHECK(dup == NULL);
    CHECK(strstr(err2, "admin API: cannot listen on 127.0.0.1:") != NULL);

    uv_thread_create(&lv.thread, live_main, &lv);
    sr_buf b = SR_BUF_INIT;
    const char *close_hdr = " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    char req[512];
#define REQ(method, path) (snprintf(req, sizeof req, "%s %s%s", method, path, close_hdr), req)

    CHECK_INT(request(port, REQ("GET", "/healthz"), &b), 200);
    CHECK(contains(&b, "\r\n\r\n{\"status\":\"ok\"}"));
    CHECK(contains(&b, "Content-Type: application/json"));
    CHECK_INT(request(port, REQ("GET", "/readyz"), &b), 200);
    atomic_store(&lv.ready, 0);
    CHECK_INT(request(port, REQ("GET", "/readyz"), &b), 503);
    CHECK(contains(&b, "{\"status\":\"not ready\",\"reason\":\"reloading\"}"));
    CHECK_INT(request(port, REQ("GET", "/metrics"), &b), 200);
    CHECK(contains(&b, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
    CHECK(contains(&b, "siemrelay_ready 0\n"));
    CHECK(contains(&b, "process_start_time_seconds 1.000\n"));
    atomic_store(&lv.ready, 1);
    CHECK_INT(request(port, REQ("GET", "/api/integrations?x=1"), &b), 200);
    CHECK(contains(&b, "\r\n\r\n[]"));
    CHECK_INT(request(port, REQ("GET", "/api/integrations/no%20such"), &b), 404);
    CHECK(contains(&b, "{\"error\":\"no integration named 'no such'\"}"));
    CHECK_INT(request(port, REQ("GET", "/api/integrations/bad%zz"), &b), 400);
    CHECK_INT(request(port, REQ("GET", "/api/integrations/"), &b), 404);
    CHECK_INT(request(port, REQ("GET", "/api/integrations/a/b"), &b), 404);
    CHECK_INT(request(port, REQ("GET", "/nope"), &b), 404);
    CHECK_INT(request(port, REQ("POST", "/metrics"), &b), 405);
    CHECK(contains(&b, "Allow: GET, HEAD\r\n"));
    /* No tokens configured: changes are refused, and say how to allow them. */
    CHECK_INT(request(port, REQ("DELETE", "/api/integrations/x"), &b), 403);
    CHECK(contains(&b, "admin.tokens"));
    CHECK_INT(request(port, REQ("PATCH", "/api/integrations/x"), &b), 405);
    CHECK(contains(&b, "Allow: GET, HEAD, PUT, DELETE\r\n"));
    CHECK_INT(request(port, REQ("HEAD", "/healthz"), &b), 200);
    CHECK(b.data && b.len >= 4 && memcmp(b.data + b.len - 4, "\r\n\r\n", 4) == 0);

    uv_async_send(&lv.stop);
    uv_thread_join(&lv.thread);
    CHECK(lv.closed);
    /* Nothing listens any more. */
    CHECK_INT(request(port, REQ("GET", "/healthz"), &b), -1);
    uv_run(&lv.loop, UV_RUN_DEFAULT); /* the failed duplicate's handles */
    CHECK_INT(uv_loop_close(&lv.loop), 0);
    sr_buf_free(&b);
#undef REQ
}

int main(void) {
    sr_log_configure(SR_LOG_WARN, SR_LOG_TEXT);
    test_utf8();
    test_time();
    test_percent_decode();
    test_integration_json();
    test_integrations_json();
    test_docs();
    test_metrics();
    test_table();
    test_listener();
    return CHECK_DONE();
}
