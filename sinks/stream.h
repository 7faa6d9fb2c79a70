/* stream.h - the "stream" transport: records written as-is, in order, to
 * host:port over TCP, TLS or UDP (sinks/stream*.c).
 *
 * "tcp" and "tls" keep one persistent connection; TLS verifies the server
 * against ca_file or the system store and its host name unless `insecure`,
 * with an optional client certificate cert_file/key_file. "udp" sends one
 * datagram per record. The Lua module frames the records. A tcp/tls batch
 * succeeds once the peer's TCP acknowledged all of it and the connection
 * stayed healthy for a short settle time; until timeout_ms it is rewritten on
 * reconnect (backoff 100 ms to 5 s; connect_timeout_ms per attempt), then
 * fails. TLS refusals fail at once.
 *
 * Inside the sink, sr_stream_sink_new checks the settings every protocol
 * shares and hands them to the protocol's constructor:
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

/* Its keys (stream.c's table has the defaults); zero or negative timeouts
 * mean the default. Strings are copied. */
typedef struct sr_stream_settings {
    const char *host;     /* peer host name or address */
    long long port;       /* peer port */
    const char *protocol; /* "tcp" (when NULL), "udp" or "tls" */
    long long timeout_ms; /* a batch's time to be delivered */
    long long connect_timeout_ms;
    int insecure; /* tls: skip certificate and host-name verification */
    const char *ca_file;
    const char *cert_file;
    const char *key_file;
} sr_stream_settings;

/* Creation fails (NULL, `err`) for a missing host, a bad port or protocol,
 * or unreadable TLS files. */
sr_sink *sr_stream_sink_new(uv_loop_t *loop, const sr_stream_settings *s, char *err, size_t errlen);

/* `tls` selects TLS over the TCP connection. */
sr_sink *sr_stream_tcp_sink_new(uv_loop_t *loop, const sr_stream_settings *s, int tls, char *err,
                                size_t errlen);
sr_sink *sr_stream_udp_sink_new(uv_loop_t *loop, const sr_stream_settings *s, char *err,
                                size_t errlen);

/* "host:port", or "[v6]:port", for log lines and errors. */
void sr_stream_endpoint(char *buf, size_t len, const char *host, int port);

#endif
