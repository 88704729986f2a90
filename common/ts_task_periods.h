/* A recurring plan task's progress period by period (issue 18): instead of
 * one "done" for a task done every year (quarter, month), each assigned
 * station reports each period (task_progress records), and the district
 * reads a row per period: done, in progress, not reported, or overdue once
 * the period is over and not done - whatever an earlier period did. The
 * district reads every station's, a station its own, each in its local day. */
#ifndef TS_TASK_PERIODS_H
#define TS_TASK_PERIODS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/ts_store.h"

/* For the task as ts_task_show answers it ({"id", "fields", "assignments"}):
 * NULL when the task does not recur; else {"unit", "current", "stations":
 * [{"station", "rows": [{"period", "label_vi", "label_en", "status",
 * "percent", "progress_note", "report", "done_at", "progress_at",
 * "updated_by"}], "counts": {status: n}}]}, a station's rows from the task's
 * first period (January of recurring_from, else the period it was assigned
 * in) to the district's current one at now_ms, newest first, at most 120. */
json_t *ts_task_periods(ts_store *st, const json_t *task, uint64_t now_ms);
/* A station's standing in that answer, as the task lists and the exports
 * count it: its current period done, that period's percent (100 when done),
 * and whether any period of it is overdue. All false/0 for a station that
 * has no rows. */
void ts_task_periods_standing(const json_t *periods, const char *station, bool *done, long long *percent,
                              bool *overdue);
/* A station's rows and counts in that answer (NULL when it has none). */
const json_t *ts_task_periods_rows(const json_t *periods, const char *station);
const json_t *ts_task_periods_counts(const json_t *periods, const char *station);

#endif
