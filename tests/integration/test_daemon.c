/* tramsyncd end to end: the real daemon (the ASan build) on 127.0.0.1, real
 * mutual TLS 1.3, stations played by the blocking test client. Each test
 * starts its own daemon in its own temporary directory and stops it; a test
 * that overruns TEST_LIMIT_S kills its daemon and the binary exits.
 *
 *  1. push/pull between two stations, visibility, live CHANGES
 *  2. a station cannot read or write another station's records (every message type)
 *  3. handshakes refused: no/foreign/expired/not-yet-valid/revoked certificate,
 *     plaintext, TLS 1.1, admin certificate
 *  4. malformed frames over TLS: precise ERROR codes, closed sessions, bounded memory,
 *     a well-behaved station keeps syncing meanwhile
 *  5. slow clients: byte-by-byte senders; a station that never reads
 *  6. SIGHUP with a new CRL cuts a revoked station off at its next handshake
 *  7. SIGTERM drains: BYE, close_notify, exit 0, nothing acknowledged is lost
 *  8. a restored station (change counter went back) is told to rekey
 *  9. a second session of the same station replaces the first
 * 10. what sessions tell the district is kept (station_status); pending notices
 *     come right after WELCOME, most urgent first
 *
 * The daemon inherits ASAN_OPTIONS with a small quarantine (see main) so that
 * its RSS reflects what it holds, not what ASan keeps for use-after-free checks. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/ts_hlc.h"
#include "common/ts_mp.h"
#include "common/ts_store.h"
#include "common/ts_version.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_store.h"

#define TEST_LIMIT_S 150

#define BN "binhnguyen"
#define XL "xuanlang"
#define BN_RID "binhnguyen.00000000000000b1"
#define XL_RID "xuanlang.00000000000000c1"

/* ---------------------------------------------------------------- environment */

typedef struct worker worker;

typedef struct env {
    char *dir;
    ts_test_pki pki;
    bool pki_made;
    ts_test_daemon d;
    uint64_t started_ms;
    worker *worker; /* a well-behaved station thread, stopped by teardown if still running */
    bool passed;
} env;

static void worker_stop(worker *w);

static env *volatile g_env;

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_daemon: a test ran past its time limit; its daemon was killed\n";
    env *e = g_env;
    if (e != NULL && e->d.pid > 0)
        kill(e->d.pid, SIGKILL);
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(99);
}

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("daemon");
    g_env = e;
    signal(SIGALRM, on_alarm);
    alarm(TEST_LIMIT_S);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    alarm(0);
    if (e->worker != NULL) {
        worker_stop(e->worker);
        free(e->worker);
    }
    if (!e->passed)
        ts_test_log_tail(e->d.log, 60);
    ts_test_daemon_free(&e->d); /* kills it if it still runs */
    if (e->pki_made)
        ts_test_pki_free(&e->pki);
    ts_tmpdir_remove(e->dir);
    g_env = NULL;
    free(e);
    return 0;
}

static void env_pki(env *e, const char *const *stations, size_t n)
{
    ts_test_pki_make(&e->pki, e->dir, stations, n);
    e->pki_made = true;
}

static void env_start(env *e, const char *const *sets)
{
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);
    e->started_ms = ts_test_now_ms();
}

/* The daemon's RSS once it stops moving by itself: background work it does
 * soon after start (e.g. computing the console's figures) must not count
 * against what the clients of a test make it hold. */
static long rss_settled(const env *e)
{
    while (ts_test_now_ms() - e->started_ms < 3000)
        ts_test_sleep_ms(100);
    long prev = ts_test_rss_kb(e->d.pid);
    int stable = 0;
    for (int i = 0; i < 60 && stable < 4; i++) {
        ts_test_sleep_ms(250);
        long cur = ts_test_rss_kb(e->d.pid);
        stable = labs(cur - prev) < 256 ? stable + 1 : 0;
        prev = cur;
    }
    return prev;
}

static char *db_path(const env *e)
{
    return ts_xasprintf("%s/district.db", e->dir);
}

/* Waits until the daemon exits on its own (after a signal already sent). */
static int wait_exit(env *e, int timeout_ms)
{
    return ts_test_daemon_stop(&e->d, 0, timeout_ms);
}

/* Waits until `needle` occurs more than `before` times in the log. */
static bool log_count_above(const env *e, const char *needle, int before, int timeout_ms)
{
    for (int waited = 0;; waited += 20) {
        if (ts_test_file_count(e->d.log, needle) > before)
            return true;
        if (waited >= timeout_ms)
            return false;
        ts_test_sleep_ms(20);
    }
}

/* ---------------------------------------------------------------- clients */

static int tc_open(env *e, ts_tc *c, const char *code, int max_version)
{
    char *cert = code ? ts_test_pki_cert(&e->pki, code) : NULL;
    char *key = code ? ts_test_pki_key(&e->pki, code) : NULL;
    ts_tc_opts o = {cert, key, e->pki.ca, max_version, 0};
    int rc = ts_tc_connect(c, e->d.port, &o);
    free(cert);
    free(key);
    return rc;
}

static void tc_station(env *e, ts_tc *c, const char *code)
{
    if (tc_open(e, c, code, 0) < 0)
        fail_msg("TLS connect as %s: %s", code, c->error);
}

/* 1: WELCOME in *reply; 0: another message in *reply; -1: closed or silent. */
static int hello_ex(ts_tc *c, const char *station, const char *replica, uint64_t lseq, bool live, ts_msg *reply)
{
    ts_msg m;
    ts_msg_init(&m, TS_MSG_HELLO);
    ts_msg_hello *h = &m.u.hello;
    h->proto_min = TS_PROTO_VERSION_MIN;
    h->proto_max = TS_PROTO_VERSION_MAX;
    h->agent = "tramsync-test/" TS_VERSION;
    h->replica = replica;
    h->station = station;
    h->server_db = "";
    h->lseq = lseq;
    h->time = ts_wall_ms();
    h->live = live;
    int rc = ts_tc_send(c, &m);
    ts_msg_free(&m);
    if (rc < 0)
        return -1;
    if (ts_tc_recv(c, reply, 10000) != 1)
        return -1;
    return reply->type == TS_MSG_WELCOME ? 1 : 0;
}

static void hello_ok(ts_tc *c, const char *station, const char *replica, uint64_t lseq)
{
    ts_msg w;
    int rc = hello_ex(c, station, replica, lseq, true, &w);
    if (rc < 0)
        fail_msg("HELLO as %s: no answer (%s)", station, c->error);
    if (rc == 0) {
        char why[300];
        snprintf(why, sizeof why, "%s %s", ts_msg_type_name(w.type),
                 w.type == TS_MSG_ERROR ? w.u.error.message : "");
        ts_msg_free(&w);
        fail_msg("HELLO as %s: expected WELCOME, got %s", station, why);
    }
    assert_string_equal(w.u.welcome.station, station);
    assert_false(w.u.welcome.rekey);
    ts_msg_free(&w);
}

/* Receives until a reply of type `want` (CHANGES: not a live one) or an
 * ERROR; live CHANGES and anything else are skipped. 1/0/-1 as ts_tc_recv. */
static int recv_reply(ts_tc *c, ts_msg_type want, ts_msg *out, int timeout_ms)
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t now = ts_test_now_ms();
        if (now >= end)
            return 0;
        int rc = ts_tc_recv(c, out, (int)(end - now));
        if (rc <= 0)
            return rc;
        if (out->type == TS_MSG_ERROR)
            return 1;
        if (out->type == want && !(want == TS_MSG_CHANGES && out->u.changes.live))
            return 1;
        ts_msg_free(out);
    }
}

/* Expects an ERROR with `code` (a TS_E* value) and then the end of the session. */
static void expect_error_and_close(ts_tc *c, int code, const char *what)
{
    ts_msg m;
    int rc = ts_tc_expect(c, TS_MSG_ERROR, &m, 10000);
    if (rc != 1)
        fail_msg("%s: expected ERROR %s, got %s (%s)", what, ts_err_name(code), rc == 0 ? "nothing" : "a closed session",
                 c->error);
    if (m.u.error.code != (uint64_t)-code) {
        char got[300];
        snprintf(got, sizeof got, "%llu %s: %s", (unsigned long long)m.u.error.code, m.u.error.name,
                 m.u.error.message);
        ts_msg_free(&m);
        fail_msg("%s: expected ERROR %d %s, got %s", what, -code, ts_err_name(code), got);
    }
    assert_string_equal(m.u.error.name, ts_err_name(code));
    assert_true(m.u.error.fatal);
    ts_msg_free(&m);
    /* nothing more is served: the next read sees the end of the session */
    ts_msg more;
    rc = ts_tc_recv(c, &more, 5000);
    if (rc == 1) {
        ts_msg_type t = more.type;
        ts_msg_free(&more);
        fail_msg("%s: session still served after a fatal ERROR (%s)", what, ts_msg_type_name(t));
    }
    if (rc == 0)
        fail_msg("%s: session not closed within 5 s of a fatal ERROR", what);
}

static void ping_ok(ts_tc *c, uint64_t nonce)
{
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PING);
    m.u.ping.nonce = nonce;
    assert_int_equal(ts_tc_send(c, &m), 0);
    ts_msg_free(&m);
    ts_msg pong;
    if (ts_tc_expect(c, TS_MSG_PONG, &pong, 10000) != 1)
        fail_msg("no PONG for nonce %llu: %s", (unsigned long long)nonce, c->error);
    assert_int_equal(pong.u.ping.nonce, nonce);
    ts_msg_free(&pong);
}

/* ---------------------------------------------------------------- records */

static uint64_t hlc_now(void)
{
    return TS_HLC_MAKE(ts_wall_ms(), 0);
}

/* Sends a PUSH and waits for its PUSH_ACK (fails on anything else). */
static void push_msg(ts_tc *c, const ts_msg *push, ts_msg *ack)
{
    assert_int_equal(ts_tc_send(c, push), 0);
    int rc = recv_reply(c, TS_MSG_PUSH_ACK, ack, 10000);
    if (rc != 1)
        fail_msg("no PUSH_ACK for batch %llu (%s)", (unsigned long long)push->u.push.batch, c->error);
    if (ack->type != TS_MSG_PUSH_ACK) {
        char why[300];
        snprintf(why, sizeof why, "%s", ack->u.error.message);
        ts_msg_free(ack);
        fail_msg("PUSH answered by ERROR: %s", why);
    }
    assert_int_equal(ack->u.push_ack.batch, push->u.push.batch);
}

static void push_resident(ts_tc *c, uint64_t batch, const char *id, const char *owner, const char *rid,
                          uint64_t lseq, ts_msg *ack)
{
    ts_msg p;
    ts_msg_init(&p, TS_MSG_PUSH);
    p.u.push.batch = batch;
    ts_change *ch = ts_msg_alloc_changes(&p, &p.u.push.changes, 1);
    ts_tc_make_resident(&p, ch, id, owner, rid, 1, lseq, "Nguyễn Thị Lan");
    push_msg(c, &p, ack);
    ts_msg_free(&p);
}

static void expect_outcome(const ts_msg *ack, uint32_t i, ts_outcome want, const char *what)
{
    if (ack->u.push_ack.code != 0)
        fail_msg("%s: change set refused whole: %s", what, ack->u.push_ack.message);
    assert_true(i < ack->u.push_ack.nresults);
    const ts_push_result *r = &ack->u.push_ack.results[i];
    if (r->outcome != want)
        fail_msg("%s: outcome %s (%s), expected %s", what, ts_outcome_name(r->outcome), r->reason ? r->reason : "",
                 ts_outcome_name(want));
}

static void push_resident_ok(ts_tc *c, uint64_t batch, const char *id, const char *owner, const char *rid,
                             uint64_t lseq)
{
    ts_msg ack;
    push_resident(c, batch, id, owner, rid, lseq, &ack);
    expect_outcome(&ack, 0, TS_OUTCOME_APPLIED, id);
    ts_msg_free(&ack);
}

/* Every page of a pull, kept so tests can look at what came. */
typedef struct pulled {
    ts_msg *pages;
    size_t n;
    uint64_t cursor;
} pulled;

static void pull_all(ts_tc *c, uint64_t since, pulled *p)
{
    memset(p, 0, sizeof *p);
    for (int guard = 0; guard < 1000; guard++) {
        ts_msg m;
        ts_msg_init(&m, TS_MSG_PULL);
        m.u.pull.since = since;
        assert_int_equal(ts_tc_send(c, &m), 0);
        ts_msg_free(&m);
        ts_msg r;
        if (recv_reply(c, TS_MSG_CHANGES, &r, 10000) != 1)
            fail_msg("no CHANGES for PULL since %llu (%s)", (unsigned long long)since, c->error);
        if (r.type == TS_MSG_ERROR) {
            char why[300];
            snprintf(why, sizeof why, "%s", r.u.error.message);
            ts_msg_free(&r);
            fail_msg("PULL answered by ERROR: %s", why);
        }
        p->pages = ts_xreallocarray(p->pages, p->n + 1, sizeof *p->pages);
        p->pages[p->n++] = r;
        since = p->cursor = r.u.changes.cursor;
        if (!r.u.changes.more)
            return;
    }
    fail_msg("PULL never ended");
}

static const ts_change *pulled_find(const pulled *p, const char *table, const char *id)
{
    const ts_change *found = NULL;
    for (size_t i = 0; i < p->n; i++) {
        const ts_change_list *l = &p->pages[i].u.changes.changes;
        for (uint32_t k = 0; k < l->n; k++)
            if (strcmp(l->items[k].table, table) == 0 && strcmp(l->items[k].id, id) == 0)
                found = &l->items[k];
    }
    return found;
}

static size_t pulled_count(const pulled *p, const char *table, const char *owner)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        const ts_change_list *l = &p->pages[i].u.changes.changes;
        for (uint32_t k = 0; k < l->n; k++)
            if ((table == NULL || strcmp(l->items[k].table, table) == 0) &&
                (owner == NULL || strcmp(l->items[k].owner, owner) == 0))
                n++;
    }
    return n;
}

static void pulled_free(pulled *p)
{
    for (size_t i = 0; i < p->n; i++)
        ts_msg_free(&p->pages[i]);
    free(p->pages);
    memset(p, 0, sizeof *p);
}

/* ---------------------------------------------------------------- district data */

#define PUT(st, table, id, ...)                                                         \
    do {                                                                                \
        ts_error err_;                                                                  \
        if (ts_test_put(st, table, id, NULL, &err_, __VA_ARGS__, (const char *)NULL) < 0) \
            fail_msg("district put %s/%s: %s", table, id, err_.msg);                    \
    } while (0)

static ts_store *district_open(env *e)
{
    return ts_test_open(e->dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
}

static void seed_notice(ts_store *st, const char *id, const char *recipients)
{
    char rec[200];
    snprintf(rec, sizeof rec, "recipients=%s", recipients);
    PUT(st, "notices", id, "number=45/TB-TTYT", "doc_type=thong_bao", "issuer=TTYT khu vực Bình Xuyên",
        "issue_date=2025-11-20", "subject=Phòng chống sốt xuất huyết", "category=prevention", "urgency=khan", rec);
}

static void seed_directory(ts_store *st, const char *code, const char *commune)
{
    char name[200], com[200];
    snprintf(name, sizeof name, "name=Trạm Y tế xã %s", commune);
    snprintf(com, sizeof com, "commune=%s", commune);
    PUT(st, "stations", code, name, com);
}

/* A count from the district database (opened read-only: the daemon is stopped). */
static long sql_count(const env *e, const char *sql)
{
    return ts_test_sql_count(e->dir, "district.db", sql);
}

/* ================================================================ 1. push and pull */

static void test_push_pull_visibility_live(void **state)
{
    env *e = *state;
    const char *codes[] = {BN, XL};
    env_pki(e, codes, 2);
    ts_store *st = district_open(e);
    seed_directory(st, BN, "Bình Nguyên");
    seed_directory(st, XL, "Xuân Lãng");
    seed_notice(st, "n-xl", "[xuanlang]");
    seed_notice(st, "n-bn", "[binhnguyen]");
    PUT(st, "outbreaks", "ob-1", "disease=Sốt xuất huyết", "stations=[binhnguyen,xuanlang]", "status=detected");
    ts_store_close(st);
    env_start(e, NULL);

    ts_tc bn, xl;
    tc_station(e, &bn, BN);
    tc_station(e, &xl, XL);
    hello_ok(&bn, BN, BN_RID, 0);
    hello_ok(&xl, XL, XL_RID, 0);
    push_resident_ok(&bn, 1, "bn-r1", BN, BN_RID, 1);
    push_resident_ok(&bn, 2, "bn-r2", BN, BN_RID, 2);
    push_resident_ok(&xl, 1, "xl-r1", XL, XL_RID, 1);

    pulled bp, xp;
    pull_all(&bn, 0, &bp);
    pull_all(&xl, 0, &xp);
    /* its own residents are not echoed, the other station's never come */
    assert_int_equal(pulled_count(&bp, "residents", NULL), 0);
    assert_int_equal(pulled_count(&xp, "residents", NULL), 0);
    assert_int_equal(pulled_count(&bp, NULL, XL), 0);
    assert_int_equal(pulled_count(&xp, NULL, BN), 0);
    /* the directory (audience all) reaches both */
    assert_non_null(pulled_find(&bp, "stations", BN));
    assert_non_null(pulled_find(&bp, "stations", XL));
    assert_non_null(pulled_find(&xp, "stations", BN));
    assert_non_null(pulled_find(&xp, "stations", XL));
    /* each notice only its recipient */
    assert_non_null(pulled_find(&xp, "notices", "n-xl"));
    assert_null(pulled_find(&xp, "notices", "n-bn"));
    assert_non_null(pulled_find(&bp, "notices", "n-bn"));
    assert_null(pulled_find(&bp, "notices", "n-xl"));
    /* the shared outbreak both */
    assert_non_null(pulled_find(&bp, "outbreaks", "ob-1"));
    const ts_change *ob = pulled_find(&xp, "outbreaks", "ob-1");
    assert_non_null(ob);
    assert_string_equal(ob->owner, "district");
    /* and of those tables nothing else (the daemon may hold district data of its own, e.g. plan tasks) */
    assert_int_equal(pulled_count(&bp, "notices", NULL), 1);
    assert_int_equal(pulled_count(&xp, "notices", NULL), 1);
    assert_int_equal(pulled_count(&bp, "stations", NULL), 2);
    assert_int_equal(pulled_count(&xp, "stations", NULL), 2);
    assert_int_equal(pulled_count(&bp, "outbreaks", NULL), 1);

    /* live: binhnguyen is caught up (more=false); xuanlang updates the shared
     * outbreak (a station-writable field, on top of the version it pulled) */
    ts_msg p;
    ts_msg_init(&p, TS_MSG_PUSH);
    p.u.push.batch = 2;
    ts_change *ch = ts_msg_alloc_changes(&p, &p.u.push.changes, 1);
    ch->table = "outbreaks";
    ch->id = "ob-1";
    ch->owner = ts_msg_strdup(&p, ob->owner);
    ch->lseq = 2;
    ts_version_copy(&ch->v, &ob->v, &p.arena);
    ts_rid xr;
    ts_rid_set_cstr(&xr, XL_RID);
    ts_dot dot = {xr, ts_vv_bump(&ch->v.vv, &xr)};
    ts_tc_put_int(&ch->v, &p.arena, "cases_total", 3, &dot, hlc_now());
    ts_tc_put_str(&ch->v, &p.arena, "status", "ongoing", &dot, hlc_now());
    uint64_t sent = ts_test_now_ms();
    assert_int_equal(ts_tc_send(&xl, &p), 0);
    ts_msg_free(&p);

    bool got = false;
    while (!got) {
        uint64_t waited = ts_test_now_ms() - sent;
        if (waited >= 2000)
            break;
        ts_msg m;
        int rc = ts_tc_recv(&bn, &m, (int)(2000 - waited));
        if (rc != 1)
            break;
        if (m.type == TS_MSG_CHANGES) {
            assert_true(m.u.changes.live);
            for (uint32_t k = 0; k < m.u.changes.changes.n; k++) {
                const ts_change *c = &m.u.changes.changes.items[k];
                assert_string_not_equal(c->table, "residents");
                if (strcmp(c->table, "outbreaks") == 0 && strcmp(c->id, "ob-1") == 0) {
                    const ts_field *f = ts_version_field(&c->v, "cases_total");
                    assert_non_null(f);
                    assert_true(ts_rid_eq(&f->dot.rid, &xr));
                    got = true;
                }
            }
        }
        ts_msg_free(&m);
    }
    if (!got)
        fail_msg("binhnguyen did not receive the live outbreak update within 2 s (%s)", bn.error);
    ts_msg ack;
    assert_int_equal(recv_reply(&xl, TS_MSG_PUSH_ACK, &ack, 10000), 1);
    assert_int_equal(ack.type, TS_MSG_PUSH_ACK);
    expect_outcome(&ack, 0, TS_OUTCOME_APPLIED, "outbreak update");
    ts_msg_free(&ack);

    /* and a live change for nobody else's eyes: xuanlang's next resident never reaches binhnguyen */
    push_resident_ok(&xl, 3, "xl-r2", XL, XL_RID, 3);
    ts_msg m;
    while (ts_tc_recv(&bn, &m, 700) == 1) {
        if (m.type == TS_MSG_CHANGES)
            assert_int_equal(pulled_count(&(pulled){&m, 1, 0}, "residents", NULL), 0);
        ts_msg_free(&m);
    }

    pulled_free(&bp);
    pulled_free(&xp);
    ts_tc_close(&bn);
    ts_tc_close(&xl);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 2. cross-station */

static void send_typed(ts_tc *c, ts_msg_type type)
{
    ts_msg m;
    ts_msg_init(&m, type);
    switch (type) {
    case TS_MSG_WELCOME:
        m.u.welcome.proto = 1;
        m.u.welcome.server = "district.0000000000000001";
        m.u.welcome.server_db = "db";
        m.u.welcome.station = XL;
        m.u.welcome.commune = XL;
        m.u.welcome.time = ts_wall_ms();
        m.u.welcome.max_frame = 4096;
        m.u.welcome.max_changes = 1;
        m.u.welcome.heartbeat = 60;
        break;
    case TS_MSG_CHANGES:
        ts_msg_alloc_changes(&m, &m.u.changes.changes, 0);
        m.u.changes.cursor = 1;
        break;
    case TS_MSG_PUSH_ACK:
        m.u.push_ack.batch = 1;
        m.u.push_ack.results = ts_arena_calloc(&m.arena, 1, sizeof *m.u.push_ack.results);
        break;
    case TS_MSG_NOTICE:
        m.u.notice.seq = 1;
        m.u.notice.id = "n-xl";
        m.u.notice.urgency = "khan";
        ts_msg_alloc_changes(&m, &m.u.notice.changes, 0);
        break;
    case TS_MSG_HELLO:
        m.u.hello.proto_min = m.u.hello.proto_max = 1;
        m.u.hello.agent = "tramsync-test";
        m.u.hello.replica = BN_RID;
        m.u.hello.station = BN;
        m.u.hello.server_db = "";
        break;
    default:
        break;
    }
    assert_int_equal(ts_tc_send(c, &m), 0);
    ts_msg_free(&m);
}

static void test_station_isolation(void **state)
{
    env *e = *state;
    const char *codes[] = {BN, XL};
    env_pki(e, codes, 2);
    ts_store *st = district_open(e);
    seed_notice(st, "n-xl", "[xuanlang]");
    ts_store_close(st);
    const char *sets[] = {"server.stats_interval=1s", NULL};
    env_start(e, sets);

    ts_tc xl, bn;
    tc_station(e, &xl, XL);
    hello_ok(&xl, XL, XL_RID, 0);
    push_resident_ok(&xl, 1, "xl-r1", XL, XL_RID, 1);

    /* HELLO claiming xuanlang with binhnguyen's certificate */
    tc_station(e, &bn, BN);
    ts_msg w;
    int rc = hello_ex(&bn, XL, BN_RID, 0, true, &w);
    assert_int_equal(rc, 0);
    assert_int_equal(w.type, TS_MSG_ERROR);
    assert_int_equal(w.u.error.code, (uint64_t)-TS_EFORBIDDEN);
    assert_true(w.u.error.fatal);
    ts_msg_free(&w);
    assert_int_equal(ts_tc_recv(&bn, &w, 5000), -1);
    ts_tc_close(&bn);

    tc_station(e, &bn, BN);
    hello_ok(&bn, BN, BN_RID, 0);
    ts_msg ack;
    /* a record owned by xuanlang */
    push_resident(&bn, 1, "xl-r9", XL, BN_RID, 1, &ack);
    expect_outcome(&ack, 0, TS_OUTCOME_REJECTED, "owner xuanlang");
    assert_int_equal(ack.u.push_ack.results[0].code, (uint64_t)-TS_EFORBIDDEN);
    assert_non_null(ack.u.push_ack.results[0].reason);
    assert_true(strlen(ack.u.push_ack.results[0].reason) > 10);
    ts_msg_free(&ack);
    ping_ok(&bn, 1); /* the session stays */
    /* its own owner, but an id xuanlang already holds */
    push_resident(&bn, 2, "xl-r1", BN, BN_RID, 2, &ack);
    expect_outcome(&ack, 0, TS_OUTCOME_REJECTED, "id of xuanlang");
    assert_int_equal(ack.u.push_ack.results[0].code, (uint64_t)-TS_EFORBIDDEN);
    assert_non_null(strstr(ack.u.push_ack.results[0].reason, XL));
    ts_msg_free(&ack);
    /* its own record, carrying a write (dot) of xuanlang's replica */
    push_resident(&bn, 3, "bn-r9", BN, XL_RID, 3, &ack);
    expect_outcome(&ack, 0, TS_OUTCOME_REJECTED, "dot of xuanlang");
    assert_int_equal(ack.u.push_ack.results[0].code, (uint64_t)-TS_EFORBIDDEN);
    ts_msg_free(&ack);
    /* its own dots, but a vv claiming xuanlang's writes */
    ts_msg p;
    ts_msg_init(&p, TS_MSG_PUSH);
    p.u.push.batch = 4;
    ts_change *ch = ts_msg_alloc_changes(&p, &p.u.push.changes, 2);
    ts_tc_make_resident(&p, &ch[0], "bn-r10", BN, BN_RID, 1, 4, "Trần Văn An");
    ts_rid xr;
    ts_rid_set_cstr(&xr, XL_RID);
    ts_vv_set(&ch[0].v.vv, &xr, 7);
    ts_tc_make_resident(&p, &ch[1], "bn-r11", BN, BN_RID, 1, 5, "Lê Thị Hoa"); /* a valid neighbour */
    push_msg(&bn, &p, &ack);
    ts_msg_free(&p);
    expect_outcome(&ack, 0, TS_OUTCOME_REJECTED, "vv of xuanlang");
    expect_outcome(&ack, 1, TS_OUTCOME_APPLIED, "valid neighbour");
    ts_msg_free(&ack);

    /* PULL never returns xuanlang's records nor its notice */
    pulled bp;
    pull_all(&bn, 0, &bp);
    assert_int_equal(pulled_count(&bp, NULL, XL), 0);
    assert_int_equal(pulled_count(&bp, "residents", NULL), 0);
    assert_null(pulled_find(&bp, "notices", "n-xl"));
    pulled_free(&bp);
    /* acknowledging xuanlang's notice changes nothing and is not an error */
    ts_msg na;
    ts_msg_init(&na, TS_MSG_NOTICE_ACK);
    na.u.notice_ack.seq = 1;
    na.u.notice_ack.id = "n-xl";
    assert_int_equal(ts_tc_send(&bn, &na), 0);
    ts_msg_free(&na);
    ping_ok(&bn, 2);
    pull_all(&bn, 0, &bp);
    assert_int_equal(pulled_count(&bp, NULL, XL), 0);
    assert_int_equal(pulled_count(&bp, "notices", NULL), 0);
    assert_int_equal(pulled_count(&bp, "notice_recipients", NULL), 0);
    pulled_free(&bp);
    ts_tc_close(&bn);

    /* messages only the district sends, and a second HELLO: refused, session closed */
    const ts_msg_type server_only[] = {TS_MSG_WELCOME, TS_MSG_CHANGES, TS_MSG_PUSH_ACK, TS_MSG_NOTICE, TS_MSG_HELLO};
    for (size_t i = 0; i < sizeof server_only / sizeof *server_only; i++) {
        tc_station(e, &bn, BN);
        hello_ok(&bn, BN, BN_RID, 10);
        send_typed(&bn, server_only[i]);
        char what[64];
        snprintf(what, sizeof what, "%s from a station", ts_msg_type_name(server_only[i]));
        expect_error_and_close(&bn, TS_EUNEXPECTED_MESSAGE, what);
        ts_tc_close(&bn);
    }
    /* before HELLO too */
    tc_station(e, &bn, BN);
    send_typed(&bn, TS_MSG_CHANGES);
    expect_error_and_close(&bn, TS_EUNEXPECTED_MESSAGE, "CHANGES before HELLO");
    ts_tc_close(&bn);

    /* xuanlang is untouched and still served */
    ping_ok(&xl, 3);
    ts_tc_close(&xl);
    ts_test_sleep_ms(1100); /* one more stats line */
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    assert_int_equal(ts_test_file_count(e->d.log, "sessions=1844674407"), 0); /* counter never wraps */

    assert_true(sql_count(e, "SELECT count(*) FROM audit WHERE action = 'reject' AND actor = 'binhnguyen'"
                             " AND tbl = 'residents' AND rec_id = 'xl-r9' AND outcome = 'FORBIDDEN'") >= 1);
    assert_true(sql_count(e, "SELECT count(*) FROM audit WHERE action = 'reject' AND actor = 'binhnguyen'"
                             " AND rec_id = 'xl-r1'") >= 1);
    assert_true(sql_count(e, "SELECT count(*) FROM audit WHERE action = 'reject' AND actor = 'binhnguyen'"
                             " AND rec_id = 'bn-r9'") >= 1);
    assert_true(sql_count(e, "SELECT count(*) FROM audit WHERE action = 'reject' AND actor = 'binhnguyen'"
                             " AND rec_id = 'bn-r10'") >= 1);
    /* nothing of theirs was written: xuanlang's record is still its own, the refused ids do not exist */
    assert_int_equal(sql_count(e, "SELECT count(*) FROM records WHERE tbl = 'residents' AND id = 'xl-r1'"
                                  " AND owner = 'xuanlang'"
                                  " AND origin = (SELECT '#' || num FROM replicas WHERE replica = '" XL_RID "')"),
                     1);
    assert_int_equal(sql_count(e, "SELECT count(*) FROM records WHERE id IN ('xl-r9', 'bn-r9', 'bn-r10')"), 0);
    assert_int_equal(sql_count(e, "SELECT count(*) FROM records WHERE id = 'bn-r11' AND owner = 'binhnguyen'"), 1);
    e->passed = true;
}

/* ================================================================ 3. handshakes */

typedef struct hs_case {
    const char *name;
    const char *cert; /* NULL: no certificate */
    int max_version;
    bool plaintext;
    const char *event;  /* the log event it must leave */
    const char *reason; /* and a word of its reason (NULL: any) */
    const char *kind;   /* the refusal's kind in that line (metrics label) */
} hs_case;

static void test_handshake_rejections(void **state)
{
    env *e = *state;
    const char *codes[] = {BN};
    env_pki(e, codes, 1);
    env_start(e, NULL);

    const hs_case cases[] = {
        {"no certificate", NULL, 0, false, "event=tls_handshake_failed", "peer did not return a certificate",
         "kind=no_certificate"},
        {"foreign CA", "foreign", 0, false, "event=tls_handshake_failed", "unable to get local issuer", "kind=unknown_ca"},
        {"expired", "expired", 0, false, "event=tls_handshake_failed", "certificate has expired", "kind=expired"},
        {"not yet valid", "notyet", 0, false, "event=tls_handshake_failed", "not yet valid", "kind=not_yet_valid"},
        {"revoked", "revoked", 0, false, "event=tls_handshake_failed", "certificate revoked", "kind=revoked"},
        {"plaintext", BN, 0, true, "event=tls_handshake_failed", "wrong version number", "kind=protocol"},
        {"TLS 1.1", BN, TLS1_1_VERSION, false, "event=tls_handshake_failed", "unsupported protocol", "kind=protocol"},
        {"admin certificate", "admin", 0, false, "event=tls_not_station", "ou=admin-admin", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const hs_case *k = &cases[i];
        int before = ts_test_file_count(e->d.log, k->event);
        int kind_before = k->kind ? ts_test_file_count(e->d.log, k->kind) : 0;
        ts_tc c;
        bool refused;
        if (k->plaintext) {
            assert_int_equal(ts_tc_connect_plain(&c, e->d.port), 0);
            ts_msg h;
            ts_msg_init(&h, TS_MSG_HELLO);
            h.u.hello.proto_min = h.u.hello.proto_max = 1;
            h.u.hello.agent = "plain";
            h.u.hello.replica = BN_RID;
            h.u.hello.station = BN;
            h.u.hello.server_db = "";
            ts_buf b = TS_BUF_INIT;
            ts_msg_encode(&h, &b);
            ts_msg_free(&h);
            assert_int_equal(ts_tc_send_plain(&c, b.data, b.len), 0);
            ts_buf_free(&b);
            /* what comes back is at most a TLS alert (0x15), then the end */
            uint8_t buf[4096];
            size_t got = 0;
            bool eof = false;
            uint64_t end = ts_test_now_ms() + 5000;
            while (!eof && ts_test_now_ms() < end) {
                struct pollfd pfd = {c.fd, POLLIN, 0};
                if (poll(&pfd, 1, 200) <= 0)
                    continue;
                ssize_t n = recv(c.fd, buf + got, sizeof buf - got, 0);
                if (n <= 0)
                    eof = true;
                else
                    got += (size_t)n;
            }
            if (!eof)
                fail_msg("plaintext: the connection was not closed");
            assert_true(got == 0 || buf[0] == 0x15);
            refused = true;
        } else {
            int rc = tc_open(e, &c, k->cert, k->max_version);
            refused = rc < 0 || !ts_tc_alive(&c, 3000);
        }
        ts_tc_close(&c);
        if (!refused)
            fail_msg("%s: the daemon kept the session open", k->name);
        if (!log_count_above(e, k->event, before, 5000))
            fail_msg("%s: no new %s line in the log", k->name, k->event);
        if (k->reason != NULL && ts_test_file_count(e->d.log, k->reason) == 0)
            fail_msg("%s: the log does not say \"%s\"", k->name, k->reason);
        if (k->kind != NULL && !log_count_above(e, k->kind, kind_before, 5000))
            fail_msg("%s: the refusal is not classified as %s", k->name, k->kind);

        /* the daemon keeps serving a good station */
        ts_tc g;
        tc_station(e, &g, BN);
        char rid[64];
        snprintf(rid, sizeof rid, "binhnguyen.00000000000001%02x", (unsigned)i);
        hello_ok(&g, BN, rid, 0);
        char id[32];
        snprintf(id, sizeof id, "bn-hs-%zu", i);
        push_resident_ok(&g, 1, id, BN, rid, 1);
        ts_tc_close(&g);
    }
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 4. malformed frames */

static void frame_of(ts_buf *out, const ts_buf *body)
{
    ts_buf_append_u32be(out, (uint32_t)body->len);
    ts_buf_append(out, body->data, body->len);
}

typedef void (*bad_builder)(ts_buf *out);

static void bad_oversized(ts_buf *out)
{
    ts_buf_append_u32be(out, 1u << 20); /* above server.max_frame = 64 KiB */
    uint8_t junk[256];
    memset(junk, 0x80, sizeof junk);
    ts_buf_append(out, junk, sizeof junk);
}

static void bad_http(ts_buf *out)
{
    /* unframed text: its first four bytes read as a length of 1.2 GB */
    ts_buf_append_str(out, "GET / HTTP/1.1\r\nHost: district\r\n\r\n");
}

static void bad_zero_length(ts_buf *out)
{
    ts_buf_append_u32be(out, 0);
}

static void bad_too_deep(ts_buf *out)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_map(&pk, 3);
    ts_mp_pack_cstr(&pk, "type");
    ts_mp_pack_cstr(&pk, "PING");
    ts_mp_pack_cstr(&pk, "nonce");
    msgpack_pack_uint64(&pk, 1);
    ts_mp_pack_cstr(&pk, "x");
    for (int i = 0; i < 12; i++)
        msgpack_pack_array(&pk, 1);
    msgpack_pack_uint64(&pk, 1);
    frame_of(out, &b);
    ts_buf_free(&b);
}

static void bad_wrong_type(ts_buf *out)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_map(&pk, 3);
    ts_mp_pack_cstr(&pk, "type");
    ts_mp_pack_cstr(&pk, "PUSH");
    ts_mp_pack_cstr(&pk, "batch");
    ts_mp_pack_cstr(&pk, "one");
    ts_mp_pack_cstr(&pk, "changes");
    msgpack_pack_array(&pk, 0);
    frame_of(out, &b);
    ts_buf_free(&b);
}

static void bad_garbage(ts_buf *out)
{
    static const uint8_t g[] = {0xc1, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 0x00, 0xff};
    ts_buf b = TS_BUF_INIT;
    ts_buf_append(&b, g, sizeof g);
    frame_of(out, &b);
    ts_buf_free(&b);
}

static void bad_huge_count(ts_buf *out)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_map(&pk, 3);
    ts_mp_pack_cstr(&pk, "type");
    ts_mp_pack_cstr(&pk, "PUSH");
    ts_mp_pack_cstr(&pk, "batch");
    msgpack_pack_uint64(&pk, 1);
    ts_mp_pack_cstr(&pk, "changes");
    static const uint8_t a32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x80, 0x80};
    ts_buf_append(&b, a32, sizeof a32);
    frame_of(out, &b);
    ts_buf_free(&b);
}

static void bad_unknown_type(ts_buf *out)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_map(&pk, 2);
    ts_mp_pack_cstr(&pk, "type");
    ts_mp_pack_cstr(&pk, "EXPLODE");
    ts_mp_pack_cstr(&pk, "nonce");
    msgpack_pack_uint64(&pk, 1);
    frame_of(out, &b);
    ts_buf_free(&b);
}

static void bad_trailing(ts_buf *out)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_map(&pk, 2);
    ts_mp_pack_cstr(&pk, "type");
    ts_mp_pack_cstr(&pk, "PING");
    ts_mp_pack_cstr(&pk, "nonce");
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_nil(&pk); /* a second object after the map */
    frame_of(out, &b);
    ts_buf_free(&b);
}

static void bad_missing_key(ts_buf *out)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_map(&pk, 1);
    ts_mp_pack_cstr(&pk, "type");
    ts_mp_pack_cstr(&pk, "PING");
    frame_of(out, &b);
    ts_buf_free(&b);
}

static void bad_ext(ts_buf *out)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_map(&pk, 3);
    ts_mp_pack_cstr(&pk, "type");
    ts_mp_pack_cstr(&pk, "PING");
    ts_mp_pack_cstr(&pk, "nonce");
    msgpack_pack_uint64(&pk, 1);
    ts_mp_pack_cstr(&pk, "x");
    static const uint8_t ext[] = {0xd4, 0x01, 0x00};
    ts_buf_append(&b, ext, sizeof ext);
    frame_of(out, &b);
    ts_buf_free(&b);
}

static void bad_duplicate_key(ts_buf *out)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_map(&pk, 3);
    ts_mp_pack_cstr(&pk, "type");
    ts_mp_pack_cstr(&pk, "PING");
    ts_mp_pack_cstr(&pk, "nonce");
    msgpack_pack_uint64(&pk, 1);
    ts_mp_pack_cstr(&pk, "nonce");
    msgpack_pack_uint64(&pk, 2);
    frame_of(out, &b);
    ts_buf_free(&b);
}

static void bad_utf8(ts_buf *out)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_map(&pk, 3);
    ts_mp_pack_cstr(&pk, "type");
    ts_mp_pack_cstr(&pk, "PING");
    ts_mp_pack_cstr(&pk, "nonce");
    msgpack_pack_uint64(&pk, 1);
    ts_mp_pack_cstr(&pk, "x");
    static const uint8_t s[] = {0xa3, 0xc3, 0x28, 0xff};
    ts_buf_append(&b, s, sizeof s);
    frame_of(out, &b);
    ts_buf_free(&b);
}

static void bad_long_string(ts_buf *out)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_map(&pk, 3);
    ts_mp_pack_cstr(&pk, "type");
    ts_mp_pack_cstr(&pk, "PING");
    ts_mp_pack_cstr(&pk, "nonce");
    msgpack_pack_uint64(&pk, 1);
    ts_mp_pack_cstr(&pk, "x");
    static const uint8_t s[] = {0xdb, 0x7f, 0xff, 0xff, 0xff, 'a', 'b'}; /* str32 of 2 GiB declared */
    ts_buf_append(&b, s, sizeof s);
    frame_of(out, &b);
    ts_buf_free(&b);
}

typedef struct bad_case {
    const char *name;
    bad_builder build;
    int code;
} bad_case;

static const bad_case bad_cases[] = {
    {"oversized", bad_oversized, TS_EFRAME_TOO_LARGE},
    {"unframed text", bad_http, TS_EFRAME_TOO_LARGE},
    {"zero length", bad_zero_length, TS_EMALFORMED},
    {"too deep", bad_too_deep, TS_ETOO_DEEP},
    {"wrong type", bad_wrong_type, TS_EWRONG_TYPE},
    {"garbage", bad_garbage, TS_EMALFORMED},
    {"huge count", bad_huge_count, TS_ETOO_MANY_ELEMENTS},
    {"unknown type", bad_unknown_type, TS_EUNKNOWN_MESSAGE},
    {"trailing bytes", bad_trailing, TS_ETRAILING_BYTES},
    {"missing key", bad_missing_key, TS_EMISSING_KEY},
    {"ext type", bad_ext, TS_EEXT_NOT_ALLOWED},
    {"duplicate key", bad_duplicate_key, TS_EDUPLICATE_KEY},
    {"invalid utf-8", bad_utf8, TS_EINVALID_UTF8},
    {"string too long", bad_long_string, TS_ESTRING_TOO_LONG},
};
#define NBAD (sizeof bad_cases / sizeof *bad_cases)

/* A well-behaved station in its own thread: push one record, pull, again,
 * until told to stop. No cmocka calls here: it only records. */
struct worker {
    env *e;
    const char *code;
    const char *replica;
    atomic_bool stop;
    int rounds;
    int failures;
    uint64_t max_rtt_ms;
    char error[300];
    pthread_t thread;
    bool joined;
};

static bool worker_round(worker *w, ts_tc *c, uint64_t n, uint64_t *cursor)
{
    ts_msg p;
    ts_msg_init(&p, TS_MSG_PUSH);
    p.u.push.batch = n;
    ts_change *ch = ts_msg_alloc_changes(&p, &p.u.push.changes, 1);
    char id[64];
    snprintf(id, sizeof id, "%s-w%llu", w->code, (unsigned long long)n);
    ts_tc_make_resident(&p, ch, id, w->code, w->replica, 1, n, "Phạm Văn Đức");
    int rc = ts_tc_send(c, &p);
    ts_msg_free(&p);
    ts_msg r;
    if (rc < 0 || recv_reply(c, TS_MSG_PUSH_ACK, &r, 10000) != 1) {
        snprintf(w->error, sizeof w->error, "round %llu: no PUSH_ACK (%.200s)", (unsigned long long)n, c->error);
        return false;
    }
    bool ok = r.type == TS_MSG_PUSH_ACK && r.u.push_ack.code == 0 && r.u.push_ack.nresults == 1 &&
              r.u.push_ack.results[0].outcome == TS_OUTCOME_APPLIED;
    if (!ok)
        snprintf(w->error, sizeof w->error, "round %llu: push not applied (%.200s)", (unsigned long long)n,
                 r.type == TS_MSG_ERROR ? r.u.error.message : "bad ack");
    ts_msg_free(&r);
    if (!ok)
        return false;
    ts_msg q;
    ts_msg_init(&q, TS_MSG_PULL);
    q.u.pull.since = *cursor;
    rc = ts_tc_send(c, &q);
    ts_msg_free(&q);
    if (rc < 0 || recv_reply(c, TS_MSG_CHANGES, &r, 10000) != 1 || r.type != TS_MSG_CHANGES) {
        snprintf(w->error, sizeof w->error, "round %llu: no CHANGES (%.200s)", (unsigned long long)n, c->error);
        return false;
    }
    *cursor = r.u.changes.cursor;
    ts_msg_free(&r);
    return true;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    ts_tc c;
    char *cert = ts_test_pki_cert(&w->e->pki, w->code), *key = ts_test_pki_key(&w->e->pki, w->code);
    ts_tc_opts o = {cert, key, w->e->pki.ca, 0, 0};
    int rc = ts_tc_connect(&c, w->e->d.port, &o);
    free(cert);
    free(key);
    ts_msg wm;
    int hrc = rc < 0 ? -1 : hello_ex(&c, w->code, w->replica, 0, true, &wm);
    if (hrc != 1) {
        snprintf(w->error, sizeof w->error, "connect/HELLO failed: %.200s", c.error);
        w->failures++;
        if (hrc == 0)
            ts_msg_free(&wm);
        ts_tc_close(&c);
        return NULL;
    }
    ts_msg_free(&wm);
    uint64_t cursor = 0;
    for (uint64_t n = 1; !atomic_load(&w->stop); n++) {
        uint64_t t0 = ts_test_now_ms();
        if (!worker_round(w, &c, n, &cursor)) {
            w->failures++;
            break;
        }
        uint64_t rtt = ts_test_now_ms() - t0;
        if (rtt > w->max_rtt_ms)
            w->max_rtt_ms = rtt;
        w->rounds++;
        ts_test_sleep_ms(20);
    }
    ts_tc_close(&c);
    return NULL;
}

static worker *worker_start(env *e, const char *code, const char *replica)
{
    worker *w = ts_xcalloc(1, sizeof *w);
    e->worker = w; /* teardown stops it when the test fails first */
    w->e = e;
    w->code = code;
    w->replica = replica;
    atomic_init(&w->stop, false);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        w->joined = true;
        fail_msg("pthread_create failed");
    }
    return w;
}

static void worker_stop(worker *w)
{
    if (w->joined)
        return;
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
    w->joined = true;
}

/* One hostile session: TLS, maybe HELLO, the bad bytes, then ERROR + close. */
static void bad_session(env *e, const bad_case *k, bool hello, int i)
{
    ts_tc c;
    tc_station(e, &c, BN);
    if (hello)
        hello_ok(&c, BN, BN_RID, 0);
    ts_buf b = TS_BUF_INIT;
    k->build(&b);
    assert_int_equal(ts_tc_send_raw(&c, b.data, b.len), 0);
    ts_buf_free(&b);
    char what[96];
    snprintf(what, sizeof what, "%s (session %d%s)", k->name, i, hello ? ", after HELLO" : "");
    expect_error_and_close(&c, k->code, what);
    ts_tc_close(&c);
}

static void truncated_session(env *e)
{
    ts_tc c;
    tc_station(e, &c, BN);
    ts_buf b = TS_BUF_INIT;
    ts_buf_append_u32be(&b, 100);
    ts_buf_append(&b, "\x82\xa4type\xa4PING", 11);
    assert_int_equal(ts_tc_send_raw(&c, b.data, b.len), 0);
    ts_buf_free(&b);
    ts_tc_close(&c); /* close_notify in the middle of the frame */
}

static void test_malformed_frames(void **state)
{
    env *e = *state;
    const char *codes[] = {BN, XL};
    env_pki(e, codes, 2);
    const char *sets[] = {"server.max_frame=65536", NULL};
    env_start(e, sets);
    /* 64 KiB frames cannot carry a 256 KiB attachment: said at start */
    if (!ts_test_log_wait(e->d.log, "event=max_frame_small", 5000))
        fail_msg("no max_frame_small warning with server.max_frame=65536");

    worker *w = worker_start(e, XL, XL_RID);

    /* every kind once, in a session past HELLO */
    for (size_t i = 0; i < NBAD; i++)
        bad_session(e, &bad_cases[i], true, (int)i);
    int trunc_before = ts_test_file_count(e->d.log, "event=frame_truncated");
    truncated_session(e);
    if (!log_count_above(e, "event=frame_truncated", trunc_before, 5000))
        fail_msg("a frame cut short by the end of the session was not logged");

    long rss0 = rss_settled(e);
    assert_true(rss0 > 0);
    for (int i = 0; i < 200; i++) {
        if (i % 10 == 9)
            truncated_session(e);
        else
            bad_session(e, &bad_cases[(size_t)i % NBAD], i % 3 == 0, i);
    }
    ts_test_sleep_ms(500);
    long rss1 = ts_test_rss_kb(e->d.pid);
    print_message("malformed: daemon RSS %ld KiB before, %ld KiB after 200 sessions\n", rss0, rss1);

    worker_stop(w);
    if (w->failures)
        fail_msg("the well-behaved station failed: %s", w->error);
    assert_true(w->rounds >= 10);
    print_message("malformed: the good station did %d push+pull rounds, slowest %llu ms\n", w->rounds,
                  (unsigned long long)w->max_rtt_ms);
    assert_true(rss1 - rss0 < 64 * 1024);
    assert_true(ts_test_file_count(e->d.log, "event=protocol_error") >= (int)NBAD + 180);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 5. slow clients */

static void test_slow_clients(void **state)
{
    env *e = *state;
    const char *codes[] = {BN, XL, "binhtuyen"};
    env_pki(e, codes, 3);
    /* many directory records, so that each PULL answer is large (~0.5 MB) */
    ts_store *st = district_open(e);
    char addr[320];
    memset(addr, 'x', 290);
    memcpy(addr, "address=", 8);
    addr[290] = '\0';
    for (int i = 0; i < 1000; i++) {
        char id[32], name[64];
        snprintf(id, sizeof id, "st-%04d", i);
        snprintf(name, sizeof name, "name=Trạm Y tế số %d", i);
        PUT(st, "stations", id, name, "commune=Bình Xuyên", addr);
    }
    ts_store_close(st);
    /* 20 connections of one station: this tests slow senders, not the
     * per-station limit (test_hardening does) */
    const char *sets[] = {"server.write_high_water=64KiB", "server.write_low_water=16KiB",
                          "server.handshake_timeout=2s", "server.max_station_connections=32", NULL};
    env_start(e, sets);
    /* warm up (OpenSSL and the store allocate once, on first use) */
    for (int i = 0; i < 5; i++) {
        ts_tc w;
        tc_station(e, &w, BN);
        hello_ok(&w, BN, BN_RID, 0);
        ping_ok(&w, 1);
        ts_tc_close(&w);
    }

    /* (a) byte by byte: one station past HELLO and 20 connections before
     * HELLO each send a PING one byte every 100 ms; a silent TCP connection
     * is dropped at the handshake timeout */
    long rss0 = rss_settled(e);
    enum { NSLOW = 21 };
    ts_tc slow[NSLOW];
    ts_buf bytes[NSLOW];
    for (int i = 0; i < NSLOW; i++) {
        tc_station(e, &slow[i], i == 0 ? XL : BN);
        if (i == 0)
            hello_ok(&slow[0], XL, XL_RID, 0);
        ts_msg m;
        ts_msg_init(&m, TS_MSG_PING);
        m.u.ping.nonce = 1000 + (uint64_t)i;
        ts_buf_init(&bytes[i]);
        ts_msg_encode(&m, &bytes[i]);
        ts_msg_free(&m);
    }
    ts_tc idle;
    assert_int_equal(ts_tc_connect_plain(&idle, e->d.port), 0);
    uint64_t t0 = ts_test_now_ms();
    size_t flen = bytes[0].len;
    for (size_t off = 0; off < flen; off++) {
        for (int i = 0; i < NSLOW; i++)
            if (off < bytes[i].len)
                assert_int_equal(ts_tc_send_raw(&slow[i], bytes[i].data + off, 1), 0);
        ts_test_sleep_ms(100);
    }
    for (int i = 0; i < NSLOW; i++) {
        ts_msg pong;
        if (ts_tc_expect(&slow[i], TS_MSG_PONG, &pong, 5000) != 1)
            fail_msg("slow sender %d got no PONG (%s)", i, slow[i].error);
        assert_int_equal(pong.u.ping.nonce, 1000 + (uint64_t)i);
        ts_msg_free(&pong);
    }
    print_message("slow: %d byte-by-byte senders served after %llu ms\n", NSLOW,
                  (unsigned long long)(ts_test_now_ms() - t0));
    /* the silent connection is gone by now (2 s handshake timeout) */
    struct pollfd pfd = {idle.fd, POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 3000), 1);
    uint8_t one;
    assert_true(recv(idle.fd, &one, 1, 0) <= 0);
    ts_tc_close(&idle);
    assert_true(ts_test_log_wait(e->d.log, "event=tls_handshake_timeout", 1000));
    for (int i = 0; i < NSLOW; i++) {
        ts_tc_close(&slow[i]);
        ts_buf_free(&bytes[i]);
    }
    ts_test_sleep_ms(300);
    long rss1 = ts_test_rss_kb(e->d.pid);
    print_message("slow: daemon RSS %ld KiB before, %ld KiB after the byte-by-byte senders\n", rss0, rss1);
    assert_true(rss1 - rss0 < 16 * 1024);

    /* (b) a station that sends PULL after PULL and never reads */
    ts_tc hog;
    tc_station(e, &hog, "binhtuyen");
    hello_ok(&hog, "binhtuyen", "binhtuyen.00000000000000d1", 0);
    struct timeval tv = {1, 0};
    setsockopt(hog.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ts_buf pulls = TS_BUF_INIT;
    for (int i = 0; i < 200; i++) {
        ts_msg m;
        ts_msg_init(&m, TS_MSG_PULL);
        m.u.pull.since = 0;
        ts_msg_encode(&m, &pulls);
        ts_msg_free(&m);
    }
    long rss_b0 = ts_test_rss_kb(e->d.pid);
    int sent = 0;
    for (int batch = 0; batch < 25; batch++) {
        if (ts_tc_send_raw(&hog, pulls.data, pulls.len) < 0)
            break; /* the daemon stopped reading it: good */
        sent += 200;
    }
    ts_buf_free(&pulls);
    print_message("slow: the non-reading station got %d PULLs in before its writes blocked\n", sent);

    ts_tc good;
    tc_station(e, &good, XL);
    hello_ok(&good, XL, XL_RID, 0);
    long rss_max = 0;
    uint64_t worst = 0, cursor = 0;
    uint64_t until = ts_test_now_ms() + 5000;
    for (uint64_t n = 1; ts_test_now_ms() < until; n++) {
        uint64_t t = ts_test_now_ms();
        char id[32];
        snprintf(id, sizeof id, "xl-slow-%llu", (unsigned long long)n);
        push_resident_ok(&good, n, id, XL, XL_RID, n);
        ts_msg q;
        ts_msg_init(&q, TS_MSG_PULL);
        q.u.pull.since = cursor;
        q.u.pull.limit = 50;
        assert_int_equal(ts_tc_send(&good, &q), 0);
        ts_msg_free(&q);
        ts_msg r;
        assert_int_equal(recv_reply(&good, TS_MSG_CHANGES, &r, 10000), 1);
        assert_int_equal(r.type, TS_MSG_CHANGES);
        cursor = r.u.changes.cursor;
        ts_msg_free(&r);
        uint64_t rtt = ts_test_now_ms() - t;
        if (rtt > worst)
            worst = rtt;
        long rss = ts_test_rss_kb(e->d.pid);
        if (rss > rss_max)
            rss_max = rss;
        ts_test_sleep_ms(50);
    }
    print_message("slow: daemon RSS %ld KiB before the PULL flood, at most %ld KiB during; other station's "
                  "slowest round trip %llu ms\n",
                  rss_b0, rss_max, (unsigned long long)worst);
    assert_true(worst < 1000);
    assert_true(rss_max - rss_b0 < 48 * 1024);
    ts_tc_close(&good);
    shutdown(hog.fd, SHUT_RDWR); /* it never reads: just drop it */
    ts_tc_close(&hog);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 6. SIGHUP and the CRL */

static void test_sighup_crl(void **state)
{
    env *e = *state;
    const char *codes[] = {BN, XL};
    env_pki(e, codes, 2);
    env_start(e, NULL);

    ts_tc c;
    tc_station(e, &c, XL);
    hello_ok(&c, XL, XL_RID, 0);
    push_resident_ok(&c, 1, "xl-r1", XL, XL_RID, 1);
    ts_tc_close(&c);

    ts_test_pki_revoke(&e->pki, XL);
    assert_int_equal(kill(e->d.pid, SIGHUP), 0);
    if (!ts_test_log_wait(e->d.log, "event=server_reloaded", 10000))
        fail_msg("no event=server_reloaded after SIGHUP");

    int before = ts_test_file_count(e->d.log, "event=tls_handshake_failed");
    int rc = tc_open(e, &c, XL, 0);
    bool refused = rc < 0 || !ts_tc_alive(&c, 3000);
    ts_tc_close(&c);
    if (!refused)
        fail_msg("the revoked station was served after the reload");
    assert_true(log_count_above(e, "event=tls_handshake_failed", before, 5000));
    assert_true(ts_test_file_count(e->d.log, "certificate revoked") >= 1);

    tc_station(e, &c, BN);
    hello_ok(&c, BN, BN_RID, 0);
    push_resident_ok(&c, 1, "bn-r1", BN, BN_RID, 1);
    pulled p;
    pull_all(&c, 0, &p);
    assert_int_equal(pulled_count(&p, "residents", NULL), 0);
    pulled_free(&p);
    ts_tc_close(&c);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 7. SIGTERM drains */

static void test_sigterm_drain(void **state)
{
    env *e = *state;
    const char *codes[] = {BN};
    env_pki(e, codes, 1);
    env_start(e, NULL);

    ts_tc c;
    tc_station(e, &c, BN);
    hello_ok(&c, BN, BN_RID, 0);
    char acked[64][32];
    size_t nacked = 0;
    uint64_t lseq = 0;
    for (uint64_t batch = 1; batch <= 10; batch++) {
        ts_msg p, ack;
        ts_msg_init(&p, TS_MSG_PUSH);
        p.u.push.batch = batch;
        ts_change *ch = ts_msg_alloc_changes(&p, &p.u.push.changes, 3);
        for (int k = 0; k < 3; k++) {
            snprintf(acked[nacked + (size_t)k], sizeof acked[0], "bn-d%llu-%d", (unsigned long long)batch, k);
            ts_tc_make_resident(&p, &ch[k], acked[nacked + (size_t)k], BN, BN_RID, 1, ++lseq, "Đỗ Văn Minh");
        }
        push_msg(&c, &p, &ack);
        for (uint32_t k = 0; k < 3; k++)
            expect_outcome(&ack, k, TS_OUTCOME_APPLIED, "drain push");
        ts_msg_free(&ack);
        ts_msg_free(&p);
        nacked += 3;
    }
    /* one more change set in flight as SIGTERM arrives */
    ts_msg p;
    ts_msg_init(&p, TS_MSG_PUSH);
    p.u.push.batch = 99;
    ts_change *ch = ts_msg_alloc_changes(&p, &p.u.push.changes, 1);
    ts_tc_make_resident(&p, ch, "bn-last", BN, BN_RID, 1, ++lseq, "Võ Thị Sáu");
    assert_int_equal(ts_tc_send(&c, &p), 0);
    ts_msg_free(&p);
    assert_int_equal(kill(e->d.pid, SIGTERM), 0);

    bool bye = false, last_acked = false;
    for (;;) {
        ts_msg m;
        int rc = ts_tc_recv(&c, &m, 10000);
        if (rc == 0)
            fail_msg("the station heard nothing for 10 s after SIGTERM");
        if (rc < 0)
            break;
        if (m.type == TS_MSG_PUSH_ACK) {
            assert_false(bye);
            expect_outcome(&m, 0, TS_OUTCOME_APPLIED, "push in flight at SIGTERM");
            last_acked = true;
        } else if (m.type == TS_MSG_BYE) {
            assert_false(bye);
            bye = true;
        } else if (m.type == TS_MSG_ERROR) {
            char why[300];
            snprintf(why, sizeof why, "%s", m.u.error.message);
            ts_msg_free(&m);
            fail_msg("ERROR instead of a drain: %s", why);
        } /* anything else (a live page, a notice) is harmless here */
        ts_msg_free(&m);
    }
    if (!bye)
        fail_msg("no BYE before the end of the session (%s)", c.error);
    assert_non_null(strstr(c.error, "close_notify"));
    ts_tc_close(&c);
    if (last_acked)
        snprintf(acked[nacked++], sizeof acked[0], "bn-last");
    print_message("drain: the change set in flight at SIGTERM was %s\n", last_acked ? "acknowledged" : "not read");

    int status = wait_exit(e, 30000);
    assert_int_equal(status, 0);
    assert_true(ts_test_log_wait(e->d.log, "event=server_stopped", 0));
    assert_int_equal(ts_test_file_count(e->d.log, "LeakSanitizer"), 0);
    assert_int_equal(ts_test_file_count(e->d.log, "AddressSanitizer"), 0);

    char *path = db_path(e);
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = path;
    opt.role = TS_ROLE_SERVER;
    opt.registry = ts_test_registry();
    opt.read_only = true;
    ts_store *st;
    ts_error err;
    if (ts_store_open(&st, &opt, &err) < 0)
        fail_msg("reopen %s: %s", path, err.msg);
    for (size_t i = 0; i < nacked; i++) {
        ts_change got;
        memset(&got, 0, sizeof got);
        ts_version_init(&got.v);
        ts_arena a;
        ts_arena_init(&a, 4096);
        if (ts_store_get(st, "residents", acked[i], &got, &a, &err) < 0)
            fail_msg("acknowledged %s is not in the database: %s", acked[i], err.msg);
        assert_string_equal(got.owner, BN);
        ts_version_free(&got.v);
        ts_arena_free(&a);
    }
    ts_store_close(st);
    free(path);
    e->passed = true;
}

/* ================================================================ 8. rekey */

static void test_restored_station_rekey(void **state)
{
    env *e = *state;
    const char *codes[] = {BN};
    env_pki(e, codes, 1);
    const char *sets[] = {"server.stats_interval=1s", NULL};
    env_start(e, sets);

    ts_tc c;
    tc_station(e, &c, BN);
    hello_ok(&c, BN, BN_RID, 10);
    push_resident_ok(&c, 1, "bn-r10", BN, BN_RID, 10);
    ts_tc_close(&c);

    /* the same replica comes back with an older change counter */
    tc_station(e, &c, BN);
    ts_msg w;
    assert_int_equal(hello_ex(&c, BN, BN_RID, 3, true, &w), 1);
    assert_true(w.u.welcome.rekey);
    ts_msg_free(&w);
    ts_msg bye;
    assert_int_equal(ts_tc_recv(&c, &bye, 5000), 1);
    assert_int_equal(bye.type, TS_MSG_BYE);
    assert_non_null(strstr(bye.u.bye.reason, "rekey"));
    ts_msg_free(&bye);
    assert_int_equal(ts_tc_recv(&c, &bye, 5000), -1);
    ts_tc_close(&c);

    /* the old id stays retired, whatever counter it claims now */
    tc_station(e, &c, BN);
    assert_int_equal(hello_ex(&c, BN, BN_RID, 100, true, &w), 1);
    assert_true(w.u.welcome.rekey);
    ts_msg_free(&w);
    ts_tc_close(&c);

    /* a fresh replica id is accepted and can push */
    const char *fresh = "binhnguyen.00000000000000b2";
    tc_station(e, &c, BN);
    hello_ok(&c, BN, fresh, 0);
    push_resident_ok(&c, 1, "bn-r11", BN, fresh, 1);
    ts_tc_close(&c);
    ts_test_sleep_ms(1100); /* one more stats line */
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    assert_true(ts_test_file_count(e->d.log, "event=session_rekey") >= 2);
    assert_int_equal(ts_test_file_count(e->d.log, "sessions=1844674407"), 0);
    assert_int_equal(sql_count(e, "SELECT count(*) FROM replicas WHERE replica = '" BN_RID "' AND status = 'retired'"),
                     1);
    e->passed = true;
}

/* ================================================================ 9. duplicate session */

static void test_duplicate_session_replaced(void **state)
{
    env *e = *state;
    const char *codes[] = {BN};
    env_pki(e, codes, 1);
    env_start(e, NULL);

    ts_tc a, b;
    tc_station(e, &a, BN);
    hello_ok(&a, BN, BN_RID, 0);
    push_resident_ok(&a, 1, "bn-r1", BN, BN_RID, 1);
    tc_station(e, &b, BN);
    hello_ok(&b, BN, BN_RID, 1);
    expect_error_and_close(&a, TS_EREPLACED, "first session");
    ts_tc_close(&a);
    ping_ok(&b, 7);
    push_resident_ok(&b, 2, "bn-r2", BN, BN_RID, 2);
    ts_tc_close(&b);
    assert_true(ts_test_log_wait(e->d.log, "event=session_replaced", 0));

    /* two sessions saying HELLO at the same moment: one survives, the other is replaced */
    tc_station(e, &a, BN);
    tc_station(e, &b, BN);
    for (int k = 0; k < 2; k++) {
        ts_msg h;
        ts_msg_init(&h, TS_MSG_HELLO);
        h.u.hello.proto_min = h.u.hello.proto_max = 1;
        h.u.hello.agent = "tramsync-test";
        h.u.hello.replica = BN_RID;
        h.u.hello.station = BN;
        h.u.hello.server_db = "";
        h.u.hello.lseq = 2;
        assert_int_equal(ts_tc_send(k == 0 ? &a : &b, &h), 0);
        ts_msg_free(&h);
    }
    int alive = 0, replaced = 0;
    ts_tc *both[2] = {&a, &b};
    for (int k = 0; k < 2; k++) {
        ts_msg m;
        assert_int_equal(ts_tc_expect(both[k], TS_MSG_WELCOME, &m, 10000), 1);
        ts_msg_free(&m);
        int rc = ts_tc_recv(both[k], &m, 1500);
        if (rc == 1 && m.type == TS_MSG_ERROR && m.u.error.code == (uint64_t)-TS_EREPLACED) {
            replaced++;
            ts_msg_free(&m);
            assert_int_equal(ts_tc_recv(both[k], &m, 5000), -1);
        } else {
            if (rc == 1)
                ts_msg_free(&m);
            assert_int_equal(rc, 0);
            ping_ok(both[k], 8);
            alive++;
        }
    }
    ts_tc_close(&a);
    ts_tc_close(&b);
    print_message("duplicate: simultaneous HELLOs left %d session(s), %d replaced\n", alive, replaced);
    assert_int_equal(alive, 1);
    assert_int_equal(replaced, 1);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 10. station status, pending notices */

/* A string from the district database (read-only: the daemon is stopped); caller frees. */
static char *sql_text(const env *e, const char *sql)
{
    char *path = db_path(e);
    sqlite3 *db = NULL;
    char *out = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
            if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0) != NULL)
                out = ts_xstrdup((const char *)sqlite3_column_text(q, 0));
            sqlite3_finalize(q);
        }
    }
    sqlite3_close(db);
    free(path);
    return out;
}

static void seed_urgent_notice(ts_store *st, const char *id, const char *urgency, const char *station)
{
    char urg[64], rec[64];
    snprintf(urg, sizeof urg, "urgency=%s", urgency);
    snprintf(rec, sizeof rec, "recipients=[%s]", station);
    PUT(st, "notices", id, "number=1/TB-TTYT", "doc_type=thong_bao", "issuer=TTYT khu vực Bình Xuyên",
        "issue_date=2025-11-20", "subject=Thông báo", "category=emergency", urg, rec);
    char rid[160], nid[160], who[160];
    snprintf(rid, sizeof rid, "%s:%s", id, station);
    snprintf(nid, sizeof nid, "notice_id=%s", id);
    snprintf(who, sizeof who, "station=%s", station);
    PUT(st, "notice_recipients", rid, nid, who, "state=sent", urg);
}

/* What a station's sessions tell the district is kept for the console (the
 * agent, the clock skew, the certificate, when it last synced), and notices it
 * has not received yet come right after WELCOME, most urgent first. */
static void test_station_status_and_pending_notices(void **state)
{
    env *e = *state;
    const char *codes[] = {BN};
    env_pki(e, codes, 1);
    ts_store *st = district_open(e);
    seed_urgent_notice(st, "tb-thuong", "thuong", BN);
    seed_urgent_notice(st, "tb-hoatoc", "hoa_toc", BN);
    seed_urgent_notice(st, "tb-khan", "khan", BN);
    ts_store_close(st);
    env_start(e, NULL);

    ts_tc c;
    tc_station(e, &c, BN);
    ts_msg m;
    ts_msg_init(&m, TS_MSG_HELLO);
    ts_msg_hello *h = &m.u.hello;
    h->proto_min = TS_PROTO_VERSION_MIN;
    h->proto_max = TS_PROTO_VERSION_MAX;
    h->agent = "tramsync-status-test/9.9";
    h->replica = BN_RID;
    h->station = BN;
    h->server_db = "";
    h->time = ts_wall_ms() + 90000; /* the station's clock is 90 s ahead */
    h->live = false;
    assert_int_equal(ts_tc_send(&c, &m), 0);
    ts_msg_free(&m);
    ts_msg w;
    assert_int_equal(ts_tc_recv(&c, &w, 10000), 1);
    assert_int_equal(w.type, TS_MSG_WELCOME);
    ts_msg_free(&w);
    const char *order[] = {"tb-hoatoc", "tb-khan", "tb-thuong"};
    for (size_t i = 0; i < 3; i++) {
        ts_msg n;
        assert_int_equal(ts_tc_recv(&c, &n, 10000), 1);
        if (n.type != TS_MSG_NOTICE)
            fail_msg("message %zu after WELCOME: %s, expected NOTICE %s", i, ts_msg_type_name(n.type), order[i]);
        assert_string_equal(n.u.notice.id, order[i]);
        assert_int_equal(n.u.notice.changes.n, 2);
        ts_msg_free(&n);
    }
    push_resident_ok(&c, 1, "bn-status-1", BN, BN_RID, 1);
    pulled p = {0};
    pull_all(&c, 0, &p);
    pulled_free(&p);
    ts_tc_close(&c);
    uint64_t closed_at = ts_wall_ms();
    assert_true(log_count_above(e, "event=session_closed", 0, 5000));
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);

    char *agent = sql_text(e, "SELECT agent FROM station_status WHERE station = '" BN "'");
    assert_non_null(agent);
    assert_string_equal(agent, "tramsync-status-test/9.9");
    free(agent);
    char *replica = sql_text(e, "SELECT replica FROM station_status WHERE station = '" BN "'");
    assert_string_equal(replica, BN_RID);
    free(replica);
    long skew = sql_count(e, "SELECT clock_skew_ms FROM station_status WHERE station = '" BN "'");
    if (skew < 85000 || skew > 95000)
        fail_msg("clock skew %ld ms, expected about 90000", skew);
    assert_true(sql_count(e, "SELECT cert_not_after FROM station_status WHERE station = '" BN "'") >
                (long)(closed_at / 1000));
    assert_true(sql_count(e, "SELECT length(cert_serial) FROM station_status WHERE station = '" BN "'") > 0);
    long last_sync = sql_count(e, "SELECT last_sync FROM station_status WHERE station = '" BN "'");
    long last_seen = sql_count(e, "SELECT last_seen FROM station_status WHERE station = '" BN "'");
    long connected = sql_count(e, "SELECT connected_at FROM station_status WHERE station = '" BN "'");
    assert_true(connected > 0 && last_sync >= connected && last_seen >= last_sync);
    assert_true(last_seen <= (long)ts_wall_ms());
    assert_true(ts_test_file_count(e->d.log, "notices=3") >= 1);
    e->passed = true;
}

int main(void)
{
    /* The daemons inherit this: a small ASan quarantine, so their RSS shows
     * what they hold rather than freed memory ASan keeps to catch misuse. */
    const char *cur = getenv("ASAN_OPTIONS");
    char *opts = ts_xasprintf("%s%squarantine_size_mb=8", cur && *cur ? cur : "detect_leaks=1:abort_on_error=1", ":");
    setenv("ASAN_OPTIONS", opts, 1);
    free(opts);
    signal(SIGPIPE, SIG_IGN);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_push_pull_visibility_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_station_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sighup_crl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restored_station_rekey, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_session_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_station_status_and_pending_notices, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
