/* Stations as the district sees them: the directory (the `stations` table,
 * cached between requests), what their sessions reported, their cursors and
 * who is connected now, merged into one state per station. The directory and
 * the merged state are also read by notices, reports, tasks, targets and the
 * overview, which is why they are shared from here. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/ts_arena.h"
#include "common/ts_notice.h"
#include "common/ts_recjson.h"
#include "common/ts_xmalloc.h"
#include "server/admin/ts_admin_int.h"

void ts_admin__dir_free(ts_admin *a)
{
    for (size_t i = 0; i < a->ndir; i++) {
        free(a->dir[i].code);
        json_decref(a->dir[i].fields);
        free(a->dir[i].fold);
    }
    free(a->dir);
    a->dir = NULL;
    a->ndir = 0;
}

static int ts__dir_cmp(const void *key, const void *entry)
{
    return strcmp(key, ((const ts_admin__dir_entry *)entry)->code);
}

const ts_admin__dir_entry *ts_admin__dir_find(const ts_admin *a, const char *code)
{
    return a->ndir ? bsearch(code, a->dir, a->ndir, sizeof *a->dir, ts__dir_cmp) : NULL;
}

void ts_admin__dir_load(ts_admin *a, ts_store *st)
{
    int64_t key = ts_admin__scalar(st, "SELECT max(seq) FROM records WHERE tbl = 'stations'");
    if (a->dir_valid && key == a->dir_key)
        return;
    ts_admin__dir_free(a);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    char after[TS_KEY_MAX + 1] = "";
    size_t cap = 0;
    for (;;) {
        if (ts_store_list(st, "stations", after, 500, false, &page, &err) < 0 || page.n == 0)
            break;
        for (uint32_t i = 0; i < page.n; i++) {
            if (a->ndir == cap) {
                cap = cap ? cap * 2 : 256;
                a->dir = ts_xreallocarray(a->dir, cap, sizeof *a->dir);
            }
            ts_admin__dir_entry *e = &a->dir[a->ndir++];
            json_t *rec = ts_recjson_record(&page.items[i], false);
            e->code = ts_xstrdup(page.items[i].id);
            e->fields = json_incref(json_object_get(rec, "fields"));
            json_decref(rec);
            char text[1024], fold[1024];
            snprintf(text, sizeof text, "%s %s %s %s", e->code, ts_admin__str(e->fields, "name"),
                     ts_admin__str(e->fields, "commune"), ts_admin__str(e->fields, "commune_code"));
            ts_admin__fold(text, fold, sizeof fold);
            e->fold = ts_xstrdup(fold);
        }
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
        if (page.n < 500)
            break;
    }
    ts_change_page_free(&page);
    /* the store lists in id order, which is strcmp order: ready for bsearch */
    a->dir_key = key;
    a->dir_valid = true;
}

/* The commune and name of each station on a page of handling records. */
void ts_admin__add_station_names(ts_admin *a, ts_store *st, json_t *arr)
{
    ts_admin__dir_load(a, st);
    size_t k;
    json_t *o;
    json_array_foreach(arr, k, o) {
        const ts_admin__dir_entry *e = ts_admin__dir_find(a, ts_admin__str(o, "station"));
        if (e == NULL)
            continue;
        if (json_is_string(json_object_get(e->fields, "commune")))
            json_object_set_new(o, "commune", json_string(ts_admin__str(e->fields, "commune")));
        if (json_is_string(json_object_get(e->fields, "name")))
            json_object_set_new(o, "station_name", json_string(ts_admin__str(e->fields, "name")));
        /* whom to call about it: the station's head and telephone, from the directory */
        if (json_is_string(json_object_get(e->fields, "head")))
            json_object_set_new(o, "station_head", json_string(ts_admin__str(e->fields, "head")));
        if (json_is_string(json_object_get(e->fields, "phone")))
            json_object_set_new(o, "station_phone", json_string(ts_admin__str(e->fields, "phone")));
    }
}

static int ts__st_code_cmp(const void *a, const void *b)
{
    return strcmp(((const ts_admin__st *)a)->code, ((const ts_admin__st *)b)->code);
}

static ts_admin__st *ts__st_find(ts_admin__stations *s, const char *code)
{
    ts_admin__st key;
    memset(&key, 0, sizeof key);
    key.code = code;
    return s->n ? bsearch(&key, s->v, s->n, sizeof *s->v, ts__st_code_cmp) : NULL;
}

void ts_admin__stations_free(ts_admin__stations *s)
{
    free(s->v);
    ts_strlist_free(&s->extra);
}

static void ts__copy_col(char *out, size_t size, sqlite3_stmt *q, int col)
{
    const char *v = (const char *)sqlite3_column_text(q, col);
    if (v && v[0])
        snprintf(out, size, "%s", v);
}

static void ts__max(int64_t *have, int64_t t)
{
    if (t > *have)
        *have = t;
}

void ts_admin__collect_stations(ts_admin__job *j, ts_store *st, ts_admin__stations *s)
{
    ts_admin *a = j->adm;
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    memset(s, 0, sizeof *s);
    ts_admin__dir_load(a, st);
    /* every code first: the directory's, then those only sessions know */
    if (sqlite3_prepare_v2(db,
                           "SELECT station FROM station_status UNION SELECT station FROM station_cursors"
                           " UNION SELECT station FROM replicas WHERE status = 'active'",
                           -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *code = (const char *)sqlite3_column_text(q, 0);
            if (code && !ts_admin__dir_find(a, code))
                ts_strlist_add(&s->extra, code);
        }
        sqlite3_finalize(q);
    }
    for (size_t i = 0; i < j->nlive; i++)
        if (!ts_admin__dir_find(a, j->live[i].station))
            ts_strlist_add(&s->extra, j->live[i].station);
    s->n = a->ndir + s->extra.n;
    s->v = ts_xcalloc(s->n ? s->n : 1, sizeof *s->v);
    for (size_t i = 0; i < a->ndir; i++) {
        s->v[i].code = a->dir[i].code;
        s->v[i].dir = &a->dir[i];
    }
    for (size_t i = 0; i < s->extra.n; i++)
        s->v[a->ndir + i].code = s->extra.v[i];
    if (s->extra.n)
        qsort(s->v, s->n, sizeof *s->v, ts__st_code_cmp);
    /* what sessions told us */
    if (sqlite3_prepare_v2(db,
                           "SELECT station, replica, agent, peer, last_seen, last_sync, clock_skew_ms,"
                           " cert_serial, cert_not_after, commune, clock_skew_ms IS NOT NULL FROM station_status",
                           -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            ts_admin__st *o = ts__st_find(s, (const char *)sqlite3_column_text(q, 0));
            if (o == NULL)
                continue;
            ts__copy_col(o->replica, sizeof o->replica, q, 1);
            ts__copy_col(o->agent, sizeof o->agent, q, 2);
            ts__copy_col(o->last_peer, sizeof o->last_peer, q, 3);
            ts__max(&o->last_seen, sqlite3_column_int64(q, 4));
            ts__max(&o->last_sync, sqlite3_column_int64(q, 5));
            if (sqlite3_column_int(q, 10)) {
                o->has_skew = true;
                o->skew = sqlite3_column_int64(q, 6);
            }
            ts__copy_col(o->serial, sizeof o->serial, q, 7);
            if (sqlite3_column_int64(q, 8) > 0)
                o->cert_not_after = sqlite3_column_int64(q, 8);
            ts__copy_col(o->commune, sizeof o->commune, q, 9);
        }
        sqlite3_finalize(q);
    }
    /* the pull cursor: the station has everything visible to it up to it */
    if (sqlite3_prepare_v2(db, "SELECT station, cursor, updated_at FROM station_cursors", -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            ts_admin__st *o = ts__st_find(s, (const char *)sqlite3_column_text(q, 0));
            if (o == NULL)
                continue;
            o->has_cursor = true;
            o->cursor = sqlite3_column_int64(q, 1);
            ts__max(&o->last_sync, sqlite3_column_int64(q, 2));
            ts__max(&o->last_seen, sqlite3_column_int64(q, 2));
        }
        sqlite3_finalize(q);
    }
    /* its replica, and when it last pushed or said HELLO */
    if (sqlite3_prepare_v2(db, "SELECT station, replica, last_seen FROM replicas WHERE status = 'active'", -1, &q,
                           NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            ts_admin__st *o = ts__st_find(s, (const char *)sqlite3_column_text(q, 0));
            if (o == NULL)
                continue;
            int64_t seen = sqlite3_column_int64(q, 2);
            if (seen >= o->replica_seen) {
                ts__copy_col(o->replica, sizeof o->replica, q, 1);
                o->replica_seen = seen;
            }
            ts__max(&o->last_sync, seen);
            ts__max(&o->last_seen, seen);
        }
        sqlite3_finalize(q);
    }
    /* and who is connected right now */
    for (size_t i = 0; i < j->nlive; i++) {
        const ts_live_station *l = &j->live[i];
        ts_admin__st *o = ts__st_find(s, l->station);
        if (o == NULL)
            continue;
        o->connected = true;
        o->live = l->live;
        o->queued = l->queued;
        o->connected_since = (int64_t)l->connected_ms;
        o->last_seen = (int64_t)j->now_ms;
        snprintf(o->peer, sizeof o->peer, "%s", l->peer);
        if (l->replica[0])
            snprintf(o->replica, sizeof o->replica, "%s", l->replica);
        if (l->serial[0])
            snprintf(o->serial, sizeof o->serial, "%s", l->serial);
        if (l->cert_not_after > 0)
            o->cert_not_after = l->cert_not_after;
    }
    const ts_server_config *cfg = ts_server_get_config(a->srv);
    for (size_t i = 0; i < s->n; i++) {
        ts_admin__st *o = &s->v[i];
        bool silent = !o->connected &&
                      (o->last_seen == 0 || j->now_ms - (uint64_t)o->last_seen > cfg->admin_silent_after_ms);
        o->status = o->connected ? 2 : silent ? 0 : 1;
        o->clock_problem = o->has_skew && (uint64_t)(o->skew < 0 ? -o->skew : o->skew) > cfg->max_clock_ahead_ms / 2;
    }
    /* an account limited to communes: every page is built from their
     * stations only (the order, by code, stays) */
    if (j->scope != TS_ADMIN_SCOPE_ALL) {
        size_t n = 0;
        for (size_t i = 0; i < s->n; i++)
            if (ts_admin__in_scope(j, s->v[i].code))
                s->v[n++] = s->v[i];
        s->n = n;
    }
}

#define TS__CERT_WARN_DAYS 30

static int64_t ts__cert_days(const ts_admin__job *j, const ts_admin__st *o)
{
    return (o->cert_not_after * 1000 - (int64_t)j->now_ms) / 86400000;
}

static const char *const ts__status_names[] = {"silent", "offline", "online"};

/* Changes visible to a station that it has not pulled yet (after its
 * cursor), leaving out what it wrote itself; each part counted up to
 * 100,000 through the audience indexes, so a long-silent station costs no
 * more than that. */
static int64_t ts__station_pending(ts_store *st, const char *code, int64_t cursor)
{
    sqlite3_stmt *q;
    int64_t n = -1;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT (SELECT count(*) FROM (SELECT 1 FROM records INDEXED BY records_audience"
                           " WHERE audience = ?1 AND seq > ?2 AND (origin IS NULL OR origin NOT IN"
                           " (SELECT replica FROM replicas WHERE station = ?1 UNION ALL"
                           " SELECT '#' || num FROM replicas WHERE station = ?1 AND num IS NOT NULL))"
                           " LIMIT 100000))"
                           " + (SELECT count(*) FROM (SELECT 1 FROM records INDEXED BY records_audience"
                           " WHERE audience = '*' AND seq > ?2 LIMIT 100000))"
                           " + (SELECT count(*) FROM (SELECT 1 FROM record_audience WHERE station = ?1 AND seq > ?2"
                           " LIMIT 100000))",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, code, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, cursor);
        if (sqlite3_step(q) == SQLITE_ROW)
            n = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    return n;
}

/* What the station's agent last reported of itself (its station_agent_status
 * record, synced like any record; no protocol message carries it):
 * {pending_changes, reported_at_ms, last_error, storage_problem,
 * agent_version}, or NULL when it never wrote one. */
static json_t *ts__agent_report(ts_store *st, const char *code)
{
    ts_arena arena;
    ts_arena_init(&arena, 2048);
    ts_change c;
    ts_error err;
    json_t *r = NULL;
    if (ts_store_get(st, "station_agent_status", code, &c, &arena, &err) == 0) {
        int64_t pending = 0;
        char when[64] = "", text[1600];
        uint64_t ms = 0;
        if (!ts_version_deleted(&c.v) && ts_recjson_int(&c.v, "pending_changes", &pending) &&
            ts_recjson_text(&c.v, "updated_at", when, sizeof when) && ts_time_parse(when, &ms)) {
            r = json_pack("{s:I,s:I}", "pending_changes", (json_int_t)pending, "reported_at_ms", (json_int_t)ms);
            static const char *const texts[] = {"last_error", "storage_problem", "agent_version"};
            for (size_t k = 0; k < 3; k++)
                if (ts_recjson_text(&c.v, texts[k], text, sizeof text) && text[0])
                    json_object_set_new(r, texts[k], json_string(text));
        }
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    return r;
}

/* The JSON of one station (the directory entry copied). */
static json_t *ts__st_json(const ts_admin__job *j, ts_store *st, const ts_admin__st *o, bool pending)
{
    json_t *r = json_pack("{s:s,s:b,s:b,s:s}", "code", o->code, "connected", o->connected, "silent", o->status == 0,
                          "status", ts__status_names[o->status]);
    if (o->dir)
        json_object_set_new(r, "directory", json_deep_copy(o->dir->fields));
    static const struct {
        const char *key;
        size_t off;
    } texts[] = {{"replica", offsetof(ts_admin__st, replica)}, {"agent", offsetof(ts_admin__st, agent)},
                 {"peer", offsetof(ts_admin__st, peer)},       {"last_peer", offsetof(ts_admin__st, last_peer)},
                 {"cert_serial", offsetof(ts_admin__st, serial)}, {"commune", offsetof(ts_admin__st, commune)}};
    for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) {
        const char *v = (const char *)o + texts[k].off;
        if (v[0])
            json_object_set_new(r, texts[k].key, json_string(v));
    }
    if (o->last_seen)
        json_object_set_new(r, "last_seen_ms", json_integer(o->last_seen));
    json_t *rep = ts__agent_report(st, o->code);
    if (rep != NULL)
        json_object_set_new(r, "agent_report", rep);
    if (o->last_sync)
        json_object_set_new(r, "last_sync_ms", json_integer(o->last_sync));
    if (o->connected) {
        json_object_set_new(r, "live", json_boolean(o->live));
        json_object_set_new(r, "connected_since_ms", json_integer(o->connected_since));
        json_object_set_new(r, "queued_bytes", json_integer((json_int_t)o->queued));
    }
    if (o->has_skew) {
        json_object_set_new(r, "clock_skew_ms", json_integer(o->skew));
        json_object_set_new(r, "clock_problem", json_boolean(o->clock_problem));
    }
    if (o->cert_not_after) {
        json_object_set_new(r, "cert_not_after", json_integer(o->cert_not_after));
        json_object_set_new(r, "cert_days_left", json_integer(ts__cert_days(j, o)));
    }
    if (o->has_cursor) {
        uint64_t seq = ts_store_last_seq(st);
        json_object_set_new(r, "cursor", json_integer(o->cursor));
        json_object_set_new(r, "lag_changes",
                            json_integer(seq > (uint64_t)o->cursor ? (json_int_t)(seq - (uint64_t)o->cursor) : 0));
        /* a live session gets every change the moment it is committed, so
         * its stored cursor (moved by pulls only) says nothing: nothing
         * queued is nothing pending */
        int64_t n = !pending ? -1 : o->connected && o->live ? (o->queued ? -1 : 0)
                                                            : ts__station_pending(st, o->code, o->cursor);
        if (n >= 0)
            json_object_set_new(r, "pending_changes", json_integer(n));
        if (pending && o->connected && o->live && o->queued)
            json_object_set_new(r, "sending", json_true());
    }
    return r;
}

static int ts__by_code(const void *a, const void *b)
{
    return strcmp((*(const ts_admin__st *const *)a)->code, (*(const ts_admin__st *const *)b)->code);
}

/* silent first, then offline, then online; oldest news first within */
static int ts__by_status(const void *a, const void *b)
{
    const ts_admin__st *x = *(const ts_admin__st *const *)a, *y = *(const ts_admin__st *const *)b;
    if (x->status != y->status)
        return x->status - y->status;
    if (x->status < 2 && x->last_seen != y->last_seen)
        return x->last_seen < y->last_seen ? -1 : 1;
    return strcmp(x->code, y->code);
}

static int ts__by_last_sync(const void *a, const void *b)
{
    const ts_admin__st *x = *(const ts_admin__st *const *)a, *y = *(const ts_admin__st *const *)b;
    return x->last_sync != y->last_sync ? (x->last_sync < y->last_sync ? -1 : 1) : strcmp(x->code, y->code);
}

static int ts__by_cert(const void *a, const void *b)
{
    const ts_admin__st *x = *(const ts_admin__st *const *)a, *y = *(const ts_admin__st *const *)b;
    if (x->cert_not_after == 0 || y->cert_not_after == 0)
        return x->cert_not_after == y->cert_not_after ? strcmp(x->code, y->code) : x->cert_not_after == 0 ? 1 : -1;
    return x->cert_not_after != y->cert_not_after ? (x->cert_not_after < y->cert_not_after ? -1 : 1)
                                                  : strcmp(x->code, y->code);
}

static bool ts__station_filter(const ts_admin__job *j, const ts_admin__st *o, const char *filter)
{
    if (strcmp(filter, "all") == 0)
        return true;
    if (strcmp(filter, "silent") == 0)
        return o->status == 0;
    if (strcmp(filter, "offline") == 0)
        return o->status == 1;
    if (strcmp(filter, "online") == 0)
        return o->status == 2;
    if (strcmp(filter, "attention") == 0)
        return o->status < 2;
    if (strcmp(filter, "cert") == 0)
        return o->cert_not_after != 0 && ts__cert_days(j, o) < TS__CERT_WARN_DAYS;
    if (strcmp(filter, "clock") == 0)
        return o->clock_problem;
    return false;
}

void ts_admin__st_count(const ts_admin__job *j, const ts_admin__stations *s, ts_admin__st_counts *c)
{
    memset(c, 0, sizeof *c);
    c->total = (json_int_t)s->n;
    for (size_t i = 0; i < s->n; i++) {
        c->online += s->v[i].status == 2;
        c->offline += s->v[i].status == 1;
        c->silent += s->v[i].status == 0;
        c->cert += ts__station_filter(j, &s->v[i], "cert");
        c->clock += s->v[i].clock_problem;
    }
}

/* GET /api/stations[?q=&filter=&sort=&offset=&limit=]: without paging
 * parameters every station (for scripts); with them one page, searched in
 * code, name and commune (without tone marks), with the counts the console
 * shows beside it. Only the page is turned into JSON. */
void ts_admin__api_stations(ts_admin__job *j, ts_store *st)
{
    static const char *const filters[] = {"all", "silent", "offline", "online", "attention", "cert", "clock", NULL};
    static const char *const sorts[] = {"status", "code", "last_sync", "cert", NULL};
    char filter[16], sort[16], needle[256];
    uint32_t offset, limit;
    bool paged = ts_admin__has_paging(j);
    if (!ts_admin__q_enum(j, "filter", filters, filter, sizeof filter) ||
        !ts_admin__q_enum(j, "sort", sorts, sort, sizeof sort) ||
        !ts_admin__q_uint(j, "offset", 0, UINT32_MAX, &offset) ||
        !ts_admin__q_uint(j, "limit", paged ? 50 : UINT32_MAX, 500, &limit))
        return;
    if (!paged)
        limit = UINT32_MAX;
    ts_admin__q_search(j, needle, sizeof needle);
    ts_admin__stations s;
    ts_admin__collect_stations(j, st, &s);
    ts_admin__st **items = ts_xcalloc(s.n ? s.n : 1, sizeof *items);
    size_t n = 0;
    for (size_t i = 0; i < s.n; i++) {
        const ts_admin__st *o = &s.v[i];
        if (!ts__station_filter(j, o, filter))
            continue;
        if (needle[0]) {
            char fold_code[TS_KEY_MAX + 1];
            ts_admin__fold(o->code, fold_code, sizeof fold_code);
            if (!strstr(o->dir ? o->dir->fold : fold_code, needle))
                continue;
        }
        items[n++] = &s.v[i];
    }
    qsort(items, n, sizeof *items,
          strcmp(sort, "code") == 0        ? ts__by_code
          : strcmp(sort, "last_sync") == 0 ? ts__by_last_sync
          : strcmp(sort, "cert") == 0      ? ts__by_cert
                                           : ts__by_status);
    json_t *arr = json_array();
    for (size_t i = offset; i < n && i < (size_t)offset + limit; i++)
        json_array_append_new(arr, ts__st_json(j, st, items[i], paged));
    ts_admin__st_counts c;
    ts_admin__st_count(j, &s, &c);
    free(items);
    ts_admin__stations_free(&s);
    ts_admin__ok(j, 200,
                 json_pack("{s:o,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I},s:i,s:I}", "stations", arr, "total",
                           c.total, "matched", (json_int_t)n, "offset", (json_int_t)offset, "limit",
                           (json_int_t)(limit == UINT32_MAX ? (uint32_t)n : limit), "counts", "total", c.total,
                           "online", c.online, "offline", c.offline, "silent", c.silent, "cert_expiring", c.cert,
                           "clock_problem", c.clock, "cert_warn_days", TS__CERT_WARN_DAYS, "now_ms",
                           (json_int_t)j->now_ms));
}

/* GET /api/stations/{code}: one station, with what is waiting for it and how
 * many records of each table it holds at the district. */
void ts_admin__api_station(ts_admin__job *j, ts_store *st)
{
    ts_admin__stations s;
    ts_admin__collect_stations(j, st, &s);
    const ts_admin__st *found = ts__st_find(&s, j->params[0]);
    if (found == NULL) {
        ts_admin__stations_free(&s);
        ts_admin__fail(j, 404, "NOT_FOUND", "no such station");
        return;
    }
    json_t *o = ts__st_json(j, st, found, true);
    ts_admin__stations_free(&s);
    json_t *counts = json_object();
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT tbl, count(*) FROM records INDEXED BY records_audience WHERE audience = ?1"
                           " AND deleted = 0 GROUP BY tbl",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, j->params[0], -1, SQLITE_STATIC);
        while (sqlite3_step(q) == SQLITE_ROW)
            json_object_set_new(counts, (const char *)sqlite3_column_text(q, 0), json_integer(sqlite3_column_int64(q, 1)));
        sqlite3_finalize(q);
    }
    json_object_set_new(o, "records", counts);
    uint64_t open = 0;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT count(*) FROM conflicts c JOIN records r ON r.tbl = c.tbl AND r.id = c.rec_id"
                           " WHERE c.resolved_at IS NULL AND r.audience = ?1",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, j->params[0], -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW)
            open = (uint64_t)sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    json_object_set_new(o, "conflicts_open", json_integer((json_int_t)open));
    ts_admin__ok(j, 200, o);
}
