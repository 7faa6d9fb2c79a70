/* hec_recv.c - a counting Splunk HEC receiver for the benchmark.
 *
 *   hec_recv [--listen HOST:PORT] --token T [--seed S] [--no-transform | --redact]
 *            [--verify-every K]
 *
 * Speaks enough HTTP/1.1 for HEC clients (keep-alive, Content-Length or
 * chunked bodies, Expect: 100-continue) on one epoll thread:
 *   POST /services/collector[/event]  needs "Authorization: Splunk <T>";
 *       answers {"text":"Success","code":0}, or HEC's own errors (401 code 2
 *       or 3, 403 code 4, 400 code 5 or 6 with invalid-event-number)
 *   GET  /bench/stats    counters as JSON (cheap; poll it)
 *   GET  /bench/latency  latency percentiles as JSON (sorts; call it once)
 *   POST /bench/reset    forgets counters and seen events
 * Counting and checking are hec_check.c's. It prints "listening on
 * HOST:PORT" once ready (PORT 0 picks one), and its counters on SIGTERM.
 *
 * Single-threaded on purpose: the gateway sends one batch at a time per
 * integration, so parallelism would buy nothing, and one thread keeps the
 * receiver's CPU cost easy to see next to the gateway's. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_net.h"
#include "hec_check.h"

#define MAX_BODY (64u << 20)
#define MAX_HEAD (64u << 10)

typedef struct conn {
    int fd;
    char *buf;
    size_t len, cap;
    size_t head_len; /* 0 until the request head is complete */
    size_t body_len; /* Content-Length */
    int chunked, continue_sent, close_after;
    int closing;            /* close once the pending response is written */
    uint64_t first_byte_ns; /* the current request's first bytes arrived */
    uint64_t answered_ns;   /* the previous response was queued */
    char *out;              /* response bytes not yet written */
    size_t out_len, out_cap;
} conn;

typedef struct server {
    int ep, lfd;
    const char *token;
    hec_checker chk;
    uint64_t requests, bytes, bad_auth, bad_requests;
    /* Where a HEC request's time goes, summed (ns): from its first byte to
     * its last (the client uploading), handling it here, and from the
     * previous answer to its first byte (the client's turnaround). */
    uint64_t upload_ns, handle_ns, turnaround_ns;
    uint64_t turnaround_max_ns, long_turnarounds; /* the longest; how many over 100 ms */
    char *dechunk;                                /* decoded chunked body */
    size_t dechunk_cap;
} server;

static volatile sig_atomic_t stop;

static void on_signal(int sig) { stop = sig; }

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n);
    if (!p) {
        fputs("hec_recv: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

/* ---- output ------------------------------------------------------------- */

static void conn_close(server *s, conn *c) {
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->buf);
    free(c->out);
    free(c);
}

/* Writes what is pending; returns -1 when the connection broke. */
static int flush_out(server *s, conn *c) {
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t w = write(c->fd, c->out + off, c->out_len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            break;
        if (w < 0)
            return -1;
        off += (size_t)w;
    }
    if (off < c->out_len) /* c->out is NULL until something was queued */
        memmove(c->out, c->out + off, c->out_len - off);
    c->out_len -= off;
    struct epoll_event ev = {.events = EPOLLIN | (c->out_len ? EPOLLOUT : 0u), .data.ptr = c};
    epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
    return 0;
}

static void queue_out(conn *c, const char *p, size_t n) {
    if (c->out_len + n > c->out_cap) {
        c->out_cap = (c->out_len + n) * 2;
        c->out = xrealloc(c->out, c->out_cap);
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static void respond(conn *c, int status, const char *body) {
    const char *reason = status == 200   ? "OK"
                         : status == 400 ? "Bad Request"
                         : status == 401 ? "Unauthorized"
                         : status == 403 ? "Forbidden"
                         : status == 404 ? "Not Found"
                         : status == 413 ? "Payload Too Large"
                                         : "Unsupported Media Type";
    char head[256];
    size_t bl = strlen(body);
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=UTF-8\r\n"
                      "Content-Length: %zu\r\n%s\r\n",
                      status, reason, bl, c->close_after ? "Connection: close\r\n" : "");
    queue_out(c, head, (size_t)hl);
    queue_out(c, body, bl);
}

/* ---- requests ----------------------------------------------------------- */

typedef struct request {
    const char *method, *path;
    size_t method_len, path_len;
    const char *auth;
    size_t auth_len;
    int gzip;
} request;

static int name_is(const char *p, size_t n, const char *lit) {
    return n == strlen(lit) && strncasecmp(p, lit, n) == 0;
}

/* Parses the head in c->buf[0, head_len); returns 0 or an HTTP status. */
static int parse_head(conn *c, request *r) {
    memset(r, 0, sizeof *r);
    const char *p = c->buf, *e = c->buf + c->head_len;
    const char *eol = memchr(p, '\n', (size_t)(e - p));
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp2)
        return 400;
    r->method = p;
    r->method_len = (size_t)(sp1 - p);
    r->path = sp1 + 1;
    r->path_len = (size_t)(sp2 - sp1 - 1);
    c->body_len = 0;
    c->chunked = 0;
    c->close_after = !memmem(sp2, (size_t)(eol - sp2), "HTTP/1.1", 8);
    for (p = eol + 1; p < e;) {
        eol = memchr(p, '\n', (size_t)(e - p));
        if (!eol)
            break;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            size_t nl = (size_t)(colon - p);
            const char *v = colon + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            size_t vl = (size_t)(ve - v);
            if (name_is(p, nl, "content-length")) {
                char num[24];
                if (vl == 0 || vl >= sizeof num)
                    return 400;
                memcpy(num, v, vl);
                num[vl] = 0;
                c->body_len = strtoull(num, NULL, 10);
                if (c->body_len > MAX_BODY)
                    return 413;
            } else if (name_is(p, nl, "transfer-encoding")) {
                c->chunked = name_is(v, vl, "chunked");
            } else if (name_is(p, nl, "authorization")) {
                r->auth = v;
                r->auth_len = vl;
            } else if (name_is(p, nl, "connection")) {
                if (name_is(v, vl, "close"))
                    c->close_after = 1;
                else if (name_is(v, vl, "keep-alive"))
                    c->close_after = 0;
            } else if (name_is(p, nl, "content-encoding")) {
                r->gzip = !name_is(v, vl, "identity");
            }
        }
        p = eol + 1;
    }
    return 0;
}

/* Decodes a chunked body starting at `p`; returns its encoded length once it
 * is complete (body in s->dechunk, `*out_len`), 0 when more is needed, -1
 * when it is malformed. */
static long dechunk(server *s, const char *p, size_t avail, size_t *out_len) {
    size_t off = 0, n = 0;
    for (;;) {
        const char *eol = memmem(p + off, avail - off, "\r\n", 2);
        if (!eol)
            return 0;
        char *end;
        unsigned long long sz = strtoull(p + off, &end, 16);
        if (end == p + off || sz > MAX_BODY)
            return -1;
        off = (size_t)(eol - p) + 2;
        if (sz == 0) {
            /* No trailers from HEC clients: the body ends at the blank line. */
            if (avail - off < 2)
                return 0;
            *out_len = n;
            return (long)(off + 2);
        }
        if (avail - off < sz + 2)
            return 0;
        if (n + sz > s->dechunk_cap) {
            s->dechunk_cap = (n + sz) * 2;
            s->dechunk = xrealloc(s->dechunk, s->dechunk_cap);
        }
        memcpy(s->dechunk + n, p + off, sz);
        n += sz;
        off += sz + 2;
    }
}

static void handle_stats(server *s, conn *c) {
    char body[2048];
    hec_checker *k = &s->chk;
    size_t o = 0;
    o += (size_t)snprintf(body, sizeof body,
                          "{\"requests\":%llu,\"bytes\":%llu,\"events\":%llu,\"unique\":%llu,"
                          "\"duplicates\":%llu,\"verified\":%llu,\"mismatches\":%llu,"
                          "\"bad_auth\":%llu,\"bad_requests\":%llu,\"first_ns\":%llu,"
                          "\"last_ns\":%llu,\"cpu_s\":%.3f,\"upload_ms\":%.1f,\"handle_ms\":%.1f,"
                          "\"turnaround_ms\":%.1f,\"turnaround_max_ms\":%.1f,"
                          "\"long_turnarounds\":%llu,\"first_error\":\"",
                          (unsigned long long)s->requests, (unsigned long long)s->bytes,
                          (unsigned long long)k->events, (unsigned long long)k->unique,
                          (unsigned long long)k->duplicates, (unsigned long long)k->verified,
                          (unsigned long long)k->mismatches, (unsigned long long)s->bad_auth,
                          (unsigned long long)s->bad_requests, (unsigned long long)k->first_ns,
                          (unsigned long long)k->last_ns, cpu_seconds(), (double)s->upload_ns / 1e6,
                          (double)s->handle_ns / 1e6, (double)s->turnaround_ns / 1e6,
                          (double)s->turnaround_max_ns / 1e6,
                          (unsigned long long)s->long_turnarounds);
    /* The error quotes received bytes: escape what JSON needs. */
    for (const char *q = k->first_error; *q && o < sizeof body - 16; q++) {
        unsigned char ch = (unsigned char)*q;
        if (ch == '"' || ch == '\\')
            o += (size_t)snprintf(body + o, sizeof body - o, "\\%c", ch);
        else if (ch < 0x20)
            o += (size_t)snprintf(body + o, sizeof body - o, "\\u%04x", ch);
        else
            body[o++] = (char)ch;
    }
    snprintf(body + o, sizeof body - o, "\"}");
    respond(c, 200, body);
}

static void handle_latency(server *s, conn *c) {
    char body[512];
    hec_checker *k = &s->chk;
    snprintf(body, sizeof body,
             "{\"count\":%zu,\"p50_us\":%u,\"p90_us\":%u,\"p99_us\":%u,\"p999_us\":%u,"
             "\"max_us\":%u}",
             k->nlat, hec_checker_latency(k, 0.5), hec_checker_latency(k, 0.9),
             hec_checker_latency(k, 0.99), hec_checker_latency(k, 0.999),
             hec_checker_latency(k, 1.0));
    respond(c, 200, body);
}

/* Answers like HEC does; the body is [body, body+n). */
static void handle_hec(server *s, conn *c, const request *r, const char *body, size_t n) {
    static const char scheme[] = "Splunk ";
    size_t tl = strlen(s->token);
    if (!r->auth) {
        s->bad_auth++;
        respond(c, 401, "{\"text\":\"Token is required\",\"code\":2}");
        return;
    }
    if (r->auth_len <= sizeof scheme - 1 || strncasecmp(r->auth, scheme, sizeof scheme - 1) != 0) {
        s->bad_auth++;
        respond(c, 401, "{\"text\":\"Invalid authorization\",\"code\":3}");
        return;
    }
    if (r->auth_len - (sizeof scheme - 1) != tl ||
        memcmp(r->auth + sizeof scheme - 1, s->token, tl) != 0) {
        s->bad_auth++;
        respond(c, 403, "{\"text\":\"Invalid token\",\"code\":4}");
        return;
    }
    if (r->gzip) {
        s->bad_requests++;
        respond(c, 415, "{\"text\":\"Unsupported content encoding\",\"code\":6}");
        return;
    }
    if (n == 0) {
        s->bad_requests++;
        respond(c, 400, "{\"text\":\"No data\",\"code\":5}");
        return;
    }
    size_t bad = 0;
    if (hec_check_body(&s->chk, body, n, bench_now_ns(), &bad) < 0) {
        char msg[128];
        s->bad_requests++;
        snprintf(msg, sizeof msg,
                 "{\"text\":\"Invalid data format\",\"code\":6,\"invalid-event-number\":%zu}", bad);
        respond(c, 400, msg);
        return;
    }
    respond(c, 200, "{\"text\":\"Success\",\"code\":0}");
}

static void dispatch(server *s, conn *c, const request *r, const char *body, size_t n) {
    s->requests++;
    s->bytes += n;
    int post = name_is(r->method, r->method_len, "POST");
    if (post && (name_is(r->path, r->path_len, "/services/collector/event") ||
                 name_is(r->path, r->path_len, "/services/collector") ||
                 name_is(r->path, r->path_len, "/services/collector/event/1.0")))
        handle_hec(s, c, r, body, n);
    else if (name_is(r->path, r->path_len, "/bench/stats"))
        handle_stats(s, c);
    else if (name_is(r->path, r->path_len, "/bench/latency"))
        handle_latency(s, c);
    else if (post && name_is(r->path, r->path_len, "/bench/reset")) {
        hec_checker_reset(&s->chk);
        s->requests = s->bytes = s->bad_auth = s->bad_requests = 0;
        s->upload_ns = s->handle_ns = s->turnaround_ns = 0;
        s->turnaround_max_ns = s->long_turnarounds = 0;
        respond(c, 200, "{\"reset\":true}");
    } else
        respond(c, 404,
                "{\"text\":\"The requested URL was not found on this server.\","
                "\"code\":404}");
}

/* Handles every complete request in the buffer. Returns -1 to close. */
static int process(server *s, conn *c) {
    for (;;) {
        if (!c->head_len) {
            char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (!end)
                return c->len > MAX_HEAD ? -1 : 0;
            c->head_len = (size_t)(end - c->buf) + 4;
            c->continue_sent = 0;
        }
        request r;
        int st = parse_head(c, &r);
        if (st) {
            c->close_after = 1;
            respond(c, st, "{\"text\":\"Invalid request\",\"code\":6}");
            return 1;
        }
        const char *body = c->buf + c->head_len;
        size_t avail = c->len - c->head_len, used, n = 0;
        if (c->chunked) {
            long k = dechunk(s, body, avail, &n);
            if (k < 0) {
                c->close_after = 1;
                respond(c, 400, "{\"text\":\"Invalid chunked body\",\"code\":6}");
                return 1;
            }
            used = (size_t)k;
            body = s->dechunk;
        } else {
            used = avail >= c->body_len ? c->body_len : 0;
            n = c->body_len;
        }
        if (!used && (c->chunked || c->body_len)) {
            if (!c->continue_sent && memmem(c->buf, c->head_len, "100-continue", 12)) {
                queue_out(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
                c->continue_sent = 1;
            }
            size_t need = c->head_len + c->body_len + 1;
            if (!c->chunked && need > c->cap) {
                c->cap = need;
                c->buf = xrealloc(c->buf, c->cap);
            }
            return 0;
        }
        uint64_t t0 = bench_now_ns();
        dispatch(s, c, &r, body, n);
        uint64_t t1 = bench_now_ns();
        if (name_is(r.method, r.method_len, "POST") && r.path_len > 9 &&
            !memcmp(r.path, "/services", 9)) {
            s->upload_ns += t0 - c->first_byte_ns;
            s->handle_ns += t1 - t0;
            if (c->answered_ns) {
                uint64_t gap = c->first_byte_ns - c->answered_ns;
                s->turnaround_ns += gap;
                s->long_turnarounds += gap > 100000000u;
                if (gap > s->turnaround_max_ns)
                    s->turnaround_max_ns = gap;
            }
            c->answered_ns = t1;
        }
        size_t consumed = c->head_len + used;
        memmove(c->buf, c->buf + consumed, c->len - consumed);
        c->len -= consumed;
        c->head_len = 0;
        /* A pipelined request already started arriving. */
        c->first_byte_ns = c->len ? t1 : 0;
        if (c->close_after)
            return 1;
    }
}

static void on_readable(server *s, conn *c) {
    for (;;) {
        if (c->len == c->cap) {
            c->cap *= 2;
            c->buf = xrealloc(c->buf, c->cap);
        }
        ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            break;
        if (r <= 0) {
            conn_close(s, c);
            return;
        }
        if (!c->first_byte_ns)
            c->first_byte_ns = bench_now_ns();
        c->len += (size_t)r;
    }
    int rc = process(s, c);
    c->closing = rc == 1;
    if (rc < 0 || flush_out(s, c) < 0 || (c->closing && c->out_len == 0))
        conn_close(s, c);
}

static void on_accept(server *s) {
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            return;
        }
        c->fd = fd;
        c->cap = 1 << 20;
        c->buf = xrealloc(NULL, c->cap);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

static int listen_on(const char *spec) {
    struct sockaddr_in a;
    if (bench_addr(spec, &a) != 0) {
        fprintf(stderr, "hec_recv: bad address %s\n", spec);
        exit(2);
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
        die("hec_recv: bind");
    if (listen(fd, 128) != 0)
        die("hec_recv: listen");
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
    printf("listening on %s:%d\n", host, ntohs(a.sin_port));
    fflush(stdout);
    return fd;
}

int main(int argc, char **argv) {
    const char *listen_spec = "127.0.0.1:8088", *token = NULL;
    uint64_t seed = 1;
    int transformed = HEC_TRANSFORMED;
    unsigned verify_every = 8;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc)
            listen_spec = argv[++i];
        else if (!strcmp(argv[i], "--token") && i + 1 < argc)
            token = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--verify-every") && i + 1 < argc)
            verify_every = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--no-transform"))
            transformed = HEC_PLAIN;
        else if (!strcmp(argv[i], "--redact"))
            transformed = HEC_REDACTED;
        else {
            fputs("usage: hec_recv [--listen HOST:PORT] --token T [--seed S] [--no-transform | "
                  "--redact] [--verify-every K]\n",
                  stderr);
            return 2;
        }
    }
    if (!token) {
        fputs("hec_recv: --token is required\n", stderr);
        return 2;
    }
    server s = {.token = token};
    hec_checker_init(&s.chk, seed, transformed, verify_every);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    s.ep = epoll_create1(EPOLL_CLOEXEC);
    s.lfd = listen_on(listen_spec);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(s.ep, EPOLL_CTL_ADD, s.lfd, &lev);
    struct epoll_event evs[64];
    while (!stop) {
        int n = epoll_wait(s.ep, evs, 64, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("hec_recv: epoll_wait");
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {
                on_accept(&s);
                continue;
            }
            if (evs[i].events & EPOLLOUT) {
                if (flush_out(&s, c) < 0 || (c->closing && c->out_len == 0)) {
                    conn_close(&s, c);
                    continue;
                }
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(&s, c);
        }
    }
    printf("hec_recv: %llu requests, %llu events (%llu unique, %llu duplicates), %llu verified, "
           "%llu mismatches, %.2f CPU s\n",
           (unsigned long long)s.requests, (unsigned long long)s.chk.events,
           (unsigned long long)s.chk.unique, (unsigned long long)s.chk.duplicates,
           (unsigned long long)s.chk.verified, (unsigned long long)s.chk.mismatches, cpu_seconds());
    if (s.chk.first_error[0])
        printf("hec_recv: first mismatch: %s\n", s.chk.first_error);
    hec_checker_free(&s.chk);
    free(s.dechunk);
    return 0;
}
