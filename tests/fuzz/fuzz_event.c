/* fuzz_event.c - event parsing and edits (runtime/event/event.c,
 * event_path.c) on arbitrary bytes.
 *
 * Input: a selector byte, then three lines (path A, a JSON value, path B),
 * then the event. The event is parsed (Falco output normalised on the way)
 * and, when it parses, edited the ways scripts edit events: set a path to
 * the value or to a string, delete a path, rename A to B, top-level set and
 * delete, each chosen by a bit of the selector, on a fork as well as on the
 * original. What must hold: the written event is always one valid JSON
 * object (a key or string that is not UTF-8 is written with U+FFFD), a
 * value just set under a well-formed path reads back as its compact form,
 * a deleted path no longer resolves, and the original is untouched by a
 * fork's edits. */
#include "fuzz.h"

#include "arena.h"
#include "buf.h"
#include "event.h"
#include "event_path.h"
#include "json.h"

typedef struct fz_path {
    const char *keys[SR_EVENT_PATH_MAX];
    uint32_t lens[SR_EVENT_PATH_MAX];
    int n;
    char store[256];
} fz_path;

static void path_parse(fz_path *fp, const char *s, size_t n) {
    sr_json_error err;
    fp->n = -1;
    if (n <= sizeof fp->store)
        fp->n = sr_event_path_parse(s, n, fp->keys, fp->lens, SR_EVENT_PATH_MAX, fp->store, &err);
}

/* Keys that are not UTF-8 are written with U+FFFD in place of the bad
 * bytes, so only a well-formed path reads back what was set under it. */
static int path_is_utf8(const fz_path *fp) {
    for (int k = 0; k < fp->n; k++) {
        const unsigned char *u = (const unsigned char *)fp->keys[k];
        for (uint32_t i = 0; u && i < fp->lens[k];) {
            size_t len = u[i] < 0x80 ? 1 : sr_utf8_seq_len(u + i, fp->lens[k] - i);
            if (len == 0)
                return 0;
            i += (uint32_t)len;
        }
    }
    return 1;
}

static void written_is_object(const sr_event *ev, sr_buf *out) {
    sr_json_error err;
    sr_json_member m[4];
    sr_buf_reset(out);
    FZ_ASSERT(sr_event_write(ev, out) == 0);
    FZ_ASSERT(sr_json_validate(out->data, out->len, 0, &err) == 0);
    /* The index call refuses anything but an object; more than 4 members
     * only reports "too many", which is no failure here. */
    int rc = sr_json_index_object(out->data, out->len, 0, m, 4, &err);
    FZ_ASSERT(rc >= 0 || strstr(err.msg, "too many") != NULL);
}

static void edit(sr_event *ev, unsigned sel, const fz_path *a, const fz_path *b, const char *val,
                 size_t vlen, int val_ok, sr_buf *out) {
    sr_json_error err;
    const char *got;
    uint32_t glen;
    if (a->n > 0) {
        sr_event_get_path(ev, a->keys, a->lens, (uint32_t)a->n, &got, &glen);
        if ((sel & 1) && val_ok &&
            sr_event_set_path(ev, a->keys, a->lens, (uint32_t)a->n, val, (uint32_t)vlen, &err) ==
                0) {
            if (path_is_utf8(a)) {
                sr_buf want = SR_BUF_INIT;
                FZ_ASSERT(sr_json_compact(val, vlen, &want) == 0);
                FZ_ASSERT(sr_event_get_path(ev, a->keys, a->lens, (uint32_t)a->n, &got, &glen) >=
                          0);
                FZ_ASSERT(glen == want.len && memcmp(got, want.data, glen) == 0);
                sr_buf_free(&want);
            }
            written_is_object(ev, out);
        }
        if (sel & 2) {
            sr_event_set_path_string(ev, a->keys, a->lens, (uint32_t)a->n, val, (uint32_t)vlen,
                                     &err);
            written_is_object(ev, out);
        }
    }
    if (b->n > 0 && (sel & 4) &&
        sr_event_delete_path(ev, b->keys, b->lens, (uint32_t)b->n, &err) == 0) {
        FZ_ASSERT(sr_event_get_path(ev, b->keys, b->lens, (uint32_t)b->n, &got, &glen) < 0);
        written_is_object(ev, out);
    }
    if (a->n > 0 && b->n > 0 && (sel & 8)) {
        sr_event_rename_path(ev, a->keys, a->lens, (uint32_t)a->n, b->keys, b->lens, (uint32_t)b->n,
                             &err);
        written_is_object(ev, out);
    }
    if (a->n > 0 && a->keys[0] && (sel & 16)) {
        sr_event_set_string(ev, a->keys[0], a->lens[0], val, (uint32_t)vlen);
        written_is_object(ev, out);
    }
    if (b->n > 0 && b->keys[0] && (sel & 32)) {
        sr_event_delete(ev, b->keys[0], b->lens[0]);
        FZ_ASSERT(sr_event_get(ev, b->keys[0], b->lens[0], &got, &glen) < 0);
        written_is_object(ev, out);
    }
    if (a->n > 0 && a->keys[0] && (sel & 64)) {
        sr_event_set_int(ev, a->keys[0], a->lens[0], (int64_t)vlen - 1000);
        written_is_object(ev, out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_input in = {data, size};
    unsigned sel = fz_byte(&in);
    size_t alen, vlen, blen;
    const char *as = fz_until(&in, '\n', &alen);
    const char *val = fz_until(&in, '\n', &vlen);
    const char *bs = fz_until(&in, '\n', &blen);
    fz_path a, b;
    path_parse(&a, as, alen);
    path_parse(&b, bs, blen);
    sr_json_error err;
    int val_ok = vlen > 0 && sr_json_validate(val, vlen, 0, &err) == 0;

    sr_arena arena;
    sr_arena_init(&arena, 0);
    sr_event ev;
    sr_buf out = SR_BUF_INIT, before = SR_BUF_INIT;
    sr_event_limits limits = {.max_depth = 0, .max_fields = 64};
    if (sr_event_parse(&ev, &arena, (const char *)in.p, in.n, &limits, &err) == 0) {
        written_is_object(&ev, &before);
        sr_event fork;
        FZ_ASSERT(sr_event_fork(&fork, &ev, &arena) == 0);
        edit(&fork, sel, &a, &b, val, vlen, val_ok, &out);
        written_is_object(&ev, &out);
        FZ_ASSERT(out.len == before.len && memcmp(out.data, before.data, out.len) == 0);
        edit(&ev, sel >> 1 | sel << 7, &a, &b, val, vlen, val_ok, &out);
    } else {
        FZ_ASSERT(err.offset <= in.n);
    }
    sr_buf_free(&out);
    sr_buf_free(&before);
    sr_arena_free(&arena);
    return 0;
}
