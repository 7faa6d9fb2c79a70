/* integration_keys.c - the keys of one `integrations:` element as a key
 * table (conf_table.h), and their readers. The element's `configuration`
 * is kept as a tree: the type's Lua option schema checks it later. */
#include "config.h"
#include "config_loader.h"

#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event.h"
#include "sysdig_vocab.h"

#define MAX_NAME_LEN 64

/* Names end up in file names (dead letters, spools) and logs. */
static int valid_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > MAX_NAME_LEN || !isalnum((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return 0;
    return 1;
}

static int read_name(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    if (it->v->kind != SR_NODE_SCALAR || !valid_name(it->v->text))
        return sr_conf_wrong_value(ctx, it,
                                   "a name of letters, digits, '.', '_' and '-' (starting with a "
                                   "letter or digit, at most 64)",
                                   0);
    return sr_conf_set_string(ctx, it, 0, field);
}

static void drop_name(void *field) {
    char **name = field;
    free(*name);
    *name = NULL;
}

static void drop_type(void *field) {
    sr_integration_conf *ic = field;
    free(ic->type);
    ic->type = NULL;
}

static int read_type(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    sr_integration_conf *ic = field;
    const sr_node *v = it->v;
    int ok = v->kind == SR_NODE_SCALAR && v->len > 0 && v->len <= MAX_NAME_LEN;
    for (size_t i = 0; ok && i < v->len; i++)
        ok = isalnum((unsigned char)v->text[i]) || v->text[i] == '_';
    if (!ok)
        return sr_conf_wrong_value(ctx, it, "an integration type such as WEBHOOK or SPLUNK", 0);
    if (sr_conf_set_string(ctx, it, 0, &ic->type) != 0)
        return -1;
    for (char *c = ic->type; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    ic->type_line = v->line;
    return 0;
}

static const char *const channel_names[] = {"SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT",
                                            "PLATFORM_AUDIT", "MONITOR_EVENTS", NULL};

static const char channels_taken[] =
    "SECURE_EVENTS_POLICIES, ACTIVITY_AUDIT, PLATFORM_AUDIT, MONITOR_EVENTS";

/* A channel of the Sysdig chart that siemrelay does not forward: said why. */
static int channel_unknown(sr_conf_ctx *ctx, const sr_conf_item *it, const sr_node *el) {
    const char *why = sr_sysdig_channel_unsupported(el->text);
    if (!why)
        return 0;
    return sr_conf_fail(ctx, el->file, el->line,
                        "key '%s': siemrelay does not forward channel '%s' of the Sysdig "
                        "chart: %s (siemrelay's channels: %s)",
                        it->key, el->text, why, channels_taken);
}

static int read_channels(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    static const sr_conf_names spec = {"a list of channels (leave it out for every channel)",
                                       "a channel name",
                                       "channel",
                                       channel_names,
                                       sr_channel_parse,
                                       channel_unknown};
    const sr_node *v = it->v;
    if (v->kind == SR_NODE_SEQ && v->n == 0)
        return sr_conf_fail(ctx, it->file, it->line,
                            "key '%s': an empty list forwards nothing; remove the integration, "
                            "or name its channels (leave the key out for every channel the "
                            "type takes)",
                            it->key);
    return sr_conf_read_names(ctx, it, &spec, field);
}

static int read_configuration(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    if (it->v->kind != SR_NODE_MAP)
        return sr_conf_wrong_value(ctx, it, "a map of the type's options", 0);
    *(sr_node **)field = (sr_node *)it->v;
    return 0;
}

/* Sysdig's severity labels name the least severe value of their band. */
static int read_min_severity(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    static const struct {
        const char *label;
        int severity;
    } labels[] = {{"High", 3}, {"Medium", 5}, {"Low", 6}, {"Info", 7}};
    long long n;
    if (sr_node_int(it->v, &n) == 0 && n >= 0 && n <= 7) {
        *(int *)field = (int)n;
        return 0;
    }
    for (size_t i = 0; it->v->kind == SR_NODE_SCALAR && i < 4; i++) {
        if (strcasecmp(it->v->text, labels[i].label) == 0) {
            *(int *)field = labels[i].severity;
            return 0;
        }
    }
    return sr_conf_wrong_value(ctx, it, "a severity 0-7 or High, Medium, Low or Info", 0);
}

/* `field` is the integration's `scripts`. */
static int read_scripts(sr_conf_ctx *ctx, const sr_conf_item *it, void *field) {
    sr_integration_conf *ic =
        (sr_integration_conf *)((char *)field - offsetof(sr_integration_conf, scripts));
    return sr_config_read_scripts(ctx, it, &ic->scripts, &ic->script_entries, &ic->nscripts);
}

static void drop_scripts(void *field) {
    sr_integration_conf *ic =
        (sr_integration_conf *)((char *)field - offsetof(sr_integration_conf, scripts));
    sr_config_free_scripts(&ic->scripts, &ic->script_entries, &ic->nscripts);
}

static void print_scripts(sr_buf *out, const void *field) {
    const sr_integration_conf *ic =
        (const sr_integration_conf *)((const char *)field - offsetof(sr_integration_conf, scripts));
    sr_config_print_scripts(out, ic->scripts, ic->nscripts);
}

static const sr_conf_key batch_keys[] = {
    {.name = "max_events",
     .type = SR_CONF_INT,
     SR_CONF_AT(sr_integration_conf, max_events),
     .min = 1,
     .max = INT_MAX,
     .expected = "a positive integer",
     .doc_default = "the type's",
     .doc = "a positive integer"},
    {.name = "max_bytes",
     .type = SR_CONF_SIZE,
     SR_CONF_AT(sr_integration_conf, max_bytes),
     .max = LONG_MAX,
     .doc_default = "the type's",
     .doc = "a size above 0"},
    {.name = "linger",
     .type = SR_CONF_DURATION,
     .flags = SR_CONF_ZERO_OK,
     SR_CONF_AT(sr_integration_conf, linger_ms),
     .doc_default = "the type's",
     .doc = "a duration (0 allowed)"},
    /* Milliseconds as a plain number: the name the delivery docs and the
     * Lua modules' M.batch use. */
    {.name = "linger_ms",
     .type = SR_CONF_INT,
     SR_CONF_AT(sr_integration_conf, linger_ms),
     .min = 0,
     .max = INT_MAX,
     .expected = "milliseconds (0 or more)",
     .doc_default = "the type's",
     .doc = "the same in milliseconds, as a number"},
    {.name = NULL},
};

const sr_conf_key sr_integration_conf_keys[] = {
    {.name = "name",
     .type = SR_CONF_CUSTOM,
     SR_CONF_AT(sr_integration_conf, name),
     .apply = read_name,
     .drop = drop_name,
     .doc_default = "`<type in lower case>-<n>`",
     .doc = "unique (case-insensitively) across all files; letters, digits, `.`, `_`, `-`, "
            "starting with a letter or digit, at most 64 characters. It names the dead-letter "
            "file and appears in logs. `n` is the integration's 1-based position across all "
            "files (`splunk-1`, `webhook-3`)"},
    {.name = "type",
     .type = SR_CONF_CUSTOM,
     .apply = read_type,
     .drop = drop_type,
     .doc_default = "required",
     .doc = "`WEBHOOK`, `SPLUNK`, `FILE`, ... (letters, digits, `_`; any case, stored upper "
            "case); the module `lua/integrations/<type>.lua`"},
    {.name = "channels",
     .type = SR_CONF_CUSTOM,
     SR_CONF_AT(sr_integration_conf, channels),
     .apply = read_channels,
     .doc_default = "every channel the type supports",
     .doc = "`SECURE_EVENTS_POLICIES`, `ACTIVITY_AUDIT`, `PLATFORM_AUDIT`, `MONITOR_EVENTS` "
            "(`POLICY_EVENTS` and `SECURE_EVENTS_AUDIT_TRAIL` are accepted as Sysdig's other "
            "names); an empty list is an error"},
    {.name = "configuration",
     .type = SR_CONF_CUSTOM,
     SR_CONF_AT(sr_integration_conf, configuration),
     .apply = read_configuration,
     .doc = "a map of the type's options"},
    {.name = "enabled",
     .type = SR_CONF_BOOL,
     SR_CONF_AT(sr_integration_conf, enabled),
     .dflt = "true",
     .doc = "`false` keeps the integration configured (and checked) but idle"},
    {.name = "min_severity",
     .type = SR_CONF_CUSTOM,
     SR_CONF_AT(sr_integration_conf, min_severity),
     .apply = read_min_severity,
     .doc_default = "all",
     .doc = "forward events with severity ≤ this (0 is most severe): `0`–`7`, or Sysdig's "
            "labels `High` (3), `Medium` (5), `Low` (6), `Info` (7). Severity is a policy-event "
            "notion: platform audit records always say `severity: 0`, so this never holds them "
            "back; to keep audit apart, give it an integration of its own (`channels: "
            "[PLATFORM_AUDIT]`)"},
    {.name = "scripts",
     .type = SR_CONF_CUSTOM,
     SR_CONF_AT(sr_integration_conf, scripts),
     .apply = read_scripts,
     .print = print_scripts,
     .drop = drop_scripts,
     .doc_default = "none",
     .doc = "site scripts for this integration, run after the global ones (as `scripts:`)"},
    {.name = "batch", .type = SR_CONF_SECTION, .sub = batch_keys},
    {.name = "queue",
     .type = SR_CONF_SECTION,
     .flags = SR_CONF_LATE_DEFAULT,
     SR_CONF_AT(sr_integration_conf, queue),
     .sub = sr_queue_conf_keys,
     .doc_default = "the global `queue:`",
     .doc = "this integration's queue, key by key over the global one (`type`, `max_bytes`, "
            "`overflow`, `fsync`, `fsync_interval`, `segment_bytes`, `keep_events`)"},
    {.name = NULL},
};
