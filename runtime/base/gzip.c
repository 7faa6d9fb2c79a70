/* gzip.c - capped gzip inflation. */
#include "gzip.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <zlib.h>

#define WINDOW_GZIP (16 + MAX_WBITS) /* gzip header and trailer, not raw zlib */

typedef struct {
    char *data;
    size_t len, cap;
    size_t limit; /* max_out + 1: producing that byte proves the cap exceeded */
} outbuf;

/* Makes room for more output; SR_GZIP_TOO_LARGE once the limit is full. */
static sr_gzip_status outbuf_grow(outbuf *o, size_t hint) {
    if (o->cap >= o->limit)
        return SR_GZIP_TOO_LARGE;
    size_t cap = o->cap ? o->cap * 2 : hint;
    if (cap < o->cap || cap > o->limit)
        cap = o->limit;
    char *p = realloc(o->data, cap + 1); /* + the terminating NUL */
    if (!p)
        return SR_GZIP_NOMEM;
    o->data = p;
    o->cap = cap;
    return SR_GZIP_OK;
}

static sr_gzip_status gzip_fail(z_stream *zs, outbuf *o, sr_gzip_status st, char *err,
                                size_t errlen, const char *why) {
    if (st == SR_GZIP_TOO_LARGE)
        snprintf(err, errlen, "inflated body exceeds %zu bytes", o->limit - 1);
    else if (st == SR_GZIP_NOMEM)
        snprintf(err, errlen, "out of memory");
    else
        snprintf(err, errlen, "invalid gzip data: %s", why ? why : "corrupt");
    inflateEnd(zs);
    free(o->data);
    return st;
}

sr_gzip_status sr_gzip_inflate(const void *in, size_t len, size_t max_out, char **out,
                               size_t *out_len, char *err, size_t errlen) {
    z_stream zs = {0};
    outbuf o = {.limit = max_out < SIZE_MAX - 1 ? max_out + 1 : SIZE_MAX - 1};
    const unsigned char *next = in;
    size_t left = len;
    sr_gzip_status st;

    *out = NULL;
    *out_len = 0;
    if (inflateInit2(&zs, WINDOW_GZIP) != Z_OK) {
        snprintf(err, errlen, "out of memory");
        return SR_GZIP_NOMEM;
    }
    if (len == 0)
        return gzip_fail(&zs, &o, SR_GZIP_CORRUPT, err, errlen, "empty body");
    for (;;) {
        if (zs.avail_in == 0 && left > 0) {
            zs.next_in = (unsigned char *)next;
            zs.avail_in = left > UINT_MAX ? UINT_MAX : (unsigned)left;
            next += zs.avail_in;
            left -= zs.avail_in;
        }
        if (o.len == o.cap && (st = outbuf_grow(&o, len * 4 + 4096)) != SR_GZIP_OK)
            return gzip_fail(&zs, &o, st, err, errlen, NULL);
        size_t room = o.cap - o.len;
        zs.next_out = (unsigned char *)o.data + o.len;
        zs.avail_out = room > UINT_MAX ? UINT_MAX : (unsigned)room;
        unsigned before = zs.avail_out;
        int rc = inflate(&zs, Z_NO_FLUSH);
        o.len += before - zs.avail_out;
        if (rc == Z_STREAM_END) {
            if (zs.avail_in == 0 && left == 0)
                break;
            /* Another member follows; trailing garbage fails in inflate. */
            inflateReset(&zs);
            continue;
        }
        if (rc == Z_MEM_ERROR)
            return gzip_fail(&zs, &o, SR_GZIP_NOMEM, err, errlen, NULL);
        if (rc == Z_BUF_ERROR && zs.avail_in == 0 && left == 0)
            return gzip_fail(&zs, &o, SR_GZIP_CORRUPT, err, errlen, "truncated");
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return gzip_fail(&zs, &o, SR_GZIP_CORRUPT, err, errlen, zs.msg);
    }
    if (o.len > max_out)
        return gzip_fail(&zs, &o, SR_GZIP_TOO_LARGE, err, errlen, NULL);
    inflateEnd(&zs);
    o.data[o.len] = '\0';
    *out = o.data;
    *out_len = o.len;
    return SR_GZIP_OK;
}
