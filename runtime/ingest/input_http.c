/* input_http.c - POST /v1/events into the pipeline. */
#include "input_http.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth_guard.h"
#include "gzip.h"
#include "http_origin.h"
#include "http_server.h"
#include "log.h"
#include "log_budget.h"
#include "tls_stream.h"

#define COMPONENT        "input.http"
#define TOKEN_DIGEST_LEN 32 /* SHA-256 */
/* Cross-origin refusals logged per minute; the rest are counted only. */
#define CROSS_ORIGIN_LOG_MAX    10
#define CROSS_ORIGIN_LOG_WINDOW 60000

struct sr_input_http {
    uv_loop_t *loop;
    sr_http_server *server;
    sr_auth_guard *guard; /* failed tokens per peer, when a token is set */
    sr_tls_ctx *tls;
    sr_ingest ingest;
    size_t max_body;
    int has_token;
    /* Comparing digests keeps the comparison constant-time whatever the
     * length of the presented token, and keeps the token out of memory. */
    unsigned char token_digest[TOKEN_DIGEST_LEN];
    sr_log_budget cross_origin_log;
    void (*stop_cb)(void *ud);
    void *stop_ud;
};

/* One submitted request, until the pipeline answers. Self-contained: it
 * must not touch the input, which may be gone by then. */
typedef struct pending_request {
    sr_http_response *resp;
    char origin[]; /* "http:<peer ip>", kept for the pipeline */
} pending_request;

static const sr_http_header allow_post[] = {{"Allow", "POST"}};
static const sr_http_header allow_get[] = {{"Allow", "GET, HEAD"}};
static const sr_http_header bearer_challenge[] = {
    {"WWW-Authenticate", "Bearer realm=\"siemrelay\""}};

static int digest(const void *data, size_t len, unsigned char out[TOKEN_DIGEST_LEN]) {
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == TOKEN_DIGEST_LEN ? 0
                                                                                            : -1;
}

static int authorized(const sr_input_http *in, const sr_http_request *req) {
    if (!in->has_token)
        return 1;
    const char *auth = sr_http_request_header(req, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return 0;
    const char *token = auth + 7;
    while (*token == ' ')
        token++;
    unsigned char d[TOKEN_DIGEST_LEN];
    if (*token == '\0' || digest(token, strlen(token), d) != 0)
        return 0;
    return CRYPTO_memcmp(d, in->token_digest, sizeof d) == 0;
}

static void on_ingest_reply(void *ud, const sr_ingest_reply *reply) {
    pending_request *pr = ud;
    free(reply->data); /* on 503 the HTTP sender sends it again itself */
    sr_http_header retry[1];
    char seconds[24];
    size_t nretry = 0;
    if (reply->retry_after_s >= 0) {
        snprintf(seconds, sizeof seconds, "%ld", reply->retry_after_s);
        retry[nretry++] = (sr_http_header){"Retry-After", seconds};
    }
    sr_http_respond(pr->resp, reply->status, "application/json", retry, nretry, reply->body,
                    reply->body_len);
    free(pr);
}

/* Takes the body out of the request, inflating it when it is gzip'd.
 * Returns 0, or the status to answer with `why`. */
static int take_body(const sr_input_http *in, sr_http_request *req, char **data, size_t *len,
                     char *why, size_t whylen) {
    const char *enc = sr_http_request_header(req, "Content-Encoding");
    if (enc && *enc && strcasecmp(enc, "identity") != 0) {
        if (strcasecmp(enc, "gzip") != 0 && strcasecmp(enc, "x-gzip") != 0) {
            snprintf(why, whylen, "unsupported Content-Encoding (use gzip or none)");
            return 415;
        }
        if (req->body_len == 0) {
            snprintf(why, whylen, "empty body");
            return 400;
        }
        switch (sr_gzip_inflate(req->body, req->body_len, in->max_body ? in->max_body : SIZE_MAX,
                                data, len, why, whylen)) {
        case SR_GZIP_OK: break;
        case SR_GZIP_TOO_LARGE: return 413;
        case SR_GZIP_CORRUPT: return 400;
        case SR_GZIP_NOMEM: return 503;
        }
    } else {
        *data = sr_http_request_take_body(req, len);
    }
    if (*len == 0) {
        free(*data);
        *data = NULL;
        snprintf(why, whylen, "empty body");
        return 400;
    }
    return 0;
}

static void handle_events(sr_input_http *in, sr_http_request *req, sr_http_response *resp) {
    char why[160];
    char *data = NULL;
    size_t len = 0;

    int status = take_body(in, req, &data, &len, why, sizeof why);
    if (status) {
        sr_debug(COMPONENT, "%s: %d %s", req->peer, status, why);
        sr_http_respond_error(resp, status, why, NULL, 0);
        return;
    }
    size_t olen = strlen("http:") + strlen(req->peer_ip) + 1;
    pending_request *pr = malloc(sizeof *pr + olen);
    if (!pr) {
        free(data);
        sr_http_respond_error(resp, 503, "out of memory", NULL, 0);
        return;
    }
    pr->resp = resp;
    snprintf(pr->origin, olen, "http:%s", req->peer_ip);
    long wait_s = in->ingest.busy ? in->ingest.busy(in->ingest.ctx) : 0;
    if (wait_s > 0 || in->ingest.submit(in->ingest.ctx, data, len, SR_BODY_AUTO, 1, pr->origin,
                                        on_ingest_reply, pr) != 0) {
        /* Nothing of the body was kept: the sender must send it again. */
        char seconds[24];
        snprintf(seconds, sizeof seconds, "%ld", wait_s > 0 ? wait_s : 5);
        sr_http_header retry = {"Retry-After", seconds};
        if (wait_s > 0)
            free(data);
        free(pr);
        sr_http_respond_error(resp, 503,
                              wait_s > 0 ? "queue full: an integration's queue is at its bound; "
                                           "retry later"
                                         : "not accepting events now (stopping or out of memory)",
                              &retry, 1);
    }
}

/* A page in the operator's browser must not be able to post events (http_origin.h). */
static int refuse_cross_origin(sr_input_http *in, sr_http_request *req, sr_http_response *resp,
                               uint64_t now) {
    const char *why = sr_http_cross_origin(req);
    if (!why)
        return 0;
    int log = sr_log_budget_take(&in->cross_origin_log, now, CROSS_ORIGIN_LOG_MAX,
                                 CROSS_ORIGIN_LOG_WINDOW);
    if (log != SR_LOG_BUDGET_SPENT)
        sr_warn(COMPONENT, "%s: 403 for a browser's cross-origin request: %s%s", req->peer, why,
                log == SR_LOG_BUDGET_LAST ? " (further ones this minute are only counted)" : "");
    sr_http_server_count(in->server, SR_HTTP_REFUSED_CROSS_ORIGIN);
    sr_http_respond_error(resp, 403, sr_http_refusal_message(SR_HTTP_REFUSED_CROSS_ORIGIN), NULL,
                          0);
    return 1;
}

/* The token is checked on the head, so a sender without one never makes the
 * gateway read, let alone hold, a body. */
static int handle_head(void *ud, sr_http_request *req, sr_http_response *resp) {
    sr_input_http *in = ud;
    sr_auth_guard_summary sum;
    if (strcmp(req->path, "/v1/events") != 0)
        return 0;
    uint64_t now = uv_now(in->loop);
    if (refuse_cross_origin(in, req, resp, now))
        return 1;
    if (!in->has_token)
        return 0;
    long wait_s = sr_auth_guard_check(in->guard, req->peer_ip, now);
    if (wait_s > 0) {
        char seconds[24];
        snprintf(seconds, sizeof seconds, "%ld", wait_s);
        sr_http_header retry = {"Retry-After", seconds};
        sr_http_server_count(in->server, SR_HTTP_REFUSED_RATE_LIMITED);
        sr_http_respond_error(resp, 429, "too many failed authentications; retry later", &retry, 1);
        return 1;
    }
    if (authorized(in, req))
        return 0;
    if (sr_auth_guard_failed(in->guard, req->peer_ip, now) & SR_AUTH_REPORT_LOG)
        sr_warn(COMPONENT, "%s: missing or invalid bearer token", req->peer);
    if (sr_auth_guard_take_summary(in->guard, now, 0, &sum))
        sr_warn(COMPONENT,
                "%" PRIu64 " failed authentications and %" PRIu64 " rate-limited attempts from "
                "%" PRIu64 " address(es) since %" PRIu64 " s ago",
                sum.failures, sum.limited, sum.peers, (now - sum.since_ms) / 1000);
    sr_http_server_count(in->server, SR_HTTP_REFUSED_UNAUTHORIZED);
    sr_http_respond_error(resp, 401, "missing or invalid bearer token", bearer_challenge, 1);
    return 1;
}

static void handle_request(void *ud, sr_http_request *req, sr_http_response *resp) {
    sr_input_http *in = ud;
    static const char ok[] = "{\"status\":\"ok\"}";

    if (strcmp(req->path, "/v1/events") == 0) {
        if (strcmp(req->method, "POST") == 0)
            handle_events(in, req, resp);
        else
            sr_http_respond_error(resp, 405, "method not allowed", allow_post, 1);
    } else if (strcmp(req->path, "/healthz") == 0) {
        if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
            sr_http_respond(resp, 200, "application/json", NULL, 0, ok, sizeof ok - 1);
        else
            sr_http_respond_error(resp, 405, "method not allowed", allow_get, 1);
    } else {
        sr_http_respond_error(resp, 404, "not found", NULL, 0);
    }
}

unsigned long long sr_input_http_body_budget(unsigned long long max_body) {
    unsigned long long floor = 64ull << 20;
    if (max_body == 0 || max_body > ULLONG_MAX / 4)
        return SIZE_MAX / 2;
    return 4 * max_body > floor ? 4 * max_body : floor;
}

static void input_free(sr_input_http *in) {
    sr_tls_ctx_free(in->tls);
    sr_auth_guard_free(in->guard);
    OPENSSL_cleanse(in->token_digest, sizeof in->token_digest);
    free(in);
}

sr_input_http *sr_input_http_start(uv_loop_t *loop, const sr_input_conf *conf,
                                   const sr_ingest *ingest, char *err, size_t errlen) {
    sr_input_http *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    in->ingest = *ingest;
    in->loop = loop;
    in->max_body = (size_t)conf->max_body_bytes;
    if (conf->token && *conf->token) {
        in->has_token = 1;
        if (digest(conf->token, strlen(conf->token), in->token_digest) != 0) {
            snprintf(err, errlen, "input.http: cannot hash the token");
            goto fail;
        }
        if (!(in->guard = sr_auth_guard_new(&conf->failed_auth))) {
            snprintf(err, errlen, "input.http: out of memory");
            goto fail;
        }
    }
    if (conf->tls.cert_file && !(in->tls = sr_tls_ctx_new_server(&conf->tls, err, errlen)))
        goto fail;
    unsigned long long budget = conf->max_body_total_bytes
                                    ? conf->max_body_total_bytes
                                    : sr_input_http_body_budget(conf->max_body_bytes);
    sr_http_server_conf sc = {
        .name = COMPONENT,
        .host = conf->host ? conf->host : "127.0.0.1",
        .port = conf->port,
        .tls = in->tls,
        .max_body = in->max_body,
        .idle_timeout_ms = conf->idle_timeout_ms,
        .header_timeout_ms = conf->header_timeout_ms,
        .body_progress_bytes = (size_t)conf->min_progress_bytes,
        .body_progress_interval_ms = conf->progress_interval_ms,
        .limits = conf->limits,
        .max_body_total = budget < SIZE_MAX ? (size_t)budget : SIZE_MAX,
        .head_handler = handle_head,
    };
    in->server = sr_http_server_new(loop, &sc, handle_request, in, err, errlen);
    if (!in->server)
        goto fail;
    sr_info(COMPONENT, "listening on %s:%d%s%s", sc.host, sr_http_server_port(in->server),
            in->tls ? " (TLS)" : "", in->has_token ? ", bearer token required" : "");
    return in;
fail:
    input_free(in);
    return NULL;
}

sr_tls_ctx *sr_input_http_tls(const sr_input_http *in) { return in->tls; }

int sr_input_http_port(const sr_input_http *in) { return sr_http_server_port(in->server); }

void sr_input_http_stats(const sr_input_http *in, sr_http_server_stats *out) {
    sr_http_server_stats_get(in->server, out);
}

static void on_server_closed(void *ud) {
    sr_input_http *in = ud;
    if (in->stop_cb)
        in->stop_cb(in->stop_ud);
    input_free(in);
}

void sr_input_http_stop(sr_input_http *in, void (*cb)(void *ud), void *ud) {
    in->stop_cb = cb;
    in->stop_ud = ud;
    sr_http_server_close(in->server, on_server_closed, in);
}

void sr_input_http_close(sr_input_http *in) {
    if (in)
        sr_input_http_stop(in, NULL, NULL);
}
