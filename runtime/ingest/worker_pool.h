/* worker_pool.h - the threads that parse batches and run Lua over them.
 *
 * Each worker owns one Lua host (one LuaJIT state). The loop thread submits
 * batches; any idle worker takes the next one, parses it, runs the pipeline
 * in chunks that fit in cache, and hands it back. Completed batches return
 * to the loop thread through a uv_async_t, in whatever order they finish;
 * the pipeline restores submission order when it commits them. */
#ifndef SR_WORKER_POOL_H
#define SR_WORKER_POOL_H

#include <stddef.h>
#include <uv.h>

#include "ingest_batch.h"
#include "lua_host.h"

typedef struct sr_worker_pool sr_worker_pool;

/* Called on the loop thread for every finished batch. */
typedef void (*sr_ingest_batch_done_cb)(void *ud, sr_ingest_batch *b);

/* Takes ownership of the `n` hosts (one per worker). Returns NULL on failure
 * (threads could not be started), with the hosts freed. */
sr_worker_pool *sr_worker_pool_new(uv_loop_t *loop, sr_lua_host **hosts, size_t n,
                                   const sr_event_limits *limits, sr_ingest_batch_done_cb done, void *ud);
/* Queues a batch for the next idle worker. */
void sr_worker_pool_submit(sr_worker_pool *p, sr_ingest_batch *b);
size_t sr_worker_pool_size(const sr_worker_pool *p);
/* Stops the workers once the queue is empty, joins them, frees the hosts,
 * and closes the async handle; `p` is freed once that handle is closed.
 * Batches still finishing are delivered to `done` before it returns. */
void sr_worker_pool_free(sr_worker_pool *p);

#endif
