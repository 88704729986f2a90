/* Notices and tasks as a station handles them: marking what arrived as
 * delivered, acknowledging by name, reporting progress and completion, and
 * sending reports up to the district. State changes follow the rules of
 * common/ts_notice.h, so the district never sees an impossible move. */
#ifndef TS_STATION_NOTICES_H
#define TS_STATION_NOTICES_H

#include <jansson.h>

#include "common/ts_attachment.h"
#include "common/ts_store.h"

/* Every notice or task handling record here still "sent" becomes
 * "delivered" (with delivered_at). */
int ts_station_mark_delivered(ts_store *st, size_t *marked, ts_error *err);
/* Notices addressed here with their handling state, unread (not yet
 * acknowledged) first, most urgent first; `all` includes finished ones. */
int ts_station_notices(ts_store *st, bool all, json_t **out, ts_error *err);
/* Functions taking `en` say what went wrong in English when it is true, in
 * Vietnamese otherwise (staff read them through `tramsync`); what lower
 * layers say stays English, after a Vietnamese sentence.
 *
 * One notice or task with its handling record; a notice with its
 * attachments here: id, name, mime, size, sha256, and "verified" (whether
 * the bytes still match their SHA-256). */
int ts_station_show(ts_store *st, const char *id, bool en, json_t **out, ts_error *err);

/* Reads attachment `which` of notice `notice_id`: its id, its number n (of
 * "<notice id>:<n>") or its file name. The bytes are checked against their
 * SHA-256 again: TS_EINVALID_RECORD when they do not match (nothing is
 * returned then); TS_ENOT_FOUND when there is no such attachment here. */
int ts_station_attachment(ts_store *st, const char *notice_id, const char *which, bool en, ts_attachment *out,
                          ts_error *err);
/* Writes that attachment to `path` (a file, or an existing folder: then
 * the attachment's own name in it), after checking its SHA-256. An existing
 * file is never overwritten unless force (then replaced atomically: written
 * beside it and renamed); a failed write leaves nothing behind. The path
 * written goes to written. On success *info holds the attachment (without
 * its bytes). */
int ts_station_attachment_save(ts_store *st, const char *notice_id, const char *which, const char *path, bool force,
                               bool en, char *written, size_t written_size, ts_attachment *info, ts_error *err);
/* Moves the handling of a notice or task to `state`; by names the person
 * (required to acknowledge), note/report go with progress and done, reason
 * is needed to go back from done. */
int ts_station_transition(ts_store *st, const char *id, const char *state, const char *by, const char *note,
                          const char *report, const char *reason, bool en, ts_error *err);
/* Tasks assigned here. */
int ts_station_tasks(ts_store *st, json_t **out, ts_error *err);
/* Writes a record of this station from JSON fields (by the registry's types). */
int ts_station_put(ts_store *st, const char *table, const char *id, const json_t *fields, ts_error *err);
/* A new record id of this station: "<station>-<kind>-YYYYMMDD-xxxxxxxx"
 * (this PC's local day). */
void ts_station_new_id(ts_store *st, const char *kind, char *out, size_t size);
/* A report to the district (the `reports` table); fields as JSON. */
int ts_station_report(ts_store *st, const json_t *fields, char *id_out, size_t id_size, ts_error *err);

#endif
