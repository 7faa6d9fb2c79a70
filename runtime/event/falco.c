/* falco.c - Falco JSON output normalised into the runtime policy event.
 *
 * Falco posts {"time","rule","priority","output","output_fields","tags",
 * "hostname","source"}; integrations expect the Sysdig policy event shape.
 * The new document is written directly: rule, output and tags keep their
 * original JSON text, output_fields is copied byte for byte (it carries
 * 64-bit integers such as evt.time), and only time and priority are decoded.
 *
 * The id is the first half of the SHA-256 of the Falco document, so a sender
 * that retries an event gets the same id and receivers can deduplicate. */
#include "event.h"
#include "falco.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define NS_PER_SEC 1000000000LL

/* The Falco members we read; a field is absent when its `type` is 0xff. */
typedef struct falco_doc {
    const char *p;
    sr_json_member time, rule, priority, output, fields, tags, hostname, source;
} falco_doc;

#define ABSENT 0xff

static int fail(sr_json_error *err, size_t off, const char *fmt, const char *what) {
    err->offset = off;
    snprintf(err->msg, sizeof err->msg, fmt, what);
    return -1;
}

static int key_is(const char *p, const sr_json_member *m, const char *key) {
    return sr_json_key_equals(p + m->key_off, m->key_len, key, strlen(key));
}

static void read_members(falco_doc *d, const char *p, size_t n) {
    sr_json_member *slots[] = {&d->time,   &d->rule, &d->priority, &d->output,
                               &d->fields, &d->tags, &d->hostname, &d->source};
    static const char *const names[] = {"time",          "rule", "priority", "output",
                                        "output_fields", "tags", "hostname", "source"};
    d->p = p;
    for (size_t k = 0; k < sizeof slots / sizeof *slots; k++)
        slots[k]->type = ABSENT;
    size_t pos = 0;
    sr_json_member m;
    while (sr_json_object_next(p, n, &pos, &m)) {
        /* Later duplicates win, as with every other lookup. */
        for (size_t k = 0; k < sizeof slots / sizeof *slots; k++) {
            if (key_is(p, &m, names[k])) {
                *slots[k] = m;
                break;
            }
        }
    }
}

int sr_falco_detect(const char *p, size_t n) {
    unsigned seen = 0;
    size_t pos = 0;
    sr_json_member m;
    while (sr_json_object_next(p, n, &pos, &m)) {
        if (key_is(p, &m, "type"))
            return 0;
        if (key_is(p, &m, "rule"))
            seen |= 1;
        else if (key_is(p, &m, "priority"))
            seen |= 2;
        else if (key_is(p, &m, "output"))
            seen |= 4;
    }
    return seen == 7;
}

/* A required string member: present and a string, else an error naming it. */
static int need_string(const sr_json_member *m, const char *name, sr_json_error *err) {
    if (m->type == ABSENT)
        return fail(err, 0, "Falco output: missing \"%s\" field", name);
    if (m->type != SR_JSON_STRING)
        return fail(err, m->val_off, "Falco output: \"%s\" must be a string", name);
    return 0;
}

/* The decoded contents of a short string member into buf (NUL-terminated);
 * -1 when it does not fit (no valid time or priority is that long). */
static int short_string(const char *p, const sr_json_member *m, char *buf, size_t cap) {
    const char *s = p + m->val_off + 1;
    size_t len = m->val_len - 2;
    if (!memchr(s, '\\', len)) {
        if (len >= cap)
            return -1;
        memcpy(buf, s, len);
        buf[len] = '\0';
        return 0;
    }
    sr_buf tmp = SR_BUF_INIT;
    int rc = -1;
    if (sr_json_unescape(s, len, 0, &tmp) != 0)
        goto fail;
    if (tmp.len >= cap || memchr(tmp.data, '\0', tmp.len))
        goto fail;
    memcpy(buf, tmp.data, tmp.len + 1);
    rc = 0;
fail:
    sr_buf_free(&tmp);
    return rc;
}

/* ---- Priority ------------------------------------------------------------ */

static int priority_severity(const char *s) {
    static const struct {
        const char *name;
        int severity;
    } map[] = {
        {"emergency", 0}, {"alert", 1},         {"critical", 2}, {"error", 3}, {"warning", 4},
        {"notice", 5},    {"informational", 6}, {"info", 6},     {"debug", 7},
    };
    for (size_t k = 0; k < sizeof map / sizeof *map; k++)
        if (strcasecmp(s, map[k].name) == 0)
            return map[k].severity;
    return -1;
}

/* ---- RFC 3339 time ------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, unsigned m) {
    static const unsigned char days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

/* Exactly `width` digits at *s, advancing it; -1 if there are not. */
static int digits(const char **s, int width) {
    int v = 0;
    for (int k = 0; k < width; k++) {
        char c = (*s)[k];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *s += width;
    return v;
}

static int expect(const char **s, const char *any) {
    if (**s == '\0' || !strchr(any, **s))
        return -1;
    (*s)++;
    return 0;
}

/* A fixed-width number in [lo, hi] followed by one of `sep` (if given). */
static int field(const char **s, int width, int lo, int hi, const char *sep) {
    int v = digits(s, width);
    if (v < lo || v > hi || (sep && expect(s, sep) != 0))
        return -1;
    return v;
}

int sr_rfc3339_parse(const char *s, int64_t *ns_out) {
    int y, mo, d, h, mi, sec, frac = 0, offset = 0;
    if ((y = field(&s, 4, 0, 9999, "-")) < 0 || (mo = field(&s, 2, 1, 12, "-")) < 0 ||
        (d = field(&s, 2, 1, 31, "Tt ")) < 0 || (h = field(&s, 2, 0, 23, ":")) < 0 ||
        (mi = field(&s, 2, 0, 59, ":")) < 0 || (sec = field(&s, 2, 0, 60, NULL)) < 0)
        return -1;
    if (d > days_in_month(y, (unsigned)mo))
        return -1;
    if (*s == '.') {
        s++;
        int nd = 0;
        for (; *s >= '0' && *s <= '9'; s++, nd++)
            if (nd < 9)
                frac = frac * 10 + (*s - '0');
        if (nd == 0)
            return -1;
        for (; nd < 9; nd++)
            frac *= 10;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int sign = *s++ == '-' ? -1 : 1, oh, om;
        if ((oh = field(&s, 2, 0, 23, ":")) < 0 || (om = field(&s, 2, 0, 59, NULL)) < 0)
            return -1;
        offset = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*s != '\0')
        return -1;
    int64_t secs =
        days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    /* int64 nanoseconds span 1677-09-21 .. 2262-04-11. */
    if (secs < INT64_MIN / NS_PER_SEC + 1 || secs > INT64_MAX / NS_PER_SEC - 1)
        return -1;
    *ns_out = secs * NS_PER_SEC + frac;
    return 0;
}

static int put_rfc3339_utc(sr_buf *out, int64_t ns) {
    int64_t secs = ns / NS_PER_SEC, frac = ns % NS_PER_SEC;
    if (frac < 0) {
        frac += NS_PER_SEC;
        secs--;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    return sr_buf_printf(out, "\"%04" PRId64 "-%02u-%02uT%02d:%02d:%02d.%09" PRId64 "Z\"", y, m, d,
                         (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), frac);
}

/* ---- Output -------------------------------------------------------------- */

static int put_id(sr_buf *out, const char *p, size_t n) {
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16)
        return -1;
    char text[35];
    text[0] = '"';
    for (int k = 0; k < 16; k++) {
        text[1 + 2 * k] = hex[md[k] >> 4];
        text[2 + 2 * k] = hex[md[k] & 15];
    }
    text[33] = '"';
    return sr_buf_append(out, text, 34);
}

/* A member's original JSON text, compacted if it was pretty-printed. */
static int put_value(sr_buf *out, const char *p, const sr_json_member *m) {
    if (m->val_has_ws)
        return sr_json_compact(p + m->val_off, m->val_len, out);
    return sr_buf_append(out, p + m->val_off, m->val_len);
}

/* An optional member: its text, or `dflt` when absent or null. */
static int put_optional(sr_buf *out, const char *p, const sr_json_member *m, const char *dflt) {
    if (m->type == ABSENT || m->type == SR_JSON_NULL)
        return sr_buf_puts(out, dflt);
    return put_value(out, p, m);
}

/* An optional member must have type `type` (or be null). */
static int check_optional(const sr_json_member *m, int type, const char *name, sr_json_error *err) {
    if (m->type == ABSENT || m->type == SR_JSON_NULL || m->type == type)
        return 0;
    return fail(err, m->val_off, "Falco output: \"%s\" has the wrong type", name);
}

static int check_fields(const falco_doc *d, sr_json_error *err) {
    if (need_string(&d->time, "time", err) || need_string(&d->rule, "rule", err) ||
        need_string(&d->priority, "priority", err) || need_string(&d->output, "output", err) ||
        check_optional(&d->fields, SR_JSON_OBJECT, "output_fields", err) ||
        check_optional(&d->tags, SR_JSON_ARRAY, "tags", err) ||
        check_optional(&d->hostname, SR_JSON_STRING, "hostname", err) ||
        check_optional(&d->source, SR_JSON_STRING, "source", err))
        return -1;
    return 0;
}

static int read_time(const falco_doc *d, int64_t *ns, sr_json_error *err) {
    char text[64];
    if (short_string(d->p, &d->time, text, sizeof text) != 0 || sr_rfc3339_parse(text, ns) != 0)
        return fail(err, d->time.val_off, "Falco output: \"%s\" is not an RFC 3339 timestamp",
                    "time");
    return 0;
}

static int read_priority(const falco_doc *d, int *severity, sr_json_error *err) {
    char text[32];
    *severity = -1;
    if (short_string(d->p, &d->priority, text, sizeof text) == 0)
        *severity = priority_severity(text);
    if (*severity < 0)
        return fail(err, d->priority.val_off, "Falco output: unknown \"%s\" value", "priority");
    return 0;
}

int sr_falco_normalize(const char *p, size_t n, sr_buf *out, sr_json_error *err) {
    falco_doc d;
    int64_t ns;
    int severity, oom = 0;
    size_t start = out->len;

    read_members(&d, p, n);
    if (check_fields(&d, err) || read_time(&d, &ns, err) || read_priority(&d, &severity, err))
        goto fail;

    /* sr_buf appends leave the buffer as it was on failure, so the chain
     * below can run to the end and be checked once. */
    oom |= sr_buf_puts(out, "{\"id\":");
    oom |= put_id(out, p, n);
    oom |= sr_buf_printf(out, ",\"type\":\"policy\",\"timestamp\":%" PRId64, ns);
    oom |= sr_buf_puts(out, ",\"timestampRFC3339Nano\":");
    oom |= put_rfc3339_utc(out, ns);
    oom |= sr_buf_puts(out, ",\"originator\":\"policy\",\"category\":\"runtime\",\"source\":");
    if (d.source.type == SR_JSON_STRING)
        oom |= put_value(out, p, &d.source);
    else
        oom |= sr_buf_puts(out, "\"syscall\"");
    oom |= sr_buf_puts(out, ",\"rawEventOriginator\":\"falco\",\"rawEventCategory\":\"runtime\","
                            "\"engine\":\"falco\",\"name\":");
    oom |= put_value(out, p, &d.rule);
    oom |= sr_buf_printf(out, ",\"description\":\"\",\"severity\":%d", severity);
    oom |= sr_buf_puts(out, ",\"content\":{\"ruleName\":");
    oom |= put_value(out, p, &d.rule);
    oom |= sr_buf_puts(out, ",\"ruleType\":\"RULE_TYPE_FALCO\",\"ruleTags\":");
    oom |= put_optional(out, p, &d.tags, "[]");
    oom |= sr_buf_puts(out, ",\"output\":");
    oom |= put_value(out, p, &d.output);
    oom |= sr_buf_puts(out, ",\"fields\":");
    oom |= put_optional(out, p, &d.fields, "{}");
    oom |= sr_buf_puts(out, "},\"labels\":{");
    if (d.hostname.type == SR_JSON_STRING) {
        oom |= sr_buf_puts(out, "\"host.hostName\":");
        oom |= put_value(out, p, &d.hostname);
    }
    oom |= sr_buf_puts(out, "}}");
    if (oom) {
        fail(err, 0, "%s", "out of memory");
        goto fail;
    }
    return 0;

fail:
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
    return -1;
}
