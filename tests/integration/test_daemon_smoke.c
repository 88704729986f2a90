/* The daemon comes up, a station says HELLO, pushes, pulls, pings, and the
 * daemon drains cleanly on SIGTERM. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"

static void test_hello_push_pull_bye(void **state)
{
    (void)state;
    char *dir = ts_tmpdir_make("smoke");
    ts_test_pki pki;
    const char *stations[] = {"binhnguyen"};
    ts_test_pki_make(&pki, dir, stations, 1);
    ts_test_daemon d;
    ts_test_daemon_start(&d, dir, &pki, NULL);

    char *cert = ts_test_pki_cert(&pki, "binhnguyen"), *key = ts_test_pki_key(&pki, "binhnguyen");
    ts_tc_opts o = {cert, key, pki.ca, 0, 0};
    ts_tc c;
    assert_int_equal(ts_tc_connect(&c, d.port, &o), 0);
    ts_msg w;
    if (ts_tc_hello(&c, "binhnguyen", "binhnguyen.0000000000000001", 0, "", 0, &w) < 0)
        fail_msg("hello: %s", c.error);
    assert_string_equal(w.u.welcome.station, "binhnguyen");
    assert_false(w.u.welcome.rekey);
    ts_msg_free(&w);

    ts_msg p;
    ts_msg_init(&p, TS_MSG_PUSH);
    p.u.push.batch = 1;
    ts_change *ch = ts_msg_alloc_changes(&p, &p.u.push.changes, 1);
    ch->table = "residents";
    ch->id = "bn-0001";
    ch->owner = "binhnguyen";
    ch->lseq = 1;
    ts_rid r;
    ts_rid_set_cstr(&r, "binhnguyen.0000000000000001");
    ts_vv_set(&ch->v.vv, &r, 1);
    ts_buf v1 = TS_BUF_INIT, v2 = TS_BUF_INIT, v3 = TS_BUF_INIT, v4 = TS_BUF_INIT;
    ts_value_str(&v1, "Nguyễn Văn Bình");
    ts_value_str(&v2, "1962-03-15");
    ts_value_str(&v3, "male");
    ts_value_bool(&v4, false);
    ts_dot dot = {r, 1};
    uint64_t hlc = (uint64_t)1 << 16;
    ts_version_put(&ch->v, &p.arena, "full_name", v1.data, v1.len, &dot, hlc);
    ts_version_put(&ch->v, &p.arena, "birth_date", v2.data, v2.len, &dot, hlc);
    ts_version_put(&ch->v, &p.arena, "sex", v3.data, v3.len, &dot, hlc);
    ts_version_put(&ch->v, &p.arena, "_deleted", v4.data, v4.len, &dot, hlc);
    assert_int_equal(ts_tc_send(&c, &p), 0);
    ts_msg ack;
    assert_int_equal(ts_tc_recv(&c, &ack, 10000), 1);
    assert_int_equal(ack.type, TS_MSG_PUSH_ACK);
    assert_int_equal(ack.u.push_ack.code, 0);
    assert_int_equal(ack.u.push_ack.nresults, 1);
    if (ack.u.push_ack.results[0].outcome != TS_OUTCOME_APPLIED)
        fail_msg("outcome %s: %s", ts_outcome_name(ack.u.push_ack.results[0].outcome),
                 ack.u.push_ack.results[0].reason ? ack.u.push_ack.results[0].reason : "");
    ts_msg_free(&ack);
    ts_msg_free(&p);

    ts_msg pull;
    ts_msg_init(&pull, TS_MSG_PULL);
    pull.u.pull.since = 0;
    assert_int_equal(ts_tc_send(&c, &pull), 0);
    ts_msg_free(&pull);
    ts_msg ch_msg;
    assert_int_equal(ts_tc_recv(&c, &ch_msg, 10000), 1);
    assert_int_equal(ch_msg.type, TS_MSG_CHANGES);
    /* the plan's tasks and the disease catalogue come (seen by every
     * station); its own push is not echoed */
    uint32_t tasks = 0, diseases = 0;
    for (uint32_t i = 0; i < ch_msg.u.changes.changes.n; i++) {
        const char *t = ch_msg.u.changes.changes.items[i].table;
        tasks += strcmp(t, "plan_tasks") == 0;
        diseases += strcmp(t, "diseases") == 0;
    }
    assert_int_equal(tasks, 28);
    assert_int_equal(diseases, 18);
    assert_int_equal(ch_msg.u.changes.changes.n, tasks + diseases);
    assert_false(ch_msg.u.changes.more);
    assert_true(ch_msg.u.changes.cursor >= 1);
    ts_msg_free(&ch_msg);

    ts_msg ping;
    ts_msg_init(&ping, TS_MSG_PING);
    ping.u.ping.nonce = 42;
    assert_int_equal(ts_tc_send(&c, &ping), 0);
    ts_msg pong;
    assert_int_equal(ts_tc_recv(&c, &pong, 10000), 1);
    assert_int_equal(pong.type, TS_MSG_PONG);
    assert_int_equal(pong.u.ping.nonce, 42);
    ts_msg_free(&pong);
    ts_tc_close(&c);

    /* no certificate: refused */
    ts_tc_opts anon = {NULL, NULL, pki.ca, 0, 0};
    ts_tc c2;
    int rc = ts_tc_connect(&c2, d.port, &anon);
    assert_true(rc < 0 || !ts_tc_alive(&c2, 2000));
    ts_tc_close(&c2);

    assert_int_equal(ts_test_daemon_stop(&d, SIGTERM, 20000), 0);
    assert_true(ts_test_log_wait(d.log, "event=server_stopped", 0));
    assert_true(ts_test_log_wait(d.log, "event=tls_handshake_failed", 0));
    ts_buf_free(&v1);
    ts_buf_free(&v2);
    ts_buf_free(&v3);
    ts_buf_free(&v4);
    free(cert);
    free(key);
    ts_test_daemon_free(&d);
    ts_test_pki_free(&pki);
    ts_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_push_pull_bye),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
