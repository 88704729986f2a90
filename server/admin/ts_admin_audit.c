/* The audit log, newest first, for admins: who did what to which record. */
#include <stdlib.h>

#include <sqlite3.h>

#include "server/admin/ts_admin_int.h"

void ts_admin__api_audit(ts_admin__job *j, ts_store *st)
{
    char after[32] = "", actor[128] = "", table[64] = "", record[TS_KEY_MAX + 1] = "", action[48] = "";
    uint32_t limit, before;
    if (!ts_admin__q_uint(j, "limit", 100, 1000, &limit) || !ts_admin__q_uint(j, "before", 0, UINT32_MAX, &before))
        return;
    if (limit == 0)
        limit = 100;
    ts_admin__q(j, "before", after, sizeof after);
    ts_admin__q(j, "action", action, sizeof action);
    ts_admin__q(j, "actor", actor, sizeof actor);
    ts_admin__q(j, "table", table, sizeof table);
    ts_admin__q(j, "record", record, sizeof record);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT id, ts, actor, actor_kind, action, tbl, rec_id, outcome, detail, peer FROM audit"
                           " WHERE (?1 = 0 OR id < ?1) AND (?2 = '' OR actor = ?2) AND (?3 = '' OR tbl = ?3)"
                           " AND (?4 = '' OR rec_id = ?4) AND (?6 = '' OR action = ?6) ORDER BY id DESC LIMIT ?5",
                           -1, &q, NULL) != SQLITE_OK) {
        ts_admin__fail(j, 500, "INTERNAL", "internal error");
        return;
    }
    sqlite3_bind_int64(q, 1, strtoll(after, NULL, 10));
    sqlite3_bind_text(q, 2, actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, record, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 5, (int)limit);
    sqlite3_bind_text(q, 6, action, -1, SQLITE_STATIC);
    json_t *arr = json_array();
    while (sqlite3_step(q) == SQLITE_ROW) {
        json_t *e = json_object();
        json_object_set_new(e, "id", json_integer(sqlite3_column_int64(q, 0)));
        json_object_set_new(e, "ts_ms", json_integer(sqlite3_column_int64(q, 1)));
        static const char *const cols[] = {NULL, NULL, "actor", "actor_kind", "action", "table",
                                           "record", "outcome", "detail", "peer"};
        for (int c = 2; c < 10; c++) {
            const char *v = (const char *)sqlite3_column_text(q, c);
            json_object_set_new(e, cols[c], v ? json_string(v) : json_null());
        }
        json_array_append_new(arr, e);
    }
    sqlite3_finalize(q);
    json_int_t last = json_array_size(arr) ? json_integer_value(json_object_get(json_array_get(arr, json_array_size(arr) - 1), "id")) : 0;
    ts_admin__ok(j, 200, json_pack("{s:o,s:I,s:b}", "entries", arr, "next_before", last, "more", json_array_size(arr) == limit));
}
