#include "common/ts_recjson.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "common/ts_mp.h"

json_t *ts_recjson_value(const uint8_t *value, size_t len)
{
    ts_buf b = TS_BUF_INIT;
    ts_value_to_json(&b, value, len);
    json_t *j = json_loadb((const char *)b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    ts_buf_free(&b);
    return j ? j : json_null();
}

json_t *ts_recjson_record(const ts_change *c, bool meta)
{
    json_t *o = json_object();
    json_object_set_new(o, "table", json_string(c->table));
    json_object_set_new(o, "id", json_string(c->id));
    json_object_set_new(o, "owner", json_string(c->owner));
    json_object_set_new(o, "deleted", json_boolean(ts_version_deleted(&c->v)));
    json_t *fields = json_object(), *written = meta ? json_object() : NULL;
    for (uint32_t i = 0; i < c->v.nfields; i++) {
        const ts_field *f = &c->v.fields[i];
        if (meta)
            json_object_set_new(written, f->name,
                                json_pack("{s:s,s:I,s:I}", "replica", f->dot.rid.b, "counter",
                                          (json_int_t)f->dot.counter, "hlc", (json_int_t)f->hlc));
        if (strcmp(f->name, "_deleted") == 0)
            continue;
        json_object_set_new(fields, f->name, ts_recjson_value(f->value, f->value_len));
    }
    json_object_set_new(o, "fields", fields);
    if (meta) {
        json_t *vv = json_object();
        for (uint32_t i = 0; i < c->v.vv.n; i++)
            json_object_set_new(vv, c->v.vv.e[i].rid.b, json_integer((json_int_t)c->v.vv.e[i].counter));
        json_object_set_new(o, "vv", vv);
        json_object_set_new(o, "written", written);
        json_object_set_new(o, "seq", json_integer((json_int_t)c->seq));
    }
    return o;
}

int ts_recjson_to_value(const ts_field_def *f, const json_t *j, ts_buf *out, ts_error *err)
{
    msgpack_packer pk;
    ts_buf_packer(out, &pk);
    if (json_is_null(j)) {
        msgpack_pack_nil(&pk);
        return 0;
    }
    switch (f->type) {
    case TS_FT_TEXT:
    case TS_FT_DATE:
    case TS_FT_DATETIME:
    case TS_FT_ENUM:
        if (!json_is_string(j))
            break;
        ts_mp_pack_strn(&pk, json_string_value(j), json_string_length(j));
        return 0;
    case TS_FT_INT:
        if (!json_is_integer(j))
            break;
        if (json_integer_value(j) >= 0)
            msgpack_pack_uint64(&pk, (uint64_t)json_integer_value(j));
        else
            msgpack_pack_int64(&pk, json_integer_value(j));
        return 0;
    case TS_FT_REAL:
        if (!json_is_number(j))
            break;
        msgpack_pack_double(&pk, json_number_value(j));
        return 0;
    case TS_FT_BOOL:
        if (!json_is_boolean(j))
            break;
        if (json_is_true(j))
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
        return 0;
    case TS_FT_LIST: {
        if (!json_is_array(j))
            break;
        size_t n = json_array_size(j);
        for (size_t i = 0; i < n; i++)
            if (!json_is_string(json_array_get(j, i)))
                return ts_error_set(err, TS_EBAD_VALUE, "field %s: a list of text is expected", f->name);
        msgpack_pack_array(&pk, n);
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(j, i);
            ts_mp_pack_strn(&pk, json_string_value(e), json_string_length(e));
        }
        return 0;
    }
    case TS_FT_BIN: {
        const char *hex = json_string_value(json_object_get(j, "bin"));
        size_t n = hex ? strlen(hex) : 1;
        if (hex == NULL || n % 2)
            break;
        uint8_t *bytes = malloc(n / 2 + 1);
        for (size_t i = 0; i < n / 2; i++) {
            unsigned v;
            if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
                free(bytes);
                return ts_error_set(err, TS_EBAD_VALUE, "field %s: bad hex", f->name);
            }
            bytes[i] = (uint8_t)v;
        }
        msgpack_pack_bin(&pk, n / 2);
        msgpack_pack_bin_body(&pk, bytes, n / 2);
        free(bytes);
        return 0;
    }
    }
    return ts_error_set(err, TS_EBAD_VALUE, "field %s: expected %s", f->name, ts_field_type_name(f->type));
}

bool ts_recjson_text(const ts_version *v, const char *field, char *out, size_t size)
{
    const ts_field *f = ts_version_field(v, field);
    if (size)
        out[0] = '\0';
    if (f == NULL)
        return false;
    msgpack_unpacked up;
    if (ts_mp_unpack(f->value, f->value_len, NULL, &up, NULL) < 0)
        return false;
    bool ok = up.data.type == MSGPACK_OBJECT_STR;
    if (ok)
        snprintf(out, size, "%.*s", (int)up.data.via.str.size, up.data.via.str.ptr);
    msgpack_unpacked_destroy(&up);
    return ok;
}

bool ts_recjson_int(const ts_version *v, const char *field, int64_t *out)
{
    const ts_field *f = ts_version_field(v, field);
    if (f == NULL)
        return false;
    msgpack_unpacked up;
    if (ts_mp_unpack(f->value, f->value_len, NULL, &up, NULL) < 0)
        return false;
    bool ok = true;
    if (up.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER && up.data.via.u64 <= INT64_MAX)
        *out = (int64_t)up.data.via.u64;
    else if (up.data.type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = up.data.via.i64;
    else
        ok = false;
    msgpack_unpacked_destroy(&up);
    return ok;
}

bool ts_recjson_bool(const ts_version *v, const char *field, bool *out)
{
    const ts_field *f = ts_version_field(v, field);
    if (f == NULL || f->value_len != 1 || (f->value[0] != 0xc2 && f->value[0] != 0xc3))
        return false;
    *out = f->value[0] == 0xc3;
    return true;
}

const char *ts_json_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}
