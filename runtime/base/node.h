/* node.h - a configuration document as a tree that remembers where every
 * value came from.
 *
 * The YAML loader (yaml_load.c) builds it; config.c reads siemrelay's own
 * sections from it; integration options are checked against each type's Lua
 * option schema from it. Every node carries file, line and column so any
 * error can name them. Scalars are kept as text: their meaning (string,
 * integer, boolean) is decided by whoever reads them. ${VAR} references are
 * expanded when the tree is loaded; `expanded` records that a scalar came
 * (partly) from the environment. */
#ifndef SR_NODE_H
#define SR_NODE_H

#include <stddef.h>

typedef enum { SR_NODE_SCALAR, SR_NODE_MAP, SR_NODE_SEQ } sr_node_kind;

typedef struct sr_node sr_node;

struct sr_node {
    sr_node_kind kind;
    const char *file; /* shared, owned by the document root */
    int line, col;    /* 1-based */
    /* SR_NODE_SCALAR */
    char *text; /* NUL-terminated; "" for an empty or null scalar */
    size_t len;
    int quoted;   /* 1 if written quoted ('..' or ".."): never null/bool-like */
    int is_null;  /* plain "~", "null" or empty */
    int expanded; /* contained ${VAR} */
    /* SR_NODE_MAP: keys[i] -> items[i]; SR_NODE_SEQ: items[i], keys NULL */
    size_t n;
    char **keys;
    int *key_lines;
    sr_node **items;
};

void sr_node_free(sr_node *root);

/* Map lookup, ASCII case-insensitive. NULL if absent or `map` is not a map. */
sr_node *sr_node_get(const sr_node *map, const char *key);
/* Index of `key` in `map` (case-insensitive), or -1. */
int sr_node_index(const sr_node *map, const char *key);

/* Scalar conversions. Each returns 0 on success, -1 if the node is not a
 * scalar of that kind (e.g. "yes" is a boolean, "12k" is not an integer). */
int sr_node_bool(const sr_node *n, int *out); /* true/false/yes/no/on/off */
int sr_node_int(const sr_node *n, long long *out);
/* Sizes accept plain bytes or KB/MB/GB/KiB/MiB/GiB suffixes. */
int sr_node_size(const sr_node *n, unsigned long long *out);
/* Durations accept ms, s, m, h suffixes; a bare number is milliseconds. */
int sr_node_duration_ms(const sr_node *n, unsigned long long *out);

/* Deep copy (used when an integration outlives the document it came from). */
sr_node *sr_node_clone(const sr_node *n);

/* Levenshtein-nearest of `candidates` (NULL-terminated) to `word`,
 * case-insensitive, or NULL when nothing is within a useful distance. Used
 * for "unknown key 'Endpont', did you mean 'endpoint'?". */
const char *sr_suggest(const char *word, const char *const *candidates);

#endif
