/* admin_probe.h - "Send test event": one synthetic event through one
 * integration, straight to its destination.
 *
 * The event is a sample of the first channel the integration takes
 * (policy event, activity audit command, platform audit, monitor event),
 * named "siemrelay test event", with a fresh 32-hex-digit id, the current
 * time, severity = the integration's min_severity (so it passes the filter)
 * or 7 (Info), and the label "siemrelay.test": "true". It runs through the
 * site scripts, routing and the integration's encode on the given host,
 * then through the module's request (and auxiliary steps, at most 8) and
 * outcome, on a sink of the integration's transport opened for this probe
 * alone (timeouts capped at 15 s). The integration's queue, counters and
 * status are not touched: a test says whether the destination takes an
 * event now, and nothing else.
 *
 * The result: outcome "ok", "retry" or "reject" (the module's verdict,
 * as delivery would apply it), "dropped" (a site script dropped the event),
 * "failed" (scripts or encode failed, or the sink could not be opened) or
 * "cancelled" (the configuration was reloaded while it ran); the HTTP
 * status (0 when none), the latency, and the first SR_PROBE_EXCERPT bytes
 * of the response with the integration's secrets masked.
 *
 * Probes live in a list the owner cancels before the host goes away. Loop
 * thread only. */
#ifndef SR_ADMIN_PROBE_H
#define SR_ADMIN_PROBE_H

#include <stddef.h>

#include <uv.h>

#include "lua_host.h"

#define SR_PROBE_EXCERPT 512

typedef struct sr_probe_result {
    const char *outcome;
    long status;
    double latency_ms;
    const char *response; /* masked excerpt; "" when none */
    const char *error;    /* why it is not "ok"; "" when ok */
    const char *event_id;
} sr_probe_result;

typedef void (*sr_probe_cb)(void *ud, const sr_probe_result *r);

typedef struct sr_probe sr_probe;
typedef struct sr_probe_list {
    sr_probe *head;
} sr_probe_list;

/* Starts a probe of `host`'s integration `integ` (its name: `name`). `cb`
 * runs exactly once, possibly before this returns (an encode failure, a
 * sink that cannot be opened). */
void sr_probe_start(sr_probe_list *list, uv_loop_t *loop, sr_lua_host *host, size_t integ,
                    const char *name, int min_severity, sr_probe_cb cb, void *ud);

/* Ends every running probe: each callback runs with outcome "cancelled"
 * and error `why`. Call before the host is freed. */
void sr_probe_cancel_all(sr_probe_list *list, const char *why);

/* Appends the sample event for `channels` (an SR_CH_* mask) to `out`;
 * exposed for tests. */
int sr_probe_sample(unsigned channels, int severity, const char *id, long long now_ns,
                    const char *name, sr_buf *out);

#endif
