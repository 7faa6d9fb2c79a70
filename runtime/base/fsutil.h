/* fsutil.h - small file-system helpers shared by the modules that write
 * files: the spool, rotating files (FILE sink, dead letters), statuses. */
#ifndef SR_FSUTIL_H
#define SR_FSUTIL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/uio.h>

#include "buf.h"

/* Creates `path` and its missing parents with mode 0750, or only the
 * parents of `path` (everything before its last '/') when `parents_only`.
 * `on_created`, if set, is called with each directory created (the spool
 * fsyncs their parents). Returns 0, or -1 with "mkdir DIR: reason" in err. */
int sr_mkdir_p(const char *path, int parents_only, void (*on_created)(const char *dir), char *err,
               size_t errlen);

/* Moves past `n` bytes written from the vector *iov of *cnt entries, after
 * a short write. */
void sr_iov_consume(struct iovec **iov, int *cnt, size_t n);

/* An integration name as a file name: characters other than letters,
 * digits, '-', '_' and a '.' not in front become '_', so a name never
 * leaves its directory. */
void sr_safe_file_name(const char *name, char *out, size_t outlen);

/* Appends everything left in `f` to `out`. Returns 0, or -1 on a read
 * error or when out of memory. */
int sr_read_all(FILE *f, sr_buf *out);

#endif
