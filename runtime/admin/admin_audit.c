/* admin_audit.c - audit events: formatted, logged locally, kept, and submitted to
 * the pipeline. */
#include "admin_audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "admin_json.h"
#include "log.h"
#include "redact.h"
#include "rotating_file.h"

#define LOG_ROTATE_BYTES (4ull << 20)
#define LOG_KEEP_FILES   1
#define SEED_TAIL_BYTES  (1u << 20)
#define RETRY_MS         1000

typedef struct pending_event {
    char *json;
    size_t len;
} pending_event;

struct sr_audit {
    uv_loop_t *loop;
    sr_rotating_file *log;
    char *log_path;
    const sr_ingest *ingest;
    char host[256];
    /* ring of the newest events (JSON lines), oldest at `start` */
    char *recent[SR_AUDIT_RECENT];
    size_t start, n;
    /* events the pipeline did not take yet, oldest first */
    pending_event pending[SR_AUDIT_PENDING];
    size_t npending;
    uint64_t unforwarded; /* dropped from `pending` while full */
    uv_timer_t retry;
    int in_flight; /* submissions the pipeline has not answered */
    int closing, handle_closed;
};

/* ---- the document -------------------------------------------------------- */

static int put_rfc3339_nano(sr_buf *out, int64_t ns) {
    time_t secs = (time_t)(ns / 1000000000);
    struct tm tm;
    char stamp[64];
    if (!gmtime_r(&secs, &tm) || strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return sr_buf_puts(out, "\"\"");
    return sr_buf_printf(out, "\"%s.%09lldZ\"", stamp, (long long)(ns % 1000000000));
}

static int put_text(sr_buf *out, const char *s) { return sr_admin_json_text(out, s ? s : ""); }

int sr_audit_format(const sr_audit_entry *e, int64_t now_ns, const char *id, const char *host,
                    sr_buf *out) {
    int rc = sr_buf_puts(out, "{\"id\":\"");
    rc |= sr_buf_puts(out, id);
    rc |= sr_buf_printf(out, "\",\"type\":\"audittrail\",\"timestamp\":%lld,", (long long)now_ns);
    rc |= sr_buf_puts(out, "\"timestampRFC3339Nano\":");
    rc |= put_rfc3339_nano(out, now_ns);
    rc |= sr_buf_puts(out, ",\"originator\":\"siemrelay\",\"category\":\"\","
                           "\"source\":\"auditTrail\",\"name\":");
    rc |= put_text(out, e->action);
    rc |= sr_buf_puts(out, ",\"description\":");
    rc |= put_text(out, e->description);
    rc |= sr_buf_puts(out, ",\"severity\":0,\"agentId\":0,\"containerId\":\"\",\"machineId\":\"\","
                           "\"content\":{");
    rc |= sr_buf_printf(out, "\"timestampNs\":%lld,\"customerId\":0,\"userId\":0,\"teamId\":0,",
                        (long long)now_ns);
    rc |= sr_buf_puts(out, "\"username\":");
    rc |= put_text(out, e->user);
    rc |= sr_buf_puts(out, ",\"requestMethod\":");
    rc |= put_text(out, e->method);
    rc |= sr_buf_puts(out, ",\"requestUri\":");
    rc |= put_text(out, e->uri);
    rc |= sr_buf_puts(out, ",\"userOriginIP\":");
    rc |= put_text(out, e->origin_ip);
    rc |= sr_buf_puts(out, ",\"queryString\":");
    rc |= put_text(out, e->query);
    rc |= sr_buf_printf(out, ",\"responseStatusCode\":%d,\"entityType\":", e->status);
    rc |= put_text(out, e->entity_type);
    rc |= sr_buf_puts(out, ",\"entityId\":");
    rc |= put_text(out, e->entity_id);
    rc |= sr_buf_puts(out, ",\"entityPayload\":\"\"},\"labels\":{\"entityType\":");
    rc |= put_text(out, e->entity_type);
    rc |= sr_buf_puts(out, ",\"host.hostName\":");
    rc |= put_text(out, host);
    rc |= sr_buf_puts(out, "}}");
    return rc ? -1 : 0;
}

void sr_audit_new_id(char out[33]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)((ts.tv_nsec >> (i % 4 * 8)) ^ (uint64_t)rand());
    }
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[32] = '\0';
}

/* ---- the in-memory ring -------------------------------------------------- */

static void keep(sr_audit *a, const char *json, size_t len) {
    char *copy = strndup(json, len);
    if (!copy)
        return;
    if (a->n == SR_AUDIT_RECENT) {
        free(a->recent[a->start]);
        a->recent[a->start] = copy;
        a->start = (a->start + 1) % SR_AUDIT_RECENT;
        return;
    }
    a->recent[(a->start + a->n++) % SR_AUDIT_RECENT] = copy;
}

int sr_audit_recent(const sr_audit *a, size_t limit, sr_buf *out) {
    int rc = sr_buf_putc(out, '[');
    size_t n = a && limit < a->n ? limit : a ? a->n : 0;
    for (size_t k = 0; k < n; k++) {
        const char *ev = a->recent[(a->start + a->n - 1 - k) % SR_AUDIT_RECENT];
        if (k)
            rc |= sr_buf_putc(out, ',');
        rc |= sr_buf_puts(out, ev);
    }
    rc |= sr_buf_putc(out, ']');
    return rc ? -1 : 0;
}

/* Seeds the ring with the newest complete lines of the log. */
static void seed(sr_audit *a) {
    int fd = open(a->log_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) != 0 || st.st_size == 0)
        goto done;
    off_t from = st.st_size > SEED_TAIL_BYTES ? st.st_size - SEED_TAIL_BYTES : 0;
    size_t len = (size_t)(st.st_size - from);
    if (!(buf = malloc(len + 1)) || pread(fd, buf, len, from) != (ssize_t)len)
        goto done;
    buf[len] = '\0';
    char *line = buf;
    if (from > 0) { /* the first line is cut */
        char *nl = strchr(buf, '\n');
        line = nl ? nl + 1 : buf + len;
    }
    while (*line) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (n > 2 && line[0] == '{')
            keep(a, line, n);
        line += n + (nl ? 1 : 0);
    }
done:
    free(buf);
    close(fd);
}

/* ---- submission ---------------------------------------------------------- */

typedef struct submission {
    sr_audit *a;
    char *json;
    size_t len;
} submission;

static void release(sr_audit *a);
static void submit_pending(sr_audit *a);
static void on_retry(uv_timer_t *t) { submit_pending(t->data); }

static void hold(sr_audit *a, char *json, size_t len) {
    if (a->npending == SR_AUDIT_PENDING) {
        free(a->pending[0].json);
        memmove(a->pending, a->pending + 1, (SR_AUDIT_PENDING - 1) * sizeof *a->pending);
        a->npending--;
        if (a->unforwarded++ % 100 == 0)
            sr_warn("audit",
                    "the pipeline has not taken audit events for a while; %llu are only "
                    "in the local log",
                    (unsigned long long)a->unforwarded);
    }
    a->pending[a->npending++] = (pending_event){json, len};
    if (!a->closing && !uv_is_active((uv_handle_t *)&a->retry))
        uv_timer_start(&a->retry, on_retry, RETRY_MS, 0);
}

static void on_submitted(void *ud, const sr_ingest_reply *reply) {
    submission *s = ud;
    sr_audit *a = s->a;
    a->in_flight--;
    free(reply->data); /* the audit trail keeps its own copy to hold */
    if (reply->status == 503 && !a->closing) {
        hold(a, s->json, s->len);
        s->json = NULL;
    } else if (reply->status != 200) {
        sr_warn("audit", "the pipeline refused an audit event (%d): %.*s", reply->status,
                (int)reply->body_len, reply->body);
    }
    free(s->json);
    free(s);
    if (a->closing)
        release(a);
}

/* Hands one event to the pipeline; takes `json`. Returns 0 when taken. */
static int submit(sr_audit *a, char *json, size_t len) {
    const sr_ingest *in = a->ingest;
    if (!in || a->closing || in->busy(in->ctx) > 0)
        return -1;
    submission *s = malloc(sizeof *s);
    char *data = malloc(len);
    if (!s || !data) {
        free(s);
        free(data);
        return -1;
    }
    memcpy(data, json, len);
    *s = (submission){a, json, len};
    if (in->submit(in->ctx, data, len, SR_BODY_AUTO, 1, "admin", on_submitted, s) != 0) {
        free(s);
        return -1;
    }
    a->in_flight++;
    return 0;
}

static void submit_pending(sr_audit *a) {
    size_t i = 0;
    for (; i < a->npending; i++)
        if (submit(a, a->pending[i].json, a->pending[i].len) != 0)
            break;
    memmove(a->pending, a->pending + i, (a->npending - i) * sizeof *a->pending);
    a->npending -= i;
    if (a->npending && !a->closing)
        uv_timer_start(&a->retry, on_retry, RETRY_MS, 0);
}

void sr_audit_set_ingest(sr_audit *a, const sr_ingest *ingest) {
    if (!a)
        return;
    a->ingest = ingest;
    if (a->npending)
        submit_pending(a);
}

void sr_audit_record(sr_audit *a, const sr_audit_entry *given) {
    char id[33], err[512];
    sr_buf doc = SR_BUF_INIT, query = SR_BUF_INIT;
    struct timespec ts;
    if (!a)
        return;
    /* A query string may carry a credential: never kept or logged raw. */
    sr_audit_entry masked = *given;
    const sr_audit_entry *e = &masked;
    if (given->query && *given->query)
        masked.query = sr_redact_query(given->query, &query) == 0 && query.data ? query.data : "";
    clock_gettime(CLOCK_REALTIME, &ts);
    sr_audit_new_id(id);
    if (sr_audit_format(e, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, id, a->host, &doc) != 0) {
        sr_error("audit", "out of memory: audit event for %s %s not recorded", e->method, e->uri);
        sr_buf_free(&doc);
        sr_buf_free(&query);
        return;
    }
    sr_info("audit", "%s %s%s%s by %s from %s: %d", e->method, e->uri,
            e->query && *e->query ? "?" : "", e->query ? e->query : "", e->user ? e->user : "?",
            e->origin_ip ? e->origin_ip : "-", e->status);
    if (a->log && sr_rotating_file_append_line(a->log, doc.data, doc.len, err, sizeof err) != 0)
        sr_error("audit", "%s", err);
    keep(a, doc.data, doc.len);
    size_t len = doc.len;
    char *json = sr_buf_steal(&doc, &len);
    /* In order: nothing overtakes events still waiting. */
    if (a->npending || submit(a, json, len) != 0)
        hold(a, json, len);
    sr_buf_free(&query);
}

/* ---- lifecycle ----------------------------------------------------------- */

sr_audit *sr_audit_new(uv_loop_t *loop, const char *data_dir, char *err, size_t errlen) {
    sr_audit *a = calloc(1, sizeof *a);
    char why[512] = "";
    if (!a)
        goto oom;
    a->loop = loop;
    size_t n = strlen(data_dir) + sizeof "/audit.jsonl";
    if (!(a->log_path = malloc(n)))
        goto oom;
    snprintf(a->log_path, n, "%s/audit.jsonl", data_dir);
    if (gethostname(a->host, sizeof a->host - 1) != 0)
        a->host[0] = '\0';
    seed(a);
    a->log = sr_rotating_file_open(a->log_path, LOG_ROTATE_BYTES, LOG_KEEP_FILES, why, sizeof why);
    if (!a->log) {
        snprintf(err, errlen, "audit log: %s", why);
        for (size_t i = 0; i < a->n; i++)
            free(a->recent[(a->start + i) % SR_AUDIT_RECENT]);
        free(a->log_path);
        free(a);
        return NULL;
    }
    uv_timer_init(loop, &a->retry);
    a->retry.data = a;
    uv_unref((uv_handle_t *)&a->retry);
    return a;
oom:
    if (a)
        free(a->log_path);
    free(a);
    snprintf(err, errlen, "audit log: out of memory");
    return NULL;
}

static void release(sr_audit *a) {
    if (!a->handle_closed || a->in_flight > 0)
        return;
    for (size_t i = 0; i < a->n; i++)
        free(a->recent[(a->start + i) % SR_AUDIT_RECENT]);
    for (size_t i = 0; i < a->npending; i++)
        free(a->pending[i].json);
    sr_rotating_file_close(a->log);
    free(a->log_path);
    free(a);
}

static void on_retry_closed(uv_handle_t *h) {
    sr_audit *a = h->data;
    a->handle_closed = 1;
    release(a);
}

void sr_audit_free(sr_audit *a) {
    if (!a || a->closing)
        return;
    a->closing = 1;
    if (a->npending)
        sr_warn("audit", "%zu audit event(s) were not forwarded (they are in %s)", a->npending,
                a->log_path);
    uv_close((uv_handle_t *)&a->retry, on_retry_closed);
}
