/* Deadline phrases of a provincial plan's task list (seed 003's appendix). */
#include "server/ts_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_registry.h"

static bool ts__leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int ts__month_days(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && ts__leap(y) ? 29 : days[m - 1];
}

/* "D tháng M năm Y" or "D/M/Y" at p; false when neither. */
static bool ts__date_at(const char *p, int *y, int *m, int *d)
{
    char *end = NULL;
    long dd = strtol(p, &end, 10);
    if (end == p)
        return false;
    long mm, yy;
    if (*end == '/') {
        p = end + 1;
        mm = strtol(p, &end, 10);
        if (end == p || *end != '/')
            return false;
        p = end + 1;
        yy = strtol(p, &end, 10);
        if (end == p)
            return false;
    } else {
        const char *t = strstr(end, "tháng ");
        const char *n = strstr(end, "năm ");
        if (t == NULL || n == NULL || t > n)
            return false;
        mm = strtol(t + strlen("tháng "), NULL, 10);
        yy = strtol(n + strlen("năm "), NULL, 10);
    }
    if (yy < 2000 || yy > 2100 || mm < 1 || mm > 12 || dd < 1 || dd > ts__month_days((int)yy, (int)mm))
        return false;
    *y = (int)yy;
    *m = (int)mm;
    *d = (int)dd;
    return true;
}

/* The year after "năm " or "/" that follows p. */
static int ts__year_after(const char *p)
{
    while (*p == ' ')
        p++;
    if (*p == '/')
        return atoi(p + 1);
    if (strncmp(p, "năm ", strlen("năm ")) == 0)
        return atoi(p + strlen("năm "));
    return 0;
}

bool ts_plan_deadline_parse(const char *text, ts_plan_deadline *out)
{
    memset(out, 0, sizeof *out);
    if (text == NULL)
        return false;
    const char *from = strstr(text, "Từ năm ");
    if (from == NULL)
        from = strstr(text, "từ năm ");
    if (from) {
        int y = atoi(from + strlen("Từ năm "));
        out->recurring = true;
        out->from_year = y >= 2000 && y <= 2100 ? y : 0;
        return true;
    }
    if (strstr(text, "thường xuyên") || strstr(text, "Thường xuyên")) {
        out->recurring = true;
        return true;
    }
    const char *q = strstr(text, "Quý ");
    if (q) {
        /* the longer numerals first: "Quý I" is also the start of "Quý III" */
        static const char *const quarters[] = {"IV", "III", "II", "I"};
        static const char *const ends[] = {"12-31", "09-30", "06-30", "03-31"};
        q += strlen("Quý ");
        for (int i = 0; i < 4; i++) {
            size_t n = strlen(quarters[i]);
            if (strncmp(q, quarters[i], n) != 0)
                continue;
            int y = ts__year_after(q + n);
            if (y < 2000 || y > 2100)
                return false;
            snprintf(out->date, sizeof out->date, "%04d-%s", y, ends[i]);
            return true;
        }
        return false;
    }
    const char *day = strstr(text, "ngày ");
    if (day == NULL)
        day = strstr(text, "Ngày ");
    const char *p = day ? day + strlen("ngày ") : text + strspn(text, " ");
    int y, m, d;
    if (!ts__date_at(p, &y, &m, &d))
        return false;
    if (strstr(text, "Trước") || strstr(text, "trước")) {
        /* to be done before that day: its eve is the last day */
        if (--d == 0) {
            if (--m == 0) {
                m = 12;
                y--;
            }
            d = ts__month_days(y, m);
        }
    }
    snprintf(out->date, sizeof out->date, "%04d-%02d-%02d", y, m, d);
    return ts_date_valid(out->date, strlen(out->date));
}
