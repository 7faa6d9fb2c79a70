/* config_loader.h - what the key tables' readers (config_keys.c,
 * integration_keys.c) share with the loader (config.c). Private to
 * runtime/config. */
#ifndef SR_CONFIG_LOADER_H
#define SR_CONFIG_LOADER_H

#include <stddef.h>

#include "conf_table.h"
#include "config.h"

/* The loader's state across files: sr_conf_ctx.ud while loading. */
typedef struct sr_config_loader {
    sr_config *cfg;
    size_t integrations_cap;
    int inputs_seen;         /* some file has an `inputs:` section */
    int http_seen, tcp_seen; /* ... naming this input */
    int kafka_seen;          /* some file has `inputs.kafka` (off otherwise) */
} sr_config_loader;

/* Reads one `integrations:` element and appends it to the configuration:
 * names it if unnamed, refuses a name used before. */
int sr_config_add_integration(sr_conf_ctx *ctx, const sr_node *map);

/* Frees what an integration owns (not its `configuration`, owned by the
 * documents) and zeroes it. */
void sr_config_integration_free(sr_integration_conf *ic);

/* Reads a `scripts:` value: a path, or a list whose elements are paths or
 * maps {path, params}. Replaces *paths (malloc'd strings), *entries (the
 * element nodes, owned by the documents) and *n. */
int sr_config_read_scripts(sr_conf_ctx *ctx, const sr_conf_item *it, char ***paths,
                           const sr_node ***entries, size_t *n);
/* Frees what sr_config_read_scripts read and zeroes it. */
void sr_config_free_scripts(char ***paths, const sr_node ***entries, size_t *n);
/* The paths as a JSON array (parameters are the script's to describe). */
void sr_config_print_scripts(sr_buf *out, char *const *paths, size_t n);

#endif
