/* A throwaway district PKI for tests: CA, server certificate, station
 * certificates (valid, expired, from another CA, revoked) and a CRL. */
#ifndef TS_TEST_PKI_H
#define TS_TEST_PKI_H

#include <stddef.h>

typedef struct ts_test_pki {
    char *dir;         /* <base>/pki */
    char *ca;          /* ca.pem */
    char *ca_key;      /* ca.key */
    char *crl;         /* crl.pem */
    char *server_cert; /* server.pem */
    char *server_key;  /* server.key */
    char *revoked[64]; /* serials in the CRL */
    size_t nrevoked;
} ts_test_pki;

/* Creates <base>/pki with ca.pem, ca.key, server.pem/.key (localhost,
 * 127.0.0.1, ::1), crl.pem, and station certificates <code>.pem/.key for
 * each code given (commune = code); plus "expired" (an expired station
 * certificate), "foreign" (a station certificate from another CA), "revoked"
 * (listed in the CRL), "notyet" (not valid yet) and "admin" (an admin
 * certificate, not a station). */
void ts_test_pki_make(ts_test_pki *pki, const char *base, const char *const *stations, size_t n);
/* Issues one more station certificate <code>.pem/.key. */
void ts_test_pki_station(ts_test_pki *pki, const char *code, const char *commune);
/* Adds the certificate <code>.pem to the CRL and rewrites crl.pem. */
void ts_test_pki_revoke(ts_test_pki *pki, const char *code);
/* Paths of a certificate and key by name (caller frees). */
char *ts_test_pki_cert(const ts_test_pki *pki, const char *code);
char *ts_test_pki_key(const ts_test_pki *pki, const char *code);
void ts_test_pki_free(ts_test_pki *pki);

#endif
