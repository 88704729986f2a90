/* Bounds a test in time, so a hung daemon or agent never hangs CI: past the
 * limit every process registered is killed and the program exits with 99,
 * saying which program ran over. One per test program (SIGALRM). */
#ifndef TS_TEST_WATCHDOG_H
#define TS_TEST_WATCHDOG_H

#include <sys/types.h>

/* Starts (or restarts) the count for the current test. */
void ts_test_watchdog_arm(const char *program, unsigned seconds);
/* A process id to kill on expiry, read then (0: none); until disarm. */
void ts_test_watchdog_watch(const pid_t *pid);
/* The test ended in time: stops the count and forgets the processes. */
void ts_test_watchdog_disarm(void);

#endif
