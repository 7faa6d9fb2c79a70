/* input_conf.c - the `inputs.http` and `inputs.tcp` sections (ingest.h's
 * sr_input_conf) as key tables (conf_table.h). */
#include <stddef.h>

#include "auth_guard.h"
#include "ingest.h"
#include "listener_conf.h"

static const char doc_input_enabled_http[] =
    "an `inputs:` section that does not name `http` turns it off";
static const char doc_input_enabled_tcp[] =
    "an `inputs:` section that does not name `tcp` turns it off";
static const char expect_input_listen[] =
    "host:port such as 127.0.0.1:8080 or [::1]:8080 (port 1-65535)";

#define INPUT_LISTEN(dflt_, doc_)                                                                  \
    {                                                                                              \
        .name = "listen", .type = SR_CONF_LISTEN, SR_CONF_AT(sr_input_conf, host),                 \
        .aux = offsetof(sr_input_conf, port), .dflt = dflt_, .expected = expect_input_listen,      \
        .doc = doc_                                                                                \
    }
#define INPUT_TLS                                                                                  \
    {                                                                                              \
        .name = "tls", .type = SR_CONF_SECTION, SR_CONF_AT(sr_input_conf, tls),                    \
        .sub = sr_tls_listen_conf_keys, .apply = sr_tls_listen_conf_check,                         \
        .doc = "see [TLS](#tls)"                                                                   \
    }

const sr_conf_key sr_input_http_conf_keys[] = {
    {.name = "enabled",
     .type = SR_CONF_BOOL,
     SR_CONF_AT(sr_input_conf, enabled),
     .dflt = "true",
     .doc = doc_input_enabled_http},
    INPUT_LISTEN("127.0.0.1:8080",
                 "`host:port`; IPv6 as `[::1]:8080` (quote it: `\"[::1]:8080\"`)"),
    {.name = "max_body",
     .type = SR_CONF_SIZE,
     SR_CONF_AT(sr_input_conf, max_body_bytes),
     .dflt = "16MiB",
     .doc = "larger bodies get 413 (before and after gzip)"},
    {.name = "token",
     .type = SR_CONF_STRING,
     .flags = SR_CONF_SECRET,
     SR_CONF_AT(sr_input_conf, token),
     .doc = "require `Authorization: Bearer <token>`"},
    SR_CONF_IDLE_TIMEOUT(sr_input_conf, "60s", "a request must arrive completely within it"),
    SR_CONF_HEADER_TIMEOUT(sr_input_conf, "10s"),
    SR_CONF_PROGRESS(sr_input_conf, "10s", "a request body (else 408)"),
    SR_CONF_CONN_LIMITS(sr_input_conf, limits, "10000", "256"),
    INPUT_TLS,
    {.name = "max_body_total",
     .type = SR_CONF_SIZE,
     SR_CONF_AT(sr_input_conf, max_body_total_bytes),
     .doc_default = "4 × `max_body`, at least `64MiB`",
     .doc = "request bodies being received at once, all connections together; a request "
            "beyond it gets 503 with `Retry-After`"},
    {.name = "failed_auth",
     .type = SR_CONF_SECTION,
     SR_CONF_AT(sr_input_conf, failed_auth),
     .sub = sr_auth_guard_conf_keys},
    {.name = NULL},
};

const sr_conf_key sr_input_tcp_conf_keys[] = {
    {.name = "enabled",
     .type = SR_CONF_BOOL,
     SR_CONF_AT(sr_input_conf, enabled),
     .dflt = "true",
     .doc = doc_input_enabled_tcp},
    INPUT_LISTEN("127.0.0.1:5140", "as for http"),
    {.name = "max_line",
     .type = SR_CONF_SIZE,
     SR_CONF_AT(sr_input_conf, max_line_bytes),
     .dflt = "1MiB",
     .doc = "longer NDJSON lines are rejected"},
    SR_CONF_IDLE_TIMEOUT(sr_input_conf, "60s", "a silent connection is closed"),
    SR_CONF_PROGRESS(sr_input_conf, "10s",
                     "a line unfinished over a whole interval (else the connection is closed)"),
    SR_CONF_CONN_LIMITS(sr_input_conf, limits, "10000", "256"),
    INPUT_TLS,
    {.name = NULL},
};
