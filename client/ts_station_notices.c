#include "client/ts_station_notices.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <sqlite3.h>

#include "common/ts_mp.h"
#include "common/ts_notice.h"
#include "common/ts_people.h"
#include "common/ts_recjson.h"
#include "common/ts_registry.h"
#include "common/ts_task_periods.h"
#include "common/ts_text.h"
#include "common/ts_xmalloc.h"

/* Staff read these messages through `tramsync`: Vietnamese unless en. */
#define TS__T(en, in_vi, in_en) ((en) ? (in_en) : (in_vi))

/* A lower layer's error (English) after a Vietnamese sentence saying what
 * failed, for staff who read no English. */
static int ts__what(bool en, ts_error *err, const char *what_vi)
{
    if (!en) {
        char msg[sizeof err->msg];
        memcpy(msg, err->msg, sizeof msg);
        ts_error_set(err, err->code, "%s: %s", what_vi, msg);
    }
    return err->code;
}

static const char *ts__jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

int ts_station_put(ts_store *st, const char *table, const char *id, const json_t *fields, ts_error *err)
{
    const ts_table_def *t = ts_registry_table(ts_store_registry(st), table);
    if (t == NULL)
        return ts_error_set(err, TS_EUNKNOWN_TABLE, "unknown table %s", table);
    size_t n = json_object_size(fields), i = 0;
    ts_kv *kv = ts_xcalloc(n ? n : 1, sizeof *kv);
    ts_buf *vals = ts_xcalloc(n ? n : 1, sizeof *vals);
    int rc = 0;
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)fields, name, v) {
        const ts_field_def *f = ts_table_field(t, name);
        if (f == NULL) {
            rc = ts_error_set(err, TS_EINVALID_RECORD, "table %s has no field %s", table, name);
            break;
        }
        if ((rc = ts_recjson_to_value(f, v, &vals[i], err)) < 0)
            break;
        kv[i].name = f->name;
        kv[i].value = vals[i].data;
        kv[i].len = vals[i].len;
        i++;
    }
    ts_actor me = {TS_ACTOR_LOCAL, getenv("USER") ? getenv("USER") : "station", NULL, "notices"};
    if (rc == 0)
        rc = ts_store_put(st, &me, table, id, NULL, kv, i, err);
    for (size_t k = 0; k < n; k++)
        ts_buf_free(&vals[k]);
    free(vals);
    free(kv);
    return rc;
}

typedef void (*ts__each_fn)(const ts_change *c, void *arg);

static int ts__each(ts_store *st, const char *table, ts__each_fn fn, void *arg, ts_error *err)
{
    ts_change_page page;
    ts_change_page_init(&page);
    char after[TS_KEY_MAX + 1] = "";
    int rc;
    for (;;) {
        if ((rc = ts_store_list(st, table, after, 500, false, &page, err)) < 0)
            break;
        for (uint32_t i = 0; i < page.n; i++)
            fn(&page.items[i], arg);
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    return rc;
}

/* ---------------------------------------------------------------- delivered */

typedef struct ts__sent {
    const char *station;
    char **ids;
    size_t n;
} ts__sent;

static void ts__collect_sent(const ts_change *c, void *arg)
{
    ts__sent *s = arg;
    char state[24], station[TS_KEY_MAX + 1];
    ts_recjson_text(&c->v, "state", state, sizeof state);
    ts_recjson_text(&c->v, "station", station, sizeof station);
    if (strcmp(state, "sent") == 0 && strcmp(station, s->station) == 0) {
        s->ids = ts_xreallocarray(s->ids, s->n + 1, sizeof *s->ids);
        s->ids[s->n++] = ts_xstrdup(c->id);
    }
}

int ts_station_mark_delivered(ts_store *st, size_t *marked, ts_error *err)
{
    *marked = 0;
    static const char *const tables[] = {"notice_recipients", "task_assignments"};
    char now[32];
    ts_time_iso(ts_wall_ms(), now, sizeof now);
    int rc = 0;
    for (size_t t = 0; t < 2 && rc == 0; t++) {
        ts__sent s = {ts_store_station(st), NULL, 0};
        rc = ts__each(st, tables[t], ts__collect_sent, &s, err);
        for (size_t i = 0; i < s.n; i++) {
            if (rc == 0) {
                json_t *f = json_pack("{s:s,s:s}", "state", "delivered", "delivered_at", now);
                rc = ts_station_put(st, tables[t], s.ids[i], f, err);
                json_decref(f);
                if (rc == 0)
                    (*marked)++;
            }
            free(s.ids[i]);
        }
        free(s.ids);
    }
    return rc;
}

/* ---------------------------------------------------------------- listing */

typedef struct ts__nlist {
    ts_store *st;
    bool all;
    json_t *arr;
} ts__nlist;

static void ts__notice_item(const ts_change *c, void *arg)
{
    ts__nlist *x = arg;
    json_t *h = ts_recjson_record(c, false);
    json_t *hf = json_object_get(h, "fields");
    const char *station = ts__jstr(hf, "station");
    if (strcmp(station, ts_store_station(x->st)) != 0) {
        json_decref(h);
        return;
    }
    int rank = ts_state_rank(ts__jstr(hf, "state"));
    if (!x->all && rank == 4) {
        json_decref(h);
        return;
    }
    json_t *item = json_object();
    json_object_set_new(item, "id", json_string(ts__jstr(hf, "notice_id")));
    json_object_set(item, "handling", hf);
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change n;
    ts_error err;
    if (ts_store_get(x->st, "notices", ts__jstr(hf, "notice_id"), &n, &arena, &err) == 0) {
        json_t *nr = ts_recjson_record(&n, false);
        json_object_set(item, "notice", json_object_get(nr, "fields"));
        json_decref(nr);
        ts_version_free(&n.v);
    }
    ts_arena_free(&arena);
    json_object_set_new(item, "unread", json_boolean(rank < 2));
    json_array_append_new(x->arr, item);
    json_decref(h);
}

static int ts__notice_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    bool ux = json_is_true(json_object_get(x, "unread")), uy = json_is_true(json_object_get(y, "unread"));
    if (ux != uy)
        return ux ? -1 : 1;
    int rx = ts_urgency_rank(ts__jstr(json_object_get(x, "notice"), "urgency"));
    int ry = ts_urgency_rank(ts__jstr(json_object_get(y, "notice"), "urgency"));
    if (rx != ry)
        return ry - rx;
    return strcmp(ts__jstr(json_object_get(y, "handling"), "sent_at"), ts__jstr(json_object_get(x, "handling"), "sent_at"));
}

int ts_station_notices(ts_store *st, bool all, json_t **out, ts_error *err)
{
    ts__nlist x = {st, all, json_array()};
    int rc = ts__each(st, "notice_recipients", ts__notice_item, &x, err);
    if (rc < 0) {
        json_decref(x.arr);
        return rc;
    }
    size_t n = json_array_size(x.arr);
    json_t **items = ts_xcalloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(x.arr, i));
    qsort(items, n, sizeof *items, ts__notice_cmp);
    json_t *sorted = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(sorted, items[i]);
    free(items);
    json_decref(x.arr);
    *out = sorted;
    return 0;
}

static void ts__task_item(const ts_change *c, void *arg)
{
    ts__nlist *x = arg;
    json_t *h = ts_recjson_record(c, false);
    json_t *hf = json_object_get(h, "fields");
    json_t *item = json_object();
    json_object_set_new(item, "id", json_string(ts__jstr(hf, "task_id")));
    json_object_set(item, "handling", hf);
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change t;
    ts_error err;
    if (ts_store_get(x->st, "plan_tasks", ts__jstr(hf, "task_id"), &t, &arena, &err) == 0) {
        json_t *tr = ts_recjson_record(&t, false);
        json_object_set(item, "task", json_object_get(tr, "fields"));
        json_decref(tr);
        ts_version_free(&t.v);
    }
    ts_arena_free(&arena);
    json_array_append_new(x->arr, item);
    json_decref(h);
}

int ts_station_tasks(ts_store *st, json_t **out, ts_error *err)
{
    ts__nlist x = {st, true, json_array()};
    int rc = ts__each(st, "task_assignments", ts__task_item, &x, err);
    if (rc < 0) {
        json_decref(x.arr);
        return rc;
    }
    *out = x.arr;
    return 0;
}

/* The handling record of a notice or a task here: "<id>:<station>". */
static int ts__handling(ts_store *st, const char *id, bool en, char *table, size_t tsize, char *rid, size_t rsize,
                        ts_change *c, ts_arena *arena, ts_error *err)
{
    snprintf(rid, rsize, "%s:%s", id, ts_store_station(st));
    static const char *const tables[] = {"notice_recipients", "task_assignments"};
    for (size_t i = 0; i < 2; i++) {
        if (ts_store_get(st, tables[i], rid, c, arena, err) == 0) {
            snprintf(table, tsize, "%s", tables[i]);
            return 0;
        }
    }
    return ts_error_set(err, TS_ENOT_FOUND,
                        TS__T(en, "không có văn bản hay nhiệm vụ %s gửi cho trạm này",
                              "no notice or task %s addressed to this station"),
                        id);
}

/* ---------------------------------------------------------------- attachments */

int ts_station_attachment(ts_store *st, const char *notice_id, const char *which, bool en, ts_attachment *out,
                          ts_error *err)
{
    memset(out, 0, sizeof *out);
    /* only what is addressed here: the notice's handling record says so */
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change h;
    char table[32], rid[TS_KEY_MAX + 1];
    int rc = ts__handling(st, notice_id, en, table, sizeof table, rid, sizeof rid, &h, &arena, err);
    if (rc == 0)
        ts_version_free(&h.v);
    ts_arena_free(&arena);
    if (rc < 0)
        return rc;
    if (strcmp(table, "notice_recipients") != 0)
        return ts_error_set(err, TS_ENOT_FOUND,
                            TS__T(en, "%s là nhiệm vụ; nhiệm vụ không có tệp đính kèm",
                                  "%s is a task; tasks have no attachments"),
                            notice_id);
    char **ids;
    size_t n;
    if (ts_attachment_ids(st, notice_id, &ids, &n, err) < 0)
        return ts__what(en, err, "không đọc được danh sách tệp đính kèm");
    /* by id, by number, then by file name */
    const char *found = NULL;
    char want[TS_KEY_MAX + 2];
    snprintf(want, sizeof want, "%s:%s", notice_id, which);
    for (size_t i = 0; i < n && !found; i++)
        if (strcmp(ids[i], which) == 0 || strcmp(ids[i], want) == 0)
            found = ids[i];
    if (found) {
        rc = ts_attachment_read(st, notice_id, found, TS_ATTACHMENT_BYTES | TS_ATTACHMENT_VERIFY, out, err);
    } else {
        rc = ts_error_set(err, TS_ENOT_FOUND,
                          TS__T(en, "văn bản %s không có tệp đính kèm \"%s\" ở trạm này%s",
                                "notice %s has no attachment \"%s\" here%s"),
                          notice_id, which,
                          n ? TS__T(en, " (xem tramsync notice show)", " (see tramsync notice show)")
                            : TS__T(en, " (chưa có tệp nào về tới trạm)", " (none arrived yet)"));
        for (size_t i = 0; i < n; i++) {
            ts_attachment f;
            ts_error e2;
            if (ts_attachment_read(st, notice_id, ids[i], 0, &f, &e2) == 0 && strcmp(f.name, which) == 0) {
                rc = ts_attachment_read(st, notice_id, ids[i], TS_ATTACHMENT_BYTES | TS_ATTACHMENT_VERIFY, out, err);
                break;
            }
        }
    }
    ts_attachment_ids_free(ids, n);
    if (rc < 0 && rc != TS_ENOT_FOUND)
        ts__what(en, err, "không đọc được tệp đính kèm");
    if (rc == 0 && !out->verified) {
        rc = ts_error_set(err, TS_EINVALID_RECORD,
                          TS__T(en, "tệp đính kèm %s (%s): %zu byte không khớp mã SHA-256 %.16s...; không dùng tệp này",
                                "attachment %s (%s): its %zu bytes do not match their SHA-256 %.16s...; not used"),
                          out->id, out->name, out->len, out->sha256);
        ts_attachment_free(out);
    }
    return rc;
}

#define ts__too_long_vi "không ghi được %s: tên quá dài ở đây; hãy ghi một đường dẫn tệp ngắn hơn"
#define ts__too_long_en "cannot write %s: the name is too long here; give a shorter file path"

static int ts__write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int ts_station_attachment_save(ts_store *st, const char *notice_id, const char *which, const char *path, bool force,
                               bool en, char *written, size_t written_size, ts_attachment *info, ts_error *err)
{
    ts_attachment f;
    int rc = ts_station_attachment(st, notice_id, which, en, &f, err);
    if (rc < 0)
        return rc;
    char target[4096];
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        /* into a folder under its own name, which must be a plain name */
        if (strchr(f.name, '/') || strchr(f.name, '\\') || strcmp(f.name, ".") == 0 || strcmp(f.name, "..") == 0 ||
            f.name[0] == '\0') {
            /* cut on a character, never inside one (the name is UTF-8) */
            int keep = (int)ts_text_prefix(f.name, 60);
            rc = ts_error_set(err, TS_EBAD_VALUE,
                              TS__T(en, "tên tệp đính kèm \"%.*s\" không dùng làm tên tệp ở đây được: hãy ghi một "
                                        "đường dẫn tệp",
                                    "the attachment's name \"%.*s\" cannot be a file name here: give a file path"),
                              keep, f.name);
            ts_attachment_free(&f);
            return rc;
        }
        int n = snprintf(target, sizeof target, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", f.name);
        if (n < 0 || (size_t)n >= sizeof target) {
            ts_attachment_free(&f);
            return ts_error_set(err, TS_EBAD_VALUE, TS__T(en, "đường dẫn quá dài", "path too long"));
        }
    } else {
        snprintf(target, sizeof target, "%s", path);
    }
    /* the folder the file goes to: for the temporary file beside it (a short
     * name, so a long attachment name still fits) and to sync the rename */
    char dir[4096];
    const char *slash = strrchr(target, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == target)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - target), target);
    char tmp[4096 + 32] = "";
    int fd;
    /* health documents: readable by the station's own user and group only */
    if (force) {
        snprintf(tmp, sizeof tmp, "%s/.tramsync-XXXXXX", dir);
        fd = mkstemp(tmp);
        if (fd >= 0 && fchmod(fd, 0640) != 0) {
            close(fd);
            unlink(tmp);
            fd = -1;
        }
    } else {
        fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    }
    if (fd < 0) {
        int e = errno;
        ts_attachment_free(&f);
        if (e == EEXIST && !force)
            return ts_error_set(err, TS_EIO,
                                TS__T(en, "%s đã có (--force để ghi đè)", "%s already exists (--force overwrites it)"),
                                target);
        if (e == ENAMETOOLONG)
            return ts_error_set(err, TS_EIO, TS__T(en, ts__too_long_vi, ts__too_long_en), target);
        return ts_error_set(err, TS_EIO, TS__T(en, "không ghi được %s: %s", "cannot write %s: %s"), force ? tmp : target,
                            strerror(e));
    }
    const char *made = force ? tmp : target;
    int wrc = ts__write_all(fd, f.data, f.len);
    int e = errno;
    if (wrc == 0 && fsync(fd) != 0) {
        wrc = -1;
        e = errno;
    }
    if (close(fd) != 0 && wrc == 0) {
        wrc = -1;
        e = errno;
    }
    if (wrc == 0 && force && rename(tmp, target) != 0) {
        wrc = -1;
        e = errno;
    }
    if (wrc != 0) {
        unlink(made); /* nothing half-written stays */
        ts_attachment_free(&f);
        if (e == ENAMETOOLONG)
            return ts_error_set(err, TS_EIO, TS__T(en, ts__too_long_vi, ts__too_long_en), target);
        return ts_error_set(err, TS_EIO, TS__T(en, "không ghi được %s: %s", "cannot write %s: %s"), target, strerror(e));
    }
    /* the new directory entry survives a power cut too */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    snprintf(written, written_size, "%s", target);
    ts_attachment_free(&f);
    *info = f;
    return 0;
}

/* The people a notice or task names, by name and position from the
 * directory (issue 18): its responsible person, or for a notice addressed
 * to a role, who holds that role at this station today
 * ("responsible_label"); who acknowledged ("acknowledged_by_label"). */
static void ts__people_labels(ts_store *st, json_t *o, bool notice)
{
    json_t *h = json_object_get(o, "handling"), *n = json_object_get(o, notice ? "notice" : "task");
    char label[512], day[32];
    const char *person = ts__jstr(notice ? n : h, "responsible_person");
    if (person[0] && ts_people_resolve(st, person, NULL, 0, label, sizeof label) == 0)
        json_object_set_new(o, "responsible_label", json_string(label));
    const char *role = ts__jstr(n, "responsible_role");
    ts_local_day(ts_wall_ms(), day, sizeof day); /* the district's today */
    if (!person[0] && role[0] &&
        ts_people_current(st, ts_store_station(st), role, day, NULL, 0, label, sizeof label) == 0)
        json_object_set_new(o, "responsible_label", json_string(label));
    person = ts__jstr(h, "acknowledged_by_person");
    if (person[0] && ts_people_resolve(st, person, NULL, 0, label, sizeof label) == 0)
        json_object_set_new(o, "acknowledged_by_label", json_string(label));
}

int ts_station_show(ts_store *st, const char *id, bool en, json_t **out, ts_error *err)
{
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change h, n;
    char table[32], rid[TS_KEY_MAX + 1];
    int rc = ts__handling(st, id, en, table, sizeof table, rid, sizeof rid, &h, &arena, err);
    if (rc < 0) {
        ts_arena_free(&arena);
        return rc;
    }
    json_t *o = json_object();
    json_t *hr = ts_recjson_record(&h, false);
    json_object_set(o, "handling", json_object_get(hr, "fields"));
    json_decref(hr);
    ts_version_free(&h.v);
    bool notice = strcmp(table, "notice_recipients") == 0;
    if (ts_store_get(st, notice ? "notices" : "plan_tasks", id, &n, &arena, err) == 0) {
        json_t *nr = ts_recjson_record(&n, false);
        json_object_set(o, notice ? "notice" : "task", json_object_get(nr, "fields"));
        json_decref(nr);
        ts_version_free(&n.v);
    }
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "kind", json_string(notice ? "notice" : "task"));
    ts__people_labels(st, o, notice);
    if (!notice) {
        /* a recurring task: this station's progress period by period */
        json_t *h1 = json_object_get(o, "handling");
        json_t *t = json_pack("{s:s,s:O,s:[O]}", "id", id, "fields",
                              json_object_get(o, "task") ? json_object_get(o, "task") : json_null(), "assignments",
                              h1);
        json_t *periods = ts_task_periods(st, t, ts_wall_ms());
        json_decref(t);
        if (periods)
            json_object_set_new(o, "periods", periods);
    }
    if (notice) {
        json_t *files = NULL;
        ts_error ferr;
        ts_attachment_list(st, id, true, &files, &ferr);
        json_object_set_new(o, "attachments", files ? files : json_array());
    }
    ts_arena_free(&arena);
    *out = o;
    return 0;
}

int ts_station_transition(ts_store *st, const char *id, const char *state, const char *by, const char *note,
                          const char *report, const char *reason, bool en, ts_error *err)
{
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change h;
    char table[32], rid[TS_KEY_MAX + 1];
    int rc = ts__handling(st, id, en, table, sizeof table, rid, sizeof rid, &h, &arena, err);
    if (rc < 0) {
        ts_arena_free(&arena);
        return rc;
    }
    char current[24], why[200];
    ts_recjson_text(&h.v, "state", current, sizeof current);
    ts_version_free(&h.v);
    ts_arena_free(&arena);
    if (!ts_state_transition_ok(current, state, reason, why, sizeof why)) {
        ts_error_set(err, TS_EBAD_VALUE, "%s", why);
        return ts__what(en, err, "không chuyển được trạng thái xử lý");
    }
    if (strcmp(state, "acknowledged") == 0 && (by == NULL || by[0] == '\0'))
        return ts_error_set(err, TS_EBAD_VALUE,
                            TS__T(en, "cần ghi tên người xác nhận (--by HỌ_TÊN)", "say who acknowledges (--by NAME)"));
    if (strcmp(state, "done") == 0 && (report == NULL || report[0] == '\0'))
        return ts_error_set(err, TS_EBAD_VALUE,
                            TS__T(en, "báo hoàn thành cần kèm một báo cáo kết quả ngắn (--report NỘI_DUNG)",
                                  "a task is done with a short report (--report TEXT)"));
    /* who: a person of the directory, by id or name, kept by id and shown
     * by name and position; a name the directory does not know stays as
     * written (the fallback) */
    char person[TS_KEY_MAX + 1] = "", label[512] = "";
    if (by && by[0]) {
        int found = ts_people_resolve(st, by, person, sizeof person, label, sizeof label);
        if (found == -2) {
            ts_error_set(err, TS_EBAD_VALUE,
                         TS__T(en, "danh bạ có nhiều người tên \"%s\": ghi mã người (--by MÃ)",
                               "several people in the directory are named \"%s\": give the person's id (--by ID)"),
                         by);
            return ts__what(en, err, "không xác định được người xác nhận");
        }
        if (found < 0)
            person[0] = '\0';
        else
            by = label;
    }
    char now[32];
    ts_time_iso(ts_wall_ms(), now, sizeof now);
    json_t *f = json_pack("{s:s}", "state", state);
    if (by && by[0])
        json_object_set_new(f, "updated_by", json_string(by));
    if (strcmp(state, "acknowledged") == 0) {
        json_object_set_new(f, "acknowledged_at", json_string(now));
        json_object_set_new(f, "acknowledged_by", json_string(by));
        if (person[0])
            json_object_set_new(f, "acknowledged_by_person", json_string(person));
    } else if (strcmp(state, "in_progress") == 0) {
        json_object_set_new(f, "progress_at", json_string(now));
    } else if (strcmp(state, "done") == 0) {
        json_object_set_new(f, "done_at", json_string(now));
        json_object_set_new(f, "report", json_string(report));
    } else if (strcmp(state, "delivered") == 0) {
        json_object_set_new(f, "delivered_at", json_string(now));
    }
    if (note && note[0])
        json_object_set_new(f, "progress_note", json_string(note));
    if (reason && reason[0])
        json_object_set_new(f, "reopen_reason", json_string(reason));
    rc = ts_station_put(st, table, rid, f, err);
    json_decref(f);
    return rc < 0 ? ts__what(en, err, "không lưu được trạng thái xử lý") : rc;
}

void ts_station_new_id(ts_store *st, const char *kind, char *out, size_t size)
{
    unsigned char rnd[4];
    RAND_bytes(rnd, sizeof rnd);
    /* the district's day (TZ is the district's zone: client/ts_station_day.h) */
    char iso[16], day[16];
    ts_local_day(ts_wall_ms(), iso, sizeof iso);
    snprintf(day, sizeof day, "%.4s%.2s%.2s", iso, iso + 5, iso + 8);
    snprintf(out, size, "%s-%s-%s-%02x%02x%02x%02x", ts_store_station(st), kind, day, rnd[0], rnd[1], rnd[2], rnd[3]);
}

int ts_station_report(ts_store *st, const json_t *fields, char *id_out, size_t id_size, ts_error *err)
{
    char now[32], id[TS_KEY_MAX + 1];
    ts_time_iso(ts_wall_ms(), now, sizeof now);
    ts_station_new_id(st, "BC", id, sizeof id);
    json_t *f = json_deep_copy(fields);
    if (!json_object_get(f, "reported_at"))
        json_object_set_new(f, "reported_at", json_string(now));
    int rc = ts_station_put(st, "reports", id, f, err);
    json_decref(f);
    if (rc == 0)
        snprintf(id_out, id_size, "%s", id);
    return rc;
}
