/* The agent's own report to the district, as a record: station_agent_status
 * (one per station, its id the station's code) says how many changes wait
 * at the station, the last error and a storage problem, synced like any
 * record, so the district knows them without a protocol change. Written
 * only when a value changed and at most every [sync] status_every; it never
 * counts itself among the changes waiting, so pushing it alone does not
 * make another. */
#ifndef TS_AGENT_REPORT_H
#define TS_AGENT_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ts_registry.h"
#include "common/ts_store.h"

#define TS_AGENT_REPORT_TABLE "station_agent_status"
#define TS_AGENT_REPORT_TEXT 1600 /* bytes of 300 characters at most */

typedef struct ts_agent_report {
    uint64_t last_try_ms; /* the last write tried (done or refused) */
    bool loaded;          /* the record as the last run left it is known */
    uint64_t written_ms;  /* its updated_at */
    bool have;            /* ...and there is one */
    int64_t pending;
    char last_error[TS_AGENT_REPORT_TEXT];
    char storage_problem[TS_AGENT_REPORT_TEXT];
    char version[64];
    bool failing; /* the last write was refused (logged once) */
} ts_agent_report;

/* Looks at the station's state and writes the record when it changed since
 * the one written (and every minutes have passed since the last try). True
 * when it wrote: the caller pushes. Never fails: a refused write (a full
 * disk) is logged once and tried again after `every`, and nothing else
 * waits for it. A registry without the table: nothing. */
/* Changes waiting here to be sent, not counting this agent's own report:
 * what staff and the district mean by "waiting". */
int ts_agent_report_pending(ts_store *st, const char *code, int64_t *out);

bool ts_agent_report_tick(ts_agent_report *r, ts_store *st, const ts_registry *reg, const char *code,
                          const char *last_error, const char *storage_problem, uint64_t now_ms, uint64_t every_ms);

#endif
