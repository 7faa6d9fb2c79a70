/* gateway.h - the process context: one running siemrelay.
 *
 * Everything the process shares lives here and is passed down from main():
 * the loop, the loaded configuration, the Lua hosts, the pipeline, delivery
 * and the inputs. There are no other process-wide objects. */
#ifndef SR_GATEWAY_H
#define SR_GATEWAY_H

#include <stddef.h>

/* Validates the configuration exactly as a start would (including each
 * integration's options and setup) and prints the effective configuration,
 * secrets masked, to stdout. Returns the process exit code. */
int sr_gateway_check(const char *const *paths, size_t npaths);

/* Runs until SIGTERM or SIGINT, then drains and returns the exit code. */
int sr_gateway_run(const char *const *paths, size_t npaths);

#endif
