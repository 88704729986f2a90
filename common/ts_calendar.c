/* The calendar's arithmetic: see ts_calendar.h. Days are counted from the
 * civil calendar (proleptic Gregorian) without time_t, so no time zone or
 * DST can move a boundary. */
#include "common/ts_calendar.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ts__recurrences[] = {"weekly", "monthly", "quarterly", "half_yearly", "yearly", "once"};

int ts_recurrence_parse(const char *code)
{
    for (int i = 0; code && i <= TS_REC_ONCE; i++)
        if (strcmp(code, ts__recurrences[i]) == 0)
            return i;
    return -1;
}

int ts_month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[(m - 1) % 12];
}

bool ts_date_parse(const char *s, ts_date *out)
{
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    ts_date d = {atoi(s), atoi(s + 5), atoi(s + 8)};
    if (d.y < 1 || d.m < 1 || d.m > 12 || d.d < 1 || d.d > ts_month_days(d.y, d.m))
        return false;
    *out = d;
    return true;
}

void ts_date_fmt(ts_date d, char *out, size_t size)
{
    snprintf(out, size, "%04d-%02d-%02d", d.y, d.m, d.d);
}

/* H. Hinnant's days_from_civil */
long ts_date_days(ts_date d)
{
    long y = d.m <= 2 ? d.y - 1 : d.y;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (d.m + (d.m > 2 ? -3 : 9)) + 2) / 5 + d.d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

ts_date ts_date_from_days(long z)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp < 10 ? mp + 3 : mp - 9;
    ts_date r = {(int)(m <= 2 ? y + 1 : y), (int)m, (int)d};
    return r;
}

ts_date ts_date_add_days(ts_date d, int days)
{
    return ts_date_from_days(ts_date_days(d) + days);
}

int ts_date_cmp(ts_date a, ts_date b)
{
    long x = ts_date_days(a), y = ts_date_days(b);
    return x < y ? -1 : x > y;
}

int ts_date_weekday(ts_date d)
{
    long z = ts_date_days(d); /* 1970-01-01 was a Thursday (4) */
    long w = ((z % 7) + 7 + 3) % 7; /* 0 Monday */
    return (int)w + 1;
}

static ts_date ts__ymd(int y, int m, int d)
{
    ts_date r = {y, m, d};
    return r;
}

bool ts_period_of(int rec, ts_date day, ts_period *p)
{
    memset(p, 0, sizeof *p);
    switch (rec) {
    case TS_REC_WEEKLY: {
        p->start = ts_date_add_days(day, 1 - ts_date_weekday(day));
        p->end = ts_date_add_days(p->start, 6);
        ts_date thu = ts_date_add_days(p->start, 3); /* ISO 8601: the week's year is its Thursday's */
        ts_date jan4 = ts__ymd(thu.y, 1, 4);
        ts_date week1 = ts_date_add_days(jan4, 1 - ts_date_weekday(jan4));
        snprintf(p->key, sizeof p->key, "%04d-W%02d", thu.y, (int)((ts_date_days(p->start) - ts_date_days(week1)) / 7 + 1));
        return true;
    }
    case TS_REC_MONTHLY:
        p->start = ts__ymd(day.y, day.m, 1);
        p->end = ts__ymd(day.y, day.m, ts_month_days(day.y, day.m));
        snprintf(p->key, sizeof p->key, "%04d-%02d", day.y, day.m);
        return true;
    case TS_REC_QUARTERLY: {
        int q = (day.m - 1) / 3;
        p->start = ts__ymd(day.y, q * 3 + 1, 1);
        p->end = ts__ymd(day.y, q * 3 + 3, ts_month_days(day.y, q * 3 + 3));
        snprintf(p->key, sizeof p->key, "%04d-Q%d", day.y, q + 1);
        return true;
    }
    case TS_REC_HALF_YEARLY: {
        int h = day.m <= 6 ? 0 : 1;
        p->start = ts__ymd(day.y, h * 6 + 1, 1);
        p->end = ts__ymd(day.y, h * 6 + 6, h ? 31 : 30);
        snprintf(p->key, sizeof p->key, "%04d-H%d", day.y, h + 1);
        return true;
    }
    case TS_REC_YEARLY:
        p->start = ts__ymd(day.y, 1, 1);
        p->end = ts__ymd(day.y, 12, 31);
        snprintf(p->key, sizeof p->key, "%04d", day.y);
        return true;
    default:
        return false;
    }
}

void ts_period_once(ts_date day, ts_period *p)
{
    memset(p, 0, sizeof *p);
    p->start = p->end = day;
    ts_date_fmt(day, p->key, sizeof p->key);
}

bool ts_period_next(int rec, const ts_period *p, ts_period *out)
{
    return ts_period_of(rec, ts_date_add_days(p->end, 1), out);
}

bool ts_period_prev(int rec, const ts_period *p, ts_period *out)
{
    return ts_period_of(rec, ts_date_add_days(p->start, -1), out);
}

ts_date ts_period_due(const ts_period *p, int due_days)
{
    return ts_date_add_days(p->end, due_days);
}

ts_date ts_period_meeting_day(int rec, const ts_period *p, int weekday, int day)
{
    if (rec == TS_REC_WEEKLY)
        return ts_date_add_days(p->start, (weekday >= 1 && weekday <= 7 ? weekday : 1) - 1);
    if (rec == TS_REC_ONCE || day <= 0)
        return p->start;
    int last = ts_month_days(p->start.y, p->start.m);
    return ts__ymd(p->start.y, p->start.m, day > last ? last : day);
}

/* ---------------------------------------------------------------- forms */

static const char *const ts__form_types[] = {"int", "real", "text", "date", "bool", NULL};

static bool ts__name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

bool ts_form_valid(const json_t *form, char *why, size_t why_size)
{
    if (!json_is_array(form) || json_array_size(form) > 200) {
        snprintf(why, why_size, "the form is not an array of at most 200 fields");
        return false;
    }
    size_t i;
    const json_t *f;
    json_array_foreach(form, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *type = json_string_value(json_object_get(f, "type"));
        const char *vi = json_string_value(json_object_get(f, "label_vi"));
        const char *en = json_string_value(json_object_get(f, "label_en"));
        if (!json_is_object(f) || name == NULL || !ts__name_ok(name)) {
            snprintf(why, why_size, "form[%zu].name: a name of a-z, 0-9 and _ is needed", i);
            return false;
        }
        bool known = false;
        for (int k = 0; type && ts__form_types[k]; k++)
            known = known || strcmp(type, ts__form_types[k]) == 0;
        if (!known) {
            snprintf(why, why_size, "form[%zu].type: one of int, real, text, date, bool", i);
            return false;
        }
        if (vi == NULL || vi[0] == '\0' || en == NULL || en[0] == '\0') {
            snprintf(why, why_size, "form[%zu]: label_vi and label_en are needed", i);
            return false;
        }
        const json_t *req = json_object_get(f, "required");
        if (req != NULL && !json_is_boolean(req)) {
            snprintf(why, why_size, "form[%zu].required: true or false", i);
            return false;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(json_string_value(json_object_get(json_array_get(form, k), "name")), name) == 0) {
                snprintf(why, why_size, "form[%zu].name: %s twice", i, name);
                return false;
            }
    }
    return true;
}

const json_t *ts_form_field(const json_t *form, const char *name)
{
    size_t i;
    const json_t *f;
    json_array_foreach(form, i, f) {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && strcmp(n, name) == 0)
            return f;
    }
    return NULL;
}

static bool ts__fits(const char *type, const json_t *v)
{
    if (strcmp(type, "int") == 0)
        return json_is_integer(v) && json_integer_value(v) >= 0;
    if (strcmp(type, "real") == 0)
        return json_is_number(v);
    if (strcmp(type, "bool") == 0)
        return json_is_boolean(v);
    if (strcmp(type, "date") == 0) {
        ts_date d;
        return json_is_string(v) && ts_date_parse(json_string_value(v), &d);
    }
    return json_is_string(v) && json_string_length(v) <= 2000;
}

static void ts__problem(json_t *arr, const json_t *f, const char *name, const char *problem)
{
    const char *vi = f ? json_string_value(json_object_get(f, "label_vi")) : NULL;
    const char *en = f ? json_string_value(json_object_get(f, "label_en")) : NULL;
    json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}", "field", name, "label_vi", vi ? vi : name, "label_en",
                                         en ? en : name, "problem", problem));
}

json_t *ts_form_problems(const json_t *form, const json_t *values)
{
    json_t *out = json_array();
    if (!json_is_object(values)) {
        ts__problem(out, NULL, "", "not_object");
        return out;
    }
    size_t i;
    const json_t *f;
    json_array_foreach(form, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *type = json_string_value(json_object_get(f, "type"));
        if (name == NULL || type == NULL)
            continue;
        const json_t *v = json_object_get(values, name);
        if (v == NULL || json_is_null(v)) {
            if (json_is_true(json_object_get(f, "required")))
                ts__problem(out, f, name, "required");
        } else if (!ts__fits(type, v)) {
            ts__problem(out, f, name, "type");
        }
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)values, key, v) {
        if (ts_form_field(form, key) == NULL)
            ts__problem(out, NULL, key, "unknown");
    }
    return out;
}

const char *const ts_report_status_codes[TS_REPORT_STATUSES] = {"on_time", "late",    "missing",
                                                                "pending", "invalid", "not_owed"};

const char *ts_report_status_label(const char *status, bool en)
{
    static const char *const words[TS_REPORT_STATUSES][2] = {
        {"Đúng hạn", "On time"},         {"Nộp muộn", "Late"},
        {"Chưa nộp", "Missing"},         {"Chưa đến hạn", "Not due yet"},
        {"Sai mẫu", "Does not fit the form"}, {"Không phải nộp", "Not expected"}};
    for (size_t i = 0; i < TS_REPORT_STATUSES; i++)
        if (strcmp(status, ts_report_status_codes[i]) == 0)
            return words[i][en ? 1 : 0];
    return status;
}

const char *ts_form_problem_text(const char *problem, bool en)
{
    if (strcmp(problem, "required") == 0)
        return en ? "missing (required)" : "còn thiếu (bắt buộc)";
    if (strcmp(problem, "type") == 0)
        return en ? "not a value of its kind" : "giá trị không đúng loại";
    if (strcmp(problem, "unknown") == 0)
        return en ? "not in the form" : "không có trong mẫu báo cáo";
    return en ? "the values are not a list of fields" : "số liệu không đúng dạng";
}

json_t *ts_form_value_from_text(const json_t *field, const char *text)
{
    const char *type = json_string_value(json_object_get(field, "type"));
    if (type == NULL || text == NULL)
        return NULL;
    char *end = NULL;
    if (strcmp(type, "int") == 0) {
        long long v = strtoll(text, &end, 10);
        return text[0] && *end == '\0' && v >= 0 ? json_integer(v) : NULL;
    }
    if (strcmp(type, "real") == 0) {
        double v = strtod(text, &end);
        return text[0] && *end == '\0' && isfinite(v) ? json_real(v) : NULL;
    }
    if (strcmp(type, "bool") == 0) {
        if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0 || strcmp(text, "co") == 0 ||
            strcmp(text, "có") == 0)
            return json_true();
        if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0 || strcmp(text, "khong") == 0 ||
            strcmp(text, "không") == 0)
            return json_false();
        return NULL;
    }
    if (strcmp(type, "date") == 0) {
        ts_date d;
        return ts_date_parse(text, &d) ? json_string(text) : NULL;
    }
    return strlen(text) <= 2000 ? json_string(text) : NULL;
}
