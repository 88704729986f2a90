/* A provincial plan as a file the district loads (docs/PLANS.md): checked
 * field by field first, then stored in one transaction, so a malformed file
 * changes nothing. Each version loaded is kept (plans, plan_targets: the
 * history, and what the figures are judged by); its tasks become plan_tasks
 * records, which the stations receive like any district record. */
#include "server/ts_plan.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/ts_period.h"
#include "common/ts_registry.h"
#include "common/ts_xmalloc.h"
#include "server/ts_notices.h"

#define TS__PLAN_FORMAT "tramsync-plan/1"
#define TS__MAX_TASKS 500

/* A refusal naming the field, in Vietnamese then English. */
static int ts__bad(ts_error *err, const char *path, const char *vi, const char *en)
{
    return ts_error_set(err, TS_EBAD_VALUE, "%s: %s / %s", path, vi, en);
}

static bool ts__keys_known(const json_t *o, const char *const *known, const char *where, ts_error *err, int *rc)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(k, known[i]) == 0;
        if (!ok) {
            char path[160];
            snprintf(path, sizeof path, "%s%s%.60s", where, where[0] ? "." : "", k);
            *rc = ts__bad(err, path, "trường không có trong định dạng kế hoạch (sai chính tả?)",
                          "not a field of the plan format (a typing error?)");
            return false;
        }
    }
    return true;
}

/* A text field: required (non-empty) or optional, at most max bytes. */
static int ts__text(const json_t *o, const char *key, const char *where, bool required, size_t max, ts_error *err)
{
    char path[160];
    snprintf(path, sizeof path, "%s%s%s", where, where[0] ? "." : "", key);
    const json_t *v = json_object_get(o, key);
    if (v == NULL)
        return required ? ts__bad(err, path, "thiếu (bắt buộc)", "missing (required)") : 0;
    if (!json_is_string(v))
        return ts__bad(err, path, "phải là chuỗi văn bản", "must be text");
    if (required && json_string_length(v) == 0)
        return ts__bad(err, path, "không được để trống", "must not be empty");
    if (json_string_length(v) > max) {
        char vi[96], en[96];
        snprintf(vi, sizeof vi, "dài quá %zu byte", max);
        snprintf(en, sizeof en, "longer than %zu bytes", max);
        return ts__bad(err, path, vi, en);
    }
    return 0;
}

static int ts__int(const json_t *o, const char *key, const char *where, bool required, json_int_t lo, json_int_t hi,
                   ts_error *err)
{
    char path[160];
    snprintf(path, sizeof path, "%s%s%s", where, where[0] ? "." : "", key);
    const json_t *v = json_object_get(o, key);
    if (v == NULL)
        return required ? ts__bad(err, path, "thiếu (bắt buộc)", "missing (required)") : 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        char vi[96], en[96];
        snprintf(vi, sizeof vi, "phải là số nguyên từ %" JSON_INTEGER_FORMAT " đến %" JSON_INTEGER_FORMAT, lo, hi);
        snprintf(en, sizeof en, "must be a whole number from %" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT, lo,
                 hi);
        return ts__bad(err, path, vi, en);
    }
    return 0;
}

/* "2024", "2024-06" or "2024-06-24": a plan's date may be partial (seed
 * 003's decision leaves its day blank). */
static bool ts__plan_date(const char *s)
{
    size_t n = strlen(s);
    char full[16];
    if (n == 4)
        snprintf(full, sizeof full, "%s-01-01", s);
    else if (n == 7)
        snprintf(full, sizeof full, "%s-01", s);
    else if (n == 10)
        snprintf(full, sizeof full, "%s", s);
    else
        return false;
    return ts_date_valid(full, 10);
}

static int ts__target_code(const char *code)
{
    for (int i = 0; i < TS_TARGET_COUNT; i++)
        if (strcmp(ts_targets[i].code, code) == 0)
            return i;
    return -1;
}

static int ts__check_target(const json_t *t, size_t k, bool seen[TS_TARGET_COUNT], ts_error *err)
{
    static const char *const known[] = {"code", "label_vi", "label_en", "operator", "threshold", "high", "year",
                                        "note", NULL};
    char where[32], path[64];
    snprintf(where, sizeof where, "targets[%zu]", k);
    int rc = 0;
    if (!json_is_object(t))
        return ts__bad(err, where, "phải là một đối tượng {…}", "must be an object {…}");
    if (!ts__keys_known(t, known, where, err, &rc))
        return rc;
    if ((rc = ts__text(t, "code", where, true, 64, err)) < 0 || (rc = ts__text(t, "label_vi", where, true, 1000, err)) < 0 ||
        (rc = ts__text(t, "label_en", where, true, 1000, err)) < 0 || (rc = ts__text(t, "note", where, false, 1000, err)) < 0 ||
        (rc = ts__text(t, "operator", where, true, 1, err)) < 0 || (rc = ts__int(t, "year", where, true, 2000, 2100, err)) < 0)
        return rc;
    const char *code = json_string_value(json_object_get(t, "code"));
    int i = ts__target_code(code);
    snprintf(path, sizeof path, "%s.code", where);
    if (i < 0) {
        char list[768] = "";
        size_t off = 0;
        for (int x = 0; x < TS_TARGET_COUNT && off < sizeof list; x++)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", x ? ", " : "", ts_targets[x].code);
        char vi[1024], en[1024];
        snprintf(vi, sizeof vi, "«%.64s» không phải chỉ số tramsync tính được (%s)", code, list);
        snprintf(en, sizeof en, "\"%.64s\" is not an indicator tramsync computes (%s)", code, list);
        return ts__bad(err, path, vi, en);
    }
    if (seen[i])
        return ts__bad(err, path, "chỉ số đã có ở mục trước", "the indicator is already given above");
    seen[i] = true;
    char op = json_string_value(json_object_get(t, "operator"))[0];
    snprintf(path, sizeof path, "%s.operator", where);
    if (strchr("><=rd", op) == NULL || op == 0)
        return ts__bad(err, path, "phải là một trong > < = r d (trên, dưới, 100 %, trong khoảng, định hướng)",
                       "must be one of > < = r d (above, below, all, within, a direction)");
    const json_t *th = json_object_get(t, "threshold"), *hi = json_object_get(t, "high");
    snprintf(path, sizeof path, "%s.threshold", where);
    if (th && !json_is_number(th))
        return ts__bad(err, path, "phải là một số", "must be a number");
    if ((op == '>' || op == '<' || op == 'r') && th == NULL)
        return ts__bad(err, path, "thiếu: toán tử này cần ngưỡng", "missing: this operator needs a threshold");
    if (op == '=' && th && json_number_value(th) != 100.0)
        return ts__bad(err, path, "toán tử = nghĩa là 100 %", "the operator = means 100 %");
    snprintf(path, sizeof path, "%s.high", where);
    if (hi && (op != 'r' || !json_is_number(hi)))
        return ts__bad(err, path, "chỉ dùng với toán tử r, là một số", "goes with the operator r only, a number");
    if (op == 'r' && (hi == NULL || json_number_value(hi) < json_number_value(th)))
        return ts__bad(err, path, "toán tử r cần cận trên không nhỏ hơn ngưỡng",
                       "the operator r needs an upper bound not below the threshold");
    return 0;
}

static int ts__check_task(const json_t *t, size_t k, bool *seen, ts_error *err)
{
    static const char *const known[] = {"no", "text", "lead", "coordinating", "deadline_text", "deadline",
                                        "recurring", "recurring_from", "recurrence", NULL};
    char where[32], path[64];
    snprintf(where, sizeof where, "tasks[%zu]", k);
    int rc = 0;
    if (!json_is_object(t))
        return ts__bad(err, where, "phải là một đối tượng {…}", "must be an object {…}");
    if (!ts__keys_known(t, known, where, err, &rc))
        return rc;
    if ((rc = ts__int(t, "no", where, true, 1, 99, err)) < 0 || (rc = ts__text(t, "text", where, true, 5000, err)) < 0 ||
        (rc = ts__text(t, "lead", where, true, 500, err)) < 0 ||
        (rc = ts__text(t, "coordinating", where, false, 500, err)) < 0 ||
        (rc = ts__text(t, "deadline_text", where, true, 200, err)) < 0 ||
        (rc = ts__text(t, "deadline", where, false, 10, err)) < 0 ||
        (rc = ts__int(t, "recurring_from", where, false, 2000, 2100, err)) < 0)
        return rc;
    json_int_t no = json_integer_value(json_object_get(t, "no"));
    snprintf(path, sizeof path, "%s.no", where);
    if (seen[no])
        return ts__bad(err, path, "số thứ tự đã có ở nhiệm vụ trước", "the number is already given above");
    seen[no] = true;
    const json_t *dl = json_object_get(t, "deadline");
    snprintf(path, sizeof path, "%s.deadline", where);
    if (dl && !ts_date_valid(json_string_value(dl), json_string_length(dl)))
        return ts__bad(err, path, "phải là ngày YYYY-MM-DD", "must be a day, YYYY-MM-DD");
    const json_t *rec = json_object_get(t, "recurring");
    snprintf(path, sizeof path, "%s.recurring", where);
    if (rec && !json_is_boolean(rec))
        return ts__bad(err, path, "phải là true hoặc false", "must be true or false");
    snprintf(path, sizeof path, "%s.recurring_from", where);
    if (json_object_get(t, "recurring_from") && !json_is_true(rec))
        return ts__bad(err, path, "chỉ dùng cho nhiệm vụ thường xuyên (recurring: true)",
                       "goes with a recurring task only (recurring: true)");
    /* the period a recurring task is done in: yearly unless the plan says */
    const json_t *unit = json_object_get(t, "recurrence");
    snprintf(path, sizeof path, "%s.recurrence", where);
    ts_period_unit u;
    if (unit && (!json_is_string(unit) || !ts_period_unit_parse(json_string_value(unit), &u) ||
                 !json_string_value(unit)[0]))
        return ts__bad(err, path, "phải là một trong yearly (hằng năm), quarterly (hằng quý), monthly (hằng tháng)",
                       "must be one of yearly, quarterly, monthly");
    if (unit && rec && !json_is_true(rec))
        return ts__bad(err, path, "chỉ dùng cho nhiệm vụ thường xuyên (recurring: true)",
                       "goes with a recurring task only (recurring: true)");
    return 0;
}

/* The whole document, before anything is written. */
static int ts__check(const json_t *doc, ts_error *err)
{
    static const char *const known[] = {"format", "name", "issuer", "date", "version", "notes", "targets", "tasks",
                                        NULL};
    int rc = 0;
    if (!json_is_object(doc))
        return ts__bad(err, "(tệp/file)", "phải là một đối tượng JSON {…}", "must be a JSON object {…}");
    if (!ts__keys_known(doc, known, "", err, &rc))
        return rc;
    const json_t *fmt = json_object_get(doc, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), TS__PLAN_FORMAT) != 0)
        return ts__bad(err, "format", "phải là \"" TS__PLAN_FORMAT "\"", "must be \"" TS__PLAN_FORMAT "\"");
    if ((rc = ts__text(doc, "name", "", true, TS_PLAN_TEXT_MAX - 1, err)) < 0 ||
        (rc = ts__text(doc, "issuer", "", true, 255, err)) < 0 || (rc = ts__text(doc, "date", "", true, 10, err)) < 0 ||
        (rc = ts__text(doc, "notes", "", false, 2 * TS_PLAN_TEXT_MAX - 1, err)) < 0 ||
        (rc = ts__int(doc, "version", "", true, 1, 1000000, err)) < 0)
        return rc;
    if (!ts__plan_date(json_string_value(json_object_get(doc, "date"))))
        return ts__bad(err, "date", "phải là YYYY, YYYY-MM hoặc YYYY-MM-DD", "must be YYYY, YYYY-MM or YYYY-MM-DD");
    const json_t *targets = json_object_get(doc, "targets"), *tasks = json_object_get(doc, "tasks");
    if (!json_is_array(targets))
        return ts__bad(err, "targets", "thiếu hoặc không phải danh sách […]", "missing or not a list […]");
    if (!json_is_array(tasks))
        return ts__bad(err, "tasks", "thiếu hoặc không phải danh sách […]", "missing or not a list […]");
    if (json_array_size(tasks) > TS__MAX_TASKS)
        return ts__bad(err, "tasks", "quá 500 nhiệm vụ", "more than 500 tasks");
    bool seen_t[TS_TARGET_COUNT] = {false};
    size_t k;
    json_t *x;
    json_array_foreach(targets, k, x) {
        if ((rc = ts__check_target(x, k, seen_t, err)) < 0)
            return rc;
    }
    bool seen_no[100] = {false};
    json_array_foreach(tasks, k, x) {
        if ((rc = ts__check_task(x, k, seen_no, err)) < 0)
            return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- storing */

static int ts__sql(ts_store *st, ts_error *err, const char *what)
{
    sqlite3 *db = ts_store_db(st);
    return ts_error_set(err, TS_ESTORAGE, "plan: %s: %s", what, sqlite3_errmsg(db));
}

static int ts__task_record(ts_store *st, const ts_actor *who, const json_t *t, ts_error *err)
{
    json_int_t no = json_integer_value(json_object_get(t, "no"));
    char id[16];
    snprintf(id, sizeof id, "KH-%02d", (int)no);
    const char *dl_text = json_string_value(json_object_get(t, "deadline_text"));
    ts_plan_deadline dl;
    ts_plan_deadline_parse(dl_text, &dl);
    /* what the file says wins over what the phrase is read as */
    const json_t *fdl = json_object_get(t, "deadline"), *frec = json_object_get(t, "recurring"),
                 *ffrom = json_object_get(t, "recurring_from");
    bool recurring = frec ? json_is_true(frec) : dl.recurring;
    json_int_t from = ffrom ? json_integer_value(ffrom) : frec && !recurring ? 0 : dl.from_year;
    const char *deadline = fdl ? json_string_value(fdl) : dl.date[0] ? dl.date : NULL;
    const json_t *coord = json_object_get(t, "coordinating");
    /* every field written; one the previous version had and this one has
     * not is cleared (null), so a replaced task keeps nothing of the old */
    json_t *f = json_pack("{s:I,s:O,s:O,s:s,s:s,s:b}", "no", no, "task", json_object_get(t, "text"), "lead",
                          json_object_get(t, "lead"), "coordinating", coord ? json_string_value(coord) : "",
                          "deadline_text", dl_text, "recurring", recurring);
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change old;
    bool had_deadline = false, had_from = false, had_unit = false;
    if (ts_store_get(st, "plan_tasks", id, &old, &arena, NULL) == 0) {
        const ts_field *fd = ts_version_field(&old.v, "deadline"), *ff = ts_version_field(&old.v, "recurring_from"),
                       *fu = ts_version_field(&old.v, "recurrence");
        had_deadline = fd && !(fd->value_len == 1 && fd->value[0] == 0xc0);
        had_from = ff && !(ff->value_len == 1 && ff->value[0] == 0xc0);
        had_unit = fu && !(fu->value_len == 1 && fu->value[0] == 0xc0);
        ts_version_free(&old.v);
    }
    ts_arena_free(&arena);
    if (deadline || had_deadline)
        json_object_set_new(f, "deadline", deadline ? json_string(deadline) : json_null());
    if (from || had_from)
        json_object_set_new(f, "recurring_from", from ? json_integer(from) : json_null());
    const json_t *unit = recurring ? json_object_get(t, "recurrence") : NULL;
    if (unit || had_unit)
        json_object_set_new(f, "recurrence", unit ? json_incref((json_t *)unit) : json_null());
    int rc = ts_record_put_json(st, who, "plan_tasks", id, f, err);
    json_decref(f);
    return rc;
}

/* Deletes the plan_tasks records the new plan does not have. */
static int ts__remove_old_tasks(ts_store *st, const ts_actor *who, const bool *keep, size_t *removed, ts_error *err)
{
    ts_change_page page;
    ts_change_page_init(&page);
    int rc = ts_store_list(st, "plan_tasks", NULL, 1000, false, &page, err);
    for (uint32_t i = 0; rc == 0 && i < page.n; i++) {
        const char *id = page.items[i].id;
        int no = strncmp(id, "KH-", 3) == 0 ? atoi(id + 3) : 0;
        if (no > 0 && no < 100 && keep[no])
            continue;
        if ((rc = ts_store_delete(st, who, "plan_tasks", id, err)) == 0)
            (*removed)++;
    }
    ts_change_page_free(&page);
    return rc;
}

static int ts__store(ts_store *st, const ts_actor *who, const json_t *doc, const char *canon, uint64_t now_ms,
                     ts_plan_load_result *res, ts_error *err)
{
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO plans(version, name, issuer, date, notes, doc, loaded_at, loaded_by)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                           -1, &q, NULL) != SQLITE_OK)
        return ts__sql(st, err, "plans");
    const json_t *notes = json_object_get(doc, "notes");
    sqlite3_bind_int64(q, 1, res->version);
    sqlite3_bind_text(q, 2, json_string_value(json_object_get(doc, "name")), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, json_string_value(json_object_get(doc, "issuer")), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, json_string_value(json_object_get(doc, "date")), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, notes ? json_string_value(notes) : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, canon, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 7, (sqlite3_int64)now_ms);
    sqlite3_bind_text(q, 8, who->name ? who->name : "-", -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = ts__sql(st, err, "plans");
    sqlite3_finalize(q);
    if (rc < 0)
        return rc;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO plan_targets(version, code, label_vi, label_en, op, threshold, high, year, note)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                           -1, &q, NULL) != SQLITE_OK)
        return ts__sql(st, err, "plan_targets");
    size_t k;
    json_t *t;
    json_array_foreach(json_object_get(doc, "targets"), k, t) {
        const json_t *th = json_object_get(t, "threshold"), *hi = json_object_get(t, "high"),
                     *note = json_object_get(t, "note");
        sqlite3_bind_int64(q, 1, res->version);
        sqlite3_bind_text(q, 2, json_string_value(json_object_get(t, "code")), -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, json_string_value(json_object_get(t, "label_vi")), -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, json_string_value(json_object_get(t, "label_en")), -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 5, json_string_value(json_object_get(t, "operator")), -1, SQLITE_STATIC);
        if (th)
            sqlite3_bind_double(q, 6, json_number_value(th));
        else
            sqlite3_bind_null(q, 6);
        if (hi)
            sqlite3_bind_double(q, 7, json_number_value(hi));
        else
            sqlite3_bind_null(q, 7);
        sqlite3_bind_int64(q, 8, json_integer_value(json_object_get(t, "year")));
        sqlite3_bind_text(q, 9, note ? json_string_value(note) : NULL, -1, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_DONE) {
            rc = ts__sql(st, err, "plan_targets");
            break;
        }
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
        res->targets++;
    }
    sqlite3_finalize(q);
    bool keep[100] = {false};
    json_array_foreach(json_object_get(doc, "tasks"), k, t) {
        if (rc < 0)
            break;
        keep[json_integer_value(json_object_get(t, "no"))] = true;
        if ((rc = ts__task_record(st, who, t, err)) == 0)
            res->tasks++;
    }
    if (rc == 0)
        rc = ts__remove_old_tasks(st, who, keep, &res->removed, err);
    return rc;
}

int ts_plan_load(ts_store *st, const ts_actor *who, const char *text, size_t len, uint64_t now_ms,
                 ts_plan_load_result *res, ts_error *err)
{
    memset(res, 0, sizeof *res);
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL)
        return ts_error_set(err, TS_EBAD_VALUE, "dòng %d, cột %d: không phải JSON hợp lệ (%s) / line %d, column %d: "
                                                "not valid JSON (%s)",
                            je.line, je.column, je.text, je.line, je.column, je.text);
    char *canon = NULL, *prev_doc = NULL;
    int rc = ts__check(doc, err);
    if (rc < 0)
        goto out;
    res->version = json_integer_value(json_object_get(doc, "version"));
    canon = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if ((rc = ts_store_begin(st, err)) < 0)
        goto out;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st), "SELECT version, doc FROM plans ORDER BY version DESC LIMIT 1", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = ts__sql(st, err, "plans");
        ts_store_rollback(st);
        goto out;
    }
    if (sqlite3_step(q) == SQLITE_ROW) {
        res->previous = sqlite3_column_int64(q, 0);
        prev_doc = ts_xstrdup((const char *)sqlite3_column_text(q, 1));
    }
    sqlite3_finalize(q);
    if (prev_doc && canon && res->previous == res->version && strcmp(prev_doc, canon) == 0) {
        /* loading the same file again (the demo, at every start) is no change */
        res->unchanged = true;
        rc = ts_store_commit(st, err);
        goto out;
    }
    if (res->previous >= res->version) {
        res->not_newer = true;
        ts_store_rollback(st);
        rc = ts_error_set(err, TS_EBAD_VALUE,
                          "version: phiên bản %" PRId64 " không mới hơn phiên bản đang áp dụng (%" PRId64
                          "); bản sửa cần số phiên bản lớn hơn / version %" PRId64
                          " is not newer than the plan in force (%" PRId64 "); a corrected copy needs a higher version",
                          res->version, res->previous, res->version, res->previous);
        goto out;
    }
    rc = ts__store(st, who, doc, canon, now_ms, res, err);
    if (rc == 0)
        rc = ts_store_commit(st, err);
    else
        ts_store_rollback(st);
out:
    free(prev_doc);
    free(canon);
    json_decref(doc);
    return rc;
}

int ts_plan_load_file(ts_store *st, const ts_actor *who, const char *path, uint64_t now_ms, ts_plan_load_result *res,
                      ts_error *err)
{
    memset(res, 0, sizeof *res);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return ts_error_set(err, TS_EIO, "plan %s: %s", path, strerror(errno));
    ts_buf b = TS_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ts_buf_append(&b, chunk, n);
    bool bad = ferror(f);
    fclose(f);
    int rc = bad ? ts_error_set(err, TS_EIO, "plan %s: read error", path)
                 : ts_plan_load(st, who, (const char *)b.data, b.len, now_ms, res, err);
    ts_buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------------- reading */

int ts_plan_current(ts_store *st, ts_plan_info *info, ts_plan_target targets[TS_TARGET_COUNT], ts_error *err)
{
    memset(info, 0, sizeof *info);
    if (targets)
        memset(targets, 0, sizeof *targets * TS_TARGET_COUNT);
    sqlite3 *db = ts_store_db(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
                           "SELECT version, name, issuer, date, notes, loaded_at, loaded_by FROM plans"
                           " ORDER BY version DESC LIMIT 1",
                           -1, &q, NULL) != SQLITE_OK)
        return ts__sql(st, err, "plans");
    if (sqlite3_step(q) == SQLITE_ROW) {
        info->version = sqlite3_column_int64(q, 0);
        snprintf(info->name, sizeof info->name, "%s", (const char *)sqlite3_column_text(q, 1));
        snprintf(info->issuer, sizeof info->issuer, "%s", (const char *)sqlite3_column_text(q, 2));
        snprintf(info->date, sizeof info->date, "%s", (const char *)sqlite3_column_text(q, 3));
        snprintf(info->notes, sizeof info->notes, "%s", (const char *)sqlite3_column_text(q, 4));
        info->loaded_at_ms = sqlite3_column_int64(q, 5);
        snprintf(info->loaded_by, sizeof info->loaded_by, "%s", (const char *)sqlite3_column_text(q, 6));
    }
    sqlite3_finalize(q);
    if (info->version == 0 || targets == NULL)
        return 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT code, label_vi, label_en, op, threshold, high, year, note FROM plan_targets"
                           " WHERE version = ?1",
                           -1, &q, NULL) != SQLITE_OK)
        return ts__sql(st, err, "plan_targets");
    sqlite3_bind_int64(q, 1, info->version);
    while (sqlite3_step(q) == SQLITE_ROW) {
        int i = ts__target_code((const char *)sqlite3_column_text(q, 0));
        if (i < 0)
            continue;
        ts_plan_target *t = &targets[i];
        t->set = true;
        snprintf(t->label_vi, sizeof t->label_vi, "%s", (const char *)sqlite3_column_text(q, 1));
        snprintf(t->label_en, sizeof t->label_en, "%s", (const char *)sqlite3_column_text(q, 2));
        t->op = ((const char *)sqlite3_column_text(q, 3))[0];
        t->threshold = sqlite3_column_type(q, 4) == SQLITE_NULL ? (t->op == '=' ? 100.0 : NAN) : sqlite3_column_double(q, 4);
        t->high = sqlite3_column_type(q, 5) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 5);
        t->year = sqlite3_column_int(q, 6);
        const unsigned char *note = sqlite3_column_text(q, 7);
        snprintf(t->note, sizeof t->note, "%s", note ? (const char *)note : "");
    }
    sqlite3_finalize(q);
    return 0;
}

int ts_plan_history(ts_store *st, json_t **out, ts_error *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT version, name, issuer, date, notes, loaded_at, loaded_by FROM plans"
                           " ORDER BY version DESC",
                           -1, &q, NULL) != SQLITE_OK)
        return ts__sql(st, err, "plans");
    json_t *arr = json_array();
    while (sqlite3_step(q) == SQLITE_ROW)
        json_array_append_new(
            arr, json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:s,s:b}", "version", (json_int_t)sqlite3_column_int64(q, 0),
                           "name", (const char *)sqlite3_column_text(q, 1), "issuer",
                           (const char *)sqlite3_column_text(q, 2), "date", (const char *)sqlite3_column_text(q, 3),
                           "notes", (const char *)sqlite3_column_text(q, 4), "loaded_at_ms",
                           (json_int_t)sqlite3_column_int64(q, 5), "loaded_by",
                           (const char *)sqlite3_column_text(q, 6), "current", json_array_size(arr) == 0));
    sqlite3_finalize(q);
    *out = arr;
    return 0;
}

int ts_plan_version(ts_store *st, int64_t version, json_t **out, ts_error *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT name, issuer, date, notes, loaded_at, loaded_by, doc,"
                           " version = (SELECT max(version) FROM plans) FROM plans WHERE version = ?1",
                           -1, &q, NULL) != SQLITE_OK)
        return ts__sql(st, err, "plans");
    sqlite3_bind_int64(q, 1, version);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE)
            return ts__sql(st, err, "plans");
        return ts_error_set(err, TS_ENOT_FOUND, "không có phiên bản %lld của kế hoạch / no plan version %lld",
                            (long long)version, (long long)version);
    }
    /* the file as loaded: it was checked then, so it parses */
    json_t *doc = json_loads((const char *)sqlite3_column_text(q, 6), 0, NULL);
    json_t *targets = doc ? json_incref(json_object_get(doc, "targets")) : NULL;
    json_t *tasks = doc ? json_incref(json_object_get(doc, "tasks")) : NULL;
    *out = json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:s,s:b,s:o,s:o}", "version", (json_int_t)version, "name",
                     (const char *)sqlite3_column_text(q, 0), "issuer", (const char *)sqlite3_column_text(q, 1),
                     "date", (const char *)sqlite3_column_text(q, 2), "notes",
                     (const char *)sqlite3_column_text(q, 3), "loaded_at_ms",
                     (json_int_t)sqlite3_column_int64(q, 4), "loaded_by", (const char *)sqlite3_column_text(q, 5),
                     "current", sqlite3_column_int(q, 7) != 0, "targets", targets ? targets : json_array(), "tasks",
                     tasks ? tasks : json_array());
    json_decref(doc);
    sqlite3_finalize(q);
    return 0;
}

int ts_plan_task_set_na(ts_store *st, const char *task_id, const char *reason, const char *by, uint64_t now_ms,
                        ts_error *err)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    int rc = ts_store_get(st, "plan_tasks", task_id, &c, &arena, err);
    if (rc == 0) {
        bool gone = ts_version_deleted(&c.v);
        ts_version_free(&c.v);
        if (gone)
            rc = ts_error_set(err, TS_ENOT_FOUND, "no task %s", task_id);
    }
    ts_arena_free(&arena);
    if (rc < 0)
        return rc;
    sqlite3_stmt *q;
    const char *sql = reason ? "INSERT INTO plan_task_na(task_id, reason, by, at) VALUES(?1, ?2, ?3, ?4)"
                               " ON CONFLICT(task_id) DO UPDATE SET reason = excluded.reason, by = excluded.by,"
                               " at = excluded.at"
                             : "DELETE FROM plan_task_na WHERE task_id = ?1";
    if (sqlite3_prepare_v2(ts_store_db(st), sql, -1, &q, NULL) != SQLITE_OK)
        return ts__sql(st, err, "plan_task_na");
    sqlite3_bind_text(q, 1, task_id, -1, SQLITE_STATIC);
    if (reason) {
        sqlite3_bind_text(q, 2, reason, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, by, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, (sqlite3_int64)now_ms);
    }
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = ts__sql(st, err, "plan_task_na");
    sqlite3_finalize(q);
    return rc;
}

json_t *ts_plan_task_na_all(ts_store *st)
{
    json_t *o = json_object();
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st), "SELECT task_id, reason, by, at FROM plan_task_na", -1, &q, NULL) !=
        SQLITE_OK)
        return o;
    while (sqlite3_step(q) == SQLITE_ROW)
        json_object_set_new(o, (const char *)sqlite3_column_text(q, 0),
                            json_pack("{s:s,s:s,s:I}", "reason", (const char *)sqlite3_column_text(q, 1), "by",
                                      (const char *)sqlite3_column_text(q, 2), "at_ms",
                                      (json_int_t)sqlite3_column_int64(q, 3)));
    sqlite3_finalize(q);
    return o;
}
