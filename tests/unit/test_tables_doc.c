/* docs/TABLES.md and common/schema/tables.json say the same thing about the
 * built-in tables' fields: the reference section of TABLES.md lists, for each
 * table, every field with its Vietnamese and English label, and those labels
 * are the registry's (label_vi, label_en), which the console shows (issue 16,
 * point 10). Every enum field has a line "Values of `field`: `code` vi / en;
 * …" giving each value's labels, the registry's value_labels, and every value
 * of every table has labels of its own (not its code). Neither can drift: a
 * field, value or label in one and not the other fails here, naming the line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_error.h"
#include "common/ts_registry.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"

static char *trim(char *s)
{
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
    return s;
}

/* "Values of `field`: `code` vi / en; `code` vi / en": 0 when every value of
 * the field is listed once with the registry's labels, else the problems */
static int check_values_line(const ts_table_def *t, char *l, int line)
{
    char name[128];
    int problems = 0, used = 0;
    if (sscanf(l, "Values of `%127[a-z0-9_]`: %n", name, &used) != 1 || used == 0) {
        print_error("docs/TABLES.md:%d: a Values line is \"Values of `field`: `code` vi / en; …\"\n", line);
        return 1;
    }
    const ts_field_def *f = ts_table_field(t, name);
    if (f == NULL || f->type != TS_FT_ENUM) {
        print_error("docs/TABLES.md:%d: %s.%s is not an enum field of tables.json\n", line, t->name, name);
        return 1;
    }
    size_t listed = 0;
    char *save = NULL;
    for (char *item = strtok_r(l + used, ";", &save); item != NULL; item = strtok_r(NULL, ";", &save)) {
        char code[128];
        int n = 0;
        item = trim(item);
        char *slash = strstr(item, " / ");
        if (sscanf(item, "`%127[^`]` %n", code, &n) != 1 || n == 0 || slash == NULL) {
            print_error("docs/TABLES.md:%d: \"%s\" is not \"`code` vi / en\"\n", line, item);
            problems++;
            continue;
        }
        *slash = '\0';
        const char *vi = trim(item + n), *en = trim(slash + 3);
        const char *want_vi = ts_field_value_label(f, code, false), *want_en = ts_field_value_label(f, code, true);
        bool known = false;
        for (size_t k = 0; k < f->nvalues; k++)
            known = known || strcmp(f->values[k], code) == 0;
        if (!known) {
            print_error("docs/TABLES.md:%d: %s.%s has no value %s in tables.json\n", line, t->name, name, code);
            problems++;
        } else if (strcmp(vi, want_vi) != 0 || strcmp(en, want_en) != 0) {
            print_error("docs/TABLES.md:%d: %s.%s=%s is \"%s\" / \"%s\" there, \"%s\" / \"%s\" in tables.json\n", line,
                        t->name, name, code, vi, en, want_vi, want_en);
            problems++;
        } else {
            listed++;
        }
    }
    if (listed != f->nvalues) {
        print_error("docs/TABLES.md:%d: %zu of the %zu values of %s.%s listed\n", line, listed, f->nvalues, t->name,
                    name);
        problems++;
    }
    return problems;
}

/* every value of every enum field of the built-in tables has a name for
 * people in both languages, other than its code (value_labels) */
static void test_every_enum_value_labelled(void **state)
{
    (void)state;
    ts_registry reg;
    ts_error err;
    assert_int_equal(ts_registry_load_default(&reg, &err), 0);
    int problems = 0;
    for (size_t i = 0; i < reg.ntables; i++)
        for (size_t j = 0; j < reg.tables[i].nfields; j++) {
            const ts_field_def *f = &reg.tables[i].fields[j];
            for (size_t k = 0; k < f->nvalues; k++)
                if (strcmp(ts_field_value_label(f, f->values[k], false), f->values[k]) == 0 ||
                    strcmp(ts_field_value_label(f, f->values[k], true), f->values[k]) == 0) {
                    print_error("tables.json: %s.%s=%s has no value_labels\n", reg.tables[i].name, f->name,
                                f->values[k]);
                    problems++;
                }
        }
    ts_registry_free(&reg);
    assert_int_equal(problems, 0);
}

/* value_labels naming what is not there is refused at load */
static void test_value_labels_checked(void **state)
{
    (void)state;
    static const char *bad[] = {
        "{\"tables\":{\"t\":{\"kind\":\"station\",\"fields\":{\"s\":{\"type\":\"enum\",\"values\":[\"a\"]}},"
        "\"value_labels\":{\"s\":{\"b\":[\"B\",\"B\"]}}}}}",
        "{\"tables\":{\"t\":{\"kind\":\"station\",\"fields\":{\"s\":{\"type\":\"text\"}},"
        "\"value_labels\":{\"s\":{\"a\":[\"A\",\"A\"]}}}}}",
        "{\"tables\":{\"t\":{\"kind\":\"station\",\"fields\":{\"s\":{\"type\":\"enum\",\"values\":[\"a\"]}},"
        "\"value_labels\":{\"s\":{\"a\":[\"A\"]}}}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ts_registry reg;
        ts_error err;
        assert_int_equal(ts_registry_load_json(&reg, bad[i], strlen(bad[i]), &err), TS_EBAD_VALUE);
    }
    const char *good = "{\"tables\":{\"t\":{\"kind\":\"station\",\"fields\":{\"s\":{\"type\":\"enum\",\"values\":"
                       "[\"a\",\"b\"]}},\"value_labels\":{\"s\":{\"a\":[\"Ắ\",\"A\"]}}}}}";
    ts_registry reg;
    ts_error err;
    assert_int_equal(ts_registry_load_json(&reg, good, strlen(good), &err), 0);
    const ts_field_def *f = ts_table_field(ts_registry_table(&reg, "t"), "s");
    assert_string_equal(ts_field_value_label(f, "a", false), "Ắ");
    assert_string_equal(ts_field_value_label(f, "a", true), "A");
    assert_string_equal(ts_field_value_label(f, "b", false), "b");
    assert_string_equal(ts_field_value_label(f, "zz", true), "zz");
    ts_registry_free(&reg);
}

static void test_tables_md_matches_registry(void **state)
{
    (void)state;
    ts_registry reg;
    ts_error err;
    assert_int_equal(ts_registry_load_default(&reg, &err), 0);
    char *path = ts_source_path("docs/TABLES.md");
    char *text = ts_read_file(path, NULL);
    if (text == NULL) {
        fail_msg("cannot read %s", path);
        abort(); /* not reached */
    }
    const ts_table_def *t = NULL;
    size_t *seen = ts_xcalloc(reg.ntables, sizeof *seen);
    size_t *enums = ts_xcalloc(reg.ntables, sizeof *enums); /* Values lines per table */
    int line = 0, problems = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        line++;
        if (strncmp(l, "## ", 3) == 0) {
            t = NULL;
            continue;
        }
        char name[128];
        if (sscanf(l, "### `%127[a-z0-9_]` — ", name) == 1) {
            t = ts_registry_table(&reg, name);
            if (t == NULL) {
                print_error("docs/TABLES.md:%d: table %s is not in tables.json\n", line, name);
                problems++;
            }
            continue;
        }
        if (t != NULL && strncmp(l, "Values of ", 10) == 0) {
            problems += check_values_line(t, l, line);
            enums[t - reg.tables]++;
            continue;
        }
        if (t == NULL || sscanf(l, "| `%127[a-z0-9_]` |", name) != 1)
            continue;
        /* | `field` | Vietnamese | English | … */
        char *cells[3] = {NULL, NULL, NULL};
        char *p = l + 1, *end;
        for (int c = 0; c < 3 && (end = strchr(p, '|')) != NULL; c++) {
            *end = '\0';
            cells[c] = trim(p);
            p = end + 1;
        }
        const ts_field_def *f = ts_table_field(t, name);
        if (f == NULL) {
            print_error("docs/TABLES.md:%d: %s.%s is not in tables.json\n", line, t->name, name);
            problems++;
            continue;
        }
        seen[t - reg.tables]++;
        if (cells[1] == NULL || strcmp(cells[1], f->label_vi) != 0 || cells[2] == NULL ||
            strcmp(cells[2], f->label_en) != 0) {
            print_error("docs/TABLES.md:%d: %s.%s is \"%s\" / \"%s\" there, \"%s\" / \"%s\" in tables.json\n", line,
                        t->name, name, cells[1] ? cells[1] : "", cells[2] ? cells[2] : "", f->label_vi,
                        f->label_en);
            problems++;
        }
    }
    for (size_t i = 0; i < reg.ntables; i++)
        if (seen[i] != reg.tables[i].nfields) {
            print_error("docs/TABLES.md lists %zu of the %zu fields of %s\n", seen[i], reg.tables[i].nfields,
                        reg.tables[i].name);
            problems++;
        }
    for (size_t i = 0; i < reg.ntables; i++) {
        size_t n = 0;
        for (size_t j = 0; j < reg.tables[i].nfields; j++)
            n += reg.tables[i].fields[j].type == TS_FT_ENUM;
        if (enums[i] != n) {
            print_error("docs/TABLES.md has %zu Values lines for the %zu enum fields of %s\n", enums[i], n,
                        reg.tables[i].name);
            problems++;
        }
    }
    free(enums);
    free(seen);
    free(text);
    free(path);
    ts_registry_free(&reg);
    assert_int_equal(problems, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_md_matches_registry),
        cmocka_unit_test(test_every_enum_value_labelled),
        cmocka_unit_test(test_value_labels_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
