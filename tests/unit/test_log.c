/* Log lines (common/ts_log.c): every string argument is one value whatever
 * it holds, so a peer's bytes cannot end a value early, add a key or start a
 * line; other conversions print as printf would; values are cut to the line,
 * never in the middle of an escape. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_log.h"
#include "tests/support/ts_test.h"

static char g_line[4096];
static int g_lines;

static void sink(ts_log_level level, const char *line, void *ctx)
{
    (void)level;
    (void)ctx;
    snprintf(g_line, sizeof g_line, "%s", line);
    g_lines++;
}

/* The part of the last line after "event=NAME ". */
static const char *fields(void)
{
    const char *p = strstr(g_line, " event=");
    assert_non_null(p);
    p = strchr(p + 1, ' ');
    return p ? p + 1 : "";
}

static int setup(void **state)
{
    (void)state;
    ts_log_set_sink(sink, NULL);
    ts_log_set_level(TS_LOG_DEBUG);
    g_lines = 0;
    return 0;
}

static void test_plain_values_stay_bare(void **state)
{
    (void)state;
    ts_log_info("x", "station=%s table=%s", "binhnguyen", "residents");
    assert_string_equal(fields(), "station=binhnguyen table=residents");
    ts_log_info("x", "name=%s", "Nguyễn_Thị"); /* UTF-8 letters are not escaped */
    assert_string_equal(fields(), "name=Nguyễn_Thị");
}

static void test_values_are_quoted_and_escaped(void **state)
{
    (void)state;
    ts_log_warn("x", "reason=%s", "clock ahead by 3 s");
    assert_string_equal(fields(), "reason=\"clock ahead by 3 s\"");
    ts_log_warn("x", "reason=%s", "");
    assert_string_equal(fields(), "reason=\"\"");
    /* a pushed id trying to add a key */
    ts_log_warn("change_rejected", "id=%s code=%s", "ATT\" injected=\"1", "FORBIDDEN");
    assert_string_equal(fields(), "id=\"ATT\\\" injected=\\\"1\" code=FORBIDDEN");
    /* a value trying to start a line of its own */
    ts_log_warn("x", "reason=%s", "bad\nts=2026-01-01T00:00:00.000Z level=error event=forged");
    assert_null(strchr(g_line, '\n'));
    assert_string_equal(fields(), "reason=\"bad\\nts=2026-01-01T00:00:00.000Z level=error event=forged\"");
    ts_log_warn("x", "v=%s", "a\\b\r\t\x01\x7f=");
    assert_string_equal(fields(), "v=\"a\\\\b\\r\\t\\x01\\x7f=\"");
    ts_log_warn("x", "v=%s", "k=v");
    assert_string_equal(fields(), "v=\"k=v\"");
    const char *volatile nothing = NULL; /* a NULL the compiler cannot see */
    ts_log_warn("x", "v=%s", nothing);
    assert_string_equal(fields(), "v=(null)");
}

static void test_precision_limits_the_value(void **state)
{
    (void)state;
    ts_log_info("x", "a=%.3s b=%.*s", "abcdef", 2, "xy z");
    assert_string_equal(fields(), "a=abc b=xy");
    ts_log_info("x", "a=%.*s", 4, "x\"yz");
    assert_string_equal(fields(), "a=\"x\\\"yz\"");
}

static void test_other_conversions_as_printf(void **state)
{
    (void)state;
    uint64_t big = UINT64_MAX;
    int64_t neg = INT64_MIN;
    size_t z = 12345;
    ts_log_info("x", "u=%" PRIu64 " d=%" PRId64 " z=%zu i=%d c=%c x=%08x f=%.2f pct=%% l=%ld ll=%lld w=%5d|%-3u|",
                big, neg, z, -7, 'Q', 0xbeefu, 2.5, -3L, -4LL, 42, 9u);
    char want[512];
    snprintf(want, sizeof want, "u=%" PRIu64 " d=%" PRId64 " z=%zu i=%d c=%c x=%08x f=%.2f pct=%% l=%ld ll=%lld w=%5d|%-3u|",
             big, neg, z, -7, 'Q', 0xbeefu, 2.5, -3L, -4LL, 42, 9u);
    assert_string_equal(fields(), want);
    ts_log_info("x", "w=%*d p=%.*f s=%s", 6, 3, 1, 2.25, "after");
    assert_string_equal(fields(), "w=     3 p=2.2 s=after");
}

static void test_long_values_cut_cleanly(void **state)
{
    (void)state;
    char *v = malloc(5000);
    for (int i = 0; i < 4999; i++)
        v[i] = i % 3 == 0 ? '"' : 'a';
    v[4999] = '\0';
    ts_log_warn("x", "v=%s tail=%s", v, "end");
    size_t n = strlen(g_line);
    assert_true(n <= 2047);
    /* the value is closed: an even number of backslashes before the last quote */
    const char *q = strrchr(g_line, '"');
    assert_non_null(q);
    size_t bs = 0;
    for (const char *p = q - 1; p > g_line && *p == '\\'; p--)
        bs++;
    assert_int_equal(bs % 2, 0);
    free(v);

    char small[8];
    assert_int_equal(ts_log_value(small, sizeof small, "a b c d e f", 11), 7);
    assert_string_equal(small, "\"a b c\"");
    assert_int_equal(ts_log_value(small, sizeof small, "\"\"\"\"", 4), 6);
    assert_string_equal(small, "\"\\\"\\\"\"");
    assert_int_equal(ts_log_value(small, sizeof small, "plainword", 9), 7);
    assert_string_equal(small, "plainwo");
}

static void test_level_filter(void **state)
{
    (void)state;
    ts_log_set_level(TS_LOG_WARN);
    int before = g_lines;
    ts_log_info("x", "a=%s", "b");
    assert_int_equal(g_lines, before);
    ts_log_error("x", "a=%s", "b");
    assert_int_equal(g_lines, before + 1);
    assert_non_null(strstr(g_line, " level=error event=x a=b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_plain_values_stay_bare, setup),
        cmocka_unit_test_setup(test_values_are_quoted_and_escaped, setup),
        cmocka_unit_test_setup(test_precision_limits_the_value, setup),
        cmocka_unit_test_setup(test_other_conversions_as_printf, setup),
        cmocka_unit_test_setup(test_long_values_cut_cleanly, setup),
        cmocka_unit_test_setup(test_level_filter, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
