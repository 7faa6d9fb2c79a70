/* test_config.c - configuration loading (config.c): defaults, every section,
 * merging, Sysdig's formats and the error messages. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "event.h"
#include "log.h"
#include "sysdig_vocab.h"

#ifndef SR_SOURCE_DIR
#error "SR_SOURCE_DIR must name the source tree (tests/CMakeLists.txt defines it)"
#endif

#define ALL_MT (SR_MT_POLICY_EVENTS | SR_MT_SECURE_AUDIT | SR_MT_MONITOR_EVENTS)

static char dir[] = "/tmp/sr-test-config-XXXXXX";
static char err[1024];

/* Writes `text` to dir/name and returns the path (static storage, one of
 * four rotating slots, so a test can hold a few at once). */
static const char *write_file(const char *name, const char *text) {
    static char paths[4][512];
    static int slot;
    char *path = paths[slot++ % 4];
    snprintf(path, sizeof paths[0], "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static int load1(sr_config *cfg, const char *path) {
    err[0] = '\0';
    int rc = sr_config_load(cfg, &path, 1, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "(load error: %s)\n", err);
    return rc;
}

/* Loads `text` as dir/c.yaml, expecting an error "<path>:<suffix>". */
static void check_error(const char *text, const char *suffix) {
    sr_config cfg;
    const char *path = write_file("c.yaml", text);
    err[0] = '\0';
    int rc = sr_config_load(&cfg, &path, 1, err, sizeof err);
    CHECK_INT(rc, -1);
    char want[1024];
    snprintf(want, sizeof want, "%s:%s", path, suffix);
    CHECK_STR(err, want);
    sr_config_free(&cfg);
}

static void test_defaults(void) {
    sr_config cfg;
    CHECK_INT(sr_config_load(&cfg, NULL, 0, err, sizeof err), 0);
    CHECK_INT(cfg.log_level, SR_LOG_INFO);
    CHECK_INT(cfg.log_format, SR_LOG_TEXT);
    CHECK_INT(cfg.workers, 0);
    CHECK_STR(cfg.data_dir, "./data");
    CHECK(cfg.lua_dir == NULL);
    CHECK_INT(cfg.nintegration_paths, 0);
    CHECK_INT(cfg.nscripts, 0);
    CHECK_INT(cfg.script_timeout_ms, 200);
    CHECK_INT(cfg.forwarder_enabled, 1);
    CHECK_INT(cfg.transmit_message_types, ALL_MT);
    CHECK_INT(cfg.http.enabled, 1);
    CHECK_STR(cfg.http.host, "127.0.0.1");
    CHECK_INT(cfg.http.port, 8080);
    CHECK_INT(cfg.http.max_body_bytes, 16 << 20);
    CHECK_INT(cfg.http.idle_timeout_ms, 60000);
    CHECK(cfg.http.token == NULL && cfg.http.tls.cert_file == NULL);
    CHECK_INT(cfg.tcp.enabled, 1);
    CHECK_STR(cfg.tcp.host, "127.0.0.1");
    CHECK_INT(cfg.tcp.port, 5140);
    CHECK_INT(cfg.tcp.max_line_bytes, 1 << 20);
    CHECK_INT(cfg.tcp.idle_timeout_ms, 60000);
    CHECK_INT(cfg.nintegrations, 0);
    sr_config_free(&cfg);

    /* An empty file, and keys without values, change nothing. */
    CHECK_INT(load1(&cfg, write_file("empty.yaml", "# nothing yet\n")), 0);
    CHECK_INT(cfg.http.port, 8080);
    CHECK_INT(cfg.ndocs, 1);
    sr_config_free(&cfg);
    CHECK_INT(load1(&cfg, write_file("nulls.yaml", "workers:\n"
                                                   "data_dir: ~\n"
                                                   "inputs:\n"
                                                   "  http:\n"
                                                   "    listen:\n"
                                                   "integrations:\n")),
              0);
    CHECK_STR(cfg.data_dir, "./data");
    CHECK_INT(cfg.http.port, 8080);
    sr_config_free(&cfg);
}

static void test_all_sections(void) {
    static const char text[] = "logging:\n"
                               "  level: debug\n"
                               "  format: json\n"
                               "workers: 4\n"
                               "data_dir: /var/lib/siemrelay\n"
                               "lua_dir: /opt/siemrelay/lua\n"
                               "integration_paths: /etc/siemrelay/integrations\n"
                               "scripts: [a.lua, {path: b.lua, params: {x: 1}}]\n"
                               "script_timeout: 1s\n"
                               "inputs:\n"
                               "  http:\n"
                               "    enabled: yes\n"
                               "    listen: \"[::1]:8443\"\n"
                               "    max_body: 2MiB\n"
                               "    token: s3cret\n"
                               "    idle_timeout: 5m\n"
                               "    tls:\n"
                               "      cert: /etc/c.pem\n"
                               "      key: /etc/k.pem\n"
                               "      client_ca: /etc/ca.pem\n"
                               "      require_client_cert: true\n"
                               "  tcp:\n"
                               "    enabled: off\n"
                               "    listen: 0.0.0.0:6514\n"
                               "    max_line: 64KiB\n"
                               "    idle_timeout: 30s\n"
                               "integrations:\n"
                               "  - name: siem\n"
                               "    type: webhook\n"
                               "    channels: [SECURE_EVENTS_POLICIES, ACTIVITY_AUDIT]\n"
                               "    enabled: false\n"
                               "    min_severity: 4\n"
                               "    scripts: [tag.lua]\n"
                               "    batch: {max_events: 100, max_bytes: 1MiB, linger: 50ms}\n"
                               "    configuration:\n"
                               "      endpoint: https://siem.example.com\n"
                               "  - type: FILE\n"
                               "    min_severity: high\n"
                               "    configuration: {path: /tmp/x}\n"
                               "    batch: {linger_ms: 75}\n"
                               "    queue: {type: disk, max_bytes: 2MiB, overflow: drop_oldest, "
                               "fsync: interval}\n";
    sr_config cfg;
    CHECK_INT(load1(&cfg, write_file("all.yaml", text)), 0);
    CHECK_INT(cfg.log_level, SR_LOG_DEBUG);
    CHECK_INT(cfg.log_format, SR_LOG_JSON);
    CHECK_INT(cfg.workers, 4);
    CHECK_STR(cfg.data_dir, "/var/lib/siemrelay");
    CHECK_STR(cfg.lua_dir, "/opt/siemrelay/lua");
    CHECK_INT(cfg.nintegration_paths, 1);
    CHECK_STR(cfg.nintegration_paths ? cfg.integration_paths[0] : NULL,
              "/etc/siemrelay/integrations");
    CHECK_INT(cfg.nscripts, 2);
    CHECK_STR(cfg.nscripts == 2 ? cfg.scripts[1] : NULL, "b.lua");
    CHECK(cfg.nscripts == 2 && cfg.script_entries[0]->kind == SR_NODE_SCALAR);
    CHECK(cfg.nscripts == 2 && sr_node_get(cfg.script_entries[1], "params") != NULL);
    CHECK_INT(cfg.script_timeout_ms, 1000);

    CHECK_INT(cfg.http.enabled, 1);
    CHECK_STR(cfg.http.host, "::1");
    CHECK_INT(cfg.http.port, 8443);
    CHECK_INT(cfg.http.max_body_bytes, 2 << 20);
    CHECK_STR(cfg.http.token, "s3cret");
    CHECK_INT(cfg.http.idle_timeout_ms, 300000);
    CHECK_STR(cfg.http.tls.cert_file, "/etc/c.pem");
    CHECK_STR(cfg.http.tls.key_file, "/etc/k.pem");
    CHECK_STR(cfg.http.tls.client_ca_file, "/etc/ca.pem");
    CHECK_INT(cfg.http.tls.require_client_cert, 1);
    CHECK_INT(cfg.tcp.enabled, 0);
    CHECK_STR(cfg.tcp.host, "0.0.0.0");
    CHECK_INT(cfg.tcp.port, 6514);
    CHECK_INT(cfg.tcp.max_line_bytes, 65536);
    CHECK_INT(cfg.tcp.idle_timeout_ms, 30000);
    CHECK(cfg.tcp.tls.cert_file == NULL);

    CHECK_INT(cfg.nintegrations, 2);
    if (cfg.nintegrations == 2) {
        const sr_integration_conf *a = &cfg.integrations[0], *b = &cfg.integrations[1];
        CHECK_STR(a->name, "siem");
        CHECK_STR(a->type, "WEBHOOK");
        CHECK_INT(a->channels, SR_CH_SECURE_EVENTS_POLICIES | SR_CH_ACTIVITY_AUDIT);
        CHECK_INT(a->enabled, 0);
        CHECK_INT(a->min_severity, 4);
        CHECK_INT(a->nscripts, 1);
        CHECK_STR(a->nscripts ? a->scripts[0] : NULL, "tag.lua");
        CHECK_INT(a->max_events, 100);
        CHECK_INT(a->max_bytes, 1 << 20);
        CHECK_INT(a->linger_ms, 50);
        CHECK(a->configuration && a->configuration->kind == SR_NODE_MAP);
        CHECK_STR(sr_node_get(a->configuration, "endpoint")->text, "https://siem.example.com");
        CHECK(a->file == cfg.docs[0]->file); /* points into the kept document */
        CHECK_INT(a->line, 28);

        CHECK_STR(b->name, "file-2");
        CHECK_STR(b->type, "FILE");
        CHECK_INT(b->channels, 0);
        CHECK_INT(b->enabled, 1);
        CHECK_INT(b->min_severity, 3);
        CHECK_INT(b->max_events, -1);
        CHECK_INT(b->max_bytes, -1);
        CHECK_INT(b->linger_ms, 75);
        CHECK_INT(b->queue.type, SR_QUEUE_DISK);
        CHECK(b->queue.max_bytes == 2u << 20);
        CHECK_INT(b->queue.overflow, SR_OVERFLOW_DROP_OLDEST);
        CHECK_INT(b->queue.fsync, SR_FSYNC_CONF_INTERVAL);
        sr_queue_conf global = {.type = SR_QUEUE_MEMORY, .fsync_interval_ms = 250}, q;
        sr_queue_conf_resolve(&global, &b->queue, &q);
        CHECK_INT(q.type, SR_QUEUE_DISK);    /* the integration's own wins */
        CHECK(q.fsync_interval_ms == 250);   /* unset: the global one */
        CHECK(q.segment_bytes == 64u << 20); /* unset everywhere: the default */
        CHECK_INT(b->nscripts, 0);
        CHECK_INT(b->line, 37);
    }
    sr_config_free(&cfg);
    CHECK(cfg.integrations == NULL && cfg.docs == NULL); /* zeroed: freeing twice is safe */
    sr_config_free(&cfg);
}

static void test_case_insensitive_keys(void) {
    sr_config cfg;
    CHECK_INT(load1(&cfg, write_file("ci.yaml", "LOGGING: {Level: WARN, FORMAT: Json}\n"
                                                "Workers: 1\n"
                                                "Inputs: {HTTP: {Listen: 'localhost:9000'}}\n"
                                                "Integrations:\n"
                                                "  - Name: x\n"
                                                "    TYPE: Splunk\n"
                                                "    Channels: [activity_audit]\n"
                                                "    Min_Severity: INFO\n")),
              0);
    CHECK_INT(cfg.log_level, SR_LOG_WARN);
    CHECK_INT(cfg.log_format, SR_LOG_JSON);
    CHECK_STR(cfg.http.host, "localhost");
    CHECK_INT(cfg.http.port, 9000);
    CHECK_INT(cfg.nintegrations, 1);
    if (cfg.nintegrations) {
        CHECK_STR(cfg.integrations[0].type, "SPLUNK");
        CHECK_INT(cfg.integrations[0].channels, SR_CH_ACTIVITY_AUDIT);
        CHECK_INT(cfg.integrations[0].min_severity, 7);
    }
    sr_config_free(&cfg);
}

static void test_unknown_keys(void) {
    check_error("logging: {level: info}\n"
                "wrokers: 2\n",
                "2: unknown key 'wrokers' (did you mean 'workers'?)");
    check_error("customerid: 1234\n", "1: unknown key 'customerid'");
    check_error("inputs:\n"
                "  http:\n"
                "    lisen: 127.0.0.1:1\n",
                "3: unknown key 'lisen' (did you mean 'listen'?)");
    check_error("inputs:\n"
                "  htp: {}\n",
                "2: unknown key 'htp' (did you mean 'http'?)");
    check_error("inputs:\n"
                "  http:\n"
                "    tls: {cert: a, key: b, clientca: c}\n",
                "3: unknown key 'clientca' (did you mean 'client_ca'?)");
    check_error("logging:\n"
                "  lvl: info\n",
                "2: unknown key 'lvl' (did you mean 'level'?)");
    check_error("integrations:\n"
                "  - type: WEBHOOK\n"
                "    chanels: [ACTIVITY_AUDIT]\n",
                "3: unknown key 'chanels' (did you mean 'channels'?)");
    check_error("integrations:\n"
                "  - type: WEBHOOK\n"
                "    batch: {max_event: 5}\n",
                "3: unknown key 'max_event' (did you mean 'max_events'?)");
    check_error("local_forwarder:\n"
                "  enable: true\n",
                "2: unknown key 'enable' (did you mean 'enabled'?)");
    check_error("localForwarder:\n"
                "  transmitMessageType: [POLICY_EVENTS]\n",
                "2: unknown key 'transmitMessageType' (did you mean 'transmitMessageTypes'?)");
}

static void test_wrong_types(void) {
    check_error("data_dir: x\n"
                "\n"
                "workers: two\n",
                "3: key 'workers': expected a non-negative integer, got 'two'");
    check_error("workers: -1\n", "1: key 'workers': expected a non-negative integer, got '-1'");
    check_error("workers: 5000\n", "1: key 'workers': at most 1024, got 5000");
    check_error("workers: [1]\n", "1: key 'workers': expected a non-negative integer, got a list");
    check_error("logging: {level: loud}\n",
                "1: key 'level': expected debug, info, warn or error, got 'loud'");
    check_error("logging: {format: xml}\n", "1: key 'format': expected text or json, got 'xml'");
    check_error("logging: info\n", "1: key 'logging': expected a map, got 'info'");
    check_error("script_timeout: soon\n",
                "1: key 'script_timeout': expected a duration such as 250ms, 5s, 1m or 1h (more "
                "than 0), got 'soon'");
    check_error("script_timeout: 0\n",
                "1: key 'script_timeout': expected a duration such as 250ms, 5s, 1m or 1h (more "
                "than 0), got '0'");
    check_error("data_dir: {a: 1}\n", "1: key 'data_dir': expected a non-empty string, got a map");
    check_error("data_dir: ''\n", "1: key 'data_dir': expected a non-empty string, got ''");
    check_error("scripts:\n"
                "  - a.lua\n"
                "  - [b.lua]\n",
                "3: key 'scripts': expected a path or a map with path and params, got a list");
    check_error(
        "scripts:\n"
        "  - {path: a.lua, param: {}}\n",
        "2: key 'scripts': unknown key 'param' in a script entry (use path, params and sandbox); "
        "did you mean 'params'?");
    check_error("scripts:\n"
                "  - params: {a: 1}\n",
                "2: key 'scripts': a script entry needs a path");
    check_error("inputs: {http: {max_body: lots}}\n",
                "1: key 'max_body': expected a size such as 512, 64KiB or 16MiB (more than 0), "
                "got 'lots'");
    check_error("inputs: {http: {enabled: maybe}}\n",
                "1: key 'enabled': expected true or false, got 'maybe'");
    check_error("inputs: {tcp: {idle_timeout: 1d}}\n",
                "1: key 'idle_timeout': expected a duration such as 250ms, 5s, 1m or 1h (more "
                "than 0), got '1d'");
    /* The token is a secret: the error does not show it. */
    check_error("inputs: {http: {token: ''}}\n", "1: key 'token': expected a non-empty string");
}

static void test_listen(void) {
    static const struct {
        const char *listen, *host;
        int port;
    } good[] = {
        {"127.0.0.1:8080", "127.0.0.1", 8080},
        {"\"[::1]:1\"", "::1", 1},
        {"\"[fe80::1%eth0]:65535\"", "fe80::1%eth0", 65535},
        {"example.com:443", "example.com", 443},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "inputs: {tcp: {listen: %s}}\n", good[i].listen);
        sr_config cfg;
        CHECK_INT(load1(&cfg, write_file("l.yaml", text)), 0);
        CHECK_STR(cfg.tcp.host, good[i].host);
        CHECK_INT(cfg.tcp.port, good[i].port);
        sr_config_free(&cfg);
    }
    static const char *const bad[] = {
        "8080",    "\"::1:8080\"",  "127.0.0.1:0",   "127.0.0.1:65536", "\"127.0.0.1:\"",
        "\":80\"", "\"[::1]8080\"", "127.0.0.1:80x", "127.0.0.1:123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256], want[256];
        snprintf(text, sizeof text, "inputs:\n  http:\n    listen: %s\n", bad[i]);
        const char *shown = bad[i][0] == '"' ? bad[i] + 1 : bad[i];
        snprintf(want, sizeof want,
                 "3: key 'listen': expected host:port such as 127.0.0.1:8080 or [::1]:8080 (port "
                 "1-65535), got '%.*s'",
                 (int)(strlen(shown) - (bad[i][0] == '"')), shown);
        check_error(text, want);
    }
}

static void test_tls(void) {
    check_error("inputs:\n"
                "  http:\n"
                "    tls:\n"
                "      cert: /c.pem\n",
                "3: key 'tls': 'cert' needs 'key' (the private key file)");
    check_error("inputs:\n"
                "  tcp:\n"
                "    tls: {key: /k.pem}\n",
                "3: key 'tls': 'key' needs 'cert' (the certificate file)");
    check_error("inputs:\n"
                "  tcp:\n"
                "    tls: {cert: /c.pem, key: /k.pem, require_client_cert: true}\n",
                "3: key 'tls': 'require_client_cert' needs 'client_ca' to verify them against");
    check_error("inputs:\n"
                "  tcp:\n"
                "    tls: {client_ca: /ca.pem}\n",
                "3: key 'tls': 'client_ca' needs 'cert' and 'key': client certificates are only "
                "checked over TLS");

    check_error("inputs:\n"
                "  http:\n"
                "    tls:\n"
                "      cert: /c.pem\n"
                "      key: /k.pem\n"
                "      cert_file: /other.pem\n",
                "6: key 'cert_file' sets 'cert' again (already set on line 4)");

    /* The field names are accepted as key names too. */
    sr_config cfg;
    CHECK_INT(load1(&cfg, write_file("tlsf.yaml", "inputs:\n"
                                                  "  http:\n"
                                                  "    tls:\n"
                                                  "      cert_file: /c.pem\n"
                                                  "      key_file: /k.pem\n"
                                                  "      client_ca_file: /ca.pem\n")),
              0);
    CHECK_STR(cfg.http.tls.cert_file, "/c.pem");
    CHECK_STR(cfg.http.tls.key_file, "/k.pem");
    CHECK_STR(cfg.http.tls.client_ca_file, "/ca.pem");
    CHECK_INT(cfg.http.tls.require_client_cert, 0);
    sr_config_free(&cfg);

    /* A later file may add to TLS settings made by an earlier one. */
    const char *paths[2];
    paths[0] = write_file("tls1.yaml", "inputs: {tcp: {tls: {cert: /c.pem, key: /k.pem}}}\n");
    paths[1] = write_file("tls2.yaml", "inputs:\n"
                                       "  tcp:\n"
                                       "    tls: {client_ca: /ca.pem, require_client_cert: on}\n");
    CHECK_INT(sr_config_load(&cfg, paths, 2, err, sizeof err), 0);
    CHECK_STR(cfg.tcp.tls.cert_file, "/c.pem");
    CHECK_STR(cfg.tcp.tls.client_ca_file, "/ca.pem");
    CHECK_INT(cfg.tcp.tls.require_client_cert, 1);
    CHECK(cfg.http.tls.cert_file == NULL);
    sr_config_free(&cfg);
}

/* Runs sr_config_load with stderr captured into `out`. */
static int load_capturing_log(sr_config *cfg, const char *path, char *out, size_t outlen) {
    char log_path[512];
    snprintf(log_path, sizeof log_path, "%s/stderr.log", dir);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(log_path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    dup2(fd, STDERR_FILENO);
    int rc = sr_config_load(cfg, &path, 1, err, sizeof err);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, out, outlen - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(log_path);
    return rc;
}

static void test_local_forwarder(void) {
    sr_config cfg;
    CHECK_INT(load1(&cfg, write_file("lf.yaml", "local_forwarder:\n"
                                                "  enabled: false\n"
                                                "  transmit_message_types: [SECURE_AUDIT]\n")),
              0);
    CHECK_INT(cfg.forwarder_enabled, 0);
    CHECK_INT(cfg.transmit_message_types, SR_MT_SECURE_AUDIT);
    sr_config_free(&cfg);

    char log[4096];
    const char *path = write_file("tap.yaml", "local_forwarder:\n"
                                              "  transmit_message_types:\n"
                                              "    - MONITOR_EVENTS\n"
                                              "    - AUDIT_TAP\n");
    CHECK_INT(load_capturing_log(&cfg, path, log, sizeof log), 0);
    CHECK_INT(cfg.transmit_message_types, SR_MT_MONITOR_EVENTS);
    CHECK(strstr(log, "tap.yaml:4: AUDIT_TAP has no data in siemrelay; ignored") != NULL);
    sr_config_free(&cfg);

    CHECK_INT(load1(&cfg, write_file("none.yaml", "local_forwarder:\n"
                                                  "  transmit_message_types: []\n")),
              0);
    CHECK_INT(cfg.transmit_message_types, 0);
    sr_config_free(&cfg);

    check_error("local_forwarder:\n"
                "  transmit_message_types:\n"
                "    - POLICY_EVENTS\n"
                "    - SECURE_AUDITS\n",
                "4: key 'transmit_message_types': unknown message type 'SECURE_AUDITS' (did you "
                "mean 'SECURE_AUDIT'?)");
    check_error("local_forwarder: {transmit_message_types: [EVERYTHING]}\n",
                "1: key 'transmit_message_types': unknown message type 'EVERYTHING'");
    check_error("local_forwarder: {enabled: sure}\n",
                "1: key 'enabled': expected true or false, got 'sure'");
}

static void expect_forwarder(const char *text, int enabled, unsigned types) {
    sr_config cfg;
    CHECK_INT(load1(&cfg, write_file("lf.yaml", text)), 0);
    CHECK_INT(cfg.forwarder_enabled, enabled);
    CHECK_INT(cfg.transmit_message_types, types);
    sr_config_free(&cfg);
}

/* One file with both spellings of the forwarder's settings must not say
 * two things; agreeing ones, or one key each, are fine. */
static void test_forwarder_spellings(void) {
    check_error("local_forwarder:\n"
                "  enabled: true\n"
                "localForwarder:\n"
                "  enabled: false\n",
                "4: 'localForwarder.enabled: false' contradicts 'local_forwarder.enabled: true' "
                "on line 2; the file has both the Helm and the dragent.yaml spelling: keep one");
    check_error("localForwarder:\n"
                "  transmitMessageTypes: [POLICY_EVENTS, SECURE_AUDIT]\n"
                "local_forwarder:\n"
                "  transmit_message_types: [POLICY_EVENTS]\n",
                "2: 'localForwarder.transmitMessageTypes' contradicts "
                "'local_forwarder.transmit_message_types' on line 4; the file has both the Helm "
                "and the dragent.yaml spelling: keep one");
    expect_forwarder("local_forwarder:\n"
                     "  enabled: false\n"
                     "  transmit_message_types: [SECURE_AUDIT]\n"
                     "localForwarder:\n"
                     "  enabled: no\n"
                     "  transmitMessageTypes: [secure_audit]\n"
                     "  integrations: []\n",
                     0, SR_MT_SECURE_AUDIT);
    expect_forwarder("local_forwarder:\n"
                     "  enabled: false\n"
                     "localForwarder:\n"
                     "  transmitMessageTypes: [MONITOR_EVENTS]\n",
                     0, SR_MT_MONITOR_EVENTS);
}

/* The chart's types and channels siemrelay does not handle are named as
 * such, with the reason, never matched to a near name. */
static void test_chart_vocabulary(void) {
    check_error("integrations:\n"
                "  - channels: [SECURE_EVENTS_POLICIES]\n"
                "    type: s3\n",
                "3: integration 's3-1': siemrelay does not forward to type 'S3' of the Sysdig "
                "chart: siemrelay has no object-store transport; forward to SQS, KAFKA or FILE "
                "and load S3 from there");
    check_error("integrations:\n"
                "  - type: KINESIS_FIREHOSE\n"
                "    name: fh\n",
                "2: integration 'fh': siemrelay does not forward to type 'KINESIS_FIREHOSE' of "
                "the Sysdig chart: siemrelay has no Kinesis transport; forward to KAFKA or SQS "
                "and feed Kinesis from there");
    check_error("integrations:\n"
                "  - type: LOCAL\n",
                "2: integration 'local-1': siemrelay does not forward to type 'LOCAL' of the "
                "Sysdig chart: it is the chart's test type that prints events to the agent's own "
                "output; use FILE to write events to a local file");
    check_error("integrations:\n"
                "  - type: WEBHOOK\n"
                "    channels:\n"
                "      - SECURE_EVENTS_POLICIES\n"
                "      - SECURE_EVENTS_SCANNING\n",
                "5: key 'channels': siemrelay does not forward channel 'SECURE_EVENTS_SCANNING' "
                "of the Sysdig chart: Sysdig's backend produces these results, not the agent's "
                "event stream siemrelay receives; forward them with Sysdig Secure's standard "
                "event forwarding (siemrelay's channels: SECURE_EVENTS_POLICIES, ACTIVITY_AUDIT, "
                "PLATFORM_AUDIT, MONITOR_EVENTS)");
    check_error("integrations:\n"
                "  - type: WEBHOOK\n"
                "    channels: [audit_tap]\n",
                "3: key 'channels': siemrelay does not forward channel 'audit_tap' of the "
                "Sysdig chart: the agent's audit tap goes to the Sysdig backend only and has no "
                "data in siemrelay (siemrelay's channels: SECURE_EVENTS_POLICIES, "
                "ACTIVITY_AUDIT, PLATFORM_AUDIT, MONITOR_EVENTS)");
    static const char *const chart_channels[] = {
        "SECURE_EVENTS_HOSTSCANNING",   "SECURE_EVENTS_BENCHMARK",
        "SECURE_EVENTS_COMPLIANCE",     "SECURE_OBJECT_STORE_RUNTIME",
        "SECURE_OBJECT_STORE_REGISTRY", "SECURE_OBJECT_STORE_PIPELINE"};
    for (size_t i = 0; i < sizeof chart_channels / sizeof *chart_channels; i++)
        CHECK(sr_sysdig_channel_unsupported(chart_channels[i]) != NULL);
    CHECK(sr_sysdig_type_unsupported("KINESIS_DATA_STREAMS") != NULL);
    /* What siemrelay takes is never on these lists. */
    CHECK(sr_sysdig_channel_unsupported("SECURE_EVENTS_POLICIES") == NULL);
    CHECK(sr_sysdig_channel_unsupported("POLICY_EVENTS") == NULL);
    CHECK(sr_sysdig_type_unsupported("SQS") == NULL);
    /* ... and no built-in module has a chart-only type's name. */
    for (size_t i = 0; sr_sysdig_unsupported_types[i]; i++) {
        char path[1024], lower[64];
        size_t n = 0;
        for (const char *c = sr_sysdig_unsupported_types[i]; *c && n + 1 < sizeof lower; c++)
            lower[n++] = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        lower[n] = '\0';
        snprintf(path, sizeof path, "%s/lua/integrations/%s.lua", SR_SOURCE_DIR, lower);
        CHECK(access(path, F_OK) != 0);
        CHECK(sr_sysdig_type_unsupported(sr_sysdig_unsupported_types[i]) != NULL);
    }

    /* A site module of that name in integration_paths is the site's
     * choice: the entry loads (its options are the module's to check). */
    char mods[600];
    snprintf(mods, sizeof mods, "%s/mods", dir);
    mkdir(mods, 0700);
    write_file("mods/s3.lua", "return {}\n");
    char text[1024];
    snprintf(text, sizeof text,
             "integration_paths: [%s]\n"
             "integrations:\n"
             "  - type: S3\n",
             mods);
    sr_config cfg;
    CHECK_INT(load1(&cfg, write_file("site.yaml", text)), 0);
    CHECK_INT(cfg.nintegrations, 1);
    sr_config_free(&cfg);
    snprintf(text, sizeof text, "%s/s3.lua", mods);
    unlink(text);
    rmdir(mods);
}

static void test_agent_files(void) {
    /* The agent's keys are not ours, but ours still count in such a file. */
    sr_config cfg;
    char log[4096];
    sr_log_configure(SR_LOG_DEBUG, SR_LOG_TEXT);
    const char *path = write_file("dragent.yaml", "customerid: abc\n"
                                                  "collector: collector.example.com\n"
                                                  "workers: 3\n"
                                                  "wrokers: 2\n"
                                                  "local_forwarder: {enabled: true}\n");
    CHECK_INT(load_capturing_log(&cfg, path, log, sizeof log), 0);
    sr_log_configure(SR_LOG_INFO, SR_LOG_TEXT);
    CHECK_INT(cfg.workers, 3);
    CHECK(strstr(log, "dragent.yaml:1: ignoring Sysdig agent key 'customerid'") != NULL);
    CHECK(strstr(log, "dragent.yaml:4: ignoring Sysdig agent key 'wrokers' (did you mean "
                      "'workers'?)") != NULL);
    CHECK(strstr(log, " warn ") != NULL); /* the near miss is a warning */
    sr_config_free(&cfg);

    /* Helm values: localForwarder with its camel-case keys. */
    CHECK_INT(load1(&cfg, write_file("values.yaml", "image: {tag: 1.2.3}\n"
                                                    "localForwarder:\n"
                                                    "  enabled: true\n"
                                                    "  existingSecretName: lf-secrets\n"
                                                    "  transmitMessageTypes: [POLICY_EVENTS]\n"
                                                    "  integrations:\n"
                                                    "    - type: WEBHOOK\n"
                                                    "      configuration: {endpoint: x}\n")),
              0);
    CHECK_INT(cfg.forwarder_enabled, 1);
    CHECK_INT(cfg.transmit_message_types, SR_MT_POLICY_EVENTS);
    CHECK_INT(cfg.nintegrations, 1);
    CHECK_STR(cfg.nintegrations ? cfg.integrations[0].name : NULL, "webhook-1");
    sr_config_free(&cfg);

    check_error("[1, 2]\n", "1: expected a map of settings at the top level");
}

/* Duplicate-name errors name both places, so the path appears twice. */
static void check_duplicate_name(const char *text, int line, const char *name, int first_line) {
    const char *path = write_file("dup.yaml", text);
    char want[1024];
    snprintf(want, sizeof want,
             "%s:%d: integration name '%s' is already used by the integration at %s:%d", path, line,
             name, path, first_line);
    sr_config cfg;
    CHECK_INT(sr_config_load(&cfg, &path, 1, err, sizeof err), -1);
    CHECK_STR(err, want);
    sr_config_free(&cfg);
}

static void test_integrations(void) {
    check_error("integrations:\n"
                "  - name: a\n"
                "    channels: [ACTIVITY_AUDIT]\n",
                "2: integration is missing required key 'type'");
    check_error("integrations:\n"
                "  - type: WEB-HOOK\n",
                "2: key 'type': expected an integration type such as WEBHOOK or SPLUNK, got "
                "'WEB-HOOK'");
    check_error("integrations:\n"
                "  - type: WEBHOOK\n"
                "    channels:\n"
                "      - SECURE_EVENTS_POLICIES\n"
                "      - ACTIVTY_AUDIT\n",
                "5: key 'channels': unknown channel 'ACTIVTY_AUDIT' (did you mean "
                "'ACTIVITY_AUDIT'?)");
    check_error("integrations:\n"
                "  - type: WEBHOOK\n"
                "    channels: [EVERYTHING]\n",
                "3: key 'channels': unknown channel 'EVERYTHING'");
    check_error("integrations:\n"
                "  - type: WEBHOOK\n"
                "    channels: []\n",
                "3: key 'channels': an empty list forwards nothing; remove the integration, or "
                "name its channels (leave the key out for every channel the type takes)");
    check_error("integrations:\n"
                "  - type: WEBHOOK\n"
                "    min_severity: 8\n",
                "3: key 'min_severity': expected a severity 0-7 or High, Medium, Low or Info, "
                "got '8'");
    check_error("integrations:\n"
                "  - type: WEBHOOK\n"
                "    min_severity: Critical\n",
                "3: key 'min_severity': expected a severity 0-7 or High, Medium, Low or Info, "
                "got 'Critical'");
    check_error("integrations:\n"
                "  - type: WEBHOOK\n"
                "    configuration: endpoint=x\n",
                "3: key 'configuration': expected a map of the type's options, got 'endpoint=x'");
    check_error("integrations:\n"
                "  - type: WEBHOOK\n"
                "    name: ../../etc/passwd\n",
                "3: key 'name': expected a name of letters, digits, '.', '_' and '-' (starting "
                "with a letter or digit, at most 64), got '../../etc/passwd'");
    check_error("integrations:\n"
                "  - type: WEBHOOK\n"
                "    batch: {max_events: 0}\n",
                "3: key 'max_events': expected a positive integer, got '0'");
    check_error("integrations:\n"
                "  type: WEBHOOK\n",
                "1: key 'integrations': expected a list of integrations, got a map");
    check_error("integrations:\n"
                "  - WEBHOOK\n",
                "2: key 'integrations': expected an integration (a map with 'type'), got "
                "'WEBHOOK'");

    /* Names are unique, explicit or not, compared case-insensitively. */
    check_duplicate_name("integrations:\n"
                         "  - name: siem\n"
                         "    type: WEBHOOK\n"
                         "  - name: Siem\n"
                         "    type: FILE\n",
                         4, "Siem", 2);
    check_duplicate_name("integrations:\n"
                         "  - type: FILE\n"
                         "  - name: file-1\n"
                         "    type: FILE\n",
                         3, "file-1", 2);
}

static void test_merge(void) {
    const char *paths[3];
    paths[0] = write_file("m1.yaml", "workers: 2\n"
                                     "data_dir: /one\n"
                                     "scripts: [a.lua, b.lua]\n"
                                     "inputs: {http: {listen: 10.0.0.1:80, token: t1}}\n"
                                     "integrations:\n"
                                     "  - type: SPLUNK\n"
                                     "  - name: mine\n"
                                     "    type: FILE\n");
    paths[1] = write_file("m2.yaml", "workers: 6\n"
                                     "scripts: [c.lua]\n"
                                     "inputs: {http: {max_body: 1KiB}}\n"
                                     "integrations:\n"
                                     "  - type: WEBHOOK\n"
                                     "localForwarder:\n"
                                     "  integrations:\n"
                                     "    - type: SPLUNK\n");
    paths[2] = write_file("m3.yaml", "local_forwarder: {transmit_message_types: [POLICY_EVENTS]}\n"
                                     "integrations:\n"
                                     "  - type: KAFKA\n");
    sr_config cfg;
    CHECK_INT(sr_config_load(&cfg, paths, 3, err, sizeof err), 0);
    CHECK_INT(cfg.workers, 6);       /* later wins */
    CHECK_STR(cfg.data_dir, "/one"); /* untouched by later files */
    CHECK_INT(cfg.nscripts, 1);      /* lists are values: replaced */
    CHECK_STR(cfg.nscripts ? cfg.scripts[0] : NULL, "c.lua");
    CHECK_STR(cfg.http.host, "10.0.0.1"); /* sections merge key by key */
    CHECK_STR(cfg.http.token, "t1");
    CHECK_INT(cfg.http.max_body_bytes, 1024);
    CHECK_INT(cfg.transmit_message_types, SR_MT_POLICY_EVENTS);
    CHECK_INT(cfg.ndocs, 3);
    static const char *const names[] = {"splunk-1", "mine", "webhook-3", "splunk-4", "kafka-5"};
    CHECK_INT(cfg.nintegrations, 5);
    for (size_t i = 0; i < cfg.nintegrations && i < 5; i++)
        CHECK_STR(cfg.integrations[i].name, names[i]);
    if (cfg.nintegrations == 5) {
        CHECK_STR(cfg.integrations[0].file, paths[0]);
        CHECK_INT(cfg.integrations[0].line, 6);
        CHECK_STR(cfg.integrations[3].file, paths[1]);
        CHECK_INT(cfg.integrations[3].line, 8);
    }
    sr_config_free(&cfg);

    /* An error in a later file names that file. */
    paths[1] = write_file("bad.yaml", "workers: 1\nworkerz: 2\n");
    CHECK_INT(sr_config_load(&cfg, paths, 2, err, sizeof err), -1);
    char want[1024];
    snprintf(want, sizeof want, "%s:2: unknown key 'workerz' (did you mean 'workers'?)", paths[1]);
    CHECK_STR(err, want);
    sr_config_free(&cfg);
}

static void test_env_and_yaml_errors(void) {
    setenv("SR_TEST_CFG_TOKEN", "from-env", 1);
    setenv("SR_TEST_CFG_WORKERS", "3", 1);
    unsetenv("SR_TEST_CFG_UNSET");
    sr_config cfg;
    CHECK_INT(
        load1(&cfg, write_file("env.yaml", "workers: ${SR_TEST_CFG_WORKERS}\n"
                                           "data_dir: ${SR_TEST_CFG_UNSET:-/srv/relay}\n"
                                           "inputs: {http: {token: \"${SR_TEST_CFG_TOKEN}\"}}\n"
                                           "lua_dir: ${SR_TEST_CFG_UNSET:-}\n")),
        0);
    CHECK_INT(cfg.workers, 3);
    CHECK_STR(cfg.data_dir, "/srv/relay");
    CHECK_STR(cfg.http.token, "from-env");
    CHECK(cfg.lua_dir == NULL); /* expanded to nothing: as if unset */
    sr_config_free(&cfg);

    check_error("workers: 1\n"
                "inputs: {http: {token: \"${SR_TEST_CFG_UNSET}\"}}\n",
                "2: environment variable SR_TEST_CFG_UNSET is not set");
    check_error("workers: 1\n"
                "workers: 2\n",
                "2:1: duplicate key 'workers' (first defined on line 1)");
    check_error("inputs:\n"
                "  http: {listen: [}\n",
                "2:19: did not find expected node content (while parsing a flow node started on "
                "line 2)");

    const char *missing = "/nonexistent/siemrelay.yaml";
    CHECK_INT(sr_config_load(&cfg, &missing, 1, err, sizeof err), -1);
    CHECK_STR(err, "/nonexistent/siemrelay.yaml: cannot open: No such file or directory");
    sr_config_free(&cfg);
}

static void test_sysdig_files(void) {
    sr_config cfg;
    const char *path = SR_SOURCE_DIR "/config/sysdig/local_forwarder_config.yaml";
    CHECK_INT(load1(&cfg, path), 0);
    CHECK_INT(cfg.nintegrations, 1);
    if (cfg.nintegrations == 1) {
        const sr_integration_conf *ic = &cfg.integrations[0];
        CHECK_STR(ic->name, "splunk-1");
        CHECK_STR(ic->type, "SPLUNK");
        CHECK_INT(ic->channels, SR_CH_SECURE_EVENTS_POLICIES | SR_CH_ACTIVITY_AUDIT);
        CHECK_INT(ic->line, 2);
        const sr_node *token = sr_node_get(ic->configuration, "ServiceToken");
        CHECK(token && !token->quoted && !token->is_null);
        CHECK_STR(token ? token->text : NULL, "***");
        CHECK_STR(sr_node_get(ic->configuration, "serviceurl")->text, "https://yoursplunkurl.com");
        CHECK_STR(sr_node_get(ic->configuration, "Index")->text, "indexname");
    }
    CHECK_INT(cfg.transmit_message_types, ALL_MT);
    sr_config_free(&cfg);

    /* As the agent reads it: dragent.yaml brings the
     * local_forwarder_config.yaml beside it. */
    CHECK_INT(load1(&cfg, SR_SOURCE_DIR "/config/sysdig/dragent.yaml"), 0);
    CHECK_INT(cfg.forwarder_enabled, 1);
    CHECK_INT(cfg.transmit_message_types, SR_MT_POLICY_EVENTS | SR_MT_SECURE_AUDIT);
    CHECK_INT(cfg.nintegrations, 1);
    CHECK_INT(cfg.ndocs, 2);
    sr_config_free(&cfg);

    CHECK_INT(load1(&cfg, SR_SOURCE_DIR "/config/sysdig/values.yaml"), 0);
    CHECK_INT(cfg.forwarder_enabled, 1);
    CHECK_INT(cfg.transmit_message_types, SR_MT_POLICY_EVENTS | SR_MT_SECURE_AUDIT);
    CHECK_INT(cfg.nintegrations, 1);
    if (cfg.nintegrations == 1) {
        CHECK_STR(cfg.integrations[0].type, "WEBHOOK");
        CHECK(sr_node_get(cfg.integrations[0].configuration, "endpoint") != NULL);
    }
    sr_config_free(&cfg);

    /* How the agent runs: dragent.yaml, then local_forwarder_config.yaml. */
    const char *both[] = {SR_SOURCE_DIR "/config/sysdig/dragent.yaml",
                          SR_SOURCE_DIR "/config/sysdig/local_forwarder_config.yaml"};
    CHECK_INT(sr_config_load(&cfg, both, 2, err, sizeof err), 0);
    CHECK_INT(cfg.transmit_message_types, SR_MT_POLICY_EVENTS | SR_MT_SECURE_AUDIT);
    CHECK_INT(cfg.nintegrations, 1); /* the sibling named again is read once */
    sr_config_free(&cfg);
}

/* The repository's own configuration files load as they are. */
static void test_repository_configs(void) {
    static const char *const files[] = {
        "config/siemrelay.yaml",
        "config/examples/file.yaml",
        "config/examples/splunk.yaml",
        "config/examples/webhook.yaml",
        "config/examples/webhook-mtls.yaml",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", SR_SOURCE_DIR, files[i]);
        if (access(path, R_OK) != 0)
            continue; /* examples come and go; the ones present must load */
        sr_config cfg;
        const char *p = path;
        int rc = sr_config_load(&cfg, &p, 1, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "%s: %s\n", files[i], err);
        CHECK_INT(rc, 0);
        CHECK(cfg.nintegrations >= 1);
        sr_config_free(&cfg);
    }
}

/* The tests only write plain files into `dir`. */
static void remove_dir(void) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[768];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_defaults();
    test_all_sections();
    test_case_insensitive_keys();
    test_unknown_keys();
    test_wrong_types();
    test_listen();
    test_tls();
    test_local_forwarder();
    test_agent_files();
    test_forwarder_spellings();
    test_chart_vocabulary();
    test_integrations();
    test_merge();
    test_env_and_yaml_errors();
    test_sysdig_files();
    test_repository_configs();

    remove_dir();
    return CHECK_DONE();
}
