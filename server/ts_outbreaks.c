/* See ts_epidemic.h, "outbreaks". An outbreak is a shared record the district
 * writes and the stations it names may update (status, counts, last case);
 * its timeline is gathered from what points at it: the station's reports
 * (the one that declared it, and any with its outbreak_id or about its
 * disease at its stations since it started) and the district's notices
 * with its outbreak_id. Declaring its end is the district's: it checks the
 * disease's days without a new case and tells every station concerned. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/ts_log.h"
#include "common/ts_notice.h"
#include "common/ts_recjson.h"
#include "common/ts_xmalloc.h"
#include "server/ts_epidemic.h"

static json_t *ts__get_fields(ts_store *st, const char *table, const char *id, char *owner, size_t owner_size,
                              ts_error *err)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    json_t *f = NULL;
    if (ts_store_get(st, table, id, &c, &arena, err) == 0) {
        if (ts_version_deleted(&c.v)) {
            ts_error_set(err, TS_ENOT_FOUND, "%s/%s does not exist", table, id);
        } else {
            json_t *r = ts_recjson_record(&c, false);
            f = json_incref(json_object_get(r, "fields"));
            json_decref(r);
            if (owner)
                snprintf(owner, owner_size, "%s", c.owner);
        }
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    return f;
}

int ts_outbreak_open(ts_store *st, const ts_actor *who, const char *report_id, const char *const *also, size_t nalso,
                     char *id_out, size_t id_size, ts_error *err)
{
    char owner[TS_KEY_MAX + 1];
    json_t *rep = ts__get_fields(st, "reports", report_id, owner, sizeof owner, err);
    if (rep == NULL)
        return err->code ? err->code : TS_ENOT_FOUND;
    int rc = 0;
    if (strncmp(ts_json_str(rep, "kind"), "outbreak_", 9) != 0 || ts_json_str(rep, "disease")[0] == '\0') {
        rc = ts_error_set(err, TS_EBAD_VALUE, "reports/%s is not an outbreak report naming a disease", report_id);
        goto done;
    }
    ts_disease_catalog cat;
    if ((rc = ts_disease_catalog_load(st, &cat, err)) < 0)
        goto done;
    const ts_disease *d = ts_disease_find(&cat, ts_json_str(rep, "disease"));
    json_t *stations = json_array();
    json_array_append_new(stations, json_string(owner));
    for (size_t i = 0; i < nalso; i++)
        if (strcmp(also[i], owner) != 0)
            json_array_append_new(stations, json_string(also[i]));
    char started[16];
    snprintf(started, sizeof started, "%s", ts_json_str(rep, "onset_date")[0] ? ts_json_str(rep, "onset_date") : "");
    if (!started[0])
        ts_local_day_of(ts_json_str(rep, "reported_at"), started, sizeof started); /* the district's day */
    json_t *f = json_pack("{s:s,s:o,s:s,s:s,s:s}", "disease", d ? d->name_vi : ts_json_str(rep, "disease"), "stations",
                          stations, "status", "detected", "started_on", started, "source_report", report_id);
    ts_disease_catalog_free(&cat);
    json_t *v;
    if ((v = json_object_get(rep, "cases")) && json_is_integer(v))
        json_object_set(f, "cases_total", v);
    if ((v = json_object_get(rep, "deaths")) && json_is_integer(v))
        json_object_set(f, "deaths", v);
    ts_new_record_id("OD", id_out, id_size);
    rc = ts_record_put_json(st, who, "outbreaks", id_out, f, err);
    json_decref(f);
done:
    json_decref(rep);
    return rc;
}

/* The stations an outbreak names. */
static void ts__stations(const json_t *ob, ts_strlist *out)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(ob, "stations"), i, s)
        if (json_is_string(s))
            ts_strlist_add(out, json_string_value(s));
}

static bool ts__has(const ts_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

/* The last case of the outbreak's disease at its stations since it started
 * (as the district has them), or its own last_case_on when later. */
static void ts__last_case(ts_store *st, const char *code, const ts_strlist *stations, const json_t *ob, char *out,
                          size_t size)
{
    snprintf(out, size, "%s", ts_json_str(ob, "started_on"));
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT max(day) FROM epi_seen WHERE tbl = 'disease_cases' AND disease = ?1 AND station = ?2"
                           " AND day >= ?3",
                           -1, &q, NULL) != SQLITE_OK)
        return;
    for (size_t i = 0; i < stations->n; i++) {
        sqlite3_bind_text(q, 1, code, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, stations->v[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, ts_json_str(ob, "started_on"), -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0) &&
            strcmp((const char *)sqlite3_column_text(q, 0), out) > 0)
            snprintf(out, size, "%s", (const char *)sqlite3_column_text(q, 0));
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    if (strcmp(ts_json_str(ob, "last_case_on"), out) > 0)
        snprintf(out, size, "%s", ts_json_str(ob, "last_case_on"));
}

/* Notices about the outbreak (their outbreak_id), each with its recipients'
 * states counted; the union of their recipients goes to *reached. */
static json_t *ts__notices_about(ts_store *st, const char *id, ts_strlist *reached, ts_error *err)
{
    json_t *arr = json_array();
    ts_change_page page;
    ts_change_page_init(&page);
    char after[TS_KEY_MAX + 2] = "";
    for (;;) {
        if (ts_store_list(st, "notices", after[0] ? after : NULL, 500, false, &page, err) < 0) {
            ts_change_page_free(&page);
            json_decref(arr);
            return NULL;
        }
        for (uint32_t i = 0; i < page.n; i++) {
            char about[TS_KEY_MAX + 1];
            if (!ts_recjson_text(&page.items[i].v, "outbreak_id", about, sizeof about) || strcmp(about, id) != 0)
                continue;
            json_t *summary = NULL;
            if (ts_notice_summary(st, page.items[i].id, &summary, NULL) == 0) {
                size_t k;
                json_t *r;
                json_array_foreach(json_object_get(summary, "recipients"), k, r)
                    if (!ts__has(reached, ts_json_str(r, "station")))
                        ts_strlist_add(reached, ts_json_str(r, "station"));
                json_array_append_new(arr, summary);
            }
        }
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    return arr;
}

static int ts__entry_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(ts_json_str(x, "at"), ts_json_str(y, "at"));
}

/* The outbreak as ts_outbreak_show gives it; the stations its notices went
 * to are added to *reached. */
static int ts__show(ts_store *st, const char *id, json_t **out, ts_strlist *reached, ts_error *err)
{
    *out = NULL;
    json_t *ob = ts__get_fields(st, "outbreaks", id, NULL, 0, err);
    if (ob == NULL)
        return err->code ? err->code : TS_ENOT_FOUND;
    ts_disease_catalog cat;
    int rc = ts_disease_catalog_load(st, &cat, err);
    if (rc < 0) {
        json_decref(ob);
        return rc;
    }
    const ts_disease *d = ts_disease_find(&cat, ts_json_str(ob, "disease"));
    const char *code = d ? d->code : ts_json_str(ob, "disease");
    ts_strlist stations = {NULL, 0};
    ts__stations(ob, &stations);
    json_t *timeline = json_array(), *by_day = json_array();

    /* the stations' reports about it */
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT rec_id, station, kind, day FROM epi_seen WHERE tbl = 'reports' AND disease = ?1"
                           " AND kind LIKE 'outbreak%' ORDER BY day",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, code, -1, SQLITE_STATIC);
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *rid = (const char *)sqlite3_column_text(q, 0);
            const char *station = (const char *)sqlite3_column_text(q, 1);
            if (!ts__has(&stations, station))
                continue;
            json_t *rep = ts__get_fields(st, "reports", rid, NULL, 0, NULL);
            if (rep == NULL)
                continue;
            const char *link = ts_json_str(rep, "outbreak_id");
            bool ours = strcmp(rid, ts_json_str(ob, "source_report")) == 0 || strcmp(link, id) == 0 ||
                        (link[0] == '\0' && strcmp((const char *)sqlite3_column_text(q, 3), ts_json_str(ob, "started_on")) >= 0);
            if (ours) {
                json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:s}", "at", ts_json_str(rep, "reported_at"), "kind",
                                      (const char *)sqlite3_column_text(q, 2), "station", station, "report", rid,
                                      "subject", ts_json_str(rep, "subject"));
                static const char *const keep[] = {"cases", "deaths", "onset_date", "location", "reported_by"};
                for (size_t k = 0; k < sizeof keep / sizeof *keep; k++)
                    if (json_object_get(rep, keep[k]))
                        json_object_set(e, keep[k], json_object_get(rep, keep[k]));
                json_array_append_new(timeline, e);
            }
            json_decref(rep);
        }
        sqlite3_finalize(q);
    }
    /* the district's notices about it */
    json_t *notices = ts__notices_about(st, id, reached, err);
    if (notices == NULL) {
        rc = err->code ? err->code : TS_ESTORAGE;
        goto fail;
    }
    size_t i;
    json_t *n;
    json_array_foreach(notices, i, n) {
        json_t *recips = json_object_get(n, "recipients"), *r;
        json_int_t acked = 0;
        size_t k;
        json_array_foreach(recips, k, r) {
            const char *state = ts_json_str(r, "state");
            acked += strcmp(state, "acknowledged") == 0 || strcmp(state, "in_progress") == 0 || strcmp(state, "done") == 0;
        }
        const json_t *nf = json_object_get(n, "fields");
        json_array_append_new(timeline, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "at", ts_json_str(nf, "sent_at"), "kind",
                                                  "notice", "notice", ts_json_str(n, "id"), "subject", ts_json_str(nf, "subject"),
                                                  "urgency", ts_json_str(nf, "urgency"), "recipients",
                                                  (json_int_t)json_array_size(recips), "acknowledged", acked));
    }
    json_decref(notices);
    /* cases by day, as the district has them */
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT day, count(*) FROM epi_seen WHERE tbl = 'disease_cases' AND disease = ?1 AND"
                           " station = ?2 AND day >= ?3 AND (?4 = '' OR day <= ?4) GROUP BY day",
                           -1, &q, NULL) == SQLITE_OK) {
        json_t *days = json_object();
        for (size_t s = 0; s < stations.n; s++) {
            sqlite3_bind_text(q, 1, code, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 2, stations.v[s], -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 3, ts_json_str(ob, "started_on"), -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 4, ts_json_str(ob, "ended_on"), -1, SQLITE_STATIC);
            while (sqlite3_step(q) == SQLITE_ROW) {
                const char *day = (const char *)sqlite3_column_text(q, 0);
                json_t *c = json_object_get(days, day);
                json_object_set_new(days, day, json_integer((c ? json_integer_value(c) : 0) + sqlite3_column_int64(q, 1)));
            }
            sqlite3_reset(q);
        }
        sqlite3_finalize(q);
        const char *day;
        json_t *c;
        json_object_foreach(days, day, c)
            json_array_append_new(by_day, json_pack("{s:s,s:O}", "day", day, "cases", c));
        json_decref(days);
    }
    if (strcmp(ts_json_str(ob, "status"), "ended") == 0)
        json_array_append_new(timeline, json_pack("{s:s,s:s,s:s,s:s}", "at", ts_json_str(ob, "ended_on"), "kind",
                                                  "declared_end", "by", ts_json_str(ob, "ended_by"), "reason",
                                                  ts_json_str(ob, "end_reason")));
    {
        size_t nt = json_array_size(timeline);
        json_t **items = ts_xcalloc(nt ? nt : 1, sizeof *items);
        for (size_t k = 0; k < nt; k++)
            items[k] = json_incref(json_array_get(timeline, k));
        qsort(items, nt, sizeof *items, ts__entry_cmp);
        json_array_clear(timeline);
        for (size_t k = 0; k < nt; k++)
            json_array_append_new(timeline, items[k]);
        free(items);
    }
    char last[16], from[16] = "";
    ts__last_case(st, code, &stations, ob, last, sizeof last);
    if (d && d->end_after_days > 0 && last[0])
        ts_epi_day_add(last, (int)d->end_after_days, from, sizeof from);
    else
        snprintf(from, sizeof from, "%s", last);
    json_t *o = json_pack("{s:s,s:O,s:s,s:s,s:I,s:s,s:s,s:o,s:o}", "id", id, "fields", ob, "disease", code,
                          "disease_vi", d ? d->name_vi : code, "end_after_days",
                          (json_int_t)(d ? d->end_after_days : 0), "last_case_on", last, "can_end_from", from,
                          "cases_by_day", by_day, "timeline", timeline);
    json_object_set_new(o, "disease_en", json_string(d && d->name_en[0] ? d->name_en : code));
    *out = o;
    json_decref(ob);
    ts_strlist_free(&stations);
    ts_disease_catalog_free(&cat);
    return 0;
fail:
    json_decref(timeline);
    json_decref(by_day);
    json_decref(ob);
    ts_strlist_free(&stations);
    ts_disease_catalog_free(&cat);
    return rc;
}

int ts_outbreak_show(ts_store *st, const char *id, json_t **out, ts_error *err)
{
    ts_strlist reached = {NULL, 0};
    int rc = ts__show(st, id, out, &reached, err);
    ts_strlist_free(&reached);
    return rc;
}

int ts_outbreak_list(ts_store *st, json_t **out, ts_error *err)
{
    *out = NULL;
    ts_disease_catalog cat;
    int rc = ts_disease_catalog_load(st, &cat, err);
    if (rc < 0)
        return rc;
    json_t *arr = json_array();
    ts_change_page page;
    ts_change_page_init(&page);
    char after[TS_KEY_MAX + 2] = "";
    for (;;) {
        if ((rc = ts_store_list(st, "outbreaks", after[0] ? after : NULL, 500, false, &page, err)) < 0)
            break;
        for (uint32_t i = 0; i < page.n; i++) {
            json_t *r = ts_recjson_record(&page.items[i], false);
            json_t *f = json_object_get(r, "fields");
            const ts_disease *d = ts_disease_find(&cat, ts_json_str(f, "disease"));
            json_t *o = json_pack("{s:s,s:O,s:s,s:s,s:s}", "id", page.items[i].id, "fields", f, "disease",
                                  d ? d->code : ts_json_str(f, "disease"), "disease_vi", d ? d->name_vi : ts_json_str(f, "disease"),
                                  "disease_en", d && d->name_en[0] ? d->name_en : ts_json_str(f, "disease"));
            json_array_insert_new(arr, 0, o); /* ids grow with the day: newest first */
            json_decref(r);
        }
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    ts_disease_catalog_free(&cat);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

int ts_outbreak_end(ts_store *st, const ts_actor *who, const char *id, const char *today, bool force,
                    const char *reason, ts_outbreak_refusal *refusal, char *can_end_from, size_t can_size,
                    char *notice_out, size_t notice_size, ts_strlist *recipients, ts_error *err)
{
    *refusal = TS_OUTBREAK_OK;
    can_end_from[0] = '\0';
    json_t *show = NULL;
    ts_strlist reached = {NULL, 0};
    int rc = ts__show(st, id, &show, &reached, err);
    if (rc < 0) {
        ts_strlist_free(&reached);
        return rc;
    }
    json_t *ob = json_object_get(show, "fields");
    snprintf(can_end_from, can_size, "%s", ts_json_str(show, "can_end_from"));
    if (strcmp(ts_json_str(ob, "status"), "ended") == 0) {
        *refusal = TS_OUTBREAK_ALREADY_ENDED;
        json_decref(show);
        ts_strlist_free(&reached);
        return 0;
    }
    if (!force && can_end_from[0] && strcmp(today, can_end_from) < 0) {
        *refusal = TS_OUTBREAK_TOO_EARLY;
        json_decref(show);
        ts_strlist_free(&reached);
        return 0;
    }
    json_t *f = json_pack("{s:s,s:s,s:s}", "status", "ended", "ended_on", today, "ended_by", who->name);
    if (reason && reason[0])
        json_object_set_new(f, "end_reason", json_string(reason));
    rc = ts_record_put_json(st, who, "outbreaks", id, f, err);
    json_decref(f);
    if (rc < 0) {
        json_decref(show);
        ts_strlist_free(&reached);
        return rc;
    }
    /* everyone concerned: the stations it names and those its notices reached */
    ts__stations(ob, recipients);
    for (size_t i = 0; i < reached.n; i++)
        if (!ts__has(recipients, reached.v[i]))
            ts_strlist_add(recipients, reached.v[i]);
    ts_strlist_free(&reached);
    const char *disease_vi = ts_json_str(show, "disease_vi");
    char started[16], last[16], ended[16];
    ts_vn_date(ts_json_str(ob, "started_on"), started, sizeof started);
    ts_vn_date(ts_json_str(show, "last_case_on"), last, sizeof last);
    ts_vn_date(today, ended, sizeof ended);
    ts_buf body = TS_BUF_INIT;
    ts_buf_printf(&body, "Trung tâm Y tế khu vực công bố kết thúc ổ dịch %s.\nNgày phát hiện: %s\nCa bệnh cuối cùng: %s\n",
                  disease_vi, started, last);
    if (json_is_integer(json_object_get(ob, "cases_total")))
        ts_buf_printf(&body, "Tổng số ca: %" JSON_INTEGER_FORMAT "\n", json_integer_value(json_object_get(ob, "cases_total")));
    if (json_is_integer(json_object_get(ob, "deaths")))
        ts_buf_printf(&body, "Số tử vong: %" JSON_INTEGER_FORMAT "\n", json_integer_value(json_object_get(ob, "deaths")));
    ts_buf_printf(&body, "Ngày công bố kết thúc: %s\n", ended);
    if (reason && reason[0])
        ts_buf_printf(&body, "Lý do: %s\n", reason);
    ts_buf_printf(&body, "\nCác trạm tiếp tục giám sát ca bệnh và báo cáo ngay khi có ca mới.");
    char subject[400];
    snprintf(subject, sizeof subject, "Công bố kết thúc ổ dịch %s (phát hiện ngày %s)", disease_vi, started);
    json_t *nf = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "doc_type", "thong_bao", "subject", subject, "body",
                           "", "category", "prevention", "urgency", "khan", "issuer", "Trung tâm Y tế khu vực",
                           "outbreak_id", id, "disease", disease_vi);
    json_object_set_new(nf, "body", json_stringn((const char *)body.data, body.len));
    ts_buf_free(&body);
    if (json_is_integer(json_object_get(ob, "cases_total")))
        json_object_set(nf, "cases", json_object_get(ob, "cases_total"));
    rc = ts_notice_create(st, who, nf, recipients, notice_out, notice_size, err);
    json_decref(nf);
    json_decref(show);
    return rc;
}
