/* node.c - reading a configuration tree: lookups, scalar conversions, deep
 * copies and "did you mean" suggestions. Building trees from YAML is
 * yaml_load.c's job.
 *
 * Ownership: every node of a tree points at one `file` string, owned by the
 * tree's root. sr_node_free() is therefore only ever called on a root (what
 * sr_yaml_load_*() or sr_node_clone() returned); it frees the file name
 * along with the nodes. */
#include "node.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- Freeing and copying ------------------------------------------------ */

static void free_tree(sr_node *n) {
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            free(n->keys[i]);
        free_tree(n->items[i]);
    }
    free(n->keys);
    free(n->key_lines);
    free(n->items);
    free(n->text);
    free(n);
}

void sr_node_free(sr_node *root) {
    if (!root)
        return;
    char *file = (char *)root->file; /* the root owns it; see the top of this file */
    free_tree(root);
    free(file);
}

static char *memdup0(const char *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Copies `src` below a root whose file name is `file`. */
static sr_node *copy_tree(const sr_node *src, const char *file) {
    sr_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = src->kind;
    n->file = file;
    n->line = src->line;
    n->col = src->col;
    n->quoted = src->quoted;
    n->is_null = src->is_null;
    n->expanded = src->expanded;
    if (src->kind == SR_NODE_SCALAR) {
        n->len = src->len;
        if (!(n->text = memdup0(src->text, src->len)))
            goto fail;
        return n;
    }
    if (src->n == 0)
        return n;
    n->items = calloc(src->n, sizeof *n->items);
    if (!n->items)
        goto fail;
    if (src->kind == SR_NODE_MAP) {
        n->keys = calloc(src->n, sizeof *n->keys);
        n->key_lines = malloc(src->n * sizeof *n->key_lines);
        if (!n->keys || !n->key_lines)
            goto fail;
        memcpy(n->key_lines, src->key_lines, src->n * sizeof *n->key_lines);
    }
    /* n->n counts filled slots, so a partial copy frees cleanly. */
    for (size_t i = 0; i < src->n; i++) {
        if (n->keys && !(n->keys[i] = strdup(src->keys[i])))
            goto fail;
        n->n = i + 1;
        if (!(n->items[i] = copy_tree(src->items[i], file)))
            goto fail;
    }
    return n;
fail:
    free_tree(n);
    return NULL;
}

sr_node *sr_node_clone(const sr_node *src) {
    if (!src)
        return NULL;
    char *file = strdup(src->file ? src->file : "");
    if (!file)
        return NULL;
    sr_node *n = copy_tree(src, file);
    if (!n)
        free(file);
    return n;
}

/* ---- Lookup ------------------------------------------------------------- */

int sr_node_index(const sr_node *map, const char *key) {
    if (!map || map->kind != SR_NODE_MAP)
        return -1;
    for (size_t i = 0; i < map->n; i++)
        if (strcasecmp(map->keys[i], key) == 0)
            return (int)i;
    return -1;
}

sr_node *sr_node_get(const sr_node *map, const char *key) {
    int i = sr_node_index(map, key);
    return i < 0 ? NULL : map->items[i];
}

/* ---- Scalar conversions ------------------------------------------------- */

/* A scalar with something in it: null and empty values convert to nothing. */
static const char *scalar_text(const sr_node *n) {
    if (!n || n->kind != SR_NODE_SCALAR || n->is_null || n->len == 0)
        return NULL;
    return n->text;
}

int sr_node_bool(const sr_node *n, int *out) {
    static const char *const truthy[] = {"true", "yes", "on"};
    static const char *const falsy[] = {"false", "no", "off"};
    const char *s = scalar_text(n);
    if (!s)
        return -1;
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, truthy[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, falsy[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* Reads the decimal digits at *p as an unsigned value, advancing *p. -1 if
 * there are none or the value does not fit. */
static int read_digits(const char **p, unsigned long long *out) {
    const char *s = *p;
    unsigned long long v = 0;
    if (!isdigit((unsigned char)*s))
        return -1;
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *p = s;
    *out = v;
    return 0;
}

int sr_node_int(const sr_node *n, long long *out) {
    const char *s = scalar_text(n);
    if (!s)
        return -1;
    int neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    unsigned long long v;
    if (read_digits(&s, &v) != 0 || *s != '\0')
        return -1;
    /* LLONG_MIN's magnitude is one more than LLONG_MAX's. */
    unsigned long long limit = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
    if (v > limit)
        return -1;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 0;
}

typedef struct unit {
    const char *suffix;
    unsigned long long factor;
} unit;

/* Parses "<digits>[ ]<unit>" with a unit from `units` (case-insensitive;
 * the entry with suffix "" is the bare number). */
static int scaled(const sr_node *n, const unit *units, size_t nunits, unsigned long long *out) {
    const char *s = scalar_text(n);
    unsigned long long v;
    if (!s || read_digits(&s, &v) != 0)
        return -1;
    while (*s == ' ')
        s++;
    for (size_t i = 0; i < nunits; i++) {
        if (strcasecmp(s, units[i].suffix) != 0)
            continue;
        if (v > ULLONG_MAX / units[i].factor)
            return -1;
        *out = v * units[i].factor;
        return 0;
    }
    return -1;
}

/* Sizes are binary throughout: "KB" is 1024 bytes, as in most server
 * configuration, since nobody means 1000 when sizing a buffer. */
int sr_node_size(const sr_node *n, unsigned long long *out) {
    static const unit units[] = {
        {"", 1},
        {"b", 1},
        {"k", 1ull << 10},
        {"kb", 1ull << 10},
        {"kib", 1ull << 10},
        {"m", 1ull << 20},
        {"mb", 1ull << 20},
        {"mib", 1ull << 20},
        {"g", 1ull << 30},
        {"gb", 1ull << 30},
        {"gib", 1ull << 30},
    };
    return scaled(n, units, sizeof units / sizeof units[0], out);
}

int sr_node_duration_ms(const sr_node *n, unsigned long long *out) {
    static const unit units[] = {
        {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000},
    };
    return scaled(n, units, sizeof units / sizeof units[0], out);
}

/* ---- Suggestions -------------------------------------------------------- */

/* Longer words are never compared: a typo in something that long is not
 * what a suggestion helps with, and it keeps the distance rows on the stack. */
#define SUGGEST_MAX_LEN 128

/* Case-insensitive Levenshtein distance, or SIZE_MAX when a word is too long. */
static size_t distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    size_t row[SUGGEST_MAX_LEN + 1];
    if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0]; /* row[i-1][j-1] */
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *sr_suggest(const char *word, const char *const *candidates) {
    if (!word || !candidates)
        return NULL;
    size_t len = strlen(word);
    size_t limit = len / 3 > 2 ? len / 3 : 2;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (const char *const *c = candidates; *c; c++) {
        size_t d = distance(word, *c);
        if (d < best_d) {
            best = *c;
            best_d = d;
        }
    }
    return best;
}
