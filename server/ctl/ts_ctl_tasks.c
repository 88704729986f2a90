/* tramsyncctl task (the plan's tasks: list, status, assign, set aside) and
 * escalations (what waits too long), through the admin API. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/ts_notice.h"
#include "common/ts_text.h"
#include "server/ctl/ts_ctl_int.h"

static void ts__task_line(const ts_ctl *ctl, const json_t *t)
{
    const json_t *f = json_object_get(t, "fields");
    char counts[512] = "";
    const char *k;
    json_t *v;
    size_t off = 0;
    json_object_foreach(json_object_get(t, "assignment_counts"), k, v) {
        if (off >= sizeof counts)
            break;
        off += (size_t)snprintf(counts + off, sizeof counts - off, "%s%s %lld", off ? ", " : "",
                                ts_ctl__label(ctl, ts_notice_states, 5, k), (long long)json_integer_value(v));
    }
    printf("%-6s ", ts_ctl__s(t, "id"));
    ts_text_col(stdout, ts_ctl__s(f, "task"), ts_text_width(ts_ctl__s(f, "task")) > 100 ? 100 : 0);
    fputs(TS__L(ctl, "\n       chủ trì: ", "\n       lead: "), stdout);
    ts_text_col(stdout, ts_ctl__s(f, "lead"), ts_text_width(ts_ctl__s(f, "lead")) > 60 ? 60 : 0);
    char deadline[64];
    printf(TS__L(ctl, " | thời hạn: %s | đã giao: %s\n", " | deadline: %s | assigned: %s\n"),
           ts_text_date(ts_ctl__s(f, "deadline_text"), deadline, sizeof deadline),
           counts[0] ? counts : TS__L(ctl, "chưa giao", "none"));
}

static void ts__assignment_line(const ts_ctl *ctl, const json_t *a)
{
    char deadline[32];
    printf("  ");
    ts_text_col(stdout, ts_ctl__s(a, "station"), 16);
    putchar(' ');
    ts_text_col(stdout, ts_ctl__label(ctl, ts_notice_states, 5, ts_ctl__s(a, "state")), 30);
    printf(TS__L(ctl, " hạn %s %s%s\n", " deadline %s %s%s\n"),
           ts_text_date(ts_ctl__s(a, "deadline")[0] ? ts_ctl__s(a, "deadline") : "-", deadline, sizeof deadline),
           json_is_true(json_object_get(a, "overdue")) ? TS__L(ctl, "QUÁ HẠN ", "OVERDUE ") : "",
           ts_ctl__s(a, "progress_note"));
}

/* A recurring task's periods at one station, newest first (at most 8):
 * "      Quý IV/2026     Đang thực hiện 10%". */
static void ts__task_periods(const ts_ctl *ctl, const json_t *periods, const char *station)
{
    static const char *const status[][3] = {{"done", "Hoàn thành", "Done"},
                                            {"in_progress", "Đang thực hiện", "In progress"},
                                            {"not_reported", "Chưa báo cáo", "Not reported"},
                                            {"overdue", "QUÁ HẠN", "OVERDUE"}};
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(periods, "stations"), i, st) {
        if (strcmp(ts_ctl__s(st, "station"), station) != 0)
            continue;
        size_t k;
        json_t *r;
        json_array_foreach(json_object_get(st, "rows"), k, r) {
            if (k == 8)
                break;
            const char *word = ts_ctl__s(r, "status");
            for (size_t w = 0; w < sizeof status / sizeof *status; w++)
                if (strcmp(status[w][0], word) == 0)
                    word = TS__L(ctl, status[w][1], status[w][2]);
            printf("      ");
            ts_text_col(stdout, ts_ctl__s(r, TS__L(ctl, "label_vi", "label_en")), 16);
            printf("%s", word);
            if (json_is_integer(json_object_get(r, "percent")))
                printf(" %lld%%", (long long)json_integer_value(json_object_get(r, "percent")));
            printf("\n");
        }
    }
}

int ts_ctl_task(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv)
{
    ts_ctl_opts o;
    memset(&o, 0, sizeof o);
    ts_ctl_sub sc;
    if (ts_ctl__parse_sub(argc, argv, &o, c, &sc) != 0)
        return TS_CTL_USAGE;
    c->want_tz = !ctl->json && (strcmp(sc.name, "list") == 0 || strcmp(sc.name, "status") == 0);
    int rc = ts_ctl__login(c);
    if (rc != 0)
        return rc;
    json_t *res = NULL;
    char path[256];
    if (strcmp(sc.name, "list") == 0) {
        rc = ts_ctl__call(c, "GET", "/api/tasks", NULL, &res);
        if (rc == 0 && !ctl->json) {
            size_t i;
            json_t *t;
            json_array_foreach(json_object_get(res, "tasks"), i, t)
                ts__task_line(ctl, t);
        }
    } else if (strcmp(sc.name, "status") == 0 && sc.nrest == 1) {
        snprintf(path, sizeof path, "/api/tasks/%s", sc.rest[0]);
        rc = ts_ctl__call(c, "GET", path, NULL, &res);
        if (rc == 0 && !ctl->json) {
            printf("%s  %s\n", ts_ctl__s(res, "id"), ts_ctl__s(json_object_get(res, "fields"), "task"));
            size_t i;
            json_t *a;
            json_array_foreach(json_object_get(res, "assignments"), i, a) {
                ts__assignment_line(ctl, a);
                ts__task_periods(ctl, json_object_get(res, "periods"), ts_ctl__s(a, "station"));
            }
        }
    } else if ((strcmp(sc.name, "not-applicable") == 0 || strcmp(sc.name, "applicable") == 0) && sc.nrest == 1) {
        bool back = strcmp(sc.name, "applicable") == 0;
        if (!back && (o.reason == NULL || o.reason[0] == '\0'))
            return ts_ctl__err(TS__L(ctl, "task not-applicable cần --reason LÝ_DO (vì sao nhiệm vụ không còn áp dụng)",
                                     "task not-applicable needs --reason TEXT (why the task no longer applies)"));
        json_t *body = back ? json_pack("{s:b}", "applicable", true) : json_pack("{s:s}", "reason", o.reason);
        snprintf(path, sizeof path, "/api/tasks/%s/not-applicable", sc.rest[0]);
        rc = ts_ctl__call(c, "POST", path, body, &res);
        json_decref(body);
        if (rc == 0 && !ctl->json)
            printf(back ? TS__L(ctl, "Nhiệm vụ %s áp dụng trở lại\n", "Task %s applies again\n")
                        : TS__L(ctl, "Nhiệm vụ %s: không áp dụng\n", "Task %s set aside as not applicable\n"),
                   sc.rest[0]);
    } else if (strcmp(sc.name, "assign") == 0 && sc.nrest == 1) {
        json_t *body = json_pack("{s:o}", "recipients", ts_ctl__recipients(o.to, o.stations, o.communes));
        if (o.deadline)
            json_object_set_new(body, "deadline", json_string(o.deadline));
        if (o.instructions)
            json_object_set_new(body, "instructions", json_string(o.instructions));
        snprintf(path, sizeof path, "/api/tasks/%s/assign", sc.rest[0]);
        rc = ts_ctl__call(c, "POST", path, body, &res);
        json_decref(body);
        if (rc == 0 && !ctl->json)
            printf(TS__L(ctl, "đã giao nhiệm vụ %s cho %lld trạm\n", "task %s assigned to %lld station(s)\n"), sc.rest[0],
                   (long long)ts_ctl__i(res, "assigned"));
    } else {
        return TS_CTL_USAGE;
    }
    if (rc == 0 && ctl->json)
        ts_ctl__print(res);
    json_decref(res);
    return rc;
}

/* One item waiting too long: the station, the notice (its number) or the
 * task (its id), what it is about, its deadline, its state and why it is
 * listed. */
static void ts__escalation_line(const ts_ctl *ctl, const json_t *it)
{
    const json_t *f = json_object_get(it, "fields");
    bool task = strcmp(ts_ctl__s(it, "table"), "task_assignments") == 0;
    const char *station = ts_ctl__s(it, "station_name")[0] ? ts_ctl__s(it, "station_name") : ts_ctl__s(it, "station");
    const char *ref = task ? ts_ctl__s(f, "task_id") : ts_ctl__s(it, "number");
    char deadline[32], flags[160] = "";
    ts_text_date(ts_ctl__s(f, "deadline")[0] ? ts_ctl__s(f, "deadline") : "-", deadline, sizeof deadline);
    const char *why[3] = {json_is_true(json_object_get(it, "urgent_unacknowledged"))
                              ? TS__L(ctl, "khẩn chưa xác nhận", "urgent, not acknowledged")
                              : NULL,
                          json_is_true(json_object_get(it, "overdue")) ? TS__L(ctl, "quá hạn", "overdue") : NULL,
                          json_is_true(json_object_get(it, "escalated")) ? TS__L(ctl, "đã nhắc lại", "escalated")
                                                                         : NULL};
    size_t off = 0;
    for (size_t k = 0; k < 3; k++)
        if (why[k] && off < sizeof flags)
            off += (size_t)snprintf(flags + off, sizeof flags - off, "%s%s", off ? ", " : "", why[k]);
    printf("%s  %s\n", ts_ctl__s(it, "id"), station);
    printf("  %s %s: %s\n", task ? TS__L(ctl, "Nhiệm vụ", "Task") : TS__L(ctl, "Văn bản", "Notice"),
           ref[0] ? ref : ts_ctl__s(f, "notice_id"), ts_ctl__s(it, "subject"));
    printf(TS__L(ctl, "  %s%s%s, hạn %s — %s\n", "  %s%s%s, deadline %s — %s\n"),
           ts_ctl__label(ctl, ts_notice_states, 5, ts_ctl__s(f, "state")), task ? "" : ", ",
           task ? "" : ts_ctl__label(ctl, ts_notice_urgencies, 4, ts_ctl__s(f, "urgency")), deadline, flags);
}

int ts_ctl_escalations(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv)
{
    return ts_ctl__list(ctl, c, argc, argv, "/api/escalations", "items", ts__escalation_line);
}
