/* buf.h - growable byte buffer.
 *
 * sr_buf owns its storage; `data` is always NUL-terminated when cap > 0 so
 * it can be handed to C string APIs, but `len` is the truth (payloads may
 * contain NUL). Appends return 0 or -1 on allocation failure, leaving the
 * buffer unchanged. */
#ifndef SR_BUF_H
#define SR_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sr_buf {
    char *data;
    size_t len;
    size_t cap;
} sr_buf;

#define SR_BUF_INIT                                                                                \
    { NULL, 0, 0 }

int sr_buf_reserve(sr_buf *b, size_t extra);
int sr_buf_append(sr_buf *b, const void *p, size_t n);
int sr_buf_puts(sr_buf *b, const char *s);
int sr_buf_putc(sr_buf *b, char c);
int sr_buf_printf(sr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sr_buf_vprintf(sr_buf *b, const char *fmt, va_list ap);
/* Appends `s` as a quoted JSON string, escaping what RFC 8259 requires.
 * Well-formed UTF-8 passes through unchanged; a byte that is not part of
 * one (invalid, overlong, truncated, a surrogate) is written as \ufffd, so
 * the result is always valid JSON. */
int sr_buf_json_string(sr_buf *b, const char *s, size_t n);
void sr_buf_reset(sr_buf *b);
void sr_buf_free(sr_buf *b);
/* Hands the storage to the caller (who frees it) and resets the buffer. */
char *sr_buf_steal(sr_buf *b, size_t *len);

#endif
