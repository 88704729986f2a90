/* TLS 1.3 resumption with early data (common/ts_tls.c), a station and the
 * district driven in memory, byte for byte, then the real agent and daemon.
 *
 * 1. A full handshake leaves the station a ticket, kept 0600 in its file;
 *    the next connection resumes it and its first bytes go as early data,
 *    which the district holds until the handshake is done and hands over
 *    then, in order, with the peer known as the station.
 * 2. A ticket resumes once (and only TLS 1.3 resumes: no TLS 1.2 session is
 *    kept): the same ClientHello and early data replayed
 *    resume nothing and hand over nothing, whether the replay comes after
 *    the real connection or before it (then the real one's early data is
 *    rejected and sent again after the handshake).
 * 3. A certificate revoked, or expired, since its ticket was issued: the
 *    resumed session fails, nothing of its early data is handed over, and
 *    no new ticket is issued.
 * 4. A ticket file that does not read, or for another server, or kept
 *    across a new certificate of the station's (or another station's): a
 *    full handshake, the file gone.
 * 5. The agent and tramsyncd: the second connection resumes and pushes as
 *    early data; after a restart of the district (its tickets forgotten) the
 *    early data is rejected, sent again, and every record arrives.
 * 6. On a link too slow for 64 KiB of early data within the district's
 *    handshake timeout or the agent's connect timeout, the resumed
 *    connection is not cut off by either. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/ts_tls.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_link.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_watchdog.h"

#define BN "binhnguyen"
#define PL "phuclong"
#define WAIT_MS 10000

typedef struct env {
    char *dir;
    char *ticket; /* the station's ticket file */
    ts_test_pki pki;
} env;

static env *g;

/* A district's context; `admin`: the admin port's (ts_admin.c: no
 * resumption, TLS 1.2 allowed, no client certificate required). */
static ts_tls_ctx *district_ctx(bool with_crl, bool resumption, bool tls12, bool admin)
{
    ts_tls_config c;
    ts_tls_config_init(&c, true);
    c.ca_file = g->pki.ca;
    c.cert_file = g->pki.server_cert;
    c.key_file = g->pki.server_key;
    c.crl_file = with_crl ? g->pki.crl : NULL;
    c.resumption = resumption;
    c.allow_tls12 = tls12;
    c.require_peer_cert = !admin;
    ts_tls_ctx *ctx = NULL;
    ts_error err;
    if (ts_tls_ctx_new(&ctx, &c, &err) < 0)
        fail_msg("district context: %s", err.msg);
    return ctx;
}

static ts_tls_ctx *server_ctx(bool with_crl)
{
    return district_ctx(with_crl, true, false, false);
}

static ts_tls_ctx *station_ctx(const char *code)
{
    char *cert = ts_test_pki_cert(&g->pki, code), *key = ts_test_pki_key(&g->pki, code);
    ts_tls_config c;
    ts_tls_config_init(&c, false);
    c.ca_file = g->pki.ca;
    c.cert_file = cert;
    c.key_file = key;
    c.resumption = true;
    c.session_file = g->ticket;
    ts_tls_ctx *ctx = NULL;
    ts_error err;
    if (ts_tls_ctx_new(&ctx, &c, &err) < 0)
        fail_msg("station context: %s", err.msg);
    free(cert);
    free(key);
    return ctx;
}

/* One connection in memory: what each side has said, and what it heard. */
typedef struct pair {
    ts_tls st, di;
    ts_buf to_district, to_station; /* ciphertext not yet fed */
    ts_buf district_heard, station_heard;
    ts_buf first_flight; /* the station's bytes before it heard anything */
    bool st_done, di_done, di_failed, st_failed;
    bool heard_before_done; /* the district handed over bytes before its handshake was done */
} pair;

static void pair_open(pair *p, ts_tls_ctx *sctx, ts_tls_ctx *dctx, const char *early)
{
    memset(p, 0, sizeof *p);
    ts_error err;
    assert_int_equal(ts_tls_init(&p->st, sctx, "localhost", &err), 0);
    assert_int_equal(ts_tls_init(&p->di, dctx, NULL, &err), 0);
    if (early != NULL)
        assert_int_equal(ts_tls_start_early(&p->st, (const uint8_t *)early, strlen(early), &p->to_district, &err), 0);
    else
        assert_int_equal(ts_tls_start(&p->st, &p->to_district, &err), 0);
    ts_buf_append(&p->first_flight, p->to_district.data, p->to_district.len);
}

/* Feeds each side what the other said until neither says more. */
static void pump(pair *p)
{
    for (int round = 0; round < 20 && (p->to_district.len > 0 || p->to_station.len > 0); round++) {
        ts_error err;
        bool done = false;
        if (p->to_district.len > 0 && !p->di_failed) {
            ts_buf in = p->to_district;
            p->to_district = (ts_buf)TS_BUF_INIT;
            size_t before = p->district_heard.len;
            if (ts_tls_feed(&p->di, in.data, in.len, &p->district_heard, &p->to_station, &done, &err) < 0)
                p->di_failed = true;
            if (done)
                p->di_done = true;
            if (!p->di_done && p->district_heard.len > before)
                p->heard_before_done = true;
            ts_buf_free(&in);
        } else {
            ts_buf_reset(&p->to_district);
        }
        if (p->to_station.len > 0 && !p->st_failed) {
            ts_buf in = p->to_station;
            p->to_station = (ts_buf)TS_BUF_INIT;
            if (ts_tls_feed(&p->st, in.data, in.len, &p->station_heard, &p->to_district, &done, &err) < 0)
                p->st_failed = true;
            if (done)
                p->st_done = true;
            ts_buf_free(&in);
        } else {
            ts_buf_reset(&p->to_station);
        }
    }
}

/* The station writes what did not go early (all of it when rejected), as
 * ts_conn does once the handshake is done. */
static void station_send_rest(pair *p, const char *early)
{
    size_t from = ts_tls_early_accepted(&p->st) ? p->st.early_sent : 0;
    ts_error err;
    if (from < strlen(early))
        assert_int_equal(ts_tls_write(&p->st, (const uint8_t *)early + from, strlen(early) - from, &p->to_district, &err), 0);
    pump(p);
}

static void pair_close(pair *p)
{
    ts_tls_free(&p->st);
    ts_tls_free(&p->di);
    ts_buf_free(&p->to_district);
    ts_buf_free(&p->to_station);
    ts_buf_free(&p->district_heard);
    ts_buf_free(&p->station_heard);
    ts_buf_free(&p->first_flight);
}

static bool heard(const pair *p, const char *text)
{
    return p->district_heard.len == strlen(text) && memcmp(p->district_heard.data, text, p->district_heard.len) == 0;
}

/* The district gives the station a ticket, as after a HELLO that asks. */
static void issue_ticket(pair *p)
{
    assert_true(ts_tls_issue_ticket(&p->di, &p->to_station));
    pump(p);
}

/* A full handshake that leaves the station a ticket in its file. */
static void first_connection(ts_tls_ctx *sctx, ts_tls_ctx *dctx)
{
    unlink(g->ticket);
    pair p;
    pair_open(&p, sctx, dctx, NULL);
    assert_int_equal((int)ts_tls_early_budget(&p.st), 0);
    pump(&p);
    assert_true(p.st_done && p.di_done);
    assert_false(p.di.resumed);
    assert_false(p.st_failed || p.di_failed);
    assert_int_equal(access(g->ticket, F_OK), -1); /* none unasked */
    issue_ticket(&p);
    pair_close(&p);
    struct stat st;
    if (stat(g->ticket, &st) != 0)
        fail_msg("no ticket kept after a full handshake");
    assert_int_equal(st.st_mode & 0777, 0600);
}

static const char *const HELLO_PUSH = "HELLO, then a PUSH of the station's records: as early data";

static void test_ticket_then_early_data(void **state)
{
    (void)state;
    ts_tls_ctx *sctx = station_ctx(BN), *dctx = server_ctx(true);
    first_connection(sctx, dctx);

    pair p;
    pair_open(&p, sctx, dctx, HELLO_PUSH);
    assert_int_equal(access(g->ticket, F_OK), -1); /* used once: out of its file */
    assert_int_equal((int)p.st.early_sent, (int)strlen(HELLO_PUSH));
    pump(&p);
    assert_true(p.st_done && p.di_done);
    assert_false(p.heard_before_done);
    assert_true(p.di.resumed && p.st.resumed);
    assert_string_equal(ts_tls_early_status(&p.st), "accepted");
    assert_string_equal(ts_tls_early_status(&p.di), "accepted");
    station_send_rest(&p, HELLO_PUSH); /* nothing: all of it went early */
    assert_true(heard(&p, HELLO_PUSH));
    /* who it is, from the session it resumed */
    assert_string_equal(p.di.peer.cn, BN);
    assert_string_equal(p.di.peer.ou, "station");
    assert_true(p.di.peer.nchain >= 1);
    /* then application data as usual, after the early data */
    ts_error err;
    assert_int_equal(ts_tls_write(&p.st, (const uint8_t *)" and more", 9, &p.to_district, &err), 0);
    pump(&p);
    char want[128];
    snprintf(want, sizeof want, "%s and more", HELLO_PUSH);
    assert_true(heard(&p, want));
    /* and a new ticket for the next connection */
    issue_ticket(&p);
    pair_close(&p);
    assert_int_equal(access(g->ticket, F_OK), 0);

    /* early data beyond what a ticket allows goes after the handshake */
    size_t big = TS_TLS_EARLY_DATA_MAX + 5000;
    char *text = ts_xmalloc(big + 1);
    for (size_t i = 0; i < big; i++)
        text[i] = (char)('a' + i % 26);
    text[big] = '\0';
    first_connection(sctx, dctx);
    pair_open(&p, sctx, dctx, text);
    assert_int_equal((int)p.st.early_sent, TS_TLS_EARLY_DATA_MAX);
    pump(&p);
    assert_string_equal(ts_tls_early_status(&p.di), "accepted");
    station_send_rest(&p, text);
    assert_true(heard(&p, text));
    pair_close(&p);
    free(text);
    ts_tls_ctx_unref(sctx);
    ts_tls_ctx_unref(dctx);
}

/* A ticket is spent when its ClientHello leaves, not before: a connection
 * that never got that far (the district unreachable) leaves it for the next. */
static void test_ticket_spent_when_sent(void **state)
{
    (void)state;
    ts_tls_ctx *sctx = station_ctx(BN), *dctx = server_ctx(true);
    first_connection(sctx, dctx);
    ts_tls unsent;
    ts_error err;
    assert_int_equal(ts_tls_init(&unsent, sctx, "localhost", &err), 0);
    assert_true(ts_tls_early_budget(&unsent) > 0);
    ts_tls_free(&unsent); /* the TCP connection was refused */
    assert_int_equal(access(g->ticket, F_OK), 0);
    pair p;
    pair_open(&p, sctx, dctx, HELLO_PUSH);
    assert_int_equal(access(g->ticket, F_OK), -1);
    pump(&p);
    assert_true(p.di.resumed);
    assert_string_equal(ts_tls_early_status(&p.di), "accepted");
    pair_close(&p);
    ts_tls_ctx_unref(sctx);
    ts_tls_ctx_unref(dctx);
}

static void test_replay_resumes_nothing(void **state)
{
    (void)state;
    ts_tls_ctx *sctx = station_ctx(BN), *dctx = server_ctx(true);

    /* after the real connection */
    first_connection(sctx, dctx);
    pair p;
    pair_open(&p, sctx, dctx, HELLO_PUSH);
    pump(&p);
    assert_true(p.di.resumed);
    assert_true(heard(&p, HELLO_PUSH));
    ts_tls replay;
    ts_buf heard_replay = TS_BUF_INIT, answer = TS_BUF_INIT;
    ts_error err;
    bool done = false;
    assert_int_equal(ts_tls_init(&replay, dctx, NULL, &err), 0);
    ts_tls_feed(&replay, p.first_flight.data, p.first_flight.len, &heard_replay, &answer, &done, &err);
    assert_false(done);
    assert_int_equal((int)heard_replay.len, 0);
    assert_int_equal((int)replay.early.len, 0); /* skipped, not even held */
    ts_tls_free(&replay);
    ts_buf_free(&answer);
    issue_ticket(&p);
    pair_close(&p);

    /* before it: the replay takes the ticket and can never finish; the real
     * station's early data is rejected and goes again after a full handshake */
    pair_open(&p, sctx, dctx, HELLO_PUSH);
    assert_int_equal(ts_tls_init(&replay, dctx, NULL, &err), 0);
    ts_tls_feed(&replay, p.first_flight.data, p.first_flight.len, &heard_replay, &answer, &done, &err);
    assert_false(done);
    assert_int_equal((int)heard_replay.len, 0);
    ts_tls_free(&replay);
    ts_buf_free(&answer);
    ts_buf_free(&heard_replay);
    pump(&p);
    assert_true(p.st_done && p.di_done);
    assert_false(p.di.resumed);
    assert_string_equal(ts_tls_early_status(&p.st), "rejected");
    assert_int_equal((int)p.district_heard.len, 0);
    station_send_rest(&p, HELLO_PUSH);
    assert_true(heard(&p, HELLO_PUSH)); /* once */
    assert_string_equal(p.di.peer.cn, BN);
    pair_close(&p);
    ts_tls_ctx_unref(sctx);
    ts_tls_ctx_unref(dctx);
}

/* The district's new sessions, kept to move them into another context. */
static SSL_SESSION *g_issued;

static int keep_issued(SSL *ssl, SSL_SESSION *sess)
{
    (void)ssl;
    SSL_SESSION_free(g_issued);
    g_issued = sess;
    return 1; /* the reference is ours */
}

static void test_revoked_since_the_ticket(void **state)
{
    (void)state;
    /* "revoked" got its ticket from a district whose CRL did not list it yet */
    ts_tls_ctx *sctx = station_ctx("revoked"), *before = server_ctx(false);
    SSL_CTX_sess_set_new_cb(ts_tls_ctx_ssl(before), keep_issued);
    first_connection(sctx, before);
    assert_non_null(g_issued);
    /* the CRL that lists it; the district still knows the session */
    ts_tls_ctx *after = server_ctx(true);
    SSL_SESSION *moved = SSL_SESSION_dup(g_issued); /* a session is in one cache at a time */
    assert_non_null(moved);
    assert_int_equal(SSL_CTX_add_session(ts_tls_ctx_ssl(after), moved), 1);
    SSL_SESSION_free(moved);
    SSL_SESSION_free(g_issued);
    g_issued = NULL;
    SSL_CTX_sess_set_new_cb(ts_tls_ctx_ssl(after), keep_issued);

    pair p;
    pair_open(&p, sctx, after, HELLO_PUSH);
    pump(&p);
    assert_true(p.di_failed);
    assert_true(p.di.resumed);
    assert_int_equal(p.di.fail, TS_TLS_FAIL_REVOKED);
    assert_non_null(strstr(p.di.error, "resumed session"));
    assert_int_equal((int)p.district_heard.len, 0);
    assert_false(ts_tls_issue_ticket(&p.di, &p.to_station)); /* no ticket for the next connection */
    assert_null(g_issued);
    pair_close(&p);
    assert_int_equal(access(g->ticket, F_OK), -1);
    ts_tls_ctx_unref(sctx);
    ts_tls_ctx_unref(before);
    ts_tls_ctx_unref(after);
}

static void test_expired_since_the_ticket(void **state)
{
    (void)state;
    ts_tls_ctx *sctx = station_ctx(BN), *dctx = server_ctx(true);
    first_connection(sctx, dctx);
    /* the district's clock a day past the station certificate's end */
    char *path = ts_test_pki_cert(&g->pki, BN);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    free(path);
    assert_non_null(cert);
    struct tm tm;
    assert_int_equal(ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm), 1);
    X509_free(cert);
    X509_VERIFY_PARAM_set_time(SSL_CTX_get0_param(ts_tls_ctx_ssl(dctx)), timegm(&tm) + 86400);

    pair p;
    pair_open(&p, sctx, dctx, HELLO_PUSH);
    pump(&p);
    assert_true(p.di_failed);
    assert_true(p.di.resumed);
    assert_int_equal(p.di.fail, TS_TLS_FAIL_EXPIRED);
    assert_non_null(strstr(p.di.error, "resumed session"));
    assert_int_equal((int)p.district_heard.len, 0);
    pair_close(&p);
    ts_tls_ctx_unref(sctx);
    ts_tls_ctx_unref(dctx);
}

static void test_ticket_file_not_ours(void **state)
{
    (void)state;
    ts_tls_ctx *sctx = station_ctx(BN), *dctx = server_ctx(true);
    FILE *f = fopen(g->ticket, "w");
    assert_non_null(f);
    fputs("not a session", f);
    fclose(f);
    pair p;
    pair_open(&p, sctx, dctx, HELLO_PUSH);
    assert_int_equal(access(g->ticket, F_OK), -1);
    assert_int_equal((int)p.st.early_sent, 0);
    pump(&p);
    assert_true(p.st_done && p.di_done);
    assert_false(p.di.resumed);
    station_send_rest(&p, HELLO_PUSH);
    assert_true(heard(&p, HELLO_PUSH));

    /* a ticket of this district, offered to a server of another name */
    issue_ticket(&p);
    pair_close(&p);
    assert_int_equal(access(g->ticket, F_OK), 0);
    ts_tls other;
    ts_error err;
    assert_int_equal(ts_tls_init(&other, sctx, "district.example", &err), 0);
    assert_int_equal((int)ts_tls_early_budget(&other), 0);
    ts_tls_free(&other);
    assert_int_equal(access(g->ticket, F_OK), -1);
    ts_tls_ctx_unref(sctx);
    ts_tls_ctx_unref(dctx);
}

/* A ticket belongs to the certificate it was issued under. The station's
 * certificate replaced in its data directory (OPERATIONS.md, "Rotate
 * certificates": enrol the new one, restart, revoke the old one once the
 * station has connected with the new one), or another station's installed
 * there: the ticket of the old one must not resume, or the district would
 * go on seeing the old certificate (each resumption's new ticket inheriting
 * it) until it expired or was revoked, and the other station's code. */
static void test_ticket_is_for_its_certificate(void **state)
{
    (void)state;
    ts_tls_ctx *dctx = server_ctx(true);
    ts_test_pki_station(&g->pki, "rotates", "Rotates");
    ts_tls_ctx *old = station_ctx("rotates");
    first_connection(old, dctx);
    ts_tls_ctx_unref(old);

    /* the same station, its certificate re-issued: a full handshake with it */
    ts_test_pki_station(&g->pki, "rotates", "Rotates");
    ts_tls_ctx *renewed = station_ctx("rotates");
    pair p;
    pair_open(&p, renewed, dctx, HELLO_PUSH);
    assert_int_equal(access(g->ticket, F_OK), -1);
    assert_int_equal((int)p.st.early_sent, 0);
    pump(&p);
    assert_true(p.st_done && p.di_done);
    assert_false(p.di.resumed);
    char *path = ts_test_pki_cert(&g->pki, "rotates");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    free(path);
    assert_non_null(cert);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *serial = BN_bn2hex(bn);
    assert_string_equal(p.di.peer.serial, serial);
    OPENSSL_free(serial);
    BN_free(bn);
    X509_free(cert);
    station_send_rest(&p, HELLO_PUSH);
    assert_true(heard(&p, HELLO_PUSH));
    /* its own ticket resumes, as that certificate */
    issue_ticket(&p);
    pair_close(&p);
    pair_open(&p, renewed, dctx, HELLO_PUSH);
    pump(&p);
    assert_true(p.di.resumed);
    assert_true(heard(&p, HELLO_PUSH));
    issue_ticket(&p);
    pair_close(&p);

    /* another station's certificate in that directory: not as "rotates" */
    ts_tls_ctx *other = station_ctx(BN);
    pair_open(&p, other, dctx, HELLO_PUSH);
    assert_int_equal((int)p.st.early_sent, 0);
    pump(&p);
    assert_true(p.st_done && p.di_done);
    assert_false(p.di.resumed);
    assert_string_equal(p.di.peer.cn, BN);
    pair_close(&p);
    ts_tls_ctx_unref(other);
    ts_tls_ctx_unref(renewed);
    ts_tls_ctx_unref(dctx);
}

/* Who the district sees on a resumed session is who it saw on the full
 * handshake the ticket came from: code, unit, commune, serial, expiry and
 * the chain's serials, which a CRL reload checks open sessions against
 * (ts_server_reload): a certificate revoked while its resumed session is
 * open is found there as on a full handshake's. */
static void test_resumed_peer_is_the_full_one(void **state)
{
    (void)state;
    ts_tls_ctx *sctx = station_ctx("revoked"), *dctx = server_ctx(false), *crl = server_ctx(true);
    unlink(g->ticket);
    pair full;
    pair_open(&full, sctx, dctx, NULL);
    pump(&full);
    assert_true(full.di_done && !full.di.resumed);
    issue_ticket(&full);
    pair p;
    pair_open(&p, sctx, dctx, HELLO_PUSH);
    pump(&p);
    assert_true(p.di_done && p.di.resumed);
    assert_string_equal(p.di.peer.cn, full.di.peer.cn);
    assert_string_equal(p.di.peer.ou, full.di.peer.ou);
    assert_string_equal(p.di.peer.l, full.di.peer.l);
    assert_string_equal(p.di.peer.serial, full.di.peer.serial);
    assert_true(p.di.peer.not_after == full.di.peer.not_after);
    assert_int_equal(p.di.peer.nchain, full.di.peer.nchain);
    for (int i = 0; i < p.di.peer.nchain; i++)
        assert_string_equal(p.di.peer.chain[i], full.di.peer.chain[i]);
    assert_true(ts_tls_ctx_revokes(crl, &full.di.peer));
    assert_true(ts_tls_ctx_revokes(crl, &p.di.peer));
    pair_close(&p);
    pair_close(&full);
    ts_tls_ctx_unref(sctx);
    ts_tls_ctx_unref(dctx);
    ts_tls_ctx_unref(crl);
}

/* The admin port's context (ts_admin.c: no resumption, TLS 1.2 allowed, no
 * client certificate required) resumes nothing of the sync port's: a
 * station's ClientHello with its ticket and early data makes a full
 * handshake there, its early data skipped. */
static void test_sync_ticket_not_on_the_admin_port(void **state)
{
    (void)state;
    ts_tls_ctx *sctx = station_ctx(BN), *dctx = server_ctx(true);
    first_connection(sctx, dctx);
    ts_tls_ctx *admin = district_ctx(true, false, true, true);
    pair p;
    pair_open(&p, sctx, admin, HELLO_PUSH);
    assert_true(p.st.early_sent > 0);
    pump(&p);
    assert_true(p.st_done && p.di_done);
    assert_false(p.di.resumed);
    assert_string_equal(ts_tls_early_status(&p.st), "rejected");
    assert_int_equal((int)p.district_heard.len, 0);
    assert_string_equal(p.di.peer.cn, BN); /* by its certificate, verified */
    station_send_rest(&p, HELLO_PUSH);
    assert_true(heard(&p, HELLO_PUSH));
    assert_false(ts_tls_issue_ticket(&p.di, &p.to_station));
    pair_close(&p);
    ts_tls_ctx_unref(admin);
    ts_tls_ctx_unref(sctx);
    ts_tls_ctx_unref(dctx);
}

/* Resumption is TLS 1.3's single-use tickets. A district that also allows
 * TLS 1.2 (tls.allow_tls12) keeps no TLS 1.2 session in its cache: those
 * resume by session id as often as asked (nothing single-use about them),
 * and each full handshake would add one, pushing stations' tickets out of
 * the 1,024 the cache holds. */
static void test_no_tls12_sessions_kept(void **state)
{
    (void)state;
    ts_tls_ctx *dctx = district_ctx(false, true, true, false);
    ts_tls_config c;
    ts_error err;
    char *cert = ts_test_pki_cert(&g->pki, BN), *key = ts_test_pki_key(&g->pki, BN);
    ts_tls_config_init(&c, false);
    c.ca_file = g->pki.ca;
    c.cert_file = cert;
    c.key_file = key;
    c.allow_tls12 = true;
    ts_tls_ctx *sctx = NULL;
    if (ts_tls_ctx_new(&sctx, &c, &err) < 0)
        fail_msg("station context: %s", err.msg);
    free(cert);
    free(key);
    assert_int_equal(SSL_CTX_set_max_proto_version(ts_tls_ctx_ssl(sctx), TLS1_2_VERSION), 1);
    pair p;
    pair_open(&p, sctx, dctx, NULL);
    pump(&p);
    assert_true(p.st_done && p.di_done);
    assert_string_equal(ts_tls_version(&p.di), "TLSv1.2");
    SSL_SESSION *sess = SSL_get1_session(p.st.ssl);
    SSL_set_shutdown(p.st.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN); /* a clean end */
    pair_close(&p);
    long kept = SSL_CTX_sess_number(ts_tls_ctx_ssl(dctx));
    /* and the station's session resumes nothing */
    for (int i = 0; i < 2; i++) {
        memset(&p, 0, sizeof p);
        assert_int_equal(ts_tls_init(&p.st, sctx, "localhost", &err), 0);
        assert_int_equal(ts_tls_init(&p.di, dctx, NULL, &err), 0);
        assert_int_equal(SSL_set_session(p.st.ssl, sess), 1);
        assert_int_equal(ts_tls_start(&p.st, &p.to_district, &err), 0);
        pump(&p);
        assert_true(p.st_done && p.di_done);
        bool resumed = p.di.resumed;
        SSL_set_shutdown(p.st.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        pair_close(&p);
        if (resumed)
            fail_msg("a TLS 1.2 session resumed (connection %d after it)", i + 1);
    }
    SSL_SESSION_free(sess);
    ts_tls_ctx_unref(sctx);
    ts_tls_ctx_unref(dctx);
    assert_int_equal((int)kept, 0);
}

/* ---------------------------------------------------------------- agent and daemon */

static void wait_district(ts_test_daemon *d, const char *like, long long n)
{
    assert_int_equal(ts_test_district_wait_residents(d, like, n, 60000), n);
}

/* What the agent's last connection said when TLS opened. */
static bool last_open_says(const char *log, const char *what)
{
    char *text = ts_read_file(log, NULL);
    assert_non_null(text);
    char *open = NULL;
    for (char *p = text; (p = strstr(p, "event=tls_open ")) != NULL; p++)
        open = p;
    char *eol = open ? strchr(open, '\n') : NULL;
    if (eol)
        *eol = '\0';
    bool says = open != NULL && strstr(open, what) != NULL;
    free(text);
    return says;
}

/* The agent's last connection wrote its PUSH before TLS opened: a
 * "push_sent ... before_welcome=true" between the last two "tls_open". */
static bool pushed_before_open(const char *log)
{
    char *text = ts_read_file(log, NULL);
    assert_non_null(text);
    char *last = NULL, *prev = text;
    for (char *p = text; (p = strstr(p, "event=tls_open ")) != NULL; p++) {
        prev = last ? last : text;
        last = p;
    }
    bool early = false;
    for (char *p = prev; last != NULL && (p = strstr(p, "event=push_sent ")) != NULL && p < last; p++) {
        char *eol = strchr(p, '\n');
        char *flag = strstr(p, "before_welcome=true");
        early = flag != NULL && (eol == NULL || flag < eol);
    }
    free(text);
    return early;
}

static void test_agent_resumes_with_early_data(void **state)
{
    (void)state;
    char *d = ts_xasprintf("%s/district", g->dir);
    mkdir(d, 0700);
    ts_test_daemon dm;
    ts_test_daemon_start(&dm, d, &g->pki, NULL);
    ts_test_watchdog_watch(&dm.pid);
    free(d);
    ts_test_station st;
    const char *sets[] = {"station.log_level=debug", "sync.backoff_min=100ms", "sync.backoff_max=500ms", NULL};
    ts_test_station_make(&st, g->dir, PL, &g->pki, dm.port, sets);

    /* first contact: a full handshake, a ticket kept */
    ts_test_station_fill(&st, "rsone", 20);
    ts_test_station_start(&st);
    wait_district(&dm, "rsone-%", 20);
    assert_int_equal(ts_test_station_stop(&st, 20000), 0);
    assert_true(last_open_says(st.log, "resumed=no"));
    ts_test_doc_log_keys("docs/STATION.md", "$ tramsync -d /tmp/x/st run\n", st.log, 3);
    char *ticket = ts_xasprintf("%s/tls-session.der", st.dir);
    struct stat sb;
    assert_int_equal(stat(ticket, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* back: resumed, HELLO and the PUSH as early data */
    ts_test_station_fill(&st, "rstwo", 30);
    ts_test_station_start(&st);
    wait_district(&dm, "rstwo-%", 30);
    assert_int_equal(ts_test_station_stop(&st, 20000), 0);
    assert_true(last_open_says(st.log, "resumed=yes early_data=accepted"));
    assert_true(pushed_before_open(st.log));
    assert_true(ts_test_log_wait(dm.log, "resumed=true ticket=true", 1000));

    /* the district restarted: the ticket means nothing to it; the early
     * data is rejected and goes again, nothing lost */
    ts_test_daemon_stop(&dm, SIGTERM, 20000);
    ts_test_daemon_restart(&dm);
    ts_test_station_set_port(&st, dm.port);
    ts_test_station_fill(&st, "rsthree", 30);
    ts_test_station_start(&st);
    wait_district(&dm, "rsthree-%", 30);
    assert_int_equal(ts_test_station_stop(&st, 20000), 0);
    assert_true(last_open_says(st.log, "resumed=no early_data=rejected"));
    assert_int_equal(ts_test_sql_count(st.dir, "station.db", "SELECT count(*) FROM rejected"), 0);
    assert_int_equal(ts_test_district_residents(&dm, "rs%"), 80);

    /* a district that no longer resumes at all: the early data (more than
     * OpenSSL's default 16 KiB that a server skips) is skipped, not a failed
     * handshake, and goes again */
    ts_test_daemon_stop(&dm, SIGTERM, 20000);
    dm.sets[dm.nsets++] = ts_xstrdup("tls.resumption=false");
    ts_test_daemon_restart(&dm);
    ts_test_station_set_port(&st, dm.port);
    ts_test_station_fill(&st, "rsfour", 1000);
    ts_test_station_start(&st);
    wait_district(&dm, "rsfour-%", 1000);
    assert_int_equal(ts_test_station_stop(&st, 20000), 0);
    assert_true(last_open_says(st.log, "resumed=no early_data=rejected"));
    assert_int_equal(ts_test_file_count(st.log, "event=tls_failed"), 0);
    assert_int_equal(access(ticket, F_OK), -1); /* none from a district that does not resume */

    free(ticket);
    ts_test_station_free(&st);
    ts_test_daemon_free(&dm);
}

/* Enrolling again (a new certificate) drops the ticket of the old one. */
static void test_enroll_drops_the_ticket(void **state)
{
    (void)state;
    ts_test_station st;
    ts_test_station_make(&st, g->dir, "enrolled", &g->pki, 1, NULL);
    char *ticket = ts_xasprintf("%s/tls-session.der", st.dir);
    FILE *f = fopen(ticket, "w");
    assert_non_null(f);
    fputs("a ticket of the certificate before", f);
    fclose(f);
    char *cert = ts_test_pki_cert(&g->pki, "enrolled");
    int rc = ts_test_station_cli(&st, NULL, "enroll", "--cert", cert, "--ca", g->pki.ca, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(access(ticket, F_OK), -1);
    free(cert);
    free(ticket);
    ts_test_station_free(&st);
}

/* A slow uplink: the 64 KiB of early data take longer to cross than the
 * district's handshake timeout, or the agent's connect timeout (it waits for
 * WELCOME, which the district sends once the handshake is done, so once all
 * early data is in), while a full handshake needs a fraction of either. Both
 * give early data its time at 2 KiB/s (frame_min_rate), as the district does
 * a frame's size. Before, the resumed connection timed out, the ticket was
 * spent, the next connection made a full handshake and got a new one: every
 * other connection failed. `name` names the directories, `bps` the uplink. */
static void slow_link_run(const char *name, uint64_t bps, const char *dset, const char *sset)
{
    char *d = ts_xasprintf("%s/%sdistrict", g->dir, name), *base = ts_xasprintf("%s/%sstation", g->dir, name);
    mkdir(d, 0700);
    mkdir(base, 0700);
    const char *dsets[] = {dset, NULL};
    ts_test_daemon dm;
    ts_test_daemon_start(&dm, d, &g->pki, dsets);
    ts_test_watchdog_watch(&dm.pid);
    ts_test_link_profile prof;
    memset(&prof, 0, sizeof prof);
    prof.up.bps = bps;
    prof.down.buffer = prof.up.buffer = 16 * 1024;
    ts_test_link l;
    ts_test_link_start(&l, dm.port, &prof);
    ts_test_station st;
    const char *sets[] = {"station.log_level=debug", "sync.backoff_min=100ms", "sync.backoff_max=500ms",
                          "sync.compress=false", sset, NULL};
    ts_test_station_make(&st, base, PL, &g->pki, l.port, sets);

    ts_test_station_fill(&st, "slowone", 5);
    ts_test_station_start(&st);
    wait_district(&dm, "slowone-%", 5);
    assert_int_equal(ts_test_station_stop(&st, 20000), 0);
    assert_true(last_open_says(st.log, "resumed=no"));

    /* a push of some 95 KB: its first 64 KiB go early */
    ts_test_station_fill(&st, "slowtwo", 400);
    ts_test_station_start(&st);
    uint64_t deadline = ts_test_now_ms() + 60000;
    while (ts_test_district_residents(&dm, "slowtwo-%") < 400 && ts_test_now_ms() < deadline)
        ts_test_sleep_ms(50);
    long long arrived = ts_test_district_residents(&dm, "slowtwo-%");
    int stopped = ts_test_station_stop(&st, 20000);
    int timeouts = (arrived != 400) + (stopped != 0) + ts_test_file_count(dm.log, "event=tls_handshake_timeout") +
                   ts_test_file_count(dm.log, "event=hello_timeout") +
                   ts_test_file_count(st.log, "event=connect_timeout");
    bool resumed = last_open_says(st.log, "resumed=yes early_data=accepted");
    if (timeouts > 0 || !resumed) {
        ts_test_log_tail(dm.log, 60);
        ts_test_log_tail(st.log, 30);
    }

    ts_test_link_stop(&l);
    ts_test_daemon_stop(&dm, SIGTERM, 20000);
    ts_test_station_free(&st);
    ts_test_daemon_free(&dm);
    free(d);
    free(base);
    assert_int_equal(timeouts, 0);
    assert_true(resumed);
}

/* The district: 128 kbit/s, 64 KiB in 4 s against handshake_timeout=1s
 * (the default 10 s is the same at 52 kbit/s). */
static void test_slow_link_early_data(void **state)
{
    (void)state;
    slow_link_run("slowd", 128000, "server.handshake_timeout=1s", "sync.connect_timeout=20s");
}

/* The agent: 64 kbit/s, 64 KiB in 8 s against connect_timeout=2s (the
 * default 20 s is the same at 26 kbit/s). */
static void test_slow_link_early_data_agent(void **state)
{
    (void)state;
    slow_link_run("slowa", 64000, "server.handshake_timeout=10s", "sync.connect_timeout=2s");
}

static int setup(void **state)
{
    (void)state;
    g = ts_xcalloc(1, sizeof *g);
    g->dir = ts_tmpdir_make("resume");
    ts_test_watchdog_arm("test_resume", 180);
    const char *codes[] = {BN};
    ts_test_pki_make(&g->pki, g->dir, codes, 1);
    ts_test_pki_station(&g->pki, PL, "Phúc Long");
    g->ticket = ts_xasprintf("%s/ticket.der", g->dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_test_watchdog_disarm();
    ts_test_pki_free(&g->pki);
    ts_tmpdir_remove(g->dir);
    free(g->ticket);
    free(g);
    g = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticket_then_early_data),
        cmocka_unit_test(test_ticket_spent_when_sent),
        cmocka_unit_test(test_replay_resumes_nothing),
        cmocka_unit_test(test_revoked_since_the_ticket),
        cmocka_unit_test(test_expired_since_the_ticket),
        cmocka_unit_test(test_ticket_file_not_ours),
        cmocka_unit_test(test_ticket_is_for_its_certificate),
        cmocka_unit_test(test_resumed_peer_is_the_full_one),
        cmocka_unit_test(test_sync_ticket_not_on_the_admin_port),
        cmocka_unit_test(test_no_tls12_sessions_kept),
        cmocka_unit_test(test_agent_resumes_with_early_data),
        cmocka_unit_test(test_enroll_drops_the_ticket),
        cmocka_unit_test(test_slow_link_early_data),
        cmocka_unit_test(test_slow_link_early_data_agent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
