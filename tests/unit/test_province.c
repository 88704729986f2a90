/* Up to the province (issue 19): the quarter's figures as a TTYT sends them
 * to the Sở Y tế, each file opened and read back as the province would:
 *
 *  1. the period: "2026-Q4" is 01/10/2026 – 31/12/2026; the default is the
 *     quarter of the district's day; "2026-Q5" is refused
 *  2. CSV (targets, tasks, reporting, periodic) parsed: the TTYT's name and the period
 *     first, then commune × indicator with numerator, denominator, value,
 *     met or not by the plan in force, source; task progress (overdue, a
 *     task set aside as not applicable); late and on-time case reports;
 *     the calendar's periodic reports of the quarter (owed, sent, rates,
 *     who did not send)
 *  3. XLSX unzipped and its sheets' XML read: four sheets named in
 *     Vietnamese, the name, the period and the figures in them
 *  4. the quarterly summary report, a PDF whose text (pdftotext) says, in
 *     Vietnamese, the targets met and not met per commune, the late
 *     reports and the overdue tasks; A4
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/ts_notice.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "server/ts_calendar.h"
#include "server/ts_epidemic.h"
#include "server/ts_notices.h"
#include "server/ts_plan.h"
#include "server/ts_province.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_store.h"

extern const unsigned char ts_diseases_tsv[];
extern const size_t ts_diseases_tsv_len;

#define BN "binhnguyen"
#define XL "xuanlang"
#define TTYT "Trung tâm Y tế khu vực Bình Xuyên"

typedef struct fixture {
    char *dir;
    ts_store *st;
    json_t *data;
} fixture;

static void exec_sql(ts_store *st, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(ts_store_db(st), sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

static uint64_t at(const char *iso)
{
    uint64_t ms = 0;
    assert_true(ts_time_parse(iso, &ms));
    return ms;
}

/* A district with the demo's plan, two communes' figures of 30/11/2026,
 * three dengue case reports (one late), KH-01 overdue at Bình Nguyên and
 * KH-08 set aside. */
static int setup(void **state)
{
    fixture *f = ts_xcalloc(1, sizeof *f);
    f->dir = ts_tmpdir_make("province");
    f->st = ts_test_open(f->dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    ts_error err;
    ts_actor who = {TS_ACTOR_ADMIN, "admin1", NULL, "test"};
    char *plan = ts_source_path("server/data/plans/binh-dinh-2024.json");
    ts_plan_load_result res;
    assert_int_equal(ts_plan_load_file(f->st, &who, plan, 1000, &res, &err), 0);
    free(plan);
    uint64_t loaded;
    assert_int_equal(ts_epi_seed(f->st, (const char *)ts_diseases_tsv, ts_diseases_tsv_len, &loaded, &err), 0);
    exec_sql(f->st, "INSERT INTO target_snapshots(day, station, indicator, numerator, denominator, computed_at, value,"
                    " source) VALUES"
                    " ('2026-11-30', '" BN "', 'bhyt', 12201, 12450, 1, NULL, 'Dân số năm 2026: Chi cục Thống kê'),"
                    " ('2026-11-30', '" BN "', 'underweight', 8, 100, 1, NULL, ''),"
                    " ('2026-11-30', '" XL "', 'bhyt', 10000, 11120, 1, NULL, 'Dân số năm 2026: Chi cục Thống kê'),"
                    " ('2026-11-30', '" XL "', 'periodic_checkup', 300, 11120, 1, NULL, ''),"
                    /* after the quarter: not in Q4's export */
                    " ('2027-01-05', '" BN "', 'bhyt', 1, 12450, 1, NULL, '')");
    /* reported the day of the case (on time), and 5 days later (late) */
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO epi_seen(tbl, rec_id, station, disease, kind, day, first_seen) VALUES"
             " ('disease_cases', 'c1', '" BN "', 'dengue', 'case', '2026-11-10', %llu),"
             " ('disease_cases', 'c2', '" BN "', 'dengue', 'case', '2026-11-12', %llu),"
             " ('disease_cases', 'c3', '" XL "', 'dengue', 'case', '2026-11-12', %llu)",
             (unsigned long long)at("2026-11-10T15:00:00+07:00"), (unsigned long long)at("2026-11-17T09:00:00+07:00"),
             (unsigned long long)at("2026-11-12T16:00:00+07:00"));
    exec_sql(f->st, sql);
    ts_strlist to = {NULL, 0};
    ts_strlist_add(&to, BN);
    assert_int_equal(ts_task_assign(f->st, &who, "KH-01", &to, NULL, NULL, &err), 0);
    assert_int_equal(ts_task_assign(f->st, &who, "KH-08", &to, NULL, NULL, &err), 0);
    ts_strlist_free(&to);
    assert_int_equal(ts_store_begin(f->st, &err), 0);
    assert_int_equal(ts_plan_task_set_na(f->st, "KH-08", "Không còn cấp huyện từ 01/7/2025", "admin1", 2000, &err), 0);
    assert_int_equal(ts_store_commit(f->st, &err), 0);
    ts_notice_policy pol = {{0, 0, 0, 0}, {0, 0, 0, 0}};
    ts_escalation *e = NULL;
    size_t n = 0;
    assert_int_equal(ts_notices_escalate(f->st, &pol, at("2026-12-07T09:00:00+07:00"), &e, &n, &err), 0);
    free(e);
    /* the calendar: a monthly report of the two stations, none sent */
    json_t *duty = json_pack("{s:s,s:s,s:s,s:i,s:[s,s]}", "kind", "periodic_report", "title", "Báo cáo hoạt động tháng",
                             "recurrence", "monthly", "due_days", 5, "stations", BN, XL);
    assert_int_equal(ts_record_put_json(f->st, &who, "duties", "BC-THANG", duty, &err), 0);
    json_decref(duty);
    size_t written;
    assert_int_equal(ts_calendar_generate(f->st, at("2026-11-15T09:00:00+07:00"), &written, &err), 0);
    ts_province_period p;
    assert_true(ts_province_quarter("2026-Q4", NULL, &p));
    assert_int_equal(ts_province_collect(f->st, TTYT, &p, &f->data, &err), 0);
    /* the communes' names, as the admin API adds them from the directory */
    size_t k;
    json_t *o;
    static const char *const parts[] = {"targets", "reporting"};
    for (int pi = 0; pi < 2; pi++)
        json_array_foreach(json_object_get(f->data, parts[pi]), k, o)
            json_object_set_new(o, "commune",
                                json_string(strcmp(json_string_value(json_object_get(o, "station")), BN) == 0
                                                ? "Bình Nguyên"
                                                : "Xuân Lãng"));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    json_decref(f->data);
    ts_store_close(f->st);
    ts_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void test_period(void **state)
{
    (void)state;
    ts_province_period p;
    assert_true(ts_province_quarter("2026-Q4", NULL, &p));
    assert_string_equal(p.from, "2026-10-01");
    assert_string_equal(p.to, "2026-12-31");
    assert_string_equal(p.label_vi, "Quý IV/2026 (01/10/2026 – 31/12/2026)");
    assert_true(ts_province_quarter(NULL, "2026-08-15", &p));
    assert_string_equal(p.quarter, "2026-Q3");
    assert_string_equal(p.to, "2026-09-30");
    assert_true(ts_province_quarter("", "2026-03-31", &p));
    assert_string_equal(p.quarter, "2026-Q1");
    assert_false(ts_province_quarter("2026-Q5", NULL, &p));
    assert_false(ts_province_quarter("2026-Q4x", NULL, &p));
    assert_false(ts_province_quarter("Q4", NULL, &p));
}

/* ---------------------------------------------------------------- CSV */

/* RFC 4180 records: rows of fields (quoted or not), CRLF or LF. */
typedef struct csv {
    char ***rows;
    size_t *ncols;
    size_t nrows;
} csv;

static void csv_parse(const char *text, size_t len, csv *out)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        i = 3; /* the BOM, for spreadsheets to read UTF-8 */
    char **row = NULL;
    size_t ncol = 0;
    while (i < len) {
        ts_buf field = TS_BUF_INIT;
        if (text[i] == '"') {
            for (i++; i < len; i++) {
                if (text[i] == '"' && i + 1 < len && text[i + 1] == '"')
                    ts_buf_append(&field, "\"", 1), i++;
                else if (text[i] == '"')
                    break;
                else
                    ts_buf_append(&field, text + i, 1);
            }
            i++;
        } else {
            while (i < len && text[i] != ',' && text[i] != '\r' && text[i] != '\n')
                ts_buf_append(&field, text + i++, 1);
        }
        ts_buf_append(&field, "", 1);
        row = ts_xreallocarray(row, ncol + 1, sizeof *row);
        row[ncol++] = (char *)field.data;
        if (i < len && text[i] == ',') {
            i++;
            continue;
        }
        if (i < len && text[i] == '\r')
            i++;
        if (i < len && text[i] == '\n')
            i++;
        out->rows = ts_xreallocarray(out->rows, out->nrows + 1, sizeof *out->rows);
        out->ncols = ts_xreallocarray(out->ncols, out->nrows + 1, sizeof *out->ncols);
        out->rows[out->nrows] = row;
        out->ncols[out->nrows++] = ncol;
        row = NULL;
        ncol = 0;
        /* a blank line: a row of one empty field */
        if (i < len && (text[i] == '\r' || text[i] == '\n')) {
            i += text[i] == '\r' ? 2 : 1;
            char **blank = ts_xcalloc(1, sizeof *blank);
            blank[0] = ts_xstrdup("");
            out->rows = ts_xreallocarray(out->rows, out->nrows + 1, sizeof *out->rows);
            out->ncols = ts_xreallocarray(out->ncols, out->nrows + 1, sizeof *out->ncols);
            out->rows[out->nrows] = blank;
            out->ncols[out->nrows++] = 1;
        }
    }
}

static void csv_free(csv *c)
{
    for (size_t r = 0; r < c->nrows; r++) {
        for (size_t k = 0; k < c->ncols[r]; k++)
            free(c->rows[r][k]);
        free(c->rows[r]);
    }
    free(c->rows);
    free(c->ncols);
}

/* The row whose columns a and b are va and vb; NULL when none. */
static char **csv_find(const csv *c, size_t a, const char *va, size_t b, const char *vb)
{
    for (size_t r = 0; r < c->nrows; r++)
        if (c->ncols[r] > a && c->ncols[r] > b && strcmp(c->rows[r][a], va) == 0 && strcmp(c->rows[r][b], vb) == 0)
            return c->rows[r];
    return NULL;
}

static void csv_of(fixture *f, const char *part, csv *c)
{
    ts_buf b = TS_BUF_INIT;
    ts_province_csv(f->data, part, &b);
    csv_parse((const char *)b.data, b.len, c);
    ts_buf_free(&b);
    /* who and when, first */
    assert_true(c->nrows > 5);
    assert_string_equal(c->rows[0][0], "Đơn vị");
    assert_string_equal(c->rows[0][1], TTYT);
    assert_string_equal(c->rows[1][0], "Kỳ báo cáo");
    assert_string_equal(c->rows[1][1], "Quý IV/2026 (01/10/2026 – 31/12/2026)");
}

static void test_csv(void **state)
{
    fixture *f = *state;
    csv c;
    csv_of(f, "targets", &c);
    /* the header, then commune × indicator */
    assert_string_equal(c.rows[4][0], "Xã");
    assert_string_equal(c.rows[4][4], "Tử số");
    assert_string_equal(c.rows[4][5], "Mẫu số");
    char **r = csv_find(&c, 1, BN, 3, "bhyt");
    assert_non_null(r);
    assert_string_equal(r[0], "Bình Nguyên");
    assert_string_equal(r[2], "Tỷ lệ dân số tham gia bảo hiểm y tế");
    assert_string_equal(r[4], "12201");
    assert_string_equal(r[5], "12450");
    assert_string_equal(r[6], "98.00");
    assert_string_equal(r[8], "Đạt");
    assert_string_equal(r[9], "Dân số năm 2026: Chi cục Thống kê");
    assert_string_equal(r[10], "2026-11-30"); /* the latest day in the quarter, not 2027's */
    r = csv_find(&c, 1, XL, 3, "bhyt");
    assert_string_equal(r[8], "Chưa đạt"); /* 89.9 %, the plan asks > 97 */
    r = csv_find(&c, 1, BN, 3, "underweight");
    assert_string_equal(r[6], "8.00");
    assert_string_equal(r[8], "Chưa đạt"); /* the plan asks < 5.5 % */
    r = csv_find(&c, 1, XL, 3, "periodic_checkup");
    assert_string_equal(r[8], "Định hướng/không có mục tiêu");
    csv_free(&c);

    csv_of(f, "tasks", &c);
    r = csv_find(&c, 1, "KH-01", 1, "KH-01");
    assert_non_null(r);
    assert_string_equal(r[5], "2024-09-30");
    assert_string_equal(r[6], "1"); /* assigned */
    assert_string_equal(r[9], "1"); /* overdue */
    r = csv_find(&c, 1, "KH-08", 1, "KH-08");
    assert_string_equal(r[9], "0");
    assert_string_equal(r[10], "Không còn cấp huyện từ 01/7/2025");
    r = csv_find(&c, 1, "KH-03", 1, "KH-03");
    assert_non_null(strstr(r[2], "Kiểm toàn tổ chức")); /* the plan as loaded */
    csv_free(&c);

    csv_of(f, "periodic", &c);
    assert_string_equal(c.rows[4][0], "Báo cáo");
    r = csv_find(&c, 0, "Báo cáo hoạt động tháng", 1, "2026-10");
    assert_non_null(r);
    assert_string_equal(r[2], "2026-11-05");
    assert_string_equal(r[3], "2"); /* expected */
    assert_string_equal(r[4], "0"); /* received */
    assert_string_equal(r[7], "0"); /* reporting rate */
    assert_string_equal(r[9], BN ", " XL);
    assert_null(csv_find(&c, 0, "Báo cáo hoạt động tháng", 1, "2026-09")); /* Q3's */
    csv_free(&c);

    csv_of(f, "reporting", &c);
    r = csv_find(&c, 1, BN, 1, BN);
    assert_non_null(r);
    assert_string_equal(r[2], "2");
    assert_string_equal(r[3], "1");
    assert_string_equal(r[4], "1");
    assert_string_equal(r[5], "50.00");
    r = csv_find(&c, 1, XL, 1, XL);
    assert_string_equal(r[4], "0");
    csv_free(&c);
}

/* ---------------------------------------------------------------- XLSX, PDF */

static char *write_tmp(fixture *f, const char *name, const ts_buf *b)
{
    char *path = ts_xasprintf("%s/%s", f->dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b->data, 1, b->len, fp), b->len);
    fclose(fp);
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
    return (char *)out.data;
}

static void expect_in(const char *what, const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
    {
        /* the whole text beside the test's log (cmocka cuts long messages) */
        FILE *fp = fopen("build/test-logs/test_province-text.txt", "w");
        if (fp) {
            fputs(hay, fp);
            fclose(fp);
        }
        fail_msg("%s does not have \"%s\" (the text: build/test-logs/test_province-text.txt)", what, needle);
    }
}

static void test_xlsx(void **state)
{
    fixture *f = *state;
    ts_buf b = TS_BUF_INIT;
    ts_error err;
    assert_int_equal(ts_province_xlsx(f->data, f->dir, &b, &err), 0);
    assert_true(b.len > 1000);
    assert_memory_equal(b.data, "PK", 2); /* a zip archive */
    char *path = write_tmp(f, "export.xlsx", &b);
    ts_buf_free(&b);
    char *cmd = ts_xasprintf("unzip -p '%s' xl/workbook.xml", path);
    char *wbx = run(cmd);
    free(cmd);
    expect_in("workbook.xml", wbx, "name=\"Chỉ tiêu\"");
    expect_in("workbook.xml", wbx, "name=\"Nhiệm vụ\"");
    expect_in("workbook.xml", wbx, "name=\"Báo cáo dịch\"");
    expect_in("workbook.xml", wbx, "name=\"Báo cáo định kỳ\"");
    free(wbx);
    cmd = ts_xasprintf("unzip -p '%s' xl/sharedStrings.xml", path);
    char *strings = run(cmd);
    free(cmd);
    expect_in("the shared strings", strings, TTYT);
    expect_in("the shared strings", strings, "Quý IV/2026 (01/10/2026 – 31/12/2026)");
    expect_in("the shared strings", strings, "Tỷ lệ dân số tham gia bảo hiểm y tế");
    expect_in("the shared strings", strings, "Không còn cấp huyện từ 01/7/2025");
    free(strings);
    /* the figures are numbers in their cells, not text */
    cmd = ts_xasprintf("unzip -p '%s' xl/worksheets/sheet1.xml", path);
    char *sheet = run(cmd);
    free(cmd);
    expect_in("sheet 1", sheet, "<v>12201</v>");
    expect_in("sheet 1", sheet, "<v>12450</v>");
    free(sheet);
    cmd = ts_xasprintf("unzip -p '%s' xl/worksheets/sheet3.xml", path);
    sheet = run(cmd);
    free(cmd);
    expect_in("sheet 3", sheet, "<v>50</v>"); /* Bình Nguyên: 50 % on time */
    free(sheet);
    free(path);
}

static void test_pdf(void **state)
{
    fixture *f = *state;
    ts_buf b = TS_BUF_INIT;
    ts_error err;
    assert_int_equal(ts_province_pdf(f->data, f->dir, &b, &err), 0);
    assert_memory_equal(b.data, "%PDF-", 5);
    /* a copy beside the test's log, to look at */
    FILE *keep = fopen("build/test-logs/test_province-report.pdf", "wb");
    if (keep) {
        fwrite(b.data, 1, b.len, keep);
        fclose(keep);
    }
    char *path = write_tmp(f, "report.pdf", &b);
    ts_buf_free(&b);
    char *cmd = ts_xasprintf("pdfinfo '%s'", path);
    char *info = run(cmd);
    free(cmd);
    expect_in("pdfinfo", info, "595.276 x 841.89 pts (A4)");
    free(info);
    /* a Unicode font, embedded: it prints the same on any machine */
    cmd = ts_xasprintf("pdffonts '%s'", path);
    char *fonts = run(cmd);
    free(cmd);
    expect_in("pdffonts", fonts, "DejaVuSans");
    assert_null(strstr(fonts, " no  ")); /* every font embedded (emb column) */
    free(fonts);
    cmd = ts_xasprintf("pdftotext -enc UTF-8 '%s' -", path);
    char *text = run(cmd);
    free(cmd);
    /* the page breaks a long line where it must: lines joined, as read */
    for (char *c = text; *c; c++)
        if (*c == '\n')
            *c = ' ';
    expect_in("the report", text, TTYT);
    expect_in("the report", text, "BÁO CÁO TÓM TẮT");
    expect_in("the report", text, "Kỳ báo cáo: Quý IV/2026 (01/10/2026 – 31/12/2026)");
    expect_in("the report", text, "Ủy ban nhân dân tỉnh Bình Định");
    expect_in("the report", text, "Xã Bình Nguyên: đạt 1 chỉ tiêu, chưa đạt 1 chỉ tiêu");
    expect_in("the report", text, "Xã Xuân Lãng: đạt 0 chỉ tiêu, chưa đạt 1 chỉ tiêu");
    expect_in("the report", text, "Tỷ lệ trẻ em dưới 5 tuổi suy dinh dưỡng thể nhẹ cân");
    expect_in("the report", text, "2 ca báo cáo, 1 đúng hạn, 1 trễ hạn");
    expect_in("the report", text, "Không có ổ dịch nào trong kỳ.");
    expect_in("the report", text, "4. Báo cáo định kỳ của các trạm");
    expect_in("the report", text,
              "Báo cáo hoạt động tháng, Tháng 10/2026 (hạn 05/11/2026): 2 trạm phải nộp, 0 đã nộp, 0 đúng hạn, 0 muộn; "
              "chưa nộp hoặc sai mẫu:");
    expect_in("the report", text, "5. Nhiệm vụ quá hạn");
    expect_in("the report", text, "KH-01:");
    expect_in("the report", text, "1/1 trạm quá hạn");
    expect_in("the report", text, "KH-08: không áp dụng (Không còn cấp huyện từ 01/7/2025)");
    free(text);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_period),
        cmocka_unit_test_setup_teardown(test_csv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xlsx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pdf, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
