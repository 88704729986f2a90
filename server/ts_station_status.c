#include <sqlite3.h>

#include "server/ts_station_status.h"

int ts_station_status_hello(ts_store *st, const ts_station_hello *h, ts_error *err)
{
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    /* last_sync survives reconnection: it is about the data, not the link */
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO station_status(station, replica, agent, peer, connected_at, last_seen,"
                           " clock_skew_ms, cert_serial, cert_not_after, commune)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9)"
                           " ON CONFLICT(station) DO UPDATE SET replica = excluded.replica, agent = excluded.agent,"
                           " peer = excluded.peer, connected_at = excluded.connected_at,"
                           " last_seen = max(coalesce(last_seen, 0), excluded.last_seen),"
                           " clock_skew_ms = excluded.clock_skew_ms, cert_serial = excluded.cert_serial,"
                           " cert_not_after = excluded.cert_not_after, commune = excluded.commune",
                           -1, &q, NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "station status: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(q, 1, h->station, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, h->replica, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, h->agent ? h->agent : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, h->peer, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, (sqlite3_int64)h->connected_at);
    sqlite3_bind_int64(q, 6, h->clock_skew_ms);
    sqlite3_bind_text(q, 7, h->cert_serial, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 8, h->cert_not_after);
    sqlite3_bind_text(q, 9, h->commune, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : ts_error_set(err, TS_ESTORAGE, "station status: %s", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return rc;
}

int ts_station_status_seen(ts_store *st, const char *station, uint64_t last_seen, uint64_t last_sync, ts_error *err)
{
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO station_status(station, last_seen, last_sync) VALUES (?1, ?2, nullif(?3, 0))"
                           " ON CONFLICT(station) DO UPDATE SET"
                           " last_seen = max(coalesce(last_seen, 0), excluded.last_seen),"
                           " last_sync = max(coalesce(last_sync, 0), coalesce(excluded.last_sync, 0))",
                           -1, &q, NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "station status: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(q, 1, station, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)last_seen);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)last_sync);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : ts_error_set(err, TS_ESTORAGE, "station status: %s", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return rc;
}
