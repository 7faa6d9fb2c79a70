/* rotating_file.c - append-only line writer with size rotation.
 *
 * Lines go out in chunks: as many consecutive lines as fit both the current
 * file (below rotate_bytes) and one writev's iovec array, two iovecs per line
 * (the record, then a shared "\n"), so the records are never copied. */
#include "rotating_file.h"
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* Lines per writev: IOV_MAX is 1024 on Linux, two iovecs per line. */
#define CHUNK_LINES 512
#define FILE_MODE   0640

struct sr_rotating_file {
    char *path;
    char *src, *dst; /* scratch for "path.N" during rotation */
    size_t name_cap;
    int fd; /* -1 after a failed rotation, until the next append reopens */
    uint64_t size;
    uint64_t rotate_bytes; /* 0: never */
    int keep_files;
    char nl; /* the '\n' every line's second iovec points at */
    struct iovec iov[2 * CHUNK_LINES];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int open_current(sr_rotating_file *f, char *err, size_t errlen) {
    int fd = open(f->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, FILE_MODE);
    if (fd < 0) {
        set_err(err, errlen, "open %s: %s", f->path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        set_err(err, errlen, "stat %s: %s", f->path, strerror(errno));
        close(fd);
        return -1;
    }
    f->fd = fd;
    f->size = (uint64_t)st.st_size;
    return 0;
}

/* Renames generation `from` (0: path itself) to from + 1. A missing source
 * is fine: fewer than keep_files rotations have happened yet. */
static int shift(sr_rotating_file *f, int from, char *err, size_t errlen) {
    if (from == 0)
        snprintf(f->src, f->name_cap, "%s", f->path);
    else
        snprintf(f->src, f->name_cap, "%s.%d", f->path, from);
    snprintf(f->dst, f->name_cap, "%s.%d", f->path, from + 1);
    if (rename(f->src, f->dst) != 0 && errno != ENOENT) {
        set_err(err, errlen, "rename %s to %s: %s", f->src, f->dst, strerror(errno));
        return -1;
    }
    return 0;
}

static int rotate(sr_rotating_file *f, char *err, size_t errlen) {
    close(f->fd);
    f->fd = -1;
    if (f->keep_files == 0) {
        if (unlink(f->path) != 0 && errno != ENOENT) {
            set_err(err, errlen, "unlink %s: %s", f->path, strerror(errno));
            return -1;
        }
    } else {
        for (int from = f->keep_files - 1; from >= 0; from--)
            if (shift(f, from, err, errlen) != 0)
                return -1;
    }
    return open_current(f, err, errlen);
}

/* Writes iov[0..cnt) completely, advancing past short writes. */
static int write_all(sr_rotating_file *f, struct iovec *iov, int cnt, char *err, size_t errlen) {
    while (cnt > 0) {
        ssize_t w = writev(f->fd, iov, cnt);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            set_err(err, errlen, "write %s: %s", f->path, strerror(errno));
            return -1;
        }
        f->size += (uint64_t)w;
        sr_iov_consume(&iov, &cnt, (size_t)w);
    }
    return 0;
}

static int must_rotate(const sr_rotating_file *f, uint64_t line) {
    return f->rotate_bytes && f->size > 0 && f->size + line > f->rotate_bytes;
}

/* Fills the iovec array from recs[0..n) with the lines that fit the current
 * file; always takes the first one (the caller rotated for it already). */
static size_t gather(sr_rotating_file *f, const char *const *recs, const uint32_t *lens, size_t n,
                     uint64_t *bytes) {
    size_t k = 0;
    *bytes = 0;
    while (k < n && k < CHUNK_LINES) {
        uint64_t line = (uint64_t)lens[k] + 1;
        if (k > 0 && f->rotate_bytes && f->size + *bytes + line > f->rotate_bytes)
            break;
        f->iov[2 * k].iov_base = (void *)recs[k];
        f->iov[2 * k].iov_len = lens[k];
        f->iov[2 * k + 1].iov_base = &f->nl;
        f->iov[2 * k + 1].iov_len = 1;
        *bytes += line;
        k++;
    }
    return k;
}

sr_rotating_file *sr_rotating_file_open(const char *path, uint64_t rotate_bytes, int keep_files,
                                        char *err, size_t errlen) {
    if (!path || !*path) {
        set_err(err, errlen, "rotating file: empty path");
        return NULL;
    }
    if (keep_files < 0) {
        set_err(err, errlen, "%s: keep_files must not be negative", path);
        return NULL;
    }
    sr_rotating_file *f = calloc(1, sizeof *f);
    if (!f) {
        set_err(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    f->fd = -1;
    f->rotate_bytes = rotate_bytes;
    f->keep_files = keep_files;
    f->nl = '\n';
    f->name_cap = strlen(path) + sizeof ".2147483648";
    f->path = strdup(path);
    f->src = malloc(f->name_cap);
    f->dst = malloc(f->name_cap);
    if (!f->path || !f->src || !f->dst) {
        set_err(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    if (sr_mkdir_p(path, 1, NULL, err, errlen) != 0 || open_current(f, err, errlen) != 0)
        goto fail;
    return f;

fail:
    sr_rotating_file_close(f);
    return NULL;
}

int sr_rotating_file_append(sr_rotating_file *f, const char *const *recs, const uint32_t *lens,
                            size_t n, char *err, size_t errlen) {
    if (f->fd < 0 && open_current(f, err, errlen) != 0)
        return -1;
    uint64_t start = f->size; /* where this call's output in the current file begins */
    size_t i = 0;
    while (i < n) {
        if (must_rotate(f, (uint64_t)lens[i] + 1)) {
            if (rotate(f, err, errlen) != 0)
                return -1;
            start = 0;
        }
        uint64_t bytes;
        size_t k = gather(f, recs + i, lens + i, n - i, &bytes);
        if (write_all(f, f->iov, (int)(2 * k), err, errlen) != 0) {
            /* Undo the partial output so no torn line is left behind. */
            if (ftruncate(f->fd, (off_t)start) == 0)
                f->size = start;
            return -1;
        }
        i += k;
    }
    return 0;
}

int sr_rotating_file_append_line(sr_rotating_file *f, const char *line, size_t len, char *err,
                                 size_t errlen) {
    if (len > UINT32_MAX) {
        set_err(err, errlen, "write %s: line of %zu bytes is too long", f->path, len);
        return -1;
    }
    uint32_t len32 = (uint32_t)len;
    return sr_rotating_file_append(f, &line, &len32, 1, err, errlen);
}

int sr_rotating_file_sync(sr_rotating_file *f, char *err, size_t errlen) {
    if (f->fd >= 0 && fdatasync(f->fd) != 0) {
        set_err(err, errlen, "fsync %s: %s", f->path, strerror(errno));
        return -1;
    }
    return 0;
}

uint64_t sr_rotating_file_size(const sr_rotating_file *f) { return f->size; }

void sr_rotating_file_close(sr_rotating_file *f) {
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    free(f->src);
    free(f->dst);
    free(f);
}
