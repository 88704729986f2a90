#include "common/ts_pki.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

static int ts__pki_fail(ts_error *err, const char *what)
{
    char why[200];
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, why, sizeof why);
    else
        snprintf(why, sizeof why, "failed");
    ERR_clear_error();
    return ts_error_set(err, TS_ETLS, "%s: %s", what, why);
}

EVP_PKEY *ts_pki_new_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (k == NULL) {
        fprintf(stderr, "level=fatal event=keygen_failed\n");
        abort();
    }
    return k;
}

static int ts__add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (ext == NULL)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static void ts__set_serial(X509 *cert, uint64_t serial)
{
    if (serial == 0) {
        unsigned char rnd[8];
        RAND_bytes(rnd, sizeof rnd);
        rnd[0] &= 0x7f; /* positive */
        rnd[0] |= 0x01;
        for (int i = 0; i < 8; i++)
            serial = serial << 8 | rnd[i];
    }
    ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial);
}

static void ts__name_add(X509_NAME *name, const char *field, const char *value)
{
    if (value != NULL && value[0] != '\0')
        X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, (const unsigned char *)value, -1, -1, 0);
}

X509 *ts_pki_issue(const ts_cert_request *req, EVP_PKEY *pub, EVP_PKEY *ca_key, X509 *ca_cert, ts_error *err)
{
    ERR_clear_error();
    bool self = req->kind == TS_CERT_CA;
    if (!self && (ca_key == NULL || ca_cert == NULL)) {
        ts_error_set(err, TS_EBAD_VALUE, "a certificate needs the CA key and certificate");
        return NULL;
    }
    X509 *cert = X509_new();
    X509_set_version(cert, 2);
    ts__set_serial(cert, req->serial);

    int64_t now = (int64_t)time(NULL);
    int64_t nb = req->not_before ? req->not_before : now - 300;
    int days = req->days ? req->days : (self ? 3650 : 825);
    int64_t na = req->not_after ? req->not_after : nb + (int64_t)days * 86400;
    ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)nb);
    ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)na);

    X509_NAME *name = X509_get_subject_name(cert);
    static const char *const default_ou[] = {"ca", "server", "station", "admin-viewer"};
    ts__name_add(name, "O", req->org ? req->org : "tramsync");
    ts__name_add(name, "OU", req->ou ? req->ou : default_ou[req->kind]);
    ts__name_add(name, "L", req->locality);
    ts__name_add(name, "CN", req->cn);
    X509_set_issuer_name(cert, self ? name : X509_get_subject_name(ca_cert));
    X509_set_pubkey(cert, pub);

    X509 *issuer = self ? cert : ca_cert;
    int bad = 0;
    bad |= ts__add_ext(cert, issuer, NID_subject_key_identifier, "hash");
    bad |= ts__add_ext(cert, issuer, NID_authority_key_identifier, "keyid:always");
    switch (req->kind) {
    case TS_CERT_CA:
        bad |= ts__add_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
        bad |= ts__add_ext(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
        break;
    case TS_CERT_SERVER:
        bad |= ts__add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
        bad |= ts__add_ext(cert, issuer, NID_key_usage, "critical,digitalSignature");
        bad |= ts__add_ext(cert, issuer, NID_ext_key_usage, "serverAuth");
        bad |= ts__add_ext(cert, issuer, NID_subject_alt_name, req->san ? req->san : "DNS:localhost,IP:127.0.0.1");
        break;
    case TS_CERT_STATION:
    case TS_CERT_ADMIN:
        bad |= ts__add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
        bad |= ts__add_ext(cert, issuer, NID_key_usage, "critical,digitalSignature");
        bad |= ts__add_ext(cert, issuer, NID_ext_key_usage, "clientAuth");
        break;
    }
    if (bad || X509_sign(cert, self ? pub : ca_key, EVP_sha256()) <= 0) {
        ts__pki_fail(err, "cannot issue certificate");
        X509_free(cert);
        return NULL;
    }
    return cert;
}

X509_CRL *ts_pki_crl(EVP_PKEY *ca_key, X509 *ca_cert, const ts_revoked *revoked, size_t n, int next_update_days,
                     uint64_t crl_number, ts_error *err)
{
    ERR_clear_error();
    X509_CRL *crl = X509_CRL_new();
    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca_cert));
    time_t now = time(NULL);
    ASN1_TIME *t = ASN1_TIME_set(NULL, now - 60);
    X509_CRL_set1_lastUpdate(crl, t);
    ASN1_TIME_set(t, now + (time_t)(next_update_days > 0 ? next_update_days : 30) * 86400);
    X509_CRL_set1_nextUpdate(crl, t);
    ASN1_TIME_free(t);
    for (size_t i = 0; i < n; i++) {
        X509_REVOKED *r = X509_REVOKED_new();
        BIGNUM *bn = NULL;
        if (BN_hex2bn(&bn, revoked[i].serial_hex) == 0) {
            X509_REVOKED_free(r);
            X509_CRL_free(crl);
            ts_error_set(err, TS_EBAD_VALUE, "bad serial %s", revoked[i].serial_hex);
            return NULL;
        }
        ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
        X509_REVOKED_set_serialNumber(r, serial);
        ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)(revoked[i].when ? revoked[i].when : now));
        X509_REVOKED_set_revocationDate(r, when);
        X509_CRL_add0_revoked(crl, r);
        ASN1_TIME_free(when);
        ASN1_INTEGER_free(serial);
        BN_free(bn);
    }
    X509_CRL_sort(crl);
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    ASN1_INTEGER_set_uint64(num, crl_number);
    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0);
    ASN1_INTEGER_free(num);
    if (X509_CRL_sign(crl, ca_key, EVP_sha256()) <= 0) {
        ts__pki_fail(err, "cannot sign CRL");
        X509_CRL_free(crl);
        return NULL;
    }
    return crl;
}

static FILE *ts__open_write(const char *path, int mode, ts_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        ts_error_set(err, TS_EIO, "cannot write %s: %s", path, strerror(errno));
        return NULL;
    }
    fchmod(fd, (mode_t)mode);
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        ts_error_set(err, TS_EIO, "cannot write %s", path);
    }
    return f;
}

static int ts__close_write(FILE *f, int ok, const char *path, ts_error *err)
{
    if (fclose(f) != 0)
        ok = 0;
    if (!ok)
        return ts_error_set(err, TS_EIO, "cannot write %s", path);
    return 0;
}

int ts_pki_write_key(const char *path, EVP_PKEY *key, ts_error *err)
{
    FILE *f = ts__open_write(path, 0600, err);
    if (f == NULL)
        return TS_EIO;
    return ts__close_write(f, PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), path, err);
}

int ts_pki_write_cert(const char *path, X509 *cert, ts_error *err)
{
    FILE *f = ts__open_write(path, 0644, err);
    if (f == NULL)
        return TS_EIO;
    return ts__close_write(f, PEM_write_X509(f, cert), path, err);
}

int ts_pki_write_crl(const char *path, X509_CRL *crl, ts_error *err)
{
    /* written beside and renamed, so a reloading daemon never reads half a CRL */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = ts__open_write(tmp, 0644, err);
    if (f == NULL)
        return TS_EIO;
    int rc = ts__close_write(f, PEM_write_X509_CRL(f, crl), tmp, err);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = ts_error_set(err, TS_EIO, "cannot write %s: %s", path, strerror(errno));
    return rc;
}

int ts_pki_write_csr(const char *path, EVP_PKEY *key, const char *cn, const char *locality, ts_error *err)
{
    X509_REQ *req = X509_REQ_new();
    X509_REQ_set_version(req, 0);
    X509_NAME *name = X509_REQ_get_subject_name(req);
    ts__name_add(name, "OU", "station");
    ts__name_add(name, "L", locality);
    ts__name_add(name, "CN", cn);
    X509_REQ_set_pubkey(req, key);
    if (X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
        X509_REQ_free(req);
        return ts__pki_fail(err, "cannot sign the request");
    }
    FILE *f = ts__open_write(path, 0644, err);
    int rc = f ? ts__close_write(f, PEM_write_X509_REQ(f, req), path, err) : TS_EIO;
    X509_REQ_free(req);
    return rc;
}

EVP_PKEY *ts_pki_read_key(const char *path, ts_error *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        ts_error_set(err, TS_EIO, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (k == NULL)
        ts__pki_fail(err, "not a private key");
    return k;
}

X509 *ts_pki_read_cert(const char *path, ts_error *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        ts_error_set(err, TS_EIO, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (c == NULL)
        ts__pki_fail(err, "not a certificate");
    return c;
}

X509_REQ *ts_pki_read_csr(const char *path, ts_error *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        ts_error_set(err, TS_EIO, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    X509_REQ *r = PEM_read_X509_REQ(f, NULL, NULL, NULL);
    fclose(f);
    if (r == NULL)
        ts__pki_fail(err, "not a certificate request");
    return r;
}

void ts_pki_serial_hex(X509 *cert, char *out, size_t size)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    snprintf(out, size, "%s", hex ? hex : "");
    OPENSSL_free(hex);
    BN_free(bn);
}
