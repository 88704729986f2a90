/* Helpers for tests that drive stores: open server/station stores in a
 * temporary directory, build values, move change sets between them. */
#ifndef TS_TEST_STORE_H
#define TS_TEST_STORE_H

#include <jansson.h>

#include "common/ts_registry.h"
#include "common/ts_store.h"

/* The default registry, loaded once per process. */
const ts_registry *ts_test_registry(void);

/* Opens (creating) a store file dir/name. station: the station code (or
 * NULL for the server). Fails the test on error. */
ts_store *ts_test_open(const char *dir, const char *name, ts_store_role role, const char *station,
                       const ts_registry *reg);

/* Writes fields given as "name=value" strings: value parsed as int when it
 * is all digits, true/false as bool, otherwise text. NULL-terminated list. */
int ts_test_put(ts_store *st, const char *table, const char *id, const char *owner, ts_error *err, ...);

/* Pushes everything pending at station `sta` to `srv` as station `code`;
 * returns the number of changes moved; asserts no rejection unless allow_reject. */
size_t ts_test_push(ts_store *sta, ts_store *srv, const char *code, bool allow_reject);
/* Pulls everything visible to `code` from srv into sta (cursor kept in sta's meta). */
size_t ts_test_pull(ts_store *srv, ts_store *sta, const char *code);

/* The first column of the first row of `sql` on the database file dir/name,
 * opened read-only (beside a running daemon: WAL lets it read); -1 when it
 * cannot be read. */
long ts_test_sql_count(const char *dir, const char *name, const char *sql);

/* A record's fields as JSON (a new reference), NULL when st does not have it. */
json_t *ts_test_record_fields(ts_store *st, const char *table, const char *id);

#endif
