/* The quarter's summary report as a printable PDF, A4, in Vietnamese:
 * targets met and not met per commune, outbreaks, late case reports, the
 * stations' periodic reports (sent, on time, missing), overdue tasks. Pango lays the text out (shaping and line breaking of Vietnamese's
 * stacked diacritics, with a Unicode font: DejaVu Sans, fonts-dejavu-core)
 * and cairo writes the PDF with the fonts embedded, so it prints the same
 * anywhere (docs/DEPENDENCIES.md). */
#include "server/ts_province.h"

#include <stdio.h>
#include <string.h>

#include "common/ts_recjson.h"
#include "common/ts_text.h"
#include "common/ts_buf.h"
#include "common/ts_period.h"
#include "common/ts_xmalloc.h"
#include "server/ts_pdf.h"

#define TS__MARGIN 56.0 /* about 2 cm */

typedef ts_pdf ts__pdf;

/* One paragraph, on a new page when it does not fit on this one. */
static void ts__para(ts__pdf *p, const char *text, const char *font, double indent, double space_after)
{
    ts_pdf_style s = {font, indent, 0, PANGO_ALIGN_LEFT, false, 0, 0, space_after, true};
    ts_pdf_put(p, &s, text);
}

#define TS__BODY "DejaVu Sans 9.5"
#define TS__BOLD "DejaVu Sans Bold 10.5"

static const char *ts__commune(const json_t *o)
{
    const char *c = ts_json_str(o, "commune");
    return c[0] ? c : ts_json_str(o, "station");
}

static void ts__targets(ts__pdf *p, const json_t *data)
{
    char line[4096], day[16];
    ts_text_date(ts_json_str(data, "day"), day, sizeof day);
    ts__para(p, "1. Kết quả thực hiện chỉ tiêu theo xã", TS__BOLD, 0, 4);
    const json_t *targets = json_object_get(data, "targets");
    if (json_array_size(targets) == 0) {
        ts__para(p, "Chưa có số liệu chỉ tiêu trong kỳ.", TS__BODY, 12, 8);
        return;
    }
    snprintf(line, sizeof line, "Số liệu ngày %s, theo kế hoạch đang áp dụng.", day);
    ts__para(p, line, TS__BODY, 12, 4);
    /* communes in the order the figures come (station order) */
    size_t i = 0;
    while (i < json_array_size(targets)) {
        const json_t *first = json_array_get(targets, i);
        const char *station = ts_json_str(first, "station");
        int met = 0, unmet = 0;
        ts_buf missed = TS_BUF_INIT;
        size_t j = i;
        for (; j < json_array_size(targets); j++) {
            const json_t *t = json_array_get(targets, j);
            if (strcmp(ts_json_str(t, "station"), station) != 0)
                break;
            const json_t *m = json_object_get(t, "met");
            if (json_is_true(m))
                met++;
            else if (json_is_false(m)) {
                unmet++;
                ts_buf_printf(&missed, "%s– %s", missed.len ? "\n" : "", ts_json_str(t, "label_vi"));
            }
        }
        snprintf(line, sizeof line, "Xã %s: đạt %d chỉ tiêu, chưa đạt %d chỉ tiêu", ts__commune(first), met, unmet);
        ts__para(p, line, TS__BODY, 12, 2);
        if (missed.len) {
            ts_buf_append(&missed, "", 1);
            ts__para(p, (const char *)missed.data, TS__BODY, 28, 2);
        }
        ts_buf_free(&missed);
        i = j;
    }
    p->y += 6;
}

static void ts__outbreaks(ts__pdf *p, const json_t *data)
{
    char line[1024], from[16], to[16];
    ts__para(p, "2. Dịch bệnh: các ổ dịch trong kỳ", TS__BOLD, 0, 4);
    const json_t *arr = json_object_get(data, "outbreaks");
    if (json_array_size(arr) == 0)
        ts__para(p, "Không có ổ dịch nào trong kỳ.", TS__BODY, 12, 8);
    size_t k;
    json_t *o;
    json_array_foreach(arr, k, o) {
        ts_text_date(ts_json_str(o, "started_on"), from, sizeof from);
        ts_text_date(ts_json_str(o, "ended_on"), to, sizeof to);
        char stations[512] = "";
        size_t n;
        json_t *s;
        json_array_foreach(json_object_get(o, "stations"), n, s)
            snprintf(stations + strlen(stations), sizeof stations - strlen(stations), "%s%s", n ? ", " : "",
                     json_string_value(s) ? json_string_value(s) : "");
        snprintf(line, sizeof line, "– %s (%s): phát hiện %s%s%s; %lld ca; trạm: %s", ts_json_str(o, "disease_vi"),
                 ts_json_str(o, "id"), from, to[0] ? ", kết thúc " : ", chưa kết thúc", to,
                 (long long)json_integer_value(json_object_get(o, "cases_total")), stations);
        ts__para(p, line, TS__BODY, 12, 2);
    }
    p->y += 6;
}

static void ts__reporting(ts__pdf *p, const json_t *data)
{
    char line[512];
    ts__para(p, "3. Báo cáo ca bệnh truyền nhiễm trễ hạn", TS__BOLD, 0, 4);
    const json_t *arr = json_object_get(data, "reporting");
    json_int_t late_all = 0;
    size_t k;
    json_t *r;
    json_array_foreach(arr, k, r) {
        json_int_t late = json_integer_value(json_object_get(r, "late"));
        late_all += late;
        snprintf(line, sizeof line, "Xã %s: %lld ca báo cáo, %lld đúng hạn, %lld trễ hạn", ts__commune(r),
                 (long long)json_integer_value(json_object_get(r, "cases")),
                 (long long)json_integer_value(json_object_get(r, "on_time")), (long long)late);
        ts__para(p, line, TS__BODY, 12, 2);
    }
    if (json_array_size(arr) == 0)
        ts__para(p, "Không có ca bệnh nào được báo cáo trong kỳ.", TS__BODY, 12, 8);
    else if (late_all == 0)
        ts__para(p, "Không có báo cáo trễ hạn.", TS__BODY, 12, 8);
    else
        p->y += 6;
}

/* The calendar's periodic reports whose period ends in the quarter: who
 * owed them, who sent them, on time or late, and who did not. */
static void ts__periodic(ts__pdf *p, const json_t *data)
{
    char head[1024], period[64], due[32];
    ts__para(p, "4. Báo cáo định kỳ của các trạm", TS__BOLD, 0, 4);
    const json_t *arr = json_object_get(data, "periodic");
    size_t k, n;
    json_t *r, *s;
    json_array_foreach(arr, k, r) {
        ts_period_key_label(ts_json_str(r, "period"), false, period, sizeof period);
        ts_text_date(ts_json_str(r, "due_date"), due, sizeof due);
        snprintf(head, sizeof head, "%s (hạn %s): %lld trạm phải nộp, %lld đã nộp, %lld đúng hạn, %lld muộn", period,
                 due, (long long)json_integer_value(json_object_get(r, "expected")),
                 (long long)json_integer_value(json_object_get(r, "received")),
                 (long long)json_integer_value(json_object_get(r, "on_time")),
                 (long long)json_integer_value(json_object_get(r, "late")));
        /* whole names, however many stations: never cut in a letter */
        ts_buf line = TS_BUF_INIT;
        ts_buf_append_str(&line, "– ");
        ts_buf_append_str(&line, ts_json_str(r, "title"));
        ts_buf_append_str(&line, ", ");
        ts_buf_append_str(&line, head);
        const json_t *missing = json_object_get(r, "not_received");
        if (!json_is_true(json_object_get(r, "due_passed"))) {
            ts_buf_append_str(&line, "; chưa đến hạn");
        } else if (json_array_size(missing) > 0) {
            ts_buf_append_str(&line, "; chưa nộp hoặc sai mẫu:");
            json_array_foreach(missing, n, s) {
                ts_buf_append_str(&line, n ? ", " : " ");
                ts_buf_append_str(&line, json_string_value(s) ? json_string_value(s) : "");
            }
        }
        ts_buf_append(&line, "", 1);
        ts__para(p, (const char *)line.data, TS__BODY, 12, 2);
        ts_buf_free(&line);
    }
    if (json_array_size(arr) == 0)
        ts__para(p, "Không có báo cáo định kỳ nào có kỳ kết thúc trong quý.", TS__BODY, 12, 8);
    else
        p->y += 6;
}

static void ts__overdue(ts__pdf *p, const json_t *data)
{
    char line[6000];
    ts__para(p, "5. Nhiệm vụ quá hạn", TS__BOLD, 0, 4);
    int n = 0;
    size_t k;
    json_t *t;
    json_array_foreach(json_object_get(data, "tasks"), k, t) {
        if (json_integer_value(json_object_get(t, "overdue")) <= 0)
            continue;
        n++;
        snprintf(line, sizeof line, "– %s: %s (chủ trì: %s; thời hạn: %s) — %lld/%lld trạm quá hạn", ts_json_str(t, "id"),
                 ts_json_str(t, "task"), ts_json_str(t, "lead"), ts_json_str(t, "deadline_text"),
                 (long long)json_integer_value(json_object_get(t, "overdue")),
                 (long long)json_integer_value(json_object_get(t, "assigned")));
        ts__para(p, line, TS__BODY, 12, 2);
    }
    if (n == 0)
        ts__para(p, "Không có nhiệm vụ quá hạn.", TS__BODY, 12, 2);
    json_array_foreach(json_object_get(data, "tasks"), k, t) {
        if (!json_is_string(json_object_get(t, "not_applicable")))
            continue;
        snprintf(line, sizeof line, "– %s: không áp dụng (%s)", ts_json_str(t, "id"), ts_json_str(t, "not_applicable"));
        ts__para(p, line, TS__BODY, 12, 2);
    }
}

int ts_province_pdf(const json_t *data, const char *tmpdir, ts_buf *out, ts_error *err)
{
    (void)tmpdir; /* cairo writes through a callback: no file */
    const json_t *period = json_object_get(data, "period");
    char title[256];
    snprintf(title, sizeof title, "Báo cáo tóm tắt %s", ts_json_str(period, "label_vi"));
    ts__pdf p;
    int rc = ts_pdf_open(&p, out, TS__MARGIN, TS__MARGIN, TS__MARGIN, TS__MARGIN, title, ts_json_str(data, "district"), err);
    if (rc < 0)
        return rc;
    ts__para(&p, ts_json_str(data, "district"), "DejaVu Sans Bold 11", 0, 14);
    ts__para(&p, "BÁO CÁO TÓM TẮT TÌNH HÌNH THỰC HIỆN KẾ HOẠCH Y TẾ CƠ SỞ", "DejaVu Sans Bold 13", 0, 4);
    char line[2048];
    snprintf(line, sizeof line, "Kỳ báo cáo: %s", ts_json_str(period, "label_vi"));
    ts__para(&p, line, "DejaVu Sans 11", 0, 4);
    const json_t *plan = json_object_get(data, "plan");
    if (json_is_object(plan))
        snprintf(line, sizeof line, "Kế hoạch: %s (%s, %s; phiên bản %lld)", ts_json_str(plan, "name"), ts_json_str(plan, "issuer"),
                 ts_json_str(plan, "date"), (long long)json_integer_value(json_object_get(plan, "version")));
    else
        snprintf(line, sizeof line, "Chưa nạp kế hoạch: không có mục tiêu để đánh giá.");
    ts__para(&p, line, TS__BODY, 0, 4);
    ts__para(&p, "Kính gửi: Sở Y tế", TS__BODY, 0, 14);
    ts__targets(&p, data);
    ts__outbreaks(&p, data);
    ts__reporting(&p, data);
    ts__periodic(&p, data);
    ts__overdue(&p, data);
    return ts_pdf_close(&p, err);
}
