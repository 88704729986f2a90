/* What the admin layer may ask of the sync sessions, on the loop thread:
 * who is connected, and frames to send a station at once. */
#include <string.h>

#include "common/ts_xmalloc.h"
#include "server/ts_server_api.h"
#include "server/ts_server_int.h"

bool ts_server_send_frame(ts_server *srv, const char *station, const uint8_t *frame, size_t len)
{
    for (ts_session *s = srv->sessions; s; s = s->next) {
        if (s->state == TS_SESS_READY && strcmp(s->station, station) == 0 && !s->conn.closing) {
            if (ts_conn_write(&s->conn, frame, len) == 0) {
                srv->stats.frames_out++;
                srv->stats.notices_sent++;
                return true;
            }
        }
    }
    return false;
}

size_t ts_server_live_stations(ts_server *srv, ts_live_station **out)
{
    size_t n = 0, cap = 0;
    *out = NULL;
    for (ts_session *s = srv->sessions; s; s = s->next) {
        if (s->state != TS_SESS_READY)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            *out = ts_xreallocarray(*out, cap, sizeof **out);
        }
        ts_live_station *l = &(*out)[n++];
        memset(l, 0, sizeof *l);
        snprintf(l->station, sizeof l->station, "%s", s->station);
        snprintf(l->peer, sizeof l->peer, "%s", s->conn.peer_addr);
        snprintf(l->replica, sizeof l->replica, "%s", s->replica.b);
        snprintf(l->serial, sizeof l->serial, "%s", s->serial);
        l->connected_ms = s->connected_ms;
        l->last_sync_ms = s->last_sync_ms;
        snprintf(l->agent, sizeof l->agent, "%s", s->agent);
        l->cert_not_after = s->conn.tls.peer.not_after;
        l->queued = ts_conn_queued(&s->conn);
        l->live = s->live;
    }
    return n;
}

ts_store *ts_server_store(ts_server *srv)
{
    return srv->store;
}

ts_dbq *ts_server_dbq(ts_server *srv)
{
    return &srv->dbq;
}

const ts_server_config *ts_server_get_config(ts_server *srv)
{
    return &srv->cfg;
}

const ts_registry *ts_server_registry(ts_server *srv)
{
    return &srv->reg;
}

uv_loop_t *ts_server_loop(ts_server *srv)
{
    return srv->loop;
}

const char *ts_server_db_id(ts_server *srv)
{
    return srv->db_id;
}
