/* The provincial plan's deadline phrases (server/ts_plan.h), as seed 003's
 * appendix writes them, and the tasks seeded from them.
 *
 *  - "Trước ngày 01 tháng 7 năm 2025" is 30/6/2025 (was 01/7/2025)
 *  - "Từ năm 2026" starts in 2026 and recurs (the year was lost)
 *  - "Quý III năm 2024", "Quý III/2024" are 30/9/2024
 *  - "Nhiệm vụ thường xuyên" recurs; "Theo lộ trình ..." gives nothing
 *
 * And the plan as a file the district loads (docs/PLANS.md): the demo's
 * plan (seed 003) loaded, replaced by its corrected copy (KH-03 "Kiện
 * toàn"), history kept; a malformed file refused with its line or field and
 * nothing changed; the targets judged by the plan in force; a task set
 * aside as not applicable is never flagged overdue. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/ts_store.h"
#include "server/ts_notices.h"
#include "server/ts_plan.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_store.h"

static void expect(const char *text, const char *date, bool recurring, int from_year)
{
    ts_plan_deadline d;
    bool ok = ts_plan_deadline_parse(text, &d);
    if (!ok && (date[0] || recurring))
        fail_msg("\"%s\": not understood", text);
    if (strcmp(d.date, date) != 0 || d.recurring != recurring || d.from_year != from_year)
        fail_msg("\"%s\": date \"%s\" recurring %d from %d; expected \"%s\" %d %d", text, d.date, d.recurring,
                 d.from_year, date, recurring, from_year);
}

static void test_phrases(void **state)
{
    (void)state;
    expect("Trước ngày 01 tháng 7 năm 2025", "2025-06-30", false, 0);
    expect("Trước ngày 01/7/2025", "2025-06-30", false, 0);
    expect("trước ngày 01/3/2024", "2024-02-29", false, 0);
    expect("Trước ngày 01/01/2026", "2025-12-31", false, 0);
    expect("Ngày 15 tháng 12 năm 2025", "2025-12-15", false, 0);
    expect("15/12/2025", "2025-12-15", false, 0);
    expect("Từ năm 2026", "", true, 2026);
    expect("Từ năm 2025", "", true, 2025);
    expect("Quý III năm 2024", "2024-09-30", false, 0);
    expect("Quý III/2024", "2024-09-30", false, 0);
    expect("Quý IV/2025", "2025-12-31", false, 0);
    expect("Quý II năm 2026", "2026-06-30", false, 0);
    expect("Quý I năm 2026", "2026-03-31", false, 0);
    expect("Nhiệm vụ thường xuyên", "", true, 0);
    expect("Theo lộ trình quy định của Chính phủ", "", false, 0);
    expect("Trước ngày 31/02/2025", "", false, 0);
    expect("Quý V/2025", "", false, 0);
}

static const ts_actor loader = {TS_ACTOR_ADMIN, "admin1", NULL, "test"};

static void load_file(ts_store *st, const char *rel, ts_plan_load_result *res)
{
    char *path = ts_source_path(rel);
    ts_error err;
    if (ts_plan_load_file(st, &loader, path, 1000, res, &err) < 0)
        fail_msg("%s: %s", rel, err.msg);
    free(path);
}

static char *task_text(ts_store *st, const char *id)
{
    json_t *f = ts_test_record_fields(st, "plan_tasks", id);
    char *t = f && json_is_string(json_object_get(f, "task")) ? strdup(json_string_value(json_object_get(f, "task")))
                                                               : NULL;
    json_decref(f);
    return t;
}

/* The demo's plan file loaded into an empty district store. */
static void test_seeded_tasks(void **state)
{
    (void)state;
    char *dir = ts_tmpdir_make("plan");
    ts_store *st = ts_test_open(dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    ts_plan_load_result res;
    load_file(st, "server/data/plans/binh-dinh-2024.json", &res);
    assert_int_equal(res.tasks, 28);
    assert_int_equal(res.targets, TS_TARGET_COUNT);
    assert_int_equal(res.version, 1);
    json_t *f = ts_test_record_fields(st, "plan_tasks", "KH-08");
    assert_string_equal(json_string_value(json_object_get(f, "deadline")), "2025-06-30");
    json_decref(f);
    f = ts_test_record_fields(st, "plan_tasks", "KH-20");
    assert_true(json_is_true(json_object_get(f, "recurring")));
    assert_int_equal(json_integer_value(json_object_get(f, "recurring_from")), 2026);
    assert_null(json_object_get(f, "deadline"));
    json_decref(f);
    f = ts_test_record_fields(st, "plan_tasks", "KH-01");
    assert_string_equal(json_string_value(json_object_get(f, "deadline")), "2024-09-30");
    json_decref(f);
    /* the plan as written: KH-03's typing error is the appendix's */
    char *t = task_text(st, "KH-03");
    assert_non_null(strstr(t, "Kiểm toàn tổ chức"));
    free(t);
    ts_plan_info info;
    ts_plan_target tg[TS_TARGET_COUNT];
    ts_error err;
    assert_int_equal(ts_plan_current(st, &info, tg, &err), 0);
    assert_string_equal(info.issuer, "Ủy ban nhân dân tỉnh Bình Định");
    assert_string_equal(info.date, "2024");
    assert_non_null(strstr(info.name, "103-KH/TU"));
    ts_store_close(st);
    ts_tmpdir_remove(dir);
}

static int64_t count(ts_store *st, const char *sql)
{
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(ts_store_db(st), sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

/* A malformed plan is refused saying where, and nothing at all changes. */
static void refused(ts_store *st, const char *text, const char *where)
{
    int64_t plans = count(st, "SELECT count(*) FROM plans");
    int64_t targets = count(st, "SELECT count(*) FROM plan_targets");
    int64_t seq = count(st, "SELECT coalesce(max(seq), 0) FROM records");
    char *kh03 = task_text(st, "KH-03");
    ts_plan_load_result res;
    ts_error err;
    int rc = ts_plan_load(st, &loader, text, strlen(text), 2000, &res, &err);
    if (rc != TS_EBAD_VALUE)
        fail_msg("accepted or wrong error (%d) for a plan that should fail at %s", rc, where);
    if (strstr(err.msg, where) == NULL)
        fail_msg("the error does not say %s: %s", where, err.msg);
    assert_int_equal(count(st, "SELECT count(*) FROM plans"), plans);
    assert_int_equal(count(st, "SELECT count(*) FROM plan_targets"), targets);
    assert_int_equal(count(st, "SELECT coalesce(max(seq), 0) FROM records"), seq);
    char *now = task_text(st, "KH-03");
    assert_string_equal(now, kh03);
    free(now);
    free(kh03);
    assert_false(ts_store_in_tx(st));
}

#define HEAD "{\"format\": \"tramsync-plan/1\", \"name\": \"Kế hoạch\", \"issuer\": \"UBND tỉnh\", \"date\": \"2025-01-02\", "
#define TASK(no, text) "{\"no\": " #no ", \"text\": \"" text "\", \"lead\": \"Sở Y tế\", \"deadline_text\": \"Nhiệm vụ thường xuyên\"}"
#define TARGET(code, op, th) \
    "{\"code\": \"" code "\", \"label_vi\": \"x\", \"label_en\": \"x\", \"operator\": \"" op "\", \"threshold\": " th ", \"year\": 2030}"

static void test_load_replace_refuse(void **state)
{
    (void)state;
    char *dir = ts_tmpdir_make("plan");
    ts_store *st = ts_test_open(dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    ts_plan_load_result res;
    load_file(st, "server/data/plans/binh-dinh-2024.json", &res);

    /* malformed: each says its line or its field, and changes nothing */
    refused(st, HEAD "\"version\": 2,\n\"targets\": [],\n\"tasks\": [\n" TASK(1, "a") ",,\n]}", "line 4");
    refused(st, HEAD "\"version\": 2, \"targets\": [" TARGET("bhyt", ">=", "97") "], \"tasks\": []}",
            "targets[0].operator");
    refused(st, HEAD "\"version\": 2, \"targets\": [" TARGET("bhyt", ">", "\"97\"") "], \"tasks\": []}",
            "targets[0].threshold");
    refused(st, HEAD "\"version\": 2, \"targets\": [" TARGET("bhytt", ">", "97") "], \"tasks\": []}", "targets[0].code");
    refused(st, HEAD "\"version\": 2, \"targets\": [], \"tasks\": [" TASK(1, "a") ", " TASK(1, "b") "]}", "tasks[1].no");
    refused(st, HEAD "\"version\": 2, \"targets\": [], \"tasks\": [{\"no\": 1, \"text\": \"a\", \"deadline_text\": \"x\"}]}",
            "tasks[0].lead");
    refused(st, HEAD "\"version\": 2, \"targets\": [], \"tasks\": [], \"taks\": []}", "taks");
    refused(st, HEAD "\"targets\": [], \"tasks\": []}", "version");
    /* a task that is fine after one that is not: still nothing written */
    refused(st, HEAD "\"version\": 2, \"targets\": [], \"tasks\": [" TASK(3, "Kiện toàn") ", {\"no\": 0}]}", "tasks[1].no");

    /* the corrected copy replaces version 1, which is kept */
    load_file(st, "server/data/plans/binh-dinh-2024-sua-kh03.json", &res);
    assert_int_equal(res.version, 2);
    assert_int_equal(res.previous, 1);
    assert_false(res.unchanged);
    char *t = task_text(st, "KH-03");
    assert_non_null(strstr(t, "Kiện toàn tổ chức"));
    free(t);
    ts_plan_info info;
    ts_error err;
    assert_int_equal(ts_plan_current(st, &info, NULL, &err), 0);
    assert_int_equal(info.version, 2);
    assert_non_null(strstr(info.notes, "Kiện toàn"));
    json_t *hist;
    assert_int_equal(ts_plan_history(st, &hist, &err), 0);
    assert_int_equal(json_array_size(hist), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(hist, 0), "version")), 2);
    assert_true(json_is_true(json_object_get(json_array_get(hist, 0), "current")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(hist, 1), "version")), 1);
    json_decref(hist);

    /* the same file again: nothing written; an older version: refused */
    int64_t seq = count(st, "SELECT max(seq) FROM records");
    load_file(st, "server/data/plans/binh-dinh-2024-sua-kh03.json", &res);
    assert_true(res.unchanged);
    assert_int_equal(count(st, "SELECT max(seq) FROM records"), seq);
    char *path = ts_source_path("server/data/plans/binh-dinh-2024.json");
    assert_int_equal(ts_plan_load_file(st, &loader, path, 3000, &res, &err), TS_EBAD_VALUE);
    assert_true(res.not_newer);
    assert_non_null(strstr(err.msg, "version"));
    free(path);
    refused(st, HEAD "\"version\": 2, \"targets\": [], \"tasks\": [" TASK(1, "a") "]}", "version");

    /* a version with fewer tasks: those it drops are deleted */
    const char *v3 = HEAD "\"version\": 3, \"targets\": [" TARGET("bhyt", ">", "90") "], \"tasks\": [" TASK(1, "Một") ", " TASK(2, "Hai") "]}";
    assert_int_equal(ts_plan_load(st, &loader, v3, strlen(v3), 4000, &res, &err), 0);
    assert_int_equal(res.removed, 26);
    assert_int_equal(count(st, "SELECT deleted FROM records WHERE tbl = 'plan_tasks' AND id = 'KH-03'"), 1);
    assert_int_equal(count(st, "SELECT count(*) FROM records WHERE tbl = 'plan_tasks' AND deleted = 0"), 2);
    t = task_text(st, "KH-02");
    assert_string_equal(t, "Hai");
    free(t);
    assert_int_equal(count(st, "SELECT count(*) FROM plans"), 3);
    ts_store_close(st);
    ts_tmpdir_remove(dir);
}

/* What a figure must reach is the plan in force's, not built in. */
static void test_targets_from_plan(void **state)
{
    (void)state;
    char *dir = ts_tmpdir_make("plan");
    ts_store *st = ts_test_open(dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    ts_plan_info info;
    ts_plan_target tg[TS_TARGET_COUNT];
    ts_error err;
    int bhyt = -1, checkup = -1, fert = -1;
    for (int i = 0; i < TS_TARGET_COUNT; i++) {
        bhyt = strcmp(ts_targets[i].code, "bhyt") == 0 ? i : bhyt;
        checkup = strcmp(ts_targets[i].code, "periodic_checkup") == 0 ? i : checkup;
        fert = strcmp(ts_targets[i].code, "fertility") == 0 ? i : fert;
    }
    /* no plan: nothing to meet */
    assert_int_equal(ts_plan_current(st, &info, tg, &err), 0);
    assert_int_equal(info.version, 0);
    assert_false(tg[bhyt].set);
    assert_false(ts_target_met(&tg[bhyt], bhyt, 99, 100, 0));
    ts_plan_load_result res;
    load_file(st, "server/data/plans/binh-dinh-2024.json", &res);
    assert_int_equal(ts_plan_current(st, &info, tg, &err), 0);
    assert_true(tg[bhyt].set);
    assert_int_equal(tg[bhyt].op, '>');
    assert_true(tg[bhyt].threshold == 97.0);
    assert_int_equal(tg[bhyt].year, 2030);
    assert_string_equal(tg[bhyt].label_vi, "Tỷ lệ dân số tham gia bảo hiểm y tế");
    assert_true(ts_target_met(&tg[bhyt], bhyt, 975, 1000, 0));
    assert_false(ts_target_met(&tg[bhyt], bhyt, 95, 100, 0));
    assert_int_equal(tg[checkup].op, 'd');
    assert_false(ts_target_met(&tg[checkup], checkup, 100, 100, 0));
    assert_int_equal(tg[fert].op, 'r');
    assert_true(ts_target_met(&tg[fert], fert, 0, 0, 2.1));
    /* a plan asking 90 % instead: 95 % now meets it */
    const char *v2 = HEAD "\"version\": 2, \"targets\": [" TARGET("bhyt", ">", "90") "], \"tasks\": []}";
    assert_int_equal(ts_plan_load(st, &loader, v2, strlen(v2), 4000, &res, &err), 0);
    assert_int_equal(ts_plan_current(st, &info, tg, &err), 0);
    assert_true(ts_target_met(&tg[bhyt], bhyt, 95, 100, 0));
    assert_false(tg[checkup].set);
    ts_store_close(st);
    ts_tmpdir_remove(dir);
}

/* KH-08 (hand the district health centres to the district People's
 * Committees before 01/7/2025): the district level is gone, so the task is
 * set aside with a reason and no longer goes overdue. */
static void test_task_not_applicable(void **state)
{
    (void)state;
    char *dir = ts_tmpdir_make("plan");
    ts_store *st = ts_test_open(dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    ts_plan_load_result res;
    load_file(st, "server/data/plans/binh-dinh-2024.json", &res);
    ts_strlist to = {NULL, 0};
    ts_strlist_add(&to, "binhnguyen");
    ts_error err;
    assert_int_equal(ts_task_assign(st, &loader, "KH-08", &to, NULL, NULL, &err), 0);
    assert_int_equal(ts_task_assign(st, &loader, "KH-01", &to, NULL, NULL, &err), 0);
    ts_strlist_free(&to);
    assert_int_equal(ts_store_begin(st, &err), 0);
    assert_int_equal(ts_plan_task_set_na(st, "KH-08", "Không còn cấp huyện từ 01/7/2025", "admin1", 5000, &err), 0);
    assert_int_equal(ts_store_commit(st, &err), 0);
    assert_int_equal(ts_plan_task_set_na(st, "KH-99", "x", "admin1", 5000, &err), TS_ENOT_FOUND);
    json_t *na = ts_plan_task_na_all(st);
    assert_string_equal(json_string_value(json_object_get(json_object_get(na, "KH-08"), "reason")),
                        "Không còn cấp huyện từ 01/7/2025");
    json_decref(na);
    ts_notice_policy p = {{0, 0, 0, 0}, {0, 0, 0, 0}};
    ts_escalation *e = NULL;
    size_t n = 0;
    /* 2026-12-07: both deadlines passed; only KH-01 is overdue */
    assert_int_equal(ts_notices_escalate(st, &p, 1796601600000ULL, &e, &n, &err), 0);
    bool kh01 = false, kh08 = false;
    for (size_t i = 0; i < n; i++) {
        kh01 |= e[i].kind == TS_ESC_OVERDUE && strcmp(e[i].notice, "KH-01") == 0;
        kh08 |= e[i].kind == TS_ESC_OVERDUE && strcmp(e[i].notice, "KH-08") == 0;
    }
    free(e);
    assert_true(kh01);
    assert_false(kh08);
    ts_store_close(st);
    ts_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phrases),
        cmocka_unit_test(test_seeded_tasks),
        cmocka_unit_test(test_load_replace_refuse),
        cmocka_unit_test(test_targets_from_plan),
        cmocka_unit_test(test_task_not_applicable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
