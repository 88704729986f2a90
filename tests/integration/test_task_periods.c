/* A recurring plan task gets one progress entry per period instead of a
 * single "done" (issue 18), on a real tramsyncd and a real station agent:
 *
 *  1. a plan whose task KH-01 recurs quarterly from 2026 and KH-02 yearly
 *     from 2025 (the plan file's `recurrence`); both assigned to Bình Nguyên
 *     and Bình Xuyên
 *  2. Bình Nguyên reports with `tramsync progress --period`: KH-01 2026-Q1
 *     done, 2026-Q3 in progress at 40 % (past), the current period by
 *     default; KH-02 2025 done
 *  3. the district's task view (GET /api/tasks/{id}: periods) reads a row per
 *     period: Q1 done, Q2 overdue (not reported, though Q1 was done), Q3
 *     overdue (in progress when it ended), the current one in progress;
 *     Bình Xuyên, which reported nothing, overdue for every past period
 *  4. refused in Vietnamese: a period of another unit, one not begun, a
 *     period on a task that does not recur, taking back a period done
 *  5. the station shows its own periods (`tramsync notice show KH-01`) */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "common/ts_notice.h"
#include "common/ts_period.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_watchdog.h"

#define TEST_LIMIT_S 180
#define PASSWORD "mat-khau-dai-2026"
#define BN "binhnguyen"
#define BX "binhxuyen"
#define TZ_VN "Asia/Ho_Chi_Minh"

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    ts_th_opts o;
    ts_test_station st;
    bool st_made;
    char *admin;
    bool passed;
} env;

static const char *const st_env[] = {"TZ=" TZ_VN, NULL};

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("task_periods");
    const char *codes[] = {BN, BX};
    ts_test_pki_make(&e->pki, e->dir, codes, 2);
    e->o.ca = e->pki.ca;
    assert_int_equal(ts_test_add_user(e->dir, "admin", "admin", PASSWORD), 0);
    ts_test_watchdog_arm("test_task_periods", TEST_LIMIT_S);
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
        if (e->st_made)
            ts_test_log_tail(e->st.log, 25);
    }
    if (e->st_made)
        ts_test_station_free(&e->st);
    ts_test_daemon_free(&e->d);
    free(e->admin);
    ts_test_pki_free(&e->pki);
    ts_tmpdir_remove(e->dir);
    free(e);
    return 0;
}

static ts_th_resp call(env *e, const char *method, const char *path, const char *body)
{
    char *h = e->admin ? ts_xasprintf("Authorization: Bearer %s\r\n", e->admin) : NULL;
    ts_th_resp r;
    if (ts_th_call(e->d.admin_port, &e->o, method, path, h, body ? "application/json" : NULL, body, &r) < 0)
        fail_msg("%s %s: no answer", method, path);
    free(h);
    return r;
}

static void ok(env *e, const char *method, const char *path, const char *body, int want)
{
    ts_th_resp r = call(e, method, path, body);
    if (r.status != want)
        fail_msg("%s %s: %d, not %d: %s", method, path, r.status, want, r.body ? r.body : "");
    ts_th_resp_free(&r);
}

static const char plan[] =
    "{\"file\":\"kh.json\",\"plan\":{\"format\":\"tramsync-plan/1\",\"name\":\"Kế hoạch thử\",\"issuer\":\"UBND "
    "tỉnh\",\"date\":\"2025\",\"version\":5,\"targets\":[],\"tasks\":["
    "{\"no\":1,\"text\":\"Giao ban chuyên môn và báo cáo quý\",\"lead\":\"Sở Y tế\",\"deadline_text\":\"Từ năm "
    "2026\",\"recurrence\":\"quarterly\"},"
    "{\"no\":2,\"text\":\"Rà soát danh sách người cao tuổi\",\"lead\":\"Sở Y tế\",\"deadline_text\":\"Từ năm "
    "2025\"},"
    "{\"no\":3,\"text\":\"Kiện toàn tổ chức\",\"lead\":\"Sở Y tế\",\"deadline_text\":\"Quý III/2024\"}]}}";

/* Runs the CLI (arguments NULL-terminated); its exit status, stdout and
 * stderr. */
static int run(ts_test_station *s, char **out, char **err, ...)
{
    const char *args[16] = {NULL};
    va_list ap;
    va_start(ap, err);
    const char *a;
    for (int n = 0; n < 15 && (a = va_arg(ap, const char *)) != NULL; n++)
        args[n] = a;
    va_end(ap);
    return ts_test_station_cli2(s, out, err, args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7],
                                args[8], args[9], args[10], args[11], args[12], args[13], args[14], NULL);
}

/* `tramsyncctl ARGS` as the admin; its exit status and what it printed. */
static int ctl(env *e, char **out, const char *a1, const char *a2, const char *a3)
{
    char *bin = ts_test_bin("tramsyncctl");
    char *outfile = ts_xasprintf("%s/ctl.out", e->dir);
    char *url = ts_xasprintf("https://localhost:%d", e->d.admin_port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("TRAMSYNC_ADMIN_URL", url, 1);
        setenv("TRAMSYNC_CA", e->pki.ca, 1);
        setenv("TRAMSYNC_USER", "admin", 1);
        setenv("TRAMSYNC_PASSWORD", PASSWORD, 1);
        execl(bin, bin, a1, a2, a3, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    char *text = ts_read_file(outfile, NULL);
    *out = text ? text : ts_xstrdup("");
    free(url);
    free(outfile);
    free(bin);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The district's rows of a station for a task, once they show `want` for
 * period (20 s). */
static json_t *district_rows(env *e, const char *task, const char *station, const char *period, const char *want)
{
    char path[64];
    snprintf(path, sizeof path, "/api/tasks/%s", task);
    for (uint64_t end = ts_test_now_ms() + 20000;;) {
        ts_th_resp r = call(e, "GET", path, NULL);
        json_t *found = NULL;
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(json_object_get(r.json, "periods"), "stations"), i, s)
            if (strcmp(json_string_value(json_object_get(s, "station")), station) == 0)
                found = json_incref(json_object_get(s, "rows"));
        ts_th_resp_free(&r);
        size_t k;
        json_t *row;
        json_array_foreach(found, k, row)
            if (strcmp(json_string_value(json_object_get(row, "period")), period) == 0 &&
                strcmp(json_string_value(json_object_get(row, "status")), want) == 0)
                return found;
        json_decref(found);
        if (ts_test_now_ms() > end)
            fail_msg("the district does not show %s of %s at %s as %s within 20 s", period, task, station, want);
        ts_test_sleep_ms(150);
    }
}

static const json_t *row_of(const json_t *rows, const char *period)
{
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
        if (strcmp(json_string_value(json_object_get(r, "period")), period) == 0)
            return r;
    fail_msg("no row for %s", period);
    return NULL;
}

static const char *status_of(const json_t *rows, const char *period)
{
    return json_string_value(json_object_get(row_of(rows, period), "status"));
}

static void test_periods(void **state)
{
    env *e = *state;
    const char *sets[] = {"server.synchronous=off", "admin.targets_every=0", "notices.escalate_every=0",
                          "district.timezone=" TZ_VN, NULL};
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);
    ts_th_resp r = call(e, "POST", "/api/login", "{\"username\":\"admin\",\"password\":\"" PASSWORD "\"}");
    e->admin = ts_xstrdup(json_string_value(json_object_get(r.json, "token")));
    ts_th_resp_free(&r);
    ok(e, "POST", "/api/plan", plan, 200);
    /* the plan file's recurrence is the task's */
    r = call(e, "GET", "/api/tasks/KH-01", NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "fields"), "recurrence")),
                        "quarterly");
    /* no assignment yet: no station's rows */
    assert_int_equal(json_array_size(json_object_get(json_object_get(r.json, "periods"), "stations")), 0);
    ts_th_resp_free(&r);
    /* a recurrence on a task that does not recur is refused */
    ok(e, "POST", "/api/plan",
       "{\"plan\":{\"format\":\"tramsync-plan/1\",\"name\":\"K\",\"issuer\":\"U\",\"date\":\"2025\",\"version\":6,"
       "\"targets\":[],\"tasks\":[{\"no\":1,\"text\":\"T\",\"lead\":\"L\",\"deadline_text\":\"Quý III/2024\","
       "\"recurring\":false,\"recurrence\":\"monthly\"}]}}",
       422);
    ok(e, "POST", "/api/plan",
       "{\"plan\":{\"format\":\"tramsync-plan/1\",\"name\":\"K\",\"issuer\":\"U\",\"date\":\"2025\",\"version\":6,"
       "\"targets\":[],\"tasks\":[{\"no\":1,\"text\":\"T\",\"lead\":\"L\",\"deadline_text\":\"Từ năm 2026\","
       "\"recurrence\":\"weekly\"}]}}",
       422);
    ok(e, "POST", "/api/records/stations/" BN, "{\"fields\":{\"name\":\"Trạm Y tế xã Bình Nguyên\",\"commune\":\"Bình Nguyên\"}}", 200);
    ok(e, "POST", "/api/records/stations/" BX, "{\"fields\":{\"name\":\"Trạm Y tế xã Bình Xuyên\",\"commune\":\"Bình Xuyên\"}}", 200);
    for (int t = 1; t <= 3; t++) {
        char path[64];
        snprintf(path, sizeof path, "/api/tasks/KH-%02d/assign", t);
        ok(e, "POST", path, "{\"recipients\":{\"stations\":[\"" BN "\",\"" BX "\"]}}", 200);
    }

    ts_test_station_make(&e->st, e->dir, BN, &e->pki, e->d.port, NULL);
    e->st_made = true;
    e->st.env = st_env;
    ts_test_station_start(&e->st);
    ts_test_station *bn = &e->st;
    /* the tasks have arrived once notice show finds KH-01 recurring */
    char *out = NULL, *err = NULL;
    for (uint64_t end = ts_test_now_ms() + 20000;;) {
        int rc = run(bn, &out, &err, "--json", "notice", "show", "KH-01", NULL, NULL, NULL, NULL, NULL, NULL);
        json_t *o = rc == 0 ? json_loads(out, 0, NULL) : NULL;
        bool there = json_object_get(o, "periods") != NULL;
        json_decref(o);
        free(out);
        free(err);
        if (there)
            break;
        if (ts_test_now_ms() > end)
            fail_msg("KH-01 did not arrive at the station as a recurring task within 20 s");
        ts_test_sleep_ms(150);
    }

    /* refusals, nothing written */
    assert_int_equal(run(bn, &out, &err, "progress", "KH-02", "--state", "done", "--report", "x", "--period",
                         "2026-Q1", NULL, NULL),
                     4);
    assert_non_null(strstr(err, "kỳ \"2026-Q1\" không đúng: nhiệm vụ này thực hiện hằng năm, ghi kỳ dạng 2026"));
    free(out);
    free(err);
    assert_int_equal(run(bn, &out, &err, "--lang", "en", "progress", "KH-01", "--state", "in_progress", "--period",
                         "2026-13", NULL, NULL),
                     4);
    assert_non_null(strstr(err, "this task recurs quarterly"));
    free(out);
    free(err);
    assert_int_equal(run(bn, &out, &err, "progress", "KH-01", "--state", "in_progress", "--period", "2100-Q4", NULL,
                         NULL, NULL, NULL),
                     4);
    assert_non_null(strstr(err, "kỳ Quý IV/2100 chưa bắt đầu"));
    free(out);
    free(err);
    assert_int_equal(run(bn, &out, &err, "progress", "KH-03", "--state", "in_progress", "--period", "2026", NULL,
                         NULL, NULL, NULL),
                     4);
    assert_non_null(strstr(err, "KH-03 không phải nhiệm vụ định kỳ"));
    free(out);
    free(err);
    assert_int_equal(run(bn, &out, &err, "progress", "KH-01", "--state", "done", "--period", "2026-Q1", NULL, NULL,
                         NULL, NULL),
                     4);
    assert_non_null(strstr(err, "báo cáo kết quả ngắn"));
    free(out);
    free(err);

    /* the reports */
    assert_int_equal(run(bn, &out, &err, "progress", "KH-01", "--period", "2026-Q1", "--state", "done", "--report",
                         "Đã giao ban 3 lần", "--by", "Nguyễn Văn An", NULL),
                     0);
    assert_non_null(strstr(out, "KH-01, Quý I/2026: Hoàn thành"));
    free(out);
    free(err);
    assert_int_equal(run(bn, &out, &err, "progress", "KH-01", "--period", "2026-Q3", "--state", "in_progress",
                         "--percent", "40", "--note", "Mới giao ban 1 lần", NULL),
                     0);
    free(out);
    free(err);
    /* the current period by default */
    assert_int_equal(run(bn, &out, &err, "--json", "progress", "KH-01", "--state", "in_progress", "--percent", "10",
                         NULL, NULL, NULL),
                     0);
    json_t *o = json_loads(out, 0, NULL);
    char current[16];
    snprintf(current, sizeof current, "%s", json_string_value(json_object_get(o, "period")));
    json_decref(o);
    free(out);
    free(err);
    assert_true(ts_period_key_valid(TS_PERIOD_QUARTERLY, current));
    assert_int_equal(run(bn, &out, &err, "progress", "KH-02", "--period", "2025", "--state", "done", "--report",
                         "Đã rà soát 412 người", NULL, NULL),
                     0);
    free(out);
    free(err);
    /* a period done stays done */
    assert_int_equal(run(bn, &out, &err, "progress", "KH-01", "--period", "2026-Q1", "--state", "in_progress", NULL,
                         NULL, NULL, NULL),
                     4);
    assert_non_null(strstr(err, "kỳ Quý I/2026 đã báo hoàn thành"));
    free(out);
    free(err);

    /* the district: a row per period */
    json_t *rows = district_rows(e, "KH-01", BN, current, "in_progress");
    assert_string_equal(status_of(rows, "2026-Q1"), "done");
    assert_int_equal(json_integer_value(json_object_get(row_of(rows, "2026-Q1"), "percent")), 100);
    assert_string_equal(json_string_value(json_object_get(row_of(rows, "2026-Q1"), "report")), "Đã giao ban 3 lần");
    if (strcmp(current, "2026-Q2") > 0)
        assert_string_equal(status_of(rows, "2026-Q2"), "overdue"); /* after a done one */
    if (strcmp(current, "2026-Q3") > 0) {
        assert_string_equal(status_of(rows, "2026-Q3"), "overdue"); /* in progress when it ended */
        assert_int_equal(json_integer_value(json_object_get(row_of(rows, "2026-Q3"), "percent")), 40);
    }
    /* newest first, from the plan's first year */
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "period")), current);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, json_array_size(rows) - 1), "period")),
                        "2026-Q1");
    json_decref(rows);
    rows = district_rows(e, "KH-02", BN, "2025", "done");
    json_decref(rows);
    /* Bình Xuyên reported nothing: every past period overdue, the current
     * one not reported */
    rows = district_rows(e, "KH-01", BX, "2026-Q1", "overdue");
    assert_string_equal(status_of(rows, current), "not_reported");
    json_decref(rows);
    /* the tasks list: a recurring task's progress is its current period's,
     * and a station with a past period not done counts as overdue */
    r = call(e, "GET", "/api/tasks", NULL);
    size_t i;
    json_t *tk;
    int seen = 0;
    json_array_foreach(json_object_get(r.json, "tasks"), i, tk) {
        const char *id = json_string_value(json_object_get(tk, "id"));
        const json_t *pg = json_object_get(tk, "progress"), *cnt = json_object_get(tk, "assignment_counts");
        if (strcmp(id, "KH-01") == 0) {
            seen++;
            assert_string_equal(json_string_value(json_object_get(pg, "period")), current);
            assert_int_equal(json_integer_value(json_object_get(pg, "done")), 0);
            assert_int_equal(json_integer_value(json_object_get(pg, "percent")), 5); /* (10 + 0) / 2 */
            if (strcmp(current, "2026-Q2") > 0)
                assert_int_equal(json_integer_value(json_object_get(cnt, "overdue")), 2);
        } else if (strcmp(id, "KH-02") == 0) {
            seen++;
            /* Bình Xuyên's 2025 (in 2026; from 2027 Bình Nguyên's 2026 too) */
            if (strncmp(current, "2026", 4) == 0)
                assert_int_equal(json_integer_value(json_object_get(cnt, "overdue")), 1);
        }
    }
    assert_int_equal(seen, 2);
    ts_th_resp_free(&r);
    /* the export to the province counts them the same way */
    r = call(e, "GET", "/api/export?format=json", NULL);
    assert_int_equal(r.status, 200);
    seen = 0;
    json_array_foreach(json_object_get(r.json, "tasks"), i, tk) {
        if (strcmp(json_string_value(json_object_get(tk, "id")), "KH-01") != 0)
            continue;
        seen++;
        assert_int_equal(json_integer_value(json_object_get(tk, "done")), 0);
        assert_int_equal(json_integer_value(json_object_get(tk, "percent")), 5);
        if (strcmp(current, "2026-Q2") > 0)
            assert_int_equal(json_integer_value(json_object_get(tk, "overdue")), 2);
    }
    assert_int_equal(seen, 1);
    ts_th_resp_free(&r);
    /* tramsyncctl task status: each station's periods under it */
    assert_int_equal(ctl(e, &out, "task", "status", "KH-01"), 0);
    assert_non_null(strstr(out, "      Quý I/2026      Hoàn thành 100%\n"));
    if (strcmp(current, "2026-Q3") > 0)
        assert_non_null(strstr(out, "      Quý III/2026    QUÁ HẠN 40%\n"));
    free(out);
    /* a task that does not recur has no periods */
    r = call(e, "GET", "/api/tasks/KH-03", NULL);
    assert_null(json_object_get(r.json, "periods"));
    ts_th_resp_free(&r);

    /* the station's own view */
    assert_int_equal(run(bn, &out, &err, "notice", "show", "KH-01", NULL, NULL, NULL, NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "Tiến độ theo kỳ (hằng quý)"));
    assert_non_null(strstr(out, "Quý I/2026      Hoàn thành, 100% — Đã giao ban 3 lần"));
    free(out);
    free(err);
    /* the list: each recurring task's current period, and how many are overdue */
    assert_int_equal(run(bn, &out, &err, "tasks", NULL), 0);
    char line[160], label[48];
    ts_period_key_label(current, false, label, sizeof label);
    snprintf(line, sizeof line, "Kỳ hiện tại: %s — Đang thực hiện, 10%%", label);
    assert_non_null(strstr(out, line));
    if (strcmp(current, "2026-Q2") > 0)
        assert_non_null(strstr(out, "; 2 kỳ QUÁ HẠN"));
    free(out);
    free(err);
    assert_int_equal(ts_test_station_stop(bn, 15000), 0);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_periods, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
