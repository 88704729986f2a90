/* What station staff read from `tramsync` (issue 16, "the station's command
 * line speaks Vietnamese too"): the real program (the ASan build, or
 * TS_BIN_DIR's) on a station directory holding a notice and a plan task as
 * the district sends them, pulled from a district store in-process; no
 * daemon, no agent.
 *
 *  1. help, usage and errors are Vietnamese by default, English with
 *     --lang en or an English locale; what a lower layer says (English)
 *     follows a Vietnamese sentence saying what failed
 *  2. a notice: the registry's labels (Cơ quan ban hành, Người xác nhận,
 *     Trích yếu); deadlines and times as dd/mm/yyyy HH:MM in the district's
 *     time, also on a PC set to UTC, never raw ISO
 *  3. a plan task: its text cut on a character (valid UTF-8, "…"); the
 *     district's instructions shown with it, and in full labelled as a task */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/ts_recjson.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_watchdog.h"

#define BN "binhnguyen"
#define NOTICE "TB-20261201-0256bbc7"
#define TASK "KH-21"

/* The plan's task 21 (server/data/plans/binh-dinh-2024.json): its 160th byte falls
 * inside the "ư" of "người", which `%.160s` printed as "ngư\xe1\xbb"; in
 * characters, its first 159 end in "đẩy mạ". */
static const char task21[] =
    "Thực hiện các nhiệm vụ: phòng, chống dịch bệnh, sàng lọc phát hiện sớm bệnh, tật tại cộng đồng, nâng cao "
    "sức khỏe người dân; tăng cường công tác dân số; đẩy mạnh quản lý và điều trị các bệnh không lây nhiễm, bệnh "
    "mạn tính, chăm sóc dài hạn tại y tế cơ sở; quản lý sức khỏe người dân tại gia đình và cộng đồng, hướng đến "
    "mục tiêu mọi người dân đều được theo dõi, quản lý sức khỏe toàn diện.";
static const char instructions[] = "Trạm lập danh sách người cao tuổi có bệnh mạn tính, gửi TTYT trước ngày 25 hằng tháng";

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_station st;
} env;

/* Writes fields given as JSON (typed by the registry) as the district. */
static void put_json(ts_store *srv, const char *table, const char *id, const char *json)
{
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    if (o == NULL)
        fail_msg("bad JSON in test: %s: %s", json, je.text);
    const ts_table_def *t = ts_registry_table(ts_store_registry(srv), table);
    assert_non_null(t);
    size_t n = json_object_size(o), i = 0;
    ts_kv *kv = ts_xcalloc(n, sizeof *kv);
    ts_buf *vals = ts_xcalloc(n, sizeof *vals);
    ts_error err;
    const char *name;
    json_t *v;
    json_object_foreach(o, name, v) {
        const ts_field_def *f = ts_table_field(t, name);
        if (f == NULL)
            fail_msg("%s has no field %s", table, name);
        ts_buf_init(&vals[i]);
        if (ts_recjson_to_value(f, v, &vals[i], &err) < 0)
            fail_msg("%s.%s: %s", table, name, err.msg);
        kv[i].name = f->name;
        kv[i].value = vals[i].data;
        kv[i].len = vals[i].len;
        i++;
    }
    ts_actor a = {TS_ACTOR_ADMIN, "admin-test", NULL, "test"};
    if (ts_store_put(srv, &a, table, id, NULL, kv, i, &err) < 0)
        fail_msg("put %s/%s: %s", table, id, err.msg);
    for (size_t k = 0; k < i; k++)
        ts_buf_free(&vals[k]);
    free(vals);
    free(kv);
    json_decref(o);
}

/* A station that received a notice (acknowledged) and a plan task, as the
 * district writes them. Times in the records carry offsets and
 * milliseconds, as the district and the agent write them. */
static int setup(void **state)
{
    ts_test_watchdog_arm("test_cli_text", 120);
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("clitext");
    ts_test_pki_make(&e->pki, e->dir, NULL, 0);
    ts_test_station_make(&e->st, e->dir, BN, &e->pki, 1, NULL);
    ts_store *srv = ts_test_open(e->dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    put_json(srv, "notices", NOTICE,
             "{\"number\": \"45/CĐ-TTYT\", \"doc_type\": \"cong_dien\", \"issuer\": \"Trung tâm Y tế khu vực Bình "
             "Xuyên\", \"issue_date\": \"2026-12-01\", \"subject\": \"Tăng cường phòng, chống dịch sốt xuất huyết\", "
             "\"category\": \"prevention\", \"urgency\": \"thuong_khan\", \"recipients\": [\"" BN "\"], "
             "\"responsible\": \"Trưởng trạm y tế\", \"task\": \"Tổ chức diệt lăng quăng tại tất cả các thôn\", "
             "\"deadline\": \"2026-12-10T17:00:00+07:00\", \"expected_result\": \"Báo cáo số hộ được kiểm tra\", "
             "\"body\": \"Số ca sốt xuất huyết tăng tại các xã phía nam.\"}");
    put_json(srv, "notice_recipients", NOTICE ":" BN,
             "{\"notice_id\": \"" NOTICE "\", \"station\": \"" BN "\", \"urgency\": \"thuong_khan\", \"deadline\": "
             "\"2026-12-10T17:00:00+07:00\", \"state\": \"acknowledged\", \"sent_at\": \"2026-12-01T01:00:00Z\", "
             "\"acknowledged_at\": \"2026-12-01T02:30:00.250Z\", \"acknowledged_by\": \"Nguyễn Thị Hạnh\"}");
    json_t *task = json_pack("{s:i,s:s,s:s,s:s,s:s}", "no", 21, "task", task21, "lead", "Sở Y tế; UBND cấp huyện",
                             "coordinating", "Các sở, ngành, đơn vị liên quan", "deadline_text", "Nhiệm vụ thường xuyên");
    char *tj = json_dumps(task, 0);
    put_json(srv, "plan_tasks", TASK, tj);
    free(tj);
    json_decref(task);
    char json[1024];
    snprintf(json, sizeof json,
             "{\"task_id\": \"" TASK "\", \"station\": \"" BN "\", \"assigned_at\": \"2026-12-01T01:00:00Z\", "
             "\"deadline\": \"2026-12-31\", \"instructions\": \"%s\", \"state\": \"delivered\"}",
             instructions);
    put_json(srv, "task_assignments", TASK ":" BN, json);
    ts_store *sta = ts_test_open(e->st.dir, "station.db", TS_ROLE_STATION, BN, NULL);
    assert_true(ts_test_pull(srv, sta, BN) >= 4);
    ts_store_close(sta);
    ts_store_close(srv);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    ts_test_watchdog_disarm();
    ts_test_station_free(&e->st);
    ts_test_pki_free(&e->pki);
    ts_tmpdir_remove(e->dir);
    free(e);
    return 0;
}

/* The locale of a machine set up in Vietnamese, unless a test says otherwise;
 * the PC's zone is Vietnam's (UTC+7, a POSIX TZ), though the station's times
 * are the district's whatever it is. */
static const char *const vi_env[] = {"LC_ALL=", "LC_MESSAGES=", "LANG=vi_VN.UTF-8", "TZ=ICT-7", NULL};
static const char *const en_env[] = {"LC_ALL=", "LC_MESSAGES=", "LANG=en_US.UTF-8", "TZ=ICT-7", NULL};

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        if (n == 0)
            return false;
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xc0) != 0x80)
                return false;
        p += n;
    }
    return true;
}

static void expect(const char *what, const char *text, const char *needle)
{
    if (text == NULL || strstr(text, needle) == NULL)
        fail_msg("%s does not say \"%s\":\n%s", what, needle, text ? text : "(nothing)");
}

static void refuse(const char *what, const char *text, const char *needle)
{
    if (text != NULL && strstr(text, needle) != NULL)
        fail_msg("%s says \"%s\":\n%s", what, needle, text);
}

/* ---------------------------------------------------------------- 1. help and errors */

static void test_help_in_both_languages(void **state)
{
    env *e = *state;
    static const char *const commands[] = {"init",     "enroll",   "run",    "status", "put",    "delete",
                                           "get",      "list",     "import", "conflicts", "clock-fix", "notices",
                                           "notice",   "attachment", "ack",  "progress", "report", "tasks",
                                           "dump",     "tables"};
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        char *out = NULL, *err = NULL, what[64];
        e->st.env = vi_env;
        snprintf(what, sizeof what, "tramsync %s --help", commands[i]);
        int rc = ts_test_station_cli2(&e->st, &out, &err, commands[i], "--help", NULL);
        if (rc != 0)
            fail_msg("%s: exit %d: %s", what, rc, err);
        expect(what, out, "cách dùng: tramsync");
        refuse(what, out, "usage:");
        assert_true(utf8_valid(out));
        free(out);
        free(err);
        snprintf(what, sizeof what, "tramsync --lang en %s --help", commands[i]);
        assert_int_equal(ts_test_station_cli2(&e->st, &out, &err, "--lang", "en", commands[i], "--help", NULL), 0);
        expect(what, out, "usage: tramsync");
        refuse(what, out, "cách dùng");
        free(out);
        free(err);
    }
    /* the program's own usage */
    char *out = NULL, *err = NULL;
    e->st.env = vi_env;
    assert_int_equal(ts_test_station_cli2(&e->st, &out, &err, "--help", NULL), 0);
    expect("tramsync --help", out, "Các lệnh:");
    expect("tramsync --help", out, "văn bản từ trung tâm");
    free(out);
    free(err);
    /* an English locale picks English, --lang vi wins over it */
    e->st.env = en_env;
    assert_int_equal(ts_test_station_cli2(&e->st, &out, &err, "--help", NULL), 0);
    expect("tramsync --help (LANG=en_US.UTF-8)", out, "Commands:");
    free(out);
    free(err);
    assert_int_equal(ts_test_station_cli2(&e->st, &out, &err, "--lang", "vi", "tasks", "--help", NULL), 0);
    expect("tramsync --lang vi tasks --help (LANG=en_US.UTF-8)", out, "cách dùng");
    free(out);
    free(err);
}

static void test_errors_in_both_languages(void **state)
{
    env *e = *state;
    char *out = NULL, *err = NULL;
    e->st.env = vi_env;
    /* usage */
    assert_int_equal(ts_test_station_cli2(&e->st, &out, &err, "frobnicate", NULL), 2);
    expect("an unknown command", err, "không có lệnh \"frobnicate\"");
    expect("an unknown command", err, "cách dùng");
    free(out);
    free(err);
    assert_int_equal(ts_test_station_cli2(&e->st, &out, &err, "--frob", "status", NULL), 2);
    expect("an unknown option", err, "không có tùy chọn --frob");
    free(out);
    free(err);
    assert_int_equal(ts_test_station_cli2(&e->st, &out, &err, "ack", NOTICE, NULL), 2);
    expect("ack without --by", err, "cách dùng: tramsync");
    free(out);
    free(err);
    /* this layer's own errors */
    assert_int_equal(ts_test_station_cli2(&e->st, &out, &err, "ack", "TB-nosuch", "--by", "An", NULL), 3);
    expect("ack of nothing", err, "tramsync: không có văn bản hay nhiệm vụ TB-nosuch gửi cho trạm này");
    free(out);
    free(err);
    assert_int_equal(ts_test_station_cli2(&e->st, &out, &err, "--lang", "en", "ack", "TB-nosuch", "--by", "An", NULL),
                     3);
    expect("ack of nothing (en)", err, "tramsync: no notice or task TB-nosuch addressed to this station");
    free(out);
    free(err);
    assert_int_equal(ts_test_station_cli2(&e->st, &out, &err, "list", "nosuch", NULL), 3);
    expect("list of no table", err, "không có bảng \"nosuch\"");
    free(out);
    free(err);
    assert_int_equal(ts_test_station_cli2(&e->st, &out, &err, "progress", TASK, "--state", "done", NULL), 4);
    expect("done without a report", err, "--report");
    refuse("done without a report", err, "a task is done");
    free(out);
    free(err);
    /* a lower layer's English, after a Vietnamese sentence; --json keeps its code */
    assert_int_equal(ts_test_station_cli2(&e->st, &out, &err, "put", "residents", "BN-1", "full_name=Lan",
                                          "birth_date=1990-02-30", "sex=female", NULL),
                     4);
    expect("a refused put", err, "tramsync: không lưu được bản ghi: field birth_date");
    free(out);
    free(err);
    assert_int_equal(ts_test_station_cli2(&e->st, &out, &err, "--lang", "en", "--json", "put", "residents", "BN-1",
                                          "full_name=Lan", "birth_date=1990-02-30", "sex=female", NULL),
                     4);
    expect("a refused put (en)", err, "tramsync: field birth_date");
    expect("a refused put (--json)", out, "\"code\":\"INVALID_RECORD\"");
    free(out);
    free(err);
    /* an English locale */
    e->st.env = en_env;
    assert_int_equal(ts_test_station_cli2(&e->st, &out, &err, "frobnicate", NULL), 2);
    expect("an unknown command (LANG=en_US.UTF-8)", err, "unknown command \"frobnicate\"");
    free(out);
    free(err);
}

/* ---------------------------------------------------------------- 2. a notice */

static void test_notice_labels(void **state)
{
    env *e = *state;
    char *out = NULL;
    e->st.env = vi_env;
    assert_int_equal(ts_test_station_cli(&e->st, &out, "--lang", "vi", "notice", "show", NOTICE, NULL), 0);
    const char *what = "notice show";
    expect(what, out, "Trích yếu");
    expect(what, out, "Cơ quan ban hành");
    expect(what, out, "Trung tâm Y tế khu vực Bình Xuyên");
    expect(what, out, "Người xác nhận");
    expect(what, out, "Thượng khẩn");
    expect(what, out, "Đã xác nhận");
    refuse(what, out, "Nơi ban hành");
    refuse(what, out, "Xác nhận bởi");
    refuse(what, out, "(Very urgent)"); /* one language at a time */
    assert_true(utf8_valid(out));
    free(out);
    assert_int_equal(ts_test_station_cli(&e->st, &out, "--lang", "en", "notice", "show", NOTICE, NULL), 0);
    what = "notice show (en)";
    expect(what, out, "Subject");
    expect(what, out, "Issued by");
    expect(what, out, "Acknowledged by");
    expect(what, out, "Very urgent");
    refuse(what, out, "Trích yếu");
    free(out);
}

static void test_notice_dates(void **state)
{
    env *e = *state;
    char *out = NULL;
    e->st.env = vi_env;
    assert_int_equal(ts_test_station_cli(&e->st, &out, "--lang", "vi", "notice", "show", NOTICE, NULL), 0);
    const char *what = "notice show";
    expect(what, out, "Nguyễn Thị Hạnh, 01/12/2026 09:30"); /* 02:30:00.250Z in UTC+7 */
    expect(what, out, "10/12/2026 17:00");
    expect(what, out, "01/12/2026\n"); /* the issue date, a calendar date */
    refuse(what, out, "2026-12-10T");
    refuse(what, out, "2026-12-01");
    free(out);
    assert_int_equal(ts_test_station_cli(&e->st, &out, "--lang", "en", "notice", "show", NOTICE, NULL), 0);
    expect("notice show (en)", out, "10/12/2026 17:00");
    free(out);
    /* times are the district's, not the PC's: the same deadline on a PC set to UTC */
    static const char *const utc_env[] = {"LC_ALL=", "LC_MESSAGES=", "LANG=vi_VN.UTF-8", "TZ=UTC0", NULL};
    e->st.env = utc_env;
    assert_int_equal(ts_test_station_cli(&e->st, &out, "notice", "show", NOTICE, NULL), 0);
    expect("notice show (TZ=UTC)", out, "10/12/2026 17:00");
    refuse("notice show (TZ=UTC)", out, "10/12/2026 10:00");
    free(out);
    /* the list says the deadline too, the same way */
    e->st.env = vi_env;
    assert_int_equal(ts_test_station_cli(&e->st, &out, "notices", "--all", NULL), 0);
    expect("notices", out, "hạn xử lý 10/12/2026 17:00");
    refuse("notices", out, "2026-12-10T");
    free(out);
    assert_int_equal(ts_test_station_cli(&e->st, &out, "tasks", NULL), 0);
    expect("tasks", out, "Hạn xử lý: 31/12/2026");
    refuse("tasks", out, "2026-12-31");
    free(out);
    /* --json keeps the stored values */
    assert_int_equal(ts_test_station_cli(&e->st, &out, "--json", "notice", "show", NOTICE, NULL), 0);
    expect("notice show --json", out, "\"deadline\": \"2026-12-10T17:00:00+07:00\"");
    free(out);
}

/* ---------------------------------------------------------------- 3. a plan task */

static void test_task_cut_on_characters(void **state)
{
    env *e = *state;
    char *out = NULL;
    e->st.env = vi_env;
    assert_int_equal(ts_test_station_cli(&e->st, &out, "tasks", NULL), 0);
    if (!utf8_valid(out))
        fail_msg("tasks prints invalid UTF-8:\n%s", out);
    /* 160 characters, the last one "…" (then "ngư…" is no longer cut) */
    expect("tasks", out, "nâng cao sức khỏe người dân; tăng cường công tác dân số; đẩy mạ…\n");
    expect("tasks", out, "Đã nhận");
    refuse("tasks", out, "(Delivered)");
    free(out);
}

static void test_task_with_instructions(void **state)
{
    env *e = *state;
    char *out = NULL;
    e->st.env = vi_env;
    assert_int_equal(ts_test_station_cli(&e->st, &out, "tasks", NULL), 0);
    expect("tasks", out, "Hướng dẫn: ");
    expect("tasks", out, instructions);
    free(out);
    assert_int_equal(ts_test_station_cli(&e->st, &out, "--lang", "en", "tasks", NULL), 0);
    expect("tasks (en)", out, "Instructions: ");
    expect("tasks (en)", out, "Deadline: 31/12/2026");
    free(out);
    /* in full: the task's own label, the plan's fields, the instructions */
    assert_int_equal(ts_test_station_cli(&e->st, &out, "notice", "show", TASK, NULL), 0);
    const char *what = "notice show of a task";
    expect(what, out, "Hướng dẫn");
    expect(what, out, instructions);
    expect(what, out, "Nhiệm vụ");
    expect(what, out, task21);
    expect(what, out, "Cơ quan chủ trì");
    expect(what, out, "Thời gian thực hiện");
    expect(what, out, "31/12/2026");
    refuse(what, out, "Trích yếu");
    refuse(what, out, "2026-12-31");
    free(out);
}

/* ---------------------------------------------------------------- 7. enum values */

/* issue 16, point 10: get, list and tables name an enum value as the
 * registry's value_labels do, in the staff's language, with its code (which
 * put takes) after it */
static void test_enum_values_labelled(void **state)
{
    env *e = *state;
    char *out = NULL;
    e->st.env = vi_env;
    assert_int_equal(ts_test_station_cli(&e->st, &out, "put", "disease_cases", "CB-1", "disease=Sốt xuất huyết Dengue",
                                         "diagnosis_date=2026-11-20", "classification=confirmed",
                                         "outcome=under_treatment", NULL),
                     0);
    free(out);
    assert_int_equal(ts_test_station_cli(&e->st, &out, "get", "disease_cases", "CB-1", NULL), 0);
    expect("get", out, "Ca bệnh xác định (confirmed)");
    expect("get", out, "Đang điều trị (under_treatment)");
    refuse("get", out, "\"under_treatment\"");
    free(out);
    assert_int_equal(ts_test_station_cli(&e->st, &out, "list", "disease_cases", NULL), 0);
    expect("list", out, "Đang điều trị (under_treatment)");
    free(out);
    assert_int_equal(ts_test_station_cli(&e->st, &out, "--lang", "en", "get", "disease_cases", "CB-1", NULL), 0);
    expect("get (en)", out, "Under treatment (under_treatment)");
    free(out);
    assert_int_equal(ts_test_station_cli(&e->st, &out, "tables", NULL), 0);
    expect("tables", out, "under_treatment    Đang điều trị");
    free(out);
    /* --json keeps the code alone */
    assert_int_equal(ts_test_station_cli(&e->st, &out, "--json", "get", "disease_cases", "CB-1", NULL), 0);
    expect("get --json", out, "\"under_treatment\"");
    refuse("get --json", out, "Đang điều trị");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_help_in_both_languages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_in_both_languages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notice_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notice_dates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_cut_on_characters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_with_instructions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enum_values_labelled, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
