/* Internals shared by server/ts_server.c and server/ts_session.c. */
#ifndef TS_SERVER_INT_H
#define TS_SERVER_INT_H

#include "common/ts_conn.h"
#include "proto/ts_frame.h"
#include "server/ts_server.h"

#define TS__LAG_SAMPLES 240

typedef enum ts_session_state {
    TS_SESS_HANDSHAKE = 0,
    TS_SESS_HELLO = 1, /* TLS up, waiting for HELLO */
    TS_SESS_READY = 2,
    TS_SESS_CLOSING = 3
} ts_session_state;

typedef struct ts_session ts_session;

struct ts_session {
    ts_conn conn; /* conn.data == this session */
    ts_server *srv;
    ts_session *prev, *next;
    int refs; /* the connection, plus one per store job in flight */
    ts_session_state state;
    ts_frame_decoder dec;
    ts_buf stash;  /* bytes received while a job runs, processed after */
    bool busy;     /* a store job is running for this session */
    struct ts__job *job; /* that job (ts_session.c), NULL when none */
    bool live;     /* the station is caught up: new changes go to it at once */
    bool live_wanted;
    bool ticket_issued; /* a TLS session ticket went to the station (HELLO.ticket) */
    bool live_again; /* new changes arrived while busy or congested */
    bool pull_again; /* a streamed PULL answer has its next page to send */
    uint64_t pull_next;  /* where that page starts */
    uint32_t pull_limit; /* and its size */
    uint32_t stream_window;  /* PULL.window of the streamed answer, 0: none */
    uint32_t stream_unacked; /* its streamed pages sent and not yet credited */
    bool bye_sent;
    bool hello_done; /* reached READY once (the state moves on to CLOSING) */
    bool rekey;
    uint64_t proto;
    bool zstd_offered; /* HELLO offered "zstd-1" and the district takes it */
    bool zstd;         /* WELCOME said so: frames from now on may be compressed */
    uint64_t sent_cursor; /* the highest seq sent in live mode */
    char station[TS_KEY_MAX + 1];
    char commune[128];
    char serial[48];
    ts_rid replica;
    double tokens;        /* message rate limit bucket */
    double change_tokens; /* change rate limit bucket */
    uint64_t tokens_at_ms;
    uv_timer_t rate_timer;
    bool rate_timer_open;
    bool rate_paused;
    uint64_t connected_ms;
    uint64_t last_sync_ms; /* last push applied or pull caught up, this session */
    char agent[64];
    bool hello_seen;       /* a HELLO arrived: its deadline is met */
    bool budget_waiting;   /* a frame header was read; its body waits for the frame budget */
    uint32_t budget_held;  /* bytes of the frame budget the frame being read holds */
    ts_session *budget_next; /* in the server's queue of waiting sessions */
};

struct ts_server {
    uv_loop_t *loop;
    ts_server_config cfg; /* the current settings (a deep copy) */
    ts_proto_limits limits;
    ts_conn_limits conn_limits;
    ts_registry reg;
    ts_store *store;
    ts_dbq dbq;
    ts_tls_ctx *tls;
    uv_tcp_t listener;
    bool listener_open;
    uv_timer_t lag_timer;
    uv_timer_t maint_timer;
    uv_timer_t stats_timer;
    uint64_t lag_expected_ms;
    uint32_t lag_samples[TS__LAG_SAMPLES];
    uint32_t lag_next;
    uint32_t lag_count;
    ts_session *sessions;
    uint64_t nconns;
    /* [server] frame_budget: what frames being read hold, and who waits */
    uint64_t budget_used;
    ts_session *budget_head, *budget_tail;
    uint64_t freed_since_trim; /* bytes of frames given back since malloc_trim */
    uint64_t trimmed_at;       /* loop clock */
    ts_server_stats stats;
    bool draining;
    bool maint_running;
    int handles_open;
    void (*shutdown_done)(ts_server *srv, void *arg);
    void *shutdown_arg;
    char db_id[40];
    ts_rid replica;
    struct ts_admin *admin;
    bool admin_stopping;
};

/* ts_session.c */
void ts_session_accept(ts_server *srv);
void ts_session_shutdown(ts_session *s);
/* The session's certificate was revoked (reload): work not yet done for it
 * is dropped or cancelled, it is told and closed. */
void ts_session_revoke(ts_session *s);
/* New versions visible to `station` (NULL: to every station) were committed. */
void ts_server_notify(ts_server *srv, const char *station);
void ts_session_unref(ts_session *s);
/* ts_server.c */
void ts_server_session_gone(ts_server *srv, ts_session *s);
/* Bytes of large buffers were freed: give memory back to the system soon. */
void ts_server_note_freed(ts_server *srv, uint64_t bytes);
void ts_server_maybe_finish(ts_server *srv);

#endif
