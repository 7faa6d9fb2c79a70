/* redact.c - masking secrets in the encodings they come back in. */
#include "redact.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define MIN_SECRET 4

static size_t mask_all(char *text, size_t len, const char *needle, size_t n) {
    size_t count = 0;
    if (n < MIN_SECRET || n > len)
        return 0;
    for (char *at = memmem(text, len, needle, n); at;
         at = memmem(at + n, len - (size_t)(at + n - text), needle, n)) {
        memset(at, '*', n);
        count++;
    }
    return count;
}

static int put_base64(sr_buf *b, const unsigned char *s, size_t n, int url, int pad) {
    const char *abc = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int rc = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        size_t chars = i + 2 < n ? 4 : i + 1 < n ? 3 : 2;
        for (size_t k = 0; k < 4; k++) {
            if (k < chars)
                rc |= sr_buf_putc(b, abc[(v >> (18 - 6 * k)) & 63]);
            else if (pad)
                rc |= sr_buf_putc(b, '=');
        }
    }
    return rc;
}

static int put_percent(sr_buf *b, const unsigned char *s, size_t n, int lower) {
    const char *hex = lower ? "0123456789abcdef" : "0123456789ABCDEF";
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (isalnum(s[i]) || strchr("-._~", s[i]))
            rc |= sr_buf_putc(b, (char)s[i]);
        else
            rc |= sr_buf_printf(b, "%%%c%c", hex[s[i] >> 4], hex[s[i] & 15]);
    }
    return rc;
}

/* Percent-encoded twice: a form body (already encoded) quoted again inside
 * a URL or a platform's error text. */
static int put_percent2(sr_buf *b, const unsigned char *s, size_t n, int lower) {
    sr_buf once = SR_BUF_INIT;
    int rc = put_percent(&once, s, n, lower);
    if (rc == 0 && once.len)
        rc = put_percent(b, (const unsigned char *)once.data, once.len, lower);
    sr_buf_free(&once);
    return rc;
}

/* JSON as a platform may write it: '/' escaped too. */
static int put_json(sr_buf *b, const unsigned char *s, size_t n) {
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\' || s[i] == '/')
            rc |= sr_buf_putc(b, '\\') | sr_buf_putc(b, (char)s[i]);
        else if (s[i] < 0x20)
            rc |= sr_buf_printf(b, "\\u%04x", s[i]);
        else
            rc |= sr_buf_putc(b, (char)s[i]);
    }
    return rc;
}

size_t sr_redact(char *text, size_t len, const char *secret, size_t slen) {
    const unsigned char *s = (const unsigned char *)secret;
    size_t count;
    sr_buf v = SR_BUF_INIT;
    if (!text || !secret || slen < MIN_SECRET)
        return 0;
    count = mask_all(text, len, secret, slen);
    /* Padded forms first: the unpadded one is their prefix. */
    for (int form = 0; form < 10; form++) {
        sr_buf_reset(&v);
        int rc = form < 4    ? put_base64(&v, s, slen, form & 1, !(form & 2))
                 : form < 6  ? put_percent(&v, s, slen, form & 1)
                 : form == 6 ? put_json(&v, s, slen)
                 : form < 8  ? 0
                             : put_percent2(&v, s, slen, form & 1);
        if (rc == 0 && v.len && (v.len != slen || memcmp(v.data, secret, slen) != 0))
            count += mask_all(text, len, v.data, v.len);
    }
    sr_buf_free(&v);
    return count;
}

static int is_b64url(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* End of a run of base64url characters starting at i. */
static size_t b64url_run(const char *t, size_t len, size_t i) {
    while (i < len && is_b64url((unsigned char)t[i]))
        i++;
    return i;
}

size_t sr_redact_jwt(char *text, size_t len) {
    size_t count = 0;
    for (size_t i = 0; text && i + 3 <= len; i++) {
        if (memcmp(text + i, "eyJ", 3) != 0 || (i > 0 && is_b64url((unsigned char)text[i - 1])))
            continue;
        /* The header is base64url JSON, so it starts with "eyJ"; 16
         * characters of it are no English word. What follows ('.' payload
         * '.' signature) goes too, however much of it an excerpt kept. */
        size_t end = b64url_run(text, len, i);
        if (end - i < 16)
            continue;
        for (int part = 0; part < 2 && end < len && text[end] == '.'; part++)
            end = b64url_run(text, len, end + 1);
        memset(text + i, '*', end - i);
        count++;
        i = end - 1;
    }
    return count;
}

static int credential_name(const char *name, size_t n) {
    static const char *const words[] = {"token", "key",     "secret",     "pass", "pwd", "auth",
                                        "sig",   "session", "credential", "jwt",  "code"};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= n; i++)
            if (strncasecmp(name + i, words[w], wl) == 0)
                return 1;
    }
    return 0;
}

int sr_redact_query(const char *query, sr_buf *out) {
    int rc = 0;
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t name_len = eq ? (size_t)(eq - p) : n;
        if (eq && credential_name(p, name_len))
            rc |= sr_buf_append(out, p, name_len + 1) | sr_buf_puts(out, "******");
        else
            rc |= sr_buf_append(out, p, n);
        if (!end)
            break;
        rc |= sr_buf_putc(out, '&');
        p = end + 1;
    }
    return rc ? -1 : 0;
}
