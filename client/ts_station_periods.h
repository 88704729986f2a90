/* A recurring plan task's progress at the station, period by period (issue
 * 18): `tramsync progress TASK --period P` writes this station's
 * task_progress record of that period, which syncs to the district. */
#ifndef TS_STATION_PERIODS_H
#define TS_STATION_PERIODS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/ts_period.h"
#include "common/ts_store.h"

/* Whether task_id is a recurring plan task (and in which unit); false for a
 * notice, a task that does not recur, or an unknown id. */
bool ts_station_task_recurring(ts_store *st, const char *task_id, ts_period_unit *unit);

/* Records this station's progress of a recurring task for period (NULL or
 * "": the period holding today, the district's day): state "in_progress"
 * (percent, note) or "done" (a short report needed; percent 100 unless
 * given). percent < 0: not given. A period of another unit, or one not begun
 * yet, is refused, as is taking back a period already done. The
 * assignment's own state moves to in_progress when it is behind (never to
 * done: the task recurs). period_out gets the period written. Errors in
 * Vietnamese, or English when en. */
int ts_station_period_progress(ts_store *st, const char *task_id, const char *period, const char *state, int percent,
                               const char *by, const char *note, const char *report, bool en, char *period_out,
                               size_t period_size, ts_error *err);

#endif
