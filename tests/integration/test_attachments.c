/* Notice attachments end to end: the real tramsyncd (the ASan build) on
 * 127.0.0.1, real `tramsync run` station agents and the station CLI, the
 * admin API over HTTPS (the test PKI's admin certificate, or a viewer's or
 * an operator's login) and tramsyncctl. Every test starts its own daemon in
 * its own directory and stops it (and its agents) with SIGTERM at the end,
 * expecting a clean exit (so ASan's leak check runs on the attachment
 * paths); every wait has a deadline; a test that overruns TEST_LIMIT_S
 * kills its processes and the binary exits.
 *
 *  1. fan-out: a notice with two attachments (every byte value; a
 *     Vietnamese file name) to two of three stations, one of them offline
 *     until after it was sent: both receive both,
 *     `tramsync attachment save` (by number, full id and name) writes the
 *     very bytes sent; the third station holds no attachment record at all
 *  2. limits and all-or-nothing: each refusal (count, size, base64, empty,
 *     names, duplicates, MIME, unknown keys, not a list) is 422 BAD_VALUE
 *     naming the attachment, and writes nothing (notice and attachment
 *     counts unchanged); exactly 256 KiB and five of them pass; a body over
 *     [admin] max_body is 413
 *  3. download: bytes, Content-Type, Content-Disposition (filename and
 *     filename*), Repr-Digest, sandbox CSP; a viewer can download; 404s;
 *     every download audited; bytes damaged in the district's database are
 *     refused (500 STORAGE), not served
 *  4. roles: a viewer cannot send a notice with attachments (403, audited,
 *     nothing written); an operator can
 *  5. station safety: forged attachment records (bytes not matching their
 *     SHA-256) applied to a station's replica are refused; bytes corrupted
 *     in the replica file are reported and never saved
 *  6. `attachment save` never overwrites without --force, replaces with
 *     it, saves into a folder under the attachment's name (default ".")
 *  7. tramsyncctl notice send --attach (two files), the 256 KiB limit
 *     checked before anything is uploaded, notice show lists attachments */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "common/ts_buf.h"
#include "common/ts_hlc.h"
#include "common/ts_mp.h"
#include "common/ts_recjson.h"
#include "common/ts_record.h"
#include "common/ts_registry.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_http.h"
#include "tests/support/ts_test_pki.h"
#include "tests/support/ts_test_station.h"
#include "tests/support/ts_test_store.h"

#define TEST_LIMIT_S 300
#define SYNC_WAIT_MS 30000

#define BN "binhnguyen"
#define BX "binhxuyen"
#define XL "xuanlang"
#define NST 3
#define PASSWORD "mat-khau-thu-nghiem"
#define CAP (256 * 1024)
#define VN_NAME "Công văn khẩn.pdf"
/* its Content-Disposition forms: ASCII fallback (one "_" per non-ASCII
 * character) and RFC 8187 */
#define VN_ASCII "C_ng v_n kh_n.pdf"
#define VN_8187 "C%C3%B4ng%20v%C4%83n%20kh%E1%BA%A9n.pdf"
/* in attachments the tests damage on purpose (one byte of it changed) */
#define MARKER "TRAMSYNC-MARKER-7f3a9c"

static const char *const codes[NST] = {BN, BX, XL};
static const char *const communes[NST] = {"Bình Nguyên", "Bình Xuyên", "Xuân Lãng"};

/* ---------------------------------------------------------------- environment */

typedef struct env {
    char *dir;
    ts_test_pki pki;
    ts_test_daemon d;
    bool daemon_made;
    ts_test_station st[NST];
    bool st_made[NST];
    char token_viewer[128];
    char token_operator[128];
    bool passed;
} env;

static env *volatile g_env;

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_attachments: a test ran past its time limit; its processes were killed\n";
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
    e->dir = ts_tmpdir_make("attachments");
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

static void login(env *e, const char *user, char *token, size_t size)
{
    char *body = ts_xasprintf("{\"username\":\"%s\",\"password\":\"%s\"}", user, PASSWORD);
    ts_th_opts o = {e->pki.ca, NULL, NULL, NULL};
    ts_th_resp r;
    if (ts_th_call(e->d.admin_port, &o, "POST", "/api/login", NULL, "application/json", body, &r) < 0)
        fail_msg("login %s: no answer", user);
    free(body);
    const char *t = json_string_value(json_object_get(r.json, "token"));
    if (r.status != 200 || t == NULL)
        fail_msg("login %s: %d %s", user, r.status, r.body);
    snprintf(token, size, "%s", t);
    ts_th_resp_free(&r);
}

/* Starts the daemon (users viewer1 and operator1 when asked). */
static void env_start(env *e, bool users)
{
    if (users) {
        assert_int_equal(ts_test_add_user(e->dir, "viewer1", "viewer", PASSWORD), 0);
        assert_int_equal(ts_test_add_user(e->dir, "operator1", "operator", PASSWORD), 0);
    }
    const char *sets[] = {"server.synchronous=off", "admin.targets_every=0", NULL};
    ts_test_daemon_start(&e->d, e->dir, &e->pki, sets);
    e->daemon_made = true;
    if (e->d.admin_port <= 0)
        fail_msg("the daemon has no admin port");
    if (users) {
        login(e, "viewer1", e->token_viewer, sizeof e->token_viewer);
        login(e, "operator1", e->token_operator, sizeof e->token_operator);
    }
}

static ts_test_station *station(env *e, int i)
{
    if (!e->st_made[i]) {
        ts_test_station_make(&e->st[i], e->dir, codes[i], &e->pki, e->d.port, NULL);
        e->st_made[i] = true;
    }
    return &e->st[i];
}

/* Starts a station's agent and waits until it is connected. */
static void agent_start(env *e, int i)
{
    ts_test_station *s = station(e, i);
    int before = ts_test_file_count(s->log, "event=connected ");
    ts_test_station_start(s);
    for (uint64_t end = ts_test_now_ms() + 30000; ts_test_file_count(s->log, "event=connected ") <= before;) {
        if (ts_test_now_ms() > end)
            fail_msg("agent %s did not connect within 30 s", codes[i]);
        ts_test_sleep_ms(50);
    }
}

static void agent_stop(env *e, int i)
{
    int rc = ts_test_station_stop(station(e, i), 15000);
    if (rc != 0)
        fail_msg("agent %s stopped with status %d (log %s)", codes[i], rc, e->st[i].log);
}

/* Stops every running agent and the daemon; each must exit cleanly (no
 * leak or error found by the sanitizers on the way out). */
static void env_finish(env *e)
{
    for (int i = 0; i < NST; i++)
        if (e->st_made[i] && e->st[i].pid > 0)
            agent_stop(e, i);
    int rc = ts_test_daemon_stop(&e->d, SIGTERM, 20000);
    if (rc != 0)
        fail_msg("tramsyncd stopped with status %d (log %s)", rc, e->d.log);
}

/* ---------------------------------------------------------------- data */

static char *b64(const void *data, size_t len)
{
    char *out = ts_xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    if (!ts_sha256_hex(data, len, out))
        fail_msg("SHA-256");
}

/* base64 of the raw SHA-256, as Repr-Digest carries it */
static char *sha256_b64(const void *data, size_t len)
{
    unsigned char md[32];
    unsigned int n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        fail_msg("SHA-256");
    return b64(md, 32);
}

/* len bytes holding every byte value (the first 256 are 0..255) */
static uint8_t *all_bytes(size_t len)
{
    uint8_t *p = ts_xmalloc(len);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i ^ (i >> 8) ^ (i >> 16));
    return p;
}

/* something that looks like a small PDF, with UTF-8 text and binary bytes */
static uint8_t *pdf_like(size_t *len)
{
    ts_buf b = TS_BUF_INIT;
    ts_buf_append_str(&b, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Title (Công văn khẩn về phòng chống dịch) >>\n");
    static const uint8_t raw[] = {0x00, 0x01, 0xff, 0xfe, 0x80, 0x0d, 0x0a};
    for (int i = 0; i < 300; i++) {
        ts_buf_printf(&b, "%d 0 obj << /Length %d >> stream\n", i + 2, i * 7);
        ts_buf_append(&b, raw, sizeof raw);
        ts_buf_append_str(&b, " endstream\n");
    }
    ts_buf_append_str(&b, "%%EOF\n");
    return ts_buf_steal(&b, len);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
        fail_msg("cannot write %s", path);
}

static uint8_t *find_bytes(uint8_t *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return hay + i;
    return NULL;
}

/* Changes one byte of a notice_attachments record's bytes straight in a
 * store file (its `records` row, fields blob), through SQLite: the byte at
 * offset `at` of the first occurrence of marker in the blob is replaced. */
static void corrupt_record(const char *dbpath, const char *id, const char *marker, size_t at, char byte)
{
    sqlite3 *db;
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        fail_msg("open %s: %s", dbpath, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT fields FROM records WHERE tbl = 'notice_attachments' AND id = ?1", -1, &q,
                           NULL) != SQLITE_OK)
        fail_msg("prepare: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_ROW)
        fail_msg("no row for %s in %s", id, dbpath);
    size_t blob_len = (size_t)sqlite3_column_bytes(q, 0);
    uint8_t *blob = ts_xmalloc(blob_len);
    memcpy(blob, sqlite3_column_blob(q, 0), blob_len);
    sqlite3_finalize(q);
    uint8_t *p = find_bytes(blob, blob_len, marker);
    if (p == NULL)
        fail_msg("the bytes of %s are not in its record's fields blob in %s", id, dbpath);
    p[at] = (uint8_t)byte;
    if (sqlite3_prepare_v2(db, "UPDATE records SET fields = ?2 WHERE tbl = 'notice_attachments' AND id = ?1", -1, &q,
                           NULL) != SQLITE_OK)
        fail_msg("prepare: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, blob, (int)blob_len, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE || sqlite3_changes(db) != 1)
        fail_msg("update %s: %s", id, sqlite3_errmsg(db));
    sqlite3_finalize(q);
    sqlite3_close(db);
    free(blob);
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* The file at path holds exactly len bytes equal to data. */
static void expect_file(const char *path, const void *data, size_t len)
{
    size_t got;
    char *txt = ts_read_file(path, &got);
    if (txt == NULL)
        fail_msg("%s was not written", path);
    if (got != len)
        fail_msg("%s: %zu bytes, expected %zu", path, got, len);
    if (memcmp(txt, data, len) != 0) {
        size_t i = 0;
        while (i < len && (uint8_t)txt[i] == ((const uint8_t *)data)[i])
            i++;
        fail_msg("%s: byte %zu differs from what was sent", path, i);
    }
    free(txt);
}

/* No file in folder has a name holding needle (left-over temporaries). */
static void expect_no_file_like(const char *folder, const char *needle)
{
    DIR *d = opendir(folder);
    if (d == NULL)
        fail_msg("cannot list %s", folder);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, needle) != NULL) {
            char name[300];
            snprintf(name, sizeof name, "%s", de->d_name);
            closedir(d);
            fail_msg("%s holds %s", folder, name);
        }
    closedir(d);
}

static int files_in(const char *folder)
{
    DIR *d = opendir(folder);
    if (d == NULL)
        fail_msg("cannot list %s", folder);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static char *make_folder(env *e, const char *name)
{
    char *p = ts_xasprintf("%s/%s", e->dir, name);
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", p, strerror(errno));
    return p;
}

static json_t *jparse(const char *txt, const char *what)
{
    json_error_t je;
    json_t *o = txt ? json_loads(txt, 0, &je) : NULL;
    if (o == NULL)
        fail_msg("%s: not JSON: %s", what, txt ? txt : "(nothing)");
    return o;
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static json_int_t jint(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* ---------------------------------------------------------------- admin API */

typedef enum { AS_NONE, AS_ADMIN, AS_OPERATOR, AS_VIEWER } as_t;

/* One request on a fresh connection: the admin certificate, or a login's
 * bearer token. No answer may be a 5xx; an error answer must be
 * {"error": {"code", "message"}}. */
static ts_th_resp http(env *e, as_t as, const char *method, const char *path, const char *body)
{
    char *cert = NULL, *key = NULL;
    ts_th_opts o = {e->pki.ca, NULL, NULL, NULL};
    char headers[256] = "";
    if (as == AS_ADMIN) {
        cert = ts_test_pki_cert(&e->pki, "admin");
        key = ts_test_pki_key(&e->pki, "admin");
        o.cert = cert;
        o.key = key;
    } else if (as != AS_NONE) {
        snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\n",
                 as == AS_VIEWER ? e->token_viewer : e->token_operator);
    }
    ts_th_resp r;
    int rc = ts_th_call(e->d.admin_port, &o, method, path, headers[0] ? headers : NULL, body ? "application/json" : NULL,
                        body, &r);
    free(cert);
    free(key);
    if (rc < 0)
        fail_msg("%s %s: no answer from the admin API", method, path);
    if (r.status >= 500)
        fail_msg("%s %s: %d %.300s", method, path, r.status, r.body);
    if (r.status >= 400) {
        json_t *err = json_object_get(r.json, "error");
        if (!json_is_string(json_object_get(err, "code")) || !json_is_string(json_object_get(err, "message")))
            fail_msg("%s %s: error %d without {error:{code,message}}: %.300s", method, path, r.status, r.body);
    }
    return r;
}

static ts_th_resp http_json(env *e, as_t as, const char *method, const char *path, const json_t *body)
{
    char *txt = json_dumps(body, JSON_COMPACT);
    if (txt == NULL)
        fail_msg("json_dumps");
    ts_th_resp r = http(e, as, method, path, txt);
    free(txt);
    return r;
}

/* GET as the admin, 200 expected; the JSON answer (caller frees). */
static json_t *get_ok(env *e, const char *path)
{
    ts_th_resp r = http(e, AS_ADMIN, "GET", path, NULL);
    if (r.status != 200 || r.json == NULL)
        fail_msg("GET %s: %d %.300s", path, r.status, r.body);
    json_t *o = json_incref(r.json);
    ts_th_resp_free(&r);
    return o;
}

/* The station directory, so notices can name the stations. */
static void put_directory(env *e)
{
    for (int i = 0; i < NST; i++) {
        char path[128];
        snprintf(path, sizeof path, "/api/records/stations/%s", codes[i]);
        json_t *body = json_pack("{s:{s:s+,s:s}}", "fields", "name", "Trạm Y tế xã ", communes[i], "commune", communes[i]);
        ts_th_resp r = http_json(e, AS_ADMIN, "POST", path, body);
        if (r.status != 200)
            fail_msg("POST %s: %d %s", path, r.status, r.body);
        ts_th_resp_free(&r);
        json_decref(body);
    }
}

/* {"name", "mime" (when not NULL), "data": base64} */
static json_t *att(const char *name, const char *mime, const void *data, size_t len)
{
    char *d = b64(data, len);
    json_t *a = json_pack("{s:s,s:s}", "name", name, "data", d);
    if (a == NULL)
        fail_msg("json_pack (name %s)", name);
    if (mime)
        json_object_set_new(a, "mime", json_string(mime));
    free(d);
    return a;
}

static json_t *att_text(const char *name, const char *mime, const char *text)
{
    return att(name, mime, text, strlen(text));
}

/* A POST /api/notices body; stations and attachments are taken (either may
 * be NULL: no "stations" means BN alone, no attachments means no key). */
static json_t *notice_req(const char *subject, json_t *stations, json_t *attachments)
{
    json_t *fields = json_pack("{s:s,s:s,s:s,s:s}", "subject", subject, "urgency", "khan", "category", "emergency",
                               "issuer", "Trung tâm Y tế khu vực Bình Xuyên");
    if (stations == NULL)
        stations = json_pack("[s]", BN);
    json_t *body = json_pack("{s:o,s:{s:o}}", "notice", fields, "recipients", "stations", stations);
    if (body == NULL)
        fail_msg("json_pack");
    if (attachments != NULL)
        json_object_set_new(body, "attachments", attachments);
    return body;
}

/* Sends a notice (201 expected) as `as`; its id in id, the answer returned. */
static json_t *send_ok(env *e, as_t as, json_t *body, char *id, size_t size)
{
    ts_th_resp r = http_json(e, as, "POST", "/api/notices", body);
    json_decref(body);
    if (r.status != 201 || r.json == NULL)
        fail_msg("POST /api/notices: %d %.400s", r.status, r.body);
    snprintf(id, size, "%s", jstr(r.json, "id"));
    if (id[0] == '\0')
        fail_msg("POST /api/notices: no id in %.300s", r.body);
    json_t *o = json_incref(r.json);
    ts_th_resp_free(&r);
    return o;
}

/* One attachment of a 201 answer or of GET /api/notices/{id} is what was
 * sent: its id "<notice>:<n>", name, MIME type, size and SHA-256. */
static void expect_listed(const json_t *a, const char *notice, int n, const char *name, const char *mime,
                          const void *data, size_t len)
{
    char want_id[160], sum[65];
    snprintf(want_id, sizeof want_id, "%s:%d", notice, n);
    sha256_hex(data, len, sum);
    if (strcmp(jstr(a, "id"), want_id) != 0 || strcmp(jstr(a, "name"), name) != 0 || strcmp(jstr(a, "mime"), mime) != 0 ||
        jint(a, "size") != (json_int_t)len || strcmp(jstr(a, "sha256"), sum) != 0) {
        char *txt = json_dumps(a, JSON_COMPACT);
        fail_msg("attachment listed as %s, expected id %s, name %s, mime %s, size %zu, sha256 %s", txt, want_id, name,
                 mime, len, sum);
    }
}

static json_int_t notices_total(env *e)
{
    json_t *o = get_ok(e, "/api/notices?limit=500");
    json_int_t n = jint(o, "total");
    json_decref(o);
    return n;
}

/* notice_attachments records at the district, as the admin API lists them. */
static size_t district_attachments(env *e)
{
    json_t *o = get_ok(e, "/api/records/notice_attachments?limit=1000");
    if (json_is_true(json_object_get(o, "more")))
        fail_msg("more than 1000 attachment records");
    size_t n = json_array_size(json_object_get(o, "records"));
    json_decref(o);
    return n;
}

/* The item of GET /api/notices for a notice (caller frees). */
static json_t *list_item(env *e, const char *id)
{
    json_t *o = get_ok(e, "/api/notices?limit=500");
    json_t *found = NULL, *it;
    size_t i;
    json_array_foreach(json_object_get(o, "notices"), i, it)
        if (strcmp(jstr(it, "id"), id) == 0)
            found = json_incref(it);
    json_decref(o);
    if (found == NULL)
        fail_msg("notice %s is not in GET /api/notices", id);
    return found;
}

/* Whether the audit holds an entry (action, table) for record by actor
 * (actor_prefix: how its name starts) whose detail holds detail_has. */
static bool audited(env *e, const char *action, const char *table, const char *record, const char *actor_prefix,
                    const char *detail_has)
{
    char path[256];
    snprintf(path, sizeof path, "/api/audit?limit=1000&action=%s%s%s", action, table ? "&table=" : "", table ? table : "");
    json_t *o = get_ok(e, path);
    bool found = false;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(o, "entries"), i, a) {
        if (record && strcmp(jstr(a, "record"), record) != 0)
            continue;
        if (actor_prefix && strncmp(jstr(a, "actor"), actor_prefix, strlen(actor_prefix)) != 0)
            continue;
        if (detail_has && strstr(jstr(a, "detail"), detail_has) == NULL)
            continue;
        found = true;
    }
    json_decref(o);
    return found;
}

/* ---------------------------------------------------------------- station replicas */

static ts_store *sta_open(ts_test_station *s, bool read_only)
{
    char *path = ts_xasprintf("%s/station.db", s->dir);
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = path;
    opt.role = TS_ROLE_STATION;
    opt.registry = ts_test_registry();
    opt.station = s->code;
    opt.read_only = read_only;
    ts_store *st = NULL;
    ts_error err;
    for (int i = 0; i < 50 && ts_store_open(&st, &opt, &err) < 0; i++)
        ts_test_sleep_ms(20);
    if (st == NULL)
        fail_msg("open %s: %s", path, err.msg);
    free(path);
    return st;
}

/* A record's fields at a station as JSON (NULL when it does not have it). */
static json_t *sta_fields(ts_test_station *s, const char *table, const char *id)
{
    ts_store *st = sta_open(s, true);
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

/* The bytes of an attachment record in a station's replica (NULL when
 * absent), read straight from the store. */
static uint8_t *sta_bytes(ts_test_station *s, const char *id, size_t *len)
{
    ts_store *st = sta_open(s, true);
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change c;
    ts_error err;
    uint8_t *out = NULL;
    if (ts_store_get(st, "notice_attachments", id, &c, &arena, &err) == 0) {
        const ts_field *f = ts_version_field(&c.v, "content");
        msgpack_object o;
        if (f == NULL || ts_mp_scalar(f->value, f->value_len, &o) < 0 || o.type != MSGPACK_OBJECT_BIN)
            fail_msg("%s: attachment %s has no bytes", s->code, id);
        *len = o.via.bin.size;
        out = ts_xmalloc(*len ? *len : 1);
        memcpy(out, o.via.bin.ptr, *len);
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    ts_store_close(st);
    return out;
}

/* Records of a table a station holds, deleted ones included. */
static uint32_t sta_count(ts_test_station *s, const char *table)
{
    ts_store *st = sta_open(s, true);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    if (ts_store_list(st, table, NULL, 10000, true, &page, &err) < 0)
        fail_msg("list %s: %s", table, err.msg);
    uint32_t n = page.n;
    ts_change_page_free(&page);
    ts_store_close(st);
    return n;
}

/* Waits until a station holds the notice, its handling record and its
 * attachments 1..n. */
static void wait_sta_notice(ts_test_station *s, const char *notice, int n)
{
    uint64_t end = ts_test_now_ms() + SYNC_WAIT_MS;
    for (;;) {
        char rid[200];
        snprintf(rid, sizeof rid, "%s:%s", notice, s->code);
        bool all = sta_has(s, "notices", notice) && sta_has(s, "notice_recipients", rid);
        for (int i = 1; all && i <= n; i++) {
            char id[200];
            snprintf(id, sizeof id, "%s:%d", notice, i);
            all = sta_has(s, "notice_attachments", id);
        }
        if (all)
            return;
        if (ts_test_now_ms() > end)
            fail_msg("station %s did not get notice %s with its %d attachments within %d ms", s->code, notice, n,
                     SYNC_WAIT_MS);
        ts_test_sleep_ms(100);
    }
}

/* `tramsync --json attachment save ...`: the exit status; the JSON answer
 * (success or {"error"}) in *out (caller frees). */
static int save(ts_test_station *s, json_t **out, const char *notice, const char *which, const char *path, bool force)
{
    char *txt = NULL;
    int rc;
    if (path && force)
        rc = ts_test_station_cli(s, &txt, "--json", "attachment", "save", notice, which, path, "--force", NULL);
    else if (path)
        rc = ts_test_station_cli(s, &txt, "--json", "attachment", "save", notice, which, path, NULL);
    else if (force)
        rc = ts_test_station_cli(s, &txt, "--json", "attachment", "save", notice, which, "--force", NULL);
    else
        rc = ts_test_station_cli(s, &txt, "--json", "attachment", "save", notice, which, NULL);
    if (out)
        *out = txt && txt[0] ? json_loads(txt, 0, NULL) : NULL;
    free(txt);
    return rc;
}

static void save_ok(ts_test_station *s, const char *notice, const char *which, const char *path, bool force,
                    const char *expect_path)
{
    json_t *o = NULL;
    int rc = save(s, &o, notice, which, path, force);
    if (rc != 0) {
        char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
        fail_msg("%s: attachment save %s %s %s%s: exit %d %s", s->code, notice, which, path ? path : "(default)",
                 force ? " --force" : "", rc, txt ? txt : "");
    }
    if (expect_path && strcmp(jstr(o, "path"), expect_path) != 0)
        fail_msg("%s: attachment save wrote %s, expected %s", s->code, jstr(o, "path"), expect_path);
    json_decref(o);
}

/* A refused save: non-zero exit and an error whose message holds needle. */
static void save_refused(ts_test_station *s, const char *notice, const char *which, const char *path, bool force,
                         const char *needle)
{
    json_t *o = NULL;
    int rc = save(s, &o, notice, which, path, force);
    const char *msg = jstr(json_object_get(o, "error"), "message");
    if (rc == 0)
        fail_msg("%s: attachment save %s %s %s%s succeeded, expected a refusal (%s)", s->code, notice, which,
                 path ? path : "(default)", force ? " --force" : "", needle);
    if (needle && strstr(msg, needle) == NULL)
        fail_msg("%s: attachment save %s %s refused with \"%s\", expected it to say \"%s\"", s->code, notice, which, msg,
                 needle);
    json_decref(o);
}

/* `tramsync --json notice show ID` (caller frees). */
static json_t *sta_show(ts_test_station *s, const char *notice)
{
    char *txt = NULL;
    int rc = ts_test_station_cli(s, &txt, "--json", "notice", "show", notice, NULL);
    if (rc != 0)
        fail_msg("%s: notice show %s: exit %d %s", s->code, notice, rc, txt ? txt : "");
    json_t *o = jparse(txt, "tramsync notice show");
    free(txt);
    return o;
}

/* ---------------------------------------------------------------- programs */

/* Runs a program (NULL-terminated args) with extra environment; its stdout
 * in *out and stderr in *err (caller frees). Killed after 60 s. */
static int run_prog(env *e, const char *prog, const char *const *envs, char **out, char **err, const char *const *args)
{
    char *argv[64];
    int n = 0;
    argv[n++] = ts_test_bin(prog);
    for (int i = 0; args[i] && n < 62; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    char *errpath = ts_xasprintf("%s/prog-stderr.txt", e->dir);
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
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
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
    *out = (char *)ts_buf_steal(&b, NULL);
    *err = ts_read_file(errpath, NULL);
    if (*err == NULL)
        *err = ts_xstrdup("");
    free(argv[0]);
    free(errpath);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* tramsyncctl with the admin certificate against this daemon. */
static int ctl(env *e, char **out, char **err, const char *const *args)
{
    char *url = ts_xasprintf("TRAMSYNC_ADMIN_URL=https://localhost:%d", e->d.admin_port);
    char *ca = ts_xasprintf("TRAMSYNC_CA=%s", e->pki.ca);
    char *cert = ts_test_pki_cert(&e->pki, "admin"), *key = ts_test_pki_key(&e->pki, "admin");
    char *ecert = ts_xasprintf("TRAMSYNC_ADMIN_CERT=%s", cert), *ekey = ts_xasprintf("TRAMSYNC_ADMIN_KEY=%s", key);
    /* English: this test reads what tramsyncctl says about attachments,
     * test_ctl_text its Vietnamese */
    const char *envs[] = {url, ca, ecert, ekey, "TRAMSYNC_USER=", "LC_ALL=en_US.UTF-8", NULL};
    int rc = run_prog(e, "tramsyncctl", envs, out, err, args);
    free(url);
    free(ca);
    free(cert);
    free(key);
    free(ecert);
    free(ekey);
    return rc;
}

/* The admin API's request counter (GET /api/overview counts itself). */
static json_int_t admin_requests(env *e)
{
    json_t *o = get_ok(e, "/api/overview");
    json_int_t n = jint(json_object_get(o, "service"), "admin_requests");
    json_decref(o);
    if (n <= 0)
        fail_msg("GET /api/overview: no service.admin_requests");
    return n;
}

/* ---------------------------------------------------------------- 1. fan-out */

static void test_fanout_to_two_of_three(void **state)
{
    env *e = *state;
    env_start(e, false);
    put_directory(e);
    /* Bình Xuyên is offline when the notice goes: it catches up later */
    agent_start(e, 0);
    agent_start(e, 2);

    size_t blen = 70000, plen;
    uint8_t *bin = all_bytes(blen);
    uint8_t *pdf = pdf_like(&plen);
    bool seen[256] = {false};
    for (size_t i = 0; i < blen; i++)
        seen[bin[i]] = true;
    for (int v = 0; v < 256; v++)
        assert_true(seen[v]);
    char id[128];
    json_t *res = send_ok(e, AS_ADMIN,
                          notice_req("Công điện khẩn: phòng chống sốt xuất huyết", json_pack("[s,s]", BN, BX),
                                     json_pack("[o,o]", att("so-lieu.bin", NULL, bin, blen),
                                               att(VN_NAME, "application/pdf", pdf, plen))),
                          id, sizeof id);
    json_t *listed = json_object_get(res, "attachments");
    assert_int_equal(json_array_size(listed), 2);
    expect_listed(json_array_get(listed, 0), id, 1, "so-lieu.bin", "application/octet-stream", bin, blen);
    expect_listed(json_array_get(listed, 1), id, 2, VN_NAME, "application/pdf", pdf, plen);
    assert_int_equal(json_array_size(json_object_get(res, "recipients")), 2);
    json_decref(res);

    /* a district write every station sees, made after the notice: CHANGES
     * go in sequence order, so a station holding it has been offered all
     * that was written before it */
    ts_th_resp r = http(e, AS_ADMIN, "POST", "/api/records/stations/" XL,
                        "{\"fields\":{\"name\":\"Trạm Y tế xã Xuân Lãng\",\"commune\":\"Xuân Lãng\","
                        "\"population\":11120}}");
    assert_int_equal(r.status, 200);
    ts_th_resp_free(&r);
    agent_start(e, 1);

    char *out_dir = make_folder(e, "saved");
    for (int i = 0; i < 2; i++) {
        ts_test_station *s = station(e, i);
        wait_sta_notice(s, id, 2);
        char id1[160], id2[160];
        snprintf(id1, sizeof id1, "%s:1", id);
        snprintf(id2, sizeof id2, "%s:2", id);
        /* the replica holds the very bytes */
        size_t n;
        uint8_t *got = sta_bytes(s, id1, &n);
        assert_non_null(got);
        assert_int_equal(n, blen);
        assert_memory_equal(got, bin, blen);
        free(got);
        got = sta_bytes(s, id2, &n);
        assert_non_null(got);
        assert_int_equal(n, plen);
        assert_memory_equal(got, pdf, plen);
        free(got);
        /* notice show lists both, checked */
        json_t *show = sta_show(s, id);
        json_t *files = json_object_get(show, "attachments");
        if (json_array_size(files) != 2)
            fail_msg("%s: notice show lists %zu attachments", s->code, json_array_size(files));
        expect_listed(json_array_get(files, 0), id, 1, "so-lieu.bin", "application/octet-stream", bin, blen);
        expect_listed(json_array_get(files, 1), id, 2, VN_NAME, "application/pdf", pdf, plen);
        for (size_t k = 0; k < 2; k++)
            if (!json_is_true(json_object_get(json_array_get(files, k), "verified")))
                fail_msg("%s: attachment %zu not verified", s->code, k + 1);
        json_decref(show);
        /* saved by number, by full id and by file name (into a folder) */
        char *p1 = ts_xasprintf("%s/%s-1.bin", out_dir, s->code);
        char *p2 = ts_xasprintf("%s/%s-2.pdf", out_dir, s->code);
        char *folder = ts_xasprintf("%s/%s", out_dir, s->code);
        char *in_folder = ts_xasprintf("%s/" VN_NAME, folder);
        mkdir(folder, 0700);
        save_ok(s, id, "1", p1, false, p1);
        expect_file(p1, bin, blen);
        save_ok(s, id, id2, p2, false, p2);
        expect_file(p2, pdf, plen);
        save_ok(s, id, VN_NAME, folder, false, in_folder);
        expect_file(in_folder, pdf, plen);
        free(p1);
        free(p2);
        free(folder);
        free(in_folder);
    }

    /* the third station: the barrier arrived, no attachment ever did */
    ts_test_station *xl = station(e, 2);
    for (uint64_t end = ts_test_now_ms() + SYNC_WAIT_MS;;) {
        json_t *f = sta_fields(xl, "stations", XL);
        bool there = f && jint(f, "population") == 11120;
        json_decref(f);
        if (there)
            break;
        if (ts_test_now_ms() > end)
            fail_msg("xuanlang did not get the directory update within %d ms", SYNC_WAIT_MS);
        ts_test_sleep_ms(100);
    }
    assert_int_equal(sta_count(xl, "notice_attachments"), 0);
    assert_false(sta_has(xl, "notices", id));
    char *px = ts_xasprintf("%s/xl.bin", out_dir);
    save_refused(xl, id, "1", px, false, NULL);
    assert_false(file_exists(px));
    free(px);

    /* the district shows them, and counts them in the list */
    char path[256];
    snprintf(path, sizeof path, "/api/notices/%s", id);
    json_t *o = get_ok(e, path);
    listed = json_object_get(o, "attachments");
    assert_int_equal(json_array_size(listed), 2);
    expect_listed(json_array_get(listed, 0), id, 1, "so-lieu.bin", "application/octet-stream", bin, blen);
    expect_listed(json_array_get(listed, 1), id, 2, VN_NAME, "application/pdf", pdf, plen);
    json_decref(o);
    json_t *item = list_item(e, id);
    assert_int_equal(jint(item, "attachment_count"), 2);
    json_decref(item);
    assert_int_equal(district_attachments(e), 2);

    env_finish(e);
    free(out_dir);
    free(bin);
    free(pdf);
    e->passed = true;
}

/* ---------------------------------------------------------------- 2. limits, all or nothing */

typedef struct refusal {
    const char *what;
    json_t *attachments; /* the whole "attachments" value */
    const char *needle1, *needle2;
    int status; /* 0: 422 BAD_VALUE */
} refusal;

static void test_limits_and_all_or_nothing(void **state)
{
    env *e = *state;
    env_start(e, false);
    put_directory(e);

    /* the limits the console and tramsyncctl check before uploading */
    json_t *labels = get_ok(e, "/api/labels");
    json_t *limits = json_object_get(labels, "limits");
    assert_int_equal(jint(limits, "attachments"), 5);
    assert_int_equal(jint(limits, "attachment_bytes"), CAP);
    json_int_t max_body = jint(limits, "max_body");
    assert_int_equal(max_body, 2 * 1024 * 1024);
    json_decref(labels);

    json_int_t n0 = notices_total(e);
    size_t a0 = district_attachments(e);
    assert_int_equal(n0, 0);
    assert_int_equal(a0, 0);

    static const char ok_text[] = "Ghi chú: họp giao ban thứ Hai";
    size_t big_len = CAP + 1;
    uint8_t *big = all_bytes(big_len);
    char long_name[1024] = "";
    for (int i = 0; i < 197; i++)
        strcat(long_name, "ệ");
    strcat(long_name, ".txt"); /* 201 characters */
    char wide_name[1024] = "";
    for (int i = 0; i < 67; i++)
        strcat(wide_name, "ệ"); /* 67 characters, 201 bytes: too long for some file systems to save beside */
    json_t *six = json_array();
    for (int i = 0; i < 6; i++) {
        char name[32];
        snprintf(name, sizeof name, "tep-%d.txt", i + 1);
        json_array_append_new(six, att_text(name, "text/plain", ok_text));
    }
    json_t *nul_name = json_pack("{s:o,s:s}", "name", json_stringn("a\0b.txt", 7), "data", "QUJD");
    refusal cases[] = {
        {"six attachments", six, "at most 5", NULL, 0},
        {"256 KiB + 1 byte",
         json_pack("[o,o]", att_text("ghi-chu.txt", "text/plain", ok_text), att("lon.bin", NULL, big, big_len)),
         "attachment 2", "limit", 0},
        {"data not base64",
         json_pack("[o,{s:s,s:s}]", att_text("ghi-chu.txt", NULL, ok_text), "name", "x.bin", "data", "@@@@"),
         "attachment 2", "base64", 0},
        {"base64 without its padding",
         json_pack("[o,{s:s,s:s}]", att_text("ghi-chu.txt", NULL, ok_text), "name", "x.bin", "data", "QUJDRA"),
         "attachment 2", "base64", 0},
        {"empty data", json_pack("[o,{s:s,s:s}]", att_text("ghi-chu.txt", NULL, ok_text), "name", "x.bin", "data", ""),
         "attachment 2", "empty", 0},
        {"name with /",
         json_pack("[o,o]", att_text("ghi-chu.txt", NULL, ok_text), att_text("thu-muc/ke-hoach.txt", NULL, ok_text)),
         "attachment 2", "/", 0},
        {"name with \\",
         json_pack("[o,o]", att_text("ghi-chu.txt", NULL, ok_text), att_text("..\\ke-hoach.txt", NULL, ok_text)),
         "attachment 2", "\\", 0},
        {"name ..", json_pack("[o,o]", att_text("ghi-chu.txt", NULL, ok_text), att_text("..", NULL, ok_text)),
         "attachment 2", "..", 0},
        {"name .", json_pack("[o,o]", att_text("ghi-chu.txt", NULL, ok_text), att_text(".", NULL, ok_text)),
         "attachment 2", "not a file name", 0},
        {"name with U+202E",
         json_pack("[o,o]", att_text("ghi-chu.txt", NULL, ok_text),
                   att_text("hoa-don-\xe2\x80\xae" "fdp.exe", NULL, ok_text)),
         "attachment 2", "direction", 0},
        {"name with U+2067",
         json_pack("[o,o]", att_text("ghi-chu.txt", NULL, ok_text), att_text("x\xe2\x81\xa7y.txt", NULL, ok_text)),
         "attachment 2", "direction", 0},
        {"name with U+200F",
         json_pack("[o,o]", att_text("ghi-chu.txt", NULL, ok_text), att_text("x\xe2\x80\x8fy.txt", NULL, ok_text)),
         "attachment 2", "direction", 0},
        {"name with U+061C",
         json_pack("[o,o]", att_text("ghi-chu.txt", NULL, ok_text), att_text("x\xd8\x9cy.txt", NULL, ok_text)),
         "attachment 2", "direction", 0},
        {"name with a newline",
         json_pack("[o,o]", att_text("ghi-chu.txt", NULL, ok_text), att_text("dong-1\ndong-2.txt", NULL, ok_text)),
         "attachment 2", "control", 0},
        /* jansson refuses \u0000 in any string: the body is not read at all */
        {"name with NUL", json_pack("[o,o]", att_text("ghi-chu.txt", NULL, ok_text), nul_name), "u0000", NULL, 400},
        {"name of 201 characters",
         json_pack("[o,o]", att_text("ghi-chu.txt", NULL, ok_text), att_text(long_name, NULL, ok_text)),
         "attachment 2", "200", 0},
        {"name of 201 bytes",
         json_pack("[o,o]", att_text("ghi-chu.txt", NULL, ok_text), att_text(wide_name, NULL, ok_text)),
         "attachment 2", "bytes", 0},
        {"names differing in case",
         json_pack("[o,o]", att_text("Bao-cao.txt", NULL, ok_text), att_text("bao-cao.TXT", NULL, ok_text)),
         "attachment 2", "same name", 0},
        {"mime pdf", json_pack("[o,o]", att_text("ghi-chu.txt", NULL, ok_text), att_text("x.pdf", "pdf", ok_text)),
         "attachment 2", "MIME", 0},
        {"mime with two slashes",
         json_pack("[o,o]", att_text("ghi-chu.txt", NULL, ok_text), att_text("x.pdf", "application/pdf/x", ok_text)),
         "attachment 2", "MIME", 0},
        {"unknown key",
         json_pack("[o,{s:s,s:s,s:i}]", att_text("ghi-chu.txt", NULL, ok_text), "name", "x.txt", "data", "QUJD", "size",
                   3),
         "attachment 2", "unknown key", 0},
        {"no name", json_pack("[o,{s:s}]", att_text("ghi-chu.txt", NULL, ok_text), "data", "QUJD"), "attachment 2",
         NULL, 0},
        {"data a number", json_pack("[o,{s:s,s:i}]", att_text("ghi-chu.txt", NULL, ok_text), "name", "x.txt", "data", 5),
         "attachment 2", NULL, 0},
        {"an attachment that is not an object", json_pack("[o,s]", att_text("ghi-chu.txt", NULL, ok_text), "x.txt"),
         "attachment 2", NULL, 0},
        {"attachments an object", json_pack("{s:s,s:s}", "name", "x.txt", "data", "QUJD"), "list", NULL, 0},
        {"attachments a string", json_string("QUJD"), "list", NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        refusal *c = &cases[i];
        if (c->attachments == NULL)
            fail_msg("case %s: json_pack failed", c->what);
        json_t *body = notice_req("Thông báo có tệp đính kèm", NULL, c->attachments);
        ts_th_resp r = http_json(e, AS_ADMIN, "POST", "/api/notices", body);
        json_decref(body);
        const json_t *err = json_object_get(r.json, "error");
        const char *msg = jstr(err, "message");
        int want = c->status ? c->status : 422;
        if (r.status != want || (want == 422 && strcmp(jstr(err, "code"), "BAD_VALUE") != 0))
            fail_msg("%s: expected %d%s, got %d %.300s", c->what, want, want == 422 ? " BAD_VALUE" : "", r.status,
                     r.body);
        if (strstr(msg, c->needle1) == NULL || (c->needle2 && strstr(msg, c->needle2) == NULL))
            fail_msg("%s: the refusal \"%s\" does not say \"%s\"%s%s", c->what, msg, c->needle1,
                     c->needle2 ? " and " : "", c->needle2 ? c->needle2 : "");
        ts_th_resp_free(&r);
        /* nothing written: no notice, no recipients, no attachment */
        json_int_t n = notices_total(e);
        size_t a = district_attachments(e);
        if (n != n0 || a != a0)
            fail_msg("%s: refused, yet notices %lld -> %lld, attachments %zu -> %zu", c->what, (long long)n0,
                     (long long)n, a0, a);
    }
    /* base64 wrapped in lines, as base64(1) and most mailers write it */
    {
        size_t wlen = 1000;
        uint8_t *w = all_bytes(wlen);
        char *flat = b64(w, wlen);
        ts_buf wrapped = TS_BUF_INIT;
        for (size_t k = 0, n = strlen(flat); k < n; k += 76) {
            ts_buf_append(&wrapped, flat + k, n - k < 76 ? n - k : 76);
            ts_buf_append_str(&wrapped, "\r\n");
        }
        ts_buf_append(&wrapped, "", 1);
        char wid[128];
        json_t *wres = send_ok(e, AS_ADMIN,
                               notice_req("Base64 xuống dòng", NULL,
                                          json_pack("[{s:s,s:s}]", "name", "xuong-dong.bin", "data",
                                                    (const char *)wrapped.data)),
                               wid, sizeof wid);
        expect_listed(json_array_get(json_object_get(wres, "attachments"), 0), wid, 1, "xuong-dong.bin",
                      "application/octet-stream", w, wlen);
        json_decref(wres);
        ts_buf_free(&wrapped);
        free(flat);
        free(w);
        n0++;
        a0++;
        assert_int_equal(notices_total(e), n0);
        assert_int_equal(district_attachments(e), a0);
    }

    /* a valid notice with a bad attachment: the notice's own refusal path
     * (a bad urgency) writes no attachment either */
    json_t *bad_notice = notice_req("Thông báo sai mức khẩn", NULL, json_pack("[o]", att_text("a.txt", NULL, ok_text)));
    json_object_set_new(json_object_get(bad_notice, "notice"), "urgency", json_string("rat-gap"));
    ts_th_resp r = http_json(e, AS_ADMIN, "POST", "/api/notices", bad_notice);
    json_decref(bad_notice);
    if (r.status != 422)
        fail_msg("a notice with a bad urgency: %d %.300s", r.status, r.body);
    ts_th_resp_free(&r);
    assert_int_equal(notices_total(e), n0);
    assert_int_equal(district_attachments(e), a0);
    /* nor did any refusal leave a recipient record (one per notice sent,
     * each to one station) */
    json_t *recips = get_ok(e, "/api/records/notice_recipients?limit=1000");
    assert_int_equal(json_array_size(json_object_get(recips, "records")), n0);
    json_decref(recips);

    /* exactly 256 KiB: accepted, whole */
    char id[128];
    json_t *res = send_ok(e, AS_ADMIN,
                          notice_req("Tệp đúng 256 KiB", NULL, json_pack("[o]", att("vua-du.bin", NULL, big, CAP))), id,
                          sizeof id);
    assert_int_equal(json_array_size(json_object_get(res, "attachments")), 1);
    expect_listed(json_array_get(json_object_get(res, "attachments"), 0), id, 1, "vua-du.bin",
                  "application/octet-stream", big, CAP);
    json_decref(res);
    assert_int_equal(notices_total(e), n0 + 1);
    assert_int_equal(district_attachments(e), a0 + 1);
    /* five of them: within the default max_body */
    json_t *five = json_array();
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "phan-%d.bin", i + 1);
        big[0] = (uint8_t)i; /* five different files */
        json_array_append_new(five, att(name, NULL, big, CAP));
    }
    res = send_ok(e, AS_ADMIN, notice_req("Năm tệp 256 KiB", NULL, five), id, sizeof id);
    assert_int_equal(json_array_size(json_object_get(res, "attachments")), 5);
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "phan-%d.bin", i + 1);
        big[0] = (uint8_t)i;
        expect_listed(json_array_get(json_object_get(res, "attachments"), (size_t)i), id, i + 1, name,
                      "application/octet-stream", big, CAP);
    }
    json_decref(res);
    assert_int_equal(notices_total(e), n0 + 2);
    assert_int_equal(district_attachments(e), a0 + 6);

    /* a body one byte over [admin] max_body: 413, nothing written */
    json_t *body = notice_req("Quá lớn", NULL, json_pack("[o]", att_text("a.txt", NULL, ok_text)));
    char *txt = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    size_t len = strlen(txt), want = (size_t)max_body + 1;
    assert_true(len < want);
    char *padded = ts_xmalloc(want + 1);
    memcpy(padded, txt, len - 1); /* all but the closing brace */
    memset(padded + len - 1, ' ', want - len);
    padded[want - 1] = '}';
    padded[want] = '\0';
    free(txt);
    json_t *check = json_loads(padded, 0, NULL);
    assert_non_null(check); /* still a valid request, only too large */
    json_decref(check);
    r = http(e, AS_ADMIN, "POST", "/api/notices", padded);
    if (r.status != 413)
        fail_msg("a body of max_body + 1 bytes: %d %.300s", r.status, r.body);
    ts_th_resp_free(&r);
    free(padded);
    assert_int_equal(notices_total(e), n0 + 2);
    assert_int_equal(district_attachments(e), a0 + 6);

    /* the records API is held to the same file-name rules (SHA-256 of "abc") */
    static const char rec_fmt[] =
        "{\"fields\":{\"notice_id\":\"TB-khac\",\"recipients\":[\"%s\"],\"filename\":\"%s\","
        "\"content\":{\"bin\":\"616263\"},"
        "\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}}";
    char *bad = ts_xasprintf(rec_fmt, codes[0], "hoa-don-\u202efdp.exe");
    r = http(e, AS_ADMIN, "POST", "/api/records/notice_attachments/TB-khac:1", bad);
    if (r.status != 422 || strstr(r.body, "direction") == NULL)
        fail_msg("records API, a name with U+202E: %d %.300s", r.status, r.body);
    ts_th_resp_free(&r);
    free(bad);
    assert_int_equal(district_attachments(e), a0 + 6);
    char *good = ts_xasprintf(rec_fmt, codes[0], "hoa-don.pdf");
    r = http(e, AS_ADMIN, "POST", "/api/records/notice_attachments/TB-khac:1", good);
    if (r.status != 200)
        fail_msg("records API, a plain name: %d %.300s", r.status, r.body);
    ts_th_resp_free(&r);
    free(good);
    assert_int_equal(district_attachments(e), a0 + 7);

    env_finish(e);
    free(big);
    e->passed = true;
}

/* ---------------------------------------------------------------- 3. download */

/* GET an attachment as `as`; 200 expected, with the bytes and headers of
 * what was sent. */
static void expect_download(env *e, as_t as, const char *path, const void *data, size_t len, const char *mime,
                            const char *ascii_name, const char *ext_name)
{
    ts_th_resp r = http(e, as, "GET", path, NULL);
    if (r.status != 200)
        fail_msg("GET %s: %d %.300s", path, r.status, r.body);
    if (r.body_len != len || memcmp(r.body, data, len) != 0)
        fail_msg("GET %s: %zu bytes, not the %zu bytes sent", path, r.body_len, len);
    char *ct = ts_th_header(&r, "Content-Type"), *cd = ts_th_header(&r, "Content-Disposition"),
         *csp = ts_th_header(&r, "Content-Security-Policy"), *dig = ts_th_header(&r, "Repr-Digest"),
         *nosniff = ts_th_header(&r, "X-Content-Type-Options");
    if (ct == NULL || strcmp(ct, mime) != 0)
        fail_msg("GET %s: Content-Type %s, expected %s", path, ct ? ct : "(none)", mime);
    char *want_cd = ts_xasprintf("attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii_name, ext_name);
    if (cd == NULL || strcmp(cd, want_cd) != 0)
        fail_msg("GET %s: Content-Disposition %s, expected %s", path, cd ? cd : "(none)", want_cd);
    if (csp == NULL || strstr(csp, "sandbox") == NULL)
        fail_msg("GET %s: Content-Security-Policy %s, expected a sandbox", path, csp ? csp : "(none)");
    char *sum = sha256_b64(data, len);
    char *want_dig = ts_xasprintf("sha-256=:%s:", sum);
    if (dig == NULL || strcmp(dig, want_dig) != 0)
        fail_msg("GET %s: Repr-Digest %s, expected %s", path, dig ? dig : "(none)", want_dig);
    if (nosniff == NULL || strcmp(nosniff, "nosniff") != 0)
        fail_msg("GET %s: X-Content-Type-Options %s", path, nosniff ? nosniff : "(none)");
    free(ct);
    free(cd);
    free(csp);
    free(dig);
    free(nosniff);
    free(want_cd);
    free(sum);
    free(want_dig);
    ts_th_resp_free(&r);
}

static void expect_status(env *e, as_t as, const char *method, const char *path, int status)
{
    ts_th_resp r = http(e, as, method, path, NULL);
    if (r.status != status)
        fail_msg("%s %s: %d, expected %d: %.300s", method, path, r.status, status, r.body);
    ts_th_resp_free(&r);
}

static const char *rec4(const char *notice, char *out, size_t size)
{
    snprintf(out, size, "%s:4", notice);
    return out;
}

static void test_download(void **state)
{
    env *e = *state;
    env_start(e, true);
    put_directory(e);

    size_t plen, blen = 5000;
    uint8_t *pdf = pdf_like(&plen);
    uint8_t *bin = all_bytes(blen);
    static const char quoted[] = "Báo cáo \"tuần 1\"; bản 2.txt";
    static const char text[] = "Số ca sốt xuất huyết: 12\n";
    static const char fourth[] = "Phụ lục " MARKER " — bản gốc\n";
    char id[128], other[128];
    json_decref(send_ok(e, AS_ADMIN,
                        notice_req("Công văn kèm tệp", NULL,
                                   json_pack("[o,o,o,o]", att(VN_NAME, "Application/PDF", pdf, plen),
                                             att("bang-ke.bin", NULL, bin, blen), att_text(quoted, "text/plain", text),
                                             att_text("phu-luc.txt", "text/plain", fourth))),
                        id, sizeof id));
    json_decref(send_ok(e, AS_ADMIN, notice_req("Không có tệp", NULL, NULL), other, sizeof other));

    char path[300];
    /* by number; the MIME type as stored (lower-cased) */
    snprintf(path, sizeof path, "/api/notices/%s/attachments/1", id);
    expect_download(e, AS_ADMIN, path, pdf, plen, "application/pdf", VN_ASCII, VN_8187);
    /* a viewer may read it too */
    expect_download(e, AS_VIEWER, path, pdf, plen, "application/pdf", VN_ASCII, VN_8187);
    /* nobody else */
    expect_status(e, AS_NONE, "GET", path, 401);
    /* no MIME type given: application/octet-stream */
    snprintf(path, sizeof path, "/api/notices/%s/attachments/2", id);
    expect_download(e, AS_ADMIN, path, bin, blen, "application/octet-stream", "bang-ke.bin", "bang-ke.bin");
    /* by full id; quotes and ; stay inside the header's quoted string */
    snprintf(path, sizeof path, "/api/notices/%s/attachments/%s:3", id, id);
    expect_download(e, AS_ADMIN, path, text, strlen(text), "text/plain", "B_o c_o _tu_n 1_; b_n 2.txt",
                    "B%C3%A1o%20c%C3%A1o%20%22tu%E1%BA%A7n%201%22%3B%20b%E1%BA%A3n%202.txt");
    /* the colon sent as %3A */
    snprintf(path, sizeof path, "/api/notices/%s/attachments/%s%%3A2", id, id);
    expect_download(e, AS_VIEWER, path, bin, blen, "application/octet-stream", "bang-ke.bin", "bang-ke.bin");

    /* 404: no such attachment, no such notice, another notice's attachment */
    snprintf(path, sizeof path, "/api/notices/%s/attachments/9", id);
    expect_status(e, AS_ADMIN, "GET", path, 404);
    snprintf(path, sizeof path, "/api/notices/%s/attachments/%s:9", id, id);
    expect_status(e, AS_ADMIN, "GET", path, 404);
    snprintf(path, sizeof path, "/api/notices/%s/attachments/0", id);
    expect_status(e, AS_ADMIN, "GET", path, 404);
    expect_status(e, AS_ADMIN, "GET", "/api/notices/TB-00000000-00000000/attachments/1", 404);
    snprintf(path, sizeof path, "/api/notices/%s/attachments/%s:1", other, id);
    expect_status(e, AS_ADMIN, "GET", path, 404);
    snprintf(path, sizeof path, "/api/notices/%s/attachments/1", other);
    expect_status(e, AS_VIEWER, "GET", path, 404);

    /* GET /api/notices/{id} lists them; the list counts them */
    snprintf(path, sizeof path, "/api/notices/%s", id);
    json_t *o = get_ok(e, path);
    json_t *listed = json_object_get(o, "attachments");
    assert_int_equal(json_array_size(listed), 4);
    expect_listed(json_array_get(listed, 0), id, 1, VN_NAME, "application/pdf", pdf, plen);
    expect_listed(json_array_get(listed, 1), id, 2, "bang-ke.bin", "application/octet-stream", bin, blen);
    expect_listed(json_array_get(listed, 2), id, 3, quoted, "text/plain", text, strlen(text));
    expect_listed(json_array_get(listed, 3), id, 4, "phu-luc.txt", "text/plain", fourth, strlen(fourth));
    json_decref(o);
    snprintf(path, sizeof path, "/api/notices/%s", other);
    o = get_ok(e, path);
    assert_int_equal(json_array_size(json_object_get(o, "attachments")), 0);
    assert_true(json_is_array(json_object_get(o, "attachments")));
    json_decref(o);
    json_t *item = list_item(e, id);
    assert_int_equal(jint(item, "attachment_count"), 4);
    json_decref(item);
    item = list_item(e, other);
    assert_int_equal(jint(item, "attachment_count"), 0);
    json_decref(item);

    /* every download audited as a read of the attachment, by who */
    char rec[160];
    snprintf(rec, sizeof rec, "%s:1", id);
    if (!audited(e, "read", "notice_attachments", rec, "viewer1", "download"))
        fail_msg("no audit entry for viewer1's download of %s", rec);
    if (!audited(e, "read", "notice_attachments", rec, "cert:", "download"))
        fail_msg("no audit entry for the admin certificate's download of %s", rec);
    snprintf(rec, sizeof rec, "%s:2", id);
    assert_true(audited(e, "read", "notice_attachments", rec, "cert:", "bang-ke.bin"));
    snprintf(rec, sizeof rec, "%s:3", id);
    assert_true(audited(e, "read", "notice_attachments", rec, "cert:", NULL));
    /* ... and the sending, with its attachments */
    assert_true(audited(e, "send_notice", "notices", id, "cert:", "4 attachments"));
    /* the same bytes read through the generic records API are audited too
     * (notice_attachments is a personal table) */
    snprintf(rec, sizeof rec, "%s:3", id);
    assert_false(audited(e, "read", "notice_attachments", rec, "viewer1", NULL));
    snprintf(path, sizeof path, "/api/records/notice_attachments/%s", rec);
    expect_status(e, AS_VIEWER, "GET", path, 200);
    assert_true(audited(e, "read", "notice_attachments", rec, "viewer1", NULL));
    assert_false(audited(e, "read", "notice_attachments", NULL, "viewer1", "list "));
    expect_status(e, AS_VIEWER, "GET", "/api/records/notice_attachments?limit=10", 200);
    assert_true(audited(e, "read", "notice_attachments", NULL, "viewer1", "list "));
    /* what was not found was not read */
    snprintf(rec, sizeof rec, "%s:9", id);
    assert_false(audited(e, "read", "notice_attachments", rec, NULL, NULL));

    /* bytes damaged in the district's own database: the download re-checks
     * them and refuses (500 STORAGE, logged), and nothing counts as read */
    char *dbpath = ts_xasprintf("%s/district.db", e->dir);
    corrupt_record(dbpath, rec4(id, rec, sizeof rec), MARKER, 9, 'N');
    free(dbpath);
    snprintf(path, sizeof path, "/api/notices/%s/attachments/4", id);
    for (int k = 0; k < 2; k++) {
        ts_th_opts no_cert = {e->pki.ca, NULL, NULL, NULL};
        char auth[200];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", k == 0 ? e->token_viewer : e->token_operator);
        ts_th_resp r;
        if (ts_th_call(e->d.admin_port, &no_cert, "GET", path, auth, NULL, NULL, &r) < 0)
            fail_msg("GET %s: no answer", path);
        const json_t *err = json_object_get(r.json, "error");
        if (r.status != 500 || strcmp(jstr(err, "code"), "STORAGE") != 0 || find_bytes((uint8_t *)r.body, r.body_len, "Phụ lục"))
            fail_msg("GET %s of damaged bytes: %d %.300s", path, r.status, r.body);
        ts_th_resp_free(&r);
    }
    if (!ts_test_log_wait(e->d.log, "event=attachment_corrupt", 5000))
        fail_msg("no attachment_corrupt in the daemon's log");
    assert_false(audited(e, "read", "notice_attachments", rec, NULL, NULL));

    env_finish(e);
    free(pdf);
    free(bin);
    e->passed = true;
}

/* ---------------------------------------------------------------- 4. roles */

static void test_viewer_cannot_send(void **state)
{
    env *e = *state;
    env_start(e, true);
    put_directory(e);
    json_int_t n0 = notices_total(e);
    static const char text[] = "Danh sách trực Tết";

    json_t *body = notice_req("Lịch trực", NULL, json_pack("[o]", att_text("lich-truc.txt", "text/plain", text)));
    ts_th_resp r = http_json(e, AS_VIEWER, "POST", "/api/notices", body);
    json_decref(body);
    if (r.status != 403)
        fail_msg("a viewer sending a notice with an attachment: %d %.300s", r.status, r.body);
    ts_th_resp_free(&r);
    assert_int_equal(notices_total(e), n0);
    assert_int_equal(district_attachments(e), 0);
    assert_true(audited(e, "denied", NULL, "/api/notices", "viewer1", NULL));

    /* an operator may; the viewer may then read what was sent */
    char id[128];
    json_t *res = send_ok(e, AS_OPERATOR,
                          notice_req("Lịch trực", NULL, json_pack("[o]", att_text("lich-truc.txt", "text/plain", text))),
                          id, sizeof id);
    expect_listed(json_array_get(json_object_get(res, "attachments"), 0), id, 1, "lich-truc.txt", "text/plain", text,
                  strlen(text));
    json_decref(res);
    assert_int_equal(notices_total(e), n0 + 1);
    assert_int_equal(district_attachments(e), 1);
    assert_true(audited(e, "send_notice", "notices", id, "operator1", "1 attachment"));
    char path[256];
    snprintf(path, sizeof path, "/api/notices/%s/attachments/1", id);
    expect_download(e, AS_VIEWER, path, text, strlen(text), "text/plain", "lich-truc.txt", "lich-truc.txt");

    env_finish(e);
    e->passed = true;
}

/* ---------------------------------------------------------------- 5. station safety */

/* A notice_attachments version written by a made-up district replica. */
typedef struct forged {
    ts_version v;
    ts_arena arena;
    ts_rid rid;
    uint64_t n;
} forged;

static void forged_init(forged *f, const ts_version *from)
{
    ts_version_init(&f->v);
    ts_arena_init(&f->arena, 4096);
    if (from)
        ts_version_copy(&f->v, from, &f->arena);
    ts_rid_set_cstr(&f->rid, "district.forged");
    f->n = ts_vv_get(&f->v.vv, &f->rid);
}

static void forged_free(forged *f)
{
    ts_version_free(&f->v);
    ts_arena_free(&f->arena);
}

static void forged_put(forged *f, const char *name, const ts_buf *value)
{
    ts_dot dot;
    memset(&dot, 0, sizeof dot);
    dot.rid = f->rid;
    dot.counter = ts_vv_bump(&f->v.vv, &f->rid);
    ts_version_put(&f->v, &f->arena, name, value->data, value->len, &dot, TS_HLC_MAKE(ts_wall_ms(), ++f->n));
}

static void forged_str(forged *f, const char *name, const char *s)
{
    ts_buf b = TS_BUF_INIT;
    ts_value_str(&b, s);
    forged_put(f, name, &b);
    ts_buf_free(&b);
}

static void forged_bin(forged *f, const char *name, const void *data, size_t len)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_bin(&pk, len);
    msgpack_pack_bin_body(&pk, data, len);
    forged_put(f, name, &b);
    ts_buf_free(&b);
}

/* A whole new attachment record whose sha256 is `sum_of`'s. */
static void forged_record(forged *f, const char *notice, const char *station, const char *name, const char *content,
                          const char *sum_of)
{
    forged_init(f, NULL);
    char sum[65];
    sha256_hex(sum_of, strlen(sum_of), sum);
    ts_buf to = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&to, &pk);
    msgpack_pack_array(&pk, 1);
    ts_mp_pack_cstr(&pk, station);
    forged_str(f, "notice_id", notice);
    forged_put(f, "recipients", &to);
    forged_str(f, "filename", name);
    forged_str(f, "mime", "text/plain");
    forged_bin(f, "content", content, strlen(content));
    forged_str(f, "sha256", sum);
    ts_buf_free(&to);
}

static void test_station_refuses_forged_and_corrupt(void **state)
{
    env *e = *state;
    env_start(e, false);
    put_directory(e);
    agent_start(e, 0);
    ts_test_station *bn = station(e, 0);

    static const char minutes[] = "Biên bản họp " MARKER " — nội dung gốc, không được sửa.\n";
    size_t blen = 3000;
    uint8_t *bin = all_bytes(blen);
    char id[128];
    json_decref(send_ok(e, AS_ADMIN,
                        notice_req("Biên bản kiểm tra", NULL,
                                   json_pack("[o,o]", att_text("bien-ban.txt", "text/plain", minutes),
                                             att("anh-chup.bin", NULL, bin, blen))),
                        id, sizeof id));
    wait_sta_notice(bn, id, 2);
    agent_stop(e, 0);
    char id1[160], id3[160], id4[160];
    snprintf(id1, sizeof id1, "%s:1", id);
    snprintf(id3, sizeof id3, "%s:3", id);
    snprintf(id4, sizeof id4, "%s:4", id);

    /* (a) changes from "the district" applied to the station's replica:
     * a new record whose checksum is not of its bytes, attachment 1 with
     * its bytes changed and its checksum kept, and (the control) a new
     * record that is right */
    ts_store *st = sta_open(bn, false);
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change cur;
    ts_error err;
    if (ts_store_get(st, "notice_attachments", id1, &cur, &arena, &err) < 0)
        fail_msg("get %s: %s", id1, err.msg);
    forged fake, changed, good;
    forged_record(&fake, id, BN, "gia-mao.txt", "Nội dung giả mạo", "Nội dung thật");
    forged_init(&changed, &cur.v);
    forged_bin(&changed, "content", "Biên bản đã bị sửa " MARKER, strlen("Biên bản đã bị sửa " MARKER));
    forged_record(&good, id, BN, "bo-sung.txt", "Phụ lục bổ sung", "Phụ lục bổ sung");
    ts_change ch[3];
    memset(ch, 0, sizeof ch);
    ch[0].table = ch[1].table = ch[2].table = "notice_attachments";
    ch[0].owner = ch[1].owner = ch[2].owner = cur.owner;
    ch[0].id = id3;
    ch[0].v = fake.v;
    ch[1].id = id1;
    ch[1].v = changed.v;
    ch[2].id = id4;
    ch[2].v = good.v;
    ts_actor district = {TS_ACTOR_SERVER, "district", NULL, "test"};
    ts_apply_result res[3];
    if (ts_store_apply(st, &district, ch, 3, res, &err) < 0)
        fail_msg("apply: %s", err.msg);
    for (int i = 0; i < 2; i++) {
        if (res[i].outcome != TS_OUTCOME_REJECTED || res[i].code != TS_EINVALID_RECORD)
            fail_msg("forged change %d: %s (%s), expected REJECTED INVALID_RECORD", i + 1,
                     ts_outcome_name(res[i].outcome), res[i].reason);
        if (strstr(res[i].reason, "do not match their SHA-256") == NULL)
            fail_msg("forged change %d refused for another reason: %s", i + 1, res[i].reason);
    }
    if (res[2].outcome != TS_OUTCOME_APPLIED)
        fail_msg("the well-formed control record: %s (%s)", ts_outcome_name(res[2].outcome), res[2].reason);
    forged_free(&fake);
    forged_free(&changed);
    forged_free(&good);
    ts_version_free(&cur.v);
    ts_arena_free(&arena);
    ts_store_close(st);
    assert_false(sta_has(bn, "notice_attachments", id3));
    size_t n;
    uint8_t *got = sta_bytes(bn, id1, &n);
    assert_non_null(got);
    assert_int_equal(n, strlen(minutes));
    assert_memory_equal(got, minutes, n);
    free(got);
    char *out_dir = make_folder(e, "saved");
    char *p1 = ts_xasprintf("%s/bien-ban.txt", out_dir);
    save_ok(bn, id, "1", p1, false, p1);
    expect_file(p1, minutes, strlen(minutes));
    unlink(p1);

    /* (b) bytes corrupted in the replica file itself (one byte of the
     * attachment inside the records row's fields blob, through SQLite) */
    char *dbpath = ts_xasprintf("%s/station.db", bn->dir);
    corrupt_record(dbpath, id1, MARKER, 9, 'N'); /* MARKER -> MARNER */
    free(dbpath);
    got = sta_bytes(bn, id1, &n);
    assert_non_null(got);
    assert_int_equal(n, strlen(minutes));
    assert_true(memcmp(got, minutes, n) != 0);
    free(got);

    /* notice show tells which one is broken */
    json_t *show = sta_show(bn, id);
    json_t *files = json_object_get(show, "attachments");
    assert_int_equal(json_array_size(files), 3);
    for (size_t k = 0; k < 3; k++) {
        json_t *f = json_array_get(files, k);
        bool want = strcmp(jstr(f, "id"), id1) != 0;
        if (json_is_true(json_object_get(f, "verified")) != want)
            fail_msg("notice show: %s verified=%s", jstr(f, "id"), want ? "false" : "true");
    }
    json_decref(show);
    char *txt = NULL;
    assert_int_equal(ts_test_station_cli(bn, &txt, "--lang", "en", "notice", "show", id, NULL), 0);
    if (txt == NULL || strstr(txt, "CORRUPT") == NULL)
        fail_msg("notice show does not flag the corrupt attachment:\n%s", txt ? txt : "");
    free(txt);
    /* never saved: to a file, with --force, into a folder, by name */
    save_refused(bn, id, "1", p1, false, "SHA-256");
    assert_false(file_exists(p1));
    save_refused(bn, id, "1", p1, true, "SHA-256");
    assert_false(file_exists(p1));
    save_refused(bn, id, "bien-ban.txt", out_dir, false, "SHA-256");
    assert_int_equal(files_in(out_dir), 0);
    write_file(p1, "ban cu\n", 7); /* an existing file is left as it was */
    save_refused(bn, id, id1, p1, true, "SHA-256");
    expect_file(p1, "ban cu\n", 7);
    expect_no_file_like(out_dir, ".tramsync-");
    /* the others still are */
    char *p2 = ts_xasprintf("%s/anh-chup.bin", out_dir);
    save_ok(bn, id, "2", out_dir, false, p2);
    expect_file(p2, bin, blen);
    char *p4 = ts_xasprintf("%s/bo-sung.txt", out_dir);
    save_ok(bn, id, "4", p4, false, p4);
    expect_file(p4, "Phụ lục bổ sung", strlen("Phụ lục bổ sung"));

    /* (c) the agent still takes what the district sends next */
    agent_start(e, 0);
    static const char next[] = "Kế hoạch tuần sau";
    char id_next[128];
    json_decref(send_ok(e, AS_ADMIN,
                        notice_req("Kế hoạch", NULL, json_pack("[o]", att_text("ke-hoach.txt", "text/plain", next))),
                        id_next, sizeof id_next));
    wait_sta_notice(bn, id_next, 1);
    char *pn = ts_xasprintf("%s/ke-hoach.txt", out_dir);
    save_ok(bn, id_next, "1", out_dir, false, pn);
    expect_file(pn, next, strlen(next));

    env_finish(e);
    free(p1);
    free(p2);
    free(p4);
    free(pn);
    free(out_dir);
    free(bin);
    e->passed = true;
}

/* ---------------------------------------------------------------- 6. overwriting */

static void test_save_never_overwrites_without_force(void **state)
{
    env *e = *state;
    env_start(e, false);
    put_directory(e);
    agent_start(e, 0);
    ts_test_station *bn = station(e, 0);
    static const char name[] = "Kế hoạch tháng 12.txt";
    static const char plan[] = "Kế hoạch tiêm chủng mở rộng tháng 12: 3 buổi, 120 trẻ.\n";
    char id[128];
    json_decref(send_ok(e, AS_ADMIN,
                        notice_req("Kế hoạch tháng 12", NULL, json_pack("[o]", att_text(name, "text/plain", plan))), id,
                        sizeof id));
    wait_sta_notice(bn, id, 1);

    char *dir = make_folder(e, "out");
    char *p = ts_xasprintf("%s/ke-hoach.txt", dir);
    static const char old[] = "bản cũ, phải giữ nguyên\n";
    write_file(p, old, strlen(old));
    /* an existing file: refused, untouched, nothing left beside it */
    save_refused(bn, id, "1", p, false, "--force");
    expect_file(p, old, strlen(old));
    expect_no_file_like(dir, ".tramsync-");
    /* --force replaces it; a health document is not for every local user */
    save_ok(bn, id, "1", p, true, p);
    expect_file(p, plan, strlen(plan));
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    if ((sb.st_mode & 0007) != 0)
        fail_msg("%s saved with mode %o, readable by other users", p, (unsigned)(sb.st_mode & 0777));
    expect_no_file_like(dir, ".tramsync-");
    assert_int_equal(files_in(dir), 1);
    /* into a folder: under the attachment's own name */
    char *in_dir = ts_xasprintf("%s/%s", dir, name);
    save_ok(bn, id, "1", dir, false, in_dir);
    expect_file(in_dir, plan, strlen(plan));
    /* again: that file now exists */
    write_file(in_dir, old, strlen(old));
    save_refused(bn, id, name, dir, false, "--force");
    expect_file(in_dir, old, strlen(old));
    save_ok(bn, id, name, dir, true, in_dir);
    expect_file(in_dir, plan, strlen(plan));
    expect_no_file_like(dir, ".tramsync-");
    assert_int_equal(files_in(dir), 2);
    /* no PATH: the current folder */
    char *here = make_folder(e, "here");
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) == NULL)
        fail_msg("getcwd: %s", strerror(errno));
    if (chdir(here) != 0)
        fail_msg("chdir %s: %s", here, strerror(errno));
    json_t *o = NULL;
    int rc = save(bn, &o, id, "1", NULL, false);
    if (chdir(cwd) != 0)
        fail_msg("chdir %s: %s", cwd, strerror(errno));
    if (rc != 0)
        fail_msg("attachment save without a path: exit %d", rc);
    json_decref(o);
    char *in_here = ts_xasprintf("%s/%s", here, name);
    expect_file(in_here, plan, strlen(plan));
    /* an attachment that is not there writes nothing */
    char *p7 = ts_xasprintf("%s/khong-co.txt", dir);
    save_refused(bn, id, "7", p7, false, NULL);
    save_refused(bn, id, "khong-co.txt", dir, true, NULL);
    assert_false(file_exists(p7));
    assert_int_equal(files_in(dir), 2);

    env_finish(e);
    free(dir);
    free(p);
    free(in_dir);
    free(here);
    free(in_here);
    free(p7);
    e->passed = true;
}

/* ---------------------------------------------------------------- 7. tramsyncctl */

static void test_ctl_attach(void **state)
{
    env *e = *state;
    env_start(e, false);
    put_directory(e);

    size_t plen;
    uint8_t *pdf = pdf_like(&plen);
    static const char csv[] = "xa,so_ca\nBình Nguyên,3\nBình Xuyên,5\n";
    char *f1 = ts_xasprintf("%s/" VN_NAME, e->dir), *f2 = ts_xasprintf("%s/bang-ke.csv", e->dir);
    write_file(f1, pdf, plen);
    write_file(f2, csv, strlen(csv));
    char *out = NULL, *err = NULL;
    const char *send[] = {"--json",   "notice", "send",   "--subject", "Công văn khẩn kèm bảng kê", "--urgency",
                          "khan",     "--category", "emergency", "--stations", BN "," BX, "--attach",
                          f1,         "--attach", f2,       NULL};
    int rc = ctl(e, &out, &err, send);
    if (rc != 0)
        fail_msg("tramsyncctl notice send --attach: exit %d: %s%s", rc, out, err);
    json_t *res = jparse(out, "tramsyncctl notice send");
    char id[128];
    snprintf(id, sizeof id, "%s", jstr(res, "id"));
    json_t *listed = json_object_get(res, "attachments");
    assert_int_equal(json_array_size(listed), 2);
    expect_listed(json_array_get(listed, 0), id, 1, VN_NAME, "application/pdf", pdf, plen);
    expect_listed(json_array_get(listed, 1), id, 2, "bang-ke.csv", "text/csv", csv, strlen(csv));
    assert_int_equal(json_array_size(json_object_get(res, "recipients")), 2);
    json_decref(res);
    free(out);
    free(err);
    /* what arrived is what was on disk */
    char path[300];
    snprintf(path, sizeof path, "/api/notices/%s/attachments/1", id);
    expect_download(e, AS_ADMIN, path, pdf, plen, "application/pdf", VN_ASCII, VN_8187);
    snprintf(path, sizeof path, "/api/notices/%s/attachments/2", id);
    expect_download(e, AS_ADMIN, path, csv, strlen(csv), "text/csv", "bang-ke.csv", "bang-ke.csv");
    /* the text answer says how many went */
    const char *send_text[] = {"notice", "send", "--subject", "Bảng kê", "--urgency", "thuong", "--category",
                               "emergency", "--stations", BN, "--attach", f2, NULL};
    rc = ctl(e, &out, &err, send_text);
    if (rc != 0 || strstr(out, "with 1 attachment") == NULL)
        fail_msg("tramsyncctl notice send (text): exit %d: %s%s", rc, out, err);
    free(out);
    free(err);

    /* notice show lists them */
    const char *show[] = {"notice", "show", id, NULL};
    rc = ctl(e, &out, &err, show);
    if (rc != 0)
        fail_msg("tramsyncctl notice show: exit %d: %s%s", rc, out, err);
    char id1[160], id2[160], sz1[32], sz2[32];
    snprintf(id1, sizeof id1, "%s:1", id);
    snprintf(id2, sizeof id2, "%s:2", id);
    snprintf(sz1, sizeof sz1, "%zu bytes", plen);
    snprintf(sz2, sizeof sz2, "%zu bytes", strlen(csv));
    const char *needles[] = {"attachments:", id1, id2, VN_NAME, "bang-ke.csv", sz1, sz2, "application/pdf", "text/csv"};
    for (size_t i = 0; i < sizeof needles / sizeof *needles; i++)
        if (strstr(out, needles[i]) == NULL)
            fail_msg("tramsyncctl notice show does not say \"%s\":\n%s", needles[i], out);
    free(out);
    free(err);
    const char *show_json[] = {"--json", "notice", "show", id, NULL};
    rc = ctl(e, &out, &err, show_json);
    assert_int_equal(rc, 0);
    res = jparse(out, "tramsyncctl --json notice show");
    assert_int_equal(json_array_size(json_object_get(res, "attachments")), 2);
    json_decref(res);
    free(out);
    free(err);

    /* 300 KiB: refused before anything is uploaded, naming file and limit */
    size_t big_len = 300 * 1024;
    uint8_t *big = all_bytes(big_len);
    char *f3 = ts_xasprintf("%s/so-lieu-lon.xlsx", e->dir);
    write_file(f3, big, big_len);
    json_int_t n0 = notices_total(e);
    json_int_t before = admin_requests(e);
    const char *too_big[] = {"notice", "send", "--subject", "Số liệu lớn", "--urgency", "khan", "--category",
                             "emergency", "--stations", BN, "--attach", f2, "--attach", f3, NULL};
    rc = ctl(e, &out, &err, too_big);
    json_int_t after = admin_requests(e);
    if (rc == 0)
        fail_msg("tramsyncctl sent a 300 KiB attachment: %s", out);
    if (strstr(err, "so-lieu-lon.xlsx") == NULL || strstr(err, "307200") == NULL || strstr(err, "262144") == NULL ||
        strstr(err, "256 KiB") == NULL)
        fail_msg("the refusal does not name the file, its size and the limit: %s", err);
    /* only GET /api/labels between the two overviews: nothing posted */
    if (after - before != 2)
        fail_msg("tramsyncctl made %lld requests for a refused attachment (expected only GET /api/labels)",
                 (long long)(after - before - 1));
    free(out);
    free(err);
    /* six files: refused the same way */
    before = admin_requests(e);
    const char *six[] = {"notice", "send", "--subject", "Sáu tệp", "--urgency", "khan", "--category", "emergency",
                         "--stations", BN, "--attach", f2, "--attach", f2, "--attach", f2, "--attach", f2, "--attach",
                         f2, "--attach", f2, NULL};
    rc = ctl(e, &out, &err, six);
    after = admin_requests(e);
    if (rc == 0 || strstr(err, "at most 5") == NULL)
        fail_msg("tramsyncctl with six --attach: exit %d: %s%s", rc, out, err);
    assert_int_equal(after - before, 2);
    free(out);
    free(err);
    assert_int_equal(notices_total(e), n0);

    env_finish(e);
    free(f1);
    free(f2);
    free(f3);
    free(pdf);
    free(big);
    e->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fanout_to_two_of_three, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_and_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_download, setup, teardown),
        cmocka_unit_test_setup_teardown(test_viewer_cannot_send, setup, teardown),
        cmocka_unit_test_setup_teardown(test_station_refuses_forged_and_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_never_overwrites_without_force, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctl_attach, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
