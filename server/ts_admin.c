/* The admin API: routing, authentication, and the endpoints. Handlers run on
 * the store's thread (a DB job) and build JSON; the response and anything the
 * sync side must do (notify stations, send NOTICE frames, console events)
 * happen back on the loop. */
#include "server/ts_admin.h"

#include <argon2.h>
#include <inttypes.h>
#include <stddef.h>
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
    /* changes from stations, seen by polling the store while consoles watch */
    uv_timer_t watch_timer;
    bool watch_running;
    uint64_t watch_seq;
    uint64_t watch_conflicts;
    /* the station directory, cached by the table's last sequence number
     * (store thread only) */
    bool dir_valid;
    int64_t dir_key;
    struct ts__dir_entry *dir;
    size_t ndir;
    /* handling records needing attention, cached by the tables' last
     * sequence numbers (store thread only) */
    bool flags_valid;
    int64_t flags_key[2];
    json_t *flags_items;
    uint32_t flags_counts[3];
    uint32_t flags_states[2][5]; /* notice_recipients, task_assignments: records by state */
    /* the live records count, cached (store thread only) */
    int64_t records_count;
    uint64_t records_at;
    uint64_t records_seq;
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

static void ts__dir_free(ts_admin *a);

static void ts__admin_free(ts_admin *a)
{
    json_decref(a->flags_items);
    ts__dir_free(a);
    free(a);
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
    uint64_t http_requests;
    size_t sse_clients;
    uint64_t now_ms;
    /* who */
    int role;
    char user[TS_KEY_MAX + 1];
    /* the answer */
    int status;
    json_t *resp;
    char headers[4608]; /* extra header lines (cookies; an attachment's Content-Disposition) */
    bool sse;
    const char *text_type; /* a non-JSON answer (metrics, attachments) in text */
    char content_type[128];
    ts_buf text;
    uint64_t max_body; /* [admin] max_body when the request came */
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

/* A numeric query parameter for paging: absent gives def; present, it must
 * be a plain decimal number (else 400 and false); capped at max. */
static bool ts__q_uint(ts__job *j, const char *name, uint32_t def, uint32_t max, uint32_t *out)
{
    char buf[24];
    *out = def;
    if (!ts__q(j, name, buf, sizeof buf))
        return true;
    char *end;
    unsigned long long v = strtoull(buf, &end, 10);
    if (*end != '\0' || buf[0] == '-' || buf[0] == '+' || buf[0] == ' ') {
        char msg[96];
        snprintf(msg, sizeof msg, "%s must be a whole number", name);
        ts__fail(j, 400, "BAD_REQUEST", msg);
        return false;
    }
    *out = v > max ? max : (uint32_t)v;
    return true;
}

/* A query parameter that must be one of `allowed` (NULL-terminated); absent
 * gives the first. 400 and false on anything else. */
static bool ts__q_enum(ts__job *j, const char *name, const char *const *allowed, char *out, size_t size)
{
    if (!ts__q(j, name, out, size)) {
        snprintf(out, size, "%s", allowed[0]);
        return true;
    }
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(out, allowed[i]) == 0)
            return true;
    char msg[300];
    size_t o = (size_t)snprintf(msg, sizeof msg, "%s must be one of:", name);
    for (size_t i = 0; allowed[i] && o < sizeof msg; i++)
        o += (size_t)snprintf(msg + o, sizeof msg - o, " %s", allowed[i]);
    ts__fail(j, 400, "BAD_REQUEST", msg);
    return false;
}

/* Search folding: lower case and without Vietnamese tone and vowel marks
 * ("Bình Xuyên" matches "binh xuyen"), as a health manager types. */
static const char *const ts__fold_groups[][2] = {
    {"a", "àáảãạăằắẳẵặâầấẩẫậÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ"}, {"e", "èéẻẽẹêềếểễệÈÉẺẼẸÊỀẾỂỄỆ"},
    {"i", "ìíỉĩịÌÍỈĨỊ"}, {"o", "òóỏõọôồốổỗộơờớởỡợÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ"},
    {"u", "ùúủũụưừứửữựÙÚỦŨỤƯỪỨỬỮỰ"}, {"y", "ỳýỷỹỵỲÝỶỸỴ"}, {"d", "đĐ"},
};

static size_t ts__utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

static void ts__fold(const char *s, char *out, size_t size)
{
    size_t o = 0;
    while (*s && o + 1 < size) {
        unsigned char c = (unsigned char)*s;
        size_t n = ts__utf8_len(c);
        if (n == 1) {
            out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            s++;
            continue;
        }
        char base = 0;
        for (size_t g = 0; g < sizeof ts__fold_groups / sizeof *ts__fold_groups && !base; g++)
            for (const char *p = ts__fold_groups[g][1]; *p; p += ts__utf8_len((unsigned char)*p))
                if (ts__utf8_len((unsigned char)*p) == n && strncmp(p, s, n) == 0) {
                    base = ts__fold_groups[g][0][0];
                    break;
                }
        if (base) {
            out[o++] = base;
        } else {
            for (size_t k = 0; k < n && s[k] && o + 1 < size; k++)
                out[o++] = s[k];
        }
        for (size_t k = 0; k < n && *s; k++)
            s++;
    }
    out[o] = '\0';
}

/* Whether any of the strings contains the folded needle. */
static bool ts__matches(const char *folded_needle, const char *const *hay, size_t n)
{
    if (folded_needle[0] == '\0')
        return true;
    char buf[1024];
    for (size_t i = 0; i < n; i++) {
        if (hay[i] == NULL || hay[i][0] == '\0')
            continue;
        ts__fold(hay[i], buf, sizeof buf);
        if (strstr(buf, folded_needle) != NULL)
            return true;
    }
    return false;
}

/* The search text (?q=), folded; empty when absent. */
static void ts__q_search(ts__job *j, char *out, size_t size)
{
    char raw[256];
    if (ts__q(j, "q", raw, sizeof raw))
        ts__fold(raw, out, size);
    else
        out[0] = '\0';
}

/* A page of a JSON array (steals nothing: increfs the slice). */
static json_t *ts__slice(json_t *const *items, size_t n, uint32_t offset, uint32_t limit)
{
    json_t *arr = json_array();
    for (size_t i = offset; i < n && i < (size_t)offset + limit; i++)
        json_array_append(arr, items[i]);
    return arr;
}

static bool ts__has_paging(ts__job *j)
{
    char buf[8];
    return ts__q(j, "limit", buf, sizeof buf) || ts__q(j, "offset", buf, sizeof buf) || ts__q(j, "q", buf, sizeof buf);
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
    /* what the console checks before uploading: attachments per notice, bytes
     * per attachment, and the request body limit they travel in (base64) */
    json_t *limits = json_pack("{s:i,s:I,s:I}", "attachments", TS_NOTICE_MAX_ATTACHMENTS, "attachment_bytes",
                               (json_int_t)ts_notice_attachment_cap(st), "max_body", (json_int_t)j->max_body);
    ts__ok(j, 200,
           json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "categories", ts__labels_json(ts_notice_categories, 12), "urgencies",
                     ts__labels_json(ts_notice_urgencies, 4), "doc_types", ts__labels_json(ts_notice_doc_types, 7),
                     "states", ts__labels_json(ts_notice_states, 5), "report_kinds", ts__labels_json(ts_report_kinds, 9),
                     "limits", limits));
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
            if (f->sha256_of)
                json_object_set_new(fo, "sha256_of", json_string(f->sha256_of->name));
            json_array_append_new(fields, fo);
        }
        json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:s,s:s,s:o}", "name", t->name, "kind",
                                             ts_table_kind_name(t->kind), "personal", t->personal, "label_vi",
                                             t->label_vi, "label_en", t->label_en, "fields", fields));
    }
    ts__ok(j, 200, json_pack("{s:o}", "tables", arr));
}

/* ---------------------------------------------------------------- endpoints: stations */

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

/* The station directory, kept between requests: read again only when the
 * `stations` table changed (its highest sequence number moved). Each entry
 * keeps what search and the pages need, folded for search once. */
typedef struct ts__dir_entry {
    char *code;
    json_t *fields; /* never handed out: pages get copies */
    char *fold;     /* "code name commune commune_code", folded */
} ts__dir_entry;

static void ts__dir_free(ts_admin *a)
{
    for (size_t i = 0; i < a->ndir; i++) {
        free(a->dir[i].code);
        json_decref(a->dir[i].fields);
        free(a->dir[i].fold);
    }
    free(a->dir);
    a->dir = NULL;
    a->ndir = 0;
}

static int ts__dir_cmp(const void *key, const void *entry)
{
    return strcmp(key, ((const ts__dir_entry *)entry)->code);
}

static const ts__dir_entry *ts__dir_find(const ts_admin *a, const char *code)
{
    return a->ndir ? bsearch(code, a->dir, a->ndir, sizeof *a->dir, ts__dir_cmp) : NULL;
}

static void ts__dir_load(ts_admin *a, ts_store *st)
{
    int64_t key = ts__scalar(st, "SELECT max(seq) FROM records WHERE tbl = 'stations'");
    if (a->dir_valid && key == a->dir_key)
        return;
    ts__dir_free(a);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    char after[TS_KEY_MAX + 1] = "";
    size_t cap = 0;
    for (;;) {
        if (ts_store_list(st, "stations", after, 500, false, &page, &err) < 0 || page.n == 0)
            break;
        for (uint32_t i = 0; i < page.n; i++) {
            if (a->ndir == cap) {
                cap = cap ? cap * 2 : 256;
                a->dir = ts_xreallocarray(a->dir, cap, sizeof *a->dir);
            }
            ts__dir_entry *e = &a->dir[a->ndir++];
            json_t *rec = ts_recjson_record(&page.items[i], false);
            e->code = ts_xstrdup(page.items[i].id);
            e->fields = json_incref(json_object_get(rec, "fields"));
            json_decref(rec);
            char text[1024], fold[1024];
            snprintf(text, sizeof text, "%s %s %s %s", e->code, ts__str(e->fields, "name"),
                     ts__str(e->fields, "commune"), ts__str(e->fields, "commune_code"));
            ts__fold(text, fold, sizeof fold);
            e->fold = ts_xstrdup(fold);
        }
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
        if (page.n < 500)
            break;
    }
    ts_change_page_free(&page);
    /* the store lists in id order, which is strcmp order: ready for bsearch */
    a->dir_key = key;
    a->dir_valid = true;
}

/* One station as the pages see it, gathered from the directory, what its
 * sessions reported (station_status), its replica and pull cursor, and
 * whether it is connected now. Silent: not connected and not heard of for
 * [admin] silent_after. */
typedef struct ts__st {
    const char *code;
    const ts__dir_entry *dir; /* NULL: not in the directory */
    char replica[TS_RID_MAX + 1];
    char agent[64];
    char peer[64];
    char last_peer[64];
    char serial[48];
    char commune[160];
    int64_t last_seen, last_sync, cursor, skew, cert_not_after, connected_since, replica_seen;
    uint64_t queued;
    bool has_cursor, has_skew, connected, live, clock_problem;
    int status; /* 0 silent, 1 offline, 2 online */
} ts__st;

typedef struct ts__stations {
    ts__st *v;
    size_t n;
    ts_strlist extra; /* codes known only from sessions, replicas or cursors */
} ts__stations;

static int ts__st_code_cmp(const void *a, const void *b)
{
    return strcmp(((const ts__st *)a)->code, ((const ts__st *)b)->code);
}

static ts__st *ts__st_find(ts__stations *s, const char *code)
{
    ts__st key;
    memset(&key, 0, sizeof key);
    key.code = code;
    return s->n ? bsearch(&key, s->v, s->n, sizeof *s->v, ts__st_code_cmp) : NULL;
}

static void ts__stations_free(ts__stations *s)
{
    free(s->v);
    ts_strlist_free(&s->extra);
}

static void ts__copy_col(char *out, size_t size, sqlite3_stmt *q, int col)
{
    const char *v = (const char *)sqlite3_column_text(q, col);
    if (v && v[0])
        snprintf(out, size, "%s", v);
}

static void ts__max(int64_t *have, int64_t t)
{
    if (t > *have)
        *have = t;
}

static void ts__collect_stations(ts__job *j, ts_store *st, ts__stations *s)
{
    ts_admin *a = j->adm;
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    memset(s, 0, sizeof *s);
    ts__dir_load(a, st);
    /* every code first: the directory's, then those only sessions know */
    if (sqlite3_prepare_v2(db,
                           "SELECT station FROM station_status UNION SELECT station FROM station_cursors"
                           " UNION SELECT station FROM replicas WHERE status = 'active'",
                           -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *code = (const char *)sqlite3_column_text(q, 0);
            if (code && !ts__dir_find(a, code))
                ts_strlist_add(&s->extra, code);
        }
        sqlite3_finalize(q);
    }
    for (size_t i = 0; i < j->nlive; i++)
        if (!ts__dir_find(a, j->live[i].station))
            ts_strlist_add(&s->extra, j->live[i].station);
    s->n = a->ndir + s->extra.n;
    s->v = ts_xcalloc(s->n ? s->n : 1, sizeof *s->v);
    for (size_t i = 0; i < a->ndir; i++) {
        s->v[i].code = a->dir[i].code;
        s->v[i].dir = &a->dir[i];
    }
    for (size_t i = 0; i < s->extra.n; i++)
        s->v[a->ndir + i].code = s->extra.v[i];
    if (s->extra.n)
        qsort(s->v, s->n, sizeof *s->v, ts__st_code_cmp);
    /* what sessions told us */
    if (sqlite3_prepare_v2(db,
                           "SELECT station, replica, agent, peer, last_seen, last_sync, clock_skew_ms,"
                           " cert_serial, cert_not_after, commune, clock_skew_ms IS NOT NULL FROM station_status",
                           -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            ts__st *o = ts__st_find(s, (const char *)sqlite3_column_text(q, 0));
            if (o == NULL)
                continue;
            ts__copy_col(o->replica, sizeof o->replica, q, 1);
            ts__copy_col(o->agent, sizeof o->agent, q, 2);
            ts__copy_col(o->last_peer, sizeof o->last_peer, q, 3);
            ts__max(&o->last_seen, sqlite3_column_int64(q, 4));
            ts__max(&o->last_sync, sqlite3_column_int64(q, 5));
            if (sqlite3_column_int(q, 10)) {
                o->has_skew = true;
                o->skew = sqlite3_column_int64(q, 6);
            }
            ts__copy_col(o->serial, sizeof o->serial, q, 7);
            if (sqlite3_column_int64(q, 8) > 0)
                o->cert_not_after = sqlite3_column_int64(q, 8);
            ts__copy_col(o->commune, sizeof o->commune, q, 9);
        }
        sqlite3_finalize(q);
    }
    /* the pull cursor: the station has everything visible to it up to it */
    if (sqlite3_prepare_v2(db, "SELECT station, cursor, updated_at FROM station_cursors", -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            ts__st *o = ts__st_find(s, (const char *)sqlite3_column_text(q, 0));
            if (o == NULL)
                continue;
            o->has_cursor = true;
            o->cursor = sqlite3_column_int64(q, 1);
            ts__max(&o->last_sync, sqlite3_column_int64(q, 2));
            ts__max(&o->last_seen, sqlite3_column_int64(q, 2));
        }
        sqlite3_finalize(q);
    }
    /* its replica, and when it last pushed or said HELLO */
    if (sqlite3_prepare_v2(db, "SELECT station, replica, last_seen FROM replicas WHERE status = 'active'", -1, &q,
                           NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            ts__st *o = ts__st_find(s, (const char *)sqlite3_column_text(q, 0));
            if (o == NULL)
                continue;
            int64_t seen = sqlite3_column_int64(q, 2);
            if (seen >= o->replica_seen) {
                ts__copy_col(o->replica, sizeof o->replica, q, 1);
                o->replica_seen = seen;
            }
            ts__max(&o->last_sync, seen);
            ts__max(&o->last_seen, seen);
        }
        sqlite3_finalize(q);
    }
    /* and who is connected right now */
    for (size_t i = 0; i < j->nlive; i++) {
        const ts_live_station *l = &j->live[i];
        ts__st *o = ts__st_find(s, l->station);
        if (o == NULL)
            continue;
        o->connected = true;
        o->live = l->live;
        o->queued = l->queued;
        o->connected_since = (int64_t)l->connected_ms;
        o->last_seen = (int64_t)j->now_ms;
        snprintf(o->peer, sizeof o->peer, "%s", l->peer);
        if (l->replica[0])
            snprintf(o->replica, sizeof o->replica, "%s", l->replica);
        if (l->serial[0])
            snprintf(o->serial, sizeof o->serial, "%s", l->serial);
        if (l->cert_not_after > 0)
            o->cert_not_after = l->cert_not_after;
    }
    const ts_server_config *cfg = ts_server_get_config(a->srv);
    for (size_t i = 0; i < s->n; i++) {
        ts__st *o = &s->v[i];
        bool silent = !o->connected &&
                      (o->last_seen == 0 || j->now_ms - (uint64_t)o->last_seen > cfg->admin_silent_after_ms);
        o->status = o->connected ? 2 : silent ? 0 : 1;
        o->clock_problem = o->has_skew && (uint64_t)(o->skew < 0 ? -o->skew : o->skew) > cfg->max_clock_ahead_ms / 2;
    }
}

#define TS__CERT_WARN_DAYS 30

static int64_t ts__cert_days(const ts__job *j, const ts__st *o)
{
    return (o->cert_not_after * 1000 - (int64_t)j->now_ms) / 86400000;
}

static const char *const ts__status_names[] = {"silent", "offline", "online"};

/* Changes visible to a station that it has not pulled yet (after its
 * cursor), leaving out what it wrote itself; each part counted up to
 * 100,000 through the audience indexes, so a long-silent station costs no
 * more than that. */
static int64_t ts__station_pending(ts_store *st, const char *code, int64_t cursor)
{
    sqlite3_stmt *q;
    int64_t n = -1;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT (SELECT count(*) FROM (SELECT 1 FROM records INDEXED BY records_audience"
                           " WHERE audience = ?1 AND seq > ?2 AND (origin IS NULL OR origin NOT IN"
                           " (SELECT replica FROM replicas WHERE station = ?1)) LIMIT 100000))"
                           " + (SELECT count(*) FROM (SELECT 1 FROM records INDEXED BY records_audience"
                           " WHERE audience = '*' AND seq > ?2 LIMIT 100000))"
                           " + (SELECT count(*) FROM (SELECT 1 FROM record_audience WHERE station = ?1 AND seq > ?2"
                           " LIMIT 100000))",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, code, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, cursor);
        if (sqlite3_step(q) == SQLITE_ROW)
            n = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    return n;
}

/* The JSON of one station (the directory entry copied). */
static json_t *ts__st_json(const ts__job *j, ts_store *st, const ts__st *o, bool pending)
{
    json_t *r = json_pack("{s:s,s:b,s:b,s:s}", "code", o->code, "connected", o->connected, "silent", o->status == 0,
                          "status", ts__status_names[o->status]);
    if (o->dir)
        json_object_set_new(r, "directory", json_deep_copy(o->dir->fields));
    static const struct {
        const char *key;
        size_t off;
    } texts[] = {{"replica", offsetof(ts__st, replica)}, {"agent", offsetof(ts__st, agent)},
                 {"peer", offsetof(ts__st, peer)},       {"last_peer", offsetof(ts__st, last_peer)},
                 {"cert_serial", offsetof(ts__st, serial)}, {"commune", offsetof(ts__st, commune)}};
    for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) {
        const char *v = (const char *)o + texts[k].off;
        if (v[0])
            json_object_set_new(r, texts[k].key, json_string(v));
    }
    if (o->last_seen)
        json_object_set_new(r, "last_seen_ms", json_integer(o->last_seen));
    if (o->last_sync)
        json_object_set_new(r, "last_sync_ms", json_integer(o->last_sync));
    if (o->connected) {
        json_object_set_new(r, "live", json_boolean(o->live));
        json_object_set_new(r, "connected_since_ms", json_integer(o->connected_since));
        json_object_set_new(r, "queued_bytes", json_integer((json_int_t)o->queued));
    }
    if (o->has_skew) {
        json_object_set_new(r, "clock_skew_ms", json_integer(o->skew));
        json_object_set_new(r, "clock_problem", json_boolean(o->clock_problem));
    }
    if (o->cert_not_after) {
        json_object_set_new(r, "cert_not_after", json_integer(o->cert_not_after));
        json_object_set_new(r, "cert_days_left", json_integer(ts__cert_days(j, o)));
    }
    if (o->has_cursor) {
        uint64_t seq = ts_store_last_seq(st);
        json_object_set_new(r, "cursor", json_integer(o->cursor));
        json_object_set_new(r, "lag_changes",
                            json_integer(seq > (uint64_t)o->cursor ? (json_int_t)(seq - (uint64_t)o->cursor) : 0));
        /* a live session gets every change the moment it is committed, so
         * its stored cursor (moved by pulls only) says nothing: nothing
         * queued is nothing pending */
        int64_t n = !pending ? -1 : o->connected && o->live ? (o->queued ? -1 : 0)
                                                            : ts__station_pending(st, o->code, o->cursor);
        if (n >= 0)
            json_object_set_new(r, "pending_changes", json_integer(n));
        if (pending && o->connected && o->live && o->queued)
            json_object_set_new(r, "sending", json_true());
    }
    return r;
}

static int ts__by_code(const void *a, const void *b)
{
    return strcmp((*(const ts__st *const *)a)->code, (*(const ts__st *const *)b)->code);
}

/* silent first, then offline, then online; oldest news first within */
static int ts__by_status(const void *a, const void *b)
{
    const ts__st *x = *(const ts__st *const *)a, *y = *(const ts__st *const *)b;
    if (x->status != y->status)
        return x->status - y->status;
    if (x->status < 2 && x->last_seen != y->last_seen)
        return x->last_seen < y->last_seen ? -1 : 1;
    return strcmp(x->code, y->code);
}

static int ts__by_last_sync(const void *a, const void *b)
{
    const ts__st *x = *(const ts__st *const *)a, *y = *(const ts__st *const *)b;
    return x->last_sync != y->last_sync ? (x->last_sync < y->last_sync ? -1 : 1) : strcmp(x->code, y->code);
}

static int ts__by_cert(const void *a, const void *b)
{
    const ts__st *x = *(const ts__st *const *)a, *y = *(const ts__st *const *)b;
    if (x->cert_not_after == 0 || y->cert_not_after == 0)
        return x->cert_not_after == y->cert_not_after ? strcmp(x->code, y->code) : x->cert_not_after == 0 ? 1 : -1;
    return x->cert_not_after != y->cert_not_after ? (x->cert_not_after < y->cert_not_after ? -1 : 1)
                                                  : strcmp(x->code, y->code);
}

static bool ts__station_filter(const ts__job *j, const ts__st *o, const char *filter)
{
    if (strcmp(filter, "all") == 0)
        return true;
    if (strcmp(filter, "silent") == 0)
        return o->status == 0;
    if (strcmp(filter, "offline") == 0)
        return o->status == 1;
    if (strcmp(filter, "online") == 0)
        return o->status == 2;
    if (strcmp(filter, "attention") == 0)
        return o->status < 2;
    if (strcmp(filter, "cert") == 0)
        return o->cert_not_after != 0 && ts__cert_days(j, o) < TS__CERT_WARN_DAYS;
    if (strcmp(filter, "clock") == 0)
        return o->clock_problem;
    return false;
}

typedef struct ts__st_counts {
    json_int_t total, online, offline, silent, cert, clock;
} ts__st_counts;

static void ts__st_count(const ts__job *j, const ts__stations *s, ts__st_counts *c)
{
    memset(c, 0, sizeof *c);
    c->total = (json_int_t)s->n;
    for (size_t i = 0; i < s->n; i++) {
        c->online += s->v[i].status == 2;
        c->offline += s->v[i].status == 1;
        c->silent += s->v[i].status == 0;
        c->cert += ts__station_filter(j, &s->v[i], "cert");
        c->clock += s->v[i].clock_problem;
    }
}

/* GET /api/stations[?q=&filter=&sort=&offset=&limit=]: without paging
 * parameters every station (for scripts); with them one page, searched in
 * code, name and commune (without tone marks), with the counts the console
 * shows beside it. Only the page is turned into JSON. */
static void ts__api_stations(ts__job *j, ts_store *st)
{
    static const char *const filters[] = {"all", "silent", "offline", "online", "attention", "cert", "clock", NULL};
    static const char *const sorts[] = {"status", "code", "last_sync", "cert", NULL};
    char filter[16], sort[16], needle[256];
    uint32_t offset, limit;
    bool paged = ts__has_paging(j);
    if (!ts__q_enum(j, "filter", filters, filter, sizeof filter) || !ts__q_enum(j, "sort", sorts, sort, sizeof sort) ||
        !ts__q_uint(j, "offset", 0, UINT32_MAX, &offset) || !ts__q_uint(j, "limit", paged ? 50 : UINT32_MAX, 500, &limit))
        return;
    if (!paged)
        limit = UINT32_MAX;
    ts__q_search(j, needle, sizeof needle);
    ts__stations s;
    ts__collect_stations(j, st, &s);
    ts__st **items = ts_xcalloc(s.n ? s.n : 1, sizeof *items);
    size_t n = 0;
    for (size_t i = 0; i < s.n; i++) {
        const ts__st *o = &s.v[i];
        if (!ts__station_filter(j, o, filter))
            continue;
        if (needle[0]) {
            char fold_code[TS_KEY_MAX + 1];
            ts__fold(o->code, fold_code, sizeof fold_code);
            if (!strstr(o->dir ? o->dir->fold : fold_code, needle))
                continue;
        }
        items[n++] = &s.v[i];
    }
    qsort(items, n, sizeof *items,
          strcmp(sort, "code") == 0        ? ts__by_code
          : strcmp(sort, "last_sync") == 0 ? ts__by_last_sync
          : strcmp(sort, "cert") == 0      ? ts__by_cert
                                           : ts__by_status);
    json_t *arr = json_array();
    for (size_t i = offset; i < n && i < (size_t)offset + limit; i++)
        json_array_append_new(arr, ts__st_json(j, st, items[i], paged));
    ts__st_counts c;
    ts__st_count(j, &s, &c);
    free(items);
    ts__stations_free(&s);
    ts__ok(j, 200,
           json_pack("{s:o,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I},s:i,s:I}", "stations", arr, "total", c.total,
                     "matched", (json_int_t)n, "offset", (json_int_t)offset, "limit",
                     (json_int_t)(limit == UINT32_MAX ? (uint32_t)n : limit), "counts", "total", c.total, "online",
                     c.online, "offline", c.offline, "silent", c.silent, "cert_expiring", c.cert, "clock_problem",
                     c.clock, "cert_warn_days", TS__CERT_WARN_DAYS, "now_ms", (json_int_t)j->now_ms));
}

/* GET /api/stations/{code}: one station, with what is waiting for it and how
 * many records of each table it holds at the district. */
static void ts__api_station(ts__job *j, ts_store *st)
{
    ts__stations s;
    ts__collect_stations(j, st, &s);
    const ts__st *found = ts__st_find(&s, j->params[0]);
    if (found == NULL) {
        ts__stations_free(&s);
        ts__fail(j, 404, "NOT_FOUND", "no such station");
        return;
    }
    json_t *o = ts__st_json(j, st, found, true);
    ts__stations_free(&s);
    json_t *counts = json_object();
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT tbl, count(*) FROM records INDEXED BY records_audience WHERE audience = ?1"
                           " AND deleted = 0 GROUP BY tbl",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, j->params[0], -1, SQLITE_STATIC);
        while (sqlite3_step(q) == SQLITE_ROW)
            json_object_set_new(counts, (const char *)sqlite3_column_text(q, 0), json_integer(sqlite3_column_int64(q, 1)));
        sqlite3_finalize(q);
    }
    json_object_set_new(o, "records", counts);
    uint64_t open = 0;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT count(*) FROM conflicts c JOIN records r ON r.tbl = c.tbl AND r.id = c.rec_id"
                           " WHERE c.resolved_at IS NULL AND r.audience = ?1",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, j->params[0], -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW)
            open = (uint64_t)sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    json_object_set_new(o, "conflicts_open", json_integer((json_int_t)open));
    ts__ok(j, 200, o);
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
    uint32_t limit;
    if (!ts__q_uint(j, "limit", 100, 1000, &limit))
        return;
    if (limit == 0)
        limit = 100;
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    json_t *arr = json_array();
    char last[TS_KEY_MAX + 1] = "";
    bool more = false;
    if (station[0] && t->kind == TS_TABLE_STATION) {
        /* a station's own records: their audience is the station, so the
         * index finds them without reading the rest of the table */
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(ts_store_db(st),
                               "SELECT id FROM records INDEXED BY records_audience WHERE audience = ?1 AND tbl = ?2"
                               " AND id > ?3 AND deleted = 0 ORDER BY id LIMIT ?4",
                               -1, &q, NULL) != SQLITE_OK) {
            json_decref(arr);
            ts__fail(j, 500, "INTERNAL", "internal error (see the server log)");
            return;
        }
        sqlite3_bind_text(q, 1, station, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, t->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, after, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, (sqlite3_int64)limit + 1);
        ts_arena arena;
        ts_arena_init(&arena, 8192);
        while (sqlite3_step(q) == SQLITE_ROW) {
            if (json_array_size(arr) == limit) {
                more = true;
                break;
            }
            const char *id = (const char *)sqlite3_column_text(q, 0);
            ts_change c;
            if (ts_store_get(st, t->name, id, &c, &arena, &err) == 0) {
                json_array_append_new(arr, ts_recjson_record(&c, false));
                ts_version_free(&c.v);
            }
            snprintf(last, sizeof last, "%s", id);
        }
        sqlite3_finalize(q);
        ts_arena_free(&arena);
    }
    /* keep reading pages until `limit` records of the station were found */
    while (!(station[0] && t->kind == TS_TABLE_STATION) && json_array_size(arr) < limit) {
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
        /* a file name stations save and print: the rules of POST /api/notices */
        char why[200];
        if (strcmp(t->name, TS_ATTACHMENT_TABLE) == 0 && strcmp(f->name, "filename") == 0 && json_is_string(v) &&
            !ts_notice_attachment_name_ok(json_string_value(v), why, sizeof why)) {
            rc = ts_error_set(&err, TS_EINVALID_RECORD, "field filename: %s", why);
            break;
        }
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
    static const char *const statuses[] = {"open", "all", "resolved", NULL};
    char status[16], after[32] = "0", table[64] = "";
    uint32_t after_id, limit;
    if (!ts__q_enum(j, "status", statuses, status, sizeof status) || !ts__q_uint(j, "after", 0, UINT32_MAX, &after_id) ||
        !ts__q_uint(j, "limit", 100, 1000, &limit))
        return;
    ts__q(j, "after", after, sizeof after);
    ts__q(j, "table", table, sizeof table);
    ts_conflict_row *rows;
    size_t n;
    ts_error err;
    if (ts_store_conflicts(st, strcmp(status, "open") == 0, table[0] ? table : NULL, strtoll(after, NULL, 10),
                           limit ? limit : 100, &rows, &n, &err) < 0) {
        ts__fail_err(j, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        if (strcmp(status, "resolved") != 0 || rows[i].resolved)
            json_array_append_new(arr, ts__conflict_json(&rows[i]));
    uint64_t open = 0;
    ts_store_conflict_count(st, true, &open);
    ts_conflict_rows_free(rows, n);
    ts__ok(j, 200, json_pack("{s:o,s:I}", "conflicts", arr, "open", (json_int_t)open));
}

static bool ts__conflict_get(ts__job *j, ts_store *st, ts_conflict_row **row)
{
    int64_t id = strtoll(j->params[0], NULL, 10);
    size_t n = 0;
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

static int ts__by_sent_desc(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(ts__str(y, "sent_at"), ts__str(x, "sent_at"));
    return c ? c : strcmp(ts__str(y, "id"), ts__str(x, "id"));
}

static const char *const ts__urgency_codes[] = {"", "thuong", "khan", "thuong_khan", "hoa_toc", NULL};
static const char *const ts__category_codes[] = {"", "prevention", "treatment", "population", "food_safety",
                                                 "pharma", "insurance", "private_practice", "supervision",
                                                 "training", "communication", "programs", "emergency", NULL};

/* GET /api/notices[?q=&urgency=&category=&offset=&limit=]: newest first,
 * each with its recipients' state counts (only for the page shown). */
static void ts__api_notices(ts__job *j, ts_store *st)
{
    char urgency[16], category[24], needle[256];
    uint32_t offset, limit;
    if (!ts__q_enum(j, "urgency", ts__urgency_codes, urgency, sizeof urgency) ||
        !ts__q_enum(j, "category", ts__category_codes, category, sizeof category) ||
        !ts__q_uint(j, "offset", 0, UINT32_MAX, &offset) || !ts__q_uint(j, "limit", 50, 500, &limit))
        return;
    if (limit == 0)
        limit = 50;
    ts__q_search(j, needle, sizeof needle);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    json_t *all = json_array();
    char after[TS_KEY_MAX + 1] = "";
    size_t total = 0;
    for (;;) {
        if (ts_store_list(st, "notices", after, 500, false, &page, &err) < 0) {
            ts_change_page_free(&page);
            json_decref(all);
            ts__fail_err(j, &err);
            return;
        }
        for (uint32_t i = 0; i < page.n; i++) {
            json_t *r = ts_recjson_record(&page.items[i], false);
            json_t *o = json_incref(json_object_get(r, "fields"));
            json_decref(r);
            json_object_set_new(o, "id", json_string(page.items[i].id));
            json_object_del(o, "body");
            total++;
            const char *hay[] = {page.items[i].id, ts__str(o, "subject"), ts__str(o, "number"), ts__str(o, "issuer")};
            if ((!urgency[0] || strcmp(ts__str(o, "urgency"), urgency) == 0) &&
                (!category[0] || strcmp(ts__str(o, "category"), category) == 0) && ts__matches(needle, hay, 4))
                json_array_append(all, o);
            json_decref(o);
        }
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    size_t n = json_array_size(all);
    json_t **items = ts_xcalloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(all, i);
    qsort(items, n, sizeof *items, ts__by_sent_desc);
    json_t *arr = ts__slice(items, n, offset, limit);
    free(items);
    json_decref(all);
    size_t k;
    json_t *o;
    json_array_foreach(arr, k, o) {
        json_t *detail;
        if (ts_notice_summary(st, ts__str(o, "id"), &detail, &err) == 0) {
            json_object_set(o, "counts", json_object_get(detail, "counts"));
            json_object_set(o, "attachment_count", json_object_get(detail, "attachment_count"));
            json_object_set_new(o, "recipient_count",
                                json_integer((json_int_t)json_array_size(json_object_get(detail, "recipients"))));
            json_decref(detail);
        }
    }
    ts__ok(j, 200, json_pack("{s:o,s:I,s:I,s:I,s:I}", "notices", arr, "total", (json_int_t)total, "matched",
                             (json_int_t)n, "offset", (json_int_t)offset, "limit", (json_int_t)limit));
}

/* The commune and name of each station on a page of handling records. */
static void ts__add_station_names(ts_admin *a, ts_store *st, json_t *arr)
{
    ts__dir_load(a, st);
    size_t k;
    json_t *o;
    json_array_foreach(arr, k, o) {
        const ts__dir_entry *e = ts__dir_find(a, ts__str(o, "station"));
        if (e == NULL)
            continue;
        if (json_is_string(json_object_get(e->fields, "commune")))
            json_object_set_new(o, "commune", json_string(ts__str(e->fields, "commune")));
        if (json_is_string(json_object_get(e->fields, "name")))
            json_object_set_new(o, "station_name", json_string(ts__str(e->fields, "name")));
    }
}

static const char *const ts__recipient_filters[] = {"all", "sent", "delivered", "acknowledged", "in_progress",
                                                    "done", "overdue", "escalated", "pending", NULL};

static bool ts__recipient_match(const json_t *r, const char *state)
{
    if (strcmp(state, "all") == 0)
        return true;
    if (strcmp(state, "overdue") == 0)
        return json_is_true(json_object_get(r, "overdue")) && ts_state_rank(ts__str(r, "state")) < 4;
    if (strcmp(state, "escalated") == 0)
        return json_object_get(r, "escalated_at") != NULL && ts_state_rank(ts__str(r, "state")) < 2;
    if (strcmp(state, "pending") == 0) /* not acknowledged yet */
        return ts_state_rank(ts__str(r, "state")) < 2;
    return strcmp(ts__str(r, "state"), state) == 0;
}

/* GET /api/notices/{id}[?state=&q=&offset=&limit=]: the notice and its
 * per-station handling; with paging parameters, one page of recipients
 * (counts always cover all of them). */
static void ts__api_notice(ts__job *j, ts_store *st)
{
    char state[16], needle[256];
    uint32_t offset, limit;
    bool paged = ts__has_paging(j);
    if (!ts__q_enum(j, "state", ts__recipient_filters, state, sizeof state) ||
        !ts__q_uint(j, "offset", 0, UINT32_MAX, &offset) ||
        !ts__q_uint(j, "limit", paged ? 100 : UINT32_MAX, paged ? 1000 : UINT32_MAX, &limit))
        return;
    if (limit == 0)
        limit = 100;
    ts__q_search(j, needle, sizeof needle);
    json_t *o;
    ts_error err;
    if (ts_notice_show(st, j->params[0], &o, &err) < 0) {
        ts__fail_err(j, &err);
        return;
    }
    json_t *recips = json_object_get(o, "recipients");
    size_t n = 0, total = json_array_size(recips);
    json_t **items = ts_xcalloc(total ? total : 1, sizeof *items);
    size_t k;
    json_t *r;
    json_array_foreach(recips, k, r) {
        const char *hay[] = {ts__str(r, "station"), ts__str(r, "acknowledged_by")};
        if (ts__recipient_match(r, state) && ts__matches(needle, hay, 2))
            items[n++] = r;
    }
    json_t *page = ts__slice(items, n, offset, limit);
    free(items);
    ts__add_station_names(j->adm, st, page);
    json_object_set_new(o, "recipients", page);
    json_object_set_new(o, "recipients_total", json_integer((json_int_t)total));
    json_object_set_new(o, "recipients_matched", json_integer((json_int_t)n));
    json_object_set_new(o, "offset", json_integer(offset));
    ts__ok(j, 200, o);
}

static void ts__api_notice_send(ts__job *j, ts_store *st)
{
    const json_t *fields = json_object_get(j->body, "notice");
    const json_t *to = json_object_get(j->body, "recipients");
    const json_t *files = json_object_get(j->body, "attachments");
    if (!json_is_object(fields) || !json_is_object(to)) {
        ts__fail(j, 400, "BAD_REQUEST",
                 "body must be {\"notice\": {...}, \"recipients\": {...}} (and optional \"attachments\": [...])");
        return;
    }
    if (files != NULL && !json_is_array(files) && !json_is_null(files)) {
        ts__fail(j, 422, "BAD_VALUE", "attachments must be a list of {\"name\", \"mime\", \"data\" (base64)}");
        return;
    }
    ts_strlist stations = {NULL, 0};
    ts_error err;
    char id[64];
    ts_actor a = ts__actor(j);
    if (ts_notice_resolve(st, to, &stations, &err) < 0 ||
        ts_notice_create_with(st, &a, fields, files, &stations, id, sizeof id, &err) < 0) {
        ts_strlist_free(&stations);
        ts__fail_err(j, &err);
        return;
    }
    /* what was stored, as the notice's detail lists it */
    json_t *attached = NULL;
    if (ts_attachment_list(st, id, false, &attached, &err) < 0)
        attached = json_array();
    char audit[160];
    json_int_t bytes = 0;
    size_t k;
    json_t *f;
    json_array_foreach(attached, k, f)
        bytes += json_integer_value(json_object_get(f, "size"));
    if (json_array_size(attached) > 0)
        snprintf(audit, sizeof audit, "%.40s, %zu attachment%s, %lld bytes", ts__str(fields, "urgency"),
                 json_array_size(attached), json_array_size(attached) > 1 ? "s" : "", (long long)bytes);
    else
        snprintf(audit, sizeof audit, "%.40s", ts__str(fields, "urgency"));
    ts__audit(j, st, "send_notice", "notices", id, "ok", audit);
    ts__queue_notice_frames(j, st, id, &stations);
    json_t *recips = json_array();
    for (size_t i = 0; i < stations.n; i++)
        json_array_append_new(recips, json_string(stations.v[i]));
    ts__set_event(j, "notice", json_pack("{s:s,s:s}", "id", id, "state", "sent"));
    ts__ok(j, 201, json_pack("{s:s,s:o,s:o}", "id", id, "recipients", recips, "attachments", attached));
    ts_strlist_free(&stations);
}

static int ts__unhex(char c);

/* Content-Disposition for a download (RFC 6266): an ASCII fallback name in
 * filename (non-ASCII characters, quotes and backslashes as "_") and the
 * real one in filename* (RFC 8187: UTF-8, percent-encoded). */
static void ts__content_disposition(const char *name, char *out, size_t size)
{
    ts_buf b = TS_BUF_INIT;
    ts_buf_append_str(&b, "Content-Disposition: attachment; filename=\"");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p >= 0x80) {
            if ((*p & 0xc0) != 0x80)
                ts_buf_append(&b, "_", 1); /* one per character, not per byte */
        } else if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
            ts_buf_append(&b, "_", 1);
        } else {
            ts_buf_append(&b, p, 1);
        }
    }
    ts_buf_append_str(&b, "\"; filename*=UTF-8''");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        /* RFC 8187 attr-char */
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            (*p && strchr("!#$&+-.^_`|~", *p) != NULL))
            ts_buf_append(&b, p, 1);
        else
            ts_buf_printf(&b, "%%%02X", *p);
    }
    ts_buf_append_str(&b, "\r\n");
    if (b.len < size)
        snprintf(out, size, "%.*s", (int)b.len, (const char *)b.data);
    else
        snprintf(out, size, "Content-Disposition: attachment\r\n");
    ts_buf_free(&b);
}

/* GET /api/notices/{id}/attachments/{attachment}: the file as it was sent,
 * its bytes checked against their SHA-256 again; always a download
 * (Content-Disposition: attachment, sandboxed), never shown in the console's
 * origin. Audited as a read. */
static void ts__api_notice_attachment(ts__job *j, ts_store *st)
{
    ts_attachment f;
    ts_error err;
    if (ts_notice_attachment(st, j->params[0], j->params[1], &f, &err) < 0) {
        ts__fail_err(j, &err);
        return;
    }
    char detail[1200];
    snprintf(detail, sizeof detail, "download %s (%zu bytes, sha256 %.16s...)", f.name, f.len, f.sha256);
    ts__audit(j, st, "read", "notice_attachments", f.id, "ok", detail);
    snprintf(j->content_type, sizeof j->content_type, "%s", f.mime);
    j->text_type = j->content_type;
    ts_buf_reset(&j->text);
    ts_buf_append(&j->text, f.data, f.len);
    char disposition[4096];
    ts__content_disposition(f.name, disposition, sizeof disposition);
    /* the digest the district keeps, for the client to check (RFC 9530) */
    unsigned char md[32], b64[48];
    for (int i = 0; i < 32; i++)
        md[i] = (unsigned char)(ts__unhex(f.sha256[2 * i]) << 4 | ts__unhex(f.sha256[2 * i + 1]));
    EVP_EncodeBlock(b64, md, 32);
    snprintf(j->headers, sizeof j->headers,
             "%sContent-Security-Policy: sandbox; default-src 'none'\r\nRepr-Digest: sha-256=:%s:\r\n", disposition,
             (const char *)b64);
    j->status = 200;
    ts_attachment_free(&f);
}

/* ---------------------------------------------------------------- endpoints: reports */

static int ts__by_reported_desc(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(ts__str(json_object_get(y, "fields"), "reported_at"),
                  ts__str(json_object_get(x, "fields"), "reported_at"));
}

static const char *const ts__report_kind_codes[] = {"", "case_report", "outbreak_detection", "outbreak_update",
                                                    "outbreak_end", "incident", "request_drugs", "request_staff",
                                                    "request_supervision", "other", NULL};

/* GET /api/reports[?q=&kind=&station=&offset=&limit=]: what stations sent
 * up, newest first, each with the notices it was passed on as. */
static void ts__api_reports(ts__job *j, ts_store *st)
{
    char kind[32], station[TS_KEY_MAX + 1] = "", needle[256];
    uint32_t offset, limit;
    if (!ts__q_enum(j, "kind", ts__report_kind_codes, kind, sizeof kind) ||
        !ts__q_uint(j, "offset", 0, UINT32_MAX, &offset) || !ts__q_uint(j, "limit", 100, 1000, &limit))
        return;
    if (limit == 0)
        limit = 100;
    ts__q(j, "station", station, sizeof station);
    ts__q_search(j, needle, sizeof needle);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    json_t *all = json_array();
    char after[TS_KEY_MAX + 1] = "";
    size_t total = 0;
    for (;;) {
        if (ts_store_list(st, "reports", after, 500, false, &page, &err) < 0)
            break;
        for (uint32_t i = 0; i < page.n; i++) {
            total++;
            json_t *r = ts_recjson_record(&page.items[i], false);
            const json_t *f = json_object_get(r, "fields");
            const char *hay[] = {page.items[i].owner, ts__str(f, "subject"), ts__str(f, "disease"),
                                 ts__str(f, "location"), ts__str(f, "reported_by")};
            if ((!kind[0] || strcmp(ts__str(f, "kind"), kind) == 0) &&
                (!station[0] || strcmp(page.items[i].owner, station) == 0) && ts__matches(needle, hay, 5))
                json_array_append(all, r);
            json_decref(r);
        }
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    size_t n = json_array_size(all);
    json_t **items = ts_xcalloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(all, i);
    qsort(items, n, sizeof *items, ts__by_reported_desc);
    json_t *res = ts__slice(items, n, offset, limit);
    free(items);
    json_decref(all);
    /* which notices passed them on */
    if (json_array_size(res) > 0) {
        json_t *by_report = json_object();
        snprintf(after, sizeof after, "%s", "");
        for (;;) {
            if (ts_store_list(st, "notices", after, 500, false, &page, &err) < 0)
                break;
            for (uint32_t i = 0; i < page.n; i++) {
                char src[TS_KEY_MAX + 1];
                if (!ts_recjson_text(&page.items[i].v, "source_report", src, sizeof src) || !src[0])
                    continue;
                json_t *list = json_object_get(by_report, src);
                if (list == NULL) {
                    list = json_array();
                    json_object_set_new(by_report, src, list);
                }
                json_array_append_new(list, json_string(page.items[i].id));
            }
            if (page.n < 500)
                break;
            snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
        }
        size_t k;
        json_t *r;
        json_array_foreach(res, k, r) {
            json_t *list = json_object_get(by_report, ts__str(r, "id"));
            json_object_set_new(r, "redistributed_as", list ? json_incref(list) : json_array());
            json_object_set_new(r, "station", json_string(ts__str(r, "owner")));
        }
        json_decref(by_report);
        ts__add_station_names(j->adm, st, res);
    }
    ts_change_page_free(&page);
    ts__ok(j, 200, json_pack("{s:o,s:I,s:I,s:I,s:I}", "reports", res, "total", (json_int_t)total, "matched",
                             (json_int_t)n, "offset", (json_int_t)offset, "limit", (json_int_t)limit));
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
            json_int_t percent_sum = 0, done = 0, assigned = 0;
            json_array_foreach(json_object_get(detail, "assignments"), k, a) {
                const char *state = ts__str(a, "state");
                bool is_done = strcmp(state, "done") == 0;
                assigned++;
                done += is_done;
                percent_sum += is_done ? 100 : json_integer_value(json_object_get(a, "percent"));
                json_t *c = json_object_get(counts, state);
                json_object_set_new(counts, state, json_integer(c ? json_integer_value(c) + 1 : 1));
                if (json_is_true(json_object_get(a, "overdue"))) {
                    json_t *ov = json_object_get(counts, "overdue");
                    json_object_set_new(counts, "overdue", json_integer(ov ? json_integer_value(ov) + 1 : 1));
                }
            }
            json_object_set_new(o, "assignment_counts", counts);
            /* progress: the mean of each station's percent (done = 100) */
            json_object_set_new(o, "progress", json_pack("{s:I,s:I,s:I}", "assigned", assigned, "done", done, "percent",
                                                         assigned ? percent_sum / assigned : (json_int_t)0));
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
    ts__add_station_names(j->adm, st, json_object_get(o, "assignments"));
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
    int table_index;        /* 0 notice_recipients, 1 task_assignments */
    uint32_t by_state[2][5]; /* records by handling state (ts_notice_states order) */
} ts__flagged;

static bool ts__field_true(const ts_version *v, const char *name)
{
    const ts_field *f = ts_version_field(v, name);
    return f && f->value_len == 1 && f->value[0] == 0xc3;
}

/* Reads only the few fields it needs from each record; JSON is made only for
 * the records flagged. */
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
            const ts_version *v = &page.items[i].v;
            char state[24] = "", urgency[24] = "";
            ts_recjson_text(v, "state", state, sizeof state);
            ts_recjson_text(v, "urgency", urgency, sizeof urgency);
            int rank = ts_state_rank(state);
            bool overdue = ts__field_true(v, "overdue") && rank < 4;
            bool escalated = ts_version_field(v, "escalated_at") != NULL && rank < 2;
            bool urgent_unacked = ts_urgency_is_urgent(urgency) && rank >= 0 && rank < 2;
            x->overdue += overdue;
            x->escalated += escalated;
            if (rank >= 0)
                x->by_state[x->table_index][rank]++;
            x->urgent_unacked += urgent_unacked;
            if (x->arr && (overdue || escalated || urgent_unacked)) {
                json_t *r = ts_recjson_record(&page.items[i], false);
                json_object_set_new(r, "overdue", json_boolean(overdue));
                json_object_set_new(r, "escalated", json_boolean(escalated));
                json_object_set_new(r, "urgent_unacknowledged", json_boolean(urgent_unacked));
                json_array_append_new(x->arr, r);
            }
        }
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
}

/* What needs attention in notice_recipients and task_assignments: scanned
 * again only when one of the two tables changed (their highest sequence
 * number moved), so the dashboard's calls cost little in a quiet district.
 * The flagged records stay in a->flags_items (store thread only: callers
 * copy what they hand out). */
static void ts__flags(ts_admin *a, ts_store *st, ts__flagged *out)
{
    int64_t key[2] = {ts__scalar(st, "SELECT max(seq) FROM records WHERE tbl = 'notice_recipients'"),
                      ts__scalar(st, "SELECT max(seq) FROM records WHERE tbl = 'task_assignments'")};
    if (!a->flags_valid || key[0] != a->flags_key[0] || key[1] != a->flags_key[1]) {
        ts__flagged x;
        memset(&x, 0, sizeof x);
        x.arr = json_array();
        x.table = "notice_recipients";
        ts__flag_scan(st, &x);
        x.table = "task_assignments";
        x.table_index = 1;
        ts__flag_scan(st, &x);
        memcpy(a->flags_states, x.by_state, sizeof a->flags_states);
        json_decref(a->flags_items);
        a->flags_items = x.arr;
        a->flags_counts[0] = x.urgent_unacked;
        a->flags_counts[1] = x.overdue;
        a->flags_counts[2] = x.escalated;
        a->flags_key[0] = key[0];
        a->flags_key[1] = key[1];
        a->flags_valid = true;
    }
    memset(out, 0, sizeof *out);
    memcpy(out->by_state, a->flags_states, sizeof out->by_state);
    out->urgent_unacked = a->flags_counts[0];
    out->overdue = a->flags_counts[1];
    out->escalated = a->flags_counts[2];
}

/* GET /api/escalations[?offset=&limit=]: handling records that need the
 * district's attention (urgent and not acknowledged, overdue, re-sent). */
static void ts__api_escalations(ts__job *j, ts_store *st)
{
    uint32_t offset, limit;
    if (!ts__q_uint(j, "offset", 0, UINT32_MAX, &offset) || !ts__q_uint(j, "limit", UINT32_MAX, UINT32_MAX, &limit))
        return;
    ts__flagged x;
    ts__flags(j->adm, st, &x);
    /* copies of the page only: the cached records stay on this thread */
    const json_t *all = j->adm->flags_items;
    size_t n = json_array_size(all);
    json_t *page = json_array();
    for (size_t i = offset; i < n && i < (size_t)offset + limit; i++)
        json_array_append_new(page, json_deep_copy(json_array_get(all, i)));
    size_t k;
    json_t *r;
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    json_array_foreach(page, k, r) {
        json_t *f = json_object_get(r, "fields");
        json_object_set_new(r, "station", json_string(ts__str(f, "station")));
        /* what it is about: the notice's subject or the task */
        bool is_notice = json_object_get(f, "notice_id") != NULL;
        ts_change c;
        ts_error err;
        if (ts_store_get(st, is_notice ? "notices" : "plan_tasks", ts__str(f, is_notice ? "notice_id" : "task_id"), &c,
                         &arena, &err) == 0) {
            char text[600];
            if (ts_recjson_text(&c.v, is_notice ? "subject" : "task", text, sizeof text))
                json_object_set_new(r, "subject", json_string(text));
            if (is_notice && ts_recjson_text(&c.v, "number", text, sizeof text))
                json_object_set_new(r, "number", json_string(text));
            ts_version_free(&c.v);
        }
    }
    ts_arena_free(&arena);
    ts__add_station_names(j->adm, st, page);
    ts__ok(j, 200, json_pack("{s:o,s:I,s:i,s:i,s:i}", "items", page, "matched", (json_int_t)n, "urgent_unacknowledged",
                             x.urgent_unacked, "overdue", x.overdue, "escalated", x.escalated));
}

/* Live records: counting a million rows takes a while, so the count is
 * kept for a few seconds (jobs run one at a time on the store's thread, the
 * only place that reads or writes it). */
static json_int_t ts__records_count(ts_admin *a, ts_store *st, uint64_t now_ms)
{
    uint64_t seq = ts_store_last_seq(st);
    /* small districts count every time; large ones every few seconds */
    if (a->records_at == 0 || (seq != a->records_seq && (a->records_count < 100000 || now_ms - a->records_at > 5000))) {
        a->records_count = ts__scalar(st, "SELECT count(*) FROM records WHERE deleted = 0");
        a->records_at = now_ms;
        a->records_seq = seq;
    }
    return (json_int_t)a->records_count;
}

static void ts__api_overview(ts__job *j, ts_store *st)
{
    ts__stations sts;
    ts__collect_stations(j, st, &sts);
    ts__st_counts c;
    ts__st_count(j, &sts, &c);
    ts__stations_free(&sts);
    ts__flagged x;
    ts__flags(j->adm, st, &x);
    uint64_t open = 0;
    ts_store_conflict_count(st, true, &open);
    int64_t pages = ts__scalar(st, "PRAGMA page_count"), page_size = ts__scalar(st, "PRAGMA page_size");
    const ts_server_stats *s = &j->stats;
    json_t *service = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "connections",
        (json_int_t)s->connections, "sessions", (json_int_t)s->sessions, "changes_in", (json_int_t)s->changes_in,
        "changes_out", (json_int_t)s->changes_out, "changes_rejected", (json_int_t)s->changes_rejected,
        "protocol_errors", (json_int_t)s->protocol_errors, "handshakes_failed", (json_int_t)s->handshakes_failed,
        "rate_limited", (json_int_t)s->rate_limited, "loop_lag_p50_ms", (json_int_t)s->loop_lag_ms_p50,
        "loop_lag_p99_ms", (json_int_t)s->loop_lag_ms_p99, "bytes_in", (json_int_t)s->bytes_in, "bytes_out",
        (json_int_t)s->bytes_out, "frames_in", (json_int_t)s->frames_in, "frames_out", (json_int_t)s->frames_out,
        "notices_sent", (json_int_t)s->notices_sent, "notices_acked", (json_int_t)s->notices_acked, "memory_buffers",
        (json_int_t)s->memory_buffers, "admin_requests", (json_int_t)j->http_requests, "console_streams",
        (json_int_t)j->sse_clients);
    json_object_set_new(service, "errors",
                        json_integer((json_int_t)(s->protocol_errors + s->handshakes_failed + s->changes_rejected)));
    json_object_set_new(service, "uptime_s", json_integer((json_int_t)((j->now_ms - j->adm->started_ms) / 1000)));
    json_object_set_new(service, "version", json_string(TS_VERSION));
    ts__ok(j, 200,
           json_pack("{s:{s:I,s:I,s:I,s:I,s:I,s:I},s:I,s:{s:i,s:i,s:i},s:I,s:I,s:I,s:I,s:o,s:I}", "stations", "total",
                     c.total, "online", c.online, "offline", c.offline, "silent", c.silent, "cert_expiring", c.cert,
                     "clock_problem", c.clock, "conflicts_open", (json_int_t)open, "notices", "urgent_unacknowledged",
                     x.urgent_unacked, "overdue", x.overdue, "escalated", x.escalated, "records",
                     ts__records_count(j->adm, st, j->now_ms), "db_bytes", (json_int_t)(pages * page_size), "last_seq",
                     (json_int_t)ts_store_last_seq(st), "audit_entries",
                     (json_int_t)ts__scalar(st, "SELECT max(id) FROM audit"), "service", service, "now_ms",
                     (json_int_t)j->now_ms));
}

/* ---------------------------------------------------------------- endpoints: audit, users */

static void ts__api_audit(ts__job *j, ts_store *st)
{
    char after[32] = "", actor[128] = "", table[64] = "", record[TS_KEY_MAX + 1] = "", action[48] = "";
    uint32_t limit, before;
    if (!ts__q_uint(j, "limit", 100, 1000, &limit) || !ts__q_uint(j, "before", 0, UINT32_MAX, &before))
        return;
    if (limit == 0)
        limit = 100;
    ts__q(j, "before", after, sizeof after);
    ts__q(j, "action", action, sizeof action);
    ts__q(j, "actor", actor, sizeof actor);
    ts__q(j, "table", table, sizeof table);
    ts__q(j, "record", record, sizeof record);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT id, ts, actor, actor_kind, action, tbl, rec_id, outcome, detail, peer FROM audit"
                           " WHERE (?1 = 0 OR id < ?1) AND (?2 = '' OR actor = ?2) AND (?3 = '' OR tbl = ?3)"
                           " AND (?4 = '' OR rec_id = ?4) AND (?6 = '' OR action = ?6) ORDER BY id DESC LIMIT ?5",
                           -1, &q, NULL) != SQLITE_OK) {
        ts__fail(j, 500, "INTERNAL", "internal error");
        return;
    }
    sqlite3_bind_int64(q, 1, strtoll(after, NULL, 10));
    sqlite3_bind_text(q, 2, actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, record, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 5, (int)limit);
    sqlite3_bind_text(q, 6, action, -1, SQLITE_STATIC);
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
    json_int_t last = json_array_size(arr) ? json_integer_value(json_object_get(json_array_get(arr, json_array_size(arr) - 1), "id")) : 0;
    ts__ok(j, 200, json_pack("{s:o,s:I,s:b}", "entries", arr, "next_before", last, "more", json_array_size(arr) == limit));
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

/* GET /api/targets[?q=&only=unmet&indicator=&offset=&limit=]: each commune
 * against each 2030 target on the latest day computed, with the numerator
 * and denominator behind every figure, and the district as a whole. */
static void ts__api_targets(ts__job *j, ts_store *st)
{
    static const char *const onlys[] = {"all", "unmet", NULL};
    char only[8], indicator[48] = "", needle[256];
    uint32_t offset, limit;
    bool paged = ts__has_paging(j);
    if (!ts__q_enum(j, "only", onlys, only, sizeof only) || !ts__q_uint(j, "offset", 0, UINT32_MAX, &offset) ||
        !ts__q_uint(j, "limit", paged ? 50 : UINT32_MAX, paged ? 500 : UINT32_MAX, &limit))
        return;
    if (ts__q(j, "indicator", indicator, sizeof indicator) && ts__target_index(indicator) < 0) {
        ts__fail(j, 400, "BAD_REQUEST", "indicator must be one of the targets' codes");
        return;
    }
    if (limit == 0)
        limit = 50;
    ts__q_search(j, needle, sizeof needle);
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    char day[16] = "";
    if (sqlite3_prepare_v2(db, "SELECT max(day) FROM target_snapshots", -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
            snprintf(day, sizeof day, "%s", (const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
    }
    /* one row per station, in station order (the primary key's), in C;
     * JSON only for the page */
    typedef struct fig_row {
        char station[TS_KEY_MAX + 1];
        int64_t num[TS_TARGET_COUNT], den[TS_TARGET_COUNT];
        bool have[TS_TARGET_COUNT];
    } fig_row;
    fig_row *rows = NULL;
    size_t nrows = 0, cap = 0;
    int64_t tot_num[TS_TARGET_COUNT] = {0}, tot_den[TS_TARGET_COUNT] = {0};
    if (day[0] && sqlite3_prepare_v2(db,
                                     "SELECT station, indicator, numerator, denominator FROM target_snapshots"
                                     " WHERE day = ?1 ORDER BY station",
                                     -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, day, -1, SQLITE_STATIC);
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *station = (const char *)sqlite3_column_text(q, 0);
            int i = ts__target_index((const char *)sqlite3_column_text(q, 1));
            if (i < 0 || station == NULL)
                continue;
            if (nrows == 0 || strcmp(rows[nrows - 1].station, station) != 0) {
                if (nrows == cap) {
                    cap = cap ? cap * 2 : 64;
                    rows = ts_xreallocarray(rows, cap, sizeof *rows);
                }
                memset(&rows[nrows], 0, sizeof *rows);
                snprintf(rows[nrows].station, sizeof rows[nrows].station, "%s", station);
                nrows++;
            }
            fig_row *r = &rows[nrows - 1];
            int64_t num = sqlite3_column_int64(q, 2), den = sqlite3_column_int64(q, 3);
            r->num[i] = num;
            r->den[i] = den;
            r->have[i] = true;
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
    ts__dir_load(j->adm, st);
    int want = indicator[0] ? ts__target_index(indicator) : -1;
    fig_row **items = ts_xcalloc(nrows ? nrows : 1, sizeof *items);
    size_t n = 0;
    for (size_t r = 0; r < nrows; r++) {
        const ts__dir_entry *e = ts__dir_find(j->adm, rows[r].station);
        if (needle[0]) {
            char fold_code[TS_KEY_MAX + 1];
            ts__fold(rows[r].station, fold_code, sizeof fold_code);
            if (!strstr(e ? e->fold : fold_code, needle))
                continue;
        }
        if (strcmp(only, "unmet") == 0) {
            bool unmet = false;
            for (int i = 0; i < TS_TARGET_COUNT; i++)
                if (rows[r].have[i] && (want < 0 || want == i) && !ts_target_met(i, rows[r].num[i], rows[r].den[i]))
                    unmet = true;
            if (!unmet)
                continue;
        }
        items[n++] = &rows[r];
    }
    json_t *arr = json_array();
    for (size_t r = offset; r < n && r < (size_t)offset + limit; r++) {
        const ts__dir_entry *e = ts__dir_find(j->adm, items[r]->station);
        json_t *figures = json_object();
        for (int i = 0; i < TS_TARGET_COUNT; i++)
            if (items[r]->have[i])
                json_object_set_new(figures, ts_targets[i].code, ts__figure(i, items[r]->num[i], items[r]->den[i]));
        json_t *c = json_pack("{s:s,s:o}", "station", items[r]->station, "figures", figures);
        if (e && json_is_string(json_object_get(e->fields, "commune")))
            json_object_set_new(c, "commune", json_string(ts__str(e->fields, "commune")));
        json_array_append_new(arr, c);
    }
    free(items);
    free(rows);
    json_t *total = json_object();
    for (int i = 0; i < TS_TARGET_COUNT; i++)
        json_object_set_new(total, ts_targets[i].code, ts__figure(i, tot_num[i], tot_den[i]));
    ts__ok(j, 200, json_pack("{s:s,s:o,s:o,s:o,s:I,s:I,s:I,s:I}", "day", day, "targets", ts__target_defs(), "communes",
                             arr, "district", total, "total", (json_int_t)nrows, "matched", (json_int_t)n, "offset",
                             (json_int_t)offset, "limit", (json_int_t)(limit == UINT32_MAX ? (uint32_t)n : limit)));
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

static int ts__live_cmp(const void *a, const void *b)
{
    return strcmp(((const ts_live_station *)a)->station, ((const ts_live_station *)b)->station);
}

/* When each station was last seen and last synced, as Unix times (alert on
 * time() - tramsync_station_last_seen_timestamp_seconds): what sessions
 * stored, with the connected stations seen now. */
static void ts__station_times(ts__job *j, ts_store *st, ts_buf *b)
{
    ts_live_station *live = j->nlive ? ts_xmemdup(j->live, j->nlive * sizeof *live) : NULL;
    if (j->nlive > 1)
        qsort(live, j->nlive, sizeof *live, ts__live_cmp);
    ts_buf seen = TS_BUF_INIT, sync = TS_BUF_INIT;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st), "SELECT station, last_seen, last_sync FROM station_status", -1, &q,
                           NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            ts_live_station key;
            memset(&key, 0, sizeof key);
            snprintf(key.station, sizeof key.station, "%s", (const char *)sqlite3_column_text(q, 0));
            const ts_live_station *l = j->nlive ? bsearch(&key, live, j->nlive, sizeof *live, ts__live_cmp) : NULL;
            int64_t last_seen = l ? (int64_t)j->now_ms : sqlite3_column_int64(q, 1);
            int64_t last_sync = sqlite3_column_int64(q, 2);
            if (l && (int64_t)l->last_sync_ms > last_sync)
                last_sync = (int64_t)l->last_sync_ms;
            char labels[200];
            snprintf(labels, sizeof labels, "station=\"%s\"", key.station);
            ts__metric(&seen, "tramsync_station_last_seen_timestamp_seconds", "gauge",
                       seen.len ? NULL : "When each station was last connected (Unix time; now when it is).", labels,
                       (double)(last_seen / 1000));
            if (last_sync > 0)
                ts__metric(&sync, "tramsync_station_last_sync_timestamp_seconds", "gauge",
                           sync.len ? NULL : "When each station last pushed or caught up (Unix time).", labels,
                           (double)(last_sync / 1000));
        }
        sqlite3_finalize(q);
    }
    ts_buf_append(b, seen.data, seen.len);
    ts_buf_append(b, sync.data, sync.len);
    ts_buf_free(&seen);
    ts_buf_free(&sync);
    free(live);
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
    for (int r = 1; r < TS_REFUSED_COUNT; r++) {
        char label[48];
        snprintf(label, sizeof label, "reason=\"%s\"", ts_refused_name(r));
        ts__metric(b, "tramsync_connections_refused_by_reason_total", "counter",
                   r == 1 ? "Connections refused before HELLO, by reason." : NULL, label, (double)s->refused[r]);
    }
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
    ts__metric(b, "tramsync_notice_frames_total", "counter", "NOTICE frames sent and acknowledged by stations.",
               "event=\"sent\"", (double)s->notices_sent);
    ts__metric(b, "tramsync_notice_frames_total", "counter", NULL, "event=\"acked\"", (double)s->notices_acked);
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
    ts__flagged x;
    ts__flags(j->adm, st, &x);
    ts__metric(b, "tramsync_notices_urgent_unacknowledged", "gauge", "Urgent notices not yet acknowledged.", NULL,
               x.urgent_unacked);
    ts__metric(b, "tramsync_notices_overdue", "gauge", "Notices and tasks past their deadline, not done.", NULL, x.overdue);
    ts__metric(b, "tramsync_notices_escalated", "gauge", "Notices re-sent for lack of acknowledgement.", NULL,
               x.escalated);
    for (int t = 0; t < 2; t++) {
        for (int k = 0; k < 5; k++) {
            char label[64];
            snprintf(label, sizeof label, "state=\"%s\"", ts_notice_states[k].code);
            ts__metric(b, t == 0 ? "tramsync_notice_recipients" : "tramsync_task_assignments", "gauge",
                       k > 0            ? NULL
                       : t == 0 ? "Notice handling records (one per notice and station) by state."
                                : "Plan task assignments by state.",
                       label, x.by_state[t][k]);
        }
    }
    ts__metric(b, "tramsync_server_cert_expiry_seconds", "gauge", "Seconds until the server's certificate expires.",
               NULL, (double)s->server_cert_expires_in);
    ts__station_times(j, st, b);
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
    {HTTP_GET, "/api/notices/{id}/attachments/{attachment}", 1, ts__api_notice_attachment},
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

/* A database job of the admin API ended: if the API is stopping and that was
 * the last thing it waited for, it is freed and its stop completes. */
static void ts__job_ended(ts_admin *a)
{
    if (a->stopping && a->jobs == 0 && a->closing_parts == 0 && a->stop_done) {
        void (*done)(void *) = a->stop_done;
        void *arg = a->stop_arg;
        ts__admin_free(a);
        done(arg);
    }
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
        ts_http_respond(j->hc, 200, j->text_type, j->text.data, j->text.len, j->headers[0] ? j->headers : NULL);
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
    ts__job_ended(a);
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

static void ts__count_sse(ts_http_conn *hc, void *arg)
{
    (void)hc;
    (*(size_t *)arg)++;
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
    j->max_body = ts_server_get_config(a->srv)->admin_max_body;
    j->nlive = ts_server_live_stations(a->srv, &j->live);
    ts_server_get_stats(a->srv, &j->stats);
    j->http_requests = ts_http_server_requests(a->http);
    ts_http_each_sse(a->http, ts__count_sse, &j->sse_clients);
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
    ts__job_ended(a);
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
    ts__job_ended(a);
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

/* ---------------------------------------------------------------- change watch
 * Stations' pushes change the district store without an admin request, so
 * the console would not hear of them. While at least one console listens,
 * a short job every two seconds compares the store's last sequence number
 * and its open conflicts with what was seen, and announces a change as the
 * events "record" and "conflict". */

#define TS__WATCH_EVERY_MS 2000

typedef struct ts__watch_job {
    ts_dbjob base;
    ts_admin *adm;
    uint64_t seq;
    uint64_t open;
} ts__watch_job;

static void ts__watch_work(ts_dbjob *base, ts_store *st)
{
    ts__watch_job *j = base->data;
    j->seq = ts_store_last_seq(st);
    ts_store_conflict_count(st, true, &j->open);
}

static void ts__watch_done(ts_dbjob *base)
{
    ts__watch_job *j = base->data;
    ts_admin *a = j->adm;
    a->jobs--;
    a->watch_running = false;
    if (!a->stopping) {
        char data[96];
        if (a->watch_seq != 0 && j->seq != a->watch_seq) {
            snprintf(data, sizeof data, "{\"seq\":%" PRIu64 ",\"source\":\"sync\"}", j->seq);
            ts_admin_event(a, "record", data);
        }
        if (a->watch_seq != 0 && j->open != a->watch_conflicts) {
            snprintf(data, sizeof data, "{\"open\":%" PRIu64 "}", j->open);
            ts_admin_event(a, "conflict", data);
        }
        a->watch_seq = j->seq ? j->seq : 1;
        a->watch_conflicts = j->open;
    }
    free(j);
    ts__job_ended(a);
}

static void ts__watch_tick(uv_timer_t *t)
{
    ts_admin *a = t->data;
    size_t listeners = 0;
    if (a->watch_running || a->stopping || a->http == NULL)
        return;
    ts_http_each_sse(a->http, ts__count_sse, &listeners);
    /* nobody listens: skip the read, but keep the last baseline, so what a
     * station pushes before the next console connects is announced to it at
     * the next tick instead of taken silently as the new baseline */
    if (listeners == 0)
        return;
    a->watch_running = true;
    a->jobs++;
    ts__watch_job *j = ts_xcalloc(1, sizeof *j);
    j->adm = a;
    ts_dbq_submit(ts_server_dbq(a->srv), &j->base, ts__watch_work, ts__watch_done, j);
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
    uv_timer_init(ts_server_loop(srv), &a->watch_timer);
    a->watch_timer.data = a;
    uv_timer_start(&a->watch_timer, ts__watch_tick, TS__WATCH_EVERY_MS, TS__WATCH_EVERY_MS);
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
    ts__admin_free(a);
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
    a->closing_parts = 4;
    ts_tls_ctx_unref(a->tls);
    a->tls = NULL;
    uv_close((uv_handle_t *)&a->esc_timer, ts__timer_closed);
    uv_close((uv_handle_t *)&a->watch_timer, ts__timer_closed);
    uv_close((uv_handle_t *)&a->targets_timer, ts__timer_closed);
    ts_http_server_stop(a->http, ts__http_stopped, a);
    a->http = NULL;
}
