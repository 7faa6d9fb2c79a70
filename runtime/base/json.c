/* json.c - strict validating JSON scanner, and helpers that walk input it
 * has already validated.
 *
 * The scanner is a small state machine over an explicit nesting stack (one
 * bit per level), so a hostile document a million brackets deep costs an
 * error message, not the C stack. Strings, which are most of an event's
 * bytes, are skipped sixteen bytes at a time with SSE2 (eight, in a 64-bit
 * word, elsewhere) while no byte needs a closer look (quote, backslash,
 * control character, non-ASCII); SR_JSON_NO_SIMD selects the word path.
 *
 * Duplicate keys: lookups return the LAST member with a given key, which is
 * what the decoders downstream of the gateway (Python, Go, jq, cjson) see. */
#include "json.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

/* Nesting levels the bit stack holds; larger depth limits are clamped. */
#define STACK_LEVELS 4096

/* ---- Byte classes -------------------------------------------------------- */

enum { C_PLAIN = 0, C_QUOTE, C_ESC, C_CTRL, C_HIGH };

#define R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x

/* How a byte inside a string is handled: C_PLAIN bytes are copied past. */
/* clang-format off */
static const unsigned char str_class[256] = {
    /* 0x00 */ R16(C_CTRL),
    /* 0x10 */ R16(C_CTRL),
    /* 0x20 */ 0, 0, C_QUOTE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x30 */ R16(0),
    /* 0x40 */ R16(0),
    /* 0x50 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, C_ESC, 0, 0, 0,
    /* 0x60 */ R16(0),
    /* 0x70 */ R16(0),
    /* 0x80 */ R16(C_HIGH), R16(C_HIGH), R16(C_HIGH), R16(C_HIGH),
    /* 0xc0 */ R16(C_HIGH), R16(C_HIGH), R16(C_HIGH), R16(C_HIGH),
};
/* clang-format on */

static inline int is_ws(unsigned char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

#if defined(__SSE2__) && !defined(SR_JSON_NO_SIMD)
#include <emmintrin.h>

/* Sixteen bytes at a time. A signed compare with 0x20 catches both the
 * control characters and the bytes >= 0x80 (negative as int8). */
static inline size_t skip_plain(const unsigned char *p, size_t i, size_t n) {
    const __m128i quote = _mm_set1_epi8('"'), esc = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (n - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, esc)),
                                   _mm_cmplt_epi8(v, space));
        unsigned bits = (unsigned)_mm_movemask_epi8(hit);
        if (bits)
            return i + (size_t)__builtin_ctz(bits);
        i += 16;
    }
    while (i < n && str_class[p[i]] == C_PLAIN)
        i++;
    return i;
}

static inline size_t skip_to_quote_or_esc(const unsigned char *p, size_t i, size_t n) {
    const __m128i quote = _mm_set1_epi8('"'), esc = _mm_set1_epi8('\\');
    while (n - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        unsigned bits = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, esc)));
        if (bits)
            return i + (size_t)__builtin_ctz(bits);
        i += 16;
    }
    while (i < n && p[i] != '"' && p[i] != '\\')
        i++;
    return i;
}
#else
/* Without SSE2: eight bytes at a time. */
static inline uint64_t load64(const unsigned char *p) {
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* True when any byte of `w` is '"', '\\', < 0x20 or >= 0x80. The "any"
 * answer is exact (borrows only spread upwards from a real hit); which byte
 * it was is left to the byte loop. */
static inline int word_has_special(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    uint64_t t = ((q - ones) & ~q) | ((b - ones) & ~b) | (w - ones * 0x20) | w;
    return (t & high) != 0;
}

/* True when any byte of `w` is '"' or '\\' (for strings already validated). */
static inline int word_has_quote_or_esc(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return ((((q - ones) & ~q) | ((b - ones) & ~b)) & high) != 0;
}

static inline size_t skip_plain(const unsigned char *p, size_t i, size_t n) {
    while (n - i >= 8 && !word_has_special(load64(p + i)))
        i += 8;
    while (i < n && str_class[p[i]] == C_PLAIN)
        i++;
    return i;
}

static inline size_t skip_to_quote_or_esc(const unsigned char *p, size_t i, size_t n) {
    while (n - i >= 8 && !word_has_quote_or_esc(load64(p + i)))
        i += 8;
    while (i < n && p[i] != '"' && p[i] != '\\')
        i++;
    return i;
}
#endif

size_t sr_utf8_seq_len(const unsigned char *p, size_t avail) {
    unsigned c = p[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong below U+0800 */
        else if (c == 0xed)
            hi = 0x9f; /* U+D800..U+DFFF */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (avail < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* ---- The validating scanner ---------------------------------------------- */

typedef struct scanner {
    const unsigned char *p;
    size_t n, i;
    int depth, max_depth;
    uint64_t stack[STACK_LEVELS / 64]; /* bit set = that level is an object */
    sr_json_member *members;           /* NULL when only validating */
    size_t cap, count;
    int member_ws; /* whitespace seen inside the current top-level value */
    sr_json_error *err;
} scanner;

static int fail(scanner *s, size_t off, const char *msg) {
    if (s->err) {
        s->err->offset = off;
        snprintf(s->err->msg, sizeof s->err->msg, "%s", msg);
    }
    return -1;
}

static inline void skip_ws(scanner *s) {
    size_t i = s->i;
    while (i < s->n && is_ws(s->p[i]))
        i++;
    /* Depth 1 is the indexed object itself: whitespace there lies between
     * members, outside any value. */
    if (i != s->i && s->depth > 1)
        s->member_ws = 1;
    s->i = i;
}

static int push(scanner *s, int is_object) {
    if (s->depth >= s->max_depth) {
        if (s->err) {
            s->err->offset = s->i;
            snprintf(s->err->msg, sizeof s->err->msg, "nesting deeper than %d", s->max_depth);
        }
        return -1;
    }
    uint64_t bit = 1ull << (s->depth % 64);
    if (is_object)
        s->stack[s->depth / 64] |= bit;
    else
        s->stack[s->depth / 64] &= ~bit;
    s->depth++;
    s->i++;
    return 0;
}

static int in_object(const scanner *s) {
    int level = s->depth - 1;
    return (s->stack[level / 64] >> (level % 64)) & 1;
}

/* \X or \uXXXX at p[i] (the backslash); advances *pi past it. */
static int scan_escape(scanner *s, size_t start, size_t *pi) {
    const unsigned char *p = s->p;
    size_t i = *pi;
    if (i + 1 >= s->n)
        return fail(s, start, "unterminated string");
    switch (p[i + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't': *pi = i + 2; return 0;
    case 'u':
        for (size_t k = 2; k < 6; k++)
            if (i + k >= s->n || sr_hex_value(p[i + k]) < 0)
                return fail(s, i, "invalid \\u escape in string");
        *pi = i + 6;
        return 0;
    default: return fail(s, i, "invalid escape in string");
    }
}

/* The string token at s->i (its opening quote); leaves s->i past the
 * closing quote. `escaped` (may be NULL) is set when it holds a backslash. */
static int scan_string(scanner *s, uint8_t *escaped) {
    const unsigned char *p = s->p;
    size_t n = s->n, start = s->i, i = start + 1;
    for (;;) {
        i = skip_plain(p, i, n);
        if (i >= n)
            return fail(s, start, "unterminated string");
        switch (str_class[p[i]]) {
        case C_QUOTE: s->i = i + 1; return 0;
        case C_ESC:
            if (escaped)
                *escaped = 1;
            if (scan_escape(s, start, &i) != 0)
                return -1;
            break;
        case C_CTRL: return fail(s, i, "unescaped control character in string");
        default: {
            size_t len = sr_utf8_seq_len(p + i, n - i);
            if (!len)
                return fail(s, i, "invalid UTF-8 in string");
            i += len;
        }
        }
    }
}

static size_t skip_digits(const unsigned char *p, size_t n, size_t i) {
    while (i < n && is_digit(p[i]))
        i++;
    return i;
}

/* RFC 8259: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int scan_number(scanner *s) {
    const unsigned char *p = s->p;
    size_t n = s->n, i = s->i;
    if (p[i] == '-')
        i++;
    if (i >= n || !is_digit(p[i]))
        return fail(s, i, "invalid number: expected a digit");
    if (p[i] == '0') {
        i++;
        if (i < n && is_digit(p[i]))
            return fail(s, i - 1, "leading zero in number");
    } else {
        i = skip_digits(p, n, i);
    }
    if (i < n && p[i] == '.') {
        i++;
        if (i >= n || !is_digit(p[i]))
            return fail(s, i, "invalid number: expected a digit after '.'");
        i = skip_digits(p, n, i);
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i >= n || !is_digit(p[i]))
            return fail(s, i, "invalid number: expected a digit in exponent");
        i = skip_digits(p, n, i);
    }
    s->i = i;
    return 0;
}

static int scan_literal(scanner *s, const char *word, size_t len) {
    if (s->n - s->i < len || memcmp(s->p + s->i, word, len) != 0)
        return fail(s, s->i, "expected a value");
    s->i += len;
    return 0;
}

/* A top-level member's key starts at s->i: record it, ready for its value. */
static int begin_member(scanner *s) {
    if (s->count == s->cap)
        return fail(s, s->i, "too many top-level fields");
    sr_json_member *m = &s->members[s->count];
    memset(m, 0, sizeof *m);
    m->key_off = (uint32_t)(s->i + 1);
    if (scan_string(s, &m->key_escaped) != 0)
        return -1;
    m->key_len = (uint32_t)(s->i - 1 - m->key_off);
    return 0;
}

static void begin_member_value(scanner *s) {
    sr_json_member *m = &s->members[s->count];
    m->val_off = (uint32_t)s->i;
    m->type = (uint8_t)sr_json_type_of(s->p[s->i]);
    s->member_ws = 0;
}

static void end_member_value(scanner *s) {
    sr_json_member *m = &s->members[s->count++];
    m->val_len = (uint32_t)(s->i - m->val_off);
    m->val_has_ws = (uint8_t)s->member_ws;
}

/* The grammar as a state machine: `value` expects any value, `key` an
 * object key, `next` whatever may follow a complete value at this depth.
 * When indexing, depth 1 is the top-level object whose members we record. */
static int scan(scanner *s) {
    const unsigned char *p = s->p;
    size_t n = s->n;
    int indexing = s->members != NULL;

value:
    skip_ws(s);
    if (s->i >= n)
        return fail(s, n, "unexpected end of input, expected a value");
    if (indexing && s->depth == 1)
        begin_member_value(s);
    switch (p[s->i]) {
    case '{':
        if (push(s, 1) != 0)
            return -1;
        skip_ws(s);
        if (s->i < n && p[s->i] == '}') {
            s->i++;
            s->depth--;
            goto next;
        }
        goto key;
    case '[':
        if (push(s, 0) != 0)
            return -1;
        skip_ws(s);
        if (s->i < n && p[s->i] == ']') {
            s->i++;
            s->depth--;
            goto next;
        }
        goto value;
    case '"':
        if (scan_string(s, NULL) != 0)
            return -1;
        goto next;
    case 't':
        if (scan_literal(s, "true", 4) != 0)
            return -1;
        goto next;
    case 'f':
        if (scan_literal(s, "false", 5) != 0)
            return -1;
        goto next;
    case 'n':
        if (scan_literal(s, "null", 4) != 0)
            return -1;
        goto next;
    default:
        if (p[s->i] != '-' && !is_digit(p[s->i]))
            return fail(s, s->i, "expected a value");
        if (scan_number(s) != 0)
            return -1;
        goto next;
    }

key:
    if (s->i >= n)
        return fail(s, n, "unexpected end of input, expected an object key");
    if (p[s->i] != '"')
        return fail(s, s->i, "expected a string as object key");
    if (indexing && s->depth == 1) {
        if (begin_member(s) != 0)
            return -1;
    } else if (scan_string(s, NULL) != 0) {
        return -1;
    }
    skip_ws(s);
    if (s->i >= n || p[s->i] != ':')
        return fail(s, s->i, "expected ':' after object key");
    s->i++;
    goto value;

next:
    if (s->depth == 0)
        goto done;
    if (indexing && s->depth == 1)
        end_member_value(s);
    skip_ws(s);
    if (in_object(s)) {
        if (s->i < n && p[s->i] == ',') {
            s->i++;
            skip_ws(s);
            if (s->i < n && p[s->i] == '}')
                return fail(s, s->i, "trailing comma in object");
            goto key;
        }
        if (s->i < n && p[s->i] == '}') {
            s->i++;
            s->depth--;
            goto next;
        }
        if (s->i >= n)
            return fail(s, n, "unexpected end of input, expected ',' or '}'");
        return fail(s, s->i, "expected ',' or '}' after object member");
    }
    if (s->i < n && p[s->i] == ',') {
        s->i++;
        skip_ws(s);
        if (s->i < n && p[s->i] == ']')
            return fail(s, s->i, "trailing comma in array");
        goto value;
    }
    if (s->i < n && p[s->i] == ']') {
        s->i++;
        s->depth--;
        goto next;
    }
    if (s->i >= n)
        return fail(s, n, "unexpected end of input, expected ',' or ']'");
    return fail(s, s->i, "expected ',' or ']' after array element");

done:
    skip_ws(s);
    if (s->i != n)
        return fail(s, s->i, "unexpected data after the JSON value");
    return 0;
}

static void scanner_init(scanner *s, const char *p, size_t n, int max_depth, sr_json_error *err) {
    s->p = (const unsigned char *)p;
    s->n = n;
    s->i = 0;
    s->depth = 0;
    if (max_depth <= 0)
        max_depth = SR_JSON_DEFAULT_MAX_DEPTH;
    s->max_depth = max_depth > STACK_LEVELS ? STACK_LEVELS : max_depth;
    s->members = NULL;
    s->cap = s->count = 0;
    s->member_ws = 0;
    s->err = err;
}

int sr_json_validate(const char *p, size_t n, int max_depth, sr_json_error *err) {
    scanner s;
    scanner_init(&s, p, n, max_depth, err);
    return scan(&s);
}

int sr_json_index_object(const char *p, size_t n, int max_depth, sr_json_member *members,
                         size_t cap, sr_json_error *err) {
    scanner s;
    scanner_init(&s, p, n, max_depth, err);
    skip_ws(&s);
    if (s.i >= n || p[s.i] != '{')
        return fail(&s, s.i, "expected a JSON object");
    s.members = members;
    s.cap = cap;
    if (scan(&s) != 0)
        return -1;
    return (int)s.count;
}

/* ---- Walking validated input --------------------------------------------- */

static size_t ws_end(const char *p, size_t n, size_t i) {
    while (i < n && is_ws((unsigned char)p[i]))
        i++;
    return i;
}

/* Past the string token whose opening quote is at p[i]. */
static size_t string_end(const char *p, size_t n, size_t i, uint8_t *escaped) {
    const unsigned char *u = (const unsigned char *)p;
    i++;
    for (;;) {
        i = skip_to_quote_or_esc(u, i, n);
        if (i >= n)
            return n;
        if (u[i] == '"')
            return i + 1;
        if (escaped)
            *escaped = 1;
        i += 2;
        if (i > n)
            return n;
    }
}

/* Past the value starting at p[i]; sets *has_ws for whitespace inside it. */
static size_t value_end(const char *p, size_t n, size_t i, uint8_t *has_ws) {
    unsigned char c = (unsigned char)p[i];
    if (c == '"')
        return string_end(p, n, i, NULL);
    if (c != '{' && c != '[') {
        while (i < n && p[i] != ',' && p[i] != '}' && p[i] != ']' && !is_ws((unsigned char)p[i]))
            i++;
        return i;
    }
    size_t depth = 0;
    while (i < n) {
        c = (unsigned char)p[i];
        if (c == '"') {
            i = string_end(p, n, i, NULL);
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0)
                return i + 1;
        } else if (is_ws(c)) {
            *has_ws = 1;
        }
        i++;
    }
    return n;
}

/* One element at p[i] (after an opening bracket or a previous element). */
static int next_item(const char *p, size_t n, size_t *pos, sr_json_member *m, int keyed) {
    size_t i = ws_end(p, n, *pos ? *pos : 1);
    if (i < n && p[i] == ',')
        i = ws_end(p, n, i + 1);
    if (i >= n || p[i] == '}' || p[i] == ']') {
        *pos = n;
        return 0;
    }
    memset(m, 0, sizeof *m);
    if (keyed) {
        m->key_off = (uint32_t)(i + 1);
        i = string_end(p, n, i, &m->key_escaped);
        m->key_len = (uint32_t)(i - 1 - m->key_off);
        i = ws_end(p, n, i);
        i = ws_end(p, n, i + 1); /* the ':' */
        if (i >= n) {
            *pos = n;
            return 0;
        }
    }
    m->val_off = (uint32_t)i;
    m->type = (uint8_t)sr_json_type_of((unsigned char)p[i]);
    i = value_end(p, n, i, &m->val_has_ws);
    m->val_len = (uint32_t)(i - m->val_off);
    *pos = i;
    return 1;
}

int sr_json_object_next(const char *p, size_t n, size_t *pos, sr_json_member *m) {
    return next_item(p, n, pos, m, 1);
}

int sr_json_array_next(const char *p, size_t n, size_t *pos, sr_json_member *m) {
    return next_item(p, n, pos, m, 0);
}

/* ---- Escapes ------------------------------------------------------------- */

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* The code unit of "\uXXXX" at p[i], or -1 if there is none. */
static long u_escape_at(const char *p, size_t n, size_t i) {
    if (n - i < 6 || p[i] != '\\' || p[i + 1] != 'u')
        return -1;
    long v = 0;
    for (size_t k = 2; k < 6; k++) {
        int h = sr_hex_value((unsigned char)p[i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Decodes the escape at p[*pi] (a backslash) into `o` (room for 4 bytes),
 * advancing *pi. A surrogate escape that is not half of a proper pair
 * becomes U+FFFD, as a UTF-8 string cannot hold it. */
static size_t decode_escape(const char *p, size_t n, size_t *pi, char *o) {
    size_t i = *pi;
    if (i + 1 >= n) {
        *pi = n;
        return 0;
    }
    char c = p[i + 1];
    *pi = i + 2;
    switch (c) {
    case 'b': *o = '\b'; return 1;
    case 'f': *o = '\f'; return 1;
    case 'n': *o = '\n'; return 1;
    case 'r': *o = '\r'; return 1;
    case 't': *o = '\t'; return 1;
    case 'u': break;
    default: *o = c; return 1; /* '"', '\\', '/' */
    }
    long cu = u_escape_at(p, n, i);
    if (cu < 0) {
        *o = 'u';
        return 1;
    }
    *pi = i + 6;
    if (cu >= 0xd800 && cu <= 0xdbff) {
        long lo = u_escape_at(p, n, i + 6);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
            *pi = i + 12;
            return put_utf8(o, 0x10000 + (((uint32_t)cu - 0xd800) << 10) + ((uint32_t)lo - 0xdc00));
        }
        return put_utf8(o, 0xfffd);
    }
    if (cu >= 0xdc00 && cu <= 0xdfff)
        return put_utf8(o, 0xfffd);
    return put_utf8(o, (uint32_t)cu);
}

int sr_json_unescape(const char *p, size_t n, int quoted, sr_buf *out) {
    if (quoted) {
        if (n < 2)
            return -1;
        p++;
        n -= 2;
    }
    /* Decoding never lengthens: \uXXXX (6 bytes) yields at most 3, a pair of
     * them (12) yields 4. */
    if (sr_buf_reserve(out, n) != 0)
        return -1;
    char *o = out->data + out->len;
    size_t i = 0;
    while (i < n) {
        const char *bs = memchr(p + i, '\\', n - i);
        size_t run = bs ? (size_t)(bs - (p + i)) : n - i;
        memcpy(o, p + i, run);
        o += run;
        i += run;
        if (bs)
            o += decode_escape(p, n, &i, o);
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
}

int sr_json_key_equals(const char *esc, size_t elen, const char *key, size_t klen) {
    size_t i = 0, j = 0;
    while (i < elen) {
        if (esc[i] != '\\') {
            if (j >= klen || esc[i] != key[j])
                return 0;
            i++;
            j++;
            continue;
        }
        char u[4];
        size_t un = decode_escape(esc, elen, &i, u);
        if (klen - j < un || memcmp(key + j, u, un) != 0)
            return 0;
        j += un;
    }
    return j == klen;
}

static int key_matches(const char *obj, const sr_json_member *m, const char *key, size_t klen) {
    const char *k = obj + m->key_off;
    if (m->key_escaped)
        return sr_json_key_equals(k, m->key_len, key, klen);
    return m->key_len == klen && (klen == 0 || (k[0] == key[0] && memcmp(k, key, klen) == 0));
}

int sr_json_object_get(const char *obj, size_t n, const char *key, size_t klen, sr_json_member *m) {
    size_t pos = 0;
    sr_json_member cur;
    int found = 0;
    while (sr_json_object_next(obj, n, &pos, &cur)) {
        if (key_matches(obj, &cur, key, klen)) {
            *m = cur;
            found = 1;
        }
    }
    return found;
}

/* ---- Numbers ------------------------------------------------------------- */

static int parse_u64(const char *p, size_t n, uint64_t limit, uint64_t *out) {
    if (n == 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)p[i]))
            return -1; /* fraction, exponent or not a number */
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (limit - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int sr_json_to_int64(const char *p, size_t n, int64_t *out) {
    int neg = n > 0 && p[0] == '-';
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v;
    if (parse_u64(p + neg, n - (size_t)neg, limit, &v) != 0)
        return -1;
    /* -(INT64_MAX + 1) is INT64_MIN; computed without signed overflow. */
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int sr_json_to_uint64(const char *p, size_t n, uint64_t *out) {
    return parse_u64(p, n, UINT64_MAX, out);
}

int sr_json_to_double(const char *p, size_t n, double *out) {
    char small[64];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf)
        return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    /* strtod honours LC_NUMERIC; JSON always writes '.'. */
    const char *dp = localeconv()->decimal_point;
    if (dp && dp[0] && dp[0] != '.' && !dp[1]) {
        char *dot = memchr(buf, '.', n);
        if (dot)
            *dot = dp[0];
    }
    char *end;
    double v = strtod(buf, &end);
    int ok = n > 0 && end == buf + n && !isinf(v);
    if (buf != small)
        free(buf);
    *out = v;
    return ok ? 0 : -1;
}

/* ---- Compaction ---------------------------------------------------------- */

int sr_json_compact(const char *p, size_t n, sr_buf *out) {
    if (sr_buf_reserve(out, n) != 0)
        return -1;
    char *o = out->data + out->len;
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"') {
            size_t e = string_end(p, n, i, NULL);
            memcpy(o, p + i, e - i);
            o += e - i;
            i = e;
            continue;
        }
        if (!is_ws(c))
            *o++ = (char)c;
        i++;
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
}
