/* The calendar against a real daemon and real station agents (issue 18):
 *
 *  - a duty with a malformed form is refused (422) and nothing is written;
 *  - a weekly report (due the Sunday its week ends: last week's is always
 *    past due, whatever day the test runs) and a weekly giao ban: the
 *    district writes them and their occurrences at once, the stations see
 *    them in `tramsync calendar`;
 *  - `tramsync submit` refuses a value not of its type (exit 4, nothing
 *    stored) and sends a good one, saying it is late;
 *  - the grid: BN late, XL missing, this week pending; rates;
 *  - the daemon's own reminder at start: a notice to the station still
 *    missing last week's report, once, reaching its agent;
 *  - a report whose values do not fit the form is shown invalid with the
 *    field's label; the district grades it so and XL's `tramsync calendar`
 *    says so in words (vi, en), with why and what to do; sent again, it is
 *    graded again (late, taken); the admin's grid shows the grade beside the
 *    status (what XL is told, why in words, of which submission, when); a
 *    status reads the same in the grid's CSV, tramsyncctl and tramsync (one
 *    table of words);
 *  - "remind the late ones" in one step: a notice to XL only, audited; a
 *    meeting or an unknown occurrence is refused.
 *
 * test_year_boundary: the release tramsyncd under libfaketime (as in
 * test_district_day), its clock at 16:30 UTC on 31 December (23:30 in the
 * district: still December), then at 23:30 UTC (06:30 on 1 January in the
 * district: January is current): the periods it makes, their due days
 * across the year (December's report due 05/01, Q4's 10/01) and its day. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/ts_calendar.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_watchdog.h"

#define TEST_LIMIT_S 150
#define BN "binhnguyen"
#define XL "xuanlang"

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    ts_test_station st[2];
    ts_th_opts admin;
    char *admin_cert, *admin_key;
    char faketime[48];
    const char *envv[4];
    bool passed;
} env;

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("calendar");
    const char *codes[] = {BN, XL};
    ts_test_pki_make(&e->pki, e->dir, codes, 2);
    e->admin_cert = ts_test_pki_cert(&e->pki, "admin");
    e->admin_key = ts_test_pki_key(&e->pki, "admin");
    e->admin = (ts_th_opts){e->pki.ca, e->admin_cert, e->admin_key, NULL};
    ts_test_watchdog_arm("test_calendar", TEST_LIMIT_S);
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

static json_t *call_ok(env *e, const char *method, const char *path, const char *body, int want)
{
    ts_th_resp r;
    if (ts_th_call(e->d.admin_port, &e->admin, method, path, NULL, body ? "application/json" : NULL, body, &r) < 0)
        fail_msg("%s %s: no answer", method, path);
    if (r.status != want)
        fail_msg("%s %s: %d (wanted %d): %s", method, path, r.status, want, r.body ? r.body : "");
    json_t *o = json_incref(r.json);
    ts_th_resp_free(&r);
    return o;
}

static const char *S(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static long count(env *e, const char *sql)
{
    return ts_test_sql_count(e->dir, "district.db", sql);
}

#define FORM                                                                                                          \
    "[{\\\"name\\\":\\\"kham_benh\\\",\\\"label_vi\\\":\\\"Số lượt khám bệnh\\\",\\\"label_en\\\":\\\"Visits\\\","    \
    "\\\"type\\\":\\\"int\\\",\\\"required\\\":true}]"

/* The status of station's cell in column col of the grid's first duty. */
static const char *cell(const json_t *grid, const char *station, size_t col, const json_t **out)
{
    const json_t *g = json_array_get(json_object_get(grid, "duties"), 0);
    size_t i;
    const json_t *row;
    json_array_foreach(json_object_get(g, "rows"), i, row) {
        if (strcmp(S(row, "station"), station) == 0) {
            const json_t *c = json_array_get(json_object_get(row, "cells"), col);
            if (out)
                *out = c;
            return S(c, "status");
        }
    }
    return "absent";
}

static json_t *grid(env *e, const char *duty)
{
    char path[200];
    snprintf(path, sizeof path, "/api/calendar/grid?duty=%s&periods=2", duty);
    return call_ok(e, "GET", path, NULL, 200);
}

/* waits until the grid shows station's status in column 0 */
static json_t *grid_until(env *e, const char *duty, const char *station, const char *status)
{
    for (uint64_t end = ts_test_now_ms() + 20000;;) {
        json_t *g = grid(e, duty);
        if (strcmp(cell(g, station, 0, NULL), status) == 0)
            return g;
        if (ts_test_now_ms() > end)
            fail_msg("%s never became %s: %s", station, status, json_dumps(g, 0));
        json_decref(g);
        ts_test_sleep_ms(100);
    }
}

/* waits until the grid shows, in column 0, station's report graded grade
 * for the submission it shows (state current); the cell in *c */
static json_t *graded_until(env *e, const char *duty, const char *station, const char *grade, const json_t **c)
{
    for (uint64_t end = ts_test_now_ms() + 20000;;) {
        json_t *g = grid(e, duty);
        cell(g, station, 0, c);
        const json_t *gr = json_object_get(*c, "graded");
        if (strcmp(S(gr, "grade"), grade) == 0 && strcmp(S(gr, "state"), "current") == 0)
            return g;
        if (ts_test_now_ms() > end)
            fail_msg("%s never graded %s in the grid: %s", station, grade, json_dumps(g, 0));
        json_decref(g);
        ts_test_sleep_ms(100);
    }
}

/* waits until a station's `tramsync --json cmd` output holds needle */
static char *cli_until(env *e, int s, const char *cmd, const char *needle)
{
    for (uint64_t end = ts_test_now_ms() + 20000;;) {
        char *out = NULL;
        if (ts_test_station_cli(&e->st[s], &out, "--json", cmd, NULL) == 0 && out && strstr(out, needle))
            return out;
        if (ts_test_now_ms() > end)
            fail_msg("%s %s never showed %s: %s", e->st[s].code, cmd, needle, out ? out : "");
        free(out);
        ts_test_sleep_ms(100);
    }
}

static int ctl(env *e, char **out, const char *a0, const char *a1, const char *a2, const char *a3, const char *a4);

/* waits until a station's `tramsync [--lang LANG] calendar` (its text) holds
 * needle */
static char *calendar_until(env *e, int s, const char *lang, const char *needle)
{
    for (uint64_t end = ts_test_now_ms() + 20000;;) {
        char *out = NULL;
        int rc = lang ? ts_test_station_cli(&e->st[s], &out, "--lang", lang, "calendar", NULL)
                      : ts_test_station_cli(&e->st[s], &out, "calendar", NULL);
        if (rc == 0 && out && strstr(out, needle))
            return out;
        if (ts_test_now_ms() > end)
            fail_msg("%s calendar never showed %s: %s", e->st[s].code, needle, out ? out : "");
        free(out);
        ts_test_sleep_ms(100);
    }
}

/* the grid's CSV as the console downloads it */
static char *grid_csv(env *e, const char *duty)
{
    char path[200];
    snprintf(path, sizeof path, "/api/calendar/grid?duty=%s&periods=2&format=csv", duty);
    ts_th_resp r;
    assert_true(ts_th_call(e->d.admin_port, &e->admin, "GET", path, NULL, NULL, NULL, &r) >= 0);
    assert_int_equal(r.status, 200);
    char *body = ts_xstrdup(r.body);
    ts_th_resp_free(&r);
    return body;
}

/* The one table of words: a status reads the same in the grid's CSV, in
 * tramsyncctl calendar grid and in the station's tramsync calendar (vi;
 * en: tramsyncctl and tramsync). */
static void same_words(env *e, const char *duty, int s, const char *status)
{
    char *csv = grid_csv(e, duty), *ctl_vi = NULL, *ctl_en = NULL, *sta_vi = NULL, *sta_en = NULL;
    assert_int_equal(ctl(e, &ctl_vi, "--lang", "vi", "calendar", "grid", duty), 0);
    assert_int_equal(ctl(e, &ctl_en, "--lang", "en", "calendar", "grid", duty), 0);
    assert_int_equal(ts_test_station_cli(&e->st[s], &sta_vi, "calendar", NULL), 0);
    assert_int_equal(ts_test_station_cli(&e->st[s], &sta_en, "--lang", "en", "calendar", NULL), 0);
    const char *vi = ts_report_status_label(status, false), *en = ts_report_status_label(status, true);
    char q[128], line[128], due[128];
    snprintf(q, sizeof q, "\"%s\"", vi);
    snprintf(line, sizeof line, " %s\n", vi);
    snprintf(due, sizeof due, " — %s (", vi);
    if (!strstr(csv, q) || !strstr(ctl_vi, line) || !strstr(sta_vi, due))
        fail_msg("%s is not \"%s\" everywhere:\n%s\n%s\n%s", status, vi, csv, ctl_vi, sta_vi);
    snprintf(line, sizeof line, " %s\n", en);
    snprintf(due, sizeof due, " — %s (", en);
    if (!strstr(ctl_en, line) || !strstr(sta_en, due))
        fail_msg("%s is not \"%s\" everywhere:\n%s\n%s", status, en, ctl_en, sta_en);
    free(csv);
    free(ctl_vi);
    free(ctl_en);
    free(sta_vi);
    free(sta_en);
}

/* docs/STATION.md's examples of tramsync calendar and submit hold the
 * lines the program prints: phrase is in both */
static void as_documented(const char *out, const char *phrase)
{
    char *path = ts_source_path("docs/STATION.md");
    char *doc = ts_read_file(path, NULL);
    assert_non_null(doc);
    if (strstr(out, phrase) == NULL)
        fail_msg("the output lacks \"%s\": %s", phrase, out);
    if (strstr(doc, phrase) == NULL)
        fail_msg("docs/STATION.md's example lacks \"%s\", which tramsync prints: %s", phrase, out);
    free(doc);
    free(path);
}

/* the keys of every object in arr, into keys (a set) */
static void keys_of(const json_t *arr, json_t *keys)
{
    size_t i;
    const json_t *o;
    json_array_foreach(arr, i, o) {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)o, k, v)
            json_object_set_new(keys, k, json_true());
    }
}

/* each level's keys, over every element: duty, period, row, cell */
static json_t *shape(const json_t *grid)
{
    json_t *duties = json_object(), *periods = json_object(), *rows = json_object(), *cells = json_object();
    const json_t *ds = json_object_get(grid, "duties");
    keys_of(ds, duties);
    size_t i, k;
    const json_t *d, *r;
    json_array_foreach(ds, i, d) {
        keys_of(json_object_get(d, "periods"), periods);
        keys_of(json_object_get(d, "rows"), rows);
        json_array_foreach(json_object_get(d, "rows"), k, r)
            keys_of(json_object_get(r, "cells"), cells);
    }
    return json_pack("{s:o,s:o,s:o,s:o}", "duty", duties, "period", periods, "row", rows, "cell", cells);
}

/* docs/ADMIN-API.md's example of the grid has the keys a real answer has */
static void check_doc_example(const json_t *real)
{
    char *path = ts_source_path("docs/ADMIN-API.md");
    char *doc = ts_read_file(path, NULL);
    assert_non_null(doc);
    const char *sec = strstr(doc, "### `GET /api/calendar/grid`");
    assert_non_null(sec);
    const char *start = strstr(sec, "```json\n");
    assert_non_null(start);
    start += 8;
    const char *end = strstr(start, "```");
    assert_non_null(end);
    json_error_t je;
    json_t *example = json_loadb(start, (size_t)(end - start), 0, &je);
    if (example == NULL)
        fail_msg("docs/ADMIN-API.md: the grid example is not JSON: %s (line %d)", je.text, je.line);
    json_t *a = shape(example), *b = shape(real);
    if (!json_equal(a, b))
        fail_msg("docs/ADMIN-API.md's grid example has keys %s, a real answer %s", json_dumps(a, JSON_SORT_KEYS),
                 json_dumps(b, JSON_SORT_KEYS));
    json_decref(a);
    json_decref(b);
    json_decref(example);
    free(doc);
    free(path);
}

/* `tramsyncctl ARGS` with the admin certificate: its exit status, its
 * output (stdout and stderr) in *out */
static int ctl(env *e, char **out, const char *a0, const char *a1, const char *a2, const char *a3, const char *a4)
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
        setenv("TRAMSYNC_ADMIN_CERT", e->admin_cert, 1);
        setenv("TRAMSYNC_ADMIN_KEY", e->admin_key, 1);
        execl(bin, bin, a0, a1, a2, a3, a4, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    char *text = ts_read_file(outfile, NULL);
    *out = text ? text : ts_xstrdup("");
    free(outfile);
    free(url);
    free(bin);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_calendar(void **state)
{
    env *e = *state;
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);
    static const char *const codes[] = {BN, XL};
    const char *sets[] = {"sync.debounce=50ms", "sync.poll=50ms", NULL};
    for (int i = 0; i < 2; i++) {
        char path[80];
        snprintf(path, sizeof path, "/api/records/stations/%s", codes[i]);
        json_decref(call_ok(e, "POST", path, "{\"fields\":{\"name\":\"Trạm Y tế\",\"commune\":\"Xã\"}}", 200));
        ts_test_station_make(&e->st[i], e->dir, codes[i], &e->pki, e->d.port, sets);
        ts_test_station_start(&e->st[i]);
    }
    /* a form that is not a list of fields: refused, nothing written */
    json_decref(call_ok(e, "POST", "/api/calendar/duties",
                        "{\"fields\":{\"kind\":\"periodic_report\",\"title\":\"Báo cáo tuần\",\"recurrence\":\"weekly\","
                        "\"form\":\"[{\\\"name\\\":\\\"Khám bệnh\\\"}]\"}}",
                        422));
    assert_int_equal(count(e, "SELECT count(*) FROM records WHERE tbl IN ('duties', 'duty_occurrences')"), 0);
    /* an id that is not one short word (its occurrences' ids would be cut
     * and collide): refused, nothing written */
    json_decref(call_ok(e, "POST", "/api/calendar/duties",
                        "{\"id\":\"BC-RAT-DAI-0123456789012345678901234567890123456789012345678901234567890\","
                        "\"fields\":{\"kind\":\"meeting\",\"title\":\"Giao ban\",\"recurrence\":\"weekly\"}}",
                        422));
    json_decref(call_ok(e, "POST", "/api/calendar/duties",
                        "{\"id\":\"GIAO BAN/1\",\"fields\":{\"kind\":\"meeting\",\"title\":\"Giao ban\","
                        "\"recurrence\":\"weekly\"}}",
                        422));
    assert_int_equal(count(e, "SELECT count(*) FROM records WHERE tbl IN ('duties', 'duty_occurrences')"), 0);
    /* a weekly report due the Sunday its week ends, and a weekly giao ban */
    json_t *o = call_ok(e, "POST", "/api/calendar/duties",
                        "{\"fields\":{\"kind\":\"periodic_report\",\"title\":\"Báo cáo tuần\",\"recurrence\":"
                        "\"weekly\",\"due_days\":0,\"active_from\":\"2020-01-01\",\"form\":\"" FORM "\"}}",
                        201);
    char duty[128];
    snprintf(duty, sizeof duty, "%s", S(o, "id"));
    assert_int_equal(json_integer_value(json_object_get(o, "occurrences")), 4);
    json_decref(o);
    /* its chair: someone of the directory, by name; an unknown one refused */
    json_decref(call_ok(e, "POST", "/api/records/people/TTYT-GD",
                        "{\"fields\":{\"full_name\":\"Nguyễn Văn Thành\",\"position\":\"Giám đốc\",\"unit\":\"TTYT\","
                        "\"unit_kind\":\"ttyt\"}}",
                        200));
    json_decref(call_ok(e, "POST", "/api/calendar/duties",
                        "{\"id\":\"GIAO-BAN\",\"fields\":{\"kind\":\"meeting\",\"title\":\"Giao ban tuần\","
                        "\"recurrence\":\"weekly\",\"responsible_person\":\"Không Có Ai\"}}",
                        422));
    json_decref(call_ok(e, "POST", "/api/calendar/duties",
                        "{\"id\":\"GIAO-BAN\",\"fields\":{\"kind\":\"meeting\",\"title\":\"Giao ban tuần\","
                        "\"recurrence\":\"weekly\",\"weekday\":1,\"time\":\"07:30\",\"place\":\"Hội trường TTYT\","
                        "\"participants\":\"Trạm trưởng các trạm\",\"responsible_person\":\"Nguyễn Văn Thành\"}}",
                        201));
    /* the page: last week's report due already, the meetings with time and place */
    o = call_ok(e, "GET", "/api/calendar", NULL, 200);
    char last[160] = "", meeting[160] = "";
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(o, "occurrences"), i, it) {
        /* soonest first: the last one past due is last week's */
        if (strcmp(S(it, "duty_id"), duty) == 0 && json_is_true(json_object_get(it, "due_passed")))
            snprintf(last, sizeof last, "%s", S(it, "id"));
        if (strcmp(S(it, "duty_id"), "GIAO-BAN") == 0 && !meeting[0]) {
            snprintf(meeting, sizeof meeting, "%s", S(it, "id"));
            assert_non_null(strstr(S(it, "meeting_at"), "T07:30:00+07:00"));
            assert_string_equal(S(it, "place"), "Hội trường TTYT");
            assert_string_equal(S(it, "responsible_person_label"), "Nguyễn Văn Thành (Giám đốc)");
        }
    }
    json_decref(o);
    assert_true(last[0] && meeting[0]);
    /* the stations see both */
    free(cli_until(e, 0, "calendar", last));
    char *out = cli_until(e, 1, "calendar", meeting);
    assert_non_null(strstr(out, "Giao ban tuần"));
    free(out);
    /* a new duty applies from today: this week's and next week's meetings only */
    assert_int_equal(count(e, "SELECT count(*) FROM records WHERE tbl = 'duty_occurrences' AND id LIKE 'GIAO-BAN:%'"), 2);
    /* the meeting's time as the district wrote it */
    assert_int_equal(ts_test_station_cli(&e->st[1], &out, "calendar", NULL), 0);
    assert_non_null(strstr(out, " 07:30\n"));
    assert_non_null(strstr(out, "Chủ trì: Nguyễn Văn Thành (Giám đốc)"));
    free(out);
    /* a value not of its type: refused at the station, nothing stored */
    char *err = NULL;
    assert_int_equal(ts_test_station_cli2(&e->st[0], &out, &err, "submit", last, "--field", "kham_benh=nhiều", NULL), 4);
    assert_non_null(strstr(err, "Số lượt khám bệnh"));
    free(out);
    free(err);
    /* the human listing names the form's fields in words */
    assert_int_equal(ts_test_station_cli(&e->st[0], &out, "calendar", NULL), 0);
    assert_non_null(strstr(out, "Số lượt khám bệnh"));
    assert_non_null(strstr(out, " — Chưa nộp\n"));
    free(out);
    assert_int_equal(ts_test_station_cli(&e->st[0], &out, "submit", last, "--field", "kham_benh=312", "--by",
                                         "Nguyễn Thị Hoa", NULL),
                     0);
    as_documented(out, ": Nộp muộn (hạn ");
    as_documented(out, ". Agent gửi lên trung tâm khi có kết nối; trung tâm kiểm tra và trả kết quả về trạm (tramsync "
                       "calendar).\n");
    free(out);
    /* the grid: BN late, XL missing, this week pending */
    json_t *g = grid_until(e, duty, BN, "late");
    assert_string_equal(cell(g, XL, 0, NULL), "missing");
    assert_string_equal(cell(g, BN, 1, NULL), "pending");
    const json_t *col = json_array_get(json_object_get(json_array_get(json_object_get(g, "duties"), 0), "periods"), 0);
    assert_int_equal(json_integer_value(json_object_get(col, "expected")), 2);
    assert_int_equal(json_integer_value(json_object_get(col, "received")), 1);
    assert_int_equal(json_integer_value(json_object_get(col, "reporting_rate")), 50);
    assert_int_equal(json_integer_value(json_object_get(col, "timeliness")), 0);
    json_decref(g);
    /* the same as CSV, statuses in words */
    char csvpath[200];
    snprintf(csvpath, sizeof csvpath, "/api/calendar/grid?duty=%s&periods=2&format=csv", duty);
    ts_th_resp cr;
    assert_true(ts_th_call(e->d.admin_port, &e->admin, "GET", csvpath, NULL, NULL, NULL, &cr) >= 0);
    assert_int_equal(cr.status, 200);
    assert_non_null(strstr(cr.body, "\"Nộp muộn\""));
    assert_non_null(strstr(cr.body, "\"Chưa nộp\""));
    assert_non_null(strstr(cr.body, "\"50 / 0\""));
    /* its columns: periods and due days in words, not keys */
    assert_non_null(strstr(cr.body, "\"Tuần "));
    assert_null(strstr(cr.body, "-W"));
    assert_non_null(strstr(cr.body, " (hạn "));
    ts_th_resp_free(&cr);
    /* the daemon's reminder at start: XL, once */
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    ts_test_daemon_restart(&e->d);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(ts_test_station_stop(&e->st[k], 10000), 0);
        ts_test_station_set_port(&e->st[k], e->d.port);
        ts_test_station_start(&e->st[k]);
    }
    char needle[256];
    snprintf(needle, sizeof needle, "occurrence=%s late=true stations=1", last);
    assert_true(ts_test_log_wait(e->d.log, needle, 20000));
    out = cli_until(e, 1, "notices", "Nhắc nộp báo cáo quá hạn: Báo cáo tuần");
    /* the period in words (Tuần 49/2026), never its key (2026-W49) */
    {
        char words[96];
        snprintf(words, sizeof words, "Nhắc nộp báo cáo quá hạn: Báo cáo tuần, Tuần %d/%.4s (hạn",
                 atoi(strrchr(last, 'W') + 1), strchr(last, ':') + 1);
        if (strstr(out, words) == NULL)
            fail_msg("the late reminder names the period %s as \"%s\": %s", last, words, out);
    }
    free(out);
    assert_int_equal(ts_test_file_count(e->d.log, "late=true"), 1);
    /* XL's values do not fit the form (written around the check) */
    char id[256], occ_f[200];
    snprintf(id, sizeof id, "%s:%s", last, XL);
    snprintf(occ_f, sizeof occ_f, "occurrence_id=%s", last);
    char duty_f[160];
    snprintf(duty_f, sizeof duty_f, "duty_id=%s", duty);
    assert_int_equal(ts_test_station_cli(&e->st[1], &out, "put", "periodic_reports", id, occ_f, duty_f, "period=x",
                                         "values={\"kham_benh\":\"nhiều\"}", "submitted_at=2026-01-01T00:00:00Z", NULL),
                     0);
    free(out);
    g = grid_until(e, duty, XL, "invalid");
    const json_t *c = NULL;
    cell(g, XL, 0, &c);
    assert_string_equal(S(json_array_get(json_object_get(c, "problems"), 0), "label_vi"), "Số lượt khám bệnh");
    json_decref(g);
    /* the admin's grid shows the district's grade of it beside the status:
     * what XL is told (invalid, why in the form's words, never the value),
     * of which submission, and when; BN's late grade too */
    g = graded_until(e, duty, XL, "invalid", &c);
    {
        const json_t *gr = json_object_get(c, "graded");
        assert_string_equal(S(gr, "submission"), S(c, "submitted_at"));
        assert_non_null(strstr(S(gr, "graded_at"), "T"));
        const json_t *why = json_array_get(json_object_get(gr, "problems"), 0);
        assert_string_equal(S(why, "label_vi"), "Số lượt khám bệnh");
        assert_string_equal(S(why, "label_en"), "Visits");
        assert_string_equal(S(why, "problem"), "type");
        char *text = json_dumps(c, 0);
        assert_null(strstr(text, "nhi\u1ec1u"));
        assert_null(strstr(text, "nhiều"));
        free(text);
        const json_t *bn = NULL;
        cell(g, BN, 0, &bn);
        assert_string_equal(S(json_object_get(bn, "graded"), "grade"), "late");
        assert_string_equal(S(json_object_get(bn, "graded"), "state"), "current");
        assert_null(json_object_get(json_object_get(bn, "graded"), "problems"));
    }
    check_doc_example(g);
    json_decref(g);
    /* the district's verdict reaches XL: in words, why, and what to do
     * (not as sent); in English too; the value itself is not repeated */
    {
        char hint[300];
        snprintf(hint, sizeof hint, "Cần nộp lại: tramsync submit %s --field", last);
        out = calendar_until(e, 1, NULL, hint);
        if (!strstr(out, " — Sai mẫu (nộp lúc ") || !strstr(out, "Trung tâm đã kiểm tra (lúc ") ||
            !strstr(out, "báo cáo chưa được tính là đã nộp") ||
            !strstr(out, "      Số lượt khám bệnh: giá trị không đúng loại\n") ||
            strstr(out, "nhiều") || strstr(out, "Đúng hạn") || strstr(out, "Nộp muộn"))
            fail_msg("XL's calendar after the district graded its report invalid: %s", out);
        as_documented(out, " — Sai mẫu (nộp lúc ");
        as_documented(out, "): Sai mẫu — báo cáo chưa được tính là đã nộp.\n    Lý do:\n      Số lượt khám bệnh: giá "
                           "trị không đúng loại\n");
        as_documented(out, " --field tên=giá_trị (các chỉ tiêu dưới đây)\n      --field kham_benh=…   Số lượt khám "
                           "bệnh (số nguyên, bắt buộc)\n");
        free(out);
        snprintf(hint, sizeof hint, "Send it again: tramsync submit %s --field", last);
        out = calendar_until(e, 1, "en", hint);
        if (!strstr(out, " — Does not fit the form (sent ") || !strstr(out, "      Visits: not a value of its kind\n"))
            fail_msg("XL's calendar (en) after the district graded its report invalid: %s", out);
        free(out);
        /* --json: the status is the district's, with its problems */
        out = cli_until(e, 1, "calendar", "grade_problems");
        json_t *cal = json_loads(out, 0, NULL);
        assert_non_null(cal);
        size_t k;
        json_t *item;
        bool seen = false;
        json_array_foreach(cal, k, item) {
            if (strcmp(S(item, "id"), last) != 0)
                continue;
            seen = true;
            assert_string_equal(S(item, "status"), "invalid");
            assert_true(json_is_true(json_object_get(item, "graded")));
            assert_string_equal(S(json_array_get(json_object_get(item, "grade_problems"), 0), "problem"), "type");
        }
        assert_true(seen);
        json_decref(cal);
        free(out);
    }
    /* one table of words: BN late and XL invalid read the same in the
     * CSV, tramsyncctl and tramsync */
    same_words(e, duty, 1, "invalid");
    same_words(e, duty, 0, "late");
    /* remind the late ones in one step: XL only, audited, delivered */
    char path[300];
    snprintf(path, sizeof path, "/api/calendar/occurrences/%s/remind", last);
    o = call_ok(e, "POST", path, "{}", 201);
    assert_int_equal(json_array_size(json_object_get(o, "stations")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "stations"), 0)), XL);
    char notice[64];
    snprintf(notice, sizeof notice, "%s", S(o, "notice"));
    json_decref(o);
    assert_int_equal(count(e, "SELECT count(*) FROM audit WHERE action = 'calendar_remind' AND outcome = 'ok'"), 1);
    free(cli_until(e, 1, "notices", notice));
    /* a meeting has no late stations; an unknown occurrence is not found */
    snprintf(path, sizeof path, "/api/calendar/occurrences/%s/remind", meeting);
    json_decref(call_ok(e, "POST", path, "{}", 422));
    json_decref(call_ok(e, "POST", "/api/calendar/occurrences/nothing:here/remind", "{}", 404));
    /* XL sends it again from files: a JSON one with a value not of its
     * type is refused, a CSV one is taken (late) */
    char *file = ts_xasprintf("%s/bao-cao.json", e->dir);
    write_file(file, "{\"kham_benh\": \"một trăm\"}\n");
    assert_int_equal(ts_test_station_cli2(&e->st[1], &out, &err, "submit", last, "--file", file, NULL), 4);
    assert_non_null(strstr(err, "Số lượt khám bệnh"));
    free(out);
    free(err);
    free(file);
    file = ts_xasprintf("%s/bao-cao.csv", e->dir);
    write_file(file, "name,value\nkham_benh,120\n");
    assert_int_equal(ts_test_station_cli(&e->st[1], &out, "--lang", "en", "submit", last, "--file", file, NULL), 0);
    assert_non_null(strstr(out, "sent: Late (due "));
    free(out);
    free(file);
    json_decref(grid_until(e, duty, XL, "late"));
    /* graded again: the grid's grade is the new submission's */
    g = graded_until(e, duty, XL, "late", &c);
    assert_null(json_object_get(json_object_get(c, "graded"), "problems"));
    json_decref(g);
    /* sent again: accepted, and graded again (late, taken); no more
     * "send it again" */
    out = calendar_until(e, 1, NULL, "Nộp muộn");
    free(out);
    out = calendar_until(e, 1, NULL, ", trung tâm đã nhận\n");
    if (strstr(out, "Sai mẫu") || strstr(out, "Cần nộp lại") || strstr(out, "trung tâm chưa kiểm tra"))
        fail_msg("XL's calendar after sending it again: %s", out);
    as_documented(out, " — Nộp muộn (nộp lúc ");
    as_documented(out, " — Chưa nộp\n      --field kham_benh=…");
    free(out);
    out = calendar_until(e, 1, "en", " — Late (sent ");
    assert_non_null(strstr(out, ", accepted by the district\n"));
    free(out);
    same_words(e, duty, 1, "late");
    /* tramsyncctl: the grid in words; remind: nobody is late any more (409) */
    assert_int_equal(ctl(e, &out, "calendar", "grid", duty, NULL, NULL), 0);
    assert_non_null(strstr(out, "Báo cáo tuần"));
    assert_non_null(strstr(out, "2/2 trạm đã nộp, 0 đúng hạn"));
    /* periods and days in words: Tuần 49/2026, hạn dd/mm/yyyy */
    if (strstr(out, "Tuần ") == NULL || strstr(out, "-W") != NULL || strstr(out, ", hạn ") == NULL ||
        strstr(out, "muộn") == NULL || strstr(out, "    Trạm Y tế ") == NULL)
        fail_msg("tramsyncctl calendar grid: %s", out);
    free(out);
    assert_int_not_equal(ctl(e, &out, "calendar", "remind", last, NULL, NULL), 0);
    assert_non_null(strstr(out, "Không có trạm nào chậm"));
    free(out);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

/* whether the calendar lists an occurrence, and its due day */
static bool listed(const json_t *cal, const char *id, char *due, size_t size)
{
    size_t i;
    const json_t *o;
    json_array_foreach(json_object_get(cal, "occurrences"), i, o) {
        if (strcmp(S(o, "id"), id) == 0) {
            snprintf(due, size, "%s", S(o, "due_date"));
            return true;
        }
    }
    return false;
}

static void test_year_boundary(void **state)
{
    env *e = *state;
    if (access(FAKETIME_LIB, R_OK) != 0)
        fail_msg("%s is missing (Debian package faketime, installed by make deps)", FAKETIME_LIB);
    char *bin = ts_test_release_bin("tramsyncd");
    if (access(bin, X_OK) != 0)
        fail_msg("%s is missing: this test runs the release build (make)", bin);
    /* the next 31 December, 16:30 UTC, at least a minute away */
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int year = tm.tm_year + 1900;
    struct tm t = {.tm_year = year - 1900, .tm_mon = 11, .tm_mday = 31, .tm_hour = 16, .tm_min = 30};
    time_t target = timegm(&t);
    if (target < now + 60) {
        year++;
        t.tm_year++;
        target = timegm(&t);
    }
    snprintf(e->faketime, sizeof e->faketime, "FAKETIME=%+lld", (long long)(target - now));
    e->envv[0] = e->faketime;
    e->envv[1] = "FAKETIME_DONT_FAKE_MONOTONIC=1";
    e->envv[2] = "LD_PRELOAD=" FAKETIME_LIB;
    e->envv[3] = NULL;
    ts_test_daemon_start_env(&e->d, bin, e->dir, &e->pki, NULL, e->envv);
    free(bin);
    json_decref(call_ok(e, "POST", "/api/records/stations/" BN, "{\"fields\":{\"name\":\"Trạm\",\"commune\":\"Xã\"}}",
                        200));
    json_decref(call_ok(e, "POST", "/api/calendar/duties",
                        "{\"id\":\"BC-THANG\",\"fields\":{\"kind\":\"periodic_report\",\"title\":\"Báo cáo tháng\","
                        "\"recurrence\":\"monthly\",\"due_days\":5,\"active_from\":\"2020-01-01\"}}",
                        201));
    json_decref(call_ok(e, "POST", "/api/calendar/duties",
                        "{\"id\":\"BC-QUY\",\"fields\":{\"kind\":\"periodic_report\",\"title\":\"Báo cáo quý\","
                        "\"recurrence\":\"quarterly\",\"due_days\":10,\"active_from\":\"2020-01-01\"}}",
                        201));
    char id[64], due[16], want[16];
    /* 23:30 on 31 December in the district: December is current */
    json_t *cal = call_ok(e, "GET", "/api/calendar", NULL, 200);
    snprintf(want, sizeof want, "%d-12-31", year);
    assert_string_equal(S(cal, "today"), want);
    snprintf(id, sizeof id, "BC-THANG:%d-12", year);
    assert_true(listed(cal, id, due, sizeof due));
    snprintf(want, sizeof want, "%d-01-05", year + 1);
    assert_string_equal(due, want);
    snprintf(id, sizeof id, "BC-THANG:%d-01", year + 1);
    assert_true(listed(cal, id, due, sizeof due));
    snprintf(id, sizeof id, "BC-THANG:%d-02", year + 1);
    assert_false(listed(cal, id, due, sizeof due));
    snprintf(id, sizeof id, "BC-QUY:%d-Q4", year);
    assert_true(listed(cal, id, due, sizeof due));
    snprintf(want, sizeof want, "%d-01-10", year + 1);
    assert_string_equal(due, want);
    json_decref(cal);
    /* seven hours on, 23:30 UTC: 06:30 on 1 January in the district; the
     * daemon's run at start makes the next periods */
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    now = time(NULL);
    snprintf(e->faketime, sizeof e->faketime, "FAKETIME=%+lld", (long long)(target + 7 * 3600 - now));
    ts_test_daemon_restart(&e->d);
    snprintf(id, sizeof id, "BC-THANG:%d-02", year + 1);
    for (uint64_t end = ts_test_now_ms() + 20000;;) {
        cal = call_ok(e, "GET", "/api/calendar", NULL, 200);
        if (listed(cal, id, due, sizeof due))
            break;
        if (ts_test_now_ms() > end)
            fail_msg("%s never made: %s", id, json_dumps(cal, 0));
        json_decref(cal);
        ts_test_sleep_ms(100);
    }
    snprintf(want, sizeof want, "%d-01-01", year + 1);
    assert_string_equal(S(cal, "today"), want);
    snprintf(want, sizeof want, "%d-03-05", year + 1);
    assert_string_equal(due, want);
    snprintf(id, sizeof id, "BC-QUY:%d-Q2", year + 1);
    assert_true(listed(cal, id, due, sizeof due));
    json_decref(cal);
    assert_true(ts_test_log_wait(e->d.log, "event=calendar_generated", 1000));
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_calendar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_year_boundary, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
