/* admin_docs.h - the admin API's documents, built from the live sources.
 *
 * Each call takes one snapshot of the sources (admin_view.h) and renders it
 * into `body` (admin_json.h, admin_metrics.h). It returns the HTTP status
 * to answer with, or -1 when out of memory. admin.c, the listener, does
 * routing and HTTP; everything that reads the gateway's state is here.
 * Loop thread only. */
#ifndef SR_ADMIN_DOCS_H
#define SR_ADMIN_DOCS_H

#include "admin.h"
#include "buf.h"

/* 200 with the JSON array of every integration. */
int sr_admin_doc_integrations(const sr_admin_sources *src, sr_buf *body);

/* 200 with the integration `name` (case-insensitive) and its history; 404
 * with {"error":"no integration named '<name>'"}. */
int sr_admin_doc_integration(const sr_admin_sources *src, const char *name, sr_buf *body);

#define SR_ADMIN_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* GET /api/inputs/kafka: 200 with the Kafka input's counters and its
 * partitions (admin_json.h), 404 when no Kafka input runs. */
int sr_admin_doc_kafka(const sr_admin_sources *src, sr_buf *body);

/* 200 with the Prometheus exposition; `ready` feeds siemrelay_ready. */
/* GET /api/scripts: each site script's counters (admin_json.h). */
int sr_admin_doc_scripts(const sr_admin_sources *src, sr_buf *body);
int sr_admin_doc_metrics(const sr_admin_sources *src, int ready, sr_buf *body);

/* GET /api/pipeline: the pipeline's counters, with `unrouted` by reason. */
int sr_admin_doc_pipeline(const sr_admin_sources *src, sr_buf *body);

/* 200 {"status":"ready"} when `not_ready` is NULL, else 503
 * {"status":"not ready","reason":"<not_ready>"}. */
int sr_admin_doc_ready(const char *not_ready, sr_buf *body);

#endif
