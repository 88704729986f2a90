/* How fast the daemon ingests, measured without the agents' CPU
 * (`make bench ONLY=ingest`): one light client - this process, one thread -
 * holds TS_BENCH_STATIONS (default 50) mutual-TLS sessions to the release
 * daemon, each of a station with TS_BENCH_RECORDS (default 2,000) residents
 * (the realistic ones of tests/support/ts_test_records.c) encoded beforehand
 * as PUSH frames of 1,000 changes (version 3, TS_BENCH_PROTO=2 for version 2). TLS handshakes, HELLO and the
 * encoding happen before the clock starts; then every session sends its
 * first PUSH, and each PUSH_ACK is answered with that session's next PUSH
 * (one in flight per session, as the protocol says), until every batch is
 * acknowledged (committed).
 *
 *   daemon_ingest_rps      records acknowledged per second
 *   sqlite_upsert_rps      the same rows, read back from the district
 *                          database as stored (key, owner, vv, fields blobs)
 *                          in the order the district received them (its
 *                          sequence numbers: the 50 stations' batches
 *                          interleaved), upserted raw into a bare table, WAL,
 *                          synchronous FULL, 1,000 rows a transaction, best
 *                          of TS_BENCH_ROUNDS (default 3), same run
 *   sqlite_upsert_key_order_rps  the same in key order (every row appended
 *                          at the table's end: what raw SQLite does with the
 *                          rows sorted, for comparison; the ratio is not
 *                          against it)
 *   daemon_ingest_ratio    daemon_ingest_rps / sqlite_upsert_rps (goal >= 0.5)
 *   daemon_ingest_cpu_s, client_cpu_s  CPU seconds of the daemon and of this
 *                          process during the timed part: how light the client is
 *   daemon_store_thread_us_per_record  CPU of the store's thread (ts-store) a
 *                          record; stderr also gives the loop's and the
 *                          checkpoints' CPU, and when the first and the last
 *                          fifth of the batches were acknowledged
 *
 * TS_BENCH_COMPRESS=1 sends the frames compressed (zstd-1). Output: "BENCH
 * <name> <value> <unit>"; notes on stderr. */
#include <dirent.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "proto/tramsync-protocol.h"
#include "common/ts_hlc.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_frame.h"
#include "proto/ts_zframe.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_records.h"

#define UPSERT_TX_ROWS 1000
#define BATCH 1000

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
    fprintf(stderr, "bench_ingest: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static double proc_cpu_s(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *txt = ts_read_file(path, NULL);
    double s = 0;
    char *p = txt ? strrchr(txt, ')') : NULL;
    unsigned long ut = 0, st = 0;
    if (p != NULL && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
        s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    free(txt);
    return s;
}

/* The daemon's CPU by thread: the loop (the main thread), the store's
 * (named ts-store) and the rest (libuv's pool: the WAL's checkpoints). */
typedef struct thread_cpu {
    double loop, store, other;
} thread_cpu;

static void daemon_threads_cpu(pid_t pid, thread_cpu *out)
{
    *out = (thread_cpu){0, 0, 0};
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char *path = ts_xasprintf("%s/%s/stat", dir, e->d_name);
        char *txt = ts_read_file(path, NULL);
        free(path);
        char *open = txt ? strchr(txt, '(') : NULL, *close = txt ? strrchr(txt, ')') : NULL;
        unsigned long ut = 0, st = 0;
        if (open != NULL && close != NULL &&
            sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2) {
            double s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
            if (atoi(e->d_name) == (int)pid)
                out->loop += s;
            else if (close - open - 1 == 8 && strncmp(open + 1, "ts-store", 8) == 0)
                out->store += s;
            else
                out->other += s;
        }
        free(txt);
    }
    closedir(d);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---------------------------------------------------------------- raw SQLite (as bench_sync) */

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

/* The residents of a database, as stored, in the order the district took
 * them (by_seq) or in key order. */
static size_t load_rows(const char *path, row *rows, size_t at, bool by_seq)
{
    sqlite3 *db;
    sql_check(NULL, sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), path);
    sqlite3_stmt *q;
    sql_check(db,
              sqlite3_prepare_v2(db,
                                 by_seq ? "SELECT tbl, id, owner, vv, fields FROM records WHERE tbl = 'residents'"
                                          " ORDER BY seq"
                                        : "SELECT tbl, id, owner, vv, fields FROM records WHERE tbl = 'residents'"
                                          " ORDER BY tbl, id",
                                 -1, &q, NULL),
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

static void remove_db(const char *path)
{
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof sfx / sizeof *sfx; i++) {
        char *p = ts_xasprintf("%s%s", path, sfx[i]);
        unlink(p);
        free(p);
    }
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
        remove_db(path);
        free(path);
    }
    return best;
}


/* ---------------------------------------------------------------- frames */

typedef struct station {
    char code[16];
    char rid[64];
    ts_tc c;
    ts_buf *frames; /* PUSH frames, encoded */
    int nframes, sent, acked;
} station;

/* Station s's records as PUSH frames of BATCH changes (in the version the session speaks). */
static void encode(station *st, uint32_t nrec, bool compress)
{
    st->nframes = (int)((nrec + BATCH - 1) / BATCH);
    st->frames = ts_xcalloc((size_t)st->nframes, sizeof *st->frames);
    ts_rid r;
    ts_rid_set_cstr(&r, st->rid);
    uint64_t h0 = TS_HLC_MAKE(ts_wall_ms() - 3600000, 0);
    for (int f = 0; f < st->nframes; f++) {
        uint32_t from = (uint32_t)f * BATCH, n = nrec - from < BATCH ? nrec - from : BATCH;
        ts_msg m;
        ts_msg_init(&m, TS_MSG_PUSH);
        m.proto = (uint8_t)env_long("TS_BENCH_PROTO", TS_PROTO_VERSION_MAX);
        m.u.push.batch = (uint64_t)f + 1;
        ts_change *ch = ts_msg_alloc_changes(&m, &m.u.push.changes, n);
        for (uint32_t k = 0; k < n; k++) {
            uint32_t i = from + k;
            char vals[TS_TEST_NFIELDS][TS_TEST_FIELD_MAX];
            const char *names[TS_TEST_NFIELDS];
            ts_test_resident(i, st->code, vals, names);
            char id[48];
            snprintf(id, sizeof id, "%s-%06u", st->code, i);
            ch[k].table = "residents";
            ch[k].id = ts_msg_strdup(&m, id);
            ch[k].owner = ts_msg_strdup(&m, st->code);
            ch[k].lseq = (uint64_t)i + 1;
            ts_vv_set(&ch[k].v.vv, &r, (uint64_t)i + 1);
            ts_dot dot = {r, (uint64_t)i + 1};
            uint64_t h = h0 + ((uint64_t)i << 16);
            for (int j = 0; j < TS_TEST_NFIELDS; j++)
                ts_tc_put_str(&ch[k].v, &m.arena, names[j], vals[j], &dot, h);
            ts_tc_put_bool(&ch[k].v, &m.arena, TS_FIELD_DELETED, false, &dot, h);
        }
        ts_msg_encode(&m, &st->frames[f]);
        ts_msg_free(&m);
        if (compress)
            ts_zframe_wrap(&st->frames[f]);
    }
}

static void hello(station *st, const ts_test_pki *pki, int port, uint64_t lseq, bool compress)
{
    char *cert = ts_test_pki_cert(pki, st->code);
    char *key = ts_test_pki_key(pki, st->code);
    ts_tc_opts o = {cert, key, pki->ca, 0, 0};
    if (ts_tc_connect(&st->c, port, &o) < 0)
        die("%s: TLS: %s", st->code, st->c.error);
    free(cert);
    free(key);
    ts_msg m;
    ts_msg_init(&m, TS_MSG_HELLO);
    m.u.hello.proto_min = 1;
    m.u.hello.proto_max = (uint64_t)env_long("TS_BENCH_PROTO", TS_PROTO_VERSION_MAX);
    m.u.hello.agent = "bench-ingest/1";
    m.u.hello.replica = st->rid;
    m.u.hello.station = st->code;
    m.u.hello.server_db = "";
    m.u.hello.lseq = lseq;
    m.u.hello.live = false;
    m.u.hello.compress = compress ? TS_ZFRAME_NAME : NULL;
    if (ts_tc_send(&st->c, &m) < 0)
        die("%s: HELLO not sent", st->code);
    ts_msg_free(&m);
    if (ts_tc_recv(&st->c, &m, 20000) != 1 || m.type != TS_MSG_WELCOME)
        die("%s: no WELCOME: %s", st->code, st->c.error);
    ts_msg_free(&m);
}

static void send_next(station *st)
{
    const ts_buf *f = &st->frames[st->sent++];
    if (ts_tc_send_raw(&st->c, f->data, f->len) < 0)
        die("%s: PUSH not sent: %s", st->code, st->c.error);
}

int main(void)
{
    long nst = env_long("TS_BENCH_STATIONS", 50), nrec = env_long("TS_BENCH_RECORDS", 2000);
    bool compress = env_long("TS_BENCH_COMPRESS", 0) != 0;
    if (nst < 1 || nst > 500 || nrec < 1)
        die("bad TS_BENCH_STATIONS / TS_BENCH_RECORDS");
    char *dir = ts_tmpdir_make("bench-ingest");
    station *st = ts_xcalloc((size_t)nst, sizeof *st);
    char **codes = ts_xcalloc((size_t)nst, sizeof *codes);
    for (long i = 0; i < nst; i++) {
        snprintf(st[i].code, sizeof st[i].code, "ing%03ld", i);
        snprintf(st[i].rid, sizeof st[i].rid, "%s.%016lx", st[i].code, 0xbe00000ul + (unsigned long)i);
        codes[i] = st[i].code;
    }
    ts_test_pki pki;
    ts_test_pki_make(&pki, dir, (const char *const *)codes, (size_t)nst);
    double t_enc = now_s();
    size_t bytes = 0;
    for (long i = 0; i < nst; i++) {
        encode(&st[i], (uint32_t)nrec, compress);
        for (int f = 0; f < st[i].nframes; f++)
            bytes += st[i].frames[f].len;
    }
    fprintf(stderr, "bench_ingest: %ld stations x %ld records encoded in %.1f s (%.0f bytes/record%s)\n", nst, nrec,
            now_s() - t_enc, (double)bytes / (double)(nst * nrec), compress ? ", compressed" : "");
    /* TS_BENCH_LOG_LEVEL=debug: the daemon's time in the store per PUSH (push_applied db_us, group) */
    char *level = ts_xasprintf("server.log_level=%s", getenv("TS_BENCH_LOG_LEVEL") ? getenv("TS_BENCH_LOG_LEVEL") : "warn");
    const char *dsets[] = {level, NULL};
    ts_test_daemon d;
    ts_test_daemon_start(&d, dir, &pki, dsets);
    for (long i = 0; i < nst; i++)
        hello(&st[i], &pki, d.port, (uint64_t)nrec, compress);

    thread_cpu th0, th1;
    daemon_threads_cpu(d.pid, &th0);
    double cpu_d0 = proc_cpu_s(d.pid), cpu_c0 = self_cpu_s(), t0 = now_s();
    for (long i = 0; i < nst; i++)
        send_next(&st[i]);
    long pending = nst;
    /* when a fifth and four fifths of the batches were acknowledged: a fixed
     * cost at the start or at the end shows in the first or the last fifth */
    long nbatches = 0, acked_total = 0;
    for (long i = 0; i < nst; i++)
        nbatches += st[i].nframes;
    double t_fifth = 0, t_four_fifths = 0;
    struct pollfd *pf = ts_xcalloc((size_t)nst, sizeof *pf);
    while (pending > 0) {
        /* asleep until some session has bytes: the client stays light */
        for (long i = 0; i < nst; i++)
            pf[i] = (struct pollfd){st[i].acked == st[i].nframes ? -1 : st[i].c.fd, POLLIN, 0};
        if (poll(pf, (nfds_t)nst, 1000) < 0)
            die("poll");
        for (long i = 0; i < nst; i++) {
            station *s = &st[i];
            if (s->acked == s->nframes || !(pf[i].revents || SSL_pending(s->c.ssl) > 0 || s->c.pending.len > 0))
                continue;
            ts_msg m;
            int rc;
            while (s->acked < s->nframes && (rc = ts_tc_recv(&s->c, &m, 0)) != 0) {
                if (rc < 0)
                    die("%s: %s", s->code, s->c.error);
                if (m.type == TS_MSG_PUSH_ACK) {
                    if (m.u.push_ack.code != 0)
                        die("%s: PUSH refused: %s", s->code, m.u.push_ack.message ? m.u.push_ack.message : "");
                    s->acked++;
                    acked_total++;
                    if (t_fifth == 0 && acked_total * 5 >= nbatches)
                        t_fifth = now_s();
                    if (t_four_fifths == 0 && acked_total * 5 >= nbatches * 4)
                        t_four_fifths = now_s();
                    if (s->sent < s->nframes)
                        send_next(s);
                    else
                        pending--;
                }
                ts_msg_free(&m);
            }
        }
    }
    free(pf);
    double t1 = now_s();
    double cpu_d = proc_cpu_s(d.pid) - cpu_d0, cpu_c = self_cpu_s() - cpu_c0;
    daemon_threads_cpu(d.pid, &th1);
    size_t total = (size_t)nst * (size_t)nrec;
    for (long i = 0; i < nst; i++)
        ts_tc_close(&st[i].c);
    ts_test_daemon_stop(&d, SIGTERM, 60000);
    char *ddb = ts_xasprintf("%s/district.db", dir);
    row *rows = ts_xcalloc(total, sizeof *rows), *sorted = ts_xcalloc(total, sizeof *rows);
    size_t nrows = load_rows(ddb, rows, 0, true);
    if (nrows != total || load_rows(ddb, sorted, 0, false) != total)
        die("the district holds %zu of %zu records", nrows, total);
    double ingest = (double)total / (t1 - t0);
    fprintf(stderr, "bench_ingest: %zu records acknowledged in %.2f s; daemon %.2f CPU s, client %.2f CPU s\n", total,
            t1 - t0, cpu_d, cpu_c);
    fprintf(stderr, "bench_ingest: the daemon's CPU by thread: loop %.2f s, store %.2f s, others (checkpoints) %.2f s\n",
            th1.loop - th0.loop, th1.store - th0.store, th1.other - th0.other);
    fprintf(stderr, "bench_ingest: the first fifth of the batches acknowledged in %.3f s, the middle three in %.3f s, the last"
            " fifth in %.3f s\n", t_fifth - t0, t_four_fifths - t_fifth, t1 - t_four_fifths);
    int rounds = (int)env_long("TS_BENCH_ROUNDS", 3);
    double upsert = sqlite_upsert_rps(dir, rows, nrows, rounds);
    double upsert_sorted = sqlite_upsert_rps(dir, sorted, nrows, rounds);
    printf("BENCH daemon_ingest_rps %.0f records/s\n", ingest);
    printf("BENCH sqlite_upsert_rps %.0f rows/s\n", upsert);
    printf("BENCH sqlite_upsert_key_order_rps %.0f rows/s\n", upsert_sorted);
    printf("BENCH daemon_ingest_ratio %.2f ratio\n", ingest / upsert);
    printf("BENCH daemon_ingest_cpu_s %.2f s (%.1f us/record)\n", cpu_d, cpu_d * 1e6 / (double)total);
    printf("BENCH client_cpu_s %.2f s\n", cpu_c);
    printf("BENCH daemon_store_thread_us_per_record %.1f us\n", (th1.store - th0.store) * 1e6 / (double)total);
    for (size_t i = 0; i < nrows; i++) {
        free(rows[i].key);
        free(rows[i].vv);
        free(rows[i].fields);
        free(sorted[i].key);
        free(sorted[i].vv);
        free(sorted[i].fields);
    }
    free(rows);
    free(sorted);
    for (long i = 0; i < nst; i++) {
        for (int f = 0; f < st[i].nframes; f++)
            ts_buf_free(&st[i].frames[f]);
        free(st[i].frames);
    }
    ts_test_daemon_free(&d);
    ts_test_pki_free(&pki);
    ts_tmpdir_remove(dir);
    free(ddb);
    free(level);
    free(st);
    free(codes);
    return 0;
}
