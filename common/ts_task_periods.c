/* Per-period progress of recurring plan tasks, read on the district from
 * the stations' task_progress records (id "<task>:<station>:<period>"). */
#include "common/ts_task_periods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_notice.h"
#include "common/ts_period.h"
#include "common/ts_recjson.h"

#define TS__MAX_ROWS 120

/* Every live task_progress record of the task at the station, by period. */
static json_t *ts__reported(ts_store *st, const char *task, const char *station)
{
    json_t *by = json_object();
    char prefix[2 * TS_KEY_MAX + 4];
    snprintf(prefix, sizeof prefix, "%s:%s:", task, station);
    size_t plen = strlen(prefix);
    char after[sizeof prefix];
    snprintf(after, sizeof after, "%s", prefix);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    bool more = true;
    while (more && ts_store_list(st, "task_progress", after, 200, false, &page, &err) == 0 && page.n > 0) {
        for (uint32_t i = 0; i < page.n; i++) {
            if (strncmp(page.items[i].id, prefix, plen) != 0) {
                more = false;
                break;
            }
            json_t *r = ts_recjson_record(&page.items[i], false);
            const json_t *f = json_object_get(r, "fields");
            /* only a record whose id says what it holds: its task, its
             * owner, its period (a station could write any id) */
            if (strcmp(ts_json_str(f, "task_id"), task) == 0 && strcmp(ts_json_str(r, "owner"), station) == 0 &&
                strcmp(page.items[i].id + plen, ts_json_str(f, "period")) == 0)
                json_object_set(by, ts_json_str(f, "period"), json_object_get(r, "fields"));
            json_decref(r);
        }
        if (page.n < 200)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    return by;
}

static void ts__count(json_t *counts, const char *status)
{
    json_t *c = json_object_get(counts, status);
    json_object_set_new(counts, status, json_integer(c ? json_integer_value(c) + 1 : 1));
}

json_t *ts_task_periods(ts_store *st, const json_t *task, uint64_t now_ms)
{
    const json_t *f = json_object_get(task, "fields");
    if (!json_is_true(json_object_get(f, "recurring")))
        return NULL;
    ts_period_unit unit;
    if (!ts_period_unit_parse(ts_json_str(f, "recurrence"), &unit))
        unit = TS_PERIOD_YEARLY;
    char today[16], current[16];
    ts_local_day(now_ms, today, sizeof today);
    ts_period_key_of(unit, today, current, sizeof current);
    json_int_t from_year = json_integer_value(json_object_get(f, "recurring_from"));
    const char *task_id = ts_json_str(task, "id");
    json_t *stations = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(task, "assignments"), i, a) {
        const char *station = ts_json_str(a, "station");
        if (!station[0] || json_is_true(json_object_get(a, "_deleted")))
            continue;
        /* the first period: the plan's first year, else when it was assigned */
        char first[16] = "";
        if (from_year >= 2000 && from_year <= 2100) {
            ts_period_key_first_of_year(unit, (int)from_year, first, sizeof first);
        } else {
            uint64_t at;
            char day[16];
            if (ts_time_parse(ts_json_str(a, "assigned_at"), &at)) {
                ts_local_day(at, day, sizeof day);
                ts_period_key_of(unit, day, first, sizeof first);
            } else {
                snprintf(first, sizeof first, "%s", current);
            }
        }
        json_t *reported = ts__reported(st, task_id, station);
        json_t *rows = json_array(), *counts = json_object();
        /* the periods up to the current one, newest first; the oldest beyond
         * TS__MAX_ROWS are left out */
        char p[16];
        snprintf(p, sizeof p, "%s", first);
        json_t *all = json_array();
        while (strcmp(p, current) <= 0) {
            json_array_append_new(all, json_string(p));
            char next[16];
            ts_period_key_next(p, next, sizeof next);
            snprintf(p, sizeof p, "%s", next);
        }
        size_t n = json_array_size(all);
        for (size_t k = n; k-- > 0 && json_array_size(rows) < TS__MAX_ROWS;) {
            const char *key = json_string_value(json_array_get(all, k));
            const json_t *r = json_object_get(reported, key);
            char last[16], vi[48], en[48];
            ts_period_key_last_day(key, last, sizeof last);
            uint64_t end_ms = 0;
            bool over = ts_local_day_end(last, &end_ms) && now_ms >= end_ms;
            bool done = json_is_true(json_object_get(r, "done"));
            const char *status = done ? "done" : over ? "overdue" : r ? "in_progress" : "not_reported";
            ts_period_key_label(key, false, vi, sizeof vi);
            ts_period_key_label(key, true, en, sizeof en);
            json_t *row = json_pack("{s:s,s:s,s:s,s:s,s:s}", "period", key, "label_vi", vi, "label_en", en, "status",
                                    status, "ends", last);
            static const char *const copy[] = {"percent", "progress_note", "report", "done_at", "progress_at",
                                               "updated_by"};
            for (size_t c = 0; r && c < sizeof copy / sizeof *copy; c++) {
                json_t *v = json_object_get(r, copy[c]);
                if (v && !json_is_null(v))
                    json_object_set(row, copy[c], v);
            }
            if (done && !json_object_get(row, "percent"))
                json_object_set_new(row, "percent", json_integer(100));
            ts__count(counts, status);
            json_array_append_new(rows, row);
        }
        json_decref(all);
        json_decref(reported);
        json_array_append_new(stations, json_pack("{s:s,s:o,s:o}", "station", station, "rows", rows, "counts", counts));
    }
    return json_pack("{s:s,s:s,s:o}", "unit", ts_period_unit_name(unit), "current", current, "stations", stations);
}

static const json_t *ts__station(const json_t *periods, const char *station)
{
    if (station == NULL)
        return NULL;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(periods, "stations"), i, s)
        if (strcmp(ts_json_str(s, "station"), station) == 0)
            return s;
    return NULL;
}

const json_t *ts_task_periods_rows(const json_t *periods, const char *station)
{
    return json_object_get(ts__station(periods, station), "rows");
}

const json_t *ts_task_periods_counts(const json_t *periods, const char *station)
{
    return json_object_get(ts__station(periods, station), "counts");
}

void ts_task_periods_standing(const json_t *periods, const char *station, bool *done, long long *percent,
                              bool *overdue)
{
    const json_t *now = json_array_get(ts_task_periods_rows(periods, station), 0);
    *done = strcmp(ts_json_str(now, "status"), "done") == 0;
    *percent = *done ? 100 : (long long)json_integer_value(json_object_get(now, "percent"));
    *overdue = json_integer_value(json_object_get(ts_task_periods_counts(periods, station), "overdue")) > 0;
}
