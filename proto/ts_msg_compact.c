#include "proto/ts_msg_compact.h"

#include <stdio.h>
#include <string.h>

#include "common/ts_xmalloc.h"

/* A compact change, by position (docs/PROTOCOL.md, "Compact changes"):
 *   [table, id, owner, vv, newest, fields, others, seq, lseq, losers]
 * with the trailing four left out while they hold their default. */
enum {
    C_TABLE = 0,
    C_ID,
    C_OWNER,
    C_VV,
    C_NEWEST,
    C_FIELDS,
    C_OTHERS,
    C_SEQ,
    C_LSEQ,
    C_LOSERS,
    C__MAX,
    C__MIN = C_FIELDS + 1
};

/* ---------------------------------------------------------------- encode */

static uint32_t ts__hash(const char *s, uint32_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a: short strings, no adversary (we encode our own) */
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static ts__strtab_entry *ts__slot(const ts_compact_enc *e, const char *s, uint32_t n)
{
    uint32_t i = ts__hash(s, n) & (e->cap - 1);
    while (e->slots[i].idx != UINT32_MAX && !(e->slots[i].len == n && memcmp(e->slots[i].s, s, n) == 0))
        i = (i + 1) & (e->cap - 1);
    return &e->slots[i];
}

static void ts__grow(ts_compact_enc *e)
{
    uint32_t old = e->cap;
    ts__strtab_entry *was = e->slots;
    e->cap = old ? old * 2 : 64;
    e->slots = ts_xmalloc((size_t)e->cap * sizeof *e->slots);
    for (uint32_t i = 0; i < e->cap; i++)
        e->slots[i].idx = UINT32_MAX;
    e->order = ts_xreallocarray(e->order, e->cap / 2, sizeof *e->order);
    for (uint32_t i = 0; i < old; i++) {
        if (was[i].idx == UINT32_MAX)
            continue;
        ts__strtab_entry *to = ts__slot(e, was[i].s, was[i].len);
        *to = was[i];
        e->order[to->idx] = to;
    }
    free(was);
}

static void ts__add(ts_compact_enc *e, const char *s, uint32_t n)
{
    if (e->n + 1 > e->cap / 2)
        ts__grow(e);
    ts__strtab_entry *slot = ts__slot(e, s, n);
    if (slot->idx != UINT32_MAX)
        return;
    slot->s = s;
    slot->len = n;
    slot->idx = e->n;
    e->order[e->n++] = slot;
}

static uint32_t ts__idx(const ts_compact_enc *e, const char *s, uint32_t n)
{
    return ts__slot(e, s, n)->idx;
}

void ts_compact_enc_build(ts_compact_enc *e, const ts_change_list *list)
{
    memset(e, 0, sizeof *e);
    e->version = 2;
    ts__grow(e);
    for (uint32_t i = 0; i < list->n; i++) {
        const ts_change *c = &list->items[i];
        ts__add(e, c->table, (uint32_t)strlen(c->table));
        for (uint32_t k = 0; k < c->v.vv.n; k++)
            ts__add(e, c->v.vv.e[k].rid.b, c->v.vv.e[k].rid.len);
        for (uint32_t k = 0; k < c->v.nfields; k++) {
            ts__add(e, c->v.fields[k].name, c->v.fields[k].name_len);
            ts__add(e, c->v.fields[k].dot.rid.b, c->v.fields[k].dot.rid.len);
        }
        for (uint32_t k = 0; k < c->nlosers; k++) {
            ts__add(e, c->losers[k].name, c->losers[k].name_len);
            ts__add(e, c->losers[k].dot.rid.b, c->losers[k].dot.rid.len);
        }
    }
}

void ts_compact_enc_pack_strs(msgpack_packer *pk, const ts_compact_enc *e)
{
    msgpack_pack_array(pk, e->n);
    for (uint32_t i = 0; i < e->n; i++)
        ts_mp_pack_strn(pk, e->order[i]->s, e->order[i]->len);
}

/* The change's newest write: the entry with the highest hlc, ties broken by
 * the greater dot, so that the choice (and so the bytes) is deterministic.
 * NULL when the version has no fields. */
static const ts_field *ts__newest(const ts_version *v)
{
    const ts_field *best = NULL;
    for (uint32_t i = 0; i < v->nfields; i++) {
        const ts_field *f = &v->fields[i];
        if (best == NULL || f->hlc > best->hlc) {
            best = f;
            continue;
        }
        if (f->hlc < best->hlc)
            continue;
        int r = ts_rid_cmp(&f->dot.rid, &best->dot.rid);
        if (r > 0 || (r == 0 && f->dot.counter > best->dot.counter))
            best = f;
    }
    return best;
}

static bool ts__at_newest(const ts_field *f, const ts_field *w)
{
    return f->hlc == w->hlc && f->dot.counter == w->dot.counter && ts_rid_eq(&f->dot.rid, &w->dot.rid);
}

static void ts__pack_entries5(msgpack_packer *pk, const ts_compact_enc *e, const ts_field *f, uint32_t n,
                              const ts_field *skip_at)
{
    for (uint32_t i = 0; i < n; i++) {
        if (skip_at != NULL && ts__at_newest(&f[i], skip_at))
            continue;
        msgpack_pack_uint32(pk, ts__idx(e, f[i].name, f[i].name_len));
        pk->callback(pk->data, (const char *)f[i].value, f[i].value_len);
        msgpack_pack_uint32(pk, ts__idx(e, f[i].dot.rid.b, f[i].dot.rid.len));
        msgpack_pack_uint64(pk, f[i].dot.counter);
        msgpack_pack_uint64(pk, f[i].hlc);
    }
}

/* Version 3's running state over a frame's changes. */
typedef struct ts__v3_state {
    uint64_t prev_hlc;
    uint32_t *names, nnames, cap; /* the previous field names list (indices) */
    bool have_names;
} ts__v3_state;

static void ts__pack_change(msgpack_packer *pk, const ts_compact_enc *e, const ts_change *c, ts__v3_state *v3)
{
    const ts_version *v = &c->v;
    const ts_field *w = ts__newest(v);
    uint32_t at_w = 0;
    for (uint32_t i = 0; i < v->nfields; i++)
        at_w += w != NULL && ts__at_newest(&v->fields[i], w);
    uint32_t others = v->nfields - at_w;
    uint32_t len = c->nlosers ? C_LOSERS + 1 : c->lseq ? C_LSEQ + 1 : c->seq ? C_SEQ + 1 : others ? C_OTHERS + 1 : C__MIN;

    msgpack_pack_array(pk, len);
    msgpack_pack_uint32(pk, ts__idx(e, c->table, (uint32_t)strlen(c->table)));
    ts_mp_pack_cstr(pk, c->id);
    ts_mp_pack_cstr(pk, c->owner);
    if (v3 != NULL && w != NULL && v->vv.n == 1 && v->vv.e[0].counter == w->dot.counter &&
        ts_rid_eq(&v->vv.e[0].rid, &w->dot.rid)) {
        msgpack_pack_nil(pk); /* the vv is the newest write's dot alone */
    } else {
        msgpack_pack_array(pk, 2 * v->vv.n);
        for (uint32_t i = 0; i < v->vv.n; i++) {
            msgpack_pack_uint32(pk, ts__idx(e, v->vv.e[i].rid.b, v->vv.e[i].rid.len));
            msgpack_pack_uint64(pk, v->vv.e[i].counter);
        }
    }
    if (w == NULL) {
        msgpack_pack_nil(pk);
    } else {
        msgpack_pack_array(pk, 3);
        msgpack_pack_uint32(pk, ts__idx(e, w->dot.rid.b, w->dot.rid.len));
        msgpack_pack_uint64(pk, w->dot.counter);
        if (v3 == NULL) {
            msgpack_pack_uint64(pk, w->hlc);
        } else {
            /* the difference from the previous newest write's hlc, modulo
             * 2^64: forward as a uint, backward as a negative int while it
             * fits one (at most 2^63), else forward around */
            uint64_t back = v3->prev_hlc - w->hlc;
            if (w->hlc >= v3->prev_hlc || back > (uint64_t)INT64_MAX + 1u)
                msgpack_pack_uint64(pk, w->hlc - v3->prev_hlc);
            else if (back == (uint64_t)INT64_MAX + 1u)
                msgpack_pack_int64(pk, INT64_MIN);
            else
                msgpack_pack_int64(pk, -(int64_t)back);
            v3->prev_hlc = w->hlc;
        }
    }
    if (v3 == NULL) {
        msgpack_pack_array(pk, 2 * at_w);
        for (uint32_t i = 0; i < v->nfields && at_w; i++) {
            const ts_field *f = &v->fields[i];
            if (!ts__at_newest(f, w))
                continue;
            msgpack_pack_uint32(pk, ts__idx(e, f->name, f->name_len));
            pk->callback(pk->data, (const char *)f->value, f->value_len);
        }
    } else if (at_w == 0) {
        msgpack_pack_array(pk, 0);
    } else {
        /* [names, value, ...]: names nil when they are the previous list */
        if (at_w > v3->cap) {
            v3->names = ts_xreallocarray(v3->names, at_w, sizeof *v3->names);
            v3->cap = at_w;
        }
        bool same = v3->have_names && v3->nnames == at_w;
        uint32_t k = 0;
        for (uint32_t i = 0; i < v->nfields; i++) {
            const ts_field *f = &v->fields[i];
            if (!ts__at_newest(f, w))
                continue;
            uint32_t idx = ts__idx(e, f->name, f->name_len);
            same = same && v3->names[k] == idx;
            v3->names[k++] = idx;
        }
        v3->nnames = at_w;
        v3->have_names = true;
        msgpack_pack_array(pk, 1 + at_w);
        if (same) {
            msgpack_pack_nil(pk);
        } else {
            msgpack_pack_array(pk, at_w);
            for (uint32_t i = 0; i < at_w; i++)
                msgpack_pack_uint32(pk, v3->names[i]);
        }
        for (uint32_t i = 0; i < v->nfields; i++)
            if (ts__at_newest(&v->fields[i], w))
                pk->callback(pk->data, (const char *)v->fields[i].value, v->fields[i].value_len);
    }
    if (len > C_OTHERS) {
        msgpack_pack_array(pk, 5 * others);
        ts__pack_entries5(pk, e, v->fields, v->nfields, w);
    }
    if (len > C_SEQ)
        msgpack_pack_uint64(pk, c->seq);
    if (len > C_LSEQ)
        msgpack_pack_uint64(pk, c->lseq);
    if (len > C_LOSERS) {
        msgpack_pack_array(pk, 5 * c->nlosers);
        ts__pack_entries5(pk, e, c->losers, c->nlosers, NULL);
    }
}

void ts_compact_enc_pack_changes(msgpack_packer *pk, const ts_compact_enc *e, const ts_change_list *list)
{
    ts__v3_state v3;
    memset(&v3, 0, sizeof v3);
    msgpack_pack_array(pk, list->n);
    for (uint32_t i = 0; i < list->n; i++)
        ts__pack_change(pk, e, &list->items[i], e->version >= 3 ? &v3 : NULL);
    free(v3.names);
}

void ts_compact_enc_free(ts_compact_enc *e)
{
    free(e->slots);
    free(e->order);
    memset(e, 0, sizeof *e);
}

/* ---------------------------------------------------------------- decode */

int ts_compact_dec_init(ts_compact_dec *d, const msgpack_object *strs, int version, const char *where,
                        ts_error *err)
{
    memset(d, 0, sizeof *d);
    d->version = version >= 3 ? 3 : 2;
    if (strs->type != MSGPACK_OBJECT_ARRAY)
        return ts_error_set(err, TS_EWRONG_TYPE, "%s: \"%s\" must be an array, not %s", where,
                            d->version >= 3 ? TS_COMPACT_KEY_STRS3 : TS_COMPACT_KEY_STRS, ts_mp_type_name(strs->type));
    for (uint32_t i = 0; i < strs->via.array.size; i++)
        if (strs->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
            return ts_error_set(err, TS_EWRONG_TYPE, "%s: strs[%u] must be a str, not %s", where, i,
                                ts_mp_type_name(strs->via.array.ptr[i].type));
    d->strs = strs->via.array.ptr;
    d->nstrs = strs->via.array.size;
    return 0;
}

void ts_compact_dec_free(ts_compact_dec *d)
{
    free(d->objs);
    free(d->kvs);
    memset(d, 0, sizeof *d);
}

static void ts__set_cstr(msgpack_object *o, const char *s)
{
    o->type = MSGPACK_OBJECT_STR;
    o->via.str.ptr = s;
    o->via.str.size = (uint32_t)strlen(s);
}

/* The string o refers to (an index into strs). */
static int ts__str_at(const ts_compact_dec *d, const msgpack_object *o, msgpack_object *out, const char *what,
                      const char *where, ts_error *err)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return ts_error_set(err, TS_EWRONG_TYPE, "%s: %s must be an index into strs (a uint), not %s", where, what,
                            ts_mp_type_name(o->type));
    if (o->via.u64 >= d->nstrs)
        return ts_error_set(err, TS_EBAD_VALUE, "%s: %s %llu is beyond strs (%u entries)", where, what,
                            (unsigned long long)o->via.u64, d->nstrs);
    *out = d->strs[o->via.u64];
    return 0;
}

static int ts__flat(const msgpack_object *o, uint32_t stride, const char *what, const char *where, ts_error *err)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return ts_error_set(err, TS_EWRONG_TYPE, "%s: %s must be an array, not %s", where, what,
                            ts_mp_type_name(o->type));
    if (o->via.array.size % stride != 0)
        return ts_error_set(err, TS_EWRONG_TYPE, "%s: %s must hold groups of %u elements, not %u elements", where,
                            what, stride, o->via.array.size);
    return 0;
}

/* Fills a v1 field entry {name: [value, replica, counter, hlc]} from a group
 * of five [name, value, replica, counter, hlc] (or from two and the newest
 * write when w is set). */
static int ts__entry(const ts_compact_dec *d, const msgpack_object *g, const msgpack_object *w,
                     msgpack_object_kv *kv, msgpack_object *four, const char *what, const char *where, ts_error *err)
{
    int rc = ts__str_at(d, &g[0], &kv->key, what, where, err);
    if (rc < 0)
        return rc;
    four[0] = g[1];
    if (w != NULL) {
        four[1] = w[0]; /* already resolved to the replica's str */
        four[2] = w[1];
        four[3] = w[2];
    } else {
        if ((rc = ts__str_at(d, &g[2], &four[1], "a replica", where, err)) < 0)
            return rc;
        four[2] = g[3];
        four[3] = g[4];
    }
    kv->val.type = MSGPACK_OBJECT_ARRAY;
    kv->val.via.array.size = 4;
    kv->val.via.array.ptr = four;
    return 0;
}

int ts_compact_change(ts_compact_dec *d, const msgpack_object *o, const ts_proto_limits *limits, ts_change *c,
                      ts_arena *arena, ts_buf *scratch, const char *where, ts_error *err)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < C__MIN || o->via.array.size > C__MAX)
        return ts_error_set(err, TS_EWRONG_TYPE, "%s must be an array of %d to %d elements (a compact change)",
                            where, C__MIN, C__MAX);
    const msgpack_object *a = o->via.array.ptr;
    uint32_t n = o->via.array.size;
    static const msgpack_object none = {.type = MSGPACK_OBJECT_ARRAY};
    const msgpack_object *others = n > C_OTHERS ? &a[C_OTHERS] : &none;
    const msgpack_object *losers = n > C_LOSERS ? &a[C_LOSERS] : &none;
    int rc;
    bool v3 = d->version >= 3;
    /* version 3: vv nil is the newest write's dot alone; fields are
     * [names, value, ...] with names nil for the previous list, or empty */
    bool vv_implied = v3 && a[C_VV].type == MSGPACK_OBJECT_NIL;
    const msgpack_object *names = NULL;
    uint32_t nat = 0;
    if (v3) {
        const msgpack_object *fa = &a[C_FIELDS];
        if (fa->type != MSGPACK_OBJECT_ARRAY)
            return ts_error_set(err, TS_EWRONG_TYPE, "%s: fields must be an array, not %s", where,
                                ts_mp_type_name(fa->type));
        if (fa->via.array.size > 0) {
            const msgpack_object *nl = &fa->via.array.ptr[0];
            nat = fa->via.array.size - 1;
            if (nl->type == MSGPACK_OBJECT_NIL) {
                if (d->prev_names == NULL)
                    return ts_error_set(err, TS_EBAD_VALUE, "%s: fields name the previous change's names, but none came before",
                                        where);
                names = d->prev_names;
            } else if (nl->type == MSGPACK_OBJECT_ARRAY) {
                names = nl;
            } else {
                return ts_error_set(err, TS_EWRONG_TYPE, "%s: the fields' names must be an array or nil, not %s", where,
                                    ts_mp_type_name(nl->type));
            }
            if (names->via.array.size != nat)
                return ts_error_set(err, TS_EWRONG_TYPE, "%s: %u field names for %u values", where,
                                    names->via.array.size, nat);
            d->prev_names = names;
        }
    } else if ((rc = ts__flat(&a[C_FIELDS], 2, "fields", where, err)) < 0) {
        return rc;
    } else {
        nat = a[C_FIELDS].via.array.size / 2;
    }
    if ((!vv_implied && (rc = ts__flat(&a[C_VV], 2, "vv", where, err)) < 0) ||
        (rc = ts__flat(others, 5, "others", where, err)) < 0 || (rc = ts__flat(losers, 5, "losers", where, err)) < 0)
        return rc;
    uint32_t nvv = vv_implied ? 1 : a[C_VV].via.array.size / 2, noth = others->via.array.size / 5,
             nlos = losers->via.array.size / 5;
    /* every count is bounded by the bytes of the frame (ts_mp_validate), so
     * these allocations are too; the limits proper are checked below */
    size_t need_kvs = 8 + (size_t)nvv + nat + noth, need_objs = 4 * ((size_t)nat + noth) + 6 * (size_t)nlos + 3;
    if (need_kvs > d->cap_kvs) {
        d->kvs = ts_xreallocarray(d->kvs, need_kvs, sizeof *d->kvs);
        d->cap_kvs = need_kvs;
    }
    if (need_objs > d->cap_objs) {
        d->objs = ts_xreallocarray(d->objs, need_objs, sizeof *d->objs);
        d->cap_objs = need_objs;
    }
    msgpack_object_kv *top = d->kvs, *vv = top + 8, *fields = vv + nvv;
    msgpack_object *w = d->objs, *obj = d->objs + 3;
    uint32_t k = 0;

    ts__set_cstr(&top[k].key, "table");
    if ((rc = ts__str_at(d, &a[C_TABLE], &top[k++].val, "the table", where, err)) < 0)
        return rc;
    ts__set_cstr(&top[k].key, "id");
    top[k++].val = a[C_ID];
    ts__set_cstr(&top[k].key, "owner");
    top[k++].val = a[C_OWNER];

    const msgpack_object *nw = &a[C_NEWEST];
    if (nw->type == MSGPACK_OBJECT_NIL) {
        if (nat != 0)
            return ts_error_set(err, TS_EBAD_VALUE, "%s: fields at the newest write, but no newest write", where);
        if (vv_implied)
            return ts_error_set(err, TS_EBAD_VALUE, "%s: vv nil, but no newest write", where);
    } else if (nw->type != MSGPACK_OBJECT_ARRAY || nw->via.array.size != 3) {
        return ts_error_set(err, TS_EWRONG_TYPE, "%s: the newest write must be nil or [replica, counter, hlc]", where);
    } else {
        if ((rc = ts__str_at(d, &nw->via.array.ptr[0], &w[0], "the newest write's replica", where, err)) < 0)
            return rc;
        w[1] = nw->via.array.ptr[1];
        w[2] = nw->via.array.ptr[2];
        if (v3) {
            /* the hlc is the difference from the previous newest write's,
             * modulo 2^64 */
            const msgpack_object *dh = &nw->via.array.ptr[2];
            uint64_t h;
            if (dh->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                h = d->prev_hlc + dh->via.u64;
            } else if (dh->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && dh->via.i64 < 0) {
                uint64_t back = (uint64_t)(-(dh->via.i64 + 1)) + 1;
                h = d->prev_hlc - back;
            } else {
                return ts_error_set(err, TS_EWRONG_TYPE, "%s: the newest write's hlc must be an int, not %s", where,
                                    ts_mp_type_name(dh->type));
            }
            d->prev_hlc = h;
            w[2].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
            w[2].via.u64 = h;
        }
    }

    if (vv_implied) {
        vv[0].key = w[0];
        vv[0].val = w[1];
    }
    for (uint32_t i = 0; i < nvv && !vv_implied; i++) {
        if ((rc = ts__str_at(d, &a[C_VV].via.array.ptr[2 * i], &vv[i].key, "a vv replica", where, err)) < 0)
            return rc;
        vv[i].val = a[C_VV].via.array.ptr[2 * i + 1];
    }
    ts__set_cstr(&top[k].key, "vv");
    top[k].val.type = MSGPACK_OBJECT_MAP;
    top[k].val.via.map.size = nvv;
    top[k++].val.via.map.ptr = vv;

    uint32_t nf = 0;
    for (uint32_t i = 0; i < nat && v3; i++, nf++, obj += 4) {
        if ((rc = ts__str_at(d, &names->via.array.ptr[i], &fields[nf].key, "a field name", where, err)) < 0)
            return rc;
        obj[0] = a[C_FIELDS].via.array.ptr[1 + i];
        obj[1] = w[0];
        obj[2] = w[1];
        obj[3] = w[2];
        fields[nf].val.type = MSGPACK_OBJECT_ARRAY;
        fields[nf].val.via.array.size = 4;
        fields[nf].val.via.array.ptr = obj;
    }
    for (uint32_t i = 0; i < nat && !v3; i++, nf++, obj += 4)
        if ((rc = ts__entry(d, &a[C_FIELDS].via.array.ptr[2 * i], w, &fields[nf], obj, "a field name", where, err)) < 0)
            return rc;
    for (uint32_t i = 0; i < noth; i++, nf++, obj += 4)
        if ((rc = ts__entry(d, &others->via.array.ptr[5 * i], NULL, &fields[nf], obj, "a field name", where, err)) < 0)
            return rc;
    ts__set_cstr(&top[k].key, "fields");
    top[k].val.type = MSGPACK_OBJECT_MAP;
    top[k].val.via.map.size = nf;
    top[k++].val.via.map.ptr = fields;

    if (n > C_SEQ) {
        ts__set_cstr(&top[k].key, "seq");
        top[k++].val = a[C_SEQ];
    }
    if (n > C_LSEQ) {
        ts__set_cstr(&top[k].key, "lseq");
        top[k++].val = a[C_LSEQ];
    }
    if (nlos > 0) {
        /* v1 losers: [[field, value, replica, counter, hlc], ...] */
        msgpack_object *outer = obj, *five = obj + nlos;
        for (uint32_t i = 0; i < nlos; i++, five += 5) {
            const msgpack_object *g = &losers->via.array.ptr[5 * i];
            if ((rc = ts__str_at(d, &g[0], &five[0], "a loser's field name", where, err)) < 0 ||
                (rc = ts__str_at(d, &g[2], &five[2], "a loser's replica", where, err)) < 0)
                return rc;
            five[1] = g[1];
            five[3] = g[3];
            five[4] = g[4];
            outer[i].type = MSGPACK_OBJECT_ARRAY;
            outer[i].via.array.size = 5;
            outer[i].via.array.ptr = five;
        }
        ts__set_cstr(&top[k].key, "losers");
        top[k].val.type = MSGPACK_OBJECT_ARRAY;
        top[k].val.via.array.size = nlos;
        top[k++].val.via.array.ptr = outer;
    }
    msgpack_object map;
    map.type = MSGPACK_OBJECT_MAP;
    map.via.map.size = k;
    map.via.map.ptr = top;
    return ts_change_unpack(&map, limits, c, arena, scratch, where, err);
}
