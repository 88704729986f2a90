/* The provincial plan as data: what a task's deadline phrase (the plan's
 * "Thời gian hoàn thành" column, in Vietnamese) means as a date. */
#ifndef TS_PLAN_H
#define TS_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "server/ts_targets.h"

typedef struct ts_plan_deadline {
    char date[11];  /* YYYY-MM-DD, "" when the phrase gives no date */
    bool recurring; /* the task recurs ("thường xuyên", "Từ năm ...") */
    int from_year;  /* a recurring task's first year ("Từ năm 2026"), 0 none */
} ts_plan_deadline;

/* Reads a deadline phrase; false when it says nothing this knows (e.g.
 * "Theo lộ trình quy định của Chính phủ"), with out cleared.
 *  - "Trước ngày 01 tháng 7 năm 2025", "Trước ngày 01/7/2025": the day
 *    before, 2025-06-30 (before the 1st is done by the 30th)
 *  - "Ngày 15 tháng 12 năm 2025", "15/12/2025": that day
 *  - "Quý III năm 2024", "Quý III/2024": the quarter's last day, 2024-09-30
 *  - "Từ năm 2026": recurring from 2026 (no date)
 *  - "Nhiệm vụ thường xuyên": recurring */
bool ts_plan_deadline_parse(const char *text, ts_plan_deadline *out);

/* ---------------------------------------------------------------- plan files
 * A plan is a JSON file the district loads (docs/PLANS.md): name, issuer,
 * date, version, notes; targets (indicator code, labels, operator,
 * threshold, year); tasks (number, text, lead, coordinating agencies,
 * deadline as written, recurrence). Loading a newer version replaces the
 * plan in force; every version loaded is kept. */

typedef struct ts_plan_info {
    int64_t version; /* 0: no plan loaded */
    char name[TS_PLAN_TEXT_MAX];
    char issuer[256];
    char date[16];
    char notes[2 * TS_PLAN_TEXT_MAX];
    int64_t loaded_at_ms;
    char loaded_by[128];
} ts_plan_info;

typedef struct ts_plan_load_result {
    int64_t version;  /* the file's */
    int64_t previous; /* the version it replaced, 0 none */
    bool unchanged;   /* the same version, the same content: nothing written */
    bool not_newer;   /* refused: a version not above the one in force */
    size_t targets, tasks, removed;
} ts_plan_load_result;

/* Checks a plan file and, when it is right, makes it the plan in force in
 * one transaction (the caller's, when one is open): the plan and its
 * targets kept under its version, its tasks written as plan_tasks records
 * (KH-NN; a task the previous version had and this one has not is
 * deleted). A malformed file changes nothing: TS_EBAD_VALUE with the line
 * and column of a syntax error, or the field (targets[2].operator) and what
 * is wrong with it, in Vietnamese then English. */
int ts_plan_load(ts_store *st, const ts_actor *who, const char *text, size_t len, uint64_t now_ms,
                 ts_plan_load_result *res, ts_error *err);
/* Reads a file and loads it (the daemon's [admin] plan_file at start). */
int ts_plan_load_file(ts_store *st, const ts_actor *who, const char *path, uint64_t now_ms,
                      ts_plan_load_result *res, ts_error *err);
/* The plan in force and what it asks of each indicator (targets[i].set false
 * when the plan does not name it); info->version 0 when none is loaded. */
int ts_plan_current(ts_store *st, ts_plan_info *info, ts_plan_target targets[TS_TARGET_COUNT], ts_error *err);
/* Every version loaded, newest first: [{version,name,issuer,date,notes,
 * loaded_at_ms,loaded_by,current}]. */
int ts_plan_history(ts_store *st, json_t **out, ts_error *err);
/* One version as loaded: {version,name,issuer,date,notes,loaded_at_ms,
 * loaded_by,current,targets:[...the file's],tasks:[...the file's]};
 * TS_ENOT_FOUND for a version never loaded. */
int ts_plan_version(ts_store *st, int64_t version, json_t **out, ts_error *err);
/* Marks a task not applicable (reason given) or applicable again (reason
 * NULL), in the caller's transaction; TS_ENOT_FOUND for an unknown task. */
int ts_plan_task_set_na(ts_store *st, const char *task_id, const char *reason, const char *by, uint64_t now_ms,
                        ts_error *err);
/* The tasks marked not applicable: {task_id: {reason, by, at_ms}}. */
json_t *ts_plan_task_na_all(ts_store *st);

#endif
