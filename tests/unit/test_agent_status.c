/* The agent's status file (client/ts_agent_status.h): what `tramsync status`
 * reads when the database cannot be written. Values survive a reopen; a slot
 * torn by a crash mid-write is never read as the truth (the other slot is);
 * values are cleaned for one line and cut on a character boundary; and the
 * file never grows after it is made, so updating it needs no free space. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/ts_agent_status.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"

typedef struct fixture {
    char *dir;
    char *db;
} fixture;

static int setup(void **state)
{
    fixture *f = ts_xcalloc(1, sizeof *f);
    f->dir = ts_tmpdir_make("agent-status");
    f->db = ts_xasprintf("%s/station.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    free(f->db);
    ts_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static long file_size(const char *db)
{
    char *p = ts_agent_status_path(db);
    struct stat sb;
    long n = stat(p, &sb) == 0 ? (long)sb.st_size : -1;
    free(p);
    return n;
}

static void test_values_survive_reopen(void **state)
{
    fixture *f = *state;
    ts_agent_status *w = ts_xmalloc(sizeof *w), *r = ts_xmalloc(sizeof *r);
    ts_error err;
    assert_int_equal(ts_agent_status_load(r, f->db), TS_ENOT_FOUND);
    assert_int_equal(ts_agent_status_open(w, f->db, &err), 0);
    long size = file_size(f->db);
    assert_true(size > 0);
    ts_agent_status_set(w, "connected", "1");
    ts_agent_status_set_u64(w, "last_sync_ok_ms", 1795424240283ull);
    ts_agent_status_set(w, "last_error", "kết nối: hết thời gian chờ");
    for (int i = 0; i < 100; i++)
        ts_agent_status_set_u64(w, "agent_alive_ms", 1000u + (unsigned)i);
    assert_int_equal(file_size(f->db), size); /* written in place, never grown */
    assert_int_equal(ts_agent_status_load(r, f->db), 0);
    assert_string_equal(ts_agent_status_get(r, "connected"), "1");
    assert_true(ts_agent_status_get_u64(r, "last_sync_ok_ms") == 1795424240283ull);
    assert_string_equal(ts_agent_status_get(r, "last_error"), "kết nối: hết thời gian chờ");
    assert_int_equal(ts_agent_status_get_u64(r, "agent_alive_ms"), 1099);
    assert_string_equal(ts_agent_status_get(r, "missing"), "");
    ts_agent_status_close(w);
    /* the next run starts from what the last one left */
    assert_int_equal(ts_agent_status_open(w, f->db, &err), 0);
    assert_int_equal(ts_agent_status_get_u64(w, "agent_alive_ms"), 1099);
    ts_agent_status_set(w, "connected", "0");
    ts_agent_status_close(w);
    assert_int_equal(ts_agent_status_load(r, f->db), 0);
    assert_string_equal(ts_agent_status_get(r, "connected"), "0");
    assert_string_equal(ts_agent_status_get(r, "last_error"), "kết nối: hết thời gian chờ");
    free(w);
    free(r);
}

static void test_torn_slot_ignored(void **state)
{
    fixture *f = *state;
    ts_agent_status *w = ts_xmalloc(sizeof *w), *r = ts_xmalloc(sizeof *r);
    ts_error err;
    assert_int_equal(ts_agent_status_open(w, f->db, &err), 0);
    ts_agent_status_set(w, "storage_problem", "");
    ts_agent_status_set(w, "storage_problem", "database or disk is full");
    uint64_t newest = w->seq;
    ts_agent_status_close(w);
    /* a crash half-way through writing the newest slot: its second half is
     * still the old bytes */
    char *p = ts_agent_status_path(f->db);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    off_t slot = (off_t)((newest % 2) * 8192);
    char junk[200];
    memset(junk, 'x', sizeof junk);
    assert_int_equal(pwrite(fd, junk, sizeof junk, slot + 80), (ssize_t)sizeof junk);
    assert_int_equal(ts_agent_status_load(r, f->db), 0);
    assert_true(r->seq == newest - 1);
    assert_string_equal(ts_agent_status_get(r, "storage_problem"), "");
    /* both torn: no status rather than a wrong one */
    assert_int_equal(pwrite(fd, junk, sizeof junk, (off_t)(((newest - 1) % 2) * 8192) + 80), (ssize_t)sizeof junk);
    assert_int_equal(ts_agent_status_load(r, f->db), TS_ENOT_FOUND);
    close(fd);
    free(p);
    free(w);
    free(r);
}

static void test_values_cleaned_and_cut(void **state)
{
    fixture *f = *state;
    ts_agent_status *w = ts_xmalloc(sizeof *w), *r = ts_xmalloc(sizeof *r);
    ts_error err;
    assert_int_equal(ts_agent_status_open(w, f->db, &err), 0);
    ts_agent_status_set(w, "last_error", "dòng một\ndòng hai\r\tx=y");
    /* far longer than a value may be, in three-byte characters */
    char longv[4000] = "";
    for (int i = 0; i < 1300; i++)
        strcat(longv, "ệ");
    ts_agent_status_set(w, "clock_problem", longv);
    ts_agent_status_close(w);
    assert_int_equal(ts_agent_status_load(r, f->db), 0);
    assert_string_equal(ts_agent_status_get(r, "last_error"), "dòng một dòng hai  x=y");
    const char *cut = ts_agent_status_get(r, "clock_problem");
    size_t n = strlen(cut);
    assert_true(n > 900 && n < TS_AGENT_STATUS_VALUE);
    assert_int_equal(n % 3, 0); /* whole characters only */
    assert_memory_equal(cut, longv, n);
    free(w);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_values_survive_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_slot_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_cleaned_and_cut, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
