/* Notice attachments as the district and the stations both store them:
 * records of the district table notice_attachments, ids "<notice id>:<n>"
 * (n = 1, 2, ...), addressed like their notice, whose sha256 field is the
 * SHA-256 of their content (the registry checks the pair on every write and
 * every applied change; reading checks it again, against a damaged file). */
#ifndef TS_ATTACHMENT_H
#define TS_ATTACHMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/ts_error.h"
#include "common/ts_record.h"
#include "common/ts_store.h"

#define TS_ATTACHMENT_TABLE "notice_attachments"

typedef struct ts_attachment {
    char id[TS_KEY_MAX + 1]; /* "<notice id>:<n>" */
    char notice_id[TS_KEY_MAX + 1];
    char name[1024];
    char mime[128]; /* application/octet-stream when absent */
    char sha256[65];
    bool verified;  /* the content matches sha256 as read now (TS_ATTACHMENT_VERIFY) */
    uint8_t *data;  /* only when read with its bytes; ts_attachment_free */
    size_t len;
} ts_attachment;

/* The live attachment ids of a notice, in order (a range scan of the
 * records' key that reads nothing else). Free with ts_attachment_ids_free. */
int ts_attachment_ids(ts_store *st, const char *notice_id, char ***ids, size_t *n, ts_error *err);
void ts_attachment_ids_free(char **ids, size_t n);

/* What ts_attachment_read does besides reading the fields. */
#define TS_ATTACHMENT_BYTES 1u  /* copy the bytes into data */
#define TS_ATTACHMENT_VERIFY 2u /* hash them and set verified (false otherwise) */

/* Reads attachment record `id` of notice `notice_id`; with the bytes and
 * their check as `what` asks (whether or not they verify: the caller
 * decides). TS_ENOT_FOUND when there is no such live attachment of that
 * notice. */
int ts_attachment_read(ts_store *st, const char *notice_id, const char *id, unsigned what, ts_attachment *out,
                       ts_error *err);
void ts_attachment_free(ts_attachment *a);

/* The attachments of a notice as a JSON array of {id, name, mime, size,
 * sha256} (not the bytes), and "verified" when verify (the bytes hashed
 * again). */
int ts_attachment_list(ts_store *st, const char *notice_id, bool verify, json_t **out, ts_error *err);

#endif
