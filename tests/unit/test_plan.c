/* The provincial plan's deadline phrases (server/ts_plan.h), as seed 003's
 * appendix writes them, and the tasks seeded from them.
 *
 *  - "Trước ngày 01 tháng 7 năm 2025" is 30/6/2025 (was 01/7/2025)
 *  - "Từ năm 2026" starts in 2026 and recurs (the year was lost)
 *  - "Quý III năm 2024", "Quý III/2024" are 30/9/2024
 *  - "Nhiệm vụ thường xuyên" recurs; "Theo lộ trình ..." gives nothing */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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

/* The built-in plan's tasks as loaded into an empty district store. */
static void test_seeded_tasks(void **state)
{
    (void)state;
    char *dir = ts_tmpdir_make("plan");
    ts_store *st = ts_test_open(dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    char *path = ts_source_path("server/data/plan-tasks.tsv");
    size_t len = 0;
    char *tsv = ts_read_file(path, &len);
    assert_non_null(tsv);
    uint64_t loaded = 0;
    ts_error err;
    assert_int_equal(ts_tasks_seed(st, tsv, len, &loaded, &err), 0);
    assert_int_equal(loaded, 28);
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
    free(tsv);
    free(path);
    ts_store_close(st);
    ts_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phrases),
        cmocka_unit_test(test_seeded_tasks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
