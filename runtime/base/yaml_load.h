/* yaml_load.h - YAML text into sr_node trees (node.h), on libyaml.
 *
 * One document of maps, sequences and scalars, each node carrying its line
 * for error messages; duplicate keys, merge keys and a second document are
 * errors, aliases are expanded (yaml_load.c lists every rule). */
#ifndef SR_YAML_LOAD_H
#define SR_YAML_LOAD_H

#include <stddef.h>

#include "node.h"

/* Loads one YAML file (a single document). On error returns NULL and writes
 * "FILE:LINE:COL: message" into err. Environment references ${NAME} and
 * ${NAME:-default} in scalars are expanded; an unset variable without a
 * default is an error naming it. */
sr_node *sr_yaml_load_file(const char *path, char *err, size_t errlen);
/* Same, from memory; `name` is used as the file name in errors. */
sr_node *sr_yaml_load_string(const char *name, const char *text, size_t len, char *err,
                             size_t errlen);

#endif
