/* The directory of focal points (issue 18, "rõ người"): `people` (the
 * district's: TTYT and the communes' UBNDs) and `station_people` (each
 * station's own staff), the same fields in both. Responsibilities and
 * acknowledgements name a person by record id; these find one and say who
 * it is, on the district's store and on a station's alike. */
#ifndef TS_PEOPLE_H
#define TS_PEOPLE_H

#include <stddef.h>

#include "common/ts_store.h"

/* A person by record id (people first, then station_people) or, failing
 * that, by full name (exactly, letter case aside for ASCII): 0 with its id
 * and "Name (Position)" label (either buffer may be NULL); -1 when no one,
 * -2 when several people bear that name (the id must be given). */
int ts_people_resolve(ts_store *st, const char *key, char *id, size_t id_size, char *label, size_t label_size);
/* The current person at `station` tagged with `role` (roles list): its
 * station_people entry (owned by the station) active on day (YYYY-MM-DD),
 * else a `people` entry whose station is it. 0 with id and label, -1 when
 * no one. */
int ts_people_current(ts_store *st, const char *station, const char *role, const char *day, char *id,
                      size_t id_size, char *label, size_t label_size);

#endif
