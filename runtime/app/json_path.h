/* json_path.h - finding a value in JSON text by a path, for script test
 * expectations. Paths are the ones scripts use (event_path.h):
 * `content.fields["proc.cmdline"]`, `labels['kubernetes.cluster.name']`,
 * `content.ruleTags[0]` (indexes count from 0). */
#ifndef SR_JSON_PATH_H
#define SR_JSON_PATH_H

#include <stddef.h>

#include "json.h"

/* Looks `path` up in the validated JSON value [p, p+n). Returns 1 and fills
 * `m` (val_off relative to p) when found, 0 when absent (or a step meets a
 * value of the wrong kind), -1 when the path itself is malformed. */
int sr_json_path_get(const char *p, size_t n, const char *path, sr_json_member *m);

#endif
