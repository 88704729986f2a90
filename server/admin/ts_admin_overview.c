/* What needs the district's attention: handling records flagged (urgent and
 * not acknowledged, overdue, re-sent) and the dashboard's overview. Both are
 * read on every console refresh, so what they scan is cached until the
 * tables change. */
#include <string.h>

#include "common/ts_notice.h"
#include "common/ts_recjson.h"
#include "common/ts_version.h"
#include "server/admin/ts_admin_int.h"
#include "server/ts_epidemic.h"

static bool ts__field_true(const ts_version *v, const char *name)
{
    const ts_field *f = ts_version_field(v, name);
    return f && f->value_len == 1 && f->value[0] == 0xc3;
}

/* Reads only the few fields it needs from each record; JSON is made only for
 * the records flagged. */
static void ts__flag_scan(ts_store *st, ts_admin__flagged *x)
{
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    char after[TS_KEY_MAX + 1] = "";
    for (;;) {
        if (ts_store_list(st, x->table, after, 500, false, &page, &err) < 0)
            break;
        for (uint32_t i = 0; i < page.n; i++) {
            const ts_version *v = &page.items[i].v;
            char state[24] = "", urgency[24] = "";
            ts_recjson_text(v, "state", state, sizeof state);
            ts_recjson_text(v, "urgency", urgency, sizeof urgency);
            int rank = ts_state_rank(state);
            bool overdue = ts__field_true(v, "overdue") && rank < 4;
            bool escalated = ts_version_field(v, "escalated_at") != NULL && rank < 2;
            bool urgent_unacked = ts_urgency_above_routine(urgency) && rank >= 0 && rank < 2;
            x->overdue += overdue;
            x->escalated += escalated;
            if (rank >= 0)
                x->by_state[x->table_index][rank]++;
            x->urgent_unacked += urgent_unacked;
            if (x->arr && (overdue || escalated || urgent_unacked)) {
                json_t *r = ts_recjson_record(&page.items[i], false);
                json_object_set_new(r, "overdue", json_boolean(overdue));
                json_object_set_new(r, "escalated", json_boolean(escalated));
                json_object_set_new(r, "urgent_unacknowledged", json_boolean(urgent_unacked));
                json_array_append_new(x->arr, r);
            }
        }
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
}

/* What needs attention in notice_recipients and task_assignments: scanned
 * again only when one of the two tables changed (their highest sequence
 * number moved), so the dashboard's calls cost little in a quiet district.
 * The flagged records stay in a->flags_items (store thread only: callers
 * copy what they hand out). */
void ts_admin__flags(ts_admin *a, ts_store *st, ts_admin__flagged *out)
{
    int64_t key[2] = {ts_admin__scalar(st, "SELECT max(seq) FROM records WHERE tbl = 'notice_recipients'"),
                      ts_admin__scalar(st, "SELECT max(seq) FROM records WHERE tbl = 'task_assignments'")};
    if (!a->flags_valid || key[0] != a->flags_key[0] || key[1] != a->flags_key[1]) {
        ts_admin__flagged x;
        memset(&x, 0, sizeof x);
        x.arr = json_array();
        x.table = "notice_recipients";
        ts__flag_scan(st, &x);
        x.table = "task_assignments";
        x.table_index = 1;
        ts__flag_scan(st, &x);
        memcpy(a->flags_states, x.by_state, sizeof a->flags_states);
        json_decref(a->flags_items);
        a->flags_items = x.arr;
        a->flags_counts[0] = x.urgent_unacked;
        a->flags_counts[1] = x.overdue;
        a->flags_counts[2] = x.escalated;
        a->flags_key[0] = key[0];
        a->flags_key[1] = key[1];
        a->flags_valid = true;
    }
    memset(out, 0, sizeof *out);
    memcpy(out->by_state, a->flags_states, sizeof out->by_state);
    out->urgent_unacked = a->flags_counts[0];
    out->overdue = a->flags_counts[1];
    out->escalated = a->flags_counts[2];
}

/* GET /api/escalations[?offset=&limit=]: handling records that need the
 * district's attention (urgent and not acknowledged, overdue, re-sent). */
void ts_admin__api_escalations(ts_admin__job *j, ts_store *st)
{
    uint32_t offset, limit;
    if (!ts_admin__q_uint(j, "offset", 0, UINT32_MAX, &offset) ||
        !ts_admin__q_uint(j, "limit", UINT32_MAX, UINT32_MAX, &limit))
        return;
    ts_admin__flagged x;
    ts_admin__flags(j->adm, st, &x);
    /* copies of the page only: the cached records stay on this thread */
    const json_t *all = j->adm->flags_items;
    size_t n = json_array_size(all);
    json_t *page = json_array();
    for (size_t i = offset; i < n && i < (size_t)offset + limit; i++)
        json_array_append_new(page, json_deep_copy(json_array_get(all, i)));
    size_t k;
    json_t *r;
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    json_array_foreach(page, k, r) {
        json_t *f = json_object_get(r, "fields");
        json_object_set_new(r, "station", json_string(ts_admin__str(f, "station")));
        /* what it is about: the notice's subject or the task */
        bool is_notice = json_object_get(f, "notice_id") != NULL;
        ts_change c;
        ts_error err;
        if (ts_store_get(st, is_notice ? "notices" : "plan_tasks",
                         ts_admin__str(f, is_notice ? "notice_id" : "task_id"), &c, &arena, &err) == 0) {
            char text[600];
            if (ts_recjson_text(&c.v, is_notice ? "subject" : "task", text, sizeof text))
                json_object_set_new(r, "subject", json_string(text));
            if (is_notice && ts_recjson_text(&c.v, "number", text, sizeof text))
                json_object_set_new(r, "number", json_string(text));
            ts_version_free(&c.v);
        }
    }
    ts_arena_free(&arena);
    ts_admin__add_station_names(j->adm, st, page);
    ts_admin__ok(j, 200,
                 json_pack("{s:o,s:I,s:i,s:i,s:i}", "items", page, "matched", (json_int_t)n, "urgent_unacknowledged",
                           x.urgent_unacked, "overdue", x.overdue, "escalated", x.escalated));
}

/* Live records: counting a million rows takes a while, so the count is
 * kept for a few seconds (jobs run one at a time on the store's thread, the
 * only place that reads or writes it). */
json_int_t ts_admin__records_count(ts_admin *a, ts_store *st, uint64_t now_ms)
{
    uint64_t seq = ts_store_last_seq(st);
    /* small districts count every time; large ones every few seconds */
    if (a->records_at == 0 || (seq != a->records_seq && (a->records_count < 100000 || now_ms - a->records_at > 5000))) {
        a->records_count = ts_admin__scalar(st, "SELECT count(*) FROM records WHERE deleted = 0");
        a->records_at = now_ms;
        a->records_seq = seq;
    }
    return (json_int_t)a->records_count;
}

void ts_admin__api_overview(ts_admin__job *j, ts_store *st)
{
    ts_admin__stations sts;
    ts_admin__collect_stations(j, st, &sts);
    ts_admin__st_counts c;
    ts_admin__st_count(j, &sts, &c);
    ts_admin__stations_free(&sts);
    ts_admin__flagged x;
    ts_admin__flags(j->adm, st, &x);
    /* notices: one handling record per recipient station; acknowledged is
     * acknowledged, in progress or done (ts_notice_states order) */
    json_int_t recipients = 0, acknowledged = 0;
    for (int r = 0; r < 5; r++) {
        recipients += x.by_state[0][r];
        if (r >= 2)
            acknowledged += x.by_state[0][r];
    }
    uint64_t open = 0;
    ts_store_conflict_count(st, true, &open);
    int64_t pages = ts_admin__scalar(st, "PRAGMA page_count"), page_size = ts_admin__scalar(st, "PRAGMA page_size");
    const ts_server_stats *s = &j->stats;
    json_t *service = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "connections",
        (json_int_t)s->connections, "sessions", (json_int_t)s->sessions, "changes_in", (json_int_t)s->changes_in,
        "changes_out", (json_int_t)s->changes_out, "changes_rejected", (json_int_t)s->changes_rejected,
        "protocol_errors", (json_int_t)s->protocol_errors, "handshakes_failed", (json_int_t)s->handshakes_failed,
        "rate_limited", (json_int_t)s->rate_limited, "loop_lag_p50_ms", (json_int_t)s->loop_lag_ms_p50,
        "loop_lag_p99_ms", (json_int_t)s->loop_lag_ms_p99, "bytes_in", (json_int_t)s->bytes_in, "bytes_out",
        (json_int_t)s->bytes_out, "frames_in", (json_int_t)s->frames_in, "frames_out", (json_int_t)s->frames_out,
        "notices_sent", (json_int_t)s->notices_sent, "notices_acked", (json_int_t)s->notices_acked, "memory_buffers",
        (json_int_t)s->memory_buffers, "admin_requests", (json_int_t)j->http_requests, "console_streams",
        (json_int_t)j->sse_clients);
    json_object_set_new(service, "errors",
                        json_integer((json_int_t)(s->protocol_errors + s->handshakes_failed + s->changes_rejected)));
    json_object_set_new(service, "uptime_s", json_integer((json_int_t)((j->now_ms - j->adm->started_ms) / 1000)));
    json_object_set_new(service, "version", json_string(TS_VERSION));
    json_t *o = json_pack("{s:{s:I,s:I,s:I,s:I,s:I,s:I},s:I,s:{s:i,s:i,s:i,s:I,s:I},s:{s:I},s:I,s:I,s:I,s:I,s:o,s:I}", "stations",
                           "total", c.total, "online", c.online, "offline", c.offline, "silent", c.silent,
                           "cert_expiring", c.cert, "clock_problem", c.clock, "conflicts_open", (json_int_t)open,
                           "notices", "urgent_unacknowledged", x.urgent_unacked, "overdue", x.overdue, "escalated",
                           x.escalated, "recipients", recipients, "acknowledged", acknowledged, "reports", "urgent_unread", ts_admin__reports_unread(st), "records", ts_admin__records_count(j->adm, st, j->now_ms), "db_bytes",
                           (json_int_t)(pages * page_size), "last_seq", (json_int_t)ts_store_last_seq(st),
                           "audit_entries", (json_int_t)ts_admin__scalar(st, "SELECT max(id) FROM audit"), "service",
                           service, "now_ms", (json_int_t)j->now_ms);
    /* epidemic alerts nobody acknowledged yet (GET /api/epidemic/alerts) */
    json_object_set_new(o, "epidemic_alerts_open", json_integer((json_int_t)ts_epi_open_alerts(st)));
    ts_admin__ok(j, 200, o);
}
