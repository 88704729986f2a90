/* The sync side as the admin side sees it (loop thread only). */
#ifndef TS_SERVER_API_H
#define TS_SERVER_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/ts_server.h"

typedef struct ts_live_station {
    char station[TS_KEY_MAX + 1];
    char peer[64];
    char replica[TS_RID_MAX + 1];
    char serial[48];
    uint64_t connected_ms;
    uint64_t last_sync_ms; /* 0: not yet in this session */
    char agent[64];
    int64_t cert_not_after;
    size_t queued;
    bool live;
} ts_live_station;

/* Sends an encoded NOTICE frame to a connected station now (ahead of whatever bulk
 * traffic is produced after it); false when it is not connected. */
bool ts_server_send_frame(ts_server *srv, const char *station, const uint8_t *frame, size_t len);
/* New versions visible to `station` (NULL: every station) were committed:
 * live sessions get them at once. */
void ts_server_notify(ts_server *srv, const char *station);
/* Stations connected now (caller frees). */
size_t ts_server_live_stations(ts_server *srv, ts_live_station **out);
ts_store *ts_server_store(ts_server *srv);
ts_dbq *ts_server_dbq(ts_server *srv);
const ts_server_config *ts_server_get_config(ts_server *srv);
const ts_registry *ts_server_registry(ts_server *srv);
uv_loop_t *ts_server_loop(ts_server *srv);
const char *ts_server_db_id(ts_server *srv);

#endif
