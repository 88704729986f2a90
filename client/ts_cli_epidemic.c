/* The epidemic channel at a station (issue 17): the disease catalogue the
 * district keeps (`diseases`), a case entered with what the disease
 * requires (its name, ICD-10 code and group from the catalogue, and the
 * reporting deadline shown as the case is written), and the outbreaks this
 * station is part of with the district's instructions about each and
 * whether they were acknowledged here. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "client/ts_cli_int.h"
#include "client/ts_station_notices.h"
#include "common/ts_disease.h"
#include "common/ts_recjson.h"
#include "common/ts_text.h"

/* ---------------------------------------------------------------- diseases */

static void ts__deadline_words(const ts_cli *cli, const ts_disease *d, char *out, size_t size)
{
    if (d->report_within_hours <= 0)
        snprintf(out, size, "%s", TS__L(cli, "theo báo cáo định kỳ", "in the periodic reports"));
    else if (d->report_within_hours % 24 == 0 && d->report_within_hours > 24)
        snprintf(out, size, TS__L(cli, "trong %" PRId64 " ngày", "within %" PRId64 " days"),
                 d->report_within_hours / 24);
    else
        snprintf(out, size, TS__L(cli, "trong %" PRId64 " giờ", "within %" PRId64 " hours"), d->report_within_hours);
}

int ts_cli_diseases(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(cli,
                             "cách dùng: tramsync [-d THƯ_MỤC] [--json] diseases\n\nDanh mục bệnh truyền nhiễm do "
                             "trung tâm y tế quản lý: mã, tên, nhóm, mã ICD-10,\nthời hạn báo cáo và bệnh nào phải báo "
                             "cáo từng trường hợp.\n",
                             "usage: tramsync [-d DIR] [--json] diseases\n\nThe district's catalogue of infectious "
                             "diseases: code, name, group, ICD-10 code,\nreporting deadline and which are reported case "
                             "by case.\n");
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
    ts_disease_catalog cat;
    ts_error err;
    if (ts_disease_catalog_load(x.store, &cat, &err) < 0) {
        rc = ts_cli__fail_err(cli, err.code, "không đọc được danh mục bệnh", err.msg);
        ts_cli__close(&x);
        return rc;
    }
    json_t *arr = json_array();
    if (!cli->json && cat.n == 0)
        printf("%s\n", TS__L(cli, "Chưa có danh mục bệnh: agent nhận danh mục từ trung tâm ở lần đồng bộ tới.",
                             "No disease catalogue yet: the agent receives it from the district at the next sync."));
    for (size_t i = 0; i < cat.n; i++) {
        const ts_disease *d = &cat.v[i];
        char when[64];
        ts__deadline_words(cli, d, when, sizeof when);
        if (cli->json) {
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:I}", "code", d->code, "name_vi",
                                                 d->name_vi, "name_en", d->name_en, "icd10", d->icd10, "group",
                                                 d->group, "case_by_case", d->case_by_case, "report_within_hours",
                                                 (json_int_t)d->report_within_hours));
            continue;
        }
        ts_text_col(stdout, d->code, 22);
        ts_text_col(stdout, cli->en && d->name_en[0] ? d->name_en : d->name_vi, 34);
        printf(" %s %-6s %s%s\n", d->group[0] ? d->group : "-", d->icd10[0] ? d->icd10 : "-", when,
               d->case_by_case ? TS__L(cli, ", từng trường hợp", ", case by case") : "");
    }
    if (cli->json)
        ts_cli__print_json(arr);
    json_decref(arr);
    ts_disease_catalog_free(&cat);
    ts_cli__close(&x);
    return 0;
}

/* ---------------------------------------------------------------- case */

/* The moment a case is due at the district: the end of its diagnosis day
 * (the district's day: TZ is its zone, client/ts_station_day.h) plus the disease's hours. 0 when it has none. */
static uint64_t ts__due_ms(const char *day, int64_t hours)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (hours <= 0 || sscanf(day, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_mday += 1;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    return t < 0 ? 0 : (uint64_t)t * 1000 + (uint64_t)hours * 3600000u;
}

/* "đến hết ngày 08/12/2026" when the deadline falls at a midnight, else
 * "trước 08/12/2026 14:00". */
static void ts__due_text(const ts_cli *cli, uint64_t due, char *out, size_t size)
{
    time_t t = (time_t)(due / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    if (tm.tm_hour == 0 && tm.tm_min == 0) {
        t -= 12 * 3600; /* the day before that midnight */
        localtime_r(&t, &tm);
        char day[16];
        strftime(day, sizeof day, "%d/%m/%Y", &tm);
        snprintf(out, size, TS__L(cli, "đến hết ngày %s", "by the end of %s"), day);
        return;
    }
    char when[40];
    ts_text_time_ms(due, when, sizeof when);
    snprintf(out, size, TS__L(cli, "trước %s", "before %s"), when);
}

int ts_cli_case(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(
        cli,
        "cách dùng: tramsync [-d THƯ_MỤC] [--json] case --disease BỆNH --diagnosed YYYY-MM-DD\n"
        "       [--classification suspected|probable|confirmed] [--onset YYYY-MM-DD] [--village MÃ_THÔN]\n"
        "       [--resident MÃ_HỒ_SƠ | --patient HỌ_TÊN] [--lab KẾT_QUẢ] [--outcome KẾT_QUẢ] [--notes GHI_CHÚ]\n"
        "       [--id MÃ]\n\n"
        "Ghi một ca bệnh truyền nhiễm. BỆNH: mã hoặc tên trong danh mục (tramsync diseases);\n"
        "tên, mã ICD-10 và nhóm bệnh lấy từ danh mục. Phân loại mặc định: suspected (nghi ngờ).\n"
        "outcome: under_treatment, recovered, died, transferred, unknown. In ra hạn báo cáo của\n"
        "bệnh; agent gửi ca bệnh lên trung tâm ngay khi có kết nối.\n",
        "usage: tramsync [-d DIR] [--json] case --disease DISEASE --diagnosed YYYY-MM-DD\n"
        "       [--classification suspected|probable|confirmed] [--onset YYYY-MM-DD] [--village VILLAGE_ID]\n"
        "       [--resident RECORD_ID | --patient NAME] [--lab RESULT] [--outcome OUTCOME] [--notes TEXT]\n"
        "       [--id ID]\n\n"
        "Records a case of an infectious disease. DISEASE: a code or name from the catalogue\n"
        "(tramsync diseases); its name, ICD-10 code and group come from the catalogue. The\n"
        "classification defaults to suspected. outcome: under_treatment, recovered, died,\n"
        "transferred, unknown. Says the disease's reporting deadline; the agent sends the case\n"
        "to the district as soon as it is connected.\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    static const struct option opts[] = {
        {"disease", required_argument, NULL, 'd'},  {"diagnosed", required_argument, NULL, 'g'},
        {"classification", required_argument, NULL, 'c'}, {"onset", required_argument, NULL, 'o'},
        {"village", required_argument, NULL, 'v'},  {"resident", required_argument, NULL, 'r'},
        {"patient", required_argument, NULL, 'p'},  {"lab", required_argument, NULL, 'l'},
        {"outcome", required_argument, NULL, 'u'},  {"notes", required_argument, NULL, 'n'},
        {"id", required_argument, NULL, 'i'},       {NULL, 0, NULL, 0}};
    static const char *const keys[] = {"disease",     "diagnosis_date", "classification", "onset_date",
                                       "village_id",  "resident_id",    "patient_name",   "lab_result",
                                       "outcome",     "notes",          NULL};
    static const char letters[] = "dgcovrplun";
    json_t *f = json_object();
    const char *id_given = NULL;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'i') {
            id_given = optarg;
            continue;
        }
        const char *k = o == '?' ? NULL : strchr(letters, o);
        if (k == NULL) {
            json_decref(f);
            return ts_cli__usage(help, argc, argv);
        }
        json_object_set_new(f, keys[k - letters], json_string(optarg));
    }
    if (optind != argc || !json_object_get(f, "disease") || !json_object_get(f, "diagnosis_date")) {
        json_decref(f);
        return ts_cli__usage(help, argc, argv);
    }
    if (!json_object_get(f, "classification"))
        json_object_set_new(f, "classification", json_string("suspected"));
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, false);
    if (rc != 0) {
        json_decref(f);
        return rc;
    }
    ts_disease_catalog cat;
    ts_error err;
    if (ts_disease_catalog_load(x.store, &cat, &err) < 0) {
        rc = ts_cli__fail_err(cli, err.code, "không đọc được danh mục bệnh", err.msg);
        goto done;
    }
    const ts_disease *d = ts_disease_find(&cat, json_string_value(json_object_get(f, "disease")));
    if (d == NULL) {
        rc = ts_cli__fail(cli, TS_ENOT_FOUND,
                          TS__L(cli, "bệnh \"%s\" không có trong danh mục của trung tâm (xem: tramsync diseases)",
                                "disease \"%s\" is not in the district's catalogue (see: tramsync diseases)"),
                          json_string_value(json_object_get(f, "disease")));
        goto free_cat;
    }
    json_object_set_new(f, "disease", json_string(d->name_vi));
    if (d->icd10[0])
        json_object_set_new(f, "icd10", json_string(d->icd10));
    if (d->group[0])
        json_object_set_new(f, "group", json_string(d->group));
    char id[TS_KEY_MAX + 1];
    if (id_given)
        snprintf(id, sizeof id, "%s", id_given);
    else
        ts_station_new_id(x.store, "CB", id, sizeof id);
    if (ts_station_put(x.store, "disease_cases", id, f, &err) < 0) {
        rc = ts_cli__fail_err(cli, err.code, "không lưu được ca bệnh", err.msg);
        goto free_cat;
    }
    const char *day = json_string_value(json_object_get(f, "diagnosis_date"));
    uint64_t due = ts__due_ms(day, d->report_within_hours);
    bool late = due != 0 && ts_wall_ms() > due;
    char due_text[80] = "", diag[40], when[64];
    if (due)
        ts__due_text(cli, due, due_text, sizeof due_text);
    ts_text_date(day, diag, sizeof diag);
    ts__deadline_words(cli, d, when, sizeof when);
    if (cli->json) {
        json_t *out = json_pack("{s:s,s:s,s:s,s:b,s:I,s:b}", "id", id, "disease", d->code, "result", "stored",
                                "case_by_case", d->case_by_case, "due_ms", (json_int_t)due, "late", late);
        ts_cli__print_json(out);
        json_decref(out);
    } else {
        printf(TS__L(cli, "Đã ghi ca bệnh %s: %s (nhóm %s), chẩn đoán ngày %s.\n",
                     "Case %s recorded: %s (group %s), diagnosed %s.\n"),
               id, cli->en && d->name_en[0] ? d->name_en : d->name_vi, d->group[0] ? d->group : "-", diag);
        if (due && late)
            printf(TS__L(cli, "ĐÃ QUÁ HẠN BÁO CÁO: bệnh này phải báo cáo %s kể từ ngày chẩn đoán (hạn: %s).\n",
                         "PAST THE REPORTING DEADLINE: this disease is reported %s of the diagnosis day (due: %s).\n"),
                   when, due_text);
        else if (due)
            printf(TS__L(cli, "Hạn báo cáo: %s kể từ ngày chẩn đoán, %s%s.\n",
                         "Reporting deadline: %s of the diagnosis day, %s%s.\n"),
                   when, due_text,
                   d->case_by_case ? TS__L(cli, " — báo cáo từng trường hợp", " — reported case by case") : "");
        else
            printf(TS__L(cli, "Báo cáo: %s.\n", "Reported: %s.\n"), when);
        printf("%s\n", TS__L(cli, "Agent gửi ca bệnh lên trung tâm y tế ngay khi có kết nối (tramsync status).",
                             "The agent sends it to the district as soon as it is connected (tramsync status)."));
    }
free_cat:
    ts_disease_catalog_free(&cat);
done:
    json_decref(f);
    ts_cli__close(&x);
    return rc;
}

/* ---------------------------------------------------------------- outbreaks */

static const char *ts__outbreak_status(const ts_cli *cli, const char *s)
{
    if (strcmp(s, "detected") == 0)
        return TS__L(cli, "mới phát hiện", "detected");
    if (strcmp(s, "ongoing") == 0)
        return TS__L(cli, "đang diễn biến", "ongoing");
    if (strcmp(s, "ended") == 0)
        return TS__L(cli, "đã kết thúc", "ended");
    return s;
}

static const char *ts__handling(const ts_cli *cli, const char *s)
{
    if (strcmp(s, "sent") == 0 || strcmp(s, "delivered") == 0)
        return TS__L(cli, "CHƯA XÁC NHẬN", "NOT ACKNOWLEDGED");
    if (strcmp(s, "acknowledged") == 0)
        return TS__L(cli, "đã xác nhận", "acknowledged");
    if (strcmp(s, "in_progress") == 0)
        return TS__L(cli, "đang thực hiện", "in progress");
    if (strcmp(s, "done") == 0)
        return TS__L(cli, "đã hoàn thành", "done");
    return s;
}

/* The district's notices about outbreak `id`, with this station's handling. */
static json_t *ts__instructions(ts_cli__ctx *x, const char *id)
{
    json_t *arr = json_array();
    ts_change_page page;
    ts_change_page_init(&page);
    char after[TS_KEY_MAX + 2] = "";
    ts_error err;
    for (;;) {
        if (ts_store_list(x->store, "notices", after[0] ? after : NULL, 500, false, &page, &err) < 0)
            break;
        for (uint32_t i = 0; i < page.n; i++) {
            char about[TS_KEY_MAX + 1], subject[600] = "", sent[40] = "", state[24] = "", by[201] = "";
            if (!ts_recjson_text(&page.items[i].v, "outbreak_id", about, sizeof about) || strcmp(about, id) != 0)
                continue;
            ts_recjson_text(&page.items[i].v, "subject", subject, sizeof subject);
            ts_recjson_text(&page.items[i].v, "sent_at", sent, sizeof sent);
            char rid[TS_KEY_MAX * 2 + 2];
            snprintf(rid, sizeof rid, "%s:%s", page.items[i].id, x->cfg.code);
            ts_arena arena;
            ts_arena_init(&arena, 2048);
            ts_change c;
            if (ts_store_get(x->store, "notice_recipients", rid, &c, &arena, NULL) == 0) {
                ts_recjson_text(&c.v, "state", state, sizeof state);
                ts_recjson_text(&c.v, "acknowledged_by", by, sizeof by);
                ts_version_free(&c.v);
            }
            ts_arena_free(&arena);
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s}", "notice", page.items[i].id, "subject",
                                                 subject, "sent_at", sent, "state", state, "acknowledged_by", by));
        }
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    return arr;
}

int ts_cli_outbreaks(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(cli,
                             "cách dùng: tramsync [-d THƯ_MỤC] [--json] outbreaks\n\nCác ổ dịch trung tâm y tế đã mở "
                             "có liên quan đến trạm: bệnh, tình trạng,\nngày phát hiện, số ca; và các văn bản hướng dẫn "
                             "của trung tâm về từng ổ dịch, đã xác nhận\nhay chưa. Xác nhận: tramsync ack MÃ_VĂN_BẢN "
                             "--by HỌ_TÊN.\n",
                             "usage: tramsync [-d DIR] [--json] outbreaks\n\nThe outbreaks the district opened that "
                             "concern this station: disease, status,\nstart, cases; and the district's instructions "
                             "about each, acknowledged here or not.\nAcknowledge: tramsync ack NOTICE_ID --by NAME.\n");
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
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    if (ts_store_list(x.store, "outbreaks", NULL, 1000, false, &page, &err) < 0) {
        rc = ts_cli__fail_err(cli, err.code, "không đọc được danh sách ổ dịch", err.msg);
        ts_change_page_free(&page);
        ts_cli__close(&x);
        return rc;
    }
    json_t *arr = json_array();
    for (uint32_t i = 0; i < page.n; i++) {
        json_t *r = ts_recjson_record(&page.items[i], false);
        json_t *f = json_object_get(r, "fields");
        json_t *ins = ts__instructions(&x, page.items[i].id);
        if (cli->json) {
            json_array_append_new(arr, json_pack("{s:s,s:O,s:o}", "id", page.items[i].id, "fields", f,
                                                 "instructions", ins));
            json_decref(r);
            continue;
        }
        const char *disease = json_string_value(json_object_get(f, "disease"));
        const char *status = json_string_value(json_object_get(f, "status"));
        char started[40];
        ts_text_date(json_string_value(json_object_get(f, "started_on")), started, sizeof started);
        printf("%s  %s — %s, %s %s", page.items[i].id, disease ? disease : "?",
               ts__outbreak_status(cli, status ? status : ""), TS__L(cli, "phát hiện", "started"), started);
        if (json_is_integer(json_object_get(f, "cases_total")))
            printf(TS__L(cli, ", %" JSON_INTEGER_FORMAT " ca", ", %" JSON_INTEGER_FORMAT " case(s)"),
                   json_integer_value(json_object_get(f, "cases_total")));
        if (json_string_value(json_object_get(f, "ended_on"))) {
            char ended[40];
            ts_text_date(json_string_value(json_object_get(f, "ended_on")), ended, sizeof ended);
            printf(TS__L(cli, ", kết thúc %s", ", ended %s"), ended);
        }
        fputc('\n', stdout);
        size_t k;
        json_t *n;
        json_array_foreach(ins, k, n) {
            char sent[40];
            ts_text_date(json_string_value(json_object_get(n, "sent_at")), sent, sizeof sent);
            const char *state = json_string_value(json_object_get(n, "state"));
            const char *by = json_string_value(json_object_get(n, "acknowledged_by"));
            printf("    %s %s (%s) — %s%s%s\n", json_string_value(json_object_get(n, "notice")),
                   json_string_value(json_object_get(n, "subject")), sent, ts__handling(cli, state ? state : ""),
                   by && by[0] ? ": " : "", by ? by : "");
        }
        json_decref(ins);
        json_decref(r);
    }
    if (cli->json)
        ts_cli__print_json(arr);
    else if (page.n == 0)
        printf("%s\n", TS__L(cli, "Không có ổ dịch nào liên quan đến trạm.", "No outbreak concerns this station."));
    json_decref(arr);
    ts_change_page_free(&page);
    ts_cli__close(&x);
    return 0;
}
