#include "tests/support/ts_test_station.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/ts_registry.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_records.h"
#include "tests/support/ts_test_store.h"

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *data = ts_read_file(from, &n);
    if (data == NULL)
        fail_msg("cannot read %s", from);
    FILE *f = fopen(to, "wb");
    if (f == NULL || fwrite(data, 1, n, f) != n || fclose(f) != 0)
        fail_msg("cannot write %s", to);
    chmod(to, 0600);
    free(data);
}

static void write_config(ts_test_station *s, const char *const *sets)
{
    char *path = ts_xasprintf("%s/tramsync.conf", s->dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        fail_msg("cannot write %s", path);
    fprintf(f, "[station]\ncode = %s\ncommune = %s\ndata_dir = %s\nlog_level = debug\nsynchronous = normal\n", s->code,
            s->code, s->dir);
    fprintf(f, "[server]\naddress = 127.0.0.1:%d\nserver_name = localhost\n", s->port);
    fprintf(f, "[sync]\nbackoff_min = 100ms\nbackoff_max = 2s\ndebounce = 200ms\npoll = 100ms\ninterval = 5s\n");
    fclose(f);
    /* extra settings go through a second file read as overrides */
    char *extra = ts_xasprintf("%s/extra.sets", s->dir);
    f = fopen(extra, "w");
    for (int i = 0; sets && sets[i]; i++)
        fprintf(f, "%s\n", sets[i]);
    fclose(f);
    free(extra);
    free(path);
}

void ts_test_station_make(ts_test_station *s, const char *base, const char *code, ts_test_pki *pki, int port,
                          const char *const *sets)
{
    memset(s, 0, sizeof *s);
    s->code = ts_xstrdup(code);
    s->dir = ts_xasprintf("%s/%s", base, code);
    s->log = ts_xasprintf("%s/agent.log", s->dir);
    s->port = port;
    mkdir(s->dir, 0700);
    char *cert = ts_test_pki_cert(pki, code), *key = ts_test_pki_key(pki, code);
    if (access(cert, R_OK) != 0)
        ts_test_pki_station(pki, code, code);
    char *dst = ts_xasprintf("%s/station.pem", s->dir);
    copy_file(cert, dst);
    free(dst);
    dst = ts_xasprintf("%s/station.key", s->dir);
    copy_file(key, dst);
    free(dst);
    dst = ts_xasprintf("%s/ca.pem", s->dir);
    copy_file(pki->ca, dst);
    free(dst);
    free(cert);
    free(key);
    write_config(s, sets);

    ts_registry reg;
    ts_error err;
    if (ts_registry_load_default(&reg, &err) < 0)
        fail_msg("%s", err.msg);
    char *db = ts_xasprintf("%s/station.db", s->dir);
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = db;
    opt.role = TS_ROLE_STATION;
    opt.registry = &reg;
    opt.station = code;
    opt.create = true;
    ts_store *st;
    if (ts_store_open(&st, &opt, &err) < 0)
        fail_msg("%s", err.msg);
    ts_store_close(st);
    ts_registry_free(&reg);
    free(db);
}

void ts_test_station_set_port(ts_test_station *s, int port)
{
    s->port = port;
    char *path = ts_xasprintf("%s/tramsync.conf", s->dir);
    char *txt = ts_read_file(path, NULL);
    char *p = txt ? strstr(txt, "address = 127.0.0.1:") : NULL;
    if (p == NULL)
        fail_msg("no address in %s", path);
    char *eol = strchr(p, '\n');
    FILE *f = fopen(path, "w");
    fprintf(f, "%.*saddress = 127.0.0.1:%d%s", (int)(p - txt), txt, port, eol);
    fclose(f);
    free(txt);
    free(path);
}

/* argv for `tramsync -d dir [--set x]... ` followed by args */
/* In the child, before exec: the station's extra environment. */
static void apply_env(const ts_test_station *s)
{
    for (int i = 0; s->env && s->env[i]; i++)
        putenv((char *)s->env[i]);
}

static int build_argv(ts_test_station *s, char **argv, int cap, char **owned, int *nowned)
{
    int n = 0;
    argv[n++] = s->bin ? ts_xstrdup(s->bin) : ts_test_bin("tramsync");
    owned[(*nowned)++] = argv[0];
    argv[n++] = "-d";
    argv[n++] = s->dir;
    char *extra = ts_xasprintf("%s/extra.sets", s->dir);
    char *txt = ts_read_file(extra, NULL);
    free(extra);
    if (txt != NULL) {
        owned[(*nowned)++] = txt;
        for (char *line = strtok(txt, "\n"); line && n + 2 < cap; line = strtok(NULL, "\n")) {
            argv[n++] = "--set";
            argv[n++] = line;
        }
    }
    return n;
}

void ts_test_station_start(ts_test_station *s)
{
    char *argv[64];
    char *owned[4];
    int nowned = 0;
    int n = build_argv(s, argv, 60, owned, &nowned);
    argv[n++] = "run";
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1", 0);
        apply_env(s);
        execv(argv[0], argv);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < nowned; i++)
        free(owned[i]);
}

int ts_test_station_stop(ts_test_station *s, int timeout_ms)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        ts_test_sleep_ms(10);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
    return -1;
}

void ts_test_station_kill(ts_test_station *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

static char *read_all(int fd)
{
    ts_buf b = TS_BUF_INIT;
    char chunk[4096];
    ssize_t r;
    while ((r = read(fd, chunk, sizeof chunk)) > 0)
        ts_buf_append(&b, chunk, (size_t)r);
    close(fd);
    ts_buf_append(&b, "", 1);
    return (char *)ts_buf_steal(&b, NULL);
}

/* errout NULL: the CLI's standard error goes to the station's log. */
static int run_cli(ts_test_station *s, char **out, char **errout, va_list ap)
{
    char *argv[128];
    char *owned[4];
    int nowned = 0;
    int n = build_argv(s, argv, 100, owned, &nowned);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 126)
        argv[n++] = (char *)a;
    argv[n] = NULL;
    int pipefd[2], errfd[2] = {-1, -1};
    if (pipe(pipefd) != 0 || (errout && pipe(errfd) != 0))
        fail_msg("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        close(pipefd[1]);
        if (errout) {
            dup2(errfd[1], 2);
            close(errfd[0]);
            close(errfd[1]);
        } else {
            int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 2);
                close(fd);
            }
        }
        apply_env(s);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pipefd[1]);
    if (errout)
        close(errfd[1]);
    /* standard error is small (a message, a usage text): read after stdout */
    char *o = read_all(pipefd[0]);
    char *e = errout ? read_all(errfd[0]) : NULL;
    int status;
    waitpid(pid, &status, 0);
    if (out)
        *out = o;
    else
        free(o);
    if (errout)
        *errout = e;
    for (int i = 0; i < nowned; i++)
        free(owned[i]);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int ts_test_station_cli(ts_test_station *s, char **out, ...)
{
    va_list ap;
    va_start(ap, out);
    int rc = run_cli(s, out, NULL, ap);
    va_end(ap);
    return rc;
}

int ts_test_station_cli2(ts_test_station *s, char **out, char **err, ...)
{
    va_list ap;
    va_start(ap, err);
    int rc = run_cli(s, out, err, ap);
    va_end(ap);
    return rc;
}

void ts_test_station_free(ts_test_station *s)
{
    ts_test_station_kill(s);
    free(s->code);
    free(s->dir);
    free(s->log);
    memset(s, 0, sizeof *s);
}

void ts_test_station_fill(ts_test_station *s, const char *prefix, uint32_t n)
{
    char *db = ts_xasprintf("%s/station.db", s->dir);
    ts_store *st = ts_test_store_open(db, TS_ROLE_STATION, s->code, ts_test_registry(), false, false);
    ts_test_fill(st, NULL, prefix, s->code, n, n);
    ts_store_close(st);
    free(db);
}

long long ts_test_district_residents(const ts_test_daemon *d, const char *like)
{
    char *sql = ts_xasprintf("SELECT count(*) FROM records WHERE tbl = 'residents' AND id LIKE '%s'", like);
    long long n = ts_test_sql_count(d->dir, "district.db", sql);
    free(sql);
    return n;
}

long long ts_test_district_wait_residents(const ts_test_daemon *d, const char *like, long long n, int timeout_ms)
{
    uint64_t deadline = ts_test_now_ms() + (uint64_t)timeout_ms;
    long long have;
    while ((have = ts_test_district_residents(d, like)) < n && ts_test_now_ms() < deadline)
        ts_test_sleep_ms(50);
    return have;
}
