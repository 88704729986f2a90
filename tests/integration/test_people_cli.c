/* The station's side of "rõ người" (issue 18), on a real tramsyncd and real
 * station agents (`tramsync run`) over mutual TLS, read through the station's
 * own command line:
 *
 *  1. `tramsync people` lists the station's staff, the district's TTYT focal
 *     points and its own commune's UBND (not another commune's); `people
 *     add`, `edit` and `end` write station_people, refusing a bad phone or
 *     date in Vietnamese (English with --lang en) and the district's entries;
 *     the entry reaches the district, whose reads of it are audited
 *  2. a commune UBND's acknowledgement of a notice copied to it reaches that
 *     commune's station ("UBND xã đã xác nhận: NAME (POSITION), date"), and
 *     no other station; an acknowledgement stored before the stations carried
 *     it is written onto the station's handling record when the daemon starts */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_watchdog.h"

#define TEST_LIMIT_S 240
#define PASSWORD "mat-khau-dai-2026"
#define BN "binhnguyen"
#define BX "binhxuyen"

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    ts_th_opts o;
    ts_test_station st[2];
    bool st_made[2];
    char *admin;
    bool passed;
} env;

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("people_cli");
    const char *codes[] = {BN, BX};
    ts_test_pki_make(&e->pki, e->dir, codes, 2);
    e->o.ca = e->pki.ca;
    assert_int_equal(ts_test_add_user(e->dir, "admin", "admin", PASSWORD), 0);
    ts_test_watchdog_arm("test_people_cli", TEST_LIMIT_S);
    ts_test_watchdog_watch(&e->d.pid);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    ts_test_watchdog_disarm();
    if (!e->passed) {
        ts_test_log_tail(e->d.log, 60);
        for (int i = 0; i < 2; i++)
            if (e->st_made[i])
                ts_test_log_tail(e->st[i].log, 25);
    }
    for (int i = 0; i < 2; i++)
        if (e->st_made[i])
            ts_test_station_free(&e->st[i]);
    ts_test_daemon_free(&e->d);
    free(e->admin);
    ts_test_pki_free(&e->pki);
    ts_tmpdir_remove(e->dir);
    free(e);
    return 0;
}

static ts_th_resp call(env *e, const char *token, const char *method, const char *path, const char *body)
{
    char *h = token ? ts_xasprintf("Authorization: Bearer %s\r\n", token) : NULL;
    ts_th_resp r;
    if (ts_th_call(e->d.admin_port, &e->o, method, path, h, body ? "application/json" : NULL, body, &r) < 0)
        fail_msg("%s %s: no answer", method, path);
    free(h);
    return r;
}

static void ok(env *e, const char *token, const char *method, const char *path, const char *body, int want)
{
    ts_th_resp r = call(e, token, method, path, body);
    if (r.status != want)
        fail_msg("%s %s: %d, not %d: %s", method, path, r.status, want, r.body ? r.body : "");
    ts_th_resp_free(&r);
}

static char *login(env *e, const char *user)
{
    char *json = ts_xasprintf("{\"username\":\"%s\",\"password\":\"" PASSWORD "\"}", user);
    ts_th_resp r = call(e, NULL, "POST", "/api/login", json);
    free(json);
    if (r.status != 200)
        fail_msg("login %s: %d %s", user, r.status, r.body);
    char *t = ts_xstrdup(json_string_value(json_object_get(r.json, "token")));
    ts_th_resp_free(&r);
    return t;
}

/* The daemon, the station directory and the district's people: a TTYT
 * focal point, each commune's UBND vice-chair. */
static void world(env *e)
{
    const char *sets[] = {"server.synchronous=off", "admin.targets_every=0", "notices.escalate_every=0", NULL};
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);
    e->admin = login(e, "admin");
    ok(e, e->admin, "POST", "/api/records/stations/" BN,
       "{\"fields\":{\"name\":\"Trạm Y tế xã Bình Nguyên\",\"commune\":\"Bình Nguyên\",\"commune_code\":\"09001\"}}",
       200);
    ok(e, e->admin, "POST", "/api/records/stations/" BX,
       "{\"fields\":{\"name\":\"Trạm Y tế xã Bình Xuyên\",\"commune\":\"Bình Xuyên\",\"commune_code\":\"09002\"}}",
       200);
    ok(e, e->admin, "POST", "/api/records/people/TTYT-KSBT-1",
       "{\"fields\":{\"full_name\":\"Lê Văn Khoa\",\"position\":\"Trưởng khoa\",\"unit\":\"Khoa Kiểm soát bệnh tật\","
       "\"unit_kind\":\"ttyt\",\"phone\":\"0912000001\"}}",
       200);
    ok(e, e->admin, "POST", "/api/records/people/UB-BN-1",
       "{\"fields\":{\"full_name\":\"Phạm Thị Hoa\",\"position\":\"Phó Chủ tịch UBND xã\",\"unit\":\"UBND xã Bình "
       "Nguyên\",\"unit_kind\":\"ubnd\",\"station\":\"" BN "\"}}",
       200);
    ok(e, e->admin, "POST", "/api/records/people/UB-BX-1",
       "{\"fields\":{\"full_name\":\"Đỗ Văn Quyết\",\"position\":\"Phó Chủ tịch UBND xã\",\"unit\":\"UBND xã Bình "
       "Xuyên\",\"unit_kind\":\"ubnd\",\"station\":\"" BX "\"}}",
       200);
}

static ts_test_station *agent(env *e, int i)
{
    const char *code = i == 0 ? BN : BX;
    ts_test_station *s = &e->st[i];
    if (!e->st_made[i]) {
        ts_test_station_make(s, e->dir, code, &e->pki, e->d.port, NULL);
        e->st_made[i] = true;
        ts_test_station_start(s);
    }
    return s;
}

/* `tramsync --json ARGS` parsed, again until check says yes (10 s). */
static json_t *cli_json_until(ts_test_station *s, bool (*check)(const json_t *, const void *), const void *arg,
                              const char *a1, const char *a2, const char *a3)
{
    for (uint64_t end = ts_test_now_ms() + 20000;;) {
        char *out = NULL;
        int rc = ts_test_station_cli(s, &out, "--json", a1, a2, a3, NULL);
        json_t *o = rc == 0 && out ? json_loads(out, 0, NULL) : NULL;
        free(out);
        if (o && check(o, arg))
            return o;
        json_decref(o);
        if (ts_test_now_ms() > end)
            fail_msg("%s: tramsync %s %s did not show what was expected within 20 s", s->code, a1, a2 ? a2 : "");
        ts_test_sleep_ms(150);
    }
}

static bool has_people(const json_t *o, const void *arg)
{
    (void)arg;
    return json_array_size(json_object_get(o, "ttyt")) > 0 && json_array_size(json_object_get(o, "ubnd")) > 0;
}

static bool listed(const json_t *list, const char *id)
{
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
        if (strcmp(json_string_value(json_object_get(p, "id")), id) == 0)
            return true;
    return false;
}

/* Runs the CLI; its exit status, stdout and stderr. */
static int run(ts_test_station *s, char **out, char **err, ...)
{
    const char *args[24];
    va_list ap;
    va_start(ap, err);
    int n = 0;
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 22)
        args[n++] = a;
    va_end(ap);
    for (; n < 23; n++)
        args[n] = NULL;
    return ts_test_station_cli2(s, out, err, args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7],
                                args[8], args[9], args[10], args[11], args[12], args[13], args[14], args[15], NULL);
}

static void test_people_at_station(void **state)
{
    env *e = *state;
    world(e);
    ts_test_station *bn = agent(e, 0);

    /* the district's people that concern Bình Nguyên, not Bình Xuyên's UBND */
    json_t *o = cli_json_until(bn, has_people, NULL, "people", NULL, NULL);
    assert_true(listed(json_object_get(o, "ttyt"), "TTYT-KSBT-1"));
    assert_true(listed(json_object_get(o, "ubnd"), "UB-BN-1"));
    assert_false(listed(json_object_get(o, "ubnd"), "UB-BX-1"));
    assert_int_equal(json_array_size(json_object_get(o, "station")), 0);
    json_decref(o);

    /* bad input: said in Vietnamese, in English when asked; nothing written */
    char *out = NULL, *err = NULL;
    assert_int_equal(run(bn, &out, &err, "people", "add", "--name", "Nguyễn Văn An", "--position", "Trạm trưởng",
                         "--phone", "0912 345 678", NULL),
                     4);
    assert_non_null(strstr(err, "số điện thoại \"0912 345 678\" không hợp lệ"));
    free(out);
    free(err);
    assert_int_equal(run(bn, &out, &err, "--lang", "en", "people", "add", "--name", "Nguyễn Văn An", "--position",
                         "Trạm trưởng", "--phone", "12ab", NULL),
                     4);
    assert_non_null(strstr(err, "phone number \"12ab\" is not valid"));
    free(out);
    free(err);
    assert_int_equal(run(bn, &out, &err, "people", "add", "--name", "Nguyễn Văn An", "--position", "Trạm trưởng",
                         "--from", "2026-13-01", NULL),
                     4);
    assert_non_null(strstr(err, "ngày \"2026-13-01\" không hợp lệ"));
    free(out);
    free(err);
    /* the district's entries are the district's */
    assert_int_equal(run(bn, &out, &err, "people", "end", "UB-BN-1", NULL), 5);
    assert_non_null(strstr(err, "chỉ trung tâm sửa được"));
    free(out);
    free(err);

    /* add, edit, end */
    assert_int_equal(run(bn, &out, &err, "people", "add", "--id", "BN-NV-1", "--name", "Nguyễn Văn An", "--position",
                         "Trạm trưởng", "--phone", "0912345678", "--roles", "head, epidemic_officer", "--from",
                         "2025-01-01", NULL),
                     0);
    assert_non_null(strstr(out, "đã thêm BN-NV-1"));
    free(out);
    free(err);
    assert_int_equal(run(bn, &out, &err, "people", "edit", "BN-NV-1", "--phone", "+84912345679", NULL), 0);
    free(out);
    free(err);
    assert_int_equal(run(bn, &out, &err, "people", "end", "BN-NV-1", "--date", "2024-12-31", NULL), 4);
    assert_non_null(strstr(err, "trước ngày bắt đầu"));
    free(out);
    free(err);
    /* in post: listed with its unit (the station's name), roles by name;
     * the whole listing is docs/STATION.md's example */
    assert_int_equal(run(bn, &out, &err, "people", NULL), 0);
    assert_string_equal(out, "Nhân sự đầu mối của trạm\n"
                             "  BN-NV-1\n"
                             "    Nguyễn Văn An — Trạm trưởng, Trạm Y tế xã Bình Nguyên\n"
                             "    Điện thoại +84912345679; vai trò: Trạm trưởng, Cán bộ phụ trách dịch; từ 01/01/2025\n"
                             "Trung tâm Y tế khu vực\n"
                             "  TTYT-KSBT-1\n"
                             "    Lê Văn Khoa — Trưởng khoa, Khoa Kiểm soát bệnh tật\n"
                             "    Điện thoại 0912000001\n"
                             "UBND xã\n"
                             "  UB-BN-1\n"
                             "    Phạm Thị Hoa — Phó Chủ tịch UBND xã, UBND xã Bình Nguyên\n");
    assert_null(strstr(out, "Đỗ Văn Quyết"));
    assert_null(strstr(out, "epidemic_officer"));
    free(out);
    free(err);
    assert_int_equal(run(bn, &out, &err, "people", "end", "BN-NV-1", "--date", "2026-01-31", NULL), 0);
    free(out);
    free(err);
    /* ended: gone from the list, shown with --all */
    assert_int_equal(run(bn, &out, &err, "people", NULL), 0);
    assert_null(strstr(out, "Nguyễn Văn An"));
    free(out);
    free(err);
    assert_int_equal(run(bn, &out, &err, "people", "--all", NULL), 0);
    assert_non_null(strstr(out, "từ 01/01/2025 đến 31/01/2026 (không còn đảm nhiệm)"));
    free(out);
    free(err);

    /* the district has it once synced, and audits reading it */
    for (uint64_t end = ts_test_now_ms() + 20000;;) {
        ts_th_resp r = call(e, e->admin, "GET", "/api/records/station_people/BN-NV-1", NULL);
        const json_t *f = json_object_get(r.json, "fields");
        bool there = r.status == 200 && json_string_value(json_object_get(f, "active_to")) &&
                     strcmp(json_string_value(json_object_get(f, "active_to")), "2026-01-31") == 0;
        if (there) {
            assert_string_equal(json_string_value(json_object_get(f, "phone")), "+84912345679");
            assert_string_equal(json_string_value(json_object_get(r.json, "owner")), BN);
        }
        ts_th_resp_free(&r);
        if (there)
            break;
        if (ts_test_now_ms() > end)
            fail_msg("the district does not have station_people/BN-NV-1 as ended after 20 s");
        ts_test_sleep_ms(150);
    }
    ts_th_resp r = call(e, e->admin, "GET", "/api/audit?table=station_people&record=BN-NV-1&action=read", NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_array_size(json_object_get(r.json, "entries")) >= 1);
    ts_th_resp_free(&r);
    assert_int_equal(ts_test_station_stop(bn, 15000), 0);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

static bool has_commune_ack(const json_t *o, const void *arg)
{
    (void)arg;
    return json_object_get(json_object_get(o, "handling"), "commune_ack_at") != NULL;
}

static bool is_there(const json_t *o, const void *arg)
{
    (void)arg;
    return json_object_get(o, "handling") != NULL;
}

static void send_notice(env *e, const char *subject, const char *stations, char *id, size_t size)
{
    char *body = ts_xasprintf("{\"notice\":{\"subject\":\"%s\",\"issuer\":\"TTYT\",\"urgency\":\"khan\","
                              "\"category\":\"prevention\",\"cc_commune_committee\":true},"
                              "\"recipients\":{\"stations\":[%s]}}",
                              subject, stations);
    ts_th_resp r = call(e, e->admin, "POST", "/api/notices", body);
    free(body);
    assert_int_equal(r.status, 201);
    snprintf(id, size, "%s", json_string_value(json_object_get(r.json, "id")));
    ts_th_resp_free(&r);
}

static void test_commune_ack_reaches_station(void **state)
{
    env *e = *state;
    world(e);
    ok(e, e->admin, "POST", "/api/users",
       "{\"username\":\"ubnd\",\"password\":\"" PASSWORD "\",\"role\":\"commune\",\"communes\":\"09001\"}", 201);
    char *ubnd = login(e, "ubnd");
    char n1[64], n2[64];
    send_notice(e, "Phòng chống sốt xuất huyết", "\"" BN "\",\"" BX "\"", n1, sizeof n1);
    ts_test_station *bn = agent(e, 0), *bx = agent(e, 1);
    json_decref(cli_json_until(bn, is_there, NULL, "notice", "show", n1));
    json_decref(cli_json_until(bx, is_there, NULL, "notice", "show", n1));

    char path[160];
    snprintf(path, sizeof path, "/api/notices/%s/commune-ack", n1);
    ok(e, ubnd, "POST", path, "{\"by\":\"UB-BN-1\"}", 200);
    /* again: the first one is kept, nothing rewritten */
    ok(e, ubnd, "POST", path, "{}", 200);
    json_t *o = cli_json_until(bn, has_commune_ack, NULL, "notice", "show", n1);
    const json_t *h = json_object_get(o, "handling");
    assert_string_equal(json_string_value(json_object_get(h, "commune_ack_by")), "Phạm Thị Hoa (Phó Chủ tịch UBND xã)");
    assert_string_equal(json_string_value(json_object_get(h, "commune_ack_person")), "UB-BN-1");
    json_decref(o);
    char *out = NULL, *err = NULL;
    assert_int_equal(run(bn, &out, &err, "notice", "show", n1, NULL), 0);
    assert_non_null(strstr(out, "UBND xã đã xác nhận: Phạm Thị Hoa (Phó Chủ tịch UBND xã), "));
    free(out);
    free(err);
    assert_int_equal(run(bn, &out, &err, "notices", NULL), 0);
    assert_non_null(strstr(out, "    UBND xã đã xác nhận: Phạm Thị Hoa (Phó Chủ tịch UBND xã), "));
    free(out);
    free(err);
    assert_int_equal(run(bn, &out, &err, "--lang", "en", "notice", "show", n1, NULL), 0);
    assert_non_null(strstr(out, "Acknowledged by the commune's UBND: Phạm Thị Hoa (Phó Chủ tịch UBND xã), "));
    free(out);
    free(err);

    /* Bình Xuyên: a later notice arrives, the acknowledgement of Bình
     * Nguyên's UBND does not */
    send_notice(e, "Tiêm chủng mở rộng", "\"" BX "\"", n2, sizeof n2);
    json_decref(cli_json_until(bx, is_there, NULL, "notice", "show", n2));
    o = cli_json_until(bx, is_there, NULL, "notice", "show", n1);
    assert_null(json_object_get(json_object_get(o, "handling"), "commune_ack_at"));
    json_decref(o);
    assert_int_equal(run(bx, &out, &err, "notice", "show", n1, NULL), 0);
    assert_null(strstr(out, "UBND xã đã xác nhận"));
    free(out);
    free(err);

    /* an acknowledgement stored before the handling records carried it (as
     * a district upgraded from schema 10 has them): written there at start */
    assert_int_equal(ts_test_station_stop(bx, 15000), 0);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    char *db = ts_xasprintf("%s/district.db", e->dir);
    sqlite3 *h3;
    assert_int_equal(sqlite3_open(db, &h3), SQLITE_OK);
    char *sql = ts_xasprintf("INSERT INTO commune_acks(notice_id, commune, username, person, acknowledged_at)"
                             " VALUES('%s', '09002', 'ubnd-bx', 'UB-BX-1', 1796000000000)",
                             n2);
    assert_int_equal(sqlite3_exec(h3, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h3);
    free(sql);
    free(db);
    ts_test_daemon_restart(&e->d);
    assert_true(ts_test_log_wait(e->d.log, "event=commune_acks_mirrored records=1", 10000));
    ts_test_station_set_port(bx, e->d.port);
    ts_test_station_start(bx);
    o = cli_json_until(bx, has_commune_ack, NULL, "notice", "show", n2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "handling"), "commune_ack_by")),
                        "Đỗ Văn Quyết (Phó Chủ tịch UBND xã)");
    json_decref(o);
    assert_int_equal(ts_test_station_stop(bx, 15000), 0);
    free(ubnd);
    assert_int_equal(ts_test_station_stop(bn, 15000), 0);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_people_at_station, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commune_ack_reaches_station, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
