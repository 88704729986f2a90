/* The 2030 targets (server/ts_targets.h) on crafted records at a district
 * store, against ../shared/DOMAIN.md's words and denominators, one test per
 * indicator so that each fails for its own reason:
 *
 *  - BHYT coverage and population under health management over the
 *    commune's population of the year (commune_population), with its source
 *  - primary care: people who used it, not visits; emergencies are not
 *    primary care; the label follows seed 003
 *  - "đạt và duy trì": the assessment is current and was kept
 *  - under-5 underweight and stunting from weight, length/height, age in days
 *    and sex (WHO Child Growth Standards), each child's latest measurement
 *    of the last 12 months; the flags typed at the station are not used
 *  - high-risk people checked: a recorded health check (checkup,
 *    screening) in the last 12 months, not any visit
 *  - replacement-level fertility and sex ratio at birth (births), the share
 *    of residents with a check in 12 months (no target)
 *  - "12 tháng gần nhất" where a rolling window is used, never "trong năm"
 *
 * Only ts_targets_station/ts_targets_save and the snapshot table are used,
 * so the file builds against older code too; the value and source of a
 * figure are read from target_snapshots. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/ts_recjson.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "server/ts_targets.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_store.h"

#define BN "binhnguyen"

/* 2026-06-15 12:00 in Vietnam (05:00 UTC): the 12 months are
 * 2025-06-16 .. 2026-06-15 */
#define NOW_MS 1781499600000ull

typedef struct fixture {
    char *dir;
    ts_store *srv;
} fixture;

static int setup(void **state)
{
    setenv("TZ", "Asia/Ho_Chi_Minh", 1);
    tzset();
    fixture *f = ts_xcalloc(1, sizeof *f);
    f->dir = ts_tmpdir_make("targets");
    f->srv = ts_test_open(f->dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ts_store_close(f->srv);
    ts_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* Writes fields given as a JSON object (typed by the registry) as the
 * station's record (owner), or the district's (owner NULL). */
static void put(fixture *f, const char *owner, const char *table, const char *id, const char *json)
{
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    if (o == NULL)
        fail_msg("bad JSON in test: %s: %s", json, je.text);
    const ts_table_def *t = ts_registry_table(ts_store_registry(f->srv), table);
    if (t == NULL)
        fail_msg("the registry has no table %s", table);
    size_t n = json_object_size(o), i = 0;
    ts_kv *kv = ts_xcalloc(n ? n : 1, sizeof *kv);
    ts_buf *vals = ts_xcalloc(n ? n : 1, sizeof *vals);
    ts_error err;
    const char *name;
    json_t *v;
    json_object_foreach(o, name, v) {
        const ts_field_def *fd = ts_table_field(t, name);
        if (fd == NULL)
            fail_msg("%s has no field %s", table, name);
        ts_buf_init(&vals[i]);
        if (ts_recjson_to_value(fd, v, &vals[i], &err) < 0)
            fail_msg("%s.%s: %s", table, name, err.msg);
        kv[i].name = fd->name;
        kv[i].value = vals[i].data;
        kv[i].len = vals[i].len;
        i++;
    }
    ts_actor a = {TS_ACTOR_ADMIN, "admin-test", NULL, "test"};
    if (ts_store_put(f->srv, &a, table, id, owner, kv, i, &err) < 0)
        fail_msg("put %s/%s: %s", table, id, err.msg);
    for (size_t k = 0; k < i; k++)
        ts_buf_free(&vals[k]);
    free(vals);
    free(kv);
    json_decref(o);
}

static void station(fixture *f, const char *code, const char *extra)
{
    char json[512];
    snprintf(json, sizeof json, "{\"name\": \"Trạm Y tế %s\", \"commune\": \"%s\"%s}", code, code, extra ? extra : "");
    put(f, NULL, "stations", code, json);
}

static void resident(fixture *f, const char *st, const char *id, const char *birth, const char *sex, const char *extra)
{
    char json[512];
    snprintf(json, sizeof json, "{\"full_name\": \"Người %s\", \"birth_date\": \"%s\", \"sex\": \"%s\"%s}", id, birth, sex,
             extra ? extra : "");
    put(f, st, "residents", id, json);
}

static void encounter(fixture *f, const char *st, const char *id, const char *who, const char *date, const char *kind,
                      bool paid)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"resident_id\": \"%s\", \"date\": \"%s\", \"kind\": \"%s\", \"paid_by_bhyt\": %s}", who, date, kind,
             paid ? "true" : "false");
    put(f, st, "encounters", id, json);
}

static int idx(const char *code)
{
    for (int i = 0; i < TS_TARGET_COUNT; i++)
        if (strcmp(ts_targets[i].code, code) == 0)
            return i;
    fail_msg("no target %s", code);
    return -1;
}

static void compute(fixture *f, const char *st, ts_target_figures *out)
{
    ts_error err;
    if (ts_targets_station(f->srv, st, NOW_MS, out, &err) < 0)
        fail_msg("targets: %s", err.msg);
}

static void expect_fig(const ts_target_figures *fig, const char *code, long long num, long long den)
{
    int i = idx(code);
    if (fig->numerator[i] != num || fig->denominator[i] != den)
        fail_msg("%s: %lld/%lld, expected %lld/%lld", code, (long long)fig->numerator[i],
                 (long long)fig->denominator[i], num, den);
}

/* The value and source kept with a figure (NULL source: none). */
static void saved(fixture *f, const char *st, const ts_target_figures *fig, const char *code, double *value,
                  char *source, size_t size)
{
    ts_error err;
    if (ts_targets_save(f->srv, st, "2026-06-15", NOW_MS, fig, &err) < 0)
        fail_msg("save: %s", err.msg);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(f->srv),
                           "SELECT value, coalesce(source, '') FROM target_snapshots"
                           " WHERE day = '2026-06-15' AND station = ?1 AND indicator = ?2",
                           -1, &q, NULL) != SQLITE_OK)
        fail_msg("the snapshots keep no value and source: %s", sqlite3_errmsg(ts_store_db(f->srv)));
    sqlite3_bind_text(q, 1, st, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, code, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    *value = sqlite3_column_type(q, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 0);
    snprintf(source, size, "%s", (const char *)sqlite3_column_text(q, 1));
    sqlite3_finalize(q);
}

/* ---------------------------------------------------------------- population */

static void test_bhyt_over_commune_population(void **state)
{
    fixture *f = *state;
    station(f, BN, ", \"population\": 12450");
    put(f, NULL, "commune_population", BN "-2026",
        "{\"station\": \"" BN "\", \"year\": 2026, \"population\": 1000,"
        " \"source\": \"Chi cục Thống kê khu vực\", \"as_of\": \"2026-01-01\"}");
    char id[32];
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof id, "R%02d", i);
        resident(f, BN, id, "1980-01-01", i % 2 ? "male" : "female",
                 ", \"bhyt_number\": \"GD4010123456789\", \"bhyt_valid_to\": \"2026-12-31\"");
    }
    /* a card that ran out yesterday, and someone who moved out */
    resident(f, BN, "R90", "1980-01-01", "male", ", \"bhyt_number\": \"GD4010123456780\", \"bhyt_valid_to\": \"2026-06-14\"");
    resident(f, BN, "R91", "1980-01-01", "male", ", \"bhyt_number\": \"GD4010123456781\", \"moved_out\": true");
    ts_target_figures fig;
    compute(f, BN, &fig);
    /* 12 insured of the commune's 1,000 people, not 12 of the 13 on file */
    expect_fig(&fig, "bhyt", 12, 1000);
    double value;
    char source[256];
    saved(f, BN, &fig, "bhyt", &value, source, sizeof source);
    assert_non_null(strstr(source, "2026"));
    assert_non_null(strstr(source, "Chi cục Thống kê khu vực"));
}

static void test_health_management_population_of_the_year(void **state)
{
    fixture *f = *state;
    /* the directory's yearless figure is not used; the latest year up to
     * this one is, and a figure for a coming year is not */
    station(f, BN, ", \"population\": 12450");
    put(f, NULL, "commune_population", BN "-2025",
        "{\"station\": \"" BN "\", \"year\": 2025, \"population\": 1100, \"source\": \"Điều tra dân số 01/4/2025\"}");
    put(f, NULL, "commune_population", BN "-2027",
        "{\"station\": \"" BN "\", \"year\": 2027, \"population\": 5000, \"source\": \"Dự báo\"}");
    resident(f, BN, "R1", "1980-01-01", "male", ", \"health_record\": true");
    resident(f, BN, "R2", "1981-01-01", "female", ", \"health_record\": true");
    resident(f, BN, "R3", "1982-01-01", "female", ", \"health_record\": true");
    resident(f, BN, "R4", "1983-01-01", "female", NULL);
    ts_target_figures fig;
    compute(f, BN, &fig);
    expect_fig(&fig, "health_management", 3, 1100);
    double value;
    char source[256];
    saved(f, BN, &fig, "health_management", &value, source, sizeof source);
    assert_non_null(strstr(source, "2025"));
    assert_non_null(strstr(source, "Điều tra dân số"));

    /* no population figure at all: no denominator, not the residents on file */
    station(f, "binhxuyen", ", \"population\": 9870");
    resident(f, "binhxuyen", "X1", "1980-01-01", "male", ", \"health_record\": true");
    compute(f, "binhxuyen", &fig);
    expect_fig(&fig, "health_management", 1, 0);
    expect_fig(&fig, "bhyt", 0, 0);
}

/* ---------------------------------------------------------------- primary care */

static void test_primary_care_counts_people(void **state)
{
    fixture *f = *state;
    station(f, BN, NULL);
    resident(f, BN, "A", "1980-01-01", "male", NULL);
    resident(f, BN, "B", "1980-01-01", "female", NULL);
    resident(f, BN, "C", "1980-01-01", "female", NULL);
    resident(f, BN, "D", "1980-01-01", "female", NULL);
    /* A: three visits paid by BHYT -> one person paid */
    encounter(f, BN, "E1", "A", "2026-01-05", "visit", true);
    encounter(f, BN, "E2", "A", "2026-02-05", "visit", true);
    encounter(f, BN, "E3", "A", "2026-03-05", "checkup", true);
    /* B: a visit paid out of pocket; the emergency paid by BHYT is not primary care */
    encounter(f, BN, "E4", "B", "2026-04-01", "visit", false);
    encounter(f, BN, "E5", "B", "2026-04-02", "emergency", true);
    /* C: only an emergency */
    encounter(f, BN, "E6", "C", "2026-05-01", "emergency", true);
    /* D: more than 12 months ago */
    encounter(f, BN, "E7", "D", "2025-06-15", "visit", true);
    ts_target_figures fig;
    compute(f, BN, &fig);
    expect_fig(&fig, "primary_care_bhyt", 1, 2);
    /* the seed's words: people who use primary care paid by insurance */
    const char *vi = ts_targets[idx("primary_care_bhyt")].vi;
    assert_non_null(strstr(vi, "Người dân sử dụng dịch vụ chăm sóc ban đầu"));
    assert_non_null(strstr(vi, "12 tháng gần nhất"));
}

/* ---------------------------------------------------------------- criteria */

static void criteria(fixture *f, const char *st, int year, bool met)
{
    char id[64], json[256];
    snprintf(id, sizeof id, "%s-TC-%d", st, year);
    snprintf(json, sizeof json, "{\"year\": %d, \"met\": %s}", year, met ? "true" : "false");
    put(f, st, "commune_criteria", id, json);
}

static long long criteria_of(fixture *f, const char *st)
{
    ts_target_figures fig;
    compute(f, st, &fig);
    int i = idx("commune_criteria");
    assert_int_equal(fig.denominator[i], 1);
    return (long long)fig.numerator[i];
}

static void test_commune_criteria_current_and_kept(void **state)
{
    fixture *f = *state;
    /* met in 2021, nothing since: not current */
    criteria(f, "s1", 2021, true);
    assert_int_equal(criteria_of(f, "s1"), 0);
    /* met again in 2025 after failing in 2024: achieved, not kept */
    criteria(f, "s2", 2023, true);
    criteria(f, "s2", 2024, false);
    criteria(f, "s2", 2025, true);
    assert_int_equal(criteria_of(f, "s2"), 0);
    /* 2024 and 2025 met: achieved and kept */
    criteria(f, "s3", 2024, true);
    criteria(f, "s3", 2025, true);
    assert_int_equal(criteria_of(f, "s3"), 1);
    /* a year with no assessment in between: not kept */
    criteria(f, "s4", 2023, true);
    criteria(f, "s4", 2025, true);
    assert_int_equal(criteria_of(f, "s4"), 0);
    /* first assessed in 2026 and met: nothing to keep yet */
    criteria(f, "s5", 2026, true);
    assert_int_equal(criteria_of(f, "s5"), 1);
    /* the latest not met */
    criteria(f, "s6", 2025, true);
    criteria(f, "s6", 2026, false);
    assert_int_equal(criteria_of(f, "s6"), 0);
    const char *vi = ts_targets[idx("commune_criteria")].vi;
    assert_non_null(strstr(vi, "đạt và duy trì"));
}

/* ---------------------------------------------------------------- children */

static void growth(fixture *f, const char *st, const char *id, const char *child, const char *date, int months,
                   const char *extra)
{
    char json[512];
    snprintf(json, sizeof json, "{\"resident_id\": \"%s\", \"date\": \"%s\", \"age_months\": %d%s}", child, date,
             months, extra ? extra : "");
    put(f, st, "child_growth", id, json);
}

static void test_underweight_who_standards(void **state)
{
    fixture *f = *state;
    station(f, BN, NULL);
    /* G1: a girl of 1522 days weighing 17 kg: z = 0.24 (WHO anthro's own
     * example), not underweight whatever the station typed */
    resident(f, BN, "G1", "2022-02-15", "female", NULL); /* 1522 days on 2026-04-17 */
    growth(f, BN, "M1", "G1", "2026-04-17", 50, ", \"weight_kg\": 17.0, \"underweight\": true");
    /* B1: a boy of 12 months (365 days) at 7.2 kg: z ~ -2.6, underweight though typed not */
    resident(f, BN, "B1", "2025-03-01", "male", NULL);
    growth(f, BN, "M2", "B1", "2026-03-01", 12, ", \"weight_kg\": 7.2, \"underweight\": false");
    /* B2: underweight a year and a half ago, well at his latest measurement */
    resident(f, BN, "B2", "2023-01-10", "male", NULL);
    growth(f, BN, "M3", "B2", "2024-11-10", 22, ", \"weight_kg\": 8.0, \"underweight\": true");
    growth(f, BN, "M4", "B2", "2026-01-10", 36, ", \"weight_kg\": 14.3");
    /* B3: measured only before the window: not counted */
    resident(f, BN, "B3", "2022-01-10", "male", NULL);
    growth(f, BN, "M5", "B3", "2025-01-10", 36, ", \"weight_kg\": 9.0, \"underweight\": true");
    /* G2: oedema: weight-for-age is not computed */
    resident(f, BN, "G2", "2024-05-01", "female", NULL);
    growth(f, BN, "M6", "G2", "2026-05-01", 24, ", \"weight_kg\": 8.0, \"oedema\": true");
    /* G3: five years old at the measurement: not under 5 */
    resident(f, BN, "G3", "2021-03-01", "female", NULL);
    growth(f, BN, "M7", "G3", "2026-03-02", 59, ", \"weight_kg\": 12.0");
    ts_target_figures fig;
    compute(f, BN, &fig);
    expect_fig(&fig, "underweight", 1, 3);
}

static void test_stunting_who_standards(void **state)
{
    fixture *f = *state;
    station(f, BN, NULL);
    /* B1: a boy of 44 days, 50 cm long: z = -3.29 (WHO anthro's example): stunted */
    resident(f, BN, "B1", "2026-03-02", "male", NULL);
    growth(f, BN, "M1", "B1", "2026-04-15", 1, ", \"height_cm\": 50.0, \"measure\": \"length\", \"stunted\": false");
    /* G1: a girl of two years (731 days) measured standing at 86.4 cm: about
     * the median, not stunted though typed so */
    resident(f, BN, "G1", "2024-01-01", "female", NULL);
    growth(f, BN, "M2", "G1", "2026-01-01", 24, ", \"height_cm\": 86.4, \"measure\": \"height\", \"stunted\": true");
    /* B2: 987 days, 72.86 cm lying down: z = -6.09 (WHO anthro's example),
     * implausible, so not counted either way */
    resident(f, BN, "B2", "2023-08-21", "male", NULL);
    growth(f, BN, "M3", "B2", "2026-05-04", 32, ", \"height_cm\": 72.86, \"measure\": \"length\"");
    /* B3: 10 months, standing at 67 cm: +0.7 cm makes it length 67.7
     * (z ~ -2.5): stunted */
    resident(f, BN, "B3", "2025-07-01", "male", NULL);
    growth(f, BN, "M4", "B3", "2026-05-01", 10, ", \"height_cm\": 67.0, \"measure\": \"height\"");
    ts_target_figures fig;
    compute(f, BN, &fig);
    expect_fig(&fig, "stunting", 2, 3);
}

/* ---------------------------------------------------------------- checks */

static void test_high_risk_checked_by_health_checks(void **state)
{
    fixture *f = *state;
    station(f, BN, NULL);
    resident(f, BN, "A", "1960-01-01", "male", ", \"high_risk\": true");
    resident(f, BN, "B", "1960-01-01", "male", ", \"high_risk\": true");
    resident(f, BN, "C", "1960-01-01", "male", ", \"high_risk\": true");
    resident(f, BN, "D", "1960-01-01", "male", ", \"high_risk\": true");
    resident(f, BN, "E", "1990-01-01", "male", NULL);
    encounter(f, BN, "E1", "A", "2026-05-01", "visit", true);      /* an ordinary visit is no check */
    encounter(f, BN, "E2", "A", "2026-05-02", "home_visit", true); /* nor a home visit */
    encounter(f, BN, "E3", "B", "2026-05-01", "checkup", true);
    encounter(f, BN, "E4", "C", "2025-05-20", "checkup", true); /* 13 months ago */
    encounter(f, BN, "E5", "D", "2025-06-16", "screening", true); /* the window's first day */
    encounter(f, BN, "E6", "E", "2026-02-01", "checkup", true);
    ts_target_figures fig;
    compute(f, BN, &fig);
    expect_fig(&fig, "high_risk_checked", 2, 4);
    /* a rolling window is said as such */
    const char *vi = ts_targets[idx("high_risk_checked")].vi;
    assert_null(strstr(vi, "trong năm"));
    assert_non_null(strstr(vi, "12 tháng gần nhất"));
}

static void test_periodic_checkup_share(void **state)
{
    fixture *f = *state;
    station(f, BN, NULL);
    resident(f, BN, "A", "1960-01-01", "male", NULL);
    resident(f, BN, "B", "1970-01-01", "female", NULL);
    resident(f, BN, "C", "1980-01-01", "male", NULL);
    resident(f, BN, "D", "1990-01-01", "female", ", \"deceased\": true");
    encounter(f, BN, "E1", "A", "2026-05-01", "checkup", true);
    encounter(f, BN, "E2", "A", "2026-06-01", "screening", true);
    encounter(f, BN, "E3", "B", "2026-05-01", "visit", true);
    encounter(f, BN, "E4", "D", "2026-05-01", "checkup", true);
    ts_target_figures fig;
    compute(f, BN, &fig);
    expect_fig(&fig, "periodic_checkup", 1, 3);
    /* a direction, no figure to meet: the plan says so (test_plan) */
}

/* ---------------------------------------------------------------- births */

static void birth(fixture *f, const char *id, const char *mother, const char *date, const char *sex, const char *extra)
{
    char json[512];
    snprintf(json, sizeof json, "{%s%s%s\"birth_date\": \"%s\", \"sex\": \"%s\"%s}", mother ? "\"mother_id\": \"" : "",
             mother ? mother : "", mother ? "\", " : "", date, sex, extra ? extra : "");
    put(f, BN, "births", id, json);
}

static void women(fixture *f)
{
    char id[16];
    /* 10 women of 23 and 10 of 32 on 2026-06-15; men and older women do not count */
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "W2%d", i);
        resident(f, BN, id, "2003-01-01", "female", NULL);
        snprintf(id, sizeof id, "W3%d", i);
        resident(f, BN, id, "1994-01-01", "female", NULL);
    }
    resident(f, BN, "M1", "2000-01-01", "male", NULL);
    resident(f, BN, "O1", "1970-01-01", "female", NULL);
}

static void births(fixture *f)
{
    birth(f, "BI1", "W20", "2026-01-10", "male", NULL);
    birth(f, "BI2", "W21", "2026-01-11", "male", NULL);
    birth(f, "BI3", "W22", "2026-02-10", "female", NULL);
    birth(f, "BI4", "W23", "2026-03-10", "male", NULL);
    birth(f, "BI5", "W30", "2025-12-01", "female", NULL);
    birth(f, "BI6", "W31", "2025-12-02", "female", NULL);
    /* a mother not on file, her birth date recorded with the birth (22) */
    birth(f, "BI7", NULL, "2025-09-01", "male", ", \"mother_birth_date\": \"2003-05-05\"");
    /* before the window; a stillbirth */
    birth(f, "BI8", "W24", "2024-12-01", "male", NULL);
    birth(f, "BI9", "W25", "2026-04-01", "male", ", \"live_birth\": false");
}

static void test_replacement_fertility(void **state)
{
    fixture *f = *state;
    station(f, BN, NULL);
    women(f);
    births(f);
    ts_target_figures fig;
    compute(f, BN, &fig);
    /* 5 births of 10 women of 20-24, 2 of 10 of 30-34: total fertility
     * 5 x (0.5 + 0.2) = 3.5 children per woman */
    expect_fig(&fig, "fertility", 7, 20);
    double value;
    char source[256];
    saved(f, BN, &fig, "fertility", &value, source, sizeof source);
    assert_true(fabs(value - 3.5) < 1e-9);
}

static void test_sex_ratio_at_birth(void **state)
{
    fixture *f = *state;
    station(f, BN, NULL);
    women(f);
    births(f);
    ts_target_figures fig;
    compute(f, BN, &fig);
    /* live births of the 12 months: 4 boys, 3 girls */
    expect_fig(&fig, "sex_ratio_birth", 4, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bhyt_over_commune_population, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_management_population_of_the_year, setup, teardown),
        cmocka_unit_test_setup_teardown(test_primary_care_counts_people, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commune_criteria_current_and_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_underweight_who_standards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stunting_who_standards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_high_risk_checked_by_health_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_periodic_checkup_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replacement_fertility, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sex_ratio_at_birth, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
