/* test_admin_write.c - the pieces of the admin API's write side that need no
 * running gateway: tokens and roles, the API file (render, read back, line
 * map, errors to fields, masked secrets), audit events, test-event samples
 * and the type catalogue. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin_auth.h"
#include "admin_bounds.h"
#include "admin_probe.h"
#include "admin_store.h"
#include "arena.h"
#include "admin_audit.h"
#include "check.h"
#include "config.h"
#include "event.h"
#include "json.h"
#include "log.h"
#include "lua_schema.h"

/* ---- helpers ----------------------------------------------------------------- */

static int contains(const sr_buf *b, const char *s) {
    return b->data && memmem(b->data, b->len, s, strlen(s)) != NULL;
}

/* The value of top-level `key` in the JSON object, as raw text, into out. */
static const char *member(const char *json, const char *key, char *out, size_t n) {
    sr_json_member m;
    if (!sr_json_object_get(json, strlen(json), key, strlen(key), &m))
        return NULL;
    snprintf(out, n, "%.*s", (int)m.val_len, json + m.val_off);
    return out;
}

/* ---- tokens ---------------------------------------------------------------------- */

static void set_hash(sr_admin_token_conf *t, const char *token) {
    char hex[65];
    sr_admin_hash_token(token, strlen(token), hex);
    for (int i = 0; i < 32; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        t->sha256[i] = (unsigned char)v;
    }
}

static void test_auth(void) {
    char hex[65];
    sr_admin_hash_token("s3cret", 6, hex);
    CHECK_STR(
        hex,
        "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0"); /* printf %s s3cret |
                                                                                sha256sum */
    CHECK_INT(strlen(hex), 64);

    sr_admin_token_conf tokens[2] = {{.name = "alice", .role = SR_ROLE_ADMIN},
                                     {.name = "victor", .role = SR_ROLE_VIEWER}};
    set_hash(&tokens[0], "adm");
    set_hash(&tokens[1], "view");

    sr_admin_decision d = sr_admin_authorize(tokens, 2, NULL, SR_ROLE_VIEWER);
    CHECK_INT(d.status, 401);
    CHECK(d.www_authenticate && strstr(d.www_authenticate, "Bearer"));
    d = sr_admin_authorize(tokens, 2, "Bearer nope", SR_ROLE_VIEWER);
    CHECK_INT(d.status, 401);
    CHECK(strstr(d.www_authenticate, "invalid_token") != NULL);
    d = sr_admin_authorize(tokens, 2, "Basic YTpi", SR_ROLE_VIEWER);
    CHECK_INT(d.status, 401);
    d = sr_admin_authorize(tokens, 2, "Bearer ", SR_ROLE_VIEWER);
    CHECK_INT(d.status, 401);
    d = sr_admin_authorize(tokens, 2, "bearer view", SR_ROLE_VIEWER);
    CHECK_INT(d.status, 0);
    CHECK_STR(d.who.name, "victor");
    d = sr_admin_authorize(tokens, 2, "Bearer view", SR_ROLE_ADMIN);
    CHECK_INT(d.status, 403);
    CHECK_STR(d.who.name, "victor");
    d = sr_admin_authorize(tokens, 2, "Bearer  adm ", SR_ROLE_ADMIN);
    CHECK_INT(d.status, 0);
    CHECK_STR(d.who.name, "alice");
    CHECK_INT(d.who.role, SR_ROLE_ADMIN);
    /* a token that is a prefix or extension of another does not match */
    CHECK_INT(sr_admin_authorize(tokens, 2, "Bearer ad", SR_ROLE_VIEWER).status, 401);
    CHECK_INT(sr_admin_authorize(tokens, 2, "Bearer admx", SR_ROLE_VIEWER).status, 401);

    /* no tokens: reads open, writes refused with a way out */
    d = sr_admin_authorize(NULL, 0, NULL, SR_ROLE_VIEWER);
    CHECK_INT(d.status, 0);
    d = sr_admin_authorize(NULL, 0, "Bearer adm", SR_ROLE_ADMIN);
    CHECK_INT(d.status, 403);
    CHECK(strstr(d.message, "admin.tokens") != NULL);
    CHECK_STR(sr_admin_role_name(SR_ROLE_VIEWER), "viewer");
}

/* ---- the API file ----------------------------------------------------------------- */

static const char *const ENTRY_A =
    "{\"name\":\"a\",\"type\":\"WEBHOOK\",\"channels\":[\"ACTIVITY_AUDIT\"],"
    "\"batch\":{\"max_events\":5},\"configuration\":{\"endpoint\":\"http://x/${HOME}\","
    "\"secret\":\"p\\\"w\\\\d\\u00e9\\n\",\"isInsecure\":false,\"timeout\":10,"
    "\"headers\":[{\"key\":\"X\",\"value\":\"1\"}],\"empty\":{},\"none\":null}}";

static void test_store(void) {
    char err[512], field[160], tmp[] = "/tmp/sr-admin-storeXXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/api-integrations.yaml", tmp);

    sr_admin_entries e = {0}, back = {0};
    CHECK_INT(sr_admin_store_load(path, &back, err, sizeof err), 0); /* none yet */
    CHECK_INT(back.n, 0);
    CHECK_INT(sr_admin_entries_put(&e, "a", ENTRY_A, strlen(ENTRY_A)), 0);
    CHECK_INT(sr_admin_entries_put(&e, "b", "{\"name\":\"b\",\"type\":\"FILE\"}", 26), 0);
    CHECK_INT(sr_admin_entries_find(&e, "B"), 1);

    sr_buf text = SR_BUF_INIT;
    sr_admin_linemap map;
    CHECK_INT(sr_admin_store_render(&e, &text, &map), 0);
    CHECK(contains(&text, "\"endpoint\": \"http://x/$${HOME}\"")); /* never expanded */
    CHECK(contains(&text, "\"secret\": \"p\\\"w\\\\d\xc3\xa9\\u000A\""));
    CHECK(contains(&text, "\"isInsecure\": false"));
    CHECK(contains(&text, "\"empty\": {}"));
    CHECK_INT(sr_admin_store_write(path, text.data, text.len, err, sizeof err), 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);

    /* the line map: each line names its field */
    int found_endpoint = 0, found_channel = 0;
    for (size_t i = 0; i < map.n; i++) {
        if (strcmp(map.lines[i].path, "configuration.endpoint") == 0 && map.lines[i].entry == 0)
            found_endpoint = (int)i + 1;
        if (strcmp(map.lines[i].path, "channels[0]") == 0)
            found_channel = 1;
    }
    CHECK(found_endpoint > 0 && found_channel);

    /* errors -> fields */
    char msg[600];
    snprintf(msg, sizeof msg, "%s:%d: integration 'a' (WEBHOOK): key 'endpoint' is wrong", path,
             found_endpoint);
    const char *shown = sr_admin_store_explain(msg, path, &map, 0, ENTRY_A, field, sizeof field);
    CHECK_STR(field, "configuration.endpoint");
    CHECK_STR(shown, "integration 'a' (WEBHOOK): key 'endpoint' is wrong");
    snprintf(msg, sizeof msg, "%s:5: integration 'a' (WEBHOOK): missing required key 'url'", path);
    sr_admin_store_explain(msg, path, &map, 0, ENTRY_A, field, sizeof field);
    CHECK_STR(field, "configuration.url");
    snprintf(msg, sizeof msg, "%s:5: integration 'a' (WEBHOOK): timeout must be positive", path);
    sr_admin_store_explain(msg, path, &map, 0, ENTRY_A, field, sizeof field);
    CHECK_STR(field, "configuration.timeout");
    snprintf(msg, sizeof msg, "%s:5:3: integration 'a': unknown type 'X'", path);
    sr_admin_store_explain(msg, path, &map, 0, ENTRY_A, field, sizeof field);
    CHECK_STR(field, "type");
    shown =
        sr_admin_store_explain("other.yaml:3: bad", path, &map, 0, ENTRY_A, field, sizeof field);
    CHECK_STR(shown, "other.yaml:3: bad");
    CHECK_STR(field, "");

    /* read back: the same entries */
    CHECK_INT(sr_admin_store_load(path, &back, err, sizeof err), 0);
    CHECK_INT(back.n, 2);
    if (back.n == 2) {
        char v[256];
        CHECK_STR(back.v[0].name, "a");
        CHECK_STR(member(back.v[0].json, "type", v, sizeof v), "\"WEBHOOK\"");
        sr_json_member conf;
        CHECK(sr_json_object_get(back.v[0].json, back.v[0].len, "configuration", 13, &conf));
        char cj[1024];
        snprintf(cj, sizeof cj, "%.*s", (int)conf.val_len, back.v[0].json + conf.val_off);
        CHECK_STR(member(cj, "endpoint", v, sizeof v), "\"http://x/${HOME}\"");
        CHECK_STR(member(cj, "secret", v, sizeof v), "\"p\\\"w\\\\d\xc3\xa9\\n\"");
        CHECK_STR(member(cj, "isInsecure", v, sizeof v), "false");
        CHECK_STR(member(cj, "timeout", v, sizeof v), "10");
        CHECK_STR(member(cj, "none", v, sizeof v), "null");
    }
    sr_admin_entries_remove(&e, 0);
    CHECK_INT(e.n, 1);
    CHECK_STR(e.v[0].name, "b");

    /* install replaces the file */
    char tmpfile[300];
    snprintf(tmpfile, sizeof tmpfile, "%s.tmp", path);
    sr_buf_reset(&text);
    sr_admin_linemap_free(&map);
    CHECK_INT(sr_admin_store_render(&e, &text, NULL), 0);
    CHECK_INT(sr_admin_store_write(tmpfile, text.data, text.len, err, sizeof err), 0);
    CHECK_INT(sr_admin_store_install(tmpfile, path, err, sizeof err), 0);
    sr_admin_entries_free(&back);
    CHECK_INT(sr_admin_store_load(path, &back, err, sizeof err), 0);
    CHECK_INT(back.n, 1);

    sr_buf_free(&text);
    sr_admin_entries_free(&e);
    sr_admin_entries_free(&back);
    unlink(path);
    rmdir(tmp);
}

static void test_normalise(void) {
    char name[128], err[512], field[160];
    sr_buf out = SR_BUF_INIT;
    const char *body = "{\"type\":\"WEBHOOK\",\"name\":\"a\",\"configuration\":"
                       "{\"endpoint\":\"http://x/${HOME}\",\"IsInsecure\": false,"
                       "\"Secret\":\"******\"}}";
    /* the mask keeps the stored value, whatever the key's case */
    CHECK_INT(sr_admin_entry_normalise(body, strlen(body), "a", ENTRY_A, &out, name, sizeof name,
                                       err, sizeof err, field, sizeof field),
              0);
    CHECK_STR(name, "a");
    CHECK(contains(&out, "\"Secret\":\"p\\\"w\\\\d\\u00e9\\n\""));
    CHECK(!contains(&out, "******"));
    sr_buf_reset(&out);
    /* ... but only for the same destination: a changed, escaped, added or
     * removed destination key needs the secret again */
    static const char *const moved[] = {
        "{\"endpoint\":\"http://evil/\",\"isInsecure\":false,\"secret\":\"******\"}",
        "{\"\\u0065ndpoint\":\"http://evil/\",\"isInsecure\":false,\"secret\":\"******\"}",
        "{\"endpoint\":\"http://x/${HOME}\",\"isInsecure\":true,\"secret\":\"******\"}",
        "{\"endpoint\":\"http://x/${HOME}\",\"isInsecure\":false,\"proxy\":\"p:1\","
        "\"secret\":\"******\"}",
        "{\"isInsecure\":false,\"secret\":\"******\"}",
        NULL};
    for (size_t i = 0; moved[i]; i++) {
        sr_buf b = SR_BUF_INIT;
        sr_buf_printf(&b, "{\"type\":\"WEBHOOK\",\"name\":\"a\",\"configuration\":%s}", moved[i]);
        CHECK_INT(sr_admin_entry_normalise(b.data, b.len, "a", ENTRY_A, &out, name, sizeof name,
                                           err, sizeof err, field, sizeof field),
                  -1);
        CHECK_STR(field, "configuration.secret");
        CHECK(strstr(err, "changed: send 'secret' again") != NULL);
        CHECK(strstr(err, "p\\\"w") == NULL);
        sr_buf_free(&b);
        sr_buf_reset(&out);
    }
    /* another type, same configuration: the secret again too */
    const char *retyped = "{\"type\":\"splunk\",\"name\":\"a\",\"configuration\":"
                          "{\"endpoint\":\"http://x/${HOME}\",\"isInsecure\":false,"
                          "\"secret\":\"******\"}}";
    CHECK_INT(sr_admin_entry_normalise(retyped, strlen(retyped), "a", ENTRY_A, &out, name,
                                       sizeof name, err, sizeof err, field, sizeof field),
              -1);
    CHECK(strstr(err, "'type' changed") != NULL);
    const char *same = "{\"type\":\"webhook\",\"name\":\"a\",\"configuration\":"
                       "{\"endpoint\":\"http://x/${HOME}\",\"isInsecure\":false,"
                       "\"secret\":\"******\"}}";
    sr_buf_reset(&out);
    CHECK_INT(sr_admin_entry_normalise(same, strlen(same), "a", ENTRY_A, &out, name, sizeof name,
                                       err, sizeof err, field, sizeof field),
              0);
    sr_buf_reset(&out);
    /* nothing stored: the mask is an error on that field */
    CHECK_INT(sr_admin_entry_normalise(body, strlen(body), NULL, NULL, &out, name, sizeof name, err,
                                       sizeof err, field, sizeof field),
              -1);
    CHECK_STR(field, "configuration.Secret");
    /* PUT: the name comes from the path, and cannot change */
    const char *noname = "{\"type\":\"FILE\"}";
    sr_buf_reset(&out);
    CHECK_INT(sr_admin_entry_normalise(noname, strlen(noname), "b", NULL, &out, name, sizeof name,
                                       err, sizeof err, field, sizeof field),
              0);
    CHECK_STR(name, "b");
    CHECK(contains(&out, "{\"name\":\"b\",\"type\":\"FILE\"}"));
    CHECK_INT(sr_admin_entry_normalise(body, strlen(body), "other", NULL, &out, name, sizeof name,
                                       err, sizeof err, field, sizeof field),
              -1);
    CHECK_STR(field, "name");
    CHECK_INT(sr_admin_entry_normalise(noname, strlen(noname), NULL, NULL, &out, name, sizeof name,
                                       err, sizeof err, field, sizeof field),
              -1);
    CHECK_STR(field, "name");
    CHECK_INT(sr_admin_entry_normalise("{\"name\":\"x\"}", 12, NULL, NULL, &out, name, sizeof name,
                                       err, sizeof err, field, sizeof field),
              -1);
    CHECK_STR(field, "type");
    CHECK_INT(sr_admin_entry_normalise("[1]", 3, NULL, NULL, &out, name, sizeof name, err,
                                       sizeof err, field, sizeof field),
              -1);
    CHECK_INT(sr_admin_entry_normalise("{", 1, NULL, NULL, &out, name, sizeof name, err, sizeof err,
                                       field, sizeof field),
              -1);
    CHECK(strstr(err, "not JSON") != NULL);
    sr_buf_free(&out);
}

/* ---- audit events and test-event samples ------------------------------------------ */

static void test_audit_shape(void) {
    sr_buf out = SR_BUF_INIT;
    sr_audit_entry e = {.action = "create",
                        .method = "POST",
                        .uri = "/api/integrations",
                        .query = NULL,
                        .status = 201,
                        .entity_type = "integration",
                        .entity_id = "siem",
                        .user = "alice",
                        .origin_ip = "127.0.0.1",
                        .description = "created \"siem\""};
    CHECK_INT(
        sr_audit_format(&e, 1606322948648718268LL, "0123456789abcdef0123456789abcdef", "h", &out),
        0);
    sr_json_error je;
    CHECK_INT(sr_json_validate(out.data, out.len, 64, &je), 0);
    CHECK(contains(&out, "\"type\":\"audittrail\""));
    CHECK(contains(&out, "\"timestamp\":1606322948648718268"));
    CHECK(contains(&out, "\"timestampRFC3339Nano\":\"2020-11-25T16:49:08.648718268Z\""));
    CHECK(contains(&out, "\"requestMethod\":\"POST\""));
    CHECK(contains(&out, "\"responseStatusCode\":201"));
    CHECK(contains(&out, "\"userOriginIP\":\"127.0.0.1\""));
    CHECK(contains(&out, "\"username\":\"alice\""));
    CHECK(contains(&out, "\"entityType\":\"integration\""));
    CHECK(contains(&out, "\"queryString\":\"\""));
    /* the pipeline classifies it as platform audit */
    sr_arena arena;
    sr_event ev;
    sr_arena_init(&arena, 4096);
    CHECK_INT(sr_event_parse(&ev, &arena, out.data, out.len, NULL, &je), 0);
    CHECK_INT(ev.channel, SR_CH_PLATFORM_AUDIT);
    for (unsigned ch = SR_CH_SECURE_EVENTS_POLICIES; ch <= SR_CH_MONITOR_EVENTS; ch <<= 1) {
        sr_buf s = SR_BUF_INIT;
        CHECK_INT(sr_probe_sample(ch, 5, "0123456789abcdef0123456789abcdef", 1, "n\"x", &s), 0);
        CHECK_INT(sr_event_parse(&ev, &arena, s.data, s.len, NULL, &je), 0);
        CHECK_INT(ev.channel, ch);
        CHECK_INT(ev.severity, 5);
        sr_buf_free(&s);
    }
    sr_arena_free(&arena);
    sr_buf_free(&out);
}

/* ---- the type catalogue ---------------------------------------------------------------- */

static void test_schema(void) {
    char err[512] = "";
    sr_buf out = SR_BUF_INIT;
    sr_lua_host_conf conf = {.lua_dir = SR_SOURCE_DIR "/lua"};
    CHECK_INT(sr_lua_schema_catalog(&conf, &out, err, sizeof err), 0);
    sr_json_error je;
    CHECK_INT(sr_json_validate(out.data, out.len, 64, &je), 0);
    CHECK(contains(&out, "{\"type\":\"FILE\""));
    CHECK(contains(&out, "{\"type\":\"WEBHOOK\""));
    CHECK(contains(&out, "{\"name\":\"endpoint\",\"type\":\"string\",\"required\":true,"
                         "\"secret\":false,\"default\":null"));
    CHECK(contains(&out, "{\"name\":\"secret\",\"type\":\"string\",\"required\":false,"
                         "\"secret\":true"));
    CHECK(contains(&out, "\"enum\":[\"json\",\"ndjson\"]"));
    CHECK(contains(&out, "\"aliases\":[\"caCertFile\"]"));
    CHECK(contains(&out, "\"aliases\":[\"maxBytes\"]"));
    CHECK(!contains(&out, "{\"name\":\"caCertFile\"")); /* aliases are not options */
    CHECK(contains(&out, "\"error\":null"));

    /* a site directory comes first, and a broken module is listed with its error */
    char dir[] = "/tmp/sr-schemaXXXXXX", path[300];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/broken.lua", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("return {", f);
        fclose(f);
    }
    const char *paths[] = {dir};
    conf.integration_paths = paths;
    conf.nintegration_paths = 1;
    sr_buf_reset(&out);
    CHECK_INT(sr_lua_schema_catalog(&conf, &out, err, sizeof err), 0);
    CHECK(contains(&out, "{\"type\":\"BROKEN\""));
    CHECK(contains(&out, "\"options\":[],\"error\":\"integration type BROKEN"));
    unlink(path);
    rmdir(dir);
    sr_buf_free(&out);
}

/* What a Lua syntax error quotes from a file is cut; FILE:LINE and the
 * kind of error stay. */
static void test_scrub(void) {
    char m1[] = "integration 'h' (FILE): /s/admin.token:1: malformed number near '7f3a9c1e5b'";
    sr_admin_scrub_file_text(m1);
    CHECK_STR(m1, "integration 'h' (FILE): /s/admin.token:1: malformed number");
    char m2[] = "x.lua:3: unfinished string near \"'abc";
    sr_admin_scrub_file_text(m2);
    CHECK_STR(m2, "x.lua:3: unfinished string");
    char m3[] = "x.lua:9: 'end' expected near <eof>";
    sr_admin_scrub_file_text(m3);
    CHECK_STR(m3, "x.lua:9: 'end' expected near <eof>");
}

/* The bounds on an entry: file-only keys, scripts without a directory,
 * FILE paths outside theirs; script paths come back absolute. */
static void test_bounds(void) {
    char err[512], field[160], dir[] = "/tmp/sr-bounds-XXXXXX", path[300];
    sr_buf out = SR_BUF_INIT;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/a.lua", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("return {}\n", f);
    fclose(f);
    sr_admin_bounds none = {NULL, dir}, some = {dir, dir};
    const char *e1 = "{\"name\":\"a\",\"type\":\"FILE\",\"LUA_DIR\":\"/\"}";
    CHECK_INT(
        sr_admin_bounds_check(&none, e1, strlen(e1), &out, err, sizeof err, field, sizeof field),
        -1);
    CHECK_STR(field, "lua_dir");
    const char *e2 = "{\"name\":\"a\",\"type\":\"WEBHOOK\",\"scripts\":\"a.lua\"}";
    sr_buf_reset(&out);
    CHECK_INT(
        sr_admin_bounds_check(&none, e2, strlen(e2), &out, err, sizeof err, field, sizeof field),
        -1);
    CHECK_STR(field, "scripts");
    sr_buf_reset(&out);
    CHECK_INT(
        sr_admin_bounds_check(&some, e2, strlen(e2), &out, err, sizeof err, field, sizeof field),
        0);
    sr_buf want = SR_BUF_INIT;
    char real[300];
    CHECK(realpath(path, real) != NULL);
    sr_buf_puts(&want, "\"scripts\":");
    sr_buf_json_string(&want, real, strlen(real));
    CHECK(contains(&out, want.data));
    const char *e3 = "{\"name\":\"a\",\"type\":\"file\",\"configuration\":{\"PATH\":\"/etc/x\"}}";
    sr_buf_reset(&out);
    CHECK_INT(
        sr_admin_bounds_check(&some, e3, strlen(e3), &out, err, sizeof err, field, sizeof field),
        -1);
    CHECK_STR(field, "configuration.path");
    CHECK(strstr(err, "is outside") != NULL);
    sr_buf_free(&want);
    sr_buf_free(&out);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    sr_log_configure(SR_LOG_ERROR, SR_LOG_TEXT);
    test_scrub();
    test_bounds();
    test_auth();
    test_store();
    test_normalise();
    test_audit_shape();
    test_schema();
    return CHECK_DONE();
}
