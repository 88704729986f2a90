/* Store work off the event loop: jobs run on libuv's thread pool, one at a
 * time (the store is single-threaded), and their completion runs back on the
 * loop. The loop therefore never waits on a disk sync. */
#ifndef TS_DBQ_H
#define TS_DBQ_H

#include <stdint.h>

#include <uv.h>

#include "common/ts_store.h"

typedef struct ts_dbq ts_dbq;
typedef struct ts_dbjob ts_dbjob;

/* Runs on a worker thread holding the store. */
typedef void (*ts_dbjob_work)(ts_dbjob *job, ts_store *store);
/* Runs on the loop thread afterwards. */
typedef void (*ts_dbjob_done)(ts_dbjob *job);

struct ts_dbjob {
    uv_work_t req;
    ts_dbq *q;
    ts_dbjob_work work;
    ts_dbjob_done done;
    void *data;
    uint64_t queued_us;
    uint64_t ran_us; /* time spent holding the store */
};

struct ts_dbq {
    uv_loop_t *loop;
    ts_store *store;
    uv_mutex_t lock;
    unsigned inflight;
    uint64_t jobs_done;
    uint64_t busy_us; /* total time the store was held */
    uint64_t max_wait_us;
};

int ts_dbq_init(ts_dbq *q, uv_loop_t *loop, ts_store *store);
void ts_dbq_destroy(ts_dbq *q);
void ts_dbq_submit(ts_dbq *q, ts_dbjob *job, ts_dbjob_work work, ts_dbjob_done done, void *data);
/* Runs work synchronously on the calling (loop) thread: for start-up and
 * tools, never for sessions. */
void ts_dbq_run_now(ts_dbq *q, ts_dbjob_work work, void *data);

#endif
