/* Up to the province: the quarter's figures collected once (JSON), then
 * written as CSV or XLSX (libxlsxwriter, docs/DEPENDENCIES.md). Every day is
 * the district's (the period is the district's quarter). */
#include "server/ts_province.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>
#include <xlsxwriter.h>

#include "common/ts_recjson.h"
#include "common/ts_log.h"
#include "common/ts_task_periods.h"
#include "common/ts_xmalloc.h"
#include "server/ts_calendar.h"
#include "server/ts_epidemic.h"
#include "server/ts_notices.h"
#include "server/ts_plan.h"
#include "server/ts_targets.h"

static const char *const ts__roman[4] = {"I", "II", "III", "IV"};

bool ts_province_quarter(const char *q, const char *today, ts_province_period *out)
{
    memset(out, 0, sizeof *out);
    int y, n;
    if (q && q[0]) {
        char extra;
        if (strlen(q) != 7 || sscanf(q, "%4d-Q%1d%c", &y, &n, &extra) != 2 || y < 2000 || y > 2100 || n < 1 || n > 4)
            return false;
    } else {
        y = atoi(today);
        n = (atoi(today + 5) - 1) / 3 + 1;
        if (y < 2000 || y > 2100 || n < 1 || n > 4)
            return false;
    }
    static const char *const ends[4] = {"03-31", "06-30", "09-30", "12-31"};
    snprintf(out->quarter, sizeof out->quarter, "%04d-Q%d", y, n);
    snprintf(out->from, sizeof out->from, "%04d-%02d-01", y, (n - 1) * 3 + 1);
    snprintf(out->to, sizeof out->to, "%04d-%s", y, ends[n - 1]);
    snprintf(out->label_vi, sizeof out->label_vi, "Quý %s/%04d (01/%02d/%04d – %.2s/%.2s/%04d)", ts__roman[n - 1], y,
             (n - 1) * 3 + 1, y, ends[n - 1] + 3, ends[n - 1], y);
    return true;
}

/* ---------------------------------------------------------------- collecting */

static json_t *ts__targets(ts_store *st, const ts_plan_target *plan, const char *to, char *day, size_t day_size)
{
    json_t *arr = json_array();
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    day[0] = '\0';
    if (sqlite3_prepare_v2(db, "SELECT max(day) FROM target_snapshots WHERE day <= ?1", -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, to, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
            snprintf(day, day_size, "%s", (const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
    }
    if (!day[0] || sqlite3_prepare_v2(db,
                                      "SELECT station, indicator, numerator, denominator, value, source"
                                      " FROM target_snapshots WHERE day = ?1 ORDER BY station",
                                      -1, &q, NULL) != SQLITE_OK)
        return arr;
    sqlite3_bind_text(q, 1, day, -1, SQLITE_STATIC);
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *code = (const char *)sqlite3_column_text(q, 1);
        int i = 0;
        while (i < TS_TARGET_COUNT && strcmp(ts_targets[i].code, code ? code : "") != 0)
            i++;
        if (i == TS_TARGET_COUNT)
            continue;
        int64_t num = sqlite3_column_int64(q, 2), den = sqlite3_column_int64(q, 3);
        double stored = sqlite3_column_type(q, 4) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 4);
        double v = ts_target_value(i, num, den, stored);
        const char *src = (const char *)sqlite3_column_text(q, 5);
        char unit[2] = {ts_targets[i].unit, 0};
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "station", (const char *)sqlite3_column_text(q, 0),
                              "indicator", code, "label_vi", plan[i].set ? plan[i].label_vi : ts_targets[i].vi, "unit",
                              unit, "numerator", (json_int_t)num, "denominator", (json_int_t)den, "source",
                              src ? src : "");
        json_object_set_new(o, "value", isnan(v) ? json_null() : json_real(v));
        /* nothing to meet: not in the plan, or a direction */
        json_object_set_new(o, "met", !plan[i].set || plan[i].op == 'd' || isnan(v)
                                          ? json_null()
                                          : json_boolean(ts_target_met(&plan[i], i, num, den, stored)));
        json_array_append_new(arr, o);
    }
    sqlite3_finalize(q);
    return arr;
}

static int ts__tasks(ts_store *st, json_t *arr, ts_error *err)
{
    json_t *na = ts_plan_task_na_all(st);
    ts_change_page page;
    ts_change_page_init(&page);
    int rc = ts_store_list(st, "plan_tasks", NULL, 1000, false, &page, err);
    for (uint32_t i = 0; rc == 0 && i < page.n; i++) {
        json_t *detail = NULL;
        if ((rc = ts_task_show(st, page.items[i].id, &detail, err)) < 0)
            break;
        const json_t *f = json_object_get(detail, "fields");
        json_int_t assigned = 0, done = 0, overdue = 0, percent_sum = 0;
        size_t k;
        json_t *a;
        /* a recurring task: its current period's, and a station with a past
         * period not done is overdue (as GET /api/tasks counts it) */
        json_t *periods = ts_task_periods(st, detail, ts_wall_ms());
        json_array_foreach(json_object_get(detail, "assignments"), k, a) {
            const char *state = json_string_value(json_object_get(a, "state"));
            bool is_done = state && strcmp(state, "done") == 0;
            json_int_t pct = json_integer_value(json_object_get(a, "percent"));
            bool late = !is_done && json_is_true(json_object_get(a, "overdue"));
            if (periods) {
                long long p = 0;
                bool behind = false;
                ts_task_periods_standing(periods, json_string_value(json_object_get(a, "station")), &is_done, &p,
                                         &behind);
                pct = (json_int_t)p;
                late = late || behind;
            }
            assigned++;
            done += is_done;
            percent_sum += is_done ? 100 : pct;
            overdue += late;
        }
        json_decref(periods);
        const json_t *why = json_object_get(na, page.items[i].id);
        json_t *o = json_pack("{s:s,s:O,s:O,s:O,s:O,s:I,s:I,s:I,s:I}", "id", page.items[i].id, "no",
                              json_object_get(f, "no"), "task", json_object_get(f, "task"), "lead",
                              json_object_get(f, "lead"), "deadline_text", json_object_get(f, "deadline_text"),
                              "assigned", assigned, "done", done, "percent", assigned ? percent_sum / assigned : 0,
                              "overdue", why ? (json_int_t)0 : overdue);
        const json_t *dl = json_object_get(f, "deadline");
        json_object_set_new(o, "deadline", json_is_string(dl) ? json_copy((json_t *)dl) : json_string(""));
        json_object_set_new(o, "not_applicable", why ? json_incref(json_object_get(why, "reason")) : json_null());
        json_array_append_new(arr, o);
        json_decref(detail);
    }
    ts_change_page_free(&page);
    json_decref(na);
    return rc;
}

/* The outbreaks that were under way at some time in the period. */
static json_t *ts__outbreaks(ts_store *st, const ts_province_period *p)
{
    json_t *all = NULL, *arr = json_array();
    ts_error err;
    if (ts_outbreak_list(st, &all, &err) < 0)
        return arr;
    size_t k;
    json_t *o;
    json_array_foreach(all, k, o) {
        const json_t *f = json_object_get(o, "fields");
        const char *started = json_string_value(json_object_get(f, "started_on"));
        const char *ended = json_string_value(json_object_get(f, "ended_on"));
        if ((started && strcmp(started, p->to) > 0) || (ended && ended[0] && strcmp(ended, p->from) < 0))
            continue;
        json_t *stations = json_object_get(f, "stations");
        json_array_append_new(arr, json_pack("{s:O,s:O,s:O,s:s,s:s,s:O,s:O}", "id", json_object_get(o, "id"),
                                             "disease_vi", json_object_get(o, "disease_vi"), "stations",
                                             stations ? stations : json_null(), "started_on", started ? started : "",
                                             "ended_on", ended ? ended : "", "status",
                                             json_object_get(f, "status") ? json_object_get(f, "status") : json_null(),
                                             "cases_total",
                                             json_object_get(f, "cases_total") ? json_object_get(f, "cases_total")
                                                                               : json_null()));
    }
    json_decref(all);
    return arr;
}

/* The periodic reports (the calendar) whose period ends in the quarter:
 * per duty and period, who owed it, who sent it, on time or not, the
 * rates, and the stations that did not (or not fitting the form). */
static int ts__periodic(ts_store *st, const ts_province_period *p, json_t **out, ts_error *err)
{
    json_t *grid = NULL;
    int rc = ts_calendar_grid(st, NULL, 36, NULL, ts_wall_ms(), &grid, err);
    if (rc < 0)
        return rc;
    json_t *arr = json_array();
    size_t i, k, r;
    json_t *d, *col, *row;
    json_array_foreach(json_object_get(grid, "duties"), i, d) {
        json_array_foreach(json_object_get(d, "periods"), k, col) {
            const char *end = json_string_value(json_object_get(col, "period_end"));
            if (end == NULL || strcmp(end, p->from) < 0 || strcmp(end, p->to) > 0)
                continue;
            json_t *not = json_array();
            json_array_foreach(json_object_get(d, "rows"), r, row) {
                const char *status =
                    json_string_value(json_object_get(json_array_get(json_object_get(row, "cells"), k), "status"));
                if (status && (strcmp(status, "missing") == 0 || strcmp(status, "invalid") == 0))
                    json_array_append(not, json_object_get(row, "name"));
            }
            json_t *o = json_pack("{s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:o}", "title", json_object_get(d, "title"),
                                  "period", json_object_get(col, "period"), "due_date", json_object_get(col, "due_date"),
                                  "expected", json_object_get(col, "expected"), "received",
                                  json_object_get(col, "received"), "on_time", json_object_get(col, "on_time"), "late",
                                  json_object_get(col, "late"), "due_passed", json_object_get(col, "due_passed"),
                                  "occurrence", json_object_get(col, "occurrence"), "not_received", not);
            json_object_set(o, "reporting_rate", json_object_get(col, "reporting_rate") ? json_object_get(col, "reporting_rate") : json_null());
            json_object_set(o, "timeliness", json_object_get(col, "timeliness") ? json_object_get(col, "timeliness") : json_null());
            json_array_append_new(arr, o);
        }
    }
    json_decref(grid);
    *out = arr;
    return 0;
}

int ts_province_collect(ts_store *st, const char *district, const ts_province_period *p, json_t **out, ts_error *err)
{
    *out = NULL;
    ts_plan_info info;
    ts_plan_target plan[TS_TARGET_COUNT];
    int rc = ts_plan_current(st, &info, plan, err);
    if (rc < 0)
        return rc;
    json_t *epi = NULL;
    if ((rc = ts_epi_summary(st, p->from, p->to, &epi, err)) < 0)
        return rc;
    json_t *tasks = json_array();
    if ((rc = ts__tasks(st, tasks, err)) < 0) {
        json_decref(tasks);
        json_decref(epi);
        return rc;
    }
    json_t *periodic = NULL;
    if ((rc = ts__periodic(st, p, &periodic, err)) < 0) {
        json_decref(tasks);
        json_decref(epi);
        return rc;
    }
    char day[16];
    json_t *targets = ts__targets(st, plan, p->to, day, sizeof day);
    json_t *o = json_pack("{s:s,s:{s:s,s:s,s:s,s:s},s:s,s:o,s:o,s:O,s:o}", "district", district, "period", "quarter",
                          p->quarter, "from", p->from, "to", p->to, "label_vi", p->label_vi, "day", day, "targets",
                          targets, "tasks", tasks, "reporting", json_object_get(epi, "reporting"), "outbreaks",
                          ts__outbreaks(st, p));
    json_object_set_new(o, "plan", info.version ? json_pack("{s:s,s:s,s:s,s:I}", "name", info.name, "issuer",
                                                            info.issuer, "date", info.date, "version",
                                                            (json_int_t)info.version)
                                                : json_null());
    json_object_set_new(o, "periodic", periodic);
    json_decref(epi);
    *out = o;
    return 0;
}

/* ---------------------------------------------------------------- the tables */

/* Each part as a table of text cells: a header, then rows. Numbers are
 * kept as numbers for XLSX (a cell's JSON value), text for CSV. */
typedef struct ts__part {
    const char *name;     /* targets, tasks, reporting */
    const char *sheet_vi; /* the sheet's name (at most 31 characters) */
    const char *title_vi;
    const char *const *cols;
    size_t ncols;
} ts__part;

static const char *const ts__target_cols[] = {"Xã",      "Mã trạm", "Chỉ tiêu", "Mã chỉ tiêu", "Tử số", "Mẫu số",
                                              "Giá trị", "Đơn vị",  "Đạt",      "Nguồn số liệu", "Ngày số liệu"};
static const char *const ts__task_cols[] = {"STT",          "Mã",          "Nhiệm vụ", "Cơ quan chủ trì",
                                            "Thời hạn",     "Hạn (ngày)",  "Số trạm được giao",
                                            "Số trạm hoàn thành", "Tiến độ (%)", "Số trạm quá hạn", "Không áp dụng (lý do)"};
static const char *const ts__rep_cols[] = {"Xã", "Mã trạm", "Số ca báo cáo", "Đúng hạn", "Trễ hạn",
                                           "Tỷ lệ đúng hạn (%)"};

static const char *const ts__per_cols[] = {"Báo cáo",          "Kỳ",     "Hạn nộp", "Số trạm phải nộp",
                                           "Số trạm đã nộp",   "Đúng hạn", "Nộp muộn", "Tỷ lệ báo cáo (%)",
                                           "Tỷ lệ đúng hạn (%)", "Trạm chưa nộp, nộp sai mẫu"};

#define TS__NPARTS 4
static const ts__part ts__parts[TS__NPARTS] = {
    {"targets", "Chỉ tiêu", "Kết quả thực hiện chỉ tiêu theo xã", ts__target_cols, 11},
    {"tasks", "Nhiệm vụ", "Tiến độ thực hiện nhiệm vụ của kế hoạch", ts__task_cols, 11},
    {"reporting", "Báo cáo dịch", "Tính đầy đủ, kịp thời của báo cáo ca bệnh truyền nhiễm", ts__rep_cols, 6},
    {"periodic", "Báo cáo định kỳ", "Tính đầy đủ, kịp thời của báo cáo định kỳ của các trạm", ts__per_cols, 10},
};

static const char *ts__commune(const json_t *o)
{
    const char *c = ts_json_str(o, "commune");
    return c[0] ? c : ts_json_str(o, "station");
}

/* The cells of row i of a part: a new JSON array (strings, numbers, null). */
static json_t *ts__row(const json_t *data, const ts__part *p, size_t i)
{
    const json_t *o = json_array_get(json_object_get(data, p->name), i);
    if (o == NULL)
        return NULL;
    if (strcmp(p->name, "targets") == 0) {
        const json_t *met = json_object_get(o, "met");
        const char *unit = ts_json_str(o, "unit");
        return json_pack("[s,s,s,s,O,O,O,s,s,s,s]", ts__commune(o), ts_json_str(o, "station"), ts_json_str(o, "label_vi"),
                         ts_json_str(o, "indicator"), json_object_get(o, "numerator"), json_object_get(o, "denominator"),
                         json_object_get(o, "value"),
                         strcmp(unit, "%") == 0 ? "%" : strcmp(unit, "c") == 0 ? "con/phụ nữ" : "trai/100 gái",
                         json_is_null(met) || met == NULL ? "Định hướng/không có mục tiêu"
                         : json_is_true(met)              ? "Đạt"
                                                          : "Chưa đạt",
                         ts_json_str(o, "source"), ts_json_str(data, "day"));
    }
    if (strcmp(p->name, "tasks") == 0)
        return json_pack("[O,s,s,s,s,s,O,O,O,O,s]", json_object_get(o, "no"), ts_json_str(o, "id"), ts_json_str(o, "task"),
                         ts_json_str(o, "lead"), ts_json_str(o, "deadline_text"), ts_json_str(o, "deadline"), json_object_get(o, "assigned"),
                         json_object_get(o, "done"), json_object_get(o, "percent"), json_object_get(o, "overdue"),
                         ts_json_str(o, "not_applicable"));
    if (strcmp(p->name, "periodic") == 0) {
        ts_buf names = TS_BUF_INIT;
        size_t k;
        json_t *n;
        json_array_foreach(json_object_get(o, "not_received"), k, n) {
            if (k)
                ts_buf_append_str(&names, ", ");
            ts_buf_append_str(&names, json_string_value(n) ? json_string_value(n) : "");
        }
        ts_buf_append(&names, "", 1);
        json_t *r = json_pack("[s,s,s,O,O,O,O,O,O,s]", ts_json_str(o, "title"), ts_json_str(o, "period"), ts_json_str(o, "due_date"),
                              json_object_get(o, "expected"), json_object_get(o, "received"),
                              json_object_get(o, "on_time"), json_object_get(o, "late"),
                              json_object_get(o, "reporting_rate"), json_object_get(o, "timeliness"),
                              (const char *)names.data);
        ts_buf_free(&names);
        return r;
    }
    json_int_t cases = json_integer_value(json_object_get(o, "cases")),
               on_time = json_integer_value(json_object_get(o, "on_time"));
    json_t *r = json_pack("[s,s,I,I,I]", ts__commune(o), ts_json_str(o, "station"), cases, on_time,
                          json_integer_value(json_object_get(o, "late")));
    json_array_append_new(r, cases ? json_real(100.0 * (double)on_time / (double)cases) : json_null());
    return r;
}

static const ts__part *ts__part_named(const char *name)
{
    for (size_t i = 0; i < TS__NPARTS; i++)
        if (strcmp(ts__parts[i].name, name) == 0)
            return &ts__parts[i];
    return NULL;
}

/* ---------------------------------------------------------------- CSV */

static void ts__csv_field(ts_buf *b, const char *text, bool last)
{
    ts_buf_append_str(b, "\"");
    for (const char *c = text; *c; c++) {
        if (*c == '"')
            ts_buf_append_str(b, "\"\""); /* RFC 4180: quotes doubled */
        else
            ts_buf_append(b, c, 1);
    }
    ts_buf_append_str(b, last ? "\"\r\n" : "\",");
}

static void ts__csv_cell(ts_buf *b, const json_t *v, bool last)
{
    char num[64];
    num[0] = '\0';
    if (json_is_integer(v))
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(num, sizeof num, "%.2f", json_real_value(v));
    ts__csv_field(b, json_is_string(v) ? json_string_value(v) : num, last);
}

void ts_province_csv(const json_t *data, const char *part, ts_buf *out)
{
    const ts__part *p = ts__part_named(part);
    if (p == NULL)
        p = &ts__parts[0];
    ts_buf_append_str(out, "\xEF\xBB\xBF");
    /* who and when first: a spreadsheet opened alone still says it */
    ts__csv_field(out, "Đơn vị", false);
    ts__csv_field(out, ts_json_str(data, "district"), true);
    ts__csv_field(out, "Kỳ báo cáo", false);
    ts__csv_field(out, ts_json_str(json_object_get(data, "period"), "label_vi"), true);
    ts__csv_field(out, "Nội dung", false);
    ts__csv_field(out, p->title_vi, true);
    ts_buf_append_str(out, "\r\n");
    for (size_t c = 0; c < p->ncols; c++)
        ts__csv_field(out, p->cols[c], c + 1 == p->ncols);
    json_t *row;
    for (size_t i = 0; (row = ts__row(data, p, i)) != NULL; i++) {
        for (size_t c = 0; c < p->ncols; c++)
            ts__csv_cell(out, json_array_get(row, c), c + 1 == p->ncols);
        json_decref(row);
    }
}

/* ---------------------------------------------------------------- XLSX */

static int ts__read_all(const char *path, ts_buf *out, ts_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return ts_error_set(err, TS_EIO, "export %s: %s", path, strerror(errno));
    char chunk[16384];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ts_buf_append(out, chunk, n);
    int bad = ferror(f);
    fclose(f);
    return bad ? ts_error_set(err, TS_EIO, "export %s: read error", path) : 0;
}

int ts_province_xlsx(const json_t *data, const char *tmpdir, ts_buf *out, ts_error *err)
{
    /* libxlsxwriter writes a file: a private name in tmpdir (the daemon's
     * data directory, the one place its unit may write), read back, removed */
    char *path = ts_xasprintf("%s/export-XXXXXX", tmpdir);
    int fd = mkstemp(path);
    if (fd < 0) {
        int rc = ts_error_set(err, TS_EIO, "export: %s: %s", path, strerror(errno));
        free(path);
        return rc;
    }
    close(fd);
    lxw_workbook_options opt = {.constant_memory = LXW_FALSE, .tmpdir = (char *)tmpdir, .use_zip64 = LXW_FALSE};
    lxw_workbook *wb = workbook_new_opt(path, &opt);
    int rc = 0;
    if (wb == NULL) {
        rc = ts_error_set(err, TS_EIO, "export: cannot create the workbook");
        goto out;
    }
    lxw_format *bold = workbook_add_format(wb);
    format_set_bold(bold);
    lxw_format *head = workbook_add_format(wb);
    format_set_bold(head);
    format_set_text_wrap(head);
    format_set_bg_color(head, 0xDDEBF7);
    format_set_border(head, LXW_BORDER_THIN);
    lxw_format *wrap = workbook_add_format(wb);
    format_set_text_wrap(wrap);
    format_set_align(wrap, LXW_ALIGN_VERTICAL_TOP);
    lxw_format *dec = workbook_add_format(wb);
    format_set_num_format(dec, "0.0");
    for (size_t k = 0; k < TS__NPARTS; k++) {
        const ts__part *p = &ts__parts[k];
        lxw_worksheet *ws = workbook_add_worksheet(wb, p->sheet_vi);
        worksheet_write_string(ws, 0, 0, ts_json_str(data, "district"), bold);
        worksheet_write_string(ws, 1, 0, p->title_vi, bold);
        worksheet_write_string(ws, 2, 0, "Kỳ báo cáo:", NULL);
        worksheet_write_string(ws, 2, 1, ts_json_str(json_object_get(data, "period"), "label_vi"), NULL);
        for (size_t c = 0; c < p->ncols; c++) {
            worksheet_write_string(ws, 4, (lxw_col_t)c, p->cols[c], head);
            worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c, c == 2 ? 60 : 16, c == 2 ? wrap : NULL);
        }
        json_t *row;
        for (size_t i = 0; (row = ts__row(data, p, i)) != NULL; i++) {
            lxw_row_t r = (lxw_row_t)(5 + i);
            for (size_t c = 0; c < p->ncols; c++) {
                const json_t *v = json_array_get(row, c);
                if (json_is_string(v))
                    worksheet_write_string(ws, r, (lxw_col_t)c, json_string_value(v), NULL);
                else if (json_is_number(v))
                    worksheet_write_number(ws, r, (lxw_col_t)c, json_number_value(v), json_is_real(v) ? dec : NULL);
            }
            json_decref(row);
        }
        worksheet_freeze_panes(ws, 5, 0);
    }
    lxw_error e = workbook_close(wb);
    if (e != LXW_NO_ERROR)
        rc = ts_error_set(err, TS_EIO, "export: %s", lxw_strerror(e));
    else
        rc = ts__read_all(path, out, err);
out:
    unlink(path);
    free(path);
    return rc;
}
