/* The coordination commands: notices, notice show, attachment save, ack,
 * progress, report and tasks. The rules (which state may follow which, what
 * a report holds, the attachments' checksums) are client/ts_station_notices.c's;
 * this file is only the command line in front of them: the arguments, and the
 * labels staff read, Vietnamese or English (the registry's field labels,
 * docs/TABLES.md, so that the screen and the district's console agree). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client/ts_cli_int.h"
#include "client/ts_station_notices.h"
#include "client/ts_station_periods.h"
#include "common/ts_recjson.h"
#include "common/ts_arena.h"
#include "common/ts_notice.h"
#include "common/ts_task_periods.h"
#include "common/ts_text.h"

/* ---------------------------------------------------------------- notices and tasks */

static const char *ts__label(const ts_cli *cli, const ts_label *list, size_t n, const char *code)
{
    const ts_label *l = ts_label_find(list, n, code);
    if (l)
        return TS__L(cli, l->vi, l->en);
    return code ? code : "";
}

static bool ts__has(const json_t *o, const char *key)
{
    return ts_json_str(o, key)[0] != '\0';
}

/* s, then spaces up to `cols` columns; never cut (it is an id to type). */
static void ts__pad(const char *s, size_t cols)
{
    fputs(s, stdout);
    for (size_t w = ts_text_width(s); w < cols; w++)
        fputc(' ', stdout);
}

/* At most `cols` columns of s, cut on a character with "…": a byte count
 * (%.160s) would cut a Vietnamese letter in half. */
static void ts__cut(const char *s, size_t cols)
{
    if (ts_text_width(s) <= cols) {
        fputs(s, stdout);
        return;
    }
    fwrite(s, 1, ts_text_prefix(s, cols - 1), stdout);
    fputs("\xe2\x80\xa6", stdout);
}

/* One "label  value" line of `notice show`: labels in a column of their own
 * (the longest, "Người, bộ phận phụ trách", is 24 columns). */
static void ts__field(const char *label, const char *value)
{
    fputs("  ", stdout);
    ts_text_col(stdout, label, 26);
    fputs(value, stdout);
    fputc('\n', stdout);
}

/* The commune UBND's acknowledgement of a notice copied to it, which the
 * district writes on this station's handling record: "UBND xã đã xác nhận:
 * NAME (POSITION), dd/mm/yyyy HH:MM". Nothing when there is none. */
static void ts__print_commune_ack(const ts_cli *cli, const json_t *h, const char *indent)
{
    if (!ts__has(h, "commune_ack_at"))
        return;
    char when[40];
    printf(TS__L(cli, "%sUBND xã đã xác nhận: %s, %s\n", "%sAcknowledged by the commune's UBND: %s, %s\n"), indent,
           ts_json_str(h, "commune_ack_by"), ts_text_date(ts_json_str(h, "commune_ack_at"), when, sizeof when));
}

int ts_cli_notices(ts_cli *cli, int argc, char **argv)
{
    const char *help =
        TS__L(cli,
              "cách dùng: tramsync [-d THƯ_MỤC] [--json] notices [--all]\n\nVăn bản từ trung tâm y tế: chưa đọc "
              "(chưa xác nhận) trước, khẩn nhất trước.\n--all: cả các văn bản đã hoàn thành.\n",
              "usage: tramsync [-d DIR] [--json] notices [--all]\n\nNotices from the district: unread (not yet "
              "acknowledged) first, most urgent first.\n--all includes the ones already done.\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    bool all = argc == 2 && strcmp(argv[1], "--all") == 0;
    if (argc > 2 || (argc == 2 && !all))
        return ts_cli__usage(help, argc, argv);
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, true);
    if (rc != 0)
        return rc;
    json_t *list;
    ts_error err;
    if (ts_station_notices(x.store, all, &list, &err) < 0) {
        rc = ts_cli__fail_err(cli, err.code, "không đọc được danh sách văn bản", err.msg);
        list = NULL;
    } else if (cli->json) {
        ts_cli__print_json(list);
    } else {
        size_t i;
        json_t *it;
        if (json_array_size(list) == 0)
            puts(all ? TS__L(cli, "không có văn bản nào", "no notices")
                     : TS__L(cli, "không có văn bản nào đang chờ xử lý (--all: cả văn bản đã hoàn thành)",
                             "no notices waiting (--all shows the finished ones)"));
        json_array_foreach(list, i, it) {
            const json_t *n = json_object_get(it, "notice"), *h = json_object_get(it, "handling");
            fputs(json_is_true(json_object_get(it, "unread")) ? "* " : "  ", stdout);
            ts__pad(ts_json_str(it, "id"), 26);
            printf(" %s  %s\n    %s — %s", ts__label(cli, ts_notice_urgencies, 4, ts_json_str(n, "urgency")),
                   ts_json_str(n, "number"), ts_json_str(n, "subject"), ts__label(cli, ts_notice_states, 5, ts_json_str(h, "state")));
            if (ts__has(h, "deadline")) {
                char when[40];
                printf(TS__L(cli, ", hạn xử lý %s", ", deadline %s"), ts_text_date(ts_json_str(h, "deadline"), when, sizeof when));
            }
            /* a recalled notice asks nothing any more: said before anything else */
            if (ts__has(n, "recalled_at"))
                fputs(TS__L(cli, ", ĐÃ THU HỒI", ", RECALLED"), stdout);
            puts(json_is_true(json_object_get(h, "overdue")) ? TS__L(cli, ", QUÁ HẠN", ", OVERDUE") : "");
            ts__print_commune_ack(cli, h, "    ");
        }
    }
    json_decref(list);
    ts_cli__close(&x);
    return rc;
}

/* The handling of a notice or task at this station: state, who acknowledged,
 * progress and report. */
static void ts__show_handling(const ts_cli *cli, const json_t *h)
{
    char buf[160], when[40];
    snprintf(buf, sizeof buf, "%s%s", ts__label(cli, ts_notice_states, 5, ts_json_str(h, "state")),
             json_is_true(json_object_get(h, "overdue")) ? TS__L(cli, " — QUÁ HẠN", " — OVERDUE") : "");
    ts__field(TS__L(cli, "Trạng thái xử lý", "State"), buf);
    if (ts__has(h, "acknowledged_by")) {
        fputs("  ", stdout);
        ts_text_col(stdout, TS__L(cli, "Người xác nhận", "Acknowledged by"), 26);
        printf("%s", ts_json_str(h, "acknowledged_by"));
        if (ts__has(h, "acknowledged_at"))
            printf(", %s", ts_text_date(ts_json_str(h, "acknowledged_at"), when, sizeof when));
        fputc('\n', stdout);
    }
    if (ts__has(h, "progress_note"))
        ts__field(TS__L(cli, "Ghi chú tiến độ", "Progress note"), ts_json_str(h, "progress_note"));
    if (json_is_integer(json_object_get(h, "percent"))) {
        snprintf(buf, sizeof buf, "%lld%%", (long long)json_integer_value(json_object_get(h, "percent")));
        ts__field(TS__L(cli, "Tỷ lệ hoàn thành", "Percent done"), buf);
    }
    if (ts__has(h, "report"))
        ts__field(TS__L(cli, "Báo cáo kết quả", "Completion report"), ts_json_str(h, "report"));
    if (ts__has(h, "reopen_reason"))
        ts__field(TS__L(cli, "Lý do mở lại", "Reopened because"), ts_json_str(h, "reopen_reason"));
}

static void ts__show_notice(const ts_cli *cli, const json_t *o, const json_t *n, const json_t *h)
{
    char when[40];
    printf("%s  %s\n", ts_json_str(o, "id"), ts_json_str(n, "number"));
    if (ts__has(n, "recalled_at")) {
        printf("%s\n", TS__L(cli, "  *** VĂN BẢN ĐÃ BỊ THU HỒI: không thực hiện ***",
                              "  *** THIS NOTICE WAS RECALLED: do not act on it ***"));
        ts__field(TS__L(cli, "Thu hồi lúc", "Recalled at"), ts_text_date(ts_json_str(n, "recalled_at"), when, sizeof when));
        if (ts__has(n, "recall_reason"))
            ts__field(TS__L(cli, "Lý do thu hồi", "Reason for the recall"), ts_json_str(n, "recall_reason"));
    }
    ts__field(TS__L(cli, "Trích yếu", "Subject"), ts_json_str(n, "subject"));
    if (ts__has(n, "doc_type"))
        ts__field(TS__L(cli, "Loại văn bản", "Document type"),
                  ts__label(cli, ts_notice_doc_types, 7, ts_json_str(n, "doc_type")));
    if (ts__has(n, "urgency"))
        ts__field(TS__L(cli, "Độ khẩn", "Urgency"), ts__label(cli, ts_notice_urgencies, 4, ts_json_str(n, "urgency")));
    if (ts__has(n, "category"))
        ts__field(TS__L(cli, "Lĩnh vực", "Category"), ts__label(cli, ts_notice_categories, 12, ts_json_str(n, "category")));
    if (ts__has(n, "issuer"))
        ts__field(TS__L(cli, "Cơ quan ban hành", "Issued by"), ts_json_str(n, "issuer"));
    if (ts__has(n, "issue_date"))
        ts__field(TS__L(cli, "Ngày ban hành", "Issue date"), ts_text_date(ts_json_str(n, "issue_date"), when, sizeof when));
    if (ts__has(n, "legal_basis"))
        ts__field(TS__L(cli, "Căn cứ", "Legal basis"), ts_json_str(n, "legal_basis"));
    if (ts__has(o, "responsible_label"))
        ts__field(TS__L(cli, "Người chịu trách nhiệm", "Responsible person"), ts_json_str(o, "responsible_label"));
    if (ts__has(n, "responsible"))
        ts__field(TS__L(cli, "Người, bộ phận phụ trách", "Responsible"), ts_json_str(n, "responsible"));
    if (ts__has(n, "task"))
        ts__field(TS__L(cli, "Nhiệm vụ", "Task"), ts_json_str(n, "task"));
    /* the district may have moved this station's deadline: its copy wins */
    const char *deadline = ts__has(h, "deadline") ? ts_json_str(h, "deadline") : ts_json_str(n, "deadline");
    if (deadline[0])
        ts__field(TS__L(cli, "Hạn xử lý", "Deadline"), ts_text_date(deadline, when, sizeof when));
    if (ts__has(n, "expected_result"))
        ts__field(TS__L(cli, "Kết quả cần đạt", "Expected result"), ts_json_str(n, "expected_result"));
    ts__show_handling(cli, h);
    ts__print_commune_ack(cli, h, "  ");
    if (ts__has(n, "body"))
        printf("\n%s\n", ts_json_str(n, "body"));
    size_t k;
    json_t *f;
    json_array_foreach(json_object_get(o, "attachments"), k, f) {
        if (k == 0)
            printf(TS__L(cli, "\n  Tệp đính kèm (tramsync attachment save %s N [ĐƯỜNG_DẪN])\n",
                         "\n  Attachments (tramsync attachment save %s N [PATH])\n"),
                   ts_json_str(o, "id"));
        const char *fid = ts_json_str(f, "id");
        const char *colon = strrchr(fid, ':');
        printf("  %3s  ", colon ? colon + 1 : fid);
        ts_text_col(stdout, ts_json_str(f, "name"), 40);
        printf(TS__L(cli, " %8lld byte  %s%s\n", " %8lld bytes  %s%s\n"),
               (long long)json_integer_value(json_object_get(f, "size")), ts_json_str(f, "mime"),
               json_is_true(json_object_get(f, "verified"))
                   ? ""
                   : TS__L(cli, "  — HỎNG (sai mã kiểm tra SHA-256)", "  — CORRUPT (checksum)"));
    }
}

/* A period's status for people. */
static const char *ts__period_status(const ts_cli *cli, const char *status)
{
    if (strcmp(status, "done") == 0)
        return TS__L(cli, "Hoàn thành", "Done");
    if (strcmp(status, "in_progress") == 0)
        return TS__L(cli, "Đang thực hiện", "In progress");
    if (strcmp(status, "overdue") == 0)
        return TS__L(cli, "QUÁ HẠN", "OVERDUE");
    return TS__L(cli, "Chưa báo cáo", "Not reported");
}

/* A recurring task's progress here, period by period, newest first. */
static void ts__show_periods(const ts_cli *cli, const json_t *periods)
{
    const json_t *me = json_array_get(json_object_get(periods, "stations"), 0);
    if (me == NULL)
        return;
    const char *unit = ts_json_str(periods, "unit");
    printf("\n  %s (%s)\n", TS__L(cli, "Tiến độ theo kỳ", "Progress per period"),
           strcmp(unit, "quarterly") == 0 ? TS__L(cli, "hằng quý", "quarterly")
           : strcmp(unit, "monthly") == 0 ? TS__L(cli, "hằng tháng", "monthly")
                                          : TS__L(cli, "hằng năm", "yearly"));
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(me, "rows"), i, r) {
        fputs("  ", stdout);
        ts_text_col(stdout, ts_json_str(r, cli->en ? "label_en" : "label_vi"), 16);
        fputs(ts__period_status(cli, ts_json_str(r, "status")), stdout);
        if (json_is_integer(json_object_get(r, "percent")))
            printf(", %lld%%", (long long)json_integer_value(json_object_get(r, "percent")));
        if (ts__has(r, "report"))
            printf(" — %s", ts_json_str(r, "report"));
        else if (ts__has(r, "progress_note"))
            printf(" — %s", ts_json_str(r, "progress_note"));
        fputc('\n', stdout);
    }
}

/* A plan task as this station holds it: the plan's text, and what the
 * district health centre (TTYT) asked of this station when it assigned it:
 * its deadline and its instructions. */
static void ts__show_task(const ts_cli *cli, const json_t *o, const json_t *t, const json_t *h)
{
    char when[40];
    fputs(ts_json_str(o, "id"), stdout);
    if (json_is_integer(json_object_get(t, "no")))
        printf(TS__L(cli, "  Nhiệm vụ kế hoạch số %lld", "  Plan task no. %lld"),
               (long long)json_integer_value(json_object_get(t, "no")));
    fputc('\n', stdout);
    ts__field(TS__L(cli, "Nhiệm vụ", "Task"), ts_json_str(t, "task"));
    if (ts__has(t, "lead"))
        ts__field(TS__L(cli, "Cơ quan chủ trì", "Lead agency"), ts_json_str(t, "lead"));
    if (ts__has(t, "coordinating"))
        ts__field(TS__L(cli, "Cơ quan phối hợp", "Coordinating agencies"), ts_json_str(t, "coordinating"));
    if (ts__has(t, "deadline_text"))
        ts__field(TS__L(cli, "Thời gian thực hiện", "Timeframe (plan)"), ts_json_str(t, "deadline_text"));
    const char *deadline = ts__has(h, "deadline") ? ts_json_str(h, "deadline") : ts_json_str(t, "deadline");
    if (deadline[0])
        ts__field(TS__L(cli, "Hạn xử lý", "Deadline"), ts_text_date(deadline, when, sizeof when));
    if (ts__has(h, "instructions"))
        ts__field(TS__L(cli, "Hướng dẫn", "Instructions"), ts_json_str(h, "instructions"));
    if (ts__has(o, "responsible_label"))
        ts__field(TS__L(cli, "Người chịu trách nhiệm", "Responsible person"), ts_json_str(o, "responsible_label"));
    if (ts__has(h, "expected_result"))
        ts__field(TS__L(cli, "Kết quả cần đạt", "Expected result"), ts_json_str(h, "expected_result"));
    ts__show_handling(cli, h);
}

int ts_cli_notice(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(cli,
                             "cách dùng: tramsync [-d THƯ_MỤC] [--json] notice show MÃ\n\nXem đầy đủ một văn bản "
                             "hay một nhiệm vụ gửi cho trạm:\nnội dung, hạn xử lý, hướng dẫn của trung tâm, trạng "
                             "thái xử lý, tệp đính kèm.\n",
                             "usage: tramsync [-d DIR] [--json] notice show ID\n\nOne notice or task addressed to "
                             "this station in full: its text, deadline,\nthe district's instructions, its handling, "
                             "its attachments.\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 3 || strcmp(argv[1], "show") != 0)
        return ts_cli__usage(help, argc, argv);
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, true);
    if (rc != 0)
        return rc;
    json_t *o;
    ts_error err;
    if (ts_station_show(x.store, argv[2], cli->en, &o, &err) < 0) {
        rc = ts_cli__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        ts_cli__print_json(o);
        json_decref(o);
    } else {
        const json_t *h = json_object_get(o, "handling");
        if (strcmp(ts_json_str(o, "kind"), "task") == 0) {
            ts__show_task(cli, o, json_object_get(o, "task"), h);
            if (json_object_get(o, "periods"))
                ts__show_periods(cli, json_object_get(o, "periods"));
        }
        else
            ts__show_notice(cli, o, json_object_get(o, "notice"), h);
        json_decref(o);
    }
    ts_cli__close(&x);
    return rc;
}

int ts_cli_attachment(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(
        cli,
        "cách dùng: tramsync [-d THƯ_MỤC] [--json] attachment save VĂN_BẢN N [ĐƯỜNG_DẪN] [--force]\n\n"
        "Lưu tệp đính kèm N của một văn bản (số thứ tự trong `tramsync notice show`, mã tệp\n"
        "hoặc tên tệp) vào ĐƯỜNG_DẪN: một tệp, hoặc một thư mục để lưu với tên gốc của tệp\n"
        "(mặc định: thư mục hiện tại). Trước khi lưu, nội dung được kiểm tra với mã SHA-256 trung\n"
        "tâm đã ghi. Tệp đã có sẵn được giữ nguyên, trừ khi có --force.\n",
        "usage: tramsync [-d DIR] [--json] attachment save NOTICE N [PATH] [--force]\n\n"
        "Saves attachment N of a notice (its number in `tramsync notice show`, its id,\n"
        "or its file name) to PATH: a file, or a folder to save it under its own name\n"
        "(default: the current folder). Its bytes are checked against the SHA-256 the\n"
        "district recorded first. An existing file is kept unless --force.\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    bool force = false;
    const char *pos[4];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            force = true;
        else if (argv[i][0] == '-' || npos == 4)
            return ts_cli__usage(help, argc, argv);
        else
            pos[npos++] = argv[i];
    }
    if (npos < 3 || npos > 4 || strcmp(pos[0], "save") != 0)
        return ts_cli__usage(help, argc, argv);
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, true);
    if (rc != 0)
        return rc;
    char written[4096];
    ts_attachment info;
    ts_error err;
    if (ts_station_attachment_save(x.store, pos[1], pos[2], npos == 4 ? pos[3] : ".", force, cli->en, written,
                                   sizeof written, &info, &err) < 0) {
        rc = ts_cli__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s}", "id", info.id, "name", info.name, "mime", info.mime, "size",
                              (json_int_t)info.len, "sha256", info.sha256, "path", written);
        ts_cli__print_json(o);
        json_decref(o);
    } else {
        printf(TS__L(cli, "đã lưu %s (%zu byte, đã kiểm tra SHA-256) vào %s\n", "saved %s (%zu bytes, SHA-256 checked) to %s\n"),
               info.name, info.len, written);
    }
    ts_cli__close(&x);
    return rc;
}

/* The percent done of a task assignment here (a notice has none). */
static int ts__percent(ts_cli *cli, ts_cli__ctx *x, const char *id, int percent, ts_error *err)
{
    char rid[TS_KEY_MAX + 1];
    snprintf(rid, sizeof rid, "%s:%s", id, x->cfg.code);
    json_t *got = NULL;
    ts_arena arena;
    ts_arena_init(&arena, 2048);
    ts_change c;
    bool task = ts_store_get(x->store, "task_assignments", rid, &c, &arena, NULL) == 0;
    if (task)
        ts_version_free(&c.v);
    ts_arena_free(&arena);
    if (!task)
        return ts_error_set(err, TS_EBAD_VALUE,
                            TS__L(cli, "--percent chỉ dùng cho nhiệm vụ kế hoạch, không cho văn bản",
                                  "--percent is for plan tasks, not notices"));
    got = json_pack("{s:i}", "percent", percent);
    int rc = ts_station_put(x->store, "task_assignments", rid, got, err);
    json_decref(got);
    return rc;
}

static int ts__transition_cmd(ts_cli *cli, const char *id, const char *state, const char *by, const char *note,
                              const char *report, const char *reason, int percent)
{
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, false);
    if (rc != 0)
        return rc;
    ts_error err;
    if (percent > 100) {
        rc = ts_cli__fail(cli, TS_EBAD_VALUE, "%s",
                          TS__L(cli, "tỷ lệ hoàn thành là từ 0 đến 100", "the percent done is 0 to 100"));
    } else if (ts_store_begin(x.store, &err) < 0 ||
               ts_station_transition(x.store, id, state, by, note, report, reason, cli->en, &err) < 0 ||
               (percent >= 0 && ts__percent(cli, &x, id, percent, &err) < 0) || ts_store_commit(x.store, &err) < 0) {
        ts_store_rollback(x.store);
        rc = ts_cli__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        json_t *o = json_pack("{s:s,s:s}", "id", id, "state", state);
        ts_cli__print_json(o);
        json_decref(o);
    } else {
        printf("%s: %s\n", id, ts__label(cli, ts_notice_states, 5, state));
    }
    ts_cli__close(&x);
    return rc;
}

int ts_cli_ack(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(cli,
                             "cách dùng: tramsync [-d THƯ_MỤC] [--json] ack MÃ --by MÃ_NGƯỜI|HỌ_TÊN\n\nXác nhận đã "
                             "nhận văn bản hoặc nhiệm vụ, đứng tên người phụ trách: một người trong danh bạ đầu mối "
                             "(station_people, people), theo mã hoặc họ tên, ghi kèm chức vụ; tên không có trong danh "
                             "bạ được ghi nguyên như vậy.\n",
                             "usage: tramsync [-d DIR] [--json] ack ID --by PERSON_ID|NAME\n\nAcknowledges a notice "
                             "or task in the name of the person responsible: someone of the directory of focal points "
                             "(station_people, people), by id or full name, recorded with their position; a name the "
                             "directory does not know is recorded as written.\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 4 || strcmp(argv[2], "--by") != 0)
        return ts_cli__usage(help, argc, argv);
    return ts__transition_cmd(cli, argv[1], "acknowledged", argv[3], NULL, NULL, NULL, -1);
}

/* A recurring task's progress for one period (--period, default the
 * current one). */
static int ts__period_cmd(ts_cli *cli, const char *id, const char *period, const char *state, int percent,
                          const char *by, const char *note, const char *report)
{
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, false);
    if (rc != 0)
        return rc;
    ts_error err;
    char key[16] = "";
    if (ts_station_period_progress(x.store, id, period, state, percent, by, note, report, cli->en, key, sizeof key,
                                   &err) < 0) {
        rc = ts_cli__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        json_t *o = json_pack("{s:s,s:s,s:s}", "id", id, "period", key, "state", state);
        ts_cli__print_json(o);
        json_decref(o);
    } else {
        char label[48];
        ts_period_key_label(key, cli->en, label, sizeof label);
        printf("%s, %s: %s\n", id, label,
               strcmp(state, "done") == 0 ? TS__L(cli, "Hoàn thành", "Done") : TS__L(cli, "Đang thực hiện", "In progress"));
    }
    ts_cli__close(&x);
    return rc;
}

/* Whether id is a recurring task here (then progress goes by period). */
static bool ts__recurring(ts_cli *cli, const char *id)
{
    ts_cli__ctx x;
    if (ts_cli__open(cli, &x, true) != 0)
        return false;
    ts_period_unit unit;
    bool r = ts_station_task_recurring(x.store, id, &unit);
    ts_cli__close(&x);
    return r;
}

int ts_cli_progress(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(
        cli,
        "cách dùng: tramsync [-d THƯ_MỤC] [--json] progress MÃ --state in_progress|done [--by HỌ_TÊN]\n"
        "                    [--note NỘI_DUNG] [--report NỘI_DUNG] [--reason NỘI_DUNG]\n"
        "                    [--percent N] [--period KỲ]\n\n"
        "Báo tiến độ xử lý văn bản hoặc nhiệm vụ: in_progress (đang xử lý) kèm ghi chú, done (hoàn\n"
        "thành) kèm báo cáo kết quả ngắn. Mở lại việc đã hoàn thành cần --reason (lý do).\n"
        "--percent: tỷ lệ hoàn thành (0-100) của nhiệm vụ. Nhiệm vụ định kỳ (hằng năm, hằng quý,\n"
        "hằng tháng) báo tiến độ theo từng kỳ: --period 2026, 2026-Q3 hoặc 2026-07 (mặc định: kỳ\n"
        "hiện tại); mỗi kỳ hoàn thành riêng.\n",
        "usage: tramsync [-d DIR] [--json] progress ID --state in_progress|done [--by NAME]\n"
        "                [--note TEXT] [--report TEXT] [--reason TEXT] [--percent N] [--period PERIOD]\n\n"
        "Reports progress on a notice or task: in_progress with a note, done with a short report.\n"
        "Going back from done needs --reason. --percent: a task's percent done (0-100). A\n"
        "recurring task (yearly, quarterly, monthly) is reported period by period: --period 2026,\n"
        "2026-Q3 or 2026-07 (default: the current period); each period is done on its own.\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    const char *state = NULL, *by = NULL, *note = NULL, *report = NULL, *reason = NULL, *period = NULL;
    int percent = -1;
    static const struct option opts[] = {{"state", required_argument, NULL, 's'},  {"by", required_argument, NULL, 'b'},
                                         {"note", required_argument, NULL, 'n'},   {"report", required_argument, NULL, 'r'},
                                         {"reason", required_argument, NULL, 'R'}, {"percent", required_argument, NULL, 'p'},
                                         {"period", required_argument, NULL, 'P'}, {NULL, 0, NULL, 0}};
    int o;
    char *end;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 's': state = optarg; break;
        case 'b': by = optarg; break;
        case 'n': note = optarg; break;
        case 'r': report = optarg; break;
        case 'R': reason = optarg; break;
        case 'P': period = optarg; break;
        case 'p':
            percent = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || optarg[0] == '\0' || percent < 0 || percent > 100)
                return ts_cli__fail(cli, TS_EBAD_VALUE,
                                    TS__L(cli, "--percent \"%s\": tỷ lệ hoàn thành là một số từ 0 đến 100",
                                          "--percent \"%s\": the percent done is a number from 0 to 100"),
                                    optarg);
            break;
        default: return ts_cli__usage(help, argc, argv);
        }
    }
    if (optind != argc - 1 || state == NULL)
        return ts_cli__usage(help, argc, argv);
    const char *id = argv[optind];
    if (period || ts__recurring(cli, id))
        return ts__period_cmd(cli, id, period, state, percent, by, note, report);
    return ts__transition_cmd(cli, id, state, by, note, report, reason, percent);
}

int ts_cli_report(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(
        cli,
        "cách dùng: tramsync [-d THƯ_MỤC] [--json] report --kind LOẠI --subject NỘI_DUNG [--body NỘI_DUNG]\n"
        "       [--urgency thuong|khan|thuong_khan|hoa_toc] [--category MÃ] [--disease TÊN_BỆNH]\n"
        "       [--cases N] [--deaths N] [--onset YYYY-MM-DD] [--location ĐỊA_ĐIỂM] [--by HỌ_TÊN]\n"
        "       [--outbreak MÃ_Ổ_DỊCH]\n\n"
        "Gửi báo cáo hoặc đề nghị lên trung tâm y tế. LOẠI: case_report (báo cáo ca bệnh),\n"
        "outbreak_detection (phát hiện ổ dịch), outbreak_update, outbreak_end, incident (sự cố),\n"
        "request_drugs (đề nghị cấp thuốc, vật tư), request_staff, request_supervision, other.\n"
        "--outbreak: ổ dịch trung tâm đã mở mà báo cáo này cập nhật (xem tramsync outbreaks).\n",
        "usage: tramsync [-d DIR] [--json] report --kind KIND --subject TEXT [--body TEXT]\n"
        "       [--urgency thuong|khan|thuong_khan|hoa_toc] [--category CODE] [--disease NAME]\n"
        "       [--cases N] [--deaths N] [--onset YYYY-MM-DD] [--location TEXT] [--by NAME]\n"
        "       [--outbreak OUTBREAK_ID]\n\n"
        "Sends a report or request up to the district. KIND: case_report, outbreak_detection,\n"
        "outbreak_update, outbreak_end, incident, request_drugs, request_staff,\n"
        "request_supervision, other. --outbreak: the outbreak the district opened that this\n"
        "report is about (see tramsync outbreaks).\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    json_t *f = json_object();
    static const struct option opts[] = {
        {"kind", required_argument, NULL, 'k'},     {"subject", required_argument, NULL, 's'},
        {"body", required_argument, NULL, 'b'},     {"urgency", required_argument, NULL, 'u'},
        {"category", required_argument, NULL, 'c'}, {"disease", required_argument, NULL, 'd'},
        {"cases", required_argument, NULL, 'n'},    {"deaths", required_argument, NULL, 'D'},
        {"onset", required_argument, NULL, 'o'},    {"location", required_argument, NULL, 'l'},
        {"by", required_argument, NULL, 'y'},       {"outbreak", required_argument, NULL, 'O'},
        {NULL, 0, NULL, 0}};
    static const char *const keys[] = {"kind",   "subject",    "body",     "urgency",     "category",   "disease",
                                       "cases",  "deaths",     "onset_date", "location", "reported_by", "outbreak_id"};
    static const char letters[] = "ksbucdnDolyO";
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *k = strchr(letters, o);
        if (o == '?' || k == NULL) {
            json_decref(f);
            return ts_cli__usage(help, argc, argv);
        }
        const char *key = keys[k - letters];
        if (o == 'n' || o == 'D')
            json_object_set_new(f, key, json_integer(strtoll(optarg, NULL, 10)));
        else
            json_object_set_new(f, key, json_string(optarg));
    }
    if (optind != argc || !json_object_get(f, "kind") || !json_object_get(f, "subject")) {
        json_decref(f);
        return ts_cli__usage(help, argc, argv);
    }
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, false);
    if (rc != 0) {
        json_decref(f);
        return rc;
    }
    ts_error err;
    char id[TS_KEY_MAX + 1];
    if (ts_station_report(x.store, f, id, sizeof id, &err) < 0) {
        rc = ts_cli__fail_err(cli, err.code, "không lưu được báo cáo", err.msg);
    } else if (cli->json) {
        json_t *out = json_pack("{s:s,s:s}", "id", id, "result", "stored");
        ts_cli__print_json(out);
        json_decref(out);
    } else {
        printf(TS__L(cli, "đã lưu báo cáo %s; agent sẽ gửi lên trung tâm y tế trong vài giây\n",
                     "report %s stored; the agent sends it to the district within seconds\n"),
               id);
    }
    json_decref(f);
    ts_cli__close(&x);
    return rc;
}

int ts_cli_tasks(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(cli,
                             "cách dùng: tramsync [-d THƯ_MỤC] [--json] tasks\n\nCác nhiệm vụ kế hoạch trung tâm y tế "
                             "giao cho trạm, với hạn xử lý\nvà hướng dẫn của trung tâm. Toàn văn: tramsync notice show "
                             "MÃ.\n",
                             "usage: tramsync [-d DIR] [--json] tasks\n\nPlan tasks the district assigned to this "
                             "station, with their deadline\nand the district's instructions. In full: tramsync notice "
                             "show ID.\n");
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
    json_t *list;
    ts_error err;
    if (ts_station_tasks(x.store, &list, &err) < 0) {
        rc = ts_cli__fail_err(cli, err.code, "không đọc được danh sách nhiệm vụ", err.msg);
        list = NULL;
    }
    /* a recurring task: this station's periods with it */
    size_t k;
    json_t *item;
    json_array_foreach(list, k, item) {
        json_t *t = json_pack("{s:O,s:O,s:[O]}", "id", json_object_get(item, "id"), "fields",
                              json_object_get(item, "task") ? json_object_get(item, "task") : json_null(),
                              "assignments", json_object_get(item, "handling") ? json_object_get(item, "handling")
                                                                                : json_null());
        json_t *periods = t ? ts_task_periods(x.store, t, ts_wall_ms()) : NULL;
        json_decref(t);
        if (periods)
            json_object_set_new(item, "periods", periods);
    }
    if (list == NULL) {
        /* said above */
    } else if (cli->json) {
        ts_cli__print_json(list);
        json_decref(list);
    } else {
        size_t i;
        json_t *it;
        if (json_array_size(list) == 0)
            puts(TS__L(cli, "chưa có nhiệm vụ nào được giao cho trạm", "no tasks assigned to this station"));
        json_array_foreach(list, i, it) {
            const json_t *t = json_object_get(it, "task"), *h = json_object_get(it, "handling");
            ts__pad(ts_json_str(it, "id"), 8);
            printf(" %s%s\n    ", ts__label(cli, ts_notice_states, 5, ts_json_str(h, "state")),
                   json_is_true(json_object_get(h, "overdue")) ? TS__L(cli, " — QUÁ HẠN", " — OVERDUE") : "");
            ts__cut(ts_json_str(t, "task"), 160);
            /* the district's deadline for this station, else the plan's */
            char when[40];
            const char *deadline = ts__has(h, "deadline")        ? ts_text_date(ts_json_str(h, "deadline"), when, sizeof when)
                                   : ts__has(t, "deadline_text") ? ts_json_str(t, "deadline_text")
                                                                 : ts_text_date(ts_json_str(t, "deadline"), when, sizeof when);
            if (deadline[0])
                printf(TS__L(cli, "\n    Hạn xử lý: %s", "\n    Deadline: %s"), deadline);
            if (ts__has(h, "instructions"))
                printf(TS__L(cli, "\n    Hướng dẫn: %s", "\n    Instructions: %s"), ts_json_str(h, "instructions"));
            const json_t *me = json_array_get(json_object_get(json_object_get(it, "periods"), "stations"), 0);
            const json_t *now = json_array_get(json_object_get(me, "rows"), 0);
            if (now) {
                printf(TS__L(cli, "\n    Kỳ hiện tại: %s — %s", "\n    This period: %s — %s"),
                       ts_json_str(now, cli->en ? "label_en" : "label_vi"), ts__period_status(cli, ts_json_str(now, "status")));
                if (json_is_integer(json_object_get(now, "percent")))
                    printf(", %lld%%", (long long)json_integer_value(json_object_get(now, "percent")));
                json_int_t late = json_integer_value(json_object_get(json_object_get(me, "counts"), "overdue"));
                if (late > 0)
                    printf(TS__L(cli, "; %lld kỳ QUÁ HẠN", "; %lld period(s) OVERDUE"), (long long)late);
            }
            fputc('\n', stdout);
        }
        json_decref(list);
    }
    ts_cli__close(&x);
    return rc;
}
