/* Streamed pulls and resumable transfers against a real tramsyncd
 * (docs/PROTOCOL.md, "Pulling" and "Streamed pulls").
 *
 * 1. The "Streamed pulls" table is read out of the document and every row
 *    played by a test client: page sizes, cursors chaining from page to
 *    page, every change exactly once, a PUSH answered in the middle of a
 *    stream, a PULL that ends one, version 1, a window that stops the
 *    stream until the station credits a page; and the "Frame compression"
 *    table: negotiation, compressed frames both ways, and the refusals (a
 *    declared size above the limit, decompression bombs).
 * 2. A real agent behind the link emulator (tests/support/ts_test_link.c,
 *    no rate limit: nothing here is timed) has its first sync cut at half
 *    and at random points, and its push cut halfway: each time it resumes
 *    from the last page or batch it committed - its next session's cursor
 *    is not 0, and what crossed the link again is at most a page (a batch)
 *    and a new handshake. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>
#include <zstd.h>

#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_frame.h"
#include "proto/ts_zframe.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_link.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_records.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_vectors.h"
#include "tests/support/ts_test_watchdog.h"

#define BN "binhnguyen"
#define LK "lienkhe"
#define WAIT_MS 10000
#define TABLE_RECORDS 35 /* the table's district: these for BN, and what every district holds; pages of 10 */
#define MAX_IDS 512
#define SYNC_RECORDS 3000
#define SYNC_PAGE 200
#define PUSH_RECORDS 2000
#define PUSH_BATCH 200

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon table; /* server.pull_page=10, TABLE_RECORDS for BN */
    ts_test_daemon sync;  /* SYNC_RECORDS for LK */
    ts_tv_doc doc;
} env;

static env *g;

static void seed(const char *dir, const char *owner, uint32_t n)
{
    char *path = ts_xasprintf("%s/district.db", dir);
    ts_store *st = ts_test_store_open(path, TS_ROLE_SERVER, NULL, ts_test_registry(), true, false);
    ts_test_fill(st, owner, owner, owner, n, 1000);
    ts_store_close(st);
    free(path);
}

static long long db_int(const char *path, const char *sql)
{
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
    return v;
}

/* ---------------------------------------------------------------- the table */

static void open_session(ts_tc *c, int n, int proto)
{
    char *cert = ts_test_pki_cert(&g->pki, BN);
    char *key = ts_test_pki_key(&g->pki, BN);
    ts_tc_opts o = {cert, key, g->pki.ca, 0, 0};
    memset(c, 0, sizeof *c);
    int rc = ts_tc_connect(c, g->table.port, &o);
    free(cert);
    free(key);
    if (rc < 0)
        fail_msg("P%d: TLS connect: %s", n, c->error);
    char rid[64];
    snprintf(rid, sizeof rid, BN ".%016x", 0x5e0000 + n);
    ts_msg m;
    ts_msg_init(&m, TS_MSG_HELLO);
    m.u.hello.proto_min = 1;
    m.u.hello.proto_max = (uint64_t)proto;
    m.u.hello.agent = "tramsync-test-link/1";
    m.u.hello.replica = rid;
    m.u.hello.station = BN;
    m.u.hello.server_db = "";
    m.u.hello.live = false;
    assert_int_equal(ts_tc_send(c, &m), 0);
    ts_msg_free(&m);
    if (ts_tc_recv(c, &m, WAIT_MS) != 1 || m.type != TS_MSG_WELCOME)
        fail_msg("P%d: no WELCOME: %s", n, c->error);
    assert_int_equal((int)m.u.welcome.proto, proto);
    ts_msg_free(&m);
}

static void send_pull_w(ts_tc *c, uint64_t since, bool stream, uint64_t window, uint64_t credit)
{
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PULL);
    m.u.pull.since = since;
    m.u.pull.stream = stream;
    m.u.pull.window = window;
    m.u.pull.credit = credit;
    assert_int_equal(ts_tc_send(c, &m), 0);
    ts_msg_free(&m);
}

static void send_pull(ts_tc *c, uint64_t since, bool stream)
{
    send_pull_w(c, since, stream, 0, 0);
}

typedef struct pages {
    int n;
    uint32_t size[16];
    bool stream[16], more[16];
    uint64_t window[16];
    int form; /* 1 or 2 */
    uint64_t cursor;
    int acks;
    char ids[MAX_IDS][40];
    int nids;
} pages;

/* One CHANGES page, checked against what came before: it starts past the
 * previous cursor, and holds no change seen already. */
static void page_seen(int row, pages *p, const ts_msg *m)
{
    const ts_msg_changes *ch = &m->u.changes;
    assert_false(ch->live);
    if (p->n >= 16)
        fail_msg("P%d: more than 16 pages", row);
    p->size[p->n] = ch->changes.n;
    p->stream[p->n] = ch->stream;
    p->more[p->n] = ch->more;
    p->window[p->n] = ch->window;
    p->form = m->proto >= 2 ? 2 : 1;
    p->n++;
    for (uint32_t i = 0; i < ch->changes.n; i++) {
        const ts_change *c = &ch->changes.items[i];
        if (c->seq <= p->cursor)
            fail_msg("P%d: page %d holds seq %" PRIu64 ", not past the previous cursor %" PRIu64, row, p->n, c->seq,
                     p->cursor);
        for (int k = 0; k < p->nids; k++)
            if (strcmp(p->ids[k], c->id) == 0)
                fail_msg("P%d: %s sent twice", row, c->id);
        if (p->nids < MAX_IDS)
            snprintf(p->ids[p->nids++], sizeof p->ids[0], "%s", c->id);
    }
    if (ch->cursor < p->cursor)
        fail_msg("P%d: the cursor went back", row);
    p->cursor = ch->cursor;
}

/* Receives until a page with more: false, or the first page without
 * stream when stop_at_unstreamed; PUSH_ACKs are counted. */
static void read_pages(int row, ts_tc *c, pages *p, bool stop_at_unstreamed)
{
    for (;;) {
        ts_msg m;
        if (ts_tc_recv(c, &m, WAIT_MS) != 1)
            fail_msg("P%d: the stream stopped after %d page(s): %s", row, p->n, c->error);
        if (m.type == TS_MSG_PUSH_ACK) {
            p->acks++;
            ts_msg_free(&m);
            continue;
        }
        if (m.type != TS_MSG_CHANGES)
            fail_msg("P%d: %s in the middle of the pages", row, ts_msg_type_name(m.type));
        page_seen(row, p, &m);
        bool end = !m.u.changes.more || (stop_at_unstreamed && !m.u.changes.stream);
        ts_msg_free(&m);
        if (end)
            return;
    }
}

/* Nothing more arrives (the answer is over). */
static void quiet(int row, ts_tc *c)
{
    ts_msg m;
    int rc = ts_tc_recv(c, &m, 1000);
    if (rc == 1) {
        fail_msg("P%d: %s after the answer's end", row, ts_msg_type_name(m.type));
        ts_msg_free(&m);
    }
}

static void open_session(ts_tc *c, int n, int proto);
static void send_pull(ts_tc *c, uint64_t since, bool stream);
static void read_pages(int row, ts_tc *c, pages *p, bool stop_at_unstreamed);

/* The changes a session pulls page by page now: what a stream must hold. */
static int lockstep_total(int row)
{
    ts_tc c;
    open_session(&c, 100 + row, 2);
    pages *p = ts_xcalloc(1, sizeof *p);
    do {
        send_pull(&c, p->cursor, false);
        read_pages(row, &c, p, true);
    } while (p->more[p->n - 1]);
    int total = 0;
    for (int i = 0; i < p->n; i++)
        total += (int)p->size[i];
    free(p);
    ts_tc_close(&c);
    return total;
}

static void check_stream_pages(int row, const pages *p, int g_total)
{
    int total = 0;
    for (int i = 0; i < p->n; i++)
        print_message("P%d: page %d: %u changes, more %d, stream %d\n", row, i + 1, p->size[i], p->more[i],
                      p->stream[i]);
    for (int i = 0; i < p->n; i++) {
        total += (int)p->size[i];
        bool last = i == p->n - 1;
        if (p->more[i] == last || p->stream[i] == last)
            fail_msg("P%d: page %d of %d: more %d stream %d", row, i + 1, p->n, p->more[i], p->stream[i]);
        if (p->size[i] != (last ? (uint32_t)(g_total - 1) % 10 + 1 : 10))
            fail_msg("P%d: page %d holds %u changes", row, i + 1, p->size[i]);
    }
    assert_int_equal(total, g_total);
    assert_true(total > 30);
}

static void play(int row, const char *sends, const char *answer)
{
    int proto = strstr(sends, "version-1") ? 1 : 2;
    /* one session per station: counted before the row's own session (P3's
     * push is not sent back to the replica that pushed it) */
    int expect = lockstep_total(row);
    ts_tc c;
    open_session(&c, row, proto);
    pages p;
    memset(&p, 0, sizeof p);
    bool stream = strstr(sends, "`stream: true`") != NULL;
    uint64_t window = strstr(sends, "`window: 2`") ? 2 : 0;
    send_pull_w(&c, 0, stream, window, 0);
    if (window && strstr(sends, "no credit")) { /* P6 */
        /* two pages, then nothing: the window is full */
        for (int i = 0; i < 2; i++) {
            ts_msg m;
            if (ts_tc_expect(&c, TS_MSG_CHANGES, &m, WAIT_MS) != 1)
                fail_msg("P%d: page %d did not come: %s", row, i + 1, c.error);
            page_seen(row, &p, &m);
            ts_msg_free(&m);
            if (!p.stream[i] || !p.more[i] || p.window[i] != 2)
                fail_msg("P%d: page %d: stream %d more %d window %" PRIu64, row, i + 1, p.stream[i], p.more[i],
                         p.window[i]);
        }
        quiet(row, &c);
        /* one credit: one more page, then nothing */
        send_pull_w(&c, p.cursor, false, 0, 1);
        ts_msg m;
        if (ts_tc_expect(&c, TS_MSG_CHANGES, &m, WAIT_MS) != 1)
            fail_msg("P%d: no page after the credit: %s", row, c.error);
        page_seen(row, &p, &m);
        ts_msg_free(&m);
        if (!p.stream[2] || p.window[2] != 2)
            fail_msg("P%d: page 3: stream %d window %" PRIu64, row, p.stream[2], p.window[2]);
        quiet(row, &c);
        assert_int_equal(p.n, 3);
    } else if (window) { /* P7 */
        /* each page credited once the next one is read: two uncredited at most */
        for (;;) {
            ts_msg m;
            if (ts_tc_expect(&c, TS_MSG_CHANGES, &m, WAIT_MS) != 1)
                fail_msg("P%d: the stream stopped after %d page(s): %s", row, p.n, c.error);
            page_seen(row, &p, &m);
            ts_msg_free(&m);
            int i = p.n - 1;
            if (p.window[i] != (p.stream[i] ? 2u : 0u))
                fail_msg("P%d: page %d: stream %d window %" PRIu64, row, i + 1, p.stream[i], p.window[i]);
            if (!p.more[i])
                break;
            if (i >= 1)
                send_pull_w(&c, p.cursor, false, 0, 1);
        }
        check_stream_pages(row, &p, expect);
        quiet(row, &c);
    } else if (!stream) { /* P1 */
        read_pages(row, &c, &p, true);
        assert_int_equal(p.n, 1);
        assert_true(p.more[0]);
        assert_false(p.stream[0]);
        quiet(row, &c);
    } else if (strstr(sends, "then after the first page `PUSH`")) { /* P3 */
        ts_msg m;
        if (ts_tc_expect(&c, TS_MSG_CHANGES, &m, WAIT_MS) != 1)
            fail_msg("P%d: no first page", row);
        page_seen(row, &p, &m);
        ts_msg_free(&m);
        ts_msg_init(&m, TS_MSG_PUSH);
        m.proto = (uint8_t)proto;
        m.u.push.batch = 9;
        ts_change *ch = ts_msg_alloc_changes(&m, &m.u.push.changes, 1);
        char rid[64];
        snprintf(rid, sizeof rid, BN ".%016x", 0x5e0000 + row);
        ts_tc_make_resident(&m, ch, "bn-stream-push", BN, rid, 1, 1, "Hà Thị Mai");
        assert_int_equal(ts_tc_send(&c, &m), 0);
        ts_msg_free(&m);
        read_pages(row, &c, &p, false);
        if (p.acks == 0) { /* the last page may have gone before the PUSH was read */
            if (ts_tc_expect(&c, TS_MSG_PUSH_ACK, &m, WAIT_MS) != 1)
                fail_msg("P%d: no PUSH_ACK", row);
            ts_msg_free(&m);
        }
        check_stream_pages(row, &p, expect);
    } else if (strstr(sends, "then after the first page `PULL`")) { /* P4 */
        ts_msg m;
        if (ts_tc_expect(&c, TS_MSG_CHANGES, &m, WAIT_MS) != 1)
            fail_msg("P%d: no first page", row);
        page_seen(row, &p, &m);
        assert_true(m.u.changes.stream);
        ts_msg_free(&m);
        send_pull(&c, p.cursor, false);
        /* pages of the stream already sent (its last one, more: false, too
         * when it was quicker than the PULL), then the answer: more, no stream */
        for (;;) {
            if (ts_tc_expect(&c, TS_MSG_CHANGES, &m, WAIT_MS) != 1)
                fail_msg("P%d: no answer to the second PULL", row);
            bool streamed = m.u.changes.stream, more = m.u.changes.more;
            ts_msg_free(&m);
            if (!streamed && more)
                break;
        }
        quiet(row, &c);
    } else { /* P2, P5 */
        read_pages(row, &c, &p, false);
        check_stream_pages(row, &p, expect);
        if (p.form != proto)
            fail_msg("P%d: pages in the version-%d form", row, p.form);
        quiet(row, &c);
    }
    (void)answer;
    ts_tc_close(&c);
}

static void test_streamed_pulls_table(void **state)
{
    (void)state;
    const char *t = strstr(g->doc.text, "\n**Streamed pulls.**");
    if (t == NULL) {
        fail_msg("docs/PROTOCOL.md has no \"Streamed pulls\" paragraph");
        return;
    }
    int played = 0;
    const char *end = strstr(t + 1, "\n**Live mode.**");
    for (const char *line = strstr(t, "\n| P"); line != NULL && (end == NULL || line < end);
         line = strstr(line + 1, "\n| P")) {
        char id[8], sends[300], answer[400];
        int n = 0;
        if (!ts_tv_cell(line + 1, 0, id, sizeof id) || sscanf(id, "P%d", &n) != 1 || !ts_tv_cell(line + 1, 1, sends, sizeof sends) ||
            !ts_tv_cell(line + 1, 2, answer, sizeof answer))
            fail_msg("docs/PROTOCOL.md: a Streamed pulls row that does not read: %.60s", line + 1);
        print_message("P%d\n", n);
        play(n, sends, answer);
        played++;
    }
    assert_int_equal(played, 7);
}

/* ---------------------------------------------------------------- compression */

/* A compressed frame's body by hand: the wrapper around `data`, declaring `size`. */
static void zwrapper(ts_buf *out, uint64_t size, const void *data, size_t dlen)
{
    static const uint8_t head[] = {0x83, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'Z', 'S', 'T', 'D', 0xa4, 's', 'i', 'z', 'e',
                                   0xcf};
    ts_buf b = TS_BUF_INIT;
    ts_buf_append(&b, head, sizeof head);
    for (int i = 0; i < 8; i++) {
        uint8_t x = (uint8_t)(size >> (56 - 8 * i));
        ts_buf_append(&b, &x, 1);
    }
    static const uint8_t dk[] = {0xa4, 'd', 'a', 't', 'a', 0xc6};
    ts_buf_append(&b, dk, sizeof dk);
    uint8_t l[4] = {(uint8_t)(dlen >> 24), (uint8_t)(dlen >> 16), (uint8_t)(dlen >> 8), (uint8_t)dlen};
    ts_buf_append(&b, l, 4);
    ts_buf_append(&b, data, dlen);
    ts_buf_reset(out);
    ts_frame_put_header(out, (uint32_t)b.len);
    ts_buf_append(out, b.data, b.len);
    ts_buf_free(&b);
}

/* 1 MiB of zeros as one zstd frame; with its size in its header or not. */
static size_t zbomb(uint8_t **out, bool sized)
{
    size_t big = 1024 * 1024, cap = ZSTD_compressBound(big);
    uint8_t *zeros = ts_xcalloc(1, big);
    *out = ts_xmalloc(cap);
    ZSTD_CCtx *c = ZSTD_createCCtx();
    size_t n;
    if (sized) {
        n = ZSTD_compressCCtx(c, *out, cap, zeros, big, 3);
    } else {
        ZSTD_outBuffer ob = {*out, cap, 0};
        ZSTD_inBuffer ib = {zeros, big, 0};
        ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_continue);
        while (ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end) != 0)
            ;
        n = ob.pos;
    }
    ZSTD_freeCCtx(c);
    free(zeros);
    return n;
}

static void zplay(int row, const char *sends, const char *answer, const char *error)
{
    char *cert = ts_test_pki_cert(&g->pki, BN);
    char *key = ts_test_pki_key(&g->pki, BN);
    ts_tc_opts o = {cert, key, g->pki.ca, 0, 0};
    ts_tc c;
    memset(&c, 0, sizeof c);
    if (ts_tc_connect(&c, g->table.port, &o) < 0)
        fail_msg("Z%d: TLS connect: %s", row, c.error);
    free(cert);
    free(key);
    char rid[64];
    snprintf(rid, sizeof rid, BN ".%016x", 0x2e0000 + row);
    char offer[16] = "";
    const char *q = strstr(sends, "`compress: \"");
    if (q != NULL)
        sscanf(q + strlen("`compress: \""), "%15[^\"]", offer);
    ts_msg m;
    ts_msg_init(&m, TS_MSG_HELLO);
    m.u.hello.proto_min = 1;
    m.u.hello.proto_max = 2;
    m.u.hello.agent = "tramsync-test-link/1";
    m.u.hello.replica = rid;
    m.u.hello.station = BN;
    m.u.hello.server_db = "";
    m.u.hello.live = false;
    m.u.hello.compress = offer[0] ? offer : NULL;
    assert_int_equal(ts_tc_send(&c, &m), 0);
    ts_msg_free(&m);
    if (ts_tc_recv(&c, &m, WAIT_MS) != 1 || m.type != TS_MSG_WELCOME)
        fail_msg("Z%d: no WELCOME: %s", row, c.error);
    const char *took = m.u.welcome.compress && m.u.welcome.compress[0] ? m.u.welcome.compress : "";
    bool want_took = strstr(answer, "`WELCOME` with `compress: \"zstd-1\"`") != NULL;
    bool want_none = strstr(answer, "`WELCOME` without `compress`") != NULL;
    if ((want_took && strcmp(took, TS_ZFRAME_NAME) != 0) || (want_none && took[0]))
        fail_msg("Z%d: WELCOME.compress \"%s\"", row, took);
    ts_msg_free(&m);
    ts_buf f = TS_BUF_INIT;
    if (strstr(sends, "compressed `PUSH`")) {
        ts_msg_init(&m, TS_MSG_PUSH);
        m.proto = 2;
        m.u.push.batch = 5;
        ts_change *ch = ts_msg_alloc_changes(&m, &m.u.push.changes, 3);
        const char *names[] = {"Hà Thị Mai", "Lường Văn Tuấn", "Nông Thị Hằng"};
        for (int i = 0; i < 3; i++) {
            char id[32];
            snprintf(id, sizeof id, "bn-z%d-%d", row, i);
            ts_tc_make_resident(&m, &ch[i], id, BN, rid, (uint64_t)i + 1, (uint64_t)i + 1, names[i]);
        }
        ts_msg_encode(&m, &f);
        ts_msg_free(&m);
        assert_true(ts_zframe_wrap(&f));
    } else if (strstr(sends, "`max_frame` + 1")) {
        uint8_t *z;
        size_t n = zbomb(&z, true);
        zwrapper(&f, TS_PROTO_DEFAULT_MAX_FRAME + 1ull, z, n);
        free(z);
    } else if (strstr(sends, "a bomb")) {
        uint8_t *z;
        size_t n = zbomb(&z, true);
        zwrapper(&f, 1000, z, n);
        free(z);
    } else if (strstr(sends, "does not say its size")) {
        uint8_t *z;
        size_t n = zbomb(&z, false);
        zwrapper(&f, 1000, z, n);
        free(z);
    }
    if (f.len)
        assert_int_equal(ts_tc_send_raw(&c, f.data, f.len), 0);
    ts_buf_free(&f);
    if (strstr(answer, "`PUSH_ACK`")) {
        if (ts_tc_expect(&c, TS_MSG_PUSH_ACK, &m, WAIT_MS) != 1)
            fail_msg("Z%d: no PUSH_ACK: %s", row, c.error);
        assert_int_equal(m.u.push_ack.code, 0);
        assert_int_equal(m.u.push_ack.nresults, 3);
        ts_msg_free(&m);
    }
    if (strstr(sends, "`PULL`")) {
        int before = c.compressed_in;
        send_pull(&c, 0, false);
        if (ts_tc_expect(&c, TS_MSG_CHANGES, &m, WAIT_MS) != 1)
            fail_msg("Z%d: no CHANGES: %s", row, c.error);
        assert_true(m.u.changes.changes.n > 3);
        ts_msg_free(&m);
        bool compressed = c.compressed_in > before;
        if (compressed != (strstr(answer, "`CHANGES` compressed") != NULL))
            fail_msg("Z%d: CHANGES %scompressed", row, compressed ? "" : "not ");
    }
    const char *ec = strchr(error, '`');
    if (ec != NULL) {
        if (ts_tc_expect(&c, TS_MSG_ERROR, &m, WAIT_MS) != 1)
            fail_msg("Z%d: no ERROR: %s", row, c.error);
        const char *e = strchr(ec + 1, '`');
        if (strlen(m.u.error.name) != (size_t)(e - ec - 1) || strncmp(ec + 1, m.u.error.name, (size_t)(e - ec - 1)) != 0)
            fail_msg("Z%d: ERROR %s (%s), the document says %s", row, m.u.error.name, m.u.error.message, error);
        assert_true(m.u.error.fatal);
        ts_msg_free(&m);
    }
    ts_tc_close(&c);
}

static void test_compression_table(void **state)
{
    (void)state;
    const char *t = strstr(g->doc.text, "\n### Frame compression\n");
    if (t == NULL) {
        fail_msg("docs/PROTOCOL.md has no \"### Frame compression\" section");
        return;
    }
    int played = 0;
    const char *end = strstr(t + 1, "\n## ");
    for (const char *line = strstr(t, "\n| Z"); line != NULL && (end == NULL || line < end);
         line = strstr(line + 1, "\n| Z")) {
        char id[8], sends[400], answer[400], error[200];
        int n = 0;
        if (!ts_tv_cell(line + 1, 0, id, sizeof id) || sscanf(id, "Z%d", &n) != 1 || !ts_tv_cell(line + 1, 1, sends, sizeof sends) ||
            !ts_tv_cell(line + 1, 2, answer, sizeof answer) || !ts_tv_cell(line + 1, 3, error, sizeof error))
            fail_msg("docs/PROTOCOL.md: a Frame compression row that does not read: %.60s", line + 1);
        print_message("Z%d\n", n);
        zplay(n, sends, answer, error);
        played++;
    }
    assert_int_equal(played, 6);
}

/* ---------------------------------------------------------------- cuts */

/* The cursor of each "connected" line of the agent's log, in order. */
static int connected_cursors(const char *log, long long *out, int max)
{
    char *text = ts_read_file(log, NULL);
    int n = 0;
    for (char *p = text; p && (p = strstr(p, "event=connected ")) != NULL && n < max; p++) {
        char *cur = strstr(p, " cursor=");
        char *nl = strchr(p, '\n');
        if (cur && (nl == NULL || cur < nl))
            out[n++] = strtoll(cur + 8, NULL, 10);
    }
    free(text);
    return n;
}

typedef struct sync_run {
    unsigned long long down, up;
    int cuts, sessions;
    long long cursors[16];
} sync_run;

/* A fresh replica of LK pulls everything through the link; cut_at[i] > 0:
 * the i-th cut comes that many bytes (down) after the previous session began. */
static sync_run first_sync(ts_test_link *l, const char *tag, const long long *cut_at, int ncut)
{
    char *base = ts_xasprintf("%s/%s", g->dir, tag);
    mkdir(base, 0700);
    char page[32];
    snprintf(page, sizeof page, "sync.pull_page=%d", SYNC_PAGE);
    const char *sets[] = {page, "sync.backoff_min=100ms", "sync.backoff_max=500ms", "sync.pull_stream=true", NULL};
    ts_test_station st;
    ts_test_station_make(&st, base, LK, &g->pki, l->port, sets);
    char *db = ts_xasprintf("%s/station.db", st.dir);
    char *ddb = ts_xasprintf("%s/district.db", g->sync.dir);
    long long end_seq = db_int(ddb, "SELECT max(seq) FROM records");
    sync_run r;
    memset(&r, 0, sizeof r);
    unsigned long long d0 = atomic_load(&l->bytes_down), u0 = atomic_load(&l->bytes_up);
    int c0 = atomic_load(&l->cuts), armed = 0;
    if (ncut > 0) {
        ts_test_link_cut_after(l, cut_at[0]);
        armed = 1;
    }
    ts_test_station_start(&st);
    uint64_t deadline = ts_test_now_ms() + 120000;
    while (db_int(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'pull_cursor'") < end_seq &&
           ts_test_now_ms() < deadline) {
        if (atomic_load(&l->cuts) - c0 == armed && armed < ncut) {
            ts_test_link_cut_after(l, cut_at[armed]);
            armed++;
        }
        ts_test_sleep_ms(20);
    }
    ts_test_link_cut_after(l, -1);
    r.down = atomic_load(&l->bytes_down) - d0;
    r.up = atomic_load(&l->bytes_up) - u0;
    r.cuts = atomic_load(&l->cuts) - c0;
    ts_test_station_stop(&st, 20000);
    if (db_int(db, "SELECT count(*) FROM records WHERE tbl = 'residents'") != SYNC_RECORDS) {
        ts_test_log_tail(st.log, 40);
        fail_msg("%s: the first sync did not complete", tag);
    }
    r.sessions = connected_cursors(st.log, r.cursors, 16);
    ts_test_station_free(&st);
    free(db);
    free(ddb);
    free(base);
    return r;
}

/* A session's overhead: TLS with two certificate chains, HELLO, WELCOME. */
#define RECONNECT_BYTES 16384

static void test_first_sync_resumes_after_cuts(void **state)
{
    (void)state;
    ts_test_link_profile prof;
    memset(&prof, 0, sizeof prof); /* no rate, no delay: nothing here is timed */
    prof.down.buffer = prof.up.buffer = 64 * 1024;
    ts_test_link l;
    ts_test_link_start(&l, g->sync.port, &prof);
    sync_run full = first_sync(&l, "uncut", NULL, 0);
    assert_int_equal(full.sessions, 1);
    unsigned long long page = full.down / (SYNC_RECORDS / SYNC_PAGE);
    print_message("uncut: %llu bytes down, %llu a page\n", full.down, page);

    long long half[] = {(long long)(full.down / 2)};
    sync_run h = first_sync(&l, "half", half, 1);
    assert_int_equal(h.cuts, 1);
    assert_true(h.sessions >= 2);
    print_message("cut at half: %llu bytes down, cursors %lld then %lld\n", h.down, h.cursors[0], h.cursors[1]);
    assert_int_equal(h.cursors[0], 0);
    if (h.cursors[1] == 0)
        fail_msg("the session after the cut pulled from 0 again");
    assert_true(h.down <= full.down + page + RECONNECT_BYTES);

    /* random points, seeded: each after at least two pages of a session */
    unsigned int rnd = (unsigned int)ts_test_seed(20);
    long long at[3];
    for (int i = 0; i < 3; i++)
        at[i] = (long long)(2 * page + (unsigned long long)rand_r(&rnd) % (full.down / 4));
    sync_run r = first_sync(&l, "random", at, 3);
    assert_int_equal(r.cuts, 3);
    print_message("3 random cuts: %llu bytes down over %d sessions\n", r.down, r.sessions);
    assert_true(r.sessions >= 4);
    for (int i = 1; i < r.sessions; i++) {
        if (r.cursors[i] == 0)
            fail_msg("session %d after a cut pulled from 0 again", i + 1);
        assert_true(r.cursors[i] >= r.cursors[i - 1]);
    }
    assert_true(r.down <= full.down + 3 * (page + RECONNECT_BYTES));
    ts_test_link_stop(&l);
}

/* The changes the district received in PUSH frames (its push_applied lines). */
static long long pushed_changes(const char *log)
{
    char *text = ts_read_file(log, NULL);
    long long n = 0;
    for (char *p = text; p && (p = strstr(p, "event=push_applied ")) != NULL; p++) {
        char *c = strstr(p, " changes=");
        char *nl = strchr(p, '\n');
        if (c && (nl == NULL || c < nl))
            n += strtoll(c + 9, NULL, 10);
    }
    free(text);
    return n;
}

static void test_push_resumes_after_a_cut(void **state)
{
    (void)state;
    ts_test_link_profile prof;
    memset(&prof, 0, sizeof prof);
    prof.down.buffer = prof.up.buffer = 64 * 1024;
    ts_test_link l;
    ts_test_link_start(&l, g->sync.port, &prof);
    char *base = ts_xasprintf("%s/push", g->dir);
    mkdir(base, 0700);
    char batch[32];
    snprintf(batch, sizeof batch, "sync.push_batch=%d", PUSH_BATCH);
    const char *sets[] = {batch, "sync.backoff_min=100ms", "sync.backoff_max=500ms", NULL};
    ts_test_station st;
    ts_test_station_make(&st, base, BN, &g->pki, l.port, sets);
    char *db = ts_xasprintf("%s/station.db", st.dir);
    ts_store *s = ts_test_store_open(db, TS_ROLE_STATION, BN, ts_test_registry(), false, false);
    ts_test_fill(s, NULL, "bnpush", BN, PUSH_RECORDS, PUSH_RECORDS);
    ts_store_close(s);
    long long before = pushed_changes(g->sync.log);
    /* compressed, a batch of 200 is ~12 KB, the whole push ~120 KB: the cut
     * comes a few batches in */
    ts_test_link_cut_after_up(&l, 40 * 1024);
    ts_test_station_start(&st);
    char *ddb = ts_xasprintf("%s/district.db", g->sync.dir);
    uint64_t deadline = ts_test_now_ms() + 120000;
    while (db_int(ddb, "SELECT count(*) FROM records WHERE owner = '" BN "' AND id LIKE 'bnpush-%'") < PUSH_RECORDS &&
           ts_test_now_ms() < deadline)
        ts_test_sleep_ms(50);
    assert_int_equal(db_int(ddb, "SELECT count(*) FROM records WHERE owner = '" BN "' AND id LIKE 'bnpush-%'"),
                     PUSH_RECORDS);
    assert_int_equal(atomic_load(&l.cuts), 1);
    ts_test_station_stop(&st, 20000);
    /* what the district took again: at most the batch in flight */
    long long got = pushed_changes(g->sync.log) - before;
    print_message("push cut once: the district received %lld changes for %d records\n", got, PUSH_RECORDS);
    assert_true(got >= PUSH_RECORDS);
    assert_true(got <= PUSH_RECORDS + PUSH_BATCH);
    ts_test_link_stop(&l);
    ts_test_station_free(&st);
    free(db);
    free(ddb);
    free(base);
}

static int setup(void **state)
{
    (void)state;
    g = ts_xcalloc(1, sizeof *g);
    g->dir = ts_tmpdir_make("link");
    ts_test_watchdog_arm("test_link", 300);
    const char *codes[] = {LK};
    ts_test_pki_make(&g->pki, g->dir, codes, 1);
    ts_test_pki_station(&g->pki, BN, "Bình Nguyên");
    ts_tv_load(&g->doc);
    char *a = ts_xasprintf("%s/table", g->dir), *b = ts_xasprintf("%s/sync", g->dir);
    mkdir(a, 0700);
    mkdir(b, 0700);
    seed(a, BN, TABLE_RECORDS);
    seed(b, LK, SYNC_RECORDS);
    const char *table_sets[] = {"server.pull_page=10", NULL};
    ts_test_daemon_start(&g->table, a, &g->pki, table_sets);
    const char *sync_sets[] = {"server.log_level=debug", NULL};
    ts_test_daemon_start(&g->sync, b, &g->pki, sync_sets);
    ts_test_watchdog_watch(&g->table.pid);
    free(a);
    free(b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_test_watchdog_disarm();
    ts_test_daemon_free(&g->table);
    ts_test_daemon_free(&g->sync);
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
        cmocka_unit_test(test_streamed_pulls_table),
        cmocka_unit_test(test_compression_table),
        cmocka_unit_test(test_first_sync_resumes_after_cuts),
        cmocka_unit_test(test_push_resumes_after_a_cut),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
