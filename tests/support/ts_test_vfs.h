/* "powercut": an SQLite VFS for tests that keeps every file in memory and can
 * simulate a power cut at any moment, as SQLite's own crash tests do.
 *
 * Each file has the image the process sees and, behind it, the image that
 * would survive a cut: what was there at its last xSync, plus the writes
 * made since, in order. A cut settles each of those unsynced writes at
 * random (dropped, kept, or torn: a prefix kept, or sector by sector kept,
 * dropped or turned to garbage, in the write's own bytes only), forgets the
 * -shm (shared memory does not survive), and kills every open handle: each
 * later read, write, sync, lock or mapping on it fails with SQLITE_IOERR, so
 * its owner can only close it (closing and unmapping always work and free
 * everything). Opening the same path afterwards sees the settled image.
 *
 * One process, one thread: the state is global, as a disk is. */
#ifndef TS_TEST_VFS_H
#define TS_TEST_VFS_H

#include <stdint.h>

#include "tests/support/ts_test.h"

#define TS_TEST_VFS_NAME "powercut"

typedef enum ts_vfs_cut {
    TS_VFS_CUT_TORN = 0, /* each unsynced write dropped, kept or torn, at random */
    TS_VFS_CUT_DROP = 1, /* nothing unsynced survives */
    TS_VFS_CUT_KEEP = 2  /* everything written survives (the process died, not the disk) */
} ts_vfs_cut;

/* Registers the VFS under TS_TEST_VFS_NAME (not as the default); idempotent.
 * Returns an SQLite result code. */
int ts_test_vfs_register(void);

/* The power goes off now. The rng decides what each unsynced write becomes. */
void ts_test_vfs_power_cut(ts_rng *rng, ts_vfs_cut mode);

/* Arms a cut just before the n-th next write, sync, truncate or delete
 * (that operation does not happen and fails); n = 0 disarms. rng must live
 * until the cut. */
void ts_test_vfs_cut_after(uint64_t n, ts_rng *rng, ts_vfs_cut mode);

/* Cuts so far; *last (when not NULL): what the last one interrupted, as
 * "sync /d.db-wal" ("" for a cut by ts_test_vfs_power_cut). */
uint64_t ts_test_vfs_cuts(const char **last);

/* Forgets every file (none may be open): a blank disk. */
void ts_test_vfs_clear(void);

#endif
