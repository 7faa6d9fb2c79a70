/* listener_conf.h - the configuration rows every listener shares (the HTTP
 * and TCP inputs, the admin API): its `tls:` section, its deadlines and its
 * connection limits, so that the same key means the same thing, with the
 * same checks and documentation, wherever it appears. */
#ifndef SR_LISTENER_CONF_H
#define SR_LISTENER_CONF_H

#include <stddef.h>

#include "conf_table.h"

/* A listener's `tls:` (tls_engine.h's sr_tls_listen_conf). */
extern const sr_conf_key sr_tls_listen_conf_keys[];
/* The section's `.apply`: the merged result is complete (a cert with its
 * key, client_ca over TLS only, ciphers OpenSSL takes). */
int sr_tls_listen_conf_check(sr_conf_ctx *ctx, const sr_conf_item *it, void *field);

/* Deadlines (http_server.h), the same rows for every listener that has them. */
#define SR_CONF_IDLE_TIMEOUT(type_, dflt_, doc_)                                                   \
    {                                                                                              \
        .name = "idle_timeout", .type = SR_CONF_DURATION, SR_CONF_AT(type_, idle_timeout_ms),      \
        .dflt = dflt_, .doc = doc_                                                                 \
    }
#define SR_CONF_HEADER_TIMEOUT(type_, dflt_)                                                       \
    {                                                                                              \
        .name = "header_timeout", .type = SR_CONF_DURATION, .flags = SR_CONF_ZERO_OK,              \
        SR_CONF_AT(type_, header_timeout_ms), .dflt = dflt_,                                       \
        .doc = "a request's head must be complete within it of its first byte (else 408); `0` = "  \
               "only `idle_timeout`"                                                               \
    }
/* Connection limits (conn_guard.h), the same rows for every listener. */
#define SR_CONF_CONN_LIMIT_MAX 1000000
#define SR_CONF_CONN_LIMITS(type_, field_, total_, per_peer_)                                      \
    {.name = "max_connections",                                                                    \
     .type = SR_CONF_INT,                                                                          \
     SR_CONF_AT(type_, field_.max_connections),                                                    \
     .dflt = total_,                                                                               \
     .min = 0,                                                                                     \
     .max = SR_CONF_CONN_LIMIT_MAX,                                                                \
     .expected = "an integer from 0 (no limit) to 1000000",                                        \
     .doc = "connections open at once; at the limit the connection idle longest (no request "      \
            "in progress) is closed for a new one, which is refused only when none is idle; "      \
            "`0` = no limit"},                                                                     \
    {                                                                                              \
        .name = "max_connections_per_peer", .type = SR_CONF_INT,                                   \
        SR_CONF_AT(type_, field_.max_per_peer), .dflt = per_peer_, .min = 0,                       \
        .max = SR_CONF_CONN_LIMIT_MAX, .expected = "an integer from 0 (no limit) to 1000000",      \
        .doc = "connections open at once from one address; the next one is closed at once; "       \
               "`0` = no limit"                                                                    \
    }
#define SR_CONF_PROGRESS(type_, interval_, what_)                                                  \
    {.name = "min_progress_bytes",                                                                 \
     .type = SR_CONF_SIZE,                                                                         \
     SR_CONF_AT(type_, min_progress_bytes),                                                        \
     .dflt = "1KiB",                                                                               \
     .doc = what_ " must bring at least this much in every `progress_interval`"},                  \
    {                                                                                              \
        .name = "progress_interval", .type = SR_CONF_DURATION, .flags = SR_CONF_ZERO_OK,           \
        SR_CONF_AT(type_, progress_interval_ms), .dflt = interval_,                                \
        .doc = "see `min_progress_bytes`; `0` = no such rule"                                      \
    }

#endif
