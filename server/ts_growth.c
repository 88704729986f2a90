/* WHO Child Growth Standards: the LMS tables and the z-scores computed from
 * them, as the WHO's anthro software does (its z-score helpers are the
 * reference for the rounding, the restricted weight z-score and the 0.7 cm
 * length/height correction). */
#include "server/ts_growth.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_log.h"
#include "common/ts_xmalloc.h"

extern const unsigned char ts_who_weianthro[];
extern const size_t ts_who_weianthro_len;
extern const unsigned char ts_who_lenanthro[];
extern const size_t ts_who_lenanthro_len;

/* a column index per name, -1 when absent */
enum { TS__COL_SEX, TS__COL_AGE, TS__COL_L, TS__COL_M, TS__COL_S, TS__COLS };

#define TS__MAX_FIELDS 16

/* Splits a line (tabs or spaces) into at most TS__MAX_FIELDS fields, in place. */
static int ts__split(char *line, char **fields)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, " \t\r", &save); tok && n < TS__MAX_FIELDS; tok = strtok_r(NULL, " \t\r", &save))
        fields[n++] = tok;
    return n;
}

static bool ts__number(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

int ts_growth_table_load(ts_growth_table *t, const char *text, size_t len, ts_error *err)
{
    memset(t, 0, sizeof *t);
    char *copy = ts_xstrndup(text, len);
    int col[TS__COLS] = {-1, -1, -1, -1, -1};
    static const char *const names[TS__COLS] = {"sex", "age", "l", "m", "s"};
    int cap[2] = {0, 0}, rc = 0, lineno = 0, ncols = 0;
    bool header = true;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *f[TS__MAX_FIELDS];
        int n = ts__split(line, f);
        if (n == 0)
            continue;
        if (header) {
            header = false;
            ncols = n;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < TS__COLS; k++)
                    if (strcmp(f[i], names[k]) == 0)
                        col[k] = i;
            for (int k = 0; k < TS__COLS && rc == 0; k++)
                if (col[k] < 0)
                    rc = ts_error_set(err, TS_EBAD_VALUE, "growth table: the header has no column %s", names[k]);
            continue;
        }
        double v[TS__COLS];
        if (n != ncols) {
            rc = ts_error_set(err, TS_EBAD_VALUE, "growth table line %d: %d columns, the header has %d", lineno, n,
                              ncols);
            break;
        }
        for (int k = 0; k < TS__COLS && rc == 0; k++)
            if (!ts__number(f[col[k]], &v[k]))
                rc = ts_error_set(err, TS_EBAD_VALUE, "growth table line %d: %s is not a number", lineno, names[k]);
        if (rc < 0)
            break;
        int sex = (int)v[TS__COL_SEX], age = (int)v[TS__COL_AGE];
        if ((sex != 1 && sex != 2) || v[TS__COL_SEX] != sex) {
            rc = ts_error_set(err, TS_EBAD_VALUE, "growth table line %d: sex must be 1 or 2", lineno);
            break;
        }
        int k = sex - 1;
        /* the z-score of an age is that age's row: a gap or a repeated age
         * would give some child another age's standard */
        if (v[TS__COL_AGE] != age || age != t->n[k]) {
            rc = ts_error_set(err, TS_EBAD_VALUE, "growth table line %d: age %s where %d was expected", lineno,
                              f[col[TS__COL_AGE]], t->n[k]);
            break;
        }
        if (v[TS__COL_M] <= 0 || v[TS__COL_S] <= 0 || v[TS__COL_L] == 0) {
            rc = ts_error_set(err, TS_EBAD_VALUE, "growth table line %d: M and S must be above 0, L not 0", lineno);
            break;
        }
        if (t->n[k] == cap[k]) {
            cap[k] = cap[k] ? cap[k] * 2 : 2048;
            t->rows[k] = ts_xreallocarray(t->rows[k], (size_t)cap[k], sizeof *t->rows[k]);
        }
        t->rows[k][t->n[k]++] = (ts_lms){v[TS__COL_L], v[TS__COL_M], v[TS__COL_S]};
    }
    if (rc == 0 && header)
        rc = ts_error_set(err, TS_EBAD_VALUE, "growth table: empty");
    if (rc == 0 && (t->n[0] == 0 || t->n[1] == 0))
        rc = ts_error_set(err, TS_EBAD_VALUE, "growth table: rows for both sexes are needed");
    free(copy);
    if (rc < 0)
        ts_growth_table_free(t);
    return rc;
}

void ts_growth_table_free(ts_growth_table *t)
{
    for (int k = 0; k < 2; k++) {
        free(t->rows[k]);
        t->rows[k] = NULL;
        t->n[k] = 0;
    }
}

static ts_growth_table ts__wfa, ts__lfa;
static bool ts__loaded;
static pthread_once_t ts__once = PTHREAD_ONCE_INIT;

static void ts__load_builtin(void)
{
    ts_error err;
    if (ts_growth_table_load(&ts__wfa, (const char *)ts_who_weianthro, ts_who_weianthro_len, &err) < 0) {
        ts_log_error("growth_table_bad", "table=weianthro reason=%s", err.msg);
        return;
    }
    if (ts_growth_table_load(&ts__lfa, (const char *)ts_who_lenanthro, ts_who_lenanthro_len, &err) < 0) {
        ts_log_error("growth_table_bad", "table=lenanthro reason=%s", err.msg);
        ts_growth_table_free(&ts__wfa);
        return;
    }
    ts__loaded = true;
}

const ts_growth_table *ts_growth_wfa(void)
{
    pthread_once(&ts__once, ts__load_builtin);
    return ts__loaded ? &ts__wfa : NULL;
}

const ts_growth_table *ts_growth_lfa(void)
{
    pthread_once(&ts__once, ts__load_builtin);
    return ts__loaded ? &ts__lfa : NULL;
}

/* the measure at z SDs from the median */
static double ts__at_sd(const ts_lms *r, double sd)
{
    return r->m * pow(1.0 + r->l * r->s * sd, 1.0 / r->l);
}

bool ts_growth_z(const ts_growth_table *t, int sex, int age_days, double y, bool restricted, double *z)
{
    if (t == NULL || (sex != 1 && sex != 2) || age_days < 0 || age_days >= t->n[sex - 1] || !(y > 0))
        return false;
    const ts_lms *r = &t->rows[sex - 1][age_days];
    double v = (pow(y / r->m, r->l) - 1.0) / (r->s * r->l);
    if (restricted && v > 3) {
        double sd3 = ts__at_sd(r, 3);
        v = 3 + (y - sd3) / (sd3 - ts__at_sd(r, 2));
    } else if (restricted && v < -3) {
        double sd3 = ts__at_sd(r, -3);
        v = -3 + (y - sd3) / (ts__at_sd(r, -2) - sd3);
    }
    /* two decimals, as the WHO's tools report and classify them */
    *z = round(v * 100.0) / 100.0;
    return true;
}

bool ts_growth_under_five(int age_days)
{
    return age_days >= 0 && (double)age_days / 30.4375 < 60.0;
}

bool ts_growth_waz(int sex, int age_days, double weight_kg, bool oedema, double *z)
{
    if (oedema || !ts_growth_under_five(age_days))
        return false;
    return ts_growth_z(ts_growth_wfa(), sex, age_days, weight_kg, true, z);
}

bool ts_growth_haz(int sex, int age_days, double cm, ts_measure how, double *z)
{
    if (!ts_growth_under_five(age_days))
        return false;
    if (age_days < 731 && how == TS_MEASURE_HEIGHT)
        cm += 0.7;
    else if (age_days >= 731 && how == TS_MEASURE_LENGTH)
        cm -= 0.7;
    return ts_growth_z(ts_growth_lfa(), sex, age_days, cm, false, z);
}

bool ts_growth_waz_plausible(double z)
{
    return z >= -6 && z <= 5;
}

bool ts_growth_haz_plausible(double z)
{
    return fabs(z) <= 6;
}
