#include "tests/support/ts_test_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"

void ts_test_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

uint64_t ts_test_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

int ts_test_add_user(const char *data_dir, const char *name, const char *role, const char *password)
{
    char *bin = ts_test_bin("tramsyncd");
    char *set = ts_xasprintf("server.data_dir=%s", data_dir);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        setenv("TRAMSYNC_PASSWORD", password, 1);
        execl(bin, bin, "--set", set, "--add-user", name, "--role", role, (char *)NULL);
        _exit(127);
    }
    int status = -1;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    free(set);
    free(bin);
    return pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : (status ? status : -1);
}

void ts_test_log_tail(const char *path, int max_lines)
{
    if (path == NULL)
        return;
    size_t len;
    char *txt = ts_read_file(path, &len);
    if (txt == NULL)
        return;
    size_t start = len;
    int lines = 0;
    while (start > 0 && lines < max_lines)
        if (txt[--start] == '\n')
            lines++;
    fprintf(stderr, "---- tail of %s\n%s\n----\n", path, txt + start);
    free(txt);
}

char *ts_test_bin(const char *name)
{
    const char *dir = getenv("TS_BIN_DIR");
    return ts_xasprintf("%s/%s", dir && *dir ? dir : "build/asan/bin", name);
}

char *ts_test_release_bin(const char *name)
{
    const char *dir = getenv("TS_RELEASE_BIN_DIR");
    return ts_xasprintf("%s/%s", dir && *dir ? dir : "bin", name);
}

static void spawn(ts_test_daemon *d)
{
    char *portfile = ts_xasprintf("%s/port", d->dir);
    unlink(portfile);
    const char *bin = d->bin;
    char *argv[128];
    int argc = 0;
    argv[argc++] = (char *)bin;
    for (int i = 0; i < d->nsets; i++) {
        argv[argc++] = "--set";
        argv[argc++] = d->sets[i];
    }
    argv[argc++] = "--port-file";
    argv[argc++] = portfile;
    argv[argc] = NULL;

    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1", 0);
        for (const char *const *e = d->env; e && *e; e++)
            putenv((char *)*e);
        execv(bin, argv);
        _exit(127);
    }
    d->pid = pid;
    for (int i = 0; i < 2000; i++) {
        char *txt = ts_read_file(portfile, NULL);
        if (txt != NULL && strchr(txt, '\n') != NULL && strchr(strchr(txt, '\n') + 1, '\n') != NULL) {
            d->port = atoi(txt);
            d->admin_port = atoi(strchr(txt, '\n') + 1);
            free(txt);
            break;
        }
        free(txt);
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            char *log = ts_read_file(d->log, NULL);
            fail_msg("tramsyncd exited at start (status %d):\n%s", status, log ? log : "");
        }
        ts_test_sleep_ms(10);
    }
    if (d->port <= 0)
        fail_msg("tramsyncd did not start within 20 s (log %s)", d->log);
    free(portfile);
}

void ts_test_daemon_start(ts_test_daemon *d, const char *dir, const ts_test_pki *pki, const char *const *sets)
{
    char *bin = ts_test_bin("tramsyncd");
    ts_test_daemon_start_bin(d, bin, dir, pki, sets);
    free(bin);
}

void ts_test_daemon_start_bin(ts_test_daemon *d, const char *bin, const char *dir, const ts_test_pki *pki,
                              const char *const *sets)
{
    ts_test_daemon_start_env(d, bin, dir, pki, sets, NULL);
}

void ts_test_daemon_start_env(ts_test_daemon *d, const char *bin, const char *dir, const ts_test_pki *pki,
                              const char *const *sets, const char *const *env)
{
    memset(d, 0, sizeof *d);
    d->env = env;
    d->bin = ts_xstrdup(bin);
    d->dir = ts_xstrdup(dir);
    d->log = ts_xasprintf("%s/tramsyncd.log", dir);
    d->sets[d->nsets++] = ts_xasprintf("server.data_dir=%s", dir);
    d->sets[d->nsets++] = ts_xstrdup("server.listen=127.0.0.1:0");
    d->sets[d->nsets++] = ts_xstrdup("admin.listen=127.0.0.1:0");
    d->sets[d->nsets++] = ts_xstrdup("server.log_level=debug");
    /* the demo's plan (seed 003), as a district that loaded it has it: its
     * tasks KH-01..KH-28 and its targets (a test's own sets come after) */
    char *plan = ts_source_path("server/data/plans/binh-dinh-2024.json");
    d->sets[d->nsets++] = ts_xasprintf("admin.plan_file=%s", plan);
    free(plan);
    d->sets[d->nsets++] = ts_xasprintf("tls.ca=%s", pki->ca);
    d->sets[d->nsets++] = ts_xasprintf("tls.cert=%s", pki->server_cert);
    d->sets[d->nsets++] = ts_xasprintf("tls.key=%s", pki->server_key);
    d->sets[d->nsets++] = ts_xasprintf("tls.crl=%s", pki->crl);
    for (int i = 0; sets && sets[i] && d->nsets < 48; i++)
        d->sets[d->nsets++] = ts_xstrdup(sets[i]);
    spawn(d);
}

void ts_test_daemon_restart(ts_test_daemon *d)
{
    d->port = 0;
    spawn(d);
}

int ts_test_daemon_stop(ts_test_daemon *d, int sig, int timeout_ms)
{
    if (d->pid <= 0)
        return -1;
    kill(d->pid, sig);
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        int status;
        pid_t r = waitpid(d->pid, &status, WNOHANG);
        if (r == d->pid) {
            d->pid = 0;
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            return 128 + WTERMSIG(status);
        }
        ts_test_sleep_ms(10);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, NULL, 0);
    d->pid = 0;
    return -1;
}

void ts_test_daemon_kill(ts_test_daemon *d)
{
    if (d->pid > 0) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
        d->pid = 0;
    }
}

void ts_test_daemon_free(ts_test_daemon *d)
{
    ts_test_daemon_kill(d);
    for (int i = 0; i < d->nsets; i++)
        free(d->sets[i]);
    free(d->bin);
    free(d->dir);
    free(d->log);
    memset(d, 0, sizeof *d);
}

long ts_test_rss_kb(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    char *txt = ts_read_file(path, NULL);
    if (txt == NULL)
        return 0;
    long kb = 0;
    char *p = strstr(txt, "VmRSS:");
    if (p != NULL)
        kb = strtol(p + 6, NULL, 10);
    free(txt);
    return kb;
}

int ts_test_file_count(const char *path, const char *needle)
{
    char *txt = ts_read_file(path, NULL);
    if (txt == NULL)
        return 0;
    int n = 0;
    for (char *p = txt; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    free(txt);
    return n;
}

bool ts_test_log_wait(const char *log, const char *needle, int timeout_ms)
{
    for (int waited = 0;; waited += 20) {
        if (ts_test_file_count(log, needle) > 0)
            return true;
        if (waited >= timeout_ms)
            return false;
        ts_test_sleep_ms(20);
    }
}

/* The key names of a log line ("ts level event k1 k2 ..."), space-separated. */
static void ts__line_keys(const char *line, char *out, size_t size)
{
    out[0] = '\0';
    size_t len = 0;
    for (const char *p = line; *p && *p != '\n';) {
        const char *eq = strchr(p, '=');
        const char *eol = strchr(p, '\n');
        if (eq == NULL || (eol != NULL && eq > eol))
            break;
        len += (size_t)snprintf(out + len, len < size ? size - len : 0, "%.*s ", (int)(eq - p), p);
        p = eq + 1;
        if (*p == '"') /* a quoted value: to its closing quote */
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1])
                    p++;
        while (*p && *p != ' ' && *p != '\n')
            p++;
        while (*p == ' ')
            p++;
    }
}

void ts_test_doc_log_keys(const char *doc_path, const char *marker, const char *log, int min_checked)
{
    char *doc = ts_read_file(doc_path, NULL);
    char *text = ts_read_file(log, NULL);
    if (doc == NULL || text == NULL) {
        fprintf(stderr, "ERROR: cannot read %s or %s\n", doc_path, log);
        abort();
    }
    char *at = strstr(doc, marker);
    char *end = at ? strstr(at, "```") : NULL;
    char *block = at;
    while (block != NULL && block > doc && strncmp(block, "```", 3) != 0)
        block--;
    if (at == NULL || end == NULL || block == NULL) {
        fprintf(stderr, "ERROR: %s has no ``` block with %s\n", doc_path, marker);
        abort();
    }
    *end = '\0';
    int checked = 0;
    for (char *l = strstr(block, "\nts="); l != NULL; l = strstr(l + 1, "\nts=")) {
        char name[64], needle[80], want[512], got[512];
        char *ev = strstr(l, " event=");
        if (ev == NULL || sscanf(ev, " event=%63s", name) != 1)
            continue;
        snprintf(needle, sizeof needle, " event=%s ", name);
        char *line = strstr(text, needle);
        if (line == NULL)
            continue;
        while (line > text && line[-1] != '\n')
            line--;
        ts__line_keys(l + 1, want, sizeof want);
        ts__line_keys(line, got, sizeof got);
        if (strcmp(want, got) != 0) {
            fprintf(stderr, "ERROR: %s's %s line has keys \"%s\", the program writes \"%s\"\n", doc_path, name, want,
                    got);
            abort();
        }
        checked++;
    }
    if (checked < min_checked) {
        fprintf(stderr, "ERROR: %d lines of %s's example checked against %s, expected %d\n", checked, doc_path, log,
                min_checked);
        abort();
    }
    free(doc);
    free(text);
}
