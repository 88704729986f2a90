/* The provincial plan's 2030 targets (../DOMAIN.md), per commune, computed
 * from synced records. Each station is computed in its own short store job
 * (its records are found through the audience index), and the figures are
 * kept per day, so the console reads them at once and can draw them over time. */
#include "server/ts_targets.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/ts_mp.h"
#include "common/ts_notice.h"
#include "common/ts_recjson.h"
#include "common/ts_xmalloc.h"

const ts_target ts_targets[TS_TARGET_COUNT] = {
    {"bhyt", "Dân số tham gia bảo hiểm y tế", "Population with health insurance (BHYT)", '>', 97.0},
    {"primary_care_bhyt", "Khám chữa bệnh ban đầu được BHYT chi trả", "Primary-care visits paid by insurance", '>', 95.0},
    {"permanent_doctor", "Trạm có ít nhất 01 bác sỹ cơ hữu", "Station with at least one permanent doctor", '=', 100.0},
    {"village_health_worker", "Thôn có nhân viên y tế được đào tạo", "Villages with a trained health worker", '=', 100.0},
    {"commune_criteria", "Đạt Bộ tiêu chí quốc gia về y tế xã", "Meets the national commune-health criteria", '=', 100.0},
    {"ncd_care", "Trạm dự phòng, quản lý, điều trị bệnh không lây nhiễm", "Station managing non-communicable diseases",
     '=', 100.0},
    {"underweight", "Trẻ dưới 5 tuổi suy dinh dưỡng thể nhẹ cân", "Under-5 underweight", '<', 5.5},
    {"stunting", "Trẻ dưới 5 tuổi suy dinh dưỡng thể thấp còi", "Under-5 stunting", '<', 8.0},
    {"health_management", "Dân số được quản lý sức khỏe", "Population under health management", '>', 98.0},
    {"high_risk_checked", "Người nguy cơ cao được kiểm tra sức khỏe trong năm", "High-risk people checked this year",
     '=', 100.0},
};

static bool ts__bool(const ts_version *v, const char *name, bool *out)
{
    const ts_field *f = ts_version_field(v, name);
    if (f == NULL || f->value_len != 1 || (f->value[0] != 0xc2 && f->value[0] != 0xc3))
        return false;
    *out = f->value[0] == 0xc3;
    return true;
}

static bool ts__is_true(const ts_version *v, const char *name)
{
    bool b = false;
    return ts__bool(v, name, &b) && b;
}

static int64_t ts__int(const ts_version *v, const char *name, int64_t def)
{
    const ts_field *f = ts_version_field(v, name);
    if (f == NULL)
        return def;
    msgpack_unpacked up;
    if (ts_mp_unpack(f->value, f->value_len, NULL, &up, NULL) < 0)
        return def;
    int64_t r = def;
    if (up.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        r = (int64_t)up.data.via.u64;
    else if (up.data.type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        r = up.data.via.i64;
    msgpack_unpacked_destroy(&up);
    return r;
}

typedef struct ts__child {
    char resident[TS_KEY_MAX + 1];
    char date[16];
    bool underweight, stunted;
} ts__child;

typedef struct ts__acc {
    int64_t num[TS_TARGET_COUNT];
    int64_t den[TS_TARGET_COUNT];
    ts__child *children;
    size_t nchildren;
    char **checked; /* residents checked within the year */
    size_t nchecked;
    char **high_risk;
    size_t nhigh;
    char **villages_with_worker;
    size_t nvw;
    char **villages;
    size_t nvillages;
    int64_t residents;
    int64_t health_records;
    int64_t criteria_year;
    bool criteria_met;
    bool ncd_program;
    int64_t ncd_active;
} ts__acc;

static void ts__push_str(char ***list, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*list)[i], s) == 0)
            return;
    *list = ts_xreallocarray(*list, *n + 1, sizeof **list);
    (*list)[(*n)++] = ts_xstrdup(s);
}

static bool ts__has(char **list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

static void ts__free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static void ts__visit(ts__acc *a, const char *table, const char *id, const ts_version *v, const char *today,
                      const char *year_ago)
{
    char text[64];
    if (strcmp(table, "residents") == 0) {
        if (ts__is_true(v, "moved_out") || ts__is_true(v, "deceased"))
            return;
        a->residents++;
        a->den[0]++;
        char valid[16] = "";
        ts_recjson_text(v, "bhyt_valid_to", valid, sizeof valid);
        if (ts_recjson_text(v, "bhyt_number", text, sizeof text) && (valid[0] == '\0' || strcmp(valid, today) >= 0))
            a->num[0]++;
        if (ts__is_true(v, "health_record"))
            a->health_records++;
        if (ts__is_true(v, "high_risk"))
            ts__push_str(&a->high_risk, &a->nhigh, id);
    } else if (strcmp(table, "encounters") == 0) {
        char date[16] = "";
        ts_recjson_text(v, "date", date, sizeof date);
        if (strcmp(date, year_ago) < 0)
            return;
        a->den[1]++;
        if (ts__is_true(v, "paid_by_bhyt"))
            a->num[1]++;
        char kind[24] = "", resident[TS_KEY_MAX + 1] = "";
        ts_recjson_text(v, "kind", kind, sizeof kind);
        ts_recjson_text(v, "resident_id", resident, sizeof resident);
        if (resident[0] && (strcmp(kind, "checkup") == 0 || strcmp(kind, "screening") == 0 ||
                            strcmp(kind, "home_visit") == 0 || strcmp(kind, "visit") == 0))
            ts__push_str(&a->checked, &a->nchecked, resident);
    } else if (strcmp(table, "staff") == 0) {
        bool active = true;
        ts__bool(v, "active", &active);
        ts_recjson_text(v, "qualification", text, sizeof text);
        if (active && ts__is_true(v, "permanent") && strcmp(text, "doctor") == 0)
            a->num[2] = 1;
    } else if (strcmp(table, "village_health_workers") == 0) {
        bool active = true;
        ts__bool(v, "active", &active);
        char village[TS_KEY_MAX + 1];
        if (active && ts__is_true(v, "trained") && ts_recjson_text(v, "village_id", village, sizeof village))
            ts__push_str(&a->villages_with_worker, &a->nvw, village);
    } else if (strcmp(table, "commune_criteria") == 0) {
        int64_t year = ts__int(v, "year", 0);
        if (year >= a->criteria_year) {
            a->criteria_year = year;
            a->criteria_met = ts__is_true(v, "met");
            a->ncd_program = a->ncd_program || ts__is_true(v, "ncd_program");
        }
    } else if (strcmp(table, "ncd_patients") == 0) {
        ts_recjson_text(v, "status", text, sizeof text);
        if (text[0] == '\0' || strcmp(text, "active") == 0)
            a->ncd_active++;
    } else if (strcmp(table, "villages") == 0) {
        ts__push_str(&a->villages, &a->nvillages, id);
    } else if (strcmp(table, "child_growth") == 0) {
        char resident[TS_KEY_MAX + 1] = "", date[16] = "";
        ts_recjson_text(v, "resident_id", resident, sizeof resident);
        ts_recjson_text(v, "date", date, sizeof date);
        if (ts__int(v, "age_months", 99) >= 60 || resident[0] == '\0')
            return;
        /* each child counts once, by the latest measurement */
        for (size_t i = 0; i < a->nchildren; i++) {
            if (strcmp(a->children[i].resident, resident) == 0) {
                if (strcmp(date, a->children[i].date) >= 0) {
                    snprintf(a->children[i].date, sizeof a->children[i].date, "%s", date);
                    a->children[i].underweight = ts__is_true(v, "underweight");
                    a->children[i].stunted = ts__is_true(v, "stunted");
                }
                return;
            }
        }
        a->children = ts_xreallocarray(a->children, a->nchildren + 1, sizeof *a->children);
        ts__child *c = &a->children[a->nchildren++];
        snprintf(c->resident, sizeof c->resident, "%s", resident);
        snprintf(c->date, sizeof c->date, "%s", date);
        c->underweight = ts__is_true(v, "underweight");
        c->stunted = ts__is_true(v, "stunted");
    }
}

int ts_targets_station(ts_store *st, const char *station, uint64_t now_ms, ts_target_figures *out, ts_error *err)
{
    memset(out, 0, sizeof *out);
    ts__acc a;
    memset(&a, 0, sizeof a);
    /* the district's days */
    char today[16], year_ago[16];
    ts_local_day(now_ms, today, sizeof today);
    ts_local_day(now_ms - 365ull * 86400000ull, year_ago, sizeof year_ago);

    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT tbl, id, fields FROM records WHERE audience = ?1 AND deleted = 0", -1, &q,
                           NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "targets: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(q, 1, station, -1, SQLITE_STATIC);
    ts_arena arena;
    ts_arena_init(&arena, 16384);
    ts_buf scratch = TS_BUF_INIT;
    while (sqlite3_step(q) == SQLITE_ROW) {
        msgpack_unpacked up;
        if (ts_mp_unpack(sqlite3_column_blob(q, 2), (size_t)sqlite3_column_bytes(q, 2), NULL, &up, NULL) < 0)
            continue;
        ts_version v;
        ts_version_init(&v);
        if (ts_fields_unpack(&up.data, &v, &arena, &scratch, "targets", NULL) == 0)
            ts__visit(&a, (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1), &v, today,
                      year_ago);
        msgpack_unpacked_destroy(&up);
        ts_version_free(&v);
        ts_arena_free(&arena);
    }
    sqlite3_finalize(q);
    ts_buf_free(&scratch);

    /* population comes from the district's directory */
    int64_t population = 0, villages_ok = 0;
    ts_change c;
    ts_arena_init(&arena, 8192);
    if (ts_store_get(st, "stations", station, &c, &arena, err) == 0) {
        population = ts__int(&c.v, "population", 0);
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    for (size_t i = 0; i < a.nvillages; i++)
        villages_ok += ts__has(a.villages_with_worker, a.nvw, a.villages[i]);

    a.den[2] = 1; /* num set above */
    a.num[3] = villages_ok;
    a.den[3] = (int64_t)a.nvillages;
    a.num[4] = a.criteria_met;
    a.den[4] = 1;
    a.num[5] = a.ncd_active > 0 || a.ncd_program;
    a.den[5] = 1;
    for (size_t i = 0; i < a.nchildren; i++) {
        a.num[6] += a.children[i].underweight;
        a.num[7] += a.children[i].stunted;
    }
    a.den[6] = a.den[7] = (int64_t)a.nchildren;
    a.num[8] = a.health_records;
    a.den[8] = population > 0 ? population : a.residents;
    for (size_t i = 0; i < a.nhigh; i++)
        a.num[9] += ts__has(a.checked, a.nchecked, a.high_risk[i]);
    a.den[9] = (int64_t)a.nhigh;

    for (int i = 0; i < TS_TARGET_COUNT; i++) {
        out->numerator[i] = a.num[i];
        out->denominator[i] = a.den[i];
    }
    free(a.children);
    ts__free_list(a.checked, a.nchecked);
    ts__free_list(a.high_risk, a.nhigh);
    ts__free_list(a.villages_with_worker, a.nvw);
    ts__free_list(a.villages, a.nvillages);
    return 0;
}

bool ts_target_met(int i, int64_t num, int64_t den)
{
    if (den <= 0)
        return false;
    double pct = 100.0 * (double)num / (double)den;
    switch (ts_targets[i].op) {
    case '>': return pct > ts_targets[i].threshold;
    case '<': return pct < ts_targets[i].threshold;
    default: return pct >= ts_targets[i].threshold;
    }
}

bool ts_targets_has_data(ts_store *st, const char *station)
{
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM records WHERE audience = ?1 AND owner = ?1 LIMIT 1", -1, &q, NULL) !=
        SQLITE_OK)
        return false;
    sqlite3_bind_text(q, 1, station, -1, SQLITE_STATIC);
    bool found = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    return found;
}

int ts_targets_save(ts_store *st, const char *station, const char *day, uint64_t computed_at,
                    const ts_target_figures *f, ts_error *err)
{
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO target_snapshots(day, station, indicator, numerator, denominator, computed_at)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(day, station, indicator) DO UPDATE SET"
                           " numerator = excluded.numerator, denominator = excluded.denominator,"
                           " computed_at = excluded.computed_at",
                           -1, &q, NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "targets: %s", sqlite3_errmsg(db));
    /* all of a station's figures or none; a COMMIT that fails (a full disk)
     * is a failure too, and leaves no transaction open behind it */
    int rc = ts_store_begin(st, err);
    for (int i = 0; i < TS_TARGET_COUNT && rc == 0; i++) {
        sqlite3_bind_text(q, 1, day, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, station, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, ts_targets[i].code, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, f->numerator[i]);
        sqlite3_bind_int64(q, 5, f->denominator[i]);
        sqlite3_bind_int64(q, 6, (sqlite3_int64)computed_at);
        if (sqlite3_step(q) != SQLITE_DONE) {
            rc = ts_error_set(err, TS_ESTORAGE, "targets: %s", sqlite3_errmsg(db));
            ts_store_rollback(st);
        }
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    if (rc == 0)
        rc = ts_store_commit(st, err);
    return rc;
}
