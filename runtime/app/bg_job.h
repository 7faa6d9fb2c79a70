/* bg_job.h - work run on the libuv threadpool for an owner that may leave
 * before it ends.
 *
 * A reload's loading and the admin API's check of a change both run a whole
 * configuration load (scripts included, up to script_load_timeout) off the
 * loop thread, so ingest, the admin API and SIGTERM are served meanwhile.
 * Both have the same lifecycle problem: a shutdown cannot wait for the load,
 * yet the load's memory must not be freed under it. A job therefore ends in
 * one of two ways:
 *
 *   - normally: `done` runs on the loop thread with the result, then `release`;
 *   - orphaned (sr_bg_job_orphan, the owner is going): `done` never runs,
 *     and `release` frees what the job holds once the work has ended (or at
 *     once, on the loop, when the work had not started: it is cancelled).
 *
 * `release` is called exactly once in both cases and owns `ud` from then on;
 * `done` may take things out of `ud` (leaving NULLs) that `release` then
 * does not free.
 *
 * Threads: start and orphan on the loop thread; `run` on a threadpool
 * thread, touching only what `ud` owns. */
#ifndef SR_BG_JOB_H
#define SR_BG_JOB_H

#include <uv.h>

typedef struct sr_bg_job sr_bg_job;

typedef struct sr_bg_job_fns {
    void (*run)(void *ud);                 /* the threadpool's part */
    void (*done)(void *ud, int cancelled); /* on the loop; cancelled: `run` never ran */
    void (*release)(void *ud);             /* frees `ud`, always, last */
} sr_bg_job_fns;

/* Queues `run`; NULL when the threadpool refused it (nothing called, the
 * caller still owns `ud`). */
sr_bg_job *sr_bg_job_start(uv_loop_t *loop, const sr_bg_job_fns *fns, void *ud);

/* The owner is going: no `done`; `release` when the work ends. */
void sr_bg_job_orphan(sr_bg_job *j);

#endif
