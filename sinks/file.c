/* file.c - the FILE transport: each record appended as a line to a rotating
 * file (runtime/base/rotating_file.h).
 *
 * Disk writes (and the fdatasync after each batch) would stall the loop, so
 * they run on the libuv threadpool. Batches are written strictly in send()
 * order: one job is on the threadpool at a time, later ones wait in a FIFO.
 * The rotating file is only touched by the running job, or by the loop thread
 * when no job runs, so it needs no lock.
 *
 * Settings (file.h, keys at the end of this file): `path` (required),
 * `rotate_bytes` (0 = never), `keep_files` (0 = rotated data is deleted),
 * `root` (confines `path` below a directory: the admin API's integrations).
 * The key table supplies the defaults, so zero values are taken literally
 * here.
 *
 * Errors: a path that cannot be opened (its directory cannot be created, or
 * it is not writable) fails sr_file_sink_new with the reason in `err`. A
 * batch that cannot be written later (disk full, rotation failed) completes
 * with transport_ok = 0 and the reason in `error`.
 *
 * Each batch is fdatasync'ed before it is reported written: the delivery
 * layer forgets records a sink reported delivered, so they must be on disk. */
#include "file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rotating_file.h"

typedef struct file_sink file_sink;

/* One batch. The record pointers, lengths and bytes live in the same
 * allocation, right after the struct, so the caller's payload can go. */
typedef struct file_job {
    uv_work_t work;
    file_sink *fs;
    struct file_job *next;
    sr_sink_done_cb cb;
    void *ud;
    uint64_t start_ns;
    const char **recs;
    uint32_t *lens;
    size_t n;
    int rc; /* set on the threadpool */
    char error[256];
} file_job;

struct file_sink {
    sr_sink base; /* first, so an sr_sink * is a file_sink * */
    uv_loop_t *loop;
    sr_rotating_file *rf;
    file_job *running;     /* on the threadpool; at most one */
    file_job *head, *tail; /* waiting, oldest first */
    int closing;
};

static void job_write(uv_work_t *w);
static void job_done(uv_work_t *w, int status);

static file_job *job_new(file_sink *fs, const sr_sink_payload *p) {
    size_t bytes = 0;
    for (size_t i = 0; i < p->n; i++)
        bytes += p->lens[i];
    /* sizeof(file_job) is a multiple of its alignment, which covers a pointer;
     * the uint32_t lengths follow the pointers, the bytes come last. */
    file_job *j = malloc(sizeof *j + p->n * (sizeof *j->recs + sizeof *j->lens) + bytes);
    if (!j)
        return NULL;
    memset(j, 0, sizeof *j);
    j->fs = fs;
    j->n = p->n;
    j->recs = (const char **)(j + 1);
    j->lens = (uint32_t *)(j->recs + p->n);
    char *data = (char *)(j->lens + p->n);
    for (size_t i = 0; i < p->n; i++) {
        memcpy(data, p->recs[i], p->lens[i]);
        j->recs[i] = data;
        j->lens[i] = p->lens[i];
        data += p->lens[i];
    }
    return j;
}

/* Puts the oldest waiting job on the threadpool unless one is running. */
static void pump(file_sink *fs) {
    file_job *j = fs->head;
    if (fs->running || !j)
        return;
    fs->head = j->next;
    if (!fs->head)
        fs->tail = NULL;
    fs->running = j;
    /* Fails only for a NULL work callback. */
    uv_queue_work(fs->loop, &j->work, job_write, job_done);
}

/* On the threadpool. */
static void job_write(uv_work_t *w) {
    file_job *j = (file_job *)w;
    sr_rotating_file *rf = j->fs->rf;
    j->rc = sr_rotating_file_append(rf, j->recs, j->lens, j->n, j->error, sizeof j->error);
    if (j->rc == 0)
        j->rc = sr_rotating_file_sync(rf, j->error, sizeof j->error);
}

static void sink_free(file_sink *fs) {
    sr_rotating_file_close(fs->rf);
    free(fs);
}

/* On the loop, also for a job close() cancelled (status UV_ECANCELED). */
static void job_done(uv_work_t *w, int status) {
    (void)status; /* a cancelled job only happens while closing */
    file_job *j = (file_job *)w;
    file_sink *fs = j->fs;
    fs->running = NULL;
    if (fs->closing) {
        free(j);
        sink_free(fs);
        return;
    }
    sr_sink_result res;
    memset(&res, 0, sizeof res);
    res.transport_ok = j->rc == 0;
    if (j->rc != 0)
        snprintf(res.error, sizeof res.error, "%s", j->error);
    res.retry_after_ms = -1;
    res.latency_ms = (double)(uv_hrtime() - j->start_ns) / 1e6;
    /* Keep the disk busy while the callback runs; it may also close the sink,
     * so `fs` is not touched after it. */
    pump(fs);
    j->cb(j->ud, &res);
    free(j);
}

static int file_send(sr_sink *s, const sr_sink_payload *p, sr_sink_done_cb cb, void *ud) {
    file_sink *fs = (file_sink *)s;
    if (fs->closing || !p || !cb || (p->n && (!p->recs || !p->lens)))
        return -1;
    file_job *j = job_new(fs, p);
    if (!j)
        return -1;
    j->cb = cb;
    j->ud = ud;
    j->start_ns = uv_hrtime();
    if (fs->tail)
        fs->tail->next = j;
    else
        fs->head = j;
    fs->tail = j;
    pump(fs);
    return 0;
}

/* Waiting jobs are dropped now; a running one cannot be stopped, so the sink
 * is freed when it comes back (job_done), without calling its callback. */
static void file_close(sr_sink *s) {
    file_sink *fs = (file_sink *)s;
    fs->closing = 1;
    while (fs->head) {
        file_job *j = fs->head;
        fs->head = j->next;
        free(j);
    }
    fs->tail = NULL;
    if (fs->running) {
        uv_cancel((uv_req_t *)&fs->running->work);
        return;
    }
    sink_free(fs);
}

static const sr_sink_ops file_ops = {
    .name = "file",
    .send = file_send,
    .close = file_close,
};

sr_sink *sr_file_sink_new(uv_loop_t *loop, const sr_file_settings *s, char *err, size_t errlen) {
    if (!s->path || !*s->path) {
        snprintf(err, errlen, "file sink: 'path' is required");
        return NULL;
    }
    if (s->keep_files < 0) {
        snprintf(err, errlen, "file sink: keep_files must not be negative");
        return NULL;
    }
    file_sink *fs = calloc(1, sizeof *fs);
    if (!fs) {
        snprintf(err, errlen, "file sink: out of memory");
        return NULL;
    }
    fs->base.ops = &file_ops;
    fs->loop = loop;
    /* Opening on the loop thread once, at start-up, so a bad path is a
     * configuration error rather than an endless retry. */
    fs->rf = s->root ? sr_rotating_file_open_confined(s->root, s->path, (uint64_t)s->rotate_bytes,
                                                      (int)s->keep_files, err, errlen)
                     : sr_rotating_file_open(s->path, (uint64_t)s->rotate_bytes, (int)s->keep_files,
                                             err, errlen);
    if (!fs->rf) {
        free(fs);
        return NULL;
    }
    return &fs->base;
}

static const sr_sink_key file_keys[] = {
    SR_SINK_KEY(sr_file_settings, path, SR_SINK_KEY_STRING, 0, "file the records are appended to"),
    SR_SINK_KEY(sr_file_settings, rotate_bytes, SR_SINK_KEY_INT, 0,
                "rotate when the file would exceed it; 0 = never"),
    SR_SINK_KEY(sr_file_settings, keep_files, SR_SINK_KEY_INT, 5,
                "rotated files kept: path.1 .. path.N"),
    SR_SINK_KEY(sr_file_settings, root, SR_SINK_KEY_STRING, 0,
                "directory the path is confined to (no links followed, only its own files "
                "rotated); set by the host for admin-API integrations"),
    {0},
};

static sr_sink *file_open(uv_loop_t *loop, const void *s, char *err, size_t errlen) {
    return sr_file_sink_new(loop, s, err, errlen);
}

const sr_sink_transport sr_transport_file = {"file", file_keys, sizeof(sr_file_settings),
                                             file_open, NULL};
