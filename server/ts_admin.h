/* The admin API: a second listener of tramsyncd on the same loop, HTTPS and
 * JSON only, the one way into the district's data for the console and
 * tramsyncctl (docs/ADMIN-API.md). Admins authenticate with an admin client
 * certificate or an account (argon2id password, session with expiry,
 * lockout after repeated failures). Roles: viewer < operator (notices,
 * conflicts) < admin (stations, users, audit). */
#ifndef TS_ADMIN_H
#define TS_ADMIN_H

#include "common/ts_error.h"
#include "server/ts_server.h"

typedef struct ts_admin ts_admin;

int ts_admin_start(ts_admin **out, ts_server *srv, ts_error *err);
int ts_admin_reload(ts_admin *a, ts_error *err);
int ts_admin_port(ts_admin *a);
void ts_admin_stop(ts_admin *a, void (*done)(void *arg), void *arg);
/* Tells open event streams (the console) that something changed. */
void ts_admin_event(ts_admin *a, const char *event, const char *json);
/* Records were committed (a station's push, an admin's write): cases and
 * epidemic reports among them are looked at at once (one scan at a time). */
void ts_admin_store_changed(ts_admin *a);
/* A station's push committed periodic reports (their ids): they are graded
 * at once (server/admin/ts_admin_calendar.c, one run at a time). */
struct ts_strlist;
void ts_admin_reports_changed(ts_admin *a, const struct ts_strlist *ids);

/* Accounts, used by `tramsyncd --add-user` as well as the API. The name
 * follows ts_account_name_problem and is kept in lowercase. A new password
 * ends every login session of the account but the one whose token hash is
 * keep_session (NULL: all of them). */
int ts_admin_user_set(ts_store *st, const char *username, const char *password, const char *role,
                      const char *full_name, const char *keep_session, ts_error *err);
/* The communes an account is limited to: commune codes (stations.
 * commune_code) or station codes, comma-separated ("": none). A commune
 * account needs exactly one, a viewer may have any; the admin API checks
 * the role and communes together. */
int ts_admin_user_set_communes(ts_store *st, const char *username, const char *communes, ts_error *err);
/* The account's role and communes agree: a commune account has exactly one
 * commune, a viewer any, the other roles none (TS_EBAD_VALUE says why). */
int ts_admin_user_check_scope(ts_store *st, const char *username, ts_error *err);
/* 1 viewer (and commune, monitor: a viewer's rank, narrowed by their
 * scope), 2 operator, 3 admin; 0 when not a role. */
int ts_admin_role_rank(const char *role);

#endif
