/* Store: opening, schema and migrations, metadata, local writes, reading,
 * logs and the canonical dump. Sync operations are in ts_store_sync.c. */
#include "common/ts_store.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "common/ts_log.h"
#include "common/ts_mp.h"
#include "common/ts_store_int.h"
#include "common/ts_xmalloc.h"

/* ---------------------------------------------------------------- schema
 * migrations[k] takes a database from user_version k to k + 1. A database is
 * never migrated backwards; every step runs in one transaction. */

static const char ts__schema_v1[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE records("
    " tbl TEXT NOT NULL, id TEXT NOT NULL, owner TEXT NOT NULL,"
    " vv BLOB NOT NULL, fields BLOB NOT NULL,"
    " deleted INTEGER NOT NULL DEFAULT 0, purged INTEGER NOT NULL DEFAULT 0,"
    " hlc INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL DEFAULT 0, lseq INTEGER NOT NULL DEFAULT 0,"
    " audience TEXT NOT NULL, origin TEXT, updated_at INTEGER NOT NULL,"
    " PRIMARY KEY(tbl, id)) WITHOUT ROWID;"
    "CREATE TABLE record_audience(station TEXT NOT NULL, seq INTEGER NOT NULL,"
    " tbl TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY(station, seq)) WITHOUT ROWID;"
    "CREATE INDEX record_audience_key ON record_audience(tbl, id);"
    "CREATE TABLE replicas(replica TEXT PRIMARY KEY, station TEXT NOT NULL,"
    " max_lseq INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'active',"
    " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, retired_at INTEGER, retired_reason TEXT)"
    " WITHOUT ROWID;"
    "CREATE TABLE station_cursors(station TEXT PRIMARY KEY, cursor INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE conflicts(id INTEGER PRIMARY KEY,"
    " tbl TEXT NOT NULL, rec_id TEXT NOT NULL, field TEXT NOT NULL,"
    " winner_value BLOB NOT NULL, winner_replica TEXT NOT NULL, winner_counter INTEGER NOT NULL,"
    " winner_hlc INTEGER NOT NULL,"
    " loser_value BLOB NOT NULL, loser_replica TEXT NOT NULL, loser_counter INTEGER NOT NULL,"
    " loser_hlc INTEGER NOT NULL,"
    " rule TEXT NOT NULL, detected_at INTEGER NOT NULL, detected_by TEXT NOT NULL, actor TEXT,"
    " lseq INTEGER NOT NULL DEFAULT 0, reported INTEGER NOT NULL DEFAULT 0,"
    " resolved_at INTEGER, resolved_by TEXT, resolution TEXT,"
    " UNIQUE(tbl, rec_id, field, loser_replica, loser_counter));"
    "CREATE INDEX conflicts_record ON conflicts(tbl, rec_id);"
    "CREATE TABLE audit(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT NOT NULL,"
    " actor_kind TEXT NOT NULL, action TEXT NOT NULL, tbl TEXT, rec_id TEXT, outcome TEXT,"
    " detail TEXT, peer TEXT);"
    "CREATE TABLE rejected(tbl TEXT NOT NULL, rec_id TEXT NOT NULL, lseq INTEGER NOT NULL,"
    " code INTEGER NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL,"
    " PRIMARY KEY(tbl, rec_id, lseq)) WITHOUT ROWID;";

static const char ts__schema_v1_server[] =
    "CREATE INDEX records_seq ON records(seq);"
    "CREATE INDEX records_audience ON records(audience, seq);"
    "CREATE INDEX records_tombstones ON records(seq) WHERE deleted = 1 AND purged = 0;";

static const char ts__schema_v1_station[] = "CREATE INDEX records_lseq ON records(lseq) WHERE lseq > 0;";

/* v2: district accounts and sessions for the admin API, what each station
 * last did (for the console), and an index to find who touched a record. */
static const char ts__schema_v2[] =
    "CREATE TABLE admin_users(username TEXT PRIMARY KEY, password TEXT NOT NULL, role TEXT NOT NULL,"
    " full_name TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, failed INTEGER NOT NULL DEFAULT 0,"
    " locked_until INTEGER NOT NULL DEFAULT 0, disabled INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE admin_sessions(token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, role TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, peer TEXT) WITHOUT ROWID;"
    "CREATE TABLE station_status(station TEXT PRIMARY KEY, replica TEXT, agent TEXT, peer TEXT,"
    " connected_at INTEGER, last_seen INTEGER, last_sync INTEGER, clock_skew_ms INTEGER,"
    " cert_serial TEXT, cert_not_after INTEGER, commune TEXT) WITHOUT ROWID;"
    "CREATE INDEX audit_record ON audit(tbl, rec_id);";

/* v3: the 2030 targets per commune and day, for the console's charts. */
static const char ts__schema_v3[] =
    "CREATE TABLE target_snapshots(day TEXT NOT NULL, station TEXT NOT NULL, indicator TEXT NOT NULL,"
    " numerator INTEGER NOT NULL, denominator INTEGER NOT NULL, PRIMARY KEY(day, station, indicator))"
    " WITHOUT ROWID;";

/* v4: the district reads changes by audience and seq (records_audience);
 * an index on seq alone cost every write and served no query of the daemon. */
static const char ts__schema_v4_server[] = "DROP INDEX IF EXISTS records_seq;";

/* v5: which station reports above Thường someone at the district opened
 * (once, by whom and when), so the console stops flagging them. */
static const char ts__schema_v5_server[] =
    "CREATE TABLE report_reads(report TEXT PRIMARY KEY, opened_by TEXT NOT NULL, opened_at INTEGER NOT NULL)"
    " WITHOUT ROWID;";

/* v6: when each commune's targets were computed, to tell figures the station
 * has not synced since (stale). */
static const char ts__schema_v6[] = "ALTER TABLE target_snapshots ADD COLUMN computed_at INTEGER NOT NULL DEFAULT 0;";

/* v7: the epidemic channel at the district: every case and epidemic report
 * it has seen (when it first arrived, for the reporting clock and the
 * cluster rule; no names), and the alerts it raised until someone named
 * acknowledged them. */
static const char ts__schema_v7_server[] =
    "CREATE TABLE epi_seen(tbl TEXT NOT NULL, rec_id TEXT NOT NULL, station TEXT NOT NULL, disease TEXT NOT NULL,"
    " kind TEXT NOT NULL, day TEXT NOT NULL, first_seen INTEGER NOT NULL, PRIMARY KEY(tbl, rec_id)) WITHOUT ROWID;"
    "CREATE INDEX epi_seen_disease ON epi_seen(disease, day);"
    "CREATE TABLE epi_alerts(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, disease TEXT NOT NULL,"
    " station TEXT NOT NULL, stations TEXT NOT NULL, rec_tbl TEXT, rec_id TEXT, cases INTEGER NOT NULL,"
    " first_day TEXT NOT NULL, last_day TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " ack_by TEXT, ack_at INTEGER, UNIQUE(kind, rec_tbl, rec_id));";

/* v8: the targets keep, with each figure, its value when it is not a share
 * (total fertility) and where its denominator comes from (the commune's
 * population of a year and its source). */
static const char ts__schema_v8[] = "ALTER TABLE target_snapshots ADD COLUMN value REAL;"
                                    "ALTER TABLE target_snapshots ADD COLUMN source TEXT;";

/* v9: the provincial plan is data the district loads (server/ts_plan_load.c):
 * every version loaded is kept with the file as loaded (history), its
 * targets' operators and thresholds are what the figures are judged by, and
 * a task whose lead body no longer exists can be set aside with a reason
 * (the district level, gone since July 2025) instead of going overdue. */
static const char ts__schema_v9_server[] =
    "CREATE TABLE plans(version INTEGER PRIMARY KEY, name TEXT NOT NULL, issuer TEXT NOT NULL,"
    " date TEXT NOT NULL, notes TEXT NOT NULL, doc TEXT NOT NULL, loaded_at INTEGER NOT NULL,"
    " loaded_by TEXT NOT NULL);"
    "CREATE TABLE plan_targets(version INTEGER NOT NULL, code TEXT NOT NULL, label_vi TEXT NOT NULL,"
    " label_en TEXT NOT NULL, op TEXT NOT NULL, threshold REAL, high REAL, year INTEGER, note TEXT,"
    " PRIMARY KEY(version, code)) WITHOUT ROWID;"
    "CREATE TABLE plan_task_na(task_id TEXT PRIMARY KEY, reason TEXT NOT NULL, by TEXT NOT NULL,"
    " at INTEGER NOT NULL) WITHOUT ROWID;";

/* v10: admin accounts limited to communes (the commune role, a viewer of
 * chosen communes: codes, comma-separated), and the commune UBNDs'
 * acknowledgements of the notices copied to them. */
static const char ts__schema_v10_server[] =
    "ALTER TABLE admin_users ADD COLUMN communes TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE commune_acks(notice_id TEXT NOT NULL, commune TEXT NOT NULL, username TEXT NOT NULL,"
    " person TEXT, acknowledged_at INTEGER NOT NULL, PRIMARY KEY(notice_id, commune)) WITHOUT ROWID;";

/* v11: each replica a number, which records.origin holds as "#<number>"
 * instead of the replica id (3 or 4 bytes instead of about 23): a resident
 * record of about 800 bytes then fits five to a 4 KiB page instead of four,
 * so the district writes a fifth fewer pages per record it stores
 * (docs/BENCHMARKS.md, "ingest"). Records stored before keep the replica id
 * in origin; readers accept both. */
static const char ts__schema_v11[] =
    "ALTER TABLE replicas ADD COLUMN num INTEGER;"
    "UPDATE replicas SET num = (SELECT count(*) FROM replicas r WHERE r.replica <= replicas.replica);"
    "CREATE UNIQUE INDEX replicas_num ON replicas(num);";

typedef struct ts__migration {
    const char *common;
    const char *server;
    const char *station;
} ts__migration;

static const ts__migration ts__migrations[TS_STORE_SCHEMA_VERSION] = {
    {ts__schema_v1, ts__schema_v1_server, ts__schema_v1_station},
    {ts__schema_v2, "", ""},
    {ts__schema_v3, "", ""},
    {"", ts__schema_v4_server, ""},
    {"", ts__schema_v5_server, ""},
    {ts__schema_v6, "", ""},
    {"", ts__schema_v7_server, ""},
    {ts__schema_v8, "", ""},
    {"", ts__schema_v9_server, ""},
    {"", ts__schema_v10_server, ""},
    {ts__schema_v11, "", ""},
};

int ts__sql_error(ts_store *st, ts_error *err, const char *what)
{
    int code = sqlite3_errcode(st->db);
    ts_log_error("storage_error", "what=%s sqlite=%d msg=%s", what, code, sqlite3_errmsg(st->db));
    return ts_error_set(err, TS_ESTORAGE, "storage failure (%s: %s)", what, sqlite3_errstr(code));
}

static int ts__exec(ts_store *st, const char *sql, ts_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        ts_log_error("storage_error", "what=exec msg=%s", msg ? msg : "?");
        int rc = ts_error_set(err, TS_ESTORAGE, "storage failure: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

/* Nested transactions are savepoints, so a failed write inside a caller's
 * transaction (one row of an import chunk) undoes only itself. */
/* Another process may have written since our last transaction (the agent
 * and the command line share a station's file): the counters and the clock
 * it saved are the truth, read under the write lock we now hold. The HLC
 * only ever moves forward. */
static void ts__reload_clocks(ts_store *st)
{
    uint64_t v, epoch = 0;
    ts_store_meta_get_u64(st, "hlc_epoch", &epoch);
    if (ts_store_meta_get_u64(st, "hlc", &v) == 0) {
        /* a new epoch: another process set the clock back on purpose */
        if (v > st->hlc.last || epoch != st->hlc_epoch)
            st->hlc.last = v;
        st->hlc_saved = v;
        st->hlc_epoch = epoch;
    }
    if (st->role == TS_ROLE_STATION && ts_store_meta_get_u64(st, "lseq", &v) == 0)
        st->lseq = v;
    if (st->role == TS_ROLE_SERVER && ts_store_meta_get_u64(st, "seq", &v) == 0 && v > st->seq)
        st->seq = v;
}

int ts__tx_begin(ts_store *st, ts_error *err)
{
    if (st->tx_depth > 0) {
        char sql[32];
        snprintf(sql, sizeof sql, "SAVEPOINT ts%d", st->tx_depth);
        int rc = ts__exec(st, sql, err);
        if (rc == 0)
            st->tx_depth++;
        return rc;
    }
    int rc = ts__exec(st, "BEGIN IMMEDIATE", err);
    if (rc == 0) {
        st->tx_depth = 1;
        ts__reload_clocks(st);
    }
    return rc;
}

int ts__tx_commit(ts_store *st, ts_error *err)
{
    if (st->tx_depth == 0)
        return 0;
    if (st->tx_depth > 1) {
        char sql[32];
        snprintf(sql, sizeof sql, "RELEASE ts%d", st->tx_depth - 1);
        st->tx_depth--;
        return ts__exec(st, sql, err);
    }
    st->tx_depth = 0;
    int rc = ts__exec(st, "COMMIT", err);
    if (rc < 0)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

void ts__tx_rollback(ts_store *st)
{
    if (st->tx_depth == 0)
        return;
    if (st->tx_depth > 1) {
        char sql[64];
        snprintf(sql, sizeof sql, "ROLLBACK TO ts%d; RELEASE ts%d", st->tx_depth - 1, st->tx_depth - 1);
        sqlite3_exec(st->db, sql, NULL, NULL, NULL);
        st->tx_depth--;
        return;
    }
    st->tx_depth = 0;
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int ts_store_begin(ts_store *st, ts_error *err)
{
    return ts__tx_begin(st, err);
}

/* What the rolled-back writes numbered was never committed: the counters
 * go back to what the file holds, so the next write does not skip numbers
 * and nobody polling the last sequence number sees a change that is not
 * there. */
static void ts__forget_uncommitted(ts_store *st)
{
    uint64_t v;
    if (ts_store_meta_get_u64(st, "lseq", &v) == 0)
        st->lseq = v;
    if (ts_store_meta_get_u64(st, "seq", &v) == 0)
        st->seq = v;
}

int ts_store_commit(ts_store *st, ts_error *err)
{
    int rc = ts__tx_commit(st, err);
    /* a COMMIT that failed (a full disk) was rolled back */
    if (rc < 0 && st->tx_depth == 0)
        ts__forget_uncommitted(st);
    return rc;
}

void ts_store_rollback(ts_store *st)
{
    ts__tx_rollback(st);
    if (st->tx_depth == 0)
        ts__forget_uncommitted(st);
}

bool ts_store_in_tx(const ts_store *st)
{
    return st->tx_depth > 0;
}

static int ts__migrate(ts_store *st, int from, ts_error *err)
{
    for (int v = from; v < TS_STORE_SCHEMA_VERSION; v++) {
        const ts__migration *m = &ts__migrations[v];
        int rc = ts__tx_begin(st, err);
        if (rc < 0)
            return rc;
        if ((rc = ts__exec(st, m->common, err)) < 0 ||
            (rc = ts__exec(st, st->role == TS_ROLE_SERVER ? m->server : m->station, err)) < 0) {
            ts__tx_rollback(st);
            return rc;
        }
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if ((rc = ts__exec(st, sql, err)) < 0 || (rc = ts__tx_commit(st, err)) < 0) {
            ts__tx_rollback(st);
            return rc;
        }
        ts_log_info("store_migrated", "to=%d", v + 1);
    }
    return 0;
}

/* ---------------------------------------------------------------- statements */

static const char *const ts__sql[TS__STMT_COUNT] = {
    [TS__GET_RECORD] = "SELECT owner, vv, fields, seq, lseq FROM records WHERE tbl = ?1 AND id = ?2",
    [TS__UPSERT_RECORD] =
        "INSERT INTO records(tbl, id, owner, vv, fields, deleted, hlc, seq, lseq, audience, origin, updated_at)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        " ON CONFLICT(tbl, id) DO UPDATE SET owner = excluded.owner, vv = excluded.vv,"
        " fields = excluded.fields, deleted = excluded.deleted, purged = 0, hlc = excluded.hlc,"
        " seq = excluded.seq, lseq = excluded.lseq, audience = excluded.audience,"
        " origin = excluded.origin, updated_at = excluded.updated_at",
    [TS__INSERT_RECORD] =
        "INSERT INTO records(tbl, id, owner, vv, fields, deleted, hlc, seq, lseq, audience, origin, updated_at)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?3, ?9, ?10) ON CONFLICT(tbl, id) DO NOTHING",
    [TS__DEL_AUDIENCE] = "DELETE FROM record_audience WHERE tbl = ?1 AND id = ?2",
    [TS__ADD_AUDIENCE] = "INSERT OR REPLACE INTO record_audience(station, seq, tbl, id) VALUES(?1, ?2, ?3, ?4)",
    [TS__META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [TS__META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2)"
                     " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [TS__ADD_CONFLICT] =
        "INSERT OR IGNORE INTO conflicts(tbl, rec_id, field, winner_value, winner_replica, winner_counter,"
        " winner_hlc, loser_value, loser_replica, loser_counter, loser_hlc, rule, detected_at, detected_by,"
        " actor, lseq, resolved_at, resolved_by, resolution)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    [TS__ADD_AUDIT] = "INSERT INTO audit(ts, actor, actor_kind, action, tbl, rec_id, outcome, detail, peer)"
                      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [TS__REPLICA_GET] = "SELECT station, max_lseq, status, num FROM replicas WHERE replica = ?1",
    [TS__REPLICA_PUT] =
        "INSERT INTO replicas(replica, station, max_lseq, status, first_seen, last_seen, num)"
        " VALUES(?1, ?2, ?3, 'active', ?4, ?4, ?5)"
        " ON CONFLICT(replica) DO UPDATE SET max_lseq = max(max_lseq, excluded.max_lseq),"
        " last_seen = excluded.last_seen, num = coalesce(num, excluded.num)",
    [TS__REPLICA_NEXT_NUM] = "SELECT coalesce(max(num), 0) + 1 FROM replicas",
    [TS__CHANGES_ALL] = "SELECT tbl, id, owner, vv, fields, seq FROM records WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    /* three index ranges (one station, everyone, listed audiences), each
     * limited, merged by seq: the cost follows what is returned. A version
     * that is exactly what the asking replica pushed is not sent back: its
     * origin is the replica's number ("#12", ?5) or, written before schema
     * 11, its id (?4). */
    [TS__CHANGES_FOR] =
        "SELECT tbl, id, owner, vv, fields, seq FROM ("
        " SELECT * FROM (SELECT tbl, id, owner, vv, fields, seq FROM records"
        "  WHERE audience = ?1 AND seq > ?2 AND (origin IS NULL OR ?4 IS NULL OR origin NOT IN (?4, ?5))"
        "  ORDER BY seq LIMIT ?3)"
        " UNION ALL SELECT * FROM (SELECT tbl, id, owner, vv, fields, seq FROM records"
        "  WHERE audience = '*' AND seq > ?2 AND (origin IS NULL OR ?4 IS NULL OR origin NOT IN (?4, ?5))"
        "  ORDER BY seq LIMIT ?3)"
        " UNION ALL SELECT * FROM (SELECT r.tbl, r.id, r.owner, r.vv, r.fields, r.seq"
        "  FROM record_audience a JOIN records r ON r.tbl = a.tbl AND r.id = a.id"
        "  WHERE a.station = ?1 AND a.seq > ?2 AND (r.origin IS NULL OR ?4 IS NULL OR r.origin NOT IN (?4, ?5))"
        "  ORDER BY a.seq LIMIT ?3))"
        " ORDER BY seq LIMIT ?3",
    [TS__PENDING] = "SELECT tbl, id, owner, vv, fields, lseq FROM records WHERE lseq > ?1 ORDER BY lseq LIMIT ?2",
    [TS__PENDING_LOSERS] = "SELECT field, loser_value, loser_replica, loser_counter, loser_hlc FROM conflicts"
                           " WHERE tbl = ?1 AND rec_id = ?2 AND reported = 0",
};

/* ---------------------------------------------------------------- open/close */

void ts_store_options_init(ts_store_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->synchronous = TS_SYNC_FULL;
    opt->max_ahead_ms = TS_HLC_DEFAULT_MAX_AHEAD_MS;
    opt->busy_timeout_ms = 5000;
}

static void ts__random_hex(char *out, size_t bytes)
{
    unsigned char rnd[32];
    if (bytes > sizeof rnd || RAND_bytes(rnd, (int)bytes) != 1) {
        fprintf(stderr, "level=fatal event=random_failed\n");
        abort();
    }
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", rnd[i]);
}

static int ts__init_meta(ts_store *st, const ts_store_options *opt, ts_error *err)
{
    char buf[128];
    int rc = ts_store_meta_get(st, "role", buf, sizeof buf);
    if (rc == TS_ENOT_FOUND) {
        /* a new database: fix its identity once */
        if ((rc = ts__tx_begin(st, err)) < 0)
            return rc;
        ts_rid rid;
        ts_rid_generate(&rid, st->role == TS_ROLE_SERVER ? "district" : st->station);
        char dbid[33];
        ts__random_hex(dbid, 16);
        if ((rc = ts_store_meta_set(st, "role", st->role == TS_ROLE_SERVER ? "server" : "station")) < 0 ||
            (rc = ts_store_meta_set(st, "replica", rid.b)) < 0 || (rc = ts_store_meta_set(st, "db_id", dbid)) < 0 ||
            (rc = ts_store_meta_set(st, "station", st->station)) < 0 ||
            (rc = ts_store_meta_set_u64(st, "created_at", ts_wall_ms())) < 0 ||
            (rc = ts__tx_commit(st, err)) < 0) {
            ts__tx_rollback(st);
            return rc < 0 && err && err->code ? rc : ts__sql_error(st, err, "init meta");
        }
        ts_log_info("store_created", "role=%s replica=%s db_id=%s path=%s",
                    st->role == TS_ROLE_SERVER ? "server" : "station", rid.b, dbid, opt->path);
    } else if (rc < 0) {
        return ts__sql_error(st, err, "read meta");
    } else if (strcmp(buf, st->role == TS_ROLE_SERVER ? "server" : "station") != 0) {
        return ts_error_set(err, TS_EBAD_VALUE, "database %s belongs to a %s, not a %s", opt->path, buf,
                            st->role == TS_ROLE_SERVER ? "server" : "station");
    }

    if (ts_store_meta_get(st, "replica", buf, sizeof buf) < 0 || ts_rid_set_cstr(&st->replica, buf) < 0)
        return ts_error_set(err, TS_ESTORAGE, "database %s has no valid replica id", opt->path);
    if (ts_store_meta_get(st, "db_id", st->db_id, sizeof st->db_id) < 0)
        return ts_error_set(err, TS_ESTORAGE, "database %s has no db id", opt->path);
    if (ts_store_meta_get(st, "station", buf, sizeof buf) == 0 && buf[0] != '\0') {
        if (opt->station != NULL && opt->station[0] != '\0' && strcmp(opt->station, buf) != 0)
            return ts_error_set(err, TS_EBAD_VALUE, "database %s belongs to station %s, not %s", opt->path, buf,
                                opt->station);
        snprintf(st->station, sizeof st->station, "%s", buf);
    }
    uint64_t v = 0;
    if (ts_store_meta_get_u64(st, "hlc", &v) == 0)
        st->hlc.last = st->hlc_saved = v;
    ts_store_meta_get_u64(st, "hlc_epoch", &st->hlc_epoch);
    if (ts_store_meta_get_u64(st, "lseq", &v) == 0)
        st->lseq = v;

    /* every write saves seq in meta in its own transaction; only a database
     * without it (never written by this version) needs the scan */
    uint64_t saved_seq = 0;
    if (ts_store_meta_get_u64(st, "seq", &saved_seq) == 0) {
        st->seq = saved_seq;
        return 0;
    }
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT max(seq) FROM records", -1, &q, NULL) != SQLITE_OK)
        return ts__sql_error(st, err, "max seq");
    if (sqlite3_step(q) == SQLITE_ROW)
        st->seq = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return 0;
}

/* SQLite's memory statistics (sqlite3_memory_used, soft heap limits: used
 * nowhere here) cost a global mutex around every allocation and free:
 * Debian's library has no lookaside allocator (OMIT_LOOKASIDE), so that is
 * several a record, about a tenth of the district store's thread under
 * make bench ONLY=ingest. Turned off once, before SQLite initialises; a
 * process whose SQLite is already initialised keeps them (SQLITE_MISUSE,
 * harmless). */
static pthread_once_t ts__sqlite_once = PTHREAD_ONCE_INIT;

static void ts__sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int ts_store_open(ts_store **out, const ts_store_options *opt, ts_error *err)
{
    *out = NULL;
    pthread_once(&ts__sqlite_once, ts__sqlite_setup);
    if (opt->registry == NULL || (opt->role != TS_ROLE_SERVER && opt->role != TS_ROLE_STATION))
        return ts_error_set(err, TS_EBAD_VALUE, "store needs a role and a table registry");
    if (opt->role == TS_ROLE_STATION && opt->create && (opt->station == NULL || opt->station[0] == '\0'))
        return ts_error_set(err, TS_EBAD_VALUE, "a station store needs the station code");

    ts_store *st = ts_xcalloc(1, sizeof *st);
    st->role = opt->role;
    st->check = opt->check;
    st->check_ctx = opt->check_ctx;
    st->sync_mode = (int)opt->synchronous;
    st->reg = opt->registry;
    const char *station = opt->station && opt->station[0] ? opt->station
                          : opt->role == TS_ROLE_SERVER ? opt->registry->district_owner
                                                        : "";
    snprintf(st->station, sizeof st->station, "%s", station);
    ts_hlc_init(&st->hlc, 0, opt->max_ahead_ms ? opt->max_ahead_ms : TS_HLC_DEFAULT_MAX_AHEAD_MS);
    ts_hlc_set_clock(&st->hlc, opt->clock, opt->clock_ctx);
    ts_buf_init(&st->scratch);
    ts_buf_init(&st->vv_blob);
    ts_buf_init(&st->fields_blob);

    int flags = opt->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (opt->create && !opt->read_only)
        flags |= SQLITE_OPEN_CREATE;
    flags |= SQLITE_OPEN_NOMUTEX;
    int rc;
    if (sqlite3_open_v2(opt->path, &st->db, flags, opt->vfs) != SQLITE_OK) {
        rc = ts_error_set(err, TS_ESTORAGE, "cannot open database %s: %s", opt->path,
                          st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(st->db, opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 5000);
    sqlite3_extended_result_codes(st->db, 1);

    char pragmas[256];
    static const char *const sync_names[] = {"OFF", "NORMAL", "FULL"};
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s; PRAGMA foreign_keys = OFF;"
             " PRAGMA cache_size = -16000; PRAGMA temp_store = MEMORY;",
             sync_names[(unsigned)opt->synchronous <= TS_SYNC_FULL ? opt->synchronous : TS_SYNC_FULL]);
    if (!opt->read_only && (rc = ts__exec(st, pragmas, err)) < 0)
        goto fail;

    sqlite3_stmt *q;
    int version = 0;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK) {
        rc = ts_error_set(err, TS_ESTORAGE, "%s is not a tramsync database: %s", opt->path, sqlite3_errmsg(st->db));
        goto fail;
    }
    if (sqlite3_step(q) == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (version > TS_STORE_SCHEMA_VERSION) {
        rc = ts_error_set(err, TS_ESTORAGE, "database %s has schema %d, newer than this program (%d)", opt->path,
                          version, TS_STORE_SCHEMA_VERSION);
        goto fail;
    }
    if (version < TS_STORE_SCHEMA_VERSION) {
        if (opt->read_only) {
            rc = ts_error_set(err, TS_ESTORAGE, "database %s needs a migration (schema %d)", opt->path, version);
            goto fail;
        }
        if ((rc = ts__migrate(st, version, err)) < 0)
            goto fail;
    }
    for (int i = 0; i < TS__STMT_COUNT; i++) {
        /* the meta statements may already be open, from the migrations */
        sqlite3_finalize(st->stmt[i]);
        st->stmt[i] = NULL;
        if (sqlite3_prepare_v3(st->db, ts__sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL) != SQLITE_OK) {
            rc = ts__sql_error(st, err, "prepare");
            goto fail;
        }
    }
    if ((rc = ts__init_meta(st, opt, err)) < 0)
        goto fail;
    *out = st;
    return 0;

fail:
    ts_store_close(st);
    return rc;
}

void ts_store_close(ts_store *st)
{
    if (st == NULL)
        return;
    if (st->db != NULL) {
        while (st->tx_depth > 0)
            ts__tx_rollback(st);
        for (int i = 0; i < TS__STMT_COUNT; i++)
            sqlite3_finalize(st->stmt[i]);
        if (sqlite3_close(st->db) != SQLITE_OK) /* a statement left open: a bug */
            ts_log_error("store_close_failed", "reason=%s", sqlite3_errmsg(st->db));
    }
    ts_buf_free(&st->scratch);
    ts_buf_free(&st->vv_blob);
    ts_buf_free(&st->fields_blob);
    free(st);
}

ts_store_role ts_store_get_role(const ts_store *st)
{
    return st->role;
}

const ts_rid *ts_store_replica(const ts_store *st)
{
    return &st->replica;
}

const char *ts_store_db_id(const ts_store *st)
{
    return st->db_id;
}

const char *ts_store_station(const ts_store *st)
{
    return st->station;
}

const ts_registry *ts_store_registry(const ts_store *st)
{
    return st->reg;
}

ts_hlc *ts_store_hlc(ts_store *st)
{
    return &st->hlc;
}

uint64_t ts_store_last_seq(const ts_store *st)
{
    return st->seq;
}

sqlite3 *ts_store_db(ts_store *st)
{
    return st->db;
}

/* ---------------------------------------------------------------- meta */

int ts_store_meta_get(ts_store *st, const char *key, char *out, size_t size)
{
    sqlite3_stmt *s = st->stmt[TS__META_GET];
    if (s == NULL) { /* during open, before statements are prepared */
        if (sqlite3_prepare_v2(st->db, ts__sql[TS__META_GET], -1, &st->stmt[TS__META_GET], NULL) != SQLITE_OK)
            return TS_ESTORAGE;
        s = st->stmt[TS__META_GET];
    }
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int ret;
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(s, 0);
        snprintf(out, size, "%s", v ? v : "");
        ret = 0;
    } else {
        if (size)
            out[0] = '\0';
        ret = rc == SQLITE_DONE ? TS_ENOT_FOUND : TS_ESTORAGE;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return ret;
}

int ts_store_meta_get_u64(ts_store *st, const char *key, uint64_t *out)
{
    char buf[32];
    int rc = ts_store_meta_get(st, key, buf, sizeof buf);
    if (rc < 0)
        return rc;
    *out = strtoull(buf, NULL, 10);
    return 0;
}

int ts_store_meta_set(ts_store *st, const char *key, const char *value)
{
    sqlite3_stmt *s = st->stmt[TS__META_SET];
    if (s == NULL) {
        if (sqlite3_prepare_v2(st->db, ts__sql[TS__META_SET], -1, &st->stmt[TS__META_SET], NULL) != SQLITE_OK)
            return TS_ESTORAGE;
        s = st->stmt[TS__META_SET];
    }
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : TS_ESTORAGE;
}

int ts_store_meta_set_u64(ts_store *st, const char *key, uint64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, value);
    return ts_store_meta_set(st, key, buf);
}

int ts__save_clocks(ts_store *st, ts_error *err)
{
    if (st->hlc.last != st->hlc_saved) {
        if (ts_store_meta_set_u64(st, "hlc", st->hlc.last) < 0)
            return ts__sql_error(st, err, "save hlc");
        st->hlc_saved = st->hlc.last;
    }
    if (st->role == TS_ROLE_STATION && ts_store_meta_set_u64(st, "lseq", st->lseq) < 0)
        return ts__sql_error(st, err, "save lseq");
    if (st->role == TS_ROLE_SERVER && ts_store_meta_set_u64(st, "seq", st->seq) < 0)
        return ts__sql_error(st, err, "save seq");
    return 0;
}

/* ---------------------------------------------------------------- rows */

int ts__decode_version(ts_store *st, const void *vv, int vv_len, const void *fields, int fields_len,
                       ts_version *v, ts_arena *arena, ts_error *err)
{
    msgpack_unpacked up;
    int rc = ts_mp_unpack(vv, (size_t)vv_len, NULL, &up, err);
    if (rc == 0) {
        rc = ts_vv_unpack(&up.data, &v->vv, "stored vv", err);
        msgpack_unpacked_destroy(&up);
    }
    if (rc < 0)
        return ts_error_set(err, TS_ESTORAGE, "stored record is corrupt: %s", err ? err->msg : "vv");
    rc = ts_mp_unpack(fields, (size_t)fields_len, NULL, &up, err);
    if (rc == 0) {
        rc = ts_fields_unpack(&up.data, v, arena, &st->scratch, "stored fields", err);
        msgpack_unpacked_destroy(&up);
    }
    if (rc < 0)
        return ts_error_set(err, TS_ESTORAGE, "stored record is corrupt: %s", err ? err->msg : "fields");
    return 0;
}

int ts__load(ts_store *st, const char *table, const char *id, ts__row *row, ts_arena *arena, ts_error *err)
{
    sqlite3_stmt *s = st->stmt[TS__GET_RECORD];
    row->found = false;
    row->owner[0] = '\0';
    row->seq = row->lseq = 0;
    ts_vv_clear(&row->v.vv);
    row->v.fields = NULL;
    row->v.nfields = 0;
    sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        row->found = true;
        snprintf(row->owner, sizeof row->owner, "%s", (const char *)sqlite3_column_text(s, 0));
        ret = ts__decode_version(st, sqlite3_column_blob(s, 1), sqlite3_column_bytes(s, 1),
                                 sqlite3_column_blob(s, 2), sqlite3_column_bytes(s, 2), &row->v, arena, err);
        row->seq = (uint64_t)sqlite3_column_int64(s, 3);
        row->lseq = (uint64_t)sqlite3_column_int64(s, 4);
    } else if (rc != SQLITE_DONE) {
        ret = ts__sql_error(st, err, "load record");
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return ret;
}

static int ts__step_done(ts_store *st, sqlite3_stmt *s, ts_error *err, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : ts__sql_error(st, err, what);
}

int ts__write(ts_store *st, const ts_table_def *t, const char *table, const char *id, const char *owner,
              const ts_version *v, uint64_t seq, uint64_t lseq, const char *origin, ts_error *err)
{
    ts_buf_reset(&st->vv_blob);
    ts_vv_pack_buf(&st->vv_blob, &v->vv);
    ts_buf_reset(&st->fields_blob);
    ts_fields_pack_buf(&st->fields_blob, v);

    /* audience column: one station, '*' for all, '+' for a list kept in record_audience */
    ts_audience aud;
    const char *aud_col = owner;
    bool multi = false;
    if (st->role == TS_ROLE_SERVER && t != NULL) {
        int rc = ts_table_audience(t, owner, v, &aud, err);
        if (rc < 0)
            return rc;
        if (aud.all)
            aud_col = "*";
        else if (aud.n == 1)
            aud_col = aud.code[0];
        else {
            aud_col = "+";
            multi = true;
        }
    }

    sqlite3_stmt *s = st->stmt[TS__UPSERT_RECORD];
    sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, owner, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, st->vv_blob.data, (int)st->vv_blob.len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 5, st->fields_blob.data, (int)st->fields_blob.len, SQLITE_STATIC);
    sqlite3_bind_int(s, 6, ts_version_deleted(v) ? 1 : 0);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)ts_version_max_hlc(v));
    sqlite3_bind_int64(s, 8, (sqlite3_int64)seq);
    sqlite3_bind_int64(s, 9, (sqlite3_int64)lseq);
    sqlite3_bind_text(s, 10, aud_col, -1, SQLITE_STATIC);
    if (origin != NULL)
        sqlite3_bind_text(s, 11, origin, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 11);
    sqlite3_bind_int64(s, 12, (sqlite3_int64)ts_wall_ms());
    int rc = ts__step_done(st, s, err, "write record");
    if (rc < 0 || st->role != TS_ROLE_SERVER)
        return rc;

    /* tables whose audience comes from a field may move between one station
     * and a list: the list index always follows the record's current seq */
    if (t == NULL || t->kind == TS_TABLE_STATION || t->audience_all)
        return 0;
    s = st->stmt[TS__DEL_AUDIENCE];
    sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    if ((rc = ts__step_done(st, s, err, "audience")) < 0 || !multi)
        return rc;
    for (size_t i = 0; i < aud.n; i++) {
        s = st->stmt[TS__ADD_AUDIENCE];
        sqlite3_bind_text(s, 1, aud.code[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
        sqlite3_bind_text(s, 3, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, id, -1, SQLITE_STATIC);
        if ((rc = ts__step_done(st, s, err, "audience")) < 0)
            return rc;
    }
    return 0;
}

int ts__insert_new(ts_store *st, const char *table, const char *id, const char *owner, const ts_version *v,
                   uint64_t seq, const char *origin, bool *inserted, ts_error *err)
{
    ts_buf_reset(&st->vv_blob);
    ts_vv_pack_buf(&st->vv_blob, &v->vv);
    ts_buf_reset(&st->fields_blob);
    ts_fields_pack_buf(&st->fields_blob, v);
    sqlite3_stmt *s = st->stmt[TS__INSERT_RECORD];
    sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, owner, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, st->vv_blob.data, (int)st->vv_blob.len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 5, st->fields_blob.data, (int)st->fields_blob.len, SQLITE_STATIC);
    sqlite3_bind_int(s, 6, ts_version_deleted(v) ? 1 : 0);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)ts_version_max_hlc(v));
    sqlite3_bind_int64(s, 8, (sqlite3_int64)seq);
    if (origin != NULL)
        sqlite3_bind_text(s, 9, origin, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 9);
    sqlite3_bind_int64(s, 10, (sqlite3_int64)ts_wall_ms());
    int rc = ts__step_done(st, s, err, "insert record");
    *inserted = rc == 0 && sqlite3_changes(st->db) == 1;
    return rc;
}

/* ---------------------------------------------------------------- actors and audit */

const char *ts__actor_kind(const ts_actor *actor)
{
    static const char *const kinds[] = {"local", "station", "server", "admin"};
    return actor && (unsigned)actor->kind <= TS_ACTOR_ADMIN ? kinds[actor->kind] : "local";
}

const char *ts__actor_name(const ts_store *st, const ts_actor *actor)
{
    if (actor != NULL && actor->name != NULL)
        return actor->name;
    return st->station;
}

int ts_store_audit(ts_store *st, const ts_actor *actor, const char *action, const char *table,
                   const char *record, const char *outcome, const char *detail)
{
    sqlite3_stmt *s = st->stmt[TS__ADD_AUDIT];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)ts_wall_ms());
    sqlite3_bind_text(s, 2, ts__actor_name(st, actor), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, ts__actor_kind(actor), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, record, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, outcome, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, detail, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, actor ? actor->peer : NULL, -1, SQLITE_STATIC);
    return ts__step_done(st, s, NULL, "audit");
}

int ts__log_conflict(ts_store *st, const char *table, const char *id, const ts_field *winner,
                     const ts_field *loser, const char *rule, const ts_actor *actor, uint64_t lseq,
                     ts_error *err)
{
    sqlite3_stmt *s = st->stmt[TS__ADD_CONFLICT];
    uint64_t now = ts_wall_ms();
    /* the same value on both sides loses nothing: logged, and marked resolved */
    bool same = winner->value_len == loser->value_len && memcmp(winner->value, loser->value, loser->value_len) == 0;
    sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, winner->name, (int)winner->name_len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, winner->value, (int)winner->value_len, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, winner->dot.rid.b, winner->dot.rid.len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)winner->dot.counter);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)winner->hlc);
    sqlite3_bind_blob(s, 8, loser->value, (int)loser->value_len, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, loser->dot.rid.b, loser->dot.rid.len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 10, (sqlite3_int64)loser->dot.counter);
    sqlite3_bind_int64(s, 11, (sqlite3_int64)loser->hlc);
    sqlite3_bind_text(s, 12, rule, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 13, (sqlite3_int64)now);
    sqlite3_bind_text(s, 14, st->replica.b, st->replica.len, SQLITE_STATIC);
    sqlite3_bind_text(s, 15, ts__actor_name(st, actor), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 16, (sqlite3_int64)lseq);
    if (same) {
        sqlite3_bind_int64(s, 17, (sqlite3_int64)now);
        sqlite3_bind_text(s, 18, "system", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 19, "identical values", -1, SQLITE_STATIC);
    }
    return ts__step_done(st, s, err, "log conflict");
}

/* ---------------------------------------------------------------- values */

void ts_value_str(ts_buf *b, const char *s)
{
    msgpack_packer pk;
    ts_buf_packer(b, &pk);
    ts_mp_pack_cstr(&pk, s);
}

void ts_value_int(ts_buf *b, int64_t v)
{
    msgpack_packer pk;
    ts_buf_packer(b, &pk);
    if (v >= 0)
        msgpack_pack_uint64(&pk, (uint64_t)v);
    else
        msgpack_pack_int64(&pk, v);
}

void ts_value_real(ts_buf *b, double v)
{
    msgpack_packer pk;
    ts_buf_packer(b, &pk);
    msgpack_pack_double(&pk, v);
}

void ts_value_bool(ts_buf *b, bool v)
{
    msgpack_packer pk;
    ts_buf_packer(b, &pk);
    if (v)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
}

void ts_value_nil(ts_buf *b)
{
    msgpack_packer pk;
    ts_buf_packer(b, &pk);
    msgpack_pack_nil(&pk);
}

/* ---------------------------------------------------------------- local writes */

/* May this replica's own user write these fields of this record? Stations
 * may write their own station records and the station-writable fields of
 * shared records that include them; the district writes everything. */
static int ts__authorize_local(ts_store *st, const ts_table_def *t, const char *owner, const ts__row *cur,
                               const ts_kv *fields, size_t n, bool deleting, ts_error *err)
{
    if (st->role == TS_ROLE_SERVER)
        return 0;
    switch (t->kind) {
    case TS_TABLE_STATION:
        if (strcmp(owner, st->station) != 0)
            return ts_error_set(err, TS_EFORBIDDEN, "%s records of station %s cannot be written here", t->name, owner);
        return 0;
    case TS_TABLE_DISTRICT:
        return ts_error_set(err, TS_EFORBIDDEN, "table %s is written by the district only", t->name);
    case TS_TABLE_SHARED:
        if (!cur->found)
            return ts_error_set(err, TS_EFORBIDDEN, "shared %s records are created by the district", t->name);
        if (deleting)
            return ts_error_set(err, TS_EFORBIDDEN, "shared %s records are deleted by the district only", t->name);
        /* writing it would set `_deleted` = false, which the district refuses */
        if (ts_version_deleted(&cur->v))
            return ts_error_set(err, TS_EFORBIDDEN, "this %s record was deleted; only the district restores it",
                                t->name);
        for (size_t i = 0; i < n; i++) {
            const ts_field_def *f = ts_table_field(t, fields[i].name);
            if (f != NULL && !f->station_writable)
                return ts_error_set(err, TS_EFORBIDDEN, "field %s of %s is written by the district only",
                                    fields[i].name, t->name);
        }
        return 0;
    }
    return 0;
}

static int ts__local_write(ts_store *st, const ts_actor *actor, const char *table, const char *id,
                           const char *owner, const ts_kv *fields, size_t n, bool deleting, ts_error *err)
{
    const ts_table_def *t = ts_registry_table(st->reg, table);
    if (t == NULL)
        return ts_error_set(err, TS_EUNKNOWN_TABLE, "unknown table \"%s\"", table);
    if (!ts_key_valid(id, strlen(id)))
        return ts_error_set(err, TS_EBAD_VALUE, "\"%s\" is not a valid record id", id);

    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts__row cur;
    ts_version_init(&cur.v);
    ts_version next;
    ts_version_init(&next);
    int rc = ts__tx_begin(st, err);
    if (rc < 0)
        goto out;
    if ((rc = ts__load(st, table, id, &cur, &arena, err)) < 0)
        goto rollback;
    const char *bad_id = cur.found ? NULL : ts_ident_problem(id, strlen(id));
    if (bad_id != NULL) {
        rc = ts_error_set(err, TS_EBAD_VALUE, "the record id %s", bad_id);
        goto rollback;
    }
    if (deleting && (!cur.found || ts_version_deleted(&cur.v))) {
        rc = ts_error_set(err, TS_ENOT_FOUND, "%s/%s does not exist", table, id);
        goto rollback;
    }
    const char *own = cur.found ? cur.owner
                      : owner && owner[0] ? owner
                      : t->kind == TS_TABLE_STATION ? st->station
                                                    : st->reg->district_owner;
    if (cur.found && owner && owner[0] && strcmp(owner, cur.owner) != 0) {
        rc = ts_error_set(err, TS_EFORBIDDEN, "%s/%s belongs to %s, not %s", table, id, cur.owner, owner);
        goto rollback;
    }
    if (t->kind != TS_TABLE_STATION && strcmp(own, st->reg->district_owner) != 0) {
        rc = ts_error_set(err, TS_EBAD_VALUE, "%s records are owned by the district", table);
        goto rollback;
    }
    if ((rc = ts__authorize_local(st, t, own, &cur, fields, n, deleting, err)) < 0)
        goto rollback;

    /* the new version: the current one plus this write */
    if (cur.found)
        ts_version_copy(&next, &cur.v, &arena);
    ts_dot dot = {st->replica, ts_vv_bump(&next.vv, &st->replica)};
    uint64_t hlc = ts_hlc_next(&st->hlc);
    static const uint8_t msgpack_true = 0xc3, msgpack_false = 0xc2;
    for (size_t i = 0; i < n; i++) {
        if (!ts_field_name_valid(fields[i].name, strlen(fields[i].name)) || fields[i].name[0] == '_') {
            rc = ts_error_set(err, TS_EINVALID_RECORD, "\"%s\" is not a valid field name", fields[i].name);
            goto rollback;
        }
        ts_version_put(&next, &arena, fields[i].name, fields[i].value, fields[i].len, &dot, hlc);
    }
    /* A write touches `_deleted` only when it changes it: a delete, a put
     * that creates the record or brings a deleted one back. An edit of a
     * live record leaves it alone, so a delete elsewhere concurrent with it
     * is not a true conflict on `_deleted` (nobody disagreed about it).
     * A station cannot bring a shared record back (ts__authorize_local
     * refused that above): whether shared records exist is the district's. */
    bool revive = !deleting && (!cur.found || ts_version_deleted(&cur.v));
    if (deleting || revive)
        ts_version_put(&next, &arena, TS_FIELD_DELETED, deleting ? &msgpack_true : &msgpack_false, 1, &dot, hlc);
    if ((rc = ts_table_validate(t, &next, err)) < 0)
        goto rollback;

    uint64_t seq = cur.seq, lseq = 0;
    if (st->role == TS_ROLE_SERVER)
        seq = ++st->seq;
    else
        lseq = ++st->lseq;
    if ((rc = ts__write(st, t, table, id, own, &next, seq, lseq, NULL, err)) < 0 ||
        (rc = ts__save_clocks(st, err)) < 0)
        goto rollback;
    char detail[TS_RID_MAX + 32];
    snprintf(detail, sizeof detail, "dot=%s:%" PRIu64, dot.rid.b, dot.counter);
    if (ts_store_audit(st, actor, deleting ? "delete" : "put", table, id, "applied", detail) < 0) {
        rc = ts__sql_error(st, err, "audit");
        goto rollback;
    }
    /* a COMMIT that fails (a full disk) is rolled back by ts__tx_commit:
     * its counters go as for any other aborted write */
    if ((rc = ts__tx_commit(st, err)) == 0)
        goto out;

rollback:
    ts__tx_rollback(st);
    /* an aborted write must not leave its counters behind in memory */
    ts__forget_uncommitted(st);
out:
    ts_version_free(&cur.v);
    ts_version_free(&next);
    ts_arena_free(&arena);
    return rc;
}

int ts_store_put(ts_store *st, const ts_actor *actor, const char *table, const char *id, const char *owner,
                 const ts_kv *fields, size_t nfields, ts_error *err)
{
    if (nfields == 0)
        return ts_error_set(err, TS_EBAD_VALUE, "a put needs at least one field");
    return ts__local_write(st, actor, table, id, owner, fields, nfields, false, err);
}

int ts_store_delete(ts_store *st, const ts_actor *actor, const char *table, const char *id, ts_error *err)
{
    return ts__local_write(st, actor, table, id, NULL, NULL, 0, true, err);
}

int ts_store_get(ts_store *st, const char *table, const char *id, ts_change *out, ts_arena *arena,
                 ts_error *err)
{
    ts__row row;
    ts_version_init(&row.v);
    int rc = ts__load(st, table, id, &row, arena, err);
    if (rc == 0 && !row.found)
        rc = ts_error_set(err, TS_ENOT_FOUND, "%s/%s does not exist", table, id);
    if (rc < 0) {
        ts_version_free(&row.v);
        return rc;
    }
    memset(out, 0, sizeof *out);
    out->table = ts_arena_strndup(arena, table, strlen(table));
    out->id = ts_arena_strndup(arena, id, strlen(id));
    out->owner = ts_arena_strndup(arena, row.owner, strlen(row.owner));
    out->v = row.v; /* hands over the vv */
    out->seq = row.seq;
    out->lseq = row.lseq;
    return 0;
}

/* ---------------------------------------------------------------- pages */

void ts_change_page_init(ts_change_page *p)
{
    memset(p, 0, sizeof *p);
    ts_arena_init(&p->arena, 64 * 1024);
}

void ts_change_page_reset(ts_change_page *p)
{
    for (uint32_t i = 0; i < p->n; i++)
        ts_version_free(&p->items[i].v);
    p->n = 0;
    ts_arena_free(&p->arena);
}

void ts_change_page_free(ts_change_page *p)
{
    ts_change_page_reset(p);
    free(p->items);
    p->items = NULL;
    p->cap = 0;
}

/* ---------------------------------------------------------------- logs */

int ts_store_conflict_count(ts_store *st, bool unresolved_only, uint64_t *count)
{
    sqlite3_stmt *q;
    const char *sql = unresolved_only ? "SELECT count(*) FROM conflicts WHERE resolved_at IS NULL"
                                      : "SELECT count(*) FROM conflicts";
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return TS_ESTORAGE;
    int rc = sqlite3_step(q) == SQLITE_ROW ? 0 : TS_ESTORAGE;
    *count = rc == 0 ? (uint64_t)sqlite3_column_int64(q, 0) : 0;
    sqlite3_finalize(q);
    return rc;
}

int ts_store_conflict_resolve(ts_store *st, int64_t id, const char *by, const char *resolution, ts_error *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db,
                           "UPDATE conflicts SET resolved_at = ?1, resolved_by = ?2, resolution = ?3"
                           " WHERE id = ?4 AND resolved_at IS NULL",
                           -1, &q, NULL) != SQLITE_OK)
        return ts__sql_error(st, err, "resolve conflict");
    sqlite3_bind_int64(q, 1, (sqlite3_int64)ts_wall_ms());
    sqlite3_bind_text(q, 2, by, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, resolution, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, id);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return ts__sql_error(st, err, "resolve conflict");
    if (sqlite3_changes(st->db) == 0)
        return ts_error_set(err, TS_ENOT_FOUND, "no unresolved conflict %lld", (long long)id);
    return 0;
}

int ts_store_integrity_check(ts_store *st, ts_error *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &q, NULL) != SQLITE_OK)
        return ts__sql_error(st, err, "integrity_check");
    int rc = 0;
    if (sqlite3_step(q) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(q, 0), "ok") != 0)
        rc = ts_error_set(err, TS_ESTORAGE, "integrity_check: %s",
                          sqlite3_column_text(q, 0) ? (const char *)sqlite3_column_text(q, 0) : "failed");
    sqlite3_finalize(q);
    return rc;
}

/* ---------------------------------------------------------------- dump */

static void ts__json_str(ts_buf *b, const char *s, size_t n)
{
    ts_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            ts_buf_append(b, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            ts_buf_printf(b, "\\u%04x", c);
        } else {
            ts_buf_append(b, &s[i], 1);
        }
    }
    ts_buf_append(b, "\"", 1);
}

static void ts__json_value(ts_buf *b, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: ts_buf_append_str(b, "null"); break;
    case MSGPACK_OBJECT_BOOLEAN: ts_buf_append_str(b, o->via.boolean ? "true" : "false"); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: ts_buf_printf(b, "%" PRIu64, o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: ts_buf_printf(b, "%" PRId64, o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (isfinite(o->via.f64))
            ts_buf_printf(b, "%.17g", o->via.f64);
        else
            ts_buf_append_str(b, "null");
        break;
    case MSGPACK_OBJECT_STR: ts__json_str(b, o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN:
        ts_buf_append_str(b, "{\"bin\":\"");
        for (uint32_t i = 0; i < o->via.bin.size; i++)
            ts_buf_printf(b, "%02x", (unsigned char)o->via.bin.ptr[i]);
        ts_buf_append_str(b, "\"}");
        break;
    case MSGPACK_OBJECT_ARRAY:
        ts_buf_append(b, "[", 1);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                ts_buf_append(b, ",", 1);
            ts__json_value(b, &o->via.array.ptr[i]);
        }
        ts_buf_append(b, "]", 1);
        break;
    default: ts_buf_append_str(b, "null"); break;
    }
}

typedef int (*ts__dump_sink)(const ts_buf *line, void *ctx);

static int ts__dump(ts_store *st, ts__dump_sink sink, void *ctx, ts_error *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT tbl, id, owner, vv, fields FROM records ORDER BY tbl, id", -1, &q,
                           NULL) != SQLITE_OK)
        return ts__sql_error(st, err, "dump");
    int rc = 0, step;
    ts_arena arena;
    ts_arena_init(&arena, 16384);
    ts_version v;
    ts_version_init(&v);
    ts_buf line = TS_BUF_INIT;
    while (rc == 0 && (step = sqlite3_step(q)) == SQLITE_ROW) {
        ts_arena_free(&arena);
        ts_buf_reset(&line);
        rc = ts__decode_version(st, sqlite3_column_blob(q, 3), sqlite3_column_bytes(q, 3),
                                sqlite3_column_blob(q, 4), sqlite3_column_bytes(q, 4), &v, &arena, err);
        if (rc < 0)
            break;
        bool deleted = ts_version_deleted(&v);
        ts_buf_append_str(&line, "{\"table\":");
        ts__json_str(&line, (const char *)sqlite3_column_text(q, 0), (size_t)sqlite3_column_bytes(q, 0));
        ts_buf_append_str(&line, ",\"id\":");
        ts__json_str(&line, (const char *)sqlite3_column_text(q, 1), (size_t)sqlite3_column_bytes(q, 1));
        ts_buf_append_str(&line, ",\"owner\":");
        ts__json_str(&line, (const char *)sqlite3_column_text(q, 2), (size_t)sqlite3_column_bytes(q, 2));
        ts_buf_append_str(&line, ",\"vv\":{");
        for (uint32_t i = 0; i < v.vv.n; i++)
            ts_buf_printf(&line, "%s\"%s\":%" PRIu64, i ? "," : "", v.vv.e[i].rid.b, v.vv.e[i].counter);
        ts_buf_append_str(&line, "},\"fields\":{");
        bool first = true;
        for (uint32_t i = 0; i < v.nfields && rc == 0; i++) {
            const ts_field *f = &v.fields[i];
            /* a tombstone dumps as its deletion only, purged or not */
            if (deleted && strcmp(f->name, TS_FIELD_DELETED) != 0)
                continue;
            msgpack_unpacked up;
            if (ts_mp_unpack(f->value, f->value_len, NULL, &up, NULL) < 0) {
                rc = ts_error_set(err, TS_ESTORAGE, "stored value is corrupt");
                break;
            }
            if (!first)
                ts_buf_append(&line, ",", 1);
            first = false;
            ts__json_str(&line, f->name, f->name_len);
            ts_buf_append(&line, ":[", 2);
            ts__json_value(&line, &up.data);
            ts_buf_printf(&line, ",\"%s\",%" PRIu64 ",%" PRIu64 "]", f->dot.rid.b, f->dot.counter, f->hlc);
            msgpack_unpacked_destroy(&up);
        }
        if (rc < 0)
            break;
        ts_buf_append_str(&line, "}}\n");
        rc = sink(&line, ctx);
        if (rc < 0)
            rc = ts_error_set(err, TS_EIO, "cannot write the dump");
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = ts__sql_error(st, err, "dump");
    sqlite3_finalize(q);
    ts_version_free(&v);
    ts_arena_free(&arena);
    ts_buf_free(&line);
    return rc;
}

static int ts__sink_buf(const ts_buf *line, void *ctx)
{
    ts_buf_append(ctx, line->data, line->len);
    return 0;
}

static int ts__sink_file(const ts_buf *line, void *ctx)
{
    return fwrite(line->data, 1, line->len, ctx) == line->len ? 0 : -1;
}

int ts_store_dump_buf(ts_store *st, ts_buf *out, ts_error *err)
{
    return ts__dump(st, ts__sink_buf, out, err);
}

int ts_store_dump(ts_store *st, FILE *out, ts_error *err)
{
    return ts__dump(st, ts__sink_file, out, err);
}
