/* The provincial plan as data: the plan in force and every version loaded
 * (GET /api/plan), loading a plan file (POST /api/plan, admin role), and
 * setting a task aside as not applicable (POST /api/tasks/{id}/not-applicable):
 * each in one transaction with its audit entry, or nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/admin/ts_admin_int.h"
#include "server/ts_plan.h"

void ts_admin__api_plan(ts_admin__job *j, ts_store *st)
{
    ts_plan_info info;
    ts_error err;
    json_t *history = NULL;
    if (ts_plan_current(st, &info, NULL, &err) < 0 || ts_plan_history(st, &history, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    json_t *cur = json_null();
    if (info.version)
        cur = json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:s}", "version", (json_int_t)info.version, "name", info.name,
                        "issuer", info.issuer, "date", info.date, "notes", info.notes, "loaded_at_ms",
                        (json_int_t)info.loaded_at_ms, "loaded_by", info.loaded_by);
    ts_admin__ok(j, 200, json_pack("{s:o,s:o,s:o}", "plan", cur, "history", history, "not_applicable",
                                   ts_plan_task_na_all(st)));
}

/* GET /api/plan/versions/{version}: one version as it was loaded, with its
 * targets and tasks, so that the console can show an earlier plan and what
 * changed since. */
void ts_admin__api_plan_version(ts_admin__job *j, ts_store *st)
{
    char *end;
    long long v = strtoll(j->params[0], &end, 10);
    if (*j->params[0] == '\0' || *end != '\0' || v < 1) {
        ts_admin__fail(j, 404, "NOT_FOUND", "không có phiên bản này / no such version");
        return;
    }
    json_t *out;
    ts_error err;
    if (ts_plan_version(st, v, &out, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    ts_admin__ok(j, 200, out);
}

/* POST /api/plan {"plan": {...the file...}, "file": "name.json"}: a
 * malformed plan is 422 with the field and what is wrong with it; a version
 * not above the one in force 409; the same file again 200, unchanged. */
void ts_admin__api_plan_load(ts_admin__job *j, ts_store *st)
{
    const json_t *doc = json_object_get(j->body, "plan");
    if (!json_is_object(doc)) {
        ts_admin__fail(j, 400, "BAD_REQUEST", "body must hold \"plan\": {...} (the plan file, docs/PLANS.md)");
        return;
    }
    const char *file = ts_admin__str(j->body, "file");
    char *text = json_dumps(doc, JSON_COMPACT);
    ts_actor a = ts_admin__actor(j);
    ts_plan_load_result res;
    memset(&res, 0, sizeof res);
    ts_error err;
    char detail[256];
    int rc = ts_store_begin(st, &err);
    if (rc == 0)
        rc = ts_plan_load(st, &a, text, strlen(text), j->now_ms, &res, &err);
    free(text);
    if (rc == 0) {
        snprintf(detail, sizeof detail, "version=%lld previous=%lld file=%.120s%s", (long long)res.version,
                 (long long)res.previous, file, res.unchanged ? " unchanged" : "");
        /* the record: the plan's version (plans is no registry table) */
        char version[32];
        snprintf(version, sizeof version, "%lld", (long long)res.version);
        if (ts_admin__audit(j, st, "load_plan", NULL, version, res.unchanged ? "unchanged" : "ok", detail) < 0)
            rc = ts_error_set(&err, TS_ESTORAGE, "the audit entry could not be stored");
    }
    if (rc == 0)
        rc = ts_store_commit(st, &err);
    else
        ts_store_rollback(st);
    if (rc < 0) {
        if (res.not_newer)
            ts_admin__fail(j, 409, "PLAN_VERSION_NOT_NEWER", err.msg);
        else
            ts_admin__fail_err(j, &err);
        return;
    }
    if (!res.unchanged) {
        /* the tasks are district records every station receives */
        j->notify_all = true;
        ts_admin__set_event(j, "plan", json_pack("{s:I}", "version", (json_int_t)res.version));
    }
    ts_admin__ok(j, 200,
                 json_pack("{s:I,s:I,s:b,s:I,s:I,s:I}", "version", (json_int_t)res.version, "previous",
                           (json_int_t)res.previous, "unchanged", res.unchanged, "targets", (json_int_t)res.targets,
                           "tasks", (json_int_t)res.tasks, "removed", (json_int_t)res.removed));
}

/* POST /api/tasks/{id}/not-applicable {"reason": "..."} sets a task aside
 * (its lead body no longer exists: the district level, gone since July
 * 2025), so it is not flagged overdue; {"applicable": true} takes it back. */
void ts_admin__api_task_na(ts_admin__job *j, ts_store *st)
{
    bool back = json_is_true(json_object_get(j->body, "applicable"));
    const char *reason = ts_admin__str(j->body, "reason");
    if (!back && (reason[0] == '\0' || strlen(reason) > 1000)) {
        ts_admin__fail(j, 400, "BAD_REQUEST",
                       "Cần nêu lý do không áp dụng (\"reason\", tối đa 1000 byte) / a reason is needed (\"reason\", at "
                       "most 1000 bytes)");
        return;
    }
    ts_error err;
    int rc = ts_store_begin(st, &err);
    if (rc == 0)
        rc = ts_plan_task_set_na(st, j->params[0], back ? NULL : reason, j->user, j->now_ms, &err);
    if (rc == 0 && ts_admin__audit(j, st, back ? "task_applicable" : "task_not_applicable", "plan_tasks", j->params[0],
                                   "ok", back ? NULL : reason) < 0)
        rc = ts_error_set(&err, TS_ESTORAGE, "the audit entry could not be stored");
    if (rc == 0)
        rc = ts_store_commit(st, &err);
    else
        ts_store_rollback(st);
    if (rc < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    ts_admin__set_event(j, "task", json_pack("{s:s}", "id", j->params[0]));
    ts_admin__ok(j, 200, json_pack("{s:s,s:b}", "task", j->params[0], "not_applicable", !back));
}
