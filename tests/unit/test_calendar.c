/* The calendar (issue 18): the periods of recurring duties across month,
 * year and leap-year boundaries (common/ts_calendar.h), and on a district
 * store at times the test chooses (server/ts_calendar.h): occurrences made
 * for the two periods before, the current and the next in the district's local time
 * (23:30 UTC on 31/12 is already 01/01 in Asia/Ho_Chi_Minh), idempotent;
 * reports judged on time, late, missing, pending, invalid against their
 * form; the grid's rates; reminders sent once before the due day and once
 * when late; the late ones reminded in one step; every report graded and
 * the grade written on it for its station; the statuses' words one table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/ts_calendar.h"
#include "common/ts_notice.h"
#include "common/ts_recjson.h"
#include "common/ts_registry.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "server/ts_calendar.h"
#include "server/ts_notices.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_store.h"

#define BN "binhnguyen"
#define BX "binhxuyen"
#define BT "binhtuyen"
#define XL "xuanlang"

static ts_date D(const char *s)
{
    ts_date d;
    if (!ts_date_parse(s, &d))
        fail_msg("not a date: %s", s);
    return d;
}

static void assert_period(int rec, const char *day, const char *key, const char *start, const char *end)
{
    ts_period p;
    assert_true(ts_period_of(rec, D(day), &p));
    char a[16], b[16];
    ts_date_fmt(p.start, a, sizeof a);
    ts_date_fmt(p.end, b, sizeof b);
    assert_string_equal(p.key, key);
    assert_string_equal(a, start);
    assert_string_equal(b, end);
}

static void assert_due(int rec, const char *day, int due_days, const char *want)
{
    ts_period p;
    assert_true(ts_period_of(rec, D(day), &p));
    char s[16];
    ts_date_fmt(ts_period_due(&p, due_days), s, sizeof s);
    assert_string_equal(s, want);
}

static void test_periods(void **state)
{
    (void)state;
    assert_period(TS_REC_MONTHLY, "2026-12-31", "2026-12", "2026-12-01", "2026-12-31");
    assert_period(TS_REC_MONTHLY, "2028-02-10", "2028-02", "2028-02-01", "2028-02-29");
    assert_period(TS_REC_MONTHLY, "2027-02-10", "2027-02", "2027-02-01", "2027-02-28");
    assert_period(TS_REC_MONTHLY, "2100-02-01", "2100-02", "2100-02-01", "2100-02-28");
    assert_period(TS_REC_MONTHLY, "2000-02-01", "2000-02", "2000-02-01", "2000-02-29");
    assert_period(TS_REC_QUARTERLY, "2026-11-15", "2026-Q4", "2026-10-01", "2026-12-31");
    assert_period(TS_REC_QUARTERLY, "2026-04-01", "2026-Q2", "2026-04-01", "2026-06-30");
    assert_period(TS_REC_HALF_YEARLY, "2026-07-01", "2026-H2", "2026-07-01", "2026-12-31");
    assert_period(TS_REC_HALF_YEARLY, "2026-06-30", "2026-H1", "2026-01-01", "2026-06-30");
    assert_period(TS_REC_YEARLY, "2026-03-03", "2026", "2026-01-01", "2026-12-31");
    /* ISO weeks: 2026 has 53, 1 January 2027 is in its last; 30/12/2024 is 2025-W01 */
    assert_period(TS_REC_WEEKLY, "2026-12-31", "2026-W53", "2026-12-28", "2027-01-03");
    assert_period(TS_REC_WEEKLY, "2027-01-01", "2026-W53", "2026-12-28", "2027-01-03");
    assert_period(TS_REC_WEEKLY, "2027-01-04", "2027-W01", "2027-01-04", "2027-01-10");
    assert_period(TS_REC_WEEKLY, "2024-12-30", "2025-W01", "2024-12-30", "2025-01-05");
    assert_period(TS_REC_WEEKLY, "2026-12-07", "2026-W50", "2026-12-07", "2026-12-13");
    /* due: the 5th of the next month, the 10th after a quarter, across the year */
    assert_due(TS_REC_MONTHLY, "2026-12-15", 5, "2027-01-05");
    assert_due(TS_REC_MONTHLY, "2028-02-15", 5, "2028-03-05");
    assert_due(TS_REC_MONTHLY, "2028-01-15", 29, "2028-02-29");
    assert_due(TS_REC_QUARTERLY, "2026-12-15", 10, "2027-01-10");
    assert_due(TS_REC_HALF_YEARLY, "2026-03-01", 15, "2026-07-15");
    assert_due(TS_REC_YEARLY, "2026-03-01", 31, "2027-01-31");
    /* next and previous periods across the year */
    ts_period p, q;
    assert_true(ts_period_of(TS_REC_MONTHLY, D("2026-12-02"), &p));
    assert_true(ts_period_next(TS_REC_MONTHLY, &p, &q));
    assert_string_equal(q.key, "2027-01");
    assert_true(ts_period_of(TS_REC_HALF_YEARLY, D("2027-01-02"), &p));
    assert_true(ts_period_prev(TS_REC_HALF_YEARLY, &p, &q));
    assert_string_equal(q.key, "2026-H2");
    assert_true(ts_period_of(TS_REC_QUARTERLY, D("2027-01-02"), &p));
    assert_true(ts_period_prev(TS_REC_QUARTERLY, &p, &q));
    assert_string_equal(q.key, "2026-Q4");
    /* meeting days: a weekday of the week, a day of the month clamped */
    assert_true(ts_period_of(TS_REC_WEEKLY, D("2026-12-09"), &p));
    char s[16];
    ts_date_fmt(ts_period_meeting_day(TS_REC_WEEKLY, &p, 1, 0), s, sizeof s);
    assert_string_equal(s, "2026-12-07");
    assert_true(ts_period_of(TS_REC_MONTHLY, D("2027-02-09"), &p));
    ts_date_fmt(ts_period_meeting_day(TS_REC_MONTHLY, &p, 0, 31), s, sizeof s);
    assert_string_equal(s, "2027-02-28");
    assert_int_equal(ts_date_weekday(D("2026-12-07")), 1);
    assert_int_equal(ts_date_weekday(D("2027-01-03")), 7);
    ts_date bad;
    assert_false(ts_date_parse("2027-02-29", &bad));
    assert_false(ts_date_parse("2026-13-01", &bad));
    assert_int_equal(ts_recurrence_parse("half_yearly"), TS_REC_HALF_YEARLY);
    assert_int_equal(ts_recurrence_parse("fortnightly"), -1);
}

static const char FORM[] =
    "[{\"name\":\"kham_benh\",\"label_vi\":\"Số lượt khám bệnh\",\"label_en\":\"Visits\",\"type\":\"int\","
    "\"required\":true},{\"name\":\"ghi_chu\",\"label_vi\":\"Ghi chú\",\"label_en\":\"Note\",\"type\":\"text\"}]";

static void test_forms(void **state)
{
    (void)state;
    json_t *form = json_loads(FORM, 0, NULL);
    char why[200];
    assert_true(ts_form_valid(form, why, sizeof why));
    json_t *values = json_loads("{\"kham_benh\": 312}", 0, NULL);
    json_t *p = ts_form_problems(form, values);
    assert_int_equal(json_array_size(p), 0);
    json_decref(p);
    json_decref(values);
    values = json_loads("{\"kham_benh\": \"nhiều\", \"la\": 1}", 0, NULL);
    p = ts_form_problems(form, values);
    assert_int_equal(json_array_size(p), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(p, 0), "problem")), "type");
    assert_string_equal(json_string_value(json_object_get(json_array_get(p, 0), "label_vi")), "Số lượt khám bệnh");
    assert_string_equal(json_string_value(json_object_get(json_array_get(p, 1), "problem")), "unknown");
    json_decref(p);
    json_decref(values);
    values = json_loads("{}", 0, NULL);
    p = ts_form_problems(form, values);
    assert_int_equal(json_array_size(p), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(p, 0), "problem")), "required");
    json_decref(p);
    json_decref(values);
    json_t *v = ts_form_value_from_text(ts_form_field(form, "kham_benh"), "312");
    assert_int_equal(json_integer_value(v), 312);
    json_decref(v);
    assert_null(ts_form_value_from_text(ts_form_field(form, "kham_benh"), "-3"));
    assert_null(ts_form_value_from_text(ts_form_field(form, "kham_benh"), "3a"));
    json_decref(form);
    json_t *bad = json_loads("[{\"name\":\"Kham Benh\",\"type\":\"int\",\"label_vi\":\"a\",\"label_en\":\"b\"}]", 0, NULL);
    assert_false(ts_form_valid(bad, why, sizeof why));
    json_decref(bad);
    bad = json_loads("[{\"name\":\"a\",\"type\":\"int\",\"label_vi\":\"a\",\"label_en\":\"b\"},"
                     "{\"name\":\"a\",\"type\":\"int\",\"label_vi\":\"a\",\"label_en\":\"b\"}]",
                     0, NULL);
    assert_false(ts_form_valid(bad, why, sizeof why));
    json_decref(bad);
}

/* ---------------------------------------------------------------- on a store */

typedef struct fixture {
    char *dir;
    ts_store *srv;
    ts_store *sta[4];
} fixture;

static const char *const codes[4] = {BN, BX, BT, XL};

static void put(ts_store *st, const char *table, const char *id, const char *json)
{
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    if (o == NULL)
        fail_msg("bad JSON in test: %s: %s", json, je.text);
    ts_actor a = {TS_ACTOR_ADMIN, "admin-test", NULL, "test"};
    ts_error err;
    if (ts_record_put_json(st, &a, table, id, o, &err) < 0)
        fail_msg("put %s/%s: %s", table, id, err.msg);
    json_decref(o);
}

/* a station's report, written at the station and pushed */
static void submit(fixture *f, int station, const char *occ, const char *values, const char *at)
{
    char id[256], json[1024];
    snprintf(id, sizeof id, "%s:%s", occ, codes[station]);
    const char *colon = strchr(occ, ':');
    snprintf(json, sizeof json,
             "{\"occurrence_id\":\"%s\",\"duty_id\":\"%.*s\",\"period\":\"%s\",\"values\":\"%s\","
             "\"submitted_at\":\"%s\"}",
             occ, (int)(colon - occ), occ, colon + 1, values, at);
    ts_actor a = {TS_ACTOR_LOCAL, "staff", NULL, "cli"};
    json_t *o = json_loads(json, 0, NULL);
    assert_non_null(o);
    ts_error err;
    if (ts_record_put_json(f->sta[station], &a, "periodic_reports", id, o, &err) < 0)
        fail_msg("submit: %s", err.msg);
    json_decref(o);
    assert_int_equal(ts_test_push(f->sta[station], f->srv, codes[station], false), 1);
}

static int setup(void **state)
{
    ts_district_tz_apply("Asia/Ho_Chi_Minh");
    fixture *f = ts_xcalloc(1, sizeof *f);
    f->dir = ts_tmpdir_make("calendar");
    f->srv = ts_test_open(f->dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s.db", codes[i]);
        f->sta[i] = ts_test_open(f->dir, name, TS_ROLE_STATION, codes[i], NULL);
        char json[200];
        snprintf(json, sizeof json, "{\"name\":\"Trạm Y tế %d\",\"commune\":\"Xã %d\",\"commune_code\":\"0900%d\"}", i,
                 i, i);
        put(f->srv, "stations", codes[i], json);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ts_store_close(f->srv);
    for (int i = 0; i < 4; i++)
        ts_store_close(f->sta[i]);
    ts_tmpdir_remove(f->dir);
    free(f);
    ts_district_tz_apply("UTC");
    return 0;
}

static uint64_t at(const char *iso)
{
    uint64_t ms;
    if (!ts_time_parse(iso, &ms))
        fail_msg("not a time: %s", iso);
    return ms;
}

static json_t *occ(fixture *f, const char *id)
{
    return ts_test_record_fields(f->srv, "duty_occurrences", id);
}

static void test_generation_local_time(void **state)
{
    fixture *f = *state;
    char *form = ts_xasprintf("{\"kind\":\"periodic_report\",\"title\":\"Báo cáo hoạt động tháng\",\"recurrence\":"
                              "\"monthly\",\"due_days\":5,\"form\":%s}",
                              "\"[]\"");
    put(f->srv, "duties", "BC-THANG", form);
    free(form);
    put(f->srv, "duties", "BC-QUY",
        "{\"kind\":\"periodic_report\",\"title\":\"Báo cáo quý\",\"recurrence\":\"quarterly\",\"due_days\":10,"
        "\"stations\":[\"" BN "\",\"" BX "\"]}");
    put(f->srv, "duties", "GIAO-BAN",
        "{\"kind\":\"meeting\",\"title\":\"Giao ban tuần\",\"recurrence\":\"weekly\",\"weekday\":1,\"time\":"
        "\"07:30\",\"place\":\"Hội trường TTYT\",\"participants\":\"Trạm trưởng\"}");
    put(f->srv, "duties", "CU", "{\"kind\":\"periodic_report\",\"title\":\"Cũ\",\"recurrence\":\"monthly\","
                                "\"active_to\":\"2026-10-31\"}");
    size_t written;
    ts_error err;
    /* 23:30 local on 31/12 (16:30 UTC): still December */
    assert_int_equal(ts_calendar_generate(f->srv, at("2026-12-31T16:30:00Z"), &written, &err), 0);
    json_t *o = occ(f, "BC-THANG:2026-12");
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "due_date")), "2027-01-05");
    assert_int_equal(json_array_size(json_object_get(o, "stations")), 4);
    json_decref(o);
    assert_non_null(o = occ(f, "BC-THANG:2026-11"));
    json_decref(o);
    assert_non_null(o = occ(f, "BC-THANG:2026-10"));
    json_decref(o);
    assert_null(occ(f, "BC-THANG:2026-09"));
    assert_non_null(o = occ(f, "BC-THANG:2027-01"));
    json_decref(o);
    assert_null(occ(f, "BC-THANG:2027-02"));
    /* nothing of a duty whose time is over */
    assert_null(occ(f, "CU:2026-12"));
    assert_null(occ(f, "CU:2026-11"));
    /* again: nothing to write */
    assert_int_equal(ts_calendar_generate(f->srv, at("2026-12-31T16:30:00Z"), &written, &err), 0);
    assert_int_equal(written, 0);
    /* 23:30 UTC on 31/12 is 06:30 on 01/01 in the district: January is current */
    assert_int_equal(ts_calendar_generate(f->srv, at("2026-12-31T23:30:00Z"), &written, &err), 0);
    assert_true(written > 0);
    assert_non_null(o = occ(f, "BC-THANG:2027-02"));
    json_decref(o);
    o = occ(f, "BC-QUY:2026-Q4");
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "due_date")), "2027-01-10");
    assert_int_equal(json_array_size(json_object_get(o, "stations")), 2);
    json_decref(o);
    o = occ(f, "GIAO-BAN:2027-W01");
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "meeting_at")), "2027-01-04T07:30:00+07:00");
    assert_string_equal(json_string_value(json_object_get(o, "place")), "Hội trường TTYT");
    json_decref(o);
    assert_non_null(o = occ(f, "GIAO-BAN:2026-W53"));
    json_decref(o);
    /* the quarterly report changes hands: Q1 2027 (current) and Q2 follow,
     * Q4 2026 (over) keeps its stations */
    put(f->srv, "duties", "BC-QUY", "{\"stations\":[\"" BT "\"]}");
    assert_int_equal(ts_calendar_generate(f->srv, at("2027-01-02T02:00:00Z"), &written, &err), 0);
    o = occ(f, "BC-QUY:2026-Q4");
    assert_int_equal(json_array_size(json_object_get(o, "stations")), 2);
    json_decref(o);
    o = occ(f, "BC-QUY:2027-Q1");
    assert_int_equal(json_array_size(json_object_get(o, "stations")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "stations"), 0)), BT);
    json_decref(o);
}

static const char *cell_status(const json_t *grid, const char *station, size_t col)
{
    const json_t *g = json_array_get(json_object_get(grid, "duties"), 0);
    size_t i;
    const json_t *row;
    json_array_foreach(json_object_get(g, "rows"), i, row) {
        if (strcmp(json_string_value(json_object_get(row, "station")), station) == 0)
            return json_string_value(json_object_get(json_array_get(json_object_get(row, "cells"), col), "status"));
    }
    return "absent";
}

static json_int_t col_int(const json_t *grid, size_t col, const char *key)
{
    const json_t *g = json_array_get(json_object_get(grid, "duties"), 0);
    return json_integer_value(json_object_get(json_array_get(json_object_get(g, "periods"), col), key));
}

/* The duty the tests below share: a monthly report due the 5th, of FORM. */
static void put_monthly_report(fixture *f)
{
    json_t *duty = json_pack("{s:s,s:s,s:s,s:i,s:s}", "kind", "periodic_report", "title", "Báo cáo hoạt động tháng",
                             "recurrence", "monthly", "due_days", 5, "form", FORM);
    ts_actor a = {TS_ACTOR_ADMIN, "admin-test", NULL, "test"};
    ts_error err;
    assert_int_equal(ts_record_put_json(f->srv, &a, "duties", "BC-THANG", duty, &err), 0);
    json_decref(duty);
}

/* The monthly report duty, November's occurrences, and two stations'
 * reports of November: the first station's fits the form (sent on 5
 * December, 23:00 local), the third's does not (a word where a count
 * goes). */
static void november_reports_sent(fixture *f)
{
    ts_error err;
    size_t written;
    put_monthly_report(f);
    assert_int_equal(ts_calendar_generate(f->srv, at("2026-12-03T02:00:00Z"), &written, &err), 0);
    submit(f, 0, "BC-THANG:2026-11", "{\\\"kham_benh\\\": 312}", "2026-12-05T16:00:00Z");
    submit(f, 2, "BC-THANG:2026-11", "{\\\"kham_benh\\\": \\\"nhiều\\\"}", "2026-12-04T08:00:00Z");
}

static void test_grid_and_reminders(void **state)
{
    fixture *f = *state;
    ts_error err;
    put_monthly_report(f);
    size_t written;
    /* 3 December, local: November's report is due on the 5th */
    uint64_t dec3 = at("2026-12-03T02:00:00Z");
    assert_int_equal(ts_calendar_generate(f->srv, dec3, &written, &err), 0);
    /* two days before: every station reminded once (October's, due 05/11, is
     * too long past to be announced late now) */
    ts_cal_reminder *r;
    size_t n;
    assert_int_equal(ts_calendar_remind(f->srv, "TTYT", dec3, &r, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].stations.n, 4);
    json_t *o = ts_test_record_fields(f->srv, "notices", r[0].notice);
    assert_non_null(o);
    assert_non_null(strstr(json_string_value(json_object_get(o, "subject")), "Báo cáo hoạt động tháng"));
    json_decref(o);
    ts_cal_reminders_free(r, n);
    assert_int_equal(ts_calendar_remind(f->srv, "TTYT", dec3 + 3600000, &r, &n, &err), 0);
    assert_int_equal(n, 0);
    ts_cal_reminders_free(r, n);
    /* BN on time (local 5 December, 23:00), BX late, BT a value not of its type */
    submit(f, 0, "BC-THANG:2026-11", "{\\\"kham_benh\\\": 312}", "2026-12-05T16:00:00Z");
    submit(f, 1, "BC-THANG:2026-11", "{\\\"kham_benh\\\": 280}", "2026-12-05T17:30:00Z");
    submit(f, 2, "BC-THANG:2026-11", "{\\\"kham_benh\\\": \\\"nhiều\\\"}", "2026-12-04T08:00:00Z");
    uint64_t dec7 = at("2026-12-07T02:00:00Z");
    json_t *grid;
    assert_int_equal(ts_calendar_grid(f->srv, "BC-THANG", 6, NULL, dec7, &grid, &err), 0);
    /* periods that started: October, November, December */
    const json_t *g = json_array_get(json_object_get(grid, "duties"), 0);
    assert_int_equal(json_array_size(json_object_get(g, "periods")), 3);
    assert_string_equal(cell_status(grid, BN, 1), "on_time");
    assert_string_equal(cell_status(grid, BX, 1), "late");
    assert_string_equal(cell_status(grid, BT, 1), "invalid");
    assert_string_equal(cell_status(grid, XL, 1), "missing");
    assert_string_equal(cell_status(grid, XL, 2), "pending");
    assert_string_equal(cell_status(grid, XL, 0), "missing");
    assert_int_equal(col_int(grid, 1, "expected"), 4);
    assert_int_equal(col_int(grid, 1, "received"), 2);
    assert_int_equal(col_int(grid, 1, "reporting_rate"), 50);
    assert_int_equal(col_int(grid, 1, "timeliness"), 25);
    assert_int_equal(col_int(grid, 0, "reporting_rate"), 0);
    json_decref(grid);
    /* the last two only */
    assert_int_equal(ts_calendar_grid(f->srv, "BC-THANG", 2, NULL, dec7, &grid, &err), 0);
    assert_string_equal(cell_status(grid, BN, 0), "on_time");
    json_decref(grid);
    /* scoped to one station */
    ts_strlist only = {NULL, 0};
    ts_strlist_add(&only, BX);
    assert_int_equal(ts_calendar_grid(f->srv, NULL, 6, &only, dec7, &grid, &err), 0);
    assert_string_equal(cell_status(grid, BN, 1), "absent");
    assert_string_equal(cell_status(grid, BX, 1), "late");
    assert_int_equal(col_int(grid, 1, "expected"), 1);
    json_decref(grid);
    ts_strlist_free(&only);
    /* the day after the due day: the late ones (BT invalid, XL missing) once */
    uint64_t dec6 = at("2026-12-06T02:00:00Z");
    assert_int_equal(ts_calendar_remind(f->srv, "TTYT", dec6, &r, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].stations.n, 2);
    assert_string_equal(r[0].stations.v[0], BT);
    assert_string_equal(r[0].stations.v[1], XL);
    ts_cal_reminders_free(r, n);
    assert_int_equal(ts_calendar_remind(f->srv, "TTYT", dec7, &r, &n, &err), 0);
    assert_int_equal(n, 0);
    ts_cal_reminders_free(r, n);
    o = occ(f, "BC-THANG:2026-11");
    assert_non_null(json_object_get(o, "reminded_late_at"));
    assert_non_null(json_object_get(o, "reminded_before_at"));
    json_decref(o);
    /* in one step, by an admin */
    ts_actor a = {TS_ACTOR_ADMIN, "admin-test", NULL, "test"};
    ts_cal_reminder one;
    assert_int_equal(ts_calendar_remind_late(f->srv, &a, "TTYT", "BC-THANG:2026-11", dec7, &one, &err), 0);
    assert_int_equal(one.stations.n, 2);
    o = ts_test_record_fields(f->srv, "notices", one.notice);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "urgency")), "khan");
    json_decref(o);
    ts_strlist_free(&one.stations);
    /* XL submits: only BT is left */
    submit(f, 3, "BC-THANG:2026-11", "{\\\"kham_benh\\\": 120}", "2026-12-07T03:00:00Z");
    assert_int_equal(ts_calendar_remind_late(f->srv, &a, "TTYT", "BC-THANG:2026-11", dec7, &one, &err), 0);
    assert_int_equal(one.stations.n, 1);
    assert_string_equal(one.stations.v[0], BT);
    ts_strlist_free(&one.stations);
    assert_int_equal(ts_calendar_remind_late(f->srv, &a, "TTYT", "nothing:here", dec7, &one, &err), TS_ENOT_FOUND);
    ts_strlist_free(&one.stations);
}

/* A report's day is the day its submitted_at falls on in the district's zone,
 * not the day the station printed in it: 23:30 in New York on the 5th is the
 * 6th in Hà Nội (late), 00:30 in Perth on the 6th is still the 5th (on time). */
static void test_submitted_day_is_the_districts(void **state)
{
    fixture *f = *state;
    ts_error err;
    put_monthly_report(f);
    size_t written;
    assert_int_equal(ts_calendar_generate(f->srv, at("2026-12-03T02:00:00Z"), &written, &err), 0);
    submit(f, 0, "BC-THANG:2026-11", "{\\\"kham_benh\\\": 312}", "2026-12-05T23:30:00-05:00");
    submit(f, 1, "BC-THANG:2026-11", "{\\\"kham_benh\\\": 280}", "2026-12-06T00:30:00+08:00");
    json_t *grid;
    assert_int_equal(ts_calendar_grid(f->srv, "BC-THANG", 2, NULL, at("2026-12-07T02:00:00Z"), &grid, &err), 0);
    assert_string_equal(cell_status(grid, BN, 0), "late");
    assert_string_equal(cell_status(grid, BX, 0), "on_time");
    json_decref(grid);
}

/* The district's verdict reaches the station: every report graded as the
 * grid judges it and the grade written on the report, once per submission;
 * the station's copy gets it by the pull; a report sent again is graded
 * again; a grade the station wrote itself is put right. */
static void test_reports_graded(void **state)
{
    fixture *f = *state;
    ts_error err;
    size_t written, invalid;
    november_reports_sent(f);
    /* a report of a period this station does not owe is not graded */
    submit(f, 1, "NO-SUCH:2026-11", "{}", "2026-12-04T08:00:00Z");
    uint64_t dec7 = at("2026-12-07T02:00:00Z");
    ts_strlist to = {NULL, 0};
    assert_int_equal(ts_calendar_grade(f->srv, NULL, dec7, &written, &invalid, &to, &err), 0);
    assert_int_equal(written, 2);
    assert_int_equal(invalid, 1);
    assert_int_equal(to.n, 2);
    ts_strlist_free(&to);
    json_t *o = ts_test_record_fields(f->srv, "periodic_reports", "BC-THANG:2026-11:" BN);
    assert_string_equal(json_string_value(json_object_get(o, "grade")), "on_time");
    assert_true(json_is_null(json_object_get(o, "grade_problems")) || json_object_get(o, "grade_problems") == NULL);
    assert_string_equal(json_string_value(json_object_get(o, "graded_submission")),
                        json_string_value(json_object_get(o, "submitted_at")));
    json_decref(o);
    o = ts_test_record_fields(f->srv, "periodic_reports", "NO-SUCH:2026-11:" BX);
    assert_null(json_object_get(o, "grade"));
    json_decref(o);
    /* nothing changed: nothing written */
    assert_int_equal(ts_calendar_grade(f->srv, NULL, dec7 + 60000, &written, &invalid, NULL, &err), 0);
    assert_int_equal(written, 0);
    /* the station's copy: invalid, with why (the field in words, no value) */
    assert_true(ts_test_pull(f->srv, f->sta[2], BT) > 0);
    o = ts_test_record_fields(f->sta[2], "periodic_reports", "BC-THANG:2026-11:" BT);
    assert_string_equal(json_string_value(json_object_get(o, "grade")), "invalid");
    json_t *why = json_loads(json_string_value(json_object_get(o, "grade_problems")), 0, NULL);
    assert_int_equal(json_array_size(why), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(why, 0), "label_vi")), "Số lượt khám bệnh");
    assert_string_equal(json_string_value(json_object_get(json_array_get(why, 0), "problem")), "type");
    assert_null(strstr(json_string_value(json_object_get(o, "grade_problems")), "nhiều"));
    json_decref(why);
    json_decref(o);
    /* sent again, fitting the form: graded again, late now */
    submit(f, 2, "BC-THANG:2026-11", "{\\\"kham_benh\\\": 200}", "2026-12-07T03:00:00Z");
    /* as after a push: that report alone (an unknown id is nothing) */
    ts_strlist ids = {NULL, 0};
    ts_strlist_add(&ids, "BC-THANG:2026-11:" BT);
    ts_strlist_add(&ids, "nothing:here");
    assert_int_equal(ts_calendar_grade(f->srv, &ids, dec7 + 7200000, &written, &invalid, NULL, &err), 0);
    ts_strlist_free(&ids);
    assert_int_equal(written, 1);
    assert_int_equal(invalid, 0);
    assert_true(ts_test_pull(f->srv, f->sta[2], BT) > 0);
    o = ts_test_record_fields(f->sta[2], "periodic_reports", "BC-THANG:2026-11:" BT);
    assert_string_equal(json_string_value(json_object_get(o, "grade")), "late");
    assert_true(json_is_null(json_object_get(o, "grade_problems")));
    assert_string_equal(json_string_value(json_object_get(o, "graded_submission")), "2026-12-07T03:00:00Z");
    json_decref(o);
    /* a grade the station gives itself is not the district's */
    ts_actor staff = {TS_ACTOR_LOCAL, "staff", NULL, "cli"};
    json_t *self = json_pack("{s:s}", "grade", "on_time");
    assert_int_equal(ts_record_put_json(f->sta[2], &staff, "periodic_reports", "BC-THANG:2026-11:" BT, self, &err), 0);
    json_decref(self);
    assert_int_equal(ts_test_push(f->sta[2], f->srv, BT, false), 1);
    assert_int_equal(ts_calendar_grade(f->srv, NULL, dec7 + 9000000, &written, &invalid, NULL, &err), 0);
    assert_int_equal(written, 1);
    o = ts_test_record_fields(f->srv, "periodic_reports", "BC-THANG:2026-11:" BT);
    assert_string_equal(json_string_value(json_object_get(o, "grade")), "late");
    json_decref(o);
}

/* a cell's "graded" (NULL: none), of the last grid's period col */
static const json_t *cell_graded(const json_t *grid, const char *station, size_t col)
{
    const json_t *g = json_array_get(json_object_get(grid, "duties"), 0);
    size_t i;
    const json_t *row;
    json_array_foreach(json_object_get(g, "rows"), i, row) {
        if (strcmp(json_string_value(json_object_get(row, "station")), station) == 0)
            return json_object_get(json_array_get(json_object_get(row, "cells"), col), "graded");
    }
    return NULL;
}

static const char *gs(const json_t *graded, const char *key)
{
    const char *v = json_string_value(json_object_get(graded, key));
    return v ? v : "";
}

/* The grid shows beside each report's live status the grade the district
 * wrote on it (what its station was told, and when): current when it is
 * of this submission and says the same; resubmitted when the station sent
 * it again since (the grade is of the older one); outdated when the form
 * changed since; none before the first grading. */
static void test_grid_shows_the_grade(void **state)
{
    fixture *f = *state;
    ts_error err;
    size_t written, invalid;
    november_reports_sent(f);
    uint64_t dec7 = at("2026-12-07T02:00:00Z");
    json_t *grid;
    /* not graded yet: the live status alone */
    assert_int_equal(ts_calendar_grid(f->srv, "BC-THANG", 2, NULL, dec7, &grid, &err), 0);
    assert_string_equal(cell_status(grid, BT, 0), "invalid");
    assert_null(cell_graded(grid, BT, 0));
    json_decref(grid);
    assert_int_equal(ts_calendar_grade(f->srv, NULL, dec7, &written, &invalid, NULL, &err), 0);
    assert_int_equal(ts_calendar_grid(f->srv, "BC-THANG", 2, NULL, dec7, &grid, &err), 0);
    const json_t *g = cell_graded(grid, BT, 0);
    assert_non_null(g);
    assert_string_equal(gs(g, "grade"), "invalid");
    assert_string_equal(gs(g, "state"), "current");
    assert_string_equal(gs(g, "submission"), "2026-12-04T08:00:00Z");
    assert_string_equal(gs(g, "graded_at"), "2026-12-07T02:00:00Z");
    const json_t *why = json_array_get(json_object_get(g, "problems"), 0);
    assert_string_equal(gs(why, "label_vi"), "Số lượt khám bệnh");
    assert_string_equal(gs(why, "problem"), "type");
    g = cell_graded(grid, BN, 0);
    assert_string_equal(gs(g, "grade"), "on_time");
    assert_string_equal(gs(g, "state"), "current");
    assert_null(json_object_get(g, "problems"));
    assert_null(cell_graded(grid, XL, 0)); /* nothing sent */
    json_decref(grid);
    /* BT sends it again, fitting the form: the grid counts it (late), the
     * grade is still the older submission's until the next grading */
    submit(f, 2, "BC-THANG:2026-11", "{\\\"kham_benh\\\": 200}", "2026-12-07T03:00:00Z");
    assert_int_equal(ts_calendar_grid(f->srv, "BC-THANG", 2, NULL, dec7, &grid, &err), 0);
    assert_string_equal(cell_status(grid, BT, 0), "late");
    g = cell_graded(grid, BT, 0);
    assert_string_equal(gs(g, "grade"), "invalid");
    assert_string_equal(gs(g, "state"), "resubmitted");
    assert_string_equal(gs(g, "submission"), "2026-12-04T08:00:00Z");
    json_decref(grid);
    /* the form changed (a field required that BN did not send): the grid
     * judges by it at once; BN's grade, of the same submission, is outdated */
    put(f->srv, "duties", "BC-THANG",
        "{\"form\":\"[{\\\"name\\\":\\\"kham_benh\\\",\\\"label_vi\\\":\\\"Số lượt khám bệnh\\\",\\\"label_en\\\":"
        "\\\"Visits\\\",\\\"type\\\":\\\"int\\\",\\\"required\\\":true},{\\\"name\\\":\\\"tiem_chung\\\",\\\"label_vi\\\":"
        "\\\"Số trẻ tiêm chủng\\\",\\\"label_en\\\":\\\"Children immunised\\\",\\\"type\\\":\\\"int\\\",\\\"required\\\":true}]\"}");
    assert_int_equal(ts_calendar_grid(f->srv, "BC-THANG", 2, NULL, dec7, &grid, &err), 0);
    assert_string_equal(cell_status(grid, BN, 0), "invalid");
    g = cell_graded(grid, BN, 0);
    assert_string_equal(gs(g, "grade"), "on_time");
    assert_string_equal(gs(g, "state"), "outdated");
    json_decref(grid);
    /* graded again: both current */
    assert_int_equal(ts_calendar_grade(f->srv, NULL, dec7 + 3600000, &written, &invalid, NULL, &err), 0);
    assert_int_equal(ts_calendar_grid(f->srv, "BC-THANG", 2, NULL, dec7, &grid, &err), 0);
    g = cell_graded(grid, BN, 0);
    assert_string_equal(gs(g, "grade"), "invalid");
    assert_string_equal(gs(g, "state"), "current");
    assert_string_equal(gs(json_array_get(json_object_get(g, "problems"), 0), "label_vi"), "Số trẻ tiêm chủng");
    g = cell_graded(grid, BT, 0);
    assert_string_equal(gs(g, "state"), "current");
    json_decref(grid);
}

/* One table of the statuses' words: the grade's value_labels in tables.json
 * and the console's (server/console/i18n-calendar.js) are the words of
 * common/ts_calendar's table, which the admin API's CSV, tramsyncctl and
 * tramsync print. */
static void test_status_words_one_table(void **state)
{
    (void)state;
    const ts_table_def *t = ts_registry_table(ts_test_registry(), "periodic_reports");
    assert_non_null(t);
    const ts_field_def *g = ts_table_field(t, "grade");
    assert_non_null(g);
    assert_int_equal(g->nvalues, 3);
    for (size_t i = 0; i < g->nvalues; i++) {
        assert_string_equal(ts_field_value_label(g, g->values[i], false), ts_report_status_label(g->values[i], false));
        assert_string_equal(ts_field_value_label(g, g->values[i], true), ts_report_status_label(g->values[i], true));
    }
    char *path = ts_source_path("server/console/i18n-calendar.js");
    char *js = ts_read_file(path, NULL);
    assert_non_null(js);
    const char *en = strstr(js, "Object.assign(STRINGS.en");
    assert_non_null(en);
    for (size_t i = 0; i < TS_REPORT_STATUSES; i++) {
        const char *code = ts_report_status_codes[i];
        char want[160];
        snprintf(want, sizeof want, "cal_st_%s: '%s',", code, ts_report_status_label(code, false));
        const char *vi = strstr(js, want);
        if (vi == NULL || vi > en)
            fail_msg("i18n-calendar.js (vi) lacks %s", want);
        snprintf(want, sizeof want, "cal_st_%s: '%s',", code, ts_report_status_label(code, true));
        if (strstr(en, want) == NULL)
            fail_msg("i18n-calendar.js (en) lacks %s", want);
    }
    /* and a problem's words, which tramsync calendar prints too */
    static const char *const problems[] = {"required", "type", "unknown", "not_object"};
    for (size_t i = 0; i < 4; i++) {
        char want[200];
        snprintf(want, sizeof want, "cal_pb_%s: '%s',", problems[i], ts_form_problem_text(problems[i], false));
        const char *vi = strstr(js, want);
        if (vi == NULL || vi > en)
            fail_msg("i18n-calendar.js (vi) lacks %s", want);
        snprintf(want, sizeof want, "cal_pb_%s: '%s',", problems[i], ts_form_problem_text(problems[i], true));
        if (strstr(en, want) == NULL)
            fail_msg("i18n-calendar.js (en) lacks %s", want);
    }
    free(js);
    free(path);
    assert_string_equal(ts_report_status_label("invalid", false), "Sai mẫu");
    assert_string_equal(ts_report_status_label("something", true), "something");
}

/* a weekly giao ban: its stations invited the day before, once; not once it began */
static void test_meeting_reminder(void **state)
{
    fixture *f = *state;
    put(f->srv, "duties", "GIAO-BAN",
        "{\"kind\":\"meeting\",\"title\":\"Giao ban tuần\",\"recurrence\":\"weekly\",\"weekday\":1,\"time\":"
        "\"07:30\",\"place\":\"Hội trường TTYT\",\"participants\":\"Trạm trưởng\",\"stations\":[\"" BN "\",\"" XL "\"]}");
    size_t written, n;
    ts_error err;
    ts_cal_reminder *r;
    /* Friday 11/12/2026: nothing yet (the meeting is on Monday 14/12) */
    uint64_t fri = at("2026-12-11T02:00:00Z");
    assert_int_equal(ts_calendar_generate(f->srv, fri, &written, &err), 0);
    assert_int_equal(ts_calendar_remind(f->srv, "TTYT", fri, &r, &n, &err), 0);
    assert_int_equal(n, 0);
    ts_cal_reminders_free(r, n);
    /* Sunday 13/12, 20:00 in the district: invited */
    uint64_t sun = at("2026-12-13T13:00:00Z");
    assert_int_equal(ts_calendar_generate(f->srv, sun, &written, &err), 0);
    assert_int_equal(ts_calendar_remind(f->srv, "TTYT", sun, &r, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].stations.n, 2);
    json_t *o = ts_test_record_fields(f->srv, "notices", r[0].notice);
    assert_string_equal(json_string_value(json_object_get(o, "doc_type")), "giay_moi");
    assert_non_null(strstr(json_string_value(json_object_get(o, "subject")), "Giao ban tuần, 14/12/2026 07:30"));
    assert_non_null(strstr(json_string_value(json_object_get(o, "body")), "Hội trường TTYT"));
    json_decref(o);
    ts_cal_reminders_free(r, n);
    /* once */
    assert_int_equal(ts_calendar_remind(f->srv, "TTYT", sun + 3600000, &r, &n, &err), 0);
    assert_int_equal(n, 0);
    ts_cal_reminders_free(r, n);
    /* the next week's, when it has begun (Monday 21/12, 08:00): not announced */
    uint64_t mon = at("2026-12-21T01:00:00Z");
    assert_int_equal(ts_calendar_generate(f->srv, mon, &written, &err), 0);
    assert_int_equal(ts_calendar_remind(f->srv, "TTYT", mon, &r, &n, &err), 0);
    assert_int_equal(n, 0);
    ts_cal_reminders_free(r, n);
    o = occ(f, "GIAO-BAN:2026-W52");
    assert_null(json_object_get(o, "reminded_before_at"));
    json_decref(o);
}

/* A duty changed from weekly to monthly: its weeks not over are no longer
 * owed (deleted, so no station sees them and nobody is reminded of them);
 * the weeks already over keep what they were. */
static void test_changed_duty_drops_its_future(void **state)
{
    fixture *f = *state;
    const char *weekly = "{\"kind\":\"meeting\",\"title\":\"Giao ban\",\"recurrence\":\"weekly\",\"weekday\":1,"
                         "\"time\":\"07:30\",\"stations\":[\"" BN "\"]}";
    put(f->srv, "duties", "GB", weekly);
    size_t written;
    ts_error err;
    uint64_t wed = at("2026-12-09T02:00:00Z"); /* Wednesday of week 50 */
    assert_int_equal(ts_calendar_generate(f->srv, wed, &written, &err), 0);
    json_t *o = occ(f, "GB:2026-W51");
    assert_non_null(o);
    json_decref(o);
    put(f->srv, "duties", "GB",
        "{\"kind\":\"meeting\",\"title\":\"Giao ban\",\"recurrence\":\"monthly\",\"day\":1,"
        "\"time\":\"07:30\",\"stations\":[\"" BN "\"]}");
    assert_int_equal(ts_calendar_generate(f->srv, wed, &written, &err), 0);
    static const char *const gone[] = {"GB:2026-W50", "GB:2026-W51"};
    for (size_t i = 0; i < 2; i++) {
        ts_arena arena;
        ts_arena_init(&arena, 4096);
        ts_change c;
        assert_int_equal(ts_store_get(f->srv, "duty_occurrences", gone[i], &c, &arena, &err), 0);
        bool deleted = ts_version_deleted(&c.v);
        ts_version_free(&c.v);
        ts_arena_free(&arena);
        if (!deleted)
            fail_msg("%s is still owed after the duty became monthly", gone[i]);
    }
    o = occ(f, "GB:2026-W49"); /* over: kept */
    assert_non_null(o);
    assert_non_null(json_object_get(o, "duty_id"));
    json_decref(o);
    o = occ(f, "GB:2026-12");
    assert_non_null(o);
    json_decref(o);
}

/* A meeting with the longest title and participants list a duty may hold,
 * in Vietnamese (several bytes a letter): the invitation is whole, and the
 * other occurrences are reminded too (a reminder cut inside a letter was
 * refused and stopped every reminder after it). */
static void test_long_texts_reminded(void **state)
{
    fixture *f = *state;
    ts_buf title = TS_BUF_INIT, who = TS_BUF_INIT;
    while (title.len < 300 * 3 - 3)
        ts_buf_append(&title, "ệ", strlen("ệ"));
    while (who.len < 2000 * 3 - 3)
        ts_buf_append(&who, "ữ", strlen("ữ"));
    ts_buf_append(&who, "", 1); /* a C string, for strstr */
    who.len--;
    char *doc = ts_xasprintf("{\"kind\":\"meeting\",\"title\":\"%.*s\",\"recurrence\":\"weekly\",\"weekday\":1,"
                             "\"time\":\"07:30\",\"place\":\"Hội trường TTYT\",\"participants\":\"%.*s\","
                             "\"stations\":[\"" BN "\"]}",
                             (int)title.len, (const char *)title.data, (int)who.len, (const char *)who.data);
    put(f->srv, "duties", "A-GIAO-BAN-DAI", doc);
    free(doc);
    put(f->srv, "duties", "GIAO-BAN",
        "{\"kind\":\"meeting\",\"title\":\"Giao ban tuần\",\"recurrence\":\"weekly\",\"weekday\":1,\"time\":"
        "\"07:30\",\"place\":\"Hội trường TTYT\",\"participants\":\"Trạm trưởng\",\"stations\":[\"" XL "\"]}");
    size_t written, n;
    ts_error err;
    ts_cal_reminder *r;
    uint64_t sun = at("2026-12-13T13:00:00Z");
    assert_int_equal(ts_calendar_generate(f->srv, sun, &written, &err), 0);
    assert_int_equal(ts_calendar_remind(f->srv, "TTYT", sun, &r, &n, &err), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        json_t *o = ts_test_record_fields(f->srv, "notices", r[i].notice);
        const char *body = json_string_value(json_object_get(o, "body"));
        assert_non_null(body);
        if (r[i].stations.n == 1 && strcmp(r[i].stations.v[0], BN) == 0)
            assert_non_null(strstr(body, (const char *)who.data + who.len - 30));
        json_decref(o);
    }
    ts_cal_reminders_free(r, n);
    ts_buf_free(&title);
    ts_buf_free(&who);
}


/* ---------------------------------------------------------------- years of history
 * The grid, the reminders and the page read only the periods they show: a
 * district with ten years of weekly and monthly occurrences stored gives the
 * grid a full read would (checked against one here), reading a bounded
 * number of rows, with searches of the records' key (no scan). */

typedef struct reads {
    long rows;      /* rows stepped by statements on records */
    json_t *sqls;   /* their texts, as a set */
} reads;

static int on_trace(unsigned what, void *ctx, void *p, void *x)
{
    reads *r = ctx;
    const char *sql = sqlite3_sql((sqlite3_stmt *)p);
    if (sql == NULL || strstr(sql, "FROM records") == NULL)
        return 0;
    if (what == SQLITE_TRACE_ROW)
        r->rows++;
    else if (what == SQLITE_TRACE_STMT && strncmp((const char *)x, "--", 2) != 0)
        json_object_set_new(r->sqls, sql, json_true());
    return 0;
}

static void reads_start(fixture *f, reads *r)
{
    r->rows = 0;
    r->sqls = json_object();
    sqlite3_trace_v2(ts_store_db(f->srv), SQLITE_TRACE_ROW | SQLITE_TRACE_STMT, on_trace, r);
}

/* stops counting; every statement read the records through their key */
static void reads_stop(fixture *f, reads *r)
{
    sqlite3 *db = ts_store_db(f->srv);
    sqlite3_trace_v2(db, 0, NULL, NULL);
    const char *sql;
    json_t *v;
    json_object_foreach(r->sqls, sql, v) {
        char *eqp = ts_xasprintf("EXPLAIN QUERY PLAN %s", sql);
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(db, eqp, -1, &q, NULL), SQLITE_OK);
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(q, 3);
            if (strncmp(detail, "SCAN", 4) == 0)
                fail_msg("%s: %s", sql, detail);
            if (strncmp(detail, "SEARCH", 6) == 0 && strstr(detail, "USING") == NULL)
                fail_msg("%s: %s", sql, detail);
        }
        sqlite3_finalize(q);
        free(eqp);
    }
    json_decref(r->sqls);
}

/* one occurrence of a report duty, as the daemon writes it */
static void put_occurrence(fixture *f, const char *duty, int rec, const ts_period *p)
{
    char id[128], a[16], b[16], due[16], json[512];
    snprintf(id, sizeof id, "%s:%s", duty, p->key);
    ts_date_fmt(p->start, a, sizeof a);
    ts_date_fmt(p->end, b, sizeof b);
    ts_date_fmt(ts_period_due(p, rec == TS_REC_WEEKLY ? 2 : 5), due, sizeof due);
    snprintf(json, sizeof json,
             "{\"duty_id\":\"%s\",\"kind\":\"periodic_report\",\"title\":\"Báo cáo\",\"period\":\"%s\","
             "\"period_start\":\"%s\",\"period_end\":\"%s\",\"due_date\":\"%s\",\"stations\":[\"%s\",\"%s\",\"%s\",\"%s\"]}",
             duty, p->key, a, b, due, BN, BX, BT, XL);
    put(f->srv, "duty_occurrences", id, json);
}

/* the periods of rec from `from` to `to` (days) */
static int put_history(fixture *f, const char *duty, int rec, const char *from, const char *to)
{
    ts_period p, q;
    assert_true(ts_period_of(rec, D(from), &p));
    int n = 0;
    while (ts_date_cmp(p.start, D(to)) <= 0) {
        put_occurrence(f, duty, rec, &p);
        n++;
        assert_true(ts_period_next(rec, &p, &q));
        p = q;
    }
    return n;
}

static int by_start_then_id(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    int c = strcmp(json_string_value(json_object_get(x, "period_start")),
                   json_string_value(json_object_get(y, "period_start")));
    return c ? c : strcmp(json_string_value(json_object_get(x, "_id")), json_string_value(json_object_get(y, "_id")));
}

/* what a read of every occurrence finds: the duty's last `periods` begun by today */
static json_t *expected_periods(fixture *f, const char *duty, size_t periods, const char *today)
{
    json_t *all = json_array();
    ts_change_page page;
    ts_change_page_init(&page);
    char after[256] = "";
    ts_error err;
    for (;;) {
        assert_int_equal(ts_store_list(f->srv, "duty_occurrences", after[0] ? after : NULL, 500, false, &page, &err), 0);
        for (uint32_t i = 0; i < page.n; i++) {
            json_t *r = ts_recjson_record(&page.items[i], false);
            json_t *o = json_incref(json_object_get(r, "fields"));
            json_decref(r);
            json_object_set_new(o, "_id", json_string(page.items[i].id));
            if (strcmp(json_string_value(json_object_get(o, "duty_id")), duty) == 0 &&
                strcmp(json_string_value(json_object_get(o, "period_start")), today) <= 0)
                json_array_append(all, o);
            json_decref(o);
        }
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    size_t n = json_array_size(all);
    json_t **v = ts_xcalloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(all, i);
    qsort(v, n, sizeof *v, by_start_then_id);
    json_t *ids = json_array();
    for (size_t i = n > periods ? n - periods : 0; i < n; i++)
        json_array_append(ids, json_object_get(v[i], "_id"));
    free(v);
    json_decref(all);
    return ids;
}

static void assert_grid_periods(fixture *f, const char *duty, uint32_t periods, uint64_t now, long max_rows)
{
    char today[16];
    ts_local_day(now, today, sizeof today);
    json_t *want = expected_periods(f, duty, periods, today);
    reads r;
    reads_start(f, &r);
    json_t *grid;
    ts_error err;
    assert_int_equal(ts_calendar_grid(f->srv, duty, periods, NULL, now, &grid, &err), 0);
    reads_stop(f, &r);
    if (r.rows > max_rows)
        fail_msg("grid of %s, %u periods: %ld rows read", duty, periods, r.rows);
    const json_t *cols = json_object_get(json_array_get(json_object_get(grid, "duties"), 0), "periods");
    assert_int_equal(json_array_size(cols), json_array_size(want));
    for (size_t i = 0; i < json_array_size(want); i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(cols, i), "occurrence")),
                            json_string_value(json_array_get(want, i)));
    json_decref(want);
    json_decref(grid);
}

static void test_years_of_history_read_by_period(void **state)
{
    fixture *f = *state;
    ts_error err;
    put(f->srv, "duties", "BC-THANG",
        "{\"kind\":\"periodic_report\",\"title\":\"Báo cáo tháng\",\"recurrence\":\"monthly\",\"due_days\":5}");
    put(f->srv, "duties", "BC-TUAN",
        "{\"kind\":\"periodic_report\",\"title\":\"Báo cáo tuần\",\"recurrence\":\"weekly\",\"due_days\":2}");
    /* weekly until the end of September 2026, monthly since: two kinds of keys */
    put(f->srv, "duties", "BC-DOI",
        "{\"kind\":\"periodic_report\",\"title\":\"Báo cáo đổi kỳ\",\"recurrence\":\"monthly\",\"due_days\":5}");
    assert_int_equal(ts_store_begin(f->srv, &err), 0);
    int stored = put_history(f, "BC-THANG", TS_REC_MONTHLY, "2017-01-01", "2027-01-01");
    stored += put_history(f, "BC-TUAN", TS_REC_WEEKLY, "2017-01-02", "2027-01-05");
    stored += put_history(f, "BC-DOI", TS_REC_WEEKLY, "2024-12-30", "2026-09-28");
    stored += put_history(f, "BC-DOI", TS_REC_MONTHLY, "2026-10-01", "2027-01-01");
    assert_int_equal(ts_store_commit(f->srv, &err), 0);
    assert_true(stored > 700);
    /* reports of this year's, and of years ago */
    submit(f, 0, "BC-THANG:2026-11", "{}", "2026-12-04T02:00:00Z");
    submit(f, 1, "BC-TUAN:2026-W49", "{}", "2026-12-08T02:00:00Z");
    submit(f, 2, "BC-TUAN:2018-W10", "{}", "2018-03-12T02:00:00Z");

    uint64_t dec9 = at("2026-12-09T02:00:00Z");
    /* a few periods: this year's and last year's keys are read, no more */
    assert_grid_periods(f, "BC-TUAN", 6, dec9, 150);
    assert_grid_periods(f, "BC-THANG", 6, dec9, 40);
    assert_grid_periods(f, "BC-DOI", 6, dec9, 120);
    /* across years and the change of keys; the province's 36 */
    assert_grid_periods(f, "BC-TUAN", 60, dec9, 220);
    assert_grid_periods(f, "BC-DOI", 36, dec9, 150);
    assert_grid_periods(f, "BC-THANG", 36, dec9, 80);
    /* the first week of 2027 began on 4 January, in its key's year; on 28
     * December 2026 the 53rd of 2026 is the last begun */
    assert_grid_periods(f, "BC-TUAN", 3, at("2027-01-04T02:00:00Z"), 150);
    assert_grid_periods(f, "BC-TUAN", 3, at("2026-12-28T02:00:00Z"), 150);
    /* more periods than there are: all of them */
    assert_grid_periods(f, "BC-DOI", 500, dec9, 400);

    /* the statuses of the reports read */
    json_t *grid;
    assert_int_equal(ts_calendar_grid(f->srv, "BC-THANG", 2, NULL, dec9, &grid, &err), 0);
    assert_string_equal(cell_status(grid, BN, 0), "on_time");
    assert_string_equal(cell_status(grid, BX, 0), "missing");
    json_decref(grid);
    assert_int_equal(ts_calendar_grid(f->srv, "BC-TUAN", 600, NULL, dec9, &grid, &err), 0);
    const json_t *g = json_array_get(json_object_get(grid, "duties"), 0);
    size_t ncols = json_array_size(json_object_get(g, "periods"));
    assert_true(ncols > 500);
    size_t w10 = 0;
    for (size_t i = 0; i < ncols; i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(json_object_get(g, "periods"), i), "period")),
                   "2018-W10") == 0)
            w10 = i;
    assert_string_equal(cell_status(grid, BT, w10), "on_time");
    assert_string_equal(cell_status(grid, BX, ncols - 2), "on_time"); /* 2026-W49 */
    json_decref(grid);

    /* the reminders and the calendar page: the last two years' keys */
    reads r;
    reads_start(f, &r);
    ts_cal_reminder *rem;
    size_t n;
    assert_int_equal(ts_calendar_remind(f->srv, "TTYT", dec9, &rem, &n, &err), 0);
    reads_stop(f, &r);
    ts_cal_reminders_free(rem, n);
    assert_true(n > 0);
    if (r.rows > 400)
        fail_msg("reminders: %ld rows read", r.rows);
    reads_start(f, &r);
    json_t *page;
    assert_int_equal(ts_calendar_overview(f->srv, NULL, dec9, &page, &err), 0);
    reads_stop(f, &r);
    if (r.rows > 400)
        fail_msg("calendar page: %ld rows read", r.rows);
    assert_true(json_array_size(json_object_get(page, "occurrences")) > 0);
    json_decref(page);
    /* the 15-minute run's grading: the reports of those same periods */
    reads_start(f, &r);
    size_t graded, invalid;
    assert_int_equal(ts_calendar_grade(f->srv, NULL, dec9, &graded, &invalid, NULL, &err), 0);
    reads_stop(f, &r);
    if (r.rows > 400)
        fail_msg("grading: %ld rows read", r.rows);
}

/* ---------------------------------------------------------------- the run reads each report once
 * The daemon's calendar run (ts_calendar_run: the reminders, then the
 * grading) reads the reports once: no statement on periodic_reports runs
 * twice with the same values. Reminding, then grading, each on its own read
 * (what the run did before) read the reports of a reminded period twice. */

typedef struct report_reads {
    json_t *stmts; /* expanded SQL -> times run */
    long rows;
} report_reads;

static int on_report_trace(unsigned what, void *ctx, void *p, void *x)
{
    report_reads *r = ctx;
    char *sql = sqlite3_expanded_sql((sqlite3_stmt *)p);
    if (sql != NULL && strstr(sql, "FROM records") != NULL && strstr(sql, "'periodic_reports'") != NULL) {
        if (what == SQLITE_TRACE_ROW) {
            r->rows++;
        } else if (what == SQLITE_TRACE_STMT && strncmp((const char *)x, "--", 2) != 0) {
            json_int_t n = json_integer_value(json_object_get(r->stmts, sql));
            json_object_set_new(r->stmts, sql, json_integer(n + 1));
        }
    }
    sqlite3_free(sql);
    return 0;
}

static void report_reads_start(fixture *f, report_reads *r)
{
    r->stmts = json_object();
    r->rows = 0;
    sqlite3_trace_v2(ts_store_db(f->srv), SQLITE_TRACE_ROW | SQLITE_TRACE_STMT, on_report_trace, r);
}

/* stops counting: the statements run more than once (said when say) */
static long report_reads_stop(fixture *f, report_reads *r, bool say)
{
    sqlite3_trace_v2(ts_store_db(f->srv), 0, NULL, NULL);
    long repeated = 0;
    const char *sql;
    json_t *v;
    json_object_foreach(r->stmts, sql, v) {
        if (json_integer_value(v) > 1) {
            if (say)
                print_message("read %" JSON_INTEGER_FORMAT " times: %s\n", json_integer_value(v), sql);
            repeated++;
        }
    }
    json_decref(r->stmts);
    return repeated;
}

static void test_run_reads_each_report_once(void **state)
{
    fixture *f = *state;
    ts_error err;
    put_monthly_report(f);
    put(f->srv, "duties", "BC-TUAN",
        "{\"kind\":\"periodic_report\",\"title\":\"Báo cáo tuần\",\"recurrence\":\"weekly\",\"due_days\":2}");
    size_t written;
    uint64_t dec3 = at("2026-12-03T02:00:00Z");
    assert_int_equal(ts_calendar_generate(f->srv, dec3, &written, &err), 0);
    submit(f, 0, "BC-THANG:2026-11", "{\\\"kham_benh\\\": 312}", "2026-12-05T16:00:00Z");
    submit(f, 2, "BC-THANG:2026-11", "{\\\"kham_benh\\\": \\\"nhiều\\\"}", "2026-12-04T08:00:00Z");
    submit(f, 1, "BC-TUAN:2026-W48", "{}", "2026-12-01T02:00:00Z");
    /* the day after November's due day: the late ones reminded, every report graded */
    uint64_t dec6 = at("2026-12-06T02:00:00Z");

    /* reminding, then grading, each reading for itself: rolled back */
    report_reads r;
    assert_int_equal(ts_store_begin(f->srv, &err), 0);
    report_reads_start(f, &r);
    ts_cal_reminder *rem;
    size_t n, graded, invalid;
    assert_int_equal(ts_calendar_remind(f->srv, "TTYT", dec6, &rem, &n, &err), 0);
    assert_int_equal(ts_calendar_grade(f->srv, NULL, dec6, &graded, &invalid, NULL, &err), 0);
    long twice = report_reads_stop(f, &r, false);
    ts_store_rollback(f->srv);
    ts_cal_reminders_free(rem, n);
    assert_int_equal(n, 3); /* November's late ones, week 48's late ones, week 49's before */
    assert_int_equal(graded, 3);
    assert_true(twice > 0); /* the reports of those periods, read by both */

    /* the run: the same reminders and grades, each report read once */
    ts_cal_run run;
    report_reads_start(f, &r);
    assert_int_equal(ts_calendar_run(f->srv, "TTYT", dec6, 0, &run, &err), 0);
    long repeated = report_reads_stop(f, &r, true);
    assert_int_equal(run.nreminders, 3);
    assert_int_equal(run.reminders[0].stations.n, 3); /* November's: BX, BT (invalid), XL */
    assert_int_equal(run.graded, 3);
    assert_int_equal(run.invalid, 1);
    assert_int_equal(run.graded_stations.n, 3);
    ts_cal_run_free(&run);
    if (repeated > 0)
        fail_msg("the calendar run read %ld statements on reports more than once", repeated);
    json_t *o = ts_test_record_fields(f->srv, "periodic_reports", "BC-THANG:2026-11:" BT);
    assert_string_equal(json_string_value(json_object_get(o, "grade")), "invalid");
    json_decref(o);
    o = occ(f, "BC-THANG:2026-11");
    assert_non_null(json_object_get(o, "reminded_late_at"));
    json_decref(o);
}

/* The run writes a bounded number of grades (the first one after an
 * upgrade grades every report of the last year or so): the latest periods'
 * first, the rest by the runs after it, nothing lost, nothing written twice. */
static const char *grade_of(fixture *f, const char *id, char *buf, size_t size)
{
    json_t *o = ts_test_record_fields(f->srv, "periodic_reports", id);
    const char *g = json_string_value(json_object_get(o, "grade"));
    snprintf(buf, size, "%s", g ? g : "");
    json_decref(o);
    return buf;
}

static void test_run_grades_a_bounded_number(void **state)
{
    fixture *f = *state;
    ts_error err;
    put_monthly_report(f);
    size_t written;
    assert_int_equal(ts_calendar_generate(f->srv, at("2026-11-03T02:00:00Z"), &written, &err), 0);
    assert_int_equal(ts_calendar_generate(f->srv, at("2026-12-03T02:00:00Z"), &written, &err), 0);
    /* October's from one station, November's from four */
    submit(f, 0, "BC-THANG:2026-10", "{\\\"kham_benh\\\": 300}", "2026-11-04T02:00:00Z");
    for (int i = 0; i < 4; i++)
        submit(f, i, "BC-THANG:2026-11", i == 3 ? "{}" : "{\\\"kham_benh\\\": 312}", "2026-12-04T02:00:00Z");
    uint64_t dec7 = at("2026-12-07T02:00:00Z");
    ts_cal_run run;
    char g[32];
    /* two at a time: November's first (due 05/12, the latest), by id */
    assert_int_equal(ts_calendar_run(f->srv, "TTYT", dec7, 2, &run, &err), 0);
    assert_int_equal(run.graded, 2);
    assert_true(run.more);
    ts_cal_run_free(&run);
    assert_string_equal(grade_of(f, "BC-THANG:2026-11:" BN, g, sizeof g), "on_time");
    assert_string_equal(grade_of(f, "BC-THANG:2026-11:" BT, g, sizeof g), "on_time");
    assert_string_equal(grade_of(f, "BC-THANG:2026-11:" BX, g, sizeof g), "");
    assert_string_equal(grade_of(f, "BC-THANG:2026-10:" BN, g, sizeof g), "");
    assert_int_equal(ts_calendar_run(f->srv, "TTYT", dec7 + 2000, 2, &run, &err), 0);
    assert_int_equal(run.graded, 2);
    assert_int_equal(run.invalid, 1);
    assert_true(run.more);
    ts_cal_run_free(&run);
    assert_string_equal(grade_of(f, "BC-THANG:2026-11:" BX, g, sizeof g), "on_time");
    assert_string_equal(grade_of(f, "BC-THANG:2026-11:" XL, g, sizeof g), "invalid");
    assert_string_equal(grade_of(f, "BC-THANG:2026-10:" BN, g, sizeof g), "");
    /* the last one; then nothing left, nothing written again */
    assert_int_equal(ts_calendar_run(f->srv, "TTYT", dec7 + 4000, 2, &run, &err), 0);
    assert_int_equal(run.graded, 1);
    assert_false(run.more);
    ts_cal_run_free(&run);
    assert_string_equal(grade_of(f, "BC-THANG:2026-10:" BN, g, sizeof g), "on_time");
    assert_int_equal(ts_calendar_run(f->srv, "TTYT", dec7 + 6000, 2, &run, &err), 0);
    assert_int_equal(run.graded, 0);
    assert_false(run.more);
    ts_cal_run_free(&run);
    /* no bound: all at once */
    submit(f, 1, "BC-THANG:2026-11", "{}", "2026-12-07T03:00:00Z");
    submit(f, 2, "BC-THANG:2026-11", "{}", "2026-12-07T03:00:00Z");
    submit(f, 3, "BC-THANG:2026-11", "{\\\"kham_benh\\\": 1}", "2026-12-07T03:00:00Z");
    assert_int_equal(ts_calendar_run(f->srv, "TTYT", dec7 + 7200000, 0, &run, &err), 0);
    assert_int_equal(run.graded, 3);
    assert_false(run.more);
    ts_cal_run_free(&run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periods),
        cmocka_unit_test(test_forms),
        cmocka_unit_test_setup_teardown(test_generation_local_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grid_and_reminders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submitted_day_is_the_districts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reports_graded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grid_shows_the_grade, setup, teardown),
        cmocka_unit_test(test_status_words_one_table),
        cmocka_unit_test_setup_teardown(test_meeting_reminder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_texts_reminded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_duty_drops_its_future, setup, teardown),
        cmocka_unit_test_setup_teardown(test_years_of_history_read_by_period, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_reads_each_report_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_grades_a_bounded_number, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
