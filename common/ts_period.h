/* The periods of a recurring plan task (issue 18: "a recurring plan task
 * gets one progress entry per period instead of a single done"): a year, a
 * quarter or a month, named by a key that sorts as time runs -
 * "2026" (yearly), "2026-Q3" (quarterly), "2026-07" (monthly). Days are the
 * caller's local days ("YYYY-MM-DD": on the district its day, on a station
 * the PC's): nothing here reads a clock or a time zone. */
#ifndef TS_PERIOD_H
#define TS_PERIOD_H

#include <stdbool.h>
#include <stddef.h>

typedef enum ts_period_unit {
    TS_PERIOD_YEARLY = 0, /* the default: "Từ năm 2026", "hằng năm" */
    TS_PERIOD_QUARTERLY = 1,
    TS_PERIOD_MONTHLY = 2
} ts_period_unit;

/* "yearly", "quarterly", "monthly" (NULL or "" is yearly); false for any
 * other word. */
bool ts_period_unit_parse(const char *name, ts_period_unit *out);
const char *ts_period_unit_name(ts_period_unit u);

/* The key of the period holding day ("YYYY-MM-DD"); false when day is not
 * a date. out: at least 8 bytes. */
bool ts_period_key_of(ts_period_unit u, const char *day, char *out, size_t size);
/* The first period of year y. */
void ts_period_key_first_of_year(ts_period_unit u, int y, char *out, size_t size);
/* Whether key is a period of unit u ("2026-Q5", "2026-13", "26" are not). */
bool ts_period_key_valid(ts_period_unit u, const char *key);
/* The first and the last day of a valid key ("YYYY-MM-DD"). */
void ts_period_key_first_day(const char *key, char *out, size_t size);
void ts_period_key_last_day(const char *key, char *out, size_t size);
/* The period after a valid key ("2026-Q4" -> "2027-Q1"). */
void ts_period_key_next(const char *key, char *out, size_t size);
/* A valid key for people: "Năm 2026", "Quý III/2026", "Tháng 7/2026";
 * in English "2026", "Q3 2026", "July 2026"; the calendar's halves and ISO
 * weeks too ("6 tháng cuối năm 2026", "Tuần 49/2026") and a one-off duty's
 * day ("Ngày 15/12/2026", "15/12/2026"); anything else as it is. */
void ts_period_key_label(const char *key, bool en, char *out, size_t size);

#endif
