/* pipeline.h - from submitted bytes to queued records, in order.
 *
 * The pipeline is the ingest side of the gateway (it implements sr_ingest
 * for the inputs): it wraps submissions into batches, hands them to the
 * worker pool, and commits finished batches strictly in submission order:
 * records onto their integrations' queues, failures into dead-letter files,
 * and only then the reply to the sender. Runs on the loop thread. */
#ifndef SR_PIPELINE_H
#define SR_PIPELINE_H

#include <stdint.h>

#include "deadletter.h"
#include "delivery.h"
#include "ingest.h"
#include "worker_pool.h"

typedef struct sr_pipeline_stats {
    uint64_t batches;
    uint64_t accepted;                      /* events parsed and run through the pipeline */
    uint64_t rejected;                      /* events refused at parse time */
    uint64_t dropped;                       /* events a script dropped */
    uint64_t failed;                        /* script/encode failures (dead-lettered) */
    uint64_t records;                       /* records queued, all integrations */
    uint64_t unrouted[SR_UNROUTED_REASONS]; /* events no integration took, by reason */
    uint64_t busy; /* times ingest was told to wait (queue full, stopping) */
} sr_pipeline_stats;

typedef struct sr_pipeline sr_pipeline;

/* `integration_names[i]` names integration i (for dead letters). */
sr_pipeline *sr_pipeline_new(uv_loop_t *loop, sr_delivery *delivery, sr_deadletter *dl,
                             const char *const *integration_names);
/* Attaches the worker pool; must be called before any submission. The pool
 * reports finished batches to sr_pipeline_batch_done. */
void sr_pipeline_set_workers(sr_pipeline *p, sr_worker_pool *pool);
void sr_pipeline_batch_done(void *pipeline, sr_ingest_batch *b);

sr_ingest sr_pipeline_ingest(sr_pipeline *p);
/* Refuses new submissions (they get 503); what is in progress completes. */
void sr_pipeline_stop_accepting(sr_pipeline *p);
/* While paused (a configuration reload), ingest is told to wait a second
 * (busy) and submissions are refused; batches in progress complete. */
void sr_pipeline_pause(sr_pipeline *p, int paused);
/* After a reload: the names of the new integrations, by index (the
 * warnings about unsubscribed channels start over). */
void sr_pipeline_set_names(sr_pipeline *p, const char *const *integration_names);
/* Batches submitted but not yet committed. */
uint64_t sr_pipeline_pending(const sr_pipeline *p);
void sr_pipeline_stats_get(const sr_pipeline *p, sr_pipeline_stats *out);
void sr_pipeline_free(sr_pipeline *p);

#endif
