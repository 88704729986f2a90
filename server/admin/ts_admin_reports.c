/* Reports stations send up, and passing one on to other stations as a
 * notice: the district reads what comes up here and answers through notices. */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/ts_notice.h"
#include "common/ts_recjson.h"
#include "common/ts_xmalloc.h"
#include "server/admin/ts_admin_int.h"

static int ts__by_reported_desc(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(ts_admin__str(json_object_get(y, "fields"), "reported_at"),
                  ts_admin__str(json_object_get(x, "fields"), "reported_at"));
}

/* A report above Thường (Khẩn, Thượng khẩn, Hỏa tốc): the overview shows it
 * and the menu counts it until someone at the district opens it. */
static bool ts__report_urgent(const json_t *fields)
{
    return ts_urgency_above_routine(ts_admin__str(fields, "urgency"));
}

/* Who opened which report first, and when: {"id": {"by", "at_ms"}}. */
static json_t *ts__report_reads(ts_store *st)
{
    json_t *o = json_object();
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st), "SELECT report, opened_by, opened_at FROM report_reads", -1, &q, NULL) !=
        SQLITE_OK)
        return o;
    while (sqlite3_step(q) == SQLITE_ROW)
        json_object_set_new(o, (const char *)sqlite3_column_text(q, 0),
                            json_pack("{s:s,s:I}", "by", (const char *)sqlite3_column_text(q, 1), "at_ms",
                                      (json_int_t)sqlite3_column_int64(q, 2)));
    sqlite3_finalize(q);
    return o;
}

json_int_t ts_admin__reports_unread(ts_store *st)
{
    json_t *reads = ts__report_reads(st);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    char after[TS_KEY_MAX + 1] = "";
    json_int_t n = 0;
    for (;;) {
        if (ts_store_list(st, "reports", after, 500, false, &page, &err) < 0)
            break;
        for (uint32_t i = 0; i < page.n; i++) {
            char urgency[24] = "";
            ts_recjson_text(&page.items[i].v, "urgency", urgency, sizeof urgency);
            if (ts_urgency_above_routine(urgency) && json_object_get(reads, page.items[i].id) == NULL)
                n++;
        }
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    json_decref(reads);
    return n;
}

static const char *const ts__report_kind_codes[] = {"", "case_report", "outbreak_detection", "outbreak_update",
                                                    "outbreak_end", "incident", "request_drugs", "request_staff",
                                                    "request_supervision", "other", NULL};

/* GET /api/reports[?q=&kind=&station=&unread=1&offset=&limit=]: what
 * stations sent up, newest first, each with the notices it was passed on as,
 * whether it is urgent and who opened it; unread=1: only the urgent ones
 * nobody opened. */
void ts_admin__api_reports(ts_admin__job *j, ts_store *st)
{
    char kind[32], station[TS_KEY_MAX + 1] = "", needle[256];
    uint32_t offset, limit;
    if (!ts_admin__q_enum(j, "kind", ts__report_kind_codes, kind, sizeof kind) ||
        !ts_admin__q_uint(j, "offset", 0, UINT32_MAX, &offset) || !ts_admin__q_uint(j, "limit", 100, 1000, &limit))
        return;
    if (limit == 0)
        limit = 100;
    static const char *const unreads[] = {"", "0", "1", NULL};
    char unread[4];
    if (!ts_admin__q_enum(j, "unread", unreads, unread, sizeof unread))
        return;
    bool only_unread = strcmp(unread, "1") == 0;
    ts_admin__q(j, "station", station, sizeof station);
    ts_admin__q_search(j, needle, sizeof needle);
    json_t *reads = ts__report_reads(st);
    size_t unread_urgent = 0;
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    json_t *all = json_array();
    char after[TS_KEY_MAX + 1] = "";
    size_t total = 0;
    for (;;) {
        if (ts_store_list(st, "reports", after, 500, false, &page, &err) < 0)
            break;
        for (uint32_t i = 0; i < page.n; i++) {
            total++;
            json_t *r = ts_recjson_record(&page.items[i], false);
            const json_t *f = json_object_get(r, "fields");
            json_t *opened = json_object_get(reads, page.items[i].id);
            bool urgent = ts__report_urgent(f);
            json_object_set_new(r, "urgent", json_boolean(urgent));
            json_object_set(r, "opened", opened ? opened : json_null());
            unread_urgent += urgent && opened == NULL;
            const char *hay[] = {page.items[i].owner, ts_admin__str(f, "subject"), ts_admin__str(f, "disease"),
                                 ts_admin__str(f, "location"), ts_admin__str(f, "reported_by")};
            if ((!kind[0] || strcmp(ts_admin__str(f, "kind"), kind) == 0) &&
                (!station[0] || strcmp(page.items[i].owner, station) == 0) &&
                (!only_unread || (urgent && opened == NULL)) && ts_admin__matches(needle, hay, 5))
                json_array_append(all, r);
            json_decref(r);
        }
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    size_t n = json_array_size(all);
    json_t **items = ts_xcalloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(all, i);
    qsort(items, n, sizeof *items, ts__by_reported_desc);
    json_t *res = ts_admin__slice(items, n, offset, limit);
    free(items);
    json_decref(all);
    /* which notices passed them on */
    if (json_array_size(res) > 0) {
        json_t *by_report = json_object();
        snprintf(after, sizeof after, "%s", "");
        for (;;) {
            if (ts_store_list(st, "notices", after, 500, false, &page, &err) < 0)
                break;
            for (uint32_t i = 0; i < page.n; i++) {
                char src[TS_KEY_MAX + 1];
                if (!ts_recjson_text(&page.items[i].v, "source_report", src, sizeof src) || !src[0])
                    continue;
                json_t *list = json_object_get(by_report, src);
                if (list == NULL) {
                    list = json_array();
                    json_object_set_new(by_report, src, list);
                }
                json_array_append_new(list, json_string(page.items[i].id));
            }
            if (page.n < 500)
                break;
            snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
        }
        size_t k;
        json_t *r;
        json_array_foreach(res, k, r) {
            json_t *list = json_object_get(by_report, ts_admin__str(r, "id"));
            json_object_set_new(r, "redistributed_as", list ? json_incref(list) : json_array());
            json_object_set_new(r, "station", json_string(ts_admin__str(r, "owner")));
        }
        json_decref(by_report);
        ts_admin__add_station_names(j->adm, st, res);
    }
    ts_change_page_free(&page);
    json_decref(reads);
    ts_admin__ok(j, 200, json_pack("{s:o,s:I,s:I,s:I,s:I,s:I}", "reports", res, "total", (json_int_t)total, "matched",
                                   (json_int_t)n, "offset", (json_int_t)offset, "limit", (json_int_t)limit,
                                   "unread_urgent", (json_int_t)unread_urgent));
}

/* POST /api/reports/{id}/open: someone at the district opened the report.
 * The first opening is kept (by whom, when) and audited; it is the district's,
 * not the account's: once one person opened an urgent report, the overview and
 * the menu stop flagging it for everyone. Opening again changes nothing. */
void ts_admin__api_report_open(ts_admin__job *j, ts_store *st)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    ts_error err;
    int rc = ts_store_get(st, "reports", j->params[0], &c, &arena, &err);
    if (rc == 0) {
        bool gone = ts_version_deleted(&c.v);
        ts_version_free(&c.v);
        if (gone)
            rc = ts_error_set(&err, TS_ENOT_FOUND, "reports/%s does not exist", j->params[0]);
    }
    ts_arena_free(&arena);
    if (rc < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    /* the opening and its audit entry in one transaction, or neither */
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q = NULL;
    bool first = false;
    rc = ts_store_begin(st, &err);
    if (rc == 0 && sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO report_reads(report, opened_by, opened_at)"
                                          " VALUES(?1, ?2, ?3)",
                                      -1, &q, NULL) != SQLITE_OK)
        rc = TS_ESTORAGE;
    if (rc == 0) {
        sqlite3_bind_text(q, 1, j->params[0], -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, j->user, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, (sqlite3_int64)j->now_ms);
        if (sqlite3_step(q) != SQLITE_DONE)
            rc = TS_ESTORAGE;
        first = rc == 0 && sqlite3_changes(db) == 1;
    }
    sqlite3_finalize(q);
    if (rc == 0 && first && ts_admin__audit(j, st, "open_report", "reports", j->params[0], "ok", NULL) < 0)
        rc = TS_ESTORAGE;
    if (rc == 0)
        rc = ts_store_commit(st, &err);
    else
        ts_store_rollback(st);
    if (rc < 0) {
        ts_admin__fail_storage(j, "opening the report");
        return;
    }
    if (first)
        ts_admin__set_event(j, "report", json_pack("{s:s,s:b}", "id", j->params[0], "opened", 1));
    json_t *reads = ts__report_reads(st);
    json_t *opened = json_object_get(reads, j->params[0]);
    ts_admin__ok(j, 200, json_pack("{s:s,s:O,s:b}", "id", j->params[0], "opened", opened ? opened : json_null(), "first",
                                   first));
    json_decref(reads);
}

void ts_admin__api_report_redistribute(ts_admin__job *j, ts_store *st)
{
    const json_t *to = json_object_get(j->body, "recipients");
    if (!json_is_object(to)) {
        ts_admin__fail(j, 400, "BAD_REQUEST", "body must hold \"recipients\": {\"stations\": [...]} (and optional notice fields)");
        return;
    }
    ts_strlist stations = {NULL, 0};
    ts_error err;
    char id[64];
    ts_actor a = ts_admin__actor(j);
    /* the new notice and the audit entry in one transaction, or neither */
    int rc = ts_notice_resolve(st, to, &stations, &err);
    if (rc == 0)
        rc = ts_store_begin(st, &err);
    if (rc == 0)
        rc = ts_report_redistribute(st, &a, j->params[0], json_object_get(j->body, "notice"), &stations, id, sizeof id,
                                    &err);
    if (rc == 0 && ts_admin__audit(j, st, "redistribute_report", "reports", j->params[0], "ok", id) < 0)
        rc = ts_error_set(&err, TS_ESTORAGE, "the audit entry could not be stored");
    /* a COMMIT that fails (a full disk) rolls back by itself */
    if (rc == 0)
        rc = ts_store_commit(st, &err);
    else
        ts_store_rollback(st);
    if (rc < 0) {
        ts_strlist_free(&stations);
        ts_admin__fail_err(j, &err);
        return;
    }
    ts_notice_log_sent(st, id, stations.n, &a);
    ts_report_log_redistributed(st, j->params[0], id, stations.n);
    ts_admin__queue_notice_frames(j, st, id, &stations);
    ts_admin__set_event(j, "notice", json_pack("{s:s,s:s}", "id", id, "source_report", j->params[0]));
    json_t *recips = json_array();
    for (size_t i = 0; i < stations.n; i++)
        json_array_append_new(recips, json_string(stations.v[i]));
    ts_admin__ok(j, 201, json_pack("{s:s,s:s,s:o}", "id", id, "source_report", j->params[0], "recipients", recips));
    ts_strlist_free(&stations);
}
