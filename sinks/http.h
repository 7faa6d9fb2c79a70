/* http.h - the "http" transport: HTTP(S) on libcurl's multi interface,
 * driven by the loop (sinks/http.c).
 *
 * Keep-alive connections are shared by the sink's transfers. send() needs
 * payload->http and fails (-1, no callback) for a header name or value with a
 * line break. The sink adds no headers of its own and suppresses curl's
 * (Expect, Accept, a default Content-Type). transport_ok is 0 when no
 * complete HTTP response arrived (refused, timeout, TLS, reset mid-body). */
#ifndef SR_HTTP_H
#define SR_HTTP_H

#include "sink.h"

/* Its keys (http.c's table has the defaults); zero or negative numbers
 * mean the default. Strings are copied. */
typedef struct sr_http_settings {
    long long timeout_ms;         /* whole request */
    long long connect_timeout_ms; /* connection set-up */
    int insecure;                 /* skip certificate and host-name verification */
    const char *ca_file;          /* PEM bundle to verify the server with */
    const char *cert_file;        /* client certificate (mTLS) */
    const char *key_file;         /* client key (mTLS) */
    long long max_connections;    /* per sink */
} sr_http_settings;

/* Fails (NULL, `err`) only for unusable settings, e.g. an unreadable
 * ca_file/cert_file/key_file. */
sr_sink *sr_http_sink_new(uv_loop_t *loop, const sr_http_settings *s, char *err, size_t errlen);

#endif
