/* Operations (docs/OPERATIONS.md, issue 8): what the operations guide promises,
 * proved with the real programs (the ASan build) on 127.0.0.1.
 *
 *  1. `tramsyncctl backup` during a push storm from several stations: the copy
 *     passes verify-backup and integrity_check and holds every change whose
 *     PUSH_ACK arrived before the backup started; the storm kept going.
 *  2. `tramsyncctl restore`: the daemon serves the restored database under a
 *     new identity, a real agent sends back what it wrote after the backup, and
 *     a district change re-entered after the restore reaches the station (the
 *     test writes the district's directory on the database file itself, with
 *     the daemon stopped, as the console would through the daemon).
 *  3. Disaster recovery, district database lost: a fresh daemon (same PKI, new
 *     port) gets every station-owned record back from the stations that own it,
 *     and no station receives another's records.
 *  4. Disaster recovery, station PC lost: the station enrolled again (new key,
 *     new certificate, old one revoked) gets all its own records back from the
 *     district and syncs new writes.
 *  5. Revoke and reload: after `ca revoke` + SIGHUP a restarted agent of the
 *     revoked station is refused (kind=revoked) and its writes never arrive,
 *     while another station keeps syncing.
 *  6. `tramsyncctl status` (and --json) shows each station's certificate days left.
 *
 * Each test has its own temporary directory, daemon and agents; every wait has a
 * deadline; an alarm kills everything if a test overruns. On failure the tails
 * of the daemon's and agents' logs are printed. TS_KEEP_TMP=1 keeps the files;
 * TS_TEST_FILTER=name runs one test. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "common/ts_hlc.h"
#include "common/ts_pki.h"
#include "common/ts_store.h"
#include "common/ts_version.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_store.h"

#define TEST_LIMIT_S 110

#define BN "binhnguyen"
#define XL "xuanlang"
#define PROBE "probe"

#define MAX_ST 4
#define MAX_STORM 4

/* ---------------------------------------------------------------- fixture */

typedef struct stormer stormer;

typedef struct env {
    char *dir;
    ts_test_pki pki;
    bool pki_made;
    ts_test_daemon d;
    ts_test_station st[MAX_ST];
    int nst;
    stormer *storm;
    int nstorm;
    atomic_bool storm_stop;
    bool passed;
    char bugs[4000]; /* failures found along the way, reported at the end */
} env;

static env *volatile g_env;

static void storm_stop_all(env *e);

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_ops: a test ran past its time limit; its processes were killed\n";
    env *e = g_env;
    if (e != NULL) {
        if (e->d.pid > 0)
            kill(e->d.pid, SIGKILL);
        for (int i = 0; i < e->nst; i++)
            if (e->st[i].pid > 0)
                kill(e->st[i].pid, SIGKILL);
    }
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(99);
}

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("ops");
    atomic_init(&e->storm_stop, false);
    g_env = e;
    signal(SIGALRM, on_alarm);
    alarm(TEST_LIMIT_S);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    alarm(0);
    /* after a failure, the daemon goes first: storm clients waiting on it
     * then see their sessions end instead of waiting out their deadlines */
    if (!e->passed)
        ts_test_daemon_kill(&e->d);
    storm_stop_all(e);
    if (!e->passed) {
        ts_test_log_tail(e->d.log, 50);
        for (int i = 0; i < e->nst; i++)
            ts_test_log_tail(e->st[i].log, 25);
    }
    for (int i = 0; i < e->nst; i++)
        ts_test_station_free(&e->st[i]);
    ts_test_daemon_free(&e->d);
    if (e->pki_made)
        ts_test_pki_free(&e->pki);
    ts_tmpdir_remove(e->dir);
    g_env = NULL;
    free(e);
    return 0;
}

static void env_pki(env *e, const char *const *codes, size_t n)
{
    ts_test_pki_make(&e->pki, e->dir, codes, n);
    e->pki_made = true;
}

/* A daemon on `port` (0: chosen by the kernel) plus extra settings. */
static void env_daemon(env *e, int port, const char *extra)
{
    char *listen = ts_xasprintf("server.listen=127.0.0.1:%d", port);
    const char *sets[3] = {NULL, NULL, NULL};
    int n = 0;
    if (port)
        sets[n++] = listen;
    if (extra)
        sets[n++] = extra;
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);
    free(listen);
    if (port)
        assert_int_equal(e->d.port, port);
}

static ts_test_station *env_station(env *e, const char *code)
{
    assert_true(e->nst < MAX_ST);
    ts_test_station *s = &e->st[e->nst++];
    /* these tests count a station's records exactly: its agent's own report
     * (station_agent_status) is off here, tested in test_agent_faults */
    static const char *const no_report[] = {"sync.status_every=0", NULL};
    ts_test_station_make(s, e->dir, code, &e->pki, e->d.port, no_report);
    return s;
}

/* Records a failure without stopping the test, so that everything else it
 * checks is still checked; env_finish fails the test with all of them. */
static void bug(env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bug(env *e, const char *fmt, ...)
{
    char line[1000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    print_error("FAILED CHECK: %s\n", line);
    size_t used = strlen(e->bugs);
    snprintf(e->bugs + used, sizeof e->bugs - used, "%s- %s", used ? "\n" : "", line);
}

static void env_finish(env *e)
{
    if (e->bugs[0] != '\0')
        fail_msg("%s", e->bugs);
    e->passed = true;
}

/* A loopback port nobody listens on now, so that a restarted daemon can be
 * found by agents where it was. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        fail_msg("free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

static char *district_path(const env *e)
{
    return ts_xasprintf("%s/district.db", e->dir);
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d != NULL) {
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                    continue;
                char *sub = ts_xasprintf("%s/%s", path, de->d_name);
                rm_rf(sub);
                free(sub);
            }
            closedir(d);
        }
        if (rmdir(path) != 0)
            fail_msg("rmdir %s: %s", path, strerror(errno));
    } else if (unlink(path) != 0) {
        fail_msg("unlink %s: %s", path, strerror(errno));
    }
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---------------------------------------------------------------- programs */

/* Runs argv (argv[0] a program name under $TS_BIN_DIR) with extra
 * environment "K=V" strings; stdout and stderr into *out. Returns the exit
 * status (128+signal), or -1 when it did not finish within timeout_ms (then
 * it is killed). */
static int run_prog(env *e, const char *const *argv, const char *const *envs, char **out, int timeout_ms)
{
    char *bin = ts_test_bin(argv[0]);
    static int runs;
    char *outfile = ts_xasprintf("%s/prog.%d.out", e->dir, ++runs);
    unlink(outfile);
    const char *args[32];
    int n = 0;
    args[n++] = bin;
    for (int i = 1; argv[i] != NULL && n < 31; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        int nul = open("/dev/null", O_RDONLY); /* nothing typed: no password on standard input */
        if (nul >= 0) {
            dup2(nul, 0);
            close(nul);
        }
        for (int i = 0; envs != NULL && envs[i] != NULL; i++)
            putenv((char *)envs[i]);
        execv(bin, (char *const *)args);
        _exit(127);
    }
    int rc = -1;
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        if (ts_test_now_ms() >= end) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        ts_test_sleep_ms(10);
    }
    char *txt = ts_read_file(outfile, NULL);
    if (out != NULL)
        *out = txt ? txt : ts_xstrdup("");
    else
        free(txt);
    unlink(outfile);
    free(outfile);
    free(bin);
    return rc;
}

/* tramsyncctl with its arguments; fails the test when it does not exit 0. */
static char *ctl_ok(env *e, const char *const *argv, const char *const *envs, int timeout_ms)
{
    char *out = NULL;
    int rc = run_prog(e, argv, envs, &out, timeout_ms);
    if (rc != 0) {
        char cmd[300] = "";
        for (int i = 0; argv[i] != NULL; i++)
            snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), "%s ", argv[i]);
        char copy[3000];
        snprintf(copy, sizeof copy, "%s", out);
        free(out);
        fail_msg("%s: %s (exit %d):\n%s", cmd, rc < 0 ? "did not finish" : "failed", rc, copy);
    }
    return out;
}

/* ---------------------------------------------------------------- stations */

static void cli_put(ts_test_station *s, const char *table, const char *id, const char *f1, const char *f2,
                    const char *f3, const char *f4)
{
    char *out = NULL;
    int rc = ts_test_station_cli(s, &out, "put", table, id, f1, f2, f3, f4, NULL);
    if (rc != 0)
        fail_msg("tramsync put %s %s at %s: exit %d: %s", table, id, s->code, rc, out ? out : "");
    free(out);
}

static void cli_delete(ts_test_station *s, const char *table, const char *id)
{
    char *out = NULL;
    int rc = ts_test_station_cli(s, &out, "delete", table, id, NULL);
    if (rc != 0)
        fail_msg("tramsync delete %s %s at %s: exit %d: %s", table, id, s->code, rc, out ? out : "");
    free(out);
}

/* A resident written with the station CLI. */
static void put_resident(ts_test_station *s, const char *id, const char *name)
{
    char *f = ts_xasprintf("full_name=%s", name);
    cli_put(s, "residents", id, f, "birth_date=1968-04-12", "sex=female", NULL);
    free(f);
}

static void put_immunization(ts_test_station *s, const char *id, const char *resident, const char *vaccine)
{
    char *r = ts_xasprintf("resident_id=%s", resident), *v = ts_xasprintf("vaccine=%s", vaccine);
    cli_put(s, "immunizations", id, r, v, "date=2025-10-02", "dose=2");
    free(r);
    free(v);
}

typedef struct st_status {
    long long pending;
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
    json_t *o = rc == 0 ? json_loads(txt, 0, NULL) : NULL;
    free(txt);
    if (o == NULL)
        return false;
    out->pending = json_integer_value(json_object_get(o, "pending_changes"));
    out->rejected = json_integer_value(json_object_get(o, "rejected"));
    out->reachable = json_is_true(json_object_get(o, "server_reachable"));
    const char *r = json_string_value(json_object_get(o, "replica"));
    snprintf(out->replica, sizeof out->replica, "%s", r ? r : "");
    const char *le = json_string_value(json_object_get(o, "last_error"));
    snprintf(out->last_error, sizeof out->last_error, "%s", le ? le : "");
    json_decref(o);
    return true;
}

/* Connected, nothing waiting to be sent, nothing refused. */
static void wait_synced(ts_test_station *s, int timeout_ms)
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    st_status st;
    memset(&st, 0, sizeof st);
    for (;;) {
        if (station_status(s, &st) && st.pending == 0 && st.reachable && st.rejected == 0)
            return;
        if (ts_test_now_ms() >= end)
            fail_msg("%s not synced within %d ms: pending=%lld reachable=%d rejected=%lld last_error=\"%s\"", s->code,
                     timeout_ms, st.pending, st.reachable, st.rejected, st.last_error);
        ts_test_sleep_ms(150);
    }
}

/* Connected with nothing waiting to be sent (changes refused for good are
 * not waiting); the status in *out. */
static bool wait_settled(ts_test_station *s, int timeout_ms, st_status *out)
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        if (station_status(s, out) && out->pending == 0 && out->reachable)
            return true;
        if (ts_test_now_ms() >= end)
            return false;
        ts_test_sleep_ms(150);
    }
}

/* The first `event=change_rejected` line about `station` in a log (for a
 * failure message). */
static void first_rejection(const char *log, const char *station, char *out, size_t size)
{
    snprintf(out, size, "(none logged)");
    char *txt = ts_read_file(log, NULL);
    if (txt == NULL)
        return;
    char *needle = ts_xasprintf("station=%s ", station);
    for (char *line = txt; line && *line;) {
        char *eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        char *ev = strstr(line, "event=change_rejected");
        if (ev && strstr(line, needle)) {
            snprintf(out, size, "%s", ev);
            break;
        }
        line = eol ? eol + 1 : NULL;
    }
    free(needle);
    free(txt);
}

/* `tramsync --json list TABLE --deleted` (all of it, a few hundred at most). */
static json_t *station_list(ts_test_station *s, const char *table)
{
    char *out = NULL;
    int rc = ts_test_station_cli(s, &out, "--json", "list", table, "--deleted", "--limit", "1000", NULL);
    json_error_t jerr;
    json_t *o = rc == 0 ? json_loads(out, 0, &jerr) : NULL;
    if (o == NULL)
        fail_msg("tramsync list %s at %s: exit %d: %s", table, s->code, rc, out ? out : "");
    free(out);
    json_t *recs = json_object_get(o, "records");
    if (!json_is_array(recs))
        fail_msg("tramsync list %s at %s: no records array", table, s->code);
    json_incref(recs);
    json_decref(o);
    return recs;
}

static json_t *json_find_id(json_t *records, const char *id)
{
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) {
        const char *rid = json_string_value(json_object_get(r, "id"));
        if (rid != NULL && strcmp(rid, id) == 0)
            return r;
    }
    return NULL;
}

/* Counts lines of a log holding both needles. */
static int log_lines_with(const char *path, const char *a, const char *b)
{
    char *txt = ts_read_file(path, NULL);
    if (txt == NULL)
        return 0;
    int n = 0;
    for (char *line = txt; line && *line;) {
        char *eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        if (strstr(line, a) && (b == NULL || strstr(line, b)))
            n++;
        line = eol ? eol + 1 : NULL;
    }
    free(txt);
    return n;
}

static bool wait_log_lines_above(const char *path, const char *a, const char *b, int before, int timeout_ms)
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        if (log_lines_with(path, a, b) > before)
            return true;
        if (ts_test_now_ms() >= end)
            return false;
        ts_test_sleep_ms(50);
    }
}

/* ---------------------------------------------------------------- district database */

static ts_store *store_open_ro(const char *path)
{
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = path;
    opt.role = TS_ROLE_SERVER;
    opt.registry = ts_test_registry();
    opt.read_only = true;
    opt.busy_timeout_ms = 10000;
    ts_store *st = NULL;
    ts_error err;
    if (ts_store_open(&st, &opt, &err) < 0)
        return NULL;
    return st;
}

/* 1: the record exists with that owner and that text field value; 0: it
 * does not (or differs); *why says what was found. */
static int store_has(ts_store *st, const char *table, const char *id, const char *owner, const char *field,
                     const char *value, char *why, size_t why_size)
{
    ts_change c;
    memset(&c, 0, sizeof c);
    ts_version_init(&c.v);
    ts_arena a;
    ts_arena_init(&a, 4096);
    ts_error err;
    int found = 0;
    if (ts_store_get(st, table, id, &c, &a, &err) < 0) {
        snprintf(why, why_size, "%s/%s missing (%s)", table, id, err.msg);
    } else if (strcmp(c.owner, owner) != 0) {
        snprintf(why, why_size, "%s/%s owned by %s, not %s", table, id, c.owner, owner);
    } else {
        const ts_field *f = ts_version_field(&c.v, field);
        ts_buf want = TS_BUF_INIT;
        ts_value_str(&want, value);
        if (f == NULL)
            snprintf(why, why_size, "%s/%s has no %s", table, id, field);
        else if (f->value_len != want.len || memcmp(f->value, want.data, want.len) != 0)
            snprintf(why, why_size, "%s/%s: %s differs from \"%s\" (%u bytes)", table, id, field, value, f->value_len);
        else
            found = 1;
        ts_buf_free(&want);
    }
    ts_version_free(&c.v);
    ts_arena_free(&a);
    return found;
}

/* Whether the district database (daemon running or not) holds the record
 * with that owner and field value now. */
static bool district_has(const env *e, const char *table, const char *id, const char *owner, const char *field,
                         const char *value, char *why, size_t why_size)
{
    char *path = district_path(e);
    ts_store *st = store_open_ro(path);
    free(path);
    if (st == NULL) {
        snprintf(why, why_size, "district database not readable now");
        return false;
    }
    int rc = store_has(st, table, id, owner, field, value, why, why_size);
    ts_store_close(st);
    return rc == 1;
}

static void wait_district_has(const env *e, const char *table, const char *id, const char *owner, const char *field,
                              const char *value, int timeout_ms)
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    char why[400] = "";
    while (!district_has(e, table, id, owner, field, value, why, sizeof why)) {
        if (ts_test_now_ms() >= end)
            fail_msg("not at the district within %d ms: %s", timeout_ms, why);
        ts_test_sleep_ms(100);
    }
}

/* A district write (the station directory) made on the database itself,
 * the daemon being stopped: what the console would write. */
static void district_put_address(const env *e, const char *code, const char *address)
{
    ts_store *st = ts_test_open(e->dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    char *name = ts_xasprintf("name=Trạm Y tế xã %s", code), *commune = ts_xasprintf("commune=%s", code);
    char *addr = ts_xasprintf("address=%s", address);
    ts_error err;
    if (ts_test_put(st, "stations", code, NULL, &err, name, commune, addr, (const char *)NULL) < 0)
        fail_msg("district put stations/%s: %s", code, err.msg);
    ts_store_close(st);
    free(name);
    free(commune);
    free(addr);
}

/* Whether `tramsync get TABLE ID` at a station shows `needle` within timeout_ms. */
static bool station_get_shows(ts_test_station *s, const char *table, const char *id, const char *needle,
                              int timeout_ms, char **last)
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        free(*last);
        *last = NULL;
        int rc = ts_test_station_cli(s, last, "get", table, id, NULL);
        if (rc == 0 && strstr(*last, needle) != NULL)
            return true;
        if (ts_test_now_ms() >= end)
            return false;
        ts_test_sleep_ms(150);
    }
}

/* A count from a database file opened read-only (-1 when it cannot be read). */
static long long file_count(const char *path, const char *sql, const char *p1)
{
    sqlite3 *db = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
            if (p1)
                sqlite3_bind_text(q, 1, p1, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(q) == SQLITE_ROW)
                v = sqlite3_column_int64(q, 0);
            sqlite3_finalize(q);
        }
    }
    sqlite3_close(db);
    return v;
}

typedef struct owned_cmp {
    long long at_station;  /* records the station owns, in its own database */
    long long at_district; /* records the district has with that owner */
    long long missing;     /* station's records the district lacks or holds differently */
    char sample[400];      /* the first few of those */
} owned_cmp;

/* Compares what a station owns with the district, byte for byte (version
 * vector, fields, deleted flag). false when a database cannot be read now. */
static bool compare_owned(const env *e, const ts_test_station *s, owned_cmp *out)
{
    memset(out, 0, sizeof *out);
    char *dpath = district_path(e);
    char *uri = ts_xasprintf("file:%s?mode=ro", dpath);
    free(dpath);
    sqlite3 *db = NULL;
    bool ok = false;
    if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK)
        goto out;
    sqlite3_busy_timeout(db, 5000);
    char *attach = ts_xasprintf("ATTACH DATABASE 'file:%s/station.db?mode=ro' AS s", s->dir);
    int rc = sqlite3_exec(db, attach, NULL, NULL, NULL);
    free(attach);
    if (rc != SQLITE_OK)
        goto out;
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    static const char *const sql[3] = {
        "SELECT count(*) FROM s.records WHERE owner = ?1",
        "SELECT count(*) FROM main.records WHERE owner = ?1",
        "SELECT count(*) FROM s.records r WHERE r.owner = ?1 AND NOT EXISTS (SELECT 1 FROM main.records d"
        " WHERE d.tbl = r.tbl AND d.id = r.id AND d.owner = r.owner AND d.vv = r.vv AND d.fields = r.fields"
        " AND d.deleted = r.deleted)"};
    long long *dst[3] = {&out->at_station, &out->at_district, &out->missing};
    ok = true;
    for (int i = 0; i < 3 && ok; i++) {
        sqlite3_stmt *q;
        ok = sqlite3_prepare_v2(db, sql[i], -1, &q, NULL) == SQLITE_OK;
        if (!ok)
            break;
        sqlite3_bind_text(q, 1, s->code, -1, SQLITE_TRANSIENT);
        ok = sqlite3_step(q) == SQLITE_ROW;
        if (ok)
            *dst[i] = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    if (ok && out->missing > 0) {
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db,
                               "SELECT r.tbl || '/' || r.id || (CASE WHEN d.id IS NULL THEN ' (absent)' ELSE"
                               " ' (differs)' END) FROM s.records r LEFT JOIN main.records d ON d.tbl = r.tbl AND"
                               " d.id = r.id WHERE r.owner = ?1 AND (d.id IS NULL OR d.vv <> r.vv OR d.fields <>"
                               " r.fields OR d.deleted <> r.deleted OR d.owner <> r.owner) LIMIT 5",
                               -1, &q, NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, s->code, -1, SQLITE_TRANSIENT);
            while (sqlite3_step(q) == SQLITE_ROW)
                snprintf(out->sample + strlen(out->sample), sizeof out->sample - strlen(out->sample), "%s ",
                         (const char *)sqlite3_column_text(q, 0));
            sqlite3_finalize(q);
        }
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
out:
    sqlite3_close(db);
    free(uri);
    return ok;
}

/* Waits until the district has exactly what the station owns. */
static bool wait_owned_back(const env *e, const ts_test_station *s, long long expect, int timeout_ms, owned_cmp *cmp)
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        if (compare_owned(e, s, cmp) && cmp->at_station == expect && cmp->at_district == expect && cmp->missing == 0)
            return true;
        if (ts_test_now_ms() >= end)
            return false;
        ts_test_sleep_ms(150);
    }
}

/* ---------------------------------------------------------------- raw protocol */

static uint64_t hlc_now(void)
{
    return TS_HLC_MAKE(ts_wall_ms(), 0);
}

static void put_str(ts_version *v, ts_arena *a, const char *name, const char *s, const ts_dot *dot, uint64_t hlc)
{
    ts_buf b = TS_BUF_INIT;
    ts_value_str(&b, s);
    ts_version_put(v, a, name, b.data, b.len, dot, hlc);
    ts_buf_free(&b);
}

static void put_bool(ts_version *v, ts_arena *a, const char *name, bool x, const ts_dot *dot, uint64_t hlc)
{
    ts_buf b = TS_BUF_INIT;
    ts_value_bool(&b, x);
    ts_version_put(v, a, name, b.data, b.len, dot, hlc);
    ts_buf_free(&b);
}

/* A whole new resident written once at replica `rid` as its change `counter`. */
static void make_resident(ts_msg *m, ts_change *ch, const char *id, const char *owner, const char *rid,
                          uint64_t counter, const char *name)
{
    ch->table = "residents";
    ch->id = ts_msg_strdup(m, id);
    ch->owner = ts_msg_strdup(m, owner);
    ch->lseq = counter;
    ts_rid r;
    ts_rid_set_cstr(&r, rid);
    ts_vv_set(&ch->v.vv, &r, counter);
    ts_dot dot = {r, counter};
    uint64_t h = hlc_now();
    put_str(&ch->v, &m->arena, "full_name", name, &dot, h);
    put_str(&ch->v, &m->arena, "birth_date", "1975-09-02", &dot, h);
    put_str(&ch->v, &m->arena, "sex", "male", &dot, h);
    put_bool(&ch->v, &m->arena, TS_FIELD_DELETED, false, &dot, h);
}

/* TLS + HELLO as `code` (certificate from the test PKI). 0 and the WELCOME
 * in *welcome (caller frees), or -1 with why in c->error. */
static int tc_hello(env *e, ts_tc *c, const char *code, const char *replica, uint64_t lseq, bool live, ts_msg *welcome)
{
    char *cert = ts_test_pki_cert(&e->pki, code), *key = ts_test_pki_key(&e->pki, code);
    ts_tc_opts o = {cert, key, e->pki.ca, 0, 0};
    int rc = ts_tc_connect(c, e->d.port, &o);
    free(cert);
    free(key);
    if (rc < 0)
        return -1;
    ts_msg m;
    ts_msg_init(&m, TS_MSG_HELLO);
    ts_msg_hello *h = &m.u.hello;
    h->proto_min = TS_PROTO_VERSION_MIN;
    h->proto_max = TS_PROTO_VERSION_MAX;
    h->agent = "tramsync-test/" TS_VERSION;
    h->replica = replica;
    h->station = code;
    h->server_db = "";
    h->lseq = lseq;
    h->time = ts_wall_ms();
    h->live = live;
    rc = ts_tc_send(c, &m);
    ts_msg_free(&m);
    if (rc < 0)
        return -1;
    if (ts_tc_recv(c, welcome, 10000) != 1) {
        snprintf(c->error + strlen(c->error), sizeof c->error - strlen(c->error), " (no answer to HELLO)");
        return -1;
    }
    if (welcome->type != TS_MSG_WELCOME) {
        snprintf(c->error, sizeof c->error, "HELLO answered by %s %s", ts_msg_type_name(welcome->type),
                 welcome->type == TS_MSG_ERROR ? welcome->u.error.message : "");
        ts_msg_free(welcome);
        return -1;
    }
    return 0;
}

/* The district database id a station is told in WELCOME (a throwaway probe
 * station, so no agent's session is replaced). */
static void probe_server_db(env *e, const char *replica, char *out, size_t size, char *server, size_t server_size)
{
    ts_tc c;
    ts_msg w;
    if (tc_hello(e, &c, PROBE, replica, 0, false, &w) < 0)
        fail_msg("probe HELLO: %s", c.error);
    snprintf(out, size, "%s", w.u.welcome.server_db ? w.u.welcome.server_db : "");
    snprintf(server, server_size, "%s", w.u.welcome.server ? w.u.welcome.server : "");
    ts_msg_free(&w);
    ts_tc_close(&c);
    assert_true(out[0] != '\0');
}

/* ================================================================ 1. backup during a push storm */

typedef struct acked_change {
    char id[48];
    char name[80];
    uint64_t ack_ms; /* when its PUSH_ACK arrived (monotonic) */
} acked_change;

struct stormer {
    env *e;
    pthread_t th;
    bool started;
    char code[32];
    char rid[48];
    acked_change *acked;
    size_t nacked, cap;
    atomic_ulong batches;
    atomic_ullong last_ack_ms;
    atomic_bool failed;
    char error[600];
};

#define STORM_BATCH 20u
#define STORM_MAX_CHANGES 200000u

static void *storm_run(void *arg)
{
    stormer *s = arg;
    ts_tc c;
    ts_msg w;
    memset(&c, 0, sizeof c);
    if (tc_hello(s->e, &c, s->code, s->rid, 0, false, &w) < 0) {
        snprintf(s->error, sizeof s->error, "%s: HELLO: %s", s->code, c.error);
        atomic_store(&s->failed, true);
        ts_tc_close(&c);
        return NULL;
    }
    uint32_t per = STORM_BATCH;
    if (w.u.welcome.max_changes > 0 && w.u.welcome.max_changes < per)
        per = (uint32_t)w.u.welcome.max_changes;
    ts_msg_free(&w);
    uint64_t counter = 0;
    for (uint64_t batch = 1; !atomic_load(&s->e->storm_stop) && s->nacked + per <= STORM_MAX_CHANGES; batch++) {
        ts_msg p;
        ts_msg_init(&p, TS_MSG_PUSH);
        p.u.push.batch = batch;
        ts_change *ch = ts_msg_alloc_changes(&p, &p.u.push.changes, per);
        if (s->nacked + per > s->cap) {
            s->cap = (s->cap + per) * 2;
            s->acked = ts_xreallocarray(s->acked, s->cap, sizeof *s->acked);
        }
        for (uint32_t k = 0; k < per; k++) {
            acked_change *a = &s->acked[s->nacked + k];
            snprintf(a->id, sizeof a->id, "%s-b%" PRIu64 "-%u", s->code, batch, k);
            snprintf(a->name, sizeof a->name, "Bão %s lô %" PRIu64 " số %u", s->code, batch, k);
            make_resident(&p, &ch[k], a->id, s->code, s->rid, ++counter, a->name);
        }
        int rc = ts_tc_send(&c, &p);
        ts_msg_free(&p);
        if (rc < 0) {
            snprintf(s->error, sizeof s->error, "%s: send batch %" PRIu64 ": %s", s->code, batch, c.error);
            break;
        }
        /* the PUSH_ACK, skipping anything else the district sends meanwhile */
        uint64_t end = ts_test_now_ms() + 15000;
        ts_msg ack;
        bool got = false;
        while (!got) {
            uint64_t t = ts_test_now_ms();
            if (t >= end) {
                snprintf(s->error, sizeof s->error, "%s: no PUSH_ACK for batch %" PRIu64 " within 15 s", s->code,
                         batch);
                break;
            }
            rc = ts_tc_recv(&c, &ack, (int)(end - t));
            if (rc < 0) {
                snprintf(s->error, sizeof s->error, "%s: session ended waiting for PUSH_ACK %" PRIu64 ": %s",
                         s->code, batch, c.error);
                break;
            }
            if (rc == 0)
                continue;
            if (ack.type == TS_MSG_PUSH_ACK) {
                got = true;
                break;
            }
            if (ack.type == TS_MSG_ERROR) {
                snprintf(s->error, sizeof s->error, "%s: ERROR for batch %" PRIu64 ": %s", s->code, batch,
                         ack.u.error.message);
                ts_msg_free(&ack);
                break;
            }
            ts_msg_free(&ack);
        }
        if (!got)
            break;
        uint64_t t_ack = ts_test_now_ms();
        bool good = ack.u.push_ack.batch == batch && ack.u.push_ack.code == 0 && ack.u.push_ack.nresults == per;
        for (uint32_t k = 0; good && k < per; k++)
            good = ack.u.push_ack.results[k].outcome == TS_OUTCOME_APPLIED;
        if (!good) {
            snprintf(s->error, sizeof s->error, "%s: batch %" PRIu64 " not applied whole (ack batch %" PRIu64
                     " code %" PRIu64 " results %u): %s",
                     s->code, batch, ack.u.push_ack.batch, (uint64_t)ack.u.push_ack.code, ack.u.push_ack.nresults,
                     ack.u.push_ack.message ? ack.u.push_ack.message : "");
            ts_msg_free(&ack);
            break;
        }
        ts_msg_free(&ack);
        for (uint32_t k = 0; k < per; k++)
            s->acked[s->nacked + k].ack_ms = t_ack;
        s->nacked += per;
        atomic_store(&s->last_ack_ms, t_ack);
        atomic_fetch_add(&s->batches, 1);
    }
    if (s->error[0] != '\0')
        atomic_store(&s->failed, true);
    ts_tc_close(&c);
    return NULL;
}

static void storm_stop_all(env *e)
{
    atomic_store(&e->storm_stop, true);
    for (int i = 0; i < e->nstorm; i++)
        if (e->storm[i].started) {
            pthread_join(e->storm[i].th, NULL);
            e->storm[i].started = false;
        }
    for (int i = 0; i < e->nstorm; i++)
        free(e->storm[i].acked);
    free(e->storm);
    e->storm = NULL;
    e->nstorm = 0;
}

static void storm_check_alive(env *e)
{
    for (int i = 0; i < e->nstorm; i++)
        if (atomic_load(&e->storm[i].failed)) {
            char why[700];
            snprintf(why, sizeof why, "%s", e->storm[i].error);
            fail_msg("storm client failed: %s", why);
        }
}

static void test_backup_during_push_storm(void **state)
{
    env *e = *state;
    const char *codes[MAX_STORM] = {"storm1", "storm2", "storm3", "storm4"};
    env_pki(e, codes, MAX_STORM);
    env_daemon(e, 0, NULL);

    e->storm = ts_xcalloc(MAX_STORM, sizeof *e->storm);
    for (int i = 0; i < MAX_STORM; i++) {
        stormer *s = &e->storm[i];
        s->e = e;
        snprintf(s->code, sizeof s->code, "%s", codes[i]);
        snprintf(s->rid, sizeof s->rid, "%s.00000000000000a%d", codes[i], i + 1);
        atomic_init(&s->batches, 0);
        atomic_init(&s->last_ack_ms, 0);
        atomic_init(&s->failed, false);
        e->nstorm++;
        if (pthread_create(&s->th, NULL, storm_run, s) != 0)
            fail_msg("pthread_create");
        s->started = true;
    }
    /* the storm is on: every client has had a few batches acknowledged */
    uint64_t end = ts_test_now_ms() + 30000;
    for (int i = 0; i < MAX_STORM; i++) {
        while (atomic_load(&e->storm[i].batches) < 5) {
            storm_check_alive(e);
            if (ts_test_now_ms() >= end)
                fail_msg("%s: fewer than 5 batches acknowledged within 30 s", codes[i]);
            ts_test_sleep_ms(10);
        }
    }

    char *db = district_path(e);
    char *backup = ts_xasprintf("%s/backup-during-storm.db", e->dir);
    const char *argv[] = {"tramsyncctl", "backup", backup, "--database", db, NULL};
    uint64_t t_backup = ts_test_now_ms();
    char *out = NULL;
    int rc = run_prog(e, argv, NULL, &out, 60000);
    uint64_t t_done = ts_test_now_ms();
    if (rc != 0)
        bug(e, "tramsyncctl backup during the storm: exit %d: %s", rc, out);
    free(out);
    bool have_backup = file_exists(backup);
    if (!have_backup)
        bug(e, "no backup file %s", backup);
    if (have_backup) {
        /* one self-contained file (checked before anything opens it): no
         * sidecar files, and its header says rollback journal, not WAL */
        char *wal = ts_xasprintf("%s-wal", backup), *partial = ts_xasprintf("%s.partial", backup);
        if (file_exists(wal))
            bug(e, "the backup left %s beside it", wal);
        if (file_exists(partial))
            bug(e, "the backup left %s behind", partial);
        size_t hlen = 0;
        char *head = ts_read_file(backup, &hlen);
        if (head == NULL || hlen < 100)
            bug(e, "the backup file is missing or too short (%zu bytes)", hlen);
        else if (head[18] != 1 || head[19] != 1)
            bug(e, "the backup's header says journal format %d/%d (2 = WAL): it is not a self-contained file",
                head[18], head[19]);
        free(head);
        free(wal);
        free(partial);
    }

    /* the storm outlives the backup: each client gets acknowledgements after it */
    end = ts_test_now_ms() + 30000;
    for (int i = 0; i < MAX_STORM; i++) {
        while (atomic_load(&e->storm[i].last_ack_ms) <= t_done) {
            storm_check_alive(e);
            if (ts_test_now_ms() >= end)
                fail_msg("%s: no PUSH_ACK within 30 s after the backup finished (the storm stalled)", codes[i]);
            ts_test_sleep_ms(10);
        }
    }
    atomic_store(&e->storm_stop, true);
    for (int i = 0; i < MAX_STORM; i++) {
        pthread_join(e->storm[i].th, NULL);
        e->storm[i].started = false;
    }
    storm_check_alive(e);

    size_t before = 0, during = 0, after = 0, total = 0;
    for (int i = 0; i < MAX_STORM; i++) {
        const stormer *s = &e->storm[i];
        size_t b = 0, a = 0;
        for (size_t k = 0; k < s->nacked; k++) {
            if (s->acked[k].ack_ms < t_backup)
                b++;
            else if (s->acked[k].ack_ms > t_done)
                a++;
            else
                during++;
        }
        if (b == 0 || a == 0)
            bug(e, "%s: %zu changes acknowledged before the backup and %zu after: the storm was not running across it",
                s->code, b, a);
        before += b;
        after += a;
        total += s->nacked;
    }
    print_message("storm: %zu changes acknowledged, %zu before the backup, %zu while it ran (%" PRIu64
                  " ms), %zu after\n",
                  total, before, during, t_done - t_backup, after);

    if (have_backup) {
        /* verify-backup says it is usable */
        const char *vargv[] = {"tramsyncctl", "--lang", "vi", "verify-backup", backup, NULL};
        out = NULL;
        int vrc = run_prog(e, vargv, NULL, &out, 30000);
        if (vrc != 0 || strstr(out, "bản sao lưu của huyện dùng được") == NULL)
            bug(e, "verify-backup: exit %d: %s", vrc, out);
        free(out);
        const char *jargv[] = {"tramsyncctl", "--json", "verify-backup", backup, NULL};
        out = NULL;
        vrc = run_prog(e, jargv, NULL, &out, 30000);
        json_t *j = vrc == 0 ? json_loads(out, 0, NULL) : NULL;
        if (j == NULL || !json_is_true(json_object_get(j, "ok")) ||
            json_integer_value(json_object_get(j, "records")) < (json_int_t)before)
            bug(e, "verify-backup --json: exit %d: %s", vrc, out);
        json_decref(j);
        free(out);

        /* integrity_check on the file itself, read-only */
        sqlite3 *bdb = NULL;
        if (sqlite3_open_v2(backup, &bdb, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
            bug(e, "cannot open the backup read-only: %s", bdb ? sqlite3_errmsg(bdb) : "?");
        } else {
            sqlite3_stmt *q;
            char integrity[300] = "(no row)";
            if (sqlite3_prepare_v2(bdb, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK) {
                if (sqlite3_step(q) == SQLITE_ROW)
                    snprintf(integrity, sizeof integrity, "%s", (const char *)sqlite3_column_text(q, 0));
                sqlite3_finalize(q);
            }
            if (strcmp(integrity, "ok") != 0)
                bug(e, "integrity_check of the backup: %s", integrity);
        }
        sqlite3_close(bdb);

        /* every change acknowledged before the backup started is in it */
        ts_store *bst = store_open_ro(backup);
        if (bst == NULL) {
            bug(e, "cannot open the backup as a district store");
        } else {
            size_t missing = 0, checked = 0;
            char sample[600] = "";
            for (int i = 0; i < MAX_STORM; i++) {
                const stormer *s = &e->storm[i];
                for (size_t k = 0; k < s->nacked; k++) {
                    if (s->acked[k].ack_ms >= t_backup)
                        continue;
                    checked++;
                    char why[300];
                    if (store_has(bst, "residents", s->acked[k].id, s->code, "full_name", s->acked[k].name, why,
                                  sizeof why) != 1) {
                        if (missing++ < 3)
                            snprintf(sample + strlen(sample), sizeof sample - strlen(sample), "%s; ", why);
                    }
                }
            }
            ts_store_close(bst);
            if (missing > 0)
                bug(e, "%zu of %zu changes acknowledged before the backup started are not in it: %s", missing,
                    checked, sample);
            else
                print_message("backup: all %zu changes acknowledged before it started are in it\n", checked);
        }
    }

    /* what is not a district backup is refused, and a backup never overwrites */
    if (have_backup) {
        char *junk = ts_xasprintf("%s/not-a-backup.db", e->dir);
        FILE *f = fopen(junk, "w");
        assert_non_null(f);
        fputs("SQLite format 3\nthis is not a database at all, just a file with a plausible start\n", f);
        fclose(f);
        const char *jv[] = {"tramsyncctl", "verify-backup", junk, NULL};
        out = NULL;
        int jrc = run_prog(e, jv, NULL, &out, 30000);
        if (jrc == 0)
            bug(e, "verify-backup accepted a file that is not a database: %s", out);
        free(out);
        const char *again[] = {"tramsyncctl", "backup", backup, "--database", db, NULL};
        size_t len_before = 0, len_after = 0;
        char *before_bytes = ts_read_file(backup, &len_before);
        out = NULL;
        int arc = run_prog(e, again, NULL, &out, 30000);
        char *after_bytes = ts_read_file(backup, &len_after);
        if (arc == 0 || len_before != len_after || memcmp(before_bytes, after_bytes, len_after) != 0)
            bug(e, "backup over an existing file: exit %d (the file %s): %s", arc,
                len_before == len_after && memcmp(before_bytes, after_bytes, len_after) == 0 ? "unchanged" : "changed",
                out);
        free(out);
        free(before_bytes);
        free(after_bytes);
        free(junk);
    }

    /* the daemon took the storm and the backup in its stride */
    int st = ts_test_daemon_stop(&e->d, SIGTERM, 30000);
    if (st != 0)
        bug(e, "tramsyncd exit status %d after the storm", st);
    free(backup);
    free(db);
    env_finish(e);
}

/* ================================================================ 2. restore */

static void test_restore_new_identity_and_repush(void **state)
{
    env *e = *state;
    const char *codes[] = {BN, PROBE};
    env_pki(e, codes, 2);
    int port = free_port();
    /* the district's directory entry for the station, before anything */
    district_put_address(e, BN, "Thôn Bản Mới, xã Bình Nguyên");
    env_daemon(e, port, NULL);
    ts_test_station *bn = env_station(e, BN);
    ts_test_station_start(bn);
    char *got = NULL;
    if (!station_get_shows(bn, "stations", BN, "Bản Mới", 20000, &got))
        fail_msg("the station never got its directory entry: %s", got ? got : "");

    /* before the backup */
    put_resident(bn, "BN-R1", "Hà Thị Mai");
    put_resident(bn, "BN-R2", "Lò Văn Pảo");
    put_immunization(bn, "BN-TC1", "BN-R1", "Viêm gan B");
    wait_synced(bn, 20000);
    wait_district_has(e, "residents", "BN-R2", BN, "full_name", "Lò Văn Pảo", 10000);
    char db_before[64], replica_before[80];
    probe_server_db(e, "probe.00000000000000e1", db_before, sizeof db_before, replica_before, sizeof replica_before);

    char *db = district_path(e);
    char *backup = ts_xasprintf("%s/district-backup.db", e->dir);
    const char *bargv[] = {"tramsyncctl", "backup", backup, "--database", db, NULL};
    free(ctl_ok(e, bargv, NULL, 60000));
    char *out = NULL;
    int rc;

    /* after the backup: new records, and a change to an old one */
    put_resident(bn, "BN-R3", "Sầm Thị Hoa");
    put_resident(bn, "BN-R4", "Vàng A Sử");
    put_resident(bn, "BN-R1", "Hà Thị Mai (đã sửa)");
    put_immunization(bn, "BN-TC2", "BN-R3", "Sởi");
    wait_synced(bn, 20000);
    wait_district_has(e, "residents", "BN-R4", BN, "full_name", "Vàng A Sử", 10000);
    wait_district_has(e, "residents", "BN-R1", BN, "full_name", "Hà Thị Mai (đã sửa)", 10000);
    /* and the district changes the directory after the backup too (the
     * daemon stopped for a moment: the test writes the file itself) */
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 30000), 0);
    district_put_address(e, BN, "Thôn Nà Lầu, xã Bình Nguyên");
    ts_test_daemon_restart(&e->d);
    assert_int_equal(e->d.port, port);
    if (!station_get_shows(bn, "stations", BN, "Nà Lầu", 20000, &got))
        fail_msg("the station never got the directory change made after the backup: %s", got ? got : "");

    /* stop, restore, start */
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 30000), 0);
    /* refused: without --force over an existing database, and from a file
     * that is not a district backup (a station's database); nothing changes */
    size_t len0 = 0, len1 = 0;
    char *bytes0 = ts_read_file(db, &len0);
    const char *noforce[] = {"tramsyncctl", "restore", backup, "--database", db, NULL};
    out = NULL;
    rc = run_prog(e, noforce, NULL, &out, 30000);
    if (rc == 0)
        bug(e, "restore without --force replaced an existing database: %s", out);
    free(out);
    char *sdb = ts_xasprintf("%s/station.db", bn->dir);
    const char *wrong[] = {"tramsyncctl", "restore", sdb, "--database", db, "--force", NULL};
    out = NULL;
    rc = run_prog(e, wrong, NULL, &out, 30000);
    if (rc == 0)
        bug(e, "restore accepted a station's database as a district backup: %s", out);
    free(out);
    free(sdb);
    char *bytes1 = ts_read_file(db, &len1);
    if (bytes0 == NULL || bytes1 == NULL || len0 != len1 || memcmp(bytes0, bytes1, len0) != 0)
        bug(e, "a refused restore changed the district database");
    free(bytes0);
    free(bytes1);
    const char *rargv[] = {"tramsyncctl", "restore", backup, "--database", db, "--force", NULL};
    out = ctl_ok(e, rargv, NULL, 60000);
    free(out);
    /* what the backup missed is really gone now (the test below proves something) */
    char why[400];
    if (district_has(e, "residents", "BN-R3", BN, "full_name", "Sầm Thị Hoa", why, sizeof why))
        fail_msg("the restored database already holds BN-R3, written after the backup: was it restored at all?");
    if (!district_has(e, "residents", "BN-R1", BN, "full_name", "Hà Thị Mai", why, sizeof why))
        fail_msg("the restored database lacks BN-R1 as it was at the backup: %s", why);
    char *wal = ts_xasprintf("%s-wal", db);
    if (file_exists(wal)) {
        struct stat st;
        stat(wal, &st);
        if (st.st_size > 0)
            bug(e, "restore left the old database's WAL (%lld bytes) beside the restored file",
                (long long)st.st_size);
    }
    free(wal);
    /* what the district wrote after the backup is lost: it is re-entered
     * (OPERATIONS.md), here with what is true now */
    district_put_address(e, BN, "Thôn Khuổi Hoa, xã Bình Nguyên");

    ts_test_daemon_restart(&e->d);
    assert_int_equal(e->d.port, port);
    char db_after[64], replica_after[80];
    probe_server_db(e, "probe.00000000000000e2", db_after, sizeof db_after, replica_after, sizeof replica_after);
    if (strcmp(db_before, db_after) == 0)
        bug(e, "the restored database kept its identity (server_db %s): stations cannot tell", db_after);
    /* nor may the district number its own writes as before: stations hold
     * its writes made after the backup under those numbers */
    if (strcmp(replica_before, replica_after) == 0)
        bug(e, "the restored district writes under its old replica id %s", replica_after);

    /* the agent, still running, reconnects by itself and re-sends what it owns */
    if (!ts_test_log_wait(bn->log, "event=cursor_reset", 30000))
        bug(e, "the agent never logged cursor_reset after the restore");
    if (!ts_test_log_wait(bn->log, "event=repush_owned", 5000))
        bug(e, "the agent never logged repush_owned after the restore");
    uint64_t end = ts_test_now_ms() + 30000;
    static const char *const want[][2] = {{"BN-R3", "Sầm Thị Hoa"},
                                           {"BN-R4", "Vàng A Sử"},
                                           {"BN-R1", "Hà Thị Mai (đã sửa)"},
                                           {"BN-R2", "Lò Văn Pảo"}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        while (!district_has(e, "residents", want[i][0], BN, "full_name", want[i][1], why, sizeof why)) {
            if (ts_test_now_ms() >= end) {
                bug(e, "after the restore, the district never got back %s: %s", want[i][0], why);
                break;
            }
            ts_test_sleep_ms(150);
        }
    }
    owned_cmp cmp;
    if (!wait_owned_back(e, bn, 6, 20000, &cmp))
        bug(e, "after the restore the district holds %lld of the station's records (station %lld), %lld missing or"
               " different: %s",
            cmp.at_district, cmp.at_station, cmp.missing, cmp.sample);
    /* the directory entry re-entered at the district reaches the station */
    if (!station_get_shows(bn, "stations", BN, "Khuổi Hoa", 20000, &got))
        bug(e, "the directory change re-entered after the restore never reached the station; it still shows:\n%s",
            got ? got : "");
    st_status sst;
    if (!wait_settled(bn, 20000, &sst))
        bug(e, "the station never settled after the restore: pending=%lld reachable=%d last_error=\"%s\"",
            sst.pending, sst.reachable, sst.last_error);
    else if (sst.rejected != 0) {
        char first[400];
        first_rejection(bn->log, BN, first, sizeof first);
        bug(e, "after the restore %lld of the station's changes were refused for good; first: %s", sst.rejected,
            first);
    }

    /* and it keeps serving: a write after the restore arrives too */
    put_resident(bn, "BN-R5", "Lường Văn Tươi");
    wait_district_has(e, "residents", "BN-R5", BN, "full_name", "Lường Văn Tươi", 20000);
    assert_int_equal(ts_test_station_stop(bn, 15000), 0);
    int st = ts_test_daemon_stop(&e->d, SIGTERM, 30000);
    if (st != 0)
        bug(e, "tramsyncd exit status %d after the restore", st);
    free(got);
    free(backup);
    free(db);
    env_finish(e);
}

/* ================================================================ 3. district lost */

static void write_station_data(ts_test_station *s, const char *prefix)
{
    char id[64], name[96], rid[64];
    for (int i = 1; i <= 4; i++) {
        snprintf(id, sizeof id, "%s-R%d", prefix, i);
        snprintf(name, sizeof name, "Nguyễn Văn %s %d", prefix, i);
        put_resident(s, id, name);
    }
    snprintf(rid, sizeof rid, "%s-R1", prefix);
    snprintf(id, sizeof id, "%s-TC1", prefix);
    put_immunization(s, id, rid, "BCG");
    snprintf(id, sizeof id, "%s-TC2", prefix);
    put_immunization(s, id, rid, "Bại liệt");
    /* a record changed after it was synced, and one deleted */
    snprintf(id, sizeof id, "%s-R2", prefix);
    snprintf(name, sizeof name, "Nguyễn Văn %s 2 (sửa)", prefix);
    put_resident(s, id, name);
    snprintf(id, sizeof id, "%s-TC2", prefix);
    cli_delete(s, "immunizations", id);
}

static void test_district_lost_repush(void **state)
{
    env *e = *state;
    const char *codes[] = {BN, XL};
    env_pki(e, codes, 2);
    env_daemon(e, 0, NULL);
    ts_test_station *bn = env_station(e, BN), *xl = env_station(e, XL);
    ts_test_station_start(bn);
    ts_test_station_start(xl);
    write_station_data(bn, "BN");
    write_station_data(xl, "XL");
    wait_synced(bn, 20000);
    wait_synced(xl, 20000);
    owned_cmp cmp;
    for (int i = 0; i < 2; i++)
        if (!wait_owned_back(e, &e->st[i], 6, 10000, &cmp))
            fail_msg("%s: before the loss the district holds %lld of %lld records, %lld differ: %s", e->st[i].code,
                     cmp.at_district, cmp.at_station, cmp.missing, cmp.sample);

    /* the disk dies */
    int old_port = e->d.port;
    assert_int_equal(ts_test_daemon_stop(&e->d, SIGTERM, 30000), 0);
    ts_test_daemon_free(&e->d);
    char *db = district_path(e);
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char *p = ts_xasprintf("%s%s", db, suffix[i]);
        unlink(p);
        free(p);
    }
    bool gone = !file_exists(db);
    free(db);
    assert_true(gone);

    /* a fresh daemon, same PKI, another port; the stations are pointed at it */
    env_daemon(e, 0, NULL);
    if (e->d.port == old_port)
        print_message("note: the new daemon got the old port again\n");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ts_test_station_stop(&e->st[i], 15000), 0);
        ts_test_station_set_port(&e->st[i], e->d.port);
        ts_test_station_start(&e->st[i]);
    }
    for (int i = 0; i < 2; i++) {
        if (!wait_owned_back(e, &e->st[i], 6, 40000, &cmp))
            bug(e, "%s: the new district database holds %lld of its %lld records, %lld missing or different: %s",
                e->st[i].code, cmp.at_district, cmp.at_station, cmp.missing, cmp.sample);
        if (!ts_test_log_wait(e->st[i].log, "event=repush_owned", 1000))
            bug(e, "%s: no repush_owned in the agent log", e->st[i].code);
    }
    /* and each station is in sync again: nothing left to send, nothing refused */
    for (int i = 0; i < 2; i++) {
        st_status st;
        if (!wait_settled(&e->st[i], 20000, &st)) {
            bug(e, "%s never settled with the new district: pending=%lld reachable=%d last_error=\"%s\"",
                e->st[i].code, st.pending, st.reachable, st.last_error);
        } else if (st.rejected != 0) {
            char first[400];
            first_rejection(e->st[i].log, e->st[i].code, first, sizeof first);
            bug(e, "%s: %lld of its changes were refused by the new district database (tramsync status shows"
                   " 'some changes refused' for good); first: %s",
                e->st[i].code, st.rejected, first);
        }
    }
    /* nothing owned by one station ended up at the other */
    for (int i = 0; i < 2; i++) {
        char *sdb = ts_xasprintf("%s/station.db", e->st[i].dir);
        const char *other = e->st[1 - i].code;
        long long n = file_count(sdb, "SELECT count(*) FROM records WHERE owner = ?1", other);
        if (n != 0)
            bug(e, "%s holds %lld records owned by %s", e->st[i].code, n, other);
        free(sdb);
        json_t *l = station_list(&e->st[i], "residents");
        size_t k;
        json_t *r;
        json_array_foreach(l, k, r) {
            const char *owner = json_string_value(json_object_get(r, "owner"));
            if (owner == NULL || strcmp(owner, e->st[i].code) != 0)
                bug(e, "%s lists a resident owned by %s", e->st[i].code, owner ? owner : "(none)");
        }
        json_decref(l);
    }
    /* and the district's copy of each station's records is that station's */
    char *dpath = district_path(e);
    long long total =
        file_count(dpath, "SELECT count(*) FROM records WHERE tbl IN ('residents', 'immunizations')", NULL);
    if (total != 12)
        bug(e, "the new district database holds %lld residents and immunizations, expected 12", total);
    free(dpath);

    for (int i = 0; i < 2; i++)
        assert_int_equal(ts_test_station_stop(&e->st[i], 15000), 0);
    int st = ts_test_daemon_stop(&e->d, SIGTERM, 30000);
    if (st != 0)
        bug(e, "tramsyncd exit status %d", st);
    env_finish(e);
}

/* ================================================================ 4. station lost */

static void test_station_lost_reenrolled(void **state)
{
    env *e = *state;
    const char *codes[] = {BN, XL};
    env_pki(e, codes, 2);
    env_daemon(e, 0, NULL);
    ts_test_station *bn = env_station(e, BN), *xl = env_station(e, XL);
    ts_test_station_start(bn);
    ts_test_station_start(xl);
    write_station_data(bn, "BN");
    put_resident(xl, "XL-R1", "Đinh Thị Xuân");
    wait_synced(bn, 20000);
    wait_synced(xl, 20000);
    owned_cmp cmp;
    if (!wait_owned_back(e, bn, 6, 10000, &cmp))
        fail_msg("before the loss the district holds %lld of %lld records: %s", cmp.at_district, cmp.at_station,
                 cmp.sample);
    json_t *res_before = station_list(bn, "residents"), *imm_before = station_list(bn, "immunizations");
    assert_int_equal(json_array_size(res_before), 4);
    assert_int_equal(json_array_size(imm_before), 2);
    st_status old;
    assert_true(station_status(bn, &old));

    /* the PC is lost: its directory is gone; the lost certificate is revoked
     * and the station enrolled again with a new key and certificate */
    assert_int_equal(ts_test_station_stop(bn, 15000), 0);
    char *old_cert_path = ts_test_pki_cert(&e->pki, BN), *old_key_path = ts_test_pki_key(&e->pki, BN);
    size_t old_cert_len;
    char *old_cert = ts_read_file(old_cert_path, &old_cert_len);
    assert_non_null(old_cert);
    ts_test_pki_revoke(&e->pki, BN);
    unlink(old_cert_path);
    unlink(old_key_path);
    int reloads = ts_test_file_count(e->d.log, "event=server_reloaded");
    assert_int_equal(kill(e->d.pid, SIGHUP), 0);
    if (!wait_log_lines_above(e->d.log, "event=server_reloaded", NULL, reloads, 10000))
        fail_msg("no event=server_reloaded after SIGHUP");
    char *code = ts_xstrdup(bn->code);
    rm_rf(bn->dir);
    assert_false(file_exists(bn->dir));
    ts_test_station_free(bn);
    static const char *const no_report[] = {"sync.status_every=0", NULL};
    ts_test_station_make(bn, e->dir, code, &e->pki, e->d.port, no_report);
    free(code);
    size_t new_cert_len;
    char *new_cert = ts_read_file(old_cert_path, &new_cert_len);
    assert_non_null(new_cert);
    assert_false(new_cert_len == old_cert_len && memcmp(new_cert, old_cert, old_cert_len) == 0);
    free(new_cert);
    free(old_cert);
    free(old_cert_path);
    free(old_key_path);
    ts_test_station_start(bn);

    /* it gets back every record it owns, as the district had them */
    uint64_t end = ts_test_now_ms() + 30000;
    json_t *res_after = NULL, *imm_after = NULL;
    for (;;) {
        json_decref(res_after);
        json_decref(imm_after);
        res_after = station_list(bn, "residents");
        imm_after = station_list(bn, "immunizations");
        if (json_array_size(res_after) >= 4 && json_array_size(imm_after) >= 2)
            break;
        if (ts_test_now_ms() >= end)
            break;
        ts_test_sleep_ms(150);
    }
    json_t *pairs[2][2] = {{res_before, res_after}, {imm_before, imm_after}};
    for (int t = 0; t < 2; t++) {
        json_t *b = pairs[t][0], *a = pairs[t][1];
        if (json_array_size(a) != json_array_size(b))
            bug(e, "the re-enrolled station has %zu %s, it had %zu", json_array_size(a),
                t ? "immunizations" : "residents", json_array_size(b));
        size_t k;
        json_t *r;
        json_array_foreach(b, k, r) {
            const char *id = json_string_value(json_object_get(r, "id"));
            json_t *got = json_find_id(a, id);
            if (got == NULL) {
                bug(e, "the re-enrolled station did not get back %s", id);
                continue;
            }
            static const char *const keys[] = {"owner", "deleted", "fields", "vv"};
            for (size_t q = 0; q < sizeof keys / sizeof *keys; q++)
                if (!json_equal(json_object_get(r, keys[q]), json_object_get(got, keys[q]))) {
                    char *x = json_dumps(json_object_get(r, keys[q]), JSON_COMPACT);
                    char *y = json_dumps(json_object_get(got, keys[q]), JSON_COMPACT);
                    bug(e, "%s came back with %s %s, it was %s", id, keys[q], y ? y : "null", x ? x : "null");
                    free(x);
                    free(y);
                }
        }
    }
    json_decref(res_before);
    json_decref(imm_before);
    json_decref(res_after);
    json_decref(imm_after);
    /* what `get` shows too */
    char *out = NULL;
    int rc = ts_test_station_cli(bn, &out, "get", "residents", "BN-R2", NULL);
    if (rc != 0 || strstr(out, "Nguyễn Văn BN 2 (sửa)") == NULL)
        bug(e, "tramsync get residents BN-R2 after re-enrolment: exit %d: %s", rc, out);
    free(out);
    /* nothing of the other station's */
    char *sdb = ts_xasprintf("%s/station.db", bn->dir);
    long long foreign = file_count(sdb, "SELECT count(*) FROM records WHERE owner = ?1", XL);
    if (foreign != 0)
        bug(e, "the re-enrolled station holds %lld records of %s", foreign, XL);
    free(sdb);
    st_status now;
    assert_true(station_status(bn, &now));
    if (strcmp(now.replica, old.replica) == 0)
        bug(e, "the re-enrolled station has its old replica id %s", now.replica);

    /* and it writes and syncs as before: a new record and a change to an old one */
    put_resident(bn, "BN-R9", "Hoàng Thị Nga");
    put_resident(bn, "BN-R3", "Nguyễn Văn BN 3 (sau khi cài lại)");
    wait_district_has(e, "residents", "BN-R9", BN, "full_name", "Hoàng Thị Nga", 20000);
    wait_district_has(e, "residents", "BN-R3", BN, "full_name", "Nguyễn Văn BN 3 (sau khi cài lại)", 20000);
    wait_synced(bn, 20000);
    if (!wait_owned_back(e, bn, 7, 10000, &cmp))
        bug(e, "after re-enrolment the district holds %lld of the station's %lld records, %lld differ: %s",
            cmp.at_district, cmp.at_station, cmp.missing, cmp.sample);

    assert_int_equal(ts_test_station_stop(bn, 15000), 0);
    assert_int_equal(ts_test_station_stop(xl, 15000), 0);
    int st = ts_test_daemon_stop(&e->d, SIGTERM, 30000);
    if (st != 0)
        bug(e, "tramsyncd exit status %d", st);
    env_finish(e);
}

/* ================================================================ 5. revoke and reload */

static void test_revoke_and_reload(void **state)
{
    env *e = *state;
    const char *codes[] = {BN, XL};
    env_pki(e, codes, 2);
    env_daemon(e, 0, NULL);
    ts_test_station *bn = env_station(e, BN), *xl = env_station(e, XL);
    ts_test_station_start(bn);
    ts_test_station_start(xl);
    put_resident(bn, "BN-R1", "Trần Văn Bình");
    put_resident(xl, "XL-R1", "Lê Thị Xuân");
    wait_synced(bn, 20000);
    wait_synced(xl, 20000);
    wait_district_has(e, "residents", "BN-R1", BN, "full_name", "Trần Văn Bình", 10000);
    wait_district_has(e, "residents", "XL-R1", XL, "full_name", "Lê Thị Xuân", 10000);

    /* revoke binhnguyen, reload */
    int sessions_before = log_lines_with(e->d.log, "event=session_open", "station=" BN);
    ts_test_pki_revoke(&e->pki, BN);
    int reloads = ts_test_file_count(e->d.log, "event=server_reloaded");
    assert_int_equal(kill(e->d.pid, SIGHUP), 0);
    if (!wait_log_lines_above(e->d.log, "event=server_reloaded", NULL, reloads, 10000))
        fail_msg("no event=server_reloaded after SIGHUP");

    /* its agent reconnects: refused as revoked */
    int refused = log_lines_with(e->d.log, "event=tls_handshake_failed", "kind=revoked");
    assert_int_equal(ts_test_station_stop(bn, 15000), 0);
    ts_test_station_start(bn);
    if (!wait_log_lines_above(e->d.log, "event=tls_handshake_failed", "kind=revoked", refused, 15000))
        fail_msg("no tls_handshake_failed kind=revoked after the revoked station reconnected");

    /* a write at the revoked station, then one at the other station */
    put_resident(bn, "BN-R2", "Trần Văn Bình (sau thu hồi)");
    refused = log_lines_with(e->d.log, "event=tls_handshake_failed", "kind=revoked");
    put_resident(xl, "XL-R2", "Lê Thị Xuân (sau thu hồi)");
    wait_district_has(e, "residents", "XL-R2", XL, "full_name", "Lê Thị Xuân (sau thu hồi)", 15000);
    wait_synced(xl, 15000);
    /* the revoked station tried again after its write, and was refused again */
    if (!wait_log_lines_above(e->d.log, "event=tls_handshake_failed", "kind=revoked", refused, 15000))
        fail_msg("the revoked station's agent did not try again after its write");
    char why[400];
    if (district_has(e, "residents", "BN-R2", BN, "full_name", "Trần Văn Bình (sau thu hồi)", why, sizeof why))
        bug(e, "a write of the revoked station reached the district");
    int sessions = log_lines_with(e->d.log, "event=session_open", "station=" BN);
    if (sessions != sessions_before)
        bug(e, "%d sessions of the revoked station were opened after its revocation", sessions - sessions_before);
    st_status st;
    assert_true(station_status(bn, &st));
    if (st.pending < 1 || st.reachable)
        bug(e, "the revoked station says pending=%lld reachable=%d", st.pending, st.reachable);
    if (ts_test_file_count(e->d.log, "event=session_replaced") != 0 ||
        ts_test_file_count(xl->log, "event=disconnected") != 0)
        bug(e, "the other station's session was disturbed by the reload");

    assert_int_equal(ts_test_station_stop(bn, 15000), 0);
    assert_int_equal(ts_test_station_stop(xl, 15000), 0);
    int rc = ts_test_daemon_stop(&e->d, SIGTERM, 30000);
    if (rc != 0)
        bug(e, "tramsyncd exit status %d", rc);
    env_finish(e);
}

/* ================================================================ 6. status and certificate expiry */

#define PASSWORD "mat-khau-thu-nghiem-2026"

/* A station certificate expiring `days` days and a half from now. */
static void issue_short_cert(env *e, const char *code, int days)
{
    ts_error err;
    EVP_PKEY *ca_key = ts_pki_read_key(e->pki.ca_key, &err);
    X509 *ca = ts_pki_read_cert(e->pki.ca, &err);
    assert_non_null(ca_key);
    assert_non_null(ca);
    int64_t now = (int64_t)time(NULL);
    ts_cert_request req = {.kind = TS_CERT_STATION, .cn = code, .locality = code, .not_before = now - 3600,
                           .not_after = now + (int64_t)days * 86400 + 43200};
    EVP_PKEY *key = ts_pki_new_key();
    X509 *cert = ts_pki_issue(&req, key, ca_key, ca, &err);
    if (cert == NULL)
        fail_msg("issue %s: %s", code, err.msg);
    char *c = ts_test_pki_cert(&e->pki, code), *k = ts_test_pki_key(&e->pki, code);
    if (ts_pki_write_cert(c, cert, &err) < 0 || ts_pki_write_key(k, key, &err) < 0)
        fail_msg("write %s: %s", code, err.msg);
    free(c);
    free(k);
    X509_free(cert);
    EVP_PKEY_free(key);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
}

/* Whole days from now to the certificate's notAfter (rounded down). */
static long cert_days_left(env *e, const char *code)
{
    ts_error err;
    char *path = ts_test_pki_cert(&e->pki, code);
    X509 *cert = ts_pki_read_cert(path, &err);
    free(path);
    assert_non_null(cert);
    int days = 0, secs = 0;
    assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)), 1);
    X509_free(cert);
    return days;
}

/* The line of `tramsyncctl status` for a station, or NULL. */
static const char *status_line(const char *out, const char *code, char *line, size_t size)
{
    for (const char *p = out; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        if (n > strlen(code) && strncmp(p, code, strlen(code)) == 0 && p[strlen(code)] == ' ') {
            snprintf(line, size, "%.*s", (int)n, p);
            return line;
        }
        p = eol ? eol + 1 : NULL;
    }
    return NULL;
}

static void test_status_cert_expiry(void **state)
{
    env *e = *state;
    const char *codes[] = {BN};
    env_pki(e, codes, 1);
    issue_short_cert(e, XL, 20);

    /* the first console account, made on the server before it starts */
    char *set = ts_xasprintf("server.data_dir=%s", e->dir);
    const char *uargv[] = {"tramsyncd", "--set", set, "--add-user", "nguyenvana", "--role", "admin", NULL};
    const char *uenv[] = {"TRAMSYNC_PASSWORD=" PASSWORD, NULL};
    char *out = NULL;
    int rc = run_prog(e, uargv, uenv, &out, 30000);
    if (rc != 0) {
        /* reported, but go on: the account may have been saved all the same
         * (a leak found at exit fails the ASan build after the work is done);
         * the login below tells */
        const char *leak = strstr(out, "LeakSanitizer");
        bug(e, "tramsyncd --add-user nguyenvana --role admin: exit %d%s: %.700s", rc,
            leak ? " (a memory leak at exit)" : "", leak ? leak : out);
    }
    free(out);
    free(set);

    env_daemon(e, 0, NULL);
    assert_true(e->d.admin_port > 0);
    ts_test_station *bn = env_station(e, BN), *xl = env_station(e, XL);
    ts_test_station_start(bn);
    ts_test_station_start(xl);
    put_resident(bn, "BN-R1", "Phạm Thị Thu");
    wait_synced(bn, 20000);
    wait_synced(xl, 20000);
    long bn_days = cert_days_left(e, BN), xl_days = cert_days_left(e, XL);
    assert_true(bn_days > 800);
    assert_int_equal(xl_days, 20);

    char *url = ts_xasprintf("TRAMSYNC_ADMIN_URL=https://localhost:%d", e->d.admin_port);
    char *ca = ts_xasprintf("TRAMSYNC_CA=%s", e->pki.ca);
    const char *aenv[] = {url, ca, "TRAMSYNC_USER=nguyenvana", "TRAMSYNC_PASSWORD=" PASSWORD, "LC_ALL=vi_VN.UTF-8", NULL};

    /* the text output (Vietnamese): each station's line ends with its
     * certificate's days left, "còn N ngày" */
    const char *sargv[] = {"tramsyncctl", "status", NULL};
    char *text = ctl_ok(e, sargv, aenv, 30000);
    struct {
        const char *code;
        long days;
        long shown;
    } want[2] = {{BN, bn_days, -1}, {XL, xl_days, -1}};
    for (int i = 0; i < 2; i++) {
        char line[400];
        if (status_line(text, want[i].code, line, sizeof line) == NULL) {
            bug(e, "tramsyncctl status does not list %s:\n%s", want[i].code, text);
            continue;
        }
        const char *d = strstr(line, " ngày");
        const char *num = d;
        while (num > line && num[-1] >= '0' && num[-1] <= '9')
            num--;
        if (d == NULL || num == d) {
            bug(e, "no certificate days in the status line of %s: \"%s\"", want[i].code, line);
            continue;
        }
        want[i].shown = strtol(num, NULL, 10);
        if (want[i].shown != want[i].days)
            bug(e, "%s: status shows %ld days left, the certificate has %ld", want[i].code, want[i].shown,
                want[i].days);
        bool soon = strstr(line, "SẮP HẾT HẠN") != NULL;
        if (soon != (want[i].days < 30))
            bug(e, "%s (%ld days left): SẮP HẾT HẠN %s: \"%s\"", want[i].code, want[i].days,
                soon ? "shown" : "missing", line);
        if (strstr(line, "trực tuyến") == NULL)
            bug(e, "%s is connected but not shown online: \"%s\"", want[i].code, line);
    }
    print_message("%s", text);
    free(text);

    /* --json: the same as numbers */
    const char *jargv[] = {"tramsyncctl", "--json", "status", NULL};
    char *js = ctl_ok(e, jargv, aenv, 30000);
    json_error_t jerr;
    json_t *j = json_loads(js, 0, &jerr);
    if (j == NULL)
        fail_msg("tramsyncctl --json status: not JSON (%s): %s", jerr.text, js);
    json_t *stations = json_object_get(j, "stations");
    if (!json_is_array(stations))
        bug(e, "tramsyncctl --json status: no stations array: %s", js);
    for (int i = 0; i < 2 && json_is_array(stations); i++) {
        json_t *o = NULL, *x;
        size_t k;
        json_array_foreach(stations, k, x) {
            const char *c = json_string_value(json_object_get(x, "code"));
            if (c && strcmp(c, want[i].code) == 0)
                o = x;
        }
        if (o == NULL) {
            bug(e, "tramsyncctl --json status does not list %s", want[i].code);
            continue;
        }
        json_t *days = json_object_get(o, "cert_days_left");
        if (!json_is_integer(days))
            bug(e, "%s: cert_days_left is not a number in --json status", want[i].code);
        else if (json_integer_value(days) != want[i].days || json_integer_value(days) != want[i].shown)
            bug(e, "%s: --json cert_days_left %lld, text %ld, certificate %ld", want[i].code,
                (long long)json_integer_value(days), want[i].shown, want[i].days);
    }
    json_decref(j);
    free(js);

    /* a new account never silently takes the password of whoever adds it */
    const char *addargv[] = {"tramsyncctl", "user", "add", "tranthib", "--role", "viewer", NULL};
    char *addout = NULL;
    if (run_prog(e, addargv, aenv, &addout, 30000) == 0)
        bug(e, "tramsyncctl user add without a new password succeeded: %s", addout);
    free(addout);
    const char *viewer_login[] = {url, ca, "TRAMSYNC_USER=tranthib", "TRAMSYNC_PASSWORD=" PASSWORD, NULL};
    char *vout = NULL;
    if (run_prog(e, sargv, viewer_login, &vout, 30000) == 0)
        bug(e, "an account made without a password logs in with the admin's: %s", vout);
    free(vout);
    const char *newenv[] = {url, ca, "TRAMSYNC_USER=nguyenvana", "TRAMSYNC_PASSWORD=" PASSWORD,
                            "TRAMSYNC_NEW_PASSWORD=mat-khau-rieng-2026", NULL};
    free(ctl_ok(e, addargv, newenv, 30000));
    const char *viewer_ok[] = {url, ca, "TRAMSYNC_USER=tranthib", "TRAMSYNC_PASSWORD=mat-khau-rieng-2026", NULL};
    free(ctl_ok(e, sargv, viewer_ok, 30000));
    free(url);
    free(ca);

    assert_int_equal(ts_test_station_stop(bn, 15000), 0);
    assert_int_equal(ts_test_station_stop(xl, 15000), 0);
    rc = ts_test_daemon_stop(&e->d, SIGTERM, 30000);
    if (rc != 0)
        bug(e, "tramsyncd exit status %d", rc);
    env_finish(e);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backup_during_push_storm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_new_identity_and_repush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_district_lost_repush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_station_lost_reenrolled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_and_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_cert_expiry, setup, teardown),
    };
    /* TS_TEST_FILTER=test_name (wildcards allowed) runs a subset */
    const char *filter = getenv("TS_TEST_FILTER");
    if (filter != NULL && *filter != '\0')
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
