/* Accounts, roles and sessions: who may use the admin API and as what.
 * Passwords are argon2id and session tokens are kept only as their SHA-256,
 * so the login, the check of every request and the logout sit together here,
 * and no other file of the admin API reads admin_users or admin_sessions. */
#include <argon2.h>
#include <inttypes.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "common/ts_log.h"
#include "common/ts_recjson.h"
#include "server/admin/ts_admin_int.h"

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
    /* a viewer's rank, narrowed by their scope (server/admin/ts_admin_scope.c):
     * the routes they reach are those open to them, and only those */
    if (strcmp(role, "commune") == 0 || strcmp(role, "monitor") == 0)
        return 1;
    return 0;
}

const char *ts_admin__role_name(int rank)
{
    static const char *const names[] = {"none", "viewer", "operator", "admin"};
    return rank >= 0 && rank <= 3 ? names[rank] : "none";
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

/* Whoever knew the old password, or held a session made with it, is out. */
static int ts__end_sessions(ts_store *st, const char *username, const char *keep, ts_error *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st), "DELETE FROM admin_sessions WHERE username = ?1 AND token_hash != ?2", -1,
                           &q, NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "users: %s", sqlite3_errmsg(ts_store_db(st)));
    sqlite3_bind_text(q, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, keep ? keep : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : ts_error_set(err, TS_ESTORAGE, "cannot end the sessions");
    sqlite3_finalize(q);
    return rc;
}

int ts_admin_user_set(ts_store *st, const char *name, const char *password, const char *role,
                      const char *full_name, const char *keep_session, ts_error *err)
{
    const char *bad = ts_account_name_problem(name);
    if (bad != NULL)
        return ts_error_set(err, TS_EBAD_VALUE, "a user name %s", bad);
    char username[TS_ACCOUNT_NAME_MAX + 1];
    ts_account_name_fold(name, username, sizeof username);
    if (role && ts_admin_role_rank(role) == 0)
        return ts_error_set(err, TS_EBAD_VALUE, "role must be viewer, operator, admin, commune or monitor");
    if (password && strlen(password) < 10)
        return ts_error_set(err, TS_EBAD_VALUE, "a password has at least 10 characters");
    sqlite3_stmt *q;
    if (password == NULL || role == NULL) {
        /* only a new password and role make a new account */
        bool exists = false;
        if (sqlite3_prepare_v2(ts_store_db(st), "SELECT 1 FROM admin_users WHERE username = ?1", -1, &q, NULL) ==
            SQLITE_OK) {
            sqlite3_bind_text(q, 1, username, -1, SQLITE_STATIC);
            exists = sqlite3_step(q) == SQLITE_ROW;
            sqlite3_finalize(q);
        }
        if (!exists)
            return ts_error_set(err, TS_ENOT_FOUND, "no such user (a new one needs a password and a role)");
    }
    char encoded[256] = "";
    if (password && ts__hash_password(password, encoded, sizeof encoded) < 0)
        return ts_error_set(err, TS_EINTERNAL, "cannot hash the password");
    const char *sql = "INSERT INTO admin_users(username, password, role, full_name, created_at)"
                      " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(username) DO UPDATE SET"
                      " password = CASE WHEN ?2 = '' THEN password ELSE ?2 END,"
                      " role = CASE WHEN ?3 = '' THEN role ELSE ?3 END,"
                      " full_name = CASE WHEN ?4 = '' THEN full_name ELSE ?4 END";
    if (sqlite3_prepare_v2(ts_store_db(st), sql, -1, &q, NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "users: %s", sqlite3_errmsg(ts_store_db(st)));
    /* the new password and the end of the sessions made with the old one go
     * together, or neither does */
    int rc = ts_store_begin(st, err);
    if (rc < 0) {
        sqlite3_finalize(q);
        return rc;
    }
    sqlite3_bind_text(q, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, encoded, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, role ? role : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, full_name ? full_name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, (sqlite3_int64)ts_wall_ms());
    rc = sqlite3_step(q) == SQLITE_DONE ? 0 : ts_error_set(err, TS_ESTORAGE, "cannot save the user");
    sqlite3_finalize(q);
    if (rc == 0 && password != NULL)
        rc = ts__end_sessions(st, username, keep_session, err);
    if (rc == 0)
        return ts_store_commit(st, err);
    ts_store_rollback(st);
    return rc;
}

static bool ts__commune_code_ok(const char *p, size_t n)
{
    if (n == 0 || n > TS_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
              p[i] == '-' || p[i] == '_' || p[i] == '.'))
            return false;
    return true;
}

/* Whether the station directory knows a commune or station code: 1 yes,
 * 0 no, -1 the directory is empty (a database before it was loaded: any
 * code goes), -2 it could not be read (err: nothing must be decided on it). */
static int ts__commune_known(ts_store *st, const char *code, size_t n, ts_error *err)
{
    ts_change_page page;
    ts_change_page_init(&page);
    char after[TS_KEY_MAX + 1] = "";
    int seen = 0, found = 0, rc = 0;
    while (!found && (rc = ts_store_list(st, "stations", after, 500, false, &page, err)) == 0 && page.n > 0) {
        for (uint32_t i = 0; i < page.n && !found; i++) {
            seen = 1;
            json_t *rec = ts_recjson_record(&page.items[i], false);
            const char *cc = ts_admin__str(json_object_get(rec, "fields"), "commune_code");
            found = (strlen(page.items[i].id) == n && strncmp(page.items[i].id, code, n) == 0) ||
                    (strlen(cc) == n && strncmp(cc, code, n) == 0);
            json_decref(rec);
        }
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
        if (page.n < 500)
            break;
    }
    ts_change_page_free(&page);
    if (rc < 0)
        return -2;
    return found ? 1 : seen ? 0 : -1;
}

/* A scoped account's communes: the communes' codes (stations.commune_code)
 * or station codes, comma-separated; "" for none. Kept as given (spaces
 * dropped), checked by ts_admin_user_check_scope with the role. A code the
 * station directory does not have is refused (unless the directory is
 * still empty). */
int ts_admin_user_set_communes(ts_store *st, const char *name, const char *communes, ts_error *err)
{
    char list[256] = "";
    size_t len = 0;
    for (const char *p = communes; *p;) {
        p += strspn(p, ", ");
        size_t n = strcspn(p, ", ");
        if (n == 0)
            break;
        if (!ts__commune_code_ok(p, n) || len + n + 2 > sizeof list)
            return ts_error_set(err, TS_EBAD_VALUE,
                                "communes: mã xã hoặc mã trạm, cách nhau bằng dấu phẩy / commune or station codes, "
                                "comma-separated");
        int known = ts__commune_known(st, p, n, err);
        if (known == -2)
            return err->code < 0 ? err->code : TS_ESTORAGE;
        if (known == 0)
            return ts_error_set(err, TS_EBAD_VALUE,
                                "không có xã hoặc trạm mã %.*s trong danh mục trạm / no commune or station %.*s in "
                                "the station directory",
                                (int)n, p, (int)n, p);
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%.*s", len ? "," : "", (int)n, p);
        p += n;
    }
    char username[TS_ACCOUNT_NAME_MAX + 1];
    ts_account_name_fold(name, username, sizeof username);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st), "UPDATE admin_users SET communes = ?2 WHERE username = ?1", -1, &q,
                           NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "users: %s", sqlite3_errmsg(ts_store_db(st)));
    sqlite3_bind_text(q, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, list, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : ts_error_set(err, TS_ESTORAGE, "cannot save the communes");
    if (rc == 0 && sqlite3_changes(ts_store_db(st)) == 0)
        rc = ts_error_set(err, TS_ENOT_FOUND, "no such user");
    sqlite3_finalize(q);
    return rc;
}

/* A role and its communes agree: a commune account has exactly one, a
 * viewer any (none: the district), the others none - an operator limited to
 * a commune would still write for the district. */
int ts_admin_user_check_scope(ts_store *st, const char *name, ts_error *err)
{
    char username[TS_ACCOUNT_NAME_MAX + 1];
    ts_account_name_fold(name, username, sizeof username);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st), "SELECT role, communes FROM admin_users WHERE username = ?1", -1, &q,
                           NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "users: %s", sqlite3_errmsg(ts_store_db(st)));
    sqlite3_bind_text(q, 1, username, -1, SQLITE_STATIC);
    int rc = 0;
    if (sqlite3_step(q) == SQLITE_ROW) {
        const char *role = (const char *)sqlite3_column_text(q, 0);
        const char *communes = (const char *)sqlite3_column_text(q, 1);
        bool has = communes && communes[0];
        if (strcmp(role, "commune") == 0 && (!has || strchr(communes, ',') != NULL))
            rc = ts_error_set(err, TS_EBAD_VALUE, "tài khoản xã cần đúng một xã (communes) / a commune account needs "
                                                  "exactly one commune (communes)");
        else if (has && strcmp(role, "commune") != 0 && strcmp(role, "viewer") != 0)
            rc = ts_error_set(err, TS_EBAD_VALUE, "chỉ tài khoản xem (viewer) hoặc tài khoản xã được giới hạn theo xã / "
                                                  "only a viewer or a commune account is limited to communes");
    }
    sqlite3_finalize(q);
    return rc;
}

/* The account behind the request's session token, quietly: false when there
 * is no token or no live session for it (*internal: the database failed). */
static bool ts__session_lookup(ts_admin__job *j, ts_store *st, bool *internal)
{
    *internal = false;
    if (j->token[0] == '\0')
        return false;
    char hash[65];
    ts__sha256_hex(j->token, hash);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT s.username, u.role, u.communes FROM admin_sessions s JOIN admin_users u"
                           " ON u.username = s.username WHERE s.token_hash = ?1 AND s.expires_at > ?2"
                           " AND u.disabled = 0",
                           -1, &q, NULL) != SQLITE_OK) {
        *internal = true;
        return false;
    }
    sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)j->now_ms);
    bool ok = sqlite3_step(q) == SQLITE_ROW;
    if (ok) {
        snprintf(j->user, sizeof j->user, "%s", (const char *)sqlite3_column_text(q, 0));
        const char *role = (const char *)sqlite3_column_text(q, 1);
        const char *communes = (const char *)sqlite3_column_text(q, 2);
        j->role = ts_admin_role_rank(role);
        snprintf(j->role_name, sizeof j->role_name, "%s", role ? role : "");
        snprintf(j->communes, sizeof j->communes, "%s", communes ? communes : "");
        j->scope = ts_admin__role_scope(role, j->communes);
    }
    sqlite3_finalize(q);
    return ok;
}

/* Who is asking: an admin certificate, or a session token. */
bool ts_admin__authenticate(ts_admin__job *j, ts_store *st)
{
    if (j->has_cert) {
        /* a certificate names no commune: admin-commune is refused */
        if (strncmp(j->cert.ou, "admin-", 6) == 0 && ts_admin_role_rank(j->cert.ou + 6) > 0 &&
            strcmp(j->cert.ou + 6, "commune") != 0) {
            j->role = ts_admin_role_rank(j->cert.ou + 6);
            snprintf(j->role_name, sizeof j->role_name, "%s", j->cert.ou + 6);
            j->scope = ts_admin__role_scope(j->role_name, "");
            snprintf(j->user, sizeof j->user, "cert:%.100s", j->cert.cn);
            return true;
        }
        ts_admin__fail(j, 403, "FORBIDDEN", "this certificate is not an admin certificate");
        return false;
    }
    if (j->token[0] == '\0') {
        ts_admin__fail(j, 401, "UNAUTHENTICATED", "log in first (POST /api/login) or use an admin certificate");
        return false;
    }
    bool internal;
    if (ts__session_lookup(j, st, &internal))
        return true;
    if (internal)
        ts_admin__fail(j, 500, "INTERNAL", "internal error");
    else
        ts_admin__fail(j, 401, "UNAUTHENTICATED", "the session has expired or does not exist: log in again");
    return false;
}

/* ---------------------------------------------------------------- endpoints: session */

/* The session of a login and its audit entry, inside the caller's
 * transaction; expired sessions go as new ones come. */
static int ts__save_session(ts_admin__job *j, ts_store *st, const char *user, const char *role, const char *hash,
                            uint64_t expires, ts_error *err)
{
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO admin_sessions(token_hash, username, role, created_at, expires_at, peer)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &q, NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "%s", sqlite3_errmsg(db));
    sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, role, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, (sqlite3_int64)j->now_ms);
    sqlite3_bind_int64(q, 5, (sqlite3_int64)expires);
    sqlite3_bind_text(q, 6, j->peer, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : ts_error_set(err, TS_ESTORAGE, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    if (rc < 0)
        return rc;
    if (sqlite3_prepare_v2(db, "DELETE FROM admin_sessions WHERE expires_at < ?1", -1, &q, NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "%s", sqlite3_errmsg(db));
    sqlite3_bind_int64(q, 1, (sqlite3_int64)j->now_ms);
    rc = sqlite3_step(q) == SQLITE_DONE ? 0 : ts_error_set(err, TS_ESTORAGE, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    if (rc == 0 && ts_admin__audit(j, st, "login", NULL, NULL, "ok", role) < 0)
        rc = ts_error_set(err, TS_ESTORAGE, "the audit entry could not be stored");
    return rc;
}

void ts_admin__api_login(ts_admin__job *j, ts_store *st)
{
    const char *given = ts_admin__str(j->body, "username"), *pass = ts_admin__str(j->body, "password");
    if (!given[0] || !pass[0]) {
        ts_admin__fail(j, 400, "BAD_REQUEST", "username and password are required");
        return;
    }
    /* names are kept in lowercase: "Admin" is "admin" */
    char user[TS_ACCOUNT_NAME_MAX + 1];
    ts_account_name_fold(given, user, sizeof user);
    snprintf(j->user, sizeof j->user, "%s", user);
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT password, role, disabled FROM admin_users WHERE username = ?1", -1, &q, NULL) !=
        SQLITE_OK) {
        ts_admin__fail(j, 500, "INTERNAL", "internal error");
        return;
    }
    sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    bool found = strlen(given) <= TS_ACCOUNT_NAME_MAX && sqlite3_step(q) == SQLITE_ROW;
    char encoded[256] = "", role[16] = "";
    int64_t disabled = 0;
    if (found) {
        snprintf(encoded, sizeof encoded, "%s", (const char *)sqlite3_column_text(q, 0));
        snprintf(role, sizeof role, "%s", (const char *)sqlite3_column_text(q, 1));
        disabled = sqlite3_column_int64(q, 2);
    }
    sqlite3_finalize(q);
    const ts_server_config *cfg = ts_server_get_config(j->adm->srv);
    /* Unknown names cost the same time and get the same answer as wrong
     * passwords; repeated failures are throttled by address, not account
     * (server/admin/ts_admin_guard.c), so neither tells which names exist. */
    static const char dummy[] = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
                                "2Xr6PDQcZpWRTPVsRSmhLnULDt48Ou3L8k9cAo3Lt3s";
    bool ok = argon2id_verify(found ? encoded : dummy, pass, strlen(pass)) == ARGON2_OK && found && !disabled;
    if (!ok) {
        /* the answer stays 401 even if its audit entry cannot be written (a
         * full disk): a 500 would not count as a failure for the guard, and
         * guessing would go unthrottled while the disk is full */
        ts_admin__audit(j, st, "login", NULL, NULL, "failed", NULL);
        ts_log_warn("admin_login_failed", "user=%s peer=%s", user, j->peer);
        ts_admin__fail(j, 401, "BAD_CREDENTIALS", "wrong user name or password");
        return;
    }
    unsigned char rnd[32];
    RAND_bytes(rnd, sizeof rnd);
    char token[65], hash[65];
    for (int i = 0; i < 32; i++)
        snprintf(token + 2 * i, 3, "%02x", rnd[i]);
    ts__sha256_hex(token, hash);
    uint64_t expires = j->now_ms + cfg->admin_session_ttl_ms;
    /* a token is handed out only once its session, and the audit entry of
     * the login, are stored (one transaction: both or neither) */
    ts_error err;
    ts_error_clear(&err);
    if (ts_store_begin(st, &err) < 0 || ts__save_session(j, st, user, role, hash, expires, &err) < 0 ||
        ts_store_commit(st, &err) < 0) {
        ts_store_rollback(st);
        ts_log_error("admin_login_not_saved", "user=%s reason=%s", user, err.msg);
        ts_admin__fail(j, 500, "STORAGE", "the login could not be saved: try again");
        return;
    }
    j->role = ts_admin_role_rank(role);
    ts_log_info("admin_login", "user=%s role=%s peer=%s", user, role, j->peer);
    snprintf(j->headers, sizeof j->headers,
             "Set-Cookie: ts_session=%s; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=%" PRIu64 "\r\n", token,
             cfg->admin_session_ttl_ms / 1000);
    ts_admin__ok(j, 200, json_pack("{s:s,s:s,s:s,s:I}", "token", token, "user", user, "role", role, "expires_at_ms",
                                   (json_int_t)expires));
}

void ts_admin__api_logout(ts_admin__job *j, ts_store *st)
{
    /* a logout that could not be stored says so: the session stays valid,
     * and a client told "logged out" would leave it open unknowingly */
    ts_error err;
    int rc = ts_store_begin(st, &err);
    if (rc == 0 && j->token[0]) {
        char hash[65];
        ts__sha256_hex(j->token, hash);
        sqlite3_stmt *q;
        rc = -1;
        if (sqlite3_prepare_v2(ts_store_db(st), "DELETE FROM admin_sessions WHERE token_hash = ?1", -1, &q, NULL) ==
            SQLITE_OK) {
            sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
            rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
            sqlite3_finalize(q);
        }
    }
    if (rc == 0)
        rc = ts_admin__audit(j, st, "logout", NULL, NULL, "ok", NULL);
    if (rc == 0)
        rc = ts_store_commit(st, &err);
    if (rc < 0) {
        ts_store_rollback(st);
        ts_admin__fail_storage(j, "the logout");
        return;
    }
    snprintf(j->headers, sizeof j->headers, "Set-Cookie: ts_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0\r\n");
    ts_admin__ok(j, 200, json_pack("{s:b}", "ok", 1));
}

/* GET /api/session (no login needed): whether the request carries a live
 * session, and whose, always 200, so a page can ask before it has logged in
 * without a 401 in the browser's console. */
void ts_admin__api_session(ts_admin__job *j, ts_store *st)
{
    bool internal = false, ok;
    if (j->has_cert) {
        ok = strncmp(j->cert.ou, "admin-", 6) == 0 && ts_admin_role_rank(j->cert.ou + 6) > 0 &&
             strcmp(j->cert.ou + 6, "commune") != 0;
        if (ok) {
            j->role = ts_admin_role_rank(j->cert.ou + 6);
            snprintf(j->role_name, sizeof j->role_name, "%s", j->cert.ou + 6);
            snprintf(j->user, sizeof j->user, "cert:%.100s", j->cert.cn);
        }
    } else {
        ok = ts__session_lookup(j, st, &internal);
    }
    if (internal) {
        ts_admin__fail(j, 500, "INTERNAL", "internal error");
        return;
    }
    if (!ok) {
        ts_admin__ok(j, 200, json_pack("{s:b}", "signed_in", 0));
        return;
    }
    ts_admin__ok(j, 200,
                 json_pack("{s:b,s:s,s:s,s:b,s:s}", "signed_in", 1, "user", j->user, "role", ts_admin__job_role(j),
                           "certificate", j->has_cert, "communes", j->communes));
}

/* GET /api/me: who, as what, and for a scoped account its communes and
 * their stations (the console builds a commune's menu from them). */
void ts_admin__api_me(ts_admin__job *j, ts_store *st)
{
    (void)st;
    json_t *stations = json_array();
    for (size_t i = 0; i < j->scope_stations.n; i++)
        json_array_append_new(stations, json_string(j->scope_stations.v[i]));
    static const char *const scopes[] = {"district", "communes", "monitor"};
    ts_admin__ok(j, 200,
                 json_pack("{s:s,s:s,s:b,s:s,s:s,s:o}", "user", j->user, "role", ts_admin__job_role(j), "certificate",
                           j->has_cert, "scope", scopes[j->scope], "communes", j->communes, "stations", stations));
}

/* ---------------------------------------------------------------- endpoints: users */

void ts_admin__api_users(ts_admin__job *j, ts_store *st)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT username, role, full_name, created_at, disabled, communes FROM admin_users"
                           " ORDER BY username",
                           -1, &q, NULL) != SQLITE_OK) {
        ts_admin__fail(j, 500, "INTERNAL", "internal error");
        return;
    }
    json_t *arr = json_array();
    while (sqlite3_step(q) == SQLITE_ROW)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:I,s:b,s:s}", "username", sqlite3_column_text(q, 0),
                                             "role", sqlite3_column_text(q, 1), "full_name", sqlite3_column_text(q, 2),
                                             "created_at_ms", (json_int_t)sqlite3_column_int64(q, 3), "disabled",
                                             sqlite3_column_int(q, 4), "communes", sqlite3_column_text(q, 5)));
    sqlite3_finalize(q);
    ts_admin__ok(j, 200, json_pack("{s:o}", "users", arr));
}

void ts_admin__api_user_set(ts_admin__job *j, ts_store *st)
{
    const char *given = j->params[0][0] ? j->params[0] : ts_admin__str(j->body, "username");
    const char *password = json_string_value(json_object_get(j->body, "password"));
    const char *role = json_string_value(json_object_get(j->body, "role"));
    if (!j->params[0][0] && (password == NULL || role == NULL)) {
        ts_admin__fail(j, 400, "BAD_REQUEST", "a new user needs username, password and role");
        return;
    }
    char name[TS_ACCOUNT_NAME_MAX + 1];
    ts_account_name_fold(given, name, sizeof name);
    /* changing one's own password keeps the session it was changed from */
    char keep[65] = "";
    if (j->token[0] && strcmp(j->user, name) == 0)
        ts__sha256_hex(j->token, keep);
    /* the account, its sessions ended and the audit entry: all stored, or
     * nothing changed */
    ts_error err;
    const json_t *disabled = json_object_get(j->body, "disabled");
    char detail[64];
    snprintf(detail, sizeof detail, "%s%s", role ? role : "updated", password ? ", new password" : "");
    int rc = ts_store_begin(st, &err);
    if (rc == 0)
        rc = ts_admin_user_set(st, given, password, role, json_string_value(json_object_get(j->body, "full_name")),
                               keep[0] ? keep : NULL, &err);
    const json_t *communes = json_object_get(j->body, "communes");
    if (rc == 0 && communes != NULL) {
        if (!json_is_string(communes))
            rc = ts_error_set(&err, TS_EBAD_VALUE, "communes is a text of commune codes, comma-separated");
        else
            rc = ts_admin_user_set_communes(st, name, json_string_value(communes), &err);
    }
    if (rc == 0)
        rc = ts_admin_user_check_scope(st, name, &err);
    if (rc == 0 && json_is_boolean(disabled)) {
        sqlite3_stmt *q;
        rc = ts_error_set(&err, TS_ESTORAGE, "cannot disable the user");
        if (sqlite3_prepare_v2(ts_store_db(st), "UPDATE admin_users SET disabled = ?2 WHERE username = ?1", -1, &q,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_int(q, 2, json_is_true(disabled));
            if (sqlite3_step(q) == SQLITE_DONE)
                rc = 0;
            sqlite3_finalize(q);
        }
        if (rc == 0 && json_is_true(disabled))
            rc = ts__end_sessions(st, name, NULL, &err);
    }
    if (rc == 0 && ts_admin__audit(j, st, "user", "admin_users", name, "ok", detail) < 0)
        rc = ts_error_set(&err, TS_ESTORAGE, "the audit entry could not be stored");
    if (rc == 0)
        rc = ts_store_commit(st, &err);
    if (rc < 0) {
        ts_store_rollback(st);
        ts_admin__fail_err(j, &err);
        return;
    }
    /* the event streams of sessions that just ended close too */
    if (password != NULL || json_is_true(disabled))
        snprintf(j->end_streams_of, sizeof j->end_streams_of, "%s", name);
    ts_admin__ok(j, j->params[0][0] ? 200 : 201, json_pack("{s:s,s:s}", "username", name, "result", "saved"));
}
