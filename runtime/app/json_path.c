/* json_path.c - walking a path of keys and indexes through JSON text. */
#include "json_path.h"

#include <stdlib.h>
#include <string.h>

/* The next step of `*path`: a key (bare, or ["..."]) or an index ([N]).
 * Returns 1 with the key in [*key, *key+*klen) or *index >= 0, 0 at the
 * end, -1 when malformed. */
static int next_step(const char **path, const char **key, size_t *klen, long *index) {
    const char *s = *path;
    *index = -1;
    if (*s == '.')
        s++;
    if (*s == '\0')
        return 0;
    if (*s == '[') {
        if (s[1] == '"') {
            const char *end = strchr(s + 2, '"');
            if (!end || end[1] != ']')
                return -1;
            *key = s + 2;
            *klen = (size_t)(end - s - 2);
            *path = end + 2;
            return 1;
        }
        char *end;
        long v = strtol(s + 1, &end, 10);
        if (end == s + 1 || *end != ']' || v < 0)
            return -1;
        *index = v;
        *path = end + 1;
        return 1;
    }
    size_t n = strcspn(s, ".[");
    if (n == 0)
        return -1;
    *key = s;
    *klen = n;
    *path = s + n;
    return 1;
}

int sr_json_path_get(const char *p, size_t n, const char *path, sr_json_member *m) {
    size_t off = 0, len = n;
    uint8_t type;
    const char *key = NULL;
    size_t klen = 0;
    long index;
    int rc;
    /* the whole value, trimmed, is where the walk starts */
    while (len && (p[off] == ' ' || p[off] == '\n' || p[off] == '\t' || p[off] == '\r'))
        off++, len--;
    while (len && (p[off + len - 1] == ' ' || p[off + len - 1] == '\n' ||
                   p[off + len - 1] == '\t' || p[off + len - 1] == '\r'))
        len--;
    type = len && p[off] == '{' ? SR_JSON_OBJECT : len && p[off] == '[' ? SR_JSON_ARRAY : 0;
    int steps = 0;
    while ((rc = next_step(&path, &key, &klen, &index)) == 1) {
        sr_json_member e;
        size_t pos = 0;
        int found = 0;
        if (index < 0) {
            if (type != SR_JSON_OBJECT)
                return 0;
            found = sr_json_object_get(p + off, len, key, klen, &e);
        } else {
            if (type != SR_JSON_ARRAY)
                return 0;
            for (long i = 0; i <= index && (found = sr_json_array_next(p + off, len, &pos, &e));
                 i++)
                ;
        }
        if (!found)
            return 0;
        off += e.val_off;
        len = e.val_len;
        type = e.type;
        *m = e;
        m->val_off = (uint32_t)off;
        steps++;
    }
    return rc != 0 || steps == 0 ? -1 : 1;
}
