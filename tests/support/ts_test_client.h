/* A small blocking TLS client for integration tests: it speaks the wire
 * protocol message by message, or sends arbitrary bytes, so tests can act as
 * a well-behaved station or as a broken or hostile one. */
#ifndef TS_TEST_CLIENT_H
#define TS_TEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "proto/ts_frame.h"
#include "proto/ts_msg.h"

typedef struct ts_tc_opts {
    const char *cert; /* NULL: present no certificate */
    const char *key;
    const char *ca;   /* verifies the server */
    int max_version;  /* e.g. TLS1_1_VERSION; 0 = default */
    int min_version;
} ts_tc_opts;

typedef struct ts_tc {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    ts_frame_decoder dec;
    ts_buf pending; /* bytes read beyond the last frame */
    char error[400];
    bool closed;
    int compressed_in; /* compressed frames received (read whether or not the session asked for them) */
} ts_tc;

/* TCP connect to 127.0.0.1:port without TLS (for plaintext tests). */
int ts_tc_connect_plain(ts_tc *c, int port);
/* TLS connect; returns 0 when the handshake completed, -1 otherwise (error
 * says why). With TLS 1.3 a refused client certificate often shows only on
 * the first read: use ts_tc_alive to tell. */
int ts_tc_connect(ts_tc *c, int port, const ts_tc_opts *opts);
/* True when the server keeps the session open (a read times out rather
 * than failing) for timeout_ms. */
bool ts_tc_alive(ts_tc *c, int timeout_ms);
int ts_tc_send_raw(ts_tc *c, const void *bytes, size_t len);
/* Plaintext socket bytes (no TLS). */
int ts_tc_send_plain(ts_tc *c, const void *bytes, size_t len);
int ts_tc_send(ts_tc *c, const ts_msg *msg);
/* 1: a message, 0: timeout, -1: closed or broken. */
int ts_tc_recv(ts_tc *c, ts_msg *out, int timeout_ms);
/* Receives until a message of `type` (skipping others); 1/0/-1 as above. */
int ts_tc_expect(ts_tc *c, ts_msg_type type, ts_msg *out, int timeout_ms);
/* HELLO for station with replica; WELCOME in *welcome (freed by caller). */
int ts_tc_hello(ts_tc *c, const char *station, const char *replica, uint64_t cursor, const char *server_db,
                uint64_t lseq, ts_msg *welcome);
void ts_tc_close(ts_tc *c);

/* Field values for hand-made changes. */
void ts_tc_put_str(ts_version *v, ts_arena *a, const char *name, const char *s, const ts_dot *dot, uint64_t hlc);
void ts_tc_put_int(ts_version *v, ts_arena *a, const char *name, int64_t x, const ts_dot *dot, uint64_t hlc);
void ts_tc_put_bool(ts_version *v, ts_arena *a, const char *name, bool x, const ts_dot *dot, uint64_t hlc);
/* A whole residents record written once at replica `rid` (vv {rid:
 * counter}), its strings in m's arena, stamped now. */
void ts_tc_make_resident(ts_msg *m, ts_change *ch, const char *id, const char *owner, const char *rid,
                         uint64_t counter, uint64_t lseq, const char *name);

#endif
