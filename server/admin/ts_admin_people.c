/* People named on notices and tasks (issue 18, "rõ người"): the pages show a
 * responsible person, the person who acknowledged, and the holder of a role
 * at each station by name and position from the directory (people,
 * station_people; common/ts_people.c), beside the ids the records keep. A
 * free-text name (the fallback, and every record before the directory)
 * shows as it is. */
#include <string.h>

#include "common/ts_notice.h"
#include "server/admin/ts_admin_int.h"

static void ts__label(ts_store *st, json_t *o, const char *id_field, const char *label_field)
{
    const char *id = ts_admin__str(o, id_field);
    char label[512];
    if (id[0] && ts_people_resolve(st, id, NULL, 0, label, sizeof label) == 0)
        json_object_set_new(o, label_field, json_string(label));
}

void ts_admin__people_notice(const ts_admin__job *j, ts_store *st, json_t *o)
{
    json_t *f = json_object_get(o, "fields");
    ts__label(st, f, "responsible_person", "responsible_person_label");
    const char *role = ts_admin__str(f, "responsible_role");
    char day[32];
    ts_local_day(j->now_ms, day, sizeof day); /* today: the district's day, not UTC's */
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(o, "recipients"), i, r) {
        ts__label(st, r, "acknowledged_by_person", "acknowledged_by_label");
        char id[TS_KEY_MAX + 1], label[512];
        if (role[0] && ts_people_current(st, ts_admin__str(r, "station"), role, day, id, sizeof id, label,
                                         sizeof label) == 0) {
            json_object_set_new(r, "responsible_person", json_string(id));
            json_object_set_new(r, "responsible_label", json_string(label));
        }
    }
}

void ts_admin__people_task(const ts_admin__job *j, ts_store *st, json_t *o)
{
    (void)j;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(o, "assignments"), i, a) {
        ts__label(st, a, "responsible_person", "responsible_person_label");
        ts__label(st, a, "acknowledged_by_person", "acknowledged_by_label");
    }
}
