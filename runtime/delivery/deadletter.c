/* deadletter.c - JSON-lines dead-letter files, one per integration. */
#include "deadletter.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "rotating_file.h"

#define DL_ROTATE_BYTES     (64u << 20)
#define DL_KEEP_FILES       SR_DEADLETTER_KEEP_FILES
#define DL_RESPONSE_EXCERPT 1024
#define DL_PIPELINE_NAME    "_pipeline"

typedef struct dl_file {
    char *name;
    sr_rotating_file *f;
    struct dl_file *next;
} dl_file;

struct sr_deadletter {
    char *dir;
    dl_file *files;
    uint64_t count;
    pthread_mutex_t mu; /* the pipeline and delivery may share one instance */
};

sr_deadletter *sr_deadletter_new(const char *data_dir) {
    sr_deadletter *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    size_t n = strlen(data_dir) + sizeof "/deadletter";
    d->dir = malloc(n);
    if (!d->dir) {
        free(d);
        return NULL;
    }
    snprintf(d->dir, n, "%s/deadletter", data_dir);
    /* Recursive: a rewrite's callback may write other files' dead letters
     * (the pipeline's replay writes integrations' failures). */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&d->mu, &attr);
    pthread_mutexattr_destroy(&attr);
    return d;
}

void sr_deadletter_free(sr_deadletter *d) {
    if (!d)
        return;
    dl_file *f = d->files;
    while (f) {
        dl_file *next = f->next;
        sr_rotating_file_close(f->f);
        free(f->name);
        free(f);
        f = next;
    }
    pthread_mutex_destroy(&d->mu);
    free(d->dir);
    free(d);
}

static sr_rotating_file *file_for(sr_deadletter *d, const char *integration) {
    const char *name = integration ? integration : DL_PIPELINE_NAME;
    for (dl_file *f = d->files; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f->f;

    char safe[200], path[4096], err[256];
    sr_safe_file_name(name, safe, sizeof safe);
    snprintf(path, sizeof path, "%s/%s.jsonl", d->dir, safe);
    dl_file *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->name = strdup(name);
    f->f = sr_rotating_file_open(path, DL_ROTATE_BYTES, DL_KEEP_FILES, err, sizeof err);
    if (!f->name || !f->f) {
        if (!f->f)
            sr_error("deadletter", "%s", err);
        sr_rotating_file_close(f->f);
        free(f->name);
        free(f);
        return NULL;
    }
    f->next = d->files;
    d->files = f;
    return f->f;
}

/* JSON as is, compacted so it stays on one line whatever its layout (raw
 * text may hold newlines); anything else as a string. */
static int put_payload(sr_buf *b, const char *p, size_t n) {
    if (!p || !n)
        return sr_buf_puts(b, "null");
    if (sr_json_validate(p, n, 128, NULL) == 0)
        return sr_json_compact(p, n, b);
    return sr_buf_json_string(b, p, n);
}

static int format_line(const sr_deadletter_entry *e, sr_buf *b) {
    char ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t k = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + k, sizeof ts - k, ".%03ldZ", now.tv_nsec / 1000000);

    int rc = sr_buf_printf(b, "{\"time\":\"%s\",\"integration\":", ts);
    if (e->integration)
        rc |= sr_buf_json_string(b, e->integration, strlen(e->integration));
    else
        rc |= sr_buf_puts(b, "null");
    rc |= sr_buf_puts(b, ",\"stage\":");
    const char *stage = e->stage ? e->stage : "unknown";
    rc |= sr_buf_json_string(b, stage, strlen(stage));
    rc |= sr_buf_puts(b, ",\"reason\":");
    const char *reason = e->reason ? e->reason : "";
    rc |= sr_buf_json_string(b, reason, strlen(reason));
    if (e->response && e->response_len) {
        size_t n = e->response_len < DL_RESPONSE_EXCERPT ? e->response_len : DL_RESPONSE_EXCERPT;
        rc |= sr_buf_puts(b, ",\"response\":");
        rc |= sr_buf_json_string(b, e->response, n);
    }
    if (e->where && *e->where) {
        rc |= sr_buf_puts(b, ",\"where\":");
        rc |= sr_buf_json_string(b, e->where, strlen(e->where));
    }
    if (e->traceback && e->traceback_len) {
        rc |= sr_buf_puts(b, ",\"traceback\":");
        rc |= sr_buf_json_string(b, e->traceback, e->traceback_len);
    }
    rc |= sr_buf_puts(b, e->payload_is_event ? ",\"event\":" : ",\"record\":");
    rc |= put_payload(b, e->payload, e->payload_len);
    /* Events are JSON objects (parsed at ingest); anything else is left out. */
    if (!e->payload_is_event && e->event && e->event_len &&
        sr_json_validate(e->event, e->event_len, 128, NULL) == 0) {
        rc |= sr_buf_puts(b, ",\"event\":");
        rc |= sr_json_compact(e->event, e->event_len, b);
    }
    rc |= sr_buf_putc(b, '}');
    return rc ? -1 : 0;
}

int sr_deadletter_write(sr_deadletter *d, const sr_deadletter_entry *e) {
    sr_buf line = SR_BUF_INIT;
    char err[256];
    int rc = -1;
    if (format_line(e, &line) != 0) {
        sr_error("deadletter", "out of memory formatting a dead letter for %s",
                 e->integration ? e->integration : "the pipeline");
        goto done;
    }
    pthread_mutex_lock(&d->mu);
    sr_rotating_file *f = file_for(d, e->integration);
    if (f && sr_rotating_file_append_line(f, line.data, line.len, err, sizeof err) == 0) {
        d->count++;
        rc = 0;
    } else if (f) {
        sr_error("deadletter", "%s", err);
    }
    pthread_mutex_unlock(&d->mu);
done:
    sr_buf_free(&line);
    return rc;
}

int sr_deadletter_write_failure(sr_deadletter *d, const char *integration, const sr_emit *emit,
                                const sr_emit_fail *f, const char *event, size_t event_len) {
    sr_deadletter_entry e = {
        .integration = integration,
        .stage = f->stage,
        .reason = f->msg,
        .payload = event && event_len ? event : "{}",
        .payload_len = event && event_len ? event_len : 2,
        .payload_is_event = 1,
        .where = f->where,
        .traceback = f->trace_len ? emit->traces.data + f->trace_off : NULL,
        .traceback_len = f->trace_len,
    };
    return sr_deadletter_write(d, &e);
}

int sr_deadletter_rewrite(sr_deadletter *d, const char *integration,
                          int (*fn)(void *ud, const char *const *paths, size_t n), void *ud) {
    char safe[200], store[DL_KEEP_FILES + 1][4200];
    const char *paths[DL_KEEP_FILES + 1];
    size_t n = 0;
    if (!integration)
        integration = DL_PIPELINE_NAME;
    sr_safe_file_name(integration, safe, sizeof safe);
    pthread_mutex_lock(&d->mu);
    for (dl_file **p = &d->files; *p; p = &(*p)->next) {
        if (strcmp((*p)->name, integration) != 0)
            continue;
        dl_file *f = *p;
        *p = f->next;
        sr_rotating_file_close(f->f);
        free(f->name);
        free(f);
        break;
    }
    /* Listed under the lock: no rotation renames them meanwhile. */
    for (int k = DL_KEEP_FILES; k >= 1; k--) {
        snprintf(store[n], sizeof store[n], "%s/%s.jsonl.%d", d->dir, safe, k);
        if (access(store[n], F_OK) == 0) {
            paths[n] = store[n];
            n++;
        }
    }
    snprintf(store[n], sizeof store[n], "%s/%s.jsonl", d->dir, safe);
    paths[n] = store[n];
    n++;
    int rc = fn(ud, paths, n);
    pthread_mutex_unlock(&d->mu);
    return rc;
}

uint64_t sr_deadletter_count(const sr_deadletter *d) {
    sr_deadletter *m = (sr_deadletter *)d;
    pthread_mutex_lock(&m->mu);
    uint64_t n = m->count;
    pthread_mutex_unlock(&m->mu);
    return n;
}
