/* tls_reload.h - new certificates for the TLS listeners on a reload.
 *
 * A reload (SIGHUP, POST /api/reload) reads the certificate, key and client
 * CA files of every listener that runs TLS (the inputs, the admin API) again, with the `tls:`
 * settings of the new configuration (so renewed files at the same paths, new paths, min_version and
 * ciphers all take effect), without closing the listener: connections accepted afterwards get the
 * new context, open ones keep the session they negotiated.
 *
 * Two steps, so that a bad file changes nothing: prepare() builds every new
 * context before the reload commits (a failure refuses the whole reload,
 * and the running configuration, certificates included, stays); commit()
 * swaps them in when the reload is applied, discard() drops them when it
 * is abandoned. Turning TLS on or off for an input needs a restart: such a
 * change is logged and ignored. Loop thread only. */
#ifndef SR_TLS_RELOAD_H
#define SR_TLS_RELOAD_H

#include <stddef.h>

#include "admin.h"
#include "config.h"
#include "input_http.h"
#include "input_tcp.h"

typedef struct sr_tls_reload {
    sr_tls_ctx *http; /* fresh contexts, owned until committed or discarded */
    sr_tls_ctx *tcp;
    sr_tls_ctx *admin;
} sr_tls_reload;

/* 0, or -1 with "inputs.http: tls: cannot load certificate FILE: ..." in
 * err. `http`, `tcp` and `admin` are the running listeners (NULL when off). */
int sr_tls_reload_prepare(sr_tls_reload *r, const sr_input_http *http, const sr_input_tcp *tcp,
                          const sr_admin *admin, const sr_config *next, char *err, size_t errlen);
void sr_tls_reload_commit(sr_tls_reload *r, sr_input_http *http, sr_input_tcp *tcp,
                          sr_admin *admin);
void sr_tls_reload_discard(sr_tls_reload *r);

#endif
