/* admin.c - the admin API's listener and routes; the documents come from
 * admin_docs.c. */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_docs.h"
#include "buf.h"
#include "http_server.h"
#include "log.h"

/* Admin requests are small GETs from operators and scrapers: a few
 * connections and a short idle limit are plenty, and keep a misbehaving
 * client from holding resources. */
#define ADMIN_MAX_BODY        (64u * 1024)
#define ADMIN_IDLE_TIMEOUT_MS 10000
#define ADMIN_MAX_CONNECTIONS 64
#define ADMIN_MAX_NAME        512

#define INTEGRATIONS_PATH "/api/integrations"

struct sr_admin {
    sr_http_server *srv;
    sr_admin_sources src;
    int closing;
    void (*close_cb)(void *ud);
    void *close_ud;
};

static const sr_http_header allow_get[] = {{"Allow", "GET, HEAD"}};
static const sr_http_header no_store[] = {{"Cache-Control", "no-store"}};

/* ---- Answers ------------------------------------------------------------- */

static const char *not_ready_reason(const sr_admin *a) {
    if (a->closing)
        return "shutting down";
    return a->src.not_ready ? a->src.not_ready(a->src.ud) : NULL;
}

/* `status` and `body` come from an admin_docs.h call (-1: out of memory). */
static void respond_doc(sr_http_response *resp, int status, const char *ctype, sr_buf *body) {
    if (status < 0)
        sr_http_respond_error(resp, 500, "out of memory", NULL, 0);
    else
        sr_http_respond(resp, status, ctype, no_store, 1, body->data, body->len);
    sr_buf_free(body);
}

static void get_one(sr_admin *a, const char *escaped, sr_http_response *resp) {
    char name[ADMIN_MAX_NAME + 1];
    sr_buf body = SR_BUF_INIT;
    if (sr_admin_percent_decode(escaped, strlen(escaped), name, sizeof name) < 0) {
        sr_http_respond_error(resp, 400, "malformed or too long integration name in the path", NULL,
                              0);
        return;
    }
    int status = sr_admin_doc_integration(&a->src, name, &body);
    respond_doc(resp, status, "application/json", &body);
}

/* ---- Routing ------------------------------------------------------------- */

typedef enum { R_NONE, R_HEALTH, R_READY, R_METRICS, R_LIST, R_ONE } route;

static route route_of(const char *path, const char **name) {
    static const char one_prefix[] = INTEGRATIONS_PATH "/";
    if (strcmp(path, "/healthz") == 0)
        return R_HEALTH;
    if (strcmp(path, "/readyz") == 0)
        return R_READY;
    if (strcmp(path, "/metrics") == 0)
        return R_METRICS;
    if (strcmp(path, INTEGRATIONS_PATH) == 0)
        return R_LIST;
    if (strncmp(path, one_prefix, sizeof one_prefix - 1) == 0) {
        *name = path + sizeof one_prefix - 1;
        /* A name is one segment; "/api/integrations/" names nothing. */
        if (**name && !strchr(*name, '/'))
            return R_ONE;
    }
    return R_NONE;
}

static void on_request(void *ud, sr_http_request *req, sr_http_response *resp) {
    sr_admin *a = ud;
    const char *name = NULL;
    sr_buf body = SR_BUF_INIT;
    route r = route_of(req->path, &name);
    if (r == R_NONE) {
        sr_http_respond_error(resp, 404, "not found", NULL, 0);
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        sr_http_respond_error(resp, 405, "method not allowed", allow_get, 1);
        return;
    }
    if (a->closing) { /* the sources may already be gone */
        sr_http_respond_error(resp, 503, "shutting down", NULL, 0);
        return;
    }
    switch (r) {
    case R_HEALTH: {
        static const char ok[] = "{\"status\":\"ok\"}";
        sr_http_respond(resp, 200, "application/json", no_store, 1, ok, sizeof ok - 1);
        break;
    }
    case R_READY: {
        int status = sr_admin_doc_ready(not_ready_reason(a), &body);
        respond_doc(resp, status, "application/json", &body);
        break;
    }
    case R_METRICS: {
        int status = sr_admin_doc_metrics(&a->src, not_ready_reason(a) == NULL, &body);
        respond_doc(resp, status, SR_ADMIN_METRICS_CONTENT_TYPE, &body);
        break;
    }
    case R_LIST: {
        int status = sr_admin_doc_integrations(&a->src, &body);
        respond_doc(resp, status, "application/json", &body);
        break;
    }
    case R_ONE: get_one(a, name, resp); break;
    case R_NONE: break;
    }
}

/* ---- Paths --------------------------------------------------------------- */

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long sr_admin_percent_decode(const char *in, size_t inlen, char *out, size_t outlen) {
    size_t o = 0;
    if (outlen == 0)
        return -1;
    for (size_t i = 0; i < inlen; i++) {
        char c = in[i];
        if (c == '%') {
            int hi = i + 2 < inlen ? hex_value(in[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value(in[i + 2]) : -1;
            /* An escaped NUL would cut the name short of what was asked. */
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '\0') {
            return -1;
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

/* ---- Lifecycle ----------------------------------------------------------- */

static void format_address(char *out, size_t n, const char *host, int port) {
    if (strchr(host, ':')) /* IPv6 */
        snprintf(out, n, "[%s]:%d", host, port);
    else
        snprintf(out, n, "%s:%d", host, port);
}

sr_admin *sr_admin_new(uv_loop_t *loop, const char *host, int port, const sr_admin_sources *src,
                       char *err, size_t errlen) {
    char why[512] = "";
    sr_admin *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "admin API: out of memory");
        return NULL;
    }
    a->src = *src;
    sr_http_server_conf conf = {
        .name = "admin",
        .host = host,
        .port = port,
        .max_body = ADMIN_MAX_BODY,
        .idle_timeout_ms = ADMIN_IDLE_TIMEOUT_MS,
        .max_connections = ADMIN_MAX_CONNECTIONS,
    };
    a->srv = sr_http_server_new(loop, &conf, on_request, a, why, sizeof why);
    if (!a->srv) {
        snprintf(err, errlen, "admin API: %s", why);
        free(a);
        return NULL;
    }
    char addr[300];
    format_address(addr, sizeof addr, host, sr_http_server_port(a->srv));
    sr_info("admin", "admin API listening on %s", addr);
    return a;
}

void sr_admin_set_sources(sr_admin *a, const sr_admin_sources *src) { a->src = *src; }

int sr_admin_port(const sr_admin *a) { return sr_http_server_port(a->srv); }

static void on_server_closed(void *ud) {
    sr_admin *a = ud;
    if (a->close_cb)
        a->close_cb(a->close_ud);
    free(a);
}

void sr_admin_close(sr_admin *a, void (*cb)(void *ud), void *ud) {
    if (!a || a->closing)
        return;
    a->closing = 1;
    a->close_cb = cb;
    a->close_ud = ud;
    memset(&a->src, 0, sizeof a->src);
    sr_http_server_close(a->srv, on_server_closed, a);
}
