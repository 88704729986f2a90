#include "tests/support/ts_test_pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/ts_pki.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"

char *ts_test_pki_cert(const ts_test_pki *pki, const char *code)
{
    return ts_xasprintf("%s/%s.pem", pki->dir, code);
}

char *ts_test_pki_key(const ts_test_pki *pki, const char *code)
{
    return ts_xasprintf("%s/%s.key", pki->dir, code);
}

static void write_pair(ts_test_pki *pki, const char *name, X509 *cert, EVP_PKEY *key)
{
    ts_error err;
    char *c = ts_test_pki_cert(pki, name), *k = ts_test_pki_key(pki, name);
    if (ts_pki_write_cert(c, cert, &err) < 0 || ts_pki_write_key(k, key, &err) < 0)
        fail_msg("pki: %s", err.msg);
    free(c);
    free(k);
}

static void issue_with(ts_test_pki *pki, const char *ca_path, const char *ca_key_path, ts_cert_request *req,
                       const char *name)
{
    ts_error err;
    EVP_PKEY *ca_key = ts_pki_read_key(ca_key_path, &err);
    X509 *ca = ts_pki_read_cert(ca_path, &err);
    if (ca_key == NULL || ca == NULL)
        fail_msg("pki: %s", err.msg);
    EVP_PKEY *key = ts_pki_new_key();
    X509 *cert = ts_pki_issue(req, key, ca_key, ca, &err);
    if (cert == NULL)
        fail_msg("issue %s: %s", name, err.msg);
    write_pair(pki, name, cert, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
}

static void make_ca(ts_test_pki *pki, const char *name, const char *cn)
{
    ts_error err;
    EVP_PKEY *key = ts_pki_new_key();
    ts_cert_request req = {.kind = TS_CERT_CA, .cn = cn, .org = "TTYT test"};
    X509 *cert = ts_pki_issue(&req, key, NULL, NULL, &err);
    if (cert == NULL)
        fail_msg("ca: %s", err.msg);
    write_pair(pki, name, cert, key);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void write_crl(ts_test_pki *pki)
{
    ts_error err;
    EVP_PKEY *ca_key = ts_pki_read_key(pki->ca_key, &err);
    X509 *ca = ts_pki_read_cert(pki->ca, &err);
    ts_revoked r[64];
    for (size_t i = 0; i < pki->nrevoked; i++) {
        r[i].serial_hex = pki->revoked[i];
        r[i].when = 0;
    }
    X509_CRL *crl = ts_pki_crl(ca_key, ca, r, pki->nrevoked, 30, pki->nrevoked + 1, &err);
    if (crl == NULL || ts_pki_write_crl(pki->crl, crl, &err) < 0)
        fail_msg("crl: %s", err.msg);
    X509_CRL_free(crl);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
}

void ts_test_pki_station(ts_test_pki *pki, const char *code, const char *commune)
{
    ts_cert_request req = {.kind = TS_CERT_STATION, .cn = code, .locality = commune ? commune : code};
    issue_with(pki, pki->ca, pki->ca_key, &req, code);
}

void ts_test_pki_revoke(ts_test_pki *pki, const char *code)
{
    ts_error err;
    char *path = ts_test_pki_cert(pki, code);
    X509 *cert = ts_pki_read_cert(path, &err);
    if (cert == NULL)
        fail_msg("revoke: %s", err.msg);
    char serial[64];
    ts_pki_serial_hex(cert, serial, sizeof serial);
    X509_free(cert);
    free(path);
    pki->revoked[pki->nrevoked++] = ts_xstrdup(serial);
    write_crl(pki);
}

void ts_test_pki_make(ts_test_pki *pki, const char *base, const char *const *stations, size_t n)
{
    memset(pki, 0, sizeof *pki);
    pki->dir = ts_xasprintf("%s/pki", base);
    mkdir(pki->dir, 0700);
    pki->ca = ts_xasprintf("%s/ca.pem", pki->dir);
    pki->ca_key = ts_xasprintf("%s/ca.key", pki->dir);
    pki->crl = ts_xasprintf("%s/crl.pem", pki->dir);
    pki->server_cert = ts_xasprintf("%s/server.pem", pki->dir);
    pki->server_key = ts_xasprintf("%s/server.key", pki->dir);
    make_ca(pki, "ca", "tramsync test district CA");
    make_ca(pki, "other-ca", "some other CA");

    ts_cert_request srv = {.kind = TS_CERT_SERVER, .cn = "localhost", .san = "DNS:localhost,IP:127.0.0.1,IP:::1"};
    issue_with(pki, pki->ca, pki->ca_key, &srv, "server");
    for (size_t i = 0; i < n; i++)
        ts_test_pki_station(pki, stations[i], stations[i]);

    int64_t now = (int64_t)time(NULL);
    ts_cert_request expired = {.kind = TS_CERT_STATION, .cn = "expired", .locality = "expired",
                               .not_before = now - 400 * 86400, .not_after = now - 86400};
    issue_with(pki, pki->ca, pki->ca_key, &expired, "expired");
    ts_cert_request notyet = {.kind = TS_CERT_STATION, .cn = "notyet", .locality = "notyet",
                              .not_before = now + 86400, .not_after = now + 400 * 86400};
    issue_with(pki, pki->ca, pki->ca_key, &notyet, "notyet");
    char *oca = ts_xasprintf("%s/other-ca.pem", pki->dir), *okey = ts_xasprintf("%s/other-ca.key", pki->dir);
    ts_cert_request foreign = {.kind = TS_CERT_STATION, .cn = "foreign", .locality = "foreign"};
    issue_with(pki, oca, okey, &foreign, "foreign");
    free(oca);
    free(okey);
    ts_cert_request admin = {.kind = TS_CERT_ADMIN, .cn = "admin", .ou = "admin-admin"};
    issue_with(pki, pki->ca, pki->ca_key, &admin, "admin");
    ts_test_pki_station(pki, "revoked", "revoked");
    ts_test_pki_revoke(pki, "revoked");
}

void ts_test_pki_free(ts_test_pki *pki)
{
    free(pki->dir);
    free(pki->ca);
    free(pki->ca_key);
    free(pki->crl);
    free(pki->server_cert);
    free(pki->server_key);
    for (size_t i = 0; i < pki->nrevoked; i++)
        free(pki->revoked[i]);
    memset(pki, 0, sizeof *pki);
}
