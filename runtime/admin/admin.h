/* admin.h - the admin HTTP API, on its own listener (127.0.0.1:9090 by
 * default; `admin:` in the configuration).
 *
 *   GET /api/integrations         every integration: status, queue, counters  viewer
 *   GET /api/integrations/{name}  one integration (name percent-decoded,      viewer
 *                                 case-insensitive) with its status history;
 *                                 404 {"error":"no integration named 'x'"}
 *   POST /api/integrations        create (admin_write.h)                      admin
 *   PUT /api/integrations/{name}  replace an API-defined integration           admin
 *   DELETE /api/integrations/{name}?queued=deliver|discard                     admin
 *   POST /api/integrations/{name}/test  a test event (admin_probe.h)           admin
 *   POST /api/reload              reload the configuration, as SIGHUP does     admin
 *   GET /api/types                integration types and option schemas        viewer
 *   GET /api/audit?limit=N        the newest audit events (admin_audit.h)           admin
 *   GET /api/whoami               {"name","role","tokens"}                    viewer
 *   GET /metrics                  Prometheus text format (admin_metrics.h)    viewer
 *   GET /healthz, GET /readyz     liveness; readiness (503 while starting,    open
 *                                 reloading or shutting down)
 *   GET /, GET /ui/...            the integrations page (admin_ui.h)          open
 * HEAD works wherever GET does; another method on a known path is 405 with
 * `Allow`; any other path 404. docs/admin.md has the documents. Before
 * anything else, the Host header must name the listener (http_host.h: DNS
 * rebinding): else 421, or 400 when it is missing or malformed.
 *
 * Who may do what is admin_auth.h's decision; every write, and every failed
 * authentication, is recorded in the audit trail (admin_audit.h). Secrets are
 * write-only: configurations are shown as the Lua host describes them,
 * secret options as "******".
 *
 * Everything runs on the loop thread, and every answer is built from one
 * snapshot taken while handling the request. */
#ifndef SR_ADMIN_H
#define SR_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "auth_guard.h"
#include "tls_engine.h"
#include "conn_guard.h"

/* Declared, not included: the listener side (admin.c) only passes these
 * through to admin_docs.c, and stays free of the delivery headers. */
typedef struct sr_delivery sr_delivery;
typedef struct sr_pipeline sr_pipeline;
typedef struct sr_input_tcp sr_input_tcp;
typedef struct sr_input_http sr_input_http;
typedef struct sr_http_server sr_http_server;
typedef struct sr_input_kafka sr_input_kafka;
typedef struct sr_deadletter sr_deadletter;
typedef struct sr_audit sr_audit;
typedef struct sr_admin_token_conf sr_admin_token_conf;
typedef struct sr_buf sr_buf;
typedef struct sr_probe_result sr_probe_result;
typedef struct sr_script_stats sr_script_stats;
typedef struct sr_replay_filter sr_replay_filter;
typedef struct sr_replay_result sr_replay_result;

/* The `admin:` section: the listener and who may use it. */
typedef struct sr_admin_conf {
    int enabled;
    char *host;
    int port;
    sr_admin_token_conf *tokens; /* `tokens:`, replaced as a whole by a later file */
    size_t ntokens;
    char *script_dir;      /* scripts API-defined integrations may name; NULL: none */
    char *files_dir;       /* their FILE paths' root; NULL: <data_dir>/files */
    char *credentials_dir; /* files their TLS settings may name; NULL: none */
    char **allowed_hosts;  /* `allowed_hosts:`, see sr_admin_sources */
    size_t nallowed_hosts;
    sr_auth_guard_conf failed_auth; /* `failed_auth:` (auth_guard.h) */
    sr_tls_listen_conf tls;         /* `tls:`; no cert_file: plain HTTP */
    sr_conn_limits limits;          /* max_connections, max_connections_per_peer */
    /* Deadlines (http_server.h): a connection idle that long is closed; a
     * request head must be complete within header_timeout of its first
     * byte; a body must bring min_progress_bytes every progress_interval. */
    unsigned long long idle_timeout_ms, header_timeout_ms;
    unsigned long long min_progress_bytes, progress_interval_ms;
} sr_admin_conf;

/* The `admin:` section's keys (admin_conf.c). */
extern const sr_conf_key sr_admin_conf_keys[];

/* Called once an asynchronous change finished: `err` NULL on success. */
typedef void (*sr_admin_done_cb)(void *cbud, const char *err);

/* What the gateway does for the API beyond reading statistics: the write
 * routes, test events and type schemas. Every function is called on the
 * loop thread with `ud`. */
typedef struct sr_admin_control {
    void *ud;
    const char *api_path; /* <data_dir>/api-integrations.yaml */
    const char *data_dir;
    /* What API-defined integrations may reach (admin_bounds.h): scripts
     * under script_dir (NULL: none), FILE paths under files_dir. */
    const char *script_dir;
    const char *files_dir;
    /* Appends `,"channels":[...],"source":"file"|"api","defined_at":"FILE:LINE",
     * "deleting":bool,"configuration":{...}` (secrets masked) for delivery's
     * integration i. */
    int (*describe)(void *ud, size_t integ, sr_buf *out);
    /* GET /api/types (lua_schema.h). */
    int (*types)(void *ud, sr_buf *out, char *err, size_t errlen);
    /* Where an integration called `name` is configured, enabled or not: 0
     * nowhere, 1 in a -c file, 2 in the API file. */
    int (*defined)(void *ud, const char *name);
    /* Loads the -c files plus `api_file` in place of the API file, and
     * checks them as --check does, off the loop thread (a script may take
     * up to script_load_timeout to load, and ingest must not wait for it).
     * `done` runs on the loop: err NULL when valid, else FILE:LINE: ...
     * -1 when no check can start (shutdown). */
    int (*validate)(void *ud, const char *api_file, sr_admin_done_cb done, void *cbud);
    /* Reloads as SIGHUP does; `done` runs once the new configuration runs
     * (err NULL) or was refused. -1 when no reload can start (shutdown). */
    int (*reload)(void *ud, sr_admin_done_cb done, void *cbud);
    /* While on, `name` gets no new events (from the next reload on). */
    void (*pause)(void *ud, const char *name, int on);
    /* Starts a test event (admin_probe.h); -1 when no integration called
     * `name` runs. `cb` gets the result, possibly before this returns. */
    int (*test)(void *ud, const char *name, void (*cb)(void *cbud, const sr_probe_result *r),
                void *cbud);
    /* Replays the dead letters of the running integration `name`, or with
     * `name` NULL the pipeline's (deadletter_replay.h): 0, 1 when no
     * integration called `name` runs, or -1 with `err`. */
    int (*replay)(void *ud, const char *name, const sr_replay_filter *f, sr_replay_result *out,
                  char *err, size_t errlen);
} sr_admin_control;

/* What the API reports on. All borrowed; any pointer may be NULL (its
 * figures are then left out). The owner keeps them valid until it replaces
 * them with sr_admin_set_sources() or closes the API. */
typedef struct sr_admin_sources {
    const sr_delivery *delivery;
    const sr_pipeline *pipeline;
    const sr_input_tcp *tcp;
    const sr_input_http *http;
    /* The admin API's own listener: set by the API itself, whatever is given. */
    const sr_http_server *admin_server;
    const sr_input_kafka *kafka;
    const sr_deadletter *deadletter;
    int64_t start_time_ms;          /* process start, wall clock */
    const sr_script_stats *scripts; /* per-script counters; may be NULL */
    /* NULL when the gateway is ready, else why it is not ("starting",
     * "shutting down", ...). A NULL callback means always ready. */
    const char *(*not_ready)(void *ud);
    void *ud;
    /* Who may use the API (admin_auth.h); none: reads open, writes refused. */
    const sr_admin_token_conf *tokens;
    size_t ntokens;
    /* Host names the API answers to besides its listen address
     * (admin.allowed_hosts, http_host.h); "*" turns the check off. */
    char *const *allowed_hosts;
    size_t nallowed_hosts;
    /* Failed-authentication thresholds (auth_guard.h), read when the API
     * starts; NULL: the defaults. */
    const sr_auth_guard_conf *failed_auth;
    /* The listener's TLS settings, read when the API starts; NULL or no
     * cert_file: plain HTTP. */
    const sr_tls_listen_conf *tls;
    sr_audit *audit;                 /* NULL: actions are not recorded */
    const sr_admin_control *control; /* NULL: a read-only API */
} sr_admin_sources;

typedef struct sr_admin sr_admin;

/* Listens on host:port (0: any free port) and logs "admin API listening on
 * HOST:PORT". `conf`'s connection limits and deadlines apply to its
 * connections as for the inputs (http_server.h); NULL: none. `src` is
 * copied. Returns NULL with e.g. "admin API: cannot listen on
 * 127.0.0.1:9090: address already in use" in err. */
sr_admin *sr_admin_new(uv_loop_t *loop, const char *host, int port, const sr_admin_conf *conf,
                       const sr_admin_sources *src, char *err, size_t errlen);

/* Replaces the sources (after a configuration reload); copied. */
void sr_admin_set_sources(sr_admin *a, const sr_admin_sources *src);

/* The bound port. */
int sr_admin_port(const sr_admin *a);

/* The listener's TLS context, NULL for plain HTTP: a reload gives it fresh
 * certificates in place (sr_tls_ctx_adopt). */
sr_tls_ctx *sr_admin_tls(const sr_admin *a);

/* Stops listening and closes every connection. From now on the API no
 * longer touches its sources. `cb` (may be NULL) runs once the handles are
 * closed; `a` is freed then. NULL `a` is ignored. */
void sr_admin_close(sr_admin *a, void (*cb)(void *ud), void *ud);

/* Decodes %XX escapes of a path segment into `out` (capacity outlen,
 * NUL-terminated). Returns the decoded length, or -1 for a malformed escape,
 * an escaped NUL, or a result that does not fit. */
long sr_admin_percent_decode(const char *in, size_t inlen, char *out, size_t outlen);

#endif
