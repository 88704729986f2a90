/* What the agent tells `tramsync status`, kept beside the database in a small
 * file of its own, <database>-agent.status, rather than in the database:
 * when the disk is full or the database cannot be written, that is exactly
 * what status must still be able to say. The file is made full size once,
 * then only ever overwritten in place (no new blocks are needed to update
 * it), in two slots written in turn, each with a sequence number and a
 * checksum, so a reader never takes a torn write for the truth. It is not
 * synced: after a power cut the agent writes it afresh. */
#ifndef TS_AGENT_STATUS_H
#define TS_AGENT_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ts_error.h"

#define TS_AGENT_STATUS_KEYS 24
#define TS_AGENT_STATUS_VALUE 1024

typedef struct ts_agent_status {
    int fd;        /* -1: read only, or the file could not be made */
    uint64_t seq;  /* of the slot last read or written */
    char *path;
    bool write_failed; /* said once in the log, until a write works again */
    size_t n;
    struct {
        char key[40];
        char value[TS_AGENT_STATUS_VALUE];
    } kv[TS_AGENT_STATUS_KEYS];
} ts_agent_status;

/* "<database>-agent.status"; caller frees. */
char *ts_agent_status_path(const char *database);
/* For the agent: opens (making it full size when new) and loads what the
 * previous run left. 0, or an error (the agent runs on and says so in its
 * log; status then reads the file as missing). */
int ts_agent_status_open(ts_agent_status *s, const char *database, ts_error *err);
/* For readers: 0, or TS_ENOT_FOUND when there is no file or no valid slot. */
int ts_agent_status_load(ts_agent_status *s, const char *database);
/* Sets a value (control characters become spaces, cut on a character
 * boundary) and, when it changed, rewrites the file. */
void ts_agent_status_set(ts_agent_status *s, const char *key, const char *value);
void ts_agent_status_set_u64(ts_agent_status *s, const char *key, uint64_t value);
/* "" when absent. */
const char *ts_agent_status_get(const ts_agent_status *s, const char *key);
uint64_t ts_agent_status_get_u64(const ts_agent_status *s, const char *key);
void ts_agent_status_close(ts_agent_status *s);

#endif
