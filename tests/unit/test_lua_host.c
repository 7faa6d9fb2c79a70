/* test_lua_host.c - the Lua host: modules, options, scripts, routing,
 * runaway scripts, and the delivery-side calls.
 *
 * Test integration types and scripts live in tests/unit/lua/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "file.h"
#include "http.h"
#include "yaml_load.h"
#include "lua_host.h"
#include "lua_host_impl.h" /* to see whether a state was abandoned */

#define LUA_DIR      SR_SOURCE_DIR "/lua"
#define TEST_LUA     SR_SOURCE_DIR "/tests/unit/lua"
#define SCRIPT(name) TEST_LUA "/scripts/" name ".lua"

static const char *const test_paths[] = {TEST_LUA "/integrations"};

/* ---- Fixtures ----------------------------------------------------------- */

typedef struct batch {
    sr_arena arena;
    sr_event evs[16];
    char *compact[16]; /* each input, compacted: what an untouched record must be */
    size_t n;
} batch;

static void batch_init(batch *b) {
    memset(b, 0, sizeof *b);
    sr_arena_init(&b->arena, 65536);
}

/* Adds tests/data/<name>, with `from` replaced by `to` when given. */
static void batch_add(batch *b, const char *name, const char *from, const char *to) {
    char path[512];
    size_t len;
    snprintf(path, sizeof path, "%s/%s", SR_TEST_DATA, name);
    char *text = check_read_file(path, &len);
    CHECK(text != NULL);
    if (!text)
        return;
    if (from) {
        char *at = strstr(text, from);
        CHECK(at != NULL);
        if (at && strlen(to) == strlen(from))
            memcpy(at, to, strlen(to));
    }
    sr_json_error err;
    int rc = sr_event_parse(&b->evs[b->n], &b->arena, text, len, NULL, &err);
    CHECK_INT(rc, 0);
    sr_buf c = SR_BUF_INIT;
    sr_json_compact(text, len, &c);
    b->compact[b->n++] = sr_buf_steal(&c, NULL);
    free(text);
}

static void batch_free(batch *b) {
    for (size_t i = 0; i < b->n; i++)
        free(b->compact[i]);
    sr_arena_free(&b->arena);
}

static sr_node *yaml(const char *text) {
    char err[256];
    sr_node *n = sr_yaml_load_string("cfg.yaml", text, strlen(text), err, sizeof err);
    if (!n)
        fprintf(stderr, "yaml: %s\n", err);
    CHECK(n != NULL);
    return n;
}

static sr_integration_spec spec(const char *name, const char *type, const sr_node *cfg) {
    sr_integration_spec s = {.name = name,
                             .type = type,
                             .configuration = cfg,
                             .min_severity = -1,
                             .file = "cfg.yaml",
                             .line = 1};
    return s;
}

static sr_lua_host_conf host_conf(const sr_integration_spec *specs, size_t n) {
    sr_lua_host_conf c = {.lua_dir = LUA_DIR,
                          .integration_paths = test_paths,
                          .nintegration_paths = 1,
                          .integrations = specs,
                          .nintegrations = n,
                          .transmit_message_types =
                              SR_MT_POLICY_EVENTS | SR_MT_SECURE_AUDIT | SR_MT_MONITOR_EVENTS,
                          .forwarder_enabled = 1};
    return c;
}

static sr_lua_host *host(const sr_lua_host_conf *c) {
    char err[1024] = "";
    sr_lua_host *h = sr_lua_host_new(c, err, sizeof err);
    if (!h)
        fprintf(stderr, "sr_lua_host_new: %s\n", err);
    CHECK(h != NULL);
    return h;
}

/* The error sr_lua_host_new reports for `c`, into err. */
static void host_error(const sr_lua_host_conf *c, char *err, size_t len) {
    err[0] = '\0';
    sr_lua_host *h = sr_lua_host_new(c, err, len);
    CHECK(h == NULL);
    sr_lua_host_free(h);
}

static const sr_emit_rec *rec_of(const sr_emit *e, uint32_t integ, uint32_t ev) {
    for (size_t i = 0; i < e->nrecs; i++)
        if (e->recs[i].integ == integ && e->recs[i].ev == ev)
            return &e->recs[i];
    return NULL;
}

static size_t recs_for(const sr_emit *e, uint32_t integ) {
    size_t n = 0;
    for (size_t i = 0; i < e->nrecs; i++)
        n += e->recs[i].integ == integ;
    return n;
}

/* The record as a NUL-terminated string (static: one at a time). */
static const char *rec_text(const sr_emit *e, const sr_emit_rec *r) {
    static char text[65536];
    if (!r || r->len >= sizeof text)
        return "";
    memcpy(text, e->data.data + r->off, r->len);
    text[r->len] = '\0';
    return text;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* What most tests set up: the integrations with their configuration nodes,
 * the host's configuration (it points into the fixture, which stays where
 * it was opened), the host, a batch and what the host emits. */
typedef struct fixture {
    sr_node *cfg[3]; /* NULL where an integration shares the first one's */
    sr_integration_spec specs[3];
    const char *scripts[1];       /* the one global script, see fixture_script */
    const char *integ_scripts[1]; /* integration "a"'s, see fixture_open_ab */
    sr_lua_host_conf conf;
    sr_lua_host *h;
    batch b;
    sr_emit out;
} fixture;

/* Adds integration `name` of `type`, configured by the YAML `text` (NULL:
 * the first integration's configuration node). */
static void fixture_add(fixture *f, const char *name, const char *type, const char *text) {
    size_t i = f->conf.nintegrations;
    if (text)
        f->cfg[i] = yaml(text);
    f->specs[i] = spec(name, type, text ? f->cfg[i] : f->cfg[0]);
    f->conf.nintegrations = i + 1;
}

/* The first integration, an empty batch and emit; no host yet: the test
 * may change f->conf first, then fixture_host builds it. */
static void fixture_open(fixture *f, const char *name, const char *type, const char *text) {
    memset(f, 0, sizeof *f);
    f->conf = host_conf(f->specs, 0);
    fixture_add(f, name, type, text);
    batch_init(&f->b);
    sr_emit_init(&f->out);
}

/* Integrations "a" and "b" (TESTHTTP) on one configuration, "a" with the
 * tag_integration script. */
static void fixture_open_ab(fixture *f) {
    fixture_open(f, "a", "TESTHTTP", "endpoint: http://127.0.0.1:9\n");
    fixture_add(f, "b", "TESTHTTP", NULL);
    f->integ_scripts[0] = SCRIPT("tag_integration");
    f->specs[0].scripts = f->integ_scripts;
    f->specs[0].nscripts = 1;
}

/* `script` as the one global script. */
static void fixture_script(fixture *f, const char *script) {
    f->scripts[0] = script;
    f->conf.scripts = f->scripts;
    f->conf.nscripts = 1;
}

static sr_lua_host *fixture_host(fixture *f) {
    f->h = host(&f->conf);
    return f->h;
}

static void fixture_close(fixture *f) {
    sr_emit_free(&f->out);
    batch_free(&f->b);
    sr_lua_host_free(f->h);
    for (size_t i = 0; i < 3; i++)
        sr_node_free(f->cfg[i]);
}

/* The file access, the command and the connection, in that order. */
static void batch_add_audits(batch *b) {
    batch_add(b, "audit_file.json", NULL, NULL);
    batch_add(b, "audit_command.json", NULL, NULL);
    batch_add(b, "audit_network.json", NULL, NULL);
}

/* ---- Worker side -------------------------------------------------------- */

static void test_records_equal_input(void) {
    fixture f;
    fixture_open(&f, "siem", "TESTHTTP", "endpoint: http://127.0.0.1:9\n");
    sr_lua_host *h = fixture_host(&f);
    static const char *const files[] = {"policy_event.json",  "audit_command.json",
                                        "audit_file.json",    "audit_kube_exec.json",
                                        "audit_network.json", "platform_audit.json"};
    for (size_t i = 0; i < 6; i++)
        batch_add(&f.b, files[i], NULL, NULL);
    if (h) {
        CHECK_INT(sr_lua_host_process(h, f.b.evs, f.b.n, &f.out), 0);
        CHECK_INT(f.out.nrecs, 6);
        CHECK_INT(f.out.nfails, 0);
        for (uint32_t i = 0; i < 6; i++)
            CHECK_STR(rec_text(&f.out, rec_of(&f.out, 0, i)), f.b.compact[i]);
    }
    fixture_close(&f);
}

/* A module with envelope(): C writes pre + the event (edits included) +
 * suf as the record; nil skips the event, errors and wrong types fail it. */
static void test_envelope(void) {
    fixture f;
    fixture_open(&f, "wrap", "TESTENVELOPE", "path: /dev/null\n");
    sr_lua_host *h = fixture_host(&f);
    batch_add(&f.b, "policy_event.json", NULL, NULL);
    batch_add(&f.b, "audit_command.json", NULL, NULL);
    batch_add(&f.b, "audit_network.json", NULL, NULL);
    batch_add(&f.b, "audit_file.json", NULL, NULL);
    if (h) {
        CHECK_INT(sr_lua_host_process(h, f.b.evs, f.b.n, &f.out), 0);
        CHECK_INT(f.out.nrecs, 1);
        /* The compact input minus its closing brace, then the edit. */
        char want[65536];
        size_t len = strlen(f.b.compact[0]);
        snprintf(want, sizeof want, "{\"type\":\"policy\",\"event\":%.*s,\"wrapped\":true}}",
                 (int)(len - 1), f.b.compact[0]);
        CHECK_STR(rec_text(&f.out, rec_of(&f.out, 0, 0)), want);
        CHECK(rec_of(&f.out, 0, 1) == NULL); /* skipped, not failed */
        CHECK_INT(f.out.nfails, 2);
        CHECK_INT(f.out.fails[0].ev, 2);
        CHECK_STR(f.out.fails[0].stage, "encode");
        CHECK_STR(f.out.fails[0].msg, "no envelope for a connection");
        CHECK_INT(f.out.fails[1].ev, 3);
        CHECK_STR(f.out.fails[1].stage, "encode");
        CHECK_STR(f.out.fails[1].msg,
                  "envelope returned a number and a string, expected two strings or nil");
    }
    fixture_close(&f);
}

static void test_global_script(void) {
    fixture f;
    fixture_open(&f, "siem", "TESTHTTP", "endpoint: http://127.0.0.1:9\n");
    fixture_script(&f, SCRIPT("add_field"));
    sr_lua_host *h = fixture_host(&f);
    batch_add(&f.b, "policy_event.json", NULL, NULL);
    batch_add(&f.b, "policy_event.json", "\"severity\": 0", "\"severity\": 7");
    batch_add(&f.b, "audit_command.json", NULL, NULL);
    /* A label with an escape: Lua gets it unescaped, the record re-escapes. */
    batch_add(&f.b, "policy_event.json", "\"ardbox\"", "\"a\\\"box\"");
    if (h) {
        CHECK_INT(sr_lua_host_process(h, f.b.evs, f.b.n, &f.out), 0);
        CHECK_INT(f.out.nrecs, 3);
        CHECK_INT(f.out.ndropped, 1);
        CHECK(strstr(rec_text(&f.out, rec_of(&f.out, 0, 3)), "\"host\":\"a\\\"box\",\"rule\":") !=
              NULL);
        CHECK(rec_of(&f.out, 0, 1) == NULL);
        /* the 64-bit timestamp went through Lua as int64 and came back exact */
        const char *r0 = rec_text(&f.out, rec_of(&f.out, 0, 0));
        CHECK(strstr(r0, "\"relay\":{\"big\":1606322948648718268,\"name\":\"siemrelay\"}") != NULL);
        CHECK(strstr(r0, "\"raw_ts\":1606322948648718268") != NULL);
        CHECK(strstr(r0, "\"host\":\"ardbox\",\"rule\":\"Write below etc\"") != NULL);
        const char *r2 = rec_text(&f.out, rec_of(&f.out, 0, 2));
        CHECK(strstr(r2, "\"relay\":{") != NULL);
        CHECK(strstr(r2, "\"host\":\"ip-172-20-46-221\"") != NULL);
        CHECK(strstr(r2, "\"rule\":") == NULL); /* no content.ruleName: set(nil) deletes */
    }
    fixture_close(&f);
}

static void test_integration_scripts_do_not_leak(void) {
    fixture f;
    fixture_open_ab(&f);
    sr_lua_host *h = fixture_host(&f);
    batch_add(&f.b, "audit_command.json", NULL, NULL);
    batch_add(&f.b, "audit_file.json", NULL, NULL);
    if (h) {
        CHECK_INT(sr_lua_host_process(h, f.b.evs, f.b.n, &f.out), 0);
        const char *a0 = rec_text(&f.out, rec_of(&f.out, 0, 0));
        CHECK(strstr(a0, "\"only_for\":\"a\"") != NULL);
        CHECK(strstr(a0, "\"id\":") == NULL);
        CHECK(rec_of(&f.out, 0, 1) == NULL); /* dropped for a only */
        CHECK_INT(f.out.ndropped, 1);
        CHECK_STR(rec_text(&f.out, rec_of(&f.out, 1, 0)), f.b.compact[0]);
        CHECK_STR(rec_text(&f.out, rec_of(&f.out, 1, 1)), f.b.compact[1]);
        CHECK_INT(f.b.evs[1].flags & SR_EV_DROPPED, 0); /* the batch's event is untouched */
    }
    fixture_close(&f);
}

static void test_routing(void) {
    fixture f;
    fixture_open(&f, "all", "TESTHTTP", "endpoint: http://127.0.0.1:9\n");
    fixture_add(&f, "audit", "TESTFILE", "path: /tmp/out.ndjson\n");
    fixture_add(&f, "high", "TESTHTTP", NULL);
    f.specs[2].channels = SR_CH_SECURE_EVENTS_POLICIES;
    f.specs[2].min_severity = 3;
    f.conf.transmit_message_types = SR_MT_POLICY_EVENTS; /* no activity audit */
    batch_add(&f.b, "policy_event.json", NULL, NULL);
    batch_add(&f.b, "policy_event.json", "\"severity\": 0", "\"severity\": 5");
    batch_add(&f.b, "audit_command.json", NULL, NULL);
    batch_add(&f.b, "platform_audit.json", NULL, NULL);

    sr_lua_host *h = host(&f.conf);
    if (h) {
        CHECK_INT(sr_lua_host_process(h, f.b.evs, f.b.n, &f.out), 0);
        CHECK_INT(recs_for(&f.out, 0), 3);
        CHECK(rec_of(&f.out, 0, 2) == NULL);
        CHECK(rec_of(&f.out, 0, 3) != NULL); /* platform audit has no message type */
        CHECK_INT(recs_for(&f.out, 1), 0);
        CHECK_INT(recs_for(&f.out, 2), 1);
        CHECK(rec_of(&f.out, 2, 0) != NULL);
    }
    sr_lua_host_free(h);

    /* Audit passes once its message type is transmitted. */
    f.conf.transmit_message_types |= SR_MT_SECURE_AUDIT;
    sr_emit_reset(&f.out);
    h = host(&f.conf);
    if (h) {
        CHECK_INT(sr_lua_host_process(h, f.b.evs, f.b.n, &f.out), 0);
        CHECK_INT(recs_for(&f.out, 1), 1);
        CHECK(rec_of(&f.out, 1, 2) != NULL);
    }
    sr_lua_host_free(h);

    /* local_forwarder.enabled: false forwards nothing. */
    f.conf.forwarder_enabled = 0;
    sr_emit_reset(&f.out);
    h = host(&f.conf);
    if (h) {
        CHECK_INT(sr_lua_host_process(h, f.b.evs, f.b.n, &f.out), 0);
        CHECK_INT(f.out.nrecs, 0);
    }
    sr_lua_host_free(h);

    /* A channel the type does not support is a configuration error. */
    char err[1024];
    f.conf.forwarder_enabled = 1;
    f.specs[1].channels = SR_CH_MONITOR_EVENTS;
    host_error(&f.conf, err, sizeof err);
    CHECK_STR(err, "cfg.yaml:1: integration 'audit' (TESTFILE): channel 'MONITOR_EVENTS' is not "
                   "supported by this type");

    fixture_close(&f);
}

static void test_errors_fail_one_event(void) {
    fixture f;
    fixture_open(&f, "siem", "TESTHTTP",
                 "endpoint: http://127.0.0.1:9\nencode_error: connection\n");
    fixture_script(&f, SCRIPT("fail_on_command"));
    sr_lua_host *h = fixture_host(&f);
    batch_add_audits(&f.b);
    batch_add(&f.b, "policy_event.json", NULL, NULL);
    if (h) {
        CHECK_INT(sr_lua_host_process(h, f.b.evs, f.b.n, &f.out), 0);
        CHECK_INT(f.out.nfails, 2);
        CHECK_INT(f.out.fails[0].ev, 1);
        CHECK_INT(f.out.fails[0].integ, -1);
        CHECK_STR(f.out.fails[0].stage, "script");
        CHECK_STR(f.out.fails[0].msg, "script failed on purpose");
        CHECK_INT(f.out.fails[1].ev, 2);
        CHECK_INT(f.out.fails[1].integ, 0);
        CHECK_STR(f.out.fails[1].stage, "encode");
        CHECK_STR(f.out.fails[1].msg, "cannot encode a connection");
        CHECK_INT(f.out.nrecs, 2);
        CHECK(rec_of(&f.out, 0, 0) != NULL);
        CHECK(rec_of(&f.out, 0, 3) != NULL);
    }
    fixture_close(&f);
}

/* ---- Sandboxed scripts --------------------------------------------------- */

/* Adds the samples, each once (to a fresh batch per host: scripts edit the
 * events). */
static void sandbox_batch(batch *b) {
    batch_add(b, "policy_event.json", NULL, NULL);
    batch_add(b, "audit_command.json", NULL, NULL);
    batch_add(b, "audit_file.json", NULL, NULL);
    batch_add(b, "audit_network.json", NULL, NULL);
    batch_add(b, "platform_audit.json", NULL, NULL);
    batch_add(b, "policy_event.json", "\"severity\": 0", "\"severity\": 7");
}

/* Runs the global scripts (and tag_integration on integration "a") over
 * the samples, sandboxed or not, into `out` (initialized here: the caller
 * frees it). */
static void run_sandbox_host(const char *const *scripts, size_t n, int sandbox, sr_emit *out) {
    sr_emit_init(out);
    fixture f;
    fixture_open_ab(&f);
    f.conf.scripts = scripts;
    f.conf.nscripts = n;
    f.conf.sandbox = sandbox;
    sr_lua_host *h = fixture_host(&f);
    sandbox_batch(&f.b);
    if (h)
        CHECK_INT(sr_lua_host_process(h, f.b.evs, f.b.n, out), 0);
    fixture_close(&f);
}

/* A sandboxed script gets a method-only view of the event: every edit
 * through it (nested ones, labels, routes, drops, 64-bit integers) makes
 * the same records, byte for byte, as the same scripts on the cdata. */
static void test_sandbox_same_records(void) {
    const char *scripts[] = {SCRIPT("add_field"), SCRIPT("nested_edits")};
    sr_emit plain, boxed;
    run_sandbox_host(scripts, 2, 0, &plain);
    run_sandbox_host(scripts, 2, 1, &boxed);
    CHECK_INT(plain.nfails, 0);
    CHECK_INT(boxed.nfails, 0);
    CHECK_INT(boxed.ndropped, plain.ndropped);
    CHECK_INT(plain.ndropped, 2); /* severity 7 globally, the file access for "a" */
    CHECK_INT(boxed.nrecs, plain.nrecs);
    CHECK_INT(plain.nrecs, 8);
    for (uint32_t ev = 0; ev < 6; ev++)
        for (uint32_t integ = 0; integ < 2; integ++) {
            const sr_emit_rec *p = rec_of(&plain, integ, ev), *q = rec_of(&boxed, integ, ev);
            CHECK((p == NULL) == (q == NULL));
            if (!p || !q)
                continue;
            char want[65536];
            snprintf(want, sizeof want, "%s", rec_text(&plain, p));
            CHECK_STR(rec_text(&boxed, q), want);
        }
    const char *r0 = rec_text(&boxed, rec_of(&boxed, 1, 0));
    CHECK(strstr(r0, "\"proc.cmdline\":\"[redacted]\"") != NULL);
    CHECK(strstr(r0, "\"relay\":{\"big\":1606322948648718268,\"name\":\"siemrelay\",\"hops\":"
                     "[1,2,1606322948648718268],\"raw\":{\"n\":18446744073709551615}}") != NULL);
    CHECK(strstr(r0, "\"kind\":\"policy/SECURE_EVENTS_POLICIES/policy/0\"") != NULL);
    CHECK(strstr(r0, "\"owner.team\":\"platform\"") != NULL);
    CHECK(rec_of(&boxed, 0, 3) == NULL); /* the connection was routed to b only */
    CHECK(rec_of(&boxed, 1, 3) != NULL);
    sr_emit_free(&plain);
    sr_emit_free(&boxed);
}

/* Reaching for the struct fails the event sandboxed, with the script's
 * line; not sandboxed the same script reads and writes the cdata. */
static void test_sandbox_refuses_struct(void) {
    const char *scripts[] = {SCRIPT("sandbox_escape")};
    sr_emit out;
    run_sandbox_host(scripts, 1, 1, &out);
    CHECK_INT(out.nfails, 2);
    if (out.nfails == 2) {
        CHECK_INT(out.fails[0].ev, 1); /* the command */
        CHECK_INT(out.fails[0].integ, -1);
        CHECK_STR(out.fails[0].stage, "script");
        CHECK(strstr(out.fails[0].msg, "sandbox_escape.lua:7: ev.raw_len: a sandboxed script "
                                       "reaches the event through its methods only") != NULL);
        CHECK(strstr(out.fails[0].where, "sandbox_escape.lua:7") != NULL);
        CHECK_INT(out.fails[1].ev, 2); /* the file access */
        CHECK_STR(out.fails[1].stage, "script");
        CHECK(strstr(out.fails[1].msg, "sandbox_escape.lua:9: ev.flags = ...: the event's fields "
                                       "cannot be assigned") != NULL);
    }
    CHECK_INT(out.ndropped, 0); /* the flag write was refused: nothing dropped */
    CHECK_INT(out.nrecs, 8);    /* the four other events, for a and b */
    sr_emit_free(&out);

    run_sandbox_host(scripts, 1, 0, &out);
    CHECK_INT(out.nfails, 0);
    CHECK(strstr(rec_text(&out, rec_of(&out, 1, 1)), "\"raw_len\":") != NULL);
    CHECK(rec_of(&out, 1, 2) == NULL); /* the flag it wrote dropped it */
    sr_emit_free(&out);
}

/* A sandboxed script's cjson instances are opened through the host's
 * guarded opener: every C function of them (and of what their new() gives)
 * runs inside the watchdog's interrupt guard, as the shared cjson's do. */
static void test_sandbox_cjson_guarded(void) {
    const char *scripts[] = {SCRIPT("sandbox_cjson_guarded")};
    sr_emit out;
    run_sandbox_host(scripts, 1, 0, &out);
    CHECK_INT(out.nfails, 0);
    const sr_emit_rec *r = rec_of(&out, 1, 0);
    CHECK(r != NULL);
    if (r) {
        const char *text = rec_text(&out, r);
        CHECK(strstr(text, "\"unguarded\":\"\"") != NULL);
        const char *g = strstr(text, "\"guarded\":");
        /* nine C functions each in lua-cjson 2.1.0 (its new is sandbox.lua's) */
        CHECK(g != NULL && atoi(g + strlen("\"guarded\":")) >= 4 * 9);
    }
    sr_emit_free(&out);
}

/* An error in one integration's encode fails the event for that
 * integration only: the integrations after it still get the event, and
 * the events after it go on (the pipeline resumes its loop right there). */
static void test_errors_resume(void) {
    fixture f;
    fixture_open(&f, "a", "TESTHTTP", "endpoint: http://127.0.0.1:9\nencode_error: connection\n");
    fixture_add(&f, "b", "TESTHTTP", "endpoint: http://127.0.0.1:9\n");
    fixture_add(&f, "c", "TESTHTTP", "endpoint: http://127.0.0.1:9\nencode_error: command\n");
    sr_lua_host *h = fixture_host(&f);
    batch_add_audits(&f.b);
    batch_add(&f.b, "policy_event.json", NULL, NULL);
    if (h) {
        CHECK_INT(sr_lua_host_process(h, f.b.evs, f.b.n, &f.out), 0);
        CHECK_INT(f.out.nfails, 2);
        CHECK_INT(f.out.fails[0].ev, 1); /* the command event, for c (the last) */
        CHECK_INT(f.out.fails[0].integ, 2);
        CHECK_STR(f.out.fails[0].stage, "encode");
        CHECK_STR(f.out.fails[0].msg, "cannot encode a command");
        CHECK_INT(f.out.fails[1].ev, 2); /* the connection, for a (the first) */
        CHECK_INT(f.out.fails[1].integ, 0);
        CHECK_STR(f.out.fails[1].msg, "cannot encode a connection");
        CHECK_INT(f.out.nrecs, 10);
        for (uint32_t ev = 0; ev < 4; ev++)
            for (uint32_t integ = 0; integ < 3; integ++) {
                int failed = (ev == 1 && integ == 2) || (ev == 2 && integ == 0);
                CHECK((rec_of(&f.out, integ, ev) == NULL) == failed);
            }
        CHECK_STR(rec_text(&f.out, rec_of(&f.out, 1, 2)), f.b.compact[2]);
        CHECK_STR(rec_text(&f.out, rec_of(&f.out, 2, 2)), f.b.compact[2]);
    }
    fixture_close(&f);
}

/* A script that never returns for "command" events: the batch goes on, the
 * event fails as "timeout", and the next batch works. Returns how many
 * states were abandoned. */
static size_t check_runaway(const char *script, unsigned long long timeout_ms) {
    fixture f;
    fixture_open(&f, "siem", "TESTHTTP", "endpoint: http://127.0.0.1:9\n");
    fixture_script(&f, script);
    f.conf.script_timeout_ms = timeout_ms;
    sr_lua_host *h = fixture_host(&f);
    size_t graves = 0;
    batch_add_audits(&f.b);
    for (int round = 0; h && round < 2; round++) {
        sr_emit_reset(&f.out);
        double t0 = now_ms();
        CHECK_INT(sr_lua_host_process(h, f.b.evs, f.b.n, &f.out), 0);
        double took = now_ms() - t0;
        CHECK(took < 3.5 * (double)timeout_ms);
        if (took >= 3.5 * (double)timeout_ms)
            fprintf(stderr, "%s: took %.0f ms\n", script, took);
        CHECK_INT(f.out.nfails, 1);
        CHECK_INT(f.out.fails[0].ev, 1);
        CHECK_STR(f.out.fails[0].stage, "timeout");
        CHECK(strstr(f.out.fails[0].msg, "time budget") != NULL);
        CHECK_INT(f.out.nrecs, 2);
        CHECK_STR(rec_text(&f.out, rec_of(&f.out, 0, 0)), f.b.compact[0]);
        CHECK_STR(rec_text(&f.out, rec_of(&f.out, 0, 2)), f.b.compact[2]);
    }
    /* A batch with nothing to stop runs clean. */
    sr_emit_reset(&f.out);
    if (h) {
        sr_event ev[2] = {f.b.evs[0], f.b.evs[2]};
        CHECK_INT(sr_lua_host_process(h, ev, 2, &f.out), 0);
        CHECK_INT(f.out.nrecs, 2);
        CHECK_INT(f.out.nfails, 0);
        graves = h->nabandoned;
    }
    fixture_close(&f);
    return graves;
}

static void test_runaway_interpreted(void) {
    /* The count hook stops it; the state survives. */
    CHECK_INT(check_runaway(SCRIPT("loop_interpreted"), 100), 0);
}

static void test_runaway_compiled(void) {
    /* Only the signal stops it; each time one state is abandoned. */
    CHECK_INT(check_runaway(SCRIPT("loop_jit"), 100), 2);
}

/* ---- Bounds: loading, memory, runaways ---------------------------------- */

/* A script that never finishes loading fails the build within the load
 * budget, naming the script, and the state's memory is released. */
static void check_load_loop(const char *script, const char *what) {
    fixture f;
    fixture_open(&f, "siem", "TESTHTTP", "endpoint: http://127.0.0.1:9\n");
    fixture_script(&f, script);
    f.conf.load_timeout_ms = 300;
    char err[1024], want[1024];
    double t0 = now_ms();
    host_error(&f.conf, err, sizeof err);
    double took = now_ms() - t0;
    CHECK(took < 3000);
    snprintf(want, sizeof want, "%s: still running after the load budget of 300 ms", what);
    if (!strstr(err, want))
        fprintf(stderr, "got: %s\nwant: %s\n", err, want);
    CHECK(strstr(err, want) != NULL);
    fixture_close(&f);
}

static void test_load_loops(void) {
    char what[512];
    snprintf(what, sizeof what, "site script %s", SCRIPT("loop_at_load"));
    check_load_loop(SCRIPT("loop_at_load"), what);
    snprintf(what, sizeof what, "site script %s: setup", SCRIPT("loop_in_setup"));
    check_load_loop(SCRIPT("loop_in_setup"), what);
}

/* Opens `f` with the hog script as the one global script, with `params`
 * from `entries` (may be NULL), and builds its host. */
static sr_lua_host *hog_host(fixture *f, const sr_node **entries, sr_script_stats *stats) {
    fixture_open(f, "siem", "TESTHTTP", "endpoint: http://127.0.0.1:9\n");
    fixture_script(f, SCRIPT("hog_on_command"));
    f->conf.script_entries = entries;
    f->conf.script_timeout_ms = 5000;
    f->conf.memory_limit = (size_t)24 << 20;
    f->conf.stats = stats;
    return fixture_host(f);
}

/* An allocation loop fails its event with stage "memory"; the state
 * collects and the other events (and the next batch) go through. */
static void test_memory_limit(void) {
    fixture f;
    sr_script_stats *stats = sr_script_stats_new();
    sr_lua_host *h = hog_host(&f, NULL, stats);
    batch_add_audits(&f.b);
    for (int round = 0; h && round < 3; round++) {
        sr_emit_reset(&f.out);
        CHECK_INT(sr_lua_host_process(h, f.b.evs, f.b.n, &f.out), 0);
        CHECK_INT(f.out.nfails, 1);
        if (f.out.nfails != 1)
            break;
        CHECK_INT(f.out.fails[0].ev, 1);
        CHECK_STR(f.out.fails[0].stage, "memory");
        CHECK(strstr(f.out.fails[0].msg, "not enough memory") != NULL);
        CHECK(strstr(f.out.fails[0].msg, "memory limit is 25165824 bytes") != NULL);
        CHECK_STR(f.out.fails[0].where, SCRIPT("hog_on_command"));
        CHECK_INT(f.out.nrecs, 2);
        CHECK(sr_lua_heap_bytes(h->heap) < f.conf.memory_limit);
        CHECK_INT(h->nabandoned, 0);
    }
    sr_script_stat row;
    sr_script_stats_get(stats, 0, &row);
    CHECK_INT(row.c[SR_SCRIPT_MEMORY], 3);
    CHECK_INT(row.runaways, 3);
    CHECK_INT(row.disabled, 0); /* runaway_limit 0: never */
    fixture_close(&f);
    sr_script_stats_free(stats);
}

/* A script that keeps what it allocates fills the state for good: the
 * host closes it and builds a new one, and events keep going. */
static void test_memory_kept_rebuilds(void) {
    sr_node *entry = yaml("path: x\nparams: {keep: true}\n");
    const sr_node *entries[] = {entry};
    fixture f;
    sr_lua_host *h = hog_host(&f, entries, NULL);
    for (int i = 0; i < 16; i++)
        batch_add(&f.b, "audit_file.json", NULL, NULL);
    size_t fails = 0, recs = 0;
    for (int round = 0; h && round < 4; round++) {
        sr_emit_reset(&f.out);
        CHECK_INT(sr_lua_host_process(h, f.b.evs, f.b.n, &f.out), 0);
        for (size_t i = 0; i < f.out.nfails; i++)
            CHECK_STR(f.out.fails[i].stage, "memory");
        fails += f.out.nfails;
        recs += f.out.nrecs;
        CHECK(sr_lua_heap_bytes(h->heap) < f.conf.memory_limit);
    }
    /* 24 MiB holds about 11 events' 2 MiB: one fails, the state is rebuilt */
    CHECK(fails >= 3 && fails <= 8);
    CHECK_INT(recs + fails, 64);
    CHECK_INT(h ? h->nabandoned : 0, 0);
    fixture_close(&f);
    sr_node_free(entry);
}

/* After runaway_limit runaways the script is disabled: its events fail
 * with stage "disabled" at once; re-enabled, it runs again. */
static void test_runaways_disable(void) {
    fixture f;
    fixture_open(&f, "siem", "TESTHTTP", "endpoint: http://127.0.0.1:9\n");
    fixture_script(&f, SCRIPT("loop_jit"));
    sr_script_stats *stats = sr_script_stats_new();
    f.conf.script_timeout_ms = 50;
    f.conf.runaway_limit = 2;
    f.conf.runaway_window_ms = 60000;
    f.conf.stats = stats;
    sr_lua_host *h = fixture_host(&f);
    for (int i = 0; i < 4; i++)
        batch_add(&f.b, "audit_command.json", NULL, NULL);
    batch_add(&f.b, "audit_file.json", NULL, NULL);
    if (h) {
        double t0 = now_ms();
        CHECK_INT(sr_lua_host_process(h, f.b.evs, f.b.n, &f.out), 0);
        CHECK(now_ms() - t0 < 2000);
        CHECK_INT(f.out.nfails, 5);
        for (size_t i = 0; i < f.out.nfails && i < 5; i++)
            CHECK_STR(f.out.fails[i].stage, i < 2 ? "timeout" : "disabled");
        CHECK(strstr(f.out.fails[4].msg, "is disabled") != NULL);
        CHECK_INT(h->nabandoned, 2);
        sr_script_stat row;
        sr_script_stats_get(stats, 0, &row);
        CHECK_INT(row.disabled, 1);
        CHECK_INT(row.disablings, 1);
        uint64_t states, bytes;
        sr_script_stats_abandoned_get(stats, &states, &bytes);
        CHECK_INT(states, 2);
        CHECK(bytes > 0);
        /* a reload enables it again */
        sr_script_stats_enable_all(stats);
        sr_emit_reset(&f.out);
        sr_event ok[1] = {f.b.evs[4]};
        CHECK_INT(sr_lua_host_process(h, ok, 1, &f.out), 0);
        CHECK_INT(f.out.nfails, 0);
        CHECK_INT(f.out.nrecs, 1);
    }
    fixture_close(&f);
    sr_script_stats_free(stats);
}

/* ---- Configuration errors ----------------------------------------------- */

static void expect_config_error(const char *type, const char *text, const char *want) {
    fixture f;
    fixture_open(&f, "siem", type, text);
    char err[1024];
    host_error(&f.conf, err, sizeof err);
    CHECK_STR(err, want);
    fixture_close(&f);
}

static void test_option_errors(void) {
    expect_config_error("TESTHTTP", "endpont: http://x\n",
                        "cfg.yaml:1: integration 'siem' (TESTHTTP): unknown key 'endpont' (did "
                        "you mean 'endpoint'?)");
    expect_config_error("TESTHTTP", "endpoint: http://x\nfrobnicate: 1\n",
                        "cfg.yaml:2: integration 'siem' (TESTHTTP): unknown key 'frobnicate'");
    expect_config_error("TESTHTTP", "token: abc\n",
                        "cfg.yaml:1: integration 'siem' (TESTHTTP): missing required key "
                        "'endpoint'");
    expect_config_error("TESTHTTP", "endpoint: http://x\nisInsecure: maybe\n",
                        "cfg.yaml:2: integration 'siem' (TESTHTTP): key 'isInsecure' must be "
                        "true or false, got 'maybe'");
    expect_config_error("TESTHTTP", "endpoint: http://x\nretries: many\n",
                        "cfg.yaml:2: integration 'siem' (TESTHTTP): key 'retries' must be an "
                        "integer, got 'many'");
    expect_config_error("TESTHTTP", "endpoint: http://x\noutput: xml\n",
                        "cfg.yaml:2: integration 'siem' (TESTHTTP): key 'output' must be one of "
                        "'json', 'ndjson'; got 'xml'");
    expect_config_error("TESTHTTP", "endpoint: http://x\nheaders: [a, b]\n",
                        "cfg.yaml:2: integration 'siem' (TESTHTTP): key 'headers' must be a map "
                        "(key: value lines)");
    expect_config_error("TESTHTTP", "endpoint: http://x\nServiceURL: http://y\n",
                        "cfg.yaml:2: integration 'siem' (TESTHTTP): key 'ServiceURL' sets "
                        "'endpoint' again (already set on line 1)");
    expect_config_error("TESTHTTP", "endpoint: ftp://x\n",
                        "cfg.yaml:1: integration 'siem' (TESTHTTP): endpoint must be an http(s) "
                        "URL, got 'ftp://x'");
    /* A secret's value is never echoed, even when it is wrong. */
    expect_config_error("TESTHTTP", "endpoint: http://x\ntoken: [s3cret]\n",
                        "cfg.yaml:2: integration 'siem' (TESTHTTP): key 'token' must be a single "
                        "string value, not a list");

    char err[1024];
    fixture f;
    fixture_open(&f, "siem", "TESTHTP", "endpoint: http://x\n");
    host_error(&f.conf, err, sizeof err);
    CHECK(strncmp(
              err,
              "cfg.yaml:1: integration 'siem': unknown type 'TESTHTP' (no testhtp.lua in " TEST_LUA
              "/integrations, " LUA_DIR "/integrations); did you mean 'TESTHTTP'?",
              strlen(err)) == 0 &&
          strlen(err) > 40);
    if (!strstr(err, "did you mean 'TESTHTTP'?"))
        fprintf(stderr, "got: %s\n", err);

    f.specs[0].type = "TESTHTTP";
    fixture_script(&f, SCRIPT("bad_return"));
    host_error(&f.conf, err, sizeof err);
    CHECK_STR(err, "site script " SCRIPT("bad_return") ": must return a table with a "
                                                       "process(ev, ctx) function");
    fixture_close(&f);
}

/* ---- Delivery side ------------------------------------------------------ */

static void test_describe_and_info(void) {
    fixture f;
    fixture_open(&f, "siem", "TESTHTTP",
                 "ServiceURL: https://siem.example\ntoken: s3cret\nheaders:\n  X-A: b\n"
                 "tags: [one, two]\nisInsecure: yes\noutput: NDJSON\n");
    fixture_add(&f, "disk", "TESTFILE", "path: /var/log/out.json\n");
    sr_lua_host *h = fixture_host(&f);
    if (!h)
        goto done;
    sr_buf d = SR_BUF_INIT;
    CHECK_INT(sr_lua_host_describe(h, 0, &d), 0);
    CHECK_STR(d.data,
              "{\"name\":\"siem\",\"type\":\"TESTHTTP\",\"transport\":\"http\",\"channels\":"
              "[\"SECURE_EVENTS_POLICIES\",\"ACTIVITY_AUDIT\",\"PLATFORM_AUDIT\","
              "\"MONITOR_EVENTS\"],\"configuration\":{\"endpoint\":\"https://"
              "siem.example\",\"headers\":{\"X-A\":\"b\"},\"isInsecure\":true,\"output\":"
              "\"ndjson\",\"retries\":3,\"tags\":[\"one\",\"two\"],\"token\":\"******\"}}");
    CHECK(strstr(d.data, "s3cret") == NULL);
    sr_buf_free(&d);

    sr_integration_info info;
    CHECK_INT(sr_lua_host_info(h, 0, &info), 0);
    CHECK_STR(info.transport, "http");
    CHECK_STR(info.framing, "ndjson");
    CHECK_INT(info.max_events, 7); /* setup overrides M.batch */
    CHECK_INT(info.max_bytes, 65536);
    CHECK_INT(info.linger_ms, 50);
    CHECK_INT(info.channels, 15);
    CHECK(info.sink == sr_sink_transport_find("http"));
    const sr_http_settings *hs = info.settings;
    CHECK_INT(hs->timeout_ms, 1234);
    CHECK_INT(hs->connect_timeout_ms, 10000); /* the http key table's defaults */
    CHECK_INT(hs->max_connections, 4);
    CHECK_INT(hs->insecure, 1);
    CHECK_STR(hs->ca_file, "/ca.pem");
    CHECK(hs->cert_file == NULL);

    CHECK_INT(sr_lua_host_info(h, 1, &info), 0);
    CHECK_STR(info.transport, "file");
    CHECK_STR(info.framing, "concat");
    CHECK_INT(info.channels, SR_CH_ACTIVITY_AUDIT);
    CHECK(info.sink == sr_sink_transport_find("file"));
    const sr_file_settings *fs = info.settings;
    CHECK_STR(fs->path, "/var/log/out.json");
    CHECK_INT(fs->rotate_bytes, 1000);
    CHECK_INT(fs->keep_files, 2);
    CHECK_INT(sr_lua_host_info(h, 2, &info), -1);
done:
    fixture_close(&f);
}

/* A value setup refuses is reported at its key's line (through an alias
 * too), not the entry's; a message naming no configured key stays at the
 * entry. */
static void test_setup_error_lines(void) {
    expect_config_error("TESTHTTP", "token: abc\nretries: 2\nendpoint: ftp://x\n",
                        "cfg.yaml:3: integration 'siem' (TESTHTTP): endpoint must be an http(s) "
                        "URL, got 'ftp://x'");
    expect_config_error("TESTHTTP", "token: abc\nServiceURL: ftp://x\n",
                        "cfg.yaml:2: integration 'siem' (TESTHTTP): endpoint must be an http(s) "
                        "URL, got 'ftp://x'");
    /* Quoted names win over bare words, the first configured one counts. */
    expect_config_error("KAFKA",
                        "brokers: [\"127.0.0.1:9092\"]\ntopic: t\nusername: u\n"
                        "caFile: /ca.pem\n",
                        "cfg.yaml:4: integration 'siem' (KAFKA): 'caFile', 'certFile' and "
                        "'keyFile' need 'isTlsEnabled: true'");
    expect_config_error("KAFKA", "brokers: [\"127.0.0.1:9092\"]\ntopic: t\npassword: p\n",
                        "cfg.yaml:3: integration 'siem' (KAFKA): 'username' and 'password' need "
                        "'saslMechanism'");
    expect_config_error("CHRONICLE", "region: us\n",
                        "cfg.yaml:1: integration 'siem' (CHRONICLE): missing credentials: apiKey "
                        "(v1) or credentialsOAuth2 with chronicleCustomerId (v2)");
}

/* Sysdig's certificate store id gets what to use instead, for the type. */
static void test_certificate_id(void) {
    expect_config_error("WEBHOOK", "endpoint: https://x\ncertificateId: 42\n",
                        "cfg.yaml:2: integration 'siem' (WEBHOOK): key 'certificateId': "
                        "siemrelay has no certificate store; give PEM files instead: caFile (the "
                        "CA bundle that verifies the server), certFile and keyFile (a client "
                        "certificate and its key)");
    expect_config_error("TESTHTTP", "endpoint: https://x\nCertificateID: 42\n",
                        "cfg.yaml:2: integration 'siem' (TESTHTTP): key 'CertificateID': "
                        "siemrelay has no certificate store, and this type takes no certificate "
                        "files: remove the key");
}

/* What setup returns is checked against the transport's key table. */
static void test_setup_settings(void) {
    expect_config_error("TESTHTTP", "endpoint: http://x\nsetup_extra:\n  path: /tmp/x\n",
                        "cfg.yaml:1: integration 'siem' (TESTHTTP): setup returned 'path', which "
                        "the http transport does not take (it takes: timeout_ms, "
                        "connect_timeout_ms, insecure, ca_file, cert_file, key_file, "
                        "max_connections)");
    expect_config_error("TESTHTTP", "endpoint: http://x\nsetup_extra:\n  timeout_ms: soon\n",
                        "cfg.yaml:1: integration 'siem' (TESTHTTP): setup returned timeout_ms as "
                        "a string, expected a number");
    expect_config_error("TESTPIGEON", "{}\n",
                        "cfg.yaml:1: integration 'siem' (TESTPIGEON): the module's transport "
                        "'pigeon' is not a native one (known: http file stream kafka)");

    /* Every key of the table reaches the struct at its offset. */
    fixture f;
    fixture_open(&f, "siem", "TESTHTTP",
                 "endpoint: http://x\nsetup_extra:\n  cert_file: /c.pem\n"
                 "  key_file: /k.pem\n  max_connections: 9\n  connect_timeout_ms: 77\n");
    sr_lua_host *h = fixture_host(&f);
    sr_integration_info info;
    if (h && sr_lua_host_info(h, 0, &info) == 0) {
        const sr_http_settings *hs = info.settings;
        CHECK_INT(hs->timeout_ms, 1234);
        CHECK_INT(hs->connect_timeout_ms, 77);
        CHECK_INT(hs->max_connections, 9);
        CHECK_INT(hs->insecure, 0);
        CHECK_STR(hs->ca_file, "/ca.pem");
        CHECK_STR(hs->cert_file, "/c.pem");
        CHECK_STR(hs->key_file, "/k.pem");
    }
    fixture_close(&f);
}

static const char *header(const sr_sink_request *r, const char *name) {
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static void test_request_and_outcome(void) {
    fixture f;
    fixture_open(&f, "siem", "TESTHTTP", "endpoint: https://siem.example\ntoken: tok\n");
    fixture_add(&f, "disk", "TESTFILE", "path: /tmp/x\n");
    sr_lua_host *h = fixture_host(&f);
    if (!h)
        goto done;

    const char *recs[] = {"{\"a\":1}", "{\"b\":2}"};
    const uint32_t lens[] = {7, 7};
    sr_http_request_buf rb = {.storage = SR_BUF_INIT};
    char err[256];
    CHECK_INT(sr_lua_host_request(h, 0, recs, lens, 2, &rb, err, sizeof err), 0);
    CHECK_STR(rb.req.method, "PUT");
    CHECK_STR(rb.req.url, "https://siem.example/ingest");
    CHECK_MEM(rb.req.body, rb.req.body_len, "{\"a\":1}\n{\"b\":2}\n");
    CHECK_INT(rb.req.nheaders, 3);
    CHECK_STR(header(&rb.req, "Authorization"), "Bearer tok");
    CHECK_STR(header(&rb.req, "X-Count"), "2");
    CHECK_INT(sr_lua_host_request(h, 1, recs, lens, 2, &rb, err, sizeof err), -1);
    CHECK_STR(err, "integration type TESTFILE has no request() function");
    sr_buf_free(&rb.storage);

    sr_sink_result res = {.transport_ok = 0, .error = "connection refused", .retry_after_ms = -1};
    sr_outcome o;
    CHECK_INT(sr_lua_host_outcome(h, 0, &res, 2, &o), 0);
    CHECK_INT(o.kind, SR_OUTCOME_RETRY);
    CHECK_STR(o.reason, "connection refused");

    res = (sr_sink_result){.transport_ok = 1,
                           .status = 207,
                           .body = "ok,retry,reject",
                           .body_len = 15,
                           .retry_after_ms = -1};
    CHECK_INT(sr_lua_host_outcome(h, 0, &res, 3, &o), 0);
    CHECK_INT(o.kind, SR_OUTCOME_RETRY);
    CHECK_STR(o.reason, "partial");
    CHECK_INT(o.nitems, 3);
    if (o.nitems == 3) {
        CHECK_INT(o.items[0], SR_OUTCOME_OK);
        CHECK_INT(o.items[1], SR_OUTCOME_RETRY);
        CHECK_INT(o.items[2], SR_OUTCOME_REJECT);
    }
    sr_outcome_free(&o);

    res = (sr_sink_result){.transport_ok = 1, .status = 429, .retry_after_ms = 1500};
    CHECK_INT(sr_lua_host_outcome(h, 0, &res, 1, &o), 0);
    CHECK_INT(o.kind, SR_OUTCOME_RETRY);
    CHECK_STR(o.reason, "slow down for 2s");

    /* An outcome() that answers nonsense falls back to the status code. */
    res = (sr_sink_result){.transport_ok = 1, .status = 418, .retry_after_ms = -1};
    CHECK_INT(sr_lua_host_outcome(h, 0, &res, 1, &o), 0);
    CHECK_INT(o.kind, SR_OUTCOME_REJECT);
    CHECK(strstr(o.reason, "sideways") != NULL);

    /* Without outcome(): 2xx ok, 408/429/5xx retry, the rest reject. */
    static const struct {
        long status;
        sr_outcome_kind kind;
    } defaults[] = {{204, SR_OUTCOME_OK},
                    {408, SR_OUTCOME_RETRY},
                    {503, SR_OUTCOME_RETRY},
                    {404, SR_OUTCOME_REJECT}};
    for (size_t i = 0; i < 4; i++) {
        res = (sr_sink_result){.transport_ok = 1, .status = defaults[i].status};
        CHECK_INT(sr_lua_host_outcome(h, 1, &res, 1, &o), 0);
        CHECK_INT(o.kind, defaults[i].kind);
        CHECK(o.items == NULL);
    }
done:
    fixture_close(&f);
}

/* ---- The Lua heap ------------------------------------------------------- */

static void fill(char *p, size_t n, char seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(seed + (char)i);
}

static int filled(const char *p, size_t n, char seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (char)(seed + (char)i))
            return 0;
    return 1;
}

/* sr_lua_alloc as LuaJIT drives it: sizes across the small-block classes
 * and beyond, reallocations into, within and out of a class keep the
 * bytes, a freed small block serves the next allocation of its class, and
 * the byte count follows. */
static void test_heap(void) {
    sr_lua_heap *heap = sr_lua_heap_new();
    CHECK(heap != NULL);
    if (!heap)
        return;
    static const size_t sizes[] = {1, 15, 16, 17, 100, 255, 256, 257, 1000, 70000};
    enum { N = sizeof sizes / sizeof *sizes };
    char *p[N];
    size_t total = 0;
    for (size_t i = 0; i < N; i++) {
        p[i] = sr_lua_alloc(heap, NULL, 0, sizes[i]);
        CHECK(p[i] != NULL);
        fill(p[i], sizes[i], (char)i);
        total += sizes[i];
    }
    CHECK_INT(sr_lua_heap_bytes(heap), total);
    /* Grow and shrink every block through all the boundaries. */
    static const size_t steps[] = {20, 250, 300, 5000, 40, 16, 3};
    for (size_t i = 0; i < N; i++) {
        size_t cur = sizes[i];
        for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
            size_t keep = cur < steps[k] ? cur : steps[k];
            char *q = sr_lua_alloc(heap, p[i], cur, steps[k]);
            CHECK(q != NULL);
            if (!q)
                break;
            CHECK(filled(q, keep, (char)i));
            fill(q, steps[k], (char)i);
            total = total - cur + steps[k];
            p[i] = q;
            cur = steps[k];
        }
        CHECK_INT(sr_lua_heap_bytes(heap), total);
    }
    /* A freed small block comes back for its class. */
    char *a = sr_lua_alloc(heap, NULL, 0, 40);
    CHECK(sr_lua_alloc(heap, a, 40, 0) == NULL);
    char *b = sr_lua_alloc(heap, NULL, 0, 33);
    CHECK(b == a);
    CHECK(sr_lua_alloc(heap, b, 33, 0) == NULL);
    for (size_t i = 0; i < N; i++)
        sr_lua_alloc(heap, p[i], 3, 0);
    CHECK_INT(sr_lua_heap_bytes(heap), 0);
    /* The cache is bounded: many small blocks freed at once mostly go back
     * to malloc (LeakSanitizer checks the rest is freed with the heap). */
    enum { MANY = 20000 };
    static char *many[MANY];
    for (size_t i = 0; i < MANY; i++)
        many[i] = sr_lua_alloc(heap, NULL, 0, 256);
    for (size_t i = 0; i < MANY; i++)
        sr_lua_alloc(heap, many[i], 256, 0);
    CHECK_INT(sr_lua_heap_bytes(heap), 0);
    sr_lua_heap_free(heap);
}

int main(void) {
    test_heap();
    test_records_equal_input();
    test_envelope();
    test_global_script();
    test_integration_scripts_do_not_leak();
    test_routing();
    test_errors_fail_one_event();
    test_errors_resume();
    test_sandbox_same_records();
    test_sandbox_cjson_guarded();
    test_sandbox_refuses_struct();
    test_runaway_interpreted();
    test_runaway_compiled();
    test_load_loops();
    test_memory_limit();
    test_memory_kept_rebuilds();
    test_runaways_disable();
    test_option_errors();
    test_describe_and_info();
    test_setup_settings();
    test_setup_error_lines();
    test_certificate_id();
    test_request_and_outcome();
    return CHECK_DONE();
}
