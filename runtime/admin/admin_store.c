/* admin_store.c - API-defined integrations: JSON entries, rendered to and
 * read from their YAML file. */
#include "admin_store.h"
#include "yaml_load.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "node.h"

#define MAX_DEPTH 32

/* ---- entries ------------------------------------------------------------- */

long sr_admin_entries_find(const sr_admin_entries *e, const char *name) {
    for (size_t i = 0; i < e->n; i++)
        if (e->v[i].name && strcasecmp(e->v[i].name, name) == 0)
            return (long)i;
    return -1;
}

static int entry_set(sr_admin_entry *en, const char *name, const char *json, size_t len) {
    char *n = name ? strdup(name) : NULL;
    char *j = malloc(len + 1);
    if ((name && !n) || !j) {
        free(n);
        free(j);
        return -1;
    }
    memcpy(j, json, len);
    j[len] = '\0';
    free(en->name);
    free(en->json);
    *en = (sr_admin_entry){n, j, len};
    return 0;
}

int sr_admin_entries_put(sr_admin_entries *e, const char *name, const char *json, size_t len) {
    long at = name ? sr_admin_entries_find(e, name) : -1;
    if (at >= 0)
        return entry_set(&e->v[at], name, json, len);
    sr_admin_entry *v = realloc(e->v, (e->n + 1) * sizeof *v);
    if (!v)
        return -1;
    e->v = v;
    memset(&v[e->n], 0, sizeof v[e->n]);
    if (entry_set(&v[e->n], name, json, len) != 0)
        return -1;
    e->n++;
    return 0;
}

int sr_admin_entries_copy(const sr_admin_entries *src, sr_admin_entries *dst) {
    memset(dst, 0, sizeof *dst);
    for (size_t i = 0; i < src->n; i++) {
        /* put() would merge unnamed entries; append them one by one. */
        sr_admin_entry *v = realloc(dst->v, (dst->n + 1) * sizeof *v);
        if (!v)
            goto fail;
        dst->v = v;
        memset(&v[dst->n], 0, sizeof v[dst->n]);
        if (entry_set(&v[dst->n], src->v[i].name, src->v[i].json, src->v[i].len) != 0)
            goto fail;
        dst->n++;
    }
    return 0;
fail:
    sr_admin_entries_free(dst);
    return -1;
}

void sr_admin_entries_remove(sr_admin_entries *e, long index) {
    if (index < 0 || (size_t)index >= e->n)
        return;
    free(e->v[index].name);
    free(e->v[index].json);
    memmove(e->v + index, e->v + index + 1, (e->n - (size_t)index - 1) * sizeof *e->v);
    e->n--;
}

void sr_admin_entries_free(sr_admin_entries *e) {
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].name);
        free(e->v[i].json);
    }
    free(e->v);
    memset(e, 0, sizeof *e);
}

/* ---- rendering ------------------------------------------------------------ */

typedef struct renderer {
    sr_buf *out;
    sr_admin_linemap *map;
    int entry;
    int rc;
} renderer;

static void end_line(renderer *r, const char *path) {
    r->rc |= sr_buf_putc(r->out, '\n');
    if (!r->map)
        return;
    sr_admin_line *v = realloc(r->map->lines, (r->map->n + 1) * sizeof *v);
    if (!v) {
        r->rc = -1;
        return;
    }
    r->map->lines = v;
    v[r->map->n].entry = r->entry;
    snprintf(v[r->map->n].path, sizeof v[r->map->n].path, "%s", path);
    r->map->n++;
}

static void indent(renderer *r, int n) {
    for (int i = 0; i < n; i++)
        r->rc |= sr_buf_putc(r->out, ' ');
}

/* Code point of the UTF-8 sequence at p (validated input), and its length. */
static unsigned decode_utf8(const unsigned char *p, size_t avail, size_t *len) {
    size_t n = sr_utf8_seq_len(p, avail);
    if (n == 0) {
        *len = 1;
        return p[0];
    }
    unsigned cp = p[0] & (0xff >> (n + 1));
    for (size_t i = 1; i < n; i++)
        cp = cp << 6 | (p[i] & 0x3f);
    *len = n;
    return cp;
}

/* A YAML double-quoted scalar of UTF-8 text `s`: what libyaml would not
 * take raw is escaped, and `${` becomes `$${` (no environment expansion). */
static void put_quoted(renderer *r, const char *s, size_t n) {
    r->rc |= sr_buf_putc(r->out, '"');
    for (size_t i = 0; i < n;) {
        size_t len;
        unsigned cp = decode_utf8((const unsigned char *)s + i, n - i, &len);
        if (cp == '"' || cp == '\\')
            r->rc |= sr_buf_printf(r->out, "\\%c", (char)cp);
        else if (cp == '$' && i + 1 < n && s[i + 1] == '{')
            r->rc |= sr_buf_puts(r->out, "$$");
        else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0xfeff ||
                 cp == 0xfffe || cp == 0xffff)
            r->rc |= sr_buf_printf(r->out, "\\u%04X", cp);
        else
            r->rc |= sr_buf_append(r->out, s + i, len);
        i += len;
    }
    r->rc |= sr_buf_putc(r->out, '"');
}

/* A JSON string token (with quotes) as a YAML quoted scalar. */
static void put_json_string(renderer *r, const char *tok, size_t n, int quoted) {
    sr_buf text = SR_BUF_INIT;
    if (sr_json_unescape(tok, n, quoted, &text) != 0)
        r->rc = -1;
    else
        put_quoted(r, text.data ? text.data : "", text.len);
    sr_buf_free(&text);
}

static int is_scalar(const char *v, size_t n, int type) {
    if (type == SR_JSON_OBJECT || type == SR_JSON_ARRAY) {
        size_t pos = 0;
        sr_json_member m;
        return type == SR_JSON_OBJECT ? !sr_json_object_next(v, n, &pos, &m)
                                      : !sr_json_array_next(v, n, &pos, &m);
    }
    return 1;
}

/* A scalar (or an empty container) on the current line. */
static void put_scalar(renderer *r, const char *v, size_t n, int type) {
    switch (type) {
    case SR_JSON_STRING: put_json_string(r, v, n, 1); break;
    case SR_JSON_NULL: r->rc |= sr_buf_putc(r->out, '~'); break;
    case SR_JSON_OBJECT: r->rc |= sr_buf_puts(r->out, "{}"); break;
    case SR_JSON_ARRAY: r->rc |= sr_buf_puts(r->out, "[]"); break;
    default: r->rc |= sr_buf_append(r->out, v, n); break; /* numbers, true, false */
    }
}

static void put_block(renderer *r, const char *v, size_t n, int type, int ind, const char *path);

/* After "key:" or "-": a scalar on the same line, a block below it. */
static void put_value(renderer *r, const char *val, size_t n, int type, int ind, const char *path) {
    if (is_scalar(val, n, type)) {
        r->rc |= sr_buf_putc(r->out, ' ');
        put_scalar(r, val, n, type);
        end_line(r, path);
    } else {
        end_line(r, path);
        put_block(r, val, n, type, ind + 2, path);
    }
}

static void child_path(char *out, size_t outlen, const char *path, const char *key, size_t klen,
                       long index) {
    if (index >= 0)
        snprintf(out, outlen, "%s[%ld]", path, index);
    else if (*path)
        snprintf(out, outlen, "%s.%.*s", path, (int)klen, key);
    else
        snprintf(out, outlen, "%.*s", (int)klen, key);
}

static void put_members(renderer *r, const char *v, size_t n, int ind, const char *path) {
    size_t pos = 0;
    sr_json_member m;
    while (sr_json_object_next(v, n, &pos, &m)) {
        char sub[256];
        sr_buf key = SR_BUF_INIT;
        r->rc |= sr_json_unescape(v + m.key_off, m.key_len, 0, &key);
        child_path(sub, sizeof sub, path, key.data ? key.data : "", key.len, -1);
        indent(r, ind);
        put_quoted(r, key.data ? key.data : "", key.len);
        sr_buf_free(&key);
        r->rc |= sr_buf_putc(r->out, ':');
        put_value(r, v + m.val_off, m.val_len, m.type, ind, sub);
    }
}

static void put_items(renderer *r, const char *v, size_t n, int ind, const char *path) {
    size_t pos = 0;
    long i = 0;
    sr_json_member m;
    while (sr_json_array_next(v, n, &pos, &m)) {
        char sub[256];
        child_path(sub, sizeof sub, path, NULL, 0, i++);
        indent(r, ind);
        r->rc |= sr_buf_putc(r->out, '-');
        put_value(r, v + m.val_off, m.val_len, m.type, ind, sub);
    }
}

static void put_block(renderer *r, const char *v, size_t n, int type, int ind, const char *path) {
    if (type == SR_JSON_OBJECT)
        put_members(r, v, n, ind, path);
    else
        put_items(r, v, n, ind, path);
}

int sr_admin_store_render(const sr_admin_entries *e, sr_buf *out, sr_admin_linemap *map) {
    renderer r = {.out = out, .map = map, .entry = -1};
    if (map)
        memset(map, 0, sizeof *map);
    r.rc |= sr_buf_puts(out, "# Integrations created through siemrelay's admin API. The gateway "
                             "rewrites this file");
    end_line(&r, "");
    r.rc |= sr_buf_puts(out, "# on every change (mode 0600: it holds secrets). Validate with:");
    end_line(&r, "");
    r.rc |= sr_buf_puts(out, "#   siemrelay --check -c <your config> -c <this file>");
    end_line(&r, "");
    r.rc |= sr_buf_puts(out, e->n ? "integrations:" : "integrations: []");
    end_line(&r, "");
    for (size_t i = 0; i < e->n; i++) {
        r.entry = (int)i;
        r.rc |= sr_buf_putc(out, '-');
        end_line(&r, "");
        put_members(&r, e->v[i].json, e->v[i].len, 2, "");
    }
    return r.rc ? -1 : 0;
}

void sr_admin_linemap_free(sr_admin_linemap *map) {
    if (!map)
        return;
    free(map->lines);
    memset(map, 0, sizeof *map);
}

/* ---- reading the file ------------------------------------------------------ */

static int is_json_number(const char *s, size_t n) {
    sr_json_error e;
    return n && (s[0] == '-' || isdigit((unsigned char)s[0])) && sr_json_validate(s, n, 1, &e) == 0;
}

static int node_json(const sr_node *nd, sr_buf *out, int depth) {
    int rc = 0, b;
    if (depth > MAX_DEPTH)
        return -1;
    switch (nd->kind) {
    case SR_NODE_SCALAR:
        if (nd->quoted)
            return sr_buf_json_string(out, nd->text, nd->len);
        if (nd->is_null)
            return sr_buf_puts(out, "null");
        if (sr_node_bool(nd, &b) == 0)
            return sr_buf_puts(out, b ? "true" : "false");
        if (is_json_number(nd->text, nd->len))
            return sr_buf_append(out, nd->text, nd->len);
        return sr_buf_json_string(out, nd->text, nd->len);
    case SR_NODE_MAP:
        rc |= sr_buf_putc(out, '{');
        for (size_t i = 0; i < nd->n; i++) {
            if (i)
                rc |= sr_buf_putc(out, ',');
            rc |= sr_buf_json_string(out, nd->keys[i], strlen(nd->keys[i]));
            rc |= sr_buf_putc(out, ':');
            rc |= node_json(nd->items[i], out, depth + 1);
        }
        return rc | sr_buf_putc(out, '}');
    case SR_NODE_SEQ:
        rc |= sr_buf_putc(out, '[');
        for (size_t i = 0; i < nd->n; i++) {
            if (i)
                rc |= sr_buf_putc(out, ',');
            rc |= node_json(nd->items[i], out, depth + 1);
        }
        return rc | sr_buf_putc(out, ']');
    }
    return -1;
}

int sr_admin_store_load(const char *path, sr_admin_entries *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return 0;
    sr_node *root = sr_yaml_load_file(path, err, errlen);
    if (!root)
        return -1;
    const sr_node *list = root->kind == SR_NODE_MAP ? sr_node_get(root, "integrations") : NULL;
    int rc = -1;
    if (!list || (list->kind == SR_NODE_SCALAR && list->is_null)) {
        rc = root->kind == SR_NODE_MAP || (root->kind == SR_NODE_SCALAR && root->is_null) ? 0 : -1;
        if (rc)
            snprintf(err, errlen, "%s: expected an 'integrations:' list", path);
        goto done;
    }
    if (list->kind != SR_NODE_SEQ) {
        snprintf(err, errlen, "%s:%d: 'integrations' must be a list", path, list->line);
        goto done;
    }
    for (size_t i = 0; i < list->n; i++) {
        const sr_node *el = list->items[i];
        sr_buf json = SR_BUF_INIT;
        if (el->kind != SR_NODE_MAP || node_json(el, &json, 0) != 0) {
            snprintf(err, errlen, "%s:%d: an integration must be a map", path, el->line);
            sr_buf_free(&json);
            goto done;
        }
        const sr_node *name = sr_node_get(el, "name");
        const char *nm = name && name->kind == SR_NODE_SCALAR && !name->is_null ? name->text : NULL;
        sr_admin_entry *v = realloc(out->v, (out->n + 1) * sizeof *v);
        if (v) {
            out->v = v;
            memset(&v[out->n], 0, sizeof v[out->n]);
        }
        if (!v || entry_set(&v[out->n], nm, json.data, json.len) != 0) {
            snprintf(err, errlen, "%s: out of memory", path);
            sr_buf_free(&json);
            goto done;
        }
        out->n++;
        sr_buf_free(&json);
    }
    rc = 0;
done:
    sr_node_free(root);
    if (rc)
        sr_admin_entries_free(out);
    return rc;
}

/* ---- writing the file ------------------------------------------------------ */

int sr_admin_store_write(const char *path, const char *text, size_t len, char *err, size_t errlen) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    if (fchmod(fd, 0600) != 0)
        goto fail_fd;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            goto fail_fd;
        off += (size_t)w;
    }
    if (fsync(fd) != 0)
        goto fail_fd;
    return close(fd) == 0 ? 0 : (snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1);
fail_fd:
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    close(fd);
    unlink(path);
    return -1;
fail:
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
}

int sr_admin_store_install(const char *from, const char *to, char *err, size_t errlen) {
    if (rename(from, to) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", from, to, strerror(errno));
        return -1;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", to);
    int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

/* ---- errors -> fields ------------------------------------------------------ */

/* The member of the entry's `configuration` whose key equals [key,
 * key+klen) ignoring ASCII case (escaped keys never match), with offsets
 * relative to `entry_json`; 0 when there is none. */
static int find_config_key(const char *entry_json, const char *key, size_t klen,
                           sr_json_member *out) {
    sr_json_member conf, m;
    size_t len = entry_json ? strlen(entry_json) : 0;
    if (!len || !sr_json_object_get(entry_json, len, "configuration", 13, &conf) ||
        conf.type != SR_JSON_OBJECT)
        return 0;
    const char *obj = entry_json + conf.val_off;
    size_t pos = 0;
    while (sr_json_object_next(obj, conf.val_len, &pos, &m)) {
        if (m.key_len == klen && !m.key_escaped && strncasecmp(obj + m.key_off, key, klen) == 0) {
            *out = m;
            out->key_off += conf.val_off;
            out->val_off += conf.val_off;
            return 1;
        }
    }
    return 0;
}

/* "configuration.<key as the entry spells it>" for [w, w+n), into out. */
static int config_key(const char *entry_json, const char *w, size_t n, char *out, size_t outlen) {
    sr_json_member m;
    if (!find_config_key(entry_json, w, n, &m))
        return 0;
    snprintf(out, outlen, "configuration.%.*s", (int)m.key_len, entry_json + m.key_off);
    return 1;
}

/* Fields the error text names: missing keys, the type, or an option the
 * message starts with or quotes ("endpoint must be ...", "'path' must ..."). */
static int field_from_text(const char *msg, const char *entry_json, char *field, size_t fieldlen) {
    const char *p;
    if (strstr(msg, "missing required key 'type'") || strstr(msg, "unknown type '")) {
        snprintf(field, fieldlen, "type");
        return 1;
    }
    if ((p = strstr(msg, "missing required key '"))) {
        p += strlen("missing required key '");
        const char *end = strchr(p, '\'');
        if (end) {
            snprintf(field, fieldlen, "configuration.%.*s", (int)(end - p), p);
            return 1;
        }
    }
    /* After "integration 'x' (TYPE): " */
    const char *body = strstr(msg, "): ");
    body = body ? body + 3 : msg;
    size_t n = 0;
    while (isalnum((unsigned char)body[n]) || body[n] == '_')
        n++;
    if (n && config_key(entry_json, body, n, field, fieldlen))
        return 1;
    for (p = strchr(body, '\''); p; p = strchr(p + 1, '\'')) {
        const char *end = strchr(p + 1, '\'');
        if (!end)
            break;
        if (config_key(entry_json, p + 1, (size_t)(end - p - 1), field, fieldlen))
            return 1;
        p = end;
    }
    return 0;
}

/* "configuration.headers[0].key" -> "configuration.headers"; "batch.linger"
 * stays; "channels[2]" -> "channels". */
static void trim_field(const char *path, char *field, size_t fieldlen) {
    size_t n = strcspn(path, "[");
    const char *dot = memchr(path, '.', n);
    if (dot) {
        const char *dot2 = memchr(dot + 1, '.', n - (size_t)(dot + 1 - path));
        if (dot2)
            n = (size_t)(dot2 - path);
    }
    snprintf(field, fieldlen, "%.*s", (int)n, path);
}

const char *sr_admin_store_explain(const char *err, const char *file, const sr_admin_linemap *map,
                                   int entry, const char *entry_json, char *field,
                                   size_t fieldlen) {
    size_t flen = strlen(file);
    field[0] = '\0';
    if (strncmp(err, file, flen) != 0 || err[flen] != ':')
        return err;
    const char *p = err + flen + 1;
    long line = strtol(p, (char **)&p, 10);
    if (*p == ':' && isdigit((unsigned char)p[1])) /* a column */
        strtol(p + 1, (char **)&p, 10);
    const char *msg = *p == ':' ? p + 1 : p;
    while (*msg == ' ')
        msg++;
    if (field_from_text(msg, entry_json, field, fieldlen))
        return msg;
    if (map && line >= 1 && (size_t)line <= map->n) {
        const sr_admin_line *l = &map->lines[line - 1];
        if (l->entry == entry && l->path[0])
            trim_field(l->path, field, fieldlen);
    }
    return msg;
}

/* ---- request bodies ---------------------------------------------------------- */

static int fail_field(char *err, size_t errlen, char *field, size_t fieldlen, const char *f,
                      const char *msg) {
    snprintf(err, errlen, "%s", msg);
    snprintf(field, fieldlen, "%s", f);
    return -1;
}

/* Keys that say where (and how safely) an integration sends its secrets:
 * reusing a stored secret through "******" requires them unchanged. */
static int destination_key(const char *k) {
    static const char *const parts[] = {"endpoint", "url",   "host",     "broker", "server",
                                        "address",  "proxy", "insecure", "tls",    NULL};
    static const char *const whole[] = {"tokenuri",   "port",    "region", "workspaceid", "cafile",
                                        "cacertfile", "ca_file", "queue",  NULL};
    char low[128];
    size_t n = strlen(k);
    if (n >= sizeof low)
        return 1; /* no option is that long: treat it as one to keep */
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)tolower((unsigned char)k[i]);
    for (size_t i = 0; parts[i]; i++)
        if (strstr(low, parts[i]))
            return 1;
    for (size_t i = 0; whole[i]; i++)
        if (strcmp(low, whole[i]) == 0)
            return 1;
    return 0;
}

/* The member's key unescaped into `k` (reset first); 0 on success. */
static int unescaped_key(const char *obj, const sr_json_member *m, sr_buf *k) {
    sr_buf_reset(k);
    return sr_json_unescape(obj + m->key_off, m->key_len, 0, k) == 0 && k->data &&
                   strlen(k->data) == k->len
               ? 0
               : -1;
}

/* The last member of `obj` whose key is `key` (ASCII case-insensitive, as
 * the configuration loader matches keys). */
static int lookup(const char *obj, size_t n, const char *key, sr_json_member *out) {
    sr_buf k = SR_BUF_INIT;
    sr_json_member m;
    size_t pos = 0;
    int found = 0;
    while (obj && sr_json_object_next(obj, n, &pos, &m))
        if (unescaped_key(obj, &m, &k) == 0 && strcasecmp(k.data, key) == 0) {
            *out = m;
            found = 1;
        }
    sr_buf_free(&k);
    return found;
}

static int same_value(const char *a, const sr_json_member *ma, const char *b,
                      const sr_json_member *mb) {
    sr_buf x = SR_BUF_INIT, y = SR_BUF_INIT;
    int same = sr_json_compact(a + ma->val_off, ma->val_len, &x) == 0 &&
               sr_json_compact(b + mb->val_off, mb->val_len, &y) == 0 && x.len == y.len &&
               memcmp(x.data, y.data, x.len) == 0;
    sr_buf_free(&x);
    sr_buf_free(&y);
    return same;
}

/* A destination key of `from` that `to` lacks or gives another value, into
 * `changed`; 0 when there is none. */
static int destination_changed(const char *from, size_t fn, const char *to, size_t tn,
                               char *changed, size_t changedlen) {
    sr_buf k = SR_BUF_INIT;
    sr_json_member m, o;
    size_t pos = 0;
    int found = 0;
    while (!found && from && sr_json_object_next(from, fn, &pos, &m)) {
        if (unescaped_key(from, &m, &k) != 0 || !destination_key(k.data))
            continue;
        if (!lookup(to, tn, k.data, &o) || !same_value(from, &m, to, &o)) {
            snprintf(changed, changedlen, "%s", k.data);
            found = 1;
        }
    }
    sr_buf_free(&k);
    return found;
}

/* Whether `conf` gives any value as "******". */
static int has_masked(const char *conf, size_t n, sr_json_member *first) {
    size_t pos = 0;
    sr_json_member m;
    while (sr_json_object_next(conf, n, &pos, &m))
        if (m.type == SR_JSON_STRING && m.val_len == sizeof SR_ADMIN_MASK + 1 &&
            memcmp(conf + m.val_off + 1, SR_ADMIN_MASK, sizeof SR_ADMIN_MASK - 1) == 0) {
            *first = m;
            return 1;
        }
    return 0;
}

/* A stored secret goes only where it went: with "******" in `conf`, every
 * destination key must be as stored. */
static int check_destination(const char *conf, size_t n, const char *old, int type_changed,
                             char *err, size_t errlen, char *field, size_t fieldlen) {
    sr_json_member masked, oc;
    char changed[128];
    const char *was = NULL;
    size_t wn = 0;
    if (!has_masked(conf, n, &masked))
        return 0;
    if (old && lookup(old, strlen(old), "configuration", &oc) && oc.type == SR_JSON_OBJECT) {
        was = old + oc.val_off;
        wn = oc.val_len;
    }
    if (!was)
        return 0;     /* nothing stored: merge_configuration says so */
    if (type_changed) /* another module may send it elsewhere, or otherwise */
        snprintf(changed, sizeof changed, "type");
    else if (!destination_changed(conf, n, was, wn, changed, sizeof changed) &&
             !destination_changed(was, wn, conf, n, changed, sizeof changed))
        return 0;
    char f[160], msg[512];
    snprintf(f, sizeof f, "configuration.%.*s", (int)masked.key_len, conf + masked.key_off);
    snprintf(msg, sizeof msg,
             "'%s' changed: send '%.*s' again (\"******\" keeps a stored secret only while "
             "the destination stays the same)",
             changed, (int)masked.key_len, conf + masked.key_off);
    return fail_field(err, errlen, field, fieldlen, f, msg);
}

/* Whether the stored entry `old` has the type `m` of `body` gives
 * (unescaped, ASCII case-insensitive, as the loader reads types). */
static int same_type(const char *body, size_t len, const sr_json_member *m, const char *old) {
    sr_json_member was;
    sr_buf a = SR_BUF_INIT, b = SR_BUF_INIT;
    (void)len;
    int same = lookup(old, strlen(old), "type", &was) && was.type == SR_JSON_STRING &&
               sr_json_unescape(body + m->val_off, m->val_len, 1, &a) == 0 &&
               sr_json_unescape(old + was.val_off, was.val_len, 1, &b) == 0 && a.len == b.len &&
               a.data && b.data && strcasecmp(a.data, b.data) == 0;
    sr_buf_free(&a);
    sr_buf_free(&b);
    return same;
}

/* Copies the configuration object, replacing "******" values with the
 * stored ones. */
static int merge_configuration(const char *conf, size_t n, const char *old, int type_changed,
                               sr_buf *out, char *err, size_t errlen, char *field,
                               size_t fieldlen) {
    size_t pos = 0;
    if (check_destination(conf, n, old, type_changed, err, errlen, field, fieldlen) != 0)
        return -1;
    int first = 1, rc = sr_buf_putc(out, '{');
    sr_json_member m, was;
    while (sr_json_object_next(conf, n, &pos, &m)) {
        rc |= sr_buf_puts(out, first ? "\"" : ",\"");
        first = 0;
        rc |= sr_buf_append(out, conf + m.key_off, m.key_len);
        rc |= sr_buf_puts(out, "\":");
        const char *v = conf + m.val_off;
        int masked = m.type == SR_JSON_STRING && m.val_len == sizeof SR_ADMIN_MASK + 1 &&
                     memcmp(v + 1, SR_ADMIN_MASK, sizeof SR_ADMIN_MASK - 1) == 0;
        if (!masked) {
            rc |= sr_buf_append(out, v, m.val_len);
            continue;
        }
        if (!find_config_key(old, conf + m.key_off, m.key_len, &was)) {
            char f[160];
            snprintf(f, sizeof f, "configuration.%.*s", (int)m.key_len, conf + m.key_off);
            return fail_field(err, errlen, field, fieldlen, f,
                              "\"******\" keeps the stored secret, but none is stored for this "
                              "key: send the value");
        }
        rc |= sr_buf_append(out, old + was.val_off, was.val_len);
    }
    rc |= sr_buf_putc(out, '}');
    if (rc)
        return fail_field(err, errlen, field, fieldlen, "", "out of memory");
    return 0;
}

int sr_admin_entry_normalise(const char *body, size_t len, const char *path_name, const char *old,
                             sr_buf *out, char *name, size_t namelen, char *err, size_t errlen,
                             char *field, size_t fieldlen) {
    sr_json_error je;
    sr_json_member m;
    sr_buf text = SR_BUF_INIT;
    field[0] = '\0';
    if (!body || sr_json_validate(body, len, MAX_DEPTH, &je) != 0) {
        snprintf(err, errlen, "the body is not JSON: %s at offset %zu", body ? je.msg : "empty",
                 body ? je.offset : 0);
        return -1;
    }
    while (len && isspace((unsigned char)*body))
        body++, len--;
    if (*body != '{')
        return fail_field(err, errlen, field, fieldlen, "",
                          "the body must be one JSON object: an entry of the configuration's "
                          "integrations: list");
    if (!sr_json_object_get(body, len, "type", 4, &m) || m.type != SR_JSON_STRING || m.val_len <= 2)
        return fail_field(err, errlen, field, fieldlen, "type",
                          "required: the integration type, e.g. \"WEBHOOK\"");
    int type_changed = old && !same_type(body, len, &m, old);
    int has_name = sr_json_object_get(body, len, "name", 4, &m);
    if (has_name && m.type == SR_JSON_STRING &&
        sr_json_unescape(body + m.val_off, m.val_len, 1, &text) == 0 && text.len > 0 &&
        text.len < namelen && !memchr(text.data, '\0', text.len)) {
        snprintf(name, namelen, "%s", text.data);
    } else if (!has_name && path_name) {
        snprintf(name, namelen, "%s", path_name);
    } else {
        sr_buf_free(&text);
        return fail_field(err, errlen, field, fieldlen, "name",
                          "required: a name for the integration (letters, digits, '.', '_', '-')");
    }
    sr_buf_free(&text);
    if (path_name && strcasecmp(path_name, name) != 0)
        return fail_field(err, errlen, field, fieldlen, "name",
                          "the name cannot change: it must match the URL's");

    /* Rebuild the object: "name" first, configuration merged. */
    int rc = sr_buf_puts(out, "{\"name\":");
    rc |= sr_buf_json_string(out, name, strlen(name));
    size_t pos = 0;
    while (sr_json_object_next(body, len, &pos, &m)) {
        if (sr_json_key_equals(body + m.key_off, m.key_len, "name", 4))
            continue;
        rc |= sr_buf_puts(out, ",\"");
        rc |= sr_buf_append(out, body + m.key_off, m.key_len);
        rc |= sr_buf_puts(out, "\":");
        if (sr_json_key_equals(body + m.key_off, m.key_len, "configuration", 13) &&
            m.type == SR_JSON_OBJECT) {
            if (merge_configuration(body + m.val_off, m.val_len, old, type_changed, out, err,
                                    errlen, field, fieldlen) != 0)
                return -1;
        } else {
            rc |= sr_json_compact(body + m.val_off, m.val_len, out);
        }
    }
    rc |= sr_buf_putc(out, '}');
    if (rc)
        return fail_field(err, errlen, field, fieldlen, "", "out of memory");
    return 0;
}
