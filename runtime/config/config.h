/* config.h - siemrelay's configuration: its own sections plus Sysdig's
 * local-forwarder formats, read from one or more YAML files.
 *
 * Accepted, in any of the files given with -c (later files win for scalars;
 * integration lists are concatenated):
 *   - siemrelay's sections: logging, workers, data_dir, lua_dir,
 *     integration_paths, scripts, script_timeout, inputs, integrations;
 *   - Sysdig's local_forwarder_config.yaml (a top-level `integrations:` list
 *     of {type, channels, configuration}), verbatim;
 *   - dragent.yaml's `local_forwarder: {enabled, transmit_message_types}`;
 *   - Helm's `localForwarder: {enabled, transmitMessageTypes, integrations}`.
 *   A file holding `local_forwarder` or `localForwarder` is a Sysdig agent
 *   file: its other top-level keys belong to the agent and are ignored.
 *
 * Keys are matched ASCII case-insensitively. An unknown key is an error that
 * names file, line and key and suggests the closest known key. Integration
 * `configuration` blocks are kept as trees here and checked later against the
 * type's Lua option schema (see lua_host.h), which knows their keys. */
#ifndef SR_CONFIG_H
#define SR_CONFIG_H

#include <stddef.h>

#include "admin.h"
#include "admin_auth.h"
#include "buf.h"
#include "conf_table.h"
#include "delivery.h"
#include "ingest.h"
#include "input_kafka.h"
#include "node.h"
#include "queue.h"
#include "tls_stream.h"

/* Every key, its default and its documentation live in the tables of
 * config_keys.c (and of the owners' sections they include): see
 * conf_table.h. */
typedef struct sr_config {
    int log_level;            /* sr_log_level */
    int log_format;           /* sr_log_format */
    int workers;              /* 0 = one per CPU core */
    char *data_dir;           /* dead letters, spools, states */
    char *user, *group;       /* run as, once the listeners are bound; NULL: stay */
    char *lua_dir;            /* the lua/ tree; NULL = built-in default */
    char **integration_paths; /* extra directories searched for <type>.lua */
    size_t nintegration_paths;
    char **scripts; /* global site scripts, in order */
    size_t nscripts;
    const sr_node **script_entries;            /* each as written: a path, or {path, params} */
    unsigned long long script_timeout_ms;      /* per event */
    unsigned long long script_load_timeout_ms; /* loading a Lua state */
    size_t script_memory_limit;                /* bytes per Lua state */
    int script_runaway_limit;                  /* 0: scripts are never disabled */
    unsigned long long script_runaway_window_ms;
    int script_sandbox;              /* every site script sandboxed */
    int forwarder_enabled;           /* local_forwarder.enabled */
    unsigned transmit_message_types; /* SR_MT_* mask */
    sr_input_conf http;
    sr_input_conf tcp;
    sr_kafka_input_conf kafka; /* inputs.kafka */
    sr_queue_conf queue;       /* `queue:` defaults for every integration (zero: unset) */
    sr_delivery_conf delivery; /* `delivery:` (data_dir and queue_defaults unused here) */
    sr_admin_conf admin;       /* `admin:` the admin API listener */
    sr_integration_conf *integrations;
    size_t nintegrations;
    sr_node **docs; /* the parsed files, kept for their nodes */
    size_t ndocs;
} sr_config;

/* The top-level keys and those of one `integrations:` element. */
extern const sr_conf_key sr_config_keys[];
extern const sr_conf_key sr_integration_conf_keys[];

/* Loads and merges `paths` in order. On error returns -1 and writes a
 * message of the form "FILE:LINE: key 'x': what is wrong" into err. The
 * config is zeroed first and must be freed with sr_config_free either way. */
int sr_config_load(sr_config *cfg, const char *const *paths, size_t npaths, char *err,
                   size_t errlen);
void sr_config_free(sr_config *cfg);

/* The effective settings (but the integrations) as one JSON object, secrets
 * masked, queue defaults resolved: what `--check` prints. */
void sr_config_print_settings(const sr_config *cfg, sr_buf *out);

/* docs/configuration.md's two key tables (the top-level keys, an
 * integration's keys), header rows included, separated by a blank line. */
void sr_config_reference(sr_buf *out);

#endif
