/* docs/PROTOCOL.md, "Sending before WELCOME", against a real tramsyncd.
 *
 * 1. Each row of the section's table: the station's frames written at once,
 *    before it reads anything; then the district's answers in order, the
 *    error a row names, and what the district stored of the PUSH.
 * 2. The real agent: once it has synced, its next connection sends its
 *    first PUSH right behind HELLO (the log says before_welcome=true ahead
 *    of "connected"), and every record arrives.
 * 3. The district's terms changed (compression turned off): the agent's
 *    compressed PUSH behind HELLO is refused, the agent says why and sends it
 *    again in the new terms; nothing is lost or marked refused. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/ts_xmalloc.h"
#include "proto/tramsync-protocol.h"
#include "proto/ts_msg.h"
#include "proto/ts_zframe.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_records.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_vectors.h"
#include "tests/support/ts_test_watchdog.h"

#define BN "binhnguyen"
#define XL "xuanlang"
#define PL "phuclong"
#define WAIT_MS 10000

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    ts_tv_doc doc;
} env;

static env *g;

static long long district_count(const char *like)
{
    return ts_test_district_residents(&g->d, like);
}

/* ---------------------------------------------------------------- the table */

static void tc_open(ts_tc *c, int row)
{
    char *cert = ts_test_pki_cert(&g->pki, BN);
    char *key = ts_test_pki_key(&g->pki, BN);
    ts_tc_opts o = {cert, key, g->pki.ca, 0, 0};
    memset(c, 0, sizeof *c);
    int rc = ts_tc_connect(c, g->d.port, &o);
    free(cert);
    free(key);
    if (rc < 0)
        fail_msg("E%d: TLS connect: %s", row, c->error);
}

static void put_hello(ts_buf *out, const char *rid, const char *station, uint64_t proto_max, bool zstd, uint64_t lseq)
{
    ts_msg m;
    ts_msg_init(&m, TS_MSG_HELLO);
    m.u.hello.proto_min = 1;
    m.u.hello.proto_max = proto_max;
    m.u.hello.agent = "tramsync-test-pipeline/1";
    m.u.hello.replica = rid;
    m.u.hello.station = station;
    m.u.hello.server_db = "";
    m.u.hello.lseq = lseq;
    m.u.hello.live = false;
    m.u.hello.compress = zstd ? TS_ZFRAME_NAME : NULL;
    ts_msg_encode(&m, out);
    ts_msg_free(&m);
}

/* Three residents "<prefix>-0..2" with lseqs from lseq0 + 1, as one frame. */
static void put_push(ts_buf *out, const char *prefix, const char *rid, uint64_t lseq0, int proto, bool zstd)
{
    static const char *const names[] = {"Hà Thị Mai", "Lường Văn Tuấn", "Nông Thị Hằng"};
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PUSH);
    m.proto = (uint8_t)proto;
    m.u.push.batch = 9;
    ts_change *ch = ts_msg_alloc_changes(&m, &m.u.push.changes, 3);
    for (int i = 0; i < 3; i++) {
        char id[48];
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        ts_tc_make_resident(&m, &ch[i], id, BN, rid, lseq0 + (uint64_t)i + 1, lseq0 + (uint64_t)i + 1, names[i]);
    }
    ts_buf f = TS_BUF_INIT;
    ts_msg_encode(&m, &f);
    ts_msg_free(&m);
    if (zstd)
        assert_true(ts_zframe_wrap(&f));
    ts_buf_append(out, f.data, f.len);
    ts_buf_free(&f);
}

static void put_pull(ts_buf *out)
{
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PULL);
    m.u.pull.since = 0;
    m.u.pull.limit = 100;
    ts_msg_encode(&m, out);
    ts_msg_free(&m);
}

/* E4's replica has pushed up to lseq 5 in a session of its own. */
static void pushed_before(int row, const char *rid)
{
    ts_tc c;
    tc_open(&c, row);
    ts_buf b = TS_BUF_INIT;
    put_hello(&b, rid, BN, 3, false, 5);
    ts_msg m;
    assert_int_equal(ts_tc_send_raw(&c, b.data, b.len), 0);
    if (ts_tc_expect(&c, TS_MSG_WELCOME, &m, WAIT_MS) != 1)
        fail_msg("E%d: no WELCOME before: %s", row, c.error);
    ts_msg_free(&m);
    ts_buf_reset(&b);
    put_push(&b, "bn-e4-before", rid, 2, 3, false);
    assert_int_equal(ts_tc_send_raw(&c, b.data, b.len), 0);
    if (ts_tc_expect(&c, TS_MSG_PUSH_ACK, &m, WAIT_MS) != 1 || m.u.push_ack.code != 0)
        fail_msg("E%d: the push before was not acknowledged: %s", row, c.error);
    ts_msg_free(&m);
    ts_buf_free(&b);
    ts_tc_close(&c);
}

static void play(int row, const char *sends, const char *answers, const char *error)
{
    char rid[64], prefix[32], like[40];
    snprintf(rid, sizeof rid, BN ".%016x", 0x9e0000 + row);
    snprintf(prefix, sizeof prefix, "bn-e%d", row);
    snprintf(like, sizeof like, "bn-e%d-_", row);
    bool zstd_offer = strstr(sends, "`compress: \"zstd-1\"`") != NULL;
    bool zstd_push = strstr(sends, "a compressed `PUSH`") != NULL;
    uint64_t proto_max = strstr(sends, "version 1 only") ? 1 : 3;
    bool rekey = strstr(sends, "an `lseq` below") != NULL;
    bool foreign = strstr(sends, "not the certificate's") != NULL;
    if (rekey)
        pushed_before(row, rid);

    ts_tc c;
    tc_open(&c, row);
    ts_buf b = TS_BUF_INIT;
    put_hello(&b, rid, foreign ? XL : BN, proto_max, zstd_offer, rekey ? 1 : 3);
    put_push(&b, prefix, rid, 0, 3, zstd_push);
    if (strstr(sends, "a `PULL`"))
        put_pull(&b);
    assert_int_equal(ts_tc_send_raw(&c, b.data, b.len), 0);
    ts_buf_free(&b);

    /* the answers, in the order of the row */
    const char *p = answers;
    while ((p = strchr(p, '`')) != NULL) {
        const char *e = strchr(p + 1, '`');
        assert_non_null(e);
        char want[32];
        snprintf(want, sizeof want, "%.*s", (int)(e - p - 1), p + 1);
        p = e + 1;
        if (strcmp(want, "WELCOME") != 0 && strcmp(want, "PUSH_ACK") != 0 && strcmp(want, "CHANGES") != 0 &&
            strcmp(want, "ERROR") != 0 && strcmp(want, "BYE") != 0)
            continue; /* a key said of the message before */
        ts_msg m;
        if (ts_tc_recv(&c, &m, WAIT_MS) != 1)
            fail_msg("E%d: no %s: %s", row, want, c.error);
        if (strcmp(ts_msg_type_name(m.type), want) != 0)
            fail_msg("E%d: the district answered %s, the document says %s", row, ts_msg_type_name(m.type), want);
        if (m.type == TS_MSG_WELCOME) {
            const char *pv = strstr(answers, "`proto` ");
            if (pv != NULL)
                assert_int_equal((int)m.u.welcome.proto, atoi(pv + strlen("`proto` ")));
            assert_int_equal(m.u.welcome.rekey, strstr(answers, "`rekey: true`") != NULL);
            bool took = m.u.welcome.compress != NULL && strcmp(m.u.welcome.compress, TS_ZFRAME_NAME) == 0;
            assert_int_equal(took, strstr(answers, "`compress: \"zstd-1\"`") != NULL);
        } else if (m.type == TS_MSG_PUSH_ACK) {
            assert_int_equal(m.u.push_ack.code, 0);
            assert_int_equal(m.u.push_ack.nresults, 3);
            assert_int_equal(m.u.push_ack.batch, 9);
        } else if (m.type == TS_MSG_CHANGES) {
            assert_false(m.u.changes.more); /* read after the PUSH it followed: answered in order */
        } else if (m.type == TS_MSG_ERROR) {
            const char *ec = strchr(error, '`');
            assert_non_null(ec);
            const char *ee = strchr(ec + 1, '`');
            if (strlen(m.u.error.name) != (size_t)(ee - ec - 1) || strncmp(ec + 1, m.u.error.name, (size_t)(ee - ec - 1)))
                fail_msg("E%d: ERROR %s (%s), the document says %s", row, m.u.error.name, m.u.error.message, error);
            assert_true(m.u.error.fatal);
        }
        ts_msg_free(&m);
    }
    bool nothing = strstr(error, "nothing stored") != NULL;
    if (nothing) {
        /* the district closes: whatever it would have stored is stored by then */
        ts_msg m;
        int rc;
        while ((rc = ts_tc_recv(&c, &m, WAIT_MS)) == 1) {
            print_message("E%d: then %s\n", row, ts_msg_type_name(m.type));
            ts_msg_free(&m);
        }
        if (rc == 0)
            fail_msg("E%d: the district did not close the connection", row);
    }
    ts_tc_close(&c);
    long long stored = district_count(like);
    if (stored != (nothing ? 0 : 3))
        fail_msg("E%d: the district stored %lld of the three records pushed behind HELLO", row, stored);
}

static void test_sending_before_welcome_table(void **state)
{
    (void)state;
    const char *t = strstr(g->doc.text, "\n**Sending before WELCOME.**");
    if (t == NULL) {
        fail_msg("docs/PROTOCOL.md has no \"Sending before WELCOME\" paragraph");
        return;
    }
    const char *end = strstr(t + 1, "\n**");
    int played = 0;
    for (const char *line = strstr(t, "\n| E"); line != NULL && (end == NULL || line < end);
         line = strstr(line + 1, "\n| E")) {
        char id[8], sends[400], answers[400], error[200];
        int n = 0;
        if (!ts_tv_cell(line + 1, 0, id, sizeof id) || sscanf(id, "E%d", &n) != 1 || !ts_tv_cell(line + 1, 1, sends, sizeof sends) ||
            !ts_tv_cell(line + 1, 2, answers, sizeof answers) || !ts_tv_cell(line + 1, 3, error, sizeof error))
            fail_msg("docs/PROTOCOL.md: a Sending before WELCOME row that does not read: %.60s", line + 1);
        print_message("E%d\n", n);
        play(n, sends, answers, error);
        played++;
    }
    assert_int_equal(played, 5);
}

/* ---------------------------------------------------------------- the agent */

/* Whether the agent's last connection in its log sent a PUSH before its
 * WELCOME came: "push_sent ... before_welcome=true" after the last
 * "tls_open" and before the "connected" that follows it. */
static bool last_connection_pushed_early(const char *log)
{
    char *text = ts_read_file(log, NULL);
    assert_non_null(text);
    char *open = NULL;
    for (char *p = text; (p = strstr(p, "event=tls_open ")) != NULL; p++)
        open = p;
    bool early = false;
    if (open != NULL) {
        char *connected = strstr(open, "event=connected ");
        char *sent = strstr(open, "event=push_sent ");
        early = sent != NULL && connected != NULL && sent < connected &&
                strstr(sent, "before_welcome=true") != NULL && strstr(sent, "before_welcome=true") < connected;
    }
    free(text);
    return early;
}

static void wait_district(const char *like, long long n)
{
    assert_int_equal(ts_test_district_wait_residents(&g->d, like, n, 60000), n);
}

static ts_test_station g_st;

static void test_agent_pushes_behind_hello(void **state)
{
    (void)state;
    /* the PUSH behind HELLO once TLS is open; with 0-RTT it goes even
     * before (test_resume) */
    const char *sets[] = {"station.log_level=debug", "sync.backoff_min=100ms", "sync.backoff_max=500ms",
                          "tls.resume=false", NULL};
    ts_test_station_make(&g_st, g->dir, PL, &g->pki, g->d.port, sets);
    /* a first connection: nothing to push, so nothing goes early; the
     * terms of the WELCOME are kept */
    ts_test_station_start(&g_st);
    assert_true(ts_test_log_wait(g_st.log, "event=connected ", WAIT_MS));
    assert_int_equal(ts_test_station_stop(&g_st, 20000), 0);
    assert_false(last_connection_pushed_early(g_st.log));

    ts_test_station_fill(&g_st, "plone", 40);
    ts_test_station_start(&g_st);
    wait_district("plone-%", 40);
    assert_int_equal(ts_test_station_stop(&g_st, 20000), 0);
    assert_true(last_connection_pushed_early(g_st.log));
    assert_int_equal(ts_test_file_count(g_st.log, "event=pipelined_push_terms_changed"), 0);
}

static void test_agent_after_the_district_changed_its_terms(void **state)
{
    (void)state;
    /* the agent's kept terms say zstd-1; the district no longer takes it */
    ts_test_daemon_stop(&g->d, SIGTERM, 20000);
    g->d.sets[g->d.nsets++] = ts_xstrdup("server.compress=false");
    ts_test_daemon_restart(&g->d);
    ts_test_station_set_port(&g_st, g->d.port);
    ts_test_station_fill(&g_st, "pltwo", 40);
    ts_test_station_start(&g_st);
    wait_district("pltwo-%", 40);
    assert_true(ts_test_log_wait(g_st.log, "event=pipelined_push_terms_changed", WAIT_MS));
    assert_true(ts_test_log_wait(g->d.log, "UNKNOWN_MESSAGE", WAIT_MS));
    assert_int_equal(ts_test_station_stop(&g_st, 20000), 0);
    /* nothing refused for good at the station, everything at the district */
    assert_int_equal(ts_test_sql_count(g_st.dir, "station.db", "SELECT count(*) FROM rejected"), 0);
    assert_int_equal(district_count("plone-%"), 40);

    /* and the connection after pushes early again, uncompressed */
    ts_test_station_fill(&g_st, "plthree", 10);
    int changed = ts_test_file_count(g_st.log, "event=pipelined_push_terms_changed");
    ts_test_station_start(&g_st);
    wait_district("plthree-%", 10);
    assert_int_equal(ts_test_station_stop(&g_st, 20000), 0);
    assert_true(last_connection_pushed_early(g_st.log));
    assert_int_equal(ts_test_file_count(g_st.log, "event=pipelined_push_terms_changed"), changed);
}

static int setup(void **state)
{
    (void)state;
    g = ts_xcalloc(1, sizeof *g);
    g->dir = ts_tmpdir_make("pipeline");
    ts_test_watchdog_arm("test_pipeline", 240);
    const char *codes[] = {BN, XL};
    ts_test_pki_make(&g->pki, g->dir, codes, 2);
    ts_test_pki_station(&g->pki, PL, "Phúc Long");
    ts_tv_load(&g->doc);
    char *d = ts_xasprintf("%s/district", g->dir);
    mkdir(d, 0700);
    ts_test_daemon_start(&g->d, d, &g->pki, NULL);
    ts_test_watchdog_watch(&g->d.pid);
    free(d);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_test_watchdog_disarm();
    ts_test_station_free(&g_st);
    ts_test_daemon_free(&g->d);
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
        cmocka_unit_test(test_sending_before_welcome_table),
        cmocka_unit_test(test_agent_pushes_behind_hello),
        cmocka_unit_test(test_agent_after_the_district_changed_its_terms),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
