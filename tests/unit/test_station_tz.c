/* Which time zone a station's days are in (client/ts_station_day.h): the
 * station's configuration, else what the district said (kept in meta), else
 * Asia/Ho_Chi_Minh; a zone the district said that this PC's tz database
 * lacks is not kept and not used; Asia/Ho_Chi_Minh without any tz database
 * is still UTC+7. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client/ts_station_day.h"
#include "common/ts_notice.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_store.h"

static uint64_t at(const char *iso)
{
    uint64_t ms;
    if (!ts_time_parse(iso, &ms))
        fail_msg("not a time: %s", iso);
    return ms;
}

static void test_which_zone(void **state)
{
    (void)state;
    char *dir = ts_tmpdir_make("station_tz");
    ts_store *st = ts_test_open(dir, "st.db", TS_ROLE_STATION, "binhnguyen", NULL);
    char tz[128], day[16];
    /* before the first WELCOME */
    assert_int_equal(ts_station_tz(NULL, st, tz, sizeof tz), TS_STATION_TZ_BUILTIN);
    assert_string_equal(tz, "Asia/Ho_Chi_Minh");
    /* the district says Tokyo: kept once */
    assert_int_equal(ts_station_tz_keep(st, "Asia/Tokyo"), 1);
    assert_int_equal(ts_station_tz_keep(st, "Asia/Tokyo"), 0);
    assert_int_equal(ts_station_tz_keep(st, "Chau_A/Ha_Noi"), 0); /* not a zone here */
    assert_int_equal(ts_station_tz_keep(st, ""), 0);              /* a district that does not say */
    assert_int_equal(ts_station_tz_keep(st, NULL), 0);
    assert_int_equal(ts_station_tz(NULL, st, tz, sizeof tz), TS_STATION_TZ_DISTRICT);
    assert_string_equal(tz, "Asia/Tokyo");
    assert_int_equal(ts_station_tz("", st, tz, sizeof tz), TS_STATION_TZ_DISTRICT);
    /* the station's configuration wins */
    assert_int_equal(ts_station_tz("America/New_York", st, tz, sizeof tz), TS_STATION_TZ_CONFIG);
    assert_string_equal(tz, "America/New_York");
    /* applied: 18:30 UTC on the 14th is 03:30 on the 15th in Tokyo */
    ts_station_tz_apply(NULL, st);
    ts_local_day(at("2026-12-14T18:30:00Z"), day, sizeof day);
    assert_string_equal(day, "2026-12-15");
    ts_station_tz_apply("America/New_York", st);
    ts_local_day(at("2026-12-14T18:30:00Z"), day, sizeof day);
    assert_string_equal(day, "2026-12-14");

    /* a PC without a tz database: Tokyo, kept, is passed over; Hà Nội's day
     * is still UTC+7 */
    char *empty = ts_xasprintf("%s/zoneinfo", dir);
    assert_int_equal(mkdir(empty, 0700), 0);
    setenv("TZDIR", empty, 1);
    assert_int_equal(ts_station_tz(NULL, st, tz, sizeof tz), TS_STATION_TZ_BUILTIN);
    assert_string_equal(tz, "Asia/Ho_Chi_Minh");
    ts_station_tz_apply(NULL, st);
    ts_local_day(at("2026-12-14T17:00:00Z"), day, sizeof day);
    assert_string_equal(day, "2026-12-15");
    ts_local_day(at("2026-12-14T16:59:59Z"), day, sizeof day);
    assert_string_equal(day, "2026-12-14");
    unsetenv("TZDIR");
    ts_district_tz_apply("UTC");
    free(empty);
    ts_store_close(st);
    ts_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_which_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
