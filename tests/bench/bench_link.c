/* Sync over a slow link (`make bench ONLY=link`): the release daemon and a
 * real station agent (`tramsync run`) over mutual TLS, with the link
 * emulator of tests/support/ts_test_link.c between them, set to the rural
 * profile (2 Mbit/s down, 512 kbit/s up, 150 ms each way, 64/32 KiB
 * bottleneck buffers).
 *
 *   link_first_sync_lockstep_s, link_first_sync_lockstep_util  the first sync
 *                              below with sync.pull_stream=false: one PULL, one
 *                              page, one round trip (the baseline, same run)
 *   link_first_sync_s          a fresh station pulling the TS_BENCH_LINK_FIRST
 *                              (default 20,000) residents the district holds
 *                              for it, from starting the agent (TLS handshake
 *                              included) until its cursor reaches the end
 *   link_first_sync_util       bytes delivered downstream x 8 / (2 Mbit/s x
 *                              that time): how much of the link the transfer
 *                              used (goal >= 0.8)
 *   link_push_s, link_push_util  the same for a station pushing
 *                              TS_BENCH_LINK_PUSH (default 2,000) pending
 *                              residents, until the district holds them all,
 *                              against 512 kbit/s upstream: a station that
 *                              synced before (back after days offline), so
 *                              its first PUSH goes right behind HELLO
 *   link_push_first_contact_s, _util  the same by a station that never
 *                              synced: its PUSH waits for WELCOME
 *   link_cut_half_resent_bytes the first sync again, the link reset both ways
 *                              once half of the uncut run's bytes went down: the
 *                              bytes delivered beyond the uncut run's (the page
 *                              being received when cut, the new handshake and
 *                              HELLO) (goal: at most one page)
 *   link_cut_random_resent_bytes  the same with TS_BENCH_LINK_CUTS (default 3)
 *                              cuts at random points (seeded) in one first sync,
 *                              per cut
 *   link_cut_at_<pct>_resent_bytes  one first sync per cut, each cut alone at a
 *                              random point (seeded; <pct>: where, in % of the
 *                              uncut run's bytes): the bytes re-sent after each
 *   link_page_bytes            one page's bytes (the uncut run's bytes per page
 *                              of sync.pull_page = TS_BENCH_LINK_PAGE, default
 *                              1,000, changes), what the goal is measured against
 *
 * Output: "BENCH <name> <value> <unit>"; notes on stderr. TS_BENCH_PROTO caps
 * the protocol version the agent offers, TS_BENCH_COMPRESS=0 turns frame
 * compression off; TS_KEEP_TMP=1 keeps the directory. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "tests/support/ts_test_link.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_records.h"
#include "tests/support/ts_test_station.h"


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

/* One integer from a database opened read-only now; -1 when unreadable. */
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

typedef struct run {
    double secs;
    unsigned long long down, up;
    int conns, cuts;
} run;

typedef struct env {
    char *dir;
    ts_test_pki *pki;
    ts_test_link *link;
} env;

/* A fresh replica of station "link" pulling until its cursor reaches
 * end_seq; `cuts` cuts, the first at first_cut bytes down (0: random), the
 * others at random points in the rest of `full` bytes. */
static run first_sync(const env *e, const char *tag, const char *const *sets, long long end_seq, int cuts,
                      long long first_cut, unsigned long long full, unsigned int *rnd)
{
    char *base = ts_xasprintf("%s/%s", e->dir, tag);
    mkdir(base, 0700);
    ts_test_station st;
    ts_test_station_make(&st, base, "link", e->pki, e->link->port, sets);
    char *db = ts_xasprintf("%s/station.db", st.dir);
    run r = {0, 0, 0, 0, 0};
    unsigned long long d0 = atomic_load(&e->link->bytes_down), u0 = atomic_load(&e->link->bytes_up);
    int a0 = atomic_load(&e->link->accepted), c0 = atomic_load(&e->link->cuts);
    int armed = 0;
    if (cuts > 0) {
        ts_test_link_cut_after(e->link, first_cut > 0 ? first_cut : (long long)(full / 10 + rand_r(rnd) % (full / 3)));
        armed = 1;
    }
    double t0 = now_s(), deadline = t0 + 900;
    ts_test_station_start(&st);
    long long cursor = 0;
    while ((cursor = file_int(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'pull_cursor'")) < end_seq &&
           now_s() < deadline) {
        int cut_now = atomic_load(&e->link->cuts) - c0;
        if (cut_now == armed && armed < cuts) {
            /* the next cut somewhere in what is left */
            unsigned long long done = atomic_load(&e->link->bytes_down) - d0;
            unsigned long long left = full > done ? full - done : full / 10;
            ts_test_link_cut_after(e->link, (long long)(left / 10 + rand_r(rnd) % (left / 2 + 1)));
            armed++;
        }
        ts_test_sleep_ms(20);
    }
    r.secs = now_s() - t0;
    ts_test_link_cut_after(e->link, -1);
    r.down = atomic_load(&e->link->bytes_down) - d0;
    r.up = atomic_load(&e->link->bytes_up) - u0;
    r.conns = atomic_load(&e->link->accepted) - a0;
    r.cuts = atomic_load(&e->link->cuts) - c0;
    ts_test_station_stop(&st, 20000);
    if (cursor < end_seq) {
        fprintf(stderr, "bench_link: %s: cursor %lld of %lld after %.0f s\n", tag, cursor, end_seq, r.secs);
        ts_test_log_tail(st.log, 30);
        exit(1);
    }
    ts_test_station_free(&st);
    free(db);
    free(base);
    return r;
}

/* npush residents pending at station `code`, pushed over the link: the
 * seconds from starting the agent until the district holds them all, and
 * the seconds the link needs for the bytes that went up. `returning`: the
 * station synced once before (with nothing to push), as one back after days
 * offline; else this is its first contact with the district. */
static int push_run(env *e, const char *ddb, ts_registry *reg, const char *code, const char *const *sets, long npush,
                    bool returning, double *push_s, double *need_up)
{
    ts_test_station ps;
    ts_test_station_make(&ps, e->dir, code, e->pki, e->link->port, sets);
    if (returning) {
        ts_test_station_start(&ps);
        bool ok = ts_test_log_wait(ps.log, "event=connected ", 60000);
        ts_test_station_stop(&ps, 20000);
        if (!ok) {
            fprintf(stderr, "bench_link: %s did not connect\n", code);
            return -1;
        }
    }
    char *pdb = ts_xasprintf("%s/station.db", ps.dir);
    ts_store *pst = ts_test_store_open(pdb, TS_ROLE_STATION, code, reg, false, false);
    ts_test_fill(pst, NULL, code, code, (uint32_t)npush, (uint32_t)npush);
    ts_store_close(pst);
    long long seq0 = file_int(ddb, "SELECT value FROM meta WHERE key = 'seq'");
    unsigned long long u0 = atomic_load(&e->link->bytes_up);
    double t0 = now_s(), deadline = t0 + 600;
    ts_test_station_start(&ps);
    /* every resident (the agent's own status record may come in the same
     * batches, so the district's sequence alone does not say) */
    char *q = ts_xasprintf("SELECT count(*) FROM records WHERE owner = '%s' AND tbl = 'residents'", code);
    long long got = 0;
    while (now_s() < deadline) {
        if (file_int(ddb, "SELECT value FROM meta WHERE key = 'seq'") - seq0 >= npush && (got = file_int(ddb, q)) >= npush)
            break;
        ts_test_sleep_ms(20);
    }
    *push_s = now_s() - t0;
    unsigned long long up = atomic_load(&e->link->bytes_up) - u0;
    free(q);
    ts_test_station_stop(&ps, 20000);
    ts_test_station_free(&ps);
    free(pdb);
    if (got != npush) {
        fprintf(stderr, "bench_link: push: %lld of %ld records at the district\n", got, npush);
        return -1;
    }
    *need_up = (double)up * 8.0 / (double)e->link->prof.up.bps;
    fprintf(stderr, "bench_link: %s push %.2f s, %llu bytes up (%.2f s at the link's rate)\n",
            returning ? "returning" : "first-contact", *push_s, up, *need_up);
    return 0;
}

int main(void)
{
    long nfirst = env_long("TS_BENCH_LINK_FIRST", 20000), npush = env_long("TS_BENCH_LINK_PUSH", 2000);
    int ncuts = (int)env_long("TS_BENCH_LINK_CUTS", 3);
    long page_n = env_long("TS_BENCH_LINK_PAGE", 1000);
    if (page_n < 1 || nfirst < page_n || npush < 1 || ncuts < 1) {
        fprintf(stderr, "bench_link: bad TS_BENCH_LINK_FIRST / _PUSH / _CUTS\n");
        return 1;
    }
    ts_registry reg;
    ts_error err;
    if (ts_registry_load_default(&reg, &err) < 0) {
        fprintf(stderr, "bench_link: registry: %s\n", err.msg);
        return 1;
    }
    char *dir = ts_tmpdir_make("bench-link");
    const char *codes[] = {"link", "linkpush", "linkfirst"};
    ts_test_pki pki;
    ts_test_pki_make(&pki, dir, codes, 3);
    char *proto_set = ts_xasprintf("sync.proto_max=%ld", env_long("TS_BENCH_PROTO", TS_PROTO_VERSION_MAX));
    char *page_set = ts_xasprintf("sync.pull_page=%ld", page_n);
    /* TS_BENCH_COMPRESS=0: no frame compression offered (the default offers it) */
    const char *zset = env_long("TS_BENCH_COMPRESS", 1) ? "sync.compress=true" : "sync.compress=false";
    const char *sets[] = {"station.log_level=info", proto_set, page_set, zset, "sync.pull_stream=true", NULL};
    const char *lock_sets[] = {"station.log_level=info", proto_set, page_set, zset, "sync.pull_stream=false", NULL};

    /* the district holds nfirst residents of station "link" */
    char *ddb = ts_xasprintf("%s/district.db", dir);
    ts_store *srv = ts_test_store_open(ddb, TS_ROLE_SERVER, NULL, &reg, true, false);
    ts_test_fill(srv, "link", "LK", "link", (uint32_t)nfirst, 10000);
    ts_store_close(srv);
    long long end_seq = file_int(ddb, "SELECT max(seq) FROM records");
    const char *dsets[] = {"server.log_level=info", NULL};
    ts_test_daemon d;
    ts_test_daemon_start(&d, dir, &pki, dsets);
    ts_test_link_profile prof;
    ts_test_link_rural(&prof);
    ts_test_link link;
    ts_test_link_start(&link, d.port, &prof);
    env e = {dir, &pki, &link};
    unsigned int rnd = 20;
    fprintf(stderr, "bench_link: %ld records at the district, rural link on port %d\n", nfirst, link.port);

    /* the same without streamed pages (one PULL, one page, one round trip) */
    run lock = first_sync(&e, "lockstep", lock_sets, end_seq, 0, 0, 0, &rnd);
    fprintf(stderr, "bench_link: first sync, one page per PULL: %.2f s, %llu bytes down\n", lock.secs, lock.down);
    printf("BENCH link_first_sync_lockstep_s %.2f s\n", lock.secs);
    printf("BENCH link_first_sync_lockstep_util %.2f ratio\n",
           (double)lock.down * 8.0 / (double)prof.down.bps / lock.secs);
    fflush(stdout);
    run full = first_sync(&e, "first", sets, end_seq, 0, 0, 0, &rnd);
    double need = (double)full.down * 8.0 / (double)prof.down.bps;
    fprintf(stderr, "bench_link: first sync %.2f s, %llu bytes down (%.2f s at the link's rate), %llu up\n",
            full.secs, full.down, need, full.up);
    printf("BENCH link_first_sync_s %.2f s\n", full.secs);
    printf("BENCH link_first_sync_util %.2f ratio\n", need / full.secs);
    double page = (double)full.down / ((double)nfirst / (double)page_n);
    printf("BENCH link_page_bytes %.0f bytes\n", page);
    fflush(stdout);

    run half = first_sync(&e, "half", sets, end_seq, 1, (long long)(full.down / 2), full.down, &rnd);
    fprintf(stderr, "bench_link: cut at half: %d cut(s), %d connections, %llu bytes down in %.1f s\n", half.cuts,
            half.conns, half.down, half.secs);
    long long resent = (long long)half.down - (long long)full.down;
    printf("BENCH link_cut_half_resent_bytes %lld bytes\n", resent);
    run rndc = first_sync(&e, "random", sets, end_seq, ncuts, 0, full.down, &rnd);
    fprintf(stderr, "bench_link: random cuts: %d cut(s), %d connections, %llu bytes down in %.1f s\n", rndc.cuts,
            rndc.conns, rndc.down, rndc.secs);
    long long resent_r = rndc.cuts ? ((long long)rndc.down - (long long)full.down) / rndc.cuts : 0;
    printf("BENCH link_cut_random_resent_bytes %lld bytes\n", resent_r);
    /* and each cut alone, so that each one's cost shows */
    for (int k = 0; k < ncuts; k++) {
        long long at = (long long)(full.down / 20 + (unsigned long long)rand_r(&rnd) % (full.down * 9 / 10));
        char tag[32];
        snprintf(tag, sizeof tag, "single-%d", k);
        run one = first_sync(&e, tag, sets, end_seq, 1, at, full.down, &rnd);
        printf("BENCH link_cut_at_%.0f_resent_bytes %lld bytes\n", 100.0 * (double)at / (double)full.down,
               (long long)one.down - (long long)full.down);
        fflush(stdout);
    }
    fflush(stdout);

    /* a push by a station back after days offline (it synced before, so it
     * sends its first PUSH right behind HELLO), then by one that never synced */
    double push_s, need_up;
    if (push_run(&e, ddb, &reg, "linkpush", sets, npush, true, &push_s, &need_up) < 0)
        return 1;
    printf("BENCH link_push_s %.2f s\n", push_s);
    printf("BENCH link_push_util %.2f ratio\n", need_up / push_s);
    fflush(stdout);
    if (push_run(&e, ddb, &reg, "linkfirst", sets, npush, false, &push_s, &need_up) < 0)
        return 1;
    printf("BENCH link_push_first_contact_s %.2f s\n", push_s);
    printf("BENCH link_push_first_contact_util %.2f ratio\n", need_up / push_s);
    fflush(stdout);

    ts_test_link_stop(&link);
    ts_test_daemon_stop(&d, SIGTERM, 60000);
    ts_test_daemon_free(&d);
    ts_test_pki_free(&pki);
    ts_tmpdir_remove(dir);
    free(ddb);
    free(proto_set);
    free(page_set);
    ts_registry_free(&reg);
    return 0;
}
