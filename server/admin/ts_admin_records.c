/* Records of any table, read and written at the district by hand: the way in
 * for what no other resource covers. Station records are written only at
 * their station; reads of personal tables are audited. */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/ts_recjson.h"
#include "common/ts_xmalloc.h"
#include "server/admin/ts_admin_int.h"

void ts_admin__api_records(ts_admin__job *j, ts_store *st)
{
    const ts_table_def *t = ts_registry_table(ts_store_registry(st), j->params[0]);
    if (t == NULL) {
        ts_admin__fail(j, 404, "UNKNOWN_TABLE", "unknown table");
        return;
    }
    char after[TS_KEY_MAX + 1] = "", station[TS_KEY_MAX + 1] = "";
    ts_admin__q(j, "after", after, sizeof after);
    ts_admin__q(j, "station", station, sizeof station);
    uint32_t limit;
    if (!ts_admin__q_uint(j, "limit", 100, 1000, &limit))
        return;
    if (limit == 0)
        limit = 100;
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    json_t *arr = json_array();
    char last[TS_KEY_MAX + 1] = "";
    bool more = false;
    if (station[0] && t->kind == TS_TABLE_STATION) {
        /* a station's own records: their audience is the station, so the
         * index finds them without reading the rest of the table */
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(ts_store_db(st),
                               "SELECT id FROM records INDEXED BY records_audience WHERE audience = ?1 AND tbl = ?2"
                               " AND id > ?3 AND deleted = 0 ORDER BY id LIMIT ?4",
                               -1, &q, NULL) != SQLITE_OK) {
            json_decref(arr);
            ts_admin__fail(j, 500, "INTERNAL", "internal error (see the server log)");
            return;
        }
        sqlite3_bind_text(q, 1, station, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, t->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, after, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, (sqlite3_int64)limit + 1);
        ts_arena arena;
        ts_arena_init(&arena, 8192);
        while (sqlite3_step(q) == SQLITE_ROW) {
            if (json_array_size(arr) == limit) {
                more = true;
                break;
            }
            const char *id = (const char *)sqlite3_column_text(q, 0);
            ts_change c;
            if (ts_store_get(st, t->name, id, &c, &arena, &err) == 0) {
                json_array_append_new(arr, ts_recjson_record(&c, false));
                ts_version_free(&c.v);
            }
            snprintf(last, sizeof last, "%s", id);
        }
        sqlite3_finalize(q);
        ts_arena_free(&arena);
    }
    /* keep reading pages until `limit` records of the station were found */
    while (!(station[0] && t->kind == TS_TABLE_STATION) && json_array_size(arr) < limit) {
        if (ts_store_list(st, t->name, after, limit, false, &page, &err) < 0) {
            json_decref(arr);
            ts_change_page_free(&page);
            ts_admin__fail_err(j, &err);
            return;
        }
        for (uint32_t i = 0; i < page.n && json_array_size(arr) < limit; i++) {
            snprintf(last, sizeof last, "%s", page.items[i].id);
            if (station[0] && strcmp(page.items[i].owner, station) != 0)
                continue;
            json_array_append_new(arr, ts_recjson_record(&page.items[i], false));
        }
        more = page.n == limit;
        if (page.n < limit)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    /* personal values go out only once their read is audited */
    if (t->personal) {
        char detail[200];
        snprintf(detail, sizeof detail, "list %zu records%s%s", json_array_size(arr), station[0] ? " of " : "", station);
        if (ts_admin__audit(j, st, "read", t->name, NULL, "ok", detail) < 0) {
            json_decref(arr);
            ts_admin__fail_storage(j, "the audit entry of a personal read");
            return;
        }
    }
    ts_admin__ok(j, 200,
                 json_pack("{s:s,s:o,s:b,s:s}", "table", t->name, "records", arr, "more", more, "next_after", last));
}

void ts_admin__api_record(ts_admin__job *j, ts_store *st)
{
    const ts_table_def *t = ts_registry_table(ts_store_registry(st), j->params[0]);
    if (t == NULL) {
        ts_admin__fail(j, 404, "UNKNOWN_TABLE", "unknown table");
        return;
    }
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change c;
    ts_error err;
    if (ts_store_get(st, t->name, j->params[1], &c, &arena, &err) < 0) {
        ts_arena_free(&arena);
        ts_admin__fail_err(j, &err);
        return;
    }
    json_t *o = ts_recjson_record(&c, true);
    ts_version_free(&c.v);
    ts_arena_free(&arena);
    if (t->personal && ts_admin__audit(j, st, "read", t->name, j->params[1], "ok", NULL) < 0) {
        json_decref(o);
        ts_admin__fail_storage(j, "the audit entry of a personal read");
        return;
    }
    ts_admin__ok(j, 200, o);
}

void ts_admin__api_record_put(ts_admin__job *j, ts_store *st)
{
    const ts_table_def *t = ts_registry_table(ts_store_registry(st), j->params[0]);
    if (t == NULL) {
        ts_admin__fail(j, 404, "UNKNOWN_TABLE", "unknown table");
        return;
    }
    if (t->kind == TS_TABLE_STATION) {
        ts_admin__fail(j, 403, "FORBIDDEN", "station records are written at their station");
        return;
    }
    const json_t *fields = json_object_get(j->body, "fields");
    if (!json_is_object(fields) || json_object_size(fields) == 0) {
        ts_admin__fail(j, 400, "BAD_REQUEST", "body must be {\"fields\": {...}}");
        return;
    }
    size_t n = json_object_size(fields), i = 0;
    ts_kv *kv = ts_xcalloc(n, sizeof *kv);
    ts_buf *vals = ts_xcalloc(n, sizeof *vals);
    ts_error err;
    int rc = 0;
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)fields, name, v) {
        const ts_field_def *f = ts_table_field(t, name);
        if (f == NULL) {
            rc = ts_error_set(&err, TS_EINVALID_RECORD, "table %s has no field \"%s\"", t->name, name);
            break;
        }
        if ((rc = ts_recjson_to_value(f, v, &vals[i], &err)) < 0)
            break;
        /* a file name stations save and print: the rules of POST /api/notices */
        char why[200];
        if (strcmp(t->name, TS_ATTACHMENT_TABLE) == 0 && strcmp(f->name, "filename") == 0 && json_is_string(v) &&
            !ts_notice_attachment_name_ok(json_string_value(v), why, sizeof why)) {
            rc = ts_error_set(&err, TS_EINVALID_RECORD, "field filename: %s", why);
            break;
        }
        kv[i].name = f->name;
        kv[i].value = vals[i].data;
        kv[i].len = vals[i].len;
        i++;
    }
    ts_actor a = ts_admin__actor(j);
    if (rc == 0)
        rc = ts_store_put(st, &a, t->name, j->params[1], NULL, kv, i, &err);
    for (size_t k = 0; k < n; k++)
        ts_buf_free(&vals[k]);
    free(vals);
    free(kv);
    if (rc < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    j->notify_all = true;
    ts_admin__set_event(j, "record", json_pack("{s:s,s:s}", "table", t->name, "id", j->params[1]));
    ts_admin__ok(j, 200, json_pack("{s:s,s:s,s:s}", "table", t->name, "id", j->params[1], "result", "stored"));
}
