/* test_event.c - parsing and classifying events, field access, edits,
 * writing, and the normalisation of Falco output. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "falco.h"
#include "event.h"
#include "event_path.h"

/* A sample payload from tests/data. */
static char *slurp(const char *name, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", SR_TEST_DATA, name);
    return check_read_file(path, len);
}

static int parse(sr_event *ev, sr_arena *a, const char *s, sr_json_error *err) {
    return sr_event_parse(ev, a, s, strlen(s), NULL, err);
}

/* The event written out, as a NUL-terminated string in `b`. */
static const char *written(const sr_event *ev, sr_buf *b) {
    sr_buf_reset(b);
    if (sr_event_write(ev, b) != 0)
        return "(write failed)";
    return b->data ? b->data : "";
}

/* Field `key` as JSON text (static buffer), or "(absent)". */
static const char *get(const sr_event *ev, const char *key) {
    static char text[4096];
    const char *v;
    uint32_t n;
    if (sr_event_get(ev, key, (uint32_t)strlen(key), &v, &n) < 0)
        return "(absent)";
    snprintf(text, sizeof text, "%.*s", (int)n, v);
    return text;
}

/* ---- Samples ------------------------------------------------------------- */

static const struct {
    const char *file;
    sr_data_type dt;
    unsigned channel, msg_type;
    int severity;
} samples[] = {
    {"audit_command.json", SR_DT_ACTIVITY_AUDIT, SR_CH_ACTIVITY_AUDIT, SR_MT_SECURE_AUDIT,
     SR_SEVERITY_NONE},
    {"audit_file.json", SR_DT_ACTIVITY_AUDIT, SR_CH_ACTIVITY_AUDIT, SR_MT_SECURE_AUDIT,
     SR_SEVERITY_NONE},
    {"audit_kube_exec.json", SR_DT_ACTIVITY_AUDIT, SR_CH_ACTIVITY_AUDIT, SR_MT_SECURE_AUDIT,
     SR_SEVERITY_NONE},
    {"audit_network.json", SR_DT_ACTIVITY_AUDIT, SR_CH_ACTIVITY_AUDIT, SR_MT_SECURE_AUDIT,
     SR_SEVERITY_NONE},
    {"platform_audit.json", SR_DT_PLATFORM_AUDIT, SR_CH_PLATFORM_AUDIT, SR_MT_NONE, 0},
    {"policy_event.json", SR_DT_POLICY, SR_CH_SECURE_EVENTS_POLICIES, SR_MT_POLICY_EVENTS, 0},
};

static void test_samples(void) {
    sr_arena a;
    sr_arena_init(&a, 0);
    sr_buf out = SR_BUF_INIT, compact = SR_BUF_INIT;
    for (size_t k = 0; k < sizeof samples / sizeof *samples; k++) {
        size_t n = 0;
        char *text = slurp(samples[k].file, &n);
        CHECK(text != NULL);
        if (!text)
            continue;
        sr_event ev;
        sr_json_error err = {0};
        CHECK_INT(sr_event_parse(&ev, &a, text, n, NULL, &err), 0);
        CHECK_INT(ev.data_type, samples[k].dt);
        CHECK_INT(ev.channel, samples[k].channel);
        CHECK_INT(ev.msg_type, samples[k].msg_type);
        CHECK_INT(ev.severity, samples[k].severity);
        CHECK_INT(ev.flags, 0);
        CHECK(ev.raw != text);                                    /* copied into the arena */
        CHECK(ev.raw[0] == '{' && ev.raw[ev.raw_len - 1] == '}'); /* trailing newline trimmed */

        /* Pretty-printed in, compact out: the same as compacting the input. */
        sr_buf_reset(&compact);
        CHECK_INT(sr_json_compact(text, n, &compact), 0);
        CHECK_STR(written(&ev, &out), compact.data);

        /* A compact event comes out byte for byte. */
        sr_event ev2;
        CHECK_INT(sr_event_parse(&ev2, &a, compact.data, compact.len, NULL, &err), 0);
        CHECK_INT(ev2.nmembers, ev.nmembers);
        CHECK_STR(written(&ev2, &out), compact.data);

        /* Field-equal after an edit forces the member-by-member path. */
        CHECK_INT(sr_event_set(&ev, "zz", 2, "1", 1), 0);
        sr_buf_reset(&compact);
        sr_json_compact(text, n, &compact);
        compact.len--; /* drop the '}' */
        sr_buf_puts(&compact, ",\"zz\":1}");
        CHECK_STR(written(&ev, &out), compact.data);
        free(text);
    }
    sr_buf_free(&out);
    sr_buf_free(&compact);
    sr_arena_free(&a);
}

static void test_invalid_sample(void) {
    sr_arena a;
    sr_arena_init(&a, 0);
    size_t n = 0;
    char *text = slurp("audit_network.invalid-as-published.json", &n);
    CHECK(text != NULL);
    if (text) {
        sr_event ev;
        sr_json_error err = {0};
        CHECK_INT(sr_event_parse(&ev, &a, text, n, NULL, &err), -1);
        size_t tty = (size_t)(strstr(text, "\"tty\"") - text);
        CHECK_INT(err.offset, tty);
        size_t line = 1;
        for (size_t i = 0; i < err.offset; i++)
            line += text[i] == '\n';
        CHECK_INT(line, 26); /* "tty" follows "type":"connection" on line 25 */
        CHECK_STR(err.msg, "expected ',' or '}' after object member");
        CHECK(ev.raw == NULL);
        free(text);
    }
    sr_arena_free(&a);
}

static void test_big_integers(void) {
    sr_arena a;
    sr_arena_init(&a, 0);
    sr_buf out = SR_BUF_INIT;
    size_t n = 0;
    char *text = slurp("audit_command.json", &n);
    CHECK(text != NULL);
    sr_event ev;
    sr_json_error err = {0};
    if (text && sr_event_parse(&ev, &a, text, n, NULL, &err) == 0) {
        CHECK_STR(get(&ev, "timestamp"), "1606322948648718268");
        CHECK_STR(get(&ev, "userLoginUid"), "4294967295");
        CHECK_STR(get(&ev, "rxTimestamp"), "1606322949537513500");
        const char *v;
        uint32_t vl;
        int64_t i = 0;
        CHECK_INT(sr_event_get(&ev, "timestamp", 9, &v, &vl), SR_JSON_NUMBER);
        CHECK_INT(sr_json_to_int64(v, vl, &i), 0);
        CHECK(i == 1606322948648718268LL);
        /* A value read and set back stays exact. */
        CHECK_INT(sr_event_set_int(&ev, "timestamp", 9, i + 1), 0);
        CHECK_INT(sr_event_set_int(&ev, "big", 3, INT64_MIN), 0);
        const char *w = written(&ev, &out);
        CHECK(strstr(w, ",\"timestamp\":1606322948648718269,") != NULL);
        CHECK(strstr(w, "\"userLoginUid\":4294967295,") != NULL);
        CHECK(strstr(w, ",\"big\":-9223372036854775808}") != NULL);
    }
    free(text);

    const char *doc = "{\"type\":\"command\",\"a\":[],\"b\":{},\"c\":\"\\u00e9\\n\xc3\xa9\","
                      "\"d\":18446744073709551615,\"e\":-0.0e-0}";
    CHECK_INT(parse(&ev, &a, doc, &err), 0);
    CHECK_STR(written(&ev, &out), doc);
    CHECK_INT(sr_event_set(&ev, "x", 1, "true", 4), 0);
    CHECK(strncmp(written(&ev, &out), doc, strlen(doc) - 1) == 0);
    sr_buf_free(&out);
    sr_arena_free(&a);
}

static void test_get_path(void) {
    sr_arena a;
    sr_arena_init(&a, 0);
    sr_event ev;
    sr_json_error err = {0};
    size_t n = 0;
    char *text = slurp("audit_file.json", &n);
    CHECK(text != NULL);
    if (text && sr_event_parse(&ev, &a, text, n, NULL, &err) == 0) {
        const char *path[] = {"labels", "kubernetes.cluster.name"};
        uint32_t lens[] = {6, 23};
        const char *v;
        uint32_t vl;
        CHECK_INT(sr_event_get_path(&ev, path, lens, 2, &v, &vl), SR_JSON_STRING);
        CHECK_MEM(v, vl, "\"k8s-onprem\"");
        CHECK_INT(sr_event_get_path(&ev, path, lens, 1, &v, &vl), SR_JSON_OBJECT);
        CHECK(v[0] == '{' && v[vl - 1] == '}');
        const char *missing[] = {"labels", "kubernetes"};
        uint32_t mlens[] = {6, 10};
        CHECK_INT(sr_event_get_path(&ev, missing, mlens, 2, &v, &vl), -1);
        const char *through_string[] = {"type", "x"};
        uint32_t tlens[] = {4, 1};
        CHECK_INT(sr_event_get_path(&ev, through_string, tlens, 2, &v, &vl), -1);
        CHECK_INT(sr_event_get_path(&ev, path, lens, 0, &v, &vl), -1);

        /* Paths see edits of the top-level field. */
        const char *labels = "{\"kubernetes.cluster.name\":\"edited\"}";
        CHECK_INT(sr_event_set(&ev, "labels", 6, labels, (uint32_t)strlen(labels)), 0);
        CHECK_INT(sr_event_get_path(&ev, path, lens, 2, &v, &vl), SR_JSON_STRING);
        CHECK_MEM(v, vl, "\"edited\"");
        CHECK_INT(sr_event_delete(&ev, "labels", 6), 0);
        CHECK_INT(sr_event_get_path(&ev, path, lens, 2, &v, &vl), -1);
    }
    free(text);

    text = slurp("policy_event.json", &n);
    CHECK(text != NULL);
    if (text && sr_event_parse(&ev, &a, text, n, NULL, &err) == 0) {
        const char *path[] = {"content", "fields", "proc.aname[2]"};
        uint32_t lens[] = {7, 6, 13};
        const char *v;
        uint32_t vl;
        CHECK_INT(sr_event_get_path(&ev, path, lens, 3, &v, &vl), SR_JSON_STRING);
        CHECK_MEM(v, vl, "\"su\"");
        const char *tags[] = {"content", "ruleTags"};
        uint32_t tlens[] = {7, 8};
        CHECK_INT(sr_event_get_path(&ev, tags, tlens, 2, &v, &vl), SR_JSON_ARRAY);
        CHECK(v[0] == '[');
    }
    free(text);
    sr_arena_free(&a);
}

/* ---- Edits --------------------------------------------------------------- */

static void test_edits(void) {
    sr_arena a;
    sr_arena_init(&a, 0);
    sr_buf out = SR_BUF_INIT;
    sr_event ev;
    sr_json_error err = {0};
    CHECK_INT(parse(&ev, &a, "{\"type\":\"command\",\"a\":1,\"b\":[1, 2],\"c\":\"x\"}", &err), 0);
    CHECK_STR(written(&ev, &out), "{\"type\":\"command\",\"a\":1,\"b\":[1,2],\"c\":\"x\"}");

    CHECK_INT(sr_event_set(&ev, "a", 1, "{\"n\": [ 1 ] }", 13), 0); /* stored compacted */
    CHECK_INT(sr_event_set_string(&ev, "new1", 4, "q\"\\\n\xc3\xa9", 6), 0);
    CHECK_INT(sr_event_delete(&ev, "b", 1), 0);
    CHECK_INT(sr_event_set_int(&ev, "new2", 4, -7), 0);
    CHECK_INT(sr_event_set_string(&ev, "c", 1, "plain", 5), 0);
    CHECK_STR(written(&ev, &out), "{\"type\":\"command\",\"a\":{\"n\":[1]},\"c\":\"plain\","
                                  "\"new1\":\"q\\\"\\\\\\n\xc3\xa9\",\"new2\":-7}");
    CHECK_STR(get(&ev, "a"), "{\"n\":[1]}");
    CHECK_STR(get(&ev, "b"), "(absent)");
    CHECK_STR(get(&ev, "new2"), "-7");
    const char *v;
    uint32_t vl;
    CHECK_INT(sr_event_get(&ev, "a", 1, &v, &vl), SR_JSON_OBJECT);
    CHECK_INT(sr_event_get(&ev, "new1", 4, &v, &vl), SR_JSON_STRING);
    CHECK_INT(sr_event_get(&ev, "new2", 4, &v, &vl), SR_JSON_NUMBER);
    CHECK_INT(sr_event_get(&ev, "b", 1, &v, &vl), -1);

    /* Re-setting keeps a field's position; deleting a new field removes it;
     * re-setting a deleted original puts it back where it was. */
    CHECK_INT(sr_event_set(&ev, "new1", 4, "null", 4), 0);
    CHECK_INT(sr_event_delete(&ev, "new2", 4), 0);
    CHECK_INT(sr_event_set(&ev, "b", 1, "false", 5), 0);
    CHECK_INT(sr_event_set(&ev, "new3", 4, " [ ] ", 5), 0);
    CHECK_STR(written(&ev, &out), "{\"type\":\"command\",\"a\":{\"n\":[1]},\"b\":false,"
                                  "\"c\":\"plain\",\"new1\":null,\"new3\":[]}");
    CHECK_INT(sr_event_get(&ev, "new1", 4, &v, &vl), SR_JSON_NULL);
    CHECK_INT(ev.nedits, 6);

    /* Deleting everything leaves an empty object. */
    const char *keys[] = {"type", "a", "b", "c", "new1", "new3"};
    for (size_t k = 0; k < 6; k++)
        CHECK_INT(sr_event_delete(&ev, keys[k], (uint32_t)strlen(keys[k])), 0);
    CHECK_STR(written(&ev, &out), "{}");
    CHECK_INT(sr_event_set_string(&ev, "", 0, "", 0), 0);
    CHECK_STR(written(&ev, &out), "{\"\":\"\"}");

    /* Many edits grow the list. */
    CHECK_INT(parse(&ev, &a, "{\"type\":\"policy\"}", &err), 0);
    for (int k = 0; k < 100; k++) {
        char key[16];
        int kl = snprintf(key, sizeof key, "k%d", k);
        CHECK_INT(sr_event_set_int(&ev, key, (uint32_t)kl, k), 0);
    }
    const char *w = written(&ev, &out);
    CHECK(strncmp(w, "{\"type\":\"policy\",\"k0\":0,\"k1\":1,", 31) == 0);
    CHECK(strstr(w, ",\"k99\":99}") != NULL);
    CHECK_STR(get(&ev, "k57"), "57");

    sr_event_drop(&ev);
    CHECK(ev.flags & SR_EV_DROPPED);
    sr_buf_free(&out);
    sr_arena_free(&a);
}

/* Edits that only add fields to a compact event are written as the raw
 * text plus the new fields; anything else takes the members apart. Both
 * must give what the member-by-member writer gives. */
static void test_edits_add_only(void) {
    sr_arena a;
    sr_arena_init(&a, 0);
    sr_buf out = SR_BUF_INIT;
    sr_event ev;
    sr_json_error err = {0};

    CHECK_INT(parse(&ev, &a, "{\"type\":\"policy\",\"s\":\"a,b}\"}", &err), 0);
    CHECK_INT(sr_event_set_string(&ev, "label", 5, "High", 4), 0);
    CHECK_INT(sr_event_delete(&ev, "absent", 6), 0); /* deleting what is not there */
    CHECK_INT(sr_event_set_int(&ev, "n", 1, 9007199254740993LL), 0);
    CHECK_STR(written(&ev, &out), "{\"type\":\"policy\",\"s\":\"a,b}\",\"label\":\"High\","
                                  "\"n\":9007199254740993}");

    /* Whitespace in the raw text: compacted member by member. */
    CHECK_INT(parse(&ev, &a, "{ \"type\" : \"policy\", \"a\" : [1, 2] }", &err), 0);
    CHECK_INT(sr_event_set_int(&ev, "b", 1, 2), 0);
    CHECK_STR(written(&ev, &out), "{\"type\":\"policy\",\"a\":[1,2],\"b\":2}");

    /* A key the raw text spells with an escape is the same key: replaced
     * in place, not added again. */
    CHECK_INT(parse(&ev, &a, "{\"type\":\"policy\",\"\\u0061\":1,\"c\":3}", &err), 0);
    CHECK_INT(sr_event_set_int(&ev, "a", 1, 2), 0);
    CHECK_STR(written(&ev, &out), "{\"type\":\"policy\",\"\\u0061\":2,\"c\":3}");

    sr_buf_free(&out);
    sr_arena_free(&a);
}

static void test_rederive(void) {
    sr_arena a;
    sr_arena_init(&a, 0);
    sr_event ev;
    sr_json_error err = {0};
    CHECK_INT(parse(&ev, &a, "{\"type\":\"command\",\"severity\":3}", &err), 0);
    CHECK_INT(ev.severity, 3);
    CHECK_INT(sr_event_set_int(&ev, "severity", 8, 6), 0);
    CHECK_INT(ev.severity, 6);
    CHECK_STR(sr_severity_label(ev.severity), "Low");
    CHECK_INT(sr_event_set_string(&ev, "severity", 8, "high", 4), 0);
    CHECK_INT(ev.severity, SR_SEVERITY_NONE);
    CHECK_INT(sr_event_set(&ev, "severity", 8, "7", 1), 0);
    CHECK_INT(ev.severity, 7);
    CHECK_INT(sr_event_set(&ev, "severity", 8, "8", 1), 0);
    CHECK_INT(ev.severity, SR_SEVERITY_NONE);
    CHECK_INT(sr_event_set(&ev, "severity", 8, "2.0", 3), 0);
    CHECK_INT(ev.severity, SR_SEVERITY_NONE);
    CHECK_INT(sr_event_set(&ev, "severity", 8, "0", 1), 0);
    CHECK_INT(ev.severity, 0);
    CHECK_INT(sr_event_delete(&ev, "severity", 8), 0);
    CHECK_INT(ev.severity, SR_SEVERITY_NONE);

    CHECK_INT(sr_event_set_string(&ev, "type", 4, "audittrail", 10), 0);
    CHECK_INT(ev.data_type, SR_DT_PLATFORM_AUDIT);
    CHECK_INT(ev.channel, SR_CH_PLATFORM_AUDIT);
    CHECK_INT(ev.msg_type, SR_MT_NONE);
    CHECK_INT(sr_event_set(&ev, "type", 4, "\"\\u006donitor\"", 14), 0); /* escaped "monitor" */
    CHECK_INT(ev.data_type, SR_DT_MONITOR);
    CHECK_INT(ev.channel, SR_CH_MONITOR_EVENTS);
    CHECK_INT(ev.msg_type, SR_MT_MONITOR_EVENTS);
    CHECK_INT(sr_event_set_string(&ev, "type", 4, "other", 5), 0);
    CHECK_INT(ev.data_type, SR_DT_UNKNOWN);
    CHECK_INT(ev.channel, 0);
    CHECK_INT(sr_event_set_string(&ev, "type", 4, "policy", 6), 0);
    CHECK_INT(ev.data_type, SR_DT_POLICY);
    CHECK_INT(sr_event_delete(&ev, "type", 4), 0);
    CHECK_INT(ev.data_type, SR_DT_UNKNOWN);

    /* Severity that is not an integer 0..7 is none. */
    static const char *const docs[] = {
        "{\"type\":\"policy\",\"severity\":\"4\"}",
        "{\"type\":\"policy\",\"severity\":-1}",
        "{\"type\":\"policy\",\"severity\":4.5}",
        "{\"type\":\"policy\",\"severity\":99999999999999999999}",
        "{\"type\":\"policy\"}",
    };
    for (size_t k = 0; k < sizeof docs / sizeof *docs; k++) {
        CHECK_INT(parse(&ev, &a, docs[k], &err), 0);
        CHECK_INT(ev.severity, SR_SEVERITY_NONE);
    }
    sr_arena_free(&a);
}

static void test_fork(void) {
    sr_arena a;
    sr_arena_init(&a, 0);
    sr_buf out = SR_BUF_INIT;
    sr_event src, dst, dst2;
    sr_json_error err = {0};
    CHECK_INT(parse(&src, &a, "{\"type\":\"command\",\"a\":1}", &err), 0);
    CHECK_INT(sr_event_set_int(&src, "b", 1, 2), 0);
    CHECK_INT(sr_event_fork(&dst, &src, &a), 0);
    CHECK_INT(sr_event_fork(&dst2, &src, &a), 0);
    CHECK_STR(written(&dst, &out), "{\"type\":\"command\",\"a\":1,\"b\":2}");

    CHECK_INT(sr_event_set_int(&dst, "b", 1, 3), 0); /* replace a copied edit */
    CHECK_INT(sr_event_delete(&dst, "a", 1), 0);
    CHECK_INT(sr_event_set_string(&dst, "type", 4, "audittrail", 10), 0);
    CHECK_INT(sr_event_set_int(&src, "c", 1, 4), 0); /* the source moves on alone */
    CHECK_STR(written(&dst, &out), "{\"type\":\"audittrail\",\"b\":3}");
    CHECK_INT(dst.data_type, SR_DT_PLATFORM_AUDIT);
    CHECK_STR(written(&src, &out), "{\"type\":\"command\",\"a\":1,\"b\":2,\"c\":4}");
    CHECK_INT(src.data_type, SR_DT_ACTIVITY_AUDIT);
    CHECK_STR(written(&dst2, &out), "{\"type\":\"command\",\"a\":1,\"b\":2}");

    /* A fork of an unedited event, and a fork of a fork. */
    CHECK_INT(parse(&src, &a, "{\"type\":\"policy\"}", &err), 0);
    CHECK_INT(sr_event_fork(&dst, &src, &a), 0);
    CHECK_INT(sr_event_set_int(&dst, "x", 1, 1), 0);
    CHECK_INT(sr_event_fork(&dst2, &dst, &a), 0);
    CHECK_INT(sr_event_delete(&dst2, "x", 1), 0);
    CHECK_STR(written(&src, &out), "{\"type\":\"policy\"}");
    CHECK_STR(written(&dst, &out), "{\"type\":\"policy\",\"x\":1}");
    CHECK_STR(written(&dst2, &out), "{\"type\":\"policy\"}");
    sr_buf_free(&out);
    sr_arena_free(&a);
}

static void test_escaped_and_duplicate_keys(void) {
    sr_arena a;
    sr_arena_init(&a, 0);
    sr_buf out = SR_BUF_INIT;
    sr_event ev;
    sr_json_error err = {0};
    CHECK_INT(parse(&ev, &a, "{\"\\u0074ype\":\"command\",\"a\\u002eb\":1,\"q\\\"\":2}", &err), 0);
    CHECK_INT(ev.data_type, SR_DT_ACTIVITY_AUDIT); /* "type", escaped */
    CHECK_STR(get(&ev, "a.b"), "1");
    CHECK_STR(get(&ev, "q\""), "2");
    CHECK_STR(get(&ev, "a\\u002eb"), "(absent)");
    CHECK_INT(sr_event_set_int(&ev, "a.b", 3, 5), 0);
    CHECK_INT(sr_event_set_int(&ev, "q\"", 2, 6), 0);
    CHECK_INT(sr_event_set_int(&ev, "n\"", 2, 7), 0);
    /* Original key bytes stay as sent; new keys are escaped here. */
    CHECK_STR(written(&ev, &out),
              "{\"\\u0074ype\":\"command\",\"a\\u002eb\":5,\"q\\\"\":6,\"n\\\"\":7}");

    /* The last of repeated keys is the value; an edit replaces them all. */
    CHECK_INT(parse(&ev, &a, "{\"type\":\"command\",\"a\":1,\"a\":2,\"type\":\"policy\"}", &err),
              0);
    CHECK_INT(ev.data_type, SR_DT_POLICY);
    CHECK_STR(get(&ev, "a"), "2");
    CHECK_INT(sr_event_set_int(&ev, "a", 1, 3), 0);
    CHECK_STR(written(&ev, &out), "{\"type\":\"command\",\"a\":3,\"a\":3,\"type\":\"policy\"}");
    CHECK_INT(sr_event_delete(&ev, "a", 1), 0);
    CHECK_STR(written(&ev, &out), "{\"type\":\"command\",\"type\":\"policy\"}");
    sr_buf_free(&out);
    sr_arena_free(&a);
}

/* ---- Bad input ----------------------------------------------------------- */

static void expect_reject(const char *doc, size_t n, const sr_event_limits *lim, size_t off,
                          const char *msg, int line) {
    sr_arena a;
    sr_arena_init(&a, 0);
    sr_event ev;
    sr_json_error err = {0};
    int rc = sr_event_parse(&ev, &a, doc, n, lim, &err);
    /* A rejected event takes nothing from the batch's arena. */
    if (rc != -1 || err.offset != off || !strstr(err.msg, msg) || a.total != 0) {
        fprintf(stderr, "line %d: rc %d offset %zu \"%s\", expected offset %zu \"%s\"\n", line, rc,
                err.offset, err.msg, off, msg);
        check_failed_++;
    } else {
        check_passed_++;
    }
    sr_arena_free(&a);
}

#define REJECT(doc, off, msg) expect_reject((doc), strlen(doc), NULL, (off), (msg), __LINE__)

static char *deep(int levels) {
    /* An event whose nesting, the event object included, is `levels`. */
    int inner = levels - 1;
    char *s = malloc((size_t)inner * 2 + 64);
    int n = sprintf(s, "{\"type\":\"command\",\"x\":");
    memset(s + n, '[', (size_t)inner);
    memset(s + n + inner, ']', (size_t)inner);
    strcpy(s + n + 2 * inner, "}");
    return s;
}

static void test_bad_input(void) {
    REJECT("{\"type\":\"command\",\"id\":\"m1\",", 28, "unexpected end of input");
    REJECT("{\"type\":\"command\",\"id\":\"trunc", 23, "unterminated string");
    REJECT("{\"type\":\"command\"} xyz", 19, "unexpected data after the JSON value");
    REJECT("{\"type\":\"command\",}", 18, "trailing comma in object");
    REJECT("{\"type\":\"command\",\"x\":[1,]}", 25, "trailing comma in array");
    REJECT("{\"type\":\"command\",\"x\":012}", 22, "leading zero");
    REJECT("{\"type\":\"command\",\"x\":tru}", 22, "expected a value");
    REJECT("{\"type\":\"command\",\"s\":\"a\x01\"}", 24, "control character");
    REJECT("{\"type\":\"command\",\"s\":\"\xff\xfe\"}", 23, "invalid UTF-8");
    REJECT("{\"type\":\"command\",\"s\":\"\xc0\xaf\"}", 23, "invalid UTF-8");
    REJECT("{\"type\":\"command\",\"s\":\"\xed\xa0\x80\"}", 23, "invalid UTF-8");
    REJECT("{\"type\":\"command\",\"s\":\"\xe6\x97\"}", 23, "invalid UTF-8");
    REJECT("{\"type\":\"command\",\"\xff\":1}", 19, "invalid UTF-8");
    REJECT("{\"id\":\"t1\",\"comm\":\"x\"}", 0, "missing \"type\" field");
    REJECT("{}", 0, "missing \"type\" field");
    REJECT("{\"type\":\"nonsense\",\"id\":\"t2\"}", 8, "unknown event type 'nonsense'");
    REJECT("{\"type\":\"Policy\"}", 8, "unknown event type 'Policy'");
    REJECT("{\"type\":5,\"id\":\"t3\"}", 8, "\"type\" must be a string");
    REJECT("{\"type\":null}", 8, "\"type\" must be a string");
    REJECT("5", 0, "expected a JSON object");
    REJECT("\"hello\"", 0, "expected a JSON object");
    REJECT("null", 0, "expected a JSON object");
    REJECT("[{\"type\":\"command\"}]", 0, "expected a JSON object");
    REJECT("", 0, "expected a JSON object");
    /* Offsets count from the caller's first byte, surrounding blanks included. */
    REJECT("  \n {\"type\":\"nonsense\"}", 12, "unknown event type");
    REJECT("\t{\"type\":\"command\",}", 19, "trailing comma");

    /* A very long unknown type is quoted, cut short. */
    char longtype[400];
    int n = snprintf(longtype, sizeof longtype, "{\"type\":\"%0300d\"}", 0);
    expect_reject(longtype, (size_t)n, NULL, 8, "unknown event type '000", __LINE__);

    /* Depth: the event object itself is level 1. */
    sr_arena a;
    sr_arena_init(&a, 0);
    sr_event ev;
    sr_json_error err = {0};
    char *s = deep(64);
    CHECK_INT(parse(&ev, &a, s, &err), 0);
    free(s);
    s = deep(65);
    expect_reject(s, strlen(s), NULL, 22 + 63, "nesting deeper than 64", __LINE__);
    sr_event_limits lim = {.max_depth = 65, .max_fields = 0};
    CHECK_INT(sr_event_parse(&ev, &a, s, strlen(s), &lim, &err), 0);
    free(s);
    s = deep(100000);
    expect_reject(s, strlen(s), NULL, 22 + 63, "nesting deeper than 64", __LINE__);
    free(s);

    /* Field count. */
    const char *three = "{\"type\":\"command\",\"a\":1,\"b\":2}";
    lim = (sr_event_limits){.max_depth = 0, .max_fields = 3};
    CHECK_INT(sr_event_parse(&ev, &a, three, strlen(three), &lim, &err), 0);
    lim.max_fields = 2;
    expect_reject(three, strlen(three), &lim, 24, "too many top-level fields", __LINE__);

    /* More fields than the on-stack index holds, within the limit. */
    sr_buf big = SR_BUF_INIT;
    sr_buf_puts(&big, "{\"type\":\"command\"");
    for (int k = 0; k < 2000; k++)
        sr_buf_printf(&big, ",\"f%d\":%d", k, k);
    sr_buf_putc(&big, '}');
    CHECK_INT(sr_event_parse(&ev, &a, big.data, big.len, NULL, &err), -1);
    CHECK_STR(err.msg, "too many top-level fields"); /* default limit 1024 */
    lim.max_fields = 5000;
    CHECK_INT(sr_event_parse(&ev, &a, big.data, big.len, &lim, &err), 0);
    CHECK_INT(ev.nmembers, 2001);
    CHECK_STR(get(&ev, "f1999"), "1999");
    sr_buf out = SR_BUF_INIT;
    CHECK_STR(written(&ev, &out), big.data);
    sr_buf_free(&out);
    sr_buf_free(&big);
    sr_arena_free(&a);
}

/* ---- Names --------------------------------------------------------------- */

static void test_names(void) {
    uint16_t ch = 99, mt = 99;
    CHECK_INT(sr_event_classify("kubernetes", 10, &ch, &mt), SR_DT_ACTIVITY_AUDIT);
    CHECK_INT(ch, SR_CH_ACTIVITY_AUDIT);
    CHECK_INT(mt, SR_MT_SECURE_AUDIT);
    CHECK_INT(sr_event_classify("monitor", 7, &ch, &mt), SR_DT_MONITOR);
    CHECK_INT(ch, SR_CH_MONITOR_EVENTS);
    CHECK_INT(mt, SR_MT_MONITOR_EVENTS);
    CHECK_INT(sr_event_classify("policyx", 6, &ch, &mt), SR_DT_POLICY); /* length counts */
    CHECK_INT(sr_event_classify("policyx", 7, &ch, &mt), SR_DT_UNKNOWN);
    CHECK_INT(ch, 0);
    CHECK_INT(sr_event_classify("", 0, NULL, NULL), SR_DT_UNKNOWN);

    CHECK_STR(sr_data_type_name(SR_DT_POLICY), "policy");
    CHECK_STR(sr_data_type_name(SR_DT_ACTIVITY_AUDIT), "activity_audit");
    CHECK_STR(sr_data_type_name(SR_DT_PLATFORM_AUDIT), "platform_audit");
    CHECK_STR(sr_data_type_name(SR_DT_MONITOR), "monitor");
    CHECK_STR(sr_data_type_name(SR_DT_UNKNOWN), "unknown");

    CHECK_STR(sr_channel_name(SR_CH_SECURE_EVENTS_POLICIES), "SECURE_EVENTS_POLICIES");
    CHECK_STR(sr_channel_name(SR_CH_ACTIVITY_AUDIT), "ACTIVITY_AUDIT");
    CHECK_STR(sr_channel_name(SR_CH_PLATFORM_AUDIT), "PLATFORM_AUDIT");
    CHECK_STR(sr_channel_name(SR_CH_MONITOR_EVENTS), "MONITOR_EVENTS");
    CHECK(sr_channel_name(0) == NULL);
    CHECK(sr_channel_name(SR_CH_ACTIVITY_AUDIT | SR_CH_PLATFORM_AUDIT) == NULL);

    CHECK_INT(sr_channel_parse("SECURE_EVENTS_POLICIES"), SR_CH_SECURE_EVENTS_POLICIES);
    CHECK_INT(sr_channel_parse("activity_audit"), SR_CH_ACTIVITY_AUDIT);
    CHECK_INT(sr_channel_parse("Platform_Audit"), SR_CH_PLATFORM_AUDIT);
    CHECK_INT(sr_channel_parse("MONITOR_EVENTS"), SR_CH_MONITOR_EVENTS);
    CHECK_INT(sr_channel_parse("policy_events"), SR_CH_SECURE_EVENTS_POLICIES);
    CHECK_INT(sr_channel_parse("SECURE_EVENTS_AUDIT_TRAIL"), SR_CH_PLATFORM_AUDIT);
    CHECK_INT(sr_channel_parse("AUDIT"), 0);
    CHECK_INT(sr_channel_parse(""), 0);
    CHECK_INT(sr_channel_parse(NULL), 0);

    CHECK_INT(sr_msg_type_parse("POLICY_EVENTS"), SR_MT_POLICY_EVENTS);
    CHECK_INT(sr_msg_type_parse("SECURE_AUDIT"), SR_MT_SECURE_AUDIT);
    CHECK_INT(sr_msg_type_parse("MONITOR_EVENTS"), SR_MT_MONITOR_EVENTS);
    CHECK_INT(sr_msg_type_parse("PLATFORM_AUDIT"), 0);
    CHECK_INT(sr_msg_type_parse(NULL), 0);

    static const char *const labels[] = {"High",   "High",   "High", "High",
                                         "Medium", "Medium", "Low",  "Info"};
    for (int k = 0; k < 8; k++)
        CHECK_STR(sr_severity_label(k), labels[k]);
    CHECK(sr_severity_label(-1) == NULL);
    CHECK(sr_severity_label(8) == NULL);
}

/* ---- Falco --------------------------------------------------------------- */

#define FALCO_FIELDS                                                                               \
    "{\"container.id\":\"a407fb17332b\",\"evt.time\":1704164645123456789,"                         \
    "\"proc.pid\":9223372036854775807,\"fd.num\":-1,\"user.name\":\"root\","                       \
    "\"proc.cmdline\":\"sh -c \\\"id\\\"\",\"k8s.ns.name\":null,\"evt.arg.flags\":\"O_RDWR|O_"     \
    "CREAT\"}"

#define FALCO_OUTPUT "\"03:04:05.123456789: Warning A shell was spawned (user=root \\u00e9)\""

static const char falco_body[] =
    "{\"time\":\"2024-01-02T03:04:05.123456789Z\",\"rule\":\"Terminal shell in container\","
    "\"priority\":\"Warning\",\"output\":" FALCO_OUTPUT ",\"output_fields\":" FALCO_FIELDS
    ",\"tags\":[\"container\",\"shell\",\"mitre_execution\"],\"hostname\":\"node-1\","
    "\"source\":\"syscall\"}";

/* Computed independently: hashlib.sha256(falco_body).hexdigest()[:32]. */
static const char falco_expected[] =
    "{\"id\":\"578186995a73b846c6ed829ab79affbb\",\"type\":\"policy\","
    "\"timestamp\":1704164645123456789,"
    "\"timestampRFC3339Nano\":\"2024-01-02T03:04:05.123456789Z\",\"originator\":\"policy\","
    "\"category\":\"runtime\",\"source\":\"syscall\",\"rawEventOriginator\":\"falco\","
    "\"rawEventCategory\":\"runtime\",\"engine\":\"falco\","
    "\"name\":\"Terminal shell in container\",\"description\":\"\",\"severity\":4,"
    "\"content\":{\"ruleName\":\"Terminal shell in container\",\"ruleType\":\"RULE_TYPE_FALCO\","
    "\"ruleTags\":[\"container\",\"shell\",\"mitre_execution\"],\"output\":" FALCO_OUTPUT
    ",\"fields\":" FALCO_FIELDS "},\"labels\":{\"host.hostName\":\"node-1\"}}";

static void test_falco_event(void) {
    sr_arena a;
    sr_arena_init(&a, 0);
    sr_buf out = SR_BUF_INIT;
    sr_event ev;
    sr_json_error err = {0};

    CHECK(sr_falco_detect(falco_body, sizeof falco_body - 1));
    CHECK(!sr_falco_detect("{\"type\":\"policy\",\"rule\":1,\"priority\":1,\"output\":1}", 50));
    CHECK(!sr_falco_detect("{\"rule\":1,\"priority\":1}", 23));

    CHECK_INT(parse(&ev, &a, falco_body, &err), 0);
    CHECK_STR(written(&ev, &out), falco_expected);
    CHECK_INT(ev.flags, SR_EV_FALCO);
    CHECK_INT(ev.data_type, SR_DT_POLICY);
    CHECK_INT(ev.channel, SR_CH_SECURE_EVENTS_POLICIES);
    CHECK_INT(ev.msg_type, SR_MT_POLICY_EVENTS);
    CHECK_INT(ev.severity, 4);
    const char *path[] = {"content", "fields", "proc.pid"};
    uint32_t lens[] = {7, 6, 8};
    const char *v;
    uint32_t vl;
    CHECK_INT(sr_event_get_path(&ev, path, lens, 3, &v, &vl), SR_JSON_NUMBER);
    CHECK_MEM(v, vl, "9223372036854775807");
    const char *host[] = {"labels", "host.hostName"};
    uint32_t hlens[] = {6, 13};
    CHECK_INT(sr_event_get_path(&ev, host, hlens, 2, &v, &vl), SR_JSON_STRING);
    CHECK_MEM(v, vl, "\"node-1\"");

    /* The same bytes get the same id; other bytes another. */
    sr_event again, other;
    CHECK_INT(parse(&again, &a, falco_body, &err), 0);
    CHECK_STR(get(&again, "id"), "\"578186995a73b846c6ed829ab79affbb\"");
    char body2[sizeof falco_body];
    memcpy(body2, falco_body, sizeof falco_body);
    memcpy(strstr(body2, "node-1"), "node-2", 6);
    CHECK_INT(parse(&other, &a, body2, &err), 0);
    CHECK(strcmp(get(&other, "id"), "\"578186995a73b846c6ed829ab79affbb\"") != 0);
    CHECK_INT((int)strlen(get(&other, "id")), 34);

    /* Pretty-printed Falco output comes out compact. */
    const char *pretty = "{\n  \"output\": \"o\",\n  \"priority\": \"debug\",\n  \"rule\": \"r\",\n"
                         "  \"time\": \"2024-01-02T03:04:05Z\",\n  \"output_fields\": {\n"
                         "    \"a\": [ 1, 2 ]\n  },\n  \"tags\": [ ]\n}\n";
    CHECK_INT(parse(&ev, &a, pretty, &err), 0);
    const char *w = written(&ev, &out);
    CHECK(strstr(w, "\"fields\":{\"a\":[1,2]}") != NULL);
    CHECK(strstr(w, "\"ruleTags\":[]") != NULL);
    CHECK(strstr(w, "\"source\":\"syscall\"") != NULL);
    CHECK(strstr(w, "\"labels\":{}}") != NULL);
    CHECK(strstr(w, "\"timestamp\":1704164645000000000,") != NULL);
    CHECK(strstr(w, "\"2024-01-02T03:04:05.000000000Z\"") != NULL);
    CHECK(strchr(w, '\n') == NULL);
    CHECK_INT(ev.severity, 7);

    /* Minimal: optional members absent, or null. */
    const char *minimal = "{\"rule\":\"r\",\"priority\":\"Info\",\"output\":\"o\","
                          "\"time\":\"2024-01-02T03:04:05Z\",\"source\":\"k8s_audit\","
                          "\"output_fields\":null,\"hostname\":null}";
    CHECK_INT(parse(&ev, &a, minimal, &err), 0);
    w = written(&ev, &out);
    CHECK(strstr(w, "\"source\":\"k8s_audit\"") != NULL);
    CHECK(strstr(w, "\"ruleTags\":[],\"output\":\"o\",\"fields\":{}},\"labels\":{}}") != NULL);
    CHECK_INT(ev.severity, 6);

    sr_buf_free(&out);
    sr_arena_free(&a);
}

/* Normalises falco_body with "time" replaced; returns the timestamp and
 * the RFC 3339 text through the out parameters, or -1. */
static int falco_time(const char *time_text, int64_t *ns, char *rfc, size_t rfc_cap,
                      sr_json_error *err) {
    char body[1024];
    snprintf(body, sizeof body,
             "{\"time\":\"%s\",\"rule\":\"r\",\"priority\":\"Warning\",\"output\":\"o\"}",
             time_text);
    sr_buf out = SR_BUF_INIT;
    int rc = sr_falco_normalize(body, strlen(body), &out, err);
    if (rc == 0) {
        sr_json_member m;
        rc = -1;
        if (sr_json_object_get(out.data, out.len, "timestamp", 9, &m) &&
            sr_json_to_int64(out.data + m.val_off, m.val_len, ns) == 0 &&
            sr_json_object_get(out.data, out.len, "timestampRFC3339Nano", 20, &m)) {
            snprintf(rfc, rfc_cap, "%.*s", (int)m.val_len - 2, out.data + m.val_off + 1);
            rc = 0;
        }
    }
    sr_buf_free(&out);
    return rc;
}

static void check_time(const char *in, int64_t want_ns, const char *want_rfc, int line) {
    int64_t ns = 0;
    char rfc[64] = "";
    sr_json_error err = {0};
    if (falco_time(in, &ns, rfc, sizeof rfc, &err) != 0 || ns != want_ns ||
        strcmp(rfc, want_rfc) != 0) {
        fprintf(stderr, "line %d: %s -> %" PRId64 " %s (%s)\n", line, in, ns, rfc, err.msg);
        check_failed_++;
    } else {
        check_passed_++;
    }
}

#define TIME_OK(in, ns, rfc) check_time((in), (ns), (rfc), __LINE__)

static void check_bad_time(const char *in, int line) {
    int64_t ns;
    char rfc[64];
    sr_json_error err = {0};
    if (falco_time(in, &ns, rfc, sizeof rfc, &err) != -1 || !strstr(err.msg, "\"time\"") ||
        err.offset != 8) {
        fprintf(stderr, "line %d: %s accepted or wrong error (%zu %s)\n", line, in, err.offset,
                err.msg);
        check_failed_++;
    } else {
        check_passed_++;
    }
}

#define TIME_BAD(in) check_bad_time((in), __LINE__)

static void test_falco_time(void) {
    TIME_OK("2024-01-02T03:04:05.123456789Z", 1704164645123456789LL,
            "2024-01-02T03:04:05.123456789Z");
    TIME_OK("2024-01-02T05:04:05.123456789+02:00", 1704164645123456789LL,
            "2024-01-02T03:04:05.123456789Z");
    TIME_OK("2024-01-01T21:34:05.5-05:30", 1704164645500000000LL, "2024-01-02T03:04:05.500000000Z");
    TIME_OK("2023-06-30T23:59:59.654321Z", 1688169599654321000LL, "2023-06-30T23:59:59.654321000Z");
    TIME_OK("2024-01-02T03:04:06.000000001Z", 1704164646000000001LL,
            "2024-01-02T03:04:06.000000001Z");
    TIME_OK("2024-01-01T00:30:00+01:00", 1704065400000000000LL, "2023-12-31T23:30:00.000000000Z");
    TIME_OK("2024-02-29T12:00:00z", 1709208000000000000LL, "2024-02-29T12:00:00.000000000Z");
    TIME_OK("2024-02-29t12:00:00+00:00", 1709208000000000000LL, "2024-02-29T12:00:00.000000000Z");
    TIME_OK("1970-01-01T00:00:00Z", 0, "1970-01-01T00:00:00.000000000Z");
    TIME_OK("1969-12-31T23:59:59.5Z", -500000000LL, "1969-12-31T23:59:59.500000000Z");
    TIME_OK("2024-01-02T03:04:05.1234567891Z", 1704164645123456789LL, /* beyond ns: dropped */
            "2024-01-02T03:04:05.123456789Z");
    TIME_OK("2262-04-11T23:47:15Z", 9223372035000000000LL, "2262-04-11T23:47:15.000000000Z");

    TIME_BAD("2024-01-02");
    TIME_BAD("2024-01-02T03:04:05"); /* no zone */
    TIME_BAD("2024-01-02T03:04Z");
    TIME_BAD("2024-13-01T00:00:00Z");
    TIME_BAD("2024-00-01T00:00:00Z");
    TIME_BAD("2023-02-29T12:00:00Z");
    TIME_BAD("2024-04-31T12:00:00Z");
    TIME_BAD("2024-01-02T24:00:00Z");
    TIME_BAD("2024-01-02T03:60:00Z");
    TIME_BAD("2024-01-02T03:04:05.Z");
    TIME_BAD("2024-01-02T03:04:05+0200");
    TIME_BAD("2024-01-02T03:04:05Zjunk");
    TIME_BAD("2300-01-01T00:00:00Z"); /* beyond int64 nanoseconds */
    TIME_BAD("1600-01-01T00:00:00Z");
    TIME_BAD("yesterday");
    TIME_BAD("");
}

static void check_falco_error(const char *body, const char *msg, int line) {
    sr_buf out = SR_BUF_INIT;
    sr_buf_puts(&out, "keep");
    sr_json_error err = {0};
    int rc = sr_falco_normalize(body, strlen(body), &out, &err);
    if (rc != -1 || !strstr(err.msg, msg) || strcmp(out.data, "keep") != 0) {
        fprintf(stderr, "line %d: rc %d \"%s\", expected \"%s\"\n", line, rc, err.msg, msg);
        check_failed_++;
    } else {
        check_passed_++;
    }
    sr_buf_free(&out);
}

#define FALCO_ERROR(body, msg) check_falco_error((body), (msg), __LINE__)

static void test_falco_priority_and_errors(void) {
    static const struct {
        const char *priority;
        int severity;
    } map[] = {
        {"Emergency", 0}, {"Alert", 1},   {"Critical", 2},  {"Error", 3},
        {"Warning", 4},   {"Notice", 5},  {"Info", 6},      {"Informational", 6},
        {"Debug", 7},     {"WARNING", 4}, {"emergency", 0}, {"\\u0041lert", 1},
    };
    sr_arena a;
    sr_arena_init(&a, 0);
    for (size_t k = 0; k < sizeof map / sizeof *map; k++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"time\":\"2024-01-02T03:04:05Z\",\"rule\":\"r\",\"priority\":\"%s\","
                 "\"output\":\"o\"}",
                 map[k].priority);
        sr_event ev;
        sr_json_error err = {0};
        CHECK_INT(parse(&ev, &a, body, &err), 0);
        CHECK_INT(ev.severity, map[k].severity);
    }
    sr_arena_free(&a);

    FALCO_ERROR("{\"time\":\"2024-01-02T03:04:05Z\",\"rule\":\"r\",\"priority\":\"Loud\","
                "\"output\":\"o\"}",
                "unknown \"priority\"");
    FALCO_ERROR("{\"rule\":\"r\",\"priority\":\"Info\",\"output\":\"o\"}", "missing \"time\"");
    FALCO_ERROR("{\"time\":\"2024-01-02T03:04:05Z\",\"priority\":\"Info\",\"output\":\"o\"}",
                "missing \"rule\"");
    FALCO_ERROR("{\"time\":\"2024-01-02T03:04:05Z\",\"rule\":\"r\",\"output\":\"o\"}",
                "missing \"priority\"");
    FALCO_ERROR("{\"time\":\"2024-01-02T03:04:05Z\",\"rule\":\"r\",\"priority\":\"Info\"}",
                "missing \"output\"");
    FALCO_ERROR("{\"time\":1,\"rule\":\"r\",\"priority\":\"Info\",\"output\":\"o\"}",
                "\"time\" must be a string");
    FALCO_ERROR("{\"time\":\"2024-01-02T03:04:05Z\",\"rule\":[],\"priority\":\"Info\","
                "\"output\":\"o\"}",
                "\"rule\" must be a string");
    FALCO_ERROR("{\"time\":\"2024-01-02T03:04:05Z\",\"rule\":\"r\",\"priority\":\"Info\","
                "\"output\":\"o\",\"output_fields\":[]}",
                "\"output_fields\" has the wrong type");
    FALCO_ERROR("{\"time\":\"2024-01-02T03:04:05Z\",\"rule\":\"r\",\"priority\":\"Info\","
                "\"output\":\"o\",\"tags\":\"t\"}",
                "\"tags\" has the wrong type");
    FALCO_ERROR("{\"time\":\"2024-01-02T03:04:05Z\",\"rule\":\"r\",\"priority\":\"Info\","
                "\"output\":\"o\",\"hostname\":5}",
                "\"hostname\" has the wrong type");

    /* Through sr_event_parse the offset is the sender's. */
    sr_arena_init(&a, 0);
    sr_event ev;
    sr_json_error err = {0};
    const char *bad = " {\"time\":\"x\",\"rule\":\"r\",\"priority\":\"Info\",\"output\":\"o\"}";
    CHECK_INT(parse(&ev, &a, bad, &err), -1);
    CHECK_INT(err.offset, 9);
    CHECK(strstr(err.msg, "RFC 3339") != NULL);
    sr_arena_free(&a);
}

int main(void) {
    test_samples();
    test_invalid_sample();
    test_big_integers();
    test_get_path();
    test_edits();
    test_edits_add_only();
    test_rederive();
    test_fork();
    test_escaped_and_duplicate_keys();
    test_bad_input();
    test_names();
    test_falco_event();
    test_falco_time();
    test_falco_priority_and_errors();
    return CHECK_DONE();
}
