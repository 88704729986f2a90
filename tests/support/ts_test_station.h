/* Station agents as real processes for integration tests and benchmarks:
 * a station directory (config, key, certificate from the test PKI, replica
 * database) and a running `tramsync run`, plus the CLI. */
#ifndef TS_TEST_STATION_H
#define TS_TEST_STATION_H

#include <stdbool.h>
#include <sys/types.h>

#include <stdint.h>

#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"

typedef struct ts_test_station {
    char *code;
    char *dir;
    char *log;
    pid_t pid;
    int port;
    const char *bin;              /* the tramsync program (NULL: the build under test) */
    const char *const *env;       /* "NAME=value" set for the agent and the CLI (NULL-terminated; may be NULL) */
} ts_test_station;

/* Creates <base>/<code>: tramsync.conf pointing at 127.0.0.1:port, the
 * PKI's station certificate and key for code (issued when missing), ca.pem,
 * and the replica database. `sets` are extra "section.key=value" settings
 * written into the config (NULL-terminated, may be NULL). */
void ts_test_station_make(ts_test_station *s, const char *base, const char *code, ts_test_pki *pki, int port,
                          const char *const *sets);
/* Points the station at another port (after a daemon restart). */
void ts_test_station_set_port(ts_test_station *s, int port);
void ts_test_station_start(ts_test_station *s);
/* SIGTERM and wait; returns the exit status (-1 on timeout, then killed). */
int ts_test_station_stop(ts_test_station *s, int timeout_ms);
void ts_test_station_kill(ts_test_station *s);
/* Runs `tramsync -d <dir> ARGS...` (NULL-terminated) and returns its exit
 * status; its stdout goes to *out when not NULL (caller frees). */
int ts_test_station_cli(ts_test_station *s, char **out, ...);
/* The same, with its standard error in *err (caller frees) instead of the
 * station's log. */
int ts_test_station_cli2(ts_test_station *s, char **out, char **err, ...);
void ts_test_station_free(ts_test_station *s);

/* Writes n residents "<prefix>-<i>" of this station into its replica
 * database, as the station's staff would (the agent may be running). */
void ts_test_station_fill(ts_test_station *s, const char *prefix, uint32_t n);
/* Residents at the district whose id is LIKE `like`; waiting up to
 * timeout_ms for n of them, then how many there are. */
long long ts_test_district_residents(const ts_test_daemon *d, const char *like);
long long ts_test_district_wait_residents(const ts_test_daemon *d, const char *like, long long n, int timeout_ms);

#endif
