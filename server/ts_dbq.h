/* Store work off the event loop: jobs run on the store's own thread, one at
 * a time (the store is single-threaded), and their completion runs back on
 * the loop. The loop therefore never waits on a disk sync, and the store
 * never waits on the loop: the thread takes each job as it is queued.
 *
 * Group commit: the sessions' jobs (pushes, pulls, hellos) that are waiting
 * together run in one transaction, each in its own savepoint, and are
 * completed only after its single commit. A disk sync is the cost of a
 * commit, so when many stations push at once they share it; and nothing is
 * acknowledged before it is durable, since completion follows the commit. */
#ifndef TS_DBQ_H
#define TS_DBQ_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "common/ts_store.h"

typedef struct ts_dbq ts_dbq;
typedef struct ts_dbjob ts_dbjob;

/* Runs on a worker thread holding the store. */
typedef void (*ts_dbjob_work)(ts_dbjob *job, ts_store *store);
/* Runs on the loop thread afterwards. */
typedef void (*ts_dbjob_done)(ts_dbjob *job);

/* Most jobs one group commit holds. */
#define TS_DBQ_GROUP_MAX 64
/* A background job runs only once the queue has been idle this long (no
 * other job submitted, waiting or running: between two group commits of a
 * busy district the queue is empty for a moment, and that is not idle)... */
#define TS_DBQ_BACKGROUND_IDLE_MS 300u
/* ...or once it has waited this long (so a district that never stops
 * syncing still gets it done). */
#define TS_DBQ_BACKGROUND_MAX_WAIT_US (5u * 1000u * 1000u)
/* WAL checkpoints off the store's thread (ts_dbq_checkpoint_off_store): one
 * starts after a group commit that left this many pages in the WAL (SQLite's
 * auto-checkpoint default); the store checkpoints itself only past
 * TS_DBQ_WAL_INLINE_PAGES, should the checkpointer fall behind. */
#define TS_DBQ_CHECKPOINT_PAGES 1000u
#define TS_DBQ_WAL_INLINE_PAGES 16000u

struct ts_dbjob {
    ts_dbq *q;
    ts_dbjob *next; /* in the queue, then in the running group */
    ts_dbjob_work work;
    ts_dbjob_done done;
    void *data;
    bool groupable;   /* may share a transaction (its writes are one savepoint) */
    bool background;  /* waits behind every other job (ts_dbq_submit_background) */
    int commit_rc;    /* 0, or TS_ESTORAGE when the group's commit failed: nothing it wrote is kept */
    uint32_t group_n; /* how many jobs its commit held */
    uint64_t queued_us;
    uint64_t ran_us; /* time spent holding the store (its share of the commit included) */
};

struct ts_dbq {
    uv_loop_t *loop;
    ts_store *store;
    uv_mutex_t lock;  /* the store */
    uv_mutex_t qlock; /* the queue, the list of groups done, stopping */
    uv_cond_t wake;   /* the runner: a job queued, or stopping */
    uv_thread_t thread; /* the runner */
    bool stopping;
    ts_dbjob *head, *tail; /* handed to the runner, in order */
    ts_dbjob *done_head, *done_tail; /* run, for the loop to complete */
    uv_async_t *done_async; /* wakes the loop for them (freed by its close callback) */
    ts_dbjob *bg_head, *bg_tail; /* background jobs not yet handed, in arrival order */
    unsigned handed; /* jobs handed to the runner and not yet completed */
    bool running;    /* handed > 0 */
    /* background jobs: the last time a foreground job was submitted or
     * finished (0: never), and the timer that wakes the queue when the
     * first background job may run (allocated: freed by its close callback) */
    uint64_t fg_last_us;
    uv_timer_t *bg_timer;
    bool draining;     /* ts_dbq_drain: background jobs no longer wait for idle */
    uint64_t bg_wakes; /* times bg_timer fired */
    unsigned inflight;
    uint64_t jobs_done;
    uint64_t commits;    /* transactions that held a group */
    uint64_t grouped;    /* jobs that ran in them */
    uint64_t busy_us;    /* total time the store was held */
    uint64_t commit_us;  /* of which in group commits (the WAL's sync: wall time, not CPU) */
    uint64_t max_wait_us;
    /* the checkpointer (NULL: SQLite's auto-checkpoint on the store's thread) */
    ts_store_ckpt *ckpt;
    uv_work_t ckpt_work;
    uv_mutex_t ckpt_lock; /* the checkpointer's connection */
    bool ckpt_running, closed;
    int ckpt_rc, ckpt_rc_logged;
    char ckpt_err[256];
    uint64_t checkpoints; /* done by the checkpointer */
};

int ts_dbq_init(ts_dbq *q, uv_loop_t *loop, ts_store *store);
/* Once every job has completed (inflight 0). It closes the queue's timer:
 * the loop must run once more (its close callback frees it). */
void ts_dbq_destroy(ts_dbq *q);
/* The daemon is stopping: background jobs queued or to come run as soon as
 * no other job waits, without waiting for the queue to be idle. */
void ts_dbq_drain(ts_dbq *q);
/* WAL checkpoints on a connection of their own, on the thread pool beside
 * the store's thread, after the group commits that grew the WAL (see
 * common/ts_store_wal.c). On failure the store keeps checkpointing itself. */
int ts_dbq_checkpoint_off_store(ts_dbq *q, ts_error *err);
/* Queues a job that runs alone (its own transactions, if any). */
void ts_dbq_submit(ts_dbq *q, ts_dbjob *job, ts_dbjob_work work, ts_dbjob_done done, void *data);
/* Queues a job that may share a group commit (see above). Its work must do
 * its writes through the store's transactions (nested: savepoints) and not
 * assume it is the outermost one. */
void ts_dbq_submit_grouped(ts_dbq *q, ts_dbjob *job, ts_dbjob_work work, ts_dbjob_done done, void *data);
/* Queues a job that runs alone and only once the queue has been idle
 * TS_DBQ_BACKGROUND_IDLE_MS (or after TS_DBQ_BACKGROUND_MAX_WAIT_US), in
 * the order queued: periodic refreshes that stations waiting for an answer
 * should not wait behind, and that should not take the store's thread from
 * a district syncing hard. */
void ts_dbq_submit_background(ts_dbq *q, ts_dbjob *job, ts_dbjob_work work, ts_dbjob_done done, void *data);
/* Runs work synchronously on the calling (loop) thread: for start-up and
 * tools, never for sessions. */
void ts_dbq_run_now(ts_dbq *q, ts_dbjob_work work, void *data);

#endif
