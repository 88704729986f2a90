/* Period keys of recurring plan tasks: pure text; the calendar's arithmetic
 * (dates, month lengths) is common/ts_calendar's. */
#include "common/ts_period.h"

#include "common/ts_calendar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ts__units[] = {"yearly", "quarterly", "monthly"};

bool ts_period_unit_parse(const char *name, ts_period_unit *out)
{
    if (name == NULL || name[0] == '\0') {
        *out = TS_PERIOD_YEARLY;
        return true;
    }
    for (int i = 0; i < 3; i++)
        if (strcmp(name, ts__units[i]) == 0) {
            *out = (ts_period_unit)i;
            return true;
        }
    return false;
}

const char *ts_period_unit_name(ts_period_unit u)
{
    return (unsigned)u < 3 ? ts__units[u] : ts__units[0];
}

static bool ts__digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool ts__year_ok(int y)
{
    return y >= 2000 && y <= 2100;
}

bool ts_period_key_of(ts_period_unit u, const char *day, char *out, size_t size)
{
    /* a day, or the day of a datetime ("2026-07-01T08:00:00+07:00") */
    char ymd[11];
    ts_date d;
    if (day == NULL || snprintf(ymd, sizeof ymd, "%.10s", day) != 10 || !ts_date_parse(ymd, &d) || !ts__year_ok(d.y))
        return false;
    int y = d.y, m = d.m;
    switch (u) {
    case TS_PERIOD_QUARTERLY: snprintf(out, size, "%04d-Q%d", y, (m - 1) / 3 + 1); break;
    case TS_PERIOD_MONTHLY: snprintf(out, size, "%04d-%02d", y, m); break;
    default: snprintf(out, size, "%04d", y); break;
    }
    return true;
}

void ts_period_key_first_of_year(ts_period_unit u, int y, char *out, size_t size)
{
    char day[16];
    snprintf(day, sizeof day, "%04d-01-01", y);
    if (!ts_period_key_of(u, day, out, size))
        snprintf(out, size, "%04d", y);
}

/* The parts of a valid key: year, and quarter or month (0 for a year). */
static bool ts__parse(const char *key, int *y, char *kind, int *n)
{
    size_t len = key ? strlen(key) : 0;
    if (len < 4 || !ts__digits(key, 4))
        return false;
    *y = atoi(key);
    if (!ts__year_ok(*y))
        return false;
    if (len == 4) {
        *kind = 'Y';
        *n = 0;
        return true;
    }
    if (len == 7 && key[4] == '-' && key[5] == 'Q' && key[6] >= '1' && key[6] <= '4') {
        *kind = 'Q';
        *n = key[6] - '0';
        return true;
    }
    if (len == 7 && key[4] == '-' && ts__digits(key + 5, 2)) {
        *kind = 'M';
        *n = atoi(key + 5);
        return *n >= 1 && *n <= 12;
    }
    return false;
}

bool ts_period_key_valid(ts_period_unit u, const char *key)
{
    int y, n;
    char kind;
    if (!ts__parse(key, &y, &kind, &n))
        return false;
    return kind == (u == TS_PERIOD_QUARTERLY ? 'Q' : u == TS_PERIOD_MONTHLY ? 'M' : 'Y');
}

/* The first and last month of a key. */
static void ts__months(const char *key, int *y, int *m1, int *m2)
{
    int n = 0;
    char kind = 'Y';
    if (!ts__parse(key, y, &kind, &n))
        *y = 2000;
    *m1 = kind == 'Q' ? 3 * n - 2 : kind == 'M' ? n : 1;
    *m2 = kind == 'Q' ? 3 * n : kind == 'M' ? n : 12;
}

void ts_period_key_first_day(const char *key, char *out, size_t size)
{
    int y, m1, m2;
    ts__months(key, &y, &m1, &m2);
    snprintf(out, size, "%04d-%02d-01", y, m1);
}

void ts_period_key_last_day(const char *key, char *out, size_t size)
{
    int y, m1, m2;
    ts__months(key, &y, &m1, &m2);
    snprintf(out, size, "%04d-%02d-%02d", y, m2, ts_month_days(y, m2));
}

void ts_period_key_next(const char *key, char *out, size_t size)
{
    int y = 2000, n = 0;
    char kind = 'Y';
    if (!ts__parse(key, &y, &kind, &n)) {
        snprintf(out, size, "%s", key ? key : "");
        return;
    }
    if (kind == 'Q')
        snprintf(out, size, "%04d-Q%d", n == 4 ? y + 1 : y, n == 4 ? 1 : n + 1);
    else if (kind == 'M')
        snprintf(out, size, "%04d-%02d", n == 12 ? y + 1 : y, n == 12 ? 1 : n + 1);
    else
        snprintf(out, size, "%04d", y + 1);
}

void ts_period_key_label(const char *key, bool en, char *out, size_t size)
{
    static const char *const roman[] = {"I", "II", "III", "IV"};
    static const char *const months[] = {"January", "February", "March",     "April",   "May",      "June",
                                         "July",    "August",   "September", "October", "November", "December"};
    int y, n;
    char kind;
    size_t len = key ? strlen(key) : 0;
    /* the calendar's other periods: halves (2026-H2) and ISO weeks (2026-W49) */
    if (len >= 7 && ts__digits(key, 4) && key[4] == '-' && (key[5] == 'H' || key[5] == 'W') &&
        ts__digits(key + 6, len - 6) && len <= 8) {
        y = atoi(key);
        n = atoi(key + 6);
        if (key[5] == 'H' && en)
            snprintf(out, size, "%s half of %d", n == 1 ? "First" : "Second", y);
        else if (key[5] == 'H')
            snprintf(out, size, "6 tháng %s năm %d", n == 1 ? "đầu" : "cuối", y);
        else
            snprintf(out, size, en ? "Week %d, %d" : "Tuần %d/%d", n, y);
        return;
    }
    /* a one-off duty's period is its day */
    if (len == 10 && ts__digits(key, 4) && key[4] == '-' && ts__digits(key + 5, 2) && key[7] == '-' &&
        ts__digits(key + 8, 2)) {
        snprintf(out, size, en ? "%.2s/%.2s/%.4s" : "Ngày %.2s/%.2s/%.4s", key + 8, key + 5, key);
        return;
    }
    if (!ts__parse(key, &y, &kind, &n))
        snprintf(out, size, "%s", key ? key : "");
    else if (kind == 'Q' && en)
        snprintf(out, size, "Q%d %d", n, y);
    else if (kind == 'Q')
        snprintf(out, size, "Quý %s/%d", roman[n - 1], y);
    else if (kind == 'M' && en)
        snprintf(out, size, "%s %d", months[n - 1], y);
    else if (kind == 'M')
        snprintf(out, size, "Tháng %d/%d", n, y);
    else if (en)
        snprintf(out, size, "%d", y);
    else
        snprintf(out, size, "Năm %d", y);
}
