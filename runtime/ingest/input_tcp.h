/* input_tcp.h - the TCP input: newline-delimited JSON over TCP or TLS.
 *
 * Each connection is a stream of JSON objects, one per line. The input cuts
 * what it receives at the last newline and submits complete lines in chunks
 * (SR_BODY_NDJSON) with the 1-based number, counted from the start of the
 * connection, of the chunk's first line, so the pipeline's errors name the
 * stream's real line numbers. Lines longer than conf->max_line_bytes are
 * discarded up to their newline, counted and logged; the connection stays
 * open (they are passed on as empty lines, which keeps the numbering).
 *
 * Chunking: while a connection has no submit in flight, what a socket read
 * completes is submitted at once (no added latency at low rates). While
 * one is in flight, the input reads on and gathers complete lines into the
 * next chunk, submitted when a reply frees a slot, when it reaches the
 * chunk target (below), or at EOF: under load, fewer and larger
 * submits (each one wakes a worker thread and then the loop).
 *
 * Back-pressure: at most SR_INPUT_TCP_MAX_INFLIGHT submits per connection
 * are in flight; once they are and the next chunk is full, the input stops
 * reading from the socket, so TCP flow control slows the sender down. A
 * connection therefore holds at most SR_INPUT_TCP_MAX_INFLIGHT + 1 chunks,
 * each under the chunk target + one socket read (64 KiB) +
 * max_line_bytes (the line a read completes), plus one unfinished line of
 * up to max_line_bytes. When ingest reports busy (a queue is full) the input
 * keeps the chunk and stops reading until it can submit it. A reply with
 * status 503 (not queued) pauses reading for its retry_after_s (or 1 s);
 * the pipeline hands that chunk back, and it is sent again after the pause,
 * before anything newer (see docs/inputs.md). On EOF the
 * trailing line without newline, if any, is submitted too.
 *
 * TLS is on when conf->tls.cert_file is set. A connection that sends nothing
 * for conf->idle_timeout_ms (0: never) while the input is reading is
 * closed. A line must make progress: when one line stays unfinished over a
 * whole conf->progress_interval_ms that brought fewer than
 * conf->min_progress_bytes, the connection is closed (a sender trickling a
 * byte a second cannot hold it; counted as slow_closed).
 *
 * Connections are limited by conf->limits (conn_guard.h): a connection
 * is idle while it holds no unfinished line and nothing waits to be
 * submitted or answered; the oldest idle one is closed to make room at
 * max_connections, and an address over max_per_peer has its new
 * connection closed. Running out of file descriptors is survived
 * (listener.h).
 *
 * A connection whose first bytes are an HTTP method ("POST ", "GET ", ...)
 * is closed before any of it reaches the pipeline: no NDJSON line starts
 * so, and a web page can make a browser post a text/plain body holding
 * NDJSON lines to this port (cross-protocol), which would otherwise be
 * taken line by line after the rejected request head. Counted
 * (http_refused) and logged. */
#ifndef SR_INPUT_TCP_H
#define SR_INPUT_TCP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "ingest.h"

#define SR_INPUT_TCP_MAX_INFLIGHT 2
/* A chunk gathered while submits are in flight goes once it reaches the
 * chunk target (overshooting by at most the rest of one read); with the
 * window full it is also where reading stops (see Back-pressure above).
 * The target is SR_INPUT_TCP_CHUNK_BYTES while few connections are open;
 * with many, the open connections share SR_INPUT_TCP_GATHER_BUDGET, but no
 * target drops below SR_INPUT_TCP_CHUNK_MIN_BYTES (one socket read): so
 * what all connections gather stays near the budget until 256 connections,
 * and past that a connection holds no more than it did before gathering. */
#define SR_INPUT_TCP_CHUNK_BYTES     (256 * 1024)
#define SR_INPUT_TCP_CHUNK_MIN_BYTES (64 * 1024)
#define SR_INPUT_TCP_GATHER_BUDGET   (16 * 1024 * 1024)

typedef struct sr_input_tcp sr_input_tcp;

/* What one connection, or the input as a whole, has seen. */
typedef struct sr_input_tcp_counters {
    uint64_t bytes;          /* plaintext bytes received */
    uint64_t accepted;       /* events the pipeline accepted */
    uint64_t rejected;       /* events it rejected (malformed lines, ...) */
    uint64_t oversize_lines; /* lines over max_line_bytes, discarded */
    uint64_t refused_chunks; /* chunks answered 503 (each sent again) */
} sr_input_tcp_counters;

typedef struct sr_input_tcp_stats {
    uint64_t connections_total; /* accepted since start */
    uint64_t connections_open;
    uint64_t connections_refused;        /* closed at accept: a limit of conf->limits */
    uint64_t http_refused;               /* closed: they began with an HTTP request */
    uint64_t slow_closed;                /* closed for a line making too little progress */
    uint64_t peers;                      /* addresses with connections open */
    uint64_t shed[SR_CONN_SHED_REASONS]; /* conn_guard.h, and descriptors running out */
    sr_input_tcp_counters totals;        /* all connections, closed ones included */
} sr_input_tcp_stats;

/* Listens on conf->host:conf->port. `conf` and `ingest` are copied. Returns
 * NULL with a message in `err`. */
sr_input_tcp *sr_input_tcp_start(uv_loop_t *loop, const sr_input_conf *conf,
                                 const sr_ingest *ingest, char *err, size_t errlen);

/* The bound port (conf->port 0 picks a free one). */
int sr_input_tcp_port(const sr_input_tcp *in);

/* The listener's TLS context, NULL for plain TCP: a reload gives it fresh
 * certificates in place (sr_tls_ctx_adopt). */
sr_tls_ctx *sr_input_tcp_tls(const sr_input_tcp *in);

/* The size a gathered chunk grows to now: SR_INPUT_TCP_GATHER_BUDGET over
 * the open connections, within [SR_INPUT_TCP_CHUNK_MIN_BYTES,
 * SR_INPUT_TCP_CHUNK_BYTES]. */
size_t sr_input_tcp_chunk_target(const sr_input_tcp *in);

/* Counters, updated on the loop thread; read them there. */
const sr_input_tcp_stats *sr_input_tcp_get_stats(const sr_input_tcp *in);

/* Calls `visit` for every open connection with its peer ("ip:port"). */
void sr_input_tcp_foreach_conn(const sr_input_tcp *in,
                               void (*visit)(void *ud, const char *peer,
                                             const sr_input_tcp_counters *counters),
                               void *ud);

/* Stops listening and closes every connection; complete lines not yet
 * submitted are dropped. Submits in flight still call back safely: their
 * connections outlive the input until then. `cb` (may be NULL) runs once
 * the listener is closed; the input is freed then. */
void sr_input_tcp_stop(sr_input_tcp *in, void (*cb)(void *ud), void *ud);
/* Fire and forget: sr_input_tcp_stop(in, NULL, NULL); NULL is ignored. */
void sr_input_tcp_close(sr_input_tcp *in);

#endif
