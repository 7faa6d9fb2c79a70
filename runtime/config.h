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

#include "node.h"

typedef struct sr_tls_listen_conf {
    char *cert_file; /* NULL: plain TCP */
    char *key_file;
    char *client_ca_file;    /* verify client certificates against this CA */
    int require_client_cert; /* 1: handshake fails without a valid client cert */
} sr_tls_listen_conf;

/* `queue:`, globally (defaults for every integration) and per integration
 * (overriding the global one key by key). Zero values mean "not set". */
typedef enum { SR_QUEUE_UNSET, SR_QUEUE_MEMORY, SR_QUEUE_DISK } sr_queue_type;
typedef enum { SR_OVERFLOW_UNSET, SR_OVERFLOW_BLOCK, SR_OVERFLOW_DROP_OLDEST } sr_overflow_policy;
typedef enum {
    SR_FSYNC_UNSET,
    SR_FSYNC_CONF_ALWAYS,
    SR_FSYNC_CONF_INTERVAL,
    SR_FSYNC_CONF_NEVER
} sr_fsync_conf;

typedef struct sr_queue_conf {
    sr_queue_type type;                   /* default memory */
    unsigned long long max_bytes;         /* default 64 MiB (memory), 1 GiB (disk) */
    sr_overflow_policy overflow;          /* default block */
    sr_fsync_conf fsync;                  /* disk; default always */
    unsigned long long fsync_interval_ms; /* disk, fsync interval; default 1000 */
    unsigned long long segment_bytes;     /* disk; default 64 MiB */
} sr_queue_conf;

/* Fills what `integ` leaves unset from `global`, then the defaults. */
void sr_queue_conf_resolve(const sr_queue_conf *global, const sr_queue_conf *integ,
                           sr_queue_conf *out);

/* One `admin.tokens` entry: who presents a bearer token, with what role.
 * Only the token's SHA-256 is configured (and kept). */
typedef enum { SR_ROLE_NONE, SR_ROLE_VIEWER, SR_ROLE_ADMIN } sr_admin_role;

typedef struct sr_admin_token_conf {
    char *name;               /* who, for logs and the audit trail */
    sr_admin_role role;       /* viewer: reads; admin: reads and writes */
    unsigned char sha256[32]; /* of the token */
} sr_admin_token_conf;

typedef struct sr_integration_conf {
    char *name;             /* `name:`, or "<type in lower case>-<n>" */
    char *type;             /* upper case, e.g. "WEBHOOK" */
    unsigned channels;      /* SR_CH_* mask; 0 = every channel the type supports */
    int min_severity;       /* forward only severity <= this (0 most severe); -1 = all */
    int enabled;            /* `enabled: false` keeps it configured but idle */
    sr_node *configuration; /* the `configuration:` map (owned by cfg->docs), or NULL */
    char **scripts;         /* per-integration site scripts, run after the global ones */
    size_t nscripts;
    long max_events, max_bytes, linger_ms; /* `batch:` overrides; -1 = type default */
    sr_queue_conf queue;                   /* `queue:` overrides */
    const char *file;                      /* where it was defined */
    int line;
    int type_line; /* the `type:` line, for unknown-type errors */
} sr_integration_conf;

typedef struct sr_input_conf {
    int enabled;
    char *host;                         /* default "127.0.0.1" */
    int port;                           /* http 8080, tcp 5140 */
    unsigned long long max_body_bytes;  /* http: 413 above it; default 16 MiB */
    unsigned long long max_line_bytes;  /* tcp: a longer line is rejected; default 1 MiB */
    char *token;                        /* http: required bearer token; NULL = none (secret) */
    unsigned long long idle_timeout_ms; /* close idle/slow clients; default 60000 */
    sr_tls_listen_conf tls;
} sr_input_conf;

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
