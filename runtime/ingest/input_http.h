/* input_http.h - the HTTP events input: POST /v1/events.
 *
 * Routes (docs/inputs.md has the full story):
 *   POST /v1/events  body: one JSON object, an array of objects, or NDJSON;
 *                    optionally Content-Encoding: gzip. Answered with the
 *                    pipeline's JSON summary and status once the events are
 *                    queued for every integration (see ingest.h).
 *   GET  /healthz    200 {"status":"ok"}.
 * With conf->token set, /v1/events requires "Authorization: Bearer <token>"
 * (401 otherwise). Only a SHA-256 digest of the token is kept, compared in
 * constant time; the token never reaches a log line. Every error body is
 * {"error":"..."}.
 *
 * The token is checked on the request head: a request without it is answered
 * 401 before any of its body is read, and its connection closed.
 * Bodies are limited to conf->max_body_bytes, before and after inflation
 * (413), and the bodies being received at once to four times that (at least
 * 64 MiB; 503 beyond); requests must arrive within conf->idle_timeout_ms,
 * their heads within conf->header_timeout_ms, their bodies at
 * conf->min_progress_bytes per conf->progress_interval_ms; TLS is on when
 * conf->tls.cert_file is set. Connections are limited by conf->limits
 * (http_server.h). */
#ifndef SR_INPUT_HTTP_H
#define SR_INPUT_HTTP_H

#include <stddef.h>

#include <uv.h>

#include "http_server.h"
#include "ingest.h"

typedef struct sr_input_http sr_input_http;

/* Listens on conf->host:conf->port. `conf` and `ingest` are copied (the
 * configuration may be freed afterwards); ingest->ctx must stay valid until
 * the last submit has called back. Returns NULL with a message in `err`
 * (bad TLS files, "cannot listen on ...: address already in use"). */
sr_input_http *sr_input_http_start(uv_loop_t *loop, const sr_input_conf *conf,
                                   const sr_ingest *ingest, char *err, size_t errlen);

/* What the bodies being received may hold together when
 * max_body_total_bytes is not set: four of the largest, at least 64 MiB. */
unsigned long long sr_input_http_body_budget(unsigned long long max_body);

/* The listener's TLS context, NULL for plain HTTP: a reload gives it fresh
 * certificates in place (sr_tls_ctx_adopt). */
sr_tls_ctx *sr_input_http_tls(const sr_input_http *in);

/* The bound port (conf->port 0 picks a free one). */
int sr_input_http_port(const sr_input_http *in);

/* The listener's connection and refusal counters (http_server.h). */
void sr_input_http_stats(const sr_input_http *in, sr_http_server_stats *out);

/* Stops listening and closes every connection; answers for submits still in
 * flight are dropped when their callbacks arrive (those callbacks do not
 * touch the input). `cb` (may be NULL) runs when everything is closed; the
 * input is freed then. */
void sr_input_http_stop(sr_input_http *in, void (*cb)(void *ud), void *ud);
/* Fire and forget: sr_input_http_stop(in, NULL, NULL); NULL is ignored. */
void sr_input_http_close(sr_input_http *in);

#endif
