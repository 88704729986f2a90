/* End-to-end sync benchmark (`make bench ONLY=sync`): the release daemon and
 * real station agents (`tramsync run`) over mutual TLS on 127.0.0.1.
 *
 *   sync_push_rps          S stations (TS_BENCH_STATIONS, default 50) each hold
 *                          R residents (TS_BENCH_RECORDS, default 2,000, ~200
 *                          bytes of field values) pending in their replica; the
 *                          daemon and all agents start and the clock runs until
 *                          the district database holds all S x R (polled
 *                          read-only with a separate SQLite connection)
 *   sqlite_upsert_rps      raw SQLite, same machine, same run, as the store
 *                          benchmark's baseline: the same S x R rows (key,
 *                          owner, vv and fields blobs read back from the
 *                          stations) upserted into a bare records table, WAL,
 *                          synchronous FULL, one transaction per 1,000 rows,
 *                          best of TS_BENCH_ROUNDS (default 3) fresh files
 *   sync_push_ratio        sync_push_rps / sqlite_upsert_rps (goal >= 0.5)
 *   sync_bytes_per_record  bytes the daemon received on the wire (TLS included,
 *                          from its `event=stats` lines) per record synced, in
 *                          the protocol version the agents offer (TS_BENCH_PROTO,
 *                          default the highest: 3, compact changes of version 3;
 *                          2: those of version 2; 1: version-1
 *                          change maps), with frame compression (zstd-1)
 *                          unless TS_BENCH_COMPRESS=0
 *   sync_values_bytes_per_record  the same records' field values alone, each
 *                          a msgpack str: what any encoding must carry
 *   sync_zstd_block_bytes_per_record  those values, one block through
 *                          `zstd -19` (the CLI): the floor a compressed
 *                          encoding can hope for
 *   server_rss_mb          the daemon's peak resident memory (VmHWM)
 *   loop_lag_p99_ms        the highest event-loop lag p99 of its stats lines
 *                          during the sync
 *   first_sync_100k_s      a fresh station with an empty replica pulling the
 *                          TS_BENCH_FIRST (default 100,000) records the district
 *                          holds for it, until its cursor reaches the end (goal < 5 s)
 *
 * Output: lines "BENCH <name> <value> <unit>"; progress notes go to stderr.
 * TS_BIN_DIR (set by make) names the binaries under test; TS_KEEP_TMP=1 keeps
 * the directory (logs, databases), TS_BENCH_LOG_LEVEL=debug the daemon's
 * per-PUSH store times. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "proto/tramsync-protocol.h"
#include "common/ts_registry.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_records.h"
#include "tests/support/ts_test_station.h"

#define UPSERT_TX_ROWS 1000

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

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_sync: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        die("cannot find a free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

/* ---------------------------------------------------------------- records */

/* ---------------------------------------------------------------- raw SQLite */

typedef struct row {
    char *key; /* "tbl\0id\0owner\0" */
    size_t tbl_len, id_len, owner_len;
    void *vv;
    int vv_len;
    void *fields;
    int fields_len;
} row;

static void sql_check(sqlite3 *db, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        die("%s: %s", what, sqlite3_errmsg(db));
}

/* The residents of one station database, as stored. */
static size_t load_rows(const char *path, row *rows, size_t at)
{
    sqlite3 *db;
    sql_check(NULL, sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), path);
    sqlite3_stmt *q;
    sql_check(db,
              sqlite3_prepare_v2(db, "SELECT tbl, id, owner, vv, fields FROM records WHERE tbl = 'residents'", -1, &q,
                                 NULL),
              "select");
    while (sqlite3_step(q) == SQLITE_ROW) {
        row *r = &rows[at++];
        r->tbl_len = (size_t)sqlite3_column_bytes(q, 0);
        r->id_len = (size_t)sqlite3_column_bytes(q, 1);
        r->owner_len = (size_t)sqlite3_column_bytes(q, 2);
        r->key = ts_xmalloc(r->tbl_len + r->id_len + r->owner_len + 3);
        memcpy(r->key, sqlite3_column_text(q, 0), r->tbl_len + 1);
        memcpy(r->key + r->tbl_len + 1, sqlite3_column_text(q, 1), r->id_len + 1);
        memcpy(r->key + r->tbl_len + r->id_len + 2, sqlite3_column_text(q, 2), r->owner_len + 1);
        r->vv_len = sqlite3_column_bytes(q, 3);
        r->vv = ts_xmalloc((size_t)r->vv_len + 1);
        memcpy(r->vv, sqlite3_column_blob(q, 3), (size_t)r->vv_len);
        r->fields_len = sqlite3_column_bytes(q, 4);
        r->fields = ts_xmalloc((size_t)r->fields_len + 1);
        memcpy(r->fields, sqlite3_column_blob(q, 4), (size_t)r->fields_len);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return at;
}

/* Rows per second of a batched upsert, exactly as the store benchmark's
 * baseline (tests/bench/bench_store.c): a records table (tbl, id, owner, vv,
 * fields, PRIMARY KEY(tbl, id)) WITHOUT ROWID, one prepared INSERT ... ON
 * CONFLICT DO UPDATE per row, WAL, synchronous FULL, the store's cache size,
 * UPSERT_TX_ROWS per transaction; a fresh file each round, the best of
 * `rounds` kept. */
static double sqlite_upsert_rps(const char *dir, const row *rows, size_t n, int rounds)
{
    double best = 0;
    for (int round = 0; round < rounds; round++) {
        char *path = ts_xasprintf("%s/raw-upsert-%d.db", dir, round);
        sqlite3 *db;
        sql_check(NULL, sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), path);
        sql_check(db,
                  sqlite3_exec(db,
                               "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -16000;"
                               "CREATE TABLE records(tbl TEXT NOT NULL, id TEXT NOT NULL, owner TEXT NOT NULL,"
                               " vv BLOB NOT NULL, fields BLOB NOT NULL, PRIMARY KEY(tbl, id)) WITHOUT ROWID;",
                               NULL, NULL, NULL),
                  "schema");
        sqlite3_stmt *q;
        sql_check(db,
                  sqlite3_prepare_v2(db,
                                     "INSERT INTO records(tbl, id, owner, vv, fields) VALUES(?1, ?2, ?3, ?4, ?5)"
                                     " ON CONFLICT(tbl, id) DO UPDATE SET owner = excluded.owner, vv = excluded.vv,"
                                     " fields = excluded.fields",
                                     -1, &q, NULL),
                  "prepare");
        double t0 = now_s();
        for (size_t i = 0; i < n; i++) {
            if (i % UPSERT_TX_ROWS == 0)
                sql_check(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
            const row *r = &rows[i];
            sqlite3_bind_text(q, 1, r->key, (int)r->tbl_len, SQLITE_STATIC);
            sqlite3_bind_text(q, 2, r->key + r->tbl_len + 1, (int)r->id_len, SQLITE_STATIC);
            sqlite3_bind_text(q, 3, r->key + r->tbl_len + r->id_len + 2, (int)r->owner_len, SQLITE_STATIC);
            sqlite3_bind_blob(q, 4, r->vv, r->vv_len, SQLITE_STATIC);
            sqlite3_bind_blob(q, 5, r->fields, r->fields_len, SQLITE_STATIC);
            sql_check(db, sqlite3_step(q), "upsert");
            sqlite3_reset(q);
            if ((i + 1) % UPSERT_TX_ROWS == 0 || i + 1 == n)
                sql_check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
        }
        double rps = (double)n / (now_s() - t0);
        if (rps > best)
            best = rps;
        sqlite3_finalize(q);
        sqlite3_close(db);
        free(path);
    }
    return best;
}

/* One integer from a database file opened read-only now; -1 when it cannot
 * be read (the daemon holds no lock readers wait on, in WAL mode). */
static long long file_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 2000);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
            if (sqlite3_step(q) == SQLITE_ROW)
                v = sqlite3_column_int64(q, 0);
            sqlite3_finalize(q);
        }
    }
    sqlite3_close(db);
    return v;
}

/* ---------------------------------------------------------------- daemon figures */

static long peak_rss_kb(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    char *txt = ts_read_file(path, NULL);
    long kb = 0;
    char *p = txt ? strstr(txt, "VmHWM:") : NULL;
    if (p != NULL)
        kb = strtol(p + 6, NULL, 10);
    free(txt);
    return kb;
}

static uint64_t field_u64(const char *line, const char *eol, const char *key)
{
    const char *p = strstr(line, key);
    return p != NULL && p < eol ? strtoull(p + strlen(key), NULL, 10) : 0;
}

typedef struct stats_seen {
    int lines;
    uint64_t bytes_in;      /* of the last line */
    uint64_t lag_p99_max;   /* over lines from `from_line` on */
    uint64_t changes_in;
} stats_seen;

/* The daemon's `event=stats` lines: the last one's totals, the highest p99
 * lag among lines number >= from_line. */
static stats_seen read_stats(const char *log, int from_line)
{
    stats_seen s = {0, 0, 0, 0};
    char *txt = ts_read_file(log, NULL);
    for (char *line = txt; line && *line;) {
        char *eol = strchr(line, '\n');
        if (eol == NULL)
            break;
        if (strstr(line, "event=stats ") != NULL && strstr(line, "event=stats ") < eol) {
            s.lines++;
            s.bytes_in = field_u64(line, eol, " bytes_in=");
            s.changes_in = field_u64(line, eol, " changes_in=");
            uint64_t lag = field_u64(line, eol, " lag_p99_ms=");
            if (s.lines >= from_line && lag > s.lag_p99_max)
                s.lag_p99_max = lag;
        }
        line = eol + 1;
    }
    free(txt);
    return s;
}

/* The residents' field values alone (msgpack str each), all stations: their
 * size per record, and that of one `zstd -19` block of them (0 when the zstd
 * program is missing). */
static void values_floor(char **codes, long nst, long nrec, const char *dir, double *values, double *zstd_block)
{
    ts_buf all = TS_BUF_INIT;
    for (long s = 0; s < nst; s++) {
        for (uint32_t i = 0; i < (uint32_t)nrec; i++) {
            char text[TS_TEST_NFIELDS][TS_TEST_FIELD_MAX];
            const char *names[TS_TEST_NFIELDS];
            ts_test_resident(i, codes[s], text, names);
            for (int k = 0; k < TS_TEST_NFIELDS; k++)
                ts_value_str(&all, text[k]);
        }
    }
    size_t n = (size_t)nst * (size_t)nrec;
    *values = (double)all.len / (double)n;
    *zstd_block = 0;
    char *path = ts_xasprintf("%s/values.bin", dir);
    FILE *f = fopen(path, "wb");
    if (f != NULL && fwrite(all.data, 1, all.len, f) == all.len && fclose(f) == 0) {
        char *cmd = ts_xasprintf("zstd -19 -q -c '%s' 2>/dev/null | wc -c", path);
        FILE *p = popen(cmd, "r");
        long long bytes = 0;
        if (p != NULL && fscanf(p, "%lld", &bytes) == 1 && bytes > 0)
            *zstd_block = (double)bytes / (double)n;
        if (p != NULL)
            pclose(p);
        free(cmd);
    }
    free(path);
    ts_buf_free(&all);
}

/* ---------------------------------------------------------------- main */

int main(void)
{
    long nst = env_long("TS_BENCH_STATIONS", 50), nrec = env_long("TS_BENCH_RECORDS", 2000);
    long nfirst = env_long("TS_BENCH_FIRST", 100000);
    if (nst < 1 || nst > 1000 || nrec < 1 || nfirst < 1)
        die("bad TS_BENCH_STATIONS / TS_BENCH_RECORDS / TS_BENCH_FIRST");
    size_t total = (size_t)nst * (size_t)nrec;
    ts_registry reg;
    ts_error err;
    if (ts_registry_load_default(&reg, &err) < 0)
        die("registry: %s", err.msg);

    char *dir = ts_tmpdir_make("bench-sync");
    char **codes = ts_xcalloc((size_t)nst + 1, sizeof *codes);
    for (long i = 0; i < nst; i++)
        codes[i] = ts_xasprintf("tram%03ld", i);
    codes[nst] = (char *)"firstsync";
    fprintf(stderr, "bench_sync: %ld stations x %ld records, in %s\n", nst, nrec, dir);
    ts_test_pki pki;
    ts_test_pki_make(&pki, dir, (const char *const *)codes, (size_t)nst + 1);

    /* stations with everything pending */
    int port = free_port();
    char *proto_set = ts_xasprintf("sync.proto_max=%ld", env_long("TS_BENCH_PROTO", TS_PROTO_VERSION_MAX));
    /* TS_BENCH_COMPRESS=0: frames as they are (no zstd offered) */
    const char *compress_set = env_long("TS_BENCH_COMPRESS", 1) ? "sync.compress=true" : "sync.compress=false";
    const char *station_sets[] = {"station.log_level=info", proto_set, compress_set, NULL};
    ts_test_station *st = ts_xcalloc((size_t)nst, sizeof *st);
    double t_fill = now_s();
    for (long i = 0; i < nst; i++) {
        ts_test_station_make(&st[i], dir, codes[i], &pki, port, station_sets);
        char *path = ts_xasprintf("%s/station.db", st[i].dir);
        ts_store *s = ts_test_store_open(path, TS_ROLE_STATION, codes[i], &reg, false, false);
        ts_test_fill(s, NULL, codes[i], codes[i], (uint32_t)nrec, (uint32_t)nrec);
        ts_store_close(s);
        free(path);
    }
    fprintf(stderr, "bench_sync: stations filled in %.1f s\n", now_s() - t_fill);

    /* raw SQLite on the same rows, before anything else runs */
    row *rows = ts_xcalloc(total, sizeof *rows);
    size_t nrows = 0;
    for (long i = 0; i < nst; i++) {
        char *path = ts_xasprintf("%s/station.db", st[i].dir);
        nrows = load_rows(path, rows, nrows);
        free(path);
    }
    if (nrows != total)
        die("loaded %zu of %zu rows", nrows, total);
    double upsert_rps = sqlite_upsert_rps(dir, rows, nrows, (int)env_long("TS_BENCH_ROUNDS", 3));
    size_t body = 0;
    for (size_t i = 0; i < nrows; i++) {
        body += (size_t)rows[i].fields_len;
        free(rows[i].key);
        free(rows[i].vv);
        free(rows[i].fields);
    }
    free(rows);
    fprintf(stderr, "bench_sync: raw upsert %.0f rows/s (%.0f bytes of fields per row)\n", upsert_rps,
            (double)body / (double)nrows);

    /* the daemon, then every agent at once */
    char *listen = ts_xasprintf("server.listen=127.0.0.1:%d", port);
    /* TS_BENCH_LOG_LEVEL=debug shows the daemon's time in the store per PUSH */
    const char *level = getenv("TS_BENCH_LOG_LEVEL") ? getenv("TS_BENCH_LOG_LEVEL") : "info";
    char *level_set = ts_xasprintf("server.log_level=%s", level);
    const char *dsets[] = {listen, "server.stats_interval=1s", level_set, NULL};
    ts_test_daemon d;
    ts_test_daemon_start(&d, dir, &pki, dsets);
    if (d.port != port)
        die("the daemon did not take %s", listen);
    char *ddb = ts_xasprintf("%s/district.db", dir);
    int stats_before = read_stats(d.log, 0).lines;
    /* progress is read from the district's sequence number (one small row):
     * counting the records every 50 ms would itself load the machine */
    long long seq0 = file_int(ddb, "SELECT coalesce((SELECT value FROM meta WHERE key = 'seq'), 0)");
    double t0 = now_s();
    for (long i = 0; i < nst; i++)
        ts_test_station_start(&st[i]);
    long long have = 0;
    double deadline = t0 + 600;
    while (file_int(ddb, "SELECT value FROM meta WHERE key = 'seq'") - seq0 < (long long)total && now_s() < deadline)
        ts_test_sleep_ms(50);
    double t1 = now_s();
    have = file_int(ddb, "SELECT count(*) FROM records WHERE tbl = 'residents'");
    if (have < (long long)total) {
        fprintf(stderr, "bench_sync: only %lld of %zu records arrived in 600 s\n", have, total);
        return 1;
    }
    double push_rps = (double)total / (t1 - t0);
    fprintf(stderr, "bench_sync: %zu records at the district in %.2f s\n", total, t1 - t0);
    /* a stats line logged after the last record arrived */
    int lines_now = read_stats(d.log, 0).lines;
    for (int i = 0; i < 40 && read_stats(d.log, 0).lines <= lines_now + 1; i++)
        ts_test_sleep_ms(100);
    stats_seen ss = read_stats(d.log, stats_before + 1);
    long rss_kb = peak_rss_kb(d.pid);
    for (long i = 0; i < nst; i++)
        ts_test_station_stop(&st[i], 20000);
    ts_test_daemon_stop(&d, SIGTERM, 60000);
    fprintf(stderr, "bench_sync: daemon stats: %" PRIu64 " changes in, %" PRIu64 " bytes in\n", ss.changes_in,
            ss.bytes_in);

    printf("BENCH sync_push_rps %.0f records/s\n", push_rps);
    printf("BENCH sqlite_upsert_rps %.0f rows/s\n", upsert_rps);
    printf("BENCH sync_push_ratio %.2f ratio\n", push_rps / upsert_rps);
    printf("BENCH sync_bytes_per_record %.0f bytes\n", (double)ss.bytes_in / (double)total);
    double values, zblock;
    values_floor(codes, nst, nrec, dir, &values, &zblock);
    printf("BENCH sync_values_bytes_per_record %.0f bytes\n", values);
    printf("BENCH sync_zstd_block_bytes_per_record %.0f bytes\n", zblock);
    printf("BENCH server_rss_mb %.1f MB\n", (double)rss_kb / 1024.0);
    printf("BENCH loop_lag_p99_ms %" PRIu64 " ms\n", ss.lag_p99_max);
    fflush(stdout);

    /* first sync: a fresh station, the district holding nfirst records of its own */
    char *dir2 = ts_xasprintf("%s/first", dir);
    mkdir(dir2, 0700);
    char *ddb2 = ts_xasprintf("%s/district.db", dir2);
    double t_prep = now_s();
    ts_store *srv = ts_test_store_open(ddb2, TS_ROLE_SERVER, NULL, &reg, true, false);
    ts_test_fill(srv, "firstsync", "FS", "firstsync", (uint32_t)nfirst, 10000);
    ts_store_close(srv);
    fprintf(stderr, "bench_sync: district prepared with %ld records in %.1f s\n", nfirst, now_s() - t_prep);
    int port2 = free_port();
    char *listen2 = ts_xasprintf("server.listen=127.0.0.1:%d", port2);
    const char *dsets2[] = {listen2, level_set, NULL};
    ts_test_daemon d2;
    ts_test_daemon_start(&d2, dir2, &pki, dsets2);
    long long end_seq = file_int(ddb2, "SELECT max(seq) FROM records");
    ts_test_station fs;
    ts_test_station_make(&fs, dir2, "firstsync", &pki, port2, station_sets);
    char *fsdb = ts_xasprintf("%s/station.db", fs.dir);
    double f0 = now_s();
    ts_test_station_start(&fs);
    long long cursor = 0;
    deadline = f0 + 300;
    while ((cursor = file_int(fsdb, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'pull_cursor'")) < end_seq &&
           now_s() < deadline)
        ts_test_sleep_ms(20);
    double f1 = now_s();
    long long got = file_int(fsdb, "SELECT count(*) FROM records WHERE tbl = 'residents'");
    ts_test_station_stop(&fs, 20000);
    ts_test_daemon_stop(&d2, SIGTERM, 60000);
    if (cursor < end_seq || got != nfirst) {
        fprintf(stderr, "bench_sync: first sync incomplete: cursor %lld of %lld, %lld of %ld records\n", cursor,
                end_seq, got, nfirst);
        return 1;
    }
    fprintf(stderr, "bench_sync: %lld records pulled by a fresh station in %.2f s\n", got, f1 - f0);
    printf("BENCH first_sync_100k_s %.2f s\n", f1 - f0);

    ts_test_station_free(&fs);
    ts_test_daemon_free(&d2);
    for (long i = 0; i < nst; i++)
        ts_test_station_free(&st[i]);
    ts_test_daemon_free(&d);
    ts_test_pki_free(&pki);
    ts_tmpdir_remove(dir);
    for (long i = 0; i < nst; i++)
        free(codes[i]);
    free(codes);
    free(st);
    free(listen);
    free(listen2);
    free(level_set);
    free(proto_set);
    free(ddb);
    free(ddb2);
    free(dir2);
    free(fsdb);
    ts_registry_free(&reg);
    return 0;
}
