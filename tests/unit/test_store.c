/* The store: local writes, validation, authorisation, sync between a server
 * and stations, visibility, dumps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/ts_store.h"
#include "common/ts_recjson.h"
#include "common/ts_xmalloc.h"
#include "server/ts_notices.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_store.h"

typedef struct fixture {
    char *dir;
    ts_store *srv;
    ts_store *bn; /* Bình Nguyên */
    ts_store *xl; /* Xuân Lãng */
} fixture;

static int setup(void **state)
{
    fixture *f = ts_xcalloc(1, sizeof *f);
    f->dir = ts_tmpdir_make("store");
    f->srv = ts_test_open(f->dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    f->bn = ts_test_open(f->dir, "bn.db", TS_ROLE_STATION, "binhnguyen", NULL);
    f->xl = ts_test_open(f->dir, "xl.db", TS_ROLE_STATION, "xuanlang", NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ts_store_close(f->srv);
    ts_store_close(f->bn);
    ts_store_close(f->xl);
    ts_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void put_ok(ts_store *st, const char *table, const char *id, const char *a, const char *b, const char *c,
                   const char *d)
{
    ts_error err;
    if (ts_test_put(st, table, id, NULL, &err, a, b, c, d, NULL) < 0)
        fail_msg("put %s/%s: %s", table, id, err.msg);
}

static void test_put_get_delete(void **state)
{
    fixture *f = *state;
    put_ok(f->bn, "residents", "bn-1", "full_name=Nguyễn Thị Lan", "birth_date=1980-02-29", "sex=female", NULL);
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    ts_error err;
    assert_int_equal(ts_store_get(f->bn, "residents", "bn-1", &c, &arena, &err), 0);
    assert_string_equal(c.owner, "binhnguyen");
    assert_int_equal(c.v.vv.n, 1);
    assert_int_equal(c.v.vv.e[0].counter, 1);
    assert_int_equal(c.v.nfields, 4); /* three fields + _deleted */
    assert_false(ts_version_deleted(&c.v));
    uint64_t first_hlc = c.v.fields[0].hlc;
    ts_version_free(&c.v);

    put_ok(f->bn, "residents", "bn-1", "phone=0912345678", NULL, NULL, NULL);
    assert_int_equal(ts_store_get(f->bn, "residents", "bn-1", &c, &arena, &err), 0);
    assert_int_equal(c.v.vv.e[0].counter, 2);
    const ts_field *phone = ts_version_field(&c.v, "phone");
    assert_non_null(phone);
    assert_int_equal(phone->dot.counter, 2);
    assert_true(phone->hlc > first_hlc);
    assert_int_equal(ts_version_field(&c.v, "full_name")->dot.counter, 1);
    ts_version_free(&c.v);

    ts_actor me = {TS_ACTOR_LOCAL, "test", NULL, NULL};
    assert_int_equal(ts_store_delete(f->bn, &me, "residents", "bn-1", &err), 0);
    assert_int_equal(ts_store_get(f->bn, "residents", "bn-1", &c, &arena, &err), 0);
    assert_true(ts_version_deleted(&c.v));
    ts_version_free(&c.v);
    assert_int_equal(ts_store_delete(f->bn, &me, "residents", "bn-1", &err), TS_ENOT_FOUND);
    assert_int_equal(ts_store_delete(f->bn, &me, "residents", "nope", &err), TS_ENOT_FOUND);
    /* a put on a deleted record brings it back */
    put_ok(f->bn, "residents", "bn-1", "phone=0912345679", NULL, NULL, NULL);
    assert_int_equal(ts_store_get(f->bn, "residents", "bn-1", &c, &arena, &err), 0);
    assert_false(ts_version_deleted(&c.v));
    ts_version_free(&c.v);
    ts_arena_free(&arena);
}

static void test_validation(void **state)
{
    fixture *f = *state;
    ts_error err;
    assert_int_equal(ts_test_put(f->bn, "patients", "x", NULL, &err, "a=1", NULL), TS_EUNKNOWN_TABLE);
    assert_non_null(strstr(err.msg, "patients"));
    assert_int_equal(ts_test_put(f->bn, "residents", "x", NULL, &err, "full_name=A", "sex=female", NULL),
                     TS_EINVALID_RECORD);
    assert_non_null(strstr(err.msg, "birth_date"));
    assert_int_equal(ts_test_put(f->bn, "residents", "x", NULL, &err, "full_name=A", "sex=female",
                                 "birth_date=2023-02-29", NULL),
                     TS_EINVALID_RECORD);
    assert_non_null(strstr(err.msg, "birth_date"));
    assert_int_equal(ts_test_put(f->bn, "residents", "x", NULL, &err, "full_name=A", "sex=unknown",
                                 "birth_date=2020-01-01", NULL),
                     TS_EINVALID_RECORD);
    assert_int_equal(ts_test_put(f->bn, "residents", "x", NULL, &err, "full_name=A", "sex=male",
                                 "birth_date=2020-01-01", "national_id=12345", NULL),
                     TS_EINVALID_RECORD);
    assert_non_null(strstr(err.msg, "national_id"));
    assert_int_equal(ts_test_put(f->bn, "residents", "x", NULL, &err, "full_name=A", "sex=male",
                                 "birth_date=2020-01-01", "shoe_size=42", NULL),
                     TS_EINVALID_RECORD);
    assert_non_null(strstr(err.msg, "shoe_size"));
    assert_int_equal(ts_test_put(f->bn, "child_growth", "x", NULL, &err, "resident_id=r", "date=2024-01-01",
                                 "age_months=61", NULL),
                     TS_EINVALID_RECORD);
    /* nothing of the refused writes was stored, and the counters did not move */
    uint64_t pending = 9;
    assert_int_equal(ts_store_pending_count(f->bn, &pending), 0);
    assert_int_equal(pending, 0);
    /* stations cannot write district tables */
    assert_int_equal(ts_test_put(f->bn, "stations", "binhnguyen", NULL, &err, "name=x", "commune=y", NULL),
                     TS_EFORBIDDEN);
}

static void test_push_pull_visibility(void **state)
{
    fixture *f = *state;
    put_ok(f->bn, "residents", "bn-1", "full_name=Trần Văn An", "birth_date=1975-05-01", "sex=male", NULL);
    put_ok(f->xl, "residents", "xl-1", "full_name=Lê Thị Hoa", "birth_date=1990-12-31", "sex=female", NULL);
    put_ok(f->srv, "stations", "binhnguyen", "name=Trạm Y tế xã Bình Nguyên", "commune=Bình Nguyên", NULL, NULL);
    ts_error err;
    /* a notice needs all its required fields */
    assert_int_equal(ts_test_put(f->srv, "notices", "n-1", NULL, &err, "number=45/TB-TTYT", "doc_type=thong_bao",
                                 "issuer=TTYT khu vực Bình Xuyên", "issue_date=2026-05-06", NULL),
                     TS_EINVALID_RECORD);
    assert_non_null(strstr(err.msg, "required"));
    assert_int_equal(ts_test_put(f->srv, "notices", "n-2", NULL, &err, "number=46/TB-TTYT", "doc_type=cong_dien",
                                 "issuer=TTYT", "issue_date=2026-05-07", "subject=Phòng chống dịch",
                                 "category=prevention", "urgency=hoa_toc", "recipients=[xuanlang]", NULL),
                     0);

    assert_int_equal(ts_test_push(f->bn, f->srv, "binhnguyen", false), 1);
    assert_int_equal(ts_test_push(f->xl, f->srv, "xuanlang", false), 1);
    assert_int_equal(ts_test_push(f->bn, f->srv, "binhnguyen", false), 0); /* nothing left */

    /* Bình Nguyên sees its own resident (skipped: it pushed it), the
     * station directory; not Xuân Lãng's resident, not the notice. */
    assert_int_equal(ts_test_pull(f->srv, f->bn, "binhnguyen"), 1);
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    assert_int_equal(ts_store_get(f->bn, "stations", "binhnguyen", &c, &arena, &err), 0);
    ts_version_free(&c.v);
    assert_int_equal(ts_store_get(f->bn, "residents", "xl-1", &c, &arena, &err), TS_ENOT_FOUND);
    assert_int_equal(ts_store_get(f->bn, "notices", "n-2", &c, &arena, &err), TS_ENOT_FOUND);
    /* Xuân Lãng gets the directory and the notice addressed to it */
    assert_int_equal(ts_test_pull(f->srv, f->xl, "xuanlang"), 2);
    assert_int_equal(ts_store_get(f->xl, "notices", "n-2", &c, &arena, &err), 0);
    ts_version_free(&c.v);
    /* the district holds both residents */
    assert_int_equal(ts_store_get(f->srv, "residents", "bn-1", &c, &arena, &err), 0);
    assert_string_equal(c.owner, "binhnguyen");
    ts_version_free(&c.v);
    assert_int_equal(ts_store_get(f->srv, "residents", "xl-1", &c, &arena, &err), 0);
    ts_version_free(&c.v);
    ts_arena_free(&arena);

    /* a second pull returns nothing */
    assert_int_equal(ts_test_pull(f->srv, f->xl, "xuanlang"), 0);
}

static long sql_long(ts_store *st, const char *sql)
{
    sqlite3_stmt *q;
    long n = -1;
    if (sqlite3_prepare_v2(ts_store_db(st), sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

static bool page_has(const ts_change_page *p, const char *id)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].id, id) == 0)
            return true;
    return false;
}

/* Schema 11: what a station pushed names its replica in records.origin by
 * the replica's number ("#1"), not its id, and that replica is still not
 * sent back what it pushed, whichever way origin was written; another
 * replica of the same station (a new one, after a re-key) is. */
static void test_origin_is_the_replica_number(void **state)
{
    fixture *f = *state;
    put_ok(f->bn, "residents", "bn-1", "full_name=Trần Văn An", "birth_date=1975-05-01", "sex=male", NULL);
    put_ok(f->bn, "residents", "bn-2", "full_name=Trần Văn Bình", "birth_date=1976-05-01", "sex=male", NULL);
    put_ok(f->xl, "residents", "xl-1", "full_name=Lê Thị Hoa", "birth_date=1990-12-31", "sex=female", NULL);
    assert_int_equal(ts_test_push(f->bn, f->srv, "binhnguyen", false), 2);
    assert_int_equal(ts_test_push(f->xl, f->srv, "xuanlang", false), 1);

    char sql[256];
    snprintf(sql, sizeof sql, "SELECT num FROM replicas WHERE replica = '%s'", ts_store_replica(f->bn)->b);
    long bn_num = sql_long(f->srv, sql);
    snprintf(sql, sizeof sql, "SELECT num FROM replicas WHERE replica = '%s'", ts_store_replica(f->xl)->b);
    long xl_num = sql_long(f->srv, sql);
    assert_true(bn_num > 0 && xl_num > 0 && bn_num != xl_num);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM records WHERE id IN ('bn-1', 'bn-2') AND origin = '#%ld'", bn_num);
    assert_int_equal(sql_long(f->srv, sql), 2);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM records WHERE id = 'xl-1' AND origin = '#%ld'", xl_num);
    assert_int_equal(sql_long(f->srv, sql), 1);

    /* a record stored before schema 11 holds the replica id */
    snprintf(sql, sizeof sql, "UPDATE records SET origin = '%s' WHERE id = 'bn-2'", ts_store_replica(f->bn)->b);
    assert_int_equal(sqlite3_exec(ts_store_db(f->srv), sql, NULL, NULL, NULL), SQLITE_OK);

    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    uint64_t next;
    bool more;
    assert_int_equal(ts_store_changes_since(f->srv, "binhnguyen", ts_store_replica(f->bn), 0, 100, &page, &next,
                                            &more, &err),
                     0);
    assert_false(page_has(&page, "bn-1"));
    assert_false(page_has(&page, "bn-2"));
    ts_rid other;
    assert_int_equal(ts_rid_set_cstr(&other, "binhnguyen.00000000000000ff"), 0);
    assert_int_equal(ts_store_changes_since(f->srv, "binhnguyen", &other, 0, 100, &page, &next, &more, &err), 0);
    assert_true(page_has(&page, "bn-1"));
    assert_true(page_has(&page, "bn-2"));
    assert_false(page_has(&page, "xl-1"));
    ts_change_page_free(&page);
}

/* The schema check done before the store's thread (the district's loop):
 * ts_store_precheck says which changes pass, and ts_store_apply_checked
 * takes its word for those and checks the others itself, with the reason. */
static void test_precheck_before_the_store(void **state)
{
    fixture *f = *state;
    put_ok(f->bn, "residents", "bn-ok", "full_name=Trần Văn An", "birth_date=1975-05-01", "sex=male", NULL);
    put_ok(f->bn, "residents", "bn-bad", "full_name=Trần Văn Bình", "birth_date=1976-05-01", "sex=male", NULL);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    assert_int_equal(ts_store_pending(f->bn, 0, 100, &page, &err), 0);
    assert_int_equal(page.n, 2);
    /* bn-bad's sex is no longer one of the enum's values */
    ts_change *bad = strcmp(page.items[0].id, "bn-bad") == 0 ? &page.items[0] : &page.items[1];
    for (uint32_t k = 0; k < bad->v.nfields; k++)
        if (strcmp(bad->v.fields[k].name, "sex") == 0) {
            static const uint8_t other[] = {0xa5, 'o', 't', 'h', 'e', 'r'};
            bad->v.fields[k].value = other;
            bad->v.fields[k].value_len = sizeof other;
        }
    bool valid[2];
    ts_store_precheck(ts_store_registry(f->srv), page.items, page.n, valid);
    assert_true(valid[bad == &page.items[0] ? 1 : 0]);
    assert_false(valid[bad == &page.items[0] ? 0 : 1]);

    ts_apply_result res[2];
    ts_actor bn = {TS_ACTOR_STATION, "binhnguyen", ts_store_replica(f->bn), "127.0.0.1"};
    assert_int_equal(ts_store_apply_checked(f->srv, &bn, page.items, page.n, valid, res, &err), 0);
    size_t b = bad == &page.items[0] ? 0 : 1;
    assert_int_equal(res[1 - b].outcome, TS_OUTCOME_APPLIED);
    assert_int_equal(res[b].outcome, TS_OUTCOME_REJECTED); /* checked by the store, with its reason */
    assert_int_equal(res[b].code, TS_EINVALID_RECORD);
    assert_non_null(strstr(res[b].reason, "sex"));

    /* marked valid, it is not checked again on the store's thread: the
     * caller's word is taken (which is why only ts_store_precheck gives it) */
    bad->id = "bn-bad-2";
    valid[0] = true;
    assert_int_equal(ts_store_apply_checked(f->srv, &bn, bad, 1, valid, res, &err), 0);
    assert_int_equal(res[0].outcome, TS_OUTCOME_APPLIED);
    ts_change_page_free(&page);
}

static void test_forbidden_pushes(void **state)
{
    fixture *f = *state;
    put_ok(f->bn, "residents", "shared-id", "full_name=A", "birth_date=2000-01-01", "sex=male", NULL);
    ts_test_push(f->bn, f->srv, "binhnguyen", false);

    /* Xuân Lãng pushes a record under Bình Nguyên's name, and one with the
     * same id as Bình Nguyên's: both refused, its valid neighbour applied. */
    put_ok(f->xl, "residents", "shared-id", "full_name=B", "birth_date=2000-01-01", "sex=male", NULL);
    put_ok(f->xl, "residents", "xl-ok", "full_name=C", "birth_date=2000-01-01", "sex=male", NULL);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    assert_int_equal(ts_store_pending(f->xl, 0, 100, &page, &err), 0);
    assert_int_equal(page.n, 2);
    ts_apply_result res[3];
    ts_actor xl = {TS_ACTOR_STATION, "xuanlang", ts_store_replica(f->xl), "127.0.0.1"};
    assert_int_equal(ts_store_apply(f->srv, &xl, page.items, page.n, res, &err), 0);
    assert_int_equal(res[0].outcome, TS_OUTCOME_REJECTED);
    assert_int_equal(res[0].code, TS_EFORBIDDEN);
    assert_non_null(strstr(res[0].reason, "binhnguyen"));
    assert_int_equal(res[1].outcome, TS_OUTCOME_APPLIED);

    /* a change claiming to be written by another station's replica */
    ts_change forged = page.items[1];
    forged.owner = "binhnguyen";
    ts_actor bn = {TS_ACTOR_STATION, "binhnguyen", ts_store_replica(f->bn), "127.0.0.1"};
    forged.id = "forged";
    assert_int_equal(ts_store_apply(f->srv, &bn, &forged, 1, res, &err), 0);
    assert_int_equal(res[0].outcome, TS_OUTCOME_REJECTED);
    assert_non_null(strstr(res[0].reason, "replica"));

    /* the refusals are in the audit log */
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(ts_store_db(f->srv),
                                        "SELECT count(*) FROM audit WHERE action = 'reject' AND outcome = 'FORBIDDEN'",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 2);
    sqlite3_finalize(q);
    ts_change_page_free(&page);
}

static void test_dump_identical(void **state)
{
    fixture *f = *state;
    put_ok(f->srv, "stations", "xuanlang", "name=Trạm Y tế xã Xuân Lãng", "commune=Xuân Lãng", "population=9120", NULL);
    put_ok(f->srv, "drug_catalog", "PARA500", "name=Paracetamol 500mg", "unit=viên", NULL, NULL);
    ts_test_pull(f->srv, f->bn, "binhnguyen");
    ts_test_pull(f->srv, f->xl, "xuanlang");
    ts_buf a = TS_BUF_INIT, b = TS_BUF_INIT, c = TS_BUF_INIT;
    ts_error err;
    assert_int_equal(ts_store_dump_buf(f->bn, &a, &err), 0);
    assert_int_equal(ts_store_dump_buf(f->xl, &b, &err), 0);
    assert_int_equal(ts_store_dump_buf(f->srv, &c, &err), 0);
    assert_true(a.len > 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_int_equal(a.len, c.len);
    assert_memory_equal(a.data, c.data, a.len);
    ts_buf_free(&a);
    ts_buf_free(&b);
    ts_buf_free(&c);
}

static void state_is(ts_store *st, const char *id, const char *want)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    ts_error err;
    assert_int_equal(ts_store_get(st, "notice_recipients", id, &c, &arena, &err), 0);
    char state[24];
    ts_recjson_text(&c.v, "state", state, sizeof state);
    ts_version_free(&c.v);
    ts_arena_free(&arena);
    assert_string_equal(state, want);
}

/* A station pushes its handling of a notice; the district (with the notices
 * check, as tramsyncd opens it) takes forward moves, refuses going back from
 * done unless a reason is written with that change. */
static void test_handling_states_forward_only(void **state)
{
    fixture *f = *state;
    char *path = ts_xasprintf("%s/district-checked.db", f->dir);
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = path;
    opt.role = TS_ROLE_SERVER;
    opt.registry = ts_test_registry();
    opt.create = true;
    opt.synchronous = TS_SYNC_OFF;
    opt.check = ts_notices_check_change;
    ts_store *srv;
    ts_error err;
    assert_int_equal(ts_store_open(&srv, &opt, &err), 0);
    assert_int_equal(ts_test_put(srv, "notices", "n-9", NULL, &err, "number=9/CĐ-TTYT", "doc_type=cong_dien",
                                 "issuer=TTYT", "issue_date=2026-05-07", "subject=Sốt xuất huyết",
                                 "category=prevention", "urgency=hoa_toc", "recipients=[binhnguyen]", NULL),
                     0);
    assert_int_equal(ts_test_put(srv, "notice_recipients", "n-9:binhnguyen", NULL, &err, "notice_id=n-9",
                                 "station=binhnguyen", "state=sent", "urgency=hoa_toc", NULL),
                     0);
    assert_int_equal(ts_test_pull(srv, f->bn, "binhnguyen"), 2);
    const char *id = "n-9:binhnguyen";

    /* forward, skipping steps, is fine */
    put_ok(f->bn, "notice_recipients", id, "state=acknowledged", "acknowledged_by=Nguyễn Văn Minh", NULL, NULL);
    ts_test_push(f->bn, srv, "binhnguyen", false);
    state_is(srv, id, "acknowledged");
    put_ok(f->bn, "notice_recipients", id, "state=done", "report=Đã phun hóa chất 3 thôn", NULL, NULL);
    ts_test_push(f->bn, srv, "binhnguyen", false);
    state_is(srv, id, "done");

    /* back from done without a reason: refused, the district keeps done */
    put_ok(f->bn, "notice_recipients", id, "state=in_progress", NULL, NULL, NULL);
    ts_test_push(f->bn, srv, "binhnguyen", true);
    state_is(srv, id, "done");
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(ts_store_db(srv),
                                        "SELECT detail FROM audit WHERE action = 'reject' AND outcome = 'INVALID_RECORD'",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_non_null(strstr((const char *)sqlite3_column_text(q, 0), "reopen_reason"));
    sqlite3_finalize(q);

    /* with a reason written in the same change: accepted */
    put_ok(f->bn, "notice_recipients", id, "state=in_progress", "reopen_reason=Phát hiện thêm ca bệnh", NULL, NULL);
    ts_test_push(f->bn, srv, "binhnguyen", false);
    state_is(srv, id, "in_progress");

    /* done again, then back once more: the earlier reason does not count */
    put_ok(f->bn, "notice_recipients", id, "state=done", NULL, NULL, NULL);
    ts_test_push(f->bn, srv, "binhnguyen", false);
    state_is(srv, id, "done");
    put_ok(f->bn, "notice_recipients", id, "state=delivered", NULL, NULL, NULL);
    ts_test_push(f->bn, srv, "binhnguyen", true);
    state_is(srv, id, "done");

    /* a backward move short of done is refused too */
    assert_int_equal(ts_test_put(srv, "notice_recipients", "n-9:binhnguyen", NULL, &err, "state=in_progress", NULL), 0);
    ts_test_pull(srv, f->bn, "binhnguyen");
    put_ok(f->bn, "notice_recipients", id, "state=delivered", NULL, NULL, NULL);
    ts_test_push(f->bn, srv, "binhnguyen", true);
    state_is(srv, id, "in_progress");

    ts_store_close(srv);
    free(path);
}

/* The agent and the command line write the same station file from two
 * processes: each write must take the next change number, whichever handle
 * wrote last, or a change would never be pushed. */
static void test_two_handles_share_station_file(void **state)
{
    fixture *f = *state;
    ts_store *cli = ts_test_open(f->dir, "bn.db", TS_ROLE_STATION, "binhnguyen", NULL);
    put_ok(f->bn, "residents", "r-1", "full_name=A", "birth_date=2000-01-01", "sex=male", NULL);
    put_ok(cli, "residents", "r-2", "full_name=B", "birth_date=2000-01-01", "sex=male", NULL);
    put_ok(cli, "residents", "r-3", "full_name=C", "birth_date=2000-01-01", "sex=male", NULL);
    put_ok(f->bn, "residents", "r-4", "full_name=D", "birth_date=2000-01-01", "sex=male", NULL);
    put_ok(f->bn, "residents", "r-2", "full_name=B2", "birth_date=2000-01-01", "sex=male", NULL);

    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    assert_int_equal(ts_store_pending(f->bn, 0, 100, &page, &err), 0);
    assert_int_equal(page.n, 4); /* r-2 once, at its latest */
    for (uint32_t i = 1; i < page.n; i++)
        assert_true(page.items[i].lseq > page.items[i - 1].lseq);
    assert_int_equal(page.items[page.n - 1].lseq, 5);
    ts_change_page_free(&page);

    /* the district gets all four; nothing is left pending afterwards */
    assert_int_equal(ts_test_push(f->bn, f->srv, "binhnguyen", false), 4);
    put_ok(cli, "residents", "r-5", "full_name=E", "birth_date=2000-01-01", "sex=male", NULL);
    assert_int_equal(ts_test_push(f->bn, f->srv, "binhnguyen", false), 1);
    assert_int_equal(ts_test_push(cli, f->srv, "binhnguyen", false), 0);
    ts_store_close(cli);
}

/* A put writes only the fields it changes: `_deleted` only when it brings a
 * deleted record back (or creates one). Before, every put (tramsync put, the
 * CSV import, the admin API) wrote `_deleted = false`, so a delete at the
 * district concurrent with an edit at the station was logged as a true
 * conflict on `_deleted`, although nobody had disagreed about it. */
static void test_put_does_not_rewrite_deleted(void **state)
{
    fixture *f = *state;
    put_ok(f->bn, "residents", "bn-9", "full_name=Đỗ Văn Minh", "birth_date=1961-08-15", "sex=male", NULL);
    assert_int_equal(ts_test_push(f->bn, f->srv, "binhnguyen", false), 1);
    ts_actor admin = {TS_ACTOR_ADMIN, "admin", NULL, NULL};
    ts_error err;
    /* concurrently: the district deletes it, the station edits one field */
    assert_int_equal(ts_store_delete(f->srv, &admin, "residents", "bn-9", &err), 0);
    put_ok(f->bn, "residents", "bn-9", "phone=0912000111", NULL, NULL, NULL);

    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    assert_int_equal(ts_store_get(f->bn, "residents", "bn-9", &c, &arena, &err), 0);
    const ts_field *del = ts_version_field(&c.v, TS_FIELD_DELETED);
    assert_non_null(del);
    assert_int_equal(del->dot.counter, 1); /* still the creating write's */
    ts_version_free(&c.v);

    assert_int_equal(ts_test_push(f->bn, f->srv, "binhnguyen", false), 1);
    assert_int_equal(ts_test_sql_count(f->dir, "district.db", "SELECT count(*) FROM conflicts"), 0);
    assert_int_equal(ts_store_get(f->srv, "residents", "bn-9", &c, &arena, &err), 0);
    assert_true(ts_version_deleted(&c.v)); /* the delete stands, the edit is kept in it */
    char phone[32];
    assert_true(ts_recjson_text(&c.v, "phone", phone, sizeof phone));
    assert_string_equal(phone, "0912000111");
    ts_version_free(&c.v);

    /* a put on a deleted record still brings it back */
    put_ok(f->srv, "residents", "bn-9", "phone=0912000222", NULL, NULL, NULL);
    assert_int_equal(ts_store_get(f->srv, "residents", "bn-9", &c, &arena, &err), 0);
    assert_false(ts_version_deleted(&c.v));
    ts_version_free(&c.v);
    ts_arena_free(&arena);
}

/* SQLite's memory statistics are off in a process whose first SQLite was a
 * store's (a global mutex around every allocation and free otherwise: a
 * tenth of the district store's thread under make bench ONLY=ingest). */
static void test_sqlite_keeps_no_memory_statistics(void **state)
{
    fixture *f = *state;
    put_ok(f->srv, "residents", "bn-1", "full_name=Nguyễn Thị Lan", "birth_date=1980-02-29", "sex=female", NULL);
    put_ok(f->bn, "residents", "bn-2", "full_name=Trần Văn Minh", "birth_date=1975-06-01", "sex=male", NULL);
    assert_int_equal(sqlite3_memory_used(), 0);
    assert_int_equal(sqlite3_memory_highwater(0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_pull_visibility, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forbidden_pushes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_origin_is_the_replica_number, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precheck_before_the_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_identical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handling_states_forward_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_handles_share_station_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_does_not_rewrite_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_keeps_no_memory_statistics, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
