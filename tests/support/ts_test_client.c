#include "tests/support/ts_test_client.h"

#include "proto/ts_zframe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "common/ts_hlc.h"
#include "common/ts_store.h"
#include "common/ts_version.h"

static void set_err(ts_tc *c, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[200] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    snprintf(c->error, sizeof c->error, "%s: %s", what, e ? buf : strerror(errno));
    ERR_clear_error();
}

int ts_tc_connect_plain(ts_tc *c, int port)
{
    memset(c, 0, sizeof *c);
    ts_frame_decoder_init(&c->dec, 64 * 1024 * 1024);
    ts_buf_init(&c->pending);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        set_err(c, "connect");
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

int ts_tc_connect(ts_tc *c, int port, const ts_tc_opts *o)
{
    if (ts_tc_connect_plain(c, port) < 0)
        return -1;
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (o->max_version)
        SSL_CTX_set_max_proto_version(c->ctx, o->max_version);
    if (o->min_version)
        SSL_CTX_set_min_proto_version(c->ctx, o->min_version);
    if (o->max_version && o->max_version < TLS1_2_VERSION)
        SSL_CTX_set_security_level(c->ctx, 0);
    if (o->cert && (SSL_CTX_use_certificate_chain_file(c->ctx, o->cert) != 1 ||
                    SSL_CTX_use_PrivateKey_file(c->ctx, o->key, SSL_FILETYPE_PEM) != 1)) {
        set_err(c, "load client certificate");
        return -1;
    }
    if (o->ca) {
        SSL_CTX_load_verify_locations(c->ctx, o->ca, NULL);
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    }
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    struct timeval tv = {10, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ERR_clear_error();
    if (SSL_connect(c->ssl) != 1) {
        set_err(c, "TLS handshake");
        return -1;
    }
    return 0;
}

int ts_tc_send_plain(ts_tc *c, const void *bytes, size_t len)
{
    const uint8_t *p = bytes;
    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) {
            set_err(c, "send");
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int ts_tc_send_raw(ts_tc *c, const void *bytes, size_t len)
{
    ERR_clear_error();
    const uint8_t *p = bytes;
    while (len) {
        int n = SSL_write(c->ssl, p, (int)(len > 65536 ? 65536 : len));
        if (n <= 0) {
            set_err(c, "SSL_write");
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int ts_tc_send(ts_tc *c, const ts_msg *msg)
{
    ts_buf b = TS_BUF_INIT;
    ts_msg_encode(msg, &b);
    int rc = ts_tc_send_raw(c, b.data, b.len);
    ts_buf_free(&b);
    return rc;
}

/* Tries to complete a frame from what is already buffered. */
static int take_frame(ts_tc *c, ts_msg *out)
{
    while (c->pending.len > 0) {
        size_t used;
        const uint8_t *frame;
        size_t flen;
        ts_error err;
        int rc = ts_frame_decoder_feed(&c->dec, c->pending.data, c->pending.len, &used, &frame, &flen, &err);
        if (rc < 0) {
            snprintf(c->error, sizeof c->error, "bad frame from server: %s", err.msg);
            return -1;
        }
        if (rc == 0) {
            ts_buf_consume(&c->pending, used);
            return 0;
        }
        ts_proto_limits lim;
        ts_proto_limits_default(&lim);
        lim.max_frame = 64 * 1024 * 1024;
        /* whichever version the session speaks: a version-1 frame reads
         * the same at 2, and CHANGES of a version-2 session are compact */
        lim.proto = TS_PROTO_VERSION_MAX;
        ts_buf z = TS_BUF_INIT;
        if (ts_zframe_is(frame, flen)) {
            c->compressed_in++;
            rc = ts_zframe_unwrap(frame, flen, lim.max_frame, &z, &err);
            if (rc == 0)
                rc = ts_msg_decode(z.data, z.len, &lim, out, &err);
        } else {
            rc = ts_msg_decode(frame, flen, &lim, out, &err);
        }
        ts_buf_free(&z);
        ts_buf_consume(&c->pending, used);
        if (rc < 0) {
            snprintf(c->error, sizeof c->error, "bad message from server: %s", err.msg);
            return -1;
        }
        return 1;
    }
    return 0;
}

int ts_tc_recv(ts_tc *c, ts_msg *out, int timeout_ms)
{
    int rc = take_frame(c, out);
    if (rc != 0)
        return rc;
    if (c->closed)
        return -1;
    for (;;) {
        if (SSL_pending(c->ssl) == 0) {
            struct pollfd p = {c->fd, POLLIN, 0};
            int pr = poll(&p, 1, timeout_ms);
            if (pr == 0)
                return 0;
        }
        uint8_t buf[16384];
        ERR_clear_error();
        int n = SSL_read(c->ssl, buf, sizeof buf);
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ)
                continue;
            set_err(c, e == SSL_ERROR_ZERO_RETURN ? "closed by server (close_notify)" : "SSL_read");
            if (e == SSL_ERROR_ZERO_RETURN)
                snprintf(c->error, sizeof c->error, "closed by server (close_notify)");
            c->closed = true;
            return -1;
        }
        ts_buf_append(&c->pending, buf, (size_t)n);
        rc = take_frame(c, out);
        if (rc != 0)
            return rc;
    }
}

int ts_tc_expect(ts_tc *c, ts_msg_type type, ts_msg *out, int timeout_ms)
{
    for (;;) {
        int rc = ts_tc_recv(c, out, timeout_ms);
        if (rc <= 0)
            return rc;
        if (out->type == type)
            return 1;
        ts_msg_free(out);
    }
}

bool ts_tc_alive(ts_tc *c, int timeout_ms)
{
    ts_msg m;
    int rc = ts_tc_recv(c, &m, timeout_ms);
    if (rc == 1) {
        ts_msg_free(&m);
        return true;
    }
    return rc == 0;
}

int ts_tc_hello(ts_tc *c, const char *station, const char *replica, uint64_t cursor, const char *server_db,
                uint64_t lseq, ts_msg *welcome)
{
    ts_msg m;
    ts_msg_init(&m, TS_MSG_HELLO);
    ts_msg_hello *h = &m.u.hello;
    h->proto_min = TS_PROTO_VERSION_MIN;
    h->proto_max = TS_PROTO_VERSION_MAX;
    h->agent = "tramsync-test/" TS_VERSION;
    h->replica = replica;
    h->station = station;
    h->server_db = server_db ? server_db : "";
    h->cursor = cursor;
    h->lseq = lseq;
    h->live = true;
    int rc = ts_tc_send(c, &m);
    ts_msg_free(&m);
    if (rc < 0)
        return -1;
    rc = ts_tc_recv(c, welcome, 10000);
    if (rc != 1)
        return -1;
    if (welcome->type != TS_MSG_WELCOME) {
        snprintf(c->error, sizeof c->error, "expected WELCOME, got %s%s%s", ts_msg_type_name(welcome->type),
                 welcome->type == TS_MSG_ERROR ? ": " : "",
                 welcome->type == TS_MSG_ERROR ? welcome->u.error.message : "");
        return -1;
    }
    return 0;
}

void ts_tc_close(ts_tc *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    if (c->fd > 0)
        close(c->fd);
    ts_frame_decoder_free(&c->dec);
    ts_buf_free(&c->pending);
    memset(c, 0, sizeof *c);
}

void ts_tc_put_str(ts_version *v, ts_arena *a, const char *name, const char *s, const ts_dot *dot, uint64_t hlc)
{
    ts_buf b = TS_BUF_INIT;
    ts_value_str(&b, s);
    ts_version_put(v, a, name, b.data, b.len, dot, hlc);
    ts_buf_free(&b);
}

void ts_tc_put_int(ts_version *v, ts_arena *a, const char *name, int64_t x, const ts_dot *dot, uint64_t hlc)
{
    ts_buf b = TS_BUF_INIT;
    ts_value_int(&b, x);
    ts_version_put(v, a, name, b.data, b.len, dot, hlc);
    ts_buf_free(&b);
}

void ts_tc_put_bool(ts_version *v, ts_arena *a, const char *name, bool x, const ts_dot *dot, uint64_t hlc)
{
    ts_buf b = TS_BUF_INIT;
    ts_value_bool(&b, x);
    ts_version_put(v, a, name, b.data, b.len, dot, hlc);
    ts_buf_free(&b);
}

void ts_tc_make_resident(ts_msg *m, ts_change *ch, const char *id, const char *owner, const char *rid,
                         uint64_t counter, uint64_t lseq, const char *name)
{
    ch->table = "residents";
    ch->id = ts_msg_strdup(m, id);
    ch->owner = ts_msg_strdup(m, owner);
    ch->lseq = lseq;
    ts_rid r;
    ts_rid_set_cstr(&r, rid);
    ts_vv_set(&ch->v.vv, &r, counter);
    ts_dot dot = {r, counter};
    uint64_t h = TS_HLC_MAKE(ts_wall_ms(), 0);
    ts_tc_put_str(&ch->v, &m->arena, "full_name", name, &dot, h);
    ts_tc_put_str(&ch->v, &m->arena, "birth_date", "1962-03-15", &dot, h);
    ts_tc_put_str(&ch->v, &m->arena, "sex", "female", &dot, h);
    ts_tc_put_bool(&ch->v, &m->arena, TS_FIELD_DELETED, false, &dot, h);
}
