/* The commune UBND's acknowledgement of a notice copied to it (issue 18),
 * carried to the commune's station: the district keeps it in commune_acks
 * (server only) and writes it onto that station's handling record of the
 * notice (notice_recipients: commune_ack_at, commune_ack_by,
 * commune_ack_person), which is delivered to that station alone. */
#ifndef TS_COMMUNE_ACK_H
#define TS_COMMUNE_ACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ts_store.h"
#include "server/ts_notices.h"

/* Writes the acknowledgement onto the handling record "<notice>:<station>"
 * of each station given (those without one are skipped), unless it already
 * says one: the first is kept. person: a people id or NULL; user: the
 * account, named when there is no person. In the caller's transaction;
 * *written (may be NULL) counts the records written. */
int ts_commune_ack_mirror(ts_store *st, const ts_actor *who, const char *notice, const ts_strlist *stations,
                          const char *person, const char *user, uint64_t at_ms, size_t *written, ts_error *err);

/* Whether code is one of list's (codes, comma-separated). */
bool ts_commune_listed(const char *list, const char *code);

/* The stations of communes (codes, comma-separated: a station's own code or
 * its commune_code in the `stations` directory). */
int ts_commune_stations(ts_store *st, const char *communes, ts_strlist *out, ts_error *err);

/* Every acknowledgement of commune_acks not yet on its station's handling
 * record (those stored before the records carried it) written there, in
 * one transaction. *written counts the records written. */
int ts_commune_acks_backfill(ts_store *st, size_t *written, ts_error *err);

#endif
