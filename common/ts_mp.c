#include "common/ts_mp.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_buf.h"
#include "common/ts_xmalloc.h"

void ts_mp_limits_default(ts_mp_limits *limits)
{
    limits->max_depth = TS_MP_DEFAULT_MAX_DEPTH;
    limits->max_elements = TS_MP_DEFAULT_MAX_ELEMENTS;
    limits->max_objects = TS_MP_DEFAULT_MAX_OBJECTS;
    limits->max_str = TS_MP_DEFAULT_MAX_STR;
}

bool ts_utf8_valid(const uint8_t *s, size_t n)
{
    /* by lead byte, with the second byte's narrower ranges where they differ
     * (no overlongs, no surrogates, nothing above U+10FFFF) */
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c < 0xc2 || c > 0xf4)
            return false;
        if (c < 0xe0) {
            if (n - i < 2 || (s[i + 1] & 0xc0) != 0x80)
                return false;
            i += 2;
            continue;
        }
        unsigned c1 = n - i > 1 ? s[i + 1] : 0;
        unsigned lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
        unsigned hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
        if (c1 < lo || c1 > hi)
            return false;
        if (c < 0xf0) {
            if (n - i < 3 || (s[i + 2] & 0xc0) != 0x80)
                return false;
            i += 3;
        } else {
            if (n - i < 4 || (s[i + 2] & 0xc0) != 0x80 || (s[i + 3] & 0xc0) != 0x80)
                return false;
            i += 4;
        }
    }
    return true;
}

static uint32_t ts__be(const uint8_t *p, size_t n)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Per-level bookkeeping of the validator: objects still expected at this
 * level, and whether the next one is a map key. */
typedef struct ts__mp_level {
    uint64_t remaining;
    bool is_map;
} ts__mp_level;

#define TS__MP_HARD_MAX_DEPTH 64

int ts_mp_validate(const uint8_t *buf, size_t len, const ts_mp_limits *limits, ts_error *err)
{
    ts_mp_limits def;
    if (limits == NULL) {
        ts_mp_limits_default(&def);
        limits = &def;
    }
    uint32_t max_depth = limits->max_depth;
    if (max_depth == 0 || max_depth > TS__MP_HARD_MAX_DEPTH)
        max_depth = TS__MP_HARD_MAX_DEPTH;

    ts__mp_level stack[TS__MP_HARD_MAX_DEPTH + 1];
    size_t depth = 0; /* containers currently open */
    uint64_t declared = 1; /* the top-level object */
    size_t pos = 0;

    if (len == 0)
        return ts_error_set(err, TS_EMALFORMED, "empty message");

    for (;;) {
        if (pos >= len)
            return ts_error_set(err, TS_EMALFORMED, "truncated at byte %zu", pos);

        bool want_key = depth > 0 && stack[depth - 1].is_map && (stack[depth - 1].remaining % 2 == 0);
        size_t at = pos;
        uint8_t t = buf[pos++];
        size_t hdr = 0;        /* length bytes after the type byte */
        uint64_t payload = 0;  /* raw bytes that follow */
        uint64_t children = 0; /* nested objects that follow */
        bool container = false, is_map = false, is_str = false, is_bin = false;

        if (t <= 0x7f || t >= 0xe0) {
            /* fixint */
        } else if (t >= 0x80 && t <= 0x8f) {
            container = is_map = true;
            children = (uint64_t)(t & 0x0f) * 2;
        } else if (t >= 0x90 && t <= 0x9f) {
            container = true;
            children = t & 0x0f;
        } else if (t >= 0xa0 && t <= 0xbf) {
            is_str = true;
            payload = t & 0x1f;
        } else {
            switch (t) {
            case 0xc0: case 0xc2: case 0xc3:
                break;
            case 0xc1:
                return ts_error_set(err, TS_EMALFORMED, "reserved type byte 0xc1 at byte %zu", at);
            case 0xc4: case 0xc5: case 0xc6:
                is_bin = true;
                hdr = (size_t)1 << (t - 0xc4);
                break;
            case 0xc7: case 0xc8: case 0xc9: case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
                return ts_error_set(err, TS_EEXT_NOT_ALLOWED, "ext type 0x%02x at byte %zu", t, at);
            case 0xca: payload = 4; break;
            case 0xcb: payload = 8; break;
            case 0xcc: case 0xd0: payload = 1; break;
            case 0xcd: case 0xd1: payload = 2; break;
            case 0xce: case 0xd2: payload = 4; break;
            case 0xcf: case 0xd3: payload = 8; break;
            case 0xd9: case 0xda: case 0xdb:
                is_str = true;
                hdr = (size_t)1 << (t - 0xd9);
                break;
            case 0xdc: case 0xdd:
                container = true;
                hdr = t == 0xdc ? 2 : 4;
                break;
            case 0xde: case 0xdf:
                container = is_map = true;
                hdr = t == 0xde ? 2 : 4;
                break;
            default:
                return ts_error_set(err, TS_EMALFORMED, "bad type byte 0x%02x at byte %zu", t, at);
            }
        }

        if (hdr > 0) {
            if (len - pos < hdr)
                return ts_error_set(err, TS_EMALFORMED, "truncated length at byte %zu", at);
            uint32_t n = ts__be(buf + pos, hdr);
            pos += hdr;
            if (is_str || is_bin)
                payload = n;
            else
                children = is_map ? (uint64_t)n * 2 : n;
        }

        if (want_key && !is_str)
            return ts_error_set(err, TS_EWRONG_TYPE, "map key at byte %zu is not a str", at);

        if (is_str || is_bin) {
            if (payload > limits->max_str)
                return ts_error_set(err, TS_ESTRING_TOO_LONG,
                                    "%s of %llu bytes at byte %zu exceeds %u", is_str ? "str" : "bin",
                                    (unsigned long long)payload, at, limits->max_str);
        }
        if (payload > len - pos)
            return ts_error_set(err, TS_EMALFORMED, "declared %llu bytes at byte %zu but %zu remain",
                                (unsigned long long)payload, at, len - pos);
        if (is_str && !ts_utf8_valid(buf + pos, (size_t)payload))
            return ts_error_set(err, TS_EINVALID_UTF8, "str at byte %zu is not valid UTF-8", at);
        pos += (size_t)payload;

        if (container) {
            uint64_t elems = is_map ? children / 2 : children;
            if (elems > limits->max_elements)
                return ts_error_set(err, TS_ETOO_MANY_ELEMENTS,
                                    "%s of %llu elements at byte %zu exceeds %u", is_map ? "map" : "array",
                                    (unsigned long long)elems, at, limits->max_elements);
            /* every nested object takes at least one byte */
            if (children > len - pos)
                return ts_error_set(err, TS_ETOO_MANY_ELEMENTS,
                                    "%s at byte %zu declares %llu elements but only %zu bytes remain",
                                    is_map ? "map" : "array", at, (unsigned long long)elems, len - pos);
            /* every object declared so far, read or still to come */
            declared += children;
            if (declared > limits->max_objects)
                return ts_error_set(err, TS_ETOO_MANY_ELEMENTS,
                                    "more than %u objects in one message (at byte %zu)",
                                    limits->max_objects, at);
            if (children > 0) {
                if (depth + 1 > max_depth)
                    return ts_error_set(err, TS_ETOO_DEEP, "nesting deeper than %u at byte %zu",
                                        max_depth, at);
                stack[depth].remaining = children;
                stack[depth].is_map = is_map;
                depth++;
                continue;
            }
            if (depth + 1 > max_depth)
                return ts_error_set(err, TS_ETOO_DEEP, "nesting deeper than %u at byte %zu", max_depth, at);
        }

        /* one object done: pop every level it completes */
        while (depth > 0) {
            if (--stack[depth - 1].remaining > 0)
                break;
            depth--;
        }
        if (depth == 0)
            break;
    }

    if (pos != len)
        return ts_error_set(err, TS_ETRAILING_BYTES, "%zu bytes after the object", len - pos);
    return 0;
}

int ts_mp_unpack(const uint8_t *buf, size_t len, const ts_mp_limits *limits,
                 msgpack_unpacked *out, ts_error *err)
{
    int rc = ts_mp_validate(buf, len, limits, err);
    if (rc < 0)
        return rc;
    msgpack_unpacked_init(out);
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(out, (const char *)buf, len, &off);
    if (r != MSGPACK_UNPACK_SUCCESS || off != len) {
        msgpack_unpacked_destroy(out);
        msgpack_unpacked_init(out);
        if (r == MSGPACK_UNPACK_NOMEM_ERROR) {
            fprintf(stderr, "level=fatal event=out_of_memory where=msgpack_unpack\n");
            abort();
        }
        return ts_error_set(err, TS_EMALFORMED, "msgpack unpack failed (%d)", (int)r);
    }
    return 0;
}

int ts_mp_scalar(const uint8_t *buf, size_t len, msgpack_object *out)
{
    if (len == 0)
        return -1;
    uint8_t t = buf[0];
    size_t hdr = 1, payload = 0;
    memset(out, 0, sizeof *out);
    if (t <= 0x7f) {
        out->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        out->via.u64 = t;
    } else if (t >= 0xe0) {
        out->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        out->via.i64 = (int8_t)t;
    } else if (t >= 0xa0 && t <= 0xbf) {
        out->type = MSGPACK_OBJECT_STR;
        payload = t & 0x1f;
    } else {
        switch (t) {
        case 0xc0: out->type = MSGPACK_OBJECT_NIL; break;
        case 0xc2: case 0xc3: out->type = MSGPACK_OBJECT_BOOLEAN; out->via.boolean = t == 0xc3; break;
        case 0xcc: case 0xcd: case 0xce: case 0xcf: {
            size_t n = (size_t)1 << (t - 0xcc);
            if (len < 1 + n)
                return -1;
            uint64_t v = 0;
            for (size_t i = 0; i < n; i++)
                v = v << 8 | buf[1 + i];
            out->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
            out->via.u64 = v;
            hdr = 1 + n;
            break;
        }
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            size_t n = (size_t)1 << (t - 0xd0);
            if (len < 1 + n)
                return -1;
            uint64_t v = 0;
            for (size_t i = 0; i < n; i++)
                v = v << 8 | buf[1 + i];
            int64_t sv = n == 8 ? (int64_t)v : (int64_t)(v ^ ((uint64_t)1 << (8 * n - 1))) - ((int64_t)1 << (8 * n - 1));
            out->type = sv < 0 ? MSGPACK_OBJECT_NEGATIVE_INTEGER : MSGPACK_OBJECT_POSITIVE_INTEGER;
            if (sv < 0)
                out->via.i64 = sv;
            else
                out->via.u64 = (uint64_t)sv;
            hdr = 1 + n;
            break;
        }
        case 0xca: case 0xcb: {
            size_t n = t == 0xca ? 4 : 8;
            if (len < 1 + n)
                return -1;
            uint64_t v = 0;
            for (size_t i = 0; i < n; i++)
                v = v << 8 | buf[1 + i];
            if (n == 4) {
                uint32_t u = (uint32_t)v;
                float f;
                memcpy(&f, &u, sizeof f);
                out->via.f64 = f;
            } else {
                memcpy(&out->via.f64, &v, sizeof out->via.f64);
            }
            out->type = MSGPACK_OBJECT_FLOAT64;
            hdr = 1 + n;
            break;
        }
        case 0xd9: case 0xda: case 0xdb:
        case 0xc4: case 0xc5: case 0xc6: {
            size_t n = (size_t)1 << (t >= 0xd9 ? t - 0xd9 : t - 0xc4);
            if (len < 1 + n)
                return -1;
            for (size_t i = 0; i < n; i++)
                payload = payload << 8 | buf[1 + i];
            out->type = t >= 0xd9 ? MSGPACK_OBJECT_STR : MSGPACK_OBJECT_BIN;
            hdr = 1 + n;
            break;
        }
        default:
            return -1; /* arrays, maps, ext, reserved */
        }
    }
    if (hdr + payload != len)
        return -1;
    if (out->type == MSGPACK_OBJECT_STR || out->type == MSGPACK_OBJECT_BIN) {
        out->via.str.ptr = (const char *)buf + hdr;
        out->via.str.size = (uint32_t)payload;
    }
    return 0;
}

/* ---------------------------------------------------------------- accessors */

const char *ts_mp_type_name(msgpack_object_type type)
{
    switch (type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return "uint";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "int";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "float";
    case MSGPACK_OBJECT_STR: return "str";
    case MSGPACK_OBJECT_ARRAY: return "array";
    case MSGPACK_OBJECT_MAP: return "map";
    case MSGPACK_OBJECT_BIN: return "bin";
    case MSGPACK_OBJECT_EXT: return "ext";
    }
    return "unknown";
}

bool ts_mp_str_eq(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && memcmp(o->via.str.ptr, s, n) == 0;
}

const msgpack_object *ts_mp_map_get(const msgpack_object *map, const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (ts_mp_str_eq(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

static int ts__str_cmp(const msgpack_object_str *x, const msgpack_object_str *y)
{
    size_t n = x->size < y->size ? x->size : y->size;
    int c = n ? memcmp(x->ptr, y->ptr, n) : 0;
    if (c != 0)
        return c;
    return (x->size > y->size) - (x->size < y->size);
}

static int ts__key_cmp(const void *a, const void *b)
{
    return ts__str_cmp(*(const msgpack_object_str *const *)a, *(const msgpack_object_str *const *)b);
}

static int ts__duplicate(const msgpack_object_str *key, const char *where, ts_error *err)
{
    return ts_error_set(err, TS_EDUPLICATE_KEY, "%s: key \"%.*s\" appears twice", where,
                        (int)key->size, key->ptr);
}

int ts_mp_map_check_unique(const msgpack_object *map, const char *where, ts_error *err)
{
    uint32_t n = map->via.map.size;
    const msgpack_object_kv *kv = map->via.map.ptr;
    if (n <= 8) { /* small maps: pairwise is cheaper than sorting */
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t j = i + 1; j < n; j++)
                if (ts__str_cmp(&kv[i].key.via.str, &kv[j].key.via.str) == 0)
                    return ts__duplicate(&kv[i].key.via.str, where, err);
        return 0;
    }
    const msgpack_object_str **keys = ts_xreallocarray(NULL, n, sizeof *keys);
    for (uint32_t i = 0; i < n; i++)
        keys[i] = &kv[i].key.via.str;
    qsort(keys, n, sizeof *keys, ts__key_cmp);
    int rc = 0;
    for (uint32_t i = 1; i < n && rc == 0; i++)
        if (ts__str_cmp(keys[i - 1], keys[i]) == 0)
            rc = ts__duplicate(keys[i], where, err);
    free(keys);
    return rc;
}

static int ts__get(const msgpack_object *map, const char *key, bool required, msgpack_object_type want,
                   const msgpack_object **out, const char *where, ts_error *err)
{
    const msgpack_object *o = ts_mp_map_get(map, key);
    *out = NULL;
    if (o == NULL) {
        if (!required)
            return 0;
        ts_error_set(err, TS_EMISSING_KEY, "%s: missing required key \"%s\"", where, key);
        return TS_EMISSING_KEY;
    }
    bool ok = o->type == want ||
              (want == MSGPACK_OBJECT_FLOAT64 && o->type == MSGPACK_OBJECT_FLOAT32);
    if (!ok) {
        ts_error_set(err, TS_EWRONG_TYPE, "%s: key \"%s\" must be %s, not %s", where, key, ts_mp_type_name(want),
                     ts_mp_type_name(o->type));
        return TS_EWRONG_TYPE;
    }
    *out = o;
    return 1;
}

int ts_mp_get_uint(const msgpack_object *map, const char *key, bool required, uint64_t *out,
                   const char *where, ts_error *err)
{
    const msgpack_object *o;
    int rc = ts__get(map, key, required, MSGPACK_OBJECT_POSITIVE_INTEGER, &o, where, err);
    if (rc == 1)
        *out = o->via.u64;
    return rc;
}

int ts_mp_get_bool(const msgpack_object *map, const char *key, bool required, bool *out,
                   const char *where, ts_error *err)
{
    const msgpack_object *o;
    int rc = ts__get(map, key, required, MSGPACK_OBJECT_BOOLEAN, &o, where, err);
    if (rc == 1)
        *out = o->via.boolean;
    return rc;
}

int ts_mp_get_str(const msgpack_object *map, const char *key, bool required, const char **out,
                  size_t *out_len, size_t max_len, const char *where, ts_error *err)
{
    const msgpack_object *o;
    int rc = ts__get(map, key, required, MSGPACK_OBJECT_STR, &o, where, err);
    if (rc == 1) {
        if (max_len && o->via.str.size > max_len)
            return ts_error_set(err, TS_ESTRING_TOO_LONG, "%s: \"%s\" is %u bytes, at most %zu allowed",
                                where, key, o->via.str.size, max_len);
        *out = o->via.str.ptr;
        *out_len = o->via.str.size;
    }
    return rc;
}

int ts_mp_get_bin(const msgpack_object *map, const char *key, bool required, const uint8_t **out,
                  size_t *out_len, const char *where, ts_error *err)
{
    const msgpack_object *o;
    int rc = ts__get(map, key, required, MSGPACK_OBJECT_BIN, &o, where, err);
    if (rc == 1) {
        *out = (const uint8_t *)o->via.bin.ptr;
        *out_len = o->via.bin.size;
    }
    return rc;
}

int ts_mp_get_array(const msgpack_object *map, const char *key, bool required,
                    const msgpack_object **out, const char *where, ts_error *err)
{
    return ts__get(map, key, required, MSGPACK_OBJECT_ARRAY, out, where, err);
}

int ts_mp_get_map(const msgpack_object *map, const char *key, bool required,
                  const msgpack_object **out, const char *where, ts_error *err)
{
    return ts__get(map, key, required, MSGPACK_OBJECT_MAP, out, where, err);
}

/* ---------------------------------------------------------------- packing */

void ts_mp_pack_strn(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void ts_mp_pack_cstr(msgpack_packer *pk, const char *s)
{
    ts_mp_pack_strn(pk, s, strlen(s));
}

static int ts__kv_cmp(const void *a, const void *b)
{
    const msgpack_object_kv *x = a, *y = b;
    /* keys are str after validation; fall back to type order otherwise */
    if (x->key.type != MSGPACK_OBJECT_STR || y->key.type != MSGPACK_OBJECT_STR)
        return (int)x->key.type - (int)y->key.type;
    return ts__str_cmp(&x->key.via.str, &y->key.via.str);
}

void ts_mp_pack_canonical(msgpack_packer *pk, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        msgpack_pack_nil(pk);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        if (o->via.boolean)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        msgpack_pack_uint64(pk, o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        msgpack_pack_int64(pk, o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        msgpack_pack_double(pk, o->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        ts_mp_pack_strn(pk, o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        msgpack_pack_bin(pk, o->via.bin.size);
        msgpack_pack_bin_body(pk, o->via.bin.ptr, o->via.bin.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        msgpack_pack_array(pk, o->via.array.size);
        for (uint32_t i = 0; i < o->via.array.size; i++)
            ts_mp_pack_canonical(pk, &o->via.array.ptr[i]);
        break;
    case MSGPACK_OBJECT_MAP: {
        uint32_t n = o->via.map.size;
        msgpack_object_kv *kv = ts_xreallocarray(NULL, n ? n : 1, sizeof *kv);
        if (n)
            memcpy(kv, o->via.map.ptr, n * sizeof *kv);
        qsort(kv, n, sizeof *kv, ts__kv_cmp);
        msgpack_pack_map(pk, n);
        for (uint32_t i = 0; i < n; i++) {
            ts_mp_pack_canonical(pk, &kv[i].key);
            ts_mp_pack_canonical(pk, &kv[i].val);
        }
        free(kv);
        break;
    }
    case MSGPACK_OBJECT_EXT:
        /* rejected by ts_mp_validate; never packed */
        msgpack_pack_nil(pk);
        break;
    }
}

/* ---------------------------------------------------------------- JSON */

void ts_json_string(ts_buf *b, const char *s, size_t n)
{
    ts_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            ts_buf_append(b, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            ts_buf_printf(b, "\\u%04x", c);
        } else {
            ts_buf_append(b, &s[i], 1);
        }
    }
    ts_buf_append(b, "\"", 1);
}

void ts_mp_to_json(ts_buf *b, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: ts_buf_append_str(b, "null"); break;
    case MSGPACK_OBJECT_BOOLEAN: ts_buf_append_str(b, o->via.boolean ? "true" : "false"); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: ts_buf_printf(b, "%" PRIu64, o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: ts_buf_printf(b, "%" PRId64, o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (isfinite(o->via.f64)) {
            /* the shortest form that reads back as the same double */
            char tmp[40];
            for (int prec = 15; prec <= 17; prec++) {
                snprintf(tmp, sizeof tmp, "%.*g", prec, o->via.f64);
                if (strtod(tmp, NULL) == o->via.f64)
                    break;
            }
            ts_buf_append_str(b, tmp);
        } else {
            ts_buf_append_str(b, "null");
        }
        break;
    case MSGPACK_OBJECT_STR: ts_json_string(b, o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN:
        ts_buf_append_str(b, "{\"bin\":\"");
        for (uint32_t i = 0; i < o->via.bin.size; i++)
            ts_buf_printf(b, "%02x", (unsigned char)o->via.bin.ptr[i]);
        ts_buf_append_str(b, "\"}");
        break;
    case MSGPACK_OBJECT_ARRAY:
        ts_buf_append(b, "[", 1);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                ts_buf_append(b, ",", 1);
            ts_mp_to_json(b, &o->via.array.ptr[i]);
        }
        ts_buf_append(b, "]", 1);
        break;
    case MSGPACK_OBJECT_MAP:
        ts_buf_append(b, "{", 1);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (i)
                ts_buf_append(b, ",", 1);
            if (kv->key.type == MSGPACK_OBJECT_STR)
                ts_json_string(b, kv->key.via.str.ptr, kv->key.via.str.size);
            else
                ts_buf_append_str(b, "\"?\"");
            ts_buf_append(b, ":", 1);
            ts_mp_to_json(b, &kv->val);
        }
        ts_buf_append(b, "}", 1);
        break;
    default: ts_buf_append_str(b, "null"); break;
    }
}

void ts_value_to_json(ts_buf *b, const uint8_t *value, size_t len)
{
    msgpack_unpacked up;
    if (ts_mp_unpack(value, len, NULL, &up, NULL) < 0) {
        ts_buf_append_str(b, "null");
        return;
    }
    ts_mp_to_json(b, &up.data);
    msgpack_unpacked_destroy(&up);
}

/* ---------------------------------------------------------------- direct writers */

void ts_mp_put_map(ts_buf *b, uint32_t n)
{
    ts_buf_reserve(b, TS_MP_HEADER_MAX);
    b->len = (size_t)(ts_mp_write_map(b->data + b->len, n) - b->data);
}

void ts_mp_put_array(ts_buf *b, uint32_t n)
{
    ts_buf_reserve(b, TS_MP_HEADER_MAX);
    b->len = (size_t)(ts_mp_write_array(b->data + b->len, n) - b->data);
}

void ts_mp_put_str(ts_buf *b, const char *s, size_t n)
{
    ts_buf_reserve(b, TS_MP_HEADER_MAX + n);
    uint8_t *p = ts_mp_write_str_header(b->data + b->len, n);
    if (n)
        memcpy(p, s, n);
    b->len = (size_t)(p + n - b->data);
}

void ts_mp_put_uint(ts_buf *b, uint64_t v)
{
    ts_buf_reserve(b, TS_MP_HEADER_MAX);
    b->len = (size_t)(ts_mp_write_uint(b->data + b->len, v) - b->data);
}

void ts_mp_put_canonical(ts_buf *b, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: ts_buf_append(b, "\xc0", 1); return;
    case MSGPACK_OBJECT_BOOLEAN: ts_buf_append(b, o->via.boolean ? "\xc3" : "\xc2", 1); return;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: ts_mp_put_uint(b, o->via.u64); return;
    case MSGPACK_OBJECT_STR: ts_mp_put_str(b, o->via.str.ptr, o->via.str.size); return;
    default: {
        msgpack_packer pk;
        ts_buf_packer(b, &pk);
        ts_mp_pack_canonical(&pk, o);
        return;
    }
    }
}
