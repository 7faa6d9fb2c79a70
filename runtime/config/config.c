/* config.c - siemrelay's configuration: defaults, then each file's sections
 * applied on top, in order.
 *
 * Every section is a table of key handlers (key_spec). apply_map() walks a
 * map against its table: an unknown key is an error with a suggestion, a
 * key without a value (`key:` or `key: ~`) changes nothing, and everything
 * else goes to the handler, which converts the value or says what it
 * expected. Handlers write straight into the config, so a later file's
 * scalar simply overwrites an earlier one; integration lists append.
 *
 * The parsed documents stay in cfg->docs because each integration's
 * `configuration` points into them; it is checked later against the
 * type's Lua option schema, which knows its keys. */
#include "config.h"
#include "yaml_load.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event.h"
#include "log.h"

#define COMPONENT       "config"
#define MAX_WORKERS     1024
#define MAX_NAME_LEN    64
#define MAX_KEYS_IN_MAP 32 /* the largest key table, for suggestions */

typedef struct loader {
    sr_config *cfg;
    char *err;
    size_t errlen;
    size_t integrations_cap;
    int inputs_seen;         /* some file has an `inputs:` section */
    int http_seen, tcp_seen; /* ... naming this input */
} loader;

/* One key of a map, as a handler sees it. */
typedef struct item {
    const char *key; /* as written */
    const char *file;
    int line; /* the key's line */
    const sr_node *v;
} item;

typedef int (*key_fn)(loader *ld, const item *it, void *target);

typedef struct key_spec {
    const char *name;
    key_fn apply;
} key_spec;

/* ---- Errors ------------------------------------------------------------- */

static int fail(loader *ld, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes "FILE:LINE: message" and returns -1. */
static int fail(loader *ld, const char *file, int line, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(ld->err, ld->errlen, "%s:%d: %s", file ? file : "?", line, msg);
    return -1;
}

static int out_of_memory(loader *ld, const item *it) {
    return fail(ld, it->file, it->line, "out of memory");
}

/* "key 'K': expected WHAT, got 'VALUE'" at the key's line. Long values are
 * cut; `secret` values are never shown. */
static int wrong_value(loader *ld, const item *it, const char *expected, int secret) {
    const sr_node *v = it->v;
    if (v->kind == SR_NODE_MAP)
        return fail(ld, it->file, it->line, "key '%s': expected %s, got a map", it->key, expected);
    if (v->kind == SR_NODE_SEQ)
        return fail(ld, it->file, it->line, "key '%s': expected %s, got a list", it->key, expected);
    if (secret)
        return fail(ld, it->file, it->line, "key '%s': expected %s", it->key, expected);
    return fail(ld, it->file, it->line, "key '%s': expected %s, got '%.64s%s'", it->key, expected,
                v->text, v->len > 64 ? "..." : "");
}

/* The same, for one element of a list value. */
static int wrong_element(loader *ld, const item *it, const sr_node *el, const char *expected) {
    item sub = {.key = it->key, .file = el->file, .line = el->line, .v = el};
    return wrong_value(ld, &sub, expected, 0);
}

/* ---- Walking maps ------------------------------------------------------- */

static const key_spec *find_spec(const key_spec *specs, const char *key) {
    for (const key_spec *s = specs; s->name; s++)
        if (strcasecmp(s->name, key) == 0)
            return s;
    return NULL;
}

static const char *suggest_key(const key_spec *specs, const char *key) {
    const char *names[MAX_KEYS_IN_MAP + 1];
    size_t n = 0;
    for (const key_spec *s = specs; s->name && n < MAX_KEYS_IN_MAP; s++)
        names[n++] = s->name;
    names[n] = NULL;
    return sr_suggest(key, names);
}

static int unknown_key(loader *ld, const sr_node *map, size_t k, const key_spec *specs) {
    const char *near = suggest_key(specs, map->keys[k]);
    if (near)
        return fail(ld, map->file, map->key_lines[k], "unknown key '%s' (did you mean '%s'?)",
                    map->keys[k], near);
    return fail(ld, map->file, map->key_lines[k], "unknown key '%s'", map->keys[k]);
}

/* `key:` and `key: ~` say nothing; a quoted "" does say something. */
static int is_unset(const sr_node *v) { return v->kind == SR_NODE_SCALAR && v->is_null; }

static int apply_map(loader *ld, const sr_node *map, const key_spec *specs, void *target) {
    for (size_t k = 0; k < map->n; k++) {
        const key_spec *spec = find_spec(specs, map->keys[k]);
        if (!spec)
            return unknown_key(ld, map, k, specs);
        item it = {map->keys[k], map->file, map->key_lines[k], map->items[k]};
        if (!is_unset(it.v) && spec->apply(ld, &it, target) != 0)
            return -1;
    }
    return 0;
}

/* Applies a section whose value must be a map. */
static int apply_section(loader *ld, const item *it, const key_spec *specs, void *target) {
    if (it->v->kind != SR_NODE_MAP)
        return wrong_value(ld, it, "a map", 0);
    return apply_map(ld, it->v, specs, target);
}

/* ---- Values ------------------------------------------------------------- */

static int get_bool(loader *ld, const item *it, int *out) {
    if (sr_node_bool(it->v, out) != 0)
        return wrong_value(ld, it, "true or false", 0);
    return 0;
}

static int get_int(loader *ld, const item *it, long long min, long long max, const char *expected,
                   long long *out) {
    if (sr_node_int(it->v, out) != 0 || *out < min)
        return wrong_value(ld, it, expected, 0);
    if (*out > max)
        return fail(ld, it->file, it->line, "key '%s': at most %lld, got %lld", it->key, max, *out);
    return 0;
}

static int get_size(loader *ld, const item *it, unsigned long long max, unsigned long long *out) {
    if (sr_node_size(it->v, out) != 0 || *out == 0 || *out > max)
        return wrong_value(ld, it, "a size such as 512, 64KiB or 16MiB (more than 0)", 0);
    return 0;
}

static int get_duration(loader *ld, const item *it, int zero_ok, unsigned long long *out) {
    if (sr_node_duration_ms(it->v, out) != 0 || (*out == 0 && !zero_ok) || *out > LONG_MAX)
        return wrong_value(ld, it,
                           zero_ok ? "a duration such as 250ms, 5s, 1m or 1h"
                                   : "a duration such as 250ms, 5s, 1m or 1h (more than 0)",
                           0);
    return 0;
}

/* Replaces *dst with the non-empty string value. */
static int set_string(loader *ld, const item *it, int secret, char **dst) {
    if (it->v->kind != SR_NODE_SCALAR || it->v->len == 0 || strlen(it->v->text) != it->v->len)
        return wrong_value(ld, it, "a non-empty string", secret);
    char *s = strdup(it->v->text);
    if (!s)
        return out_of_memory(ld, it);
    free(*dst);
    *dst = s;
    return 0;
}

static void free_strings(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Replaces the list at *dst with the value's strings: one string, or a list
 * of them. Later files replace lists rather than extend them, as Helm does. */
static int set_string_list(loader *ld, const item *it, char ***dst, size_t *ndst) {
    const sr_node *v = it->v;
    size_t n = v->kind == SR_NODE_SEQ ? v->n : 1;
    if (v->kind == SR_NODE_MAP)
        return wrong_value(ld, it, "a string or a list of strings", 0);
    char **list = calloc(n ? n : 1, sizeof *list);
    if (!list)
        return out_of_memory(ld, it);
    for (size_t i = 0; i < n; i++) {
        const sr_node *el = v->kind == SR_NODE_SEQ ? v->items[i] : v;
        if (el->kind != SR_NODE_SCALAR || el->len == 0) {
            wrong_element(ld, it, el, "a non-empty string");
            goto fail;
        }
        if (!(list[i] = strdup(el->text))) {
            out_of_memory(ld, it);
            goto fail;
        }
    }
    free_strings(*dst, *ndst);
    *dst = list;
    *ndst = n;
    return 0;
fail:
    free_strings(list, n);
    return -1;
}

/* The elements of a list of names (or a single name), one at a time. */
static size_t name_count(const sr_node *v) { return v->kind == SR_NODE_SEQ ? v->n : 1; }
static const sr_node *name_at(const sr_node *v, size_t i) {
    return v->kind == SR_NODE_SEQ ? v->items[i] : v;
}

/* ---- logging ------------------------------------------------------------ */

static int logging_level(loader *ld, const item *it, void *target) {
    sr_config *cfg = target;
    int level = it->v->kind == SR_NODE_SCALAR ? sr_log_level_parse(it->v->text) : -1;
    if (level < 0)
        return wrong_value(ld, it, "debug, info, warn or error", 0);
    cfg->log_level = level;
    return 0;
}

static int logging_format(loader *ld, const item *it, void *target) {
    sr_config *cfg = target;
    int format = it->v->kind == SR_NODE_SCALAR ? sr_log_format_parse(it->v->text) : -1;
    if (format < 0)
        return wrong_value(ld, it, "text or json", 0);
    cfg->log_format = format;
    return 0;
}

static const key_spec logging_keys[] = {
    {"level", logging_level},
    {"format", logging_format},
    {NULL, NULL},
};

static int top_logging(loader *ld, const item *it, void *target) {
    return apply_section(ld, it, logging_keys, target);
}

/* ---- workers, paths, scripts -------------------------------------------- */

static int top_workers(loader *ld, const item *it, void *target) {
    sr_config *cfg = target;
    long long n;
    if (get_int(ld, it, 0, MAX_WORKERS, "a non-negative integer", &n) != 0)
        return -1;
    cfg->workers = (int)n;
    return 0;
}

static int top_data_dir(loader *ld, const item *it, void *target) {
    return set_string(ld, it, 0, &((sr_config *)target)->data_dir);
}

static int top_lua_dir(loader *ld, const item *it, void *target) {
    return set_string(ld, it, 0, &((sr_config *)target)->lua_dir);
}

static int top_integration_paths(loader *ld, const item *it, void *target) {
    sr_config *cfg = target;
    return set_string_list(ld, it, &cfg->integration_paths, &cfg->nintegration_paths);
}

static int top_scripts(loader *ld, const item *it, void *target) {
    sr_config *cfg = target;
    return set_string_list(ld, it, &cfg->scripts, &cfg->nscripts);
}

static int top_script_timeout(loader *ld, const item *it, void *target) {
    return get_duration(ld, it, 0, &((sr_config *)target)->script_timeout_ms);
}

/* ---- inputs ------------------------------------------------------------- */

int sr_parse_listen(const char *s, char **host, int *port) {
    const char *host_start = s, *host_end, *p;
    if (*s == '[') {
        host_start = s + 1;
        host_end = strchr(host_start, ']');
        if (!host_end || host_end[1] != ':')
            return -1;
        p = host_end + 2;
    } else {
        host_end = strrchr(s, ':');
        if (!host_end || memchr(s, ':', (size_t)(host_end - s)))
            return -1; /* no port, or an IPv6 address without brackets */
        p = host_end + 1;
    }
    if (host_end == host_start || strlen(p) > 5)
        return -1;
    long v = 0;
    for (const char *d = p; *d; d++) {
        if (!isdigit((unsigned char)*d))
            return -1;
        v = v * 10 + (*d - '0');
    }
    if (!*p || v < 1 || v > 65535)
        return -1;
    char *h = strndup(host_start, (size_t)(host_end - host_start));
    if (!h)
        return -1;
    free(*host);
    *host = h;
    *port = (int)v;
    return 0;
}

static int input_enabled(loader *ld, const item *it, void *target) {
    return get_bool(ld, it, &((sr_input_conf *)target)->enabled);
}

static int input_listen(loader *ld, const item *it, void *target) {
    sr_input_conf *in = target;
    if (it->v->kind != SR_NODE_SCALAR || sr_parse_listen(it->v->text, &in->host, &in->port) != 0)
        return wrong_value(ld, it, "host:port such as 127.0.0.1:8080 or [::1]:8080 (port 1-65535)",
                           0);
    return 0;
}

static int input_max_body(loader *ld, const item *it, void *target) {
    return get_size(ld, it, ULLONG_MAX, &((sr_input_conf *)target)->max_body_bytes);
}

static int input_max_line(loader *ld, const item *it, void *target) {
    return get_size(ld, it, ULLONG_MAX, &((sr_input_conf *)target)->max_line_bytes);
}

static int input_token(loader *ld, const item *it, void *target) {
    return set_string(ld, it, 1, &((sr_input_conf *)target)->token);
}

static int input_idle_timeout(loader *ld, const item *it, void *target) {
    return get_duration(ld, it, 0, &((sr_input_conf *)target)->idle_timeout_ms);
}

static int tls_cert(loader *ld, const item *it, void *target) {
    return set_string(ld, it, 0, &((sr_tls_listen_conf *)target)->cert_file);
}

static int tls_key(loader *ld, const item *it, void *target) {
    return set_string(ld, it, 0, &((sr_tls_listen_conf *)target)->key_file);
}

static int tls_client_ca(loader *ld, const item *it, void *target) {
    return set_string(ld, it, 0, &((sr_tls_listen_conf *)target)->client_ca_file);
}

static int tls_require_client_cert(loader *ld, const item *it, void *target) {
    return get_bool(ld, it, &((sr_tls_listen_conf *)target)->require_client_cert);
}

/* The *_file spellings match the field names (and docs/inputs.md). */
static const key_spec tls_keys[] = {
    {"cert", tls_cert},
    {"key", tls_key},
    {"client_ca", tls_client_ca},
    {"require_client_cert", tls_require_client_cert},
    {"cert_file", tls_cert},
    {"key_file", tls_key},
    {"client_ca_file", tls_client_ca},
    {NULL, NULL},
};

/* Both spellings of one setting in one map is a mistake, not an override. */
static int tls_aliases_once(loader *ld, const sr_node *map) {
    static const char *const pairs[][2] = {
        {"cert", "cert_file"}, {"key", "key_file"}, {"client_ca", "client_ca_file"}};
    for (size_t i = 0; i < 3; i++) {
        int a = sr_node_index(map, pairs[i][0]), b = sr_node_index(map, pairs[i][1]);
        if (a < 0 || b < 0)
            continue;
        int first = a < b ? a : b, second = a < b ? b : a;
        return fail(ld, map->file, map->key_lines[second],
                    "key '%s' sets '%s' again (already set on line %d)", map->keys[second],
                    pairs[i][0], map->key_lines[first]);
    }
    return 0;
}

/* Checked on the merged result, so a later file may add to an earlier
 * file's TLS settings (a CA, say) without repeating them. */
static int input_tls(loader *ld, const item *it, void *target) {
    sr_tls_listen_conf *tls = &((sr_input_conf *)target)->tls;
    if (it->v->kind == SR_NODE_MAP && tls_aliases_once(ld, it->v) != 0)
        return -1;
    if (apply_section(ld, it, tls_keys, tls) != 0)
        return -1;
    if (tls->cert_file && !tls->key_file)
        return fail(ld, it->file, it->line, "key '%s': 'cert' needs 'key' (the private key file)",
                    it->key);
    if (tls->key_file && !tls->cert_file)
        return fail(ld, it->file, it->line, "key '%s': 'key' needs 'cert' (the certificate file)",
                    it->key);
    if (tls->client_ca_file && !tls->cert_file)
        return fail(ld, it->file, it->line,
                    "key '%s': 'client_ca' needs 'cert' and 'key': client certificates are "
                    "only checked over TLS",
                    it->key);
    if (tls->require_client_cert && !tls->client_ca_file)
        return fail(ld, it->file, it->line,
                    "key '%s': 'require_client_cert' needs 'client_ca' to verify them against",
                    it->key);
    return 0;
}

static const key_spec http_keys[] = {
    {"enabled", input_enabled},
    {"listen", input_listen},
    {"max_body", input_max_body},
    {"token", input_token},
    {"idle_timeout", input_idle_timeout},
    {"tls", input_tls},
    {NULL, NULL},
};

static const key_spec tcp_keys[] = {
    {"enabled", input_enabled},           {"listen", input_listen}, {"max_line", input_max_line},
    {"idle_timeout", input_idle_timeout}, {"tls", input_tls},       {NULL, NULL},
};

static int inputs_http(loader *ld, const item *it, void *target) {
    ld->http_seen = 1;
    return apply_section(ld, it, http_keys, &((sr_config *)target)->http);
}

static int inputs_tcp(loader *ld, const item *it, void *target) {
    ld->tcp_seen = 1;
    return apply_section(ld, it, tcp_keys, &((sr_config *)target)->tcp);
}

static const key_spec inputs_keys[] = {
    {"http", inputs_http},
    {"tcp", inputs_tcp},
    {NULL, NULL},
};

static int top_inputs(loader *ld, const item *it, void *target) {
    ld->inputs_seen = 1;
    return apply_section(ld, it, inputs_keys, target);
}

/* ---- local_forwarder / localForwarder ----------------------------------- */

/* Sysdig's agent also knows AUDIT_TAP, which has no data here. */
static const char *const msg_type_names[] = {"POLICY_EVENTS", "SECURE_AUDIT", "MONITOR_EVENTS",
                                             "AUDIT_TAP", NULL};

static int forwarder_enabled(loader *ld, const item *it, void *target) {
    return get_bool(ld, it, &((sr_config *)target)->forwarder_enabled);
}

/* Replaces the mask: listing types is choosing them. */
static int forwarder_types(loader *ld, const item *it, void *target) {
    sr_config *cfg = target;
    unsigned mask = 0;
    if (it->v->kind == SR_NODE_MAP)
        return wrong_value(ld, it, "a list of message types", 0);
    for (size_t i = 0; i < name_count(it->v); i++) {
        const sr_node *el = name_at(it->v, i);
        if (el->kind != SR_NODE_SCALAR)
            return wrong_element(ld, it, el, "a message type name");
        unsigned bit = sr_msg_type_parse(el->text);
        if (!bit && strcasecmp(el->text, "AUDIT_TAP") == 0) {
            sr_warn(COMPONENT, "%s:%d: AUDIT_TAP has no data in siemrelay; ignored", el->file,
                    el->line);
            continue;
        }
        if (!bit) {
            const char *near = sr_suggest(el->text, msg_type_names);
            return fail(ld, el->file, el->line, "key '%s': unknown message type '%.64s'%s%s%s",
                        it->key, el->text, near ? " (did you mean '" : "", near ? near : "",
                        near ? "'?)" : "");
        }
        mask |= bit;
    }
    cfg->transmit_message_types = mask;
    return 0;
}

static const key_spec local_forwarder_keys[] = {
    {"enabled", forwarder_enabled},
    {"transmit_message_types", forwarder_types},
    {NULL, NULL},
};

static int top_local_forwarder(loader *ld, const item *it, void *target) {
    return apply_section(ld, it, local_forwarder_keys, target);
}

static int ignored(loader *ld, const item *it, void *target) {
    (void)ld, (void)target;
    sr_debug(COMPONENT, "%s:%d: '%s' is for the Sysdig chart; ignored", it->file, it->line,
             it->key);
    return 0;
}

static int top_integrations(loader *ld, const item *it, void *target);

static const key_spec helm_keys[] = {
    {"enabled", forwarder_enabled},
    {"transmitMessageTypes", forwarder_types},
    {"integrations", top_integrations},
    {"existingSecretName", ignored},
    {NULL, NULL},
};

static int top_helm_forwarder(loader *ld, const item *it, void *target) {
    return apply_section(ld, it, helm_keys, target);
}

/* ---- integrations ------------------------------------------------------- */

static void integration_free(sr_integration_conf *ic) {
    free(ic->name);
    free(ic->type);
    free_strings(ic->scripts, ic->nscripts);
    memset(ic, 0, sizeof *ic);
}

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

static int integ_name(loader *ld, const item *it, void *target) {
    sr_integration_conf *ic = target;
    if (it->v->kind != SR_NODE_SCALAR || !valid_name(it->v->text))
        return wrong_value(ld, it,
                           "a name of letters, digits, '.', '_' and '-' (starting with a letter "
                           "or digit, at most 64)",
                           0);
    return set_string(ld, it, 0, &ic->name);
}

static int integ_type(loader *ld, const item *it, void *target) {
    sr_integration_conf *ic = target;
    const sr_node *v = it->v;
    int ok = v->kind == SR_NODE_SCALAR && v->len > 0 && v->len <= MAX_NAME_LEN;
    for (size_t i = 0; ok && i < v->len; i++)
        ok = isalnum((unsigned char)v->text[i]) || v->text[i] == '_';
    if (!ok)
        return wrong_value(ld, it, "an integration type such as WEBHOOK or SPLUNK", 0);
    if (set_string(ld, it, 0, &ic->type) != 0)
        return -1;
    for (char *c = ic->type; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    ic->type_line = v->line;
    return 0;
}

static const char *const channel_names[] = {"SECURE_EVENTS_POLICIES", "ACTIVITY_AUDIT",
                                            "PLATFORM_AUDIT", "MONITOR_EVENTS", NULL};

static int integ_channels(loader *ld, const item *it, void *target) {
    sr_integration_conf *ic = target;
    unsigned mask = 0;
    if (it->v->kind == SR_NODE_MAP || (it->v->kind == SR_NODE_SEQ && it->v->n == 0))
        return wrong_value(ld, it, "a list of channels (leave it out for every channel)", 0);
    for (size_t i = 0; i < name_count(it->v); i++) {
        const sr_node *el = name_at(it->v, i);
        if (el->kind != SR_NODE_SCALAR)
            return wrong_element(ld, it, el, "a channel name");
        unsigned bit = sr_channel_parse(el->text);
        if (!bit) {
            const char *near = sr_suggest(el->text, channel_names);
            return fail(ld, el->file, el->line, "key '%s': unknown channel '%.64s'%s%s%s", it->key,
                        el->text, near ? " (did you mean '" : "", near ? near : "",
                        near ? "'?)" : "");
        }
        mask |= bit;
    }
    ic->channels = mask;
    return 0;
}

static int integ_configuration(loader *ld, const item *it, void *target) {
    if (it->v->kind != SR_NODE_MAP)
        return wrong_value(ld, it, "a map of the type's options", 0);
    ((sr_integration_conf *)target)->configuration = (sr_node *)it->v;
    return 0;
}

static int integ_enabled(loader *ld, const item *it, void *target) {
    return get_bool(ld, it, &((sr_integration_conf *)target)->enabled);
}

/* Sysdig's severity labels name the least severe value of their band. */
static int integ_min_severity(loader *ld, const item *it, void *target) {
    static const struct {
        const char *label;
        int severity;
    } labels[] = {{"High", 3}, {"Medium", 5}, {"Low", 6}, {"Info", 7}};
    sr_integration_conf *ic = target;
    long long n;
    if (sr_node_int(it->v, &n) == 0 && n >= 0 && n <= 7) {
        ic->min_severity = (int)n;
        return 0;
    }
    for (size_t i = 0; it->v->kind == SR_NODE_SCALAR && i < 4; i++) {
        if (strcasecmp(it->v->text, labels[i].label) == 0) {
            ic->min_severity = labels[i].severity;
            return 0;
        }
    }
    return wrong_value(ld, it, "a severity 0-7 or High, Medium, Low or Info", 0);
}

static int integ_scripts(loader *ld, const item *it, void *target) {
    sr_integration_conf *ic = target;
    return set_string_list(ld, it, &ic->scripts, &ic->nscripts);
}

static int batch_max_events(loader *ld, const item *it, void *target) {
    long long n;
    if (get_int(ld, it, 1, INT_MAX, "a positive integer", &n) != 0)
        return -1;
    ((sr_integration_conf *)target)->max_events = (long)n;
    return 0;
}

static int batch_max_bytes(loader *ld, const item *it, void *target) {
    unsigned long long n;
    if (get_size(ld, it, LONG_MAX, &n) != 0)
        return -1;
    ((sr_integration_conf *)target)->max_bytes = (long)n;
    return 0;
}

static int batch_linger(loader *ld, const item *it, void *target) {
    unsigned long long ms;
    if (get_duration(ld, it, 1, &ms) != 0)
        return -1;
    ((sr_integration_conf *)target)->linger_ms = (long)ms;
    return 0;
}

/* Milliseconds as a plain number: the name the delivery docs and the Lua
 * modules' M.batch use. */
static int batch_linger_ms(loader *ld, const item *it, void *target) {
    long long n;
    if (get_int(ld, it, 0, INT_MAX, "milliseconds (0 or more)", &n) != 0)
        return -1;
    ((sr_integration_conf *)target)->linger_ms = (long)n;
    return 0;
}

static const key_spec batch_keys[] = {
    {"max_events", batch_max_events},
    {"max_bytes", batch_max_bytes},
    {"linger", batch_linger},
    {"linger_ms", batch_linger_ms},
    {NULL, NULL},
};

static int integ_batch(loader *ld, const item *it, void *target) {
    return apply_section(ld, it, batch_keys, target);
}

/* ---- queue / delivery / admin ------------------------------------------ */

static int queue_type(loader *ld, const item *it, void *target) {
    sr_queue_conf *q = target;
    if (it->v->kind == SR_NODE_SCALAR && strcasecmp(it->v->text, "memory") == 0)
        q->type = SR_QUEUE_MEMORY;
    else if (it->v->kind == SR_NODE_SCALAR && strcasecmp(it->v->text, "disk") == 0)
        q->type = SR_QUEUE_DISK;
    else
        return wrong_value(ld, it, "memory or disk", 0);
    return 0;
}

static int queue_max_bytes(loader *ld, const item *it, void *target) {
    if (get_size(ld, it, ULLONG_MAX, &((sr_queue_conf *)target)->max_bytes) != 0)
        return -1;
    if (((sr_queue_conf *)target)->max_bytes == 0)
        return wrong_value(ld, it, "a size above zero such as 64MiB", 0);
    return 0;
}

static int queue_segment_bytes(loader *ld, const item *it, void *target) {
    if (get_size(ld, it, ULLONG_MAX, &((sr_queue_conf *)target)->segment_bytes) != 0)
        return -1;
    if (((sr_queue_conf *)target)->segment_bytes == 0)
        return wrong_value(ld, it, "a size above zero such as 64MiB", 0);
    return 0;
}

static int queue_overflow(loader *ld, const item *it, void *target) {
    sr_queue_conf *q = target;
    if (it->v->kind == SR_NODE_SCALAR && strcasecmp(it->v->text, "block") == 0)
        q->overflow = SR_OVERFLOW_BLOCK;
    else if (it->v->kind == SR_NODE_SCALAR && strcasecmp(it->v->text, "drop_oldest") == 0)
        q->overflow = SR_OVERFLOW_DROP_OLDEST;
    else
        return wrong_value(ld, it, "block or drop_oldest", 0);
    return 0;
}

static int queue_fsync(loader *ld, const item *it, void *target) {
    static const char *const names[] = {"always", "interval", "never"};
    sr_queue_conf *q = target;
    for (int i = 0; i < 3 && it->v->kind == SR_NODE_SCALAR; i++)
        if (strcasecmp(it->v->text, names[i]) == 0) {
            q->fsync = (sr_fsync_conf)(SR_FSYNC_CONF_ALWAYS + i);
            return 0;
        }
    return wrong_value(ld, it, "always, interval or never", 0);
}

static int queue_fsync_interval(loader *ld, const item *it, void *target) {
    return get_duration(ld, it, 0, &((sr_queue_conf *)target)->fsync_interval_ms);
}

static const key_spec queue_keys[] = {
    {"type", queue_type},
    {"max_bytes", queue_max_bytes},
    {"overflow", queue_overflow},
    {"fsync", queue_fsync},
    {"fsync_interval", queue_fsync_interval},
    {"segment_bytes", queue_segment_bytes},
    {NULL, NULL},
};

static int integ_queue(loader *ld, const item *it, void *target) {
    return apply_section(ld, it, queue_keys, &((sr_integration_conf *)target)->queue);
}

static int top_queue(loader *ld, const item *it, void *target) {
    return apply_section(ld, it, queue_keys, &((sr_config *)target)->queue);
}

static int delivery_max_attempts(loader *ld, const item *it, void *target) {
    long long n;
    if (get_int(ld, it, 1, 100, "an attempt count of at least 1", &n) != 0)
        return -1;
    ((sr_config *)target)->max_attempts = (unsigned)n;
    return 0;
}

static int delivery_backoff(loader *ld, const item *it, void *target) {
    return get_duration(ld, it, 0, &((sr_config *)target)->backoff_ms);
}

static int delivery_backoff_max(loader *ld, const item *it, void *target) {
    return get_duration(ld, it, 0, &((sr_config *)target)->backoff_max_ms);
}

static int delivery_inhibit(loader *ld, const item *it, void *target) {
    return get_duration(ld, it, 0, &((sr_config *)target)->inhibit_ms);
}

static int delivery_status_window(loader *ld, const item *it, void *target) {
    return get_duration(ld, it, 0, &((sr_config *)target)->status_window_ms);
}

static int delivery_shutdown_timeout(loader *ld, const item *it, void *target) {
    return get_duration(ld, it, 0, &((sr_config *)target)->shutdown_timeout_ms);
}

static const key_spec delivery_keys[] = {
    {"max_attempts", delivery_max_attempts},
    {"backoff", delivery_backoff},
    {"backoff_max", delivery_backoff_max},
    {"inhibit", delivery_inhibit},
    {"shutdown_timeout", delivery_shutdown_timeout},
    {"status_window", delivery_status_window},
    {NULL, NULL},
};

static int top_delivery(loader *ld, const item *it, void *target) {
    return apply_section(ld, it, delivery_keys, target);
}

static int admin_enabled(loader *ld, const item *it, void *target) {
    return get_bool(ld, it, &((sr_config *)target)->admin.enabled);
}

static int admin_listen(loader *ld, const item *it, void *target) {
    sr_config *cfg = target;
    if (it->v->kind != SR_NODE_SCALAR ||
        sr_parse_listen(it->v->text, &cfg->admin.host, &cfg->admin.port) != 0)
        return wrong_value(ld, it, "host:port such as 127.0.0.1:9090 (port 1-65535)", 0);
    return 0;
}

static void free_tokens(sr_admin_token_conf *t, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(t[i].name);
    free(t);
}

static int token_name(loader *ld, const item *it, void *target) {
    return set_string(ld, it, 0, &((sr_admin_token_conf *)target)->name);
}

static int token_role(loader *ld, const item *it, void *target) {
    sr_admin_token_conf *t = target;
    if (it->v->kind == SR_NODE_SCALAR && strcasecmp(it->v->text, "admin") == 0)
        t->role = SR_ROLE_ADMIN;
    else if (it->v->kind == SR_NODE_SCALAR && strcasecmp(it->v->text, "viewer") == 0)
        t->role = SR_ROLE_VIEWER;
    else
        return wrong_value(ld, it, "admin or viewer", 0);
    return 0;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The hash is not a secret, but a token pasted here by mistake is: a value
 * that is not a hash is never echoed. */
static int token_sha256(loader *ld, const item *it, void *target) {
    sr_admin_token_conf *t = target;
    const char *s = it->v->kind == SR_NODE_SCALAR ? it->v->text : "";
    if (strlen(s) != 64)
        goto bad;
    for (int i = 0; i < 32; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            goto bad;
        t->sha256[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
bad:
    return wrong_value(ld, it,
                       "the token's SHA-256 as 64 hex digits (printf %s TOKEN | sha256sum, or "
                       "siemrelay hash-token); never the token itself",
                       1);
}

static const key_spec token_keys[] = {
    {"name", token_name},
    {"role", token_role},
    {"sha256", token_sha256},
    {NULL, NULL},
};

/* `tokens:` replaces an earlier file's list as a whole. */
static int admin_tokens(loader *ld, const item *it, void *target) {
    sr_config *cfg = target;
    const sr_node *v = it->v;
    if (v->kind != SR_NODE_SEQ)
        return wrong_value(ld, it, "a list of {name, role, sha256}", 0);
    sr_admin_token_conf *list = calloc(v->n ? v->n : 1, sizeof *list);
    if (!list)
        return out_of_memory(ld, it);
    for (size_t i = 0; i < v->n; i++) {
        const sr_node *el = v->items[i];
        if (el->kind != SR_NODE_MAP) {
            wrong_element(ld, it, el, "a token (a map with name, role and sha256)");
            goto fail;
        }
        if (apply_map(ld, el, token_keys, &list[i]) != 0)
            goto fail;
        const char *missing = !list[i].name ? "name" : !list[i].role ? "role" : NULL;
        const sr_node *hash = sr_node_get(el, "sha256");
        if (!missing && (!hash || is_unset(hash)))
            missing = "sha256";
        if (missing) {
            fail(ld, el->file, el->line, "key '%s': a token is missing required key '%s'", it->key,
                 missing);
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(list[j].name, list[i].name) == 0) {
                fail(ld, el->file, el->line, "key '%s': token name '%s' is used twice", it->key,
                     list[i].name);
                goto fail;
            }
    }
    free_tokens(cfg->admin.tokens, cfg->admin.ntokens);
    cfg->admin.tokens = list;
    cfg->admin.ntokens = v->n;
    return 0;
fail:
    free_tokens(list, v->n);
    return -1;
}

static const key_spec admin_keys[] = {
    {"enabled", admin_enabled},
    {"listen", admin_listen},
    {"tokens", admin_tokens},
    {NULL, NULL},
};

static int top_admin(loader *ld, const item *it, void *target) {
    return apply_section(ld, it, admin_keys, target);
}

static const key_spec integration_keys[] = {
    {"name", integ_name},         {"type", integ_type},
    {"channels", integ_channels}, {"configuration", integ_configuration},
    {"enabled", integ_enabled},   {"min_severity", integ_min_severity},
    {"scripts", integ_scripts},   {"batch", integ_batch},
    {"queue", integ_queue},       {NULL, NULL},
};

static int default_name(sr_integration_conf *ic, size_t position) {
    char name[MAX_NAME_LEN + 32];
    snprintf(name, sizeof name, "%s-%zu", ic->type, position);
    for (char *c = name; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return (ic->name = strdup(name)) ? 0 : -1;
}

static const sr_integration_conf *find_integration(const sr_config *cfg, const char *name) {
    for (size_t i = 0; i < cfg->nintegrations; i++)
        if (strcasecmp(cfg->integrations[i].name, name) == 0)
            return &cfg->integrations[i];
    return NULL;
}

static int append_integration(loader *ld, sr_integration_conf *ic) {
    sr_config *cfg = ld->cfg;
    if (cfg->nintegrations == ld->integrations_cap) {
        size_t cap = ld->integrations_cap ? ld->integrations_cap * 2 : 8;
        sr_integration_conf *v = realloc(cfg->integrations, cap * sizeof *v);
        if (!v)
            return -1;
        cfg->integrations = v;
        ld->integrations_cap = cap;
    }
    cfg->integrations[cfg->nintegrations++] = *ic;
    return 0;
}

/* Reads one `integrations:` element and appends it. */
static int add_integration(loader *ld, const sr_node *map) {
    sr_integration_conf ic = {
        .min_severity = SR_SEVERITY_NONE,
        .enabled = 1,
        .max_events = -1,
        .max_bytes = -1,
        .linger_ms = -1,
        .file = map->file,
        .line = map->line,
    };
    if (apply_map(ld, map, integration_keys, &ic) != 0)
        goto fail;
    if (!ic.type) {
        fail(ld, map->file, map->line, "integration is missing required key 'type'");
        goto fail;
    }
    if (!ic.name && default_name(&ic, ld->cfg->nintegrations + 1) != 0) {
        fail(ld, map->file, map->line, "out of memory");
        goto fail;
    }
    const sr_integration_conf *other = find_integration(ld->cfg, ic.name);
    if (other) {
        fail(ld, map->file, map->line,
             "integration name '%s' is already used by the integration at %s:%d", ic.name,
             other->file, other->line);
        goto fail;
    }
    if (append_integration(ld, &ic) != 0) {
        fail(ld, map->file, map->line, "out of memory");
        goto fail;
    }
    return 0;
fail:
    integration_free(&ic);
    return -1;
}

static int top_integrations(loader *ld, const item *it, void *target) {
    (void)target;
    if (it->v->kind != SR_NODE_SEQ)
        return wrong_value(ld, it, "a list of integrations", 0);
    for (size_t i = 0; i < it->v->n; i++) {
        const sr_node *el = it->v->items[i];
        if (el->kind != SR_NODE_MAP)
            return wrong_element(ld, it, el, "an integration (a map with 'type')");
        if (add_integration(ld, el) != 0)
            return -1;
    }
    return 0;
}

/* ---- Top level ---------------------------------------------------------- */

static const key_spec top_keys[] = {
    {"logging", top_logging},
    {"workers", top_workers},
    {"data_dir", top_data_dir},
    {"lua_dir", top_lua_dir},
    {"integration_paths", top_integration_paths},
    {"scripts", top_scripts},
    {"script_timeout", top_script_timeout},
    {"inputs", top_inputs},
    {"queue", top_queue},
    {"delivery", top_delivery},
    {"admin", top_admin},
    {"integrations", top_integrations},
    {"local_forwarder", top_local_forwarder},
    {"localForwarder", top_helm_forwarder},
    {NULL, NULL},
};

/* dragent.yaml and Helm values hold much besides the forwarder; those keys
 * belong to the agent. A near miss of one of ours is still worth a word,
 * since siemrelay's own sections are honoured in such a file. */
static void ignore_agent_key(const sr_node *root, size_t k) {
    const char *near = suggest_key(top_keys, root->keys[k]);
    if (near)
        sr_warn(COMPONENT, "%s:%d: ignoring Sysdig agent key '%s' (did you mean '%s'?)", root->file,
                root->key_lines[k], root->keys[k], near);
    else
        sr_debug(COMPONENT, "%s:%d: ignoring Sysdig agent key '%s'", root->file, root->key_lines[k],
                 root->keys[k]);
}

static int apply_document(loader *ld, const sr_node *root) {
    if (is_unset(root))
        return 0; /* an empty file */
    if (root->kind != SR_NODE_MAP)
        return fail(ld, root->file, root->line, "expected a map of settings at the top level");
    int agent_file =
        sr_node_index(root, "local_forwarder") >= 0 || sr_node_index(root, "localForwarder") >= 0;
    for (size_t k = 0; k < root->n; k++) {
        const key_spec *spec = find_spec(top_keys, root->keys[k]);
        if (!spec && agent_file) {
            ignore_agent_key(root, k);
            continue;
        }
        if (!spec)
            return unknown_key(ld, root, k, top_keys);
        item it = {root->keys[k], root->file, root->key_lines[k], root->items[k]};
        if (!is_unset(it.v) && spec->apply(ld, &it, ld->cfg) != 0)
            return -1;
    }
    return 0;
}

static int add_doc(sr_config *cfg, sr_node *doc) {
    sr_node **v = realloc(cfg->docs, (cfg->ndocs + 1) * sizeof *v);
    if (!v)
        return -1;
    cfg->docs = v;
    cfg->docs[cfg->ndocs++] = doc;
    return 0;
}

static int set_defaults(sr_config *cfg) {
    cfg->log_level = SR_LOG_INFO;
    cfg->log_format = SR_LOG_TEXT;
    cfg->script_timeout_ms = 200;
    cfg->forwarder_enabled = 1;
    cfg->transmit_message_types = SR_MT_POLICY_EVENTS | SR_MT_SECURE_AUDIT | SR_MT_MONITOR_EVENTS;
    cfg->http = (sr_input_conf){
        .enabled = 1, .port = 8080, .max_body_bytes = 16ull << 20, .idle_timeout_ms = 60000};
    cfg->tcp = (sr_input_conf){
        .enabled = 1, .port = 5140, .max_line_bytes = 1ull << 20, .idle_timeout_ms = 60000};
    cfg->max_attempts = 3;
    cfg->backoff_ms = 1000;
    cfg->backoff_max_ms = 30000;
    cfg->inhibit_ms = 300000;
    cfg->status_window_ms = 24ULL * 3600 * 1000;
    cfg->shutdown_timeout_ms = 10000;
    cfg->admin.enabled = 1;
    cfg->admin.port = 9090;
    cfg->admin.host = strdup("127.0.0.1");
    cfg->data_dir = strdup("./data");
    cfg->http.host = strdup("127.0.0.1");
    cfg->tcp.host = strdup("127.0.0.1");
    return cfg->data_dir && cfg->http.host && cfg->tcp.host && cfg->admin.host ? 0 : -1;
}

int sr_config_load(sr_config *cfg, const char *const *paths, size_t npaths, char *err,
                   size_t errlen) {
    loader ld = {.cfg = cfg, .err = err, .errlen = errlen};
    memset(cfg, 0, sizeof *cfg);
    if (set_defaults(cfg) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < npaths; i++) {
        sr_node *doc = sr_yaml_load_file(paths[i], err, errlen);
        if (!doc)
            return -1;
        if (add_doc(cfg, doc) != 0) {
            sr_node_free(doc);
            snprintf(err, errlen, "%s: out of memory", paths[i]);
            return -1;
        }
        if (apply_document(&ld, doc) != 0)
            return -1;
    }
    /* An `inputs:` section lists the inputs wanted: one it leaves out is off
     * (both are on only when no file says anything about inputs). */
    if (ld.inputs_seen) {
        cfg->http.enabled &= ld.http_seen;
        cfg->tcp.enabled &= ld.tcp_seen;
    }
    return 0;
}

static void free_input(sr_input_conf *in) {
    free(in->host);
    free(in->token);
    free(in->tls.cert_file);
    free(in->tls.key_file);
    free(in->tls.client_ca_file);
}

void sr_config_free(sr_config *cfg) {
    if (!cfg)
        return;
    free(cfg->data_dir);
    free(cfg->lua_dir);
    free_strings(cfg->integration_paths, cfg->nintegration_paths);
    free_strings(cfg->scripts, cfg->nscripts);
    free_input(&cfg->http);
    free_input(&cfg->tcp);
    free(cfg->admin.host);
    free_tokens(cfg->admin.tokens, cfg->admin.ntokens);
    for (size_t i = 0; i < cfg->nintegrations; i++)
        integration_free(&cfg->integrations[i]);
    free(cfg->integrations);
    for (size_t i = 0; i < cfg->ndocs; i++)
        sr_node_free(cfg->docs[i]);
    free(cfg->docs);
    memset(cfg, 0, sizeof *cfg);
}
