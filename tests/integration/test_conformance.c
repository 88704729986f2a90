/* docs/PROTOCOL.md against a real tramsyncd, on the wire.
 *
 * 1. The "Transitions" table of the document is read out of the markdown and
 *    every row is played: the station's message from the row's state, then
 *    what the district answered (message type, error name, fatal) and the
 *    state after it (closed, or still AWAIT_HELLO / READY, proved by a HELLO
 *    answered WELCOME or a PULL answered CHANGES) are compared with the row.
 *    A row without a player here, or a player without a row, fails.
 * 2. The district's vectors the rows produce (WELCOME, PONG, ERROR, BYE) are
 *    compared with the document's JSON, only the values that must differ
 *    (the district's ids, clocks) replaced by the document's.
 * 3. HELLO.lseq: absent from a replica that has pushed is MISSING_KEY and the
 *    replica stays usable (it was retired before).
 * 4. The "Every code on the wire" table: each row's code is provoked and
 *    asserted where the row says (ERROR, PUSH_ACK.code, a result's code),
 *    and every place "Where each code appears" says a code is sent has a
 *    row; INTERNAL and STORAGE, which need a fault inside the district (a
 *    full disk), name the test that plays them
 *    (tests/integration/test_conformance_disk.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "common/ts_hlc.h"
#include "common/ts_store.h" /* ts_value_str */
#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_vectors.h"
#include "tests/support/ts_test_watchdog.h"

#define BN "binhnguyen"
#define XL "xuanlang"
#define WAIT_MS 10000

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    ts_tv_doc doc;
    int row; /* the row being played, for unique replica ids */
} env;

static env *g;

/* ---------------------------------------------------------------- the station */

static void tc_open(ts_tc *c, const char *code)
{
    char *cert = ts_test_pki_cert(&g->pki, code);
    char *key = ts_test_pki_key(&g->pki, code);
    ts_tc_opts o = {cert, key, g->pki.ca, 0, 0};
    int rc = ts_tc_connect(c, g->d.port, &o);
    free(cert);
    free(key);
    if (rc < 0)
        fail_msg("TLS connect as %s: %s", code, c->error);
}

static const char *rid(int n)
{
    static char b[64];
    snprintf(b, sizeof b, BN ".%016x", 0xc0f0000 + n);
    return b;
}

static void hello_msg(ts_msg *m, const char *replica, uint64_t lseq)
{
    ts_msg_init(m, TS_MSG_HELLO);
    ts_msg_hello *h = &m->u.hello;
    h->proto_min = TS_PROTO_VERSION_MIN;
    h->proto_max = TS_PROTO_VERSION_MAX;
    h->agent = "tramsync-conformance/1";
    h->replica = replica;
    h->station = BN;
    h->server_db = "";
    h->lseq = lseq;
    h->time = ts_wall_ms();
    h->live = false;
}

static void send_msg(ts_tc *c, ts_msg *m)
{
    assert_int_equal(ts_tc_send(c, m), 0);
    ts_msg_free(m);
}

/* A body packed by hand (what the codec would refuse to write), framed. */
static void send_packed(ts_tc *c, const msgpack_sbuffer *sb)
{
    ts_buf f = TS_BUF_INIT;
    ts_frame_put_header(&f, (uint32_t)sb->size);
    ts_buf_append(&f, sb->data, sb->size);
    assert_int_equal(ts_tc_send_raw(c, f.data, f.len), 0);
    ts_buf_free(&f);
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void ready(ts_tc *c, const char *replica, uint64_t lseq)
{
    tc_open(c, BN);
    ts_msg m, w;
    hello_msg(&m, replica, lseq);
    send_msg(c, &m);
    assert_int_equal(ts_tc_expect(c, TS_MSG_WELCOME, &w, WAIT_MS), 1);
    assert_false(w.u.welcome.rekey);
    ts_msg_free(&w);
}

static void push_one(ts_tc *c, const char *replica, uint64_t batch, uint64_t lseq)
{
    ts_msg m, ack;
    ts_msg_init(&m, TS_MSG_PUSH);
    m.u.push.batch = batch;
    ts_change *ch = ts_msg_alloc_changes(&m, &m.u.push.changes, 1);
    static unsigned serial; /* a new record each time */
    char id[40];
    snprintf(id, sizeof id, "bn-conf-%u", ++serial);
    ts_tc_make_resident(&m, ch, ts_msg_strdup(&m, id), BN, replica, lseq, lseq, "Nguyễn Văn Thử");
    send_msg(c, &m);
    assert_int_equal(ts_tc_expect(c, TS_MSG_PUSH_ACK, &ack, WAIT_MS), 1);
    assert_int_equal(ack.u.push_ack.code, 0);
    assert_int_equal(ack.u.push_ack.results[0].outcome, TS_OUTCOME_APPLIED);
    ts_msg_free(&ack);
}

/* ---------------------------------------------------------------- what happened */

typedef struct obs {
    ts_msg_type answer; /* TS_MSG_NONE: nothing */
    char error[40];
    bool fatal;
    uint64_t batch;
    json_t *json; /* the answer as JSON */
} obs;

static void observe(ts_tc *c, obs *o, int wait_ms)
{
    memset(o, 0, sizeof *o);
    ts_msg m;
    int rc = ts_tc_recv(c, &m, wait_ms);
    if (rc != 1)
        return;
    o->answer = m.type;
    if (m.type == TS_MSG_ERROR) {
        snprintf(o->error, sizeof o->error, "%s", m.u.error.name);
        o->fatal = m.u.error.fatal;
        o->batch = m.u.error.batch;
    }
    ts_buf b = TS_BUF_INIT;
    ts_msg_encode(&m, &b);
    o->json = ts_tv_body_json(b.data + 4, b.len - 4);
    ts_buf_free(&b);
    ts_msg_free(&m);
}

/* After the answer: "closed", or the state the session is in. */
static void check_then(ts_tc *c, const char *then, int n)
{
    ts_msg m;
    if (strncmp(then, "closed", 6) == 0) {
        /* a rekey WELCOME is followed by BYE: anything may come, then the end */
        for (int i = 0; i < 5; i++) {
            int rc = ts_tc_recv(c, &m, WAIT_MS);
            if (rc < 0)
                return;
            if (rc == 0)
                fail_msg("T%d: the district did not close the connection", n);
            ts_msg_free(&m);
        }
        fail_msg("T%d: the district kept talking instead of closing", n);
    }
    if (strncmp(then, "AWAIT_HELLO", 11) == 0) {
        hello_msg(&m, rid(900 + n), 0);
        send_msg(c, &m);
        if (ts_tc_expect(c, TS_MSG_WELCOME, &m, WAIT_MS) != 1)
            fail_msg("T%d: still AWAIT_HELLO, but a HELLO was not answered WELCOME", n);
        ts_msg_free(&m);
        return;
    }
    if (strncmp(then, "READY", 5) == 0) {
        ts_msg_init(&m, TS_MSG_PULL);
        send_msg(c, &m);
        if (ts_tc_expect(c, TS_MSG_CHANGES, &m, WAIT_MS) != 1)
            fail_msg("T%d: still READY, but a PULL was not answered CHANGES", n);
        ts_msg_free(&m);
        return;
    }
    fail_msg("T%d: the document's state after it, \"%s\", is not closed, AWAIT_HELLO or READY", n, then);
}

/* The district's vector `name`, with the values that must differ taken from
 * what the daemon sent. */
static void check_vector(const char *name, const json_t *got, const char *const *masked)
{
    const ts_tv *v = ts_tv_find(&g->doc, name);
    if (v == NULL || v->json == NULL) {
        fail_msg("docs/PROTOCOL.md has no json vector %s", name);
        return;
    }
    json_t *want = json_deep_copy(v->json);
    for (size_t i = 0; masked && masked[i]; i++) {
        json_t *x = json_object_get(got, masked[i]);
        if (x != NULL)
            json_object_set(want, masked[i], x);
    }
    if (!json_equal(want, got)) {
        char *a = json_dumps(got, JSON_COMPACT), *b = json_dumps(want, JSON_COMPACT);
        fail_msg("the district's %s is\n%s\nthe document's vector (line %d, masked) is\n%s", name, a, v->json_line, b);
    }
    json_decref(want);
}

/* ---------------------------------------------------------------- the rows */

typedef struct conns {
    ts_tc a, b, c;
    bool use_b, use_c;
} conns;

/* Each player makes its state and sends the row's message; the answer is
 * read on *watch. */
typedef void (*player)(conns *k, ts_tc **watch, obs *o);

static void send_type_only(ts_tc *c, const char *type)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    pk_str(&pk, "type");
    pk_str(&pk, type);
    send_packed(c, &sb);
    msgpack_sbuffer_destroy(&sb);
}

static void p_hello_ok(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    tc_open(&k->a, BN);
    /* the HELLO vector, from a station that has not synced with this district yet */
    const ts_tv *v = ts_tv_find(&g->doc, "HELLO");
    assert_non_null(v);
    ts_msg m;
    ts_error err;
    assert_int_equal(ts_msg_decode(v->hex + 4, v->hex_len - 4, NULL, &m, &err), 0);
    m.u.hello.server_db = "";
    m.u.hello.cursor = 0;
    m.u.hello.live = false;
    send_msg(&k->a, &m);
    *w = &k->a;
}

static void p_ping(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    tc_open(&k->a, BN);
    const ts_tv *v = ts_tv_find(&g->doc, "PING");
    assert_non_null(v);
    assert_int_equal(ts_tc_send_raw(&k->a, v->hex, v->hex_len), 0);
    *w = &k->a;
}

static void p_bye(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    tc_open(&k->a, BN);
    ts_msg m;
    ts_msg_init(&m, TS_MSG_BYE);
    m.u.bye.reason = "station agent stopping";
    send_msg(&k->a, &m);
    *w = &k->a;
}

static void send_error(ts_tc *c, bool fatal)
{
    ts_msg m;
    ts_msg_init(&m, TS_MSG_ERROR);
    m.u.error.code = (uint64_t)-TS_EINTERNAL;
    m.u.error.name = "INTERNAL";
    m.u.error.message = "the station's disk is full";
    m.u.error.fatal = fatal;
    send_msg(c, &m);
}

static void p_error_fatal(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    tc_open(&k->a, BN);
    send_error(&k->a, true);
    *w = &k->a;
}

static void p_error_nonfatal(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    tc_open(&k->a, BN);
    send_error(&k->a, false);
    *w = &k->a;
}

static void p_push_early(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    tc_open(&k->a, BN);
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PUSH);
    m.u.push.batch = 77;
    ts_msg_alloc_changes(&m, &m.u.push.changes, 0);
    send_msg(&k->a, &m);
    *w = &k->a;
}

static void p_pull_early(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    tc_open(&k->a, BN);
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PULL);
    send_msg(&k->a, &m);
    *w = &k->a;
}

static void send_welcome(ts_tc *c)
{
    const ts_tv *v = ts_tv_find(&g->doc, "WELCOME");
    assert_non_null(v);
    assert_int_equal(ts_tc_send_raw(c, v->hex, v->hex_len), 0);
}

static void p_welcome_early(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    tc_open(&k->a, BN);
    send_welcome(&k->a);
    *w = &k->a;
}

static void p_silent(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    tc_open(&k->a, BN);
    *w = &k->a; /* observed with a wait past hello_timeout (2 s) */
}

static void p_version(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    tc_open(&k->a, BN);
    ts_msg m;
    hello_msg(&m, rid(g->row), 0);
    m.u.hello.proto_min = 2; /* proto_min > proto_max */
    m.u.hello.proto_max = 1;
    send_msg(&k->a, &m);
    *w = &k->a;
}

static void p_station(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    tc_open(&k->a, BN);
    ts_msg m;
    hello_msg(&m, rid(g->row), 0);
    m.u.hello.station = XL;
    send_msg(&k->a, &m);
    *w = &k->a;
}

/* HELLO packed by hand with this replica id and, when lseq >= 0, lseq. */
static void send_hello_raw(ts_tc *c, const char *replica, long long lseq)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, lseq >= 0 ? 8 : 7);
    pk_str(&pk, "type");
    pk_str(&pk, "HELLO");
    pk_str(&pk, "proto_min");
    msgpack_pack_uint64(&pk, 1);
    pk_str(&pk, "proto_max");
    msgpack_pack_uint64(&pk, 1);
    pk_str(&pk, "agent");
    pk_str(&pk, "other-vendor/2.0");
    pk_str(&pk, "replica");
    pk_str(&pk, replica);
    pk_str(&pk, "station");
    pk_str(&pk, BN);
    pk_str(&pk, "live");
    msgpack_pack_false(&pk);
    if (lseq >= 0) {
        pk_str(&pk, "lseq");
        msgpack_pack_uint64(&pk, (uint64_t)lseq);
    }
    send_packed(c, &sb);
    msgpack_sbuffer_destroy(&sb);
}

static void p_rid_long(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    tc_open(&k->a, BN);
    char longid[80];
    memset(longid, 'a', 65);
    longid[65] = '\0';
    send_hello_raw(&k->a, longid, 0);
    *w = &k->a;
}

static void p_rid_bad(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    tc_open(&k->a, BN);
    send_hello_raw(&k->a, "binhnguyen/4f3c", 0);
    *w = &k->a;
}

/* A replica that pushed comes back without lseq: refused, not retired. */
static void p_no_lseq(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    const char *r = rid(g->row);
    ready(&k->b, r, 1);
    push_one(&k->b, r, 1, 1);
    ts_tc_close(&k->b);
    tc_open(&k->a, BN);
    send_hello_raw(&k->a, r, -1);
    *w = &k->a;
}

static void p_lseq_back(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    const char *r = rid(g->row);
    ready(&k->b, r, 2);
    push_one(&k->b, r, 1, 1);
    push_one(&k->b, r, 2, 2);
    ts_tc_close(&k->b);
    tc_open(&k->a, BN);
    send_hello_raw(&k->a, r, 1);
    *w = &k->a;
}

static void p_busy(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    /* max_station_connections is 2: the oldest of three that never said HELLO goes */
    tc_open(&k->a, BN);
    ts_test_sleep_ms(50);
    tc_open(&k->b, BN);
    k->use_b = true;
    ts_test_sleep_ms(50);
    tc_open(&k->c, BN);
    k->use_c = true;
    *w = &k->a;
}

static void p_push(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    const char *r = rid(g->row);
    ready(&k->a, r, 0);
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PUSH);
    m.u.push.batch = 5;
    ts_change *ch = ts_msg_alloc_changes(&m, &m.u.push.changes, 1);
    ts_tc_make_resident(&m, ch, "bn-conf-push", BN, r, 1, 1, "Lê Thị Mai");
    send_msg(&k->a, &m);
    *w = &k->a;
}

static void p_pull(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    ready(&k->a, rid(g->row), 0);
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PULL);
    send_msg(&k->a, &m);
    *w = &k->a;
}

static void p_ping_ready(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    ready(&k->a, rid(g->row), 0);
    const ts_tv *v = ts_tv_find(&g->doc, "PING");
    assert_int_equal(ts_tc_send_raw(&k->a, v->hex, v->hex_len), 0);
    *w = &k->a;
}

static void p_notice_ack(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    ready(&k->a, rid(g->row), 0);
    const ts_tv *v = ts_tv_find(&g->doc, "NOTICE_ACK"); /* a notice this district does not have */
    assert_int_equal(ts_tc_send_raw(&k->a, v->hex, v->hex_len), 0);
    *w = &k->a;
}

static void p_pong(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    ready(&k->a, rid(g->row), 0);
    const ts_tv *v = ts_tv_find(&g->doc, "PONG");
    assert_int_equal(ts_tc_send_raw(&k->a, v->hex, v->hex_len), 0);
    *w = &k->a;
}

static void p_error_ready(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    ready(&k->a, rid(g->row), 0);
    send_error(&k->a, false);
    *w = &k->a;
}

static void p_hello_again(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    ready(&k->a, rid(g->row), 0);
    ts_msg m;
    hello_msg(&m, rid(g->row), 0);
    send_msg(&k->a, &m);
    *w = &k->a;
}

static void p_notice_from_station(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    ready(&k->a, rid(g->row), 0);
    const ts_tv *v = ts_tv_find(&g->doc, "NOTICE");
    assert_int_equal(ts_tc_send_raw(&k->a, v->hex, v->hex_len), 0);
    *w = &k->a;
}

static void p_bye_ready(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    ready(&k->a, rid(g->row), 0);
    ts_msg m;
    ts_msg_init(&m, TS_MSG_BYE);
    send_msg(&k->a, &m);
    *w = &k->a;
}

static void p_unknown(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    ready(&k->a, rid(g->row), 0);
    send_type_only(&k->a, "SUBSCRIBE");
    *w = &k->a;
}

/* A PUSH whose changes[1] has no table: the ERROR vector. */
static void p_undecodable(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    ready(&k->a, rid(g->row), 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pk_str(&pk, "type");
    pk_str(&pk, "PUSH");
    pk_str(&pk, "batch");
    msgpack_pack_uint64(&pk, 43);
    pk_str(&pk, "changes");
    msgpack_pack_array(&pk, 2);
    for (int i = 0; i < 2; i++) {
        msgpack_pack_map(&pk, i == 0 ? 5 : 4);
        if (i == 0) {
            pk_str(&pk, "table");
            pk_str(&pk, "residents");
        }
        pk_str(&pk, "id");
        pk_str(&pk, i == 0 ? "bn-000124" : "bn-000125");
        pk_str(&pk, "owner");
        pk_str(&pk, BN);
        pk_str(&pk, "vv");
        msgpack_pack_map(&pk, 0);
        pk_str(&pk, "fields");
        msgpack_pack_map(&pk, 0);
    }
    send_packed(&k->a, &sb);
    msgpack_sbuffer_destroy(&sb);
    *w = &k->a;
}

static void p_replaced(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    ready(&k->a, rid(g->row), 0);
    ready(&k->b, rid(g->row + 100), 0);
    k->use_b = true;
    *w = &k->a;
}

static void p_shutdown(conns *k, ts_tc **w, obs *o)
{
    (void)o;
    ready(&k->a, rid(g->row), 0);
    kill(g->d.pid, SIGTERM);
    *w = &k->a;
}

typedef struct row_player {
    int n;
    player play;
    int wait_ms; /* how long an answer may take */
} row_player;

static const row_player players[] = {
    {1, p_hello_ok, WAIT_MS},     {2, p_ping, WAIT_MS},          {3, p_bye, 2000},
    {4, p_error_fatal, 2000},     {5, p_error_nonfatal, 1000},   {6, p_push_early, WAIT_MS},
    {7, p_pull_early, WAIT_MS},   {8, p_welcome_early, WAIT_MS}, {9, p_silent, 6000},
    {10, p_version, WAIT_MS},     {11, p_station, WAIT_MS},      {12, p_rid_long, WAIT_MS},
    {13, p_rid_bad, WAIT_MS},     {14, p_no_lseq, WAIT_MS},      {15, p_lseq_back, WAIT_MS},
    {16, p_busy, WAIT_MS},        {17, p_push, WAIT_MS},         {18, p_pull, WAIT_MS},
    {19, p_ping_ready, WAIT_MS},  {20, p_notice_ack, 1000},      {21, p_pong, 1000},
    {22, p_error_ready, 1000},    {23, p_hello_again, WAIT_MS},  {24, p_notice_from_station, WAIT_MS},
    {25, p_bye_ready, 2000},      {26, p_unknown, WAIT_MS},      {27, p_undecodable, WAIT_MS},
    {28, p_replaced, WAIT_MS},    {29, p_shutdown, WAIT_MS},
};

/* The district's vectors, checked where a row makes the daemon send them. */
static void check_row_vectors(int n, const obs *o)
{
    static const char *const welcome_masked[] = {"server", "server_db", "time", NULL};
    if (n == 1)
        check_vector("WELCOME", o->json, welcome_masked);
    if (n == 2 || n == 19)
        check_vector("PONG", o->json, NULL);
    if (n == 27)
        check_vector("ERROR", o->json, NULL);
    if (n == 29)
        check_vector("BYE", o->json, NULL);
}

/* ---------------------------------------------------------------- the table */

/* The first `quoted` word of s, or "" when there is none. */
static void first_code(const char *s, char *out, size_t size)
{
    const char *a = strchr(s, '`');
    const char *b = a ? strchr(a + 1, '`') : NULL;
    if (b == NULL)
        snprintf(out, size, "%s", "");
    else
        snprintf(out, size, "%.*s", (int)(b - a - 1), a + 1);
}

static void play_row(int n, const char *answer_cell, const char *error_cell, const char *then_cell)
{
    const row_player *rp = NULL;
    for (size_t i = 0; i < sizeof players / sizeof *players; i++)
        if (players[i].n == n)
            rp = &players[i];
    if (rp == NULL)
        fail_msg("T%d of the document's Transitions has no player in this test", n);
    char want_answer[32], want_error[40];
    first_code(answer_cell, want_answer, sizeof want_answer);
    first_code(error_cell, want_error, sizeof want_error);
    g->row = n;
    conns k;
    memset(&k, 0, sizeof k);
    ts_tc *w = NULL;
    obs o;
    memset(&o, 0, sizeof o);
    rp->play(&k, &w, &o);
    observe(w, &o, rp->wait_ms);
    const char *got = o.answer == TS_MSG_NONE ? "" : ts_msg_type_name(o.answer);
    if (strcmp(got, want_answer) != 0)
        fail_msg("T%d: the district answered %s, the document says %s", n, got[0] ? got : "nothing",
                 want_answer[0] ? want_answer : "nothing");
    if (o.answer == TS_MSG_ERROR) {
        if (strcmp(o.error, want_error) != 0)
            fail_msg("T%d: ERROR %s, the document says %s", n, o.error, want_error);
        if (!o.fatal || strstr(error_cell, "fatal") == NULL)
            fail_msg("T%d: every ERROR of the district is fatal, and the document says so", n);
        bool batch_doc = strstr(error_cell, "`batch`") != NULL;
        if (batch_doc != (o.batch != 0))
            fail_msg("T%d: ERROR.batch %llu, the document %s it", n, (unsigned long long)o.batch,
                     batch_doc ? "sets" : "does not set");
    }
    check_row_vectors(n, &o);
    check_then(w, then_cell, n);
    json_decref(o.json);
    ts_tc_close(&k.a);
    if (k.use_b)
        ts_tc_close(&k.b);
    if (k.use_c)
        ts_tc_close(&k.c);
}

static void test_transitions(void **state)
{
    (void)state;
    const char *t = strstr(g->doc.text, "\n### Transitions\n");
    if (t == NULL) {
        fail_msg("docs/PROTOCOL.md has no \"### Transitions\" table");
        return;
    }
    const char *end = strstr(t + 1, "\n**");
    int played = 0;
    bool seen[64] = {false};
    for (const char *line = strstr(t, "\n| T"); line != NULL && (end == NULL || line < end);
         line = strstr(line + 1, "\n| T")) {
        char id[16], answer[200], error[300], then[200];
        int n = 0;
        if (!ts_tv_cell(line + 1, 0, id, sizeof id) || sscanf(id, "T%d", &n) != 1 || n <= 0 || n >= 64 ||
            !ts_tv_cell(line + 1, 3, answer, sizeof answer) || !ts_tv_cell(line + 1, 4, error, sizeof error) ||
            !ts_tv_cell(line + 1, 5, then, sizeof then))
            fail_msg("docs/PROTOCOL.md: a Transitions row that does not read: %.60s", line + 1);
        print_message("T%d\n", n);
        play_row(n, answer, error, then);
        seen[n] = true;
        played++;
    }
    for (size_t i = 0; i < sizeof players / sizeof *players; i++)
        if (!seen[players[i].n])
            fail_msg("this test plays T%d, which the document's Transitions table does not have", players[i].n);
    assert_int_equal(played, (int)(sizeof players / sizeof *players));
}

/* T14 said the replica stays usable: it does, with its lseq. */
static void test_missing_lseq_does_not_retire(void **state)
{
    (void)state;
    /* T29 stopped the daemon */
    ts_test_daemon_stop(&g->d, SIGTERM, 10000);
    ts_test_daemon_restart(&g->d);
    const char *r = BN ".00000000000c0ff1";
    ts_tc a;
    ready(&a, r, 0);
    push_one(&a, r, 1, 1);
    ts_tc_close(&a);
    tc_open(&a, BN);
    send_hello_raw(&a, r, -1);
    obs o;
    observe(&a, &o, WAIT_MS);
    assert_int_equal(o.answer, TS_MSG_ERROR);
    assert_string_equal(o.error, "MISSING_KEY");
    json_decref(o.json);
    ts_tc_close(&a);
    ready(&a, r, 1); /* not rekeyed */
    push_one(&a, r, 2, 2);
    ts_tc_close(&a);
}

/* ---------------------------------------------------------------- every code on the wire */

#define TS_ "thanhson" /* a third station, whose certificate E16 revokes */

typedef struct wire_code {
    char where[16]; /* "ERROR", "PUSH_ACK.code", "result", "" for nothing */
    char code[40];
    bool fatal;
} wire_code;

typedef void (*code_player)(conns *k, ts_tc **watch, wire_code *o);

static void read_error(ts_tc *c, wire_code *o, int wait_ms)
{
    obs x;
    observe(c, &x, wait_ms);
    if (x.answer == TS_MSG_ERROR) {
        snprintf(o->where, sizeof o->where, "ERROR");
        snprintf(o->code, sizeof o->code, "%s", x.error);
        o->fatal = x.fatal;
    } else if (x.answer != TS_MSG_NONE) {
        snprintf(o->where, sizeof o->where, "%s", ts_msg_type_name(x.answer));
    }
    json_decref(x.json);
}

/* Sends the PUSH and reads its PUSH_ACK: the set's code, else the first
 * change's result code. */
static void push_for_code(ts_tc *c, ts_msg *m, wire_code *o)
{
    send_msg(c, m);
    ts_msg ack;
    if (ts_tc_expect(c, TS_MSG_PUSH_ACK, &ack, WAIT_MS) != 1) {
        fail_msg("no PUSH_ACK");
        return;
    }
    const ts_msg_push_ack *a = &ack.u.push_ack;
    if (a->code != 0) {
        snprintf(o->where, sizeof o->where, "PUSH_ACK.code");
        snprintf(o->code, sizeof o->code, "%s", ts_err_name(-(int)a->code));
    } else if (a->nresults > 0 && a->results[0].code != 0) {
        snprintf(o->where, sizeof o->where, "result");
        snprintf(o->code, sizeof o->code, "%s", ts_err_name(-(int)a->results[0].code));
    }
    ts_msg_free(&ack);
}

static void raw_frame(ts_tc *c, const char *body, size_t len)
{
    ts_buf f = TS_BUF_INIT;
    ts_frame_put_header(&f, (uint32_t)len);
    ts_buf_append(&f, body, len);
    assert_int_equal(ts_tc_send_raw(c, f.data, f.len), 0);
    ts_buf_free(&f);
}

#define PING_HEAD "\xa4type\xa4PING\xa5nonce\x11"
#define RAW(k, w, o, bytes)                                                                                           \
    do {                                                                                                              \
        tc_open(&(k)->a, BN);                                                                                         \
        raw_frame(&(k)->a, bytes, sizeof bytes - 1);                                                                  \
        *(w) = &(k)->a;                                                                                               \
        read_error(&(k)->a, o, WAIT_MS);                                                                              \
    } while (0)

static void e_malformed(conns *k, ts_tc **w, wire_code *o)
{
    tc_open(&k->a, BN);
    assert_int_equal(ts_tc_send_raw(&k->a, "\0\0\0\0", 4), 0);
    *w = &k->a;
    read_error(&k->a, o, WAIT_MS);
}

static void e_too_large(conns *k, ts_tc **w, wire_code *o)
{
    tc_open(&k->a, BN);
    assert_int_equal(ts_tc_send_raw(&k->a, "\x00\x00\x10\x01", 4), 0); /* 4097 before HELLO */
    *w = &k->a;
    read_error(&k->a, o, WAIT_MS);
}

static void e_too_deep(conns *k, ts_tc **w, wire_code *o)
{
    RAW(k, w, o, "\x83" PING_HEAD "\xa1x\x91\x91\x91\x91\x91\x91\x91\x90");
}

static void e_too_many(conns *k, ts_tc **w, wire_code *o)
{
    RAW(k, w, o, "\x83" PING_HEAD "\xa1x\xdc\xff\xff\x01");
}

static void e_ext(conns *k, ts_tc **w, wire_code *o)
{
    RAW(k, w, o, "\x82\xa4type\xa4PING\xa5nonce\xd4\x01\x00");
}

static void e_trailing(conns *k, ts_tc **w, wire_code *o)
{
    RAW(k, w, o, "\x82" PING_HEAD "\x80");
}

static void e_missing(conns *k, ts_tc **w, wire_code *o)
{
    RAW(k, w, o, "\x81\xa4type\xa4PING");
}

static void e_wrong_type(conns *k, ts_tc **w, wire_code *o)
{
    RAW(k, w, o, "\x83" PING_HEAD "\x01\xc0");
}

static void e_utf8(conns *k, ts_tc **w, wire_code *o)
{
    RAW(k, w, o, "\x83" PING_HEAD "\xa1x\xa2\xc0\xaf");
}

static void e_duplicate(conns *k, ts_tc **w, wire_code *o)
{
    RAW(k, w, o, "\x83" PING_HEAD "\xa5nonce\x12");
}

static void e_unknown(conns *k, ts_tc **w, wire_code *o)
{
    RAW(k, w, o, "\x81\xa4type\xa9SUBSCRIBE");
}

/* The Transitions players that make the district send a code. */
static void e_from_row(conns *k, ts_tc **w, wire_code *o, player p)
{
    obs unused;
    memset(&unused, 0, sizeof unused);
    p(k, w, &unused);
    read_error(*w, o, WAIT_MS);
}

static void e_long_replica(conns *k, ts_tc **w, wire_code *o)
{
    e_from_row(k, w, o, p_rid_long);
}

static void e_version(conns *k, ts_tc **w, wire_code *o)
{
    e_from_row(k, w, o, p_version);
}

static void e_hello_again(conns *k, ts_tc **w, wire_code *o)
{
    e_from_row(k, w, o, p_hello_again);
}

static void e_station(conns *k, ts_tc **w, wire_code *o)
{
    e_from_row(k, w, o, p_station);
}

static void e_bad_replica(conns *k, ts_tc **w, wire_code *o)
{
    e_from_row(k, w, o, p_rid_bad);
}

static void e_busy(conns *k, ts_tc **w, wire_code *o)
{
    e_from_row(k, w, o, p_busy);
}

static void e_replaced(conns *k, ts_tc **w, wire_code *o)
{
    e_from_row(k, w, o, p_replaced);
}

static void e_no_lseq(conns *k, ts_tc **w, wire_code *o)
{
    e_from_row(k, w, o, p_no_lseq);
}

static void e_revoked(conns *k, ts_tc **w, wire_code *o)
{
    tc_open(&k->a, TS_);
    ts_msg m, wel;
    hello_msg(&m, TS_ ".00000000000c0fe5", 0);
    m.u.hello.station = TS_;
    send_msg(&k->a, &m);
    assert_int_equal(ts_tc_expect(&k->a, TS_MSG_WELCOME, &wel, WAIT_MS), 1);
    ts_msg_free(&wel);
    ts_test_pki_revoke(&g->pki, TS_);
    assert_int_equal(kill(g->d.pid, SIGHUP), 0);
    *w = &k->a;
    read_error(&k->a, o, WAIT_MS);
}

static void e_hello_timeout(conns *k, ts_tc **w, wire_code *o)
{
    tc_open(&k->a, BN);
    *w = &k->a;
    read_error(&k->a, o, 6000); /* hello_timeout is 2 s */
}

static void e_frame_timeout(conns *k, ts_tc **w, wire_code *o)
{
    ready(&k->a, rid(g->row), 0);
    /* a frame of 100 bytes of which 10 come: frame_timeout is 2 s */
    assert_int_equal(ts_tc_send_raw(&k->a, "\x00\x00\x00\x64\x82\xa4type\xa4PIN", 14), 0);
    *w = &k->a;
    read_error(&k->a, o, 8000);
}

/* A PUSH of n copies of one new resident (one applied, the rest duplicates:
 * cheap to apply, but each counts against the change rate). */
static void push_many(ts_tc *c, const char *r, uint64_t batch, uint32_t n, wire_code *o)
{
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PUSH);
    m.u.push.batch = batch;
    ts_change *ch = ts_msg_alloc_changes(&m, &m.u.push.changes, n);
    char id[40];
    snprintf(id, sizeof id, "bn-rate-%llu", (unsigned long long)batch);
    uint64_t h = TS_HLC_MAKE(ts_wall_ms(), 0);
    for (uint32_t i = 0; i < n; i++) {
        ts_tc_make_resident(&m, &ch[i], id, BN, r, 1, 1, "Đỗ Văn Nhanh");
        for (uint32_t f = 0; f < ch[i].v.nfields; f++)
            ch[i].v.fields[f].hlc = h; /* the same write each time, else dot (r, 1) would be reused */
    }
    push_for_code(c, &m, o);
}

static void e_rate(conns *k, ts_tc **w, wire_code *o)
{
    const char *r = rid(g->row);
    ready(&k->a, r, 1);
    wire_code first;
    memset(&first, 0, sizeof first);
    push_many(&k->a, r, 1, 5000, &first); /* rate_changes 2500: the bucket holds 5000 */
    assert_string_equal(first.where, "");
    push_many(&k->a, r, 2, 5000, o);
    *w = &k->a;
}

static void e_clock_ahead(conns *k, ts_tc **w, wire_code *o)
{
    const char *r = rid(g->row);
    ready(&k->a, r, 1);
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PUSH);
    m.u.push.batch = 9;
    ts_change *ch = ts_msg_alloc_changes(&m, &m.u.push.changes, 1);
    ts_tc_make_resident(&m, ch, "bn-ahead", BN, r, 1, 1, "Phạm Thị Sớm");
    for (uint32_t i = 0; i < ch->v.nfields; i++)
        ch->v.fields[i].hlc = TS_HLC_MAKE(ts_wall_ms() + 600000, 0); /* 10 min ahead, the bound is 5 */
    push_for_code(&k->a, &m, o);
    *w = &k->a;
}

static void e_rekey(conns *k, ts_tc **w, wire_code *o)
{
    const char *r = rid(g->row);
    ready(&k->a, r, 1);
    for (int round = 0; round < 2; round++) {
        ts_msg m;
        ts_msg_init(&m, TS_MSG_PUSH);
        m.u.push.batch = (uint64_t)round + 1;
        ts_change *ch = ts_msg_alloc_changes(&m, &m.u.push.changes, 1);
        /* the second time, dot (r, 1) carries another name: a restored database */
        ts_tc_make_resident(&m, ch, "bn-reused", BN, r, 1, 1, round == 0 ? "Vũ Thị Một" : "Vũ Thị Hai");
        push_for_code(&k->a, &m, o);
    }
    *w = &k->a;
}

/* One change built by `make` in a PUSH from a fresh READY session. */
static void push_change(conns *k, ts_tc **w, wire_code *o, void (*make)(ts_msg *m, ts_change *ch, const char *r))
{
    const char *r = rid(g->row);
    ready(&k->a, r, 1);
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PUSH);
    m.u.push.batch = 7;
    ts_change *ch = ts_msg_alloc_changes(&m, &m.u.push.changes, 1);
    make(&m, ch, r);
    push_for_code(&k->a, &m, o);
    *w = &k->a;
}

static void mk_unknown_table(ts_msg *m, ts_change *ch, const char *r)
{
    ts_tc_make_resident(m, ch, "bn-u1", BN, r, 1, 1, "Lý Văn Bảng");
    ch->table = "vaccination_2019";
}

static void mk_bad_field(ts_msg *m, ts_change *ch, const char *r)
{
    ts_tc_make_resident(m, ch, "bn-f1", BN, r, 1, 1, "Lý Văn Trường");
    ts_dot dot = {ch->v.vv.e[0].rid, 1};
    ts_tc_put_str(&ch->v, &m->arena, "favourite_colour", "xanh", &dot, ch->v.fields[0].hlc);
}

static void mk_foreign_loser(ts_msg *m, ts_change *ch, const char *r)
{
    ts_tc_make_resident(m, ch, "bn-l1", BN, r, 1, 1, "Lý Thị Thua");
    /* a loser of another replica that this version's vv has never seen */
    ts_field *l = ts_arena_calloc(&m->arena, 1, sizeof *l);
    ts_buf b = TS_BUF_INIT;
    ts_value_str(&b, "0987654321");
    l->name = "phone";
    l->name_len = 5;
    l->value = ts_arena_memdup(&m->arena, b.data, b.len);
    l->value_len = (uint32_t)b.len;
    ts_buf_free(&b);
    ts_rid_set_cstr(&l->dot.rid, BN ".00000000000c0ffe");
    l->dot.counter = 3;
    l->hlc = ch->v.fields[0].hlc - 1;
    ch->losers = l;
    ch->nlosers = 1;
}

static void mk_bad_id(ts_msg *m, ts_change *ch, const char *r)
{
    ts_tc_make_resident(m, ch, "bn 000777", BN, r, 1, 1, "Lý Văn Cách");
}

static void mk_district_table(ts_msg *m, ts_change *ch, const char *r)
{
    ch->table = "drug_catalog";
    ch->id = "PARA500";
    ch->owner = "district";
    ch->lseq = 1;
    ts_rid rr;
    ts_rid_set_cstr(&rr, r);
    ts_vv_set(&ch->v.vv, &rr, 1);
    ts_dot dot = {rr, 1};
    ts_tc_put_str(&ch->v, &m->arena, "name", "Paracetamol 500 mg", &dot, TS_HLC_MAKE(ts_wall_ms(), 0));
}

static void e_unknown_table(conns *k, ts_tc **w, wire_code *o)
{
    push_change(k, w, o, mk_unknown_table);
}

static void e_bad_field(conns *k, ts_tc **w, wire_code *o)
{
    push_change(k, w, o, mk_bad_field);
}

static void e_foreign_loser(conns *k, ts_tc **w, wire_code *o)
{
    push_change(k, w, o, mk_foreign_loser);
}

static void e_bad_id(conns *k, ts_tc **w, wire_code *o)
{
    push_change(k, w, o, mk_bad_id);
}

static void e_district_table(conns *k, ts_tc **w, wire_code *o)
{
    push_change(k, w, o, mk_district_table);
}

/* Replica r1 writes a resident twice; replica r2 of the same station then
 * pushes it with r1's first write altered: r1's dot, another write. */
static void e_inconsistent(conns *k, ts_tc **w, wire_code *o)
{
    char r1[64], r2[64];
    snprintf(r1, sizeof r1, "%s", rid(g->row));
    snprintf(r2, sizeof r2, "%s", rid(g->row + 100));
    ready(&k->b, r1, 2);
    k->use_b = true;
    ts_rid a, b;
    ts_rid_set_cstr(&a, r1);
    ts_rid_set_cstr(&b, r2);
    uint64_t h = TS_HLC_MAKE(ts_wall_ms() - 60000, 0);
    for (int round = 0; round < 2; round++) {
        ts_msg m;
        ts_msg_init(&m, TS_MSG_PUSH);
        m.u.push.batch = (uint64_t)round + 1;
        ts_change *ch = ts_msg_alloc_changes(&m, &m.u.push.changes, 1);
        ts_tc_make_resident(&m, ch, "bn-two", BN, r1, 1, (uint64_t)round + 1, "Hoàng Thị Đúng");
        for (uint32_t i = 0; i < ch->v.nfields; i++)
            ch->v.fields[i].hlc = h;
        if (round == 1) {
            ts_vv_set(&ch->v.vv, &a, 2);
            ts_dot d2 = {a, 2};
            ts_tc_put_str(&ch->v, &m.arena, "phone", "0911000111", &d2, h + 1);
        }
        wire_code x;
        memset(&x, 0, sizeof x);
        push_for_code(&k->b, &m, &x);
        assert_string_equal(x.where, "");
    }
    ts_tc_close(&k->b);
    k->use_b = false;
    ready(&k->a, r2, 1);
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PUSH);
    m.u.push.batch = 3;
    ts_change *ch = ts_msg_alloc_changes(&m, &m.u.push.changes, 1);
    ts_tc_make_resident(&m, ch, "bn-two", BN, r1, 1, 1, "Hoàng Thị Sửa"); /* (r1, 1), another name */
    for (uint32_t i = 0; i < ch->v.nfields; i++)
        ch->v.fields[i].hlc = h;
    ts_vv_set(&ch->v.vv, &b, 1);
    ts_dot d = {b, 1};
    ts_tc_put_str(&ch->v, &m.arena, "address", "Thôn Tây", &d, TS_HLC_MAKE(ts_wall_ms(), 0));
    push_for_code(&k->a, &m, o);
    *w = &k->a;
}

typedef struct code_row {
    int n;
    code_player play;
} code_row;

static const code_row code_players[] = {
    {1, e_malformed},       {2, e_too_large},     {3, e_too_deep},       {4, e_too_many},
    {5, e_long_replica},    {6, e_ext},           {7, e_trailing},       {8, e_missing},
    {9, e_no_lseq},         {10, e_wrong_type},   {11, e_utf8},          {12, e_duplicate},
    {13, e_unknown},        {14, e_version},      {15, e_hello_again},   {16, e_station},
    {17, e_revoked},        {18, e_bad_replica},  {19, e_hello_timeout}, {20, e_frame_timeout},
    {21, e_busy},           {22, e_replaced},     {23, e_clock_ahead},   {24, e_rate},
    {25, e_rekey},          {26, e_unknown_table}, {27, e_bad_field},    {28, e_foreign_loser},
    {29, e_inconsistent},   {30, e_bad_id},       {31, e_district_table},
};

/* Codes no test here can make the district send without a fault inside it:
 * their rows name the test that does. */
static bool fault_only(const char *code)
{
    return strcmp(code, "INTERNAL") == 0 || strcmp(code, "STORAGE") == 0;
}

/* "`ERROR`", "`PUSH_ACK.code`", "result `code`" as this test names them. */
static const char *place_of(const char *cell)
{
    if (strstr(cell, "PUSH_ACK") != NULL)
        return "PUSH_ACK.code";
    if (strstr(cell, "result") != NULL)
        return "result";
    if (strstr(cell, "ERROR") != NULL)
        return "ERROR";
    return "?";
}

typedef struct code_seen {
    char code[40];
    char where[16];
} code_seen;

/* A row that another test covers names it; that test must name the code. */
static void check_other_test(int n, const char *code, const char *cell)
{
    char file[120];
    first_code(cell, file, sizeof file);
    if (!fault_only(code) || (file[0] == '\0' && strncmp(cell, "none", 4) != 0))
        fail_msg("E%d: %s is played here or its row names the test file that asserts it", n, code);
    if (file[0] == '\0') {
        print_message("E%d: %s is not asserted by any test (the document says so)\n", n, code);
        return;
    }
    char *path = ts_source_path(file);
    char *text = ts_read_file(path, NULL);
    char constant[48];
    snprintf(constant, sizeof constant, "TS_E%s", code);
    if (text == NULL || strstr(text, constant) == NULL)
        fail_msg("E%d: %s is said to be asserted by %s, which does not mention it", n, code, file);
    if (strstr(text, "Every code on the wire") == NULL)
        fail_msg("E%d: %s is said to be asserted by %s, which does not read the table", n, code, file);
    free(text);
    free(path);
}

static void test_every_code_on_the_wire(void **state)
{
    (void)state;
    const char *t = strstr(g->doc.text, "\n### Every code on the wire\n");
    if (t == NULL) {
        fail_msg("docs/PROTOCOL.md has no \"### Every code on the wire\" table");
        return;
    }
    const char *end = strstr(t + 1, "\n## ");
    code_seen seen[80];
    size_t nseen = 0;
    bool played[64] = {false};
    for (const char *line = strstr(t, "\n| E"); line != NULL && (end == NULL || line < end);
         line = strstr(line + 1, "\n| E")) {
        char id[16], code[40], where_cell[80], then[200], by[200];
        int n = 0;
        if (!ts_tv_cell(line + 1, 0, id, sizeof id) || sscanf(id, "E%d", &n) != 1 || n <= 0 || n >= 64 ||
            !ts_tv_cell(line + 1, 1, where_cell, sizeof where_cell) || !ts_tv_cell(line + 1, 2, code, sizeof code) ||
            !ts_tv_cell(line + 1, 4, then, sizeof then) || !ts_tv_cell(line + 1, 5, by, sizeof by))
            fail_msg("docs/PROTOCOL.md: a row of \"Every code on the wire\" that does not read: %.60s", line + 1);
        char want[40];
        first_code(code, want, sizeof want);
        const char *where = place_of(where_cell);
        if (nseen < sizeof seen / sizeof *seen) {
            snprintf(seen[nseen].code, sizeof seen[nseen].code, "%s", want);
            snprintf(seen[nseen].where, sizeof seen[nseen].where, "%s", where);
            nseen++;
        }
        char by_test[120];
        first_code(by, by_test, sizeof by_test);
        if (strcmp(by_test, "test_conformance") != 0) {
            check_other_test(n, want, by);
            continue;
        }
        const code_row *cr = NULL;
        for (size_t i = 0; i < sizeof code_players / sizeof *code_players; i++)
            if (code_players[i].n == n)
                cr = &code_players[i];
        if (cr == NULL)
            fail_msg("E%d of the document has no player in this test", n);
        print_message("E%d %s\n", n, want);
        g->row = 200 + n;
        conns k;
        memset(&k, 0, sizeof k);
        ts_tc *w = NULL;
        wire_code o;
        memset(&o, 0, sizeof o);
        cr->play(&k, &w, &o);
        if (strcmp(o.where, where) != 0 || strcmp(o.code, want) != 0)
            fail_msg("E%d: the district sent %s %s, the document says %s %s", n, o.where[0] ? o.where : "nothing",
                     o.code, where, want);
        if (strcmp(where, "ERROR") == 0 && !o.fatal)
            fail_msg("E%d: every ERROR of the district is fatal", n);
        check_then(w, then, 200 + n);
        ts_tc_close(&k.a);
        if (k.use_b)
            ts_tc_close(&k.b);
        if (k.use_c)
            ts_tc_close(&k.c);
        played[n] = true;
    }
    for (size_t i = 0; i < sizeof code_players / sizeof *code_players; i++)
        if (!played[code_players[i].n])
            fail_msg("this test plays E%d, which the document's table does not have", code_players[i].n);

    /* every place "Where each code appears" says a code is sent has a row */
    const char *wt = strstr(g->doc.text, "\n### Where each code appears\n");
    if (wt == NULL) {
        fail_msg("docs/PROTOCOL.md has no \"### Where each code appears\"");
        return;
    }
    const char *wend = strstr(wt + 1, "\n### ");
    static const char *const places[] = {"ERROR", "PUSH_ACK.code", "result"};
    int checked = 0;
    for (const char *line = strstr(wt, "\n| `"); line != NULL && (wend == NULL || line < wend);
         line = strstr(line + 1, "\n| `")) {
        char names[300];
        if (!ts_tv_cell(line + 1, 0, names, sizeof names))
            continue;
        for (int p = 0; p < 3; p++) {
            char yes[40];
            if (!ts_tv_cell(line + 1, 1 + p, yes, sizeof yes) || strncmp(yes, "yes", 3) != 0)
                continue;
            for (const char *q = strchr(names, '`'); q != NULL; q = strchr(q, '`')) {
                const char *e = strchr(q + 1, '`');
                if (e == NULL)
                    break;
                char name[40];
                snprintf(name, sizeof name, "%.*s", (int)(e - q - 1), q + 1);
                bool found = false;
                for (size_t i = 0; i < nseen; i++)
                    found |= strcmp(seen[i].code, name) == 0 && strcmp(seen[i].where, places[p]) == 0;
                if (!found)
                    fail_msg("%s is sent in %s (\"Where each code appears\") but no row of \"Every code on the "
                             "wire\" asserts it",
                             name, places[p]);
                checked++;
                q = e + 1;
            }
        }
    }
    assert_true(checked >= 25);
}

static int setup(void **state)
{
    (void)state;
    g = ts_xcalloc(1, sizeof *g);
    g->dir = ts_tmpdir_make("conformance");
    ts_test_watchdog_arm("test_conformance", 420);
    const char *codes[] = {XL, TS_};
    ts_test_pki_make(&g->pki, g->dir, codes, 2);
    ts_test_pki_station(&g->pki, BN, "Bình Nguyên");
    ts_tv_load(&g->doc);
    const char *sets[] = {"server.hello_timeout=2s", "server.max_station_connections=2", "server.frame_timeout=2s",
                          "server.rate_changes=2500", NULL};
    ts_test_daemon_start(&g->d, g->dir, &g->pki, sets);
    ts_test_watchdog_watch(&g->d.pid);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_test_watchdog_disarm();
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
        cmocka_unit_test(test_transitions),
        cmocka_unit_test(test_missing_lseq_does_not_retire),
        cmocka_unit_test(test_every_code_on_the_wire),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
