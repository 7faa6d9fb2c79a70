/* fuzz_json.c - the JSON scanner (runtime/base/json.c) on arbitrary bytes.
 *
 * Every input is validated; a valid one is then walked the way the event
 * code walks it (members, elements, keys, strings, numbers) with the
 * functions that trust validated input, which is where a scanner bug
 * would turn into an out-of-bounds read. Checked on the way: the compact
 * form is valid JSON and compacting it again changes nothing, every
 * unescaped string is well-formed UTF-8,
 * and every key read back through sr_json_object_get is found. */
#include "fuzz.h"

#include "buf.h"
#include "json.h"

/* Unescaped text must be well-formed UTF-8 (\u escapes of lone surrogates
 * included: they must not come out as CESU-8). */
static void check_utf8(const char *p, size_t n) {
    const unsigned char *u = (const unsigned char *)p;
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = sr_utf8_seq_len(u + i, n - i);
        FZ_ASSERT(len > 0);
        i += len;
    }
}

static void walk(const char *p, size_t n, int type, int depth) {
    sr_json_member m;
    size_t pos = 0;
    sr_buf s = SR_BUF_INIT;
    switch (type) {
    case SR_JSON_OBJECT:
        while (sr_json_object_next(p, n, &pos, &m)) {
            FZ_ASSERT((size_t)m.key_off + m.key_len <= n && (size_t)m.val_off + m.val_len <= n);
            sr_buf_reset(&s);
            FZ_ASSERT(sr_json_unescape(p + m.key_off, m.key_len, 0, &s) == 0);
            check_utf8(s.data ? s.data : "", s.len);
            FZ_ASSERT(sr_json_key_equals(p + m.key_off, m.key_len, s.data ? s.data : "", s.len));
            sr_json_member found;
            FZ_ASSERT(sr_json_object_get(p, n, s.data ? s.data : "", s.len, &found) == 1);
            walk(p + m.val_off, m.val_len, m.type, depth + 1);
        }
        break;
    case SR_JSON_ARRAY:
        while (sr_json_array_next(p, n, &pos, &m)) {
            FZ_ASSERT((size_t)m.val_off + m.val_len <= n);
            walk(p + m.val_off, m.val_len, m.type, depth + 1);
        }
        break;
    case SR_JSON_STRING:
        FZ_ASSERT(sr_json_unescape(p, n, 1, &s) == 0);
        check_utf8(s.data ? s.data : "", s.len);
        break;
    case SR_JSON_NUMBER: {
        int64_t i;
        uint64_t u;
        double d;
        sr_json_to_int64(p, n, &i);
        sr_json_to_uint64(p, n, &u);
        sr_json_to_double(p, n, &d);
        break;
    }
    default: break;
    }
    sr_buf_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data;
    sr_json_error err;
    if (sr_json_validate(p, size, 0, &err) != 0) {
        FZ_ASSERT(err.offset <= size);
        FZ_ASSERT(memchr(err.msg, 0, sizeof err.msg) != NULL);
        return 0;
    }

    sr_buf c1 = SR_BUF_INIT, c2 = SR_BUF_INIT;
    FZ_ASSERT(sr_json_compact(p, size, &c1) == 0);
    FZ_ASSERT(sr_json_validate(c1.data, c1.len, 0, &err) == 0);
    FZ_ASSERT(sr_json_compact(c1.data, c1.len, &c2) == 0);
    FZ_ASSERT(c1.len == c2.len && memcmp(c1.data, c2.data, c1.len) == 0);

    /* The walkers take the value itself, as members hand them out: the
     * compact form has no surrounding whitespace. */
    int type = -1;
    switch (c1.data[0]) {
    case '{': type = SR_JSON_OBJECT; break;
    case '[': type = SR_JSON_ARRAY; break;
    case '"': type = SR_JSON_STRING; break;
    case 't': type = SR_JSON_TRUE; break;
    case 'f': type = SR_JSON_FALSE; break;
    case 'n': type = SR_JSON_NULL; break;
    default: type = SR_JSON_NUMBER; break;
    }
    walk(c1.data, c1.len, type, 0);

    /* The original bytes too: members of a pretty-printed object carry
     * whitespace inside their values. */
    sr_json_member members[16];
    int nm = sr_json_index_object(p, size, 0, members, 16, &err);
    if (nm >= 0) {
        FZ_ASSERT(type == SR_JSON_OBJECT);
        for (int i = 0; i < nm; i++) {
            FZ_ASSERT((size_t)members[i].val_off + members[i].val_len <= size);
            walk(p + members[i].val_off, members[i].val_len, members[i].type, 1);
        }
    }
    sr_buf_free(&c1);
    sr_buf_free(&c2);
    return 0;
}
