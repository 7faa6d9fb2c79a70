/* json_path.c - walking a script path's segments through JSON text. */
#include "json_path.h"

#include <stdlib.h>
#include <string.h>

#include "event_path.h"

static int is_ws(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

int sr_json_path_get(const char *p, size_t n, const char *path, sr_json_member *m) {
    const char *keys[SR_EVENT_PATH_MAX];
    uint32_t lens[SR_EVENT_PATH_MAX];
    sr_json_error err;
    size_t plen = strlen(path);
    char *store = malloc(plen + 1);
    if (!store)
        return -1;
    int nseg = sr_event_path_parse(path, plen, keys, lens, SR_EVENT_PATH_MAX, store, &err);
    int rc = nseg > 0 ? 1 : -1;
    size_t off = 0, len = n;
    while (len && is_ws(p[off]))
        off++, len--;
    while (len && is_ws(p[off + len - 1]))
        len--;
    uint8_t type = len && p[off] == '{' ? SR_JSON_OBJECT : len && p[off] == '[' ? SR_JSON_ARRAY : 0;
    for (int k = 0; k < nseg && rc == 1; k++) {
        sr_json_member e;
        int found = 0;
        if (keys[k]) {
            found =
                type == SR_JSON_OBJECT && sr_json_object_get(p + off, len, keys[k], lens[k], &e);
        } else if (type == SR_JSON_ARRAY) {
            size_t pos = 0;
            for (uint32_t i = 0;
                 i <= lens[k] && (found = sr_json_array_next(p + off, len, &pos, &e)); i++)
                ;
        }
        if (!found) {
            rc = 0;
            break;
        }
        off += e.val_off;
        len = e.val_len;
        type = e.type;
        *m = e;
        m->val_off = (uint32_t)off;
    }
    free(store);
    return rc;
}
