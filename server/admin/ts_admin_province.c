/* Up to the province (the Sở Y tế): the quarter's export of targets, task
 * progress and reporting completeness (CSV or XLSX) and its summary report
 * (PDF), with the TTYT's name ([district] name) and the period in the file.
 * Aggregates only: no resident's name or record is in them. */
#include <stdio.h>
#include <string.h>

#include "common/ts_notice.h"
#include "common/ts_xmalloc.h"
#include "server/admin/ts_admin_int.h"
#include "server/ts_province.h"
#include "server/ts_server.h"

/* The period asked (?quarter=YYYY-Qn, default the district's current
 * quarter) and everything collected for it, communes named; NULL when
 * answered already (an error). */
static json_t *ts__collect(ts_admin__job *j, ts_store *st, ts_province_period *p)
{
    char quarter[16] = "", today[16];
    ts_admin__q(j, "quarter", quarter, sizeof quarter);
    ts_local_day(j->now_ms, today, sizeof today);
    if (!ts_province_quarter(quarter, today, p)) {
        ts_admin__fail(j, 400, "BAD_REQUEST", "quarter là một quý: YYYY-Qn (ví dụ 2026-Q3) / quarter is YYYY-Qn");
        return NULL;
    }
    const ts_server_config *cfg = ts_server_get_config(j->adm->srv);
    json_t *data;
    ts_error err;
    if (ts_province_collect(st, cfg->district_name, p, &data, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return NULL;
    }
    ts_admin__add_station_names(j->adm, st, json_object_get(data, "targets"));
    ts_admin__add_station_names(j->adm, st, json_object_get(data, "reporting"));
    return data;
}

/* The workbook or the CSV of what ts_admin__api_export collected (worker
 * thread, without the store). render_arg: "format part". */
static void ts__render_export(ts_admin__job *j)
{
    const json_t *data = j->render_data;
    const char *quarter = json_string_value(json_object_get(json_object_get(data, "period"), "quarter"));
    char format[8] = "", part[16] = "";
    sscanf(j->render_arg, "%7s %15s", format, part);
    ts_error err;
    if (strcmp(format, "csv") == 0) {
        ts_province_csv(data, part, &j->text);
        j->text_type = "text/csv; charset=utf-8";
        snprintf(j->headers, sizeof j->headers,
                 "Content-Disposition: attachment; filename=\"bao-cao-%s-%s.csv\"\r\n", part, quarter);
    } else {
        if (ts_province_xlsx(data, j->render_dir, &j->text, &err) < 0) {
            ts_buf_free(&j->text);
            ts_admin__fail_err(j, &err);
            return;
        }
        j->text_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
        snprintf(j->headers, sizeof j->headers, "Content-Disposition: attachment; filename=\"bao-cao-%s.xlsx\"\r\n",
                 quarter);
    }
    j->status = 200;
}

/* GET /api/export?format=xlsx|csv|json&part=targets|tasks|reporting|periodic&quarter=YYYY-Qn */
void ts_admin__api_export(ts_admin__job *j, ts_store *st)
{
    static const char *const formats[] = {"xlsx", "csv", "json", NULL};
    static const char *const parts[] = {"targets", "tasks", "reporting", "periodic", NULL};
    char format[8] = "xlsx", part[16] = "targets";
    if (!ts_admin__q_enum(j, "format", formats, format, sizeof format) ||
        !ts_admin__q_enum(j, "part", parts, part, sizeof part))
        return;
    ts_province_period p;
    json_t *data = ts__collect(j, st, &p);
    if (data == NULL)
        return;
    if (strcmp(format, "json") == 0) {
        ts_admin__ok(j, 200, data);
        return;
    }
    j->render = ts__render_export;
    j->render_data = data;
    j->render_dir = ts_xstrdup(ts_server_get_config(j->adm->srv)->data_dir);
    snprintf(j->render_arg, sizeof j->render_arg, "%s %s", format, part);
}

/* The summary report of what ts_admin__api_report_quarterly collected
 * (worker thread, without the store). */
static void ts__render_quarterly(ts_admin__job *j)
{
    const char *quarter =
        json_string_value(json_object_get(json_object_get(j->render_data, "period"), "quarter"));
    ts_error err;
    int rc = ts_province_pdf(j->render_data, j->render_dir, &j->text, &err);
    char name[64];
    snprintf(name, sizeof name, "bao-cao-quy-%s.pdf", quarter);
    ts_admin__file(j, rc, &err, "application/pdf", name);
}

/* GET /api/report/quarterly?quarter=YYYY-Qn: the summary report, PDF, A4. */
void ts_admin__api_report_quarterly(ts_admin__job *j, ts_store *st)
{
    ts_province_period p;
    json_t *data = ts__collect(j, st, &p);
    if (data == NULL)
        return;
    j->render = ts__render_quarterly;
    j->render_data = data;
    j->render_dir = ts_xstrdup(ts_server_get_config(j->adm->srv)->data_dir);
}
