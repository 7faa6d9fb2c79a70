/* cmd_test.c - `siemrelay test`: arguments, reading events, and the report
 * (text or --json) of what test_run.c found. */
#include "cmd_test.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "fsutil.h"
#include "test_run.h"
#include "test_suite.h"

#define SR_TEST_MAX_FILES 64

static void usage(FILE *out) {
    fprintf(out, "usage: siemrelay test -c FILE [-c FILE ...] [--json] [EVENTS ...]\n"
                 "       siemrelay test [-c FILE ...] --suite FILE [--suite FILE ...]\n"
                 "EVENTS are files of JSON objects (one, an array, or NDJSON); '-' or none: "
                 "stdin.\n");
}

/* ---- Masking ------------------------------------------------------------ */

/* Headers whose value is a credential whatever the configuration calls it
 * (Basic auth is the base64 of a secret, so redaction alone misses it). */
static int credential_header(const char *name) {
    static const char *const words[] = {"authorization", "token",    "key",   "secret",
                                        "signature",     "password", "cookie"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        size_t wl = strlen(words[i]);
        for (const char *p = name; *p; p++)
            if (strncasecmp(p, words[i], wl) == 0)
                return 1;
    }
    return 0;
}

/* The length of an Authorization value's scheme ("Bearer", "Basic",
 * "AWS4-HMAC-SHA256"), or 0 when the value does not start with one. */
static size_t auth_scheme(const char *name, const char *value) {
    if (strcasecmp(name, "authorization") != 0 && strcasecmp(name, "proxy-authorization") != 0)
        return 0;
    size_t n = strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-");
    return n > 0 && n < 32 && value[n] == ' ' ? n : 0;
}

/* A header value as shown: the integration's secrets masked (as the admin
 * API masks them), and a credential header's value masked whole, but for
 * an Authorization scheme ("Bearer ******"). */
static void masked_value(sr_lua_host *h, size_t integ, const char *name, const char *value,
                         sr_buf *out) {
    if (credential_header(name)) {
        size_t scheme = auth_scheme(name, value);
        if (scheme)
            sr_buf_append(out, value, scheme + 1);
        sr_buf_puts(out, "******");
        return;
    }
    size_t off = out->len;
    sr_buf_puts(out, value);
    sr_lua_host_redact(h, integ, out->data + off, out->len - off);
}

/* ---- The request an HTTP type builds ------------------------------------ */

typedef struct shown_request {
    int ok;
    char err[256];
    char method[16];
    sr_buf url;
    sr_buf headers; /* "Name: value\n" each, masked */
    sr_buf json;    /* {"name":"value",...}, masked */
    char step[32];
} shown_request;

static void show_request_free(shown_request *s) {
    sr_buf_free(&s->url);
    sr_buf_free(&s->headers);
    sr_buf_free(&s->json);
}

static int build_request(sr_test_run *r, size_t integ, const sr_test_target *t, shown_request *s) {
    sr_lua_host *h = sr_test_run_host(r);
    sr_integration_info info;
    memset(s, 0, sizeof *s);
    memset(&info, 0, sizeof info);
    if (t->kind != SR_TARGET_RECORD || sr_lua_host_info(h, integ, &info) != 0 || !info.transport ||
        strcmp(info.transport, "http") != 0)
        return 0;
    sr_http_request_buf *rq = calloc(1, sizeof *rq);
    if (!rq)
        return 0;
    const char *rec = t->rec;
    uint32_t len = (uint32_t)t->rec_len;
    if (sr_lua_host_request(h, integ, &rec, &len, 1, rq, s->err, sizeof s->err) != 0) {
        sr_lua_host_redact(h, integ, s->err, strlen(s->err));
        goto done;
    }
    s->ok = 1;
    snprintf(s->method, sizeof s->method, "%s", rq->req.method ? rq->req.method : "POST");
    snprintf(s->step, sizeof s->step, "%s", rq->step);
    sr_buf_puts(&s->url, rq->req.url ? rq->req.url : "");
    sr_lua_host_redact(h, integ, s->url.data, s->url.len);
    sr_buf_putc(&s->json, '{');
    for (size_t k = 0; k < rq->req.nheaders; k++) {
        const sr_sink_header *hd = &rq->req.headers[k];
        sr_buf v = SR_BUF_INIT;
        masked_value(h, integ, hd->name, hd->value ? hd->value : "", &v);
        sr_buf_printf(&s->headers, "%s: %.*s\n", hd->name, (int)v.len, v.data ? v.data : "");
        if (k)
            sr_buf_putc(&s->json, ',');
        sr_buf_json_string(&s->json, hd->name, strlen(hd->name));
        sr_buf_putc(&s->json, ':');
        sr_buf_json_string(&s->json, v.data ? v.data : "", v.len);
        sr_buf_free(&v);
    }
    sr_buf_putc(&s->json, '}');
done:
    sr_buf_free(&rq->storage);
    free(rq);
    return 1;
}

/* ---- Report ------------------------------------------------------------- */

static void position(sr_buf *out, const char *source, const sr_test_event *te, size_t nth) {
    sr_buf_printf(out, "%s: ", source);
    if (te->line)
        sr_buf_printf(out, "line %u", te->line);
    else if (te->index >= 0)
        sr_buf_printf(out, "[%d]", te->index);
    else
        sr_buf_printf(out, "event %zu", nth + 1);
}

/* The event's id, type, channel and severity, as a text line. */
static void event_summary(sr_buf *out, const sr_event *ev) {
    const char *v;
    uint32_t vl;
    if (sr_event_get(ev, "id", 2, &v, &vl) >= 0)
        sr_buf_printf(out, "id %.*s, ", (int)vl, v);
    if (sr_event_get(ev, "type", 4, &v, &vl) >= 0)
        sr_buf_printf(out, "type %.*s, ", (int)vl, v);
    sr_buf_printf(out, "channel %s", ev->channel ? sr_channel_name(ev->channel) : "none");
    if (ev->severity >= 0)
        sr_buf_printf(out, ", severity %d (%s)", ev->severity,
                      sr_severity_label(ev->severity) ? sr_severity_label(ev->severity) : "?");
}

static void indent(sr_buf *out, const char *p, size_t n, const char *pad) {
    sr_buf_puts(out, pad);
    for (size_t i = 0; i < n; i++) {
        sr_buf_putc(out, p[i]);
        if (p[i] == '\n' && i + 1 < n)
            sr_buf_puts(out, pad);
    }
    if (n == 0 || p[n - 1] != '\n')
        sr_buf_putc(out, '\n');
}

static void text_event(sr_test_run *r, const char *source, const sr_test_event *te, size_t nth,
                       sr_buf *out) {
    position(out, source, te, nth);
    sr_buf_printf(out, ": %s", sr_test_status_name(te->status));
    if (te->ev) {
        sr_buf_puts(out, " (");
        event_summary(out, te->ev);
        sr_buf_puts(out, ")");
    }
    sr_buf_putc(out, '\n');
    if (te->status != SR_TEST_ACCEPTED)
        sr_buf_printf(out, "  %s%s%s\n", te->stage[0] ? te->stage : "", te->stage[0] ? ": " : "",
                      te->why);
    if (te->warning[0])
        sr_buf_printf(out, "  warning: %s\n", te->warning);
    if (te->status == SR_TEST_REJECTED)
        return;
    for (size_t k = 0; k < sr_test_run_count(r); k++) {
        const sr_integration_spec *s = sr_test_run_integration(r, k);
        const sr_test_target *t = &te->targets[k];
        sr_buf_printf(out, "  %s (%s): %s", s->name, s->type, sr_test_target_name(t->kind));
        if (t->kind != SR_TARGET_RECORD) {
            sr_buf_printf(out, ": %s%s%s\n", t->stage[0] ? t->stage : "", t->stage[0] ? ": " : "",
                          t->why);
            continue;
        }
        sr_buf_printf(out, ", %zu bytes\n", t->rec_len);
        indent(out, t->rec, t->rec_len, "    | ");
        shown_request rq;
        if (!build_request(r, k, t, &rq))
            continue;
        if (!rq.ok) {
            sr_buf_printf(out, "    request(): error: %s\n", rq.err);
        } else {
            sr_buf_printf(out, "    %s %.*s%s%s%s\n", rq.method, (int)rq.url.len,
                          rq.url.data ? rq.url.data : "", rq.step[0] ? "  (step '" : "", rq.step,
                          rq.step[0] ? "': it comes before the batch's own request)" : "");
            if (rq.headers.len)
                indent(out, rq.headers.data, rq.headers.len, "      ");
        }
        show_request_free(&rq);
    }
}

static void json_event(sr_test_run *r, const char *source, const sr_test_event *te, size_t nth,
                       sr_buf *out) {
    sr_buf_puts(out, "{\"source\":");
    sr_buf_json_string(out, source, strlen(source));
    sr_buf_printf(out, ",\"n\":%zu", nth + 1);
    if (te->line)
        sr_buf_printf(out, ",\"line\":%u", te->line);
    if (te->index >= 0)
        sr_buf_printf(out, ",\"index\":%d", te->index);
    sr_buf_printf(out, ",\"status\":\"%s\"", sr_test_status_name(te->status));
    if (te->status != SR_TEST_ACCEPTED) {
        if (te->stage[0])
            sr_buf_printf(out, ",\"stage\":\"%s\"", te->stage);
        sr_buf_puts(out, ",\"reason\":");
        sr_buf_json_string(out, te->why, strlen(te->why));
    }
    if (te->warning[0]) {
        sr_buf_puts(out, ",\"warning\":");
        sr_buf_json_string(out, te->warning, strlen(te->warning));
    }
    if (te->ev) {
        sr_buf_printf(out, ",\"channel\":\"%s\",\"severity\":%d,\"event\":",
                      te->ev->channel ? sr_channel_name(te->ev->channel) : "", te->ev->severity);
        sr_event_write(te->ev, out);
    }
    sr_buf_puts(out, ",\"integrations\":[");
    for (size_t k = 0; te->ev && k < sr_test_run_count(r); k++) {
        const sr_integration_spec *s = sr_test_run_integration(r, k);
        const sr_test_target *t = &te->targets[k];
        sr_buf_puts(out, k ? ",{\"name\":" : "{\"name\":");
        sr_buf_json_string(out, s->name, strlen(s->name));
        sr_buf_printf(out, ",\"type\":\"%s\",\"result\":\"%s\"", s->type,
                      sr_test_target_name(t->kind));
        if (t->kind != SR_TARGET_RECORD) {
            if (t->stage[0])
                sr_buf_printf(out, ",\"stage\":\"%s\"", t->stage);
            sr_buf_puts(out, ",\"reason\":");
            sr_buf_json_string(out, t->why, strlen(t->why));
            sr_buf_putc(out, '}');
            continue;
        }
        sr_buf_puts(out, ",\"record\":");
        sr_buf_json_string(out, t->rec, t->rec_len);
        shown_request rq;
        if (build_request(r, k, t, &rq)) {
            if (!rq.ok) {
                sr_buf_puts(out, ",\"request_error\":");
                sr_buf_json_string(out, rq.err, strlen(rq.err));
            } else {
                sr_buf_printf(out, ",\"request\":{\"method\":\"%s\",\"url\":", rq.method);
                sr_buf_json_string(out, rq.url.data ? rq.url.data : "", rq.url.len);
                if (rq.step[0])
                    sr_buf_printf(out, ",\"step\":\"%s\"", rq.step);
                sr_buf_puts(out, ",\"headers\":");
                sr_buf_append(out, rq.json.data, rq.json.len);
                sr_buf_putc(out, '}');
            }
            show_request_free(&rq);
        }
        sr_buf_putc(out, '}');
    }
    sr_buf_puts(out, "]}\n");
}

static int failed(const sr_test_run *r, const sr_test_event *te) {
    if (te->status == SR_TEST_FAILED || te->status == SR_TEST_REJECTED)
        return 1;
    for (size_t k = 0; k < sr_test_run_count(r); k++)
        if (te->targets[k].kind == SR_TARGET_FAILED)
            return 1;
    return 0;
}

/* Runs one input and prints its events; returns the number that failed,
 * or -1 when the input could not be read or run. */
static long run_source(sr_test_run *r, const char *path, int json) {
    int from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    char err[512];
    if (!f) {
        fprintf(stderr, "siemrelay: %s: cannot open\n", path);
        return -1;
    }
    sr_buf data = SR_BUF_INIT;
    int rc = sr_read_all(f, &data);
    if (!from_stdin)
        fclose(f);
    if (rc != 0) {
        fprintf(stderr, "siemrelay: %s: cannot read\n", path);
        sr_buf_free(&data);
        return -1;
    }
    sr_test_body *b = sr_test_run_body(r, data.data ? data.data : "", data.len, err, sizeof err);
    sr_buf_free(&data);
    if (!b) {
        fprintf(stderr, "siemrelay: %s: %s\n", path, err);
        return -1;
    }
    const char *source = from_stdin ? "stdin" : path;
    long nfailed = 0;
    sr_buf out = SR_BUF_INIT;
    for (size_t i = 0; i < b->nevents; i++) {
        if (json)
            json_event(r, source, &b->events[i], i, &out);
        else
            text_event(r, source, &b->events[i], i, &out);
        nfailed += failed(r, &b->events[i]);
    }
    fwrite(out.data, 1, out.len, stdout);
    fflush(stdout);
    sr_buf_free(&out);
    sr_test_body_free(b);
    return nfailed;
}

int sr_cmd_test(int argc, char **argv) {
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"suite", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *paths[SR_TEST_MAX_FILES], *suites[SR_TEST_MAX_FILES];
    size_t npaths = 0, nsuites = 0;
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
        case 's':
            if ((c == 'c' ? npaths : nsuites) == SR_TEST_MAX_FILES) {
                fprintf(stderr, "siemrelay test: at most %d files per option\n", SR_TEST_MAX_FILES);
                return 2;
            }
            if (c == 'c')
                paths[npaths++] = optarg;
            else
                suites[nsuites++] = optarg;
            break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (nsuites) {
        if (optind < argc) {
            fprintf(stderr, "siemrelay test: --suite takes no event files\n");
            return 2;
        }
        return sr_test_suites(suites, nsuites, paths, npaths);
    }
    if (npaths == 0) {
        fprintf(stderr, "siemrelay test: no configuration given; use -c FILE\n");
        usage(stderr);
        return 2;
    }
    char err[1024];
    sr_test_run *r = sr_test_run_new(paths, npaths, NULL, 0, err, sizeof err);
    if (!r) {
        fprintf(stderr, "siemrelay: %s\n", err);
        return 2;
    }
    long nfailed = 0;
    int rc = 0;
    if (optind == argc)
        nfailed = run_source(r, "-", json);
    for (int i = optind; i < argc && rc == 0; i++) {
        long n = run_source(r, argv[i], json);
        if (n < 0)
            rc = 2;
        else
            nfailed += n;
    }
    sr_test_run_free(r);
    if (rc == 0 && nfailed < 0)
        rc = 2;
    return rc ? rc : nfailed > 0;
}
