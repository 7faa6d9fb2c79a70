/* lua_schema.h - the integration types a gateway can run, with their
 * option schemas, for GET /api/types and the admin page's forms.
 *
 * Every <type>.lua in the search path (the configured integration_paths,
 * then <lua_dir>/integrations; the first file of a name wins, as for a
 * configured integration) is loaded in a Lua state built like the
 * gateway's (lua_host.h), and its M.type, M.transport, M.channels and
 * M.options are described as JSON, sorted by type:
 *
 *   [{"type":"WEBHOOK","file":".../webhook.lua","transport":"http",
 *     "channels":["SECURE_EVENTS_POLICIES",...],
 *     "options":[{"name":"endpoint","type":"string","required":true,
 *                 "secret":false,"default":null,"enum":null,
 *                 "description":"...","aliases":["ServiceURL"]}, ...]}]
 *
 * Options are listed required ones first, then by name; an alias
 * (`alias_of`) is not an option of its own but appears in its target's
 * `aliases`. A module that fails to load is listed with "error" (its
 * message) and no options. Defaults are never secret values: they come
 * from the module, not the configuration. */
#ifndef SR_LUA_SCHEMA_H
#define SR_LUA_SCHEMA_H

#include "buf.h"
#include "lua_host.h"

/* Appends the catalogue for `conf`'s lua_dir and integration_paths (its
 * integrations are ignored). Returns 0, or -1 with `err`. */
int sr_lua_schema_catalog(const sr_lua_host_conf *conf, sr_buf *out, char *err, size_t errlen);

#endif
