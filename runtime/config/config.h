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

#include "admin_auth.h"
#include "delivery.h"
#include "ingest.h"
#include "node.h"
#include "queue.h"
#include "tls_stream.h"

typedef struct sr_config {
    int log_level;            /* sr_log_level */
    int log_format;           /* sr_log_format */
    int workers;              /* 0 = one per CPU core */
    char *data_dir;           /* dead letters and (later) spools; default "./data" */
    char *lua_dir;            /* the lua/ tree; NULL = built-in default */
    char **integration_paths; /* extra directories searched for <type>.lua */
    size_t nintegration_paths;
    char **scripts; /* global site scripts, in order */
    size_t nscripts;
    unsigned long long script_timeout_ms; /* per event; default 200 */
    int forwarder_enabled;                /* local_forwarder.enabled; default 1 */
    unsigned transmit_message_types;      /* SR_MT_* mask; default all */
    sr_input_conf http;
    sr_input_conf tcp;
    sr_queue_conf queue; /* `queue:` defaults for every integration */
    /* `delivery:` */
    unsigned max_attempts;                  /* default 3 */
    unsigned long long backoff_ms;          /* default 1 s */
    unsigned long long backoff_max_ms;      /* default 30 s */
    unsigned long long inhibit_ms;          /* default 5 min */
    unsigned long long status_window_ms;    /* Warning -> Connected; default 24 h */
    unsigned long long shutdown_timeout_ms; /* flush deadline on SIGTERM; default 10 s */
    /* `admin:` the admin API listener */
    struct {
        int enabled;                 /* default 1 */
        char *host;                  /* default "127.0.0.1" */
        int port;                    /* default 9090 */
        sr_admin_token_conf *tokens; /* `tokens:` (replaced as a whole by a later file) */
        size_t ntokens;
    } admin;
    sr_integration_conf *integrations;
    size_t nintegrations;
    sr_node **docs; /* the parsed files, kept for their nodes */
    size_t ndocs;
} sr_config;

/* Splits "host:port" or "[v6 address]:port" (port 1-65535); *host is
 * replaced by a malloc'd copy. Returns 0 or -1. */
int sr_parse_listen(const char *s, char **host, int *port);

/* Loads and merges `paths` in order. On error returns -1 and writes a
 * message of the form "FILE:LINE: key 'x': what is wrong" into err. The
 * config is zeroed first and must be freed with sr_config_free either way. */
int sr_config_load(sr_config *cfg, const char *const *paths, size_t npaths, char *err,
                   size_t errlen);
void sr_config_free(sr_config *cfg);

#endif
