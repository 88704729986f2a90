/* The daemon's lifecycle: configuration, listener, timers (loop lag,
 * maintenance), reload and drain. Sessions live in server/ts_session.c. */
#include "server/ts_server.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/ts_log.h"
#include "common/ts_notice.h"
#include "common/ts_xmalloc.h"
#include "server/ts_admin.h"
#include "server/ts_notices.h"
#include "server/ts_server_int.h"

#define C(field) offsetof(ts_server_config, field)

const ts_cfg_key ts_server_config_keys[] = {
    {"server", "listen", TS_CFG_STR, C(listen), "127.0.0.1:7443",
     "address and port the stations connect to (host:port, [v6]:port, :port for all interfaces)"},
    {"server", "data_dir", TS_CFG_STR, C(data_dir), "tramsync-data",
     "directory of the database and, by default, the certificates (pki/)"},
    {"server", "database", TS_CFG_STR, C(database), "",
     "SQLite database file (empty: <data_dir>/district.db)"},
    {"server", "synchronous", TS_CFG_STR, C(synchronous), "full",
     "full (every commit on disk before the station hears of it), normal, or off (tests only)"},
    {"server", "log_level", TS_CFG_STR, C(log_level), "info", "debug, info, warn or error"},
    {"server", "tables", TS_CFG_STR, C(tables), "",
     "table registry JSON (empty: the registry built into the program, see docs/TABLES.md)"},
    {"server", "max_connections", TS_CFG_U64, C(max_connections), "10000",
     "connections refused above this many"},
    {"server", "handshake_timeout", TS_CFG_DURATION, C(handshake_timeout_ms), "10s",
     "time a new connection has to finish TLS (plus, for a resumed station, its early data at frame_min_rate)"},
    {"server", "hello_timeout", TS_CFG_DURATION, C(hello_timeout_ms), "10s",
     "time a new connection has, from accept, to finish TLS and send HELLO (plus early data at frame_min_rate)"},
    {"server", "max_station_connections", TS_CFG_U64, C(max_station_connections), "3",
     "connections one station certificate may hold at once (at least 2); past it the oldest not yet past "
     "HELLO is closed"},
    {"server", "frame_timeout", TS_CFG_DURATION, C(frame_timeout_ms), "10s",
     "time a started frame has to complete, plus its size at frame_min_rate"},
    {"server", "frame_min_rate", TS_CFG_SIZE, C(frame_min_rate), "2KiB",
     "slowest rate, in bytes per second, at which a station may send a frame"},
    {"server", "frame_budget", TS_CFG_SIZE, C(frame_budget), "64MiB",
     "bytes all connections together may hold in frames being read (frames over 64 KiB: 3/4 of it); past "
     "it new frames wait, their connections paused"},
    {"server", "idle_timeout", TS_CFG_DURATION, C(idle_timeout_ms), "180s",
     "a session silent for this long is closed (stations ping every heartbeat)"},
    {"server", "heartbeat", TS_CFG_DURATION, C(heartbeat_ms), "60s",
     "how often stations are asked to ping an idle session"},
    {"server", "max_frame", TS_CFG_SIZE, C(max_frame), "4MiB", "largest frame accepted or sent"},
    {"server", "max_changes", TS_CFG_U64, C(max_changes), "5000", "most changes in one PUSH or CHANGES"},
    {"server", "pull_page", TS_CFG_U64, C(pull_page), "1000", "most changes sent in one CHANGES page"},
    {"server", "proto_max", TS_CFG_U64, C(proto_max), "3",
     "highest protocol version to speak (1: version-1 change maps only, as a district before version 2; 2: no version-3 compact changes)"},
    {"server", "compress", TS_CFG_BOOL, C(compress), "true",
     "take a station's offer of frame compression (zstd with the built-in dictionary), used where it makes a frame smaller"},
    {"server", "write_high_water", TS_CFG_SIZE, C(write_high_water), "256KiB",
     "bytes queued to one station before its session stops reading and sending"},
    {"server", "write_low_water", TS_CFG_SIZE, C(write_low_water), "64KiB",
     "bytes queued when the session resumes"},
    {"server", "rate_messages", TS_CFG_U64, C(rate_messages), "200",
     "messages per second one station may send on average"},
    {"server", "rate_burst", TS_CFG_U64, C(rate_burst), "400", "messages one station may send in a burst"},
    {"server", "rate_changes", TS_CFG_U64, C(rate_changes), "50000",
     "changes per second one station may push on average (bursts of twice this)"},
    {"server", "max_clock_ahead", TS_CFG_DURATION, C(max_clock_ahead_ms), "5m",
     "change sets stamped further in the future than this are refused (station clock ahead)"},
    {"server", "purge_interval", TS_CFG_DURATION, C(purge_interval_ms), "10m",
     "how often tombstones every station has seen are compacted"},
    {"server", "stats_interval", TS_CFG_DURATION, C(stats_interval_ms), "60s",
     "how often a stats line is logged (0: never)"},
    {"tls", "ca", TS_CFG_STR, C(ca), "", "district CA certificate (empty: <data_dir>/pki/ca.pem)"},
    {"tls", "cert", TS_CFG_STR, C(cert), "", "server certificate (empty: <data_dir>/pki/server.pem)"},
    {"tls", "key", TS_CFG_STR, C(key), "", "server private key (empty: <data_dir>/pki/server.key)"},
    {"tls", "crl", TS_CFG_STR, C(crl), "",
     "certificate revocation list (empty: <data_dir>/pki/crl.pem when it exists)"},
    {"tls", "allow_tls12", TS_CFG_BOOL, C(allow_tls12), "false", "accept TLS 1.2 as well as 1.3"},
    {"tls", "session_tickets", TS_CFG_BOOL, C(session_tickets), "false",
     "issue stateless, reusable TLS session tickets (not with resumption, which supersedes them)"},
    {"tls", "resumption", TS_CFG_BOOL, C(resumption), "true",
     "let stations resume their last session (TLS 1.3, single-use tickets kept in memory: a restart or reload "
     "forgets them) and send their first bytes as early data, acted on only once the handshake is done and the "
     "certificate checked again"},
    {"admin", "listen", TS_CFG_STR, C(admin_listen), "127.0.0.1:7444",
     "the admin API and console, HTTPS (empty: off); keep it on the district LAN"},
    {"admin", "console_dir", TS_CFG_STR, C(console_dir), "/usr/share/tramsync/console",
     "the web console's files"},
    {"admin", "session_ttl", TS_CFG_DURATION, C(admin_session_ttl_ms), "8h", "how long a login lasts"},
    {"admin", "lockout_after", TS_CFG_U64, C(admin_lockout_after), "5",
     "failed logins from one address (any account names) before logins from it are refused"},
    {"admin", "lockout_for", TS_CFG_DURATION, C(admin_lockout_ms), "15m",
     "how long an address stays refused, and the time over which its failures count"},
    {"admin", "login_failures_per_minute", TS_CFG_U64, C(admin_login_failures_per_minute), "30",
     "failed logins per minute from all addresses together before logins pause for a minute (but from "
     "login_trusted)"},
    {"admin", "login_trusted", TS_CFG_STR, C(admin_login_trusted), "127.0.0.1, ::1",
     "addresses whose logins are never refused for failures (this host, where tramsyncctl runs)"},
    {"admin", "header_timeout", TS_CFG_DURATION, C(admin_header_timeout_ms), "10s",
     "time a request's line and headers have to arrive (and, on a new connection, the TLS handshake)"},
    {"admin", "body_timeout", TS_CFG_DURATION, C(admin_body_timeout_ms), "10s",
     "time a request's body has to arrive, plus its length at body_min_rate"},
    {"admin", "body_min_rate", TS_CFG_SIZE, C(admin_body_min_rate), "8KiB",
     "slowest rate, in bytes per second, at which a request body may come"},
    {"admin", "max_unauthenticated", TS_CFG_U64, C(admin_max_unauthenticated), "32",
     "connections from one address that have not logged in yet; more are refused"},
    {"admin", "max_header", TS_CFG_SIZE, C(admin_max_header), "16KiB", "largest request line and headers"},
    {"admin", "max_body", TS_CFG_SIZE, C(admin_max_body), "2MiB", "largest request body (a notice with 5 attachments of 256 KiB, base64, is 1.75 MB)"},
    {"admin", "rate", TS_CFG_U64, C(admin_rate), "20", "requests per second per connection, on average"},
    {"admin", "rate_burst", TS_CFG_U64, C(admin_rate_burst), "100", "requests per connection in a burst"},
    {"admin", "silent_after", TS_CFG_DURATION, C(admin_silent_after_ms), "24h",
     "a station not heard from for this long is shown as silent"},
    {"admin", "plan_file", TS_CFG_STR, C(plan_file), "",
     "a provincial plan file (docs/PLANS.md) loaded at start when no plan has been loaded yet (empty: none; "
     "load one with tramsyncctl plan load)"},
    {"district", "name", TS_CFG_STR, C(district_name), "Trung tâm Y tế khu vực",
     "the TTYT's name, as exports and reports to the province carry it"},
    {"district", "parent_body", TS_CFG_STR, C(district_parent_body), "",
     "the body the TTYT answers to (cơ quan chủ quản, e.g. Sở Y tế tỉnh Phú Thọ), over its name at the top left of "
     "a notice printed as an official document (empty: none)"},
    {"district", "place", TS_CFG_STR, C(district_place), "",
     "the place name of the printed documents' place and date (địa danh, e.g. Bình Xuyên; empty: the date alone)"},
    {"district", "signer", TS_CFG_STR, C(district_signer), "",
     "who signs the printed documents: a person of the directory (people), by record id or full name; their "
     "position comes from the directory (empty: the signature block is left for a hand to fill)"},
    {"district", "signer_authority", TS_CFG_STR, C(district_signer_authority), "",
     "the signer's authority over the position, as Nghị định 30/2020 writes it (e.g. KT. GIÁM ĐỐC for a deputy "
     "signing for the director; empty: the head signs in their own name)"},
    {"admin", "targets_every", TS_CFG_DURATION, C(targets_every_ms), "1h",
     "how often the 2030 targets are computed for every commune (0: only when asked)"},
    {"district", "timezone", TS_CFG_STR, C(timezone), "Asia/Ho_Chi_Minh",
     "the district's time zone (a tz database name): its days are those of notice numbers, daily figures, "
     "\"today\", deadlines and overdue; read at start only"},
    {"notices", "escalate_every", TS_CFG_DURATION, C(escalate_interval_ms), "30s",
     "how often unacknowledged and overdue notices are checked"},
    {"notices", "ack_within_thuong", TS_CFG_DURATION, C(ack_within_thuong_ms), "72h",
     "a Thường (routine) notice not acknowledged within this is re-sent and flagged"},
    {"notices", "ack_within_khan", TS_CFG_DURATION, C(ack_within_khan_ms), "24h", "the same for Khẩn"},
    {"notices", "ack_within_thuong_khan", TS_CFG_DURATION, C(ack_within_thuong_khan_ms), "4h",
     "the same for Thượng khẩn"},
    {"notices", "ack_within_hoa_toc", TS_CFG_DURATION, C(ack_within_hoa_toc_ms), "1h", "the same for Hỏa tốc"},
    {"notices", "remind_every_thuong", TS_CFG_DURATION, C(remind_every_thuong_ms), "24h",
     "after the first reminder, a Thường notice still not acknowledged is re-sent again every this long "
     "(0: only once)"},
    {"notices", "remind_every_khan", TS_CFG_DURATION, C(remind_every_khan_ms), "8h", "the same for Khẩn"},
    {"notices", "remind_every_thuong_khan", TS_CFG_DURATION, C(remind_every_thuong_khan_ms), "2h",
     "the same for Thượng khẩn"},
    {"notices", "remind_every_hoa_toc", TS_CFG_DURATION, C(remind_every_hoa_toc_ms), "30m",
     "the same for Hỏa tốc"},
    {NULL, NULL, 0, 0, NULL, NULL},
};

static void ts__derive(char **field, const char *dir, const char *name, bool only_if_exists)
{
    if (*field != NULL && (*field)[0] != '\0')
        return;
    char *path = ts_xasprintf("%s/%s", dir, name);
    struct stat st;
    free(*field);
    if (only_if_exists && stat(path, &st) != 0) {
        free(path);
        *field = ts_xstrdup("");
        return;
    }
    *field = path;
}

int ts_server_config_load(ts_server_config *cfg, const char *path, char **overrides, int noverrides,
                          ts_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    int rc = ts_cfg_defaults(cfg, ts_server_config_keys, err);
    if (rc == 0 && path != NULL)
        rc = ts_cfg_load(cfg, ts_server_config_keys, path, err);
    for (int i = 0; rc == 0 && i < noverrides; i++)
        rc = ts_cfg_override(cfg, ts_server_config_keys, overrides[i], err);
    if (rc < 0) {
        ts_cfg_free(cfg, ts_server_config_keys);
        memset(cfg, 0, sizeof *cfg); /* freeing it again is harmless */
        return rc;
    }
    ts__derive(&cfg->database, cfg->data_dir, "district.db", false);
    ts__derive(&cfg->ca, cfg->data_dir, "pki/ca.pem", false);
    ts__derive(&cfg->cert, cfg->data_dir, "pki/server.pem", false);
    ts__derive(&cfg->key, cfg->data_dir, "pki/server.key", false);
    ts__derive(&cfg->crl, cfg->data_dir, "pki/crl.pem", true);
    return 0;
}

void ts_server_config_free(ts_server_config *cfg)
{
    ts_cfg_free(cfg, ts_server_config_keys);
}

static void ts__config_copy(ts_server_config *dst, const ts_server_config *src)
{
    *dst = *src;
    for (const ts_cfg_key *k = ts_server_config_keys; k->key; k++) {
        if (k->type == TS_CFG_STR) {
            char **p = (char **)(void *)((char *)dst + k->offset);
            *p = ts_xstrdup(*p ? *p : "");
        }
    }
}

static int ts__sync_mode(const char *s)
{
    if (strcmp(s, "full") == 0)
        return TS_SYNC_FULL;
    if (strcmp(s, "normal") == 0)
        return TS_SYNC_NORMAL;
    if (strcmp(s, "off") == 0)
        return TS_SYNC_OFF;
    return -1;
}

static int ts__tls_ctx(const ts_server_config *cfg, ts_tls_ctx **out, ts_error *err)
{
    ts_tls_config tc;
    ts_tls_config_init(&tc, true);
    tc.ca_file = cfg->ca;
    tc.cert_file = cfg->cert;
    tc.key_file = cfg->key;
    tc.crl_file = cfg->crl;
    tc.allow_tls12 = cfg->allow_tls12;
    tc.session_tickets = cfg->session_tickets;
    tc.resumption = cfg->resumption;
    return ts_tls_ctx_new(out, &tc, err);
}

int ts_server_config_check(const ts_server_config *cfg, ts_error *err)
{
    struct sockaddr_storage ss;
    int rc = ts_parse_listen(cfg->listen, &ss, err);
    if (rc < 0) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return ts_error_set(err, rc, "[server] listen: %.200s", why);
    }
    if (ts__sync_mode(cfg->synchronous) < 0)
        return ts_error_set(err, TS_EBAD_VALUE, "[server] synchronous = %s: expected full, normal or off",
                            cfg->synchronous);
    if (ts_log_level_parse(cfg->log_level) < 0)
        return ts_error_set(err, TS_EBAD_VALUE, "[server] log_level = %s: expected debug, info, warn or error",
                            cfg->log_level);
    if (cfg->max_frame < 4096 || cfg->max_frame > TS_PROTO_HARD_MAX_FRAME)
        return ts_error_set(err, TS_EBAD_VALUE, "[server] max_frame must be between 4KiB and 64MiB");
    if (cfg->max_changes == 0 || cfg->pull_page == 0 || cfg->pull_page > cfg->max_changes)
        return ts_error_set(err, TS_EBAD_VALUE, "[server] pull_page must be between 1 and max_changes");
    if (cfg->write_low_water >= cfg->write_high_water)
        return ts_error_set(err, TS_EBAD_VALUE, "[server] write_low_water must be below write_high_water");
    if (cfg->rate_messages == 0 || cfg->rate_burst == 0 || cfg->rate_changes * 2 < cfg->max_changes)
        return ts_error_set(err, TS_EBAD_VALUE,
                            "[server] rate limits must be positive and rate_changes at least max_changes/2");
    if (cfg->heartbeat_ms < 1000 || cfg->idle_timeout_ms < cfg->heartbeat_ms * 2)
        return ts_error_set(err, TS_EBAD_VALUE, "[server] idle_timeout must be at least twice the heartbeat");
    if (cfg->max_connections == 0)
        return ts_error_set(err, TS_EBAD_VALUE, "[server] max_connections must be positive");
    if (cfg->max_station_connections < 2)
        return ts_error_set(err, TS_EBAD_VALUE,
                            "[server] max_station_connections must be at least 2 (a reconnecting station "
                            "overlaps its old session)");
    if (cfg->hello_timeout_ms < 1000 || cfg->frame_timeout_ms < 1000 || cfg->frame_min_rate < 64)
        return ts_error_set(err, TS_EBAD_VALUE,
                            "[server] hello_timeout and frame_timeout must be at least 1s, frame_min_rate at "
                            "least 64 bytes");
    if (cfg->frame_budget - cfg->frame_budget / 4 < cfg->max_frame)
        return ts_error_set(err, TS_EBAD_VALUE,
                            "[server] frame_budget must be at least 4/3 of max_frame (large frames use 3/4 of it)");
    if (!ts_tz_valid(cfg->timezone))
        return ts_error_set(err, TS_EBAD_VALUE,
                            "[district] timezone = %.100s: not a time zone of this machine's tz database (e.g. "
                            "Asia/Ho_Chi_Minh; install tzdata)",
                            cfg->timezone);
    if (cfg->admin_rate == 0 || cfg->admin_rate_burst == 0)
        return ts_error_set(err, TS_EBAD_VALUE, "[admin] rate and rate_burst must be positive");
    if (cfg->admin_lockout_after == 0 || cfg->admin_login_failures_per_minute == 0 || cfg->admin_max_unauthenticated == 0)
        return ts_error_set(err, TS_EBAD_VALUE,
                            "[admin] lockout_after, login_failures_per_minute and max_unauthenticated must be positive");
    if (cfg->admin_header_timeout_ms < 1000 || cfg->admin_body_timeout_ms < 1000 || cfg->admin_body_min_rate < 64)
        return ts_error_set(err, TS_EBAD_VALUE,
                            "[admin] header_timeout and body_timeout must be at least 1s, body_min_rate 64 bytes");
    ts_tls_ctx *ctx;
    if ((rc = ts__tls_ctx(cfg, &ctx, err)) < 0)
        return rc;
    ts_tls_ctx_unref(ctx);
    if (cfg->tables[0] != '\0') {
        ts_registry reg;
        if ((rc = ts_registry_load_file(&reg, cfg->tables, err)) < 0)
            return rc;
        ts_registry_free(&reg);
    }
    return 0;
}

/* ---------------------------------------------------------------- lifecycle */

static void ts__apply_limits(ts_server *srv)
{
    ts_proto_limits_default(&srv->limits);
    srv->limits.max_frame = (uint32_t)srv->cfg.max_frame;
    srv->limits.max_changes = (uint32_t)srv->cfg.max_changes;
    ts_conn_limits_default(&srv->conn_limits);
    srv->conn_limits.high_water = srv->cfg.write_high_water;
    srv->conn_limits.low_water = srv->cfg.write_low_water;
    srv->conn_limits.handshake_timeout_ms = srv->cfg.handshake_timeout_ms;
    srv->conn_limits.idle_timeout_ms = srv->cfg.idle_timeout_ms;
    /* a resumed station's early data, up to 64 KiB, at the rate a frame has */
    srv->conn_limits.early_min_rate = srv->cfg.frame_min_rate;
    ts_log_set_level((ts_log_level)ts_log_level_parse(srv->cfg.log_level));
}

/* A record larger than a frame can never be sent: warn at start and reload
 * when the schema allows one (a notice with every field full, or a 256 KiB
 * attachment, with max_frame set to 64 KiB), rather than let stations stall
 * on it later. A record's size is bounded by the sum of its fields' limits:
 * text limits are characters of up to 4 bytes, a list holds keys of up to
 * TS_KEY_MAX characters, and each field carries its name, writer, counter
 * and timestamp besides its value. */
static void ts__check_frame_fits(const ts_server *srv)
{
    const double per_field = 200, envelope = 4096;
    const ts_table_def *big_table = NULL;
    double big_bytes = 0;
    for (size_t i = 0; i < srv->reg.ntables; i++) {
        const ts_table_def *t = &srv->reg.tables[i];
        double bytes = envelope;
        for (size_t k = 0; k < t->nfields; k++) {
            const ts_field_def *f = &t->fields[k];
            double value = 16;
            if (f->has_max && f->type == TS_FT_BIN)
                value = f->max;
            else if (f->has_max && f->type == TS_FT_TEXT)
                value = f->max * 4;
            else if (f->has_max && f->type == TS_FT_LIST)
                value = f->max * (TS_KEY_MAX * 4 + 5);
            else if (f->type == TS_FT_TEXT || f->type == TS_FT_BIN)
                value = TS_PROTO_DEFAULT_MAX_STR; /* no limit of its own: the wire's */
            if ((f->type == TS_FT_BIN || f->type == TS_FT_TEXT) && value > TS_PROTO_DEFAULT_MAX_STR)
                ts_log_warn("field_too_large", "field=%s.%s max_bytes=%.0f wire_limit=%u: a value this large is "
                            "refused on the wire; lower the field's max in the tables file",
                            t->name, f->name, value, TS_PROTO_DEFAULT_MAX_STR);
            bytes += value + per_field;
        }
        if (bytes > big_bytes) {
            big_bytes = bytes;
            big_table = t;
        }
    }
    if (big_table != NULL && (double)srv->cfg.max_frame < big_bytes)
        ts_log_warn("max_frame_small",
                    "max_frame=%" PRIu64 " table=%s max_bytes=%.0f: a record of this table can be larger than a "
                    "frame and could not be sent to a station; raise [server] max_frame above %.0f",
                    srv->cfg.max_frame, big_table->name, big_bytes, big_bytes);
}


static void ts__on_connection(uv_stream_t *listener, int status)
{
    ts_server *srv = listener->data;
    if (status < 0) {
        ts_log_warn("accept_failed", "error=%s", uv_strerror(status));
        return;
    }
    ts_session_accept(srv);
}

static int ts__cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

#define TS__LAG_PERIOD_MS 250
#define TS__TRIM_AFTER (8u * 1024u * 1024u)

/* Loop lag: how late a periodic timer fires is how long the loop was busy. */
static void ts__lag_tick(uv_timer_t *t)
{
    ts_server *srv = t->data;
    uv_update_time(srv->loop);
    uint64_t now = uv_now(srv->loop);
    uint64_t lag = now > srv->lag_expected_ms ? now - srv->lag_expected_ms : 0;
    srv->lag_expected_ms = now + TS__LAG_PERIOD_MS;
    srv->lag_samples[srv->lag_next] = (uint32_t)lag;
    srv->lag_next = (srv->lag_next + 1) % TS__LAG_SAMPLES;
    if (srv->lag_count < TS__LAG_SAMPLES)
        srv->lag_count++;
    if (lag > srv->stats.loop_lag_ms_max)
        srv->stats.loop_lag_ms_max = lag;
    if (lag > 500)
        ts_log_warn("loop_lag", "lag_ms=%" PRIu64, lag);
    /* after a burst of large frames, what the heap kept goes back to the
     * system, at most once a second */
    if (srv->freed_since_trim >= TS__TRIM_AFTER && now - srv->trimmed_at >= 1000) {
        malloc_trim(0);
        srv->freed_since_trim = 0;
        srv->trimmed_at = now;
    }
}

void ts_server_note_freed(ts_server *srv, uint64_t bytes)
{
    srv->freed_since_trim += bytes;
}

static void ts__lag_percentiles(ts_server *srv)
{
    uint32_t sorted[TS__LAG_SAMPLES];
    uint32_t n = srv->lag_count;
    if (n == 0)
        return;
    memcpy(sorted, srv->lag_samples, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, ts__cmp_u32);
    srv->stats.loop_lag_ms_p50 = sorted[n / 2];
    srv->stats.loop_lag_ms_p99 = sorted[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
}

typedef struct ts__purge_job {
    ts_dbjob base;
    ts_server *srv;
    uint64_t purged;
    int rc;
    ts_error err;
} ts__purge_job;

static void ts__purge_work(ts_dbjob *base, ts_store *st)
{
    ts__purge_job *j = base->data;
    j->rc = ts_store_purge_tombstones(st, 5000, &j->purged, &j->err);
}

static void ts__purge_done(ts_dbjob *base)
{
    ts__purge_job *j = base->data;
    ts_server *srv = j->srv;
    srv->maint_running = false;
    if (j->rc < 0)
        ts_log_error("purge_failed", "reason=%s", j->err.msg);
    else if (j->purged)
        ts_log_info("tombstones_purged", "count=%" PRIu64, j->purged);
    free(j);
    ts_server_maybe_finish(srv);
}

static void ts__maint_tick(uv_timer_t *t)
{
    ts_server *srv = t->data;
    if (srv->draining || srv->maint_running)
        return;
    srv->maint_running = true;
    ts__purge_job *j = ts_xcalloc(1, sizeof *j);
    j->srv = srv;
    ts_dbq_submit(&srv->dbq, &j->base, ts__purge_work, ts__purge_done, j);
}

static void ts__stats_tick(uv_timer_t *t)
{
    ts_server *srv = t->data;
    ts_server_stats s;
    ts_server_get_stats(srv, &s);
    ts_log_info("stats", "connections=%" PRIu64 " sessions=%" PRIu64 " changes_in=%" PRIu64 " changes_out=%" PRIu64
                " conflicts=%" PRIu64 " protocol_errors=%" PRIu64 " lag_p99_ms=%" PRIu64 " lag_max_ms=%" PRIu64
                " buffers_bytes=%" PRIu64 " bytes_in=%" PRIu64 " bytes_out=%" PRIu64 " db_jobs=%" PRIu64
                " db_group_commits=%" PRIu64 " db_grouped_jobs=%" PRIu64,
                s.connections, s.sessions, s.changes_in, s.changes_out, s.conflicts, s.protocol_errors,
                s.loop_lag_ms_p99, s.loop_lag_ms_max, s.memory_buffers, s.bytes_in, s.bytes_out, srv->dbq.jobs_done,
                srv->dbq.commits, srv->dbq.grouped);
}

int ts_server_start(ts_server **out, uv_loop_t *loop, const ts_server_config *cfg, ts_error *err)
{
    *out = NULL;
    int rc = ts_server_config_check(cfg, err);
    if (rc < 0)
        return rc;
    ts_server *srv = ts_xcalloc(1, sizeof *srv);
    srv->loop = loop;
    ts__config_copy(&srv->cfg, cfg);
    ts__apply_limits(srv);
    /* the district's days: before the store's thread starts */
    ts_district_tz_apply(srv->cfg.timezone);

    if (srv->cfg.tables[0] != '\0')
        rc = ts_registry_load_file(&srv->reg, srv->cfg.tables, err);
    else
        rc = ts_registry_load_default(&srv->reg, err);
    if (rc < 0)
        goto fail_cfg;

    if (mkdir(srv->cfg.data_dir, 0750) != 0 && errno != EEXIST) {
        rc = ts_error_set(err, TS_EIO, "cannot create data directory %s: %s", srv->cfg.data_dir, strerror(errno));
        goto fail_reg;
    }
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = srv->cfg.database;
    opt.role = TS_ROLE_SERVER;
    opt.registry = &srv->reg;
    opt.create = true;
    opt.synchronous = (ts_sync_mode)ts__sync_mode(srv->cfg.synchronous);
    opt.max_ahead_ms = srv->cfg.max_clock_ahead_ms;
    opt.check = ts_notices_check_change;
    if ((rc = ts_store_open(&srv->store, &opt, err)) < 0)
        goto fail_reg;
    snprintf(srv->db_id, sizeof srv->db_id, "%s", ts_store_db_id(srv->store));
    srv->replica = *ts_store_replica(srv->store);
    ts__check_frame_fits(srv);
    ts_dbq_init(&srv->dbq, loop, srv->store);
    ts_error ckerr;
    if (ts_dbq_checkpoint_off_store(&srv->dbq, &ckerr) < 0) /* then SQLite checkpoints as before */
        ts_log_warn("wal_checkpointer_failed", "reason=%s", ckerr.msg);

    if ((rc = ts__tls_ctx(&srv->cfg, &srv->tls, err)) < 0)
        goto fail_store;

    struct sockaddr_storage addr;
    if ((rc = ts_parse_listen(srv->cfg.listen, &addr, err)) < 0)
        goto fail_tls;
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    srv->listener_open = true;
    srv->handles_open = 1;
    int uvrc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
    if (uvrc == 0)
        uvrc = uv_listen((uv_stream_t *)&srv->listener, 1024, ts__on_connection);
    if (uvrc != 0) {
        rc = ts_error_set(err, TS_EIO, "cannot listen on %s: %s", srv->cfg.listen, uv_strerror(uvrc));
        uv_close((uv_handle_t *)&srv->listener, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        goto fail_tls;
    }

    uv_timer_init(loop, &srv->lag_timer);
    srv->lag_timer.data = srv;
    srv->lag_expected_ms = uv_now(loop) + TS__LAG_PERIOD_MS;
    uv_timer_start(&srv->lag_timer, ts__lag_tick, TS__LAG_PERIOD_MS, TS__LAG_PERIOD_MS);
    uv_timer_init(loop, &srv->maint_timer);
    srv->maint_timer.data = srv;
    if (srv->cfg.purge_interval_ms)
        uv_timer_start(&srv->maint_timer, ts__maint_tick, srv->cfg.purge_interval_ms, srv->cfg.purge_interval_ms);
    uv_timer_init(loop, &srv->stats_timer);
    srv->stats_timer.data = srv;
    if (srv->cfg.stats_interval_ms)
        uv_timer_start(&srv->stats_timer, ts__stats_tick, srv->cfg.stats_interval_ms, srv->cfg.stats_interval_ms);
    srv->handles_open += 3;

    if (srv->cfg.admin_listen[0] != '\0' && (rc = ts_admin_start(&srv->admin, srv, err)) < 0) {
        /* the sync listener and timers are up: take them down in order */
        ts_log_error("admin_start_failed", "reason=%s", err->msg);
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        srv->draining = true;
        uv_close((uv_handle_t *)&srv->listener, NULL);
        uv_close((uv_handle_t *)&srv->lag_timer, NULL);
        uv_close((uv_handle_t *)&srv->maint_timer, NULL);
        uv_close((uv_handle_t *)&srv->stats_timer, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        ts_error_set(err, rc, "admin listener: %s", why);
        goto fail_tls;
    }
    ts_log_info("server_started", "listen=%s port=%d database=%s replica=%s db_id=%s tls_cert_days=%" PRId64
                " crl=%s",
                srv->cfg.listen, ts_server_port(srv), srv->cfg.database, srv->replica.b, srv->db_id,
                ts_tls_ctx_cert_expires_in(srv->tls) / 86400, srv->cfg.crl[0] ? srv->cfg.crl : "none");
    *out = srv;
    return 0;

fail_tls:
    ts_tls_ctx_unref(srv->tls);
fail_store:
    ts_dbq_destroy(&srv->dbq);
    uv_run(loop, UV_RUN_NOWAIT); /* the queue's timer, closed */
    ts_store_close(srv->store);
fail_reg:
    ts_registry_free(&srv->reg);
fail_cfg:
    ts_server_config_free(&srv->cfg);
    free(srv);
    return rc;
}

int ts_server_port(ts_server *srv)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int ts_server_reload(ts_server *srv, const ts_server_config *cfg, ts_error *err)
{
    int rc = ts_server_config_check(cfg, err);
    if (rc < 0)
        return rc;
    ts_tls_ctx *ctx;
    if ((rc = ts__tls_ctx(cfg, &ctx, err)) < 0)
        return rc;
    if (strcmp(cfg->listen, srv->cfg.listen) != 0 || strcmp(cfg->database, srv->cfg.database) != 0 ||
        strcmp(cfg->timezone, srv->cfg.timezone) != 0)
        ts_log_warn("reload_partial", "reason=%s", "listen, database and timezone take effect after a restart");
    char *listen = ts_xstrdup(srv->cfg.listen), *database = ts_xstrdup(srv->cfg.database),
         *tz = ts_xstrdup(srv->cfg.timezone);
    ts_server_config_free(&srv->cfg);
    ts__config_copy(&srv->cfg, cfg);
    free(srv->cfg.listen);
    free(srv->cfg.database);
    free(srv->cfg.timezone);
    srv->cfg.listen = listen;
    srv->cfg.database = database;
    srv->cfg.timezone = tz; /* the TZ set at start (threads read it) */
    ts__apply_limits(srv);
    ts__check_frame_fits(srv);
    ts_tls_ctx_unref(srv->tls); /* sessions keep the context they started with */
    srv->tls = ctx;
    /* ... but not a certificate the new CRL revokes */
    for (ts_session *s = srv->sessions, *next; s; s = next) {
        next = s->next;
        if (s->state != TS_SESS_CLOSING && s->conn.open && ts_tls_ctx_revokes(ctx, &s->conn.tls.peer))
            ts_session_revoke(s);
    }
    if (srv->admin != NULL && ts_admin_reload(srv->admin, err) < 0)
        ts_log_error("admin_reload_failed", "reason=%s", err->msg);
    ts_log_info("server_reloaded", "crl=%s tls_cert_days=%" PRId64, srv->cfg.crl[0] ? srv->cfg.crl : "none",
                ts_tls_ctx_cert_expires_in(ctx) / 86400);
    return 0;
}

void ts_server_get_stats(ts_server *srv, ts_server_stats *out)
{
    ts__lag_percentiles(srv);
    uint64_t mem = 0, ready = 0;
    for (ts_session *s = srv->sessions; s; s = s->next) {
        mem += ts_conn_memory(&s->conn) + s->stash.cap + ts_frame_decoder_buffered(&s->dec);
        ready += s->state == TS_SESS_READY;
    }
    srv->stats.memory_buffers = mem;
    srv->stats.frame_budget_used = srv->budget_used;
    srv->stats.sessions = ready; /* counted, not tracked: a session can end in many states */
    srv->stats.connections = srv->nconns;
    srv->stats.server_cert_expires_in = ts_tls_ctx_cert_expires_in(srv->tls);
    *out = srv->stats;
    /* the totals count sessions when they close: add what the open ones
     * have moved so far (bytes on the wire, TLS included) */
    for (const ts_session *x = srv->sessions; x; x = x->next) {
        out->bytes_in += x->conn.bytes_in;
        out->bytes_out += x->conn.bytes_out;
    }
}

void ts_server_session_gone(ts_server *srv, ts_session *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    srv->nconns--;
    srv->stats.connections = srv->nconns;
    ts_server_maybe_finish(srv);
}

static void ts__handle_closed(uv_handle_t *h)
{
    ts_server *srv = h->data;
    if (--srv->handles_open > 0)
        return;
    uint64_t inline_ckpts = ts_store_wal_inline_checkpoints(srv->store);
    ts_dbq_destroy(&srv->dbq);
    ts_store_close(srv->store);
    srv->store = NULL;
    ts_log_info("server_stopped", "jobs=%" PRIu64 " group_commits=%" PRIu64 " grouped_jobs=%" PRIu64
                " store_busy_ms=%" PRIu64 " commit_ms=%" PRIu64 " wal_checkpoints=%" PRIu64
                " wal_inline_checkpoints=%" PRIu64,
                srv->dbq.jobs_done, srv->dbq.commits, srv->dbq.grouped, srv->dbq.busy_us / 1000,
                srv->dbq.commit_us / 1000, srv->dbq.checkpoints, inline_ckpts);
    if (srv->shutdown_done)
        srv->shutdown_done(srv, srv->shutdown_arg);
}

int ts_server_admin_port(ts_server *srv)
{
    return srv->admin ? ts_admin_port(srv->admin) : -1;
}

static void ts__admin_stopped(void *arg)
{
    ts_server *srv = arg;
    srv->admin = NULL;
    srv->admin_stopping = false;
    ts_server_maybe_finish(srv);
}

const char *ts_refused_name(int reason)
{
    if (reason == TS_REFUSED_TIMEOUT)
        return "timeout";
    if (reason == TS_REFUSED_NOT_STATION)
        return "not_station";
    return ts_tls_fail_name((ts_tls_fail)reason);
}

void ts_server_maybe_finish(ts_server *srv)
{
    if (!srv->draining || srv->sessions != NULL || srv->dbq.inflight > 0 || srv->handles_open == 0 ||
        srv->admin_stopping)
        return;
    if (uv_is_closing((uv_handle_t *)&srv->lag_timer))
        return;
    uv_close((uv_handle_t *)&srv->lag_timer, ts__handle_closed);
    uv_close((uv_handle_t *)&srv->maint_timer, ts__handle_closed);
    uv_close((uv_handle_t *)&srv->stats_timer, ts__handle_closed);
}

void ts_server_shutdown(ts_server *srv, void (*done)(ts_server *srv, void *arg), void *arg)
{
    if (srv->draining)
        return;
    srv->draining = true;
    srv->shutdown_done = done;
    srv->shutdown_arg = arg;
    ts_log_info("server_draining", "sessions=%" PRIu64 " jobs=%u", srv->nconns, srv->dbq.inflight);
    if (srv->listener_open) {
        srv->listener_open = false;
        srv->listener.data = srv;
        uv_close((uv_handle_t *)&srv->listener, ts__handle_closed);
    }
    uv_timer_stop(&srv->maint_timer);
    uv_timer_stop(&srv->stats_timer);
    ts_dbq_drain(&srv->dbq); /* background jobs queued run now, not after an idle moment */
    if (srv->admin != NULL) {
        srv->admin_stopping = true;
        ts_admin_stop(srv->admin, ts__admin_stopped, srv);
    }
    for (ts_session *s = srv->sessions; s; s = s->next)
        ts_session_shutdown(s);
    ts_server_maybe_finish(srv);
}

void ts_server_free(ts_server *srv)
{
    if (srv == NULL)
        return;
    ts_tls_ctx_unref(srv->tls);
    ts_registry_free(&srv->reg);
    ts_server_config_free(&srv->cfg);
    free(srv);
}
