/* test_http_sink.c - the HTTP sink against a scripted server on loopback.
 *
 * The server runs in a pthread with plain blocking sockets and poll(2). Each
 * request it reads takes the next step of its script: reply (optionally after
 * a delay), reset the connection, or hang until the client gives up. It
 * records every request (method, target, header block, body, which accepted
 * connection carried it) for the test to inspect. The sink runs on a uv loop
 * in the main thread. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"
#include "check.h"
#include "http.h"

#define MAX_STEPS 16
#define MAX_CONNS 8
#define HUGE_BODY 200000
#define EMPTY_200 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

/* ---- the scripted server ------------------------------------------------ */

typedef enum { STEP_REPLY, STEP_RESET, STEP_HANG } step_kind;

typedef struct step {
    step_kind kind;
    int delay_ms;
    char *reply; /* raw response bytes, owned */
    size_t reply_len;
} step;

typedef struct request {
    char method[16];
    char target[256];
    char *head; /* header lines after the request line, owned */
    char *body; /* owned */
    size_t body_len;
    int conn; /* 1 for the first accepted connection, ... */
} request;

typedef struct conn {
    int fd; /* -1: free slot */
    int id;
    sr_buf in;
    const step *pending; /* a delayed reply */
    uint64_t due_ms;
} conn;

typedef struct server {
    int lfd, port;
    int wake[2];
    pthread_t thread;
    pthread_mutex_t mu; /* guards reqs, nreqs, accepts */
    step steps[MAX_STEPS];
    int nsteps, next_step;
    request reqs[MAX_STEPS];
    int nreqs, accepts;
    conn conns[MAX_CONNS];
} server;

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void add_step(server *sv, step_kind kind, int delay_ms, const char *reply, size_t len) {
    step *st = &sv->steps[sv->nsteps++];
    st->kind = kind;
    st->delay_ms = delay_ms;
    st->reply = malloc(len + 1);
    memcpy(st->reply, reply, len);
    st->reply_len = len;
}

static void add_reply(server *sv, const char *reply) {
    add_step(sv, STEP_REPLY, 0, reply, strlen(reply));
}

static void conn_close(conn *c, int reset) {
    if (reset) {
        struct linger lg = {1, 0}; /* close() sends RST */
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(c->fd);
    c->fd = -1;
    c->pending = NULL;
    sr_buf_free(&c->in);
}

static void conn_send(conn *c, const step *st) {
    size_t off = 0;
    while (off < st->reply_len) {
        ssize_t w = send(c->fd, st->reply + off, st->reply_len - off, MSG_NOSIGNAL);
        if (w <= 0) {
            conn_close(c, 0);
            return;
        }
        off += (size_t)w;
    }
}

static long content_length(const char *head) {
    const char *p = strcasestr(head, "\r\ncontent-length:");
    return p ? strtol(p + 17, NULL, 10) : 0;
}

/* Takes one complete request off c->in, if there is one. */
static int take_request(server *sv, conn *c) {
    char *end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head_len = (size_t)(end - c->in.data) + 4;
    *end = '\0';
    long body_len = content_length(c->in.data);
    *end = '\r';
    if (c->in.len < head_len + (size_t)body_len)
        return 0;
    pthread_mutex_lock(&sv->mu);
    request *r = &sv->reqs[sv->nreqs < MAX_STEPS ? sv->nreqs++ : MAX_STEPS - 1];
    sscanf(c->in.data, "%15s %255s", r->method, r->target);
    char *lines = strstr(c->in.data, "\r\n"); /* the request line's end */
    free(r->head);
    free(r->body);
    r->head = strndup(lines, (size_t)(end + 2 - lines));
    r->body = malloc((size_t)body_len + 1);
    memcpy(r->body, c->in.data + head_len, (size_t)body_len);
    r->body[body_len] = '\0';
    r->body_len = (size_t)body_len;
    r->conn = c->id;
    pthread_mutex_unlock(&sv->mu);

    size_t used = head_len + (size_t)body_len;
    memmove(c->in.data, c->in.data + used, c->in.len - used);
    c->in.len -= used;

    static const step ok = {STEP_REPLY, 0, EMPTY_200, sizeof EMPTY_200 - 1};
    const step *st = sv->next_step < sv->nsteps ? &sv->steps[sv->next_step++] : &ok;
    switch (st->kind) {
    case STEP_RESET: conn_close(c, 1); return 0;
    case STEP_HANG: return 1; /* until the client closes */
    case STEP_REPLY:
        if (st->delay_ms) {
            c->pending = st;
            c->due_ms = now_ms() + (uint64_t)st->delay_ms;
        } else {
            conn_send(c, st);
        }
        return c->fd >= 0;
    }
    return 0;
}

static void conn_read(server *sv, conn *c) {
    char chunk[65536];
    ssize_t n = recv(c->fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
        conn_close(c, 0);
        return;
    }
    sr_buf_append(&c->in, chunk, (size_t)n);
    while (c->fd >= 0 && take_request(sv, c))
        ;
}

static void server_accept(server *sv) {
    int fd = accept(sv->lfd, NULL, NULL);
    if (fd < 0)
        return;
    for (int i = 0; i < MAX_CONNS; i++) {
        if (sv->conns[i].fd < 0) {
            pthread_mutex_lock(&sv->mu);
            sv->conns[i].id = ++sv->accepts;
            pthread_mutex_unlock(&sv->mu);
            sv->conns[i].fd = fd;
            return;
        }
    }
    close(fd);
}

static void *server_main(void *arg) {
    server *sv = arg;
    for (;;) {
        struct pollfd pfd[2 + MAX_CONNS];
        conn *who[2 + MAX_CONNS];
        int n = 0, timeout = -1;
        pfd[n++] = (struct pollfd){.fd = sv->wake[0], .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = sv->lfd, .events = POLLIN};
        uint64_t now = now_ms();
        for (int i = 0; i < MAX_CONNS; i++) {
            conn *c = &sv->conns[i];
            if (c->fd < 0)
                continue;
            if (c->pending) {
                int left = c->due_ms > now ? (int)(c->due_ms - now) : 0;
                timeout = timeout < 0 || left < timeout ? left : timeout;
            }
            who[n] = c;
            pfd[n++] = (struct pollfd){.fd = c->fd, .events = POLLIN};
        }
        poll(pfd, (nfds_t)n, timeout);
        if (pfd[0].revents)
            break;
        if (pfd[1].revents)
            server_accept(sv);
        for (int i = 2; i < n; i++)
            if (pfd[i].revents && who[i]->fd >= 0)
                conn_read(sv, who[i]);
        now = now_ms();
        for (int i = 0; i < MAX_CONNS; i++) {
            conn *c = &sv->conns[i];
            if (c->fd >= 0 && c->pending && c->due_ms <= now) {
                const step *st = c->pending;
                c->pending = NULL;
                conn_send(c, st);
            }
        }
    }
    return NULL;
}

static void server_start(server *sv) {
    memset(sv, 0, sizeof *sv);
    for (int i = 0; i < MAX_CONNS; i++)
        sv->conns[i].fd = -1;
    pthread_mutex_init(&sv->mu, NULL);
    if (pipe(sv->wake) != 0)
        abort();
    sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(sv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t salen = sizeof sa;
    if (bind(sv->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(sv->lfd, 16) != 0 ||
        getsockname(sv->lfd, (struct sockaddr *)&sa, &salen) != 0)
        abort();
    sv->port = ntohs(sa.sin_port);
}

static void server_run(server *sv) { pthread_create(&sv->thread, NULL, server_main, sv); }

static void server_stop(server *sv) {
    if (write(sv->wake[1], "x", 1) != 1)
        abort();
    pthread_join(sv->thread, NULL);
    for (int i = 0; i < MAX_CONNS; i++)
        if (sv->conns[i].fd >= 0)
            conn_close(&sv->conns[i], 0);
    close(sv->lfd);
    close(sv->wake[0]);
    close(sv->wake[1]);
    for (int i = 0; i < sv->nsteps; i++)
        free(sv->steps[i].reply);
    for (int i = 0; i < MAX_STEPS; i++) {
        free(sv->reqs[i].head);
        free(sv->reqs[i].body);
    }
    pthread_mutex_destroy(&sv->mu);
}

static int server_nreqs(server *sv) {
    pthread_mutex_lock(&sv->mu);
    int n = sv->nreqs;
    pthread_mutex_unlock(&sv->mu);
    return n;
}

static int server_accepts(server *sv) {
    pthread_mutex_lock(&sv->mu);
    int n = sv->accepts;
    pthread_mutex_unlock(&sv->mu);
    return n;
}

/* ---- the client side ---------------------------------------------------- */

typedef struct outcome {
    int calls;
    int ok;
    long status, retry_after_ms;
    double latency_ms;
    char error[256];
    char *body;
    size_t body_len;
    sr_sink *close_in_cb;
} outcome;

static void on_done(void *ud, const sr_sink_result *res) {
    outcome *o = ud;
    o->calls++;
    o->ok = res->transport_ok;
    o->status = res->status;
    o->retry_after_ms = res->retry_after_ms;
    o->latency_ms = res->latency_ms;
    snprintf(o->error, sizeof o->error, "%s", res->error);
    free(o->body);
    o->body = malloc(res->body_len + 1);
    if (res->body_len)
        memcpy(o->body, res->body, res->body_len);
    o->body[res->body_len] = '\0';
    o->body_len = res->body_len;
    if (o->close_in_cb) {
        sr_sink_close(o->close_in_cb);
        o->close_in_cb = NULL;
    }
}

static void outcome_reset(outcome *o) {
    free(o->body);
    memset(o, 0, sizeof *o);
}

static void on_tick(uv_timer_t *t) { (void)t; }

/* Runs the loop until *counter reaches want (or the server has seen `want`
 * requests when sv is given), at most timeout_ms. */
static int run_until(uv_loop_t *loop, const int *counter, server *sv, int want, int timeout_ms) {
    uv_timer_t tick; /* wakes UV_RUN_ONCE so the condition is re-checked */
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    int done;
    while (!(done = (sv ? server_nreqs(sv) : *counter) >= want) && now_ms() < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return done;
}

/* Closes the sink and checks the loop then has nothing left. */
static void finish(uv_loop_t *loop, sr_sink *s) {
    if (s)
        sr_sink_close(s);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(loop), 0);
}

static const sr_sink_header secret_headers[] = {
    {"Content-Type", "application/json"},
    {"Authorization", "Bearer s3cr3t-t0ken"},
    {"X-Empty", ""},
};

static int send_req(sr_sink *s, const char *method, const char *url, const char *body, outcome *o) {
    sr_sink_request req = {
        .method = method,
        .url = url,
        .headers = secret_headers,
        .nheaders = 3,
        .body = body,
        .body_len = body ? strlen(body) : 0,
    };
    sr_sink_payload p = {.http = &req};
    return sr_sink_send(s, &p, on_done, o);
}

static char *url_of(int port, const char *path) {
    static char buf[4][128];
    static int next;
    char *u = buf[next++ % 4];
    snprintf(u, sizeof buf[0], "http://127.0.0.1:%d%s", port, path);
    return u;
}

/* A loopback port nobody listens on: bound once, then released. */
static int unused_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t salen = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) != 0)
        abort();
    close(fd);
    return ntohs(sa.sin_port);
}

static sr_sink *new_sink(uv_loop_t *loop, long timeout_ms, int max_connections) {
    char err[256] = "";
    sr_http_settings set = {.timeout_ms = timeout_ms, .max_connections = max_connections};
    sr_sink *s = sr_http_sink_new(loop, &set, err, sizeof err);
    if (!s)
        fprintf(stderr, "sr_http_sink_new: %s\n", err);
    return s;
}

/* ---- tests -------------------------------------------------------------- */

/* A 200 with a body; the request arrives as built; the second request rides
 * the same connection. */
static void test_ok_and_reuse(void) {
    server sv;
    server_start(&sv);
    add_reply(&sv, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    add_reply(&sv, "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok");
    server_run(&sv);
    uv_loop_t loop;
    uv_loop_init(&loop);
    sr_sink *s = new_sink(&loop, 5000, 0);
    CHECK(s != NULL);
    CHECK_STR(s->ops->name, "http");

    outcome o = {0};
    char body[] = "{\"events\":[1,2,3]}";
    CHECK_INT(send_req(s, NULL, url_of(sv.port, "/ingest?x=1"), body, &o), 0);
    memset(body, 'X', sizeof body - 1); /* the sink must have copied it */
    CHECK_INT(o.calls, 0);              /* never from inside send() */
    CHECK(run_until(&loop, &o.calls, NULL, 1, 5000));
    CHECK_INT(o.ok, 1);
    CHECK_STR(o.error, "");
    CHECK_INT(o.status, 200);
    CHECK_MEM(o.body, o.body_len, "hello");
    CHECK_INT(o.retry_after_ms, -1);
    CHECK(o.latency_ms > 0 && o.latency_ms < 5000);

    request *r = &sv.reqs[0];
    CHECK_STR(r->method, "POST");
    CHECK_STR(r->target, "/ingest?x=1");
    CHECK_MEM(r->body, r->body_len, "{\"events\":[1,2,3]}");
    CHECK(strstr(r->head, "\r\nContent-Type: application/json\r\n") != NULL);
    CHECK(strstr(r->head, "\r\nAuthorization: Bearer s3cr3t-t0ken\r\n") != NULL);
    CHECK(strstr(r->head, "\r\nX-Empty:") != NULL);
    CHECK(strstr(r->head, "\r\nContent-Length: 18\r\n") != NULL);
    CHECK(strcasestr(r->head, "\r\nExpect:") == NULL);
    CHECK(strcasestr(r->head, "\r\nAccept:") == NULL);

    outcome_reset(&o);
    CHECK_INT(send_req(s, "PUT", url_of(sv.port, "/second"), "", &o), 0);
    CHECK(run_until(&loop, &o.calls, NULL, 1, 5000));
    CHECK_INT(o.status, 202);
    CHECK_MEM(o.body, o.body_len, "ok");
    CHECK_STR(sv.reqs[1].method, "PUT");
    CHECK_STR(sv.reqs[1].target, "/second");
    CHECK_INT(sv.reqs[1].body_len, 0);
    CHECK_INT(server_accepts(&sv), 1);
    CHECK_INT(sv.reqs[1].conn, 1);

    outcome_reset(&o);
    finish(&loop, s);
    server_stop(&sv);
}

/* Several requests at once with max_connections 1 share one connection. */
static void test_concurrent_one_connection(void) {
    server sv;
    server_start(&sv);
    server_run(&sv);
    uv_loop_t loop;
    uv_loop_init(&loop);
    sr_sink *s = new_sink(&loop, 5000, 1);
    outcome o[3] = {{0}};
    for (int i = 0; i < 3; i++)
        CHECK_INT(send_req(s, "POST", url_of(sv.port, "/c"), "x", &o[i]), 0);
    int total = 0;
    uint64_t end = now_ms() + 5000;
    while (total < 3 && now_ms() < end) {
        uv_run(&loop, UV_RUN_ONCE);
        total = o[0].calls + o[1].calls + o[2].calls;
    }
    CHECK_INT(total, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(o[i].status, 200);
        outcome_reset(&o[i]);
    }
    CHECK_INT(server_accepts(&sv), 1);
    finish(&loop, s);
    server_stop(&sv);
}

static void test_retry_after(void) {
    char date_future[128], date_past[128], reply[256];
    time_t t = time(NULL) + 120;
    strftime(date_future, sizeof date_future, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&t));
    t = time(NULL) - 3600;
    strftime(date_past, sizeof date_past, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&t));

    server sv;
    server_start(&sv);
    add_reply(&sv, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\n"
                   "Content-Length: 4\r\n\r\nbusy");
    snprintf(reply, sizeof reply,
             "HTTP/1.1 429 Too Many Requests\r\nretry-after: %s\r\nContent-Length: 0\r\n\r\n",
             date_future);
    add_reply(&sv, reply);
    snprintf(reply, sizeof reply,
             "HTTP/1.1 503 Unavailable\r\nRetry-After: %s\r\nContent-Length: 0\r\n\r\n", date_past);
    add_reply(&sv, reply);
    add_reply(&sv, "HTTP/1.1 503 Unavailable\r\nRetry-After: soon\r\nContent-Length: 0\r\n\r\n");
    add_reply(&sv, "HTTP/1.1 503 Unavailable\r\nRetry-After: 5x\r\nContent-Length: 0\r\n\r\n");
    server_run(&sv);
    uv_loop_t loop;
    uv_loop_init(&loop);
    sr_sink *s = new_sink(&loop, 5000, 0);

    static const struct {
        long status, lo, hi;
    } want[] = {
        {503, 7000, 7000}, {429, 110000, 120000}, {503, 0, 0}, {503, -1, -1}, {503, -1, -1}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        outcome o = {0};
        CHECK_INT(send_req(s, NULL, url_of(sv.port, "/r"), "x", &o), 0);
        CHECK(run_until(&loop, &o.calls, NULL, 1, 5000));
        CHECK_INT(o.ok, 1);
        CHECK_INT(o.status, want[i].status);
        CHECK(o.retry_after_ms >= want[i].lo && o.retry_after_ms <= want[i].hi);
        if (i == 0)
            CHECK_MEM(o.body, o.body_len, "busy");
        outcome_reset(&o);
    }
    finish(&loop, s);
    server_stop(&sv);
}

static void check_transport_error(const outcome *o) {
    CHECK_INT(o->calls, 1);
    CHECK_INT(o->ok, 0);
    CHECK_INT(o->status, 0);
    CHECK_INT(o->body_len, 0);
    CHECK_INT(o->retry_after_ms, -1);
    CHECK(o->error[0] != '\0');
    CHECK(strstr(o->error, "s3cr3t") == NULL); /* header values never leak */
}

static void test_timeout(void) {
    server sv;
    server_start(&sv);
    add_step(&sv, STEP_REPLY, 2000, EMPTY_200, sizeof EMPTY_200 - 1);
    server_run(&sv);
    uv_loop_t loop;
    uv_loop_init(&loop);
    sr_sink *s = new_sink(&loop, 300, 0);
    outcome o = {0};
    CHECK_INT(send_req(s, NULL, url_of(sv.port, "/slow"), "x", &o), 0);
    CHECK(run_until(&loop, &o.calls, NULL, 1, 5000));
    check_transport_error(&o);
    CHECK(strstr(o.error, "Timeout was reached") != NULL);
    CHECK(o.latency_ms >= 250 && o.latency_ms < 2000);
    outcome_reset(&o);
    finish(&loop, s);
    server_stop(&sv);
}

static void test_reset_and_refused(void) {
    server sv;
    server_start(&sv);
    add_step(&sv, STEP_RESET, 0, "", 0);
    server_run(&sv);
    uv_loop_t loop;
    uv_loop_init(&loop);
    sr_sink *s = new_sink(&loop, 5000, 0);
    outcome o = {0};
    CHECK_INT(send_req(s, NULL, url_of(sv.port, "/reset"), "x", &o), 0);
    CHECK(run_until(&loop, &o.calls, NULL, 1, 5000));
    check_transport_error(&o);
    outcome_reset(&o);

    CHECK_INT(send_req(s, NULL, url_of(unused_port(), "/"), "x", &o), 0);
    CHECK(run_until(&loop, &o.calls, NULL, 1, 5000));
    check_transport_error(&o);
    CHECK(strstr(o.error, "Couldn't connect to server") != NULL);
    CHECK(strstr(o.error, "Connection refused") != NULL);
    outcome_reset(&o);
    finish(&loop, s);
    server_stop(&sv);
}

/* Only SR_SINK_BODY_EXCERPT bytes are kept, the rest is read and dropped,
 * and the connection stays usable. */
static void test_huge_body(void) {
    server sv;
    server_start(&sv);
    sr_buf reply = SR_BUF_INIT;
    sr_buf_printf(&reply, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", HUGE_BODY);
    size_t body_at = reply.len;
    for (int i = 0; i < HUGE_BODY; i++)
        sr_buf_putc(&reply, (char)('a' + i % 26));
    add_step(&sv, STEP_REPLY, 0, reply.data, reply.len);
    add_reply(&sv, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext");
    server_run(&sv);
    uv_loop_t loop;
    uv_loop_init(&loop);
    sr_sink *s = new_sink(&loop, 5000, 0);
    outcome o = {0};
    CHECK_INT(send_req(s, NULL, url_of(sv.port, "/big"), "x", &o), 0);
    CHECK(run_until(&loop, &o.calls, NULL, 1, 5000));
    CHECK_INT(o.ok, 1);
    CHECK_INT(o.body_len, SR_SINK_BODY_EXCERPT);
    CHECK(o.body && memcmp(o.body, reply.data + body_at, SR_SINK_BODY_EXCERPT) == 0);
    outcome_reset(&o);
    CHECK_INT(send_req(s, NULL, url_of(sv.port, "/after"), "x", &o), 0);
    CHECK(run_until(&loop, &o.calls, NULL, 1, 5000));
    CHECK_MEM(o.body, o.body_len, "next");
    CHECK_INT(server_accepts(&sv), 1);
    outcome_reset(&o);
    sr_buf_free(&reply);
    finish(&loop, s);
    server_stop(&sv);
}

/* close() with requests in flight: no callback, every handle closed, nothing
 * leaked. Covered: before the loop ever ran, mid-request, from a callback. */
static void test_close_in_flight(void) {
    server sv;
    server_start(&sv);
    add_step(&sv, STEP_HANG, 0, "", 0);
    add_step(&sv, STEP_HANG, 0, "", 0);
    server_run(&sv);

    uv_loop_t loop;
    uv_loop_init(&loop);
    sr_sink *s = new_sink(&loop, 5000, 0);
    outcome o = {0};
    CHECK_INT(send_req(s, NULL, url_of(sv.port, "/never-started"), "x", &o), 0);
    finish(&loop, s);
    CHECK_INT(o.calls, 0);

    uv_loop_init(&loop);
    s = new_sink(&loop, 5000, 0);
    CHECK_INT(send_req(s, NULL, url_of(sv.port, "/hang"), "x", &o), 0);
    CHECK(run_until(&loop, NULL, &sv, 1, 5000));
    finish(&loop, s);
    CHECK_INT(o.calls, 0);

    /* The first request is answered (default 200) after the hung one; its
     * callback closes the sink with the other still in flight. */
    uv_loop_init(&loop);
    s = new_sink(&loop, 5000, 0);
    outcome hung = {0}, first = {.close_in_cb = s};
    CHECK_INT(send_req(s, NULL, url_of(sv.port, "/hang2"), "x", &hung), 0);
    CHECK(run_until(&loop, NULL, &sv, 2, 5000));
    CHECK_INT(send_req(s, NULL, url_of(sv.port, "/answered"), "x", &first), 0);
    CHECK(run_until(&loop, &first.calls, NULL, 1, 5000));
    CHECK_INT(first.status, 200);
    finish(&loop, NULL);
    CHECK_INT(hung.calls, 0);
    outcome_reset(&first);
    server_stop(&sv);
}

static void test_refused_requests(void) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    sr_sink *s = new_sink(&loop, 5000, 0);
    outcome o = {0};
    static const sr_sink_header injected[] = {{"X-Evil", "a\r\nHost: elsewhere"}};
    sr_sink_request req = {.url = "http://127.0.0.1:1/", .headers = injected, .nheaders = 1};
    sr_sink_payload p = {.http = &req};
    CHECK_INT(sr_sink_send(s, &p, on_done, &o), -1);
    sr_sink_payload no_http = {0};
    CHECK_INT(sr_sink_send(s, &no_http, on_done, &o), -1);
    finish(&loop, s);
    CHECK_INT(o.calls, 0);

    char err[256] = "";
    sr_http_settings bad_ca = {.ca_file = "/nonexistent/ca.pem"};
    uv_loop_init(&loop);
    CHECK(sr_http_sink_new(&loop, &bad_ca, err, sizeof err) == NULL);
    CHECK(strstr(err, "/nonexistent/ca.pem") != NULL);
    CHECK_INT(uv_loop_close(&loop), 0);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_ok_and_reuse();
    test_concurrent_one_connection();
    test_retry_after();
    test_timeout();
    test_reset_and_refused();
    test_huge_body();
    test_close_in_flight();
    test_refused_requests();
    curl_global_cleanup();
    return CHECK_DONE();
}
