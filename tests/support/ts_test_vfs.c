/* The "powercut" VFS (see ts_test_vfs.h). The model, and why:
 *
 * - A file (pc_node) has two images: `live`, what reads return, and
 *   `durable`, what the platter holds for sure. A write or truncate changes
 *   `live` at once and is logged; xSync replays the log onto `durable` and
 *   empties it, so a sync costs what was written since the last one.
 * - A cut replays each file's log onto `durable` with a random fate per
 *   write, then `live` becomes a copy of it. A torn write may leave garbage,
 *   but only in its own bytes. We still promise no
 *   SQLITE_IOCAP_POWERSAFE_OVERWRITE, so SQLite takes its extra care (it
 *   pads each WAL commit to a sector boundary), but we do not trash whole
 *   sectors as SQLite's crash test can: then SQLite 3.40 itself loses a
 *   synced commit when a first cut loses the tail of the padding frame and
 *   the next transaction's first frame, written into the sector that ends
 *   the commit frame, is trashed by a second cut. That is SQLite's to
 *   answer; the unix VFS claims power-safe overwrite anyway.
 * - Creating and deleting files is durable at once (a journaled file
 *   system's metadata), as in SQLite's crash tests; contents are what is lost.
 * - The -shm is never on the "disk": xShmMap hands out memory of our own and
 *   a cut detaches it from its file, so the next connection starts from
 *   zeroed shared memory and must rebuild it from the WAL. The old memory
 *   lives until the dead connections unmap it, since SQLite may still read
 *   it through the pointers it holds.
 * - Locks: one process, so a handle's lock level is a field, and a conflict
 *   is another live handle of the same file holding too much. Dead handles
 *   hold nothing. */
#include "tests/support/ts_test_vfs.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/ts_xmalloc.h"

#define PC_SECTOR 512

typedef struct pc_image {
    uint8_t *data;
    int64_t size, cap;
} pc_image;

/* One logged, unsynced write; len < 0 is a truncate to `off`. */
typedef struct pc_entry {
    struct pc_entry *next;
    int64_t off;
    int len;
    uint8_t data[];
} pc_entry;

typedef struct pc_shm {
    int refs; /* handles that mapped it */
    int nregion;
    uint8_t **region;
    int shared[SQLITE_SHM_NLOCK]; /* holders of each lock, shared */
    unsigned excl;                /* locks held exclusive, as bits */
} pc_shm;

typedef struct pc_node {
    struct pc_node *next; /* in g.nodes while it has a name on the disk */
    char *name;
    bool linked;
    int refs; /* open handles */
    pc_image live, durable;
    pc_entry *log, **log_end;
    pc_shm *shm; /* the current shared memory, NULL until mapped */
} pc_node;

typedef struct pc_file {
    sqlite3_file base;
    pc_node *node;
    struct pc_file *next; /* in g.handles */
    int lock;             /* SQLITE_LOCK_* */
    bool dead;
    pc_shm *shm;                   /* mapped (an orphan after a cut) */
    unsigned shm_shared, shm_excl; /* the shm locks held, as bits */
} pc_file;

static struct {
    sqlite3_vfs vfs;
    pc_node *nodes;
    pc_file *handles;
    uint64_t cuts, countdown;
    ts_rng *rng;
    ts_vfs_cut mode;
    char last_cut[160];
} g;

/* ---------------------------------------------------------------- images and logs */

/* ftruncate: shrinks, or grows with zeros (a gap reads as zeros) */
static void img_resize(pc_image *im, int64_t size)
{
    if (size > im->cap) {
        int64_t cap = im->cap ? im->cap : 4096;
        while (cap < size)
            cap *= 2;
        im->data = ts_xrealloc(im->data, (size_t)cap);
        im->cap = cap;
    }
    if (size > im->size)
        memset(im->data + im->size, 0, (size_t)(size - im->size));
    im->size = size;
}

static void img_write(pc_image *im, int64_t off, const uint8_t *src, int64_t len)
{
    if (len <= 0)
        return;
    if (off + len > im->size)
        img_resize(im, off + len);
    memcpy(im->data + off, src, (size_t)len);
}

static void log_append(pc_node *n, int64_t off, const void *data, int len)
{
    pc_entry *w = ts_xmalloc(sizeof *w + (size_t)(len > 0 ? len : 0));
    w->next = NULL;
    w->off = off;
    w->len = len;
    if (len > 0)
        memcpy(w->data, data, (size_t)len);
    *n->log_end = w;
    n->log_end = &w->next;
}

/* A write torn sector by sector: each sector of it kept, dropped, or turned
 * to garbage. Only the write's own bytes: the bytes beside it in the same
 * sector keep what they held (see the top of the file). */
static void tear_sectors(pc_image *d, const pc_entry *w, ts_rng *rng)
{
    int64_t end = w->off + w->len;
    for (int64_t s = w->off / PC_SECTOR * PC_SECTOR; s < end; s += PC_SECTOR) {
        int64_t lo = s > w->off ? s : w->off, hi = s + PC_SECTOR < end ? s + PC_SECTOR : end;
        uint64_t fate = ts_rng_below(rng, 3);
        uint8_t junk[PC_SECTOR];
        for (int64_t i = 0; fate == 2 && i < hi - lo; i++)
            junk[i] = (uint8_t)ts_rng_next(rng);
        if (fate != 1)
            img_write(d, lo, fate == 0 ? w->data + (lo - w->off) : junk, hi - lo);
    }
}

/* Replays the log onto the durable image, each write meeting its fate
 * (KEEP: all of them, which is what a sync does), and empties it. */
static void node_settle(pc_node *n, ts_rng *rng, ts_vfs_cut mode)
{
    for (pc_entry *w = n->log, *next; w; w = next) {
        next = w->next;
        int fate = mode == TS_VFS_CUT_KEEP ? 1 : mode == TS_VFS_CUT_DROP ? 0 : (int)ts_rng_below(rng, 4);
        if (w->len < 0) { /* a truncate happened or did not */
            if (fate % 2)
                img_resize(&n->durable, w->off);
        } else if (fate == 1) {
            img_write(&n->durable, w->off, w->data, w->len);
        } else if (fate == 2) { /* a prefix reached the platter */
            img_write(&n->durable, w->off, w->data, (int64_t)ts_rng_below(rng, (uint64_t)w->len));
        } else if (fate == 3) {
            tear_sectors(&n->durable, w, rng);
        }
        free(w);
    }
    n->log = NULL;
    n->log_end = &n->log;
}

static void node_free(pc_node *n)
{
    node_settle(n, NULL, TS_VFS_CUT_DROP);
    free(n->live.data);
    free(n->durable.data);
    free(n->name);
    free(n);
}

static pc_node *node_find(const char *name)
{
    pc_node *n = g.nodes;
    while (n != NULL && strcmp(n->name, name) != 0)
        n = n->next;
    return n;
}

/* Takes the name off the disk; the node lives on while handles have it. */
static void node_unlink(pc_node *n)
{
    pc_node **pp = &g.nodes;
    while (*pp != n)
        pp = &(*pp)->next;
    *pp = n->next;
    n->linked = false;
    if (n->refs == 0)
        node_free(n);
}

/* ---------------------------------------------------------------- the cut */

void ts_test_vfs_power_cut(ts_rng *rng, ts_vfs_cut mode)
{
    g.cuts++;
    g.last_cut[0] = 0;
    g.countdown = 0;
    for (pc_node *n = g.nodes; n; n = n->next) {
        node_settle(n, rng, mode);
        n->live.size = 0;
        img_write(&n->live, 0, n->durable.data, n->durable.size);
        n->shm = NULL; /* its mappers are about to die with it */
    }
    for (pc_file *f = g.handles; f; f = f->next) {
        f->dead = true;
        f->lock = SQLITE_LOCK_NONE;
    }
}

/* Counts an operation that changes the disk; true when the power goes off
 * just before it (it must then fail and do nothing). */
static bool pc_tick(const char *what, const char *name)
{
    if (g.countdown == 0 || --g.countdown > 0)
        return false;
    ts_test_vfs_power_cut(g.rng, g.mode);
    snprintf(g.last_cut, sizeof g.last_cut, "%s %s", what, name);
    return true;
}

void ts_test_vfs_cut_after(uint64_t n, ts_rng *rng, ts_vfs_cut mode)
{
    g.countdown = n;
    g.rng = rng;
    g.mode = mode;
}

uint64_t ts_test_vfs_cuts(const char **last)
{
    if (last)
        *last = g.last_cut;
    return g.cuts;
}

void ts_test_vfs_clear(void)
{
    while (g.nodes) {
        if (g.nodes->refs != 0)
            fail_msg("powercut: %s is still open", g.nodes->name);
        node_unlink(g.nodes);
    }
}

/* ---------------------------------------------------------------- shared memory */

/* Drops the shm locks this handle holds in mask (SQLite never holds one
 * both shared and exclusive, so one call serves both kinds of unlock). */
static void shm_unlock(pc_file *f, unsigned mask)
{
    for (int i = 0; i < SQLITE_SHM_NLOCK; i++)
        f->shm->shared[i] -= (int)((f->shm_shared & mask) >> i & 1);
    f->shm->excl &= ~(f->shm_excl & mask);
    f->shm_shared &= ~mask;
    f->shm_excl &= ~mask;
}

static void shm_release(pc_file *f)
{
    pc_shm *s = f->shm;
    if (s == NULL)
        return;
    shm_unlock(f, ~0u);
    f->shm = NULL;
    if (--s->refs > 0)
        return;
    if (f->node->shm == s)
        f->node->shm = NULL;
    for (int i = 0; i < s->nregion; i++)
        free(s->region[i]);
    free(s->region);
    free(s);
}

static int pc_shm_map(sqlite3_file *file, int iregion, int szregion, int extend, void volatile **pp)
{
    pc_file *f = (pc_file *)file;
    *pp = NULL;
    if (f->dead)
        return SQLITE_IOERR_SHMMAP;
    if (f->shm == NULL) {
        if (f->node->shm == NULL)
            f->node->shm = ts_xcalloc(1, sizeof *f->node->shm);
        f->shm = f->node->shm;
        f->shm->refs++;
    }
    pc_shm *s = f->shm;
    if (iregion >= s->nregion) {
        if (!extend)
            return SQLITE_OK;
        s->region = ts_xreallocarray(s->region, (size_t)iregion + 1, sizeof *s->region);
        for (; s->nregion <= iregion; s->nregion++)
            s->region[s->nregion] = ts_xcalloc(1, (size_t)szregion);
    }
    *pp = s->region[iregion];
    return SQLITE_OK;
}

static int pc_shm_lock(sqlite3_file *file, int ofs, int n, int flags)
{
    pc_file *f = (pc_file *)file;
    pc_shm *s = f->shm;
    if (f->dead || s == NULL)
        return SQLITE_IOERR_SHMLOCK;
    unsigned mask = ((1u << n) - 1) << ofs;
    if (flags & SQLITE_SHM_UNLOCK) {
        shm_unlock(f, mask);
        return SQLITE_OK;
    }
    bool excl = flags & SQLITE_SHM_EXCLUSIVE;
    for (int i = ofs; i < ofs + n; i++) { /* all or nothing */
        int others_shared = s->shared[i] - (int)(f->shm_shared >> i & 1);
        if ((s->excl & ~f->shm_excl & 1u << i) || (excl && others_shared > 0))
            return SQLITE_BUSY;
    }
    if (excl) {
        s->excl |= mask;
        f->shm_excl |= mask;
    } else {
        for (int i = ofs; i < ofs + n; i++)
            s->shared[i] += !(f->shm_shared >> i & 1);
        f->shm_shared |= mask;
    }
    return SQLITE_OK;
}

static void pc_shm_barrier(sqlite3_file *file)
{
    (void)file;
    atomic_thread_fence(memory_order_seq_cst);
}

static int pc_shm_unmap(sqlite3_file *file, int delete_flag)
{
    (void)delete_flag; /* the memory goes with its last mapper either way */
    shm_release((pc_file *)file);
    return SQLITE_OK;
}

/* ---------------------------------------------------------------- files */

/* Works on a dead handle too: the code that held it can always let go. */
static int pc_close(sqlite3_file *file)
{
    pc_file *f = (pc_file *)file, **pp = &g.handles;
    shm_release(f);
    while (*pp != f)
        pp = &(*pp)->next;
    *pp = f->next;
    if (--f->node->refs == 0 && !f->node->linked)
        node_free(f->node);
    return SQLITE_OK;
}

static int pc_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 off)
{
    pc_file *f = (pc_file *)file;
    if (f->dead)
        return SQLITE_IOERR_READ;
    const pc_image *im = &f->node->live;
    int64_t have = off < im->size ? im->size - off : 0;
    if (have > amt)
        have = amt;
    if (have > 0)
        memcpy(buf, im->data + off, (size_t)have);
    if (have == amt)
        return SQLITE_OK;
    memset((uint8_t *)buf + have, 0, (size_t)(amt - have)); /* SQLite requires the zeros */
    return SQLITE_IOERR_SHORT_READ;
}

static int pc_write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 off)
{
    pc_file *f = (pc_file *)file;
    if (f->dead || pc_tick("write", f->node->name))
        return SQLITE_IOERR_WRITE;
    img_write(&f->node->live, off, buf, amt);
    log_append(f->node, off, buf, amt);
    return SQLITE_OK;
}

static int pc_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    pc_file *f = (pc_file *)file;
    if (f->dead || pc_tick("truncate", f->node->name))
        return SQLITE_IOERR_TRUNCATE;
    img_resize(&f->node->live, size);
    log_append(f->node, size, NULL, -1);
    return SQLITE_OK;
}

static int pc_sync(sqlite3_file *file, int flags)
{
    (void)flags; /* a data-only sync keeps the data just the same */
    pc_file *f = (pc_file *)file;
    if (f->dead || pc_tick("sync", f->node->name))
        return SQLITE_IOERR_FSYNC;
    node_settle(f->node, NULL, TS_VFS_CUT_KEEP);
    return SQLITE_OK;
}

static int pc_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    pc_file *f = (pc_file *)file;
    if (f->dead)
        return SQLITE_IOERR_FSTAT;
    *size = f->node->live.size;
    return SQLITE_OK;
}

static int pc_lock(sqlite3_file *file, int level)
{
    pc_file *f = (pc_file *)file;
    if (f->dead)
        return SQLITE_IOERR_LOCK;
    if (f->lock >= level)
        return SQLITE_OK;
    for (pc_file *o = g.handles; o; o = o->next) {
        if (o == f || o->node != f->node || o->dead)
            continue;
        if ((level == SQLITE_LOCK_SHARED && o->lock >= SQLITE_LOCK_PENDING) ||
            (level == SQLITE_LOCK_RESERVED && o->lock >= SQLITE_LOCK_RESERVED) ||
            (level >= SQLITE_LOCK_PENDING && o->lock >= SQLITE_LOCK_SHARED))
            return SQLITE_BUSY;
    }
    f->lock = level;
    return SQLITE_OK;
}

static int pc_unlock(sqlite3_file *file, int level)
{
    pc_file *f = (pc_file *)file;
    if (f->dead)
        return SQLITE_IOERR_UNLOCK;
    if (f->lock > level)
        f->lock = level;
    return SQLITE_OK;
}

static int pc_check_reserved(sqlite3_file *file, int *out)
{
    pc_file *f = (pc_file *)file;
    *out = 0;
    if (f->dead)
        return SQLITE_IOERR_CHECKRESERVEDLOCK;
    for (pc_file *o = g.handles; o; o = o->next)
        *out |= o->node == f->node && !o->dead && o->lock >= SQLITE_LOCK_RESERVED;
    return SQLITE_OK;
}

/* No file control is ours (SQLite carries on without). */
static int pc_file_control(sqlite3_file *file, int op, void *arg)
{
    (void)file, (void)op, (void)arg;
    return SQLITE_NOTFOUND;
}

static int pc_sector_size(sqlite3_file *file)
{
    (void)file;
    return PC_SECTOR;
}

/* No atomic writes, no safe overwrite: SQLite takes every precaution it has. */
static int pc_device_characteristics(sqlite3_file *file)
{
    (void)file;
    return 0;
}

static const sqlite3_io_methods pc_io = {
    .iVersion = 2, .xClose = pc_close, .xRead = pc_read, .xWrite = pc_write, .xTruncate = pc_truncate,
    .xSync = pc_sync, .xFileSize = pc_file_size, .xLock = pc_lock, .xUnlock = pc_unlock,
    .xCheckReservedLock = pc_check_reserved, .xFileControl = pc_file_control, .xSectorSize = pc_sector_size,
    .xDeviceCharacteristics = pc_device_characteristics, .xShmMap = pc_shm_map, .xShmLock = pc_shm_lock,
    .xShmBarrier = pc_shm_barrier, .xShmUnmap = pc_shm_unmap,
};

/* ---------------------------------------------------------------- the VFS */

static int pc_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
    (void)vfs;
    pc_file *f = (pc_file *)file;
    memset(f, 0, sizeof *f);
    pc_node *n = name ? node_find(name) : NULL;
    if (n != NULL && (flags & SQLITE_OPEN_EXCLUSIVE))
        return SQLITE_CANTOPEN;
    if (n == NULL) {
        if (name != NULL && !(flags & SQLITE_OPEN_CREATE))
            return SQLITE_CANTOPEN;
        n = ts_xcalloc(1, sizeof *n);
        n->name = ts_xstrdup(name ? name : "(temp)");
        n->log_end = &n->log;
        if (name != NULL) { /* a temporary file has no name on the disk */
            n->linked = true;
            n->next = g.nodes;
            g.nodes = n;
        }
    }
    n->refs++;
    f->node = n;
    f->next = g.handles;
    g.handles = f;
    f->base.pMethods = &pc_io;
    if (out_flags)
        *out_flags = flags;
    return SQLITE_OK;
}

static int pc_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs, (void)sync_dir;
    pc_node *n = node_find(name);
    if (n == NULL)
        return SQLITE_IOERR_DELETE_NOENT;
    if (pc_tick("delete", name))
        return SQLITE_IOERR_DELETE;
    node_unlink(n);
    return SQLITE_OK;
}

static int pc_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    pc_node *n = node_find(name);
    /* as on unix, an empty file does not "exist" (a journal never written) */
    *out = n != NULL && (flags != SQLITE_ACCESS_EXISTS || n->live.size > 0);
    return SQLITE_OK;
}

static int pc_full_pathname(sqlite3_vfs *vfs, const char *name, int nout, char *out)
{
    (void)vfs;
    int len = snprintf(out, (size_t)nout, "%s%s", name[0] == '/' ? "" : "/", name);
    return len < nout ? SQLITE_OK : SQLITE_CANTOPEN;
}

/* Randomness, sleep, time and the rest are the default VFS's own functions,
 * reached through a copy of its structure (as SQLite's quota and multiplex
 * shims do): they ignore the VFS they are handed. */
int ts_test_vfs_register(void)
{
    if (sqlite3_vfs_find(TS_TEST_VFS_NAME) != NULL)
        return SQLITE_OK;
    sqlite3_vfs *base = sqlite3_vfs_find(NULL);
    if (base == NULL || base->iVersion < 2)
        return SQLITE_ERROR;
    g.vfs = *base;
    g.vfs.iVersion = 2; /* no system-call overrides */
    g.vfs.szOsFile = (int)sizeof(pc_file);
    g.vfs.pNext = NULL;
    g.vfs.zName = TS_TEST_VFS_NAME;
    g.vfs.pAppData = NULL;
    g.vfs.xOpen = pc_open;
    g.vfs.xDelete = pc_delete;
    g.vfs.xAccess = pc_access;
    g.vfs.xFullPathname = pc_full_pathname;
    return sqlite3_vfs_register(&g.vfs, 0);
}
