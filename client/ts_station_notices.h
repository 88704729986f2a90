/* Notices and tasks as a station handles them: marking what arrived as
 * delivered, acknowledging by name, reporting progress and completion, and
 * sending reports up to the district. State changes follow the rules of
 * common/ts_notice.h, so the district never sees an impossible move. */
#ifndef TS_STATION_NOTICES_H
#define TS_STATION_NOTICES_H

#include <jansson.h>

#include "common/ts_store.h"

/* Every notice or task handling record here still "sent" becomes
 * "delivered" (with delivered_at). */
int ts_station_mark_delivered(ts_store *st, size_t *marked, ts_error *err);
/* Notices addressed here with their handling state, unread (not yet
 * acknowledged) first, most urgent first; `all` includes finished ones. */
int ts_station_notices(ts_store *st, bool all, json_t **out, ts_error *err);
/* One notice or task with its handling record. */
int ts_station_show(ts_store *st, const char *id, json_t **out, ts_error *err);
/* Moves the handling of a notice or task to `state`; by names the person
 * (required to acknowledge), note/report go with progress and done, reason
 * is needed to go back from done. */
int ts_station_transition(ts_store *st, const char *id, const char *state, const char *by, const char *note,
                          const char *report, const char *reason, ts_error *err);
/* Tasks assigned here. */
int ts_station_tasks(ts_store *st, json_t **out, ts_error *err);
/* A report to the district (the `reports` table); fields as JSON. */
int ts_station_report(ts_store *st, const json_t *fields, char *id_out, size_t id_size, ts_error *err);

#endif
