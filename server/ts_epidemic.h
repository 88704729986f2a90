/* The epidemic channel at the district (issue 17): the disease catalogue
 * (the `diseases` table: names, ICD-10, group, reporting deadline, cluster
 * rule, days to declare an end — data the district edits, seeded from
 * server/data/diseases.tsv), and what the district does with every case and
 * epidemic report a station sends: note when it first arrived, raise an
 * alert for a case of a disease reported case by case, for a declared
 * outbreak, and for a cluster (N cases of one disease in one commune within
 * D days) nobody declared, keep the alert until a named account
 * acknowledges it, and sum cases up by commune, disease and week.
 *
 * Only aggregates leave these functions (counts, diseases, stations, days):
 * cases are personal records and stay behind the audited record API.
 * Every function runs on the store's thread (a DB job). */
#ifndef TS_EPIDEMIC_H
#define TS_EPIDEMIC_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/ts_disease.h"
#include "common/ts_store.h"
#include "server/ts_notices.h"

/* day (YYYY-MM-DD) plus delta days, into out: 0 or TS_EBAD_VALUE. */
int ts_epi_day_add(const char *day, int delta, char *out, size_t size);

/* Loads the default catalogue (TSV: code, name_vi, name_en, icd10, group,
 * case_by_case, report_within_hours, cluster_cases, cluster_days,
 * end_after_days) when the table is empty, as the district's own records. */
int ts_epi_seed(ts_store *st, const char *tsv, size_t len, uint64_t *loaded, ts_error *err);

typedef struct ts_epi_scan_result {
    uint64_t seen;   /* cases and reports seen for the first time */
    uint64_t alerts; /* alerts raised */
} ts_epi_scan_result;

/* Looks at every case and epidemic report changed since the last scan (a
 * cursor in meta), in one transaction: idempotent, and what a crash
 * interrupted is looked at again. now_ms: the arrival time noted. */
int ts_epi_scan(ts_store *st, uint64_t now_ms, ts_epi_scan_result *out, ts_error *err);

/* Alerts, newest first: all, or only those nobody acknowledged. */
int ts_epi_alerts(ts_store *st, bool open_only, uint32_t limit, json_t **out, ts_error *err);
uint64_t ts_epi_open_alerts(ts_store *st);
/* TS_ENOT_FOUND, or already acknowledged: 0 and *already set. */
int ts_epi_alert_ack(ts_store *st, int64_t id, const char *by, uint64_t now_ms, bool *already, ts_error *err);

/* Cases by commune, disease and ISO week between two local days
 * (YYYY-MM-DD, inclusive), with each station's reports on time, late and
 * how late: {"from","to","rows":[{station,disease,week,cases}],
 * "reporting":[{station,cases,late,on_time}]}. */
int ts_epi_summary(ts_store *st, const char *from, const char *to, json_t **out, ts_error *err);

/* ---- outbreaks (server/ts_outbreaks.c): the district's record of an outbreak
 * (`outbreaks`, shared with the stations it names), its timeline, its end.
 * Each writes in the caller's transaction. */

/* Opens outbreaks/<new id> from a station's outbreak_detection report: its
 * disease, the reporting station and `also` (e.g. neighbouring communes),
 * status detected, started_on (the report's onset date, else its day),
 * cases_total and deaths from the report, source_report. */
int ts_outbreak_open(ts_store *st, const ts_actor *who, const char *report_id, const char *const *also, size_t nalso,
                     char *id_out, size_t id_size, ts_error *err);

/* The outbreak, its cases by day (counts), and its timeline oldest first:
 * the station's reports about it (detection, updates, end), the notices the
 * district sent about it (outbreak_id) with how many stations
 * acknowledged, and its declared end; with the day from which its end may
 * be declared (the last case plus the disease's end_after_days). */
int ts_outbreak_show(ts_store *st, const char *id, json_t **out, ts_error *err);
/* Every outbreak, newest first, with its disease's names. */
int ts_outbreak_list(ts_store *st, json_t **out, ts_error *err);

typedef enum ts_outbreak_refusal {
    TS_OUTBREAK_OK = 0,
    TS_OUTBREAK_ALREADY_ENDED,
    TS_OUTBREAK_TOO_EARLY, /* fewer days without a case than the disease needs */
} ts_outbreak_refusal;

/* Declares an outbreak over (status ended, ended_on today, ended_by,
 * end_reason) and sends a notice saying so to every station named in it or
 * sent one of its notices. Refused (*refusal set, 0 returned, nothing
 * written) when it already ended, or before can_end_from unless forced
 * with a reason. The notice's id goes to notice_out, its recipients to
 * *recipients (caller frees). */
int ts_outbreak_end(ts_store *st, const ts_actor *who, const char *id, const char *today, bool force,
                    const char *reason, ts_outbreak_refusal *refusal, char *can_end_from, size_t can_size,
                    char *notice_out, size_t notice_size, ts_strlist *recipients, ts_error *err);

#endif
