/* See ts_test_smallfs.h. Why a private mount namespace: a test killed by its
 * watchdog or by ASan never reaches its teardown, and a tmpfs left mounted
 * under /tmp would outlive it; in a namespace of its own the mount goes away
 * with the last process in it. */
#define _GNU_SOURCE
#include "tests/support/ts_test_smallfs.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int ts__write_proc(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int rc = n == (ssize_t)strlen(text) ? 0 : -errno;
    close(fd);
    return rc;
}

int ts_test_smallfs_init(void)
{
    static int done = 1;
    if (done <= 0)
        return done;
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWNS) < 0) {
        if (errno != EPERM) {
            done = -errno;
            return done;
        }
        /* not root: a user namespace whose root is us may still mount tmpfs */
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
            done = -errno;
            return done;
        }
        char map[64];
        ts__write_proc("/proc/self/setgroups", "deny");
        snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
        int rc = ts__write_proc("/proc/self/uid_map", map);
        snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
        if (rc == 0)
            rc = ts__write_proc("/proc/self/gid_map", map);
        if (rc < 0) {
            done = rc;
            return done;
        }
    }
    /* our mounts must not propagate back to the host's namespace */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        done = -errno;
        return done;
    }
    done = 0;
    return 0;
}

int ts_test_smallfs_mount(const char *dir, size_t bytes)
{
    int rc = ts_test_smallfs_init();
    if (rc < 0)
        return rc;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    char opts[64];
    snprintf(opts, sizeof opts, "size=%zu,mode=0755", bytes);
    if (mount("tramsync-test", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
        return -errno;
    return 0;
}

void ts_test_smallfs_unmount(const char *dir)
{
    ts_test_smallfs_unfill(dir);
    umount2(dir, MNT_DETACH);
}

long ts_test_smallfs_fill(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/.filler", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    static char chunk[65536];
    long total = 0;
    /* big pieces, then ever smaller ones, so not even the tail of the last
     * page is left free */
    for (size_t size = sizeof chunk; size >= 1; size /= 2) {
        for (;;) {
            ssize_t n = write(fd, chunk, size);
            if (n > 0) {
                total += n;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
    }
    close(fd);
    return total;
}

void ts_test_smallfs_unfill(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/.filler", dir);
    unlink(path);
}
