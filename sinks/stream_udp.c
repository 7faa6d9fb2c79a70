/* stream_udp.c - the stream sink over UDP: one datagram per record.
 *
 * UDP has no acknowledgement and no connection: a batch is done once every
 * record was handed to the kernel, and what happens to it then is unknown.
 * The socket is connected to the peer (the first address the host name
 * resolves to), so an ICMP "port unreachable" for an earlier datagram comes
 * back as ECONNREFUSED on a later send: that batch fails and the delivery
 * layer sends it again, which is as close to "the receiver is down" as UDP
 * gets. After a failure the socket is closed and the name resolved again.
 *
 * A record larger than a datagram can carry (65507 bytes over IPv4) can
 * never be sent: it is reported as rejected (dead-lettered) on its own,
 * the rest of the batch goes.
 *
 * Batches are sent in send() order, one at a time; nothing is sent inside
 * send(). close() abandons the queue without callbacks. */
#include "stream.h"

#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MAX_DATAGRAM 65507

typedef struct udp_sink udp_sink;

typedef struct batch {
    struct batch *next;
    sr_sink_done_cb cb;
    void *ud;
    uint64_t start_ns;
    size_t n;
    uint32_t *lens;
    uint8_t *items; /* NULL unless a record was rejected */
    const char **reasons;
    size_t outstanding; /* sends not yet called back */
    int failed;         /* a send failed: the whole batch is retried */
    char error[200];
    char *data; /* the records back to back */
} batch;

typedef struct send_req {
    uv_udp_send_t req;
    batch *b;
    udp_sink *us;
} send_req;

struct udp_sink {
    sr_sink base;
    uv_loop_t *loop;
    char *host;
    int port;
    char endpoint[300];
    uv_udp_t udp;
    int udp_open; /* initialised and connected */
    uv_getaddrinfo_t gai;
    int resolving;
    uv_timer_t kick;
    batch *head, *tail; /* head is in flight once sending is set */
    int sending;
    unsigned pending; /* handles and requests still owed a callback */
    int closing;
};

static const char *const too_large = "record larger than a UDP datagram (65507 bytes)";

static void batch_free(batch *b) {
    if (!b)
        return;
    free(b->lens);
    free(b->items);
    free(b->reasons);
    free(b->data);
    free(b);
}

static void sink_free(udp_sink *us) {
    while (us->head) {
        batch *b = us->head;
        us->head = b->next;
        batch_free(b);
    }
    free(us->host);
    free(us);
}

static void release(udp_sink *us) {
    if (--us->pending == 0 && us->closing)
        sink_free(us);
}

static void on_handle_closed(uv_handle_t *h) { release(h->data); }

static void drop_socket(udp_sink *us) {
    if (!us->udp_open)
        return;
    us->udp_open = 0;
    uv_close((uv_handle_t *)&us->udp, on_handle_closed);
}

static void on_kick(uv_timer_t *t);

static void finish_head(udp_sink *us) {
    batch *b = us->head;
    us->head = b->next;
    if (!us->head)
        us->tail = NULL;
    us->sending = 0;
    sr_sink_result res;
    memset(&res, 0, sizeof res);
    res.retry_after_ms = -1;
    res.transport_ok = !b->failed;
    if (b->failed) {
        snprintf(res.error, sizeof res.error, "%s", b->error);
        drop_socket(us);
    } else if (b->items) {
        res.items = b->items;
        res.item_errors = b->reasons;
        res.nitems = b->n;
    }
    res.latency_ms = (double)(uv_hrtime() - b->start_ns) / 1e6;
    b->cb(b->ud, &res); /* may send() or close() */
    batch_free(b);
    if (!us->closing && us->head)
        uv_timer_start(&us->kick, on_kick, 0, 0);
}

static void on_sent(uv_udp_send_t *req, int status) {
    send_req *r = (send_req *)req;
    udp_sink *us = r->us;
    batch *b = r->b;
    free(r);
    if (us->closing) {
        release(us);
        return;
    }
    us->pending--;
    if (status < 0 && !b->failed) {
        b->failed = 1;
        snprintf(b->error, sizeof b->error, "send to %.100s failed: %.60s", us->endpoint,
                 uv_strerror(status));
        sr_warn("sink.stream", "%s", b->error);
    }
    if (--b->outstanding == 0)
        finish_head(us);
}

static int reject_item(batch *b, size_t i) {
    if (!b->items) {
        b->items = calloc(b->n, 1); /* SR_SINK_ITEM_OK is 0 */
        b->reasons = calloc(b->n, sizeof *b->reasons);
        if (!b->items || !b->reasons)
            return -1;
    }
    b->items[i] = SR_SINK_ITEM_REJECT;
    b->reasons[i] = too_large;
    return 0;
}

static void send_head(udp_sink *us) {
    batch *b = us->head;
    us->sending = 1;
    size_t off = 0;
    b->outstanding = 1; /* held until every datagram is queued */
    for (size_t i = 0; i < b->n && !b->failed; off += b->lens[i], i++) {
        if (b->lens[i] > MAX_DATAGRAM) {
            if (reject_item(b, i) != 0) {
                b->failed = 1;
                snprintf(b->error, sizeof b->error, "out of memory");
            }
            continue;
        }
        send_req *r = malloc(sizeof *r);
        if (!r) {
            b->failed = 1;
            snprintf(b->error, sizeof b->error, "out of memory");
            break;
        }
        r->b = b;
        r->us = us;
        uv_buf_t buf = uv_buf_init(b->data + off, b->lens[i]);
        int rc = uv_udp_send(&r->req, &us->udp, &buf, 1, NULL, on_sent);
        if (rc < 0) {
            free(r);
            b->failed = 1;
            snprintf(b->error, sizeof b->error, "send to %.100s failed: %.60s", us->endpoint,
                     uv_strerror(rc));
            sr_warn("sink.stream", "%s", b->error);
            break;
        }
        b->outstanding++;
        us->pending++;
    }
    if (--b->outstanding == 0)
        finish_head(us);
}

static void fail_head(udp_sink *us, const char *why) {
    batch *b = us->head;
    b->failed = 1;
    snprintf(b->error, sizeof b->error, "%.190s", why);
    sr_warn("sink.stream", "%s", why);
    finish_head(us);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    udp_sink *us = req->data;
    us->resolving = 0;
    if (us->closing) {
        uv_freeaddrinfo(res);
        release(us);
        return;
    }
    us->pending--;
    char why[400];
    if (status < 0 || !res) {
        snprintf(why, sizeof why, "cannot resolve %s: %s", us->host, uv_strerror(status));
        uv_freeaddrinfo(res);
        fail_head(us, why);
        return;
    }
    int rc = uv_udp_init(us->loop, &us->udp);
    if (rc == 0) {
        us->udp.data = us;
        us->udp_open = 1;
        us->pending++;
        rc = uv_udp_connect(&us->udp, res->ai_addr); /* the first address */
    }
    uv_freeaddrinfo(res);
    if (rc < 0) {
        snprintf(why, sizeof why, "cannot open a socket to %s: %s", us->endpoint, uv_strerror(rc));
        fail_head(us, why);
        return;
    }
    send_head(us);
}

static void start(udp_sink *us) {
    if (us->closing || us->sending || us->resolving || !us->head)
        return;
    if (us->udp_open) {
        send_head(us);
        return;
    }
    char service[16];
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(service, sizeof service, "%d", us->port);
    us->gai.data = us;
    int rc = uv_getaddrinfo(us->loop, &us->gai, on_resolved, us->host, service, &hints);
    if (rc < 0) {
        char why[400];
        snprintf(why, sizeof why, "cannot resolve %s: %s", us->host, uv_strerror(rc));
        us->sending = 1;
        fail_head(us, why);
        return;
    }
    us->resolving = 1;
    us->pending++;
}

static void on_kick(uv_timer_t *t) { start(t->data); }

static int udp_send(sr_sink *s, const sr_sink_payload *p, sr_sink_done_cb cb, void *ud) {
    udp_sink *us = (udp_sink *)s;
    if (us->closing || !cb || !p || (p->n && (!p->recs || !p->lens)))
        return -1;
    batch *b = calloc(1, sizeof *b);
    if (!b)
        return -1;
    size_t len = 0;
    for (size_t i = 0; i < p->n; i++)
        len += p->lens[i];
    b->n = p->n;
    b->lens = malloc((p->n ? p->n : 1) * sizeof *b->lens);
    b->data = malloc(len ? len : 1);
    if (!b->lens || !b->data) {
        batch_free(b);
        return -1;
    }
    size_t off = 0;
    for (size_t i = 0; i < p->n; i++) {
        b->lens[i] = p->lens[i];
        memcpy(b->data + off, p->recs[i], p->lens[i]);
        off += p->lens[i];
    }
    b->cb = cb;
    b->ud = ud;
    b->start_ns = uv_hrtime();
    if (us->tail)
        us->tail->next = b;
    else
        us->head = b;
    us->tail = b;
    uv_timer_start(&us->kick, on_kick, 0, 0);
    return 0;
}

static void udp_close(sr_sink *s) {
    udp_sink *us = (udp_sink *)s;
    if (us->closing)
        return;
    us->closing = 1;
    drop_socket(us); /* pending sends call back with UV_ECANCELED */
    if (us->resolving)
        uv_cancel((uv_req_t *)&us->gai);
    uv_close((uv_handle_t *)&us->kick, on_handle_closed);
}

static const sr_sink_ops udp_ops = {
    .name = "stream",
    .send = udp_send,
    .close = udp_close,
};

sr_sink *sr_stream_udp_sink_new(uv_loop_t *loop, const sr_stream_settings *s, char *err,
                                size_t errlen) {
    udp_sink *us = calloc(1, sizeof *us);
    if (!us || !(us->host = strdup(s->host))) {
        free(us);
        snprintf(err, errlen, "stream sink: out of memory");
        return NULL;
    }
    us->base.ops = &udp_ops;
    us->loop = loop;
    us->port = s->port;
    sr_stream_endpoint(us->endpoint, sizeof us->endpoint, us->host, us->port);
    uv_timer_init(loop, &us->kick);
    us->kick.data = us;
    us->pending = 1;
    return &us->base;
}
