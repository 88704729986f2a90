/* The calendar on the district store (issue 18): recurring duties (`duties`)
 * become one `duty_occurrences` record per period, stations' periodic
 * reports (`periodic_reports`) are judged against their duty's form and due
 * date, the completeness grid (station x period) is built from them, and
 * stations are reminded by notices. Every function runs on the store's
 * thread (a DB job) and takes "now" as a parameter, so tests set the clock;
 * the days are the district's local days (ts_local_day: the daemon runs in
 * [district] timezone). Pure period arithmetic: common/ts_calendar.h. */
#ifndef TS_CALENDAR_SERVER_H
#define TS_CALENDAR_SERVER_H

#include <stdint.h>

#include <jansson.h>

#include "common/ts_store.h"
#include "server/ts_notices.h"

/* Writes the occurrences of every live duty for the two periods before,
 * the current and the next period at now (a one-off duty: its one date), within the
 * duty's active_from .. active_to; fields already as generated are not
 * written again (idempotent), and a period already over is never rewritten. *written: records written. In the caller's
 * transaction when there is one. */
int ts_calendar_generate(ts_store *st, uint64_t now_ms, size_t *written, ts_error *err);

/* Grades every station's periodic report (ids: only those, by record id;
 * NULL: all) of an occurrence that asks it of that station, as the grid
 * judges it (on_time, late, invalid), and writes the grade on the report
 * (grade; grade_problems: the problems as JSON for invalid; graded_submission:
 * its submitted_at; graded_at: now), which syncs back to the station. Only a
 * report whose grade, problems or submission changed is written. *written:
 * reports written, *invalid: of them, graded invalid; stations (NULL: not
 * wanted) gets their owners. In the caller's transaction when there is one. */
int ts_calendar_grade(ts_store *st, const ts_strlist *ids, uint64_t now_ms, size_t *written, size_t *invalid,
                      ts_strlist *stations, ts_error *err);

/* One notice a reminder sent: its id and the stations it went to. */
typedef struct ts_cal_reminder {
    char notice[64];
    ts_strlist stations;
} ts_cal_reminder;

void ts_cal_reminders_free(ts_cal_reminder *r, size_t n);

/* The daemon's reminders at now, each sent once per occurrence: a report's
 * stations without a valid report from remind_days (default 2) before the
 * due day to the due day, and again once it is late (within 7 days of
 * the due day: an occurrence made long after its due day is not announced as late); a meeting's or review's stations the day before it (remind_days,
 * default 1). Each is a notice from issuer (the TTYT's name); the occurrence
 * records when (reminded_before_at, reminded_late_at). */
int ts_calendar_remind(ts_store *st, const char *issuer, uint64_t now_ms, ts_cal_reminder **out, size_t *n,
                       ts_error *err);

/* What the daemon's calendar run did (ts_calendar_run). */
typedef struct ts_cal_run {
    ts_cal_reminder *reminders;
    size_t nreminders;
    size_t graded, invalid;     /* reports whose grade was written; of them, invalid */
    ts_strlist graded_stations; /* their stations */
    bool more;                  /* grades left to write (max_grades): run again soon */
} ts_cal_run;

/* The most grades the daemon's calendar run writes at once: the first run
 * after an upgrade that began grading (or a change of the grading) grades
 * every report of the last year or so; that many at a time, the latest
 * periods' first, and the daemon runs again a few seconds later for the
 * rest (nothing is lost: a grade not written is written by a later run). */
#define TS_CAL_GRADE_MAX 1000

void ts_cal_run_free(ts_cal_run *run);

/* The daemon's calendar run after ts_calendar_generate (at start, each
 * local midnight, every quarter of an hour): ts_calendar_remind, then
 * ts_calendar_grade of every report (ids NULL) but writing at most
 * max_grades grades (0: no bound; the latest periods' first, run->more when
 * some were left), on one read of the duties, the directory, the
 * occurrences and their reports: each report is read once. A reminder's
 * failure does not keep the reports from being graded; the first error is
 * returned. Free run with ts_cal_run_free. */
int ts_calendar_run(ts_store *st, const char *issuer, uint64_t now_ms, size_t max_grades, ts_cal_run *run,
                    ts_error *err);

/* "Remind the late ones in one step": a notice to every station of the
 * occurrence whose report is missing or invalid after the due day (before
 * it: not yet submitted). *out gets the notice and its stations; 0 stations:
 * nothing was written. TS_ENOT_FOUND for an unknown occurrence,
 * TS_EBAD_VALUE for a meeting. In the caller's transaction. */
int ts_calendar_remind_late(ts_store *st, const ts_actor *who, const char *issuer, const char *occurrence_id,
                            uint64_t now_ms, ts_cal_reminder *out, ts_error *err);

/* The completeness grid: for duty_id (NULL: every periodic-report duty) its
 * last `periods` occurrences up to now, each station's status per period
 * (on_time, late, missing, pending: not yet due, invalid: received but not
 * fitting the form, not_owed) and per period the counts, the reporting rate
 * (received / expected, %) and timeliness (on time / expected, %). only:
 * the stations to show (NULL: all). */
int ts_calendar_grid(ts_store *st, const char *duty_id, uint32_t periods, const ts_strlist *only, uint64_t now_ms,
                     json_t **out, ts_error *err);

/* The calendar page: live duties and the occurrences from 45 days back on,
 * soonest first, a report's with its received/expected counts. only: as
 * above (occurrences of other stations only are left out, station lists
 * cut). */
int ts_calendar_overview(ts_store *st, const ts_strlist *only, uint64_t now_ms, json_t **out, ts_error *err);

/* Checks a duty's fields as the admin API receives them (kind, recurrence,
 * form, the meeting's or one-off's day); false with why (Vietnamese / English). */
bool ts_calendar_duty_ok(const json_t *fields, char *why, size_t why_size);

#endif
