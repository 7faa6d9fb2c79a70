/* rotating_file.c - append-only line writer with size rotation.
 *
 * Lines go out in chunks: as many consecutive lines as fit both the current
 * file (below rotate_bytes) and one writev's iovec array, two iovecs per line
 * (the record, then a shared "\n"), so the records are never copied. */
#include "rotating_file.h"
#include "confine.h"
#include "errmsg.h"
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
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
    char *path;       /* as given, for messages */
    const char *name; /* what dirfd's calls take: the path, or (confined) its last component */
    int dirfd;        /* AT_FDCWD, or (confined) the directory holding the file */
    int confined;     /* only files carrying the mark are written or rotated away */
    char *owned_name; /* `name` when it had to be copied */
    char *src, *dst;  /* scratch for "name.N" during rotation */
    size_t name_cap;
    int fd; /* -1 after a failed rotation, until the next append reopens */
    uint64_t size;
    uint64_t rotate_bytes; /* 0: never */
    int keep_files;
    char nl; /* the '\n' every line's second iovec points at */
    struct iovec iov[2 * CHUNK_LINES];
};

/* A confined writer's file: created (and marked) by it, or one it marked
 * earlier; anything else at that name is refused, never written. */
static int open_confined(sr_rotating_file *f, char *err, size_t errlen) {
    const int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(f->dirfd, f->name, flags | O_CREAT | O_EXCL, FILE_MODE);
    if (fd >= 0) {
        if (sr_confine_mark(fd) == 0)
            return fd;
        sr_set_err(err, errlen,
                   "%s: cannot mark the file as siemrelay's (%s): the file system "
                   "must keep user extended attributes",
                   f->path, strerror(errno));
        close(fd);
        unlinkat(f->dirfd, f->name, 0);
        return -1;
    }
    if (errno != EEXIST) {
        sr_set_err(err, errlen, "open %s: %s", f->path,
                   errno == ELOOP ? "it is a symbolic link (links are not followed here)"
                                  : strerror(errno));
        return -1;
    }
    /* O_NONBLOCK: a FIFO put there must not hang the open. */
    fd = openat(f->dirfd, f->name, flags | O_NONBLOCK);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
        sr_confine_marked(fd))
        return fd;
    if (fd < 0 && errno == ELOOP) {
        sr_set_err(err, errlen, "open %s: it is a symbolic link (links are not followed here)",
                   f->path);
        return -1;
    }
    if (fd >= 0)
        close(fd);
    sr_set_err(err, errlen,
               "%s exists and was not created by siemrelay: it is never written, truncated or "
               "rotated away (choose another path)",
               f->path);
    return -1;
}

/* Whether rotation may replace `name`: always, unless confined and it
 * exists without the mark. */
static int may_replace(const sr_rotating_file *f, const char *name, char *err, size_t errlen) {
    if (!f->confined)
        return 1;
    int fd = openat(f->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 1;
    int ours = fd >= 0 && sr_confine_marked(fd);
    if (fd >= 0)
        close(fd);
    if (!ours)
        sr_set_err(err, errlen,
                   "rotating %s would replace %s, which siemrelay did not create: not rotated",
                   f->path, name);
    return ours;
}

static int open_current(sr_rotating_file *f, char *err, size_t errlen) {
    int fd = f->confined
                 ? open_confined(f, err, errlen)
                 : openat(f->dirfd, f->name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, FILE_MODE);
    if (fd < 0) {
        if (!f->confined)
            sr_set_err(err, errlen, "open %s: %s", f->path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        sr_set_err(err, errlen, "stat %s: %s", f->path, strerror(errno));
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
        snprintf(f->src, f->name_cap, "%s", f->name);
    else
        snprintf(f->src, f->name_cap, "%s.%d", f->name, from);
    snprintf(f->dst, f->name_cap, "%s.%d", f->name, from + 1);
    if (!may_replace(f, f->dst, err, errlen))
        return -1;
    if (renameat(f->dirfd, f->src, f->dirfd, f->dst) != 0 && errno != ENOENT) {
        sr_set_err(err, errlen, "rename %s to %s: %s", f->src, f->dst, strerror(errno));
        return -1;
    }
    return 0;
}

/* Whether `name` is still the file open as f->fd (a confined writer
 * unlinks only its own file, whatever was renamed into its place). */
static int still_ours(const sr_rotating_file *f, char *err, size_t errlen) {
    struct stat open_st, named;
    if (!f->confined)
        return 1;
    if (fstat(f->fd, &open_st) == 0 &&
        fstatat(f->dirfd, f->name, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
        open_st.st_dev == named.st_dev && open_st.st_ino == named.st_ino)
        return 1;
    sr_set_err(err, errlen, "%s was replaced by another file: not rotated", f->path);
    return 0;
}

static int rotate(sr_rotating_file *f, char *err, size_t errlen) {
    if (f->keep_files == 0 && !still_ours(f, err, errlen))
        return -1;
    close(f->fd);
    f->fd = -1;
    if (f->keep_files == 0) {
        if (unlinkat(f->dirfd, f->name, 0) != 0 && errno != ENOENT) {
            sr_set_err(err, errlen, "unlink %s: %s", f->path, strerror(errno));
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
            sr_set_err(err, errlen, "write %s: %s", f->path, strerror(errno));
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

/* The writer without a file: names, scratch, settings. */
static sr_rotating_file *writer_new(const char *path, uint64_t rotate_bytes, int keep_files,
                                    char *err, size_t errlen) {
    if (!path || !*path) {
        sr_set_err(err, errlen, "rotating file: empty path");
        return NULL;
    }
    if (keep_files < 0) {
        sr_set_err(err, errlen, "%s: keep_files must not be negative", path);
        return NULL;
    }
    sr_rotating_file *f = calloc(1, sizeof *f);
    if (!f) {
        sr_set_err(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    f->fd = -1;
    f->dirfd = AT_FDCWD;
    f->rotate_bytes = rotate_bytes;
    f->keep_files = keep_files;
    f->nl = '\n';
    f->name_cap = strlen(path) + sizeof ".2147483648";
    f->path = strdup(path);
    f->src = malloc(f->name_cap);
    f->dst = malloc(f->name_cap);
    if (!f->path || !f->src || !f->dst) {
        sr_set_err(err, errlen, "%s: out of memory", path);
        sr_rotating_file_close(f);
        return NULL;
    }
    f->name = f->path;
    return f;
}

sr_rotating_file *sr_rotating_file_open(const char *path, uint64_t rotate_bytes, int keep_files,
                                        char *err, size_t errlen) {
    sr_rotating_file *f = writer_new(path, rotate_bytes, keep_files, err, errlen);
    if (!f)
        return NULL;
    if (sr_mkdir_p(path, 1, NULL, err, errlen) != 0 || open_current(f, err, errlen) != 0)
        goto fail;
    return f;

fail:
    sr_rotating_file_close(f);
    return NULL;
}

sr_rotating_file *sr_rotating_file_open_confined(const char *root, const char *path,
                                                 uint64_t rotate_bytes, int keep_files, char *err,
                                                 size_t errlen) {
    char rel[4096];
    int rootfd = -1;
    sr_rotating_file *f = writer_new(path, rotate_bytes, keep_files, err, errlen);
    if (!f)
        return NULL;
    f->confined = 1;
    if (sr_confine_relative(root, path, rel, sizeof rel, err, errlen) != 0 ||
        (rootfd = sr_confine_open_root(root, 1, err, errlen)) < 0)
        goto fail;
    const char *base;
    f->dirfd = sr_confine_parent(rootfd, rel, 1, &base, path, err, errlen);
    close(rootfd);
    if (f->dirfd < 0)
        goto fail;
    /* `base` points into `rel`, which goes: keep the name in the path's
     * allocation instead (it is the path's tail unless "." parts differ). */
    size_t bl = strlen(base), pl = strlen(f->path);
    if (bl <= pl && strcmp(f->path + pl - bl, base) == 0)
        f->name = f->path + pl - bl;
    else if (!(f->name = f->owned_name = strdup(base))) {
        sr_set_err(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    if (open_current(f, err, errlen) != 0)
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
        sr_set_err(err, errlen, "write %s: line of %zu bytes is too long", f->path, len);
        return -1;
    }
    uint32_t len32 = (uint32_t)len;
    return sr_rotating_file_append(f, &line, &len32, 1, err, errlen);
}

int sr_rotating_file_sync(sr_rotating_file *f, char *err, size_t errlen) {
    if (f->fd >= 0 && fdatasync(f->fd) != 0) {
        sr_set_err(err, errlen, "fsync %s: %s", f->path, strerror(errno));
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
    if (f->dirfd >= 0)
        close(f->dirfd);
    free(f->owned_name);
    free(f->path);
    free(f->src);
    free(f->dst);
    free(f);
}
