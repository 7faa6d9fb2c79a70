/* worker_pool.c - worker threads, each with its own Lua host. */
#include "worker_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Events handed to Lua per call: small enough that the events, their index
 * and the scratch buffers stay in L2. */
#define SR_LUA_CHUNK 256

typedef struct sr_worker {
    sr_worker_pool *pool;
    sr_lua_host *host;
    pthread_t thread;
    int started;
} sr_worker;

struct sr_worker_pool {
    uv_loop_t *loop;
    uv_async_t async;
    sr_event_limits limits;
    sr_ingest_batch_done_cb done;
    void *ud;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    sr_ingest_batch *todo_head, *todo_tail; /* submitted, not yet taken */
    sr_ingest_batch *done_head, *done_tail; /* finished, not yet handed back */
    int stopping;

    sr_worker *workers;
    size_t n;
};

static void list_push(sr_ingest_batch **head, sr_ingest_batch **tail, sr_ingest_batch *b) {
    b->next = NULL;
    if (*tail)
        (*tail)->next = b;
    else
        *head = b;
    *tail = b;
}

/* Runs the pipeline over the batch in cache-sized chunks. Lua reports event
 * indexes relative to the chunk; they are rebased to the batch here. */
static void run_batch(sr_worker *w, sr_ingest_batch *b) {
    sr_ingest_batch_parse(b, &w->pool->limits);
    for (size_t start = 0; start < b->nevents; start += SR_LUA_CHUNK) {
        size_t k = b->nevents - start < SR_LUA_CHUNK ? b->nevents - start : SR_LUA_CHUNK;
        size_t recs0 = b->emit.nrecs, fails0 = b->emit.nfails;
        if (sr_lua_host_process(w->host, b->events + start, k, &b->emit) != 0) {
            sr_error("worker", "Lua state could not be rebuilt; batch from %s not processed",
                     b->origin);
            b->failed = 1;
            return;
        }
        for (size_t i = recs0; i < b->emit.nrecs; i++)
            b->emit.recs[i].ev += (uint32_t)start;
        for (size_t i = fails0; i < b->emit.nfails; i++)
            b->emit.fails[i].ev += (uint32_t)start;
    }
}

static void *worker_main(void *arg) {
    sr_worker *w = arg;
    sr_worker_pool *p = w->pool;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->todo_head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        sr_ingest_batch *b = p->todo_head;
        if (!b) { /* stopping and drained */
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        p->todo_head = b->next;
        if (!p->todo_head)
            p->todo_tail = NULL;
        pthread_mutex_unlock(&p->mu);

        run_batch(w, b);

        pthread_mutex_lock(&p->mu);
        list_push(&p->done_head, &p->done_tail, b);
        pthread_mutex_unlock(&p->mu);
        uv_async_send(&p->async);
    }
}

static void on_async(uv_async_t *h) {
    sr_worker_pool *p = h->data;
    pthread_mutex_lock(&p->mu);
    sr_ingest_batch *b = p->done_head;
    p->done_head = p->done_tail = NULL;
    pthread_mutex_unlock(&p->mu);
    while (b) {
        sr_ingest_batch *next = b->next;
        b->next = NULL;
        p->done(p->ud, b);
        b = next;
    }
}

sr_worker_pool *sr_worker_pool_new(uv_loop_t *loop, sr_lua_host **hosts, size_t n,
                                   const sr_event_limits *limits, sr_ingest_batch_done_cb done, void *ud) {
    sr_worker_pool *p = calloc(1, sizeof *p);
    if (!p)
        goto fail_hosts;
    p->loop = loop;
    p->done = done;
    p->ud = ud;
    if (limits)
        p->limits = *limits;
    p->workers = calloc(n, sizeof *p->workers);
    if (!p->workers) {
        free(p);
        goto fail_hosts;
    }
    p->n = n;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    uv_async_init(loop, &p->async, on_async);
    p->async.data = p;
    for (size_t i = 0; i < n; i++) {
        p->workers[i].pool = p;
        p->workers[i].host = hosts[i];
    }
    for (size_t i = 0; i < n; i++) {
        sr_worker *w = &p->workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            sr_error("worker", "cannot start worker thread %zu", i);
            sr_worker_pool_free(p); /* joins the started ones, frees every host */
            return NULL;
        }
        w->started = 1;
    }
    return p;

fail_hosts:
    for (size_t i = 0; i < n; i++)
        sr_lua_host_free(hosts[i]);
    return NULL;
}

void sr_worker_pool_submit(sr_worker_pool *p, sr_ingest_batch *b) {
    pthread_mutex_lock(&p->mu);
    list_push(&p->todo_head, &p->todo_tail, b);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

size_t sr_worker_pool_size(const sr_worker_pool *p) { return p->n; }

static void on_async_closed(uv_handle_t *h) { free(h->data); }

void sr_worker_pool_free(sr_worker_pool *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->n; i++) {
        if (p->workers[i].started)
            pthread_join(p->workers[i].thread, NULL);
        sr_lua_host_free(p->workers[i].host);
    }
    on_async(&p->async); /* hand back what finished after the last wake-up */
    free(p->workers);
    p->workers = NULL;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    uv_close((uv_handle_t *)&p->async, on_async_closed);
}
