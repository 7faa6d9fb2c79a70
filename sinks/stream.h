/* stream.h - inside the stream sink (sinks/stream*.c); not for other users.
 *
 * sr_stream_sink_new (sink.h) checks the settings every protocol shares and
 * hands them to the protocol's constructor:
 *   stream_tcp.c  "tcp" and "tls": one persistent connection, batches written
 *                 back to back, each confirmed by the peer's TCP and a settle
 *                 time (the at-least-once rules are in that file's header);
 *   stream_udp.c  "udp": one datagram per record, fire and forget.
 * Both copy what they keep of the settings. */
#ifndef SR_STREAM_H
#define SR_STREAM_H

#include "sink.h"

#define SR_STREAM_DEFAULT_TIMEOUT_MS         30000
#define SR_STREAM_DEFAULT_CONNECT_TIMEOUT_MS 10000

/* `tls` selects TLS over the TCP connection. */
sr_sink *sr_stream_tcp_sink_new(uv_loop_t *loop, const sr_sink_settings *s, int tls, char *err,
                                size_t errlen);
sr_sink *sr_stream_udp_sink_new(uv_loop_t *loop, const sr_sink_settings *s, char *err,
                                size_t errlen);

/* "host:port", or "[v6]:port", for log lines and errors. */
void sr_stream_endpoint(char *buf, size_t len, const char *host, int port);

#endif
