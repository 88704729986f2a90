#include "common/ts_vv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "common/ts_buf.h"
#include "common/ts_mp.h"
#include "common/ts_xmalloc.h"

/* Every change names a replica per field: checked with a table. */
static const unsigned char ts__rid_char[256] = {
    ['-'] = 1, ['.'] = 1, [':'] = 1, ['_'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
    ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
    ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

bool ts_rid_valid(const char *s, size_t n)
{
    if (n == 0 || n > TS_RID_MAX)
        return false;
    unsigned ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= ts__rid_char[(unsigned char)s[i]];
    return ok != 0;
}

int ts_rid_set(ts_rid *rid, const char *s, size_t n)
{
    if (!ts_rid_valid(s, n))
        return TS_EBAD_VALUE;
    memcpy(rid->b, s, n);
    rid->b[n] = '\0';
    rid->len = (uint8_t)n;
    return 0;
}

int ts_rid_set_cstr(ts_rid *rid, const char *s)
{
    return ts_rid_set(rid, s, strlen(s));
}

int ts_rid_cmp(const ts_rid *a, const ts_rid *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->b, b->b, n);
    if (c != 0)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

bool ts_rid_eq(const ts_rid *a, const ts_rid *b)
{
    return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

void ts_rid_generate(ts_rid *rid, const char *prefix)
{
    unsigned char rnd[8];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        fprintf(stderr, "level=fatal event=random_failed\n");
        abort();
    }
    char tmp[TS_RID_MAX + 1];
    size_t plen = strlen(prefix);
    if (plen > TS_RID_MAX - 17)
        plen = TS_RID_MAX - 17;
    memcpy(tmp, prefix, plen);
    size_t o = plen;
    tmp[o++] = '.';
    for (size_t i = 0; i < sizeof rnd; i++)
        o += (size_t)snprintf(tmp + o, sizeof tmp - o, "%02x", rnd[i]);
    /* an invalid prefix character is replaced rather than refused */
    for (size_t i = 0; i < plen; i++)
        if (!ts_rid_valid(&tmp[i], 1))
            tmp[i] = '_';
    ts_rid_set(rid, tmp, o);
}

void ts_vv_init(ts_vv *vv)
{
    vv->n = 0;
    vv->cap = 0;
    vv->e = NULL;
}

void ts_vv_free(ts_vv *vv)
{
    free(vv->e);
    ts_vv_init(vv);
}

void ts_vv_clear(ts_vv *vv)
{
    vv->n = 0;
}

static void ts__vv_reserve(ts_vv *vv, uint32_t n)
{
    if (vv->cap >= n)
        return;
    uint32_t cap = vv->cap ? vv->cap : 4;
    while (cap < n)
        cap *= 2;
    vv->e = ts_xreallocarray(vv->e, cap, sizeof *vv->e);
    vv->cap = cap;
}

void ts_vv_copy(ts_vv *dst, const ts_vv *src)
{
    if (dst == src)
        return;
    ts__vv_reserve(dst, src->n);
    if (src->n)
        memcpy(dst->e, src->e, src->n * sizeof *src->e);
    dst->n = src->n;
}

/* Binary search: index of rid, or where it would be inserted (found = false). */
static uint32_t ts__vv_find(const ts_vv *vv, const ts_rid *rid, bool *found)
{
    uint32_t lo = 0, hi = vv->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = ts_rid_cmp(&vv->e[mid].rid, rid);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

uint64_t ts_vv_get(const ts_vv *vv, const ts_rid *rid)
{
    bool found;
    uint32_t i = ts__vv_find(vv, rid, &found);
    return found ? vv->e[i].counter : 0;
}

void ts_vv_set(ts_vv *vv, const ts_rid *rid, uint64_t counter)
{
    bool found;
    uint32_t i = ts__vv_find(vv, rid, &found);
    if (found) {
        if (counter == 0) {
            memmove(&vv->e[i], &vv->e[i + 1], (vv->n - i - 1) * sizeof *vv->e);
            vv->n--;
        } else {
            vv->e[i].counter = counter;
        }
        return;
    }
    if (counter == 0)
        return;
    ts__vv_reserve(vv, vv->n + 1);
    memmove(&vv->e[i + 1], &vv->e[i], (vv->n - i) * sizeof *vv->e);
    vv->e[i].rid = *rid;
    vv->e[i].counter = counter;
    vv->n++;
}

uint64_t ts_vv_bump(ts_vv *vv, const ts_rid *rid)
{
    uint64_t c = ts_vv_get(vv, rid) + 1;
    ts_vv_set(vv, rid, c);
    return c;
}

ts_vv_order ts_vv_compare(const ts_vv *a, const ts_vv *b)
{
    bool a_more = false, b_more = false; /* some entry where a > b, or b > a */
    uint32_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        int c;
        if (i == a->n)
            c = 1;
        else if (j == b->n)
            c = -1;
        else
            c = ts_rid_cmp(&a->e[i].rid, &b->e[j].rid);
        if (c < 0) { /* only a has it (b: 0) */
            a_more = true;
            i++;
        } else if (c > 0) {
            b_more = true;
            j++;
        } else {
            if (a->e[i].counter > b->e[j].counter)
                a_more = true;
            else if (a->e[i].counter < b->e[j].counter)
                b_more = true;
            i++;
            j++;
        }
        if (a_more && b_more)
            return TS_VV_CONCURRENT;
    }
    if (a_more)
        return TS_VV_AFTER;
    if (b_more)
        return TS_VV_BEFORE;
    return TS_VV_EQUAL;
}

bool ts_vv_leq(const ts_vv *a, const ts_vv *b)
{
    ts_vv_order o = ts_vv_compare(a, b);
    return o == TS_VV_EQUAL || o == TS_VV_BEFORE;
}

bool ts_vv_equal(const ts_vv *a, const ts_vv *b)
{
    return ts_vv_compare(a, b) == TS_VV_EQUAL;
}

void ts_vv_merge(ts_vv *dst, const ts_vv *src)
{
    /* merge two sorted lists into a fresh array, then swap it in */
    uint32_t n = dst->n + src->n;
    if (n == 0)
        return;
    ts_dot *out = ts_xreallocarray(NULL, n, sizeof *out);
    uint32_t i = 0, j = 0, k = 0;
    while (i < dst->n || j < src->n) {
        int c;
        if (i == dst->n)
            c = 1;
        else if (j == src->n)
            c = -1;
        else
            c = ts_rid_cmp(&dst->e[i].rid, &src->e[j].rid);
        if (c < 0) {
            out[k++] = dst->e[i++];
        } else if (c > 0) {
            out[k++] = src->e[j++];
        } else {
            out[k] = dst->e[i];
            if (src->e[j].counter > out[k].counter)
                out[k].counter = src->e[j].counter;
            k++;
            i++;
            j++;
        }
    }
    free(dst->e);
    dst->e = out;
    dst->n = k;
    dst->cap = n;
}

bool ts_vv_covers(const ts_vv *vv, const ts_dot *dot)
{
    return ts_vv_get(vv, &dot->rid) >= dot->counter;
}

void ts_vv_pack(msgpack_packer *pk, const ts_vv *vv)
{
    msgpack_pack_map(pk, vv->n);
    for (uint32_t i = 0; i < vv->n; i++) {
        ts_mp_pack_strn(pk, vv->e[i].rid.b, vv->e[i].rid.len);
        msgpack_pack_uint64(pk, vv->e[i].counter);
    }
}

void ts_vv_pack_buf(ts_buf *b, const ts_vv *vv)
{
    ts_mp_put_map(b, vv->n);
    for (uint32_t i = 0; i < vv->n; i++) {
        ts_mp_put_str(b, vv->e[i].rid.b, vv->e[i].rid.len);
        ts_mp_put_uint(b, vv->e[i].counter);
    }
}

static int ts__dot_cmp(const void *a, const void *b)
{
    return ts_rid_cmp(&((const ts_dot *)a)->rid, &((const ts_dot *)b)->rid);
}

int ts_vv_unpack(const msgpack_object *o, ts_vv *vv, const char *where, ts_error *err)
{
    ts_vv_clear(vv);
    if (o->type != MSGPACK_OBJECT_MAP)
        return ts_error_set(err, TS_EWRONG_TYPE, "%s: version vector must be a map, not %s", where,
                            ts_mp_type_name(o->type));
    uint32_t n = o->via.map.size;
    if (n > 0xffff)
        return ts_error_set(err, TS_ETOO_MANY_ELEMENTS, "%s: version vector of %u entries", where, n);
    ts__vv_reserve(vv, n);
    bool sorted = true;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR || ts_rid_set(&vv->e[i].rid, k->via.str.ptr, k->via.str.size) < 0)
            return ts_error_set(err, TS_EBAD_VALUE, "%s: version vector key %u is not a valid replica id",
                                where, i);
        if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 == 0)
            return ts_error_set(err, TS_EBAD_VALUE, "%s: counter of replica \"%s\" must be a uint > 0",
                                where, vv->e[i].rid.b);
        vv->e[i].counter = v->via.u64;
        if (i > 0 && ts_rid_cmp(&vv->e[i - 1].rid, &vv->e[i].rid) >= 0)
            sorted = false;
    }
    vv->n = n;
    if (!sorted)
        qsort(vv->e, n, sizeof *vv->e, ts__dot_cmp);
    for (uint32_t i = 1; i < n; i++)
        if (ts_rid_eq(&vv->e[i - 1].rid, &vv->e[i].rid))
            return ts_error_set(err, TS_EDUPLICATE_KEY, "%s: replica \"%s\" appears twice", where,
                                vv->e[i].rid.b);
    return 0;
}

char *ts_vv_format(const ts_vv *vv, char *buf, size_t size)
{
    size_t o = 0;
    if (size == 0)
        return buf;
    o += (size_t)snprintf(buf, size, "{");
    for (uint32_t i = 0; i < vv->n && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s\"%s\":%llu", i ? "," : "", vv->e[i].rid.b,
                              (unsigned long long)vv->e[i].counter);
    if (o < size)
        snprintf(buf + o, size - o, "}");
    return buf;
}

const char *ts_vv_order_name(ts_vv_order order)
{
    static const char *const names[] = {"equal", "before", "after", "concurrent"};
    return (unsigned)order < 4 ? names[order] : "unknown";
}
