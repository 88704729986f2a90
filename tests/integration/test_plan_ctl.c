/* The provincial plan and the reports to the province through tramsyncctl
 * and the admin API, against a real tramsyncd (issue 19):
 *
 *  1. a district with no plan: tramsyncctl plan load of a file with a
 *     syntax error says the file's line and column, of a file with a wrong
 *     field says which field, and nothing changes (no plan, no task)
 *  2. the demo's plan loaded: GET /api/targets names it (name, issuer, date,
 *     version) and judges by its targets; its 28 tasks are there
 *  3. its corrected copy (version 2) replaces it: KH-03 reads "Kiện toàn",
 *     both versions are kept; version 1 again is refused
 *  4. tramsyncctl task not-applicable KH-08 --reason: the task carries it,
 *     audited
 *  5. tramsyncctl export (CSV, XLSX) and report quarterly (PDF), each file
 *     read back: the TTYT's name ([district] name) and the period in it
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_watchdog.h"

#define PASSWORD "mật-khẩu-đủ-dài-2026"
#define TTYT "Trung tâm Y tế khu vực Bình Xuyên"

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    ts_th_opts admin;
    char *admin_cert, *admin_key;
    char *envs[5];
    bool passed;
} env;

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("planctl");
    const char *codes[] = {"binhnguyen"};
    ts_test_pki_make(&e->pki, e->dir, codes, 1);
    e->admin_cert = ts_test_pki_cert(&e->pki, "admin");
    e->admin_key = ts_test_pki_key(&e->pki, "admin");
    e->admin = (ts_th_opts){e->pki.ca, e->admin_cert, e->admin_key, NULL};
    assert_int_equal(ts_test_add_user(e->dir, "nguyenvana", "admin", PASSWORD), 0);
    ts_test_watchdog_arm("test_plan_ctl", 120);
    ts_test_watchdog_watch(&e->d.pid);
    /* no plan at start: this test loads it */
    const char *sets[] = {"admin.plan_file=", "admin.targets_every=0", "district.name=" TTYT, NULL};
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);
    e->envs[0] = ts_xasprintf("TRAMSYNC_ADMIN_URL=https://localhost:%d", e->d.admin_port);
    e->envs[1] = ts_xasprintf("TRAMSYNC_CA=%s", e->pki.ca);
    e->envs[2] = ts_xstrdup("TRAMSYNC_USER=nguyenvana");
    e->envs[3] = ts_xstrdup("TRAMSYNC_PASSWORD=" PASSWORD);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    ts_test_watchdog_disarm();
    if (!e->passed)
        ts_test_log_tail(e->d.log, 40);
    ts_test_daemon_free(&e->d);
    ts_test_pki_free(&e->pki);
    free(e->admin_cert);
    free(e->admin_key);
    for (int i = 0; i < 4; i++)
        free(e->envs[i]);
    ts_tmpdir_remove(e->dir);
    free(e);
    return 0;
}

static json_t *get(env *e, const char *path, int want)
{
    ts_th_resp r;
    if (ts_th_call(e->d.admin_port, &e->admin, "GET", path, NULL, NULL, NULL, &r) < 0)
        fail_msg("GET %s: no answer", path);
    if (r.status != want)
        fail_msg("GET %s: %d (wanted %d): %s", path, r.status, want, r.body ? r.body : "");
    json_t *o = json_incref(r.json);
    ts_th_resp_free(&r);
    return o;
}

/* tramsyncctl with its arguments; its exit status, and what it said. */
static int ctl(env *e, char **out, const char *const *argv)
{
    char *bin = ts_test_bin("tramsyncctl");
    char *outfile = ts_xasprintf("%s/ctl.out", e->dir);
    const char *args[24];
    int n = 0;
    args[n++] = bin;
    for (int i = 0; argv[i] && n < 23; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        for (int i = 0; e->envs[i]; i++)
            putenv(e->envs[i]);
        execv(bin, (char *const *)args);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    char *text = ts_read_file(outfile, NULL);
    *out = text ? text : ts_xstrdup("");
    free(outfile);
    free(bin);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void ctl_ok(env *e, const char *const *argv)
{
    char *out;
    int rc = ctl(e, &out, argv);
    if (rc != 0)
        fail_msg("tramsyncctl %s %s: exit %d: %s", argv[0], argv[1] ? argv[1] : "", rc, out);
    free(out);
}

static char *write_file(env *e, const char *name, const char *text)
{
    char *path = ts_xasprintf("%s/%s", e->dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* A command's standard output (it must exit 0). */
static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    ts_buf out = TS_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        ts_buf_append(&out, chunk, n);
    int st = pclose(p);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s: exit %d", cmd, WEXITSTATUS(st));
    ts_buf_append(&out, "", 1);
    for (char *c = (char *)out.data; *c; c++)
        if (*c == '\n')
            *c = ' ';
    return (char *)out.data;
}

static void expect_in(const char *what, const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("%s does not have \"%s\": %.1500s", what, needle, hay);
}

static void nothing_loaded(env *e)
{
    json_t *p = get(e, "/api/plan", 200);
    assert_true(json_is_null(json_object_get(p, "plan")));
    assert_int_equal(json_array_size(json_object_get(p, "history")), 0);
    json_decref(p);
    json_t *t = get(e, "/api/tasks", 200);
    assert_int_equal(json_array_size(json_object_get(t, "tasks")), 0);
    json_decref(t);
}

static void test_plan_and_exports(void **state)
{
    env *e = *state;
    char *out;
    nothing_loaded(e);

    /* 1. malformed: the line, or the field, and nothing changed */
    char *bad = write_file(e, "bad.json", "{\"format\": \"tramsync-plan/1\",\n  \"name\": \"KH\",\n  \"issuer\" \"UBND\"\n}\n");
    const char *load_bad[] = {"plan", "load", bad, NULL};
    assert_int_equal(ctl(e, &out, load_bad), 4);
    expect_in("plan load of a syntax error", out, "bad.json:3:");
    expect_in("plan load of a syntax error", out, "không có gì thay đổi / nothing was changed");
    free(out);
    free(bad);
    bad = write_file(e, "bad2.json",
                     "{\"format\": \"tramsync-plan/1\", \"name\": \"KH\", \"issuer\": \"UBND\", \"date\": \"2025\",\n"
                     " \"version\": 1,\n"
                     " \"targets\": [\n"
                     "  {\"code\": \"bhyt\", \"label_vi\": \"x, [y]\", \"label_en\": \"x\",\n"
                     "   \"operator\": \">\", \"threshold\": 97, \"year\": 2030},\n"
                     "  {\"code\": \"stunting\", \"label_vi\": \"x\", \"label_en\": \"x\",\n"
                     "   \"year\": 2030,\n"
                     "   \"operator\": \">=\", \"threshold\": 8}],\n"
                     " \"tasks\": [{\"no\": 1, \"text\": \"Nhiệm vụ\", \"lead\": \"Sở Y tế\",\n"
                     "  \"deadline_text\": \"Nhiệm vụ thường xuyên\"}]}\n");
    load_bad[2] = bad;
    assert_int_equal(ctl(e, &out, load_bad), 4);
    /* the field, and its line in the file */
    expect_in("plan load of a wrong field", out, "bad2.json:8: kế hoạch bị từ chối / plan refused: targets[1].operator");
    free(out);
    free(bad);
    nothing_loaded(e);

    /* 2. the demo's plan */
    char *v1 = ts_source_path("server/data/plans/binh-dinh-2024.json");
    const char *load_v1[] = {"plan", "load", v1, NULL};
    ctl_ok(e, load_v1);
    json_t *tg = get(e, "/api/targets", 200);
    json_t *plan = json_object_get(tg, "plan");
    assert_string_equal(json_string_value(json_object_get(plan, "issuer")), "Ủy ban nhân dân tỉnh Bình Định");
    assert_string_equal(json_string_value(json_object_get(plan, "date")), "2024");
    assert_int_equal(json_integer_value(json_object_get(plan, "version")), 1);
    assert_non_null(strstr(json_string_value(json_object_get(plan, "name")), "103-KH/TU"));
    json_t *bhyt = json_array_get(json_object_get(tg, "targets"), 0);
    assert_string_equal(json_string_value(json_object_get(bhyt, "code")), "bhyt");
    assert_string_equal(json_string_value(json_object_get(bhyt, "op")), ">");
    assert_true(json_real_value(json_object_get(bhyt, "threshold")) == 97.0);
    assert_int_equal(json_integer_value(json_object_get(bhyt, "year")), 2030);
    json_decref(tg);
    json_t *tasks = get(e, "/api/tasks", 200);
    assert_int_equal(json_array_size(json_object_get(tasks, "tasks")), 28);
    json_decref(tasks);

    /* 3. the corrected copy replaces it; version 1 again is refused */
    char *v2 = ts_source_path("server/data/plans/binh-dinh-2024-sua-kh03.json");
    const char *load_v2[] = {"plan", "load", v2, NULL};
    ctl_ok(e, load_v2);
    json_t *kh03 = get(e, "/api/tasks/KH-03", 200);
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(kh03, "fields"), "task")),
                           "Kiện toàn tổ chức"));
    json_decref(kh03);
    json_t *p = get(e, "/api/plan", 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "plan"), "version")), 2);
    assert_int_equal(json_array_size(json_object_get(p, "history")), 2);
    json_decref(p);
    /* the replaced version stays readable, as loaded, with KH-03's typo */
    json_t *old = get(e, "/api/plan/versions/1", 200);
    assert_int_equal(json_integer_value(json_object_get(old, "version")), 1);
    assert_true(json_is_false(json_object_get(old, "current")));
    assert_int_equal(json_array_size(json_object_get(old, "tasks")), 28);
    assert_true(json_array_size(json_object_get(old, "targets")) > 0);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(json_object_get(old, "tasks"), 2), "text")),
                           "Kiểm toàn"));
    json_decref(old);
    json_t *now = get(e, "/api/plan/versions/2", 200);
    assert_true(json_is_true(json_object_get(now, "current")));
    json_decref(now);
    json_decref(get(e, "/api/plan/versions/3", 404));
    json_decref(get(e, "/api/plan/versions/x", 404));
    assert_int_equal(ctl(e, &out, load_v1), 4);
    expect_in("plan load of an older version", out, "không mới hơn");
    free(out);
    free(v1);
    free(v2);
    assert_int_equal(ts_test_sql_count(e->dir, "district.db", "SELECT count(*) FROM audit WHERE action = 'load_plan'"),
                     2);

    /* 4. a task set aside */
    const char *na[] = {"task", "not-applicable", "KH-08", "--reason", "Không còn cấp huyện từ 01/7/2025", NULL};
    ctl_ok(e, na);
    json_t *kh08 = get(e, "/api/tasks/KH-08", 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(kh08, "not_applicable"), "reason")),
                        "Không còn cấp huyện từ 01/7/2025");
    json_decref(kh08);
    assert_int_equal(
        ts_test_sql_count(e->dir, "district.db", "SELECT count(*) FROM audit WHERE action = 'task_not_applicable'"), 1);

    /* 5. the files for the province, read back */
    char *csv = ts_xasprintf("%s/tasks.csv", e->dir);
    const char *ex_csv[] = {"export", "--format", "csv", "--part", "tasks", "--quarter", "2026-Q4", "--out", csv, NULL};
    ctl_ok(e, ex_csv);
    char *text = ts_read_file(csv, NULL);
    assert_non_null(text);
    expect_in("the CSV", text, "\"Đơn vị\",\"" TTYT "\"");
    expect_in("the CSV", text, "\"Kỳ báo cáo\",\"Quý IV/2026 (01/10/2026 – 31/12/2026)\"");
    expect_in("the CSV", text, "\"Không còn cấp huyện từ 01/7/2025\"");
    free(text);
    free(csv);
    char *xlsx = ts_xasprintf("%s/q4.xlsx", e->dir);
    const char *ex_xlsx[] = {"export", "--quarter", "2026-Q4", "--out", xlsx, NULL};
    ctl_ok(e, ex_xlsx);
    char *cmd = ts_xasprintf("unzip -p '%s' xl/sharedStrings.xml xl/workbook.xml", xlsx);
    text = run(cmd);
    free(cmd);
    expect_in("the XLSX", text, TTYT);
    expect_in("the XLSX", text, "Quý IV/2026");
    expect_in("the XLSX", text, "name=\"Nhiệm vụ\"");
    expect_in("the XLSX", text, "Kiện toàn tổ chức");
    free(text);
    free(xlsx);
    char *pdf = ts_xasprintf("%s/q4.pdf", e->dir);
    const char *rep[] = {"report", "quarterly", "--quarter", "2026-Q4", "--out", pdf, NULL};
    ctl_ok(e, rep);
    cmd = ts_xasprintf("pdftotext -enc UTF-8 '%s' -", pdf);
    text = run(cmd);
    free(cmd);
    expect_in("the PDF", text, TTYT);
    expect_in("the PDF", text, "BÁO CÁO TÓM TẮT");
    expect_in("the PDF", text, "Quý IV/2026");
    expect_in("the PDF", text, "KH-08: không áp dụng");
    free(text);
    free(pdf);
    /* a wrong period or part: 400 */
    json_decref(get(e, "/api/export?format=csv&part=tasks&quarter=2026-Q9", 400));
    json_decref(get(e, "/api/export?format=csv&part=nope", 400));
    json_decref(get(e, "/api/report/quarterly?quarter=Q4", 400));
    e->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plan_and_exports, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
