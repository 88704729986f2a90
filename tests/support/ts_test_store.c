#include "tests/support/ts_test_store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/ts_arena.h"
#include "common/ts_mp.h"
#include "common/ts_recjson.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"

const ts_registry *ts_test_registry(void)
{
    static ts_registry reg;
    static bool loaded;
    if (!loaded) {
        ts_error err;
        if (ts_registry_load_default(&reg, &err) < 0)
            fail_msg("registry: %s", err.msg);
        loaded = true;
    }
    return &reg;
}

ts_store *ts_test_open(const char *dir, const char *name, ts_store_role role, const char *station,
                       const ts_registry *reg)
{
    char *path = ts_xasprintf("%s/%s", dir, name);
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = path;
    opt.role = role;
    opt.registry = reg ? reg : ts_test_registry();
    opt.station = station;
    opt.create = true;
    opt.synchronous = TS_SYNC_OFF;
    ts_store *st = NULL;
    ts_error err;
    if (ts_store_open(&st, &opt, &err) < 0)
        fail_msg("open %s: %s", path, err.msg);
    free(path);
    return st;
}

int ts_test_put(ts_store *st, const char *table, const char *id, const char *owner, ts_error *err, ...)
{
    ts_kv kv[64];
    ts_buf vals[64];
    char names[64][65];
    size_t n = 0;
    va_list ap;
    va_start(ap, err);
    const char *spec;
    while ((spec = va_arg(ap, const char *)) != NULL && n < 64) {
        const char *eq = strchr(spec, '=');
        size_t nl = (size_t)(eq - spec);
        memcpy(names[n], spec, nl);
        names[n][nl] = '\0';
        const char *v = eq + 1;
        ts_buf_init(&vals[n]);
        bool digits = *v != '\0' && v[0] != '0' && strspn(v, "0123456789") == strlen(v) && strlen(v) < 12;
        if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
            ts_value_bool(&vals[n], strcmp(v, "true") == 0);
        else if (strcmp(v, "null") == 0)
            ts_value_nil(&vals[n]);
        else if (digits)
            ts_value_int(&vals[n], atoll(v));
        else if (v[0] == '[') { /* [a,b] list of text */
            msgpack_packer pk;
            ts_buf_packer(&vals[n], &pk);
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%.*s", (int)strlen(v) - 2, v + 1);
            size_t count = tmp[0] ? 1 : 0;
            for (char *p = tmp; *p; p++)
                count += *p == ',';
            msgpack_pack_array(&pk, count);
            for (char *tok = strtok(tmp, ","); tok; tok = strtok(NULL, ","))
                ts_mp_pack_cstr(&pk, tok);
        } else
            ts_value_str(&vals[n], v);
        kv[n].name = names[n];
        kv[n].value = vals[n].data;
        kv[n].len = vals[n].len;
        n++;
    }
    va_end(ap);
    ts_actor me = {TS_ACTOR_LOCAL, "test", NULL, NULL};
    int rc = ts_store_put(st, &me, table, id, owner, kv, n, err);
    for (size_t i = 0; i < n; i++)
        ts_buf_free(&vals[i]);
    return rc;
}

size_t ts_test_push(ts_store *sta, ts_store *srv, const char *code, bool allow_reject)
{
    uint64_t acked = 0;
    ts_store_meta_get_u64(sta, "push_acked", &acked);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    size_t moved = 0;
    for (;;) {
        if (ts_store_pending(sta, acked, 200, &page, &err) < 0)
            fail_msg("pending: %s", err.msg);
        if (page.n == 0)
            break;
        ts_apply_result *res = ts_xcalloc(page.n, sizeof *res);
        ts_actor actor = {TS_ACTOR_STATION, code, ts_store_replica(sta), "test"};
        int rc = ts_store_apply(srv, &actor, page.items, page.n, res, &err);
        if (rc < 0)
            fail_msg("push apply: %s", err.msg);
        for (uint32_t i = 0; i < page.n; i++) {
            if (res[i].outcome == TS_OUTCOME_REJECTED) {
                if (!allow_reject)
                    fail_msg("push rejected %s/%s: %s", page.items[i].table, page.items[i].id, res[i].reason);
                ts_store_mark_rejected(sta, &page.items[i], res[i].code, res[i].reason, NULL);
            }
        }
        free(res);
        acked = page.items[page.n - 1].lseq;
        moved += page.n;
        if (ts_store_ack_pushed(sta, acked, &err) < 0)
            fail_msg("ack: %s", err.msg);
    }
    ts_change_page_free(&page);
    return moved;
}

size_t ts_test_pull(ts_store *srv, ts_store *sta, const char *code)
{
    uint64_t cursor = 0;
    ts_store_meta_get_u64(sta, "pull_cursor", &cursor);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    size_t moved = 0;
    bool more = true;
    while (more) {
        uint64_t next;
        if (ts_store_changes_since(srv, code, ts_store_replica(sta), cursor, 200, &page, &next, &more, &err) < 0)
            fail_msg("changes: %s", err.msg);
        if (page.n) {
            ts_apply_result *res = ts_xcalloc(page.n, sizeof *res);
            if (ts_store_apply(sta, NULL, page.items, page.n, res, &err) < 0)
                fail_msg("pull apply: %s", err.msg);
            for (uint32_t i = 0; i < page.n; i++)
                if (res[i].outcome == TS_OUTCOME_REJECTED)
                    fail_msg("pull rejected %s/%s: %s", page.items[i].table, page.items[i].id, res[i].reason);
            free(res);
        }
        moved += page.n;
        cursor = next;
        ts_store_meta_set_u64(sta, "pull_cursor", cursor);
    }
    ts_change_page_free(&page);
    return moved;
}

json_t *ts_test_record_fields(ts_store *st, const char *table, const char *id)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    ts_error err;
    json_t *out = NULL;
    if (ts_store_get(st, table, id, &c, &arena, &err) == 0) {
        json_t *r = ts_recjson_record(&c, false);
        out = json_incref(json_object_get(r, "fields"));
        json_decref(r);
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    return out;
}

long ts_test_sql_count(const char *dir, const char *name, const char *sql)
{
    char *path = ts_xasprintf("%s/%s", dir, name);
    sqlite3 *db = NULL;
    long n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
            if (sqlite3_step(q) == SQLITE_ROW)
                n = (long)sqlite3_column_int64(q, 0);
            sqlite3_finalize(q);
        } else {
            fprintf(stderr, "sql: %s: %s\n", sql, sqlite3_errmsg(db));
        }
    }
    sqlite3_close(db);
    free(path);
    return n;
}
