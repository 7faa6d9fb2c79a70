/* tls_stream.c - accepted TCP connections, plain or through a server
 * engine of tls_engine.h. */
#include "tls_stream.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sr_tls_stream {
    uv_tcp_t tcp; /* tcp.data points back here */
    uv_shutdown_t shutdown_req;
    sr_tls_engine *tls; /* NULL: plain TCP */
    sr_tls_stream_cbs cbs;
    void *ud;
    sr_tls_close_cb close_cb;
    void *close_ud;
    char *rbuf; /* every read's buffer: from the first read until freed */
    unsigned reading : 1, ended : 1, shutting_down : 1, closing : 1;
    char peer[64];
    char peer_ip[INET6_ADDRSTRLEN];
};

/* One queued write; owns the bytes until libuv is done with them. */
typedef struct write_req {
    uv_write_t req;
    sr_tls_write_cb cb;
    void *ud;
    char data[];
} write_req;

/* ---- Writing ----------------------------------------------------------- */

static void on_write(uv_write_t *req, int status) {
    write_req *w = (write_req *)req;
    if (w->cb)
        w->cb(w->ud, status);
    free(w);
}

static write_req *write_req_new(size_t len, sr_tls_write_cb cb, void *ud) {
    write_req *w = malloc(sizeof *w + len);
    if (!w)
        return NULL;
    w->cb = cb;
    w->ud = ud;
    return w;
}

static int write_req_queue(sr_tls_stream *s, write_req *w, size_t len) {
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&s->tcp, &buf, 1, on_write);
    if (rc < 0)
        free(w);
    return rc;
}

/* Sends whatever the engine has produced for the peer; `cb` rides on it. */
static int flush_ciphertext(sr_tls_stream *s, sr_tls_write_cb cb, void *ud) {
    size_t len = sr_tls_engine_pending(s->tls);
    if (len == 0)
        return cb ? UV_EPROTO : 0;
    write_req *w = write_req_new(len, cb, ud);
    if (!w)
        return UV_ENOMEM;
    if (sr_tls_engine_take(s->tls, w->data, len) != len) {
        free(w);
        return UV_EPROTO;
    }
    return write_req_queue(s, w, len);
}

int sr_tls_stream_write(sr_tls_stream *s, const void *data, size_t len, sr_tls_write_cb cb,
                        void *ud) {
    if (s->closing)
        return UV_ECANCELED;
    if (len == 0 || len > INT32_MAX)
        return UV_EINVAL;
    if (!s->tls) {
        write_req *w = write_req_new(len, cb, ud);
        if (!w)
            return UV_ENOMEM;
        memcpy(w->data, data, len);
        return write_req_queue(s, w, len);
    }
    if (sr_tls_engine_write(s->tls, data, len) != 0)
        return UV_EPROTO;
    return flush_ciphertext(s, cb, ud);
}

/* ---- Reading ----------------------------------------------------------- */

static void stream_end(sr_tls_stream *s, int status, const char *why) {
    if (s->ended || s->closing)
        return;
    s->ended = 1;
    sr_tls_stream_read_stop(s);
    s->cbs.on_end(s->ud, status, why);
}

static int on_plain(void *ud, const char *data, size_t len) {
    sr_tls_stream *s = ud;
    s->cbs.on_data(s->ud, data, len);
    return s->ended || s->closing; /* the owner may end or close it from on_data */
}

/* Decrypts everything the ciphertext fed so far allows. The engine also
 * drives the handshake, whose answers go out through flush_ciphertext(). */
static void tls_feed(sr_tls_stream *s, const char *data, size_t len) {
    char why[400];
    sr_tls_status st = sr_tls_engine_feed(s->tls, data, len, on_plain, s, why, sizeof why);
    if (s->closing)
        return;
    /* Handshake messages and alerts must leave even when we fail. */
    flush_ciphertext(s, NULL, NULL);
    if (st == SR_TLS_CLOSED)
        stream_end(s, 0, why);
    else if (st != SR_TLS_OK)
        stream_end(s, UV_EPROTO, why);
}

/* One buffer per stream, reused by every read: libuv hands it to on_read
 * before it asks again, and on_read is done with it when it returns (the
 * callbacks copy what they keep). Out of memory: UV_ENOBUFS in on_read. */
static void on_alloc(uv_handle_t *handle, size_t hint, uv_buf_t *buf) {
    sr_tls_stream *s = handle->data;
    (void)hint;
    if (!s->rbuf)
        s->rbuf = malloc(SR_TLS_STREAM_READ_BYTES);
    buf->base = s->rbuf;
    buf->len = s->rbuf ? SR_TLS_STREAM_READ_BYTES : 0;
}

static void on_read(uv_stream_t *tcp, ssize_t n, const uv_buf_t *buf) {
    sr_tls_stream *s = tcp->data;
    if (n > 0) {
        if (s->tls)
            tls_feed(s, buf->base, (size_t)n);
        else
            s->cbs.on_data(s->ud, buf->base, (size_t)n);
    } else if (n == UV_EOF) {
        stream_end(s, 0, "end of stream");
    } else if (n < 0) {
        stream_end(s, (int)n, uv_strerror((int)n));
    }
}

int sr_tls_stream_read_start(sr_tls_stream *s) {
    if (s->reading || s->ended || s->closing)
        return 0;
    int rc = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    if (rc == 0)
        s->reading = 1;
    return rc;
}

void sr_tls_stream_read_stop(sr_tls_stream *s) {
    if (!s->reading)
        return;
    uv_read_stop((uv_stream_t *)&s->tcp);
    s->reading = 0;
}

/* ---- Lifecycle --------------------------------------------------------- */

static void format_peer(sr_tls_stream *s) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    snprintf(s->peer_ip, sizeof s->peer_ip, "?");
    snprintf(s->peer, sizeof s->peer, "?");
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, s->peer_ip, sizeof s->peer_ip);
        snprintf(s->peer, sizeof s->peer, "[%s]:%u", s->peer_ip, ntohs(a->sin6_port));
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        uv_ip4_name(a, s->peer_ip, sizeof s->peer_ip);
        snprintf(s->peer, sizeof s->peer, "%s:%u", s->peer_ip, ntohs(a->sin_port));
    }
}

static void on_closed(uv_handle_t *handle) {
    sr_tls_stream *s = handle->data;
    if (s->close_cb)
        s->close_cb(s->close_ud);
    sr_tls_engine_free(s->tls);
    free(s->rbuf);
    free(s);
}

/* The part of accepting and adopting that comes once the socket is in
 * s->tcp: the peer's name and, with a context, a server engine. */
static sr_tls_stream *stream_ready(sr_tls_stream *s, sr_tls_ctx *ctx, char *err, size_t errlen) {
    format_peer(s);
    if (ctx && !(s->tls = sr_tls_engine_new_server(ctx, err, errlen))) {
        uv_close((uv_handle_t *)&s->tcp, on_closed);
        return NULL;
    }
    uv_tcp_nodelay(&s->tcp, 1);
    s->closing = 0;
    return s;
}

static sr_tls_stream *stream_new(uv_loop_t *loop, const sr_tls_stream_cbs *cbs, void *ud, char *err,
                                 size_t errlen) {
    sr_tls_stream *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int rc = uv_tcp_init(loop, &s->tcp);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create socket: %s", uv_strerror(rc));
        free(s);
        return NULL;
    }
    s->tcp.data = s;
    s->cbs = *cbs;
    s->ud = ud;
    s->closing = 1; /* until fully set up: no callbacks on failure */
    return s;
}

sr_tls_stream *sr_tls_stream_accept(uv_stream_t *server, sr_tls_ctx *ctx,
                                    const sr_tls_stream_cbs *cbs, void *ud, char *err,
                                    size_t errlen) {
    sr_tls_stream *s = stream_new(server->loop, cbs, ud, err, errlen);
    if (!s)
        return NULL;
    int rc = uv_accept(server, (uv_stream_t *)&s->tcp);
    if (rc < 0) {
        snprintf(err, errlen, "cannot accept: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)&s->tcp, on_closed);
        return NULL;
    }
    return stream_ready(s, ctx, err, errlen);
}

sr_tls_stream *sr_tls_stream_open(uv_loop_t *loop, int fd, sr_tls_ctx *ctx,
                                  const sr_tls_stream_cbs *cbs, void *ud, char *err,
                                  size_t errlen) {
    sr_tls_stream *s = stream_new(loop, cbs, ud, err, errlen);
    if (!s) {
        close(fd);
        return NULL;
    }
    int rc = uv_tcp_open(&s->tcp, fd);
    if (rc < 0) {
        snprintf(err, errlen, "cannot adopt the connection: %s", uv_strerror(rc));
        close(fd);
        uv_close((uv_handle_t *)&s->tcp, on_closed);
        return NULL;
    }
    return stream_ready(s, ctx, err, errlen);
}

const char *sr_tls_stream_peer(const sr_tls_stream *s) { return s->peer; }
const char *sr_tls_stream_peer_ip(const sr_tls_stream *s) { return s->peer_ip; }
int sr_tls_stream_is_tls(const sr_tls_stream *s) { return s->tls != NULL; }

void sr_tls_stream_shutdown(sr_tls_stream *s) {
    if (s->closing || s->shutting_down)
        return;
    s->shutting_down = 1;
    if (s->tls && sr_tls_engine_ready(s->tls)) {
        sr_tls_engine_close_notify(s->tls);
        flush_ciphertext(s, NULL, NULL);
    }
    /* Failure (peer already gone) changes nothing: the owner closes anyway. */
    uv_shutdown(&s->shutdown_req, (uv_stream_t *)&s->tcp, NULL);
}

void sr_tls_stream_close(sr_tls_stream *s, sr_tls_close_cb cb, void *ud) {
    if (s->closing)
        return;
    s->closing = 1;
    s->close_cb = cb;
    s->close_ud = ud;
    uv_close((uv_handle_t *)&s->tcp, on_closed);
}
