/* docs/PROTOCOL.md's story, played to a real tramsyncd: the district's
 * WELCOME, NOTICE, PUSH_ACK and CHANGES vectors are what the daemon sends
 * when its database holds what the story says the district had (its
 * replica and database ids, its sequence, the versions), the station
 * sending the HELLO, PUSH and PULL vectors byte for byte. Only the WELCOME's
 * clock and the NOTICE's sequence numbers differ (in the replay the notice
 * is older than the push). The other district vectors are checked by
 * test_conformance, row by row. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/ts_hlc.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_vectors.h"
#include "tests/support/ts_test_watchdog.h"

#define BN "binhnguyen"
#define WAIT_MS 10000

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_tv_doc doc;
} env;

static env *g;

static void tc_open(ts_tc *c, int port)
{
    char *cert = ts_test_pki_cert(&g->pki, BN);
    char *key = ts_test_pki_key(&g->pki, BN);
    ts_tc_opts o = {cert, key, g->pki.ca, 0, 0};
    int rc = ts_tc_connect(c, port, &o);
    free(cert);
    free(key);
    if (rc < 0)
        fail_msg("TLS connect: %s", c->error);
}

/* The vector's message, decoded from its hex (owned by the caller). */
static void vector_msg(const char *name, ts_msg *m)
{
    const ts_tv *v = ts_tv_find(&g->doc, name);
    if (v == NULL)
        fail_msg("docs/PROTOCOL.md has no vector %s", name);
    ts_error err;
    if (ts_msg_decode(v->hex + 4, v->hex_len - 4, NULL, m, &err) < 0)
        fail_msg("vector %s: %s", name, err.msg);
}

/* Stores versions as the district holds them: what the story says the
 * district had before the station connected. */
static void seed(ts_store *st, const ts_change *c, size_t n)
{
    ts_apply_result *res = ts_xcalloc(n, sizeof *res);
    ts_error err;
    ts_actor a = {TS_ACTOR_SERVER, NULL, NULL, NULL};
    if (ts_store_begin(st, &err) < 0 || ts_store_apply(st, &a, c, n, res, &err) < 0 || ts_store_commit(st, &err) < 0)
        fail_msg("seeding the story: %s", err.msg);
    for (size_t i = 0; i < n; i++)
        if (res[i].outcome != TS_OUTCOME_APPLIED)
            fail_msg("seeding the story: %s/%s was %s (%s)", c[i].table, c[i].id, ts_outcome_name(res[i].outcome),
                     res[i].reason ? res[i].reason : "");
    free(res);
}

/* Sets `key` of every object of an array (or of the object itself) to what
 * the daemon sent: the values that must differ (sequence numbers). */
static void mask_seq(json_t *want, const json_t *got, const char *array, const char *key)
{
    const json_t *ga = array ? json_object_get(got, array) : NULL;
    json_t *wa = array ? json_object_get(want, array) : NULL;
    if (array == NULL) {
        const json_t *x = json_object_get(got, key);
        if (x != NULL && json_object_get(want, key) != NULL)
            json_object_set(want, key, (json_t *)x);
        return;
    }
    for (size_t i = 0; i < json_array_size(wa) && i < json_array_size(ga); i++) {
        const json_t *x = json_object_get(json_array_get(ga, i), key);
        if (x != NULL && json_object_get(json_array_get(wa, i), key) != NULL)
            json_object_set(json_array_get(wa, i), key, (json_t *)x);
    }
}

static void expect_vector(ts_tc *c, ts_msg_type type, const char *name, const char *const *top, const char *array)
{
    ts_msg m;
    if (ts_tc_expect(c, type, &m, WAIT_MS) != 1) {
        fail_msg("the district sent no %s", name);
        return;
    }
    ts_buf b = TS_BUF_INIT;
    ts_msg_encode(&m, &b);
    ts_msg_free(&m);
    json_t *got = ts_tv_body_json(b.data + 4, b.len - 4);
    ts_buf_free(&b);
    const ts_tv *v = ts_tv_find(&g->doc, name);
    json_t *want = json_deep_copy(v->json);
    for (size_t i = 0; top && top[i]; i++)
        mask_seq(want, got, NULL, top[i]);
    if (array != NULL)
        mask_seq(want, got, array, "seq");
    if (!json_equal(want, got)) {
        char *a = json_dumps(got, JSON_COMPACT), *w = json_dumps(want, JSON_COMPACT);
        /* long messages: one change (or key) at a time */
        const char *key;
        json_t *x;
        json_object_foreach(want, key, x) {
            const json_t *y = json_object_get(got, key);
            if (json_is_array(x) && json_is_array(y)) {
                for (size_t i = 0; i < json_array_size(x) || i < json_array_size(y); i++) {
                    if (json_equal(json_array_get(x, i), json_array_get(y, i)))
                        continue;
                    char *ga = json_dumps(json_array_get(y, i), JSON_COMPACT);
                    char *wa = json_dumps(json_array_get(x, i), JSON_COMPACT);
                    print_error("%s.%s[%zu]: the district sent\n%s\nthe document says\n%s\n", name, key, i,
                                ga ? ga : "nothing", wa ? wa : "nothing");
                    free(ga);
                    free(wa);
                }
            } else if (!json_equal(x, y)) {
                print_error("%s.%s differs\n", name, key);
            }
        }
        print_error("the district's %s is\n%.2000s\nthe document's vector (line %d, sequence numbers masked) is\n%.2000s\n",
                    name, a, v->json_line, w);
        free(a);
        free(w);
        fail_msg("the district's %s is not the document's vector %s", name, name);
    }
    json_decref(want);
    json_decref(got);
}

/* The story of the test vectors, played to a daemon whose database holds
 * what the story says the district had: the notice not yet delivered, the
 * resident bn-000123 as the old replica and the district wrote it (the last
 * version the station pulled, at its cursor), and the three versions the
 * CHANGES page holds. The station sends the HELLO vector, gets WELCOME and
 * the NOTICE, pushes the PUSH vector and sends the PULL vector: WELCOME,
 * NOTICE, PUSH_ACK and CHANGES must be the vectors. */
static void test_story_replies(void **state)
{
    (void)state;
    char *dir = ts_xasprintf("%s/story", g->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    /* the daemon makes its database (and its own records, the plan tasks)
     * first, so that what the story adds comes after them */
    static ts_test_daemon d2; /* the watchdog keeps its address */
    memset(&d2, 0, sizeof d2);
    const char *sets[] = {NULL};
    ts_test_daemon_start(&d2, dir, &g->pki, sets);
    ts_test_watchdog_watch(&d2.pid);
    assert_int_equal(ts_test_daemon_stop(&d2, SIGTERM, 10000), 0);
    ts_store *st = ts_test_open(dir, "district.db", TS_ROLE_SERVER, NULL, NULL);

    ts_msg notice, push, changes, hello, welcome;
    vector_msg("NOTICE", &notice);
    vector_msg("PUSH", &push);
    vector_msg("CHANGES", &changes);
    vector_msg("HELLO", &hello);
    vector_msg("WELCOME", &welcome);
    /* the district of the story: its replica and database ids */
    if (ts_store_meta_set(st, "replica", welcome.u.welcome.server) < 0 ||
        ts_store_meta_set(st, "db_id", welcome.u.welcome.server_db) < 0)
        fail_msg("setting the story's district ids");
    seed(st, notice.u.notice.changes.items, notice.u.notice.changes.n);
    /* the district's sequence is where the story has it: bn-000123, the last
     * version the station stored, is the HELLO's cursor */
    if (ts_store_meta_set_u64(st, "seq", hello.u.hello.cursor - 1) < 0)
        fail_msg("setting the story's sequence");
    /* bn-000123 at the district: the PUSH's version without the station's writes */
    const ts_change *pc = &push.u.push.changes.items[0];
    ts_rid me;
    ts_rid_set_cstr(&me, hello.u.hello.replica);
    ts_change held;
    memset(&held, 0, sizeof held);
    held.table = pc->table;
    held.id = pc->id;
    held.owner = pc->owner;
    ts_version_init(&held.v);
    for (uint32_t i = 0; i < pc->v.vv.n; i++)
        if (!ts_rid_eq(&pc->v.vv.e[i].rid, &me))
            ts_vv_set(&held.v.vv, &pc->v.vv.e[i].rid, pc->v.vv.e[i].counter);
    for (uint32_t i = 0; i < pc->v.nfields; i++) {
        const ts_field *f = &pc->v.fields[i];
        if (!ts_rid_eq(&f->dot.rid, &me))
            ts_version_put(&held.v, &push.arena, f->name, f->value, f->value_len, &f->dot, f->hlc);
    }
    /* the old replica's third write, its name (2024-06-12 07:00 UTC), which
     * the station wrote again at (S, 4) */
    const ts_field *del = ts_version_field(&pc->v, TS_FIELD_DELETED);
    ts_dot third = {del->dot.rid, 3};
    ts_tc_put_str(&held.v, &push.arena, "full_name", "Nguyễn Thị Lan", &third, TS_HLC_MAKE(1718175600000, 0));
    seed(st, &held, 1);
    ts_version_free(&held.v);
    assert_int_equal(ts_store_last_seq(st), hello.u.hello.cursor);
    seed(st, changes.u.changes.changes.items, changes.u.changes.changes.n);
    ts_store_close(st);
    ts_msg_free(&notice);
    ts_msg_free(&changes);
    ts_msg_free(&hello);

    ts_test_daemon_restart(&d2);
    ts_tc c;
    tc_open(&c, d2.port);
    /* the HELLO vector as it is: the story's database id, cursor and lseq */
    const ts_tv *hv = ts_tv_find(&g->doc, "HELLO");
    assert_int_equal(ts_tc_send_raw(&c, hv->hex, hv->hex_len), 0);
    static const char *const welcome_top[] = {"time", NULL};
    expect_vector(&c, TS_MSG_WELCOME, "WELCOME", welcome_top, NULL);
    ts_msg_free(&welcome);
    static const char *const notice_top[] = {"seq", NULL};
    expect_vector(&c, TS_MSG_NOTICE, "NOTICE", notice_top, "changes");
    const ts_tv *pv = ts_tv_find(&g->doc, "PUSH");
    assert_int_equal(ts_tc_send_raw(&c, pv->hex, pv->hex_len), 0);
    expect_vector(&c, TS_MSG_PUSH_ACK, "PUSH_ACK", NULL, NULL);
    const ts_tv *lv = ts_tv_find(&g->doc, "PULL");
    assert_int_equal(ts_tc_send_raw(&c, lv->hex, lv->hex_len), 0);
    expect_vector(&c, TS_MSG_CHANGES, "CHANGES", NULL, NULL);
    ts_tc_close(&c);
    ts_msg_free(&push);
    ts_test_daemon_stop(&d2, SIGTERM, 10000);
    ts_test_daemon_free(&d2);
    free(dir);
}

static int setup(void **state)
{
    (void)state;
    g = ts_xcalloc(1, sizeof *g);
    g->dir = ts_tmpdir_make("conformance-story");
    ts_test_watchdog_arm("test_conformance_story", 180);
    ts_test_pki_make(&g->pki, g->dir, NULL, 0);
    ts_test_pki_station(&g->pki, BN, "Bình Nguyên");
    ts_tv_load(&g->doc);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_test_watchdog_disarm();
    ts_test_pki_free(&g->pki);
    ts_tv_free(&g->doc);
    ts_tmpdir_remove(g->dir);
    free(g);
    g = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_story_replies),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
