/* The station's days are the district's: which zone, and making it the
 * process's (client/ts_station_day.h). */
#include "client/ts_station_day.h"

#include <stdio.h>
#include <string.h>

#include "common/ts_error.h"
#include "common/ts_notice.h"

ts_station_tz_source ts_station_tz(const char *configured, ts_store *st, char *out, size_t size)
{
    if (configured != NULL && configured[0] != '\0') {
        snprintf(out, size, "%s", configured);
        return TS_STATION_TZ_CONFIG;
    }
    char said[128];
    if (st != NULL && ts_store_meta_get(st, TS_STATION_TZ_META, said, sizeof said) == 0 && ts_tz_valid(said)) {
        snprintf(out, size, "%s", said);
        return TS_STATION_TZ_DISTRICT;
    }
    snprintf(out, size, "%s", TS_STATION_TZ_DEFAULT);
    return TS_STATION_TZ_BUILTIN;
}

void ts_station_tz_apply(const char *configured, ts_store *st)
{
    char tz[128];
    ts_station_tz(configured, st, tz, sizeof tz);
    if (!ts_tz_valid(tz) && strcmp(tz, TS_STATION_TZ_DEFAULT) == 0)
        snprintf(tz, sizeof tz, "%s", "<+07>-7"); /* POSIX: UTC+7, no zone file needed */
    ts_district_tz_apply(tz);
}

int ts_station_tz_keep(ts_store *st, const char *said)
{
    if (said == NULL || said[0] == '\0' || !ts_tz_valid(said))
        return 0;
    char kept[128];
    if (ts_store_meta_get(st, TS_STATION_TZ_META, kept, sizeof kept) == 0 && strcmp(kept, said) == 0)
        return 0;
    return ts_store_meta_set(st, TS_STATION_TZ_META, said) < 0 ? TS_ESTORAGE : 1;
}
