/* WHO Child Growth Standards (server/ts_growth.h): the built-in LMS tables
 * and the z-scores computed from them.
 *
 *  - the WHO's own examples (the expected values of the WHO's anthro
 *    package, tests/testthat/test-zscore-weight-for-age.R,
 *    test-zscore-length-for-age.R and test-zscores.R):
 *      weight-for-age, girl, 1522 days, 17 kg: 0.24
 *      length-for-age, boy, 44 days, 50 cm: round(((50 / 56.4833) - 1) / 0.03492, 2)
 *      length-for-age, boy, 987 days, 72.86 cm lying down: -6.09
 *  - the rows those examples use, as the WHO's tables print them
 *  - the restricted weight z-score beyond -3 SD, the 0.7 cm correction,
 *    oedema, the age limit of 60 months
 *  - the loader of the WHO's file format: columns by header, rows by sex and
 *    consecutive age; a malformed file refused with its line */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/ts_growth.h"
#include "tests/support/ts_test.h"

static void assert_z(double got, double want)
{
    if (fabs(got - want) > 1e-9)
        fail_msg("z = %.4f, expected %.4f", got, want);
}

static void test_builtin_tables(void **state)
{
    (void)state;
    const ts_growth_table *w = ts_growth_wfa(), *l = ts_growth_lfa();
    assert_non_null(w);
    assert_non_null(l);
    /* 0 to 1826 days for both sexes */
    for (int k = 0; k < 2; k++) {
        assert_int_equal(w->n[k], 1827);
        assert_int_equal(l->n[k], 1827);
    }
    /* the rows of the examples, as printed in the WHO's tables */
    const ts_lms *r = &l->rows[0][44];
    assert_true(r->l == 1 && fabs(r->m - 56.4833) < 1e-9 && fabs(r->s - 0.03492) < 1e-9);
    r = &w->rows[0][0];
    assert_true(fabs(r->l - 0.3487) < 1e-9 && fabs(r->m - 3.3464) < 1e-9 && fabs(r->s - 0.14602) < 1e-9);
    r = &l->rows[1][1826];
    assert_true(r->l == 1 && fabs(r->m - 109.4189) < 1e-9 && fabs(r->s - 0.04346) < 1e-9);
}

static void test_who_examples(void **state)
{
    (void)state;
    double z;
    assert_true(ts_growth_waz(2, 1522, 17.0, false, &z));
    assert_z(z, 0.24);
    assert_true(ts_growth_haz(1, 44, 50.0, TS_MEASURE_UNKNOWN, &z));
    assert_z(z, round(((50 / 56.4833) - 1) / 0.03492 * 100) / 100);
    assert_z(z, -3.29);
    /* measured lying down after two years: 0.7 cm less, then the standard */
    assert_true(ts_growth_haz(1, 987, 72.86, TS_MEASURE_LENGTH, &z));
    assert_z(z, -6.09);
    assert_false(ts_growth_haz_plausible(z));
}

static void test_corrections_and_limits(void **state)
{
    (void)state;
    double z, z2;
    /* standing before two years: +0.7 cm */
    assert_true(ts_growth_haz(1, 304, 67.0, TS_MEASURE_HEIGHT, &z));
    assert_true(ts_growth_haz(1, 304, 67.7, TS_MEASURE_LENGTH, &z2));
    assert_z(z, z2);
    assert_true(z < -2);
    /* at 731 days the standard is height: standing needs nothing */
    assert_true(ts_growth_haz(2, 731, 86.4, TS_MEASURE_HEIGHT, &z));
    assert_true(ts_growth_haz(2, 731, 86.4, TS_MEASURE_UNKNOWN, &z2));
    assert_z(z, z2);
    assert_true(z > -2);
    /* oedema: no weight-for-age */
    assert_false(ts_growth_waz(2, 700, 8.0, true, &z));
    /* 60 months and over, before birth, no measure */
    assert_false(ts_growth_under_five(1827));
    assert_true(ts_growth_under_five(1826));
    assert_false(ts_growth_waz(1, 1827, 18.0, false, &z));
    assert_false(ts_growth_waz(1, -1, 3.0, false, &z));
    assert_false(ts_growth_waz(1, 100, 0.0, false, &z));
    assert_false(ts_growth_waz(3, 100, 5.0, false, &z));
}

/* Beyond -3 SD weight-for-age is measured in the SD of the -3..-2 band
 * (the WHO's restricted z-score), not by the LMS curve. */
static void test_restricted_weight_z(void **state)
{
    (void)state;
    const ts_growth_table *w = ts_growth_wfa();
    const ts_lms *r = &w->rows[0][365];
    double sd3 = r->m * pow(1 + r->l * r->s * -3, 1 / r->l), sd2 = r->m * pow(1 + r->l * r->s * -2, 1 / r->l);
    double y = sd3 - 0.5 * (sd2 - sd3), z;
    assert_true(ts_growth_waz(1, 365, y, false, &z));
    assert_z(z, -3.5);
    double lms = (pow(y / r->m, r->l) - 1) / (r->s * r->l);
    assert_true(fabs(lms - -3.5) > 0.01); /* the curve alone would say otherwise */
    /* unrestricted (length) is the plain LMS value */
    assert_true(ts_growth_z(w, 1, 365, y, false, &z));
    assert_z(z, round(lms * 100) / 100);
}

static void test_loader(void **state)
{
    (void)state;
    ts_growth_table t;
    ts_error err;
    /* columns in another order, extra ones, CRLF */
    const char good[] = "age\tsex\tm\ts\tl\tloh\r\n0\t1\t10\t0.1\t1\tL\r\n1\t1\t11\t0.1\t1\tL\r\n0\t2\t9\t0.1\t1\tL\r\n";
    assert_int_equal(ts_growth_table_load(&t, good, strlen(good), &err), 0);
    assert_int_equal(t.n[0], 2);
    assert_int_equal(t.n[1], 1);
    double z;
    assert_true(ts_growth_z(&t, 1, 1, 12.1, false, &z));
    assert_z(z, 1.0);
    assert_false(ts_growth_z(&t, 2, 1, 9.0, false, &z));
    ts_growth_table_free(&t);

    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "empty"},
        {"sex age l m\n1 0 1 10\n", "no column s"},
        {"sex age l m s\n1 0 1 10 0.1\n1 2 1 10 0.1\n2 0 1 10 0.1\n", "line 3: age 2 where 1"},
        {"sex age l m s\n1 0 1 10 0.1\n1 0 1 10 0.1\n2 0 1 10 0.1\n", "line 3: age 0 where 1"},
        {"sex age l m s\n3 0 1 10 0.1\n", "line 2: sex must be 1 or 2"},
        {"sex age l m s\n1 0 1 ten 0.1\n", "line 2: m is not a number"},
        {"sex age l m s\n1 0 1 10\n", "line 2: 4 columns"},
        {"sex age l m s\n1 0 1 -10 0.1\n", "line 2: M and S"},
        {"sex age l m s\n1 0 1 10 0.1\n", "both sexes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(ts_growth_table_load(&t, bad[i].text, strlen(bad[i].text), &err), TS_EBAD_VALUE);
        if (strstr(err.msg, bad[i].why) == NULL)
            fail_msg("\"%s\": %s, expected %s", bad[i].text, err.msg, bad[i].why);
        assert_null(t.rows[0]);
        assert_null(t.rows[1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_tables),
        cmocka_unit_test(test_who_examples),
        cmocka_unit_test(test_corrections_and_limits),
        cmocka_unit_test(test_restricted_weight_z),
        cmocka_unit_test(test_loader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
