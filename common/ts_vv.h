/* Replica ids, dots and version vectors, exactly as ../DESIGN.md defines them:
 * a vv maps replica id -> counter; (r, c) is covered by vv when vv[r] >= c. */
#ifndef TS_VV_H
#define TS_VV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "common/ts_error.h"

/* Replica ids are 1..64 bytes of [A-Za-z0-9._:-]; compared as bytes. */
#define TS_RID_MAX 64

typedef struct ts_rid {
    uint8_t len;
    char b[TS_RID_MAX + 1]; /* NUL-terminated */
} ts_rid;

typedef struct ts_dot {
    ts_rid rid;
    uint64_t counter;
} ts_dot;

/* Entries sorted by rid, every counter > 0 (an absent replica counts as 0). */
typedef struct ts_vv {
    uint32_t n;
    uint32_t cap;
    ts_dot *e;
} ts_vv;

typedef enum ts_vv_order {
    TS_VV_EQUAL = 0,
    TS_VV_BEFORE = 1, /* a < b: b has seen everything a has, and more */
    TS_VV_AFTER = 2,  /* a > b */
    TS_VV_CONCURRENT = 3
} ts_vv_order;

int ts_rid_set(ts_rid *rid, const char *s, size_t n);
int ts_rid_set_cstr(ts_rid *rid, const char *s);
bool ts_rid_valid(const char *s, size_t n);
int ts_rid_cmp(const ts_rid *a, const ts_rid *b);
bool ts_rid_eq(const ts_rid *a, const ts_rid *b);
/* A fresh random replica id "<prefix>.<16 hex digits>" (prefix truncated to fit). */
void ts_rid_generate(ts_rid *rid, const char *prefix);

void ts_vv_init(ts_vv *vv);
void ts_vv_free(ts_vv *vv);
void ts_vv_copy(ts_vv *dst, const ts_vv *src);
void ts_vv_clear(ts_vv *vv);
uint64_t ts_vv_get(const ts_vv *vv, const ts_rid *rid);
/* Sets vv[rid] = counter (counter 0 removes the entry). */
void ts_vv_set(ts_vv *vv, const ts_rid *rid, uint64_t counter);
/* vv[rid] += 1; returns the new counter. */
uint64_t ts_vv_bump(ts_vv *vv, const ts_rid *rid);
ts_vv_order ts_vv_compare(const ts_vv *a, const ts_vv *b);
/* a <= b pointwise */
bool ts_vv_leq(const ts_vv *a, const ts_vv *b);
bool ts_vv_equal(const ts_vv *a, const ts_vv *b);
/* dst = max(dst, src) pointwise */
void ts_vv_merge(ts_vv *dst, const ts_vv *src);
bool ts_vv_covers(const ts_vv *vv, const ts_dot *dot);

/* Compact msgpack form: a map {rid: counter} with keys in byte order. */
void ts_vv_pack(msgpack_packer *pk, const ts_vv *vv);
/* The same bytes, written straight into b. */
struct ts_buf;
void ts_vv_pack_buf(struct ts_buf *b, const ts_vv *vv);
/* Accepts keys in any order; rejects bad rids, zero counters and duplicates. */
int ts_vv_unpack(const msgpack_object *o, ts_vv *vv, const char *where, ts_error *err);
/* Writes {"rid":counter,...} into buf (for logs and dumps); returns buf. */
char *ts_vv_format(const ts_vv *vv, char *buf, size_t size);

const char *ts_vv_order_name(ts_vv_order order);

#endif
