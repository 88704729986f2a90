/* Hybrid logical clock: monotonic, past everything observed, skew bound. */
#include "common/ts_hlc.h"
#include "common/ts_error.h"
#include "tests/support/ts_test.h"

static uint64_t fake_now(void *ctx)
{
    return *(uint64_t *)ctx;
}

static void test_layout(void **state)
{
    (void)state;
    uint64_t h = TS_HLC_MAKE(1700000000000ull, 7);
    assert_int_equal(TS_HLC_MS(h), 1700000000000ull);
    assert_int_equal(TS_HLC_LOGICAL(h), 7);
    assert_true(TS_HLC_MAKE(1, 0) > TS_HLC_MAKE(0, 0xffff));
}

static void test_monotonic_with_stuck_clock(void **state)
{
    (void)state;
    uint64_t now = 1000;
    ts_hlc c;
    ts_hlc_init(&c, 0, TS_HLC_DEFAULT_MAX_AHEAD_MS);
    ts_hlc_set_clock(&c, fake_now, &now);
    uint64_t prev = ts_hlc_next(&c);
    assert_int_equal(prev, TS_HLC_MAKE(1000, 0));
    for (int i = 0; i < 100000; i++) { /* logical counter overflows into ms */
        uint64_t h = ts_hlc_next(&c);
        assert_true(h > prev);
        prev = h;
    }
    now = 500; /* wall clock jumps back: still monotonic */
    assert_true(ts_hlc_next(&c) > prev);
    now = 5000;
    assert_int_equal(ts_hlc_next(&c), TS_HLC_MAKE(5000, 0));
}

static void test_next_is_after_observed(void **state)
{
    (void)state;
    uint64_t now = 1000;
    ts_hlc c;
    ts_hlc_init(&c, 0, 60000);
    ts_hlc_set_clock(&c, fake_now, &now);
    uint64_t remote = TS_HLC_MAKE(30000, 12); /* another replica, 29 s ahead */
    assert_int_equal(ts_hlc_check(&c, remote, NULL), 0);
    ts_hlc_observe(&c, remote);
    uint64_t h = ts_hlc_next(&c);
    assert_true(h > remote);
    assert_int_equal(TS_HLC_MS(h), 30000);
    /* observing an older one does not move the clock back */
    ts_hlc_observe(&c, TS_HLC_MAKE(10, 0));
    assert_true(ts_hlc_next(&c) > h);
}

static void test_skew_bound(void **state)
{
    (void)state;
    uint64_t now = 1000000;
    ts_hlc c;
    ts_hlc_init(&c, 0, 5 * 60 * 1000);
    ts_hlc_set_clock(&c, fake_now, &now);
    uint64_t ahead = 0;
    assert_int_equal(ts_hlc_check(&c, TS_HLC_MAKE(now + 5 * 60 * 1000, 0xffff), &ahead), 0);
    assert_int_equal(ahead, 5 * 60 * 1000);
    assert_int_equal(ts_hlc_check(&c, TS_HLC_MAKE(now + 5 * 60 * 1000 + 1, 0), &ahead), TS_ECLOCK_AHEAD);
    assert_int_equal(ahead, 5 * 60 * 1000 + 1);
    assert_int_equal(ts_hlc_check(&c, TS_HLC_MAKE(10, 0), &ahead), 0); /* the past is fine */
    assert_int_equal(ahead, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_monotonic_with_stuck_clock),
        cmocka_unit_test(test_next_is_after_observed),
        cmocka_unit_test(test_skew_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
