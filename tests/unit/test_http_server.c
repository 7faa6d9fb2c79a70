/* test_http_server.c - the HTTP/1.1 server over real loopback sockets.
 *
 * The uv loop runs in a thread; the test drives raw blocking sockets from
 * the main thread, so every byte on the wire is under its control. Work on
 * the loop (starting, stopping) goes through lt_call(). */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "loop_thread.h"
#include "http_server.h"
#include "log.h"

/* ---- the server under test ---------------------------------------------- */

typedef struct fixture {
    loop_thread lt;
    sr_http_server *srv;
    int port;
    sr_http_server *lim; /* the limits and deadlines server */
    int lim_port;
    atomic_int delayed_answered; /* delayed answers given (dropped or not) */
    atomic_int delayed_dropped;  /* ... of which sr_http_respond said dropped */
    atomic_int closed;
    char bind_err[256];
} fixture;

typedef struct delayed {
    uv_timer_t timer;
    sr_http_response *resp;
    fixture *fx;
} delayed;

static void on_delayed_closed(uv_handle_t *h) { free(h->data); }

static void on_delay(uv_timer_t *t) {
    delayed *d = t->data;
    if (sr_http_respond(d->resp, 200, "text/plain", NULL, 0, "late", 4) != 0)
        d->fx->delayed_dropped++;
    d->fx->delayed_answered++;
    uv_close((uv_handle_t *)&d->timer, on_delayed_closed);
}

static void handler(void *ud, sr_http_request *req, sr_http_response *resp) {
    fixture *fx = ud;
    if (strcmp(req->path, "/delay") == 0) {
        delayed *d = calloc(1, sizeof *d);
        d->resp = resp;
        d->fx = fx;
        uv_timer_init(&fx->lt.loop, &d->timer);
        d->timer.data = d;
        uv_timer_start(&d->timer, on_delay, 300, 0);
        return;
    }
    if (strcmp(req->path, "/take") == 0) {
        size_t len;
        char *body = sr_http_request_take_body(req, &len);
        sr_http_header extra[] = {{"X-Len", len == 5 && memcmp(body, "hello", 5) == 0 ? "5" : "?"}};
        sr_http_respond(resp, 200, "text/plain", extra, 1, "took", 4);
        free(body);
        return;
    }
    const char *x = sr_http_request_header(req, "x-test");
    sr_buf b = SR_BUF_INIT;
    sr_buf_printf(&b, "%s %s ?%s x=%s n=%zu body=%.*s", req->method, req->path, req->query,
                  x ? x : "-", req->nheaders, (int)req->body_len, req->body);
    sr_http_header extra[] = {{"X-Evil", "a\r\nInjected: yes"}, {"X-Ok", "1"}};
    sr_http_respond(resp, 200, "text/plain", extra, 2, b.data, b.len);
    sr_buf_free(&b);
}

/* Refuses /deny on the head, as an input refuses a request without a token. */
static int head_handler(void *ud, sr_http_request *req, sr_http_response *resp) {
    (void)ud;
    if (strcmp(req->path, "/deny") != 0)
        return 0;
    CHECK_INT(req->body_len, 0);
    sr_http_header h = {"WWW-Authenticate", "Bearer"};
    sr_http_respond_error(resp, 401, "no", &h, 1);
    return 1;
}

static void start_server(void *arg) {
    fixture *fx = arg;
    char err[256];
    sr_http_server_conf conf = {
        .name = "test.http",
        .host = "127.0.0.1",
        .port = 0,
        .max_body = 1024,
        .idle_timeout_ms = 400,
        .limits = {.max_connections = 8},
        .max_body_total = 1500,
        .head_handler = head_handler,
    };
    fx->srv = sr_http_server_new(&fx->lt.loop, &conf, handler, fx, err, sizeof err);
    CHECK(fx->srv != NULL);
    if (!fx->srv)
        fprintf(stderr, "%s\n", err);
    fx->port = fx->srv ? sr_http_server_port(fx->srv) : -1;
}

/* Connection limits and deadlines, with an idle timeout long enough that
 * only the rule under test can close a connection. */
static void start_limited_server(void *arg) {
    fixture *fx = arg;
    char err[256];
    sr_http_server_conf conf = {
        .name = "test.limits",
        .host = "127.0.0.1",
        .port = 0,
        .max_body = 4096,
        .idle_timeout_ms = 20000,
        .header_timeout_ms = 300,
        .body_progress_bytes = 100,
        .body_progress_interval_ms = 300,
        .limits = {.max_connections = 8, .max_per_peer = 6},
    };
    fx->lim = sr_http_server_new(&fx->lt.loop, &conf, handler, fx, err, sizeof err);
    CHECK(fx->lim != NULL);
    if (!fx->lim)
        fprintf(stderr, "%s\n", err);
    fx->lim_port = fx->lim ? sr_http_server_port(fx->lim) : -1;
}

static void close_limited_server(void *arg) {
    sr_http_server_close(((fixture *)arg)->lim, NULL, NULL);
}

static void try_second_server(void *arg) {
    fixture *fx = arg;
    sr_http_server_conf conf = {.host = "127.0.0.1", .port = fx->port};
    sr_http_server *s =
        sr_http_server_new(&fx->lt.loop, &conf, handler, fx, fx->bind_err, sizeof fx->bind_err);
    CHECK(s == NULL);
}

static void on_server_closed(void *ud) { ((fixture *)ud)->closed = 1; }

static void close_server(void *arg) {
    fixture *fx = arg;
    sr_http_server_close(fx->srv, on_server_closed, fx);
}

/* ---- a raw client ------------------------------------------------------- */

/* A connection from `source` (a 127.0.0.x address: every one of them is
 * loopback on Linux), or from 127.0.0.1 when NULL. */
static int client_connect_from(int port, const char *source) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (source) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        inet_pton(AF_INET, source, &src.sin_addr);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
            close(fd);
            return -1;
        }
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static int client_connect(int port) { return client_connect_from(port, NULL); }

static void client_send(int fd, const char *s, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

static void send_str(int fd, const char *s) { client_send(fd, s, strlen(s)); }

/* Reads one response (head up to the blank line, then Content-Length bytes).
 * Returns the status, or -1 on EOF/timeout before a complete head. */
static int read_response(int fd, char *head, size_t headlen, char *body, size_t bodylen) {
    size_t n = 0;
    while (n + 1 < headlen) {
        if (recv(fd, head + n, 1, 0) != 1)
            return -1;
        n++;
        head[n] = '\0';
        if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    int status = 0;
    if (sscanf(head, "HTTP/1.1 %d", &status) != 1)
        return -1;
    const char *cl = strcasestr(head, "\r\nContent-Length:");
    size_t len = cl ? strtoul(cl + 17, NULL, 10) : 0, got = 0;
    while (got < len && got + 1 < bodylen) {
        ssize_t r =
            recv(fd, body + got, len - got < bodylen - 1 - got ? len - got : bodylen - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    body[got] = '\0';
    return status;
}

/* 1 when the server closed the connection (EOF or reset), 0 otherwise. */
static int closed_by_server(int fd) {
    char c;
    ssize_t n = recv(fd, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

#define RESPONSE(fd, status_out)                                                                   \
    char head[4096], body[4096];                                                                   \
    int status_out = read_response(fd, head, sizeof head, body, sizeof body)

/* ---- tests -------------------------------------------------------------- */

static char head_scratch[4096], body_scratch[4096];

static void test_get_and_headers(fixture *fx) {
    int fd = client_connect(fx->port);
    send_str(fd, "GET /echo?a=1 HTTP/1.1\r\nHost: x\r\nX-TEST: v1  \r\n\r\n");
    RESPONSE(fd, status);
    CHECK_INT(status, 200);
    CHECK_STR(body, "GET /echo ?a=1 x=v1 n=2 body=");
    CHECK(strstr(head, "X-Ok: 1\r\n") != NULL);
    CHECK(strstr(head, "Injected") == NULL); /* CR/LF in a header value is dropped */
    CHECK(strstr(head, "Connection: close") == NULL);
    close(fd);
}

static void test_keep_alive_and_pipelining(fixture *fx) {
    int fd = client_connect(fx->port);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
    RESPONSE(fd, s1);
    CHECK_INT(s1, 200);
    CHECK_STR(body, "POST /echo ? x=- n=2 body=abc");
    /* Two requests in one segment: answered in order, one at a time. */
    send_str(fd, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\n\r\n");
    int s2 = read_response(fd, head, sizeof head, body, sizeof body);
    CHECK_INT(s2, 200);
    CHECK(strncmp(body, "GET /one", 8) == 0);
    int s3 = read_response(fd, head, sizeof head, body, sizeof body);
    CHECK_INT(s3, 200);
    CHECK(strncmp(body, "GET /two", 8) == 0);
    CHECK(strstr(head, "Connection: close\r\n") != NULL);
    CHECK(closed_by_server(fd));
    close(fd);
}

static void test_http10(fixture *fx) {
    int fd = client_connect(fx->port);
    send_str(fd, "GET /old HTTP/1.0\r\n\r\n");
    RESPONSE(fd, status);
    CHECK_INT(status, 200);
    CHECK(closed_by_server(fd)); /* 1.0 without keep-alive */
    close(fd);
}

static void test_chunked_and_take_body(fixture *fx) {
    int fd = client_connect(fx->port);
    send_str(fd, "POST /take HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n");
    RESPONSE(fd, status);
    CHECK_INT(status, 200);
    CHECK(strstr(head, "X-Len: 5\r\n") != NULL);
    close(fd);
}

static void test_413_content_length(fixture *fx) {
    int fd = client_connect(fx->port);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
    char big[5000];
    memset(big, 'x', sizeof big);
    client_send(fd, big, sizeof big); /* drained by the lingering close */
    RESPONSE(fd, status);
    CHECK_INT(status, 413);
    CHECK_STR(body, "{\"error\":\"request body too large\"}");
    CHECK(strstr(head, "Connection: close") != NULL);
    CHECK(closed_by_server(fd));
    close(fd);
}

static void test_413_chunked(fixture *fx) {
    int fd = client_connect(fx->port);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[600];
    memset(chunk, 'y', sizeof chunk);
    for (int i = 0; i < 2; i++) { /* 1200 bytes > 1024, no length announced */
        send_str(fd, "258\r\n");
        client_send(fd, chunk, sizeof chunk);
        send_str(fd, "\r\n");
    }
    RESPONSE(fd, status);
    CHECK_INT(status, 413);
    CHECK(closed_by_server(fd));
    close(fd);
}

static void test_expect_continue(fixture *fx) {
    int fd = client_connect(fx->port);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                 "Expect: 100-continue\r\n\r\n");
    char cont[26] = {0};
    ssize_t n = recv(fd, cont, 25, MSG_WAITALL);
    CHECK_INT(n, 25);
    CHECK_STR(cont, "HTTP/1.1 100 Continue\r\n\r\n");
    send_str(fd, "ok");
    RESPONSE(fd, status);
    CHECK_INT(status, 200);
    CHECK_STR(body, "POST /echo ? x=- n=3 body=ok");
    close(fd);

    /* Too large: 413 at once, before any body is sent. */
    fd = client_connect(fx->port);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n"
                 "Expect: 100-continue\r\n\r\n");
    int s2 = read_response(fd, head, sizeof head, body, sizeof body);
    CHECK_INT(s2, 413);
    CHECK(closed_by_server(fd));
    close(fd);
}

static void test_malformed(fixture *fx) {
    int fd = client_connect(fx->port);
    send_str(fd, "THIS IS NOT HTTP\r\n\r\n");
    RESPONSE(fd, status);
    CHECK_INT(status, 400);
    CHECK(strncmp(body, "{\"error\":", 9) == 0);
    CHECK(closed_by_server(fd));
    close(fd);

    fd = client_connect(fx->port);
    send_str(fd, "GET / HTTP/1.1\r\nExpect: teapot\r\n\r\n");
    int s2 = read_response(fd, head, sizeof head, body, sizeof body);
    CHECK_INT(s2, 417);
    close(fd);

    fd = client_connect(fx->port);
    sr_buf req = SR_BUF_INIT;
    sr_buf_puts(&req, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < SR_HTTP_MAX_HEADERS + 1; i++)
        sr_buf_printf(&req, "X-H%d: v\r\n", i);
    sr_buf_puts(&req, "\r\n");
    client_send(fd, req.data, req.len);
    sr_buf_free(&req);
    int s3 = read_response(fd, head, sizeof head, body, sizeof body);
    CHECK_INT(s3, 431);
    close(fd);
}

static void test_idle_timeout(fixture *fx) {
    /* A request that never completes: 408 and close after idle_timeout. */
    int fd = client_connect(fx->port);
    send_str(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n");
    RESPONSE(fd, status);
    CHECK_INT(status, 408);
    CHECK(closed_by_server(fd));
    close(fd);

    /* A connection that says nothing is closed silently. */
    fd = client_connect(fx->port);
    CHECK(closed_by_server(fd));
    close(fd);

    /* Trickling bytes does not extend the deadline (slowloris). */
    fd = client_connect(fx->port);
    const char *req = "GET /slow HTTP/1.1\r\nHost: x\r\n";
    int closed = 0;
    for (size_t i = 0; i < strlen(req) && !closed; i++) {
        closed = send(fd, req + i, 1, MSG_NOSIGNAL) != 1;
        usleep(50 * 1000);
    }
    int s2 = read_response(fd, head, sizeof head, body, sizeof body);
    CHECK_INT(s2, 408);
    close(fd);
}

static void test_disconnect_before_reply(fixture *fx) {
    int before = fx->delayed_answered;
    int fd = client_connect(fx->port);
    send_str(fd, "GET /delay HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(50 * 1000);
    close(fd); /* gone before the answer */
    for (int i = 0; i < 100 && fx->delayed_answered == before; i++)
        usleep(10 * 1000);
    CHECK_INT(fx->delayed_answered, before + 1);

    /* And the delayed answer does arrive when the client waits. */
    fd = client_connect(fx->port);
    send_str(fd, "GET /delay HTTP/1.1\r\nHost: x\r\n\r\n");
    RESPONSE(fd, status);
    CHECK_INT(status, 200);
    CHECK_STR(body, "late");
    close(fd);
}

typedef struct stats_call {
    fixture *fx;
    sr_http_server_stats stats;
} stats_call;

static void read_stats(void *arg) {
    stats_call *sc = arg;
    sr_http_server_stats_get(sc->fx->srv, &sc->stats);
}

/* Every lenient framing case gets its status, the connection is closed
 * after the answer, and the refusal is counted under its kind. */
static void test_strict_framing(fixture *fx) {
    static const struct {
        const char *req;
        int status;
        sr_http_refusal kind;
    } cases[] = {
        {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n"
         "3\r\nabc\r\n0\r\n\r\n",
         400, SR_HTTP_REFUSED_BAD_FIELD_NAME},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n"
         "3\r\nabc\r\n0\r\n\r\n",
         501, SR_HTTP_REFUSED_TE_UNSUPPORTED},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
         SR_HTTP_REFUSED_TE_UNSUPPORTED},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n  identity\r\n\r\n"
         "0\r\n\r\n",
         400, SR_HTTP_REFUSED_OBS_FOLD},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  2\r\nContent-Length: 0\r\n\r\n", 400,
         SR_HTTP_REFUSED_OBS_FOLD},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\x01\r\n\r\n", 400,
         SR_HTTP_REFUSED_BAD_FIELD_VALUE},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\x7f\r\n\r\n", 400,
         SR_HTTP_REFUSED_BAD_FIELD_VALUE},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\rContent-Length: 3\r\n\r\nabc", 400,
         SR_HTTP_REFUSED_BAD_LINE},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n"
         "\r\n0\r\n\r\n",
         400, SR_HTTP_REFUSED_CL_AND_TE},
        {"POST /echo HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: "
         "chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
         400, SR_HTTP_REFUSED_TE_HTTP10},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         "3;a=b;;\x01z\r\nabc\r\n0\r\n\r\n",
         400, SR_HTTP_REFUSED_BAD_CHUNK},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         "3;x=\"unterminated\r\nabc\r\n0\r\n\r\n",
         400, SR_HTTP_REFUSED_BAD_CHUNK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        stats_call before = {fx, {0}}, after = {fx, {0}};
        lt_call(&fx->lt, read_stats, &before);
        int fd = client_connect(fx->port);
        send_str(fd, cases[i].req);
        RESPONSE(fd, status);
        CHECK_INT(status, cases[i].status);
        CHECK(strncmp(body, "{\"error\":", 9) == 0);
        CHECK(strstr(head, "Connection: close\r\n") != NULL);
        CHECK(closed_by_server(fd));
        close(fd);
        lt_call(&fx->lt, read_stats, &after);
        CHECK_INT(after.stats.refused[cases[i].kind], before.stats.refused[cases[i].kind] + 1);
        if (status != cases[i].status)
            fprintf(stderr, "  case %zu\n", i);
    }
    /* A well-formed chunk extension still passes. */
    int fd = client_connect(fx->port);
    send_str(fd, "POST /take HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
                 "3;name=\"v;1\"\r\nhel\r\n2 ; x\r\nlo\r\n0\r\n\r\n");
    RESPONSE(fd, status);
    CHECK_INT(status, 200);
    CHECK(strstr(head, "X-Len: 5\r\n") != NULL);
    close(fd);
}

/* A request refused on its head is answered before its body is sent and
 * never read: the connection closes after the answer. */
static void test_refused_at_head(fixture *fx) {
    stats_call before = {fx, {0}}, after = {fx, {0}};
    lt_call(&fx->lt, read_stats, &before);
    int fd = client_connect(fx->port);
    send_str(fd, "POST /deny HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    RESPONSE(fd, status); /* not one body byte sent yet */
    CHECK_INT(status, 401);
    CHECK(strstr(head, "WWW-Authenticate: Bearer\r\n") != NULL);
    CHECK(strstr(head, "Connection: close\r\n") != NULL);
    char junk[1000];
    memset(junk, 'j', sizeof junk);
    client_send(fd, junk, sizeof junk); /* discarded */
    CHECK(closed_by_server(fd));
    close(fd);
    lt_call(&fx->lt, read_stats, &after);
    CHECK_INT(after.stats.answered_at_head, before.stats.answered_at_head + 1);
    CHECK_INT(after.stats.body_bytes_reserved, 0);
}

/* Bodies being received share max_body_total: one announced body holds its
 * share until answered, the next that does not fit gets 503 at once. */
static void test_body_budget(fixture *fx) {
    int a = client_connect(fx->port);
    send_str(a, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc");
    usleep(100 * 1000);
    stats_call st = {fx, {0}};
    lt_call(&fx->lt, read_stats, &st);
    CHECK_INT(st.stats.body_bytes_reserved, 1000);
    int b = client_connect(fx->port);
    send_str(b, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 600\r\n\r\n");
    RESPONSE(b, status);
    CHECK_INT(status, 503);
    CHECK(strstr(head, "Retry-After: 1\r\n") != NULL);
    CHECK(closed_by_server(b));
    close(b);
    /* A chunked body grows into the budget too. */
    int c = client_connect(fx->port);
    send_str(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[300];
    memset(chunk, 'c', sizeof chunk);
    for (int i = 0; i < 2; i++) { /* 600 bytes: 1000 + 600 > 1500 */
        send_str(c, "12c\r\n");
        client_send(c, chunk, sizeof chunk);
        send_str(c, "\r\n");
    }
    int s2 = read_response(c, head, sizeof head, body, sizeof body);
    CHECK_INT(s2, 503);
    close(c);
    /* The first body completes; its share comes back. */
    char rest[997];
    memset(rest, 'r', sizeof rest);
    client_send(a, rest, sizeof rest);
    int s3 = read_response(a, head, sizeof head, body, sizeof body);
    CHECK_INT(s3, 200);
    close(a);
    lt_call(&fx->lt, read_stats, &st);
    CHECK_INT(st.stats.body_bytes_reserved, 0);
    CHECK(st.stats.refused[SR_HTTP_REFUSED_BODY_BUDGET] >= 2);
}

static void read_lim_stats(void *arg) {
    stats_call *sc = arg;
    sr_http_server_stats_get(sc->fx->lim, &sc->stats);
}

/* Polls the limited server's stats until `expr` equals `want`. */
#define WAIT_LIM_STAT(fx, sc, expr, want)                                                          \
    do {                                                                                           \
        for (int i_ = 0; i_ < 300; i_++) {                                                         \
            lt_call(&(fx)->lt, read_lim_stats, &(sc));                                             \
            if ((uint64_t)(expr) == (uint64_t)(want))                                              \
                break;                                                                             \
            usleep(10 * 1000);                                                                     \
        }                                                                                          \
        CHECK_INT((expr), (want));                                                                 \
    } while (0)

static int get_ok(int fd) {
    send_str(fd, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    RESPONSE(fd, status);
    return status;
}

/* Per-peer limit, then the total: the oldest idle connection makes room;
 * with none idle, the new one is refused; each counted by reason. */
static void test_connection_limits(fixture *fx) {
    stats_call st = {.fx = fx};
    int a[6], b[2];
    for (int i = 0; i < 6; i++) {
        a[i] = client_connect_from(fx->lim_port, "127.0.0.21");
        CHECK_INT(get_ok(a[i]), 200); /* served, now idle (keep-alive) */
    }
    /* A seventh from the same address: closed at once, others unaffected. */
    int seventh = client_connect_from(fx->lim_port, "127.0.0.21");
    CHECK(closed_by_server(seventh));
    close(seventh);
    WAIT_LIM_STAT(fx, st, st.stats.shed[SR_CONN_SHED_PEER_LIMIT], 1);
    CHECK_INT(st.stats.peers, 1);
    for (int i = 0; i < 2; i++) {
        b[i] = client_connect_from(fx->lim_port, "127.0.0.22");
        CHECK_INT(get_ok(b[i]), 200);
    }
    WAIT_LIM_STAT(fx, st, st.stats.connections_open, 8);
    /* a[0] has been idle longest: it goes, the newcomer is served. */
    int c = client_connect_from(fx->lim_port, "127.0.0.23");
    CHECK_INT(get_ok(c), 200);
    CHECK(closed_by_server(a[0]));
    close(a[0]);
    WAIT_LIM_STAT(fx, st, st.stats.shed[SR_CONN_SHED_EVICTED_IDLE], 1);
    /* A request in progress on each: none idle, so a newcomer is refused. */
    int *all[] = {&a[1], &a[2], &a[3], &a[4], &a[5], &b[0], &b[1], &c};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        send_str(*all[i], "GET /x HTTP/1.1\r\n");
    usleep(50 * 1000); /* let the server read them */
    int d = client_connect_from(fx->lim_port, "127.0.0.24");
    CHECK(closed_by_server(d));
    close(d);
    WAIT_LIM_STAT(fx, st, st.stats.shed[SR_CONN_SHED_LIMIT], 1);
    CHECK_INT(st.stats.shed[SR_CONN_SHED_EVICTED_IDLE], 1);
    CHECK(st.stats.refused[SR_HTTP_REFUSED_CONNECTIONS] >= 2);
    /* The heads never complete: header_timeout answers them all with 408. */
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        int status = read_response(*all[i], head_scratch, sizeof head_scratch, body_scratch,
                                   sizeof body_scratch);
        CHECK_INT(status, 408);
        close(*all[i]);
    }
    WAIT_LIM_STAT(fx, st, st.stats.connections_open, 0);
    CHECK_INT(st.stats.peers, 0);
    /* And the way out: new connections are served again. */
    int e = client_connect_from(fx->lim_port, "127.0.0.21");
    CHECK_INT(get_ok(e), 200);
    close(e);
}

/* POSTs a body of 1200 bytes, `step` bytes every 50 ms for `steps`
 * times; the answer's status (its body in body_scratch). */
static int post_trickled(int port, size_t step, int steps) {
    static const char data[64] = {0};
    int fd = client_connect(port);
    send_str(fd, "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 1200\r\n\r\n");
    for (int i = 0; i < steps; i++) {
        client_send(fd, data, step);
        usleep(50 * 1000);
    }
    int status =
        read_response(fd, head_scratch, sizeof head_scratch, body_scratch, sizeof body_scratch);
    close(fd);
    return status;
}

/* header_timeout counts from the first byte and is not the idle timeout;
 * a body must bring body_progress_bytes per interval. */
static void test_request_deadlines(fixture *fx) {
    stats_call st = {.fx = fx};
    lt_call(&fx->lt, read_lim_stats, &st);
    uint64_t head0 = st.stats.refused[SR_HTTP_REFUSED_HEADER_TIMEOUT];
    uint64_t body0 = st.stats.refused[SR_HTTP_REFUSED_BODY_TOO_SLOW];

    /* Idle for longer than header_timeout, then a prompt request: fine. */
    int fd = client_connect(fx->lim_port);
    usleep(500 * 1000);
    CHECK_INT(get_ok(fd), 200);
    close(fd);

    /* A head trickled a byte every 50 ms: 408 once header_timeout passed. */
    fd = client_connect(fx->lim_port);
    const char *req =
        "GET /slow HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    for (size_t i = 0; i < strlen(req); i++)
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1)
            break;
        else
            usleep(50 * 1000);
    RESPONSE(fd, status);
    CHECK_INT(status, 408);
    CHECK(strstr(body, "head") != NULL);
    close(fd);

    /* A body at 60 bytes per 50 ms (about 360 per interval) completes;
     * one at a byte per 50 ms (about 6 per interval) does not, and what
     * the client sends after the answer is drained. */
    CHECK_INT(post_trickled(fx->lim_port, 60, 20), 200);
    CHECK_INT(post_trickled(fx->lim_port, 1, 20), 408);
    CHECK(strstr(body_scratch, "slowly") != NULL);

    lt_call(&fx->lt, read_lim_stats, &st);
    CHECK_INT(st.stats.refused[SR_HTTP_REFUSED_HEADER_TIMEOUT], head0 + 1);
    CHECK_INT(st.stats.refused[SR_HTTP_REFUSED_BODY_TOO_SLOW], body0 + 1);
}

static void test_bind_error(fixture *fx) {
    char want[64];
    lt_call(&fx->lt, try_second_server, fx);
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1:%d: address already in use", fx->port);
    CHECK_STR(fx->bind_err, want);
}

/* Closing the server with an answer pending: the answer comes later, into
 * the void, and nothing leaks. */
static void test_close_with_pending_answer(fixture *fx) {
    int before = fx->delayed_answered;
    int fd = client_connect(fx->port);
    send_str(fd, "GET /delay HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(50 * 1000);
    lt_call(&fx->lt, close_server, fx);
    for (int i = 0; i < 100 && fx->delayed_answered == before; i++)
        usleep(10 * 1000);
    CHECK_INT(fx->delayed_answered, before + 1);
    CHECK(fx->delayed_dropped >= 1);
    CHECK_INT(fx->closed, 1);
    CHECK(closed_by_server(fd));
    close(fd);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    sr_log_configure(SR_LOG_WARN, SR_LOG_TEXT);
    static fixture fx;
    lt_start(&fx.lt);
    lt_call(&fx.lt, start_server, &fx);
    lt_call(&fx.lt, start_limited_server, &fx);
    if (fx.srv && fx.lim) {
        test_get_and_headers(&fx);
        test_keep_alive_and_pipelining(&fx);
        test_http10(&fx);
        test_chunked_and_take_body(&fx);
        test_413_content_length(&fx);
        test_413_chunked(&fx);
        test_expect_continue(&fx);
        test_malformed(&fx);
        test_strict_framing(&fx);
        test_refused_at_head(&fx);
        test_body_budget(&fx);
        test_idle_timeout(&fx);
        test_disconnect_before_reply(&fx);
        test_connection_limits(&fx);
        test_request_deadlines(&fx);
        test_bind_error(&fx);
        lt_call(&fx.lt, close_limited_server, &fx);
        test_close_with_pending_answer(&fx);
    }
    lt_stop(&fx.lt);
    return CHECK_DONE();
}
