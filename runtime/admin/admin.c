/* admin.c - the admin API's listener, routes and access checks; the
 * documents come from admin_docs.c, the changes from admin_write.c and the
 * page from admin_ui.c. */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_auth.h"
#include "admin_docs.h"
#include "admin_json.h"
#include "admin_ui.h"
#include "admin_write.h"
#include "admin_audit.h"
#include "admin_replay.h"
#include "admin_failures.h"
#include "buf.h"
#include "hex.h"
#include "http_host.h"
#include "http_server.h"
#include "log.h"
#include "log_budget.h"

/* Admin requests are small GETs from operators and scrapers and small
 * writes: the body limits are fixed; connection limits and deadlines are
 * configured (admin.max_connections, admin.header_timeout, ...). */
#define ADMIN_MAX_BODY (64u * 1024)
/* Bodies being received together: writes are small and rare. */
#define ADMIN_MAX_BODY_TOTAL (4u * 1024 * 1024)
#define ADMIN_MAX_NAME       512

#define INTEGRATIONS_PATH "/api/integrations"
/* Host refusals logged per minute; the rest are counted only. */
#define HOST_LOG_MAX    10
#define HOST_LOG_WINDOW 60000

struct sr_admin {
    sr_http_server *srv;
    char *host;      /* as bound, for the Host check */
    sr_tls_ctx *tls; /* NULL: plain HTTP */
    uv_loop_t *loop;
    sr_log_budget host_log;
    sr_admin_sources src;
    sr_admin_writer *writer;
    sr_admin_failures *failures; /* failed authentication, per peer */
    int closing;
    void (*close_cb)(void *ud);
    void *close_ud;
};

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

static void respond_json(sr_http_response *resp, int status, sr_buf *body, int oom) {
    respond_doc(resp, oom ? -1 : status, "application/json", body);
}

/* ---- Routing ------------------------------------------------------------- */

typedef enum {
    R_NONE,
    R_UI,
    R_HEALTH,
    R_READY,
    R_METRICS,
    R_LIST,
    R_ONE,
    R_TEST,
    R_RELOAD,
    R_TYPES,
    R_AUDIT,
    R_WHOAMI,
    R_SCRIPTS,
    R_KAFKA,
    R_PIPELINE,
    R_REPLAY,
    R_REPLAY_PIPELINE,
} route;

/* Methods a route takes, and what each needs. */
typedef struct route_info {
    const char *allow; /* for 405 */
} route_info;

static const route_info routes[] = {
    [R_NONE] = {""},
    [R_UI] = {"GET, HEAD"},
    [R_HEALTH] = {"GET, HEAD"},
    [R_READY] = {"GET, HEAD"},
    [R_METRICS] = {"GET, HEAD"},
    [R_LIST] = {"GET, HEAD, POST"},
    [R_ONE] = {"GET, HEAD, PUT, DELETE"},
    [R_TEST] = {"POST"},
    [R_RELOAD] = {"POST"},
    [R_TYPES] = {"GET, HEAD"},
    [R_AUDIT] = {"GET, HEAD"},
    [R_SCRIPTS] = {"GET, HEAD"},
    [R_WHOAMI] = {"GET, HEAD"},
    [R_KAFKA] = {"GET, HEAD"},
    [R_PIPELINE] = {"GET, HEAD"},
    [R_REPLAY] = {"POST"},
    [R_REPLAY_PIPELINE] = {"POST"},
};

static route route_of(const char *path, char *name, size_t namelen, int *bad_name) {
    static const char one_prefix[] = INTEGRATIONS_PATH "/";
    static const char test_suffix[] = "/test";
    static const struct {
        const char *path;
        route r;
    } fixed[] = {
        {"/healthz", R_HEALTH},        {"/readyz", R_READY},
        {"/metrics", R_METRICS},       {INTEGRATIONS_PATH, R_LIST},
        {"/api/reload", R_RELOAD},     {"/api/types", R_TYPES},
        {"/api/audit", R_AUDIT},       {"/api/whoami", R_WHOAMI},
        {"/api/scripts", R_SCRIPTS},   {"/api/audit", R_AUDIT},
        {"/api/whoami", R_WHOAMI},     {"/api/inputs/kafka", R_KAFKA},
        {"/api/pipeline", R_PIPELINE}, {"/api/replay", R_REPLAY_PIPELINE},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(path, fixed[i].path) == 0)
            return fixed[i].r;
    if (sr_admin_ui_path(path))
        return R_UI;
    if (strncmp(path, one_prefix, sizeof one_prefix - 1) != 0)
        return R_NONE;
    const char *seg = path + sizeof one_prefix - 1;
    const char *slash = strchr(seg, '/');
    route r = R_ONE;
    size_t n = strlen(seg);
    if (slash) {
        /* "{name}/test" and "{name}/replay" are the only deeper paths. */
        if (strcmp(slash, test_suffix) == 0)
            r = R_TEST;
        else if (strcmp(slash, "/replay") == 0)
            r = R_REPLAY;
        else
            return R_NONE;
        n = (size_t)(slash - seg);
    }
    if (n == 0) /* "/api/integrations/" names nothing */
        return R_NONE;
    *bad_name = sr_admin_percent_decode(seg, n, name, namelen) < 0;
    return r;
}

static int is_read(const char *method) {
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* Whether `method` is one route `r` takes. */
static int allowed(route r, const char *method) {
    const char *allow = routes[r].allow;
    size_t n = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)); p += n)
        if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

static sr_admin_role role_needed(route r, const char *method) {
    switch (r) {
    case R_UI:
    case R_HEALTH:
    case R_READY: return SR_ROLE_NONE;
    case R_AUDIT:
    case R_TEST:
    case R_REPLAY:
    case R_REPLAY_PIPELINE:
    case R_RELOAD: return SR_ROLE_ADMIN;
    default: return is_read(method) ? SR_ROLE_VIEWER : SR_ROLE_ADMIN;
    }
}

static void audit_refusal(sr_admin *a, const sr_http_request *req, const sr_admin_decision *d,
                          route r, const char *name) {
    sr_audit_entry e = {
        .action = d->status == 401 ? "authenticate" : "authorize",
        .method = req->method,
        .uri = req->path,
        .query = req->query,
        .status = d->status,
        .entity_type = r == R_LIST || r == R_ONE || r == R_TEST || r == R_REPLAY ? "integration"
                       : r == R_RELOAD                                           ? "configuration"
                       : r == R_REPLAY_PIPELINE                                  ? "pipeline"
                                                                                 : "api",
        .entity_id = name && *name ? name : NULL,
        .user = d->who.name,
        .origin_ip = req->peer_ip,
        .description = d->message,
    };
    sr_audit_record(a->src.audit, &e);
}

static void whoami(sr_admin *a, const sr_admin_identity *who, sr_http_response *resp) {
    sr_buf b = SR_BUF_INIT;
    int oom = sr_buf_puts(&b, "{\"name\":") || sr_admin_json_text(&b, who->name) ||
              sr_buf_printf(&b, ",\"role\":\"%s\",\"tokens\":%s,\"writable\":%s}",
                            sr_admin_role_name(who->role), a->src.ntokens ? "true" : "false",
                            a->src.control && who->role == SR_ROLE_ADMIN ? "true" : "false");
    respond_json(resp, 200, &b, oom);
}

static void audit_list(sr_admin *a, const char *query, sr_http_response *resp) {
    sr_buf b = SR_BUF_INIT;
    long limit = 100;
    const char *p = strstr(query ? query : "", "limit=");
    if (p && (p == query || p[-1] == '&')) {
        char *end;
        limit = strtol(p + 6, &end, 10);
        if (end == p + 6 || (*end && *end != '&') || limit < 1 || limit > SR_AUDIT_RECENT) {
            sr_http_respond_error(resp, 400, "limit must be a number from 1 to 1000", NULL, 0);
            return;
        }
    }
    respond_json(resp, 200, &b, sr_audit_recent(a->src.audit, (size_t)limit, &b) != 0);
}

static void types(sr_admin *a, sr_http_response *resp) {
    char err[1024] = "";
    sr_buf b = SR_BUF_INIT;
    const sr_admin_control *c = a->src.control;
    if (!c || !c->types) {
        sr_http_respond_error(resp, 503, "integration types are not available", NULL, 0);
        return;
    }
    if (c->types(c->ud, &b, err, sizeof err) != 0) {
        sr_buf_free(&b);
        sr_http_respond_error(resp, 500, err, NULL, 0);
        return;
    }
    respond_json(resp, 200, &b, 0);
}

static void write_route(sr_admin *a, route r, const char *name, sr_http_request *req,
                        sr_http_response *resp, const sr_admin_identity *who) {
    sr_write_op op = r == R_LIST                       ? SR_WRITE_CREATE
                     : r == R_TEST                     ? SR_WRITE_TEST
                     : r == R_RELOAD                   ? SR_WRITE_RELOAD
                     : strcmp(req->method, "PUT") == 0 ? SR_WRITE_UPDATE
                                                       : SR_WRITE_DELETE;
    if (!a->writer) {
        sr_http_respond_error(resp, 503, "the admin API cannot make changes", no_store, 1);
        return;
    }
    sr_admin_writer_handle(a->writer, op, r == R_LIST || r == R_RELOAD ? NULL : name, req, resp,
                           who);
}

/* Decides who asks and whether they may; answers (and audits) a refusal.
 * Returns 1 when it answered. */
static int check_access(sr_admin *a, route r, const char *name, sr_http_request *req,
                        sr_http_response *resp, sr_admin_decision *d) {
    sr_admin_role need = role_needed(r, req->method);
    *d = (sr_admin_decision){0};
    if (need == SR_ROLE_NONE)
        return 0;
    long wait_s = sr_admin_failures_check(a->failures, req->peer_ip);
    if (wait_s > 0) {
        char seconds[24];
        snprintf(seconds, sizeof seconds, "%ld", wait_s);
        sr_http_header h[2] = {{"Cache-Control", "no-store"}, {"Retry-After", seconds}};
        sr_http_server_count(a->srv, SR_HTTP_REFUSED_RATE_LIMITED);
        sr_http_respond_error(resp, 429, "too many failed authentications; retry later", h, 2);
        return 1;
    }
    *d = sr_admin_authorize(a->src.tokens, a->src.ntokens,
                            sr_http_request_header(req, "Authorization"), need);
    if (!d->status)
        return 0;
    sr_http_header h[2] = {{"Cache-Control", "no-store"},
                           {"WWW-Authenticate", d->www_authenticate}};
    /* Before answering frees `req`. A failed authentication is audited in
     * full only as the first of its interval (admin_failures.h). */
    if (d->status != 401 || sr_admin_failures_note(a->failures, req->peer_ip, a->src.audit))
        audit_refusal(a, req, d, r, name);
    if (d->status == 401)
        sr_http_server_count(a->srv, SR_HTTP_REFUSED_UNAUTHORIZED);
    sr_http_respond_error(resp, d->status, d->message, h, d->www_authenticate ? 2 : 1);
    return 1;
}

/* A browser sent here by a rebound DNS name carries that name in Host. */
static int refuse_host(sr_admin *a, sr_http_request *req, sr_http_response *resp) {
    sr_http_host_policy p = {
        .listen_host = a->host,
        .allowed = a->src.allowed_hosts,
        .nallowed = a->src.nallowed_hosts,
    };
    sr_http_refusal why;
    if (sr_http_host_check(req, &p, &why) == 0)
        return 0;
    const char *host = sr_http_request_header(req, "Host");
    int log = sr_log_budget_take(&a->host_log, uv_now(a->loop), HOST_LOG_MAX, HOST_LOG_WINDOW);
    if (log != SR_LOG_BUDGET_SPENT)
        sr_warn("admin", "%s: %d for Host '%.100s' (DNS rebinding defence; admin.allowed_hosts)%s",
                req->peer, sr_http_refusal_status(why), host ? host : "(none)",
                log == SR_LOG_BUDGET_LAST ? "; further ones this minute are only counted" : "");
    sr_http_server_count(a->srv, why);
    sr_http_respond_error(resp, sr_http_refusal_status(why), sr_http_refusal_message(why), no_store,
                          1);
    return 1;
}

/* Access is decided on the head: a refused request's body is never read. */
static int on_head(void *ud, sr_http_request *req, sr_http_response *resp) {
    sr_admin *a = ud;
    char name[ADMIN_MAX_NAME + 1] = "";
    int bad_name = 0;
    sr_admin_decision d;
    if (refuse_host(a, req, resp))
        return 1;
    route r = route_of(req->path, name, sizeof name, &bad_name);
    if (r == R_NONE || r == R_UI || !allowed(r, req->method) || a->closing)
        return 0; /* on_request answers these without credentials */
    return check_access(a, r, name, req, resp, &d);
}

static void on_request(void *ud, sr_http_request *req, sr_http_response *resp) {
    sr_admin *a = ud;
    char name[ADMIN_MAX_NAME + 1] = "";
    int bad_name = 0;
    sr_buf body = SR_BUF_INIT;
    route r = route_of(req->path, name, sizeof name, &bad_name);
    if (r == R_NONE) {
        sr_http_respond_error(resp, 404, "not found", NULL, 0);
        return;
    }
    if (!allowed(r, req->method)) {
        sr_http_header allow = {"Allow", routes[r].allow};
        sr_http_respond_error(resp, 405, "method not allowed", &allow, 1);
        return;
    }
    if (a->closing) { /* the sources may already be gone */
        sr_http_respond_error(resp, 503, "shutting down", NULL, 0);
        return;
    }
    if (r == R_UI) {
        sr_admin_ui_serve(req, resp);
        return;
    }
    sr_admin_decision d;
    if (check_access(a, r, name, req, resp, &d))
        return;
    if (bad_name) {
        sr_http_respond_error(resp, 400, "malformed or too long integration name in the path", NULL,
                              0);
        return;
    }
    if (r == R_REPLAY || r == R_REPLAY_PIPELINE) {
        sr_admin_replay(a->src.control, a->src.audit, r == R_REPLAY ? name : NULL, req, resp,
                        d.who.name);
        return;
    }
    if (!is_read(req->method)) {
        write_route(a, r, name, req, resp, &d.who);
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
    case R_SCRIPTS: {
        int status = sr_admin_doc_scripts(&a->src, &body);
        respond_doc(resp, status, "application/json", &body);
        break;
    }
    case R_LIST: {
        int status = sr_admin_doc_integrations(&a->src, &body);
        respond_doc(resp, status, "application/json", &body);
        break;
    }
    case R_KAFKA: {
        int status = sr_admin_doc_kafka(&a->src, &body);
        respond_doc(resp, status, "application/json", &body);
        break;
    }
    case R_ONE: {
        int status = sr_admin_doc_integration(&a->src, name, &body);
        respond_doc(resp, status, "application/json", &body);
        break;
    }
    case R_PIPELINE: {
        int status = sr_admin_doc_pipeline(&a->src, &body);
        respond_doc(resp, status, "application/json", &body);
        break;
    }
    case R_TYPES: types(a, resp); break;
    case R_AUDIT: audit_list(a, req->query, resp); break;
    case R_WHOAMI: whoami(a, &d.who, resp); break;
    default: sr_http_respond_error(resp, 404, "not found", NULL, 0); break;
    }
}

/* ---- Paths --------------------------------------------------------------- */

long sr_admin_percent_decode(const char *in, size_t inlen, char *out, size_t outlen) {
    size_t o = 0;
    if (outlen == 0)
        return -1;
    for (size_t i = 0; i < inlen; i++) {
        char c = in[i];
        if (c == '%') {
            int hi = i + 2 < inlen ? sr_hex_value((unsigned char)in[i + 1]) : -1;
            int lo = hi >= 0 ? sr_hex_value((unsigned char)in[i + 2]) : -1;
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

sr_admin *sr_admin_new(uv_loop_t *loop, const char *host, int port, const sr_admin_conf *c,
                       const sr_admin_sources *src, char *err, size_t errlen) {
    char why[512] = "";
    sr_admin *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "admin API: out of memory");
        return NULL;
    }
    a->src = *src;
    a->loop = loop;
    if (!(a->host = strdup(host))) {
        snprintf(err, errlen, "admin API: out of memory");
        free(a);
        return NULL;
    }
    if (src->tls && src->tls->cert_file &&
        !(a->tls = sr_tls_ctx_new_server(src->tls, why, sizeof why))) {
        snprintf(err, errlen, "admin API: %s", why);
        free(a->host);
        free(a);
        return NULL;
    }
    sr_http_server_conf conf = {
        .name = "admin",
        .host = host,
        .port = port,
        .tls = a->tls,
        .max_body = ADMIN_MAX_BODY,
        .idle_timeout_ms = c ? c->idle_timeout_ms : 0,
        .header_timeout_ms = c ? c->header_timeout_ms : 0,
        .body_progress_bytes = c ? c->min_progress_bytes : 0,
        .body_progress_interval_ms = c ? c->progress_interval_ms : 0,
        .limits = c ? c->limits : (sr_conn_limits){0},
        .max_body_total = ADMIN_MAX_BODY_TOTAL,
        .head_handler = on_head,
    };
    a->srv = sr_http_server_new(loop, &conf, on_request, a, why, sizeof why);
    if (!a->srv) {
        snprintf(err, errlen, "admin API: %s", why);
        sr_tls_ctx_free(a->tls);
        free(a->host);
        free(a);
        return NULL;
    }
    a->src.admin_server = a->srv;
    if (!(a->failures = sr_admin_failures_new(loop, src->failed_auth))) {
        snprintf(err, errlen, "admin API: out of memory");
        sr_http_server_close(a->srv, NULL, NULL);
        sr_tls_ctx_free(a->tls); /* a closing server accepts nothing more */
        free(a->host);
        free(a);
        return NULL;
    }
    if (a->src.control)
        a->writer = sr_admin_writer_new(loop, &a->src);
    char addr[300];
    format_address(addr, sizeof addr, host, sr_http_server_port(a->srv));
    sr_info("admin", "admin API listening on %s%s%s", addr, a->tls ? " (TLS)" : "",
            a->src.ntokens ? "" : " (no admin.tokens: reads open, changes refused)");
    return a;
}

void sr_admin_set_sources(sr_admin *a, const sr_admin_sources *src) {
    a->src = *src;
    a->src.admin_server = a->srv;
}

int sr_admin_port(const sr_admin *a) { return sr_http_server_port(a->srv); }

sr_tls_ctx *sr_admin_tls(const sr_admin *a) { return a->tls; }

static void on_server_closed(void *ud) {
    sr_admin *a = ud;
    if (a->close_cb)
        a->close_cb(a->close_ud);
    sr_tls_ctx_free(a->tls);
    free(a->host);
    free(a);
}

void sr_admin_close(sr_admin *a, void (*cb)(void *ud), void *ud) {
    if (!a || a->closing)
        return;
    a->closing = 1;
    a->close_cb = cb;
    a->close_ud = ud;
    sr_admin_writer_close(a->writer);
    a->writer = NULL;
    sr_admin_failures_close(a->failures); /* its last summary still reaches the audit */
    a->failures = NULL;
    memset(&a->src, 0, sizeof a->src);
    sr_http_server_close(a->srv, on_server_closed, a);
}
