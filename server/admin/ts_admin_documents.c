/* A notice printed as an official document (issue 18): GET
 * /api/notices/{id}/pdf, A4, laid out as Nghị định 30/2020 says
 * (server/ts_notice_pdf.c), for the offices of the communes' People's
 * Committees that work on paper. What the district may change is data: its
 * parent body, the place name and who signs ([district] parent_body, place,
 * signer (a person of the directory: name and position from there) and
 * signer_authority); the stations by their directory names, "UBND xã" and
 * the commune's name for the communes copied. A commune account prints
 * only the notices addressed to its commune, as it reads them. */
#include <string.h>

#include "common/ts_arena.h"
#include "common/ts_registry.h"
#include "common/ts_recjson.h"
#include "server/admin/ts_admin_int.h"
#include "server/ts_notice_pdf.h"
#include "server/ts_server.h"

/* A person's name and position from the directory (people, then
 * station_people), by id or full name; false when nobody is found. */
static bool ts__person(ts_store *st, const char *key, json_t **name, json_t **position)
{
    char id[TS_KEY_MAX + 1];
    if (!key[0] || ts_people_resolve(st, key, id, sizeof id, NULL, 0) < 0)
        return false;
    static const char *const tables[] = {"people", "station_people"};
    bool found = false;
    for (size_t i = 0; i < 2 && !found; i++) {
        ts_arena arena;
        ts_arena_init(&arena, 4096);
        ts_change c;
        if (ts_store_get(st, tables[i], id, &c, &arena, NULL) == 0) {
            json_t *rec = ts_recjson_record(&c, false);
            const json_t *f = json_object_get(rec, "fields");
            *name = json_string(ts_admin__str(f, "full_name"));
            *position = json_string(ts_admin__str(f, "position"));
            json_decref(rec);
            ts_version_free(&c.v);
            found = true;
        }
        ts_arena_free(&arena);
    }
    return found;
}

/* An enum value of a notice as people read it (tables.json value_labels) */
static const char *ts__value_vi(ts_store *st, const char *field, const char *value)
{
    const ts_table_def *t = ts_registry_table(ts_store_registry(st), "notices");
    const ts_field_def *fd = t ? ts_table_field(t, field) : NULL;
    return fd ? ts_field_value_label(fd, value, false) : value;
}

/* Who is responsible, as people read it: the directory's person by name
 * and position, a free-text name, or the role at each station. */
static void ts__responsible(ts_store *st, const json_t *f, json_t *doc)
{
    const char *label = ts_admin__str(f, "responsible_person_label");
    const char *person = ts_admin__str(f, "responsible_person");
    const char *text = ts_admin__str(f, "responsible");
    const char *role = ts_admin__str(f, "responsible_role");
    /* whole texts (a free-text responsible may be long): never cut in a letter */
    ts_buf line = TS_BUF_INIT;
    if (label[0] || person[0])
        ts_buf_append_str(&line, label[0] ? label : person);
    else if (role[0]) {
        ts_buf_append_str(&line, ts__value_vi(st, "responsible_role", role));
        ts_buf_append_str(&line, " tại mỗi trạm");
    }
    if (text[0]) {
        if (line.len)
            ts_buf_append_str(&line, "; ");
        ts_buf_append_str(&line, text);
    }
    if (line.len)
        json_object_set_new(doc, "responsible", json_stringn((const char *)line.data, line.len));
    ts_buf_free(&line);
}

/* Nơi nhận: the stations by name, and "UBND xã ..." of the communes copied */
static void ts__recipients(ts_admin__job *j, ts_store *st, const json_t *f, json_t *doc)
{
    json_t *names = json_array(), *committees = json_array();
    bool cc = json_is_true(json_object_get(f, "cc_commune_committee"));
    ts_admin__dir_load(j->adm, st);
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(f, "recipients"), i, s) {
        const char *code = json_string_value(s);
        if (code == NULL)
            continue;
        if (strcmp(code, "*") == 0) {
            json_array_append_new(names, json_string("Các Trạm Y tế xã"));
            if (cc)
                json_array_append_new(committees, json_string("UBND các xã"));
            continue;
        }
        const ts_admin__dir_entry *e = ts_admin__dir_find(j->adm, code);
        const char *name = e ? ts_admin__str(e->fields, "name") : "";
        const char *commune = e ? ts_admin__str(e->fields, "commune") : "";
        json_array_append_new(names, json_string(name[0] ? name : code));
        if (cc) {
            char line[512];
            snprintf(line, sizeof line, "UBND xã %s", commune[0] ? commune : code);
            json_array_append_new(committees, json_string(line));
        }
    }
    json_object_set_new(doc, "recipients", names);
    json_object_set_new(doc, "committees", committees);
}

/* The document ts_admin__api_notice_pdf collected, typeset (worker thread,
 * without the store). */
static void ts__render_notice(ts_admin__job *j)
{
    ts_error err;
    int rc = ts_notice_pdf(j->render_data, &j->text, &err);
    char file[TS_KEY_MAX + 16];
    snprintf(file, sizeof file, "van-ban-%s.pdf", j->params[0]);
    ts_admin__file(j, rc, &err, "application/pdf", file);
}

/* GET /api/notices/{id}/pdf: the notice as an official document, A4 */
void ts_admin__api_notice_pdf(ts_admin__job *j, ts_store *st)
{
    json_t *o;
    ts_error err;
    if (ts_notice_show(st, j->params[0], &o, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    json_t *f = json_object_get(o, "fields");
    /* a commune's account: its own notices, and itself alone in Nơi nhận */
    if (!ts_admin__scope_notice(j, f)) {
        json_decref(o);
        ts_admin__fail(j, 404, "NOT_FOUND", "no such notice");
        return;
    }
    if (json_object_get(f, "recalled_at") != NULL) {
        json_decref(o);
        ts_admin__fail(j, 409, "CONFLICT", "văn bản đã bị thu hồi / the notice was recalled");
        return;
    }
    ts_admin__people_notice(j, st, o);
    const ts_server_config *cfg = ts_server_get_config(j->adm->srv);
    const char *issuer = ts_admin__str(f, "issuer");
    json_t *doc = json_object();
    json_object_set_new(doc, "parent_body", json_string(cfg->district_parent_body ? cfg->district_parent_body : ""));
    json_object_set_new(doc, "issuer", json_string(issuer[0] ? issuer : cfg->district_name));
    json_object_set_new(doc, "place", json_string(cfg->district_place ? cfg->district_place : ""));
    static const char *const copied[] = {"number",  "doc_type", "issue_date",     "subject", "legal_basis",
                                         "body",    "task",     "expected_result"};
    for (size_t i = 0; i < sizeof copied / sizeof *copied; i++)
        json_object_set_new(doc, strcmp(copied[i], "issue_date") == 0 ? "date" : copied[i],
                            json_string(ts_admin__str(f, copied[i])));
    json_object_set_new(doc, "doc_type_vi", json_string(ts__value_vi(st, "doc_type", ts_admin__str(f, "doc_type"))));
    const char *urgency = ts_admin__str(f, "urgency");
    json_object_set_new(doc, "urgency_vi",
                        json_string(urgency[0] && strcmp(urgency, "thuong") != 0 ? ts__value_vi(st, "urgency", urgency)
                                                                                 : ""));
    if (ts_admin__str(f, "deadline")[0]) {
        char when[64];
        ts_vn_date(ts_admin__str(f, "deadline"), when, sizeof when);
        json_object_set_new(doc, "deadline_text", json_string(when));
    }
    ts__responsible(st, f, doc);
    ts__recipients(j, st, f, doc);
    json_t *name = NULL, *position = NULL;
    if (!ts__person(st, cfg->district_signer ? cfg->district_signer : "", &name, &position)) {
        name = json_string("");
        position = json_string("");
    }
    json_object_set_new(doc, "signer",
                        json_pack("{s:s,s:o,s:o}", "authority",
                                  cfg->district_signer_authority ? cfg->district_signer_authority : "", "position",
                                  position, "name", name));
    json_decref(o);
    /* typeset off the store's thread (ts__render_notice) */
    j->render = ts__render_notice;
    j->render_data = doc;
}
