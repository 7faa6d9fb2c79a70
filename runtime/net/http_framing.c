/* http_framing.c - the strict framing lexer: one byte at a time, bodies
 * skipped in bulk. */
#include "http_framing.h"

#include <string.h>
#include <strings.h>

#include "hex.h"

#define MAX_CHUNK_LINE 4096

enum {
    S_START,          /* before the request line; empty lines skipped */
    S_REQLINE,        /* in the request line */
    S_REQLINE_LF,     /* after its CR */
    S_FIELD_START,    /* at the start of a field line or the empty line */
    S_NAME,           /* in a field name */
    S_VALUE_START,    /* after the colon, in leading whitespace */
    S_VALUE,          /* in a field value */
    S_VALUE_LF,       /* after the value's CR */
    S_END_LF,         /* after the CR of the empty line */
    S_BODY,           /* Content-Length bytes */
    S_CHUNK_SIZE,     /* hex digits */
    S_EXT_BWS,        /* whitespace after the size or a value: ';' must follow */
    S_EXT_NAME_START, /* after ';' */
    S_EXT_NAME,       /* in an extension name */
    S_EXT_AFTER_NAME, /* whitespace after a name: '=' must follow */
    S_EXT_VALUE_START,
    S_EXT_TOKEN,
    S_EXT_QUOTED,
    S_EXT_QPAIR,
    S_EXT_AFTER_QUOTED,
    S_CHUNK_LF,      /* after the size line's CR */
    S_CHUNK_DATA,    /* chunk bytes */
    S_CHUNK_DATA_CR, /* CRLF after them */
    S_CHUNK_DATA_LF,
    S_DONE
};

void sr_http_framing_init(sr_http_framing *f) {
    memset(f, 0, sizeof *f);
    f->state = S_START;
}

sr_http_refusal sr_http_framing_refusal(const sr_http_framing *f) { return f->refusal; }

/* RFC 9110 tchar. */
static int is_tchar(unsigned char ch) {
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return 1;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int is_ows(unsigned char ch) { return ch == ' ' || ch == '\t'; }

/* Control characters (but HTAB) and DEL. */
static int is_ctl(unsigned char ch) { return (ch < 0x20 && ch != '\t') || ch == 0x7f; }

/* qdtext and the second byte of a quoted-pair (RFC 9110 5.6.4). */
static int is_qdtext(unsigned char ch) {
    return ch == '\t' || ch == ' ' || ch == 0x21 || (ch >= 0x23 && ch <= 0x5b) ||
           (ch >= 0x5d && ch <= 0x7e) || ch >= 0x80;
}
static int is_qpair(unsigned char ch) { return ch == '\t' || (ch >= 0x20 && ch != 0x7f); }

static int refuse(sr_http_framing *f, sr_http_refusal r) {
    f->refusal = r;
    return -1;
}

/* A complete field line: framing fields are remembered. */
static int field_done(sr_http_framing *f) {
    size_t n = f->value_len;
    if (n > sizeof f->value) /* longer than anything valid we look for */
        n = sizeof f->value + 1;
    else
        while (n > 0 && is_ows((unsigned char)f->value[n - 1]))
            n--;
    if (f->in_trailers || f->name_len > sizeof f->name)
        return 0;
    if (f->name_len == 14 && memcmp(f->name, "content-length", 14) == 0) {
        if (f->have_cl || n == 0 || n > 19)
            return refuse(f, SR_HTTP_REFUSED_BAD_CL);
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) {
            if (f->value[i] < '0' || f->value[i] > '9')
                return refuse(f, SR_HTTP_REFUSED_BAD_CL);
            v = v * 10 + (uint64_t)(f->value[i] - '0');
        }
        f->have_cl = 1;
        f->remaining = v;
    } else if (f->name_len == 17 && memcmp(f->name, "transfer-encoding", 17) == 0) {
        /* A second field would make a list: chunked twice, or another coding. */
        if (f->have_te || n != 7 || strncasecmp(f->value, "chunked", 7) != 0)
            return refuse(f, SR_HTTP_REFUSED_TE_UNSUPPORTED);
        f->have_te = 1;
    }
    return 0;
}

/* The empty line: the head (or the trailer section) is over. */
static int head_done(sr_http_framing *f) {
    if (f->in_trailers) {
        f->state = S_DONE;
        return 0;
    }
    if (f->have_te && f->have_cl)
        return refuse(f, SR_HTTP_REFUSED_CL_AND_TE);
    if (f->have_te && f->http10)
        return refuse(f, SR_HTTP_REFUSED_TE_HTTP10);
    if (f->have_te) {
        f->state = S_CHUNK_SIZE;
        f->digits = 0;
        f->line_len = 0;
        f->remaining = 0;
    } else {
        f->state = f->remaining ? S_BODY : S_DONE;
    }
    return 0;
}

/* Field lines, in the head or the trailers. */
static int step_field(sr_http_framing *f, unsigned char ch) {
    switch (f->state) {
    case S_FIELD_START:
        if (ch == '\r') {
            f->state = S_END_LF;
        } else if (is_ows(ch)) {
            return refuse(f, f->name_len || f->in_trailers ? SR_HTTP_REFUSED_OBS_FOLD
                                                           : SR_HTTP_REFUSED_BAD_LINE);
        } else if (is_tchar(ch)) {
            f->state = S_NAME;
            f->name_len = 0;
            f->value_len = 0;
            f->name[f->name_len++] = (char)(ch | 0x20);
        } else {
            return refuse(f,
                          ch == '\n' ? SR_HTTP_REFUSED_BAD_LINE : SR_HTTP_REFUSED_BAD_FIELD_NAME);
        }
        return 0;
    case S_NAME:
        if (ch == ':') {
            f->state = S_VALUE_START;
        } else if (is_tchar(ch)) {
            if (f->name_len < sizeof f->name)
                f->name[f->name_len] = (char)(ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch);
            if (f->name_len <= sizeof f->name)
                f->name_len++;
        } else {
            return refuse(f, SR_HTTP_REFUSED_BAD_FIELD_NAME);
        }
        return 0;
    case S_VALUE_START:
    case S_VALUE:
        if (ch == '\r') {
            f->state = S_VALUE_LF;
        } else if (ch == '\n' || is_ctl(ch)) {
            return refuse(f,
                          ch == '\n' ? SR_HTTP_REFUSED_BAD_LINE : SR_HTTP_REFUSED_BAD_FIELD_VALUE);
        } else if (f->state == S_VALUE || !is_ows(ch)) {
            f->state = S_VALUE;
            if (f->value_len < sizeof f->value)
                f->value[f->value_len] = (char)ch;
            if (f->value_len <= sizeof f->value)
                f->value_len++;
        }
        return 0;
    case S_VALUE_LF:
        if (ch != '\n')
            return refuse(f, SR_HTTP_REFUSED_BAD_LINE);
        f->state = S_FIELD_START;
        return field_done(f);
    case S_END_LF:
        if (ch != '\n')
            return refuse(f, SR_HTTP_REFUSED_BAD_LINE);
        return head_done(f);
    }
    return refuse(f, SR_HTTP_REFUSED_FRAMING_MISMATCH);
}

/* The chunk size line: 1*HEXDIG *( BWS ";" BWS name [ BWS "=" BWS value ] ) CRLF. */
static int step_chunk_line(sr_http_framing *f, unsigned char ch) {
    if (++f->line_len > MAX_CHUNK_LINE)
        return refuse(f, SR_HTTP_REFUSED_BAD_CHUNK);
    int next = -1; /* state after ch; -1 refuses */
    switch (f->state) {
    case S_CHUNK_SIZE: {
        int h = sr_hex_value(ch);
        if (h >= 0 && f->digits < 16) {
            f->digits++;
            f->remaining = f->remaining * 16 + (uint64_t)h;
            next = S_CHUNK_SIZE;
        } else if (f->digits > 0 && h < 0) {
            next = ch == '\r'   ? S_CHUNK_LF
                   : ch == ';'  ? S_EXT_NAME_START
                   : is_ows(ch) ? S_EXT_BWS
                                : -1;
        }
        break;
    }
    case S_EXT_BWS: next = is_ows(ch) ? S_EXT_BWS : ch == ';' ? S_EXT_NAME_START : -1; break;
    case S_EXT_NAME_START:
        next = is_ows(ch) ? S_EXT_NAME_START : is_tchar(ch) ? S_EXT_NAME : -1;
        break;
    case S_EXT_NAME:
    case S_EXT_TOKEN:
        next = is_tchar(ch) ? f->state
               : is_ows(ch) ? (f->state == S_EXT_NAME ? S_EXT_AFTER_NAME : S_EXT_BWS)
               : ch == ';'  ? S_EXT_NAME_START
               : ch == '\r' ? S_CHUNK_LF
               : ch == '=' && f->state == S_EXT_NAME ? S_EXT_VALUE_START
                                                     : -1;
        break;
    case S_EXT_AFTER_NAME:
        next = is_ows(ch)  ? S_EXT_AFTER_NAME
               : ch == '=' ? S_EXT_VALUE_START
               : ch == ';' ? S_EXT_NAME_START
                           : -1;
        break;
    case S_EXT_VALUE_START:
        next = is_ows(ch)     ? S_EXT_VALUE_START
               : ch == '"'    ? S_EXT_QUOTED
               : is_tchar(ch) ? S_EXT_TOKEN
                              : -1;
        break;
    case S_EXT_QUOTED:
        next = ch == '"'       ? S_EXT_AFTER_QUOTED
               : ch == '\\'    ? S_EXT_QPAIR
               : is_qdtext(ch) ? S_EXT_QUOTED
                               : -1;
        break;
    case S_EXT_QPAIR: next = is_qpair(ch) ? S_EXT_QUOTED : -1; break;
    case S_EXT_AFTER_QUOTED:
        next = is_ows(ch) ? S_EXT_BWS : ch == ';' ? S_EXT_NAME_START : ch == '\r' ? S_CHUNK_LF : -1;
        break;
    case S_CHUNK_LF:
        if (ch != '\n')
            break;
        if (f->remaining == 0) { /* the last chunk: trailers follow */
            f->in_trailers = 1;
            next = S_FIELD_START;
        } else {
            next = S_CHUNK_DATA;
        }
        break;
    }
    if (next < 0)
        return refuse(f, SR_HTTP_REFUSED_BAD_CHUNK);
    f->state = next;
    return 0;
}

long sr_http_framing_feed(sr_http_framing *f, const char *data, size_t len, int *done) {
    size_t i = 0;
    *done = 0;
    if (f->state == S_DONE)
        sr_http_framing_init(f);
    while (i < len) {
        unsigned char ch = (unsigned char)data[i];
        switch (f->state) {
        case S_START:
            if (ch != '\r' && ch != '\n')
                f->state = S_REQLINE;
            else
                break;
            /* fall through */
        case S_REQLINE:
            if (ch == '\r') {
                f->http10 = memcmp(f->version, "HTTP/1.0", 8) == 0;
                f->state = S_REQLINE_LF;
            } else if (ch == '\n' || is_ctl(ch) || ch == '\t') {
                return refuse(f, SR_HTTP_REFUSED_BAD_LINE);
            } else {
                memmove(f->version, f->version + 1, sizeof f->version - 1);
                f->version[sizeof f->version - 1] = (char)ch;
            }
            break;
        case S_REQLINE_LF:
            if (ch != '\n')
                return refuse(f, SR_HTTP_REFUSED_BAD_LINE);
            f->state = S_FIELD_START;
            break;
        case S_FIELD_START:
        case S_NAME:
        case S_VALUE_START:
        case S_VALUE:
        case S_VALUE_LF:
        case S_END_LF:
            if (step_field(f, ch) < 0)
                return -1;
            break;
        case S_BODY:
        case S_CHUNK_DATA: {
            size_t n = len - i;
            if (n > f->remaining)
                n = (size_t)f->remaining;
            f->remaining -= n;
            i += n;
            if (f->remaining == 0)
                f->state = f->state == S_BODY ? S_DONE : S_CHUNK_DATA_CR;
            if (f->state == S_DONE) {
                *done = 1;
                return (long)i;
            }
            continue;
        }
        case S_CHUNK_DATA_CR:
        case S_CHUNK_DATA_LF:
            if (ch != (f->state == S_CHUNK_DATA_CR ? '\r' : '\n'))
                return refuse(f, SR_HTTP_REFUSED_BAD_CHUNK);
            if (f->state == S_CHUNK_DATA_CR) {
                f->state = S_CHUNK_DATA_LF;
            } else {
                f->state = S_CHUNK_SIZE;
                f->digits = 0;
                f->line_len = 0;
            }
            break;
        default:
            if (step_chunk_line(f, ch) < 0)
                return -1;
            break;
        }
        i++;
        if (f->state == S_DONE) {
            *done = 1;
            return (long)i;
        }
    }
    return (long)i;
}
