/* Protocol versions against a real tramsyncd (docs/PROTOCOL.md, "Versions"
 * and "Compact changes (version 2)").
 *
 * 1. The "Versions" table is read out of the document and every row played:
 *    a district speaking 1-2 (or capped at 1 with server.proto_max=1), a
 *    HELLO offering the row's versions, then the row's PUSH (in version-1
 *    maps, compact, or compact with an index beyond "strs") and PULL; the
 *    answers, WELCOME.proto, the form of CHANGES and the error are compared
 *    with the row.
 * 2. A version-1 agent (sync.proto_max=1) and a version-2 agent share one
 *    district and each sees what the other wrote.
 * 3. A version-2 agent against a district capped at version 1 pushes and
 *    pulls in version 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <msgpack.h>
#include <sqlite3.h>

#include "common/ts_hlc.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_frame.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_vectors.h"
#include "tests/support/ts_test_watchdog.h"

#define BN "binhnguyen"
#define XL "xuanlang"
#define WAIT_MS 10000

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon both; /* speaks 1 and 2 */
    ts_test_daemon v1;   /* server.proto_max=1 */
    ts_tv_doc doc;
} env;

static env *g;

static const ts_actor district_admin = {TS_ACTOR_ADMIN, "test-admin", NULL, "test"};

/* A district database holding an outbreak both stations can pull. */
static void seed_district(const char *dir)
{
    char *path = ts_xasprintf("%s/district.db", dir);
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = path;
    opt.role = TS_ROLE_SERVER;
    opt.registry = ts_test_registry();
    opt.create = true;
    ts_store *st = NULL;
    ts_error err;
    if (ts_store_open(&st, &opt, &err) < 0)
        fail_msg("open %s: %s", path, err.msg);
    ts_buf v[3] = {TS_BUF_INIT, TS_BUF_INIT, TS_BUF_INIT};
    ts_value_str(&v[0], "Sốt xuất huyết Dengue");
    msgpack_packer pk;
    ts_buf_packer(&v[1], &pk);
    msgpack_pack_array(&pk, 2);
    ts_mp_pack_cstr(&pk, BN);
    ts_mp_pack_cstr(&pk, XL);
    ts_value_str(&v[2], "detected");
    ts_kv kv[3] = {{"disease", v[0].data, v[0].len}, {"stations", v[1].data, v[1].len}, {"status", v[2].data, v[2].len}};
    if (ts_store_put(st, &district_admin, "outbreaks", "OB-2025-001", NULL, kv, 3, &err) < 0)
        fail_msg("put outbreak: %s", err.msg);
    for (int i = 0; i < 3; i++)
        ts_buf_free(&v[i]);
    ts_store_close(st);
    free(path);
}

/* ---------------------------------------------------------------- the table */

/* "a–b": the two numbers of a range (one number: both). */
static void range(const char *s, int *lo, int *hi)
{
    const char *p = s;
    while (*p && (*p < '0' || *p > '9'))
        p++;
    *lo = *hi = atoi(p);
    while (*p >= '0' && *p <= '9')
        p++;
    while (*p && *p != '(' && (*p < '0' || *p > '9'))
        p++;
    if (*p >= '0' && *p <= '9')
        *hi = atoi(p);
}

static const char *rid(int n)
{
    static char b[64];
    snprintf(b, sizeof b, BN ".%016x", 0xc2f0000 + n);
    return b;
}

static void tc_open(ts_tc *c, const ts_test_daemon *d)
{
    char *cert = ts_test_pki_cert(&g->pki, BN);
    char *key = ts_test_pki_key(&g->pki, BN);
    ts_tc_opts o = {cert, key, g->pki.ca, 0, 0};
    int rc = ts_tc_connect(c, d->port, &o);
    free(cert);
    free(key);
    if (rc < 0)
        fail_msg("TLS connect: %s", c->error);
}

/* A compact PUSH packed by hand whose vv names strs[5] of a one-entry strs. */
static void send_bad_index(ts_tc *c)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    ts_mp_pack_cstr(&pk, "type");
    ts_mp_pack_cstr(&pk, "PUSH");
    ts_mp_pack_cstr(&pk, "batch");
    msgpack_pack_uint64(&pk, 7);
    ts_mp_pack_cstr(&pk, "strs");
    msgpack_pack_array(&pk, 1);
    ts_mp_pack_cstr(&pk, "residents");
    ts_mp_pack_cstr(&pk, "changes");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 6);
    msgpack_pack_uint64(&pk, 0);
    ts_mp_pack_cstr(&pk, "bn-v2-bad");
    ts_mp_pack_cstr(&pk, BN);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, 5);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_nil(&pk);
    msgpack_pack_array(&pk, 0);
    ts_buf f = TS_BUF_INIT;
    ts_frame_put_header(&f, (uint32_t)sb.size);
    ts_buf_append(&f, sb.data, sb.size);
    assert_int_equal(ts_tc_send_raw(c, f.data, f.len), 0);
    ts_buf_free(&f);
    msgpack_sbuffer_destroy(&sb);
}

typedef struct seen {
    char types[160]; /* "WELCOME PUSH_ACK CHANGES" */
    int proto;       /* WELCOME.proto */
    int changes_form; /* 0: no CHANGES, 1: version-1 maps, 2: compact */
    uint32_t nchanges;
    char error[40];
    bool fatal;
} seen;

static void take(ts_tc *c, seen *s, ts_msg *m)
{
    size_t n = strlen(s->types);
    snprintf(s->types + n, sizeof s->types - n, "%s%s", n ? " " : "", ts_msg_type_name(m->type));
    if (m->type == TS_MSG_WELCOME)
        s->proto = (int)m->u.welcome.proto;
    if (m->type == TS_MSG_CHANGES) {
        s->changes_form = m->proto >= 2 ? 2 : 1;
        s->nchanges = m->u.changes.changes.n;
    }
    if (m->type == TS_MSG_ERROR) {
        snprintf(s->error, sizeof s->error, "%s", m->u.error.name);
        s->fatal = m->u.error.fatal;
    }
    (void)c;
    ts_msg_free(m);
}

static void play(int n, const char *district, const char *offers, const char *sends, const char *answer,
                 const char *error)
{
    const ts_test_daemon *d = strstr(district, "server.proto_max=1") ? &g->v1 : &g->both;
    int lo, hi;
    range(offers, &lo, &hi);
    ts_tc c;
    memset(&c, 0, sizeof c);
    tc_open(&c, d);
    ts_msg m;
    ts_msg_init(&m, TS_MSG_HELLO);
    m.u.hello.proto_min = (uint64_t)lo;
    m.u.hello.proto_max = (uint64_t)hi;
    m.u.hello.agent = "tramsync-conformance-v2/1";
    m.u.hello.replica = rid(n);
    m.u.hello.station = BN;
    m.u.hello.server_db = "";
    m.u.hello.live = false;
    assert_int_equal(ts_tc_send(&c, &m), 0);
    ts_msg_free(&m);
    seen s;
    memset(&s, 0, sizeof s);
    if (ts_tc_recv(&c, &m, WAIT_MS) != 1)
        fail_msg("V%d: no answer to HELLO: %s", n, c.error);
    take(&c, &s, &m);
    bool ready = s.proto != 0;
    if (ready && strstr(sends, "beyond")) {
        send_bad_index(&c);
    } else if (ready && strstr(sends, "`PUSH`")) {
        ts_msg_init(&m, TS_MSG_PUSH);
        m.proto = strstr(sends, "compact") ? 2 : 1;
        m.u.push.batch = 1;
        ts_change *ch = ts_msg_alloc_changes(&m, &m.u.push.changes, 1);
        char id[32];
        snprintf(id, sizeof id, "bn-v2-%d", n);
        ts_tc_make_resident(&m, ch, id, BN, rid(n), 1, 1, "Hà Thị Mai");
        assert_int_equal(ts_tc_send(&c, &m), 0);
        ts_msg_free(&m);
    }
    /* the answer to the PUSH, then the PULL's */
    for (int k = 0; ready && k < 2; k++) {
        if (ts_tc_recv(&c, &m, WAIT_MS) != 1)
            break;
        ts_msg_type t = m.type;
        take(&c, &s, &m);
        if (t == TS_MSG_PUSH_ACK && strstr(sends, "`PULL`")) {
            ts_msg_init(&m, TS_MSG_PULL);
            assert_int_equal(ts_tc_send(&c, &m), 0);
            ts_msg_free(&m);
        } else {
            break;
        }
    }
    ts_tc_close(&c);

    /* the row's answer: its message types in order, WELCOME.proto, the form of CHANGES */
    char want[160] = "";
    for (const char *p = strchr(answer, '`'); p != NULL; p = strchr(p, '`')) {
        const char *e = strchr(p + 1, '`');
        if (e == NULL)
            break;
        ts_msg_type t = ts_msg_type_parse(p + 1, (size_t)(e - p - 1));
        if (t != TS_MSG_NONE) {
            size_t l = strlen(want);
            snprintf(want + l, sizeof want - l, "%s%s", l ? " " : "", ts_msg_type_name(t));
        }
        p = e + 1;
    }
    if (strcmp(s.types, want) != 0)
        fail_msg("V%d: the district answered \"%s\", the document says \"%s\"", n, s.types, want);
    const char *pv = strstr(answer, "`proto` ");
    if (pv != NULL && atoi(pv + 8) != s.proto)
        fail_msg("V%d: WELCOME.proto %d, the document says %d", n, s.proto, atoi(pv + 8));
    const char *ch = strstr(answer, "`CHANGES`");
    if (ch != NULL) {
        int form = strstr(ch, "compact") ? 2 : 1;
        if (form != s.changes_form)
            fail_msg("V%d: CHANGES in the %s form, the document says %s", n,
                     s.changes_form == 2 ? "compact" : "version-1", form == 2 ? "compact" : "version-1 maps");
        if (s.nchanges == 0)
            fail_msg("V%d: CHANGES held nothing (the outbreak was expected)", n);
    }
    const char *ec = strchr(error, '`');
    if (ec != NULL) {
        const char *e = strchr(ec + 1, '`');
        if (e == NULL || strncmp(ec + 1, s.error, (size_t)(e - ec - 1)) != 0 || strlen(s.error) != (size_t)(e - ec - 1))
            fail_msg("V%d: ERROR %s, the document says %s", n, s.error[0] ? s.error : "none", error);
        if (!s.fatal)
            fail_msg("V%d: the ERROR is not fatal", n);
    }
}

static void test_versions_table(void **state)
{
    (void)state;
    const char *t = strstr(g->doc.text, "\n### Versions\n");
    if (t == NULL) {
        fail_msg("docs/PROTOCOL.md has no \"### Versions\" table");
        return;
    }
    int played = 0;
    const char *end = strstr(t + 1, "\n## ");
    for (const char *line = strstr(t, "\n| V"); line != NULL && (end == NULL || line < end);
         line = strstr(line + 1, "\n| V")) {
        char id[8], district[80], offers[40], sends[200], answer[300], error[200];
        int n = 0;
        if (!ts_tv_cell(line + 1, 0, id, sizeof id) || sscanf(id, "V%d", &n) != 1 || !ts_tv_cell(line + 1, 1, district, sizeof district) ||
            !ts_tv_cell(line + 1, 2, offers, sizeof offers) || !ts_tv_cell(line + 1, 3, sends, sizeof sends) ||
            !ts_tv_cell(line + 1, 4, answer, sizeof answer) || !ts_tv_cell(line + 1, 5, error, sizeof error))
            fail_msg("docs/PROTOCOL.md: a Versions row that does not read: %.60s", line + 1);
        print_message("V%d\n", n);
        play(n, district, offers, sends, answer, error);
        played++;
    }
    assert_true(played >= 10);
}

/* ---------------------------------------------------------------- agents */

/* The session_open line of this station in the daemon's log says proto=N. */
static bool session_proto(const ts_test_daemon *d, const char *station, int proto)
{
    char *text = ts_read_file(d->log, NULL);
    char who[64], pv[16];
    snprintf(who, sizeof who, "station=%s ", station);
    snprintf(pv, sizeof pv, " proto=%d ", proto);
    bool found = false;
    for (char *line = text; line && *line && !found;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        found = strstr(line, "session_open") && strstr(line, who) && strstr(line, pv);
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return found;
}

static void cli_ok(ts_test_station *s, const char *a, const char *b, const char *c, const char *d, const char *e,
                   const char *f)
{
    char *out = NULL;
    int rc = ts_test_station_cli(s, &out, a, b, c, d, e, f, NULL);
    if (rc != 0)
        fail_msg("tramsync %s %s %s at %s: exit %d: %s", a, b, c, s->code, rc, out ? out : "");
    free(out);
}

static void wait_get(ts_test_station *s, const char *table, const char *id, const char *needle)
{
    uint64_t end = ts_test_now_ms() + 30000;
    for (;;) {
        char *out = NULL;
        int rc = ts_test_station_cli(s, &out, "get", table, id, NULL);
        bool ok = rc == 0 && out && strstr(out, needle);
        free(out);
        if (ok)
            return;
        if (ts_test_now_ms() > end)
            fail_msg("%s: %s/%s never showed \"%s\"", s->code, table, id, needle);
        ts_test_sleep_ms(150);
    }
}

static long long district_count(const ts_test_daemon *d, const char *sql)
{
    char *path = ts_xasprintf("%s/district.db", d->dir);
    sqlite3 *db = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
            if (sqlite3_step(q) == SQLITE_ROW)
                v = sqlite3_column_int64(q, 0);
            sqlite3_finalize(q);
        }
    }
    sqlite3_close(db);
    free(path);
    return v;
}

static void test_agents_of_both_versions_share_a_district(void **state)
{
    (void)state;
    char *base = ts_xasprintf("%s/agents-both", g->dir);
    mkdir(base, 0700);
    const char *v1_sets[] = {"sync.proto_max=1", NULL};
    ts_test_station bn, xl;
    ts_test_station_make(&bn, base, BN, &g->pki, g->both.port, v1_sets);
    ts_test_station_make(&xl, base, XL, &g->pki, g->both.port, NULL);
    ts_test_station_start(&bn);
    ts_test_station_start(&xl);
    wait_get(&bn, "outbreaks", "OB-2025-001", "Dengue");
    wait_get(&xl, "outbreaks", "OB-2025-001", "Dengue");
    /* version 3 -> district -> version 1, and back */
    cli_ok(&xl, "put", "outbreaks", "OB-2025-001", "notes=Xuân Lãng: 2 ca nghi ngờ", NULL, NULL);
    wait_get(&bn, "outbreaks", "OB-2025-001", "2 ca nghi ngờ");
    cli_ok(&bn, "put", "outbreaks", "OB-2025-001", "notes=Bình Nguyên: 1 ca xác định", NULL, NULL);
    wait_get(&xl, "outbreaks", "OB-2025-001", "1 ca xác định");
    cli_ok(&bn, "put", "residents", "BN-V1-0001", "full_name=Hà Văn Thắng", "birth_date=1958-07-21", "sex=male");
    cli_ok(&xl, "put", "residents", "XL-V2-0001", "full_name=Lường Thị Xuân", "birth_date=1987-02-11", "sex=female");
    uint64_t end = ts_test_now_ms() + 30000;
    while (district_count(&g->both, "SELECT count(*) FROM records WHERE id IN ('BN-V1-0001', 'XL-V2-0001')") != 2 &&
           ts_test_now_ms() < end)
        ts_test_sleep_ms(150);
    assert_int_equal(district_count(&g->both, "SELECT count(*) FROM records WHERE id IN ('BN-V1-0001', 'XL-V2-0001')"),
                     2);
    assert_true(session_proto(&g->both, BN, 1));
    assert_true(session_proto(&g->both, XL, TS_PROTO_VERSION_MAX));
    ts_test_station_stop(&xl, 20000);
    ts_test_station_free(&xl);

    /* a version-2 agent (sync.proto_max=2) beside them: compact changes of
     * version 2 both ways, while the others speak 1 and 3 */
    char *base2 = ts_xasprintf("%s/agents-both-v2", g->dir);
    mkdir(base2, 0700);
    const char *v2_sets[] = {"sync.proto_max=2", NULL};
    ts_test_station x2;
    ts_test_station_make(&x2, base2, XL, &g->pki, g->both.port, v2_sets);
    ts_test_station_start(&x2);
    wait_get(&x2, "outbreaks", "OB-2025-001", "1 ca xác định");
    cli_ok(&bn, "put", "outbreaks", "OB-2025-001", "notes=Bình Nguyên: 3 ca xác định", NULL, NULL);
    wait_get(&x2, "outbreaks", "OB-2025-001", "3 ca xác định");
    cli_ok(&x2, "put", "residents", "XL-V2-0002", "full_name=Lò Văn Pấng", "birth_date=1990-05-01", "sex=male");
    end = ts_test_now_ms() + 30000;
    while (district_count(&g->both, "SELECT count(*) FROM records WHERE id = 'XL-V2-0002'") != 1 &&
           ts_test_now_ms() < end)
        ts_test_sleep_ms(150);
    assert_int_equal(district_count(&g->both, "SELECT count(*) FROM records WHERE id = 'XL-V2-0002'"), 1);
    assert_true(session_proto(&g->both, XL, 2));
    ts_test_station_stop(&x2, 20000);
    ts_test_station_free(&x2);
    ts_test_station_stop(&bn, 20000);
    ts_test_station_free(&bn);
    free(base2);
    free(base);
}

static void test_v2_agent_with_a_v1_district(void **state)
{
    (void)state;
    char *base = ts_xasprintf("%s/agent-v1-district", g->dir);
    mkdir(base, 0700);
    ts_test_station bn;
    ts_test_station_make(&bn, base, BN, &g->pki, g->v1.port, NULL);
    ts_test_station_start(&bn);
    wait_get(&bn, "outbreaks", "OB-2025-001", "Dengue");
    cli_ok(&bn, "put", "residents", "BN-V2-0001", "full_name=Hà Văn Thắng", "birth_date=1958-07-21", "sex=male");
    uint64_t end = ts_test_now_ms() + 30000;
    while (district_count(&g->v1, "SELECT count(*) FROM records WHERE id = 'BN-V2-0001'") != 1 && ts_test_now_ms() < end)
        ts_test_sleep_ms(150);
    assert_int_equal(district_count(&g->v1, "SELECT count(*) FROM records WHERE id = 'BN-V2-0001'"), 1);
    assert_true(session_proto(&g->v1, BN, 1));
    ts_test_station_stop(&bn, 20000);
    ts_test_station_free(&bn);
    free(base);
}

static int setup(void **state)
{
    (void)state;
    g = ts_xcalloc(1, sizeof *g);
    g->dir = ts_tmpdir_make("conformance-v2");
    ts_test_watchdog_arm("test_conformance_v2", 300);
    const char *codes[] = {XL};
    ts_test_pki_make(&g->pki, g->dir, codes, 1);
    ts_test_pki_station(&g->pki, BN, "Bình Nguyên");
    ts_tv_load(&g->doc);
    char *a = ts_xasprintf("%s/both", g->dir), *b = ts_xasprintf("%s/v1", g->dir);
    mkdir(a, 0700);
    mkdir(b, 0700);
    seed_district(a);
    seed_district(b);
    ts_test_daemon_start(&g->both, a, &g->pki, NULL);
    const char *capped[] = {"server.proto_max=1", NULL};
    ts_test_daemon_start(&g->v1, b, &g->pki, capped);
    ts_test_watchdog_watch(&g->both.pid);
    free(a);
    free(b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_test_watchdog_disarm();
    ts_test_daemon_free(&g->both);
    ts_test_daemon_free(&g->v1);
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
        cmocka_unit_test(test_versions_table),
        cmocka_unit_test(test_agents_of_both_versions_share_a_district),
        cmocka_unit_test(test_v2_agent_with_a_v1_district),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
