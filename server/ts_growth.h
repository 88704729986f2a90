/* The WHO Child Growth Standards (2006) for children under five: z-scores of
 * weight-for-age and length/height-for-age by the LMS method, from the WHO's
 * tables by sex and age in days (server/data/who/, docs/DEPENDENCIES.md says
 * where they come from). Underweight and stunting are z < -2. */
#ifndef TS_GROWTH_H
#define TS_GROWTH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/ts_error.h"

typedef struct ts_lms {
    double l, m, s;
} ts_lms;

/* One indicator's table: rows[sex - 1][age in days], sex 1 male, 2 female. */
typedef struct ts_growth_table {
    ts_lms *rows[2];
    int n[2];
} ts_growth_table;

/* Loads a table in the WHO's format (the anthro/igrowup files): a header
 * naming at least the columns sex, age, l, m and s (in any order, separated
 * by tabs or spaces; others such as loh ignored), then one row per sex and
 * age in days, ages of a sex consecutive from 0. Anything else is refused
 * with the line that is wrong; nothing is kept then. */
int ts_growth_table_load(ts_growth_table *t, const char *text, size_t len, ts_error *err);
void ts_growth_table_free(ts_growth_table *t);

/* The tables built into the daemon (weianthro, lenanthro); loaded once, on
 * first use, from any thread. NULL when the built-in data is broken (logged). */
const ts_growth_table *ts_growth_wfa(void);
const ts_growth_table *ts_growth_lfa(void);

typedef enum ts_measure { TS_MEASURE_UNKNOWN, TS_MEASURE_LENGTH, TS_MEASURE_HEIGHT } ts_measure;

/* The z-score of y for sex (1, 2) and age in days, rounded to two decimals
 * as the WHO's software does; restricted: beyond +/-3 SD the distance is
 * measured in the SD of the 2-3 SD band (the WHO's adjustment for weight).
 * false when the table has no row for them or y <= 0. */
bool ts_growth_z(const ts_growth_table *t, int sex, int age_days, double y, bool restricted, double *z);

/* Weight-for-age: none with oedema (the weight is not the child's). */
bool ts_growth_waz(int sex, int age_days, double weight_kg, bool oedema, double *z);
/* Length/height-for-age: the standards are of length lying down before two
 * years (731 days) and of height standing after; a child measured the other
 * way is corrected by 0.7 cm first. An unknown way is taken as the standard
 * one for the age. */
bool ts_growth_haz(int sex, int age_days, double cm, ts_measure how, double *z);

/* Implausible z-scores the WHO leaves out of prevalences: weight-for-age
 * below -6 or above +5, length/height-for-age beyond +/-6. */
bool ts_growth_waz_plausible(double z);
bool ts_growth_haz_plausible(double z);

/* Under five in the WHO's sense: age in months (days / 30.4375) below 60. */
bool ts_growth_under_five(int age_days);

#endif
