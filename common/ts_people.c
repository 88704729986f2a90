/* The directory of focal points: finding a person by id or name, and the
 * current holder of a role at a station. The tables are small (a few people
 * per station), so each look-up lists them. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/ts_people.h"
#include "common/ts_recjson.h"

static void ts__label(const json_t *f, char *out, size_t size)
{
    if (out == NULL)
        return;
    const char *pos = ts_json_str(f, "position");
    snprintf(out, size, "%s%s%s%s", ts_json_str(f, "full_name"), pos[0] ? " (" : "", pos, pos[0] ? ")" : "");
}

static void ts__copy(char *out, size_t size, const char *s)
{
    if (out != NULL)
        snprintf(out, size, "%s", s);
}

typedef bool (*ts__visit_fn)(const ts_change *c, const json_t *fields, void *arg);

/* Calls fn on every live record of table until it returns true. */
static bool ts__each(ts_store *st, const char *table, ts__visit_fn fn, void *arg)
{
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    char after[TS_KEY_MAX + 1] = "";
    bool stop = false;
    while (!stop && ts_store_list(st, table, after, 200, false, &page, &err) == 0 && page.n > 0) {
        for (uint32_t i = 0; i < page.n && !stop; i++) {
            json_t *r = ts_recjson_record(&page.items[i], false);
            stop = fn(&page.items[i], json_object_get(r, "fields"), arg);
            json_decref(r);
        }
        if (page.n < 200)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    return stop;
}

typedef struct ts__by_name {
    const char *name;
    int found;
    char id[TS_KEY_MAX + 1];
    char label[512];
} ts__by_name;

static bool ts__name_visit(const ts_change *c, const json_t *f, void *arg)
{
    ts__by_name *b = arg;
    if (strcasecmp(ts_json_str(f, "full_name"), b->name) != 0)
        return false;
    if (b->found++ == 0) {
        snprintf(b->id, sizeof b->id, "%s", c->id);
        ts__label(f, b->label, sizeof b->label);
    }
    return false;
}

int ts_people_resolve(ts_store *st, const char *key, char *id, size_t id_size, char *label, size_t label_size)
{
    static const char *const tables[] = {"people", "station_people"};
    if (key == NULL || key[0] == '\0' || strlen(key) > TS_KEY_MAX)
        return -1;
    for (size_t t = 0; t < 2; t++) {
        ts_arena arena;
        ts_arena_init(&arena, 4096);
        ts_change c;
        ts_error err;
        int rc = ts_store_get(st, tables[t], key, &c, &arena, &err);
        if (rc == 0) {
            json_t *r = ts_recjson_record(&c, false);
            bool live = !json_is_true(json_object_get(r, "deleted"));
            if (live) {
                ts__copy(id, id_size, key);
                ts__label(json_object_get(r, "fields"), label, label_size);
            }
            json_decref(r);
            ts_version_free(&c.v);
            ts_arena_free(&arena);
            if (live)
                return 0;
            continue;
        }
        ts_arena_free(&arena);
    }
    ts__by_name b = {key, 0, "", ""};
    for (size_t t = 0; t < 2; t++)
        ts__each(st, tables[t], ts__name_visit, &b);
    if (b.found > 1)
        return -2;
    if (b.found == 0)
        return -1;
    ts__copy(id, id_size, b.id);
    ts__copy(label, label_size, b.label);
    return 0;
}

typedef struct ts__by_role {
    const char *station, *role, *day;
    bool own; /* station_people: the owner is the station */
    char id[TS_KEY_MAX + 1];
    char label[512];
} ts__by_role;

static bool ts__active(const json_t *f, const char *day)
{
    const char *from = ts_json_str(f, "active_from"), *to = ts_json_str(f, "active_to");
    return (!from[0] || strcmp(from, day) <= 0) && (!to[0] || strcmp(day, to) <= 0);
}

static bool ts__role_visit(const ts_change *c, const json_t *f, void *arg)
{
    ts__by_role *b = arg;
    if (b->own ? (c->owner == NULL || strcmp(c->owner, b->station) != 0)
               : strcmp(ts_json_str(f, "station"), b->station) != 0)
        return false;
    if (!ts__active(f, b->day))
        return false;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(f, "roles"), i, r) {
        if (json_is_string(r) && strcmp(json_string_value(r), b->role) == 0) {
            snprintf(b->id, sizeof b->id, "%s", c->id);
            ts__label(f, b->label, sizeof b->label);
            return true;
        }
    }
    return false;
}

int ts_people_current(ts_store *st, const char *station, const char *role, const char *day, char *id,
                      size_t id_size, char *label, size_t label_size)
{
    ts__by_role b = {station, role, day, true, "", ""};
    bool found = ts__each(st, "station_people", ts__role_visit, &b);
    if (!found) {
        b.own = false;
        found = ts__each(st, "people", ts__role_visit, &b);
    }
    if (!found)
        return -1;
    ts__copy(id, id_size, b.id);
    ts__copy(label, label_size, b.label);
    return 0;
}
