/* config_keys.c - the top-level keys and the sections that are the
 * configuration's own (logging, `inputs:`, Sysdig's local_forwarder and
 * localForwarder) as key tables (conf_table.h), and the readers of the keys
 * no generic type fits. The other sections are their owners' tables: the
 * inputs' (input_conf.c, their TLS and limits in listener_conf.h), admin
 * (admin_conf.c), queue, delivery, the Kafka input; an integration's keys
 * are in integration_keys.c. */
#include "config.h"
#include "config_loader.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event.h"
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
     .sub = sr_input_http_conf_keys,
     .apply = saw_http},
    {.name = "tcp",
     .type = SR_CONF_SECTION,
     SR_CONF_AT(sr_config, tcp),
     .sub = sr_input_tcp_conf_keys,
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
    {.name = "admin",
     .type = SR_CONF_SECTION,
     SR_CONF_AT(sr_config, admin),
     .sub = sr_admin_conf_keys},
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
