/* The station's days are the district's (docs/STATION.md, "Which day"), not
 * its PC's:
 *
 *  1. the station's command line (the release build, under libfaketime) at
 *     2026-12-14 18:30 UTC, which is 15/12 01:30 in Hà Nội, on a PC set to
 *     UTC: `calendar` lists from 45 district days back (an occurrence due
 *     30/10 is out, one due 31/10 in), a report due 14/12 and not sent is
 *     overdue, `submit` of it is late, a report's id carries 20261215, a
 *     notice for the head of the station names the one from 15/12, and
 *     `status` says the zone (Asia/Ho_Chi_Minh by default: the district has
 *     not said yet). With [district] timezone = America/New_York in the
 *     station's configuration it is still 14/12 there: the same report is
 *     not overdue, the window starts at 30/10;
 *  2. the district says its zone in WELCOME ([district] timezone, here
 *     Asia/Tokyo), the agent keeps it in the station's store, and the
 *     commands run afterwards, the agent stopped, use it;
 *  3. a running agent takes a zone its district announces between two
 *     connections at once, without a restart.
 *
 * The occurrences of (1) are written on a district store in this process
 * and pulled into the station's, as the agent would have. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "server/ts_notices.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_watchdog.h"

#define BN "binhnguyen"
#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
#define TEST_LIMIT_S 120

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    ts_test_station st;
    bool st_made;
    char *bin;
    char faketime[48];
    const char *envv[6];
    bool passed;
} env;

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("station_day");
    const char *codes[] = {BN};
    ts_test_pki_make(&e->pki, e->dir, codes, 1);
    ts_test_watchdog_arm("test_station_day", TEST_LIMIT_S);
    ts_test_watchdog_watch(&e->d.pid);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    ts_test_watchdog_disarm();
    if (!e->passed) {
        ts_test_log_tail(e->d.log, 30);
        if (e->st_made)
            ts_test_log_tail(e->st.log, 30);
    }
    if (e->d.pid > 0)
        ts_test_daemon_stop(&e->d, SIGTERM, 20000);
    if (e->st_made)
        ts_test_station_free(&e->st);
    ts_test_daemon_free(&e->d);
    free(e->bin);
    ts_test_pki_free(&e->pki);
    ts_tmpdir_remove(e->dir);
    free(e);
    return 0;
}

static void put(ts_store *st, const char *table, const char *id, const char *json)
{
    ts_actor a = {TS_ACTOR_ADMIN, "admin-test", NULL, "test"};
    json_t *o = json_loads(json, 0, NULL);
    if (o == NULL)
        fail_msg("not JSON: %s", json);
    ts_error err;
    if (ts_record_put_json(st, &a, table, id, o, &err) < 0)
        fail_msg("put %s/%s: %s", table, id, err.msg);
    json_decref(o);
}

static void occurrence(ts_store *srv, const char *id, const char *duty, const char *period, const char *due)
{
    char *json = ts_xasprintf("{\"duty_id\":\"%s\",\"kind\":\"periodic_report\",\"title\":\"Báo cáo tuần\","
                              "\"period\":\"%s\",\"period_start\":\"2026-10-01\",\"period_end\":\"2026-10-07\","
                              "\"due_date\":\"%s\",\"stations\":[\"" BN "\"]}",
                              duty, period, due);
    put(srv, "duty_occurrences", id, json);
    free(json);
}

/* The PC's clock at 2026-12-14T18:30:00Z from now on (libfaketime's offset
 * from the real clock, set again before each command), in zone pc_tz. */
static void pc_clock(env *e, const char *pc_tz)
{
    struct tm t = {.tm_year = 2026 - 1900, .tm_mon = 11, .tm_mday = 14, .tm_hour = 18, .tm_min = 30};
    time_t target = timegm(&t);
    snprintf(e->faketime, sizeof e->faketime, "FAKETIME=%+lld", (long long)(target - time(NULL)));
    e->envv[0] = pc_tz;
    e->envv[1] = e->faketime;
    e->envv[2] = "FAKETIME_DONT_FAKE_MONOTONIC=1";
    e->envv[3] = "LD_PRELOAD=" FAKETIME_LIB;
    e->envv[4] = NULL;
    e->st.env = e->envv;
}

/* `tramsync [--set district.timezone=ZONE] --json ARGS...` (at most 6) parsed */
static json_t *cli_json(env *e, const char *zone, const char *a1, const char *a2, const char *a3, const char *a4,
                        const char *a5, const char *a6)
{
    char *out = NULL, set[80];
    snprintf(set, sizeof set, "district.timezone=%s", zone ? zone : "");
    int rc = ts_test_station_cli(&e->st, &out, "--set", set, "--json", a1, a2, a3, a4, a5, a6, NULL);
    if (rc != 0)
        fail_msg("tramsync %s %s: exit %d: %s", a1, a2 ? a2 : "", rc, out ? out : "");
    json_error_t je;
    json_t *o = json_loads(out, 0, &je);
    if (o == NULL)
        fail_msg("tramsync %s: not JSON: %s", a1, out);
    free(out);
    return o;
}

/* The item of `calendar --json` with that id (NULL: not listed). */
static const json_t *item(const json_t *cal, const char *id)
{
    size_t i;
    const json_t *o;
    json_array_foreach(cal, i, o) {
        if (strcmp(json_string_value(json_object_get(o, "id")), id) == 0)
            return o;
    }
    return NULL;
}

static const char *S(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* What the tests of the station's clock need: libfaketime, and the
 * release build of tramsync they run under it. */
static void needs_faketime_and_release(env *e)
{
    if (access(FAKETIME_LIB, R_OK) != 0)
        fail_msg("%s is missing (Debian package faketime, installed by make deps)", FAKETIME_LIB);
    e->bin = ts_test_release_bin("tramsync");
    if (access(e->bin, X_OK) != 0)
        fail_msg("%s is missing: this test runs the release build (make)", e->bin);
}

static void test_days_are_the_districts_at_the_station(void **state)
{
    env *e = *state;
    needs_faketime_and_release(e);
    ts_test_station_make(&e->st, e->dir, BN, &e->pki, 1, NULL);
    e->st_made = true;
    e->st.bin = e->bin;

    /* what the district sent the station: a weekly report with its form,
     * its occurrences due 14/12 and 21/12, two old ones due 30/10 and 31/10 */
    ts_store *srv = ts_test_open(e->dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    put(srv, "stations", BN, "{\"name\":\"Trạm Y tế xã Bình Nguyên\",\"commune\":\"Bình Nguyên\"}");
    put(srv, "duties", "BC-TUAN",
        "{\"kind\":\"periodic_report\",\"title\":\"Báo cáo tuần\",\"recurrence\":\"weekly\",\"due_days\":1,"
        "\"form\":\"[{\\\"name\\\":\\\"kham_benh\\\",\\\"label_vi\\\":\\\"Số lượt khám bệnh\\\",\\\"label_en\\\":"
        "\\\"Visits\\\",\\\"type\\\":\\\"int\\\",\\\"required\\\":true}]\"}");
    occurrence(srv, "BC-TUAN:2026-W50", "BC-TUAN", "2026-W50", "2026-12-14");
    occurrence(srv, "BC-TUAN:2026-W51", "BC-TUAN", "2026-W51", "2026-12-21");
    occurrence(srv, "BC-TUAN:2026-W43", "BC-TUAN", "2026-W43", "2026-10-30");
    occurrence(srv, "BC-TUAN:2026-W44", "BC-TUAN", "2026-W44", "2026-10-31");
    /* a notice addressed to the head of each station, whoever holds the post
     * today: at Bình Nguyên one head until 14/12, another from 15/12 */
    ts_actor adm = {TS_ACTOR_ADMIN, "admin-test", NULL, "test"};
    json_t *nf = json_pack("{s:s,s:s,s:s,s:s,s:s}", "subject", "Phân công theo chức danh", "issuer",
                           "Trung tâm Y tế khu vực", "urgency", "thuong", "category", "prevention", "responsible_role",
                           "head");
    ts_strlist to = {NULL, 0};
    ts_strlist_add(&to, BN);
    char notice[80];
    ts_error err;
    if (ts_notice_create(srv, &adm, nf, &to, notice, sizeof notice, &err) < 0)
        fail_msg("notice: %s", err.msg);
    json_decref(nf);
    ts_strlist_free(&to);
    char *station_dir = ts_xasprintf("%s/" BN, e->dir);
    ts_store *sta = ts_test_open(station_dir, "station.db", TS_ROLE_STATION, BN, NULL);
    assert_true(ts_test_pull(srv, sta, BN) >= 6);
    ts_actor staff = {TS_ACTOR_LOCAL, "staff", NULL, "cli"};
    const char *heads[] = {"BN-NV-CU", "{\"full_name\":\"Lê Văn Cũ\",\"position\":\"Trạm trưởng\",\"unit\":\"Trạm Y tế "
                                       "xã Bình Nguyên\",\"roles\":[\"head\"],\"active_to\":\"2026-12-14\"}",
                           "BN-NV-MOI", "{\"full_name\":\"Trần Thị Mới\",\"position\":\"Trạm trưởng\",\"unit\":\"Trạm Y "
                                        "tế xã Bình Nguyên\",\"roles\":[\"head\"],\"active_from\":\"2026-12-15\"}"};
    for (int i = 0; i < 4; i += 2) {
        json_t *p = json_loads(heads[i + 1], 0, NULL);
        assert_non_null(p);
        if (ts_record_put_json(sta, &staff, "station_people", heads[i], p, &err) < 0)
            fail_msg("station_people: %s", err.msg);
        json_decref(p);
    }
    ts_store_close(sta);
    ts_store_close(srv);
    free(station_dir);

    /* the PC set to UTC: still 14/12 there, 15/12 01:30 in the district */
    pc_clock(e, "TZ=UTC");
    json_t *st = cli_json(e, NULL, "status", NULL, NULL, NULL, NULL, NULL);
    assert_string_equal(S(st, "timezone"), "Asia/Ho_Chi_Minh");
    assert_string_equal(S(st, "timezone_source"), "default");
    json_decref(st);
    pc_clock(e, "TZ=UTC");
    json_t *cal = cli_json(e, NULL, "calendar", NULL, NULL, NULL, NULL, NULL);
    if (item(cal, "BC-TUAN:2026-W50") == NULL)
        fail_msg("W50 not listed: %s", json_dumps(cal, 0));
    /* due 14/12, not sent, and the district's 14/12 is over */
    assert_string_equal(S(item(cal, "BC-TUAN:2026-W50"), "status"), "missing");
    assert_string_equal(S(item(cal, "BC-TUAN:2026-W51"), "status"), "pending");
    /* 45 days before 15/12 is 31/10 */
    assert_non_null(item(cal, "BC-TUAN:2026-W44"));
    assert_null(item(cal, "BC-TUAN:2026-W43"));
    json_decref(cal);
    /* the head today is the one from 15/12 */
    pc_clock(e, "TZ=UTC");
    json_t *shown = cli_json(e, NULL, "notice", "show", notice, NULL, NULL, NULL);
    if (strstr(S(shown, "responsible_label"), "Trần Thị Mới") == NULL)
        fail_msg("the head on 15/12: %s", json_dumps(shown, 0));
    json_decref(shown);
    /* a new report's id says the district's day */
    pc_clock(e, "TZ=UTC");
    json_t *rep = cli_json(e, NULL, "report", "--kind", "other", "--subject", "Kiểm tra ngày", NULL);
    if (strstr(S(rep, "id"), "-20261215-") == NULL)
        fail_msg("report id %s: expected the district's day 20261215", S(rep, "id"));
    json_decref(rep);

    /* the same PC, the station configured for New York (13:30 on 14/12):
     * the day is the configured zone's */
    pc_clock(e, "TZ=UTC");
    st = cli_json(e, "America/New_York", "status", NULL, NULL, NULL, NULL, NULL);
    assert_string_equal(S(st, "timezone"), "America/New_York");
    assert_string_equal(S(st, "timezone_source"), "config");
    json_decref(st);
    pc_clock(e, "TZ=UTC");
    cal = cli_json(e, "America/New_York", "calendar", NULL, NULL, NULL, NULL, NULL);
    assert_string_equal(S(item(cal, "BC-TUAN:2026-W50"), "status"), "pending");
    assert_non_null(item(cal, "BC-TUAN:2026-W43"));
    json_decref(cal);

    /* sent now: late for the district (15/12), whatever this PC says; the
     * PC's own zone, New York, changes nothing */
    pc_clock(e, "TZ=America/New_York");
    json_t *sub = cli_json(e, NULL, "submit", "BC-TUAN:2026-W50", "--field", "kham_benh=12", NULL, NULL);
    assert_string_equal(S(sub, "status"), "late");
    json_decref(sub);
    pc_clock(e, "TZ=America/New_York");
    cal = cli_json(e, NULL, "calendar", NULL, NULL, NULL, NULL, NULL);
    assert_string_equal(S(item(cal, "BC-TUAN:2026-W50"), "status"), "late");
    assert_string_equal(S(item(cal, "BC-TUAN:2026-W50"), "submitted_at"), "2026-12-14T18:30:00Z");
    json_decref(cal);
    /* in words, the time it was sent in the district's time */
    pc_clock(e, "TZ=UTC");
    char *out = NULL;
    assert_int_equal(ts_test_station_cli(&e->st, &out, "--lang", "vi", "calendar", NULL), 0);
    if (strstr(out, "Hạn nộp: 14/12/2026 — Nộp muộn (nộp lúc 15/12/2026 01:30)") == NULL)
        fail_msg("calendar:\n%s", out);
    free(out);
    e->passed = true;
}

/* An invalid zone in the station's configuration is refused, in Vietnamese. */
static void test_unknown_zone_refused(void **state)
{
    env *e = *state;
    ts_test_station_make(&e->st, e->dir, BN, &e->pki, 1, NULL);
    e->st_made = true;
    char *out = NULL, *err = NULL;
    int rc = ts_test_station_cli2(&e->st, &out, &err, "--set", "district.timezone=Chau_A/Ha_Noi", "calendar", NULL);
    assert_int_not_equal(rc, 0);
    if (strstr(err, "không đọc được cấu hình của trạm") == NULL || strstr(err, "Chau_A/Ha_Noi") == NULL)
        fail_msg("stderr: %s", err);
    free(out);
    free(err);
    e->passed = true;
}

/* WELCOME says the district's zone; the agent keeps it for the commands. */
static void test_welcome_says_the_zone(void **state)
{
    env *e = *state;
    const char *sets[] = {"server.synchronous=off", "admin.targets_every=0", "notices.escalate_every=0",
                          "district.timezone=Asia/Tokyo", NULL};
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);
    ts_test_station_make(&e->st, e->dir, BN, &e->pki, e->d.port, NULL);
    e->st_made = true;
    /* before the first WELCOME: the default */
    json_t *st = cli_json(e, NULL, "status", NULL, NULL, NULL, NULL, NULL);
    assert_string_equal(S(st, "timezone"), "Asia/Ho_Chi_Minh");
    json_decref(st);
    ts_test_station_start(&e->st);
    if (!ts_test_log_wait(e->st.log, "event=district_timezone station=" BN " timezone=Asia/Tokyo", 20000))
        fail_msg("the agent did not keep the district's zone");
    assert_int_equal(ts_test_station_stop(&e->st, 20000), 0);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    /* offline now: the commands still use it */
    st = cli_json(e, NULL, "status", NULL, NULL, NULL, NULL, NULL);
    assert_string_equal(S(st, "timezone"), "Asia/Tokyo");
    assert_string_equal(S(st, "timezone_source"), "district");
    json_decref(st);
    char *out = NULL;
    assert_int_equal(ts_test_station_cli(&e->st, &out, "--lang", "en", "status", NULL), 0);
    if (strstr(out, "Time zone             Asia/Tokyo (the district's)") == NULL)
        fail_msg("status:\n%s", out);
    free(out);
    /* the station's own configuration wins */
    st = cli_json(e, "Asia/Ho_Chi_Minh", "status", NULL, NULL, NULL, NULL, NULL);
    assert_string_equal(S(st, "timezone"), "Asia/Ho_Chi_Minh");
    assert_string_equal(S(st, "timezone_source"), "config");
    json_decref(st);
    e->passed = true;
}

/* `tramsync --json status`'s clock problem, once it holds needle (NULL:
 * any "takes them from"); "" when it never did within timeout_ms */
static char *clock_problem_until(env *e, const char *needle, int timeout_ms)
{
    char *seen = ts_xstrdup("");
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    do {
        char *out = NULL;
        if (ts_test_station_cli(&e->st, &out, "--json", "status", NULL) == 0 && out != NULL) {
            json_t *o = json_loads(out, 0, NULL);
            free(seen);
            seen = ts_xstrdup(S(o, "clock_problem"));
            json_decref(o);
        }
        free(out);
        if (strstr(seen, needle ? needle : "takes them from") != NULL)
            return seen;
        ts_test_sleep_ms(200);
    } while (ts_test_now_ms() < end);
    return seen;
}

/* "takes them from DD/MM/YYYY HH:MM": that wall time, as if it were UTC */
static time_t clears_at(const char *problem)
{
    const char *p = strstr(problem, "takes them from ");
    if (p == NULL)
        fail_msg("no time in the clock problem: %s", problem);
    struct tm t = {0};
    if (sscanf(p + 16, "%d/%d/%d %d:%d", &t.tm_mday, &t.tm_mon, &t.tm_year, &t.tm_hour, &t.tm_min) != 5)
        fail_msg("not a time: %s", p);
    t.tm_mon -= 1;
    t.tm_year -= 1900;
    return timegm(&t);
}

/* A running agent takes the zone its district announces at once: the
 * district moves from Asia/Ho_Chi_Minh (UTC+7) to Pacific/Honolulu (UTC-10,
 * no summer time) between two connections of the same agent, and the time
 * it writes (the clock problem `status` shows: when the district takes the
 * changes stamped ahead, written again when a write here makes it try
 * again) is 17 hours earlier, with no restart (it stayed in Hà Nội's until
 * the agent's next start before). With a zone in the station's own
 * configuration, the one the district announces is not taken. */
static void test_running_agent_takes_the_new_zone(void **state)
{
    env *e = *state;
    needs_faketime_and_release(e);
    const char *dsets[] = {"server.synchronous=off", "admin.targets_every=0", "notices.escalate_every=0", NULL};
    ts_test_daemon_start(&e->d, e->dir, &e->pki, dsets);
    const char *ssets[] = {"sync.backoff_min=100ms", "sync.backoff_max=500ms", "sync.debounce=50ms", "sync.poll=50ms",
                           NULL};
    ts_test_station_make(&e->st, e->dir, BN, &e->pki, e->d.port, ssets);
    e->st_made = true;
    /* a change stamped while the PC's clock was three hours ahead */
    static const char *const ahead[] = {"FAKETIME=+3h", "FAKETIME_DONT_FAKE_MONOTONIC=1", "LD_PRELOAD=" FAKETIME_LIB,
                                        NULL};
    e->st.bin = e->bin;
    e->st.env = ahead;
    char *out = NULL;
    assert_int_equal(ts_test_station_cli(&e->st, &out, "put", "residents", "BN-TZ1", "full_name=Lan",
                                         "birth_date=1985-04-12", "sex=female", NULL),
                     0);
    free(out);
    e->st.bin = NULL;
    e->st.env = NULL;
    /* the agent, the clock right: the district refuses it for now, and
     * status says when it will take it, in Hà Nội's time */
    ts_test_station_start(&e->st);
    if (!ts_test_log_wait(e->st.log, "event=district_timezone station=" BN " timezone=Asia/Ho_Chi_Minh", 20000))
        fail_msg("the agent did not keep the district's zone");
    char *hn = clock_problem_until(e, NULL, 20000);
    if (strstr(hn, "takes them from") == NULL)
        fail_msg("no clock problem: \"%s\"", hn);
    time_t t = clears_at(hn) - 17 * 3600;
    /* the district's zone changes; the same agent connects again */
    int port = e->d.port;
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->d.sets[e->d.nsets++] = ts_xasprintf("server.listen=127.0.0.1:%d", port);
    e->d.sets[e->d.nsets++] = ts_xstrdup("district.timezone=Pacific/Honolulu");
    ts_test_daemon_restart(&e->d);
    assert_int_equal(e->d.port, port);
    if (!ts_test_log_wait(e->st.log, "event=district_timezone station=" BN " timezone=Pacific/Honolulu", 20000))
        fail_msg("the agent did not hear of the district's new zone");
    /* a write here: the agent tries again at once (not a minute after the
     * refusal), and is refused again */
    assert_int_equal(ts_test_station_cli(&e->st, &out, "put", "residents", "BN-TZ2", "full_name=Hoa",
                                         "birth_date=1990-01-01", "sex=female", NULL),
                     0);
    free(out);
    /* the same moment in Honolulu's time (a minute either side: the
     * moment is the stamp's, to the second) */
    char want[3][40];
    for (int k = 0; k < 3; k++) {
        time_t at = t + (k - 1) * 60;
        struct tm tm;
        gmtime_r(&at, &tm);
        snprintf(want[k], sizeof want[k], "takes them from %02d/%02d/%04d %02d:%02d", tm.tm_mday, tm.tm_mon + 1,
                 tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
    }
    char *hl = NULL;
    for (uint64_t end = ts_test_now_ms() + 20000; hl == NULL && ts_test_now_ms() < end;) {
        char *seen = clock_problem_until(e, NULL, 2000);
        if (strstr(seen, want[0]) || strstr(seen, want[1]) || strstr(seen, want[2]))
            hl = seen;
        else {
            free(seen);
            ts_test_sleep_ms(200);
        }
    }
    if (hl == NULL)
        fail_msg("the running agent still writes Hà Nội's time (%s), not Honolulu's (%s)", hn, want[1]);
    print_message("Hà Nội: %s\nHonolulu: %s\n", hn, hl);
    free(hn);
    /* the station's configuration sets Honolulu: a zone the district
     * announces then is kept for later, not taken */
    assert_int_equal(ts_test_station_stop(&e->st, 20000), 0);
    char *extra = ts_xasprintf("%s/extra.sets", e->st.dir);
    FILE *f = fopen(extra, "a");
    assert_non_null(f);
    fputs("district.timezone=Pacific/Honolulu\n", f);
    fclose(f);
    free(extra);
    ts_test_station_start(&e->st);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->d.sets[e->d.nsets++] = ts_xstrdup("district.timezone=Asia/Tokyo");
    ts_test_daemon_restart(&e->d);
    assert_int_equal(e->d.port, port);
    if (!ts_test_log_wait(e->st.log, "event=district_timezone station=" BN " timezone=Asia/Tokyo", 20000))
        fail_msg("the agent did not hear of the district's new zone");
    int refused = ts_test_file_count(e->st.log, "event=push_refused");
    assert_int_equal(ts_test_station_cli(&e->st, &out, "put", "residents", "BN-TZ3", "full_name=Mai",
                                         "birth_date=1992-02-02", "sex=female", NULL),
                     0);
    free(out);
    for (uint64_t end = ts_test_now_ms() + 20000; ts_test_file_count(e->st.log, "event=push_refused") == refused;) {
        if (ts_test_now_ms() > end)
            fail_msg("the agent did not try again");
        ts_test_sleep_ms(100);
    }
    char *still = clock_problem_until(e, NULL, 5000);
    if (strstr(still, strstr(hl, "takes them from")) == NULL && strstr(still, want[0]) == NULL &&
        strstr(still, want[2]) == NULL)
        fail_msg("with Honolulu in its configuration, the agent wrote \"%s\" (Honolulu's: %s)", still, want[1]);
    free(still);
    free(hl);
    assert_int_equal(ts_test_station_stop(&e->st, 20000), 0);
    e->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_days_are_the_districts_at_the_station, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_zone_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_welcome_says_the_zone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_running_agent_takes_the_new_zone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
