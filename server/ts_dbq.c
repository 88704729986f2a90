#include "server/ts_dbq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "common/ts_log.h"
#include "common/ts_xmalloc.h"

static uint64_t ts__now_us(void)
{
    return uv_hrtime() / 1000;
}

static void ts__runner_main(void *arg);
static void ts__done_wake(uv_async_t *a);

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
    if (rc == 0 && (rc = uv_cond_init(&q->wake)) != 0) {
        uv_mutex_destroy(&q->ckpt_lock);
        uv_mutex_destroy(&q->qlock);
        uv_mutex_destroy(&q->lock);
    }
    if (rc < 0)
        return rc;
    q->ckpt_work.data = q;
    q->bg_timer = ts_xmalloc(sizeof *q->bg_timer);
    uv_timer_init(loop, q->bg_timer);
    q->bg_timer->data = q;
    q->done_async = ts_xmalloc(sizeof *q->done_async);
    uv_async_init(loop, q->done_async, ts__done_wake); /* only fails for a NULL callback */
    q->done_async->data = q;
    /* it keeps the loop running only while jobs are handed to the runner */
    uv_unref((uv_handle_t *)q->done_async);
    if ((rc = uv_thread_create(&q->thread, ts__runner_main, q)) != 0) {
        /* at start, before any station: a district without threads cannot run */
        ts_log_error("store_thread_failed", "reason=%s", uv_strerror(rc));
        abort();
    }
    return 0;
}

static void ts__handle_free(uv_handle_t *h)
{
    free(h);
}

void ts_dbq_destroy(ts_dbq *q)
{
    /* the runner, idle (no job in flight), ends */
    uv_mutex_lock(&q->qlock);
    q->stopping = true;
    uv_cond_signal(&q->wake);
    uv_mutex_unlock(&q->qlock);
    uv_thread_join(&q->thread);
    uv_cond_destroy(&q->wake);
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
    /* the queue may be gone before the loop next runs: the handles are freed
     * by their close callbacks, never here */
    uv_close((uv_handle_t *)q->bg_timer, ts__handle_free);
    q->bg_timer = NULL;
    uv_close((uv_handle_t *)q->done_async, ts__handle_free);
    q->done_async = NULL;
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
 * foreground job submitted or finished within TS_DBQ_BACKGROUND_IDLE_MS. */
static bool ts__idle(const ts_dbq *q, uint64_t now)
{
    return q->draining || q->fg_last_us == 0 || now - q->fg_last_us >= TS_DBQ_BACKGROUND_IDLE_MS * 1000u;
}

/* ---------------------------------------------------------------- the runner
 * The store's own thread. It takes what runs next as soon as it is queued,
 * never waiting for the loop: a loop busy reading and decoding other
 * stations' frames (tens of milliseconds when fifty PUSH frames arrive
 * together) would otherwise leave the store idle between two groups. Done
 * groups go to the loop's list of completions (ts__done_wake), in the order
 * run, each only after its commit. */

/* One job alone, or the groupable jobs at the head (qlock held). */
static ts_dbjob *ts__take_locked(ts_dbq *q)
{
    ts_dbjob *first = q->head, *last = first;
    if (first == NULL)
        return NULL;
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

/* One group: its jobs, then (groupable) its one commit (q->lock held). */
static void ts__run_group(ts_dbq *q, ts_dbjob *group)
{
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
        uint64_t took = ts__now_us() - c0, share = took / n;
        q->commit_us += took;
        for (ts_dbjob *j = group; j; j = j->next) {
            j->commit_rc = rc < 0 ? TS_ESTORAGE : 0;
            j->ran_us += share;
        }
        q->commits++;
        q->grouped += n;
    }
    q->busy_us += ts__now_us() - start;
}

static void ts__runner_main(void *arg)
{
    ts_dbq *q = arg;
    prctl(PR_SET_NAME, "ts-store", 0, 0, 0); /* top -H, perf: the store's thread by name */
    for (;;) {
        /* the store first, then the queue: what is queued while another
         * holds the store (ts_dbq_run_now) goes in one group */
        uv_mutex_lock(&q->lock);
        uv_mutex_lock(&q->qlock);
        while (q->head == NULL && !q->stopping) {
            uv_mutex_unlock(&q->lock);
            uv_cond_wait(&q->wake, &q->qlock);
            uv_mutex_unlock(&q->qlock);
            uv_mutex_lock(&q->lock);
            uv_mutex_lock(&q->qlock);
        }
        ts_dbjob *group = ts__take_locked(q);
        uv_mutex_unlock(&q->qlock);
        if (group == NULL) { /* stopping, nothing queued */
            uv_mutex_unlock(&q->lock);
            return;
        }
        ts__run_group(q, group);
        uv_mutex_unlock(&q->lock);
        uv_mutex_lock(&q->qlock);
        if (q->done_tail != NULL)
            q->done_tail->next = group;
        else
            q->done_head = group;
        ts_dbjob *last = group;
        while (last->next != NULL)
            last = last->next;
        q->done_tail = last;
        uv_mutex_unlock(&q->qlock);
        uv_async_send(q->done_async);
    }
}

/* Hands a job to the runner: foreground jobs as they come, a background
 * job once ts__bg_consider lets it (at the head when it has waited too
 * long, else behind whatever is queued, which is then nothing). */
static void ts__hand(ts_dbq *q, ts_dbjob *job, bool at_head)
{
    if (q->handed++ == 0) {
        q->running = true;
        uv_ref((uv_handle_t *)q->done_async); /* the loop waits for its completion */
    }
    uv_mutex_lock(&q->qlock);
    if (at_head) {
        job->next = q->head;
        q->head = job;
        if (q->tail == NULL)
            q->tail = job;
    } else {
        if (q->tail)
            q->tail->next = job;
        else
            q->head = job;
        q->tail = job;
    }
    uv_cond_signal(&q->wake);
    uv_mutex_unlock(&q->qlock);
}

static void ts__bg_wake(uv_timer_t *t);

/* The first background job waiting runs when nothing else is handed to
 * the runner and the queue has been idle long enough, or, whatever runs,
 * once it has waited its longest; else the timer wakes the queue when it
 * may (any foreground job meanwhile puts that off, and this is asked again
 * when it has completed). */
static void ts__bg_consider(ts_dbq *q)
{
    ts_dbjob *bg = q->bg_head;
    if (bg == NULL) {
        uv_timer_stop(q->bg_timer);
        return;
    }
    uint64_t now = ts__now_us();
    bool due = now - bg->queued_us > TS_DBQ_BACKGROUND_MAX_WAIT_US;
    if (due || (q->handed == 0 && ts__idle(q, now))) {
        q->bg_head = bg->next;
        if (q->bg_head == NULL)
            q->bg_tail = NULL;
        bg->next = NULL;
        uv_timer_stop(q->bg_timer);
        ts__hand(q, bg, due);
        return;
    }
    if (q->handed > 0)
        return; /* asked again at the next completion */
    uint64_t at = bg->queued_us + TS_DBQ_BACKGROUND_MAX_WAIT_US + 1;
    uint64_t idle_at = q->fg_last_us + TS_DBQ_BACKGROUND_IDLE_MS * 1000u;
    if (idle_at < at)
        at = idle_at;
    /* rounded up: the loop's clock is in milliseconds, and a wake too
     * early only arms the timer again */
    uint64_t ms = at > now ? (at - now + 999) / 1000 + 1 : 1;
    uv_timer_start(q->bg_timer, ts__bg_wake, ms, 0);
}

static void ts__bg_wake(uv_timer_t *t)
{
    ts_dbq *q = t->data;
    q->bg_wakes++;
    ts__bg_consider(q);
}

/* Completes the groups done, in order. Completions may queue more work:
 * the runner takes it as it comes. */
static void ts__done_wake(uv_async_t *a)
{
    ts_dbq *q = a->data;
    uv_mutex_lock(&q->qlock);
    ts_dbjob *jobs = q->done_head;
    q->done_head = q->done_tail = NULL;
    uv_mutex_unlock(&q->qlock);
    while (jobs != NULL) {
        ts_dbjob *next = jobs->next;
        jobs->next = NULL;
        if (!jobs->background)
            q->fg_last_us = ts__now_us();
        if (--q->handed == 0) {
            q->running = false;
            uv_unref((uv_handle_t *)q->done_async);
        }
        q->inflight--;
        q->jobs_done++;
        jobs->done(jobs);
        jobs = next;
    }
    ts__ckpt_maybe(q);
    ts__bg_consider(q);
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
    q->inflight++;
    if (!background) {
        q->fg_last_us = job->queued_us;
        ts__hand(q, job, false);
        return;
    }
    if (q->bg_tail)
        q->bg_tail->next = job;
    else
        q->bg_head = job;
    q->bg_tail = job;
    ts__bg_consider(q);
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
    ts__bg_consider(q);
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
