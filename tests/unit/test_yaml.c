/* test_yaml.c - the YAML loader (yaml_load.c) and tree accessors (node.c). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "yaml_load.h"
#include "node.h"

static char err[512];

static sr_node *load(const char *text) {
    err[0] = '\0';
    return sr_yaml_load_string("t.yaml", text, strlen(text), err, sizeof err);
}

/* Loads text that must fail and checks the whole error message. */
static void check_error(const char *text, const char *want) {
    sr_node *n = load(text);
    CHECK(n == NULL);
    CHECK_STR(err, want);
    sr_node_free(n);
}

/* Loads text that must fail and checks the start of the error message. */
static void check_error_prefix(const char *text, const char *want) {
    sr_node *n = load(text);
    CHECK(n == NULL);
    if (strncmp(err, want, strlen(want)) != 0) {
        fprintf(stderr, "error \"%s\" does not start with \"%s\"\n", err, want);
        CHECK(0);
    }
    sr_node_free(n);
}

static void test_tree_and_positions(void) {
    sr_node *root = load("# comment\n"
                         "name: relay\n"
                         "inputs:\n"
                         "  http:\n"
                         "    listen: 127.0.0.1:8080\n"
                         "list:\n"
                         "  - one\n"
                         "  -   two\n"
                         "flow: [a, {b: c}]\n");
    CHECK(root != NULL);
    if (!root)
        return;
    CHECK_INT(root->kind, SR_NODE_MAP);
    CHECK_STR(root->file, "t.yaml");
    CHECK_INT(root->n, 4);
    CHECK_STR(root->keys[0], "name");
    CHECK_INT(root->key_lines[0], 2);
    CHECK_INT(root->key_lines[3], 9);

    sr_node *name = sr_node_get(root, "name");
    CHECK(name && name->kind == SR_NODE_SCALAR);
    CHECK_STR(name->text, "relay");
    CHECK_INT(name->len, 5);
    CHECK_INT(name->line, 2);
    CHECK_INT(name->col, 7);
    CHECK(name->file == root->file);

    sr_node *listen = sr_node_get(sr_node_get(sr_node_get(root, "inputs"), "http"), "listen");
    CHECK(listen != NULL);
    CHECK_STR(listen ? listen->text : NULL, "127.0.0.1:8080");
    CHECK_INT(listen ? listen->line : 0, 5);
    CHECK_INT(listen ? listen->col : 0, 13);

    sr_node *list = sr_node_get(root, "list");
    CHECK(list && list->kind == SR_NODE_SEQ && list->n == 2 && list->keys == NULL);
    if (list && list->n == 2) {
        CHECK_STR(list->items[1]->text, "two");
        CHECK_INT(list->items[1]->line, 8);
        CHECK_INT(list->items[1]->col, 7);
    }
    sr_node *flow = sr_node_get(root, "flow");
    CHECK(flow && flow->kind == SR_NODE_SEQ && flow->n == 2);
    if (flow && flow->n == 2) {
        CHECK_INT(flow->items[1]->kind, SR_NODE_MAP);
        CHECK_STR(sr_node_get(flow->items[1], "b")->text, "c");
    }
    sr_node_free(root);
}

static void test_scalar_flags(void) {
    sr_node *root = load("a: ~\n"
                         "b: null\n"
                         "c:\n"
                         "d: ''\n"
                         "e: \"null\"\n"
                         "f: NULL\n"
                         "g: plain\n"
                         "h: |\n"
                         "  true\n"
                         "i: !!str yes\n"
                         "j: nulls\n");
    CHECK(root != NULL);
    if (!root)
        return;
    static const struct {
        const char *key, *text;
        int quoted, is_null;
    } want[] = {
        {"a", "", 0, 1},     {"b", "", 0, 1},      {"c", "", 0, 1},      {"d", "", 1, 0},
        {"e", "null", 1, 0}, {"f", "", 0, 1},      {"g", "plain", 0, 0}, {"h", "true\n", 1, 0},
        {"i", "yes", 1, 0},  {"j", "nulls", 0, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        sr_node *n = sr_node_get(root, want[i].key);
        CHECK(n != NULL);
        if (!n)
            continue;
        CHECK_STR(n->text, want[i].text);
        CHECK_INT(n->len, strlen(want[i].text));
        CHECK_INT(n->quoted, want[i].quoted);
        CHECK_INT(n->is_null, want[i].is_null);
        CHECK_INT(n->expanded, 0);
    }
    sr_node_free(root);
}

static void test_empty_documents(void) {
    sr_node *n = load("");
    CHECK(n && n->kind == SR_NODE_SCALAR && n->is_null && n->text && n->text[0] == '\0');
    CHECK_INT(n ? n->line : 0, 1);
    sr_node_free(n);
    n = load("# only a comment\n");
    CHECK(n && n->kind == SR_NODE_SCALAR && n->is_null);
    sr_node_free(n);
    n = load("---\n{}\n...\n");
    CHECK(n && n->kind == SR_NODE_MAP && n->n == 0);
    sr_node_free(n);
}

static void test_env(void) {
    setenv("SR_TEST_HOST", "siem.example.com", 1);
    setenv("SR_TEST_EMPTY", "", 1);
    unsetenv("SR_TEST_UNSET");
    sr_node *root = load("url: https://${SR_TEST_HOST}:8443/x\n"
                         "dflt: ${SR_TEST_UNSET:-fallback}\n"
                         "empty_dflt: ${SR_TEST_EMPTY:-used}\n"
                         "empty: ${SR_TEST_EMPTY}\n"
                         "gone: ${SR_TEST_UNSET:-}\n"
                         "quoted: \"${SR_TEST_HOST}\"\n"
                         "literal: $${SR_TEST_HOST} costs $5\n"
                         "${SR_TEST_HOST}: key\n"
                         "two: ${SR_TEST_HOST}/${SR_TEST_UNSET:-b}\n");
    CHECK(root != NULL);
    if (!root) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    sr_node *n = sr_node_get(root, "url");
    CHECK_STR(n->text, "https://siem.example.com:8443/x");
    CHECK_INT(n->len, strlen("https://siem.example.com:8443/x"));
    CHECK_INT(n->expanded, 1);
    CHECK_STR(sr_node_get(root, "dflt")->text, "fallback");
    CHECK_STR(sr_node_get(root, "empty_dflt")->text, "used");
    n = sr_node_get(root, "empty"); /* plain and empty after expansion: null */
    CHECK(n->is_null && n->expanded && n->len == 0);
    CHECK_INT(sr_node_get(root, "gone")->is_null, 1);
    n = sr_node_get(root, "quoted");
    CHECK_STR(n->text, "siem.example.com");
    CHECK(n->quoted && n->expanded);
    n = sr_node_get(root, "literal");
    CHECK_STR(n->text, "${SR_TEST_HOST} costs $5");
    CHECK_INT(n->expanded, 0);
    n = sr_node_get(root, "${SR_TEST_HOST}"); /* keys are not expanded */
    CHECK(n != NULL);
    CHECK_STR(sr_node_get(root, "two")->text, "siem.example.com/b");

    check_error("a: 1\n"
                "token: Bearer ${SR_TEST_UNSET}\n",
                "t.yaml:2: environment variable SR_TEST_UNSET is not set");
    check_error_prefix("a: ${SR_TEST_HOST\n", "t.yaml:1: unterminated '${'");
    check_error_prefix("a: ${1BAD}\n", "t.yaml:1: invalid environment reference '${1BAD}'");
    check_error_prefix("a: ${X:default}\n", "t.yaml:1: invalid environment reference");
    check_error_prefix("a: ${X:-${Y}}\n", "t.yaml:1: environment default for X cannot contain");
    sr_node_free(root);
}

static void test_duplicates_and_keys(void) {
    check_error("workers: 1\n"
                "data_dir: x\n"
                "workers: 2\n",
                "t.yaml:3:1: duplicate key 'workers' (first defined on line 1)");
    check_error("a:\n"
                "  Index: 1\n"
                "  index: 2\n",
                "t.yaml:3:3: duplicate key 'index' (first defined on line 2)");
    check_error_prefix("? [a, b]\n: c\n", "t.yaml:1:3: a list cannot be a map key");
    check_error_prefix("base: &b {x: 1}\nm:\n  <<: *b\n", "t.yaml:3:3: merge keys ('<<')");
    /* The same key in different maps is fine. */
    sr_node *n = load("a: {x: 1}\nb: {x: 2}\n");
    CHECK(n != NULL);
    sr_node_free(n);
}

static void test_aliases(void) {
    sr_node *root = load("base: &common\n"
                         "  url: https://a\n"
                         "  tags: [x, y]\n"
                         "one: *common\n"
                         "name: &n hello\n"
                         "two: *n\n");
    CHECK(root != NULL);
    if (!root) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    sr_node *base = sr_node_get(root, "base"), *one = sr_node_get(root, "one");
    CHECK(one && one->kind == SR_NODE_MAP && one != base);
    if (one && one->kind == SR_NODE_MAP) {
        CHECK_STR(sr_node_get(one, "url")->text, "https://a");
        CHECK(sr_node_get(one, "url") != sr_node_get(base, "url")); /* a copy */
        CHECK_INT(sr_node_get(one, "url")->line, 2);                /* where it is written */
        CHECK_INT(sr_node_get(one, "tags")->n, 2);
        CHECK(one->file == root->file);
    }
    CHECK_STR(sr_node_get(root, "two")->text, "hello");
    sr_node_free(root);

    check_error("a: *nowhere\n",
                "t.yaml:1:4: alias '*nowhere' has no anchor '&nowhere' defined (and "
                "complete) before it");
    check_error_prefix("a: &self [1, *self]\n", "t.yaml:1:14: alias '*self' has no anchor");
    check_error_prefix("*a : 1\n", "t.yaml:1:1: an alias cannot be a map key");

    /* Nesting is bounded too, so code that walks a tree recursively is safe. */
    char deep[300];
    memset(deep, '[', 200);
    memset(deep + 200, ']', 99);
    deep[299] = '\0';
    check_error_prefix(deep, "t.yaml:1:129: nesting is deeper than 128 levels");
    /* 120 levels under an anchor, used 10 levels down: 1 + 10 + 120 > 128. */
    char nested[400];
    size_t at = (size_t)snprintf(nested, sizeof nested, "a: &a ");
    for (int i = 0; i < 120; i++)
        nested[at++] = '[';
    for (int i = 0; i < 120; i++)
        nested[at++] = ']';
    snprintf(nested + at, sizeof nested - at, "\nb: [[[[[[[[[[*a]]]]]]]]]]\n");
    check_error_prefix(nested, "t.yaml:2:14: alias '*a' makes nesting deeper than 128 levels");

    /* Aliases of aliases cannot blow up: the node budget stops them. */
    char text[4096];
    size_t off = (size_t)snprintf(text, sizeof text, "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 8; i++)
        off += (size_t)snprintf(text + off, sizeof text - off,
                                "l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i,
                                i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    sr_node *bomb = load(text);
    CHECK(bomb == NULL);
    CHECK(strstr(err, "makes the document larger than 100000 nodes") != NULL);
    sr_node_free(bomb);
}

/* Sysdig publishes masked secrets as `***`, which YAML reads as an alias. */
static void test_star_tokens(void) {
    sr_node *root = load("configuration:\n"
                         "  Index: indexname\n"
                         "  ServiceToken: ***\n"
                         "  ServiceURL: \"https://yoursplunkurl.com\"\n"
                         "  Other: ** # masked too\n"
                         "  Single: *\n"
                         "  Flow: [***, x]\n"
                         "  After: ***, still text\n");
    CHECK(root != NULL);
    if (!root) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    sr_node *c = sr_node_get(root, "configuration");
    sr_node *tok = sr_node_get(c, "servicetoken");
    CHECK(tok && tok->kind == SR_NODE_SCALAR);
    CHECK_STR(tok->text, "***");
    CHECK(tok->len == 3 && !tok->quoted && !tok->is_null);
    CHECK_INT(tok->line, 3);
    CHECK_INT(tok->col, 17);
    CHECK_STR(sr_node_get(c, "ServiceURL")->text, "https://yoursplunkurl.com");
    CHECK_INT(sr_node_get(c, "ServiceURL")->col, 15);
    CHECK_STR(sr_node_get(c, "Other")->text, "**");
    CHECK_STR(sr_node_get(c, "Single")->text, "*");
    sr_node *flow = sr_node_get(c, "Flow");
    CHECK(flow && flow->kind == SR_NODE_SEQ && flow->n == 2);
    if (flow && flow->n == 2)
        CHECK_STR(flow->items[0]->text, "***");
    CHECK_STR(sr_node_get(c, "After")->text, "***, still text");
    sr_node_free(root);

    /* Non-ASCII before the token: positions are characters, not bytes. */
    root = load("naïve: ***\n");
    CHECK(root && strcmp(sr_node_get(root, "naïve")->text, "***") == 0);
    sr_node_free(root);
    /* Only a token made of stars alone is text: `**name` is still an error. */
    check_error_prefix("a: **name\n", "t.yaml:1:5: did not find expected alphabetic or numeric");
}

static void test_syntax_errors(void) {
    check_error("a: 1\n"
                " b: 2\n",
                "t.yaml:2:3: mapping values are not allowed in this context");
    check_error_prefix("a: [1, 2\n", "t.yaml:2:1: did not find expected ',' or ']' (while "
                                     "parsing a flow sequence started on line 1)");
    check_error("a: 1\n---\nb: 2\n",
                "t.yaml:2:1: a second YAML document; siemrelay reads one document per file");
    check_error_prefix("a: \"\xff\"\n", "t.yaml:1:5: invalid");
}

static void test_files(void) {
    char dir[] = "/tmp/sr-test-yaml-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("a: 1\nb: [x]\n", f);
    fclose(f);
    sr_node *root = sr_yaml_load_file(path, err, sizeof err);
    CHECK(root != NULL);
    CHECK_STR(root ? root->file : NULL, path);
    CHECK_STR(root ? sr_node_get(root, "a")->text : NULL, "1");

    /* A clone owns its own file name: it outlives the document. */
    sr_node *b = sr_node_clone(sr_node_get(root, "b"));
    sr_node_free(root);
    CHECK(b && b->kind == SR_NODE_SEQ && b->n == 1);
    CHECK_STR(b ? b->file : NULL, path);
    CHECK_STR(b && b->n ? b->items[0]->text : NULL, "x");
    CHECK_INT(b && b->n ? b->items[0]->line : 0, 2);
    sr_node_free(b);
    unlink(path);

    CHECK(sr_yaml_load_file(path, err, sizeof err) == NULL);
    char want[300];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    CHECK_STR(err, want);
    rmdir(dir);
}

static void test_lookup(void) {
    sr_node *root = load("ServiceURL: u\nlist: [a]\n");
    CHECK(root != NULL);
    if (!root)
        return;
    CHECK_STR(sr_node_get(root, "serviceurl")->text, "u");
    CHECK_INT(sr_node_index(root, "SERVICEURL"), 0);
    CHECK_INT(sr_node_index(root, "LIST"), 1);
    CHECK_INT(sr_node_index(root, "missing"), -1);
    CHECK(sr_node_get(root, "missing") == NULL);
    CHECK(sr_node_get(sr_node_get(root, "list"), "a") == NULL); /* not a map */
    CHECK(sr_node_get(NULL, "a") == NULL);

    sr_node *copy = sr_node_clone(root);
    CHECK(copy && copy != root && copy->file != root->file);
    CHECK_STR(copy ? copy->keys[0] : NULL, "ServiceURL");
    CHECK_INT(copy ? copy->key_lines[1] : 0, 2);
    sr_node_free(root);
    CHECK_STR(copy ? sr_node_get(copy, "serviceurl")->text : NULL, "u");
    sr_node_free(copy);
}

/* Builds a one-scalar document and returns its value node. */
static sr_node *scalar_doc(const char *value) {
    char text[256];
    snprintf(text, sizeof text, "v: %s\n", value);
    sr_node *root = load(text);
    if (!root)
        fprintf(stderr, "%s\n", err);
    CHECK(root != NULL);
    return root;
}

static void check_bool(const char *value, int rc, int want) {
    sr_node *root = scalar_doc(value);
    int b = -1;
    int got = sr_node_bool(sr_node_get(root, "v"), &b);
    if (got != rc || (rc == 0 && b != want)) {
        fprintf(stderr, "sr_node_bool(%s) = %d/%d, expected %d/%d\n", value, got, b, rc, want);
        CHECK(0);
    }
    sr_node_free(root);
}

static void check_int(const char *value, int rc, long long want) {
    sr_node *root = scalar_doc(value);
    long long v = 0;
    int got = sr_node_int(sr_node_get(root, "v"), &v);
    if (got != rc || (rc == 0 && v != want)) {
        fprintf(stderr, "sr_node_int(%s) = %d/%lld, expected %d/%lld\n", value, got, v, rc, want);
        CHECK(0);
    }
    sr_node_free(root);
}

typedef int (*ull_conv)(const sr_node *, unsigned long long *);

static void check_ull(ull_conv conv, const char *value, int rc, unsigned long long want) {
    sr_node *root = scalar_doc(value);
    unsigned long long v = 0;
    int got = conv(sr_node_get(root, "v"), &v);
    if (got != rc || (rc == 0 && v != want)) {
        fprintf(stderr, "conversion of '%s' = %d/%llu, expected %d/%llu\n", value, got, v, rc,
                want);
        CHECK(0);
    }
    sr_node_free(root);
}

static void test_conversions(void) {
    check_bool("true", 0, 1);
    check_bool("TRUE", 0, 1);
    check_bool("Yes", 0, 1);
    check_bool("on", 0, 1);
    check_bool("\"true\"", 0, 1);
    check_bool("false", 0, 0);
    check_bool("No", 0, 0);
    check_bool("OFF", 0, 0);
    check_bool("1", -1, 0);
    check_bool("y", -1, 0);
    check_bool("~", -1, 0);
    check_bool("truth", -1, 0);

    check_int("0", 0, 0);
    check_int("42", 0, 42);
    check_int("+7", 0, 7);
    check_int("-12", 0, -12);
    check_int("007", 0, 7);
    check_int("9223372036854775807", 0, LLONG_MAX);
    check_int("-9223372036854775808", 0, LLONG_MIN);
    check_int("9223372036854775808", -1, 0);
    check_int("99999999999999999999999", -1, 0);
    check_int("12k", -1, 0);
    check_int("two", -1, 0);
    check_int("1.5", -1, 0);
    check_int("\"-\"", -1, 0);
    check_int("0x10", -1, 0);
    check_int("\"\"", -1, 0);

    check_ull(sr_node_size, "512", 0, 512);
    check_ull(sr_node_size, "512B", 0, 512);
    check_ull(sr_node_size, "10k", 0, 10240);
    check_ull(sr_node_size, "64KiB", 0, 65536);
    check_ull(sr_node_size, "64KB", 0, 65536);
    check_ull(sr_node_size, "16MiB", 0, 16ull << 20);
    check_ull(sr_node_size, "16 mb", 0, 16ull << 20);
    check_ull(sr_node_size, "1GB", 0, 1ull << 30);
    check_ull(sr_node_size, "2GiB", 0, 2ull << 30);
    check_ull(sr_node_size, "1TB", -1, 0);
    check_ull(sr_node_size, "-1", -1, 0);
    check_ull(sr_node_size, "1.5MiB", -1, 0);
    check_ull(sr_node_size, "MiB", -1, 0);
    check_ull(sr_node_size, "99999999999999999999G", -1, 0);
    check_ull(sr_node_size, "17179869184G", -1, 0); /* 2^34 GiB overflows 64 bits */

    check_ull(sr_node_duration_ms, "250", 0, 250);
    check_ull(sr_node_duration_ms, "250ms", 0, 250);
    check_ull(sr_node_duration_ms, "5s", 0, 5000);
    check_ull(sr_node_duration_ms, "5m", 0, 300000);
    check_ull(sr_node_duration_ms, "1h", 0, 3600000);
    check_ull(sr_node_duration_ms, "2 S", 0, 2000);
    check_ull(sr_node_duration_ms, "1d", -1, 0);
    check_ull(sr_node_duration_ms, "1.5s", -1, 0);
    check_ull(sr_node_duration_ms, "s", -1, 0);
    check_ull(sr_node_duration_ms, "-5s", -1, 0);

    /* Maps and lists are not scalars of any kind. */
    sr_node *root = load("m: {a: 1}\n");
    long long i;
    int b;
    unsigned long long u;
    CHECK_INT(sr_node_int(sr_node_get(root, "m"), &i), -1);
    CHECK_INT(sr_node_bool(sr_node_get(root, "m"), &b), -1);
    CHECK_INT(sr_node_size(sr_node_get(root, "m"), &u), -1);
    CHECK_INT(sr_node_int(NULL, &i), -1);
    sr_node_free(root);
}

static void test_suggest(void) {
    static const char *const keys[] = {"workers", "data_dir", "lua_dir", "logging",
                                       "inputs",  "scripts",  NULL};
    CHECK_STR(sr_suggest("wrokers", keys), "workers");
    CHECK_STR(sr_suggest("WORKERS", keys), "workers");
    CHECK_STR(sr_suggest("datadir", keys), "data_dir");
    CHECK_STR(sr_suggest("input", keys), "inputs");
    CHECK(sr_suggest("customerid", keys) == NULL);
    CHECK(sr_suggest("xyz", keys) == NULL);
    static const char *const long_keys[] = {"transmit_message_types", NULL};
    /* Longer words tolerate more: len/3 edits. */
    CHECK_STR(sr_suggest("transmit_msg_types", long_keys), "transmit_message_types");
    CHECK(sr_suggest("tmt", long_keys) == NULL);
    CHECK(sr_suggest("a", NULL) == NULL);
}

int main(void) {
    test_tree_and_positions();
    test_scalar_flags();
    test_empty_documents();
    test_env();
    test_duplicates_and_keys();
    test_aliases();
    test_star_tokens();
    test_syntax_errors();
    test_files();
    test_lookup();
    test_conversions();
    test_suggest();
    return CHECK_DONE();
}
