/* A full district disk and the admin API (issue 14, item 7), on the real
 * tramsyncd over HTTPS on 127.0.0.1, its database on a small tmpfs of the
 * test's own (tests/support/ts_test_smallfs.h) filled to the last byte:
 *
 *  - every write endpoint of the route table (walked, so a new one without a
 *    case here fails) answers 500 STORAGE, never 2xx; the daemon logs an
 *    error line and /api/health still answers; once the disk has room again
 *    nothing it would have changed has changed and no audit entry claims it
 *    happened; then the same request succeeds
 *  - no GET serves personal values whose read it could not audit
 *  - the console's event stream announces nothing that was refused
 *  - a failed login still counts for the login guard (401), so guessing is
 *    not unthrottled while the disk is full
 *
 * SQLite in WAL mode: a commit appends to the WAL, which grows until a
 * checkpoint resets it, after which small commits reuse its pages and could
 * succeed on a full disk. The daemon is restarted right before the disk is
 * filled: it checkpoints and removes the WAL when it stops, and the few
 * commits before the fill never reach the automatic checkpoint, so every
 * commit on the full disk needs new pages and fails. Each case checks that
 * its write really failed, not only what was answered. Station sync writes
 * are not in scope (pushes are made before the fill). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/ts_hlc.h"
#include "common/ts_notice.h"
#include "common/ts_version.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
#include "server/admin/ts_admin_int.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_smallfs.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_watchdog.h"

#define TEST_LIMIT_S 300
#define FS_BYTES (24u << 20)
#define PASSWORD "mat-khau-dai-2026"
#define NEWPW "mat-khau-moi-2026"
#define BN "binhnguyen"
#define MARK "Zmarker"
#define PHONE "0900000001"
#define REPORT "BN-BC1"
/* an address the login guard may block (this host, 127.0.0.1, it never does) */
#define GUESSER "127.0.0.3"

static int smallfs_rc = 1;

typedef struct env {
    char *dir;    /* the test's files, the daemon's log: a normal disk */
    char *dbdir;  /* the small tmpfs holding the district database */
    bool mounted;
    ts_test_pki pki;
    bool pki_made;
    ts_test_daemon d;
    ts_th_opts o;
    char *admin_tok, *lan_tok, *minh_tok, *ubnd_tok;
    char conflict[32];
    char notice[64];
    char cc_notice[64]; /* copied to the commune's UBND */
    char outbreak[64];
    char occurrence[160]; /* a weekly report's occurrence past due, BN missing */
    long audit_mark;
    int failures;
    bool passed;
} env;

/* ---------------------------------------------------------------- plumbing */

/* Notes a failure and goes on, so one run shows every endpoint that does
 * not hold (the test fails at its end). */
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

static ts_th_resp call(env *e, const char *source, const char *token, const char *method, const char *path,
                       const char *body)
{
    ts_th_opts o = e->o;
    o.source = source;
    char *h = token ? ts_xasprintf("Authorization: Bearer %s\r\n", token) : NULL;
    ts_th_resp r;
    if (ts_th_call(e->d.admin_port, &o, method, path, h, body ? "application/json" : NULL, body, &r) < 0)
        fail_msg("%s %s: no answer", method, path);
    free(h);
    return r;
}

static int status_of(env *e, const char *source, const char *token, const char *method, const char *path,
                     const char *body)
{
    ts_th_resp r = call(e, source, token, method, path, body);
    int s = r.status;
    ts_th_resp_free(&r);
    return s;
}

static char *login(env *e, const char *user, const char *password)
{
    char *json = ts_xasprintf("{\"username\":\"%s\",\"password\":\"%s\"}", user, password);
    ts_th_resp r = call(e, NULL, NULL, "POST", "/api/login", json);
    free(json);
    if (r.status != 200)
        fail_msg("login %s: %d %s", user, r.status, r.body);
    char *t = ts_xstrdup(json_string_value(json_object_get(r.json, "token")));
    ts_th_resp_free(&r);
    return t;
}

static long sql(const env *e, const char *query)
{
    return ts_test_sql_count(e->dbdir, "district.db", query);
}

static int log_errors(const env *e)
{
    return ts_test_file_count(e->d.log, "level=error");
}

/* Waits up to timeout_ms for more error lines than `before`. */
static bool error_logged(const env *e, int before, int timeout_ms)
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    while (log_errors(e) <= before) {
        if (ts_test_now_ms() > end)
            return false;
        ts_test_sleep_ms(20);
    }
    return true;
}

/* A change set of one record from replica `rid` of BN, as a station sends it. */
static void push(env *e, const char *rid, const char *table, const char *id, const char *const *kv)
{
    ts_tc c;
    char *cert = ts_test_pki_cert(&e->pki, BN), *key = ts_test_pki_key(&e->pki, BN);
    ts_tc_opts o = {cert, key, e->pki.ca, 0, 0};
    assert_int_equal(ts_tc_connect(&c, e->d.port, &o), 0);
    free(cert);
    free(key);
    ts_msg w;
    assert_int_equal(ts_tc_hello(&c, BN, rid, 0, NULL, 0, &w), 0);
    ts_msg_free(&w);
    ts_msg p;
    ts_msg_init(&p, TS_MSG_PUSH);
    p.u.push.batch = 1;
    ts_change *ch = ts_msg_alloc_changes(&p, &p.u.push.changes, 1);
    if (strcmp(table, "residents") == 0) {
        ts_tc_make_resident(&p, ch, id, BN, rid, 1, 1, kv[0]);
    } else {
        ch->table = table;
        ch->id = ts_msg_strdup(&p, id);
        ch->owner = ts_msg_strdup(&p, BN);
        ch->lseq = 1;
        ts_rid r;
        ts_rid_set_cstr(&r, rid);
        ts_vv_set(&ch->v.vv, &r, 1);
        ts_dot dot = {r, 1};
        uint64_t h = TS_HLC_MAKE(ts_wall_ms(), 0);
        for (size_t i = 0; kv[i]; i += 2)
            ts_tc_put_str(&ch->v, &p.arena, kv[i], kv[i + 1], &dot, h);
        ts_tc_put_bool(&ch->v, &p.arena, TS_FIELD_DELETED, false, &dot, h);
    }
    assert_int_equal(ts_tc_send(&c, &p), 0);
    ts_msg_free(&p);
    ts_msg ack;
    assert_int_equal(ts_tc_expect(&c, TS_MSG_PUSH_ACK, &ack, 10000), 1);
    assert_int_equal(ack.u.push_ack.nresults, 1);
    assert_int_not_equal(ack.u.push_ack.results[0].outcome, TS_OUTCOME_REJECTED);
    ts_msg_free(&ack);
    ts_tc_close(&c);
}

/* ---------------------------------------------------------------- the write cases */

typedef struct wcase wcase;
struct wcase {
    const char *pattern; /* the route it covers */
    const char *path;
    const char *body;
    char *const *token;  /* whose session (NULL: none) */
    int ok;              /* the answer once the disk has room */
    const char *action;  /* its audit entry */
    long (*measure)(env *e); /* what the write changes, as a number */
    long before;
};

static long m_sessions(env *e)
{
    return sql(e, "SELECT count(*) FROM admin_sessions");
}

static long m_lan_session(env *e)
{
    return status_of(e, NULL, e->lan_tok, "GET", "/api/me", NULL);
}

static long m_phone(env *e)
{
    ts_th_resp r = call(e, NULL, e->admin_tok, "GET", "/api/records/stations/" BN, NULL);
    const char *phone = json_string_value(json_object_get(json_object_get(r.json, "fields"), "phone"));
    long v = r.status * 10 + (phone && strcmp(phone, PHONE) == 0);
    ts_th_resp_free(&r);
    return v;
}

static long m_open_conflict(env *e)
{
    char q[160];
    snprintf(q, sizeof q, "SELECT count(*) FROM conflicts WHERE id = %s AND resolved_at IS NULL", e->conflict);
    return sql(e, q);
}

static long m_duties(env *e)
{
    return sql(e, "SELECT count(*) FROM records WHERE tbl = 'duties'") * 1000 +
           sql(e, "SELECT count(*) FROM records WHERE tbl = 'duty_occurrences'");
}

static long m_notices(env *e)
{
    return sql(e, "SELECT count(*) FROM records WHERE tbl = 'notices'") * 1000 +
           sql(e, "SELECT count(*) FROM records WHERE tbl = 'notice_recipients'");
}

static long m_recalled(env *e)
{
    char path[128];
    snprintf(path, sizeof path, "/api/notices/%s", e->notice);
    ts_th_resp r = call(e, NULL, e->admin_tok, "GET", path, NULL);
    long v = r.status * 10 + (json_object_get(json_object_get(r.json, "fields"), "recalled_at") != NULL);
    ts_th_resp_free(&r);
    return v;
}

static long m_assignments(env *e)
{
    return sql(e, "SELECT count(*) FROM records WHERE tbl = 'task_assignments'");
}

static long m_plans(env *e)
{
    return sql(e, "SELECT count(*) FROM plans");
}

static long m_task_na(env *e)
{
    return sql(e, "SELECT count(*) FROM plan_task_na");
}

static long m_targets_runs(env *e)
{
    return ts_test_file_count(e->d.log, "event=targets_computed");
}

static long m_report_opened(env *e)
{
    return sql(e, "SELECT count(*) FROM report_reads WHERE report = '" REPORT "'");
}

static long m_alert_acked(env *e)
{
    return sql(e, "SELECT count(*) FROM epi_alerts WHERE ack_at IS NOT NULL");
}

static long m_commune_acks(env *e)
{
    return sql(e, "SELECT count(*) FROM commune_acks");
}

static long m_outbreaks(env *e)
{
    return sql(e, "SELECT count(*) FROM records WHERE tbl = 'outbreaks'");
}

/* whether the outbreak is over, and the notices */
static long m_outbreak_ended(env *e)
{
    char path[160];
    snprintf(path, sizeof path, "/api/epidemic/outbreaks/%s", e->outbreak);
    ts_th_resp r = call(e, NULL, e->admin_tok, "GET", path, NULL);
    const char *status = json_string_value(json_object_get(json_object_get(r.json, "fields"), "status"));
    long v = (status && strcmp(status, "ended") == 0) * 1000000 + m_notices(e);
    ts_th_resp_free(&r);
    return v;
}

static long m_user_thu(env *e)
{
    return sql(e, "SELECT count(*) FROM admin_users WHERE username = 'thu'");
}

/* minh's role, and whether its session (ended by a new password) is open */
static long m_user_minh(env *e)
{
    return sql(e, "SELECT count(*) FROM admin_users WHERE username = 'minh' AND role = 'viewer'") * 1000 +
           status_of(e, NULL, e->minh_tok, "GET", "/api/me", NULL);
}

/* GUESSER is blocked (429) or may try again (401) */
static long m_guesser_blocked(env *e)
{
    return status_of(e, GUESSER, NULL, "POST", "/api/login", "{\"username\":\"lan\",\"password\":\"not-it-at-all\"}");
}

/* ---------------------------------------------------------------- setup */

static int group_setup(void **state)
{
    (void)state;
    /* before any child: the mount namespace is the whole process's */
    smallfs_rc = ts_test_smallfs_init();
    return 0;
}

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    *state = e;
    if (smallfs_rc < 0)
        return 0;
    e->dir = ts_tmpdir_make("disk-full");
    e->dbdir = ts_xasprintf("%s/db", e->dir);
    int rc = ts_test_smallfs_mount(e->dbdir, FS_BYTES);
    if (rc < 0) {
        smallfs_rc = rc;
        return 0;
    }
    e->mounted = true;
    const char *codes[] = {BN};
    ts_test_pki_make(&e->pki, e->dir, codes, 1);
    e->pki_made = true;
    e->o.ca = e->pki.ca;
    /* the accounts go straight into the database on the small disk */
    assert_int_equal(ts_test_add_user(e->dbdir, "admin", "admin", PASSWORD), 0);
    assert_int_equal(ts_test_add_user(e->dbdir, "lan", "operator", PASSWORD), 0);
    assert_int_equal(ts_test_add_user(e->dbdir, "minh", "viewer", PASSWORD), 0);
    ts_test_watchdog_arm("test_disk_full", TEST_LIMIT_S);
    ts_test_watchdog_watch(&e->d.pid);
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    ts_test_watchdog_disarm();
    if (!e->passed && e->d.log)
        ts_test_log_tail(e->d.log, 80);
    ts_test_daemon_free(&e->d);
    free(e->admin_tok);
    free(e->lan_tok);
    free(e->minh_tok);
    free(e->ubnd_tok);
    if (e->pki_made)
        ts_test_pki_free(&e->pki);
    if (e->mounted)
        ts_test_smallfs_unmount(e->dbdir);
    free(e->dbdir);
    if (e->dir)
        ts_tmpdir_remove(e->dir);
    free(e);
    return 0;
}

/* The objects the write endpoints need: a station in the directory, a
 * conflict on a personal record, a report, a notice with an attachment. */
static void make_world(env *e)
{
    e->admin_tok = login(e, "admin", PASSWORD);
    e->lan_tok = login(e, "lan", PASSWORD);
    e->minh_tok = login(e, "minh", PASSWORD);
    assert_int_equal(status_of(e, NULL, e->admin_tok, "POST", "/api/records/stations/" BN,
                               "{\"fields\":{\"name\":\"Trạm Y tế xã Bình Nguyên\",\"commune\":\"Bình Nguyên\"}}"),
                     200);
    /* two replicas of the station wrote the same resident concurrently */
    const char *a[] = {MARK " Nguyễn Thị Lan", NULL}, *b[] = {MARK " Nguyễn Thị Hoa", NULL};
    push(e, BN ".00000000000000a1", "residents", "BN-R1", a);
    push(e, BN ".00000000000000b2", "residents", "BN-R1", b);
    long conflict = sql(e, "SELECT min(id) FROM conflicts WHERE tbl = 'residents' AND resolved_at IS NULL");
    assert_true(conflict > 0);
    snprintf(e->conflict, sizeof e->conflict, "%ld", conflict);
    char now[32];
    ts_time_iso(ts_wall_ms(), now, sizeof now);
    const char *rep[] = {"kind",        "outbreak_detection", "subject", "Phát hiện ổ dịch thôn 2",
                         "reported_at", now,                  "urgency", "thuong_khan",
                         "disease",     "Sốt xuất huyết Dengue", NULL};
    push(e, BN ".00000000000000c3", "reports", REPORT, rep);
    /* the outbreak it declares raises an epidemic alert, soon after */
    for (uint64_t end = ts_test_now_ms() + 10000; sql(e, "SELECT count(*) FROM epi_alerts") < 1;) {
        if (ts_test_now_ms() > end)
            fail_msg("the declared outbreak raised no epidemic alert");
        ts_test_sleep_ms(50);
    }
    /* and the district opens it as an outbreak */
    ts_th_resp ob = call(e, NULL, e->admin_tok, "POST", "/api/epidemic/outbreaks", "{\"report\":\"" REPORT "\"}");
    assert_int_equal(ob.status, 201);
    snprintf(e->outbreak, sizeof e->outbreak, "%s", json_string_value(json_object_get(ob.json, "id")));
    ts_th_resp_free(&ob);
    /* a notice whose attachment holds personal values */
    static const char list[] = MARK " Nguyễn Văn An, thôn 2\n";
    unsigned char b64[128];
    EVP_EncodeBlock(b64, (const unsigned char *)list, (int)strlen(list));
    char *body = ts_xasprintf("{\"notice\":{\"subject\":\"Danh sách theo dõi\",\"issuer\":\"TTYT\",\"urgency\":\"khan\","
                              "\"category\":\"prevention\"},\"recipients\":{\"stations\":[\"" BN "\"]},"
                              "\"attachments\":[{\"name\":\"ds.txt\",\"mime\":\"text/plain\",\"data\":\"%s\"}]}",
                              (const char *)b64);
    ts_th_resp r = call(e, NULL, e->admin_tok, "POST", "/api/notices", body);
    free(body);
    assert_int_equal(r.status, 201);
    snprintf(e->notice, sizeof e->notice, "%s", json_string_value(json_object_get(r.json, "id")));
    ts_th_resp_free(&r);
    /* the commune's UBND officer, and a notice copied to the UBND */
    assert_int_equal(status_of(e, NULL, e->admin_tok, "POST", "/api/users",
                               "{\"username\":\"ubnd\",\"password\":\"" PASSWORD "\",\"role\":\"commune\","
                               "\"communes\":\"" BN "\"}"),
                     201);
    e->ubnd_tok = login(e, "ubnd", PASSWORD);
    r = call(e, NULL, e->admin_tok, "POST", "/api/notices",
             "{\"notice\":{\"subject\":\"Phối hợp phòng chống dịch\",\"issuer\":\"TTYT\",\"urgency\":\"khan\","
             "\"category\":\"prevention\",\"cc_commune_committee\":true},\"recipients\":{\"stations\":[\"" BN "\"]}}");
    assert_int_equal(r.status, 201);
    snprintf(e->cc_notice, sizeof e->cc_notice, "%s", json_string_value(json_object_get(r.json, "id")));
    ts_th_resp_free(&r);
    /* a weekly report due the Sunday its week ends: last week's is past due */
    assert_int_equal(status_of(e, NULL, e->admin_tok, "POST", "/api/calendar/duties",
                               "{\"id\":\"BC-TUAN\",\"fields\":{\"kind\":\"periodic_report\",\"title\":"
                               "\"Báo cáo tuần\",\"recurrence\":\"weekly\",\"due_days\":0,\"active_from\":\"2020-01-01\",\"stations\":"
                               "[\"" BN "\"]}}"),
                     201);
    r = call(e, NULL, e->admin_tok, "GET", "/api/calendar", NULL);
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(r.json, "occurrences"), i, o) {
        if (json_is_true(json_object_get(o, "due_passed")) && !e->occurrence[0])
            snprintf(e->occurrence, sizeof e->occurrence, "%s", json_string_value(json_object_get(o, "id")));
    }
    ts_th_resp_free(&r);
    assert_true(e->occurrence[0] != '\0');
}

/* The pattern of a GET route with its parameters filled in. */
static void fill_path(const env *e, const char *pattern, char *path, size_t size)
{
    path[0] = '\0';
    for (const char *p = pattern; *p;) {
        if (*p != '{') {
            strncat(path, p++, 1);
            continue;
        }
        const char *end = strchr(p, '}');
        size_t n = (size_t)(end - p - 1);
        const char *v = strncmp(p + 1, "code", n) == 0         ? BN
                        : strncmp(p + 1, "table", n) == 0      ? "residents"
                        : strncmp(p + 1, "attachment", n) == 0 ? "1"
                        : strstr(pattern, "conflicts")         ? e->conflict
                        : strstr(pattern, "records")           ? "BN-R1"
                        : strstr(pattern, "notices")           ? e->notice
                        : strstr(pattern, "tasks")             ? "KH-01"
                                                               : "1";
        strncat(path, v, size - strlen(path) - 1);
        p = end + 1;
    }
}

/* Every GET: none serves personal values it could not audit. Returns how
 * many were refused with 500 STORAGE (full) or served them (not full). */
static int personal_reads(env *e, bool full)
{
    int n = 0;
    for (size_t i = 0; i < ts_admin__nroutes; i++) {
        const ts_admin__route *rt = &ts_admin__routes[i];
        if (rt->method != HTTP_GET || strcmp(rt->pattern, "/api/events") == 0)
            continue;
        char path[512];
        fill_path(e, rt->pattern, path, sizeof path);
        ts_th_resp r = call(e, NULL, e->admin_tok, "GET", path, NULL);
        bool personal = r.body != NULL && strstr(r.body, MARK) != NULL;
        const char *code = json_string_value(json_object_get(json_object_get(r.json, "error"), "code"));
        if (full && personal)
            problem(e, "GET %s served personal values (%d) while their read could not be audited", path, r.status);
        else if (full && r.status == 500 && code && strcmp(code, "STORAGE") == 0)
            n++;
        else if (!full && personal && r.status == 200)
            n++;
        ts_th_resp_free(&r);
    }
    return n;
}

/* ---------------------------------------------------------------- the test */

static void test_admin_writes_on_full_disk(void **state)
{
    env *e = *state;
    if (smallfs_rc < 0) {
        print_message("skipped: no small filesystem for the district database (%s)\n", strerror(-smallfs_rc));
        e->passed = true;
        skip();
    }
    char *database = ts_xasprintf("server.database=%s/district.db", e->dbdir);
    const char *sets[] = {database, "admin.targets_every=0", "notices.escalate_every=0", "admin.lockout_after=3",
                          NULL};
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);
    free(database);
    make_world(e);

    char conflict_path[96], report_path[96], open_path[96], ack_path[96], end_path[160], recall_path[128];
    char commune_ack_path[128], remind_path[256];
    snprintf(remind_path, sizeof remind_path, "/api/calendar/occurrences/%s/remind", e->occurrence);
    snprintf(commune_ack_path, sizeof commune_ack_path, "/api/notices/%s/commune-ack", e->cc_notice);
    snprintf(end_path, sizeof end_path, "/api/epidemic/outbreaks/%s/end", e->outbreak);
    snprintf(recall_path, sizeof recall_path, "/api/notices/%s/recall", e->notice);
    snprintf(conflict_path, sizeof conflict_path, "/api/conflicts/%s/resolve", e->conflict);
    snprintf(report_path, sizeof report_path, "/api/reports/%s/redistribute", REPORT);
    snprintf(open_path, sizeof open_path, "/api/reports/%s/open", REPORT);
    snprintf(ack_path, sizeof ack_path, "/api/epidemic/alerts/%ld/ack", sql(e, "SELECT min(id) FROM epi_alerts"));
    wcase cases[] = {
        {"/api/login", "/api/login", "{\"username\":\"admin\",\"password\":\"" PASSWORD "\"}", NULL, 200, "login",
         m_sessions, 0},
        {"/api/logout", "/api/logout", "{}", &e->lan_tok, 200, "logout", m_lan_session, 0},
        {"/api/records/{table}/{id}", "/api/records/stations/" BN, "{\"fields\":{\"phone\":\"" PHONE "\"}}",
         &e->admin_tok, 200, "put", m_phone, 0},
        {"/api/conflicts/{id}/resolve", conflict_path, "{\"choice\":\"kept\"}", &e->admin_tok, 200,
         "resolve_conflict", m_open_conflict, 0},
        {"/api/notices", "/api/notices",
         "{\"notice\":{\"subject\":\"Họp giao ban\",\"issuer\":\"TTYT\",\"urgency\":\"khan\",\"category\":\"prevention\"},"
         "\"recipients\":{\"stations\":[\"" BN "\"]}}",
         &e->admin_tok, 201, "send_notice", m_notices, 0},
        {"/api/notices/{id}/commune-ack", commune_ack_path, "{}", &e->ubnd_tok, 200, "commune_ack", m_commune_acks, 0},
        {"/api/notices/{id}/recall", recall_path, "{\"reason\":\"Gửi nhầm danh sách\"}", &e->admin_tok, 200,
         "recall_notice", m_recalled, 0},
        {"/api/reports/{id}/redistribute", report_path, "{\"recipients\":{\"stations\":[\"" BN "\"]}}", &e->admin_tok,
         201, "redistribute_report", m_notices, 0},
        {"/api/tasks/{id}/assign", "/api/tasks/KH-01/assign", "{\"recipients\":{\"stations\":[\"" BN "\"]}}",
         &e->admin_tok, 200, "assign_task", m_assignments, 0},
        {"/api/targets/refresh", "/api/targets/refresh", "{}", &e->admin_tok, 202, "refresh_targets", m_targets_runs,
         0},
        {"/api/tasks/{id}/not-applicable", "/api/tasks/KH-08/not-applicable",
         "{\"reason\":\"Không còn cấp huyện từ 01/7/2025\"}", &e->admin_tok, 200, "task_not_applicable", m_task_na,
         0},
        {"/api/plan", "/api/plan",
         "{\"file\":\"kh.json\",\"plan\":{\"format\":\"tramsync-plan/1\",\"name\":\"Kế hoạch\",\"issuer\":"
         "\"UBND tỉnh\",\"date\":\"2025\",\"version\":7,\"targets\":[],\"tasks\":[{\"no\":1,\"text\":"
         "\"Nhiệm vụ\",\"lead\":\"Sở Y tế\",\"deadline_text\":\"Nhiệm vụ thường xuyên\"}]}}",
         &e->admin_tok, 200, "load_plan", m_plans, 0},
        {"/api/users", "/api/users", "{\"username\":\"thu\",\"password\":\"" NEWPW "\",\"role\":\"viewer\"}",
         &e->admin_tok, 201, "user", m_user_thu, 0},
        {"/api/users/{name}", "/api/users/minh", "{\"password\":\"" NEWPW "\",\"role\":\"operator\"}", &e->admin_tok,
         200, "user", m_user_minh, 0},
        {"/api/reports/{id}/open", open_path, "{}", &e->admin_tok, 200, "open_report", m_report_opened, 0},
        {"/api/epidemic/alerts/{id}/ack", ack_path, "{}", &e->admin_tok, 200, "ack_epidemic_alert", m_alert_acked, 0},
        {"/api/epidemic/outbreaks", "/api/epidemic/outbreaks", "{\"report\":\"" REPORT "\"}", &e->admin_tok, 201,
         "open_outbreak", m_outbreaks, 0},
        {"/api/epidemic/outbreaks/{id}/end", end_path, "{\"force\":true,\"reason\":\"Chẩn đoán lại\"}",
         &e->admin_tok, 200, "end_outbreak", m_outbreak_ended, 0},
        {"/api/calendar/duties", "/api/calendar/duties",
         "{\"id\":\"BC-THANG\",\"fields\":{\"kind\":\"periodic_report\",\"title\":\"Báo cáo tháng\","
         "\"recurrence\":\"monthly\",\"due_days\":5}}",
         &e->admin_tok, 201, "calendar_duty_create", m_duties, 0},
        {"/api/calendar/occurrences/{id}/remind", remind_path, "{}", &e->admin_tok, 201, "calendar_remind", m_notices,
         0},
        {"/api/login-blocks/clear", "/api/login-blocks/clear", "{\"address\":\"" GUESSER "\"}", &e->admin_tok, 200,
         "login_unblock", m_guesser_blocked, 0},
    };
    const size_t ncases = sizeof cases / sizeof *cases;

    /* every write route has its case here */
    for (size_t i = 0; i < ts_admin__nroutes; i++) {
        if (ts_admin__routes[i].method != HTTP_POST)
            continue;
        bool covered = false;
        for (size_t k = 0; k < ncases; k++)
            covered |= strcmp(cases[k].pattern, ts_admin__routes[i].pattern) == 0;
        if (!covered)
            fail_msg("POST %s has no disk-full case in this test", ts_admin__routes[i].pattern);
    }

    /* a fresh WAL (see the top), and the first targets run done, before the
     * disk fills: from then on no commit can succeed */
    long runs = m_targets_runs(e);
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    ts_test_daemon_restart(&e->d);
    uint64_t end = ts_test_now_ms() + 20000;
    while (m_targets_runs(e) <= runs && ts_test_now_ms() < end)
        ts_test_sleep_ms(50);
    assert_true(m_targets_runs(e) > runs);
    e->audit_mark = sql(e, "SELECT max(id) FROM audit");
    assert_true(e->audit_mark > 0);

    long filled = ts_test_smallfs_fill(e->dbdir);
    assert_true(filled > 0);
    print_message("the district's disk is full (%ld bytes of filler)\n", filled);

    /* a failed login still counts for the guard, with or without its audit
     * entry: GUESSER is blocked after three */
    for (int i = 0; i < 3; i++)
        if (m_guesser_blocked(e) != 401)
            problem(e, "a failed login on a full disk was not answered 401");
    if (m_guesser_blocked(e) != 429)
        problem(e, "three failed logins on a full disk did not block the address");

    /* a console listens: the change watch takes its baseline at its next
     * tick (every 2 s), and must announce nothing of what was refused */
    ts_th sse;
    assert_int_equal(ts_th_connect(&sse, e->d.admin_port, &e->o), 0);
    char *h = ts_xasprintf("GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", e->admin_tok);
    assert_int_equal(ts_th_send_raw(&sse, h, strlen(h)), 0);
    free(h);
    assert_true(ts_th_read_until(&sse, "stream open", 5000, NULL));
    ts_test_sleep_ms(2500);
    bool announced = false;

    for (size_t k = 0; k < ncases; k++) {
        wcase *c = &cases[k];
        c->before = c->measure(e);
        int errors = log_errors(e);
        ts_th_resp r = call(e, NULL, c->token ? *c->token : NULL, "POST", c->path, c->body);
        const char *code = json_string_value(json_object_get(json_object_get(r.json, "error"), "code"));
        if (r.status != 500)
            problem(e, "POST %s on a full disk: %d %s", c->path, r.status, r.body ? r.body : "");
        else if (code == NULL || strcmp(code, "STORAGE") != 0)
            problem(e, "POST %s on a full disk: %d without the code STORAGE: %s", c->path, r.status, r.body);
        if (r.body && strstr(r.body, "token") != NULL)
            problem(e, "POST %s on a full disk handed out a token", c->path);
        ts_th_resp_free(&r);
        if (!error_logged(e, errors, 3000))
            problem(e, "POST %s on a full disk logged no error line", c->path);
        if (status_of(e, NULL, NULL, "GET", "/api/health", NULL) != 200)
            problem(e, "/api/health after POST %s on a full disk", c->path);
        /* past the watch's next tick: nothing announced (what the stream
         * read stays in it, so only the first announcement is told) */
        char *events = NULL;
        if (!announced && (announced = ts_th_read_until(&sse, "event:", 2300, &events)))
            problem(e, "after POST %s on a full disk the console was told of a change: %.120s", c->path,
                    strstr(events, "event:"));
        free(events);
    }
    if (personal_reads(e, true) < 5)
        problem(e, "fewer than 5 personal reads (records, record, conflicts, conflict, attachment) were refused");
    ts_th_close(&sse);

    /* room again: nothing that was refused happened */
    ts_test_smallfs_unfill(e->dbdir);
    for (size_t k = 0; k < ncases; k++) {
        long now = cases[k].measure(e);
        if (now != cases[k].before)
            problem(e, "POST %s was refused on a full disk, yet changed something (%ld, was %ld)", cases[k].path,
                    now, cases[k].before);
        char q[256];
        snprintf(q, sizeof q, "SELECT count(*) FROM audit WHERE id > %ld AND action = '%s' AND outcome != 'failed'",
                 e->audit_mark, cases[k].action);
        if (sql(e, q) != 0)
            problem(e, "an audit entry '%s' claims POST %s happened on the full disk", cases[k].action, cases[k].path);
    }
    char q[160];
    snprintf(q, sizeof q, "SELECT count(*) FROM audit WHERE id > %ld AND action = 'read'", e->audit_mark);
    if (sql(e, q) != 0)
        problem(e, "an audit entry claims a read on the full disk");
    if (m_guesser_blocked(e) != 429)
        problem(e, "the address blocked on the full disk is no longer blocked");
    if (personal_reads(e, false) < 5)
        problem(e, "the personal reads are not served again once the disk has room");

    /* and each request now succeeds */
    for (size_t k = 0; k < ncases; k++) {
        wcase *c = &cases[k];
        long before = c->measure(e);
        ts_th_resp r = call(e, NULL, c->token ? *c->token : NULL, "POST", c->path, c->body);
        if (r.status != c->ok)
            problem(e, "POST %s with room on the disk: %d %s", c->path, r.status, r.body ? r.body : "");
        ts_th_resp_free(&r);
        /* the targets are computed after the answer */
        uint64_t until = ts_test_now_ms() + 20000;
        while (c->measure(e) == before && ts_test_now_ms() < until)
            ts_test_sleep_ms(50);
        if (c->measure(e) == before)
            problem(e, "POST %s with room on the disk changed nothing", c->path);
    }

    /* the error lines name what failed, never a record's values */
    if (ts_test_file_count(e->d.log, MARK) != 0)
        problem(e, "the log holds personal values");
    if (ts_test_file_count(e->d.log, "event=admin_internal_error") == 0)
        problem(e, "no admin_internal_error line");
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 20000), 0);
    if (e->failures)
        fail_msg("%d problem(s) on a full disk (listed above)", e->failures);
    e->passed = true;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_admin_writes_on_full_disk, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
