/* http_server.c - HTTP/1.1 server: listener, connections, parsing, answers.
 *
 * A connection moves through four states:
 *
 *   READING --request complete--> HANDLING --sr_http_respond--> WRITING
 *      ^                                                           |
 *      +------------------- written, keep-alive -------------------+
 *                                                                  |
 *   DRAINING <--------- written, no keep-alive (or any error) -----+
 *
 * Only READING and DRAINING read from the socket; DRAINING discards what it
 * reads until the peer closes or a short linger timer fires. The request
 * being parsed or handled lives in an "exchange" (the sr_http_response
 * handle), which outlives its connection when the handler still holds it. */
#include "http_server.h"

#include <http_parser.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "http_framing.h"
#include "listener.h"
#include "log.h"

/* How long a closing connection drains input the peer is still sending. */
#define LINGER_MS 2000

typedef struct http_conn http_conn;

typedef enum { CONN_READING, CONN_HANDLING, CONN_WRITING, CONN_DRAINING } conn_state;

typedef enum { FIELD_NONE, FIELD_NAME, FIELD_VALUE } field_state;

struct sr_http_response {
    http_conn *conn; /* NULL once the connection is gone: the answer is dropped */
    sr_http_request req;
    sr_buf url;
    sr_buf fields; /* "name\0value\0" per header; offsets below */
    size_t field_off[SR_HTTP_MAX_HEADERS][2];
    size_t nfields;
    field_state fstate;
    sr_http_header headers[SR_HTTP_MAX_HEADERS];
    sr_buf body;
    char *path, *query;
    char peer[64], peer_ip[INET6_ADDRSTRLEN];
    int keep_alive, head;
    size_t reserved; /* bytes of the server's body budget this request holds */
};

struct http_conn {
    sr_http_server *srv;
    http_conn *prev, *next;
    sr_conn_slot slot; /* in the server's guard, from accept to close */
    sr_tls_stream *stream;
    uv_timer_t timer;       /* request deadlines in READING, linger in DRAINING */
    uint64_t waiting_since; /* READING: when the server began to wait for this request */
    uint64_t started_at;    /* its first byte */
    uint64_t rx;            /* bytes received while READING */
    uint64_t rx_mark;       /* `rx` at the last body progress check */
    uint64_t next_check;    /* when the body's progress is checked next */
    int in_body;            /* the head is complete, the body is coming */
    http_parser parser;
    sr_http_framing framing; /* the strict reading of the same bytes */
    sr_http_response *ex;    /* the request being parsed (READING) or handled */
    sr_buf pending;          /* bytes received while not READING: the next requests */
    conn_state state;
    int failed; /* set by a parser callback that stops the parser */
    sr_http_refusal fail_kind;
    const char *fail_msg; /* NULL: the kind's message */
    int keep_alive;       /* for the answer being written */
    int http_minor;       /* of the last request */
    int started;          /* bytes of a request arrived since the last answer */
    int peer_ended;       /* the peer closed its side; answer, then close */
    int discard;          /* answered at the head: the rest of the request is dropped */
    int closing;
    int open_handles; /* timer + stream, while closing */
};

struct sr_http_server {
    uv_loop_t *loop;
    sr_listener *listener;
    sr_conn_guard *guard;
    uint64_t fd_dropped; /* the listener's count, kept when it closes */
    int port;
    sr_http_server_conf conf;
    char name[32];
    sr_http_handler handler;
    void *ud;
    http_conn *conns;
    size_t nconns;
    sr_http_server_stats stats;
    int closing, listener_closed;
    void (*close_cb)(void *ud);
    void *close_ud;
};

static void conn_close(http_conn *c);
static void conn_fail(http_conn *c, sr_http_refusal kind, const char *msg);

/* ---- Answers ----------------------------------------------------------- */

const char *sr_http_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

/* Header text from a handler must not split the response. */
static int header_text_ok(const char *s) { return s && !strpbrk(s, "\r\n"); }

/* The server owns framing: the handler may not set these. */
static int header_reserved(const char *name) {
    return strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Connection") == 0 ||
           strcasecmp(name, "Transfer-Encoding") == 0;
}

static int asks_close(const sr_http_header *extra, size_t nextra) {
    for (size_t i = 0; i < nextra; i++)
        if (strcasecmp(extra[i].name, "Connection") == 0 && extra[i].value &&
            strcasecmp(extra[i].value, "close") == 0)
            return 1;
    return 0;
}

static int format_head(sr_buf *out, const http_conn *c, int status, const char *ctype,
                       const sr_http_header *extra, size_t nextra, size_t len) {
    int rc = sr_buf_printf(out, "HTTP/1.1 %d %s\r\n", status, sr_http_reason(status));
    if (ctype && header_text_ok(ctype))
        rc |= sr_buf_printf(out, "Content-Type: %s\r\n", ctype);
    rc |= sr_buf_printf(out, "Content-Length: %zu\r\n", len);
    if (!c->keep_alive)
        rc |= sr_buf_puts(out, "Connection: close\r\n");
    else if (c->http_minor == 0)
        rc |= sr_buf_puts(out, "Connection: keep-alive\r\n");
    for (size_t i = 0; i < nextra; i++) {
        const sr_http_header *h = &extra[i];
        if (header_text_ok(h->name) && header_text_ok(h->value) && !header_reserved(h->name))
            rc |= sr_buf_printf(out, "%s: %s\r\n", h->name, h->value);
    }
    rc |= sr_buf_puts(out, "\r\n");
    return rc;
}

static void conn_next_request(http_conn *c);
static void conn_drain(http_conn *c);

static void on_answer_written(void *ud, int status) {
    http_conn *c = ud;
    if (c->closing)
        return;
    if (status < 0)
        conn_close(c);
    else if (c->keep_alive)
        conn_next_request(c);
    else
        conn_drain(c);
}

/* Queues one answer; c->keep_alive decides what follows it. */
static int conn_write_answer(http_conn *c, int status, const char *ctype,
                             const sr_http_header *extra, size_t nextra, const char *body,
                             size_t len, int head_only) {
    sr_buf out = SR_BUF_INIT;
    if (format_head(&out, c, status, ctype, extra, nextra, len) != 0 ||
        (!head_only && len && sr_buf_append(&out, body, len) != 0))
        goto fail;
    if (sr_tls_stream_write(c->stream, out.data, out.len, on_answer_written, c) < 0)
        goto fail;
    sr_buf_free(&out);
    return 0;
fail:
    sr_buf_free(&out);
    conn_close(c);
    return -1;
}

static int json_error(sr_buf *b, const char *message) {
    return sr_buf_puts(b, "{\"error\":") | sr_buf_json_string(b, message, strlen(message)) |
           sr_buf_puts(b, "}");
}

/* ---- Exchanges (requests and their response handles) ------------------ */

static sr_http_response *exchange_new(http_conn *c) {
    sr_http_response *ex = calloc(1, sizeof *ex);
    if (!ex)
        return NULL;
    ex->conn = c;
    snprintf(ex->peer, sizeof ex->peer, "%s", sr_tls_stream_peer(c->stream));
    snprintf(ex->peer_ip, sizeof ex->peer_ip, "%s", sr_tls_stream_peer_ip(c->stream));
    ex->req.peer = ex->peer;
    ex->req.peer_ip = ex->peer_ip;
    ex->req.tls = sr_tls_stream_is_tls(c->stream);
    ex->req.body = "";
    return ex;
}

/* Gives the request's share of the body budget back. */
static void exchange_release(sr_http_response *ex) {
    if (ex->conn && ex->reserved)
        ex->conn->srv->stats.body_bytes_reserved -= ex->reserved;
    ex->reserved = 0;
}

/* Takes `n` more bytes of the body budget: 0, or -1 when it is spent. */
static int exchange_reserve(sr_http_response *ex, uint64_t n) {
    sr_http_server *srv = ex->conn->srv;
    size_t limit = srv->conf.max_body_total;
    if (limit && (n > limit || srv->stats.body_bytes_reserved > limit - n))
        return -1;
    srv->stats.body_bytes_reserved += n;
    ex->reserved += n;
    return 0;
}

static void exchange_free(sr_http_response *ex) {
    if (!ex)
        return;
    exchange_release(ex);
    sr_buf_free(&ex->url);
    sr_buf_free(&ex->fields);
    sr_buf_free(&ex->body);
    free(ex->path);
    free(ex->query);
    free(ex);
}

const char *sr_http_request_header(const sr_http_request *req, const char *name) {
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

char *sr_http_request_take_body(sr_http_request *req, size_t *len) {
    sr_http_response *ex = (sr_http_response *)((char *)req - offsetof(sr_http_response, req));
    char *body = ex->body.len ? sr_buf_steal(&ex->body, len) : NULL;
    exchange_release(ex); /* its new owner bounds it from now on */
    if (!body)
        *len = 0;
    sr_buf_free(&ex->body);
    req->body = "";
    req->body_len = 0;
    return body;
}

/* Ends the header block: NUL-terminates the last field, trims values and
 * publishes the header array. */
static int exchange_finish_headers(sr_http_response *ex) {
    if (ex->fstate == FIELD_NAME) {
        if (sr_buf_putc(&ex->fields, '\0') != 0)
            return -1;
        ex->field_off[ex->nfields - 1][1] = ex->fields.len;
        ex->fstate = FIELD_VALUE;
    }
    if (ex->fstate == FIELD_VALUE && sr_buf_putc(&ex->fields, '\0') != 0)
        return -1;
    for (size_t i = 0; i < ex->nfields; i++) {
        char *value = ex->fields.data + ex->field_off[i][1];
        size_t n = strlen(value);
        while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
            value[--n] = '\0';
        ex->headers[i].name = ex->fields.data + ex->field_off[i][0];
        ex->headers[i].value = value;
    }
    ex->req.headers = ex->headers;
    ex->req.nheaders = ex->nfields;
    return 0;
}

/* Splits the request target into path and query: 0, 1 malformed, -1 OOM. */
static int exchange_split_target(sr_http_response *ex, int is_connect) {
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (ex->url.len == 0 || http_parser_parse_url(ex->url.data, ex->url.len, is_connect, &u))
        return 1;
    if (u.field_set & (1 << UF_PATH))
        ex->path = strndup(ex->url.data + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
    else
        ex->path = strdup("/");
    if (u.field_set & (1 << UF_QUERY))
        ex->query = strndup(ex->url.data + u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
    else
        ex->query = strdup("");
    if (!ex->path || !ex->query)
        return -1;
    ex->req.path = ex->path;
    ex->req.query = ex->query;
    return 0;
}

/* ---- Parser callbacks -------------------------------------------------- */

/* Stops the parser; conn_parse() then refuses the request and closes. */
static int parse_fail(http_conn *c, sr_http_refusal kind, const char *msg) {
    c->failed = 1;
    c->fail_kind = kind;
    c->fail_msg = msg;
    return -1;
}

static int on_message_begin(http_parser *p) {
    http_conn *c = p->data;
    c->ex = exchange_new(c);
    return c->ex ? 0 : parse_fail(c, SR_HTTP_REFUSED_NO_MEMORY, NULL);
}

static int on_url(http_parser *p, const char *at, size_t len) {
    http_conn *c = p->data;
    return sr_buf_append(&c->ex->url, at, len) ? parse_fail(c, SR_HTTP_REFUSED_NO_MEMORY, NULL) : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
    http_conn *c = p->data;
    sr_http_response *ex = c->ex;
    if (ex->fstate != FIELD_NAME) { /* a new field; else a continued piece */
        if (ex->fstate == FIELD_VALUE && sr_buf_putc(&ex->fields, '\0') != 0)
            return parse_fail(c, SR_HTTP_REFUSED_NO_MEMORY, NULL);
        if (ex->nfields == SR_HTTP_MAX_HEADERS)
            return parse_fail(c, SR_HTTP_REFUSED_HEADERS_TOO_LARGE, "too many header fields");
        ex->field_off[ex->nfields++][0] = ex->fields.len;
        ex->fstate = FIELD_NAME;
    }
    return sr_buf_append(&ex->fields, at, len) ? parse_fail(c, SR_HTTP_REFUSED_NO_MEMORY, NULL) : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
    http_conn *c = p->data;
    sr_http_response *ex = c->ex;
    if (ex->fstate != FIELD_VALUE) {
        if (sr_buf_putc(&ex->fields, '\0') != 0)
            return parse_fail(c, SR_HTTP_REFUSED_NO_MEMORY, NULL);
        ex->field_off[ex->nfields - 1][1] = ex->fields.len;
        ex->fstate = FIELD_VALUE;
    }
    return sr_buf_append(&ex->fields, at, len) ? parse_fail(c, SR_HTTP_REFUSED_NO_MEMORY, NULL) : 0;
}

/* Expect: 100-continue lets a client learn about 413 before uploading. */
static int handle_expect(http_conn *c) {
    const char *expect = sr_http_request_header(&c->ex->req, "Expect");
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (!expect)
        return 0;
    if (strcasecmp(expect, "100-continue") != 0)
        return parse_fail(c, SR_HTTP_REFUSED_EXPECTATION, NULL);
    if (c->parser.http_major == 1 && c->parser.http_minor >= 1)
        sr_tls_stream_write(c->stream, cont, sizeof cont - 1, NULL, NULL);
    return 0;
}

static void conn_arm_reading(http_conn *c);

/* From here on the head deadline is met and the body's progress counts
 * (a request without a body is dispatched before any check). */
static void conn_body_begins(http_conn *c) {
    c->in_body = 1;
    c->rx_mark = c->rx;
    c->next_check = uv_now(c->srv->loop) + c->srv->conf.body_progress_interval_ms;
    conn_arm_reading(c);
}

static int on_headers_complete(http_parser *p) {
    http_conn *c = p->data;
    sr_http_response *ex = c->ex;
    size_t max_body = c->srv->conf.max_body;

    if (exchange_finish_headers(ex) != 0)
        return parse_fail(c, SR_HTTP_REFUSED_NO_MEMORY, NULL);
    int rc = exchange_split_target(ex, p->method == HTTP_CONNECT);
    if (rc != 0)
        return rc > 0 ? parse_fail(c, SR_HTTP_REFUSED_MALFORMED, "malformed request target")
                      : parse_fail(c, SR_HTTP_REFUSED_NO_MEMORY, NULL);
    if (p->upgrade)
        return parse_fail(c, SR_HTTP_REFUSED_UPGRADE, NULL);
    ex->req.method = http_method_str(p->method);
    ex->req.http_minor = p->http_minor;
    ex->head = p->method == HTTP_HEAD;
    c->http_minor = p->http_minor;
    if (c->srv->conf.head_handler && c->srv->conf.head_handler(c->srv->ud, &ex->req, ex)) {
        /* Answered: `ex` is gone; stop before the body. */
        c->srv->stats.answered_at_head++;
        c->discard = 1;
        return -1;
    }
    /* ULLONG_MAX: no Content-Length (chunked bodies are checked as they come). */
    if (p->content_length != ULLONG_MAX && max_body && p->content_length > max_body)
        return parse_fail(c, SR_HTTP_REFUSED_TOO_LARGE, NULL);
    if (p->content_length != ULLONG_MAX) {
        if (exchange_reserve(ex, p->content_length) != 0)
            return parse_fail(c, SR_HTTP_REFUSED_BODY_BUDGET, NULL);
        if (sr_buf_reserve(&ex->body, (size_t)p->content_length) != 0)
            return parse_fail(c, SR_HTTP_REFUSED_NO_MEMORY, NULL);
    }
    conn_body_begins(c);
    return handle_expect(c);
}

static int on_body(http_parser *p, const char *at, size_t len) {
    http_conn *c = p->data;
    sr_http_response *ex = c->ex;
    size_t max_body = c->srv->conf.max_body;
    if (max_body && len > max_body - ex->body.len)
        return parse_fail(c, SR_HTTP_REFUSED_TOO_LARGE, NULL);
    if (ex->body.len + len > ex->reserved &&
        exchange_reserve(ex, ex->body.len + len - ex->reserved))
        return parse_fail(c, SR_HTTP_REFUSED_BODY_BUDGET, NULL);
    return sr_buf_append(&ex->body, at, len) ? parse_fail(c, SR_HTTP_REFUSED_NO_MEMORY, NULL) : 0;
}

/* Pausing makes http_parser_execute() return right after this message, so
 * pipelined bytes stay unparsed until the answer is out. */
static int on_message_complete(http_parser *p) {
    http_conn *c = p->data;
    sr_http_response *ex = c->ex;
    ex->keep_alive = http_should_keep_alive(p);
    if (ex->body.len) {
        ex->req.body = ex->body.data;
        ex->req.body_len = ex->body.len;
    }
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- Connections ------------------------------------------------------- */

static void on_conn_timer(uv_timer_t *timer);

static void conn_arm_timer(http_conn *c, uint64_t ms) {
    if (ms)
        uv_timer_start(&c->timer, on_conn_timer, ms, 0);
    else
        uv_timer_stop(&c->timer);
}

static int body_progress_on(const sr_http_server_conf *cf) {
    return cf->body_progress_bytes && cf->body_progress_interval_ms;
}

static uint64_t earliest(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* One timer serves every deadline of a request being read: the request as
 * a whole (idle_timeout_ms from when the server began to wait for it), its
 * head (header_timeout_ms from its first byte), and its body's progress. */
static void conn_arm_reading(http_conn *c) {
    const sr_http_server_conf *cf = &c->srv->conf;
    uint64_t due = UINT64_MAX;
    if (cf->idle_timeout_ms)
        due = c->waiting_since + cf->idle_timeout_ms;
    if (c->started && !c->in_body && cf->header_timeout_ms)
        due = earliest(due, c->started_at + cf->header_timeout_ms);
    if (c->in_body && body_progress_on(cf))
        due = earliest(due, c->next_check);
    if (due == UINT64_MAX) {
        uv_timer_stop(&c->timer);
        return;
    }
    uint64_t now = uv_now(c->srv->loop);
    uv_timer_start(&c->timer, on_conn_timer, due > now ? due - now : 0, 0);
}

/* A new request may begin: the connection is idle until its first byte. */
static void conn_wait_request(http_conn *c) {
    c->state = CONN_READING;
    c->started = 0;
    c->in_body = 0;
    c->rx = 0;
    c->waiting_since = uv_now(c->srv->loop);
    sr_conn_guard_set_idle(c->srv->guard, &c->slot, 1);
    conn_arm_reading(c);
}

static void conn_dispatch(http_conn *c) {
    sr_http_response *ex = c->ex;
    c->state = CONN_HANDLING;
    sr_tls_stream_read_stop(c->stream);
    uv_timer_stop(&c->timer);
    c->srv->handler(c->srv->ud, &ex->req, ex);
}

/* The strict lexer reads first and bounds what http-parser sees to the
 * current request; both must then agree on where it ends. */
static void conn_parse(http_conn *c, const char *data, size_t len) {
    int done;
    c->rx += len;
    if (len && !c->started) {
        c->started = 1;
        c->started_at = uv_now(c->srv->loop);
        sr_conn_guard_set_idle(c->srv->guard, &c->slot, 0);
        conn_arm_reading(c);
    }
    long m = sr_http_framing_feed(&c->framing, data, len, &done);
    if (m < 0) {
        conn_fail(c, sr_http_framing_refusal(&c->framing), NULL);
        return;
    }
    size_t n = http_parser_execute(&c->parser, &parser_settings, data, (size_t)m);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        if (!done || n != (size_t)m)
            conn_fail(c, SR_HTTP_REFUSED_FRAMING_MISMATCH, NULL);
        else if (sr_buf_append(&c->pending, data + n, len - n) != 0)
            conn_close(c);
        else
            conn_dispatch(c);
    } else if (e != HPE_OK) {
        if (c->discard)
            return; /* answered at the head; the answer closes the connection */
        if (c->failed)
            conn_fail(c, c->fail_kind, c->fail_msg);
        else if (e == HPE_HEADER_OVERFLOW)
            conn_fail(c, SR_HTTP_REFUSED_HEADERS_TOO_LARGE, NULL);
        else
            conn_fail(c, SR_HTTP_REFUSED_MALFORMED, http_errno_description(e));
    } else if (done) {
        conn_fail(c, SR_HTTP_REFUSED_FRAMING_MISMATCH, NULL);
    }
}

static void conn_next_request(http_conn *c) {
    http_parser_pause(&c->parser, 0);
    conn_wait_request(c);
    if (c->pending.len) {
        sr_buf in = c->pending;
        c->pending = (sr_buf)SR_BUF_INIT;
        conn_parse(c, in.data, in.len);
        sr_buf_free(&in);
    }
    if (c->state != CONN_READING || c->closing)
        return;
    if (c->peer_ended)
        conn_close(c);
    else if (sr_tls_stream_read_start(c->stream) < 0)
        conn_close(c);
}

/* After the last answer: FIN, then discard input for a moment (see
 * sr_tls_stream_shutdown for why), then close. */
static void conn_drain(http_conn *c) {
    c->state = CONN_DRAINING;
    sr_buf_free(&c->pending);
    sr_tls_stream_shutdown(c->stream);
    if (c->peer_ended || sr_tls_stream_read_start(c->stream) < 0) {
        conn_close(c);
        return;
    }
    conn_arm_timer(c, LINGER_MS);
}

/* Answers a request the server refuses by itself, counts it, then closes. */
static void conn_fail(http_conn *c, sr_http_refusal kind, const char *msg) {
    sr_buf body = SR_BUF_INIT;
    int status = sr_http_refusal_status(kind);
    if (!msg)
        msg = sr_http_refusal_message(kind);
    c->srv->stats.refused[kind]++;
    sr_debug(c->srv->name, "%s: %d %s", sr_tls_stream_peer(c->stream), status, msg);
    exchange_free(c->ex);
    c->ex = NULL;
    c->keep_alive = 0;
    c->state = CONN_DRAINING; /* discard the rest of what the client sends */
    conn_arm_timer(c, LINGER_MS);
    /* A 503 is about load: the client may come back soon. */
    static const sr_http_header retry = {"Retry-After", "1"};
    if (json_error(&body, msg) != 0)
        conn_close(c);
    else
        conn_write_answer(c, status, "application/json", status == 503 ? &retry : NULL,
                          status == 503, body.data, body.len, 0);
    sr_buf_free(&body);
}

static void conn_on_data(void *ud, const char *data, size_t len) {
    http_conn *c = ud;
    switch (c->state) {
    case CONN_READING: conn_parse(c, data, len); break;
    case CONN_HANDLING:
    case CONN_WRITING:
        if (c->discard)
            break;
        /* TLS can hand over more than one read's worth after read_stop. */
        if (sr_buf_append(&c->pending, data, len) != 0)
            conn_close(c);
        break;
    case CONN_DRAINING: break;
    }
}

static void conn_on_end(void *ud, int status, const char *why) {
    http_conn *c = ud;
    if (status == UV_EPROTO)
        sr_warn(c->srv->name, "%s: %s", sr_tls_stream_peer(c->stream), why);
    else if (status < 0)
        sr_debug(c->srv->name, "%s: %s", sr_tls_stream_peer(c->stream), why);
    if (status == 0 && (c->state == CONN_HANDLING || c->state == CONN_WRITING))
        c->peer_ended = 1; /* a half-close still gets its answer */
    else
        conn_close(c);
}

/* Which deadline of the request being read passed, if any. */
static int conn_overdue(http_conn *c, uint64_t now, sr_http_refusal *kind) {
    const sr_http_server_conf *cf = &c->srv->conf;
    if (!c->in_body && cf->header_timeout_ms && now >= c->started_at + cf->header_timeout_ms) {
        *kind = SR_HTTP_REFUSED_HEADER_TIMEOUT;
        return 1;
    }
    if (c->in_body && body_progress_on(cf) && now >= c->next_check) {
        if (c->rx - c->rx_mark < cf->body_progress_bytes) {
            *kind = SR_HTTP_REFUSED_BODY_TOO_SLOW;
            return 1;
        }
        c->rx_mark = c->rx;
        c->next_check = now + cf->body_progress_interval_ms;
    }
    if (cf->idle_timeout_ms && now >= c->waiting_since + cf->idle_timeout_ms) {
        *kind = SR_HTTP_REFUSED_TIMEOUT;
        return 1;
    }
    return 0;
}

static void on_conn_timer(uv_timer_t *timer) {
    http_conn *c = timer->data;
    sr_http_refusal kind;
    if (c->state != CONN_READING) {
        conn_close(c); /* the linger after the last answer is over */
    } else if (!c->started) {
        conn_close(c); /* idle for idle_timeout_ms: nothing to answer */
    } else if (conn_overdue(c, uv_now(c->srv->loop), &kind)) {
        sr_debug(c->srv->name, "%s: %s", sr_tls_stream_peer(c->stream),
                 sr_http_refusal_message(kind));
        conn_fail(c, kind, NULL);
    } else {
        conn_arm_reading(c);
    }
}

static void server_maybe_done(sr_http_server *srv) {
    if (!srv->closing || !srv->listener_closed || srv->nconns > 0)
        return;
    if (srv->close_cb)
        srv->close_cb(srv->close_ud);
    sr_conn_guard_free(srv->guard);
    free(srv);
}

static void conn_release(http_conn *c) {
    if (--c->open_handles > 0)
        return;
    sr_http_server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    sr_buf_free(&c->pending);
    free(c);
    server_maybe_done(srv);
}

static void on_conn_timer_closed(uv_handle_t *handle) { conn_release(handle->data); }
static void on_conn_stream_closed(void *ud) { conn_release(ud); }

static void conn_close(http_conn *c) {
    if (c->closing)
        return;
    c->closing = 1;
    sr_conn_guard_leave(c->srv->guard, &c->slot);
    if (c->ex && c->state == CONN_HANDLING) {
        exchange_release(c->ex);
        c->ex->conn = NULL; /* the handler still holds it */
    } else
        exchange_free(c->ex);
    c->ex = NULL;
    c->open_handles = 2;
    uv_close((uv_handle_t *)&c->timer, on_conn_timer_closed);
    sr_tls_stream_close(c->stream, on_conn_stream_closed, c);
}

static const sr_tls_stream_cbs conn_cbs = {conn_on_data, conn_on_end};

static void conn_evict(sr_conn_slot *slot) {
    http_conn *c = (http_conn *)((char *)slot - offsetof(http_conn, slot));
    sr_debug(c->srv->name, "%s: idle, closed to make room", sr_tls_stream_peer(c->stream));
    conn_close(c);
}

static void server_accept(void *ud, int fd, const char *peer_ip) {
    sr_http_server *srv = ud;
    char err[128];
    http_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->srv = srv;
    c->slot.evict = conn_evict;
    if (sr_conn_guard_admit(srv->guard, &c->slot, peer_ip) != 0) {
        srv->stats.refused[SR_HTTP_REFUSED_CONNECTIONS]++;
        close(fd);
        free(c);
        return;
    }
    c->stream = sr_tls_stream_open(srv->loop, fd, srv->conf.tls, &conn_cbs, c, err, sizeof err);
    if (!c->stream) {
        sr_warn(srv->name, "%s", err);
        sr_conn_guard_leave(srv->guard, &c->slot);
        free(c);
        return;
    }
    uv_timer_init(srv->loop, &c->timer);
    c->timer.data = c;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    sr_http_framing_init(&c->framing);
    c->http_minor = 1;
    c->next = srv->conns;
    if (c->next)
        c->next->prev = c;
    srv->conns = c;
    srv->nconns++;
    srv->stats.connections++;
    conn_wait_request(c);
    if (sr_tls_stream_read_start(c->stream) < 0)
        conn_close(c);
}

static int server_shed(void *ud) {
    sr_http_server *srv = ud;
    return sr_conn_guard_shed(srv->guard);
}

/* ---- Server ------------------------------------------------------------ */

static void on_listener_closed(void *ud) {
    sr_http_server *srv = ud;
    srv->listener_closed = 1;
    server_maybe_done(srv);
}

sr_http_server *sr_http_server_new(uv_loop_t *loop, const sr_http_server_conf *conf,
                                   sr_http_handler handler, void *ud, char *err, size_t errlen) {
    sr_http_server *srv = calloc(1, sizeof *srv);
    if (!srv ||
        !(srv->guard = sr_conn_guard_new(loop, conf->name ? conf->name : "http", &conf->limits))) {
        snprintf(err, errlen, "out of memory");
        free(srv);
        return NULL;
    }
    srv->loop = loop;
    srv->conf = *conf;
    snprintf(srv->name, sizeof srv->name, "%s", conf->name ? conf->name : "http");
    srv->conf.name = srv->name;
    srv->conf.host = NULL; /* not kept: only needed to bind */
    srv->handler = handler;
    srv->ud = ud;
    static const sr_listener_cbs lcbs = {server_accept, server_shed};
    srv->listener =
        sr_listener_new(loop, srv->name, conf->host, conf->port, &lcbs, srv, err, errlen);
    if (!srv->listener) {
        sr_conn_guard_free(srv->guard);
        free(srv);
        return NULL;
    }
    srv->port = sr_listener_port(srv->listener);
    return srv;
}

int sr_http_server_port(const sr_http_server *srv) { return srv->port; }

void sr_http_server_count(sr_http_server *srv, sr_http_refusal kind) {
    if ((unsigned)kind < SR_HTTP_REFUSED_KINDS)
        srv->stats.refused[kind]++;
}

void sr_http_server_stats_get(const sr_http_server *srv, sr_http_server_stats *out) {
    sr_conn_guard_stats gs;
    *out = srv->stats;
    out->connections_open = srv->nconns;
    sr_conn_guard_stats_get(srv->guard, &gs);
    out->peers = gs.peers;
    memcpy(out->shed, gs.shed, sizeof out->shed);
    out->shed[SR_CONN_SHED_FD_DROPPED] =
        srv->closing ? srv->fd_dropped : sr_listener_get_stats(srv->listener)->fd_dropped;
}

void sr_http_server_close(sr_http_server *srv, void (*cb)(void *ud), void *ud) {
    if (srv->closing)
        return;
    srv->closing = 1;
    srv->close_cb = cb;
    srv->close_ud = ud;
    srv->fd_dropped = sr_listener_get_stats(srv->listener)->fd_dropped;
    sr_listener_close(srv->listener, on_listener_closed, srv);
    for (http_conn *c = srv->conns; c; c = c->next)
        conn_close(c);
}

/* ---- Responding -------------------------------------------------------- */

int sr_http_respond(sr_http_response *ex, int status, const char *content_type,
                    const sr_http_header *extra, size_t nextra, const char *body, size_t len) {
    http_conn *c = ex->conn;
    int rc = -1;
    if (c) {
        c->ex = NULL;
        c->state = CONN_WRITING;
        c->keep_alive =
            ex->keep_alive && !c->peer_ended && !c->srv->closing && !asks_close(extra, nextra);
        rc = conn_write_answer(c, status, content_type, extra, nextra, body, len, ex->head);
    }
    exchange_free(ex);
    return rc;
}

int sr_http_respond_error(sr_http_response *resp, int status, const char *message,
                          const sr_http_header *extra, size_t nextra) {
    sr_buf body = SR_BUF_INIT;
    if (json_error(&body, message) != 0) {
        sr_buf_free(&body);
        return sr_http_respond(resp, 500, NULL, NULL, 0, NULL, 0);
    }
    int rc = sr_http_respond(resp, status, "application/json", extra, nextra, body.data, body.len);
    sr_buf_free(&body);
    return rc;
}
