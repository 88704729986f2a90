/* What a TTYT sends up to the province (the Sở Y tế) each quarter: the
 * targets of every commune, the plan's tasks and their progress, the
 * stations' epidemic reporting (late, on time), as CSV or XLSX, and the
 * quarter's summary report as a PDF (server/ts_report_pdf.c). */
#ifndef TS_PROVINCE_H
#define TS_PROVINCE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/ts_buf.h"
#include "common/ts_store.h"

typedef struct ts_province_period {
    char quarter[24];  /* "2026-Q4" */
    char from[24];     /* its first day, YYYY-MM-DD */
    char to[24];       /* its last day */
    char label_vi[96]; /* "Quý IV/2026 (01/10/2026 – 31/12/2026)" */
} ts_province_period;

/* The quarter "YYYY-Qn", or the one that holds today (the district's day,
 * YYYY-MM-DD) when q is NULL or empty; false when q is not a quarter. */
bool ts_province_quarter(const char *q, const char *today, ts_province_period *out);

/* Everything the exports and the report say, as JSON:
 * {district, period{quarter,from,to,label_vi}, plan{...}|null, day (the
 *  targets' day: the latest computed on or before the period's end),
 *  targets:[{station, indicator, label_vi, unit, numerator, denominator,
 *            value|null, met|null, source}],
 *  tasks:[{id, no, task, lead, deadline, deadline_text, not_applicable|null,
 *          assigned, done, percent, overdue}],
 *  reporting:[{station, cases, on_time, late}],
 *  periodic:[{title, period, due_date, occurrence, expected, received,
 *             on_time, late, due_passed, reporting_rate|null,
 *             timeliness|null, not_received:[station names]}] (the
 *            calendar's periodic reports whose period ends in the quarter),
 *  outbreaks:[{id, disease_vi, stations, started_on, ended_on, status, cases_total}]}
 * The caller adds the communes' names (station → commune). */
int ts_province_collect(ts_store *st, const char *district, const ts_province_period *p, json_t **out,
                        ts_error *err);

/* One part of it ("targets", "tasks", "reporting", "periodic") as CSV (UTF-8 with a
 * BOM, CRLF, every field quoted): the TTYT's name and the period first. */
void ts_province_csv(const json_t *data, const char *part, ts_buf *out);
/* The four parts as one XLSX workbook (a sheet each, the TTYT's name and
 * the period at the top of each), written through a file in tmpdir. */
int ts_province_xlsx(const json_t *data, const char *tmpdir, ts_buf *out, ts_error *err);
/* The quarter's summary report, A4, in Vietnamese (server/ts_report_pdf.c). */
int ts_province_pdf(const json_t *data, const char *tmpdir, ts_buf *out, ts_error *err);

#endif
