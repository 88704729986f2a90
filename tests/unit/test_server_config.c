/* tramsyncd's configuration: defaults, the file, overrides, and the check
 * that refuses values that make no sense together (what --check-config and
 * the start-up run), each with a message naming the setting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "client/ts_agent.h"
#include "common/ts_config.h"
#include "common/ts_pki.h"
#include "common/ts_xmalloc.h"
#include "server/ts_server.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_pki.h"

typedef struct fixture {
    char *dir;
    ts_test_pki pki;
} fixture;

static int setup(void **state)
{
    fixture *f = ts_xcalloc(1, sizeof *f);
    f->dir = ts_tmpdir_make("config");
    ts_test_pki_make(&f->pki, f->dir, NULL, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ts_test_pki_free(&f->pki);
    ts_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* Loads the defaults with this PKI, plus one override (NULL: none), then checks. */
static int load_check(fixture *f, const char *extra, ts_error *err)
{
    char *sets[6];
    int n = 0;
    sets[n++] = ts_xasprintf("server.data_dir=%s", f->dir);
    sets[n++] = ts_xasprintf("tls.ca=%s", f->pki.ca);
    sets[n++] = ts_xasprintf("tls.cert=%s", f->pki.server_cert);
    sets[n++] = ts_xasprintf("tls.key=%s", f->pki.server_key);
    if (extra)
        sets[n++] = ts_xstrdup(extra);
    ts_server_config cfg;
    int rc = ts_server_config_load(&cfg, NULL, sets, n, err);
    if (rc == 0) {
        rc = ts_server_config_check(&cfg, err);
        ts_server_config_free(&cfg);
    }
    for (int i = 0; i < n; i++)
        free(sets[i]);
    return rc;
}

/* What --print-config and `tramsync init` write reads back: no line is
 * longer than inih reads as one (200 bytes), however long a setting's
 * description (one of 236 bytes broke the package's configuration). */
static void written_reads_back(fixture *f, const void *cfg, const ts_cfg_key *keys, void *again)
{
    char *path = ts_xasprintf("%s/written.conf", f->dir);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    ts_cfg_write(out, cfg, keys, "test");
    fclose(out);
    char *text = ts_read_file(path, NULL);
    assert_non_null(text);
    for (char *line = text; *line;) {
        char *eol = strchr(line, '\n');
        size_t n = eol ? (size_t)(eol - line) : strlen(line);
        if (n >= 200)
            fail_msg("a line of %zu bytes: %.60s…", n, line);
        line += n + (eol != NULL);
    }
    free(text);
    ts_error err;
    assert_int_equal(ts_cfg_defaults(again, keys, &err), 0); /* again: zeroed by the caller */
    if (ts_cfg_load(again, keys, path, &err) != 0)
        fail_msg("the written configuration does not read: %s", err.msg);
    ts_cfg_free(again, keys);
    free(path);
}

static void test_written_config_reads_back(void **state)
{
    fixture *f = *state;
    ts_error err;
    ts_server_config cfg, again;
    memset(&cfg, 0, sizeof cfg);
    memset(&again, 0, sizeof again);
    assert_int_equal(ts_cfg_defaults(&cfg, ts_server_config_keys, &err), 0);
    written_reads_back(f, &cfg, ts_server_config_keys, &again);
    ts_cfg_free(&cfg, ts_server_config_keys);
    ts_agent_config acfg, aagain;
    memset(&acfg, 0, sizeof acfg);
    memset(&aagain, 0, sizeof aagain);
    assert_int_equal(ts_cfg_defaults(&acfg, ts_agent_config_keys, &err), 0);
    written_reads_back(f, &acfg, ts_agent_config_keys, &aagain);
    ts_cfg_free(&acfg, ts_agent_config_keys);
}

static void test_defaults_are_valid(void **state)
{
    ts_error err;
    if (load_check(*state, NULL, &err) != 0)
        fail_msg("defaults refused: %s", err.msg);
}

static void test_bad_values_refused(void **state)
{
    static const struct {
        const char *set;
        const char *says;
    } cases[] = {
        {"server.listen=nowhere:99999", "listen"},
        {"server.synchronous=sometimes", "synchronous"},
        {"server.log_level=loud", "log_level"},
        {"server.max_frame=100", "max_frame"},
        {"server.pull_page=0", "pull_page"},
        {"server.write_low_water=1MiB", "write_low_water"},
        {"server.rate_burst=0", "rate"},
        {"server.idle_timeout=1s", "idle_timeout"},
        {"server.max_connections=0", "max_connections"},
        {"admin.rate=0", "[admin] rate"},
        {"admin.rate_burst=0", "[admin] rate"},
        {"tls.crl=/nonexistent/crl.pem", "crl.pem"},
        {"server.no_such_key=1", "no_such_key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ts_error err;
        int rc = load_check(*state, cases[i].set, &err);
        if (rc == 0)
            fail_msg("%s: accepted", cases[i].set);
        if (strstr(err.msg, cases[i].says) == NULL)
            fail_msg("%s: the message \"%s\" does not name %s", cases[i].set, err.msg, cases[i].says);
    }
}

/* A CRL signed by key/cert, its next update `next_days` from now (may be in
 * the past), written to path. */
static void write_crl(const char *path, const char *key_path, const char *cert_path, int next_days)
{
    ts_error err;
    EVP_PKEY *key = ts_pki_read_key(key_path, &err);
    X509 *cert = ts_pki_read_cert(cert_path, &err);
    assert_non_null(key);
    assert_non_null(cert);
    X509_CRL *crl = ts_pki_crl(key, cert, NULL, 0, 30, 1, &err);
    assert_non_null(crl);
    if (next_days < 0) {
        ASN1_TIME *last = ASN1_TIME_set(NULL, time(NULL) + (time_t)(next_days - 1) * 86400);
        ASN1_TIME *next = ASN1_TIME_set(NULL, time(NULL) + (time_t)next_days * 86400);
        X509_CRL_set1_lastUpdate(crl, last);
        X509_CRL_set1_nextUpdate(crl, next);
        assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
        ASN1_TIME_free(last);
        ASN1_TIME_free(next);
    }
    assert_int_equal(ts_pki_write_crl(path, crl, &err), 0);
    X509_CRL_free(crl);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* The CRL is read once at start (and reload): one from another CA, or one
 * already expired, is refused there, not at every handshake. */
static void test_crl_checked_at_load(void **state)
{
    fixture *f = *state;
    ts_error err;
    char *set = ts_xasprintf("tls.crl=%s", f->pki.crl);
    if (load_check(f, set, &err) != 0)
        fail_msg("the test PKI's CRL refused: %s", err.msg);
    free(set);

    char *foreign = ts_xasprintf("%s/foreign-crl.pem", f->dir);
    char *okey = ts_xasprintf("%s/other-ca.key", f->pki.dir), *ocert = ts_xasprintf("%s/other-ca.pem", f->pki.dir);
    write_crl(foreign, okey, ocert, 30);
    set = ts_xasprintf("tls.crl=%s", foreign);
    assert_int_not_equal(load_check(f, set, &err), 0);
    assert_non_null(strstr(err.msg, "not signed by the CA"));
    free(set);

    char *expired = ts_xasprintf("%s/expired-crl.pem", f->dir);
    write_crl(expired, f->pki.ca_key, f->pki.ca, -2);
    set = ts_xasprintf("tls.crl=%s", expired);
    assert_int_not_equal(load_check(f, set, &err), 0);
    assert_non_null(strstr(err.msg, "has expired"));
    free(set);
    free(foreign);
    free(expired);
    free(okey);
    free(ocert);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_are_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_written_config_reads_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crl_checked_at_load, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
