/* hec_check.c - envelope splitting and W1 verification (see hec_check.h).
 *
 * The scanner only finds where values end; it does not validate JSON. The
 * byte-for-byte comparison of the sampled events is the real check, and
 * keeping the scan cheap is what keeps the receiver off the critical path. */
#include "hec_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w1.h"

/* Indexes beyond this are not W1 events (and would make the bitmap huge). */
#define MAX_SEEN_INDEX (1u << 30)

/* Bytes that end a run of string contents. */
static uint8_t str_stop[256];
/* Bytes that end a bare scalar (number, true, false, null). */
static uint8_t scalar_stop[256];

static void init_tables(void) {
    if (str_stop['"'])
        return;
    str_stop['"'] = str_stop['\\'] = 1;
    const char *s = ",}] \t\r\n";
    for (; *s; s++)
        scalar_stop[(uint8_t)*s] = 1;
}

static const char *skip_ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* p at the opening quote; returns just past the closing one, or NULL. */
static const char *skip_string(const char *p, const char *e) {
    p++;
    for (;;) {
        while (p < e && !str_stop[(uint8_t)*p])
            p++;
        if (p >= e)
            return NULL;
        if (*p == '"')
            return p + 1;
        p += 2; /* an escape: the next byte cannot end the string */
    }
}

static const char *skip_value(const char *p, const char *e) {
    if (p >= e)
        return NULL;
    if (*p == '"')
        return skip_string(p, e);
    if (*p != '{' && *p != '[') {
        const char *s = p;
        while (p < e && !scalar_stop[(uint8_t)*p])
            p++;
        return p > s ? p : NULL;
    }
    int depth = 0;
    while (p < e) {
        char ch = *p;
        if (ch == '"') {
            p = skip_string(p, e);
            if (!p)
                return NULL;
            continue;
        }
        if (ch == '{' || ch == '[')
            depth++;
        else if ((ch == '}' || ch == ']') && --depth == 0)
            return p + 1;
        p++;
    }
    return NULL;
}

typedef struct {
    const char *p;
    size_t n;
} span;

typedef struct {
    span time, host, source, sourcetype, event;
} envelope;

static int key_is(const char *k, size_t n, const char *lit) {
    return n == strlen(lit) && memcmp(k, lit, n) == 0;
}

/* Parses one envelope starting at *pp; returns 0 and advances, or -1. */
static int parse_envelope(const char **pp, const char *e, envelope *env) {
    const char *p = skip_ws(*pp, e);
    memset(env, 0, sizeof *env);
    if (p >= e || *p != '{')
        return -1;
    p = skip_ws(p + 1, e);
    if (p < e && *p == '}') {
        *pp = p + 1;
        return 0;
    }
    for (;;) {
        if (p >= e || *p != '"')
            return -1;
        const char *k = p + 1, *kend = skip_string(p, e);
        if (!kend)
            return -1;
        size_t klen = (size_t)(kend - 1 - k);
        p = skip_ws(kend, e);
        if (p >= e || *p != ':')
            return -1;
        const char *v = skip_ws(p + 1, e), *vend = skip_value(v, e);
        if (!vend)
            return -1;
        span s = {v, (size_t)(vend - v)};
        if (key_is(k, klen, "event"))
            env->event = s;
        else if (key_is(k, klen, "time"))
            env->time = s;
        else if (key_is(k, klen, "host"))
            env->host = s;
        else if (key_is(k, klen, "source"))
            env->source = s;
        else if (key_is(k, klen, "sourcetype"))
            env->sourcetype = s;
        p = skip_ws(vend, e);
        if (p < e && *p == ',') {
            p = skip_ws(p + 1, e);
            continue;
        }
        if (p < e && *p == '}') {
            *pp = p + 1;
            return 0;
        }
        return -1;
    }
}

static void fail(hec_checker *c, const char *fmt, ...) {
    c->mismatches++;
    if (c->first_error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->first_error, sizeof c->first_error, fmt, ap);
    va_end(ap);
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* The event's index from its id, or -1 when it is not a W1 event. */
static long long event_index(span ev) {
    static const char head[] = "{\"id\":\"";
    if (ev.n < W1_TS_POS + W1_TS_DIGITS || memcmp(ev.p, head, sizeof head - 1) != 0)
        return -1;
    long long v = 0;
    for (int i = 0; i < 8; i++) {
        int d = hexval(ev.p[W1_ID_INDEX_POS + i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static uint64_t event_stamp(span ev) {
    uint64_t v = 0;
    for (int i = 0; i < W1_TS_DIGITS; i++) {
        unsigned d = (unsigned)(ev.p[W1_TS_POS + i] - '0');
        if (d > 9)
            return 0;
        v = v * 10 + d;
    }
    return v;
}

static int span_is(span s, const char *lit) {
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* A JSON string value equal to `text` (which needs no escaping). */
static int span_is_string(span s, const char *text) {
    size_t n = strlen(text);
    return s.n == n + 2 && s.p[0] == '"' && memcmp(s.p + 1, text, n) == 0 && s.p[n + 1] == '"';
}

static int sourcetype_ok(span st, w1_kind kind) {
    if (kind == W1_POLICY)
        return span_is_string(st, "sysdig:secure:policy");
    /* Both the per-type and the plain activity sourcetype are SPLUNK's
     * documented mappings (the module has carried each). */
    char buf[64];
    snprintf(buf, sizeof buf, "sysdig:secure:activity:%s", w1_kind_name(kind));
    return span_is_string(st, "sysdig:secure:activity") || span_is_string(st, buf);
}

static void verify(hec_checker *c, long long index, const envelope *env) {
    char gen[W1_MAX_EVENT], want[W1_MAX_EVENT + 128];
    w1_info info;
    size_t n = w1_event(c->seed, (uint64_t)index, gen, &info);
    c->verified++;
    if (c->transformed && !w1_kept(&info)) {
        fail(c, "event %lld (severity 7) should have been dropped by the transform", index);
        return;
    }
    size_t wn = w1_expected(gen, n, &info, c->transformed != HEC_PLAIN, want);
    if (c->transformed == HEC_REDACTED)
        wn = w1_redact(want, wn);
    /* The send time is the sender's, not the generator's. */
    memcpy(want + W1_TS_POS, env->event.p + W1_TS_POS, W1_TS_DIGITS);
    if (wn != env->event.n || memcmp(want, env->event.p, wn) != 0) {
        size_t i = 0, m = wn < env->event.n ? wn : env->event.n;
        while (i < m && want[i] == env->event.p[i])
            i++;
        size_t from = i > 40 ? i - 40 : 0;
        fail(c,
             "event %lld differs at byte %zu (length %zu, expected %zu): got '%.*s' expected "
             "'%.*s'",
             index, i, env->event.n, wn,
             (int)(env->event.n - from < 120 ? env->event.n - from : 120), env->event.p + from,
             (int)(wn - from < 120 ? wn - from : 120), want + from);
        return;
    }
    char t[32];
    w1_time_text(info.timestamp, t);
    if (!span_is(env->time, t))
        fail(c, "event %lld: envelope time '%.*s', expected %s", index, (int)env->time.n,
             env->time.p ? env->time.p : "", t);
    else if (!span_is_string(env->host, info.host))
        fail(c, "event %lld: envelope host '%.*s', expected \"%s\"", index, (int)env->host.n,
             env->host.p ? env->host.p : "", info.host);
    else if (!span_is_string(env->source, "siemrelay"))
        fail(c, "event %lld: envelope source '%.*s'", index, (int)env->source.n,
             env->source.p ? env->source.p : "");
    else if (!sourcetype_ok(env->sourcetype, info.kind))
        fail(c, "event %lld (%s): envelope sourcetype '%.*s'", index, w1_kind_name(info.kind),
             (int)env->sourcetype.n, env->sourcetype.p ? env->sourcetype.p : "");
}

/* Marks `index` seen; returns 1 if it was new. */
static int mark(hec_checker *c, uint64_t index) {
    size_t byte = (size_t)(index >> 3);
    if (byte >= c->seen_bytes) {
        size_t cap = c->seen_bytes ? c->seen_bytes : 1 << 16;
        while (cap <= byte)
            cap *= 2;
        uint8_t *s = realloc(c->seen, cap);
        if (!s) {
            fputs("hec_check: out of memory\n", stderr);
            abort();
        }
        memset(s + c->seen_bytes, 0, cap - c->seen_bytes);
        c->seen = s;
        c->seen_bytes = cap;
    }
    uint8_t bit = (uint8_t)(1u << (index & 7));
    if (c->seen[byte] & bit)
        return 0;
    c->seen[byte] |= bit;
    return 1;
}

static void record_latency(hec_checker *c, uint64_t sent, uint64_t now_ns) {
    if (c->nlat == c->lat_cap) {
        size_t cap = c->lat_cap ? c->lat_cap * 2 : 1 << 20;
        uint32_t *l = realloc(c->lat_us, cap * sizeof *l);
        if (!l) {
            fputs("hec_check: out of memory\n", stderr);
            abort();
        }
        c->lat_us = l;
        c->lat_cap = cap;
    }
    uint64_t us = now_ns > sent ? (now_ns - sent) / 1000 : 0;
    c->lat_us[c->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

long hec_check_body(hec_checker *c, const char *p, size_t n, uint64_t now_ns, size_t *bad) {
    const char *e = p + n;
    long count = 0;
    for (;;) {
        p = skip_ws(p, e);
        if (p >= e)
            break;
        envelope env;
        if (parse_envelope(&p, e, &env) != 0) {
            *bad = (size_t)count;
            return -1;
        }
        count++;
        c->events++;
        if (!c->first_ns)
            c->first_ns = now_ns;
        c->last_ns = now_ns;
        long long index = env.event.p ? event_index(env.event) : -1;
        if (index < 0 || index >= MAX_SEEN_INDEX) {
            fail(c, "envelope %lld has no W1 event: '%.*s'", (long long)c->events,
                 (int)(env.event.n < 80 ? env.event.n : 80), env.event.p ? env.event.p : "");
            continue;
        }
        if (mark(c, (uint64_t)index))
            c->unique++;
        else
            c->duplicates++;
        uint64_t sent = event_stamp(env.event);
        if (sent)
            record_latency(c, sent, now_ns);
        if (c->verify_every && (uint64_t)index % c->verify_every == 0)
            verify(c, index, &env);
    }
    return count;
}

void hec_checker_init(hec_checker *c, uint64_t seed, int transformed, unsigned verify_every) {
    init_tables();
    memset(c, 0, sizeof *c);
    c->seed = seed;
    c->transformed = transformed;
    c->verify_every = verify_every;
}

void hec_checker_reset(hec_checker *c) {
    c->events = c->unique = c->duplicates = c->verified = c->mismatches = 0;
    c->first_ns = c->last_ns = 0;
    c->first_error[0] = 0;
    if (c->seen)
        memset(c->seen, 0, c->seen_bytes);
    c->nlat = c->lat_sorted = 0;
}

void hec_checker_free(hec_checker *c) {
    free(c->seen);
    free(c->lat_us);
    memset(c, 0, sizeof *c);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

uint32_t hec_checker_latency(hec_checker *c, double q) {
    if (!c->nlat)
        return 0;
    /* Sorting in place is fine: the order of arrival is not used again. */
    if (c->lat_sorted != c->nlat) {
        qsort(c->lat_us, c->nlat, sizeof *c->lat_us, cmp_u32);
        c->lat_sorted = c->nlat;
    }
    size_t i = (size_t)(q * (double)(c->nlat - 1) + 0.5);
    return c->lat_us[i < c->nlat ? i : c->nlat - 1];
}
