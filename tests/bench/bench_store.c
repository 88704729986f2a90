/* Store benchmark (`make bench ONLY=store`): what the district store costs
 * over the bare SQLite write it is built on. Every round uses fresh database
 * files in a temporary directory ($TMPDIR or /tmp), WAL, synchronous=FULL,
 * one transaction per 1,000 records. The two sides run interleaved, a
 * change set each in turn (who goes first alternating), so that both see the
 * same machine: on a shared, noisy machine a side run whole after the other
 * met different weather. TS_BENCH_ROUNDS rounds (default 5); the rates are
 * the best of the rounds, the ratio is the median of the rounds' own ratios.
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
 * Both sides take their changes as the daemon hands them to the store: a
 * PUSH frame decoded by proto/ (untimed).
 *
 * TS_BENCH_ROWS (default 50,000) records per run; TS_BENCH_APPLY_ONLY=1 skips
 * the merge phase (to profile the apply path alone). Changes are built outside
 * the timed regions. Output: lines "BENCH <name> <value> <unit>"; notes go
 * to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/ts_arena.h"
#include "common/ts_buf.h"
#include "common/ts_hlc.h"
#include "common/ts_log.h"
#include "common/ts_record.h"
#include "common/ts_registry.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
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

typedef void (*build_fn)(const workload *w, uint32_t i, ts_change *c, ts_arena *arena, ts_buf *scratch);

/* Changes first..first+n-1 as the daemon hands them to the store: built into
 * a PUSH, encoded to a frame, and decoded from it (memory laid out as the
 * decoder lays it out). Untimed. */
static const ts_change *decode_batch(const workload *w, build_fn build, uint32_t first, uint32_t n, ts_msg *decoded,
                                     ts_buf *scratch, ts_buf *frame)
{
    ts_msg push;
    ts_msg_init(&push, TS_MSG_PUSH);
    push.u.push.batch = 1 + first / BATCH;
    ts_change *built = ts_msg_alloc_changes(&push, &push.u.push.changes, n);
    for (uint32_t k = 0; k < n; k++)
        build(w, first + k, &built[k], &push.arena, scratch);
    ts_buf_reset(frame);
    ts_msg_encode(&push, frame);
    ts_msg_free(&push);
    ts_proto_limits limits;
    ts_proto_limits_default(&limits);
    ts_error err;
    if (ts_msg_decode(frame->data + 4, frame->len - 4, &limits, decoded, &err) < 0)
        die("decode PUSH", err.msg);
    if (decoded->type != TS_MSG_PUSH || decoded->u.push.changes.n != n)
        die("decode PUSH", "not the PUSH that was encoded");
    return decoded->u.push.changes.items;
}

/* ---------------------------------------------------------------- baseline: raw SQLite */

static void sql_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        die(sql, msg ? msg : sqlite3_errmsg(db));
}

typedef struct raw_db {
    sqlite3 *db;
    sqlite3_stmt *upsert;
    ts_buf blobs;     /* this change set's vv and fields blobs, back to back */
    size_t *vv_off;   /* where each change's vv starts in blobs (BATCH + 1) */
    size_t *fields_off;
} raw_db;

static void raw_open(raw_db *r, const char *dir)
{
    memset(r, 0, sizeof *r);
    char *path = ts_xasprintf("%s/raw.db", dir);
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        die(path, sqlite3_errmsg(r->db));
    free(path);
    /* the store's own settings (cache size included), so the ratio is the cost of its logic */
    sql_exec(r->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -16000;"
                    "CREATE TABLE records(tbl TEXT NOT NULL, id TEXT NOT NULL, owner TEXT NOT NULL,"
                    " vv BLOB NOT NULL, fields BLOB NOT NULL, PRIMARY KEY(tbl, id)) WITHOUT ROWID;");
    if (sqlite3_prepare_v2(r->db,
                           "INSERT INTO records(tbl, id, owner, vv, fields) VALUES(?1, ?2, ?3, ?4, ?5)"
                           " ON CONFLICT(tbl, id) DO UPDATE SET owner = excluded.owner, vv = excluded.vv,"
                           " fields = excluded.fields",
                           -1, &r->upsert, NULL) != SQLITE_OK)
        die("prepare upsert", sqlite3_errmsg(r->db));
    ts_buf_init(&r->blobs);
    r->vv_off = ts_xcalloc(BATCH + 1, sizeof *r->vv_off);
    r->fields_off = ts_xcalloc(BATCH + 1, sizeof *r->fields_off);
}

/* Untimed: the rows' blobs, as the store would encode them. */
static void raw_prepare(raw_db *r, const ts_change *changes, uint32_t n)
{
    ts_buf_reset(&r->blobs);
    msgpack_packer pk;
    ts_buf_packer(&r->blobs, &pk);
    for (uint32_t k = 0; k < n; k++) {
        r->vv_off[k] = r->blobs.len;
        ts_vv_pack(&pk, &changes[k].v.vv);
        r->fields_off[k] = r->blobs.len;
        ts_fields_pack(&pk, &changes[k].v);
    }
    r->vv_off[n] = r->blobs.len;
}

/* Seconds the change set's transaction took. */
static double raw_batch(raw_db *r, const ts_change *changes, uint32_t n)
{
    double t0 = now_s();
    sql_exec(r->db, "BEGIN");
    for (uint32_t k = 0; k < n; k++) {
        const ts_change *c = &changes[k];
        sqlite3_bind_text(r->upsert, 1, c->table, -1, SQLITE_STATIC);
        sqlite3_bind_text(r->upsert, 2, c->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(r->upsert, 3, c->owner, -1, SQLITE_STATIC);
        sqlite3_bind_blob(r->upsert, 4, r->blobs.data + r->vv_off[k], (int)(r->fields_off[k] - r->vv_off[k]),
                          SQLITE_STATIC);
        sqlite3_bind_blob(r->upsert, 5, r->blobs.data + r->fields_off[k],
                          (int)(r->vv_off[k + 1] - r->fields_off[k]), SQLITE_STATIC);
        if (sqlite3_step(r->upsert) != SQLITE_DONE)
            die("upsert", sqlite3_errmsg(r->db));
        sqlite3_reset(r->upsert);
    }
    sql_exec(r->db, "COMMIT");
    return now_s() - t0;
}

static void raw_close(raw_db *r, uint32_t rows)
{
    sqlite3_stmt *count;
    if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM records", -1, &count, NULL) != SQLITE_OK ||
        sqlite3_step(count) != SQLITE_ROW || sqlite3_column_int64(count, 0) != rows)
        die("baseline", "row count is wrong");
    sqlite3_finalize(count);
    sqlite3_finalize(r->upsert);
    sqlite3_close(r->db);
    free(r->vv_off);
    free(r->fields_off);
    ts_buf_free(&r->blobs);
}

/* ---------------------------------------------------------------- the store */

typedef struct outcome_counts {
    uint64_t n[TS_OUTCOME_REJECTED + 1];
    uint64_t conflicts;     /* as the results report them */
    uint64_t conflict_rows; /* rows in the conflict log, resolved ones included */
} outcome_counts;

static ts_store *store_open(const char *dir, const ts_registry *reg)
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
    free(path);
    return st;
}

/* Seconds ts_store_apply took for one change set from the station. Any
 * outcome not in `allowed` is fatal. */
static double store_batch(ts_store *st, const workload *w, const ts_change *changes, uint32_t n, unsigned allowed,
                          outcome_counts *counts)
{
    static ts_apply_result results[BATCH];
    ts_actor station = {TS_ACTOR_STATION, STATION_CODE, &w->replica, "bench"};
    ts_error err;
    double t0 = now_s();
    int rc = ts_store_apply(st, &station, changes, n, results, &err);
    double took = now_s() - t0;
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
    return took;
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

typedef struct round_times {
    double sqlite_s, apply_s, merge_s; /* seconds in the timed regions */
} round_times;

static void run_round(const ts_registry *reg, const workload *w, long round, round_times *t,
                      outcome_counts *merge_counts)
{
    memset(t, 0, sizeof *t);
    sync(); /* no write-back of earlier rounds' pages left to compete */
    char *dir = ts_tmpdir_make("bench-store");
    raw_db raw;
    raw_open(&raw, dir);
    ts_store *st = store_open(dir, reg);
    ts_buf scratch = TS_BUF_INIT, frame = TS_BUF_INIT;

    outcome_counts created;
    memset(&created, 0, sizeof created);
    for (uint32_t start = 0, batch = 0; start < w->rows; start += BATCH, batch++) {
        uint32_t n = w->rows - start < BATCH ? w->rows - start : BATCH;
        ts_msg decoded;
        const ts_change *changes = decode_batch(w, build_create, start, n, &decoded, &scratch, &frame);
        raw_prepare(&raw, changes, n);
        if ((batch + (uint32_t)round) % 2 == 0) {
            t->sqlite_s += raw_batch(&raw, changes, n);
            t->apply_s += store_batch(st, w, changes, n, 1u << TS_OUTCOME_APPLIED, &created);
        } else {
            t->apply_s += store_batch(st, w, changes, n, 1u << TS_OUTCOME_APPLIED, &created);
            t->sqlite_s += raw_batch(&raw, changes, n);
        }
        ts_msg_free(&decoded);
    }
    raw_close(&raw, w->rows);
    if (count_rows(st, RESIDENTS_COUNT) != w->rows)
        die("store", "record count after the creates is wrong");

    memset(merge_counts, 0, sizeof *merge_counts);
    if (getenv("TS_BENCH_APPLY_ONLY") == NULL) {
        district_edits(st, w);
        for (uint32_t start = 0; start < w->rows; start += BATCH) {
            uint32_t n = w->rows - start < BATCH ? w->rows - start : BATCH;
            ts_msg decoded;
            const ts_change *changes = decode_batch(w, build_update, start, n, &decoded, &scratch, &frame);
            t->merge_s += store_batch(st, w, changes, n, 1u << TS_OUTCOME_MERGED | 1u << TS_OUTCOME_CONFLICT,
                                      merge_counts);
            ts_msg_free(&decoded);
        }
        if (count_rows(st, RESIDENTS_COUNT) != w->rows)
            die("store", "record count after the updates is wrong");
        merge_counts->conflict_rows = count_rows(st, "SELECT count(*) FROM conflicts");
    }

    ts_store_close(st);
    ts_buf_free(&scratch);
    ts_buf_free(&frame);
    ts_tmpdir_remove(dir);
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
        round_times t;
        run_round(&reg, &w, r, &t, &merge_counts);
        double sql_s = t.sqlite_s, apply_s = t.apply_s, merge_s = t.merge_s;
        double sql_rps = (double)rows / sql_s, apply_rps = (double)rows / apply_s;
        double merge_rps = merge_s > 0 ? (double)rows / merge_s : 0; /* 0: not measured (TS_BENCH_APPLY_ONLY) */
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
    if (getenv("TS_BENCH_APPLY_ONLY") == NULL)
        printf("BENCH store_merge_rps %.0f records/s\n", best_merge);
    ts_registry_free(&reg);
    return 0;
}
