/* falco.h - Falco's JSON output, recognised and rewritten as the Sysdig
 * runtime policy event that integrations expect (see falco.c). The event
 * parser calls these before indexing a document. */
#ifndef SR_FALCO_H
#define SR_FALCO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "json.h"

/* Normalises Falco's JSON output (time, rule, priority, output,
 * output_fields, tags, hostname, source) into the runtime policy event shape,
 * appending the new document to `out`. Falco priority maps onto Sysdig's
 * severity integers as syslog levels do: Emergency 0, Alert 1, Critical 2,
 * Error 3, Warning 4, Notice 5, Informational 6, Debug 7. Returns 0, or -1
 * with `err` filled when a required Falco field is missing or malformed.
 * `p` must be a validated object. */
int sr_falco_normalize(const char *p, size_t n, sr_buf *out, sr_json_error *err);
/* True when a validated object looks like Falco output: no "type" and has
 * "rule", "priority" and "output". */
int sr_falco_detect(const char *p, size_t n);

/* "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)" (any zone offset) into
 * nanoseconds since the epoch; 0, or -1 when it is not that. Fraction
 * digits beyond nanoseconds are ignored. */
int sr_rfc3339_parse(const char *s, int64_t *ns_out);

#endif
