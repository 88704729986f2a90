/* Coordination notices end to end: the real tramsyncd (the ASan build) on
 * 127.0.0.1, real `tramsync run` station agents and the station CLI, raw
 * protocol clients (tests/support/ts_test_client.h) where a test needs to
 * see or withhold single frames, the admin API over HTTPS with the test
 * PKI's admin certificate, and tramsyncctl. Every test starts its own
 * daemon in its own directory; every wait has a deadline; a test that
 * overruns TEST_LIMIT_S kills its processes and the binary exits.
 *
 *  1. fan-out to every station, to chosen communes (matched against the
 *     station directory) and to one station; nobody gets what is not theirs
 *  2. a station offline while notices are sent gets them on reconnecting,
 *     most urgent first; the district sees delivered -> acknowledged ->
 *     in progress -> done, with who and when
 *  3. escalation: an unacknowledged Hỏa tốc notice is re-sent once and
 *     shows in /api/escalations and `tramsyncctl escalations`
 *  4. a station report redistributed to two stations reaches exactly them
 *  5. duplicate deliveries (acks withheld, reconnections, re-sent PUSHes and
 *     NOTICEs) change the handling state once, and the audit shows it once
 *  6. per-recipient transitions: back from done needs a reason, at the
 *     station CLI and at the district
 *  7. an urgent notice reaches a station in the middle of a large catch-up
 *     without waiting for the rest of it */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "client/ts_station_notices.h"
#include "common/ts_hlc.h"
#include "common/ts_notice.h"
#include "common/ts_recjson.h"
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

#define TEST_LIMIT_S 240

#define BN "binhnguyen"
#define BX "binhxuyen"
#define BT "binhtuyen"
#define XL "xuanlang"
#define NST 4

static const char *const codes[NST] = {BN, BX, BT, XL};
static const char *const communes[NST] = {"Bình Nguyên", "Bình Xuyên", "Bình Tuyền", "Xuân Lãng"};
static const char *const commune_codes[NST] = {"09001", "09002", "09003", "09004"};

/* ---------------------------------------------------------------- environment */

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    bool daemon_made;
    ts_test_station st[NST];
    bool st_made[NST];
    bool passed;
} env;

static env *volatile g_env;

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_notices: a test ran past its time limit; its processes were killed\n";
    env *e = g_env;
    if (e != NULL) {
        if (e->d.pid > 0)
            kill(e->d.pid, SIGKILL);
        for (int i = 0; i < NST; i++)
            if (e->st_made[i] && e->st[i].pid > 0)
                kill(e->st[i].pid, SIGKILL);
    }
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(99);
}

static int setup(void **state)
{
    env *e = ts_xcalloc(1, sizeof *e);
    e->dir = ts_tmpdir_make("notices");
    ts_test_pki_make(&e->pki, e->dir, codes, NST);
    g_env = e;
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    alarm(TEST_LIMIT_S);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    alarm(0);
    if (!e->passed) {
        ts_test_log_tail(e->d.log, 60);
        for (int i = 0; i < NST; i++)
            if (e->st_made[i])
                ts_test_log_tail(e->st[i].log, 25);
    }
    for (int i = 0; i < NST; i++)
        if (e->st_made[i])
            ts_test_station_free(&e->st[i]);
    if (e->daemon_made)
        ts_test_daemon_free(&e->d);
    ts_test_pki_free(&e->pki);
    ts_tmpdir_remove(e->dir);
    g_env = NULL;
    free(e);
    return 0;
}

static void env_start(env *e, const char *const *extra)
{
    const char *sets[24];
    int n = 0;
    sets[n++] = "server.synchronous=off";
    sets[n++] = "admin.targets_every=0";
    for (int i = 0; extra && extra[i] && n < 22; i++)
        sets[n++] = extra[i];
    sets[n] = NULL;
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);
    e->daemon_made = true;
    if (e->d.admin_port <= 0)
        fail_msg("the daemon has no admin port");
}

static int idx_of(const char *code)
{
    for (int i = 0; i < NST; i++)
        if (strcmp(codes[i], code) == 0)
            return i;
    fail_msg("unknown station %s", code);
    return -1;
}

static ts_test_station *station(env *e, const char *code)
{
    int i = idx_of(code);
    if (!e->st_made[i]) {
        ts_test_station_make(&e->st[i], e->dir, code, &e->pki, e->d.port, NULL);
        e->st_made[i] = true;
    }
    return &e->st[i];
}

/* Starts a station's agent and waits until it is connected (count: how
 * many "connected" lines its log already had). */
static void agent_start(env *e, const char *code)
{
    ts_test_station *s = station(e, code);
    int before = ts_test_file_count(s->log, "event=connected ");
    ts_test_station_start(s);
    for (uint64_t end = ts_test_now_ms() + 30000; ts_test_file_count(s->log, "event=connected ") <= before;) {
        if (ts_test_now_ms() > end)
            fail_msg("agent %s did not connect within 30 s", code);
        ts_test_sleep_ms(50);
    }
}

static void agent_stop(env *e, const char *code)
{
    ts_test_station *s = station(e, code);
    int rc = ts_test_station_stop(s, 15000);
    if (rc != 0)
        fail_msg("agent %s stopped with status %d", code, rc);
}

/* ---------------------------------------------------------------- admin API */

typedef struct http_resp {
    int status;
    ts_buf body;
    bool done;
} http_resp;

static int on_body(http_parser *p, const char *at, size_t n)
{
    ts_buf_append(&((http_resp *)p->data)->body, at, n);
    return 0;
}

static int on_complete(http_parser *p)
{
    ((http_resp *)p->data)->done = true;
    return 0;
}

/* One request on a fresh TLS connection with the admin certificate.
 * Returns the HTTP status; the JSON answer in *out (caller frees) when out
 * is not NULL. */
static int api(env *e, const char *method, const char *path, const json_t *body, json_t **out)
{
    if (out)
        *out = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)e->d.admin_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        fail_msg("admin API connect: %s", strerror(errno));
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    char *cert = ts_test_pki_cert(&e->pki, "admin"), *key = ts_test_pki_key(&e->pki, "admin");
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_load_verify_locations(ctx, e->pki.ca, NULL) != 1)
        fail_msg("admin certificate: cannot load %s", cert);
    free(cert);
    free(key);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (SSL_connect(ssl) != 1) {
        char err[200];
        ERR_error_string_n(ERR_get_error(), err, sizeof err);
        fail_msg("admin API TLS: %s", err);
    }
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    ts_buf req = TS_BUF_INIT;
    ts_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUser-Agent: test_notices\r\n", method,
                  path);
    if (payload)
        ts_buf_printf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(payload), payload);
    else
        ts_buf_append_str(&req, "\r\n");
    free(payload);
    if (SSL_write(ssl, req.data, (int)req.len) != (int)req.len)
        fail_msg("admin API: cannot send %s %s", method, path);
    ts_buf_free(&req);
    http_resp r;
    memset(&r, 0, sizeof r);
    http_parser parser;
    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = &r;
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_body = on_body;
    s.on_message_complete = on_complete;
    char buf[16384];
    int n;
    while (!r.done && (n = SSL_read(ssl, buf, sizeof buf)) > 0)
        http_parser_execute(&parser, &s, buf, (size_t)n);
    if (!r.done)
        http_parser_execute(&parser, &s, NULL, 0);
    r.status = (int)parser.status_code;
    SSL_shutdown(ssl);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    if (!r.done)
        fail_msg("admin API: no complete answer to %s %s", method, path);
    if (out && r.body.len) {
        json_error_t je;
        *out = json_loadb((const char *)r.body.data, r.body.len, 0, &je);
        if (*out == NULL)
            fail_msg("admin API %s %s: answer is not JSON: %.*s", method, path, (int)r.body.len,
                     (const char *)r.body.data);
    }
    ts_buf_free(&r.body);
    return r.status;
}

static json_t *api_ok(env *e, const char *method, const char *path, const json_t *body)
{
    json_t *out;
    int status = api(e, method, path, body, &out);
    if (status < 200 || status >= 300) {
        char *txt = out ? json_dumps(out, JSON_COMPACT) : NULL;
        char msg[600];
        snprintf(msg, sizeof msg, "%s %s: HTTP %d %s", method, path, status, txt ? txt : "");
        free(txt);
        json_decref(out);
        fail_msg("%s", msg);
    }
    return out;
}

static json_t *jparse(const char *txt)
{
    json_error_t je;
    json_t *o = json_loads(txt, 0, &je);
    if (o == NULL)
        fail_msg("bad JSON in the test: %s (%s)", txt, je.text);
    return o;
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* POST /api/notices; the id in id_out. */
static void send_notice(env *e, const char *fields_json, const char *recipients_json, char *id_out, size_t size)
{
    json_t *fields = jparse(fields_json);
    if (!json_object_get(fields, "issuer")) /* required (docs/ADMIN-API.md) */
        json_object_set_new(fields, "issuer", json_string("Trung tâm Y tế khu vực Bình Xuyên"));
    json_t *body = json_pack("{s:o,s:o}", "notice", fields, "recipients", jparse(recipients_json));
    json_t *res = api_ok(e, "POST", "/api/notices", body);
    json_decref(body);
    snprintf(id_out, size, "%s", jstr(res, "id"));
    json_decref(res);
    assert_true(id_out[0] != '\0');
}

static void send_urgency(env *e, const char *subject, const char *urgency, const char *recipients_json, char *id,
                         size_t size)
{
    char fields[512];
    snprintf(fields, sizeof fields, "{\"subject\": \"%s\", \"urgency\": \"%s\", \"category\": \"emergency\"}", subject,
             urgency);
    send_notice(e, fields, recipients_json, id, size);
}

/* The handling record of one recipient, as GET /api/notices/{id} shows it
 * (NULL: not a recipient). */
static json_t *district_recipient(env *e, const char *notice, const char *code)
{
    char path[256];
    snprintf(path, sizeof path, "/api/notices/%s", notice);
    json_t *o = api_ok(e, "GET", path, NULL);
    json_t *found = NULL, *r;
    size_t i;
    json_array_foreach(json_object_get(o, "recipients"), i, r)
        if (strcmp(jstr(r, "station"), code) == 0)
            found = json_incref(r);
    json_decref(o);
    return found;
}

/* Waits until the district shows station's handling of notice in `state`. */
static json_t *wait_district_state(env *e, const char *notice, const char *code, const char *state, int timeout_ms)
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        json_t *r = district_recipient(e, notice, code);
        if (r != NULL && strcmp(jstr(r, "state"), state) == 0)
            return r;
        char seen[32];
        snprintf(seen, sizeof seen, "%s", r ? jstr(r, "state") : "(not a recipient)");
        json_decref(r);
        if (ts_test_now_ms() > end)
            fail_msg("the district shows %s's handling of %s as %s, not %s, after %d ms", code, notice, seen, state,
                     timeout_ms);
        ts_test_sleep_ms(100);
    }
}

/* The station directory: three records through the admin API, one through
 * `tramsyncctl record put`. */
static int ctl(env *e, char **out, ...);

static void put_directory(env *e)
{
    for (int i = 0; i < NST - 1; i++) {
        char path[128];
        snprintf(path, sizeof path, "/api/records/stations/%s", codes[i]);
        json_t *body = json_pack("{s:{s:s+,s:s,s:s}}", "fields", "name", "Trạm Y tế xã ", communes[i], "commune",
                                 communes[i], "commune_code", commune_codes[i]);
        if (body == NULL)
            fail_msg("json_pack");
        json_decref(api_ok(e, "POST", path, body));
        json_decref(body);
    }
    char *out = NULL;
    int rc = ctl(e, &out, "record", "put", "stations", XL, "name=Trạm Y tế xã Xuân Lãng", "commune=Xuân Lãng",
                 "commune_code=09004", NULL);
    if (rc != 0)
        fail_msg("tramsyncctl record put: exit %d: %s", rc, out ? out : "");
    free(out);
    json_t *o = api_ok(e, "GET", "/api/records/stations/xuanlang", NULL);
    char *txt = json_dumps(o, JSON_COMPACT);
    if (strstr(txt, "Xuân Lãng") == NULL || strstr(txt, "09004") == NULL)
        fail_msg("directory record of xuanlang: %s", txt);
    free(txt);
    json_decref(o);
}

/* ---------------------------------------------------------------- programs */

/* Runs a program with args (NULL-terminated va_list), stdout to *out,
 * stderr appended to <dir>/programs.log; extra environment in envs. */
static int run_prog(env *e, const char *prog, const char *const *envs, char **out, va_list ap)
{
    char *argv[64];
    int n = 0;
    argv[n++] = ts_test_bin(prog);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 62)
        argv[n++] = (char *)a;
    argv[n] = NULL;
    char *errlog = ts_xasprintf("%s/programs.log", e->dir);
    int pipefd[2];
    if (pipe(pipefd) != 0)
        fail_msg("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        close(pipefd[1]);
        int fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        for (int i = 0; envs && envs[i]; i++)
            putenv((char *)envs[i]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pipefd[1]);
    ts_buf b = TS_BUF_INIT;
    char chunk[4096];
    ssize_t r;
    uint64_t end = ts_test_now_ms() + 60000;
    for (;;) {
        struct pollfd pf = {pipefd[0], POLLIN, 0};
        uint64_t now = ts_test_now_ms();
        if (now >= end || poll(&pf, 1, (int)(end - now)) <= 0)
            break; /* the wait below kills it */
        if ((r = read(pipefd[0], chunk, sizeof chunk)) <= 0)
            break;
        ts_buf_append(&b, chunk, (size_t)r);
    }
    close(pipefd[0]);
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (ts_test_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("%s did not finish within 60 s", prog);
        }
        ts_test_sleep_ms(10);
    }
    ts_buf_append(&b, "", 1);
    if (out)
        *out = (char *)ts_buf_steal(&b, NULL);
    else
        ts_buf_free(&b);
    free(argv[0]);
    free(errlog);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* tramsyncctl with the admin certificate against this daemon. */
static int ctl(env *e, char **out, ...)
{
    char *url = ts_xasprintf("TRAMSYNC_ADMIN_URL=https://localhost:%d", e->d.admin_port);
    char *ca = ts_xasprintf("TRAMSYNC_CA=%s", e->pki.ca);
    char *cert = ts_test_pki_cert(&e->pki, "admin"), *key = ts_test_pki_key(&e->pki, "admin");
    char *ecert = ts_xasprintf("TRAMSYNC_ADMIN_CERT=%s", cert), *ekey = ts_xasprintf("TRAMSYNC_ADMIN_KEY=%s", key);
    const char *envs[] = {url, ca, ecert, ekey, "TRAMSYNC_USER=", NULL};
    va_list ap;
    va_start(ap, out);
    int rc = run_prog(e, "tramsyncctl", envs, out, ap);
    va_end(ap);
    free(url);
    free(ca);
    free(cert);
    free(key);
    free(ecert);
    free(ekey);
    return rc;
}

/* ---------------------------------------------------------------- station replicas */

/* Opens a station's replica read-only (the agent may be writing it). */
static ts_store *sta_open(ts_test_station *s)
{
    char *path = ts_xasprintf("%s/station.db", s->dir);
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = path;
    opt.role = TS_ROLE_STATION;
    opt.registry = ts_test_registry();
    opt.station = s->code;
    opt.read_only = true;
    ts_store *st = NULL;
    ts_error err;
    for (int i = 0; i < 50 && ts_store_open(&st, &opt, &err) < 0; i++)
        ts_test_sleep_ms(20);
    if (st == NULL)
        fail_msg("open %s: %s", path, err.msg);
    free(path);
    return st;
}

/* A record's fields at a station (NULL when it does not have it). */
static json_t *sta_fields(ts_test_station *s, const char *table, const char *id)
{
    ts_store *st = sta_open(s);
    json_t *out = ts_test_record_fields(st, table, id);
    ts_store_close(st);
    return out;
}

static bool sta_has(ts_test_station *s, const char *table, const char *id)
{
    json_t *o = sta_fields(s, table, id);
    json_decref(o);
    return o != NULL;
}

static json_t *wait_sta_record(ts_test_station *s, const char *table, const char *id, int timeout_ms)
{
    for (uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;;) {
        json_t *o = sta_fields(s, table, id);
        if (o != NULL)
            return o;
        if (ts_test_now_ms() > end)
            fail_msg("station %s did not get %s/%s within %d ms", s->code, table, id, timeout_ms);
        ts_test_sleep_ms(50);
    }
}

/* Every handling record a station holds must be its own; returns how many. */
static size_t sta_only_own_handling(ts_test_station *s)
{
    ts_store *st = sta_open(s);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    if (ts_store_list(st, "notice_recipients", NULL, 10000, true, &page, &err) < 0)
        fail_msg("list: %s", err.msg);
    for (uint32_t i = 0; i < page.n; i++) {
        char who[64];
        ts_recjson_text(&page.items[i].v, "station", who, sizeof who);
        if (strcmp(who, s->code) != 0)
            fail_msg("station %s holds %s's handling record %s", s->code, who, page.items[i].id);
    }
    size_t n = page.n;
    ts_change_page_free(&page);
    ts_store_close(st);
    return n;
}

/* ---------------------------------------------------------------- raw stations */

/* A station played by the test: the blocking protocol client plus a replica
 * of its own, so what it pushes is what a station store writes. */
typedef struct raw {
    env *e;
    char code[32];
    ts_tc c;
    ts_store *st;
    uint64_t batch;
    uint64_t pushed_lseq;
    bool connected;
} raw;

static void raw_connect(raw *r)
{
    char *cert = ts_test_pki_cert(&r->e->pki, r->code), *key = ts_test_pki_key(&r->e->pki, r->code);
    ts_tc_opts o = {cert, key, r->e->pki.ca, 0, 0};
    if (ts_tc_connect(&r->c, r->e->d.port, &o) < 0)
        fail_msg("%s: TLS connect: %s", r->code, r->c.error);
    free(cert);
    free(key);
    ts_msg w;
    if (ts_tc_hello(&r->c, r->code, ts_store_replica(r->st)->b, 0, "", r->pushed_lseq, &w) < 0)
        fail_msg("%s: HELLO: %s", r->code, r->c.error);
    assert_false(w.u.welcome.rekey);
    ts_msg_free(&w);
    r->connected = true;
}

static void raw_open(raw *r, env *e, const char *code)
{
    memset(r, 0, sizeof *r);
    r->e = e;
    snprintf(r->code, sizeof r->code, "%s", code);
    char name[64];
    snprintf(name, sizeof name, "raw-%s.db", code);
    r->st = ts_test_open(e->dir, name, TS_ROLE_STATION, code, NULL);
    raw_connect(r);
}

static void raw_disconnect(raw *r)
{
    if (r->connected)
        ts_tc_close(&r->c);
    r->connected = false;
}

static void raw_close(raw *r)
{
    raw_disconnect(r);
    if (r->st)
        ts_store_close(r->st);
    r->st = NULL;
}

/* Receives the next NOTICE (other frames skipped); 1, 0 on timeout. */
static int raw_notice(raw *r, ts_msg *m, int timeout_ms)
{
    uint64_t end = ts_test_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t now = ts_test_now_ms();
        if (now >= end)
            return 0;
        int rc = ts_tc_recv(&r->c, m, (int)(end - now));
        if (rc < 0)
            fail_msg("%s: session ended: %s", r->code, r->c.error);
        if (rc == 0)
            return 0;
        if (m->type == TS_MSG_NOTICE)
            return 1;
        if (m->type == TS_MSG_ERROR)
            fail_msg("%s: ERROR %s: %s", r->code, m->u.error.name, m->u.error.message);
        ts_msg_free(m);
    }
}

static void raw_expect_notice(raw *r, const char *id, ts_msg *m, int timeout_ms)
{
    if (raw_notice(r, m, timeout_ms) != 1)
        fail_msg("%s: no NOTICE %s within %d ms", r->code, id ? id : "", timeout_ms);
    if (id && strcmp(m->u.notice.id, id) != 0)
        fail_msg("%s: NOTICE %s, expected %s", r->code, m->u.notice.id, id);
}

/* Stores a NOTICE's records as a station does (no state change yet). */
static void raw_store(raw *r, const ts_msg *m)
{
    ts_actor server = {TS_ACTOR_SERVER, "district", NULL, "test"};
    ts_apply_result res[4];
    ts_error err;
    assert_true(m->u.notice.changes.n <= 4);
    if (ts_store_apply(r->st, &server, m->u.notice.changes.items, m->u.notice.changes.n, res, &err) < 0)
        fail_msg("%s: store NOTICE: %s", r->code, err.msg);
}

static void raw_notice_ack(raw *r, const ts_msg *m)
{
    ts_msg a;
    ts_msg_init(&a, TS_MSG_NOTICE_ACK);
    a.u.notice_ack.seq = m->u.notice.seq;
    a.u.notice_ack.id = m->u.notice.id;
    assert_int_equal(ts_tc_send(&r->c, &a), 0);
    ts_msg_free(&a);
}

/* Encodes a PUSH of everything pending at the raw station (after what the
 * district acknowledged); *upto the last lseq in it. Empty buffer: nothing. */
static void raw_push_bytes(raw *r, ts_buf *out, uint64_t *upto, uint32_t *count)
{
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    if (ts_store_pending(r->st, r->pushed_lseq, 100, &page, &err) < 0)
        fail_msg("%s: pending: %s", r->code, err.msg);
    *count = page.n;
    *upto = page.n ? page.items[page.n - 1].lseq : r->pushed_lseq;
    if (page.n > 0) {
        ts_msg m;
        ts_msg_init(&m, TS_MSG_PUSH);
        m.u.push.batch = ++r->batch;
        m.u.push.changes.items = page.items;
        m.u.push.changes.n = page.n;
        ts_msg_encode(&m, out);
        m.u.push.changes.n = 0; /* the page owns them */
        m.u.push.changes.items = NULL;
        ts_msg_free(&m);
    }
    ts_change_page_free(&page);
}

/* Sends encoded PUSH bytes and returns the PUSH_ACK (caller frees). */
static void raw_send_push(raw *r, const ts_buf *bytes, ts_msg *ack)
{
    assert_int_equal(ts_tc_send_raw(&r->c, bytes->data, bytes->len), 0);
    uint64_t end = ts_test_now_ms() + 15000;
    for (;;) {
        uint64_t now = ts_test_now_ms();
        if (now >= end)
            fail_msg("%s: no PUSH_ACK within 15 s", r->code);
        int rc = ts_tc_recv(&r->c, ack, (int)(end - now));
        if (rc < 0)
            fail_msg("%s: session ended: %s", r->code, r->c.error);
        if (rc == 1 && ack->type == TS_MSG_PUSH_ACK)
            break;
        if (rc == 1 && ack->type == TS_MSG_ERROR)
            fail_msg("%s: PUSH answered by ERROR %s", r->code, ack->u.error.message);
        if (rc == 1)
            ts_msg_free(ack);
    }
    if (ack->u.push_ack.code != 0)
        fail_msg("%s: PUSH refused whole: %s", r->code, ack->u.push_ack.message);
}

/* Pushes what is pending; expects one result of outcome `want` per change. */
static void raw_push(raw *r, ts_outcome want, uint32_t *rejected_code)
{
    ts_buf b = TS_BUF_INIT;
    uint64_t upto;
    uint32_t n;
    raw_push_bytes(r, &b, &upto, &n);
    assert_true(n > 0);
    ts_msg ack;
    raw_send_push(r, &b, &ack);
    assert_int_equal(ack.u.push_ack.nresults, n);
    for (uint32_t i = 0; i < n; i++) {
        const ts_push_result *res = &ack.u.push_ack.results[i];
        if (res->outcome != want)
            fail_msg("%s: push result %s (%s), expected %s", r->code, ts_outcome_name(res->outcome),
                     res->reason ? res->reason : "", ts_outcome_name(want));
        if (rejected_code)
            *rejected_code = (uint32_t)res->code;
    }
    ts_msg_free(&ack);
    ts_error err;
    assert_int_equal(ts_store_ack_pushed(r->st, upto, &err), 0);
    r->pushed_lseq = upto;
    ts_buf_free(&b);
}

/* PING -> PONG: every frame the district had queued before the PONG has
 * been received; any NOTICE among them counts into *notices. */
static void raw_sync_point(raw *r, int *notices, char (*ids)[64], int cap)
{
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PING);
    m.u.ping.nonce = 4242;
    assert_int_equal(ts_tc_send(&r->c, &m), 0);
    ts_msg_free(&m);
    uint64_t end = ts_test_now_ms() + 15000;
    for (;;) {
        uint64_t now = ts_test_now_ms();
        if (now >= end)
            fail_msg("%s: no PONG within 15 s", r->code);
        int rc = ts_tc_recv(&r->c, &m, (int)(end - now));
        if (rc < 0)
            fail_msg("%s: session ended: %s", r->code, r->c.error);
        if (rc == 0)
            continue;
        ts_msg_type t = m.type;
        if (t == TS_MSG_NOTICE) {
            if (ids && *notices < cap)
                snprintf(ids[*notices], 64, "%s", m.u.notice.id);
            (*notices)++;
        }
        bool pong = t == TS_MSG_PONG && m.u.ping.nonce == 4242;
        ts_msg_free(&m);
        if (pong)
            return;
    }
}

static const ts_change *notice_handling(const ts_msg *m)
{
    for (uint32_t i = 0; i < m->u.notice.changes.n; i++)
        if (strcmp(m->u.notice.changes.items[i].table, "notice_recipients") == 0)
            return &m->u.notice.changes.items[i];
    fail_msg("NOTICE %s without a handling record", m->u.notice.id);
    return NULL;
}

static void handling_text(const ts_msg *m, const char *field, char *out, size_t size)
{
    out[0] = '\0';
    ts_recjson_text(&notice_handling(m)->v, field, out, size);
}

/* ---------------------------------------------------------------- audit */

/* Audit entries at the district for pushes by `code` that changed `rid`
 * (one entry per change set names the records it changed). */
static int audit_changes(env *e, const char *code, const char *rid)
{
    char path[256];
    snprintf(path, sizeof path, "/api/audit?actor=%s&limit=1000", code);
    json_t *o = api_ok(e, "GET", path, NULL);
    char *needle = ts_xasprintf("notice_recipients/%s", rid);
    int n = 0;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(o, "entries"), i, a) {
        if (strcmp(jstr(a, "action"), "push") != 0)
            continue;
        const char *detail = jstr(a, "detail");
        bool named = false;
        for (const char *p = detail; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
            char after = p[strlen(needle)];
            if ((p == detail || p[-1] == ' ') && (after == '\0' || after == ' '))
                named = true;
        }
        if (named || strcmp(jstr(a, "record"), rid) == 0)
            n++;
    }
    free(needle);
    json_decref(o);
    return n;
}

/* ---------------------------------------------------------------- 1. fan-out */

static void test_fanout_all_communes_one(void **state)
{
    env *e = *state;
    env_start(e, NULL);
    put_directory(e);
    for (int i = 0; i < NST; i++)
        agent_start(e, codes[i]);

    char to_all[64], to_communes[64], to_one[64], barrier[64];
    send_notice(e,
                "{\"subject\": \"Kế hoạch tiêm chủng mở rộng tháng 12\", \"urgency\": \"thuong\", \"category\": "
                "\"programs\", \"doc_type\": \"ke_hoach\"}",
                "{\"all\": true}", to_all, sizeof to_all);
    /* chosen communes, through tramsyncctl: by name and by commune code */
    char *out = NULL;
    int rc = ctl(e, &out, "--json", "notice", "send", "--subject", "Giám sát ca sốt xuất huyết", "--urgency", "khan",
                 "--category", "prevention", "--communes", "Bình Nguyên,09004", NULL);
    if (rc != 0)
        fail_msg("tramsyncctl notice send: exit %d: %s", rc, out ? out : "");
    json_t *sent = jparse(out);
    free(out);
    snprintf(to_communes, sizeof to_communes, "%s", jstr(sent, "id"));
    assert_int_equal(json_array_size(json_object_get(sent, "recipients")), 2);
    json_decref(sent);
    send_notice(e, "{\"subject\": \"Mời tập huấn\", \"urgency\": \"thuong\", \"category\": \"training\"}",
                "{\"stations\": [\"binhtuyen\"]}", to_one, sizeof to_one);
    /* unknown communes and stations are refused, not sent to nobody */
    json_t *body = json_pack("{s:{s:s,s:s,s:s},s:{s:[s]}}", "notice", "subject", "x", "urgency", "khan", "category",
                             "emergency", "recipients", "communes", "Hương Canh");
    assert_int_equal(api(e, "POST", "/api/notices", body, NULL), 404);
    json_decref(body);
    /* a last notice to all: when a station has it, it has had everything before it */
    send_urgency(e, "Kết thúc đợt", "thuong", "{\"all\": true}", barrier, sizeof barrier);

    const bool want_communes[NST] = {true, false, false, true};
    const bool want_one[NST] = {false, false, true, false};
    for (int i = 0; i < NST; i++) {
        ts_test_station *s = &e->st[i];
        json_decref(wait_sta_record(s, "notices", barrier, 30000));
        assert_true(sta_has(s, "notices", to_all));
        if (sta_has(s, "notices", to_communes) != want_communes[i])
            fail_msg("%s %s the notice to Bình Nguyên and Xuân Lãng", codes[i], want_communes[i] ? "lacks" : "has");
        if (sta_has(s, "notices", to_one) != want_one[i])
            fail_msg("%s %s the notice to Bình Tuyền", codes[i], want_one[i] ? "lacks" : "has");
        assert_int_equal(sta_only_own_handling(s), 2 + want_communes[i] + want_one[i]);
    }
    /* the district: exactly the addressed stations, each delivered */
    json_t *o = api_ok(e, "GET", "/api/notices?limit=500", NULL);
    assert_int_equal(json_integer_value(json_object_get(o, "total")), 4);
    json_decref(o);
    for (int i = 0; i < NST; i++) {
        json_decref(wait_district_state(e, to_all, codes[i], "delivered", 20000));
        json_t *r = district_recipient(e, to_communes, codes[i]);
        assert_int_equal(r != NULL, want_communes[i]);
        json_decref(r);
        r = district_recipient(e, to_one, codes[i]);
        assert_int_equal(r != NULL, want_one[i]);
        json_decref(r);
    }
    json_decref(wait_district_state(e, to_one, BT, "delivered", 20000));
    /* LOGGING.md's example line is the daemon's */
    ts_test_doc_log_keys("docs/LOGGING.md", "event=notice_sent id=TB-", e->d.log, 1);
    e->passed = true;
}

/* ---------------------------------------------------------------- 2. offline, lifecycle */

/* Position of the agent's "notice_received" line for a notice in its log (-1: none). */
static long log_pos(const char *log, const char *needle)
{
    char *txt = ts_read_file(log, NULL);
    if (txt == NULL)
        return -1;
    char *p = strstr(txt, needle);
    long pos = p ? (long)(p - txt) : -1;
    free(txt);
    return pos;
}

static void test_offline_station_gets_notices_most_urgent_first(void **state)
{
    env *e = *state;
    env_start(e, NULL);
    put_directory(e);

    /* Xuân Lãng has never connected: four notices wait for it */
    static const char *const urg[] = {"thuong", "khan", "hoa_toc", "thuong_khan"};
    static const int order[] = {2, 3, 1, 0}; /* most urgent first */
    char ids[4][64];
    for (int i = 0; i < 4; i++) {
        char subject[64];
        snprintf(subject, sizeof subject, "Văn bản số %d", i + 1);
        send_urgency(e, subject, urg[i], "{\"stations\": [\"xuanlang\"]}", ids[i], sizeof ids[i]);
    }
    json_t *r = district_recipient(e, ids[2], XL);
    assert_string_equal(jstr(r, "state"), "sent");
    json_decref(r);
    raw xl;
    raw_open(&xl, e, XL);
    for (int i = 0; i < 4; i++) {
        ts_msg m;
        raw_expect_notice(&xl, NULL, &m, 10000);
        if (strcmp(m.u.notice.id, ids[order[i]]) != 0)
            fail_msg("NOTICE %d after WELCOME is %s (%s), expected %s (%s)", i, m.u.notice.id, m.u.notice.urgency,
                     ids[order[i]], urg[order[i]]);
        assert_string_equal(m.u.notice.urgency, urg[order[i]]);
        char st[24];
        handling_text(&m, "state", st, sizeof st);
        assert_string_equal(st, "sent");
        ts_msg_free(&m);
    }
    int more = 0;
    raw_sync_point(&xl, &more, NULL, 0);
    assert_int_equal(more, 0);
    raw_close(&xl);

    /* Bình Nguyên's agent, stopped while two notices are sent */
    agent_start(e, BN);
    agent_stop(e, BN);
    char urgent[64], routine[64];
    send_notice(e, "{\"subject\": \"Báo cáo nhanh thông tin dịch\", \"urgency\": \"thuong\", \"category\": \"prevention\"}",
                "{\"stations\": [\"binhnguyen\"]}", routine, sizeof routine);
    send_notice(e,
                "{\"subject\": \"Công điện phòng chống dịch cúm A/H5N1\", \"urgency\": \"hoa_toc\", \"category\":"
                " \"emergency\", \"doc_type\": \"cong_dien\", \"responsible\": \"Trưởng trạm\", \"task\": \"Giám sát"
                " gia cầm ốm chết\", \"deadline\": \"2030-01-05T17:00:00+07:00\", \"expected_result\": \"Báo cáo"
                " hằng ngày\"}",
                "{\"stations\": [\"binhnguyen\"]}", urgent, sizeof urgent);
    r = district_recipient(e, urgent, BN);
    assert_string_equal(jstr(r, "state"), "sent");
    json_decref(r);
    agent_start(e, BN);
    json_decref(wait_district_state(e, urgent, BN, "delivered", 20000));
    json_decref(wait_district_state(e, routine, BN, "delivered", 20000));
    /* the agent took the urgent one first */
    char n1[128], n2[128];
    snprintf(n1, sizeof n1, "event=notice_received station=binhnguyen notice=%s ", urgent);
    snprintf(n2, sizeof n2, "event=notice_received station=binhnguyen notice=%s ", routine);
    long p1 = log_pos(e->st[0].log, n1), p2 = log_pos(e->st[0].log, n2);
    if (p1 < 0 || p2 < 0 || p1 > p2)
        fail_msg("agent log: Hỏa tốc notice at %ld, Thường at %ld: expected both, Hỏa tốc first", p1, p2);

    /* acknowledged by name, in progress, done with a report: the district sees each */
    ts_test_station *bn = &e->st[0];
    char *out = NULL;
    int rc = ts_test_station_cli(bn, &out, "ack", urgent, "--by", "Nguyễn Văn An", NULL);
    if (rc != 0)
        fail_msg("tramsync ack: exit %d %s", rc, out);
    free(out);
    r = wait_district_state(e, urgent, BN, "acknowledged", 20000);
    assert_string_equal(jstr(r, "acknowledged_by"), "Nguyễn Văn An");
    json_decref(r);
    rc = ts_test_station_cli(bn, &out, "progress", urgent, "--state", "in_progress", "--note", "Đã giám sát 4 thôn",
                             NULL);
    if (rc != 0)
        fail_msg("tramsync progress: exit %d %s", rc, out);
    free(out);
    json_decref(wait_district_state(e, urgent, BN, "in_progress", 20000));
    rc = ts_test_station_cli(bn, &out, "progress", urgent, "--state", "done", "--report", "Không phát hiện gia cầm nhiễm bệnh",
                             "--by", "Nguyễn Văn An", NULL);
    if (rc != 0)
        fail_msg("tramsync progress done: exit %d %s", rc, out);
    free(out);
    json_decref(wait_district_state(e, urgent, BN, "done", 20000));

    /* tramsyncctl notice show: who and when */
    rc = ctl(e, &out, "--json", "notice", "show", urgent, NULL);
    if (rc != 0)
        fail_msg("tramsyncctl notice show: exit %d", rc);
    json_t *show = jparse(out);
    free(out);
    assert_int_equal(json_array_size(json_object_get(show, "recipients")), 1);
    json_t *h = json_array_get(json_object_get(show, "recipients"), 0);
    assert_string_equal(jstr(h, "state"), "done");
    assert_string_equal(jstr(h, "acknowledged_by"), "Nguyễn Văn An");
    assert_string_equal(jstr(h, "report"), "Không phát hiện gia cầm nhiễm bệnh");
    assert_string_equal(jstr(h, "progress_note"), "Đã giám sát 4 thôn");
    static const char *const times[] = {"sent_at", "delivered_at", "acknowledged_at", "progress_at", "done_at"};
    uint64_t prev = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t t;
        if (!ts_time_parse(jstr(h, times[i]), &t))
            fail_msg("%s is \"%s\"", times[i], jstr(h, times[i]));
        assert_true(t >= prev);
        prev = t;
    }
    assert_int_equal(json_integer_value(json_object_get(json_object_get(show, "counts"), "done")), 1);
    json_decref(show);
    rc = ctl(e, &out, "notice", "show", urgent, NULL);
    assert_int_equal(rc, 0);
    if (strstr(out, "Hoàn thành") == NULL || strstr(out, "Nguyễn Văn An") == NULL || strstr(out, BN) == NULL)
        fail_msg("tramsyncctl notice show does not say who finished it:\n%s", out);
    free(out);
    /* and the station's own view */
    rc = ts_test_station_cli(bn, &out, "--json", "notice", "show", urgent, NULL);
    assert_int_equal(rc, 0);
    json_t *mine = jparse(out);
    free(out);
    assert_string_equal(jstr(json_object_get(mine, "handling"), "state"), "done");
    assert_string_equal(jstr(json_object_get(mine, "notice"), "urgency"), "hoa_toc");
    json_decref(mine);
    e->passed = true;
}

/* ---------------------------------------------------------------- 3. escalation */

static void test_escalation_resends_unacknowledged_hoa_toc(void **state)
{
    env *e = *state;
    const char *sets[] = {"notices.ack_within_hoa_toc=3s", "notices.escalate_every=500ms", NULL};
    env_start(e, sets);
    put_directory(e);
    agent_start(e, BX); /* stores and delivers, never acknowledges */
    raw bn, xl;
    raw_open(&bn, e, BN); /* acknowledges at once */
    raw_open(&xl, e, XL); /* never answers */

    char id[64];
    uint64_t t_sent = ts_test_now_ms();
    send_urgency(e, "Công điện: ổ dịch tả", "hoa_toc", "{\"stations\": [\"binhnguyen\", \"binhxuyen\", \"xuanlang\"]}",
                 id, sizeof id);
    ts_msg first;
    raw_expect_notice(&xl, id, &first, 10000);
    uint64_t seq1 = first.u.notice.seq;
    ts_msg_free(&first);

    ts_msg m;
    raw_expect_notice(&bn, id, &m, 10000);
    raw_store(&bn, &m);
    raw_notice_ack(&bn, &m);
    ts_msg_free(&m);
    ts_error err;
    if (ts_station_transition(bn.st, id, "acknowledged", "Nguyễn Văn An", NULL, NULL, NULL, true, &err) < 0)
        fail_msg("acknowledge: %s", err.msg);
    raw_push(&bn, TS_OUTCOME_APPLIED, NULL);
    json_decref(wait_district_state(e, id, BX, "delivered", 10000));

    /* re-sent to Xuân Lãng, flagged */
    ts_msg again;
    raw_expect_notice(&xl, id, &again, 20000);
    uint64_t waited = ts_test_now_ms() - t_sent;
    if (waited < 1000)
        fail_msg("NOTICE re-sent after %llu ms, before the Hỏa tốc limit (3 s, sent_at to the second)",
                 (unsigned long long)waited);
    char escalated_at[40];
    handling_text(&again, "escalated_at", escalated_at, sizeof escalated_at);
    assert_true(escalated_at[0] != '\0');
    const ts_field *rc_field = ts_version_field(&notice_handling(&again)->v, "resend_count");
    assert_non_null(rc_field);
    json_t *count = ts_recjson_value(rc_field->value, rc_field->value_len);
    assert_int_equal(json_integer_value(count), 1);
    json_decref(count);
    assert_true(again.u.notice.seq > seq1);
    ts_msg_free(&again);

    /* ... and to Bình Xuyên's agent, which had only stored it: stored again, no new state change */
    char needle[160];
    snprintf(needle, sizeof needle, "event=notice_received station=binhxuyen notice=%s ", id);
    for (uint64_t end = ts_test_now_ms() + 20000; ts_test_file_count(e->st[1].log, needle) < 2;) {
        if (ts_test_now_ms() > end)
            fail_msg("agent binhxuyen did not receive the re-sent notice");
        ts_test_sleep_ms(50);
    }
    /* not to Bình Nguyên, which acknowledged in time */
    int extra = 0;
    raw_sync_point(&bn, &extra, NULL, 0);
    assert_int_equal(extra, 0);
    json_t *r = district_recipient(e, id, BN);
    assert_string_equal(jstr(r, "state"), "acknowledged");
    assert_null(json_object_get(r, "escalated_at"));
    json_decref(r);

    /* the district's view: /api/escalations and tramsyncctl escalations */
    char rid_xl[128], rid_bx[128], rid_bn[128];
    snprintf(rid_xl, sizeof rid_xl, "%s:%s", id, XL);
    snprintf(rid_bx, sizeof rid_bx, "%s:%s", id, BX);
    snprintf(rid_bn, sizeof rid_bn, "%s:%s", id, BN);
    json_t *esc = api_ok(e, "GET", "/api/escalations", NULL);
    bool seen_xl = false, seen_bx = false;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(esc, "items"), i, it) {
        const char *rid = jstr(it, "id");
        if (strcmp(rid, rid_xl) == 0)
            seen_xl = json_is_true(json_object_get(it, "escalated"));
        if (strcmp(rid, rid_bx) == 0)
            seen_bx = json_is_true(json_object_get(it, "escalated"));
        if (strcmp(rid, rid_bn) == 0)
            fail_msg("the acknowledged recipient is listed in /api/escalations");
    }
    assert_true(seen_xl);
    assert_true(seen_bx);
    assert_true(json_integer_value(json_object_get(esc, "escalated")) >= 2);
    json_decref(esc);
    char *out = NULL;
    int rc = ctl(e, &out, "escalations", NULL);
    assert_int_equal(rc, 0);
    if (strstr(out, rid_xl) == NULL || strstr(out, rid_bx) == NULL || strstr(out, rid_bn) != NULL)
        fail_msg("tramsyncctl escalations:\n%s", out);
    free(out);

    /* once, as ts_notices_escalate defines it: no third NOTICE over four more checks */
    int third = raw_notice(&xl, &m, 2000);
    if (third == 1) {
        char got[64];
        snprintf(got, sizeof got, "%s", m.u.notice.id);
        ts_msg_free(&m);
        fail_msg("a third NOTICE (%s) came: escalation re-sends more than once", got);
    }
    /* the re-sent NOTICE changed nothing at Bình Xuyên: one delivery in the audit */
    assert_int_equal(audit_changes(e, BX, rid_bx), 1);
    json_t *h = sta_fields(&e->st[1], "notice_recipients", rid_bx);
    assert_non_null(h);
    assert_string_equal(jstr(h, "state"), "delivered");
    assert_true(json_object_get(h, "escalated_at") != NULL);
    json_decref(h);
    raw_close(&bn);
    raw_close(&xl);
    e->passed = true;
}

/* ---------------------------------------------------------------- 4. redistribution */

static void test_report_redistributed_to_two_stations(void **state)
{
    env *e = *state;
    env_start(e, NULL);
    put_directory(e);
    for (int i = 0; i < NST; i++)
        agent_start(e, codes[i]);

    char *out = NULL;
    int rc = ts_test_station_cli(&e->st[0], &out, "--json", "report", "--kind", "outbreak_detection", "--subject",
                                 "Ổ dịch sốt xuất huyết thôn Đông", "--disease", "Sốt xuất huyết Dengue", "--cases", "3",
                                 "--deaths", "0", "--onset", "2026-12-01", "--location", "Thôn Đông",
                                 "--urgency", "thuong_khan", "--body", "3 ca dương tính NS1", "--by", "Nguyễn Văn An",
                                 NULL);
    if (rc != 0)
        fail_msg("tramsync report: exit %d %s", rc, out);
    json_t *rep = jparse(out);
    free(out);
    char report[128];
    snprintf(report, sizeof report, "%s", jstr(rep, "id"));
    json_decref(rep);
    char path[256];
    snprintf(path, sizeof path, "/api/records/reports/%s", report);
    for (uint64_t end = ts_test_now_ms() + 20000; api(e, "GET", path, NULL, NULL) != 200;) {
        if (ts_test_now_ms() > end)
            fail_msg("report %s did not reach the district", report);
        ts_test_sleep_ms(100);
    }
    /* unknown reports are refused */
    json_t *body = json_pack("{s:{s:[s]}}", "recipients", "stations", BX);
    assert_int_equal(api(e, "POST", "/api/reports/nosuch/redistribute", body, NULL), 404);
    json_decref(body);

    rc = ctl(e, &out, "--json", "notice", "redistribute", report, "--stations", "binhxuyen,xuanlang", "--urgency",
             "hoa_toc", NULL);
    if (rc != 0)
        fail_msg("tramsyncctl notice redistribute: exit %d %s", rc, out);
    json_t *res = jparse(out);
    free(out);
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(res, "id"));
    assert_string_equal(jstr(res, "source_report"), report);
    assert_int_equal(json_array_size(json_object_get(res, "recipients")), 2);
    json_decref(res);
    char barrier[64];
    send_urgency(e, "Kết thúc", "thuong", "{\"all\": true}", barrier, sizeof barrier);

    for (int i = 0; i < NST; i++) {
        ts_test_station *s = &e->st[i];
        json_decref(wait_sta_record(s, "notices", barrier, 30000));
        bool want = i == 1 || i == 3;
        json_t *n = sta_fields(s, "notices", id);
        if ((n != NULL) != want)
            fail_msg("%s %s the redistributed report", codes[i], want ? "lacks" : "has");
        if (n) {
            assert_string_equal(jstr(n, "source_report"), report);
            assert_string_equal(jstr(n, "source_station"), BN);
            assert_string_equal(jstr(n, "urgency"), "hoa_toc");
            assert_non_null(strstr(jstr(n, "subject"), "Ổ dịch sốt xuất huyết thôn Đông"));
            /* every epidemiological field travels, as data and as text */
            assert_string_equal(jstr(n, "disease"), "Sốt xuất huyết Dengue");
            assert_int_equal(json_integer_value(json_object_get(n, "cases")), 3);
            assert_non_null(json_object_get(n, "deaths"));
            assert_int_equal(json_integer_value(json_object_get(n, "deaths")), 0);
            assert_string_equal(jstr(n, "onset_date"), "2026-12-01");
            assert_string_equal(jstr(n, "location"), "Thôn Đông");
            const char *text = jstr(n, "body");
            static const char *const lines[] = {"Số ca mắc: 3\n", "Số tử vong: 0\n", "Ngày khởi phát: 01/12/2026\n",
                                                "Địa điểm: Thôn Đông\n", "Bệnh: Sốt xuất huyết Dengue\n",
                                                "Người báo cáo: Nguyễn Văn An\n", "Loại báo cáo: Báo cáo phát hiện ổ dịch\n"};
            for (size_t l = 0; l < sizeof lines / sizeof *lines; l++)
                if (strstr(text, lines[l]) == NULL)
                    fail_msg("the redistributed notice's body lacks \"%s\":\n%s", lines[l], text);
            /* the source station by its name, never its code; Vietnamese only */
            if (strstr(jstr(n, "subject"), "Trạm Y tế xã Bình Nguyên") == NULL || strstr(text, "Trạm Y tế xã Bình Nguyên") == NULL)
                fail_msg("the source station is not named: %s\n%s", jstr(n, "subject"), text);
            if (strstr(jstr(n, "subject"), BN) != NULL || strstr(text, BN) != NULL)
                fail_msg("the station's code shows in the notice: %s\n%s", jstr(n, "subject"), text);
            if (strstr(text, "Report") != NULL || strstr(text, "detection") != NULL)
                fail_msg("English in the Vietnamese notice:\n%s", text);
            if (strstr(text, "T0") != NULL || strstr(text, "+07:00") != NULL)
                fail_msg("a raw ISO time in the notice:\n%s", text);
        }
        json_decref(n);
        assert_int_equal(sta_only_own_handling(s), want ? 2 : 1);
        /* the report itself stays with its station and the district */
        assert_int_equal(sta_has(s, "reports", report), i == 0);
    }
    snprintf(path, sizeof path, "/api/notices/%s", id);
    json_t *show = api_ok(e, "GET", path, NULL);
    json_t *recips = json_object_get(show, "recipients");
    assert_int_equal(json_array_size(recips), 2);
    size_t k;
    json_t *r;
    json_array_foreach(recips, k, r) {
        const char *code = jstr(r, "station");
        assert_true(strcmp(code, BX) == 0 || strcmp(code, XL) == 0);
    }
    json_decref(show);
    json_decref(wait_district_state(e, id, BX, "delivered", 20000));
    json_decref(wait_district_state(e, id, XL, "delivered", 20000));
    e->passed = true;
}

/* ---------------------------------------------------------------- 5. duplicates */

static void test_duplicate_deliveries_change_state_once(void **state)
{
    env *e = *state;
    env_start(e, NULL);
    put_directory(e);
    raw bt;
    raw_open(&bt, e, BT);
    char id[64];
    send_urgency(e, "Kiểm tra công tác tiêm chủng", "thuong_khan", "{\"stations\": [\"binhtuyen\"]}", id, sizeof id);
    char rid[128];
    snprintf(rid, sizeof rid, "%s:%s", id, BT);

    /* stored, but neither NOTICE_ACK nor the delivery reaches the district:
     * the link drops; the next session brings the same NOTICE again */
    ts_msg m1, m2;
    raw_expect_notice(&bt, id, &m1, 10000);
    raw_store(&bt, &m1);
    raw_disconnect(&bt);
    raw_connect(&bt);
    raw_expect_notice(&bt, id, &m2, 10000);
    assert_int_equal(m2.u.notice.seq, m1.u.notice.seq);
    ts_actor server = {TS_ACTOR_SERVER, "district", NULL, "test"};
    ts_apply_result res[2];
    ts_error err;
    assert_int_equal(ts_store_apply(bt.st, &server, m2.u.notice.changes.items, 2, res, &err), 0);
    assert_int_equal(res[0].outcome, TS_OUTCOME_DUPLICATE);
    assert_int_equal(res[1].outcome, TS_OUTCOME_DUPLICATE);
    size_t marked = 0;
    assert_int_equal(ts_station_mark_delivered(bt.st, &marked, &err), 0);
    assert_int_equal(marked, 1);
    raw_notice_ack(&bt, &m2);
    ts_msg_free(&m2);

    /* the delivery pushed; its PUSH_ACK "lost": the same PUSH again */
    ts_buf push = TS_BUF_INIT;
    uint64_t upto;
    uint32_t n;
    raw_push_bytes(&bt, &push, &upto, &n);
    assert_int_equal(n, 1);
    ts_msg ack;
    raw_send_push(&bt, &push, &ack);
    assert_int_equal(ack.u.push_ack.results[0].outcome, TS_OUTCOME_APPLIED);
    ts_msg_free(&ack);
    raw_send_push(&bt, &push, &ack);
    assert_int_equal(ack.u.push_ack.results[0].outcome, TS_OUTCOME_DUPLICATE);
    ts_msg_free(&ack);
    ts_buf_free(&push);
    assert_int_equal(ts_store_ack_pushed(bt.st, upto, &err), 0);
    bt.pushed_lseq = upto;

    /* a new session: nothing pending for it any more */
    raw_disconnect(&bt);
    raw_connect(&bt);
    int pending = 0;
    raw_sync_point(&bt, &pending, NULL, 0);
    assert_int_equal(pending, 0);
    json_t *r = wait_district_state(e, id, BT, "delivered", 10000);
    json_decref(r);
    /* the first NOTICE stored once more (as if re-sent): nothing to do */
    assert_int_equal(ts_store_apply(bt.st, &server, m1.u.notice.changes.items, 2, res, &err), 0);
    assert_int_equal(ts_station_mark_delivered(bt.st, &marked, &err), 0);
    assert_int_equal(marked, 0);
    uint64_t npending = 0;
    assert_int_equal(ts_store_pending_count(bt.st, &npending), 0);
    assert_int_equal(npending, 0);
    ts_msg_free(&m1);

    /* acknowledged; pushed twice again */
    if (ts_station_transition(bt.st, id, "acknowledged", "Lê Văn Cường", NULL, NULL, NULL, true, &err) < 0)
        fail_msg("acknowledge: %s", err.msg);
    raw_push_bytes(&bt, &push, &upto, &n);
    assert_int_equal(n, 1);
    raw_send_push(&bt, &push, &ack);
    assert_int_equal(ack.u.push_ack.results[0].outcome, TS_OUTCOME_APPLIED);
    ts_msg_free(&ack);
    raw_send_push(&bt, &push, &ack);
    assert_int_equal(ack.u.push_ack.results[0].outcome, TS_OUTCOME_DUPLICATE);
    ts_msg_free(&ack);
    ts_buf_free(&push);
    assert_int_equal(ts_store_ack_pushed(bt.st, upto, &err), 0);
    bt.pushed_lseq = upto;

    r = wait_district_state(e, id, BT, "acknowledged", 10000);
    assert_string_equal(jstr(r, "acknowledged_by"), "Lê Văn Cường");
    json_decref(r);
    /* two state changes, two audited change sets naming the record */
    assert_int_equal(audit_changes(e, BT, rid), 2);
    /* and the district's copy holds this station's two writes, not four */
    char path[256];
    snprintf(path, sizeof path, "/api/records/notice_recipients/%s?meta=1", rid);
    json_t *rec = api_ok(e, "GET", path, NULL);
    json_t *vv = json_object_get(rec, "vv");
    if (!json_is_object(vv))
        fail_msg("GET %s has no vv", path);
    assert_int_equal(json_integer_value(json_object_get(vv, ts_store_replica(bt.st)->b)), 2);
    json_decref(rec);
    raw_close(&bt);
    e->passed = true;
}

/* ---------------------------------------------------------------- 6. transitions */

static void test_back_from_done_needs_a_reason(void **state)
{
    env *e = *state;
    env_start(e, NULL);
    put_directory(e);
    agent_start(e, BX);
    ts_test_station *bx = &e->st[1];
    char id[64];
    send_urgency(e, "Kiểm tra an toàn thực phẩm bếp ăn tập thể", "khan", "{\"stations\": [\"binhxuyen\"]}", id,
                 sizeof id);
    json_decref(wait_district_state(e, id, BX, "delivered", 20000));
    char *out = NULL;
    assert_int_equal(ts_test_station_cli(bx, &out, "ack", id, "--by", "Trần Thị Bình", NULL), 0);
    free(out);
    assert_int_equal(ts_test_station_cli(bx, &out, "progress", id, "--state", "done", "--report", "Đã kiểm tra 12 bếp",
                                         NULL),
                     0);
    free(out);
    json_decref(wait_district_state(e, id, BX, "done", 20000));

    /* the station CLI refuses going back without a reason */
    int rc = ts_test_station_cli(bx, &out, "--json", "progress", id, "--state", "in_progress", NULL);
    if (rc != 4 || strstr(out, "without a reason") == NULL)
        fail_msg("progress back from done without --reason: exit %d, %s (expected 4, \"without a reason\")", rc, out);
    free(out);
    rc = ts_test_station_cli(bx, &out, "progress", id, "--state", "acknowledged", NULL);
    assert_int_equal(rc, 4);
    free(out);
    char rid[128];
    snprintf(rid, sizeof rid, "%s:%s", id, BX);
    json_t *h = sta_fields(bx, "notice_recipients", rid);
    assert_string_equal(jstr(h, "state"), "done");
    json_decref(h);
    /* with a reason it reopens, and the district sees why */
    rc = ts_test_station_cli(bx, &out, "progress", id, "--state", "in_progress", "--reason", "Phát hiện thêm 2 bếp",
                             "--by", "Trần Thị Bình", NULL);
    if (rc != 0)
        fail_msg("reopen with --reason: exit %d %s", rc, out);
    free(out);
    json_t *r = wait_district_state(e, id, BX, "in_progress", 20000);
    assert_string_equal(jstr(r, "reopen_reason"), "Phát hiện thêm 2 bếp");
    json_decref(r);

    /* the district enforces the same rule on what a station pushes */
    raw xl;
    raw_open(&xl, e, XL);
    char id2[64];
    send_urgency(e, "Báo cáo thống kê tháng", "thuong", "{\"stations\": [\"xuanlang\"]}", id2, sizeof id2);
    ts_msg m;
    raw_expect_notice(&xl, id2, &m, 10000);
    raw_store(&xl, &m);
    ts_msg_free(&m);
    ts_error err;
    if (ts_station_transition(xl.st, id2, "done", "Hùng", NULL, "Đã gửi", NULL, true, &err) < 0)
        fail_msg("done: %s", err.msg);
    raw_push(&xl, TS_OUTCOME_APPLIED, NULL);
    char rid2[128];
    snprintf(rid2, sizeof rid2, "%s:%s", id2, XL);
    /* around the station's own check: the record written as any record */
    if (ts_test_put(xl.st, "notice_recipients", rid2, NULL, &err, "state=acknowledged", NULL) < 0)
        fail_msg("station write: %s", err.msg);
    uint32_t code = 0;
    raw_push(&xl, TS_OUTCOME_REJECTED, &code);
    assert_int_equal(code, (uint32_t)-TS_EINVALID_RECORD);
    r = district_recipient(e, id2, XL);
    assert_string_equal(jstr(r, "state"), "done");
    json_decref(r);
    if (ts_test_put(xl.st, "notice_recipients", rid2, NULL, &err, "state=in_progress", "reopen_reason=Số liệu sai",
                    NULL) < 0)
        fail_msg("station write: %s", err.msg);
    raw_push(&xl, TS_OUTCOME_APPLIED, NULL);
    r = district_recipient(e, id2, XL);
    assert_string_equal(jstr(r, "state"), "in_progress");
    assert_string_equal(jstr(r, "reopen_reason"), "Số liệu sai");
    json_decref(r);
    raw_close(&xl);
    e->passed = true;
}

/* ---------------------------------------------------------------- 7. during a catch-up */

#define CATCHUP_RECORDS 20000
#define CATCHUP_PAGE 200

/* A district database with many records every station pulls (the drug
 * catalogue), made before the daemon starts. */
static void make_big_district(env *e)
{
    char *path = ts_xasprintf("%s/district.db", e->dir);
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = path;
    opt.role = TS_ROLE_SERVER;
    opt.registry = ts_test_registry();
    opt.create = true;
    opt.synchronous = TS_SYNC_OFF;
    ts_store *st;
    ts_error err;
    if (ts_store_open(&st, &opt, &err) < 0)
        fail_msg("open %s: %s", path, err.msg);
    assert_int_equal(ts_store_begin(st, &err), 0);
    for (int i = 0; i < CATCHUP_RECORDS; i++) {
        char id[32], name[96];
        snprintf(id, sizeof id, "T%05d", i);
        snprintf(name, sizeof name, "name=Thuốc thử nghiệm số %d, viên nén bao phim", i);
        if (ts_test_put(st, "drug_catalog", id, NULL, &err, name, "active_ingredient=Paracetamol", "strength=500 mg",
                        "form=viên nén", "unit=viên", "essential=true", NULL) < 0)
            fail_msg("put %s: %s", id, err.msg);
    }
    assert_int_equal(ts_store_commit(st, &err), 0);
    ts_store_close(st);
    free(path);
}

typedef struct frame_event {
    ts_msg_type type;
    uint64_t at_ms;
    bool more;
} frame_event;

typedef struct puller {
    raw *r;
    pthread_t thread;
    frame_event *ev;
    size_t nev, cap;
    atomic_int pages;
    atomic_bool notice_seen;
    char notice_id[64];
    char error[512];
} puller;

static void puller_add(puller *p, ts_msg_type type, bool more)
{
    if (p->nev == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 256;
        p->ev = ts_xreallocarray(p->ev, p->cap, sizeof *p->ev);
    }
    p->ev[p->nev].type = type;
    p->ev[p->nev].at_ms = ts_test_now_ms();
    p->ev[p->nev].more = more;
    p->nev++;
}

/* Pulls from 0 page after page as fast as it can, noting when each frame
 * came; keeps listening for the NOTICE a little after the catch-up. */
static void *puller_main(void *arg)
{
    puller *p = arg;
    ts_tc *c = &p->r->c;
    uint64_t cursor = 0, end = ts_test_now_ms() + 120000;
    bool caught_up = false;
    uint64_t listen_until = 0;
    while (ts_test_now_ms() < end) {
        if (!caught_up) {
            ts_msg m;
            ts_msg_init(&m, TS_MSG_PULL);
            m.u.pull.since = cursor;
            m.u.pull.limit = CATCHUP_PAGE;
            if (ts_tc_send(c, &m) < 0) {
                snprintf(p->error, sizeof p->error, "PULL: %s", c->error);
                ts_msg_free(&m);
                return NULL;
            }
            ts_msg_free(&m);
        } else if (atomic_load(&p->notice_seen) || ts_test_now_ms() > listen_until) {
            return NULL;
        }
        /* until the answer to this PULL (or, once caught up, a NOTICE) */
        for (;;) {
            ts_msg m;
            int rc = ts_tc_recv(c, &m, 1000);
            if (rc < 0) {
                snprintf(p->error, sizeof p->error, "session ended: %s", c->error);
                return NULL;
            }
            if (rc == 0) {
                if (ts_test_now_ms() > end || (caught_up && ts_test_now_ms() > listen_until))
                    break;
                continue;
            }
            if (m.type == TS_MSG_NOTICE) {
                puller_add(p, TS_MSG_NOTICE, false);
                snprintf(p->notice_id, sizeof p->notice_id, "%s", m.u.notice.id);
                atomic_store(&p->notice_seen, true);
                ts_msg_free(&m);
                if (caught_up)
                    break;
                continue;
            }
            if (m.type == TS_MSG_CHANGES && !m.u.changes.live) {
                puller_add(p, TS_MSG_CHANGES, m.u.changes.more);
                cursor = m.u.changes.cursor;
                bool more = m.u.changes.more;
                ts_msg_free(&m);
                atomic_fetch_add(&p->pages, 1);
                if (!more) {
                    caught_up = true;
                    listen_until = ts_test_now_ms() + 10000;
                }
                break;
            }
            if (m.type == TS_MSG_ERROR) {
                snprintf(p->error, sizeof p->error, "ERROR %s: %s", m.u.error.name, m.u.error.message);
                ts_msg_free(&m);
                return NULL;
            }
            ts_msg_free(&m);
        }
    }
    return NULL;
}

/* ms since the epoch of a log line's "ts=...Z" */
static uint64_t log_line_ms(const char *line)
{
    const char *p = strstr(line, "ts=");
    if (p == NULL)
        return 0;
    char iso[32];
    snprintf(iso, sizeof iso, "%.19sZ", p + 3);
    uint64_t ms;
    if (!ts_time_parse(iso, &ms))
        return 0;
    return ms + (uint64_t)atoi(p + 3 + 20);
}

static void test_urgent_notice_during_catch_up(void **state)
{
    env *e = *state;
    make_big_district(e);
    char page[64];
    snprintf(page, sizeof page, "server.pull_page=%d", CATCHUP_PAGE);
    const char *sets[] = {page, NULL};
    env_start(e, sets);
    put_directory(e);
    const int total_pages = CATCHUP_RECORDS / CATCHUP_PAGE;

    /* a station played by the test pulls everything, frame by frame */
    raw xl;
    raw_open(&xl, e, XL);
    puller p;
    memset(&p, 0, sizeof p);
    p.r = &xl;
    pthread_create(&p.thread, NULL, puller_main, &p);
    for (uint64_t end = ts_test_now_ms() + 60000; atomic_load(&p.pages) < 5;) {
        if (ts_test_now_ms() > end || p.error[0])
            break;
        ts_test_sleep_ms(5);
    }
    int pages_before = atomic_load(&p.pages);
    uint64_t t0 = ts_test_now_ms();
    char id[64];
    send_urgency(e, "Công điện hỏa tốc giữa lúc đồng bộ", "hoa_toc", "{\"stations\": [\"xuanlang\"]}", id, sizeof id);
    uint64_t t1 = ts_test_now_ms();
    pthread_join(p.thread, NULL);
    if (p.error[0])
        fail_msg("puller: %s", p.error);
    if (pages_before < 5)
        fail_msg("the catch-up was too quick to test (%d pages before the notice)", pages_before);
    if (!atomic_load(&p.notice_seen))
        fail_msg("the Hỏa tốc notice never reached the station");
    assert_string_equal(p.notice_id, id);
    size_t pages = 0, pages_after_send = 0, notice_at = 0, last_page = 0;
    bool after = false;
    for (size_t i = 0; i < p.nev; i++) {
        if (p.ev[i].type == TS_MSG_NOTICE) {
            notice_at = i;
            after = true;
            continue;
        }
        pages++;
        last_page = i;
        if (!after && p.ev[i].at_ms >= t1)
            pages_after_send++;
    }
    uint64_t latency = p.ev[notice_at].at_ms - t0;
    fprintf(stderr, "catch-up: %zu pages of %d; notice sent after page %d (POST took %llu ms), arrived after %llu ms "
                    "with %zu pages received in between; %zu pages still to come\n",
            pages, CATCHUP_PAGE, pages_before, (unsigned long long)(t1 - t0), (unsigned long long)latency,
            pages_after_send, last_page > notice_at ? last_page - notice_at : 0);
    assert_true(pages >= (size_t)total_pages);
    /* it did not wait behind the bulk transfer: it came while pages were
     * still to come, and at most the pages already on their way got ahead */
    if (notice_at > last_page)
        fail_msg("the notice arrived only after the whole catch-up (%zu pages)", pages);
    if (pages_after_send > 3)
        fail_msg("%zu CHANGES pages overtook the notice after it was sent", pages_after_send);
    free(p.ev);
    raw_close(&xl);

    /* the same with a real agent catching up */
    ts_test_station *bn = station(e, BN);
    ts_test_station_start(bn);
    for (uint64_t end = ts_test_now_ms() + 60000; ts_test_file_count(bn->log, "event=pulled ") < 5;) {
        if (ts_test_now_ms() > end)
            fail_msg("agent binhnguyen did not start catching up");
        ts_test_sleep_ms(5);
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint64_t wall0 = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
    char id2[64];
    send_urgency(e, "Công điện hỏa tốc 2", "hoa_toc", "{\"stations\": [\"binhnguyen\"]}", id2, sizeof id2);
    gettimeofday(&tv, NULL);
    uint64_t wall1 = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
    char needle[160];
    snprintf(needle, sizeof needle, "event=notice_received station=binhnguyen notice=%s ", id2);
    if (!ts_test_log_wait(bn->log, needle, 30000))
        fail_msg("agent binhnguyen did not receive the notice");
    char last_id[32];
    snprintf(last_id, sizeof last_id, "T%05d", CATCHUP_RECORDS - 1);
    json_decref(wait_sta_record(bn, "drug_catalog", last_id, 120000));
    /* its log: pages before and after the notice */
    char *txt = ts_read_file(bn->log, NULL);
    assert_non_null(txt);
    int before_notice_after_send = 0, after_notice = 0;
    bool seen = false;
    uint64_t notice_ms = 0;
    for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
        if (strstr(line, needle)) {
            seen = true;
            notice_ms = log_line_ms(line);
        } else if (strstr(line, "event=pulled ") && strstr(line, "live=false")) {
            if (seen)
                after_notice++;
            else if (log_line_ms(line) >= wall1)
                before_notice_after_send++;
        }
    }
    free(txt);
    fprintf(stderr, "agent catch-up: notice stored %lld ms after it was sent (POST took %lld ms), %d pages stored "
                    "after the POST returned and before it, %d after\n",
            (long long)notice_ms - (long long)wall0, (long long)wall1 - (long long)wall0, before_notice_after_send,
            after_notice);
    if (after_notice == 0)
        fail_msg("the agent got the notice only after its whole catch-up");
    if (before_notice_after_send > 4)
        fail_msg("%d pages overtook the notice at the agent", before_notice_after_send);
    json_decref(wait_district_state(e, id2, BN, "delivered", 30000));
    e->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fanout_all_communes_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offline_station_gets_notices_most_urgent_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escalation_resends_unacknowledged_hoa_toc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_redistributed_to_two_stations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_deliveries_change_state_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_back_from_done_needs_a_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_urgent_notice_during_catch_up, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
