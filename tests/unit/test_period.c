/* Period keys of recurring plan tasks (common/ts_period): the period of a
 * local day, keys checked per unit, first and last days (leap years), the
 * next period across a year's end, and names for people. */
#include <string.h>

#include "common/ts_period.h"
#include "tests/support/ts_test.h"

static void test_units(void **state)
{
    (void)state;
    ts_period_unit u;
    assert_true(ts_period_unit_parse(NULL, &u));
    assert_int_equal(u, TS_PERIOD_YEARLY);
    assert_true(ts_period_unit_parse("quarterly", &u));
    assert_int_equal(u, TS_PERIOD_QUARTERLY);
    assert_true(ts_period_unit_parse("monthly", &u));
    assert_int_equal(u, TS_PERIOD_MONTHLY);
    assert_false(ts_period_unit_parse("weekly", &u));
    assert_string_equal(ts_period_unit_name(TS_PERIOD_QUARTERLY), "quarterly");
}

static void test_period_of_day(void **state)
{
    (void)state;
    char k[16];
    assert_true(ts_period_key_of(TS_PERIOD_YEARLY, "2026-12-31", k, sizeof k));
    assert_string_equal(k, "2026");
    assert_true(ts_period_key_of(TS_PERIOD_QUARTERLY, "2026-09-30", k, sizeof k));
    assert_string_equal(k, "2026-Q3");
    assert_true(ts_period_key_of(TS_PERIOD_QUARTERLY, "2026-10-01", k, sizeof k));
    assert_string_equal(k, "2026-Q4");
    assert_true(ts_period_key_of(TS_PERIOD_MONTHLY, "2027-01-01", k, sizeof k));
    assert_string_equal(k, "2027-01");
    assert_true(ts_period_key_of(TS_PERIOD_MONTHLY, "2028-02-29", k, sizeof k));
    assert_string_equal(k, "2028-02");
    assert_false(ts_period_key_of(TS_PERIOD_MONTHLY, "2027-02-29", k, sizeof k));
    assert_false(ts_period_key_of(TS_PERIOD_YEARLY, "31/12/2026", k, sizeof k));
    ts_period_key_first_of_year(TS_PERIOD_QUARTERLY, 2026, k, sizeof k);
    assert_string_equal(k, "2026-Q1");
    ts_period_key_first_of_year(TS_PERIOD_MONTHLY, 2026, k, sizeof k);
    assert_string_equal(k, "2026-01");
}

static void test_valid(void **state)
{
    (void)state;
    assert_true(ts_period_key_valid(TS_PERIOD_YEARLY, "2026"));
    assert_false(ts_period_key_valid(TS_PERIOD_YEARLY, "2026-Q1"));
    assert_false(ts_period_key_valid(TS_PERIOD_YEARLY, "26"));
    assert_false(ts_period_key_valid(TS_PERIOD_YEARLY, "1999"));
    assert_true(ts_period_key_valid(TS_PERIOD_QUARTERLY, "2026-Q4"));
    assert_false(ts_period_key_valid(TS_PERIOD_QUARTERLY, "2026-Q5"));
    assert_false(ts_period_key_valid(TS_PERIOD_QUARTERLY, "2026-04"));
    assert_true(ts_period_key_valid(TS_PERIOD_MONTHLY, "2026-12"));
    assert_false(ts_period_key_valid(TS_PERIOD_MONTHLY, "2026-13"));
    assert_false(ts_period_key_valid(TS_PERIOD_MONTHLY, "2026-00"));
    assert_false(ts_period_key_valid(TS_PERIOD_MONTHLY, "2026-1"));
    assert_false(ts_period_key_valid(TS_PERIOD_MONTHLY, NULL));
}

static void test_days_and_next(void **state)
{
    (void)state;
    char d[16];
    ts_period_key_first_day("2026-Q3", d, sizeof d);
    assert_string_equal(d, "2026-07-01");
    ts_period_key_last_day("2026-Q3", d, sizeof d);
    assert_string_equal(d, "2026-09-30");
    ts_period_key_last_day("2028-02", d, sizeof d);
    assert_string_equal(d, "2028-02-29");
    ts_period_key_last_day("2027-02", d, sizeof d);
    assert_string_equal(d, "2027-02-28");
    ts_period_key_last_day("2026", d, sizeof d);
    assert_string_equal(d, "2026-12-31");
    ts_period_key_next("2026-Q4", d, sizeof d);
    assert_string_equal(d, "2027-Q1");
    ts_period_key_next("2026-12", d, sizeof d);
    assert_string_equal(d, "2027-01");
    ts_period_key_next("2026-09", d, sizeof d);
    assert_string_equal(d, "2026-10");
    ts_period_key_next("2026", d, sizeof d);
    assert_string_equal(d, "2027");
    /* keys sort as time runs */
    assert_true(strcmp("2026-Q4", "2027-Q1") < 0);
    assert_true(strcmp("2026-09", "2026-10") < 0);
}

static void test_labels(void **state)
{
    (void)state;
    char l[64];
    ts_period_key_label("2026", false, l, sizeof l);
    assert_string_equal(l, "Năm 2026");
    ts_period_key_label("2026-Q3", false, l, sizeof l);
    assert_string_equal(l, "Quý III/2026");
    ts_period_key_label("2026-07", false, l, sizeof l);
    assert_string_equal(l, "Tháng 7/2026");
    ts_period_key_label("2026-Q3", true, l, sizeof l);
    assert_string_equal(l, "Q3 2026");
    ts_period_key_label("2026-07", true, l, sizeof l);
    assert_string_equal(l, "July 2026");
    ts_period_key_label("2026", true, l, sizeof l);
    assert_string_equal(l, "2026");
    /* the calendar's other periods: halves, ISO weeks, a one-off day */
    ts_period_key_label("2026-H2", false, l, sizeof l);
    assert_string_equal(l, "6 tháng cuối năm 2026");
    ts_period_key_label("2026-H1", true, l, sizeof l);
    assert_string_equal(l, "First half of 2026");
    ts_period_key_label("2026-W05", false, l, sizeof l);
    assert_string_equal(l, "Tuần 5/2026");
    ts_period_key_label("2026-W53", true, l, sizeof l);
    assert_string_equal(l, "Week 53, 2026");
    ts_period_key_label("2026-12-15", false, l, sizeof l);
    assert_string_equal(l, "Ngày 15/12/2026");
    ts_period_key_label("2026-12-15", true, l, sizeof l);
    assert_string_equal(l, "15/12/2026");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),        cmocka_unit_test(test_period_of_day), cmocka_unit_test(test_valid),
        cmocka_unit_test(test_days_and_next), cmocka_unit_test(test_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
