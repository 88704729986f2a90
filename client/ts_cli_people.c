/* The directory of focal points at a station (issue 18, "rõ người"):
 * `tramsync people` lists the station's own staff (station_people) and the
 * focal points of the district's directory (people) that concern it - the
 * health centre's (TTYT) departments and leaders, and its own commune's
 * People's Committee (UBND) - and adds, edits and ends the station's own
 * entries. They are station_people records like any other: written through
 * the station store, they sync. Input is checked here first, so staff read
 * what is wrong in their language (the registry would refuse it too, in
 * English). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client/ts_cli_int.h"
#include "client/ts_station_notices.h"
#include "common/ts_arena.h"
#include "common/ts_notice.h"
#include "common/ts_recjson.h"
#include "common/ts_text.h"

/* ---------------------------------------------------------------- checks */

/* A phone number as the directory keeps it: 8 to 15 digits, an optional
 * leading + (the registry's pattern ^[+]?[0-9]{8,15}$). */
static bool ts__phone_ok(const char *p)
{
    if (*p == '+')
        p++;
    size_t n = strlen(p);
    if (n < 8 || n > 15)
        return false;
    for (; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

static bool ts__date_ok(const char *d)
{
    uint64_t ms;
    return strlen(d) == 10 && d[4] == '-' && d[7] == '-' && ts_time_parse(d, &ms);
}

/* ---------------------------------------------------------------- list */

typedef struct ts__dir {
    const char *station;
    const char *today;
    bool all;
    json_t *own, *ttyt, *ubnd;
} ts__dir;

static bool ts__active(const json_t *f, const char *today)
{
    const char *from = ts_json_str(f, "active_from"), *to = ts_json_str(f, "active_to");
    return (!from[0] || strcmp(from, today) <= 0) && (!to[0] || strcmp(to, today) >= 0);
}

static int ts__scan(ts_store *st, const char *table, ts__dir *d, ts_error *err)
{
    ts_change_page page;
    ts_change_page_init(&page);
    char after[TS_KEY_MAX + 1] = "";
    int rc;
    while ((rc = ts_store_list(st, table, after, 200, false, &page, err)) == 0 && page.n > 0) {
        for (uint32_t i = 0; i < page.n; i++) {
            json_t *r = ts_recjson_record(&page.items[i], false);
            json_t *f = json_object_get(r, "fields");
            json_t *into = NULL;
            if (strcmp(table, "station_people") == 0)
                into = d->own;
            else if (strcmp(ts_json_str(f, "unit_kind"), "ttyt") == 0)
                into = d->ttyt;
            else if (strcmp(ts_json_str(f, "unit_kind"), "ubnd") == 0 && strcmp(ts_json_str(f, "station"), d->station) == 0)
                into = d->ubnd; /* its own commune's UBND, not the others' */
            bool active = ts__active(f, d->today);
            if (into && (active || d->all)) {
                json_t *o = json_pack("{s:s,s:O,s:b}", "id", page.items[i].id, "fields", f, "active", active);
                json_array_append_new(into, o);
            }
            json_decref(r);
        }
        if (page.n < 200)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    return rc;
}

/* One person: "ID  NAME — POSITION, UNIT", then phone, roles (by their
 * names: the roles a notice may be addressed to) and the active period. */
static void ts__print_person(const ts_cli *cli, const ts_field_def *roles_def, const json_t *p)
{
    const json_t *f = json_object_get(p, "fields");
    char d1[40], d2[40];
    printf("  %s\n    %s — %s, %s\n", ts_json_str(p, "id"), ts_json_str(f, "full_name"), ts_json_str(f, "position"), ts_json_str(f, "unit"));
    const char *from = ts_json_str(f, "active_from"), *to = ts_json_str(f, "active_to");
    const json_t *roles = json_object_get(f, "roles");
    bool active = json_is_true(json_object_get(p, "active"));
    if (!ts_json_str(f, "phone")[0] && json_array_size(roles) == 0 && !from[0] && !to[0] && active)
        return; /* nothing more to say: no second line */
    fputs("    ", stdout);
    bool any = false;
    if (ts_json_str(f, "phone")[0]) {
        printf(TS__L(cli, "Điện thoại %s", "Phone %s"), ts_json_str(f, "phone"));
        any = true;
    }
    if (json_array_size(roles) > 0) {
        printf("%s%s ", any ? "; " : "", TS__L(cli, "vai trò:", "roles:"));
        size_t i;
        json_t *r;
        json_array_foreach(roles, i, r) {
            const char *code = json_string_value(r);
            printf("%s%s", i ? ", " : "", roles_def ? ts_field_value_label(roles_def, code, cli->en) : code);
        }
        any = true;
    }
    if (from[0] || to[0]) {
        printf("%s", any ? "; " : "");
        if (from[0] && to[0])
            printf(TS__L(cli, "từ %s đến %s", "from %s to %s"), ts_text_date(from, d1, sizeof d1),
                   ts_text_date(to, d2, sizeof d2));
        else if (from[0])
            printf(TS__L(cli, "từ %s", "since %s"), ts_text_date(from, d1, sizeof d1));
        else
            printf(TS__L(cli, "đến %s", "until %s"), ts_text_date(to, d2, sizeof d2));
        any = true;
    }
    if (!active)
        printf("%s%s", any ? " " : "", TS__L(cli, "(không còn đảm nhiệm)", "(no longer in post)"));
    fputc('\n', stdout);
}

static void ts__print_group(const ts_cli *cli, const ts_field_def *roles_def, const char *title, const json_t *list,
                            const char *none)
{
    printf("%s\n", title);
    if (json_array_size(list) == 0)
        printf("  %s\n", none);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
        ts__print_person(cli, roles_def, p);
}

static int ts__list(ts_cli *cli, bool all)
{
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, true);
    if (rc != 0)
        return rc;
    char today[16];
    ts_local_day(ts_wall_ms(), today, sizeof today);
    ts__dir d = {x.cfg.code, today, all, json_array(), json_array(), json_array()};
    ts_error err;
    if (ts__scan(x.store, "station_people", &d, &err) < 0 || ts__scan(x.store, "people", &d, &err) < 0) {
        rc = ts_cli__fail_err(cli, err.code, "không đọc được danh bạ đầu mối", err.msg);
    } else if (cli->json) {
        json_t *o = json_pack("{s:O,s:O,s:O}", "station", d.own, "ttyt", d.ttyt, "ubnd", d.ubnd);
        ts_cli__print_json(o);
        json_decref(o);
    } else {
        /* role tags are the roles a notice may be addressed to: named as the
         * registry names them */
        const ts_table_def *nt = ts_registry_table(&x.reg, "notices");
        const ts_field_def *roles_def = nt ? ts_table_field(nt, "responsible_role") : NULL;
        ts__print_group(cli, roles_def, TS__L(cli, "Nhân sự đầu mối của trạm", "This station's focal points"), d.own,
                        TS__L(cli, "(chưa có ai: tramsync people add ...)", "(none yet: tramsync people add ...)"));
        ts__print_group(cli, roles_def, TS__L(cli, "Trung tâm Y tế khu vực", "District health centre (TTYT)"), d.ttyt,
                        TS__L(cli, "(trung tâm chưa gửi danh bạ)", "(the district has sent none)"));
        ts__print_group(cli, roles_def, TS__L(cli, "UBND xã", "Commune People's Committee (UBND)"), d.ubnd,
                        TS__L(cli, "(trung tâm chưa gửi danh bạ)", "(the district has sent none)"));
    }
    json_decref(d.own);
    json_decref(d.ttyt);
    json_decref(d.ubnd);
    ts_cli__close(&x);
    return rc;
}

/* ---------------------------------------------------------------- writes */

/* The station's name in the district's directory, the default unit of its
 * own staff; empty when the directory has not arrived. */
static void ts__station_name(ts_cli__ctx *x, char *out, size_t size)
{
    out[0] = '\0';
    ts_arena arena;
    ts_arena_init(&arena, 2048);
    ts_change c;
    if (ts_store_get(x->store, "stations", x->cfg.code, &c, &arena, NULL) == 0) {
        ts_recjson_text(&c.v, "name", out, size);
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
}

typedef struct ts__person_opts {
    const char *name, *position, *unit, *phone, *roles, *from, *to;
} ts__person_opts;

/* The options as fields, checked; 0 or an exit code (after saying why). */
static int ts__fields(ts_cli *cli, const ts__person_opts *o, json_t *f)
{
    if (o->name && !o->name[0])
        return ts_cli__fail(cli, TS_EBAD_VALUE, "%s", TS__L(cli, "họ và tên không được để trống", "the name cannot be empty"));
    if (o->position && !o->position[0])
        return ts_cli__fail(cli, TS_EBAD_VALUE, "%s",
                            TS__L(cli, "chức vụ không được để trống", "the position cannot be empty"));
    if (o->phone && o->phone[0] && !ts__phone_ok(o->phone))
        return ts_cli__fail(cli, TS_EBAD_VALUE,
                            TS__L(cli, "số điện thoại \"%s\" không hợp lệ: ghi 8 đến 15 chữ số liền nhau, có thể bắt "
                                       "đầu bằng dấu +, không có dấu cách hay dấu chấm",
                                  "phone number \"%s\" is not valid: 8 to 15 digits, optionally after a +, no spaces "
                                  "or dots"),
                            o->phone);
    const char *dates[2] = {o->from, o->to};
    for (int i = 0; i < 2; i++)
        if (dates[i] && dates[i][0] && !ts__date_ok(dates[i]))
            return ts_cli__fail(cli, TS_EBAD_VALUE,
                                TS__L(cli, "ngày \"%s\" không hợp lệ: ghi theo dạng NĂM-THÁNG-NGÀY, ví dụ 2026-01-15",
                                      "date \"%s\" is not valid: write it as YEAR-MONTH-DAY, e.g. 2026-01-15"),
                                dates[i]);
    static const char *const keys[] = {"full_name", "position", "unit", "phone", "active_from", "active_to"};
    const char *vals[] = {o->name, o->position, o->unit, o->phone, o->from, o->to};
    for (size_t i = 0; i < 6; i++)
        if (vals[i])
            json_object_set_new(f, keys[i], vals[i][0] ? json_string(vals[i]) : json_null());
    if (o->roles) {
        json_t *list = json_array();
        const char *p = o->roles;
        while (*p) {
            size_t n = strcspn(p, ",");
            size_t a = 0;
            while (a < n && p[a] == ' ')
                a++;
            size_t b = n;
            while (b > a && p[b - 1] == ' ')
                b--;
            if (b > a)
                json_array_append_new(list, json_stringn(p + a, b - a));
            p += n;
            p += *p == ',';
        }
        json_object_set_new(f, "roles", list);
    }
    return 0;
}

/* The period must not end before it starts. */
static int ts__period_ok(ts_cli *cli, const json_t *f)
{
    const char *from = ts_json_str(f, "active_from"), *to = ts_json_str(f, "active_to");
    if (from[0] && to[0] && strcmp(to, from) < 0) {
        char d1[40], d2[40];
        return ts_cli__fail(cli, TS_EBAD_VALUE,
                            TS__L(cli, "ngày thôi đảm nhiệm (%s) trước ngày bắt đầu (%s)",
                                  "the end (%s) is before the start (%s)"),
                            ts_text_date(to, d1, sizeof d1), ts_text_date(from, d2, sizeof d2));
    }
    return 0;
}

/* The station's own entry id: the fields it has now in *cur (caller frees),
 * or an exit code: none, or someone of the district's directory (only the
 * district changes those). */
static int ts__own_entry(ts_cli *cli, ts_cli__ctx *x, const char *id, json_t **cur)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    int rc;
    if (ts_store_get(x->store, "station_people", id, &c, &arena, NULL) == 0 && !ts_version_deleted(&c.v)) {
        json_t *r = ts_recjson_record(&c, false);
        *cur = json_incref(json_object_get(r, "fields"));
        json_decref(r);
        ts_version_free(&c.v);
        ts_arena_free(&arena);
        return 0;
    }
    bool district = ts_store_get(x->store, "people", id, &c, &arena, NULL) == 0;
    if (district)
        ts_version_free(&c.v);
    ts_arena_free(&arena);
    if (district)
        rc = ts_cli__fail(cli, TS_EFORBIDDEN,
                          TS__L(cli, "%s là đầu mối của TTYT hoặc UBND xã trong danh bạ của trung tâm: chỉ trung tâm "
                                     "sửa được",
                                "%s is a focal point of the district's directory (TTYT or UBND): only the district "
                                "changes it"),
                          id);
    else
        rc = ts_cli__fail(cli, TS_ENOT_FOUND,
                          TS__L(cli, "không có người \"%s\" trong danh bạ của trạm (xem tramsync people)",
                                "no one \"%s\" in this station's directory (see tramsync people)"),
                          id);
    return rc;
}

static int ts__write(ts_cli *cli, ts_cli__ctx *x, const char *id, json_t *f, const char *done_vi, const char *done_en)
{
    ts_error err;
    int rc = 0;
    if (ts_station_put(x->store, "station_people", id, f, &err) < 0) {
        rc = ts_cli__fail_err(cli, err.code, "không lưu được danh bạ của trạm", err.msg);
    } else if (cli->json) {
        json_t *o = json_pack("{s:s,s:s}", "id", id, "result", "stored");
        ts_cli__print_json(o);
        json_decref(o);
    } else {
        printf(TS__L(cli, "%s %s; agent sẽ gửi lên trung tâm y tế trong vài giây\n",
                     "%s %s; the agent sends it to the district within seconds\n"),
               TS__L(cli, done_vi, done_en), id);
    }
    return rc;
}

static const char ts__help_vi[] =
    "cách dùng: tramsync [-d THƯ_MỤC] [--json] people [--all]\n"
    "       tramsync people add --name HỌ_TÊN --position CHỨC_VỤ [--unit ĐƠN_VỊ] [--phone SỐ]\n"
    "                           [--roles VAI_TRÒ,...] [--from YYYY-MM-DD] [--id MÃ]\n"
    "       tramsync people edit MÃ [--name ...] [--position ...] [--unit ...] [--phone ...]\n"
    "                           [--roles ...] [--from ...] [--to ...]\n"
    "       tramsync people end MÃ [--date YYYY-MM-DD]\n\n"
    "Danh bạ đầu mối (rõ người): nhân sự của trạm, đầu mối của Trung tâm Y tế khu vực\n"
    "và của UBND xã mình, với chức vụ, đơn vị, điện thoại, vai trò và thời gian đảm nhiệm;\n"
    "--all: cả người đã thôi đảm nhiệm. add, edit, end ghi danh bạ của trạm (đồng bộ lên\n"
    "trung tâm); end ghi ngày thôi đảm nhiệm (mặc định hôm nay). Đơn vị mặc định: tên trạm.\n"
    "VAI_TRÒ: head (trạm trưởng), epidemic_officer (cán bộ phụ trách dịch),\n"
    "population_officer (cán bộ dân số), pharmacist (cán bộ dược). Số điện thoại: 8 đến 15\n"
    "chữ số, có thể bắt đầu bằng +.\n";
static const char ts__help_en[] =
    "usage: tramsync [-d DIR] [--json] people [--all]\n"
    "       tramsync people add --name NAME --position POSITION [--unit UNIT] [--phone NUMBER]\n"
    "                           [--roles ROLE,...] [--from YYYY-MM-DD] [--id ID]\n"
    "       tramsync people edit ID [--name ...] [--position ...] [--unit ...] [--phone ...]\n"
    "                           [--roles ...] [--from ...] [--to ...]\n"
    "       tramsync people end ID [--date YYYY-MM-DD]\n\n"
    "The directory of focal points: this station's staff, the district health centre's\n"
    "and its own commune UBND's focal points, with position, unit, phone, roles and the\n"
    "period in post; --all includes those no longer in post. add, edit and end write the\n"
    "station's own entries (they sync to the district); end sets the last day in post\n"
    "(default today). The unit defaults to the station's name. ROLE: head,\n"
    "epidemic_officer, population_officer, pharmacist. Phone: 8 to 15 digits, optionally\n"
    "after a +.\n";

int ts_cli_people(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(cli, ts__help_vi, ts__help_en);
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc == 1 || (argc == 2 && strcmp(argv[1], "--all") == 0))
        return ts__list(cli, argc == 2);
    const char *verb = argv[1];
    bool add = strcmp(verb, "add") == 0, edit = strcmp(verb, "edit") == 0, end = strcmp(verb, "end") == 0;
    if (!add && !edit && !end)
        return ts_cli__usage(help, argc, argv);
    ts__person_opts o;
    memset(&o, 0, sizeof o);
    const char *id = NULL, *date = NULL;
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'}, {"position", required_argument, NULL, 'p'},
        {"unit", required_argument, NULL, 'u'}, {"phone", required_argument, NULL, 'P'},
        {"roles", required_argument, NULL, 'r'}, {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},   {"id", required_argument, NULL, 'i'},
        {"date", required_argument, NULL, 'd'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n': o.name = optarg; break;
        case 'p': o.position = optarg; break;
        case 'u': o.unit = optarg; break;
        case 'P': o.phone = optarg; break;
        case 'r': o.roles = optarg; break;
        case 'f': o.from = optarg; break;
        case 't': o.to = optarg; break;
        case 'i': id = optarg; break;
        case 'd': date = optarg; break;
        default: return ts_cli__usage(help, argc, argv);
        }
    }
    /* add takes no ID argument (--id chooses one); edit and end take one */
    if (add ? optind != argc || date || o.to : optind != argc - 1 || id)
        return ts_cli__usage(help, argc, argv);
    if (end && (o.name || o.position || o.unit || o.phone || o.roles || o.from || o.to))
        return ts_cli__usage(help, argc, argv);
    if (edit && date)
        return ts_cli__usage(help, argc, argv);
    if (add && (!o.name || !o.position))
        return ts_cli__fail(cli, TS_EBAD_VALUE, "%s",
                            TS__L(cli, "cần --name (họ và tên) và --position (chức vụ)",
                                  "--name and --position are needed"));
    char today[16];
    ts_local_day(ts_wall_ms(), today, sizeof today);
    if (end) {
        o.to = date ? date : today;
        if (!o.to[0])
            o.to = today;
    }
    json_t *f = json_object();
    int rc = ts__fields(cli, &o, f);
    if (rc != 0) {
        json_decref(f);
        return rc;
    }
    ts_cli__ctx x;
    if ((rc = ts_cli__open(cli, &x, false)) != 0) {
        json_decref(f);
        return rc;
    }
    char newid[TS_KEY_MAX + 1];
    if (add) {
        if (id) {
            snprintf(newid, sizeof newid, "%s", id);
        } else {
            ts_station_new_id(x.store, "NV", newid, sizeof newid);
        }
        if (!json_is_string(json_object_get(f, "unit"))) {
            char unit[256];
            ts__station_name(&x, unit, sizeof unit);
            if (!unit[0]) {
                rc = ts_cli__fail(cli, TS_EBAD_VALUE, "%s",
                                  TS__L(cli, "cần --unit (đơn vị): danh bạ trạm của trung tâm chưa về máy này",
                                        "--unit is needed: the district's station directory has not arrived yet"));
                goto cleanup;
            }
            json_object_set_new(f, "unit", json_string(unit));
        }
        if (!o.from)
            json_object_set_new(f, "active_from", json_string(today));
        if ((rc = ts__period_ok(cli, f)) != 0)
            goto cleanup;
        rc = ts__write(cli, &x, newid, f, "đã thêm", "added");
    } else {
        snprintf(newid, sizeof newid, "%s", argv[optind]);
        json_t *cur = NULL;
        if ((rc = ts__own_entry(cli, &x, newid, &cur)) != 0)
            goto cleanup;
        /* the period as it will be: the fields given over those it has */
        json_t *merged = json_deep_copy(cur);
        json_object_update(merged, f);
        rc = ts__period_ok(cli, merged);
        json_decref(merged);
        json_decref(cur);
        if (rc == 0)
            rc = ts__write(cli, &x, newid, f, end ? "đã ghi ngày thôi đảm nhiệm cho" : "đã sửa",
                           end ? "ended" : "updated");
    }
cleanup:
    json_decref(f);
    ts_cli__close(&x);
    return rc;
}
