/* confine.c - walking a path below a root directory without following a
 * symbolic link, and the mark of files a confined writer created. */
#include "confine.h"
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MARK_NAME "user.siemrelay.created"
#define DIR_MODE  0750

/* `path` without the directory `dir` in front (NULL when not under it);
 * `dir`'s trailing slashes do not count. */
static const char *below(const char *path, const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n == 1 && dir[0] == '/')
        return path + 1;
    if (strncmp(path, dir, n) != 0 || path[n] != '/')
        return NULL;
    return path + n + 1;
}

int sr_confine_relative(const char *root, const char *path, char *out, size_t outlen, char *err,
                        size_t errlen) {
    const char *rel = path;
    if (path[0] == '/') {
        char real[PATH_MAX];
        rel = below(path, root);
        if (!rel && realpath(root, real))
            rel = below(path, real);
        if (!rel) {
            snprintf(err, errlen, "'%s' is outside %s", path, root);
            return -1;
        }
    }
    /* Every component but "." and empty ones is kept; ".." would climb. */
    size_t len = 0;
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            snprintf(err, errlen, "'%s' climbs out of %s ('..')", path, root);
            return -1;
        }
        if (n && !(n == 1 && p[0] == '.')) {
            if (len + n + 2 > outlen) {
                snprintf(err, errlen, "'%s' is too long", path);
                return -1;
            }
            if (len)
                out[len++] = '/';
            memcpy(out + len, p, n);
            len += n;
        }
        p += n + (p[n] == '/');
    }
    if (!len) {
        snprintf(err, errlen, "'%s' names no file under %s", path, root);
        return -1;
    }
    out[len] = '\0';
    return 0;
}

int sr_confine_open_root(const char *root, int create, char *err, size_t errlen) {
    if (create && sr_mkdir_p(root, 0, NULL, err, errlen) != 0)
        return -1;
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        snprintf(err, errlen, "cannot open the directory %s: %s", root, strerror(errno));
    return fd;
}

int sr_confine_parent(int rootfd, const char *rel, int create, const char **base, const char *shown,
                      char *err, size_t errlen) {
    int dir = dup(rootfd);
    if (dir < 0) {
        snprintf(err, errlen, "%s: %s", shown, strerror(errno));
        return -1;
    }
    fcntl(dir, F_SETFD, FD_CLOEXEC);
    const char *p = rel;
    int e = 0;
    for (;;) {
        size_t n = strcspn(p, "/");
        if (!p[n])
            break;
        char name[NAME_MAX + 1];
        if (n > NAME_MAX) {
            e = ENAMETOOLONG;
            snprintf(err, errlen, "%s: a name is too long", shown);
            goto fail;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        int next = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && create) {
            if (mkdirat(dir, name, DIR_MODE) != 0 && errno != EEXIST) {
                e = errno;
                snprintf(err, errlen, "%s: cannot create the directory '%s': %s", shown, name,
                         strerror(e));
                goto fail;
            }
            next = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (next < 0) {
            e = errno;
            if (e == ELOOP || e == ENOTDIR)
                snprintf(err, errlen,
                         "%s: '%s' is a symbolic link or not a directory (links are not "
                         "followed here)",
                         shown, name);
            else
                snprintf(err, errlen, "%s: '%s': %s", shown, name, strerror(e));
            goto fail;
        }
        close(dir);
        dir = next;
        p += n + 1;
    }
    *base = p;
    return dir;
fail:
    close(dir);
    errno = e; /* ENOENT: something on the way is missing */
    return -1;
}

int sr_confine_open_below(const char *root, const char *rel, const char *shown, char *err,
                          size_t errlen) {
    int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open the directory %s: %s", root, strerror(e));
        errno = e;
        return -1;
    }
    const char *base;
    int dir = sr_confine_parent(rootfd, rel, 0, &base, shown, err, errlen);
    int e = errno;
    close(rootfd);
    if (dir < 0) {
        errno = e;
        return -1;
    }
    int fd = openat(dir, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    e = errno;
    close(dir);
    if (fd < 0 && e == ELOOP)
        snprintf(err, errlen, "%s is a symbolic link (links are not followed here)", shown);
    else if (fd < 0)
        snprintf(err, errlen, "%s: %s", shown, strerror(e));
    errno = e;
    return fd;
}

int sr_confine_open_file(const char *root, const char *path, const char *what, char *abs,
                         size_t abslen, char *err, size_t errlen) {
    char rel[PATH_MAX], why[600], real[PATH_MAX];
    struct stat st;
    if (sr_confine_relative(root, path, rel, sizeof rel, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s refused: %s", what, why);
        return -1;
    }
    int fd = sr_confine_open_below(root, rel, path, why, sizeof why);
    if (fd < 0) {
        snprintf(err, errlen, "%s refused: %s", what, why);
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s refused: %s is not a regular file", what, path);
        goto fail;
    }
    if (abs) {
        if (!realpath(root, real)) {
            snprintf(err, errlen, "%s refused: cannot resolve %s", what, root);
            goto fail;
        }
        int n = snprintf(abs, abslen, "%s/%s", strcmp(real, "/") == 0 ? "" : real, rel);
        if (n < 0 || (size_t)n >= abslen) {
            snprintf(err, errlen, "%s refused: '%s' is too long", what, path);
            goto fail;
        }
    }
    /* Opened non-blocking so a FIFO could not hang the check; reads block. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
fail:
    close(fd);
    return -1;
}

int sr_confine_mark(int fd) { return fsetxattr(fd, MARK_NAME, "1", 1, 0); }

int sr_confine_marked(int fd) {
    char v[4];
    return fgetxattr(fd, MARK_NAME, v, sizeof v) == 1 && v[0] == '1';
}
