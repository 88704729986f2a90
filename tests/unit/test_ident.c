/* The identifier rule (common/ts_record.c): what a record id, a station
 * code or an account name may hold, and the reasons given (which name no
 * byte of the refused text). */
#include <string.h>

#include "common/ts_record.h"
#include "tests/support/ts_test.h"

static const char *problem(const char *s)
{
    return ts_ident_problem(s, strlen(s));
}

static void test_identifiers_taken(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "BN-R001", "TB-20261123-7fb3e76e", "TB-20261123-7fb3e76e:2", "binhnguyen", "a", "x_y.z/1@2+3#(4)",
        "nguy\xe1\xbb\x85n",                       /* nguyễn, composed */
        "\xc4\x90\xe1\xbb\x93ng-Th\xc3\xa1p",     /* Đồng-Tháp */
        "\xc6\xa1\xc6\xb0",                        /* ơư */
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (problem(ok[i]) != NULL)
            fail_msg("%s refused: %s", ok[i], problem(ok[i]));
    char longest[129];
    memset(longest, 'a', 128);
    longest[128] = '\0';
    assert_null(problem(longest));
}

static void test_lookalikes_refused(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        const char *why;
    } bad[] = {
        {"", "empty"},
        {"\xd0\xb0" "dmin", "outside Latin"},           /* Cyrillic а */
        {"admin\xe2\x80\x8b", "invisible"},             /* zero-width space */
        {"ad\xe2\x80\xae" "min", "invisible"},           /* right-to-left override */
        {"PARA500\xe2\x80\xae", "invisible"},
        {"a\xe2\x81\xa0" "b", "invisible"},              /* word joiner */
        {"\xef\xbb\xbf" "x", "invisible"},               /* BOM */
        {"a\xd8\x9c" "b", "invisible"},                  /* Arabic letter mark */
        {"adm\xc2\xa0in", "space"},                      /* NBSP */
        {"a b", "space"},
        {"a\xe3\x80\x80" "b", "space"},                  /* ideographic space */
        {"nguye\xcc\x82\xcc\x83n", "combining"},         /* decomposed ễ */
        {"ATT\" injected=\"1", "quote"},
        {"a'b", "quote"},
        {"a<b", "quote"},
        {"a\\b", "quote"},
        {"a\nb", "control"},
        {"a\x7f", "control"},
        {"\xff\xfe", "UTF-8"},
        {"\xce\xb1", "outside Latin"},                   /* Greek α */
        {"\xc3\x97", "outside Latin"},                   /* × */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = problem(bad[i].s);
        if (why == NULL)
            fail_msg("identifier %zu was taken", i);
        if (strstr(why, bad[i].why) == NULL)
            fail_msg("identifier %zu: \"%s\" does not say %s", i, why, bad[i].why);
    }
    char toolong[130];
    memset(toolong, 'a', 129);
    toolong[129] = '\0';
    assert_non_null(strstr(problem(toolong), "128"));
}

static void test_account_names(void **state)
{
    (void)state;
    assert_null(ts_account_name_problem("lan.nguyen"));
    assert_null(ts_account_name_problem("Admin_2"));
    assert_non_null(ts_account_name_problem("nguy\xe1\xbb\x85n")); /* ASCII only */
    assert_non_null(ts_account_name_problem("\xd0\xb0" "dmin"));
    assert_non_null(ts_account_name_problem("a:b"));
    assert_non_null(ts_account_name_problem(""));
    char buf[16];
    ts_account_name_fold("AdMiN", buf, sizeof buf);
    assert_string_equal(buf, "admin");
    ts_account_name_fold("Lan.Nguyen-2", buf, 6);
    assert_string_equal(buf, "lan.n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identifiers_taken),
        cmocka_unit_test(test_lookalikes_refused),
        cmocka_unit_test(test_account_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
