/* tls_reload.c - fresh TLS contexts for the running inputs. */
#include "tls_reload.h"

#include <stdio.h>

#include "log.h"

/* A fresh context for one input into *out (NULL: nothing to reload). */
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
                          const sr_config *next, char *err, size_t errlen) {
    r->http = r->tcp = NULL;
    if (http && prepare_one("inputs.http", sr_input_http_tls(http), &next->http.tls, &r->http, err,
                            errlen) != 0)
        return -1;
    if (tcp && prepare_one("inputs.tcp", sr_input_tcp_tls(tcp), &next->tcp.tls, &r->tcp, err,
                           errlen) != 0) {
        sr_tls_reload_discard(r);
        return -1;
    }
    return 0;
}

void sr_tls_reload_commit(sr_tls_reload *r, sr_input_http *http, sr_input_tcp *tcp) {
    if (r->http && http) {
        sr_tls_ctx_adopt(sr_input_http_tls(http), r->http);
        sr_info("gateway", "inputs.http: certificate and TLS settings re-read");
    } else {
        sr_tls_ctx_free(r->http);
    }
    if (r->tcp && tcp) {
        sr_tls_ctx_adopt(sr_input_tcp_tls(tcp), r->tcp);
        sr_info("gateway", "inputs.tcp: certificate and TLS settings re-read");
    } else {
        sr_tls_ctx_free(r->tcp);
    }
    r->http = r->tcp = NULL;
}

void sr_tls_reload_discard(sr_tls_reload *r) {
    sr_tls_ctx_free(r->http);
    sr_tls_ctx_free(r->tcp);
    r->http = r->tcp = NULL;
}
