#include "server/ts_dbq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_log.h"
#include "common/ts_xmalloc.h"

static uint64_t ts__now_us(void)
{
    return uv_hrtime() / 1000;
}

int ts_dbq_init(ts_dbq *q, uv_loop_t *loop, ts_store *store)
{
    memset(q, 0, sizeof *q);
    q->loop = loop;
    q->store = store;
    int rc = uv_mutex_init(&q->lock);
    if (rc == 0 && (rc = uv_mutex_init(&q->qlock)) != 0)
        uv_mutex_destroy(&q->lock);
    if (rc == 0 && (rc = uv_mutex_init(&q->ckpt_lock)) != 0) {
        uv_mutex_destroy(&q->qlock);
        uv_mutex_destroy(&q->lock);
    }
    q->runner.data = q;
    q->ckpt_work.data = q;
    if (rc == 0) {
        q->bg_timer = ts_xmalloc(sizeof *q->bg_timer);
        uv_timer_init(loop, q->bg_timer);
        q->bg_timer->data = q;
    }
    return rc;
}

static void ts__bg_timer_closed(uv_handle_t *h)
{
    free(h);
}

void ts_dbq_destroy(ts_dbq *q)
{
    /* a checkpoint not yet started is dropped; one running is waited for
     * (the lock), and its completion, later on the loop, does nothing more */
    q->closed = true;
    if (q->ckpt_running)
        uv_cancel((uv_req_t *)&q->ckpt_work);
    uv_mutex_lock(&q->ckpt_lock);
    ts_store_ckpt_close(q->ckpt);
    q->ckpt = NULL;
    uv_mutex_unlock(&q->ckpt_lock);
    if (!q->ckpt_running)
        uv_mutex_destroy(&q->ckpt_lock);
    uv_mutex_destroy(&q->qlock);
    uv_mutex_destroy(&q->lock);
    /* the queue may be gone before the loop next runs: the timer is freed
     * by its close callback, never here */
    if (q->bg_timer != NULL)
        uv_close((uv_handle_t *)q->bg_timer, ts__bg_timer_closed);
    q->bg_timer = NULL;
}

/* ---------------------------------------------------------------- checkpoints */

static void ts__ckpt_work(uv_work_t *req)
{
    ts_dbq *q = req->data;
    uv_mutex_lock(&q->ckpt_lock);
    if (q->ckpt != NULL) {
        ts_error err;
        err.msg[0] = '\0';
        q->ckpt_rc = ts_store_ckpt_run(q->ckpt, NULL, NULL, &err);
        snprintf(q->ckpt_err, sizeof q->ckpt_err, "%s", err.msg);
    }
    uv_mutex_unlock(&q->ckpt_lock);
}

static void ts__ckpt_maybe(ts_dbq *q);

static void ts__ckpt_after(uv_work_t *req, int status)
{
    ts_dbq *q = req->data;
    q->ckpt_running = false;
    if (q->closed) {
        uv_mutex_destroy(&q->ckpt_lock); /* ts_dbq_destroy left it to us */
        return;
    }
    if (status == 0)
        q->checkpoints++;
    /* a full disk fails every checkpoint until space is freed: said once */
    if (status == 0 && q->ckpt_rc < 0 && q->ckpt_rc_logged == 0)
        ts_log_warn("wal_checkpoint_failed", "reason=%s", q->ckpt_err);
    if (status == 0)
        q->ckpt_rc_logged = q->ckpt_rc;
    ts__ckpt_maybe(q);
}

static void ts__ckpt_maybe(ts_dbq *q)
{
    if (q->ckpt == NULL || q->ckpt_running || q->closed || !ts_store_wal_take(q->store, TS_DBQ_CHECKPOINT_PAGES))
        return;
    q->ckpt_running = true;
    uv_queue_work(q->loop, &q->ckpt_work, ts__ckpt_work, ts__ckpt_after);
}

int ts_dbq_checkpoint_off_store(ts_dbq *q, ts_error *err)
{
    int rc = ts_store_ckpt_open(q->store, &q->ckpt, err);
    if (rc < 0)
        return rc;
    ts_store_wal_offload(q->store, TS_DBQ_WAL_INLINE_PAGES);
    return 0;
}

/* Whether the queue has been idle long enough for a background job: no
 * foreground job submitted or finished within TS_DBQ_BACKGROUND_IDLE_MS
 * (the runner is not running when this is asked). */
static bool ts__idle(const ts_dbq *q, uint64_t now)
{
    return q->draining || q->fg_last_us == 0 || now - q->fg_last_us >= TS_DBQ_BACKGROUND_IDLE_MS * 1000u;
}

/* Takes what runs next: one job alone, or the groupable jobs at the head;
 * a background job when the queue is idle or it has waited too long. */
static ts_dbjob *ts__take(ts_dbq *q)
{
    uv_mutex_lock(&q->qlock);
    ts_dbjob *bg = q->bg_head;
    uint64_t now = ts__now_us();
    if (bg != NULL &&
        ((q->head == NULL && ts__idle(q, now)) || now - bg->queued_us > TS_DBQ_BACKGROUND_MAX_WAIT_US)) {
        q->bg_head = bg->next;
        if (q->bg_head == NULL)
            q->bg_tail = NULL;
        bg->next = NULL;
        uv_mutex_unlock(&q->qlock);
        return bg;
    }
    ts_dbjob *first = q->head, *last = first;
    if (first != NULL) {
        uint32_t n = 1;
        if (first->groupable)
            while (last->next != NULL && last->next->groupable && n < TS_DBQ_GROUP_MAX) {
                last = last->next;
                n++;
            }
        q->head = last->next;
        if (q->head == NULL)
            q->tail = NULL;
        last->next = NULL;
    }
    uv_mutex_unlock(&q->qlock);
    return first;
}

static void ts__run_one(ts_dbq *q, ts_dbjob *job)
{
    uint64_t start = ts__now_us();
    if (start - job->queued_us > q->max_wait_us)
        q->max_wait_us = start - job->queued_us;
    job->work(job, q->store);
    job->ran_us = ts__now_us() - start;
}

static void ts__runner_work(uv_work_t *req)
{
    ts_dbq *q = req->data;
    ts_dbjob *group = q->group;
    if (group == NULL) /* never queued without one */
        return;
    uv_mutex_lock(&q->lock);
    uint64_t start = ts__now_us();
    uint32_t n = 0;
    for (ts_dbjob *j = group; j; j = j->next)
        n++;
    ts_error err;
    bool outer = group->groupable && ts_store_begin(q->store, &err) == 0;
    if (group->groupable && !outer)
        ts_log_error("group_begin_failed", "jobs=%u reason=%s", n, err.msg); /* each runs on its own */
    for (ts_dbjob *j = group; j; j = j->next) {
        j->group_n = n;
        ts__run_one(q, j);
    }
    if (outer) {
        uint64_t c0 = ts__now_us();
        int rc = ts_store_commit(q->store, &err);
        if (rc < 0) {
            ts_store_rollback(q->store);
            ts_log_error("group_commit_failed", "jobs=%u reason=%s", n, err.msg);
        }
        uint64_t share = (ts__now_us() - c0) / n;
        for (ts_dbjob *j = group; j; j = j->next) {
            j->commit_rc = rc < 0 ? TS_ESTORAGE : 0;
            j->ran_us += share;
        }
        q->commits++;
        q->grouped += n;
    }
    q->busy_us += ts__now_us() - start;
    uv_mutex_unlock(&q->lock);
}

static void ts__runner_after(uv_work_t *req, int status);
static void ts__runner_queue(ts_dbq *q);

static void ts__bg_wake(uv_timer_t *t)
{
    ts_dbq *q = t->data;
    q->bg_wakes++;
    if (!q->running)
        ts__runner_queue(q);
}

/* Nothing could be taken: when a background job waits, wakes the queue when
 * it may run (the queue idle long enough, or its longest wait over); any
 * job submitted meanwhile takes the queue first and this is asked again
 * when it has completed. */
static void ts__bg_arm(ts_dbq *q)
{
    if (q->bg_timer == NULL)
        return;
    uv_mutex_lock(&q->qlock);
    const ts_dbjob *bg = q->bg_head;
    uint64_t at = bg ? bg->queued_us + TS_DBQ_BACKGROUND_MAX_WAIT_US + 1 : 0;
    uv_mutex_unlock(&q->qlock);
    if (bg == NULL) {
        uv_timer_stop(q->bg_timer);
        return;
    }
    uint64_t idle_at = q->fg_last_us + TS_DBQ_BACKGROUND_IDLE_MS * 1000u;
    if (idle_at < at)
        at = idle_at;
    uint64_t now = ts__now_us();
    /* rounded up: the loop's clock is in milliseconds, and a wake too
     * early only arms the timer again */
    uint64_t ms = at > now ? (at - now + 999) / 1000 + 1 : 1;
    uv_timer_start(q->bg_timer, ts__bg_wake, ms, 0);
}

static void ts__runner_queue(ts_dbq *q)
{
    q->group = ts__take(q);
    if (q->group == NULL) {
        ts__bg_arm(q);
        return;
    }
    if (q->bg_timer != NULL)
        uv_timer_stop(q->bg_timer);
    q->running = true;
    uv_queue_work(q->loop, &q->runner, ts__runner_work, ts__runner_after);
}

static void ts__runner_after(uv_work_t *req, int status)
{
    (void)status;
    ts_dbq *q = req->data;
    ts_dbjob *group = q->group;
    q->group = NULL;
    q->running = false;
    if (group != NULL && !group->background)
        q->fg_last_us = ts__now_us();
    /* completions may queue more work: it starts after this group is done */
    while (group != NULL) {
        ts_dbjob *next = group->next;
        group->next = NULL;
        q->inflight--;
        q->jobs_done++;
        group->done(group);
        group = next;
    }
    ts__ckpt_maybe(q);
    if (!q->running)
        ts__runner_queue(q);
}

static void ts__submit(ts_dbq *q, ts_dbjob *job, ts_dbjob_work work, ts_dbjob_done done, void *data, bool grouped,
                       bool background)
{
    job->q = q;
    job->next = NULL;
    job->work = work;
    job->done = done;
    job->data = data;
    job->groupable = grouped;
    job->background = background;
    job->commit_rc = 0;
    job->group_n = 0;
    job->queued_us = ts__now_us();
    if (!background)
        q->fg_last_us = job->queued_us;
    q->inflight++;
    uv_mutex_lock(&q->qlock);
    ts_dbjob **head = background ? &q->bg_head : &q->head, **tail = background ? &q->bg_tail : &q->tail;
    if (*tail)
        (*tail)->next = job;
    else
        *head = job;
    *tail = job;
    uv_mutex_unlock(&q->qlock);
    if (!q->running)
        ts__runner_queue(q);
}

void ts_dbq_submit(ts_dbq *q, ts_dbjob *job, ts_dbjob_work work, ts_dbjob_done done, void *data)
{
    ts__submit(q, job, work, done, data, false, false);
}

void ts_dbq_submit_background(ts_dbq *q, ts_dbjob *job, ts_dbjob_work work, ts_dbjob_done done, void *data)
{
    ts__submit(q, job, work, done, data, false, true);
}

void ts_dbq_submit_grouped(ts_dbq *q, ts_dbjob *job, ts_dbjob_work work, ts_dbjob_done done, void *data)
{
    ts__submit(q, job, work, done, data, true, false);
}

void ts_dbq_drain(ts_dbq *q)
{
    q->draining = true;
    if (!q->running)
        ts__runner_queue(q);
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
