/* The indicators behind a provincial plan's targets (seed 003), computed per
 * commune from synced records and kept per day (table target_snapshots).
 * What each must reach (operator, threshold, year) is the loaded plan's
 * (server/ts_plan.h, docs/PLANS.md): here only how each is computed. */
#ifndef TS_TARGETS_H
#define TS_TARGETS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ts_store.h"

enum {
    TS_T_BHYT,
    TS_T_PRIMARY_CARE,
    TS_T_DOCTOR,
    TS_T_VILLAGE_WORKER,
    TS_T_CRITERIA,
    TS_T_NCD,
    TS_T_UNDERWEIGHT,
    TS_T_STUNTING,
    TS_T_HEALTH_MANAGEMENT,
    TS_T_HIGH_RISK,
    TS_T_FERTILITY,
    TS_T_SEX_RATIO,
    TS_T_CHECKUP,
    TS_TARGET_COUNT
};

#define TS_TARGET_SOURCE_MAX 256

typedef struct ts_target {
    const char *code;
    const char *vi;
    const char *en;
    /* '%' percent of the denominator; 'c' children per woman (the value is
     * computed, not numerator/denominator); 'b' per 100 (boys per 100 girls) */
    char unit;
    /* "now": as of the day; "12m": the 12 months up to the day */
    const char *period;
    /* a yes/no of the station: the district counts stations */
    bool per_station;
} ts_target;

extern const ts_target ts_targets[TS_TARGET_COUNT];

#define TS_PLAN_TEXT_MAX 1024

/* What the loaded plan asks of an indicator. */
typedef struct ts_plan_target {
    bool set; /* the plan names the indicator */
    /* '>' above, '<' below, '=' all (100 %), 'r' the value within
     * [threshold, high], 'd' a direction with no figure to meet */
    char op;
    double threshold;
    double high;
    int year;
    char label_vi[TS_PLAN_TEXT_MAX];
    char label_en[TS_PLAN_TEXT_MAX];
    char note[TS_PLAN_TEXT_MAX];
} ts_plan_target;

typedef struct ts_target_figures {
    int64_t numerator[TS_TARGET_COUNT];
    int64_t denominator[TS_TARGET_COUNT];
    /* the figure when it is not numerator/denominator (unit 'c'); NAN otherwise */
    double value[TS_TARGET_COUNT];
    /* where the denominator comes from, or why the figure is what it is ("" none) */
    char source[TS_TARGET_COUNT][TS_TARGET_SOURCE_MAX];
} ts_target_figures;

/* One station's figures now (the numbers behind each percentage). */
int ts_targets_station(ts_store *st, const char *station, uint64_t now_ms, ts_target_figures *out, ts_error *err);
/* Whether the district holds data of the station to compute from: a record
 * the station itself wrote (it has synced at least once, with something).
 * Without, figures would be zeros over missing data, not the commune's. */
bool ts_targets_has_data(ts_store *st, const char *station);
/* Keeps a station's figures under day, computed at computed_at (ms). */
int ts_targets_save(ts_store *st, const char *station, const char *day, uint64_t computed_at,
                    const ts_target_figures *f, ts_error *err);
/* The figure in the target's unit (percent, per 100, or the stored value);
 * NAN without data. */
double ts_target_value(int index, int64_t numerator, int64_t denominator, double stored);
/* Whether the figure meets the plan's target; false without data, for a
 * direction, or when the plan does not name the indicator. */
bool ts_target_met(const ts_plan_target *plan, int index, int64_t numerator, int64_t denominator, double stored);
/* The first day of the 12 months that end on day (YYYY-MM-DD): the same
 * date a year before, plus one day. */
void ts_targets_window_start(const char *day, char *out, size_t size);

#endif
