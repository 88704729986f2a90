/* The district's day (issue 16, point 4): the release tramsyncd under
 * libfaketime, its clock at 23:57 UTC, which is 06:57 the next day in
 * Vietnam ([district] timezone, Asia/Ho_Chi_Minh by default). Every day
 * boundary must be the district's:
 *
 *  - a notice sent then carries the Vietnamese day in its id (TB-YYYYMMDD-…)
 *    and its default issue date, and names as the station's head (addressed
 *    to the role) whoever holds the post on the Vietnamese day;
 *  - a task due on the UTC day (yesterday in Vietnam) is overdue at once;
 *  - the targets computed then are kept under the Vietnamese day;
 *  - a time zone the machine does not know stops the daemon at start.
 *
 * The daemon is the release build (ASan objects to a preloaded library), as
 * in test_agent_faults; the test's own clock is the real one. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_watchdog.h"

#define BN "binhnguyen"
#define PASSWORD "mat-khau-thu-nghiem"
#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
#define TEST_LIMIT_S 120

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    char token[96];
    char faketime[48];
    const char *envv[4];
    char utc_day[16];   /* the fake clock's UTC day, YYYY-MM-DD */
    char local_day[16]; /* the district's, a day later */
} env;

static void ymd(time_t t, char *out, size_t size)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%d", &tm);
}

static ts_th_resp call(env *e, const char *method, const char *path, const char *body)
{
    char headers[200] = "";
    if (e->token[0])
        snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\n", e->token);
    ts_th_resp r;
    if (ts_th_call(e->d.admin_port, NULL, method, path, headers, body ? "application/json" : NULL, body, &r) < 0)
        fail_msg("%s %s: no answer", method, path);
    return r;
}

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("district-day");
    const char *codes[] = {BN};
    ts_test_pki_make(&e->pki, e->dir, codes, 1);
    ts_test_watchdog_arm("test_district_day", TEST_LIMIT_S);
    ts_test_watchdog_watch(&e->d.pid);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    ts_test_watchdog_disarm();
    if (e->d.pid > 0)
        ts_test_daemon_stop(&e->d, SIGTERM, 20000);
    ts_test_daemon_free(&e->d);
    ts_test_pki_free(&e->pki);
    ts_tmpdir_remove(e->dir);
    free(e);
    return 0;
}

static void test_days_are_the_districts(void **state)
{
    env *e = *state;
    if (access(FAKETIME_LIB, R_OK) != 0)
        fail_msg("%s is missing (Debian package faketime, installed by make deps)", FAKETIME_LIB);
    char *bin = ts_test_release_bin("tramsyncd");
    if (access(bin, X_OK) != 0)
        fail_msg("%s is missing: this test runs the release build (make)", bin);
    assert_int_equal(ts_test_add_user(e->dir, "admin1", "admin", PASSWORD), 0);

    /* the next 23:57:00 UTC at least a minute away: the daemon's clock jumps
     * there and runs on (3 min before the UTC day changes) */
    time_t now = time(NULL);
    time_t target = now - now % 86400 + 23 * 3600 + 57 * 60;
    if (target < now + 60)
        target += 86400;
    ymd(target, e->utc_day, sizeof e->utc_day);
    ymd(target + 7 * 3600, e->local_day, sizeof e->local_day);
    snprintf(e->faketime, sizeof e->faketime, "FAKETIME=+%lld", (long long)(target - now));
    e->envv[0] = e->faketime;
    e->envv[1] = "FAKETIME_DONT_FAKE_MONOTONIC=1";
    e->envv[2] = "LD_PRELOAD=" FAKETIME_LIB;
    e->envv[3] = NULL;
    const char *sets[] = {"notices.escalate_every=1s", "admin.targets_every=0", NULL};
    ts_test_daemon_start_env(&e->d, bin, e->dir, &e->pki, sets, e->envv);
    free(bin);
    print_message("daemon clock %s 23:57 UTC, the district's day %s\n", e->utc_day, e->local_day);

    char *body = ts_xasprintf("{\"username\":\"admin1\",\"password\":\"%s\"}", PASSWORD);
    ts_th_resp r = call(e, "POST", "/api/login", body);
    free(body);
    assert_int_equal(r.status, 200);
    snprintf(e->token, sizeof e->token, "%s", json_string_value(json_object_get(r.json, "token")));
    ts_th_resp_free(&r);
    r = call(e, "POST", "/api/records/stations/" BN,
             "{\"fields\":{\"name\":\"Trạm Y tế xã Bình Nguyên\",\"commune\":\"Bình Nguyên\"}}");
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);
    /* Bình Nguyên's head: one until the UTC day, another from the district's */
    body = ts_xasprintf("{\"fields\":{\"full_name\":\"Lê Văn Cũ\",\"position\":\"Trạm trưởng\",\"unit\":\"Trạm Y "
                        "tế xã Bình Nguyên\",\"unit_kind\":\"ubnd\",\"station\":\"" BN "\",\"roles\":[\"head\"],"
                        "\"active_to\":\"%s\"}}",
                        e->utc_day);
    r = call(e, "POST", "/api/records/people/BN-TT-CU", body);
    free(body);
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);
    body = ts_xasprintf("{\"fields\":{\"full_name\":\"Trần Thị Mới\",\"position\":\"Trạm trưởng\",\"unit\":\"Trạm "
                        "Y tế xã Bình Nguyên\",\"unit_kind\":\"ubnd\",\"station\":\"" BN "\",\"roles\":[\"head\"],"
                        "\"active_from\":\"%s\"}}",
                        e->local_day);
    r = call(e, "POST", "/api/records/people/BN-TT-MOI", body);
    free(body);
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);
    r = call(e, "GET", "/api/labels", NULL);
    assert_string_equal(json_string_value(json_object_get(r.json, "timezone")), "Asia/Ho_Chi_Minh");
    ts_th_resp_free(&r);

    /* a notice: its id and its issue date are the district's day */
    r = call(e, "POST", "/api/notices",
             "{\"notice\":{\"subject\":\"Kiểm tra ngày của khu vực\",\"issuer\":\"Trung tâm Y tế khu vực\","
             "\"urgency\":\"khan\",\"category\":\"prevention\",\"responsible_role\":\"head\"},\"recipients\":{\"stations\":[\"" BN "\"]}}");
    if (r.status != 201)
        fail_msg("POST /api/notices: %d %s", r.status, r.body);
    char id[80], want[16];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "id")));
    ts_th_resp_free(&r);
    snprintf(want, sizeof want, "%.4s%.2s%.2s", e->local_day, e->local_day + 5, e->local_day + 8);
    if (strncmp(id + 3, want, 8) != 0)
        fail_msg("notice id %s at 06:57 in Vietnam: expected the day %s", id, want);
    char path[200];
    snprintf(path, sizeof path, "/api/notices/%s", id);
    r = call(e, "GET", path, NULL);
    assert_int_equal(r.status, 200);
    const char *issue = json_string_value(json_object_get(json_object_get(r.json, "notice"), "issue_date"));
    if (issue == NULL)
        issue = json_string_value(json_object_get(json_object_get(r.json, "fields"), "issue_date"));
    if (issue == NULL || strcmp(issue, e->local_day) != 0)
        fail_msg("issue date %s, expected %s: %s", issue ? issue : "(none)", e->local_day, r.body);
    /* addressed to the head: whoever holds the post on the district's day */
    const char *head = json_string_value(
        json_object_get(json_array_get(json_object_get(r.json, "recipients"), 0), "responsible_person"));
    if (head == NULL || strcmp(head, "BN-TT-MOI") != 0)
        fail_msg("the head on %s: %s, expected BN-TT-MOI: %s", e->local_day, head ? head : "(none)", r.body);
    ts_th_resp_free(&r);

    /* a task due on the UTC day, yesterday in Vietnam: overdue now */
    body = ts_xasprintf("{\"recipients\":{\"stations\":[\"" BN "\"]},\"deadline\":\"%s\"}", e->utc_day);
    r = call(e, "POST", "/api/tasks/KH-01/assign", body);
    free(body);
    if (r.status != 200 && r.status != 201)
        fail_msg("assign: %d %s", r.status, r.body);
    ts_th_resp_free(&r);
    bool overdue = false;
    for (uint64_t end = ts_test_now_ms() + 10000; !overdue && ts_test_now_ms() < end;) {
        r = call(e, "GET", "/api/escalations", NULL);
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(r.json, "items"), i, it) {
            if (json_is_true(json_object_get(it, "overdue")) &&
                json_is_string(json_object_get(it, "id")) &&
                strcmp(json_string_value(json_object_get(it, "id")), "KH-01:" BN) == 0)
                overdue = true;
        }
        ts_th_resp_free(&r);
        if (!overdue)
            ts_test_sleep_ms(300);
    }
    if (!overdue)
        fail_msg("a task due %s is not overdue at 06:57 on %s in Vietnam", e->utc_day, e->local_day);

    /* the targets are kept under the district's day */
    r = call(e, "POST", "/api/targets/refresh", "{}");
    assert_int_equal(r.status, 202);
    ts_th_resp_free(&r);
    char needle[64];
    snprintf(needle, sizeof needle, "event=targets_computed stations=1 day=%s", e->local_day);
    if (!ts_test_log_wait(e->d.log, needle, 10000)) {
        ts_test_log_tail(e->d.log, 20);
        fail_msg("no \"%s\" in the log", needle);
    }
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
}

/* A zone this machine does not know: the daemon does not start, and says why. */
static void test_unknown_zone_refused(void **state)
{
    env *e = *state;
    char *bin = ts_test_bin("tramsyncd");
    char *out = ts_xasprintf("%s/check.txt", e->dir);
    char *cmd = ts_xasprintf("%s --set server.data_dir=%s --set tls.ca=%s --set tls.cert=%s --set tls.key=%s "
                             "--set district.timezone=Chau_A/Ha_Noi --check-config >%s 2>&1",
                             bin, e->dir, e->pki.ca, e->pki.server_cert, e->pki.server_key, out);
    int rc = system(cmd);
    char *txt = ts_read_file(out, NULL);
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 1 || txt == NULL || strstr(txt, "[district] timezone") == NULL)
        fail_msg("--check-config with an unknown zone: status %d: %s", rc, txt ? txt : "");
    free(txt);
    free(cmd);
    free(out);
    free(bin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_days_are_the_districts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_zone_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
