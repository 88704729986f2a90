#include "client/ts_agent.h"
#include "client/ts_agent_report.h"
#include "client/ts_agent_status.h"
#include "client/ts_station_day.h"
#include "client/ts_station_notices.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <sqlite3.h>

#include "common/ts_conn.h"
#include "common/ts_log.h"
#include "common/ts_notice.h"
#include "common/ts_registry.h"
#include "common/ts_store.h"
#include "common/ts_version.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_frame.h"
#include "proto/ts_msg.h"
#include "proto/ts_zframe.h"

#define C(field) offsetof(ts_agent_config, field)
/* a push batch holds this many times [sync] push_batch changes when frames are compressed */
#define TS__ZSTD_BATCH_FACTOR 4
/* Bytes per second early data is given to cross before WELCOME: the
 * district's default frame_min_rate, which it gives early data too. */
#define TS__EARLY_MIN_RATE 2048

const ts_cfg_key ts_agent_config_keys[] = {
    {"station", "code", TS_CFG_STR, C(code), "", "this station's code, as in its certificate (e.g. binhnguyen)"},
    {"station", "commune", TS_CFG_STR, C(commune), "", "the commune this station serves"},
    {"station", "data_dir", TS_CFG_STR, C(data_dir), "/var/lib/tramsync",
     "directory of the replica database, key and certificates"},
    {"station", "database", TS_CFG_STR, C(database), "", "replica database (empty: <data_dir>/station.db)"},
    {"station", "log_level", TS_CFG_STR, C(log_level), "info", "debug, info, warn or error"},
    {"station", "tables", TS_CFG_STR, C(tables), "", "table registry JSON (empty: built in)"},
    {"station", "synchronous", TS_CFG_STR, C(synchronous), "full", "full, normal or off (tests only)"},
    {"server", "address", TS_CFG_STR, C(address), "127.0.0.1:7443", "the district server, host:port"},
    {"server", "server_name", TS_CFG_STR, C(server_name), "",
     "name the server certificate must carry (empty: the host part of address)"},
    {"tls", "ca", TS_CFG_STR, C(ca), "", "the district CA, pinned (empty: <data_dir>/ca.pem)"},
    {"tls", "cert", TS_CFG_STR, C(cert), "", "this station's certificate (empty: <data_dir>/station.pem)"},
    {"tls", "key", TS_CFG_STR, C(key), "", "this station's private key (empty: <data_dir>/station.key)"},
    {"tls", "allow_tls12", TS_CFG_BOOL, C(allow_tls12), "false", "accept TLS 1.2 as well as 1.3"},
    {"tls", "resume", TS_CFG_BOOL, C(resume), "true",
     "resume the last session with the district (TLS 1.3, its single-use ticket kept in session_file) and send "
     "HELLO and the first PUSH with the first bytes, a round trip earlier (0-RTT early data)"},
    {"tls", "session_file", TS_CFG_STR, C(session_file), "",
     "where the district's ticket is kept, mode 0600 (empty: <data_dir>/tls-session.der)"},
    {"sync", "interval", TS_CFG_DURATION, C(interval_ms), "60s", "sync at least this often"},
    {"sync", "debounce", TS_CFG_DURATION, C(debounce_ms), "1s", "wait this long after a local write before pushing"},
    {"sync", "debounce_max", TS_CFG_DURATION, C(debounce_max_ms), "5s",
     "push at most this long after the first of a run of local writes, however often more follow"},
    {"sync", "keepalive", TS_CFG_DURATION, C(keepalive_ms), "15s",
     "ping the district this often on a quiet connection (or at its heartbeat, when shorter)"},
    {"sync", "dead_after", TS_CFG_DURATION, C(dead_after_ms), "45s",
     "a connection that heard nothing from the district for this long is dead: it is closed and tried again"},
    {"sync", "poll", TS_CFG_DURATION, C(poll_ms), "500ms", "how often to look for local writes"},
    {"sync", "backoff_min", TS_CFG_DURATION, C(backoff_min_ms), "1s", "first retry delay after a failure"},
    {"sync", "backoff_max", TS_CFG_DURATION, C(backoff_max_ms), "5m", "longest retry delay"},
    {"sync", "connect_timeout", TS_CFG_DURATION, C(connect_timeout_ms), "20s",
     "give up a connection attempt after (resuming: plus the early data's time at 2 KiB/s)"},
    {"sync", "push_batch", TS_CFG_U64, C(push_batch), "1000", "most changes in one PUSH"},
    {"sync", "pull_page", TS_CFG_U64, C(pull_page), "1000", "most changes asked for in one PULL"},
    {"sync", "pull_stream", TS_CFG_BOOL, C(pull_stream), "true",
     "ask for a PULL's pages one after the other without a round trip each (a slow link stays busy)"},
    {"sync", "pull_window", TS_CFG_U64, C(pull_window), "3",
     "with pull_stream: the most pages the district may send ahead of those stored here (0: no limit); a notice "
     "sent meanwhile waits behind at most these"},
    {"sync", "live", TS_CFG_BOOL, C(live), "true", "stay connected and receive changes as they happen"},
    {"sync", "pipeline", TS_CFG_BOOL, C(pipeline), "true",
     "send the first PUSH right behind HELLO, in the terms of the district's last WELCOME, instead of a round trip "
     "later (a district whose terms changed refuses it and it goes again)"},
    {"sync", "compress", TS_CFG_BOOL, C(compress), "true",
     "offer frame compression (zstd with the built-in dictionary), used where it makes a frame smaller"},
    {"sync", "proto_max", TS_CFG_U64, C(proto_max), "3",
     "highest protocol version to offer (1: the version-1 change maps, for a district that only speaks them; 2: version-2 compact changes)"},
    {"sync", "status_every", TS_CFG_DURATION, C(status_every_ms), "1m",
     "write this station's station_agent_status record (what waits here, the last error) at most this often, and "
     "only when it changed"},
    {"district", "timezone", TS_CFG_STR, C(timezone), "",
     "the time zone of the station's days, e.g. Asia/Ho_Chi_Minh (empty: the district's, as it says when the agent "
     "connects; Asia/Ho_Chi_Minh until then)"},
    {NULL, NULL, 0, 0, NULL, NULL},
};

char *ts_agent_config_path(const char *data_dir)
{
    return ts_xasprintf("%s/tramsync.conf", data_dir);
}

static void ts__derive(char **field, const char *dir, const char *name)
{
    if (*field != NULL && (*field)[0] != '\0')
        return;
    free(*field);
    *field = ts_xasprintf("%s/%s", dir, name);
}

int ts_agent_config_load(ts_agent_config *cfg, const char *data_dir, const char *path, char **overrides,
                         int noverrides, ts_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    int rc = ts_cfg_defaults(cfg, ts_agent_config_keys, err);
    if (rc < 0)
        return rc;
    if (data_dir != NULL)
        ts_cfg_set(cfg, ts_agent_config_keys, "station", "data_dir", data_dir, err);
    char *conf = path ? ts_xstrdup(path) : ts_agent_config_path(cfg->data_dir);
    struct stat st;
    if (path != NULL || stat(conf, &st) == 0)
        rc = ts_cfg_load(cfg, ts_agent_config_keys, conf, err);
    free(conf);
    /* the directory given on the command line wins over the file's */
    if (rc == 0 && data_dir != NULL)
        rc = ts_cfg_set(cfg, ts_agent_config_keys, "station", "data_dir", data_dir, err);
    for (int i = 0; rc == 0 && i < noverrides; i++)
        rc = ts_cfg_override(cfg, ts_agent_config_keys, overrides[i], err);
    if (rc < 0)
        return rc;
    if (cfg->timezone[0] != '\0' && !ts_tz_valid(cfg->timezone)) {
        rc = ts_error_set(err, TS_EBAD_VALUE,
                          "[district] timezone = %.100s: not a time zone of this machine's tz database (e.g. "
                          "Asia/Ho_Chi_Minh)",
                          cfg->timezone);
        ts_cfg_free(cfg, ts_agent_config_keys);
        return rc;
    }
    ts__derive(&cfg->database, cfg->data_dir, "station.db");
    ts__derive(&cfg->ca, cfg->data_dir, "ca.pem");
    ts__derive(&cfg->cert, cfg->data_dir, "station.pem");
    ts__derive(&cfg->key, cfg->data_dir, "station.key");
    ts__derive(&cfg->session_file, cfg->data_dir, "tls-session.der");
    if (cfg->server_name[0] == '\0') {
        free(cfg->server_name);
        const char *a = cfg->address;
        const char *colon = strrchr(a, ':');
        size_t n = colon ? (size_t)(colon - a) : strlen(a);
        if (n >= 2 && a[0] == '[' && a[n - 1] == ']')
            cfg->server_name = ts_xstrndup(a + 1, n - 2);
        else
            cfg->server_name = ts_xstrndup(a, n);
    }
    return 0;
}

void ts_agent_config_free(ts_agent_config *cfg)
{
    ts_cfg_free(cfg, ts_agent_config_keys);
}

/* ---------------------------------------------------------------- the agent */

typedef enum ts_agent_state {
    TS_AGENT_IDLE = 0,    /* not connected; a retry is scheduled */
    TS_AGENT_RESOLVING,
    TS_AGENT_CONNECTING,  /* TCP and TLS */
    TS_AGENT_HELLO,       /* HELLO sent */
    TS_AGENT_READY,
    TS_AGENT_STOPPED
} ts_agent_state;

struct ts_agent {
    uv_loop_t *loop;
    ts_agent_config cfg;
    ts_registry reg;
    ts_store *store;
    ts_tls_ctx *tls;
    ts_agent_state state;
    ts_conn *conn;
    ts_frame_decoder dec;
    ts_proto_limits limits;
    uv_getaddrinfo_t gai;
    uv_timer_t retry_timer; /* reconnect after backoff; connect timeout */
    uv_timer_t sync_timer;
    uv_timer_t poll_timer;
    uv_timer_t debounce_timer;
    uv_timer_t ping_timer;
    int handles_open;
    sqlite3_stmt *data_version_q;
    uint64_t data_version;
    uint32_t attempt;
    uint64_t batch;
    bool push_inflight;
    bool push_again;
    uint64_t push_upto;
    ts_change_page push_page;
    uint64_t push_hold_until_ms; /* after CLOCK_AHEAD or RATE_LIMITED */
    bool pull_inflight;
    bool zstd; /* the district took our offer of frame compression */
    bool early; /* HELLO sent and a PUSH behind it, in the terms of the last WELCOME (sync.pipeline) */
    bool began_early; /* HELLO (and that PUSH) written before the handshake was done: 0-RTT */
    uint32_t early_proto;
    bool early_zstd;
    uint64_t cursor;
    char server_db[64];
    uint64_t heartbeat_ms;
    uint64_t max_frame;
    uint64_t max_changes; /* WELCOME.max_changes: the most in one PUSH */
    uint64_t ping_nonce;
    uint64_t last_alive_write_ms;
    uint64_t pending_since_ms; /* first local write not pushed yet (debounce_max) */
    int64_t skew_ms;           /* this PC's clock minus the district's, at the last WELCOME */
    bool clock_hold;           /* pushes wait for CLOCK_AHEAD: a local change (clock-fix) retries at once */
    uint64_t ready_since_ms;
    uint32_t replaced;         /* sessions lately replaced by another agent with this certificate */
    bool bye_received;
    char bye_reason[128];
    int lock_fd;               /* <database>-agent.lock, held while running */
    ts_agent_status status;    /* what `tramsync status` reads, even when the database cannot be written */
    ts_agent_report report;    /* what the district reads of it: the station_agent_status record */
    uint64_t report_look_ms;
    bool storage_failing;      /* the last write to the database failed */
    bool rekey_now;
    bool stopping;
    void (*stop_done)(ts_agent *a, void *arg);
    void *stop_arg;
};

static void ts__connect(ts_agent *a);
static void ts__push(ts_agent *a);
static void ts__pull(ts_agent *a);

static const char *ts__code(const ts_agent *a)
{
    return a->cfg.code;
}

static void ts__status(ts_agent *a, const char *key, const char *value)
{
    ts_agent_status_set(&a->status, key, value);
}

static void ts__status_u64(ts_agent *a, const char *key, uint64_t value)
{
    ts_agent_status_set_u64(&a->status, key, value);
}

/* The station database could not be written (a full disk, most often):
 * staff must see it in `status`, which reads the status file, not the
 * database. Cleared by the next write that works. */
static void ts__storage_failed(ts_agent *a, const char *what, const ts_error *err)
{
    if (err->code != TS_ESTORAGE)
        return;
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s", what, err->msg);
    if (!a->storage_failing)
        ts_log_error("storage_failing", "station=%s what=%s reason=%s", ts__code(a), what, err->msg);
    a->storage_failing = true;
    ts__status(a, "storage_problem", msg);
    ts__status_u64(a, "storage_problem_ms", ts_wall_ms());
}

static void ts__storage_ok(ts_agent *a)
{
    if (!a->storage_failing)
        return;
    a->storage_failing = false;
    ts_log_info("storage_recovered", "station=%s", ts__code(a));
    ts__status(a, "storage_problem", "");
}

/* Sync state that must outlive the process goes into the database. */
static void ts__keep(ts_agent *a, const char *key, const char *value)
{
    ts_error err;
    if (ts_store_meta_set(a->store, key, value) < 0) {
        ts_error_set(&err, TS_ESTORAGE, "cannot save %s", key);
        ts__storage_failed(a, "saving sync state", &err);
    }
}

static void ts__keep_u64(ts_agent *a, const char *key, uint64_t value)
{
    char v[24];
    snprintf(v, sizeof v, "%" PRIu64, value);
    ts__keep(a, key, v);
}

static void ts__error(ts_agent *a, const char *what, const char *detail)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s", what, detail);
    ts__status(a, "last_error", msg);
    ts__status_u64(a, "last_error_ms", ts_wall_ms());
}

/* ---------------------------------------------------------------- sending */

static int ts__send(ts_agent *a, ts_msg *m)
{
    if (a->conn == NULL || a->state < TS_AGENT_HELLO)
        return TS_EIO;
    ts_buf b = TS_BUF_INIT;
    ts_msg_encode(m, &b);
    if (a->zstd)
        ts_zframe_wrap(&b);
    int rc = ts_conn_write(a->conn, b.data, b.len);
    ts_buf_free(&b);
    return rc;
}

static void ts__disconnect(ts_agent *a, int reason)
{
    if (a->conn != NULL)
        ts_conn_close(a->conn, reason, true);
}

/* ---------------------------------------------------------------- backoff */

static uint64_t ts__backoff(ts_agent *a)
{
    uint64_t d = a->cfg.backoff_min_ms;
    for (uint32_t i = 0; i < a->attempt && d < a->cfg.backoff_max_ms; i++)
        d *= 2;
    if (d > a->cfg.backoff_max_ms)
        d = a->cfg.backoff_max_ms;
    /* jitter over the upper half, so thousands of stations spread out */
    uint32_t r = 0;
    RAND_bytes((unsigned char *)&r, sizeof r);
    uint64_t jittered = d / 2 + (d / 2 ? (uint64_t)r % (d / 2 + 1) : 0);
    if (a->attempt < 30)
        a->attempt++;
    return jittered ? jittered : 1;
}

static void ts__retry_fired(uv_timer_t *t)
{
    ts_agent *a = t->data;
    if (a->state == TS_AGENT_IDLE && !a->stopping) {
        ts__connect(a);
    } else if ((a->state == TS_AGENT_CONNECTING || a->state == TS_AGENT_RESOLVING || a->state == TS_AGENT_HELLO) &&
               a->conn != NULL) {
        /* no WELCOME either is a connection that does not work */
        ts_log_info("connect_timeout", "station=%s address=%s state=%s", ts__code(a), a->cfg.address,
                    a->state == TS_AGENT_HELLO ? "hello" : "connecting");
        ts__error(a, "connect", "timed out");
        ts__disconnect(a, TS_ETIMEOUT);
    }
}

static void ts__schedule_retry(ts_agent *a, uint64_t delay)
{
    if (a->stopping)
        return;
    a->state = TS_AGENT_IDLE;
    ts_log_info("reconnect_scheduled", "station=%s in_ms=%" PRIu64 " attempt=%u", ts__code(a), delay, a->attempt);
    uv_timer_start(&a->retry_timer, ts__retry_fired, delay, 0);
}

/* ---------------------------------------------------------------- connection */

static void ts__finish_stop(ts_agent *a);

/* Why a connection ended, in words for the log and `tramsync status`: the
 * district's BYE or close_notify, a reset, a cut without close_notify, a
 * silent path, and whether it ended in the middle of a frame. */
static const char *ts__why_closed(ts_agent *a, const ts_conn *c, int reason, char *out, size_t size)
{
    const char *what;
    char tmp[256];
    if (a->bye_received)
        snprintf(tmp, sizeof tmp, "the district said goodbye (%s)", a->bye_reason);
    else if (reason == TS_ETIMEOUT && c->open)
        snprintf(tmp, sizeof tmp, "no answer from the district for %" PRIu64 " s (the path is dead)",
                 a->cfg.dead_after_ms / 1000);
    else if (c->tls.error[0])
        snprintf(tmp, sizeof tmp, "%s", c->tls.error);
    else if (c->read_error == UV_ECONNRESET || c->read_error == UV_EPIPE)
        snprintf(tmp, sizeof tmp, "the connection was reset");
    else if (c->read_error == UV_EOF && c->tls.state != TS_TLS_CLOSED)
        snprintf(tmp, sizeof tmp, "the connection was cut (closed without TLS close_notify)");
    else if (c->read_error != 0 && c->read_error != UV_EOF)
        snprintf(tmp, sizeof tmp, "%s", uv_strerror(c->read_error));
    else if (c->tls.state == TS_TLS_CLOSED && reason == 0)
        snprintf(tmp, sizeof tmp, "closed by the district");
    else if (reason != 0)
        snprintf(tmp, sizeof tmp, "%s", ts_strerror(reason));
    else
        snprintf(tmp, sizeof tmp, "closed");
    what = tmp;
    if (ts_frame_decoder_in_frame(&a->dec))
        snprintf(out, size, "%s, in the middle of a frame (%zu of %u bytes)", what,
                 a->dec.hdr_have < 4 ? (size_t)a->dec.hdr_have : 4 + a->dec.body.len,
                 a->dec.hdr_have < 4 ? 4u : 4u + a->dec.need);
    else
        snprintf(out, size, "%s", what);
    return out;
}

static void ts__on_conn_close(ts_conn *c, int reason)
{
    ts_agent *a = c->data;
    bool was_ready = a->state == TS_AGENT_READY;
    char why[384];
    ts__why_closed(a, c, reason, why, sizeof why);
    /* anything but our own stop, a BYE or the district's close_notify is a fault */
    bool clean = a->stopping || a->bye_received || (c->tls.state == TS_TLS_CLOSED && reason == 0 && c->tls.error[0] == 0 &&
                                                   !ts_frame_decoder_in_frame(&a->dec));
    ts_log_info("disconnected", "station=%s reason=%s detail=%s was=%s", ts__code(a),
                reason ? ts_err_name(reason) : clean ? "normal" : "IO", why, was_ready ? "connected" : "connecting");
    /* a close this agent decided for a reason of the district's (an ERROR,
     * REPLACED, a rekey) already said so in the status */
    bool ours = reason != 0 && reason != TS_ETIMEOUT && reason != TS_EIO && reason != TS_ETLS;
    if (!clean && !ours)
        ts__error(a, "connection", why);
    free(c);
    a->conn = NULL;
    a->push_inflight = false;
    a->pull_inflight = false;
    a->zstd = false;
    a->early = false;
    a->began_early = false;
    a->bye_received = false;
    ts_change_page_reset(&a->push_page);
    ts_frame_decoder_free(&a->dec);
    uv_timer_stop(&a->ping_timer);
    ts__status(a, "connected", "0");
    if (a->stopping) {
        ts__finish_stop(a);
        return;
    }
    if (a->rekey_now) {
        a->rekey_now = false;
        ts__schedule_retry(a, 10);
        return;
    }
    /* replaced by another agent with this certificate: back off, longer
     * each time, rather than take the session back at once */
    if (reason == TS_EREPLACED && a->attempt < 4 + a->replaced)
        a->attempt = 4 + a->replaced;
    ts__schedule_retry(a, ts__backoff(a));
}

static void ts__send_hello(ts_agent *a)
{
    ts_msg m;
    ts_msg_init(&m, TS_MSG_HELLO);
    ts_msg_hello *h = &m.u.hello;
    uint64_t lseq = 0;
    ts_store_meta_get_u64(a->store, "lseq", &lseq);
    h->proto_min = TS_PROTO_VERSION_MIN;
    h->proto_max = a->cfg.proto_max < TS_PROTO_VERSION_MAX ? a->cfg.proto_max : TS_PROTO_VERSION_MAX;
    if (h->proto_max < TS_PROTO_VERSION_MIN)
        h->proto_max = TS_PROTO_VERSION_MIN;
    h->agent = TS_AGENT_NAME;
    h->replica = ts_store_replica(a->store)->b;
    h->station = a->cfg.code;
    h->server_db = a->server_db;
    h->cursor = a->cursor;
    h->lseq = lseq;
    h->time = ts_wall_ms();
    h->live = a->cfg.live;
    h->compress = a->cfg.compress ? TS_ZFRAME_NAME : NULL;
    h->ticket = a->cfg.resume;
    ts__send(a, &m);
    ts_msg_free(&m);
}

/* The terms of a district's WELCOME that say how a PUSH is written, kept so
 * that the next connection can send its first PUSH right behind HELLO. */
static void ts__keep_terms(ts_agent *a)
{
    char v[96];
    snprintf(v, sizeof v, "%" PRIu32 " %s %" PRIu64 " %" PRIu64, a->limits.proto, a->zstd ? TS_ZFRAME_NAME : "none",
             a->max_frame, a->max_changes);
    ts__keep(a, "welcome_terms", v);
}

static void ts__push(ts_agent *a);

/* A PUSH behind HELLO, in the terms of the last WELCOME of the district
 * database this station syncs with: the district reads it once it has
 * answered HELLO, a round trip earlier than after WELCOME (docs/PROTOCOL.md,
 * "Sending before WELCOME"). Terms the district no longer offers make it
 * refuse that PUSH whole, and the next connection uses the new ones. */
static void ts__push_early(ts_agent *a)
{
    char terms[96] = "", z[16] = "";
    unsigned proto = 0;
    uint64_t max_frame = 0, max_changes = 0;
    if (!a->cfg.pipeline || a->server_db[0] == '\0' ||
        ts_store_meta_get(a->store, "welcome_terms", terms, sizeof terms) < 0 ||
        sscanf(terms, "%u %15s %" SCNu64 " %" SCNu64, &proto, z, &max_frame, &max_changes) != 4 ||
        proto < TS_PROTO_VERSION_MIN || max_frame == 0 || max_changes == 0)
        return;
    uint64_t offered = a->cfg.proto_max < TS_PROTO_VERSION_MAX ? a->cfg.proto_max : TS_PROTO_VERSION_MAX;
    a->early_proto = proto < offered ? proto : (uint32_t)offered;
    a->early_zstd = a->cfg.compress && strcmp(z, TS_ZFRAME_NAME) == 0;
    a->limits.proto = a->early_proto;
    a->zstd = a->early_zstd;
    a->max_frame = max_frame < TS_PROTO_HARD_MAX_FRAME ? max_frame : TS_PROTO_HARD_MAX_FRAME;
    a->max_changes = max_changes;
    a->early = true;
    ts__push(a);
    if (!a->push_inflight) {
        /* nothing to send: the session's terms come with WELCOME */
        a->early = false;
        a->zstd = false;
    }
}

/* HELLO, and a PUSH behind it when the terms allow. */
static void ts__begin_session(ts_agent *a)
{
    a->state = TS_AGENT_HELLO;
    ts__send_hello(a);
    ts__push_early(a);
}

static void ts__on_conn_open(ts_conn *c)
{
    ts_agent *a = c->data;
    ts_log_info("tls_open", "station=%s server=%s version=%s resumed=%s early_data=%s", ts__code(a), a->cfg.address,
                ts_tls_version(&c->tls), c->tls.resumed ? "yes" : "no",
                a->began_early ? ts_tls_early_status(&c->tls) : "none");
    if (!a->began_early)
        ts__begin_session(a);
}

static void ts__on_drain(ts_conn *c)
{
    ts_agent *a = c->data;
    if (a->push_again)
        ts__push(a);
}

static void ts__handle(ts_agent *a, ts_msg *m);

static void ts__on_data(ts_conn *c, const uint8_t *data, size_t len)
{
    ts_agent *a = c->data;
    size_t off = 0;
    while (off < len && a->conn == c && !c->closing) {
        size_t used;
        const uint8_t *frame;
        size_t flen;
        ts_error err;
        int rc = ts_frame_decoder_feed(&a->dec, data + off, len - off, &used, &frame, &flen, &err);
        off += used;
        if (rc < 0) {
            ts_log_error("bad_frame_from_server", "station=%s reason=%s", ts__code(a), err.msg);
            ts__error(a, "protocol", err.msg);
            ts__disconnect(a, rc);
            return;
        }
        if (rc == 0)
            return;
        ts_msg m;
        ts_buf z = TS_BUF_INIT;
        if (a->zstd && ts_zframe_is(frame, flen)) {
            /* at most our frame limit, checked before anything is reserved */
            rc = ts_zframe_unwrap(frame, flen, a->limits.max_frame, &z, &err);
            if (rc >= 0)
                rc = ts_msg_decode(z.data, z.len, &a->limits, &m, &err);
        } else {
            rc = ts_msg_decode(frame, flen, &a->limits, &m, &err);
        }
        ts_buf_free(&z);
        if (rc < 0) {
            ts_log_error("bad_message_from_server", "station=%s reason=%s", ts__code(a), err.msg);
            ts__error(a, "protocol", err.msg);
            ts__disconnect(a, rc);
            return;
        }
        ts__handle(a, &m);
        ts_msg_free(&m);
    }
}

static const ts_conn_cb ts__agent_cb = {ts__on_conn_open, ts__on_data, ts__on_drain, ts__on_conn_close, NULL};

static void ts__resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    ts_agent *a = req->data;
    if (a->stopping) {
        uv_freeaddrinfo(res);
        a->state = TS_AGENT_IDLE;
        ts__finish_stop(a);
        return;
    }
    if (status < 0 || res == NULL) {
        ts_log_warn("resolve_failed", "station=%s address=%s error=%s", ts__code(a), a->cfg.address,
                    uv_strerror(status));
        ts__error(a, "cannot resolve the server address", uv_strerror(status));
        uv_freeaddrinfo(res);
        ts__schedule_retry(a, ts__backoff(a));
        return;
    }
    ts_conn *c = ts_xcalloc(1, sizeof *c);
    ts_conn_limits limits;
    ts_conn_limits_default(&limits);
    limits.handshake_timeout_ms = a->cfg.connect_timeout_ms;
    limits.idle_timeout_ms = 0; /* set from the server's heartbeat */
    ts_error err;
    a->state = TS_AGENT_CONNECTING;
    ts_frame_decoder_init(&a->dec, (uint32_t)a->max_frame);
    a->conn = c;
    if (ts_conn_connect(c, a->loop, a->tls, a->cfg.server_name, res->ai_addr, &ts__agent_cb, &limits, &err) < 0) {
        ts__error(a, "connect", err.msg);
        if (c->initialised) {
            c->data = a; /* on_close frees it and schedules the retry */
        } else {
            free(c);
            a->conn = NULL;
            ts__schedule_retry(a, ts__backoff(a));
        }
        uv_freeaddrinfo(res);
        return;
    }
    c->data = a;
    uv_freeaddrinfo(res);
    uv_timer_start(&a->retry_timer, ts__retry_fired, a->cfg.connect_timeout_ms, 0);
    /* resuming: HELLO and the first PUSH go with the ClientHello, a round
     * trip before the handshake is done (sent again if the district says no) */
    size_t budget = ts_conn_early_budget(c);
    if (budget > 0) {
        a->began_early = true;
        ts__begin_session(a);
        /* WELCOME comes once the district's handshake is done, so once all
         * early data is in: its time at the district's frame_min_rate on top
         * (the district waits as long). Giving up sooner on a slow link left
         * a connection the district finished anyway, its HELLO replacing the
         * next connection's: none ever lasted. */
        size_t early = c->early.len < budget ? c->early.len : budget;
        uv_timer_start(&a->retry_timer, ts__retry_fired,
                       a->cfg.connect_timeout_ms + (uint64_t)early * 1000 / TS__EARLY_MIN_RATE, 0);
    }
}

static void ts__connect(ts_agent *a)
{
    char host[256], port[16];
    const char *addr = a->cfg.address, *colon = strrchr(addr, ':');
    if (colon == NULL) {
        ts__error(a, "config", "[server] address must be host:port");
        ts__schedule_retry(a, a->cfg.backoff_max_ms);
        return;
    }
    size_t n = (size_t)(colon - addr);
    if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']')
        snprintf(host, sizeof host, "%.*s", (int)(n - 2), addr + 1);
    else
        snprintf(host, sizeof host, "%.*s", (int)n, addr);
    snprintf(port, sizeof port, "%s", colon + 1);
    a->state = TS_AGENT_RESOLVING;
    ts__status_u64(a, "last_connect_attempt_ms", ts_wall_ms());
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    a->gai.data = a;
    int rc = uv_getaddrinfo(a->loop, &a->gai, ts__resolved, host, port, &hints);
    if (rc < 0) {
        ts__error(a, "cannot resolve the server address", uv_strerror(rc));
        ts__schedule_retry(a, ts__backoff(a));
    }
}

/* ---------------------------------------------------------------- push */

static void ts__push(ts_agent *a)
{
    a->push_again = false;
    bool early = a->state == TS_AGENT_HELLO && a->early;
    if ((a->state != TS_AGENT_READY && !early) || a->push_inflight || a->stopping)
        return;
    if (a->push_hold_until_ms > ts_wall_ms())
        return;
    if (ts_conn_congested(a->conn)) {
        a->push_again = true;
        return;
    }
    uint64_t acked = 0;
    ts_store_meta_get_u64(a->store, "push_acked", &acked);
    ts_error err;
    /* compressed, a batch is a quarter of the bytes: four times the changes
     * keep a slow link from waiting a round trip per quarter as many bytes
     * (within the district's WELCOME.max_changes) */
    uint64_t want = a->cfg.push_batch * (a->zstd ? TS__ZSTD_BATCH_FACTOR : 1);
    if (a->max_changes && want > a->max_changes)
        want = a->cfg.push_batch < a->max_changes ? a->max_changes : a->cfg.push_batch;
    uint32_t limit = (uint32_t)(want < UINT32_MAX ? want : UINT32_MAX);
    ts_buf frame = TS_BUF_INIT;
    for (;;) {
        if (ts_store_pending(a->store, acked, limit, &a->push_page, &err) < 0) {
            ts_log_error("pending_failed", "station=%s reason=%s", ts__code(a), err.msg);
            ts__storage_failed(a, "reading the changes to send", &err);
            ts_buf_free(&frame);
            return;
        }
        if (a->push_page.n == 0) {
            ts_buf_free(&frame);
            return;
        }
        ts_msg m;
        ts_msg_init(&m, TS_MSG_PUSH);
        m.proto = (uint8_t)a->limits.proto; /* version 2: compact changes */
        m.u.push.batch = a->batch + 1;
        m.u.push.changes.items = a->push_page.items;
        m.u.push.changes.n = a->push_page.n;
        ts_buf_reset(&frame);
        ts_msg_encode(&m, &frame);
        m.u.push.changes.n = 0; /* the page owns the changes */
        ts_msg_free(&m);
        if (frame.len - 4 <= a->max_frame || limit == 1)
            break;
        limit /= 2;
    }
    if (a->zstd)
        ts_zframe_wrap(&frame); /* the limit above is on the body as decoded */
    a->batch++;
    a->push_upto = a->push_page.items[a->push_page.n - 1].lseq;
    a->push_inflight = true;
    if (ts_conn_write(a->conn, frame.data, frame.len) < 0)
        a->push_inflight = false;
    ts_log_debug("push_sent", "station=%s batch=%" PRIu64 " changes=%u upto=%" PRIu64 " before_welcome=%s",
                 ts__code(a), a->batch, a->push_page.n, a->push_upto, early ? "true" : "false");
    ts_buf_free(&frame);
}

static void ts__sync_ok(ts_agent *a)
{
    ts__status_u64(a, "last_sync_ok_ms", ts_wall_ms());
}

static void ts__rekey(ts_agent *a, const char *why)
{
    ts_log_warn("rekey", "station=%s old_replica=%s reason=%s", ts__code(a), ts_store_replica(a->store)->b, why);
    ts_error err;
    if (ts_store_rekey(a->store, &err) < 0) {
        ts_log_error("rekey_failed", "station=%s reason=%s", ts__code(a), err.msg);
        ts__storage_failed(a, "taking a new replica id", &err);
        ts__error(a, "rekey", err.msg);
        return;
    }
    a->rekey_now = true;
    ts__disconnect(a, TS_EREKEY_REQUIRED);
}

/* What `status` says when the district refuses our stamps: a PC clock
 * still wrong is the operator's to fix; a clock already right, with stamps
 * left ahead from when it was not, clears by itself at a time we can tell,
 * or at once with `tramsync clock-fix`. */
static void ts__clock_problem(ts_agent *a, const char *district_says)
{
    char msg[512];
    uint64_t stamps = ts_store_clock_ahead_ms(a->store), bound = TS_HLC_DEFAULT_MAX_AHEAD_MS;
    ts_store_meta_get_u64(a->store, "district_clock_bound_ms", &bound);
    if (llabs(a->skew_ms) < 60000 && stamps > bound) {
        time_t clears = time(NULL) + (time_t)((stamps - bound) / 1000);
        struct tm tm;
        localtime_r(&clears, &tm);
        char when[32];
        strftime(when, sizeof when, "%d/%m/%Y %H:%M", &tm);
        snprintf(msg, sizeof msg,
                 "changes were stamped up to %" PRIu64 " min ahead while this PC's clock was wrong: the district "
                 "takes them from %s, or run `tramsync clock-fix` to send them now",
                 stamps / 60000, when);
    } else if (a->skew_ms >= 60000) {
        snprintf(msg, sizeof msg, "this PC's clock is %" PRId64 " min ahead of the district's: fix its date and time",
                 a->skew_ms / 60000);
    } else {
        snprintf(msg, sizeof msg, "%s: fix this PC's date and time", district_says ? district_says : "clock ahead");
    }
    /* `clock-fix` (another process) moves hlc_epoch: status then knows this
     * complaint is about stamps that are gone */
    uint64_t epoch = 0;
    ts_store_meta_get_u64(a->store, "hlc_epoch", &epoch);
    ts__status_u64(a, "clock_problem_epoch", epoch);
    ts__status(a, "clock_problem", msg);
}

static void ts__on_push_ack(ts_agent *a, const ts_msg_push_ack *ack)
{
    if (!a->push_inflight || ack->batch != a->batch) {
        ts_log_warn("unexpected_ack", "station=%s batch=%" PRIu64, ts__code(a), ack->batch);
        return;
    }
    a->push_inflight = false;
    if (ack->code != 0) {
        int code = -(int)ack->code;
        ts_log_warn("push_refused", "station=%s code=%s reason=%s", ts__code(a), ts_err_name(code),
                    ack->message ? ack->message : "");
        ts__error(a, "the district refused the changes", ack->message ? ack->message : ts_err_name(code));
        ts_change_page_reset(&a->push_page);
        if (code == TS_EREKEY_REQUIRED) {
            ts__rekey(a, ack->message ? ack->message : "");
            return;
        }
        if (code == TS_ECLOCK_AHEAD) {
            ts__clock_problem(a, ack->message);
            a->push_hold_until_ms = ts_wall_ms() + 60000;
            a->clock_hold = true;
        } else {
            a->push_hold_until_ms = ts_wall_ms() + ts__backoff(a);
        }
        return;
    }
    ts_error err;
    if (ack->nresults != a->push_page.n) {
        ts_log_error("bad_ack", "station=%s results=%u changes=%u", ts__code(a), ack->nresults, a->push_page.n);
        ts__disconnect(a, TS_EMALFORMED);
        return;
    }
    uint32_t rejected = 0, conflicts = 0;
    for (uint32_t i = 0; i < ack->nresults; i++) {
        const ts_push_result *r = &ack->results[i];
        if (r->outcome == TS_OUTCOME_REJECTED) {
            rejected++;
            const ts_change *c = &a->push_page.items[i];
            ts_log_warn("change_rejected", "station=%s table=%s id=%s code=%s reason=%s", ts__code(a), c->table, c->id,
                        ts_err_name(-(int)r->code), r->reason ? r->reason : "");
            if (ts_store_mark_rejected(a->store, c, -(int)r->code, r->reason, &err) < 0)
                ts__storage_failed(a, "noting a refused change", &err);
        } else if (r->outcome == TS_OUTCOME_CONFLICT) {
            conflicts++;
        }
    }
    if (ts_store_ack_pushed(a->store, a->push_upto, &err) < 0) {
        ts_log_error("ack_store_failed", "station=%s reason=%s", ts__code(a), err.msg);
        ts__storage_failed(a, "noting what the district acknowledged", &err);
        ts__disconnect(a, TS_ESTORAGE);
        return;
    }
    ts__storage_ok(a);
    ts_log_info("pushed", "station=%s batch=%" PRIu64 " changes=%u rejected=%u conflicts=%u", ts__code(a), a->batch,
                ack->nresults, rejected, conflicts);
    ts__status(a, "clock_problem", "");
    bool full = a->push_page.n >= a->cfg.push_batch;
    ts_change_page_reset(&a->push_page);
    ts__sync_ok(a);
    if (full)
        ts__push(a);
    else
        ts__push(a); /* anything written while this batch travelled */
}

/* ---------------------------------------------------------------- pull */

static void ts__pull(ts_agent *a)
{
    if (a->state != TS_AGENT_READY || a->pull_inflight || a->stopping)
        return;
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PULL);
    m.u.pull.since = a->cursor;
    m.u.pull.limit = a->cfg.pull_page;
    m.u.pull.stream = a->cfg.pull_stream;
    m.u.pull.window = a->cfg.pull_stream ? a->cfg.pull_window : 0;
    if (ts__send(a, &m) == 0)
        a->pull_inflight = true;
    ts_msg_free(&m);
}

static void ts__on_changes(ts_agent *a, const ts_msg_changes *ch)
{
    ts_error err;
    size_t n = ch->changes.n;
    if (n > 0) {
        ts_apply_result *res = ts_xcalloc(n, sizeof *res);
        ts_actor server = {TS_ACTOR_SERVER, "district", NULL, a->cfg.address};
        int rc = ts_store_apply(a->store, &server, ch->changes.items, n, res, &err);
        if (rc < 0) {
            free(res);
            ts_log_error("apply_failed", "station=%s reason=%s", ts__code(a), err.msg);
            ts__error(a, "cannot store changes from the district", err.msg);
            ts__storage_failed(a, "storing changes from the district", &err);
            ts__disconnect(a, rc);
            return;
        }
        uint32_t merged = 0;
        for (size_t i = 0; i < n; i++) {
            if (res[i].outcome == TS_OUTCOME_REJECTED)
                ts_log_warn("incoming_rejected", "station=%s table=%s id=%s reason=%s", ts__code(a),
                            ch->changes.items[i].table, ch->changes.items[i].id, res[i].reason);
            else if (res[i].outcome == TS_OUTCOME_MERGED || res[i].outcome == TS_OUTCOME_CONFLICT)
                merged++;
        }
        free(res);
        ts__storage_ok(a);
        ts_log_info("pulled", "station=%s changes=%zu cursor=%" PRIu64 " live=%s merged=%u", ts__code(a), n,
                    ch->cursor, ch->live ? "true" : "false", merged);
        size_t delivered = 0;
        if (ts_station_mark_delivered(a->store, &delivered, &err) < 0) {
            ts_log_error("mark_delivered_failed", "station=%s reason=%s", ts__code(a), err.msg);
            ts__storage_failed(a, "marking notices delivered", &err);
        }
        if (merged || delivered)
            ts__push(a); /* merges hold writes the district has not seen; deliveries tell it at once */
    }
    /* only after the changes are committed does the cursor move */
    if (ch->cursor > a->cursor) {
        a->cursor = ch->cursor;
        ts__keep_u64(a, "pull_cursor", a->cursor);
    }
    /* a streamed answer's next page is already on its way: no PULL (a
     * district from before streaming never says stream, and is asked again);
     * a page sent in a window is credited once committed, so the district
     * may send one more (a district from before windows never says window) */
    if (!ch->live && ch->stream && ch->window > 0 && a->state == TS_AGENT_READY) {
        ts_msg m;
        ts_msg_init(&m, TS_MSG_PULL);
        m.u.pull.since = a->cursor;
        m.u.pull.credit = 1;
        ts__send(a, &m);
        ts_msg_free(&m);
    }
    if (!ch->live && !ch->stream) {
        a->pull_inflight = false;
        if (ch->more)
            ts__pull(a);
        else
            ts__sync_ok(a);
    }
}

/* ---------------------------------------------------------------- messages */

static void ts__ping_fired(uv_timer_t *t)
{
    ts_agent *a = t->data;
    if (a->state != TS_AGENT_READY)
        return;
    if (a->replaced && ts_wall_ms() - a->ready_since_ms > 600000)
        a->replaced = 0; /* ten quiet minutes: whoever replaced us is gone */
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PING);
    m.u.ping.nonce = ++a->ping_nonce;
    ts__send(a, &m);
    ts_msg_free(&m);
}

static void ts__on_welcome(ts_agent *a, const ts_msg_welcome *w)
{
    ts_error err;
    if (strcmp(w->station, a->cfg.code) != 0) {
        ts_log_error("wrong_identity", "station=%s server_says=%s", ts__code(a), w->station);
        ts__error(a, "identity", "the certificate does not match this station's code");
        ts__disconnect(a, TS_EFORBIDDEN);
        return;
    }
    if (w->rekey) {
        ts__rekey(a, "the district found this database restored from an old copy");
        return;
    }
    if (w->cursor_reset || (a->server_db[0] != '\0' && strcmp(a->server_db, w->server_db) != 0)) {
        bool other_db = a->server_db[0] != '\0' && strcmp(a->server_db, w->server_db) != 0;
        ts_log_warn("cursor_reset", "station=%s old_server_db=%s new_server_db=%s", ts__code(a),
                    a->server_db[0] ? a->server_db : "-", w->server_db);
        a->cursor = 0;
        ts__keep_u64(a, "pull_cursor", 0);
        if (other_db) {
            /* a new district database: give it everything this station owns */
            uint64_t n = 0;
            if (ts_store_repush_owned(a->store, &n, &err) < 0) {
                ts_log_error("repush_failed", "station=%s reason=%s", ts__code(a), err.msg);
                ts__storage_failed(a, "preparing to send everything again", &err);
            }
            else
                ts_log_warn("repush_owned", "station=%s records=%" PRIu64, ts__code(a), n);
        }
    }
    snprintf(a->server_db, sizeof a->server_db, "%s", w->server_db);
    ts__keep(a, "server_db", a->server_db);
    /* the district's time zone, for the days of the commands run here and
     * of this agent at once (unless its configuration sets one): nothing
     * else runs in another thread now (the address was resolved before
     * connecting, and nothing else goes to libuv's pool) */
    int kept = ts_station_tz_keep(a->store, w->timezone);
    if (kept > 0) {
        ts_log_info("district_timezone", "station=%s timezone=%s", ts__code(a), w->timezone);
        ts_station_tz_apply(a->cfg.timezone, a->store);
    } else if (kept < 0) {
        ts_error_set(&err, TS_ESTORAGE, "cannot save district_timezone");
        ts__storage_failed(a, "saving sync state", &err);
    }
    a->max_frame = w->max_frame < TS_PROTO_HARD_MAX_FRAME ? w->max_frame : TS_PROTO_HARD_MAX_FRAME;
    a->max_changes = w->max_changes;
    /* the session's version: how PUSH is written and CHANGES read */
    a->limits.proto = w->proto >= TS_PROTO_VERSION_MAX ? TS_PROTO_VERSION_MAX : w->proto >= 2 ? (uint32_t)w->proto : 1;
    a->zstd = a->cfg.compress && w->compress != NULL && strcmp(w->compress, TS_ZFRAME_NAME) == 0;
    if (a->early && a->push_inflight &&
        (a->early_proto > a->limits.proto || (a->early_zstd && !a->zstd)))
        /* the district will refuse the PUSH sent behind HELLO (ERROR, fatal):
         * the next connection writes it in these terms */
        ts_log_warn("pipelined_push_terms_changed", "station=%s sent_proto=%" PRIu32 " proto=%" PRIu32
                    " sent_compress=%s compress=%s",
                    ts__code(a), a->early_proto, a->limits.proto, a->early_zstd ? TS_ZFRAME_NAME : "none",
                    a->zstd ? TS_ZFRAME_NAME : "none");
    a->early = false;
    ts__keep_terms(a);
    a->heartbeat_ms = w->heartbeat ? w->heartbeat * 1000 : 60000;
    /* a path that stops forwarding (no FIN, no RST) is noticed by its
     * silence: pings draw PONGs, so nothing heard for dead_after means dead */
    uint64_t ping_every = a->cfg.keepalive_ms < a->heartbeat_ms ? a->cfg.keepalive_ms : a->heartbeat_ms;
    ts_conn_set_idle_timeout(a->conn, a->cfg.dead_after_ms);
    uv_timer_start(&a->ping_timer, ts__ping_fired, ping_every, ping_every);
    a->ready_since_ms = ts_wall_ms();
    uv_timer_stop(&a->retry_timer);
    a->attempt = 0;
    a->state = TS_AGENT_READY;
    int64_t skew = (int64_t)ts_wall_ms() - (int64_t)w->time;
    a->skew_ms = skew;
    /* which of our stamps the district can never have taken (clock-fix) */
    ts__keep_u64(a, "district_clock_bound_ms", w->max_clock_ahead ? w->max_clock_ahead : TS_HLC_DEFAULT_MAX_AHEAD_MS);
    ts__status(a, "connected", "1");
    ts__status(a, "last_error", "");
    ts__status_u64(a, "last_connect_ok_ms", ts_wall_ms());
    char skew_s[32];
    snprintf(skew_s, sizeof skew_s, "%" PRId64, skew);
    ts__status(a, "clock_skew_ms", skew_s);
    ts_log_info("connected", "station=%s replica=%s server_db=%s cursor=%" PRIu64 " clock_skew_ms=%" PRId64
                " compress=%s",
                ts__code(a), ts_store_replica(a->store)->b, a->server_db, a->cursor, skew,
                a->zstd ? TS_ZFRAME_NAME : "none");
    ts__push(a);
    ts__pull(a);
}

/* An urgent notice ahead of everything else: store it, mark it delivered,
 * say so, and push the delivery at once. */
static void ts__on_notice(ts_agent *a, const ts_msg_notice *n)
{
    ts_error err;
    size_t count = n->changes.n, delivered = 0;
    ts_apply_result *res = ts_xcalloc(count ? count : 1, sizeof *res);
    ts_actor server = {TS_ACTOR_SERVER, "district", NULL, a->cfg.address};
    int rc = ts_store_apply(a->store, &server, n->changes.items, count, res, &err);
    free(res);
    if (rc < 0) {
        ts_log_error("notice_store_failed", "station=%s notice=%s reason=%s", ts__code(a), n->id, err.msg);
        ts__storage_failed(a, "storing a notice", &err);
        return; /* not acknowledged: it comes again */
    }
    ts__storage_ok(a);
    if (ts_station_mark_delivered(a->store, &delivered, &err) < 0) {
        ts_log_error("mark_delivered_failed", "station=%s reason=%s", ts__code(a), err.msg);
        ts__storage_failed(a, "marking notices delivered", &err);
    }
    ts_log_info("notice_received", "station=%s notice=%s urgency=%s seq=%" PRIu64 " newly_delivered=%zu", ts__code(a),
                n->id, n->urgency, n->seq, delivered);
    ts_msg ack;
    ts_msg_init(&ack, TS_MSG_NOTICE_ACK);
    ack.u.notice_ack.seq = n->seq;
    ack.u.notice_ack.id = n->id;
    ts__send(a, &ack);
    ts_msg_free(&ack);
    ts__push(a);
}

static void ts__handle(ts_agent *a, ts_msg *m)
{
    switch (m->type) {
    case TS_MSG_NOTICE:
        if (a->state == TS_AGENT_READY)
            ts__on_notice(a, &m->u.notice);
        break;
    case TS_MSG_WELCOME:
        if (a->state == TS_AGENT_HELLO)
            ts__on_welcome(a, &m->u.welcome);
        break;
    case TS_MSG_PUSH_ACK:
        ts__on_push_ack(a, &m->u.push_ack);
        break;
    case TS_MSG_CHANGES:
        ts__on_changes(a, &m->u.changes);
        break;
    case TS_MSG_PONG:
        /* live and nothing waiting: this round trip proves we are in sync */
        if (!a->push_inflight && !a->pull_inflight && a->push_page.n == 0) {
            uint64_t pending = 0;
            if (ts_store_pending_count(a->store, &pending) == 0 && pending == 0)
                ts__sync_ok(a);
        }
        break;
    case TS_MSG_PING: {
        ts_msg pong;
        ts_msg_init(&pong, TS_MSG_PONG);
        pong.u.ping.nonce = m->u.ping.nonce;
        ts__send(a, &pong);
        ts_msg_free(&pong);
        break;
    }
    case TS_MSG_ERROR: {
        int code = -(int)m->u.error.code;
        ts_log_warn("server_error", "station=%s code=%s message=%s fatal=%s", ts__code(a), ts_err_name(code),
                    m->u.error.message, m->u.error.fatal ? "true" : "false");
        ts__error(a, "the district answered", m->u.error.message);
        if (code == TS_EREPLACED) {
            a->replaced++;
            ts_log_warn("replaced", "station=%s times=%u reason=%s", ts__code(a), a->replaced,
                        "another computer is connected with this station's certificate");
            ts__error(a, "connection",
                      "another computer connected with this station's certificate and replaced this one: only "
                      "one computer may sync as a station");
        }
        if (code == TS_EREKEY_REQUIRED)
            ts__rekey(a, m->u.error.message);
        else if (m->u.error.fatal)
            ts__disconnect(a, code);
        break;
    }
    case TS_MSG_BYE:
        ts_log_info("server_bye", "station=%s reason=%s", ts__code(a), m->u.bye.reason);
        a->bye_received = true;
        snprintf(a->bye_reason, sizeof a->bye_reason, "%s", m->u.bye.reason);
        ts__disconnect(a, 0);
        break;
    default:
        ts_log_warn("unexpected_message", "station=%s type=%s", ts__code(a), ts_msg_type_name(m->type));
        break;
    }
}

/* ---------------------------------------------------------------- timers */

static void ts__debounce_fired(uv_timer_t *t)
{
    ts_agent *a = t->data;
    a->pending_since_ms = 0;
    if (a->state == TS_AGENT_READY)
        ts__push(a);
    else if (a->state == TS_AGENT_IDLE && !a->stopping) {
        /* something to send: try now rather than at the end of the backoff */
        uv_timer_stop(&a->retry_timer);
        ts__connect(a);
    }
}

/* Another process (the CLI) committed when SQLite's data_version moves. */
static void ts__poll_fired(uv_timer_t *t)
{
    ts_agent *a = t->data;
    uint64_t now = ts_wall_ms();
    if (now - a->last_alive_write_ms >= 10000) {
        a->last_alive_write_ms = now;
        ts__status_u64(a, "agent_alive_ms", now);
    }
    /* the station_agent_status record, when what it says changed: pushed at
     * once (a write on our own connection does not move data_version) */
    if (now - a->report_look_ms >= 2000) {
        a->report_look_ms = now;
        if (ts_agent_report_tick(&a->report, a->store, &a->reg, ts__code(a), ts_agent_status_get(&a->status, "last_error"),
                                 a->storage_failing ? ts_agent_status_get(&a->status, "storage_problem") : "", now,
                                 a->cfg.status_every_ms) &&
            a->state == TS_AGENT_READY)
            ts__push(a);
    }
    if (sqlite3_step(a->data_version_q) == SQLITE_ROW) {
        uint64_t v = (uint64_t)sqlite3_column_int64(a->data_version_q, 0);
        if (v != a->data_version) {
            a->data_version = v;
            /* a quiet second after the last write, but no later than
             * debounce_max after the first: steady writing still syncs */
            if (a->pending_since_ms == 0)
                a->pending_since_ms = now;
            if (a->clock_hold) {
                a->clock_hold = false;
                a->push_hold_until_ms = 0;
            }
            uint64_t until_max = a->pending_since_ms + a->cfg.debounce_max_ms > now
                                     ? a->pending_since_ms + a->cfg.debounce_max_ms - now
                                     : 0;
            uv_timer_start(&a->debounce_timer, ts__debounce_fired,
                           a->cfg.debounce_ms < until_max ? a->cfg.debounce_ms : until_max, 0);
        }
    }
    sqlite3_reset(a->data_version_q);
}

static void ts__sync_fired(uv_timer_t *t)
{
    ts_agent *a = t->data;
    if (a->state == TS_AGENT_READY) {
        ts__push(a);
        ts__pull(a);
    }
}

/* ---------------------------------------------------------------- start / stop */

static int ts__sync_mode(const char *s)
{
    return strcmp(s, "off") == 0 ? TS_SYNC_OFF : strcmp(s, "normal") == 0 ? TS_SYNC_NORMAL : TS_SYNC_FULL;
}

/* One agent per station database: a second one (a second service, or a
 * `tramsync run` typed by hand) would take the session from the first over
 * and over. The lock goes with the process however it ends; the CLI does
 * not take it (it writes beside a running agent by design). */
static int ts__lock(ts_agent *a, ts_error *err)
{
    char *path = ts_xasprintf("%s-agent.lock", a->cfg.database);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    int rc = 0;
    if (fd < 0) {
        rc = ts_error_set(err, TS_EIO, "cannot open %s: %s", path, strerror(errno));
    } else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[24] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? strcspn(pid, "\n") : 0] = '\0';
        close(fd);
        fd = -1;
        rc = ts_error_set(err, TS_EBUSY,
                          "another tramsync agent%s%s%s already runs on %s: one agent per station database",
                          pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "", a->cfg.database);
    } else {
        char pid[24];
        int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
            ts_log_warn("lock_write_failed", "path=%s error=%s", path, strerror(errno));
    }
    free(path);
    a->lock_fd = fd;
    return rc;
}

int ts_agent_start(ts_agent **out, uv_loop_t *loop, const ts_agent_config *cfg, ts_error *err)
{
    *out = NULL;
    if (cfg->code[0] == '\0')
        return ts_error_set(err, TS_EBAD_VALUE, "no station code: run `tramsync init` first");
    ts_agent *a = ts_xcalloc(1, sizeof *a);
    a->loop = loop;
    a->cfg = *cfg;
    for (const ts_cfg_key *k = ts_agent_config_keys; k->key; k++)
        if (k->type == TS_CFG_STR) {
            char **p = (char **)(void *)((char *)&a->cfg + k->offset);
            *p = ts_xstrdup(*p ? *p : "");
        }
    int lvl = ts_log_level_parse(a->cfg.log_level);
    if (lvl >= 0)
        ts_log_set_level((ts_log_level)lvl);
    ts_proto_limits_default(&a->limits);
    a->max_frame = a->limits.max_frame;
    ts_change_page_init(&a->push_page);

    a->status.fd = -1;
    int rc = ts__lock(a, err);
    if (rc < 0)
        goto fail_cfg;
    /* ours from here on: the lock says no other agent writes it */
    ts_error serr;
    if (ts_agent_status_open(&a->status, a->cfg.database, &serr) < 0)
        ts_log_warn("status_file_failed", "station=%s reason=%s", ts__code(a), serr.msg);
    rc = a->cfg.tables[0] ? ts_registry_load_file(&a->reg, a->cfg.tables, err) : ts_registry_load_default(&a->reg, err);
    if (rc < 0)
        goto fail_cfg;
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = a->cfg.database;
    opt.role = TS_ROLE_STATION;
    opt.registry = &a->reg;
    opt.station = a->cfg.code;
    opt.synchronous = (ts_sync_mode)ts__sync_mode(a->cfg.synchronous);
    if ((rc = ts_store_open(&a->store, &opt, err)) < 0) {
        ts__storage_failed(a, "opening the database", err);
        goto fail_reg;
    }
    /* the station's days are the district's: TZ set now, before the loop
     * starts libuv's threads (a zone the district says later is kept for
     * the commands and applied at once, see ts__on_welcome) */
    ts_station_tz_apply(a->cfg.timezone, a->store);
    ts_tls_config tc;
    ts_tls_config_init(&tc, false);
    tc.ca_file = a->cfg.ca;
    tc.cert_file = a->cfg.cert;
    tc.key_file = a->cfg.key;
    tc.allow_tls12 = a->cfg.allow_tls12;
    tc.resumption = a->cfg.resume;
    tc.session_file = a->cfg.session_file;
    if ((rc = ts_tls_ctx_new(&a->tls, &tc, err)) < 0)
        goto fail_store;
    if (sqlite3_prepare_v2(ts_store_db(a->store), "PRAGMA data_version", -1, &a->data_version_q, NULL) != SQLITE_OK) {
        rc = ts_error_set(err, TS_ESTORAGE, "cannot watch the database");
        goto fail_tls;
    }
    ts_store_meta_get_u64(a->store, "pull_cursor", &a->cursor);
    ts_store_meta_get(a->store, "server_db", a->server_db, sizeof a->server_db);
    if (ts_agent_status_get(&a->status, "last_sync_ok_ms")[0] == '\0') {
        /* the first run with a status file: the database kept it before */
        uint64_t last_sync = 0;
        if (ts_store_meta_get_u64(a->store, "last_sync_ok_ms", &last_sync) == 0 && last_sync)
            ts__status_u64(a, "last_sync_ok_ms", last_sync);
    }

    uv_timer_t *timers[] = {&a->retry_timer, &a->sync_timer, &a->poll_timer, &a->debounce_timer, &a->ping_timer};
    for (size_t i = 0; i < sizeof timers / sizeof *timers; i++) {
        uv_timer_init(loop, timers[i]);
        timers[i]->data = a;
        a->handles_open++;
    }
    uv_timer_start(&a->sync_timer, ts__sync_fired, a->cfg.interval_ms, a->cfg.interval_ms);
    uv_timer_start(&a->poll_timer, ts__poll_fired, a->cfg.poll_ms, a->cfg.poll_ms);
    ts__status_u64(a, "agent_started_ms", ts_wall_ms());
    ts__status(a, "connected", "0");
    ts_log_info("agent_started", "station=%s replica=%s server=%s database=%s cursor=%" PRIu64, ts__code(a),
                ts_store_replica(a->store)->b, a->cfg.address, a->cfg.database, a->cursor);
    ts__connect(a);
    *out = a;
    return 0;

fail_tls:
    ts_tls_ctx_unref(a->tls);
fail_store:
    ts_store_close(a->store);
fail_reg:
    ts_registry_free(&a->reg);
fail_cfg:
    if (a->status.fd >= 0) {
        ts__error(a, "the agent could not start", err->msg);
        ts__status(a, "connected", "0");
    }
    ts_agent_status_close(&a->status);
    if (a->lock_fd >= 0)
        close(a->lock_fd);
    ts_change_page_free(&a->push_page);
    ts_agent_config_free(&a->cfg);
    free(a);
    return rc;
}

static void ts__timer_closed(uv_handle_t *h)
{
    ts_agent *a = h->data;
    if (--a->handles_open > 0)
        return;
    if (a->stop_done)
        a->stop_done(a, a->stop_arg);
}

static void ts__finish_stop(ts_agent *a)
{
    if (a->conn != NULL || a->state == TS_AGENT_STOPPED || a->state == TS_AGENT_RESOLVING)
        return;
    a->state = TS_AGENT_STOPPED;
    ts_log_info("agent_stopped", "station=%s", ts__code(a));
    uv_timer_t *timers[] = {&a->retry_timer, &a->sync_timer, &a->poll_timer, &a->debounce_timer, &a->ping_timer};
    for (size_t i = 0; i < sizeof timers / sizeof *timers; i++)
        uv_close((uv_handle_t *)timers[i], ts__timer_closed);
}

void ts_agent_stop(ts_agent *a, void (*done)(ts_agent *a, void *arg), void *arg)
{
    if (a->stopping)
        return;
    a->stopping = true;
    a->stop_done = done;
    a->stop_arg = arg;
    if (a->conn != NULL) {
        if (a->state == TS_AGENT_READY) {
            ts_msg m;
            ts_msg_init(&m, TS_MSG_BYE);
            m.u.bye.reason = "station agent stopping";
            ts__send(a, &m);
            ts_msg_free(&m);
        }
        ts_conn_close(a->conn, 0, true);
        return;
    }
    if (a->state == TS_AGENT_RESOLVING) {
        uv_cancel((uv_req_t *)&a->gai); /* ts__resolved then finishes */
        return;
    }
    ts__finish_stop(a);
}

void ts_agent_free(ts_agent *a)
{
    if (a == NULL)
        return;
    sqlite3_finalize(a->data_version_q);
    ts__status(a, "connected", "0");
    ts_agent_status_close(&a->status);
    ts_store_close(a->store);
    ts_tls_ctx_unref(a->tls);
    ts_registry_free(&a->reg);
    ts_change_page_free(&a->push_page);
    ts_frame_decoder_free(&a->dec);
    ts_agent_config_free(&a->cfg);
    if (a->lock_fd >= 0)
        close(a->lock_fd);
    free(a);
}
