/* The calendar in the admin API (issue 18): the daemon's calendar job
 * (occurrences generated, reminders sent and reports graded at start, at
 * each local midnight and every quarter of an hour; reports graded also as
 * soon as a station's push brings one), the calendar page's data, the
 * completeness grid, writing a duty (its occurrences generated in the same
 * transaction) and reminding the late stations of an occurrence in one
 * step. The work itself is server/ts_calendar.c. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ts_calendar.h"
#include "common/ts_period.h"
#include "common/ts_log.h"
#include "common/ts_notice.h"
#include "common/ts_recjson.h"
#include "common/ts_xmalloc.h"
#include "server/admin/ts_admin_int.h"
#include "server/ts_calendar.h"
#include "server/ts_dbq.h"

#define TS__CAL_EVERY_MS (15 * 60 * 1000)
#define TS__CAL_AGAIN_MS 2000 /* grades left to write (TS_CAL_GRADE_MAX): the next run */

/* ---------------------------------------------------------------- the job */

typedef struct ts__cal_job {
    ts_dbjob base;
    ts_admin *adm;
    bool grade_only;  /* a station's push brought reports: grading them alone */
    ts_strlist ids;   /* grade_only: those reports */
    size_t graded, invalid;
    bool more; /* grades left for the next run */
    ts_strlist graded_stations;
    size_t written;
    ts_cal_reminder *rem;
    size_t nrem;
    ts_admin__frame *frames;
    size_t nframes;
    int rc;
    ts_error err;
} ts__cal_job;

static void ts__cal_frames(ts_store *st, const ts_cal_reminder *r, ts_admin__frame **frames, size_t *n)
{
    for (size_t s = 0; s < r->stations.n; s++) {
        ts_buf b = TS_BUF_INIT;
        ts_error err;
        if (ts_notice_frame(st, r->notice, r->stations.v[s], &b, &err) == 0) {
            *frames = ts_xreallocarray(*frames, *n + 1, sizeof **frames);
            snprintf((*frames)[*n].station, sizeof(*frames)[*n].station, "%s", r->stations.v[s]);
            (*frames)[(*n)++].bytes = b;
        } else {
            ts_buf_free(&b);
        }
    }
}

static void ts__cal_work(ts_dbjob *base, ts_store *st)
{
    ts__cal_job *j = base->data;
    uint64_t now = ts_wall_ms();
    if (j->grade_only) {
        j->rc = ts_calendar_grade(st, &j->ids, now, &j->graded, &j->invalid, &j->graded_stations, &j->err);
        return;
    }
    /* generation failing keeps the reminders from going out (they are of
     * its occurrences); the reports are graded all the same */
    ts_cal_run run;
    memset(&run, 0, sizeof run);
    ts_error rerr;
    j->rc = ts_calendar_generate(st, now, &j->written, &j->err);
    int rrc = 0;
    if (j->rc == 0) {
        const ts_server_config *cfg = ts_server_get_config(j->adm->srv);
        rrc = ts_calendar_run(st, cfg->district_name, now, TS_CAL_GRADE_MAX, &run, &rerr);
    } else {
        rrc = ts_calendar_grade(st, NULL, now, &run.graded, &run.invalid, &run.graded_stations, &rerr);
    }
    if (rrc < 0 && j->rc == 0) {
        j->rc = rrc;
        j->err = rerr;
    }
    j->rem = run.reminders;
    j->nrem = run.nreminders;
    j->graded = run.graded;
    j->invalid = run.invalid;
    j->more = run.more && rrc == 0;
    j->graded_stations = run.graded_stations;
    for (size_t i = 0; i < j->nrem; i++)
        ts__cal_frames(st, &j->rem[i], &j->frames, &j->nframes);
}

/* until the next local midnight (a second past it), at most TS__CAL_EVERY_MS */
static uint64_t ts__cal_delay(void)
{
    uint64_t now = ts_wall_ms(), end;
    char today[16];
    ts_local_day(now, today, sizeof today);
    if (!ts_local_day_end(today, &end) || end <= now)
        return TS__CAL_EVERY_MS;
    uint64_t d = end - now + 1000;
    return d < TS__CAL_EVERY_MS ? d : TS__CAL_EVERY_MS;
}

static void ts__cal_tick(uv_timer_t *t);
static void ts__grade_run(ts_admin *a);

static void ts__cal_done(ts_dbjob *base)
{
    ts__cal_job *j = base->data;
    ts_admin *a = j->adm;
    bool grade_only = j->grade_only, more = j->more;
    a->jobs--;
    if (grade_only)
        a->grade_running = false;
    else
        a->cal_running = false;
    if (j->rc < 0)
        ts_log_error("calendar_failed", "reason=%s", j->err.msg);
    /* the grades go back to their stations at once */
    for (size_t i = 0; i < j->graded_stations.n && !a->stopping; i++)
        ts_server_notify(a->srv, j->graded_stations.v[i]);
    ts_strlist_free(&j->graded_stations);
    ts_strlist_free(&j->ids);
    for (size_t i = 0; i < j->nframes; i++) {
        if (!a->stopping)
            ts_server_send_frame(a->srv, j->frames[i].station, j->frames[i].bytes.data, j->frames[i].bytes.len);
        ts_buf_free(&j->frames[i].bytes);
    }
    if ((j->written > 0 || j->nrem > 0) && !a->stopping) {
        ts_server_notify(a->srv, NULL);
        char data[80];
        snprintf(data, sizeof data, "{\"occurrences\":%zu,\"reminders\":%zu}", j->written, j->nrem);
        ts_admin_event(a, "calendar", data);
    }
    free(j->frames);
    ts_cal_reminders_free(j->rem, j->nrem);
    free(j);
    if (grade_only) {
        if (a->grade_ids.n > 0 && !a->stopping)
            ts__grade_run(a);
    } else if (!a->stopping) {
        uv_timer_start(&a->cal_timer, ts__cal_tick, more ? TS__CAL_AGAIN_MS : ts__cal_delay(), 0);
    }
    ts_admin__job_ended(a);
}

/* Grading alone the reports pushed, one run at a time: those a push
 * committed during a run wait for the next (and the calendar job grades
 * them all the same: what a stop lost is graded within 15 minutes). */
static void ts__grade_run(ts_admin *a)
{
    if (a->stopping || a->grade_running || a->grade_ids.n == 0)
        return;
    a->grade_running = true;
    a->jobs++;
    ts__cal_job *j = ts_xcalloc(1, sizeof *j);
    j->adm = a;
    j->grade_only = true;
    j->ids = a->grade_ids;
    memset(&a->grade_ids, 0, sizeof a->grade_ids);
    ts_dbq_submit(ts_server_dbq(a->srv), &j->base, ts__cal_work, ts__cal_done, j);
}

void ts_admin_reports_changed(ts_admin *a, const ts_strlist *ids)
{
    if (a == NULL || a->stopping)
        return;
    /* ts_strlist_add keeps one of each */
    for (size_t i = 0; i < ids->n; i++)
        ts_strlist_add(&a->grade_ids, ids->v[i]);
    ts__grade_run(a);
}

static void ts__cal_tick(uv_timer_t *t)
{
    ts_admin *a = t->data;
    if (a->cal_running || a->stopping)
        return;
    a->cal_running = true;
    a->jobs++;
    ts__cal_job *j = ts_xcalloc(1, sizeof *j);
    j->adm = a;
    ts_dbq_submit(ts_server_dbq(a->srv), &j->base, ts__cal_work, ts__cal_done, j);
}

void ts_admin__cal_start(ts_admin *a)
{
    uv_timer_init(ts_server_loop(a->srv), &a->cal_timer);
    a->cal_timer.data = a;
    uv_timer_start(&a->cal_timer, ts__cal_tick, 0, 0);
}

/* ---------------------------------------------------------------- endpoints */

static const ts_strlist *ts__only(const ts_admin__job *j)
{
    return j->scope == TS_ADMIN_SCOPE_ALL ? NULL : &j->scope_stations;
}

void ts_admin__api_calendar(ts_admin__job *j, ts_store *st)
{
    json_t *out;
    ts_error err;
    if (ts_calendar_overview(st, ts__only(j), j->now_ms, &out, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    ts_admin__ok(j, 200, out);
}

static void ts__csv(ts_buf *b, const char *text, bool last)
{
    ts_buf_append_str(b, "\"");
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            ts_buf_append_str(b, "\"\"");
        else
            ts_buf_append(b, p, 1);
    }
    ts_buf_append_str(b, last ? "\"\r\n" : "\",");
}

/* The grid as CSV (UTF-8 with a BOM, CRLF, every field quoted): per duty,
 * a header (the periods with their due days), a row per station with its
 * status in words, and the rates. */
static void ts__grid_csv(const json_t *g, ts_buf *b)
{
    ts_buf_append_str(b, "\xEF\xBB\xBF");
    size_t i, k, r;
    json_t *d, *p, *row;
    json_array_foreach(json_object_get(g, "duties"), i, d) {
        const json_t *cols = json_object_get(d, "periods");
        ts__csv(b, "Báo cáo", false);
        ts__csv(b, "Trạm", false);
        ts__csv(b, "Xã", json_array_size(cols) == 0);
        json_array_foreach(cols, k, p) {
            char head[160], period[64], due[48];
            ts_period_key_label(ts_admin__str(p, "period"), false, period, sizeof period);
            ts_vn_date(ts_admin__str(p, "due_date"), due, sizeof due);
            snprintf(head, sizeof head, "%s (hạn %s)", period, due);
            ts__csv(b, head, k + 1 == json_array_size(cols));
        }
        json_array_foreach(json_object_get(d, "rows"), r, row) {
            ts__csv(b, ts_admin__str(d, "title"), false);
            ts__csv(b, ts_admin__str(row, "name"), false);
            ts__csv(b, ts_admin__str(row, "commune"), json_array_size(cols) == 0);
            json_array_foreach(json_object_get(row, "cells"), k, p)
                ts__csv(b, ts_report_status_label(ts_admin__str(p, "status"), false), k + 1 == json_array_size(cols));
        }
        ts__csv(b, ts_admin__str(d, "title"), false);
        ts__csv(b, "Tỷ lệ báo cáo / đúng hạn (%)", false);
        ts__csv(b, "", json_array_size(cols) == 0);
        json_array_foreach(cols, k, p) {
            char rate[48] = "";
            if (json_object_get(p, "reporting_rate"))
                snprintf(rate, sizeof rate, "%" JSON_INTEGER_FORMAT " / %" JSON_INTEGER_FORMAT,
                         json_integer_value(json_object_get(p, "reporting_rate")),
                         json_integer_value(json_object_get(p, "timeliness")));
            ts__csv(b, rate, k + 1 == json_array_size(cols));
        }
        ts_buf_append_str(b, "\r\n");
    }
}

void ts_admin__api_calendar_grid(ts_admin__job *j, ts_store *st)
{
    char duty[TS_KEY_MAX + 1] = "", format[8] = "json";
    static const char *const formats[] = {"json", "csv", NULL};
    uint32_t periods;
    ts_admin__q(j, "duty", duty, sizeof duty);
    if (!ts_admin__q_uint(j, "periods", 6, 36, &periods) || !ts_admin__q_enum(j, "format", formats, format, sizeof format))
        return;
    if (periods == 0)
        periods = 1;
    json_t *out;
    ts_error err;
    if (ts_calendar_grid(st, duty, periods, ts__only(j), j->now_ms, &out, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    if (strcmp(format, "csv") == 0) {
        ts__grid_csv(out, &j->text);
        json_decref(out);
        j->status = 200;
        j->text_type = "text/csv; charset=utf-8";
        snprintf(j->headers, sizeof j->headers, "Content-Disposition: attachment; filename=\"bao-cao-dinh-ky.csv\"\r\n");
        return;
    }
    ts_admin__ok(j, 200, out);
}

/* POST /api/calendar/duties {"id"?, "fields": {...}}: creates (no id) or
 * changes a duty, and generates its occurrences, in one transaction with
 * the audit entry. */
void ts_admin__api_calendar_duty_set(ts_admin__job *j, ts_store *st)
{
    const json_t *fields = json_object_get(j->body, "fields");
    const char *given = ts_admin__str(j->body, "id");
    if (!json_is_object(fields) || json_object_size(fields) == 0) {
        ts_admin__fail(j, 400, "BAD_REQUEST", "Cần các trường của việc (\"fields\") / \"fields\" is needed");
        return;
    }
    char id[TS_KEY_MAX + 1];
    json_t *merged = json_object();
    bool created = given[0] == '\0';
    ts_error err;
    if (created) {
        ts_new_record_id("LICH", id, sizeof id);
    } else {
        /* its occurrences are "<duty>:<period>" and a station's report
         * "<occurrence>:<station>": the id must leave room for both, and
         * be one word (it goes into paths and file names) */
        size_t n = strlen(given);
        bool word = n > 0 && n <= 64;
        for (size_t i = 0; word && i < n; i++)
            word = (given[i] >= 'A' && given[i] <= 'Z') || (given[i] >= 'a' && given[i] <= 'z') ||
                   (given[i] >= '0' && given[i] <= '9') || given[i] == '-' || given[i] == '_';
        if (!word) {
            json_decref(merged);
            ts_admin__fail(j, 422, "BAD_VALUE",
                           "Mã việc chỉ gồm chữ không dấu, số, - và _, tối đa 64 ký tự / a duty id is at most 64 "
                           "letters, digits, - and _");
            return;
        }
        snprintf(id, sizeof id, "%s", given);
        ts_change c;
        ts_arena arena;
        ts_arena_init(&arena, 4096);
        int grc = ts_store_get(st, "duties", id, &c, &arena, &err);
        if (grc == 0) {
            if (!ts_version_deleted(&c.v)) {
                json_t *r = ts_recjson_record(&c, false);
                json_object_update(merged, json_object_get(r, "fields"));
                json_decref(r);
            }
            ts_version_free(&c.v);
        }
        ts_arena_free(&arena);
        if (grc < 0 && err.code != TS_ENOT_FOUND) {
            json_decref(merged);
            ts_admin__fail_err(j, &err);
            return;
        }
        created = json_object_size(merged) == 0;
    }
    json_object_update(merged, (json_t *)fields);
    /* a new duty owes nothing of the periods already over: it applies from
     * today unless it says otherwise */
    json_t *write = json_deep_copy(fields);
    if (created && !json_object_get(write, "active_from")) {
        char today[16];
        ts_local_day(j->now_ms, today, sizeof today);
        json_object_set_new(write, "active_from", json_string(today));
    }
    /* the chair or person responsible: someone of the directory, by id or name */
    const char *who = ts_admin__str(write, "responsible_person");
    if (who[0]) {
        char person[TS_KEY_MAX + 1];
        if (ts_people_resolve(st, who, person, sizeof person, NULL, 0) < 0) {
            json_decref(merged);
            json_decref(write);
            ts_admin__fail(j, 422, "BAD_VALUE",
                           "Không có người này trong danh bạ đầu mối (hoặc nhiều người trùng tên) / responsible_person: "
                           "no such person (or several of that name) in the directory (people, station_people)");
            return;
        }
        json_object_set_new(write, "responsible_person", json_string(person));
    }
    char why[300];
    if (!ts_calendar_duty_ok(merged, why, sizeof why)) {
        json_decref(merged);
        json_decref(write);
        ts_admin__fail(j, 422, "BAD_VALUE", why);
        return;
    }
    json_decref(merged);
    ts_actor a = ts_admin__actor(j);
    size_t written = 0;
    int rc = ts_store_begin(st, &err);
    if (rc == 0)
        rc = ts_record_put_json(st, &a, "duties", id, write, &err);
    json_decref(write);
    if (rc == 0)
        rc = ts_calendar_generate(st, j->now_ms, &written, &err);
    /* its form may have changed: the reports are graded against it */
    size_t graded, invalid;
    if (rc == 0)
        rc = ts_calendar_grade(st, NULL, j->now_ms, &graded, &invalid, NULL, &err);
    if (rc == 0 && ts_admin__audit(j, st, created ? "calendar_duty_create" : "calendar_duty_change", "duties", id,
                                   "ok", NULL) < 0)
        rc = ts_error_set(&err, TS_ESTORAGE, "the audit entry could not be stored");
    if (rc == 0)
        rc = ts_store_commit(st, &err);
    else
        ts_store_rollback(st);
    if (rc < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    j->notify_all = true;
    ts_admin__set_event(j, "calendar", json_pack("{s:s}", "duty", id));
    ts_admin__ok(j, created ? 201 : 200, json_pack("{s:s,s:I}", "id", id, "occurrences", (json_int_t)written));
}

/* POST /api/calendar/occurrences/{id}/remind: a notice to every station of
 * the occurrence that has not sent a valid report (after the due day: the
 * late ones), audited. */
void ts_admin__api_calendar_remind(ts_admin__job *j, ts_store *st)
{
    const ts_server_config *cfg = ts_server_get_config(j->adm->srv);
    ts_actor a = ts_admin__actor(j);
    ts_cal_reminder r;
    memset(&r, 0, sizeof r);
    ts_error err;
    int rc = ts_store_begin(st, &err);
    if (rc == 0)
        rc = ts_calendar_remind_late(st, &a, cfg->district_name, j->params[0], j->now_ms, &r, &err);
    if (rc == 0 && r.stations.n == 0) {
        ts_store_rollback(st);
        ts_strlist_free(&r.stations);
        ts_admin__fail(j, 409, "NOTHING_TO_REMIND",
                       "Không có trạm nào chậm hoặc thiếu báo cáo kỳ này / no station is late with this report");
        return;
    }
    if (rc == 0) {
        char detail[64];
        snprintf(detail, sizeof detail, "%zu stations", r.stations.n);
        if (ts_admin__audit(j, st, "calendar_remind", "duty_occurrences", j->params[0], "ok", detail) < 0)
            rc = ts_error_set(&err, TS_ESTORAGE, "the audit entry could not be stored");
    }
    if (rc == 0)
        rc = ts_store_commit(st, &err);
    else
        ts_store_rollback(st);
    if (rc < 0) {
        ts_strlist_free(&r.stations);
        ts_admin__fail_err(j, &err);
        return;
    }
    ts_notice_log_sent(st, r.notice, r.stations.n, &a);
    ts_log_info("calendar_reminded", "occurrence=%s late=%s stations=%zu notice=%s", j->params[0], "manual",
                r.stations.n, r.notice);
    ts_admin__queue_notice_frames(j, st, r.notice, &r.stations);
    json_t *to = json_array();
    for (size_t i = 0; i < r.stations.n; i++)
        json_array_append_new(to, json_string(r.stations.v[i]));
    ts_admin__set_event(j, "notice", json_pack("{s:s,s:s}", "id", r.notice, "state", "sent"));
    ts_admin__ok(j, 201, json_pack("{s:s,s:s,s:o}", "occurrence", j->params[0], "notice", r.notice, "stations", to));
    ts_strlist_free(&r.stations);
}
