/* gateway.c - wiring: configuration -> Lua hosts -> delivery -> pipeline
 * -> inputs, and the orderly shutdown in reverse. */
#include "gateway.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "admin.h"
#include "config.h"
#include "deadletter.h"
#include "json.h"
#include "delivery.h"
#include "input_http.h"
#include "input_tcp.h"
#include "log.h"
#include "lua_host.h"
#include "pipeline.h"
#include "worker_pool.h"

/* Grace period for queued records on SIGTERM/SIGINT. */

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
    sr_admin *admin;       /* NULL when admin.enabled is off */
    int64_t start_time_ms; /* wall clock, for process_start_time_seconds */
    int ready;             /* the inputs listen (GET /readyz) */
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t shutdown_timer;
    /* SIGHUP: the configuration being switched to, and its workers */
    const char *const *paths;
    size_t npaths;
    struct sr_gateway *next;
    sr_lua_host **next_hosts;
    size_t next_nhosts;
    uv_timer_t reload_timer;
    int stopping;
    int exit_code;
} sr_gateway;

/* The lua/ tree: the configured one, else $SIEMRELAY_LUA_DIR, else the
 * source tree this binary was built from, else the installed copy. */
static const char *lua_dir(const sr_config *cfg) {
    struct stat st;
    if (cfg->lua_dir)
        return cfg->lua_dir;
    const char *env = getenv("SIEMRELAY_LUA_DIR");
    if (env && *env)
        return env;
    if (stat(SR_SOURCE_LUA_DIR "/integrations", &st) == 0)
        return SR_SOURCE_LUA_DIR;
    return SR_INSTALL_LUA_DIR;
}

/* Fills the Lua host configuration with the integrations for which
 * `include` holds. One function serves --check (all) and a run (enabled). */
static int build_host_conf(sr_gateway *g, int only_enabled) {
    const sr_config *cfg = &g->cfg;
    size_t n = cfg->nintegrations;
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
        s->channels = ic->channels;
        s->min_severity = ic->min_severity;
        s->file = ic->file;
        s->line = ic->line;
        s->type_line = ic->type_line;
        g->integ[g->ninteg] = ic;
        g->names[g->ninteg] = ic->name;
        g->ninteg++;
    }
    sr_lua_host_conf *hc = g->host_conf;
    hc->lua_dir = lua_dir(cfg);
    hc->integration_paths = (const char *const *)cfg->integration_paths;
    hc->nintegration_paths = cfg->nintegration_paths;
    hc->scripts = (const char *const *)cfg->scripts;
    hc->nscripts = cfg->nscripts;
    hc->integrations = g->specs;
    hc->nintegrations = g->ninteg;
    hc->transmit_message_types = cfg->transmit_message_types;
    hc->forwarder_enabled = cfg->forwarder_enabled;
    hc->script_timeout_ms = cfg->script_timeout_ms;
    return 0;
}

static void gateway_release(sr_gateway *g) {
    sr_lua_host_free(g->delivery_host);
    free(g->specs);
    free(g->integ);
    free(g->names);
    free(g->host_conf);
    sr_config_free(&g->cfg);
}

/* Loads the configuration and builds the delivery host from it; on -1
 * `err` says why (FILE:LINE: ...). The caller releases `g` either way. */
static int load(sr_gateway *g, const char *const *paths, size_t npaths, int only_enabled,
                char *err, size_t errlen) {
    if (sr_config_load(&g->cfg, paths, npaths, err, errlen) != 0)
        return -1;
    if (build_host_conf(g, only_enabled) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    g->delivery_host = sr_lua_host_new(g->host_conf, err, errlen);
    return g->delivery_host ? 0 : -1;
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
    if (load(&g, paths, npaths, 0, err, sizeof err) != 0) {
        fprintf(stderr, "siemrelay: %s\n", err);
        gateway_release(&g);
        return 1;
    }
    sr_buf out = SR_BUF_INIT;
    sr_buf_puts(&out, "{\"integrations\":[");
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
        sr_buf_printf(&out, ",\"transport\":\"%s\"", info.transport ? info.transport : "?");
        sr_integration_batch_apply(ic, &info);
        sr_buf_printf(&out, ",\"batch\":{\"max_events\":%ld,\"max_bytes\":%ld,\"linger_ms\":%ld}",
                      info.max_events, info.max_bytes, info.linger_ms);
        sr_buf_puts(&out, ",\"configuration\":");
        append_configuration(g.delivery_host, i, &out);
        sr_buf_putc(&out, '}');
    }
    sr_buf_puts(&out, "\n]}\n");
    fwrite(out.data, 1, out.len, stdout);
    fprintf(stderr, "siemrelay: configuration OK (%zu integration%s)\n", g.ninteg,
            g.ninteg == 1 ? "" : "s");
    sr_buf_free(&out);
    gateway_release(&g);
    return 0;
}

/* ---- run ---------------------------------------------------------------- */

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
        .deadletter = g->dl,
        .start_time_ms = g->start_time_ms,
        .not_ready = gateway_not_ready,
        .ud = g,
    };
    return src;
}

static int start_admin(sr_gateway *g) {
    char err[1024] = "";
    sr_admin_sources src = admin_sources(g);
    g->admin = sr_admin_new(&g->loop, g->cfg.admin.host, g->cfg.admin.port, &src, err, sizeof err);
    if (!g->admin) {
        sr_error("gateway", "%s", err);
        return -1;
    }
    return 0;
}

static void finish(sr_gateway *g) {
    /* Before delivery goes: the admin API reads it until closed. */
    sr_admin_close(g->admin, NULL, NULL);
    g->admin = NULL;
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
        sr_delivery_drain(g->delivery, g->cfg.shutdown_timeout_ms, on_drained, g);
    else
        finish(g);
}

static void begin_shutdown(sr_gateway *g, const char *why) {
    if (g->stopping)
        return;
    g->stopping = 1;
    sr_info("gateway", "%s: stopping inputs, then delivering what is queued (up to %u s)", why,
            (unsigned)(g->cfg.shutdown_timeout_ms / 1000));
    sr_input_http_close(g->http);
    g->http = NULL;
    sr_input_tcp_close(g->tcp);
    g->tcp = NULL;
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
    sr_delivery_conf c = {
        .max_attempts = cfg->max_attempts,
        .backoff_ms = cfg->backoff_ms,
        .backoff_max_ms = cfg->backoff_max_ms,
        .inhibit_ms = cfg->inhibit_ms,
        .data_dir = cfg->data_dir,
        .queue_defaults = &cfg->queue,
    };
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

static void reload_abandon(sr_gateway *g, const char *why) {
    sr_error("gateway", "configuration reload failed: %s; still running the previous one", why);
    free_hosts(g->next_hosts, g->next_nhosts);
    g->next_hosts = NULL;
    if (g->next) {
        gateway_release(g->next);
        free(g->next);
        g->next = NULL;
    }
    if (g->pipeline)
        sr_pipeline_pause(g->pipeline, 0);
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
        reload_abandon(g, "cannot start the workers");
        return;
    }
    free(g->next_hosts); /* the pool owns the hosts now, not the array */
    g->next_hosts = NULL;
    sr_delivery_conf dconf = delivery_conf(&next->cfg);
    if (sr_delivery_reload(g->delivery, next->delivery_host, next->integ, next->ninteg, &dconf,
                           err, sizeof err) != 0) {
        sr_worker_pool_free(pool);
        reload_abandon(g, err);
        return;
    }
    sr_worker_pool_free(g->pool);
    g->pool = pool;
    sr_pipeline_set_workers(g->pipeline, pool);
    sr_pipeline_set_names(g->pipeline, next->names);
    swap_generation(g, next);
    sr_log_configure(g->cfg.log_level, g->cfg.log_format);
    gateway_release(next); /* the previous generation */
    free(next);
    g->next = NULL;
    sr_pipeline_pause(g->pipeline, 0);
    sr_info("gateway",
            "configuration reloaded: %zu integration(s), %zu worker(s) (inputs, admin and "
            "data_dir change only on restart)",
            g->ninteg, g->next_nhosts);
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

static void reload(sr_gateway *g) {
    char err[1024] = "";
    if (g->next || g->stopping || !g->pipeline)
        return;
    sr_info("gateway", "SIGHUP: reloading the configuration");
    g->next = calloc(1, sizeof *g->next);
    if (!g->next) {
        reload_abandon(g, "out of memory");
        return;
    }
    if (load(g->next, g->paths, g->npaths, 1, err, sizeof err) != 0) {
        reload_abandon(g, err);
        return;
    }
    g->next_nhosts = worker_count(&g->next->cfg);
    g->next_hosts = new_worker_hosts(g->next->host_conf, g->next_nhosts);
    if (!g->next_hosts) {
        reload_abandon(g, "cannot build the workers' Lua states");
        return;
    }
    /* Batches in progress were parsed for the old integrations: let them
     * commit, holding new ingest back for that moment. */
    sr_pipeline_pause(g->pipeline, 1);
    uv_timer_start(&g->reload_timer, on_reload_tick, 0, 5);
}

static void on_sighup(uv_signal_t *s, int signum) {
    (void)signum;
    reload(s->data);
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
    g->pool = sr_worker_pool_new(&g->loop, hosts, nworkers, &limits, sr_pipeline_batch_done,
                                 g->pipeline);
    free(hosts);
    hosts = NULL;
    if (!g->pool)
        return -1;
    sr_pipeline_set_workers(g->pipeline, g->pool);

    sr_ingest ingest = sr_pipeline_ingest(g->pipeline);
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
    if (g->cfg.admin.enabled && start_admin(g) != 0)
        return -1;
    g->ready = 1;
    sr_info("gateway",
            "siemrelay ready: %zu integration(s), %zu worker(s), http %s, tcp %s",
            g->ninteg, nworkers, g->cfg.http.enabled ? "on" : "off",
            g->cfg.tcp.enabled ? "on" : "off");
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
    int loaded = load(&g, paths, npaths, 1, err, sizeof err);
    sr_log_configure(g.cfg.log_level, g.cfg.log_format);
    if (loaded != 0) {
        fprintf(stderr, "siemrelay: %s\n", err);
        gateway_release(&g);
        return 1;
    }
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
    gateway_release(&g);
    return g.exit_code;
}
