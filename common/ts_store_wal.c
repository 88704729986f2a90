/* WAL checkpoints off the writer's thread (docs/BENCHMARKS.md, "ingest").
 *
 * SQLite's auto-checkpoint runs on the connection that committed, right
 * after its commit: the district's store thread copied the WAL's pages into
 * the database (and synced it) while every station waited for its
 * PUSH_ACK. Here the store's connection only notes how large the WAL has
 * grown; a second connection to the same file (ts_store_ckpt) does the
 * PASSIVE checkpoint on another thread, beside the writer. A checkpoint
 * only moves pages that are already durable in the WAL (synchronous FULL:
 * the WAL is synced at commit), so what a commit promised does not depend on
 * it. Should the checkpointer fall behind (readers in the way, a slow disk),
 * the store's connection checkpoints itself once the WAL holds
 * wal_inline_pages, as SQLite would have. */
#include <stdlib.h>
#include <string.h>

#include "common/ts_log.h"
#include "common/ts_store_int.h"
#include "common/ts_xmalloc.h"

struct ts_store_ckpt {
    sqlite3 *db;
};

static int ts__wal_hook(void *ctx, sqlite3 *db, const char *name, int pages)
{
    ts_store *st = ctx;
    atomic_store(&st->wal_pages, pages > 0 ? (uint32_t)pages : 0u);
    if (pages > 0 && (uint32_t)pages >= st->wal_inline_pages) {
        /* what sqlite3_wal_autocheckpoint's hook does (errors are not the commit's) */
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        atomic_fetch_add(&st->wal_inline_ckpts, 1);
        return SQLITE_OK;
    }
    atomic_store(&st->wal_grew, true);
    return SQLITE_OK;
}

void ts_store_wal_offload(ts_store *st, uint32_t inline_pages)
{
    st->wal_inline_pages = inline_pages ? inline_pages : 1;
    sqlite3_wal_hook(st->db, ts__wal_hook, st); /* replaces the auto-checkpoint */
}

bool ts_store_wal_take(ts_store *st, uint32_t min_pages)
{
    if (!atomic_exchange(&st->wal_grew, false))
        return false;
    return atomic_load(&st->wal_pages) >= min_pages;
}

uint64_t ts_store_wal_inline_checkpoints(const ts_store *st)
{
    return atomic_load(&((ts_store *)st)->wal_inline_ckpts);
}

int ts_store_ckpt_open(ts_store *st, ts_store_ckpt **out, ts_error *err)
{
    *out = NULL;
    const char *path = sqlite3_db_filename(st->db, "main");
    sqlite3_vfs *vfs = NULL;
    if (path == NULL || path[0] == '\0' || sqlite3_file_control(st->db, "main", SQLITE_FCNTL_VFS_POINTER, &vfs) != SQLITE_OK ||
        vfs == NULL)
        return ts_error_set(err, TS_ESTORAGE, "the store has no file to checkpoint");
    ts_store_ckpt *ck = ts_xcalloc(1, sizeof *ck);
    if (sqlite3_open_v2(path, &ck->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs->zName) != SQLITE_OK) {
        ts_error_set(err, TS_ESTORAGE, "cannot open %s for checkpoints: %s", path,
                     ck->db ? sqlite3_errmsg(ck->db) : "out of memory");
        ts_store_ckpt_close(ck);
        return TS_ESTORAGE;
    }
    static const char *const sync_names[] = {"OFF", "NORMAL", "FULL"};
    char sql[64];
    /* the checkpoint syncs the database as the store's own would have */
    snprintf(sql, sizeof sql, "PRAGMA synchronous = %s",
             sync_names[(unsigned)st->sync_mode <= TS_SYNC_FULL ? st->sync_mode : TS_SYNC_FULL]);
    sqlite3_extended_result_codes(ck->db, 1);
    if (sqlite3_exec(ck->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        ts_error_set(err, TS_ESTORAGE, "checkpoint connection: %s", sqlite3_errmsg(ck->db));
        ts_store_ckpt_close(ck);
        return TS_ESTORAGE;
    }
    *out = ck;
    return 0;
}

int ts_store_ckpt_run(ts_store_ckpt *ck, int *wal_pages, int *copied, ts_error *err)
{
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(ck->db, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (wal_pages)
        *wal_pages = log;
    if (copied)
        *copied = done;
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        return ts_error_set(err, TS_ESTORAGE, "checkpoint: %s", sqlite3_errmsg(ck->db));
    return 0;
}

void ts_store_ckpt_close(ts_store_ckpt *ck)
{
    if (ck == NULL)
        return;
    if (ck->db != NULL && sqlite3_close(ck->db) != SQLITE_OK)
        ts_log_error("store_close_failed", "what=checkpointer reason=%s", sqlite3_errmsg(ck->db));
    free(ck);
}
