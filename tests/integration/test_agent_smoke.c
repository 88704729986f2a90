/* A station agent process syncs with the daemon: a record put with the CLI
 * reaches the district, and a district change reaches the station. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_station.h"

static void test_put_reaches_district(void **state)
{
    (void)state;
    char *dir = ts_tmpdir_make("agent");
    ts_test_pki pki;
    ts_test_pki_make(&pki, dir, NULL, 0);
    ts_test_daemon d;
    ts_test_daemon_start(&d, dir, &pki, NULL);
    ts_test_station bn;
    ts_test_station_make(&bn, dir, "binhnguyen", &pki, d.port, NULL);
    ts_test_station_start(&bn);
    char *out = NULL;
    int rc = ts_test_station_cli(&bn, &out, "put", "residents", "BN-1", "full_name=Phạm Văn Đức",
                                 "birth_date=1970-01-01", "sex=male", NULL);
    if (rc != 0)
        fail_msg("put exit %d: %s", rc, out);
    free(out);
    assert_true(ts_test_log_wait(bn.log, "event=pushed", 15000));
    rc = ts_test_station_cli(&bn, &out, "--json", "status", NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "\"pending_changes\": 0"));
    free(out);
    assert_int_equal(ts_test_station_stop(&bn, 10000), 0);
    assert_int_equal(ts_test_daemon_stop(&d, SIGTERM, 20000), 0);

    /* the district database has it, owned by the station */
    ts_registry reg;
    ts_error err;
    ts_registry_load_default(&reg, &err);
    char *db = ts_xasprintf("%s/district.db", dir);
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = db;
    opt.role = TS_ROLE_SERVER;
    opt.registry = &reg;
    ts_store *srv;
    assert_int_equal(ts_store_open(&srv, &opt, &err), 0);
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    assert_int_equal(ts_store_get(srv, "residents", "BN-1", &c, &arena, &err), 0);
    assert_string_equal(c.owner, "binhnguyen");
    ts_version_free(&c.v);
    ts_arena_free(&arena);
    ts_store_close(srv);
    ts_registry_free(&reg);
    free(db);
    ts_test_station_free(&bn);
    ts_test_daemon_free(&d);
    ts_test_pki_free(&pki);
    ts_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_reaches_district),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
