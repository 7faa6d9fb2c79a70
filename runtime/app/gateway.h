/* gateway.h - the process context: one running siemrelay.
 *
 * Everything the process shares lives here and is passed down from main():
 * the loop, the loaded configuration, the Lua hosts, the pipeline, delivery
 * and the inputs. There are no other process-wide objects. */
#ifndef SR_GATEWAY_H
#define SR_GATEWAY_H

#include <stddef.h>

#include "lua_host.h"

/* Validates the configuration exactly as a start would (including each
 * integration's options and setup) and prints the effective configuration,
 * secrets masked, to stdout. Returns the process exit code. */
int sr_gateway_check(const char *const *paths, size_t npaths);

/* The configuration a start would run (the -c files, then the API-defined
 * integrations), loaded but not started, for offline commands (`siemrelay
 * test`). Its Lua host configuration lists the enabled integrations in
 * order, as the workers see them; the caller may change it (e.g. set
 * `trace`) before building hosts from it, and frees the gateway after them.
 * NULL on error, with `err` saying why (FILE:LINE: ...). */
typedef struct sr_gateway sr_gateway;
sr_gateway *sr_gateway_load(const char *const *paths, size_t npaths, char *err, size_t errlen);
sr_lua_host_conf *sr_gateway_host_conf(sr_gateway *g);
void sr_gateway_free(sr_gateway *g);

/* Runs until SIGTERM or SIGINT, then drains and returns the exit code. */
int sr_gateway_run(const char *const *paths, size_t npaths);

#endif
