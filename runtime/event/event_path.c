/* event_path.c - paths into an event's nested values, and nested edits
 * spliced into the text of the top-level field they lie under.
 *
 * Every edit works on the compact text of one top-level field (the edited
 * value, or the original bytes, compacted first if the event arrived
 * pretty-printed). A walk finds the byte range of the target; the new text
 * is the old one with that range replaced, so whatever the edit does not
 * name is copied byte for byte. Work that needs several splices (removing
 * duplicate keys) does one splice per pass and walks again. */
#include "event_path.h"

#include <stdio.h>
#include <string.h>

/* A value inside the text being edited: absolute offsets and its type. */
typedef struct cursor {
    uint32_t off, len;
    int type;
} cursor;

/* The text being edited: borrowed (raw bytes or an edit) until the first
 * splice, then a copy in the event's arena, where the edit keeps it. */
typedef struct work {
    const char *p;
    uint32_t n;
    int owned; /* p is in the arena: commit stores it as is */
    sr_arena *arena;
    sr_buf spaced; /* the compacted text of a field that arrived pretty-printed */
} work;

static const char *type_name(int type) {
    switch (type) {
    case SR_JSON_NULL: return "null";
    case SR_JSON_FALSE:
    case SR_JSON_TRUE: return "boolean";
    case SR_JSON_NUMBER: return "number";
    case SR_JSON_STRING: return "string";
    case SR_JSON_ARRAY: return "array";
    default: return "object";
    }
}

/* A key written bare in a path when nothing in it needs brackets. */
static int bare_key(const char *k, uint32_t n) {
    if (n == 0)
        return 0;
    for (uint32_t i = 0; i < n; i++)
        if (k[i] == '.' || k[i] == '[' || k[i] == ']' || k[i] == '"' || k[i] == '\'' ||
            k[i] == '\\')
            return 0;
    return 1;
}

/* The first `n` segments in path syntax, for messages (cut to fit). */
static void path_text(const char *const *keys, const uint32_t *lens, uint32_t n, char *out,
                      size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    for (uint32_t k = 0; k < n && len + 1 < cap; k++) {
        int w;
        if (!keys[k])
            w = snprintf(out + len, cap - len, "[%u]", lens[k]);
        else if (bare_key(keys[k], lens[k]))
            w = snprintf(out + len, cap - len, "%s%.*s", k ? "." : "", (int)lens[k], keys[k]);
        else
            w = snprintf(out + len, cap - len, "[\"%.*s\"]", (int)lens[k], keys[k]);
        if (w < 0)
            break;
        len += (size_t)w;
        if (len >= cap)
            len = cap - 1;
    }
}

static int fail(sr_json_error *err, uint32_t seg, const char *const *keys, const uint32_t *lens,
                uint32_t upto, const char *what) {
    char path[72];
    path_text(keys, lens, upto, path, sizeof path);
    err->offset = seg;
    snprintf(err->msg, sizeof err->msg, "'%s' %s", path, what);
    return -1;
}

static int fail_type(sr_json_error *err, uint32_t seg, const char *const *keys,
                     const uint32_t *lens, int type, const char *want) {
    char what[48];
    snprintf(what, sizeof what, "is %s %s, not %s",
             type == SR_JSON_ARRAY || type == SR_JSON_OBJECT ? "an" : "a", type_name(type), want);
    return fail(err, seg, keys, lens, seg, what);
}

static int oom(sr_json_error *err) {
    err->offset = 0;
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return -1;
}

/* ---- Path syntax ---------------------------------------------------------- */

static int parse_error(sr_json_error *err, size_t at, const char *msg) {
    err->offset = at;
    snprintf(err->msg, sizeof err->msg, "%s", msg);
    return -1;
}

int sr_event_path_parse(const char *s, size_t n, const char **keys, uint32_t *lens, uint32_t max,
                        char *store, sr_json_error *err) {
    size_t i = 0, used = 0;
    uint32_t count = 0;
    if (n == 0)
        return parse_error(err, 0, "empty path");
    while (i < n) {
        if (count == max)
            return parse_error(err, i, "too many segments");
        if (s[i] == '[') {
            size_t j = i + 1;
            if (j < n && (s[j] == '"' || s[j] == '\'')) {
                char q = s[j++];
                char *k = store + used;
                size_t kl = 0;
                while (j < n && s[j] != q) {
                    if (s[j] == '\\' && j + 1 < n)
                        j++;
                    k[kl++] = s[j++];
                }
                if (j + 1 >= n || s[j + 1] != ']')
                    return parse_error(err, i, "unterminated quoted key (expected '\"key\"]')");
                keys[count] = k;
                lens[count++] = (uint32_t)kl;
                used += kl;
                i = j + 2;
            } else {
                uint64_t v = 0;
                size_t d = j;
                while (j < n && s[j] >= '0' && s[j] <= '9' && v <= UINT32_MAX)
                    v = v * 10 + (uint64_t)(s[j++] - '0');
                if (j == d || j >= n || s[j] != ']' || v > UINT32_MAX)
                    return parse_error(err, i, "expected an index or a quoted key in brackets");
                if (count == 0)
                    return parse_error(err, i, "a path starts with a key (an event is an object)");
                keys[count] = NULL;
                lens[count++] = (uint32_t)v;
                i = j + 1;
            }
        } else {
            if (count > 0) {
                if (s[i] != '.')
                    return parse_error(err, i, "expected '.' or '[' between segments");
                i++;
            }
            size_t j = i;
            while (j < n && s[j] != '.' && s[j] != '[' && s[j] != ']')
                j++;
            if (j == i)
                return parse_error(err, i, "empty key (use [\"\"] for an empty key)");
            keys[count] = s + i;
            lens[count++] = (uint32_t)(j - i);
            i = j;
        }
    }
    return (int)count;
}

/* ---- Walking -------------------------------------------------------------- */

static int key_matches(const char *p, const sr_json_member *m, const char *key, uint32_t klen) {
    const char *k = p + m->key_off;
    if (m->key_escaped)
        return sr_json_key_equals(k, m->key_len, key, klen);
    return m->key_len == klen && memcmp(k, key, klen) == 0;
}

/* Offsets relative to the document rather than to the container at `base`
 * (array elements have no key: key_off stays 0). */
static void absolute(sr_json_member *m, uint32_t base) {
    if (m->key_off)
        m->key_off += base;
    m->val_off += base;
}

/* Occurrences of `key` in the object at c; *first and *last (absolute)
 * when there is at least one. */
static uint32_t object_find(const char *p, cursor c, const char *key, uint32_t klen,
                            sr_json_member *first, sr_json_member *last) {
    const char *o = p + c.off;
    size_t pos = 0;
    sr_json_member m;
    uint32_t count = 0;
    while (sr_json_object_next(o, c.len, &pos, &m)) {
        if (!key_matches(o, &m, key, klen))
            continue;
        absolute(&m, c.off);
        if (count++ == 0)
            *first = m;
        *last = m;
    }
    return count;
}

/* Element `idx` of the array at c (1, *m absolute), else 0 and the array's
 * length in *count. */
static int array_find(const char *p, cursor c, uint32_t idx, sr_json_member *m, uint32_t *count) {
    const char *a = p + c.off;
    size_t pos = 0;
    uint32_t k = 0;
    while (sr_json_array_next(a, c.len, &pos, m)) {
        if (k++ == idx) {
            absolute(m, c.off);
            return 1;
        }
    }
    *count = k;
    return 0;
}

enum { STEP_FOUND = 1, STEP_MISSING = 0, STEP_TYPE = -1 };

/* One segment down from c: STEP_FOUND (and *m), STEP_MISSING or STEP_TYPE
 * (c is not the container the segment needs). */
static int step(const char *p, cursor c, const char *key, uint32_t len, sr_json_member *m) {
    sr_json_member first;
    uint32_t count;
    if (key) {
        if (c.type != SR_JSON_OBJECT)
            return STEP_TYPE;
        return object_find(p, c, key, len, &first, m) ? STEP_FOUND : STEP_MISSING;
    }
    if (c.type != SR_JSON_ARRAY)
        return STEP_TYPE;
    return array_find(p, c, len, m, &count) ? STEP_FOUND : STEP_MISSING;
}

static cursor value_of(const sr_json_member *m) {
    return (cursor){m->val_off, m->val_len, m->type};
}

/* Walks segments 1 .. upto-1 from the top-level value `top`: *c is the
 * value segment upto-1 names. Returns STEP_FOUND, or the failing step's
 * result with *at = the segment that failed and *c its container. */
static int walk(const char *p, cursor top, const char *const *keys, const uint32_t *lens,
                uint32_t upto, cursor *c, uint32_t *at) {
    *c = top;
    for (uint32_t k = 1; k < upto; k++) {
        sr_json_member m;
        int r = step(p, *c, keys[k], lens[k], &m);
        if (r != STEP_FOUND) {
            *at = k;
            return r;
        }
        *c = value_of(&m);
    }
    return STEP_FOUND;
}

int sr_event_get_path(const sr_event *ev, const char *const *keys, const uint32_t *lens, uint32_t n,
                      const char **val, uint32_t *vlen) {
    const char *v;
    uint32_t vl, at;
    if (n == 0 || !keys[0])
        return -1;
    int type = sr_event_get(ev, keys[0], lens[0], &v, &vl);
    if (type < 0)
        return -1;
    cursor c;
    if (walk(v, (cursor){0, vl, type}, keys, lens, n, &c, &at) != STEP_FOUND)
        return -1;
    *val = v + c.off;
    *vlen = c.len;
    return c.type;
}

/* ---- Splicing ------------------------------------------------------------- */

/* Loads the compact text of top-level field keys[0] into w; -1 when the
 * field is absent (w then holds `{}` for a set to build on), -2 when out
 * of memory. */
static int load(sr_event *ev, const char *const *keys, const uint32_t *lens, work *w, int *type) {
    const char *v;
    uint32_t vl;
    int spaced;
    memset(w, 0, sizeof *w);
    w->arena = ev->arena;
    *type = sr_event_get_text(ev, keys[0], lens[0], &v, &vl, &spaced);
    if (*type < 0) {
        w->p = "{}";
        w->n = 2;
        *type = SR_JSON_OBJECT;
        return -1;
    }
    if (spaced) {
        if (sr_json_compact(v, vl, &w->spaced) != 0)
            return -2;
        v = w->spaced.data;
        vl = (uint32_t)w->spaced.len;
    }
    w->p = v;
    w->n = vl;
    return 0;
}

static void work_free(work *w) { sr_buf_free(&w->spaced); }

/* w's text with [a, b) replaced by x then y, in the arena. Passes that
 * remove duplicates leave their intermediate texts there: they are rare,
 * and the arena goes with the batch. */
static int splice(work *w, uint32_t a, uint32_t b, const char *x, uint32_t xn, const char *y,
                  uint32_t yn) {
    uint32_t n = w->n - (b - a) + xn + yn;
    char *out = sr_arena_alloc(w->arena, n ? n : 1);
    if (!out)
        return -1;
    memcpy(out, w->p, a);
    memcpy(out + a, x, xn);
    memcpy(out + a + xn, y, yn);
    memcpy(out + a + xn + yn, w->p + b, w->n - b);
    w->p = out;
    w->n = n;
    w->owned = 1;
    return 0;
}

/* Removes the member (or element) spanning [s, e) of compact text, with
 * the comma that separates it from a neighbour. */
static int splice_out(work *w, uint32_t s, uint32_t e) {
    if (e < w->n && w->p[e] == ',')
        e++;
    else if (w->p[s - 1] == ',')
        s--;
    return splice(w, s, e, "", 0, "", 0);
}

static uint32_t member_start(const sr_json_member *m) {
    return m->key_off ? m->key_off - 1 : m->val_off; /* the key's quote */
}

/* Stores w's text as the new value of top-level field keys[0]. */
static int commit(sr_event *ev, const char *const *keys, const uint32_t *lens, work *w) {
    const char *text = w->owned ? w->p : sr_arena_memdup(ev->arena, w->p, w->n);
    if (!text)
        return -1;
    return sr_event_set_owned(ev, keys[0], lens[0], text, w->n);
}

/* `"k1":{"k2":...{"kn":` for keys[from..n-1] into b; the caller closes
 * the n-from-1 objects opened. Index segments cannot be created. */
static int chain_open(sr_buf *b, const char *const *keys, const uint32_t *lens, uint32_t from,
                      uint32_t n) {
    for (uint32_t k = from; k < n; k++) {
        if (k > from && sr_buf_putc(b, '{') != 0)
            return -1;
        if (sr_buf_json_string(b, keys[k], lens[k]) != 0 || sr_buf_putc(b, ':') != 0)
            return -1;
    }
    return 0;
}

/* Inserts keys[from..n-1] = val as a new member at the end of the object at c. */
static int insert_chain(work *w, cursor c, const char *const *keys, const uint32_t *lens,
                        uint32_t from, uint32_t n, const char *val, uint32_t vlen) {
    sr_buf b = SR_BUF_INIT;
    int rc = -1;
    if (c.len > 2 && sr_buf_putc(&b, ',') != 0)
        goto fail;
    if (chain_open(&b, keys, lens, from, n) != 0 || sr_buf_append(&b, val, vlen) != 0)
        goto fail;
    for (uint32_t k = from + 1; k < n; k++)
        if (sr_buf_putc(&b, '}') != 0)
            goto fail;
    rc = splice(w, c.off + c.len - 1, c.off + c.len - 1, b.data, (uint32_t)b.len, "", 0);
fail:
    sr_buf_free(&b);
    return rc;
}

/* The value text of an edit, compacted into the arena when it may hold
 * whitespace outside strings (a string token cannot). */
static int prepare_value(sr_event *ev, const char **val, uint32_t *vlen) {
    const char *v = *val;
    uint32_t n = *vlen;
    if (n > 0 && v[0] == '"' && v[n - 1] == '"')
        return 0;
    for (uint32_t i = 0; i < n; i++)
        if (v[i] == ' ' || v[i] == '\n' || v[i] == '\r' || v[i] == '\t')
            return sr_event_value_copy(ev->arena, v, n, val, vlen);
    return n > 0 ? 0 : -1;
}

/* One pass of a set: either the final splice (returns 1) or the removal of
 * one earlier duplicate (returns 0: walk again). */
static int set_pass(work *w, cursor top, const char *const *keys, const uint32_t *lens, uint32_t n,
                    const char *val, uint32_t vlen, sr_json_error *err) {
    cursor c;
    uint32_t at;
    int r = walk(w->p, top, keys, lens, n - 1, &c, &at);
    if (r == STEP_TYPE)
        return fail_type(err, at, keys, lens, c.type, keys[at] ? "an object" : "an array");
    if (r == STEP_MISSING) {
        for (uint32_t k = at; k < n; k++)
            if (!keys[k])
                return fail(err, at, keys, lens, at + 1, "does not exist (arrays are not created)");
        return insert_chain(w, c, keys, lens, at, n, val, vlen) == 0 ? 1 : oom(err);
    }
    const char *key = keys[n - 1];
    uint32_t len = lens[n - 1];
    sr_json_member first, last;
    if (key) {
        if (c.type != SR_JSON_OBJECT)
            return fail_type(err, n - 1, keys, lens, c.type, "an object");
        uint32_t count = object_find(w->p, c, key, len, &first, &last);
        if (count > 1)
            return splice_out(w, member_start(&first), first.val_off + first.val_len) == 0
                       ? 0
                       : oom(err);
        if (count == 0)
            return insert_chain(w, c, keys, lens, n - 1, n, val, vlen) == 0 ? 1 : oom(err);
    } else {
        uint32_t count = 0;
        if (c.type != SR_JSON_ARRAY)
            return fail_type(err, n - 1, keys, lens, c.type, "an array");
        if (!array_find(w->p, c, len, &last, &count)) {
            if (len != count) {
                char what[64];
                snprintf(what, sizeof what, "is out of range (%u elements)", count);
                return fail(err, n - 1, keys, lens, n, what);
            }
            uint32_t end = c.off + c.len - 1;
            return splice(w, end, end, count ? "," : "", count ? 1 : 0, val, vlen) == 0 ? 1
                                                                                        : oom(err);
        }
    }
    return splice(w, last.val_off, last.val_off + last.val_len, val, vlen, "", 0) == 0 ? 1
                                                                                       : oom(err);
}

static int check_path(const char *const *keys, uint32_t n, sr_json_error *err) {
    if (n == 0 || n > SR_EVENT_PATH_MAX) {
        err->offset = 0;
        snprintf(err->msg, sizeof err->msg, "a path has 1 to %d segments", SR_EVENT_PATH_MAX);
        return -1;
    }
    if (!keys[0]) {
        err->offset = 0;
        snprintf(err->msg, sizeof err->msg, "a path starts with a key (an event is an object)");
        return -1;
    }
    return 0;
}

int sr_event_set_path(sr_event *ev, const char *const *keys, const uint32_t *lens, uint32_t n,
                      const char *val, uint32_t vlen, sr_json_error *err) {
    if (check_path(keys, n, err) != 0)
        return -1;
    if (vlen == 0) {
        err->offset = n - 1;
        snprintf(err->msg, sizeof err->msg, "the value is empty, not JSON");
        return -1;
    }
    if (n == 1)
        return sr_event_set(ev, keys[0], lens[0], val, vlen) == 0 ? 0 : oom(err);
    if (prepare_value(ev, &val, &vlen) != 0)
        return oom(err);
    work w;
    int type, r = 0;
    if (load(ev, keys, lens, &w, &type) == -2) {
        work_free(&w);
        return oom(err);
    }
    while (r == 0)
        r = set_pass(&w, (cursor){0, w.n, type}, keys, lens, n, val, vlen, err);
    if (r == 1 && commit(ev, keys, lens, &w) != 0)
        r = oom(err);
    work_free(&w);
    return r == 1 ? 0 : -1;
}

/* One pass of a delete: 0 when it removed an occurrence (walk again for a
 * duplicate), 1 when nothing is left to remove, -1 on error. */
static int delete_pass(work *w, cursor top, const char *const *keys, const uint32_t *lens,
                       uint32_t n, sr_json_error *err) {
    cursor c;
    uint32_t at;
    sr_json_member m;
    int r = walk(w->p, top, keys, lens, n - 1, &c, &at);
    if (r == STEP_TYPE)
        return fail_type(err, at, keys, lens, c.type, keys[at] ? "an object" : "an array");
    if (r == STEP_MISSING)
        return 1;
    r = step(w->p, c, keys[n - 1], lens[n - 1], &m);
    if (r == STEP_TYPE)
        return fail_type(err, n - 1, keys, lens, c.type, keys[n - 1] ? "an object" : "an array");
    if (r == STEP_MISSING)
        return 1;
    return splice_out(w, member_start(&m), m.val_off + m.val_len) == 0 ? 0 : oom(err);
}

int sr_event_set_path_string(sr_event *ev, const char *const *keys, const uint32_t *lens,
                             uint32_t n, const char *s, uint32_t slen, sr_json_error *err) {
    const char *val;
    uint32_t vlen;
    if (sr_event_string_value(ev->arena, s, slen, &val, &vlen) != 0)
        return oom(err);
    return sr_event_set_path(ev, keys, lens, n, val, vlen, err);
}

int sr_event_delete_path(sr_event *ev, const char *const *keys, const uint32_t *lens, uint32_t n,
                         sr_json_error *err) {
    if (check_path(keys, n, err) != 0)
        return -1;
    if (n == 1) {
        int had = sr_event_get(ev, keys[0], lens[0], &(const char *){0}, &(uint32_t){0}) >= 0;
        if (sr_event_delete(ev, keys[0], lens[0]) != 0)
            return oom(err);
        return had;
    }
    work w;
    int type, r = 0, removed = 0;
    int loaded = load(ev, keys, lens, &w, &type);
    if (loaded == -1) {
        work_free(&w);
        return 0;
    }
    if (loaded == -2)
        r = oom(err);
    while (r == 0) {
        r = delete_pass(&w, (cursor){0, w.n, type}, keys, lens, n, err);
        if (r == 0) {
            removed = 1;
            if (!keys[n - 1])
                r = 1; /* an index names one element: the next one moved into its place */
        }
    }
    if (r == 1 && removed && commit(ev, keys, lens, &w) != 0)
        r = oom(err);
    work_free(&w);
    return r == 1 ? removed : -1;
}

/* ---- Renaming ------------------------------------------------------------- */

static int same_parent(const char *const *fk, const uint32_t *fl, uint32_t fn,
                       const char *const *tk, const uint32_t *tl, uint32_t tn) {
    if (fn != tn || fn < 2 || !fk[fn - 1] || !tk[tn - 1])
        return 0;
    for (uint32_t k = 0; k + 1 < fn; k++) {
        if ((fk[k] == NULL) != (tk[k] == NULL) || fl[k] != tl[k])
            return 0;
        if (fk[k] && memcmp(fk[k], tk[k], fl[k]) != 0)
            return 0;
    }
    return 1;
}

/* One pass of an in-place rename: removes a member named `to` or an
 * earlier duplicate of `from` (0: walk again), or rewrites the key (1). */
static int rename_pass(work *w, cursor top, const char *const *keys, const uint32_t *lens,
                       uint32_t n, const char *to, uint32_t tolen, sr_json_error *err) {
    cursor c;
    uint32_t at;
    sr_json_member first, last;
    int r = walk(w->p, top, keys, lens, n - 1, &c, &at);
    if (r == STEP_TYPE)
        return fail_type(err, at, keys, lens, c.type, keys[at] ? "an object" : "an array");
    if (r == STEP_MISSING || c.type != SR_JSON_OBJECT ||
        object_find(w->p, c, keys[n - 1], lens[n - 1], &first, &last) == 0) {
        if (r == STEP_FOUND && c.type != SR_JSON_OBJECT)
            return fail_type(err, n - 1, keys, lens, c.type, "an object");
        return fail(err, n - 1, keys, lens, n, "does not exist");
    }
    uint32_t dups = object_find(w->p, c, keys[n - 1], lens[n - 1], &first, &last);
    sr_json_member tf, tlast;
    if (object_find(w->p, c, to, tolen, &tf, &tlast) > 0)
        return splice_out(w, member_start(&tf), tf.val_off + tf.val_len) == 0 ? 0 : oom(err);
    if (dups > 1)
        return splice_out(w, member_start(&first), first.val_off + first.val_len) == 0 ? 0
                                                                                       : oom(err);
    sr_buf k = SR_BUF_INIT;
    int rc = sr_buf_json_string(&k, to, tolen) == 0 &&
                     splice(w, last.key_off - 1, last.key_off + last.key_len + 1, k.data,
                            (uint32_t)k.len, "", 0) == 0
                 ? 1
                 : oom(err);
    sr_buf_free(&k);
    return rc;
}

static int rename_in_place(sr_event *ev, const char *const *keys, const uint32_t *lens, uint32_t n,
                           const char *to, uint32_t tolen, sr_json_error *err) {
    work w;
    int type, r = 0;
    int loaded = load(ev, keys, lens, &w, &type);
    if (loaded == -1)
        r = fail(err, 0, keys, lens, n, "does not exist");
    else if (loaded == -2)
        r = oom(err);
    while (r == 0)
        r = rename_pass(&w, (cursor){0, w.n, type}, keys, lens, n, to, tolen, err);
    if (r == 1 && commit(ev, keys, lens, &w) != 0)
        r = oom(err);
    work_free(&w);
    return r == 1 ? 0 : -1;
}

int sr_event_rename_path(sr_event *ev, const char *const *fkeys, const uint32_t *flens, uint32_t fn,
                         const char *const *tkeys, const uint32_t *tlens, uint32_t tn,
                         sr_json_error *err) {
    if (check_path(fkeys, fn, err) != 0 || check_path(tkeys, tn, err) != 0)
        return -1;
    if (same_parent(fkeys, flens, fn, tkeys, tlens, tn)) {
        if (flens[fn - 1] == tlens[tn - 1] &&
            memcmp(fkeys[fn - 1], tkeys[tn - 1], flens[fn - 1]) == 0)
            return sr_event_get_path(ev, fkeys, flens, fn, &(const char *){0}, &(uint32_t){0}) >= 0
                       ? 0
                       : fail(err, fn - 1, fkeys, flens, fn, "does not exist");
        return rename_in_place(ev, fkeys, flens, fn, tkeys[tn - 1], tlens[tn - 1], err);
    }
    const char *val, *before;
    uint32_t vlen, blen;
    if (sr_event_get_path(ev, fkeys, flens, fn, &val, &vlen) < 0)
        return fail(err, fn - 1, fkeys, flens, fn, "does not exist");
    /* Texts are never freed while the batch lives, so `val` and `before`
     * stay valid across the edits; `before` undoes a half-done move. */
    int had = sr_event_get(ev, fkeys[0], flens[0], &before, &blen) >= 0;
    if (sr_event_delete_path(ev, fkeys, flens, fn, err) < 0)
        return -1;
    if (sr_event_set_path(ev, tkeys, tlens, tn, val, vlen, err) == 0)
        return 0;
    if (had ? sr_event_set(ev, fkeys[0], flens[0], before, blen)
            : sr_event_delete(ev, fkeys[0], flens[0]))
        return oom(err);
    return -1;
}
