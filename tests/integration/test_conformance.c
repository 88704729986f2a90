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
 *    replica stays usable (it was retired before). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "common/ts_hlc.h"
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
    m.u.hello.proto_min = 2; /* and proto_max 1: proto_min > proto_max */
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

/* The i-th cell (0-based) of a table row, trimmed; NULL past the last. */
static bool cell(const char *line, int i, char *out, size_t size)
{
    const char *p = line;
    for (int k = 0; k <= i; k++) {
        p = strchr(p, '|');
        if (p == NULL)
            return false;
        p++;
    }
    const char *e = strchr(p, '|');
    if (e == NULL)
        return false;
    while (p < e && *p == ' ')
        p++;
    while (e > p && e[-1] == ' ')
        e--;
    snprintf(out, size, "%.*s", (int)(e - p), p);
    return true;
}

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
        if (!cell(line + 1, 0, id, sizeof id) || sscanf(id, "T%d", &n) != 1 || n <= 0 || n >= 64 ||
            !cell(line + 1, 3, answer, sizeof answer) || !cell(line + 1, 4, error, sizeof error) ||
            !cell(line + 1, 5, then, sizeof then))
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

static int setup(void **state)
{
    (void)state;
    g = ts_xcalloc(1, sizeof *g);
    g->dir = ts_tmpdir_make("conformance");
    ts_test_watchdog_arm("test_conformance", 240);
    const char *codes[] = {XL};
    ts_test_pki_make(&g->pki, g->dir, codes, 1);
    ts_test_pki_station(&g->pki, BN, "Bình Nguyên");
    ts_tv_load(&g->doc);
    const char *sets[] = {"server.hello_timeout=2s", "server.max_station_connections=2", NULL};
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
