/* The admin API and the console's files, against the real daemon over HTTPS
 * on loopback (tests/support/ts_test_http.h), with a real station agent for
 * the data the console shows (residents, reports, notices, a true conflict).
 *
 * Every endpoint: its success path; roles (no login 401, viewer and
 * operator refused where they must be, with the refusal audited); bad input
 * (413, 431, 400 malformed JSON, 422 wrong types, 415, 404, 405, 429 and
 * each query parameter the console uses; login throttling is test_hardening_admin's), session expiry
 * and logout; CSRF on cookie-authenticated writes; admin certificates; audit
 * entries for personal-record reads and for every write. Every error body
 * is checked for the {"error": {code, message}} shape and for internals
 * (SQL, stack traces, source paths), and no request may get a 5xx. */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/ts_buf.h"
#include "common/ts_hlc.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_station.h"

#define BN "binhnguyen"
#define XL "xuanlang"
#define PASSWORD "mat-khau-thu-nghiem"

typedef struct world {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    ts_test_station bn;
    char token_admin[96], token_operator[96], token_viewer[96];
    int errors_checked;
} world;

static world W;

/* ---------------------------------------------------------------- checks on every response */

/* An error answer is {"error": {"code", "message"}} and shows nothing of the
 * inside: no SQL, no SQLite, no stack trace, no source file. */
static void check_error_body(const ts_th_resp *r, const char *what)
{
    if (r->status >= 500)
        fail_msg("%s: got %d: %s", what, r->status, r->body);
    if (r->status < 400)
        return;
    W.errors_checked++;
    json_t *e = json_object_get(r->json, "error");
    if (!json_is_string(json_object_get(e, "code")) || !json_is_string(json_object_get(e, "message")))
        fail_msg("%s: error %d without {error:{code,message}}: %s", what, r->status, r->body);
    static const char *const leaks[] = {"SELECT",  "INSERT",  "UPDATE ", "DELETE FROM", "sqlite", "SQLITE",
                                        "syntax error", "Traceback", "#0 ",   "0x7f",       ".c:",    "AddressSanitizer",
                                        "stack",   "errno"};
    for (size_t i = 0; i < sizeof leaks / sizeof *leaks; i++)
        if (strstr(r->body, leaks[i]) != NULL)
            fail_msg("%s: error body shows internals (\"%s\"): %s", what, leaks[i], r->body);
}

/* ---------------------------------------------------------------- requests */

typedef enum { AS_NONE, AS_VIEWER, AS_OPERATOR, AS_ADMIN } as_t;

static const char *token_of(as_t as)
{
    return as == AS_ADMIN ? W.token_admin : as == AS_OPERATOR ? W.token_operator : as == AS_VIEWER ? W.token_viewer : "";
}

/* A request with a bearer token (no CSRF header needed) on a fresh connection. */
static ts_th_resp req(as_t as, const char *method, const char *path, const char *json_body)
{
    char headers[200] = "";
    if (as != AS_NONE)
        snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\n", token_of(as));
    ts_th_resp r;
    if (ts_th_call(W.d.admin_port, NULL, method, path, headers, json_body ? "application/json" : NULL, json_body, &r) < 0)
        fail_msg("%s %s: no answer", method, path);
    char what[300];
    snprintf(what, sizeof what, "%s %s", method, path);
    check_error_body(&r, what);
    return r;
}

static ts_th_resp reqf(as_t as, const char *method, const char *json_body, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static ts_th_resp reqf(as_t as, const char *method, const char *json_body, const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    return req(as, method, path, json_body);
}

static void expect(as_t as, const char *method, const char *path, const char *body, int status)
{
    ts_th_resp r = req(as, method, path, body);
    if (r.status != status)
        fail_msg("%s %s: expected %d, got %d: %s", method, path, status, r.status, r.body);
    ts_th_resp_free(&r);
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static json_int_t jint(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static char *login(const char *user, const char *password, int *status, char **cookie)
{
    char *body = ts_xasprintf("{\"username\":\"%s\",\"password\":\"%s\"}", user, password);
    ts_th_resp r;
    if (ts_th_call(W.d.admin_port, NULL, "POST", "/api/login", NULL, "application/json", body, &r) < 0)
        fail_msg("login: no answer");
    free(body);
    check_error_body(&r, "POST /api/login");
    *status = r.status;
    char *token = r.status == 200 ? ts_xstrdup(jstr(r.json, "token")) : NULL;
    if (cookie) {
        char *sc = ts_th_header(&r, "Set-Cookie");
        *cookie = sc;
    }
    ts_th_resp_free(&r);
    return token;
}

/* Whether an audit entry matches (actor, action, table, record; NULL: any),
 * read as the admin. */
static bool audited(const char *actor, const char *action, const char *table, const char *record, const char *detail_has)
{
    ts_th_resp r = reqf(AS_ADMIN, "GET", NULL, "/api/audit?limit=1000%s%s%s%s", action ? "&action=" : "",
                        action ? action : "", table ? "&table=" : "", table ? table : "");
    assert_int_equal(r.status, 200);
    bool found = false;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r.json, "entries"), i, e) {
        if (actor && strcmp(jstr(e, "actor"), actor) != 0)
            continue;
        if (record && strcmp(jstr(e, "record"), record) != 0)
            continue;
        if (detail_has && strstr(jstr(e, "detail"), detail_has) == NULL)
            continue;
        found = true;
        break;
    }
    ts_th_resp_free(&r);
    return found;
}

/* ---------------------------------------------------------------- fixture */

static void wait_for(const char *what, int timeout_ms, bool (*cond)(void))
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    while (!cond()) {
        if (ts_test_now_ms() > end)
            fail_msg("timed out waiting for %s", what);
        ts_test_sleep_ms(100);
    }
}

static bool resident_at_district(void)
{
    ts_th_resp r = req(AS_ADMIN, "GET", "/api/records/residents/BN-R001", NULL);
    bool ok = r.status == 200;
    ts_th_resp_free(&r);
    return ok;
}

static int setup(void **state)
{
    (void)state;
    memset(&W, 0, sizeof W);
    W.dir = ts_tmpdir_make("admin-api");
    const char *stations[] = {BN, XL};
    ts_test_pki_make(&W.pki, W.dir, stations, 2);
    assert_int_equal(ts_test_add_user(W.dir, "admin1", "admin", PASSWORD), 0);
    assert_int_equal(ts_test_add_user(W.dir, "operator1", "operator", PASSWORD), 0);
    assert_int_equal(ts_test_add_user(W.dir, "viewer1", "viewer", PASSWORD), 0);
    char *console = ts_source_path("server/console");
    char *console_set = ts_xasprintf("admin.console_dir=%s", console);
    const char *sets[] = {console_set, "admin.rate=20", "admin.rate_burst=100", "admin.max_body=64KiB", NULL};
    ts_test_daemon_start(&W.d, W.dir, &W.pki, sets);
    free(console_set);
    free(console);
    int status;
    char *t;
    t = login("admin1", PASSWORD, &status, NULL);
    assert_non_null(t);
    snprintf(W.token_admin, sizeof W.token_admin, "%s", t);
    free(t);
    t = login("operator1", PASSWORD, &status, NULL);
    assert_non_null(t);
    snprintf(W.token_operator, sizeof W.token_operator, "%s", t);
    free(t);
    t = login("viewer1", PASSWORD, &status, NULL);
    assert_non_null(t);
    snprintf(W.token_viewer, sizeof W.token_viewer, "%s", t);
    free(t);

    /* the district's directory, and a station with residents */
    expect(AS_ADMIN, "POST", "/api/records/stations/" BN,
           "{\"fields\":{\"name\":\"Trạm Y tế xã Bình Nguyên\",\"commune\":\"Bình Nguyên\",\"population\":12450}}", 200);
    expect(AS_ADMIN, "POST", "/api/records/stations/" XL,
           "{\"fields\":{\"name\":\"Trạm Y tế xã Xuân Lãng\",\"commune\":\"Xuân Lãng\",\"population\":11120}}", 200);
    ts_test_station_make(&W.bn, W.dir, BN, &W.pki, W.d.port, NULL);
    char *out = NULL;
    if (ts_test_station_cli(&W.bn, &out, "put", "residents", "BN-R001", "full_name=Nguyễn Thị Lan",
                            "birth_date=1985-04-12", "sex=female", "health_record=true", NULL) != 0)
        fail_msg("station put: %s", out ? out : "");
    free(out);
    out = NULL;
    if (ts_test_station_cli(&W.bn, &out, "put", "residents", "BN-R002", "full_name=Trần Văn Minh",
                            "birth_date=1950-01-30", "sex=male", "high_risk=true", NULL) != 0)
        fail_msg("station put: %s", out ? out : "");
    free(out);
    ts_test_station_start(&W.bn);
    wait_for("the station's residents at the district", 30000, resident_at_district);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_test_station_kill(&W.bn);
    ts_test_daemon_stop(&W.d, SIGTERM, 20000);
    ts_test_station_free(&W.bn);
    ts_test_daemon_free(&W.d);
    ts_test_pki_free(&W.pki);
    ts_tmpdir_remove(W.dir);
    return 0;
}

/* ---------------------------------------------------------------- the console's files */

static void test_console_files(void **state)
{
    (void)state;
    static const char *const files[][2] = {{"/", "text/html"},
                                           {"/index.html", "text/html"},
                                           {"/app.js", "text/javascript"},
                                           {"/state.js", "text/javascript"},
                                           {"/ui.js", "text/javascript"},
                                           {"/api.js", "text/javascript"},
                                           {"/shell.js", "text/javascript"},
                                           {"/live.js", "text/javascript"},
                                           {"/login.js", "text/javascript"},
                                           {"/recipients.js", "text/javascript"},
                                           {"/dashboard.js", "text/javascript"},
                                           {"/stations.js", "text/javascript"},
                                           {"/conflicts.js", "text/javascript"},
                                           {"/notices.js", "text/javascript"},
                                           {"/compose.js", "text/javascript"},
                                           {"/attachments.js", "text/javascript"},
                                           {"/reports.js", "text/javascript"},
                                           {"/tasks.js", "text/javascript"},
                                           {"/targets.js", "text/javascript"},
                                           {"/health.js", "text/javascript"},
                                           {"/audit.js", "text/javascript"},
                                           {"/epidemic.js", "text/javascript"},
                                           {"/i18n.js", "text/javascript"},
                                           {"/style.css", "text/css"},
                                           {"/favicon.svg", "image/svg+xml"}};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        ts_th_resp r = req(AS_NONE, "GET", files[i][0], NULL);
        if (r.status != 200)
            fail_msg("GET %s: %d %s", files[i][0], r.status, r.body);
        char *ct = ts_th_header(&r, "Content-Type"), *csp = ts_th_header(&r, "Content-Security-Policy");
        assert_non_null(ct);
        assert_non_null(strstr(ct, files[i][1]));
        /* the strict policy: only 'self', no inline scripts or styles */
        assert_non_null(csp);
        assert_non_null(strstr(csp, "default-src 'self'"));
        assert_null(strstr(csp, "unsafe-inline"));
        assert_null(strstr(csp, "http"));
        free(ct);
        free(csp);
        ts_th_resp_free(&r);
    }
    /* the page carries no inline script, style or remote resource */
    ts_th_resp r = req(AS_NONE, "GET", "/index.html", NULL);
    assert_null(strstr(r.body, "<style"));
    assert_null(strstr(r.body, "style="));
    assert_null(strstr(r.body, "http://"));
    assert_null(strstr(r.body, "https://"));
    for (const char *p = r.body; (p = strstr(p, "<script")) != NULL;) {
        const char *end = strchr(p, '>'), *src = strstr(p, "src=");
        if (end == NULL || src == NULL || src > end)
            fail_msg("an inline script in index.html");
        p = end;
    }
    ts_th_resp_free(&r);
    expect(AS_NONE, "GET", "/../../etc/passwd", NULL, 404);
    expect(AS_NONE, "GET", "/nothing-here.js", NULL, 404);
    expect(AS_NONE, "POST", "/index.html", "{}", 405);
}

/* ---------------------------------------------------------------- session */

static void test_login_cookie_me_logout(void **state)
{
    (void)state;
    int status;
    char *cookie = NULL;
    char *token = login("viewer1", PASSWORD, &status, &cookie);
    assert_int_equal(status, 200);
    assert_non_null(token);
    assert_non_null(cookie);
    assert_non_null(strstr(cookie, "ts_session="));
    assert_non_null(strstr(cookie, "HttpOnly"));
    assert_non_null(strstr(cookie, "Secure"));
    assert_non_null(strstr(cookie, "SameSite=Strict"));
    char *hdr = ts_xasprintf("Cookie: ts_session=%s\r\n", token);
    ts_th_resp r;
    assert_int_equal(ts_th_call(W.d.admin_port, NULL, "GET", "/api/me", hdr, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "user"), "viewer1");
    assert_string_equal(jstr(r.json, "role"), "viewer");
    ts_th_resp_free(&r);
    /* logout with the cookie: a write, so it needs the CSRF header */
    assert_int_equal(ts_th_call(W.d.admin_port, NULL, "POST", "/api/logout", hdr, "application/json", "{}", &r), 0);
    check_error_body(&r, "logout without X-Requested-With");
    assert_int_equal(r.status, 403);
    ts_th_resp_free(&r);
    char *hdr2 = ts_xasprintf("%sX-Requested-With: tramsync\r\n", hdr);
    assert_int_equal(ts_th_call(W.d.admin_port, NULL, "POST", "/api/logout", hdr2, "application/json", "{}", &r), 0);
    assert_int_equal(r.status, 200);
    char *clear = ts_th_header(&r, "Set-Cookie");
    assert_non_null(clear);
    assert_non_null(strstr(clear, "ts_session=;"));
    assert_non_null(strstr(clear, "Max-Age=0"));
    free(clear);
    ts_th_resp_free(&r);
    /* the session is gone at the server, not only in the browser */
    assert_int_equal(ts_th_call(W.d.admin_port, NULL, "GET", "/api/me", hdr, NULL, NULL, &r), 0);
    check_error_body(&r, "me after logout");
    assert_int_equal(r.status, 401);
    ts_th_resp_free(&r);
    assert_true(audited("viewer1", "logout", NULL, NULL, NULL));
    assert_true(audited("viewer1", "login", NULL, NULL, "viewer"));
    /* wrong password, unknown user, missing fields */
    char *t2 = login("viewer1", "wrong-password-1", &status, NULL);
    assert_null(t2);
    assert_int_equal(status, 401);
    t2 = login("nobody", PASSWORD, &status, NULL);
    assert_null(t2);
    assert_int_equal(status, 401);
    expect(AS_NONE, "POST", "/api/login", "{\"username\":\"viewer1\"}", 400);
    expect(AS_NONE, "POST", "/api/login", "{\"username\":5,\"password\":[1]}", 400);
    free(hdr);
    free(hdr2);
    free(cookie);
    free(token);
}

static void test_session_expiry(void **state)
{
    (void)state;
    /* a second daemon whose sessions last one second */
    char *dir = ts_tmpdir_make("admin-expiry");
    assert_int_equal(ts_test_add_user(dir, "shortlived", "viewer", PASSWORD), 0);
    ts_test_daemon d;
    const char *sets[] = {"admin.session_ttl=1s", NULL};
    ts_test_daemon_start(&d, dir, &W.pki, sets);
    ts_th_resp r;
    assert_int_equal(ts_th_call(d.admin_port, NULL, "POST", "/api/login", NULL, "application/json",
                                "{\"username\":\"shortlived\",\"password\":\"" PASSWORD "\"}", &r),
                     0);
    assert_int_equal(r.status, 200);
    char *hdr = ts_xasprintf("Authorization: Bearer %s\r\n", jstr(r.json, "token"));
    char *cookie = ts_th_header(&r, "Set-Cookie");
    assert_non_null(strstr(cookie, "Max-Age=1"));
    free(cookie);
    ts_th_resp_free(&r);
    assert_int_equal(ts_th_call(d.admin_port, NULL, "GET", "/api/me", hdr, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);
    ts_test_sleep_ms(1500);
    assert_int_equal(ts_th_call(d.admin_port, NULL, "GET", "/api/me", hdr, NULL, NULL, &r), 0);
    check_error_body(&r, "expired session");
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "expired"));
    ts_th_resp_free(&r);
    free(hdr);
    ts_test_daemon_stop(&d, SIGTERM, 20000);
    ts_test_daemon_free(&d);
    ts_tmpdir_remove(dir);
}

/* ---------------------------------------------------------------- roles */

/* Every endpoint: no credentials, 401 (the public two excepted). */
static void test_no_login_401(void **state)
{
    (void)state;
    static const char *const gets[] = {
        "/api/me",           "/api/labels",        "/api/tables",
        "/api/overview",     "/api/stations",      "/api/stations?limit=10&q=binh",
        "/api/stations/" BN, "/api/records/residents", "/api/records/residents/BN-R001",
        "/api/conflicts",    "/api/conflicts/1",   "/api/notices",
        "/api/notices/TB-x", "/api/reports",       "/api/tasks",
        "/api/tasks/KH-01",  "/api/escalations",   "/api/targets",
        "/api/targets/history?indicator=bhyt", "/api/audit", "/api/users",
        "/api/events",       "/metrics",           "/api/plan",
        "/api/export",       "/api/report/quarterly",
    };
    for (size_t i = 0; i < sizeof gets / sizeof *gets; i++)
        expect(AS_NONE, "GET", gets[i], NULL, 401);
    static const char *const posts[] = {"/api/logout",         "/api/records/stations/x",  "/api/conflicts/1/resolve",
                                        "/api/notices",        "/api/reports/x/redistribute", "/api/reports/x/open", "/api/tasks/KH-01/assign",
                                        "/api/targets/refresh", "/api/users",               "/api/users/x",
                                        "/api/plan",           "/api/tasks/KH-01/not-applicable"};
    for (size_t i = 0; i < sizeof posts / sizeof *posts; i++)
        expect(AS_NONE, "POST", posts[i], "{}", 401);
    /* a made-up token is no better */
    ts_th_resp r;
    assert_int_equal(ts_th_call(W.d.admin_port, NULL, "GET", "/api/me", "Authorization: Bearer 00ff\r\n", NULL, NULL, &r),
                     0);
    check_error_body(&r, "bad token");
    assert_int_equal(r.status, 401);
    ts_th_resp_free(&r);
    expect(AS_NONE, "GET", "/api/health", NULL, 200);
    /* the console's question at load: 200 whatever the answer */
    r = req(AS_NONE, "GET", "/api/session", NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_is_false(json_object_get(r.json, "signed_in")));
    ts_th_resp_free(&r);
    assert_int_equal(ts_th_call(W.d.admin_port, NULL, "GET", "/api/session", "Authorization: Bearer 00ff\r\n", NULL,
                                NULL, &r),
                     0);
    assert_int_equal(r.status, 200);
    assert_true(json_is_false(json_object_get(r.json, "signed_in")));
    ts_th_resp_free(&r);
    r = req(AS_OPERATOR, "GET", "/api/session", NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "signed_in")));
    assert_string_equal(jstr(r.json, "role"), "operator");
    ts_th_resp_free(&r);
}

static void test_roles(void **state)
{
    (void)state;
    const char *notice = "{\"notice\":{\"subject\":\"Thử quyền\",\"issuer\":\"TTYT\",\"urgency\":\"khan\","
                         "\"category\":\"prevention\"},\"recipients\":{\"stations\":[\"" BN "\"]}}";
    /* a viewer reads but changes nothing */
    expect(AS_VIEWER, "POST", "/api/notices", notice, 403);
    expect(AS_VIEWER, "POST", "/api/conflicts/1/resolve", "{\"choice\":\"kept\"}", 403);
    expect(AS_VIEWER, "POST", "/api/reports/x/redistribute", "{\"recipients\":{\"all\":true}}", 403);
    expect(AS_VIEWER, "POST", "/api/tasks/KH-01/assign", "{\"recipients\":{\"all\":true}}", 403);
    expect(AS_VIEWER, "POST", "/api/targets/refresh", "{}", 403);
    expect(AS_VIEWER, "POST", "/api/tasks/KH-08/not-applicable", "{\"reason\":\"x\"}", 403);
    /* loading the province's plan is the admin's */
    expect(AS_OPERATOR, "POST", "/api/plan", "{\"plan\":{}}", 403);
    expect(AS_VIEWER, "POST", "/api/records/stations/" BN, "{\"fields\":{\"phone\":\"0900000000\"}}", 403);
    expect(AS_VIEWER, "GET", "/api/audit", NULL, 403);
    expect(AS_VIEWER, "GET", "/api/users", NULL, 403);
    expect(AS_VIEWER, "GET", "/api/stations?limit=5", NULL, 200);
    expect(AS_VIEWER, "GET", "/api/notices?limit=5", NULL, 200);
    /* an operator coordinates but does not administer */
    expect(AS_OPERATOR, "GET", "/api/audit", NULL, 403);
    expect(AS_OPERATOR, "GET", "/api/audit?action=denied", NULL, 403);
    expect(AS_OPERATOR, "GET", "/api/users", NULL, 403);
    expect(AS_OPERATOR, "POST", "/api/users", "{\"username\":\"x1\",\"password\":\"0123456789a\",\"role\":\"admin\"}", 403);
    expect(AS_OPERATOR, "POST", "/api/records/stations/" BN, "{\"fields\":{\"phone\":\"0900000000\"}}", 403);
    expect(AS_OPERATOR, "POST", "/api/notices", notice, 201);
    /* each refusal is in the audit log, with who and where */
    assert_true(audited("viewer1", "denied", NULL, "/api/notices", "viewer"));
    assert_true(audited("viewer1", "denied", NULL, "/api/audit", "viewer"));
    assert_true(audited("operator1", "denied", NULL, "/api/audit", "operator"));
    assert_true(audited("operator1", "denied", NULL, "/api/users", "operator"));
    assert_true(audited("operator1", "send_notice", "notices", NULL, "khan"));
}

static void test_csrf(void **state)
{
    (void)state;
    int status;
    char *token = login("operator1", PASSWORD, &status, NULL);
    assert_non_null(token);
    const char *body = "{\"notice\":{\"subject\":\"CSRF\",\"issuer\":\"TTYT\",\"urgency\":\"thuong\","
                       "\"category\":\"training\"},\"recipients\":{\"stations\":[\"" BN "\"]}}";
    char *cookie = ts_xasprintf("Cookie: ts_session=%s\r\n", token);
    ts_th_resp r;
    /* a cookie alone (what a forged cross-site form would carry): refused */
    assert_int_equal(ts_th_call(W.d.admin_port, NULL, "POST", "/api/notices", cookie, "application/json", body, &r), 0);
    check_error_body(&r, "csrf");
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body, "X-Requested-With"));
    ts_th_resp_free(&r);
    char *wrong = ts_xasprintf("%sX-Requested-With: XMLHttpRequest\r\n", cookie);
    assert_int_equal(ts_th_call(W.d.admin_port, NULL, "POST", "/api/notices", wrong, "application/json", body, &r), 0);
    check_error_body(&r, "csrf wrong header");
    assert_int_equal(r.status, 403);
    ts_th_resp_free(&r);
    /* with the console's header */
    char *ok = ts_xasprintf("%sX-Requested-With: tramsync\r\n", cookie);
    assert_int_equal(ts_th_call(W.d.admin_port, NULL, "POST", "/api/notices", ok, "application/json", body, &r), 0);
    assert_int_equal(r.status, 201);
    ts_th_resp_free(&r);
    /* reads with the cookie need no header */
    assert_int_equal(ts_th_call(W.d.admin_port, NULL, "GET", "/api/notices?limit=1", cookie, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);
    free(cookie);
    free(wrong);
    free(ok);
    free(token);
}

static void test_admin_certificate(void **state)
{
    (void)state;
    char *cert = ts_test_pki_cert(&W.pki, "admin"), *key = ts_test_pki_key(&W.pki, "admin");
    ts_th_opts o = {W.pki.ca, cert, key, NULL};
    ts_th_resp r;
    assert_int_equal(ts_th_call(W.d.admin_port, &o, "GET", "/api/me", NULL, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "role"), "admin");
    assert_true(json_is_true(json_object_get(r.json, "certificate")));
    assert_non_null(strstr(jstr(r.json, "user"), "cert:"));
    ts_th_resp_free(&r);
    /* the certificate creates an account (no cookie: no CSRF header needed) */
    assert_int_equal(ts_th_call(W.d.admin_port, &o, "POST", "/api/users", NULL, "application/json",
                                "{\"username\":\"certmade\",\"password\":\"" PASSWORD "\",\"role\":\"operator\","
                                "\"full_name\":\"Lê Văn Tâm\"}",
                                &r),
                     0);
    assert_int_equal(r.status, 201);
    ts_th_resp_free(&r);
    int status;
    char *t = login("certmade", PASSWORD, &status, NULL);
    assert_int_equal(status, 200);
    free(t);
    assert_int_equal(ts_th_call(W.d.admin_port, &o, "GET", "/api/audit?limit=5", NULL, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);
    assert_true(audited("cert:admin", "user", "admin_users", "certmade", "operator"));
    /* a station's certificate is not an admin certificate */
    char *scert = ts_test_pki_cert(&W.pki, BN), *skey = ts_test_pki_key(&W.pki, BN);
    ts_th_opts so = {W.pki.ca, scert, skey, NULL};
    assert_int_equal(ts_th_call(W.d.admin_port, &so, "GET", "/api/me", NULL, NULL, NULL, &r), 0);
    check_error_body(&r, "station certificate");
    assert_int_equal(r.status, 403);
    ts_th_resp_free(&r);
    free(cert);
    free(key);
    free(scert);
    free(skey);
}

/* ---------------------------------------------------------------- bad input */

static void test_bad_requests(void **state)
{
    (void)state;
    ts_th c;
    ts_th_resp r;
    char hdr[200];
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", W.token_admin);
    /* a body over [admin] max_body (64 KiB here): refused before it is read */
    assert_int_equal(ts_th_connect(&c, W.d.admin_port, NULL), 0);
    char *big = ts_xasprintf("POST /api/notices HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
                             "Content-Length: 2000000\r\n\r\n{",
                             hdr);
    assert_int_equal(ts_th_send_raw(&c, big, strlen(big)), 0);
    assert_int_equal(ts_th_read(&c, &r, 10000), 0);
    check_error_body(&r, "oversized body");
    assert_int_equal(r.status, 413);
    ts_th_resp_free(&r);
    ts_th_close(&c);
    free(big);
    /* a real one, sent in full */
    size_t n = 100 * 1024;
    char *body = ts_xmalloc(n + 64);
    memset(body, ' ', n);
    memcpy(body, "{\"x\":\"", 6);
    memcpy(body + n - 2, "\"}", 3);
    r = req(AS_ADMIN, "POST", "/api/notices", body);
    assert_int_equal(r.status, 413);
    ts_th_resp_free(&r);
    free(body);
    /* headers over [admin] max_header (16 KiB) */
    char *pad = ts_xmalloc(20001);
    memset(pad, 'a', 20000);
    pad[20000] = '\0';
    char *hdrs = ts_xasprintf("X-Padding: %s\r\n", pad);
    assert_int_equal(ts_th_call(W.d.admin_port, NULL, "GET", "/api/health", hdrs, NULL, NULL, &r), 0);
    check_error_body(&r, "oversized headers");
    assert_int_equal(r.status, 431);
    ts_th_resp_free(&r);
    free(hdrs);
    /* an oversized cookie */
    hdrs = ts_xasprintf("Cookie: ts_session=%.1500s\r\n", pad);
    assert_int_equal(ts_th_call(W.d.admin_port, NULL, "GET", "/api/me", hdrs, NULL, NULL, &r), 0);
    check_error_body(&r, "oversized cookie");
    assert_int_equal(r.status, 431);
    ts_th_resp_free(&r);
    free(hdrs);
    free(pad);
    /* malformed JSON, and JSON that is not an object */
    expect(AS_ADMIN, "POST", "/api/notices", "{\"notice\": {", 400);
    expect(AS_ADMIN, "POST", "/api/notices", "[1,2,3]", 400);
    expect(AS_ADMIN, "POST", "/api/notices", "{\"a\":1,\"a\":2}", 400);
    expect(AS_NONE, "POST", "/api/login", "not json", 400);
    /* wrong content type */
    assert_int_equal(ts_th_call(W.d.admin_port, NULL, "POST", "/api/notices", hdr, "text/plain", "{}", &r), 0);
    check_error_body(&r, "text/plain");
    assert_int_equal(r.status, 415);
    ts_th_resp_free(&r);
    assert_int_equal(ts_th_call(W.d.admin_port, NULL, "POST", "/api/login", NULL, "application/x-www-form-urlencoded",
                                "username=a&password=b", &r),
                     0);
    check_error_body(&r, "form post");
    assert_int_equal(r.status, 415);
    ts_th_resp_free(&r);
    /* unknown endpoints and wrong methods */
    expect(AS_ADMIN, "GET", "/api/nothing", NULL, 404);
    expect(AS_ADMIN, "GET", "/api/stations/" BN "/extra/deep", NULL, 404);
    expect(AS_ADMIN, "DELETE", "/api/notices", NULL, 405);
    expect(AS_ADMIN, "PUT", "/api/stations", "{}", 405);
    expect(AS_ADMIN, "GET", "/api/logout", NULL, 405);
    expect(AS_ADMIN, "GET", "/api/conflicts/1/resolve", NULL, 405);
    /* wrong types: 422 */
    expect(AS_ADMIN, "POST", "/api/records/stations/" BN, "{\"fields\":{\"population\":\"many\"}}", 422);
    expect(AS_ADMIN, "POST", "/api/records/stations/" BN, "{\"fields\":{\"active\":\"yes\"}}", 422);
    expect(AS_ADMIN, "POST", "/api/records/stations/" BN, "{\"fields\":{\"no_such_field\":1}}", 422);
    expect(AS_OPERATOR, "POST", "/api/notices",
           "{\"notice\":{\"subject\":\"x\",\"issuer\":\"TTYT\",\"urgency\":5},\"recipients\":{\"stations\":[\"" BN "\"]}}",
           422);
    expect(AS_OPERATOR, "POST", "/api/notices",
           "{\"notice\":{\"subject\":\"x\",\"issuer\":\"TTYT\",\"urgency\":\"very\"},\"recipients\":{\"stations\":[\"" BN
           "\"]}}",
           422);
    expect(AS_OPERATOR, "POST", "/api/notices",
           "{\"notice\":{\"subject\":\"x\",\"issuer\":\"TTYT\",\"deadline\":\"tomorrow\"},\"recipients\":{\"all\":true}}",
           422);
    expect(AS_OPERATOR, "POST", "/api/notices", "{\"notice\":{\"subject\":\"x\"},\"recipients\":{\"stations\":[5]}}", 422);
    expect(AS_OPERATOR, "POST", "/api/notices", "{\"notice\":\"x\",\"recipients\":{\"all\":true}}", 400);
    expect(AS_OPERATOR, "POST", "/api/notices", "{\"notice\":{\"subject\":\"x\"}}", 400);
    expect(AS_OPERATOR, "POST", "/api/notices", "{\"notice\":{\"subject\":\"x\",\"issuer\":\"TTYT\"},\"recipients\":{}}", 422);
    expect(AS_ADMIN, "POST", "/api/users", "{\"username\":\"weak\",\"password\":\"short\",\"role\":\"viewer\"}", 422);
    expect(AS_ADMIN, "POST", "/api/users", "{\"username\":\"badrole\",\"password\":\"0123456789ab\",\"role\":\"god\"}", 422);
    expect(AS_ADMIN, "POST", "/api/users", "{\"username\":\"norole\"}", 400);
    /* the query parameters the console uses */
    static const char *const bad_queries[] = {
        "/api/stations?limit=abc",        "/api/stations?offset=-5",       "/api/stations?filter=bogus",
        "/api/stations?sort=random",      "/api/stations?limit=1e3",       "/api/notices?urgency=very",
        "/api/notices?category=war",      "/api/notices?offset=x",         "/api/reports?kind=rumour",
        "/api/reports?limit=-1",          "/api/targets?only=some",        "/api/targets?indicator=happiness",
        "/api/targets?offset=1.5",        "/api/targets/history",          "/api/targets/history?indicator=zzz",
        "/api/escalations?limit=many",    "/api/audit?limit=x",            "/api/audit?before=yesterday",
        "/api/conflicts?status=maybe",    "/api/conflicts?after=x",        "/api/records/residents?limit=x",
    };
    for (size_t i = 0; i < sizeof bad_queries / sizeof *bad_queries; i++)
        expect(AS_ADMIN, "GET", bad_queries[i], NULL, 400);
    ts_th_resp nr = req(AS_ADMIN, "GET", "/api/notices?limit=1", NULL);
    assert_int_equal(nr.status, 200);
    json_t *first = json_array_get(json_object_get(nr.json, "notices"), 0);
    assert_non_null(first);
    expect(AS_ADMIN, "GET", "/api/notices/x?state=lost", NULL, 400);
    char *path = ts_xasprintf("/api/notices/%s?state=lost", jstr(first, "id"));
    expect(AS_ADMIN, "GET", path, NULL, 400);
    free(path);
    ts_th_resp_free(&nr);
    /* unknown things */
    expect(AS_ADMIN, "GET", "/api/records/no_table", NULL, 404);
    expect(AS_ADMIN, "GET", "/api/records/residents/NOPE", NULL, 404);
    expect(AS_ADMIN, "GET", "/api/stations/nosuchstation", NULL, 404);
    expect(AS_ADMIN, "GET", "/api/notices/TB-nope", NULL, 404);
    expect(AS_ADMIN, "GET", "/api/tasks/KH-99", NULL, 404);
    expect(AS_ADMIN, "GET", "/api/conflicts/999999", NULL, 404);
    expect(AS_ADMIN, "GET", "/api/conflicts/abc", NULL, 404);
    /* a request line the parser refuses */
    assert_int_equal(ts_th_connect(&c, W.d.admin_port, NULL), 0);
    const char *garbage = "GET /api/health HTTP/9.9 extra\r\n\x01\x02\r\n\r\n";
    assert_int_equal(ts_th_send_raw(&c, garbage, strlen(garbage)), 0);
    assert_int_equal(ts_th_read(&c, &r, 10000), 0);
    check_error_body(&r, "garbage request");
    assert_int_equal(r.status, 400);
    ts_th_resp_free(&r);
    ts_th_close(&c);
    /* the daemon is still fine */
    expect(AS_NONE, "GET", "/api/health", NULL, 200);
}

static void test_rate_limit_429(void **state)
{
    (void)state;
    /* 150 requests in one go on one connection: the burst is 100, the rate 20/s */
    ts_th c;
    assert_int_equal(ts_th_connect(&c, W.d.admin_port, NULL), 0);
    ts_buf b = TS_BUF_INIT;
    for (int i = 0; i < 150; i++)
        ts_buf_append_str(&b, "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(ts_th_send_raw(&c, b.data, b.len), 0);
    ts_buf_free(&b);
    int ok = 0, limited = 0;
    for (int i = 0; i < 150; i++) {
        ts_th_resp r;
        if (ts_th_read(&c, &r, 20000) < 0)
            fail_msg("response %d: %s", i, c.error);
        check_error_body(&r, "rate limit");
        if (r.status == 200)
            ok++;
        else if (r.status == 429) {
            limited++;
            char *ra = ts_th_header(&r, "Retry-After");
            assert_non_null(ra);
            free(ra);
        } else {
            fail_msg("unexpected %d", r.status);
        }
        ts_th_resp_free(&r);
    }
    ts_th_close(&c);
    assert_true(ok >= 100);
    assert_true(limited >= 20);
    /* another connection is not slowed down */
    expect(AS_NONE, "GET", "/api/health", NULL, 200);
}

/* ---------------------------------------------------------------- read endpoints */

static void test_labels_tables_me(void **state)
{
    (void)state;
    ts_th_resp r = req(AS_VIEWER, "GET", "/api/labels", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "categories")), 12);
    assert_int_equal(json_array_size(json_object_get(r.json, "urgencies")), 4);
    json_t *u = json_array_get(json_object_get(r.json, "urgencies"), 3);
    assert_string_equal(jstr(u, "code"), "hoa_toc");
    assert_string_equal(jstr(u, "vi"), "Hỏa tốc");
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/api/tables", NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_array_size(json_object_get(r.json, "tables")) >= 10);
    ts_th_resp_free(&r);
    r = req(AS_OPERATOR, "GET", "/api/me", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "role"), "operator");
    ts_th_resp_free(&r);
}

static bool station_online(void)
{
    ts_th_resp r = req(AS_VIEWER, "GET", "/api/stations/" BN, NULL);
    bool ok = r.status == 200 && strcmp(jstr(r.json, "status"), "online") == 0;
    ts_th_resp_free(&r);
    return ok;
}

static void test_stations_paging_search(void **state)
{
    (void)state;
    /* 60 more stations in the directory, never seen: silent */
    for (int i = 1; i <= 60; i++) {
        char path[64], body[200];
        snprintf(path, sizeof path, "/api/records/stations/st%03d", i);
        snprintf(body, sizeof body, "{\"fields\":{\"name\":\"Trạm Y tế xã Thử %d\",\"commune\":\"%s %d\"}}", i,
                 i % 2 ? "Đồng Thịnh" : "Hương Canh", i);
        expect(AS_ADMIN, "POST", path, body, 200);
    }
    wait_for("the station online", 20000, station_online);
    ts_th_resp r = req(AS_VIEWER, "GET", "/api/stations?limit=25", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "stations")), 25);
    assert_int_equal(jint(r.json, "total"), 62);
    assert_int_equal(jint(r.json, "matched"), 62);
    json_t *counts = json_object_get(r.json, "counts");
    assert_true(jint(counts, "silent") >= 60);
    assert_int_equal(jint(counts, "online"), 1);
    /* silent first */
    assert_string_equal(jstr(json_array_get(json_object_get(r.json, "stations"), 0), "status"), "silent");
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/api/stations?limit=25&offset=50", NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "stations")), 12);
    assert_int_equal(jint(r.json, "offset"), 50);
    ts_th_resp_free(&r);
    /* search without tone marks finds the Vietnamese name */
    r = req(AS_VIEWER, "GET", "/api/stations?q=binh%20nguyen&limit=10", NULL);
    assert_int_equal(jint(r.json, "matched"), 1);
    json_t *s = json_array_get(json_object_get(r.json, "stations"), 0);
    assert_string_equal(jstr(s, "code"), BN);
    assert_string_equal(jstr(s, "status"), "online");
    assert_true(json_is_integer(json_object_get(s, "pending_changes")));
    assert_true(json_is_integer(json_object_get(s, "last_sync_ms")));
    assert_true(jint(s, "cert_days_left") > 0);
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/api/stations?q=DONG%20THINH&limit=50", NULL);
    assert_int_equal(jint(r.json, "matched"), 30);
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/api/stations?q=H%C6%B0%C6%A1ng%20Canh&limit=50", NULL); /* "Hương Canh" */
    assert_int_equal(jint(r.json, "matched"), 30);
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/api/stations?filter=online&limit=50", NULL);
    assert_int_equal(jint(r.json, "matched"), 1);
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/api/stations?filter=silent&sort=code&limit=3", NULL);
    assert_string_equal(jstr(json_array_get(json_object_get(r.json, "stations"), 0), "code"), "st001");
    ts_th_resp_free(&r);
    /* without paging parameters: everything (scripts, tramsyncctl status) */
    r = req(AS_VIEWER, "GET", "/api/stations", NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "stations")), 62);
    ts_th_resp_free(&r);
    /* one station, with its records per table */
    r = req(AS_VIEWER, "GET", "/api/stations/" BN, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(jint(json_object_get(r.json, "records"), "residents"), 2);
    assert_string_equal(jstr(json_object_get(r.json, "directory"), "commune"), "Bình Nguyên");
    ts_th_resp_free(&r);
}

static void test_records_personal_audit(void **state)
{
    (void)state;
    ts_th_resp r = req(AS_VIEWER, "GET", "/api/records/residents?station=" BN "&limit=1", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "records")), 1);
    assert_true(json_is_true(json_object_get(r.json, "more")));
    char after[64];
    snprintf(after, sizeof after, "%s", jstr(r.json, "next_after"));
    ts_th_resp_free(&r);
    r = reqf(AS_VIEWER, "GET", NULL, "/api/records/residents?station=" BN "&after=%s", after);
    assert_int_equal(json_array_size(json_object_get(r.json, "records")), 1);
    assert_false(json_is_true(json_object_get(r.json, "more")));
    ts_th_resp_free(&r);
    /* another station's filter finds none of them */
    r = req(AS_VIEWER, "GET", "/api/records/residents?station=" XL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "records")), 0);
    ts_th_resp_free(&r);
    /* every read of personal records is logged, with who and which */
    assert_true(audited("viewer1", "read", "residents", NULL, "of " BN));
    r = req(AS_VIEWER, "GET", "/api/records/residents/BN-R001", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(json_object_get(r.json, "fields"), "full_name"), "Nguyễn Thị Lan");
    ts_th_resp_free(&r);
    assert_true(audited("viewer1", "read", "residents", "BN-R001", NULL));
    r = req(AS_OPERATOR, "GET", "/api/records/residents/BN-R002", NULL);
    ts_th_resp_free(&r);
    assert_true(audited("operator1", "read", "residents", "BN-R002", NULL));
    /* a district table is not personal: no read entry */
    r = req(AS_VIEWER, "GET", "/api/records/stations/" BN, NULL);
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);
    assert_false(audited("viewer1", "read", "stations", BN, NULL));
    /* the district writes district tables only */
    expect(AS_ADMIN, "POST", "/api/records/residents/BN-R001", "{\"fields\":{\"phone\":\"0912345678\"}}", 403);
    expect(AS_ADMIN, "POST", "/api/records/drug_catalog/ORS", "{\"fields\":{\"name\":\"Oresol\",\"unit\":\"gói\"}}", 200);
    assert_true(audited("admin1", "put", "drug_catalog", "ORS", NULL));
}

/* ---------------------------------------------------------------- notices */

static char *notice_json(const char *subject, const char *urgency, const char *recipients)
{
    return ts_xasprintf("{\"notice\":{\"number\":\"45/CĐ-TTYT\",\"doc_type\":\"cong_dien\",\"issuer\":\"TTYT khu vực "
                        "Bình Xuyên\",\"issue_date\":\"2026-11-20\",\"subject\":\"%s\",\"body\":\"Nội dung chi tiết.\","
                        "\"category\":\"prevention\",\"urgency\":\"%s\",\"legal_basis\":\"Luật Phòng, chống bệnh truyền "
                        "nhiễm 2007\",\"cc_commune_committee\":true,\"responsible\":\"Trạm trưởng\",\"task\":\"Diệt "
                        "lăng quăng\",\"deadline\":\"2026-12-01T10:00:00Z\",\"expected_result\":\"100%% hộ gia đình\"},"
                        "\"recipients\":%s}",
                        subject, urgency, recipients);
}

static bool notice_at_station(void)
{
    char *out = NULL;
    int rc = ts_test_station_cli(&W.bn, &out, "--json", "notices", NULL);
    bool found = rc == 0 && out && strstr(out, "Công điện phòng chống sốt xuất huyết") != NULL;
    free(out);
    return found;
}

static char ack_notice_id[64];

static bool ack_at_district(void)
{
    ts_th_resp r = reqf(AS_VIEWER, "GET", NULL, "/api/notices/%s?state=acknowledged&limit=10", ack_notice_id);
    bool found = r.status == 200 && jint(r.json, "recipients_matched") == 1;
    ts_th_resp_free(&r);
    return found;
}

static void test_notices(void **state)
{
    (void)state;
    /* every field of the notice model */
    char *body = notice_json("Công điện phòng chống sốt xuất huyết", "hoa_toc", "{\"all\":true}");
    ts_th_resp r = req(AS_OPERATOR, "POST", "/api/notices", body);
    free(body);
    assert_int_equal(r.status, 201);
    snprintf(ack_notice_id, sizeof ack_notice_id, "%s", jstr(r.json, "id"));
    assert_true(json_array_size(json_object_get(r.json, "recipients")) >= 2);
    ts_th_resp_free(&r);
    assert_true(audited("operator1", "send_notice", "notices", ack_notice_id, "hoa_toc"));
    r = reqf(AS_VIEWER, "GET", NULL, "/api/notices/%s", ack_notice_id);
    assert_int_equal(r.status, 200);
    json_t *f = json_object_get(r.json, "fields");
    assert_string_equal(jstr(f, "number"), "45/CĐ-TTYT");
    assert_string_equal(jstr(f, "doc_type"), "cong_dien");
    assert_string_equal(jstr(f, "issue_date"), "2026-11-20");
    assert_string_equal(jstr(f, "legal_basis"), "Luật Phòng, chống bệnh truyền nhiễm 2007");
    assert_true(json_is_true(json_object_get(f, "cc_commune_committee")));
    assert_string_equal(jstr(f, "responsible"), "Trạm trưởng");
    assert_string_equal(jstr(f, "task"), "Diệt lăng quăng");
    assert_string_equal(jstr(f, "deadline"), "2026-12-01T10:00:00Z");
    assert_string_equal(jstr(f, "expected_result"), "100% hộ gia đình");
    assert_string_equal(jstr(f, "sent_by"), "operator1");
    ts_th_resp_free(&r);

    /* the station's agent receives it; its acknowledgement comes back */
    wait_for("the notice at the station", 30000, notice_at_station);
    char *out = NULL;
    assert_int_equal(ts_test_station_cli(&W.bn, &out, "ack", ack_notice_id, "--by", "Nguyễn Văn An", NULL), 0);
    free(out);
    wait_for("the acknowledgement at the district", 30000, ack_at_district);
    r = reqf(AS_VIEWER, "GET", NULL, "/api/notices/%s?state=acknowledged", ack_notice_id);
    json_t *rc = json_array_get(json_object_get(r.json, "recipients"), 0);
    assert_string_equal(jstr(rc, "station"), BN);
    assert_string_equal(jstr(rc, "acknowledged_by"), "Nguyễn Văn An");
    assert_string_equal(jstr(rc, "commune"), "Bình Nguyên");
    ts_th_resp_free(&r);

    /* recipients by commune, paged and filtered status matrix */
    body = notice_json("Kế hoạch tiêm chủng mở rộng", "thuong", "{\"communes\":[\"Xuân Lãng\"]}");
    r = req(AS_OPERATOR, "POST", "/api/notices", body);
    free(body);
    assert_int_equal(r.status, 201);
    assert_int_equal(json_array_size(json_object_get(r.json, "recipients")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r.json, "recipients"), 0)), XL);
    ts_th_resp_free(&r);
    expect(AS_OPERATOR, "POST", "/api/notices",
           "{\"notice\":{\"subject\":\"x\",\"issuer\":\"TTYT\"},\"recipients\":{\"communes\":[\"Nowhere\"]}}", 404);
    r = reqf(AS_VIEWER, "GET", NULL, "/api/notices/%s?limit=1&state=all", ack_notice_id);
    assert_int_equal(json_array_size(json_object_get(r.json, "recipients")), 1);
    assert_true(jint(r.json, "recipients_total") >= 2);
    ts_th_resp_free(&r);
    r = reqf(AS_VIEWER, "GET", NULL, "/api/notices/%s?state=pending&q=xuan", ack_notice_id);
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);

    /* the list: search without tone marks, filters, paging */
    r = req(AS_VIEWER, "GET", "/api/notices?q=sot%20xuat%20huyet", NULL);
    assert_int_equal(jint(r.json, "matched"), 1);
    json_t *n = json_array_get(json_object_get(r.json, "notices"), 0);
    assert_string_equal(jstr(n, "urgency"), "hoa_toc");
    assert_true(jint(json_object_get(n, "counts"), "acknowledged") >= 1);
    assert_null(json_object_get(n, "body"));
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/api/notices?urgency=hoa_toc&category=prevention", NULL);
    assert_int_equal(jint(r.json, "matched"), 1);
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/api/notices?limit=1&offset=1", NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "notices")), 1);
    assert_true(jint(r.json, "total") >= 3);
    ts_th_resp_free(&r);

    /* the dashboard's view of it */
    r = req(AS_VIEWER, "GET", "/api/escalations?limit=1", NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_array_size(json_object_get(r.json, "items")) <= 1);
    ts_th_resp_free(&r);
}

/* ---------------------------------------------------------------- reports */

static char report_id[128];

static bool report_at_district(void)
{
    ts_th_resp r = req(AS_VIEWER, "GET", "/api/reports?kind=outbreak_detection", NULL);
    bool found = r.status == 200 && json_array_size(json_object_get(r.json, "reports")) == 1;
    if (found)
        snprintf(report_id, sizeof report_id, "%s", jstr(json_array_get(json_object_get(r.json, "reports"), 0), "id"));
    ts_th_resp_free(&r);
    return found;
}

static void test_reports_redistribute(void **state)
{
    (void)state;
    char *out = NULL;
    int rc = ts_test_station_cli(&W.bn, &out, "report", "--kind", "outbreak_detection", "--subject",
                                 "Phát hiện ổ dịch sốt xuất huyết thôn 2", "--urgency", "thuong_khan", "--disease",
                                 "Sốt xuất huyết Dengue", "--cases", "3", "--by", "BS. Hoa", NULL);
    if (rc != 0)
        fail_msg("report: %s", out ? out : "");
    free(out);
    wait_for("the report at the district", 30000, report_at_district);
    expect(AS_VIEWER, "GET", "/api/reports?q=o%20dich", NULL, 200);
    char path[300];
    snprintf(path, sizeof path, "/api/reports/%s/redistribute", report_id);
    expect(AS_VIEWER, "POST", path, "{\"recipients\":{\"stations\":[\"" XL "\"]}}", 403);
    expect(AS_OPERATOR, "POST", path, "{}", 400);
    expect(AS_OPERATOR, "POST", path, "{\"recipients\":{\"stations\":[\"" XL "\"]},\"notice\":{\"urgency\":\"loud\"}}", 422);
    expect(AS_OPERATOR, "POST", "/api/reports/nope/redistribute", "{\"recipients\":{\"stations\":[\"" XL "\"]}}", 404);
    ts_th_resp r = req(AS_OPERATOR, "POST", path, "{\"recipients\":{\"stations\":[\"" XL "\"]},\"notice\":{\"urgency\":\"khan\"}}");
    assert_int_equal(r.status, 201);
    char nid[64];
    snprintf(nid, sizeof nid, "%s", jstr(r.json, "id"));
    assert_string_equal(jstr(r.json, "source_report"), report_id);
    ts_th_resp_free(&r);
    assert_true(audited("operator1", "redistribute_report", "reports", report_id, nid));
    r = req(AS_VIEWER, "GET", "/api/reports?limit=10", NULL);
    json_t *rep = json_array_get(json_object_get(r.json, "reports"), 0);
    assert_string_equal(jstr(rep, "id"), report_id);
    assert_string_equal(json_string_value(json_array_get(json_object_get(rep, "redistributed_as"), 0)), nid);
    assert_string_equal(jstr(rep, "commune"), "Bình Nguyên");
    ts_th_resp_free(&r);
    r = reqf(AS_VIEWER, "GET", NULL, "/api/notices/%s", nid);
    assert_string_equal(jstr(json_object_get(r.json, "fields"), "source_report"), report_id);
    assert_string_equal(jstr(json_object_get(r.json, "fields"), "urgency"), "khan");
    ts_th_resp_free(&r);
}

/* ---------------------------------------------------------------- tasks */

static void test_tasks(void **state)
{
    (void)state;
    ts_th_resp r = req(AS_VIEWER, "GET", "/api/tasks", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "tasks")), 28);
    ts_th_resp_free(&r);
    expect(AS_OPERATOR, "POST", "/api/tasks/KH-03/assign", "{}", 400);
    expect(AS_OPERATOR, "POST", "/api/tasks/KH-03/assign", "{\"recipients\":{\"stations\":[\"" BN "\"]},\"deadline\":\"soon\"}",
           422);
    expect(AS_OPERATOR, "POST", "/api/tasks/KH-99/assign", "{\"recipients\":{\"stations\":[\"" BN "\"]}}", 404);
    r = req(AS_OPERATOR, "POST", "/api/tasks/KH-03/assign",
            "{\"recipients\":{\"stations\":[\"" BN "\",\"" XL "\"]},\"deadline\":\"2026-12-31\",\"instructions\":\"Báo cáo "
            "hằng quý\"}");
    assert_int_equal(r.status, 200);
    assert_int_equal(jint(r.json, "assigned"), 2);
    ts_th_resp_free(&r);
    assert_true(audited("operator1", "assign_task", "plan_tasks", "KH-03", NULL));
    r = req(AS_VIEWER, "GET", "/api/tasks", NULL);
    size_t i;
    json_t *tk;
    bool seen = false;
    json_array_foreach(json_object_get(r.json, "tasks"), i, tk) {
        if (strcmp(jstr(tk, "id"), "KH-03") != 0)
            continue;
        seen = true;
        json_t *p = json_object_get(tk, "progress");
        assert_int_equal(jint(p, "assigned"), 2);
        assert_int_equal(jint(p, "done"), 0);
        assert_true(jint(p, "percent") >= 0 && jint(p, "percent") <= 100);
    }
    assert_true(seen);
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/api/tasks/KH-03", NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "assignments")), 2);
    assert_string_equal(jstr(json_array_get(json_object_get(r.json, "assignments"), 0), "commune"), "Bình Nguyên");
    ts_th_resp_free(&r);
}

/* ---------------------------------------------------------------- a true conflict, resolved */

static int64_t conflict_id;

static bool outbreak_at_station(void)
{
    char *out = NULL;
    int rc = ts_test_station_cli(&W.bn, &out, "get", "outbreaks", "OB-1", NULL);
    free(out);
    return rc == 0;
}

static bool conflict_logged(void)
{
    ts_th_resp r = req(AS_VIEWER, "GET", "/api/conflicts?table=outbreaks", NULL);
    json_t *c = json_array_get(json_object_get(r.json, "conflicts"), 0);
    bool found = c != NULL && strcmp(jstr(c, "field"), "cases_total") == 0;
    if (found)
        conflict_id = jint(c, "id");
    ts_th_resp_free(&r);
    return found;
}

static bool merged_at_station(void)
{
    char *out = NULL;
    int rc = ts_test_station_cli(&W.bn, &out, "--json", "get", "outbreaks", "OB-1", NULL);
    bool ok = rc == 0 && out && strstr(out, "\"cases_total\": 6") != NULL;
    free(out);
    return ok;
}

static void test_conflict_resolve(void **state)
{
    (void)state;
    /* the district and an offline station edit the same field of a shared
     * record: a true conflict, found when the station comes back */
    expect(AS_ADMIN, "POST", "/api/records/outbreaks/OB-1",
           "{\"fields\":{\"disease\":\"Sốt xuất huyết Dengue\",\"stations\":[\"" BN "\"],\"status\":\"detected\","
           "\"cases_total\":1}}",
           200);
    wait_for("the outbreak at the station", 30000, outbreak_at_station);
    assert_int_equal(ts_test_station_stop(&W.bn, 20000), 0);
    char *out = NULL;
    if (ts_test_station_cli(&W.bn, &out, "put", "outbreaks", "OB-1", "cases_total=7", NULL) != 0)
        fail_msg("station put: %s", out ? out : "");
    free(out);
    expect(AS_ADMIN, "POST", "/api/records/outbreaks/OB-1", "{\"fields\":{\"cases_total\":5}}", 200);
    ts_test_station_start(&W.bn);
    wait_for("the conflict at the district", 30000, conflict_logged);

    ts_th_resp r = reqf(AS_VIEWER, "GET", NULL, "/api/conflicts/%lld", (long long)conflict_id);
    assert_int_equal(r.status, 200);
    assert_false(json_is_true(json_object_get(r.json, "resolved")));
    json_t *kept = json_object_get(r.json, "kept"), *lost = json_object_get(r.json, "lost");
    assert_true(json_is_integer(kept) && json_is_integer(lost));
    assert_true((json_integer_value(kept) == 5 && json_integer_value(lost) == 7) ||
                (json_integer_value(kept) == 7 && json_integer_value(lost) == 5));
    assert_non_null(json_object_get(json_object_get(r.json, "current"), "fields"));
    assert_true(json_is_null(json_object_get(r.json, "resolution_code")));
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/api/overview", NULL);
    assert_true(jint(r.json, "conflicts_open") >= 1);
    ts_th_resp_free(&r);

    char path[100];
    snprintf(path, sizeof path, "/api/conflicts/%lld/resolve", (long long)conflict_id);
    expect(AS_VIEWER, "POST", path, "{\"choice\":\"kept\"}", 403);
    expect(AS_OPERATOR, "POST", path, "{\"choice\":\"both\"}", 400);
    expect(AS_OPERATOR, "POST", path, "{\"choice\":\"value\"}", 400);
    expect(AS_OPERATOR, "POST", path, "{\"choice\":\"value\",\"value\":\"six\"}", 422);
    expect(AS_OPERATOR, "POST", "/api/conflicts/999999/resolve", "{\"choice\":\"kept\"}", 404);
    /* a merged value: a new version that dominates both sides */
    expect(AS_OPERATOR, "POST", path, "{\"choice\":\"value\",\"value\":6}", 200);
    expect(AS_OPERATOR, "POST", path, "{\"choice\":\"kept\"}", 409);
    assert_true(audited("operator1", "resolve_conflict", "outbreaks", "OB-1", "value"));
    r = req(AS_VIEWER, "GET", "/api/records/outbreaks/OB-1", NULL);
    assert_int_equal(jint(json_object_get(r.json, "fields"), "cases_total"), 6);
    ts_th_resp_free(&r);
    r = reqf(AS_VIEWER, "GET", NULL, "/api/conflicts/%lld", (long long)conflict_id);
    assert_true(json_is_true(json_object_get(r.json, "resolved")));
    assert_string_equal(jstr(r.json, "resolved_by"), "operator1");
    /* how, as a code with its words (issue 16, point 3); the English note
     * stays for readers of the old API */
    assert_string_equal(jstr(r.json, "resolution_code"), "value");
    assert_string_equal(jstr(json_object_get(r.json, "resolution_label"), "vi"), "Sửa giá trị hợp nhất");
    assert_string_equal(jstr(json_object_get(r.json, "resolution_label"), "en"), "Wrote a merged value");
    assert_string_equal(jstr(r.json, "resolution"), "wrote a merged value");
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/api/conflicts?status=resolved", NULL);
    assert_true(json_array_size(json_object_get(r.json, "conflicts")) >= 1);
    ts_th_resp_free(&r);
    /* ...and it reaches the station */
    wait_for("the merged value at the station", 30000, merged_at_station);
}

/* ---------------------------------------------------------------- targets, overview, metrics, events */

static void test_targets(void **state)
{
    (void)state;
    expect(AS_VIEWER, "POST", "/api/targets/refresh", "{}", 403);
    expect(AS_OPERATOR, "POST", "/api/targets/refresh", "{}", 202);
    ts_test_sleep_ms(1500);
    ts_th_resp r = req(AS_VIEWER, "GET", "/api/targets?limit=1", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "targets")), 13);
    assert_true(json_array_size(json_object_get(r.json, "communes")) <= 1);
    json_t *district = json_object_get(r.json, "district");
    json_t *hm = json_object_get(district, "health_management");
    assert_true(json_is_integer(json_object_get(hm, "numerator")));
    assert_true(json_is_integer(json_object_get(hm, "denominator")));
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/api/targets?q=binh%20nguyen", NULL);
    assert_int_equal(jint(r.json, "matched"), 1);
    json_t *c = json_array_get(json_object_get(r.json, "communes"), 0);
    assert_string_equal(jstr(c, "commune"), "Bình Nguyên");
    /* the numbers behind the figure: 1 of 2 residents has a health record */
    json_t *fig = json_object_get(json_object_get(c, "figures"), "health_management");
    assert_non_null(fig);
    assert_true(json_is_boolean(json_object_get(fig, "met")));
    /* over the commune's population of a year, with its source: the
     * directory's yearless 12,450 is not one */
    assert_string_equal(jstr(fig, "source"), "Chưa có dân số của xã");
    assert_int_equal(jint(fig, "denominator"), 0);
    assert_true(json_is_null(json_object_get(fig, "value")));
    /* a direction has nothing to meet */
    assert_true(json_is_null(json_object_get(json_object_get(json_object_get(c, "figures"), "periodic_checkup"), "met")));
    /* computed while Bình Nguyên is connected: not stale */
    assert_true(jint(c, "computed_at_ms") > 0);
    assert_true(json_is_false(json_object_get(c, "stale")));
    ts_th_resp_free(&r);
    /* Xuân Lãng never synced: nothing computed over missing data, nothing kept */
    r = req(AS_VIEWER, "GET", "/api/targets?q=xuan", NULL);
    assert_int_equal(jint(r.json, "matched"), 0);
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/api/targets/history?indicator=bhyt&station=" XL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "points")), 0);
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/api/targets?only=unmet&indicator=health_management", NULL);
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/api/targets/history?indicator=health_management&station=" BN, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_array_size(json_object_get(r.json, "points")) >= 1);
    ts_th_resp_free(&r);
}

static void test_overview_metrics(void **state)
{
    (void)state;
    ts_th_resp r = req(AS_VIEWER, "GET", "/api/overview", NULL);
    assert_int_equal(r.status, 200);
    json_t *st = json_object_get(r.json, "stations");
    assert_int_equal(jint(st, "total"), jint(st, "online") + jint(st, "offline") + jint(st, "silent"));
    json_t *sv = json_object_get(r.json, "service");
    assert_true(jint(sv, "connections") >= 1);
    assert_true(json_is_integer(json_object_get(sv, "errors")));
    assert_true(json_is_integer(json_object_get(sv, "admin_requests")));
    assert_true(jint(r.json, "db_bytes") > 0);
    assert_true(jint(r.json, "records") > 0);
    json_int_t records = jint(r.json, "records");
    ts_th_resp_free(&r);
    r = req(AS_VIEWER, "GET", "/metrics", NULL);
    assert_int_equal(r.status, 200);
    char *ct = ts_th_header(&r, "Content-Type");
    assert_non_null(strstr(ct, "text/plain"));
    free(ct);
    assert_non_null(strstr(r.body, "tramsync_connections "));
    assert_non_null(strstr(r.body, "tramsync_db_bytes "));
    /* the live records, as the overview counts them (one count, kept) */
    const char *rec = strstr(r.body, "\ntramsync_records ");
    assert_non_null(rec);
    assert_int_equal((json_int_t)strtod(rec + strlen("\ntramsync_records "), NULL), records);
    /* every sample is "name[{labels}] number", after its metric's HELP and TYPE */
    {
        char *copy = ts_xstrdup(r.body), *save = NULL;
        char typed[64][96];
        size_t ntyped = 0;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char name[96];
            if (sscanf(line, "# TYPE %95s", name) == 1) {
                assert_true(ntyped < 64);
                snprintf(typed[ntyped++], sizeof typed[0], "%s", name);
                continue;
            }
            if (line[0] == '#')
                continue;
            size_t n = strcspn(line, "{ ");
            snprintf(name, sizeof name, "%.*s", (int)n, line);
            bool known = false;
            for (size_t i = 0; i < ntyped && !known; i++)
                known = strcmp(typed[i], name) == 0;
            if (!known)
                fail_msg("metric sample before its TYPE: %s", line);
            const char *value = strrchr(line, ' ');
            char *end;
            assert_non_null(value);
            strtod(value + 1, &end);
            if (*end != '\0')
                fail_msg("metric value is not a number: %s", line);
        }
        free(copy);
    }
    static const char *const want[] = {
        "tramsync_connections_refused_by_reason_total{reason=\"revoked\"} ",
        "tramsync_notice_recipients{state=\"sent\"} ",
        "tramsync_notice_recipients{state=\"done\"} ",
        "tramsync_task_assignments{state=\"in_progress\"} ",
        "tramsync_notice_frames_total{event=\"sent\"} ",
        "tramsync_server_cert_expiry_seconds ",
        "tramsync_station_cert_expiry_seconds{station=\"binhnguyen\"} ",
        "tramsync_station_last_seen_timestamp_seconds{station=\"binhnguyen\"} ",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (strstr(r.body, want[i]) == NULL)
            fail_msg("/metrics lacks %s", want[i]);
    /* the connected station is seen now; the server certificate has months left */
    const char *seen = strstr(r.body, "tramsync_station_last_seen_timestamp_seconds{station=\"binhnguyen\"} ");
    double seen_at = strtod(strchr(seen, '}') + 2, NULL);
    assert_true(fabs(seen_at - (double)(ts_wall_ms() / 1000)) < 30);
    const char *srv_exp = strstr(r.body, "\ntramsync_server_cert_expiry_seconds ");
    assert_non_null(srv_exp);
    double srv_left = strtod(srv_exp + strlen("\ntramsync_server_cert_expiry_seconds "), NULL);
    if (srv_left < 30.0 * 86400)
        fail_msg("server certificate expires in %.0f s by /metrics", srv_left);
    ts_th_resp_free(&r);
    r = req(AS_ADMIN, "GET", "/api/audit?limit=2", NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "entries")), 2);
    json_int_t before = jint(r.json, "next_before");
    assert_true(json_is_true(json_object_get(r.json, "more")));
    ts_th_resp_free(&r);
    r = reqf(AS_ADMIN, "GET", NULL, "/api/audit?limit=2&before=%lld", (long long)before);
    assert_true(jint(json_array_get(json_object_get(r.json, "entries"), 0), "id") < before);
    ts_th_resp_free(&r);
    r = req(AS_ADMIN, "GET", "/api/users", NULL);
    assert_true(json_array_size(json_object_get(r.json, "users")) >= 4);
    ts_th_resp_free(&r);
}

static void test_events_stream(void **state)
{
    (void)state;
    ts_th c;
    assert_int_equal(ts_th_connect(&c, W.d.admin_port, NULL), 0);
    char *q = ts_xasprintf("GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", W.token_viewer);
    assert_int_equal(ts_th_send_raw(&c, q, strlen(q)), 0);
    free(q);
    char *txt = NULL;
    assert_true(ts_th_read_until(&c, "stream open", 10000, &txt));
    assert_non_null(strstr(txt, "200 OK"));
    assert_non_null(strstr(txt, "text/event-stream"));
    free(txt);
    char *body = notice_json("Thông báo trực tiếp", "khan", "{\"stations\":[\"" BN "\"]}");
    expect(AS_OPERATOR, "POST", "/api/notices", body, 201);
    free(body);
    txt = NULL;
    if (!ts_th_read_until(&c, "event: notice", 10000, &txt))
        fail_msg("no notice event: %s", txt ? txt : "");
    free(txt);
    expect(AS_OPERATOR, "POST", "/api/tasks/KH-04/assign", "{\"recipients\":{\"stations\":[\"" BN "\"]}}", 200);
    assert_true(ts_th_read_until(&c, "event: task", 10000, NULL));
    ts_th_close(&c);
}

static bool resident_r009_at_district(void)
{
    ts_th_resp r = req(AS_ADMIN, "GET", "/api/records/residents/BN-R009", NULL);
    bool ok = r.status == 200;
    ts_th_resp_free(&r);
    return ok;
}

static bool open_events(ts_th *c)
{
    if (ts_th_connect(c, W.d.admin_port, NULL) != 0)
        return false;
    char *q = ts_xasprintf("GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", W.token_viewer);
    bool ok = ts_th_send_raw(c, q, strlen(q)) == 0 && ts_th_read_until(c, "stream open", 10000, NULL);
    free(q);
    return ok;
}

/* A station pushes while no console listens: the next console to connect
 * is told (a "record" event), not left with the change unannounced until
 * its next poll. */
static void test_events_after_quiet_gap(void **state)
{
    (void)state;
    ts_th c;
    assert_true(open_events(&c));
    ts_test_sleep_ms(4500); /* the watch takes its baseline while someone listens */
    ts_th_close(&c);
    ts_test_sleep_ms(4500); /* ... and ticks with nobody listening */
    char *out = NULL;
    if (ts_test_station_cli(&W.bn, &out, "put", "residents", "BN-R009", "full_name=Lê Thị Hoa",
                            "birth_date=1990-02-03", "sex=female", NULL) != 0)
        fail_msg("station put: %s", out ? out : "");
    free(out);
    wait_for("BN-R009 at the district", 30000, resident_r009_at_district);
    assert_true(open_events(&c));
    char *txt = NULL;
    if (!ts_th_read_until(&c, "event: record", 10000, &txt))
        fail_msg("a push made while nobody listened was not announced to the next listener: %s", txt ? txt : "");
    free(txt);
    ts_th_close(&c);
}

static void test_errors_checked(void **state)
{
    (void)state;
    /* the shape-and-leak check above really ran on many error answers */
    assert_true(W.errors_checked > 80);
}

int main(void)
{
    /* a server closing a connection we still write to is an answer, not a crash */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_console_files),
        cmocka_unit_test(test_login_cookie_me_logout),
        cmocka_unit_test(test_session_expiry),
        cmocka_unit_test(test_no_login_401),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_csrf),
        cmocka_unit_test(test_admin_certificate),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_labels_tables_me),
        cmocka_unit_test(test_stations_paging_search),
        cmocka_unit_test(test_records_personal_audit),
        cmocka_unit_test(test_notices),
        cmocka_unit_test(test_reports_redistribute),
        cmocka_unit_test(test_tasks),
        cmocka_unit_test(test_conflict_resolve),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_overview_metrics),
        cmocka_unit_test(test_events_stream),
        cmocka_unit_test(test_events_after_quiet_gap),
        cmocka_unit_test(test_errors_checked),
        /* last: if a flood ever takes the daemon down (a 429 once
         * overran its body), the other cases have already run */
        cmocka_unit_test(test_rate_limit_429),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
