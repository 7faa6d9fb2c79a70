/* event.c - parsing, classification, field access, edits and writing of one
 * security event.
 *
 * The event keeps its original bytes and an index of its top-level members;
 * edits are a short list of (unescaped key, JSON text) pairs consulted
 * before the index. Nothing is decoded unless a script asks for it, and an
 * event nobody edited is written with one memcpy (or one compaction pass
 * when it arrived pretty-printed).
 *
 * Duplicate top-level keys: the last occurrence is the field's value (what
 * downstream JSON decoders see); an edit replaces every occurrence. */
#include "event.h"
#include "falco.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_FIELDS 1024
/* Members indexed on the C stack before falling back to the heap: enough
 * for any event up to ~2.5 KB, whatever the configured field limit. */
#define INDEX_ON_STACK 512

/* ---- Classification ------------------------------------------------------ */

static const struct {
    const char *type;
    uint8_t data_type;
    uint16_t channel, msg_type;
} event_types[] = {
    {"policy", SR_DT_POLICY, SR_CH_SECURE_EVENTS_POLICIES, SR_MT_POLICY_EVENTS},
    {"command", SR_DT_ACTIVITY_AUDIT, SR_CH_ACTIVITY_AUDIT, SR_MT_SECURE_AUDIT},
    {"connection", SR_DT_ACTIVITY_AUDIT, SR_CH_ACTIVITY_AUDIT, SR_MT_SECURE_AUDIT},
    {"fileaccess", SR_DT_ACTIVITY_AUDIT, SR_CH_ACTIVITY_AUDIT, SR_MT_SECURE_AUDIT},
    {"kubernetes", SR_DT_ACTIVITY_AUDIT, SR_CH_ACTIVITY_AUDIT, SR_MT_SECURE_AUDIT},
    {"audittrail", SR_DT_PLATFORM_AUDIT, SR_CH_PLATFORM_AUDIT, SR_MT_NONE},
    {"monitor", SR_DT_MONITOR, SR_CH_MONITOR_EVENTS, SR_MT_MONITOR_EVENTS},
};

static const struct {
    const char *name;
    unsigned bit;
} channels[] = {
    {"SECURE_EVENTS_POLICIES", SR_CH_SECURE_EVENTS_POLICIES},
    {"ACTIVITY_AUDIT", SR_CH_ACTIVITY_AUDIT},
    {"PLATFORM_AUDIT", SR_CH_PLATFORM_AUDIT},
    {"MONITOR_EVENTS", SR_CH_MONITOR_EVENTS},
    /* Aliases the Sysdig forwarder documentation uses. */
    {"POLICY_EVENTS", SR_CH_SECURE_EVENTS_POLICIES},
    {"SECURE_EVENTS_AUDIT_TRAIL", SR_CH_PLATFORM_AUDIT},
};

sr_data_type sr_event_classify(const char *type, size_t len, uint16_t *channel,
                               uint16_t *msg_type) {
    for (size_t k = 0; k < sizeof event_types / sizeof *event_types; k++) {
        if (strlen(event_types[k].type) == len && memcmp(event_types[k].type, type, len) == 0) {
            if (channel)
                *channel = event_types[k].channel;
            if (msg_type)
                *msg_type = event_types[k].msg_type;
            return (sr_data_type)event_types[k].data_type;
        }
    }
    if (channel)
        *channel = 0;
    if (msg_type)
        *msg_type = SR_MT_NONE;
    return SR_DT_UNKNOWN;
}

const char *sr_data_type_name(sr_data_type dt) {
    switch (dt) {
    case SR_DT_POLICY: return "policy";
    case SR_DT_ACTIVITY_AUDIT: return "activity_audit";
    case SR_DT_PLATFORM_AUDIT: return "platform_audit";
    case SR_DT_MONITOR: return "monitor";
    default: return "unknown";
    }
}

const char *sr_channel_name(unsigned channel_bit) {
    /* The first four entries are the canonical names. */
    for (size_t k = 0; k < 4; k++)
        if (channels[k].bit == channel_bit)
            return channels[k].name;
    return NULL;
}

unsigned sr_channel_parse(const char *s) {
    if (!s)
        return 0;
    for (size_t k = 0; k < sizeof channels / sizeof *channels; k++)
        if (strcasecmp(s, channels[k].name) == 0)
            return channels[k].bit;
    return 0;
}

unsigned sr_msg_type_parse(const char *s) {
    static const struct {
        const char *name;
        unsigned bit;
    } types[] = {
        {"POLICY_EVENTS", SR_MT_POLICY_EVENTS},
        {"SECURE_AUDIT", SR_MT_SECURE_AUDIT},
        {"MONITOR_EVENTS", SR_MT_MONITOR_EVENTS},
    };
    if (!s)
        return 0;
    for (size_t k = 0; k < sizeof types / sizeof *types; k++)
        if (strcasecmp(s, types[k].name) == 0)
            return types[k].bit;
    return 0;
}

const char *sr_severity_label(int severity) {
    if (severity >= 0 && severity <= 3)
        return "High";
    if (severity == 4 || severity == 5)
        return "Medium";
    if (severity == 6)
        return "Low";
    if (severity == 7)
        return "Info";
    return NULL;
}

/* The data type of a "type" value given as JSON text (SR_DT_UNKNOWN unless
 * it is a string naming a known type). */
static sr_data_type classify_value(const char *val, uint32_t vlen, uint16_t *channel,
                                   uint16_t *msg_type) {
    if (vlen < 2 || val[0] != '"')
        return sr_event_classify("", 0, channel, msg_type);
    const char *s = val + 1;
    size_t len = vlen - 2;
    if (!memchr(s, '\\', len))
        return sr_event_classify(s, len, channel, msg_type);
    /* Escapes in a type name are legal, if odd: classify the decoded text. */
    sr_buf tmp = SR_BUF_INIT;
    sr_data_type dt = SR_DT_UNKNOWN;
    if (sr_json_unescape(s, len, 0, &tmp) == 0)
        dt = sr_event_classify(tmp.data, tmp.len, channel, msg_type);
    else
        sr_event_classify("", 0, channel, msg_type);
    sr_buf_free(&tmp);
    return dt;
}

static int32_t severity_value(int type, const char *val, uint32_t vlen) {
    int64_t v;
    if (type != SR_JSON_NUMBER || sr_json_to_int64(val, vlen, &v) != 0 || v < 0 || v > 7)
        return SR_SEVERITY_NONE;
    return (int32_t)v;
}

/* ---- Lookup -------------------------------------------------------------- */

static int member_key_is(const char *raw, const sr_json_member *m, const char *key, uint32_t klen) {
    const char *k = raw + m->key_off;
    if (m->key_escaped)
        return sr_json_key_equals(k, m->key_len, key, klen);
    /* The first byte settles most mismatches without a call to memcmp. */
    return m->key_len == klen && (klen == 0 || (k[0] == key[0] && memcmp(k, key, klen) == 0));
}

/* The last member with that key (see the note on duplicates at the top). */
static const sr_json_member *find_member_in(const char *raw, const sr_json_member *members,
                                            uint32_t n, const char *key, uint32_t klen) {
    for (uint32_t k = n; k-- > 0;)
        if (member_key_is(raw, &members[k], key, klen))
            return &members[k];
    return NULL;
}

static const sr_json_member *find_member(const sr_event *ev, const char *key, uint32_t klen) {
    return find_member_in(ev->raw, ev->members, ev->nmembers, key, klen);
}

static sr_event_edit *find_edit(const sr_event *ev, const char *key, uint32_t klen) {
    for (uint32_t k = 0; k < ev->nedits; k++) {
        sr_event_edit *e = &ev->edits[k];
        if (e->key_len == klen &&
            (klen == 0 || (e->key[0] == key[0] && memcmp(e->key, key, klen) == 0)))
            return e;
    }
    return NULL;
}

int sr_event_get(const sr_event *ev, const char *key, uint32_t klen, const char **val,
                 uint32_t *vlen) {
    const sr_event_edit *e = find_edit(ev, key, klen);
    if (e) {
        if (!e->val)
            return -1;
        *val = e->val;
        *vlen = e->val_len;
        return sr_json_type_of((unsigned char)e->val[0]);
    }
    const sr_json_member *m = find_member(ev, key, klen);
    if (!m)
        return -1;
    *val = ev->raw + m->val_off;
    *vlen = m->val_len;
    return m->type;
}

int sr_event_get_text(const sr_event *ev, const char *key, uint32_t klen, const char **val,
                      uint32_t *vlen, int *spaced) {
    const sr_event_edit *e = find_edit(ev, key, klen);
    *spaced = 0;
    if (e)
        return sr_event_get(ev, key, klen, val, vlen);
    const sr_json_member *m = find_member(ev, key, klen);
    if (!m)
        return -1;
    *val = ev->raw + m->val_off;
    *vlen = m->val_len;
    *spaced = m->val_has_ws;
    return m->type;
}

int sr_event_has_field(const sr_event *ev, const char *key, uint32_t klen) {
    return find_edit(ev, key, klen) != NULL || find_member(ev, key, klen) != NULL;
}

/* ---- Parsing ------------------------------------------------------------- */

/* The top-level member index while parsing: on the stack for ordinary
 * events, on the heap for very large ones. */
typedef struct member_index {
    sr_json_member *m;
    int n;
    sr_json_member stack[INDEX_ON_STACK];
} member_index;

static void index_release(member_index *ix) {
    if (ix->m != ix->stack)
        free(ix->m);
    ix->m = ix->stack;
    ix->n = 0;
}

static int index_build(member_index *ix, const char *p, size_t n, int depth, uint32_t max_fields,
                       sr_json_error *err) {
    /* A member takes at least 5 bytes ("":0,), so this many cannot be
     * exceeded and a smaller array only ever overflows at max_fields. */
    size_t bound = n / 5 + 1, cap = max_fields < bound ? max_fields : bound;
    index_release(ix);
    if (cap > INDEX_ON_STACK) {
        ix->m = malloc(cap * sizeof *ix->m);
        if (!ix->m) {
            ix->m = ix->stack;
            err->offset = 0;
            snprintf(err->msg, sizeof err->msg, "out of memory");
            return -1;
        }
    }
    ix->n = sr_json_index_object(p, n, depth, ix->m, cap, err);
    return ix->n < 0 ? -1 : 0;
}

static const sr_json_member *index_find(const member_index *ix, const char *doc, const char *key,
                                        uint32_t klen) {
    return find_member_in(doc, ix->m, (uint32_t)ix->n, key, klen);
}

static int parse_error(sr_json_error *err, size_t off, const char *msg) {
    err->offset = off;
    snprintf(err->msg, sizeof err->msg, "%s", msg);
    return -1;
}

/* Classifies from the "type" member of `doc` into ev; errors name the
 * problem. */
static int classify_event(sr_event *ev, const char *doc, const sr_json_member *t,
                          sr_json_error *err) {
    if (!t)
        return parse_error(err, 0, "missing \"type\" field");
    if (t->type != SR_JSON_STRING)
        return parse_error(err, t->val_off, "\"type\" must be a string");
    const char *val = doc + t->val_off;
    ev->data_type = (uint8_t)classify_value(val, t->val_len, &ev->channel, &ev->msg_type);
    if (ev->data_type == SR_DT_UNKNOWN) {
        err->offset = t->val_off;
        int len = t->val_len - 2 > 60 ? 60 : (int)t->val_len - 2;
        snprintf(err->msg, sizeof err->msg, "unknown event type '%.*s'", len, val + 1);
        return -1;
    }
    return 0;
}

/* Copies the document and its index into the arena and fills ev. */
static int adopt(sr_event *ev, sr_arena *arena, const char *p, size_t n, const member_index *ix,
                 sr_json_error *err) {
    char *raw = sr_arena_memdup(arena, p, n);
    sr_json_member *members = ix->n ? sr_arena_alloc(arena, (size_t)ix->n * sizeof *members) : NULL;
    if (!raw || (ix->n && !members))
        return parse_error(err, 0, "out of memory");
    if (ix->n)
        memcpy(members, ix->m, (size_t)ix->n * sizeof *members);
    ev->raw = raw;
    ev->raw_len = (uint32_t)n;
    ev->members = members;
    ev->nmembers = (uint32_t)ix->n;
    ev->arena = arena;
    return 0;
}

static int is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

int sr_event_parse(sr_event *ev, sr_arena *arena, const char *p, size_t n,
                   const sr_event_limits *limits, sr_json_error *err) {
    int depth = limits && limits->max_depth > 0 ? limits->max_depth : SR_JSON_DEFAULT_MAX_DEPTH;
    uint32_t max_fields =
        limits && limits->max_fields > 0 ? limits->max_fields : DEFAULT_MAX_FIELDS;
    size_t base = 0;
    while (base < n && is_ws(p[base]))
        base++;
    while (n > base && is_ws(p[n - 1]))
        n--;
    const char *doc = p + base;
    size_t len = n - base;

    member_index ix; /* not zero-initialised: its stack array is 10 KB */
    ix.m = ix.stack;
    ix.n = 0;
    sr_buf falco = SR_BUF_INIT;
    const sr_json_member *severity;
    int rc = -1, normalised = 0;
    memset(ev, 0, sizeof *ev);

    if (index_build(&ix, doc, len, depth, max_fields, err) != 0)
        goto fail;
    if (!index_find(&ix, doc, "type", 4) && sr_falco_detect(doc, len)) {
        if (sr_falco_normalize(doc, len, &falco, err) != 0)
            goto fail;
        normalised = 1;
        doc = falco.data;
        len = falco.len;
        if (index_build(&ix, doc, len, depth, max_fields, err) != 0)
            goto fail;
        ev->flags |= SR_EV_FALCO;
    }
    /* Classify first: a rejected event takes nothing from the arena. */
    if (classify_event(ev, doc, index_find(&ix, doc, "type", 4), err) != 0)
        goto fail;
    severity = index_find(&ix, doc, "severity", 8);
    ev->severity = severity
                       ? severity_value(severity->type, doc + severity->val_off, severity->val_len)
                       : SR_SEVERITY_NONE;
    if (adopt(ev, arena, doc, len, &ix, err) != 0)
        goto fail;
    rc = 0;

fail:
    if (rc != 0) {
        /* Offsets into a normalised document mean nothing to the sender. */
        err->offset = normalised ? base : base + err->offset;
        memset(ev, 0, sizeof *ev);
    }
    index_release(&ix);
    sr_buf_free(&falco);
    return rc;
}

/* ---- Edits --------------------------------------------------------------- */

static int grow_edits(sr_event *ev) {
    uint32_t cap = ev->edits_cap ? ev->edits_cap * 2 : 8;
    sr_event_edit *e = sr_arena_alloc(ev->arena, cap * sizeof *e);
    if (!e)
        return -1;
    if (ev->nedits)
        memcpy(e, ev->edits, ev->nedits * sizeof *e);
    ev->edits = e;
    ev->edits_cap = cap;
    return 0;
}

static int key_is(const char *key, uint32_t klen, const char *name) {
    size_t n = strlen(name);
    return klen == n && memcmp(key, name, n) == 0;
}

/* Keeps severity and classification in step with "severity" and "type". */
static void rederive(sr_event *ev, const char *key, uint32_t klen) {
    const char *val;
    uint32_t vlen;
    if (key_is(key, klen, "severity")) {
        int type = sr_event_get(ev, key, klen, &val, &vlen);
        ev->severity = type < 0 ? SR_SEVERITY_NONE : severity_value(type, val, vlen);
    } else if (key_is(key, klen, "type")) {
        if (sr_event_get(ev, key, klen, &val, &vlen) < 0) {
            val = "";
            vlen = 0;
        }
        ev->data_type = (uint8_t)classify_value(val, vlen, &ev->channel, &ev->msg_type);
    }
}

/* Records `val` (arena-owned JSON text, or NULL to delete) for `key`. */
static int put_edit(sr_event *ev, const char *key, uint32_t klen, const char *val, uint32_t vlen) {
    sr_event_edit *e = find_edit(ev, key, klen);
    if (!e) {
        if (ev->nedits == ev->edits_cap && grow_edits(ev) != 0)
            return -1;
        char *k = sr_arena_memdup(ev->arena, key, klen);
        if (!k)
            return -1;
        e = &ev->edits[ev->nedits++];
        e->key = k;
        e->key_len = klen;
    }
    e->val = val;
    e->val_len = vlen;
    rederive(ev, key, klen);
    return 0;
}

/* Whether JSON text may hold whitespace outside strings (conservative: a
 * space inside a string also says yes, and compaction leaves it alone). */
static int may_have_ws(const char *p, uint32_t n) {
    if (n && p[0] == '"')
        return 0;
    for (uint32_t k = 0; k < n; k++)
        if (is_ws(p[k]))
            return 1;
    return 0;
}

int sr_event_value_copy(sr_arena *arena, const char *val, uint32_t vlen, const char **out,
                        uint32_t *olen) {
    while (vlen && is_ws(val[0])) {
        val++;
        vlen--;
    }
    while (vlen && is_ws(val[vlen - 1]))
        vlen--;
    if (vlen == 0)
        return -1;
    char *copy;
    if (may_have_ws(val, vlen)) {
        /* Records are single-line JSON: store the value compacted. */
        sr_buf tmp = SR_BUF_INIT;
        copy = sr_json_compact(val, vlen, &tmp) == 0 ? sr_arena_memdup(arena, tmp.data, tmp.len)
                                                     : NULL;
        vlen = (uint32_t)tmp.len;
        sr_buf_free(&tmp);
    } else {
        copy = sr_arena_memdup(arena, val, vlen);
    }
    if (!copy)
        return -1;
    *out = copy;
    *olen = vlen;
    return 0;
}

int sr_event_set(sr_event *ev, const char *key, uint32_t klen, const char *val, uint32_t vlen) {
    const char *copy;
    if (sr_event_value_copy(ev->arena, val, vlen, &copy, &vlen) != 0)
        return -1;
    return put_edit(ev, key, klen, copy, vlen);
}

int sr_event_set_owned(sr_event *ev, const char *key, uint32_t klen, const char *val,
                       uint32_t vlen) {
    return put_edit(ev, key, klen, val, vlen);
}

/* Also for bytes that are not UTF-8 (a script's string cut mid-character):
 * sr_buf_json_string writes those as U+FFFD, so the event stays JSON. */
static int needs_escape(const char *s, uint32_t n) {
    for (uint32_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c < 0x20 || c == '"' || c == '\\')
            return 1;
        if (c >= 0x80) {
            size_t len = sr_utf8_seq_len((const unsigned char *)s + k, n - k);
            if (len == 0)
                return 1;
            k += (uint32_t)len - 1;
        }
    }
    return 0;
}

int sr_event_string_value(sr_arena *arena, const char *s, uint32_t slen, const char **out,
                          uint32_t *olen) {
    char *copy;
    uint32_t len;
    if (!needs_escape(s, slen)) {
        len = slen + 2;
        copy = sr_arena_alloc(arena, len);
        if (!copy)
            return -1;
        copy[0] = '"';
        if (slen)
            memcpy(copy + 1, s, slen);
        copy[len - 1] = '"';
    } else {
        sr_buf tmp = SR_BUF_INIT;
        copy = sr_buf_json_string(&tmp, s, slen) == 0 ? sr_arena_memdup(arena, tmp.data, tmp.len)
                                                      : NULL;
        len = (uint32_t)tmp.len;
        sr_buf_free(&tmp);
        if (!copy)
            return -1;
    }
    *out = copy;
    *olen = len;
    return 0;
}

int sr_event_set_string(sr_event *ev, const char *key, uint32_t klen, const char *s,
                        uint32_t slen) {
    const char *val;
    uint32_t len;
    if (sr_event_string_value(ev->arena, s, slen, &val, &len) != 0)
        return -1;
    return put_edit(ev, key, klen, val, len);
}

int sr_event_set_int(sr_event *ev, const char *key, uint32_t klen, int64_t v) {
    char text[24];
    int len = snprintf(text, sizeof text, "%" PRId64, v);
    char *copy = sr_arena_memdup(ev->arena, text, (size_t)len);
    if (!copy)
        return -1;
    return put_edit(ev, key, klen, copy, (uint32_t)len);
}

int sr_event_delete(sr_event *ev, const char *key, uint32_t klen) {
    return put_edit(ev, key, klen, NULL, 0);
}

void sr_event_drop(sr_event *ev) { ev->flags |= SR_EV_DROPPED; }

int sr_event_fork(sr_event *dst, const sr_event *src, sr_arena *arena) {
    sr_event copy = *src;
    copy.arena = arena;
    copy.edits = NULL;
    copy.edits_cap = 0;
    if (src->nedits) {
        copy.edits = sr_arena_alloc(arena, src->nedits * sizeof *copy.edits);
        if (!copy.edits)
            return -1;
        memcpy(copy.edits, src->edits, src->nedits * sizeof *copy.edits);
        copy.edits_cap = src->nedits;
    }
    *dst = copy;
    return 0;
}

/* ---- Writing ------------------------------------------------------------- */

/* True when raw is already `{"k":v,...}` with no whitespace anywhere
 * outside strings, so it can be copied out as is. */
static int is_compact(const sr_event *ev) {
    size_t len = ev->nmembers ? 1 + ev->nmembers : 2; /* braces and commas */
    for (uint32_t k = 0; k < ev->nmembers; k++) {
        const sr_json_member *m = &ev->members[k];
        if (m->val_has_ws)
            return 0;
        len += (size_t)m->key_len + 3 + m->val_len; /* "key": */
    }
    return len == ev->raw_len;
}

static const sr_event_edit *edit_for(const sr_event *ev, const sr_json_member *m) {
    for (uint32_t k = 0; k < ev->nedits; k++)
        if (member_key_is(ev->raw, m, ev->edits[k].key, ev->edits[k].key_len))
            return &ev->edits[k];
    return NULL;
}

static int put_member(sr_buf *out, const sr_event *ev, const sr_json_member *m,
                      const sr_event_edit *e) {
    int rc = 0;
    /* The original key bytes, quotes included, escapes as sent. */
    rc |= sr_buf_append(out, ev->raw + m->key_off - 1, m->key_len + 2);
    rc |= sr_buf_putc(out, ':');
    if (e)
        rc |= sr_buf_append(out, e->val, e->val_len);
    else if (m->val_has_ws)
        rc |= sr_json_compact(ev->raw + m->val_off, m->val_len, out);
    else
        rc |= sr_buf_append(out, ev->raw + m->val_off, m->val_len);
    return rc;
}

/* Fields an edit adds (keys the raw object lacks), in the order they were
 * first set, each after a comma unless it is the object's first member.
 * `all_new`: the caller knows no edit names a raw member. */
static int put_new_fields(const sr_event *ev, sr_buf *out, int first, int all_new) {
    int rc = 0;
    for (uint32_t k = 0; k < ev->nedits; k++) {
        const sr_event_edit *e = &ev->edits[k];
        if (!e->val || (!all_new && find_member(ev, e->key, e->key_len)))
            continue;
        if (!first)
            rc |= sr_buf_putc(out, ',');
        first = 0;
        rc |= sr_buf_json_string(out, e->key, e->key_len);
        rc |= sr_buf_putc(out, ':');
        rc |= sr_buf_append(out, e->val, e->val_len);
    }
    return rc;
}

/* Whether the edits only add fields (or delete absent ones) to a compact
 * event: the usual shape of a site script's work. */
static int only_additions(const sr_event *ev) {
    for (uint32_t k = 0; k < ev->nedits; k++)
        if (find_member(ev, ev->edits[k].key, ev->edits[k].key_len))
            return 0;
    return is_compact(ev);
}

/* Whether no edit deletes a raw member of a compact event: then the
 * event is its raw text with the edited values spliced in (the usual
 * shape once a script changes an existing field, nested edits included). */
static int no_deletions(const sr_event *ev) {
    for (uint32_t k = 0; k < ev->nedits; k++)
        if (!ev->edits[k].val && find_member(ev, ev->edits[k].key, ev->edits[k].key_len))
            return 0;
    return is_compact(ev);
}

/* The raw text between edited values copied in spans, each edited value
 * (every occurrence of its key) in place, then the new fields. */
static int write_spliced(const sr_event *ev, sr_buf *out) {
    int rc = 0;
    size_t pos = 0;
    for (uint32_t k = 0; k < ev->nmembers; k++) {
        const sr_json_member *m = &ev->members[k];
        const sr_event_edit *e = edit_for(ev, m);
        if (!e)
            continue;
        rc |= sr_buf_append(out, ev->raw + pos, m->val_off - pos);
        rc |= sr_buf_append(out, e->val, e->val_len);
        pos = (size_t)m->val_off + m->val_len;
    }
    rc |= sr_buf_append(out, ev->raw + pos, ev->raw_len - 1 - pos);
    rc |= put_new_fields(ev, out, ev->nmembers == 0, 0);
    rc |= sr_buf_putc(out, '}');
    return rc;
}

static int write_edited(const sr_event *ev, sr_buf *out) {
    int rc = 0, first = 1;
    rc |= sr_buf_reserve(out, ev->raw_len + 2);
    if (only_additions(ev)) {
        /* The raw text up to its closing brace, then the new fields: no
         * need to take the members apart. */
        rc |= sr_buf_append(out, ev->raw, ev->raw_len - 1);
        rc |= put_new_fields(ev, out, ev->nmembers == 0, 1);
        rc |= sr_buf_putc(out, '}');
        return rc;
    }
    if (no_deletions(ev))
        return rc | write_spliced(ev, out);
    rc |= sr_buf_putc(out, '{');
    for (uint32_t k = 0; k < ev->nmembers; k++) {
        const sr_json_member *m = &ev->members[k];
        const sr_event_edit *e = edit_for(ev, m);
        if (e && !e->val)
            continue;
        if (!first)
            rc |= sr_buf_putc(out, ',');
        first = 0;
        rc |= put_member(out, ev, m, e);
    }
    rc |= put_new_fields(ev, out, first, 0);
    rc |= sr_buf_putc(out, '}');
    return rc;
}

int sr_event_write(const sr_event *ev, sr_buf *out) {
    size_t start = out->len;
    int rc;
    if (ev->nedits == 0)
        rc = is_compact(ev) ? sr_buf_append(out, ev->raw, ev->raw_len)
                            : sr_json_compact(ev->raw, ev->raw_len, out);
    else
        rc = write_edited(ev, out);
    if (rc != 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return -1;
    }
    return 0;
}
