/* Conflict review: what the merge rules decided without a person, shown to an
 * operator and put right by a new write at the district, which dominates
 * both sides and so reaches every replica like any other version. */
#include <stdlib.h>
#include <string.h>

#include "common/ts_recjson.h"
#include "common/ts_xmalloc.h"
#include "server/admin/ts_admin_int.h"

/* How a conflict was resolved: stored as a code (kept, lost, value), shown
 * in words. Older daemons stored the English sentence; both are read. */
static const struct {
    const char *code, *en_note, *vi, *en;
} ts__resolutions[] = {
    {"kept", "kept the merged value", "Giữ giá trị hiện tại", "Kept the current value"},
    {"lost", "restored the losing value", "Khôi phục giá trị kia", "Restored the other value"},
    {"value", "wrote a merged value", "Sửa giá trị hợp nhất", "Wrote a merged value"},
    {"identical", "identical values", "Hai bên ghi cùng một giá trị", "Both sides wrote the same value"},
};

static void ts__resolution_set(json_t *o, const char *stored)
{
    for (size_t i = 0; stored && stored[0] && i < sizeof ts__resolutions / sizeof *ts__resolutions; i++)
        if (strcmp(stored, ts__resolutions[i].code) == 0 || strcmp(stored, ts__resolutions[i].en_note) == 0) {
            /* resolution: the English note as before, for readers of the old API */
            json_object_set_new(o, "resolution", json_string(ts__resolutions[i].en_note));
            json_object_set_new(o, "resolution_code", json_string(ts__resolutions[i].code));
            json_object_set_new(o, "resolution_label",
                                json_pack("{s:s,s:s}", "vi", ts__resolutions[i].vi, "en", ts__resolutions[i].en));
            return;
        }
    json_object_set_new(o, "resolution_code", json_null());
    json_object_set_new(o, "resolution_label", json_null());
}

static json_t *ts__conflict_json(const ts_conflict_row *r)
{
    json_t *kept = json_loads(r->winner_json, JSON_DECODE_ANY, NULL);
    json_t *lost = json_loads(r->loser_json, JSON_DECODE_ANY, NULL);
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:{s:s,s:I,s:I},s:o,s:{s:s,s:I,s:I},s:I,s:s,s:s,s:b,s:I,s:s,s:s}",
                     "id", (json_int_t)r->id, "table", r->table, "record", r->record, "field", r->field, "rule",
                     r->rule, "kept", kept ? kept : json_null(), "kept_by", "replica", r->winner_replica, "counter",
                     (json_int_t)r->winner_counter, "hlc", (json_int_t)r->winner_hlc, "lost",
                     lost ? lost : json_null(), "lost_by", "replica", r->loser_replica, "counter",
                     (json_int_t)r->loser_counter, "hlc", (json_int_t)r->loser_hlc, "detected_at_ms",
                     (json_int_t)r->detected_at, "detected_by", r->detected_by, "actor", r->actor, "resolved",
                     r->resolved, "resolved_at_ms", (json_int_t)r->resolved_at, "resolved_by", r->resolved_by,
                     "resolution", r->resolution);
    if (o != NULL)
        ts__resolution_set(o, r->resolution);
    return o;
}

/* Conflicts carry both values of a field: for a personal table, whoever
 * reads the list has read them, and the audit log says so (one entry per
 * table, as a list of records is). 0, or -1 when an entry could not be
 * written: then the list is not served. */
static int ts__audit_personal(ts_admin__job *j, ts_store *st, const ts_conflict_row *rows, size_t n,
                               const char *status)
{
    struct {
        const char *table;
        size_t count;
    } seen[32];
    size_t nseen = 0;
    for (size_t i = 0; i < n; i++) {
        const ts_table_def *t = ts_registry_table(ts_store_registry(st), rows[i].table);
        if (t == NULL || !t->personal || (strcmp(status, "resolved") == 0 && !rows[i].resolved))
            continue;
        size_t k = 0;
        while (k < nseen && strcmp(seen[k].table, t->name) != 0)
            k++;
        if (k == nseen) {
            if (nseen == sizeof seen / sizeof *seen)
                continue; /* more personal tables than a registry has */
            seen[nseen].table = t->name;
            seen[nseen++].count = 0;
        }
        seen[k].count++;
    }
    if (nseen == 0)
        return 0;
    /* the entries of several tables are all written, or none */
    ts_error err;
    if (ts_store_begin(st, &err) < 0)
        return -1;
    for (size_t k = 0; k < nseen; k++) {
        char detail[64];
        snprintf(detail, sizeof detail, "conflict list: %zu", seen[k].count);
        if (ts_admin__audit(j, st, "read", seen[k].table, NULL, "ok", detail) < 0) {
            ts_store_rollback(st);
            return -1;
        }
    }
    return ts_store_commit(st, &err) < 0 ? -1 : 0;
}

void ts_admin__api_conflicts(ts_admin__job *j, ts_store *st)
{
    static const char *const statuses[] = {"open", "all", "resolved", NULL};
    char status[16], after[32] = "0", table[64] = "";
    uint32_t after_id, limit;
    if (!ts_admin__q_enum(j, "status", statuses, status, sizeof status) || !ts_admin__q_uint(j, "after", 0, UINT32_MAX, &after_id) ||
        !ts_admin__q_uint(j, "limit", 100, 1000, &limit))
        return;
    ts_admin__q(j, "after", after, sizeof after);
    ts_admin__q(j, "table", table, sizeof table);
    ts_conflict_row *rows;
    size_t n;
    ts_error err;
    if (ts_store_conflicts(st, strcmp(status, "open") == 0, table[0] ? table : NULL, strtoll(after, NULL, 10),
                           limit ? limit : 100, &rows, &n, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        if (strcmp(status, "resolved") != 0 || rows[i].resolved)
            json_array_append_new(arr, ts__conflict_json(&rows[i]));
    if (ts__audit_personal(j, st, rows, n, status) < 0) {
        ts_conflict_rows_free(rows, n);
        json_decref(arr);
        ts_admin__fail_storage(j, "the audit entry of a personal read");
        return;
    }
    uint64_t open = 0;
    ts_store_conflict_count(st, true, &open);
    ts_conflict_rows_free(rows, n);
    ts_admin__ok(j, 200, json_pack("{s:o,s:I}", "conflicts", arr, "open", (json_int_t)open));
}

static bool ts__conflict_get(ts_admin__job *j, ts_store *st, ts_conflict_row **row)
{
    int64_t id = strtoll(j->params[0], NULL, 10);
    size_t n = 0;
    ts_error err;
    if (id <= 0 || ts_store_conflicts(st, false, NULL, id - 1, 1, row, &n, &err) < 0 || n == 0 || (*row)->id != id) {
        if (n)
            ts_conflict_rows_free(*row, n);
        ts_admin__fail(j, 404, "NOT_FOUND", "no such conflict");
        return false;
    }
    return true;
}

void ts_admin__api_conflict(ts_admin__job *j, ts_store *st)
{
    ts_conflict_row *r;
    if (!ts__conflict_get(j, st, &r))
        return;
    json_t *o = ts__conflict_json(r);
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change c;
    ts_error err;
    if (ts_store_get(st, r->table, r->record, &c, &arena, &err) == 0) {
        json_object_set_new(o, "current", ts_recjson_record(&c, true));
        ts_version_free(&c.v);
    }
    /* both values of the field are in the answer, with or without the record */
    const ts_table_def *t = ts_registry_table(ts_store_registry(st), r->table);
    bool audited = !(t && t->personal) || ts_admin__audit(j, st, "read", r->table, r->record, "ok", "conflict review") == 0;
    ts_arena_free(&arena);
    ts_conflict_rows_free(r, 1);
    if (!audited) {
        json_decref(o);
        ts_admin__fail_storage(j, "the audit entry of a personal read");
        return;
    }
    ts_admin__ok(j, 200, o);
}

void ts_admin__api_conflict_resolve(ts_admin__job *j, ts_store *st)
{
    ts_conflict_row *r;
    if (!ts__conflict_get(j, st, &r))
        return;
    const char *choice = ts_admin__str(j->body, "choice");
    const json_t *value = json_object_get(j->body, "value");
    json_t *chosen = NULL;
    if (strcmp(choice, "kept") == 0)
        chosen = json_loads(r->winner_json, JSON_DECODE_ANY, NULL);
    else if (strcmp(choice, "lost") == 0)
        chosen = json_loads(r->loser_json, JSON_DECODE_ANY, NULL);
    else if (strcmp(choice, "value") == 0 && value != NULL)
        chosen = json_incref((json_t *)value);
    if (chosen == NULL) {
        ts_conflict_rows_free(r, 1);
        ts_admin__fail(j, 400, "BAD_REQUEST", "choice must be \"kept\", \"lost\" or \"value\" (with a value)");
        return;
    }
    if (r->resolved) {
        json_decref(chosen);
        ts_conflict_rows_free(r, 1);
        ts_admin__fail(j, 409, "ALREADY_RESOLVED", "this conflict was already resolved");
        return;
    }
    const ts_table_def *t = ts_registry_table(ts_store_registry(st), r->table);
    const ts_field_def *f = t ? ts_table_field(t, r->field) : NULL;
    ts_error err;
    int rc = 0;
    ts_buf val = TS_BUF_INIT;
    bool is_deleted_field = strcmp(r->field, "_deleted") == 0;
    if (t == NULL || (f == NULL && !is_deleted_field)) {
        rc = ts_error_set(&err, TS_ENOT_FOUND, "the conflicting field no longer exists");
    } else if (rc == 0 && (rc = ts_store_begin(st, &err)) == 0) {
        ts_actor a = ts_admin__actor(j);
        /* the resolution is a new write at the district: it dominates both
         * sides, so it reaches every replica like any other version */
        if (is_deleted_field) {
            if (json_is_true(chosen))
                rc = ts_store_delete(st, &a, r->table, r->record, &err);
            else {
                /* restore: write every current field again as a put */
                ts_arena arena;
                ts_arena_init(&arena, 8192);
                ts_change c;
                rc = ts_store_get(st, r->table, r->record, &c, &arena, &err);
                if (rc == 0) {
                    ts_kv *kv = ts_xcalloc(c.v.nfields ? c.v.nfields : 1, sizeof *kv);
                    size_t k = 0;
                    for (uint32_t i = 0; i < c.v.nfields; i++)
                        if (strcmp(c.v.fields[i].name, "_deleted") != 0)
                            kv[k++] = (ts_kv){c.v.fields[i].name, c.v.fields[i].value, c.v.fields[i].value_len};
                    rc = k ? ts_store_put(st, &a, r->table, r->record, NULL, kv, k, &err)
                           : ts_error_set(&err, TS_EBAD_VALUE, "nothing left to restore");
                    free(kv);
                    ts_version_free(&c.v);
                }
                ts_arena_free(&arena);
            }
        } else if ((rc = ts_recjson_to_value(f, chosen, &val, &err)) == 0) {
            ts_kv kv = {f->name, val.data, val.len};
            rc = ts_store_put(st, &a, r->table, r->record, NULL, &kv, 1, &err);
        }
        /* a code, named in words when read (ts__resolution_set) */
        const char *resolution = strcmp(choice, "kept") == 0 ? "kept" : strcmp(choice, "lost") == 0 ? "lost" : "value";
        if (rc == 0)
            rc = ts_store_conflict_resolve(st, r->id, j->user, resolution, &err);
        if (rc == 0 && ts_admin__audit(j, st, "resolve_conflict", r->table, r->record, "ok", resolution) < 0)
            rc = ts_error_set(&err, TS_ESTORAGE, "the audit entry could not be stored");
        /* a COMMIT that fails (a full disk) rolls back by itself */
        if (rc == 0)
            rc = ts_store_commit(st, &err);
        else
            ts_store_rollback(st);
    }
    json_decref(chosen);
    ts_buf_free(&val);
    if (rc < 0) {
        ts_conflict_rows_free(r, 1);
        ts_admin__fail_err(j, &err);
        return;
    }
    j->notify_all = true;
    ts_admin__set_event(j, "conflict", json_pack("{s:I,s:s}", "id", (json_int_t)r->id, "state", "resolved"));
    ts_admin__ok(j, 200, json_pack("{s:I,s:s}", "id", (json_int_t)r->id, "result", "resolved"));
    ts_conflict_rows_free(r, 1);
}
