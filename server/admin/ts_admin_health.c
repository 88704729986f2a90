/* What monitoring reads: a health check that needs no login, and the
 * Prometheus metrics of the sync side, the store and the stations, so an
 * operator can alert on them without the console. */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/ts_notice.h"
#include "common/ts_version.h"
#include "common/ts_xmalloc.h"
#include "server/admin/ts_admin_int.h"

void ts_admin__api_health(ts_admin__job *j, ts_store *st)
{
    ts_admin__ok(j, 200,
                 json_pack("{s:s,s:s,s:s,s:I}", "status", "ok", "version", TS_VERSION, "db_id", ts_store_db_id(st),
                           "uptime_s", (json_int_t)((j->now_ms - j->adm->started_ms) / 1000)));
}

/* ---------------------------------------------------------------- metrics */

static void ts__metric(ts_buf *b, const char *name, const char *type, const char *help, const char *labels,
                       double value)
{
    if (help)
        ts_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    ts_buf_printf(b, "%s%s%s%s %.17g\n", name, labels ? "{" : "", labels ? labels : "", labels ? "}" : "", value);
}

static int ts__live_cmp(const void *a, const void *b)
{
    return strcmp(((const ts_live_station *)a)->station, ((const ts_live_station *)b)->station);
}

/* When each station was last seen and last synced, as Unix times (alert on
 * time() - tramsync_station_last_seen_timestamp_seconds): what sessions
 * stored, with the connected stations seen now. */
static void ts__station_times(ts_admin__job *j, ts_store *st, ts_buf *b)
{
    ts_live_station *live = j->nlive ? ts_xmemdup(j->live, j->nlive * sizeof *live) : NULL;
    if (j->nlive > 1)
        qsort(live, j->nlive, sizeof *live, ts__live_cmp);
    ts_buf seen = TS_BUF_INIT, sync = TS_BUF_INIT;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st), "SELECT station, last_seen, last_sync FROM station_status", -1, &q,
                           NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            ts_live_station key;
            memset(&key, 0, sizeof key);
            snprintf(key.station, sizeof key.station, "%s", (const char *)sqlite3_column_text(q, 0));
            const ts_live_station *l = j->nlive ? bsearch(&key, live, j->nlive, sizeof *live, ts__live_cmp) : NULL;
            int64_t last_seen = l ? (int64_t)j->now_ms : sqlite3_column_int64(q, 1);
            int64_t last_sync = sqlite3_column_int64(q, 2);
            if (l && (int64_t)l->last_sync_ms > last_sync)
                last_sync = (int64_t)l->last_sync_ms;
            char labels[200];
            snprintf(labels, sizeof labels, "station=\"%s\"", key.station);
            ts__metric(&seen, "tramsync_station_last_seen_timestamp_seconds", "gauge",
                       seen.len ? NULL : "When each station was last connected (Unix time; now when it is).", labels,
                       (double)(last_seen / 1000));
            if (last_sync > 0)
                ts__metric(&sync, "tramsync_station_last_sync_timestamp_seconds", "gauge",
                           sync.len ? NULL : "When each station last pushed or caught up (Unix time).", labels,
                           (double)(last_sync / 1000));
        }
        sqlite3_finalize(q);
    }
    ts_buf_append(b, seen.data, seen.len);
    ts_buf_append(b, sync.data, sync.len);
    ts_buf_free(&seen);
    ts_buf_free(&sync);
    free(live);
}

void ts_admin__api_metrics(ts_admin__job *j, ts_store *st)
{
    ts_buf *b = &j->text;
    const ts_server_stats *s = &j->stats;
    ts__metric(b, "tramsync_connections", "gauge", "Open station connections.", NULL, (double)s->connections);
    ts__metric(b, "tramsync_sessions", "gauge", "Stations past HELLO.", NULL, (double)s->sessions);
    ts__metric(b, "tramsync_handshakes_total", "counter", "TLS handshakes by result.", "result=\"ok\"",
               (double)s->handshakes_ok);
    ts__metric(b, "tramsync_handshakes_total", "counter", NULL, "result=\"failed\"", (double)s->handshakes_failed);
    for (int r = 1; r < TS_REFUSED_COUNT; r++) {
        char label[48];
        snprintf(label, sizeof label, "reason=\"%s\"", ts_refused_name(r));
        ts__metric(b, "tramsync_connections_refused_by_reason_total", "counter",
                   r == 1 ? "Connections refused before HELLO, by reason." : NULL, label, (double)s->refused[r]);
    }
    ts__metric(b, "tramsync_connections_refused_total", "counter", "Connections refused (limit or draining).", NULL,
               (double)s->rejected_busy);
    ts__metric(b, "tramsync_changes_total", "counter", "Changes received and sent.", "direction=\"in\"",
               (double)s->changes_in);
    ts__metric(b, "tramsync_changes_total", "counter", NULL, "direction=\"out\"", (double)s->changes_out);
    ts__metric(b, "tramsync_changes_rejected_total", "counter", "Changes refused.", NULL, (double)s->changes_rejected);
    ts__metric(b, "tramsync_bytes_total", "counter", "Bytes on the wire, TLS included.", "direction=\"in\"",
               (double)s->bytes_in);
    ts__metric(b, "tramsync_bytes_total", "counter", NULL, "direction=\"out\"", (double)s->bytes_out);
    ts__metric(b, "tramsync_frames_total", "counter", "Frames.", "direction=\"in\"", (double)s->frames_in);
    ts__metric(b, "tramsync_frames_total", "counter", NULL, "direction=\"out\"", (double)s->frames_out);
    ts__metric(b, "tramsync_protocol_errors_total", "counter", "Malformed or refused frames.", NULL,
               (double)s->protocol_errors);
    ts__metric(b, "tramsync_rate_limited_total", "counter", "Times a station was slowed down.", NULL,
               (double)s->rate_limited);
    ts__metric(b, "tramsync_conflicts_total", "counter", "True conflicts logged by pushes.", NULL, (double)s->conflicts);
    ts__metric(b, "tramsync_notice_frames_total", "counter", "NOTICE frames sent and acknowledged by stations.",
               "event=\"sent\"", (double)s->notices_sent);
    ts__metric(b, "tramsync_notice_frames_total", "counter", NULL, "event=\"acked\"", (double)s->notices_acked);
    uint64_t open = 0;
    ts_store_conflict_count(st, true, &open);
    ts__metric(b, "tramsync_conflicts_open", "gauge", "Conflicts waiting for review.", NULL, (double)open);
    ts__metric(b, "tramsync_loop_lag_ms", "gauge", "Event loop lag over the last minute.", "quantile=\"0.5\"",
               (double)s->loop_lag_ms_p50);
    ts__metric(b, "tramsync_loop_lag_ms", "gauge", NULL, "quantile=\"0.99\"", (double)s->loop_lag_ms_p99);
    ts__metric(b, "tramsync_loop_lag_ms_max", "gauge", "Largest loop lag seen.", NULL, (double)s->loop_lag_ms_max);
    ts__metric(b, "tramsync_connection_buffer_bytes", "gauge", "Bytes held in connection buffers.", NULL,
               (double)s->memory_buffers);
    ts__metric(b, "tramsync_frame_budget_bytes", "gauge", "Bytes of [server] frame_budget held by frames being read.",
               NULL, (double)s->frame_budget_used);
    ts__metric(b, "tramsync_frame_budget_waits_total", "counter", "Frames that waited for the frame budget.", NULL,
               (double)s->frame_budget_waits);
    ts__metric(b, "tramsync_timeouts_total", "counter", "Connections closed for being too slow.", "what=\"hello\"",
               (double)s->hello_timeouts);
    ts__metric(b, "tramsync_timeouts_total", "counter", NULL, "what=\"frame\"", (double)s->frame_timeouts);
    ts__metric(b, "tramsync_station_connection_limit_total", "counter",
               "Connections closed by [server] max_station_connections.", NULL, (double)s->station_conn_limited);
    int64_t pages = ts_admin__scalar(st, "PRAGMA page_count"), page_size = ts_admin__scalar(st, "PRAGMA page_size");
    ts__metric(b, "tramsync_db_bytes", "gauge", "Size of the district database.", NULL, (double)(pages * page_size));
    ts__metric(b, "tramsync_records", "gauge", "Live records.", NULL,
               (double)ts_admin__records_count(j->adm, st, j->now_ms));
    ts__metric(b, "tramsync_last_seq", "gauge", "Highest sequence number given.", NULL, (double)ts_store_last_seq(st));
    ts_admin__flagged x;
    ts_admin__flags(j->adm, st, &x);
    ts__metric(b, "tramsync_notices_urgent_unacknowledged", "gauge", "Urgent notices not yet acknowledged.", NULL,
               x.urgent_unacked);
    ts__metric(b, "tramsync_notices_overdue", "gauge", "Notices and tasks past their deadline, not done.", NULL, x.overdue);
    ts__metric(b, "tramsync_notices_escalated", "gauge", "Notices re-sent for lack of acknowledgement.", NULL,
               x.escalated);
    for (int t = 0; t < 2; t++) {
        for (int k = 0; k < 5; k++) {
            char label[64];
            snprintf(label, sizeof label, "state=\"%s\"", ts_notice_states[k].code);
            ts__metric(b, t == 0 ? "tramsync_notice_recipients" : "tramsync_task_assignments", "gauge",
                       k > 0            ? NULL
                       : t == 0 ? "Notice handling records (one per notice and station) by state."
                                : "Plan task assignments by state.",
                       label, x.by_state[t][k]);
        }
    }
    ts__metric(b, "tramsync_server_cert_expiry_seconds", "gauge", "Seconds until the server's certificate expires.",
               NULL, (double)s->server_cert_expires_in);
    ts__station_times(j, st, b);
    sqlite3_stmt *q;
    bool first = true;
    if (sqlite3_prepare_v2(ts_store_db(st), "SELECT station, cert_not_after FROM station_status WHERE cert_not_after > 0",
                           -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            char labels[200];
            snprintf(labels, sizeof labels, "station=\"%s\"", (const char *)sqlite3_column_text(q, 0));
            ts__metric(b, "tramsync_station_cert_expiry_seconds", "gauge",
                       first ? "Seconds until a station's certificate expires." : NULL, labels,
                       (double)(sqlite3_column_int64(q, 1) - (int64_t)(j->now_ms / 1000)));
            first = false;
        }
        sqlite3_finalize(q);
    }
    j->text_type = "text/plain; version=0.0.4; charset=utf-8";
    j->status = 200;
}
