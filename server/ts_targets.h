/* The 2030 targets of the provincial plan (seed 003), computed per commune
 * from synced records and kept per day (table target_snapshots). */
#ifndef TS_TARGETS_H
#define TS_TARGETS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ts_store.h"

#define TS_TARGET_COUNT 10

typedef struct ts_target {
    const char *code;
    const char *vi;
    const char *en;
    char op;          /* '>' above, '<' below, '=' all (100 %) */
    double threshold; /* percent */
} ts_target;

extern const ts_target ts_targets[TS_TARGET_COUNT];

typedef struct ts_target_figures {
    int64_t numerator[TS_TARGET_COUNT];
    int64_t denominator[TS_TARGET_COUNT];
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
bool ts_target_met(int index, int64_t numerator, int64_t denominator);

#endif
