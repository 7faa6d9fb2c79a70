/* test_expect.c - one case's expectations, checked and rendered as diffs. */
#include "test_expect.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_path.h"

/* ---- YAML as JSON ------------------------------------------------------- */

/* A JSON number token, per RFC 8259's grammar. */
static int json_number(const char *s) {
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return 0;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

/* A plain scalar that is a JSON literal or number, not a string. */
static int plain_literal(const sr_node *n) {
    return n->kind == SR_NODE_SCALAR && !n->quoted &&
           (n->is_null || strcmp(n->text, "true") == 0 || strcmp(n->text, "false") == 0 ||
            json_number(n->text));
}

void sr_node_to_json(const sr_node *n, sr_buf *out) {
    if (n->kind == SR_NODE_MAP || n->kind == SR_NODE_SEQ) {
        int map = n->kind == SR_NODE_MAP;
        sr_buf_putc(out, map ? '{' : '[');
        for (size_t i = 0; i < n->n; i++) {
            if (i)
                sr_buf_putc(out, ',');
            if (map) {
                sr_buf_json_string(out, n->keys[i], strlen(n->keys[i]));
                sr_buf_putc(out, ':');
            }
            sr_node_to_json(n->items[i], out);
        }
        sr_buf_putc(out, map ? '}' : ']');
    } else if (plain_literal(n)) {
        sr_buf_puts(out, n->is_null ? "null" : n->text);
    } else {
        sr_buf_json_string(out, n->text, n->len);
    }
}

/* ---- Values ------------------------------------------------------------- */

/* Whether the JSON value [v, v+vlen) of type `type` is what `want` says
 * (test_expect.h has the rules). */
static int value_matches(const sr_node *want, const char *v, size_t vlen, uint8_t type) {
    sr_buf a = SR_BUF_INIT, b = SR_BUF_INIT;
    int ok;
    if (want->kind == SR_NODE_SCALAR && plain_literal(want)) {
        const char *t = want->is_null ? "null" : want->text;
        ok = type != SR_JSON_STRING && strlen(t) == vlen && memcmp(t, v, vlen) == 0;
    } else if (want->kind == SR_NODE_SCALAR) {
        ok = type == SR_JSON_STRING && sr_json_unescape(v, vlen, 1, &a) == 0 &&
             a.len == want->len && (a.len == 0 || memcmp(a.data, want->text, a.len) == 0);
    } else {
        sr_node_to_json(want, &a);
        ok = sr_json_compact(v, vlen, &b) == 0 && a.len == b.len &&
             memcmp(a.data, b.data, a.len) == 0;
    }
    sr_buf_free(&a);
    sr_buf_free(&b);
    return ok;
}

/* Appends at most ~300 bytes of a value, for a diff line. */
static void excerpt(sr_buf *out, const char *p, size_t n) {
    if (n > 300) {
        sr_buf_printf(out, "%.*s... (%zu bytes)", 300, p, n);
        return;
    }
    sr_buf_append(out, p, n);
}

static int bad(sr_buf *diff, const sr_node *n, const char *what) {
    sr_buf_reset(diff);
    sr_buf_printf(diff, "%s:%d: %s", n->file ? n->file : "?", n->line, what);
    return -1;
}

/* `fields:` and `absent:` against the JSON document [doc, doc+len); `where`
 * prefixes each diff line ("" for the event, "records.soc " for a record). */
static int check_fields(const sr_node *fields, const sr_node *absent, const char *doc, size_t len,
                        const char *where, sr_buf *diff) {
    int nfail = 0;
    if (fields && fields->kind != SR_NODE_MAP)
        return bad(diff, fields, "'fields' must be a map of path: value");
    if (absent && absent->kind != SR_NODE_SEQ)
        return bad(diff, absent, "'absent' must be a list of paths");
    for (size_t i = 0; fields && i < fields->n; i++) {
        sr_json_member m;
        int rc = sr_json_path_get(doc, len, fields->keys[i], &m);
        if (rc < 0)
            return bad(diff, fields->items[i], "malformed path");
        if (rc == 1 && value_matches(fields->items[i], doc + m.val_off, m.val_len, m.type))
            continue;
        nfail++;
        sr_buf want = SR_BUF_INIT;
        sr_node_to_json(fields->items[i], &want);
        sr_buf_printf(diff, "  %sfields %s:\n      expected %.*s\n      got      ", where,
                      fields->keys[i], (int)want.len, want.data);
        if (rc == 1)
            excerpt(diff, doc + m.val_off, m.val_len);
        else
            sr_buf_puts(diff, "(absent)");
        sr_buf_putc(diff, '\n');
        sr_buf_free(&want);
    }
    for (size_t i = 0; absent && i < absent->n; i++) {
        sr_json_member m;
        const sr_node *p = absent->items[i];
        int rc = p->kind == SR_NODE_SCALAR ? sr_json_path_get(doc, len, p->text, &m) : -1;
        if (rc < 0)
            return bad(diff, p, "malformed path");
        if (rc == 0)
            continue;
        nfail++;
        sr_buf_printf(diff, "  %sabsent %s:\n      expected (absent)\n      got      ", where,
                      p->text);
        excerpt(diff, doc + m.val_off, m.val_len);
        sr_buf_putc(diff, '\n');
    }
    return nfail;
}

int sr_test_unknown_key(const sr_node *map, const char *const *keys, const char *what, char *msg,
                        size_t len) {
    for (size_t i = 0; i < map->n; i++) {
        size_t k = 0;
        while (keys[k] && strcasecmp(keys[k], map->keys[i]) != 0)
            k++;
        if (keys[k])
            continue;
        const char *s = sr_suggest(map->keys[i], keys);
        snprintf(msg, len, "%s '%s'%s%s%s", what, map->keys[i], s ? " (did you mean '" : "",
                 s ? s : "", s ? "'?)" : "");
        return (int)i + 1;
    }
    return 0;
}

/* A key of `map` not in `keys`, reported as a malformed expectation. */
static int unknown_key(const sr_node *map, const char *const *keys, const char *what,
                       sr_buf *diff) {
    char msg[200];
    int at = sr_test_unknown_key(map, keys, what, msg, sizeof msg);
    if (!at)
        return 0;
    bad(diff, map->items[at - 1], msg);
    return -1;
}

static int scalar_is(const sr_node *n) { return n && n->kind == SR_NODE_SCALAR; }

/* `reason:` is a substring of the reason given. */
static int check_reason(const sr_node *want, const char *why, const char *where, sr_buf *diff) {
    if (!want)
        return 0;
    if (!scalar_is(want))
        return bad(diff, want, "'reason' must be a string");
    if (strstr(why, want->text))
        return 0;
    sr_buf_printf(diff, "  %sreason:\n      expected to contain \"%s\"\n      got      \"%s\"\n",
                  where, want->text, why);
    return 1;
}

/* ---- One integration's record ------------------------------------------ */

static int check_record(const sr_node *want, const char *name, const sr_test_target *t,
                        sr_buf *diff) {
    static const char *const keys[] = {"contains", "matches", "fields", "absent",
                                       "result",   "reason",  NULL};
    char where[300];
    int nfail = 0, rc;
    snprintf(where, sizeof where, "records.%s ", name);
    if (want->kind != SR_NODE_MAP)
        return bad(diff, want, "a record's expectations must be a map");
    if (unknown_key(want, keys, "unknown key", diff) != 0)
        return -1;
    const sr_node *result = sr_node_get(want, "result");
    const char *got = sr_test_target_name(t->kind);
    if (result && (!scalar_is(result) || strcasecmp(result->text, got) != 0)) {
        sr_buf_printf(diff, "  %sresult:\n      expected %s\n      got      %s%s%s\n", where,
                      scalar_is(result) ? result->text : "?", got,
                      t->kind == SR_TARGET_RECORD ? "" : ": ",
                      t->kind == SR_TARGET_RECORD ? "" : t->why);
        return nfail + 1;
    }
    if ((rc = check_reason(sr_node_get(want, "reason"), t->why, where, diff)) < 0)
        return -1;
    nfail += rc;
    const sr_node *contains = sr_node_get(want, "contains");
    const sr_node *matches = sr_node_get(want, "matches");
    const sr_node *fields = sr_node_get(want, "fields"), *absent = sr_node_get(want, "absent");
    if (!contains && !matches && !fields && !absent)
        return nfail;
    if (t->kind != SR_TARGET_RECORD) {
        sr_buf_printf(diff, "  %s: expected a record, got %s: %s\n", where,
                      sr_test_target_name(t->kind), t->why);
        return nfail + 1;
    }
    if (contains) {
        if (!scalar_is(contains))
            return bad(diff, contains, "'contains' must be a string");
        if (!memmem(t->rec, t->rec_len, contains->text, contains->len)) {
            nfail++;
            sr_buf_printf(diff, "  %scontains:\n      expected to contain \"%s\"\n      got      ",
                          where, contains->text);
            excerpt(diff, t->rec, t->rec_len);
            sr_buf_putc(diff, '\n');
        }
    }
    if (matches) {
        regex_t re;
        if (!scalar_is(matches) || regcomp(&re, matches->text, REG_EXTENDED | REG_NOSUB) != 0)
            return bad(diff, matches, "'matches' must be a POSIX extended regular expression");
        char *text = strndup(t->rec, t->rec_len);
        int hit = text && regexec(&re, text, 0, NULL, 0) == 0;
        regfree(&re);
        free(text);
        if (!hit) {
            nfail++;
            sr_buf_printf(diff, "  %smatches:\n      expected to match /%s/\n      got      ",
                          where, matches->text);
            excerpt(diff, t->rec, t->rec_len);
            sr_buf_putc(diff, '\n');
        }
    }
    if (fields || absent) {
        sr_json_error jerr;
        if (sr_json_validate(t->rec, t->rec_len, SR_JSON_DEFAULT_MAX_DEPTH, &jerr) != 0) {
            sr_buf_printf(diff, "  %sfields: the record is not JSON (%s at offset %zu)\n", where,
                          jerr.msg, jerr.offset);
            return nfail + 1;
        }
        if ((rc = check_fields(fields, absent, t->rec, t->rec_len, where, diff)) < 0)
            return -1;
        nfail += rc;
    }
    return nfail;
}

/* ---- The case ----------------------------------------------------------- */

static int check_integrations(const sr_node *want, sr_test_run *r, const sr_test_event *te,
                              sr_buf *diff) {
    if (want->kind != SR_NODE_SEQ)
        return bad(diff, want, "'integrations' must be a list of names");
    size_t n = sr_test_run_count(r);
    int same = 1;
    for (size_t i = 0; i < want->n; i++) {
        size_t k = 0;
        if (!scalar_is(want->items[i]))
            return bad(diff, want->items[i], "an integration name must be a string");
        while (k < n && strcmp(sr_test_run_integration(r, k)->name, want->items[i]->text) != 0)
            k++;
        if (k == n)
            return bad(diff, want->items[i], "no integration of that name in the configuration");
        same &= te->targets[k].kind == SR_TARGET_RECORD;
    }
    size_t got = 0;
    for (size_t k = 0; k < n; k++)
        got += te->targets[k].kind == SR_TARGET_RECORD;
    if (same && got == want->n)
        return 0;
    sr_buf_puts(diff, "  integrations:\n      expected [");
    for (size_t i = 0; i < want->n; i++)
        sr_buf_printf(diff, "%s%s", i ? ", " : "", want->items[i]->text);
    sr_buf_puts(diff, "]\n      got      [");
    int first = 1;
    for (size_t k = 0; k < n; k++)
        if (te->targets[k].kind == SR_TARGET_RECORD) {
            sr_buf_printf(diff, "%s%s", first ? "" : ", ", sr_test_run_integration(r, k)->name);
            first = 0;
        }
    sr_buf_puts(diff, "]\n");
    for (size_t k = 0; k < n; k++)
        if (te->targets[k].kind != SR_TARGET_RECORD)
            sr_buf_printf(diff, "      %s: %s: %s\n", sr_test_run_integration(r, k)->name,
                          sr_test_target_name(te->targets[k].kind), te->targets[k].why);
    return 1;
}

int sr_test_expect(const sr_node *expect, sr_test_run *r, const sr_test_event *te, sr_buf *diff) {
    static const char *const keys[] = {"status", "dropped", "reason",  "integrations",
                                       "fields", "absent",  "records", NULL};
    int nfail = 0, rc;
    if (expect->kind != SR_NODE_MAP)
        return bad(diff, expect, "'expect' must be a map");
    if (unknown_key(expect, keys, "unknown expectation", diff) != 0)
        return -1;
    const char *status = sr_test_status_name(te->status);
    const sr_node *n = sr_node_get(expect, "status");
    if (n && (!scalar_is(n) || strcasecmp(n->text, status) != 0)) {
        nfail++;
        sr_buf_printf(diff, "  status:\n      expected %s\n      got      %s%s%s\n",
                      scalar_is(n) ? n->text : "?", status, te->why[0] ? ": " : "", te->why);
    }
    if ((n = sr_node_get(expect, "dropped"))) {
        int want;
        if (sr_node_bool(n, &want) != 0)
            return bad(diff, n, "'dropped' must be true or false");
        if (want != (te->status == SR_TEST_DROPPED)) {
            nfail++;
            sr_buf_printf(diff, "  dropped:\n      expected %s\n      got      %s%s%s\n",
                          want ? "true" : "false", status, te->why[0] ? ": " : "", te->why);
        }
    }
    if ((rc = check_reason(sr_node_get(expect, "reason"), te->why, "", diff)) < 0)
        return -1;
    nfail += rc;
    if ((n = sr_node_get(expect, "integrations"))) {
        if ((rc = check_integrations(n, r, te, diff)) < 0)
            return -1;
        nfail += rc;
    }
    const sr_node *fields = sr_node_get(expect, "fields"), *absent = sr_node_get(expect, "absent");
    if ((fields || absent) && te->ev) {
        sr_buf doc = SR_BUF_INIT;
        sr_event_write(te->ev, &doc);
        rc = check_fields(fields, absent, doc.data, doc.len, "", diff);
        sr_buf_free(&doc);
        if (rc < 0)
            return -1;
        nfail += rc;
    } else if (fields || absent) {
        nfail++;
        sr_buf_printf(diff, "  fields: no event to check (%s: %s)\n", status, te->why);
    }
    if ((n = sr_node_get(expect, "records"))) {
        if (n->kind != SR_NODE_MAP)
            return bad(diff, n, "'records' must map integration names to expectations");
        for (size_t i = 0; i < n->n; i++) {
            size_t k = 0, count = sr_test_run_count(r);
            while (k < count && strcmp(sr_test_run_integration(r, k)->name, n->keys[i]) != 0)
                k++;
            if (k == count)
                return bad(diff, n->items[i], "no integration of that name in the configuration");
            if ((rc = check_record(n->items[i], n->keys[i], &te->targets[k], diff)) < 0)
                return -1;
            nfail += rc;
        }
    }
    return nfail;
}
