/* conf_table.h - a configuration section described as a table of keys.
 *
 * A section (a YAML map) is a NULL-terminated array of sr_conf_key rows, one
 * per key: its name, its type, where its value goes (an offset into the
 * section's struct), its default, its limits and its documentation. The one
 * table drives everything about the section:
 *   - sr_conf_apply_map() reads a map into the struct;
 *   - sr_conf_set_defaults() / sr_conf_fill_unset() write the defaults;
 *   - sr_conf_print_json() prints the effective values (`--check`);
 *   - sr_conf_reference() writes the rows of docs/configuration.md's tables.
 * So a default is written once, as YAML text in its row, and is read by the
 * same code that reads the files. Owners declare the table next to their
 * struct (queue.h, delivery.h); the config layer composes them through
 * SR_CONF_SECTION rows.
 *
 * Reading: keys match ASCII case-insensitively; an unknown key is an error
 * that suggests the closest known one; a key without a value (`key:`,
 * `key: ~`) changes nothing; a later value replaces an earlier one. An alias
 * row is another spelling of a key of the same table (Sysdig's names, the
 * `*_file` spellings): writing both in one map is an error.
 *
 * Errors: every function that reads returns 0 or -1 and writes
 * "FILE:LINE: key 'x': expected WHAT, got 'VALUE'" (or another message of
 * that shape) into ctx->err. Values of SR_CONF_SECRET keys never appear in
 * an error or in printed output. */
#ifndef SR_CONF_TABLE_H
#define SR_CONF_TABLE_H

#include <stddef.h>

#include "buf.h"
#include "node.h"

typedef enum {
    SR_CONF_BOOL,     /* int: true/false, yes/no, on/off */
    SR_CONF_INT,      /* an integer field (any width) within [min, max] */
    SR_CONF_SIZE,     /* bytes, 1..max (max 0: the field's range) */
    SR_CONF_DURATION, /* milliseconds, 1..max (0 too with SR_CONF_ZERO_OK) */
    SR_CONF_STRING,   /* char *, malloc'd, non-empty */
    SR_CONF_STRINGS,  /* char ** at offset, its size_t count at aux: one string or a list */
    SR_CONF_ENUM,     /* an int-sized enum: names[i] (any case) sets values[i] */
    SR_CONF_LISTEN,   /* "host:port" or "[v6]:port": char * host at offset, int port at aux */
    SR_CONF_SECTION,  /* a map, read with `sub` into the struct at offset */
    SR_CONF_CUSTOM,   /* read by `apply` (and printed by `print`) */
} sr_conf_type;

enum {
    SR_CONF_SECRET = 1 << 0,         /* never echoed, printed as "******" */
    SR_CONF_ZERO_OK = 1 << 1,        /* DURATION: 0 is allowed */
    SR_CONF_LATE_DEFAULT = 1 << 2,   /* SECTION: zero means "unset"; its owner fills the
                                        defaults later (sr_conf_fill_unset) */
    SR_CONF_NOT_PRINTED = 1 << 3,    /* left out of sr_conf_print_json */
    SR_CONF_NOT_DOCUMENTED = 1 << 4, /* left out of sr_conf_reference */
};

/* Whoever reads: where errors go, and the reader's own state for custom rows. */
typedef struct sr_conf_ctx {
    char *err;
    size_t errlen;
    void *ud;
} sr_conf_ctx;

/* One key of a map, as a row's reader sees it. */
typedef struct sr_conf_item {
    const char *key; /* as written */
    const char *file;
    int line; /* the key's line */
    const sr_node *v;
} sr_conf_item;

/* `field` is the section's struct plus the row's offset. A SECTION row's
 * `apply` runs after its map was read (to check the result as a whole). */
typedef int (*sr_conf_apply_fn)(sr_conf_ctx *ctx, const sr_conf_item *it, void *field);
typedef void (*sr_conf_print_fn)(sr_buf *out, const void *field);
typedef void (*sr_conf_drop_fn)(void *field);

typedef struct sr_conf_key {
    const char *name;
    sr_conf_type type;
    unsigned flags;
    size_t offset;            /* of the value in the section's struct */
    size_t size;              /* of the value (INT, SIZE, DURATION, ENUM) */
    size_t aux;               /* STRINGS: the count's offset; LISTEN: the port's */
    const char *dflt;         /* the default, as YAML text; NULL: zero */
    long long min, max;       /* INT; SIZE and DURATION use max (0: no limit) */
    const char *expected;     /* INT, ENUM, LISTEN: what an error says was expected */
    const char *const *names; /* ENUM: NULL-terminated; printed as the first match */
    const int *values;
    const struct sr_conf_key *sub; /* SECTION */
    sr_conf_apply_fn apply;        /* CUSTOM: reads; SECTION: checks after reading */
    sr_conf_print_fn print;  /* CUSTOM (or an ENUM standing for a boolean): the value as JSON */
    sr_conf_drop_fn drop;    /* CUSTOM: frees what `apply` allocated */
    const char *alias_of;    /* another spelling of that key of this table */
    const char *doc_default; /* the reference's default, when `dflt` does not say it */
    const char *doc;         /* the reference's meaning; a SECTION with one is one row */
} sr_conf_key;

/* offset and size of `field` in struct `type`, for a row. */
#define SR_CONF_AT(type, field) .offset = offsetof(type, field), .size = sizeof(((type *)0)->field)

/* Reads `map` with `keys` into `base`. */
int sr_conf_apply_map(sr_conf_ctx *ctx, const sr_node *map, const sr_conf_key *keys, void *base);
/* Reads a key whose value must be a map (a section) with `keys` into `base`. */
int sr_conf_apply_section(sr_conf_ctx *ctx, const sr_conf_item *it, const sr_conf_key *keys,
                          void *base);

/* The row named `key` (case-insensitive; an alias gives its own row), or NULL. */
const sr_conf_key *sr_conf_find(const sr_conf_key *keys, const char *key);
/* The known key closest to `key`, or NULL. */
const char *sr_conf_suggest(const sr_conf_key *keys, const char *key);
/* "unknown key 'x' (did you mean 'y'?)" for the k-th key of `map`; -1. */
int sr_conf_unknown_key(sr_conf_ctx *ctx, const sr_node *map, size_t k, const sr_conf_key *keys);

/* Writes every default of `keys` (and of its sections but SR_CONF_LATE_DEFAULT
 * ones) into `base`. */
int sr_conf_set_defaults(const sr_conf_key *keys, void *base, char *err, size_t errlen);
/* Sets the fields of `base` that are still zero from `from` (same struct),
 * then, with from NULL, from the rows' defaults. Value rows only. */
int sr_conf_fill_unset(const sr_conf_key *keys, void *base, const void *from);

/* Frees what reading `keys` allocated in `base` (strings, lists, hosts,
 * what custom rows' `drop` frees), sections included, and zeroes those
 * fields. */
void sr_conf_free(const sr_conf_key *keys, void *base);

/* `{"key":value,...}` of `base`'s effective values; secrets as "******". */
void sr_conf_print_json(sr_buf *out, const sr_conf_key *keys, const void *base);
/* One Markdown row "| `prefix.key` | default | meaning |" per documented key. */
void sr_conf_reference(sr_buf *out, const sr_conf_key *keys, const char *prefix);

/* Helpers for custom rows, with the same message shapes. */
int sr_conf_fail(sr_conf_ctx *ctx, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "key 'K': expected WHAT, got 'VALUE'" (the value left out when secret). */
int sr_conf_wrong_value(sr_conf_ctx *ctx, const sr_conf_item *it, const char *expected, int secret);
/* The same for one element `el` of a list value. */
int sr_conf_wrong_element(sr_conf_ctx *ctx, const sr_conf_item *it, const sr_node *el,
                          const char *expected);
/* A list of names (or one name) read into a bit mask: channels, message
 * types. */
typedef struct sr_conf_names {
    const char *list_what;    /* what a map gets told: "a list of message types" */
    const char *name_what;    /* what a non-scalar element gets told: "a message type name" */
    const char *kind;         /* in "unknown KIND 'X'": "message type" */
    const char *const *names; /* the known names, for "did you mean"; NULL-terminated */
    unsigned (*parse)(const char *text); /* a name's bit; 0: unknown */
    /* For a name parse does not know (may be NULL): 1 to skip it, -1 after
     * sr_conf_fail, 0 to report it as unknown. */
    int (*unknown)(sr_conf_ctx *ctx, const sr_conf_item *it, const sr_node *el);
} sr_conf_names;
/* Replaces *mask: listing names is choosing them. 0, or -1 (reported). */
int sr_conf_read_names(sr_conf_ctx *ctx, const sr_conf_item *it, const sr_conf_names *spec,
                       unsigned *mask);
/* A non-empty string value into *dst (replacing it). */
int sr_conf_set_string(sr_conf_ctx *ctx, const sr_conf_item *it, int secret, char **dst);
/* `key:` and `key: ~` say nothing (a quoted "" does). */
int sr_conf_is_unset(const sr_node *v);
/* Splits "host:port" or "[v6 address]:port" (port 1-65535); *host is
 * replaced by a malloc'd copy. Returns 0 or -1. */
int sr_parse_listen(const char *s, char **host, int *port);

#endif
