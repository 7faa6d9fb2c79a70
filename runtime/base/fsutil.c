/* fsutil.c - small file-system helpers. */
#include "fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int sr_mkdir_p(const char *path, int parents_only, void (*on_created)(const char *dir), char *err,
               size_t errlen) {
    char *p = strdup(path);
    if (!p) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    if (parents_only) {
        char *slash = strrchr(p, '/');
        if (!slash || slash == p) {
            free(p);
            return 0;
        }
        *slash = '\0';
    }
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        if (s[-1] == '/') { /* "a//b" or a trailing '/': nothing new to create */
            if (!*s)
                break;
            continue;
        }
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0750) == 0) {
            if (on_created)
                on_created(p);
        } else if (errno != EEXIST) {
            snprintf(err, errlen, "mkdir %s: %s", p, strerror(errno));
            rc = -1;
            break;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return rc;
}

void sr_iov_consume(struct iovec **iov, int *cnt, size_t n) {
    while (*cnt > 0 && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        (*iov)++;
        (*cnt)--;
    }
    if (*cnt > 0) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
}

void sr_safe_file_name(const char *name, char *out, size_t outlen) {
    size_t i = 0;
    for (; name[i] && i + 1 < outlen; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || (c == '.' && i > 0);
        out[i] = ok ? c : '_';
    }
    out[i] = '\0';
}

int sr_read_all(FILE *f, sr_buf *out) {
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (sr_buf_append(out, chunk, n) != 0)
            return -1;
    return ferror(f) ? -1 : 0;
}
