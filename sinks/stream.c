/* stream.c - the "stream" transport: records written as-is to a TCP, TLS or
 * UDP peer. Checks the shared settings and picks the protocol's sink. */
#include "stream.h"

#include <stdio.h>
#include <string.h>

void sr_stream_endpoint(char *buf, size_t len, const char *host, int port) {
    if (strchr(host, ':'))
        snprintf(buf, len, "[%s]:%d", host, port);
    else
        snprintf(buf, len, "%s:%d", host, port);
}

sr_sink *sr_stream_sink_new(uv_loop_t *loop, const sr_stream_settings *s, char *err,
                            size_t errlen) {
    if (!s->host || !*s->host) {
        snprintf(err, errlen, "stream sink: no host");
        return NULL;
    }
    if (s->port < 1 || s->port > 65535) {
        snprintf(err, errlen, "stream sink: port %lld is not in 1..65535", s->port);
        return NULL;
    }
    const char *proto = s->protocol && *s->protocol ? s->protocol : "tcp";
    if (strcmp(proto, "tcp") == 0)
        return sr_stream_tcp_sink_new(loop, s, 0, err, errlen);
    if (strcmp(proto, "tls") == 0)
        return sr_stream_tcp_sink_new(loop, s, 1, err, errlen);
    if (strcmp(proto, "udp") == 0)
        return sr_stream_udp_sink_new(loop, s, err, errlen);
    snprintf(err, errlen, "stream sink: unknown protocol '%s' (use tcp, udp or tls)", proto);
    return NULL;
}

static const sr_sink_key stream_keys[] = {
    SR_SINK_KEY(sr_stream_settings, host, SR_SINK_KEY_STRING, 0, "peer host name or address"),
    SR_SINK_KEY(sr_stream_settings, port, SR_SINK_KEY_INT, 0, "peer port"),
    SR_SINK_KEY(sr_stream_settings, protocol, SR_SINK_KEY_STRING, 0,
                "\"tcp\" (when unset), \"udp\" or \"tls\""),
    SR_SINK_KEY(sr_stream_settings, timeout_ms, SR_SINK_KEY_INT, SR_STREAM_DEFAULT_TIMEOUT_MS,
                "a batch's time to be delivered, reconnections included, in milliseconds"),
    SR_SINK_KEY(sr_stream_settings, connect_timeout_ms, SR_SINK_KEY_INT,
                SR_STREAM_DEFAULT_CONNECT_TIMEOUT_MS, "one connection attempt, in milliseconds"),
    SR_SINK_TLS_KEYS(sr_stream_settings),
    {0},
};

static sr_sink *stream_open(uv_loop_t *loop, const void *s, char *err, size_t errlen) {
    return sr_stream_sink_new(loop, s, err, errlen);
}

const sr_sink_transport sr_transport_stream = {"stream", stream_keys, sizeof(sr_stream_settings),
                                               stream_open, NULL};
