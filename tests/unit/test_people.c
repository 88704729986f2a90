/* The directory of focal points (issue 18, "rõ người"):
 *
 *  1. two tables, two owners: `people` is written at the district only (the
 *     TTYT, the UBNDs), `station_people` by each station for itself; both
 *     personal (admin reads audited)
 *  2. `tramsync ack ID --by` takes a person of the directory by id or by
 *     name and records the id with "Name (Position)"; a name nobody bears
 *     stays as written; a name several people bear is refused (give the id)
 *  3. a notice addressed to a role ("cán bộ phụ trách dịch") resolves at each
 *     station to its current holder (active_from/active_to), at the station
 *     and at the district once synced; a station without one has none
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client/ts_station_notices.h"
#include "common/ts_notice.h"
#include "common/ts_people.h"
#include "common/ts_recjson.h"
#include "common/ts_registry.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "server/ts_notices.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_store.h"

#define BN "binhnguyen"
#define BX "binhxuyen"

typedef struct fixture {
    char *dir;
    ts_store *srv, *bn, *bx;
} fixture;

static ts_actor admin_actor(void)
{
    ts_actor a = {TS_ACTOR_ADMIN, "admin-test", NULL, "test"};
    return a;
}

static json_t *jparse(const char *s)
{
    json_error_t je;
    json_t *o = json_loads(s, 0, &je);
    if (o == NULL)
        fail_msg("bad JSON in test: %s: %s", s, je.text);
    return o;
}

static void put_district(fixture *f, const char *table, const char *id, const char *json)
{
    json_t *o = jparse(json);
    ts_actor a = admin_actor();
    ts_error err;
    if (ts_record_put_json(f->srv, &a, table, id, o, &err) < 0)
        fail_msg("put %s/%s: %s", table, id, err.msg);
    json_decref(o);
}

static int station_put(ts_store *st, const char *table, const char *id, const char *json, ts_error *err)
{
    json_t *o = jparse(json);
    int rc = ts_station_put(st, table, id, o, err);
    json_decref(o);
    return rc;
}

static int setup(void **state)
{
    fixture *f = ts_xcalloc(1, sizeof *f);
    f->dir = ts_tmpdir_make("people");
    char *path = ts_xasprintf("%s/district.db", f->dir);
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = path;
    opt.role = TS_ROLE_SERVER;
    opt.registry = ts_test_registry();
    opt.create = true;
    opt.synchronous = TS_SYNC_OFF;
    opt.check = ts_notices_check_change;
    ts_error err;
    if (ts_store_open(&f->srv, &opt, &err) < 0)
        fail_msg("open %s: %s", path, err.msg);
    free(path);
    f->bn = ts_test_open(f->dir, "bn.db", TS_ROLE_STATION, BN, NULL);
    f->bx = ts_test_open(f->dir, "bx.db", TS_ROLE_STATION, BX, NULL);
    put_district(f, "stations", BN, "{\"name\": \"Trạm Y tế xã Bình Nguyên\", \"commune\": \"Bình Nguyên\"}");
    put_district(f, "stations", BX, "{\"name\": \"Trạm Y tế xã Bình Xuyên\", \"commune\": \"Bình Xuyên\"}");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ts_store_close(f->srv);
    ts_store_close(f->bn);
    ts_store_close(f->bx);
    ts_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void test_two_tables_two_owners(void **state)
{
    fixture *f = *state;
    const ts_table_def *p = ts_registry_table(ts_test_registry(), "people");
    const ts_table_def *sp = ts_registry_table(ts_test_registry(), "station_people");
    assert_non_null(p);
    assert_non_null(sp);
    assert_int_equal(p->kind, TS_TABLE_DISTRICT);
    assert_int_equal(sp->kind, TS_TABLE_STATION);
    assert_true(p->personal && sp->personal);
    ts_error err;
    /* a station keeps its own staff, not the district's directory */
    assert_int_equal(station_put(f->bn, "station_people", "BN-NS-01",
                                 "{\"full_name\": \"Nguyễn Văn An\", \"position\": \"Trưởng trạm\", \"unit\": "
                                 "\"Trạm Y tế xã Bình Nguyên\", \"roles\": [\"head\"]}",
                                 &err),
                     0);
    assert_true(station_put(f->bn, "people", "UB-BN-01",
                            "{\"full_name\": \"Lê Thị Hoa\", \"position\": \"Phó Chủ tịch UBND xã\", \"unit\": "
                            "\"UBND xã Bình Nguyên\", \"unit_kind\": \"ubnd\"}",
                            &err) < 0);
    assert_int_equal(err.code, TS_EFORBIDDEN);
    /* the district writes the TTYT's and the UBNDs' */
    put_district(f, "people", "UB-BN-01",
                 "{\"full_name\": \"Lê Thị Hoa\", \"position\": \"Phó Chủ tịch UBND xã\", \"unit\": \"UBND xã Bình "
                 "Nguyên\", \"unit_kind\": \"ubnd\", \"station\": \"" BN "\", \"roles\": [\"ubnd_vice_chair\"]}");
    char id[TS_KEY_MAX + 1], label[512];
    assert_int_equal(ts_people_resolve(f->srv, "UB-BN-01", id, sizeof id, label, sizeof label), 0);
    assert_string_equal(label, "Lê Thị Hoa (Phó Chủ tịch UBND xã)");
    assert_int_equal(ts_people_resolve(f->srv, "Lê Thị Hoa", id, sizeof id, NULL, 0), 0);
    assert_string_equal(id, "UB-BN-01");
    assert_int_equal(ts_people_resolve(f->srv, "Không Ai", id, sizeof id, NULL, 0), -1);
}

static void test_ack_by_person(void **state)
{
    fixture *f = *state;
    ts_error err;
    assert_int_equal(station_put(f->bn, "station_people", "BN-NS-02",
                                 "{\"full_name\": \"Trần Thị Mai\", \"position\": \"Cán bộ phụ trách dịch\", \"unit\": "
                                 "\"Trạm Y tế xã Bình Nguyên\", \"roles\": [\"epidemic_officer\"]}",
                                 &err),
                     0);
    ts_strlist to = {NULL, 0};
    ts_strlist_add(&to, BN);
    json_t *fields = jparse("{\"subject\": \"Giám sát sốt xuất huyết\", \"urgency\": \"khan\", \"category\": "
                            "\"prevention\", \"issuer\": \"TTYT\"}");
    ts_actor a = admin_actor();
    char n1[64], n2[64], n3[64];
    assert_int_equal(ts_notice_create(f->srv, &a, fields, &to, n1, sizeof n1, &err), 0);
    assert_int_equal(ts_notice_create(f->srv, &a, fields, &to, n2, sizeof n2, &err), 0);
    assert_int_equal(ts_notice_create(f->srv, &a, fields, &to, n3, sizeof n3, &err), 0);
    json_decref(fields);
    ts_strlist_free(&to);
    ts_test_pull(f->srv, f->bn, BN);

    /* by name: the directory's person, with their position */
    assert_int_equal(ts_station_transition(f->bn, n1, "acknowledged", "Trần Thị Mai", NULL, NULL, NULL, true, &err), 0);
    /* by id */
    assert_int_equal(ts_station_transition(f->bn, n2, "acknowledged", "BN-NS-02", NULL, NULL, NULL, true, &err), 0);
    /* a name the directory does not know: as written */
    assert_int_equal(ts_station_transition(f->bn, n3, "acknowledged", "Bác sĩ Hùng", NULL, NULL, NULL, true, &err), 0);
    ts_test_push(f->bn, f->srv, BN, false);
    const char *ids[] = {n1, n2, n3};
    for (int i = 0; i < 3; i++) {
        json_t *show;
        assert_int_equal(ts_station_show(f->bn, ids[i], true, &show, &err), 0);
        const json_t *h = json_object_get(show, "handling");
        if (i < 2) {
            assert_string_equal(jstr(h, "acknowledged_by"), "Trần Thị Mai (Cán bộ phụ trách dịch)");
            assert_string_equal(jstr(h, "acknowledged_by_person"), "BN-NS-02");
            assert_string_equal(jstr(show, "acknowledged_by_label"), "Trần Thị Mai (Cán bộ phụ trách dịch)");
        } else {
            assert_string_equal(jstr(h, "acknowledged_by"), "Bác sĩ Hùng");
            assert_null(json_object_get(h, "acknowledged_by_person"));
        }
        json_decref(show);
    }
    /* the district sees who, by id, once the station synced */
    json_t *show;
    assert_int_equal(ts_notice_show(f->srv, n1, &show, &err), 0);
    assert_string_equal(jstr(json_array_get(json_object_get(show, "recipients"), 0), "acknowledged_by_person"),
                        "BN-NS-02");
    json_decref(show);

    /* two people of one name: the id is needed */
    assert_int_equal(station_put(f->bn, "station_people", "BN-NS-03",
                                 "{\"full_name\": \"Trần Thị Mai\", \"position\": \"Cán bộ dân số\", \"unit\": "
                                 "\"Trạm Y tế xã Bình Nguyên\", \"roles\": [\"population_officer\"]}",
                                 &err),
                     0);
    assert_int_equal(ts_people_resolve(f->bn, "Trần Thị Mai", NULL, 0, NULL, 0), -2);
}

static void test_notice_to_a_role(void **state)
{
    fixture *f = *state;
    ts_error err;
    /* the epidemic officer who left, and the one now */
    assert_int_equal(station_put(f->bn, "station_people", "BN-NS-10",
                                 "{\"full_name\": \"Phạm Văn Cũ\", \"position\": \"Cán bộ phụ trách dịch\", \"unit\": "
                                 "\"Trạm Y tế xã Bình Nguyên\", \"roles\": [\"epidemic_officer\"], \"active_to\": "
                                 "\"2020-12-31\"}",
                                 &err),
                     0);
    assert_int_equal(station_put(f->bn, "station_people", "BN-NS-11",
                                 "{\"full_name\": \"Đỗ Thị Mới\", \"position\": \"Cán bộ phụ trách dịch\", \"unit\": "
                                 "\"Trạm Y tế xã Bình Nguyên\", \"roles\": [\"epidemic_officer\"], \"active_from\": "
                                 "\"2021-01-01\"}",
                                 &err),
                     0);
    ts_strlist to = {NULL, 0};
    ts_strlist_add(&to, BN);
    ts_strlist_add(&to, BX);
    json_t *fields = jparse("{\"subject\": \"Điều tra ổ dịch\", \"urgency\": \"khan\", \"category\": \"prevention\","
                            " \"issuer\": \"TTYT\", \"responsible_role\": \"epidemic_officer\"}");
    ts_actor a = admin_actor();
    char n[64];
    assert_int_equal(ts_notice_create(f->srv, &a, fields, &to, n, sizeof n, &err), 0);
    json_decref(fields);
    ts_strlist_free(&to);
    ts_test_pull(f->srv, f->bn, BN);
    ts_test_pull(f->srv, f->bx, BX);
    json_t *show;
    assert_int_equal(ts_station_show(f->bn, n, true, &show, &err), 0);
    assert_string_equal(jstr(show, "responsible_label"), "Đỗ Thị Mới (Cán bộ phụ trách dịch)");
    json_decref(show);
    assert_int_equal(ts_station_show(f->bx, n, true, &show, &err), 0);
    assert_null(json_object_get(show, "responsible_label"));
    json_decref(show);
    /* the district knows Bình Nguyên's once it synced, not before */
    char id[TS_KEY_MAX + 1];
    assert_int_equal(ts_people_current(f->srv, BN, "epidemic_officer", "2026-06-01", id, sizeof id, NULL, 0), -1);
    ts_test_push(f->bn, f->srv, BN, false);
    assert_int_equal(ts_people_current(f->srv, BN, "epidemic_officer", "2026-06-01", id, sizeof id, NULL, 0), 0);
    assert_string_equal(id, "BN-NS-11");
    assert_int_equal(ts_people_current(f->srv, BN, "epidemic_officer", "2020-06-01", id, sizeof id, NULL, 0), 0);
    assert_string_equal(id, "BN-NS-10");
    assert_int_equal(ts_people_current(f->srv, BX, "epidemic_officer", "2026-06-01", id, sizeof id, NULL, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_tables_two_owners, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_by_person, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notice_to_a_role, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
