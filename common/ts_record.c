#include "common/ts_record.h"

#include <stdlib.h>
#include <string.h>

#include "common/ts_mp.h"
#include "common/ts_xmalloc.h"

static const unsigned char ts__name_char[256] = {
    ['_'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,
    ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

bool ts_field_name_valid(const char *s, size_t n)
{
    if (n == 0 || n > TS_FIELD_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
        return false;
    unsigned ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= ts__name_char[(unsigned char)s[i]];
    return ok != 0;
}

/* A Latin letter with no look-alike role: precomposed letters only. */
static bool ts__latin_letter(uint32_t cp)
{
    return (cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) || (cp >= 0x1E00 && cp <= 0x1EFF);
}

const char *ts_ident_problem(const char *s, size_t n)
{
    if (n == 0)
        return "is empty";
    if (n > TS_KEY_MAX)
        return "is longer than 128 bytes";
    if (!ts_utf8_valid((const uint8_t *)s, n))
        return "is not valid UTF-8";
    const uint8_t *p = (const uint8_t *)s, *end = p + n;
    while (p < end) {
        uint32_t cp;
        if (*p < 0x80) {
            cp = *p++;
            if (cp < 0x20 || cp == 0x7f)
                return "holds a control character";
            if (cp == ' ')
                return "holds a space";
            if (strchr("\"'\\<>`", (int)cp) != NULL)
                return "holds a quote, backslash, < > or `";
            continue;
        }
        /* ts_utf8_valid vouched for the sequence */
        int len = *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
        cp = *p & (0x7F >> len);
        for (int k = 1; k < len; k++)
            cp = cp << 6 | (p[k] & 0x3F);
        p += len;
        if (ts__latin_letter(cp))
            continue;
        if (cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
            cp == 0x202F || cp == 0x205F || cp == 0x3000)
            return "holds a space";
        if (cp == 0xAD || cp == 0x34F || cp == 0x61C || (cp >= 0x200B && cp <= 0x200F) ||
            (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F) || cp == 0xFEFF ||
            (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xE0000 && cp <= 0xE0FFF))
            return "holds an invisible or text-direction character";
        if ((cp >= 0x300 && cp <= 0x36F) || (cp >= 0x1AB0 && cp <= 0x1AFF) || (cp >= 0x1DC0 && cp <= 0x1DFF) ||
            (cp >= 0x20D0 && cp <= 0x20FF) || (cp >= 0xFE20 && cp <= 0xFE2F))
            return "holds a combining mark (write the letter precomposed)";
        return "holds a character outside Latin letters, digits and punctuation";
    }
    return NULL;
}

bool ts_ident_valid(const char *s, size_t n)
{
    return ts_ident_problem(s, n) == NULL;
}

bool ts_key_valid(const char *s, size_t n)
{
    if (n == 0 || n > TS_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return ts_utf8_valid((const uint8_t *)s, n);
}

const char *ts_account_name_problem(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return "is empty";
    if (n > TS_ACCOUNT_NAME_MAX)
        return "is longer than 64 characters";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return "may hold only letters a-z, digits, '.', '_' and '-'";
    }
    return ts_ident_problem(s, n);
}

void ts_account_name_fold(const char *s, char *out, size_t size)
{
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++)
        out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
    if (size)
        out[i] = '\0';
}

void ts_version_init(ts_version *v)
{
    ts_vv_init(&v->vv);
    v->fields = NULL;
    v->nfields = 0;
}

void ts_version_free(ts_version *v)
{
    ts_vv_free(&v->vv);
    v->fields = NULL;
    v->nfields = 0;
}

void ts_version_copy(ts_version *dst, const ts_version *src, ts_arena *arena)
{
    ts_vv_copy(&dst->vv, &src->vv);
    dst->nfields = src->nfields;
    dst->fields = ts_arena_alloc(arena, (src->nfields ? src->nfields : 1) * sizeof *dst->fields);
    for (uint32_t i = 0; i < src->nfields; i++) {
        dst->fields[i] = src->fields[i];
        dst->fields[i].name = ts_arena_strndup(arena, src->fields[i].name, src->fields[i].name_len);
        dst->fields[i].value = ts_arena_memdup(arena, src->fields[i].value, src->fields[i].value_len);
    }
}

static int ts__name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    if (c != 0)
        return c;
    return (alen > blen) - (alen < blen);
}

const ts_field *ts_version_field(const ts_version *v, const char *name)
{
    size_t len = strlen(name);
    uint32_t lo = 0, hi = v->nfields;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = ts__name_cmp(v->fields[mid].name, v->fields[mid].name_len, name, len);
        if (c == 0)
            return &v->fields[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool ts_version_deleted(const ts_version *v)
{
    const ts_field *f = ts_version_field(v, TS_FIELD_DELETED);
    return f != NULL && f->value_len == 1 && f->value[0] == 0xc3;
}

uint64_t ts_version_max_hlc(const ts_version *v)
{
    uint64_t m = 0;
    for (uint32_t i = 0; i < v->nfields; i++)
        if (v->fields[i].hlc > m)
            m = v->fields[i].hlc;
    return m;
}

void ts_version_put(ts_version *v, ts_arena *arena, const char *name, const uint8_t *value,
                    size_t value_len, const ts_dot *dot, uint64_t hlc)
{
    size_t len = strlen(name);
    uint32_t i = 0;
    while (i < v->nfields && ts__name_cmp(v->fields[i].name, v->fields[i].name_len, name, len) < 0)
        i++;
    bool replace = i < v->nfields && ts__name_cmp(v->fields[i].name, v->fields[i].name_len, name, len) == 0;
    if (!replace) {
        /* fields arrays live in the arena: grow by copying */
        ts_field *nf = ts_arena_alloc(arena, (v->nfields + 1) * sizeof *nf);
        if (i)
            memcpy(nf, v->fields, i * sizeof *nf);
        if (v->nfields > i)
            memcpy(nf + i + 1, v->fields + i, (v->nfields - i) * sizeof *nf);
        v->fields = nf;
        v->nfields++;
        v->fields[i].name = ts_arena_strndup(arena, name, len);
        v->fields[i].name_len = (uint32_t)len;
    }
    v->fields[i].value = ts_arena_memdup(arena, value, value_len);
    v->fields[i].value_len = (uint32_t)value_len;
    v->fields[i].dot = *dot;
    v->fields[i].hlc = hlc;
}

bool ts_field_equal(const ts_field *a, const ts_field *b)
{
    return a->hlc == b->hlc && a->dot.counter == b->dot.counter && ts_rid_eq(&a->dot.rid, &b->dot.rid) &&
           a->value_len == b->value_len && memcmp(a->value, b->value, a->value_len) == 0;
}

static const char *const ts__outcome_names[] = {"applied", "duplicate", "merged", "conflict", "rejected"};

const char *ts_outcome_name(ts_outcome outcome)
{
    return (unsigned)outcome <= TS_OUTCOME_REJECTED ? ts__outcome_names[outcome] : "unknown";
}

int ts_outcome_parse(const char *s, size_t n)
{
    for (int i = 0; i <= TS_OUTCOME_REJECTED; i++)
        if (strlen(ts__outcome_names[i]) == n && memcmp(ts__outcome_names[i], s, n) == 0)
            return i;
    return -1;
}

/* ---------------------------------------------------------------- conflicts */

void ts_conflicts_init(ts_conflicts *c)
{
    c->items = NULL;
    c->n = 0;
    c->cap = 0;
}

void ts_conflicts_free(ts_conflicts *c)
{
    free(c->items);
    ts_conflicts_init(c);
}

void ts_conflicts_reset(ts_conflicts *c)
{
    c->n = 0;
}

static void ts__conflict_add(ts_conflicts *c, const ts_field *win, const ts_field *lose, const char *rule)
{
    if (c == NULL)
        return;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->items = ts_xreallocarray(c->items, c->cap, sizeof *c->items);
    }
    ts_conflict *x = &c->items[c->n++];
    x->field = win->name;
    x->winner = *win;
    x->loser = *lose;
    x->rule = rule;
}

/* ---------------------------------------------------------------- merge */

/* The one total order of ../DESIGN.md: (hlc, replica id as bytes). The
 * counter only separates entries that valid HLCs never let tie. */
static int ts__entry_order(const ts_field *x, const ts_field *y)
{
    if (x->hlc != y->hlc)
        return x->hlc > y->hlc ? 1 : -1;
    int c = ts_rid_cmp(&x->dot.rid, &y->dot.rid);
    if (c != 0)
        return c;
    if (x->dot.counter != y->dot.counter)
        return x->dot.counter > y->dot.counter ? 1 : -1;
    return 0;
}

static bool ts__same_dot(const ts_field *x, const ts_field *y)
{
    return x->dot.counter == y->dot.counter && ts_rid_eq(&x->dot.rid, &y->dot.rid);
}

int ts_version_merge(const ts_version *a, const ts_version *b, ts_version *out, ts_arena *arena,
                     ts_merge_result *result, ts_conflicts *conflicts, ts_error *err)
{
    ts_vv_clear(&out->vv);
    out->fields = NULL;
    out->nfields = 0;

    ts_vv_order order = a ? ts_vv_compare(&a->vv, &b->vv) : TS_VV_BEFORE;
    if (order == TS_VV_EQUAL || order == TS_VV_AFTER) { /* rule 1: b <= a */
        ts_vv_copy(&out->vv, &a->vv);
        out->fields = a->fields;
        out->nfields = a->nfields;
        *result = TS_MERGE_KEPT;
        return 0;
    }
    if (order == TS_VV_BEFORE) { /* rule 2: a <= b */
        ts_vv_copy(&out->vv, &b->vv);
        out->fields = b->fields;
        out->nfields = b->nfields;
        *result = TS_MERGE_REPLACED;
        return 0;
    }

    /* rule 3: concurrent, field by field over the sorted union of names */
    ts_field *f = ts_arena_alloc(arena, ((size_t)a->nfields + b->nfields + 1) * sizeof *f);
    uint32_t i = 0, j = 0, k = 0;
    while (i < a->nfields || j < b->nfields) {
        int c;
        if (i == a->nfields)
            c = 1;
        else if (j == b->nfields)
            c = -1;
        else
            c = ts__name_cmp(a->fields[i].name, a->fields[i].name_len, b->fields[j].name,
                             b->fields[j].name_len);
        if (c < 0) {
            f[k++] = a->fields[i++];
            continue;
        }
        if (c > 0) {
            f[k++] = b->fields[j++];
            continue;
        }
        const ts_field *ea = &a->fields[i++], *eb = &b->fields[j++];
        if (ts__same_dot(ea, eb)) {
            if (!ts_field_equal(ea, eb))
                return ts_error_set(err, TS_EINCONSISTENT,
                                    "field \"%s\": dot (%s, %llu) carries two different writes", ea->name,
                                    ea->dot.rid.b, (unsigned long long)ea->dot.counter);
            f[k++] = *ea;
            continue;
        }
        bool a_seen_by_b = ts_vv_covers(&b->vv, &ea->dot);
        bool b_seen_by_a = ts_vv_covers(&a->vv, &eb->dot);
        if (a_seen_by_b && !b_seen_by_a) {
            f[k++] = *eb; /* b overwrote a knowingly */
        } else if (b_seen_by_a && !a_seen_by_b) {
            f[k++] = *ea;
        } else if (a_seen_by_b && b_seen_by_a) {
            /* both saw both writes, so both kept the later one: cannot differ */
            return ts_error_set(err, TS_EINCONSISTENT,
                                "field \"%s\": both sides saw (%s, %llu) and (%s, %llu) yet differ", ea->name,
                                ea->dot.rid.b, (unsigned long long)ea->dot.counter, eb->dot.rid.b,
                                (unsigned long long)eb->dot.counter);
        } else {
            int o = ts__entry_order(ea, eb);
            const ts_field *win = o > 0 ? ea : eb, *lose = o > 0 ? eb : ea;
            f[k++] = *win;
            ts__conflict_add(conflicts, win, lose, win->hlc != lose->hlc ? "later-hlc" : "higher-replica");
        }
    }
    out->fields = f;
    out->nfields = k;
    ts_vv_copy(&out->vv, &a->vv);
    ts_vv_merge(&out->vv, &b->vv);
    *result = TS_MERGE_MERGED;
    return 0;
}

/* ---------------------------------------------------------------- codec */

void ts_fields_pack(msgpack_packer *pk, const ts_version *v)
{
    msgpack_pack_map(pk, v->nfields);
    for (uint32_t i = 0; i < v->nfields; i++) {
        const ts_field *f = &v->fields[i];
        ts_mp_pack_strn(pk, f->name, f->name_len);
        msgpack_pack_array(pk, 4);
        /* the value is already canonical msgpack: append its bytes as they are */
        pk->callback(pk->data, (const char *)f->value, f->value_len);
        ts_mp_pack_strn(pk, f->dot.rid.b, f->dot.rid.len);
        msgpack_pack_uint64(pk, f->dot.counter);
        msgpack_pack_uint64(pk, f->hlc);
    }
}

void ts_fields_pack_buf(ts_buf *b, const ts_version *v)
{
    /* room for all of it first, then headers and bytes written in place */
    size_t room = TS_MP_HEADER_MAX;
    for (uint32_t i = 0; i < v->nfields; i++) {
        const ts_field *f = &v->fields[i];
        room += (size_t)f->name_len + f->value_len + f->dot.rid.len + 5 * TS_MP_HEADER_MAX;
    }
    ts_buf_reserve(b, room);
    uint8_t *p = ts_mp_write_map(b->data + b->len, v->nfields);
    for (uint32_t i = 0; i < v->nfields; i++) {
        const ts_field *f = &v->fields[i];
        p = ts_mp_write_str_header(p, f->name_len);
        memcpy(p, f->name, f->name_len);
        p = ts_mp_write_array(p + f->name_len, 4);
        memcpy(p, f->value, f->value_len); /* already canonical msgpack */
        p = ts_mp_write_str_header(p + f->value_len, f->dot.rid.len);
        memcpy(p, f->dot.rid.b, f->dot.rid.len);
        p = ts_mp_write_uint(p + f->dot.rid.len, f->dot.counter);
        p = ts_mp_write_uint(p, f->hlc);
    }
    b->len = (size_t)(p - b->data);
}

/* A refused field name, quoted as far as it is printable: messages name the
 * element, but a name can be 256 KiB of anything that is valid UTF-8. */
static void ts__quote_name(const char *s, size_t n, char *out, size_t size)
{
    size_t o = 0, max = n < 64 ? n : 64;
    for (size_t i = 0; i < max && o + 1 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = c < 0x20 || c == 0x7f || c == '"' || c == '\\' ? '?' : (char)c;
    }
    if (n > max && o + 4 < size) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static int ts__field_cmp(const void *x, const void *y)
{
    const ts_field *a = x, *b = y;
    return ts__name_cmp(a->name, a->name_len, b->name, b->name_len);
}

int ts_fields_unpack(const msgpack_object *o, ts_version *v, ts_arena *arena, ts_buf *scratch,
                     const char *where, ts_error *err)
{
    v->fields = NULL;
    v->nfields = 0;
    if (o->type != MSGPACK_OBJECT_MAP)
        return ts_error_set(err, TS_EWRONG_TYPE, "%s: fields must be a map, not %s", where,
                            ts_mp_type_name(o->type));
    uint32_t n = o->via.map.size;
    ts_field *f = ts_arena_alloc(arena, (n ? n : 1) * sizeof *f);
    bool sorted = true;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *e = &o->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR)
            return ts_error_set(err, TS_EWRONG_TYPE, "%s: field names must be str, not %s", where,
                                ts_mp_type_name(k->type));
        if (!ts_field_name_valid(k->via.str.ptr, k->via.str.size) &&
            !(k->via.str.size == sizeof TS_FIELD_DELETED - 1 &&
              memcmp(k->via.str.ptr, TS_FIELD_DELETED, k->via.str.size) == 0)) {
            char q[72];
            ts__quote_name(k->via.str.ptr, k->via.str.size, q, sizeof q);
            return ts_error_set(err, TS_EBAD_VALUE,
                                "%s: field \"%s\" is not a valid field name (a-z 0-9 _, 1 to 64 bytes, not starting "
                                "with a digit)",
                                where, q);
        }
        f[i].name = ts_arena_strndup(arena, k->via.str.ptr, k->via.str.size);
        f[i].name_len = k->via.str.size;
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 4)
            return ts_error_set(err, TS_EWRONG_TYPE, "%s: field \"%s\" must be [value, replica, counter, hlc]",
                                where, f[i].name);
        const msgpack_object *val = &e->via.array.ptr[0], *rid = &e->via.array.ptr[1],
                             *ctr = &e->via.array.ptr[2], *hlc = &e->via.array.ptr[3];
        if (rid->type != MSGPACK_OBJECT_STR || ts_rid_set(&f[i].dot.rid, rid->via.str.ptr, rid->via.str.size) < 0)
            return ts_error_set(err, TS_EBAD_VALUE, "%s: field \"%s\": replica is not a valid replica id", where,
                                f[i].name);
        if (ctr->type != MSGPACK_OBJECT_POSITIVE_INTEGER || ctr->via.u64 == 0)
            return ts_error_set(err, TS_EBAD_VALUE, "%s: field \"%s\": counter must be a uint > 0", where,
                                f[i].name);
        if (hlc->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return ts_error_set(err, TS_EWRONG_TYPE, "%s: field \"%s\": hlc must be a uint", where, f[i].name);
        if (val->type == MSGPACK_OBJECT_MAP || val->type == MSGPACK_OBJECT_EXT)
            return ts_error_set(err, TS_EWRONG_TYPE, "%s: field \"%s\": a value cannot be a %s", where,
                                f[i].name, ts_mp_type_name(val->type));
        if (strcmp(f[i].name, TS_FIELD_DELETED) == 0 && val->type != MSGPACK_OBJECT_BOOLEAN)
            return ts_error_set(err, TS_EWRONG_TYPE, "%s: \"_deleted\" must be a bool", where);
        f[i].dot.counter = ctr->via.u64;
        f[i].hlc = hlc->via.u64;

        ts_buf_reset(scratch);
        ts_mp_put_canonical(scratch, val);
        f[i].value = ts_arena_memdup(arena, scratch->data, scratch->len);
        f[i].value_len = (uint32_t)scratch->len;
        if (i > 0 && ts__field_cmp(&f[i - 1], &f[i]) >= 0)
            sorted = false;
    }
    if (!sorted)
        qsort(f, n, sizeof *f, ts__field_cmp);
    for (uint32_t i = 1; i < n; i++)
        if (ts__field_cmp(&f[i - 1], &f[i]) == 0)
            return ts_error_set(err, TS_EDUPLICATE_KEY, "%s: field \"%s\" appears twice", where, f[i].name);
    v->fields = f;
    v->nfields = n;
    return 0;
}
