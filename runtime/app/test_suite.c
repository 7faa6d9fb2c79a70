/* test_suite.c - loading a script test file, building each case's event,
 * running it and reporting (test_expect.c checks the expectations). */
#include "test_suite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "fsutil.h"
#include "json.h"
#include "test_expect.h"
#include "test_run.h"
#include "yaml_load.h"

#define SR_SUITE_MAX_FILES 64
#define SR_SUITE_MAX_SWAPS 32 /* the global list plus integrations */

/* One list of scripts a suite swaps in, resolved against the suite. */
typedef struct suite_list {
    char *paths[SR_SUITE_MAX_FILES];
    const sr_node *entries[SR_SUITE_MAX_FILES];
} suite_list;

/* `rel` resolved against the suite's folder (absolute paths stay). */
static char *suite_path(const char *suite, const char *rel) {
    const char *slash = strrchr(suite, '/');
    size_t dlen = slash && rel[0] != '/' ? (size_t)(slash - suite + 1) : 0;
    char *p = malloc(dlen + strlen(rel) + 1);
    if (p) {
        memcpy(p, suite, dlen);
        strcpy(p + dlen, rel);
    }
    return p;
}

static int read_file(const char *path, sr_buf *out) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    int rc = sr_read_all(f, out);
    fclose(f);
    return rc;
}

/* The paths of a scalar-or-list node, resolved against the suite. With
 * `entries`, an item may also be a map {path, params} (a script with its
 * parameters), and each item's node is stored there. */
static int path_list(const char *suite, const sr_node *n, char **out, const sr_node **entries,
                     size_t *count, char *err, size_t errlen) {
    size_t k = n->kind == SR_NODE_SEQ ? n->n : 1;
    *count = 0;
    if (n->kind == SR_NODE_MAP || k > SR_SUITE_MAX_FILES) {
        snprintf(err, errlen, "%s:%d: expected a path or a list of at most %d paths", suite,
                 n->line, SR_SUITE_MAX_FILES);
        return -1;
    }
    for (size_t i = 0; i < k; i++) {
        const sr_node *item = n->kind == SR_NODE_SEQ ? n->items[i] : n;
        const sr_node *s = entries && item->kind == SR_NODE_MAP ? sr_node_get(item, "path") : item;
        if (!s || s->kind != SR_NODE_SCALAR || !s->len) {
            snprintf(err, errlen, "%s:%d: expected a path%s", suite, item->line,
                     entries ? " or {path, params}" : "");
            return -1;
        }
        if (entries)
            entries[*count] = item;
        if (!(out[(*count)++] = suite_path(suite, s->text))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* ---- A case's event ----------------------------------------------------- */

/* The JSON object `obj` with the top-level members of `set` replaced (or
 * added at the end), every other byte as it was. */
static int apply_set(const sr_node *set, const char *obj, size_t len, sr_buf *out, char *err,
                     size_t errlen) {
    sr_json_error jerr;
    if (set->kind != SR_NODE_MAP) {
        snprintf(err, errlen, "%s:%d: 'set' must be a map of top-level fields", set->file,
                 set->line);
        return -1;
    }
    while (len && obj[0] != '{')
        obj++, len--;
    if (sr_json_validate(obj, len, SR_JSON_DEFAULT_MAX_DEPTH, &jerr) != 0 || !len) {
        snprintf(err, errlen, "%s:%d: 'set' needs one JSON object as the event", set->file,
                 set->line);
        return -1;
    }
    char *used = calloc(set->n ? set->n : 1, 1);
    if (!used)
        return -1;
    size_t pos = 0;
    sr_json_member m;
    int first = 1;
    sr_buf_putc(out, '{');
    while (sr_json_object_next(obj, len, &pos, &m)) {
        size_t k = 0;
        while (k < set->n &&
               !sr_json_key_equals(obj + m.key_off, m.key_len, set->keys[k], strlen(set->keys[k])))
            k++;
        sr_buf_puts(out, first ? "" : ",");
        first = 0;
        sr_buf_printf(out, "\"%.*s\":", (int)m.key_len, obj + m.key_off);
        if (k < set->n) {
            used[k] = 1;
            sr_node_to_json(set->items[k], out);
        } else {
            sr_buf_append(out, obj + m.val_off, m.val_len);
        }
    }
    for (size_t k = 0; k < set->n; k++) {
        if (used[k])
            continue;
        sr_buf_puts(out, first ? "" : ",");
        first = 0;
        sr_buf_json_string(out, set->keys[k], strlen(set->keys[k]));
        sr_buf_putc(out, ':');
        sr_node_to_json(set->items[k], out);
    }
    sr_buf_putc(out, '}');
    free(used);
    return 0;
}

/* The case's input: `event:` is a YAML map, JSON text (starts with '{' or
 * '['), or a file relative to the suite; then `set:`. */
static int case_event(const char *suite, const sr_node *c, sr_buf *out, char *err, size_t errlen) {
    const sr_node *ev = sr_node_get(c, "event"), *set = sr_node_get(c, "set");
    sr_buf raw = SR_BUF_INIT;
    int rc = -1;
    if (!ev || ev->kind == SR_NODE_SEQ || (ev->kind == SR_NODE_SCALAR && !ev->len)) {
        snprintf(err, errlen, "%s:%d: a case needs an 'event' (a file, JSON text or a map)", suite,
                 c->line);
        return -1;
    }
    if (ev->kind == SR_NODE_MAP) {
        sr_node_to_json(ev, &raw);
    } else if (ev->text[strspn(ev->text, " \t\r\n")] == '{' ||
               ev->text[strspn(ev->text, " \t\r\n")] == '[') {
        sr_buf_append(&raw, ev->text, ev->len);
    } else {
        char *path = suite_path(suite, ev->text);
        int ok = path && read_file(path, &raw) == 0;
        if (!ok)
            snprintf(err, errlen, "%s:%d: cannot read event file %s", suite, ev->line,
                     path ? path : ev->text);
        free(path);
        if (!ok)
            goto done;
    }
    if (set)
        rc = apply_set(set, raw.data ? raw.data : "", raw.len, out, err, errlen);
    else
        rc = sr_buf_append(out, raw.data ? raw.data : "", raw.len);
done:
    sr_buf_free(&raw);
    return rc;
}

/* ---- Running ------------------------------------------------------------ */

/* Runs one case; prints its line (and diff). Returns 0 passed, 1 failed, -1
 * the case is malformed (printed too). */
static int run_case(const char *suite, sr_test_run *r, const sr_node *c, size_t nth) {
    char err[1024] = "";
    sr_buf input = SR_BUF_INIT, diff = SR_BUF_INIT;
    const sr_node *name = sr_node_get(c, "name"), *expect = sr_node_get(c, "expect");
    const char *label = name && name->kind == SR_NODE_SCALAR ? name->text : "";
    sr_test_body *b = NULL;
    int rc = -1, nfail;
    if (c->kind != SR_NODE_MAP) {
        snprintf(err, sizeof err, "%s:%d: a case must be a map", suite, c->line);
        goto done;
    }
    if (!expect) {
        snprintf(err, sizeof err, "%s:%d: case '%s' has no 'expect'", suite, c->line, label);
        goto done;
    }
    if (case_event(suite, c, &input, err, sizeof err) != 0)
        goto done;
    if (!(b = sr_test_run_body(r, input.data ? input.data : "", input.len, err, sizeof err)))
        goto done;
    if (b->nevents != 1) {
        snprintf(err, sizeof err, "%s:%d: case '%s': the input holds %zu events, not one", suite,
                 c->line, label, b->nevents);
        goto done;
    }
    nfail = sr_test_expect(expect, r, &b->events[0], &diff);
    if (nfail < 0) {
        snprintf(err, sizeof err, "%.*s", (int)diff.len, diff.data);
        goto done;
    }
    rc = nfail > 0;
    printf("%s %s:%d: %s\n", rc ? "FAIL" : "ok  ", suite, c->line, *label ? label : "(unnamed)");
    if (rc)
        fwrite(diff.data, 1, diff.len, stdout);
done:
    if (rc < 0)
        printf("ERROR %s:%d: case %zu: %s\n", suite, c->line, nth + 1, err);
    sr_test_body_free(b);
    sr_buf_free(&input);
    sr_buf_free(&diff);
    return rc;
}

static int known_keys(const char *suite, const sr_node *root) {
    static const char *const keys[] = {"config", "scripts", "integration_scripts", "cases", NULL};
    char msg[200];
    int at = sr_test_unknown_key(root, keys, "unknown key", msg, sizeof msg);
    if (!at)
        return 0;
    fprintf(stderr, "siemrelay: %s:%d: %s\n", suite,
            root->key_lines ? root->key_lines[at - 1] : root->line, msg);
    return -1;
}

/* The suite's `scripts` and `integration_scripts` as swaps for the run;
 * the lists' storage is `lists`. Returns the number of swaps, or -1. */
static int suite_swaps(const char *suite, const sr_node *root, suite_list *lists,
                       sr_test_scripts *swaps, char *err, size_t errlen) {
    const sr_node *scr = sr_node_get(root, "scripts"),
                  *per = sr_node_get(root, "integration_scripts");
    size_t k = 0;
    if (per && per->kind != SR_NODE_MAP) {
        snprintf(err, errlen,
                 "%s:%d: 'integration_scripts' maps integration names to their scripts", suite,
                 per->line);
        return -1;
    }
    if (per && per->n + 1 > SR_SUITE_MAX_SWAPS) {
        snprintf(err, errlen, "%s:%d: at most %d integrations' scripts", suite, per->line,
                 SR_SUITE_MAX_SWAPS - 1);
        return -1;
    }
    for (size_t i = 0; i <= (per ? per->n : 0); i++) {
        const sr_node *list = i == 0 ? scr : per->items[i - 1];
        if (!list)
            continue;
        suite_list *l = &lists[k];
        sr_test_scripts *sw = &swaps[k++];
        sw->integration = i == 0 ? NULL : per->keys[i - 1];
        if (path_list(suite, list, l->paths, l->entries, &sw->n, err, errlen) != 0)
            return -1;
        sw->paths = (const char *const *)l->paths;
        sw->entries = l->entries;
    }
    return (int)k;
}

/* Runs one suite; returns 0, 1 (a case failed) or 2 (it cannot run). */
static int run_suite(const char *suite, const char *const *configs, size_t nconfigs) {
    char err[1024];
    char *cfgs[SR_SUITE_MAX_FILES] = {0};
    suite_list *lists = calloc(SR_SUITE_MAX_SWAPS, sizeof *lists);
    sr_test_scripts swaps[SR_SUITE_MAX_SWAPS];
    size_t ncfgs = 0, passed = 0, failed = 0;
    int nswaps = 0;
    sr_test_run *r = NULL;
    int rc = 2;
    sr_node *root = lists ? sr_yaml_load_file(suite, err, sizeof err) : NULL;
    if (!root) {
        fprintf(stderr, "siemrelay: %s\n", lists ? err : "out of memory");
        free(lists);
        return 2;
    }
    const sr_node *cfg = sr_node_get(root, "config");
    const sr_node *cases = sr_node_get(root, "cases");
    if (root->kind != SR_NODE_MAP || !cases || cases->kind != SR_NODE_SEQ) {
        fprintf(stderr, "siemrelay: %s: a suite is a map with a list of 'cases'\n", suite);
        goto done;
    }
    if (known_keys(suite, root) != 0)
        goto done;
    if (!nconfigs && !cfg) {
        fprintf(stderr, "siemrelay: %s: no configuration: give 'config' or -c FILE\n", suite);
        goto done;
    }
    if ((!nconfigs && path_list(suite, cfg, cfgs, NULL, &ncfgs, err, sizeof err) != 0) ||
        (nswaps = suite_swaps(suite, root, lists, swaps, err, sizeof err)) < 0) {
        fprintf(stderr, "siemrelay: %s\n", err);
        goto done;
    }
    r = sr_test_run_new(nconfigs ? configs : (const char *const *)cfgs, nconfigs ? nconfigs : ncfgs,
                        swaps, (size_t)nswaps, err, sizeof err);
    if (!r) {
        fprintf(stderr, "siemrelay: %s: %s\n", suite, err);
        goto done;
    }
    rc = 0;
    for (size_t i = 0; i < cases->n; i++) {
        int c = run_case(suite, r, cases->items[i], i);
        if (c == 0)
            passed++;
        else
            failed++;
    }
    printf("%s: %zu passed, %zu failed\n", suite, passed, failed);
    rc = failed ? 1 : 0;
done:
    sr_test_run_free(r);
    for (size_t i = 0; i < SR_SUITE_MAX_FILES; i++)
        free(cfgs[i]);
    for (size_t i = 0; i < SR_SUITE_MAX_SWAPS; i++)
        for (size_t j = 0; j < SR_SUITE_MAX_FILES; j++)
            free(lists[i].paths[j]);
    free(lists);
    sr_node_free(root);
    return rc;
}

int sr_test_suites(const char *const *suites, size_t nsuites, const char *const *configs,
                   size_t nconfigs) {
    int worst = 0;
    for (size_t i = 0; i < nsuites; i++) {
        int rc = run_suite(suites[i], configs, nconfigs);
        if (rc > worst)
            worst = rc;
    }
    fflush(stdout);
    return worst;
}
