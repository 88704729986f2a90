/* A notice as an official document, and commune accounts made on the
 * command line (issue 18), on the real tramsyncd over HTTPS:
 *
 *  1. GET /api/notices/{id}/pdf is an A4 PDF (pdfinfo) whose text
 *     (pdftotext) has what Nghị định 30/2020 puts on an administrative
 *     document: the parent body and the issuing body in capitals, the
 *     national motto, "Số: ..." , the place and the date in words of the
 *     district's day, the type in capitals and the trích yếu, the body with
 *     its deadline, the responsible person by name and position from the
 *     directory and the expected result, "Nơi nhận:" with the stations by
 *     name, the communes' UBND and "Lưu: VT.", and the signature block (the
 *     configured authority, the signer's position and name from the
 *     directory); a long body runs over several pages; tramsyncctl report
 *     notice ID --out FILE writes the same; an unknown notice is 404, a
 *     recalled one 409
 *  2. tramsyncd --add-user NAME --role commune --communes CODE (and a viewer
 *     with --communes A,B) while the daemon runs: a code the station
 *     directory does not have is refused in Vietnamese and English and
 *     nothing is stored; the commune account logs in and sees only its
 *     commune: its notices, the PDF of one addressed to it (Nơi nhận: its
 *     own station and UBND only), 404 for the other commune's notice; a
 *     monitor gets 403
 *  3. the place and date as the decree writes them (0 before days under
 *     10 and the months 1 and 2 only)
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/ts_buf.h"
#include "common/ts_xmalloc.h"
#include "server/ts_notice_pdf.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_watchdog.h"

#define TEST_LIMIT_S 240
#define PASSWORD "mat-khau-dai-2026"
#define BN "binhnguyen"
#define BX "binhxuyen"
#define MARK "Đoạn-cuối-văn-bản"

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    ts_th_opts o;
    char *admin;
    bool passed;
} env;

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("documents");
    const char *codes[] = {BN, BX};
    ts_test_pki_make(&e->pki, e->dir, codes, 2);
    e->o.ca = e->pki.ca;
    assert_int_equal(ts_test_add_user(e->dir, "admin", "admin", PASSWORD), 0);
    assert_int_equal(ts_test_add_user(e->dir, "prom", "monitor", PASSWORD), 0);
    ts_test_watchdog_arm("test_documents", TEST_LIMIT_S);
    ts_test_watchdog_watch(&e->d.pid);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    ts_test_watchdog_disarm();
    if (!e->passed)
        ts_test_log_tail(e->d.log, 60);
    ts_test_daemon_free(&e->d);
    free(e->admin);
    ts_test_pki_free(&e->pki);
    ts_tmpdir_remove(e->dir);
    free(e);
    return 0;
}

static ts_th_resp call(env *e, const char *token, const char *method, const char *path, const char *body)
{
    char *h = token ? ts_xasprintf("Authorization: Bearer %s\r\n", token) : NULL;
    ts_th_resp r;
    if (ts_th_call(e->d.admin_port, &e->o, method, path, h, body ? "application/json" : NULL, body, &r) < 0)
        fail_msg("%s %s: no answer", method, path);
    free(h);
    return r;
}

static int status_of(env *e, const char *token, const char *method, const char *path, const char *body)
{
    ts_th_resp r = call(e, token, method, path, body);
    int s = r.status;
    ts_th_resp_free(&r);
    return s;
}

static char *login(env *e, const char *user)
{
    char *json = ts_xasprintf("{\"username\":\"%s\",\"password\":\"" PASSWORD "\"}", user);
    ts_th_resp r = call(e, NULL, "POST", "/api/login", json);
    free(json);
    if (r.status != 200)
        fail_msg("login %s: %d %s", user, r.status, r.body);
    char *t = ts_xstrdup(json_string_value(json_object_get(r.json, "token")));
    ts_th_resp_free(&r);
    return t;
}

/* a command's standard output, lines joined by spaces (and runs of spaces
 * made one), so text wrapped on the page reads as one */
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
    char *s = (char *)out.data, *w = s;
    for (char *c = s; *c; c++) {
        char ch = (*c == '\n' || *c == '\f' || *c == '\t') ? ' ' : *c;
        if (ch == ' ' && w > s && w[-1] == ' ')
            continue;
        *w++ = ch;
    }
    *w = '\0';
    return s;
}

static void expect_in(const char *what, const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("%s does not have \"%s\": %.3000s", what, needle, hay);
}

/* The PDF of a notice for an account: its text (pdftotext), and its page
 * count (pdfinfo, which must say A4). */
static char *pdf_text(env *e, const char *token, const char *notice, int *pages)
{
    char path[256];
    snprintf(path, sizeof path, "/api/notices/%s/pdf", notice);
    ts_th_resp r = call(e, token, "GET", path, NULL);
    if (r.status != 200)
        fail_msg("GET %s: %d %.300s", path, r.status, r.body ? r.body : "");
    assert_non_null(strstr(r.head, "application/pdf"));
    assert_non_null(strstr(r.head, "attachment"));
    char *file = ts_xasprintf("%s/notice.pdf", e->dir);
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(r.body, 1, r.body_len, f), r.body_len);
    fclose(f);
    ts_th_resp_free(&r);
    char *cmd = ts_xasprintf("pdfinfo '%s'", file);
    char *info = run(cmd);
    free(cmd);
    expect_in("pdfinfo", info, "595.276 x 841.89 pts (A4)");
    const char *pg = strstr(info, "Pages:");
    assert_non_null(pg);
    *pages = atoi(pg + 6);
    free(info);
    /* in the order it is drawn: each column of the heading whole */
    cmd = ts_xasprintf("pdftotext -raw -enc UTF-8 '%s' -", file);
    char *text = run(cmd);
    free(cmd);
    free(file);
    return text;
}

/* tramsyncd --add-user NAME --role ROLE --communes CODES on the running
 * daemon's database: its exit status and what it printed (stderr too). */
static int add_user(env *e, const char *name, const char *role, const char *communes, char **out)
{
    char *bin = ts_test_bin("tramsyncd");
    char *set = ts_xasprintf("server.data_dir=%s", e->dir);
    char *log = ts_xasprintf("%s/add-user.out", e->dir);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("TRAMSYNC_PASSWORD", PASSWORD, 1);
        execl(bin, bin, "--set", set, "--add-user", name, "--role", role, "--communes", communes, (char *)NULL);
        _exit(127);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    size_t len;
    *out = ts_read_file(log, &len);
    if (*out == NULL)
        *out = ts_xstrdup("");
    free(log);
    free(set);
    free(bin);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *const g_sets[] = {"admin.targets_every=0",
                                     "notices.escalate_every=0",
                                     "district.name=Trung tâm Y tế khu vực Bình Xuyên",
                                     "district.parent_body=Sở Y tế tỉnh Phú Thọ",
                                     "district.place=Bình Xuyên",
                                     "district.signer=Lê Văn Minh",
                                     "district.signer_authority=KT. Giám đốc",
                                     NULL};

/* the directory: two stations of their communes, the TTYT's people */
static void make_world(env *e)
{
    ts_test_daemon_start(&e->d, e->dir, &e->pki, g_sets);
    e->admin = login(e, "admin");
    assert_int_equal(status_of(e, e->admin, "POST", "/api/records/stations/" BN,
                               "{\"fields\":{\"name\":\"Trạm Y tế xã Bình Nguyên\",\"commune\":\"Bình Nguyên\","
                               "\"commune_code\":\"09001\"}}"),
                     200);
    assert_int_equal(status_of(e, e->admin, "POST", "/api/records/stations/" BX,
                               "{\"fields\":{\"name\":\"Trạm Y tế xã Bình Xuyên\",\"commune\":\"Bình Xuyên\","
                               "\"commune_code\":\"09002\"}}"),
                     200);
    assert_int_equal(status_of(e, e->admin, "POST", "/api/records/people/TTYT-PGD",
                               "{\"fields\":{\"full_name\":\"Lê Văn Minh\",\"position\":\"Phó Giám đốc\","
                               "\"unit\":\"TTYT\",\"unit_kind\":\"ttyt\",\"roles\":[\"ttyt_deputy_director\"]}}"),
                     200);
    assert_int_equal(status_of(e, e->admin, "POST", "/api/records/people/TTYT-KSBT",
                               "{\"fields\":{\"full_name\":\"Trần Thị Thu\",\"position\":\"Trưởng khoa Kiểm soát bệnh "
                               "tật\",\"unit\":\"TTYT\",\"unit_kind\":\"ttyt\",\"roles\":[\"ttyt_department_head\"]}}"),
                     200);
}

static void send_notice(env *e, const char *stations, const char *body, bool cc, char *id, size_t size)
{
    json_t *n = json_pack("{s:{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:s,s:s},s:{s:o}}", "notice", "subject",
                          "Về việc tăng cường phòng chống sốt xuất huyết", "issuer",
                          "Trung tâm Y tế khu vực Bình Xuyên", "urgency", "khan", "category", "prevention", "doc_type",
                          "thong_bao", "body", body, "cc_commune_committee", cc, "deadline",
                          "2030-06-30T17:00:00+07:00", "responsible_person", "TTYT-KSBT", "expected_result",
                          "Chỉ số Breteau dưới 20", "number", "12/TB-TTYT", "recipients", "stations",
                          json_loads(stations, 0, NULL));
    char *b = json_dumps(n, 0);
    json_decref(n);
    ts_th_resp r = call(e, e->admin, "POST", "/api/notices", b);
    free(b);
    if (r.status != 201)
        fail_msg("POST /api/notices: %d %s", r.status, r.body);
    snprintf(id, size, "%s", json_string_value(json_object_get(r.json, "id")));
    ts_th_resp_free(&r);
}

static void test_notice_pdf(void **state)
{
    env *e = *state;
    make_world(e);
    /* a body of many paragraphs: more than a page */
    ts_buf body = TS_BUF_INIT;
    for (int i = 1; i <= 40; i++)
        ts_buf_printf(&body, "%d. Trạm Y tế xã phối hợp với UBND xã tổ chức diệt lăng quăng, bọ gậy tại các hộ gia "
                             "đình, vệ sinh môi trường và giám sát ca bệnh.\n",
                      i);
    ts_buf_printf(&body, "%s", MARK);
    ts_buf_append(&body, "", 1);
    char id[64];
    send_notice(e, "[\"" BN "\",\"" BX "\"]", (const char *)body.data, true, id, sizeof id);
    ts_buf_free(&body);

    int pages = 0;
    char *text = pdf_text(e, e->admin, id, &pages);
    const char *want[] = {"SỞ Y TẾ TỈNH PHÚ THỌ", "TRUNG TÂM Y TẾ KHU VỰC BÌNH XUYÊN",
                          "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "Số: 12/TB-TTYT",
                          "KHẨN", "THÔNG BÁO", "Về việc tăng cường phòng chống sốt xuất huyết",
                          "1. Trạm Y tế xã phối hợp với UBND xã", MARK, "Thời hạn hoàn thành: 30/06/2030 17:00",
                          "Người chịu trách nhiệm: Trần Thị Thu (Trưởng khoa Kiểm soát bệnh tật)",
                          "Kết quả cần đạt: Chỉ số Breteau dưới 20", "Nơi nhận:", "- Trạm Y tế xã Bình Nguyên;",
                          "- Trạm Y tế xã Bình Xuyên;", "- UBND xã Bình Nguyên", "- UBND xã Bình Xuyên",
                          "- Lưu: VT.", "KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC", "Lê Văn Minh"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        expect_in("the notice's PDF", text, want[i]);
    /* the place and the district's day in words */
    setenv("TZ", "Asia/Ho_Chi_Minh", 1);
    tzset();
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char day[16], place[128];
    snprintf(day, sizeof day, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    ts_notice_place_date("Bình Xuyên", day, place, sizeof place);
    expect_in("the notice's PDF", text, place);
    free(text);
    if (pages < 2)
        fail_msg("a body of 40 paragraphs is on %d page(s)", pages);

    /* a công văn: its trích yếu as "V/v ..." under its number (not "V/v Về
     * việc"), a "Kính gửi" line, no type name */
    ts_th_resp cv = call(e, e->admin, "POST", "/api/notices",
                         "{\"notice\":{\"subject\":\"Về việc báo cáo tình hình dịch\",\"issuer\":\"TTYT\","
                         "\"urgency\":\"thuong\",\"category\":\"prevention\",\"doc_type\":\"cong_van\","
                         "\"number\":\"7/CV-TTYT\",\"body\":\"Đề nghị báo cáo.\"},"
                         "\"recipients\":{\"stations\":[\"" BN "\"]}}");
    assert_int_equal(cv.status, 201);
    int cv_pages = 0;
    char *cv_text = pdf_text(e, e->admin, json_string_value(json_object_get(cv.json, "id")), &cv_pages);
    ts_th_resp_free(&cv);
    expect_in("the công văn", cv_text, "Số: 7/CV-TTYT V/v báo cáo tình hình dịch");
    expect_in("the công văn", cv_text, "Kính gửi: Trạm Y tế xã Bình Nguyên.");
    if (strstr(cv_text, "CÔNG VĂN") || strstr(cv_text, "V/v Về việc") || strstr(cv_text, "KHẨN"))
        fail_msg("the công văn has a type name, V/v twice or an urgency: %.1500s", cv_text);
    free(cv_text);

    /* tramsyncctl report notice ID --out FILE: the same document */
    char *file = ts_xasprintf("%s/ctl.pdf", e->dir);
    pid_t pid = fork();
    if (pid == 0) {
        char *bin = ts_test_bin("tramsyncctl");
        char url[64];
        snprintf(url, sizeof url, "https://localhost:%d", e->d.admin_port);
        setenv("TRAMSYNC_ADMIN_URL", url, 1);
        setenv("TRAMSYNC_CA", e->pki.ca, 1);
        setenv("TRAMSYNC_USER", "admin", 1);
        setenv("TRAMSYNC_PASSWORD", PASSWORD, 1);
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        execl(bin, bin, "report", "notice", id, "--out", file, (char *)NULL);
        _exit(127);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *cmd = ts_xasprintf("pdftotext -raw -enc UTF-8 '%s' -", file);
    text = run(cmd);
    free(cmd);
    free(file);
    expect_in("tramsyncctl report notice", text, "Số: 12/TB-TTYT");
    expect_in("tramsyncctl report notice", text, "Lê Văn Minh");
    free(text);

    /* a notice nobody sent: 404; recalled: 409 */
    assert_int_equal(status_of(e, e->admin, "GET", "/api/notices/TB-20260101-00000000/pdf", NULL), 404);
    char other[64], path[160];
    send_notice(e, "[\"" BN "\"]", "Chỉ gửi Bình Nguyên.", false, other, sizeof other);
    /* the monitor never reads a notice */
    char *prom = login(e, "prom");
    snprintf(path, sizeof path, "/api/notices/%s/pdf", other);
    assert_int_equal(status_of(e, prom, "GET", path, NULL), 403);
    free(prom);
    char recalled[64];
    send_notice(e, "[\"" BN "\"]", "Gửi nhầm.", false, recalled, sizeof recalled);
    snprintf(path, sizeof path, "/api/notices/%s/recall", recalled);
    assert_int_equal(status_of(e, e->admin, "POST", path, "{\"reason\":\"Gửi nhầm\"}"), 200);
    snprintf(path, sizeof path, "/api/notices/%s/pdf", recalled);
    assert_int_equal(status_of(e, e->admin, "GET", path, NULL), 409);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

static void test_commune_account_cli(void **state)
{
    env *e = *state;
    make_world(e);
    char both[64], bn_only[64];
    send_notice(e, "[\"" BN "\",\"" BX "\"]", "Gửi hai xã.", true, both, sizeof both);
    send_notice(e, "[\"" BN "\"]", "Chỉ gửi Bình Nguyên.", true, bn_only, sizeof bn_only);

    /* a commune the station directory does not have: refused, saying so in
     * Vietnamese and English, nothing stored */
    char *out = NULL;
    assert_int_not_equal(add_user(e, "ubnd-x", "commune", "09999", &out), 0);
    expect_in("tramsyncd --add-user", out, "không có xã hoặc trạm mã 09999 trong danh mục trạm");
    expect_in("tramsyncd --add-user", out, "no commune or station 09999 in the station directory");
    free(out);
    /* a commune account needs one commune, not two */
    assert_int_not_equal(add_user(e, "ubnd-y", "commune", "09001,09002", &out), 0);
    free(out);
    assert_int_equal(ts_test_sql_count(e->dir, "district.db",
                                       "SELECT count(*) FROM admin_users WHERE username IN ('ubnd-x', 'ubnd-y')"),
                     0);
    /* the UBND of Bình Xuyên by its commune code; a viewer of both communes */
    assert_int_equal(add_user(e, "ubnd-bx", "commune", "09002", &out), 0);
    expect_in("tramsyncd --add-user", out, "account ubnd-bx saved with role commune (communes 09002)");
    free(out);
    assert_int_equal(add_user(e, "xem-hai-xa", "viewer", "09001,09002", &out), 0);
    free(out);

    char *ubnd = login(e, "ubnd-bx");
    ts_th_resp r = call(e, ubnd, "GET", "/api/stations", NULL);
    assert_int_equal(r.status, 200);
    json_t *st = json_object_get(r.json, "stations");
    assert_int_equal(json_array_size(st), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(st, 0), "code")), BX);
    ts_th_resp_free(&r);
    r = call(e, ubnd, "GET", "/api/notices", NULL);
    json_t *ns = json_object_get(r.json, "notices");
    assert_int_equal(json_array_size(ns), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ns, 0), "id")), both);
    ts_th_resp_free(&r);
    /* the PDF of its notice: Nơi nhận names its own station and UBND only */
    int pages = 0;
    char *text = pdf_text(e, ubnd, both, &pages);
    expect_in("the commune's PDF", text, "- Trạm Y tế xã Bình Xuyên;");
    expect_in("the commune's PDF", text, "- UBND xã Bình Xuyên");
    if (strstr(text, "Bình Nguyên"))
        fail_msg("the commune's PDF names the other commune: %.2000s", text);
    free(text);
    /* the other commune's notice is not there */
    char path[160];
    snprintf(path, sizeof path, "/api/notices/%s/pdf", bn_only);
    assert_int_equal(status_of(e, ubnd, "GET", path, NULL), 404);
    free(ubnd);
    /* the viewer of two communes sees both stations */
    char *xem = login(e, "xem-hai-xa");
    r = call(e, xem, "GET", "/api/stations", NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "stations")), 2);
    ts_th_resp_free(&r);
    free(xem);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

static void test_place_date(void **state)
{
    (void)state;
    char out[128];
    ts_notice_place_date("Bình Xuyên", "2026-12-07", out, sizeof out);
    assert_string_equal(out, "Bình Xuyên, ngày 07 tháng 12 năm 2026");
    ts_notice_place_date("Bình Xuyên", "2027-02-05", out, sizeof out);
    assert_string_equal(out, "Bình Xuyên, ngày 05 tháng 02 năm 2027");
    ts_notice_place_date("Bình Xuyên", "2027-03-15", out, sizeof out);
    assert_string_equal(out, "Bình Xuyên, ngày 15 tháng 3 năm 2027");
    ts_notice_place_date("", "2027-01-31", out, sizeof out);
    assert_string_equal(out, "ngày 31 tháng 01 năm 2027");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_place_date),
        cmocka_unit_test_setup_teardown(test_notice_pdf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commune_account_cli, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
