/* Resident records for benchmarks and tests: the same records everywhere
 * (bench_sync, bench_link, the link tests), written the way the agent's CLI
 * writes them (ts_store_put), so a station holds them pending and a district
 * holds them as its own. */
#ifndef TS_TEST_RECORDS_H
#define TS_TEST_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ts_registry.h"
#include "common/ts_store.h"

#define TS_TEST_NFIELDS 10
#define TS_TEST_FIELD_MAX 160

/* The fields of resident i of a commune: ~200 bytes of values, varied (see the .c). */
void ts_test_resident(uint32_t i, const char *commune, char vals[TS_TEST_NFIELDS][TS_TEST_FIELD_MAX],
                      const char *names[TS_TEST_NFIELDS]);

/* Opens (or creates) a store; fails the run when it cannot. */
ts_store *ts_test_store_open(const char *path, ts_store_role role, const char *station, const ts_registry *reg,
                             bool create, bool read_only);

/* Writes n residents (ids <prefix>-<i>) owned by `owner` in transactions of
 * `tx_rows`: station stores make them pending, the server store makes them
 * the district's. */
void ts_test_fill(ts_store *st, const char *owner, const char *prefix, const char *commune, uint32_t n,
                  uint32_t tx_rows);

#endif
