/* Coordination under the cooperation regulation, on the district store:
 * notices and their per-station handling records, station reports passed on
 * as new notices, plan tasks assigned to stations, and escalation. Every
 * function runs on the store's thread (a DB job) and writes through the
 * store, so all of it syncs, merges and is audited like any record. */
#ifndef TS_NOTICES_H
#define TS_NOTICES_H

#include <stdint.h>

#include <jansson.h>

#include "common/ts_attachment.h"
#include "common/ts_buf.h"
#include "common/ts_store.h"

typedef struct ts_notice_policy {
    uint64_t ack_within_ms[4]; /* by urgency rank: Thường, Khẩn, Thượng khẩn, Hỏa tốc */
    uint64_t remind_every_ms[4]; /* after the first reminder, again every this long (0: once) */
} ts_notice_policy;

/* When the next reminder of a recipient not yet acknowledged goes (0: none:
 * acknowledged, recalled, or reminded once under a policy that reminds once),
 * from its urgency, sent_at, escalated_at and state. */
uint64_t ts_notice_next_reminder(const ts_notice_policy *policy, const json_t *recipient);

typedef struct ts_strlist {
    char **v;
    size_t n;
} ts_strlist;

void ts_strlist_add(ts_strlist *l, const char *s);

/* A date for people: "2026-12-07" -> "07/12/2026", "2026-12-07T09:30:00+07:00"
 * -> "07/12/2026 09:30" (the wall time where it was written); any other text
 * as it is. */
void ts_vn_date(const char *iso, char *out, size_t size);

/* A new district record id: "<prefix>-YYYYMMDD-xxxxxxxx" (the district's day,
 * random hex). */
void ts_new_record_id(const char *prefix, char *out, size_t size);

/* Writes a record's fields given as JSON (by the registry's types) as the
 * district, in the caller's transaction. */
int ts_record_put_json(ts_store *st, const ts_actor *who, const char *table, const char *id, const json_t *fields,
                       ts_error *err);
void ts_strlist_free(ts_strlist *l);

/* Who a notice goes to: {"all": true}, {"stations": [...]}, {"communes": [...]}
 * (matched against the `stations` directory's commune and commune_code), or
 * a mix. Unknown station codes are refused (TS_ENOT_FOUND names them). */
int ts_notice_resolve(ts_store *st, const json_t *spec, ts_strlist *out, ts_error *err);

/* Creates a notice (fields as JSON, by the registry's types) and one
 * notice_recipients record per station, state "sent", in one transaction.
 * Missing issue_date and number are filled in (the issuer is required). id_out
 * receives its id. */
int ts_notice_create(ts_store *st, const ts_actor *who, const json_t *fields, const ts_strlist *stations,
                     char *id_out, size_t id_size, ts_error *err);
/* The notice, each recipient's handling, the state counts and its
 * attachments (id, name, mime, size, sha256; not the bytes), as JSON. */
int ts_notice_show(ts_store *st, const char *id, json_t **out, ts_error *err);
/* The same without reading the attachments: "attachment_count" instead of
 * "attachments" (for lists). */
int ts_notice_summary(ts_store *st, const char *id, json_t **out, ts_error *err);

/* ---- attachments: notice_attachments records, district table, addressed
 * like their notice; ids "<notice id>:<n>" (n = 1, 2, ...) ---- */

#define TS_NOTICE_MAX_ATTACHMENTS 5

/* The largest attachment in bytes: the registry's max on
 * notice_attachments.content (256 KiB in the built-in registry). */
size_t ts_notice_attachment_cap(ts_store *st);

/* Creates a notice like ts_notice_create, with attachments: NULL, or a JSON
 * array of {"name", "mime" (optional), "data" (base64, RFC 4648)}. All of
 * them are checked before anything is written: at most
 * TS_NOTICE_MAX_ATTACHMENTS, each 1 byte to the cap, a file name (no path
 * separators, no control or text-direction characters, not "." or "..", at
 * most 200 characters, unique in the notice ignoring ASCII case), a MIME
 * type type/subtype (default application/octet-stream). Each becomes one
 * notice_attachments record (size and SHA-256 computed here, audience = the
 * notice's recipients) written in the notice's transaction: all or nothing.
 * TS_EBAD_VALUE says which attachment and why. */
int ts_notice_create_with(ts_store *st, const ts_actor *who, const json_t *fields, const json_t *attachments,
                          const ts_strlist *stations, char *id_out, size_t id_size, ts_error *err);
/* The log line notice_sent. ts_notice_create(_with) writes it when its own
 * transaction stored the notice; a caller that created it inside a
 * transaction of its own (with an audit entry) calls this once that
 * transaction is committed, so no line says "sent" of a notice a full disk
 * then refused. */
void ts_notice_log_sent(ts_store *st, const char *id, size_t recipients, const ts_actor *who);

/* Whether a name is a file name a station can save and print: valid UTF-8,
 * at most 200 characters and 200 bytes, no / or \, no control or
 * text-direction characters, not "." or ".."; why says what is wrong. */
bool ts_notice_attachment_name_ok(const char *name, char *why, size_t why_size);

/* Reads attachment `attachment_id` ("<notice id>:<n>", or just "<n>") of
 * notice `notice_id` with its bytes (free with ts_attachment_free), checking
 * them against their SHA-256 again. TS_ENOT_FOUND when the notice has no
 * such (live) attachment; TS_ESTORAGE when the stored bytes fail their
 * checksum. */
int ts_notice_attachment(ts_store *st, const char *notice_id, const char *attachment_id, ts_attachment *out,
                         ts_error *err);
/* Notices, newest first, with a summary of their recipients' states. */
int ts_notice_list(ts_store *st, uint32_t limit, json_t **out, ts_error *err);

/* A NOTICE frame for one recipient (the notice and its handling record). */
int ts_notice_frame(ts_store *st, const char *notice_id, const char *station, ts_buf *out, ts_error *err);
/* NOTICE frames of every notice not yet delivered to station, most urgent
 * first (sent to a station as it connects). */
int ts_notice_frames_pending(ts_store *st, const char *station, ts_buf *out, size_t *count, ts_error *err);

/* Passes a station's report on to other stations as a new notice linked to
 * it (source_report, source_station). overrides: notice fields to set. */
int ts_report_redistribute(ts_store *st, const ts_actor *who, const char *report_id, const json_t *overrides,
                           const ts_strlist *stations, char *id_out, size_t id_size, ts_error *err);
/* The log line report_redistributed, for a caller that passed the report on
 * inside its own transaction, once that is committed (as ts_notice_log_sent). */
void ts_report_log_redistributed(ts_store *st, const char *report_id, const char *notice_id, size_t recipients);

/* The store's check on station pushes (ts_change_check_fn): a handling
 * record's state moves forward only (sent, delivered, acknowledged,
 * in_progress, done), or back from done with a reopen_reason written in the
 * same change. */
bool ts_notices_check_change(void *ctx, const struct ts_table_def *t, const ts_version *before,
                             const ts_version *change, const ts_version *after, char *why, size_t why_size);

/* Assigns a plan task to stations (task_assignments, state "sent"). */
int ts_task_assign(ts_store *st, const ts_actor *who, const char *task_id, const ts_strlist *stations,
                   const char *deadline, const char *instructions, ts_error *err);
int ts_task_show(ts_store *st, const char *task_id, json_t **out, ts_error *err);

typedef enum ts_escalation_kind {
    TS_ESC_NOT_ACKNOWLEDGED = 1, /* not acknowledged within its urgency's time: re-sent and flagged */
    TS_ESC_OVERDUE = 2           /* past its deadline and not done: flagged */
} ts_escalation_kind;

typedef struct ts_escalation {
    ts_escalation_kind kind;
    char table[32];
    char id[TS_KEY_MAX + 1];
    char notice[TS_KEY_MAX + 1]; /* notice or task id */
    char station[TS_KEY_MAX + 1];
    char urgency[16];
} ts_escalation;

/* Flags what is late at `now` (a parameter, so tests control the clock):
 * writes escalated_at/resend_count/reminders or overdue on the handling
 * records. A recipient not acknowledged is reminded when its urgency's
 * ack_within has passed since sent_at, then again every remind_every since
 * the last reminder, until it is acknowledged or the notice recalled.
 * Returns what it flagged (caller frees *out), also when it fails part way
 * (a negative result): each flag is stored on its own. */
int ts_notices_escalate(ts_store *st, const ts_notice_policy *policy, uint64_t now_ms, ts_escalation **out,
                        size_t *n, ts_error *err);

#endif
