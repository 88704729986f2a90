/* The disease catalogue (the district's `diseases` table, synced to every
 * station): what the district's epidemic rules and a station's `tramsync
 * case` both read — names, group, whether each case is reported on its
 * own, the reporting deadline, the cluster rule and the days before an
 * outbreak may be declared over. Data the district edits, never constants. */
#ifndef TS_DISEASE_H
#define TS_DISEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ts_store.h"

typedef struct ts_disease {
    char code[129];
    char name_vi[201];
    char name_en[201];
    char icd10[16];
    char group[2];
    bool case_by_case;
    int64_t report_within_hours; /* 0: no deadline case by case */
    int64_t cluster_cases;       /* 0: no cluster rule */
    int64_t cluster_days;
    int64_t end_after_days;
} ts_disease;

typedef struct ts_disease_catalog {
    ts_disease *v;
    size_t n;
} ts_disease_catalog;

/* The catalogue as this store holds it now (deleted entries left out). */
int ts_disease_catalog_load(ts_store *st, ts_disease_catalog *out, ts_error *err);
void ts_disease_catalog_free(ts_disease_catalog *c);
/* By code, or by its Vietnamese or English name, ignoring ASCII case: what
 * someone typed as the disease. NULL when none. */
const ts_disease *ts_disease_find(const ts_disease_catalog *c, const char *text);

#endif
