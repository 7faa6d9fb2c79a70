/* http_server.h - a small HTTP/1.1 server on the libuv loop, for the HTTP
 * events input and the admin API.
 *
 * One listener, plain or TLS (tls_stream.h), requests parsed with
 * http-parser. Each connection handles one request at a time: once a request
 * is complete the server stops reading from that connection, calls the
 * handler, and reads on (pipelined bytes wait) only after the answer has been
 * written. Keep-alive follows HTTP/1.x rules (`Connection: close` honoured).
 *
 * The server answers by itself, with a JSON body {"error":"..."} and then
 * closes the connection, when:
 *   400 the request is malformed, or its framing is not strict RFC 9112
 *       (http_framing.h: whitespace before a colon, obs-fold, bare CR or LF,
 *       control characters, Content-Length with Transfer-Encoding,
 *       Transfer-Encoding in HTTP/1.0, malformed chunk extensions);
 *   408 a request was started but not completed within idle_timeout_ms
 *       (counted from the end of the previous answer, or from accept);
 *       its head did not arrive completely within header_timeout_ms of its
 *       first byte ("header_timeout"); its body brought fewer than
 *       body_progress_bytes in a body_progress_interval_ms ("body_too_slow").
 *       An idle keep-alive connection is closed silently after
 *       idle_timeout_ms;
 *   413 Content-Length, or a chunked body as it streams, exceeds max_body;
 *   503 the bodies being received together would exceed max_body_total;
 *   417 Expect carries anything but 100-continue;
 *   431 the header section exceeds 80 KiB or 64 fields;
 *   501 the client asks for a protocol upgrade, or a transfer coding other
 *       than "chunked".
 * Each refusal is counted by kind (http_refusal.h, sr_http_server_stats_get).
 * `Expect: 100-continue` is answered with "100 Continue" unless the announced
 * body is too large (then 413 straight away).
 *
 * Connections: the listener survives running out of file descriptors
 * (listener.h), and conn_guard.h applies `limits`: a connection waiting for
 * its next request (or its first) is idle, the oldest idle one is closed
 * when max_connections are open and another arrives, and an address with
 * max_per_peer connections open gets its next one closed at once.
 *
 * Answering: the handler receives the request and a response handle and
 * calls sr_http_respond() exactly once, right away or later (after async
 * work). If the client or the whole server goes away first, the handle and
 * the request stay valid until answered; the answer is then dropped. So
 * asynchronous work may keep the handle without caring about connections.
 *
 * All calls happen on the loop thread. The process must ignore SIGPIPE. */
#ifndef SR_HTTP_SERVER_H
#define SR_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "conn_guard.h"
#include "http_refusal.h"
#include "tls_stream.h"

#define SR_HTTP_MAX_HEADERS 64

typedef struct sr_http_server sr_http_server;
typedef struct sr_http_response sr_http_response;

typedef struct sr_http_header {
    const char *name;
    const char *value;
} sr_http_header;

/* One complete request. Everything it points to is owned by the response
 * handle and stays valid until sr_http_respond() returns. */
typedef struct sr_http_request {
    const char *method;            /* "GET", "POST", ... */
    const char *path;              /* request target up to '?', undecoded, e.g. "/v1/events" */
    const char *query;             /* after '?', undecoded; "" when none */
    const sr_http_header *headers; /* as received, in order */
    size_t nheaders;
    const char *body; /* NUL-terminated for convenience; body_len is the truth */
    size_t body_len;
    const char *peer;    /* "192.0.2.1:5555" */
    const char *peer_ip; /* "192.0.2.1" */
    int http_minor;      /* 1 for HTTP/1.1 */
    int tls;             /* 1 when the connection is TLS */
} sr_http_request;

/* Value of the first header called `name` (ASCII case-insensitive), or NULL. */
const char *sr_http_request_header(const sr_http_request *req, const char *name);

/* Hands the body's malloc'd, NUL-terminated storage to the caller, who frees
 * it; the request's body becomes empty. Returns NULL (len 0) for an empty
 * body. Saves a copy when the body goes on to code that takes ownership. */
char *sr_http_request_take_body(sr_http_request *req, size_t *len);

typedef void (*sr_http_handler)(void *ud, sr_http_request *req, sr_http_response *resp);

/* Called once a request's head is complete, before any of its body is read
 * (req->body is empty). Returns 0 to go on: the body is read and the handler
 * called. Returns 1 after answering with sr_http_respond() right away: the
 * body is then never read (what the client still sends is discarded) and
 * the connection closes after the answer. This is where a handler refuses
 * a request that must not cost memory, e.g. without credentials. */
typedef int (*sr_http_head_handler)(void *ud, sr_http_request *req, sr_http_response *resp);

typedef struct sr_http_server_conf {
    const char *name;         /* log component, e.g. "input.http"; copied */
    const char *host;         /* address or name to bind */
    int port;                 /* 0: any free port, see sr_http_server_port() */
    sr_tls_ctx *tls;          /* NULL: plain HTTP; borrowed, must outlive the server */
    size_t max_body;          /* bytes; 0 = no limit */
    uint64_t idle_timeout_ms; /* per request, see above; 0 = none */
    /* The request head must be complete this long after its first byte;
     * 0 = only idle_timeout_ms applies. */
    uint64_t header_timeout_ms;
    /* While a body is received, every interval must bring at least this
     * many bytes (or the body's end); 0 bytes or interval = no such rule. */
    size_t body_progress_bytes;
    uint64_t body_progress_interval_ms;
    sr_conn_limits limits; /* zero: no limits */
    /* Bytes of request bodies being received at once, all connections
     * together (a Content-Length counts in full as soon as it is announced,
     * a chunked body as it grows); beyond it 503 with Retry-After and close.
     * 0 = no limit. */
    size_t max_body_total;
    sr_http_head_handler head_handler; /* NULL: none */
} sr_http_server_conf;

/* Starts listening. On error returns NULL with e.g. "cannot listen on
 * 127.0.0.1:8080: address already in use" in err; the partly built server
 * releases itself on the next loop iteration. */
sr_http_server *sr_http_server_new(uv_loop_t *loop, const sr_http_server_conf *conf,
                                   sr_http_handler handler, void *ud, char *err, size_t errlen);

/* The bound port. */
int sr_http_server_port(const sr_http_server *srv);

typedef struct sr_http_server_stats {
    uint64_t connections;                    /* accepted and served, ever */
    uint64_t connections_open;               /* now */
    uint64_t refused[SR_HTTP_REFUSED_KINDS]; /* per kind, see http_refusal.h */
    uint64_t answered_at_head;               /* by the head handler, body unread */
    uint64_t body_bytes_reserved;            /* now, against max_body_total */
    uint64_t peers;                          /* addresses with connections open */
    uint64_t shed[SR_CONN_SHED_REASONS];     /* connections closed or refused, conn_guard.h */
} sr_http_server_stats;

/* Counters since the server started. */
void sr_http_server_stats_get(const sr_http_server *srv, sr_http_server_stats *out);

/* Counts a refusal a handler made itself (e.g. 401 from a head handler). */
void sr_http_server_count(sr_http_server *srv, sr_http_refusal kind);

/* Stops listening and closes every connection at once (answers still
 * pending are dropped when they come). `cb` (may be NULL) runs when all
 * handles are closed; the server is freed right after it. */
void sr_http_server_close(sr_http_server *srv, void (*cb)(void *ud), void *ud);

/* Answers a request, exactly once per handle, and frees the handle. Adds
 * Content-Length and, when needed, Connection; `content_type` and `extra`
 * may be NULL/0 (header lines with CR or LF are dropped). Returns 0 when the
 * answer was queued, -1 when it was dropped (client gone, write failed). */
int sr_http_respond(sr_http_response *resp, int status, const char *content_type,
                    const sr_http_header *extra, size_t nextra, const char *body, size_t len);

/* Convenience: {"error":"<message>"} as application/json. */
int sr_http_respond_error(sr_http_response *resp, int status, const char *message,
                          const sr_http_header *extra, size_t nextra);

/* The standard reason phrase ("Not Found"), or "Unknown". */
const char *sr_http_reason(int status);

#endif
