#include "server/ts_notices.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>
#include <sqlite3.h>

#include "common/ts_log.h"
#include "common/ts_mp.h"
#include "common/ts_notice.h"
#include "common/ts_recjson.h"
#include "common/ts_registry.h"
#include "common/ts_vv.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
#include "server/ts_plan.h"

void ts_strlist_add(ts_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return;
    l->v = ts_xreallocarray(l->v, l->n + 1, sizeof *l->v);
    l->v[l->n++] = ts_xstrdup(s);
}

void ts_strlist_free(ts_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* ---------------------------------------------------------------- helpers */

/* Writes JSON fields into a record through the registry's types. */
int ts_record_put_json(ts_store *st, const ts_actor *who, const char *table, const char *id, const json_t *fields,
                       ts_error *err)
{
    const ts_table_def *t = ts_registry_table(ts_store_registry(st), table);
    if (t == NULL)
        return ts_error_set(err, TS_EUNKNOWN_TABLE, "unknown table %s", table);
    size_t n = json_object_size(fields), i = 0;
    if (n == 0)
        return ts_error_set(err, TS_EBAD_VALUE, "no fields to write");
    ts_kv *kv = ts_xcalloc(n, sizeof *kv);
    ts_buf *vals = ts_xcalloc(n, sizeof *vals);
    int rc = 0;
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)fields, name, value) {
        const ts_field_def *f = ts_table_field(t, name);
        if (f == NULL) {
            rc = ts_error_set(err, TS_EINVALID_RECORD, "table %s has no field \"%s\"", table, name);
            break;
        }
        ts_buf_init(&vals[i]);
        if ((rc = ts_recjson_to_value(f, value, &vals[i], err)) < 0)
            break;
        kv[i].name = f->name;
        kv[i].value = vals[i].data;
        kv[i].len = vals[i].len;
        i++;
    }
    if (rc == 0)
        rc = ts_store_put(st, who, table, id, NULL, kv, i, err);
    for (size_t k = 0; k < n; k++)
        ts_buf_free(&vals[k]);
    free(vals);
    free(kv);
    return rc;
}

static json_t *ts__fields(const ts_change *c)
{
    json_t *r = ts_recjson_record(c, false);
    json_t *f = json_incref(json_object_get(r, "fields"));
    json_decref(r);
    return f;
}

static const char *ts__jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

void ts_new_record_id(const char *prefix, char *out, size_t size)
{
    unsigned char rnd[4];
    RAND_bytes(rnd, sizeof rnd);
    char day[16];
    ts_local_day(ts_wall_ms(), day, sizeof day); /* the district's day */
    snprintf(out, size, "%s-%.4s%.2s%.2s-%02x%02x%02x%02x", prefix, day, day + 5, day + 8, rnd[0], rnd[1], rnd[2],
             rnd[3]);
}

/* Records of a table whose id starts with prefix, in id order. */
static int ts__list_prefix(ts_store *st, const char *table, const char *prefix, ts_change_page *page,
                           void (*each)(const ts_change *c, void *arg), void *arg, ts_error *err)
{
    char after[TS_KEY_MAX + 2];
    snprintf(after, sizeof after, "%s", prefix);
    size_t plen = strlen(prefix);
    for (;;) {
        int rc = ts_store_list(st, table, after, 500, true, page, err);
        if (rc < 0)
            return rc;
        for (uint32_t i = 0; i < page->n; i++) {
            if (strncmp(page->items[i].id, prefix, plen) != 0)
                return 0;
            each(&page->items[i], arg);
        }
        if (page->n < 500)
            return 0;
        snprintf(after, sizeof after, "%s", page->items[page->n - 1].id);
    }
}

/* ---------------------------------------------------------------- recipients */

typedef struct ts__dir_scan {
    const json_t *communes;
    ts_strlist *out;
} ts__dir_scan;

static void ts__dir_each(const ts_change *c, void *arg)
{
    ts__dir_scan *d = arg;
    if (ts_version_deleted(&c->v))
        return;
    char commune[200], code[16];
    ts_recjson_text(&c->v, "commune", commune, sizeof commune);
    ts_recjson_text(&c->v, "commune_code", code, sizeof code);
    size_t i;
    json_t *want;
    json_array_foreach(d->communes, i, want) {
        const char *w = json_string_value(want);
        if (w && (strcmp(w, commune) == 0 || strcmp(w, code) == 0 || strcmp(w, c->id) == 0))
            ts_strlist_add(d->out, c->id);
    }
}

static void ts__dir_all(const ts_change *c, void *arg)
{
    if (!ts_version_deleted(&c->v))
        ts_strlist_add(arg, c->id);
}

/* A station the district knows: in the directory, or seen through its own
 * sessions (station_status, an active replica). */
static bool ts__station_known(ts_store *st, const char *code)
{
    ts_arena arena;
    ts_arena_init(&arena, 2048);
    ts_change c;
    ts_error err;
    bool known = false;
    if (ts_store_get(st, "stations", code, &c, &arena, &err) == 0) {
        known = !ts_version_deleted(&c.v);
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    sqlite3_stmt *q;
    if (!known && sqlite3_prepare_v2(ts_store_db(st),
                                     "SELECT 1 FROM station_status WHERE station = ?1 UNION ALL"
                                     " SELECT 1 FROM replicas WHERE station = ?1 AND status = 'active' LIMIT 1",
                                     -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, code, -1, SQLITE_STATIC);
        known = sqlite3_step(q) == SQLITE_ROW;
        sqlite3_finalize(q);
    }
    return known;
}

int ts_notice_resolve(ts_store *st, const json_t *spec, ts_strlist *out, ts_error *err)
{
    ts_change_page page;
    ts_change_page_init(&page);
    int rc = 0;
    bool all = json_is_true(json_object_get(spec, "all"));
    if (all) {
        rc = ts__list_prefix(st, "stations", "", &page, ts__dir_all, out, err);
        /* stations not (yet) in the directory but known by their sessions */
        sqlite3_stmt *q;
        if (rc == 0 &&
            sqlite3_prepare_v2(ts_store_db(st),
                               "SELECT station FROM station_status UNION SELECT station FROM replicas"
                               " WHERE status = 'active' ORDER BY 1",
                               -1, &q, NULL) == SQLITE_OK) {
            while (sqlite3_step(q) == SQLITE_ROW)
                ts_strlist_add(out, (const char *)sqlite3_column_text(q, 0));
            sqlite3_finalize(q);
        }
    }
    const json_t *communes = json_object_get(spec, "communes");
    if (rc == 0 && json_array_size(communes) > 0) {
        size_t before = out->n;
        ts__dir_scan d = {communes, out};
        rc = ts__list_prefix(st, "stations", "", &page, ts__dir_each, &d, err);
        if (rc == 0 && out->n == before)
            rc = ts_error_set(err, TS_ENOT_FOUND, "no station in the directory serves those communes");
    }
    const json_t *stations = json_object_get(spec, "stations");
    size_t i;
    json_t *s;
    /* Fix (tests/unit/test_notices.c, test_resolve): unknown station codes
     * were taken as they came, so a typo made a recipient that never exists
     * and escalates for ever; the header promises TS_ENOT_FOUND naming them. */
    ts_buf unknown = TS_BUF_INIT;
    size_t nunknown = 0;
    json_array_foreach(stations, i, s) {
        if (rc < 0)
            break;
        const char *code = json_string_value(s);
        if (code == NULL || !ts_key_valid(code, strlen(code))) {
            rc = ts_error_set(err, TS_EBAD_VALUE, "stations must be a list of station codes");
            break;
        }
        if (!ts__station_known(st, code)) {
            if (nunknown++ < 10)
                ts_buf_printf(&unknown, "%s%s", nunknown > 1 ? ", " : "", code);
            continue;
        }
        ts_strlist_add(out, code);
    }
    if (rc == 0 && nunknown > 0)
        rc = ts_error_set(err, TS_ENOT_FOUND, "unknown station%s: %.*s%s", nunknown > 1 ? "s" : "",
                          (int)unknown.len, unknown.data ? (const char *)unknown.data : "", nunknown > 10 ? ", ..." : "");
    ts_buf_free(&unknown);
    ts_change_page_free(&page);
    if (rc == 0 && out->n == 0)
        rc = ts_error_set(err, TS_EBAD_VALUE, "no recipients: give all, stations or communes");
    /* Fix (tests/bench/bench_notices.c): "all" was capped at the audience
     * list's TS_AUDIENCE_MAX (128) like an explicit list, so a district of
     * more stations could not send anything to all of them. ts_notice_create
     * addresses such a notice record to every station ("*"). */
    if (rc == 0 && out->n > TS_AUDIENCE_MAX && !all)
        rc = ts_error_set(err, TS_EBAD_VALUE, "at most %d recipients per notice (or send it to all)", TS_AUDIENCE_MAX);
    return rc;
}

/* Whether `stations` holds every station the district knows (what "all"
 * resolves to), so the notice record may be addressed to "*". */
static int ts__covers_all(ts_store *st, const ts_strlist *stations, ts_error *err)
{
    ts_strlist known = {NULL, 0};
    json_t *spec = json_pack("{s:b}", "all", 1);
    int rc = ts_notice_resolve(st, spec, &known, err);
    json_decref(spec);
    for (size_t i = 0; rc == 0 && i < known.n; i++) {
        bool found = false;
        for (size_t k = 0; k < stations->n && !found; k++)
            found = strcmp(known.v[i], stations->v[k]) == 0;
        if (!found)
            rc = ts_error_set(err, TS_EBAD_VALUE, "at most %d recipients per notice unless it goes to all stations",
                              TS_AUDIENCE_MAX);
    }
    ts_strlist_free(&known);
    return rc;
}

/* ---------------------------------------------------------------- attachments */

#define TS__NAME_MAX_CHARS 200
#define TS__NAME_MAX_BYTES 200

size_t ts_notice_attachment_cap(ts_store *st)
{
    const ts_table_def *t = ts_registry_table(ts_store_registry(st), TS_ATTACHMENT_TABLE);
    const ts_field_def *f = t ? ts_table_field(t, "content") : NULL;
    if (f == NULL || !f->has_max || f->max < 1)
        return 256u * 1024u;
    return f->max > (double)TS_PROTO_DEFAULT_MAX_STR ? (size_t)TS_PROTO_DEFAULT_MAX_STR : (size_t)f->max;
}

typedef struct ts__file {
    char *name;
    char *mime;
    uint8_t *data;
    size_t len;
    char sha256[65];
} ts__file;

typedef struct ts__files {
    ts__file *v;
    size_t n;
} ts__files;

static void ts__files_free(ts__files *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        free(fs->v[i].name);
        free(fs->v[i].mime);
        free(fs->v[i].data);
    }
    free(fs->v);
    fs->v = NULL;
    fs->n = 0;
}

static int ts__b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict base64 (RFC 4648, standard alphabet, padded to a multiple of four;
 * ASCII white space between characters is skipped, as in wrapped output).
 * Refuses, before allocating, anything that would decode to more than cap
 * bytes. Returns 0, or -1 with why filled in. */
static int ts__b64_decode(const char *s, size_t n, size_t cap, uint8_t **out, size_t *out_len, char *why,
                          size_t why_size)
{
    size_t sig = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            pad++;
        } else if (pad > 0 || ts__b64_value(c) < 0) {
            snprintf(why, why_size, "data is not base64: %s at character %zu",
                     pad > 0 ? "data after the = padding" : "a character outside A-Z a-z 0-9 + /", i + 1);
            return -1;
        }
        sig++;
    }
    if (sig % 4 != 0 || pad > 2) {
        snprintf(why, why_size, "data is not base64: %zu characters, not a multiple of 4 (padding with = is required)",
                 sig);
        return -1;
    }
    size_t len = sig / 4 * 3 - pad;
    if (len > cap) {
        snprintf(why, why_size, "%zu bytes, more than the limit of %zu bytes (%zu KiB)", len, cap, cap / 1024);
        return -1;
    }
    uint8_t *d = ts_xmalloc(len ? len : 1);
    uint32_t acc = 0;
    size_t k = 0, o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        acc = acc << 6 | (uint32_t)(c == '=' ? 0 : ts__b64_value(c));
        if (++k % 4 == 0) {
            uint8_t three[3] = {(uint8_t)(acc >> 16), (uint8_t)(acc >> 8), (uint8_t)acc};
            for (int b = 0; b < 3 && o < len; b++)
                d[o++] = three[b];
            acc = 0;
        }
    }
    *out = d;
    *out_len = len;
    return 0;
}

/* A file name people and file systems can both live with. */
static bool ts__name_ok(const char *name, char *why, size_t why_size)
{
    size_t n = strlen(name), chars = 0;
    if (n == 0) {
        snprintf(why, why_size, "name is empty");
        return false;
    }
    if (!ts_utf8_valid((const uint8_t *)name, n)) {
        snprintf(why, why_size, "name is not valid UTF-8");
        return false;
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        snprintf(why, why_size, "\"%s\" is not a file name", name);
        return false;
    }
    const unsigned char *u = (const unsigned char *)name;
    for (size_t i = 0; i < n; i++) {
        chars += (u[i] & 0xc0) != 0x80;
        if (u[i] == '/' || u[i] == '\\') {
            snprintf(why, why_size, "a file name cannot hold / or \\ (no folders)");
            return false;
        }
        /* C0 controls, DEL, and C1 controls (U+0080-U+009F) */
        if (u[i] < 0x20 || u[i] == 0x7f || (u[i] == 0xc2 && i + 1 < n && u[i + 1] < 0xa0)) {
            snprintf(why, why_size, "a file name cannot hold control characters");
            return false;
        }
        /* U+061C ARABIC LETTER MARK, the last of Unicode's bidi controls */
        if (u[i] == 0xd8 && i + 1 < n && u[i + 1] == 0x9c) {
            snprintf(why, why_size, "a file name cannot hold text-direction control characters");
            return false;
        }
        /* text-direction controls (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069)
         * make a name read as something it is not ("invoice<RLO>fdp.exe") */
        if (u[i] == 0xe2 && i + 2 < n &&
            ((u[i + 1] == 0x80 && (u[i + 2] == 0x8e || u[i + 2] == 0x8f || (u[i + 2] >= 0xaa && u[i + 2] <= 0xae))) ||
             (u[i + 1] == 0x81 && u[i + 2] >= 0xa6 && u[i + 2] <= 0xa9))) {
            snprintf(why, why_size, "a file name cannot hold text-direction control characters");
            return false;
        }
    }
    if (chars > TS__NAME_MAX_CHARS) {
        snprintf(why, why_size, "name longer than %d characters", TS__NAME_MAX_CHARS);
        return false;
    }
    /* file systems count bytes (255 on Linux, less than that left when a
     * station saves beside an existing file): about 70 Vietnamese letters */
    if (n > TS__NAME_MAX_BYTES) {
        snprintf(why, why_size, "name longer than %d bytes in UTF-8 (%zu)", TS__NAME_MAX_BYTES, n);
        return false;
    }
    return true;
}

bool ts_notice_attachment_name_ok(const char *name, char *why, size_t why_size)
{
    return ts__name_ok(name, why, why_size);
}

/* "type/subtype" of RFC 6838 token characters, at most 100; lower-cased. */
static bool ts__mime_norm(const char *m, char *out, size_t size)
{
    size_t n = strlen(m), slash = 0, nslash = 0;
    if (n == 0 || n > 100 || n >= size)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = m[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (c == '/') {
            if (i == 0 || i + 1 == n || nslash++)
                return false;
            slash = i;
        } else if (!alnum && (i == 0 || (i == slash + 1 && nslash) || strchr("!#$&^_.+-", c) == NULL)) {
            return false;
        }
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    out[n] = '\0';
    return nslash == 1;
}

/* Checks and decodes the attachments of a notice (NULL or an empty array:
 * none). */
static int ts__files_parse(ts_store *st, const json_t *list, ts__files *out, ts_error *err)
{
    out->v = NULL;
    out->n = 0;
    if (list == NULL || json_is_null(list))
        return 0;
    if (!json_is_array(list))
        return ts_error_set(err, TS_EBAD_VALUE, "attachments must be a list of {\"name\", \"mime\", \"data\"}");
    size_t n = json_array_size(list);
    if (n > TS_NOTICE_MAX_ATTACHMENTS)
        return ts_error_set(err, TS_EBAD_VALUE, "at most %d attachments per notice (got %zu)",
                            TS_NOTICE_MAX_ATTACHMENTS, n);
    size_t cap = ts_notice_attachment_cap(st);
    out->v = ts_xcalloc(n ? n : 1, sizeof *out->v);
    char why[200];
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(list, i);
        if (!json_is_object(a)) {
            ts__files_free(out);
            return ts_error_set(err, TS_EBAD_VALUE, "attachment %zu: must be {\"name\", \"mime\", \"data\"}", i + 1);
        }
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)a, key, v) {
            if (strcmp(key, "name") != 0 && strcmp(key, "mime") != 0 && strcmp(key, "data") != 0) {
                ts__files_free(out);
                return ts_error_set(err, TS_EBAD_VALUE, "attachment %zu: unknown key \"%.40s\" (name, mime, data)",
                                    i + 1, key);
            }
        }
        const json_t *jname = json_object_get(a, "name"), *jmime = json_object_get(a, "mime"),
                     *jdata = json_object_get(a, "data");
        if (!json_is_string(jname) || !json_is_string(jdata) || (jmime && !json_is_string(jmime) && !json_is_null(jmime))) {
            ts__files_free(out);
            return ts_error_set(err, TS_EBAD_VALUE, "attachment %zu: name and data (base64) are required text%s", i + 1,
                                jmime && !json_is_string(jmime) ? ", mime is text" : "");
        }
        /* a name may hold NUL escaped in JSON: jansson's length tells */
        const char *name = json_string_value(jname);
        if (strlen(name) != json_string_length(jname)) {
            ts__files_free(out);
            return ts_error_set(err, TS_EBAD_VALUE, "attachment %zu: a file name cannot hold control characters",
                                i + 1);
        }
        if (!ts__name_ok(name, why, sizeof why)) {
            ts__files_free(out);
            return ts_error_set(err, TS_EBAD_VALUE, "attachment %zu: %s", i + 1, why);
        }
        for (size_t k = 0; k < out->n; k++)
            if (strcasecmp(out->v[k].name, name) == 0) {
                ts__files_free(out);
                return ts_error_set(err, TS_EBAD_VALUE,
                                    "attachment %zu (\"%.60s\"): the same name as attachment %zu (names are unique in "
                                    "a notice)",
                                    i + 1, name, k + 1);
            }
        char mime[128] = "application/octet-stream";
        const char *m = json_string_value(jmime);
        if (m != NULL && strlen(m) != json_string_length(jmime)) {
            ts__files_free(out);
            return ts_error_set(err, TS_EBAD_VALUE, "attachment %zu (\"%.60s\"): a MIME type cannot hold NUL", i + 1,
                                name);
        }
        if (m && m[0] && !ts__mime_norm(m, mime, sizeof mime)) {
            ts__files_free(out);
            return ts_error_set(err, TS_EBAD_VALUE,
                                "attachment %zu (\"%.60s\"): \"%.60s\" is not a MIME type (type/subtype, e.g. "
                                "application/pdf)",
                                i + 1, name, m);
        }
        ts__file *f = &out->v[out->n];
        if (ts__b64_decode(json_string_value(jdata), json_string_length(jdata), cap, &f->data, &f->len, why,
                           sizeof why) < 0) {
            ts__files_free(out);
            return ts_error_set(err, TS_EBAD_VALUE, "attachment %zu (\"%.60s\"): %s", i + 1, name, why);
        }
        f->name = ts_xstrdup(name);
        f->mime = ts_xstrdup(mime);
        out->n++;
        if (f->len == 0) {
            ts__files_free(out);
            return ts_error_set(err, TS_EBAD_VALUE, "attachment %zu (\"%.60s\"): the file is empty", i + 1, name);
        }
        if (!ts_sha256_hex(f->data, f->len, f->sha256)) {
            ts__files_free(out);
            return ts_error_set(err, TS_EINTERNAL, "cannot compute a SHA-256");
        }
    }
    return 0;
}

/* Writes one attachment record "<notice id>:<n>" addressed like the notice. */
static int ts__put_file(ts_store *st, const ts_actor *who, const char *notice_id, const json_t *recipients,
                        const ts__file *f, size_t n, ts_error *err)
{
    char id[TS_KEY_MAX + 1];
    snprintf(id, sizeof id, "%s:%zu", notice_id, n);
    ts_buf vnotice = TS_BUF_INIT, vto = TS_BUF_INIT, vname = TS_BUF_INIT, vmime = TS_BUF_INIT, vdata = TS_BUF_INIT,
           vsum = TS_BUF_INIT;
    ts_value_str(&vnotice, notice_id);
    msgpack_packer pk;
    ts_buf_packer(&vto, &pk);
    msgpack_pack_array(&pk, json_array_size(recipients));
    size_t i;
    json_t *r;
    json_array_foreach(recipients, i, r)
        ts_mp_pack_cstr(&pk, json_string_value(r));
    ts_value_str(&vname, f->name);
    ts_value_str(&vmime, f->mime);
    ts_buf_packer(&vdata, &pk);
    msgpack_pack_bin(&pk, f->len);
    msgpack_pack_bin_body(&pk, f->data, f->len);
    ts_value_str(&vsum, f->sha256);
    const ts_kv kv[] = {{"notice_id", vnotice.data, vnotice.len}, {"recipients", vto.data, vto.len},
                        {"filename", vname.data, vname.len},      {"mime", vmime.data, vmime.len},
                        {"content", vdata.data, vdata.len},       {"sha256", vsum.data, vsum.len}};
    int rc = ts_store_put(st, who, TS_ATTACHMENT_TABLE, id, NULL, kv, sizeof kv / sizeof *kv, err);
    if (rc < 0) {
        /* the store's refusal, named after the file it was about */
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        ts_error_set(err, rc, "attachment %zu (\"%.60s\"): %s", n, f->name, msg);
    }
    ts_buf_free(&vnotice);
    ts_buf_free(&vto);
    ts_buf_free(&vname);
    ts_buf_free(&vmime);
    ts_buf_free(&vdata);
    ts_buf_free(&vsum);
    return rc;
}

int ts_notice_attachment(ts_store *st, const char *notice_id, const char *attachment_id, ts_attachment *out,
                         ts_error *err)
{
    char id[TS_KEY_MAX + 1];
    int len = strchr(attachment_id, ':') == NULL ? snprintf(id, sizeof id, "%s:%s", notice_id, attachment_id)
                                                 : snprintf(id, sizeof id, "%s", attachment_id);
    if (len < 0 || (size_t)len >= sizeof id) {
        memset(out, 0, sizeof *out);
        return ts_error_set(err, TS_ENOT_FOUND, "notice %.60s has no attachment %.60s", notice_id, attachment_id);
    }
    int rc = ts_attachment_read(st, notice_id, id, TS_ATTACHMENT_BYTES | TS_ATTACHMENT_VERIFY, out, err);
    /* the type goes into a header: only a well-formed one, whatever an older
     * schema let into the record */
    char mime[sizeof out->mime];
    if (rc == 0 && !ts__mime_norm(out->mime, mime, sizeof mime))
        snprintf(out->mime, sizeof out->mime, "application/octet-stream");
    else if (rc == 0)
        memcpy(out->mime, mime, sizeof mime);
    if (rc == 0 && !out->verified) {
        ts_log_error("attachment_corrupt", "id=%s sha256=%s", out->id, out->sha256);
        ts_attachment_free(out);
        rc = ts_error_set(err, TS_ESTORAGE, "attachment %s fails its SHA-256 check", out->id);
    }
    return rc;
}

/* ---------------------------------------------------------------- notices */

static const char *ts__doc_abbr(const char *doc_type)
{
    static const char *const map[][2] = {{"cong_van", "CV"}, {"thong_bao", "TB"}, {"ke_hoach", "KH"},
                                         {"cong_dien", "CĐ"}, {"giay_moi", "GM"}, {"quyet_dinh", "QĐ"},
                                         {"bao_cao", "BC"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(map[i][0], doc_type) == 0)
            return map[i][1];
    return "VB";
}

static void ts__log_sent(const char *id, const char *urgency, size_t recipients, size_t files, size_t bytes,
                         const ts_actor *who)
{
    ts_log_info("notice_sent", "id=%s urgency=%s recipients=%zu attachments=%zu attachment_bytes=%zu by=%s", id,
                urgency, recipients, files, bytes, who && who->name ? who->name : "-");
}

/* A notice's field as text, "" when it has none. */
static void ts__notice_text(ts_store *st, const char *id, const char *field, char *out, size_t size)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    out[0] = '\0';
    if (ts_store_get(st, "notices", id, &c, &arena, NULL) == 0) {
        ts_recjson_text(&c.v, field, out, size);
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
}

void ts_notice_log_sent(ts_store *st, const char *id, size_t recipients, const ts_actor *who)
{
    char urgency[32];
    ts__notice_text(st, id, "urgency", urgency, sizeof urgency);
    json_t *files = NULL;
    size_t bytes = 0;
    if (ts_attachment_list(st, id, false, &files, NULL) < 0)
        files = json_array();
    size_t k;
    json_t *f;
    json_array_foreach(files, k, f)
        bytes += (size_t)json_integer_value(json_object_get(f, "size"));
    ts__log_sent(id, urgency, recipients, json_array_size(files), bytes, who);
    json_decref(files);
}

void ts_report_log_redistributed(ts_store *st, const char *report_id, const char *notice_id, size_t recipients)
{
    char owner[TS_KEY_MAX + 1];
    ts__notice_text(st, notice_id, "source_station", owner, sizeof owner);
    ts_log_info("report_redistributed", "report=%s station=%s notice=%s recipients=%zu", report_id, owner, notice_id,
                recipients);
}

int ts_notice_create(ts_store *st, const ts_actor *who, const json_t *fields, const ts_strlist *stations,
                     char *id_out, size_t id_size, ts_error *err)
{
    return ts_notice_create_with(st, who, fields, NULL, stations, id_out, id_size, err);
}

int ts_notice_create_with(ts_store *st, const ts_actor *who, const json_t *fields, const json_t *attachments,
                          const ts_strlist *stations, char *id_out, size_t id_size, ts_error *err)
{
    if (!json_is_object(fields))
        return ts_error_set(err, TS_EBAD_VALUE, "a notice is a JSON object");
    if (stations->n == 0)
        return ts_error_set(err, TS_EBAD_VALUE, "a notice needs recipients");
    /* every attachment is checked (and decoded) before anything is written */
    ts__files files = {NULL, 0};
    int arc = ts__files_parse(st, attachments, &files, err);
    if (arc < 0)
        return arc;
    char id[64];
    ts_new_record_id("TB", id, sizeof id);
    json_t *f = json_deep_copy(fields);
    json_object_del(f, "recipients_spec");
    uint64_t now = ts_wall_ms();
    char now_iso[32];
    ts_time_iso(now, now_iso, sizeof now_iso);
    if (!json_object_get(f, "issue_date")) {
        char today[16];
        ts_local_day(now, today, sizeof today);
        json_object_set_new(f, "issue_date", json_string(today));
    }
    if (!json_object_get(f, "doc_type"))
        json_object_set_new(f, "doc_type", json_string("thong_bao"));
    if (!json_object_get(f, "number")) {
        uint64_t seq = ts_store_last_seq(st) % 100000;
        char number[48];
        snprintf(number, sizeof number, "%" PRIu64 "/%s-TTYT", seq, ts__doc_abbr(ts__jstr(f, "doc_type")));
        json_object_set_new(f, "number", json_string(number));
    }
    json_t *recips = json_array();
    if (stations->n > TS_AUDIENCE_MAX) {
        /* more than an audience list holds: only a notice to every station
         * may be that large, and its record is then for all ("*"); each
         * station still gets its own handling record below */
        int crc = ts__covers_all(st, stations, err);
        if (crc < 0) {
            json_decref(recips);
            json_decref(f);
            ts__files_free(&files);
            return crc;
        }
        json_array_append_new(recips, json_string("*"));
    } else {
        for (size_t i = 0; i < stations->n; i++)
            json_array_append_new(recips, json_string(stations->v[i]));
    }
    json_object_set_new(f, "recipients", recips);
    json_object_set_new(f, "sent_at", json_string(now_iso));
    if (who && who->name && !json_object_get(f, "sent_by"))
        json_object_set_new(f, "sent_by", json_string(who->name));
    const char *urgency = ts__jstr(f, "urgency");
    const char *deadline = ts__jstr(f, "deadline");

    /* inside a caller's transaction nothing is stored yet at our commit: the
     * caller says "sent" once its own commit is done */
    bool outermost = !ts_store_in_tx(st);
    int rc = ts_store_begin(st, err);
    if (rc < 0) {
        json_decref(f);
        ts__files_free(&files);
        return rc;
    }
    rc = ts_record_put_json(st, who, "notices", id, f, err);
    for (size_t i = 0; rc == 0 && i < stations->n; i++) {
        char rid[TS_KEY_MAX + 1];
        snprintf(rid, sizeof rid, "%s:%s", id, stations->v[i]);
        json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:s}", "notice_id", id, "station", stations->v[i], "urgency", urgency,
                              "state", "sent", "sent_at", now_iso);
        if (deadline[0])
            json_object_set_new(r, "deadline", json_string(deadline));
        rc = ts_record_put_json(st, who, "notice_recipients", rid, r, err);
        json_decref(r);
    }
    for (size_t i = 0; rc == 0 && i < files.n; i++)
        rc = ts__put_file(st, who, id, json_object_get(f, "recipients"), &files.v[i], i + 1, err);
    if (rc == 0)
        rc = ts_store_commit(st, err);
    else
        ts_store_rollback(st);
    if (rc == 0)
        snprintf(id_out, id_size, "%s", id);
    if (rc == 0 && outermost) {
        size_t bytes = 0;
        for (size_t i = 0; i < files.n; i++)
            bytes += files.v[i].len;
        ts__log_sent(id, urgency, stations->n, files.n, bytes, who);
    }
    json_decref(f);
    ts__files_free(&files);
    return rc;
}

static void ts__add_state_counts(json_t *counts, const char *state, bool overdue, bool escalated)
{
    json_t *v = json_object_get(counts, state);
    json_object_set_new(counts, state, json_integer(v ? json_integer_value(v) + 1 : 1));
    if (overdue) {
        json_t *o = json_object_get(counts, "overdue");
        json_object_set_new(counts, "overdue", json_integer(o ? json_integer_value(o) + 1 : 1));
    }
    if (escalated) {
        json_t *e = json_object_get(counts, "escalated");
        json_object_set_new(counts, "escalated", json_integer(e ? json_integer_value(e) + 1 : 1));
    }
}

static void ts__recipient_each(const ts_change *c, void *arg)
{
    json_t *f = ts__fields(c);
    json_object_set_new(f, "id", json_string(c->id));
    const ts_label *l = ts_label_find(ts_notice_states, 5, ts__jstr(f, "state"));
    if (l) {
        json_object_set_new(f, "state_vi", json_string(l->vi));
        json_object_set_new(f, "state_en", json_string(l->en));
    }
    json_array_append_new(arg, f);
}

static int ts__show(ts_store *st, const char *id, bool files, json_t **out, ts_error *err);

int ts_notice_show(ts_store *st, const char *id, json_t **out, ts_error *err)
{
    return ts__show(st, id, true, out, err);
}

int ts_notice_summary(ts_store *st, const char *id, json_t **out, ts_error *err)
{
    return ts__show(st, id, false, out, err);
}

static int ts__show(ts_store *st, const char *id, bool files, json_t **out, ts_error *err)
{
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change c;
    int rc = ts_store_get(st, "notices", id, &c, &arena, err);
    if (rc < 0) {
        ts_arena_free(&arena);
        return rc;
    }
    json_t *o = ts_recjson_record(&c, false);
    ts_version_free(&c.v);
    ts_arena_free(&arena);
    json_t *recips = json_array();
    ts_change_page page;
    ts_change_page_init(&page);
    char prefix[TS_KEY_MAX + 2];
    snprintf(prefix, sizeof prefix, "%s:", id);
    rc = ts__list_prefix(st, "notice_recipients", prefix, &page, ts__recipient_each, recips, err);
    ts_change_page_free(&page);
    json_t *counts = json_object();
    size_t i;
    json_t *r;
    json_array_foreach(recips, i, r)
        ts__add_state_counts(counts, ts__jstr(r, "state"), json_is_true(json_object_get(r, "overdue")),
                             json_object_get(r, "escalated_at") != NULL);
    json_object_set_new(o, "recipients", recips);
    json_object_set_new(o, "counts", counts);
    if (rc == 0 && files) {
        json_t *arr = NULL;
        rc = ts_attachment_list(st, id, false, &arr, err);
        json_object_set_new(o, "attachments", arr ? arr : json_array());
    } else if (rc == 0) {
        char **ids;
        size_t n;
        rc = ts_attachment_ids(st, id, &ids, &n, err);
        if (rc == 0) {
            json_object_set_new(o, "attachment_count", json_integer((json_int_t)n));
            ts_attachment_ids_free(ids, n);
        }
    }
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

typedef struct ts__list_ctx {
    ts_store *st;
    json_t *arr;
} ts__list_ctx;

static void ts__notice_each(const ts_change *c, void *arg)
{
    ts__list_ctx *x = arg;
    if (ts_version_deleted(&c->v))
        return;
    json_t *o = ts__fields(c);
    json_object_set_new(o, "id", json_string(c->id));
    json_object_del(o, "body");
    json_array_append_new(x->arr, o);
}

static int ts__by_sent_desc(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(ts__jstr(y, "sent_at"), ts__jstr(x, "sent_at"));
}

int ts_notice_list(ts_store *st, uint32_t limit, json_t **out, ts_error *err)
{
    ts_change_page page;
    ts_change_page_init(&page);
    json_t *all = json_array();
    ts__list_ctx x = {st, all};
    int rc = ts__list_prefix(st, "notices", "", &page, ts__notice_each, &x, err);
    ts_change_page_free(&page);
    if (rc < 0) {
        json_decref(all);
        return rc;
    }
    size_t n = json_array_size(all);
    json_t **items = ts_xcalloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(all, i);
    qsort(items, n, sizeof *items, ts__by_sent_desc);
    json_t *res = json_array();
    for (size_t i = 0; i < n && i < limit; i++) {
        json_t *detail;
        json_t *o = json_incref(items[i]);
        if (ts_notice_summary(st, ts__jstr(o, "id"), &detail, err) == 0) {
            json_object_set(o, "counts", json_object_get(detail, "counts"));
            json_object_set(o, "attachment_count", json_object_get(detail, "attachment_count"));
            json_object_set_new(o, "recipient_count", json_integer((json_int_t)json_array_size(json_object_get(detail, "recipients"))));
            json_decref(detail);
        }
        json_array_append_new(res, o);
    }
    free(items);
    json_decref(all);
    *out = res;
    return 0;
}

/* ---------------------------------------------------------------- NOTICE frames */

int ts_notice_frame(ts_store *st, const char *notice_id, const char *station, ts_buf *out, ts_error *err)
{
    ts_msg m;
    ts_msg_init(&m, TS_MSG_NOTICE);
    ts_change *ch = ts_msg_alloc_changes(&m, &m.u.notice.changes, 2);
    char rid[TS_KEY_MAX + 1];
    snprintf(rid, sizeof rid, "%s:%s", notice_id, station);
    int rc = ts_store_get(st, "notices", notice_id, &ch[0], &m.arena, err);
    if (rc == 0)
        rc = ts_store_get(st, "notice_recipients", rid, &ch[1], &m.arena, err);
    if (rc == 0) {
        char urgency[16];
        ts_recjson_text(&ch[0].v, "urgency", urgency, sizeof urgency);
        m.u.notice.seq = ch[1].seq;
        m.u.notice.id = ts_msg_strdup(&m, notice_id);
        m.u.notice.urgency = ts_msg_strdup(&m, urgency[0] ? urgency : "thuong");
        ts_msg_encode(&m, out);
    }
    ts_msg_free(&m);
    return rc;
}

typedef struct ts__pending {
    char notice[TS_KEY_MAX + 1];
    int rank;
    uint64_t seq;
} ts__pending;

static int ts__pending_cmp(const void *a, const void *b)
{
    const ts__pending *x = a, *y = b;
    if (x->rank != y->rank)
        return y->rank - x->rank; /* most urgent first */
    return (x->seq > y->seq) - (x->seq < y->seq);
}

int ts_notice_frames_pending(ts_store *st, const char *station, ts_buf *out, size_t *count, ts_error *err)
{
    *count = 0;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT id FROM records WHERE tbl = 'notice_recipients' AND audience = ?1 AND deleted = 0",
                           -1, &q, NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "pending notices: %s", sqlite3_errmsg(ts_store_db(st)));
    sqlite3_bind_text(q, 1, station, -1, SQLITE_STATIC);
    ts__pending *p = NULL;
    size_t n = 0;
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    while (sqlite3_step(q) == SQLITE_ROW) {
        ts_change c;
        if (ts_store_get(st, "notice_recipients", (const char *)sqlite3_column_text(q, 0), &c, &arena, err) < 0)
            continue;
        char state[24], notice[TS_KEY_MAX + 1], urgency[16];
        ts_recjson_text(&c.v, "state", state, sizeof state);
        ts_recjson_text(&c.v, "notice_id", notice, sizeof notice);
        ts_recjson_text(&c.v, "urgency", urgency, sizeof urgency);
        if (strcmp(state, "sent") == 0 && notice[0]) {
            p = ts_xreallocarray(p, n + 1, sizeof *p);
            snprintf(p[n].notice, sizeof p[n].notice, "%s", notice);
            p[n].rank = ts_urgency_rank(urgency);
            p[n].seq = c.seq;
            n++;
        }
        ts_version_free(&c.v);
    }
    sqlite3_finalize(q);
    ts_arena_free(&arena);
    if (n > 1)
        qsort(p, n, sizeof *p, ts__pending_cmp);
    /* one notice that cannot be framed must not hold back the others */
    for (size_t i = 0; i < n; i++) {
        ts_error ferr;
        if (ts_notice_frame(st, p[i].notice, station, out, &ferr) == 0)
            (*count)++;
        else
            ts_log_warn("notice_frame_failed", "station=%s notice=%s reason=%s", station, p[i].notice, ferr.msg);
    }
    free(p);
    return 0;
}

/* ---------------------------------------------------------------- reports */

/* "Trạm Y tế xã Bình Nguyên": the directory's name for a station, else its
 * certificate's commune, else (never seen) its code. People read names. */
static void ts__station_name(ts_store *st, const char *code, char *out, size_t size)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    ts_error err;
    out[0] = '\0';
    if (ts_store_get(st, "stations", code, &c, &arena, &err) == 0) {
        ts_recjson_text(&c.v, "name", out, size);
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    if (out[0])
        return;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st), "SELECT commune FROM station_status WHERE station = ?1", -1, &q, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(q, 1, code, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0) && sqlite3_column_bytes(q, 0) > 0)
            snprintf(out, size, "Trạm Y tế xã %s", (const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
    }
    if (!out[0])
        snprintf(out, size, "%s", code);
}

/* "2026-12-07" -> "07/12/2026"; "2026-12-07T09:30:00+07:00" -> "07/12/2026
 * 09:30", the wall time where it was written (the station's, in Vietnam);
 * anything else as it is. */
void ts_vn_date(const char *iso, char *out, size_t size)
{
    int y, mo, d, h, mi;
    if (sscanf(iso, "%4d-%2d-%2dT%2d:%2d", &y, &mo, &d, &h, &mi) == 5)
        snprintf(out, size, "%02d/%02d/%04d %02d:%02d", d, mo, y, h, mi);
    else if (sscanf(iso, "%4d-%2d-%2d", &y, &mo, &d) == 3)
        snprintf(out, size, "%02d/%02d/%04d", d, mo, y);
    else
        snprintf(out, size, "%s", iso);
}

/* The epidemiological fields a report may carry, as the notice keeps them
 * (its own fields, and lines of its body for people). */
static const struct {
    const char *field, *label;
    bool is_date;
} ts__epi_fields[] = {
    {"disease", "Bệnh", false},         {"cases", "Số ca mắc", false},   {"deaths", "Số tử vong", false},
    {"onset_date", "Ngày khởi phát", true}, {"location", "Địa điểm", false},
};

int ts_report_redistribute(ts_store *st, const ts_actor *who, const char *report_id, const json_t *overrides,
                           const ts_strlist *stations, char *id_out, size_t id_size, ts_error *err)
{
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change c;
    int rc = ts_store_get(st, "reports", report_id, &c, &arena, err);
    if (rc < 0) {
        ts_arena_free(&arena);
        return rc;
    }
    json_t *rep = ts__fields(&c);
    char owner[TS_KEY_MAX + 1];
    snprintf(owner, sizeof owner, "%s", c.owner);
    ts_version_free(&c.v);
    ts_arena_free(&arena);

    char station_name[256], when[40];
    ts__station_name(st, owner, station_name, sizeof station_name);
    ts_vn_date(ts__jstr(rep, "reported_at"), when, sizeof when);
    const ts_label *kind = ts_label_find(ts_report_kinds, 9, ts__jstr(rep, "kind"));
    ts_buf body = TS_BUF_INIT;
    ts_buf_printf(&body, "Loại báo cáo: %s\nĐơn vị báo cáo: %s\nThời điểm báo cáo: %s\n", kind ? kind->vi : "Báo cáo",
                  station_name, when);
    if (ts__jstr(rep, "reported_by")[0])
        ts_buf_printf(&body, "Người báo cáo: %s\n", ts__jstr(rep, "reported_by"));
    json_t *f = json_object();
    for (size_t i = 0; i < sizeof ts__epi_fields / sizeof *ts__epi_fields; i++) {
        json_t *v = json_object_get(rep, ts__epi_fields[i].field);
        if (v == NULL || json_is_null(v))
            continue;
        json_object_set(f, ts__epi_fields[i].field, v);
        char text[320];
        if (json_is_integer(v))
            snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (ts__epi_fields[i].is_date)
            ts_vn_date(json_string_value(v) ? json_string_value(v) : "", text, sizeof text);
        else
            snprintf(text, sizeof text, "%s", json_string_value(v) ? json_string_value(v) : "");
        ts_buf_printf(&body, "%s: %s\n", ts__epi_fields[i].label, text);
    }
    if (ts__jstr(rep, "body")[0])
        ts_buf_printf(&body, "\n%s", ts__jstr(rep, "body"));
    char subject[600];
    snprintf(subject, sizeof subject, "Chuyển tiếp báo cáo của %s: %s", station_name, ts__jstr(rep, "subject"));
    const char *category = json_object_get(rep, "category") ? ts__jstr(rep, "category") : "prevention";
    const char *urgency = json_object_get(rep, "urgency") ? ts__jstr(rep, "urgency") : "khan";
    json_object_set_new(f, "doc_type", json_string("thong_bao"));
    json_object_set_new(f, "subject", json_string(subject));
    json_object_set_new(f, "body", json_stringn((const char *)body.data, body.len));
    json_object_set_new(f, "category", json_string(category));
    json_object_set_new(f, "urgency", json_string(urgency));
    json_object_set_new(f, "source_report", json_string(report_id));
    json_object_set_new(f, "source_station", json_string(owner));
    json_object_set_new(f, "issuer", json_string("Trung tâm Y tế khu vực"));
    ts_buf_free(&body);
    if (json_is_object(overrides)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)overrides, k, v)
            if (strcmp(k, "source_report") != 0 && strcmp(k, "source_station") != 0)
                json_object_set(f, k, v);
    }
    bool outermost = !ts_store_in_tx(st);
    rc = ts_notice_create(st, who, f, stations, id_out, id_size, err);
    json_decref(f);
    json_decref(rep);
    if (rc == 0 && outermost)
        ts_log_info("report_redistributed", "report=%s station=%s notice=%s recipients=%zu", report_id, owner, id_out,
                    stations->n);
    return rc;
}

/* ---------------------------------------------------------------- plan tasks */

int ts_task_assign(ts_store *st, const ts_actor *who, const char *task_id, const ts_strlist *stations,
                   const char *deadline, const char *instructions, ts_error *err)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    int rc = ts_store_get(st, "plan_tasks", task_id, &c, &arena, err);
    char task_deadline[16] = "";
    if (rc == 0) {
        ts_recjson_text(&c.v, "deadline", task_deadline, sizeof task_deadline);
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    if (rc < 0)
        return rc;
    char now_iso[32];
    ts_time_iso(ts_wall_ms(), now_iso, sizeof now_iso);
    if ((rc = ts_store_begin(st, err)) < 0)
        return rc;
    for (size_t i = 0; i < stations->n && rc == 0; i++) {
        char id[TS_KEY_MAX + 1];
        snprintf(id, sizeof id, "%s:%s", task_id, stations->v[i]);
        /* assigning again changes the deadline or instructions, never the
         * station's progress: state and assigned_at stay as they are */
        ts_arena_init(&arena, 1024);
        ts_change existing;
        bool again = ts_store_get(st, "task_assignments", id, &existing, &arena, NULL) == 0;
        if (again)
            ts_version_free(&existing.v);
        ts_arena_free(&arena);
        json_t *f = again ? json_object()
                          : json_pack("{s:s,s:s,s:s,s:s}", "task_id", task_id, "station", stations->v[i],
                                      "assigned_at", now_iso, "state", "sent");
        const char *dl = deadline && deadline[0] ? deadline : again ? "" : task_deadline;
        if (dl[0])
            json_object_set_new(f, "deadline", json_string(dl));
        if (instructions && instructions[0])
            json_object_set_new(f, "instructions", json_string(instructions));
        if (json_object_size(f) > 0)
            rc = ts_record_put_json(st, who, "task_assignments", id, f, err);
        json_decref(f);
    }
    if (rc == 0)
        rc = ts_store_commit(st, err);
    else
        ts_store_rollback(st);
    return rc;
}

int ts_task_show(ts_store *st, const char *task_id, json_t **out, ts_error *err)
{
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change c;
    int rc = ts_store_get(st, "plan_tasks", task_id, &c, &arena, err);
    if (rc < 0) {
        ts_arena_free(&arena);
        return rc;
    }
    json_t *o = ts_recjson_record(&c, false);
    ts_version_free(&c.v);
    ts_arena_free(&arena);
    json_t *assigned = json_array();
    ts_change_page page;
    ts_change_page_init(&page);
    char prefix[TS_KEY_MAX + 2];
    snprintf(prefix, sizeof prefix, "%s:", task_id);
    rc = ts__list_prefix(st, "task_assignments", prefix, &page, ts__recipient_each, assigned, err);
    ts_change_page_free(&page);
    json_object_set_new(o, "assignments", assigned);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* ---------------------------------------------------------------- escalation */

typedef struct ts__esc_ctx {
    ts_store *st;
    const ts_notice_policy *policy;
    uint64_t now;
    const char *table;
    ts_escalation *items;
    size_t n;
    ts_strlist ids_ack; /* records to flag, collected first: no writes while listing */
    ts_strlist ids_overdue;
    json_t *na_tasks; /* tasks set aside as not applicable: never overdue */
} ts__esc_ctx;

/* the first reminder when ack_within has passed since it was sent, then one
 * every remind_every after the last; none once acknowledged (rank 2) */
static uint64_t ts__next_reminder(const ts_notice_policy *p, const char *state, const char *urgency,
                                  const char *sent_at, const char *escalated)
{
    int rank = ts_state_rank(state);
    if (rank < 0 || rank >= 2)
        return 0;
    int u = ts_urgency_rank(urgency);
    u = u < 0 ? 0 : u;
    uint64_t t;
    if (escalated[0] == '\0')
        return p->ack_within_ms[u] && ts_time_parse(sent_at, &t) ? t + p->ack_within_ms[u] : 0;
    return p->remind_every_ms[u] && ts_time_parse(escalated, &t) ? t + p->remind_every_ms[u] : 0;
}

uint64_t ts_notice_next_reminder(const ts_notice_policy *policy, const json_t *r)
{
    if (json_object_get(r, "recalled_at") != NULL)
        return 0;
    const char *keys[] = {"state", "urgency", "sent_at", "escalated_at"};
    const char *v[4];
    for (int i = 0; i < 4; i++) {
        const json_t *x = json_object_get(r, keys[i]);
        v[i] = json_is_string(x) ? json_string_value(x) : "";
    }
    return ts__next_reminder(policy, v[0], v[1], v[2], v[3]);
}

static void ts__esc_each(const ts_change *c, void *arg)
{
    ts__esc_ctx *x = arg;
    if (ts_version_deleted(&c->v))
        return;
    char state[24], urgency[16], sent_at[40], deadline[40], escalated[40], recalled[40];
    ts_recjson_text(&c->v, "state", state, sizeof state);
    ts_recjson_text(&c->v, "urgency", urgency, sizeof urgency);
    ts_recjson_text(&c->v, strcmp(x->table, "notice_recipients") == 0 ? "sent_at" : "assigned_at", sent_at,
                    sizeof sent_at);
    ts_recjson_text(&c->v, "deadline", deadline, sizeof deadline);
    ts_recjson_text(&c->v, "escalated_at", escalated, sizeof escalated);
    ts_recjson_text(&c->v, "recalled_at", recalled, sizeof recalled);
    const ts_field *ov = ts_version_field(&c->v, "overdue");
    bool overdue = ov && ov->value_len == 1 && ov->value[0] == 0xc3;
    int rank = ts_state_rank(state);
    uint64_t t;
    if (recalled[0]) /* a recalled notice asks nothing of anyone any more */
        return;
    if (strcmp(x->table, "notice_recipients") == 0) {
        uint64_t next = ts__next_reminder(x->policy, state, urgency, sent_at, escalated);
        if (next && x->now >= next)
            ts_strlist_add(&x->ids_ack, c->id);
    }
    char task_id[TS_KEY_MAX + 1] = "";
    if (strcmp(x->table, "task_assignments") == 0)
        ts_recjson_text(&c->v, "task_id", task_id, sizeof task_id);
    if (rank >= 0 && rank < 4 && !overdue && deadline[0] && !json_object_get(x->na_tasks, task_id) &&
        (strlen(deadline) == 10 ? ts_local_day_end(deadline, &t) : ts_time_parse(deadline, &t))) {
        /* a date-only deadline ends with that day, the district's */
        if (x->now >= t)
            ts_strlist_add(&x->ids_overdue, c->id);
    }
}

static int ts__flag(ts__esc_ctx *x, const char *id, ts_escalation_kind kind, ts_error *err)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    int rc = ts_store_get(x->st, x->table, id, &c, &arena, err);
    if (rc < 0) {
        ts_arena_free(&arena);
        return rc;
    }
    ts_escalation e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    snprintf(e.table, sizeof e.table, "%s", x->table);
    snprintf(e.id, sizeof e.id, "%s", id);
    ts_recjson_text(&c.v, strcmp(x->table, "notice_recipients") == 0 ? "notice_id" : "task_id", e.notice,
                    sizeof e.notice);
    ts_recjson_text(&c.v, "station", e.station, sizeof e.station);
    ts_recjson_text(&c.v, "urgency", e.urgency, sizeof e.urgency);
    json_t *f = json_object();
    char now_iso[32];
    ts_time_iso(x->now, now_iso, sizeof now_iso);
    if (kind == TS_ESC_NOT_ACKNOWLEDGED) {
        const ts_field *rc_field = ts_version_field(&c.v, "resend_count");
        json_t *prev = rc_field ? ts_recjson_value(rc_field->value, rc_field->value_len) : NULL;
        json_object_set_new(f, "escalated_at", json_string(now_iso));
        json_object_set_new(f, "resend_count", json_integer(json_is_integer(prev) ? json_integer_value(prev) + 1 : 1));
        json_decref(prev);
        /* when each reminder went, the latest 100 */
        const ts_field *rm = ts_version_field(&c.v, "reminders");
        json_t *list = rm ? ts_recjson_value(rm->value, rm->value_len) : NULL;
        if (!json_is_array(list)) {
            json_decref(list);
            list = json_array();
        }
        while (json_array_size(list) >= 100)
            json_array_remove(list, 0);
        json_array_append_new(list, json_string(now_iso));
        json_object_set_new(f, "reminders", list);
    } else {
        json_object_set_new(f, "overdue", json_true());
    }
    ts_version_free(&c.v);
    ts_arena_free(&arena);
    ts_actor who = {TS_ACTOR_LOCAL, "escalation", NULL, "timer"};
    rc = ts_record_put_json(x->st, &who, x->table, id, f, err);
    json_decref(f);
    if (rc == 0) {
        x->items = ts_xreallocarray(x->items, x->n + 1, sizeof *x->items);
        x->items[x->n++] = e;
        ts_log_warn(kind == TS_ESC_NOT_ACKNOWLEDGED ? "notice_escalated" : "overdue", "table=%s id=%s station=%s urgency=%s",
                    e.table, e.id, e.station, e.urgency[0] ? e.urgency : "-");
    }
    return rc;
}

int ts_notices_escalate(ts_store *st, const ts_notice_policy *policy, uint64_t now_ms, ts_escalation **out,
                        size_t *n, ts_error *err)
{
    *out = NULL;
    *n = 0;
    static const char *const tables[] = {"notice_recipients", "task_assignments"};
    ts__esc_ctx x;
    memset(&x, 0, sizeof x);
    x.st = st;
    x.policy = policy;
    x.now = now_ms;
    x.na_tasks = ts_plan_task_na_all(st);
    ts_change_page page;
    ts_change_page_init(&page);
    int rc = 0;
    for (size_t t = 0; t < 2 && rc == 0; t++) {
        x.table = tables[t];
        rc = ts__list_prefix(st, x.table, "", &page, ts__esc_each, &x, err);
        for (size_t i = 0; rc == 0 && i < x.ids_ack.n; i++)
            rc = ts__flag(&x, x.ids_ack.v[i], TS_ESC_NOT_ACKNOWLEDGED, err);
        for (size_t i = 0; rc == 0 && i < x.ids_overdue.n; i++)
            rc = ts__flag(&x, x.ids_overdue.v[i], TS_ESC_OVERDUE, err);
        ts_strlist_free(&x.ids_ack);
        ts_strlist_free(&x.ids_overdue);
    }
    ts_change_page_free(&page);
    json_decref(x.na_tasks);
    /* each flag is its own transaction: those stored before a failure (a
     * full disk) stay, and the caller must still act on them */
    *out = x.items;
    *n = x.n;
    return rc;
}

/* ---------------------------------------------------------------- state checks */

bool ts_notices_check_change(void *ctx, const struct ts_table_def *t, const ts_version *before,
                             const ts_version *change, const ts_version *after, char *why, size_t why_size)
{
    (void)ctx;
    if (before == NULL || (strcmp(t->name, "notice_recipients") != 0 && strcmp(t->name, "task_assignments") != 0))
        return true;
    char from[24], to[24], reason[2048] = "";
    ts_recjson_text(before, "state", from, sizeof from);
    ts_recjson_text(after, "state", to, sizeof to);
    if (strcmp(from, to) == 0)
        return true;
    /* a reason counts only when written with this change, not left over
     * from an earlier reopening */
    const ts_field *r = ts_version_field(change, "reopen_reason");
    if (r != NULL && !ts_vv_covers(&before->vv, &r->dot))
        ts_recjson_text(change, "reopen_reason", reason, sizeof reason);
    if (ts_state_transition_ok(from, to, reason, why, why_size))
        return true;
    size_t n = strlen(why);
    snprintf(why + n, why_size - n, " (%s)", t->name);
    return false;
}
