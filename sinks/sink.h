/* sink.h - the small interface every native transport implements.
 *
 * A sink moves one batch to its destination and reports what happened; it
 * never retries or decides what a response means. The delivery layer
 * (runtime/delivery/delivery.c) owns batching, retry, inhibition and dead-lettering,
 * and asks the integration's Lua `outcome` to classify HTTP responses.
 *
 * Lifecycle: create with the transport's constructor, call send() any number
 * of times (one batch in flight per call; a sink may accept several at once),
 * close() when done. send() copies what it needs from the payload, so the
 * caller may free it as soon as send() returns. The done callback is always
 * called later from the uv loop, exactly once per successful send(), never
 * from inside send(). After close() no callback fires; in-flight batches
 * are abandoned (the delivery layer still holds their records). */
#ifndef SR_SINK_H
#define SR_SINK_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sr_sink sr_sink;

typedef struct sr_sink_header {
    const char *name;
    const char *value;
} sr_sink_header;

/* An HTTP request as an integration's Lua `request` builds it. */
typedef struct sr_sink_request {
    const char *method; /* "POST" if NULL */
    const char *url;
    const sr_sink_header *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
} sr_sink_request;

typedef struct sr_sink_payload {
    const char *const *recs; /* the encoded records, in order */
    const uint32_t *lens;
    size_t n;
    const sr_sink_request *http; /* http transport only */
} sr_sink_payload;

#define SR_SINK_BODY_EXCERPT 65536

typedef struct sr_sink_result {
    int transport_ok; /* 0: failed before any response (refused, timeout,
                         TLS, write error); `error` says why */
    char error[256];
    long status;      /* HTTP status; 0 for non-HTTP sinks */
    const char *body; /* response body, at most SR_SINK_BODY_EXCERPT bytes */
    size_t body_len;
    long retry_after_ms; /* from Retry-After, or -1 */
    double latency_ms;   /* send() to completion */
    /* Non-HTTP transports that learn each record's fate (kafka delivery
     * reports) set items[i] to an sr_sink_item per record, in payload order,
     * and item_errors[i] to a reason (or NULL). NULL items: the whole batch
     * shares transport_ok. */
    const uint8_t *items;
    const char *const *item_errors;
    size_t nitems;
} sr_sink_result;

typedef enum { SR_SINK_ITEM_OK, SR_SINK_ITEM_RETRY, SR_SINK_ITEM_REJECT } sr_sink_item;

typedef void (*sr_sink_done_cb)(void *ud, const sr_sink_result *res);

typedef struct sr_sink_ops {
    const char *name;
    int (*send)(sr_sink *s, const sr_sink_payload *p, sr_sink_done_cb cb, void *ud);
    void (*close)(sr_sink *s);
} sr_sink_ops;

struct sr_sink {
    const sr_sink_ops *ops;
};

typedef struct sr_sink_prop {
    const char *name;
    const char *value;
} sr_sink_prop;

/* Transport settings, filled from what the integration's Lua `setup`
 * returned. Fields a transport does not use are ignored. Strings are copied. */
typedef struct sr_sink_settings {
    /* http */
    long timeout_ms;         /* whole request; default 30000 */
    long connect_timeout_ms; /* default 10000 */
    int insecure;            /* skip certificate and host-name verification */
    const char *ca_file;     /* PEM bundle to verify the server with */
    const char *cert_file;   /* client certificate (mTLS) */
    const char *key_file;    /* client key (mTLS) */
    int max_connections;     /* per sink; default 4 */
    /* file */
    const char *path;
    unsigned long long rotate_bytes; /* rotate when the file would exceed it; 0 = never */
    int keep_files;                  /* rotated files kept: path.1 .. path.N; default 5 */
    /* stream (syslog over tcp/udp/tls) and kafka */
    const char *host;      /* stream: peer host name or address */
    int port;              /* stream: peer port */
    const char *protocol;  /* stream: "tcp", "udp" or "tls" */
    const char *brokers;   /* kafka: bootstrap servers, "h1:9092,h2:9092" */
    const char *topic;     /* kafka */
    const char *key_field; /* kafka: top-level record field used as the message key */
    /* Further transport-specific settings from `setup`'s `props` table, as
     * name/value strings (kafka: librdkafka properties, and "header.<Name>"
     * for static message headers). */
    const sr_sink_prop *props;
    size_t nprops;
} sr_sink_settings;

/* HTTP(S) on libcurl's multi interface, driven by `loop`; keep-alive
 * connections are shared by the sink's transfers. Fails (NULL, `err`) only
 * for unusable settings, e.g. an unreadable ca_file/cert_file/key_file.
 * send() needs payload->http and fails (-1, no callback) for a header name or
 * value with a line break. The sink adds no headers of its own and suppresses
 * curl's (Expect, Accept, a default Content-Type). transport_ok is 0 when no
 * complete HTTP response arrived (refused, timeout, TLS, reset mid-body). */
sr_sink *sr_http_sink_new(uv_loop_t *loop, const sr_sink_settings *s, char *err, size_t errlen);
/* Records appended as lines to settings->path (runtime/base/rotating_file.h),
 * written and fdatasync'ed on the libuv threadpool, in send() order. A path
 * that cannot be opened fails creation (NULL, `err`); a later write error
 * fails that batch through the callback (transport_ok 0, `error`). */
sr_sink *sr_file_sink_new(uv_loop_t *loop, const sr_sink_settings *s, char *err, size_t errlen);
/* Records written as-is, in order, to settings->host:port over
 * settings->protocol: "tcp" or "tls" (one persistent connection; TLS verifies
 * the server against ca_file or the system store and its host name unless
 * `insecure`, with an optional client certificate cert_file/key_file), or
 * "udp" (one datagram per record). The Lua module frames the records. A
 * tcp/tls batch succeeds once the peer's TCP acknowledged all of it and the
 * connection stayed healthy for a short settle time; until timeout_ms it is
 * rewritten on reconnect (backoff 100 ms to 5 s; connect_timeout_ms per
 * attempt), then fails. TLS refusals fail at once. Creation fails (NULL,
 * `err`) for a missing host, a bad port or protocol, or unreadable TLS files.
 * Details in sinks/stream_tcp.c and sinks/stream_udp.c. */
sr_sink *sr_stream_sink_new(uv_loop_t *loop, const sr_sink_settings *s, char *err, size_t errlen);
/* Records produced as messages of settings->topic on settings->brokers by an
 * idempotent librdkafka producer (acks=all) on its own threads, woken into
 * the loop through its queue's I/O event. A message's key is the record's
 * top-level member settings->key_field (none if unset or absent); props are
 * librdkafka properties, plus "header.<Name>" (static headers) and
 * "keytab.base64" (a Kerberos keytab the sink writes to a private 0600 file
 * for sasl.kerberos.keytab). timeout_ms is message.timeout.ms; insecure,
 * ca_file, cert_file and key_file configure TLS. Every batch reports
 * per-record items from the delivery reports: failures of the record itself
 * (too large, malformed) are SR_SINK_ITEM_REJECT, all others (brokers,
 * timeouts, authorization, topic) SR_SINK_ITEM_RETRY. Creation fails (NULL,
 * `err`) for missing brokers or topic, an unknown librdkafka property or bad
 * value, or a bad keytab. Details in sinks/kafka.c and sinks/kafka_errors.c. */
sr_sink *sr_kafka_sink_new(uv_loop_t *loop, const sr_sink_settings *s, char *err, size_t errlen);

/* Opens the sink for a transport name ("http", "file", "stream", "kafka").
 * Unknown names fail with a message listing the known ones. */
sr_sink *sr_sink_open(uv_loop_t *loop, const char *transport, const sr_sink_settings *s, char *err,
                      size_t errlen);

static inline int sr_sink_send(sr_sink *s, const sr_sink_payload *p, sr_sink_done_cb cb, void *ud) {
    return s->ops->send(s, p, cb, ud);
}
static inline void sr_sink_close(sr_sink *s) { s->ops->close(s); }

#endif
