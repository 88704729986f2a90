/* The admin port and the accounts against an outsider (issue 13 of the
 * security audit), on the real tramsyncd over HTTPS on 127.0.0.1:
 *
 *  1. slow clients: the TLS handshake and a request's headers within
 *     header_timeout, its body at body_min_rate (408, then closed), whatever
 *     the idle timeout; connections of one address not yet logged in are
 *     capped; /api/health answers throughout; HSTS on every answer
 *  2. failed logins: the same answer for unknown and known names, throttled
 *     by address and over all addresses, never for this host; an admin lifts
 *     a block; no account can be locked out by others
 *  3. a new password ends the account's other sessions and event streams
 *  4. a reload whose CRL revokes an admin certificate closes its connections
 *  5. one identifier rule for account names and record ids on every path
 *     (admin API, sync push, station command line)
 *  6. every endpoint that answers with personal values writes an audit entry
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/ts_hlc.h"
#include "common/ts_version.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
#include "server/admin/ts_admin_int.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_watchdog.h"

#define TEST_LIMIT_S 200
#define PASSWORD "mat-khau-dai-2026"
#define BN "binhnguyen"

typedef struct env {
    char *dir;
    ts_test_pki pki;
    bool pki_made;
    ts_test_daemon d;
    ts_th_opts o;      /* verifies the server */
    ts_th_opts admin;  /* with the admin certificate */
    char *admin_cert, *admin_key;
    bool passed;
} env;

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("hardening-admin");
    const char *codes[] = {BN};
    ts_test_pki_make(&e->pki, e->dir, codes, 1);
    e->pki_made = true;
    e->o.ca = e->pki.ca;
    e->admin_cert = ts_test_pki_cert(&e->pki, "admin");
    e->admin_key = ts_test_pki_key(&e->pki, "admin");
    e->admin = (ts_th_opts){e->pki.ca, e->admin_cert, e->admin_key, NULL};
    assert_int_equal(ts_test_add_user(e->dir, "admin", "admin", PASSWORD), 0);
    assert_int_equal(ts_test_add_user(e->dir, "lan", "operator", PASSWORD), 0);
    ts_test_watchdog_arm("test_hardening_admin", TEST_LIMIT_S);
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
    free(e->admin_cert);
    free(e->admin_key);
    if (e->pki_made)
        ts_test_pki_free(&e->pki);
    ts_tmpdir_remove(e->dir);
    free(e);
    return 0;
}

static void start(env *e, const char *const *sets)
{
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);
}

/* One request on a fresh connection (from `source` when not NULL). */
static ts_th_resp call(env *e, const char *source, const char *method, const char *path, const char *headers,
                       const char *body)
{
    ts_th_opts o = e->o;
    o.source = source;
    ts_th_resp r;
    if (ts_th_call(e->d.admin_port, &o, method, path, headers, body ? "application/json" : NULL, body, &r) < 0)
        fail_msg("%s %s: no answer", method, path);
    return r;
}

static ts_th_resp call_admin_cert(env *e, const char *method, const char *path, const char *body)
{
    ts_th_resp r;
    if (ts_th_call(e->d.admin_port, &e->admin, method, path, NULL, body ? "application/json" : NULL, body, &r) < 0)
        fail_msg("%s %s with the admin certificate: no answer", method, path);
    return r;
}

/* The status of a login; *token set (caller frees) on 200. */
static int login(env *e, const char *source, const char *user, const char *password, char **token, char **body)
{
    char *json = ts_xasprintf("{\"username\":\"%s\",\"password\":\"%s\"}", user, password);
    ts_th_resp r = call(e, source, "POST", "/api/login", NULL, json);
    free(json);
    if (token)
        *token = r.status == 200 ? ts_xstrdup(json_string_value(json_object_get(r.json, "token"))) : NULL;
    if (body)
        *body = ts_xstrdup(r.body ? r.body : "");
    int status = r.status;
    ts_th_resp_free(&r);
    return status;
}

static char *bearer(const char *token)
{
    return ts_xasprintf("Authorization: Bearer %s\r\n", token);
}

static int status_with(env *e, const char *token, const char *method, const char *path, const char *body)
{
    char *h = bearer(token);
    ts_th_resp r = call(e, NULL, method, path, h, body);
    free(h);
    int s = r.status;
    ts_th_resp_free(&r);
    return s;
}

static bool closed_within(int fd, int timeout_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1)
        return false;
    char buf[4096];
    /* a 408 may come first: the connection ends after it */
    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return true;
        if (poll(&p, 1, timeout_ms) != 1)
            return false;
    }
    return false;
}

static long sql_count(const env *e, const char *sql)
{
    return ts_test_sql_count(e->dir, "district.db", sql);
}

/* ================================================================ 1. slow clients */

static void test_slow_requests(void **state)
{
    env *e = *state;
    const char *sets[] = {"admin.header_timeout=2s", "admin.body_timeout=2s", "admin.body_min_rate=1MiB",
                          "admin.max_unauthenticated=6", NULL};
    start(e, sets);
    uint64_t t0 = ts_test_now_ms();

    /* (a) headers one byte every 200 ms; (b) a 100 kB body one byte every
     * 200 ms; (c) TLS and then nothing */
    ts_th hdr, body, idle;
    assert_int_equal(ts_th_connect(&hdr, e->d.admin_port, &e->o), 0);
    assert_int_equal(ts_th_connect(&body, e->d.admin_port, &e->o), 0);
    assert_int_equal(ts_th_connect(&idle, e->d.admin_port, &e->o), 0);
    static const char head[] = "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               "Content-Length: 100000\r\n\r\n";
    assert_int_equal(ts_th_send_raw(&body, head, sizeof head - 1), 0);
    static const char slow[] = "GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    bool hdr_closed = false, body_closed = false;
    for (size_t i = 0; i < sizeof slow - 1 && ts_test_now_ms() - t0 < 6000; i++) {
        if (!hdr_closed && ts_th_send_raw(&hdr, slow + i, 1) < 0)
            hdr_closed = true;
        if (!body_closed && ts_th_send_raw(&body, "{", 1) < 0)
            body_closed = true;
        /* /api/health answers meanwhile */
        ts_th_resp r = call(e, NULL, "GET", "/api/health", NULL, NULL);
        assert_int_equal(r.status, 200);
        char *hsts = ts_th_header(&r, "Strict-Transport-Security");
        if (hsts == NULL || strstr(hsts, "max-age=31536000") == NULL)
            fail_msg("no HSTS header on /api/health");
        free(hsts);
        ts_th_resp_free(&r);
        struct pollfd p[2] = {{hdr.fd, POLLIN, 0}, {body.fd, POLLIN, 0}};
        if (poll(p, 2, 200) > 0 && (p[0].revents || p[1].revents))
            break;
    }
    ts_th_resp r;
    assert_int_equal(ts_th_read(&hdr, &r, 5000), 0);
    assert_int_equal(r.status, 408);
    ts_th_resp_free(&r);
    uint64_t at_hdr = ts_test_now_ms() - t0;
    assert_true(closed_within(hdr.fd, 3000));
    assert_int_equal(ts_th_read(&body, &r, 5000), 0);
    assert_int_equal(r.status, 408);
    ts_th_resp_free(&r);
    assert_true(closed_within(body.fd, 3000));
    assert_true(closed_within(idle.fd, 5000));
    uint64_t at_idle = ts_test_now_ms() - t0;
    print_message("slow admin clients: headers cut after %llu ms, the idle connection after %llu ms "
                  "(idle timeout 120 s)\n",
                  (unsigned long long)at_hdr, (unsigned long long)at_idle);
    assert_true(at_hdr < 4500 && at_idle < 5500);
    ts_th_close(&hdr);
    ts_th_close(&body);
    ts_th_close(&idle);
    assert_true(ts_test_log_wait(e->d.log, "event=admin_request_timeout", 1000));
    assert_true(ts_test_file_count(e->d.log, "phase=body") >= 1);

    /* connections not logged in, per address: six are held, the seventh is
     * refused; once one of them logs in, there is room again */
    ts_th c[7];
    for (int i = 0; i < 6; i++)
        assert_int_equal(ts_th_connect(&c[i], e->d.admin_port, &e->o), 0);
    int rc = ts_th_connect(&c[6], e->d.admin_port, &e->o);
    assert_true(rc < 0 || closed_within(c[6].fd, 2000));
    ts_th_close(&c[6]);
    assert_true(ts_test_log_wait(e->d.log, "reason=per_address", 1000));
    ts_th_resp lr;
    assert_int_equal(ts_th_request(&c[0], "POST", "/api/login", NULL, "application/json",
                                   "{\"username\":\"lan\",\"password\":\"" PASSWORD "\"}", &lr),
                     0);
    assert_int_equal(lr.status, 200);
    ts_th_resp_free(&lr);
    assert_int_equal(ts_th_connect(&c[6], e->d.admin_port, &e->o), 0);
    assert_int_equal(ts_th_request(&c[6], "GET", "/api/health", NULL, NULL, NULL, &lr), 0);
    assert_int_equal(lr.status, 200);
    ts_th_resp_free(&lr);
    for (int i = 0; i < 7; i++)
        ts_th_close(&c[i]);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 2. failed logins */

static void test_login_throttle(void **state)
{
    env *e = *state;
    /* 127.0.0.1 is this host (trusted); the others come from 127.0.0.2 and .3 */
    const char *sets[] = {"admin.lockout_after=3", "admin.lockout_for=10m", "admin.login_failures_per_minute=8", NULL};
    start(e, sets);
    const char *A = "127.0.0.2", *B = "127.0.0.3";

    /* an unknown name and a known one are answered alike */
    char *unknown = NULL, *known = NULL;
    assert_int_equal(login(e, A, "ghost", "not-the-password", NULL, &unknown), 401);
    assert_int_equal(login(e, A, "lan", "not-the-password", NULL, &known), 401);
    assert_string_equal(unknown, known);
    free(unknown);
    free(known);
    /* the third failure from A blocks A, for every name, right password or not */
    assert_int_equal(login(e, A, "admin", "not-the-password", NULL, NULL), 401);
    char *b1 = NULL, *b2 = NULL;
    assert_int_equal(login(e, A, "lan", PASSWORD, NULL, &b1), 429);
    assert_int_equal(login(e, A, "ghost", PASSWORD, NULL, &b2), 429);
    assert_string_equal(b1, b2);
    assert_non_null(strstr(b1, "TOO_MANY_ATTEMPTS"));
    free(b1);
    free(b2);
    /* nobody else is locked out: not lan, not admin */
    char *tok = NULL;
    assert_int_equal(login(e, B, "lan", PASSWORD, &tok, NULL), 200);
    free(tok);
    assert_int_equal(login(e, NULL, "admin", PASSWORD, &tok, NULL), 200);
    free(tok);
    /* an admin lifts A's block (here with the admin certificate: no login) */
    ts_th_resp r = call_admin_cert(e, "POST", "/api/login-blocks/clear", "{\"address\":\"127.0.0.2\"}");
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);
    assert_int_equal(login(e, A, "lan", PASSWORD, &tok, NULL), 200);
    free(tok);
    /* this host is never throttled */
    for (int i = 0; i < 5; i++)
        assert_int_equal(login(e, NULL, "admin", "not-the-password", NULL, NULL), 401);
    assert_int_equal(login(e, NULL, "admin", PASSWORD, &tok, NULL), 200);
    free(tok);
    /* over all addresses: 8 failures in a minute (A's 3, this host's 5
     * counted too) pause logins from everywhere but this host */
    assert_int_equal(login(e, B, "ghost", "x-not-the-password", NULL, NULL), 429);
    assert_int_equal(login(e, "127.0.0.4", "lan", PASSWORD, NULL, NULL), 429);
    assert_int_equal(login(e, NULL, "lan", PASSWORD, &tok, NULL), 200);
    free(tok);
    r = call_admin_cert(e, "POST", "/api/login-blocks/clear", "{}");
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);
    assert_int_equal(login(e, "127.0.0.4", "lan", PASSWORD, &tok, NULL), 200);
    free(tok);
    assert_true(ts_test_log_wait(e->d.log, "event=admin_login_throttled", 1000));
    assert_true(ts_test_file_count(e->d.log, "scope=all") >= 1);
    /* names are one account whatever their case */
    assert_int_equal(login(e, NULL, "ADMIN", PASSWORD, &tok, NULL), 200);
    free(tok);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 3. a new password */

static void test_password_change_ends_sessions(void **state)
{
    env *e = *state;
    start(e, NULL);
    char *lan1, *lan2, *adm1, *adm2;
    assert_int_equal(login(e, NULL, "lan", PASSWORD, &lan1, NULL), 200);
    assert_int_equal(login(e, NULL, "lan", PASSWORD, &lan2, NULL), 200);
    assert_int_equal(login(e, NULL, "admin", PASSWORD, &adm1, NULL), 200);
    assert_int_equal(login(e, NULL, "admin", PASSWORD, &adm2, NULL), 200);
    /* lan keeps an event stream open */
    ts_th sse;
    assert_int_equal(ts_th_connect(&sse, e->d.admin_port, &e->o), 0);
    char *h = ts_xasprintf("GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", lan2);
    assert_int_equal(ts_th_send_raw(&sse, h, strlen(h)), 0);
    free(h);
    assert_true(ts_th_read_until(&sse, "stream open", 5000, NULL));

    /* an admin resets lan's password: both of lan's sessions end, and its stream */
    assert_int_equal(status_with(e, adm1, "POST", "/api/users/lan", "{\"password\":\"mot-mat-khau-moi\"}"), 200);
    assert_int_equal(status_with(e, lan1, "GET", "/api/me", NULL), 401);
    assert_int_equal(status_with(e, lan2, "GET", "/api/me", NULL), 401);
    assert_true(closed_within(sse.fd, 5000));
    ts_th_close(&sse);
    char *tok;
    assert_int_equal(login(e, NULL, "lan", "mot-mat-khau-moi", &tok, NULL), 200);
    free(tok);
    /* the admin changes its own password: the session it did it from stays */
    assert_int_equal(status_with(e, adm1, "POST", "/api/users/admin", "{\"password\":\"mat-khau-admin-moi\"}"), 200);
    assert_int_equal(status_with(e, adm1, "GET", "/api/me", NULL), 200);
    assert_int_equal(status_with(e, adm2, "GET", "/api/me", NULL), 401);
    /* an update that sets no password ends nothing; an unknown name is not created */
    assert_int_equal(status_with(e, adm1, "POST", "/api/users/lan", "{\"role\":\"viewer\"}"), 200);
    assert_int_equal(status_with(e, adm1, "POST", "/api/users/nobody", "{\"role\":\"viewer\"}"), 404);
    free(lan1);
    free(lan2);
    free(adm1);
    free(adm2);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    assert_int_equal(sql_count(e, "SELECT count(*) FROM admin_users WHERE username = 'nobody'"), 0);
    e->passed = true;
}

/* ================================================================ 4. revoked admin certificate */

static void test_revoked_admin_certificate(void **state)
{
    env *e = *state;
    start(e, NULL);
    ts_th c;
    assert_int_equal(ts_th_connect(&c, e->d.admin_port, &e->admin), 0);
    ts_th_resp r;
    assert_int_equal(ts_th_request(&c, "GET", "/api/me", NULL, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);
    ts_test_pki_revoke(&e->pki, "admin");
    assert_int_equal(kill(e->d.pid, SIGHUP), 0);
    assert_true(closed_within(c.fd, 10000));
    ts_th_close(&c);
    assert_true(ts_test_log_wait(e->d.log, "event=admin_session_revoked", 1000));
    /* and it is refused from now on */
    int rc = ts_th_connect(&c, e->d.admin_port, &e->admin);
    bool refused = rc < 0 || ts_th_request(&c, "GET", "/api/me", NULL, NULL, NULL, &r) < 0;
    if (!refused)
        ts_th_resp_free(&r);
    ts_th_close(&c);
    assert_true(refused);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ================================================================ 5. identifiers */

/* Look-alikes of names: Cyrillic а, a zero-width space, a right-to-left
 * override, a no-break space. */
static const char *const lookalikes[] = {"\xd0\xb0" "dmin", "admin\xe2\x80\x8b", "ad\xe2\x80\xae" "min",
                                         "adm\xc2\xa0in"};

static void test_identifier_rule(void **state)
{
    env *e = *state;
    start(e, NULL);
    char *adm;
    assert_int_equal(login(e, NULL, "admin", PASSWORD, &adm, NULL), 200);
    char *h = bearer(adm);
    for (size_t i = 0; i < sizeof lookalikes / sizeof *lookalikes; i++) {
        json_t *b = json_pack("{s:s,s:s,s:s}", "username", lookalikes[i], "password", PASSWORD, "role", "admin");
        char *body = json_dumps(b, 0);
        ts_th_resp r = call(e, NULL, "POST", "/api/users", h, body);
        if (r.status != 400 && r.status != 422)
            fail_msg("account name %zu was answered %d", i, r.status);
        ts_th_resp_free(&r);
        free(body);
        json_decref(b);
    }
    /* "Admin" beside "admin" is the same account, not a second one */
    ts_th_resp r = call(e, NULL, "POST", "/api/users", h,
                        "{\"username\":\"Lan\",\"password\":\"" PASSWORD "\",\"role\":\"viewer\"}");
    assert_int_equal(r.status, 201);
    ts_th_resp_free(&r);
    /* district record ids through the admin API */
    static const char *const bad_ids[] = {"ORS%E2%80%8B", "PARA500%E2%80%AE", "ORS%C2%A0X",
                                          "nguye%CC%82%CC%83n" /* decomposed */};
    for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
        char *path = ts_xasprintf("/api/records/drug_catalog/%s", bad_ids[i]);
        r = call(e, NULL, "POST", path, h, "{\"fields\":{\"name\":\"Oresol\"}}");
        if (r.status != 400 && r.status != 422)
            fail_msg("record id %s was answered %d", bad_ids[i], r.status);
        ts_th_resp_free(&r);
        free(path);
    }
    r = call(e, NULL, "POST", "/api/records/drug_catalog/nguy%E1%BB%85n", h, "{\"fields\":{\"name\":\"Oresol\"}}");
    assert_int_equal(r.status, 200); /* composed: an identifier */
    ts_th_resp_free(&r);
    free(h);

    /* a sync push: the bad id alone is refused, the rest of the push applied */
    ts_tc c;
    char *cert = ts_test_pki_cert(&e->pki, BN), *key = ts_test_pki_key(&e->pki, BN);
    ts_tc_opts o = {cert, key, e->pki.ca, 0, 0};
    assert_int_equal(ts_tc_connect(&c, e->d.port, &o), 0);
    free(cert);
    free(key);
    ts_msg w;
    assert_int_equal(ts_tc_hello(&c, BN, BN ".00000000000000a1", 0, NULL, 0, &w), 0);
    ts_msg_free(&w);
    ts_msg p;
    ts_msg_init(&p, TS_MSG_PUSH);
    p.u.push.batch = 1;
    static const char *const ids[] = {"BN-R001\xe2\x80\x8b", "PARA500\xe2\x80\xae", "BN-\xd0\xb0" "01",
                                      "nguye\xcc\x82\xcc\x83n", "BN-R002"};
    ts_change *ch = ts_msg_alloc_changes(&p, &p.u.push.changes, 5);
    for (uint32_t i = 0; i < 5; i++)
        ts_tc_make_resident(&p, &ch[i], ids[i], BN, BN ".00000000000000a1", i + 1, i + 1, "Nguyễn Thị Lan");
    assert_int_equal(ts_tc_send(&c, &p), 0);
    ts_msg_free(&p);
    ts_msg ack;
    assert_int_equal(ts_tc_expect(&c, TS_MSG_PUSH_ACK, &ack, 10000), 1);
    assert_int_equal(ack.u.push_ack.nresults, 5);
    for (uint32_t i = 0; i < 4; i++) {
        if (ack.u.push_ack.results[i].outcome != TS_OUTCOME_REJECTED)
            fail_msg("sync: id %u was %s", i, ts_outcome_name(ack.u.push_ack.results[i].outcome));
        assert_int_equal(ack.u.push_ack.results[i].code, (uint64_t)-TS_EBAD_VALUE);
    }
    assert_int_equal(ack.u.push_ack.results[4].outcome, TS_OUTCOME_APPLIED);
    ts_msg_free(&ack);
    ts_tc_close(&c);

    /* the station's command line */
    ts_test_station s;
    ts_test_station_make(&s, e->dir, BN, &e->pki, e->d.port, NULL);
    char *out = NULL;
    int rc = ts_test_station_cli(&s, &out, "put", "residents", "BN-R9\xe2\x80\x8b", "full_name=Lan",
                                 "birth_date=1985-04-12", "sex=female", NULL);
    assert_int_not_equal(rc, 0);
    free(out);
    rc = ts_test_station_cli(&s, &out, "put", "residents", "BN-R9", "full_name=Lan", "birth_date=1985-04-12",
                             "sex=female", NULL);
    assert_int_equal(rc, 0);
    free(out);
    ts_test_station_free(&s);
    free(adm);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    assert_int_equal(sql_count(e, "SELECT count(*) FROM admin_users"), 2);
    assert_int_equal(sql_count(e, "SELECT count(*) FROM records WHERE tbl = 'residents'"), 1);
    e->passed = true;
}

/* ================================================================ 6. personal values are audited */

#define MARK "Zmarker"

static void push_version(env *e, const char *rid, uint64_t batch, const char *name)
{
    ts_tc c;
    char *cert = ts_test_pki_cert(&e->pki, BN), *key = ts_test_pki_key(&e->pki, BN);
    ts_tc_opts o = {cert, key, e->pki.ca, 0, 0};
    assert_int_equal(ts_tc_connect(&c, e->d.port, &o), 0);
    free(cert);
    free(key);
    ts_msg w;
    assert_int_equal(ts_tc_hello(&c, BN, rid, 0, NULL, 0, &w), 0);
    ts_msg_free(&w);
    ts_msg p;
    ts_msg_init(&p, TS_MSG_PUSH);
    p.u.push.batch = batch;
    ts_change *ch = ts_msg_alloc_changes(&p, &p.u.push.changes, 1);
    ts_tc_make_resident(&p, ch, "BN-R1", BN, rid, 1, 1, name);
    assert_int_equal(ts_tc_send(&c, &p), 0);
    ts_msg_free(&p);
    ts_msg ack;
    assert_int_equal(ts_tc_expect(&c, TS_MSG_PUSH_ACK, &ack, 10000), 1);
    assert_int_equal(ack.u.push_ack.nresults, 1);
    assert_int_not_equal(ack.u.push_ack.results[0].outcome, TS_OUTCOME_REJECTED);
    ts_msg_free(&ack);
    ts_tc_close(&c);
}

static void test_personal_reads_audited(void **state)
{
    env *e = *state;
    start(e, NULL);
    /* two replicas of the station wrote the same resident concurrently: a
     * conflict whose both values are personal */
    push_version(e, BN ".00000000000000a1", 1, MARK " Nguyễn Thị Lan");
    push_version(e, BN ".00000000000000b2", 1, MARK " Nguyễn Thị Hoa");
    long conflict = sql_count(e, "SELECT min(id) FROM conflicts");
    assert_true(conflict > 0);
    char cid[32];
    snprintf(cid, sizeof cid, "%ld", conflict);
    char *adm;
    assert_int_equal(login(e, NULL, "admin", PASSWORD, &adm, NULL), 200);
    char *h = bearer(adm);

    int carrying = 0;
    for (size_t i = 0; i < ts_admin__nroutes; i++) {
        const ts_admin__route *rt = &ts_admin__routes[i];
        if (rt->method != HTTP_GET || strcmp(rt->pattern, "/api/events") == 0)
            continue;
        /* the pattern with its parameters filled in */
        char path[512] = "";
        for (const char *p = rt->pattern; *p;) {
            if (*p != '{') {
                strncat(path, p++, 1);
                continue;
            }
            const char *end = strchr(p, '}');
            size_t n = (size_t)(end - p - 1);
            const char *v = strncmp(p + 1, "code", n) == 0    ? BN
                            : strncmp(p + 1, "table", n) == 0 ? "residents"
                            : strstr(rt->pattern, "conflicts") ? cid
                            : strstr(rt->pattern, "records")   ? "BN-R1"
                                                               : "1";
            strncat(path, v, sizeof path - strlen(path) - 1);
            p = end + 1;
        }
        long before = sql_count(e, "SELECT count(*) FROM audit WHERE action = 'read'");
        ts_th_resp r = call(e, NULL, "GET", path, h, NULL);
        bool personal = r.body != NULL && strstr(r.body, MARK) != NULL;
        ts_th_resp_free(&r);
        if (!personal)
            continue;
        carrying++;
        long after = sql_count(e, "SELECT count(*) FROM audit WHERE action = 'read'");
        if (after <= before)
            fail_msg("GET %s answered with personal values and wrote no audit entry", path);
        print_message("audited: GET %s\n", path);
    }
    /* the records (list and one), the conflicts (list and one) at least */
    assert_true(carrying >= 4);
    free(h);
    free(adm);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slow_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_throttle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_change_ends_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoked_admin_certificate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identifier_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_personal_reads_audited, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
