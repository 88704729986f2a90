/* The station's days are the district's (docs/STATION.md, "Which day"): a
 * report due on the 5th is late from the district's midnight, whatever time
 * zone the station's PC is set to. The zone is, first to last:
 *
 *  - [district] timezone of the station's configuration, when set;
 *  - the district's own, said in its last WELCOME and kept in the station's
 *    store (meta "district_timezone"), so commands run offline use it too;
 *  - Asia/Ho_Chi_Minh, before the first WELCOME.
 *
 * The commands and the agent are single-threaded when they start: they make
 * it the process's TZ once, before anything else (ts_district_tz_apply), and
 * every helper that turns a time into a day (ts_local_day, ts_text_date,
 * localtime) then speaks the district's day. A running agent makes it so
 * again when a WELCOME says a zone other than the one kept (no other thread
 * is busy then). */
#ifndef TS_STATION_DAY_H
#define TS_STATION_DAY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/ts_store.h"

#define TS_STATION_TZ_DEFAULT "Asia/Ho_Chi_Minh"
/* the station store's meta key holding the zone the district said */
#define TS_STATION_TZ_META "district_timezone"

typedef enum ts_station_tz_source {
    TS_STATION_TZ_CONFIG = 0, /* [district] timezone of the station's configuration */
    TS_STATION_TZ_DISTRICT,   /* said by the district (WELCOME), kept in meta */
    TS_STATION_TZ_BUILTIN     /* Asia/Ho_Chi_Minh: the district has not said yet */
} ts_station_tz_source;

/* The station's zone (see above) into out; configured may be NULL or "".
 * A zone the district said that this machine's tz database lacks is passed
 * over. Returns where it came from. */
ts_station_tz_source ts_station_tz(const char *configured, ts_store *st, char *out, size_t size);

/* Makes the station's zone the process's TZ. Call when no other thread is
 * busy (at start; the agent: before its loop runs, and when WELCOME changed
 * the zone kept). Asia/Ho_Chi_Minh without a tz database on the machine is
 * the fixed UTC+7 it has been since 1975. */
void ts_station_tz_apply(const char *configured, ts_store *st);

/* What the agent does with WELCOME.timezone: keeps it in meta when it is a
 * zone name this machine knows and differs from what is kept. Returns 1
 * when it changed what was kept, 0 when nothing was to be done, < 0 when the
 * store could not write it. */
int ts_station_tz_keep(ts_store *st, const char *said);

#endif
