/* loop_thread.h - a libuv loop on a thread of its own, for tests that drive
 * a server from the test thread: lt_call runs a function on the loop
 * thread and waits for it, so handles are only touched where they live. */
#ifndef SR_TEST_LOOP_THREAD_H
#define SR_TEST_LOOP_THREAD_H

#include <uv.h>

#include "check.h"

typedef struct loop_thread {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t async;
    uv_sem_t done;
    void (*fn)(void *);
    void *arg;
} loop_thread;

static void lt_on_async(uv_async_t *a) {
    loop_thread *lt = a->data;
    lt->fn(lt->arg);
    uv_sem_post(&lt->done);
}

static void lt_main(void *arg) { uv_run(&((loop_thread *)arg)->loop, UV_RUN_DEFAULT); }

static inline void lt_start(loop_thread *lt) {
    uv_loop_init(&lt->loop);
    uv_async_init(&lt->loop, &lt->async, lt_on_async);
    lt->async.data = lt;
    uv_sem_init(&lt->done, 0);
    uv_thread_create(&lt->thread, lt_main, lt);
}

/* Runs fn(arg) on the loop thread and waits for it. */
static inline void lt_call(loop_thread *lt, void (*fn)(void *), void *arg) {
    lt->fn = fn;
    lt->arg = arg;
    uv_async_send(&lt->async);
    uv_sem_wait(&lt->done);
}

static void lt_close_async(void *arg) {
    uv_close((uv_handle_t *)&((loop_thread *)arg)->async, NULL);
}

/* Returns once every handle is closed: the loop had nothing left. */
static inline void lt_stop(loop_thread *lt) {
    lt_call(lt, lt_close_async, lt);
    uv_thread_join(&lt->thread);
    CHECK_INT(uv_loop_close(&lt->loop), 0);
    uv_sem_destroy(&lt->done);
}

#endif
