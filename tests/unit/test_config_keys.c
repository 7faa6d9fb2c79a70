/* test_config_keys.c - the configuration's key tables (conf_table.h) as a
 * whole: docs/configuration.md's key tables are the ones the tables
 * generate, and every key of every section is walked to check its default,
 * its limits and its type errors through sr_config_load, so a row added
 * later is tested without a line here. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

#ifndef SR_SOURCE_DIR
#error "SR_SOURCE_DIR must name the source tree (tests/CMakeLists.txt defines it)"
#endif

static char dir[] = "/tmp/sr-test-config-keys-XXXXXX";
static char path[512];
static int rows_walked;

static char *read_all(const char *p) {
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    sr_buf b = SR_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sr_buf_append(&b, chunk, n);
    fclose(f);
    sr_buf_putc(&b, '\0');
    return b.data;
}

/* Loads `text` (dir/c.yaml); returns sr_config_load's result, err filled. */
static int load_text(sr_config *cfg, const char *text, char *err, size_t errlen) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return -2;
    fputs(text, f);
    fclose(f);
    const char *p = path;
    err[0] = '\0';
    return sr_config_load(cfg, &p, 1, err, errlen);
}

/* The effective settings `text` gives, as --check prints them (malloc'd).
 * A second file names every input, so that a key written under one of them
 * does not turn the other off. */
static char *settings_of(const char *text) {
    sr_config cfg;
    char err[1024], inputs[600];
    char *out = NULL;
    snprintf(inputs, sizeof inputs, "%s/inputs.yaml", dir);
    FILE *f = fopen(inputs, "w");
    CHECK(f != NULL);
    if (!f)
        return NULL;
    fputs("inputs: {http: {}, tcp: {}, kafka: {brokers: \"127.0.0.1:9092\", topics: events}}\n", f);
    fclose(f);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    const char *paths[2] = {path, inputs};
    int rc = sr_config_load(&cfg, paths, 2, err, sizeof err);
    unlink(inputs);
    if (rc == 0) {
        sr_buf b = SR_BUF_INIT;
        sr_config_print_settings(&cfg, &b);
        out = b.data;
    } else {
        fprintf(stderr, "(load error: %s)\n", err);
    }
    sr_config_free(&cfg);
    return out;
}

/* ---- docs/configuration.md ---------------------------------------------- */

/* Each generated table must be in the docs as it is, and be the whole of
 * its table there (no row the tables no longer have). */
static void test_docs_match_the_tables(void) {
    char docs_path[1024];
    snprintf(docs_path, sizeof docs_path, "%s/docs/configuration.md", SR_SOURCE_DIR);
    char *docs = read_all(docs_path);
    CHECK(docs != NULL);
    if (!docs)
        return;
    sr_buf ref = SR_BUF_INIT;
    sr_config_reference(&ref);
    char *split = strstr(ref.data, "\n\n");
    CHECK(split != NULL);
    if (split) {
        split[1] = '\0';
        const char *tables[2] = {ref.data, split + 2};
        for (int i = 0; i < 2; i++) {
            const char *at = strstr(docs, tables[i]);
            if (!at)
                fprintf(stderr,
                        "docs/configuration.md lacks this table (siemrelay "
                        "--print-config-reference prints it):\n%s\n",
                        tables[i]);
            CHECK(at != NULL);
            if (at)
                CHECK(at[strlen(tables[i])] != '|');
        }
    }
    sr_buf_free(&ref);
    free(docs);
}

/* ---- Walking every key -------------------------------------------------- */

/* A key's place: YAML lines leading to it, and the line it is on. */
typedef struct place {
    char head[1024]; /* the lines above the key */
    int indent;      /* of the key */
    int line;        /* of the key */
} place;

/* The place of the keys of section `name` at `pl`. */
static void nest(place *inner, const place *pl, const char *name) {
    *inner = *pl;
    int n = snprintf(inner->head, sizeof inner->head, "%s%*s%s:\n", pl->head, pl->indent, "", name);
    CHECK(n > 0 && (size_t)n < sizeof inner->head);
    inner->indent = pl->indent + 2;
    inner->line = pl->line + 1;
}

static void make_text(char *out, size_t outlen, const place *pl, const char *key,
                      const char *value) {
    snprintf(out, outlen, "%s%*s%s: %s\n", pl->head, pl->indent, "", key, value);
}

/* Expects loading `key: value` at `pl` to fail with "FILE:LINE: want". */
static void expect_error(const place *pl, const char *key, const char *value, const char *want) {
    char text[2048], err[1024], full[2048];
    sr_config cfg;
    make_text(text, sizeof text, pl, key, value);
    CHECK_INT(load_text(&cfg, text, err, sizeof err), -1);
    snprintf(full, sizeof full, "%s:%d: %s", path, pl->line, want);
    if (strcmp(err, full) != 0)
        fprintf(stderr, "for:\n%s", text);
    CHECK_STR(err, full);
    sr_config_free(&cfg);
}

static void expect_wrong(const place *pl, const char *key, const char *value, const char *what,
                         const char *got) {
    char want[1024];
    if (got)
        snprintf(want, sizeof want, "key '%s': expected %s, got %s", key, what, got);
    else
        snprintf(want, sizeof want, "key '%s': expected %s", key, what);
    expect_error(pl, key, value, want);
}

static const char *expected_text(const sr_conf_key *k) {
    switch (k->type) {
    case SR_CONF_BOOL: return "true or false";
    case SR_CONF_SIZE: return "a size such as 512, 64KiB or 16MiB (more than 0)";
    case SR_CONF_DURATION:
        return k->flags & SR_CONF_ZERO_OK ? "a duration such as 250ms, 5s, 1m or 1h"
                                          : "a duration such as 250ms, 5s, 1m or 1h (more than 0)";
    case SR_CONF_STRING: return "a non-empty string";
    case SR_CONF_STRINGS: return "a string or a list of strings";
    default: return k->expected;
    }
}

/* A value of the key's own type: the default, or one that is valid. */
static const char *valid_value(const sr_conf_key *k) {
    if (k->dflt)
        return k->dflt;
    switch (k->type) {
    case SR_CONF_BOOL: return "true";
    case SR_CONF_SIZE: return "1KiB";
    case SR_CONF_DURATION: return "5s";
    case SR_CONF_INT: return "1";
    case SR_CONF_LISTEN: return "127.0.0.1:1234";
    case SR_CONF_ENUM: return k->names[0];
    default: return "x";
    }
}

/* Limits and type errors of one value key. */
static void check_value_key(const place *pl, const sr_conf_key *k) {
    int secret = (k->flags & SR_CONF_SECRET) != 0;
    const char *what = expected_text(k);
    char v[64], got[80];
    rows_walked++;
    /* Never a map or a list (but STRINGS, which takes one). */
    expect_wrong(pl, k->name, "{a: 1}", what, "a map");
    if (k->type != SR_CONF_STRINGS)
        expect_wrong(pl, k->name, "[1]", what, "a list");
    switch (k->type) {
    case SR_CONF_INT:
        snprintf(v, sizeof v, "%lld", k->min - 1);
        snprintf(got, sizeof got, "'%s'", v);
        expect_wrong(pl, k->name, v, what, got);
        snprintf(v, sizeof v, "%lld", k->max + 1);
        {
            char want[256];
            snprintf(want, sizeof want, "key '%s': at most %lld, got %s", k->name, k->max, v);
            expect_error(pl, k->name, v, want);
        }
        expect_wrong(pl, k->name, "1.5", what, "'1.5'");
        break;
    case SR_CONF_SIZE:
        expect_wrong(pl, k->name, "0", what, "'0'");
        expect_wrong(pl, k->name, "12 parsecs", what, "'12 parsecs'");
        if (k->max && k->max < LLONG_MAX) {
            snprintf(v, sizeof v, "%lld", k->max + 1);
            snprintf(got, sizeof got, "'%s'", v);
            expect_wrong(pl, k->name, v, what, got);
        }
        break;
    case SR_CONF_DURATION:
        if (!(k->flags & SR_CONF_ZERO_OK))
            expect_wrong(pl, k->name, "0", what, "'0'");
        expect_wrong(pl, k->name, "1d", what, "'1d'");
        break;
    case SR_CONF_BOOL:
    case SR_CONF_ENUM:
    case SR_CONF_LISTEN: expect_wrong(pl, k->name, "bogus-value", what, "'bogus-value'"); break;
    case SR_CONF_STRING: expect_wrong(pl, k->name, "''", what, secret ? NULL : "''"); break;
    default: break;
    }
}

static void walk(const sr_conf_key *keys, const place *pl);

static void check_section_key(const place *pl, const sr_conf_key *k) {
    expect_wrong(pl, k->name, "not-a-map", "a map", "'not-a-map'");
    /* A misspelt key in the section is named, with a suggestion. */
    const sr_conf_key *first = k->sub;
    place inner;
    char misspelt[128], want[512];
    nest(&inner, pl, k->name);
    snprintf(misspelt, sizeof misspelt, "%sq", first->name);
    snprintf(want, sizeof want, "unknown key '%s' (did you mean '%s'?)", misspelt, first->name);
    expect_error(&inner, misspelt, valid_value(first), want);
    walk(k->sub, &inner);
}

static void walk(const sr_conf_key *keys, const place *pl) {
    for (const sr_conf_key *k = keys; k->name; k++) {
        if (k->alias_of || (k->flags & SR_CONF_NOT_DOCUMENTED) || k->type == SR_CONF_CUSTOM)
            continue;
        if (k->type == SR_CONF_SECTION)
            check_section_key(pl, k);
        else if (k->type != SR_CONF_STRINGS)
            check_value_key(pl, k);
        else {
            /* One string or a list of them; an element of a flow list is
             * on the key's line. */
            rows_walked++;
            expect_wrong(pl, k->name, "{a: 1}", expected_text(k), "a map");
            expect_wrong(pl, k->name, "[a.lua, [b.lua]]", "a non-empty string", "a list");
        }
    }
}

static void test_every_key_checks_its_values(void) {
    place top = {.head = "", .indent = 0, .line = 1};
    walk(sr_config_keys, &top);
    place integ = {.head = "integrations:\n  - type: WEBHOOK\n", .indent = 4, .line = 3};
    walk(sr_integration_conf_keys, &integ);
    /* logging, workers, inputs (10 + 8 TLS), queue, delivery, admin, ... */
    CHECK(rows_walked >= 40);
}

/* ---- Defaults ----------------------------------------------------------- */

/* Writing a key's documented default changes nothing: the default the
 * docs show is the one in effect. */
static void defaults_in(const sr_conf_key *keys, const place *pl, const char *baseline) {
    for (const sr_conf_key *k = keys; k->name; k++) {
        if (k->alias_of || (k->flags & SR_CONF_NOT_DOCUMENTED))
            continue;
        if (k->type == SR_CONF_SECTION) {
            place inner;
            nest(&inner, pl, k->name);
            defaults_in(k->sub, &inner, baseline);
            continue;
        }
        if (!k->dflt)
            continue;
        char text[2048];
        make_text(text, sizeof text, pl, k->name, k->dflt);
        char *got = settings_of(text);
        CHECK(got != NULL);
        if (got && strcmp(got, baseline) != 0)
            fprintf(stderr, "writing the default changed the settings:\n%s%s\n", text, got);
        CHECK(got && strcmp(got, baseline) == 0);
        free(got);
    }
}

static void test_defaults_are_what_the_rows_say(void) {
    char *baseline = settings_of("");
    CHECK(baseline != NULL);
    if (!baseline)
        return;
    place top = {.head = "", .indent = 0, .line = 1};
    defaults_in(sr_config_keys, &top, baseline);
    /* The settings show the defaults in the rows' own words. */
    CHECK(strstr(baseline, "\"script_timeout\":\"200ms\"") != NULL);
    CHECK(strstr(baseline, "\"inhibit\":\"5m\"") != NULL);
    CHECK(strstr(baseline, "\"max_body\":\"16MiB\"") != NULL);
    CHECK(strstr(baseline, "\"listen\":\"127.0.0.1:9090\"") != NULL);
    free(baseline);

    /* The queue's and delivery's owners fill unset values from the same
     * rows: resolving nothing gives each row's default. */
    sr_queue_conf none = {0}, resolved, parsed = {0};
    char err[256];
    sr_queue_conf_resolve(&none, &none, &resolved);
    CHECK_INT(sr_conf_set_defaults(sr_queue_conf_keys, &parsed, err, sizeof err), 0);
    CHECK(memcmp(&resolved, &parsed, sizeof parsed) == 0);
    CHECK(resolved.max_bytes == 16ull << 20 && resolved.segment_bytes == 64ull << 20);
    sr_queue_conf disk = {.type = SR_QUEUE_DISK};
    sr_queue_conf_resolve(&none, &disk, &resolved);
    CHECK(resolved.max_bytes == 1ull << 30);

    sr_delivery_conf d = {0}, dp = {0};
    CHECK_INT(sr_conf_fill_unset(sr_delivery_conf_keys, &d, NULL), 0);
    CHECK_INT(sr_conf_set_defaults(sr_delivery_conf_keys, &dp, err, sizeof err), 0);
    CHECK(memcmp(&d, &dp, sizeof d) == 0);
    CHECK_INT(d.max_attempts, 3);
    CHECK(d.backoff_ms == 1000 && d.backoff_max_ms == 30000 && d.inhibit_ms == 300000 &&
          d.shutdown_timeout_ms == 10000);
    /* A value set stays. */
    sr_delivery_conf set = {.max_attempts = 7, .inhibit_ms = 5};
    sr_conf_fill_unset(sr_delivery_conf_keys, &set, NULL);
    CHECK_INT(set.max_attempts, 7);
    CHECK(set.inhibit_ms == 5 && set.backoff_ms == 1000);
}

/* ---- Aliases and printing ----------------------------------------------- */

static void test_aliases_and_secrets(void) {
    sr_config cfg;
    char err[1024], want[1024];
    /* The other spelling reads into the same field... */
    CHECK_INT(load_text(&cfg,
                        "inputs:\n  http:\n    tls: {cert_file: /c.pem, key_file: /k.pem, "
                        "client_ca_file: /ca.pem}\n",
                        err, sizeof err),
              0);
    CHECK_STR(cfg.http.tls.cert_file, "/c.pem");
    CHECK_STR(cfg.http.tls.client_ca_file, "/ca.pem");
    sr_config_free(&cfg);
    /* ...and both in one map is an error at the second. */
    CHECK_INT(load_text(&cfg,
                        "inputs:\n  http:\n    tls:\n      key_file: /k.pem\n      cert: /c.pem\n"
                        "      key: /k2.pem\n",
                        err, sizeof err),
              -1);
    snprintf(want, sizeof want, "%s:6: key 'key' sets 'key' again (already set on line 4)", path);
    CHECK_STR(err, want);
    sr_config_free(&cfg);

    /* Secrets are masked in the printed settings; an unset one is null. */
    char *s = settings_of("inputs: {http: {token: do-not-print-4417}}\n");
    CHECK(s && strstr(s, "do-not-print") == NULL && strstr(s, "\"token\":\"******\""));
    free(s);
    s = settings_of("");
    CHECK(s && strstr(s, "\"token\":null"));
    free(s);
    /* Sizes and durations print in the largest exact unit. */
    s = settings_of("inputs: {http: {max_body: 1536, idle_timeout: 90s}, tcp: {max_line: 3KiB}}\n"
                    "script_timeout: 2h\n");
    CHECK(s && strstr(s, "\"max_body\":\"1536\""));
    CHECK(s && strstr(s, "\"max_line\":\"3KiB\""));
    CHECK(s && strstr(s, "\"idle_timeout\":\"90s\""));
    CHECK(s && strstr(s, "\"script_timeout\":\"2h\""));
    free(s);
}

int main(void) {
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    test_docs_match_the_tables();
    test_every_key_checks_its_values();
    test_defaults_are_what_the_rows_say();
    test_aliases_and_secrets();
    unlink(path);
    rmdir(dir);
    return CHECK_DONE();
}
