/* A real full disk for tests: a small tmpfs mounted in a mount namespace of
 * the test's own, so it disappears with the test program and the daemons and
 * agents it started, however they end. Needs root, or unprivileged user
 * namespaces; a test that gets neither is skipped with the reason. */
#ifndef TS_TEST_SMALLFS_H
#define TS_TEST_SMALLFS_H

#include <stddef.h>

/* Once per program, while it has one thread, before starting any child:
 * 0, or a negative errno (the caller skips). */
int ts_test_smallfs_init(void);
/* mkdir -p dir, then a tmpfs of `bytes` there: 0 or a negative errno. */
int ts_test_smallfs_mount(const char *dir, size_t bytes);
/* Unmounts (lazily: a child may still hold files open). */
void ts_test_smallfs_unmount(const char *dir);
/* Writes dir/.filler until not one more byte fits: returns the bytes written,
 * or -1. The disk stays full until ts_test_smallfs_unfill. */
long ts_test_smallfs_fill(const char *dir);
void ts_test_smallfs_unfill(const char *dir);

#endif
