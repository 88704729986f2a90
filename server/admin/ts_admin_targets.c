/* The 2030 targets: each commune's figures on the latest day computed, their
 * history, and asking for a new computation (done by the core's targets job,
 * one station at a time). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/ts_xmalloc.h"
#include "server/admin/ts_admin_int.h"
#include "server/ts_plan.h"
#include "server/ts_targets.h"

/* Each indicator as computed (vi/en name the figure and its window) with
 * what the plan in force asks of it (op, threshold, year and the plan's own
 * words, plan_vi/plan_en); in_plan false, op null when the plan does not
 * name it (nothing to meet). */
static json_t *ts__target_defs(const ts_plan_target *plan)
{
    json_t *arr = json_array();
    for (int i = 0; i < TS_TARGET_COUNT; i++) {
        const ts_target *t = &ts_targets[i];
        const ts_plan_target *p = &plan[i];
        char op[2] = {p->op, 0}, unit[2] = {t->unit, 0};
        json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "code", t->code, "vi", t->vi, "en", t->en, "unit", unit,
                              "period", t->period, "in_plan", p->set);
        json_object_set_new(d, "op", p->set ? json_string(op) : json_null());
        json_object_set_new(d, "threshold", p->set && !isnan(p->threshold) ? json_real(p->threshold) : json_null());
        if (p->set && p->op == 'r')
            json_object_set_new(d, "high", json_real(p->high));
        if (p->set) {
            json_object_set_new(d, "year", json_integer(p->year));
            json_object_set_new(d, "plan_vi", json_string(p->label_vi));
            json_object_set_new(d, "plan_en", json_string(p->label_en));
            if (p->note[0])
                json_object_set_new(d, "note", json_string(p->note));
        }
        json_array_append_new(arr, d);
    }
    return arr;
}

/* The plan in force, as the targets page names it; null when none. */
static json_t *ts__plan_json(const ts_plan_info *info)
{
    if (info->version == 0)
        return json_null();
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:I}", "version", (json_int_t)info->version, "name", info->name,
                     "issuer", info->issuer, "date", info->date, "notes", info->notes, "loaded_at_ms",
                     (json_int_t)info->loaded_at_ms);
}

static int ts__target_index(const char *code)
{
    for (int i = 0; i < TS_TARGET_COUNT; i++)
        if (strcmp(ts_targets[i].code, code) == 0)
            return i;
    return -1;
}

static json_t *ts__real_or_null(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

/* A figure: the numbers behind it, its value in the target's unit (percent
 * kept as "percent" for shares), whether it meets the target (null for a
 * direction), and the source of its denominator. */
static json_t *ts__figure(const ts_plan_target *plan, int i, int64_t num, int64_t den, double stored,
                          const char *source)
{
    double v = ts_target_value(i, num, den, stored);
    json_t *o = json_pack("{s:I,s:I}", "numerator", (json_int_t)num, "denominator", (json_int_t)den);
    json_object_set_new(o, "met", !plan[i].set || plan[i].op == 'd'
                                      ? json_null()
                                      : json_boolean(ts_target_met(&plan[i], i, num, den, stored)));
    json_object_set_new(o, "percent", ts_targets[i].unit == '%' ? ts__real_or_null(v) : json_null());
    json_object_set_new(o, "value", ts__real_or_null(v));
    if (source && source[0])
        json_object_set_new(o, "source", json_string(source));
    return o;
}

/* GET /api/targets[?q=&only=unmet&indicator=&offset=&limit=]: each commune
 * against each 2030 target on the latest day computed, with the numerator
 * and denominator behind every figure, and the district as a whole. */
void ts_admin__api_targets(ts_admin__job *j, ts_store *st)
{
    static const char *const onlys[] = {"all", "unmet", NULL};
    char only[8], indicator[48] = "", needle[256];
    uint32_t offset, limit;
    bool paged = ts_admin__has_paging(j);
    if (!ts_admin__q_enum(j, "only", onlys, only, sizeof only) ||
        !ts_admin__q_uint(j, "offset", 0, UINT32_MAX, &offset) ||
        !ts_admin__q_uint(j, "limit", paged ? 50 : UINT32_MAX, paged ? 500 : UINT32_MAX, &limit))
        return;
    if (ts_admin__q(j, "indicator", indicator, sizeof indicator) && ts__target_index(indicator) < 0) {
        ts_admin__fail(j, 400, "BAD_REQUEST", "indicator must be one of the targets' codes");
        return;
    }
    if (limit == 0)
        limit = 50;
    ts_admin__q_search(j, needle, sizeof needle);
    ts_plan_info plan_info;
    ts_plan_target plan[TS_TARGET_COUNT];
    ts_error perr;
    if (ts_plan_current(st, &plan_info, plan, &perr) < 0) {
        ts_admin__fail_err(j, &perr);
        return;
    }
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    char day[16] = "";
    if (sqlite3_prepare_v2(db, "SELECT max(day) FROM target_snapshots", -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
            snprintf(day, sizeof day, "%s", (const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
    }
    /* one row per station, in station order (the primary key's), in C;
     * JSON only for the page */
    typedef struct fig_row {
        char station[TS_KEY_MAX + 1];
        int64_t num[TS_TARGET_COUNT], den[TS_TARGET_COUNT];
        double value[TS_TARGET_COUNT];
        char *source[TS_TARGET_COUNT];
        bool have[TS_TARGET_COUNT];
        int64_t computed_at;
    } fig_row;
    fig_row *rows = NULL;
    size_t nrows = 0, cap = 0;
    int64_t tot_num[TS_TARGET_COUNT] = {0}, tot_den[TS_TARGET_COUNT] = {0};
    /* a value that is not numerator/denominator (total fertility): the
     * district's is the communes' weighted by their denominators */
    double tot_weighted[TS_TARGET_COUNT] = {0};
    if (day[0] && sqlite3_prepare_v2(db,
                                     "SELECT station, indicator, numerator, denominator, computed_at, value, source"
                                     " FROM target_snapshots WHERE day = ?1 ORDER BY station",
                                     -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, day, -1, SQLITE_STATIC);
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *station = (const char *)sqlite3_column_text(q, 0);
            int i = ts__target_index((const char *)sqlite3_column_text(q, 1));
            /* a commune's account: its communes' figures, and totals of those */
            if (i < 0 || station == NULL || !ts_admin__in_scope(j, station))
                continue;
            if (nrows == 0 || strcmp(rows[nrows - 1].station, station) != 0) {
                if (nrows == cap) {
                    cap = cap ? cap * 2 : 64;
                    rows = ts_xreallocarray(rows, cap, sizeof *rows);
                }
                memset(&rows[nrows], 0, sizeof *rows);
                snprintf(rows[nrows].station, sizeof rows[nrows].station, "%s", station);
                nrows++;
            }
            fig_row *r = &rows[nrows - 1];
            int64_t num = sqlite3_column_int64(q, 2), den = sqlite3_column_int64(q, 3);
            r->num[i] = num;
            r->den[i] = den;
            r->value[i] = sqlite3_column_type(q, 5) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 5);
            const char *src = (const char *)sqlite3_column_text(q, 6);
            free(r->source[i]);
            r->source[i] = src ? ts_xstrdup(src) : NULL;
            r->have[i] = true;
            if (!isnan(r->value[i]))
                tot_weighted[i] += r->value[i] * (double)den;
            if (sqlite3_column_int64(q, 4) > r->computed_at)
                r->computed_at = sqlite3_column_int64(q, 4);
            /* district totals: per-station yes/no indicators count stations */
            if (ts_targets[i].per_station) {
                tot_num[i] += num > 0;
                tot_den[i] += 1;
            } else {
                tot_num[i] += num;
                tot_den[i] += den;
            }
        }
        sqlite3_finalize(q);
    }
    ts_admin__dir_load(j->adm, st);
    int want = indicator[0] ? ts__target_index(indicator) : -1;
    fig_row **items = ts_xcalloc(nrows ? nrows : 1, sizeof *items);
    size_t n = 0;
    for (size_t r = 0; r < nrows; r++) {
        const ts_admin__dir_entry *e = ts_admin__dir_find(j->adm, rows[r].station);
        if (needle[0]) {
            char fold_code[TS_KEY_MAX + 1];
            ts_admin__fold(rows[r].station, fold_code, sizeof fold_code);
            if (!strstr(e ? e->fold : fold_code, needle))
                continue;
        }
        if (strcmp(only, "unmet") == 0) {
            bool unmet = false;
            for (int i = 0; i < TS_TARGET_COUNT; i++)
                if (rows[r].have[i] && (want < 0 || want == i) && plan[i].set && plan[i].op != 'd' &&
                    !ts_target_met(&plan[i], i, rows[r].num[i], rows[r].den[i], rows[r].value[i]))
                    unmet = true;
            if (!unmet)
                continue;
        }
        items[n++] = &rows[r];
    }
    /* whether each station synced since its figures were computed: a
     * connected station is in sync (its changes come as they are made);
     * otherwise its last push or catch-up must come after the computation */
    ts_admin__stations sts;
    ts_admin__collect_stations(j, st, &sts);
    json_t *arr = json_array();
    for (size_t r = offset; r < n && r < (size_t)offset + limit; r++) {
        const ts_admin__dir_entry *e = ts_admin__dir_find(j->adm, items[r]->station);
        json_t *figures = json_object();
        for (int i = 0; i < TS_TARGET_COUNT; i++)
            if (items[r]->have[i])
                json_object_set_new(figures, ts_targets[i].code, ts__figure(plan, i, items[r]->num[i], items[r]->den[i],
                                                                          items[r]->value[i], items[r]->source[i]));
        json_t *c = json_pack("{s:s,s:o}", "station", items[r]->station, "figures", figures);
        const ts_admin__st *o = NULL;
        for (size_t k = 0; k < sts.n && o == NULL; k++)
            if (strcmp(sts.v[k].code, items[r]->station) == 0)
                o = &sts.v[k];
        int64_t synced = o ? o->last_sync : 0;
        bool connected = o && o->connected;
        json_object_set_new(c, "computed_at_ms", json_integer(items[r]->computed_at));
        json_object_set_new(c, "synced_at_ms", json_integer(synced));
        json_object_set_new(c, "connected", json_boolean(connected));
        json_object_set_new(c, "stale", json_boolean(!connected && synced < items[r]->computed_at));
        if (e && json_is_string(json_object_get(e->fields, "commune")))
            json_object_set_new(c, "commune", json_string(ts_admin__str(e->fields, "commune")));
        json_array_append_new(arr, c);
    }
    ts_admin__stations_free(&sts);
    free(items);
    for (size_t r = 0; r < nrows; r++)
        for (int i = 0; i < TS_TARGET_COUNT; i++)
            free(rows[r].source[i]);
    free(rows);
    json_t *total = json_object();
    for (int i = 0; i < TS_TARGET_COUNT; i++)
        json_object_set_new(total, ts_targets[i].code,
                            ts__figure(plan, i, tot_num[i], tot_den[i],
                                       tot_den[i] > 0 ? tot_weighted[i] / (double)tot_den[i] : NAN, NULL));
    ts_admin__ok(j, 200,
                 json_pack("{s:s,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:I}", "day", day, "plan", ts__plan_json(&plan_info),
                           "targets", ts__target_defs(plan), "communes", arr, "district", total, "total", (json_int_t)nrows, "matched", (json_int_t)n, "offset",
                           (json_int_t)offset, "limit", (json_int_t)(limit == UINT32_MAX ? (uint32_t)n : limit)));
}

void ts_admin__api_targets_history(ts_admin__job *j, ts_store *st)
{
    char station[TS_KEY_MAX + 1] = "", indicator[48] = "";
    ts_admin__q(j, "station", station, sizeof station);
    ts_admin__q(j, "indicator", indicator, sizeof indicator);
    int idx = ts__target_index(indicator);
    if (idx < 0) {
        ts_admin__fail(j, 400, "BAD_REQUEST", "indicator must be one of the targets' codes");
        return;
    }
    /* the district's history sums every commune: not for a commune's account
     * (the station, when given, was checked to be theirs) */
    if (!station[0] && j->scope != TS_ADMIN_SCOPE_ALL) {
        ts_admin__fail(j, 400, "BAD_REQUEST", "station is required (an account limited to communes)");
        return;
    }
    ts_plan_info plan_info;
    ts_plan_target plan[TS_TARGET_COUNT];
    ts_error perr;
    if (ts_plan_current(st, &plan_info, plan, &perr) < 0) {
        ts_admin__fail_err(j, &perr);
        return;
    }
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT day, sum(numerator), sum(denominator), count(*), sum(numerator > 0),"
                           " sum(value * denominator), max(source)"
                           " FROM target_snapshots WHERE indicator = ?1 AND (?2 = '' OR station = ?2)"
                           " GROUP BY day ORDER BY day DESC LIMIT 400",
                           -1, &q, NULL) != SQLITE_OK) {
        ts_admin__fail(j, 500, "INTERNAL", "internal error");
        return;
    }
    sqlite3_bind_text(q, 1, indicator, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, station, -1, SQLITE_STATIC);
    json_t *arr = json_array();
    bool per_station = ts_targets[idx].per_station;
    while (sqlite3_step(q) == SQLITE_ROW) {
        int64_t num = per_station && !station[0] ? sqlite3_column_int64(q, 4) : sqlite3_column_int64(q, 1);
        int64_t den = per_station && !station[0] ? sqlite3_column_int64(q, 3) : sqlite3_column_int64(q, 2);
        /* one station's value, or the communes' weighted by their denominators */
        double stored = sqlite3_column_type(q, 5) == SQLITE_NULL || sqlite3_column_int64(q, 2) <= 0
                            ? NAN
                            : sqlite3_column_double(q, 5) / (double)sqlite3_column_int64(q, 2);
        json_t *f = ts__figure(plan, idx, num, den, stored, station[0] ? (const char *)sqlite3_column_text(q, 6) : NULL);
        json_object_set_new(f, "day", json_string((const char *)sqlite3_column_text(q, 0)));
        json_array_insert_new(arr, 0, f);
    }
    sqlite3_finalize(q);
    ts_admin__ok(j, 200, json_pack("{s:s,s:s,s:o}", "indicator", indicator, "station", station, "points", arr));
}

/* The computation itself runs after the answer (the core's targets job);
 * the request is audited first, which also tells a disk that cannot take
 * the figures now (500) from a computation that started (202). */
void ts_admin__api_targets_refresh(ts_admin__job *j, ts_store *st)
{
    if (ts_admin__audit(j, st, "refresh_targets", NULL, NULL, "ok", NULL) < 0) {
        ts_admin__fail_storage(j, "the audit entry");
        return;
    }
    j->refresh_targets = true;
    ts_admin__ok(j, 202, json_pack("{s:s}", "result", "computing"));
}
