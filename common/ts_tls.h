/* TLS with OpenSSL 3 over memory BIOs: no sockets here, only bytes in and
 * bytes out, so the same engine serves the daemon and the station agent on
 * libuv (common/ts_conn.h) and can be driven directly by tests.
 *
 * Every SSL call clears the error queue first and drains the outgoing BIO
 * after (TLS 1.3 reads can write: key updates, tickets, alerts). */
#ifndef TS_TLS_H
#define TS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "common/ts_buf.h"
#include "common/ts_error.h"

typedef struct ts_tls_config {
    bool server;
    const char *ca_file;   /* the district CA: verifies the peer */
    const char *cert_file; /* our certificate (chain) */
    const char *key_file;
    const char *crl_file;  /* optional; when set, checked for the whole chain */
    bool allow_tls12;      /* TLS 1.3 only unless set */
    bool session_tickets;  /* off unless set: stateless, reusable (superseded by resumption) */
    /* TLS 1.3 resumption with early data. Server: single-use (stateful)
     * tickets kept in this context's memory, and early data accepted, held
     * until the handshake completes. Client: the ticket is kept in
     * session_file (mode 0600) and used once, with early data. */
    bool resumption;
    const char *session_file; /* client, with resumption */
    const char *groups;    /* default "X25519:P-256" */
    bool require_peer_cert; /* server: mutual TLS (default true via ts_tls_config_init) */
} ts_tls_config;

void ts_tls_config_init(ts_tls_config *cfg, bool server);

/* A reference-counted SSL_CTX: a reload makes a new one; connections keep the
 * one they started with until they close. */
typedef struct ts_tls_ctx ts_tls_ctx;

int ts_tls_ctx_new(ts_tls_ctx **out, const ts_tls_config *cfg, ts_error *err);
void ts_tls_ctx_ref(ts_tls_ctx *ctx);
void ts_tls_ctx_unref(ts_tls_ctx *ctx);
SSL_CTX *ts_tls_ctx_ssl(ts_tls_ctx *ctx);
/* Seconds until our own certificate expires (negative when expired). */
int64_t ts_tls_ctx_cert_expires_in(const ts_tls_ctx *ctx);

/* The most bytes a station sends before the handshake completes (early
 * data): enough to keep a slow link busy for the round trip it saves, little
 * enough to arrive within the handshake's timeout on a slow one. */
#define TS_TLS_EARLY_DATA_MAX (64 * 1024)
/* How long a ticket may be used: a week, the most TLS 1.3 allows. */
#define TS_TLS_TICKET_LIFETIME_S (7 * 24 * 3600)

typedef struct ts_tls_peer ts_tls_peer;
/* Whether this context's CRL revokes a certificate of the peer's chain. */
bool ts_tls_ctx_revokes(const ts_tls_ctx *ctx, const ts_tls_peer *peer);

typedef enum ts_tls_state {
    TS_TLS_HANDSHAKE = 0,
    TS_TLS_OPEN = 1,
    TS_TLS_CLOSED = 2, /* close_notify received or sent */
    TS_TLS_FAILED = 3
} ts_tls_state;

/* Why a handshake failed, in a few stable words for metrics and logs. */
typedef enum ts_tls_fail {
    TS_TLS_FAIL_NONE = 0,
    TS_TLS_FAIL_NO_CERTIFICATE,  /* the peer presented none */
    TS_TLS_FAIL_UNKNOWN_CA,      /* not issued by our CA */
    TS_TLS_FAIL_EXPIRED,
    TS_TLS_FAIL_NOT_YET_VALID,
    TS_TLS_FAIL_REVOKED,
    TS_TLS_FAIL_BAD_CERTIFICATE, /* any other verification failure */
    TS_TLS_FAIL_PROTOCOL,        /* not TLS, an old version, no common cipher */
    TS_TLS_FAIL_CLOSED,          /* the peer went away during the handshake */
    TS_TLS_FAIL_COUNT
} ts_tls_fail;

const char *ts_tls_fail_name(ts_tls_fail f);

/* Who the peer is, from its certificate only. */
#define TS_TLS_CHAIN_MAX 4

typedef struct ts_tls_peer {
    char cn[128];   /* station code (stations), host or admin name */
    char ou[32];    /* "station", "server", "admin-viewer", ... */
    char l[128];    /* commune (stations) */
    char serial[48];
    int64_t not_after; /* Unix seconds */
    /* serials of the verified chain below the root, leaf first, so a CRL
     * read later can still be checked against an open session */
    char chain[TS_TLS_CHAIN_MAX][48];
    int nchain;
} ts_tls_peer;

typedef struct ts_tls {
    SSL *ssl;
    BIO *net_in;  /* ciphertext from the network, read by SSL */
    BIO *net_out; /* ciphertext written by SSL, for the network */
    ts_tls_ctx *ctx;
    ts_tls_state state;
    bool server;
    ts_tls_peer peer;
    char error[200]; /* why it failed, for logs and tests */
    ts_tls_fail fail;
    bool resumed;      /* the handshake resumed an earlier session */
    /* server: early data is read while the handshake runs (reading_early)
     * and held here until it completes and the peer is checked again */
    bool reading_early;
    ts_buf early;
    /* client: bytes of the plaintext given to ts_tls_start_early that went
     * as early data (they go again when the server rejects them) */
    size_t early_sent;
    bool ticket_in_file; /* client: resuming with the ticket still in its file */
} ts_tls;

/* server_name (clients): the name the server certificate must carry. */
int ts_tls_init(ts_tls *t, ts_tls_ctx *ctx, const char *server_name, ts_error *err);
void ts_tls_free(ts_tls *t);

/* Client: produces the ClientHello into cipher_out. */
int ts_tls_start(ts_tls *t, ts_buf *cipher_out, ts_error *err);
/* Client: how many bytes may go as early data on this connection (0: no
 * ticket to resume, or none that allows early data). */
size_t ts_tls_early_budget(const ts_tls *t);
/* Client: the ClientHello and, resuming, as much of `plain` as the ticket
 * allows as early data (t->early_sent says how much). */
int ts_tls_start_early(ts_tls *t, const uint8_t *plain, size_t len, ts_buf *cipher_out, ts_error *err);
/* Once the handshake is done: "accepted", "rejected" or "none". A client
 * whose early data was rejected sends those bytes again. */
const char *ts_tls_early_status(const ts_tls *t);
bool ts_tls_early_accepted(const ts_tls *t);
/* Feeds ciphertext from the network; decrypted bytes are appended to
 * plain_out, anything to send back to cipher_out. Drives the handshake.
 * *handshake_done is set to true on the call that completes it. Returns 0,
 * or TS_ETLS (err and t->error say why; cipher_out may hold an alert to send). */
int ts_tls_feed(ts_tls *t, const uint8_t *cipher, size_t len, ts_buf *plain_out, ts_buf *cipher_out,
                bool *handshake_done, ts_error *err);
/* Encrypts plaintext into cipher_out (only once open). */
int ts_tls_write(ts_tls *t, const uint8_t *plain, size_t len, ts_buf *cipher_out, ts_error *err);
/* Server, once open and resuming is on: a single-use ticket for the peer's
 * next connection, into cipher_out. Only for a peer that keeps it (the
 * station says so in HELLO): another client would only fill the cache. */
bool ts_tls_issue_ticket(ts_tls *t, ts_buf *cipher_out);
/* Sends close_notify. */
void ts_tls_shutdown(ts_tls *t, ts_buf *cipher_out);
const char *ts_tls_version(const ts_tls *t);

#endif
