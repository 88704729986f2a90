/* Accounts that see less than the district (issue 18): the `commune` role,
 * a commune UBND's officer, sees only its commune - its station's status,
 * the notices and tasks addressed to it, their progress, its targets - and
 * no personal health record anywhere; a viewer may be limited to chosen
 * communes the same way; a `monitor` (Prometheus, an uptime check) reads
 * health and metrics and nothing else.
 *
 * It is enforced in one place, not endpoint by endpoint: the route table
 * says which routes such accounts reach at all (TS_ADMIN_OPEN_*; none by
 * default, so a new route is closed to them), a {code} parameter and a
 * `station` query parameter must be in scope before any handler runs, the
 * station list every page is built from (ts_admin__collect_stations) holds
 * only the stations in scope, and whatever a handler answers passes a filter
 * that drops every element naming a station out of scope. The handlers of
 * the open routes add what only they know (a notice addressed elsewhere is
 * 404; counts cover the stations in scope). */
#include <string.h>

#include <sqlite3.h>

#include "common/ts_log.h"
#include "common/ts_xmalloc.h"
#include "server/admin/ts_admin_int.h"
#include "server/ts_commune_ack.h"

int ts_admin__role_scope(const char *role, const char *communes)
{
    if (role == NULL)
        return TS_ADMIN_SCOPE_ALL;
    if (strcmp(role, "monitor") == 0)
        return TS_ADMIN_SCOPE_MONITOR;
    /* a commune account without its commune sees nothing, not everything */
    if (strcmp(role, "commune") == 0 || (strcmp(role, "viewer") == 0 && communes && communes[0]))
        return TS_ADMIN_SCOPE_COMMUNES;
    return TS_ADMIN_SCOPE_ALL;
}

const char *ts_admin__job_role(const ts_admin__job *j)
{
    return j->role_name[0] ? j->role_name : ts_admin__role_name(j->role);
}

/* The stations of the account's communes: those whose commune_code (or own
 * code) is listed. */
static void ts__scope_stations(ts_admin__job *j, ts_store *st)
{
    ts_admin__dir_load(j->adm, st);
    for (size_t i = 0; i < j->adm->ndir; i++) {
        const ts_admin__dir_entry *e = &j->adm->dir[i];
        const char *cc = ts_admin__str(e->fields, "commune_code");
        if (ts_commune_listed(j->communes, e->code) || (cc[0] && ts_commune_listed(j->communes, cc)))
            ts_strlist_add(&j->scope_stations, e->code);
    }
}

bool ts_admin__in_scope(const ts_admin__job *j, const char *station)
{
    if (j->scope == TS_ADMIN_SCOPE_ALL)
        return true;
    if (j->scope == TS_ADMIN_SCOPE_MONITOR || station == NULL)
        return false;
    for (size_t i = 0; i < j->scope_stations.n; i++)
        if (strcmp(j->scope_stations.v[i], station) == 0)
            return true;
    return false;
}

static void ts__refuse(ts_admin__job *j, ts_store *st, const char *why)
{
    ts_admin__audit(j, st, "denied", NULL, j->route->pattern, "forbidden", ts_admin__job_role(j));
    ts_log_warn("admin_forbidden", "user=%s role=%s route=%s", j->user, ts_admin__job_role(j), j->route->pattern);
    ts_admin__fail(j, 403, "FORBIDDEN", why);
}

bool ts_admin__scope_admit(ts_admin__job *j, ts_store *st)
{
    if (j->scope == TS_ADMIN_SCOPE_ALL)
        return true;
    int need = j->scope == TS_ADMIN_SCOPE_MONITOR ? TS_ADMIN_OPEN_MONITOR : TS_ADMIN_OPEN_COMMUNE;
    if ((j->route->open & need) == 0) {
        ts__refuse(j, st,
                   j->scope == TS_ADMIN_SCOPE_MONITOR
                       ? "a monitor account reads /api/health and /metrics only"
                       : "an account limited to communes cannot use this (it covers the whole district or personal "
                         "records)");
        return false;
    }
    if (j->scope == TS_ADMIN_SCOPE_COMMUNES)
        ts__scope_stations(j, st);
    /* a station named in the path or the query must be one of theirs: 404,
     * as for a station that does not exist, so codes cannot be probed */
    char station[TS_KEY_MAX + 1] = "";
    if (strstr(j->route->pattern, "{code}") != NULL)
        snprintf(station, sizeof station, "%s", j->params[0]);
    else
        ts_admin__q(j, "station", station, sizeof station);
    if (station[0] && !ts_admin__in_scope(j, station)) {
        ts_admin__fail(j, 404, "NOT_FOUND", "no such station");
        return false;
    }
    return true;
}

/* Drops, at any depth, the array elements that are objects naming a station
 * out of scope. */
static void ts__filter(const ts_admin__job *j, json_t *v, int depth)
{
    if (depth > 16)
        return;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
            ts__filter(j, x, depth + 1);
    } else if (json_is_array(v)) {
        for (size_t i = json_array_size(v); i-- > 0;) {
            json_t *x = json_array_get(v, i);
            const json_t *s = json_object_get(x, "station");
            if (json_is_string(s) && !ts_admin__in_scope(j, json_string_value(s)))
                json_array_remove(v, i);
            else
                ts__filter(j, x, depth + 1);
        }
    }
}

void ts_admin__scope_filter(ts_admin__job *j)
{
    if (j->scope == TS_ADMIN_SCOPE_ALL || j->resp == NULL || j->status >= 300)
        return;
    ts__filter(j, j->resp, 0);
}

/* ---------------------------------------------------------------- notices */

static bool ts__names_scope(const ts_admin__job *j, const json_t *list)
{
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s) {
        const char *code = json_string_value(s);
        if (code && (strcmp(code, "*") == 0 || ts_admin__in_scope(j, code)))
            return true;
    }
    return false;
}

bool ts_admin__scope_notice(const ts_admin__job *j, json_t *fields)
{
    if (j->scope == TS_ADMIN_SCOPE_ALL)
        return true;
    if (!ts__names_scope(j, json_object_get(fields, "recipients")))
        return false;
    /* "Nơi nhận" shows the commune its own station, not who else got it */
    json_t *mine = json_array();
    for (size_t i = 0; i < j->scope_stations.n; i++)
        json_array_append_new(mine, json_string(j->scope_stations.v[i]));
    json_object_set_new(fields, "recipients", mine);
    json_object_del(fields, "communes");
    return true;
}

/* POST /api/notices/{id}/commune-ack {"by": PERSON_ID or name}: the commune
 * UBND says it has the copy. Only a commune account does it (nobody speaks
 * for the UBND), only for a notice copied to the UBND and addressed to its
 * commune; once per notice and commune (again: 200, the first one kept). */
void ts_admin__api_notice_commune_ack(ts_admin__job *j, ts_store *st)
{
    if (strcmp(ts_admin__job_role(j), "commune") != 0) {
        ts_admin__fail(j, 403, "FORBIDDEN", "only a commune account acknowledges for its UBND");
        return;
    }
    json_t *n;
    ts_error err;
    if (ts_notice_summary(st, j->params[0], &n, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    json_t *f = json_object_get(n, "fields");
    bool mine = ts__names_scope(j, json_object_get(f, "recipients"));
    bool cc = json_is_true(json_object_get(f, "cc_commune_committee"));
    bool recalled = json_object_get(f, "recalled_at") != NULL;
    json_decref(n);
    if (!mine) {
        ts_admin__fail(j, 404, "NOT_FOUND", "no such notice");
        return;
    }
    if (!cc || recalled) {
        ts_admin__fail(j, 409, "CONFLICT",
                       recalled ? "the notice was recalled" : "this notice was not copied to the commune's UBND");
        return;
    }
    const char *by = ts_admin__str(j->body, "by");
    char person[TS_KEY_MAX + 1] = "";
    if (by[0] && ts_people_resolve(st, by, person, sizeof person, NULL, 0) < 0) {
        ts_admin__fail(j, 422, "BAD_VALUE", "by: no such person in the directory (people)");
        return;
    }
    sqlite3_stmt *q;
    int rc = -1;
    if (ts_store_begin(st, &err) == 0 &&
        sqlite3_prepare_v2(ts_store_db(st),
                           "INSERT INTO commune_acks(notice_id, commune, username, person, acknowledged_at)"
                           " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, j->params[0], -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, j->communes, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, j->user, -1, SQLITE_STATIC);
        if (person[0])
            sqlite3_bind_text(q, 4, person, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 5, (sqlite3_int64)j->now_ms);
        rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
        bool first = rc == 0 && sqlite3_changes(ts_store_db(st)) > 0;
        sqlite3_finalize(q);
        /* the commune's station sees it on its handling record of the notice */
        if (rc == 0 && first) {
            ts_actor who = ts_admin__actor(j);
            rc = ts_commune_ack_mirror(st, &who, j->params[0], &j->scope_stations, person[0] ? person : NULL, j->user,
                                       j->now_ms, NULL, &err);
        }
        if (rc == 0)
            rc = ts_admin__audit(j, st, "commune_ack", "notices", j->params[0], "ok", j->communes);
        if (rc == 0)
            rc = ts_store_commit(st, &err);
    }
    if (rc < 0) {
        ts_store_rollback(st);
        ts_admin__fail_storage(j, "the acknowledgement");
        return;
    }
    ts_log_info("notice_commune_ack", "id=%s commune=%s by=%s", j->params[0], j->communes, j->user);
    ts_admin__set_event(j, "notice", json_pack("{s:s,s:s}", "id", j->params[0], "state", "commune_ack"));
    ts_admin__ok(j, 200, json_pack("{s:s,s:s,s:s}", "id", j->params[0], "commune", j->communes, "result",
                                   "acknowledged"));
}

/* The UBND's acknowledgement of a notice, for the commune's own account
 * (null when none). */
json_t *ts_admin__commune_ack(const ts_admin__job *j, ts_store *st, const char *notice)
{
    sqlite3_stmt *q;
    json_t *r = json_null();
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT username, person, acknowledged_at FROM commune_acks WHERE notice_id = ?1"
                           " AND commune = ?2",
                           -1, &q, NULL) != SQLITE_OK)
        return r;
    sqlite3_bind_text(q, 1, notice, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, j->communes, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
        json_decref(r);
        r = json_pack("{s:s,s:I}", "user", (const char *)sqlite3_column_text(q, 0), "at_ms",
                      (json_int_t)sqlite3_column_int64(q, 2));
        if (sqlite3_column_text(q, 1))
            json_object_set_new(r, "person", json_string((const char *)sqlite3_column_text(q, 1)));
    }
    sqlite3_finalize(q);
    return r;
}

/* A notice's or task's handling records cut to the account's stations, and
 * their counts over those only (nothing of another commune, not even as a
 * number); for a commune account, its UBND's acknowledgement beside. */
void ts_admin__scope_recipients(const ts_admin__job *j, ts_store *st, json_t *o)
{
    if (j->scope == TS_ADMIN_SCOPE_ALL)
        return;
    json_t *recips = json_object_get(o, "recipients");
    json_t *counts = json_object();
    for (size_t i = json_array_size(recips); i-- > 0;) {
        json_t *r = json_array_get(recips, i);
        if (!ts_admin__in_scope(j, ts_admin__str(r, "station"))) {
            json_array_remove(recips, i);
            continue;
        }
        const char *keys[] = {ts_admin__str(r, "state"),
                              json_is_true(json_object_get(r, "overdue")) ? "overdue" : NULL,
                              json_object_get(r, "escalated_at") ? "escalated" : NULL};
        for (size_t k = 0; k < 3; k++) {
            if (keys[k] == NULL || !keys[k][0])
                continue;
            json_t *c = json_object_get(counts, keys[k]);
            json_object_set_new(counts, keys[k], json_integer(c ? json_integer_value(c) + 1 : 1));
        }
    }
    json_object_set_new(o, "counts", counts);
    if (strcmp(ts_admin__job_role(j), "commune") == 0) {
        const char *id = ts_admin__str(o, "id");
        json_object_set_new(o, "commune_ack", ts_admin__commune_ack(j, st, id));
    }
}
