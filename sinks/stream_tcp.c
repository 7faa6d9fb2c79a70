/* stream_tcp.c - the stream sink over TCP, in the clear or inside TLS.
 *
 * One persistent connection per sink, opened when there is something to
 * send and kept open. Batches are queued in send() order and their bytes
 * written back to back, exactly as the records came (the integration's Lua
 * already framed them). Everything runs on the loop: name resolution
 * (uv_getaddrinfo, the first address), connect, the TLS handshake
 * (a client engine of runtime/net/tls_engine.h), writes and reads.
 *
 * When a batch counts as delivered. Syslog has no acknowledgement, and a
 * successful write only means the local kernel took the bytes. A batch is
 * reported delivered only when
 *   1. the peer's TCP acknowledged every byte of it (the socket's send
 *      queue, SIOCOUTQ, no longer holds any of it), and
 *   2. the connection then stayed free of errors for the settle time (50 ms
 *      plus one round trip), or ended in an orderly way (FIN or TLS
 *      close_notify).
 * The second rule catches a receiver that is going away: a process that
 * closes a socket with unread bytes makes its kernel send a reset, and a
 * TLS 1.3 server rejecting our client certificate sends an alert one round
 * trip after our handshake completed. An orderly close, by contrast, means
 * the receiver had read everything before it closed. The socket is read all
 * the time (a syslog receiver never sends, so what arrives is an end), and
 * checked with a non-blocking peek before each write and before each
 * confirmation, so an end the loop has not dispatched yet still counts.
 *
 * A batch whose connection ends before it is confirmed goes back to the
 * front of the queue and is written again on the next connection, until
 * its deadline (timeout_ms after send()); then it fails with the last
 * connection error and the delivery layer retries it. So the peer can see
 * a batch twice (at least once), and never loses one it could have noticed
 * losing. What stays unnoticed is documented in docs/integrations.md.
 *
 * TLS failures before the connection is ready (certificate not verified,
 * handshake refused) are configuration problems: the queued batches fail
 * at once instead of waiting for their deadline.
 *
 * Reconnects back off from 100 ms, doubling to 5 s, and start over once a
 * batch was delivered. A connection attempt (connect and handshake) is
 * bounded by connect_timeout_ms.
 *
 * Teardown: close() drops the queue without callbacks, sends TLS
 * close_notify and a FIN on an open connection, and frees the sink once its
 * timer and any pending name resolution are done; a retired connection
 * frees itself when its handle is closed. */
#include "stream.h"

#include <errno.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "log.h"
#include "tls_engine.h"

#define SETTLE_MS         50
#define SETTLE_RTT_MAX_MS 1000
#define TLS13_GRACE_MS    250
#define BACKOFF_FIRST_MS  100
#define BACKOFF_MAX_MS    5000
#define ACK_POLL_MAX_MS   20
#define KEEPALIVE_S       60
#define PEEK_CHUNK        16384
#define MS                1000000ull

typedef enum { J_QUEUED, J_SENT, J_ACKED } job_state;

/* One batch: its bytes, who to tell, and how far it got. */
typedef struct job {
    struct job *next;
    sr_sink_done_cb cb;
    void *ud;
    uint64_t start_ns, deadline_ns;
    uint64_t end_mark; /* connection bytes written once all of it is */
    uint64_t acked_ns; /* when its last byte was acknowledged */
    job_state state;
    size_t len;
    char data[];
} job;

typedef enum { C_CONNECTING, C_HANDSHAKE, C_CONFIRMING, C_READY } conn_state;

typedef enum {
    END_ORDERLY,  /* FIN or close_notify: the peer read what it acknowledged */
    END_ABNORMAL, /* reset, error, timeout */
    END_CONFIG    /* TLS refused before ready: fail the queue now */
} end_kind;

typedef struct tcp_sink tcp_sink;

typedef struct conn {
    uv_tcp_t tcp; /* tcp.data is the conn */
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;
    tcp_sink *ts; /* NULL once retired */
    sr_tls_engine *tls;
    conn_state state;
    uint64_t deadline_ns; /* connecting / handshake / TLS 1.3 grace ends */
    uint64_t wire_queued; /* bytes handed to uv_write */
    uint64_t settle_ns;
    int delivered; /* a batch was confirmed on it */
} conn;

typedef struct wreq {
    uv_write_t req;
    char data[];
} wreq;

struct tcp_sink {
    sr_sink base; /* first, so an sr_sink * is a tcp_sink * */
    uv_loop_t *loop;
    char *host;
    int port;
    char endpoint[300];
    sr_tls_ctx *tls_ctx; /* NULL: plain TCP */
    uint64_t timeout_ns, connect_timeout_ns;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    int resolving;
    conn *conn;
    job *head, *tail;
    uint64_t retry_at_ns;
    unsigned backoff_ms;
    unsigned poll_ms; /* current interval while waiting for an ACK */
    char last_error[256];
    unsigned pending; /* timer + resolution still owed a callback */
    int closing;
};

static void progress(tcp_sink *ts);
static void conn_end(tcp_sink *ts, end_kind how, const char *why);

/* ---- jobs --------------------------------------------------------------- */

static job *pop_head(tcp_sink *ts) {
    job *j = ts->head;
    ts->head = j->next;
    if (!ts->head)
        ts->tail = NULL;
    return j;
}

/* Tells the owner; the callback may send() or close(). */
static void finish(job *j, const char *error) {
    sr_sink_result res;
    memset(&res, 0, sizeof res);
    res.retry_after_ms = -1;
    res.transport_ok = error == NULL;
    if (error)
        snprintf(res.error, sizeof res.error, "%s", error);
    res.latency_ms = (double)(uv_hrtime() - j->start_ns) / 1e6;
    sr_sink_done_cb cb = j->cb;
    void *ud = j->ud;
    free(j);
    cb(ud, &res);
}

static void free_jobs(tcp_sink *ts) {
    while (ts->head)
        free(pop_head(ts));
}

/* ---- the sink's lifetime ------------------------------------------------ */

static void sink_free(tcp_sink *ts) {
    sr_tls_ctx_free(ts->tls_ctx);
    free(ts->host);
    free(ts);
}

static void release(tcp_sink *ts) {
    if (--ts->pending == 0 && ts->closing)
        sink_free(ts);
}

static void on_timer_closed(uv_handle_t *h) { release(h->data); }

/* ---- connections -------------------------------------------------------- */

static void on_conn_closed(uv_handle_t *h) {
    conn *c = h->data;
    sr_tls_engine_free(c->tls);
    free(c);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
    (void)status;
    uv_close((uv_handle_t *)req->handle, on_conn_closed);
}

static void on_write(uv_write_t *req, int status) {
    conn *c = req->handle->data;
    free(req);
    tcp_sink *ts = c->ts;
    if (!ts)
        return; /* retired: its end was already handled */
    if (status < 0) {
        char why[128];
        snprintf(why, sizeof why, "write failed: %s", uv_strerror(status));
        conn_end(ts, END_ABNORMAL, why);
    }
    progress(ts);
}

/* Queues bytes on the socket, copied. */
static int conn_send(conn *c, const void *data, size_t len) {
    if (len == 0)
        return 0;
    if (len > UINT_MAX)
        return UV_EINVAL;
    wreq *w = malloc(sizeof *w + len);
    if (!w)
        return UV_ENOMEM;
    memcpy(w->data, data, len);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
    if (rc < 0) {
        free(w);
        return rc;
    }
    c->wire_queued += len;
    return 0;
}

/* Sends whatever the TLS engine produced for the peer. */
static int conn_flush_tls(conn *c) {
    size_t n;
    while ((n = sr_tls_engine_pending(c->tls)) > 0) {
        char *tmp = malloc(n);
        if (!tmp)
            return UV_ENOMEM;
        size_t got = sr_tls_engine_take(c->tls, tmp, n);
        int rc = conn_send(c, tmp, got);
        free(tmp);
        if (rc < 0)
            return rc;
        if (got == 0)
            break;
    }
    return 0;
}

/* Detaches a connection from the sink and closes it: gracefully (TLS
 * close_notify, then FIN after the queued writes) when the sink is done
 * with a healthy connection, at once otherwise. */
static void conn_retire(conn *c, int graceful) {
    c->ts = NULL;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (graceful && c->state == C_READY) {
        if (c->tls) {
            sr_tls_engine_close_notify(c->tls);
            conn_flush_tls(c);
        }
        if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) == 0)
            return;
    }
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void grow_backoff(tcp_sink *ts) {
    if (ts->backoff_ms == 0)
        ts->backoff_ms = BACKOFF_FIRST_MS;
    else if (ts->backoff_ms < BACKOFF_MAX_MS)
        ts->backoff_ms = ts->backoff_ms * 2 < BACKOFF_MAX_MS ? ts->backoff_ms * 2 : BACKOFF_MAX_MS;
}

/* The current connection ended. Batches it confirmed are done; on an
 * orderly end those the peer acknowledged are done too; the rest go back
 * to the queue, in order, or fail now for a configuration problem. */
static void conn_end(tcp_sink *ts, end_kind how, const char *why) {
    conn *c = ts->conn;
    if (!c)
        return;
    ts->conn = NULL;
    int was_ready = c->state == C_READY;
    int delivered = c->delivered;
    conn_retire(c, 0);

    if (was_ready)
        snprintf(ts->last_error, sizeof ts->last_error, "connection to %.100s lost: %.120s",
                 ts->endpoint, why);
    else
        snprintf(ts->last_error, sizeof ts->last_error, "cannot connect to %.100s: %.120s",
                 ts->endpoint, why);
    sr_warn("sink.stream", "%s", ts->last_error);

    if (delivered)
        ts->backoff_ms = 0;
    else
        grow_backoff(ts);
    ts->retry_at_ns = uv_hrtime() + (uint64_t)ts->backoff_ms * MS;

    /* Acknowledged, then an orderly close: the receiver read them. */
    while (how == END_ORDERLY && ts->head && ts->head->state == J_ACKED) {
        finish(pop_head(ts), NULL);
        if (ts->closing)
            return;
    }
    for (job *j = ts->head; j; j = j->next)
        j->state = J_QUEUED;
    while (how == END_CONFIG && ts->head) {
        finish(pop_head(ts), ts->last_error);
        if (ts->closing)
            return;
    }
}

static uint64_t settle_for(conn *c) {
    uint64_t rtt_ns = 0;
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 &&
        getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
        rtt_ns = (uint64_t)ti.tcpi_rtt * 1000;
    if (rtt_ns > (uint64_t)SETTLE_RTT_MAX_MS * MS)
        rtt_ns = (uint64_t)SETTLE_RTT_MAX_MS * MS;
    return (uint64_t)SETTLE_MS * MS + rtt_ns;
}

static void conn_ready(tcp_sink *ts, conn *c) {
    c->state = C_READY;
    c->settle_ns = settle_for(c);
    ts->last_error[0] = '\0'; /* a later timeout must not blame an old failure */
    sr_info("sink.stream", "connected to %s%s", ts->endpoint,
            !c->tls                          ? ""
            : sr_tls_engine_is_tls13(c->tls) ? " (TLS 1.3)"
                                             : " (TLS 1.2)");
}

/* Ciphertext from the peer: handshake progress, or its verdict. */
static void tls_incoming(tcp_sink *ts, conn *c, const char *data, size_t len) {
    char why[300];
    sr_tls_status st = sr_tls_engine_feed(c->tls, data, len, NULL, NULL, why, sizeof why);
    /* Answers and alerts leave even when the session failed. */
    conn_flush_tls(c);
    if (st != SR_TLS_OK) {
        end_kind how = st == SR_TLS_CLOSED   ? END_ORDERLY
                       : c->state != C_READY ? END_CONFIG
                                             : END_ABNORMAL;
        conn_end(ts, how, why);
        return;
    }
    if (c->state == C_HANDSHAKE && sr_tls_engine_ready(c->tls)) {
        /* TLS 1.3: the server judges our certificate after this point; wait
         * for a sign of acceptance (its session tickets) or the grace time. */
        if (sr_tls_engine_is_tls13(c->tls) && !sr_tls_engine_heard(c->tls)) {
            uint64_t grace = (uint64_t)TLS13_GRACE_MS * MS + settle_for(c);
            c->state = C_CONFIRMING;
            c->deadline_ns = uv_hrtime() + grace;
        } else {
            conn_ready(ts, c);
        }
    } else if (c->state == C_CONFIRMING && sr_tls_engine_heard(c->tls)) {
        conn_ready(ts, c);
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    (void)h, (void)hint;
    buf->base = malloc(PEEK_CHUNK);
    buf->len = buf->base ? PEEK_CHUNK : 0;
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf) {
    conn *c = stream->data;
    tcp_sink *ts = c->ts;
    if (ts && n > 0 && c->tls)
        tls_incoming(ts, c, buf->base, (size_t)n);
    else if (ts && n == UV_EOF)
        conn_end(ts, END_ORDERLY, "peer closed the connection");
    else if (ts && n < 0)
        conn_end(ts, END_ABNORMAL, uv_strerror((int)n));
    /* Plain TCP data from a syslog receiver means nothing: dropped. */
    free(buf->base);
    if (ts)
        progress(ts);
}

static void on_connect(uv_connect_t *req, int status) {
    conn *c = req->handle->data;
    tcp_sink *ts = c->ts;
    if (!ts)
        return;
    if (status < 0) {
        conn_end(ts, END_ABNORMAL, uv_strerror(status));
        progress(ts);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_tcp_keepalive(&c->tcp, 1, KEEPALIVE_S);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc < 0) {
        conn_end(ts, END_ABNORMAL, uv_strerror(rc));
        progress(ts);
        return;
    }
    if (!ts->tls_ctx) {
        conn_ready(ts, c);
        progress(ts);
        return;
    }
    char err[256];
    c->tls = sr_tls_engine_new_client(ts->tls_ctx, ts->host, err, sizeof err);
    if (!c->tls) {
        conn_end(ts, END_CONFIG, err);
        progress(ts);
        return;
    }
    c->state = C_HANDSHAKE;
    rc = conn_flush_tls(c); /* the ClientHello */
    if (rc < 0)
        conn_end(ts, END_ABNORMAL, uv_strerror(rc));
    progress(ts);
}

static void conn_open(tcp_sink *ts, const struct sockaddr *addr) {
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(ts->last_error, sizeof ts->last_error, "out of memory");
        grow_backoff(ts);
        ts->retry_at_ns = uv_hrtime() + (uint64_t)ts->backoff_ms * MS;
        return;
    }
    if (uv_tcp_init(ts->loop, &c->tcp) != 0) {
        free(c);
        snprintf(ts->last_error, sizeof ts->last_error, "cannot create a socket");
        grow_backoff(ts);
        ts->retry_at_ns = uv_hrtime() + (uint64_t)ts->backoff_ms * MS;
        return;
    }
    c->tcp.data = c;
    c->ts = ts;
    c->state = C_CONNECTING;
    c->deadline_ns = uv_hrtime() + ts->connect_timeout_ns;
    ts->conn = c;
    int rc = uv_tcp_connect(&c->connect_req, &c->tcp, addr, on_connect);
    if (rc < 0)
        conn_end(ts, END_ABNORMAL, uv_strerror(rc));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    tcp_sink *ts = req->data;
    ts->resolving = 0;
    if (ts->closing) {
        uv_freeaddrinfo(res);
        release(ts);
        return;
    }
    ts->pending--;
    if (status < 0 || !res) {
        snprintf(ts->last_error, sizeof ts->last_error, "cannot resolve %s: %s", ts->host,
                 uv_strerror(status));
        sr_warn("sink.stream", "%s", ts->last_error);
        grow_backoff(ts);
        ts->retry_at_ns = uv_hrtime() + (uint64_t)ts->backoff_ms * MS;
    } else {
        /* The first address, as Sysdig does. */
        conn_open(ts, res->ai_addr);
    }
    uv_freeaddrinfo(res);
    progress(ts);
}

static void start_connecting(tcp_sink *ts) {
    char service[16];
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(service, sizeof service, "%d", ts->port);
    ts->gai.data = ts;
    int rc = uv_getaddrinfo(ts->loop, &ts->gai, on_resolved, ts->host, service, &hints);
    if (rc < 0) {
        snprintf(ts->last_error, sizeof ts->last_error, "cannot resolve %s: %s", ts->host,
                 uv_strerror(rc));
        grow_backoff(ts);
        ts->retry_at_ns = uv_hrtime() + (uint64_t)ts->backoff_ms * MS;
        return;
    }
    ts->resolving = 1;
    ts->pending++;
}

/* ---- liveness and acknowledgement --------------------------------------- */

static int conn_fd(conn *c) {
    uv_os_fd_t fd;
    return uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 ? fd : -1;
}

/* Looks for an end the loop has not dispatched yet. Returns 1 while the
 * connection is usable. */
static int peer_alive(tcp_sink *ts, conn *c) {
    int fd = conn_fd(c);
    if (fd < 0)
        return 1;
    char buf[PEEK_CHUNK];
    ssize_t n =
        recv(fd, buf, c->tls ? sizeof buf : 1, c->tls ? MSG_DONTWAIT : MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) {
        conn_end(ts, END_ORDERLY, "peer closed the connection");
        return 0;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 1;
        conn_end(ts, END_ABNORMAL, strerror(errno));
        return 0;
    }
    if (c->tls) {
        tls_incoming(ts, c, buf, (size_t)n);
        return ts->conn == c;
    }
    return 1;
}

/* Marks the batches whose every byte the peer's TCP acknowledged. */
static void update_acks(tcp_sink *ts, conn *c, uint64_t now) {
    int outq = 0;
    int fd = conn_fd(c);
    if (fd < 0 || ioctl(fd, SIOCOUTQ, &outq) != 0 || outq < 0)
        outq = 0;
    uint64_t unwritten = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    uint64_t in_kernel = c->wire_queued - unwritten;
    uint64_t acked = in_kernel > (uint64_t)outq ? in_kernel - (uint64_t)outq : 0;
    int progressed = 0;
    for (job *j = ts->head; j && j->state != J_QUEUED; j = j->next)
        if (j->state == J_SENT && j->end_mark <= acked) {
            j->state = J_ACKED;
            j->acked_ns = now;
            progressed = 1;
        }
    if (progressed)
        ts->poll_ms = 0;
}

static void write_queued(tcp_sink *ts, conn *c) {
    for (job *j = ts->head; j; j = j->next) {
        if (j->state != J_QUEUED)
            continue;
        int rc;
        if (c->tls) {
            rc = sr_tls_engine_write(c->tls, j->data, j->len) == 0 ? conn_flush_tls(c) : UV_EPROTO;
        } else {
            rc = conn_send(c, j->data, j->len);
        }
        if (rc < 0) {
            conn_end(ts, END_ABNORMAL, uv_strerror(rc));
            return;
        }
        j->state = J_SENT;
        j->end_mark = c->wire_queued;
    }
}

/* ---- the driver ---------------------------------------------------------- */

static void on_timer(uv_timer_t *t) { progress(t->data); }

static void schedule(tcp_sink *ts, uint64_t now) {
    uint64_t due = UINT64_MAX;
    conn *c = ts->conn;
    if (c && c->state != C_READY && c->deadline_ns < due)
        due = c->deadline_ns;
    if (ts->head && ts->head->deadline_ns < due)
        due = ts->head->deadline_ns;
    if (ts->head && !c && !ts->resolving && ts->retry_at_ns < due)
        due = ts->retry_at_ns;
    if (c && c->state == C_READY) {
        for (job *j = ts->head; j && j->state != J_QUEUED; j = j->next) {
            if (j->state == J_SENT) {
                /* Loopback acknowledges at once, a WAN takes a round trip:
                 * poll often at first, then back off. */
                ts->poll_ms = ts->poll_ms ? ts->poll_ms * 2 : 1;
                if (ts->poll_ms > ACK_POLL_MAX_MS)
                    ts->poll_ms = ACK_POLL_MAX_MS;
                if (now + (uint64_t)ts->poll_ms * MS < due)
                    due = now + (uint64_t)ts->poll_ms * MS;
                break;
            }
            if (j == ts->head && j->acked_ns + c->settle_ns < due)
                due = j->acked_ns + c->settle_ns;
        }
    }
    if (due == UINT64_MAX) {
        uv_timer_stop(&ts->timer);
        return;
    }
    uint64_t ms = due > now ? (due - now + MS - 1) / MS : 0;
    uv_timer_start(&ts->timer, on_timer, ms, 0);
}

/* Moves everything forward that can move; called from every callback. */
static void progress(tcp_sink *ts) {
    if (ts->closing)
        return;
    uint64_t now = uv_hrtime();
    conn *c = ts->conn;
    if (c && c->state != C_READY && now >= c->deadline_ns) {
        if (c->state == C_CONFIRMING)
            conn_ready(ts, c); /* no alert within the grace time */
        else
            conn_end(ts, END_ABNORMAL, "timed out");
        if (ts->closing)
            return;
    }
    c = ts->conn;
    if (c && c->state == C_READY && peer_alive(ts, c))
        update_acks(ts, c, now);
    if (ts->closing)
        return;
    c = ts->conn;
    /* Confirmed: acknowledged and settled on a live connection. */
    while (c && ts->head && ts->head->state == J_ACKED &&
           now >= ts->head->acked_ns + c->settle_ns) {
        c->delivered = 1;
        ts->backoff_ms = 0;
        finish(pop_head(ts), NULL);
        if (ts->closing)
            return;
        c = ts->conn;
    }
    while (ts->head && now >= ts->head->deadline_ns) {
        if (ts->head->state != J_QUEUED && ts->conn)
            conn_end(ts, END_ABNORMAL, "the peer did not acknowledge in time");
        if (ts->closing)
            return;
        char why[300];
        snprintf(why, sizeof why, "%s",
                 ts->last_error[0] ? ts->last_error : "timed out waiting for a connection");
        finish(pop_head(ts), why);
        if (ts->closing)
            return;
    }
    if (ts->head && !ts->conn && !ts->resolving && now >= ts->retry_at_ns)
        start_connecting(ts);
    c = ts->conn;
    if (c && c->state == C_READY && ts->head && peer_alive(ts, c))
        write_queued(ts, c);
    if (ts->closing)
        return;
    schedule(ts, now);
}

/* ---- the sink interface -------------------------------------------------- */

static int tcp_send(sr_sink *s, const sr_sink_payload *p, sr_sink_done_cb cb, void *ud) {
    tcp_sink *ts = (tcp_sink *)s;
    if (ts->closing || !cb || !p || (p->n && (!p->recs || !p->lens)))
        return -1;
    size_t len = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (len > SIZE_MAX - sizeof(job) - p->lens[i])
            return -1;
        len += p->lens[i];
    }
    job *j = malloc(sizeof *j + len);
    if (!j)
        return -1;
    memset(j, 0, sizeof *j);
    size_t off = 0;
    for (size_t i = 0; i < p->n; i++) {
        memcpy(j->data + off, p->recs[i], p->lens[i]);
        off += p->lens[i];
    }
    j->len = len;
    j->cb = cb;
    j->ud = ud;
    j->start_ns = uv_hrtime();
    j->deadline_ns = j->start_ns + ts->timeout_ns;
    j->state = J_QUEUED;
    if (ts->tail)
        ts->tail->next = j;
    else
        ts->head = j;
    ts->tail = j;
    /* The work happens on the next loop turn, never inside send(). */
    uv_timer_start(&ts->timer, on_timer, 0, 0);
    return 0;
}

static void tcp_close(sr_sink *s) {
    tcp_sink *ts = (tcp_sink *)s;
    if (ts->closing)
        return;
    ts->closing = 1;
    free_jobs(ts);
    if (ts->conn) {
        conn_retire(ts->conn, 1);
        ts->conn = NULL;
    }
    if (ts->resolving)
        uv_cancel((uv_req_t *)&ts->gai); /* its callback releases the sink */
    uv_close((uv_handle_t *)&ts->timer, on_timer_closed);
}

static const sr_sink_ops tcp_ops = {
    .name = "stream",
    .send = tcp_send,
    .close = tcp_close,
};

sr_sink *sr_stream_tcp_sink_new(uv_loop_t *loop, const sr_stream_settings *s, int tls, char *err,
                                size_t errlen) {
    tcp_sink *ts = calloc(1, sizeof *ts);
    if (!ts || !(ts->host = strdup(s->host))) {
        free(ts);
        snprintf(err, errlen, "stream sink: out of memory");
        return NULL;
    }
    ts->base.ops = &tcp_ops;
    ts->loop = loop;
    ts->port = s->port;
    sr_stream_endpoint(ts->endpoint, sizeof ts->endpoint, ts->host, ts->port);
    long timeout = s->timeout_ms > 0 ? s->timeout_ms : SR_STREAM_DEFAULT_TIMEOUT_MS;
    long connect_timeout =
        s->connect_timeout_ms > 0 ? s->connect_timeout_ms : SR_STREAM_DEFAULT_CONNECT_TIMEOUT_MS;
    ts->timeout_ns = (uint64_t)timeout * MS;
    ts->connect_timeout_ns = (uint64_t)connect_timeout * MS;
    if (tls) {
        sr_tls_client_conf tc = {
            .ca_file = s->ca_file,
            .cert_file = s->cert_file,
            .key_file = s->key_file,
            .insecure = s->insecure,
        };
        char why[400];
        ts->tls_ctx = sr_tls_ctx_new_client(&tc, why, sizeof why);
        if (!ts->tls_ctx) {
            snprintf(err, errlen, "stream sink: %s", why);
            sink_free(ts);
            return NULL;
        }
    }
    /* Last: from here on, freeing the sink needs the loop (tcp_close). */
    uv_timer_init(loop, &ts->timer);
    ts->timer.data = ts;
    ts->pending = 1;
    return &ts->base;
}
