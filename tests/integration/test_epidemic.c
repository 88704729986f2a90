/* The epidemic channel at the district (issue 17), with the real tramsyncd
 * and `tramsync run` on 127.0.0.1:
 *
 *  1. a station reports a dengue case: the district's consoles hear the
 *     alert (event "epidemic") within moments of the push, with no names
 *  2. the cluster rule fires exactly at its threshold (3 cases within 7
 *     days, set by the district in its catalogue) and not below, once
 *  2b. across neighbouring communes: when the directory says two communes
 *     border each other, their cases count together (and only then)
 *  3. the reporting clock: a case that reached the district after its
 *     disease's deadline counts as late, a case of today as on time; cases
 *     a station declared in its reports but did not file one by one count
 *     as missing
 *  4. an outbreak the station declares raises an alert; a named operator
 *     acknowledges alerts (audited, once), a viewer may not; the overview
 *     counts the alerts still open
 *  5. weekly figures by commune and disease, as JSON and as CSV
 *  6. an outbreak: opened by the district from a station's report with a
 *     neighbouring commune, instructions acknowledged by a station, an
 *     update report, its timeline; its end declared once the disease's days
 *     without a case have passed (refused before, unless forced with a
 *     reason) and delivered to every station concerned
 *  7. at the station: the catalogue arrives by itself; `tramsync case` takes
 *     the disease's name, code and group from it and says the reporting
 *     deadline (or that it passed), in Vietnamese and in English; an
 *     unknown disease is refused; `tramsync outbreaks` lists the outbreaks
 *     the station is part of with the district's instructions and whether
 *     they were acknowledged here
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_watchdog.h"

#define TEST_LIMIT_S 150
#define BN "binhnguyen"
#define XL "xuanlang"
#define PASSWORD "mật-khẩu-đủ-dài-2026"

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    ts_test_station st[2];
    ts_th_opts admin;
    char *admin_cert, *admin_key;
    bool passed;
} env;

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("epidemic");
    const char *codes[] = {BN, XL};
    ts_test_pki_make(&e->pki, e->dir, codes, 2);
    e->admin_cert = ts_test_pki_cert(&e->pki, "admin");
    e->admin_key = ts_test_pki_key(&e->pki, "admin");
    e->admin = (ts_th_opts){e->pki.ca, e->admin_cert, e->admin_key, NULL};
    assert_int_equal(ts_test_add_user(e->dir, "lan", "operator", PASSWORD), 0);
    assert_int_equal(ts_test_add_user(e->dir, "minh", "viewer", PASSWORD), 0);
    ts_test_watchdog_arm("test_epidemic", TEST_LIMIT_S);
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
    for (int i = 0; i < 2; i++) {
        if (!e->passed && e->st[i].log)
            ts_test_log_tail(e->st[i].log, 30);
        if (e->st[i].code)
            ts_test_station_free(&e->st[i]);
    }
    if (!e->passed)
        ts_test_log_tail(e->d.log, 60);
    ts_test_daemon_free(&e->d);
    ts_test_pki_free(&e->pki);
    free(e->admin_cert);
    free(e->admin_key);
    ts_tmpdir_remove(e->dir);
    free(e);
    return 0;
}

/* A request with the admin certificate, or with a token; the answer. */
static ts_th_resp call(env *e, const char *token, const char *method, const char *path, const char *body)
{
    ts_th_resp r;
    char hdr[200] = "";
    if (token)
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", token);
    ts_th_opts o = {e->pki.ca, NULL, NULL, NULL};
    if (ts_th_call(e->d.admin_port, token ? &o : &e->admin, method, path, hdr[0] ? hdr : NULL,
                   body ? "application/json" : NULL, body, &r) < 0)
        fail_msg("%s %s: no answer", method, path);
    return r;
}

static json_t *call_ok(env *e, const char *token, const char *method, const char *path, const char *body, int want)
{
    ts_th_resp r = call(e, token, method, path, body);
    if (r.status != want)
        fail_msg("%s %s: %d (wanted %d): %s", method, path, r.status, want, r.body ? r.body : "");
    json_t *o = json_incref(r.json);
    ts_th_resp_free(&r);
    return o;
}

static char *login(env *e, const char *user)
{
    char *body = ts_xasprintf("{\"username\":\"%s\",\"password\":\"%s\"}", user, PASSWORD);
    json_t *o = call_ok(e, NULL, "POST", "/api/login", body, 200);
    free(body);
    char *tok = ts_xstrdup(json_string_value(json_object_get(o, "token")));
    json_decref(o);
    return tok;
}

/* The district's day `offset` days from today: Asia/Ho_Chi_Minh, UTC+7 all
 * year, whatever this machine's zone (the daemon and the stations judge days
 * in it; the machine's own day differs from 17:00 to 24:00 UTC). */
static void day(int offset, char *out, size_t size)
{
    time_t t = time(NULL) + 7 * 3600 + (time_t)offset * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%d", &tm);
}

static void start(env *e)
{
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);
    static const char *const codes[] = {BN, XL};
    static const char *const names[] = {"Bình Nguyên", "Xuân Lãng"};
    const char *sets[] = {"sync.debounce=50ms", "sync.poll=50ms", NULL};
    for (int i = 0; i < 2; i++) {
        char path[80], body[300];
        snprintf(path, sizeof path, "/api/records/stations/%s", codes[i]);
        snprintf(body, sizeof body, "{\"fields\":{\"name\":\"Trạm Y tế xã %s\",\"commune\":\"%s\"}}", names[i],
                 names[i]);
        json_decref(call_ok(e, NULL, "POST", path, body, 200));
        ts_test_station_make(&e->st[i], e->dir, codes[i], &e->pki, e->d.port, sets);
        ts_test_station_start(&e->st[i]);
    }
}

/* A case written at station s (through its CLI, as staff would). */
static void put_case(env *e, int s, const char *id, const char *disease, const char *diag_day)
{
    char *out = NULL;
    char d[80], dd[64];
    snprintf(d, sizeof d, "disease=%s", disease);
    snprintf(dd, sizeof dd, "diagnosis_date=%s", diag_day);
    int rc = ts_test_station_cli(&e->st[s], &out, "put", "disease_cases", id, d, dd, "classification=confirmed",
                                 "patient_name=Nguyễn Văn Bệnh Nhân", "village_id=thon-dong", NULL);
    if (rc != 0)
        fail_msg("put disease_cases %s: exit %d %s", id, rc, out ? out : "");
    free(out);
}

static bool at_district(env *e, const char *table, const char *id, int timeout_ms)
{
    char path[200];
    snprintf(path, sizeof path, "/api/records/%s/%s", table, id);
    uint64_t t0 = ts_test_now_ms();
    while (ts_test_now_ms() - t0 < (uint64_t)timeout_ms) {
        ts_th_resp r = call(e, NULL, "GET", path, NULL);
        int status = r.status;
        ts_th_resp_free(&r);
        if (status == 200)
            return true;
        ts_test_sleep_ms(50);
    }
    return false;
}

static json_t *alerts(env *e, const char *show)
{
    char path[64];
    snprintf(path, sizeof path, "/api/epidemic/alerts?show=%s", show);
    return call_ok(e, NULL, "GET", path, NULL, 200);
}

/* How many alerts of a kind are listed; the last one found in *last. */
static size_t count_kind(json_t *list, const char *kind, json_t **last)
{
    size_t n = 0, i;
    json_t *a;
    json_array_foreach(json_object_get(list, "alerts"), i, a) {
        if (strcmp(json_string_value(json_object_get(a, "kind")), kind) == 0) {
            n++;
            if (last)
                *last = a;
        }
    }
    return n;
}

static bool wait_alerts(env *e, const char *kind, size_t want, int timeout_ms)
{
    uint64_t t0 = ts_test_now_ms();
    while (ts_test_now_ms() - t0 < (uint64_t)timeout_ms) {
        json_t *l = alerts(e, "all");
        size_t n = count_kind(l, kind, NULL);
        json_decref(l);
        if (n >= want)
            return true;
        ts_test_sleep_ms(50);
    }
    return false;
}

/* ================================================================ 1. live alert */

static void test_case_alert_live(void **state)
{
    env *e = *state;
    start(e);
    ts_th ev;
    assert_int_equal(ts_th_connect(&ev, e->d.admin_port, &e->admin), 0);
    static const char q[] = "GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(ts_th_send_raw(&ev, q, strlen(q)), 0);
    assert_true(ts_th_read_until(&ev, "stream open", 10000, NULL));
    char today[16];
    day(0, today, sizeof today);
    uint64_t t0 = ts_test_now_ms();
    put_case(e, 0, "BN-C001", "Sốt xuất huyết Dengue", today);
    char *txt = NULL;
    if (!ts_th_read_until(&ev, "event: epidemic", 10000, &txt))
        fail_msg("no epidemic event on the console's stream: %s", txt ? txt : "");
    uint64_t took = ts_test_now_ms() - t0;
    free(txt);
    ts_th_close(&ev);
    print_message("station write to console alert: %llu ms (agent debounce 50 ms)\n", (unsigned long long)took);
    /* the agent pushes within ~100 ms; the alert follows its commit at once */
    if (took > 1500)
        fail_msg("the alert took %llu ms", (unsigned long long)took);
    json_t *l = alerts(e, "open");
    json_t *a = NULL;
    assert_int_equal(count_kind(l, "case", &a), 1);
    assert_string_equal(json_string_value(json_object_get(a, "disease")), "dengue");
    assert_string_equal(json_string_value(json_object_get(a, "disease_vi")), "Sốt xuất huyết Dengue");
    assert_string_equal(json_string_value(json_object_get(a, "station")), BN);
    assert_string_equal(json_string_value(json_object_get(a, "commune")), "Bình Nguyên");
    assert_string_equal(json_string_value(json_object_get(a, "first_day")), today);
    if (!ts_test_log_wait(e->d.log, "event=epidemic_alert kind=case disease=dengue station=binhnguyen", 3000))
        fail_msg("the alert is not in the daemon's log");
    /* aggregates only: never a patient's name */
    char *dump = json_dumps(l, JSON_COMPACT);
    if (strstr(dump, "Bệnh Nhân") != NULL)
        fail_msg("a patient's name in the alerts: %s", dump);
    free(dump);
    json_decref(l);
    /* the same case edited is not a new alert */
    char *out = NULL;
    assert_int_equal(ts_test_station_cli(&e->st[0], &out, "put", "disease_cases", "BN-C001", "outcome=recovered", NULL),
                     0);
    free(out);
    ts_test_sleep_ms(1000);
    l = alerts(e, "all");
    assert_int_equal(count_kind(l, "case", NULL), 1);
    json_decref(l);
    e->passed = true;
}

/* ================================================================ 2. cluster rule */

static void test_cluster_threshold(void **state)
{
    env *e = *state;
    start(e);
    /* the district's own rule: 3 cases within 7 days (not the default 2 in 14) */
    json_decref(call_ok(e, NULL, "POST", "/api/records/diseases/dengue",
                        "{\"fields\":{\"cluster_cases\":3,\"cluster_days\":7}}", 200));
    char d[6][16];
    static const int offsets[] = {-30, -29, -20, -19, -18, -18};
    for (int i = 0; i < 6; i++)
        day(offsets[i], d[i], sizeof d[i]);
    /* two cases a day apart: below the threshold */
    put_case(e, 0, "BN-K1", "dengue", d[0]);
    put_case(e, 0, "BN-K2", "dengue", d[1]);
    /* another commune's case does not count for this one */
    put_case(e, 1, "XL-K1", "Sốt xuất huyết Dengue", d[1]);
    /* ten days later: the first two are out of its 7-day window */
    put_case(e, 0, "BN-K3", "dengue", d[2]);
    assert_true(at_district(e, "disease_cases", "BN-K3", 20000));
    assert_true(at_district(e, "disease_cases", "XL-K1", 20000));
    assert_true(wait_alerts(e, "case", 4, 5000));
    json_t *l = alerts(e, "all");
    if (count_kind(l, "cluster", NULL) != 0)
        fail_msg("a cluster alert below the threshold: %s", json_dumps(l, JSON_COMPACT));
    json_decref(l);
    /* the fourth and fifth: three within 7 days in Bình Nguyên */
    put_case(e, 0, "BN-K4", "dengue", d[3]);
    assert_true(at_district(e, "disease_cases", "BN-K4", 20000));
    ts_test_sleep_ms(500);
    l = alerts(e, "all");
    assert_int_equal(count_kind(l, "cluster", NULL), 0);
    json_decref(l);
    put_case(e, 0, "BN-K5", "dengue", d[4]);
    if (!wait_alerts(e, "cluster", 1, 5000))
        fail_msg("no cluster alert at the threshold");
    json_t *c = NULL;
    l = alerts(e, "all");
    assert_int_equal(count_kind(l, "cluster", &c), 1);
    assert_string_equal(json_string_value(json_object_get(c, "station")), BN);
    assert_int_equal(json_integer_value(json_object_get(c, "cases")), 3);
    assert_string_equal(json_string_value(json_object_get(c, "first_day")), d[2]);
    assert_string_equal(json_string_value(json_object_get(c, "last_day")), d[4]);
    json_decref(l);
    /* one more case in the same window: the alert already covers it */
    put_case(e, 0, "BN-K6", "dengue", d[5]);
    assert_true(at_district(e, "disease_cases", "BN-K6", 20000));
    assert_true(wait_alerts(e, "case", 7, 5000));
    l = alerts(e, "all");
    assert_int_equal(count_kind(l, "cluster", NULL), 1);
    json_decref(l);
    e->passed = true;
}

static void test_cluster_across_neighbours(void **state)
{
    env *e = *state;
    start(e);
    json_decref(call_ok(e, NULL, "POST", "/api/records/diseases/dengue",
                        "{\"fields\":{\"cluster_cases\":3,\"cluster_days\":7}}", 200));
    /* the directory says Bình Nguyên borders Xuân Lãng (one side is enough) */
    json_decref(call_ok(e, NULL, "POST", "/api/records/stations/" BN, "{\"fields\":{\"neighbours\":[\"" XL "\"]}}",
                        200));
    char d[3][16];
    day(-12, d[0], sizeof d[0]);
    day(-11, d[1], sizeof d[1]);
    day(-10, d[2], sizeof d[2]);
    put_case(e, 0, "BN-N1", "dengue", d[0]);
    put_case(e, 1, "XL-N1", "dengue", d[1]);
    assert_true(at_district(e, "disease_cases", "BN-N1", 20000));
    assert_true(at_district(e, "disease_cases", "XL-N1", 20000));
    assert_true(wait_alerts(e, "case", 2, 5000));
    json_t *l = alerts(e, "all");
    assert_int_equal(count_kind(l, "cluster", NULL), 0);
    json_decref(l);
    /* the third case, at Xuân Lãng: two communes, three cases, seven days */
    put_case(e, 1, "XL-N2", "dengue", d[2]);
    if (!wait_alerts(e, "cluster", 1, 10000))
        fail_msg("no cluster alert across neighbouring communes");
    json_t *c = NULL;
    l = alerts(e, "all");
    assert_int_equal(count_kind(l, "cluster", &c), 1);
    assert_int_equal(json_integer_value(json_object_get(c, "cases")), 3);
    assert_string_equal(json_string_value(json_object_get(c, "station")), XL);
    json_t *sts = json_object_get(c, "stations");
    assert_int_equal(json_array_size(sts), 2);
    char *dump = json_dumps(sts, JSON_COMPACT);
    if (!strstr(dump, BN) || !strstr(dump, XL))
        fail_msg("the communes involved: %s", dump);
    free(dump);
    assert_string_equal(json_string_value(json_object_get(c, "first_day")), d[0]);
    json_decref(l);
    e->passed = true;
}

/* ================================================================ 3. reporting clock */

static void test_reporting_clock(void **state)
{
    env *e = *state;
    start(e);
    char today[16], old[16];
    day(0, today, sizeof today);
    day(-5, old, sizeof old);
    put_case(e, 1, "XL-R1", "Sởi", old);   /* diagnosed 5 days ago, reported now: late */
    put_case(e, 1, "XL-R2", "Sởi", today); /* on time */
    put_case(e, 1, "XL-R3", "Thủy đậu", old); /* weekly disease (168 h): still on time */
    assert_true(at_district(e, "disease_cases", "XL-R3", 20000));
    assert_true(at_district(e, "disease_cases", "XL-R1", 20000));
    assert_true(at_district(e, "disease_cases", "XL-R2", 20000));
    json_t *s = NULL;
    json_t *rep = NULL;
    uint64_t t0 = ts_test_now_ms();
    while (ts_test_now_ms() - t0 < 5000) {
        json_decref(s);
        s = call_ok(e, NULL, "GET", "/api/epidemic", NULL, 200);
        rep = json_array_get(json_object_get(s, "reporting"), 0);
        if (rep && json_integer_value(json_object_get(rep, "cases")) == 3)
            break;
        ts_test_sleep_ms(100);
    }
    if (rep == NULL)
        fail_msg("no reporting figures: %s", json_dumps(s, JSON_COMPACT));
    assert_string_equal(json_string_value(json_object_get(rep, "station")), XL);
    assert_int_equal(json_integer_value(json_object_get(rep, "cases")), 3);
    assert_int_equal(json_integer_value(json_object_get(rep, "late")), 1);
    assert_int_equal(json_integer_value(json_object_get(rep, "on_time")), 2);
    assert_true(json_integer_value(json_object_get(rep, "worst_late_hours")) >= 72);
    json_decref(s);
    e->passed = true;
}

/* ================================================================ 4. outbreak, acknowledgement */

static void test_outbreak_alert_acknowledged(void **state)
{
    env *e = *state;
    start(e);
    json_decref(call_ok(e, NULL, "POST", "/api/users/lan", "{\"full_name\":\"Nguyễn Thị Lan\"}", 200));
    char *out = NULL;
    int rc = ts_test_station_cli(&e->st[0], &out, "--json", "report", "--kind", "outbreak_detection", "--subject",
                                 "Ổ dịch tay chân miệng trường mầm non", "--disease", "Tay chân miệng", "--cases", "4",
                                 "--onset", "2026-12-01", "--urgency", "thuong_khan", "--by", "Trần Văn Bình", NULL);
    if (rc != 0)
        fail_msg("tramsync report: exit %d %s", rc, out);
    free(out);
    assert_true(wait_alerts(e, "outbreak", 1, 20000));
    json_t *l = alerts(e, "open"), *a = NULL;
    assert_int_equal(count_kind(l, "outbreak", &a), 1);
    assert_string_equal(json_string_value(json_object_get(a, "disease")), "hfmd");
    assert_int_equal(json_integer_value(json_object_get(a, "cases")), 4);
    assert_string_equal(json_string_value(json_object_get(a, "first_day")), "2026-12-01");
    char path[80];
    snprintf(path, sizeof path, "/api/epidemic/alerts/%lld/ack",
             (long long)json_integer_value(json_object_get(a, "id")));
    long long open_before = json_integer_value(json_object_get(l, "open"));
    json_decref(l);
    /* the overview counts the alerts nobody acknowledged (the console's tile) */
    json_t *ov = call_ok(e, NULL, "GET", "/api/overview", NULL, 200);
    assert_true(json_is_integer(json_object_get(ov, "epidemic_alerts_open")));
    assert_int_equal(json_integer_value(json_object_get(ov, "epidemic_alerts_open")), open_before);
    json_decref(ov);

    char *viewer = login(e, "minh"), *op = login(e, "lan");
    json_decref(call_ok(e, viewer, "POST", path, "{}", 403));
    json_t *ack = call_ok(e, op, "POST", path, "{}", 200);
    assert_int_equal(json_integer_value(json_object_get(ack, "open")), open_before - 1);
    json_decref(ack);
    json_decref(call_ok(e, op, "POST", path, "{}", 409));
    json_decref(call_ok(e, op, "POST", "/api/epidemic/alerts/999999/ack", "{}", 404));
    json_decref(call_ok(e, op, "POST", "/api/epidemic/alerts/x1/ack", "{}", 404));
    l = alerts(e, "open");
    assert_int_equal(count_kind(l, "outbreak", NULL), 0);
    json_decref(l);
    ov = call_ok(e, NULL, "GET", "/api/overview", NULL, 200);
    assert_int_equal(json_integer_value(json_object_get(ov, "epidemic_alerts_open")), open_before - 1);
    json_decref(ov);
    l = alerts(e, "all");
    a = NULL;
    assert_int_equal(count_kind(l, "outbreak", &a), 1);
    assert_string_equal(json_string_value(json_object_get(a, "acknowledged_by")), "lan");
    assert_string_equal(json_string_value(json_object_get(a, "acknowledged_by_name")), "Nguyễn Thị Lan");
    assert_true(json_integer_value(json_object_get(a, "acknowledged_at_ms")) > 0);
    json_decref(l);
    json_t *audit = call_ok(e, NULL, "GET", "/api/audit?action=ack_epidemic_alert", NULL, 200);
    char *txt = json_dumps(audit, JSON_COMPACT);
    if (strstr(txt, "\"lan\"") == NULL)
        fail_msg("the acknowledgement is not audited: %s", txt);
    free(txt);
    json_decref(audit);
    free(viewer);
    free(op);
    e->passed = true;
}

/* ================================================================ 5. weekly figures */

static void test_weekly_figures_csv(void **state)
{
    env *e = *state;
    start(e);
    char d0[16], d1[16];
    day(-1, d0, sizeof d0);
    day(0, d1, sizeof d1);
    put_case(e, 0, "BN-W1", "dengue", d0);
    put_case(e, 0, "BN-W2", "dengue", d1);
    put_case(e, 1, "XL-W1", "Tay chân miệng", d1);
    assert_true(at_district(e, "disease_cases", "BN-W2", 20000));
    assert_true(at_district(e, "disease_cases", "XL-W1", 20000));
    assert_true(at_district(e, "disease_cases", "BN-W1", 20000));
    json_t *s = NULL;
    long long total = 0;
    uint64_t t0 = ts_test_now_ms();
    while (ts_test_now_ms() - t0 < 5000 && total < 3) {
        json_decref(s);
        s = call_ok(e, NULL, "GET", "/api/epidemic", NULL, 200);
        total = 0;
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(s, "rows"), i, r)
            total += json_integer_value(json_object_get(r, "cases"));
        if (total < 3)
            ts_test_sleep_ms(100);
    }
    assert_int_equal(total, 3);
    char *dump = json_dumps(s, JSON_COMPACT);
    if (strstr(dump, "Bệnh Nhân") || !strstr(dump, "\"commune\":\"Bình Nguyên\"") || !strstr(dump, "\"week\":\""))
        fail_msg("weekly figures: %s", dump);
    free(dump);
    json_decref(s);
    json_decref(call_ok(e, NULL, "GET", "/api/epidemic?from=2026-13-01", NULL, 400));
    ts_th_resp r = call(e, NULL, "GET", "/api/epidemic?format=csv", NULL);
    assert_int_equal(r.status, 200);
    char *ct = ts_th_header(&r, "Content-Type");
    assert_non_null(ct);
    assert_non_null(strstr(ct, "text/csv"));
    free(ct);
    if (strstr(r.body, "xa,ma_tram,benh,ma_benh,tuan,so_ca\r\n") == NULL ||
        strstr(r.body, "\"Xuân Lãng\",\"xuanlang\",\"Tay chân miệng\",\"hfmd\",") == NULL ||
        strstr(r.body, "Bệnh Nhân") != NULL)
        fail_msg("CSV export:\n%s", r.body);
    ts_th_resp_free(&r);
    e->passed = true;
}

/* ================================================================ 6. outbreak timeline and end */

/* A station report through the CLI; its id. */
static void report(env *e, int s, char *id, size_t size, const char *const *args)
{
    const char *argv[24] = {"--json", "report"};
    int n = 2;
    for (const char *const *a = args; *a; a++)
        argv[n++] = *a;
    argv[n] = NULL;
    char *out = NULL;
    int rc = ts_test_station_cli(&e->st[s], &out, argv[0], argv[1], n > 2 ? argv[2] : NULL, n > 3 ? argv[3] : NULL,
                                 n > 4 ? argv[4] : NULL, n > 5 ? argv[5] : NULL, n > 6 ? argv[6] : NULL,
                                 n > 7 ? argv[7] : NULL, n > 8 ? argv[8] : NULL, n > 9 ? argv[9] : NULL,
                                 n > 10 ? argv[10] : NULL, n > 11 ? argv[11] : NULL, n > 12 ? argv[12] : NULL,
                                 n > 13 ? argv[13] : NULL, n > 14 ? argv[14] : NULL, n > 15 ? argv[15] : NULL, NULL);
    if (rc != 0)
        fail_msg("tramsync report: exit %d %s", rc, out ? out : "");
    json_t *o = json_loads(out, 0, NULL);
    snprintf(id, size, "%s", json_string_value(json_object_get(o, "id")));
    json_decref(o);
    free(out);
}

/* The record as station s holds it, or NULL. */
static json_t *at_station(env *e, int s, const char *table, const char *id)
{
    char *out = NULL;
    json_t *o = NULL;
    if (ts_test_station_cli(&e->st[s], &out, "--json", "get", table, id, NULL) == 0)
        o = json_loads(out, 0, NULL);
    free(out);
    return o;
}

static json_t *wait_at_station(env *e, int s, const char *table, const char *id, int timeout_ms)
{
    uint64_t t0 = ts_test_now_ms();
    while (ts_test_now_ms() - t0 < (uint64_t)timeout_ms) {
        json_t *o = at_station(e, s, table, id);
        if (o)
            return o;
        ts_test_sleep_ms(100);
    }
    return NULL;
}

static size_t timeline_count(json_t *show, const char *kind)
{
    size_t n = 0, i;
    json_t *t;
    json_array_foreach(json_object_get(show, "timeline"), i, t)
        n += strcmp(json_string_value(json_object_get(t, "kind")), kind) == 0;
    return n;
}

static void test_outbreak_timeline_and_end(void **state)
{
    env *e = *state;
    start(e);
    char *op = login(e, "lan");
    char onset[16], c1[16], c2[16], recent[16], today[16];
    day(-20, onset, sizeof onset);
    day(-19, c1, sizeof c1);
    day(-18, c2, sizeof c2);
    day(-1, recent, sizeof recent);
    day(0, today, sizeof today);
    char rep[128];
    const char *detect[] = {"--kind",  "outbreak_detection", "--subject", "Ổ dịch tay chân miệng trường mầm non",
                            "--disease", "Tay chân miệng",    "--cases",   "2",
                            "--onset", onset,                 "--by",      "Trần Văn Bình",
                            NULL};
    report(e, 0, rep, sizeof rep, detect);
    assert_true(at_district(e, "reports", rep, 20000));

    /* the district opens it, with the neighbouring commune */
    char *body = ts_xasprintf("{\"report\":\"%s\",\"stations\":[\"" XL "\"]}", rep);
    json_t *o = call_ok(e, op, "POST", "/api/epidemic/outbreaks", body, 201);
    free(body);
    char ob[64];
    snprintf(ob, sizeof ob, "%s", json_string_value(json_object_get(o, "id")));
    json_t *f = json_object_get(o, "fields");
    assert_string_equal(json_string_value(json_object_get(f, "status")), "detected");
    assert_string_equal(json_string_value(json_object_get(f, "started_on")), onset);
    assert_string_equal(json_string_value(json_object_get(f, "disease")), "Tay chân miệng");
    assert_int_equal(json_integer_value(json_object_get(f, "cases_total")), 2);
    assert_int_equal(json_array_size(json_object_get(f, "stations")), 2);
    json_decref(o);
    json_decref(call_ok(e, op, "POST", "/api/epidemic/outbreaks", "{\"report\":\"nosuch\"}", 404));
    /* both stations hold it */
    json_t *held = wait_at_station(e, 1, "outbreaks", ob, 20000);
    if (held == NULL)
        fail_msg("the neighbouring station never received outbreak %s", ob);
    json_decref(held);

    /* the district's instructions, acknowledged by Xuân Lãng */
    body = ts_xasprintf("{\"notice\":{\"subject\":\"Hướng dẫn xử lý ổ dịch tay chân miệng\",\"issuer\":\"TTYT\","
                        "\"urgency\":\"khan\",\"category\":\"prevention\",\"outbreak_id\":\"%s\"},"
                        "\"recipients\":{\"stations\":[\"" BN "\",\"" XL "\"]}}",
                        ob);
    o = call_ok(e, op, "POST", "/api/notices", body, 201);
    free(body);
    char notice[64];
    snprintf(notice, sizeof notice, "%s", json_string_value(json_object_get(o, "id")));
    json_decref(o);
    json_decref(wait_at_station(e, 1, "notices", notice, 20000));
    char *out = NULL;
    assert_int_equal(ts_test_station_cli(&e->st[1], &out, "ack", notice, "--by", "Lê Thị Hoa", NULL), 0);
    free(out);

    /* cases, then the station's update */
    put_case(e, 0, "BN-O1", "hfmd", c1);
    put_case(e, 0, "BN-O2", "hfmd", c2);
    char upd[128];
    const char *update[] = {"--kind", "outbreak_update", "--subject", "Cập nhật ổ dịch", "--disease", "Tay chân miệng",
                            "--cases", "2", "--outbreak", ob, NULL};
    report(e, 0, upd, sizeof upd, update);
    assert_true(at_district(e, "reports", upd, 20000));
    assert_true(at_district(e, "disease_cases", "BN-O2", 20000));
    char path[160];
    snprintf(path, sizeof path, "/api/epidemic/outbreaks/%s", ob);
    json_t *show = NULL;
    uint64_t t0 = ts_test_now_ms();
    while (ts_test_now_ms() - t0 < 10000) {
        json_decref(show);
        show = call_ok(e, NULL, "GET", path, NULL, 200);
        if (timeline_count(show, "outbreak_update") == 1 && json_array_size(json_object_get(show, "cases_by_day")) == 2)
            break;
        ts_test_sleep_ms(100);
    }
    char *dump = json_dumps(show, JSON_COMPACT);
    if (timeline_count(show, "outbreak_detection") != 1 || timeline_count(show, "outbreak_update") != 1 ||
        timeline_count(show, "notice") != 1)
        fail_msg("timeline: %s", dump);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(show, "timeline"), i, t)
        if (strcmp(json_string_value(json_object_get(t, "kind")), "notice") == 0) {
            assert_int_equal(json_integer_value(json_object_get(t, "recipients")), 2);
            assert_int_equal(json_integer_value(json_object_get(t, "acknowledged")), 1);
        }
    assert_string_equal(json_string_value(json_object_get(show, "last_case_on")), c2);
    char can_end[16];
    day(-18 + 14, can_end, sizeof can_end); /* hfmd: 14 days without a case */
    assert_string_equal(json_string_value(json_object_get(show, "can_end_from")), can_end);
    if (strstr(dump, "Bệnh Nhân"))
        fail_msg("a patient's name in the timeline: %s", dump);
    free(dump);
    json_decref(show);
    json_t *list = call_ok(e, NULL, "GET", "/api/epidemic/outbreaks", NULL, 200);
    assert_int_equal(json_array_size(json_object_get(list, "outbreaks")), 1);
    json_decref(list);

    /* fourteen days without a case have passed: the district declares the end */
    snprintf(path, sizeof path, "/api/epidemic/outbreaks/%s/end", ob);
    o = call_ok(e, op, "POST", path, "{}", 200);
    assert_string_equal(json_string_value(json_object_get(o, "ended_on")), today);
    assert_int_equal(json_array_size(json_object_get(o, "recipients")), 2);
    char end_notice[64];
    snprintf(end_notice, sizeof end_notice, "%s", json_string_value(json_object_get(o, "notice")));
    json_decref(o);
    json_decref(call_ok(e, op, "POST", path, "{}", 409));
    for (int s = 0; s < 2; s++) {
        json_t *n = wait_at_station(e, s, "notices", end_notice, 20000);
        if (n == NULL)
            fail_msg("station %d never received the end of the outbreak", s);
        json_t *nf = json_object_get(n, "fields");
        const char *subject = json_string_value(json_object_get(nf ? nf : n, "subject"));
        if (subject == NULL || strstr(subject, "Công bố kết thúc ổ dịch Tay chân miệng") == NULL)
            fail_msg("end notice: %s", json_dumps(n, JSON_COMPACT));
        assert_string_equal(json_string_value(json_object_get(nf ? nf : n, "outbreak_id")), ob);
        json_decref(n);
    }
    snprintf(path, sizeof path, "/api/epidemic/outbreaks/%s", ob);
    show = call_ok(e, NULL, "GET", path, NULL, 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(show, "fields"), "status")), "ended");
    assert_int_equal(timeline_count(show, "declared_end"), 1);
    assert_int_equal(timeline_count(show, "notice"), 2);
    json_decref(show);

    /* a measles outbreak with a case yesterday: too early, unless forced with a reason */
    put_case(e, 1, "XL-M1", "Sởi", recent);
    char rep2[128];
    const char *detect2[] = {"--kind", "outbreak_detection", "--subject", "Ổ dịch sởi", "--disease", "Sởi", NULL};
    report(e, 1, rep2, sizeof rep2, detect2);
    assert_true(at_district(e, "reports", rep2, 20000));
    assert_true(at_district(e, "disease_cases", "XL-M1", 20000));
    ts_test_sleep_ms(300);
    body = ts_xasprintf("{\"report\":\"%s\"}", rep2);
    o = call_ok(e, op, "POST", "/api/epidemic/outbreaks", body, 201);
    free(body);
    char ob2[64];
    snprintf(ob2, sizeof ob2, "%s", json_string_value(json_object_get(o, "id")));
    json_decref(o);
    /* its case came before the report's day: set the start back so it counts */
    snprintf(path, sizeof path, "/api/records/outbreaks/%s", ob2);
    body = ts_xasprintf("{\"fields\":{\"started_on\":\"%s\"}}", recent);
    json_decref(call_ok(e, NULL, "POST", path, body, 200));
    free(body);
    snprintf(path, sizeof path, "/api/epidemic/outbreaks/%s/end", ob2);
    ts_th_resp r = call(e, op, "POST", path, "{}");
    assert_int_equal(r.status, 409);
    const char *msg = json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
    char from[16], from_vn[16];
    day(-1 + 21, from, sizeof from); /* measles: 21 days */
    snprintf(from_vn, sizeof from_vn, "%s", from);
    if (msg == NULL || strstr(msg, from_vn) == NULL)
        fail_msg("TOO_EARLY does not say from when: %s", r.body);
    ts_th_resp_free(&r);
    json_decref(call_ok(e, op, "POST", path, "{\"force\":true}", 422));
    json_decref(call_ok(e, op, "POST", path, "{\"force\":true,\"reason\":\"Chẩn đoán lại: không phải sởi\"}", 200));
    json_t *audit = call_ok(e, NULL, "GET", "/api/audit?action=end_outbreak", NULL, 200);
    assert_int_equal(json_array_size(json_object_get(audit, "entries")) ? json_array_size(json_object_get(audit, "entries"))
                                                                        : json_array_size(json_object_get(audit, "audit")),
                     2);
    json_decref(audit);
    free(op);
    e->passed = true;
}

/* A station declares more cases in its reports than it files one by one:
 * the reporting clock says how many were never sent, of which disease. */
static void test_missing_case_reports(void **state)
{
    env *e = *state;
    start(e);
    char today[16];
    day(0, today, sizeof today);
    put_case(e, 1, "XL-MS1", "Sởi", today);
    put_case(e, 1, "XL-MS2", "Sởi", today);
    char rep[128];
    const char *detect[] = {"--kind", "outbreak_detection", "--subject", "Ổ dịch sởi thôn 3", "--disease", "Sởi",
                            "--cases", "5", NULL};
    report(e, 1, rep, sizeof rep, detect);
    assert_true(at_district(e, "reports", rep, 20000));
    assert_true(at_district(e, "disease_cases", "XL-MS2", 20000));
    json_t *s = NULL, *r = NULL;
    uint64_t t0 = ts_test_now_ms();
    while (ts_test_now_ms() - t0 < 5000) {
        json_decref(s);
        s = call_ok(e, NULL, "GET", "/api/epidemic", NULL, 200);
        r = json_array_get(json_object_get(s, "reporting"), 0);
        if (r && json_integer_value(json_object_get(r, "missing")) == 3)
            break;
        ts_test_sleep_ms(100);
    }
    if (r == NULL || json_integer_value(json_object_get(r, "missing")) != 3)
        fail_msg("missing case reports: %s", json_dumps(s, JSON_COMPACT));
    assert_string_equal(json_string_value(json_object_get(r, "station")), XL);
    json_t *m = json_array_get(json_object_get(r, "missing_by_disease"), 0);
    assert_string_equal(json_string_value(json_object_get(m, "disease")), "measles");
    assert_int_equal(json_integer_value(json_object_get(m, "declared")), 5);
    assert_int_equal(json_integer_value(json_object_get(m, "filed")), 2);
    json_decref(s);
    /* the three others filed: nothing missing */
    for (int i = 3; i <= 5; i++) {
        char id[32];
        snprintf(id, sizeof id, "XL-MS%d", i);
        put_case(e, 1, id, "Sởi", today);
    }
    assert_true(at_district(e, "disease_cases", "XL-MS5", 20000));
    t0 = ts_test_now_ms();
    long long left = -1;
    while (ts_test_now_ms() - t0 < 5000 && left != 0) {
        s = call_ok(e, NULL, "GET", "/api/epidemic", NULL, 200);
        r = json_array_get(json_object_get(s, "reporting"), 0);
        left = r ? json_integer_value(json_object_get(r, "missing")) : -1;
        json_decref(s);
        if (left != 0)
            ts_test_sleep_ms(100);
    }
    assert_int_equal(left, 0);
    e->passed = true;
}

/* ================================================================ 7. at the station */

static char *cli_out(env *e, int s, int want, const char *a0, const char *a1, const char *a2, const char *a3,
                     const char *a4, const char *a5, const char *a6, const char *a7, const char *a8, const char *a9)
{
    char *out = NULL;
    int rc = ts_test_station_cli(&e->st[s], &out, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, NULL);
    if (rc != want)
        fail_msg("tramsync %s %s: exit %d (wanted %d): %s", a0, a1 ? a1 : "", rc, want, out ? out : "");
    return out ? out : ts_xstrdup("");
}

static void test_station_commands(void **state)
{
    env *e = *state;
    start(e);
    /* the district's catalogue reaches the station with the first pull */
    uint64_t t0 = ts_test_now_ms();
    size_t n = 0;
    while (ts_test_now_ms() - t0 < 20000 && n < 18) {
        char *out = NULL;
        if (ts_test_station_cli(&e->st[0], &out, "--json", "diseases", NULL) == 0) {
            json_t *o = json_loads(out, 0, NULL);
            n = json_array_size(o);
            json_decref(o);
        }
        free(out);
        if (n < 18)
            ts_test_sleep_ms(100);
    }
    assert_int_equal(n, 18);
    char *out = cli_out(e, 0, 0, "--lang", "vi", "diseases", NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    if (!strstr(out, "Sốt xuất huyết Dengue") || !strstr(out, "trong 24 giờ, từng trường hợp") || !strstr(out, "A97"))
        fail_msg("diseases:\n%s", out);
    free(out);

    char today[16], old[16], today_vn[16], tomorrow_vn[16];
    day(0, today, sizeof today);
    day(-5, old, sizeof old);
    char t1[16];
    day(1, t1, sizeof t1);
    snprintf(today_vn, sizeof today_vn, "%.2s/%.2s/%.4s", today + 8, today + 5, today);
    snprintf(tomorrow_vn, sizeof tomorrow_vn, "%.2s/%.2s/%.4s", t1 + 8, t1 + 5, t1);
    out = cli_out(e, 0, 0, "--lang", "vi", "case", "--disease", "dengue", "--diagnosed", today, "--patient",
                  "Nguyễn Văn Bệnh Nhân", NULL);
    char want[200];
    snprintf(want, sizeof want, "Sốt xuất huyết Dengue (nhóm B), chẩn đoán ngày %s.", today_vn);
    if (!strstr(out, "Đã ghi ca bệnh binhnguyen-CB-") || !strstr(out, want))
        fail_msg("case (vi):\n%s", out);
    snprintf(want, sizeof want, "Hạn báo cáo: trong 24 giờ kể từ ngày chẩn đoán, đến hết ngày %s — báo cáo từng trường hợp.",
             tomorrow_vn);
    if (!strstr(out, want))
        fail_msg("case (vi) does not say the deadline \"%s\":\n%s", want, out);
    free(out);
    out = cli_out(e, 0, 0, "--lang", "en", "case", "--disease", "Sởi", "--diagnosed", old, "--classification",
                  "confirmed", NULL);
    if (!strstr(out, "Measles (group B)") || !strstr(out, "PAST THE REPORTING DEADLINE"))
        fail_msg("case (en), late:\n%s", out);
    free(out);
    out = cli_out(e, 0, 3, "--lang", "vi", "case", "--disease", "sốt lạ", "--diagnosed", today, NULL, NULL, NULL);
    free(out);
    /* what the station wrote carries the catalogue's name, ICD-10 and group,
     * and raises the district's alert */
    json_t *cases = NULL;
    out = cli_out(e, 0, 0, "--json", "list", "disease_cases", NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    cases = json_loads(out, 0, NULL);
    free(out);
    char *dump = json_dumps(cases, JSON_COMPACT);
    if (!strstr(dump, "\"icd10\":\"A97\"") || !strstr(dump, "\"group\":\"B\"") ||
        !strstr(dump, "\"disease\":\"Sốt xuất huyết Dengue\""))
        fail_msg("cases at the station: %s", dump);
    free(dump);
    json_decref(cases);
    assert_true(wait_alerts(e, "case", 2, 20000));

    /* an outbreak concerning Xuân Lãng, and the district's instructions */
    char rep[128];
    const char *detect[] = {"--kind", "outbreak_detection", "--subject", "Ổ dịch tay chân miệng", "--disease",
                            "Tay chân miệng", "--cases", "3", NULL};
    report(e, 0, rep, sizeof rep, detect);
    assert_true(at_district(e, "reports", rep, 20000));
    char *op = login(e, "lan");
    char *body = ts_xasprintf("{\"report\":\"%s\",\"stations\":[\"" XL "\"]}", rep);
    json_t *o = call_ok(e, op, "POST", "/api/epidemic/outbreaks", body, 201);
    free(body);
    char ob[64];
    snprintf(ob, sizeof ob, "%s", json_string_value(json_object_get(o, "id")));
    json_decref(o);
    body = ts_xasprintf("{\"notice\":{\"subject\":\"Hướng dẫn khử khuẩn trường học\",\"issuer\":\"TTYT\","
                        "\"urgency\":\"khan\",\"category\":\"prevention\",\"outbreak_id\":\"%s\"},"
                        "\"recipients\":{\"stations\":[\"" XL "\"]}}",
                        ob);
    o = call_ok(e, op, "POST", "/api/notices", body, 201);
    free(body);
    char notice[64];
    snprintf(notice, sizeof notice, "%s", json_string_value(json_object_get(o, "id")));
    json_decref(o);
    json_decref(wait_at_station(e, 1, "notices", notice, 20000));
    json_decref(wait_at_station(e, 1, "outbreaks", ob, 20000));
    out = cli_out(e, 1, 0, "--lang", "vi", "outbreaks", NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    if (!strstr(out, ob) || !strstr(out, "Tay chân miệng — mới phát hiện") || !strstr(out, "3 ca") ||
        !strstr(out, "Hướng dẫn khử khuẩn trường học") || !strstr(out, "CHƯA XÁC NHẬN"))
        fail_msg("outbreaks (vi):\n%s", out);
    free(out);
    out = cli_out(e, 1, 0, "ack", notice, "--by", "Lê Thị Hoa", NULL, NULL, NULL, NULL, NULL, NULL);
    free(out);
    out = cli_out(e, 1, 0, "--lang", "en", "outbreaks", NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    if (!strstr(out, "Tay chân miệng — detected") || !strstr(out, "acknowledged: Lê Thị Hoa"))
        fail_msg("outbreaks (en) after the acknowledgement:\n%s", out);
    free(out);
    out = cli_out(e, 0, 0, "--lang", "vi", "outbreaks", NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    if (!strstr(out, ob) || strstr(out, "Hướng dẫn khử khuẩn"))
        fail_msg("outbreaks at Bình Nguyên (the notice went to Xuân Lãng only):\n%s", out);
    free(out);
    free(op);
    e->passed = true;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_case_alert_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster_threshold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster_across_neighbours, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reporting_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbreak_alert_acknowledged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_weekly_figures_csv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbreak_timeline_and_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_station_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_case_reports, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
