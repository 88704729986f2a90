/* Documents are built off the store's thread (issue 19: the quarter's PDF
 * and workbook were typeset while the store was held, so every station's
 * push and every console page waited for them).
 *
 * The release tramsyncd runs with a gate preloaded in front of cairo's PDF
 * surface and libxlsxwriter's workbook (tests/support/preload/ts_gate.c):
 * while the gate file exists, a document being built waits. With one
 * document held there, another request that needs the store must still be
 * answered; then the gate opens and the document arrives whole.
 *
 * The same for a notice printed as an official document (issue 18).
 *
 * The daemon is the release build (ASan objects to a preloaded library). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_watchdog.h"

#define BN "binhnguyen"
#define PASSWORD "mat-khau-thu-nghiem"
#define TEST_LIMIT_S 120

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    char token[96];
    char *gate;
    char *entered;
    char *preload_env;
    char *gate_env;
    const char *envv[3];
} env;

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("render-off-store");
    const char *codes[] = {BN};
    ts_test_pki_make(&e->pki, e->dir, codes, 1);
    ts_test_watchdog_arm("test_render_off_store", TEST_LIMIT_S);
    ts_test_watchdog_watch(&e->d.pid);
    e->gate = ts_xasprintf("%s/gate", e->dir);
    e->entered = ts_xasprintf("%s/gate.entered", e->dir);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    ts_test_watchdog_disarm();
    unlink(e->gate);
    if (e->d.pid > 0)
        ts_test_daemon_stop(&e->d, SIGTERM, 20000);
    ts_test_daemon_free(&e->d);
    ts_test_pki_free(&e->pki);
    ts_tmpdir_remove(e->dir);
    free(e->gate);
    free(e->entered);
    free(e->preload_env);
    free(e->gate_env);
    free(e);
    return 0;
}

static void start(env *e)
{
    const char *src = getenv("TS_SOURCE_DIR");
    char *lib = ts_xasprintf("%s/build/preload/ts_gate.so", src && *src ? src : ".");
    if (access(lib, R_OK) != 0)
        fail_msg("%s is missing (make builds it with this test)", lib);
    char *bin = ts_test_release_bin("tramsyncd");
    if (access(bin, X_OK) != 0)
        fail_msg("%s is missing: this test runs the release build (make)", bin);
    e->preload_env = ts_xasprintf("LD_PRELOAD=%s", lib);
    e->gate_env = ts_xasprintf("TS_GATE=%s", e->gate);
    e->envv[0] = e->preload_env;
    e->envv[1] = e->gate_env;
    e->envv[2] = NULL;
    assert_int_equal(ts_test_add_user(e->dir, "admin1", "admin", PASSWORD), 0);
    const char *sets[] = {"admin.targets_every=0", NULL};
    ts_test_daemon_start_env(&e->d, bin, e->dir, &e->pki, sets, e->envv);
    free(bin);
    free(lib);

    char *body = ts_xasprintf("{\"username\":\"admin1\",\"password\":\"%s\"}", PASSWORD);
    ts_th_resp r;
    if (ts_th_call(e->d.admin_port, NULL, "POST", "/api/login", NULL, "application/json", body, &r) < 0)
        fail_msg("no answer to the login");
    free(body);
    assert_int_equal(r.status, 200);
    snprintf(e->token, sizeof e->token, "%s", json_string_value(json_object_get(r.json, "token")));
    ts_th_resp_free(&r);
}

/* Asks for path (a document) with the gate closed; while it is held at the
 * gate, a page that needs the store is answered; the gate opens and the
 * document arrives, starting with magic. */
static void held_document_holds_nothing(env *e, const char *path, const char *magic)
{
    FILE *f = fopen(e->gate, "w");
    assert_non_null(f);
    fclose(f);
    unlink(e->entered);

    ts_th doc;
    if (ts_th_connect(&doc, e->d.admin_port, NULL) < 0)
        fail_msg("connect: %s", doc.error);
    char *req = ts_xasprintf("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n", path,
                             e->token);
    assert_int_equal(ts_th_send_raw(&doc, req, strlen(req)), 0);
    free(req);
    bool held = false;
    for (uint64_t end = ts_test_now_ms() + 15000; !held && ts_test_now_ms() < end;) {
        held = access(e->entered, F_OK) == 0;
        if (!held)
            ts_test_sleep_ms(20);
    }
    if (!held)
        fail_msg("%s never reached the document builder", path);

    /* the document waits at the gate: the store must be free */
    ts_th other;
    if (ts_th_connect(&other, e->d.admin_port, NULL) < 0)
        fail_msg("connect: %s", other.error);
    char *hdr = ts_xasprintf("GET /api/stations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
                             e->token);
    assert_int_equal(ts_th_send_raw(&other, hdr, strlen(hdr)), 0);
    free(hdr);
    ts_th_resp r;
    if (ts_th_read(&other, &r, 5000) < 0) {
        unlink(e->gate);
        fail_msg("GET /api/stations waited while %s was being built: the store is held by a document", path);
    }
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);
    ts_th_close(&other);

    unlink(e->gate);
    if (ts_th_read(&doc, &r, 20000) < 0)
        fail_msg("%s: no answer once the gate opened", path);
    if (r.status != 200 || r.body_len < strlen(magic) || memcmp(r.body, magic, strlen(magic)) != 0)
        fail_msg("%s: status %d, %zu bytes", path, r.status, r.body_len);
    ts_th_resp_free(&r);
    ts_th_close(&doc);
}

/* Four documents asked at once - as many as libuv's pool has threads, which
 * the store's queue runs on too: they are built one at a time, so the store
 * still answers while they wait. */
static void test_documents_one_at_a_time(void **state)
{
    env *e = *state;
    start(e);
    FILE *f = fopen(e->gate, "w");
    assert_non_null(f);
    fclose(f);
    unlink(e->entered);
    static const char *const paths[] = {"/api/report/quarterly?quarter=2026-Q1", "/api/report/quarterly?quarter=2026-Q2",
                                        "/api/export?format=xlsx&quarter=2026-Q3",
                                        "/api/export?format=xlsx&quarter=2026-Q4"};
    ts_th doc[4];
    for (int i = 0; i < 4; i++) {
        if (ts_th_connect(&doc[i], e->d.admin_port, NULL) < 0)
            fail_msg("connect: %s", doc[i].error);
        char *req = ts_xasprintf("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
                                 paths[i], e->token);
        assert_int_equal(ts_th_send_raw(&doc[i], req, strlen(req)), 0);
        free(req);
    }
    bool held = false;
    for (uint64_t end = ts_test_now_ms() + 15000; !held && ts_test_now_ms() < end;) {
        held = access(e->entered, F_OK) == 0;
        if (!held)
            ts_test_sleep_ms(20);
    }
    assert_true(held);
    ts_test_sleep_ms(500); /* the others would be taking the pool's threads now */
    char hdr[160];
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", e->token);
    ts_th other;
    if (ts_th_connect(&other, e->d.admin_port, NULL) < 0)
        fail_msg("connect: %s", other.error);
    char *req = ts_xasprintf("GET /api/stations HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", hdr);
    assert_int_equal(ts_th_send_raw(&other, req, strlen(req)), 0);
    free(req);
    ts_th_resp r;
    if (ts_th_read(&other, &r, 5000) < 0) {
        unlink(e->gate);
        fail_msg("GET /api/stations waited while four documents were being built: they hold the pool");
    }
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);
    ts_th_close(&other);
    unlink(e->gate);
    for (int i = 0; i < 4; i++) {
        if (ts_th_read(&doc[i], &r, 20000) < 0)
            fail_msg("%s: no answer once the gate opened", paths[i]);
        assert_int_equal(r.status, 200);
        ts_th_resp_free(&r);
        ts_th_close(&doc[i]);
    }
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
}

static void test_documents_built_off_the_store(void **state)
{
    env *e = *state;
    start(e);
    held_document_holds_nothing(e, "/api/report/quarterly?quarter=2026-Q3", "%PDF-");
    held_document_holds_nothing(e, "/api/export?format=xlsx&quarter=2026-Q3", "PK");

    /* a notice printed as an official document */
    char hdr[160];
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", e->token);
    ts_th_resp r;
    if (ts_th_call(e->d.admin_port, NULL, "POST", "/api/records/stations/" BN, hdr, "application/json",
                   "{\"fields\":{\"name\":\"Trạm Y tế xã Bình Nguyên\",\"commune\":\"Bình Nguyên\"}}", &r) < 0)
        fail_msg("no answer to the station's record");
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);
    if (ts_th_call(e->d.admin_port, NULL, "POST", "/api/notices", hdr, "application/json",
                   "{\"notice\":{\"subject\":\"Tăng cường phòng chống sốt xuất huyết\",\"issuer\":\"TTYT\","
                   "\"urgency\":\"khan\",\"category\":\"prevention\",\"body\":\"Nội dung.\"},"
                   "\"recipients\":{\"stations\":[\"" BN "\"]}}",
                   &r) < 0)
        fail_msg("no answer to the notice");
    if (r.status != 201)
        fail_msg("POST /api/notices: %d %s", r.status, r.body);
    char path[160];
    snprintf(path, sizeof path, "/api/notices/%s/pdf", json_string_value(json_object_get(r.json, "id")));
    ts_th_resp_free(&r);
    held_document_holds_nothing(e, path, "%PDF-");
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_documents_built_off_the_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_documents_one_at_a_time, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
