/* Station agents against the real daemon: real processes, mutual TLS on
 * loopback, every wait bounded (logs, status and databases are polled).
 *
 *  1. a record put at a station reaches the district, also after the agent
 *     stored a live change; two stations editing the same district-shared
 *     record while offline converge everywhere, and the district logs each
 *     conflicting field once;
 *  2. the daemon frozen and killed (SIGKILL) in the middle of pushes from
 *     three stations (one of them asleep through it) loses nothing it
 *     acknowledged, applies nothing twice, no agent dies of it, and the
 *     agents finish by themselves once it is back on the same port;
 *  3. an agent killed (SIGKILL) mid-sync, before and after acknowledgements,
 *     loses nothing and resumes; the daemon lives through the resets;
 *  4. a station offline while 1,000 changes visible to it happen catches up
 *     in bounded time, and sees nothing it should not;
 *  5. a station restored from an old copy of its database re-keys and loses
 *     nothing it ever wrote (current value, or a logged conflict loser);
 *  6. a district starting over with a new database gets every station-owned
 *     record back from the station.
 *
 * Every test runs in its own temporary directory; the fixture's teardown
 * kills whatever a failed test left running. TS_TEST_FILTER=name runs one. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_store.h"

#define BN "binhnguyen"
#define XL "xuanlang"
#define BT "binhtuyen"

/* ---------------------------------------------------------------- fixture */

#define MAX_STATIONS 4
#define MAX_HELPERS 8

typedef struct world {
    char *dir;
    ts_test_pki pki;
    bool have_pki;
    ts_test_daemon d;
    ts_test_station st[MAX_STATIONS];
    int nst;
    pid_t helpers[MAX_HELPERS];
    bool helper_done[MAX_HELPERS];
    int helper_code[MAX_HELPERS];
    int nhelpers;
} world;

static int world_setup(void **state)
{
    *state = ts_xcalloc(1, sizeof(world));
    return 0;
}

static int world_teardown(void **state)
{
    world *w = *state;
    for (int i = 0; i < w->nhelpers; i++) {
        if (w->helpers[i] > 0 && !w->helper_done[i]) {
            kill(w->helpers[i], SIGKILL);
            waitpid(w->helpers[i], NULL, 0);
        }
    }
    for (int i = 0; i < w->nst; i++)
        ts_test_station_free(&w->st[i]);
    ts_test_daemon_free(&w->d);
    if (w->have_pki)
        ts_test_pki_free(&w->pki);
    ts_tmpdir_remove(w->dir);
    free(w);
    return 0;
}

static void world_init(world *w, const char *tag, const char *const *codes, size_t n)
{
    w->dir = ts_tmpdir_make(tag);
    ts_test_pki_make(&w->pki, w->dir, codes, n);
    w->have_pki = true;
}

/* These tests count what each station pushes exactly, record by record:
 * the agent's own status report (station_agent_status, a record of its
 * own) is off here and tested by itself (test_agent_report_settles). */
static ts_test_station *world_station(world *w, const char *code, int port)
{
    assert_true(w->nst < MAX_STATIONS);
    ts_test_station *s = &w->st[w->nst++];
    const char *sets[] = {"sync.status_every=0", NULL};
    ts_test_station_make(s, w->dir, code, &w->pki, port, sets);
    return s;
}

static char *district_db(const world *w)
{
    return ts_xasprintf("%s/district.db", w->dir);
}

/* A loopback port nobody listens on now: the daemon gets it for good, so
 * after a restart the agents find it where it was. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        fail_msg("free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

static void daemon_start(world *w, int port)
{
    char *listen = ts_xasprintf("server.listen=127.0.0.1:%d", port);
    const char *sets[] = {listen, NULL};
    ts_test_daemon_start(&w->d, w->dir, &w->pki, port ? sets : NULL);
    free(listen);
    if (port)
        assert_int_equal(w->d.port, port);
}

/* ---------------------------------------------------------------- values and district writes */

static void val_list2(ts_buf *b, const char *a, const char *c)
{
    msgpack_packer pk;
    ts_buf_packer(b, &pk);
    msgpack_pack_array(&pk, c ? 2 : 1);
    msgpack_pack_str(&pk, strlen(a));
    msgpack_pack_str_body(&pk, a, strlen(a));
    if (c) {
        msgpack_pack_str(&pk, strlen(c));
        msgpack_pack_str_body(&pk, c, strlen(c));
    }
}

static ts_store *district_open(const world *w, bool read_only)
{
    char *path = district_db(w);
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = path;
    opt.role = TS_ROLE_SERVER;
    opt.registry = ts_test_registry();
    opt.create = !read_only;
    opt.read_only = read_only;
    opt.busy_timeout_ms = 10000;
    ts_store *st = NULL;
    ts_error err;
    if (ts_store_open(&st, &opt, &err) < 0)
        fail_msg("open %s: %s", path, err.msg);
    free(path);
    return st;
}

static const ts_actor district_admin = {TS_ACTOR_ADMIN, "test-admin", NULL, "test"};

/* An outbreak created at the district for one or two stations. */
static void put_outbreak(ts_store *srv, const char *id, const char *disease, const char *s1, const char *s2,
                         const char *status)
{
    ts_buf v[3] = {TS_BUF_INIT, TS_BUF_INIT, TS_BUF_INIT};
    ts_value_str(&v[0], disease);
    val_list2(&v[1], s1, s2);
    ts_value_str(&v[2], status);
    ts_kv kv[3] = {{"disease", v[0].data, v[0].len}, {"stations", v[1].data, v[1].len}, {"status", v[2].data, v[2].len}};
    ts_error err;
    if (ts_store_put(srv, &district_admin, "outbreaks", id, NULL, kv, 3, &err) < 0)
        fail_msg("put outbreak %s: %s", id, err.msg);
    for (int i = 0; i < 3; i++)
        ts_buf_free(&v[i]);
}

static void put_text(ts_store *srv, const char *table, const char *id, const char *f1, const char *v1,
                     const char *f2, const char *v2)
{
    ts_buf a = TS_BUF_INIT, b = TS_BUF_INIT;
    ts_value_str(&a, v1);
    ts_kv kv[2] = {{f1, a.data, a.len}, {NULL, NULL, 0}};
    if (f2) {
        ts_value_str(&b, v2);
        kv[1].name = f2;
        kv[1].value = b.data;
        kv[1].len = b.len;
    }
    ts_error err;
    if (ts_store_put(srv, &district_admin, table, id, NULL, kv, f2 ? 2 : 1, &err) < 0)
        fail_msg("put %s/%s: %s", table, id, err.msg);
    ts_buf_free(&a);
    ts_buf_free(&b);
}

/* ---------------------------------------------------------------- stations */

typedef struct st_status {
    long long pending;
    long long cursor;
    long long conflicts;
    long long rejected;
    bool reachable;
    char replica[80];
    char last_error[300];
} st_status;

static bool station_status(ts_test_station *s, st_status *out)
{
    memset(out, 0, sizeof *out);
    char *txt = NULL;
    int rc = ts_test_station_cli(s, &txt, "--json", "status", NULL);
    json_error_t jerr;
    json_t *o = rc == 0 ? json_loads(txt, 0, &jerr) : NULL;
    free(txt);
    if (o == NULL)
        return false;
    out->pending = json_integer_value(json_object_get(o, "pending_changes"));
    out->cursor = json_integer_value(json_object_get(o, "cursor"));
    out->conflicts = json_integer_value(json_object_get(o, "conflicts"));
    out->rejected = json_integer_value(json_object_get(o, "rejected"));
    out->reachable = json_is_true(json_object_get(o, "server_reachable"));
    const char *r = json_string_value(json_object_get(o, "replica"));
    snprintf(out->replica, sizeof out->replica, "%s", r ? r : "");
    const char *e = json_string_value(json_object_get(o, "last_error"));
    snprintf(out->last_error, sizeof out->last_error, "%s", e ? e : "");
    json_decref(o);
    return true;
}

/* Nothing waiting to be sent, nothing refused (unless allowed) and the
 * agent connected. */
static bool wait_synced_ex(ts_test_station *s, int timeout_ms, bool allow_rejected)
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    st_status st;
    do {
        if (station_status(s, &st) && st.pending == 0 && st.reachable && (allow_rejected || st.rejected == 0))
            return true;
        ts_test_sleep_ms(150);
    } while (ts_test_now_ms() < end);
    print_error("%s not synced after %d ms: pending=%lld reachable=%d rejected=%lld last_error=\"%s\"\n", s->code,
                timeout_ms, st.pending, st.reachable, st.rejected, st.last_error);
    return false;
}

static bool wait_synced(ts_test_station *s, int timeout_ms)
{
    return wait_synced_ex(s, timeout_ms, false);
}

static void cli_ok(ts_test_station *s, ...)
{
    char *argv[24] = {NULL};
    int n = 0;
    va_list ap;
    va_start(ap, s);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 23)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    char *out = NULL;
    int rc;
    /* at most eight arguments are enough here */
    assert_true(n <= 8);
    rc = ts_test_station_cli(s, &out, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6], argv[7], NULL);
    if (rc != 0)
        fail_msg("tramsync %s %s %s at %s: exit %d: %s", argv[0], n > 1 ? argv[1] : "", n > 2 ? argv[2] : "", s->code,
                 rc, out ? out : "");
    free(out);
}

/* Waits until `tramsync get TABLE ID` shows `needle`. */
static void wait_get(ts_test_station *s, const char *table, const char *id, const char *needle, int timeout_ms)
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    char *out = NULL;
    for (;;) {
        free(out);
        out = NULL;
        int rc = ts_test_station_cli(s, &out, "get", table, id, NULL);
        if (rc == 0 && strstr(out, needle) != NULL)
            break;
        if (ts_test_now_ms() >= end)
            fail_msg("%s: %s/%s never showed \"%s\" (exit %d): %s", s->code, table, id, needle, rc, out ? out : "");
        ts_test_sleep_ms(150);
    }
    free(out);
}

/* `tramsync dump` of a station, whole. */
static char *station_dump(ts_test_station *s)
{
    char *out = NULL;
    int rc = ts_test_station_cli(s, &out, "dump", NULL);
    if (rc != 0)
        fail_msg("dump at %s: exit %d", s->code, rc);
    return out;
}

/* The lines of a canonical dump for one table (id_prefix NULL: all ids). */
static char *dump_filter(const char *dump, const char *table, const char *id_prefix)
{
    char *head = ts_xasprintf("{\"table\":\"%s\",\"id\":\"%s", table, id_prefix ? id_prefix : "");
    ts_buf b = TS_BUF_INIT;
    for (const char *line = dump; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t n = eol ? (size_t)(eol - line + 1) : strlen(line);
        if (strncmp(line, head, strlen(head)) == 0)
            ts_buf_append(&b, line, n);
        line += n;
    }
    ts_buf_append(&b, "", 1);
    free(head);
    return (char *)ts_buf_steal(&b, NULL);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The district's canonical dump (read-only; the daemon may be running). */
static char *district_dump(const world *w, const char *table, const char *id_prefix)
{
    ts_store *srv = district_open(w, true);
    ts_buf b = TS_BUF_INIT;
    ts_error err;
    if (ts_store_dump_buf(srv, &b, &err) < 0)
        fail_msg("district dump: %s", err.msg);
    ts_buf_append(&b, "", 1);
    ts_store_close(srv);
    char *all = (char *)ts_buf_steal(&b, NULL);
    char *out = dump_filter(all, table, id_prefix);
    free(all);
    return out;
}

/* Starts `tramsync -d DIR args...` in the background (stdout dropped,
 * stderr to <dir>/cli.log). */
static pid_t spawn_cli(world *w, ts_test_station *s, const char *a1, const char *a2, const char *a3, const char *a4,
                       const char *a5, const char *a6)
{
    char *bin = ts_test_bin("tramsync");
    char *log = ts_xasprintf("%s/cli.log", s->dir);
    const char *argv[] = {bin, "-d", s->dir, a1, a2, a3, a4, a5, a6, NULL};
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int nul = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 2);
        if (nul >= 0)
            dup2(nul, 1);
        setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1", 0);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    free(bin);
    free(log);
    assert_true(w->nhelpers < MAX_HELPERS);
    w->helpers[w->nhelpers++] = pid;
    return pid;
}

/* Reaps a helper when it has exited: true with its exit status. */
static bool helper_reap(world *w, pid_t pid, int *code)
{
    int i = 0;
    while (i < w->nhelpers && w->helpers[i] != pid)
        i++;
    assert_true(i < w->nhelpers);
    if (!w->helper_done[i]) {
        int status;
        if (waitpid(pid, &status, WNOHANG) != pid)
            return false;
        w->helper_done[i] = true;
        w->helper_code[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    *code = w->helper_code[i];
    return true;
}

/* Exit status of a helper (waits up to timeout_ms; -1 when still running). */
static int helper_wait(world *w, pid_t pid, int timeout_ms)
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    int code;
    while (!helper_reap(w, pid, &code)) {
        if (ts_test_now_ms() >= end)
            return -1;
        ts_test_sleep_ms(50);
    }
    return code;
}

static bool helper_running(world *w, pid_t pid)
{
    int code;
    return !helper_reap(w, pid, &code);
}

/* n residents rows, ids <prefix>-00001..., about 200 bytes each. */
static char *write_csv(const world *w, const char *name, const char *prefix, int n)
{
    char *path = ts_xasprintf("%s/%s.csv", w->dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "id,full_name,birth_date,sex,address,phone\n");
    for (int i = 1; i <= n; i++)
        fprintf(f,
                "%s-%05d,Nguyễn Thị Hồng Nhung %d,19%02d-%02d-%02d,%s,\"Thôn %d, xã %s, huyện Lục Yên, tỉnh Yên Bái; "
                "gần trạm y tế, nhà số %d\",09%08d\n",
                prefix, i, i, 30 + i % 60, 1 + i % 12, 1 + i % 28, i % 2 ? "female" : "male", 1 + i % 9, prefix, i,
                i);
    fclose(f);
    return path;
}

/* ---------------------------------------------------------------- raw SQLite */

static sqlite3 *sql_open(const char *path, bool read_only)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_URI,
                        NULL) != SQLITE_OK)
        fail_msg("open %s: %s", path, db ? sqlite3_errmsg(db) : "?");
    sqlite3_busy_timeout(db, 10000);
    return db;
}

static void sql_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        char copy[300];
        snprintf(copy, sizeof copy, "%s", msg ? msg : "?");
        sqlite3_free(msg);
        fail_msg("%s: %s", sql, copy);
    }
}

/* First column of the first row as an integer (text bound to ?1, ?2 when given). */
static long long sql_int(sqlite3 *db, const char *sql, const char *p1, const char *p2)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (p1)
        sqlite3_bind_text(q, 1, p1, -1, SQLITE_TRANSIENT);
    if (p2)
        sqlite3_bind_text(q, 2, p2, -1, SQLITE_TRANSIENT);
    long long v = -1;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    else if (rc != SQLITE_DONE)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return v;
}

/* Count in one database file, -1 when it cannot be read now. */
static long long file_count(const char *path, const char *sql, const char *p1)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *q;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
        if (p1)
            sqlite3_bind_text(q, 1, p1, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(q) == SQLITE_ROW)
            v = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    return v;
}

static long long district_residents(const world *w, const char *owner)
{
    char *db = district_db(w);
    long long n = file_count(db, "SELECT count(*) FROM records WHERE tbl = 'residents' AND owner = ?1", owner);
    free(db);
    return n;
}

/* The station's versions (residents) that the district lacks or holds
 * differently: vv and fields must be byte-identical. With acked_only, just
 * those the station counts as acknowledged (0 < lseq <= push_acked). */
static long long station_vs_district(const world *w, const ts_test_station *s, bool acked_only, long long *considered)
{
    char *ddb = district_db(w);
    sqlite3 *db = sql_open(ddb, false);
    /* the station's database read-only: its agent may be running */
    char *attach = ts_xasprintf("ATTACH DATABASE 'file:%s/station.db?mode=ro' AS s", s->dir);
    sql_exec(db, attach);
    free(attach);
    const char *where = acked_only ? " AND r.lseq > 0 AND r.lseq <= (SELECT CAST(value AS INTEGER) FROM s.meta"
                                     " WHERE key = 'push_acked')"
                                   : "";
    char *q1 = ts_xasprintf("SELECT count(*) FROM s.records r WHERE r.tbl = 'residents'%s", where);
    char *q2 = ts_xasprintf("SELECT count(*) FROM s.records r WHERE r.tbl = 'residents'%s AND NOT EXISTS"
                            " (SELECT 1 FROM main.records d WHERE d.tbl = r.tbl AND d.id = r.id AND d.owner = r.owner"
                            " AND d.vv = r.vv AND d.fields = r.fields)",
                            where);
    sql_exec(db, "BEGIN");
    *considered = sql_int(db, q1, NULL, NULL);
    long long missing = sql_int(db, q2, NULL, NULL);
    if (missing > 0) {
        /* say which, for the failure message */
        char *q3 = ts_xasprintf("SELECT r.id, r.lseq, hex(r.vv), hex(d.vv), d.owner, length(r.fields), length(d.fields)"
                                " FROM s.records r LEFT JOIN main.records d ON d.tbl = r.tbl AND d.id = r.id"
                                " WHERE r.tbl = 'residents'%s AND (d.vv IS NULL OR d.vv <> r.vv OR d.fields <> r.fields"
                                " OR d.owner <> r.owner) LIMIT 5",
                                where);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, q3, -1, &q, NULL) == SQLITE_OK) {
            while (sqlite3_step(q) == SQLITE_ROW)
                print_error("%s: %s lseq %lld vv %s, district: vv %s owner %s, fields %d/%d bytes\n", s->code,
                            (const char *)sqlite3_column_text(q, 0), (long long)sqlite3_column_int64(q, 1),
                            (const char *)sqlite3_column_text(q, 2),
                            sqlite3_column_text(q, 3) ? (const char *)sqlite3_column_text(q, 3) : "-",
                            sqlite3_column_text(q, 4) ? (const char *)sqlite3_column_text(q, 4) : "-",
                            sqlite3_column_int(q, 5), sqlite3_column_int(q, 6));
            sqlite3_finalize(q);
        }
        free(q3);
    }
    sql_exec(db, "COMMIT");
    sql_exec(db, "DETACH DATABASE s");
    sqlite3_close(db);
    free(q1);
    free(q2);
    free(ddb);
    return missing;
}

/* How many changes of `station` the district stored as new versions (not
 * recognised as duplicates), from its audit log: one row per change set
 * ("applied=A merged=M conflict=C duplicate=D ..."), or one row per change. */
static long long pushed_as_new(sqlite3 *db, const char *station)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT tbl, outcome, detail FROM audit WHERE action = 'push' AND actor = ?1", -1, &q,
                           NULL) != SQLITE_OK)
        fail_msg("audit: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(q, 1, station, -1, SQLITE_TRANSIENT);
    long long n = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *outcome = (const char *)sqlite3_column_text(q, 1);
        const char *detail = (const char *)sqlite3_column_text(q, 2);
        unsigned long long a, m, c;
        if (sqlite3_column_type(q, 0) != SQLITE_NULL)
            n += outcome != NULL && strcmp(outcome, "duplicate") != 0;
        else if (detail != NULL && sscanf(detail, "applied=%llu merged=%llu conflict=%llu", &a, &m, &c) == 3)
            n += (long long)(a + m + c);
        else
            fail_msg("unexpected audit entry for %s: %s", station, detail ? detail : "(none)");
    }
    sqlite3_finalize(q);
    return n;
}

static int log_count_all(world *w, const char *needle)
{
    int n = 0;
    for (int i = 0; i < w->nst; i++)
        n += ts_test_file_count(w->st[i].log, needle);
    return n;
}

static bool any_log_has(world *w, const char *needle)
{
    for (int i = 0; i < w->nst; i++)
        if (ts_test_file_count(w->st[i].log, needle) > 0)
            return true;
    return false;
}

/* ================================================================ 1 */

static void test_put_and_concurrent_shared_edit_converge(void **state)
{
    world *w = *state;
    const char *codes[] = {BN, XL};
    world_init(w, "agent-converge", codes, 2);

    /* the district creates the outbreak for both stations */
    ts_store *srv = district_open(w, false);
    put_outbreak(srv, "OB-2025-001", "Sốt xuất huyết Dengue", BN, XL, "detected");
    ts_store_close(srv);

    daemon_start(w, 0);
    ts_test_station *bn = world_station(w, BN, w->d.port);
    ts_test_station *xl = world_station(w, XL, w->d.port);
    ts_test_station_start(bn);
    ts_test_station_start(xl);

    /* both stations pull the outbreak */
    for (ts_test_station *s = bn; s; s = s == bn ? xl : NULL)
        wait_get(s, "outbreaks", "OB-2025-001", "Dengue", 30000);

    /* a station record reaches the district */
    cli_ok(bn, "put", "residents", "BN-0001", "full_name=Hà Văn Thắng", "birth_date=1958-07-21", "sex=male", NULL);
    assert_true(wait_synced(bn, 30000));
    assert_int_equal(district_residents(w, BN), 1);

    /* a live change from the other station reaches it, and what it writes
     * next with the CLI still reaches the district (the agent storing what it
     * pulled must not lose track of the CLI's change numbers) */
    cli_ok(xl, "put", "outbreaks", "OB-2025-001", "notes=Xuân Lãng: 2 ca nghi ngờ", NULL);
    wait_get(bn, "outbreaks", "OB-2025-001", "2 ca nghi ngờ", 30000);
    cli_ok(bn, "put", "residents", "BN-0002", "full_name=Lường Thị Xuân", "birth_date=1987-02-11", "sex=female", NULL);
    uint64_t end = ts_test_now_ms() + 30000;
    while (district_residents(w, BN) != 2 && ts_test_now_ms() < end)
        ts_test_sleep_ms(100);
    if (district_residents(w, BN) != 2) {
        st_status ss;
        station_status(bn, &ss);
        fail_msg("BN-0002 never reached the district (station pending %lld)", ss.pending);
    }
    assert_true(wait_synced(bn, 30000));
    assert_true(wait_synced(xl, 30000));

    /* offline, each edits the same fields differently */
    assert_int_equal(ts_test_station_stop(bn, 15000), 0);
    assert_int_equal(ts_test_station_stop(xl, 15000), 0);
    cli_ok(bn, "put", "outbreaks", "OB-2025-001", "cases_total=12", "notes=Bình Nguyên: 12 ca, thôn 3", "status=ongoing",
           NULL);
    cli_ok(xl, "put", "outbreaks", "OB-2025-001", "cases_total=15", "notes=Xuân Lãng: 15 ca, thôn 1 và 2", NULL);
    ts_test_station_start(bn);
    ts_test_station_start(xl);

    /* both synced and holding the same version */
    end = ts_test_now_ms() + 60000;
    char *ob_bn = NULL, *ob_xl = NULL;
    bool same = false;
    while (!same && ts_test_now_ms() < end) {
        free(ob_bn);
        free(ob_xl);
        char *d1 = station_dump(bn), *d2 = station_dump(xl);
        ob_bn = dump_filter(d1, "outbreaks", "OB-2025-001");
        ob_xl = dump_filter(d2, "outbreaks", "OB-2025-001");
        free(d1);
        free(d2);
        st_status s1, s2;
        same = strcmp(ob_bn, ob_xl) == 0 && station_status(bn, &s1) && station_status(xl, &s2) && s1.pending == 0 &&
               s2.pending == 0 && strstr(ob_bn, "\"cases_total\"") != NULL;
        if (!same)
            ts_test_sleep_ms(200);
    }
    if (!same)
        fail_msg("the stations did not converge:\n%s: %s%s: %s", BN, ob_bn, XL, ob_xl);
    assert_int_equal(count_lines(ob_bn), 1);

    assert_int_equal(ts_test_station_stop(bn, 15000), 0);
    assert_int_equal(ts_test_station_stop(xl, 15000), 0);
    assert_int_equal(ts_test_daemon_stop(&w->d, SIGTERM, 30000), 0);

    /* the district holds byte-for-byte the same version */
    char *ob_d = district_dump(w, "outbreaks", "OB-2025-001");
    if (strcmp(ob_d, ob_bn) != 0)
        fail_msg("district differs from the stations:\ndistrict: %sstations: %s", ob_d, ob_bn);

    /* one write won both fields (same HLC and replica for a put's fields) */
    bool bn_won = strstr(ob_d, "\"cases_total\":[12,") != NULL;
    bool xl_won = strstr(ob_d, "\"cases_total\":[15,") != NULL;
    assert_true(bn_won != xl_won);
    assert_non_null(strstr(ob_d, bn_won ? "Bình Nguyên: 12 ca" : "Xuân Lãng: 15 ca"));
    /* a field only one side wrote is kept */
    assert_non_null(strstr(ob_d, "\"status\":[\"ongoing\","));

    /* each conflicting field is logged once at the district, the loser being
     * the other station's value */
    srv = district_open(w, false);
    ts_conflict_row *rows = NULL;
    size_t n = 0;
    ts_error err;
    assert_int_equal(ts_store_conflicts(srv, false, "outbreaks", 0, 100, &rows, &n, &err), 0);
    int cases = 0, notes = 0, other = 0;
    for (size_t i = 0; i < n; i++) {
        print_message("conflict: %s/%s %s kept %s lost %s%s\n", rows[i].table, rows[i].record, rows[i].field,
                      rows[i].winner_json, rows[i].loser_json, rows[i].resolved ? " (resolved)" : "");
        assert_string_equal(rows[i].record, "OB-2025-001");
        if (strcmp(rows[i].field, "cases_total") == 0) {
            cases++;
            assert_string_equal(rows[i].winner_json, bn_won ? "12" : "15");
            assert_string_equal(rows[i].loser_json, bn_won ? "15" : "12");
        } else if (strcmp(rows[i].field, "notes") == 0) {
            notes++;
            assert_non_null(strstr(rows[i].loser_json, bn_won ? "Xuân Lãng" : "Bình Nguyên"));
        } else {
            /* both puts also wrote _deleted=false: same value, nothing lost */
            other++;
            assert_string_equal(rows[i].field, "_deleted");
            assert_true(rows[i].resolved);
        }
    }
    ts_conflict_rows_free(rows, n);
    assert_int_equal(cases, 1);
    assert_int_equal(notes, 1);
    assert_true(other <= 1);
    uint64_t unresolved = 0;
    assert_int_equal(ts_store_conflict_count(srv, true, &unresolved), 0);
    assert_int_equal(unresolved, 2);
    ts_store_close(srv);
    free(ob_bn);
    free(ob_xl);
    free(ob_d);
}

/* ================================================================ 2 */

#define T2_ROWS 2000

static void test_daemon_sigkill_mid_push(void **state)
{
    world *w = *state;
    const char *codes[] = {BN, XL, BT};
    world_init(w, "agent-dkill", codes, 3);
    int port = free_port();
    daemon_start(w, port);
    ts_test_station *st[3];
    pid_t imports[3];
    char *csv[3];
    for (int i = 0; i < 3; i++) {
        st[i] = world_station(w, codes[i], port);
        ts_test_station_start(st[i]);
        char prefix[16];
        snprintf(prefix, sizeof prefix, "%.2s%d", codes[i], i);
        csv[i] = write_csv(w, codes[i], prefix, T2_ROWS);
    }
    for (int i = 0; i < 3; i++)
        imports[i] = spawn_cli(w, st[i], "import", csv[i], "--table", "residents", "--chunk", "200");

    /* once a station has had a push acknowledged, freeze the daemon while
     * the next pushes pile up in its sockets, then kill it: connections are
     * reset under the agents' feet, with writes in flight. One agent sleeps
     * through it (a station PC suspended) and wakes with its sync timer due,
     * writing before it can notice */
    uint64_t end = ts_test_now_ms() + 60000;
    while (!any_log_has(w, "event=pushed") && ts_test_now_ms() < end)
        ts_test_sleep_ms(20);
    assert_true(any_log_has(w, "event=pushed"));
    uint64_t asleep = ts_test_now_ms();
    kill(st[0]->pid, SIGSTOP);
    int sent = log_count_all(w, "event=push_sent");
    kill(w->d.pid, SIGSTOP);
    end = ts_test_now_ms() + 5000;
    while (log_count_all(w, "event=push_sent") == sent && ts_test_now_ms() < end)
        ts_test_sleep_ms(20);
    ts_test_sleep_ms(300);
    ts_test_daemon_kill(&w->d);
    uint64_t killed_at = ts_test_now_ms();
    while (ts_test_now_ms() < asleep + 5500) /* [sync] interval = 5s */
        ts_test_sleep_ms(50);
    kill(st[0]->pid, SIGCONT);
    /* the agents live through it */
    ts_test_sleep_ms(700);
    for (int i = 0; i < 3; i++) {
        int status;
        if (waitpid(st[i]->pid, &status, WNOHANG) == st[i]->pid) {
            st[i]->pid = 0;
            fail_msg("the agent of %s died (%s %d) when the district's connection was reset", st[i]->code,
                     WIFSIGNALED(status) ? "signal" : "exit", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        }
    }

    /* while it is down: whatever a station counts as acknowledged is there */
    long long acked_total = 0;
    for (int i = 0; i < 3; i++) {
        long long considered = 0;
        long long missing = station_vs_district(w, st[i], true, &considered);
        print_message("%s: %lld acknowledged at the kill, %lld of them missing at the district\n", st[i]->code,
                      considered, missing);
        assert_int_equal(missing, 0);
        acked_total += considered;
    }
    assert_true(acked_total > 0);
    /* it was a kill in the middle of the pushes, not after them */
    assert_true(acked_total < 3 * T2_ROWS);

    /* back on the same port: the agents come back by themselves */
    ts_test_daemon_restart(&w->d);
    assert_int_equal(w->d.port, port);
    for (int i = 0; i < 3; i++) {
        int rc = helper_wait(w, imports[i], 120000);
        assert_int_equal(rc, 0);
    }
    end = ts_test_now_ms() + 120000;
    bool done = false;
    while (!done && ts_test_now_ms() < end) {
        done = true;
        for (int i = 0; i < 3 && done; i++)
            done = district_residents(w, codes[i]) == T2_ROWS;
        if (!done)
            ts_test_sleep_ms(250);
    }
    for (int i = 0; i < 3; i++) {
        print_message("%s: district holds %lld\n", codes[i], district_residents(w, codes[i]));
        assert_true(wait_synced(st[i], 60000));
    }
    assert_true(done);
    print_message("all %d rows at the district %.1f s after the kill\n", 3 * T2_ROWS,
                  (double)(ts_test_now_ms() - killed_at) / 1000.0);

    for (int i = 0; i < 3; i++)
        assert_int_equal(ts_test_station_stop(st[i], 15000), 0);
    assert_int_equal(ts_test_daemon_stop(&w->d, SIGTERM, 30000), 0);

    /* every version the stations hold is at the district, identical; each was
     * applied once (duplicates are recognised, not audited as pushes); every
     * sequence number is used once; nobody had to re-key */
    char *ddb = district_db(w);
    sqlite3 *db = sql_open(ddb, true);
    for (int i = 0; i < 3; i++) {
        long long considered = 0;
        assert_int_equal(station_vs_district(w, st[i], false, &considered), 0);
        assert_int_equal(considered, T2_ROWS);
        assert_int_equal(sql_int(db, "SELECT count(*) FROM records WHERE tbl = 'residents' AND owner = ?1", codes[i], NULL),
                         T2_ROWS);
        long long pushes = pushed_as_new(db, codes[i]);
        if (pushes != T2_ROWS)
            fail_msg("%s: %lld changes applied as new at the district for %d written", codes[i], pushes, T2_ROWS);
        st_status ss;
        assert_true(station_status(st[i], &ss));
        assert_int_equal(ss.pending, 0);
        /* the district's count of this replica's changes matches the station's */
        long long max_lseq = sql_int(db, "SELECT max_lseq FROM replicas WHERE replica = ?1 AND status = 'active'",
                                     ss.replica, NULL);
        assert_int_equal(max_lseq, T2_ROWS);
        assert_int_equal(ts_test_file_count(st[i]->log, "event=rekey"), 0);
    }
    assert_int_equal(sql_int(db, "SELECT count(*) - count(DISTINCT seq) FROM records", NULL, NULL), 0);
    assert_int_equal(sql_int(db, "SELECT count(*) FROM replicas WHERE status <> 'active'", NULL, NULL), 0);
    sqlite3_close(db);
    free(ddb);
    for (int i = 0; i < 3; i++)
        free(csv[i]);
}

/* ================================================================ 3 */

#define T3_ROWS 3000

static void test_agent_sigkill_mid_sync(void **state)
{
    world *w = *state;
    const char *codes[] = {BN};
    world_init(w, "agent-akill", codes, 1);
    daemon_start(w, 0);
    ts_test_station *bn = world_station(w, BN, w->d.port);
    ts_test_station_start(bn);
    char *csv = write_csv(w, "bn", "BNK", T3_ROWS);
    pid_t import = spawn_cli(w, bn, "import", csv, "--table", "residents", "--chunk", "250");

    /* kill the agent as a push leaves (before its acknowledgement), then
     * right after one was acknowledged, then as one leaves again, while more
     * is waiting; each time the daemon must shrug off the reset connection */
    static const char *const moments[] = {"event=push_sent", "event=pushed", "event=push_sent"};
    int kills = 0;
    for (int round = 0; round < 3; round++) {
        int before = ts_test_file_count(bn->log, moments[round]);
        uint64_t end = ts_test_now_ms() + 60000;
        while (ts_test_file_count(bn->log, moments[round]) == before && ts_test_now_ms() < end)
            ts_test_sleep_ms(5);
        assert_true(ts_test_file_count(bn->log, moments[round]) > before);
        ts_test_station_kill(bn);
        st_status ss;
        assert_true(station_status(bn, &ss));
        bool importing = helper_running(w, import);
        print_message("agent killed after %s with %lld pending%s\n", moments[round] + 6, ss.pending,
                      importing ? ", import still running" : "");
        if (ss.pending > 0 || importing)
            kills++;
        /* nothing acknowledged is missing */
        long long considered = 0;
        assert_int_equal(station_vs_district(w, bn, true, &considered), 0);
        ts_test_sleep_ms(300);
        int status;
        if (waitpid(w->d.pid, &status, WNOHANG) == w->d.pid) {
            w->d.pid = 0;
            fail_msg("the daemon died (%s %d) after the agent's connection was reset",
                     WIFSIGNALED(status) ? "signal" : "exit", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        }
        int sessions = ts_test_file_count(bn->log, "event=connected ");
        ts_test_station_start(bn);
        /* up again (its signal handlers too) before anything may stop it */
        for (uint64_t up = ts_test_now_ms() + 30000;
             ts_test_file_count(bn->log, "event=connected ") == sessions && ts_test_now_ms() < up;)
            ts_test_sleep_ms(10);
        if (ss.pending == 0 && !importing)
            break;
    }
    assert_true(kills >= 1); /* at least once in the middle of it */

    assert_int_equal(helper_wait(w, import, 120000), 0);
    uint64_t end = ts_test_now_ms() + 120000;
    while (district_residents(w, BN) != T3_ROWS && ts_test_now_ms() < end)
        ts_test_sleep_ms(200);
    assert_int_equal(district_residents(w, BN), T3_ROWS);
    assert_true(wait_synced(bn, 60000));
    assert_int_equal(ts_test_station_stop(bn, 15000), 0);
    assert_int_equal(ts_test_daemon_stop(&w->d, SIGTERM, 30000), 0);

    long long considered = 0;
    assert_int_equal(station_vs_district(w, bn, false, &considered), 0);
    assert_int_equal(considered, T3_ROWS);
    char *ddb = district_db(w);
    sqlite3 *db = sql_open(ddb, true);
    assert_int_equal(pushed_as_new(db, BN), T3_ROWS);
    sqlite3_close(db);
    free(ddb);
    st_status ss;
    assert_true(station_status(bn, &ss));
    assert_int_equal(ss.pending, 0);
    free(csv);
}

/* ================================================================ 4 */

static void test_offline_station_catches_up(void **state)
{
    world *w = *state;
    const char *codes[] = {BN, XL};
    world_init(w, "agent-offline", codes, 2);
    ts_store *srv = district_open(w, false);
    put_outbreak(srv, "OB-1", "Tay chân miệng", BN, XL, "detected");
    ts_store_close(srv);
    int port = free_port();
    daemon_start(w, port);
    ts_test_station *bn = world_station(w, BN, port);
    ts_test_station *xl = world_station(w, XL, port);
    ts_test_station_start(bn);
    ts_test_station_start(xl);
    uint64_t end = ts_test_now_ms() + 30000;
    while (ts_test_station_cli(xl, NULL, "get", "outbreaks", "OB-1", NULL) != 0 && ts_test_now_ms() < end)
        ts_test_sleep_ms(150);
    assert_int_equal(ts_test_station_cli(xl, NULL, "get", "outbreaks", "OB-1", NULL), 0);
    assert_true(wait_synced(xl, 30000));
    assert_int_equal(ts_test_station_stop(xl, 15000), 0);

    /* xuanlang is offline: Bình Nguyên updates the shared outbreak... */
    cli_ok(bn, "put", "outbreaks", "OB-1", "status=ongoing", "cases_total=3", NULL);
    cli_ok(bn, "put", "outbreaks", "OB-1", "cases_total=4", "last_case_on=2025-05-02", NULL);
    assert_true(wait_synced(bn, 30000));

    /* ...and the district writes 1,000 changes (the admin API does not exist
     * yet: written into its database while the daemon is stopped) */
    assert_int_equal(ts_test_daemon_stop(&w->d, SIGTERM, 30000), 0);
    srv = district_open(w, false);
    ts_error err;
    assert_int_equal(ts_store_begin(srv, &err), 0);
    int changes = 0;
    char id[64], text[128];
    for (int i = 0; i < 400; i++, changes++) { /* visible to all stations */
        snprintf(id, sizeof id, "DC-%04d", i);
        snprintf(text, sizeof text, "Paracetamol %d mg, viên nén (lô %d)", 100 + i, i);
        put_text(srv, "drug_catalog", id, "name", text, "unit", "viên");
    }
    for (int i = 0; i < 300; i++, changes++) { /* addressed to both stations */
        snprintf(id, sizeof id, "OB-X-%03d", i);
        snprintf(text, sizeof text, "Sởi, ổ dịch %d", i);
        put_outbreak(srv, id, text, XL, BN, "detected");
    }
    for (int i = 0; i < 100; i++, changes++) { /* Bình Nguyên's only: not for xuanlang */
        snprintf(id, sizeof id, "OB-B-%03d", i);
        put_outbreak(srv, id, "Cúm A", BN, NULL, "detected");
    }
    for (int i = 0; i < 80; i++, changes++) { /* updates */
        snprintf(id, sizeof id, "DC-%04d", i);
        put_text(srv, "drug_catalog", id, "strength", "500 mg", NULL, NULL);
    }
    for (int i = 0; i < 100; i++, changes++) {
        snprintf(id, sizeof id, "OB-X-%03d", i);
        put_text(srv, "outbreaks", id, "status", "ongoing", "notes", "đã khoanh vùng");
    }
    for (int i = 380; i < 400; i++, changes++) { /* deletions */
        snprintf(id, sizeof id, "DC-%04d", i);
        if (ts_store_delete(srv, &district_admin, "drug_catalog", id, &err) < 0)
            fail_msg("delete %s: %s", id, err.msg);
    }
    assert_int_equal(ts_store_commit(srv, &err), 0);
    ts_store_close(srv);
    assert_int_equal(changes, 1000);
    ts_test_daemon_restart(&w->d);
    assert_int_equal(w->d.port, port);

    /* Bình Nguyên, reconnected by itself, edits the shared outbreak again */
    cli_ok(bn, "put", "outbreaks", "OB-1", "cases_total=6", "notes=thêm 2 ca ở thôn Khe Dứa", NULL);
    assert_true(wait_synced(bn, 60000));

    /* what xuanlang should see: everything the district would give it */
    srv = district_open(w, true);
    ts_store *view = ts_test_open(w->dir, "xuanlang-view.db", TS_ROLE_STATION, XL, NULL);
    size_t visible = ts_test_pull(srv, view, XL);
    ts_buf vb = TS_BUF_INIT;
    assert_int_equal(ts_store_dump_buf(view, &vb, &err), 0);
    ts_buf_append(&vb, "", 1);
    ts_store_close(view);
    ts_store_close(srv);
    char *expected = (char *)ts_buf_steal(&vb, NULL);
    print_message("xuanlang can see %zu versions (%d records)\n", visible, count_lines(expected));
    char *part = dump_filter(expected, "drug_catalog", NULL);
    assert_int_equal(count_lines(part), 400);
    free(part);
    part = dump_filter(expected, "outbreaks", NULL);
    assert_int_equal(count_lines(part), 1 + 300);
    free(part);
    assert_null(strstr(expected, "OB-B-"));
    assert_non_null(strstr(expected, "thêm 2 ca ở thôn Khe Dứa"));

    /* back online: it catches up, in bounded time */
    uint64_t t0 = ts_test_now_ms();
    ts_test_station_start(xl);
    end = t0 + 60000;
    char *got = NULL;
    bool equal = false;
    while (!equal && ts_test_now_ms() < end) {
        free(got);
        got = station_dump(xl);
        equal = strcmp(got, expected) == 0;
        if (!equal)
            ts_test_sleep_ms(100);
    }
    uint64_t took = ts_test_now_ms() - t0;
    if (!equal)
        fail_msg("xuanlang did not catch up in 60 s: %d records, %d expected", count_lines(got), count_lines(expected));
    print_message("xuanlang caught up with %d records in %.2f s\n", count_lines(got), (double)took / 1000.0);
    assert_true(took < 20000);
    assert_true(wait_synced(xl, 30000));
    /* its cursor is the district's last sequence number */
    st_status ss;
    assert_true(station_status(xl, &ss));
    srv = district_open(w, true);
    assert_int_equal((uint64_t)ss.cursor, ts_store_last_seq(srv));
    ts_store_close(srv);
    assert_int_equal(ts_test_station_stop(xl, 15000), 0);
    assert_int_equal(ts_test_station_stop(bn, 15000), 0);
    free(got);
    free(expected);
}

/* ================================================================ 5 */

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *data = ts_read_file(from, &n);
    if (data == NULL)
        fail_msg("cannot read %s", from);
    FILE *f = fopen(to, "wb");
    if (f == NULL || fwrite(data, 1, n, f) != n || fclose(f) != 0)
        fail_msg("cannot write %s", to);
    free(data);
}

/* Copies station.db and its -wal/-shm (those present) from one directory to
 * another, removing the ones absent from the source. */
static void copy_db(const char *from_dir, const char *to_dir)
{
    static const char *const names[] = {"station.db", "station.db-wal", "station.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        char *src = ts_xasprintf("%s/%s", from_dir, names[i]), *dst = ts_xasprintf("%s/%s", to_dir, names[i]);
        if (access(src, F_OK) == 0)
            copy_file(src, dst);
        else
            unlink(dst);
        free(src);
        free(dst);
    }
}

static bool mem_has(const uint8_t *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return true;
    return false;
}

typedef struct t5_write {
    const char *id;
    const char *field;
    const char *value;
} t5_write;

static void test_restored_station_rekeys(void **state)
{
    world *w = *state;
    const char *codes[] = {BN};
    world_init(w, "agent-restore", codes, 1);
    daemon_start(w, 0);
    ts_test_station *bn = world_station(w, BN, w->d.port);
    ts_test_station_start(bn);

    static const t5_write writes[] = {
        /* before the backup */
        {"BN-A1", "full_name", "Lò Văn Hùng"},
        {"BN-A2", "full_name", "Hoàng Thị Mai"},
        {"BN-A3", "full_name", "Đặng Văn Sơn"},
        /* after the backup (lost with the restore at the station) */
        {"BN-B1", "full_name", "Vi Thị Lan"},
        {"BN-B2", "full_name", "Nông Văn Tú"},
        {"BN-A1", "address", "Thôn Nà Pồng (sau sao lưu)"},
        /* after the restore */
        {"BN-C1", "full_name", "Triệu Thị Hoa"},
        {"BN-A1", "address", "Bản Khun (sau khôi phục)"},
        {"BN-A2", "phone", "0912345678"},
    };
    char *backup = ts_xasprintf("%s/backup", w->dir);
    mkdir(backup, 0700);
    for (size_t i = 0; i < 9; i++) {
        char *f = ts_xasprintf("%s=%s", writes[i].field, writes[i].value);
        if (strcmp(writes[i].field, "full_name") == 0)
            cli_ok(bn, "put", "residents", writes[i].id, f, "birth_date=1990-01-01", "sex=female", NULL);
        else
            cli_ok(bn, "put", "residents", writes[i].id, f, NULL);
        free(f);
        if (i == 2 || i == 5) {
            assert_true(wait_synced(bn, 30000));
            assert_int_equal(ts_test_station_stop(bn, 15000), 0);
            if (i == 2) {
                copy_db(bn->dir, backup); /* the backup */
                ts_test_station_start(bn);
            } else {
                copy_db(backup, bn->dir); /* the restore, agent stopped */
            }
        }
    }
    st_status before;
    assert_true(station_status(bn, &before));
    ts_test_station_start(bn);

    /* it re-keys, under a new replica id, and syncs */
    assert_true(ts_test_log_wait(bn->log, "event=rekey", 30000));
    assert_true(ts_test_log_wait(bn->log, "event=replica_rekeyed", 30000));
    assert_true(wait_synced(bn, 60000));
    /* STATION.md's example of it says what this log says */
    ts_test_doc_log_keys("docs/STATION.md", "level=warn event=rekey station=xuanlang", bn->log, 4);
    st_status after;
    assert_true(station_status(bn, &after));
    print_message("replica %s -> %s\n", before.replica, after.replica);
    assert_string_not_equal(after.replica, before.replica);
    assert_int_equal(strncmp(after.replica, BN ".", strlen(BN) + 1), 0);

    /* and ends with the district's version of every record */
    uint64_t end = ts_test_now_ms() + 30000;
    char *mine = NULL, *theirs = NULL;
    bool same = false;
    while (!same && ts_test_now_ms() < end) {
        free(mine);
        free(theirs);
        char *all = station_dump(bn);
        mine = dump_filter(all, "residents", NULL);
        free(all);
        theirs = district_dump(w, "residents", NULL);
        same = strcmp(mine, theirs) == 0;
        if (!same)
            ts_test_sleep_ms(200);
    }
    if (!same)
        fail_msg("station and district differ:\nstation:\n%sdistrict:\n%s", mine, theirs);
    assert_int_equal(count_lines(mine), 6);
    assert_int_equal(ts_test_station_stop(bn, 15000), 0);
    assert_int_equal(ts_test_daemon_stop(&w->d, SIGTERM, 30000), 0);

    /* every value ever written there is at the district: current, or the
     * loser of a logged conflict */
    ts_store *srv = district_open(w, false);
    sqlite3 *db = ts_store_db(srv);
    for (size_t i = 0; i < 9; i++) {
        ts_arena arena;
        ts_arena_init(&arena, 4096);
        ts_change c;
        ts_error err;
        if (ts_store_get(srv, "residents", writes[i].id, &c, &arena, &err) < 0)
            fail_msg("%s missing at the district: %s", writes[i].id, err.msg);
        ts_buf v = TS_BUF_INIT;
        ts_value_str(&v, writes[i].value);
        const ts_field *f = ts_version_field(&c.v, writes[i].field);
        bool current = f != NULL && f->value_len == v.len && memcmp(f->value, v.data, v.len) == 0;
        bool lost = false;
        if (!current) {
            sqlite3_stmt *q;
            assert_int_equal(sqlite3_prepare_v2(db,
                                                "SELECT count(*) FROM conflicts WHERE tbl = 'residents' AND rec_id = ?1"
                                                " AND field = ?2 AND loser_value = ?3",
                                                -1, &q, NULL),
                             SQLITE_OK);
            sqlite3_bind_text(q, 1, writes[i].id, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 2, writes[i].field, -1, SQLITE_STATIC);
            sqlite3_bind_blob(q, 3, v.data, (int)v.len, SQLITE_STATIC);
            lost = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) > 0;
            sqlite3_finalize(q);
        }
        print_message("%s.%s = \"%s\": %s\n", writes[i].id, writes[i].field, writes[i].value,
                      current ? "current" : lost ? "logged conflict loser" : "LOST");
        if (!current && !lost)
            fail_msg("%s.%s = \"%s\" was lost", writes[i].id, writes[i].field, writes[i].value);
        ts_buf_free(&v);
        ts_version_free(&c.v);
        ts_arena_free(&arena);
    }
    /* the latest write to A1's address is the one kept */
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    ts_error err;
    assert_int_equal(ts_store_get(srv, "residents", "BN-A1", &c, &arena, &err), 0);
    const ts_field *addr = ts_version_field(&c.v, "address");
    assert_non_null(addr);
    assert_true(mem_has(addr->value, addr->value_len, "sau khôi phục"));
    ts_version_free(&c.v);
    ts_arena_free(&arena);
    /* the old replica id is retired */
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT status FROM replicas WHERE replica = ?1", -1, &q, NULL), SQLITE_OK);
    sqlite3_bind_text(q, 1, before.replica, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "retired");
    sqlite3_finalize(q);
    ts_store_close(srv);
    free(mine);
    free(theirs);
    free(backup);
}

/* ================================================================ 6 */

/* The district starts over with a new database (restored from nothing): a
 * station gives it back every record it owns. */
static void test_new_district_database_gets_repush(void **state)
{
    world *w = *state;
    const char *codes[] = {BN};
    world_init(w, "agent-newdb", codes, 1);
    int port = free_port();
    daemon_start(w, port);
    ts_test_station *bn = world_station(w, BN, port);
    ts_test_station_start(bn);
    char *csv = write_csv(w, "bn", "BNR", 300);
    cli_ok(bn, "import", csv, "--table", "residents", NULL);
    cli_ok(bn, "put", "residents", "BNR-00007", "phone=0987654321", NULL);
    assert_true(wait_synced(bn, 30000));
    uint64_t end = ts_test_now_ms() + 30000;
    while (district_residents(w, BN) != 300 && ts_test_now_ms() < end)
        ts_test_sleep_ms(100);
    assert_int_equal(district_residents(w, BN), 300);

    /* a new, empty district database on the same port */
    assert_int_equal(ts_test_daemon_stop(&w->d, SIGTERM, 30000), 0);
    static const char *const files[] = {"district.db", "district.db-wal", "district.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        char *path = ts_xasprintf("%s/%s", w->dir, files[i]);
        unlink(path);
        free(path);
    }
    ts_test_daemon_restart(&w->d);
    assert_int_equal(w->d.port, port);

    /* the agent notices by itself and re-pushes what it owns */
    assert_true(ts_test_log_wait(bn->log, "event=repush_owned", 30000));
    end = ts_test_now_ms() + 60000;
    while (district_residents(w, BN) != 300 && ts_test_now_ms() < end)
        ts_test_sleep_ms(100);
    assert_int_equal(district_residents(w, BN), 300);
    /* its copies of the old database's district records (the plan's tasks,
     * seeded again by the new one) merge with the new versions without
     * being pushed back: the district would refuse a station writing them */
    assert_true(wait_synced(bn, 30000));
    assert_int_equal(ts_test_file_count(bn->log, "event=change_rejected"), 0);
    assert_int_equal(ts_test_station_stop(bn, 15000), 0);
    assert_int_equal(ts_test_daemon_stop(&w->d, SIGTERM, 30000), 0);
    long long considered = 0;
    assert_int_equal(station_vs_district(w, bn, false, &considered), 0);
    assert_int_equal(considered, 300);
    free(csv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_and_concurrent_shared_edit_converge, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_sigkill_mid_push, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_agent_sigkill_mid_sync, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_offline_station_catches_up, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_restored_station_rekeys, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_new_district_database_gets_repush, world_setup, world_teardown),
    };
    /* TS_TEST_FILTER=test_name (wildcards allowed) runs a subset */
    if (getenv("TS_TEST_FILTER"))
        cmocka_set_test_filter(getenv("TS_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
