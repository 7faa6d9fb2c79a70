/* ingest.h - how inputs hand received bytes to the pipeline.
 *
 * Inputs (input_http.c, input_tcp.c) only move bytes: they frame, inflate and
 * authenticate, then call submit(). The pipeline parses, runs scripts, queues
 * the records for every matching integration, and only then calls back with
 * the reply to give the sender. So an HTTP 200 means "queued everywhere". */
#ifndef SR_INGEST_H
#define SR_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "auth_guard.h"
#include "conn_guard.h"
#include "tls_stream.h"

/* An input listener's section (`inputs.http`, `inputs.tcp`). */
typedef struct sr_input_conf {
    int enabled;
    char *host;                           /* default "127.0.0.1" */
    int port;                             /* http 8080, tcp 5140 */
    unsigned long long max_body_bytes;    /* http: 413 above it; default 16 MiB */
    unsigned long long max_line_bytes;    /* tcp: a longer line is rejected; default 1 MiB */
    char *token;                          /* http: required bearer token; NULL = none (secret) */
    unsigned long long idle_timeout_ms;   /* close idle/slow clients; default 60000 */
    sr_conn_limits limits;                /* max_connections, max_connections_per_peer */
    unsigned long long header_timeout_ms; /* http: the head within it of its first byte */
    /* http: a body, tcp: an unfinished line must bring min_progress_bytes
     * every progress_interval_ms (0: no such rule). */
    unsigned long long min_progress_bytes;
    unsigned long long progress_interval_ms;
    sr_tls_listen_conf tls;
    /* http: bodies being received at once, all connections together; 0 =
     * four times max_body_bytes, at least 64 MiB */
    unsigned long long max_body_total_bytes;
    sr_auth_guard_conf failed_auth; /* http with a token: auth_guard.h */
} sr_input_conf;

/* The `inputs.http` and `inputs.tcp` sections' keys (input_conf.c). */
extern const sr_conf_key sr_input_http_conf_keys[];
extern const sr_conf_key sr_input_tcp_conf_keys[];

typedef enum {
    SR_BODY_AUTO,   /* HTTP: one JSON object, one JSON array of objects, or NDJSON */
    SR_BODY_NDJSON, /* TCP: complete lines; a malformed line rejects only itself */
} sr_body_format;

typedef struct sr_ingest_reply {
    int status;       /* 200; 400 when nothing was accepted; 503 when the
                         gateway cannot take it now (retry later) */
    const char *body; /* JSON summary, see docs/inputs.md */
    size_t body_len;
    long retry_after_s;          /* with 503; -1 otherwise */
    uint32_t accepted, rejected; /* event counts, for TCP accounting */
    /* With 503 the pipeline hands the submitted body back, as submitted,
     * so an input that cannot ask its sender to retry (TCP) can send it
     * again. The callback owns it: free() it when not needed. NULL
     * otherwise. */
    char *data;
    size_t data_len;
} sr_ingest_reply;

typedef void (*sr_ingest_cb)(void *ud, const sr_ingest_reply *reply);

/* A snapshot of how far every integration's queue has been filled
 * (pipeline.c). Taken in a reply callback it covers that submission's
 * records; free() it. */
typedef struct sr_ingest_mark sr_ingest_mark;

typedef struct sr_ingest {
    /* Takes ownership of `data` (malloc'd) in every case. `first_line` is the
     * 1-based line number of the first line in `data` (TCP streams keep
     * counting across chunks). The callback runs later on the loop thread,
     * exactly once:
     * submit() returns 0 when the callback will come, -1 (data freed, no
     * callback) when the pipeline cannot take it now (shutting down, out of
     * memory): the input answers 503 itself. */
    int (*submit)(void *ctx, char *data, size_t len, sr_body_format fmt, uint32_t first_line,
                  const char *origin, sr_ingest_cb cb, void *ud);
    /* 0 when a submit would be taken now; else the seconds a sender should
     * wait (a queue is at its bound, or the gateway is stopping). Inputs ask
     * before reading on (TCP) or answer 503 with Retry-After (HTTP). */
    long (*busy)(void *ctx);
    /* For inputs that acknowledge upstream only once what they submitted is
     * safe (Kafka commits offsets). mark(), called in a reply callback with
     * status 200 or 400, returns a mark covering that submission (NULL when
     * out of memory: take one later, it covers more). safe() is 1 once every
     * record the mark covers is safe: on disk in a spool as its fsync policy
     * promises, or delivered or dead-lettered from a memory queue. After a
     * reload it may replace *m with a fresh, later mark (the integrations
     * were renumbered), so the answer stays conservative. Marks become safe
     * in the order they were taken. */
    sr_ingest_mark *(*mark)(void *ctx);
    int (*safe)(void *ctx, sr_ingest_mark **m);
    void *ctx;
} sr_ingest;

#endif
