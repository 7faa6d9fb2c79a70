/* auth_guard_conf.c - the `failed_auth:` section of a listener that checks
 * credentials (inputs.http, admin): auth_guard.h's thresholds. */
#include <stddef.h>

#include "auth_guard.h"

/* The defaults are auth_guard.h's constants, written as YAML text. */
const sr_conf_key sr_auth_guard_conf_keys[] = {
    {.name = "max_failures",
     .type = SR_CONF_INT,
     SR_CONF_AT(sr_auth_guard_conf, max_failures),
     .dflt = "20",
     .min = 1,
     .max = 1000000,
     .expected = "an integer from 1 to 1000000",
     .doc = "failed authentications from one address within `window` before it gets 429 "
            "with `Retry-After`, credentials unchecked, until its window ends"},
    {.name = "window",
     .type = SR_CONF_DURATION,
     SR_CONF_AT(sr_auth_guard_conf, window_ms),
     .dflt = "60s",
     .max = 86400000,
     .doc = "the per-address window, and the interval of the failure summaries (log, audit "
            "trail); at most 24h"},
    {.name = "log_lines",
     .type = SR_CONF_INT,
     SR_CONF_AT(sr_auth_guard_conf, log_lines),
     .dflt = "10",
     .min = 1,
     .max = 10000,
     .expected = "an integer from 1 to 10000",
     .doc = "log lines about single failures per interval; the rest are in the summary"},
    {.name = "peers",
     .type = SR_CONF_INT,
     SR_CONF_AT(sr_auth_guard_conf, peers),
     .dflt = "4096",
     .min = 16,
     .max = 1048576,
     .expected = "an integer from 16 to 1048576",
     .doc = "addresses remembered at once; beyond it the oldest window is forgotten"},
    {.name = NULL},
};
