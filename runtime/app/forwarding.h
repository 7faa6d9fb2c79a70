/* forwarding.h - what a loaded configuration forwards, said before any
 * event arrives.
 *
 * `--check` prints the effective `local_forwarder` settings; `--check`,
 * start and reload warn about configurations under which the gateway would
 * accept events (answering 200) and forward them nowhere: forwarding
 * disabled, no enabled integration, a channel taken by integrations but
 * whose message type is not transmitted, and (for --check, which has no
 * traffic to go by) each channel no integration takes. At run time the
 * pipeline counts such events as `unrouted` (pipeline.h). */
#ifndef SR_FORWARDING_H
#define SR_FORWARDING_H

#include <stddef.h>

#include "buf.h"
#include "config.h"

/* Appends `"local_forwarder":{"enabled":..,"transmit_message_types":[..]}`. */
int sr_forwarding_describe(const sr_config *cfg, sr_buf *out);

/* Calls `warn(ud, msg)` once per case above. `nenabled` counts the enabled
 * integrations, `subscribed` is the SR_CH_* mask of the channels they take;
 * `per_channel` adds a warning for each channel none takes. Returns how many
 * warnings there were. */
size_t sr_forwarding_warnings(const sr_config *cfg, size_t nenabled, unsigned subscribed,
                              int per_channel, void (*warn)(void *ud, const char *msg), void *ud);

#endif
