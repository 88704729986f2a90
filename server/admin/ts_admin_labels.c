/* The vocabulary the console shows: the regulation's codes with their
 * Vietnamese and English labels, the limits it checks before an upload, and
 * the table registry. Served rather than copied into the console, so the
 * console cannot drift from what the daemon accepts. */
#include <stdlib.h>

#include "common/ts_notice.h"
#include "server/admin/ts_admin_int.h"

static json_t *ts__labels_json(const ts_label *list, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "code", list[i].code, "vi", list[i].vi, "en", list[i].en));
    return a;
}

void ts_admin__api_labels(ts_admin__job *j, ts_store *st)
{
    /* what the console checks before uploading: attachments per notice, bytes
     * per attachment, and the request body limit they travel in (base64) */
    json_t *limits = json_pack("{s:i,s:I,s:I}", "attachments", TS_NOTICE_MAX_ATTACHMENTS, "attachment_bytes",
                               (json_int_t)ts_notice_attachment_cap(st), "max_body", (json_int_t)j->max_body);
    /* the district's time zone, set as TZ at start (ts_district_tz_apply):
     * the console shows and reads every date and time in it */
    const char *tz = getenv("TZ");
    ts_admin__ok(j, 200,
                 json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "timezone", tz && tz[0] ? tz : "UTC", "categories", ts__labels_json(ts_notice_categories, 12),
                           "urgencies", ts__labels_json(ts_notice_urgencies, 4), "doc_types",
                           ts__labels_json(ts_notice_doc_types, 7), "states", ts__labels_json(ts_notice_states, 5),
                           "report_kinds", ts__labels_json(ts_report_kinds, 9), "limits", limits));
}

void ts_admin__api_tables(ts_admin__job *j, ts_store *st)
{
    const ts_registry *reg = ts_store_registry(st);
    json_t *arr = json_array();
    for (size_t i = 0; i < reg->ntables; i++) {
        const ts_table_def *t = &reg->tables[i];
        json_t *fields = json_array();
        for (size_t k = 0; k < t->nfields; k++) {
            const ts_field_def *f = &t->fields[k];
            json_t *fo = json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "name", f->name, "label_vi", f->label_vi, "label_en",
                                   f->label_en, "type", ts_field_type_name(f->type), "required", f->required,
                                   "station_writable", f->station_writable);
            if (f->nvalues) {
                json_t *vals = json_array();
                json_t *names = json_object();
                for (size_t v = 0; v < f->nvalues; v++) {
                    json_array_append_new(vals, json_string(f->values[v]));
                    json_object_set_new(names, f->values[v],
                                        json_pack("{s:s,s:s}", "vi", ts_field_value_label(f, f->values[v], false), "en",
                                                  ts_field_value_label(f, f->values[v], true)));
                }
                json_object_set_new(fo, "values", vals);
                json_object_set_new(fo, "value_labels", names);
            }
            if (f->has_max)
                json_object_set_new(fo, "max", json_real(f->max));
            if (f->sha256_of)
                json_object_set_new(fo, "sha256_of", json_string(f->sha256_of->name));
            json_array_append_new(fields, fo);
        }
        json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:s,s:s,s:o}", "name", t->name, "kind",
                                             ts_table_kind_name(t->kind), "personal", t->personal, "label_vi",
                                             t->label_vi, "label_en", t->label_en, "fields", fields));
    }
    ts_admin__ok(j, 200, json_pack("{s:o}", "tables", arr));
}
