/* test_inputs.c - the HTTP and TCP inputs against a fake pipeline, plus gzip.
 *
 * The uv loop runs in a thread; clients (libcurl for HTTP/HTTPS, raw sockets
 * and a small OpenSSL client for TCP) run blocking in the main thread. The
 * fake sr_ingest records every submit and answers on the loop thread: at
 * once, with 503, or only when the test releases it. Certificates are made
 * with the openssl CLI into a temporary directory (test_certs.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include "buf.h"
#include "check.h"
#include "loop_thread.h"
#include "test_certs.h"
#include "gzip.h"
#include "input_http.h"
#include "input_tcp.h"
#include "log.h"

/* ---- the fake pipeline -------------------------------------------------- */

#define MAX_SUBS 1024

typedef struct submission {
    char *data;
    size_t len;
    sr_body_format fmt;
    uint32_t first_line;
    char origin[64];
} submission;

typedef struct reply {
    uv_timer_t timer;
    sr_ingest_cb cb;
    void *ud;
    int status;
    uint32_t accepted;
    char *back; /* with 503: the body handed back, as the pipeline does */
    size_t back_len;
} reply;

typedef struct fake_ingest {
    uv_loop_t *loop;
    uv_mutex_t mu; /* guards everything below: the test thread reads it */
    submission subs[MAX_SUBS];
    int nsubs;
    int hold;          /* keep answers until released */
    int answer_503;    /* answer the next N submits with 503 */
    int inline_answer; /* answer inside submit(), as the pipeline does on OOM */
    reply *held[MAX_SUBS];
    int nheld;
} fake_ingest;

static uint32_t count_lines(const char *p, size_t len) {
    uint32_t n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || p[i] == '\n') {
            if (i > start)
                n++;
            start = i + 1;
        }
    }
    return n;
}

static void on_reply_closed(uv_handle_t *h) { free(h->data); }

static void send_reply(reply *r) {
    char body[160];
    sr_ingest_reply rep = {.status = r->status, .retry_after_s = -1};
    if (r->status == 503) {
        snprintf(body, sizeof body, "{\"error\":\"busy\"}");
        rep.retry_after_s = 1;
        rep.data = r->back;
        rep.data_len = r->back_len;
    } else {
        snprintf(body, sizeof body,
                 "{\"accepted\":%u,\"rejected\":0,\"dropped\":0,\"failed\":0,\"errors\":[]}",
                 r->accepted);
        rep.accepted = r->accepted;
    }
    rep.body = body;
    rep.body_len = strlen(body);
    r->cb(r->ud, &rep);
    uv_close((uv_handle_t *)&r->timer, on_reply_closed);
}

static void on_reply_timer(uv_timer_t *t) { send_reply(t->data); }

static int fake_submit(void *ctx, char *data, size_t len, sr_body_format fmt, uint32_t first_line,
                       const char *origin, sr_ingest_cb cb, void *ud) {
    fake_ingest *f = ctx;
    reply *r = calloc(1, sizeof *r);
    r->cb = cb;
    r->ud = ud;
    r->status = 200;
    r->accepted = fmt == SR_BODY_NDJSON ? count_lines(data, len) : 1;
    uv_timer_init(f->loop, &r->timer);
    r->timer.data = r;

    uv_mutex_lock(&f->mu);
    CHECK(f->nsubs < MAX_SUBS); /* raise MAX_SUBS rather than lose a submission */
    if (f->nsubs < MAX_SUBS) {
        submission *s = &f->subs[f->nsubs++];
        s->data = data; /* ownership: kept until the end of the test */
        s->len = len;
        s->fmt = fmt;
        s->first_line = first_line;
        snprintf(s->origin, sizeof s->origin, "%s", origin);
    } else {
        free(data);
    }
    if (f->answer_503 > 0 && f->nsubs > 0) {
        f->answer_503--;
        r->status = 503;
        if ((r->back = malloc(len)) != NULL) {
            memcpy(r->back, f->subs[f->nsubs - 1].data, len); /* stored just above */
            r->back_len = len;
        }
    }
    int hold = f->hold && f->nheld < MAX_SUBS, now = f->inline_answer;
    if (hold)
        f->held[f->nheld++] = r;
    uv_mutex_unlock(&f->mu);
    if (now && !hold)
        send_reply(r);
    else if (!hold)
        uv_timer_start(&r->timer, on_reply_timer, 0, 0); /* "later, on the loop thread" */
    return 0;
}

static void release_one(void *arg) {
    fake_ingest *f = arg;
    uv_mutex_lock(&f->mu);
    reply *r = f->nheld ? f->held[0] : NULL;
    if (r)
        memmove(f->held, f->held + 1, (size_t)--f->nheld * sizeof *f->held);
    uv_mutex_unlock(&f->mu);
    if (r)
        send_reply(r);
}

static void release_all(void *arg) {
    fake_ingest *f = arg;
    uv_mutex_lock(&f->mu);
    f->hold = 0;
    int n = f->nheld;
    uv_mutex_unlock(&f->mu);
    while (n-- > 0)
        release_one(f);
}

static int nsubs(fake_ingest *f) {
    uv_mutex_lock(&f->mu);
    int n = f->nsubs;
    uv_mutex_unlock(&f->mu);
    return n;
}

static int wait_subs(fake_ingest *f, int n, int ms) {
    for (int waited = 0; nsubs(f) < n && waited < ms; waited += 10)
        usleep(10 * 1000);
    return nsubs(f);
}

static void fake_reset(fake_ingest *f) {
    uv_mutex_lock(&f->mu);
    for (int i = 0; i < f->nsubs; i++)
        free(f->subs[i].data);
    f->nsubs = 0;
    uv_mutex_unlock(&f->mu);
}

/* Concatenates the data of submissions [from, nsubs). */
static void subs_text(fake_ingest *f, int from, sr_buf *out) {
    uv_mutex_lock(&f->mu);
    for (int i = from; i < f->nsubs; i++)
        sr_buf_append(out, f->subs[i].data, f->subs[i].len);
    uv_mutex_unlock(&f->mu);
}

/* Bytes submitted so far. */
static size_t subs_bytes(fake_ingest *f) {
    uv_mutex_lock(&f->mu);
    size_t n = 0;
    for (int i = 0; i < f->nsubs; i++)
        n += f->subs[i].len;
    uv_mutex_unlock(&f->mu);
    return n;
}

/* The number the stream gives the line holding `needle`, or 0. */
static uint32_t line_of(fake_ingest *f, const char *needle) {
    uint32_t line = 0;
    uv_mutex_lock(&f->mu);
    for (int i = 0; i < f->nsubs && !line; i++) {
        const char *hit = memmem(f->subs[i].data, f->subs[i].len, needle, strlen(needle));
        if (!hit)
            continue;
        line = f->subs[i].first_line;
        for (const char *p = f->subs[i].data; p < hit; p++)
            line += *p == '\n';
    }
    uv_mutex_unlock(&f->mu);
    return line;
}

/* ---- fixture ------------------------------------------------------------ */

typedef struct fixture {
    loop_thread lt;
    fake_ingest fake;
    test_certs certs;
    sr_input_http *http, *https, *mtls;
    sr_input_tcp *tcp, *tcps;
    int http_port, https_port, mtls_port, tcp_port, tcps_port;
    sr_input_tcp_stats tcp_stats;
} fixture;

static sr_input_conf base_conf(void) {
    sr_input_conf c = {
        .enabled = 1,
        .host = "127.0.0.1",
        .port = 0,
        .max_body_bytes = 64 * 1024,
        .max_line_bytes = 64,
        .token = "s3cret-token",
        .idle_timeout_ms = 5000,
    };
    return c;
}

static void start_inputs(void *arg) {
    fixture *fx = arg;
    char err[512];
    sr_ingest ingest = {.submit = fake_submit, .ctx = &fx->fake};
    sr_input_conf c = base_conf();

    fx->http = sr_input_http_start(&fx->lt.loop, &c, &ingest, err, sizeof err);
    CHECK(fx->http != NULL);
    fx->http_port = fx->http ? sr_input_http_port(fx->http) : -1;

    c.tls.cert_file = fx->certs.path[SRV_CRT];
    c.tls.key_file = fx->certs.path[SRV_KEY];
    c.token = NULL;
    fx->https = sr_input_http_start(&fx->lt.loop, &c, &ingest, err, sizeof err);
    CHECK(fx->https != NULL);
    if (!fx->https)
        fprintf(stderr, "https: %s\n", err);
    fx->https_port = fx->https ? sr_input_http_port(fx->https) : -1;

    c.tls.client_ca_file = fx->certs.path[CA_CRT];
    c.tls.require_client_cert = 1;
    fx->mtls = sr_input_http_start(&fx->lt.loop, &c, &ingest, err, sizeof err);
    CHECK(fx->mtls != NULL);
    fx->mtls_port = fx->mtls ? sr_input_http_port(fx->mtls) : -1;

    sr_input_conf t = base_conf();
    fx->tcp = sr_input_tcp_start(&fx->lt.loop, &t, &ingest, err, sizeof err);
    CHECK(fx->tcp != NULL);
    fx->tcp_port = fx->tcp ? sr_input_tcp_port(fx->tcp) : -1;

    t.tls.cert_file = fx->certs.path[SRV_CRT];
    t.tls.key_file = fx->certs.path[SRV_KEY];
    fx->tcps = sr_input_tcp_start(&fx->lt.loop, &t, &ingest, err, sizeof err);
    CHECK(fx->tcps != NULL);
    fx->tcps_port = fx->tcps ? sr_input_tcp_port(fx->tcps) : -1;

    /* Configuration errors come back as messages. */
    t.tls.cert_file = "/nonexistent.crt";
    CHECK(sr_input_tcp_start(&fx->lt.loop, &t, &ingest, err, sizeof err) == NULL);
    CHECK(strstr(err, "cannot load certificate /nonexistent.crt") != NULL);
    t.tls.cert_file = fx->certs.path[SRV_CRT];
    t.tls.require_client_cert = 1;
    CHECK(sr_input_tcp_start(&fx->lt.loop, &t, &ingest, err, sizeof err) == NULL);
    CHECK(strstr(err, "require_client_cert needs client_ca_file") != NULL);
}

static void stop_inputs(void *arg) {
    fixture *fx = arg;
    sr_input_http_stop(fx->http, NULL, NULL);
    sr_input_http_close(fx->https);
    sr_input_http_close(fx->mtls);
    sr_input_tcp_stop(fx->tcp, NULL, NULL);
    sr_input_tcp_close(fx->tcps);
}

static void read_tcp_stats(void *arg) {
    fixture *fx = arg;
    fx->tcp_stats = *sr_input_tcp_get_stats(fx->tcp);
}

/* ---- HTTP client (libcurl) ---------------------------------------------- */

typedef struct http_call {
    const char *method; /* NULL: POST when there is a body, else GET */
    const char *url;
    const char *headers[4];
    const char *body;
    size_t body_len;
    const char *cert, *key, *ca; /* TLS */
    sr_buf resp_head, resp_body;
    CURLcode rc;
} http_call;

static size_t collect(char *p, size_t size, size_t n, void *ud) {
    sr_buf_append(ud, p, size * n);
    return size * n;
}

static long http_do(http_call *c) {
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    long status = -1;
    for (int i = 0; i < 4 && c->headers[i]; i++)
        hdrs = curl_slist_append(hdrs, c->headers[i]);
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &c->resp_head);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->resp_body);
    if (c->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)c->body_len);
    }
    if (c->method)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    if (c->ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
    if (c->cert) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
    }
    c->rc = curl_easy_perform(h);
    if (c->rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return status;
}

static void http_call_free(http_call *c) {
    sr_buf_free(&c->resp_head);
    sr_buf_free(&c->resp_body);
}

static int gzip_bytes(const void *in, size_t len, sr_buf *out) {
    z_stream zs = {0};
    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    sr_buf_reserve(out, deflateBound(&zs, len));
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (unsigned)len;
    zs.next_out = (unsigned char *)out->data;
    zs.avail_out = (unsigned)out->cap - 1;
    int rc = deflate(&zs, Z_FINISH);
    out->len = zs.total_out;
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? 0 : -1;
}

/* ---- HTTP input tests --------------------------------------------------- */

#define AUTH "Authorization: Bearer s3cret-token"

static void url(char *buf, size_t len, const char *scheme, int port, const char *path) {
    snprintf(buf, len, "%s://127.0.0.1:%d%s", scheme, port, path);
}

static void test_http_post_ok(fixture *fx) {
    char u[128];
    const char *body = "{\"a\":1}";
    url(u, sizeof u, "http", fx->http_port, "/v1/events");
    fake_reset(&fx->fake);
    http_call c = {.url = u, .headers = {AUTH}, .body = body, .body_len = strlen(body)};
    CHECK_INT(http_do(&c), 200);
    CHECK_STR(c.resp_body.data,
              "{\"accepted\":1,\"rejected\":0,\"dropped\":0,\"failed\":0,\"errors\":[]}");
    CHECK(strcasestr(c.resp_head.data, "Content-Type: application/json") != NULL);
    CHECK_INT(nsubs(&fx->fake), 1);
    CHECK_MEM(fx->fake.subs[0].data, fx->fake.subs[0].len, body);
    CHECK_INT(fx->fake.subs[0].fmt, SR_BODY_AUTO);
    CHECK_INT(fx->fake.subs[0].first_line, 1);
    CHECK_STR(fx->fake.subs[0].origin, "http:127.0.0.1");
    http_call_free(&c);
}

static void test_http_auth(fixture *fx) {
    char u[128];
    url(u, sizeof u, "http", fx->http_port, "/v1/events");
    fake_reset(&fx->fake);
    http_call c = {.url = u, .body = "{}", .body_len = 2};
    CHECK_INT(http_do(&c), 401);
    CHECK(strcasestr(c.resp_head.data, "WWW-Authenticate: Bearer") != NULL);
    CHECK_STR(c.resp_body.data, "{\"error\":\"missing or invalid bearer token\"}");
    http_call_free(&c);

    const char *wrong[] = {"Authorization: Bearer s3cret-tokeX", "Authorization: Bearer s3cret",
                           "Authorization: Basic czNjcmV0LXRva2Vu", "Authorization: Bearer "};
    for (int i = 0; i < 4; i++) {
        http_call w = {.url = u, .headers = {wrong[i]}, .body = "{}", .body_len = 2};
        CHECK_INT(http_do(&w), 401);
        http_call_free(&w);
    }
    CHECK_INT(nsubs(&fx->fake), 0);
}

static void test_http_routes(fixture *fx) {
    char u[128];
    url(u, sizeof u, "http", fx->http_port, "/nope");
    http_call a = {.url = u};
    CHECK_INT(http_do(&a), 404);
    CHECK_STR(a.resp_body.data, "{\"error\":\"not found\"}");
    http_call_free(&a);

    url(u, sizeof u, "http", fx->http_port, "/v1/events");
    http_call b = {.url = u, .headers = {AUTH}};
    CHECK_INT(http_do(&b), 405);
    CHECK(strcasestr(b.resp_head.data, "Allow: POST") != NULL);
    http_call_free(&b);

    url(u, sizeof u, "http", fx->http_port, "/healthz");
    http_call h = {.url = u};
    CHECK_INT(http_do(&h), 200);
    CHECK_STR(h.resp_body.data, "{\"status\":\"ok\"}");
    http_call_free(&h);
}

static void test_http_bodies(fixture *fx) {
    char u[128];
    url(u, sizeof u, "http", fx->http_port, "/v1/events");
    fake_reset(&fx->fake);

    /* gzip is inflated before the pipeline sees it */
    const char *ndjson = "{\"a\":1}\n{\"b\":2}\n";
    sr_buf gz = SR_BUF_INIT;
    CHECK_INT(gzip_bytes(ndjson, strlen(ndjson), &gz), 0);
    http_call g = {
        .url = u, .headers = {AUTH, "Content-Encoding: gzip"}, .body = gz.data, .body_len = gz.len};
    CHECK_INT(http_do(&g), 200);
    CHECK_INT(nsubs(&fx->fake), 1);
    CHECK_MEM(fx->fake.subs[0].data, fx->fake.subs[0].len, ndjson);
    http_call_free(&g);

    /* corrupt gzip: 400 */
    gz.data[gz.len / 2] ^= 0x55;
    gz.data[gz.len - 5] ^= 0x55; /* and the CRC, in case the flip is benign */
    http_call bad = {
        .url = u, .headers = {AUTH, "Content-Encoding: gzip"}, .body = gz.data, .body_len = gz.len};
    CHECK_INT(http_do(&bad), 400);
    CHECK(strstr(bad.resp_body.data, "invalid gzip data") != NULL);
    http_call_free(&bad);
    sr_buf_free(&gz);

    /* a bomb: small on the wire, over max_body (64 KiB) inflated: 413 */
    char *zeros = calloc(1, 200 * 1024);
    CHECK_INT(gzip_bytes(zeros, 200 * 1024, &gz), 0);
    free(zeros);
    http_call bomb = {
        .url = u, .headers = {AUTH, "Content-Encoding: gzip"}, .body = gz.data, .body_len = gz.len};
    CHECK_INT(http_do(&bomb), 413);
    http_call_free(&bomb);
    sr_buf_free(&gz);

    http_call br = {
        .url = u, .headers = {AUTH, "Content-Encoding: br"}, .body = "x", .body_len = 1};
    CHECK_INT(http_do(&br), 415);
    http_call_free(&br);

    http_call empty = {.url = u, .headers = {AUTH}, .body = "", .body_len = 0};
    CHECK_INT(http_do(&empty), 400);
    CHECK_STR(empty.resp_body.data, "{\"error\":\"empty body\"}");
    http_call_free(&empty);

    /* over max_body by Content-Length */
    char *big = malloc(70 * 1024);
    memset(big, 'x', 70 * 1024);
    http_call large = {.url = u, .headers = {AUTH}, .body = big, .body_len = 70 * 1024};
    CHECK_INT(http_do(&large), 413);
    http_call_free(&large);
    free(big);
    CHECK_INT(nsubs(&fx->fake), 1); /* only the good gzip one reached the pipeline */
}

static void test_http_busy(fixture *fx) {
    char u[128];
    url(u, sizeof u, "http", fx->http_port, "/v1/events");
    uv_mutex_lock(&fx->fake.mu);
    fx->fake.answer_503 = 1;
    uv_mutex_unlock(&fx->fake.mu);
    http_call c = {.url = u, .headers = {AUTH}, .body = "{}", .body_len = 2};
    CHECK_INT(http_do(&c), 503);
    CHECK(strcasestr(c.resp_head.data, "Retry-After: 1\r\n") != NULL);
    http_call_free(&c);
}

static void test_https(fixture *fx) {
    char u[128];
    url(u, sizeof u, "https", fx->https_port, "/v1/events");
    http_call c = {.url = u, .body = "{}", .body_len = 2, .ca = fx->certs.path[CA_CRT]};
    CHECK_INT(http_do(&c), 200);
    CHECK(strstr(c.resp_body.data, "\"accepted\":1") != NULL);
    http_call_free(&c);

    /* plain HTTP on the TLS port fails the handshake and is closed */
    url(u, sizeof u, "http", fx->https_port, "/healthz");
    http_call p = {.url = u};
    CHECK(http_do(&p) < 0);
    http_call_free(&p);

    url(u, sizeof u, "https", fx->mtls_port, "/v1/events");
    http_call anon = {.url = u, .body = "{}", .body_len = 2, .ca = fx->certs.path[CA_CRT]};
    CHECK(http_do(&anon) < 0); /* no client certificate */
    CHECK(anon.rc != CURLE_OK);
    http_call_free(&anon);

    http_call mutual = {.url = u,
                        .body = "{}",
                        .body_len = 2,
                        .ca = fx->certs.path[CA_CRT],
                        .cert = fx->certs.path[CLI_CRT],
                        .key = fx->certs.path[CLI_KEY]};
    CHECK_INT(http_do(&mutual), 200);
    http_call_free(&mutual);
}

/* ---- TCP client --------------------------------------------------------- */

static int tcp_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void tcp_send_n(int fd, const char *s, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

static void tcp_send(int fd, const char *s) { tcp_send_n(fd, s, strlen(s)); }

/* Sends `n` (at most 256) bytes `ch` in two writes 30 ms apart, so the input
 * most likely reads them in two pieces. */
static void tcp_send_split(int fd, char ch, size_t n) {
    char run[256];
    memset(run, ch, n);
    tcp_send_n(fd, run, n / 2);
    usleep(30 * 1000);
    tcp_send_n(fd, run + n / 2, n - n / 2);
}

/* 1 when the input closed the connection (EOF or reset). */
static int closed_by_peer(int fd) {
    char ch;
    ssize_t n = recv(fd, &ch, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Every submission's first_line must continue where the previous ended. */
static int line_numbers_consistent(fake_ingest *f, int from) {
    uv_mutex_lock(&f->mu);
    uint32_t expect = f->subs[from].first_line;
    int ok = 1;
    for (int i = from; i < f->nsubs; i++) {
        ok &= f->subs[i].first_line == expect;
        for (size_t j = 0; j < f->subs[i].len; j++)
            expect += f->subs[i].data[j] == '\n';
    }
    uv_mutex_unlock(&f->mu);
    return ok;
}

static void test_tcp_reassembly(fixture *fx) {
    fake_reset(&fx->fake);
    int fd = tcp_connect(fx->tcp_port);
    tcp_send(fd, "{\"a\":1}\n{\"b\"");
    CHECK_INT(wait_subs(&fx->fake, 1, 2000), 1);
    tcp_send(fd, ":2}\n\n{\"c\":3}\n{\"d\"");
    CHECK_INT(wait_subs(&fx->fake, 2, 2000), 2);
    tcp_send(fd, ":4}"); /* no newline: submitted at EOF */
    usleep(50 * 1000);
    shutdown(fd, SHUT_WR);
    CHECK_INT(wait_subs(&fx->fake, 3, 2000), 3);
    close(fd);

    CHECK_MEM(fx->fake.subs[0].data, fx->fake.subs[0].len, "{\"a\":1}\n");
    CHECK_INT(fx->fake.subs[0].first_line, 1);
    CHECK_INT(fx->fake.subs[0].fmt, SR_BODY_NDJSON);
    CHECK_MEM(fx->fake.subs[1].data, fx->fake.subs[1].len, "{\"b\":2}\n\n{\"c\":3}\n");
    CHECK_INT(fx->fake.subs[1].first_line, 2);
    CHECK_MEM(fx->fake.subs[2].data, fx->fake.subs[2].len, "{\"d\":4}");
    CHECK_INT(fx->fake.subs[2].first_line, 5);
    CHECK(strncmp(fx->fake.subs[0].origin, "tcp:127.0.0.1:", 14) == 0);
}

static void test_tcp_oversize(fixture *fx) {
    char line[200];
    fake_reset(&fx->fake);
    int fd = tcp_connect(fx->tcp_port);
    /* max_line_bytes is 64: line 2 goes, in two reads, and so does line 4 */
    tcp_send(fd, "{\"n\":1}\n");
    tcp_send_split(fd, 'x', 100);
    tcp_send(fd, "\n{\"n\":3}\n");
    memset(line, 'y', 150);
    line[150] = '\n';
    line[151] = '\0';
    tcp_send(fd, line);
    tcp_send(fd, "{\"n\":5}\n");
    usleep(100 * 1000);
    tcp_send(fd, "{\"n\":6}\n"); /* the connection is still open */
    shutdown(fd, SHUT_WR);
    usleep(200 * 1000);
    close(fd);

    sr_buf all = SR_BUF_INIT;
    subs_text(&fx->fake, 0, &all);
    CHECK_MEM(all.data, all.len, "{\"n\":1}\n\n{\"n\":3}\n\n{\"n\":5}\n{\"n\":6}\n");
    CHECK_INT(fx->fake.subs[0].first_line, 1);
    CHECK(line_numbers_consistent(&fx->fake, 0));
    sr_buf_free(&all);
    lt_call(&fx->lt, read_tcp_stats, fx);
    CHECK_INT(fx->tcp_stats.totals.oversize_lines, 2);
}

static uint64_t tcp_bytes(fixture *fx) {
    lt_call(&fx->lt, read_tcp_stats, fx);
    return fx->tcp_stats.totals.bytes;
}

static uint64_t tcp_oversize(fixture *fx) {
    lt_call(&fx->lt, read_tcp_stats, fx);
    return fx->tcp_stats.totals.oversize_lines;
}

static void set_hold(fixture *fx, int on) {
    uv_mutex_lock(&fx->fake.mu);
    fx->fake.hold = on;
    uv_mutex_unlock(&fx->fake.mu);
}

/* While a submit is in flight, lines gather into the next chunk, which goes
 * when the reply comes, or at EOF; framing and numbering are unchanged. */
static void test_tcp_coalesce(fixture *fx) {
    fake_reset(&fx->fake);
    set_hold(fx, 1);
    uint64_t oversize0 = tcp_oversize(fx);
    int fd = tcp_connect(fx->tcp_port);
    tcp_send(fd, "{\"n\":1}\n");
    CHECK_INT(wait_subs(&fx->fake, 1, 2000), 1); /* nothing in flight: at once */
    tcp_send(fd, "{\"n\":2}\n{\"n\"");
    usleep(30 * 1000);
    tcp_send(fd, ":3}\n");
    usleep(300 * 1000);
    CHECK_INT(nsubs(&fx->fake), 1); /* one in flight: gathering */
    lt_call(&fx->lt, release_one, &fx->fake);
    CHECK_INT(wait_subs(&fx->fake, 2, 2000), 2); /* the reply sends what gathered */
    if (nsubs(&fx->fake) >= 2) {
        CHECK_MEM(fx->fake.subs[1].data, fx->fake.subs[1].len, "{\"n\":2}\n{\"n\":3}\n");
        CHECK_INT(fx->fake.subs[1].first_line, 2);
    }

    /* An oversize line (max_line is 64) in the middle of a gathering chunk,
     * cut across reads, and a last line without newline at EOF. */
    tcp_send(fd, "{\"n\":4}\n");
    tcp_send_split(fd, 'y', 200);
    tcp_send(fd, "\n{\"n\":6}\n");
    tcp_send_split(fd, 'y', 100);
    tcp_send(fd, "\n\n{\"n\":9}");
    usleep(200 * 1000);
    CHECK_INT(nsubs(&fx->fake), 2);
    shutdown(fd, SHUT_WR);
    CHECK_INT(wait_subs(&fx->fake, 3, 2000), 3); /* EOF sends it, one still in flight */
    if (nsubs(&fx->fake) >= 3) {
        CHECK_MEM(fx->fake.subs[2].data, fx->fake.subs[2].len,
                  "{\"n\":4}\n\n{\"n\":6}\n\n\n{\"n\":9}");
        CHECK_INT(fx->fake.subs[2].first_line, 4);
    }
    CHECK_INT(tcp_oversize(fx) - oversize0, 2);
    CHECK(closed_by_peer(fd));
    close(fd);
    lt_call(&fx->lt, release_all, &fx->fake);
    usleep(50 * 1000);
}

/* With both submits in flight, what gathers goes as soon as one reply
 * frees a slot (not only when it makes a whole chunk); at EOF with the
 * window full, the rest goes with the next reply. */
static void test_tcp_reply_sends_gathered(fixture *fx) {
    char line[64];
    sr_buf block = SR_BUF_INIT;
    int n = 2; /* lines 2..n-1: a chunk's worth, then line n */
    while (block.len < SR_INPUT_TCP_CHUNK_BYTES + 1000) {
        snprintf(line, sizeof line, "{\"n\":%d,\"pad\":\"%030d\"}\n", n, n);
        sr_buf_puts(&block, line);
        n++;
    }
    fake_reset(&fx->fake);
    set_hold(fx, 1);
    int fd = tcp_connect(fx->tcp_port);
    tcp_send(fd, "{\"n\":1}\n");
    CHECK_INT(wait_subs(&fx->fake, 1, 2000), 1);
    tcp_send_n(fd, block.data, block.len);
    CHECK_INT(wait_subs(&fx->fake, 2, 2000), 2); /* a full chunk goes with one in flight */
    usleep(100 * 1000);
    snprintf(line, sizeof line, "{\"n\":%d}\n", n);
    tcp_send(fd, line);
    usleep(200 * 1000);
    CHECK_INT(nsubs(&fx->fake), 2); /* window full: gathering */
    lt_call(&fx->lt, release_one, &fx->fake);
    CHECK_INT(wait_subs(&fx->fake, 3, 2000), 3); /* one reply, one still in flight */
    if (nsubs(&fx->fake) >= 3) {
        CHECK(fx->fake.subs[1].len >= SR_INPUT_TCP_CHUNK_BYTES);
        CHECK(fx->fake.subs[2].len < 1000 + sizeof line);
        CHECK_INT(line_of(&fx->fake, line), n);
    }
    tcp_send(fd, "{\"last\":1}");
    shutdown(fd, SHUT_WR);
    usleep(200 * 1000);
    CHECK_INT(nsubs(&fx->fake), 3); /* window full at EOF */
    lt_call(&fx->lt, release_one, &fx->fake);
    CHECK_INT(wait_subs(&fx->fake, 4, 2000), 4);
    if (nsubs(&fx->fake) >= 4) {
        CHECK_MEM(fx->fake.subs[3].data, fx->fake.subs[3].len, "{\"last\":1}");
        CHECK_INT(fx->fake.subs[3].first_line, n + 1);
    }
    CHECK(line_numbers_consistent(&fx->fake, 0));
    CHECK(closed_by_peer(fd));
    close(fd);
    lt_call(&fx->lt, release_all, &fx->fake);
    usleep(50 * 1000);
    sr_buf_free(&block);
}

typedef struct sender {
    uv_thread_t thread;
    int fd;
    const char *data;
    size_t len;
} sender;

static void sender_main(void *arg) {
    sender *s = arg;
    tcp_send_n(s->fd, s->data, s->len);
}

#define BIG_LINES    50000
#define BIG_OVERSIZE 31234 /* a line over max_line, in the middle */
#define BIG_MARKER   45678 /* the line a "malformed" event would be on */

/* About 2.5 MB of NDJSON with blank lines, one oversize line and a marker;
 * `expect` gets what the pipeline must see (the oversize line emptied). */
static void big_stream(sr_buf *sent, sr_buf *expect) {
    for (int i = 1; i <= BIG_LINES; i++) {
        char line[128];
        if (i == BIG_OVERSIZE) {
            memset(line, 'z', 100);
            line[100] = '\0';
        } else if (i == BIG_MARKER) {
            snprintf(line, sizeof line, "{\"marker\":%d}", i);
        } else if (i % 1000 == 500) {
            line[0] = '\0';
        } else {
            snprintf(line, sizeof line, "{\"n\":%d,\"pad\":\"%.*s\"}", i, 20 + i % 20,
                     "pppppppppppppppppppppppppppppppppppppppppppppppppp");
        }
        sr_buf_printf(sent, "%s\n", line);
        sr_buf_printf(expect, "%s\n", i == BIG_OVERSIZE ? "" : line);
    }
}

/* A fast stream while the pipeline holds its answers: the first read goes
 * at once, the next chunk gathers to SR_INPUT_TCP_CHUNK_BYTES and goes too,
 * then, with both in flight and a full chunk waiting, reading stops. Once
 * answers flow, everything arrives in order with the stream's numbering. */
static void test_tcp_backpressure(fixture *fx) {
    const uint64_t bound = (uint64_t)(SR_INPUT_TCP_MAX_INFLIGHT + 1) *
                           (SR_INPUT_TCP_CHUNK_BYTES + 64 * 1024 + 64 /* max_line */);
    sr_buf sent = SR_BUF_INIT, expect = SR_BUF_INIT;
    big_stream(&sent, &expect);
    CHECK(sent.len > 2 * bound);
    fake_reset(&fx->fake);
    set_hold(fx, 1);
    uint64_t bytes0 = tcp_bytes(fx), oversize0 = tcp_oversize(fx), read = 0;
    sender snd = {.fd = tcp_connect(fx->tcp_port), .data = sent.data, .len = sent.len};
    uv_thread_create(&snd.thread, sender_main, &snd);

    /* Wait until the input has stopped reading. */
    for (int stable = 0, waited = 0; stable < 3 && waited < 5000; waited += 100) {
        usleep(100 * 1000);
        uint64_t now = tcp_bytes(fx) - bytes0;
        stable = now == read && nsubs(&fx->fake) >= 2 ? stable + 1 : 0;
        read = now;
    }
    CHECK_INT(nsubs(&fx->fake), 2);
    CHECK(read >= SR_INPUT_TCP_CHUNK_BYTES); /* it read on while one was in flight */
    CHECK(read < bound);                     /* and stopped: the sender is blocked */
    if (nsubs(&fx->fake) >= 2) {
        CHECK_INT(fx->fake.subs[0].first_line, 1);
        CHECK(fx->fake.subs[1].len >= SR_INPUT_TCP_CHUNK_BYTES);
        CHECK(fx->fake.subs[1].len < SR_INPUT_TCP_CHUNK_BYTES + 64 * 1024 + 64);
    }

    lt_call(&fx->lt, release_all, &fx->fake);
    uv_thread_join(&snd.thread);
    shutdown(snd.fd, SHUT_WR);
    for (int waited = 0; subs_bytes(&fx->fake) < expect.len && waited < 10000; waited += 10)
        usleep(10 * 1000);
    CHECK(closed_by_peer(snd.fd));
    close(snd.fd);

    sr_buf all = SR_BUF_INIT;
    subs_text(&fx->fake, 0, &all);
    CHECK_INT(all.len, expect.len);
    CHECK(all.len == expect.len && memcmp(all.data, expect.data, all.len) == 0);
    CHECK(nsubs(&fx->fake) < MAX_SUBS);
    CHECK(line_numbers_consistent(&fx->fake, 0));
    CHECK_INT(line_of(&fx->fake, "{\"marker\":"), BIG_MARKER);
    CHECK_INT(tcp_oversize(fx) - oversize0, 1);
    sr_buf_free(&all);
    sr_buf_free(&sent);
    sr_buf_free(&expect);
}

typedef struct target_probe {
    fixture *fx;
    size_t target;
    uint64_t open;
} target_probe;

static void probe_target(void *arg) {
    target_probe *t = arg;
    t->target = sr_input_tcp_chunk_target(t->fx->tcp);
    t->open = sr_input_tcp_get_stats(t->fx->tcp)->connections_open;
}

/* Waits until `n` connections are open; returns the chunk target then. */
static size_t target_at(fixture *fx, uint64_t n) {
    target_probe t = {fx, 0, 0};
    for (int i = 0; i < 400; i++) {
        lt_call(&fx->lt, probe_target, &t);
        if (t.open == n)
            break;
        usleep(5 * 1000);
    }
    CHECK_INT(t.open, n);
    return t.target;
}

/* Many open connections share the gathering budget: what they can hold
 * together stays bounded, and no chunk target drops below one read. */
static void test_tcp_chunk_target(fixture *fx) {
    enum { MANY = 300 };
    static int fds[MANY];
    CHECK_INT(target_at(fx, 0), SR_INPUT_TCP_CHUNK_BYTES);
    for (int i = 0; i < MANY; i++)
        fds[i] = tcp_connect(fx->tcp_port);
    CHECK_INT(target_at(fx, MANY), SR_INPUT_TCP_CHUNK_MIN_BYTES);
    for (int i = 100; i < MANY; i++)
        close(fds[i]);
    CHECK_INT(target_at(fx, 100), SR_INPUT_TCP_GATHER_BUDGET / 100);
    for (int i = 1; i < 100; i++)
        close(fds[i]);
    CHECK_INT(target_at(fx, 1), SR_INPUT_TCP_CHUNK_BYTES);
    close(fds[0]);
    CHECK_INT(target_at(fx, 0), SR_INPUT_TCP_CHUNK_BYTES);
}

static int sub_is(fake_ingest *f, int i, uint32_t first_line, const char *text) {
    uv_mutex_lock(&f->mu);
    int ok = i < f->nsubs && f->subs[i].first_line == first_line &&
             f->subs[i].len == strlen(text) && memcmp(f->subs[i].data, text, f->subs[i].len) == 0;
    uv_mutex_unlock(&f->mu);
    return ok;
}

/* A refused chunk (503) comes back from the pipeline and is sent again
 * after the pause, before anything newer, as often as it is refused; the
 * connection stays open. At EOF a refused chunk still goes before the
 * connection closes. */
static void test_tcp_busy(fixture *fx) {
    fake_reset(&fx->fake);
    lt_call(&fx->lt, read_tcp_stats, fx);
    uint64_t refused0 = fx->tcp_stats.totals.refused_chunks;
    uv_mutex_lock(&fx->fake.mu);
    fx->fake.answer_503 = 2; /* the chunk, and its first resend */
    uv_mutex_unlock(&fx->fake.mu);
    int fd = tcp_connect(fx->tcp_port);
    tcp_send(fd, "{\"n\":1}\n");
    CHECK_INT(wait_subs(&fx->fake, 1, 2000), 1);
    usleep(100 * 1000);
    uint64_t t0 = uv_hrtime();
    tcp_send(fd, "{\"n\":2}\n");
    CHECK_INT(wait_subs(&fx->fake, 4, 5000), 4);
    uint64_t waited_ms = (uv_hrtime() - t0) / 1000000;
    CHECK(waited_ms >= 1500); /* two pauses of ~1 s, connection kept */
    CHECK(sub_is(&fx->fake, 0, 1, "{\"n\":1}\n"));
    CHECK(sub_is(&fx->fake, 1, 1, "{\"n\":1}\n")); /* sent again, refused again */
    CHECK(sub_is(&fx->fake, 2, 1, "{\"n\":1}\n")); /* taken */
    CHECK(sub_is(&fx->fake, 3, 2, "{\"n\":2}\n")); /* only then the newer line */
    close(fd);
    usleep(100 * 1000);
    lt_call(&fx->lt, read_tcp_stats, fx);
    CHECK_INT(fx->tcp_stats.totals.refused_chunks - refused0, 2);

    /* The sender closes while its chunk waits to be sent again. */
    fake_reset(&fx->fake);
    uv_mutex_lock(&fx->fake.mu);
    fx->fake.answer_503 = 1;
    uv_mutex_unlock(&fx->fake.mu);
    fd = tcp_connect(fx->tcp_port);
    tcp_send(fd, "{\"n\":3}\n{\"n\":4}");
    CHECK_INT(wait_subs(&fx->fake, 1, 2000), 1);
    close(fd);
    CHECK_INT(wait_subs(&fx->fake, 3, 4000), 3);
    CHECK(sub_is(&fx->fake, 0, 1, "{\"n\":3}\n"));
    CHECK(sub_is(&fx->fake, 1, 1, "{\"n\":3}\n"));
    CHECK(sub_is(&fx->fake, 2, 2, "{\"n\":4}")); /* the last line, without newline */
    usleep(100 * 1000);
    lt_call(&fx->lt, read_tcp_stats, fx);
    CHECK(fx->tcp_stats.connections_total >= 4);
    CHECK_INT(fx->tcp_stats.connections_open, 0);
}

static void set_inline(fixture *fx, int on) {
    uv_mutex_lock(&fx->fake.mu);
    fx->fake.inline_answer = on;
    uv_mutex_unlock(&fx->fake.mu);
}

/* The pipeline may answer inside submit(); neither input may trip on it. */
static void test_inline_answers(fixture *fx) {
    char u[128];
    fake_reset(&fx->fake);
    set_inline(fx, 1);
    url(u, sizeof u, "http", fx->http_port, "/v1/events");
    http_call c = {.url = u, .headers = {AUTH}, .body = "{}", .body_len = 2};
    CHECK_INT(http_do(&c), 200);
    http_call_free(&c);

    int fd = tcp_connect(fx->tcp_port);
    tcp_send(fd, "{\"i\":1}\n");
    CHECK_INT(wait_subs(&fx->fake, 2, 2000), 2);
    tcp_send(fd, "{\"i\":2}\n{\"i\":3}");
    shutdown(fd, SHUT_WR);
    CHECK(closed_by_peer(fd));
    close(fd);
    sr_buf all = SR_BUF_INIT;
    subs_text(&fx->fake, 1, &all);
    CHECK_MEM(all.data, all.len, "{\"i\":1}\n{\"i\":2}\n{\"i\":3}");
    sr_buf_free(&all);
    set_inline(fx, 0);
}

static void test_tcp_tls(fixture *fx) {
    fake_reset(&fx->fake);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, fx->certs.path[CA_CRT], NULL);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int fd = tcp_connect(fx->tcps_port);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set1_host(ssl, "localhost");
    CHECK_INT(SSL_connect(ssl), 1);
    const char *text = "{\"t\":1}\n{\"t\":2}\n";
    CHECK_INT(SSL_write(ssl, text, (int)strlen(text)), (int)strlen(text));
    CHECK_INT(wait_subs(&fx->fake, 1, 2000), 1);
    /* Then many records over many reads into the stream's one buffer. */
    sr_buf more = SR_BUF_INIT;
    for (int i = 3; more.len < 400 * 1024; i++)
        sr_buf_printf(&more, "{\"t\":%d,\"pad\":\"%040d\"}\n", i, i);
    CHECK_INT(SSL_write(ssl, more.data, (int)more.len), (int)more.len);
    SSL_shutdown(ssl);
    for (int waited = 0; subs_bytes(&fx->fake) < strlen(text) + more.len && waited < 5000;
         waited += 10)
        usleep(10 * 1000);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    sr_buf all = SR_BUF_INIT, want = SR_BUF_INIT;
    subs_text(&fx->fake, 0, &all);
    sr_buf_puts(&want, text);
    sr_buf_append(&want, more.data, more.len);
    CHECK_INT(all.len, want.len);
    CHECK(all.len == want.len && memcmp(all.data, want.data, all.len) == 0);
    CHECK(line_numbers_consistent(&fx->fake, 0));
    CHECK(strncmp(fx->fake.subs[0].origin, "tcp:127.0.0.1:", 14) == 0);
    sr_buf_free(&all);
    sr_buf_free(&want);
    sr_buf_free(&more);
}

/* ---- gzip --------------------------------------------------------------- */

static void test_gzip(void) {
    char err[128], *out;
    size_t len;
    sr_buf a = SR_BUF_INIT, b = SR_BUF_INIT;
    gzip_bytes("hello ", 6, &a);
    gzip_bytes("world", 5, &b);
    sr_buf_append(&a, b.data, b.len); /* two members */
    CHECK_INT(sr_gzip_inflate(a.data, a.len, 100, &out, &len, err, sizeof err), SR_GZIP_OK);
    CHECK_MEM(out, len, "hello world");
    CHECK_INT(out[len], '\0');
    free(out);
    CHECK_INT(sr_gzip_inflate(a.data, a.len, 11, &out, &len, err, sizeof err), SR_GZIP_OK);
    free(out);
    CHECK_INT(sr_gzip_inflate(a.data, a.len, 10, &out, &len, err, sizeof err), SR_GZIP_TOO_LARGE);
    CHECK(out == NULL);
    CHECK_STR(err, "inflated body exceeds 10 bytes");
    CHECK_INT(sr_gzip_inflate(a.data, a.len - 3, 100, &out, &len, err, sizeof err),
              SR_GZIP_CORRUPT);
    CHECK_STR(err, "invalid gzip data: truncated");
    sr_buf_puts(&a, "junk");
    CHECK_INT(sr_gzip_inflate(a.data, a.len, 100, &out, &len, err, sizeof err), SR_GZIP_CORRUPT);
    CHECK_INT(sr_gzip_inflate("plain text", 10, 100, &out, &len, err, sizeof err), SR_GZIP_CORRUPT);
    CHECK_INT(sr_gzip_inflate("", 0, 100, &out, &len, err, sizeof err), SR_GZIP_CORRUPT);
    sr_buf_free(&a);
    sr_buf_free(&b);
}

int main(void) {
    static fixture fx;
    signal(SIGPIPE, SIG_IGN);
    sr_log_configure(SR_LOG_ERROR, SR_LOG_TEXT);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_gzip();
    if (test_certs_make(&fx.certs) != 0) {
        fprintf(stderr, "cannot create test certificates with the openssl CLI\n");
        return 1;
    }
    uv_mutex_init(&fx.fake.mu);
    lt_start(&fx.lt);
    fx.fake.loop = &fx.lt.loop;
    lt_call(&fx.lt, start_inputs, &fx);
    if (fx.http && fx.https && fx.mtls && fx.tcp && fx.tcps) {
        test_http_post_ok(&fx);
        test_http_auth(&fx);
        test_http_routes(&fx);
        test_http_bodies(&fx);
        test_http_busy(&fx);
        test_https(&fx);
        test_tcp_reassembly(&fx);
        test_tcp_oversize(&fx);
        test_tcp_coalesce(&fx);
        test_tcp_reply_sends_gathered(&fx);
        test_tcp_backpressure(&fx);
        test_tcp_busy(&fx);
        test_tcp_chunk_target(&fx);
        test_tcp_tls(&fx);
        test_inline_answers(&fx);
    }
    lt_call(&fx.lt, stop_inputs, &fx);
    lt_stop(&fx.lt);
    fake_reset(&fx.fake);
    uv_mutex_destroy(&fx.fake.mu);
    test_certs_remove(&fx.certs);
    curl_global_cleanup();
    return CHECK_DONE();
}
