/* tls_reload.c - fresh TLS contexts for the running listeners. */
#include "tls_reload.h"

#include <stdio.h>

#include "log.h"

/* A fresh context for one listener into *out (NULL: nothing to reload). */
static int prepare_one(const char *name, sr_tls_ctx *running, const sr_tls_listen_conf *conf,
                       sr_tls_ctx **out, char *err, size_t errlen) {
    char why[768];
    *out = NULL;
    if (!running && !conf->cert_file)
        return 0;
    if (!running || !conf->cert_file) {
        sr_warn("gateway", "%s: turning TLS %s takes a restart; the listener stays %s", name,
                running ? "off" : "on", running ? "TLS" : "plain");
        return 0;
    }
    if (!(*out = sr_tls_ctx_new_server(conf, why, sizeof why))) {
        snprintf(err, errlen, "%s: %s", name, why);
        return -1;
    }
    return 0;
}

int sr_tls_reload_prepare(sr_tls_reload *r, const sr_input_http *http, const sr_input_tcp *tcp,
                          const sr_admin *admin, const sr_config *next, char *err, size_t errlen) {
    r->http = r->tcp = r->admin = NULL;
    if ((http && prepare_one("inputs.http", sr_input_http_tls(http), &next->http.tls, &r->http, err,
                             errlen) != 0) ||
        (tcp && prepare_one("inputs.tcp", sr_input_tcp_tls(tcp), &next->tcp.tls, &r->tcp, err,
                            errlen) != 0) ||
        (admin && prepare_one("admin", sr_admin_tls(admin), &next->admin.tls, &r->admin, err,
                              errlen) != 0)) {
        sr_tls_reload_discard(r);
        return -1;
    }
    return 0;
}

/* Hands `fresh` to the running context (or frees it when there is none). */
static void commit_one(const char *name, sr_tls_ctx *running, sr_tls_ctx *fresh) {
    if (!fresh)
        return;
    if (!running) {
        sr_tls_ctx_free(fresh);
        return;
    }
    sr_tls_ctx_adopt(running, fresh);
    sr_info("gateway", "%s: certificate and TLS settings re-read", name);
}

void sr_tls_reload_commit(sr_tls_reload *r, sr_input_http *http, sr_input_tcp *tcp,
                          sr_admin *admin) {
    commit_one("inputs.http", http ? sr_input_http_tls(http) : NULL, r->http);
    commit_one("inputs.tcp", tcp ? sr_input_tcp_tls(tcp) : NULL, r->tcp);
    commit_one("admin", admin ? sr_admin_tls(admin) : NULL, r->admin);
    r->http = r->tcp = r->admin = NULL;
}

void sr_tls_reload_discard(sr_tls_reload *r) {
    sr_tls_ctx_free(r->http);
    sr_tls_ctx_free(r->tcp);
    sr_tls_ctx_free(r->admin);
    r->http = r->tcp = r->admin = NULL;
}
