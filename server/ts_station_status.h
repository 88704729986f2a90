/* What sessions tell the district about each station, kept in the
 * station_status table for the console ("which station is silent", clock
 * skew, certificate expiry). Runs on the store's thread (a DB job). */
#ifndef TS_STATION_STATUS_H
#define TS_STATION_STATUS_H

#include <stdint.h>

#include "common/ts_store.h"

typedef struct ts_station_hello {
    const char *station;
    const char *replica;
    const char *agent;
    const char *peer;
    const char *commune;
    const char *cert_serial;
    int64_t cert_not_after; /* Unix seconds */
    uint64_t connected_at;  /* ms */
    int64_t clock_skew_ms;  /* station clock minus district clock */
} ts_station_hello;

/* A session finished HELLO: everything about the connection, seen now. */
int ts_station_status_hello(ts_store *st, const ts_station_hello *h, ts_error *err);
/* The station was last seen at last_seen (ms); last_sync, when not 0, is the
 * last time it pushed or caught up. Only moves times forward. */
int ts_station_status_seen(ts_store *st, const char *station, uint64_t last_seen, uint64_t last_sync, ts_error *err);

#endif
