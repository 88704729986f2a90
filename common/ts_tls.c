#include "common/ts_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/ts_log.h"
#include "common/ts_xmalloc.h"

/* A saved ticket is a session of a few kilobytes (it holds the district's
 * certificate): anything larger in that file is not ours. */
#define TS__TICKET_FILE_MAX (64 * 1024)
/* Sessions a district keeps for resumption: one per station's next
 * connection, plus the tickets of connections that ended before use. */
#define TS__SESSION_CACHE_MAX 1024

struct ts_tls_ctx {
    SSL_CTX *ssl_ctx;
    int refs;
    bool resumption;
    char *session_file; /* client: where the ticket is kept */
    /* client: the SHA-256 of our own certificate, the session id context of
     * every session it makes: a ticket resumes only under the certificate
     * it was issued for */
    unsigned char own_id[SSL_MAX_SID_CTX_LENGTH];
    unsigned int own_id_len;
    int64_t cert_not_after;
    /* revocation, from the CRL read once (its signature checked then),
     * instead of OpenSSL checking the CRL again on every handshake */
    bool crl;
    int64_t crl_next_update; /* Unix seconds; 0: none given */
    char **revoked;          /* serials, uppercase hex, sorted */
    size_t nrevoked;
};

static int64_t ts__asn1_time_unix(const ASN1_TIME *t);

static int ts__str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A certificate serial as uppercase hex, as the CRL list is kept; NULL when
 * OpenSSL cannot convert it. OPENSSL_free it. */
static char *ts__serial_hex(const ASN1_INTEGER *serial)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    BN_free(bn);
    return hex;
}

/* Each certificate of the chain below the root (the district CA issues
 * them all, so its CRL lists them all): revoked, or an expired CRL, fails
 * the handshake with OpenSSL's own errors. */
static bool ts__serial_revoked(const ts_tls_ctx *ctx, const char *hex)
{
    return hex != NULL && ctx->nrevoked > 0 &&
           bsearch(&hex, ctx->revoked, ctx->nrevoked, sizeof *ctx->revoked, ts__str_cmp) != NULL;
}

bool ts_tls_ctx_revokes(const ts_tls_ctx *ctx, const ts_tls_peer *peer)
{
    if (!ctx->crl)
        return false;
    for (int i = 0; i < peer->nchain; i++)
        if (ts__serial_revoked(ctx, peer->chain[i]))
            return true;
    return false;
}

static int ts__verify_cb(int ok, X509_STORE_CTX *store)
{
    if (!ok)
        return ok;
    X509 *current = X509_STORE_CTX_get_current_cert(store);
    if (current == NULL || (X509_get_extension_flags(current) & EXFLAG_SS) != 0)
        return ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    /* A client's own certificate must say it is for client authentication:
     * OpenSSL's purpose check lets one without extendedKeyUsage through. */
    if (ssl != NULL && SSL_is_server(ssl) && X509_STORE_CTX_get_error_depth(store) == 0 &&
        ((X509_get_extension_flags(current) & EXFLAG_XKUSAGE) == 0 ||
         (X509_get_extended_key_usage(current) & XKU_SSL_CLIENT) == 0)) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_INVALID_PURPOSE);
        return 0;
    }
    const ts_tls_ctx *ctx = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
    if (ctx == NULL || !ctx->crl)
        return ok;
    if (ctx->crl_next_update != 0 && ctx->crl_next_update < (int64_t)time(NULL)) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_CRL_HAS_EXPIRED);
        return 0;
    }
    char *hex = ts__serial_hex(X509_get0_serialNumber(current));
    bool revoked = ts__serial_revoked(ctx, hex);
    OPENSSL_free(hex);
    if (revoked) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REVOKED);
        return 0;
    }
    return ok;
}

/* Reads the CRL, checks it was signed by one of the CAs in ca_file, and
 * keeps its serials. */
static int ts__load_crl(ts_tls_ctx *ctx, const char *crl_file, const char *ca_file, ts_error *err)
{
    BIO *b = BIO_new_file(crl_file, "r");
    if (b == NULL) {
        ERR_clear_error();
        return ts_error_set(err, TS_ETLS, "cannot open CRL %s", crl_file);
    }
    X509_CRL *crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
    BIO_free(b);
    ERR_clear_error();
    if (crl == NULL)
        return ts_error_set(err, TS_ETLS, "no CRL in %s", crl_file);
    bool signed_by_ca = false;
    if ((b = BIO_new_file(ca_file, "r")) != NULL) {
        X509 *ca;
        while (!signed_by_ca && (ca = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
            EVP_PKEY *key = X509_get0_pubkey(ca);
            signed_by_ca = X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) == 0 && key != NULL &&
                           X509_CRL_verify(crl, key) == 1;
            X509_free(ca);
        }
        BIO_free(b);
    }
    ERR_clear_error();
    if (!signed_by_ca) {
        X509_CRL_free(crl);
        return ts_error_set(err, TS_ETLS, "CRL %s is not signed by the CA in %s", crl_file, ca_file);
    }
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
    ctx->crl_next_update = next ? ts__asn1_time_unix(next) : 0;
    if (ctx->crl_next_update != 0 && ctx->crl_next_update < (int64_t)time(NULL)) {
        /* every handshake would fail: refuse it now, where ops see why */
        X509_CRL_free(crl);
        return ts_error_set(err, TS_ETLS, "CRL %s has expired: re-issue it (tramsyncctl ca crl) and reload", crl_file);
    }
    STACK_OF(X509_REVOKED) *list = X509_CRL_get_REVOKED(crl);
    int n = list ? sk_X509_REVOKED_num(list) : 0;
    ctx->revoked = ts_xcalloc(n > 0 ? (size_t)n : 1, sizeof *ctx->revoked);
    for (int i = 0; i < n; i++) {
        char *hex = ts__serial_hex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(list, i)));
        if (hex != NULL)
            ctx->revoked[ctx->nrevoked++] = ts_xstrdup(hex);
        OPENSSL_free(hex);
    }
    if (ctx->nrevoked > 1)
        qsort(ctx->revoked, ctx->nrevoked, sizeof *ctx->revoked, ts__str_cmp);
    ctx->crl = true;
    X509_CRL_free(crl);
    return 0;
}

/* ---------------------------------------------------------------- tickets */

/* Client: the district's ticket, kept for the next connection. It is as
 * secret as the key beside it (whoever holds it can resume this station's
 * session once), so it is written like one: 0600, whole or not at all. */
static int ts__ticket_save(SSL *ssl, SSL_SESSION *sess)
{
    const ts_tls_ctx *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (ctx == NULL || ctx->session_file == NULL || !SSL_SESSION_is_resumable(sess))
        return 0;
    /* the name it is for, checked when it is used: OpenSSL keeps it only
     * when the server acknowledged it */
    SSL_SESSION *copy = SSL_SESSION_dup(sess);
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    int n = copy != NULL && (name == NULL || SSL_SESSION_set1_hostname(copy, name) == 1) ? i2d_SSL_SESSION(copy, NULL) : 0;
    if (n <= 0 || n > TS__TICKET_FILE_MAX) {
        SSL_SESSION_free(copy);
        ERR_clear_error();
        return 0;
    }
    unsigned char *der = ts_xmalloc((size_t)n), *p = der;
    i2d_SSL_SESSION(copy, &p);
    SSL_SESSION_free(copy);
    char *tmp = ts_xasprintf("%s.tmp", ctx->session_file);
    const char *why = NULL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        why = strerror(errno);
    } else {
        size_t off = 0;
        while (off < (size_t)n && why == NULL) {
            ssize_t w = write(fd, der + off, (size_t)n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                why = w < 0 ? strerror(errno) : "short write";
            else
                off += (size_t)w;
        }
    }
    if (fd >= 0 && close(fd) != 0 && why == NULL)
        why = strerror(errno);
    if (why == NULL && rename(tmp, ctx->session_file) != 0)
        why = strerror(errno);
    if (why != NULL) {
        ts_log_warn("tls_ticket_not_saved", "path=%s error=%s", ctx->session_file, why);
        unlink(tmp);
    }
    OPENSSL_cleanse(der, (size_t)n);
    free(der);
    free(tmp);
    ERR_clear_error();
    return 0; /* the session is not kept in memory */
}

/* What the server said a ticket is good for (OpenSSL 3.0 keeps its own
 * default timeout in the client's session). */
static int64_t ts__ticket_lifetime(const SSL_SESSION *sess)
{
    unsigned long hint = SSL_SESSION_get_ticket_lifetime_hint(sess);
    if (hint == 0 || hint > TS_TLS_TICKET_LIFETIME_S)
        hint = hint == 0 ? (unsigned long)SSL_SESSION_get_timeout(sess) : TS_TLS_TICKET_LIFETIME_S;
    return (int64_t)hint;
}

/* Client: the saved ticket, taken out of its file (a ticket resumes once),
 * when it is still good for this server under TLS 1.3. */
static void ts__ticket_load(ts_tls *t, const char *server_name)
{
    const char *path = t->ctx->session_file;
    if (path == NULL)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return;
    unsigned char *der = ts_xmalloc(TS__TICKET_FILE_MAX);
    size_t len = 0;
    ssize_t r;
    while (len < TS__TICKET_FILE_MAX && ((r = read(fd, der + len, TS__TICKET_FILE_MAX - len)) > 0 ||
                                         (r < 0 && errno == EINTR)))
        if (r > 0)
            len += (size_t)r;
    close(fd);
    const unsigned char *p = der;
    SSL_SESSION *sess = len > 0 && len < TS__TICKET_FILE_MAX ? d2i_SSL_SESSION(NULL, &p, (long)len) : NULL;
    OPENSSL_cleanse(der, TS__TICKET_FILE_MAX);
    free(der);
    const char *host = sess ? SSL_SESSION_get0_hostname(sess) : NULL;
    /* issued under our certificate as it is now: one replaced since (a new
     * certificate enrolled, or another station's) begins with a full
     * handshake, as the district must see the certificate it verifies */
    unsigned int idlen = 0;
    const unsigned char *id = sess ? SSL_SESSION_get0_id_context(sess, &idlen) : NULL;
    bool ours = id != NULL && idlen == t->ctx->own_id_len && memcmp(id, t->ctx->own_id, idlen) == 0;
    bool good = sess != NULL && ours && SSL_SESSION_is_resumable(sess) &&
                SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION &&
                (int64_t)SSL_SESSION_get_time(sess) + ts__ticket_lifetime(sess) > (int64_t)time(NULL) &&
                (server_name == NULL || server_name[0] == '\0' || (host != NULL && strcmp(host, server_name) == 0));
    if (good && SSL_set_session(t->ssl, sess) == 1)
        t->ticket_in_file = true; /* taken out when the ClientHello goes (ts__ticket_take) */
    else
        unlink(path); /* good for nothing */
    SSL_SESSION_free(sess);
    ERR_clear_error();
}

/* Client, as the ClientHello leaves: a ticket resumes once, so it leaves
 * its file now (not before: a connection that never got that far has not
 * spent it). One that cannot be removed is not used, or every connection
 * after would offer it again, spent. */
static void ts__ticket_take(ts_tls *t)
{
    if (!t->ticket_in_file)
        return;
    t->ticket_in_file = false;
    if (unlink(t->ctx->session_file) != 0 && errno != ENOENT) {
        ts_log_warn("tls_ticket_not_saved", "path=%s error=%s", t->ctx->session_file, strerror(errno));
        SSL_set_session(t->ssl, NULL);
        ERR_clear_error();
    }
}

void ts_tls_config_init(ts_tls_config *cfg, bool server)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->server = server;
    cfg->groups = "X25519:P-256";
    cfg->require_peer_cert = true;
}

/* The first error of the OpenSSL queue, as text, then the queue emptied. */
static void ts__ssl_errors(char *buf, size_t size, const char *fallback)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        snprintf(buf, size, "%s", fallback);
    else
        ERR_error_string_n(e, buf, size);
    ERR_clear_error();
}

static int ts__ctx_fail(SSL_CTX *c, ts_error *err, const char *what, const char *path)
{
    char why[200];
    ts__ssl_errors(why, sizeof why, "unknown error");
    SSL_CTX_free(c);
    return ts_error_set(err, TS_ETLS, "%s%s%s: %s", what, path ? " " : "", path ? path : "", why);
}

static int64_t ts__asn1_time_unix(const ASN1_TIME *t)
{
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

int ts_tls_ctx_new(ts_tls_ctx **out, const ts_tls_config *cfg, ts_error *err)
{
    *out = NULL;
    ERR_clear_error();
    SSL_CTX *c = SSL_CTX_new(cfg->server ? TLS_server_method() : TLS_client_method());
    if (c == NULL)
        return ts__ctx_fail(NULL, err, "cannot create TLS context", NULL);

    if (!SSL_CTX_set_min_proto_version(c, cfg->allow_tls12 ? TLS1_2_VERSION : TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION))
        return ts__ctx_fail(c, err, "cannot set TLS versions", NULL);
    if (!SSL_CTX_set1_groups_list(c, cfg->groups ? cfg->groups : "X25519:P-256"))
        return ts__ctx_fail(c, err, "cannot set key exchange groups", cfg->groups);
    if (cfg->allow_tls12 &&
        !SSL_CTX_set_cipher_list(c, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305"))
        return ts__ctx_fail(c, err, "cannot set TLS 1.2 ciphers", NULL);
    long opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE;
    /* a server resuming keeps its tickets (SSL_OP_NO_TICKET is TLS 1.3's
     * stateful tickets): each is found once in its cache and removed, so a
     * replayed ClientHello resumes nothing and its early data is skipped */
    bool stateless = cfg->session_tickets && !(cfg->server && cfg->resumption);
    bool client_resumes = !cfg->server && cfg->resumption;
    if (!stateless && !client_resumes)
        opts |= SSL_OP_NO_TICKET;
    SSL_CTX_set_options(c, (uint64_t)opts);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (cfg->server && cfg->resumption) {
        static const unsigned char sid_ctx[] = "tramsync-sync";
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(c, TS__SESSION_CACHE_MAX);
        SSL_CTX_set_timeout(c, TS_TLS_TICKET_LIFETIME_S);
        /* none at the handshake's end: one when the peer asks for it
         * (ts_tls_issue_ticket), after its certificate was checked again */
        SSL_CTX_set_num_tickets(c, 0);
        if (!SSL_CTX_set_session_id_context(c, sid_ctx, sizeof sid_ctx - 1) ||
            !SSL_CTX_set_max_early_data(c, TS_TLS_EARLY_DATA_MAX) ||
            !SSL_CTX_set_recv_max_early_data(c, TS_TLS_EARLY_DATA_MAX))
            return ts__ctx_fail(c, err, "cannot set up TLS resumption", NULL);
    } else if (cfg->server && !cfg->session_tickets) {
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(c, 0);
        /* a station's ticket from before a restart with resumption off:
         * its early data is skipped (up to this much), not a failed handshake */
        if (!SSL_CTX_set_recv_max_early_data(c, TS_TLS_EARLY_DATA_MAX))
            return ts__ctx_fail(c, err, "cannot set the early data limit", NULL);
    } else if (!cfg->server && cfg->resumption && cfg->session_file != NULL) {
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c, ts__ticket_save);
    }

    if (cfg->cert_file != NULL) {
        if (SSL_CTX_use_certificate_chain_file(c, cfg->cert_file) != 1)
            return ts__ctx_fail(c, err, "cannot load certificate", cfg->cert_file);
        if (SSL_CTX_use_PrivateKey_file(c, cfg->key_file, SSL_FILETYPE_PEM) != 1)
            return ts__ctx_fail(c, err, "cannot load private key", cfg->key_file);
        if (SSL_CTX_check_private_key(c) != 1)
            return ts__ctx_fail(c, err, "private key does not match certificate", cfg->key_file);
    } else if (cfg->server) {
        SSL_CTX_free(c);
        return ts_error_set(err, TS_ETLS, "a TLS server needs a certificate and key");
    }
    unsigned char own_id[SSL_MAX_SID_CTX_LENGTH];
    unsigned int own_id_len = 0;
    if (!cfg->server && cfg->resumption && cfg->session_file != NULL && SSL_CTX_get0_certificate(c) != NULL &&
        (X509_digest(SSL_CTX_get0_certificate(c), EVP_sha256(), own_id, &own_id_len) != 1 ||
         own_id_len > sizeof own_id || !SSL_CTX_set_session_id_context(c, own_id, own_id_len)))
        return ts__ctx_fail(c, err, "cannot set up TLS resumption", NULL);

    if (cfg->ca_file == NULL) {
        SSL_CTX_free(c);
        return ts_error_set(err, TS_ETLS, "no CA file: the peer cannot be verified");
    }
    if (SSL_CTX_load_verify_locations(c, cfg->ca_file, NULL) != 1)
        return ts__ctx_fail(c, err, "cannot load CA", cfg->ca_file);
    if (cfg->server) {
        /* the client CA list sent in CertificateRequest */
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ca_file);
        if (names != NULL)
            SSL_CTX_set_client_CA_list(c, names);
    }
    int mode = SSL_VERIFY_PEER;
    if (cfg->server && cfg->require_peer_cert)
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(c, mode, ts__verify_cb);
    SSL_CTX_set_verify_depth(c, 4);
    SSL_CTX_set_purpose(c, cfg->server ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER);

    ts_tls_ctx *ctx = ts_xcalloc(1, sizeof *ctx);
    ctx->ssl_ctx = c;
    ctx->refs = 1;
    ctx->resumption = cfg->resumption;
    if (!cfg->server && cfg->resumption && cfg->session_file != NULL) {
        ctx->session_file = ts_xstrdup(cfg->session_file);
        memcpy(ctx->own_id, own_id, own_id_len);
        ctx->own_id_len = own_id_len;
    }
    SSL_CTX_set_app_data(c, ctx);
    if (cfg->crl_file != NULL && cfg->crl_file[0] != '\0') {
        int rc = ts__load_crl(ctx, cfg->crl_file, cfg->ca_file, err);
        if (rc < 0) {
            ts_tls_ctx_unref(ctx);
            return rc;
        }
    }
    X509 *own = SSL_CTX_get0_certificate(c);
    if (own != NULL)
        ctx->cert_not_after = ts__asn1_time_unix(X509_get0_notAfter(own));
    *out = ctx;
    return 0;
}

void ts_tls_ctx_ref(ts_tls_ctx *ctx)
{
    ctx->refs++;
}

void ts_tls_ctx_unref(ts_tls_ctx *ctx)
{
    if (ctx == NULL || --ctx->refs > 0)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    for (size_t i = 0; i < ctx->nrevoked; i++)
        free(ctx->revoked[i]);
    free(ctx->revoked);
    free(ctx->session_file);
    free(ctx);
}

SSL_CTX *ts_tls_ctx_ssl(ts_tls_ctx *ctx)
{
    return ctx->ssl_ctx;
}

int64_t ts_tls_ctx_cert_expires_in(const ts_tls_ctx *ctx)
{
    return ctx->cert_not_after ? ctx->cert_not_after - (int64_t)time(NULL) : 0;
}

/* ---------------------------------------------------------------- connections */

int ts_tls_init(ts_tls *t, ts_tls_ctx *ctx, const char *server_name, ts_error *err)
{
    memset(t, 0, sizeof *t);
    ERR_clear_error();
    t->ssl = SSL_new(ctx->ssl_ctx);
    t->net_in = BIO_new(BIO_s_mem());
    t->net_out = BIO_new(BIO_s_mem());
    if (t->ssl == NULL || t->net_in == NULL || t->net_out == NULL) {
        ts__ssl_errors(t->error, sizeof t->error, "out of memory");
        SSL_free(t->ssl);
        BIO_free(t->net_in);
        BIO_free(t->net_out);
        memset(t, 0, sizeof *t);
        return ts_error_set(err, TS_ETLS, "cannot create TLS session: %s", "out of memory");
    }
    /* an empty memory BIO means "try again", not end of file */
    BIO_set_mem_eof_return(t->net_in, -1);
    BIO_set_mem_eof_return(t->net_out, -1);
    SSL_set_bio(t->ssl, t->net_in, t->net_out);
    t->ctx = ctx;
    ts_tls_ctx_ref(ctx);
    t->server = SSL_is_server(t->ssl) != 0;
    if (t->server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        if (server_name != NULL && server_name[0] != '\0') {
            SSL_set_tlsext_host_name(t->ssl, server_name);
            if (SSL_set1_host(t->ssl, server_name) != 1) {
                ts_tls_free(t);
                return ts_error_set(err, TS_ETLS, "cannot set the expected server name %s", server_name);
            }
        }
        if (ctx->resumption)
            ts__ticket_load(t, server_name);
    }
    t->reading_early = t->server && ctx->resumption;
    t->state = TS_TLS_HANDSHAKE;
    return 0;
}

void ts_tls_free(ts_tls *t)
{
    /* a session whose connection was cut without close_notify is dropped
     * from the cache by OpenSSL; a cut on a rural link is no reason to take
     * the station's next ticket away (a failed handshake still drops it) */
    if (t->ssl != NULL && t->server && t->state == TS_TLS_OPEN)
        SSL_set_shutdown(t->ssl, SSL_get_shutdown(t->ssl) | SSL_SENT_SHUTDOWN);
    if (t->ssl != NULL)
        SSL_free(t->ssl); /* frees both BIOs */
    if (t->ctx != NULL)
        ts_tls_ctx_unref(t->ctx);
    ts_buf_free(&t->early);
    t->ssl = NULL;
    t->ctx = NULL;
}

static void ts__drain(ts_tls *t, ts_buf *cipher_out)
{
    char chunk[16384];
    int n;
    while ((n = BIO_read(t->net_out, chunk, sizeof chunk)) > 0)
        ts_buf_append(cipher_out, chunk, (size_t)n);
}

static void ts__name_entry(X509_NAME *name, int nid, char *out, size_t size)
{
    out[0] = '\0';
    int i = X509_NAME_get_index_by_NID(name, nid, -1);
    if (i < 0)
        return;
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, s);
    if (n > 0) {
        snprintf(out, size, "%.*s", n, (const char *)utf8);
        /* control characters never reach logs or identities */
        for (char *p = out; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
    }
    OPENSSL_free(utf8);
}

static void ts__peer_chain_add(ts_tls *t, X509 *x)
{
    if ((X509_get_extension_flags(x) & EXFLAG_SS) != 0 || t->peer.nchain >= TS_TLS_CHAIN_MAX)
        return; /* the root is trusted, not revoked */
    char *h = ts__serial_hex(X509_get0_serialNumber(x));
    bool seen = false;
    for (int i = 0; h != NULL && i < t->peer.nchain && !seen; i++)
        seen = strcmp(t->peer.chain[i], h) == 0;
    if (h != NULL && !seen)
        snprintf(t->peer.chain[t->peer.nchain++], sizeof t->peer.chain[0], "%s", h);
    OPENSSL_free(h);
}

static void ts__read_peer(ts_tls *t)
{
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    if (cert == NULL)
        return;
    X509_NAME *subj = X509_get_subject_name(cert);
    ts__name_entry(subj, NID_commonName, t->peer.cn, sizeof t->peer.cn);
    ts__name_entry(subj, NID_organizationalUnitName, t->peer.ou, sizeof t->peer.ou);
    ts__name_entry(subj, NID_localityName, t->peer.l, sizeof t->peer.l);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    if (bn != NULL) {
        char *hex = BN_bn2hex(bn);
        if (hex != NULL)
            snprintf(t->peer.serial, sizeof t->peer.serial, "%s", hex);
        OPENSSL_free(hex);
        BN_free(bn);
    }
    t->peer.not_after = ts__asn1_time_unix(X509_get0_notAfter(cert));
    STACK_OF(X509) *chain = SSL_get0_verified_chain(t->ssl);
    if (chain == NULL || sk_X509_num(chain) == 0) {
        /* a resumed session verified nothing and keeps no verified chain:
         * the leaf and what the peer sent when the session began */
        ts__peer_chain_add(t, cert);
        chain = SSL_get_peer_cert_chain(t->ssl);
    }
    for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++)
        ts__peer_chain_add(t, sk_X509_value(chain, i));
}

const char *ts_tls_fail_name(ts_tls_fail f)
{
    static const char *const names[TS_TLS_FAIL_COUNT] = {
        "none",          "no_certificate", "unknown_ca", "expired", "not_yet_valid",
        "revoked",       "bad_certificate", "protocol",   "closed",
    };
    return (unsigned)f < TS_TLS_FAIL_COUNT ? names[f] : "unknown";
}

static ts_tls_fail ts__verify_fail(long verify)
{
    switch (verify) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CRL_HAS_EXPIRED: return TS_TLS_FAIL_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID: return TS_TLS_FAIL_NOT_YET_VALID;
    case X509_V_ERR_CERT_REVOKED: return TS_TLS_FAIL_REVOKED;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE: return TS_TLS_FAIL_UNKNOWN_CA;
    default: return TS_TLS_FAIL_BAD_CERTIFICATE;
    }
}

static int ts__fail(ts_tls *t, int ssl_err, ts_buf *cipher_out, ts_error *err)
{
    char why[160];
    long verify = SSL_get_verify_result(t->ssl);
    unsigned long first = ERR_peek_error();
    if (verify != X509_V_OK) {
        snprintf(why, sizeof why, "certificate verify failed: %s", X509_verify_cert_error_string(verify));
        t->fail = ts__verify_fail(verify);
        ERR_clear_error();
    } else if (ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN) {
        ts__ssl_errors(why, sizeof why, "connection closed during TLS");
        t->fail = TS_TLS_FAIL_CLOSED;
    } else {
        ts__ssl_errors(why, sizeof why, "TLS protocol error");
        t->fail = ERR_GET_LIB(first) == ERR_LIB_SSL && ERR_GET_REASON(first) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE
                      ? TS_TLS_FAIL_NO_CERTIFICATE
                      : TS_TLS_FAIL_PROTOCOL;
    }
    snprintf(t->error, sizeof t->error, "%s", why);
    t->state = TS_TLS_FAILED;
    ts__drain(t, cipher_out); /* the alert, if OpenSSL produced one */
    return ts_error_set(err, TS_ETLS, "%s", why);
}

int ts_tls_start(ts_tls *t, ts_buf *cipher_out, ts_error *err)
{
    ts__ticket_take(t);
    ERR_clear_error();
    int rc = SSL_do_handshake(t->ssl);
    if (rc <= 0) {
        int e = SSL_get_error(t->ssl, rc);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            return ts__fail(t, e, cipher_out, err);
    }
    ts__drain(t, cipher_out);
    return 0;
}

size_t ts_tls_early_budget(const ts_tls *t)
{
    SSL_SESSION *sess = t->ssl && !t->server ? SSL_get_session(t->ssl) : NULL;
    if (sess == NULL || t->state != TS_TLS_HANDSHAKE || !SSL_SESSION_is_resumable(sess))
        return 0;
    uint32_t max = SSL_SESSION_get_max_early_data(sess);
    return max < TS_TLS_EARLY_DATA_MAX ? max : TS_TLS_EARLY_DATA_MAX;
}

int ts_tls_start_early(ts_tls *t, const uint8_t *plain, size_t len, ts_buf *cipher_out, ts_error *err)
{
    t->early_sent = 0;
    ts__ticket_take(t);
    size_t budget = ts_tls_early_budget(t);
    if (len > budget)
        len = budget;
    while (t->early_sent < len) {
        size_t written = 0;
        ERR_clear_error();
        int rc = SSL_write_early_data(t->ssl, plain + t->early_sent, len - t->early_sent, &written);
        ts__drain(t, cipher_out);
        if (rc != 1) {
            int e = SSL_get_error(t->ssl, rc);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                break; /* what did not go early goes once the handshake is done */
            return ts__fail(t, e, cipher_out, err);
        }
        t->early_sent += written;
    }
    if (t->early_sent == 0)
        return ts_tls_start(t, cipher_out, err);
    return 0;
}

bool ts_tls_early_accepted(const ts_tls *t)
{
    return t->ssl != NULL && SSL_get_early_data_status(t->ssl) == SSL_EARLY_DATA_ACCEPTED;
}

const char *ts_tls_early_status(const ts_tls *t)
{
    switch (t->ssl ? SSL_get_early_data_status(t->ssl) : SSL_EARLY_DATA_NOT_SENT) {
    case SSL_EARLY_DATA_ACCEPTED: return "accepted";
    case SSL_EARLY_DATA_REJECTED: return "rejected";
    default: return "none";
    }
}

/* The time certificates are checked at: now, unless the context's
 * verification parameters say another (as OpenSSL's own checks do). */
static time_t ts__check_time(const ts_tls *t)
{
    X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
    if (vp != NULL && (X509_VERIFY_PARAM_get_flags(vp) & X509_V_FLAG_USE_CHECK_TIME) != 0)
        return X509_VERIFY_PARAM_get_time(vp);
    return time(NULL);
}

static long ts__validity(X509 *x, time_t *now)
{
    if (X509_cmp_time(X509_get0_notBefore(x), now) > 0)
        return X509_V_ERR_CERT_NOT_YET_VALID;
    if (X509_cmp_time(X509_get0_notAfter(x), now) < 0)
        return X509_V_ERR_CERT_HAS_EXPIRED;
    return X509_V_OK;
}

/* OpenSSL verifies nothing when a session resumes: what could have changed
 * since it began is checked again here (the certificates' dates, the CRL's,
 * the revoked serials), before a byte of early data is let through. */
static long ts__recheck_resumed(ts_tls *t)
{
    time_t now = ts__check_time(t);
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    if (cert == NULL)
        return t->server && (SSL_get_verify_mode(t->ssl) & SSL_VERIFY_FAIL_IF_NO_PEER_CERT) != 0
                   ? X509_V_ERR_UNSPECIFIED
                   : X509_V_OK;
    long v = ts__validity(cert, &now);
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(t->ssl);
    for (int i = 0; v == X509_V_OK && chain != NULL && i < sk_X509_num(chain); i++)
        v = ts__validity(sk_X509_value(chain, i), &now);
    if (v != X509_V_OK)
        return v;
    if (t->ctx->crl && t->ctx->crl_next_update != 0 && t->ctx->crl_next_update < (int64_t)now)
        return X509_V_ERR_CRL_HAS_EXPIRED;
    if (ts_tls_ctx_revokes(t->ctx, &t->peer))
        return X509_V_ERR_CERT_REVOKED;
    return X509_V_OK;
}

/* Server: early data comes while the handshake runs; it is held until the
 * handshake is done and the peer checked. 1: no more early data. */
static int ts__read_early(ts_tls *t, ts_buf *cipher_out, ts_error *err)
{
    for (;;) {
        uint8_t chunk[16384];
        size_t n = 0;
        ERR_clear_error();
        int rc = SSL_read_early_data(t->ssl, chunk, sizeof chunk, &n);
        ts__drain(t, cipher_out);
        if (n > 0)
            ts_buf_append(&t->early, chunk, n);
        if (rc == SSL_READ_EARLY_DATA_SUCCESS)
            continue;
        if (rc == SSL_READ_EARLY_DATA_FINISH) {
            t->reading_early = false;
            return 1;
        }
        int e = SSL_get_error(t->ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        return ts__fail(t, e, cipher_out, err);
    }
}

/* The handshake is done. A resumed session is checked again; only then is
 * the early data the peer sent let through. */
static int ts__handshake_done(ts_tls *t, ts_buf *plain_out, ts_error *err)
{
    t->resumed = SSL_session_reused(t->ssl) == 1;
    /* resuming is TLS 1.3's single-use tickets: a TLS 1.2 session, which
     * the cache took by its id at the handshake's end and would resume as
     * often as asked, is taken out again at once */
    if (t->server && t->ctx->resumption && SSL_version(t->ssl) != TLS1_3_VERSION)
        SSL_CTX_remove_session(t->ctx->ssl_ctx, SSL_get_session(t->ssl));
    ts__read_peer(t);
    if (t->resumed) {
        long v = ts__recheck_resumed(t);
        if (v != X509_V_OK) {
            snprintf(t->error, sizeof t->error, "certificate verify failed: %s (resumed session)",
                     v == X509_V_ERR_UNSPECIFIED ? "no peer certificate" : X509_verify_cert_error_string(v));
            t->fail = v == X509_V_ERR_UNSPECIFIED ? TS_TLS_FAIL_NO_CERTIFICATE : ts__verify_fail(v);
            t->state = TS_TLS_FAILED;
            ts_buf_free(&t->early);
            if (t->server)
                SSL_CTX_remove_session(t->ctx->ssl_ctx, SSL_get_session(t->ssl));
            ERR_clear_error();
            return ts_error_set(err, TS_ETLS, "%s", t->error);
        }
    }
    if (t->early.len > 0) {
        ts_buf_append(plain_out, t->early.data, t->early.len);
        ts_buf_free(&t->early);
    }
    t->state = TS_TLS_OPEN;
    return 0;
}

int ts_tls_feed(ts_tls *t, const uint8_t *cipher, size_t len, ts_buf *plain_out, ts_buf *cipher_out,
                bool *handshake_done, ts_error *err)
{
    *handshake_done = false;
    if (t->state == TS_TLS_FAILED)
        return ts_error_set(err, TS_ETLS, "%s", t->error);
    if (len > 0 && BIO_write(t->net_in, cipher, (int)len) != (int)len)
        return ts_error_set(err, TS_ETLS, "cannot buffer TLS input");

    if (t->state == TS_TLS_HANDSHAKE) {
        if (t->reading_early) {
            int rc = ts__read_early(t, cipher_out, err);
            if (rc <= 0)
                return rc;
        }
        ERR_clear_error();
        int rc = SSL_do_handshake(t->ssl);
        ts__drain(t, cipher_out);
        if (rc <= 0) {
            int e = SSL_get_error(t->ssl, rc);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return 0;
            return ts__fail(t, e, cipher_out, err);
        }
        if ((rc = ts__handshake_done(t, plain_out, err)) < 0)
            return rc;
        *handshake_done = true;
    }

    while (t->state == TS_TLS_OPEN) {
        uint8_t chunk[16384];
        ERR_clear_error();
        int n = SSL_read(t->ssl, chunk, sizeof chunk);
        ts__drain(t, cipher_out);
        if (n > 0) {
            ts_buf_append(plain_out, chunk, (size_t)n);
            continue;
        }
        int e = SSL_get_error(t->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify */
            t->state = TS_TLS_CLOSED;
            break;
        }
        return ts__fail(t, e, cipher_out, err);
    }
    return 0;
}

bool ts_tls_issue_ticket(ts_tls *t, ts_buf *cipher_out)
{
    if (!t->server || t->state != TS_TLS_OPEN || !t->ctx->resumption || SSL_version(t->ssl) != TLS1_3_VERSION)
        return false;
    ERR_clear_error();
    bool issued = SSL_new_session_ticket(t->ssl) == 1 && SSL_do_handshake(t->ssl) == 1;
    ts__drain(t, cipher_out);
    ERR_clear_error();
    return issued;
}

int ts_tls_write(ts_tls *t, const uint8_t *plain, size_t len, ts_buf *cipher_out, ts_error *err)
{
    if (t->state != TS_TLS_OPEN)
        return ts_error_set(err, TS_ETLS, "TLS session is not open");
    while (len > 0) {
        ERR_clear_error();
        int chunk = len > 65536 ? 65536 : (int)len;
        int n = SSL_write(t->ssl, plain, chunk);
        ts__drain(t, cipher_out);
        if (n <= 0)
            return ts__fail(t, SSL_get_error(t->ssl, n), cipher_out, err);
        plain += n;
        len -= (size_t)n;
    }
    return 0;
}

void ts_tls_shutdown(ts_tls *t, ts_buf *cipher_out)
{
    if (t->state != TS_TLS_OPEN && t->state != TS_TLS_CLOSED)
        return;
    ERR_clear_error();
    SSL_shutdown(t->ssl);
    ts__drain(t, cipher_out);
    ERR_clear_error();
    t->state = TS_TLS_CLOSED;
}

const char *ts_tls_version(const ts_tls *t)
{
    return t->ssl ? SSL_get_version(t->ssl) : "none";
}
