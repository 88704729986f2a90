/* The DB queue's group commit: jobs waiting together share one transaction
 * and are completed, in order, only after its commit; a failed commit undoes
 * every job of the group and tells each; jobs that must run alone do. The
 * store's thread takes each job as it is queued, without waiting for the
 * loop. Jobs queued while the test holds the store's lock wait together, as
 * they would behind a group running. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>
#include <uv.h>

#include "common/ts_xmalloc.h"
#include "server/ts_dbq.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_store.h"

typedef struct job {
    ts_dbjob base;
    int index;
    const char *sql; /* what the job writes */
    int work_rc;     /* its statement's result */
    bool in_tx;      /* whether it ran inside a transaction */
    atomic_bool ran; /* its work is over (set on the store's thread) */
    bool done;
} job;

static int done_order[64];
static int ndone;

static void job_work(ts_dbjob *base, ts_store *st)
{
    job *j = base->data;
    j->in_tx = !sqlite3_get_autocommit(ts_store_db(st));
    ts_error err;
    if (ts_store_begin(st, &err) < 0) {
        j->work_rc = -1;
        return;
    }
    j->work_rc = sqlite3_exec(ts_store_db(st), j->sql, NULL, NULL, NULL);
    if (j->work_rc == SQLITE_OK)
        ts_store_commit(st, &err);
    else
        ts_store_rollback(st);
    atomic_store(&j->ran, true);
}

static void job_done(ts_dbjob *base)
{
    job *j = base->data;
    j->done = true;
    done_order[ndone++] = j->index;
}

typedef struct fixture {
    char *dir;
    ts_store *st;
    uv_loop_t loop;
    ts_dbq q;
} fixture;

static int setup(void **state)
{
    fixture *f = ts_xcalloc(1, sizeof *f);
    f->dir = ts_tmpdir_make("dbq");
    f->st = ts_test_open(f->dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    /* a deferred foreign key lets a job make the commit itself fail */
    assert_int_equal(sqlite3_exec(ts_store_db(f->st),
                                  "PRAGMA foreign_keys = ON;"
                                  "CREATE TABLE t(x INTEGER);"
                                  "CREATE TABLE parent(id INTEGER PRIMARY KEY);"
                                  "CREATE TABLE child(p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(ts_dbq_init(&f->q, &f->loop, f->st), 0);
    ndone = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ts_dbq_destroy(&f->q);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0); /* the queue's timer, closed */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    ts_store_close(f->st);
    ts_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void wait_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long count(fixture *f, const char *sql)
{
    sqlite3_stmt *q;
    long n = -1;
    if (sqlite3_prepare_v2(ts_store_db(f->st), sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

static void test_waiting_jobs_share_a_commit(void **state)
{
    fixture *f = *state;
    job jobs[10];
    char sql[10][64];
    for (int i = 0; i < 10; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].index = i;
        snprintf(sql[i], sizeof sql[i], "INSERT INTO t VALUES(%d)", i);
        jobs[i].sql = sql[i];
    }
    /* the first starts at once; the nine queued while the store is busy
     * (here: held by the test) go together */
    ts_dbq_submit_grouped(&f->q, &jobs[0].base, job_work, job_done, &jobs[0]);
    for (int ms = 0; ms < 10000 && !atomic_load(&jobs[0].ran); ms++)
        wait_ms(1);
    uv_mutex_lock(&f->q.lock);
    for (int i = 1; i < 10; i++)
        ts_dbq_submit_grouped(&f->q, &jobs[i].base, job_work, job_done, &jobs[i]);
    uv_mutex_unlock(&f->q.lock);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ndone, 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(done_order[i], i);
        assert_int_equal(jobs[i].work_rc, SQLITE_OK);
        assert_int_equal(jobs[i].base.commit_rc, 0);
        assert_true(jobs[i].in_tx);
    }
    assert_int_equal(jobs[0].base.group_n, 1);
    for (int i = 1; i < 10; i++)
        assert_int_equal(jobs[i].base.group_n, 9);
    assert_int_equal(f->q.commits, 2);
    assert_int_equal(f->q.grouped, 10);
    /* the commits' time (their syncs), within the time the store was held */
    assert_true(f->q.commit_us > 0);
    assert_true(f->q.commit_us <= f->q.busy_us);
    assert_int_equal(f->q.inflight, 0);
    assert_false(f->q.running);
    assert_int_equal(count(f, "SELECT count(*) FROM t"), 10);
}

/* The store's thread goes from one job to the next without the loop: a
 * loop busy with other work (reading and decoding fifty stations' frames)
 * does not leave the store idle. Here the loop does not run at all until
 * both jobs have been done; they are completed, in order, when it runs. */
static void test_the_store_does_not_wait_for_the_loop(void **state)
{
    fixture *f = *state;
    job a = {.index = 0, .sql = "INSERT INTO t VALUES(1)"};
    job b = {.index = 1, .sql = "INSERT INTO t VALUES(2)"};
    ts_dbq_submit_grouped(&f->q, &a.base, job_work, job_done, &a);
    for (int ms = 0; ms < 10000 && !atomic_load(&a.ran); ms++)
        wait_ms(1);
    assert_true(atomic_load(&a.ran));
    ts_dbq_submit_grouped(&f->q, &b.base, job_work, job_done, &b);
    for (int ms = 0; ms < 10000 && !atomic_load(&b.ran); ms++)
        wait_ms(1);
    assert_true(atomic_load(&b.ran)); /* before: only once the loop had completed a */
    assert_int_equal(ndone, 0);
    assert_true(f->q.running);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ndone, 2);
    assert_int_equal(done_order[0], 0);
    assert_int_equal(done_order[1], 1);
    assert_int_equal(a.base.group_n, 1);
    assert_int_equal(b.base.group_n, 1);
    assert_int_equal(f->q.commits, 2);
    assert_int_equal(f->q.inflight, 0);
    assert_false(f->q.running);
    assert_int_equal(count(f, "SELECT count(*) FROM t"), 2);
}

static void test_failed_commit_undoes_the_group(void **state)
{
    fixture *f = *state;
    job first = {.index = 0, .sql = "INSERT INTO t VALUES(100)"};
    job a = {.index = 1, .sql = "INSERT INTO t VALUES(1)"};
    job bad = {.index = 2, .sql = "INSERT INTO child VALUES(42)"}; /* no parent 42: the commit fails */
    job c = {.index = 3, .sql = "INSERT INTO t VALUES(3)"};
    ts_dbq_submit_grouped(&f->q, &first.base, job_work, job_done, &first);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    uv_mutex_lock(&f->q.lock); /* the three wait together */
    ts_dbq_submit_grouped(&f->q, &a.base, job_work, job_done, &a);
    ts_dbq_submit_grouped(&f->q, &bad.base, job_work, job_done, &bad);
    ts_dbq_submit_grouped(&f->q, &c.base, job_work, job_done, &c);
    uv_mutex_unlock(&f->q.lock);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ndone, 4);
    assert_int_equal(first.base.commit_rc, 0);
    assert_int_equal(a.base.group_n, 3);
    /* each statement worked; the group's commit did not, and says so to each */
    assert_int_equal(a.work_rc, SQLITE_OK);
    assert_int_equal(bad.work_rc, SQLITE_OK);
    assert_int_equal(a.base.commit_rc, TS_ESTORAGE);
    assert_int_equal(bad.base.commit_rc, TS_ESTORAGE);
    assert_int_equal(c.base.commit_rc, TS_ESTORAGE);
    assert_int_equal(count(f, "SELECT count(*) FROM t"), 1); /* only the first job's row */
    assert_int_equal(count(f, "SELECT count(*) FROM child"), 0);
    assert_true(sqlite3_get_autocommit(ts_store_db(f->st)));

    /* and the queue goes on working */
    job after = {.index = 4, .sql = "INSERT INTO t VALUES(4)"};
    ts_dbq_submit_grouped(&f->q, &after.base, job_work, job_done, &after);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(after.base.commit_rc, 0);
    assert_int_equal(count(f, "SELECT count(*) FROM t"), 2);
}

static void test_alone_jobs_run_alone(void **state)
{
    fixture *f = *state;
    job g1 = {.index = 0, .sql = "INSERT INTO t VALUES(1)"};
    job g2 = {.index = 1, .sql = "INSERT INTO t VALUES(2)"};
    job solo = {.index = 2, .sql = "INSERT INTO t VALUES(3)"};
    job g3 = {.index = 3, .sql = "INSERT INTO t VALUES(4)"};
    job g4 = {.index = 4, .sql = "INSERT INTO t VALUES(5)"};
    uv_mutex_lock(&f->q.lock); /* all five wait together */
    ts_dbq_submit_grouped(&f->q, &g1.base, job_work, job_done, &g1);
    ts_dbq_submit_grouped(&f->q, &g2.base, job_work, job_done, &g2);
    ts_dbq_submit(&f->q, &solo.base, job_work, job_done, &solo);
    ts_dbq_submit_grouped(&f->q, &g3.base, job_work, job_done, &g3);
    ts_dbq_submit_grouped(&f->q, &g4.base, job_work, job_done, &g4);
    uv_mutex_unlock(&f->q.lock);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ndone, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(done_order[i], i);
    assert_false(solo.in_tx); /* its own transactions, not a group's */
    assert_int_equal(solo.base.group_n, 1);
    assert_int_equal(g1.base.group_n, 2); /* the two before the solo job, together */
    assert_int_equal(g2.base.group_n, 2);
    assert_int_equal(g3.base.group_n, 2);
    assert_int_equal(g4.base.group_n, 2);
    assert_int_equal(f->q.commits, 2);
    assert_int_equal(count(f, "SELECT count(*) FROM t"), 5);
}

static void test_background_jobs_wait_behind_the_others(void **state)
{
    fixture *f = *state;
    job g0 = {.index = 0, .sql = "INSERT INTO t VALUES(1)"};
    job bg = {.index = 1, .sql = "INSERT INTO t VALUES(2)"};
    job g1 = {.index = 2, .sql = "INSERT INTO t VALUES(3)"};
    job solo = {.index = 3, .sql = "INSERT INTO t VALUES(4)"};
    job g2 = {.index = 4, .sql = "INSERT INTO t VALUES(5)"};
    ts_dbq_submit_grouped(&f->q, &g0.base, job_work, job_done, &g0); /* starts at once */
    ts_dbq_submit_background(&f->q, &bg.base, job_work, job_done, &bg);
    ts_dbq_submit_grouped(&f->q, &g1.base, job_work, job_done, &g1);
    ts_dbq_submit(&f->q, &solo.base, job_work, job_done, &solo);
    ts_dbq_submit_grouped(&f->q, &g2.base, job_work, job_done, &g2);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ndone, 5);
    /* queued second, it runs last: every job queued after it went first */
    const int order[] = {0, 2, 3, 4, 1};
    for (int i = 0; i < 5; i++)
        assert_int_equal(done_order[i], order[i]);
    assert_false(bg.in_tx); /* alone, in its own transactions */
    assert_int_equal(bg.base.commit_rc, 0);
    assert_int_equal(count(f, "SELECT count(*) FROM t"), 5);

    /* it ran once the queue had been idle a while (the queue's timer woke
     * it): the queue is still idle, so one more starts at once */
    assert_int_equal(f->q.bg_wakes, 1);
    ndone = 0;
    job bg2 = {.index = 5, .sql = "INSERT INTO t VALUES(6)"};
    ts_dbq_submit_background(&f->q, &bg2.base, job_work, job_done, &bg2);
    assert_true(f->q.running);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ndone, 1);

    /* alone in the queue right after another job, it does not start at
     * once: the queue must be idle a while; then it runs */
    ndone = 0;
    job g3 = {.index = 6, .sql = "INSERT INTO t VALUES(7)"};
    job bg3 = {.index = 7, .sql = "INSERT INTO t VALUES(8)"};
    ts_dbq_submit_grouped(&f->q, &g3.base, job_work, job_done, &g3);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    ts_dbq_submit_background(&f->q, &bg3.base, job_work, job_done, &bg3);
    assert_false(f->q.running);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ndone, 2);
    assert_int_equal(f->q.bg_wakes, 2);
    assert_int_equal(f->q.inflight, 0);

    /* a queue draining (the daemon stopping) does not wait for idle */
    ndone = 0;
    job g4 = {.index = 8, .sql = "INSERT INTO t VALUES(9)"};
    job bg4 = {.index = 9, .sql = "INSERT INTO t VALUES(10)"};
    ts_dbq_submit_grouped(&f->q, &g4.base, job_work, job_done, &g4);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    ts_dbq_submit_background(&f->q, &bg4.base, job_work, job_done, &bg4);
    assert_false(f->q.running);
    ts_dbq_drain(&f->q);
    assert_true(f->q.running);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ndone, 2);
    assert_int_equal(f->q.bg_wakes, 2);
    assert_int_equal(f->q.inflight, 0);
    assert_int_equal(count(f, "SELECT count(*) FROM t"), 10);
}

/* ---------------------------------------------------------------- a steady stream
 * A timer submits a short foreground job every 20 ms (well inside the idle
 * delay, so the queue is empty between them but never idle), as stations'
 * pushes would, while one background job waits. */

#define STREAM_MAX 600 /* 12 s of it at most */

typedef struct stream {
    fixture *f;
    uv_timer_t tick;
    job jobs[STREAM_MAX];
    int submitted, limit;
    int fg_done;
    job bg;
    bool bg_started;
    uint64_t bg_start_us, bg_fg_last_us; /* when it started, and the queue's last foreground activity then */
    int fg_done_at_bg;
} stream;

static void stream_fg_done(ts_dbjob *base)
{
    stream *s = base->q->loop->data;
    s->fg_done++;
}

static void stream_bg_work(ts_dbjob *base, ts_store *st)
{
    stream *s = base->q->loop->data;
    s->bg_start_us = uv_hrtime() / 1000;
    /* a stream that has stopped no longer changes it (one that goes on
     * would, on the loop, while this runs) */
    if (s->limit > 0)
        s->bg_fg_last_us = base->q->fg_last_us;
    s->bg_started = true;
    job_work(base, st);
}

static void stream_bg_done(ts_dbjob *base)
{
    stream *s = base->q->loop->data;
    s->bg.done = true;
    s->fg_done_at_bg = s->fg_done;
}

static void stream_tick(uv_timer_t *t)
{
    stream *s = t->data;
    /* the stream stops at its limit, or (limit 0) once the background job ran */
    if ((s->limit > 0 && s->submitted >= s->limit) || (s->limit == 0 && s->bg.done) || s->submitted >= STREAM_MAX) {
        uv_timer_stop(t);
        return;
    }
    job *j = &s->jobs[s->submitted];
    *j = (job){.index = s->submitted, .sql = "INSERT INTO t VALUES(0)"};
    s->submitted++;
    ts_dbq_submit_grouped(&s->f->q, &j->base, job_work, stream_fg_done, j);
}

static stream *stream_start(fixture *f, int limit)
{
    stream *s = ts_xcalloc(1, sizeof *s);
    s->f = f;
    s->limit = limit;
    f->loop.data = s;
    uv_timer_init(&f->loop, &s->tick);
    s->tick.data = s;
    stream_tick(&s->tick); /* the first one now: the queue is busy before the background job comes */
    s->bg = (job){.index = -1, .sql = "INSERT INTO t VALUES(1)"};
    ts_dbq_submit_background(&f->q, &s->bg.base, stream_bg_work, stream_bg_done, &s->bg);
    uv_timer_start(&s->tick, stream_tick, 20, 20);
    return s;
}

static void stream_end(stream *s)
{
    uv_close((uv_handle_t *)&s->tick, NULL);
    assert_int_equal(uv_run(&s->f->loop, UV_RUN_DEFAULT), 0);
    free(s);
}

/* While foreground jobs keep coming within the idle delay, the background
 * job waits, though the queue is empty between them; once they stop, it
 * runs after the delay. */
static void test_background_waits_for_an_idle_queue(void **state)
{
    fixture *f = *state;
    stream *s = stream_start(f, 30); /* 0.6 s: twice the idle delay */
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_true(s->bg.done);
    assert_int_equal(s->fg_done, 30);
    assert_int_equal(s->fg_done_at_bg, 30); /* every foreground job went first */
    assert_true(s->bg_start_us - s->bg_fg_last_us >= TS_DBQ_BACKGROUND_IDLE_MS * 1000u);
    assert_true(s->bg_start_us - s->bg.base.queued_us < TS_DBQ_BACKGROUND_MAX_WAIT_US); /* not its longest wait */
    assert_true(f->q.bg_wakes >= 1);
    assert_int_equal(f->q.inflight, 0);
    assert_int_equal(count(f, "SELECT count(*) FROM t"), 31);
    stream_end(s);
}

/* Under a stream that never stops, the background job still runs once it
 * has waited TS_DBQ_BACKGROUND_MAX_WAIT_US. */
static void test_background_runs_after_its_longest_wait(void **state)
{
    fixture *f = *state;
    stream *s = stream_start(f, 0); /* until the background job has run (12 s at most) */
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_true(s->bg.done);
    assert_true(s->submitted < STREAM_MAX); /* it ran while the stream went on */
    assert_true(s->fg_done_at_bg > 0);
    assert_true(s->bg_start_us - s->bg.base.queued_us > TS_DBQ_BACKGROUND_MAX_WAIT_US);
    assert_int_equal(s->fg_done, s->submitted);
    assert_int_equal(f->q.inflight, 0);
    stream_end(s);
}

static long file_size(fixture *f, const char *name)
{
    char *path = ts_xasprintf("%s/%s", f->dir, name);
    struct stat sb;
    long n = stat(path, &sb) == 0 ? (long)sb.st_size : -1;
    free(path);
    return n;
}

/* About 1,500 pages (6 MB) in the WAL: above TS_DBQ_CHECKPOINT_PAGES. */
#define BIG_WRITE                                                                                                      \
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000)"                              \
    " INSERT INTO t SELECT randomblob(3000) FROM c"

/* With the WAL offloaded, a commit no longer copies the WAL into the
 * database on the committing connection (SQLite's auto-checkpoint would
 * have, past 1,000 pages); the checkpointer's own connection does. */
static void test_store_commit_leaves_the_checkpoint_to_another_connection(void **state)
{
    fixture *f = *state;
    ts_store_wal_offload(f->st, TS_DBQ_WAL_INLINE_PAGES);
    long db0 = file_size(f, "district.db");
    assert_int_equal(sqlite3_exec(ts_store_db(f->st), BIG_WRITE, NULL, NULL, NULL), SQLITE_OK);
    assert_true(file_size(f, "district.db-wal") > 4 * 1024 * 1024);
    assert_true(file_size(f, "district.db") < db0 + 1024 * 1024); /* not copied by the commit */
    assert_true(ts_store_wal_take(f->st, TS_DBQ_CHECKPOINT_PAGES));
    assert_false(ts_store_wal_take(f->st, 0)); /* taken: no commit since */
    assert_int_equal(ts_store_wal_inline_checkpoints(f->st), 0);

    ts_store_ckpt *ck;
    ts_error err;
    assert_int_equal(ts_store_ckpt_open(f->st, &ck, &err), 0);
    int log = 0, copied = 0;
    assert_int_equal(ts_store_ckpt_run(ck, &log, &copied, &err), 0);
    assert_true(log > (int)TS_DBQ_CHECKPOINT_PAGES);
    assert_int_equal(copied, log);
    assert_true(file_size(f, "district.db") > db0 + 4 * 1024 * 1024);
    ts_store_ckpt_close(ck);
    assert_int_equal(count(f, "SELECT count(*) FROM t"), 2000);

    /* past the inline limit the store checkpoints itself, as SQLite would */
    ts_store_wal_offload(f->st, 100);
    assert_int_equal(sqlite3_exec(ts_store_db(f->st), BIG_WRITE, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(ts_store_wal_inline_checkpoints(f->st), 1);
}

/* The queue starts a checkpoint after a group commit that grew the WAL,
 * on the thread pool, and waits for it when destroyed. */
static void test_group_commits_are_checkpointed_off_the_store(void **state)
{
    fixture *f = *state;
    ts_error err;
    assert_int_equal(ts_dbq_checkpoint_off_store(&f->q, &err), 0);
    long db0 = file_size(f, "district.db");
    job jobs[3];
    for (int i = 0; i < 3; i++) {
        jobs[i] = (job){.index = i, .sql = BIG_WRITE};
        ts_dbq_submit_grouped(&f->q, &jobs[i].base, job_work, job_done, &jobs[i]);
    }
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ndone, 3);
    assert_true(f->q.checkpoints >= 1);
    assert_int_equal(ts_store_wal_inline_checkpoints(f->st), 0);
    assert_true(file_size(f, "district.db") > db0 + 12 * 1024 * 1024); /* what the three wrote, copied */
    assert_int_equal(count(f, "SELECT count(*) FROM t"), 6000);

    /* one more, then destroyed while its checkpoint may still be queued or running */
    job last = {.index = 3, .sql = BIG_WRITE};
    ts_dbq_submit_grouped(&f->q, &last.base, job_work, job_done, &last);
    while (!last.done)
        uv_run(&f->loop, UV_RUN_ONCE);
    ts_dbq_destroy(&f->q);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ts_dbq_init(&f->q, &f->loop, f->st), 0); /* for teardown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_waiting_jobs_share_a_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_store_does_not_wait_for_the_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_undoes_the_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alone_jobs_run_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_jobs_wait_behind_the_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_waits_for_an_idle_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_runs_after_its_longest_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_commit_leaves_the_checkpoint_to_another_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_group_commits_are_checkpointed_off_the_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
