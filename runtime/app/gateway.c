/* gateway.c - wiring: configuration -> Lua hosts -> delivery -> pipeline
 * -> inputs, and the orderly shutdown in reverse. */
#include "gateway.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "admin.h"
#include "admin_bounds.h"
#include "admin_probe.h"
#include "admin_audit.h"
#include "bg_job.h"
#include "config.h"
#include "deadletter.h"
#include "deadletter_replay.h"
#include "fd_limit.h"
#include "forwarding.h"
#include "json.h"
#include "delivery.h"
#include "input_http.h"
#include "input_kafka.h"
#include "input_tcp.h"
#include "insecure.h"
#include "tls_reload.h"
#include "log.h"
#include "lua_host.h"
#include "lua_schema.h"
#include "pipeline.h"
#include "privileges.h"
#include "worker_pool.h"

#define SR_GATEWAY_MAX_PATHS 32

typedef struct sr_gateway {
    uv_loop_t loop;
    sr_config cfg;
    /* the integrations that run (enabled ones), in config order */
    sr_integration_spec *specs;
    const sr_integration_conf **integ;
    const char **names;
    size_t ninteg;
    sr_lua_host_conf *host_conf; /* heap: hosts keep a pointer to it */
    sr_lua_host *delivery_host;
    sr_deadletter *dl;
    sr_delivery *delivery;
    sr_pipeline *pipeline;
    sr_worker_pool *pool;
    sr_input_http *http;
    sr_input_tcp *tcp;
    sr_input_kafka *kafka;
    sr_admin *admin;               /* NULL when admin.enabled is off */
    int64_t start_time_ms;         /* wall clock, for process_start_time_seconds */
    sr_script_stats *script_stats; /* the process's, shared with each reload */
    int ready;                     /* the inputs listen (GET /readyz) */
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t shutdown_timer;
    /* SIGHUP: the configuration being switched to, and its workers */
    const char *const *paths;
    size_t npaths;
    struct sr_gateway *next;
    sr_lua_host **next_hosts;
    size_t next_nhosts;
    struct reload_job *loading;      /* a reload's loading, on the threadpool */
    struct validate_job *validating; /* the admin API's check, on the threadpool */
    sr_tls_reload next_tls;          /* the inputs' fresh certificates, until the swap */
    uv_timer_t reload_timer;
    int stopping;
    int exit_code;
    /* The admin API's changes (admin.h's control): the API file, deletes
     * waiting for their queue (paused), test events, the audit trail, and
     * who waits for a reload. */
    char *api_path;               /* <data_dir>/api-integrations.yaml, fixed at start */
    char *data_dir;               /* as at start (it changes only on restart) */
    char lua_dir_buf[4096];       /* the lua/ tree found beside the binary */
    char *files_root;             /* this generation's admin.files_dir (default <data_dir>/files) */
    char *script_dir, *files_dir; /* the API's bounds, as at start (admin_bounds.h) */
    const char *api_file; /* while loading: the API file read (the proper one or a candidate) */
    sr_ingest ingest;     /* the pipeline's, for the audit trail */
    char **paused;
    size_t npaused;
    sr_probe_list probes;
    sr_audit *audit;
    sr_admin_control control;
    sr_admin_done_cb reload_done; /* the API's reload waiter */
    void *reload_done_ud;
    int reload_attached; /* reload_done belongs to the reload running */
    int reload_by_signal;
} sr_gateway;

/* <prefix>/share/siemrelay/lua for a binary at <prefix>/bin/siemrelay, in
 * `buf`, when that tree exists: an installed gateway uses the tree installed
 * with it, also when the installation was copied elsewhere (DESTDIR, a
 * relocated prefix), and never the source tree of the machine it was built
 * on. */
static const char *lua_dir_beside_binary(char *buf, size_t len) {
    char exe[4096];
    size_t n = sizeof exe;
    struct stat st;
    if (uv_exepath(exe, &n) != 0)
        return NULL;
    for (int up = 0; up < 2; up++) { /* drop "/siemrelay", then "/bin" */
        char *slash = strrchr(exe, '/');
        if (!slash)
            return NULL;
        *slash = '\0';
    }
    int w = snprintf(buf, len, "%s/share/siemrelay/lua", exe);
    if (w < 0 || (size_t)w >= len)
        return NULL;
    char probe[4096 + 32];
    snprintf(probe, sizeof probe, "%s/integrations", buf);
    return stat(probe, &st) == 0 && S_ISDIR(st.st_mode) ? buf : NULL;
}

/* The lua/ tree: the configured one, else $SIEMRELAY_LUA_DIR, else the tree
 * installed beside this binary, else the source tree this binary was built
 * from, else the installed copy. `buf` holds the second-to-last. */
static const char *lua_dir(const sr_config *cfg, char *buf, size_t len) {
    struct stat st;
    if (cfg->lua_dir)
        return cfg->lua_dir;
    const char *env = getenv("SIEMRELAY_LUA_DIR");
    if (env && *env)
        return env;
    if (lua_dir_beside_binary(buf, len))
        return buf;
    if (stat(SR_SOURCE_LUA_DIR "/integrations", &st) == 0)
        return SR_SOURCE_LUA_DIR;
    return SR_INSTALL_LUA_DIR;
}

static int is_paused(const char *const *paused, size_t npaused, const char *name) {
    for (size_t i = 0; i < npaused; i++)
        if (strcasecmp(paused[i], name) == 0)
            return 1;
    return 0;
}

/* Fills the Lua host configuration with the integrations for which
 * `include` holds. One function serves --check (all) and a run (enabled).
 * `paused` integrations get no events (a delete waiting for its queue). */
static int build_host_conf(sr_gateway *g, int only_enabled, const char *const *paused,
                           size_t npaused) {
    const sr_config *cfg = &g->cfg;
    size_t n = cfg->nintegrations;
    g->files_root = cfg->admin.files_dir ? strdup(cfg->admin.files_dir) : NULL;
    if (!g->files_root && (g->files_root = malloc(strlen(cfg->data_dir) + sizeof "/files")))
        sprintf(g->files_root, "%s/files", cfg->data_dir);
    if (!g->files_root)
        return -1;
    g->specs = calloc(n ? n : 1, sizeof *g->specs);
    g->integ = calloc(n ? n : 1, sizeof *g->integ);
    g->names = calloc(n ? n : 1, sizeof *g->names);
    g->host_conf = calloc(1, sizeof *g->host_conf);
    if (!g->specs || !g->integ || !g->names || !g->host_conf)
        return -1;
    g->ninteg = 0;
    for (size_t i = 0; i < n; i++) {
        const sr_integration_conf *ic = &cfg->integrations[i];
        if (only_enabled && !ic->enabled)
            continue;
        sr_integration_spec *s = &g->specs[g->ninteg];
        s->name = ic->name;
        s->type = ic->type;
        s->configuration = ic->configuration;
        s->scripts = (const char *const *)ic->scripts;
        s->nscripts = ic->nscripts;
        s->script_entries = ic->script_entries;
        s->channels = ic->channels;
        s->min_severity = ic->min_severity;
        s->file = ic->file;
        s->line = ic->line;
        s->type_line = ic->type_line;
        s->paused = is_paused(paused, npaused, ic->name);
        /* An API-defined FILE sink stays under admin.files_dir. */
        if ((g->api_path && strcmp(ic->file, g->api_path) == 0) ||
            (g->api_file && strcmp(ic->file, g->api_file) == 0)) {
            s->files_root = g->files_root;
            s->scripts_root = cfg->admin.script_dir;
            s->credentials_root = cfg->admin.credentials_dir;
        }
        g->integ[g->ninteg] = ic;
        g->names[g->ninteg] = ic->name;
        g->ninteg++;
    }
    sr_lua_host_conf *hc = g->host_conf;
    hc->lua_dir = lua_dir(cfg, g->lua_dir_buf, sizeof g->lua_dir_buf);
    hc->integration_paths = (const char *const *)cfg->integration_paths;
    hc->nintegration_paths = cfg->nintegration_paths;
    hc->scripts = (const char *const *)cfg->scripts;
    hc->nscripts = cfg->nscripts;
    hc->script_entries = cfg->script_entries;
    hc->integrations = g->specs;
    hc->nintegrations = g->ninteg;
    hc->transmit_message_types = cfg->transmit_message_types;
    hc->forwarder_enabled = cfg->forwarder_enabled;
    hc->script_timeout_ms = cfg->script_timeout_ms;
    hc->load_timeout_ms = cfg->script_load_timeout_ms;
    hc->memory_limit = cfg->script_memory_limit;
    hc->runaway_limit = (unsigned)cfg->script_runaway_limit;
    hc->runaway_window_ms = cfg->script_runaway_window_ms;
    hc->sandbox = cfg->script_sandbox;
    hc->stats = g->script_stats;
    return 0;
}

static void gateway_release(sr_gateway *g) {
    sr_lua_host_free(g->delivery_host);
    free(g->specs);
    free(g->integ);
    free(g->names);
    free(g->host_conf);
    free(g->files_root);
    g->files_root = NULL;
    free(g->api_path);
    g->api_path = NULL;
    sr_config_free(&g->cfg);
}

/* <data_dir>/api-integrations.yaml (malloc'd). */
static char *api_file_path(const char *data_dir) {
    size_t n = strlen(data_dir) + sizeof "/api-integrations.yaml";
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/api-integrations.yaml", data_dir);
    return p;
}

static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* The API file holds integrations and nothing else: lua_dir,
 * integration_paths and every other setting are the -c files' alone. */
static int api_file_only_integrations(const sr_config *cfg, const char *api_file, char *err,
                                      size_t errlen) {
    for (size_t i = 0; i < cfg->ndocs; i++) {
        const sr_node *d = cfg->docs[i];
        if (!d->file || !same_file(d->file, api_file) || d->kind != SR_NODE_MAP)
            continue;
        for (size_t k = 0; k < d->n; k++)
            if (strcasecmp(d->keys[k], "integrations") != 0) {
                snprintf(err, errlen,
                         "%s:%d: key '%s': the API file holds only integrations: '%s' is a "
                         "setting of the configuration files (-c)",
                         d->file, d->key_lines[k], d->keys[k], d->keys[k]);
                return -1;
            }
    }
    return 0;
}

/* Loads the -c files, then `api_file` (the API-defined integrations) when
 * it exists and is not among them; `api_path` is the API file proper,
 * which a -c option may name too. NULL `api_path`: the data_dir's. */
static int load_config(sr_gateway *g, const char *const *paths, size_t npaths, const char *api_path,
                       const char *api_file, char *err, size_t errlen) {
    const char *all[SR_GATEWAY_MAX_PATHS + 1];
    char *own = NULL;
    size_t n = 0;
    if (sr_config_load(&g->cfg, paths, npaths, err, errlen) != 0)
        return -1;
    if (!api_path && !(api_path = own = api_file_path(g->cfg.data_dir))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!api_file)
        api_file = api_path;
    int extra = access(api_file, F_OK) == 0;
    for (size_t i = 0; i < npaths && n < SR_GATEWAY_MAX_PATHS; i++)
        if (!same_file(paths[i], api_path))
            all[n++] = paths[i];
        else
            extra = 1; /* named with -c: read once, and in its place at the end */
    int rc = 0;
    if (extra && access(api_file, F_OK) == 0) {
        all[n++] = api_file;
        sr_config_free(&g->cfg);
        rc = sr_config_load(&g->cfg, all, n, err, errlen);
        if (rc == 0)
            rc = api_file_only_integrations(&g->cfg, api_file, err, errlen);
        g->api_file = api_file;
    }
    if (!g->api_path && rc == 0)
        g->api_path = own ? own : strdup(api_path);
    else
        free(own);
    return rc;
}

/* Loads the configuration and builds the delivery host from it; on -1
 * `err` says why (FILE:LINE: ...). The caller releases `g` either way. */
static int load(sr_gateway *g, const char *const *paths, size_t npaths, const char *api_path,
                const char *api_file, int only_enabled, const char *const *paused, size_t npaused,
                char *err, size_t errlen) {
    if (load_config(g, paths, npaths, api_path, api_file, err, errlen) != 0)
        return -1;
    int built = build_host_conf(g, only_enabled, paused, npaused);
    g->api_file = NULL; /* borrowed for the build only */
    if (built != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    g->delivery_host = sr_lua_host_new(g->host_conf, err, errlen);
    return g->delivery_host ? 0 : -1;
}

sr_gateway *sr_gateway_load(const char *const *paths, size_t npaths, char *err, size_t errlen) {
    sr_gateway *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (load_config(g, paths, npaths, NULL, NULL, err, errlen) != 0)
        goto fail;
    if (build_host_conf(g, 1, NULL, 0) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return g;

fail:
    sr_gateway_free(g);
    return NULL;
}

sr_lua_host_conf *sr_gateway_host_conf(sr_gateway *g) { return g->host_conf; }

void sr_gateway_free(sr_gateway *g) {
    if (!g)
        return;
    gateway_release(g);
    free(g);
}

static void warn_log(void *ud, const char *msg) {
    (void)ud;
    sr_warn("config", "%s", msg);
}

/* Start, reload and --check warn alike when events would go nowhere. */
static void warn_forwarding(const sr_gateway *g, int per_channel) {
    size_t nenabled = 0;
    unsigned subscribed = 0;
    for (size_t i = 0; i < g->ninteg; i++) {
        sr_integration_info info;
        memset(&info, 0, sizeof info);
        if (!g->integ[i]->enabled || sr_lua_host_info(g->delivery_host, i, &info) != 0)
            continue;
        nenabled++;
        subscribed |= info.channels ? info.channels : g->integ[i]->channels;
    }
    sr_forwarding_warnings(&g->cfg, nenabled, subscribed, per_channel, warn_log, NULL);
}

/* ---- --check ------------------------------------------------------------ */

static void print_channels(sr_buf *out, unsigned mask) {
    sr_buf_putc(out, '[');
    int first = 1;
    for (unsigned bit = 1; bit <= SR_CH_MONITOR_EVENTS; bit <<= 1) {
        if (!(mask & bit))
            continue;
        sr_buf_printf(out, "%s\"%s\"", first ? "" : ",", sr_channel_name(bit));
        first = 0;
    }
    sr_buf_putc(out, ']');
}

/* The module's describe document is the whole effective record; --check
 * prints its own head (with enabled, batch, ...) and takes only the options. */
static void append_configuration(sr_lua_host *h, size_t i, sr_buf *out) {
    sr_buf d = SR_BUF_INIT;
    sr_json_member m;
    if (sr_lua_host_describe(h, i, &d) == 0 && d.len &&
        sr_json_object_get(d.data, d.len, "configuration", 13, &m))
        sr_buf_append(out, d.data + m.val_off, m.val_len);
    else
        sr_buf_puts(out, "null");
    sr_buf_free(&d);
}

int sr_gateway_check(const char *const *paths, size_t npaths) {
    sr_gateway g;
    memset(&g, 0, sizeof g);
    char err[1024] = "";
    if (load(&g, paths, npaths, NULL, NULL, 0, NULL, 0, err, sizeof err) != 0) {
        fprintf(stderr, "siemrelay: %s\n", err);
        gateway_release(&g);
        return 1;
    }
    warn_forwarding(&g, 1);
    sr_insecure_warn(g.delivery_host, g.names, g.ninteg, stderr);
    sr_insecure_warn_kafka_input(&g.cfg.kafka, stderr);
    sr_buf out = SR_BUF_INIT;
    if (sr_lua_host_script_globals(g.delivery_host, &out) > 0)
        for (char *line = out.data, *nl; (nl = strchr(line, '\n')); line = nl + 1)
            fprintf(stderr, "siemrelay: warning: %.*s\n", (int)(nl - line), line);
    sr_buf_reset(&out);
    sr_buf_putc(&out, '{');
    sr_buf_puts(&out, "\"files\":[");
    for (size_t i = 0; i < g.cfg.ndocs; i++) {
        sr_buf_puts(&out, i ? "," : "");
        sr_buf_json_string(&out, g.cfg.docs[i]->file, strlen(g.cfg.docs[i]->file));
    }
    sr_buf_puts(&out, "],\n");
    sr_forwarding_describe(&g.cfg, &out);
    sr_buf_puts(&out, ",\n\"integrations\":[");
    for (size_t i = 0; i < g.ninteg; i++) {
        const sr_integration_conf *ic = g.integ[i];
        sr_integration_info info;
        memset(&info, 0, sizeof info);
        sr_lua_host_info(g.delivery_host, i, &info);
        sr_buf_puts(&out, i ? ",\n  {\"name\":" : "\n  {\"name\":");
        sr_buf_json_string(&out, ic->name, strlen(ic->name));
        sr_buf_puts(&out, ",\"type\":");
        sr_buf_json_string(&out, ic->type, strlen(ic->type));
        sr_buf_printf(&out, ",\"enabled\":%s,\"channels\":", ic->enabled ? "true" : "false");
        print_channels(&out, info.channels ? info.channels : ic->channels);
        if (ic->min_severity >= 0)
            sr_buf_printf(&out, ",\"min_severity\":%d", ic->min_severity);
        sr_buf_printf(&out, ",\"transport\":\"%s\",\"insecure\":%s",
                      info.transport ? info.transport : "?",
                      sr_integration_insecure(g.delivery_host, i) ? "true" : "false");
        sr_integration_batch_apply(ic, &info);
        sr_buf_printf(&out, ",\"batch\":{\"max_events\":%ld,\"max_bytes\":%ld,\"linger_ms\":%ld}",
                      info.max_events, info.max_bytes, info.linger_ms);
        sr_buf_puts(&out, ",\"configuration\":");
        append_configuration(g.delivery_host, i, &out);
        sr_buf_putc(&out, '}');
    }
    sr_buf_puts(&out, "\n],\n\"settings\":");
    sr_config_print_settings(&g.cfg, &out);
    sr_buf_puts(&out, "}\n");
    fwrite(out.data, 1, out.len, stdout);
    fprintf(stderr, "siemrelay: configuration OK (%zu integration%s%s%s)\n", g.ninteg,
            g.ninteg == 1 ? "" : "s", access(g.api_path, F_OK) == 0 ? "; with " : "",
            access(g.api_path, F_OK) == 0 ? g.api_path : "");
    sr_buf_free(&out);
    gateway_release(&g);
    return 0;
}

/* ---- run ---------------------------------------------------------------- */

/* What the enabled listeners' max_connections allow together, against the
 * descriptor limit (a listener without a limit is left out). */
static void check_fd_limit(const sr_config *c) {
    struct {
        const char *name;
        int enabled;
        unsigned long long max;
    } l[] = {
        {"inputs.http", c->http.enabled, c->http.limits.max_connections},
        {"inputs.tcp", c->tcp.enabled, c->tcp.limits.max_connections},
        {"admin", c->admin.enabled, c->admin.limits.max_connections},
    };
    char detail[160] = "";
    size_t used = 0;
    unsigned long long total = 0;
    for (size_t i = 0; i < sizeof l / sizeof l[0]; i++) {
        if (!l[i].enabled || !l[i].max)
            continue;
        total += l[i].max;
        int n = snprintf(detail + used, sizeof detail - used, "%s%s %llu", used ? " + " : "",
                         l[i].name, l[i].max);
        if (n > 0 && (size_t)n < sizeof detail - used)
            used += (size_t)n;
    }
    if (total)
        sr_fd_limit_check(total, detail);
}

static void on_closed_handle(uv_handle_t *h) { (void)h; }

/* ---- admin API ---------------------------------------------------------- */

/* For GET /readyz: ready once the inputs listen, until shutdown begins;
 * not while a reload holds ingest back. */
static const char *gateway_not_ready(void *ud) {
    const sr_gateway *g = ud;
    if (g->stopping)
        return "shutting down";
    if (g->next)
        return "reloading";
    return g->ready ? NULL : "starting";
}

/* What the admin API reports on; handed to it again whenever one changes. */
static sr_admin_sources admin_sources(sr_gateway *g) {
    sr_admin_sources src = {
        .delivery = g->delivery,
        .pipeline = g->pipeline,
        .tcp = g->tcp,
        .kafka = g->kafka,
        .http = g->http,
        .deadletter = g->dl,
        .start_time_ms = g->start_time_ms,
        .scripts = g->script_stats,
        .not_ready = gateway_not_ready,
        .ud = g,
        .tokens = g->cfg.admin.tokens,
        .ntokens = g->cfg.admin.ntokens,
        .allowed_hosts = g->cfg.admin.allowed_hosts,
        .nallowed_hosts = g->cfg.admin.nallowed_hosts,
        .failed_auth = &g->cfg.admin.failed_auth,
        .tls = &g->cfg.admin.tls,
        .audit = g->audit,
        .control = &g->control,
    };
    return src;
}

/* ---- the admin API's changes (admin.h's sr_admin_control) --------------- */

static void reload(sr_gateway *g);
static void reload_abandon(sr_gateway *g, const char *why);

static long running_index(const sr_gateway *g, const char *name) {
    for (size_t i = 0; i < g->ninteg; i++)
        if (strcasecmp(g->names[i], name) == 0)
            return (long)i;
    return -1;
}

static int control_describe(void *ud, size_t i, sr_buf *out) {
    sr_gateway *g = ud;
    sr_integration_info info;
    if (i >= g->ninteg || sr_lua_host_info(g->delivery_host, i, &info) != 0)
        return -1;
    const sr_integration_conf *ic = g->integ[i];
    sr_buf_puts(out, ",\"channels\":");
    print_channels(out, info.channels ? info.channels : ic->channels);
    sr_buf_printf(out, ",\"source\":\"%s\",\"defined_at\":",
                  strcmp(ic->file, g->api_path) == 0 ? "api" : "file");
    char where[4200];
    snprintf(where, sizeof where, "%s:%d", ic->file, ic->line);
    sr_buf_json_string(out, where, strlen(where));
    sr_buf_printf(out, ",\"insecure\":%s",
                  sr_integration_insecure(g->delivery_host, i) ? "true" : "false");
    sr_buf_printf(out, ",\"enabled\":true,\"deleting\":%s,\"configuration\":",
                  is_paused((const char *const *)g->paused, g->npaused, ic->name) ? "true"
                                                                                  : "false");
    append_configuration(g->delivery_host, i, out);
    return 0;
}

static int control_types(void *ud, sr_buf *out, char *err, size_t errlen) {
    sr_gateway *g = ud;
    return sr_lua_schema_catalog(g->host_conf, out, err, errlen);
}

static int control_defined(void *ud, const char *name) {
    sr_gateway *g = ud;
    for (size_t i = 0; i < g->cfg.nintegrations; i++) {
        const sr_integration_conf *ic = &g->cfg.integrations[i];
        if (strcasecmp(ic->name, name) == 0)
            return strcmp(ic->file, g->api_path) == 0 ? 2 : 1;
    }
    return 0;
}

/* The admin API's check of a candidate API file: a whole load, scripts
 * included, on the threadpool like a reload's (validate_run); the answer
 * comes back on the loop (validate_done) unless shutdown orphaned it. */
typedef struct validate_job {
    sr_bg_job *bg;
    sr_gateway *g;
    char *api_file;
    sr_admin_done_cb done;
    void *cbud;
    int rc;
    char err[1024];
} validate_job;

static void validate_run(void *ud) {
    validate_job *j = ud;
    sr_gateway check;
    memset(&check, 0, sizeof check);
    j->rc = load(&check, j->g->paths, j->g->npaths, j->g->api_path, j->api_file, 0, NULL, 0, j->err,
                 sizeof j->err);
    gateway_release(&check);
}

static void validate_done(void *ud, int cancelled) {
    validate_job *j = ud;
    j->g->validating = NULL;
    j->done(j->cbud, cancelled ? "the check was cancelled" : j->rc ? j->err : NULL);
}

static void validate_release(void *ud) {
    validate_job *j = ud;
    free(j->api_file);
    free(j);
}

/* Shutting down with a check running: whoever waits hears so now; the
 * check itself ends within script_load_timeout and is freed then. */
static void validate_orphan(sr_gateway *g) {
    validate_job *j = g->validating;
    if (!j)
        return;
    g->validating = NULL;
    j->done(j->cbud, "the gateway is shutting down");
    sr_bg_job_orphan(j->bg);
}

static int control_validate(void *ud, const char *api_file, sr_admin_done_cb done, void *cbud) {
    static const sr_bg_job_fns fns = {validate_run, validate_done, validate_release};
    sr_gateway *g = ud;
    if (g->stopping || g->validating)
        return -1;
    validate_job *j = calloc(1, sizeof *j);
    char *copy = strdup(api_file);
    if (!j || !copy)
        goto fail;
    *j = (validate_job){.g = g, .api_file = copy, .done = done, .cbud = cbud};
    if (!(j->bg = sr_bg_job_start(&g->loop, &fns, j)))
        goto fail;
    g->validating = j;
    return 0;
fail:
    free(copy);
    free(j);
    return -1;
}

static int control_reload(void *ud, sr_admin_done_cb done, void *cbud) {
    sr_gateway *g = ud;
    if (g->stopping || !g->pipeline || g->reload_done)
        return -1;
    g->reload_done = done;
    g->reload_done_ud = cbud;
    g->reload_attached = 0;
    if (!g->next && !g->loading)
        reload(g); /* else it starts when the one running ends */
    return 0;
}

static void control_pause(void *ud, const char *name, int on) {
    sr_gateway *g = ud;
    for (size_t i = 0; i < g->npaused; i++) {
        if (strcasecmp(g->paused[i], name) != 0)
            continue;
        if (!on) {
            free(g->paused[i]);
            g->paused[i] = g->paused[--g->npaused];
        }
        return;
    }
    char **v = on ? realloc(g->paused, (g->npaused + 1) * sizeof *v) : NULL;
    if (v && (v[g->npaused] = strdup(name)) != NULL)
        g->npaused++;
    if (v)
        g->paused = v;
}

static int control_test(void *ud, const char *name,
                        void (*cb)(void *cbud, const sr_probe_result *r), void *cbud) {
    sr_gateway *g = ud;
    long i = running_index(g, name);
    if (i < 0 || g->stopping)
        return -1;
    sr_probe_start(&g->probes, &g->loop, g->delivery_host, (size_t)i, g->integ[i]->name,
                   g->integ[i]->min_severity, cb, cbud);
    return 0;
}

static int control_replay(void *ud, const char *name, const sr_replay_filter *f,
                          sr_replay_result *out, char *err, size_t errlen) {
    sr_gateway *g = ud;
    if (!name && g->stopping) {
        snprintf(err, errlen, "shutting down");
        return -1;
    }
    if (!name)
        return sr_deadletter_replay_pipeline(g->dl, g->delivery, g->delivery_host, f, out, err,
                                             errlen);
    long i = g->stopping ? -1 : sr_delivery_find(g->delivery, name);
    if (i < 0)
        return 1;
    return sr_deadletter_replay(g->dl, g->delivery, g->delivery_host, (size_t)i, f, out, err,
                                errlen);
}

static void init_control(sr_gateway *g) {
    g->control = (sr_admin_control){
        .ud = g,
        .api_path = g->api_path,
        .data_dir = g->data_dir,
        .script_dir = g->script_dir,
        .files_dir = g->files_dir,
        .describe = control_describe,
        .types = control_types,
        .defined = control_defined,
        .validate = control_validate,
        .reload = control_reload,
        .pause = control_pause,
        .test = control_test,
        .replay = control_replay,
    };
}

static int start_admin(sr_gateway *g) {
    char err[1024] = "";
    init_control(g);
    sr_admin_sources src = admin_sources(g);
    g->admin = sr_admin_new(&g->loop, g->cfg.admin.host, g->cfg.admin.port, &g->cfg.admin, &src,
                            err, sizeof err);
    if (!g->admin) {
        sr_error("gateway", "%s", err);
        return -1;
    }
    return 0;
}

static void reload_orphan(sr_gateway *g);

static void finish(sr_gateway *g) {
    /* A reload still waiting for the pipeline will not happen now; whoever
     * waits for it (the admin API) hears so. */
    if (g->next) {
        uv_timer_stop(&g->reload_timer);
        reload_abandon(g, "shutting down");
    }
    reload_orphan(g);
    validate_orphan(g);
    /* Before delivery goes: the admin API reads it until closed. */
    sr_probe_cancel_all(&g->probes, "shutting down");
    sr_admin_close(g->admin, NULL, NULL);
    g->admin = NULL;
    sr_audit_free(g->audit);
    g->audit = NULL;
    /* Drained: what delivery made safe is committed before it goes. */
    sr_input_kafka_close(g->kafka);
    g->kafka = NULL;
    sr_delivery_free(g->delivery);
    g->delivery = NULL;
    uv_close((uv_handle_t *)&g->shutdown_timer, on_closed_handle);
    uv_close((uv_handle_t *)&g->sigterm, on_closed_handle);
    uv_close((uv_handle_t *)&g->sigint, on_closed_handle);
    uv_close((uv_handle_t *)&g->sighup, on_closed_handle);
    uv_close((uv_handle_t *)&g->reload_timer, on_closed_handle);
    sr_info("gateway", "stopped");
}

static void on_drained(void *ud) { finish(ud); }

/* Waits, on a short timer, for every submitted batch to be committed; then
 * the workers can go and delivery drains. */
static void on_shutdown_tick(uv_timer_t *t) {
    sr_gateway *g = t->data;
    if (g->pipeline && sr_pipeline_pending(g->pipeline) > 0)
        return;
    uv_timer_stop(t);
    sr_worker_pool_free(g->pool);
    g->pool = NULL;
    if (g->delivery)
        sr_delivery_drain(g->delivery, g->cfg.delivery.shutdown_timeout_ms, on_drained, g);
    else
        finish(g);
}

static void reload_cancel(sr_gateway *g);

static void begin_shutdown(sr_gateway *g, const char *why) {
    if (g->stopping)
        return;
    g->stopping = 1;
    reload_cancel(g);
    sr_info("gateway", "%s: stopping inputs, then delivering what is queued (up to %u s)", why,
            (unsigned)(g->cfg.delivery.shutdown_timeout_ms / 1000));
    sr_input_http_close(g->http);
    g->http = NULL;
    sr_input_tcp_close(g->tcp);
    g->tcp = NULL;
    sr_input_kafka_stop(g->kafka); /* stays in the group until finish() commits */
    /* The admin API stays up while queues drain (readyz says why it is
     * 503), but must forget the closed TCP input. */
    if (g->admin) {
        sr_admin_sources src = admin_sources(g);
        sr_admin_set_sources(g->admin, &src);
    }
    if (g->pipeline)
        sr_pipeline_stop_accepting(g->pipeline);
    uv_timer_start(&g->shutdown_timer, on_shutdown_tick, 0, 10);
}

/* ---- reload (SIGHUP) --------------------------------------------------- */

static size_t worker_count(const sr_config *cfg);

static void free_hosts(sr_lua_host **hosts, size_t n) {
    for (size_t i = 0; hosts && i < n; i++)
        sr_lua_host_free(hosts[i]);
    free(hosts);
}

/* Builds one Lua host per worker for `conf`; NULL (logged) on failure. */
static sr_lua_host **new_worker_hosts(const sr_lua_host_conf *conf, size_t n) {
    char err[1024] = "";
    sr_lua_host **hosts = calloc(n, sizeof *hosts);
    if (!hosts)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(hosts[i] = sr_lua_host_new(conf, err, sizeof err))) {
            sr_error("gateway", "%s", err);
            free_hosts(hosts, i);
            return NULL;
        }
    }
    return hosts;
}

static sr_delivery_conf delivery_conf(const sr_config *cfg) {
    sr_delivery_conf c = cfg->delivery;
    c.data_dir = cfg->data_dir;
    c.queue_defaults = &cfg->queue;
    return c;
}

/* Swaps what a configuration owns between two gateways. */
static void swap_generation(sr_gateway *a, sr_gateway *b) {
    sr_gateway t = *a;
    a->cfg = b->cfg;
    a->specs = b->specs;
    a->integ = b->integ;
    a->names = b->names;
    a->ninteg = b->ninteg;
    a->host_conf = b->host_conf;
    a->delivery_host = b->delivery_host;
    b->cfg = t.cfg;
    b->specs = t.specs;
    b->integ = t.integ;
    b->names = t.names;
    b->ninteg = t.ninteg;
    b->host_conf = t.host_conf;
    b->delivery_host = t.delivery_host;
}

/* A reload ended (why NULL: it worked): tell the API if it waits for this
 * one, record a signal's reload, and start the one the API waits for. */
static void reload_finished(sr_gateway *g, const char *why) {
    if (g->reload_by_signal) {
        sr_audit_entry e = {
            .action = "reload",
            .method = "SIGHUP",
            .uri = "",
            .status = why ? 400 : 200,
            .entity_type = "configuration",
            .user = "signal",
            .description = why ? why : "reloaded the configuration (SIGHUP)",
        };
        sr_audit_record(g->audit, &e);
        g->reload_by_signal = 0;
    }
    if (g->reload_done && g->reload_attached) {
        sr_admin_done_cb done = g->reload_done;
        g->reload_done = NULL;
        g->reload_attached = 0;
        done(g->reload_done_ud, why);
    } else if (g->reload_done && (g->stopping || !g->pipeline)) {
        sr_admin_done_cb done = g->reload_done;
        g->reload_done = NULL;
        done(g->reload_done_ud, "the gateway is shutting down");
    } else if (g->reload_done) {
        reload(g);
    }
}

static void reload_abandon(sr_gateway *g, const char *error) {
    char why[1024];
    snprintf(why, sizeof why, "%s", error);
    sr_admin_scrub_file_text(why); /* the audit trail is no place for a file's content */
    sr_error("gateway", "configuration reload failed: %s; still running the previous one", why);
    free_hosts(g->next_hosts, g->next_nhosts);
    g->next_hosts = NULL;
    sr_tls_reload_discard(&g->next_tls);
    if (g->next) {
        gateway_release(g->next);
        free(g->next);
        g->next = NULL;
    }
    if (g->pipeline)
        sr_pipeline_pause(g->pipeline, 0);
    reload_finished(g, why);
}

/* Runs once the pipeline is empty: new workers, delivery remapped by name,
 * the old generation freed. */
static void reload_swap(sr_gateway *g) {
    char err[1024] = "";
    sr_gateway *next = g->next;
    sr_event_limits limits = {.max_depth = SR_JSON_DEFAULT_MAX_DEPTH, .max_fields = 1024};
    sr_worker_pool *pool = sr_worker_pool_new(&g->loop, g->next_hosts, g->next_nhosts, &limits,
                                              sr_pipeline_batch_done, g->pipeline);
    if (!pool) {
        free(g->next_hosts); /* the failed pool has freed the hosts */
        g->next_hosts = NULL;
        reload_abandon(g, "cannot start the workers");
        return;
    }
    free(g->next_hosts); /* the pool owns the hosts now, not the array */
    g->next_hosts = NULL;
    sr_delivery_conf dconf = delivery_conf(&next->cfg);
    if (sr_delivery_reload(g->delivery, next->delivery_host, next->integ, next->ninteg, &dconf, err,
                           sizeof err) != 0) {
        sr_worker_pool_free(pool);
        reload_abandon(g, err);
        return;
    }
    sr_worker_pool_free(g->pool);
    g->pool = pool;
    sr_tls_reload_commit(&g->next_tls, g->http, g->tcp, g->admin);
    sr_pipeline_set_workers(g->pipeline, pool);
    sr_pipeline_set_names(g->pipeline, next->names);
    /* Test events use the delivery host, which goes with the old generation. */
    sr_probe_cancel_all(&g->probes, "the configuration was reloaded while the test ran");
    swap_generation(g, next);
    /* Scripts disabled after runaways run again under the new workers. */
    sr_script_stats_enable_all(g->script_stats);
    sr_log_configure(g->cfg.log_level, g->cfg.log_format);
    gateway_release(next); /* the previous generation */
    free(next);
    g->next = NULL;
    sr_pipeline_pause(g->pipeline, 0);
    sr_info("gateway",
            "configuration reloaded: %zu integration(s), %zu worker(s) (inputs but their TLS "
            "files, admin and data_dir change only on restart)",
            g->ninteg, g->next_nhosts);
    if (g->admin) { /* admin tokens come from the new configuration */
        sr_admin_sources src = admin_sources(g);
        sr_admin_set_sources(g->admin, &src);
    }
    reload_finished(g, NULL);
}

static void on_reload_tick(uv_timer_t *t) {
    sr_gateway *g = t->data;
    if (g->stopping) {
        uv_timer_stop(t);
        reload_abandon(g, "shutting down");
        return;
    }
    if (sr_pipeline_pending(g->pipeline) > 0)
        return;
    uv_timer_stop(t);
    reload_swap(g);
}

/* The loading half of a reload (the configuration files, then every Lua
 * state: modules, scripts, setup) runs on the libuv threadpool, so ingest,
 * the admin API and SIGTERM are served while it runs, however long a
 * script takes to load (script_load_timeout stops it). It touches only
 * what it owns: a copy of the paused names, `next`, the hosts. */
typedef struct reload_job {
    sr_bg_job *bg;
    sr_gateway *g, *next;
    char **paused; /* a copy: control_pause changes g->paused on the loop */
    size_t npaused;
    sr_lua_host **hosts;
    size_t nhosts;
    atomic_int cancel; /* shutting down: build no more states */
    int rc;
    char err[1024];
} reload_job;

/* Frees what the job still holds: all of it when orphaned or failed, only
 * the paused names once reload_loaded took `next` and the hosts. */
static void reload_release(void *ud) {
    reload_job *j = ud;
    free_hosts(j->hosts, j->nhosts);
    if (j->next) {
        gateway_release(j->next);
        free(j->next);
    }
    for (size_t i = 0; i < j->npaused; i++)
        free(j->paused[i]);
    free(j->paused);
    free(j);
}

static void reload_load(void *ud) {
    reload_job *j = ud;
    sr_gateway *g = j->g;
    j->rc = -1;
    if (load(j->next, g->paths, g->npaths, g->api_path, NULL, 1, (const char *const *)j->paused,
             j->npaused, j->err, sizeof j->err) != 0)
        return;
    j->nhosts = worker_count(&j->next->cfg);
    if (!(j->hosts = calloc(j->nhosts, sizeof *j->hosts))) {
        snprintf(j->err, sizeof j->err, "out of memory");
        return;
    }
    for (size_t i = 0; i < j->nhosts; i++) {
        if (atomic_load(&j->cancel)) {
            snprintf(j->err, sizeof j->err, "shutting down");
            return;
        }
        if (!(j->hosts[i] = sr_lua_host_new(j->next->host_conf, j->err, sizeof j->err)))
            return;
    }
    j->rc = 0;
}

static void reload_continue(sr_gateway *g);

static void reload_loaded(void *ud, int cancelled) {
    reload_job *j = ud;
    sr_gateway *g = j->g;
    g->loading = NULL;
    if (cancelled || j->rc != 0 || g->stopping) {
        reload_abandon(g, g->stopping || cancelled ? "shutting down" : j->err);
        return;
    }
    /* The next generation is the gateway's now (reload_release leaves it). */
    g->next = j->next;
    g->next_hosts = j->hosts;
    g->next_nhosts = j->nhosts;
    j->next = NULL;
    j->hosts = NULL;
    reload_continue(g);
}

/* No more Lua states for a reload loading: SIGTERM waits for one at most. */
static void reload_cancel(sr_gateway *g) {
    if (g->loading)
        atomic_store(&g->loading->cancel, 1);
}

/* Shutting down with a reload loading: the job stops building, whoever
 * waits for the reload hears so, and its result is freed when it ends. */
static void reload_orphan(sr_gateway *g) {
    reload_job *j = g->loading;
    if (!j)
        return;
    atomic_store(&j->cancel, 1);
    g->loading = NULL;
    sr_bg_job_orphan(j->bg);
    reload_finished(g, "shutting down");
}

static void reload(sr_gateway *g) {
    static const sr_bg_job_fns fns = {reload_load, reload_loaded, reload_release};
    if (g->next || g->loading || g->stopping || !g->pipeline)
        return;
    if (g->reload_done)
        g->reload_attached = 1;
    sr_info("gateway", "%s: reloading the configuration",
            g->reload_by_signal ? "SIGHUP" : "admin API");
    reload_job *j = calloc(1, sizeof *j);
    sr_gateway *next = calloc(1, sizeof *next);
    char **paused = calloc(g->npaused ? g->npaused : 1, sizeof *paused);
    if (!j || !next || !paused) {
        free(j);
        free(next);
        free(paused);
        reload_abandon(g, "out of memory");
        return;
    }
    next->script_stats = g->script_stats;
    *j = (reload_job){.g = g, .next = next, .paused = paused};
    for (size_t i = 0; i < g->npaused; i++)
        if ((paused[j->npaused] = strdup(g->paused[i])) != NULL)
            j->npaused++;
    atomic_init(&j->cancel, 0);
    if (!(j->bg = sr_bg_job_start(&g->loop, &fns, j))) {
        reload_release(j);
        reload_abandon(g, "cannot queue the reload");
        return;
    }
    g->loading = j;
}

/* The reload's loading has ended well: on the loop again. */
static void reload_continue(sr_gateway *g) {
    char err[1024] = "";
    warn_forwarding(g->next, 0);
    sr_insecure_warn(g->next->delivery_host, g->next->names, g->next->ninteg, NULL);
    sr_insecure_warn_kafka_input(&g->next->cfg.kafka, NULL);
    if (sr_tls_reload_prepare(&g->next_tls, g->http, g->tcp, g->admin, &g->next->cfg, err,
                              sizeof err) != 0) {
        reload_abandon(g, err);
        return;
    }
    /* Batches in progress were parsed for the old integrations: let them
     * commit, holding new ingest back for that moment. */
    sr_pipeline_pause(g->pipeline, 1);
    uv_timer_start(&g->reload_timer, on_reload_tick, 0, 5);
}

static void on_sighup(uv_signal_t *s, int signum) {
    sr_gateway *g = s->data;
    (void)signum;
    if (g->next || g->loading || g->stopping)
        return; /* one reload at a time, as before */
    g->reload_by_signal = 1;
    reload(g);
}

static void on_signal(uv_signal_t *s, int signum) {
    begin_shutdown(s->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static size_t worker_count(const sr_config *cfg) {
    if (cfg->workers > 0)
        return (size_t)cfg->workers;
    unsigned n = uv_available_parallelism();
    return n ? n : 1;
}

static int start(sr_gateway *g) {
    char err[1024] = "";
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    g->start_time_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    size_t nworkers = worker_count(&g->cfg);
    /* As the configured user from here on, so that what the gateway creates
     * is the user's; root comes back only to bind the listeners. */
    sr_privileges priv;
    int as_user = g->cfg.user || g->cfg.group;
    if (as_user && (sr_privileges_resolve(g->cfg.user, g->cfg.group, &priv, err, sizeof err) != 0 ||
                    sr_privileges_assume(&priv, err, sizeof err) != 0)) {
        sr_error("gateway", "%s", err);
        return -1;
    }
    sr_admin_bounds bounds = {g->cfg.admin.script_dir, g->files_root};
    if (sr_admin_bounds_apart(&bounds, g->cfg.data_dir, err, sizeof err) != 0) {
        sr_error("gateway", "%s", err);
        return -1;
    }
    sr_lua_host **hosts = new_worker_hosts(g->host_conf, nworkers);
    if (!hosts)
        return -1;
    g->dl = sr_deadletter_new(g->cfg.data_dir);
    if (!g->dl)
        goto fail_hosts;
    sr_delivery_conf dconf = delivery_conf(&g->cfg);
    g->delivery = sr_delivery_new(&g->loop, g->delivery_host, g->integ, g->ninteg, &dconf, g->dl,
                                  err, sizeof err);
    if (!g->delivery) {
        sr_error("gateway", "%s", err);
        goto fail_hosts;
    }
    g->pipeline = sr_pipeline_new(&g->loop, g->delivery, g->dl, g->names);
    if (!g->pipeline)
        goto fail_hosts;
    sr_event_limits limits = {.max_depth = SR_JSON_DEFAULT_MAX_DEPTH, .max_fields = 1024};
    g->pool =
        sr_worker_pool_new(&g->loop, hosts, nworkers, &limits, sr_pipeline_batch_done, g->pipeline);
    free(hosts);
    hosts = NULL;
    if (!g->pool)
        return -1;
    sr_pipeline_set_workers(g->pipeline, g->pool);

    sr_ingest ingest = sr_pipeline_ingest(g->pipeline);
    g->ingest = ingest;
    if (!(g->data_dir = strdup(g->cfg.data_dir)) || !(g->files_dir = strdup(g->files_root)) ||
        (g->cfg.admin.script_dir && !(g->script_dir = strdup(g->cfg.admin.script_dir))) ||
        !(g->audit = sr_audit_new(&g->loop, g->cfg.data_dir, err, sizeof err))) {
        sr_error("gateway", "%s", g->data_dir ? err : "out of memory");
        return -1;
    }
    sr_audit_set_ingest(g->audit, &g->ingest);
    if (as_user && sr_privileges_regain(err, sizeof err) != 0) {
        sr_error("gateway", "%s", err);
        return -1;
    }
    if (g->cfg.http.enabled) {
        g->http = sr_input_http_start(&g->loop, &g->cfg.http, &ingest, err, sizeof err);
        if (!g->http) {
            sr_error("gateway", "%s", err);
            return -1;
        }
    }
    if (g->cfg.tcp.enabled) {
        g->tcp = sr_input_tcp_start(&g->loop, &g->cfg.tcp, &ingest, err, sizeof err);
        if (!g->tcp) {
            sr_error("gateway", "%s", err);
            return -1;
        }
    }
    if (g->cfg.kafka.enabled) {
        g->kafka = sr_input_kafka_start(&g->loop, &g->cfg.kafka, &ingest, err, sizeof err);
        if (!g->kafka) {
            sr_error("gateway", "%s", err);
            return -1;
        }
    }
    if (g->cfg.admin.enabled && start_admin(g) != 0)
        return -1;
    /* Every listener is bound: nothing needs root from here on. */
    if (as_user && sr_privileges_drop(&priv, err, sizeof err) != 0) {
        sr_error("gateway", "%s", err);
        return -1;
    }
    sr_privileges_warn_root(g->cfg.user, g->cfg.group);
    g->ready = 1;
    sr_info("gateway",
            "siemrelay ready: %zu integration(s), %zu worker(s), http %s, tcp %s, kafka %s; "
            "lua %s",
            g->ninteg, nworkers, g->cfg.http.enabled ? "on" : "off",
            g->cfg.tcp.enabled ? "on" : "off", g->cfg.kafka.enabled ? "on" : "off",
            g->host_conf->lua_dir);
    return 0;

fail_hosts:
    free_hosts(hosts, nworkers);
    return -1;
}

int sr_gateway_run(const char *const *paths, size_t npaths) {
    sr_gateway g;
    memset(&g, 0, sizeof g);
    signal(SIGPIPE, SIG_IGN);
    char err[1024] = "";
    g.script_stats = sr_script_stats_new();
    int loaded = g.script_stats ? load(&g, paths, npaths, NULL, NULL, 1, NULL, 0, err, sizeof err)
                                : (snprintf(err, sizeof err, "out of memory"), -1);
    sr_log_configure(g.cfg.log_level, g.cfg.log_format);
    if (loaded != 0) {
        fprintf(stderr, "siemrelay: %s\n", err);
        gateway_release(&g);
        sr_script_stats_free(g.script_stats);
        return 1;
    }
    warn_forwarding(&g, 0);
    sr_insecure_warn(g.delivery_host, g.names, g.ninteg, NULL);
    sr_insecure_warn_kafka_input(&g.cfg.kafka, NULL);
    sr_fd_limit_raise();
    check_fd_limit(&g.cfg);
    uv_loop_init(&g.loop);
    uv_timer_init(&g.loop, &g.shutdown_timer);
    g.shutdown_timer.data = &g;
    uv_signal_init(&g.loop, &g.sigterm);
    uv_signal_init(&g.loop, &g.sigint);
    g.sigterm.data = g.sigint.data = &g;
    uv_signal_start(&g.sigterm, on_signal, SIGTERM);
    uv_signal_start(&g.sigint, on_signal, SIGINT);
    uv_signal_init(&g.loop, &g.sighup);
    g.sighup.data = &g;
    uv_signal_start(&g.sighup, on_sighup, SIGHUP);
    uv_timer_init(&g.loop, &g.reload_timer);
    g.reload_timer.data = &g;
    g.paths = paths;
    g.npaths = npaths;

    if (start(&g) != 0) {
        g.exit_code = 1;
        begin_shutdown(&g, "start-up failed");
    }
    uv_run(&g.loop, UV_RUN_DEFAULT);
    sr_pipeline_free(g.pipeline);
    sr_deadletter_free(g.dl);
    if (uv_loop_close(&g.loop) != 0)
        sr_warn("gateway", "event loop closed with handles still open");
    for (size_t i = 0; i < g.npaused; i++)
        free(g.paused[i]);
    free(g.paused);
    free(g.data_dir);
    free(g.script_dir);
    free(g.files_dir);
    gateway_release(&g);
    sr_script_stats_free(g.script_stats);
    return g.exit_code;
}
