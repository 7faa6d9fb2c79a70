/* conf_table.c - reading, defaulting, printing and documenting a
 * configuration section from its table of keys (conf_table.h). */
#include "conf_table.h"
#include "yaml_load.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_KEYS_IN_MAP 32 /* the largest table, for suggestions */
#define MASKED          "******"

/* ---- Errors ------------------------------------------------------------- */

int sr_conf_fail(sr_conf_ctx *ctx, const char *file, int line, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(ctx->err, ctx->errlen, "%s:%d: %s", file ? file : "?", line, msg);
    return -1;
}

/* Long values are cut; secret ones are never shown. */
int sr_conf_wrong_value(sr_conf_ctx *ctx, const sr_conf_item *it, const char *expected,
                        int secret) {
    const sr_node *v = it->v;
    if (v->kind == SR_NODE_MAP)
        return sr_conf_fail(ctx, it->file, it->line, "key '%s': expected %s, got a map", it->key,
                            expected);
    if (v->kind == SR_NODE_SEQ)
        return sr_conf_fail(ctx, it->file, it->line, "key '%s': expected %s, got a list", it->key,
                            expected);
    if (secret)
        return sr_conf_fail(ctx, it->file, it->line, "key '%s': expected %s", it->key, expected);
    return sr_conf_fail(ctx, it->file, it->line, "key '%s': expected %s, got '%.64s%s'", it->key,
                        expected, v->text, v->len > 64 ? "..." : "");
}

int sr_conf_wrong_element(sr_conf_ctx *ctx, const sr_conf_item *it, const sr_node *el,
                          const char *expected) {
    sr_conf_item sub = {.key = it->key, .file = el->file, .line = el->line, .v = el};
    return sr_conf_wrong_value(ctx, &sub, expected, 0);
}

int sr_conf_read_names(sr_conf_ctx *ctx, const sr_conf_item *it, const sr_conf_names *spec,
                       unsigned *mask) {
    const sr_node *v = it->v;
    unsigned m = 0;
    if (v->kind == SR_NODE_MAP)
        return sr_conf_wrong_value(ctx, it, spec->list_what, 0);
    size_t n = v->kind == SR_NODE_SEQ ? v->n : 1;
    for (size_t i = 0; i < n; i++) {
        const sr_node *el = v->kind == SR_NODE_SEQ ? v->items[i] : v;
        if (el->kind != SR_NODE_SCALAR)
            return sr_conf_wrong_element(ctx, it, el, spec->name_what);
        unsigned bit = spec->parse(el->text);
        int skip = bit || !spec->unknown ? 0 : spec->unknown(ctx, it, el);
        if (skip < 0)
            return -1;
        if (skip)
            continue;
        if (!bit) {
            const char *near = sr_suggest(el->text, spec->names);
            return sr_conf_fail(ctx, el->file, el->line, "key '%s': unknown %s '%.64s'%s%s%s",
                                it->key, spec->kind, el->text, near ? " (did you mean '" : "",
                                near ? near : "", near ? "'?)" : "");
        }
        m |= bit;
    }
    *mask = m;
    return 0;
}

static int out_of_memory(sr_conf_ctx *ctx, const sr_conf_item *it) {
    return sr_conf_fail(ctx, it->file, it->line, "out of memory");
}

/* ---- Finding keys ------------------------------------------------------- */

const sr_conf_key *sr_conf_find(const sr_conf_key *keys, const char *key) {
    for (const sr_conf_key *k = keys; k->name; k++)
        if (strcasecmp(k->name, key) == 0)
            return k;
    return NULL;
}

/* The row an alias stands for. */
static const sr_conf_key *canonical(const sr_conf_key *keys, const sr_conf_key *row) {
    if (!row->alias_of)
        return row;
    for (const sr_conf_key *k = keys; k->name; k++)
        if (!k->alias_of && strcmp(k->name, row->alias_of) == 0)
            return k;
    return row;
}

const char *sr_conf_suggest(const sr_conf_key *keys, const char *key) {
    const char *names[MAX_KEYS_IN_MAP + 1];
    size_t n = 0;
    for (const sr_conf_key *k = keys; k->name && n < MAX_KEYS_IN_MAP; k++)
        names[n++] = k->name;
    names[n] = NULL;
    return sr_suggest(key, names);
}

int sr_conf_unknown_key(sr_conf_ctx *ctx, const sr_node *map, size_t k, const sr_conf_key *keys) {
    const char *near = sr_conf_suggest(keys, map->keys[k]);
    if (near)
        return sr_conf_fail(ctx, map->file, map->key_lines[k],
                            "unknown key '%s' (did you mean '%s'?)", map->keys[k], near);
    return sr_conf_fail(ctx, map->file, map->key_lines[k], "unknown key '%s'", map->keys[k]);
}

int sr_conf_is_unset(const sr_node *v) { return v->kind == SR_NODE_SCALAR && v->is_null; }

/* Both spellings of one setting in one map is a mistake, not an override. */
static int aliases_once(sr_conf_ctx *ctx, const sr_node *map, const sr_conf_key *keys) {
    for (const sr_conf_key *k = keys; k->name; k++) {
        if (!k->alias_of)
            continue;
        int a = sr_node_index(map, k->alias_of), b = sr_node_index(map, k->name);
        if (a < 0 || b < 0)
            continue;
        int first = a < b ? a : b, second = a < b ? b : a;
        return sr_conf_fail(ctx, map->file, map->key_lines[second],
                            "key '%s' sets '%s' again (already set on line %d)", map->keys[second],
                            k->alias_of, map->key_lines[first]);
    }
    return 0;
}

/* ---- Fields ------------------------------------------------------------- */

static void *field_of(void *base, size_t offset) { return (char *)base + offset; }
static const void *cfield_of(const void *base, size_t offset) {
    return (const char *)base + offset;
}

/* Integer fields are int-sized (int, unsigned, enums) or 8 bytes (long,
 * long long, uint64_t). */
static void put_number(void *field, size_t size, unsigned long long v) {
    if (size == sizeof(int)) {
        unsigned x = (unsigned)v;
        memcpy(field, &x, sizeof x);
    } else {
        memcpy(field, &v, sizeof v);
    }
}

static unsigned long long get_unsigned(const void *field, size_t size) {
    if (size == sizeof(int)) {
        unsigned x;
        memcpy(&x, field, sizeof x);
        return x;
    }
    unsigned long long v;
    memcpy(&v, field, sizeof v);
    return v;
}

static long long get_signed(const void *field, size_t size) {
    if (size == sizeof(int)) {
        int x;
        memcpy(&x, field, sizeof x);
        return x;
    }
    long long v;
    memcpy(&v, field, sizeof v);
    return v;
}

static int is_zero(const void *field, size_t size) {
    for (size_t i = 0; i < size; i++)
        if (((const unsigned char *)field)[i])
            return 0;
    return 1;
}

/* ---- Values ------------------------------------------------------------- */

static const char expect_size[] = "a size such as 512, 64KiB or 16MiB (more than 0)";
static const char expect_duration[] = "a duration such as 250ms, 5s, 1m or 1h";
static const char expect_duration_nonzero[] =
    "a duration such as 250ms, 5s, 1m or 1h (more than 0)";

static int read_bool(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    int b;
    if (sr_node_bool(it->v, &b) != 0)
        return sr_conf_wrong_value(ctx, it, "true or false", 0);
    memcpy(field, &b, sizeof b);
    return 0;
}

static int read_int(sr_conf_ctx *ctx, const sr_conf_key *row, const sr_conf_item *it, void *field) {
    long long n;
    if (sr_node_int(it->v, &n) != 0 || n < row->min)
        return sr_conf_wrong_value(ctx, it, row->expected, 0);
    if (n > row->max)
        return sr_conf_fail(ctx, it->file, it->line, "key '%s': at most %lld, got %lld", it->key,
                            row->max, n);
    put_number(field, row->size, (unsigned long long)n);
    return 0;
}

static int read_size(sr_conf_ctx *ctx, const sr_conf_key *row, const sr_conf_item *it,
                     void *field) {
    unsigned long long n, max = row->max ? (unsigned long long)row->max : ULLONG_MAX;
    if (sr_node_size(it->v, &n) != 0 || n == 0 || n > max)
        return sr_conf_wrong_value(ctx, it, expect_size, 0);
    put_number(field, row->size, n);
    return 0;
}

static int read_duration(sr_conf_ctx *ctx, const sr_conf_key *row, const sr_conf_item *it,
                         void *field) {
    int zero_ok = (row->flags & SR_CONF_ZERO_OK) != 0;
    unsigned long long ms, max = row->max ? (unsigned long long)row->max : LONG_MAX;
    if (sr_node_duration_ms(it->v, &ms) != 0 || (ms == 0 && !zero_ok) || ms > max)
        return sr_conf_wrong_value(ctx, it, zero_ok ? expect_duration : expect_duration_nonzero, 0);
    put_number(field, row->size, ms);
    return 0;
}

int sr_conf_set_string(sr_conf_ctx *ctx, const sr_conf_item *it, int secret, char **dst) {
    if (it->v->kind != SR_NODE_SCALAR || it->v->len == 0 || strlen(it->v->text) != it->v->len)
        return sr_conf_wrong_value(ctx, it, "a non-empty string", secret);
    char *s = strdup(it->v->text);
    if (!s)
        return out_of_memory(ctx, it);
    free(*dst);
    *dst = s;
    return 0;
}

static void free_strings(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* One string, or a list of them. A later file replaces the list rather than
 * extends it, as Helm does. */
static int read_strings(sr_conf_ctx *ctx, const sr_conf_item *it, char ***dst, size_t *ndst) {
    const sr_node *v = it->v;
    size_t n = v->kind == SR_NODE_SEQ ? v->n : 1;
    if (v->kind == SR_NODE_MAP)
        return sr_conf_wrong_value(ctx, it, "a string or a list of strings", 0);
    char **list = calloc(n ? n : 1, sizeof *list);
    if (!list)
        return out_of_memory(ctx, it);
    for (size_t i = 0; i < n; i++) {
        const sr_node *el = v->kind == SR_NODE_SEQ ? v->items[i] : v;
        if (el->kind != SR_NODE_SCALAR || el->len == 0) {
            sr_conf_wrong_element(ctx, it, el, "a non-empty string");
            goto fail;
        }
        if (!(list[i] = strdup(el->text))) {
            out_of_memory(ctx, it);
            goto fail;
        }
    }
    free_strings(*dst, *ndst);
    *dst = list;
    *ndst = n;
    return 0;
fail:
    free_strings(list, n);
    return -1;
}

static int read_enum(sr_conf_ctx *ctx, const sr_conf_key *row, const sr_conf_item *it,
                     void *field) {
    for (size_t i = 0; it->v->kind == SR_NODE_SCALAR && row->names[i]; i++)
        if (strcasecmp(it->v->text, row->names[i]) == 0) {
            memcpy(field, &row->values[i], sizeof(int));
            return 0;
        }
    return sr_conf_wrong_value(ctx, it, row->expected, 0);
}

int sr_parse_listen(const char *s, char **host, int *port) {
    const char *host_start = s, *host_end, *p;
    if (*s == '[') {
        host_start = s + 1;
        host_end = strchr(host_start, ']');
        if (!host_end || host_end[1] != ':')
            return -1;
        p = host_end + 2;
    } else {
        host_end = strrchr(s, ':');
        if (!host_end || memchr(s, ':', (size_t)(host_end - s)))
            return -1; /* no port, or an IPv6 address without brackets */
        p = host_end + 1;
    }
    if (host_end == host_start || strlen(p) > 5)
        return -1;
    long v = 0;
    for (const char *d = p; *d; d++) {
        if (!isdigit((unsigned char)*d))
            return -1;
        v = v * 10 + (*d - '0');
    }
    if (!*p || v < 1 || v > 65535)
        return -1;
    char *h = strndup(host_start, (size_t)(host_end - host_start));
    if (!h)
        return -1;
    free(*host);
    *host = h;
    *port = (int)v;
    return 0;
}

static int read_listen(sr_conf_ctx *ctx, const sr_conf_key *row, const sr_conf_item *it,
                       void *base) {
    if (it->v->kind != SR_NODE_SCALAR ||
        sr_parse_listen(it->v->text, field_of(base, row->offset), field_of(base, row->aux)) != 0)
        return sr_conf_wrong_value(ctx, it, row->expected, 0);
    return 0;
}

/* Reads one key's value (never an unset one) as `row` says. */
static int apply_row(sr_conf_ctx *ctx, const sr_conf_key *row, const sr_conf_item *it, void *base) {
    void *field = field_of(base, row->offset);
    switch (row->type) {
    case SR_CONF_BOOL: return read_bool(ctx, it, field);
    case SR_CONF_INT: return read_int(ctx, row, it, field);
    case SR_CONF_SIZE: return read_size(ctx, row, it, field);
    case SR_CONF_DURATION: return read_duration(ctx, row, it, field);
    case SR_CONF_STRING:
        return sr_conf_set_string(ctx, it, (row->flags & SR_CONF_SECRET) != 0, field);
    case SR_CONF_STRINGS: return read_strings(ctx, it, field, field_of(base, row->aux));
    case SR_CONF_ENUM: return read_enum(ctx, row, it, field);
    case SR_CONF_LISTEN: return read_listen(ctx, row, it, base);
    case SR_CONF_SECTION:
        if (sr_conf_apply_section(ctx, it, row->sub, field) != 0)
            return -1;
        return row->apply ? row->apply(ctx, it, field) : 0;
    case SR_CONF_CUSTOM: return row->apply(ctx, it, field);
    }
    return -1;
}

int sr_conf_apply_map(sr_conf_ctx *ctx, const sr_node *map, const sr_conf_key *keys, void *base) {
    if (aliases_once(ctx, map, keys) != 0)
        return -1;
    for (size_t k = 0; k < map->n; k++) {
        const sr_conf_key *row = sr_conf_find(keys, map->keys[k]);
        if (!row)
            return sr_conf_unknown_key(ctx, map, k, keys);
        sr_conf_item it = {map->keys[k], map->file, map->key_lines[k], map->items[k]};
        if (!sr_conf_is_unset(it.v) && apply_row(ctx, canonical(keys, row), &it, base) != 0)
            return -1;
    }
    return 0;
}

int sr_conf_apply_section(sr_conf_ctx *ctx, const sr_conf_item *it, const sr_conf_key *keys,
                          void *base) {
    if (it->v->kind != SR_NODE_MAP)
        return sr_conf_wrong_value(ctx, it, "a map", 0);
    return sr_conf_apply_map(ctx, it->v, keys, base);
}

/* ---- Defaults ----------------------------------------------------------- */

/* A default is read like a value in a file named "default". */
static int apply_default(const sr_conf_key *row, void *base, char *err, size_t errlen) {
    sr_node *v = sr_yaml_load_string("default", row->dflt, strlen(row->dflt), err, errlen);
    if (!v)
        return -1;
    sr_conf_ctx ctx = {.err = err, .errlen = errlen};
    sr_conf_item it = {row->name, "default", 1, v};
    int rc = apply_row(&ctx, row, &it, base);
    sr_node_free(v);
    return rc;
}

int sr_conf_set_defaults(const sr_conf_key *keys, void *base, char *err, size_t errlen) {
    for (const sr_conf_key *k = keys; k->name; k++) {
        if (k->alias_of)
            continue;
        if (k->type == SR_CONF_SECTION && !(k->flags & SR_CONF_LATE_DEFAULT) &&
            sr_conf_set_defaults(k->sub, field_of(base, k->offset), err, errlen) != 0)
            return -1;
        if (k->dflt && apply_default(k, base, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int is_value_row(const sr_conf_key *k) {
    return !k->alias_of &&
           (k->type == SR_CONF_BOOL || k->type == SR_CONF_INT || k->type == SR_CONF_SIZE ||
            k->type == SR_CONF_DURATION || k->type == SR_CONF_ENUM);
}

int sr_conf_fill_unset(const sr_conf_key *keys, void *base, const void *from) {
    char err[256];
    for (const sr_conf_key *k = keys; k->name; k++) {
        size_t size = k->type == SR_CONF_BOOL || k->type == SR_CONF_ENUM ? sizeof(int) : k->size;
        void *field = field_of(base, k->offset);
        if (!is_value_row(k) || !is_zero(field, size))
            continue;
        if (from)
            memcpy(field, cfield_of(from, k->offset), size);
        else if (k->dflt && apply_default(k, base, err, sizeof err) != 0)
            return -1;
    }
    return 0;
}

/* ---- Freeing ------------------------------------------------------------ */

static void free_string_at(void *base, size_t offset) {
    char *s;
    memcpy(&s, field_of(base, offset), sizeof s);
    free(s);
    memset(field_of(base, offset), 0, sizeof s);
}

void sr_conf_free(const sr_conf_key *keys, void *base) {
    for (const sr_conf_key *k = keys; k->name; k++) {
        if (k->alias_of)
            continue;
        void *field = field_of(base, k->offset);
        switch (k->type) {
        case SR_CONF_STRING:
        case SR_CONF_LISTEN: free_string_at(base, k->offset); break;
        case SR_CONF_STRINGS: {
            char **list;
            size_t n;
            memcpy(&list, field, sizeof list);
            memcpy(&n, field_of(base, k->aux), sizeof n);
            free_strings(list, n);
            memset(field, 0, sizeof list);
            memset(field_of(base, k->aux), 0, sizeof n);
            break;
        }
        case SR_CONF_SECTION: sr_conf_free(k->sub, field); break;
        case SR_CONF_CUSTOM:
            if (k->drop)
                k->drop(field);
            break;
        default: break;
        }
    }
}

/* ---- Printing ----------------------------------------------------------- */

/* Sizes and durations print in the largest unit that keeps them exact, as
 * a file would write them. */
static void print_size(sr_buf *out, unsigned long long n) {
    static const char *const units[] = {"GiB", "MiB", "KiB"};
    for (int i = 0; i < 3; i++) {
        unsigned long long unit = 1ull << (10 * (3 - i));
        if (n && n % unit == 0) {
            sr_buf_printf(out, "\"%llu%s\"", n / unit, units[i]);
            return;
        }
    }
    sr_buf_printf(out, "\"%llu\"", n);
}

static void print_duration(sr_buf *out, unsigned long long ms) {
    static const struct {
        const char *unit;
        unsigned long long ms;
    } units[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}};
    for (int i = 0; i < 3; i++)
        if (ms && ms % units[i].ms == 0) {
            sr_buf_printf(out, "\"%llu%s\"", ms / units[i].ms, units[i].unit);
            return;
        }
    sr_buf_printf(out, "\"%llums\"", ms);
}

static void print_string(sr_buf *out, const char *s, int secret) {
    if (!s)
        sr_buf_puts(out, "null");
    else if (secret)
        sr_buf_puts(out, "\"" MASKED "\"");
    else
        sr_buf_json_string(out, s, strlen(s));
}

static void print_enum(sr_buf *out, const sr_conf_key *row, const void *field) {
    int v;
    memcpy(&v, field, sizeof v);
    for (size_t i = 0; row->names[i]; i++)
        if (row->values[i] == v) {
            print_string(out, row->names[i], 0);
            return;
        }
    sr_buf_puts(out, "null");
}

static void print_listen(sr_buf *out, const sr_conf_key *row, const void *base) {
    const char *host;
    int port;
    memcpy(&host, cfield_of(base, row->offset), sizeof host);
    memcpy(&port, cfield_of(base, row->aux), sizeof port);
    if (!host) {
        sr_buf_puts(out, "null");
        return;
    }
    sr_buf tmp = SR_BUF_INIT;
    sr_buf_printf(&tmp, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    sr_buf_json_string(out, tmp.data, tmp.len);
    sr_buf_free(&tmp);
}

static void print_strings(sr_buf *out, const sr_conf_key *row, const void *base) {
    char **list;
    size_t n;
    memcpy(&list, cfield_of(base, row->offset), sizeof list);
    memcpy(&n, cfield_of(base, row->aux), sizeof n);
    sr_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            sr_buf_putc(out, ',');
        print_string(out, list[i], 0);
    }
    sr_buf_putc(out, ']');
}

static void print_value(sr_buf *out, const sr_conf_key *row, const void *base) {
    const void *field = cfield_of(base, row->offset);
    switch (row->type) {
    case SR_CONF_BOOL: sr_buf_puts(out, get_signed(field, sizeof(int)) ? "true" : "false"); break;
    case SR_CONF_INT:
        if (row->min < 0)
            sr_buf_printf(out, "%lld", get_signed(field, row->size));
        else
            sr_buf_printf(out, "%llu", get_unsigned(field, row->size));
        break;
    case SR_CONF_SIZE: print_size(out, get_unsigned(field, row->size)); break;
    case SR_CONF_DURATION: print_duration(out, get_unsigned(field, row->size)); break;
    case SR_CONF_STRING: {
        const char *s;
        memcpy(&s, field, sizeof s);
        print_string(out, s, (row->flags & SR_CONF_SECRET) != 0);
        break;
    }
    case SR_CONF_STRINGS: print_strings(out, row, base); break;
    case SR_CONF_ENUM:
        if (row->print) /* an enum standing for another type (a boolean with "unset") */
            row->print(out, field);
        else
            print_enum(out, row, field);
        break;
    case SR_CONF_LISTEN: print_listen(out, row, base); break;
    case SR_CONF_SECTION: sr_conf_print_json(out, row->sub, field); break;
    case SR_CONF_CUSTOM:
        if (row->print)
            row->print(out, field);
        else
            sr_buf_puts(out, "null");
        break;
    }
}

void sr_conf_print_json(sr_buf *out, const sr_conf_key *keys, const void *base) {
    int first = 1;
    sr_buf_putc(out, '{');
    for (const sr_conf_key *k = keys; k->name; k++) {
        if (k->alias_of || (k->flags & SR_CONF_NOT_PRINTED))
            continue;
        if (!first)
            sr_buf_putc(out, ',');
        first = 0;
        sr_buf_json_string(out, k->name, strlen(k->name));
        sr_buf_putc(out, ':');
        print_value(out, k, base);
    }
    sr_buf_putc(out, '}');
}

/* ---- Reference ---------------------------------------------------------- */

void sr_conf_reference(sr_buf *out, const sr_conf_key *keys, const char *prefix) {
    for (const sr_conf_key *k = keys; k->name; k++) {
        if (k->alias_of || (k->flags & SR_CONF_NOT_DOCUMENTED))
            continue;
        sr_buf path = SR_BUF_INIT;
        sr_buf_printf(&path, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", k->name);
        if (k->type == SR_CONF_SECTION && !k->doc) {
            sr_conf_reference(out, k->sub, path.data);
        } else {
            sr_buf_printf(out, "| `%s`%s | ", path.data,
                          k->flags & SR_CONF_SECRET ? " (*secret*)" : "");
            if (k->doc_default)
                sr_buf_puts(out, k->doc_default);
            else if (k->dflt)
                sr_buf_printf(out, "`%s`", k->dflt);
            else
                sr_buf_puts(out, "none");
            sr_buf_printf(out, " | %s |\n", k->doc ? k->doc : "");
        }
        sr_buf_free(&path);
    }
}
