/* The commune UBND's acknowledgement of a notice, mirrored onto the
 * handling record of the commune's station so that the station sees it
 * after its next sync (and no other station does: a handling record's
 * audience is its station). */
#include "server/ts_commune_ack.h"

#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/ts_arena.h"
#include "common/ts_notice.h"
#include "common/ts_people.h"
#include "common/ts_recjson.h"

int ts_commune_ack_mirror(ts_store *st, const ts_actor *who, const char *notice, const ts_strlist *stations,
                          const char *person, const char *user, uint64_t at_ms, size_t *written, ts_error *err)
{
    char label[512] = "";
    if (person && person[0] && ts_people_resolve(st, person, NULL, 0, label, sizeof label) < 0)
        label[0] = '\0';
    if (!label[0])
        snprintf(label, sizeof label, "%s", user ? user : "");
    char at[32];
    ts_time_iso(at_ms, at, sizeof at);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < stations->n; i++) {
        char rid[TS_KEY_MAX + 1];
        snprintf(rid, sizeof rid, "%s:%s", notice, stations->v[i]);
        ts_arena arena;
        ts_arena_init(&arena, 2048);
        ts_change c;
        bool have = ts_store_get(st, "notice_recipients", rid, &c, &arena, NULL) == 0;
        bool already = false;
        if (have) {
            char prev[32] = "";
            already = ts_recjson_text(&c.v, "commune_ack_at", prev, sizeof prev) && prev[0];
            have = !ts_version_deleted(&c.v);
            ts_version_free(&c.v);
        }
        ts_arena_free(&arena);
        if (!have || already)
            continue;
        json_t *f = json_pack("{s:s,s:s}", "commune_ack_at", at, "commune_ack_by", label);
        if (person && person[0])
            json_object_set_new(f, "commune_ack_person", json_string(person));
        rc = ts_record_put_json(st, who, "notice_recipients", rid, f, err);
        json_decref(f);
        if (rc == 0 && written)
            (*written)++;
    }
    return rc;
}

bool ts_commune_listed(const char *list, const char *code)
{
    size_t n = strlen(code);
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && n > 0 && strncmp(p, code, n) == 0)
            return true;
        p += k;
        p += *p == ',';
    }
    return false;
}

int ts_commune_stations(ts_store *st, const char *communes, ts_strlist *out, ts_error *err)
{
    ts_change_page page;
    ts_change_page_init(&page);
    char after[TS_KEY_MAX + 1] = "";
    int rc;
    while ((rc = ts_store_list(st, "stations", after, 200, false, &page, err)) == 0 && page.n > 0) {
        for (uint32_t i = 0; i < page.n; i++) {
            char cc[64] = "";
            ts_recjson_text(&page.items[i].v, "commune_code", cc, sizeof cc);
            if (ts_commune_listed(communes, page.items[i].id) || (cc[0] && ts_commune_listed(communes, cc)))
                ts_strlist_add(out, page.items[i].id);
        }
        if (page.n < 200)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    return rc < 0 ? rc : 0;
}

int ts_commune_acks_backfill(ts_store *st, size_t *written, ts_error *err)
{
    *written = 0;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT notice_id, commune, username, person, acknowledged_at FROM commune_acks"
                           " ORDER BY notice_id, commune",
                           -1, &q, NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "commune_acks: %s", sqlite3_errmsg(ts_store_db(st)));
    /* read first, write after: no writes while the statement is open */
    json_t *rows = json_array();
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        const char *person = (const char *)sqlite3_column_text(q, 3);
        json_array_append_new(rows, json_pack("{s:s,s:s,s:s,s:s,s:I}", "notice", sqlite3_column_text(q, 0),
                                              "commune", sqlite3_column_text(q, 1), "user",
                                              sqlite3_column_text(q, 2), "person", person ? person : "", "at",
                                              (json_int_t)sqlite3_column_int64(q, 4)));
    }
    sqlite3_finalize(q);
    if (step != SQLITE_DONE) {
        json_decref(rows);
        return ts_error_set(err, TS_ESTORAGE, "commune_acks: %s", sqlite3_errstr(step));
    }
    int rc = 0;
    if (json_array_size(rows) > 0 && (rc = ts_store_begin(st, err)) == 0) {
        ts_actor who = {TS_ACTOR_LOCAL, "commune_acks", NULL, "migration"};
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r) {
            ts_strlist stations = {NULL, 0};
            rc = ts_commune_stations(st, json_string_value(json_object_get(r, "commune")), &stations, err);
            if (rc == 0)
                rc = ts_commune_ack_mirror(st, &who, json_string_value(json_object_get(r, "notice")), &stations,
                                       json_string_value(json_object_get(r, "person")),
                                       json_string_value(json_object_get(r, "user")),
                                       (uint64_t)json_integer_value(json_object_get(r, "at")), written, err);
            ts_strlist_free(&stations);
            if (rc < 0)
                break;
        }
        if (rc == 0)
            rc = ts_store_commit(st, err);
        else
            ts_store_rollback(st);
    }
    json_decref(rows);
    return rc;
}
