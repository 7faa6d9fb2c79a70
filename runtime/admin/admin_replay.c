/* admin_replay.c - the dead-letter replay route. */
#include "admin_replay.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "deadletter_replay.h"

#define PARAM_MAX 256

/* The decoded value of `key` in the query: 1 found, 0 absent, -1 malformed. */
static int query_param(const char *query, const char *key, char *out, size_t outlen) {
    size_t klen = strlen(key);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=')
            return sr_admin_percent_decode(p + klen + 1, n - klen - 1, out, outlen) < 0 ? -1 : 1;
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

static void audit(sr_audit *a, const sr_http_request *req, int status, const char *name,
                  const char *user, const char *description) {
    sr_audit_entry e = {
        .action = "replay",
        .method = req->method,
        .uri = req->path,
        .query = req->query,
        .status = status,
        .entity_type = "integration",
        .entity_id = name,
        .user = user,
        .origin_ip = req->peer_ip,
        .description = description,
    };
    sr_audit_record(a, &e);
}

void sr_admin_replay(const sr_admin_control *control, sr_audit *audit_trail, const char *name,
                     const sr_http_request *req, sr_http_response *resp, const char *user) {
    static const sr_http_header no_store[] = {{"Cache-Control", "no-store"}};
    static const char *const keys[] = {"stage", "reason", "since", "until"};
    char vals[4][PARAM_MAX], err[512] = "", said[600];
    const char *v[4] = {NULL, NULL, NULL, NULL};
    int status = 200;
    sr_replay_result res;
    memset(&res, 0, sizeof res);
    for (int k = 0; k < 4; k++) {
        int got = query_param(req->query, keys[k], vals[k], sizeof vals[k]);
        if (got < 0) {
            snprintf(err, sizeof err, "malformed or too long '%s' in the query", keys[k]);
            status = 400;
            goto answer;
        }
        v[k] = got ? vals[k] : NULL;
    }
    if (!control || !control->replay) {
        snprintf(err, sizeof err, "dead letters cannot be replayed here");
        status = 503;
        goto answer;
    }
    sr_replay_filter f = {.stage = v[0], .reason = v[1], .since = v[2], .until = v[3]};
    int rc = control->replay(control->ud, name, &f, &res, err, sizeof err);
    if (rc == 1) {
        snprintf(err, sizeof err, "no integration named '%s' runs", name);
        status = 404;
    } else if (rc != 0) {
        status = 500;
    }
answer:
    if (status == 200)
        snprintf(said, sizeof said,
                 "replayed %" PRIu64 " dead-lettered record(s); %" PRIu64 " line(s) kept, %" PRIu64
                 " of them events with no record",
                 res.replayed, res.kept + res.events, res.events);
    else
        snprintf(said, sizeof said, "replay refused: %s", err);
    audit(audit_trail, req, status, name, user, said);
    if (status != 200) {
        sr_http_respond_error(resp, status, err, no_store, 1);
        return;
    }
    sr_buf b = SR_BUF_INIT;
    int oom =
        sr_buf_printf(&b, "{\"replayed\":%" PRIu64 ",\"kept\":%" PRIu64 ",\"events\":%" PRIu64 "}",
                      res.replayed, res.kept, res.events) != 0;
    if (oom)
        sr_http_respond_error(resp, 500, "out of memory", no_store, 1);
    else
        sr_http_respond(resp, 200, "application/json", no_store, 1, b.data, b.len);
    sr_buf_free(&b);
}
