/* registry.c - transport names to sink constructors.
 *
 * A new native transport adds its constructor to sink.h and a row here; the
 * delivery layer opens sinks only through sr_sink_open. */
#include <stdio.h>
#include <string.h>

#include "sink.h"

typedef sr_sink *(*sink_ctor)(uv_loop_t *loop, const sr_sink_settings *s, char *err, size_t errlen);

static const struct {
    const char *name;
    sink_ctor open;
} transports[] = {
    {"http", sr_http_sink_new},
    {"file", sr_file_sink_new},
    {"stream", sr_stream_sink_new},
    {"kafka", sr_kafka_sink_new},
};

sr_sink *sr_sink_open(uv_loop_t *loop, const char *transport, const sr_sink_settings *s, char *err,
                      size_t errlen) {
    size_t n = sizeof transports / sizeof transports[0];
    for (size_t i = 0; i < n; i++)
        if (transport && strcmp(transport, transports[i].name) == 0)
            return transports[i].open(loop, s, err, errlen);
    int k = snprintf(err, errlen, "unknown transport '%s' (known:", transport ? transport : "");
    for (size_t i = 0; i < n && k > 0 && (size_t)k < errlen; i++)
        k += snprintf(err + k, errlen - (size_t)k, " %s", transports[i].name);
    if (k > 0 && (size_t)k < errlen)
        snprintf(err + k, errlen - (size_t)k, ")");
    return NULL;
}
