/* gzip.h - inflating gzip request bodies, with a cap on the output.
 *
 * A small compressed body can expand a thousandfold ("zip bomb"), so the
 * caller names the most it will accept and inflation stops as soon as the
 * output would exceed it. Concatenated gzip members (RFC 1952 allows them,
 * `cat a.gz b.gz`) are inflated one after the other. */
#ifndef SR_GZIP_H
#define SR_GZIP_H

#include <stddef.h>

typedef enum {
    SR_GZIP_OK = 0,
    SR_GZIP_CORRUPT = -1,   /* not gzip, damaged, or truncated: answer 400 */
    SR_GZIP_TOO_LARGE = -2, /* inflated size exceeds max_out: answer 413 */
    SR_GZIP_NOMEM = -3,
} sr_gzip_status;

/* Inflates `in` into a new malloc'd, NUL-terminated buffer stored in *out
 * (length in *out_len, the NUL not counted); the caller frees it. On any
 * error *out is NULL and `err` says what went wrong. */
sr_gzip_status sr_gzip_inflate(const void *in, size_t len, size_t max_out, char **out,
                               size_t *out_len, char *err, size_t errlen);

#endif
