#include "proto/ts_msg.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/ts_xmalloc.h"
#include "proto/ts_frame.h"
#include "proto/ts_msg_compact.h"

void ts_proto_limits_default(ts_proto_limits *limits)
{
    limits->max_frame = TS_PROTO_DEFAULT_MAX_FRAME;
    limits->mp.max_depth = TS_PROTO_DEFAULT_MAX_DEPTH;
    limits->mp.max_elements = TS_PROTO_DEFAULT_MAX_ELEMENTS;
    limits->mp.max_objects = TS_PROTO_DEFAULT_MAX_OBJECTS;
    limits->mp.max_str = TS_PROTO_DEFAULT_MAX_STR;
    limits->max_changes = TS_PROTO_DEFAULT_MAX_CHANGES;
    limits->max_fields = TS_PROTO_DEFAULT_MAX_FIELDS;
    limits->max_vv = TS_PROTO_DEFAULT_MAX_VV;
    limits->proto = 1;
}

static const char *const ts__msg_names[] = {
    "NONE",
#define TS__MSG_NAME(name, num) #name,
    TS_MSG_TYPE_MAP(TS__MSG_NAME)
#undef TS__MSG_NAME
};

const char *ts_msg_type_name(ts_msg_type type)
{
    return type > TS_MSG_NONE && type < TS_MSG__COUNT ? ts__msg_names[type] : "UNKNOWN";
}

ts_msg_type ts_msg_type_parse(const char *s, size_t n)
{
    for (int t = 1; t < TS_MSG__COUNT; t++)
        if (strlen(ts__msg_names[t]) == n && memcmp(ts__msg_names[t], s, n) == 0)
            return (ts_msg_type)t;
    return TS_MSG_NONE;
}

/* ---------------------------------------------------------------- schema
 * Each message is described once, as a list of keys in wire order; both the
 * decoder and the encoder walk the same list, so they cannot disagree. */

typedef enum ts__kind { K_UINT, K_BOOL, K_STR, K_CHANGES, K_RESULTS } ts__kind;

enum {
    F_REQ = 1,       /* required on decode */
    F_OMIT_ZERO = 2, /* encoder omits 0 / false / NULL */
    F_DEF_TRUE = 4   /* bool defaults to true when absent */
};

typedef enum ts__str_check {
    S_TEXT = 0, /* any UTF-8 without NUL */
    S_RID,      /* replica id */
    S_KEY,      /* station codes, record keys */
    S_NAME      /* short names: agent, urgency, error name */
} ts__str_check;

typedef struct ts__key {
    const char *key;
    uint8_t kind;
    uint8_t flags;
    uint8_t check;
    uint16_t max_len;
    size_t offset; /* within ts_msg */
} ts__key;

#define OFF(m, f) offsetof(ts_msg, u.m.f)

static const ts__key ts__hello[] = {
    {"proto_min", K_UINT, F_REQ, 0, 0, OFF(hello, proto_min)},
    {"proto_max", K_UINT, F_REQ, 0, 0, OFF(hello, proto_max)},
    {"agent", K_STR, F_REQ, S_NAME, TS_PROTO_MAX_NAME, OFF(hello, agent)},
    {"replica", K_STR, F_REQ, S_RID, TS_RID_MAX, OFF(hello, replica)},
    {"station", K_STR, F_REQ, S_KEY, TS_KEY_MAX, OFF(hello, station)},
    {"server_db", K_STR, 0, S_TEXT, TS_PROTO_MAX_NAME, OFF(hello, server_db)},
    {"cursor", K_UINT, 0, 0, 0, OFF(hello, cursor)},
    {"lseq", K_UINT, 0, 0, 0, OFF(hello, lseq)},
    {"time", K_UINT, 0, 0, 0, OFF(hello, time)},
    {"live", K_BOOL, F_DEF_TRUE, 0, 0, OFF(hello, live)},
    {"compress", K_STR, 0, S_NAME, TS_PROTO_MAX_NAME, OFF(hello, compress)},
    {"ticket", K_BOOL, F_OMIT_ZERO, 0, 0, OFF(hello, ticket)},
    {NULL, 0, 0, 0, 0, 0}};

static const ts__key ts__welcome[] = {
    {"proto", K_UINT, F_REQ, 0, 0, OFF(welcome, proto)},
    {"server", K_STR, F_REQ, S_RID, TS_RID_MAX, OFF(welcome, server)},
    {"server_db", K_STR, F_REQ, S_TEXT, TS_PROTO_MAX_NAME, OFF(welcome, server_db)},
    {"station", K_STR, F_REQ, S_KEY, TS_KEY_MAX, OFF(welcome, station)},
    {"commune", K_STR, F_REQ, S_TEXT, TS_KEY_MAX, OFF(welcome, commune)},
    {"time", K_UINT, F_REQ, 0, 0, OFF(welcome, time)},
    {"rekey", K_BOOL, F_REQ, 0, 0, OFF(welcome, rekey)},
    {"cursor_reset", K_BOOL, F_REQ, 0, 0, OFF(welcome, cursor_reset)},
    {"max_frame", K_UINT, F_REQ, 0, 0, OFF(welcome, max_frame)},
    {"max_changes", K_UINT, F_REQ, 0, 0, OFF(welcome, max_changes)},
    {"heartbeat", K_UINT, F_REQ, 0, 0, OFF(welcome, heartbeat)},
    {"max_clock_ahead", K_UINT, F_OMIT_ZERO, 0, 0, OFF(welcome, max_clock_ahead)},
    {"compress", K_STR, 0, S_NAME, TS_PROTO_MAX_NAME, OFF(welcome, compress)},
    {"timezone", K_STR, 0, S_NAME, TS_PROTO_MAX_NAME, OFF(welcome, timezone)},
    {NULL, 0, 0, 0, 0, 0}};

static const ts__key ts__push[] = {
    {"batch", K_UINT, F_REQ, 0, 0, OFF(push, batch)},
    {"changes", K_CHANGES, F_REQ, 0, 0, OFF(push, changes)},
    {NULL, 0, 0, 0, 0, 0}};

static const ts__key ts__push_ack[] = {
    {"batch", K_UINT, F_REQ, 0, 0, OFF(push_ack, batch)},
    {"code", K_UINT, F_OMIT_ZERO, 0, 0, OFF(push_ack, code)},
    {"message", K_STR, F_OMIT_ZERO, S_TEXT, TS_PROTO_MAX_MESSAGE, OFF(push_ack, message)},
    {"results", K_RESULTS, F_REQ, 0, 0, OFF(push_ack, results)},
    {NULL, 0, 0, 0, 0, 0}};

static const ts__key ts__pull[] = {
    {"since", K_UINT, F_REQ, 0, 0, OFF(pull, since)},
    {"limit", K_UINT, 0, 0, 0, OFF(pull, limit)},
    {"stream", K_BOOL, F_OMIT_ZERO, 0, 0, OFF(pull, stream)},
    {"window", K_UINT, F_OMIT_ZERO, 0, 0, OFF(pull, window)},
    {"credit", K_UINT, F_OMIT_ZERO, 0, 0, OFF(pull, credit)},
    {NULL, 0, 0, 0, 0, 0}};

static const ts__key ts__changes[] = {
    {"changes", K_CHANGES, F_REQ, 0, 0, OFF(changes, changes)},
    {"cursor", K_UINT, F_REQ, 0, 0, OFF(changes, cursor)},
    {"more", K_BOOL, F_REQ, 0, 0, OFF(changes, more)},
    {"live", K_BOOL, 0, 0, 0, OFF(changes, live)},
    {"stream", K_BOOL, F_OMIT_ZERO, 0, 0, OFF(changes, stream)},
    {"window", K_UINT, F_OMIT_ZERO, 0, 0, OFF(changes, window)},
    {NULL, 0, 0, 0, 0, 0}};

static const ts__key ts__notice[] = {
    {"seq", K_UINT, F_REQ, 0, 0, OFF(notice, seq)},
    {"id", K_STR, F_REQ, S_KEY, TS_KEY_MAX, OFF(notice, id)},
    {"urgency", K_STR, F_REQ, S_NAME, TS_PROTO_MAX_NAME, OFF(notice, urgency)},
    {"changes", K_CHANGES, F_REQ, 0, 0, OFF(notice, changes)},
    {NULL, 0, 0, 0, 0, 0}};

static const ts__key ts__notice_ack[] = {
    {"seq", K_UINT, F_REQ, 0, 0, OFF(notice_ack, seq)},
    {"id", K_STR, F_REQ, S_KEY, TS_KEY_MAX, OFF(notice_ack, id)},
    {NULL, 0, 0, 0, 0, 0}};

static const ts__key ts__ping[] = {
    {"nonce", K_UINT, F_REQ, 0, 0, OFF(ping, nonce)},
    {NULL, 0, 0, 0, 0, 0}};

static const ts__key ts__error[] = {
    {"code", K_UINT, F_REQ, 0, 0, OFF(error, code)},
    {"name", K_STR, F_REQ, S_NAME, TS_PROTO_MAX_NAME, OFF(error, name)},
    {"message", K_STR, F_REQ, S_TEXT, TS_PROTO_MAX_MESSAGE, OFF(error, message)},
    {"fatal", K_BOOL, F_REQ, 0, 0, OFF(error, fatal)},
    {"batch", K_UINT, F_OMIT_ZERO, 0, 0, OFF(error, batch)},
    {NULL, 0, 0, 0, 0, 0}};

static const ts__key ts__bye[] = {
    {"reason", K_STR, 0, S_TEXT, TS_PROTO_MAX_MESSAGE, OFF(bye, reason)},
    {NULL, 0, 0, 0, 0, 0}};

static const ts__key *ts__schema(ts_msg_type type)
{
    switch (type) {
    case TS_MSG_HELLO: return ts__hello;
    case TS_MSG_WELCOME: return ts__welcome;
    case TS_MSG_PUSH: return ts__push;
    case TS_MSG_PUSH_ACK: return ts__push_ack;
    case TS_MSG_PULL: return ts__pull;
    case TS_MSG_CHANGES: return ts__changes;
    case TS_MSG_NOTICE: return ts__notice;
    case TS_MSG_NOTICE_ACK: return ts__notice_ack;
    case TS_MSG_PING:
    case TS_MSG_PONG: return ts__ping;
    case TS_MSG_ERROR: return ts__error;
    case TS_MSG_BYE: return ts__bye;
    default: return NULL;
    }
}

/* ---------------------------------------------------------------- lifecycle */

void ts_msg_init(ts_msg *msg, ts_msg_type type)
{
    memset(msg, 0, sizeof *msg);
    msg->type = type;
    ts_arena_init(&msg->arena, 4096);
}

static void ts__free_changes(ts_change_list *list)
{
    for (uint32_t i = 0; i < list->n; i++)
        ts_version_free(&list->items[i].v);
    list->items = NULL;
    list->n = 0;
}

void ts_msg_free(ts_msg *msg)
{
    switch (msg->type) {
    case TS_MSG_PUSH: ts__free_changes(&msg->u.push.changes); break;
    case TS_MSG_CHANGES: ts__free_changes(&msg->u.changes.changes); break;
    case TS_MSG_NOTICE: ts__free_changes(&msg->u.notice.changes); break;
    default: break;
    }
    ts_arena_free(&msg->arena);
    msg->type = TS_MSG_NONE;
}

ts_change *ts_msg_alloc_changes(ts_msg *msg, ts_change_list *list, uint32_t n)
{
    list->items = ts_arena_calloc(&msg->arena, n ? n : 1, sizeof *list->items);
    list->n = n;
    for (uint32_t i = 0; i < n; i++)
        ts_version_init(&list->items[i].v);
    return list->items;
}

const char *ts_msg_strdup(ts_msg *msg, const char *s)
{
    return s ? ts_arena_strndup(&msg->arena, s, strlen(s)) : NULL;
}

/* ---------------------------------------------------------------- decode */

static int ts__check_str(const char *s, size_t n, uint8_t check, const char *key, const char *where,
                         ts_error *err)
{
    bool ok = true;
    switch (check) {
    case S_RID:
        ok = ts_rid_valid(s, n);
        break;
    case S_KEY:
        ok = ts_key_valid(s, n);
        break;
    case S_NAME:
        for (size_t i = 0; i < n && ok; i++)
            ok = s[i] > 0x20 && s[i] < 0x7f;
        ok = ok && n > 0;
        break;
    default:
        ok = n == 0 || memchr(s, '\0', n) == NULL;
        break;
    }
    if (!ok)
        return ts_error_set(err, TS_EBAD_VALUE, "%s: \"%s\" is not a valid %s", where, key,
                            check == S_RID ? "replica id" : check == S_KEY ? "code" : "value");
    return 0;
}

/* "losers": [[field, value, replica, counter, hlc], ...] */
static int ts__decode_losers(const msgpack_object *arr, const ts_proto_limits *limits, ts_change *c,
                             ts_arena *arena, ts_buf *scratch, const char *where, ts_error *err)
{
    uint32_t n = arr->via.array.size;
    if (n > limits->max_fields)
        return ts_error_set(err, TS_ETOO_MANY_ELEMENTS, "%s: %u losers, at most %u", where, n, limits->max_fields);
    c->losers = ts_arena_calloc(arena, n ? n : 1, sizeof *c->losers);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *e = &arr->via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 5 ||
            e->via.array.ptr[0].type != MSGPACK_OBJECT_STR)
            return ts_error_set(err, TS_EWRONG_TYPE, "%s: losers[%u] must be [field, value, replica, counter, hlc]",
                                where, i);
        /* reuse the fields decoder on a one-entry map {field: [value, replica, counter, hlc]} */
        msgpack_object_kv kv;
        kv.key = e->via.array.ptr[0];
        kv.val.type = MSGPACK_OBJECT_ARRAY;
        kv.val.via.array.size = 4;
        kv.val.via.array.ptr = &e->via.array.ptr[1];
        msgpack_object map;
        map.type = MSGPACK_OBJECT_MAP;
        map.via.map.size = 1;
        map.via.map.ptr = &kv;
        ts_version one;
        ts_version_init(&one);
        char w[96];
        snprintf(w, sizeof w, "%s.losers[%u]", where, i);
        int rc = ts_fields_unpack(&map, &one, arena, scratch, w, err);
        if (rc < 0)
            return rc;
        c->losers[i] = one.fields[0];
    }
    c->nlosers = n;
    return 0;
}

int ts_change_unpack(const msgpack_object *o, const ts_proto_limits *limits, ts_change *c,
                     ts_arena *arena, ts_buf *scratch, const char *where, ts_error *err)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return ts_error_set(err, TS_EWRONG_TYPE, "%s must be a map, not %s", where, ts_mp_type_name(o->type));
    int rc = ts_mp_map_check_unique(o, where, err);
    if (rc < 0)
        return rc;

    static const char *const keys[] = {"table", "id", "owner"};
    const char **dst[] = {&c->table, &c->id, &c->owner};
    for (int i = 0; i < 3; i++) {
        const char *s;
        size_t n;
        rc = ts_mp_get_str(o, keys[i], true, &s, &n, TS_KEY_MAX, where, err);
        if (rc < 0)
            return rc;
        if ((rc = ts__check_str(s, n, S_KEY, keys[i], where, err)) < 0)
            return rc;
        *dst[i] = ts_arena_strndup(arena, s, n);
    }
    c->seq = c->lseq = 0;
    if ((rc = ts_mp_get_uint(o, "seq", false, &c->seq, where, err)) < 0)
        return rc;
    if ((rc = ts_mp_get_uint(o, "lseq", false, &c->lseq, where, err)) < 0)
        return rc;

    const msgpack_object *vv, *fields;
    if ((rc = ts_mp_get_map(o, "vv", true, &vv, where, err)) < 0)
        return rc;
    if (vv->via.map.size > limits->max_vv)
        return ts_error_set(err, TS_ETOO_MANY_ELEMENTS, "%s: vv has %u entries, at most %u", where,
                            vv->via.map.size, limits->max_vv);
    if ((rc = ts_vv_unpack(vv, &c->v.vv, where, err)) < 0)
        return rc;
    if ((rc = ts_mp_get_map(o, "fields", true, &fields, where, err)) < 0)
        return rc;
    if (fields->via.map.size > limits->max_fields)
        return ts_error_set(err, TS_ETOO_MANY_ELEMENTS, "%s: %u fields, at most %u", where,
                            fields->via.map.size, limits->max_fields);
    if ((rc = ts_fields_unpack(fields, &c->v, arena, scratch, where, err)) < 0)
        return rc;
    c->losers = NULL;
    c->nlosers = 0;
    const msgpack_object *losers;
    if ((rc = ts_mp_get_array(o, "losers", false, &losers, where, err)) < 0)
        return rc;
    if (rc == 1 && (rc = ts__decode_losers(losers, limits, c, arena, scratch, where, err)) < 0)
        return rc;
    /* every field's dot must be covered by the version's own vv */
    for (uint32_t i = 0; i < c->v.nfields; i++)
        if (!ts_vv_covers(&c->v.vv, &c->v.fields[i].dot))
            return ts_error_set(err, TS_EBAD_VALUE, "%s: field \"%s\" has dot (%s, %llu) beyond the vv", where,
                                c->v.fields[i].name, c->v.fields[i].dot.rid.b,
                                (unsigned long long)c->v.fields[i].dot.counter);
    return 0;
}

/* strs: the frame's string table when its changes are compact, else NULL. */
static int ts__decode_changes(ts_msg *msg, const msgpack_object *arr, const msgpack_object *strs,
                              const ts_proto_limits *limits, ts_change_list *list, const char *key, ts_error *err)
{
    const char *tname = ts_msg_type_name(msg->type);
    if (arr->via.array.size > limits->max_changes)
        return ts_error_set(err, TS_ETOO_MANY_ELEMENTS, "%s: %u changes, at most %u", tname,
                            arr->via.array.size, limits->max_changes);
    ts_compact_dec cd;
    int rc = 0;
    if (strs != NULL && (rc = ts_compact_dec_init(&cd, strs, msg->proto, tname, err)) < 0)
        return rc;
    ts_msg_alloc_changes(msg, list, arr->via.array.size);
    ts_buf scratch = TS_BUF_INIT;
    /* "CHANGES.changes[" once, then each index (no printf per change: this
     * runs for every change of every frame) */
    char where[64];
    int head = snprintf(where, sizeof where, "%s.%s[", tname, key);
    if (head < 0 || head > (int)sizeof where - 16)
        head = 0;
    for (uint32_t i = 0; i < arr->via.array.size && rc == 0; i++) {
        char digits[12];
        size_t nd = 0;
        uint32_t x = i;
        do
            digits[nd++] = (char)('0' + x % 10);
        while ((x /= 10) != 0);
        size_t at = (size_t)head;
        while (nd > 0)
            where[at++] = digits[--nd];
        where[at++] = ']';
        where[at] = '\0';
        if (strs != NULL)
            rc = ts_compact_change(&cd, &arr->via.array.ptr[i], limits, &list->items[i], &msg->arena, &scratch, where,
                                   err);
        else
            rc = ts_change_unpack(&arr->via.array.ptr[i], limits, &list->items[i], &msg->arena, &scratch, where, err);
    }
    if (strs != NULL)
        ts_compact_dec_free(&cd);
    ts_buf_free(&scratch);
    return rc;
}

static int ts__decode_results(ts_msg *msg, const msgpack_object *arr, const ts_proto_limits *limits,
                              ts_error *err)
{
    ts_msg_push_ack *ack = &msg->u.push_ack;
    if (arr->via.array.size > limits->max_changes)
        return ts_error_set(err, TS_ETOO_MANY_ELEMENTS, "PUSH_ACK: %u results, at most %u", arr->via.array.size,
                            limits->max_changes);
    ack->nresults = arr->via.array.size;
    ack->results = ts_arena_calloc(&msg->arena, ack->nresults ? ack->nresults : 1, sizeof *ack->results);
    for (uint32_t i = 0; i < ack->nresults; i++) {
        const msgpack_object *r = &arr->via.array.ptr[i];
        char where[48];
        snprintf(where, sizeof where, "PUSH_ACK.results[%u]", i);
        if (r->type != MSGPACK_OBJECT_MAP)
            return ts_error_set(err, TS_EWRONG_TYPE, "%s must be a map, not %s", where, ts_mp_type_name(r->type));
        int rc = ts_mp_map_check_unique(r, where, err);
        if (rc < 0)
            return rc;
        const char *s;
        size_t n;
        if ((rc = ts_mp_get_str(r, "outcome", true, &s, &n, TS_PROTO_MAX_NAME, where, err)) < 0)
            return rc;
        int outcome = ts_outcome_parse(s, n);
        if (outcome < 0)
            return ts_error_set(err, TS_EBAD_VALUE, "%s: unknown outcome \"%.*s\"", where, (int)n, s);
        ack->results[i].outcome = (ts_outcome)outcome;
        if ((rc = ts_mp_get_uint(r, "seq", false, &ack->results[i].seq, where, err)) < 0)
            return rc;
        if ((rc = ts_mp_get_uint(r, "code", false, &ack->results[i].code, where, err)) < 0)
            return rc;
        if ((rc = ts_mp_get_str(r, "reason", false, &s, &n, TS_PROTO_MAX_MESSAGE, where, err)) < 0)
            return rc;
        if (rc == 1) {
            if ((rc = ts__check_str(s, n, S_TEXT, "reason", where, err)) < 0)
                return rc;
            ack->results[i].reason = ts_arena_strndup(&msg->arena, s, n);
        }
    }
    return 0;
}

int ts_msg_decode(const uint8_t *body, size_t len, const ts_proto_limits *limits, ts_msg *msg,
                  ts_error *err)
{
    ts_proto_limits def;
    if (limits == NULL) {
        ts_proto_limits_default(&def);
        limits = &def;
    }
    ts_msg_init(msg, TS_MSG_NONE);
    if (len > limits->max_frame)
        return ts_error_set(err, TS_EFRAME_TOO_LARGE, "frame of %zu bytes exceeds %u", len, limits->max_frame);

    msgpack_unpacked up;
    int rc = ts_mp_unpack(body, len, &limits->mp, &up, err);
    if (rc < 0)
        return rc;
    const msgpack_object *root = &up.data;
    const char *s;
    size_t n;
    if (root->type != MSGPACK_OBJECT_MAP) {
        rc = ts_error_set(err, TS_EWRONG_TYPE, "a message must be a map, not %s", ts_mp_type_name(root->type));
        goto out;
    }
    if ((rc = ts_mp_map_check_unique(root, "message", err)) < 0)
        goto out;
    if ((rc = ts_mp_get_str(root, TS_PROTO_KEY_TYPE, true, &s, &n, TS_PROTO_MAX_NAME, "message", err)) < 0)
        goto out;
    msg->type = ts_msg_type_parse(s, n);
    if (msg->type == TS_MSG_NONE) {
        rc = ts_error_set(err, TS_EUNKNOWN_MESSAGE, "unknown message type \"%.*s\"", (int)(n > 32 ? 32 : n), s);
        goto out;
    }

    const char *where = ts_msg_type_name(msg->type);
    /* absent and 0 differ for the district: 0 says "never pushed" */
    if (msg->type == TS_MSG_HELLO)
        msg->u.hello.lseq_given = ts_mp_map_get(root, "lseq") != NULL;
    for (const ts__key *k = ts__schema(msg->type); k->key != NULL; k++) {
        char *field = (char *)msg + k->offset;
        bool req = k->flags & F_REQ;
        switch (k->kind) {
        case K_UINT:
            rc = ts_mp_get_uint(root, k->key, req, (uint64_t *)(void *)field, where, err);
            break;
        case K_BOOL:
            *(bool *)(void *)field = (k->flags & F_DEF_TRUE) != 0;
            rc = ts_mp_get_bool(root, k->key, req, (bool *)(void *)field, where, err);
            break;
        case K_STR:
            rc = ts_mp_get_str(root, k->key, req, &s, &n, k->max_len, where, err);
            if (rc == 1) {
                rc = ts__check_str(s, n, k->check, k->key, where, err);
                if (rc == 0)
                    *(const char **)(void *)field = ts_arena_strndup(&msg->arena, s, n);
            } else if (rc == 0) {
                *(const char **)(void *)field = (k->flags & F_OMIT_ZERO) ? NULL : "";
            }
            break;
        case K_CHANGES: {
            const msgpack_object *arr;
            /* version 2: a frame with a string table has compact changes */
            const msgpack_object *strs = NULL;
            if (limits->proto >= 3 && msg->type != TS_MSG_NOTICE &&
                (strs = ts_mp_map_get(root, TS_COMPACT_KEY_STRS3)) != NULL)
                msg->proto = 3; /* version 3: its own key, so a version-2 frame reads the same at 3 */
            else if (limits->proto >= 2 && msg->type != TS_MSG_NOTICE &&
                     (strs = ts_mp_map_get(root, TS_COMPACT_KEY_STRS)) != NULL)
                msg->proto = 2;
            rc = ts_mp_get_array(root, k->key, req, &arr, where, err);
            if (rc == 1)
                rc = ts__decode_changes(msg, arr, strs, limits, (ts_change_list *)(void *)field, k->key, err);
            break;
        }
        case K_RESULTS: {
            const msgpack_object *arr;
            rc = ts_mp_get_array(root, k->key, req, &arr, where, err);
            if (rc == 1)
                rc = ts__decode_results(msg, arr, limits, err);
            break;
        }
        }
        if (rc < 0)
            goto out;
    }
    rc = 0;
    if (msg->type == TS_MSG_PUSH_ACK && msg->u.push_ack.code != 0 && msg->u.push_ack.message == NULL)
        rc = ts_error_set(err, TS_EMISSING_KEY, "PUSH_ACK: \"message\" is required when \"code\" is set");
out:
    msgpack_unpacked_destroy(&up);
    if (rc < 0)
        ts_msg_free(msg);
    return rc;
}

/* ---------------------------------------------------------------- encode */

void ts_change_pack(msgpack_packer *pk, const ts_change *c)
{
    msgpack_pack_map(pk, 5 + (c->seq != 0) + (c->lseq != 0) + (c->nlosers != 0));
    ts_mp_pack_cstr(pk, "table");
    ts_mp_pack_cstr(pk, c->table);
    ts_mp_pack_cstr(pk, "id");
    ts_mp_pack_cstr(pk, c->id);
    ts_mp_pack_cstr(pk, "owner");
    ts_mp_pack_cstr(pk, c->owner);
    ts_mp_pack_cstr(pk, "vv");
    ts_vv_pack(pk, &c->v.vv);
    ts_mp_pack_cstr(pk, "fields");
    ts_fields_pack(pk, &c->v);
    if (c->seq != 0) {
        ts_mp_pack_cstr(pk, "seq");
        msgpack_pack_uint64(pk, c->seq);
    }
    if (c->lseq != 0) {
        ts_mp_pack_cstr(pk, "lseq");
        msgpack_pack_uint64(pk, c->lseq);
    }
    if (c->nlosers != 0) {
        ts_mp_pack_cstr(pk, "losers");
        msgpack_pack_array(pk, c->nlosers);
        for (uint32_t i = 0; i < c->nlosers; i++) {
            const ts_field *l = &c->losers[i];
            msgpack_pack_array(pk, 5);
            ts_mp_pack_strn(pk, l->name, l->name_len);
            pk->callback(pk->data, (const char *)l->value, l->value_len);
            ts_mp_pack_strn(pk, l->dot.rid.b, l->dot.rid.len);
            msgpack_pack_uint64(pk, l->dot.counter);
            msgpack_pack_uint64(pk, l->hlc);
        }
    }
}

static bool ts__omitted(const ts_msg *msg, const ts__key *k)
{
    const char *field = (const char *)msg + k->offset;
    if (k->kind == K_STR) {
        const char *v = *(const char *const *)(const void *)field;
        /* an absent optional string decodes as "" and encodes as absent again */
        if (v == NULL || (!(k->flags & F_REQ) && v[0] == '\0'))
            return true;
    }
    if (!(k->flags & F_OMIT_ZERO))
        return false;
    switch (k->kind) {
    case K_UINT: return *(const uint64_t *)(const void *)field == 0;
    case K_BOOL: return !*(const bool *)(const void *)field;
    default: return false;
    }
}

static void ts__pack_results(msgpack_packer *pk, const ts_msg_push_ack *ack)
{
    msgpack_pack_array(pk, ack->nresults);
    for (uint32_t i = 0; i < ack->nresults; i++) {
        const ts_push_result *r = &ack->results[i];
        msgpack_pack_map(pk, 1 + (r->seq != 0) + (r->code != 0) + (r->reason != NULL));
        ts_mp_pack_cstr(pk, "outcome");
        ts_mp_pack_cstr(pk, ts_outcome_name(r->outcome));
        if (r->seq != 0) {
            ts_mp_pack_cstr(pk, "seq");
            msgpack_pack_uint64(pk, r->seq);
        }
        if (r->code != 0) {
            ts_mp_pack_cstr(pk, "code");
            msgpack_pack_uint64(pk, r->code);
        }
        if (r->reason != NULL) {
            ts_mp_pack_cstr(pk, "reason");
            ts_mp_pack_cstr(pk, r->reason);
        }
    }
}

void ts_msg_encode(const ts_msg *msg, ts_buf *out)
{
    const ts__key *schema = ts__schema(msg->type);
    size_t hdr_at = out->len;
    ts_frame_put_header(out, 0); /* patched below */

    /* version 2's compact changes come after their string table */
    bool compact = msg->proto >= 2 && (msg->type == TS_MSG_PUSH || msg->type == TS_MSG_CHANGES);
    uint32_t nkeys = 1 + compact;
    for (const ts__key *k = schema; k && k->key; k++)
        nkeys += !ts__omitted(msg, k);

    msgpack_packer pk;
    ts_buf_packer(out, &pk);
    msgpack_pack_map(&pk, nkeys);
    ts_mp_pack_cstr(&pk, TS_PROTO_KEY_TYPE);
    ts_mp_pack_cstr(&pk, ts_msg_type_name(msg->type));
    for (const ts__key *k = schema; k && k->key; k++) {
        if (ts__omitted(msg, k))
            continue;
        const char *field = (const char *)msg + k->offset;
        ts_compact_enc ce;
        if (compact && k->kind == K_CHANGES) {
            ts_compact_enc_build(&ce, (const ts_change_list *)(const void *)field);
            ce.version = msg->proto >= 3 ? 3 : 2;
            ts_mp_pack_cstr(&pk, ce.version >= 3 ? TS_COMPACT_KEY_STRS3 : TS_COMPACT_KEY_STRS);
            ts_compact_enc_pack_strs(&pk, &ce);
            ts_mp_pack_cstr(&pk, k->key);
            ts_compact_enc_pack_changes(&pk, &ce, (const ts_change_list *)(const void *)field);
            ts_compact_enc_free(&ce);
            continue;
        }
        ts_mp_pack_cstr(&pk, k->key);
        switch (k->kind) {
        case K_UINT:
            msgpack_pack_uint64(&pk, *(const uint64_t *)(const void *)field);
            break;
        case K_BOOL:
            if (*(const bool *)(const void *)field)
                msgpack_pack_true(&pk);
            else
                msgpack_pack_false(&pk);
            break;
        case K_STR:
            ts_mp_pack_cstr(&pk, *(const char *const *)(const void *)field);
            break;
        case K_CHANGES: {
            const ts_change_list *list = (const ts_change_list *)(const void *)field;
            msgpack_pack_array(&pk, list->n);
            for (uint32_t i = 0; i < list->n; i++)
                ts_change_pack(&pk, &list->items[i]);
            break;
        }
        case K_RESULTS:
            ts__pack_results(&pk, &msg->u.push_ack);
            break;
        }
    }
    uint32_t body = (uint32_t)(out->len - hdr_at - 4);
    out->data[hdr_at] = (uint8_t)(body >> 24);
    out->data[hdr_at + 1] = (uint8_t)(body >> 16);
    out->data[hdr_at + 2] = (uint8_t)(body >> 8);
    out->data[hdr_at + 3] = (uint8_t)body;
}
