/* tramsyncd: the district sync daemon. One libuv loop serves every station
 * session over mutual TLS (docs/PROTOCOL.md); the store works on the thread
 * pool (server/ts_dbq.h). */
#ifndef TS_SERVER_H
#define TS_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "common/ts_config.h"
#include "common/ts_error.h"
#include "common/ts_registry.h"
#include "common/ts_store.h"
#include "common/ts_tls.h"
#include "proto/ts_msg.h"
#include "server/ts_dbq.h"

typedef struct ts_server_config {
    /* [server] */
    char *listen;
    char *data_dir;
    char *database;
    char *synchronous;
    char *log_level;
    char *tables;
    uint64_t max_connections;
    uint64_t handshake_timeout_ms;
    uint64_t hello_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t max_station_connections;
    uint64_t frame_timeout_ms;
    uint64_t frame_min_rate;
    uint64_t frame_budget;
    uint64_t heartbeat_ms;
    uint64_t max_frame;
    uint64_t max_changes;
    uint64_t pull_page;
    uint64_t proto_max;
    bool compress;
    uint64_t write_high_water;
    uint64_t write_low_water;
    uint64_t rate_messages;
    uint64_t rate_burst;
    uint64_t rate_changes;
    uint64_t max_clock_ahead_ms;
    uint64_t purge_interval_ms;
    uint64_t stats_interval_ms;
    /* [tls] */
    char *ca;
    char *cert;
    char *key;
    char *crl;
    bool allow_tls12;
    bool session_tickets;
    bool resumption; /* stations resume sessions (single-use tickets) with early data */
    /* [admin] */
    char *admin_listen;
    char *console_dir;
    uint64_t admin_session_ttl_ms;
    uint64_t admin_lockout_after;
    uint64_t admin_lockout_ms;
    uint64_t admin_login_failures_per_minute;
    char *admin_login_trusted;
    uint64_t admin_header_timeout_ms;
    uint64_t admin_body_timeout_ms;
    uint64_t admin_body_min_rate;
    uint64_t admin_max_unauthenticated;
    uint64_t admin_max_header;
    uint64_t admin_max_body;
    uint64_t admin_rate;
    uint64_t admin_rate_burst;
    uint64_t admin_silent_after_ms;
    uint64_t targets_every_ms;
    char *plan_file;     /* [admin] plan_file: loaded at start when no plan is */
    char *district_name; /* [district] name: the TTYT's, on exports */
    /* [district] the printed notices' heading and signature (ts_admin_documents.c) */
    char *district_parent_body;
    char *district_place;
    char *district_signer;
    char *district_signer_authority;
    /* [district] */
    char *timezone;
    /* [notices] */
    uint64_t escalate_interval_ms;
    uint64_t ack_within_thuong_ms;
    uint64_t ack_within_khan_ms;
    uint64_t ack_within_thuong_khan_ms;
    uint64_t ack_within_hoa_toc_ms;
    uint64_t remind_every_thuong_ms;
    uint64_t remind_every_khan_ms;
    uint64_t remind_every_thuong_khan_ms;
    uint64_t remind_every_hoa_toc_ms;
} ts_server_config;

extern const ts_cfg_key ts_server_config_keys[];

/* Defaults, then the file (when not NULL), then `--set` overrides. Relative
 * paths left empty are derived from data_dir. */
int ts_server_config_load(ts_server_config *cfg, const char *path, char **overrides, int noverrides,
                          ts_error *err);
void ts_server_config_free(ts_server_config *cfg);
/* Checks that every value makes sense together (paths exist, limits sane). */
int ts_server_config_check(const ts_server_config *cfg, ts_error *err);

typedef struct ts_server ts_server;

/* Why a connection was refused before HELLO: the TLS reasons, then these. */
enum {
    TS_REFUSED_TIMEOUT = TS_TLS_FAIL_COUNT, /* no complete handshake in time */
    TS_REFUSED_NOT_STATION,                 /* a valid certificate, but not a station's */
    TS_REFUSED_COUNT
};
const char *ts_refused_name(int reason);

typedef struct ts_server_stats {
    uint64_t connections;        /* open now */
    uint64_t sessions;           /* stations past HELLO now */
    uint64_t accepted;
    uint64_t rejected_busy;
    uint64_t handshakes_ok;
    uint64_t handshakes_failed;
    uint64_t refused[TS_REFUSED_COUNT]; /* by reason (index 0 unused) */
    uint64_t frames_in;
    uint64_t frames_out;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t changes_in;
    uint64_t changes_out;
    uint64_t changes_rejected;
    uint64_t conflicts;
    uint64_t protocol_errors;
    uint64_t rate_limited;
    uint64_t notices_sent;  /* NOTICE frames written to stations */
    uint64_t notices_acked; /* NOTICE_ACKs received */
    uint64_t loop_lag_ms_max;
    uint64_t loop_lag_ms_p99;
    uint64_t loop_lag_ms_p50;
    uint64_t memory_buffers; /* bytes held in connection buffers */
    uint64_t frame_budget_used;   /* bytes of [server] frame_budget held by frames being read */
    uint64_t frame_budget_waits;  /* frames that waited for the budget */
    uint64_t frame_timeouts;      /* frames not complete in time */
    uint64_t hello_timeouts;      /* connections without HELLO in time */
    uint64_t station_conn_limited; /* connections closed by max_station_connections */
    int64_t server_cert_expires_in; /* seconds */
} ts_server_stats;

int ts_server_start(ts_server **out, uv_loop_t *loop, const ts_server_config *cfg, ts_error *err);
/* Re-reads certificates, CRL and the reloadable settings; sessions stay. */
int ts_server_reload(ts_server *srv, const ts_server_config *cfg, ts_error *err);
/* Stops accepting, says BYE to every station once its work is done, closes
 * sessions with close_notify, waits for the store, then calls done. */
void ts_server_shutdown(ts_server *srv, void (*done)(ts_server *srv, void *arg), void *arg);
void ts_server_free(ts_server *srv);
void ts_server_get_stats(ts_server *srv, ts_server_stats *out);
/* The port actually bound (for listen = ...:0). */
int ts_server_port(ts_server *srv);
/* The admin listener's port (-1 when it is off). */
int ts_server_admin_port(ts_server *srv);

#endif
