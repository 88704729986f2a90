#include "server/ts_dbq.h"

#include <string.h>

static uint64_t ts__now_us(void)
{
    return uv_hrtime() / 1000;
}

int ts_dbq_init(ts_dbq *q, uv_loop_t *loop, ts_store *store)
{
    memset(q, 0, sizeof *q);
    q->loop = loop;
    q->store = store;
    return uv_mutex_init(&q->lock);
}

void ts_dbq_destroy(ts_dbq *q)
{
    uv_mutex_destroy(&q->lock);
}

static void ts__work(uv_work_t *req)
{
    ts_dbjob *job = req->data;
    ts_dbq *q = job->q;
    uv_mutex_lock(&q->lock);
    uint64_t start = ts__now_us();
    if (start - job->queued_us > q->max_wait_us)
        q->max_wait_us = start - job->queued_us;
    job->work(job, q->store);
    job->ran_us = ts__now_us() - start;
    q->busy_us += job->ran_us;
    uv_mutex_unlock(&q->lock);
}

static void ts__after(uv_work_t *req, int status)
{
    (void)status;
    ts_dbjob *job = req->data;
    job->q->inflight--;
    job->q->jobs_done++;
    job->done(job);
}

void ts_dbq_submit(ts_dbq *q, ts_dbjob *job, ts_dbjob_work work, ts_dbjob_done done, void *data)
{
    job->q = q;
    job->work = work;
    job->done = done;
    job->data = data;
    job->req.data = job;
    job->queued_us = ts__now_us();
    q->inflight++;
    uv_queue_work(q->loop, &job->req, ts__work, ts__after);
}

void ts_dbq_run_now(ts_dbq *q, ts_dbjob_work work, void *data)
{
    ts_dbjob job;
    memset(&job, 0, sizeof job);
    job.q = q;
    job.data = data;
    uv_mutex_lock(&q->lock);
    work(&job, q->store);
    uv_mutex_unlock(&q->lock);
}
