/* json_path.h - finding a value in JSON text by a path, for script test
 * expectations.
 *
 * A path is keys separated by dots: `content.fields.proc.cmdline`. A key
 * that holds dots (labels do: `kubernetes.cluster.name`) is written in
 * brackets and quotes: `labels["kubernetes.cluster.name"]`; `[N]` is the
 * N-th (0-based) element of an array: `content.ruleTags[0]`. */
#ifndef SR_JSON_PATH_H
#define SR_JSON_PATH_H

#include <stddef.h>

#include "json.h"

/* Looks `path` up in the validated JSON value [p, p+n). Returns 1 and fills
 * `m` (val_off relative to p) when found, 0 when absent (or a step meets a
 * value of the wrong kind), -1 when the path itself is malformed. */
int sr_json_path_get(const char *p, size_t n, const char *path, sr_json_member *m);

#endif
