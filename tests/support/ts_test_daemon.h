/* Real processes for integration tests: start tramsyncd (the build under
 * test, from $TS_BIN_DIR) on a loopback port chosen by the kernel, stop it,
 * kill it, read its log and its memory use. */
#ifndef TS_TEST_DAEMON_H
#define TS_TEST_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tests/support/ts_test_pki.h"

typedef struct ts_test_daemon {
    pid_t pid;
    char *bin;      /* the program */
    int port;       /* station sync */
    int admin_port; /* admin API (-1 when off) */
    char *dir;
    char *log;
    char *sets[48];
    int nsets;
    const char *const *env; /* extra NAME=value for the process (NULL-terminated, may be NULL) */
} ts_test_daemon;

/* Path of a built program (caller frees). */
char *ts_test_bin(const char *name);

/* Starts tramsyncd with data in dir and the PKI's certificates; `sets` are
 * extra "section.key=value" overrides (NULL-terminated, may be NULL).
 * Fails the test when it does not come up within 20 s. */
void ts_test_daemon_start(ts_test_daemon *d, const char *dir, const ts_test_pki *pki, const char *const *sets);
/* The same with another build of tramsyncd (e.g. ts_test_release_bin). */
void ts_test_daemon_start_bin(ts_test_daemon *d, const char *bin, const char *dir, const ts_test_pki *pki,
                              const char *const *sets);
/* The same with extra environment (NAME=value, NULL-terminated), e.g.
 * libfaketime's for a daemon whose clock is elsewhere; env must outlive d. */
void ts_test_daemon_start_env(ts_test_daemon *d, const char *bin, const char *dir, const ts_test_pki *pki,
                              const char *const *sets, const char *const *env);
/* Path of a release-built program ($TS_RELEASE_BIN_DIR, else bin/), for
 * what only the real allocator shows (memory given back); caller frees. */
char *ts_test_release_bin(const char *name);
/* Starts it again with the same settings (after a stop or a kill); the port
 * may change. */
void ts_test_daemon_restart(ts_test_daemon *d);
/* Sends sig and waits up to timeout_ms; returns the exit status (or -1 on
 * timeout, after which the process is killed). */
int ts_test_daemon_stop(ts_test_daemon *d, int sig, int timeout_ms);
void ts_test_daemon_kill(ts_test_daemon *d);
void ts_test_daemon_free(ts_test_daemon *d);
/* Resident memory of a process in KiB (0 when gone). */
long ts_test_rss_kb(pid_t pid);
/* Whether the daemon's log holds needle (waits up to timeout_ms for it). */
bool ts_test_log_wait(const char *log, const char *needle, int timeout_ms);
/* Counts occurrences of needle in a file. */
int ts_test_file_count(const char *path, const char *needle);
/* Sleeps ms milliseconds. */
void ts_test_sleep_ms(int ms);
/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
uint64_t ts_test_now_ms(void);
/* tramsyncd --add-user NAME --role ROLE on the database under data_dir,
 * before the daemon starts; 0, or the failed exit status. */
int ts_test_add_user(const char *data_dir, const char *name, const char *role, const char *password);
/* An example log in a document checked against a real log: in the
 * ``` block of doc_path that holds `marker`, every line whose event the
 * log also has must have the same keys in the same order as the log's
 * first line of that event; at least min_checked lines are (aborts the
 * test otherwise, saying which line). */
void ts_test_doc_log_keys(const char *doc_path, const char *marker, const char *log, int min_checked);

/* The last max_lines lines of a log file to stderr, to explain a failure;
 * nothing when path is NULL or unreadable. */
void ts_test_log_tail(const char *path, int max_lines);

#endif
