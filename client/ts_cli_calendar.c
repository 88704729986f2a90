/* The station's calendar (issue 18): `tramsync calendar` lists the periodic
 * reports the station owes and the meetings it is called to (the district's
 * duty_occurrences addressed to it), each report with whether it was sent
 * on time and, once the district graded it, its verdict (the grade it
 * writes on the report: on time, late, or not fitting the form with why and
 * what to do); `tramsync submit OCCURRENCE` sends a periodic report with the
 * values of its form, from --field name=value or a file (CSV lines
 * name,value or a JSON object), checked against the duty's form first. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/ts_cli_int.h"
#include "client/ts_station_notices.h"
#include "common/ts_period.h"
#include "common/ts_calendar.h"
#include "common/ts_notice.h"
#include "common/ts_people.h"
#include "common/ts_recjson.h"
#include "common/ts_text.h"
#include "common/ts_xmalloc.h"

/* One record's fields (with "_id"), or NULL when absent or deleted. */
static json_t *ts__get(ts_store *st, const char *table, const char *id)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    ts_error err;
    json_t *f = NULL;
    if (ts_store_get(st, table, id, &c, &arena, &err) == 0) {
        if (!ts_version_deleted(&c.v)) {
            json_t *r = ts_recjson_record(&c, false);
            f = json_incref(json_object_get(r, "fields"));
            json_decref(r);
        }
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    return f;
}

/* Every live record of a table, as [{"_id", fields...}]. */
static int ts__all(ts_store *st, const char *table, json_t **out, ts_error *err)
{
    json_t *arr = json_array();
    ts_change_page page;
    ts_change_page_init(&page);
    char after[TS_KEY_MAX + 1] = "";
    int rc;
    for (;;) {
        rc = ts_store_list(st, table, after[0] ? after : NULL, 500, false, &page, err);
        if (rc < 0)
            break;
        for (uint32_t i = 0; i < page.n; i++) {
            if (ts_version_deleted(&page.items[i].v))
                continue;
            json_t *r = ts_recjson_record(&page.items[i], false);
            json_t *f = json_incref(json_object_get(r, "fields"));
            json_object_set_new(f, "_id", json_string(page.items[i].id));
            json_decref(r);
            json_array_append_new(arr, f);
        }
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

/* A meeting's time as the district wrote it ("2026-12-14T07:30:00+07:00" ->
 * "14/12/2026 07:30"): the district's wall time, whatever this PC's zone. */
static const char *ts__wall(const char *iso, char *out, size_t size)
{
    if (strlen(iso) >= 16 && iso[10] == 'T')
        snprintf(out, size, "%.2s/%.2s/%.4s %.5s", iso + 8, iso + 5, iso, iso + 11);
    else
        snprintf(out, size, "%s", iso);
    return out;
}

static const char *ts__type_words(const ts_cli *cli, const char *type)
{
    if (strcmp(type, "int") == 0)
        return TS__L(cli, "số nguyên", "whole number");
    if (strcmp(type, "real") == 0)
        return TS__L(cli, "số", "number");
    if (strcmp(type, "date") == 0)
        return TS__L(cli, "ngày YYYY-MM-DD", "date YYYY-MM-DD");
    if (strcmp(type, "bool") == 0)
        return TS__L(cli, "có/không", "yes/no");
    return TS__L(cli, "chữ", "text");
}

/* This station's status of an occurrence: the district's grade (on_time,
 * late, invalid) when it graded this very submission (*graded), else
 * on_time or late as counted here; missing (due day passed) or pending
 * when nothing was sent. */
static const char *ts__status(const json_t *occ, const json_t *report, const char *today, bool *graded)
{
    *graded = false;
    const char *due = ts_json_str(occ, "due_date");
    if (report == NULL)
        return strcmp(today, due) > 0 ? "missing" : "pending";
    const char *grade = ts_json_str(report, "grade");
    if (grade[0] && strcmp(ts_json_str(report, "graded_submission"), ts_json_str(report, "submitted_at")) == 0) {
        *graded = true;
        return grade;
    }
    uint64_t ms;
    char day[16] = "";
    if (ts_time_parse(ts_json_str(report, "submitted_at"), &ms))
        ts_local_day(ms, day, sizeof day);
    return day[0] && strcmp(day, due) <= 0 ? "on_time" : "late";
}

/* A report's lines after its due day: the district's verdict, why, and what
 * to do when it does not fit the form. */
static void ts__print_grade(const ts_cli *cli, const json_t *o)
{
    char when[48];
    const char *status = ts_json_str(o, "status");
    if (strcmp(status, "invalid") != 0)
        return;
    printf(TS__L(cli, "    Trung tâm đã kiểm tra (lúc %s): %s — báo cáo chưa được tính là đã nộp.\n",
                 "    Graded by the district (at %s): %s — the report does not count as sent.\n"),
           ts_text_date(ts_json_str(o, "graded_at"), when, sizeof when), ts_report_status_label(status, cli->en));
    size_t i;
    const json_t *p;
    if (json_array_size(json_object_get(o, "grade_problems")) > 0)
        puts(TS__L(cli, "    Lý do:", "    Why:"));
    json_array_foreach(json_object_get(o, "grade_problems"), i, p) {
        const char *label = cli->en ? ts_json_str(p, "label_en") : ts_json_str(p, "label_vi");
        printf("      %s%s%s\n", label, label[0] ? ": " : "", ts_form_problem_text(ts_json_str(p, "problem"), cli->en));
    }
    printf(TS__L(cli, "    Cần nộp lại: tramsync submit %s --field tên=giá_trị (các chỉ tiêu dưới đây)\n",
                 "    Send it again: tramsync submit %s --field name=value (the fields below)\n"),
           ts_json_str(o, "id"));
}

static int ts__by_when(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    const char *p = ts_json_str(x, "due_date")[0] ? ts_json_str(x, "due_date") : ts_json_str(x, "meeting_at");
    const char *q = ts_json_str(y, "due_date")[0] ? ts_json_str(y, "due_date") : ts_json_str(y, "meeting_at");
    return strcmp(p, q);
}

int ts_cli_calendar(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(cli,
                             "cách dùng: tramsync [-d THƯ_MỤC] [--json] calendar\n\n"
                             "Lịch công tác của trạm: các báo cáo định kỳ trạm phải nộp (hạn nộp, đã nộp đúng hạn\n"
                             "hay chưa, kết quả trung tâm kiểm tra — báo cáo sai mẫu thì lý do và cần nộp lại —, các\n"
                             "chỉ tiêu của mẫu) và các cuộc họp giao ban, sơ kết, tổng kết (thời gian, địa điểm, thành\n"
                             "phần), từ 45 ngày trước. Nộp báo cáo: tramsync submit MÃ_KỲ.\n",
                             "usage: tramsync [-d DIR] [--json] calendar\n\n"
                             "This station's calendar: the periodic reports it owes (due date, sent on time or\n"
                             "not, the district's grade — for a report not fitting the form, why and that it must be\n"
                             "sent again —, the form's fields) and the briefing meetings and reviews it is called to\n"
                             "(time, place, participants), from 45 days back. To send a report: tramsync submit ID.\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 1)
        return ts_cli__usage(help, argc, argv);
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, true);
    if (rc != 0)
        return rc;
    /* the station's reports are read one by one, by id, for what is shown */
    json_t *occs = NULL;
    ts_error err;
    if (ts__all(x.store, "duty_occurrences", &occs, &err) < 0) {
        rc = ts_cli__fail_err(cli, err.code, "không đọc được lịch công tác", err.msg);
        goto done;
    }
    char today[16], from[16];
    ts_local_day(ts_wall_ms(), today, sizeof today);
    ts_date t;
    if (!ts_date_parse(today, &t))
        t.y = 1970, t.m = 1, t.d = 1;
    ts_date_fmt(ts_date_add_days(t, -45), from, sizeof from);
    size_t n = 0, i;
    json_t **list = ts_xcalloc(json_array_size(occs) + 1, sizeof *list);
    json_t *o;
    json_array_foreach(occs, i, o) {
        char day[16] = "";
        const char *when = ts_json_str(o, "due_date");
        if (!when[0]) {
            uint64_t ms;
            if (ts_time_parse(ts_json_str(o, "meeting_at"), &ms))
                ts_local_day(ms, day, sizeof day);
            when = day;
        }
        if (strcmp(when, from) >= 0)
            list[n++] = o;
    }
    qsort(list, n, sizeof *list, ts__by_when);
    json_t *out = json_array();
    for (size_t k = 0; k < n; k++) {
        o = list[k];
        json_t *item = json_deep_copy(o);
        json_object_set_new(item, "id", json_string(ts_json_str(o, "_id")));
        json_object_del(item, "_id");
        json_object_del(item, "stations");
        if (strcmp(ts_json_str(o, "kind"), "periodic_report") == 0) {
            char rid[2 * TS_KEY_MAX + 2];
            snprintf(rid, sizeof rid, "%s:%s", ts_json_str(o, "_id"), x.cfg.code);
            json_t *rep = ts__get(x.store, "periodic_reports", rid);
            bool graded;
            json_object_set_new(item, "status", json_string(ts__status(o, rep, today, &graded)));
            if (rep) {
                json_object_set_new(item, "submitted_at", json_string(ts_json_str(rep, "submitted_at")));
                /* the district's verdict on this submission, and why */
                json_object_set_new(item, "graded", json_boolean(graded));
                if (graded) {
                    json_object_set_new(item, "graded_at", json_string(ts_json_str(rep, "graded_at")));
                    json_t *why = json_loads(ts_json_str(rep, "grade_problems"), 0, NULL);
                    json_object_set_new(item, "grade_problems", json_is_array(why) ? why : json_array());
                    if (!json_is_array(why))
                        json_decref(why);
                }
            }
            json_decref(rep);
            json_t *duty = ts__get(x.store, "duties", ts_json_str(o, "duty_id"));
            json_t *form = json_loads(ts_json_str(duty, "form"), 0, NULL);
            json_object_set_new(item, "form", form ? form : json_array());
            json_decref(duty);
        } else {
            /* the chair, by name and position, from the directory */
            json_t *duty = ts__get(x.store, "duties", ts_json_str(o, "duty_id"));
            char label[300];
            if (ts_json_str(duty, "responsible_person")[0] &&
                ts_people_resolve(x.store, ts_json_str(duty, "responsible_person"), NULL, 0, label, sizeof label) == 0)
                json_object_set_new(item, "responsible_person_label", json_string(label));
            json_decref(duty);
        }
        json_array_append_new(out, item);
    }
    free(list);
    if (cli->json) {
        ts_cli__print_json(out);
    } else if (json_array_size(out) == 0) {
        puts(TS__L(cli, "lịch công tác của trạm chưa có việc nào", "nothing on this station's calendar"));
    } else {
        json_array_foreach(out, i, o) {
            char when[48], period[64];
            bool report = strcmp(ts_json_str(o, "kind"), "periodic_report") == 0;
            ts_period_key_label(ts_json_str(o, "period"), cli->en, period, sizeof period);
            printf("%s\n    %s — %s\n", ts_json_str(o, "id"), ts_json_str(o, "title"), period);
            if (report) {
                printf(TS__L(cli, "    Hạn nộp: %s — %s", "    Due: %s — %s"),
                       ts_text_date(ts_json_str(o, "due_date"), when, sizeof when),
                       ts_report_status_label(ts_json_str(o, "status"), cli->en));
                if (ts_json_str(o, "submitted_at")[0]) {
                    printf(TS__L(cli, " (nộp lúc %s)", " (sent %s)"),
                           ts_text_date(ts_json_str(o, "submitted_at"), when, sizeof when));
                    if (!json_is_true(json_object_get(o, "graded")))
                        fputs(TS__L(cli, ", trung tâm chưa kiểm tra", ", not yet graded by the district"), stdout);
                    else if (strcmp(ts_json_str(o, "status"), "invalid") != 0)
                        fputs(TS__L(cli, ", trung tâm đã nhận", ", accepted by the district"), stdout);
                }
                fputc('\n', stdout);
                ts__print_grade(cli, o);
                size_t k;
                json_t *f;
                json_array_foreach(json_object_get(o, "form"), k, f) {
                    printf("      --field %s=…   %s (%s%s)\n", ts_json_str(f, "name"),
                           cli->en ? ts_json_str(f, "label_en") : ts_json_str(f, "label_vi"), ts__type_words(cli, ts_json_str(f, "type")),
                           json_is_true(json_object_get(f, "required")) ? TS__L(cli, ", bắt buộc", ", required") : "");
                }
            } else {
                printf(TS__L(cli, "    Thời gian: %s\n", "    When: %s\n"), ts__wall(ts_json_str(o, "meeting_at"), when, sizeof when));
                if (ts_json_str(o, "place")[0])
                    printf(TS__L(cli, "    Địa điểm: %s\n", "    Place: %s\n"), ts_json_str(o, "place"));
                if (ts_json_str(o, "participants")[0])
                    printf(TS__L(cli, "    Thành phần: %s\n", "    Participants: %s\n"), ts_json_str(o, "participants"));
                if (ts_json_str(o, "responsible_person_label")[0])
                    printf(TS__L(cli, "    Chủ trì: %s\n", "    Chair: %s\n"), ts_json_str(o, "responsible_person_label"));
            }
        }
    }
    json_decref(out);
done:
    json_decref(occs);
    ts_cli__close(&x);
    return rc;
}

/* name=value into values, typed by the form; 0, or an exit code */
static int ts__set_value(ts_cli *cli, const json_t *form, json_t *values, const char *name, const char *text)
{
    const json_t *f = ts_form_field(form, name);
    if (f == NULL)
        return ts_cli__fail(cli, TS_EBAD_VALUE,
                            TS__L(cli, "mẫu báo cáo không có chỉ tiêu \"%s\" (xem: tramsync calendar)",
                                  "the form has no field \"%s\" (see: tramsync calendar)"),
                            name);
    json_t *v = ts_form_value_from_text(f, text);
    if (v == NULL)
        return ts_cli__fail(cli, TS_EBAD_VALUE, TS__L(cli, "%s: \"%s\" không phải %s", "%s: \"%s\" is not a %s"),
                            cli->en ? ts_json_str(f, "label_en") : ts_json_str(f, "label_vi"), text,
                            ts__type_words(cli, ts_json_str(f, "type")));
    json_object_set_new(values, name, v);
    return 0;
}

/* A file of values: a JSON object, or CSV lines name,value (a first line
 * "name,value" or "ten,gia_tri" is a header). */
static int ts__read_file(ts_cli *cli, const json_t *form, json_t *values, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return ts_cli__fail(cli, TS_ENOT_FOUND, TS__L(cli, "không mở được tệp %s", "cannot open %s"), path);
    int c = fgetc(fp);
    while (c == ' ' || c == '\n' || c == '\r' || c == '\t')
        c = fgetc(fp);
    if (c != EOF)
        ungetc(c, fp);
    int rc = 0;
    if (c == '{') {
        json_error_t je;
        json_t *o = json_loadf(fp, 0, &je);
        if (!json_is_object(o)) {
            rc = ts_cli__fail(cli, TS_EBAD_VALUE, TS__L(cli, "%s: không phải JSON hợp lệ (dòng %d)", "%s: not valid JSON (line %d)"),
                              path, je.line);
        } else {
            const char *k;
            json_t *v;
            json_object_foreach(o, k, v) {
                const json_t *f = ts_form_field(form, k);
                if (f != NULL && json_is_string(v) && strcmp(ts_json_str(f, "type"), "text") != 0 &&
                    strcmp(ts_json_str(f, "type"), "date") != 0)
                    rc = ts__set_value(cli, form, values, k, json_string_value(v));
                else
                    json_object_set(values, k, v);
                if (rc)
                    break;
            }
        }
        json_decref(o);
    } else {
        char line[4096];
        int n = 0;
        while (rc == 0 && fgets(line, sizeof line, fp)) {
            n++;
            line[strcspn(line, "\r\n")] = '\0';
            if (line[0] == '\0')
                continue;
            char *comma = strchr(line, ',');
            if (comma == NULL) {
                rc = ts_cli__fail(cli, TS_EBAD_VALUE,
                                  TS__L(cli, "%s:%d: cần \"tên,giá_trị\"", "%s:%d: \"name,value\" expected"), path, n);
                break;
            }
            *comma = '\0';
            if (n == 1 && (strcmp(line, "name") == 0 || strcmp(line, "ten") == 0 || strcmp(line, "tên") == 0))
                continue;
            rc = ts__set_value(cli, form, values, line, comma + 1);
        }
    }
    fclose(fp);
    return rc;
}

int ts_cli_submit(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(
        cli,
        "cách dùng: tramsync [-d THƯ_MỤC] [--json] submit MÃ_KỲ [--field TÊN=GIÁ_TRỊ]... [--file TỆP]\n"
        "       [--by HỌ_TÊN] [--note GHI_CHÚ]\n\n"
        "Nộp báo cáo định kỳ của trạm cho kỳ MÃ_KỲ (xem: tramsync calendar). Các chỉ tiêu theo mẫu\n"
        "của trung tâm: --field TÊN=GIÁ_TRỊ, hoặc một tệp: CSV mỗi dòng TÊN,GIÁ_TRỊ, hoặc JSON\n"
        "{\"TÊN\": GIÁ_TRỊ}. Số liệu được kiểm tra theo mẫu trước khi lưu; nộp lại thì thay bản\n"
        "trước. In ra báo cáo nộp đúng hạn hay muộn.\n",
        "usage: tramsync [-d DIR] [--json] submit ID [--field NAME=VALUE]... [--file FILE]\n"
        "       [--by NAME] [--note TEXT]\n\n"
        "Sends this station's periodic report for occurrence ID (see: tramsync calendar). The form's\n"
        "fields: --field NAME=VALUE, or a file: CSV lines NAME,VALUE, or JSON {\"NAME\": VALUE}. The\n"
        "values are checked against the form before anything is stored; sending again replaces\n"
        "the earlier report. Says whether it was on time.\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    static const struct option opts[] = {{"field", required_argument, NULL, 'f'},
                                         {"file", required_argument, NULL, 'F'},
                                         {"by", required_argument, NULL, 'b'},
                                         {"note", required_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    const char *fields[64];
    int nfields = 0;
    const char *file = NULL, *by = NULL, *note = NULL;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'f' && nfields < 64)
            fields[nfields++] = optarg;
        else if (o == 'F')
            file = optarg;
        else if (o == 'b')
            by = optarg;
        else if (o == 'n')
            note = optarg;
        else
            return ts_cli__usage(help, argc, argv);
    }
    if (optind != argc - 1 || (nfields == 0 && file == NULL))
        return ts_cli__usage(help, argc, argv);
    const char *occ_id = argv[optind];
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, false);
    if (rc != 0)
        return rc;
    json_t *occ = ts__get(x.store, "duty_occurrences", occ_id), *duty = NULL, *form = NULL, *values = json_object();
    json_t *problems = NULL;
    if (occ == NULL || strcmp(ts_json_str(occ, "kind"), "periodic_report") != 0) {
        rc = ts_cli__fail(cli, TS_ENOT_FOUND,
                          TS__L(cli, "không có kỳ báo cáo \"%s\" của trạm (xem: tramsync calendar)",
                                "no report occurrence \"%s\" for this station (see: tramsync calendar)"),
                          occ_id);
        goto done;
    }
    duty = ts__get(x.store, "duties", ts_json_str(occ, "duty_id"));
    form = json_loads(ts_json_str(duty, "form"), 0, NULL);
    if (form == NULL)
        form = json_array();
    if (file && (rc = ts__read_file(cli, form, values, file)) != 0)
        goto done;
    for (int i = 0; i < nfields; i++) {
        char name[128];
        const char *eq = strchr(fields[i], '=');
        if (eq == NULL || eq == fields[i] || (size_t)(eq - fields[i]) >= sizeof name) {
            rc = ts_cli__usage(help, argc, argv);
            goto done;
        }
        snprintf(name, sizeof name, "%.*s", (int)(eq - fields[i]), fields[i]);
        if ((rc = ts__set_value(cli, form, values, name, eq + 1)) != 0)
            goto done;
    }
    problems = ts_form_problems(form, values);
    if (json_array_size(problems) > 0) {
        size_t i;
        json_t *p;
        json_array_foreach(problems, i, p)
            fprintf(stderr, "%s: %s\n", cli->en ? ts_json_str(p, "label_en") : ts_json_str(p, "label_vi"),
                    ts_form_problem_text(ts_json_str(p, "problem"), cli->en));
        rc = ts_cli__fail(cli, TS_EBAD_VALUE, "%s",
                          TS__L(cli, "báo cáo chưa nộp: số liệu chưa đúng mẫu", "report not sent: the values do not fit the form"));
        goto done;
    }
    char now[40], today[16], rid[2 * TS_KEY_MAX + 2];
    uint64_t ms = ts_wall_ms();
    ts_time_iso(ms, now, sizeof now);
    ts_local_day(ms, today, sizeof today);
    snprintf(rid, sizeof rid, "%s:%s", occ_id, x.cfg.code);
    char *text = json_dumps(values, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:s}", "occurrence_id", occ_id, "duty_id", ts_json_str(occ, "duty_id"),
                            "period", ts_json_str(occ, "period"), "values", text, "submitted_at", now);
    free(text);
    if (by)
        json_object_set_new(rec, "submitted_by", json_string(by));
    if (note)
        json_object_set_new(rec, "note", json_string(note));
    ts_error err;
    if (ts_station_put(x.store, "periodic_reports", rid, rec, &err) < 0) {
        json_decref(rec);
        rc = ts_cli__fail_err(cli, err.code, "không lưu được báo cáo", err.msg);
        goto done;
    }
    json_t *r = json_pack("{s:s}", "submitted_at", now);
    bool graded;
    const char *status = ts__status(occ, r, today, &graded);
    json_decref(r);
    if (cli->json) {
        json_t *out = json_pack("{s:s,s:s,s:s,s:O}", "id", rid, "status", status, "due_date", ts_json_str(occ, "due_date"),
                                "values", values);
        ts_cli__print_json(out);
        json_decref(out);
    } else {
        char due[32], period[64];
        ts_period_key_label(ts_json_str(occ, "period"), cli->en, period, sizeof period);
        printf(TS__L(cli, "Đã nộp báo cáo %s, %s: %s (hạn %s). Agent gửi lên trung tâm khi có kết nối; trung tâm "
                          "kiểm tra và trả kết quả về trạm (tramsync calendar).\n",
                     "Report %s, %s, sent: %s (due %s). The agent sends it to the district when connected; the "
                     "district grades it and its verdict comes back here (tramsync calendar).\n"),
               ts_json_str(occ, "title"), period, ts_report_status_label(status, cli->en),
               ts_text_date(ts_json_str(occ, "due_date"), due, sizeof due));
    }
    json_decref(rec);
done:
    json_decref(problems);
    json_decref(occ);
    json_decref(duty);
    json_decref(form);
    json_decref(values);
    ts_cli__close(&x);
    return rc;
}
