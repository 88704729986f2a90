/* Accounts that see less than the district (issue 18), on the real tramsyncd
 * over HTTPS, on every endpoint of the route table (walked, so a route added
 * later is covered the day it is added):
 *
 *  1. a `commune` account (the UBND officer of Bình Nguyên) never reads
 *     another commune (Bình Xuyên: its code, its station's name, a notice
 *     and a task addressed to it alone) nor any personal record, on any
 *     route, with the other commune's parameters or its own; it sees its own
 *     station, the notices and tasks addressed to it (a notice to both
 *     communes shows it only its own station's handling), and acknowledges
 *     a notice copied to the UBND - not one that was not copied, not another
 *     commune's
 *  2. a viewer limited to a commune gets the same scope, and no write
 *  3. a `monitor` reads /api/health and /metrics and nothing else: every
 *     other route is 403, and no answer carries a personal value
 *  4. a commune account needs exactly one commune; an operator is never
 *     limited to one (it would still write for the district)
 *  5. the API names the people of the directory on notices and tasks
 */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
#include "server/admin/ts_admin_int.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_watchdog.h"

#define TEST_LIMIT_S 240
#define PASSWORD "mat-khau-dai-2026"
#define BN "binhnguyen"
#define BX "binhxuyen"
#define MARK "Zmarker"   /* in personal records */
#define OTHER "Qotherx"  /* in what only the other commune may see */

typedef struct env {
    char *dir;
    ts_test_pki pki;
    bool pki_made;
    ts_test_daemon d;
    ts_th_opts o;
    char *admin, *ubnd, *xem, *prom;
    char n_other[64], n_both[64], n_cc[64], n_mine[64];
    int failures;
    bool passed;
} env;

static void problem(env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(env *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error("FAILED: %s\n", msg);
    e->failures++;
}

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("scope");
    const char *codes[] = {BN, BX};
    ts_test_pki_make(&e->pki, e->dir, codes, 2);
    e->pki_made = true;
    e->o.ca = e->pki.ca;
    assert_int_equal(ts_test_add_user(e->dir, "admin", "admin", PASSWORD), 0);
    assert_int_equal(ts_test_add_user(e->dir, "prom", "monitor", PASSWORD), 0);
    ts_test_watchdog_arm("test_scope", TEST_LIMIT_S);
    ts_test_watchdog_watch(&e->d.pid);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    ts_test_watchdog_disarm();
    if (!e->passed)
        ts_test_log_tail(e->d.log, 60);
    ts_test_daemon_free(&e->d);
    free(e->admin);
    free(e->ubnd);
    free(e->xem);
    free(e->prom);
    if (e->pki_made)
        ts_test_pki_free(&e->pki);
    ts_tmpdir_remove(e->dir);
    free(e);
    return 0;
}

static ts_th_resp call(env *e, const char *token, const char *method, const char *path, const char *body)
{
    char *h = token ? ts_xasprintf("Authorization: Bearer %s\r\n", token) : NULL;
    ts_th_resp r;
    if (ts_th_call(e->d.admin_port, &e->o, method, path, h, body ? "application/json" : NULL, body, &r) < 0)
        fail_msg("%s %s: no answer", method, path);
    free(h);
    return r;
}

static int status_of(env *e, const char *token, const char *method, const char *path, const char *body)
{
    ts_th_resp r = call(e, token, method, path, body);
    int s = r.status;
    ts_th_resp_free(&r);
    return s;
}

static char *login(env *e, const char *user)
{
    char *json = ts_xasprintf("{\"username\":\"%s\",\"password\":\"" PASSWORD "\"}", user);
    ts_th_resp r = call(e, NULL, "POST", "/api/login", json);
    free(json);
    if (r.status != 200)
        fail_msg("login %s: %d %s", user, r.status, r.body);
    char *t = ts_xstrdup(json_string_value(json_object_get(r.json, "token")));
    ts_th_resp_free(&r);
    return t;
}

static void push_resident(env *e, const char *station, const char *id, const char *name)
{
    ts_tc c;
    char *cert = ts_test_pki_cert(&e->pki, station), *key = ts_test_pki_key(&e->pki, station);
    ts_tc_opts o = {cert, key, e->pki.ca, 0, 0};
    assert_int_equal(ts_tc_connect(&c, e->d.port, &o), 0);
    free(cert);
    free(key);
    char rid[64];
    snprintf(rid, sizeof rid, "%s.00000000000000a1", station);
    ts_msg w;
    assert_int_equal(ts_tc_hello(&c, station, rid, 0, NULL, 0, &w), 0);
    ts_msg_free(&w);
    ts_msg p;
    ts_msg_init(&p, TS_MSG_PUSH);
    p.u.push.batch = 1;
    ts_change *ch = ts_msg_alloc_changes(&p, &p.u.push.changes, 1);
    ts_tc_make_resident(&p, ch, id, station, rid, 1, 1, name);
    assert_int_equal(ts_tc_send(&c, &p), 0);
    ts_msg_free(&p);
    ts_msg ack;
    assert_int_equal(ts_tc_expect(&c, TS_MSG_PUSH_ACK, &ack, 10000), 1);
    assert_int_not_equal(ack.u.push_ack.results[0].outcome, TS_OUTCOME_REJECTED);
    ts_msg_free(&ack);
    ts_tc_close(&c);
}

static void send_notice(env *e, const char *subject, const char *stations, bool cc, char *id, size_t size)
{
    char *body = ts_xasprintf("{\"notice\":{\"subject\":\"%s\",\"issuer\":\"TTYT\",\"urgency\":\"khan\","
                              "\"category\":\"prevention\",\"cc_commune_committee\":%s},"
                              "\"recipients\":{\"stations\":[%s]}}",
                              subject, cc ? "true" : "false", stations);
    ts_th_resp r = call(e, e->admin, "POST", "/api/notices", body);
    free(body);
    assert_int_equal(r.status, 201);
    snprintf(id, size, "%s", json_string_value(json_object_get(r.json, "id")));
    ts_th_resp_free(&r);
}

/* Two communes, personal records in both, notices and tasks for each. */
static void make_world(env *e)
{
    e->admin = login(e, "admin");
    assert_int_equal(status_of(e, e->admin, "POST", "/api/records/stations/" BN,
                               "{\"fields\":{\"name\":\"Trạm Y tế xã Bình Nguyên\",\"commune\":\"Bình Nguyên\","
                               "\"commune_code\":\"09001\"}}"),
                     200);
    assert_int_equal(status_of(e, e->admin, "POST", "/api/records/stations/" BX,
                               "{\"fields\":{\"name\":\"Trạm " OTHER "\",\"commune\":\"" OTHER "\","
                               "\"commune_code\":\"09002\"}}"),
                     200);
    push_resident(e, BN, "BN-R1", MARK " Nguyễn Thị Lan");
    push_resident(e, BX, "BX-R1", MARK " Trần Văn Hùng");
    send_notice(e, OTHER " riêng xã kia", "\"" BX "\"", true, e->n_other, sizeof e->n_other);
    send_notice(e, "Gửi hai xã", "\"" BN "\",\"" BX "\"", false, e->n_both, sizeof e->n_both);
    send_notice(e, "Đồng gửi UBND xã", "\"" BN "\"", true, e->n_cc, sizeof e->n_cc);
    snprintf(e->n_mine, sizeof e->n_mine, "%s", e->n_both);
    assert_int_equal(status_of(e, e->admin, "POST", "/api/tasks/KH-01/assign",
                               "{\"recipients\":{\"stations\":[\"" BX "\"]}}"),
                     200);
    assert_int_equal(status_of(e, e->admin, "POST", "/api/tasks/KH-02/assign",
                               "{\"recipients\":{\"stations\":[\"" BN "\",\"" BX "\"]}}"),
                     200);
    /* the calendar: a report every station owes, one only the other owes */
    assert_int_equal(status_of(e, e->admin, "POST", "/api/calendar/duties",
                               "{\"fields\":{\"kind\":\"periodic_report\",\"title\":\"Báo cáo tháng\","
                               "\"recurrence\":\"monthly\",\"due_days\":5}}"),
                     201);
    assert_int_equal(status_of(e, e->admin, "POST", "/api/calendar/duties",
                               "{\"fields\":{\"kind\":\"periodic_report\",\"title\":\"" OTHER " riêng\","
                               "\"recurrence\":\"quarterly\",\"due_days\":10,\"stations\":[\"" BX "\"]}}"),
                     201);
    /* the UBND officer of Bình Nguyên, by commune code; a viewer of it by
     * station code */
    assert_int_equal(status_of(e, e->admin, "POST", "/api/users",
                               "{\"username\":\"ubnd\",\"password\":\"" PASSWORD "\",\"role\":\"commune\","
                               "\"communes\":\"09001\"}"),
                     201);
    assert_int_equal(status_of(e, e->admin, "POST", "/api/users",
                               "{\"username\":\"xem\",\"password\":\"" PASSWORD "\",\"role\":\"viewer\","
                               "\"communes\":\"" BN "\"}"),
                     201);
    e->ubnd = login(e, "ubnd");
    e->xem = login(e, "xem");
    e->prom = login(e, "prom");
}

/* The pattern with its parameters filled: the other commune's (other) or
 * the account's own. */
static void fill(const env *e, const char *pattern, bool other, char *path, size_t size)
{
    path[0] = '\0';
    for (const char *p = pattern; *p;) {
        if (*p != '{') {
            strncat(path, p++, 1);
            continue;
        }
        const char *end = strchr(p, '}');
        size_t n = (size_t)(end - p - 1);
        const char *v = strncmp(p + 1, "code", n) == 0         ? (other ? BX : BN)
                        : strncmp(p + 1, "table", n) == 0      ? "residents"
                        : strncmp(p + 1, "attachment", n) == 0 ? "1"
                        : strncmp(p + 1, "name", n) == 0       ? "ubnd"
                        : strstr(pattern, "records")           ? (other ? "BX-R1" : "BN-R1")
                        : strstr(pattern, "commune-ack")       ? (other ? e->n_other : e->n_cc)
                        : strstr(pattern, "notices")           ? (other ? e->n_other : e->n_mine)
                        : strstr(pattern, "tasks")             ? (other ? "KH-01" : "KH-02")
                                                               : "1";
        strncat(path, v, size - strlen(path) - 1);
        p = end + 1;
    }
    if (strcmp(pattern, "/api/targets/history") == 0)
        strncat(path, other ? "?indicator=bhyt&station=" BX : "?indicator=bhyt&station=" BN,
                size - strlen(path) - 1);
}

/* What a scoped account (commune or limited viewer) gets on every route. */
static void walk_commune(env *e, const char *token, const char *who, bool can_ack)
{
    for (size_t i = 0; i < ts_admin__nroutes; i++) {
        const ts_admin__route *rt = &ts_admin__routes[i];
        /* the logout would end the session the walk goes on with */
        if (strcmp(rt->pattern, "/api/logout") == 0 || strcmp(rt->pattern, "/api/login") == 0)
            continue;
        bool post = rt->method == HTTP_POST;
        for (int other = 1; other >= 0; other--) {
            if (post && !other && strstr(rt->pattern, "commune-ack") == NULL)
                continue; /* the writes: once is enough (all refused) */
            char path[512];
            fill(e, rt->pattern, other, path, sizeof path);
            ts_th_resp r = call(e, token, post ? "POST" : "GET", path, post ? "{}" : NULL);
            const char *b = r.body ? r.body : "";
            if (strstr(b, MARK))
                problem(e, "%s: %s %s answered with a personal value: %.200s", who, post ? "POST" : "GET", path, b);
            if (strstr(b, OTHER) || strstr(b, BX))
                problem(e, "%s: %s %s answered with the other commune: %.300s", who, post ? "POST" : "GET", path, b);
            bool open = (rt->open & TS_ADMIN_OPEN_COMMUNE) != 0;
            if (rt->min_role > 0 && !open && r.status != 403)
                problem(e, "%s: %s %s is not open to it, yet answered %d", who, post ? "POST" : "GET", path,
                        r.status);
            if (open && !post && !other && r.status != 200 && strstr(rt->pattern, "attachments") == NULL)
                problem(e, "%s: GET %s of its own commune answered %d: %.200s", who, path, r.status, b);
            if (open && post) {
                int want = !can_ack ? 403 : other ? 404 : 200;
                if (r.status != want)
                    problem(e, "%s: POST %s answered %d, not %d: %.200s", who, path, r.status, want, b);
            }
            ts_th_resp_free(&r);
        }
    }
}

static bool lists(const json_t *arr, const char *key, const char *value)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        const char *v = json_string_value(json_object_get(o, key));
        if (v && strcmp(v, value) == 0)
            return true;
    }
    return false;
}

static void test_commune_account(void **state)
{
    env *e = *state;
    const char *sets[] = {"admin.targets_every=0", "notices.escalate_every=0", NULL};
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);
    make_world(e);
    walk_commune(e, e->ubnd, "commune", true);

    /* what it does see: its station, the notices and tasks addressed to it */
    ts_th_resp r = call(e, e->ubnd, "GET", "/api/me", NULL);
    assert_string_equal(json_string_value(json_object_get(r.json, "role")), "commune");
    assert_int_equal(json_array_size(json_object_get(r.json, "stations")), 1);
    ts_th_resp_free(&r);
    r = call(e, e->ubnd, "GET", "/api/stations", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "stations")), 1);
    assert_true(lists(json_object_get(r.json, "stations"), "code", BN));
    ts_th_resp_free(&r);
    r = call(e, e->ubnd, "GET", "/api/notices", NULL);
    json_t *ns = json_object_get(r.json, "notices");
    assert_true(lists(ns, "id", e->n_both));
    assert_true(lists(ns, "id", e->n_cc));
    assert_false(lists(ns, "id", e->n_other));
    ts_th_resp_free(&r);
    char path[160];
    snprintf(path, sizeof path, "/api/notices/%s", e->n_both);
    r = call(e, e->ubnd, "GET", path, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "recipients")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r.json, "counts"), "sent")), 1);
    ts_th_resp_free(&r);
    r = call(e, e->ubnd, "GET", "/api/tasks", NULL);
    assert_true(lists(json_object_get(r.json, "tasks"), "id", "KH-02"));
    assert_false(lists(json_object_get(r.json, "tasks"), "id", "KH-01"));
    ts_th_resp_free(&r);

    /* the acknowledgement of the notice copied to the UBND was kept (the
     * walk made it), shown on the notice; one not copied is refused */
    assert_int_equal(ts_test_sql_count(e->dir, "district.db", "SELECT count(*) FROM commune_acks"), 1);
    snprintf(path, sizeof path, "/api/notices/%s", e->n_cc);
    r = call(e, e->ubnd, "GET", path, NULL);
    assert_true(json_is_object(json_object_get(r.json, "commune_ack")));
    ts_th_resp_free(&r);
    snprintf(path, sizeof path, "/api/notices/%s/commune-ack", e->n_both);
    assert_int_equal(status_of(e, e->ubnd, "POST", path, "{}"), 409);
    /* nobody else speaks for the UBND */
    snprintf(path, sizeof path, "/api/notices/%s/commune-ack", e->n_cc);
    assert_int_equal(status_of(e, e->admin, "POST", path, "{}"), 403);

    /* the limited viewer: the same scope, no acknowledgement */
    walk_commune(e, e->xem, "limited viewer", false);
    /* an unscoped viewer of the district still sees both communes */
    if (e->failures)
        fail_msg("%d problems (above)", e->failures);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

static void test_monitor_account(void **state)
{
    env *e = *state;
    const char *sets[] = {"admin.targets_every=0", "notices.escalate_every=0", NULL};
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);
    make_world(e);
    for (size_t i = 0; i < ts_admin__nroutes; i++) {
        const ts_admin__route *rt = &ts_admin__routes[i];
        if (strcmp(rt->pattern, "/api/logout") == 0 || strcmp(rt->pattern, "/api/login") == 0)
            continue;
        bool post = rt->method == HTTP_POST;
        char path[512];
        fill(e, rt->pattern, false, path, sizeof path);
        ts_th_resp r = call(e, e->prom, post ? "POST" : "GET", path, post ? "{}" : NULL);
        const char *b = r.body ? r.body : "";
        if (strstr(b, MARK))
            problem(e, "monitor: %s %s answered with a personal value", post ? "POST" : "GET", path);
        bool open = (rt->open & TS_ADMIN_OPEN_MONITOR) != 0;
        if (rt->min_role > 0 && !open && r.status != 403)
            problem(e, "monitor: %s %s answered %d, not 403", post ? "POST" : "GET", path, r.status);
        if (open && !post && r.status != 200)
            problem(e, "monitor: GET %s answered %d", path, r.status);
        ts_th_resp_free(&r);
    }
    assert_int_equal(status_of(e, e->prom, "GET", "/metrics", NULL), 200);
    assert_int_equal(status_of(e, NULL, "GET", "/api/health", NULL), 200);
    if (e->failures)
        fail_msg("%d problems (above)", e->failures);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

static void test_scope_rules(void **state)
{
    env *e = *state;
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);
    e->admin = login(e, "admin");
    /* a commune account names exactly one commune */
    assert_int_equal(status_of(e, e->admin, "POST", "/api/users",
                               "{\"username\":\"ubnd2\",\"password\":\"" PASSWORD "\",\"role\":\"commune\"}"),
                     422);
    assert_int_equal(status_of(e, e->admin, "POST", "/api/users",
                               "{\"username\":\"ubnd2\",\"password\":\"" PASSWORD "\",\"role\":\"commune\","
                               "\"communes\":\"09001,09002\"}"),
                     422);
    /* an operator is not limited to communes */
    assert_int_equal(status_of(e, e->admin, "POST", "/api/users",
                               "{\"username\":\"op\",\"password\":\"" PASSWORD "\",\"role\":\"operator\","
                               "\"communes\":\"09001\"}"),
                     422);
    assert_int_equal(ts_test_sql_count(e->dir, "district.db",
                                       "SELECT count(*) FROM admin_users WHERE username IN ('ubnd2', 'op')"),
                     0);
    /* tramsyncctl user add NAME --role commune --commune CODE */
    pid_t pid = fork();
    if (pid == 0) {
        char *bin = ts_test_bin("tramsyncctl");
        char url[64];
        snprintf(url, sizeof url, "https://localhost:%d", e->d.admin_port);
        setenv("TRAMSYNC_ADMIN_URL", url, 1);
        setenv("TRAMSYNC_CA", e->pki.ca, 1);
        setenv("TRAMSYNC_USER", "admin", 1);
        setenv("TRAMSYNC_PASSWORD", PASSWORD, 1);
        setenv("TRAMSYNC_NEW_PASSWORD", "mat-khau-ubnd-2026", 1);
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        execl(bin, bin, "user", "add", "ubnd3", "--role", "commune", "--commune", BN, (char *)NULL);
        _exit(127);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(ts_test_sql_count(e->dir, "district.db",
                                       "SELECT count(*) FROM admin_users WHERE username = 'ubnd3' AND role = 'commune'"
                                       " AND communes = '" BN "'"),
                     1);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

/* The admin API names people of the directory: a notice's responsible
 * person given by name is kept by id and shown by name and position; a
 * task's assignment takes a responsible person, an expected result and a
 * deadline of its own per station. */
static void test_people_in_api(void **state)
{
    env *e = *state;
    ts_test_daemon_start(&e->d, e->dir, &e->pki, NULL);
    e->admin = login(e, "admin");
    assert_int_equal(status_of(e, e->admin, "POST", "/api/records/stations/" BN,
                               "{\"fields\":{\"name\":\"Trạm Y tế xã Bình Nguyên\",\"commune\":\"Bình Nguyên\"}}"),
                     200);
    assert_int_equal(status_of(e, e->admin, "POST", "/api/records/people/TTYT-KSBT-01",
                               "{\"fields\":{\"full_name\":\"Lê Thị Hoa\",\"position\":\"Trưởng khoa Kiểm soát bệnh "
                               "tật\",\"unit\":\"TTYT\",\"unit_kind\":\"ttyt\",\"roles\":[\"ttyt_department_head\"]}}"),
                     200);
    ts_th_resp r = call(e, e->admin, "POST", "/api/notices",
                        "{\"notice\":{\"subject\":\"Giám sát\",\"issuer\":\"TTYT\",\"urgency\":\"khan\","
                        "\"category\":\"prevention\",\"responsible_person\":\"Lê Thị Hoa\"},"
                        "\"recipients\":{\"stations\":[\"" BN "\"]}}");
    assert_int_equal(r.status, 201);
    char path[160];
    snprintf(path, sizeof path, "/api/notices/%s", json_string_value(json_object_get(r.json, "id")));
    ts_th_resp_free(&r);
    r = call(e, e->admin, "GET", path, NULL);
    json_t *f = json_object_get(r.json, "fields");
    assert_string_equal(json_string_value(json_object_get(f, "responsible_person")), "TTYT-KSBT-01");
    assert_string_equal(json_string_value(json_object_get(f, "responsible_person_label")),
                        "Lê Thị Hoa (Trưởng khoa Kiểm soát bệnh tật)");
    ts_th_resp_free(&r);
    /* nobody of that name: refused, nothing sent */
    assert_int_equal(status_of(e, e->admin, "POST", "/api/notices",
                               "{\"notice\":{\"subject\":\"X\",\"issuer\":\"TTYT\",\"urgency\":\"khan\","
                               "\"category\":\"prevention\",\"responsible_person\":\"Không Ai\"},"
                               "\"recipients\":{\"stations\":[\"" BN "\"]}}"),
                     422);
    assert_int_equal(status_of(e, e->admin, "POST", "/api/tasks/KH-03/assign",
                               "{\"recipients\":{\"stations\":[\"" BN "\"]},\"responsible_person\":\"TTYT-KSBT-01\","
                               "\"expected_result\":\"100% thôn có kế hoạch\","
                               "\"stations_detail\":{\"" BN "\":{\"deadline\":\"2030-06-30\"}}}"),
                     200);
    r = call(e, e->admin, "GET", "/api/tasks/KH-03", NULL);
    json_t *as = json_array_get(json_object_get(r.json, "assignments"), 0);
    assert_string_equal(json_string_value(json_object_get(as, "responsible_person_label")),
                        "Lê Thị Hoa (Trưởng khoa Kiểm soát bệnh tật)");
    assert_string_equal(json_string_value(json_object_get(as, "expected_result")), "100% thôn có kế hoạch");
    assert_string_equal(json_string_value(json_object_get(as, "deadline")), "2030-06-30");
    ts_th_resp_free(&r);
    /* someone not in the directory: a name typed, kept as written (the
     * fallback); a responsible_person not in it is still refused */
    assert_int_equal(status_of(e, e->admin, "POST", "/api/tasks/KH-04/assign",
                               "{\"recipients\":{\"stations\":[\"" BN "\"]},\"responsible_name\":\"Nguyễn Văn Khách\"}"),
                     200);
    assert_int_equal(status_of(e, e->admin, "POST", "/api/tasks/KH-04/assign",
                               "{\"recipients\":{\"stations\":[\"" BN "\"]},\"responsible_person\":\"Nguyễn Văn Khách\"}"),
                     422);
    r = call(e, e->admin, "GET", "/api/tasks/KH-04", NULL);
    as = json_array_get(json_object_get(r.json, "assignments"), 0);
    assert_string_equal(json_string_value(json_object_get(as, "responsible_person")), "Nguyễn Văn Khách");
    assert_null(json_object_get(as, "responsible_person_label"));
    ts_th_resp_free(&r);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    e->passed = true;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commune_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitor_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_people_in_api, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
