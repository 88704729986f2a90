/* tramsync run: the station agent. It keeps the station's replica in sync
 * with the district by itself: right after local writes (noticed by polling
 * SQLite's data_version, so writes from the CLI or any other process count),
 * on a timer, and live while connected. Failures back off exponentially with
 * jitter; everything resumes from the cursors in the database. */
#ifndef TS_AGENT_H
#define TS_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "common/ts_config.h"
#include "common/ts_error.h"

typedef struct ts_agent_config {
    /* [station] */
    char *code;
    char *commune;
    char *data_dir;
    char *database;
    char *log_level;
    char *tables;
    char *synchronous;
    /* [server] */
    char *address;
    char *server_name;
    /* [tls] */
    char *ca;
    char *cert;
    char *key;
    bool allow_tls12;
    bool resume;        /* resume the last TLS session, HELLO and the first PUSH as early data */
    char *session_file; /* its single-use ticket */
    /* [sync] */
    uint64_t interval_ms;
    uint64_t debounce_ms;
    uint64_t debounce_max_ms;
    uint64_t status_every_ms; /* station_agent_status written at most this often */
    uint64_t keepalive_ms;
    uint64_t dead_after_ms;
    uint64_t poll_ms;
    uint64_t backoff_min_ms;
    uint64_t backoff_max_ms;
    uint64_t connect_timeout_ms;
    uint64_t push_batch;
    uint64_t pull_page;
    bool pull_stream;
    uint64_t pull_window;
    bool compress;
    bool pipeline; /* the first PUSH right behind HELLO */
    uint64_t proto_max;
    bool live;
    /* [district] */
    char *timezone; /* "": the district's, as its WELCOME says (client/ts_station_day.h) */
} ts_agent_config;

extern const ts_cfg_key ts_agent_config_keys[];

/* Loads <data_dir>/tramsync.conf when `path` is NULL and it exists, then
 * overrides; paths left empty derive from data_dir. */
int ts_agent_config_load(ts_agent_config *cfg, const char *data_dir, const char *path, char **overrides,
                         int noverrides, ts_error *err);
void ts_agent_config_free(ts_agent_config *cfg);
char *ts_agent_config_path(const char *data_dir);

typedef struct ts_agent ts_agent;

int ts_agent_start(ts_agent **out, uv_loop_t *loop, const ts_agent_config *cfg, ts_error *err);
/* Finishes the exchange in flight, says BYE, closes; then done runs. */
void ts_agent_stop(ts_agent *a, void (*done)(ts_agent *a, void *arg), void *arg);
void ts_agent_free(ts_agent *a);

#endif
