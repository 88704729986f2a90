/* The provincial plan's 2030 targets (../DOMAIN.md), per commune, computed
 * from synced records. Each station is computed in its own short store job
 * (its records are found through the audience index), and the figures are
 * kept per day, so the console reads them at once and can draw them over time.
 *
 * The denominators follow the seed's words: "dân số" is the commune's
 * population of the year (commune_population, with its source), not the
 * residents on file; "người dân sử dụng dịch vụ" counts people, not visits;
 * a yearly indicator is over the 12 months up to the day, and says so. */
#include "server/ts_targets.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/ts_calendar.h"
#include "common/ts_mp.h"
#include "common/ts_notice.h"
#include "common/ts_recjson.h"
#include "common/ts_registry.h"
#include "common/ts_xmalloc.h"
#include "server/ts_growth.h"

/* How each indicator is computed and named as computed (its window); what
 * it must reach is the loaded plan's (ts_plan_target). */
const ts_target ts_targets[TS_TARGET_COUNT] = {
    [TS_T_BHYT] = {"bhyt", "Tỷ lệ dân số tham gia bảo hiểm y tế", "Population with health insurance (BHYT)", '%', "now", false},
    [TS_T_PRIMARY_CARE] = {"primary_care_bhyt",
                           "Người dân sử dụng dịch vụ chăm sóc ban đầu tại y tế cơ sở được BHYT chi trả"
                           " (12 tháng gần nhất)",
                           "People using primary care at the station paid by health insurance (last 12 months)",
                           '%', "12m", false},
    [TS_T_DOCTOR] = {"permanent_doctor", "Trạm có ít nhất 01 bác sỹ cơ hữu",
                     "Station with at least one permanent doctor", '%', "now", true},
    [TS_T_VILLAGE_WORKER] = {"village_health_worker", "Thôn có nhân viên y tế được đào tạo chuyên môn",
                             "Villages with a trained health worker", '%', "now", false},
    [TS_T_CRITERIA] = {"commune_criteria", "Xã đạt và duy trì Bộ tiêu chí quốc gia về y tế xã",
                       "Commune meets and keeps the national commune-health criteria", '%', "now",
                       true},
    [TS_T_NCD] = {"ncd_care", "Trạm dự phòng, quản lý, điều trị bệnh không lây nhiễm",
                  "Station managing non-communicable diseases", '%', "now", true},
    [TS_T_UNDERWEIGHT] = {"underweight",
                          "Trẻ dưới 5 tuổi suy dinh dưỡng thể nhẹ cân (cân nặng/tuổi < −2 SD, chuẩn WHO;"
                          " 12 tháng gần nhất)",
                          "Under-5 underweight (weight-for-age z < −2, WHO standards; last 12 months)", '%', "12m", false},
    [TS_T_STUNTING] = {"stunting",
                       "Trẻ dưới 5 tuổi suy dinh dưỡng thể thấp còi (chiều dài/chiều cao theo tuổi < −2 SD, chuẩn"
                       " WHO; 12 tháng gần nhất)",
                       "Under-5 stunting (length/height-for-age z < −2, WHO standards; last 12 months)", '%', "12m", false},
    [TS_T_HEALTH_MANAGEMENT] = {"health_management", "Dân số được quản lý sức khỏe",
                                "Population under health management", '%', "now", false},
    [TS_T_HIGH_RISK] = {"high_risk_checked", "Người có nguy cơ cao được kiểm tra sức khỏe (12 tháng gần nhất)",
                        "High-risk people with a health check (last 12 months)", '%', "12m", false},
    [TS_T_FERTILITY] = {"fertility", "Mức sinh thay thế: số con trung bình của một phụ nữ (12 tháng gần nhất)",
                        "Replacement-level fertility: total fertility rate (last 12 months)", 'c',
                        "12m", false},
    [TS_T_SEX_RATIO] = {"sex_ratio_birth", "Tỷ số giới tính khi sinh: số bé trai/100 bé gái (12 tháng gần nhất)",
                        "Sex ratio at birth: boys per 100 girls (last 12 months)", 'b', "12m",
                        false},
    [TS_T_CHECKUP] = {"periodic_checkup",
                      "Người dân được kiểm tra sức khỏe (12 tháng gần nhất), hướng tới kiểm tra định kỳ cho toàn dân",
                      "Residents with a health check (last 12 months), towards periodic check-ups for everyone", '%', "12m", false},
};

/* ---------------------------------------------------------------- days */

/* Days since 1970-01-01 of a YYYY-MM-DD date (proleptic Gregorian), or
 * INT32_MIN when it is not one. Plain calendar arithmetic: the dates are
 * already the district's days. */
static int32_t ts__days(const char *s)
{
    if (s == NULL || strlen(s) != 10 || !ts_date_valid(s, 10))
        return INT32_MIN;
    ts_date d = {atoi(s), atoi(s + 5), atoi(s + 8)};
    return (int32_t)ts_date_days(d);
}

static void ts__ymd(int32_t z, char *out, size_t size)
{
    ts_date_fmt(ts_date_from_days(z), out, size);
}

void ts_targets_window_start(const char *day, char *out, size_t size)
{
    int y = atoi(day) - 1, m = atoi(day + 5), d = atoi(day + 8);
    /* 29 February a year before is the 28th */
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap)
        d = 28;
    char prev[40];
    snprintf(prev, sizeof prev, "%04d-%02d-%02d", y, m, d);
    int32_t z = ts__days(prev);
    if (z == INT32_MIN) {
        snprintf(out, size, "%s", day);
        return;
    }
    ts__ymd(z + 1, out, size);
}

/* Whole years from born to day (dates). */
static int ts__age_years(const char *born, const char *day)
{
    int years = atoi(day) - atoi(born);
    if (strcmp(day + 5, born + 5) < 0)
        years--;
    return years;
}

/* ---------------------------------------------------------------- fields */

static bool ts__is_true(const ts_version *v, const char *name)
{
    bool b = false;
    return ts_recjson_bool(v, name, &b) && b;
}

static int64_t ts__int(const ts_version *v, const char *name, int64_t def)
{
    int64_t r = def;
    return ts_recjson_int(v, name, &r) ? r : def;
}

/* A real field (or an int one); false when absent or of another type. */
static bool ts__real(const ts_version *v, const char *name, double *out)
{
    const ts_field *f = ts_version_field(v, name);
    if (f == NULL)
        return false;
    msgpack_unpacked up;
    if (ts_mp_unpack(f->value, f->value_len, NULL, &up, NULL) < 0)
        return false;
    bool ok = true;
    switch (up.data.type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *out = up.data.via.f64; break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)up.data.via.u64; break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)up.data.via.i64; break;
    default: ok = false;
    }
    msgpack_unpacked_destroy(&up);
    return ok;
}

/* ---------------------------------------------------------------- accumulation */

/* A resident on file, with what the indicators need of them. */
typedef struct ts__res {
    char id[TS_KEY_MAX + 1];
    char born[11];
    int32_t born_day; /* INT32_MIN: unknown */
    int sex;          /* 1 male, 2 female (the WHO's codes), 0 unknown */
    bool on_file;     /* neither moved out nor deceased */
    bool high_risk, checked, care_used, care_paid;
    /* the latest measurement of the window with a weight, a length/height */
    int32_t waz_day, haz_day;
    bool waz_ok, haz_ok; /* that measurement gave a plausible z-score */
    double waz, haz;
} ts__res;

/* 15-19 .. 45-49 */
#define TS__AGE_GROUPS 7

typedef struct ts__year {
    int64_t year;
    bool met, ncd_program;
} ts__year;

typedef struct ts__acc {
    const char *today, *from; /* the day and the first day of its 12 months */
    ts__res *res;
    size_t nres;
    int64_t on_file, insured, health_records;
    char **villages_with_worker;
    size_t nvw;
    char **villages;
    size_t nvillages;
    bool doctor;
    int64_t ncd_active;
    ts__year *years;
    size_t nyears;
    int64_t pop_year, population;
    char pop_source[200], pop_as_of[16];
    int64_t births[TS__AGE_GROUPS], boys, girls;
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

static int ts__res_cmp(const void *a, const void *b)
{
    return strcmp(((const ts__res *)a)->id, ((const ts__res *)b)->id);
}

static ts__res *ts__find(ts__acc *a, const char *id)
{
    if (id == NULL || id[0] == '\0' || a->nres == 0)
        return NULL;
    size_t lo = 0, hi = a->nres;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(id, a->res[mid].id);
        if (c == 0)
            return &a->res[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static bool ts__in_window(const ts__acc *a, const char *date)
{
    return date[0] && strcmp(date, a->from) >= 0 && strcmp(date, a->today) <= 0;
}

static void ts__resident(ts__acc *a, const char *id, const ts_version *v)
{
    char text[64];
    a->res = ts_xreallocarray(a->res, a->nres + 1, sizeof *a->res);
    ts__res *r = &a->res[a->nres++];
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", id);
    ts_recjson_text(v, "birth_date", r->born, sizeof r->born);
    r->born_day = ts__days(r->born);
    ts_recjson_text(v, "sex", text, sizeof text);
    r->sex = strcmp(text, "male") == 0 ? 1 : strcmp(text, "female") == 0 ? 2 : 0;
    r->on_file = !ts__is_true(v, "moved_out") && !ts__is_true(v, "deceased");
    r->waz_day = r->haz_day = INT32_MIN;
    if (!r->on_file)
        return;
    a->on_file++;
    char valid[16] = "";
    ts_recjson_text(v, "bhyt_valid_to", valid, sizeof valid);
    if (ts_recjson_text(v, "bhyt_number", text, sizeof text) && (valid[0] == '\0' || strcmp(valid, a->today) >= 0))
        a->insured++;
    if (ts__is_true(v, "health_record"))
        a->health_records++;
    r->high_risk = ts__is_true(v, "high_risk");
}

/* A visit: a health check (an examination: checkup or screening) marks the
 * person checked; anything but an emergency is primary care used, paid by
 * BHYT when the visit was. */
static void ts__encounter(ts__acc *a, const ts_version *v)
{
    char date[16] = "", kind[24] = "", who[TS_KEY_MAX + 1] = "";
    ts_recjson_text(v, "date", date, sizeof date);
    ts_recjson_text(v, "kind", kind, sizeof kind);
    ts_recjson_text(v, "resident_id", who, sizeof who);
    ts__res *r = ts__find(a, who);
    if (r == NULL || !r->on_file || !ts__in_window(a, date))
        return;
    if (strcmp(kind, "checkup") == 0 || strcmp(kind, "screening") == 0)
        r->checked = true;
    if (strcmp(kind, "emergency") != 0) {
        r->care_used = true;
        if (ts__is_true(v, "paid_by_bhyt"))
            r->care_paid = true;
    }
}

/* A measurement of the window: its z-scores by the WHO standards, from the
 * child's sex and age in days on the day measured; the child's latest
 * measurement of each kind is the one that counts. */
static void ts__growth(ts__acc *a, const ts_version *v)
{
    char date[16] = "", who[TS_KEY_MAX + 1] = "", how[16] = "";
    ts_recjson_text(v, "date", date, sizeof date);
    ts_recjson_text(v, "resident_id", who, sizeof who);
    ts__res *r = ts__find(a, who);
    int32_t day = ts__days(date);
    if (r == NULL || !r->on_file || r->sex == 0 || r->born_day == INT32_MIN || day == INT32_MIN ||
        !ts__in_window(a, date))
        return;
    int age = (int)(day - r->born_day);
    double kg, cm, z = 0;
    if (ts__real(v, "weight_kg", &kg) && day >= r->waz_day) {
        r->waz_day = day;
        r->waz_ok = ts_growth_waz(r->sex, age, kg, ts__is_true(v, "oedema"), &z) && ts_growth_waz_plausible(z);
        r->waz = z;
    }
    if (ts__real(v, "height_cm", &cm) && day >= r->haz_day) {
        ts_recjson_text(v, "measure", how, sizeof how);
        ts_measure m = strcmp(how, "length") == 0   ? TS_MEASURE_LENGTH
                       : strcmp(how, "height") == 0 ? TS_MEASURE_HEIGHT
                                                    : TS_MEASURE_UNKNOWN;
        r->haz_day = day;
        r->haz_ok = ts_growth_haz(r->sex, age, cm, m, &z) && ts_growth_haz_plausible(z);
        r->haz = z;
    }
}

/* A live birth of the window, by the mother's age at the birth (from the
 * birth's record, else her own). */
static void ts__birth(ts__acc *a, const ts_version *v)
{
    char date[16] = "", sex[16] = "", mother[TS_KEY_MAX + 1] = "", born[16] = "";
    ts_recjson_text(v, "birth_date", date, sizeof date);
    bool live = true;
    ts_recjson_bool(v, "live_birth", &live);
    if (!live || !ts__in_window(a, date))
        return;
    ts_recjson_text(v, "sex", sex, sizeof sex);
    if (strcmp(sex, "male") == 0)
        a->boys++;
    else if (strcmp(sex, "female") == 0)
        a->girls++;
    if (!ts_recjson_text(v, "mother_birth_date", born, sizeof born) || ts__days(born) == INT32_MIN) {
        ts_recjson_text(v, "mother_id", mother, sizeof mother);
        const ts__res *m = ts__find(a, mother);
        if (m == NULL || m->born_day == INT32_MIN)
            return;
        snprintf(born, sizeof born, "%s", m->born);
    }
    int age = ts__age_years(born, date);
    if (age >= 15 && age <= 49)
        a->births[(age - 15) / 5]++;
}

static void ts__visit(ts__acc *a, const char *table, const char *id, const ts_version *v)
{
    char text[64];
    if (strcmp(table, "encounters") == 0) {
        ts__encounter(a, v);
    } else if (strcmp(table, "child_growth") == 0) {
        ts__growth(a, v);
    } else if (strcmp(table, "births") == 0) {
        ts__birth(a, v);
    } else if (strcmp(table, "staff") == 0) {
        bool active = true;
        ts_recjson_bool(v, "active", &active);
        ts_recjson_text(v, "qualification", text, sizeof text);
        if (active && ts__is_true(v, "permanent") && strcmp(text, "doctor") == 0)
            a->doctor = true;
    } else if (strcmp(table, "village_health_workers") == 0) {
        bool active = true;
        ts_recjson_bool(v, "active", &active);
        char village[TS_KEY_MAX + 1];
        if (active && ts__is_true(v, "trained") && ts_recjson_text(v, "village_id", village, sizeof village))
            ts__push_str(&a->villages_with_worker, &a->nvw, village);
    } else if (strcmp(table, "commune_criteria") == 0) {
        int64_t year = ts__int(v, "year", 0);
        size_t i = 0;
        while (i < a->nyears && a->years[i].year != year)
            i++;
        if (i == a->nyears) {
            a->years = ts_xreallocarray(a->years, a->nyears + 1, sizeof *a->years);
            a->years[a->nyears++] = (ts__year){year, true, false};
        }
        /* two assessments of one year: met only when both say so */
        a->years[i].met = a->years[i].met && ts__is_true(v, "met");
        a->years[i].ncd_program = a->years[i].ncd_program || ts__is_true(v, "ncd_program");
    } else if (strcmp(table, "ncd_patients") == 0) {
        ts_recjson_text(v, "status", text, sizeof text);
        if (text[0] == '\0' || strcmp(text, "active") == 0)
            a->ncd_active++;
    } else if (strcmp(table, "villages") == 0) {
        ts__push_str(&a->villages, &a->nvillages, id);
    } else if (strcmp(table, "commune_population") == 0) {
        /* the figure of this year, else the latest before it */
        int64_t year = ts__int(v, "year", 0), pop = ts__int(v, "population", -1);
        if (pop < 0 || year > atoi(a->today) || year < a->pop_year)
            return;
        a->pop_year = year;
        a->population = pop;
        a->pop_source[0] = a->pop_as_of[0] = '\0';
        ts_recjson_text(v, "source", a->pop_source, sizeof a->pop_source);
        ts_recjson_text(v, "as_of", a->pop_as_of, sizeof a->pop_as_of);
    }
}

/* Every live record of the station's audience, of one table or of all but
 * it, through visit. */
static int ts__scan(ts_store *st, const char *station, const char *sql, ts__acc *a, bool residents, ts_error *err)
{
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
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
        if (ts_fields_unpack(&up.data, &v, &arena, &scratch, "targets", NULL) == 0) {
            const char *table = (const char *)sqlite3_column_text(q, 0), *id = (const char *)sqlite3_column_text(q, 1);
            if (residents)
                ts__resident(a, id, &v);
            else
                ts__visit(a, table, id, &v);
        }
        msgpack_unpacked_destroy(&up);
        ts_version_free(&v);
        ts_arena_free(&arena);
    }
    sqlite3_finalize(q);
    ts_buf_free(&scratch);
    return 0;
}

static void ts__fmt_date(const char *ymd, char *out, size_t size)
{
    if (strlen(ymd) == 10)
        snprintf(out, size, "%.2s/%.2s/%.4s", ymd + 8, ymd + 5, ymd);
    else
        snprintf(out, size, "%s", ymd);
}

/* Achieved and kept: the latest assessment is current (of this year or the
 * last), met, and, when the commune was assessed before, the year before it
 * was met too (no fall, no year without an assessment in between). */
static void ts__criteria(const ts__acc *a, ts_target_figures *out)
{
    const ts__year *latest = NULL, *before = NULL;
    bool earlier = false;
    for (size_t i = 0; i < a->nyears; i++)
        if (latest == NULL || a->years[i].year > latest->year)
            latest = &a->years[i];
    for (size_t i = 0; latest && i < a->nyears; i++) {
        if (a->years[i].year < latest->year)
            earlier = true;
        if (a->years[i].year == latest->year - 1)
            before = &a->years[i];
    }
    char *src = out->source[TS_T_CRITERIA];
    out->denominator[TS_T_CRITERIA] = 1;
    int this_year = atoi(a->today);
    if (latest == NULL) {
        snprintf(src, TS_TARGET_SOURCE_MAX, "Chưa có đánh giá");
        return;
    }
    if (latest->year < this_year - 1)
        snprintf(src, TS_TARGET_SOURCE_MAX, "Đánh giá mới nhất năm %" PRId64 ": đã cũ", latest->year);
    else if (!latest->met)
        snprintf(src, TS_TARGET_SOURCE_MAX, "Năm %" PRId64 ": không đạt", latest->year);
    else if (earlier && before == NULL)
        snprintf(src, TS_TARGET_SOURCE_MAX, "Năm %" PRId64 ": đạt; năm %" PRId64 ": chưa đánh giá", latest->year,
                 latest->year - 1);
    else if (earlier && !before->met)
        snprintf(src, TS_TARGET_SOURCE_MAX, "Năm %" PRId64 ": đạt; năm %" PRId64 ": không đạt (chưa duy trì)",
                 latest->year, before->year);
    else {
        out->numerator[TS_T_CRITERIA] = 1;
        if (before)
            snprintf(src, TS_TARGET_SOURCE_MAX, "Năm %" PRId64 " và %" PRId64 ": đạt", before->year, latest->year);
        else
            snprintf(src, TS_TARGET_SOURCE_MAX, "Năm %" PRId64 ": đạt (lần đầu)", latest->year);
    }
}

static void ts__finish(ts__acc *a, ts_target_figures *out)
{
    int64_t *num = out->numerator, *den = out->denominator;
    if (a->pop_year > 0) {
        char as_of[16] = "";
        ts__fmt_date(a->pop_as_of, as_of, sizeof as_of);
        for (int i = 0; i < 2; i++) {
            int t = i == 0 ? TS_T_BHYT : TS_T_HEALTH_MANAGEMENT;
            den[t] = a->population;
            snprintf(out->source[t], TS_TARGET_SOURCE_MAX, "Dân số năm %" PRId64 ": %s%s%s", a->pop_year,
                     a->pop_source, as_of[0] ? ", tính đến " : "", as_of);
        }
    } else {
        snprintf(out->source[TS_T_BHYT], TS_TARGET_SOURCE_MAX, "Chưa có dân số của xã");
        snprintf(out->source[TS_T_HEALTH_MANAGEMENT], TS_TARGET_SOURCE_MAX, "Chưa có dân số của xã");
    }
    num[TS_T_BHYT] = a->insured;
    num[TS_T_HEALTH_MANAGEMENT] = a->health_records;
    num[TS_T_DOCTOR] = a->doctor;
    den[TS_T_DOCTOR] = 1;
    for (size_t i = 0; i < a->nvillages; i++)
        num[TS_T_VILLAGE_WORKER] += ts__has(a->villages_with_worker, a->nvw, a->villages[i]);
    den[TS_T_VILLAGE_WORKER] = (int64_t)a->nvillages;
    ts__criteria(a, out);
    bool ncd_program = false;
    int64_t latest = 0;
    for (size_t i = 0; i < a->nyears; i++)
        if (a->years[i].year >= latest) {
            latest = a->years[i].year;
            ncd_program = a->years[i].ncd_program;
        }
    num[TS_T_NCD] = a->ncd_active > 0 || ncd_program;
    den[TS_T_NCD] = 1;

    int64_t women[TS__AGE_GROUPS] = {0};
    for (size_t i = 0; i < a->nres; i++) {
        const ts__res *r = &a->res[i];
        if (!r->on_file)
            continue;
        den[TS_T_PRIMARY_CARE] += r->care_used;
        num[TS_T_PRIMARY_CARE] += r->care_used && r->care_paid;
        den[TS_T_HIGH_RISK] += r->high_risk;
        num[TS_T_HIGH_RISK] += r->high_risk && r->checked;
        den[TS_T_CHECKUP]++;
        num[TS_T_CHECKUP] += r->checked;
        den[TS_T_UNDERWEIGHT] += r->waz_ok;
        num[TS_T_UNDERWEIGHT] += r->waz_ok && r->waz < -2;
        den[TS_T_STUNTING] += r->haz_ok;
        num[TS_T_STUNTING] += r->haz_ok && r->haz < -2;
        if (r->sex == 2 && r->born_day != INT32_MIN) {
            int age = ts__age_years(r->born, a->today);
            if (age >= 15 && age <= 49)
                women[(age - 15) / 5]++;
        }
    }
    /* total fertility: five times the sum of the age-specific rates */
    double tfr = 0;
    for (int g = 0; g < TS__AGE_GROUPS; g++) {
        num[TS_T_FERTILITY] += a->births[g];
        den[TS_T_FERTILITY] += women[g];
        if (women[g] > 0)
            tfr += 5.0 * (double)a->births[g] / (double)women[g];
    }
    out->value[TS_T_FERTILITY] = den[TS_T_FERTILITY] > 0 ? tfr : NAN;
    snprintf(out->source[TS_T_FERTILITY], TS_TARGET_SOURCE_MAX,
             "Sổ sinh (births); phụ nữ 15–49 tuổi trong hồ sơ sức khỏe");
    num[TS_T_SEX_RATIO] = a->boys;
    den[TS_T_SEX_RATIO] = a->girls;
    snprintf(out->source[TS_T_SEX_RATIO], TS_TARGET_SOURCE_MAX, "Sổ sinh (births), trẻ đẻ sống");
    snprintf(out->source[TS_T_UNDERWEIGHT], TS_TARGET_SOURCE_MAX,
             "Lần cân gần nhất của mỗi trẻ, %s – %s; chuẩn tăng trưởng WHO 2006", a->from, a->today);
    snprintf(out->source[TS_T_STUNTING], TS_TARGET_SOURCE_MAX,
             "Lần đo gần nhất của mỗi trẻ, %s – %s; chuẩn tăng trưởng WHO 2006", a->from, a->today);
}

int ts_targets_station(ts_store *st, const char *station, uint64_t now_ms, ts_target_figures *out, ts_error *err)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < TS_TARGET_COUNT; i++)
        out->value[i] = NAN;
    ts__acc a;
    memset(&a, 0, sizeof a);
    /* the district's day, and the 12 months up to it */
    char today[16], from[16];
    ts_local_day(now_ms, today, sizeof today);
    ts_targets_window_start(today, from, sizeof from);
    a.today = today;
    a.from = from;

    /* residents first, so that visits, measurements and births find them */
    int rc = ts__scan(st, station,
                      "SELECT tbl, id, fields FROM records WHERE audience = ?1 AND deleted = 0 AND tbl = 'residents'",
                      &a, true, err);
    if (rc == 0) {
        if (a.nres)
            qsort(a.res, a.nres, sizeof *a.res, ts__res_cmp);
        rc = ts__scan(st, station,
                      "SELECT tbl, id, fields FROM records WHERE audience = ?1 AND deleted = 0 AND tbl <> 'residents'",
                      &a, false, err);
    }
    if (rc == 0)
        ts__finish(&a, out);
    free(a.res);
    free(a.years);
    ts__free_list(a.villages_with_worker, a.nvw);
    ts__free_list(a.villages, a.nvillages);
    return rc;
}

double ts_target_value(int i, int64_t num, int64_t den, double stored)
{
    if (ts_targets[i].unit == 'c')
        return stored;
    if (den <= 0)
        return NAN;
    return 100.0 * (double)num / (double)den;
}

bool ts_target_met(const ts_plan_target *p, int i, int64_t num, int64_t den, double stored)
{
    double v = ts_target_value(i, num, den, stored);
    if (isnan(v) || p == NULL || !p->set)
        return false;
    switch (p->op) {
    case '>': return v > p->threshold;
    case '<': return v < p->threshold;
    case 'r': return v >= p->threshold && v <= p->high;
    case 'd': return false;
    default: return v >= 100.0;
    }
}

bool ts_targets_has_data(ts_store *st, const char *station)
{
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    /* health data the figures are computed from: the agent's own status
     * report or the station's staff list alone are not a commune's data */
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM records WHERE audience = ?1 AND owner = ?1 AND tbl IN ('residents',"
                           " 'encounters', 'ncd_patients', 'ncd_followups', 'immunizations', 'child_growth', 'staff',"
                           " 'village_health_workers', 'commune_criteria', 'births') LIMIT 1",
                           -1, &q, NULL) != SQLITE_OK)
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
                           "INSERT INTO target_snapshots(day, station, indicator, numerator, denominator, computed_at,"
                           " value, source) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                           " ON CONFLICT(day, station, indicator) DO UPDATE SET"
                           " numerator = excluded.numerator, denominator = excluded.denominator,"
                           " computed_at = excluded.computed_at, value = excluded.value, source = excluded.source",
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
        if (isnan(f->value[i]))
            sqlite3_bind_null(q, 7);
        else
            sqlite3_bind_double(q, 7, f->value[i]);
        if (f->source[i][0])
            sqlite3_bind_text(q, 8, f->source[i], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(q, 8);
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
