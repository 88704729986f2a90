#include "common/ts_attachment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/ts_arena.h"
#include "common/ts_mp.h"
#include "common/ts_recjson.h"
#include "common/ts_registry.h"
#include "common/ts_xmalloc.h"

int ts_attachment_ids(ts_store *st, const char *notice_id, char ***ids, size_t *n, ts_error *err)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st),
                           "SELECT id FROM records WHERE tbl = '" TS_ATTACHMENT_TABLE "' AND id > ?1 AND id < ?2"
                           " AND deleted = 0 ORDER BY length(id), id",
                           -1, &q, NULL) != SQLITE_OK)
        return ts_error_set(err, TS_ESTORAGE, "attachments: %s", sqlite3_errmsg(ts_store_db(st)));
    char lo[TS_KEY_MAX + 2], hi[TS_KEY_MAX + 2];
    snprintf(lo, sizeof lo, "%s:", notice_id);
    snprintf(hi, sizeof hi, "%s;", notice_id); /* ';' follows ':' */
    sqlite3_bind_text(q, 1, lo, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, hi, -1, SQLITE_STATIC);
    while (sqlite3_step(q) == SQLITE_ROW) {
        *ids = ts_xreallocarray(*ids, *n + 1, sizeof **ids);
        (*ids)[(*n)++] = ts_xstrdup((const char *)sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
    return 0;
}

void ts_attachment_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

int ts_attachment_read(ts_store *st, const char *notice_id, const char *id, unsigned what, ts_attachment *out,
                       ts_error *err)
{
    memset(out, 0, sizeof *out);
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change c;
    ts_error gerr;
    int rc = ts_store_get(st, TS_ATTACHMENT_TABLE, id, &c, &arena, &gerr);
    if (rc == TS_ENOT_FOUND) {
        ts_arena_free(&arena);
        return ts_error_set(err, TS_ENOT_FOUND, "notice %.60s has no attachment %.60s", notice_id, id);
    }
    if (rc < 0) {
        ts_arena_free(&arena);
        *err = gerr;
        return rc;
    }
    char nid[TS_KEY_MAX + 1];
    const ts_field *content = ts_version_field(&c.v, "content");
    msgpack_object o;
    if (ts_version_deleted(&c.v) || !ts_recjson_text(&c.v, "notice_id", nid, sizeof nid) ||
        strcmp(nid, notice_id) != 0 || content == NULL || ts_mp_scalar(content->value, content->value_len, &o) < 0 ||
        o.type != MSGPACK_OBJECT_BIN) {
        rc = ts_error_set(err, TS_ENOT_FOUND, "notice %.60s has no attachment %.60s", notice_id, id);
    } else {
        snprintf(out->id, sizeof out->id, "%s", c.id);
        snprintf(out->notice_id, sizeof out->notice_id, "%s", nid);
        if (!ts_recjson_text(&c.v, "filename", out->name, sizeof out->name))
            snprintf(out->name, sizeof out->name, "attachment");
        if (!ts_recjson_text(&c.v, "mime", out->mime, sizeof out->mime) || out->mime[0] == '\0')
            snprintf(out->mime, sizeof out->mime, "application/octet-stream");
        if (!ts_recjson_text(&c.v, "sha256", out->sha256, sizeof out->sha256))
            out->sha256[0] = '\0';
        out->len = o.via.bin.size;
        char sum[65];
        out->verified = (what & TS_ATTACHMENT_VERIFY) != 0 && out->sha256[0] != '\0' &&
                        ts_sha256_hex(o.via.bin.ptr, o.via.bin.size, sum) && strcmp(sum, out->sha256) == 0;
        if (what & TS_ATTACHMENT_BYTES) {
            out->data = ts_xmalloc(out->len ? out->len : 1);
            memcpy(out->data, o.via.bin.ptr, out->len);
        }
    }
    ts_version_free(&c.v);
    ts_arena_free(&arena);
    return rc;
}

int ts_attachment_list(ts_store *st, const char *notice_id, bool verify, json_t **out, ts_error *err)
{
    *out = NULL;
    char **ids;
    size_t n;
    int rc = ts_attachment_ids(st, notice_id, &ids, &n, err);
    if (rc < 0)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        ts_attachment f;
        ts_error gerr;
        if (ts_attachment_read(st, notice_id, ids[i], verify ? TS_ATTACHMENT_VERIFY : 0, &f, &gerr) < 0)
            continue;
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:s}", "id", f.id, "name", f.name, "mime", f.mime, "size",
                              (json_int_t)f.len, "sha256", f.sha256);
        if (verify)
            json_object_set_new(o, "verified", json_boolean(f.verified));
        json_array_append_new(arr, o);
    }
    ts_attachment_ids_free(ids, n);
    *out = arr;
    return 0;
}

void ts_attachment_free(ts_attachment *a)
{
    free(a->data);
    a->data = NULL;
}
