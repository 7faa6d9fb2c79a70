/* buf.c - growable byte buffer. */
#include "buf.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sr_buf_reserve(sr_buf *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int sr_buf_append(sr_buf *b, const void *p, size_t n) {
    if (sr_buf_reserve(b, n) != 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sr_buf_puts(sr_buf *b, const char *s) { return sr_buf_append(b, s, strlen(s)); }

int sr_buf_putc(sr_buf *b, char c) { return sr_buf_append(b, &c, 1); }

int sr_buf_vprintf(sr_buf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || sr_buf_reserve(b, (size_t)n) != 0)
        return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int sr_buf_printf(sr_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = sr_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int sr_buf_json_string(sr_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX. */
    if (sr_buf_reserve(b, n * 6 + 2) != 0)
        return -1;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            *o++ = '\\';
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            *o++ = '\\';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        case '\b':
            *o++ = '\\';
            *o++ = 'b';
            break;
        case '\f':
            *o++ = '\\';
            *o++ = 'f';
            break;
        default:
            if (c < 0x20) {
                *o++ = '\\';
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            } else if (c < 0x80) {
                *o++ = (char)c;
            } else {
                /* Scripts edit events with any Lua string (a trim that cuts
                 * a multi-byte character in two); a stray byte would make
                 * the written JSON invalid for every strict receiver, so it
                 * becomes U+FFFD, as a decoder would show it (found by
                 * tests/fuzz/fuzz_event.c). */
                size_t len = sr_utf8_seq_len((const unsigned char *)s + i, n - i);
                if (len == 0) {
                    memcpy(o, "\\ufffd", 6);
                    o += 6;
                } else {
                    memcpy(o, s + i, len);
                    o += len;
                    i += len - 1;
                }
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

void sr_buf_reset(sr_buf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void sr_buf_free(sr_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *sr_buf_steal(sr_buf *b, size_t *len) {
    if (sr_buf_reserve(b, 0) != 0)
        return NULL;
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
