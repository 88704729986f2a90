/* Internals shared by the store's source files; not part of its API. */
#ifndef TS_STORE_INT_H
#define TS_STORE_INT_H

#include <sqlite3.h>
#include <stdatomic.h>

#include "common/ts_store.h"

enum ts__stmt {
    TS__GET_RECORD,
    TS__UPSERT_RECORD,
    TS__INSERT_RECORD,
    TS__DEL_AUDIENCE,
    TS__ADD_AUDIENCE,
    TS__META_GET,
    TS__META_SET,
    TS__ADD_CONFLICT,
    TS__ADD_AUDIT,
    TS__REPLICA_GET,
    TS__REPLICA_PUT,
    TS__REPLICA_NEXT_NUM,
    TS__CHANGES_ALL,
    TS__CHANGES_FOR,
    TS__PENDING,
    TS__PENDING_LOSERS,
    TS__STMT_COUNT
};

struct ts_store {
    sqlite3 *db;
    sqlite3_stmt *stmt[TS__STMT_COUNT];
    ts_store_role role;
    const ts_registry *reg;
    ts_rid replica;
    char db_id[40];
    char station[TS_KEY_MAX + 1];
    ts_hlc hlc;
    uint64_t seq;       /* server: last sequence number given */
    uint64_t lseq;      /* station: last local change number given */
    uint64_t hlc_saved; /* HLC last persisted in meta */
    uint64_t hlc_epoch; /* bumped when the clock is set back (ts_store_restamp_ahead) */
    int tx_depth;
    ts_buf scratch;     /* canonical value packing */
    ts_buf vv_blob;
    ts_buf fields_blob;
    ts_change_check_fn check;
    void *check_ctx;
    int sync_mode;                  /* ts_sync_mode, for a checkpointer's connection */
    /* WAL checkpoints done elsewhere (ts_store_wal.c): 0 = SQLite's own auto-checkpoint */
    uint32_t wal_inline_pages;
    _Atomic uint32_t wal_pages;     /* pages in the WAL after the last commit */
    atomic_bool wal_grew;           /* a commit since the last ts_store_wal_take */
    _Atomic uint64_t wal_inline_ckpts;
};

/* A record as stored. Version fields live in the caller's arena. */
typedef struct ts__row {
    bool found;
    char owner[TS_KEY_MAX + 1];
    ts_version v;
    uint64_t seq;
    uint64_t lseq;
} ts__row;

int ts__tx_begin(ts_store *st, ts_error *err);
int ts__tx_commit(ts_store *st, ts_error *err);
void ts__tx_rollback(ts_store *st);
int ts__sql_error(ts_store *st, ts_error *err, const char *what);

/* Loads (table, id); row->found false when absent. */
int ts__load(ts_store *st, const char *table, const char *id, ts__row *row, ts_arena *arena, ts_error *err);
/* Decodes stored vv and fields blobs into v. */
int ts__decode_version(ts_store *st, const void *vv, int vv_len, const void *fields, int fields_len,
                       ts_version *v, ts_arena *arena, ts_error *err);
/* Writes a version of (table, id): records row, audience rows. seq is the
 * server sequence (or the server's seq on a station), lseq the station's
 * pending number (0: not pending), origin the replica whose push this
 * version is exactly, as its number "#<num>" (NULL otherwise). */
int ts__write(ts_store *st, const ts_table_def *t, const char *table, const char *id, const char *owner,
              const ts_version *v, uint64_t seq, uint64_t lseq, const char *origin, ts_error *err);
/* Inserts a new record of a station table (audience: its owner) unless the
 * key exists; *inserted says which. The fast path of applying new records. */
int ts__insert_new(ts_store *st, const char *table, const char *id, const char *owner, const ts_version *v,
                   uint64_t seq, const char *origin, bool *inserted, ts_error *err);
/* Logs one true conflict (once: the same loser is never logged twice). */
int ts__log_conflict(ts_store *st, const char *table, const char *id, const ts_field *winner,
                     const ts_field *loser, const char *rule, const ts_actor *actor, uint64_t lseq,
                     ts_error *err);
/* Persists the HLC and counters in meta when they moved. */
int ts__save_clocks(ts_store *st, ts_error *err);
const char *ts__actor_name(const ts_store *st, const ts_actor *actor);
const char *ts__actor_kind(const ts_actor *actor);

#endif
