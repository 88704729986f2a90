/* Store benchmark (`make bench ONLY=store`): what the district store costs
 * over the bare SQLite write it is built on. Every round uses fresh database
 * files in a temporary directory ($TMPDIR or /tmp), WAL, synchronous=FULL,
 * one transaction per 1,000 records; TS_BENCH_ROUNDS rounds (default 5,
 * the order of the two sides alternating); the rates are the best of the
 * rounds, the ratio is the median of the rounds' own ratios.
 *
 *   sqlite_upsert_rps  baseline: raw SQLite, a records table (tbl, id, owner,
 *                      vv BLOB, fields BLOB, PRIMARY KEY(tbl, id)) WITHOUT
 *                      ROWID, one prepared INSERT ... ON CONFLICT DO UPDATE
 *                      per row, the store's cache_size; vv and fields blobs
 *                      are encoded outside the timed region (the SQLite floor)
 *   store_apply_rps    a server store applying change sets of 1,000 new
 *                      residents (~200 bytes of values each) pushed by a
 *                      station replica, as the daemon does for a PUSH:
 *                      authorisation, schema validation, merge, sequence
 *                      numbers, audit rows, replica bookkeeping
 *   store_apply_ratio  store apply rate / SQLite rate of the same round,
 *                      median over the rounds
 *   store_merge_rps    the station then pushes an update of every record
 *                      that the district had edited concurrently (an admin
 *                      put of another field, done untimed): the concurrent
 *                      merge path, load + field-by-field merge + write. As
 *                      both puts also wrote `_deleted`, each merge also logs
 *                      one identical-value conflict row (marked resolved).
 *
 * TS_BENCH_ROWS (default 50,000) records per run; TS_BENCH_APPLY_ONLY=1 skips
 * the merge phase (to profile the apply path alone). Changes are built outside
 * the timed regions. Output: lines "BENCH <name> <value> <unit>"; notes go
 * to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "common/ts_arena.h"
#include "common/ts_buf.h"
#include "common/ts_hlc.h"
#include "common/ts_log.h"
#include "common/ts_record.h"
#include "common/ts_registry.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"

#define BATCH 1000
#define STATION_CODE "binhnguyen"
#define STATION_REPLICA "binhnguyen.3f9a0c1d2e4b5a69"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long env_long(const char *name, long def)
{
    const char *s = getenv(name);
    return s && *s ? strtol(s, NULL, 10) : def;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench: %s: %s\n", what, why);
    exit(1);
}

/* ---------------------------------------------------------------- residents */

#define RESIDENT_FIELDS 9

typedef struct resident_field {
    const char *name;
    char value[200];
} resident_field;

/* The text fields of resident number i, deterministic and schema-valid (the
 * same records as bench_codec). */
static void resident_fields(uint32_t i, resident_field out[RESIDENT_FIELDS])
{
    static const char *const family[] = {"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ",
                                         "Hồ", "Ngô", "Dương"};
    static const char *const middle[] = {"Thị", "Văn", "Đức", "Minh", "Ngọc", "Thanh", "Hữu", "Xuân"};
    static const char *const given[] = {"Lan", "Hùng", "Mai", "Tuấn", "Hương", "Dũng", "Thảo", "Phúc",
                                        "Hằng", "Quang", "Liên", "Thắng", "Nhung", "Khánh", "Yến", "Sơn"};
    static const char *const hamlet[] = {"Đông", "Đoài", "Trung", "Chùa", "Gạo", "Hạ", "Thượng", "Mới"};
    static const char *const hamlet_slug[] = {"dong", "doai", "trung", "chua", "gao", "ha", "thuong", "moi"};
    static const char *const commune[] = {"Bình Nguyên", "Xuân Lãng", "Bình Xuyên", "Bình Tuyền"};
    static const char *const ethnicity[] = {"Kinh", "Kinh", "Kinh", "Sán Dìu", "Tày", "Mường"};
    static const char *const occupation[] = {"Nông dân trồng lúa", "Giáo viên tiểu học", "Công nhân may mặc",
                                             "Buôn bán tạp hóa",   "Nội trợ",            "Hưu trí",
                                             "Học sinh THCS"};
    size_t k = 0;
    out[k].name = "full_name";
    if (i % 3 == 0) /* some names have two given names */
        snprintf(out[k++].value, sizeof out[0].value, "%s %s %s %s", family[i % 12], middle[(i / 12) % 8],
                 given[(i / 7) % 16], given[(i / 96) % 16]);
    else
        snprintf(out[k++].value, sizeof out[0].value, "%s %s %s", family[i % 12], middle[(i / 12) % 8],
                 given[(i / 96) % 16]);
    out[k].name = "birth_date";
    snprintf(out[k++].value, sizeof out[0].value, "%04u-%02u-%02u", 1940 + i % 80, 1 + i % 12, 1 + i % 28);
    out[k].name = "sex";
    snprintf(out[k++].value, sizeof out[0].value, "%s", i % 2 ? "male" : "female");
    out[k].name = "address";
    snprintf(out[k++].value, sizeof out[0].value, "Số %u, ngõ %u, thôn %s, xã %s, huyện Bình Xuyên, tỉnh Vĩnh Phúc",
             1 + i % 150, 1 + i % 40, hamlet[i % 8], commune[(i / 8) % 4]);
    out[k].name = "village_id";
    snprintf(out[k++].value, sizeof out[0].value, "thon-%s", hamlet_slug[i % 8]);
    out[k].name = "phone";
    snprintf(out[k++].value, sizeof out[0].value, "09%08u", (i * 7919u) % 100000000u);
    out[k].name = "ethnicity";
    snprintf(out[k++].value, sizeof out[0].value, "%s", ethnicity[i % 6]);
    out[k].name = "occupation";
    snprintf(out[k++].value, sizeof out[0].value, "%s", occupation[i % 7]);
    out[k].name = "bhyt_number";
    snprintf(out[k++].value, sizeof out[0].value, "GD4%012u", 10000000u + i);
}

static void put_text(ts_version *v, ts_arena *arena, ts_buf *scratch, const char *name, const char *text,
                     const ts_dot *dot, uint64_t hlc)
{
    ts_buf_reset(scratch);
    ts_value_str(scratch, text);
    ts_version_put(v, arena, name, scratch->data, scratch->len, dot, hlc);
}

static void put_not_deleted(ts_version *v, ts_arena *arena, ts_buf *scratch, const ts_dot *dot, uint64_t hlc)
{
    ts_buf_reset(scratch);
    ts_value_bool(scratch, false);
    ts_version_put(v, arena, TS_FIELD_DELETED, scratch->data, scratch->len, dot, hlc);
}

typedef struct workload {
    ts_rid replica;
    uint64_t created_ms; /* station clock when it created the records */
    uint64_t updated_ms; /* ... and when it updated them */
    uint32_t rows;
} workload;

/* The station's first write of resident i: vv {station: 1}, change number i + 1. */
static void build_create(const workload *w, uint32_t i, ts_change *c, ts_arena *arena, ts_buf *scratch)
{
    char id[32];
    snprintf(id, sizeof id, "bn-%06u", i);
    memset(c, 0, sizeof *c);
    ts_version_init(&c->v);
    c->table = "residents";
    c->id = ts_arena_strndup(arena, id, strlen(id));
    c->owner = STATION_CODE;
    c->lseq = 1 + (uint64_t)i;
    ts_dot dot = {w->replica, ts_vv_bump(&c->v.vv, &w->replica)};
    uint64_t hlc = TS_HLC_MAKE(w->created_ms + i / 16, i % 16);
    resident_field rf[RESIDENT_FIELDS];
    resident_fields(i, rf);
    for (size_t k = 0; k < RESIDENT_FIELDS; k++)
        put_text(&c->v, arena, scratch, rf[k].name, rf[k].value, &dot, hlc);
    put_not_deleted(&c->v, arena, scratch, &dot, hlc);
}

/* The station's second write (new phone and address), made without having
 * seen the district's edit: vv {station: 2}, change number rows + i + 1. */
static void build_update(const workload *w, uint32_t i, ts_change *c, ts_arena *arena, ts_buf *scratch)
{
    build_create(w, i, c, arena, scratch);
    c->lseq = (uint64_t)w->rows + 1 + i;
    ts_dot dot = {w->replica, ts_vv_bump(&c->v.vv, &w->replica)};
    uint64_t hlc = TS_HLC_MAKE(w->updated_ms + i / 16, i % 16);
    char phone[16], address[200];
    snprintf(phone, sizeof phone, "08%08u", (i * 104729u) % 100000000u);
    snprintf(address, sizeof address, "Số %u, thôn Mới, xã Bình Nguyên, huyện Bình Xuyên, tỉnh Vĩnh Phúc", 1 + i % 90);
    put_text(&c->v, arena, scratch, "phone", phone, &dot, hlc);
    put_text(&c->v, arena, scratch, "address", address, &dot, hlc);
    put_not_deleted(&c->v, arena, scratch, &dot, hlc);
}

static void free_changes(ts_change *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ts_version_free(&c[i].v);
}

/* ---------------------------------------------------------------- baseline: raw SQLite */

static void sql_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        die(sql, msg ? msg : sqlite3_errmsg(db));
}

/* Seconds spent in the timed region (the transactions). */
static double run_sqlite(const char *dir, const workload *w)
{
    char *path = ts_xasprintf("%s/raw.db", dir);
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        die(path, sqlite3_errmsg(db));
    /* the store's own settings (cache size included), so the ratio is the cost of its logic */
    sql_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -16000;"
                 "CREATE TABLE records(tbl TEXT NOT NULL, id TEXT NOT NULL, owner TEXT NOT NULL,"
                 " vv BLOB NOT NULL, fields BLOB NOT NULL, PRIMARY KEY(tbl, id)) WITHOUT ROWID;");
    sqlite3_stmt *upsert;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO records(tbl, id, owner, vv, fields) VALUES(?1, ?2, ?3, ?4, ?5)"
                           " ON CONFLICT(tbl, id) DO UPDATE SET owner = excluded.owner, vv = excluded.vv,"
                           " fields = excluded.fields",
                           -1, &upsert, NULL) != SQLITE_OK)
        die("prepare upsert", sqlite3_errmsg(db));

    ts_arena arena;
    ts_arena_init(&arena, 256 * 1024);
    ts_buf scratch = TS_BUF_INIT, blobs = TS_BUF_INIT;
    ts_change *changes = ts_xcalloc(BATCH, sizeof *changes);
    size_t *vv_off = ts_xcalloc(BATCH + 1, sizeof *vv_off), *fields_off = ts_xcalloc(BATCH + 1, sizeof *fields_off);
    double timed = 0;
    for (uint32_t start = 0; start < w->rows; start += BATCH) {
        uint32_t n = w->rows - start < BATCH ? w->rows - start : BATCH;
        /* untimed: the rows and their blobs, as the store would encode them */
        ts_buf_reset(&blobs);
        msgpack_packer pk;
        ts_buf_packer(&blobs, &pk);
        for (uint32_t k = 0; k < n; k++) {
            build_create(w, start + k, &changes[k], &arena, &scratch);
            vv_off[k] = blobs.len;
            ts_vv_pack(&pk, &changes[k].v.vv);
            fields_off[k] = blobs.len;
            ts_fields_pack(&pk, &changes[k].v);
        }
        vv_off[n] = blobs.len;

        double t0 = now_s();
        sql_exec(db, "BEGIN");
        for (uint32_t k = 0; k < n; k++) {
            const ts_change *c = &changes[k];
            size_t fields_end = vv_off[k + 1];
            sqlite3_bind_text(upsert, 1, c->table, -1, SQLITE_STATIC);
            sqlite3_bind_text(upsert, 2, c->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(upsert, 3, c->owner, -1, SQLITE_STATIC);
            sqlite3_bind_blob(upsert, 4, blobs.data + vv_off[k], (int)(fields_off[k] - vv_off[k]), SQLITE_STATIC);
            sqlite3_bind_blob(upsert, 5, blobs.data + fields_off[k], (int)(fields_end - fields_off[k]),
                              SQLITE_STATIC);
            if (sqlite3_step(upsert) != SQLITE_DONE)
                die("upsert", sqlite3_errmsg(db));
            sqlite3_reset(upsert);
        }
        sql_exec(db, "COMMIT");
        timed += now_s() - t0;

        free_changes(changes, n);
        ts_arena_free(&arena);
    }

    sqlite3_stmt *count;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM records", -1, &count, NULL) != SQLITE_OK ||
        sqlite3_step(count) != SQLITE_ROW || sqlite3_column_int64(count, 0) != w->rows)
        die("baseline", "row count is wrong");
    sqlite3_finalize(count);
    sqlite3_finalize(upsert);
    sqlite3_close(db);
    free(vv_off);
    free(fields_off);
    free(changes);
    ts_buf_free(&scratch);
    ts_buf_free(&blobs);
    ts_arena_free(&arena);
    free(path);
    return timed;
}

/* ---------------------------------------------------------------- the store */

typedef void (*build_fn)(const workload *w, uint32_t i, ts_change *c, ts_arena *arena, ts_buf *scratch);

typedef struct outcome_counts {
    uint64_t n[TS_OUTCOME_REJECTED + 1];
    uint64_t conflicts;     /* as the results report them */
    uint64_t conflict_rows; /* rows in the conflict log, resolved ones included */
} outcome_counts;

/* Pushes every record, as change sets of BATCH, from the station; returns
 * the seconds spent in ts_store_apply. Any outcome not in `allowed` is fatal. */
static double push_all(ts_store *st, const workload *w, build_fn build, unsigned allowed, outcome_counts *counts)
{
    ts_actor station = {TS_ACTOR_STATION, STATION_CODE, &w->replica, "bench"};
    ts_arena arena;
    ts_arena_init(&arena, 256 * 1024);
    ts_buf scratch = TS_BUF_INIT;
    ts_change *changes = ts_xcalloc(BATCH, sizeof *changes);
    ts_apply_result *results = ts_xcalloc(BATCH, sizeof *results);
    double timed = 0;
    for (uint32_t start = 0; start < w->rows; start += BATCH) {
        uint32_t n = w->rows - start < BATCH ? w->rows - start : BATCH;
        for (uint32_t k = 0; k < n; k++)
            build(w, start + k, &changes[k], &arena, &scratch);
        ts_error err;
        double t0 = now_s();
        int rc = ts_store_apply(st, &station, changes, n, results, &err);
        timed += now_s() - t0;
        if (rc < 0)
            die("ts_store_apply", err.msg);
        for (uint32_t k = 0; k < n; k++) {
            ts_outcome o = results[k].outcome;
            if (!(allowed & (1u << o))) {
                fprintf(stderr, "bench: %s/%s: outcome %s: %s\n", changes[k].table, changes[k].id, ts_outcome_name(o),
                        results[k].reason);
                exit(1);
            }
            counts->n[o]++;
            counts->conflicts += results[k].conflicts;
        }
        free_changes(changes, n);
        ts_arena_free(&arena);
    }
    free(results);
    free(changes);
    ts_buf_free(&scratch);
    ts_arena_free(&arena);
    return timed;
}

/* Untimed: the district edits every resident (a village correction), so the
 * station's next push of each is concurrent with what the server holds. */
static void district_edits(ts_store *st, const workload *w)
{
    ts_actor admin = {TS_ACTOR_ADMIN, "bench-admin", NULL, "bench"};
    ts_buf value = TS_BUF_INIT;
    ts_value_str(&value, "thon-trung");
    ts_kv kv = {"village_id", value.data, value.len};
    ts_error err;
    for (uint32_t start = 0; start < w->rows; start += BATCH) {
        if (ts_store_begin(st, &err) < 0)
            die("begin", err.msg);
        for (uint32_t i = start; i < start + BATCH && i < w->rows; i++) {
            char id[32];
            snprintf(id, sizeof id, "bn-%06u", i);
            if (ts_store_put(st, &admin, "residents", id, STATION_CODE, &kv, 1, &err) < 0)
                die("district edit", err.msg);
        }
        if (ts_store_commit(st, &err) < 0)
            die("commit", err.msg);
    }
    ts_buf_free(&value);
}

static uint64_t count_rows(ts_store *st, const char *sql)
{
    sqlite3_stmt *q;
    uint64_t n = 0;
    if (sqlite3_prepare_v2(ts_store_db(st), sql, -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        n = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

#define RESIDENTS_COUNT "SELECT count(*) FROM records WHERE tbl = 'residents'"

static void run_store(const char *dir, const ts_registry *reg, const workload *w, double *apply_s, double *merge_s,
                      outcome_counts *merge_counts)
{
    char *path = ts_xasprintf("%s/district.db", dir);
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = path;
    opt.role = TS_ROLE_SERVER;
    opt.registry = reg;
    opt.synchronous = TS_SYNC_FULL;
    opt.create = true;
    ts_store *st = NULL;
    ts_error err;
    if (ts_store_open(&st, &opt, &err) < 0)
        die(path, err.msg);

    outcome_counts created;
    memset(&created, 0, sizeof created);
    *apply_s = push_all(st, w, build_create, 1u << TS_OUTCOME_APPLIED, &created);
    if (count_rows(st, RESIDENTS_COUNT) != w->rows)
        die("store", "record count after the creates is wrong");

    memset(merge_counts, 0, sizeof *merge_counts);
    if (getenv("TS_BENCH_APPLY_ONLY") != NULL) { /* for profiling the apply path alone */
        *merge_s = 1;
        ts_store_close(st);
        free(path);
        return;
    }
    district_edits(st, w);
    *merge_s = push_all(st, w, build_update, 1u << TS_OUTCOME_MERGED | 1u << TS_OUTCOME_CONFLICT, merge_counts);
    if (count_rows(st, RESIDENTS_COUNT) != w->rows)
        die("store", "record count after the updates is wrong");
    merge_counts->conflict_rows = count_rows(st, "SELECT count(*) FROM conflicts");

    ts_store_close(st);
    free(path);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    ts_log_set_level(TS_LOG_WARN); /* no store_created lines in the figures */
    long rows = env_long("TS_BENCH_ROWS", 50000), rounds = env_long("TS_BENCH_ROUNDS", 5);
    if (rows < 1 || rows > 10000000 || rounds < 1 || rounds > 99)
        die("TS_BENCH_ROWS / TS_BENCH_ROUNDS", "out of range");
    workload w;
    memset(&w, 0, sizeof w);
    if (ts_rid_set_cstr(&w.replica, STATION_REPLICA) < 0)
        die("replica", STATION_REPLICA);
    w.rows = (uint32_t)rows;
    uint64_t now = ts_wall_ms();
    w.created_ms = now - 2 * 3600 * 1000; /* within the server's skew bound, in causal order */
    w.updated_ms = now - 1 * 3600 * 1000;

    ts_registry reg;
    ts_error err;
    if (ts_registry_load_default(&reg, &err) < 0)
        die("registry", err.msg);

    double best_sql = 0, best_apply = 0, best_merge = 0, ratios[99];
    outcome_counts merge_counts;
    for (long r = 0; r < rounds; r++) {
        char *dir = ts_tmpdir_make("bench-store");
        double sql_s, apply_s, merge_s;
        if (r % 2 == 0) { /* alternate which side runs first */
            sql_s = run_sqlite(dir, &w);
            run_store(dir, &reg, &w, &apply_s, &merge_s, &merge_counts);
        } else {
            run_store(dir, &reg, &w, &apply_s, &merge_s, &merge_counts);
            sql_s = run_sqlite(dir, &w);
        }
        ts_tmpdir_remove(dir);
        double sql_rps = (double)rows / sql_s, apply_rps = (double)rows / apply_s, merge_rps = (double)rows / merge_s;
        ratios[r] = apply_rps / sql_rps;
        fprintf(stderr, "bench: round %ld: sqlite %.0f/s, store apply %.0f/s (ratio %.3f), store merge %.0f/s\n", r + 1,
                sql_rps, apply_rps, ratios[r], merge_rps);
        if (sql_rps > best_sql)
            best_sql = sql_rps;
        if (apply_rps > best_apply)
            best_apply = apply_rps;
        if (merge_rps > best_merge)
            best_merge = merge_rps;
    }
    fprintf(stderr,
            "bench: %ld records per run; merge outcomes: %llu merged, %llu conflict (%llu conflicts reported,"
            " %llu rows in the conflict log)\n",
            rows, (unsigned long long)merge_counts.n[TS_OUTCOME_MERGED],
            (unsigned long long)merge_counts.n[TS_OUTCOME_CONFLICT], (unsigned long long)merge_counts.conflicts,
            (unsigned long long)merge_counts.conflict_rows);

    printf("BENCH sqlite_upsert_rps %.0f records/s\n", best_sql);
    printf("BENCH store_apply_rps %.0f records/s\n", best_apply);
    /* the median of each round's own ratio: both sides of a round ran back
     * to back on the same machine state, which the best of each side taken
     * from different rounds does not give */
    qsort(ratios, (size_t)rounds, sizeof *ratios, cmp_double);
    double median = rounds % 2 ? ratios[rounds / 2] : (ratios[rounds / 2 - 1] + ratios[rounds / 2]) / 2;
    fprintf(stderr, "bench: ratio per round from %.3f to %.3f; ratio of the best figures %.3f\n", ratios[0],
            ratios[rounds - 1], best_apply / best_sql);
    printf("BENCH store_apply_ratio %.3f ratio (median of %ld rounds)\n", median, rounds);
    printf("BENCH store_merge_rps %.0f records/s\n", best_merge);
    ts_registry_free(&reg);
    return 0;
}
