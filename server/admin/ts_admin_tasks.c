/* The plan's tasks and their assignment to stations, with each task's
 * progress as the stations report it. */
#include <string.h>

#include "common/ts_recjson.h"
#include "common/ts_task_periods.h"
#include "server/admin/ts_admin_int.h"
#include "server/ts_plan.h"

void ts_admin__api_tasks(ts_admin__job *j, ts_store *st)
{
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    json_t *arr = json_array();
    json_t *na = ts_plan_task_na_all(st);
    if (ts_store_list(st, "plan_tasks", NULL, 1000, false, &page, &err) < 0) {
        ts_change_page_free(&page);
        json_decref(arr);
        json_decref(na);
        ts_admin__fail_err(j, &err);
        return;
    }
    for (uint32_t i = 0; i < page.n; i++) {
        json_t *o = ts_recjson_record(&page.items[i], false);
        /* set aside by the district, with why: never overdue */
        json_t *why = json_object_get(na, page.items[i].id);
        json_object_set_new(o, "not_applicable", why ? json_incref(why) : json_null());
        json_t *detail;
        if (ts_task_show(st, page.items[i].id, &detail, &err) == 0) {
            json_t *counts = json_object();
            size_t k;
            json_t *a;
            json_int_t percent_sum = 0, done = 0, assigned = 0;
            /* a recurring task is done period by period: its progress is the
             * current period's, and a station with a past period not done
             * counts as overdue */
            json_t *periods = ts_task_periods(st, detail, j->now_ms);
            json_array_foreach(json_object_get(detail, "assignments"), k, a) {
                /* a commune's account counts its own stations only */
                if (!ts_admin__in_scope(j, ts_admin__str(a, "station")))
                    continue;
                const char *state = ts_admin__str(a, "state");
                bool is_done = strcmp(state, "done") == 0, late = json_is_true(json_object_get(a, "overdue"));
                json_int_t pct = json_integer_value(json_object_get(a, "percent"));
                if (periods) {
                    long long p = 0;
                    bool behind = false;
                    ts_task_periods_standing(periods, ts_admin__str(a, "station"), &is_done, &p, &behind);
                    pct = (json_int_t)p;
                    late = late || behind;
                }
                assigned++;
                done += is_done;
                percent_sum += is_done ? 100 : pct;
                json_t *c = json_object_get(counts, state);
                json_object_set_new(counts, state, json_integer(c ? json_integer_value(c) + 1 : 1));
                if (late) {
                    json_t *ov = json_object_get(counts, "overdue");
                    json_object_set_new(counts, "overdue", json_integer(ov ? json_integer_value(ov) + 1 : 1));
                }
            }
            json_object_set_new(o, "assignment_counts", counts);
            /* progress: the mean of each station's percent (done = 100) */
            json_object_set_new(o, "progress", json_pack("{s:I,s:I,s:I}", "assigned", assigned, "done", done, "percent",
                                                         assigned ? percent_sum / assigned : (json_int_t)0));
            if (periods)
                json_object_set(json_object_get(o, "progress"), "period", json_object_get(periods, "current"));
            json_decref(periods);
            json_decref(detail);
            /* nor sees the tasks not assigned to them */
            if (assigned == 0 && j->scope != TS_ADMIN_SCOPE_ALL) {
                json_decref(o);
                continue;
            }
        } else if (j->scope != TS_ADMIN_SCOPE_ALL) {
            json_decref(o);
            continue;
        }
        json_array_append_new(arr, o);
    }
    ts_change_page_free(&page);
    json_decref(na);
    ts_admin__ok(j, 200, json_pack("{s:o}", "tasks", arr));
}

void ts_admin__api_task(ts_admin__job *j, ts_store *st)
{
    json_t *o;
    ts_error err;
    if (ts_task_show(st, j->params[0], &o, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    json_t *as = json_object_get(o, "assignments");
    for (size_t i = json_array_size(as); i-- > 0;)
        if (!ts_admin__in_scope(j, ts_admin__str(json_array_get(as, i), "station")))
            json_array_remove(as, i);
    if (j->scope != TS_ADMIN_SCOPE_ALL && json_array_size(as) == 0) {
        json_decref(o);
        ts_admin__fail(j, 404, "NOT_FOUND", "no such task");
        return;
    }
    ts_admin__add_station_names(j->adm, st, as);
    ts_admin__people_task(j, st, o);
    json_t *na = ts_plan_task_na_all(st);
    json_t *why = json_object_get(na, j->params[0]);
    json_object_set_new(o, "not_applicable", why ? json_incref(why) : json_null());
    json_decref(na);
    /* a recurring task: its progress period by period, per station */
    json_t *periods = ts_task_periods(st, o, j->now_ms);
    if (periods)
        json_object_set_new(o, "periods", periods);
    ts_admin__ok(j, 200, o);
}

/* What an assignment gains over the plan's task (issue 18), as a notice
 * has it: the responsible person (of the directory, by id or name, kept by
 * id; someone not in it: "responsible_name", a name kept as written, the
 * fallback), the expected result, and per station its own deadline or
 * person: {"responsible_person", "responsible_name", "expected_result",
 * "stations_detail": {CODE: {"deadline", "responsible_person"}}}. */
static int ts__assignment_extras(ts_store *st, const ts_actor *a, const char *task, const char *station,
                                 const json_t *body, ts_error *err)
{
    const json_t *mine = json_object_get(json_object_get(body, "stations_detail"), station);
    json_t *f = json_object();
    const char *who = ts_admin__str(mine, "responsible_person");
    if (!who[0])
        who = ts_admin__str(body, "responsible_person");
    if (who[0]) {
        char person[TS_KEY_MAX + 1];
        if (ts_people_resolve(st, who, person, sizeof person, NULL, 0) < 0) {
            json_decref(f);
            return ts_error_set(err, TS_EBAD_VALUE,
                                "responsible_person of %s: no such person (or several of that name) in the directory",
                                station);
        }
        json_object_set_new(f, "responsible_person", json_string(person));
    } else if (ts_admin__str(body, "responsible_name")[0]) {
        json_object_set_new(f, "responsible_person", json_string(ts_admin__str(body, "responsible_name")));
    }
    const char *expected = ts_admin__str(body, "expected_result");
    if (expected[0])
        json_object_set_new(f, "expected_result", json_string(expected));
    const char *deadline = ts_admin__str(mine, "deadline");
    if (deadline[0])
        json_object_set_new(f, "deadline", json_string(deadline));
    int rc = 0;
    if (json_object_size(f) > 0) {
        char id[2 * TS_KEY_MAX + 2];
        snprintf(id, sizeof id, "%s:%s", task, station);
        rc = ts_record_put_json(st, a, "task_assignments", id, f, err);
    }
    json_decref(f);
    return rc;
}

void ts_admin__api_task_assign(ts_admin__job *j, ts_store *st)
{
    const json_t *to = json_object_get(j->body, "recipients");
    if (!json_is_object(to)) {
        ts_admin__fail(j, 400, "BAD_REQUEST", "body must hold \"recipients\": {\"stations\": [...]}");
        return;
    }
    ts_strlist stations = {NULL, 0};
    ts_error err;
    ts_actor a = ts_admin__actor(j);
    /* the assignments and the audit entry in one transaction, or neither */
    int rc = ts_notice_resolve(st, to, &stations, &err);
    if (rc == 0)
        rc = ts_store_begin(st, &err);
    if (rc == 0)
        rc = ts_task_assign(st, &a, j->params[0], &stations, ts_admin__str(j->body, "deadline"),
                            ts_admin__str(j->body, "instructions"), &err);
    for (size_t i = 0; rc == 0 && i < stations.n; i++)
        rc = ts__assignment_extras(st, &a, j->params[0], stations.v[i], j->body, &err);
    if (rc == 0 && ts_admin__audit(j, st, "assign_task", "plan_tasks", j->params[0], "ok", NULL) < 0)
        rc = ts_error_set(&err, TS_ESTORAGE, "the audit entry could not be stored");
    /* a COMMIT that fails (a full disk) rolls back by itself */
    if (rc == 0)
        rc = ts_store_commit(st, &err);
    else
        ts_store_rollback(st);
    if (rc < 0) {
        ts_strlist_free(&stations);
        ts_admin__fail_err(j, &err);
        return;
    }
    for (size_t i = 0; i < stations.n; i++)
        ts_strlist_add(&j->notify, stations.v[i]);
    ts_admin__set_event(j, "task", json_pack("{s:s}", "id", j->params[0]));
    ts_admin__ok(j, 200, json_pack("{s:s,s:I}", "task", j->params[0], "assigned", (json_int_t)stations.n));
    ts_strlist_free(&stations);
}
