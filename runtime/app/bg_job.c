/* bg_job.c - threadpool work that survives its owner (bg_job.h). */
#include "bg_job.h"

#include <stdlib.h>

struct sr_bg_job {
    uv_work_t req;
    sr_bg_job_fns fns;
    void *ud;
    int orphan;
};

static void on_work(uv_work_t *req) {
    sr_bg_job *j = req->data;
    j->fns.run(j->ud);
}

static void on_after_work(uv_work_t *req, int status) {
    sr_bg_job *j = req->data;
    if (!j->orphan)
        j->fns.done(j->ud, status == UV_ECANCELED);
    j->fns.release(j->ud);
    free(j);
}

sr_bg_job *sr_bg_job_start(uv_loop_t *loop, const sr_bg_job_fns *fns, void *ud) {
    sr_bg_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->fns = *fns;
    j->ud = ud;
    j->req.data = j;
    if (uv_queue_work(loop, &j->req, on_work, on_after_work) != 0) {
        free(j);
        return NULL;
    }
    return j;
}

void sr_bg_job_orphan(sr_bg_job *j) {
    j->orphan = 1;
    /* Work not started yet never will: its after-work callback still runs
     * (UV_ECANCELED) and releases. Work running finishes first. */
    uv_cancel((uv_req_t *)&j->req);
}
