/* The cooperation regulation's vocabulary and rules, shared by the daemon,
 * the agent and the console: notice categories (the regulation's 12 fields),
 * urgencies (Decree 30/2020 marks), document types, and the per-recipient
 * states with their allowed transitions (../DOMAIN.md). Labels are Vietnamese
 * first, English beside them. */
#ifndef TS_NOTICE_H
#define TS_NOTICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ts_label {
    const char *code;
    const char *vi;
    const char *en;
} ts_label;

extern const ts_label ts_notice_categories[12];
extern const ts_label ts_notice_urgencies[4]; /* least urgent first */
extern const ts_label ts_notice_doc_types[7];
extern const ts_label ts_notice_states[5];    /* in order: sent .. done */
extern const ts_label ts_report_kinds[9];

const ts_label *ts_label_find(const ts_label *list, size_t n, const char *code);

/* 0 (Thường) .. 3 (Hỏa tốc); -1 when unknown. */
int ts_urgency_rank(const char *code);
/* Thượng khẩn and Hỏa tốc travel ahead of bulk traffic. */
bool ts_urgency_is_urgent(const char *code);
/* Every urgency above the least (Thường): Khẩn, Thượng khẩn, Hỏa tốc, as
 * ts_notice_urgencies lists them; what the console counts as urgent. */
bool ts_urgency_above_routine(const char *code);
/* 0 (sent) .. 4 (done); -1 when unknown. */
int ts_state_rank(const char *code);

/* Whether a recipient may move from `from` to `to`: forward moves (skipping
 * is fine), or back from done only with a reopen reason. On refusal, why
 * holds the reason. */
bool ts_state_transition_ok(const char *from, const char *to, const char *reopen_reason, char *why, size_t why_size);

/* Times as the registry's datetime fields hold them: "2026-11-23T08:05:00Z". */
void ts_time_iso(uint64_t ms, char *out, size_t size);
/* Parses "YYYY-MM-DD" (midnight UTC) or RFC 3339; false when it is neither. */
bool ts_time_parse(const char *s, uint64_t *ms);

/* The district's days. The daemon runs in the district's time zone ([district]
 * timezone, set as TZ once at start, ts_district_tz_apply), so its local time
 * is the district's: a day starts at the district's midnight, not UTC's. */

/* Whether name is a time zone this machine knows (a file of the tz database
 * under $TZDIR or /usr/share/zoneinfo, e.g. "Asia/Ho_Chi_Minh"). */
bool ts_tz_valid(const char *name);
/* Makes name the process's time zone (TZ). Call before any thread starts. */
void ts_district_tz_apply(const char *name);
/* The district's day at ms as "YYYY-MM-DD" (out: at least 11 bytes). */
void ts_local_day(uint64_t ms, char *out, size_t size);
/* The district's day of a time as a record holds it, "YYYY-MM-DD": an RFC 3339
 * time's day in the district's zone ("2026-12-14T18:30:00Z" is "2026-12-15" in
 * Hà Nội; never the day its writer printed), a date as it is; "" when text is
 * neither. */
void ts_local_day_of(const char *text, char *out, size_t size);
/* The end of a district day "YYYY-MM-DD" (its next midnight, local), in ms;
 * false when date is not a date. */
bool ts_local_day_end(const char *date, uint64_t *ms);

#endif
