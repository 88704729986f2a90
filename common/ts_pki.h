/* The district's small PKI, with OpenSSL: an ECDSA P-256 CA, certificates for
 * the server, stations (bound to station code and commune) and admins, and
 * CRLs. Used by `tramsyncctl ca`, the demo, and the tests. */
#ifndef TS_PKI_H
#define TS_PKI_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/ts_error.h"

typedef enum ts_cert_kind {
    TS_CERT_CA = 0,
    TS_CERT_SERVER = 1,  /* serverAuth; SAN: DNS names and IPs */
    TS_CERT_STATION = 2, /* clientAuth; CN = station code, OU = "station", L = commune */
    TS_CERT_ADMIN = 3    /* clientAuth; CN = admin name, OU = "admin-<role>" */
} ts_cert_kind;

typedef struct ts_cert_request {
    ts_cert_kind kind;
    const char *cn;
    const char *ou;        /* defaults by kind */
    const char *locality;  /* commune for stations */
    const char *org;       /* the district (defaults to "tramsync") */
    const char *san;       /* servers: "DNS:localhost,IP:127.0.0.1" */
    int64_t not_before;    /* Unix seconds; 0 = now - 5 minutes */
    int64_t not_after;     /* Unix seconds; 0 = not_before + days */
    int days;              /* default: 3650 (CA), 825 (others) */
    uint64_t serial;       /* 0 = random 64-bit */
} ts_cert_request;

EVP_PKEY *ts_pki_new_key(void);
/* Issues a certificate for `pub` (its own key when kind is CA: self-signed). */
X509 *ts_pki_issue(const ts_cert_request *req, EVP_PKEY *pub, EVP_PKEY *ca_key, X509 *ca_cert, ts_error *err);

typedef struct ts_revoked {
    const char *serial_hex;
    int64_t when;
} ts_revoked;

X509_CRL *ts_pki_crl(EVP_PKEY *ca_key, X509 *ca_cert, const ts_revoked *revoked, size_t n, int next_update_days,
                     uint64_t crl_number, ts_error *err);

/* PEM files; keys are written 0600. */
int ts_pki_write_key(const char *path, EVP_PKEY *key, ts_error *err);
int ts_pki_write_cert(const char *path, X509 *cert, ts_error *err);
int ts_pki_write_crl(const char *path, X509_CRL *crl, ts_error *err);
/* A CSR for a station key (tramsync init). */
int ts_pki_write_csr(const char *path, EVP_PKEY *key, const char *cn, const char *locality, ts_error *err);
EVP_PKEY *ts_pki_read_key(const char *path, ts_error *err);
X509 *ts_pki_read_cert(const char *path, ts_error *err);
X509_REQ *ts_pki_read_csr(const char *path, ts_error *err);
/* Serial as upper-case hex (as openssl prints it). */
void ts_pki_serial_hex(X509 *cert, char *out, size_t size);

#endif
