/* delivery_conf.c - the `delivery:` section's keys and their defaults. */
#include "delivery.h"

#include <stddef.h>

const sr_conf_key sr_delivery_conf_keys[] = {
    {.name = "max_attempts",
     .type = SR_CONF_INT,
     SR_CONF_AT(sr_delivery_conf, max_attempts),
     .dflt = "3",
     .min = 1,
     .max = 100,
     .expected = "an attempt count of at least 1",
     .doc = "attempts per batch before Error and inhibition"},
    {.name = "backoff",
     .type = SR_CONF_DURATION,
     SR_CONF_AT(sr_delivery_conf, backoff_ms),
     .dflt = "1s",
     .doc = "first retry delay; doubles per attempt, ±20% jitter"},
    {.name = "backoff_max",
     .type = SR_CONF_DURATION,
     SR_CONF_AT(sr_delivery_conf, backoff_max_ms),
     .dflt = "30s",
     .doc = "cap of the retry delay"},
    {.name = "inhibit",
     .type = SR_CONF_DURATION,
     SR_CONF_AT(sr_delivery_conf, inhibit_ms),
     .dflt = "5m",
     .doc = "how long an integration in Error waits before it tries again"},
    {.name = "status_window",
     .type = SR_CONF_DURATION,
     SR_CONF_AT(sr_delivery_conf, status_window_ms),
     .dflt = "24h",
     .doc = "how long an integration must go without a failed attempt or a rejection to be "
            "Connected (Sysdig's 24 hours; shorter for tests)"},
    {.name = "shutdown_timeout",
     .type = SR_CONF_DURATION,
     SR_CONF_AT(sr_delivery_conf, shutdown_timeout_ms),
     .dflt = "10s",
     .doc = "on SIGTERM/SIGINT, how long queued events are still delivered"},
    {.name = NULL},
};
