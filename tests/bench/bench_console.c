/* Console benchmark (`make bench ONLY=console`): does every page of the
 * district console load in under a second with 5,000 stations and a million
 * records behind it?
 *
 * Fills a district database directly through the store (untimed for the
 * figures below, reported as console_fill_s): TS_BENCH_STATIONS (5,000)
 * stations in the directory, each with a session status row (agent, clock,
 * certificate) and TS_BENCH_RECORDS (1,000,000) records pushed by the
 * stations' own replicas as change sets (residents and encounters, personal
 * records, ~200 per station), 200 notices to 100 stations each (20,000
 * handling records), the plan's tasks assigned to 100 stations, 100 true
 * conflicts, and 7 days of target figures for every station. Then it starts
 * tramsyncd on that database, lets the first targets computation finish,
 * logs in, and times the API calls each console page makes over HTTPS on a
 * keep-alive connection, as the browser does: the median and the worst of
 * TS_BENCH_REPS (5) rounds.
 *
 * Output: "BENCH console_<call>_ms <median> ms" (and _max_ms), plus
 * console_page_<page>_ms: the sum of the calls one page makes, one after
 * the other (the console makes them in parallel, so this is an upper
 * bound). Notes go to stderr. */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/ts_arena.h"
#include "common/ts_buf.h"
#include "common/ts_hlc.h"
#include "common/ts_log.h"
#include "common/ts_record.h"
#include "common/ts_registry.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "server/ts_admin.h"
#include "server/ts_notices.h"
#include "server/ts_plan.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"

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

/* ---------------------------------------------------------------- filling */


static const char *const communes[] = {"Bình Nguyên", "Xuân Lãng", "Bình Xuyên", "Bình Tuyền", "Hương Canh",
                                       "Đạo Đức",     "Thiện Kế",  "Sơn Lôi",    "Tam Hợp",    "Gia Khánh"};

static void put_value(ts_version *v, ts_arena *arena, ts_buf *scratch, const char *name, const ts_dot *dot, uint64_t hlc)
{
    ts_version_put(v, arena, name, scratch->data, scratch->len, dot, hlc);
    ts_buf_reset(scratch);
}

/* Record k of a station: residents first, then encounters of them. */
static void build_record(const char *code, const ts_rid *rid, uint32_t k, uint32_t nres, uint64_t ms, ts_change *c,
                         ts_arena *arena, ts_buf *b)
{
    static const char *const family[] = {"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"};
    static const char *const given[] = {"Lan", "Hùng", "Mai", "Tuấn", "Hương", "Dũng", "Thảo", "Phúc"};
    char id[64], text[160];
    memset(c, 0, sizeof *c);
    ts_version_init(&c->v);
    c->owner = ts_arena_strndup(arena, code, strlen(code));
    c->lseq = 1 + k;
    ts_dot dot = {*rid, ts_vv_bump(&c->v.vv, rid)};
    uint64_t hlc = TS_HLC_MAKE(ms + k / 8, k % 8);
    if (k < nres) {
        snprintf(id, sizeof id, "%s-R%05u", code, k);
        c->table = "residents";
        snprintf(text, sizeof text, "%s Văn %s %u", family[k % 8], given[(k / 8) % 8], k);
        ts_value_str(b, text);
        put_value(&c->v, arena, b, "full_name", &dot, hlc);
        snprintf(text, sizeof text, "%04u-%02u-%02u", 1940 + k % 80, 1 + k % 12, 1 + k % 28);
        ts_value_str(b, text);
        put_value(&c->v, arena, b, "birth_date", &dot, hlc);
        ts_value_str(b, k % 2 ? "male" : "female");
        put_value(&c->v, arena, b, "sex", &dot, hlc);
        snprintf(text, sizeof text, "GD4%012u", 10000000u + k);
        ts_value_str(b, text);
        put_value(&c->v, arena, b, "bhyt_number", &dot, hlc);
        ts_value_bool(b, k % 10 != 0);
        put_value(&c->v, arena, b, "health_record", &dot, hlc);
        ts_value_bool(b, k % 7 == 0);
        put_value(&c->v, arena, b, "high_risk", &dot, hlc);
    } else {
        snprintf(id, sizeof id, "%s-E%05u", code, k);
        c->table = "encounters";
        snprintf(text, sizeof text, "%s-R%05u", code, nres ? (k - nres) % nres : 0);
        ts_value_str(b, text);
        put_value(&c->v, arena, b, "resident_id", &dot, hlc);
        snprintf(text, sizeof text, "2026-%02u-%02u", 1 + k % 11, 1 + k % 28);
        ts_value_str(b, text);
        put_value(&c->v, arena, b, "date", &dot, hlc);
        ts_value_str(b, "visit");
        put_value(&c->v, arena, b, "kind", &dot, hlc);
        ts_value_str(b, "Khám tăng huyết áp định kỳ");
        put_value(&c->v, arena, b, "reason", &dot, hlc);
        ts_value_bool(b, k % 20 != 0);
        put_value(&c->v, arena, b, "paid_by_bhyt", &dot, hlc);
    }
    c->id = ts_arena_strndup(arena, id, strlen(id));
    ts_value_bool(b, false);
    put_value(&c->v, arena, b, TS_FIELD_DELETED, &dot, hlc);
}

static void exec_sql(ts_store *st, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(ts_store_db(st), sql, NULL, NULL, &msg) != SQLITE_OK)
        die(sql, msg ? msg : "?");
}

static void fill(const char *dir, long nstations, long nrecords)
{
    ts_registry reg;
    ts_error err;
    if (ts_registry_load_default(&reg, &err) < 0)
        die("registry", err.msg);
    char *path = ts_xasprintf("%s/district.db", dir);
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = path;
    opt.role = TS_ROLE_SERVER;
    opt.registry = &reg;
    opt.synchronous = TS_SYNC_OFF; /* filling, not measuring */
    opt.create = true;
    ts_store *st;
    if (ts_store_open(&st, &opt, &err) < 0)
        die(path, err.msg);
    ts_actor admin = {TS_ACTOR_ADMIN, "bench-admin", NULL, "bench"};
    if (ts_admin_user_set(st, "bench", "bench-password-1", "admin", "Bench", NULL, &err) < 0)
        die("user", err.msg);
    uint64_t now = ts_wall_ms();
    ts_buf b = TS_BUF_INIT;

    /* the directory */
    double t0 = now_s();
    for (long s = 0; s < nstations; s += 1000) {
        if (ts_store_begin(st, &err) < 0)
            die("begin", err.msg);
        for (long i = s; i < s + 1000 && i < nstations; i++) {
            char code[32], name[120], commune[80], ccode[24];
            snprintf(code, sizeof code, "st%05ld", i);
            snprintf(commune, sizeof commune, "%s %ld", communes[i % 10], i / 10);
            snprintf(name, sizeof name, "Trạm Y tế xã %s", commune);
            snprintf(ccode, sizeof ccode, "%05ld", 10000 + i);
            ts_buf vals[5];
            for (int k = 0; k < 5; k++)
                ts_buf_init(&vals[k]);
            ts_value_str(&vals[0], name);
            ts_value_str(&vals[1], commune);
            ts_value_str(&vals[2], ccode);
            ts_value_int(&vals[3], 5000 + i % 9000);
            ts_value_int(&vals[4], 3 + i % 6);
            ts_kv kv[5] = {{"name", vals[0].data, vals[0].len},
                           {"commune", vals[1].data, vals[1].len},
                           {"commune_code", vals[2].data, vals[2].len},
                           {"population", vals[3].data, vals[3].len},
                           {"villages", vals[4].data, vals[4].len}};
            if (ts_store_put(st, &admin, "stations", code, NULL, kv, 5, &err) < 0)
                die("directory", err.msg);
            for (int k = 0; k < 5; k++)
                ts_buf_free(&vals[k]);
        }
        if (ts_store_commit(st, &err) < 0)
            die("commit", err.msg);
    }
    fprintf(stderr, "bench: %ld stations in the directory (%.1f s)\n", nstations, now_s() - t0);

    /* the stations' records, pushed by their replicas */
    t0 = now_s();
    uint32_t per = (uint32_t)(nrecords / nstations), nres = per * 3 / 5 ? per * 3 / 5 : 1;
    ts_change *changes = ts_xcalloc(per ? per : 1, sizeof *changes);
    ts_apply_result *results = ts_xcalloc(per ? per : 1, sizeof *results);
    ts_arena arena;
    ts_arena_init(&arena, 1 << 20);
    uint64_t base_ms = now - 3 * 3600 * 1000;
    for (long i = 0; i < nstations && per > 0; i++) {
        char code[32], rid_text[64];
        snprintf(code, sizeof code, "st%05ld", i);
        snprintf(rid_text, sizeof rid_text, "%s.%016lx", code, 0x1000000000000000UL + (unsigned long)i);
        ts_rid rid;
        if (ts_rid_set_cstr(&rid, rid_text) < 0)
            die("replica", rid_text);
        for (uint32_t k = 0; k < per; k++)
            build_record(code, &rid, k, nres, base_ms + (uint64_t)i, &changes[k], &arena, &b);
        ts_actor station = {TS_ACTOR_STATION, code, &rid, "bench"};
        if (ts_store_apply(st, &station, changes, per, results, &err) < 0)
            die("apply", err.msg);
        for (uint32_t k = 0; k < per; k++) {
            if (results[k].outcome != TS_OUTCOME_APPLIED)
                die("apply", results[k].reason);
            ts_version_free(&changes[k].v);
        }
        ts_arena_free(&arena);
        if (i % 1000 == 999)
            fprintf(stderr, "bench: %ld stations' records stored (%.1f s)\n", i + 1, now_s() - t0);
    }
    free(changes);
    free(results);
    ts_arena_free(&arena);
    fprintf(stderr, "bench: %ld records stored (%.1f s)\n", (long)per * nstations, now_s() - t0);

    /* what sessions report, and cursors */
    t0 = now_s();
    exec_sql(st, "BEGIN");
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "INSERT OR REPLACE INTO station_status(station, replica, agent, peer, connected_at,"
                           " last_seen, last_sync, clock_skew_ms, cert_serial, cert_not_after, commune)"
                           " VALUES(?1, ?1 || '.r', 'tramsync/0.1.0', '10.0.0.1:5000', ?2, ?2, ?2, ?3, 'AB12', ?4, ?5)",
                           -1, &q, NULL) != SQLITE_OK)
        die("status", sqlite3_errmsg(ts_store_db(st)));
    for (long i = 0; i < nstations; i++) {
        char code[32], commune[80];
        snprintf(code, sizeof code, "st%05ld", i);
        snprintf(commune, sizeof commune, "%s %ld", communes[i % 10], i / 10);
        /* most seen an hour ago, some silent for days */
        int64_t seen = (int64_t)now - (i % 50 == 0 ? 3 * 86400000LL : 3600000LL);
        sqlite3_bind_text(q, 1, code, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 2, seen);
        sqlite3_bind_int64(q, 3, (i % 97) - 40);
        sqlite3_bind_int64(q, 4, (int64_t)(now / 1000) + 86400 * (i % 400));
        sqlite3_bind_text(q, 5, commune, -1, SQLITE_TRANSIENT);
        sqlite3_step(q);
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    exec_sql(st, "INSERT OR REPLACE INTO station_cursors(station, cursor, updated_at)"
                 " SELECT station, 1, last_sync FROM station_status");
    exec_sql(st, "COMMIT");

    /* notices to 100 stations each, and the plan's tasks assigned */
    ts_plan_load_result loaded;
    ts_actor loader = {TS_ACTOR_LOCAL, "bench", NULL, "bench"};
    if (ts_plan_load_file(st, &loader, "server/data/plans/binh-dinh-2024.json", 0, &loaded, &err) < 0)
        die("plan", err.msg);
    ts_strlist to = {NULL, 0};
    for (long i = 0; i < 100 && i < nstations; i++) {
        char code[32];
        snprintf(code, sizeof code, "st%05ld", i * (nstations / 100 ? nstations / 100 : 1));
        ts_strlist_add(&to, code);
    }
    static const char *const urg[] = {"thuong", "khan", "thuong_khan", "hoa_toc"};
    for (int n = 0; n < 200; n++) {
        json_t *f = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "subject", "Thông báo về công tác phòng chống dịch", "body",
                              "Nội dung thông báo.", "issuer", "TTYT khu vực", "category", "prevention", "urgency",
                              urg[n % 4], "doc_type", "thong_bao");
        char id[64];
        if (ts_notice_create(st, &admin, f, &to, id, sizeof id, &err) < 0)
            die("notice", err.msg);
        json_decref(f);
    }
    for (int k = 1; k <= 28; k++) {
        char task[16];
        snprintf(task, sizeof task, "KH-%02d", k);
        if (ts_task_assign(st, &admin, task, &to, "2026-12-31", "Báo cáo hằng quý", &err) < 0)
            die("assign", err.msg);
    }
    ts_strlist_free(&to);

    /* true conflicts: the district and a station edit the same resident */
    ts_buf_reset(&b);
    ts_value_str(&b, "0900000000");
    for (int n = 0; n < 100 && n < nstations; n++) {
        char code[32], id[64], rid_text[64];
        snprintf(code, sizeof code, "st%05d", n);
        snprintf(id, sizeof id, "%s-R%05u", code, 0u);
        ts_kv kv = {"phone", b.data, b.len};
        if (ts_store_put(st, &admin, "residents", id, code, &kv, 1, &err) < 0)
            die("district edit", err.msg);
        snprintf(rid_text, sizeof rid_text, "%s.%016lx", code, 0x1000000000000000UL + (unsigned long)n);
        ts_rid rid;
        ts_rid_set_cstr(&rid, rid_text);
        ts_arena_init(&arena, 8192);
        ts_change c;
        ts_buf scratch = TS_BUF_INIT;
        build_record(code, &rid, 0, nres, base_ms + (uint64_t)n, &c, &arena, &scratch);
        c.lseq = per + 1;
        ts_dot dot = {rid, ts_vv_bump(&c.v.vv, &rid)};
        ts_value_str(&scratch, "0911111111");
        put_value(&c.v, &arena, &scratch, "phone", &dot, TS_HLC_MAKE(now - 60000, 0));
        ts_actor station = {TS_ACTOR_STATION, code, &rid, "bench"};
        ts_apply_result res;
        if (ts_store_apply(st, &station, &c, 1, &res, &err) < 0)
            die("conflict", err.msg);
        ts_version_free(&c.v);
        ts_buf_free(&scratch);
        ts_arena_free(&arena);
    }

    /* a week of target figures */
    exec_sql(st, "BEGIN");
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "INSERT OR REPLACE INTO target_snapshots(day, station, indicator, numerator, denominator)"
                           " VALUES(?1, ?2, ?3, ?4, ?5)",
                           -1, &q, NULL) != SQLITE_OK)
        die("targets", sqlite3_errmsg(ts_store_db(st)));
    static const char *const indicators[] = {"bhyt",     "primary_care_bhyt", "permanent_doctor", "village_health_worker",
                                             "commune_criteria", "ncd_care", "underweight", "stunting",
                                             "health_management", "high_risk_checked"};
    for (int d = 7; d >= 1; d--) {
        char day[16];
        time_t tt = (time_t)(now / 1000) - d * 86400;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(day, sizeof day, "%Y-%m-%d", &tm);
        for (long i = 0; i < nstations; i++) {
            char code[32];
            snprintf(code, sizeof code, "st%05ld", i);
            for (int k = 0; k < 10; k++) {
                sqlite3_bind_text(q, 1, day, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(q, 2, code, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(q, 3, indicators[k], -1, SQLITE_STATIC);
                sqlite3_bind_int64(q, 4, 80 + (i + k + d) % 40);
                sqlite3_bind_int64(q, 5, 120);
                sqlite3_step(q);
                sqlite3_reset(q);
            }
        }
    }
    sqlite3_finalize(q);
    exec_sql(st, "COMMIT");
    exec_sql(st, "PRAGMA wal_checkpoint(TRUNCATE)");
    fprintf(stderr, "bench: status, notices, tasks, conflicts, targets (%.1f s)\n", now_s() - t0);
    ts_buf_free(&b);
    ts_store_close(st);
    ts_registry_free(&reg);
    struct stat sb;
    if (stat(path, &sb) == 0)
        printf("BENCH console_db_mib %.0f MiB\n", (double)sb.st_size / (1024.0 * 1024.0));
    free(path);
}

/* ---------------------------------------------------------------- timing */

typedef struct call {
    const char *name;
    const char *path;
} call;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double time_call(ts_th *c, const char *auth, const char *path, int *status)
{
    double t0 = now_s();
    ts_th_resp r;
    if (ts_th_request(c, "GET", path, auth, NULL, NULL, &r) < 0)
        die(path, c->error);
    double ms = (now_s() - t0) * 1000.0;
    *status = r.status;
    ts_th_resp_free(&r);
    return ms;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    ts_log_set_level(TS_LOG_WARN);
    long nstations = env_long("TS_BENCH_STATIONS", 5000), nrecords = env_long("TS_BENCH_RECORDS", 1000000);
    long reps = env_long("TS_BENCH_REPS", 5);
    if (nstations < 100 || nstations > 100000 || nrecords < nstations || reps < 1)
        die("TS_BENCH_STATIONS / TS_BENCH_RECORDS / TS_BENCH_REPS", "out of range");
    char *dir = ts_tmpdir_make("bench-console");
    ts_test_pki pki;
    const char *first[] = {"st00000"};
    ts_test_pki_make(&pki, dir, first, 1);
    double t0 = now_s();
    fill(dir, nstations, nrecords);
    printf("BENCH console_fill_s %.1f s\n", now_s() - t0);
    fflush(stdout);

    char *console = ts_source_path("server/console");
    char *console_set = ts_xasprintf("admin.console_dir=%s", console);
    const char *sets[] = {"server.log_level=info", console_set, "admin.rate=1000", "admin.rate_burst=1000",
                          "admin.targets_every=24h", NULL};
    ts_test_daemon d;
    t0 = now_s();
    ts_test_daemon_start(&d, dir, &pki, sets);
    printf("BENCH console_daemon_start_ms %.0f ms\n", (now_s() - t0) * 1000);
    /* the first targets computation runs soon after the start, one station
     * per store job: measure it, then the pages in a steady state */
    t0 = now_s();
    if (!ts_test_log_wait(d.log, "event=targets_computed", 600000))
        fprintf(stderr, "bench: the targets computation did not finish\n");
    else
        printf("BENCH console_targets_compute_s %.1f s\n", now_s() - t0);

    ts_th c;
    if (ts_th_connect(&c, d.admin_port, NULL) < 0)
        die("connect", c.error);
    ts_th_resp r;
    if (ts_th_request(&c, "POST", "/api/login", NULL, "application/json",
                      "{\"username\":\"bench\",\"password\":\"bench-password-1\"}", &r) < 0 ||
        r.status != 200)
        die("login", r.body ? r.body : c.error);
    char *auth = ts_xasprintf("Authorization: Bearer %s\r\n", json_string_value(json_object_get(r.json, "token")));
    ts_th_resp_free(&r);
    if (ts_th_request(&c, "GET", "/api/notices?limit=1", auth, NULL, NULL, &r) < 0 || r.status != 200)
        die("notices", "no answer");
    char *notice = ts_xstrdup(json_string_value(json_object_get(json_array_get(json_object_get(r.json, "notices"), 0), "id")));
    ts_th_resp_free(&r);
    char *notice_path = ts_xasprintf("/api/notices/%s?limit=100", notice);
    char *station_path = ts_xasprintf("/api/stations/st%05ld", nstations * 85 / 100);
    char *records_path = ts_xasprintf("/api/records/residents?station=st%05ld&limit=100", nstations * 85 / 100);

    static const call calls[] = {
        {"static_index", "/"},
        {"static_app_js", "/app.js"},
        {"me", "/api/me"},
        {"overview", "/api/overview"},
        {"stations_attention", "/api/stations?filter=attention&sort=status&limit=8"},
        {"escalations", "/api/escalations?limit=8"},
        {"conflicts_dash", "/api/conflicts?limit=6"},
        {"targets_district", "/api/targets?limit=1"},
        {"stations_page", "/api/stations?limit=50"},
        {"stations_search", "/api/stations?q=binh%20xuyen%2042&limit=50"},
        {"stations_silent", "/api/stations?filter=silent&limit=50"},
        {"station_detail", "station"},
        {"conflicts", "/api/conflicts?status=open&limit=100"},
        {"conflict_detail", "/api/conflicts/1"},
        {"notices", "/api/notices?limit=25"},
        {"notice_detail", "notice"},
        {"reports", "/api/reports?limit=25"},
        {"tasks", "/api/tasks"},
        {"task_detail", "/api/tasks/KH-05"},
        {"targets", "/api/targets?limit=50"},
        {"targets_history", "/api/targets/history?indicator=bhyt"},
        {"records_station", "records"},
        {"audit", "/api/audit?limit=100"},
        {"labels", "/api/labels"},
        {"tables", "/api/tables"},
    };
    size_t ncalls = sizeof calls / sizeof *calls;
    double *samples = ts_xcalloc((size_t)reps, sizeof *samples);
    double *median = ts_xcalloc(ncalls, sizeof *median);
    for (size_t i = 0; i < ncalls; i++) {
        const char *path = strcmp(calls[i].path, "notice") == 0    ? notice_path
                           : strcmp(calls[i].path, "station") == 0 ? station_path
                           : strcmp(calls[i].path, "records") == 0 ? records_path
                                                                    : calls[i].path;
        int status = 0;
        time_call(&c, auth, path, &status); /* warm: the first of a kind pays for SQLite's cache */
        if (status != 200)
            fprintf(stderr, "bench: %s answered %d\n", path, status);
        for (long k = 0; k < reps; k++)
            samples[k] = time_call(&c, auth, path, &status);
        qsort(samples, (size_t)reps, sizeof *samples, cmp_double);
        median[i] = samples[reps / 2];
        printf("BENCH console_%s_ms %.1f ms\n", calls[i].name, median[i]);
        printf("BENCH console_%s_max_ms %.1f ms\n", calls[i].name, samples[reps - 1]);
        fflush(stdout);
    }
    /* pages: the calls each makes (in sequence here; the browser overlaps them) */
    static const struct {
        const char *page;
        const char *calls[6];
    } pages[] = {
        {"dashboard", {"overview", "stations_attention", "escalations", "conflicts_dash", "targets_district", NULL}},
        {"stations", {"stations_page", NULL}},
        {"station", {"station_detail", NULL}},
        {"conflicts", {"conflicts", NULL}},
        {"conflict", {"conflict_detail", "conflicts", NULL}},
        {"notices", {"notices", NULL}},
        {"notice", {"notice_detail", NULL}},
        {"reports", {"reports", NULL}},
        {"tasks", {"tasks", NULL}},
        {"targets", {"targets", "targets_history", NULL}},
        {"health", {"overview", "audit", NULL}},
        {"audit", {"audit", NULL}},
    };
    double worst = 0;
    for (size_t p = 0; p < sizeof pages / sizeof *pages; p++) {
        double sum = 0;
        for (size_t k = 0; pages[p].calls[k]; k++)
            for (size_t i = 0; i < ncalls; i++)
                if (strcmp(calls[i].name, pages[p].calls[k]) == 0)
                    sum += median[i];
        printf("BENCH console_page_%s_ms %.1f ms\n", pages[p].page, sum);
        if (sum > worst)
            worst = sum;
    }
    printf("BENCH console_page_worst_ms %.1f ms\n", worst);
    if (worst >= 1000)
        fprintf(stderr, "bench: a page needs %.0f ms, over the 1 s budget\n", worst);
    ts_th_close(&c);
    free(samples);
    free(median);
    free(notice);
    free(notice_path);
    free(station_path);
    free(records_path);
    free(auth);
    free(console);
    free(console_set);
    if (ts_test_daemon_stop(&d, SIGTERM, 60000) != 0)
        fprintf(stderr, "bench: the daemon did not stop cleanly (log %s)\n", d.log);
    ts_test_daemon_free(&d);
    ts_test_pki_free(&pki);
    ts_tmpdir_remove(dir);
    return worst < 1000 ? 0 : 1;
}
