/* See ts_epidemic.h. Days are the local days the stations write (YYYY-MM-DD);
 * a case is on time when it reached the district before the end of its
 * diagnosis day plus the disease's report_within_hours (a diagnosis date has
 * no hour, so the whole day counts as the day of diagnosis). */
#include "server/ts_epidemic.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "common/ts_calendar.h"
#include "common/ts_log.h"
#include "common/ts_notice.h"
#include "common/ts_recjson.h"
#include "common/ts_xmalloc.h"
#include "server/ts_notices.h"

#define TS__SCAN_PAGE 500

/* ---------------------------------------------------------------- days */

/* Days since 1970-01-01 of a date (common/ts_calendar's arithmetic); -1
 * when the text is not a date. */
static int64_t ts__day_number(const char *s)
{
    int y, m, d;
    if (s == NULL || sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    ts_date day = {y, m, d};
    return ts_date_days(day);
}

static void ts__day_text(int64_t z, char *out, size_t size)
{
    ts_date_fmt(ts_date_from_days((long)z), out, size);
}

/* ISO 8601 week of a day: "2026-W49" (the calendar's weekly period key). */
static void ts__iso_week(const char *day, char *out, size_t size)
{
    int64_t z = ts__day_number(day);
    ts_period p;
    if (z < 0 || !ts_period_of(TS_REC_WEEKLY, ts_date_from_days((long)z), &p)) {
        snprintf(out, size, "?");
        return;
    }
    snprintf(out, size, "%.16s", p.key); /* 2026-W49 */
}

int ts_epi_day_add(const char *day, int delta, char *out, size_t size)
{
    int64_t z = ts__day_number(day);
    if (z < 0)
        return TS_EBAD_VALUE;
    ts__day_text(z + delta, out, size);
    return 0;
}

/* ---------------------------------------------------------------- catalogue */

int ts_epi_seed(ts_store *st, const char *tsv, size_t len, uint64_t *loaded, ts_error *err)
{
    *loaded = 0;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st), "SELECT 1 FROM records WHERE tbl = 'diseases' LIMIT 1", -1, &q, NULL) !=
        SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "disease catalogue: %s", sqlite3_errmsg(ts_store_db(st)));
    int step = sqlite3_step(q);
    sqlite3_finalize(q);
    if (step == SQLITE_ROW)
        return 0; /* the district's own catalogue (deleted rows too: never brought back) */
    if (step != SQLITE_DONE)
        return ts_error_set(err, TS_ESTORAGE, "disease catalogue: %s", sqlite3_errmsg(ts_store_db(st)));
    ts_actor who = {TS_ACTOR_LOCAL, "disease-catalogue", NULL, "seed"};
    int rc = ts_store_begin(st, err);
    if (rc < 0)
        return rc;
    char *text = ts_xstrndup(tsv, len), *save = NULL;
    bool header = true;
    for (char *line = strtok_r(text, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
        if (header) {
            header = false;
            continue;
        }
        char *cols[10] = {0};
        int nc = 0;
        for (char *p = line; p && nc < 10; nc++) {
            cols[nc] = p;
            p = strchr(p, '\t');
            if (p)
                *p++ = '\0';
        }
        if (nc < 10)
            continue;
        cols[9][strcspn(cols[9], "\r")] = '\0';
        json_t *f = json_pack("{s:s,s:s,s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:s}", "name_vi", cols[1], "name_en", cols[2],
                              "icd10", cols[3], "group", cols[4], "case_by_case", atoi(cols[5]) != 0,
                              "report_within_hours", (json_int_t)atoll(cols[6]), "cluster_cases",
                              (json_int_t)atoll(cols[7]), "cluster_days", (json_int_t)atoll(cols[8]),
                              "end_after_days", (json_int_t)atoll(cols[9]), "reference",
                              "Thông tư 54/2015/TT-BYT (tham khảo; huyện điều chỉnh được)");
        rc = ts_record_put_json(st, &who, "diseases", cols[0], f, err);
        json_decref(f);
        if (rc == 0)
            (*loaded)++;
    }
    free(text);
    if (rc == 0)
        rc = ts_store_commit(st, err);
    else
        ts_store_rollback(st);
    return rc;
}

/* ---------------------------------------------------------------- scan */

typedef struct ts__scan {
    ts_store *st;
    ts_disease_catalog cat;
    uint64_t now_ms;
    ts_epi_scan_result *out;
    ts_error *err;
    json_t *neighbours; /* station -> [station] both ways, read once per scan (ts__area) */
} ts__scan;

static int ts__sql_fail(ts__scan *s, const char *what)
{
    return ts_error_set(s->err, TS_ESTORAGE, "epidemic scan (%s): %s", what, sqlite3_errmsg(ts_store_db(s->st)));
}

/* Notes a case or report; *fresh when the district had never seen it. */
static int ts__note_seen(ts__scan *s, const char *tbl, const char *id, const char *station, const char *disease,
                         const char *kind, const char *day, bool *fresh)
{
    sqlite3 *db = ts_store_db(s->st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO epi_seen(tbl, rec_id, station, disease, kind, day, first_seen)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(tbl, rec_id) DO UPDATE SET"
                           " disease = excluded.disease, kind = excluded.kind, day = excluded.day"
                           " RETURNING first_seen = ?7",
                           -1, &q, NULL) != SQLITE_OK)
        return ts__sql_fail(s, "seen");
    sqlite3_bind_text(q, 1, tbl, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, station, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, disease, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, day, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 7, (sqlite3_int64)s->now_ms);
    int rc = sqlite3_step(q);
    *fresh = rc == SQLITE_ROW && sqlite3_column_int(q, 0) == 1;
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : ts__sql_fail(s, "seen");
}

static int ts__raise_in(ts__scan *s, const char *kind, const char *disease, const char *station,
                        const char *stations, const char *tbl, const char *id, int64_t cases, const char *first_day,
                        const char *last_day)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(s->st),
                           "INSERT OR IGNORE INTO epi_alerts(kind, disease, station, stations, rec_tbl, rec_id, cases,"
                           " first_day, last_day, created_at) VALUES(?1, ?2, ?3, ?10, ?4, ?5, ?6, ?7, ?8, ?9)",
                           -1, &q, NULL) != SQLITE_OK)
        return ts__sql_fail(s, "alert");
    sqlite3_bind_text(q, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, disease, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, station, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, tbl, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, cases);
    sqlite3_bind_text(q, 7, first_day, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 8, last_day, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 9, (sqlite3_int64)s->now_ms);
    sqlite3_bind_text(q, 10, stations ? stations : station, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    bool raised = rc == SQLITE_DONE && sqlite3_changes(ts_store_db(s->st)) == 1;
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return ts__sql_fail(s, "alert");
    if (raised)
        s->out->alerts++; /* logged once committed (ts__log_raised) */
    return 0;
}

/* The alerts a scan raised, in the log, once they are stored for good. */
static void ts__log_raised(ts_store *st, int64_t after_id)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT kind, disease, station, stations, cases, first_day, last_day FROM epi_alerts"
                           " WHERE id > ?1 ORDER BY id",
                           -1, &q, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(q, 1, after_id);
    while (sqlite3_step(q) == SQLITE_ROW)
        ts_log_warn("epidemic_alert", "kind=%s disease=%s station=%s stations=%s cases=%lld days=%s..%s",
                    (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1),
                    (const char *)sqlite3_column_text(q, 2), (const char *)sqlite3_column_text(q, 3),
                    (long long)sqlite3_column_int64(q, 4), (const char *)sqlite3_column_text(q, 5),
                    (const char *)sqlite3_column_text(q, 6));
    sqlite3_finalize(q);
}

static int ts__raise(ts__scan *s, const char *kind, const char *disease, const char *station, const char *tbl,
                     const char *id, int64_t cases, const char *first_day, const char *last_day)
{
    return ts__raise_in(s, kind, disease, station, NULL, tbl, id, cases, first_day, last_day);
}

/* One integer from a query with up to four text parameters; -1 on failure. */
static int64_t ts__count(ts__scan *s, const char *sql, const char *a, const char *b, const char *c, const char *d)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(s->st), sql, -1, &q, NULL) != SQLITE_OK)
        return -1;
    const char *args[] = {a, b, c, d};
    for (int i = 0; i < 4; i++)
        if (args[i])
            sqlite3_bind_text(q, i + 1, args[i], -1, SQLITE_STATIC);
    int64_t n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
    sqlite3_finalize(q);
    return n;
}

/* Adds b to a's neighbours (once). */
static void ts__link(json_t *map, const char *a, const char *b)
{
    json_t *list = json_object_get(map, a);
    if (list == NULL) {
        list = json_array();
        json_object_set_new(map, a, list);
    }
    size_t k;
    json_t *v;
    json_array_foreach(list, k, v)
        if (strcmp(json_string_value(v), b) == 0)
            return;
    json_array_append_new(list, json_string(b));
}

/* The station's neighbouring communes as the directory says (either side
 * naming the other is enough): the station first, then its neighbours. The
 * directory is read once per scan, at the first case that needs it. */
static void ts__area(ts__scan *s, const char *station, ts_strlist *out)
{
    if (s->neighbours == NULL) {
        s->neighbours = json_object();
        ts_change_page page;
        ts_change_page_init(&page);
        if (ts_store_list(s->st, "stations", NULL, 1000, false, &page, NULL) == 0) {
            for (uint32_t i = 0; i < page.n; i++) {
                json_t *r = ts_recjson_record(&page.items[i], false);
                size_t k;
                json_t *v;
                json_array_foreach(json_object_get(json_object_get(r, "fields"), "neighbours"), k, v) {
                    const char *code = json_string_value(v);
                    if (code == NULL || strcmp(code, page.items[i].id) == 0)
                        continue;
                    ts__link(s->neighbours, page.items[i].id, code);
                    ts__link(s->neighbours, code, page.items[i].id);
                }
                json_decref(r);
            }
        }
        ts_change_page_free(&page);
    }
    ts_strlist_add(out, station);
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(s->neighbours, station), k, v)
        ts_strlist_add(out, json_string_value(v));
}

/* Cases of the disease at each station of `area` within [from, day]: the
 * total, the first day, and the stations that had any ("a,b"). */
static int64_t ts__area_cases(ts__scan *s, const ts_disease *d, const ts_strlist *area, const char *from,
                              const char *day, char *first, size_t first_size, char *stations, size_t stations_size)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(s->st),
                           "SELECT count(*), min(day) FROM epi_seen WHERE tbl = 'disease_cases' AND station = ?1"
                           " AND disease = ?2 AND day BETWEEN ?3 AND ?4",
                           -1, &q, NULL) != SQLITE_OK)
        return -1;
    int64_t total = 0;
    first[0] = stations[0] = '\0';
    for (size_t i = 0; i < area->n; i++) {
        sqlite3_bind_text(q, 1, area->v[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, d->code, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, from, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, day, -1, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_ROW) {
            sqlite3_finalize(q);
            return -1;
        }
        int64_t n = sqlite3_column_int64(q, 0);
        if (n > 0) {
            total += n;
            const char *f = (const char *)sqlite3_column_text(q, 1);
            if (f && (!first[0] || strcmp(f, first) < 0))
                snprintf(first, first_size, "%s", f);
            size_t used = strlen(stations);
            snprintf(stations + used, stations_size - used, "%s%s", used ? "," : "", area->v[i]);
        }
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    return total;
}

/* Whether an alert (a cluster, or an outbreak a station declared) of the
 * disease already covers a station of `involved` ("a,b") since `from`. */
static int ts__covered(ts__scan *s, const ts_disease *d, const char *involved, const char *from)
{
    char *list = ts_xstrdup(involved), *save = NULL;
    int covered = 0;
    for (char *code = strtok_r(list, ",", &save); code && covered == 0; code = strtok_r(NULL, ",", &save)) {
        int64_t n = ts__count(s,
                              "SELECT count(*) FROM epi_alerts WHERE kind IN ('cluster', 'outbreak') AND disease = ?2"
                              " AND last_day >= ?3 AND (',' || stations || ',') LIKE '%,' || ?1 || ',%'",
                              code, d->code, from, NULL);
        covered = n < 0 ? -1 : n > 0;
    }
    free(list);
    return covered;
}

/* The cluster rule: cluster_cases cases of one disease within cluster_days,
 * ending on this case's day, in one commune — or, when the commune alone
 * has fewer, in it and its neighbouring communes together — raise one
 * alert, unless an alert (a cluster, or an outbreak a station declared)
 * already covers one of the communes involved. */
static int ts__cluster(ts__scan *s, const ts_disease *d, const char *station, const char *day)
{
    if (d->cluster_cases <= 0 || d->cluster_days <= 0)
        return 0;
    int64_t z = ts__day_number(day);
    if (z < 0)
        return 0;
    char from[48], first[48], involved[1024];
    ts__day_text(z - (d->cluster_days - 1), from, sizeof from);
    ts_strlist area = {NULL, 0};
    ts__area(s, station, &area);
    ts_strlist alone = {NULL, 0};
    ts_strlist_add(&alone, station);
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        const ts_strlist *where = pass == 0 ? &alone : &area;
        if (pass == 1 && area.n == 1)
            break;
        int64_t n = ts__area_cases(s, d, where, from, day, first, sizeof first, involved, sizeof involved);
        if (n < 0) {
            rc = ts__sql_fail(s, "cluster");
            break;
        }
        if (n < d->cluster_cases)
            continue;
        int covered = ts__covered(s, d, involved, from);
        if (covered < 0)
            rc = ts__sql_fail(s, "cluster");
        else if (covered == 0)
            rc = ts__raise_in(s, "cluster", d->code, station, involved, NULL, NULL, n, first[0] ? first : from, day);
        break;
    }
    ts_strlist_free(&alone);
    ts_strlist_free(&area);
    return rc;
}

static int ts__scan_case(ts__scan *s, const char *id, const ts_change *c)
{
    char disease[201] = "", day[16] = "";
    ts_recjson_text(&c->v, "disease", disease, sizeof disease);
    ts_recjson_text(&c->v, "diagnosis_date", day, sizeof day);
    const ts_disease *d = ts_disease_find(&s->cat, disease);
    const char *key = d ? d->code : disease;
    bool fresh = false;
    int rc = ts__note_seen(s, "disease_cases", id, c->owner, key, "case", day, &fresh);
    if (rc < 0 || !fresh)
        return rc;
    s->out->seen++;
    if (d && d->case_by_case && (rc = ts__raise(s, "case", key, c->owner, "disease_cases", id, 1, day, day)) < 0)
        return rc;
    return d ? ts__cluster(s, d, c->owner, day) : 0;
}

static int ts__scan_report(ts__scan *s, const char *id, const ts_change *c)
{
    char kind[32] = "", disease[201] = "", at[40] = "", onset[16] = "";
    ts_recjson_text(&c->v, "kind", kind, sizeof kind);
    bool outbreak = strncmp(kind, "outbreak_", 9) == 0;
    if (!outbreak && strcmp(kind, "case_report") != 0)
        return 0;
    ts_recjson_text(&c->v, "disease", disease, sizeof disease);
    ts_recjson_text(&c->v, "reported_at", at, sizeof at);
    ts_recjson_text(&c->v, "onset_date", onset, sizeof onset);
    char day[16]; /* the district's day of the station's time, not the day it printed */
    ts_local_day_of(at, day, sizeof day);
    const ts_disease *d = ts_disease_find(&s->cat, disease);
    const char *key = d ? d->code : disease;
    bool fresh = false;
    int rc = ts__note_seen(s, "reports", id, c->owner, key, kind, day, &fresh);
    if (rc < 0 || !fresh)
        return rc;
    s->out->seen++;
    int64_t cases = 0;
    ts_recjson_int(&c->v, "cases", &cases);
    if (strcmp(kind, "outbreak_detection") == 0)
        return ts__raise(s, "outbreak", key, c->owner, "reports", id, cases, onset[0] ? onset : day, day);
    if (strcmp(kind, "case_report") == 0 && d && d->case_by_case)
        return ts__raise(s, "case", key, c->owner, "reports", id, cases > 0 ? cases : 1, onset[0] ? onset : day, day);
    return 0;
}

int ts_epi_scan(ts_store *st, uint64_t now_ms, ts_epi_scan_result *out, ts_error *err)
{
    memset(out, 0, sizeof *out);
    ts__scan s = {st, {0}, now_ms, out, err, NULL};
    int rc = ts_disease_catalog_load(st, &s.cat, err);
    if (rc < 0)
        return rc;
    uint64_t cursor = 0;
    ts_store_meta_get_u64(st, "epi_cursor", &cursor);
    const uint64_t cursor_before = cursor;
    sqlite3_stmt *last;
    int64_t last_alert = 0;
    if (sqlite3_prepare_v2(ts_store_db(st), "SELECT coalesce(max(id), 0) FROM epi_alerts", -1, &last, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(last) == SQLITE_ROW)
            last_alert = sqlite3_column_int64(last, 0);
        sqlite3_finalize(last);
    }
    if ((rc = ts_store_begin(st, err)) < 0)
        goto done;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT tbl, id, seq FROM records WHERE tbl IN ('disease_cases', 'reports') AND seq > ?1"
                           " AND deleted = 0 ORDER BY seq LIMIT ?2",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = ts__sql_fail(&s, "changes");
        ts_store_rollback(st);
        goto done;
    }
    for (bool more = true; more && rc == 0;) {
        sqlite3_bind_int64(q, 1, (sqlite3_int64)cursor);
        sqlite3_bind_int(q, 2, TS__SCAN_PAGE);
        int n = 0, step;
        while (rc == 0 && (step = sqlite3_step(q)) == SQLITE_ROW) {
            n++;
            char tbl[32], id[TS_KEY_MAX + 1];
            snprintf(tbl, sizeof tbl, "%s", (const char *)sqlite3_column_text(q, 0));
            snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(q, 1));
            cursor = (uint64_t)sqlite3_column_int64(q, 2);
            ts_arena arena;
            ts_arena_init(&arena, 4096);
            ts_change c;
            if (ts_store_get(st, tbl, id, &c, &arena, NULL) == 0) {
                rc = strcmp(tbl, "reports") == 0 ? ts__scan_report(&s, id, &c) : ts__scan_case(&s, id, &c);
                ts_version_free(&c.v);
            }
            ts_arena_free(&arena);
        }
        if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW)
            rc = ts__sql_fail(&s, "changes");
        sqlite3_reset(q);
        more = n == TS__SCAN_PAGE;
    }
    sqlite3_finalize(q);
    if (rc == 0 && cursor == cursor_before) {
        ts_store_rollback(st); /* nothing new: nothing written (a full disk stays quiet) */
        goto done;
    }
    if (rc == 0 && ts_store_meta_set_u64(st, "epi_cursor", cursor) < 0)
        rc = ts_error_set(err, TS_ESTORAGE, "epidemic scan: cannot save its cursor");
    if (rc == 0)
        rc = ts_store_commit(st, err);
    else
        ts_store_rollback(st);
    if (rc == 0 && out->alerts > 0)
        ts__log_raised(st, last_alert);
done:
    json_decref(s.neighbours);
    ts_disease_catalog_free(&s.cat);
    return rc;
}

/* ---------------------------------------------------------------- reading */

int ts_epi_alerts(ts_store *st, bool open_only, uint32_t limit, json_t **out, ts_error *err)
{
    *out = NULL;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT a.id, a.kind, a.disease, a.station, a.rec_tbl, a.rec_id, a.cases, a.first_day,"
                           " a.last_day, a.created_at, a.ack_by, a.ack_at, u.full_name, a.stations FROM epi_alerts a"
                           " LEFT JOIN admin_users u ON u.username = a.ack_by"
                           " WHERE ?1 = 0 OR a.ack_at IS NULL ORDER BY a.id DESC LIMIT ?2",
                           -1, &q, NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "epidemic alerts: %s", sqlite3_errmsg(ts_store_db(st)));
    sqlite3_bind_int(q, 1, open_only ? 1 : 0);
    sqlite3_bind_int64(q, 2, limit);
    ts_disease_catalog cat;
    if (ts_disease_catalog_load(st, &cat, err) < 0) {
        sqlite3_finalize(q);
        return TS_ESTORAGE;
    }
    json_t *arr = json_array();
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        const char *disease = (const char *)sqlite3_column_text(q, 2);
        const ts_disease *d = ts_disease_find(&cat, disease);
        json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:I}", "id", (json_int_t)sqlite3_column_int64(q, 0),
                              "kind", (const char *)sqlite3_column_text(q, 1), "disease", disease, "disease_vi",
                              d ? d->name_vi : disease, "disease_en", d && d->name_en[0] ? d->name_en : disease,
                              "cases", (json_int_t)sqlite3_column_int64(q, 6), "first_day",
                              (const char *)sqlite3_column_text(q, 7), "last_day",
                              (const char *)sqlite3_column_text(q, 8), "created_at_ms",
                              (json_int_t)sqlite3_column_int64(q, 9));
        json_object_set_new(o, "station", json_string((const char *)sqlite3_column_text(q, 3)));
        /* the communes involved: one, or a commune and its neighbours */
        json_t *list = json_array();
        char *codes = ts_xstrdup(sqlite3_column_text(q, 13) ? (const char *)sqlite3_column_text(q, 13) : ""), *save = NULL;
        for (char *c = strtok_r(codes, ",", &save); c; c = strtok_r(NULL, ",", &save))
            json_array_append_new(list, json_string(c));
        free(codes);
        json_object_set_new(o, "stations", list);
        if (sqlite3_column_type(q, 4) != SQLITE_NULL) {
            json_object_set_new(o, "table", json_string((const char *)sqlite3_column_text(q, 4)));
            json_object_set_new(o, "record", json_string((const char *)sqlite3_column_text(q, 5)));
        }
        if (sqlite3_column_type(q, 11) != SQLITE_NULL) {
            json_object_set_new(o, "acknowledged_by", json_string((const char *)sqlite3_column_text(q, 10)));
            const char *full = (const char *)sqlite3_column_text(q, 12);
            json_object_set_new(o, "acknowledged_by_name",
                                json_string(full && full[0] ? full : (const char *)sqlite3_column_text(q, 10)));
            json_object_set_new(o, "acknowledged_at_ms", json_integer(sqlite3_column_int64(q, 11)));
        }
        json_array_append_new(arr, o);
    }
    sqlite3_finalize(q);
    ts_disease_catalog_free(&cat);
    if (step != SQLITE_DONE) {
        json_decref(arr);
        return ts_error_set(err, TS_ESTORAGE, "epidemic alerts: %s", sqlite3_errmsg(ts_store_db(st)));
    }
    *out = arr;
    return 0;
}

uint64_t ts_epi_open_alerts(ts_store *st)
{
    sqlite3_stmt *q;
    uint64_t n = 0;
    if (sqlite3_prepare_v2(ts_store_db(st), "SELECT count(*) FROM epi_alerts WHERE ack_at IS NULL", -1, &q, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            n = (uint64_t)sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    return n;
}

int ts_epi_alert_ack(ts_store *st, int64_t id, const char *by, uint64_t now_ms, bool *already, ts_error *err)
{
    *already = false;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st), "SELECT ack_at FROM epi_alerts WHERE id = ?1", -1, &q, NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "alert: %s", sqlite3_errmsg(ts_store_db(st)));
    sqlite3_bind_int64(q, 1, id);
    int step = sqlite3_step(q);
    bool acked = step == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL;
    sqlite3_finalize(q);
    if (step == SQLITE_DONE)
        return ts_error_set(err, TS_ENOT_FOUND, "no alert %" PRId64, id);
    if (step != SQLITE_ROW)
        return ts_error_set(err, TS_ESTORAGE, "alert: %s", sqlite3_errmsg(ts_store_db(st)));
    if (acked) {
        *already = true;
        return 0;
    }
    if (sqlite3_prepare_v2(ts_store_db(st), "UPDATE epi_alerts SET ack_by = ?2, ack_at = ?3 WHERE id = ?1", -1, &q,
                           NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "alert: %s", sqlite3_errmsg(ts_store_db(st)));
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_text(q, 2, by, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)now_ms);
    step = sqlite3_step(q);
    sqlite3_finalize(q);
    if (step != SQLITE_DONE)
        return ts_error_set(err, TS_ESTORAGE, "alert: %s", sqlite3_errmsg(ts_store_db(st)));
    return 0;
}

typedef struct ts__bucket {
    char station[TS_KEY_MAX + 1];
    char disease[201];
    char week[32];
    int64_t cases;
} ts__bucket;

typedef struct ts__reporting {
    char station[TS_KEY_MAX + 1];
    int64_t cases, late, on_time;
    int64_t worst_late_h;
} ts__reporting;

/* Case reports missing: a station's reports in the period (a case report,
 * an outbreak's detection or update) declare how many cases of a disease
 * it had; fewer case records of that disease filed by the station over the
 * period are cases the district was never sent one by one. By station:
 * {"missing": n, "diseases": [{disease, disease_vi, disease_en, declared, filed}]},
 * only where something is missing. */
static json_t *ts__missing(ts_store *st, const ts_disease_catalog *cat, const char *from, const char *to)
{
    json_t *declared = json_object(); /* "station\x1fdisease" -> max declared */
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT rec_id, station, disease FROM epi_seen WHERE tbl = 'reports' AND kind IN"
                           " ('case_report', 'outbreak_detection', 'outbreak_update') AND day BETWEEN ?1 AND ?2",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, from, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, to, -1, SQLITE_STATIC);
        while (sqlite3_step(q) == SQLITE_ROW) {
            ts_arena arena;
            ts_arena_init(&arena, 2048);
            ts_change c;
            int64_t cases = 0;
            if (ts_store_get(st, "reports", (const char *)sqlite3_column_text(q, 0), &c, &arena, NULL) == 0) {
                ts_recjson_int(&c.v, "cases", &cases);
                ts_version_free(&c.v);
            }
            ts_arena_free(&arena);
            char key[400];
            snprintf(key, sizeof key, "%s\x1f%s", (const char *)sqlite3_column_text(q, 1),
                     (const char *)sqlite3_column_text(q, 2));
            json_t *prev = json_object_get(declared, key);
            if (cases > 0 && (prev == NULL || json_integer_value(prev) < cases))
                json_object_set_new(declared, key, json_integer(cases));
        }
        sqlite3_finalize(q);
    }
    json_t *out = json_object();
    const char *key;
    json_t *v;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT count(*) FROM epi_seen WHERE tbl = 'disease_cases' AND station = ?1 AND disease = ?2"
                           " AND day BETWEEN ?3 AND ?4",
                           -1, &q, NULL) != SQLITE_OK) {
        json_decref(declared);
        return out;
    }
    json_object_foreach(declared, key, v) {
        char station[TS_KEY_MAX + 1], disease[201];
        const char *sep = strchr(key, '\x1f');
        snprintf(station, sizeof station, "%.*s", (int)(sep - key), key);
        snprintf(disease, sizeof disease, "%s", sep + 1);
        sqlite3_bind_text(q, 1, station, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, disease, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, from, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, to, -1, SQLITE_STATIC);
        int64_t filed = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
        sqlite3_reset(q);
        int64_t want = json_integer_value(v);
        if (filed >= want)
            continue;
        json_t *entry = json_object_get(out, station);
        if (entry == NULL) {
            entry = json_pack("{s:i,s:[]}", "missing", 0, "diseases");
            json_object_set_new(out, station, entry);
        }
        json_object_set_new(entry, "missing",
                            json_integer(json_integer_value(json_object_get(entry, "missing")) + want - filed));
        const ts_disease *d = ts_disease_find(cat, disease);
        json_array_append_new(json_object_get(entry, "diseases"),
                              json_pack("{s:s,s:s,s:s,s:I,s:I}", "disease", disease, "disease_vi",
                                        d ? d->name_vi : disease, "disease_en",
                                        d && d->name_en[0] ? d->name_en : disease, "declared", (json_int_t)want,
                                        "filed", (json_int_t)filed));
    }
    sqlite3_finalize(q);
    json_decref(declared);
    return out;
}

int ts_epi_summary(ts_store *st, const char *from, const char *to, json_t **out, ts_error *err)
{
    *out = NULL;
    ts_disease_catalog cat;
    int rc = ts_disease_catalog_load(st, &cat, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT station, disease, day, first_seen FROM epi_seen WHERE tbl = 'disease_cases'"
                           " AND day BETWEEN ?1 AND ?2 ORDER BY station, disease, day",
                           -1, &q, NULL) != SQLITE_OK) {
        ts_disease_catalog_free(&cat);
        return ts_error_set(err, TS_ESTORAGE, "epidemic summary: %s", sqlite3_errmsg(ts_store_db(st)));
    }
    sqlite3_bind_text(q, 1, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, to, -1, SQLITE_STATIC);
    ts__bucket *b = NULL;
    ts__reporting *r = NULL;
    size_t nb = 0, nr = 0;
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        const char *station = (const char *)sqlite3_column_text(q, 0);
        const char *disease = (const char *)sqlite3_column_text(q, 1);
        const char *day = (const char *)sqlite3_column_text(q, 2);
        uint64_t seen = (uint64_t)sqlite3_column_int64(q, 3);
        char week[32];
        ts__iso_week(day, week, sizeof week);
        /* rows come sorted by station, disease, day: a bucket continues the last */
        if (nb == 0 || strcmp(b[nb - 1].station, station) != 0 || strcmp(b[nb - 1].disease, disease) != 0 ||
            strcmp(b[nb - 1].week, week) != 0) {
            b = ts_xreallocarray(b, nb + 1, sizeof *b);
            memset(&b[nb], 0, sizeof *b);
            snprintf(b[nb].station, sizeof b[nb].station, "%s", station);
            snprintf(b[nb].disease, sizeof b[nb].disease, "%s", disease);
            snprintf(b[nb].week, sizeof b[nb].week, "%s", week);
            nb++;
        }
        b[nb - 1].cases++;
        if (nr == 0 || strcmp(r[nr - 1].station, station) != 0) {
            r = ts_xreallocarray(r, nr + 1, sizeof *r);
            memset(&r[nr], 0, sizeof *r);
            snprintf(r[nr].station, sizeof r[nr].station, "%s", station);
            nr++;
        }
        r[nr - 1].cases++;
        const ts_disease *d = ts_disease_find(&cat, disease);
        if (d && d->report_within_hours > 0) {
            uint64_t deadline = 0;
            ts_local_day_end(day, &deadline);
            deadline += (uint64_t)d->report_within_hours * 3600000u;
            if (seen > deadline) {
                r[nr - 1].late++;
                int64_t h = (int64_t)((seen - deadline + 3599999u) / 3600000u);
                if (h > r[nr - 1].worst_late_h)
                    r[nr - 1].worst_late_h = h;
            } else {
                r[nr - 1].on_time++;
            }
        }
    }
    sqlite3_finalize(q);
    if (step != SQLITE_DONE) {
        free(b);
        free(r);
        ts_disease_catalog_free(&cat);
        return ts_error_set(err, TS_ESTORAGE, "epidemic summary: %s", sqlite3_errmsg(ts_store_db(st)));
    }
    json_t *rows = json_array(), *rep = json_array();
    for (size_t i = 0; i < nb; i++) {
        const ts_disease *d = ts_disease_find(&cat, b[i].disease);
        json_array_append_new(rows, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "station", b[i].station, "disease",
                                              b[i].disease, "disease_vi", d ? d->name_vi : b[i].disease,
                                              "disease_en", d && d->name_en[0] ? d->name_en : b[i].disease, "week",
                                              b[i].week, "cases", (json_int_t)b[i].cases));
    }
    json_t *missing = ts__missing(st, &cat, from, to);
    for (size_t i = 0; i < nr; i++) {
        json_t *m = json_object_get(missing, r[i].station);
        json_t *by = m ? json_incref(json_object_get(m, "diseases")) : json_array();
        json_array_append_new(rep, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:o}", "station", r[i].station, "cases",
                                             (json_int_t)r[i].cases, "late", (json_int_t)r[i].late, "on_time",
                                             (json_int_t)r[i].on_time, "worst_late_hours",
                                             (json_int_t)r[i].worst_late_h, "missing",
                                             (json_int_t)json_integer_value(json_object_get(m, "missing")),
                                             "missing_by_disease", by));
        json_object_del(missing, r[i].station);
    }
    /* stations that declared cases in a report but filed none */
    const char *code;
    json_t *m;
    json_object_foreach(missing, code, m)
        json_array_append_new(rep, json_pack("{s:s,s:i,s:i,s:i,s:i,s:I,s:O}", "station", code, "cases", 0, "late", 0,
                                             "on_time", 0, "worst_late_hours", 0, "missing",
                                             (json_int_t)json_integer_value(json_object_get(m, "missing")),
                                             "missing_by_disease", json_object_get(m, "diseases")));
    json_decref(missing);
    *out = json_pack("{s:s,s:s,s:o,s:o}", "from", from, "to", to, "rows", rows, "reporting", rep);
    free(b);
    free(r);
    ts_disease_catalog_free(&cat);
    return 0;
}
