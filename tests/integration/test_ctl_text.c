/* What the district's staff read from `tramsyncctl` (the ops tool speaks
 * Vietnamese first): the real program against a real tramsyncd and real
 * agents, the locale cleared so that only what a test gives decides.
 *
 *  1. usage and errors are Vietnamese by default, English with --lang en or
 *     an English locale (LANG=en_US.UTF-8); --lang fr is refused
 *  2. status, notice send/list/show, task assign/list/status, escalations:
 *     Vietnamese words, the registry's labels for every code (urgency,
 *     handling state), dates as dd/mm/yyyy [HH:MM] in the district's time
 *     zone even where tramsyncctl runs in another (TZ=UTC), never an ISO
 *     date or a raw code; English with --lang en; --json as the API gives it
 *  3. an outbreak opened from a station's outbreak report (outbreak open),
 *     listed and shown: its status by the registry's label, its dates
 *     dd/mm/yyyy, its timeline's entries named */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/ts_notice.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_watchdog.h"

#define TEST_LIMIT_S 150
#define BN "binhnguyen"
#define XL "xuanlang"

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    ts_test_station st[2];
    char *envs[8]; /* the connection, for every run */
    bool passed;
} env;

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("ctltext");
    const char *codes[] = {BN, XL};
    ts_test_pki_make(&e->pki, e->dir, codes, 2);
    ts_test_watchdog_arm("test_ctl_text", TEST_LIMIT_S);
    ts_test_watchdog_watch(&e->d.pid);
    for (int i = 0; i < 2; i++)
        ts_test_watchdog_watch(&e->st[i].pid);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    ts_test_watchdog_disarm();
    for (int i = 0; i < 2; i++)
        if (e->st[i].code)
            ts_test_station_free(&e->st[i]);
    if (!e->passed && e->d.log)
        ts_test_log_tail(e->d.log, 60);
    ts_test_daemon_free(&e->d);
    ts_test_pki_free(&e->pki);
    for (int i = 0; e->envs[i]; i++)
        free(e->envs[i]);
    ts_tmpdir_remove(e->dir);
    free(e);
    return 0;
}

/* tramsyncctl with argv (NULL-terminated) and the extra environment
 * `extra` (NAME=value, NULL-terminated, may be NULL), the locale cleared
 * first; what it wrote on stdout in *out, on stderr in *err (either may be
 * NULL); its exit status. */
static int ctl_run(env *e, const char *const *extra, char **out, char **err, const char *const *argv)
{
    char *bin = ts_test_bin("tramsyncctl");
    char *outfile = ts_xasprintf("%s/ctl.out", e->dir), *errfile = ts_xasprintf("%s/ctl.err", e->dir);
    const char *args[32];
    int n = 0;
    args[n++] = bin;
    for (int i = 0; argv[i] && n < 31; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fe, 2);
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        unsetenv("LC_ALL");
        unsetenv("LC_MESSAGES");
        unsetenv("LANG");
        unsetenv("TRAMSYNC_USER");
        for (int i = 0; e->envs[i]; i++)
            putenv(e->envs[i]);
        for (int i = 0; extra && extra[i]; i++)
            putenv((char *)extra[i]);
        execv(bin, (char *const *)args);
        _exit(127);
    }
    int status = 0;
    uint64_t end = ts_test_now_ms() + 60000;
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (ts_test_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("tramsyncctl %s did not finish within 60 s", argv[0]);
        }
        ts_test_sleep_ms(10);
    }
    char *o = ts_read_file(outfile, NULL), *r = ts_read_file(errfile, NULL);
    if (out)
        *out = o ? o : ts_xstrdup("");
    else
        free(o);
    if (err)
        *err = r ? r : ts_xstrdup("");
    else
        free(r);
    free(outfile);
    free(errfile);
    free(bin);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs it and wants exit 0; its output. */
static char *ctl_ok(env *e, const char *const *extra, const char *const *argv)
{
    char *out, *err;
    int rc = ctl_run(e, extra, &out, &err, argv);
    if (rc != 0)
        fail_msg("tramsyncctl %s %s: exit %d\n%s%s", argv[0], argv[1] ? argv[1] : "", rc, out, err);
    free(err);
    return out;
}

static void expect_in(const char *what, const char *text, const char *needle)
{
    if (strstr(text, needle) == NULL)
        fail_msg("%s does not say \"%s\":\n%s", what, needle, text);
}

static void expect_not_in(const char *what, const char *text, const char *needle)
{
    if (strstr(text, needle) != NULL)
        fail_msg("%s says \"%s\":\n%s", what, needle, text);
}

/* No ISO date (2026-12-07) and none of the codes (as whole words) in text. */
static void expect_no_codes(const char *what, const char *text, const char *const *codes)
{
    regex_t re;
    assert_int_equal(regcomp(&re, "[0-9]{4}-[0-9]{2}-[0-9]{2}", REG_EXTENDED | REG_NOSUB), 0);
    bool iso = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    if (iso)
        fail_msg("%s shows an ISO date:\n%s", what, text);
    for (size_t i = 0; codes[i]; i++) {
        char *pat = ts_xasprintf("(^|[^A-Za-z_])%s($|[^A-Za-z_])", codes[i]);
        assert_int_equal(regcomp(&re, pat, REG_EXTENDED | REG_NOSUB), 0);
        bool found = regexec(&re, text, 0, NULL, 0) == 0;
        regfree(&re);
        free(pat);
        if (found)
            fail_msg("%s shows the code \"%s\":\n%s", what, codes[i], text);
    }
}

/* A line of the output that docs/ADMIN-API.md shows as it is (a table's
 * heads): the example and the program must not drift apart. */
static void expect_doc_line(const char *what, const char *out, const char *line)
{
    char *path = ts_source_path("docs/ADMIN-API.md");
    char *doc = ts_read_file(path, NULL);
    if (doc == NULL)
        fail_msg("cannot read %s", path);
    char *want = ts_xasprintf("\n%s\n", line);
    if (strstr(doc, want) == NULL)
        fail_msg("docs/ADMIN-API.md does not show the line of %s \"%s\"", what, line);
    expect_in(what, out, want);
    free(want);
    free(doc);
    free(path);
}

/* The district's time of an ISO time as dd/mm/yyyy HH:MM: Asia/Ho_Chi_Minh
 * is UTC+7 all year. */
static void district_time(const char *iso, char *out, size_t size)
{
    uint64_t ms;
    assert_true(ts_time_parse(iso, &ms));
    time_t t = (time_t)(ms / 1000) + 7 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%d/%m/%Y %H:%M", &tm);
}

/* The daemon (district time zone Asia/Ho_Chi_Minh, the default), its
 * directory naming both stations, both agents running; tramsyncctl
 * connects with the admin certificate. */
static void start(env *e)
{
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);
    char *cert = ts_test_pki_cert(&e->pki, "admin"), *key = ts_test_pki_key(&e->pki, "admin");
    e->envs[0] = ts_xasprintf("TRAMSYNC_ADMIN_URL=https://localhost:%d", e->d.admin_port);
    e->envs[1] = ts_xasprintf("TRAMSYNC_CA=%s", e->pki.ca);
    e->envs[2] = ts_xasprintf("TRAMSYNC_ADMIN_CERT=%s", cert);
    e->envs[3] = ts_xasprintf("TRAMSYNC_ADMIN_KEY=%s", key);
    free(cert);
    free(key);
    static const char *const codes[] = {BN, XL};
    static const char *const names[] = {"Bình Nguyên", "Xuân Lãng"};
    const char *sets[] = {"sync.debounce=50ms", "sync.poll=50ms", NULL};
    for (int i = 0; i < 2; i++) {
        char name[80], commune[80];
        snprintf(name, sizeof name, "name=Trạm Y tế xã %s", names[i]);
        snprintf(commune, sizeof commune, "commune=%s", names[i]);
        const char *put[] = {"record", "put", "stations", codes[i], name, commune, NULL};
        free(ctl_ok(e, NULL, put));
        ts_test_station_make(&e->st[i], e->dir, codes[i], &e->pki, e->d.port, sets);
        ts_test_station_start(&e->st[i]);
    }
}

/* ================================================================ 1. usage, errors */

static void test_usage_and_errors(void **state)
{
    env *e = *state;
    const char *none[] = {NULL};
    char *out, *err;
    assert_int_equal(ctl_run(e, NULL, &out, &err, none), 2);
    expect_in("usage", err, "cách dùng: tramsyncctl");
    expect_in("usage", err, "--lang vi|en");
    expect_not_in("usage", err, "Commands:");
    free(out);
    free(err);
    const char *en[] = {"--lang", "en", NULL};
    assert_int_equal(ctl_run(e, NULL, &out, &err, en), 2);
    expect_in("usage --lang en", err, "usage: tramsyncctl");
    free(out);
    free(err);
    const char *locale[] = {"LANG=en_US.UTF-8", NULL};
    assert_int_equal(ctl_run(e, locale, &out, &err, none), 2);
    expect_in("usage, LANG=en_US.UTF-8", err, "Commands:");
    free(out);
    free(err);
    /* --lang vi wins over an English locale */
    const char *vi_help[] = {"--lang", "vi", "--help", NULL};
    assert_int_equal(ctl_run(e, locale, &out, &err, vi_help), 0);
    expect_in("--lang vi --help", out, "Các lệnh:");
    free(out);
    free(err);
    const char *fr[] = {"--lang", "fr", "status", NULL};
    assert_int_equal(ctl_run(e, NULL, &out, &err, fr), 2);
    expect_in("--lang fr", err, "vi");
    free(out);
    free(err);
    /* the API commands' help */
    const char *help[] = {"notice", "--help", NULL};
    assert_int_equal(ctl_run(e, NULL, &out, &err, help), 0);
    expect_in("notice --help", out, "Các lệnh qua API quản trị");
    free(out);
    free(err);
    /* no daemon there: said in Vietnamese, in English when asked */
    const char *nowhere[] = {"TRAMSYNC_ADMIN_URL=https://localhost:1", NULL};
    const char *status[] = {"status", "--cert", "x.pem", NULL};
    assert_int_equal(ctl_run(e, nowhere, &out, &err, status), 1);
    expect_in("status without a daemon", err, "không kết nối được API quản trị ở localhost:1");
    free(out);
    free(err);
    const char *status_en[] = {"--lang", "en", "status", "--cert", "x.pem", NULL};
    assert_int_equal(ctl_run(e, nowhere, &out, &err, status_en), 1);
    expect_in("status --lang en without a daemon", err, "cannot connect to the admin API at localhost:1");
    free(out);
    free(err);
    /* the CA, on files: Vietnamese, its codes in words */
    char *pki = ts_xasprintf("%s/pki2", e->dir);
    out = ctl_ok(e, NULL, (const char *[]){"--pki", pki, "ca", "init", "--name", "TTYT thử", NULL});
    expect_in("ca init", out, "đã tạo CA của huyện ở");
    free(out);
    out = ctl_ok(e, NULL, (const char *[]){"--pki", pki, "ca", "issue-server", "localhost", NULL});
    expect_in("ca issue-server", out, "đã cấp chứng thư máy chủ cho localhost");
    free(out);
    out = ctl_ok(e, NULL, (const char *[]){"--pki", pki, "ca", "list", NULL});
    expect_in("ca list", out, "SỐ SÊ-RI");
    expect_in("ca list", out, "máy chủ");
    expect_in("ca list", out, "còn hiệu lực");
    expect_no_codes("ca list", out, (const char *const[]){"server", "valid", "days", NULL});
    free(out);
    out = ctl_ok(e, NULL, (const char *[]){"--lang", "en", "--pki", pki, "ca", "list", NULL});
    expect_in("ca list --lang en", out, "SERIAL");
    expect_in("ca list --lang en", out, "server");
    expect_in("ca list --lang en", out, " valid ");
    free(out);
    free(pki);
    /* a backup that is none */
    char *junk = ts_xasprintf("%s/khong-phai-sao-luu.db", e->dir);
    FILE *jf = fopen(junk, "w");
    assert_non_null(jf);
    fputs("không phải cơ sở dữ liệu\n", jf);
    fclose(jf);
    assert_int_not_equal(ctl_run(e, NULL, &out, &err, (const char *[]){"verify-backup", junk, NULL}), 0);
    expect_in("verify-backup of a junk file", out, "KHÔNG DÙNG ĐƯỢC");
    free(out);
    free(err);
    free(junk);
    /* no credentials */
    const char *anon[] = {"escalations", NULL};
    assert_int_equal(ctl_run(e, nowhere, &out, &err, anon), 1);
    expect_in("escalations without credentials", err, "hãy đăng nhập bằng --user");
    free(out);
    free(err);
    e->passed = true;
}

/* ================================================================ 2. status, notices, tasks, escalations */

/* Codes none of the outputs may show. */
static const char *const notice_codes[] = {"hoa_toc", "thuong_khan", "khan", "prevention", "sent", "delivered",
                                           "acknowledged", "in_progress", "online", "SILENT", "OVERDUE", NULL};

static void test_notices_tasks_status(void **state)
{
    env *e = *state;
    start(e);
    const char *utc[] = {"TZ=UTC", NULL};

    /* a notice to Bình Nguyên, Hỏa tốc: urgent and not acknowledged at once */
    const char *send[] = {"notice",     "send",     "--subject",  "Khẩn cấp xử lý ổ dịch sốt xuất huyết",
                          "--urgency",  "hoa_toc",  "--category", "prevention",
                          "--number",   "76/CĐ-TTYT", "--deadline", "2026-12-10T17:00:00+07:00",
                          "--stations", BN,         NULL};
    char *out = ctl_ok(e, NULL, send);
    expect_in("notice send", out, "đã gửi văn bản TB-");
    expect_in("notice send", out, "tới 1 trạm");
    char id[64];
    assert_int_equal(sscanf(strstr(out, "TB-"), "%63s", id), 1);
    free(out);

    /* status */
    out = ctl_ok(e, NULL, (const char *[]){"status", NULL});
    expect_in("status", out, "Trạm          ");
    expect_in("status", out, "khẩn chưa xác nhận");
    expect_in("status", out, "TRẠM             TÌNH TRẠNG");
    expect_in("status", out, "CHỨNG THƯ");
    expect_in("status", out, "ngày");
    expect_doc_line("status", out,
                    "TRẠM             TÌNH TRẠNG    LẦN CUỐI THẤY     ĐỒNG BỘ CUỐI      CHỜ        CHỨNG THƯ");
    print_message("%s", out);
    expect_no_codes("status", out, notice_codes);
    free(out);
    out = ctl_ok(e, NULL, (const char *[]){"--lang", "en", "status", NULL});
    expect_in("status --lang en", out, "Stations      ");
    expect_in("status --lang en", out, "STATION          STATE");
    expect_doc_line("status --lang en", out,
                    "STATION          STATE         LAST SEEN         LAST SYNC         LAG        CERTIFICATE");
    print_message("%s", out);
    free(out);

    /* notice list */
    out = ctl_ok(e, NULL, (const char *[]){"notice", "list", NULL});
    expect_in("notice list", out, "Hỏa tốc");
    expect_in("notice list", out, "76/CĐ-TTYT");
    expect_in("notice list", out, " đã gửi, ");
    expect_in("notice list", out, " đã nhận, ");
    expect_in("notice list", out, " đã xác nhận, ");
    print_message("%s", out);
    expect_no_codes("notice list", out, notice_codes);
    free(out);
    out = ctl_ok(e, NULL, (const char *[]){"--lang", "en", "notice", "list", NULL});
    expect_in("notice list --lang en", out, "Immediate");
    expect_in("notice list --lang en", out, "sent, ");
    free(out);

    /* notice show: the deadline and the times in the district's time zone,
     * tramsyncctl running in UTC */
    const char *show_json[] = {"--json", "notice", "show", id, NULL};
    char when[32] = "";
    uint64_t end = ts_test_now_ms() + 20000;
    while (when[0] == '\0' && ts_test_now_ms() < end) {
        out = ctl_ok(e, utc, show_json);
        json_t *shown = json_loads(out, 0, NULL);
        if (shown == NULL)
            fail_msg("--json notice show is not JSON:\n%s", out);
        free(out);
        /* --json as the API gives it: codes and ISO times */
        const json_t *f = json_object_get(shown, "fields");
        assert_string_equal(json_string_value(json_object_get(f, "urgency")), "hoa_toc");
        assert_string_equal(json_string_value(json_object_get(f, "deadline")), "2026-12-10T17:00:00+07:00");
        const json_t *r0 = json_array_get(json_object_get(shown, "recipients"), 0);
        /* delivered (the agent runs), and nobody acknowledges: it stays so */
        if (strcmp(json_string_value(json_object_get(r0, "state")), "delivered") == 0)
            district_time(json_string_value(json_object_get(r0, "delivered_at")), when, sizeof when);
        else
            ts_test_sleep_ms(100);
        json_decref(shown);
    }
    if (when[0] == '\0')
        fail_msg("notice %s never delivered", id);
    const char *show[] = {"notice", "show", id, NULL};
    out = ctl_ok(e, utc, show);
    expect_in("notice show", out, "hạn xử lý 10/12/2026 17:00");
    expect_in("notice show", out, "Y tế dự phòng");
    expect_in("notice show", out, "TRẠM             TRẠNG THÁI");
    expect_doc_line("notice show", out,
                    "TRẠM             TRẠNG THÁI                     THỜI ĐIỂM              NGƯỜI XÁC NHẬN               LƯU Ý");
    expect_in("notice show (the district's time, TZ=UTC)", out, when);
    expect_in("notice show", out, "Đã nhận");
    print_message("%s", out);
    expect_no_codes("notice show", out, notice_codes);
    free(out);
    out = ctl_ok(e, utc, (const char *[]){"--lang", "en", "notice", "show", id, NULL});
    expect_in("notice show --lang en", out, "deadline 10/12/2026 17:00");
    expect_in("notice show --lang en", out, "STATION          STATE");
    expect_doc_line("notice show --lang en", out,
                    "STATION          STATE                          WHEN                   WHO                          FLAGS");
    expect_in("notice show --lang en", out, "Delivered");
    free(out);

    /* what the daemon refuses: its words after what happened */
    char *err;
    assert_int_equal(ctl_run(e, NULL, &out, &err, (const char *[]){"notice", "show", "TB-khong-co", NULL}), 3);
    expect_in("notice show of no notice", err, "GET /api/notices/TB-khong-co: 404 không tìm thấy: ");
    free(out);
    free(err);
    assert_int_equal(ctl_run(e, NULL, &out, &err, (const char *[]){"--lang", "en", "notice", "show", "TB-khong-co", NULL}),
                     3);
    expect_in("notice show --lang en of no notice", err, "GET /api/notices/TB-khong-co: 404 ");
    expect_not_in("notice show --lang en of no notice", err, "không tìm thấy");
    free(out);
    free(err);

    /* escalations: the urgent notice nobody acknowledged */
    out = ctl_ok(e, NULL, (const char *[]){"escalations", NULL});
    expect_in("escalations", out, "Trạm Y tế xã Bình Nguyên");
    expect_in("escalations", out, "Văn bản 76/CĐ-TTYT: Khẩn cấp xử lý ổ dịch sốt xuất huyết");
    expect_in("escalations", out, "Hỏa tốc, hạn 10/12/2026 17:00 — khẩn chưa xác nhận");
    print_message("%s", out);
    expect_no_codes("escalations", out, notice_codes);
    free(out);
    out = ctl_ok(e, NULL, (const char *[]){"--lang", "en", "escalations", NULL});
    expect_in("escalations --lang en", out, "Notice 76/CĐ-TTYT");
    expect_in("escalations --lang en", out, "urgent, not acknowledged");
    free(out);
    out = ctl_ok(e, (const char *[]){"LANG=en_US.UTF-8", NULL}, (const char *[]){"escalations", NULL});
    expect_in("escalations, LANG=en_US.UTF-8", out, "Immediate, deadline 10/12/2026 17:00 — urgent, not acknowledged");
    free(out);
    out = ctl_ok(e, NULL, (const char *[]){"--json", "escalations", NULL});
    json_t *esc = json_loads(out, 0, NULL);
    assert_non_null(esc);
    assert_int_equal(json_integer_value(json_object_get(esc, "urgent_unacknowledged")), 1);
    json_decref(esc);
    free(out);

    /* a conflict waiting for review, as a merge records it (written in the
     * district's database here: the test reads how it is shown) */
    char *dbpath = ts_xasprintf("%s/district.db", e->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *sql = ts_xasprintf(
        "INSERT INTO conflicts(tbl, rec_id, field, winner_value, winner_replica, winner_counter, winner_hlc,"
        " loser_value, loser_replica, loser_counter, loser_hlc, rule, detected_at, detected_by, actor)"
        " VALUES ('notice_recipients', '%s:" BN "', 'acknowledged_by', X'a3416e68', 'district.1', 2, 200,"
        " X'a3426963', '" BN ".1', 2, 100, 'later-hlc', 1796536512345, 'district.1', '" BN "')",
        id);
    char *sqlerr = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &sqlerr) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlerr);
    sqlite3_close(db);
    free(sql);
    free(dbpath);
    char detected[32];
    district_time("2026-12-06T05:55:12Z", detected, sizeof detected); /* 1796536512345 ms */
    out = ctl_ok(e, utc, (const char *[]){"conflicts", NULL});
    expect_in("conflicts", out, "Tình trạng xử lý văn bản, bản ghi ");
    expect_in("conflicts", out, "trường Người xác nhận: phát hiện ");
    expect_in("conflicts", out, detected);
    expect_in("conflicts", out, "(thay đổi của " BN ")");
    expect_no_codes("conflicts", out, (const char *const[]){"acknowledged_by", "notice_recipients", NULL});
    print_message("%s", out);
    free(out);
    out = ctl_ok(e, utc, (const char *[]){"--lang", "en", "conflicts", NULL});
    expect_in("conflicts --lang en", out, "Notice handling per station, record ");
    free(out);

    /* a task of the plan, assigned to Xuân Lãng */
    char *plan = ts_source_path("server/data/plans/binh-dinh-2024.json");
    out = ctl_ok(e, NULL, (const char *[]){"plan", "load", plan, NULL});
    expect_in("plan load", out, "ế hoạch phiên bản 1"); /* loaded, or already loaded at start */
    expect_not_in("plan load", out, "loaded");
    free(out);
    free(plan);
    out = ctl_ok(e, NULL, (const char *[]){"plan", "show", NULL});
    expect_in("plan show", out, "Kế hoạch đang áp dụng (phiên bản 1):");
    expect_in("plan show", out, "Các phiên bản đã nạp:");
    expect_not_in("plan show", out, "plan in force");
    free(out);
    out = ctl_ok(e, NULL, (const char *[]){"--lang", "en", "plan", "show", NULL});
    expect_in("plan show --lang en", out, "Plan in force (version 1):");
    expect_not_in("plan show --lang en", out, "Kế hoạch đang áp dụng");
    free(out);
    const char *assign[] = {"task", "assign", "KH-21", "--stations", XL, "--deadline", "2027-01-15", NULL};
    out = ctl_ok(e, NULL, assign);
    expect_in("task assign", out, "đã giao nhiệm vụ KH-21 cho 1 trạm");
    free(out);
    out = ctl_ok(e, NULL, (const char *[]){"task", "list", NULL});
    expect_in("task list", out, "chủ trì: ");
    expect_in("task list", out, "thời hạn: Nhiệm vụ thường xuyên");
    expect_in("task list", out, "đã giao: ");
    print_message("%.600s\n", strstr(out, "KH-21") ? strstr(out, "KH-21") : out);
    expect_no_codes("task list", out, notice_codes);
    free(out);
    out = ctl_ok(e, NULL, (const char *[]){"task", "status", "KH-21", NULL});
    expect_in("task status", out, "hạn 15/01/2027");
    expect_in("task status", out, XL);
    print_message("%s", out);
    expect_no_codes("task status", out, notice_codes);
    free(out);
    out = ctl_ok(e, NULL, (const char *[]){"--lang", "en", "task", "status", "KH-21", NULL});
    expect_in("task status --lang en", out, "deadline 15/01/2027");
    free(out);
    out = ctl_ok(e, NULL, (const char *[]){"--json", "task", "status", "KH-21", NULL});
    json_t *task = json_loads(out, 0, NULL);
    assert_non_null(task);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(task, "assignments"), 0),
                                                          "deadline")),
                        "2027-01-15");
    json_decref(task);
    free(out);
    e->passed = true;
}

/* ================================================================ 3. an outbreak */

static void test_outbreak(void **state)
{
    env *e = *state;
    start(e);
    /* Bình Nguyên reports an outbreak (its staff, at the station) */
    char *out = NULL;
    int rc = ts_test_station_cli(&e->st[0], &out, "--json", "report", "--kind", "outbreak_detection", "--subject",
                                 "Ổ dịch tay chân miệng trường mầm non", "--disease", "Tay chân miệng", "--cases",
                                 "2", "--onset", "2026-11-17", "--by", "Trần Văn Bình", NULL);
    if (rc != 0)
        fail_msg("tramsync report: exit %d %s", rc, out ? out : "");
    json_t *o = json_loads(out, 0, NULL);
    char rep[128];
    snprintf(rep, sizeof rep, "%s", json_string_value(json_object_get(o, "id")));
    json_decref(o);
    free(out);
    /* the district opens it once the report is there */
    char *ob = NULL;
    uint64_t end = ts_test_now_ms() + 20000;
    while (ob == NULL && ts_test_now_ms() < end) {
        char *err;
        const char *open_argv[] = {"outbreak", "open", rep, "--stations", XL, NULL};
        if (ctl_run(e, NULL, &out, &err, open_argv) == 0) {
            expect_in("outbreak open", out, "đã mở ổ dịch OD-");
            expect_in("outbreak open", out, "(Tay chân miệng), các trạm: " BN " " XL);
            char id[64];
            assert_int_equal(sscanf(strstr(out, "OD-"), "%63s", id), 1);
            ob = ts_xstrdup(id);
        } else {
            ts_test_sleep_ms(100);
        }
        free(out);
        free(err);
    }
    if (ob == NULL)
        fail_msg("outbreak open %s never succeeded", rep);
    static const char *const codes[] = {"detected", "ongoing", "outbreak_detection", "notice", NULL};

    out = ctl_ok(e, NULL, (const char *[]){"outbreak", "list", NULL});
    expect_in("outbreak list", out, ob);
    expect_in("outbreak list", out, "Mới phát hiện");
    expect_in("outbreak list", out, "17/11/2026  Tay chân miệng, 2 ca, 0 tử vong");
    print_message("%s", out);
    expect_no_codes("outbreak list", out, codes);
    free(out);
    out = ctl_ok(e, NULL, (const char *[]){"--lang", "en", "outbreak", "list", NULL});
    expect_in("outbreak list --lang en", out, "Detected");
    expect_in("outbreak list --lang en", out, "Hand, foot and mouth disease, 2 cases, 0 deaths");
    free(out);

    const char *show[] = {"outbreak", "show", ob, NULL};
    out = ctl_ok(e, NULL, show);
    expect_in("outbreak show", out, "Tay chân miệng  Mới phát hiện");
    expect_in("outbreak show", out, "phát hiện 17/11/2026, 2 ca");
    expect_in("outbreak show", out, "các trạm liên quan: " BN ", " XL);
    expect_in("outbreak show", out, "Diễn biến (1):");
    expect_doc_line("outbreak show", out, "Diễn biến (1):");
    expect_in("outbreak show", out, "Trạm Y tế xã Bình Nguyên: Ổ dịch tay chân miệng trường mầm non");
    print_message("%s", out);
    expect_no_codes("outbreak show", out, codes);
    free(out);
    out = ctl_ok(e, NULL, (const char *[]){"--lang", "en", "outbreak", "show", ob, NULL});
    expect_in("outbreak show --lang en", out, "started 17/11/2026, 2 cases");
    expect_in("outbreak show --lang en", out, "Timeline (1):");
    free(out);
    out = ctl_ok(e, NULL, (const char *[]){"--json", "outbreak", "show", ob, NULL});
    json_t *js = json_loads(out, 0, NULL);
    assert_non_null(js);
    const json_t *f = json_object_get(js, "fields");
    assert_string_equal(json_string_value(json_object_get(f, "status")), "detected");
    assert_string_equal(json_string_value(json_object_get(f, "started_on")), "2026-11-17");
    json_decref(js);
    free(out);
    free(ob);
    e->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_usage_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notices_tasks_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbreak, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
