/* Period progress of recurring plan tasks at the station. */
#include "client/ts_station_periods.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "client/ts_station_notices.h"
#include "common/ts_arena.h"
#include "common/ts_notice.h"
#include "common/ts_people.h"
#include "common/ts_recjson.h"

#define TS__T(en, in_vi, in_en) ((en) ? (in_en) : (in_vi))

bool ts_station_task_recurring(ts_store *st, const char *task_id, ts_period_unit *unit)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    bool recurring = false;
    if (ts_store_get(st, "plan_tasks", task_id, &c, &arena, NULL) == 0) {
        char u[32] = "";
        recurring = ts_recjson_bool(&c.v, "recurring", &recurring) && recurring;
        ts_recjson_text(&c.v, "recurrence", u, sizeof u);
        if (!ts_period_unit_parse(u, unit))
            *unit = TS_PERIOD_YEARLY;
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    return recurring;
}

/* How a period of the unit is written, for the error that says so. */
static const char *ts__example(ts_period_unit u)
{
    return u == TS_PERIOD_QUARTERLY ? "2026-Q3" : u == TS_PERIOD_MONTHLY ? "2026-07" : "2026";
}

static const char *ts__unit_vi(ts_period_unit u)
{
    return u == TS_PERIOD_QUARTERLY ? "hằng quý" : u == TS_PERIOD_MONTHLY ? "hằng tháng" : "hằng năm";
}

int ts_station_period_progress(ts_store *st, const char *task_id, const char *period, const char *state, int percent,
                               const char *by, const char *note, const char *report, bool en, char *period_out,
                               size_t period_size, ts_error *err)
{
    ts_period_unit unit;
    if (!ts_station_task_recurring(st, task_id, &unit))
        return ts_error_set(err, TS_EBAD_VALUE,
                            TS__T(en, "%s không phải nhiệm vụ định kỳ: báo tiến độ không có --period",
                                  "%s is not a recurring task: report progress without --period"),
                            task_id);
    char rid[TS_KEY_MAX + 1];
    snprintf(rid, sizeof rid, "%s:%s", task_id, ts_store_station(st));
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    char assigned_state[24] = "";
    bool assigned = ts_store_get(st, "task_assignments", rid, &c, &arena, NULL) == 0;
    if (assigned) {
        ts_recjson_text(&c.v, "state", assigned_state, sizeof assigned_state);
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    if (!assigned)
        return ts_error_set(err, TS_ENOT_FOUND,
                            TS__T(en, "không có văn bản hay nhiệm vụ %s gửi cho trạm này",
                                  "no notice or task %s addressed to this station"),
                            task_id);
    if (strcmp(state, "in_progress") != 0 && strcmp(state, "done") != 0)
        return ts_error_set(err, TS_EBAD_VALUE,
                            TS__T(en, "tiến độ theo kỳ là in_progress (đang thực hiện) hoặc done (hoàn thành)",
                                  "a period's progress is in_progress or done"));
    char today[16], current[16], key[16];
    ts_local_day(ts_wall_ms(), today, sizeof today);
    ts_period_key_of(unit, today, current, sizeof current);
    snprintf(key, sizeof key, "%s", period && period[0] ? period : current);
    if (!ts_period_key_valid(unit, key))
        return ts_error_set(err, TS_EBAD_VALUE,
                            TS__T(en, "kỳ \"%s\" không đúng: nhiệm vụ này thực hiện %s, ghi kỳ dạng %s",
                                  "period \"%s\" is not right: this task recurs %s, write the period as %s"),
                            period, en ? ts_period_unit_name(unit) : ts__unit_vi(unit), ts__example(unit));
    if (strcmp(key, current) > 0) {
        char label[48];
        ts_period_key_label(key, en, label, sizeof label);
        return ts_error_set(err, TS_EBAD_VALUE, TS__T(en, "kỳ %s chưa bắt đầu", "period %s has not begun"), label);
    }
    if (percent > 100)
        return ts_error_set(err, TS_EBAD_VALUE,
                            TS__T(en, "tỷ lệ hoàn thành là từ 0 đến 100", "the percent done is 0 to 100"));
    if (strcmp(state, "done") == 0 && (report == NULL || report[0] == '\0'))
        return ts_error_set(err, TS_EBAD_VALUE,
                            TS__T(en, "báo hoàn thành cần kèm một báo cáo kết quả ngắn (--report NỘI_DUNG)",
                                  "a task is done with a short report (--report TEXT)"));
    char pid[TS_KEY_MAX + 1];
    int n = snprintf(pid, sizeof pid, "%s:%s:%s", task_id, ts_store_station(st), key);
    if (n < 0 || (size_t)n >= sizeof pid)
        return ts_error_set(err, TS_EBAD_VALUE, TS__T(en, "mã nhiệm vụ quá dài", "the task id is too long"));
    ts_arena_init(&arena, 4096);
    bool was_done = false;
    if (ts_store_get(st, "task_progress", pid, &c, &arena, NULL) == 0) {
        was_done = ts_recjson_bool(&c.v, "done", &was_done) && was_done && !ts_version_deleted(&c.v);
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    if (was_done && strcmp(state, "done") != 0) {
        char label[48];
        ts_period_key_label(key, en, label, sizeof label);
        return ts_error_set(err, TS_EBAD_VALUE,
                            TS__T(en, "kỳ %s đã báo hoàn thành", "period %s was already reported done"), label);
    }
    /* who: a person of the directory when it knows them, else as written */
    char person[TS_KEY_MAX + 1] = "", label[512] = "";
    if (by && by[0] && ts_people_resolve(st, by, person, sizeof person, label, sizeof label) == 0)
        by = label;
    else
        person[0] = '\0';
    char now[32];
    ts_time_iso(ts_wall_ms(), now, sizeof now);
    json_t *f = json_pack("{s:s,s:s,s:s}", "task_id", task_id, "period", key, "progress_at", now);
    bool done = strcmp(state, "done") == 0;
    json_object_set_new(f, "done", json_boolean(done));
    if (done) {
        json_object_set_new(f, "done_at", json_string(now));
        json_object_set_new(f, "report", json_string(report));
    }
    if (percent >= 0 || done)
        json_object_set_new(f, "percent", json_integer(percent >= 0 ? percent : 100));
    if (note && note[0])
        json_object_set_new(f, "progress_note", json_string(note));
    if (by && by[0])
        json_object_set_new(f, "updated_by", json_string(by));
    if (person[0])
        json_object_set_new(f, "updated_by_person", json_string(person));
    int rc = ts_store_begin(st, err);
    if (rc == 0)
        rc = ts_station_put(st, "task_progress", pid, f, err);
    /* the assignment is under way once a period is reported (never done:
     * the task recurs) */
    if (rc == 0 && ts_state_rank(assigned_state) >= 0 && ts_state_rank(assigned_state) < ts_state_rank("in_progress")) {
        json_t *a = json_pack("{s:s,s:s}", "state", "in_progress", "progress_at", now);
        rc = ts_station_put(st, "task_assignments", rid, a, err);
        json_decref(a);
    }
    if (rc == 0)
        rc = ts_store_commit(st, err);
    else
        ts_store_rollback(st);
    json_decref(f);
    if (rc == 0)
        snprintf(period_out, period_size, "%s", key);
    return rc;
}
