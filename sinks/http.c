/* http.c - the HTTP transport: libcurl's multi interface driven by the loop.
 *
 * One multi handle per sink owns the connection cache, so every transfer of
 * the sink shares its keep-alive connections (at most max_connections to a
 * host). curl says which sockets to watch (socket callback: one uv_poll_t per
 * socket) and when it next needs a call (timer callback: the sink's one
 * uv_timer_t); readiness goes back through curl_multi_socket_action and
 * finished transfers come out of curl_multi_info_read. Completions are thus
 * only ever noticed in a uv callback, never inside send().
 *
 * A transfer (`xfer`) owns its easy handle, header list, body copy and the
 * response excerpt. Finished transfers go to a small idle pool, easy handle
 * and buffers included, up to max_connections of them.
 *
 * Teardown: close() abandons what is in flight, cleans up curl, and closes the
 * uv handles; the sink's memory goes with the last close callback. */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "log.h"

#define DEFAULT_TIMEOUT_MS         30000
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_MAX_CONNECTIONS    4
#define RETRY_AFTER_MAX            64 /* longer is neither a number nor a date */

typedef struct http_sink http_sink;

/* A socket curl asked us to watch. */
typedef struct watch {
    uv_poll_t poll; /* first: the handle is the watch */
    http_sink *hs;
    curl_socket_t fd;
    struct watch *prev, *next;
} watch;

typedef struct xfer {
    http_sink *hs;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    sr_buf resp;         /* at most SR_SINK_BODY_EXCERPT bytes */
    long retry_after_ms; /* from the final response's Retry-After */
    uint64_t start_ns;
    sr_sink_done_cb cb;
    void *ud;
    struct xfer *prev, *next; /* in flight, or the idle pool (next only) */
    char errbuf[CURL_ERROR_SIZE];
} xfer;

struct http_sink {
    sr_sink base; /* first, so an sr_sink * is an http_sink * */
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    long timeout_ms, connect_timeout_ms;
    int insecure;
    char *ca_file, *cert_file, *key_file;
    int max_connections;
    xfer *busy; /* in flight */
    xfer *idle; /* pool */
    int nidle;
    watch *watches;
    unsigned open_handles; /* uv handles whose close callback is still due */
    int closing;
};

/* ---- teardown of uv handles ---------------------------------------------- */

static void sink_free(http_sink *hs) {
    free(hs->ca_file);
    free(hs->cert_file);
    free(hs->key_file);
    free(hs);
}

static void handle_closed(http_sink *hs) {
    if (--hs->open_handles == 0 && hs->closing)
        sink_free(hs);
}

static void on_timer_closed(uv_handle_t *h) { handle_closed(h->data); }

static void on_watch_closed(uv_handle_t *h) {
    watch *w = (watch *)h;
    http_sink *hs = w->hs;
    free(w);
    handle_closed(hs);
}

/* ---- sockets and the timer, as curl asks for them ------------------------ */

static void check_done(http_sink *hs);

static void on_poll(uv_poll_t *p, int status, int events) {
    watch *w = (watch *)p;
    http_sink *hs = w->hs;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(hs->multi, w->fd, flags, &running); /* may close `w` */
    check_done(hs);
}

static watch *watch_open(http_sink *hs, curl_socket_t fd) {
    watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    if (uv_poll_init_socket(hs->loop, &w->poll, fd) != 0) {
        free(w);
        return NULL;
    }
    w->hs = hs;
    w->fd = fd;
    w->next = hs->watches;
    if (hs->watches)
        hs->watches->prev = w;
    hs->watches = w;
    hs->open_handles++;
    return w;
}

static void watch_close(http_sink *hs, watch *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        hs->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    uv_close((uv_handle_t *)&w->poll, on_watch_closed);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    (void)easy;
    http_sink *hs = userp;
    watch *w = socketp;
    if (what == CURL_POLL_REMOVE) {
        /* curl is about to close fd; stop polling it first. */
        if (w)
            watch_close(hs, w);
        return 0;
    }
    if (!w) {
        w = watch_open(hs, fd);
        if (!w)
            return -1; /* curl fails the transfers on this socket */
        curl_multi_assign(hs->multi, fd, w);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    if (events)
        uv_poll_start(&w->poll, events, on_poll);
    else
        uv_poll_stop(&w->poll); /* CURL_POLL_NONE: keep the socket, ignore it */
    return 0;
}

static void on_timeout(uv_timer_t *t) {
    http_sink *hs = t->data;
    int running;
    curl_multi_socket_action(hs->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(hs);
}

/* Never acts right away, even for 0: that would re-enter curl (forbidden)
 * and could complete a transfer inside send(). */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    http_sink *hs = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&hs->timer);
    else
        uv_timer_start(&hs->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- response parsing ---------------------------------------------------- */

/* Retry-After is delta-seconds or an HTTP-date (RFC 9110 10.2.3); -1 when it
 * is neither. Huge values saturate; the delivery layer caps them anyway. */
static long parse_retry_after(const char *v, size_t len) {
    while (len && isspace((unsigned char)*v))
        v++, len--;
    while (len && isspace((unsigned char)v[len - 1]))
        len--;
    if (len == 0 || len >= RETRY_AFTER_MAX)
        return -1;
    if (isdigit((unsigned char)v[0])) {
        long secs = 0;
        for (size_t i = 0; i < len; i++) {
            if (!isdigit((unsigned char)v[i]))
                return -1;
            if (secs < LONG_MAX / 1000)
                secs = secs * 10 + (v[i] - '0');
        }
        return secs < LONG_MAX / 1000 ? secs * 1000 : LONG_MAX / 1000 * 1000;
    }
    /* All three HTTP-date forms start with a day name; curl_getdate alone
     * would accept much more. */
    if (!isalpha((unsigned char)v[0]))
        return -1;
    char date[RETRY_AFTER_MAX];
    memcpy(date, v, len);
    date[len] = '\0';
    time_t when = curl_getdate(date, NULL);
    if (when == -1)
        return -1;
    double delta = difftime(when, time(NULL));
    if (delta <= 0)
        return 0;
    return delta < (double)(LONG_MAX / 1000) ? (long)delta * 1000 : LONG_MAX / 1000 * 1000;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    static const char name[] = "retry-after:";
    xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new response begins (after a 1xx): only the final one counts. */
        x->retry_after_ms = -1;
        sr_buf_reset(&x->resp);
    } else if (len >= sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        x->retry_after_ms = parse_retry_after(p + sizeof name - 1, len - (sizeof name - 1));
    }
    return len;
}

/* Keeps the excerpt and reads the rest to the end, so the connection stays
 * reusable. */
static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    xfer *x = ud;
    size_t len = size * n;
    size_t room = SR_SINK_BODY_EXCERPT - x->resp.len;
    size_t keep = len < room ? len : room;
    if (keep && sr_buf_append(&x->resp, p, keep) != 0)
        return 0; /* out of memory: fails the transfer */
    return len;
}

/* ---- transfers ----------------------------------------------------------- */

static void xfer_destroy(xfer *x) {
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    free(x->body);
    sr_buf_free(&x->resp);
    free(x);
}

static xfer *xfer_get(http_sink *hs) {
    xfer *x = hs->idle;
    if (x) {
        hs->idle = x->next;
        hs->nidle--;
        x->next = NULL;
        return x;
    }
    x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->hs = hs;
    x->easy = curl_easy_init();
    if (!x->easy) {
        free(x);
        return NULL;
    }
    return x;
}

/* Back to the pool with the request state dropped, or freed. */
static void xfer_put(http_sink *hs, xfer *x) {
    if (hs->closing || hs->nidle >= hs->max_connections) {
        xfer_destroy(x);
        return;
    }
    curl_easy_reset(x->easy); /* keeps its DNS and connection caches */
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    free(x->body);
    x->body = NULL;
    sr_buf_reset(&x->resp);
    x->cb = NULL;
    x->ud = NULL;
    x->prev = NULL;
    x->next = hs->idle;
    hs->idle = x;
    hs->nidle++;
}

static void busy_link(http_sink *hs, xfer *x) {
    x->prev = NULL;
    x->next = hs->busy;
    if (hs->busy)
        hs->busy->prev = x;
    hs->busy = x;
}

static void busy_unlink(http_sink *hs, xfer *x) {
    if (x->prev)
        x->prev->next = x->next;
    else
        hs->busy = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
}

static int has_header(const sr_sink_request *req, const char *name) {
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return 1;
    return 0;
}

static int add_header(struct curl_slist **list, const char *line) {
    struct curl_slist *l = curl_slist_append(*list, line);
    if (!l)
        return -1;
    *list = l;
    return 0;
}

/* The caller's headers, verbatim, plus blank overrides that stop curl from
 * adding its own: "Expect: 100-continue" would stall large bodies for a
 * round trip, and its default Accept and form Content-Type are not what the
 * integration asked for. */
static int build_headers(xfer *x, const sr_sink_request *req) {
    sr_buf line = SR_BUF_INIT;
    int rc = -1;
    for (size_t i = 0; i < req->nheaders; i++) {
        const sr_sink_header *h = &req->headers[i];
        if (!h->name || !*h->name || strpbrk(h->name, ":\r\n") ||
            (h->value && strpbrk(h->value, "\r\n"))) {
            /* Never log the value: it may be a credential. */
            sr_warn("sink.http", "header '%s' is malformed; request refused",
                    h->name ? h->name : "");
            goto done;
        }
        sr_buf_reset(&line);
        /* "Name;" is curl's spelling of a header with an empty value. */
        int r = h->value && *h->value ? sr_buf_printf(&line, "%s: %s", h->name, h->value)
                                      : sr_buf_printf(&line, "%s;", h->name);
        if (r != 0 || add_header(&x->headers, line.data) != 0)
            goto done;
    }
    if (add_header(&x->headers, "Expect:") != 0)
        goto done;
    if (!has_header(req, "Accept") && add_header(&x->headers, "Accept:") != 0)
        goto done;
    if (!has_header(req, "Content-Type") && add_header(&x->headers, "Content-Type:") != 0)
        goto done;
    rc = 0;
done:
    sr_buf_free(&line);
    return rc;
}

static int set_method(xfer *x, const sr_sink_request *req) {
    const char *method = req->method && *req->method ? req->method : "POST";
    CURL *e = x->easy;
    if (strcmp(method, "GET") == 0 && req->body_len == 0)
        return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK ? 0 : -1;
    if (strcmp(method, "HEAD") == 0)
        return curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK ? 0 : -1;
    /* Any other method sends the body (possibly empty) with Content-Length. */
    x->body = malloc(req->body_len ? req->body_len : 1);
    if (!x->body)
        return -1;
    if (req->body_len)
        memcpy(x->body, req->body, req->body_len);
    if (curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body) != CURLE_OK)
        return -1;
    if (strcmp(method, "POST") != 0 &&
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK)
        return -1;
    return 0;
}

static int set_tls(http_sink *hs, CURL *e) {
    if (hs->insecure && (curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L) != CURLE_OK ||
                         curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK))
        return -1;
    if (hs->ca_file && curl_easy_setopt(e, CURLOPT_CAINFO, hs->ca_file) != CURLE_OK)
        return -1;
    if (hs->cert_file && curl_easy_setopt(e, CURLOPT_SSLCERT, hs->cert_file) != CURLE_OK)
        return -1;
    if (hs->key_file && curl_easy_setopt(e, CURLOPT_SSLKEY, hs->key_file) != CURLE_OK)
        return -1;
    return 0;
}

/* Sets every option: a pooled easy handle was reset to defaults. */
static int xfer_prepare(http_sink *hs, xfer *x, const sr_sink_request *req) {
    CURL *e = x->easy;
    x->errbuf[0] = '\0';
    x->retry_after_ms = -1;
    if (build_headers(x, req) != 0 || set_method(x, req) != 0 || set_tls(hs, e) != 0)
        return -1;
    if (curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, hs->timeout_ms) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, hs->connect_timeout_ms) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HEADERDATA, x) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, x) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PRIVATE, x) != CURLE_OK)
        return -1;
    return 0;
}

/* curl's generic text, its detail line (hosts, ports, timings; never header
 * values) and the system error behind it, which curl's text often omits
 * ("Connection refused"). */
static void describe_error(const xfer *x, CURLcode rc, char *out, size_t outlen) {
    const char *what = rc == CURLE_OK ? "no HTTP response" : curl_easy_strerror(rc);
    int detail = (int)strcspn(x->errbuf, "\r\n");
    long os_errno = 0;
    curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
    const char *sys = os_errno ? strerror((int)os_errno) : NULL;
    if (sys && strstr(x->errbuf, sys))
        sys = NULL;
    snprintf(out, outlen, "%s%s%.*s%s%s%s", what, detail ? ": " : "", detail, x->errbuf,
             sys ? " (" : "", sys ? sys : "", sys ? ")" : "");
}

static void xfer_finish(http_sink *hs, xfer *x, CURLcode rc) {
    sr_sink_result res;
    memset(&res, 0, sizeof res);
    res.retry_after_ms = -1;
    res.latency_ms = (double)(uv_hrtime() - x->start_ns) / 1e6;
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status > 0) {
        res.transport_ok = 1;
        res.status = status;
        res.body = x->resp.data;
        res.body_len = x->resp.len;
        res.retry_after_ms = x->retry_after_ms;
    } else {
        /* Includes a response cut short (timeout or reset mid-body): its
         * status would be misleading without the rest. */
        describe_error(x, rc, res.error, sizeof res.error);
    }
    busy_unlink(hs, x);
    curl_multi_remove_handle(hs->multi, x->easy);
    x->cb(x->ud, &res); /* may send() or close() */
    xfer_put(hs, x);
}

/* Called only from uv callbacks, after curl returned. */
static void check_done(http_sink *hs) {
    CURLMsg *msg;
    int left;
    while (!hs->closing && (msg = curl_multi_info_read(hs->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        xfer_finish(hs, (xfer *)priv, msg->data.result);
    }
}

/* ---- the sink ------------------------------------------------------------ */

static int http_send(sr_sink *s, const sr_sink_payload *p, sr_sink_done_cb cb, void *ud) {
    http_sink *hs = (http_sink *)s;
    if (hs->closing || !cb || !p || !p->http || !p->http->url ||
        (p->http->body_len && !p->http->body) || (p->http->nheaders && !p->http->headers))
        return -1;
    xfer *x = xfer_get(hs);
    if (!x)
        return -1;
    if (xfer_prepare(hs, x, p->http) != 0)
        goto fail;
    x->cb = cb;
    x->ud = ud;
    x->start_ns = uv_hrtime();
    /* Arms the timer (0 ms); the transfer starts on the next loop turn. */
    if (curl_multi_add_handle(hs->multi, x->easy) != CURLM_OK)
        goto fail;
    busy_link(hs, x);
    return 0;

fail:
    xfer_put(hs, x);
    return -1;
}

static void http_close(sr_sink *s) {
    http_sink *hs = (http_sink *)s;
    hs->closing = 1;
    while (hs->busy) {
        xfer *x = hs->busy;
        busy_unlink(hs, x);
        curl_multi_remove_handle(hs->multi, x->easy);
        xfer_destroy(x);
    }
    while (hs->idle) {
        xfer *x = hs->idle;
        hs->idle = x->next;
        xfer_destroy(x);
    }
    /* Closes the cached connections, telling on_curl_socket to unwatch. */
    curl_multi_cleanup(hs->multi);
    hs->multi = NULL;
    while (hs->watches)
        watch_close(hs, hs->watches);
    uv_close((uv_handle_t *)&hs->timer, on_timer_closed);
}

static const sr_sink_ops http_ops = {
    .name = "http",
    .send = http_send,
    .close = http_close,
};

static int copy_file_setting(const char *what, const char *path, char **out, char *err,
                             size_t errlen) {
    if (!path || !*path)
        return 0;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "http sink: %s %s: %s", what, path, strerror(errno));
        return -1;
    }
    fclose(fp);
    *out = strdup(path);
    if (!*out) {
        snprintf(err, errlen, "http sink: out of memory");
        return -1;
    }
    return 0;
}

static int configure_multi(http_sink *hs) {
    CURLM *m = hs->multi;
    long maxconn = hs->max_connections;
    if (curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
        curl_multi_setopt(m, CURLMOPT_SOCKETDATA, hs) != CURLM_OK ||
        curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
        curl_multi_setopt(m, CURLMOPT_TIMERDATA, hs) != CURLM_OK ||
        /* Keep-alive: as many idle connections cached as may be open. */
        curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, maxconn) != CURLM_OK ||
        curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, maxconn) != CURLM_OK)
        return -1;
    return 0;
}

sr_sink *sr_http_sink_new(uv_loop_t *loop, const sr_http_settings *s, char *err, size_t errlen) {
    http_sink *hs = calloc(1, sizeof *hs);
    if (!hs) {
        snprintf(err, errlen, "http sink: out of memory");
        return NULL;
    }
    hs->base.ops = &http_ops;
    hs->loop = loop;
    hs->timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : DEFAULT_TIMEOUT_MS;
    hs->connect_timeout_ms =
        s->connect_timeout_ms > 0 ? s->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    hs->insecure = s->insecure;
    hs->max_connections =
        s->max_connections > 0 ? (int)s->max_connections : DEFAULT_MAX_CONNECTIONS;
    /* Checked now so a typo is a start-up error, not a retry loop. */
    if (copy_file_setting("ca_file", s->ca_file, &hs->ca_file, err, errlen) != 0 ||
        copy_file_setting("cert_file", s->cert_file, &hs->cert_file, err, errlen) != 0 ||
        copy_file_setting("key_file", s->key_file, &hs->key_file, err, errlen) != 0)
        goto fail;
    hs->multi = curl_multi_init();
    if (!hs->multi) {
        snprintf(err, errlen, "http sink: curl_multi_init failed");
        goto fail;
    }
    if (configure_multi(hs) != 0) {
        snprintf(err, errlen, "http sink: cannot configure libcurl");
        goto fail;
    }
    /* Last: from here on, freeing the sink needs the loop (http_close). */
    uv_timer_init(loop, &hs->timer);
    hs->timer.data = hs;
    hs->open_handles = 1;
    return &hs->base;

fail:
    if (hs->multi)
        curl_multi_cleanup(hs->multi);
    sink_free(hs);
    return NULL;
}

static const sr_sink_key http_keys[] = {
    SR_SINK_KEY(sr_http_settings, timeout_ms, SR_SINK_KEY_INT, DEFAULT_TIMEOUT_MS,
                "whole request, in milliseconds"),
    SR_SINK_KEY(sr_http_settings, connect_timeout_ms, SR_SINK_KEY_INT, DEFAULT_CONNECT_TIMEOUT_MS,
                "connection set-up, in milliseconds"),
    SR_SINK_TLS_KEYS(sr_http_settings),
    SR_SINK_KEY(sr_http_settings, max_connections, SR_SINK_KEY_INT, DEFAULT_MAX_CONNECTIONS,
                "connections per sink"),
    {0},
};

static sr_sink *http_open(uv_loop_t *loop, const void *s, char *err, size_t errlen) {
    return sr_http_sink_new(loop, s, err, errlen);
}

const sr_sink_transport sr_transport_http = {"http", http_keys, sizeof(sr_http_settings),
                                             http_open, NULL};
