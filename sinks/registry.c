/* registry.c - transport names to their declarations (sink.h's
 * sr_sink_transport: the keys they accept and their constructor).
 *
 * A native transport defines `const sr_sink_transport sr_transport_<name>`
 * in its own file and gets one line in TRANSPORTS below; nothing else in the
 * tree names it. The delivery layer opens sinks only through sr_sink_open,
 * and the Lua host fills settings only through the key tables. */
#include <stdio.h>
#include <string.h>

#include "sink.h"

/* In the order error messages list them. */
#define TRANSPORTS(X)                                                                              \
    X(http)                                                                                        \
    X(file)                                                                                        \
    X(stream)                                                                                      \
    X(kafka)

#define DECLARE(name) extern const sr_sink_transport sr_transport_##name;
TRANSPORTS(DECLARE)

#define ENTRY(name) &sr_transport_##name,
static const sr_sink_transport *const transports[] = {TRANSPORTS(ENTRY)};

#define NTRANSPORTS (sizeof transports / sizeof transports[0])

const sr_sink_transport *sr_sink_transport_find(const char *name) {
    for (size_t i = 0; i < NTRANSPORTS; i++)
        if (name && strcmp(name, transports[i]->name) == 0)
            return transports[i];
    return NULL;
}

void sr_sink_transport_names(char *buf, size_t len) {
    size_t k = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < NTRANSPORTS && k < len; i++) {
        int w = snprintf(buf + k, len - k, "%s%s", i ? " " : "", transports[i]->name);
        if (w < 0)
            break;
        k += (size_t)w;
    }
}

sr_sink *sr_sink_open(uv_loop_t *loop, const char *transport, const void *settings, char *err,
                      size_t errlen) {
    const sr_sink_transport *t = sr_sink_transport_find(transport);
    if (t)
        return t->open(loop, settings, err, errlen);
    char known[128];
    sr_sink_transport_names(known, sizeof known);
    snprintf(err, errlen, "unknown transport '%s' (known: %s)", transport ? transport : "", known);
    return NULL;
}
