/* docs/PROTOCOL.md's codes of the district's own failures, on the wire: the
 * rows of "Every code on the wire" that name this test (STORAGE, INTERNAL)
 * are played against a real tramsyncd whose database lives on a small tmpfs
 * of the test's own (tests/support/ts_test_smallfs.h), filled to the last
 * byte:
 *
 *  - a PUSH is answered PUSH_ACK.code = STORAGE, no result, nothing stored;
 *    the session stays READY, and once the disk has room the same PUSH is
 *    applied, once;
 *  - a PULL is still answered with its page, read from what is committed
 *    (the district could not record the station's cursor: "Pulling");
 *  - a HELLO is refused ERROR INTERNAL (fatal) and closed; the session of
 *    the same station that was READY is not replaced.
 *
 * As in test_disk_full: the daemon is restarted right before the disk is
 * filled, so its WAL is fresh and every commit on the full disk needs new
 * pages (a commit that reused old WAL pages could succeed). Each case checks
 * in the daemon's log that its write really failed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_error.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_smallfs.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_vectors.h"
#include "tests/support/ts_test_watchdog.h"

#define BN "binhnguyen"
#define REPLICA BN ".d15cf011d15cf011"
#define FS_BYTES (24u << 20)
#define WAIT_MS 10000
#define THIS_TEST "test_conformance_disk"
#define THIS_FILE "tests/integration/" THIS_TEST ".c"

static int smallfs_rc = 1;

typedef struct env {
    char *dir;   /* the test's files, the daemon's log: a normal disk */
    char *dbdir; /* the small tmpfs holding the district database */
    bool mounted, pki_made, passed;
    ts_test_pki pki;
    ts_test_daemon d;
    ts_tv_doc doc;
    bool doc_loaded;
    char server_db[80];
    uint64_t cursor;
} env;

/* ---------------------------------------------------------------- the station */

static void tc_open(env *e, ts_tc *c)
{
    char *cert = ts_test_pki_cert(&e->pki, BN);
    char *key = ts_test_pki_key(&e->pki, BN);
    ts_tc_opts o = {cert, key, e->pki.ca, 0, 0};
    int rc = ts_tc_connect(c, e->d.port, &o);
    free(cert);
    free(key);
    if (rc < 0)
        fail_msg("TLS connect: %s", c->error);
}

static void send_hello(env *e, ts_tc *c, uint64_t lseq)
{
    ts_msg m;
    ts_msg_init(&m, TS_MSG_HELLO);
    ts_msg_hello *h = &m.u.hello;
    h->proto_min = TS_PROTO_VERSION_MIN;
    h->proto_max = TS_PROTO_VERSION_MAX;
    h->agent = "tramsync-conformance/1";
    h->replica = REPLICA;
    h->station = BN;
    h->server_db = e->server_db;
    h->cursor = e->cursor;
    h->lseq = lseq;
    h->time = ts_wall_ms();
    h->live = false;
    assert_int_equal(ts_tc_send(c, &m), 0);
    ts_msg_free(&m);
}

static void ready(env *e, ts_tc *c, uint64_t lseq)
{
    tc_open(e, c);
    send_hello(e, c, lseq);
    ts_msg w;
    assert_int_equal(ts_tc_expect(c, TS_MSG_WELCOME, &w, WAIT_MS), 1);
    assert_false(w.u.welcome.rekey);
    assert_false(w.u.welcome.cursor_reset);
    snprintf(e->server_db, sizeof e->server_db, "%s", w.u.welcome.server_db);
    ts_msg_free(&w);
}

/* A PUSH (batch n) of resident `id`, the replica's n-th change, written once
 * (resent as it is, it is the same change). */
static void make_push(ts_msg *m, const char *id, uint64_t n)
{
    ts_msg_init(m, TS_MSG_PUSH);
    m->u.push.batch = n;
    ts_change *ch = ts_msg_alloc_changes(m, &m->u.push.changes, 1);
    ts_tc_make_resident(m, ch, id, BN, REPLICA, 1, n, "Lê Thị Đầy");
}

/* Sends it; the PUSH_ACK is left in *ack. */
static void push(ts_tc *c, const ts_msg *m, ts_msg *ack)
{
    assert_int_equal(ts_tc_send(c, m), 0);
    if (ts_tc_expect(c, TS_MSG_PUSH_ACK, ack, WAIT_MS) != 1)
        fail_msg("no PUSH_ACK for batch %llu", (unsigned long long)m->u.push.batch);
}

/* PULL since the station's cursor: the page, or fails. Whether it holds `id`. */
static bool pull(env *e, ts_tc *c, const char *id)
{
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PULL);
    m.u.pull.since = e->cursor;
    assert_int_equal(ts_tc_send(c, &m), 0);
    ts_msg_free(&m);
    if (ts_tc_expect(c, TS_MSG_CHANGES, &m, WAIT_MS) != 1) {
        fail_msg("a PULL was not answered CHANGES");
        return false;
    }
    bool has = false;
    for (size_t i = 0; i < m.u.changes.changes.n; i++)
        has |= id != NULL && strcmp(m.u.changes.changes.items[i].id, id) == 0;
    e->cursor = m.u.changes.cursor;
    ts_msg_free(&m);
    return has;
}

static long records_named(const env *e, const char *id)
{
    char q[160];
    snprintf(q, sizeof q, "SELECT count(*) FROM records WHERE tbl = 'residents' AND id = '%s'", id);
    return ts_test_sql_count(e->dbdir, "district.db", q);
}

/* ---------------------------------------------------------------- the document's rows */

typedef struct row {
    int n;
    char where[64], code[64], sends[400], then[64];
} row;

/* The rows of "Every code on the wire" whose last cell names this test. */
static size_t rows_for_this_test(const env *e, row *rows, size_t max)
{
    const char *t = strstr(e->doc.text, "\n### Every code on the wire\n");
    if (t == NULL)
        fail_msg("docs/PROTOCOL.md has no \"### Every code on the wire\" table");
    const char *end = strstr(t + 1, "\n## ");
    size_t n = 0;
    for (const char *line = strstr(t, "\n| E"); line != NULL && (end == NULL || line < end) && n < max;
         line = strstr(line + 1, "\n| E")) {
        char id[16], by[200];
        row *r = &rows[n];
        if (!ts_tv_cell(line + 1, 0, id, sizeof id) || !ts_tv_cell(line + 1, 5, by, sizeof by))
            continue;
        if (strcmp(by, "`" THIS_FILE "`") != 0)
            continue;
        if (sscanf(id, "E%d", &r->n) != 1 || !ts_tv_cell(line + 1, 1, r->where, sizeof r->where) ||
            !ts_tv_cell(line + 1, 2, r->code, sizeof r->code) || !ts_tv_cell(line + 1, 3, r->sends, sizeof r->sends) ||
            !ts_tv_cell(line + 1, 4, r->then, sizeof r->then))
            fail_msg("docs/PROTOCOL.md: a row of \"Every code on the wire\" that does not read: %.60s", line + 1);
        n++;
    }
    return n;
}

static const row *find_row(const row *rows, size_t n, const char *where, const char *code)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].where, where) == 0 && strcmp(rows[i].code, code) == 0)
            return &rows[i];
    fail_msg("docs/PROTOCOL.md has no row %s %s asserted by " THIS_TEST, where, code);
    return NULL;
}

/* ---------------------------------------------------------------- the test */

static void test_codes_on_a_full_disk(void **state)
{
    env *e = *state;
    if (smallfs_rc < 0) {
        print_message("skipped: no small filesystem for the district database (%s)\n", strerror(-smallfs_rc));
        e->passed = true;
        skip();
    }
    row rows[8];
    size_t nrows = rows_for_this_test(e, rows, 8);
    assert_int_equal(nrows, 2);
    const row *storage = find_row(rows, nrows, "`PUSH_ACK.code`", "`STORAGE`");
    const row *internal = find_row(rows, nrows, "`ERROR`", "`INTERNAL`");
    assert_string_equal(storage->then, "READY");
    assert_string_equal(internal->then, "closed");
    assert_non_null(strstr(storage->sends, "PUSH"));
    assert_non_null(strstr(internal->sends, "HELLO"));

    char *database = ts_xasprintf("server.database=%s/district.db", e->dbdir);
    const char *sets[] = {database, "admin.targets_every=0", "notices.escalate_every=0", NULL};
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);
    free(database);

    /* a station that has synced: one record pushed, its cursor */
    ts_tc a;
    ready(e, &a, 0);
    ts_msg ack, first, second;
    make_push(&first, "bn-disk-1", 1);
    make_push(&second, "bn-disk-2", 2);
    push(&a, &first, &ack);
    assert_int_equal(ack.u.push_ack.code, 0);
    assert_int_equal(ack.u.push_ack.results[0].outcome, TS_OUTCOME_APPLIED);
    ts_msg_free(&ack);
    pull(e, &a, NULL);
    ts_tc_close(&a);

    /* a fresh WAL (see the top), the station READY, then the disk fills */
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    ts_test_daemon_restart(&e->d);
    ready(e, &a, 1);
    long filled = ts_test_smallfs_fill(e->dbdir);
    assert_true(filled > 0);
    print_message("the district's disk is full (%ld bytes of filler)\n", filled);

    /* E-row STORAGE: the PUSH is refused whole, the session goes on */
    print_message("E%d STORAGE\n", storage->n);
    int failed_commits = ts_test_file_count(e->d.log, "event=group_commit_failed");
    push(&a, &second, &ack);
    if (ack.u.push_ack.code != (uint64_t)-TS_ESTORAGE)
        fail_msg("E%d: a PUSH on a full disk was answered PUSH_ACK.code %s, the document says STORAGE", storage->n,
                 ack.u.push_ack.code ? ts_err_name(-(int)ack.u.push_ack.code) : "absent");
    assert_int_equal(ack.u.push_ack.nresults, 0);
    assert_non_null(ack.u.push_ack.message);
    ts_msg_free(&ack);
    assert_true(ts_test_file_count(e->d.log, "event=group_commit_failed") > failed_commits);

    /* READY: a PULL is answered with its page, though the cursor it reports
     * cannot be recorded; the refused record is not in it */
    assert_false(pull(e, &a, "bn-disk-2"));
    assert_true(ts_test_log_wait(e->d.log, "event=pull_read_again", 5000));

    /* E-row INTERNAL: a HELLO the district cannot record */
    print_message("E%d INTERNAL\n", internal->n);
    ts_tc b;
    tc_open(e, &b);
    send_hello(e, &b, 1);
    ts_msg m;
    if (ts_tc_recv(&b, &m, WAIT_MS) != 1)
        fail_msg("E%d: a HELLO on a full disk was not answered", internal->n);
    if (m.type != TS_MSG_ERROR || m.u.error.code != (uint64_t)-TS_EINTERNAL ||
        strcmp(m.u.error.name, ts_err_name(TS_EINTERNAL)) != 0 || !m.u.error.fatal)
        fail_msg("E%d: a HELLO on a full disk was answered %s %s, the document says ERROR INTERNAL (fatal)",
                 internal->n, ts_msg_type_name(m.type), m.type == TS_MSG_ERROR ? m.u.error.name : "");
    ts_msg_free(&m);
    assert_int_equal(ts_tc_recv(&b, &m, WAIT_MS), -1); /* closed */
    ts_tc_close(&b);
    /* the READY session was not replaced by the refused one */
    assert_false(pull(e, &a, "bn-disk-2"));

    /* room again: nothing of the refused PUSH was stored; sent again, it is
     * applied, once */
    ts_test_smallfs_unfill(e->dbdir);
    assert_int_equal(records_named(e, "bn-disk-2"), 0);
    push(&a, &second, &ack);
    assert_int_equal(ack.u.push_ack.code, 0);
    assert_int_equal(ack.u.push_ack.results[0].outcome, TS_OUTCOME_APPLIED);
    ts_msg_free(&ack);
    push(&a, &second, &ack);
    assert_int_equal(ack.u.push_ack.code, 0);
    assert_int_equal(ack.u.push_ack.results[0].outcome, TS_OUTCOME_DUPLICATE);
    ts_msg_free(&ack);
    assert_int_equal(records_named(e, "bn-disk-2"), 1);
    ts_msg_free(&first);
    ts_msg_free(&second);
    /* and a HELLO is welcome again */
    ready(e, &b, 2);
    ts_tc_close(&b);
    ts_tc_close(&a);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* ---------------------------------------------------------------- setup */

static int group_setup(void **state)
{
    (void)state;
    /* before any child: the mount namespace is the whole process's */
    smallfs_rc = ts_test_smallfs_init();
    return 0;
}

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    *state = e;
    if (smallfs_rc < 0)
        return 0;
    ts_tv_load(&e->doc);
    e->doc_loaded = true;
    e->dir = ts_tmpdir_make("conformance-disk");
    e->dbdir = ts_xasprintf("%s/db", e->dir);
    int rc = ts_test_smallfs_mount(e->dbdir, FS_BYTES);
    if (rc < 0) {
        smallfs_rc = rc;
        return 0;
    }
    e->mounted = true;
    const char *codes[] = {BN};
    ts_test_pki_make(&e->pki, e->dir, codes, 1);
    e->pki_made = true;
    ts_test_watchdog_arm(THIS_TEST, 180);
    ts_test_watchdog_watch(&e->d.pid);
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    ts_test_watchdog_disarm();
    if (!e->passed && e->d.log)
        ts_test_log_tail(e->d.log, 60);
    if (e->d.pid > 0)
        ts_test_daemon_kill(&e->d);
    ts_test_daemon_free(&e->d);
    if (e->pki_made)
        ts_test_pki_free(&e->pki);
    if (e->mounted)
        ts_test_smallfs_unmount(e->dbdir);
    if (e->doc_loaded)
        ts_tv_free(&e->doc);
    free(e->dbdir);
    if (e->dir)
        ts_tmpdir_remove(e->dir);
    free(e);
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_codes_on_a_full_disk, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
