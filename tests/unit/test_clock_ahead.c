/* A station whose clock ran ahead (issue 14.3), with injected clocks: once
 * the clock is right its hybrid clock still stamps writes hours ahead and
 * the district refuses them; ts_store_restamp_ahead sets it back. The new
 * stamps keep the old order and come after everything the station holds,
 * other processes on the same database (the agent beside the command line)
 * follow the new clock, and both replicas converge. */
#include <stdlib.h>
#include <string.h>

#include "common/ts_hlc.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_store.h"

#define BN "binhnguyen"
#define HOUR (3600u * 1000u)
#define MIN (60u * 1000u)

typedef struct fake_clock {
    uint64_t ms;
} fake_clock;

static uint64_t fake_now(void *ctx)
{
    return ((fake_clock *)ctx)->ms;
}

typedef struct fixture {
    char *dir;
    ts_store *srv, *agent, *cli; /* the agent and the command line share bn.db */
    fake_clock srv_clock, bn_clock;
} fixture;

static int setup(void **state)
{
    fixture *f = ts_xcalloc(1, sizeof *f);
    f->dir = ts_tmpdir_make("clock-ahead");
    f->srv = ts_test_open(f->dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    f->agent = ts_test_open(f->dir, "bn.db", TS_ROLE_STATION, BN, NULL);
    f->cli = ts_test_open(f->dir, "bn.db", TS_ROLE_STATION, BN, NULL);
    f->srv_clock.ms = f->bn_clock.ms = ts_wall_ms();
    ts_hlc_set_clock(ts_store_hlc(f->srv), fake_now, &f->srv_clock);
    ts_hlc_set_clock(ts_store_hlc(f->agent), fake_now, &f->bn_clock);
    ts_hlc_set_clock(ts_store_hlc(f->cli), fake_now, &f->bn_clock);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ts_store_close(f->cli);
    ts_store_close(f->agent);
    ts_store_close(f->srv);
    ts_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void put(ts_store *st, const char *table, const char *id, const char *name)
{
    ts_error err;
    char full[128];
    snprintf(full, sizeof full, "full_name=%s", name);
    if (ts_test_put(st, table, id, NULL, &err, full, "birth_date=1985-04-12", "sex=female", (const char *)NULL) < 0)
        fail_msg("put %s: %s", id, err.msg);
}

/* Pushes what is pending like the agent: 0, or the whole set's refusal. */
static int try_push(fixture *f, ts_error *err)
{
    uint64_t acked = 0;
    ts_store_meta_get_u64(f->agent, "push_acked", &acked);
    ts_change_page page;
    ts_change_page_init(&page);
    int rc = ts_store_pending(f->agent, acked, 1000, &page, err);
    if (rc == 0 && page.n > 0) {
        ts_apply_result *res = ts_xcalloc(page.n, sizeof *res);
        ts_actor actor = {TS_ACTOR_STATION, BN, ts_store_replica(f->agent), "test"};
        rc = ts_store_apply(f->srv, &actor, page.items, page.n, res, err);
        for (uint32_t i = 0; rc == 0 && i < page.n; i++)
            if (res[i].outcome == TS_OUTCOME_REJECTED)
                fail_msg("%s refused: %s", page.items[i].id, res[i].reason);
        if (rc == 0 && ts_store_ack_pushed(f->agent, page.items[page.n - 1].lseq, err) < 0)
            fail_msg("ack: %s", err->msg);
        free(res);
    }
    ts_change_page_free(&page);
    return rc;
}

/* The largest and smallest HLC of a record's fields written by `rid` (or,
 * with mine false, by anyone else). */
static void field_hlcs(ts_store *st, const char *table, const char *id, const ts_rid *rid, bool mine, uint64_t *lo,
                       uint64_t *hi)
{
    ts_arena a;
    ts_arena_init(&a, 4096);
    ts_change c;
    ts_error err;
    *lo = UINT64_MAX;
    *hi = 0;
    if (ts_store_get(st, table, id, &c, &a, &err) < 0)
        fail_msg("get %s: %s", id, err.msg);
    for (uint32_t i = 0; i < c.v.nfields; i++) {
        const ts_field *fl = &c.v.fields[i];
        if (ts_rid_eq(&fl->dot.rid, rid) != mine)
            continue;
        *lo = fl->hlc < *lo ? fl->hlc : *lo;
        *hi = fl->hlc > *hi ? fl->hlc : *hi;
    }
    ts_version_free(&c.v);
    ts_arena_free(&a);
}

static void test_clock_set_back(void **state)
{
    fixture *f = *state;
    uint64_t base = f->bn_clock.ms;
    ts_error err;
    /* before: a record pushed and acknowledged, a district record received */
    put(f->agent, "residents", "bn-1", "Lan");
    assert_int_equal(try_push(f, &err), 0);
    f->srv_clock.ms = base + 1000;
    if (ts_test_put(f->srv, "stations", BN, NULL, &err, "name=Trạm Y tế xã Bình Nguyên", "commune=Bình Nguyên",
                    (const char *)NULL) < 0)
        fail_msg("district put: %s", err.msg);
    ts_test_pull(f->srv, f->agent, BN);
    uint64_t acked_lo, acked_hi;
    field_hlcs(f->agent, "residents", "bn-1", ts_store_replica(f->agent), true, &acked_lo, &acked_hi);

    /* three hours ahead: a new record and an update of the pushed one */
    f->bn_clock.ms = base + 3 * HOUR;
    put(f->agent, "residents", "bn-2", "Hoa");
    ts_buf v = TS_BUF_INIT;
    ts_value_str(&v, "Lan (đã sửa)");
    ts_kv kv = {"full_name", v.data, v.len};
    ts_actor me = {TS_ACTOR_LOCAL, NULL, NULL, NULL};
    assert_int_equal(ts_store_put(f->cli, &me, "residents", "bn-1", NULL, &kv, 1, &err), 0);
    ts_buf_free(&v);
    assert_int_equal(try_push(f, &err), TS_ECLOCK_AHEAD);

    /* the clock is fixed, yet a new write is still hours ahead: refused */
    f->bn_clock.ms = base + 2 * MIN;
    f->srv_clock.ms = base + 2 * MIN;
    put(f->cli, "residents", "bn-3", "Mai");
    assert_int_equal(try_push(f, &err), TS_ECLOCK_AHEAD);
    assert_true(ts_store_clock_ahead_ms(f->agent) > 2 * HOUR);

    /* set back from the command line, beside the running agent */
    ts_restamp_result r;
    assert_int_equal(ts_store_restamp_ahead(f->cli, 5 * MIN, &r, &err), 0);
    print_message("set back: %llu ms ahead, %llu fields of %llu records\n", (unsigned long long)r.ahead_ms,
                  (unsigned long long)r.fields, (unsigned long long)r.records);
    assert_true(r.ahead_ms > 2 * HOUR);
    assert_int_equal(r.records, 3);
    assert_int_equal(ts_store_clock_ahead_ms(f->cli), 0);

    /* the acknowledged entries kept their stamps; the new ones come after
     * everything else held (the district's record included), in their old
     * order, and are not ahead any more */
    const ts_rid *me_rid = ts_store_replica(f->cli);
    uint64_t lo, hi, d_lo, d_hi, lo2, hi2, lo3, hi3;
    field_hlcs(f->cli, "stations", BN, me_rid, false, &d_lo, &d_hi);
    field_hlcs(f->cli, "residents", "bn-1", me_rid, true, &lo, &hi);
    assert_int_equal(lo, acked_lo); /* birth_date, sex: as pushed */
    field_hlcs(f->cli, "residents", "bn-2", me_rid, true, &lo2, &hi2);
    field_hlcs(f->cli, "residents", "bn-3", me_rid, true, &lo3, &hi3);
    assert_true(lo2 > d_hi && hi > d_hi && lo3 > d_hi);
    assert_true(lo2 == hi2 && lo3 == hi3); /* one write, one stamp */
    assert_true(lo2 < hi && hi < lo3);     /* bn-2, then the update of bn-1, then bn-3 */
    assert_true(TS_HLC_MS(lo3) <= base + 2 * MIN + 1);

    /* the agent's next write follows the new clock, not its old one */
    put(f->agent, "residents", "bn-4", "Cúc");
    field_hlcs(f->agent, "residents", "bn-4", me_rid, true, &lo, &hi);
    assert_true(lo > lo3 && TS_HLC_MS(lo) <= base + 2 * MIN + 1);

    /* everything goes through and both sides converge */
    assert_int_equal(try_push(f, &err), 0);
    ts_test_pull(f->srv, f->agent, BN);
    static const char *const ids[] = {"bn-1", "bn-2", "bn-3", "bn-4"};
    for (size_t i = 0; i < 4; i++) {
        json_t *a = ts_test_record_fields(f->srv, "residents", ids[i]), *b = ts_test_record_fields(f->agent, "residents", ids[i]);
        assert_non_null(a);
        if (!json_equal(a, b))
            fail_msg("%s differs between the district and the station", ids[i]);
        json_decref(a);
        json_decref(b);
    }
    json_t *bn1 = ts_test_record_fields(f->srv, "residents", "bn-1");
    assert_string_equal(json_string_value(json_object_get(bn1, "full_name")), "Lan (đã sửa)");
    json_decref(bn1);

    /* nothing ahead any more: a second call changes nothing */
    assert_int_equal(ts_store_restamp_ahead(f->cli, 5 * MIN, &r, &err), 0);
    assert_int_equal(r.fields, 0);
    assert_int_equal(ts_store_restamp_ahead(f->srv, 5 * MIN, &r, &err), TS_EBAD_VALUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clock_set_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
