/* What an outsider holding one valid station certificate must not be able
 * to do to the daemon (issue 13 of the security audit), against the real
 * tramsyncd on 127.0.0.1:
 *
 *  1. before HELLO: frames above the HELLO cap are refused; no HELLO within
 *     hello_timeout (TLS included) ends the connection, however slowly the
 *     bytes trickle in and whatever the idle timeout says
 *  2. a started frame must complete at frame_min_rate
 *  3. one certificate holds at most max_station_connections connections; the
 *     oldest one not past HELLO goes first
 *  4. frames being read share frame_budget: past it large frames wait (their
 *     connection paused) while small ones go on; waiting frames go in later
 *  5. a burst of connections of one certificate with 4 MiB partial frames,
 *     then twelve stations holding 4 MiB partial frames: the daemon's memory
 *     stays within the budget, comes back after, and another station keeps
 *     syncing throughout (the release build: its allocator is what returns
 *     memory, ASan's is not)
 *  6. a reload with a CRL that revokes an open session closes it, and what it
 *     sends after is not applied
 *  7. a client certificate without the clientAuth extended key usage is refused
 *  8. the daemon's files are not readable by others, whatever the umask
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/ts_hlc.h"
#include "common/ts_version.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_watchdog.h"

#define TEST_LIMIT_S 240

#define BN "binhnguyen"
#define XL "xuanlang"
#define BT "binhtuyen"

/* ---------------------------------------------------------------- environment */

typedef struct env {
    char *dir;
    ts_test_pki pki;
    bool pki_made;
    ts_test_daemon d;
    bool passed;
} env;

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("hardening");
    ts_test_watchdog_arm("test_hardening", TEST_LIMIT_S);
    ts_test_watchdog_watch(&e->d.pid);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    ts_test_watchdog_disarm();
    if (!e->passed)
        ts_test_log_tail(e->d.log, 60);
    ts_test_daemon_free(&e->d);
    if (e->pki_made)
        ts_test_pki_free(&e->pki);
    ts_tmpdir_remove(e->dir);
    free(e);
    return 0;
}

static void env_pki(env *e, const char *const *stations, size_t n)
{
    ts_test_pki_make(&e->pki, e->dir, stations, n);
    e->pki_made = true;
}

static int tc_open(env *e, ts_tc *c, const char *code)
{
    char *cert = ts_test_pki_cert(&e->pki, code), *key = ts_test_pki_key(&e->pki, code);
    ts_tc_opts o = {cert, key, e->pki.ca, 0, 0};
    int rc = ts_tc_connect(c, e->d.port, &o);
    free(cert);
    free(key);
    return rc;
}

static void tc_station(env *e, ts_tc *c, const char *code)
{
    if (tc_open(e, c, code) < 0)
        fail_msg("TLS connect as %s: %s", code, c->error);
}

static const char *replica_of(const char *code, char *buf, size_t size)
{
    snprintf(buf, size, "%s.00000000000000a1", code);
    return buf;
}

static void hello_ok(ts_tc *c, const char *code)
{
    char rid[96];
    ts_msg w;
    if (ts_tc_hello(c, code, replica_of(code, rid, sizeof rid), 0, NULL, 0, &w) < 0)
        fail_msg("HELLO as %s: %s", code, c->error);
    ts_msg_free(&w);
}

/* Expects an ERROR `code` (a TS_E* value), fatal, and then the end of the
 * session, within timeout_ms; returns when it came (ms since `since`). */
static uint64_t expect_error_close(ts_tc *c, int code, int timeout_ms, uint64_t since, const char *what)
{
    ts_msg m;
    int rc = ts_tc_expect(c, TS_MSG_ERROR, &m, timeout_ms);
    if (rc != 1)
        fail_msg("%s: expected ERROR %s, got %s (%s)", what, ts_err_name(code), rc == 0 ? "nothing" : "a closed session",
                 c->error);
    uint64_t at = ts_test_now_ms() - since;
    if (m.u.error.code != (uint64_t)-code) {
        char got[300];
        snprintf(got, sizeof got, "%s: %s", m.u.error.name, m.u.error.message);
        ts_msg_free(&m);
        fail_msg("%s: expected ERROR %s, got %s", what, ts_err_name(code), got);
    }
    assert_true(m.u.error.fatal);
    ts_msg_free(&m);
    ts_msg more;
    rc = ts_tc_recv(c, &more, 5000);
    if (rc == 1)
        ts_msg_free(&more);
    if (rc != -1)
        fail_msg("%s: the session was not closed after the fatal ERROR", what);
    return at;
}

/* A PUSH of n residents records of `code`, encoded as one frame. */
static void push_frame(const char *code, uint64_t batch, size_t n, const char *tag, ts_buf *out)
{
    char rid[96];
    replica_of(code, rid, sizeof rid);
    ts_msg p;
    ts_msg_init(&p, TS_MSG_PUSH);
    p.u.push.batch = batch;
    ts_change *ch = ts_msg_alloc_changes(&p, &p.u.push.changes, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%s-%05zu", code, tag, i);
        ts_tc_make_resident(&p, &ch[i], id, code, rid, batch * 100000 + i + 1, batch * 100000 + i + 1,
                            "Nguyễn Thị Lan");
    }
    ts_buf_init(out);
    ts_msg_encode(&p, out);
    ts_msg_free(&p);
}

/* Receives until PUSH_ACK (skipping live CHANGES and notices); the number
 * of applied results, or -1 when none came within timeout_ms. */
static int push_ack(ts_tc *c, uint64_t batch, int timeout_ms)
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t now = ts_test_now_ms();
        if (now >= end)
            return -1;
        ts_msg m;
        int rc = ts_tc_recv(c, &m, (int)(end - now));
        if (rc != 1)
            return -1;
        if (m.type == TS_MSG_ERROR) {
            snprintf(c->error, sizeof c->error, "ERROR %s: %s", m.u.error.name, m.u.error.message);
            ts_msg_free(&m);
            return -1;
        }
        if (m.type == TS_MSG_PUSH_ACK && m.u.push_ack.batch == batch) {
            int applied = 0;
            for (uint32_t i = 0; i < m.u.push_ack.nresults; i++)
                applied += m.u.push_ack.results[i].outcome == TS_OUTCOME_APPLIED;
            ts_msg_free(&m);
            return applied;
        }
        ts_msg_free(&m);
    }
}

static void push_ok(ts_tc *c, const char *code, uint64_t batch, size_t n, const char *tag)
{
    ts_buf f;
    push_frame(code, batch, n, tag, &f);
    assert_int_equal(ts_tc_send_raw(c, f.data, f.len), 0);
    ts_buf_free(&f);
    int applied = push_ack(c, batch, 10000);
    if (applied != (int)n)
        fail_msg("%s: PUSH %llu: %d of %zu applied (%s)", code, (unsigned long long)batch, applied, n, c->error);
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
    ts_msg_free(&pong);
}

/* Writes at most len bytes without blocking longer than timeout_ms in all
 * (the daemon may have stopped reading); the bytes written. */
static size_t send_some(ts_tc *c, const void *data, size_t len, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    size_t sent = 0;
    while (sent < len) {
        size_t n = len - sent > 16384 ? 16384 : len - sent;
        if (ts_tc_send_raw(c, (const uint8_t *)data + sent, n) < 0)
            break;
        sent += n;
    }
    return sent;
}

static long sql_count(const env *e, const char *sql)
{
    return ts_test_sql_count(e->dir, "district.db", sql);
}

/* A sample of /metrics (read with the admin certificate); -1 when absent. */
static double metric(env *e, const char *sample)
{
    char *cert = ts_test_pki_cert(&e->pki, "admin"), *key = ts_test_pki_key(&e->pki, "admin");
    ts_th_opts o = {e->pki.ca, cert, key, NULL};
    ts_th_resp r;
    double v = -1;
    if (ts_th_call(e->d.admin_port, &o, "GET", "/metrics", NULL, NULL, NULL, &r) == 0) {
        char *needle = ts_xasprintf("\n%s ", sample);
        const char *p = r.body ? strstr(r.body, needle) : NULL;
        if (p != NULL)
            v = strtod(p + strlen(needle), NULL);
        free(needle);
        ts_th_resp_free(&r);
    }
    free(cert);
    free(key);
    return v;
}

/* ================================================================ 1. before HELLO */

static void test_before_hello(void **state)
{
    env *e = *state;
    const char *codes[] = {BN, XL, BT};
    env_pki(e, codes, 3);
    const char *sets[] = {"server.hello_timeout=2s", "server.max_station_connections=8", NULL};
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);

    /* (a) a frame larger than any HELLO, before HELLO: refused at its header */
    ts_tc big;
    tc_station(e, &big, BN);
    uint8_t hdr[4] = {0x00, 0x01, 0x00, 0x00}; /* 64 KiB */
    assert_int_equal(ts_tc_send_raw(&big, hdr, sizeof hdr), 0);
    expect_error_close(&big, TS_EFRAME_TOO_LARGE, 5000, ts_test_now_ms(), "64 KiB frame before HELLO");
    ts_tc_close(&big);

    /* (b) TLS up, then silence; (c) a HELLO trickling one byte per 100 ms;
     * (d) TCP without TLS: all gone at hello_timeout (2 s), not at the idle
     * timeout (180 s) or the handshake timeout (10 s) */
    uint64_t t0 = ts_test_now_ms();
    ts_tc silent, slow, plain;
    tc_station(e, &silent, BN);
    tc_station(e, &slow, XL);
    assert_int_equal(ts_tc_connect_plain(&plain, e->d.port), 0);
    char rid[96];
    ts_msg h;
    ts_msg_init(&h, TS_MSG_HELLO);
    h.u.hello.proto_min = TS_PROTO_VERSION_MIN;
    h.u.hello.proto_max = TS_PROTO_VERSION_MAX;
    h.u.hello.agent = "slow/" TS_VERSION;
    h.u.hello.replica = replica_of(XL, rid, sizeof rid);
    h.u.hello.station = XL;
    h.u.hello.server_db = "";
    ts_buf hb = TS_BUF_INIT;
    ts_msg_encode(&h, &hb);
    ts_msg_free(&h);
    size_t sent = 0;
    for (; sent < hb.len && ts_test_now_ms() - t0 < 5000; sent++) {
        if (ts_tc_send_raw(&slow, hb.data + sent, 1) < 0)
            break;
        struct pollfd p = {slow.fd, POLLIN, 0};
        if (poll(&p, 1, 100) == 1)
            break; /* the daemon answered (its ERROR) */
    }
    assert_true(sent < hb.len);
    ts_buf_free(&hb);
    uint64_t at_slow = expect_error_close(&slow, TS_ETIMEOUT, 5000, t0, "HELLO one byte per 100 ms");
    uint64_t at_silent = expect_error_close(&silent, TS_ETIMEOUT, 5000, t0, "no HELLO");
    print_message("before HELLO: the silent session ended after %llu ms, the slow HELLO after %llu ms (%zu bytes)\n",
                  (unsigned long long)at_silent, (unsigned long long)at_slow, sent);
    assert_true(at_silent >= 1900 && at_silent < 4500);
    assert_true(at_slow >= 1900 && at_slow < 4500);
    struct pollfd pp = {plain.fd, POLLIN, 0};
    assert_int_equal(poll(&pp, 1, 5000), 1);
    uint8_t one;
    assert_true(recv(plain.fd, &one, 1, 0) <= 0);
    uint64_t at_plain = ts_test_now_ms() - t0;
    assert_true(at_plain < 4500);
    ts_tc_close(&silent);
    ts_tc_close(&slow);
    ts_tc_close(&plain);
    assert_true(ts_test_log_wait(e->d.log, "event=hello_timeout", 1000));
    assert_true(ts_test_file_count(e->d.log, "tls=unfinished") >= 1);
    assert_true(metric(e, "tramsync_timeouts_total{what=\"hello\"}") >= 3);

    /* a station that says HELLO in time is served as always */
    ts_tc good;
    tc_station(e, &good, BT);
    hello_ok(&good, BT);
    push_ok(&good, BT, 1, 3, "ok");
    ts_tc_close(&good);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 2. frame deadline */

static void test_frame_deadline(void **state)
{
    env *e = *state;
    const char *codes[] = {BN, XL};
    env_pki(e, codes, 2);
    /* a frame gets 1 s plus its size at 1 MiB/s */
    const char *sets[] = {"server.frame_timeout=1s", "server.frame_min_rate=1MiB", NULL};
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);

    /* a healthy large frame (about 0.4 MB) is not cut */
    ts_tc fast;
    tc_station(e, &fast, XL);
    hello_ok(&fast, XL);
    push_ok(&fast, XL, 1, 1200, "fast");

    /* 1 MiB announced, one byte every 50 ms: cut after about 2 s */
    ts_tc slow;
    tc_station(e, &slow, BN);
    hello_ok(&slow, BN);
    uint8_t hdr[4] = {0x00, 0x10, 0x00, 0x00};
    uint64_t t0 = ts_test_now_ms();
    assert_int_equal(ts_tc_send_raw(&slow, hdr, sizeof hdr), 0);
    uint8_t body = 0x80;
    for (int i = 0; i < 120; i++) {
        if (ts_tc_send_raw(&slow, &body, 1) < 0)
            break;
        struct pollfd p = {slow.fd, POLLIN, 0};
        if (poll(&p, 1, 50) == 1)
            break;
    }
    uint64_t at = expect_error_close(&slow, TS_ETIMEOUT, 5000, t0, "a frame at 20 bytes/s");
    print_message("frame deadline: a 1 MiB frame at 20 bytes/s was cut after %llu ms (idle timeout 180 s)\n",
                  (unsigned long long)at);
    assert_true(at >= 1900 && at < 4500);
    ts_tc_close(&slow);
    assert_true(ts_test_log_wait(e->d.log, "event=frame_timeout", 1000));
    assert_true(metric(e, "tramsync_timeouts_total{what=\"frame\"}") == 1);
    ping_ok(&fast, 7);
    ts_tc_close(&fast);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 3. connections per station */

static void test_station_connection_limit(void **state)
{
    env *e = *state;
    const char *codes[] = {BN, XL};
    env_pki(e, codes, 2);
    const char *sets[] = {"server.max_station_connections=3", NULL};
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);

    ts_tc c[5];
    for (int i = 0; i < 3; i++) {
        tc_station(e, &c[i], BN);
        ts_test_sleep_ms(20); /* distinct connection times */
    }
    ts_tc other;
    tc_station(e, &other, XL);
    hello_ok(&other, XL);
    /* a fourth: the oldest, which never said HELLO, goes */
    tc_station(e, &c[3], BN);
    expect_error_close(&c[0], TS_EBUSY, 5000, ts_test_now_ms(), "the oldest of four connections");
    assert_true(ts_tc_alive(&c[1], 300));
    assert_true(ts_tc_alive(&c[2], 300));
    hello_ok(&c[3], BN);
    /* a fifth while one is in session: again the oldest without HELLO */
    tc_station(e, &c[4], BN);
    expect_error_close(&c[1], TS_EBUSY, 5000, ts_test_now_ms(), "the oldest of the next four");
    ping_ok(&c[3], 1);
    assert_true(ts_tc_alive(&c[2], 300));
    assert_true(ts_test_file_count(e->d.log, "event=station_conn_limit") == 2);
    assert_true(metric(e, "tramsync_station_connection_limit_total") == 2);
    /* another station was not touched */
    ping_ok(&other, 2);
    for (int i = 0; i < 5; i++)
        ts_tc_close(&c[i]);
    ts_tc_close(&other);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 4. the frame budget */

typedef struct sender {
    ts_tc *c;
    const ts_buf *frame;
    size_t from;
    size_t sent;
    pthread_t thread;
} sender;

static void *sender_main(void *arg)
{
    sender *s = arg;
    s->sent = send_some(s->c, s->frame->data + s->from, s->frame->len - s->from, 20000);
    return NULL;
}

static void test_frame_budget(void **state)
{
    env *e = *state;
    const char *codes[] = {BN, XL, BT};
    env_pki(e, codes, 3);
    /* large frames (over 64 KiB) may hold 768 KiB together: one of ~450 KB */
    const char *sets[] = {"server.max_frame=512KiB", "server.frame_budget=1MiB", NULL};
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);

    ts_buf fa, fb;
    push_frame(BN, 1, 1300, "big", &fa);
    push_frame(XL, 1, 1300, "big", &fb);
    print_message("budget: two frames of %zu and %zu bytes, 768 KiB for large frames\n", fa.len, fb.len);
    assert_true(fa.len > 400 * 1024 && fa.len <= 512 * 1024 && fb.len > 400 * 1024 && fb.len <= 512 * 1024);

    ts_tc a, b, c;
    tc_station(e, &a, BN);
    hello_ok(&a, BN);
    tc_station(e, &b, XL);
    hello_ok(&b, XL);
    tc_station(e, &c, BT);
    hello_ok(&c, BT);

    /* A's frame half sent: it holds its budget while it comes */
    size_t half = fa.len / 2;
    assert_int_equal(send_some(&a, fa.data, half, 5000), half);
    ts_test_sleep_ms(300);
    /* B's whole frame: it must wait (in a thread: the daemon stops reading it) */
    sender sb = {&b, &fb, 0, 0, 0};
    assert_int_equal(pthread_create(&sb.thread, NULL, sender_main, &sb), 0);
    assert_true(ts_test_log_wait(e->d.log, "event=frame_budget_full", 5000));
    /* a small frame from C goes through meanwhile */
    push_ok(&c, BT, 1, 2, "small");
    assert_true(metric(e, "tramsync_frame_budget_bytes") == (double)(fa.len - 4));
    assert_true(metric(e, "tramsync_frame_budget_waits_total") == 1);
    /* B's is not taken while A's is held */
    assert_int_equal(push_ack(&b, 1, 1000), -1);
    /* A completes: A is answered, then B's frame goes in and is answered */
    assert_int_equal(send_some(&a, fa.data + half, fa.len - half, 10000), fa.len - half);
    assert_int_equal(push_ack(&a, 1, 10000), 1300);
    int applied = push_ack(&b, 1, 15000);
    if (applied != 1300)
        fail_msg("B's waiting frame: %d applied (%s)", applied, b.error);
    pthread_join(sb.thread, NULL);
    assert_int_equal(sb.sent, fb.len);
    ts_buf_free(&fa);
    ts_buf_free(&fb);
    ts_tc_close(&a);
    ts_tc_close(&b);
    ts_tc_close(&c);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    assert_int_equal(sql_count(e, "SELECT count(*) FROM records WHERE tbl = 'residents'"), 2602);
    e->passed = true;
}

/* ================================================================ 5. a burst of one certificate */

/* A well-behaved station pushing and pulling all along. */
typedef struct worker {
    env *e;
    atomic_bool stop;
    int rounds;
    int failures;
    uint64_t max_rtt_ms;
    char error[300];
    pthread_t thread;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    ts_tc c;
    char rid[96];
    ts_msg wm;
    if (tc_open(w->e, &c, XL) < 0 || ts_tc_hello(&c, XL, replica_of(XL, rid, sizeof rid), 0, NULL, 0, &wm) < 0) {
        snprintf(w->error, sizeof w->error, "connect/HELLO: %.200s", c.error);
        w->failures++;
        ts_tc_close(&c);
        return NULL;
    }
    ts_msg_free(&wm);
    for (uint64_t n = 1; !atomic_load(&w->stop); n++) {
        uint64_t t = ts_test_now_ms();
        ts_buf f;
        push_frame(XL, n, 1, "w", &f);
        int applied = ts_tc_send_raw(&c, f.data, f.len) == 0 ? push_ack(&c, n, 10000) : -1;
        ts_buf_free(&f);
        if (applied != 1) {
            snprintf(w->error, sizeof w->error, "round %llu: %.200s", (unsigned long long)n, c.error);
            w->failures++;
            break;
        }
        uint64_t rtt = ts_test_now_ms() - t;
        if (rtt > w->max_rtt_ms)
            w->max_rtt_ms = rtt;
        w->rounds++;
        ts_test_sleep_ms(50);
    }
    ts_tc_close(&c);
    return NULL;
}

static long rss_settled(const env *e)
{
    long prev = ts_test_rss_kb(e->d.pid);
    for (int i = 0, stable = 0; i < 80 && stable < 4; i++) {
        ts_test_sleep_ms(250);
        long cur = ts_test_rss_kb(e->d.pid);
        stable = labs(cur - prev) < 128 ? stable + 1 : 0;
        prev = cur;
    }
    return prev;
}

#define NBURST 200
#define NHOLD 12

static void test_memory_burst(void **state)
{
    env *e = *state;
    const char *codes[2 + NHOLD] = {BN, XL};
    char names[NHOLD][16];
    for (int i = 0; i < NHOLD; i++) {
        snprintf(names[i], sizeof names[i], "tram%02d", i + 1);
        codes[2 + i] = names[i];
    }
    env_pki(e, codes, 2 + NHOLD);
    char *bin = ts_test_release_bin("tramsyncd");
    if (access(bin, X_OK) != 0)
        fail_msg("%s is missing: this test runs the release build (make)", bin);
    const char *sets[] = {"server.frame_budget=16MiB", "server.frame_timeout=120s", "server.log_level=info", NULL};
    ts_test_daemon_start_bin(&e->d, bin, e->dir, &e->pki, sets);
    free(bin);

    worker w = {.e = e};
    atomic_init(&w.stop, false);
    assert_int_equal(pthread_create(&w.thread, NULL, worker_main, &w), 0);
    ts_test_sleep_ms(2000);
    long rss0 = rss_settled(e), peak = rss0;

    /* (a) 200 connections of one certificate, each starting a 4 MiB frame */
    static ts_tc burst[NBURST];
    uint8_t *chunk = ts_xcalloc(1, 3u << 20);
    uint8_t hdr[4] = {0x00, 0x40, 0x00, 0x00}; /* 4 MiB */
    int opened = 0;
    for (int i = 0; i < NBURST; i++) {
        if (tc_open(e, &burst[i], BN) < 0)
            continue;
        opened++;
        send_some(&burst[i], hdr, sizeof hdr, 200);
        send_some(&burst[i], chunk, 64 * 1024, 200);
        if (i % 20 == 0) {
            long r = ts_test_rss_kb(e->d.pid);
            peak = r > peak ? r : peak;
        }
    }
    int refused = 0;
    for (int i = 0; i < NBURST; i++) {
        ts_msg m;
        if (burst[i].ssl != NULL && ts_tc_expect(&burst[i], TS_MSG_ERROR, &m, 3000) == 1) {
            refused += m.u.error.code == (uint64_t)-TS_EFRAME_TOO_LARGE || m.u.error.code == (uint64_t)-TS_EBUSY;
            ts_msg_free(&m);
        }
    }
    print_message("burst: %d of %d connections of one certificate opened, %d refused (FRAME_TOO_LARGE or BUSY)\n",
                  opened, NBURST, refused);
    assert_int_equal(refused, opened);

    /* (b) twelve stations in session, each 3 MiB into a 4 MiB frame: large
     * frames may hold 12 MiB of the 16 MiB budget, the rest wait */
    static ts_tc hold[NHOLD];
    for (int i = 0; i < NHOLD; i++) {
        tc_station(e, &hold[i], names[i]);
        hello_ok(&hold[i], names[i]);
        send_some(&hold[i], hdr, sizeof hdr, 300);
        send_some(&hold[i], chunk, 3u << 20, 300);
        long r = ts_test_rss_kb(e->d.pid);
        peak = r > peak ? r : peak;
    }
    for (int i = 0; i < 12; i++) {
        ts_test_sleep_ms(250);
        long r = ts_test_rss_kb(e->d.pid);
        peak = r > peak ? r : peak;
    }
    free(chunk);
    assert_true(ts_test_log_wait(e->d.log, "event=frame_budget_full", 2000));
    print_message("burst: daemon RSS %ld KiB before, at most %ld KiB during (budget 16 MiB)\n", rss0, peak);
    assert_true(peak - rss0 < 24 * 1024);

    for (int i = 0; i < NBURST; i++)
        if (burst[i].fd > 0)
            ts_tc_close(&burst[i]);
    for (int i = 0; i < NHOLD; i++) {
        shutdown(hold[i].fd, SHUT_RDWR);
        ts_tc_close(&hold[i]);
    }
    atomic_store(&w.stop, true);
    pthread_join(w.thread, NULL);
    if (w.failures)
        fail_msg("the well-behaved station failed: %s", w.error);
    print_message("burst: the other station synced %d times meanwhile, slowest %llu ms\n", w.rounds,
                  (unsigned long long)w.max_rtt_ms);
    assert_true(w.rounds > 20 && w.max_rtt_ms < 2000);

    /* memory comes back: within 10 % of where it was */
    long after = 0;
    for (int i = 0; i < 60; i++) {
        ts_test_sleep_ms(250);
        after = ts_test_rss_kb(e->d.pid);
        if (after <= rss0 + rss0 / 10)
            break;
    }
    print_message("burst: daemon RSS %ld KiB after (before %ld KiB)\n", after, rss0);
    assert_true(after <= rss0 + rss0 / 10);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 6. revoked at reload */

static void test_revoked_session_closed(void **state)
{
    env *e = *state;
    const char *codes[] = {BN, XL};
    env_pki(e, codes, 2);
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);

    ts_tc bn, xl;
    tc_station(e, &bn, BN);
    hello_ok(&bn, BN);
    push_ok(&bn, BN, 1, 2, "before");
    tc_station(e, &xl, XL);
    hello_ok(&xl, XL);
    /* half a change set on the wire when the certificate is revoked */
    ts_buf f;
    push_frame(BN, 2, 50, "after", &f);
    size_t half = f.len / 2;
    assert_int_equal(ts_tc_send_raw(&bn, f.data, half), 0);
    ts_test_sleep_ms(200);

    ts_test_pki_revoke(&e->pki, BN);
    assert_int_equal(kill(e->d.pid, SIGHUP), 0);
    expect_error_close(&bn, TS_EFORBIDDEN, 10000, ts_test_now_ms(), "the revoked station's open session");
    assert_true(ts_test_log_wait(e->d.log, "event=session_revoked", 1000));
    send_some(&bn, f.data + half, f.len - half, 500); /* the rest comes too late */
    ts_buf_free(&f);
    ts_tc_close(&bn);
    /* the other station's session stays */
    ping_ok(&xl, 1);
    push_ok(&xl, XL, 1, 1, "kept");
    ts_tc_close(&xl);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    assert_int_equal(sql_count(e, "SELECT count(*) FROM records WHERE owner = 'binhnguyen'"), 2);
    assert_int_equal(sql_count(e, "SELECT count(*) FROM records WHERE owner = 'xuanlang'"), 1);
    e->passed = true;
}

/* ================================================================ 7. clientAuth */

static int run_cmd(const char *cmd)
{
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static void test_client_auth_required(void **state)
{
    env *e = *state;
    const char *codes[] = {BN};
    env_pki(e, codes, 1);
    /* a certificate of the district CA, subject as a station's, without
     * extendedKeyUsage (openssl x509 -req adds no extension) */
    char *cmd = ts_xasprintf(
        "cd '%s' && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout noeku.key "
        "-subj '/O=TTYT test/OU=station/CN=xuanlang/L=xuanlang' -out noeku.csr 2>/dev/null && "
        "openssl x509 -req -in noeku.csr -CA ca.pem -CAkey ca.key -set_serial 4242 -days 30 -out noeku.pem "
        "2>/dev/null",
        e->pki.dir);
    assert_int_equal(run_cmd(cmd), 0);
    free(cmd);
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);

    ts_tc c;
    int rc = tc_open(e, &c, "noeku");
    bool refused = rc < 0 || !ts_tc_alive(&c, 3000);
    ts_tc_close(&c);
    if (!refused)
        fail_msg("a certificate without clientAuth was accepted");
    assert_true(ts_test_log_wait(e->d.log, "unsuitable certificate purpose", 5000));
    /* a proper station certificate still works */
    tc_station(e, &c, BN);
    hello_ok(&c, BN);
    ts_tc_close(&c);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 8. file modes */

static void test_file_modes(void **state)
{
    env *e = *state;
    const char *codes[] = {BN};
    env_pki(e, codes, 1);
    mode_t old = umask(0022); /* what a shell or cron gives */
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);
    umask(old);
    ts_tc c;
    tc_station(e, &c, BN);
    hello_ok(&c, BN);
    push_ok(&c, BN, 1, 1, "mode");
    const char *files[] = {"district.db", "district.db-wal", "district.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        char *p = ts_xasprintf("%s/%s", e->dir, files[i]);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        if ((st.st_mode & 0027) != 0)
            fail_msg("%s has mode %03o: others or the group can write or read it", files[i], st.st_mode & 0777);
        free(p);
    }
    ts_tc_close(&c);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

int main(void)
{
    /* a small ASan quarantine, so RSS shows what the daemons hold */
    const char *cur = getenv("ASAN_OPTIONS");
    char *opts = ts_xasprintf("%s%squarantine_size_mb=8", cur && *cur ? cur : "detect_leaks=1:abort_on_error=1", ":");
    setenv("ASAN_OPTIONS", opts, 1);
    free(opts);
    signal(SIGPIPE, SIG_IGN);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_before_hello, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frame_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_station_connection_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frame_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_burst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoked_session_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_auth_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_modes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
