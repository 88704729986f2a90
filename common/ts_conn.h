/* A TLS connection on a libuv TCP handle, for the daemon and the agent.
 *
 * It owns two handles (the TCP stream and one timer) and frees nothing
 * before both close callbacks ran; then on_close tells the owner, which may
 * free the ts_conn itself. One write is in flight at a time; ciphertext
 * waiting behind it is bounded: above the high-water mark reading stops, so
 * a peer that does not read cannot make us buffer more (it also cannot make
 * us answer more). Decrypted bytes go to on_data as they come. */
#ifndef TS_CONN_H
#define TS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/ts_buf.h"
#include "common/ts_tls.h"

typedef struct ts_conn ts_conn;

typedef struct ts_conn_cb {
    /* TLS is established and OpenSSL verified the peer (c->tls.peer). */
    void (*on_open)(ts_conn *c);
    /* Decrypted bytes, in order. */
    void (*on_data)(ts_conn *c, const uint8_t *data, size_t len);
    /* The outgoing queue fell below the low-water mark. */
    void (*on_drain)(ts_conn *c);
    /* Both handles are closed; `reason` is 0 or a TS_E* code. The owner may
     * free c now (and only now). */
    void (*on_close)(ts_conn *c, int reason);
    /* The owner's deadline (ts_conn_set_deadline) passed, before or after
     * the handshake. NULL: the connection closes with TS_ETIMEOUT. */
    void (*on_deadline)(ts_conn *c);
} ts_conn_cb;

typedef struct ts_conn_limits {
    size_t high_water;            /* bytes queued before reading stops (default 256 KiB) */
    size_t low_water;             /* bytes queued when reading resumes (default 64 KiB) */
    uint64_t handshake_timeout_ms; /* default 10 s */
    uint64_t idle_timeout_ms;     /* after the handshake; 0 = none */
    /* server: TLS 1.3 early data held while the handshake runs lengthens the
     * handshake's clocks (its timeout and the owner's deadline) by its size
     * at this many bytes per second (0: not at all) */
    uint64_t early_min_rate;
} ts_conn_limits;

void ts_conn_limits_default(ts_conn_limits *l);

struct ts_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    ts_tls tls;
    ts_buf out;      /* ciphertext waiting for the next write */
    ts_buf early;    /* client: plaintext written before the handshake was done */
    ts_buf inflight; /* ciphertext of the write in flight */
    uv_write_t wreq;
    const ts_conn_cb *cb;
    ts_conn_limits limits;
    void *data; /* the owner's */
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t last_read_ms;
    uint64_t started_at;  /* loop clock (uv_now) at start: the handshake's deadline counts from it */
    uint64_t deadline_at; /* loop clock; 0: none */
    int close_reason;
    int read_error;    /* the libuv error that ended the connection (UV_EOF, UV_ECONNRESET, UV_EPIPE
                        * on a write, ...), 0: none */
    uint8_t handles_open;
    bool writing;
    bool user_paused;  /* the owner asked to stop reading */
    bool queue_paused; /* reading stopped because the queue is full */
    bool reading;
    bool open;         /* handshake done */
    bool closing;
    bool close_after_flush;
    bool initialised;
    char peer_addr[64];
};

/* Server side: init, uv_accept(listener, &c->tcp), then ts_conn_start. */
int ts_conn_init(ts_conn *c, uv_loop_t *loop, ts_tls_ctx *ctx, const ts_conn_cb *cb,
                 const ts_conn_limits *limits, ts_error *err);
int ts_conn_start(ts_conn *c, ts_error *err);

/* Client side: connects to addr and starts TLS, verifying the server
 * certificate against the context's CA and server_name. */
int ts_conn_connect(ts_conn *c, uv_loop_t *loop, ts_tls_ctx *ctx, const char *server_name,
                    const struct sockaddr *addr, const ts_conn_cb *cb, const ts_conn_limits *limits,
                    ts_error *err);

/* Encrypts and queues plaintext; fails once closing. A client may write
 * before the handshake is done: those bytes go as TLS 1.3 early data as far
 * as a resumed session allows (ts_conn_early_budget), the rest (or all of
 * them, when the server rejects early data) once the handshake is done,
 * before anything written later. */
int ts_conn_write(ts_conn *c, const uint8_t *data, size_t len);
/* Client, before the handshake: how many bytes may go as early data (0: no
 * ticket to resume; what is written waits for the handshake). */
size_t ts_conn_early_budget(const ts_conn *c);
/* Server: a TLS session ticket for the peer (ts_tls_issue_ticket). */
bool ts_conn_issue_ticket(ts_conn *c);
/* The owner stops or resumes reading (e.g. while the database works for it). */
void ts_conn_pause(ts_conn *c, bool paused);
/* A deadline of the owner's, in_ms from now (0: none), whatever the idle
 * and handshake timeouts say: when it passes, on_deadline runs once. */
void ts_conn_set_deadline(ts_conn *c, uint64_t in_ms);
/* Changes the idle timeout of an open connection (0: none) and re-arms. */
void ts_conn_set_idle_timeout(ts_conn *c, uint64_t ms);
/* Graceful: sends close_notify, flushes (bounded by a short timer), closes.
 * Otherwise closes at once. Safe to call more than once. */
void ts_conn_close(ts_conn *c, int reason, bool graceful);

size_t ts_conn_queued(const ts_conn *c);
/* Above the high-water mark: produce nothing more for this peer. */
bool ts_conn_congested(const ts_conn *c);
/* Bytes this connection holds in buffers (for memory accounting). */
size_t ts_conn_memory(const ts_conn *c);

#endif
