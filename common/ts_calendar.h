/* The calendar's arithmetic (issue 18): civil dates, the periods of a
 * recurring duty (weeks, months, quarters, halves, years), due dates and
 * meeting days, and a periodic report's form. Pure: no clock, no time zone,
 * no store; the caller turns "now" into the district's local day
 * (ts_local_day) first, so every boundary is the district's. */
#ifndef TS_CALENDAR_H
#define TS_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef enum ts_recurrence {
    TS_REC_WEEKLY = 0,
    TS_REC_MONTHLY,
    TS_REC_QUARTERLY,
    TS_REC_HALF_YEARLY,
    TS_REC_YEARLY,
    TS_REC_ONCE
} ts_recurrence;

/* The registry's code ("monthly") as a ts_recurrence; -1 when unknown. */
int ts_recurrence_parse(const char *code);

typedef struct ts_date {
    int y, m, d;
} ts_date;

/* "YYYY-MM-DD" (a real day) into *out. */
bool ts_date_parse(const char *s, ts_date *out);
/* "YYYY-MM-DD" (out: at least 11 bytes). */
void ts_date_fmt(ts_date d, char *out, size_t size);
/* Days since 1970-01-01 (proleptic Gregorian; negative before it), and back. */
long ts_date_days(ts_date d);
ts_date ts_date_from_days(long z);
ts_date ts_date_add_days(ts_date d, int days);
int ts_date_cmp(ts_date a, ts_date b);
/* 1 Monday … 7 Sunday. */
int ts_date_weekday(ts_date d);
int ts_month_days(int y, int m);

typedef struct ts_period {
    char key[40]; /* 2026-11, 2026-Q4, 2026-H2, 2026, 2026-W49 (ISO), or the date (once) */
    ts_date start, end;
} ts_period;

/* The period of recurrence rec that holds day (not TS_REC_ONCE). */
bool ts_period_of(int rec, ts_date day, ts_period *out);
/* The one period of a one-off duty: its date. */
void ts_period_once(ts_date day, ts_period *out);
/* The period after (before) p. */
bool ts_period_next(int rec, const ts_period *p, ts_period *out);
bool ts_period_prev(int rec, const ts_period *p, ts_period *out);
/* The last day a report of period p is on time: due_days after its end. */
ts_date ts_period_due(const ts_period *p, int due_days);
/* A meeting's day in period p: its weekday (1-7, weekly), else its day of the
 * period's first month (clamped to the month; 0: the period's first day). */
ts_date ts_period_meeting_day(int rec, const ts_period *p, int weekday, int day);

/* A duty's form: a JSON array of {"name", "label_vi", "label_en", "type"
 * (int, real, text, date, bool), "required"}, names [a-z0-9_] and unique.
 * false with why (English) when it is not. */
bool ts_form_valid(const json_t *form, char *why, size_t why_size);
/* What is wrong with a report's values (a JSON object) under form: an array
 * of {"field", "label_vi", "label_en", "problem"} with problem "required"
 * (a required field is missing), "type" (not of its type), "unknown" (no
 * such field in the form); empty when they fit. values NULL or not an
 * object: one problem "not_object". */
json_t *ts_form_problems(const json_t *form, const json_t *values);
/* A problem code in words (Vietnamese, or English when en). */
const char *ts_form_problem_text(const char *problem, bool en);
/* A value given as text on a command line or in a file ("312", "true")
 * as the JSON value of the form field's type; NULL when it is not one. */
json_t *ts_form_value_from_text(const json_t *field, const char *text);
/* The form's field named name, or NULL. */
const json_t *ts_form_field(const json_t *form, const char *name);

/* A station's periodic report for one period, as the district judges it
 * (the completeness grid's cells, the grade it writes on the report) and as
 * the station shows it: on_time, late, missing (not sent, due day passed),
 * pending (not sent, not yet due), invalid (sent, does not fit the form),
 * not_owed. The one table of their words, for the admin API's CSV,
 * tramsyncctl and tramsync alike: TS_REPORT_STATUSES codes, in that order. */
#define TS_REPORT_STATUSES 6
extern const char *const ts_report_status_codes[TS_REPORT_STATUSES];
/* A status in words (Vietnamese, or English when en); the code itself when
 * it is not one. The grade's value_labels in tables.json are these words
 * (unit test_calendar checks). */
const char *ts_report_status_label(const char *status, bool en);

#endif
