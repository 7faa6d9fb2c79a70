/* forwarding.c - the effective local_forwarder settings, and warnings about
 * events that would be accepted and forwarded nowhere. */
#include "forwarding.h"

#include <stdio.h>

#include "event.h"

/* Each channel with the message type that carries it (platform audit has
 * none: transmit_message_types never holds it back). */
static const struct {
    unsigned channel, msg_type;
    const char *msg_type_name;
} channel_types[] = {
    {SR_CH_SECURE_EVENTS_POLICIES, SR_MT_POLICY_EVENTS, "POLICY_EVENTS"},
    {SR_CH_ACTIVITY_AUDIT, SR_MT_SECURE_AUDIT, "SECURE_AUDIT"},
    {SR_CH_PLATFORM_AUDIT, 0, NULL},
    {SR_CH_MONITOR_EVENTS, SR_MT_MONITOR_EVENTS, "MONITOR_EVENTS"},
};

#define NCHANNELS (sizeof channel_types / sizeof channel_types[0])

int sr_forwarding_describe(const sr_config *cfg, sr_buf *out) {
    int rc = sr_buf_printf(out, "\"local_forwarder\":{\"enabled\":%s,\"transmit_message_types\":[",
                           cfg->forwarder_enabled ? "true" : "false");
    int first = 1;
    for (size_t k = 0; k < NCHANNELS; k++) {
        if (!channel_types[k].msg_type ||
            !(cfg->transmit_message_types & channel_types[k].msg_type))
            continue;
        rc |= sr_buf_printf(out, "%s\"%s\"", first ? "" : ",", channel_types[k].msg_type_name);
        first = 0;
    }
    rc |= sr_buf_puts(out, "]}");
    return rc ? -1 : 0;
}

size_t sr_forwarding_warnings(const sr_config *cfg, size_t nenabled, unsigned subscribed,
                              int per_channel, void (*warn)(void *ud, const char *msg), void *ud) {
    char msg[300];
    if (!cfg->forwarder_enabled) {
        warn(ud, "local_forwarder.enabled is false: events are accepted and counted as unrouted "
                 "(forwarder_disabled), and forwarded nowhere");
        return 1;
    }
    if (nenabled == 0) {
        warn(ud, "no enabled integration: events are accepted and counted as unrouted "
                 "(no_integration), and forwarded nowhere");
        return 1;
    }
    size_t n = 0;
    for (size_t k = 0; k < NCHANNELS; k++) {
        unsigned ch = channel_types[k].channel, mt = channel_types[k].msg_type;
        if ((subscribed & ch) && mt && !(cfg->transmit_message_types & mt)) {
            snprintf(msg, sizeof msg,
                     "channel %s is taken by an integration, but transmit_message_types leaves "
                     "out %s: those events are counted as unrouted (message_type)",
                     sr_channel_name(ch), channel_types[k].msg_type_name);
            warn(ud, msg);
            n++;
        } else if (per_channel && !(subscribed & ch)) {
            snprintf(msg, sizeof msg,
                     "no integration takes channel %s: its events are accepted and counted as "
                     "unrouted (no_integration)",
                     sr_channel_name(ch));
            warn(ud, msg);
            n++;
        }
    }
    return n;
}
