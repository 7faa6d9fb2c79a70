/* test_event_path.c - paths and nested edits (runtime/event/event_path.h),
 * checked on raw bytes: every nested value of every sample in tests/data
 * and of W1 events is set, deleted and renamed in turn, and the written
 * event must equal the original with exactly that member's bytes changed. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "event.h"
#include "event_path.h"
#include "w1.h"

#define MAXSEG 16

static char *slurp(const char *name, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", SR_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    *len = fread(p, 1, (size_t)n, f);
    p[*len] = '\0';
    fclose(f);
    return p;
}

static const char *written(const sr_event *ev, sr_buf *b) {
    sr_buf_reset(b);
    CHECK_INT(sr_event_write(ev, b), 0);
    return b->data ? b->data : "";
}

/* The expected text: `orig` with [a, b) replaced by `with`. */
static void replaced(sr_buf *out, const char *orig, size_t n, size_t a, size_t b,
                     const char *with) {
    sr_buf_reset(out);
    sr_buf_append(out, orig, a);
    sr_buf_puts(out, with);
    sr_buf_append(out, orig + b, n - b);
}

/* Compares and, on a difference, says where (a CHECK that names the path). */
static void same_bytes(const char *got, const sr_buf *want, const char *what, const char *path) {
    int ok = strlen(got) == want->len && memcmp(got, want->data, want->len) == 0;
    CHECK(ok);
    if (!ok) {
        size_t i = 0;
        while (got[i] && i < want->len && got[i] == want->data[i])
            i++;
        fprintf(stderr,
                "  %s %s: first difference at byte %zu\n    got  ...%.60s\n    want ...%.60s\n",
                what, path, i, got + i, want->data + i);
    }
}

typedef struct walker {
    const char *doc; /* the compact original, as the event holds it */
    size_t n;
    sr_arena *arena;
    sr_buf got, want;
    const char *keys[MAXSEG];
    uint32_t lens[MAXSEG];
    char name[256];
    int edits;
} walker;

static int parse_doc(sr_event *ev, walker *w) {
    sr_json_error err;
    int rc = sr_event_parse(ev, w->arena, w->doc, w->n, NULL, &err);
    CHECK_INT(rc, 0);
    return rc;
}

static void path_name(walker *w, uint32_t depth) {
    size_t l = 0;
    w->name[0] = '\0';
    for (uint32_t k = 0; k < depth && l < sizeof w->name - 40; k++) {
        if (w->keys[k])
            l += (size_t)snprintf(w->name + l, sizeof w->name - l, "/%.*s", (int)w->lens[k],
                                  w->keys[k]);
        else
            l += (size_t)snprintf(w->name + l, sizeof w->name - l, "/[%u]", w->lens[k]);
    }
}

/* The member (or element) at [s, e) of the compact document removed with
 * one separating comma: the text after it when it is not last, else the
 * one before it. */
static void removed(walker *w, size_t s, size_t e) {
    if (w->doc[e] == ',')
        e++;
    else if (w->doc[s - 1] == ',')
        s--;
    replaced(&w->want, w->doc, w->n, s, e, "");
}

/* Set, delete and (for object members) rename of one nested value whose
 * bytes are [voff, voff+vlen) of the document and whose key starts at
 * koff (0 for array elements). */
static void edit_one(walker *w, uint32_t depth, size_t koff, size_t klen, size_t voff,
                     size_t vlen) {
    sr_event ev;
    sr_json_error err;
    path_name(w, depth);

    if (parse_doc(&ev, w) != 0)
        return;
    CHECK_INT(sr_event_set_path(&ev, w->keys, w->lens, depth, "\"R\"", 3, &err), 0);
    replaced(&w->want, w->doc, w->n, voff, voff + vlen, "\"R\"");
    same_bytes(written(&ev, &w->got), &w->want, "set", w->name);
    /* A second edit under the same parent composes with the first. */
    CHECK_INT(sr_event_set_path(&ev, w->keys, w->lens, depth, "[1,{},null]", 11, &err), 0);
    replaced(&w->want, w->doc, w->n, voff, voff + vlen, "[1,{},null]");
    same_bytes(written(&ev, &w->got), &w->want, "set twice", w->name);

    if (parse_doc(&ev, w) != 0)
        return;
    CHECK_INT(sr_event_delete_path(&ev, w->keys, w->lens, depth, &err), 1);
    removed(w, koff ? koff - 1 : voff, voff + vlen);
    same_bytes(written(&ev, &w->got), &w->want, "delete", w->name);
    /* Nothing left to delete the second time (no duplicate keys in the
     * samples; an index would name the next element). */
    if (koff)
        CHECK_INT(sr_event_delete_path(&ev, w->keys, w->lens, depth, &err), 0);

    if (koff) {
        const char *to[MAXSEG];
        uint32_t tlens[MAXSEG];
        memcpy(to, w->keys, sizeof to);
        memcpy(tlens, w->lens, sizeof tlens);
        to[depth - 1] = "renamed.key";
        tlens[depth - 1] = 11;
        if (parse_doc(&ev, w) != 0)
            return;
        CHECK_INT(sr_event_rename_path(&ev, w->keys, w->lens, depth, to, tlens, depth, &err), 0);
        replaced(&w->want, w->doc, w->n, koff - 1, koff + klen + 1, "\"renamed.key\"");
        same_bytes(written(&ev, &w->got), &w->want, "rename", w->name);
    }
    w->edits++;
}

/* Every value under the container at [off, off+len) of the document. */
static void walk(walker *w, uint32_t depth, size_t off, size_t len, int is_object) {
    size_t pos = 0;
    sr_json_member m;
    uint32_t index = 0;
    sr_buf key = SR_BUF_INIT;
    if (depth >= MAXSEG)
        return;
    while (is_object ? sr_json_object_next(w->doc + off, len, &pos, &m)
                     : sr_json_array_next(w->doc + off, len, &pos, &m)) {
        if (is_object) {
            sr_buf_reset(&key);
            sr_json_unescape(w->doc + off + m.key_off, m.key_len, 0, &key);
            /* Each key in the arena: the path's pointers outlive this loop
             * iteration while nested levels run. */
            char *k = sr_arena_memdup(w->arena, key.data ? key.data : "", key.len);
            w->keys[depth] = k;
            w->lens[depth] = (uint32_t)key.len;
        } else {
            w->keys[depth] = NULL;
            w->lens[depth] = index++;
        }
        if (depth >= 1)
            edit_one(w, depth + 1, is_object ? off + m.key_off : 0, m.key_len, off + m.val_off,
                     m.val_len);
        if (m.type == SR_JSON_OBJECT || m.type == SR_JSON_ARRAY)
            walk(w, depth + 1, off + m.val_off, m.val_len, m.type == SR_JSON_OBJECT);
    }
    sr_buf_free(&key);
}

/* Runs the set/delete/rename sweep over one document; returns the number
 * of nested values edited. */
static int sweep(const char *doc, size_t n) {
    sr_arena arena;
    sr_arena_init(&arena, 1 << 16);
    walker w = {.doc = doc, .n = n, .arena = &arena};
    walk(&w, 0, 0, n, 1);
    sr_buf_free(&w.got);
    sr_buf_free(&w.want);
    sr_arena_free(&arena);
    return w.edits;
}

static const char *const samples[] = {"policy_event.json",  "audit_command.json",
                                      "audit_file.json",    "audit_kube_exec.json",
                                      "audit_network.json", "platform_audit.json"};

static void test_samples_every_nested_value(void) {
    for (size_t k = 0; k < sizeof samples / sizeof *samples; k++) {
        size_t n;
        char *pretty = slurp(samples[k], &n);
        CHECK(pretty != NULL);
        if (!pretty)
            continue;
        sr_buf compact = SR_BUF_INIT;
        CHECK_INT(sr_json_compact(pretty, n, &compact), 0);
        while (compact.len && (compact.data[compact.len - 1] == '\n'))
            compact.len--;
        int edits = sweep(compact.data, compact.len);
        CHECK(edits >= 3);
        free(pretty);
        sr_buf_free(&compact);
    }
}

static void test_w1_every_nested_value(void) {
    char ev[W1_MAX_EVENT];
    int kinds[W1_NKINDS] = {0};
    for (uint64_t i = 0; i < 200; i++) {
        w1_info info;
        size_t n = w1_event(1, i, ev, &info);
        kinds[info.kind]++;
        CHECK(sweep(ev, n) >= 8); /* the labels at least */
    }
    for (int k = 0; k < W1_NKINDS; k++)
        CHECK(kinds[k] > 0);
}

/* A pretty-printed event edits as its compact form does. */
static void test_pretty_input(void) {
    size_t n;
    char *pretty = slurp("policy_event.json", &n);
    sr_arena arena;
    sr_arena_init(&arena, 1 << 16);
    sr_buf got = SR_BUF_INIT, want = SR_BUF_INIT;
    sr_event a, b;
    sr_json_error err;
    CHECK_INT(sr_json_compact(pretty, n, &want), 0);
    CHECK_INT(sr_event_parse(&a, &arena, pretty, n, NULL, &err), 0);
    CHECK_INT(sr_event_parse(&b, &arena, want.data, want.len, NULL, &err), 0);
    const char *keys[] = {"content", "fields", "proc.cmdline"};
    uint32_t lens[] = {7, 6, 12};
    CHECK_INT(sr_event_set_path(&a, keys, lens, 3, " \"x\" ", 5, &err), 0);
    CHECK_INT(sr_event_set_path(&b, keys, lens, 3, "\"x\"", 3, &err), 0);
    written(&a, &got);
    written(&b, &want);
    CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
    CHECK(strstr(got.data, "\"proc.cmdline\":\"x\"") != NULL);
    CHECK(strstr(got.data, "\"timestamp\":1606322948648718268") != NULL);
    sr_buf_free(&got);
    sr_buf_free(&want);
    sr_arena_free(&arena);
    free(pretty);
}

static sr_event make(sr_arena *a, const char *s) {
    sr_event ev;
    sr_json_error err;
    if (sr_event_parse(&ev, a, s, strlen(s), NULL, &err) != 0)
        fprintf(stderr, "parse: %s\n", err.msg);
    return ev;
}

/* Parses `path` and applies set (val != NULL) or delete. */
static int set_at(sr_event *ev, const char *path, const char *val, sr_json_error *err) {
    const char *keys[MAXSEG];
    uint32_t lens[MAXSEG];
    char store[256];
    int n = sr_event_path_parse(path, strlen(path), keys, lens, MAXSEG, store, err);
    if (n < 0)
        return -9;
    return val ? sr_event_set_path(ev, keys, lens, (uint32_t)n, val, (uint32_t)strlen(val), err)
               : sr_event_delete_path(ev, keys, lens, (uint32_t)n, err);
}

static const char *get_at(const sr_event *ev, const char *path, char *out, size_t cap) {
    const char *keys[MAXSEG], *v;
    uint32_t lens[MAXSEG], vl;
    char store[256];
    sr_json_error err;
    int n = sr_event_path_parse(path, strlen(path), keys, lens, MAXSEG, store, &err);
    if (n < 0 || sr_event_get_path(ev, keys, lens, (uint32_t)n, &v, &vl) < 0)
        return NULL;
    snprintf(out, cap, "%.*s", (int)vl, v);
    return out;
}

static void test_path_syntax(void) {
    const char *keys[MAXSEG];
    uint32_t lens[MAXSEG];
    char store[128];
    sr_json_error err;
    const char *p = "labels[\"kubernetes.pod.name\"].x['a\\'b'][12][\"\"]";
    int n = sr_event_path_parse(p, strlen(p), keys, lens, MAXSEG, store, &err);
    CHECK_INT(n, 6);
    CHECK_MEM(keys[0], lens[0], "labels");
    CHECK_MEM(keys[1], lens[1], "kubernetes.pod.name");
    CHECK_MEM(keys[2], lens[2], "x");
    CHECK_MEM(keys[3], lens[3], "a'b");
    CHECK(keys[4] == NULL);
    CHECK_INT(lens[4], 12);
    CHECK(keys[5] != NULL);
    CHECK_INT(lens[5], 0);
    static const struct {
        const char *path;
        size_t at;
        const char *msg;
    } bad[] = {
        {"", 0, "empty path"},
        {"a..b", 2, "empty key"},
        {"a.", 2, "empty key"},
        {"[0]", 0, "a path starts with a key"},
        {"a[x]", 1, "expected an index or a quoted key"},
        {"a[\"b\"", 1, "unterminated quoted key"},
        {"a[\"b\"]c", 6, "expected '.' or '['"},
        {"a]b", 1, "expected '.' or '['"},
        {"a[99999999999]", 1, "expected an index"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        n = sr_event_path_parse(bad[k].path, strlen(bad[k].path), keys, lens, MAXSEG, store, &err);
        CHECK_INT(n, -1);
        CHECK_INT(err.offset, bad[k].at);
        if (!strstr(err.msg, bad[k].msg))
            fprintf(stderr, "  path %s: message '%s'\n", bad[k].path, err.msg);
        CHECK(strstr(err.msg, bad[k].msg) != NULL);
    }
    n = sr_event_path_parse("a.b.c", 5, keys, lens, 2, store, &err);
    CHECK_INT(n, -1);
    CHECK(strstr(err.msg, "too many segments") != NULL);
}

static const char doc[] =
    "{\"type\":\"policy\",\"severity\":3,\"ts\":1606322948648718268,"
    "\"labels\":{\"kubernetes.namespace.name\":\"prod\",\"a\":null,\"e\":[],\"o\":{}},"
    "\"content\":{\"ruleTags\":[\"x\",\"y\"],\"fields\":{\"proc.cmdline\":\"sh -c secret\"},"
    "\"n\":18446744073709551615},\"s\":\"str\"}";

static void test_edits_and_errors(void) {
    sr_arena arena;
    sr_arena_init(&arena, 1 << 16);
    sr_buf b = SR_BUF_INIT;
    sr_json_error err;
    char out[256];
    sr_event ev = make(&arena, doc);

    CHECK_STR(get_at(&ev, "labels[\"kubernetes.namespace.name\"]", out, sizeof out), "\"prod\"");
    CHECK_STR(get_at(&ev, "content.ruleTags[1]", out, sizeof out), "\"y\"");
    CHECK_STR(get_at(&ev, "content.n", out, sizeof out), "18446744073709551615");
    CHECK(get_at(&ev, "content.ruleTags[2]", out, sizeof out) == NULL);
    CHECK(get_at(&ev, "s.x", out, sizeof out) == NULL);
    CHECK(get_at(&ev, "labels.kubernetes", out, sizeof out) == NULL);

    /* Several edits under one parent, a created chain, an appended element. */
    CHECK_INT(set_at(&ev, "labels[\"kubernetes.namespace.name\"]", "\"stage\"", &err), 0);
    CHECK_INT(set_at(&ev, "labels.new", "1", &err), 0);
    CHECK_INT(set_at(&ev, "labels.e[0]", "2", &err), 0);
    CHECK_INT(set_at(&ev, "content.ruleTags[2]", "\"z\"", &err), 0);
    CHECK_INT(set_at(&ev, "content.ruleTags[0]", "{\"k\": [1, 2]}", &err), 0);
    CHECK_INT(set_at(&ev, "content.fields[\"proc.cmdline\"]", "\"[redacted]\"", &err), 0);
    CHECK_INT(set_at(&ev, "content.x.y.z", "true", &err), 0);
    CHECK_INT(set_at(&ev, "extra.deep", "null", &err), 0);
    CHECK_INT(set_at(&ev, "labels.o.k", "\"v\"", &err), 0);
    const char *nk[] = {"labels", "o", "q"};
    uint32_t nl[] = {6, 1, 1};
    CHECK_INT(sr_event_set_path_string(&ev, nk, nl, 3, "a\"\n", 3, &err), 0);
    CHECK_STR(get_at(&ev, "labels.o.q", out, sizeof out), "\"a\\\"\\n\"");
    CHECK_INT(set_at(&ev, "labels.o.q", NULL, &err), 1);
    CHECK_INT(set_at(&ev, "labels.a", NULL, &err), 1);
    CHECK_INT(set_at(&ev, "labels.gone", NULL, &err), 0);
    CHECK_INT(set_at(&ev, "nothing.here", NULL, &err), 0);
    CHECK_STR(written(&ev, &b),
              "{\"type\":\"policy\",\"severity\":3,\"ts\":1606322948648718268,"
              "\"labels\":{\"kubernetes.namespace.name\":\"stage\",\"e\":[2],\"o\":{\"k\":\"v\"},"
              "\"new\":1},\"content\":{\"ruleTags\":[{\"k\":[1,2]},\"y\",\"z\"],\"fields\":{"
              "\"proc.cmdline\":\"[redacted]\"},\"n\":18446744073709551615,\"x\":{\"y\":{\"z\":"
              "true}}},\"s\":\"str\",\"extra\":{\"deep\":null}}");

    /* Errors name the path and leave the event as it was. */
    const char *before = strdup(written(&ev, &b));
    static const struct {
        const char *path, *msg;
        uint32_t seg;
    } bad[] = {
        {"s.x", "'s' is a string, not an object", 1},
        {"s[0]", "'s' is a string, not an array", 1},
        {"labels.e[5]", "'labels.e[5]' is out of range (1 elements)", 2},
        {"content.ruleTags.k", "'content.ruleTags' is an array, not an object", 2},
        {"content.fields[0]", "'content.fields' is an object, not an array", 2},
        {"labels.none[0]", "'labels.none' does not exist (arrays are not created)", 1},
        {"ts.a.b", "'ts' is a number, not an object", 1},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        CHECK_INT(set_at(&ev, bad[k].path, "1", &err), -1);
        CHECK_STR(err.msg, bad[k].msg);
        CHECK_INT(err.offset, bad[k].seg);
    }
    CHECK_INT(set_at(&ev, "s.x", NULL, &err), -1);
    CHECK_STR(err.msg, "'s' is a string, not an object");
    CHECK_INT(set_at(&ev, "labels.x", "", &err), -1);
    CHECK_STR(written(&ev, &b), before);
    free((void *)before);

    sr_buf_free(&b);
    sr_arena_free(&arena);
}

static void test_duplicates_and_escaped_keys(void) {
    sr_arena arena;
    sr_arena_init(&arena, 1 << 16);
    sr_buf b = SR_BUF_INIT;
    sr_json_error err;
    sr_event ev = make(&arena, "{\"type\":\"policy\",\"c\":{\"k\":\"secret1\",\"a\":1,\"k\":"
                               "\"secret2\",\"\\u006b2\":3}}");
    CHECK_INT(set_at(&ev, "c.k", "\"x\"", &err), 0);
    CHECK_STR(written(&ev, &b), "{\"type\":\"policy\",\"c\":{\"a\":1,\"k\":\"x\",\"\\u006b2\":3}}");
    CHECK_INT(set_at(&ev, "c.k2", "4", &err), 0); /* the escaped key matches */
    CHECK_STR(written(&ev, &b), "{\"type\":\"policy\",\"c\":{\"a\":1,\"k\":\"x\",\"\\u006b2\":4}}");

    ev = make(&arena, "{\"type\":\"policy\",\"c\":{\"k\":1,\"k\":2,\"z\":0}}");
    CHECK_INT(set_at(&ev, "c.k", NULL, &err), 1);
    CHECK_STR(written(&ev, &b), "{\"type\":\"policy\",\"c\":{\"z\":0}}");
    CHECK_INT(set_at(&ev, "c.z", NULL, &err), 1);
    CHECK_STR(written(&ev, &b), "{\"type\":\"policy\",\"c\":{}}");
    CHECK_INT(set_at(&ev, "c.a", "[]", &err), 0);
    CHECK_STR(written(&ev, &b), "{\"type\":\"policy\",\"c\":{\"a\":[]}}");
    sr_buf_free(&b);
    sr_arena_free(&arena);
}

static int rename_at(sr_event *ev, const char *from, const char *to, sr_json_error *err) {
    const char *fk[MAXSEG], *tk[MAXSEG];
    uint32_t fl[MAXSEG], tl[MAXSEG];
    char s1[128], s2[128];
    int fn = sr_event_path_parse(from, strlen(from), fk, fl, MAXSEG, s1, err);
    int tn = sr_event_path_parse(to, strlen(to), tk, tl, MAXSEG, s2, err);
    if (fn < 0 || tn < 0)
        return -9;
    return sr_event_rename_path(ev, fk, fl, (uint32_t)fn, tk, tl, (uint32_t)tn, err);
}

static void test_rename(void) {
    sr_arena arena;
    sr_arena_init(&arena, 1 << 16);
    sr_buf b = SR_BUF_INIT;
    sr_json_error err;
    sr_event ev = make(&arena, "{\"type\":\"policy\",\"labels\":{\"a.b\":\"1\",\"c\":\"2\","
                               "\"d\":\"3\"},\"n\":{\"big\":9007199254740993}}");
    /* Same parent: in place; an existing target is replaced. */
    CHECK_INT(rename_at(&ev, "labels[\"a.b\"]", "labels.x", &err), 0);
    CHECK_INT(rename_at(&ev, "labels.c", "labels.d", &err), 0);
    CHECK_STR(written(&ev, &b),
              "{\"type\":\"policy\",\"labels\":{\"x\":\"1\",\"d\":\"2\"},\"n\":{\"big\":"
              "9007199254740993}}");
    /* Elsewhere: moved, exact bytes. */
    CHECK_INT(rename_at(&ev, "n.big", "labels.big", &err), 0);
    CHECK_INT(rename_at(&ev, "labels.x", "x", &err), 0);
    CHECK_INT(rename_at(&ev, "labels.d", "labels.d", &err), 0);
    CHECK_STR(written(&ev, &b),
              "{\"type\":\"policy\",\"labels\":{\"d\":\"2\",\"big\":9007199254740993},\"n\":{},"
              "\"x\":\"1\"}");
    /* Into its own subtree ("labels" keeps its place: it was removed and
     * set again, and a top-level edit stays where the field was). */
    CHECK_INT(rename_at(&ev, "labels", "labels.inner", &err), 0);
    CHECK_STR(written(&ev, &b), "{\"type\":\"policy\",\"labels\":{\"inner\":{\"d\":\"2\",\"big\":"
                                "9007199254740993}},\"n\":{},\"x\":\"1\"}");
    /* A missing source, or a target that cannot be set, changes nothing. */
    const char *before = strdup(written(&ev, &b));
    CHECK_INT(rename_at(&ev, "labels.nope", "labels.y", &err), -1);
    CHECK_STR(err.msg, "'labels.nope' does not exist");
    CHECK_INT(rename_at(&ev, "labels.inner.d", "x.y", &err), -1);
    CHECK_STR(err.msg, "'x' is a string, not an object");
    CHECK_INT(rename_at(&ev, "x", "x.y", &err), 0); /* x is removed first, then created */
    CHECK_STR(written(&ev, &b), "{\"type\":\"policy\",\"labels\":{\"inner\":{\"d\":\"2\",\"big\":"
                                "9007199254740993}},\"n\":{},\"x\":{\"y\":\"1\"}}");
    CHECK_STR(before, "{\"type\":\"policy\",\"labels\":{\"inner\":{\"d\":\"2\",\"big\":"
                      "9007199254740993}},\"n\":{},\"x\":\"1\"}");
    free((void *)before);
    sr_buf_free(&b);
    sr_arena_free(&arena);
}

/* Nested edits re-derive the classification only through the top-level
 * field, and a fork keeps its nested edits to itself. */
static void test_fork_and_top_level(void) {
    sr_arena arena;
    sr_arena_init(&arena, 1 << 16);
    sr_buf b = SR_BUF_INIT;
    sr_json_error err;
    sr_event ev = make(&arena, doc), copy;
    CHECK_INT(set_at(&ev, "severity", "7", &err), 0);
    CHECK_INT(ev.severity, 7);
    CHECK_INT(sr_event_fork(&copy, &ev, &arena), 0);
    CHECK_INT(set_at(&copy, "labels.a", "1", &err), 0);
    CHECK(strstr(written(&ev, &b), "\"a\":null") != NULL);
    CHECK(strstr(written(&copy, &b), "\"a\":1") != NULL);
    CHECK_INT(set_at(&ev, "type", NULL, &err), 1);
    CHECK_INT(ev.data_type, SR_DT_UNKNOWN);
    sr_buf_free(&b);
    sr_arena_free(&arena);
}

int main(void) {
    test_path_syntax();
    test_samples_every_nested_value();
    test_w1_every_nested_value();
    test_pretty_input();
    test_edits_and_errors();
    test_duplicates_and_escaped_keys();
    test_rename();
    test_fork_and_top_level();
    return CHECK_DONE();
}
