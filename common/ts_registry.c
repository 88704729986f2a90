#include "common/ts_registry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/ts_mp.h"
#include "common/ts_xmalloc.h"

/* generated from common/schema/tables.json by the Makefile */
extern const unsigned char ts_schema_tables_json[];
extern const size_t ts_schema_tables_json_len;

static const char *const ts__type_names[] = {"text", "int", "real", "bool", "date",
                                             "datetime", "enum", "list", "bin"};

const char *ts_field_type_name(ts_field_type type)
{
    return (unsigned)type <= TS_FT_BIN ? ts__type_names[type] : "unknown";
}

const char *ts_table_kind_name(ts_table_kind kind)
{
    switch (kind) {
    case TS_TABLE_STATION: return "station";
    case TS_TABLE_DISTRICT: return "district";
    case TS_TABLE_SHARED: return "shared";
    }
    return "unknown";
}

static void ts__field_free(ts_field_def *f)
{
    free(f->name);
    for (size_t i = 0; i < f->nvalues; i++) {
        free(f->values[i]);
        if (f->value_vi)
            free(f->value_vi[i]);
        if (f->value_en)
            free(f->value_en[i]);
    }
    free(f->values);
    free(f->value_vi);
    free(f->value_en);
    if (f->has_pattern)
        regfree(&f->pattern);
    free(f->pattern_src);
    free(f->fast);
    free(f->sha256_of_name);
    free(f->label_vi);
    free(f->label_en);
}

void ts_registry_free(ts_registry *reg)
{
    for (size_t i = 0; i < reg->ntables; i++) {
        ts_table_def *t = &reg->tables[i];
        for (size_t j = 0; j < t->nfields; j++)
            ts__field_free(&t->fields[j]);
        free(t->fields);
        free(t->name);
        free(t->label_vi);
        free(t->label_en);
    }
    free(reg->tables);
    free(reg->district_owner);
    memset(reg, 0, sizeof *reg);
}

static struct ts_fast_pattern *ts__fast_compile(const char *re);

static int ts__name_cmp(const void *a, const void *b)
{
    return strcmp(((const ts_field_def *)a)->name, ((const ts_field_def *)b)->name);
}

static int ts__table_cmp(const void *a, const void *b)
{
    return strcmp(((const ts_table_def *)a)->name, ((const ts_table_def *)b)->name);
}

static int ts__load_field(ts_field_def *f, const char *tname, const char *name, json_t *spec, ts_error *err)
{
    f->name = ts_xstrdup(name);
    if (!ts_field_name_valid(name, strlen(name)) || name[0] == '_')
        return ts_error_set(err, TS_EBAD_VALUE, "table %s: \"%s\" is not a valid field name", tname, name);
    if (!json_is_object(spec))
        return ts_error_set(err, TS_EBAD_VALUE, "table %s, field %s: must be an object", tname, name);
    const char *type = json_string_value(json_object_get(spec, "type"));
    int ti = -1;
    for (int i = 0; type && i <= TS_FT_BIN; i++)
        if (strcmp(type, ts__type_names[i]) == 0)
            ti = i;
    if (ti < 0)
        return ts_error_set(err, TS_EBAD_VALUE, "table %s, field %s: unknown type \"%s\"", tname, name,
                            type ? type : "(none)");
    f->type = (ts_field_type)ti;
    f->required = json_is_true(json_object_get(spec, "required"));
    for (int i = 0; i < 2; i++) {
        json_t *l = json_object_get(spec, i ? "label_en" : "label_vi");
        if (l != NULL && (!json_is_string(l) || json_string_length(l) == 0))
            return ts_error_set(err, TS_EBAD_VALUE, "table %s, field %s: %s must be a non-empty string", tname, name,
                                i ? "label_en" : "label_vi");
        *(i ? &f->label_en : &f->label_vi) = ts_xstrdup(l ? json_string_value(l) : name);
    }
    json_t *mn = json_object_get(spec, "min"), *mx = json_object_get(spec, "max");
    if (mn != NULL) {
        if (!json_is_number(mn))
            return ts_error_set(err, TS_EBAD_VALUE, "table %s, field %s: min must be a number", tname, name);
        f->has_min = true;
        f->min = json_number_value(mn);
    }
    if (mx != NULL) {
        if (!json_is_number(mx))
            return ts_error_set(err, TS_EBAD_VALUE, "table %s, field %s: max must be a number", tname, name);
        f->has_max = true;
        f->max = json_number_value(mx);
    }
    json_t *values = json_object_get(spec, "values");
    if (f->type == TS_FT_ENUM) {
        if (!json_is_array(values) || json_array_size(values) == 0)
            return ts_error_set(err, TS_EBAD_VALUE, "table %s, field %s: enum needs values", tname, name);
        f->nvalues = json_array_size(values);
        f->values = ts_xcalloc(f->nvalues, sizeof *f->values);
        for (size_t i = 0; i < f->nvalues; i++) {
            const char *v = json_string_value(json_array_get(values, i));
            if (v == NULL)
                return ts_error_set(err, TS_EBAD_VALUE, "table %s, field %s: enum values are strings", tname, name);
            f->values[i] = ts_xstrdup(v);
        }
    }
    const char *pattern = json_string_value(json_object_get(spec, "pattern"));
    if (pattern != NULL) {
        f->pattern_src = ts_xstrdup(pattern);
        if (regcomp(&f->pattern, pattern, REG_EXTENDED | REG_NOSUB) != 0)
            return ts_error_set(err, TS_EBAD_VALUE, "table %s, field %s: bad pattern", tname, name);
        f->has_pattern = true;
        f->fast = ts__fast_compile(pattern);
    }
    json_t *sum = json_object_get(spec, "sha256_of");
    if (sum != NULL) {
        if (!json_is_string(sum))
            return ts_error_set(err, TS_EBAD_VALUE, "table %s, field %s: sha256_of must name a field", tname, name);
        f->sha256_of_name = ts_xstrdup(json_string_value(sum));
    }
    return 0;
}

/* A checksum field (sha256_of) names another field of the table, of bytes
 * (bin or text); both are written by the same side, or a station could
 * write one and never the other. Run once the fields are sorted and the
 * station-writable ones marked. */
static int ts__link_checksums(ts_table_def *t, ts_error *err)
{
    for (size_t i = 0; i < t->nfields; i++) {
        ts_field_def *f = &t->fields[i];
        if (f->sha256_of_name == NULL)
            continue;
        if (f->type != TS_FT_TEXT)
            return ts_error_set(err, TS_EBAD_VALUE,
                                "table %s, field %s: sha256_of needs a text field (it holds 64 hex digits)", t->name,
                                f->name);
        const ts_field_def *of = ts_table_field(t, f->sha256_of_name);
        if (of == NULL)
            return ts_error_set(err, TS_EBAD_VALUE, "table %s, field %s: sha256_of names unknown field %s", t->name,
                                f->name, f->sha256_of_name);
        if (of == f)
            return ts_error_set(err, TS_EBAD_VALUE, "table %s, field %s: sha256_of cannot name the field itself",
                                t->name, f->name);
        if (of->type != TS_FT_BIN && of->type != TS_FT_TEXT)
            return ts_error_set(err, TS_EBAD_VALUE, "table %s, field %s: sha256_of must name a bin or text field",
                                t->name, f->name);
        if (of->station_writable != f->station_writable)
            return ts_error_set(err, TS_EBAD_VALUE,
                                "table %s: fields %s and %s must both be station-writable or neither (%s is the "
                                "SHA-256 of %s)",
                                t->name, f->name, of->name, f->name, of->name);
        f->sha256_of = of;
        t->has_checksums = true;
    }
    return 0;
}

/* "value_labels": {"field": {"value": ["vi", "en"], ...}, ...}: names for
 * people of an enum field's values, beside the table's fields (run once the
 * fields are sorted). A value without a label is named by itself. */
static int ts__load_value_labels(ts_table_def *t, json_t *labels, ts_error *err)
{
    for (size_t i = 0; i < t->nfields; i++) {
        ts_field_def *f = &t->fields[i];
        if (f->nvalues == 0)
            continue;
        f->value_vi = ts_xcalloc(f->nvalues, sizeof *f->value_vi);
        f->value_en = ts_xcalloc(f->nvalues, sizeof *f->value_en);
    }
    if (labels != NULL && !json_is_object(labels))
        return ts_error_set(err, TS_EBAD_VALUE, "table %s: value_labels must be an object", t->name);
    const char *fname;
    json_t *fl;
    json_object_foreach(labels, fname, fl) {
        ts_field_def *f = (ts_field_def *)ts_table_field(t, fname);
        if (f == NULL || f->type != TS_FT_ENUM)
            return ts_error_set(err, TS_EBAD_VALUE, "table %s: value_labels names %s, not an enum field", t->name,
                                fname);
        if (!json_is_object(fl))
            return ts_error_set(err, TS_EBAD_VALUE, "table %s: value_labels of %s must be an object", t->name, fname);
        const char *value;
        json_t *pair;
        json_object_foreach(fl, value, pair) {
            size_t k = 0;
            while (k < f->nvalues && strcmp(f->values[k], value) != 0)
                k++;
            if (k == f->nvalues)
                return ts_error_set(err, TS_EBAD_VALUE, "table %s, field %s: value_labels names unknown value %s",
                                    t->name, fname, value);
            const char *vi = json_string_value(json_array_get(pair, 0));
            const char *en = json_string_value(json_array_get(pair, 1));
            if (!json_is_array(pair) || json_array_size(pair) != 2 || vi == NULL || en == NULL || !vi[0] || !en[0])
                return ts_error_set(err, TS_EBAD_VALUE,
                                    "table %s, field %s: the label of %s must be [\"Vietnamese\", \"English\"]",
                                    t->name, fname, value);
            free(f->value_vi[k]);
            free(f->value_en[k]);
            f->value_vi[k] = ts_xstrdup(vi);
            f->value_en[k] = ts_xstrdup(en);
        }
    }
    for (size_t i = 0; i < t->nfields; i++) {
        ts_field_def *f = &t->fields[i];
        for (size_t k = 0; k < f->nvalues; k++) {
            if (f->value_vi[k] == NULL)
                f->value_vi[k] = ts_xstrdup(f->values[k]);
            if (f->value_en[k] == NULL)
                f->value_en[k] = ts_xstrdup(f->values[k]);
        }
    }
    return 0;
}

const char *ts_field_value_label(const ts_field_def *f, const char *value, bool en)
{
    if (f == NULL || value == NULL)
        return value;
    for (size_t k = 0; k < f->nvalues; k++)
        if (strcmp(f->values[k], value) == 0 && f->value_vi != NULL)
            return en ? f->value_en[k] : f->value_vi[k];
    return value;
}

static int ts__load_table(ts_registry *reg, ts_table_def *t, const char *name, json_t *spec, ts_error *err)
{
    (void)reg;
    t->name = ts_xstrdup(name);
    if (!ts_field_name_valid(name, strlen(name)))
        return ts_error_set(err, TS_EBAD_VALUE, "\"%s\" is not a valid table name", name);
    const char *kind = json_string_value(json_object_get(spec, "kind"));
    if (kind && strcmp(kind, "station") == 0)
        t->kind = TS_TABLE_STATION;
    else if (kind && strcmp(kind, "district") == 0)
        t->kind = TS_TABLE_DISTRICT;
    else if (kind && strcmp(kind, "shared") == 0)
        t->kind = TS_TABLE_SHARED;
    else
        return ts_error_set(err, TS_EBAD_VALUE, "table %s: kind must be station, district or shared", name);
    t->personal = json_is_true(json_object_get(spec, "personal"));
    const char *vi = json_string_value(json_object_get(spec, "label_vi"));
    const char *en = json_string_value(json_object_get(spec, "label_en"));
    t->label_vi = ts_xstrdup(vi ? vi : name);
    t->label_en = ts_xstrdup(en ? en : name);

    json_t *fields = json_object_get(spec, "fields");
    if (!json_is_object(fields) || json_object_size(fields) == 0)
        return ts_error_set(err, TS_EBAD_VALUE, "table %s: fields must be a non-empty object", name);
    t->nfields = json_object_size(fields);
    t->fields = ts_xcalloc(t->nfields, sizeof *t->fields);
    size_t i = 0;
    const char *fname;
    json_t *fspec;
    json_object_foreach(fields, fname, fspec) {
        int rc = ts__load_field(&t->fields[i++], name, fname, fspec, err);
        if (rc < 0)
            return rc;
    }
    qsort(t->fields, t->nfields, sizeof *t->fields, ts__name_cmp);
    int vrc = ts__load_value_labels(t, json_object_get(spec, "value_labels"), err);
    if (vrc < 0)
        return vrc;

    json_t *writable = json_object_get(spec, "station_writable");
    for (size_t k = 0; k < json_array_size(writable); k++) {
        const char *w = json_string_value(json_array_get(writable, k));
        ts_field_def *f = w ? (ts_field_def *)ts_table_field(t, w) : NULL;
        if (f == NULL)
            return ts_error_set(err, TS_EBAD_VALUE, "table %s: station_writable names unknown field %s", name,
                                w ? w : "(not a string)");
        f->station_writable = true;
    }
    if (t->kind == TS_TABLE_SHARED && json_array_size(writable) == 0)
        return ts_error_set(err, TS_EBAD_VALUE, "table %s: a shared table needs station_writable", name);
    int lrc = ts__link_checksums(t, err);
    if (lrc < 0)
        return lrc;

    const char *aud = json_string_value(json_object_get(spec, "audience"));
    const char *aud_field = json_string_value(json_object_get(spec, "audience_field"));
    if (t->kind != TS_TABLE_STATION) {
        if (aud && strcmp(aud, "all") == 0) {
            t->audience_all = true;
        } else if (aud_field) {
            t->audience = ts_table_field(t, aud_field);
            if (t->audience == NULL || !t->audience->required ||
                (t->audience->type != TS_FT_TEXT && t->audience->type != TS_FT_LIST))
                return ts_error_set(err, TS_EBAD_VALUE,
                                    "table %s: audience_field must name a required text or list field", name);
            if (t->audience->station_writable)
                return ts_error_set(err, TS_EBAD_VALUE, "table %s: stations may not write the audience field",
                                    name);
        } else {
            return ts_error_set(err, TS_EBAD_VALUE, "table %s: needs audience \"all\" or audience_field", name);
        }
    }
    const char *prio = json_string_value(json_object_get(spec, "priority_field"));
    if (prio) {
        t->priority = ts_table_field(t, prio);
        if (t->priority == NULL || t->priority->type != TS_FT_ENUM)
            return ts_error_set(err, TS_EBAD_VALUE, "table %s: priority_field must name an enum field", name);
    }
    return 0;
}

int ts_registry_load_json(ts_registry *reg, const char *json, size_t len, ts_error *err)
{
    memset(reg, 0, sizeof *reg);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return ts_error_set(err, TS_EBAD_VALUE, "table registry: line %d: %s", jerr.line, jerr.text);
    int rc = 0;
    json_t *tables = json_object_get(root, "tables");
    const char *owner = json_string_value(json_object_get(root, "district_owner"));
    reg->version = (int)json_integer_value(json_object_get(root, "version"));
    reg->district_owner = ts_xstrdup(owner ? owner : "district");
    if (!json_is_object(tables) || json_object_size(tables) == 0) {
        rc = ts_error_set(err, TS_EBAD_VALUE, "table registry: \"tables\" must be a non-empty object");
        goto out;
    }
    reg->ntables = json_object_size(tables);
    reg->tables = ts_xcalloc(reg->ntables, sizeof *reg->tables);
    size_t i = 0;
    const char *name;
    json_t *spec;
    json_object_foreach(tables, name, spec) {
        if ((rc = ts__load_table(reg, &reg->tables[i++], name, spec, err)) < 0)
            goto out;
    }
    qsort(reg->tables, reg->ntables, sizeof *reg->tables, ts__table_cmp);
out:
    json_decref(root);
    if (rc < 0)
        ts_registry_free(reg);
    return rc;
}

int ts_registry_load_default(ts_registry *reg, ts_error *err)
{
    return ts_registry_load_json(reg, (const char *)ts_schema_tables_json, ts_schema_tables_json_len, err);
}

int ts_registry_load_file(ts_registry *reg, const char *path, ts_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return ts_error_set(err, TS_EIO, "cannot open table registry %s", path);
    ts_buf b = TS_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ts_buf_append(&b, chunk, n);
    fclose(f);
    int rc = ts_registry_load_json(reg, (const char *)b.data, b.len, err);
    ts_buf_free(&b);
    return rc;
}

const ts_table_def *ts_registry_table(const ts_registry *reg, const char *name)
{
    size_t lo = 0, hi = reg->ntables;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(reg->tables[mid].name, name);
        if (c == 0)
            return &reg->tables[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const ts_field_def *ts_table_field(const ts_table_def *t, const char *name)
{
    size_t lo = 0, hi = t->nfields;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->fields[mid].name, name);
        if (c == 0)
            return &t->fields[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---------------------------------------------------------------- values */

static bool ts__digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int ts__num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

bool ts_date_valid(const char *s, size_t n)
{
    if (n != 10 || s[4] != '-' || s[7] != '-' || !ts__digits(s, 4) || !ts__digits(s + 5, 2) ||
        !ts__digits(s + 8, 2))
        return false;
    int y = ts__num(s, 4), m = ts__num(s + 5, 2), d = ts__num(s + 8, 2);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1800 || m < 1 || m > 12 || d < 1)
        return false;
    int max = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    return d <= max;
}

bool ts_datetime_valid(const char *s, size_t n)
{
    if (n < 20 || !ts_date_valid(s, 10) || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
        !ts__digits(s + 11, 2) || !ts__digits(s + 14, 2) || !ts__digits(s + 17, 2))
        return false;
    if (ts__num(s + 11, 2) > 23 || ts__num(s + 14, 2) > 59 || ts__num(s + 17, 2) > 60)
        return false;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start || i - start > 9)
            return false;
    }
    if (i < n && s[i] == 'Z')
        return i + 1 == n;
    if (i + 6 == n && (s[i] == '+' || s[i] == '-') && ts__digits(s + i + 1, 2) && s[i + 3] == ':' &&
        ts__digits(s + i + 4, 2))
        return ts__num(s + i + 1, 2) <= 23 && ts__num(s + i + 4, 2) <= 59;
    return false;
}

/* One pass over a text value: whether it is valid UTF-8 (the rules of
 * ts_utf8_valid), whether it holds a NUL, and how many characters it has.
 * Eight ASCII bytes at a time, the common case for records. */
typedef struct ts__text_info {
    bool utf8_ok;
    bool has_nul;
    bool ascii;
    size_t chars;
} ts__text_info;

static void ts__text_scan(const uint8_t *s, size_t n, ts__text_info *out)
{
    const uint64_t high = 0x8080808080808080ull, ones = 0x0101010101010101ull;
    size_t i = 0, chars = 0;
    bool nul = false, ascii = true;
    while (i < n) {
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            uint64_t non_ascii = w & high;
            if (non_ascii == 0) {
                nul |= ((w - ones) & ~w & high) != 0;
                i += 8;
                chars += 8;
                continue;
            }
            /* the ASCII bytes before the first other one, at once (words
             * of Vietnamese text are short, between accented letters);
             * little-endian: the first byte is the lowest */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            size_t ascii_run = (size_t)__builtin_ctzll(non_ascii) / 8;
#else
            size_t ascii_run = 0;
#endif
            if (ascii_run > 0) {
                uint64_t run_mask = (1ull << (8 * ascii_run)) - 1, run = w | ~run_mask;
                nul |= ((run - ones) & ~run & high) != 0;
                i += ascii_run;
                chars += ascii_run;
            }
        }
        unsigned c = s[i];
        chars++;
        if (c < 0x80) {
            nul |= c == 0;
            i++;
            continue;
        }
        ascii = false;
        /* the ranges of ts_utf8_valid, in line (Vietnamese text is mostly
         * two- and three-byte characters) */
        size_t len = c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (len == 0 || len > n - i)
            goto invalid;
        unsigned c1 = s[i + 1];
        unsigned lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
        unsigned hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
        if (c1 < lo || c1 > hi || (len > 2 && (s[i + 2] & 0xc0) != 0x80) || (len > 3 && (s[i + 3] & 0xc0) != 0x80))
            goto invalid;
        i += len;
    }
    out->utf8_ok = true;
    out->has_nul = nul;
    out->ascii = ascii;
    out->chars = chars;
    return;
invalid:
    out->utf8_ok = false;
    out->has_nul = nul;
    out->ascii = false;
    out->chars = chars;
}

/* ---------------------------------------------------------------- patterns
 *
 * Most schema patterns are a few character classes with counts
 * (^[0-9]{12}$, ^[A-Z]{2}[0-9]{13}$, ^[+]?[0-9]{8,15}$). Those are matched
 * here without regexec, on ASCII text only; everything else (alternation,
 * groups, '.', POSIX classes, a non-ASCII value) goes to regexec, which
 * stays the definition: tests/unit/test_registry.c checks both agree. */

#define TS__FAST_MAX_ITEMS 16
#define TS__FAST_MAX_LEN 512

typedef struct ts__fast_item {
    uint8_t set[16]; /* ASCII bytes in the class, a bit each */
    uint16_t min, max;
} ts__fast_item;

struct ts_fast_pattern {
    ts__fast_item item[TS__FAST_MAX_ITEMS];
    size_t n;
};

static void ts__set_add(uint8_t set[16], unsigned c)
{
    set[c >> 3] = (uint8_t)(set[c >> 3] | 1u << (c & 7));
}

static bool ts__set_has(const uint8_t set[16], unsigned c)
{
    return c < 128 && (set[c >> 3] >> (c & 7) & 1) != 0;
}

static bool ts__is_special(char c)
{
    return strchr(".[]()|*+?{}^$\\", c) != NULL;
}

/* Reads "{m}", "{m,}" or "{m,n}" at *p; false when it is not one. */
static bool ts__read_count(const char **p, uint16_t *min, uint16_t *max)
{
    const char *q = *p + 1;
    unsigned a = 0, b;
    if (*q < '0' || *q > '9')
        return false;
    while (*q >= '0' && *q <= '9' && a <= 255)
        a = a * 10 + (unsigned)(*q++ - '0');
    b = a;
    if (*q == ',') {
        q++;
        if (*q == '}') {
            b = 0xffff;
        } else {
            b = 0;
            if (*q < '0' || *q > '9')
                return false;
            while (*q >= '0' && *q <= '9' && b <= 255)
                b = b * 10 + (unsigned)(*q++ - '0');
        }
    }
    if (*q != '}' || a > 255 || (b != 0xffff && (b > 255 || b < a)))
        return false;
    *min = (uint16_t)a;
    *max = (uint16_t)b;
    *p = q + 1;
    return true;
}

/* The fast form of an ERE pattern, or NULL when it is not one of those
 * this matcher takes. */
static struct ts_fast_pattern *ts__fast_compile(const char *re)
{
    size_t len = strlen(re);
    if (len < 2 || re[0] != '^' || re[len - 1] != '$' || (len >= 3 && re[len - 2] == '\\'))
        return NULL;
    struct ts_fast_pattern fp;
    memset(&fp, 0, sizeof fp);
    const char *p = re + 1, *end = re + len - 1;
    while (p < end) {
        if (fp.n == TS__FAST_MAX_ITEMS)
            return NULL;
        ts__fast_item *it = &fp.item[fp.n++];
        if (*p == '[') {
            p++;
            bool neg = *p == '^';
            if (neg)
                p++;
            uint8_t set[16] = {0};
            bool first = true;
            while (p < end && (*p != ']' || first)) {
                unsigned c = (unsigned char)*p;
                if (c >= 128 || (c == '[' && (p[1] == ':' || p[1] == '=' || p[1] == '.')))
                    return NULL;
                if (p[1] == '-' && p + 2 < end && p[2] != ']') {
                    unsigned hi = (unsigned char)p[2];
                    if (hi >= 128 || hi < c || (hi == '[' && (p[3] == ':' || p[3] == '=' || p[3] == '.')))
                        return NULL;
                    for (unsigned k = c; k <= hi; k++)
                        ts__set_add(set, k);
                    p += 3;
                } else {
                    ts__set_add(set, c);
                    p++;
                }
                first = false;
            }
            if (p >= end)
                return NULL;
            p++; /* ']' */
            for (unsigned k = 0; k < 128; k++)
                if (ts__set_has(set, k) != neg && k != 0)
                    ts__set_add(it->set, k);
        } else if (*p == '\\') {
            unsigned c = (unsigned char)p[1];
            if (c >= 128 || !ts__is_special((char)c))
                return NULL; /* \w, \d and the like are GNU extensions: leave them to regexec */
            ts__set_add(it->set, c);
            p += 2;
        } else {
            unsigned c = (unsigned char)*p;
            if (c >= 128 || ts__is_special((char)c))
                return NULL;
            ts__set_add(it->set, c);
            p++;
        }
        it->min = it->max = 1;
        if (p < end) {
            if (*p == '?') {
                it->min = 0;
                p++;
            } else if (*p == '*') {
                it->min = 0;
                it->max = 0xffff;
                p++;
            } else if (*p == '+') {
                it->max = 0xffff;
                p++;
            } else if (*p == '{' && !ts__read_count(&p, &it->min, &it->max)) {
                return NULL;
            }
            if (p < end && (*p == '?' || *p == '*' || *p == '+' || *p == '{'))
                return NULL; /* stacked repetitions: leave to regexec */
        }
    }
    struct ts_fast_pattern *out = ts_xmalloc(sizeof *out);
    *out = fp;
    return out;
}

/* Whether the whole of s (ASCII, n <= TS__FAST_MAX_LEN) matches: the set of
 * positions reachable after each item, so no backtracking and no blow-up. */
static bool ts__fast_match(const struct ts_fast_pattern *fp, const uint8_t *s, size_t n)
{
    bool at[TS__FAST_MAX_LEN + 1], next[TS__FAST_MAX_LEN + 1];
    memset(at, 0, (n + 1) * sizeof *at);
    at[0] = true;
    for (size_t k = 0; k < fp->n; k++) {
        const ts__fast_item *it = &fp->item[k];
        memset(next, 0, (n + 1) * sizeof *next);
        bool any = false;
        for (size_t p = 0; p <= n; p++) {
            if (!at[p])
                continue;
            size_t q = p, count = 0;
            for (;;) {
                if (count >= it->min) {
                    next[q] = true;
                    any = true;
                }
                if (count == it->max || q == n || !ts__set_has(it->set, s[q]))
                    break;
                q++;
                count++;
            }
        }
        if (!any)
            return false;
        memcpy(at, next, (n + 1) * sizeof *at);
    }
    return at[n];
}

bool ts_pattern_fast(const ts_field_def *f)
{
    return f->fast != NULL;
}

static int ts__check_text(const ts_field_def *f, const char *s, size_t n, ts_error *err)
{
    ts__text_info ti;
    ts__text_scan((const uint8_t *)s, n, &ti);
    if (!ti.utf8_ok)
        return ts_error_set(err, TS_EINVALID_RECORD, "field %s: text is not valid UTF-8", f->name);
    if (ti.has_nul)
        return ts_error_set(err, TS_EINVALID_RECORD, "field %s: text holds a NUL byte", f->name);
    if (f->has_max && (double)ti.chars > f->max)
        return ts_error_set(err, TS_EINVALID_RECORD, "field %s: longer than %.0f characters", f->name, f->max);
    if (f->has_pattern) {
        bool ok;
        if (f->fast != NULL && ti.ascii && n <= TS__FAST_MAX_LEN) {
            ok = ts__fast_match(f->fast, (const uint8_t *)s, n);
        } else {
            /* regexec wants a terminated string (REG_STARTEND would spare
             * the copy, but sanitizers read such a string to its NUL) */
            char small[256];
            char *copy = n < sizeof small ? small : ts_xmalloc(n + 1);
            memcpy(copy, s, n);
            copy[n] = '\0';
            ok = regexec(&f->pattern, copy, 0, NULL, 0) == 0;
            if (copy != small)
                free(copy);
        }
        if (!ok)
            return ts_error_set(err, TS_EINVALID_RECORD, "field %s: does not match %s", f->name, f->pattern_src);
    }
    return 0;
}

static int ts__check_value(const ts_field_def *f, const msgpack_object *o, ts_error *err)
{
    const char *want = ts_field_type_name(f->type);
    if (o->type == MSGPACK_OBJECT_NIL) {
        if (f->required)
            return ts_error_set(err, TS_EINVALID_RECORD, "field %s is required and cannot be nil", f->name);
        return 0;
    }
    switch (f->type) {
    case TS_FT_TEXT:
        if (o->type != MSGPACK_OBJECT_STR)
            break;
        return ts__check_text(f, o->via.str.ptr, o->via.str.size, err);
    case TS_FT_DATE:
    case TS_FT_DATETIME:
        if (o->type != MSGPACK_OBJECT_STR)
            break;
        if (!(f->type == TS_FT_DATE ? ts_date_valid : ts_datetime_valid)(o->via.str.ptr, o->via.str.size))
            return ts_error_set(err, TS_EINVALID_RECORD, "field %s: not a valid %s", f->name, want);
        return 0;
    case TS_FT_ENUM:
        if (o->type != MSGPACK_OBJECT_STR)
            break;
        for (size_t i = 0; i < f->nvalues; i++)
            if (strlen(f->values[i]) == o->via.str.size && memcmp(f->values[i], o->via.str.ptr, o->via.str.size) == 0)
                return 0;
        return ts_error_set(err, TS_EINVALID_RECORD, "field %s: not one of its values", f->name);
    case TS_FT_INT: {
        double v;
        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            v = (double)o->via.u64;
        else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            v = (double)o->via.i64;
        else
            break;
        if ((f->has_min && v < f->min) || (f->has_max && v > f->max))
            return ts_error_set(err, TS_EINVALID_RECORD, "field %s: out of range", f->name);
        return 0;
    }
    case TS_FT_REAL: {
        double v;
        if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
            v = o->via.f64;
        else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            v = (double)o->via.u64;
        else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            v = (double)o->via.i64;
        else
            break;
        if (!isfinite(v))
            return ts_error_set(err, TS_EINVALID_RECORD, "field %s: not a finite number", f->name);
        if ((f->has_min && v < f->min) || (f->has_max && v > f->max))
            return ts_error_set(err, TS_EINVALID_RECORD, "field %s: out of range", f->name);
        return 0;
    }
    case TS_FT_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            break;
        return 0;
    case TS_FT_LIST:
        if (o->type != MSGPACK_OBJECT_ARRAY)
            break;
        if (f->has_max && o->via.array.size > f->max)
            return ts_error_set(err, TS_EINVALID_RECORD, "field %s: more than %.0f items", f->name, f->max);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            const msgpack_object *e = &o->via.array.ptr[i];
            if (e->type != MSGPACK_OBJECT_STR || e->via.str.size == 0 || e->via.str.size > TS_KEY_MAX * 4 ||
                memchr(e->via.str.ptr, '\0', e->via.str.size) != NULL) /* size > 0 here */
                return ts_error_set(err, TS_EINVALID_RECORD, "field %s: item %u must be non-empty text", f->name, i);
        }
        return 0;
    case TS_FT_BIN:
        if (o->type != MSGPACK_OBJECT_BIN)
            break;
        if (f->has_max && o->via.bin.size > f->max)
            return ts_error_set(err, TS_EINVALID_RECORD, "field %s: more than %.0f bytes", f->name, f->max);
        return 0;
    }
    return ts_error_set(err, TS_EINVALID_RECORD, "field %s: expected %s, got %s", f->name, want,
                        ts_mp_type_name(o->type));
}

int ts_field_validate(const ts_field_def *f, const uint8_t *value, size_t len, ts_error *err)
{
    /* most values are scalars: read them in place, without unpacking */
    msgpack_object o;
    if (ts_mp_scalar(value, len, &o) == 0) {
        /* text fields check UTF-8 in the same pass as the rest */
        if (o.type == MSGPACK_OBJECT_STR && f->type != TS_FT_TEXT &&
            !ts_utf8_valid((const uint8_t *)o.via.str.ptr, o.via.str.size))
            return ts_error_set(err, TS_EINVALID_RECORD, "field %s: text is not valid UTF-8", f->name);
        return ts__check_value(f, &o, err);
    }
    msgpack_unpacked up;
    int rc = ts_mp_unpack(value, len, NULL, &up, err);
    if (rc < 0)
        return ts_error_set(err, TS_EINVALID_RECORD, "field %s: value is not valid msgpack", f->name);
    rc = ts__check_value(f, &up.data, err);
    msgpack_unpacked_destroy(&up);
    return rc;
}

bool ts_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return false;
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return true;
}

static bool ts__is_nil(const ts_field *fld)
{
    return fld == NULL || (fld->value_len == 1 && fld->value[0] == 0xc0);
}

/* A checksum field that holds a value: 64 lowercase hex digits, equal to the
 * SHA-256 of the bytes of the field it names (which must be there). Field
 * types were checked before this runs. */
static int ts__check_checksum(const ts_table_def *t, const ts_field_def *f, const ts_version *v, ts_error *err)
{
    const ts_field *sum = ts_version_field(v, f->name);
    if (ts__is_nil(sum))
        return 0; /* absent or cleared: `required` says whether that is allowed */
    msgpack_object so;
    if (ts_mp_scalar(sum->value, sum->value_len, &so) < 0 || so.type != MSGPACK_OBJECT_STR)
        return ts_error_set(err, TS_EINVALID_RECORD, "field %s: a SHA-256 is text", f->name);
    const char *hex = so.via.str.ptr;
    size_t n = so.via.str.size;
    bool ok = n == 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f');
    if (!ok)
        return ts_error_set(err, TS_EINVALID_RECORD, "field %s: a SHA-256 is 64 lowercase hex digits", f->name);
    const ts_field *data = ts_version_field(v, f->sha256_of->name);
    msgpack_object d;
    if (ts__is_nil(data) || ts_mp_scalar(data->value, data->value_len, &d) < 0 ||
        (d.type != MSGPACK_OBJECT_BIN && d.type != MSGPACK_OBJECT_STR))
        return ts_error_set(err, TS_EINVALID_RECORD, "table %s: field %s holds a SHA-256 but field %s is missing",
                            t->name, f->name, f->sha256_of->name);
    const void *bytes = d.type == MSGPACK_OBJECT_BIN ? (const void *)d.via.bin.ptr : (const void *)d.via.str.ptr;
    size_t len = d.type == MSGPACK_OBJECT_BIN ? d.via.bin.size : d.via.str.size;
    char got[65];
    if (!ts_sha256_hex(bytes, len, got))
        return ts_error_set(err, TS_EINTERNAL, "field %s: cannot compute a SHA-256", f->name);
    if (memcmp(got, hex, 64) != 0)
        return ts_error_set(err, TS_EINVALID_RECORD,
                            "field %s: the %zu bytes of field %s do not match their SHA-256 (recorded %.12s..., "
                            "computed %.12s...)",
                            f->name, len, f->sha256_of->name, hex, got);
    return 0;
}

/* strcmp's order, with the first byte compared inline: field names mostly
 * differ there, and this runs for every field of every record applied. */
static inline int ts__name_order(const char *a, const char *b)
{
    if (a[0] != b[0])
        return (unsigned char)a[0] - (unsigned char)b[0];
    return strcmp(a, b);
}

int ts_table_validate(const ts_table_def *t, const ts_version *v, ts_error *err)
{
    /* The version's fields and the table's are both sorted by name (byte
     * order): one walk over both finds each definition and every required
     * field left out, instead of a search per field. A value error is
     * reported before a missing required field, as callers expect. */
    bool deleted = false;
    const ts_field_def *missing = NULL;
    size_t j = 0;
    for (uint32_t i = 0; i < v->nfields; i++) {
        const ts_field *fld = &v->fields[i];
        if (fld->name[0] == '_' && strcmp(fld->name, TS_FIELD_DELETED) == 0) {
            deleted = fld->value_len == 1 && fld->value[0] == 0xc3;
            continue;
        }
        int c = 1;
        while (j < t->nfields && (c = ts__name_order(t->fields[j].name, fld->name)) < 0) {
            if (t->fields[j].required && missing == NULL)
                missing = &t->fields[j];
            j++;
        }
        if (j == t->nfields || c != 0)
            return ts_error_set(err, TS_EINVALID_RECORD, "table %s has no field \"%s\"", t->name, fld->name);
        const ts_field_def *f = &t->fields[j++];
        int rc = ts_field_validate(f, fld->value, fld->value_len, err);
        if (rc < 0)
            return rc;
        if (f->required && missing == NULL && fld->value_len == 1 && fld->value[0] == 0xc0)
            missing = f;
    }
    for (; j < t->nfields && missing == NULL; j++)
        if (t->fields[j].required)
            missing = &t->fields[j];
    if (missing != NULL && !deleted)
        return ts_error_set(err, TS_EINVALID_RECORD, "table %s: required field \"%s\" is missing", t->name,
                            missing->name);
    if (t->has_checksums) {
        for (size_t i = 0; i < t->nfields; i++) {
            if (t->fields[i].sha256_of == NULL)
                continue;
            int rc = ts__check_checksum(t, &t->fields[i], v, err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

bool ts_audience_has(const ts_audience *a, const char *station)
{
    if (a->all)
        return true;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->code[i], station) == 0)
            return true;
    return false;
}

static void ts__audience_add(ts_audience *a, const char *s, size_t n)
{
    if (n == 1 && s[0] == '*') {
        a->all = true;
        return;
    }
    if (a->n == TS_AUDIENCE_MAX || n > TS_KEY_MAX)
        return;
    for (size_t i = 0; i < a->n; i++)
        if (strlen(a->code[i]) == n && memcmp(a->code[i], s, n) == 0)
            return;
    memcpy(a->code[a->n], s, n);
    a->code[a->n][n] = '\0';
    a->n++;
}

int ts_table_audience(const ts_table_def *t, const char *owner, const ts_version *v, ts_audience *out,
                      ts_error *err)
{
    out->all = false;
    out->n = 0;
    if (t->kind == TS_TABLE_STATION) {
        ts__audience_add(out, owner, strlen(owner));
        return 0;
    }
    if (t->audience_all) {
        out->all = true;
        return 0;
    }
    const ts_field *f = ts_version_field(v, t->audience->name);
    if (f == NULL) {
        if (ts_version_deleted(v))
            return 0; /* a bare tombstone: seen by whoever saw it before */
        return ts_error_set(err, TS_EINVALID_RECORD, "table %s: audience field \"%s\" is missing", t->name,
                            t->audience->name);
    }
    msgpack_unpacked up;
    if (ts_mp_unpack(f->value, f->value_len, NULL, &up, err) < 0)
        return ts_error_set(err, TS_EINVALID_RECORD, "table %s: audience field is not valid msgpack", t->name);
    int rc = 0;
    const msgpack_object *o = &up.data;
    if (o->type == MSGPACK_OBJECT_STR) {
        ts__audience_add(out, o->via.str.ptr, o->via.str.size);
    } else if (o->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (o->via.array.ptr[i].type == MSGPACK_OBJECT_STR)
                ts__audience_add(out, o->via.array.ptr[i].via.str.ptr, o->via.array.ptr[i].via.str.size);
    } else if (o->type != MSGPACK_OBJECT_NIL) {
        rc = ts_error_set(err, TS_EINVALID_RECORD, "table %s: audience field must be text or a list", t->name);
    }
    msgpack_unpacked_destroy(&up);
    return rc;
}
