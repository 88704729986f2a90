/* Terminal columns of UTF-8 text: Vietnamese names line up in tables and are
 * never cut inside a character. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_width),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_prefix_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
