/* msgpack helpers: a strict validator that must pass before msgpack-c unpacks
 * anything (msgpack-c trusts declared array/map sizes and allocates them
 * first), typed accessors over msgpack_object with precise errors, and a
 * canonical packer (smallest integers, float64 only, sorted map keys) so equal
 * values always have equal bytes. */
#ifndef TS_MP_H
#define TS_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "common/ts_error.h"

typedef struct ts_mp_limits {
    uint32_t max_depth;    /* nesting of arrays and maps; top level is depth 1 (0: the hard maximum, 64) */
    uint32_t max_elements; /* elements of one array, or entries of one map */
    uint32_t max_objects;  /* objects in the whole document (bounds unpack memory) */
    uint32_t max_str;      /* bytes of one str or bin */
} ts_mp_limits;

#define TS_MP_DEFAULT_MAX_DEPTH 16
#define TS_MP_DEFAULT_MAX_ELEMENTS 65536
#define TS_MP_DEFAULT_MAX_OBJECTS 262144
#define TS_MP_DEFAULT_MAX_STR (256 * 1024)

void ts_mp_limits_default(ts_mp_limits *limits);

/* Checks that buf holds exactly one msgpack object within the limits: every
 * declared length fits in the bytes that remain, no ext types, no reserved
 * byte, str is valid UTF-8, map keys are str, nothing trails the object.
 * Returns 0 or a negative TS_E* code with err describing the byte offset. */
int ts_mp_validate(const uint8_t *buf, size_t len, const ts_mp_limits *limits, ts_error *err);

/* Validates, then unpacks with msgpack-c into `out` (which the caller
 * destroys with msgpack_unpacked_destroy). str/bin objects point into buf,
 * which must outlive `out`. */
int ts_mp_unpack(const uint8_t *buf, size_t len, const ts_mp_limits *limits,
                 msgpack_unpacked *out, ts_error *err);

/* ---- accessors; `where` names the containing object in error messages ---- */
const msgpack_object *ts_mp_map_get(const msgpack_object *map, const char *key);
/* Fails with TS_EDUPLICATE_KEY when the map holds a key twice. */
int ts_mp_map_check_unique(const msgpack_object *map, const char *where, ts_error *err);

int ts_mp_get_uint(const msgpack_object *map, const char *key, bool required, uint64_t *out,
                   const char *where, ts_error *err);
int ts_mp_get_bool(const msgpack_object *map, const char *key, bool required, bool *out,
                   const char *where, ts_error *err);
/* Returns the str bytes (not NUL-terminated) and length; max_len 0 = no limit. */
int ts_mp_get_str(const msgpack_object *map, const char *key, bool required, const char **out,
                  size_t *out_len, size_t max_len, const char *where, ts_error *err);
int ts_mp_get_bin(const msgpack_object *map, const char *key, bool required, const uint8_t **out,
                  size_t *out_len, const char *where, ts_error *err);
int ts_mp_get_array(const msgpack_object *map, const char *key, bool required,
                    const msgpack_object **out, const char *where, ts_error *err);
int ts_mp_get_map(const msgpack_object *map, const char *key, bool required,
                  const msgpack_object **out, const char *where, ts_error *err);

const char *ts_mp_type_name(msgpack_object_type type);
bool ts_mp_str_eq(const msgpack_object *o, const char *s);

/* A scalar value (nil, bool, integer, float, str, bin) read straight from its
 * bytes into *out, with no allocation (str/bin point into buf). Returns 0, or
 * -1 for arrays and maps (unpack those) and for anything malformed. */
int ts_mp_scalar(const uint8_t *buf, size_t len, msgpack_object *out);

/* ---- canonical packing ---- */
/* Packs o canonically: integers in their smallest form, float32 widened to
 * float64, map entries sorted by key bytes. */
void ts_mp_pack_canonical(msgpack_packer *pk, const msgpack_object *o);
void ts_mp_pack_cstr(msgpack_packer *pk, const char *s);
/* Headers in the same smallest forms msgpack-c's packer writes, into room
 * the caller has reserved (at most TS_MP_HEADER_MAX bytes each); each returns
 * the byte after what it wrote. Inline: packing every field of every change
 * is a measurable part of applying a change set. */
#define TS_MP_HEADER_MAX 9

static inline uint8_t *ts_mp_write_be(uint8_t *p, uint8_t type, uint64_t v, unsigned n)
{
    *p++ = type;
    for (unsigned i = 0; i < n; i++)
        *p++ = (uint8_t)(v >> (8 * (n - 1 - i)));
    return p;
}

static inline uint8_t *ts_mp_write_map(uint8_t *p, uint32_t n)
{
    if (n < 16) {
        *p = (uint8_t)(0x80 | n);
        return p + 1;
    }
    return n < 65536 ? ts_mp_write_be(p, 0xde, n, 2) : ts_mp_write_be(p, 0xdf, n, 4);
}

static inline uint8_t *ts_mp_write_array(uint8_t *p, uint32_t n)
{
    if (n < 16) {
        *p = (uint8_t)(0x90 | n);
        return p + 1;
    }
    return n < 65536 ? ts_mp_write_be(p, 0xdc, n, 2) : ts_mp_write_be(p, 0xdd, n, 4);
}

static inline uint8_t *ts_mp_write_str_header(uint8_t *p, size_t n)
{
    if (n < 32) {
        *p = (uint8_t)(0xa0 | n);
        return p + 1;
    }
    return n < 256 ? ts_mp_write_be(p, 0xd9, n, 1) : n < 65536 ? ts_mp_write_be(p, 0xda, n, 2)
                                                                : ts_mp_write_be(p, 0xdb, n, 4);
}

static inline uint8_t *ts_mp_write_uint(uint8_t *p, uint64_t v)
{
    if (v < 128) {
        *p = (uint8_t)v;
        return p + 1;
    }
    return v < 256 ? ts_mp_write_be(p, 0xcc, v, 1)
           : v < 65536       ? ts_mp_write_be(p, 0xcd, v, 2)
           : v <= UINT32_MAX ? ts_mp_write_be(p, 0xce, v, 4)
                             : ts_mp_write_be(p, 0xcf, v, 8);
}

/* The same forms appended to a buffer. */
struct ts_buf;
void ts_mp_put_map(struct ts_buf *b, uint32_t n);
void ts_mp_put_array(struct ts_buf *b, uint32_t n);
void ts_mp_put_str(struct ts_buf *b, const char *s, size_t n);
void ts_mp_put_uint(struct ts_buf *b, uint64_t v);
/* ts_mp_pack_canonical into a buffer (scalars directly, the rest through it). */
void ts_mp_put_canonical(struct ts_buf *b, const msgpack_object *o);
void ts_mp_pack_strn(msgpack_packer *pk, const char *s, size_t n);

/* JSON text of a msgpack value: bin as {"bin":"<hex>"}, non-finite floats
 * as null, maps with str keys as objects. Deterministic (floats %.17g). */
struct ts_buf;
void ts_mp_to_json(struct ts_buf *out, const msgpack_object *o);
/* JSON string literal of s (n bytes), escaped. */
void ts_json_string(struct ts_buf *out, const char *s, size_t n);
/* Decodes one canonical value and writes its JSON; "null" when it is not valid. */
void ts_value_to_json(struct ts_buf *out, const uint8_t *value, size_t len);

/* UTF-8 well-formedness (no overlongs, no surrogates, <= U+10FFFF). */
bool ts_utf8_valid(const uint8_t *s, size_t n);

#endif
