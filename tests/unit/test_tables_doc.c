/* docs/TABLES.md and common/schema/tables.json say the same thing about the
 * built-in tables' fields: the reference section of TABLES.md lists, for each
 * table, every field with its Vietnamese and English label, and those labels
 * are the registry's (label_vi, label_en), which the console shows (issue 16,
 * point 10). Neither can drift: a field or label in one and not the other
 * fails here, naming the line. */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
