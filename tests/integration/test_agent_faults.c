/* The station agent against the faults an outside campaign found (issue 14),
 * with the real tramsyncd and `tramsync run` processes on 127.0.0.1, some
 * through a misbehaving proxy (tests/support/ts_test_proxy.h):
 *
 *  1. a path that stops forwarding both ways (no FIN, no RST) is noticed
 *     within dead_after, reported, and the agent reconnects once it heals
 *  2. under steady writes the agent pushes within debounce_max of the first
 *     write, not only when the writing stops or at [sync] interval
 *  3. a second agent on the same station database refuses to run
 *  4. two computers with one station certificate: the replaced agent backs
 *     off instead of taking the session back several times a second
 *  5. a reset, a cut without close_notify and a cut in the middle of a frame
 *     are each logged and reported for what they are
 *  6. a PC clock three hours ahead (libfaketime, on the release programs),
 *     then fixed: `status` says what is wrong and when it clears, and
 *     `tramsync clock-fix --yes` gets the refused changes through at once
 *  8. the agent's status report (station_agent_status) reaches the district
 *     and settles: once nothing waits, the agent does not push again and
 *     again for its own report
 *  7. the station's disk fills up (a small tmpfs, really full): `status`
 *     still runs and says the database cannot be written, in both
 *     languages, while the agent keeps running; space freed, it clears and
 *     what the district sent meanwhile arrives
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_proxy.h"
#include "tests/support/ts_test_smallfs.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_watchdog.h"

#define TEST_LIMIT_S 150
#define BN "binhnguyen"

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    ts_test_proxy proxy;
    bool proxy_on;
    ts_test_station st[2];
    int nst;
    char *small; /* a small tmpfs mounted here, when not NULL */
    bool passed;
} env;

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("agent-faults");
    const char *codes[] = {BN};
    ts_test_pki_make(&e->pki, e->dir, codes, 1);
    ts_test_watchdog_arm("test_agent_faults", TEST_LIMIT_S);
    ts_test_watchdog_watch(&e->d.pid);
    for (int i = 0; i < 2; i++)
        ts_test_watchdog_watch(&e->st[i].pid);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    ts_test_watchdog_disarm();
    for (int i = 0; i < e->nst; i++) {
        if (!e->passed)
            ts_test_log_tail(e->st[i].log, 30);
        ts_test_station_free(&e->st[i]);
    }
    if (!e->passed)
        ts_test_log_tail(e->d.log, 30);
    if (e->proxy_on)
        ts_test_proxy_stop(&e->proxy);
    if (e->small) {
        ts_test_smallfs_unmount(e->small);
        free(e->small);
    }
    ts_test_daemon_free(&e->d);
    ts_test_pki_free(&e->pki);
    ts_tmpdir_remove(e->dir);
    free(e);
    return 0;
}

/* A station agent in <base>/<code>, its extra settings as "sec.key=value". */
static ts_test_station *station(env *e, const char *base, int port, const char *const *sets)
{
    ts_test_station *s = &e->st[e->nst++];
    ts_test_station_make(s, base, BN, &e->pki, port, sets);
    return s;
}

typedef struct status {
    bool reachable;
    long long pending;
    char last_error[400];
} status;

static bool get_status(ts_test_station *s, status *out)
{
    memset(out, 0, sizeof *out);
    char *txt = NULL;
    int rc = ts_test_station_cli(s, &txt, "--json", "status", NULL);
    json_t *o = rc == 0 ? json_loads(txt, 0, NULL) : NULL;
    free(txt);
    if (o == NULL)
        return false;
    out->reachable = json_is_true(json_object_get(o, "server_reachable"));
    out->pending = json_integer_value(json_object_get(o, "pending_changes"));
    const char *err = json_string_value(json_object_get(o, "last_error"));
    snprintf(out->last_error, sizeof out->last_error, "%s", err ? err : "");
    json_decref(o);
    return true;
}

/* Waits until the station's reachability is `want`; the time it took, or -1. */
static long wait_reachable(ts_test_station *s, bool want, int timeout_ms, status *last)
{
    uint64_t t0 = ts_test_now_ms();
    while (ts_test_now_ms() - t0 < (uint64_t)timeout_ms) {
        if (get_status(s, last) && last->reachable == want)
            return (long)(ts_test_now_ms() - t0);
        ts_test_sleep_ms(100);
    }
    return -1;
}

static long district_count(const env *e, const char *sql)
{
    return ts_test_sql_count(e->dir, "district.db", sql);
}

/* ================================================================ 1. a silent path */

static void test_dead_path_noticed(void **state)
{
    env *e = *state;
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);
    ts_test_proxy_start(&e->proxy, e->d.port);
    e->proxy_on = true;
    const char *sets[] = {"sync.keepalive=1s", "sync.dead_after=3s", "sync.interval=60s", NULL};
    ts_test_station *s = station(e, e->dir, e->proxy.port, sets);
    ts_test_station_start(s);
    status st;
    assert_true(wait_reachable(s, true, 15000, &st) >= 0);

    /* the path stops forwarding: no FIN, no RST, the daemon's idle timeout far away */
    int before = atomic_load(&e->proxy.accepted);
    atomic_store(&e->proxy.blackhole, true);
    long noticed = wait_reachable(s, false, 10000, &st);
    print_message("dead path: noticed after %ld ms (dead_after 3 s): %s\n", noticed, st.last_error);
    assert_true(noticed >= 0 && noticed < 7000);
    assert_non_null(strstr(st.last_error, "no answer from the district"));
    assert_true(ts_test_log_wait(s->log, "event=disconnected", 1000));

    /* healed: the agent is back by itself, on a new connection */
    atomic_store(&e->proxy.blackhole, false);
    assert_true(wait_reachable(s, true, 15000, &st) >= 0);
    assert_true(atomic_load(&e->proxy.accepted) > before);
    assert_int_equal(ts_test_station_stop(s, 10000), 0);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 2. steady writes */

static void test_steady_writes_pushed(void **state)
{
    env *e = *state;
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);
    const char *sets[] = {"sync.debounce=1s", "sync.debounce_max=3s", "sync.interval=60s", NULL};
    ts_test_station *s = station(e, e->dir, e->d.port, sets);
    ts_test_station_start(s);
    status st;
    assert_true(wait_reachable(s, true, 15000, &st) >= 0);

    /* someone writes every 0.4 s for 8 s: the first write reaches the
     * district while the writing goes on */
    uint64_t t0 = ts_test_now_ms(), arrived = 0;
    for (int i = 0; ts_test_now_ms() - t0 < 8000; i++) {
        char id[32], *out = NULL;
        snprintf(id, sizeof id, "BN-W%03d", i);
        if (ts_test_station_cli(s, &out, "put", "residents", id, "full_name=Lan", "birth_date=1985-04-12",
                                "sex=female", NULL) != 0)
            fail_msg("put %s: %s", id, out ? out : "");
        free(out);
        if (arrived == 0 && district_count(e, "SELECT count(*) FROM records WHERE id = 'BN-W000'") == 1)
            arrived = ts_test_now_ms() - t0;
        ts_test_sleep_ms(400);
    }
    print_message("steady writes: the first write reached the district after %llu ms (debounce_max 3 s)\n",
                  (unsigned long long)arrived);
    assert_true(arrived > 0 && arrived < 5000);
    assert_int_equal(ts_test_station_stop(s, 10000), 0);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 3. one agent per database */

static void test_second_agent_refused(void **state)
{
    env *e = *state;
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);
    ts_test_station *s = station(e, e->dir, e->d.port, NULL);
    ts_test_station_start(s);
    status st;
    assert_true(wait_reachable(s, true, 15000, &st) >= 0);

    /* the same directory, a second `tramsync run` */
    ts_test_station second = *s;
    second.log = ts_xasprintf("%s/agent2.log", s->dir);
    second.pid = 0;
    ts_test_station_start(&second);
    int status_code = -1;
    for (int i = 0; i < 100 && status_code < 0; i++) {
        int w;
        if (waitpid(second.pid, &w, WNOHANG) == second.pid)
            status_code = WIFEXITED(w) ? WEXITSTATUS(w) : 128 + WTERMSIG(w);
        else
            ts_test_sleep_ms(100);
    }
    if (status_code < 0) {
        kill(second.pid, SIGKILL);
        waitpid(second.pid, NULL, 0);
        free(second.log);
        fail_msg("a second agent on the same database kept running");
    }
    assert_int_not_equal(status_code, 0);
    assert_true(ts_test_file_count(second.log, "another tramsync agent") >= 1);
    free(second.log);
    /* the first one was not disturbed */
    assert_true(get_status(s, &st) && st.reachable);
    assert_int_equal(ts_test_file_count(e->d.log, "event=session_replaced"), 0);
    assert_int_equal(ts_test_station_stop(s, 10000), 0);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 4. one certificate, two computers */

static void test_replaced_backs_off(void **state)
{
    env *e = *state;
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);
    char *other = ts_xasprintf("%s/other-pc", e->dir);
    assert_int_equal(mkdir(other, 0700), 0);
    const char *sets[] = {"sync.backoff_max=5m", NULL};
    ts_test_station *a = station(e, e->dir, e->d.port, sets);
    ts_test_station *b = station(e, other, e->d.port, sets);
    ts_test_station_start(a);
    ts_test_station_start(b);
    ts_test_sleep_ms(10000);
    int replaced = ts_test_file_count(e->d.log, "event=session_replaced");
    print_message("one certificate on two computers: %d replacements in 10 s\n", replaced);
    assert_true(replaced >= 1 && replaced <= 8);
    /* whichever lost said why */
    assert_true(ts_test_file_count(a->log, "another computer") + ts_test_file_count(b->log, "another computer") >= 1);
    ts_test_station_stop(a, 10000);
    ts_test_station_stop(b, 10000);
    free(other);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 5. what ended a connection */

/* The n-th (0-based) `event=disconnected` line of the agent's log, waiting
 * for it up to 10 s; caller frees. */
static char *disconnect_line(ts_test_station *s, int n)
{
    for (int waited = 0; waited < 10000; waited += 50) {
        char *txt = ts_read_file(s->log, NULL);
        int k = 0;
        for (char *line = txt ? strtok(txt, "\n") : NULL; line; line = strtok(NULL, "\n")) {
            if (strstr(line, "event=disconnected") && k++ == n) {
                char *copy = ts_xstrdup(line);
                free(txt);
                return copy;
            }
        }
        free(txt);
        ts_test_sleep_ms(50);
    }
    fail_msg("the agent logged no disconnection number %d", n + 1);
    return NULL;
}

/* The next disconnection is logged as a fault, its detail holding one of
 * the phrases given. */
static void expect_fault(ts_test_station *s, int n, const char *a, const char *b)
{
    char *line = disconnect_line(s, n);
    bool said = strstr(line, a) != NULL || (b != NULL && strstr(line, b) != NULL);
    if (strstr(line, "reason=normal") != NULL || !said)
        fail_msg("disconnection %d logged as: %s", n + 1, line);
    print_message("fault %d: %s\n", n + 1, strstr(line, "reason="));
    free(line);
}

static void test_disconnect_reasons(void **state)
{
    env *e = *state;
    /* enough directory records that the first pull answer is ~0.5 MB */
    ts_store *st = ts_test_open(e->dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    char addr[320];
    ts_rng rng;
    ts_rng_seed(&rng, 14);
    for (int i = 0; i < 1500; i++) {
        char id[32];
        snprintf(id, sizeof id, "st-%04d", i);
        /* random text: compressed frames (zstd) stay large enough to cut */
        memcpy(addr, "address=", 8);
        for (int k = 8; k < 300; k++)
            addr[k] = "0123456789abcdefghijklmnopqrstuvwxyz"[ts_rng_below(&rng, 36)];
        addr[300] = '\0';
        ts_error err;
        if (ts_test_put(st, "stations", id, NULL, &err, "name=Trạm Y tế", "commune=Bình Xuyên", addr,
                        (const char *)NULL) < 0)
            fail_msg("put: %s", err.msg);
    }
    ts_store_close(st);
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);
    ts_test_proxy_start(&e->proxy, e->d.port);
    e->proxy_on = true;

    /* cut 40 kB into the first answers: inside the first CHANGES frame */
    atomic_store(&e->proxy.cut_after, 40000);
    ts_test_station *s = station(e, e->dir, e->proxy.port, NULL);
    ts_test_station_start(s);
    expect_fault(s, 0, "in the middle of a frame", NULL);
    status stt;
    assert_true(wait_reachable(s, true, 20000, &stt) >= 0);

    /* a reset: the kernel may show it as a reset or, when it races the
     * agent's own read, as the end of the stream; never as a normal end */
    atomic_store(&e->proxy.reset_clients, 1);
    expect_fault(s, 1, "the connection was reset", "closed without TLS close_notify");
    assert_true(wait_reachable(s, true, 20000, &stt) >= 0);

    atomic_store(&e->proxy.cut_clients, 1);
    expect_fault(s, 2, "closed without TLS close_notify", NULL);
    assert_true(wait_reachable(s, true, 20000, &stt) >= 0);
    /* none of them passed for a normal end */
    assert_int_equal(ts_test_file_count(s->log, "event=disconnected station=binhnguyen reason=normal"), 0);
    assert_int_equal(ts_test_station_stop(s, 10000), 0);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 6. a clock that was ahead */

#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

static bool status_says(ts_test_station *s, const char *needle, int timeout_ms, char *seen, size_t size)
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    do {
        char *txt = NULL;
        if (ts_test_station_cli(s, &txt, "--json", "status", NULL) == 0 && txt != NULL) {
            json_t *o = json_loads(txt, 0, NULL);
            const char *clock = o ? json_string_value(json_object_get(o, "clock_problem")) : NULL;
            snprintf(seen, size, "%s", clock ? clock : "");
            bool found = needle[0] ? strstr(seen, needle) != NULL : seen[0] == '\0';
            json_decref(o);
            free(txt);
            if (found)
                return true;
        } else {
            free(txt);
        }
        ts_test_sleep_ms(200);
    } while (ts_test_now_ms() < end);
    return false;
}

static void test_clock_ahead_then_fixed(void **state)
{
    env *e = *state;
    if (access(FAKETIME_LIB, R_OK) != 0)
        fail_msg("%s is missing (Debian package faketime, installed by make deps)", FAKETIME_LIB);
    char *bin = ts_test_release_bin("tramsync");
    if (access(bin, X_OK) != 0)
        fail_msg("%s is missing: this test runs the release build (make)", bin);
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);
    ts_test_station *s = station(e, e->dir, e->d.port, NULL);

    /* the PC's clock three hours ahead: the agent and the command line */
    static const char *const ahead[] = {"FAKETIME=+3h", "FAKETIME_DONT_FAKE_MONOTONIC=1", "LD_PRELOAD=" FAKETIME_LIB,
                                        NULL};
    s->bin = bin;
    s->env = ahead;
    ts_test_station_start(s);
    status st;
    assert_true(wait_reachable(s, true, 20000, &st) >= 0);
    char *out = NULL;
    assert_int_equal(ts_test_station_cli(s, &out, "put", "residents", "BN-C1", "full_name=Lan", "birth_date=1985-04-12",
                                         "sex=female", NULL),
                     0);
    free(out);
    char seen[512];
    if (!status_says(s, "ahead of the district", 15000, seen, sizeof seen))
        fail_msg("status with the clock 3 h ahead: \"%s\"", seen);
    print_message("clock ahead: %s\n", seen);

    /* the clock is fixed; what was written meanwhile, and what is written
     * now, is still stamped ahead and refused */
    assert_int_equal(ts_test_station_stop(s, 10000), 0);
    s->bin = NULL;
    s->env = NULL;
    ts_test_station_start(s);
    assert_true(wait_reachable(s, true, 20000, &st) >= 0);
    assert_int_equal(ts_test_station_cli(s, &out, "put", "residents", "BN-C2", "full_name=Hoa", "birth_date=1990-01-01",
                                         "sex=female", NULL),
                     0);
    free(out);
    if (!status_says(s, "clock-fix", 15000, seen, sizeof seen))
        fail_msg("status once the clock is right: \"%s\"", seen);
    print_message("clock fixed: %s\n", seen);
    assert_true(strstr(seen, "takes them from") != NULL);
    assert_int_equal(district_count(e, "SELECT count(*) FROM records WHERE id LIKE 'BN-C%'"), 0);

    /* without --yes it only says what it would do */
    assert_int_equal(ts_test_station_cli(s, &out, "--lang", "en", "clock-fix", NULL), 0);
    assert_non_null(strstr(out, "stamped up to 2 h"));
    free(out);
    assert_true(get_status(s, &st) && st.pending == 2);
    assert_int_equal(ts_test_station_cli(s, &out, "--lang", "en", "clock-fix", "--yes", NULL), 0);
    assert_non_null(strstr(out, "Done"));
    free(out);
    uint64_t t0 = ts_test_now_ms();
    while (district_count(e, "SELECT count(*) FROM records WHERE id LIKE 'BN-C%'") != 2) {
        if (ts_test_now_ms() - t0 > 15000)
            fail_msg("the re-stamped changes did not reach the district");
        ts_test_sleep_ms(200);
    }
    print_message("clock-fix: both changes at the district %llu ms later\n",
                  (unsigned long long)(ts_test_now_ms() - t0));
    assert_true(status_says(s, "", 10000, seen, sizeof seen));
    assert_int_equal(ts_test_station_stop(s, 10000), 0);
    free(bin);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 7. a full station disk */

static int smallfs_rc;

/* The admin API with the district admin's certificate: the HTTP status. */
static int admin_post(env *e, const char *path, const char *body)
{
    char *cert = ts_test_pki_cert(&e->pki, "admin"), *key = ts_test_pki_key(&e->pki, "admin");
    ts_th_opts o = {e->pki.ca, cert, key, NULL};
    ts_th_resp r;
    int code = ts_th_call(e->d.admin_port, &o, "POST", path, NULL, "application/json", body, &r) < 0 ? -1 : r.status;
    if (code >= 0)
        ts_th_resp_free(&r);
    free(cert);
    free(key);
    return code;
}

static json_t *status_json(ts_test_station *s)
{
    char *txt = NULL;
    int rc = ts_test_station_cli(s, &txt, "--json", "status", NULL);
    json_t *o = rc == 0 ? json_loads(txt, 0, NULL) : NULL;
    free(txt);
    return o;
}

/* The station's population in its copy of the directory, or -1. */
static long station_population(ts_test_station *s)
{
    char *txt = NULL;
    long v = -1;
    if (ts_test_station_cli(s, &txt, "--json", "get", "stations", BN, NULL) == 0) {
        json_t *o = json_loads(txt, 0, NULL);
        json_t *f = json_object_get(o, "fields");
        json_t *p = json_object_get(f ? f : o, "population");
        if (json_is_integer(p))
            v = (long)json_integer_value(p);
        json_decref(o);
    }
    free(txt);
    return v;
}

static bool wait_population(ts_test_station *s, long want, int timeout_ms)
{
    uint64_t t0 = ts_test_now_ms();
    while (ts_test_now_ms() - t0 < (uint64_t)timeout_ms) {
        if (station_population(s) == want)
            return true;
        ts_test_sleep_ms(200);
    }
    return false;
}

static void test_station_disk_full(void **state)
{
    env *e = *state;
    if (smallfs_rc < 0) {
        print_message("skipped: no small filesystem to fill (%s); this test needs root or user namespaces\n",
                      strerror(-smallfs_rc));
        e->passed = true;
        skip();
    }
    char *small = ts_xasprintf("%s/small", e->dir);
    int rc = ts_test_smallfs_mount(small, (size_t)8 << 20);
    if (rc < 0)
        fail_msg("cannot mount a tmpfs on %s: %s", small, strerror(-rc));
    e->small = small;
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);
    ts_test_station *s = station(e, small, e->d.port, NULL);
    ts_test_station_start(s);
    status st;
    assert_true(wait_reachable(s, true, 20000, &st) >= 0);
    assert_int_equal(admin_post(e, "/api/records/stations/" BN,
                                "{\"fields\":{\"name\":\"Trạm Y tế xã Bình Nguyên\",\"commune\":\"Bình Nguyên\","
                                "\"population\":12450}}"),
                     200);
    if (!wait_population(s, 12450, 20000))
        fail_msg("the station never received its directory record");

    /* the disk fills up; then the district changes the record */
    long filled = ts_test_smallfs_fill(small);
    assert_true(filled > 0);
    assert_int_equal(admin_post(e, "/api/records/stations/" BN, "{\"fields\":{\"population\":13020}}"), 200);
    json_t *o = NULL;
    const char *problem = "";
    uint64_t t0 = ts_test_now_ms();
    while (ts_test_now_ms() - t0 < 30000) {
        json_decref(o);
        o = status_json(s);
        const char *p = o ? json_string_value(json_object_get(o, "storage_problem")) : NULL;
        problem = p ? p : "";
        if (problem[0])
            break;
        ts_test_sleep_ms(200);
    }
    if (problem[0] == '\0')
        fail_msg("status never said the station database cannot be written (status: %s)",
                 o ? json_dumps(o, JSON_COMPACT) : "no answer");
    print_message("status says: %s\n", problem);
    if (strstr(problem, "disk is full") == NULL)
        fail_msg("storage_problem does not say the disk is full: %s", problem);
    assert_true(json_is_true(json_object_get(o, "agent_running")));
    assert_true(json_integer_value(json_object_get(o, "storage_problem_since_ms")) > 0);
    json_decref(o);
    assert_true(ts_test_log_wait(s->log, "event=storage_failing", 5000));

    /* people read it, in Vietnamese by default and in English when asked */
    char *txt = NULL;
    assert_int_equal(ts_test_station_cli(s, &txt, "--lang", "vi", "status", NULL), 0);
    if (strstr(txt, "LỖI GHI DỮ LIỆU") == NULL || strstr(txt, "giải phóng dung lượng") == NULL)
        fail_msg("status (vi) does not show the storage failure:\n%s", txt);
    free(txt);
    assert_int_equal(ts_test_station_cli(s, &txt, "--lang", "en", "status", "--brief", NULL), 0);
    if (strstr(txt, "STORAGE FAILING") == NULL)
        fail_msg("status --brief (en) does not show the storage failure:\n%s", txt);
    free(txt);
    assert_int_equal(ts_test_station_cli(s, &txt, "--lang", "vi", "status", "--brief", NULL), 0);
    if (strstr(txt, "LỖI GHI DỮ LIỆU") == NULL)
        fail_msg("status --brief (vi) does not show the storage failure:\n%s", txt);
    free(txt);
    assert_int_equal(station_population(s), 12450);

    /* space again: the change arrives by itself and the failure clears */
    ts_test_smallfs_unfill(small);
    if (!wait_population(s, 13020, 30000))
        fail_msg("after space was freed the district's change never arrived");
    t0 = ts_test_now_ms();
    char still[400] = "x";
    while (ts_test_now_ms() - t0 < 10000 && still[0]) {
        o = status_json(s);
        const char *p = o ? json_string_value(json_object_get(o, "storage_problem")) : NULL;
        snprintf(still, sizeof still, "%s", p ? p : "x");
        json_decref(o);
        if (still[0])
            ts_test_sleep_ms(200);
    }
    if (still[0])
        fail_msg("the storage failure is still shown after space was freed: %s", still);
    assert_true(ts_test_log_wait(s->log, "event=storage_recovered", 5000));
    assert_int_equal(ts_test_station_stop(s, 15000), 0);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 8. the agent's report */

static long district_pending_reported(env *e)
{
    return ts_test_sql_count(e->dir, "district.db",
                             "SELECT count(*) FROM records WHERE tbl = 'station_agent_status' AND id = '" BN "'");
}

static void test_agent_report_settles(void **state)
{
    env *e = *state;
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);
    const char *sets[] = {"sync.status_every=1s", NULL};
    ts_test_station *s = station(e, e->dir, e->d.port, sets);
    ts_test_station_start(s);
    status st;
    assert_true(wait_reachable(s, true, 20000, &st) >= 0);
    for (int i = 0; i < 5; i++) {
        char id[32], *out = NULL;
        snprintf(id, sizeof id, "BN-RS%d", i);
        assert_int_equal(ts_test_station_cli(s, &out, "put", "residents", id, "full_name=Nguyễn Văn Báo Cáo",
                                             "birth_date=1980-01-01", "sex=male", NULL),
                         0);
        free(out);
    }
    /* the report arrives, and says nothing waits once everything went */
    uint64_t t0 = ts_test_now_ms();
    char *out = NULL;
    bool zero = false;
    while (!zero && ts_test_now_ms() - t0 < 20000) {
        free(out);
        out = NULL;
        if (district_pending_reported(e) == 1 &&
            ts_test_station_cli(s, &out, "--json", "get", "station_agent_status", BN, NULL) == 0) {
            json_t *o = json_loads(out, 0, NULL);
            json_t *f = json_object_get(o, "fields");
            zero = json_integer_value(json_object_get(f, "pending_changes")) == 0 &&
                   json_object_get(f, "pending_changes") != NULL && get_status(s, &st) && st.pending == 0;
            json_decref(o);
        }
        if (!zero)
            ts_test_sleep_ms(200);
    }
    if (!zero)
        fail_msg("the station's report never reached the district saying nothing waits: %s", out ? out : "");
    free(out);
    /* settled: no push for its own report, again and again */
    ts_test_sleep_ms(1500);
    int pushes = ts_test_file_count(s->log, "event=pushed");
    ts_test_sleep_ms(4000);
    int later = ts_test_file_count(s->log, "event=pushed");
    if (later != pushes)
        fail_msg("the agent pushed %d more time(s) with nothing to say", later - pushes);
    assert_int_equal(ts_test_station_stop(s, 15000), 0);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* before any child or thread: the small disk lives in our own namespace */
    smallfs_rc = ts_test_smallfs_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dead_path_noticed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steady_writes_pushed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_agent_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaced_backs_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_ahead_then_fixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_station_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_report_settles, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
