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
        .entity_type = name ? "integration" : "pipeline",
        .entity_id = name,
        .user = user,
        .origin_ip = req->peer_ip,
        .description = description,
    };
    sr_audit_record(a, &e);
}

/* "true"/"false" (or 1/0): 0, or -1 for anything else. */
static int bool_param(const char *v, int *out) {
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

/* The filter from the query; 0, or -1 with `err` (a 400). */
static int read_filter(const char *query, char vals[5][PARAM_MAX], sr_replay_filter *f, char *err,
                       size_t errlen) {
    static const char *const keys[] = {"stage", "reason", "since", "until", "reencode"};
    const char *v[5] = {NULL, NULL, NULL, NULL, NULL};
    for (int k = 0; k < 5; k++) {
        int got = query_param(query, keys[k], vals[k], PARAM_MAX);
        if (got < 0) {
            snprintf(err, errlen, "malformed or too long '%s' in the query", keys[k]);
            return -1;
        }
        v[k] = got ? vals[k] : NULL;
    }
    memset(f, 0, sizeof *f);
    f->stage = v[0];
    f->reason = v[1];
    if ((f->has_since = v[2] != NULL) && sr_replay_time_parse(v[2], &f->since_ns) != 0) {
        snprintf(err, errlen, "'since' is not a time (RFC 3339 with a zone, or epoch seconds)");
        return -1;
    }
    if ((f->has_until = v[3] != NULL) && sr_replay_time_parse(v[3], &f->until_ns) != 0) {
        snprintf(err, errlen, "'until' is not a time (RFC 3339 with a zone, or epoch seconds)");
        return -1;
    }
    if (v[4] && bool_param(v[4], &f->reencode) != 0) {
        snprintf(err, errlen, "'reencode' must be true or false");
        return -1;
    }
    return 0;
}

/* The answer's body and the audit's description, for a replay done. */
static int describe(const char *name, const sr_replay_result *res, sr_buf *b, char *said,
                    size_t saidlen) {
    int oom;
    if (name) {
        snprintf(said, saidlen,
                 "replayed %" PRIu64 " dead-lettered record(s) (%" PRIu64
                 " re-encoded) from %" PRIu64 " file(s); %" PRIu64 " line(s) kept, %" PRIu64
                 " of them events with no record, %" PRIu64 " records not re-encoded",
                 res->replayed, res->reencoded, res->files, res->kept + res->events + res->records,
                 res->events, res->records);
        oom = sr_buf_printf(b,
                            "{\"replayed\":%" PRIu64 ",\"reencoded\":%" PRIu64 ",\"kept\":%" PRIu64
                            ",\"events\":%" PRIu64 ",\"records\":%" PRIu64 ",\"files\":%" PRIu64,
                            res->replayed, res->reencoded, res->kept, res->events, res->records,
                            res->files) != 0;
    } else {
        snprintf(said, saidlen,
                 "replayed %" PRIu64 " dead-lettered event(s) through the pipeline from %" PRIu64
                 " file(s): %" PRIu64 " record(s) queued, %" PRIu64
                 " integration failure(s) dead-lettered there; %" PRIu64 " line(s) kept, %" PRIu64
                 " of them failing again or giving no record",
                 res->reencoded, res->files, res->replayed, res->moved,
                 res->kept + res->events + res->records, res->events + res->records);
        oom = sr_buf_printf(b,
                            "{\"replayed\":%" PRIu64 ",\"queued\":%" PRIu64
                            ",\"dead_lettered\":%" PRIu64 ",\"failed\":%" PRIu64
                            ",\"kept\":%" PRIu64 ",\"files\":%" PRIu64,
                            res->reencoded, res->replayed, res->moved, res->events + res->records,
                            res->kept, res->files) != 0;
    }
    if (res->error[0])
        oom |= sr_buf_puts(b, ",\"error\":") != 0 ||
               sr_buf_json_string(b, res->error, strlen(res->error)) != 0;
    oom |= sr_buf_putc(b, '}') != 0;
    return oom ? -1 : 0;
}

void sr_admin_replay(const sr_admin_control *control, sr_audit *audit_trail, const char *name,
                     const sr_http_request *req, sr_http_response *resp, const char *user) {
    static const sr_http_header no_store[] = {{"Cache-Control", "no-store"}};
    char vals[5][PARAM_MAX], err[512] = "", said[700];
    int status = 200;
    sr_replay_filter f;
    sr_replay_result res;
    sr_buf b = SR_BUF_INIT;
    memset(&res, 0, sizeof res);
    if (read_filter(req->query, vals, &f, err, sizeof err) != 0) {
        status = 400;
        goto answer;
    }
    if (!name && f.reencode) {
        snprintf(err, sizeof err,
                 "'reencode' does not apply: the pipeline's events always run through the "
                 "pipeline");
        status = 400;
        goto answer;
    }
    if (!control || !control->replay) {
        snprintf(err, sizeof err, "dead letters cannot be replayed here");
        status = 503;
        goto answer;
    }
    int rc = control->replay(control->ud, name, &f, &res, err, sizeof err);
    if (rc == 1) {
        snprintf(err, sizeof err, "no integration named '%s' runs", name ? name : "");
        status = 404;
    } else if (rc != 0) {
        status = 500;
    }
answer:
    if (status == 200 && describe(name, &res, &b, said, sizeof said) != 0) {
        snprintf(err, sizeof err, "out of memory");
        status = 500;
    }
    if (status != 200)
        snprintf(said, sizeof said, "replay refused: %s", err);
    audit(audit_trail, req, status, name, user, said);
    if (status != 200)
        sr_http_respond_error(resp, status, err, no_store, 1);
    else
        sr_http_respond(resp, 200, "application/json", no_store, 1, b.data, b.len);
    sr_buf_free(&b);
}
