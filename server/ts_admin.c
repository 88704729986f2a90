/* The admin API: routing, authentication, and the endpoints. Handlers run on
 * the store's thread (a DB job) and build JSON; the response and anything the
 * sync side must do (notify stations, send NOTICE frames, console events)
 * happen back on the loop. */
#include "server/ts_admin.h"

#include <argon2.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "common/ts_log.h"
#include "common/ts_notice.h"
#include "common/ts_recjson.h"
#include "common/ts_version.h"
#include "common/ts_xmalloc.h"
#include "server/ts_console.h"
#include "server/ts_http.h"
#include "server/ts_notices.h"
#include "server/ts_server_api.h"
#include "server/ts_targets.h"

extern const unsigned char ts_plan_tasks_tsv[];
extern const size_t ts_plan_tasks_tsv_len;

struct ts_admin {
    ts_server *srv;
    uv_timer_t targets_timer;
    bool targets_running;
    ts_http_server *http;
    ts_tls_ctx *tls;
    uv_timer_t esc_timer;
    bool esc_timer_open;
    bool esc_running;
    ts_notice_policy policy;
    unsigned jobs;
    bool stopping;
    void (*stop_done)(void *arg);
    void *stop_arg;
    int closing_parts;
    uint64_t started_ms;
};

int ts_admin_role_rank(const char *role)
{
    if (role == NULL)
        return 0;
    if (strcmp(role, "viewer") == 0)
        return 1;
    if (strcmp(role, "operator") == 0)
        return 2;
    if (strcmp(role, "admin") == 0)
        return 3;
    return 0;
}

static const char *ts__role_name(int rank)
{
    static const char *const names[] = {"none", "viewer", "operator", "admin"};
    return rank >= 0 && rank <= 3 ? names[rank] : "none";
}

/* ---------------------------------------------------------------- jobs */

typedef struct ts__frame {
    char station[TS_KEY_MAX + 1];
    ts_buf bytes;
} ts__frame;

typedef struct ts__job ts__job;
typedef void (*ts__route_fn)(ts__job *j, ts_store *st);

typedef struct ts__route {
    enum http_method method;
    const char *pattern;
    int min_role; /* 0: no login needed */
    ts__route_fn fn;
} ts__route;

struct ts__job {
    ts_dbjob base;
    ts_admin *adm;
    ts_http_conn *hc;
    const ts__route *route;
    char params[3][TS_KEY_MAX + 1];
    char query[1024];
    json_t *body;
    char token[96];
    bool token_from_cookie;
    ts_tls_peer cert;
    bool has_cert;
    char peer[64];
    char requested_with[64];
    ts_live_station *live;
    size_t nlive;
    ts_server_stats stats;
    uint64_t now_ms;
    /* who */
    int role;
    char user[TS_KEY_MAX + 1];
    /* the answer */
    int status;
    json_t *resp;
    char headers[512];
    bool sse;
    const char *text_type; /* a non-JSON answer (metrics) in text */
    ts_buf text;
    /* what the loop does afterwards */
    bool notify_all;
    ts_strlist notify;
    ts__frame *frames;
    size_t nframes;
    char event[32];
    json_t *event_data;
    bool refresh_targets;
};

static void ts__fail(ts__job *j, int status, const char *code, const char *message)
{
    json_decref(j->resp);
    j->status = status;
    j->resp = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
}

static void ts__fail_err(ts__job *j, const ts_error *err)
{
    int status = 500;
    switch (err->code) {
    case TS_ENOT_FOUND:
    case TS_EUNKNOWN_TABLE: status = 404; break;
    case TS_EINVALID_RECORD:
    case TS_EBAD_VALUE:
    case TS_EWRONG_TYPE: status = 422; break;
    case TS_EFORBIDDEN: status = 403; break;
    default: status = 500; break;
    }
    /* no SQL and no internals leave the server: a 500 says only that */
    ts__fail(j, status, ts_err_name(err->code), status == 500 ? "internal error (see the server log)" : err->msg);
    if (status == 500)
        ts_log_error("admin_internal_error", "route=%s reason=\"%s\"", j->route ? j->route->pattern : "-", err->msg);
}

static void ts__ok(ts__job *j, int status, json_t *resp)
{
    json_decref(j->resp);
    j->status = status;
    j->resp = resp;
}

static ts_actor ts__actor(const ts__job *j)
{
    ts_actor a = {TS_ACTOR_ADMIN, j->user, NULL, j->peer};
    return a;
}

static void ts__audit(ts__job *j, ts_store *st, const char *action, const char *table, const char *record,
                      const char *outcome, const char *detail)
{
    ts_actor a = ts__actor(j);
    ts_store_audit(st, &a, action, table, record, outcome, detail);
}

static void ts__add_frame(ts__job *j, const char *station, ts_buf *bytes)
{
    j->frames = ts_xreallocarray(j->frames, j->nframes + 1, sizeof *j->frames);
    ts__frame *f = &j->frames[j->nframes++];
    snprintf(f->station, sizeof f->station, "%s", station);
    f->bytes = *bytes;
    ts_buf_init(bytes);
}

static void ts__set_event(ts__job *j, const char *event, json_t *data)
{
    snprintf(j->event, sizeof j->event, "%s", event);
    json_decref(j->event_data);
    j->event_data = data;
}

/* ---------------------------------------------------------------- auth */

static void ts__sha256_hex(const char *s, char *out)
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int ts__hash_password(const char *password, char *encoded, size_t size)
{
    unsigned char salt[16];
    RAND_bytes(salt, sizeof salt);
    /* argon2id, OWASP's minimum: 19 MiB, 2 passes */
    return argon2id_hash_encoded(2, 19456, 1, password, strlen(password), salt, sizeof salt, 32, encoded, size) ==
                   ARGON2_OK
               ? 0
               : -1;
}

int ts_admin_user_set(ts_store *st, const char *username, const char *password, const char *role,
                      const char *full_name, ts_error *err)
{
    if (!ts_key_valid(username, strlen(username)) || strchr(username, ' ') || strchr(username, ':'))
        return ts_error_set(err, TS_EBAD_VALUE, "\"%s\" is not a valid user name", username);
    if (role && ts_admin_role_rank(role) == 0)
        return ts_error_set(err, TS_EBAD_VALUE, "role must be viewer, operator or admin");
    if (password && strlen(password) < 10)
        return ts_error_set(err, TS_EBAD_VALUE, "a password has at least 10 characters");
    char encoded[256] = "";
    if (password && ts__hash_password(password, encoded, sizeof encoded) < 0)
        return ts_error_set(err, TS_EINTERNAL, "cannot hash the password");
    sqlite3_stmt *q;
    const char *sql = "INSERT INTO admin_users(username, password, role, full_name, created_at)"
                      " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(username) DO UPDATE SET"
                      " password = CASE WHEN ?2 = '' THEN password ELSE ?2 END,"
                      " role = CASE WHEN ?3 = '' THEN role ELSE ?3 END,"
                      " full_name = CASE WHEN ?4 = '' THEN full_name ELSE ?4 END, failed = 0, locked_until = 0";
    if (sqlite3_prepare_v2(ts_store_db(st), sql, -1, &q, NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "users: %s", sqlite3_errmsg(ts_store_db(st)));
    sqlite3_bind_text(q, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, encoded, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, role ? role : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, full_name ? full_name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, (sqlite3_int64)ts_wall_ms());
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : ts_error_set(err, TS_ESTORAGE, "cannot save the user");
    sqlite3_finalize(q);
    return rc;
}

/* Who is asking: an admin certificate, or a session token. */
static bool ts__authenticate(ts__job *j, ts_store *st)
{
    if (j->has_cert) {
        if (strncmp(j->cert.ou, "admin-", 6) == 0 && ts_admin_role_rank(j->cert.ou + 6) > 0) {
            j->role = ts_admin_role_rank(j->cert.ou + 6);
            snprintf(j->user, sizeof j->user, "cert:%.100s", j->cert.cn);
            return true;
        }
        ts__fail(j, 403, "FORBIDDEN", "this certificate is not an admin certificate");
        return false;
    }
    if (j->token[0] == '\0') {
        ts__fail(j, 401, "UNAUTHENTICATED", "log in first (POST /api/login) or use an admin certificate");
        return false;
    }
    char hash[65];
    ts__sha256_hex(j->token, hash);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT s.username, u.role FROM admin_sessions s JOIN admin_users u"
                           " ON u.username = s.username WHERE s.token_hash = ?1 AND s.expires_at > ?2"
                           " AND u.disabled = 0",
                           -1, &q, NULL) != SQLITE_OK) {
        ts__fail(j, 500, "INTERNAL", "internal error");
        return false;
    }
    sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)j->now_ms);
    bool ok = sqlite3_step(q) == SQLITE_ROW;
    if (ok) {
        snprintf(j->user, sizeof j->user, "%s", (const char *)sqlite3_column_text(q, 0));
        j->role = ts_admin_role_rank((const char *)sqlite3_column_text(q, 1));
    }
    sqlite3_finalize(q);
    if (!ok) {
        ts__fail(j, 401, "UNAUTHENTICATED", "the session has expired or does not exist: log in again");
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- helpers */

static const char *ts__str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static bool ts__q(ts__job *j, const char *name, char *out, size_t size)
{
    ts_http_req r;
    memset(&r, 0, sizeof r);
    snprintf(r.query, sizeof r.query, "%s", j->query);
    return ts_http_query(&r, name, out, size) && out[0];
}

static uint32_t ts__limit(ts__job *j, uint32_t def, uint32_t max)
{
    char buf[16];
    if (!ts__q(j, "limit", buf, sizeof buf))
        return def;
    long v = strtol(buf, NULL, 10);
    return v <= 0 ? def : v > (long)max ? max : (uint32_t)v;
}

static json_t *ts__labels_json(const ts_label *list, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "code", list[i].code, "vi", list[i].vi, "en", list[i].en));
    return a;
}

/* ---------------------------------------------------------------- endpoints: session */

static void ts__api_health(ts__job *j, ts_store *st)
{
    ts__ok(j, 200, json_pack("{s:s,s:s,s:s,s:I}", "status", "ok", "version", TS_VERSION, "db_id", ts_store_db_id(st),
                             "uptime_s", (json_int_t)((j->now_ms - j->adm->started_ms) / 1000)));
}

static void ts__api_login(ts__job *j, ts_store *st)
{
    const char *user = ts__str(j->body, "username"), *pass = ts__str(j->body, "password");
    if (!user[0] || !pass[0]) {
        ts__fail(j, 400, "BAD_REQUEST", "username and password are required");
        return;
    }
    snprintf(j->user, sizeof j->user, "%s", user);
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT password, role, failed, locked_until, disabled FROM admin_users WHERE username = ?1",
                           -1, &q, NULL) != SQLITE_OK) {
        ts__fail(j, 500, "INTERNAL", "internal error");
        return;
    }
    sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    bool found = sqlite3_step(q) == SQLITE_ROW;
    char encoded[256] = "", role[16] = "";
    int64_t failed = 0, locked_until = 0, disabled = 0;
    if (found) {
        snprintf(encoded, sizeof encoded, "%s", (const char *)sqlite3_column_text(q, 0));
        snprintf(role, sizeof role, "%s", (const char *)sqlite3_column_text(q, 1));
        failed = sqlite3_column_int64(q, 2);
        locked_until = sqlite3_column_int64(q, 3);
        disabled = sqlite3_column_int64(q, 4);
    }
    sqlite3_finalize(q);
    const ts_server_config *cfg = ts_server_get_config(j->adm->srv);
    if (found && (uint64_t)locked_until > j->now_ms) {
        ts__audit(j, st, "login", NULL, NULL, "locked", NULL);
        ts_log_warn("admin_login_locked", "user=%s peer=%s", user, j->peer);
        ts__fail(j, 423, "LOCKED", "too many failed attempts: this account is locked for a while");
        return;
    }
    /* unknown users cost the same time as wrong passwords */
    static const char dummy[] = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
                                "2Xr6PDQcZpWRTPVsRSmhLnULDt48Ou3L8k9cAo3Lt3s";
    bool ok = argon2id_verify(found ? encoded : dummy, pass, strlen(pass)) == ARGON2_OK && found && !disabled;
    if (!ok) {
        if (found) {
            failed++;
            int64_t lock = failed >= (int64_t)cfg->admin_lockout_after ? (int64_t)(j->now_ms + cfg->admin_lockout_ms) : 0;
            if (sqlite3_prepare_v2(db, "UPDATE admin_users SET failed = ?2, locked_until = ?3 WHERE username = ?1", -1, &q,
                                   NULL) == SQLITE_OK) {
                sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
                sqlite3_bind_int64(q, 2, lock ? 0 : failed);
                sqlite3_bind_int64(q, 3, lock);
                sqlite3_step(q);
                sqlite3_finalize(q);
            }
            if (lock)
                ts_log_warn("admin_locked_out", "user=%s peer=%s failures=%" PRId64, user, j->peer, failed);
        }
        ts__audit(j, st, "login", NULL, NULL, "failed", NULL);
        ts_log_warn("admin_login_failed", "user=%s peer=%s", user, j->peer);
        ts__fail(j, 401, "BAD_CREDENTIALS", "wrong user name or password");
        return;
    }
    unsigned char rnd[32];
    RAND_bytes(rnd, sizeof rnd);
    char token[65], hash[65];
    for (int i = 0; i < 32; i++)
        snprintf(token + 2 * i, 3, "%02x", rnd[i]);
    ts__sha256_hex(token, hash);
    uint64_t expires = j->now_ms + cfg->admin_session_ttl_ms;
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO admin_sessions(token_hash, username, role, created_at, expires_at, peer)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, role, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, (sqlite3_int64)j->now_ms);
        sqlite3_bind_int64(q, 5, (sqlite3_int64)expires);
        sqlite3_bind_text(q, 6, j->peer, -1, SQLITE_STATIC);
        sqlite3_step(q);
        sqlite3_finalize(q);
    }
    if (sqlite3_prepare_v2(db, "UPDATE admin_users SET failed = 0 WHERE username = ?1", -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
        sqlite3_step(q);
        sqlite3_finalize(q);
    }
    /* expired sessions go as new ones come */
    if (sqlite3_prepare_v2(db, "DELETE FROM admin_sessions WHERE expires_at < ?1", -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, (sqlite3_int64)j->now_ms);
        sqlite3_step(q);
        sqlite3_finalize(q);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    j->role = ts_admin_role_rank(role);
    ts__audit(j, st, "login", NULL, NULL, "ok", role);
    ts_log_info("admin_login", "user=%s role=%s peer=%s", user, role, j->peer);
    snprintf(j->headers, sizeof j->headers,
             "Set-Cookie: ts_session=%s; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=%" PRIu64 "\r\n", token,
             cfg->admin_session_ttl_ms / 1000);
    ts__ok(j, 200, json_pack("{s:s,s:s,s:s,s:I}", "token", token, "user", user, "role", role, "expires_at_ms",
                             (json_int_t)expires));
}

static void ts__api_logout(ts__job *j, ts_store *st)
{
    if (j->token[0]) {
        char hash[65];
        ts__sha256_hex(j->token, hash);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(ts_store_db(st), "DELETE FROM admin_sessions WHERE token_hash = ?1", -1, &q, NULL) ==
            SQLITE_OK) {
            sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
            sqlite3_step(q);
            sqlite3_finalize(q);
        }
    }
    ts__audit(j, st, "logout", NULL, NULL, "ok", NULL);
    snprintf(j->headers, sizeof j->headers, "Set-Cookie: ts_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0\r\n");
    ts__ok(j, 200, json_pack("{s:b}", "ok", 1));
}

static void ts__api_me(ts__job *j, ts_store *st)
{
    (void)st;
    ts__ok(j, 200, json_pack("{s:s,s:s,s:b}", "user", j->user, "role", ts__role_name(j->role), "certificate",
                             j->has_cert));
}

static void ts__api_labels(ts__job *j, ts_store *st)
{
    (void)st;
    ts__ok(j, 200,
           json_pack("{s:o,s:o,s:o,s:o,s:o}", "categories", ts__labels_json(ts_notice_categories, 12), "urgencies",
                     ts__labels_json(ts_notice_urgencies, 4), "doc_types", ts__labels_json(ts_notice_doc_types, 7),
                     "states", ts__labels_json(ts_notice_states, 5), "report_kinds", ts__labels_json(ts_report_kinds, 9)));
}

static void ts__api_tables(ts__job *j, ts_store *st)
{
    const ts_registry *reg = ts_store_registry(st);
    json_t *arr = json_array();
    for (size_t i = 0; i < reg->ntables; i++) {
        const ts_table_def *t = &reg->tables[i];
        json_t *fields = json_array();
        for (size_t k = 0; k < t->nfields; k++) {
            const ts_field_def *f = &t->fields[k];
            json_t *fo = json_pack("{s:s,s:s,s:b,s:b}", "name", f->name, "type", ts_field_type_name(f->type),
                                   "required", f->required, "station_writable", f->station_writable);
            if (f->nvalues) {
                json_t *vals = json_array();
                for (size_t v = 0; v < f->nvalues; v++)
                    json_array_append_new(vals, json_string(f->values[v]));
                json_object_set_new(fo, "values", vals);
            }
            if (f->has_max)
                json_object_set_new(fo, "max", json_real(f->max));
            json_array_append_new(fields, fo);
        }
        json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:s,s:s,s:o}", "name", t->name, "kind",
                                             ts_table_kind_name(t->kind), "personal", t->personal, "label_vi",
                                             t->label_vi, "label_en", t->label_en, "fields", fields));
    }
    ts__ok(j, 200, json_pack("{s:o}", "tables", arr));
}

/* ---------------------------------------------------------------- endpoints: stations */

typedef struct ts__status_row {
    char station[TS_KEY_MAX + 1];
    json_t *o;
} ts__status_row;

static json_t *ts__station_obj(json_t *index, const char *code)
{
    json_t *o = json_object_get(index, code);
    if (o == NULL) {
        o = json_pack("{s:s,s:b}", "code", code, "connected", 0);
        json_object_set_new(index, code, o);
    }
    return o;
}

static void ts__collect_stations(ts__job *j, ts_store *st, json_t *index)
{
    /* the directory */
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    char after[TS_KEY_MAX + 1] = "";
    for (;;) {
        if (ts_store_list(st, "stations", after, 500, false, &page, &err) < 0 || page.n == 0)
            break;
        for (uint32_t i = 0; i < page.n; i++) {
            json_t *o = ts__station_obj(index, page.items[i].id);
            json_t *rec = ts_recjson_record(&page.items[i], false);
            json_object_set(o, "directory", json_object_get(rec, "fields"));
            json_decref(rec);
        }
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
        if (page.n < 500)
            break;
    }
    ts_change_page_free(&page);
    /* what sessions told us */
    sqlite3_stmt *q;
    uint64_t seq = ts_store_last_seq(st);
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT s.station, s.replica, s.agent, s.peer, s.connected_at, s.last_seen, s.last_sync,"
                           " s.clock_skew_ms, s.cert_serial, s.cert_not_after, s.commune, c.cursor"
                           " FROM station_status s LEFT JOIN station_cursors c ON c.station = s.station",
                           -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            json_t *o = ts__station_obj(index, (const char *)sqlite3_column_text(q, 0));
            json_object_set_new(o, "replica", json_string((const char *)sqlite3_column_text(q, 1)));
            json_object_set_new(o, "agent", json_string((const char *)sqlite3_column_text(q, 2)));
            json_object_set_new(o, "last_peer", json_string((const char *)sqlite3_column_text(q, 3)));
            json_object_set_new(o, "last_seen_ms", json_integer(sqlite3_column_int64(q, 5)));
            json_object_set_new(o, "last_sync_ms", json_integer(sqlite3_column_int64(q, 6)));
            json_object_set_new(o, "clock_skew_ms", json_integer(sqlite3_column_int64(q, 7)));
            json_object_set_new(o, "cert_serial", json_string((const char *)sqlite3_column_text(q, 8)));
            json_object_set_new(o, "cert_not_after", json_integer(sqlite3_column_int64(q, 9)));
            json_object_set_new(o, "commune", json_string((const char *)sqlite3_column_text(q, 10)));
            int64_t cursor = sqlite3_column_int64(q, 11);
            json_object_set_new(o, "cursor", json_integer(cursor));
            json_object_set_new(o, "lag_changes", json_integer((json_int_t)seq > cursor ? (json_int_t)seq - cursor : 0));
        }
        sqlite3_finalize(q);
    }
    /* and who is connected right now */
    for (size_t i = 0; i < j->nlive; i++) {
        json_t *o = ts__station_obj(index, j->live[i].station);
        json_object_set_new(o, "connected", json_true());
        json_object_set_new(o, "peer", json_string(j->live[i].peer));
        json_object_set_new(o, "connected_since_ms", json_integer((json_int_t)j->live[i].connected_ms));
        json_object_set_new(o, "live", json_boolean(j->live[i].live));
        json_object_set_new(o, "last_seen_ms", json_integer((json_int_t)j->now_ms));
    }
    const ts_server_config *cfg = ts_server_get_config(j->adm->srv);
    const char *code;
    json_t *o;
    json_object_foreach(index, code, o) {
        json_int_t seen = json_integer_value(json_object_get(o, "last_seen_ms"));
        bool silent = !json_is_true(json_object_get(o, "connected")) &&
                      (seen == 0 || j->now_ms - (uint64_t)seen > cfg->admin_silent_after_ms);
        json_object_set_new(o, "silent", json_boolean(silent));
        json_int_t na = json_integer_value(json_object_get(o, "cert_not_after"));
        if (na)
            json_object_set_new(o, "cert_days_left", json_integer((na * 1000 - (json_int_t)j->now_ms) / 86400000));
    }
}

static void ts__api_stations(ts__job *j, ts_store *st)
{
    json_t *index = json_object();
    ts__collect_stations(j, st, index);
    json_t *arr = json_array();
    const char *code;
    json_t *o;
    json_object_foreach(index, code, o)
        json_array_append(arr, o);
    json_decref(index);
    ts__ok(j, 200, json_pack("{s:o,s:I}", "stations", arr, "now_ms", (json_int_t)j->now_ms));
}

static void ts__api_station(ts__job *j, ts_store *st)
{
    json_t *index = json_object();
    ts__collect_stations(j, st, index);
    json_t *o = json_object_get(index, j->params[0]);
    if (o == NULL)
        ts__fail(j, 404, "NOT_FOUND", "no such station");
    else
        ts__ok(j, 200, json_incref(o));
    json_decref(index);
}

/* ---------------------------------------------------------------- endpoints: records */

static void ts__api_records(ts__job *j, ts_store *st)
{
    const ts_table_def *t = ts_registry_table(ts_store_registry(st), j->params[0]);
    if (t == NULL) {
        ts__fail(j, 404, "UNKNOWN_TABLE", "unknown table");
        return;
    }
    char after[TS_KEY_MAX + 1] = "", station[TS_KEY_MAX + 1] = "";
    ts__q(j, "after", after, sizeof after);
    ts__q(j, "station", station, sizeof station);
    uint32_t limit = ts__limit(j, 100, 1000);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    json_t *arr = json_array();
    char last[TS_KEY_MAX + 1] = "";
    bool more = false;
    /* keep reading pages until `limit` records of the station were found */
    while (json_array_size(arr) < limit) {
        if (ts_store_list(st, t->name, after, limit, false, &page, &err) < 0) {
            json_decref(arr);
            ts_change_page_free(&page);
            ts__fail_err(j, &err);
            return;
        }
        for (uint32_t i = 0; i < page.n && json_array_size(arr) < limit; i++) {
            snprintf(last, sizeof last, "%s", page.items[i].id);
            if (station[0] && strcmp(page.items[i].owner, station) != 0)
                continue;
            json_array_append_new(arr, ts_recjson_record(&page.items[i], false));
        }
        more = page.n == limit;
        if (page.n < limit)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    if (t->personal) {
        char detail[200];
        snprintf(detail, sizeof detail, "list %zu records%s%s", json_array_size(arr), station[0] ? " of " : "", station);
        ts__audit(j, st, "read", t->name, NULL, "ok", detail);
    }
    ts__ok(j, 200, json_pack("{s:s,s:o,s:b,s:s}", "table", t->name, "records", arr, "more", more, "next_after", last));
}

static void ts__api_record(ts__job *j, ts_store *st)
{
    const ts_table_def *t = ts_registry_table(ts_store_registry(st), j->params[0]);
    if (t == NULL) {
        ts__fail(j, 404, "UNKNOWN_TABLE", "unknown table");
        return;
    }
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change c;
    ts_error err;
    if (ts_store_get(st, t->name, j->params[1], &c, &arena, &err) < 0) {
        ts_arena_free(&arena);
        ts__fail_err(j, &err);
        return;
    }
    json_t *o = ts_recjson_record(&c, true);
    ts_version_free(&c.v);
    ts_arena_free(&arena);
    if (t->personal)
        ts__audit(j, st, "read", t->name, j->params[1], "ok", NULL);
    ts__ok(j, 200, o);
}

static void ts__api_record_put(ts__job *j, ts_store *st)
{
    const ts_table_def *t = ts_registry_table(ts_store_registry(st), j->params[0]);
    if (t == NULL) {
        ts__fail(j, 404, "UNKNOWN_TABLE", "unknown table");
        return;
    }
    if (t->kind == TS_TABLE_STATION) {
        ts__fail(j, 403, "FORBIDDEN", "station records are written at their station");
        return;
    }
    const json_t *fields = json_object_get(j->body, "fields");
    if (!json_is_object(fields) || json_object_size(fields) == 0) {
        ts__fail(j, 400, "BAD_REQUEST", "body must be {\"fields\": {...}}");
        return;
    }
    size_t n = json_object_size(fields), i = 0;
    ts_kv *kv = ts_xcalloc(n, sizeof *kv);
    ts_buf *vals = ts_xcalloc(n, sizeof *vals);
    ts_error err;
    int rc = 0;
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)fields, name, v) {
        const ts_field_def *f = ts_table_field(t, name);
        if (f == NULL) {
            rc = ts_error_set(&err, TS_EINVALID_RECORD, "table %s has no field \"%s\"", t->name, name);
            break;
        }
        if ((rc = ts_recjson_to_value(f, v, &vals[i], &err)) < 0)
            break;
        kv[i].name = f->name;
        kv[i].value = vals[i].data;
        kv[i].len = vals[i].len;
        i++;
    }
    ts_actor a = ts__actor(j);
    if (rc == 0)
        rc = ts_store_put(st, &a, t->name, j->params[1], NULL, kv, i, &err);
    for (size_t k = 0; k < n; k++)
        ts_buf_free(&vals[k]);
    free(vals);
    free(kv);
    if (rc < 0) {
        ts__fail_err(j, &err);
        return;
    }
    j->notify_all = true;
    ts__set_event(j, "record", json_pack("{s:s,s:s}", "table", t->name, "id", j->params[1]));
    ts__ok(j, 200, json_pack("{s:s,s:s,s:s}", "table", t->name, "id", j->params[1], "result", "stored"));
}

/* ---------------------------------------------------------------- endpoints: conflicts */

static json_t *ts__conflict_json(const ts_conflict_row *r)
{
    json_t *kept = json_loads(r->winner_json, JSON_DECODE_ANY, NULL);
    json_t *lost = json_loads(r->loser_json, JSON_DECODE_ANY, NULL);
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:{s:s,s:I,s:I},s:o,s:{s:s,s:I,s:I},s:I,s:s,s:s,s:b,s:I,s:s,s:s}",
                     "id", (json_int_t)r->id, "table", r->table, "record", r->record, "field", r->field, "rule",
                     r->rule, "kept", kept ? kept : json_null(), "kept_by", "replica", r->winner_replica, "counter",
                     (json_int_t)r->winner_counter, "hlc", (json_int_t)r->winner_hlc, "lost",
                     lost ? lost : json_null(), "lost_by", "replica", r->loser_replica, "counter",
                     (json_int_t)r->loser_counter, "hlc", (json_int_t)r->loser_hlc, "detected_at_ms",
                     (json_int_t)r->detected_at, "detected_by", r->detected_by, "actor", r->actor, "resolved",
                     r->resolved, "resolved_at_ms", (json_int_t)r->resolved_at, "resolved_by", r->resolved_by,
                     "resolution", r->resolution);
}

static void ts__api_conflicts(ts__job *j, ts_store *st)
{
    char status[16] = "open", after[32] = "0", table[64] = "";
    ts__q(j, "status", status, sizeof status);
    ts__q(j, "after", after, sizeof after);
    ts__q(j, "table", table, sizeof table);
    ts_conflict_row *rows;
    size_t n;
    ts_error err;
    if (ts_store_conflicts(st, strcmp(status, "all") != 0, table[0] ? table : NULL, strtoll(after, NULL, 10),
                           ts__limit(j, 100, 1000), &rows, &n, &err) < 0) {
        ts__fail_err(j, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, ts__conflict_json(&rows[i]));
    uint64_t open = 0;
    ts_store_conflict_count(st, true, &open);
    ts_conflict_rows_free(rows, n);
    ts__ok(j, 200, json_pack("{s:o,s:I}", "conflicts", arr, "open", (json_int_t)open));
}

static bool ts__conflict_get(ts__job *j, ts_store *st, ts_conflict_row **row)
{
    int64_t id = strtoll(j->params[0], NULL, 10);
    size_t n;
    ts_error err;
    if (id <= 0 || ts_store_conflicts(st, false, NULL, id - 1, 1, row, &n, &err) < 0 || n == 0 || (*row)->id != id) {
        if (n)
            ts_conflict_rows_free(*row, n);
        ts__fail(j, 404, "NOT_FOUND", "no such conflict");
        return false;
    }
    return true;
}

static void ts__api_conflict(ts__job *j, ts_store *st)
{
    ts_conflict_row *r;
    if (!ts__conflict_get(j, st, &r))
        return;
    json_t *o = ts__conflict_json(r);
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change c;
    ts_error err;
    if (ts_store_get(st, r->table, r->record, &c, &arena, &err) == 0) {
        json_object_set_new(o, "current", ts_recjson_record(&c, true));
        ts_version_free(&c.v);
        const ts_table_def *t = ts_registry_table(ts_store_registry(st), r->table);
        if (t && t->personal)
            ts__audit(j, st, "read", r->table, r->record, "ok", "conflict review");
    }
    ts_arena_free(&arena);
    ts_conflict_rows_free(r, 1);
    ts__ok(j, 200, o);
}

static void ts__api_conflict_resolve(ts__job *j, ts_store *st)
{
    ts_conflict_row *r;
    if (!ts__conflict_get(j, st, &r))
        return;
    const char *choice = ts__str(j->body, "choice");
    const json_t *value = json_object_get(j->body, "value");
    json_t *chosen = NULL;
    if (strcmp(choice, "kept") == 0)
        chosen = json_loads(r->winner_json, JSON_DECODE_ANY, NULL);
    else if (strcmp(choice, "lost") == 0)
        chosen = json_loads(r->loser_json, JSON_DECODE_ANY, NULL);
    else if (strcmp(choice, "value") == 0 && value != NULL)
        chosen = json_incref((json_t *)value);
    if (chosen == NULL) {
        ts_conflict_rows_free(r, 1);
        ts__fail(j, 400, "BAD_REQUEST", "choice must be \"kept\", \"lost\" or \"value\" (with a value)");
        return;
    }
    if (r->resolved) {
        json_decref(chosen);
        ts_conflict_rows_free(r, 1);
        ts__fail(j, 409, "ALREADY_RESOLVED", "this conflict was already resolved");
        return;
    }
    const ts_table_def *t = ts_registry_table(ts_store_registry(st), r->table);
    const ts_field_def *f = t ? ts_table_field(t, r->field) : NULL;
    ts_error err;
    int rc = 0;
    ts_buf val = TS_BUF_INIT;
    bool is_deleted_field = strcmp(r->field, "_deleted") == 0;
    if (t == NULL || (f == NULL && !is_deleted_field)) {
        rc = ts_error_set(&err, TS_ENOT_FOUND, "the conflicting field no longer exists");
    } else if (rc == 0 && (rc = ts_store_begin(st, &err)) == 0) {
        ts_actor a = ts__actor(j);
        /* the resolution is a new write at the district: it dominates both
         * sides, so it reaches every replica like any other version */
        if (is_deleted_field) {
            if (json_is_true(chosen))
                rc = ts_store_delete(st, &a, r->table, r->record, &err);
            else {
                /* restore: write every current field again as a put */
                ts_arena arena;
                ts_arena_init(&arena, 8192);
                ts_change c;
                rc = ts_store_get(st, r->table, r->record, &c, &arena, &err);
                if (rc == 0) {
                    ts_kv *kv = ts_xcalloc(c.v.nfields ? c.v.nfields : 1, sizeof *kv);
                    size_t k = 0;
                    for (uint32_t i = 0; i < c.v.nfields; i++)
                        if (strcmp(c.v.fields[i].name, "_deleted") != 0)
                            kv[k++] = (ts_kv){c.v.fields[i].name, c.v.fields[i].value, c.v.fields[i].value_len};
                    rc = k ? ts_store_put(st, &a, r->table, r->record, NULL, kv, k, &err)
                           : ts_error_set(&err, TS_EBAD_VALUE, "nothing left to restore");
                    free(kv);
                    ts_version_free(&c.v);
                }
                ts_arena_free(&arena);
            }
        } else if ((rc = ts_recjson_to_value(f, chosen, &val, &err)) == 0) {
            ts_kv kv = {f->name, val.data, val.len};
            rc = ts_store_put(st, &a, r->table, r->record, NULL, &kv, 1, &err);
        }
        char resolution[200];
        snprintf(resolution, sizeof resolution, "%s", strcmp(choice, "kept") == 0   ? "kept the merged value"
                                                       : strcmp(choice, "lost") == 0 ? "restored the losing value"
                                                                                     : "wrote a merged value");
        if (rc == 0)
            rc = ts_store_conflict_resolve(st, r->id, j->user, resolution, &err);
        if (rc == 0) {
            ts__audit(j, st, "resolve_conflict", r->table, r->record, "ok", resolution);
            rc = ts_store_commit(st, &err);
        } else {
            ts_store_rollback(st);
        }
    }
    json_decref(chosen);
    ts_buf_free(&val);
    if (rc < 0) {
        ts_conflict_rows_free(r, 1);
        ts__fail_err(j, &err);
        return;
    }
    j->notify_all = true;
    ts__set_event(j, "conflict", json_pack("{s:I,s:s}", "id", (json_int_t)r->id, "state", "resolved"));
    ts__ok(j, 200, json_pack("{s:I,s:s}", "id", (json_int_t)r->id, "result", "resolved"));
    ts_conflict_rows_free(r, 1);
}

/* ---------------------------------------------------------------- endpoints: notices */

static void ts__queue_notice_frames(ts__job *j, ts_store *st, const char *id, const ts_strlist *stations)
{
    ts_error err;
    for (size_t i = 0; i < stations->n; i++) {
        ts_buf b = TS_BUF_INIT;
        if (ts_notice_frame(st, id, stations->v[i], &b, &err) == 0)
            ts__add_frame(j, stations->v[i], &b);
        ts_buf_free(&b);
        ts_strlist_add(&j->notify, stations->v[i]);
    }
}

static void ts__api_notices(ts__job *j, ts_store *st)
{
    json_t *arr;
    ts_error err;
    if (ts_notice_list(st, ts__limit(j, 50, 500), &arr, &err) < 0) {
        ts__fail_err(j, &err);
        return;
    }
    ts__ok(j, 200, json_pack("{s:o}", "notices", arr));
}

static void ts__api_notice(ts__job *j, ts_store *st)
{
    json_t *o;
    ts_error err;
    if (ts_notice_show(st, j->params[0], &o, &err) < 0) {
        ts__fail_err(j, &err);
        return;
    }
    ts__ok(j, 200, o);
}

static void ts__api_notice_send(ts__job *j, ts_store *st)
{
    const json_t *fields = json_object_get(j->body, "notice");
    const json_t *to = json_object_get(j->body, "recipients");
    if (!json_is_object(fields) || !json_is_object(to)) {
        ts__fail(j, 400, "BAD_REQUEST", "body must be {\"notice\": {...}, \"recipients\": {...}}");
        return;
    }
    ts_strlist stations = {NULL, 0};
    ts_error err;
    char id[64];
    ts_actor a = ts__actor(j);
    if (ts_notice_resolve(st, to, &stations, &err) < 0 ||
        ts_notice_create(st, &a, fields, &stations, id, sizeof id, &err) < 0) {
        ts_strlist_free(&stations);
        ts__fail_err(j, &err);
        return;
    }
    ts__audit(j, st, "send_notice", "notices", id, "ok", ts__str(fields, "urgency"));
    ts__queue_notice_frames(j, st, id, &stations);
    json_t *recips = json_array();
    for (size_t i = 0; i < stations.n; i++)
        json_array_append_new(recips, json_string(stations.v[i]));
    ts__set_event(j, "notice", json_pack("{s:s,s:s}", "id", id, "state", "sent"));
    ts__ok(j, 201, json_pack("{s:s,s:o}", "id", id, "recipients", recips));
    ts_strlist_free(&stations);
}

/* ---------------------------------------------------------------- endpoints: reports */

static int ts__by_reported_desc(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(ts__str(json_object_get(y, "fields"), "reported_at"),
                  ts__str(json_object_get(x, "fields"), "reported_at"));
}

static void ts__api_reports(ts__job *j, ts_store *st)
{
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    json_t *all = json_array();
    char after[TS_KEY_MAX + 1] = "";
    for (;;) {
        if (ts_store_list(st, "reports", after, 500, false, &page, &err) < 0)
            break;
        for (uint32_t i = 0; i < page.n; i++)
            json_array_append_new(all, ts_recjson_record(&page.items[i], false));
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    size_t n = json_array_size(all);
    json_t **items = ts_xcalloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(all, i);
    qsort(items, n, sizeof *items, ts__by_reported_desc);
    uint32_t limit = ts__limit(j, 100, 1000);
    json_t *res = json_array();
    for (size_t i = 0; i < n && i < limit; i++)
        json_array_append(res, items[i]);
    free(items);
    json_decref(all);
    ts__ok(j, 200, json_pack("{s:o}", "reports", res));
}

static void ts__api_report_redistribute(ts__job *j, ts_store *st)
{
    const json_t *to = json_object_get(j->body, "recipients");
    if (!json_is_object(to)) {
        ts__fail(j, 400, "BAD_REQUEST", "body must hold \"recipients\": {\"stations\": [...]} (and optional notice fields)");
        return;
    }
    ts_strlist stations = {NULL, 0};
    ts_error err;
    char id[64];
    ts_actor a = ts__actor(j);
    if (ts_notice_resolve(st, to, &stations, &err) < 0 ||
        ts_report_redistribute(st, &a, j->params[0], json_object_get(j->body, "notice"), &stations, id, sizeof id,
                               &err) < 0) {
        ts_strlist_free(&stations);
        ts__fail_err(j, &err);
        return;
    }
    ts__audit(j, st, "redistribute_report", "reports", j->params[0], "ok", id);
    ts__queue_notice_frames(j, st, id, &stations);
    ts__set_event(j, "notice", json_pack("{s:s,s:s}", "id", id, "source_report", j->params[0]));
    json_t *recips = json_array();
    for (size_t i = 0; i < stations.n; i++)
        json_array_append_new(recips, json_string(stations.v[i]));
    ts__ok(j, 201, json_pack("{s:s,s:s,s:o}", "id", id, "source_report", j->params[0], "recipients", recips));
    ts_strlist_free(&stations);
}

/* ---------------------------------------------------------------- endpoints: tasks */

static void ts__api_tasks(ts__job *j, ts_store *st)
{
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    json_t *arr = json_array();
    if (ts_store_list(st, "plan_tasks", NULL, 1000, false, &page, &err) < 0) {
        ts_change_page_free(&page);
        json_decref(arr);
        ts__fail_err(j, &err);
        return;
    }
    for (uint32_t i = 0; i < page.n; i++) {
        json_t *o = ts_recjson_record(&page.items[i], false);
        json_t *detail;
        if (ts_task_show(st, page.items[i].id, &detail, &err) == 0) {
            json_t *counts = json_object();
            size_t k;
            json_t *a;
            json_array_foreach(json_object_get(detail, "assignments"), k, a) {
                const char *state = ts__str(a, "state");
                json_t *c = json_object_get(counts, state);
                json_object_set_new(counts, state, json_integer(c ? json_integer_value(c) + 1 : 1));
                if (json_is_true(json_object_get(a, "overdue"))) {
                    json_t *ov = json_object_get(counts, "overdue");
                    json_object_set_new(counts, "overdue", json_integer(ov ? json_integer_value(ov) + 1 : 1));
                }
            }
            json_object_set_new(o, "assignment_counts", counts);
            json_decref(detail);
        }
        json_array_append_new(arr, o);
    }
    ts_change_page_free(&page);
    ts__ok(j, 200, json_pack("{s:o}", "tasks", arr));
}

static void ts__api_task(ts__job *j, ts_store *st)
{
    json_t *o;
    ts_error err;
    if (ts_task_show(st, j->params[0], &o, &err) < 0) {
        ts__fail_err(j, &err);
        return;
    }
    ts__ok(j, 200, o);
}

static void ts__api_task_assign(ts__job *j, ts_store *st)
{
    const json_t *to = json_object_get(j->body, "recipients");
    if (!json_is_object(to)) {
        ts__fail(j, 400, "BAD_REQUEST", "body must hold \"recipients\": {\"stations\": [...]}");
        return;
    }
    ts_strlist stations = {NULL, 0};
    ts_error err;
    ts_actor a = ts__actor(j);
    if (ts_notice_resolve(st, to, &stations, &err) < 0 ||
        ts_task_assign(st, &a, j->params[0], &stations, ts__str(j->body, "deadline"), ts__str(j->body, "instructions"),
                       &err) < 0) {
        ts_strlist_free(&stations);
        ts__fail_err(j, &err);
        return;
    }
    ts__audit(j, st, "assign_task", "plan_tasks", j->params[0], "ok", NULL);
    for (size_t i = 0; i < stations.n; i++)
        ts_strlist_add(&j->notify, stations.v[i]);
    ts__set_event(j, "task", json_pack("{s:s}", "id", j->params[0]));
    ts__ok(j, 200, json_pack("{s:s,s:I}", "task", j->params[0], "assigned", (json_int_t)stations.n));
    ts_strlist_free(&stations);
}

/* ---------------------------------------------------------------- endpoints: escalations, overview */

typedef struct ts__flagged {
    json_t *arr;
    const char *table;
    uint32_t urgent_unacked;
    uint32_t overdue;
    uint32_t escalated;
} ts__flagged;

static void ts__flag_scan(ts_store *st, ts__flagged *x)
{
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    char after[TS_KEY_MAX + 1] = "";
    for (;;) {
        if (ts_store_list(st, x->table, after, 500, false, &page, &err) < 0)
            break;
        for (uint32_t i = 0; i < page.n; i++) {
            json_t *r = ts_recjson_record(&page.items[i], false);
            json_t *f = json_object_get(r, "fields");
            int rank = ts_state_rank(ts__str(f, "state"));
            bool overdue = json_is_true(json_object_get(f, "overdue")) && rank < 4;
            bool escalated = json_object_get(f, "escalated_at") != NULL && rank < 2;
            bool urgent_unacked = ts_urgency_is_urgent(ts__str(f, "urgency")) && rank >= 0 && rank < 2;
            x->overdue += overdue;
            x->escalated += escalated;
            x->urgent_unacked += urgent_unacked;
            if (x->arr && (overdue || escalated || urgent_unacked)) {
                json_object_set_new(r, "overdue", json_boolean(overdue));
                json_object_set_new(r, "escalated", json_boolean(escalated));
                json_object_set_new(r, "urgent_unacknowledged", json_boolean(urgent_unacked));
                json_array_append(x->arr, r);
            }
            json_decref(r);
        }
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
}

static void ts__api_escalations(ts__job *j, ts_store *st)
{
    ts__flagged x = {json_array(), "notice_recipients", 0, 0, 0};
    ts__flag_scan(st, &x);
    x.table = "task_assignments";
    ts__flag_scan(st, &x);
    ts__ok(j, 200, json_pack("{s:o,s:i,s:i,s:i}", "items", x.arr, "urgent_unacknowledged", x.urgent_unacked,
                             "overdue", x.overdue, "escalated", x.escalated));
}

static int64_t ts__scalar(ts_store *st, const char *sql)
{
    sqlite3_stmt *q;
    int64_t v = 0;
    if (sqlite3_prepare_v2(ts_store_db(st), sql, -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            v = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    return v;
}

static void ts__api_overview(ts__job *j, ts_store *st)
{
    json_t *index = json_object();
    ts__collect_stations(j, st, index);
    int total = 0, online = 0, silent = 0;
    const char *code;
    json_t *o;
    json_object_foreach(index, code, o) {
        total++;
        online += json_is_true(json_object_get(o, "connected"));
        silent += json_is_true(json_object_get(o, "silent"));
    }
    json_decref(index);
    ts__flagged x = {NULL, "notice_recipients", 0, 0, 0};
    ts__flag_scan(st, &x);
    x.table = "task_assignments";
    ts__flag_scan(st, &x);
    uint64_t open = 0;
    ts_store_conflict_count(st, true, &open);
    int64_t pages = ts__scalar(st, "PRAGMA page_count"), page_size = ts__scalar(st, "PRAGMA page_size");
    ts__ok(j, 200,
           json_pack("{s:{s:i,s:i,s:i},s:I,s:{s:i,s:i,s:i},s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:I}", "stations",
                     "total", total, "online", online, "silent", silent, "conflicts_open", (json_int_t)open, "notices",
                     "urgent_unacknowledged", x.urgent_unacked, "overdue", x.overdue, "escalated", x.escalated,
                     "records", ts__scalar(st, "SELECT count(*) FROM records WHERE deleted = 0"), "db_bytes",
                     (json_int_t)(pages * page_size), "service", "connections", (json_int_t)j->stats.connections,
                     "changes_in", (json_int_t)j->stats.changes_in, "changes_out", (json_int_t)j->stats.changes_out,
                     "protocol_errors", (json_int_t)j->stats.protocol_errors, "handshakes_failed",
                     (json_int_t)j->stats.handshakes_failed, "loop_lag_p99_ms", (json_int_t)j->stats.loop_lag_ms_p99,
                     "bytes_in", (json_int_t)j->stats.bytes_in, "now_ms", (json_int_t)j->now_ms));
}

/* ---------------------------------------------------------------- endpoints: audit, users */

static void ts__api_audit(ts__job *j, ts_store *st)
{
    char after[32] = "", actor[128] = "", table[64] = "", record[TS_KEY_MAX + 1] = "";
    ts__q(j, "before", after, sizeof after);
    ts__q(j, "actor", actor, sizeof actor);
    ts__q(j, "table", table, sizeof table);
    ts__q(j, "record", record, sizeof record);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT id, ts, actor, actor_kind, action, tbl, rec_id, outcome, detail, peer FROM audit"
                           " WHERE (?1 = 0 OR id < ?1) AND (?2 = '' OR actor = ?2) AND (?3 = '' OR tbl = ?3)"
                           " AND (?4 = '' OR rec_id = ?4) ORDER BY id DESC LIMIT ?5",
                           -1, &q, NULL) != SQLITE_OK) {
        ts__fail(j, 500, "INTERNAL", "internal error");
        return;
    }
    sqlite3_bind_int64(q, 1, strtoll(after, NULL, 10));
    sqlite3_bind_text(q, 2, actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, record, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 5, (int)ts__limit(j, 100, 1000));
    json_t *arr = json_array();
    while (sqlite3_step(q) == SQLITE_ROW) {
        json_t *e = json_object();
        json_object_set_new(e, "id", json_integer(sqlite3_column_int64(q, 0)));
        json_object_set_new(e, "ts_ms", json_integer(sqlite3_column_int64(q, 1)));
        static const char *const cols[] = {NULL, NULL, "actor", "actor_kind", "action", "table",
                                           "record", "outcome", "detail", "peer"};
        for (int c = 2; c < 10; c++) {
            const char *v = (const char *)sqlite3_column_text(q, c);
            json_object_set_new(e, cols[c], v ? json_string(v) : json_null());
        }
        json_array_append_new(arr, e);
    }
    sqlite3_finalize(q);
    ts__ok(j, 200, json_pack("{s:o}", "entries", arr));
}

static void ts__api_users(ts__job *j, ts_store *st)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT username, role, full_name, created_at, locked_until, disabled FROM admin_users"
                           " ORDER BY username",
                           -1, &q, NULL) != SQLITE_OK) {
        ts__fail(j, 500, "INTERNAL", "internal error");
        return;
    }
    json_t *arr = json_array();
    while (sqlite3_step(q) == SQLITE_ROW)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:I,s:b,s:b}", "username", sqlite3_column_text(q, 0), "role",
                                             sqlite3_column_text(q, 1), "full_name", sqlite3_column_text(q, 2),
                                             "created_at_ms", (json_int_t)sqlite3_column_int64(q, 3), "locked",
                                             (uint64_t)sqlite3_column_int64(q, 4) > j->now_ms, "disabled",
                                             sqlite3_column_int(q, 5)));
    sqlite3_finalize(q);
    ts__ok(j, 200, json_pack("{s:o}", "users", arr));
}

static void ts__api_user_set(ts__job *j, ts_store *st)
{
    const char *name = j->params[0][0] ? j->params[0] : ts__str(j->body, "username");
    const char *password = json_string_value(json_object_get(j->body, "password"));
    const char *role = json_string_value(json_object_get(j->body, "role"));
    if (!j->params[0][0] && (password == NULL || role == NULL)) {
        ts__fail(j, 400, "BAD_REQUEST", "a new user needs username, password and role");
        return;
    }
    ts_error err;
    if (ts_admin_user_set(st, name, password, role, json_string_value(json_object_get(j->body, "full_name")), &err) < 0) {
        ts__fail_err(j, &err);
        return;
    }
    const json_t *disabled = json_object_get(j->body, "disabled");
    if (json_is_boolean(disabled)) {
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(ts_store_db(st), "UPDATE admin_users SET disabled = ?2 WHERE username = ?1", -1, &q,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_int(q, 2, json_is_true(disabled));
            sqlite3_step(q);
            sqlite3_finalize(q);
        }
        if (json_is_true(disabled) && sqlite3_prepare_v2(ts_store_db(st), "DELETE FROM admin_sessions WHERE username = ?1",
                                                         -1, &q, NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
            sqlite3_step(q);
            sqlite3_finalize(q);
        }
    }
    ts__audit(j, st, "user", "admin_users", name, "ok", role ? role : "updated");
    ts__ok(j, j->params[0][0] ? 200 : 201, json_pack("{s:s,s:s}", "username", name, "result", "saved"));
}

static void ts__api_events(ts__job *j, ts_store *st)
{
    (void)st;
    j->sse = true;
    j->status = 200;
}

/* ---------------------------------------------------------------- endpoints: targets */

static json_t *ts__target_defs(void)
{
    json_t *arr = json_array();
    for (int i = 0; i < TS_TARGET_COUNT; i++) {
        char op[2] = {ts_targets[i].op, 0};
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:f}", "code", ts_targets[i].code, "vi", ts_targets[i].vi,
                                             "en", ts_targets[i].en, "op", op, "threshold", ts_targets[i].threshold));
    }
    return arr;
}

static int ts__target_index(const char *code)
{
    for (int i = 0; i < TS_TARGET_COUNT; i++)
        if (strcmp(ts_targets[i].code, code) == 0)
            return i;
    return -1;
}

static json_t *ts__figure(int i, int64_t num, int64_t den)
{
    json_t *o = json_pack("{s:I,s:I,s:b}", "numerator", (json_int_t)num, "denominator", (json_int_t)den, "met",
                          ts_target_met(i, num, den));
    json_object_set_new(o, "percent", den > 0 ? json_real(100.0 * (double)num / (double)den) : json_null());
    return o;
}

static void ts__api_targets(ts__job *j, ts_store *st)
{
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    char day[16] = "";
    if (sqlite3_prepare_v2(db, "SELECT max(day) FROM target_snapshots", -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
            snprintf(day, sizeof day, "%s", (const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
    }
    json_t *communes = json_object();
    int64_t tot_num[TS_TARGET_COUNT] = {0}, tot_den[TS_TARGET_COUNT] = {0};
    if (day[0] && sqlite3_prepare_v2(db,
                                     "SELECT station, indicator, numerator, denominator FROM target_snapshots"
                                     " WHERE day = ?1 ORDER BY station",
                                     -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, day, -1, SQLITE_STATIC);
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *station = (const char *)sqlite3_column_text(q, 0);
            int i = ts__target_index((const char *)sqlite3_column_text(q, 1));
            if (i < 0)
                continue;
            int64_t num = sqlite3_column_int64(q, 2), den = sqlite3_column_int64(q, 3);
            json_t *c = json_object_get(communes, station);
            if (c == NULL) {
                c = json_pack("{s:s,s:o}", "station", station, "figures", json_object());
                ts_arena arena;
                ts_arena_init(&arena, 4096);
                ts_change dir;
                ts_error err;
                if (ts_store_get(st, "stations", station, &dir, &arena, &err) == 0) {
                    char name[200];
                    if (ts_recjson_text(&dir.v, "commune", name, sizeof name))
                        json_object_set_new(c, "commune", json_string(name));
                    ts_version_free(&dir.v);
                }
                ts_arena_free(&arena);
                json_object_set_new(communes, station, c);
            }
            json_object_set_new(json_object_get(c, "figures"), ts_targets[i].code, ts__figure(i, num, den));
            /* district totals: per-station yes/no indicators count stations */
            if (ts_targets[i].op == '=' && (i == 2 || i == 4 || i == 5)) {
                tot_num[i] += num > 0;
                tot_den[i] += 1;
            } else {
                tot_num[i] += num;
                tot_den[i] += den;
            }
        }
        sqlite3_finalize(q);
    }
    json_t *arr = json_array(), *total = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(communes, k, v)
        json_array_append(arr, v);
    json_decref(communes);
    for (int i = 0; i < TS_TARGET_COUNT; i++)
        json_object_set_new(total, ts_targets[i].code, ts__figure(i, tot_num[i], tot_den[i]));
    ts__ok(j, 200, json_pack("{s:s,s:o,s:o,s:o}", "day", day, "targets", ts__target_defs(), "communes", arr, "district",
                             total));
}

static void ts__api_targets_history(ts__job *j, ts_store *st)
{
    char station[TS_KEY_MAX + 1] = "", indicator[48] = "";
    ts__q(j, "station", station, sizeof station);
    ts__q(j, "indicator", indicator, sizeof indicator);
    int idx = ts__target_index(indicator);
    if (idx < 0) {
        ts__fail(j, 400, "BAD_REQUEST", "indicator must be one of the targets' codes");
        return;
    }
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT day, sum(numerator), sum(denominator), count(*), sum(numerator > 0)"
                           " FROM target_snapshots WHERE indicator = ?1 AND (?2 = '' OR station = ?2)"
                           " GROUP BY day ORDER BY day DESC LIMIT 400",
                           -1, &q, NULL) != SQLITE_OK) {
        ts__fail(j, 500, "INTERNAL", "internal error");
        return;
    }
    sqlite3_bind_text(q, 1, indicator, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, station, -1, SQLITE_STATIC);
    json_t *arr = json_array();
    bool per_station = idx == 2 || idx == 4 || idx == 5;
    while (sqlite3_step(q) == SQLITE_ROW) {
        int64_t num = per_station && !station[0] ? sqlite3_column_int64(q, 4) : sqlite3_column_int64(q, 1);
        int64_t den = per_station && !station[0] ? sqlite3_column_int64(q, 3) : sqlite3_column_int64(q, 2);
        json_t *f = ts__figure(idx, num, den);
        json_object_set_new(f, "day", json_string((const char *)sqlite3_column_text(q, 0)));
        json_array_insert_new(arr, 0, f);
    }
    sqlite3_finalize(q);
    ts__ok(j, 200, json_pack("{s:s,s:s,s:o}", "indicator", indicator, "station", station, "points", arr));
}

/* ---------------------------------------------------------------- metrics */

static void ts__metric(ts_buf *b, const char *name, const char *type, const char *help, const char *labels,
                       double value)
{
    if (help)
        ts_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    ts_buf_printf(b, "%s%s%s%s %.17g\n", name, labels ? "{" : "", labels ? labels : "", labels ? "}" : "", value);
}

static void ts__api_metrics(ts__job *j, ts_store *st)
{
    ts_buf *b = &j->text;
    const ts_server_stats *s = &j->stats;
    ts__metric(b, "tramsync_connections", "gauge", "Open station connections.", NULL, (double)s->connections);
    ts__metric(b, "tramsync_sessions", "gauge", "Stations past HELLO.", NULL, (double)s->sessions);
    ts__metric(b, "tramsync_handshakes_total", "counter", "TLS handshakes by result.", "result=\"ok\"",
               (double)s->handshakes_ok);
    ts__metric(b, "tramsync_handshakes_total", "counter", NULL, "result=\"failed\"", (double)s->handshakes_failed);
    ts__metric(b, "tramsync_connections_refused_total", "counter", "Connections refused (limit or draining).", NULL,
               (double)s->rejected_busy);
    ts__metric(b, "tramsync_changes_total", "counter", "Changes received and sent.", "direction=\"in\"",
               (double)s->changes_in);
    ts__metric(b, "tramsync_changes_total", "counter", NULL, "direction=\"out\"", (double)s->changes_out);
    ts__metric(b, "tramsync_changes_rejected_total", "counter", "Changes refused.", NULL, (double)s->changes_rejected);
    ts__metric(b, "tramsync_bytes_total", "counter", "Bytes on the wire, TLS included.", "direction=\"in\"",
               (double)s->bytes_in);
    ts__metric(b, "tramsync_bytes_total", "counter", NULL, "direction=\"out\"", (double)s->bytes_out);
    ts__metric(b, "tramsync_frames_total", "counter", "Frames.", "direction=\"in\"", (double)s->frames_in);
    ts__metric(b, "tramsync_frames_total", "counter", NULL, "direction=\"out\"", (double)s->frames_out);
    ts__metric(b, "tramsync_protocol_errors_total", "counter", "Malformed or refused frames.", NULL,
               (double)s->protocol_errors);
    ts__metric(b, "tramsync_rate_limited_total", "counter", "Times a station was slowed down.", NULL,
               (double)s->rate_limited);
    ts__metric(b, "tramsync_conflicts_total", "counter", "True conflicts logged by pushes.", NULL, (double)s->conflicts);
    uint64_t open = 0;
    ts_store_conflict_count(st, true, &open);
    ts__metric(b, "tramsync_conflicts_open", "gauge", "Conflicts waiting for review.", NULL, (double)open);
    ts__metric(b, "tramsync_loop_lag_ms", "gauge", "Event loop lag over the last minute.", "quantile=\"0.5\"",
               (double)s->loop_lag_ms_p50);
    ts__metric(b, "tramsync_loop_lag_ms", "gauge", NULL, "quantile=\"0.99\"", (double)s->loop_lag_ms_p99);
    ts__metric(b, "tramsync_loop_lag_ms_max", "gauge", "Largest loop lag seen.", NULL, (double)s->loop_lag_ms_max);
    ts__metric(b, "tramsync_connection_buffer_bytes", "gauge", "Bytes held in connection buffers.", NULL,
               (double)s->memory_buffers);
    int64_t pages = ts__scalar(st, "PRAGMA page_count"), page_size = ts__scalar(st, "PRAGMA page_size");
    ts__metric(b, "tramsync_db_bytes", "gauge", "Size of the district database.", NULL, (double)(pages * page_size));
    ts__metric(b, "tramsync_records", "gauge", "Live records.", NULL,
               (double)ts__scalar(st, "SELECT count(*) FROM records WHERE deleted = 0"));
    ts__metric(b, "tramsync_last_seq", "gauge", "Highest sequence number given.", NULL, (double)ts_store_last_seq(st));
    ts__flagged x = {NULL, "notice_recipients", 0, 0, 0};
    ts__flag_scan(st, &x);
    x.table = "task_assignments";
    ts__flag_scan(st, &x);
    ts__metric(b, "tramsync_notices_urgent_unacknowledged", "gauge", "Urgent notices not yet acknowledged.", NULL,
               x.urgent_unacked);
    ts__metric(b, "tramsync_notices_overdue", "gauge", "Notices and tasks past their deadline, not done.", NULL, x.overdue);
    ts__metric(b, "tramsync_notices_escalated", "gauge", "Notices re-sent for lack of acknowledgement.", NULL,
               x.escalated);
    sqlite3_stmt *q;
    bool first = true;
    if (sqlite3_prepare_v2(ts_store_db(st), "SELECT station, cert_not_after FROM station_status WHERE cert_not_after > 0",
                           -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            char labels[200];
            snprintf(labels, sizeof labels, "station=\"%s\"", (const char *)sqlite3_column_text(q, 0));
            ts__metric(b, "tramsync_station_cert_expiry_seconds", "gauge",
                       first ? "Seconds until a station's certificate expires." : NULL, labels,
                       (double)(sqlite3_column_int64(q, 1) - (int64_t)(j->now_ms / 1000)));
            first = false;
        }
        sqlite3_finalize(q);
    }
    j->text_type = "text/plain; version=0.0.4; charset=utf-8";
    j->status = 200;
}

/* ---------------------------------------------------------------- routing */

static void ts__api_targets_refresh(ts__job *j, ts_store *st);
static void ts__targets_refresh(ts_admin *a);

static const ts__route ts__routes[] = {
    {HTTP_GET, "/api/health", 0, ts__api_health},
    {HTTP_POST, "/api/login", 0, ts__api_login},
    {HTTP_POST, "/api/logout", 1, ts__api_logout},
    {HTTP_GET, "/api/me", 1, ts__api_me},
    {HTTP_GET, "/api/labels", 1, ts__api_labels},
    {HTTP_GET, "/api/tables", 1, ts__api_tables},
    {HTTP_GET, "/api/overview", 1, ts__api_overview},
    {HTTP_GET, "/api/stations", 1, ts__api_stations},
    {HTTP_GET, "/api/stations/{code}", 1, ts__api_station},
    {HTTP_GET, "/api/records/{table}", 1, ts__api_records},
    {HTTP_GET, "/api/records/{table}/{id}", 1, ts__api_record},
    {HTTP_POST, "/api/records/{table}/{id}", 3, ts__api_record_put},
    {HTTP_GET, "/api/conflicts", 1, ts__api_conflicts},
    {HTTP_GET, "/api/conflicts/{id}", 1, ts__api_conflict},
    {HTTP_POST, "/api/conflicts/{id}/resolve", 2, ts__api_conflict_resolve},
    {HTTP_GET, "/api/notices", 1, ts__api_notices},
    {HTTP_POST, "/api/notices", 2, ts__api_notice_send},
    {HTTP_GET, "/api/notices/{id}", 1, ts__api_notice},
    {HTTP_GET, "/api/reports", 1, ts__api_reports},
    {HTTP_POST, "/api/reports/{id}/redistribute", 2, ts__api_report_redistribute},
    {HTTP_GET, "/api/tasks", 1, ts__api_tasks},
    {HTTP_GET, "/api/tasks/{id}", 1, ts__api_task},
    {HTTP_POST, "/api/tasks/{id}/assign", 2, ts__api_task_assign},
    {HTTP_GET, "/api/escalations", 1, ts__api_escalations},
    {HTTP_GET, "/api/targets", 1, ts__api_targets},
    {HTTP_GET, "/api/targets/history", 1, ts__api_targets_history},
    {HTTP_POST, "/api/targets/refresh", 2, ts__api_targets_refresh},
    {HTTP_GET, "/api/audit", 3, ts__api_audit},
    {HTTP_GET, "/api/users", 3, ts__api_users},
    {HTTP_POST, "/api/users", 3, ts__api_user_set},
    {HTTP_POST, "/api/users/{name}", 3, ts__api_user_set},
    {HTTP_GET, "/api/events", 1, ts__api_events},
    {HTTP_GET, "/metrics", 1, ts__api_metrics},
};

static int ts__unhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Matches "/api/x/{a}/y" against a path; captures URL-decoded parameters.
 * 1 match, 0 no match. */
static int ts__match(const char *pattern, const char *path, char params[3][TS_KEY_MAX + 1])
{
    int np = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *se = strchr(s, '/');
            size_t n = se ? (size_t)(se - s) : strlen(s);
            if (n == 0 || np == 3)
                return 0;
            size_t o = 0;
            for (size_t i = 0; i < n && o < TS_KEY_MAX; i++) {
                if (s[i] == '%' && i + 2 < n + 1 && ts__unhex(s[i + 1]) >= 0 && ts__unhex(s[i + 2]) >= 0) {
                    params[np][o++] = (char)(ts__unhex(s[i + 1]) * 16 + ts__unhex(s[i + 2]));
                    i += 2;
                } else {
                    params[np][o++] = s[i];
                }
            }
            params[np][o] = '\0';
            if (memchr(params[np], '\0', o) != NULL && strlen(params[np]) != o)
                return 0;
            np++;
            p = pe + 1;
            s += n;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

static void ts__job_free(ts__job *j)
{
    json_decref(j->body);
    json_decref(j->resp);
    json_decref(j->event_data);
    free(j->live);
    ts_strlist_free(&j->notify);
    for (size_t i = 0; i < j->nframes; i++)
        ts_buf_free(&j->frames[i].bytes);
    free(j->frames);
    ts_buf_free(&j->text);
    free(j);
}

static void ts__work(ts_dbjob *base, ts_store *st)
{
    ts__job *j = base->data;
    if (j->route->min_role > 0) {
        if (!ts__authenticate(j, st))
            return;
        if (j->role < j->route->min_role) {
            ts__audit(j, st, "denied", NULL, j->route->pattern, "forbidden", ts__role_name(j->role));
            ts_log_warn("admin_forbidden", "user=%s role=%s route=%s", j->user, ts__role_name(j->role), j->route->pattern);
            char msg[160];
            snprintf(msg, sizeof msg, "this needs the %s role; you are %s", ts__role_name(j->route->min_role),
                     ts__role_name(j->role));
            ts__fail(j, 403, "FORBIDDEN", msg);
            return;
        }
        /* with a cookie, a write must come from our own page (CSRF) */
        if (j->token_from_cookie && j->route->method == HTTP_POST && strcmp(j->requested_with, "tramsync") != 0) {
            ts__fail(j, 403, "FORBIDDEN", "missing X-Requested-With: tramsync");
            return;
        }
    }
    j->route->fn(j, st);
}

static void ts__done(ts_dbjob *base)
{
    ts__job *j = base->data;
    ts_admin *a = j->adm;
    a->jobs--;
    if (j->sse && j->status == 200) {
        ts_http_conn_set_data(j->hc, ts_xstrdup(j->user));
        ts_http_sse_start(j->hc);
    } else if (j->text_type && j->status == 200) {
        ts_http_respond(j->hc, 200, j->text_type, j->text.data, j->text.len, NULL);
    } else {
        char *body = j->resp ? json_dumps(j->resp, JSON_COMPACT) : NULL;
        ts_http_respond(j->hc, j->status ? j->status : 500, "application/json; charset=utf-8", body,
                        body ? strlen(body) : 0, j->headers[0] ? j->headers : NULL);
        free(body);
    }
    ts_http_conn_unref(j->hc);
    /* what the sync side does with it: notices first, then live changes */
    for (size_t i = 0; i < j->nframes; i++)
        ts_server_send_frame(a->srv, j->frames[i].station, j->frames[i].bytes.data, j->frames[i].bytes.len);
    if (j->notify_all)
        ts_server_notify(a->srv, NULL);
    else
        for (size_t i = 0; i < j->notify.n; i++)
            ts_server_notify(a->srv, j->notify.v[i]);
    if (j->refresh_targets)
        ts__targets_refresh(a);
    if (j->event[0]) {
        char *data = j->event_data ? json_dumps(j->event_data, JSON_COMPACT) : NULL;
        ts_admin_event(a, j->event, data ? data : "{}");
        free(data);
    }
    ts__job_free(j);
    if (a->stopping && a->jobs == 0 && a->closing_parts == 0 && a->stop_done) {
        void (*done)(void *) = a->stop_done;
        void *arg = a->stop_arg;
        free(a);
        done(arg);
    }
}

static void ts__cookie_token(const char *cookie, char *out, size_t size)
{
    const char *p = strstr(cookie, "ts_session=");
    out[0] = '\0';
    if (p == NULL || (p != cookie && p[-1] != ' ' && p[-1] != ';'))
        return;
    p += strlen("ts_session=");
    size_t n = strcspn(p, "; ");
    if (n < size)
        snprintf(out, size, "%.*s", (int)n, p);
}

static void ts__handle(ts_http_conn *hc, ts_http_req *req, void *ctx)
{
    ts_admin *a = ctx;
    bool api = strncmp(req->path, "/api/", 5) == 0 || strcmp(req->path, "/metrics") == 0;
    if (!api) {
        ts_console_serve(hc, req);
        return;
    }
    const ts__route *route = NULL;
    bool path_known = false;
    char params[3][TS_KEY_MAX + 1];
    for (size_t i = 0; i < sizeof ts__routes / sizeof *ts__routes; i++) {
        memset(params, 0, sizeof params);
        if (ts__match(ts__routes[i].pattern, req->path, params)) {
            path_known = true;
            if (ts__routes[i].method == req->method) {
                route = &ts__routes[i];
                break;
            }
        }
    }
    if (route == NULL) {
        ts_http_error(hc, path_known ? 405 : 404, path_known ? "METHOD_NOT_ALLOWED" : "NOT_FOUND",
                      path_known ? "method not allowed here" : "no such endpoint");
        return;
    }
    json_t *body = NULL;
    if (req->method == HTTP_POST) {
        if (strncasecmp(req->content_type, "application/json", 16) != 0) {
            ts_http_error(hc, 415, "UNSUPPORTED_MEDIA_TYPE", "send JSON (Content-Type: application/json)");
            return;
        }
        json_error_t jerr;
        body = json_loadb((const char *)req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(body)) {
            json_decref(body);
            char msg[200];
            snprintf(msg, sizeof msg, "the body is not a JSON object (%s)", jerr.text);
            ts_http_error(hc, 400, "BAD_JSON", msg);
            return;
        }
    }
    ts__job *j = ts_xcalloc(1, sizeof *j);
    j->adm = a;
    j->hc = hc;
    j->route = route;
    memcpy(j->params, params, sizeof params);
    snprintf(j->query, sizeof j->query, "%s", req->query);
    j->body = body ? body : json_object();
    j->now_ms = ts_wall_ms();
    snprintf(j->peer, sizeof j->peer, "%s", req->peer);
    snprintf(j->requested_with, sizeof j->requested_with, "%s", req->requested_with);
    if (req->cert != NULL) {
        j->cert = *req->cert;
        j->has_cert = true;
    }
    if (strncasecmp(req->authorization, "Bearer ", 7) == 0) {
        snprintf(j->token, sizeof j->token, "%s", req->authorization + 7);
    } else {
        ts__cookie_token(req->cookie, j->token, sizeof j->token);
        j->token_from_cookie = j->token[0] != '\0';
    }
    j->nlive = ts_server_live_stations(a->srv, &j->live);
    ts_server_get_stats(a->srv, &j->stats);
    ts_buf_init(&j->text);
    ts_http_conn_ref(hc);
    a->jobs++;
    ts_dbq_submit(ts_server_dbq(a->srv), &j->base, ts__work, ts__done, j);
}

/* ---------------------------------------------------------------- events */

typedef struct ts__event {
    const char *event;
    const char *data;
} ts__event;

static void ts__send_event(ts_http_conn *hc, void *arg)
{
    ts__event *e = arg;
    ts_http_sse_send(hc, e->event, e->data);
}

void ts_admin_event(ts_admin *a, const char *event, const char *json)
{
    if (a == NULL || a->http == NULL)
        return;
    ts__event e = {event, json};
    ts_http_each_sse(a->http, ts__send_event, &e);
}

/* ---------------------------------------------------------------- escalation timer */

typedef struct ts__esc_job {
    ts_dbjob base;
    ts_admin *adm;
    ts_escalation *items;
    size_t n;
    ts__frame *frames;
    size_t nframes;
    int rc;
    ts_error err;
} ts__esc_job;

static void ts__esc_work(ts_dbjob *base, ts_store *st)
{
    ts__esc_job *j = base->data;
    j->rc = ts_notices_escalate(st, &j->adm->policy, ts_wall_ms(), &j->items, &j->n, &j->err);
    for (size_t i = 0; j->rc == 0 && i < j->n; i++) {
        if (j->items[i].kind != TS_ESC_NOT_ACKNOWLEDGED)
            continue;
        ts_buf b = TS_BUF_INIT;
        if (ts_notice_frame(st, j->items[i].notice, j->items[i].station, &b, &j->err) == 0) {
            j->frames = ts_xreallocarray(j->frames, j->nframes + 1, sizeof *j->frames);
            snprintf(j->frames[j->nframes].station, sizeof j->frames[j->nframes].station, "%s", j->items[i].station);
            j->frames[j->nframes++].bytes = b;
        } else {
            ts_buf_free(&b);
        }
    }
}

static void ts__esc_done(ts_dbjob *base)
{
    ts__esc_job *j = base->data;
    ts_admin *a = j->adm;
    a->jobs--;
    a->esc_running = false;
    if (j->rc < 0)
        ts_log_error("escalation_failed", "reason=\"%s\"", j->err.msg);
    for (size_t i = 0; i < j->nframes; i++) {
        ts_server_send_frame(a->srv, j->frames[i].station, j->frames[i].bytes.data, j->frames[i].bytes.len);
        ts_buf_free(&j->frames[i].bytes);
    }
    if (j->n > 0) {
        ts_server_notify(a->srv, NULL);
        char data[64];
        snprintf(data, sizeof data, "{\"flagged\":%zu}", j->n);
        ts_admin_event(a, "escalation", data);
    }
    free(j->frames);
    free(j->items);
    free(j);
    if (a->stopping && a->jobs == 0 && a->closing_parts == 0 && a->stop_done) {
        void (*done)(void *) = a->stop_done;
        void *arg = a->stop_arg;
        free(a);
        done(arg);
    }
}

static void ts__esc_tick(uv_timer_t *t)
{
    ts_admin *a = t->data;
    if (a->esc_running || a->stopping)
        return;
    a->esc_running = true;
    a->jobs++;
    ts__esc_job *j = ts_xcalloc(1, sizeof *j);
    j->adm = a;
    ts_dbq_submit(ts_server_dbq(a->srv), &j->base, ts__esc_work, ts__esc_done, j);
}

/* ---------------------------------------------------------------- targets refresh
 * One short job per station, one after the other, so the sync sessions'
 * store jobs never wait long behind a refresh. */

typedef struct ts__tgt_job {
    ts_dbjob base;
    ts_admin *adm;
    ts_strlist stations;
    size_t next;
    char day[16];
} ts__tgt_job;

static void ts__tgt_done(ts_dbjob *base);

static void ts__tgt_list_work(ts_dbjob *base, ts_store *st)
{
    ts__tgt_job *j = base->data;
    json_t *all = json_pack("{s:b}", "all", 1);
    ts_error err;
    ts_notice_resolve(st, all, &j->stations, &err);
    json_decref(all);
    char now[32];
    ts_time_iso(ts_wall_ms(), now, sizeof now);
    snprintf(j->day, sizeof j->day, "%.10s", now);
}

static void ts__tgt_station_work(ts_dbjob *base, ts_store *st)
{
    ts__tgt_job *j = base->data;
    ts_target_figures f;
    ts_error err;
    const char *station = j->stations.v[j->next];
    if (ts_targets_station(st, station, ts_wall_ms(), &f, &err) < 0 || ts_targets_save(st, station, j->day, &f, &err) < 0)
        ts_log_error("targets_failed", "station=%s reason=\"%s\"", station, err.msg);
    j->next++;
}

static void ts__tgt_done(ts_dbjob *base)
{
    ts__tgt_job *j = base->data;
    ts_admin *a = j->adm;
    a->jobs--;
    if (!a->stopping && j->next < j->stations.n) {
        a->jobs++;
        ts_dbq_submit(ts_server_dbq(a->srv), &j->base, ts__tgt_station_work, ts__tgt_done, j);
        return;
    }
    if (!a->stopping) {
        ts_log_info("targets_computed", "stations=%zu day=%s", j->stations.n, j->day);
        ts_admin_event(a, "targets", "{}");
    }
    a->targets_running = false;
    ts_strlist_free(&j->stations);
    free(j);
    if (a->stopping && a->jobs == 0 && a->closing_parts == 0 && a->stop_done) {
        void (*done)(void *) = a->stop_done;
        void *arg = a->stop_arg;
        free(a);
        done(arg);
    }
}

static void ts__targets_refresh(ts_admin *a)
{
    if (a->targets_running || a->stopping)
        return;
    a->targets_running = true;
    a->jobs++;
    ts__tgt_job *j = ts_xcalloc(1, sizeof *j);
    j->adm = a;
    ts_dbq_submit(ts_server_dbq(a->srv), &j->base, ts__tgt_list_work, ts__tgt_done, j);
}

static void ts__targets_tick(uv_timer_t *t)
{
    ts__targets_refresh(t->data);
}

static void ts__api_targets_refresh(ts__job *j, ts_store *st)
{
    (void)st;
    j->refresh_targets = true;
    ts__ok(j, 202, json_pack("{s:s}", "result", "computing"));
}

/* ---------------------------------------------------------------- lifecycle */

static void ts__policy(ts_admin *a)
{
    const ts_server_config *cfg = ts_server_get_config(a->srv);
    a->policy.ack_within_ms[0] = cfg->ack_within_thuong_ms;
    a->policy.ack_within_ms[1] = cfg->ack_within_khan_ms;
    a->policy.ack_within_ms[2] = cfg->ack_within_thuong_khan_ms;
    a->policy.ack_within_ms[3] = cfg->ack_within_hoa_toc_ms;
}

static int ts__admin_tls(ts_admin *a, ts_tls_ctx **out, ts_error *err)
{
    const ts_server_config *cfg = ts_server_get_config(a->srv);
    ts_tls_config tc;
    ts_tls_config_init(&tc, true);
    tc.ca_file = cfg->ca;
    tc.cert_file = cfg->cert;
    tc.key_file = cfg->key;
    tc.crl_file = cfg->crl;
    tc.allow_tls12 = true; /* browsers on older district PCs */
    tc.require_peer_cert = false; /* accounts log in with a password */
    return ts_tls_ctx_new(out, &tc, err);
}

static void ts__limits(ts_admin *a, ts_http_limits *l)
{
    const ts_server_config *cfg = ts_server_get_config(a->srv);
    l->max_header = cfg->admin_max_header;
    l->max_body = cfg->admin_max_body;
    l->rate_per_s = cfg->admin_rate;
    l->rate_burst = cfg->admin_rate_burst;
    l->idle_timeout_ms = 120000;
    l->max_connections = 256;
}

typedef struct ts__seed_job {
    ts_dbjob base;
    uint64_t loaded;
    int rc;
    ts_error err;
} ts__seed_job;

static void ts__seed_work(ts_dbjob *base, ts_store *st)
{
    ts__seed_job *j = base->data;
    j->rc = ts_tasks_seed(st, (const char *)ts_plan_tasks_tsv, ts_plan_tasks_tsv_len, &j->loaded, &j->err);
}

int ts_admin_start(ts_admin **out, ts_server *srv, ts_error *err)
{
    *out = NULL;
    const ts_server_config *cfg = ts_server_get_config(srv);
    ts_admin *a = ts_xcalloc(1, sizeof *a);
    a->srv = srv;
    a->started_ms = ts_wall_ms();
    ts__policy(a);
    int rc = ts__admin_tls(a, &a->tls, err);
    if (rc < 0) {
        free(a);
        return rc;
    }
    ts_http_limits lim;
    ts__limits(a, &lim);
    rc = ts_http_server_start(&a->http, ts_server_loop(srv), cfg->admin_listen, a->tls, &lim, ts__handle, a, err);
    if (rc < 0) {
        ts_tls_ctx_unref(a->tls);
        free(a);
        return rc;
    }
    ts_console_set_dir(cfg->console_dir);
    uv_timer_init(ts_server_loop(srv), &a->targets_timer);
    a->targets_timer.data = a;
    /* soon after start, then every targets_every */
    uv_timer_start(&a->targets_timer, ts__targets_tick, 2000, cfg->targets_every_ms);
    uv_timer_init(ts_server_loop(srv), &a->esc_timer);
    a->esc_timer.data = a;
    a->esc_timer_open = true;
    if (cfg->escalate_interval_ms)
        uv_timer_start(&a->esc_timer, ts__esc_tick, cfg->escalate_interval_ms, cfg->escalate_interval_ms);
    ts__seed_job seed;
    memset(&seed, 0, sizeof seed);
    ts_dbq_run_now(ts_server_dbq(srv), ts__seed_work, &seed);
    if (seed.rc < 0)
        ts_log_error("plan_tasks_not_loaded", "reason=\"%s\"", seed.err.msg);
    else if (seed.loaded)
        ts_log_info("plan_tasks_loaded", "count=%" PRIu64, seed.loaded);
    ts_log_info("admin_started", "listen=%s port=%d", cfg->admin_listen, ts_http_server_port(a->http));
    *out = a;
    return 0;
}

int ts_admin_reload(ts_admin *a, ts_error *err)
{
    ts_tls_ctx *ctx;
    int rc = ts__admin_tls(a, &ctx, err);
    if (rc < 0)
        return rc;
    ts_http_server_set_tls(a->http, ctx);
    ts_tls_ctx_unref(a->tls);
    a->tls = ctx;
    ts_http_limits lim;
    ts__limits(a, &lim);
    ts_http_server_set_limits(a->http, &lim);
    ts__policy(a);
    ts_console_set_dir(ts_server_get_config(a->srv)->console_dir);
    return 0;
}

int ts_admin_port(ts_admin *a)
{
    return ts_http_server_port(a->http);
}

static void ts__part_closed(ts_admin *a)
{
    if (--a->closing_parts > 0 || a->jobs > 0)
        return;
    void (*done)(void *) = a->stop_done;
    void *arg = a->stop_arg;
    free(a);
    if (done)
        done(arg);
}

static void ts__http_stopped(void *arg)
{
    ts__part_closed(arg);
}

static void ts__timer_closed(uv_handle_t *h)
{
    ts__part_closed(h->data);
}

void ts_admin_stop(ts_admin *a, void (*done)(void *arg), void *arg)
{
    a->stopping = true;
    a->stop_done = done;
    a->stop_arg = arg;
    a->closing_parts = 3;
    ts_tls_ctx_unref(a->tls);
    a->tls = NULL;
    uv_close((uv_handle_t *)&a->esc_timer, ts__timer_closed);
    uv_close((uv_handle_t *)&a->targets_timer, ts__timer_closed);
    ts_http_server_stop(a->http, ts__http_stopped, a);
    a->http = NULL;
}
