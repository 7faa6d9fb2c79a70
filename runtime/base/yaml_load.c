/* yaml_load.c - one YAML document to an sr_node tree, through libyaml's
 * event API, remembering file, line and column of every node.
 *
 * What the loader decides on top of plain YAML (docs/configuration.md has
 * the user's view):
 *   - One document per file; a second one is an error.
 *   - A key appearing twice in one map (compared case-insensitively, as
 *     lookups are) is an error naming both lines. Keys must be scalars.
 *   - Aliases are expanded by copying the anchored node, which must be
 *     complete (no self-reference). The copy keeps the anchor's positions.
 *     Merge keys (`<<: *base`) are rejected rather than half-supported.
 *   - ${NAME} and ${NAME:-default} are expanded in scalar values, not keys;
 *     `$${` stands for a literal "${".
 *   - A token made only of '*' where a value goes (`ServiceToken: ***`) is
 *     the literal text. YAML reads it as an alias to an anchor named "**",
 *     which cannot exist, and libyaml refuses to scan it at all; but that is
 *     how Sysdig publishes its masked secrets, and its example must load
 *     unchanged. The loader retries such a failure with the stars replaced by
 *     a same-length placeholder (so every position stays put) and restores
 *     them in the scalar it gets back.
 *   - Node count and nesting depth are bounded, so a document of aliases of
 *     aliases cannot expand without limit. */
#include "node.h"
#include "yaml_load.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "array.h"
#include "buf.h"

#define MAX_DEPTH      128
#define MAX_NODES      100000
#define MAX_FILE_BYTES (16u << 20)
#define MAX_STAR_RUNS  1024 /* '*' tokens taken as text, per document */
#define STAR_STANDIN   '_'

/* A '*' run read as text: where it starts, in libyaml's character count. */
typedef struct star_run {
    size_t index;
    size_t len;
} star_run;

/* An open collection. */
typedef struct frame {
    sr_node *node;
    size_t cap; /* slots allocated in node's arrays */
    char *key;  /* map: the key waiting for its value */
    int key_line;
    char *anchor; /* registered once the collection is complete */
} frame;

typedef struct anchor {
    char *name;
    const sr_node *node;
} anchor;

typedef struct loader {
    char *file; /* owned here until the root exists, then by the root */
    char *err;
    size_t errlen;
    sr_node *root;
    frame *stack;
    size_t depth, stack_cap;
    anchor *anchors;
    size_t nanchors, anchors_cap;
    size_t nodes; /* made so far, against MAX_NODES */
    int documents;
    const star_run *stars;
    size_t nstars;
} loader;

/* ---- Errors ------------------------------------------------------------- */

static int fail_at(loader *ld, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes "FILE:LINE:COL: message" (COL omitted when 0) and returns -1. */
static int fail_at(loader *ld, int line, int col, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (col > 0)
        snprintf(ld->err, ld->errlen, "%s:%d:%d: %s", ld->file, line, col, msg);
    else
        snprintf(ld->err, ld->errlen, "%s:%d: %s", ld->file, line, msg);
    return -1;
}

static int fail_mark(loader *ld, yaml_mark_t m, const char *msg) {
    return fail_at(ld, (int)m.line + 1, (int)m.column + 1, "%s", msg);
}

static int out_of_memory(loader *ld) {
    snprintf(ld->err, ld->errlen, "%s: out of memory", ld->file);
    return -1;
}

/* ---- Building the tree -------------------------------------------------- */

static sr_node *new_node(loader *ld, sr_node_kind kind, yaml_mark_t m) {
    if (ld->nodes >= MAX_NODES) {
        fail_at(ld, (int)m.line + 1, (int)m.column + 1, "document has more than %d nodes",
                MAX_NODES);
        return NULL;
    }
    sr_node *n = calloc(1, sizeof *n);
    if (!n) {
        out_of_memory(ld);
        return NULL;
    }
    ld->nodes++;
    n->kind = kind;
    n->file = ld->file;
    n->line = (int)m.line + 1;
    n->col = (int)m.column + 1;
    return n;
}

static int grow(frame *f) {
    sr_node *c = f->node;
    size_t cap = f->cap ? f->cap * 2 : 4;
    sr_node **items = realloc(c->items, cap * sizeof *items);
    if (!items)
        return -1;
    c->items = items;
    if (c->kind == SR_NODE_MAP) {
        char **keys = realloc(c->keys, cap * sizeof *keys);
        if (!keys)
            return -1;
        c->keys = keys;
        int *lines = realloc(c->key_lines, cap * sizeof *lines);
        if (!lines)
            return -1;
        c->key_lines = lines;
    }
    f->cap = cap;
    return 0;
}

/* Frees a node that never made it into the tree. It shares the file name
 * with the tree, so it must not free that. */
static void free_detached(sr_node *n) {
    if (n) {
        n->file = NULL;
        sr_node_free(n);
    }
}

/* Puts `n` where the document is at: the root, the next item of a list or
 * the value of the pending key. Takes ownership of `n` even on failure. */
static int attach(loader *ld, sr_node *n) {
    if (ld->depth == 0) {
        ld->root = n; /* and with it, the file name */
        return 0;
    }
    frame *f = &ld->stack[ld->depth - 1];
    sr_node *c = f->node;
    if (c->n == f->cap && grow(f) != 0) {
        free_detached(n);
        return out_of_memory(ld);
    }
    if (c->kind == SR_NODE_MAP) {
        c->keys[c->n] = f->key;
        c->key_lines[c->n] = f->key_line;
        f->key = NULL;
    }
    c->items[c->n++] = n;
    return 0;
}

/* True when the open collection is a map that waits for a key. */
static int expecting_key(const loader *ld) {
    if (ld->depth == 0)
        return 0;
    const frame *f = &ld->stack[ld->depth - 1];
    return f->node->kind == SR_NODE_MAP && f->key == NULL;
}

static int add_anchor(loader *ld, const yaml_char_t *name, const sr_node *n) {
    anchor *a = sr_array_grow(ld->anchors, &ld->anchors_cap, ld->nanchors + 1, sizeof *a, 8);
    if (!a)
        return out_of_memory(ld);
    ld->anchors = a;
    char *copy = strdup((const char *)name);
    if (!copy)
        return out_of_memory(ld);
    ld->anchors[ld->nanchors].name = copy;
    ld->anchors[ld->nanchors].node = n;
    ld->nanchors++;
    return 0;
}

/* The latest definition wins, as YAML says. */
static const sr_node *find_anchor(const loader *ld, const char *name) {
    for (size_t i = ld->nanchors; i-- > 0;)
        if (strcmp(ld->anchors[i].name, name) == 0)
            return ld->anchors[i].node;
    return NULL;
}

/* ---- Keys --------------------------------------------------------------- */

static int on_key(loader *ld, const yaml_event_t *ev) {
    frame *f = &ld->stack[ld->depth - 1];
    const char *key = (const char *)ev->data.scalar.value;
    yaml_mark_t m = ev->start_mark;
    int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (plain && strcmp(key, "<<") == 0)
        return fail_mark(ld, m, "merge keys ('<<') are not supported; repeat the keys instead");
    for (size_t i = 0; i < f->node->n; i++)
        if (strcasecmp(f->node->keys[i], key) == 0)
            return fail_at(ld, (int)m.line + 1, (int)m.column + 1,
                           "duplicate key '%s' (first defined on line %d)", key,
                           f->node->key_lines[i]);
    if (!(f->key = strdup(key)))
        return out_of_memory(ld);
    f->key_line = (int)m.line + 1;
    return 0;
}

/* ---- Scalars ------------------------------------------------------------ */

static int valid_env_name(const char *s, size_t n) {
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

/* Appends the value of the reference `ref` (the text between "${" and "}")
 * to `out`. Like the shell, ":-" picks the default when the variable is
 * unset or empty. */
static int expand_ref(loader *ld, int line, const char *ref, size_t n, sr_buf *out) {
    const char *sep = memchr(ref, ':', n);
    size_t name_len = sep ? (size_t)(sep - ref) : n;
    char name[256];
    if (!valid_env_name(ref, name_len) || name_len >= sizeof name ||
        (sep && (sep + 1 >= ref + n || sep[1] != '-')))
        return fail_at(ld, line, 0,
                       "invalid environment reference '${%.*s}' (expected ${NAME} or "
                       "${NAME:-default})",
                       (int)(n > 64 ? 64 : n), ref);
    memcpy(name, ref, name_len);
    name[name_len] = '\0';
    const char *def = sep ? sep + 2 : NULL;
    size_t def_len = sep ? n - name_len - 2 : 0;
    if (def && (memchr(def, '$', def_len) || memchr(def, '{', def_len)))
        return fail_at(ld, line, 0, "environment default for %s cannot contain references", name);

    const char *val = getenv(name);
    int rc;
    if (val && (*val || !def))
        rc = sr_buf_puts(out, val);
    else if (def)
        rc = sr_buf_append(out, def, def_len);
    else
        return fail_at(ld, line, 0, "environment variable %s is not set", name);
    return rc == 0 ? 0 : out_of_memory(ld);
}

/* Copies [s, s+n) into `out` with environment references expanded. */
static int expand_env(loader *ld, int line, const char *s, size_t n, sr_buf *out, int *expanded) {
    size_t i = 0;
    while (i < n) {
        const char *dollar = memchr(s + i, '$', n - i);
        size_t upto = dollar ? (size_t)(dollar - s) : n;
        if (sr_buf_append(out, s + i, upto - i) != 0)
            return out_of_memory(ld);
        i = upto;
        if (i == n)
            break;
        if (i + 2 < n && s[i + 1] == '$' && s[i + 2] == '{') { /* "$${": a literal "${" */
            if (sr_buf_append(out, "${", 2) != 0)
                return out_of_memory(ld);
            i += 3;
            continue;
        }
        if (i + 1 < n && s[i + 1] == '{') {
            const char *close = memchr(s + i + 2, '}', n - i - 2);
            if (!close)
                return fail_at(ld, line, 0, "unterminated '${' (write '$${' for a literal)");
            size_t ref_len = (size_t)(close - (s + i + 2));
            if (expand_ref(ld, line, s + i + 2, ref_len, out) != 0)
                return -1;
            *expanded = 1;
            i += ref_len + 3;
            continue;
        }
        if (sr_buf_putc(out, '$') != 0) /* a '$' on its own is just text */
            return out_of_memory(ld);
        i++;
    }
    if (!out->data && sr_buf_append(out, "", 0) != 0) /* "" rather than NULL */
        return out_of_memory(ld);
    return 0;
}

/* YAML's core-schema nulls, for plain scalars. */
static int null_text(const char *s, size_t n) {
    return n == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

static const star_run *star_run_at(const loader *ld, size_t index) {
    for (size_t i = 0; i < ld->nstars; i++)
        if (ld->stars[i].index == index)
            return &ld->stars[i];
    return NULL;
}

static int on_value(loader *ld, const yaml_event_t *ev) {
    const char *raw = (const char *)ev->data.scalar.value;
    size_t raw_len = ev->data.scalar.length;
    yaml_mark_t m = ev->start_mark;
    const char *tag = (const char *)ev->data.scalar.tag;
    /* Quoted, block (| >) and !!str scalars are strings, never null or bool. */
    int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                !(tag && strcmp(tag, YAML_STR_TAG) == 0);
    sr_buf text = SR_BUF_INIT;
    int expanded = 0;

    sr_node *n = new_node(ld, SR_NODE_SCALAR, m);
    if (!n)
        return -1;
    if (expand_env(ld, (int)m.line + 1, raw, raw_len, &text, &expanded) != 0)
        goto fail;
    const star_run *stars = star_run_at(ld, m.index);
    if (stars && stars->len <= text.len)
        memset(text.data, '*', stars->len);
    n->text = sr_buf_steal(&text, &n->len);
    n->quoted = !plain;
    n->expanded = expanded;
    /* Decided on the expanded text: `${TOKEN:-}` with TOKEN unset is null,
     * as if the file had said nothing there. */
    n->is_null = plain && null_text(n->text, n->len);
    if (n->is_null) {
        n->text[0] = '\0';
        n->len = 0;
    }
    if (attach(ld, n) != 0)
        return -1;
    if (ev->data.scalar.anchor)
        return add_anchor(ld, ev->data.scalar.anchor, n);
    return 0;
fail:
    sr_buf_free(&text);
    free_detached(n);
    return -1;
}

/* ---- Collections and aliases -------------------------------------------- */

static int on_start(loader *ld, const yaml_event_t *ev, sr_node_kind kind,
                    const yaml_char_t *anchor_name) {
    if (ld->depth >= MAX_DEPTH)
        return fail_at(ld, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                       "nesting is deeper than %d levels", MAX_DEPTH);
    frame *s = sr_array_grow(ld->stack, &ld->stack_cap, ld->depth + 1, sizeof *s, 16);
    if (!s)
        return out_of_memory(ld);
    ld->stack = s;
    char *anchor_copy = NULL;
    if (anchor_name && !(anchor_copy = strdup((const char *)anchor_name)))
        return out_of_memory(ld);
    sr_node *n = new_node(ld, kind, ev->start_mark);
    if (!n || attach(ld, n) != 0) {
        free(anchor_copy);
        return -1;
    }
    ld->stack[ld->depth++] = (frame){.node = n, .anchor = anchor_copy};
    return 0;
}

static int on_end(loader *ld) {
    frame f = ld->stack[--ld->depth];
    int rc = f.anchor ? add_anchor(ld, (const yaml_char_t *)f.anchor, f.node) : 0;
    free(f.anchor);
    free(f.key);
    return rc;
}

/* Nodes in `n` and its height, to bound what an alias adds. */
static void measure(const sr_node *n, size_t *count, size_t *height) {
    size_t h = 0;
    *count += 1;
    for (size_t i = 0; i < n->n; i++) {
        size_t sub = 0;
        measure(n->items[i], count, &sub);
        if (sub > h)
            h = sub;
    }
    *height = h + 1;
}

/* sr_node_clone() gives its copy a file name of its own; an alias's copy
 * lives in this tree and shares the tree's. */
static void share_file(sr_node *n, const char *file) {
    n->file = file;
    for (size_t i = 0; i < n->n; i++)
        share_file(n->items[i], file);
}

static int on_alias(loader *ld, const yaml_event_t *ev) {
    const char *name = (const char *)ev->data.alias.anchor;
    yaml_mark_t m = ev->start_mark;
    if (expecting_key(ld))
        return fail_mark(ld, m, "an alias cannot be a map key");
    const sr_node *src = find_anchor(ld, name);
    if (!src)
        return fail_at(ld, (int)m.line + 1, (int)m.column + 1,
                       "alias '*%s' has no anchor '&%s' defined (and complete) before it", name,
                       name);
    size_t count = 0, height = 0;
    measure(src, &count, &height);
    if (ld->depth + height > MAX_DEPTH)
        return fail_at(ld, (int)m.line + 1, (int)m.column + 1,
                       "alias '*%s' makes nesting deeper than %d levels", name, MAX_DEPTH);
    if (count > MAX_NODES - ld->nodes)
        return fail_at(ld, (int)m.line + 1, (int)m.column + 1,
                       "alias '*%s' makes the document larger than %d nodes", name, MAX_NODES);
    sr_node *n = sr_node_clone(src);
    if (!n)
        return out_of_memory(ld);
    char *own_file = (char *)n->file;
    share_file(n, ld->file);
    free(own_file);
    ld->nodes += count;
    return attach(ld, n);
}

/* ---- Driving libyaml ---------------------------------------------------- */

static int on_event(loader *ld, const yaml_event_t *ev) {
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (ld->documents++ > 0)
            return fail_mark(ld, ev->start_mark,
                             "a second YAML document; siemrelay reads one document per file");
        return 0;
    case YAML_SCALAR_EVENT: return expecting_key(ld) ? on_key(ld, ev) : on_value(ld, ev);
    case YAML_SEQUENCE_START_EVENT:
        if (expecting_key(ld))
            return fail_mark(ld, ev->start_mark, "a list cannot be a map key");
        return on_start(ld, ev, SR_NODE_SEQ, ev->data.sequence_start.anchor);
    case YAML_MAPPING_START_EVENT:
        if (expecting_key(ld))
            return fail_mark(ld, ev->start_mark, "a map cannot be a map key");
        return on_start(ld, ev, SR_NODE_MAP, ev->data.mapping_start.anchor);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: return on_end(ld);
    case YAML_ALIAS_EVENT: return on_alias(ld, ev);
    default: return 0; /* stream and document boundaries */
    }
}

/* Byte offset of libyaml's character index `index` in UTF-8 `text` (libyaml
 * counts characters and skips a byte-order mark), or (size_t)-1. */
static size_t byte_offset(const char *text, size_t len, size_t index) {
    size_t i = 0;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    for (; i < len; i++) {
        if (((unsigned char)text[i] & 0xc0) == 0x80)
            continue; /* continuation byte */
        if (index-- == 0)
            return i;
    }
    return (size_t)-1;
}

/* If the parser stopped on a token made only of '*', returns its length and
 * offset in `text` (see the top of this file); 0 otherwise. */
static size_t star_token(const yaml_parser_t *p, const char *text, size_t len, size_t *off) {
    if (p->error != YAML_SCANNER_ERROR || p->encoding != YAML_UTF8_ENCODING || !p->context ||
        strcmp(p->context, "while scanning an alias") != 0)
        return 0;
    size_t start = byte_offset(text, len, p->context_mark.index);
    if (start == (size_t)-1 || text[start] != '*')
        return 0;
    size_t end = start;
    while (end < len && text[end] == '*')
        end++;
    if (end < len && !strchr(" \t\r\n,]}", text[end]))
        return 0; /* `**name`: a real (if invalid) alias */
    *off = start;
    return end - start;
}

static void parser_error(loader *ld, const yaml_parser_t *p, const char *text, size_t len) {
    if (p->error == YAML_MEMORY_ERROR) {
        out_of_memory(ld);
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a line. */
        int line = 1, col = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; i++, col++)
            if (text[i] == '\n')
                line++, col = 0;
        fail_at(ld, line, col, "%s", p->problem ? p->problem : "unreadable input");
        return;
    }
    yaml_mark_t m = p->problem_mark;
    const char *problem = p->problem ? p->problem : "invalid YAML";
    size_t at = byte_offset(text, len, m.index);
    /* The commonest YAML mistake gets said plainly. */
    const char *hint =
        at < len && text[at] == '\t' ? "; YAML does not allow tabs for indentation" : "";
    if (p->context)
        fail_at(ld, (int)m.line + 1, (int)m.column + 1, "%s (%s started on line %d)%s", problem,
                p->context, (int)p->context_mark.line + 1, hint);
    else
        fail_at(ld, (int)m.line + 1, (int)m.column + 1, "%s%s", problem, hint);
}

static void loader_release(loader *ld) {
    while (ld->depth > 0) {
        frame *f = &ld->stack[--ld->depth];
        free(f->key);
        free(f->anchor);
    }
    free(ld->stack);
    for (size_t i = 0; i < ld->nanchors; i++)
        free(ld->anchors[i].name);
    free(ld->anchors);
}

enum { PARSED, FAILED, RETRY };

/* One pass over `text`. On RETRY a '*' token was patched in `text` and
 * recorded in `stars`; the caller parses again. */
static int parse_once(loader *ld, char *text, size_t len, star_run *stars, size_t *nstars) {
    yaml_parser_t p;
    yaml_event_t ev;
    int done = 0, rc = FAILED;
    if (!yaml_parser_initialize(&p)) {
        out_of_memory(ld);
        return FAILED;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (!done) {
        if (!yaml_parser_parse(&p, &ev)) {
            size_t off = 0, n = star_token(&p, text, len, &off);
            if (n && *nstars < MAX_STAR_RUNS) {
                stars[(*nstars)++] = (star_run){p.context_mark.index, n};
                memset(text + off, STAR_STANDIN, n);
                rc = RETRY;
            } else {
                parser_error(ld, &p, text, len);
            }
            goto out;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        int ok = on_event(ld, &ev) == 0;
        yaml_event_delete(&ev);
        if (!ok)
            goto out;
    }
    rc = PARSED;
out:
    yaml_parser_delete(&p);
    return rc;
}

/* A file with no document at all (empty, or only comments) is a null. */
static int empty_document(loader *ld) {
    sr_node *n = new_node(ld, SR_NODE_SCALAR, (yaml_mark_t){0});
    if (!n)
        return -1;
    if (!(n->text = calloc(1, 1))) {
        free_detached(n);
        return out_of_memory(ld);
    }
    n->is_null = 1;
    ld->root = n;
    return 0;
}

/* Parses `text` (modified in place) into a tree named `name`. */
static sr_node *load(const char *name, char *text, size_t len, char *err, size_t errlen) {
    star_run *stars = calloc(MAX_STAR_RUNS, sizeof *stars);
    size_t nstars = 0;
    sr_node *root = NULL;
    if (!stars) {
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    for (;;) {
        loader ld = {.err = err, .errlen = errlen, .stars = stars, .nstars = nstars};
        if (!(ld.file = strdup(name))) {
            snprintf(err, errlen, "%s: out of memory", name);
            break;
        }
        int rc = parse_once(&ld, text, len, stars, &nstars);
        if (rc == PARSED && !ld.root && empty_document(&ld) != 0)
            rc = FAILED;
        loader_release(&ld);
        if (rc == PARSED) {
            root = ld.root;
            break;
        }
        if (ld.root)
            sr_node_free(ld.root); /* and ld.file with it */
        else
            free(ld.file);
        if (rc != RETRY)
            break;
    }
    free(stars);
    return root;
}

sr_node *sr_yaml_load_string(const char *name, const char *text, size_t len, char *err,
                             size_t errlen) {
    char *copy = malloc(len + 1); /* '*' tokens are patched in place */
    if (!copy) {
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    sr_node *root = load(name, copy, len, err, errlen);
    free(copy);
    return root;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen) {
    sr_buf b = SR_BUF_INIT;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char chunk[16384];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > MAX_FILE_BYTES) {
            snprintf(err, errlen, "%s: larger than 16 MiB; not a configuration file?", path);
            goto fail;
        }
        if (sr_buf_append(&b, chunk, n) != 0) {
            snprintf(err, errlen, "%s: out of memory", path);
            goto fail;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    if (!b.data && sr_buf_append(&b, "", 0) != 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    return sr_buf_steal(&b, len);
fail:
    fclose(f);
    sr_buf_free(&b);
    return NULL;
}

sr_node *sr_yaml_load_file(const char *path, char *err, size_t errlen) {
    size_t len;
    char *text = read_file(path, &len, err, errlen);
    if (!text)
        return NULL;
    sr_node *root = load(path, text, len, err, errlen);
    free(text);
    return root;
}
