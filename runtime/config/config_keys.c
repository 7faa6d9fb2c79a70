/* config_keys.c - the top-level keys and siemrelay's own sections (logging,
 * inputs, TLS, Sysdig's local_forwarder and localForwarder, admin) as key
 * tables (conf_table.h), and the readers of the keys no generic type fits.
 * The queue and delivery sections are their owners' tables; an
 * integration's keys are in integration_keys.c. */
#include "config.h"
#include "config_loader.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event.h"
#include "tls_engine.h"
#include "log.h"

#define COMPONENT   "config"
#define MAX_WORKERS 1024

/* ---- logging ------------------------------------------------------------ */

static const char *const log_levels[] = {"debug", "info", "warn", "error", "warning", NULL};
static const int log_level_values[] = {SR_LOG_DEBUG, SR_LOG_INFO, SR_LOG_WARN, SR_LOG_ERROR,
                                       SR_LOG_WARN};
static const char *const log_formats[] = {"text", "json", NULL};
static const int log_format_values[] = {SR_LOG_TEXT, SR_LOG_JSON};

static const sr_conf_key logging_keys[] = {
    {.name = "level",
     .type = SR_CONF_ENUM,
     SR_CONF_AT(sr_config, log_level),
     .dflt = "info",
     .names = log_levels,
     .values = log_level_values,
     .expected = "debug, info, warn or error",
     .doc = "`debug`, `info`, `warn` (or `warning`), `error`"},
    {.name = "format",
     .type = SR_CONF_ENUM,
     SR_CONF_AT(sr_config, log_format),
     .dflt = "text",
     .names = log_formats,
     .values = log_format_values,
     .expected = "text or json",
     .doc = "`text` or `json` (one JSON object per line)"},
    {.name = NULL},
};

/* ---- inputs ------------------------------------------------------------- */

/* Checked on the merged result, so a later file may add to an earlier
 * file's TLS settings (a CA, say) without repeating them. */
static int tls_complete(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    const sr_tls_listen_conf *tls = field;
    if (tls->cert_file && !tls->key_file)
        return sr_conf_fail(ctx, it->file, it->line,
                            "key '%s': 'cert' needs 'key' (the private key file)", it->key);
    if (tls->key_file && !tls->cert_file)
        return sr_conf_fail(ctx, it->file, it->line,
                            "key '%s': 'key' needs 'cert' (the certificate file)", it->key);
    if (tls->client_ca_file && !tls->cert_file)
        return sr_conf_fail(ctx, it->file, it->line,
                            "key '%s': 'client_ca' needs 'cert' and 'key': client certificates "
                            "are only checked over TLS",
                            it->key);
    if (tls->require_client_cert && !tls->client_ca_file)
        return sr_conf_fail(ctx, it->file, it->line,
                            "key '%s': 'require_client_cert' needs 'client_ca' to verify them "
                            "against",
                            it->key);
    char why[400];
    if (tls->ciphers && sr_tls_ciphers_check(tls->ciphers, why, sizeof why) != 0)
        return sr_conf_fail(ctx, it->file, it->line, "key '%s': %s", it->key, why);
    return 0;
}

static const char *const tls_versions[] = {"1.2", "1.3", "TLSv1.2", "TLSv1.3", NULL};
static const int tls_version_values[] = {SR_TLS_MIN_1_2, SR_TLS_MIN_1_3, SR_TLS_MIN_1_2,
                                         SR_TLS_MIN_1_3};

/* The *_file spellings match the field names (and docs/inputs.md). */
static const sr_conf_key tls_keys[] = {
    {.name = "cert", .type = SR_CONF_STRING, SR_CONF_AT(sr_tls_listen_conf, cert_file)},
    {.name = "key", .type = SR_CONF_STRING, SR_CONF_AT(sr_tls_listen_conf, key_file)},
    {.name = "client_ca", .type = SR_CONF_STRING, SR_CONF_AT(sr_tls_listen_conf, client_ca_file)},
    {.name = "require_client_cert",
     .type = SR_CONF_BOOL,
     SR_CONF_AT(sr_tls_listen_conf, require_client_cert)},
    {.name = "min_version",
     .type = SR_CONF_ENUM,
     SR_CONF_AT(sr_tls_listen_conf, min_version),
     .dflt = "1.2",
     .names = tls_versions,
     .values = tls_version_values,
     .expected = "1.2 or 1.3"},
    {.name = "ciphers", .type = SR_CONF_STRING, SR_CONF_AT(sr_tls_listen_conf, ciphers)},
    {.name = "cert_file", .alias_of = "cert"},
    {.name = "key_file", .alias_of = "key"},
    {.name = "client_ca_file", .alias_of = "client_ca"},
    {.name = NULL},
};

static const char doc_input_enabled_http[] =
    "an `inputs:` section that does not name `http` turns it off";
static const char doc_input_enabled_tcp[] =
    "an `inputs:` section that does not name `tcp` turns it off";
static const char expect_input_listen[] =
    "host:port such as 127.0.0.1:8080 or [::1]:8080 (port 1-65535)";

#define INPUT_LISTEN(dflt_, doc_)                                                                  \
    {                                                                                              \
        .name = "listen", .type = SR_CONF_LISTEN, SR_CONF_AT(sr_input_conf, host),                 \
        .aux = offsetof(sr_input_conf, port), .dflt = dflt_, .expected = expect_input_listen,      \
        .doc = doc_                                                                                \
    }
/* Deadlines (http_server.h), the same rows for every listener that has them. */
#define IDLE_TIMEOUT(type_, dflt_, doc_)                                                           \
    {                                                                                              \
        .name = "idle_timeout", .type = SR_CONF_DURATION, SR_CONF_AT(type_, idle_timeout_ms),      \
        .dflt = dflt_, .doc = doc_                                                                 \
    }
#define HEADER_TIMEOUT(type_, dflt_)                                                               \
    {                                                                                              \
        .name = "header_timeout", .type = SR_CONF_DURATION, .flags = SR_CONF_ZERO_OK,              \
        SR_CONF_AT(type_, header_timeout_ms), .dflt = dflt_,                                       \
        .doc = "a request's head must be complete within it of its first byte (else 408); `0` = "  \
               "only `idle_timeout`"                                                               \
    }
/* Connection limits (conn_guard.h), the same rows for every listener. */
#define CONN_LIMIT_MAX 1000000
#define CONN_LIMITS(type_, field_, total_, per_peer_)                                              \
    {.name = "max_connections",                                                                    \
     .type = SR_CONF_INT,                                                                          \
     SR_CONF_AT(type_, field_.max_connections),                                                    \
     .dflt = total_,                                                                               \
     .min = 0,                                                                                     \
     .max = CONN_LIMIT_MAX,                                                                        \
     .expected = "an integer from 0 (no limit) to 1000000",                                        \
     .doc = "connections open at once; at the limit the connection idle longest (no request "      \
            "in progress) is closed for a new one, which is refused only when none is idle; "      \
            "`0` = no limit"},                                                                     \
    {                                                                                              \
        .name = "max_connections_per_peer", .type = SR_CONF_INT,                                   \
        SR_CONF_AT(type_, field_.max_per_peer), .dflt = per_peer_, .min = 0,                       \
        .max = CONN_LIMIT_MAX, .expected = "an integer from 0 (no limit) to 1000000",              \
        .doc = "connections open at once from one address; the next one is closed at once; "       \
               "`0` = no limit"                                                                    \
    }
#define PROGRESS(type_, interval_, what_)                                                          \
    {.name = "min_progress_bytes",                                                                 \
     .type = SR_CONF_SIZE,                                                                         \
     SR_CONF_AT(type_, min_progress_bytes),                                                        \
     .dflt = "1KiB",                                                                               \
     .doc = what_ " must bring at least this much in every `progress_interval`"},                  \
    {                                                                                              \
        .name = "progress_interval", .type = SR_CONF_DURATION, .flags = SR_CONF_ZERO_OK,           \
        SR_CONF_AT(type_, progress_interval_ms), .dflt = interval_,                                \
        .doc = "see `min_progress_bytes`; `0` = no such rule"                                      \
    }
#define INPUT_TLS                                                                                  \
    {                                                                                              \
        .name = "tls", .type = SR_CONF_SECTION, SR_CONF_AT(sr_input_conf, tls), .sub = tls_keys,   \
        .apply = tls_complete, .doc = "see [TLS](#tls)"                                            \
    }

static const sr_conf_key http_keys[] = {
    {.name = "enabled",
     .type = SR_CONF_BOOL,
     SR_CONF_AT(sr_input_conf, enabled),
     .dflt = "true",
     .doc = doc_input_enabled_http},
    INPUT_LISTEN("127.0.0.1:8080",
                 "`host:port`; IPv6 as `[::1]:8080` (quote it: `\"[::1]:8080\"`)"),
    {.name = "max_body",
     .type = SR_CONF_SIZE,
     SR_CONF_AT(sr_input_conf, max_body_bytes),
     .dflt = "16MiB",
     .doc = "larger bodies get 413 (before and after gzip)"},
    {.name = "token",
     .type = SR_CONF_STRING,
     .flags = SR_CONF_SECRET,
     SR_CONF_AT(sr_input_conf, token),
     .doc = "require `Authorization: Bearer <token>`"},
    IDLE_TIMEOUT(sr_input_conf, "60s", "a request must arrive completely within it"),
    HEADER_TIMEOUT(sr_input_conf, "10s"),
    PROGRESS(sr_input_conf, "10s", "a request body (else 408)"),
    CONN_LIMITS(sr_input_conf, limits, "10000", "256"),
    INPUT_TLS,
    {.name = "max_body_total",
     .type = SR_CONF_SIZE,
     SR_CONF_AT(sr_input_conf, max_body_total_bytes),
     .doc_default = "4 × `max_body`, at least `64MiB`",
     .doc = "request bodies being received at once, all connections together; a request "
            "beyond it gets 503 with `Retry-After`"},
    {.name = "failed_auth",
     .type = SR_CONF_SECTION,
     SR_CONF_AT(sr_input_conf, failed_auth),
     .sub = sr_auth_guard_conf_keys},
    {.name = NULL},
};

static const sr_conf_key tcp_keys[] = {
    {.name = "enabled",
     .type = SR_CONF_BOOL,
     SR_CONF_AT(sr_input_conf, enabled),
     .dflt = "true",
     .doc = doc_input_enabled_tcp},
    INPUT_LISTEN("127.0.0.1:5140", "as for http"),
    {.name = "max_line",
     .type = SR_CONF_SIZE,
     SR_CONF_AT(sr_input_conf, max_line_bytes),
     .dflt = "1MiB",
     .doc = "longer NDJSON lines are rejected"},
    IDLE_TIMEOUT(sr_input_conf, "60s", "a silent connection is closed"),
    PROGRESS(sr_input_conf, "10s",
             "a line unfinished over a whole interval (else the connection is closed)"),
    CONN_LIMITS(sr_input_conf, limits, "10000", "256"),
    INPUT_TLS,
    {.name = NULL},
};

/* An `inputs:` section lists the inputs wanted (config.c turns the others
 * off once every file is read). */
static int saw_inputs(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    (void)it, (void)field;
    ((sr_config_loader *)ctx->ud)->inputs_seen = 1;
    return 0;
}

static int saw_http(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    (void)it, (void)field;
    ((sr_config_loader *)ctx->ud)->http_seen = 1;
    return 0;
}

static int saw_tcp(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    (void)it, (void)field;
    ((sr_config_loader *)ctx->ud)->tcp_seen = 1;
    return 0;
}

static int saw_kafka(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    (void)it, (void)field;
    ((sr_config_loader *)ctx->ud)->kafka_seen = 1;
    return 0;
}

static const sr_conf_key inputs_keys[] = {
    {.name = "http",
     .type = SR_CONF_SECTION,
     SR_CONF_AT(sr_config, http),
     .sub = http_keys,
     .apply = saw_http},
    {.name = "tcp",
     .type = SR_CONF_SECTION,
     SR_CONF_AT(sr_config, tcp),
     .sub = tcp_keys,
     .apply = saw_tcp},
    {.name = "kafka",
     .type = SR_CONF_SECTION,
     SR_CONF_AT(sr_config, kafka),
     .sub = sr_kafka_input_conf_keys,
     .apply = saw_kafka},
    {.name = NULL},
};

/* ---- local_forwarder / localForwarder ----------------------------------- */

/* In SR_MT_* bit order; Sysdig's agent also knows AUDIT_TAP, which has no
 * data here. */
static const char *const msg_type_names[] = {"POLICY_EVENTS", "SECURE_AUDIT", "MONITOR_EVENTS",
                                             "AUDIT_TAP", NULL};

/* AUDIT_TAP is a type of the agent's, with no data here: said, and skipped. */
static int msg_type_unknown(sr_conf_ctx *ctx, const sr_conf_item *it, const sr_node *el) {
    (void)ctx;
    (void)it;
    if (strcasecmp(el->text, "AUDIT_TAP") != 0)
        return 0;
    sr_warn(COMPONENT, "%s:%d: AUDIT_TAP has no data in siemrelay; ignored", el->file, el->line);
    return 1;
}

static int read_msg_types(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    static const sr_conf_names spec = {
        "a list of message types", "a message type name", "message type", msg_type_names,
        sr_msg_type_parse,         msg_type_unknown};
    return sr_conf_read_names(ctx, it, &spec, field);
}

static void print_msg_types(sr_buf *out, const void *field) {
    unsigned mask = *(const unsigned *)field;
    int first = 1;
    sr_buf_putc(out, '[');
    for (unsigned i = 0; i < 3; i++) {
        if (!(mask & (1u << i)))
            continue;
        sr_buf_printf(out, "%s\"%s\"", first ? "" : ",", msg_type_names[i]);
        first = 0;
    }
    sr_buf_putc(out, ']');
}

static const sr_conf_key local_forwarder_keys[] = {
    {.name = "enabled",
     .type = SR_CONF_BOOL,
     SR_CONF_AT(sr_config, forwarder_enabled),
     .dflt = "true",
     .doc = "`false` forwards nothing"},
    {.name = "transmit_message_types",
     .type = SR_CONF_CUSTOM,
     SR_CONF_AT(sr_config, transmit_message_types),
     .apply = read_msg_types,
     .print = print_msg_types,
     .dflt = "[POLICY_EVENTS, SECURE_AUDIT, MONITOR_EVENTS]",
     .doc_default = "all three",
     .doc = "which message types are forwarded at all"},
    {.name = NULL},
};

static int ignored(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    (void)ctx, (void)field;
    sr_debug(COMPONENT, "%s:%d: '%s' is for the Sysdig chart; ignored", it->file, it->line,
             it->key);
    return 0;
}

static int read_integrations(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    (void)field;
    if (it->v->kind != SR_NODE_SEQ)
        return sr_conf_wrong_value(ctx, it, "a list of integrations", 0);
    for (size_t i = 0; i < it->v->n; i++) {
        const sr_node *el = it->v->items[i];
        if (el->kind != SR_NODE_MAP)
            return sr_conf_wrong_element(ctx, it, el, "an integration (a map with 'type')");
        if (sr_config_add_integration(ctx, el) != 0)
            return -1;
    }
    return 0;
}

/* Helm's spellings of local_forwarder's keys, and its integrations. */
static const sr_conf_key helm_keys[] = {
    {.name = "enabled", .type = SR_CONF_BOOL, SR_CONF_AT(sr_config, forwarder_enabled)},
    {.name = "transmitMessageTypes",
     .type = SR_CONF_CUSTOM,
     SR_CONF_AT(sr_config, transmit_message_types),
     .apply = read_msg_types},
    {.name = "integrations", .type = SR_CONF_CUSTOM, .apply = read_integrations},
    {.name = "existingSecretName", .type = SR_CONF_CUSTOM, .apply = ignored},
    {.name = NULL},
};

/* ---- admin -------------------------------------------------------------- */

static const char *const roles[] = {"admin", "viewer", NULL};
static const int role_values[] = {SR_ROLE_ADMIN, SR_ROLE_VIEWER};

static int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The hash is not a secret, but a token pasted here by mistake is: a value
 * that is not a hash is never echoed. */
static int read_sha256(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    unsigned char *sha256 = field;
    const char *s = it->v->kind == SR_NODE_SCALAR ? it->v->text : "";
    if (strlen(s) != 64)
        goto bad;
    for (int i = 0; i < 32; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            goto bad;
        sha256[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
bad:
    return sr_conf_wrong_value(ctx, it,
                               "the token's SHA-256 as 64 hex digits (printf %s TOKEN | "
                               "sha256sum, or siemrelay hash-token); never the token itself",
                               1);
}

static const sr_conf_key token_keys[] = {
    {.name = "name", .type = SR_CONF_STRING, SR_CONF_AT(sr_admin_token_conf, name)},
    {.name = "role",
     .type = SR_CONF_ENUM,
     SR_CONF_AT(sr_admin_token_conf, role),
     .names = roles,
     .values = role_values,
     .expected = "admin or viewer"},
    {.name = "sha256",
     .type = SR_CONF_CUSTOM,
     SR_CONF_AT(sr_admin_token_conf, sha256),
     .apply = read_sha256},
    {.name = NULL},
};

static void free_tokens(sr_admin_token_conf *t, size_t n) {
    for (size_t i = 0; i < n; i++)
        sr_conf_free(token_keys, &t[i]);
    free(t);
}

static void drop_tokens(void *field) {
    sr_admin_conf *admin = field;
    free_tokens(admin->tokens, admin->ntokens);
    admin->tokens = NULL;
    admin->ntokens = 0;
}

/* `tokens:` replaces an earlier file's list as a whole. */
static int read_tokens(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    sr_admin_conf *admin = field;
    const sr_node *v = it->v;
    if (v->kind != SR_NODE_SEQ)
        return sr_conf_wrong_value(ctx, it, "a list of {name, role, sha256}", 0);
    sr_admin_token_conf *list = calloc(v->n ? v->n : 1, sizeof *list);
    if (!list)
        return sr_conf_fail(ctx, it->file, it->line, "out of memory");
    for (size_t i = 0; i < v->n; i++) {
        const sr_node *el = v->items[i];
        if (el->kind != SR_NODE_MAP) {
            sr_conf_wrong_element(ctx, it, el, "a token (a map with name, role and sha256)");
            goto fail;
        }
        if (sr_conf_apply_map(ctx, el, token_keys, &list[i]) != 0)
            goto fail;
        const char *missing = !list[i].name ? "name" : !list[i].role ? "role" : NULL;
        const sr_node *hash = sr_node_get(el, "sha256");
        if (!missing && (!hash || sr_conf_is_unset(hash)))
            missing = "sha256";
        if (missing) {
            sr_conf_fail(ctx, el->file, el->line, "key '%s': a token is missing required key '%s'",
                         it->key, missing);
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(list[j].name, list[i].name) == 0) {
                sr_conf_fail(ctx, el->file, el->line, "key '%s': token name '%s' is used twice",
                             it->key, list[i].name);
                goto fail;
            }
    }
    free_tokens(admin->tokens, admin->ntokens);
    admin->tokens = list;
    admin->ntokens = v->n;
    return 0;
fail:
    free_tokens(list, v->n);
    return -1;
}

/* Who may use the API, never their hashes. */
static void print_tokens(sr_buf *out, const void *field) {
    const sr_admin_conf *admin = field;
    sr_buf_putc(out, '[');
    for (size_t i = 0; i < admin->ntokens; i++) {
        sr_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
        sr_buf_json_string(out, admin->tokens[i].name, strlen(admin->tokens[i].name));
        sr_buf_printf(out, ",\"role\":\"%s\"}", sr_admin_role_name(admin->tokens[i].role));
    }
    sr_buf_putc(out, ']');
}

static const sr_conf_key admin_keys[] = {
    {.name = "enabled",
     .type = SR_CONF_BOOL,
     SR_CONF_AT(sr_admin_conf, enabled),
     .dflt = "true",
     .doc = "the admin API listener ([admin.md](admin.md))"},
    {.name = "listen",
     .type = SR_CONF_LISTEN,
     SR_CONF_AT(sr_admin_conf, host),
     .aux = offsetof(sr_admin_conf, port),
     .dflt = "127.0.0.1:9090",
     .expected = "host:port such as 127.0.0.1:9090 (port 1-65535)",
     .doc = "`host:port`"},
    {.name = "tokens",
     .type = SR_CONF_CUSTOM,
     .apply = read_tokens,
     .print = print_tokens,
     .drop = drop_tokens,
     .doc = "a list of `{name, role, sha256}`: who may use the admin API, `role` `admin` or "
            "`viewer`, `sha256` the token's SHA-256 in hex (never the token); replaced as a "
            "whole by a later file, re-read on reload "
            "([admin.md](admin.md#roles-and-tokens))"},
    {.name = "script_dir",
     .type = SR_CONF_STRING,
     SR_CONF_AT(sr_admin_conf, script_dir),
     .doc_default = "none",
     .doc = "the directory whose scripts integrations defined through the admin API may name; "
            "unset: they may name none ([admin.md](admin.md#what-an-admin-can-and-cannot-do))"},
    {.name = "credentials_dir",
     .type = SR_CONF_STRING,
     SR_CONF_AT(sr_admin_conf, credentials_dir),
     .doc_default = "none",
     .doc = "the directory whose files (`caFile`, `certFile`, `keyFile`) integrations defined "
            "through the admin API may name; unset: they may name none "
            "([admin.md](admin.md#what-an-admin-can-and-cannot-do))"},
    {.name = "files_dir",
     .type = SR_CONF_STRING,
     SR_CONF_AT(sr_admin_conf, files_dir),
     .doc_default = "`data_dir/files`",
     .doc = "the directory the FILE paths of integrations defined through the admin API are "
            "confined to ([admin.md](admin.md#what-an-admin-can-and-cannot-do))"},
    {.name = "failed_auth",
     .type = SR_CONF_SECTION,
     SR_CONF_AT(sr_admin_conf, failed_auth),
     .sub = sr_auth_guard_conf_keys},
    {.name = "tls",
     .type = SR_CONF_SECTION,
     SR_CONF_AT(sr_admin_conf, tls),
     .sub = tls_keys,
     .apply = tls_complete,
     .doc = "the API over TLS, as for the inputs: see [TLS](#tls)"},
    {.name = "allowed_hosts",
     .type = SR_CONF_STRINGS,
     SR_CONF_AT(sr_admin_conf, allowed_hosts),
     .aux = offsetof(sr_admin_conf, nallowed_hosts),
     .doc = "host names the API answers to besides its listen address (and `localhost` on "
            "loopback); any other `Host` gets 421; `*` turns the check off; re-read on reload "
            "([admin.md](admin.md#host-names))"},
    CONN_LIMITS(sr_admin_conf, limits, "4096", "64"),
    IDLE_TIMEOUT(
        sr_admin_conf, "10s",
        "a request must arrive completely within it; an idle connection is closed after it"),
    HEADER_TIMEOUT(sr_admin_conf, "5s"),
    PROGRESS(sr_admin_conf, "5s", "a request body (else 408)"),
    {.name = NULL},
};

/* ---- Top level ---------------------------------------------------------- */

/* `field` is the config's `scripts`. */
static int read_scripts(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    sr_config *cfg = (sr_config *)((char *)field - offsetof(sr_config, scripts));
    return sr_config_read_scripts(ctx, it, &cfg->scripts, &cfg->script_entries, &cfg->nscripts);
}

static void drop_scripts(void *field) {
    sr_config *cfg = (sr_config *)((char *)field - offsetof(sr_config, scripts));
    sr_config_free_scripts(&cfg->scripts, &cfg->script_entries, &cfg->nscripts);
}

static void print_scripts(sr_buf *out, const void *field) {
    const sr_config *cfg = (const sr_config *)((const char *)field - offsetof(sr_config, scripts));
    sr_config_print_scripts(out, cfg->scripts, cfg->nscripts);
}

const sr_conf_key sr_config_keys[] = {
    {.name = "logging", .type = SR_CONF_SECTION, .sub = logging_keys},
    {.name = "workers",
     .type = SR_CONF_INT,
     SR_CONF_AT(sr_config, workers),
     .dflt = "0",
     .min = 0,
     .max = MAX_WORKERS,
     .expected = "a non-negative integer",
     .doc = "Lua worker threads; `0` = one per CPU core; at most 1024"},
    {.name = "data_dir",
     .type = SR_CONF_STRING,
     SR_CONF_AT(sr_config, data_dir),
     .dflt = "./data",
     .doc = "dead letters (`data_dir/deadletter/`) and spools"},
    {.name = "user",
     .type = SR_CONF_STRING,
     SR_CONF_AT(sr_config, user),
     .doc_default = "none",
     .doc = "a user name (or uid) to run as once the listeners are bound; needs root; the "
            "gateway refuses to start if it cannot ([admin.md](admin.md#running-as-a-user))"},
    {.name = "group",
     .type = SR_CONF_STRING,
     SR_CONF_AT(sr_config, group),
     .doc_default = "the user's",
     .doc = "a group name (or gid) to run as with `user`"},
    {.name = "lua_dir",
     .type = SR_CONF_STRING,
     SR_CONF_AT(sr_config, lua_dir),
     .doc_default = "see meaning",
     .doc = "the `lua/` tree (`lib/`, `integrations/`); unset: `$SIEMRELAY_LUA_DIR`, else "
            "`<prefix>/share/siemrelay/lua` beside a binary installed as `<prefix>/bin/siemrelay`, "
            "else the source tree the binary was built from, else the installed copy"},
    {.name = "integration_paths",
     .type = SR_CONF_STRINGS,
     SR_CONF_AT(sr_config, integration_paths),
     .aux = offsetof(sr_config, nintegration_paths),
     .doc = "a directory, or a list of them, searched first for `<type>.lua`"},
    {.name = "scripts",
     .type = SR_CONF_CUSTOM,
     SR_CONF_AT(sr_config, scripts),
     .apply = read_scripts,
     .print = print_scripts,
     .drop = drop_scripts,
     .doc_default = "none",
     .doc = "global site scripts, run on every event in order: a path, or a list of paths "
            "and `{path, params}` maps"},
    {.name = "script_timeout",
     .type = SR_CONF_DURATION,
     SR_CONF_AT(sr_config, script_timeout_ms),
     .dflt = "200ms",
     .doc = "per event and script; a duration above 0"},
    {.name = "script_load_timeout",
     .type = SR_CONF_DURATION,
     SR_CONF_AT(sr_config, script_load_timeout_ms),
     .dflt = "5s",
     .doc = "for loading every module and site script of one Lua state, their top-level "
            "code and `setup` included; a load that overruns it is stopped and refused"},
    {.name = "script_memory_limit",
     .type = SR_CONF_SIZE,
     SR_CONF_AT(sr_config, script_memory_limit),
     .dflt = "128MiB",
     .doc = "per Lua state (one per worker, one for delivery); an event whose scripts "
            "would exceed it fails with stage `memory`"},
    {.name = "script_runaway_limit",
     .type = SR_CONF_INT,
     SR_CONF_AT(sr_config, script_runaway_limit),
     .dflt = "5",
     .min = 0,
     .max = 64,
     .expected = "a count from 0 to 64",
     .doc = "a site script that times out or exceeds `script_memory_limit` this often "
            "within `script_runaway_window` is disabled until a reload; 0: never"},
    {.name = "script_runaway_window",
     .type = SR_CONF_DURATION,
     SR_CONF_AT(sr_config, script_runaway_window_ms),
     .dflt = "10m",
     .doc = "see `script_runaway_limit`"},
    {.name = "script_sandbox",
     .type = SR_CONF_BOOL,
     SR_CONF_AT(sr_config, script_sandbox),
     .dflt = "false",
     .doc = "run every site script sandboxed (no `os.execute`, `io`, `ffi`, ...; "
            "[Scripting](scripting.md#sandbox)); one script alone: `sandbox: true` in its "
            "entry"},
    {.name = "inputs", .type = SR_CONF_SECTION, .sub = inputs_keys, .apply = saw_inputs},
    {.name = "queue",
     .type = SR_CONF_SECTION,
     .flags = SR_CONF_LATE_DEFAULT,
     SR_CONF_AT(sr_config, queue),
     .sub = sr_queue_conf_keys},
    {.name = "delivery",
     .type = SR_CONF_SECTION,
     SR_CONF_AT(sr_config, delivery),
     .sub = sr_delivery_conf_keys},
    {.name = "admin", .type = SR_CONF_SECTION, SR_CONF_AT(sr_config, admin), .sub = admin_keys},
    {.name = "integrations",
     .type = SR_CONF_CUSTOM,
     .flags = SR_CONF_NOT_PRINTED,
     .apply = read_integrations,
     .doc = "the destinations, see [Integrations](#integrations)"},
    {.name = "local_forwarder", .type = SR_CONF_SECTION, .sub = local_forwarder_keys},
    {.name = "localForwarder",
     .type = SR_CONF_SECTION,
     .flags = SR_CONF_NOT_PRINTED | SR_CONF_NOT_DOCUMENTED,
     .sub = helm_keys},
    {.name = NULL},
};
