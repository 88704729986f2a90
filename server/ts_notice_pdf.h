/* A notice as an official document (issue 18): A4, laid out as Nghị định
 * 30/2020/NĐ-CP, Phụ lục I says an administrative document is (the
 * issuing body under its parent body, the national motto, number and
 * symbol, place and date, the type and trích yếu, the body, Nơi nhận, the
 * signature block), for the offices of the communes' People's Committees
 * that work on paper. server/ts_notice_pdf.c lays it out; the admin API
 * (server/admin/ts_admin_documents.c) gathers what it says. */
#ifndef TS_NOTICE_PDF_H
#define TS_NOTICE_PDF_H

#include <stddef.h>

#include <jansson.h>

#include "common/ts_buf.h"
#include "common/ts_error.h"

/* The document, from (texts as people read them; any may be missing):
 * {parent_body, issuer, number, doc_type (code), doc_type_vi, urgency_vi
 *  ("" for Thường), place, date (YYYY-MM-DD, the district's day), subject,
 *  legal_basis, body, task, deadline_text, responsible, expected_result,
 *  recipients: [names], committees: ["UBND xã ..."],
 *  signer: {authority, position, name}}
 * A công văn carries its trích yếu as "V/v ..." under its number and a
 * "Kính gửi" line; every other type its name in capitals over the trích
 * yếu. Pages after the first are numbered at the top. */
int ts_notice_pdf(const json_t *doc, ts_buf *out, ts_error *err);

/* "Bình Xuyên, ngày 07 tháng 12 năm 2026" of a day YYYY-MM-DD, as the
 * decree writes a date: days under 10 and the months 1 and 2 with a 0
 * before them ("ngày 05 tháng 02", "ngày 15 tháng 3"); the place alone
 * when the day is not a date. */
void ts_notice_place_date(const char *place, const char *day, char *out, size_t size);

#endif
