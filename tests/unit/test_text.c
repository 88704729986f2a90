/* Terminal columns of UTF-8 text: Vietnamese names line up in tables and are
 * never cut inside a character. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ts_mp.h"
#include "common/ts_text.h"
#include "tests/support/ts_test.h"

static void test_width(void **state)
{
    (void)state;
    assert_int_equal(ts_text_width(""), 0);
    assert_int_equal(ts_text_width("abc"), 3);
    assert_int_equal(ts_text_width("Bình Nguyên"), 11);          /* precomposed */
    assert_int_equal(ts_text_width("Bi\xcc\x80nh"), 4);           /* i + combining grave */
    assert_int_equal(ts_text_width("Xuân Lãng"), 9);
    assert_int_equal(ts_text_width("Trạm Y tế xã Bình Tuyền"), 23);
    assert_int_equal(ts_text_width("\xff\xfe"), 2); /* malformed bytes: a column each */
}

/* Writes through ts_text_col into a string (caller frees). */
static char *col(const char *s, size_t cols)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ts_text_col(f, s, cols);
    fclose(f);
    return buf;
}

static void test_columns(void **state)
{
    (void)state;
    char *a = col("Bình Nguyên", 14);
    assert_string_equal(a, "Bình Nguyên   ");
    assert_int_equal(ts_text_width(a), 14);
    free(a);
    char *b = col("Trạm Y tế xã Bình Tuyền", 10);
    assert_string_equal(b, "Trạm Y tế…");
    assert_int_equal(ts_text_width(b), 10);
    free(b);
    char *c = col("exact", 5);
    assert_string_equal(c, "exact");
    free(c);
}

/* Cutting anywhere never splits a character nor drops a combining mark off
 * its letter. */
static void test_prefix_boundaries(void **state)
{
    (void)state;
    const char *samples[] = {"Nguyễn Thị Lan", "Đặng Văn Hùng", "Bi\xcc\x80nh Xuye\xcc\x82\xcc\x80n", "Phường 5"};
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        size_t w = ts_text_width(samples[i]);
        for (size_t cols = 0; cols <= w + 1; cols++) {
            size_t n = ts_text_prefix(samples[i], cols);
            assert_true(ts_utf8_valid((const uint8_t *)samples[i], n));
            char *cut = strndup(samples[i], n);
            assert_int_equal(ts_text_width(cut), cols < w ? cols : w);
            /* the next byte is never a combining mark's (0xcc/0xcd lead) */
            if (samples[i][n] != '\0')
                assert_false((unsigned char)samples[i][n] == 0xcc || (unsigned char)samples[i][n] == 0xcd);
            free(cut);
        }
    }
}

/* The language: --lang first, else the first of LC_ALL, LC_MESSAGES, LANG
 * that is set; English only when it starts with "en". */
static void test_pick_language(void **state)
{
    (void)state;
    bool en = true;
    unsetenv("LC_ALL");
    unsetenv("LC_MESSAGES");
    unsetenv("LANG");
    assert_int_equal(ts_text_pick_language(NULL, &en), 0);
    assert_false(en);
    setenv("LANG", "en_US.UTF-8", 1);
    assert_int_equal(ts_text_pick_language(NULL, &en), 0);
    assert_true(en);
    assert_int_equal(ts_text_pick_language("vi", &en), 0);
    assert_false(en);
    setenv("LC_MESSAGES", "vi_VN.UTF-8", 1);
    assert_int_equal(ts_text_pick_language(NULL, &en), 0);
    assert_false(en);
    setenv("LC_ALL", "en_GB.UTF-8", 1);
    assert_int_equal(ts_text_pick_language(NULL, &en), 0);
    assert_true(en);
    setenv("LC_ALL", "", 1); /* set but empty: the next decides */
    assert_int_equal(ts_text_pick_language(NULL, &en), 0);
    assert_false(en);
    assert_int_equal(ts_text_pick_language("en", &en), 0);
    assert_true(en);
    assert_int_equal(ts_text_pick_language("fr", &en), -1);
    unsetenv("LC_ALL");
    unsetenv("LC_MESSAGES");
    unsetenv("LANG");
}

/* Dates for people: a date as written, a time in local time (TZ). */
static void test_dates(void **state)
{
    (void)state;
    setenv("TZ", "Asia/Ho_Chi_Minh", 1);
    tzset();
    char out[64];
    assert_string_equal(ts_text_date("2026-12-31", out, sizeof out), "31/12/2026");
    assert_string_equal(ts_text_date("2026-12-10T17:00:00+07:00", out, sizeof out), "10/12/2026 17:00");
    assert_string_equal(ts_text_date("2026-12-01T02:30:00.250Z", out, sizeof out), "01/12/2026 09:30");
    assert_string_equal(ts_text_date("Quý III năm 2024", out, sizeof out), "Quý III năm 2024");
    assert_string_equal(ts_text_date(NULL, out, sizeof out), "");
    ts_text_time_ms(1796536512345ULL, out, sizeof out);
    assert_string_equal(out, "06/12/2026 12:55");
    setenv("TZ", "UTC", 1);
    tzset();
    /* a calendar date is the same day anywhere */
    assert_string_equal(ts_text_date("2026-12-31", out, sizeof out), "31/12/2026");
    assert_string_equal(ts_text_date("2026-12-10T17:00:00+07:00", out, sizeof out), "10/12/2026 10:00");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_width),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_prefix_boundaries),
        cmocka_unit_test(test_pick_language),
        cmocka_unit_test(test_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
