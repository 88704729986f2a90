/* Store: listings and station-side maintenance used by the command lines,
 * the admin API and the agent. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_log.h"
#include "common/ts_mp.h"
#include "common/ts_store_int.h"
#include "common/ts_xmalloc.h"

/* The rows of a listing statement (tbl, id, owner, vv, fields, seq, lseq)
 * into page; finalizes q. */
static int ts__list_rows(ts_store *st, sqlite3_stmt *q, ts_change_page *page, ts_error *err)
{
    int rc = 0, step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        if (page->n == page->cap) {
            page->cap = page->cap ? page->cap * 2 : 64;
            page->items = ts_xreallocarray(page->items, page->cap, sizeof *page->items);
        }
        ts_change *c = &page->items[page->n++];
        memset(c, 0, sizeof *c);
        ts_version_init(&c->v);
        c->table = ts_arena_strndup(&page->arena, (const char *)sqlite3_column_text(q, 0), (size_t)sqlite3_column_bytes(q, 0));
        c->id = ts_arena_strndup(&page->arena, (const char *)sqlite3_column_text(q, 1), (size_t)sqlite3_column_bytes(q, 1));
        c->owner = ts_arena_strndup(&page->arena, (const char *)sqlite3_column_text(q, 2), (size_t)sqlite3_column_bytes(q, 2));
        c->seq = (uint64_t)sqlite3_column_int64(q, 5);
        c->lseq = (uint64_t)sqlite3_column_int64(q, 6);
        rc = ts__decode_version(st, sqlite3_column_blob(q, 3), sqlite3_column_bytes(q, 3), sqlite3_column_blob(q, 4),
                                sqlite3_column_bytes(q, 4), &c->v, &page->arena, err);
        if (rc < 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW)
        rc = ts__sql_error(st, err, "list");
    sqlite3_finalize(q);
    return rc;
}

int ts_store_list(ts_store *st, const char *table, const char *after, uint32_t limit, bool include_deleted,
                  ts_change_page *page, ts_error *err)
{
    ts_change_page_reset(page);
    sqlite3_stmt *q;
    const char *sql = include_deleted
                          ? "SELECT tbl, id, owner, vv, fields, seq, lseq FROM records"
                            " WHERE tbl = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
                          : "SELECT tbl, id, owner, vv, fields, seq, lseq FROM records"
                            " WHERE tbl = ?1 AND id > ?2 AND deleted = 0 ORDER BY id LIMIT ?3";
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return ts__sql_error(st, err, "list");
    sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, after ? after : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, limit ? limit : 100);
    return ts__list_rows(st, q, page, err);
}

int ts_store_list_range(ts_store *st, const char *table, const char *from, const char *before, uint32_t limit,
                        ts_change_page *page, ts_error *err)
{
    ts_change_page_reset(page);
    sqlite3_stmt *q;
    /* the key (tbl, id): a range of it, read in order */
    const char *sql = "SELECT tbl, id, owner, vv, fields, seq, lseq FROM records"
                      " WHERE tbl = ?1 AND id >= ?2 AND id < ?3 AND deleted = 0 ORDER BY id LIMIT ?4";
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return ts__sql_error(st, err, "list");
    sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, before, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, limit ? limit : 100);
    return ts__list_rows(st, q, page, err);
}

static void ts__col_text(sqlite3_stmt *q, int i, char *out, size_t size)
{
    const char *v = (const char *)sqlite3_column_text(q, i);
    snprintf(out, size, "%s", v ? v : "");
}

static char *ts__col_json(sqlite3_stmt *q, int i)
{
    ts_buf b = TS_BUF_INIT;
    ts_value_to_json(&b, sqlite3_column_blob(q, i), (size_t)sqlite3_column_bytes(q, i));
    ts_buf_append(&b, "", 1);
    return (char *)ts_buf_steal(&b, NULL);
}

int ts_store_conflicts(ts_store *st, bool unresolved_only, const char *table, int64_t after_id, uint32_t limit,
                       ts_conflict_row **rows, size_t *n, ts_error *err)
{
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *q;
    const char *sql =
        "SELECT id, tbl, rec_id, field, rule, detected_by, actor, winner_replica, winner_counter, winner_hlc,"
        " loser_replica, loser_counter, loser_hlc, winner_value, loser_value, detected_at, resolved_at,"
        " resolved_by, resolution FROM conflicts"
        " WHERE id > ?1 AND (?2 IS NULL OR tbl = ?2) AND (?3 = 0 OR resolved_at IS NULL)"
        " ORDER BY id LIMIT ?4";
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return ts__sql_error(st, err, "conflicts");
    sqlite3_bind_int64(q, 1, after_id);
    if (table)
        sqlite3_bind_text(q, 2, table, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, 2);
    sqlite3_bind_int(q, 3, unresolved_only ? 1 : 0);
    sqlite3_bind_int64(q, 4, limit ? limit : 100);
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *rows = ts_xreallocarray(*rows, cap, sizeof **rows);
        }
        ts_conflict_row *r = &(*rows)[(*n)++];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int64(q, 0);
        ts__col_text(q, 1, r->table, sizeof r->table);
        ts__col_text(q, 2, r->record, sizeof r->record);
        ts__col_text(q, 3, r->field, sizeof r->field);
        ts__col_text(q, 4, r->rule, sizeof r->rule);
        ts__col_text(q, 5, r->detected_by, sizeof r->detected_by);
        ts__col_text(q, 6, r->actor, sizeof r->actor);
        ts__col_text(q, 7, r->winner_replica, sizeof r->winner_replica);
        r->winner_counter = (uint64_t)sqlite3_column_int64(q, 8);
        r->winner_hlc = (uint64_t)sqlite3_column_int64(q, 9);
        ts__col_text(q, 10, r->loser_replica, sizeof r->loser_replica);
        r->loser_counter = (uint64_t)sqlite3_column_int64(q, 11);
        r->loser_hlc = (uint64_t)sqlite3_column_int64(q, 12);
        r->winner_json = ts__col_json(q, 13);
        r->loser_json = ts__col_json(q, 14);
        r->detected_at = (uint64_t)sqlite3_column_int64(q, 15);
        r->resolved = sqlite3_column_type(q, 16) != SQLITE_NULL;
        r->resolved_at = (uint64_t)sqlite3_column_int64(q, 16);
        ts__col_text(q, 17, r->resolved_by, sizeof r->resolved_by);
        const char *res = (const char *)sqlite3_column_text(q, 18);
        r->resolution = ts_xstrdup(res ? res : "");
    }
    int rc = step == SQLITE_DONE ? 0 : ts__sql_error(st, err, "conflicts");
    sqlite3_finalize(q);
    if (rc < 0) {
        ts_conflict_rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

void ts_conflict_rows_free(ts_conflict_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].winner_json);
        free(rows[i].loser_json);
        free(rows[i].resolution);
    }
    free(rows);
}

int ts_store_rejected_count(ts_store *st, uint64_t *count)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM rejected", -1, &q, NULL) != SQLITE_OK)
        return TS_ESTORAGE;
    int rc = sqlite3_step(q) == SQLITE_ROW ? 0 : TS_ESTORAGE;
    *count = rc == 0 ? (uint64_t)sqlite3_column_int64(q, 0) : 0;
    sqlite3_finalize(q);
    return rc;
}

int ts_store_repush_owned(ts_store *st, uint64_t *count, ts_error *err)
{
    *count = 0;
    if (st->role != TS_ROLE_STATION)
        return ts_error_set(err, TS_EBAD_VALUE, "only a station re-pushes what it owns");
    sqlite3_stmt *sel = NULL, *upd = NULL;
    uint64_t lseq_before = st->lseq;
    int rc = ts__tx_begin(st, err);
    if (rc < 0)
        return rc;
    if (sqlite3_prepare_v2(st->db, "SELECT tbl, id FROM records WHERE owner = ?1 ORDER BY tbl, id", -1, &sel, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "UPDATE records SET lseq = ?3 WHERE tbl = ?1 AND id = ?2", -1, &upd, NULL) !=
            SQLITE_OK) {
        rc = ts__sql_error(st, err, "repush");
        goto out;
    }
    sqlite3_bind_text(sel, 1, st->station, -1, SQLITE_STATIC);
    while (sqlite3_step(sel) == SQLITE_ROW) {
        const ts_table_def *t = ts_registry_table(st->reg, (const char *)sqlite3_column_text(sel, 0));
        if (t == NULL || t->kind != TS_TABLE_STATION)
            continue;
        sqlite3_bind_value(upd, 1, sqlite3_column_value(sel, 0));
        sqlite3_bind_value(upd, 2, sqlite3_column_value(sel, 1));
        sqlite3_bind_int64(upd, 3, (sqlite3_int64)++st->lseq);
        if (sqlite3_step(upd) != SQLITE_DONE) {
            rc = ts__sql_error(st, err, "repush");
            goto out;
        }
        sqlite3_reset(upd);
        (*count)++;
    }
    if ((rc = ts__save_clocks(st, err)) == 0)
        rc = ts__tx_commit(st, err);
out:
    if (rc < 0) {
        ts__tx_rollback(st);
        st->lseq = lseq_before;
        *count = 0;
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    return rc;
}
