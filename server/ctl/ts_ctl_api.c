/* tramsyncctl's way into the district's data: the admin API over HTTPS, as
 * the console uses it. Authentication with an admin certificate (--cert,
 * --key) or an account (--user; password from $TRAMSYNC_PASSWORD or asked). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "common/ts_text.h"
#include "common/ts_buf.h"
#include "common/ts_notice.h"
#include "common/ts_xmalloc.h"
#include "server/ctl/ts_ctl.h"
#include "server/ctl/ts_ctl_int.h"

typedef ts_ctl_client ts__client;
typedef ts_ctl_resp ts__resp;

static int ts__on_body(http_parser *p, const char *at, size_t n)
{
    ts_buf_append(&((ts__resp *)p->data)->body, at, n);
    return 0;
}

static int ts__on_complete(http_parser *p)
{
    ((ts__resp *)p->data)->done = true;
    return 0;
}

static int ts__err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ts__err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tramsyncctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return TS_CTL_ERROR;
}

/* One request on a fresh TLS connection (Connection: close). */
static int ts__request(ts__client *c, const char *method, const char *path, const json_t *body, ts__resp *r)
{
    memset(r, 0, sizeof *r);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(c->host, c->port, &hints, &res) != 0 || res == NULL)
        return ts__err("cannot resolve %s", c->host);
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return ts__err("cannot connect to the admin API at %s:%s: %s (is tramsyncd running with [admin] listen?)",
                       c->host, c->port, strerror(errno));
    }
    freeaddrinfo(res);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    int rc = 0;
    if (c->ca == NULL || SSL_CTX_load_verify_locations(ctx, c->ca, NULL) != 1) {
        rc = ts__err("cannot load the district CA (%s): give --ca FILE", c->ca ? c->ca : "none");
        goto out;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (c->cert && (SSL_CTX_use_certificate_chain_file(ctx, c->cert) != 1 ||
                    SSL_CTX_use_PrivateKey_file(ctx, c->key ? c->key : c->cert, SSL_FILETYPE_PEM) != 1)) {
        rc = ts__err("cannot load the admin certificate %s", c->cert);
        goto out;
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, c->host);
    SSL_set1_host(ssl, c->host);
    if (SSL_connect(ssl) != 1) {
        char e[200];
        ERR_error_string_n(ERR_get_error(), e, sizeof e);
        SSL_free(ssl);
        rc = ts__err("TLS with %s failed: %s", c->host, e);
        goto out;
    }
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    ts_buf req = TS_BUF_INIT;
    ts_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: tramsyncctl\r\n", method, path,
                  c->host);
    if (c->token[0])
        ts_buf_printf(&req, "Authorization: Bearer %s\r\n", c->token);
    if (payload)
        ts_buf_printf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(payload), payload);
    else
        ts_buf_append_str(&req, "\r\n");
    free(payload);
    SSL_write(ssl, req.data, (int)req.len);
    ts_buf_free(&req);
    http_parser parser;
    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = r;
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_body = ts__on_body;
    s.on_message_complete = ts__on_complete;
    char buf[16384];
    int n;
    while (!r->done && (n = SSL_read(ssl, buf, sizeof buf)) > 0)
        http_parser_execute(&parser, &s, buf, (size_t)n);
    if (!r->done)
        http_parser_execute(&parser, &s, NULL, 0);
    r->status = (int)parser.status_code;
    ts_buf_append(&r->body, "", 1);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    if (r->status == 0)
        rc = ts__err("no answer from the admin API");
out:
    SSL_CTX_free(ctx);
    close(fd);
    return rc;
}

/* The password from the environment variable `env`, else asked on the
 * terminal (or read from standard input). */
static void ts__read_password(const char *env_name, const char *prompt, char *out, size_t size)
{
    const char *env = getenv(env_name);
    if (env) {
        snprintf(out, size, "%s", env);
        return;
    }
    struct termios old, quiet;
    bool tty = isatty(0) && tcgetattr(0, &old) == 0;
    if (tty) {
        fprintf(stderr, "%s: ", prompt);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(0, TCSANOW, &quiet);
    }
    if (fgets(out, (int)size, stdin) == NULL)
        out[0] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    if (tty) {
        tcsetattr(0, TCSANOW, &old);
        fputc('\n', stderr);
    }
}

static int ts__login(ts__client *c)
{
    if (c->cert != NULL)
        return 0;
    if (c->user == NULL)
        return ts__err("authenticate with --user NAME (password from $TRAMSYNC_PASSWORD or asked) or --cert FILE");
    char password[256];
    ts__read_password("TRAMSYNC_PASSWORD", "Password", password, sizeof password);
    json_t *b = json_pack("{s:s,s:s}", "username", c->user, "password", password);
    ts__resp r;
    int rc = ts__request(c, "POST", "/api/login", b, &r);
    json_decref(b);
    if (rc != 0) {
        ts_buf_free(&r.body);
        return rc;
    }
    json_t *j = json_loads((const char *)r.body.data, 0, NULL);
    if (r.status != 200 || !json_is_string(json_object_get(j, "token"))) {
        const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        rc = ts__err("login refused: %s", msg ? msg : (const char *)r.body.data);
    } else {
        snprintf(c->token, sizeof c->token, "%s", json_string_value(json_object_get(j, "token")));
    }
    json_decref(j);
    ts_buf_free(&r.body);
    return rc;
}

/* A request whose answer must be 2xx JSON; the JSON goes to *out. */
static int ts__call(ts__client *c, const char *method, const char *path, const json_t *body, json_t **out)
{
    ts__resp r;
    int rc = ts__request(c, method, path, body, &r);
    if (rc != 0) {
        ts_buf_free(&r.body);
        return rc;
    }
    json_t *j = json_loads((const char *)r.body.data, JSON_DECODE_ANY, NULL);
    if (r.status < 200 || r.status >= 300) {
        const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        ts__err("%s %s: %d %s", method, path, r.status, msg ? msg : "");
        rc = r.status == 404 ? TS_CTL_NOT_FOUND : r.status == 422 || r.status == 400 ? TS_CTL_INVALID : TS_CTL_ERROR;
        json_decref(j);
        j = NULL;
    }
    ts_buf_free(&r.body);
    *out = j;
    return rc;
}

/* ---------------------------------------------------------------- output */

static void ts__print(const ts_ctl *ctl, json_t *j)
{
    (void)ctl;
    json_dumpf(j, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
}

static const char *ts__s(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static const char *ts__label(const ts_label *list, size_t n, const char *code)
{
    const ts_label *l = ts_label_find(list, n, code);
    return l ? l->vi : code;
}

static void ts__when(json_int_t ms, char *out, size_t size)
{
    if (ms <= 0) {
        snprintf(out, size, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, size, "%d/%m/%Y %H:%M", &tm);
}

/* ---------------------------------------------------------------- recipients */

/* --to all | --stations a,b | --communes x,y  ->  {"all":true} / {"stations":[...]} / ... */
static json_t *ts__recipients(const char *to, const char *stations, const char *communes)
{
    json_t *r = json_object();
    if (to && strcmp(to, "all") == 0)
        json_object_set_new(r, "all", json_true());
    const char *lists[2] = {stations, communes};
    const char *keys[2] = {"stations", "communes"};
    for (int k = 0; k < 2; k++) {
        if (lists[k] == NULL)
            continue;
        json_t *arr = json_array();
        char *copy = ts_xstrdup(lists[k]), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            if (*tok)
                json_array_append_new(arr, json_string(tok));
        }
        free(copy);
        json_object_set_new(r, keys[k], arr);
    }
    return r;
}

/* ---------------------------------------------------------------- commands */

static const char ts__api_help[] =
    "Admin API commands (options: --server https://HOST:PORT --ca FILE, and --user NAME or --cert FILE --key FILE):\n"
    "  status                              the service, stations (silent ones flagged), conflicts, escalations\n"
    "  notice send --subject S --urgency thuong|khan|thuong_khan|hoa_toc --category CODE\n"
    "              (--to all | --stations a,b | --communes x,y) [--doc-type T] [--number N]\n"
    "              [--body TEXT | --body-file F] [--deadline ISO] [--responsible R] [--task T]\n"
    "              [--expected TEXT] [--legal-basis TEXT] [--issuer TEXT] [--cc-committee]\n"
    "              [--attach FILE]...  (up to 5 files, 256 KiB each; MIME type from the extension)\n"
    "              [--outbreak ID]     (instructions about an outbreak: its id in the notice)\n"
    "  notice list | notice show ID | notice status ID\n"
    "  notice redistribute REPORT_ID (--stations a,b | --communes x,y | --to all) [--urgency U]\n"
    "  outbreak open REPORT_ID [--stations a,b]   open an outbreak from a station's outbreak report,\n"
    "                                      concerning those neighbouring stations too\n"
    "  outbreak list | outbreak show ID\n"
    "  task list | task status ID | task assign ID (--stations a,b | ...) [--deadline YYYY-MM-DD]\n"
    "              [--instructions TEXT]\n"
    "  task not-applicable ID --reason TEXT   set a task aside (its lead body no longer exists): never\n"
    "                                      overdue; task applicable ID takes it back\n"
    "  plan load FILE                      load a provincial plan file (docs/PLANS.md): admin role\n"
    "  plan show                           the plan in force and every version loaded\n"
    "  export [--format xlsx|csv] [--part targets|tasks|reporting|periodic] [--quarter YYYY-Qn] --out FILE\n"
    "                                      the quarter's figures for the province (TTYT name, period)\n"
    "  report quarterly [--quarter YYYY-Qn] --out FILE.pdf   the quarter's summary report (A4)\n"
    "  report notice ID --out FILE.pdf     a notice as an official document to print (A4, Nghị định\n"
    "                                      30/2020 layout)\n"
    "  calendar duty FILE.json             create or change a recurring duty ({\"id\"?, \"fields\": {...}}):\n"
    "                                      a periodic report with its form, a giao ban, a review\n"
    "  calendar remind OCCURRENCE          remind every station late with that report (one notice)\n"
    "  calendar grid [DUTY]                periodic reports: station x period, on time, late, missing\n"
    "  escalations                         unacknowledged urgent notices, overdue notices and tasks\n"
    "  conflicts                           conflicts waiting for review\n"
    "  user add NAME --role viewer|operator|admin|commune|monitor [--full-name N]   (password asked)\n"
    "              [--commune CODE | --communes a,b]   a commune account's commune (one), a viewer's\n"
    "                                      (any): commune codes or station codes; it sees those only\n"
    "  user list\n"
    "  user unblock [ADDRESS]              let logins from ADDRESS again after too many failures (all\n"
    "                                      addresses when none); logins from this host are never blocked\n"
    "  record put TABLE ID field=value...  write a district record (station directory, villages,\n"
    "                                      drug catalogue...): admin role\n";

#define TS__MAX_ATTACH_ARGS 16
#define TS__ATTACH_HARD_MAX (16 * 1024 * 1024)

typedef struct ts__opts {
    const char *subject, *urgency, *category, *doc_type, *number, *body, *body_file, *deadline, *responsible, *task,
        *expected, *legal_basis, *issuer, *to, *stations, *communes, *instructions, *role, *full_name, *outbreak,
        *reason;
    bool cc;
    /* --attach, as given: the server enforces its own limit, one more than
     * it lets it say so */
    const char *attach[TS__MAX_ATTACH_ARGS];
    size_t nattach;
    bool allow_attach; /* set by the caller: notice send only */
} ts__opts;

static int ts__parse(int argc, char **argv, ts__opts *o, ts__client *c, int *first_arg)
{
    static const struct option opts[] = {
        {"subject", 1, NULL, 's'},     {"urgency", 1, NULL, 'u'},    {"category", 1, NULL, 'c'},
        {"doc-type", 1, NULL, 'T'},    {"number", 1, NULL, 'n'},     {"body", 1, NULL, 'b'},
        {"body-file", 1, NULL, 'B'},   {"deadline", 1, NULL, 'd'},   {"responsible", 1, NULL, 'r'},
        {"task", 1, NULL, 't'},        {"expected", 1, NULL, 'e'},   {"legal-basis", 1, NULL, 'l'},
        {"issuer", 1, NULL, 'i'},      {"to", 1, NULL, 'o'},         {"stations", 1, NULL, 'S'},
        {"communes", 1, NULL, 'C'},    {"instructions", 1, NULL, 'I'}, {"role", 1, NULL, 'R'},
        {"full-name", 1, NULL, 'F'},   {"cc-committee", 0, NULL, 'x'}, {"server", 1, NULL, 'v'},
        {"ca", 1, NULL, 'a'},          {"cert", 1, NULL, 'k'},       {"key", 1, NULL, 'K'},
        {"user", 1, NULL, 'U'},        {"attach", 1, NULL, 'A'},     {"outbreak", 1, NULL, 'O'},
        {"commune", 1, NULL, 'C'},     {"reason", 1, NULL, 'Z'},
        {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    *first_arg = argc; /* set on every path, the refusals too */
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 's': o->subject = optarg; break;
        case 'u': o->urgency = optarg; break;
        case 'c': o->category = optarg; break;
        case 'T': o->doc_type = optarg; break;
        case 'n': o->number = optarg; break;
        case 'b': o->body = optarg; break;
        case 'B': o->body_file = optarg; break;
        case 'd': o->deadline = optarg; break;
        case 'r': o->responsible = optarg; break;
        case 't': o->task = optarg; break;
        case 'e': o->expected = optarg; break;
        case 'l': o->legal_basis = optarg; break;
        case 'i': o->issuer = optarg; break;
        case 'o': o->to = optarg; break;
        case 'S': o->stations = optarg; break;
        case 'C': o->communes = optarg; break;
        case 'I': o->instructions = optarg; break;
        case 'R': o->role = optarg; break;
        case 'F': o->full_name = optarg; break;
        case 'O': o->outbreak = optarg; break;
        case 'Z': o->reason = optarg; break;
        case 'x': o->cc = true; break;
        case 'A':
            if (!o->allow_attach)
                return ts__err("--attach goes with notice send only");
            if (o->nattach == TS__MAX_ATTACH_ARGS)
                return ts__err("at most %d --attach", TS__MAX_ATTACH_ARGS);
            o->attach[o->nattach++] = optarg;
            break;
        case 'v': {
            const char *u = optarg;
            if (strncmp(u, "https://", 8) == 0)
                u += 8;
            const char *colon = strrchr(u, ':');
            const char *slash = strchr(u, '/');
            size_t hl = colon ? (size_t)(colon - u) : slash ? (size_t)(slash - u) : strlen(u);
            snprintf(c->host, sizeof c->host, "%.*s", (int)hl, u);
            if (colon)
                snprintf(c->port, sizeof c->port, "%.*s", (int)strcspn(colon + 1, "/"), colon + 1);
            break;
        }
        case 'a': c->ca = optarg; break;
        case 'k': c->cert = optarg; break;
        case 'K': c->key = optarg; break;
        case 'U': c->user = optarg; break;
        default: return TS_CTL_USAGE;
        }
    }
    *first_arg = optind;
    return 0;
}

static int ts__status(ts_ctl *ctl, ts__client *c)
{
    json_t *ov, *st, *esc;
    int rc = ts__call(c, "GET", "/api/overview", NULL, &ov);
    if (rc == 0)
        rc = ts__call(c, "GET", "/api/stations", NULL, &st);
    if (rc != 0)
        return rc;
    rc = ts__call(c, "GET", "/api/escalations", NULL, &esc);
    if (rc != 0) {
        json_decref(ov);
        json_decref(st);
        return rc;
    }
    if (ctl->json) {
        json_t *all = json_pack("{s:o,s:o,s:o}", "overview", ov, "stations", json_object_get(st, "stations"),
                                "escalations", esc);
        json_incref(json_object_get(st, "stations"));
        ts__print(ctl, all);
        json_decref(all);
        json_decref(st);
        return 0;
    }
    const json_t *s = json_object_get(ov, "stations"), *n = json_object_get(ov, "notices"),
                 *svc = json_object_get(ov, "service");
    printf("Stations      %lld online of %lld, %lld silent\n", (long long)json_integer_value(json_object_get(s, "online")),
           (long long)json_integer_value(json_object_get(s, "total")),
           (long long)json_integer_value(json_object_get(s, "silent")));
    printf("Conflicts     %lld waiting for review\n", (long long)json_integer_value(json_object_get(ov, "conflicts_open")));
    printf("Notices       %lld urgent not acknowledged, %lld overdue, %lld escalated\n",
           (long long)json_integer_value(json_object_get(n, "urgent_unacknowledged")),
           (long long)json_integer_value(json_object_get(n, "overdue")),
           (long long)json_integer_value(json_object_get(n, "escalated")));
    printf("Service       %lld connections, %lld changes in, %lld out, loop lag p99 %lld ms, database %.1f MB\n",
           (long long)json_integer_value(json_object_get(svc, "connections")),
           (long long)json_integer_value(json_object_get(svc, "changes_in")),
           (long long)json_integer_value(json_object_get(svc, "changes_out")),
           (long long)json_integer_value(json_object_get(svc, "loop_lag_p99_ms")),
           (double)json_integer_value(json_object_get(ov, "db_bytes")) / 1e6);
    printf("\n%-16s %-10s %-17s %-17s %6s %s\n", "STATION", "STATE", "LAST SEEN", "LAST SYNC", "LAG", "CERTIFICATE");
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(st, "stations"), i, o) {
        char seen[32], sync[32], cert[48];
        ts__when(json_integer_value(json_object_get(o, "last_seen_ms")), seen, sizeof seen);
        ts__when(json_integer_value(json_object_get(o, "last_sync_ms")), sync, sizeof sync);
        json_t *days = json_object_get(o, "cert_days_left");
        if (days)
            snprintf(cert, sizeof cert, "%lld days%s", (long long)json_integer_value(days),
                     json_integer_value(days) < 30 ? " RENEW SOON" : "");
        else
            snprintf(cert, sizeof cert, "-");
        printf("%-16s %-10s %-17s %-17s %6lld %s\n", ts__s(o, "code"),
               json_is_true(json_object_get(o, "connected")) ? "online"
               : json_is_true(json_object_get(o, "silent")) ? "SILENT"
                                                            : "offline",
               seen, sync, (long long)json_integer_value(json_object_get(o, "lag_changes")), cert);
    }
    json_decref(ov);
    json_decref(st);
    json_decref(esc);
    return 0;
}


/* MIME types of the files a district sends with a notice, by extension;
 * anything else goes as application/octet-stream. */
static const char *ts__mime_of(const char *name)
{
    static const char *const types[][2] = {
        {"pdf", "application/pdf"},
        {"doc", "application/msword"},
        {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        {"xls", "application/vnd.ms-excel"},
        {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        {"odt", "application/vnd.oasis.opendocument.text"},
        {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
        {"txt", "text/plain"},
        {"csv", "text/csv"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"png", "image/png"},
        {"zip", "application/zip"},
    };
    const char *dot = strrchr(name, '.');
    if (dot != NULL)
        for (size_t i = 0; i < sizeof types / sizeof *types; i++)
            if (strcasecmp(dot + 1, types[i][0]) == 0)
                return types[i][1];
    return "application/octet-stream";
}

/* The --attach files as the API takes them ({"name", "mime", "data" in
 * base64}), checked first against the limits the server announces so a
 * large file is refused before it travels. */
static int ts__attachments(ts__client *c, const ts__opts *o, json_t **out)
{
    *out = NULL;
    json_t *labels = NULL;
    int rc = ts__call(c, "GET", "/api/labels", NULL, &labels);
    if (rc != 0)
        return rc;
    const json_t *limits = json_object_get(labels, "limits");
    json_int_t max_files = json_integer_value(json_object_get(limits, "attachments"));
    json_int_t max_bytes = json_integer_value(json_object_get(limits, "attachment_bytes"));
    json_decref(labels);
    if (max_files > 0 && (json_int_t)o->nattach > max_files)
        return ts__err("%zu attachments: a notice carries at most %lld", o->nattach, (long long)max_files);
    json_t *arr = json_array();
    for (size_t i = 0; i < o->nattach; i++) {
        const char *path = o->attach[i];
        FILE *f = fopen(path, "rb");
        struct stat sb;
        if (f == NULL || fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
            int e = errno;
            if (f)
                fclose(f);
            json_decref(arr);
            return ts__err("cannot read %s: %s", path, f ? "not a regular file" : strerror(e));
        }
        /* a cap of our own when the daemon announces none (an older one) */
        if (max_bytes <= 0)
            max_bytes = TS__ATTACH_HARD_MAX;
        if (sb.st_size > max_bytes) {
            fclose(f);
            json_decref(arr);
            return ts__err("%s: %lld bytes, more than the limit of %lld bytes (%lld KiB) per attachment", path,
                           (long long)sb.st_size, (long long)max_bytes, (long long)max_bytes / 1024);
        }
        size_t len = (size_t)sb.st_size;
        uint8_t *data = ts_xmalloc(len ? len : 1);
        size_t got = fread(data, 1, len, f);
        fclose(f);
        if (got != len) {
            free(data);
            json_decref(arr);
            return ts__err("cannot read %s: short read", path);
        }
        char *b64 = ts_xmalloc(4 * ((len + 2) / 3) + 1);
        EVP_EncodeBlock((unsigned char *)b64, data, (int)len);
        free(data);
        const char *slash = strrchr(path, '/');
        const char *name = slash ? slash + 1 : path;
        json_t *file = json_pack("{s:s,s:s,s:s}", "name", name, "mime", ts__mime_of(name), "data", b64);
        free(b64);
        if (file == NULL) { /* jansson takes UTF-8 only */
            json_decref(arr);
            return ts__err("%s: the file name is not UTF-8; rename the file", path);
        }
        json_array_append_new(arr, file);
    }
    *out = arr;
    return 0;
}

static int ts__notice(ts_ctl *ctl, ts__client *c, int argc, char **argv)
{
    ts__opts o;
    memset(&o, 0, sizeof o);
    int first;
    o.allow_attach = argc >= 2 && strcmp(argv[1], "send") == 0;
    int prc = argc < 2 ? TS_CTL_USAGE : ts__parse(argc - 1, argv + 1, &o, c, &first);
    if (prc != 0)
        return prc; /* a usage error, or one already explained (too many --attach) */
    const char *sub = argv[1];
    char **rest = argv + 1 + first;
    int nrest = argc - 1 - first;
    int rc = ts__login(c);
    if (rc != 0)
        return rc;
    json_t *res = NULL;
    char path[512];
    if (strcmp(sub, "send") == 0) {
        if (!o.subject || !o.urgency || !o.category || (!o.to && !o.stations && !o.communes) || nrest)
            return TS_CTL_USAGE;
        json_t *n = json_pack("{s:s,s:s,s:s}", "subject", o.subject, "urgency", o.urgency, "category", o.category);
        const char *fields[][2] = {{"doc_type", o.doc_type}, {"number", o.number}, {"deadline", o.deadline},
                                   {"responsible", o.responsible}, {"task", o.task}, {"expected_result", o.expected},
                                   {"legal_basis", o.legal_basis}, {"issuer", o.issuer ? o.issuer : "Trung tâm Y tế khu vực"},
                                   {"body", o.body}, {"outbreak_id", o.outbreak}};
        for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
            if (fields[i][1])
                json_object_set_new(n, fields[i][0], json_string(fields[i][1]));
        if (o.body_file) {
            FILE *f = fopen(o.body_file, "r");
            if (f == NULL) {
                json_decref(n);
                return ts__err("cannot read %s", o.body_file);
            }
            ts_buf b = TS_BUF_INIT;
            char chunk[4096];
            size_t k;
            while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
                ts_buf_append(&b, chunk, k);
            fclose(f);
            json_object_set_new(n, "body", json_stringn((const char *)b.data, b.len));
            ts_buf_free(&b);
        }
        if (o.cc)
            json_object_set_new(n, "cc_commune_committee", json_true());
        json_t *files = NULL;
        if (o.nattach > 0 && (rc = ts__attachments(c, &o, &files)) != 0) {
            json_decref(n);
            return rc;
        }
        json_t *body = json_pack("{s:o,s:o}", "notice", n, "recipients", ts__recipients(o.to, o.stations, o.communes));
        if (files != NULL)
            json_object_set_new(body, "attachments", files);
        rc = ts__call(c, "POST", "/api/notices", body, &res);
        json_decref(body);
        if (rc == 0 && !ctl->json) {
            size_t nfiles = json_array_size(json_object_get(res, "attachments"));
            printf("notice %s sent to %zu station(s)", ts__s(res, "id"), json_array_size(json_object_get(res, "recipients")));
            if (nfiles > 0)
                printf(" with %zu attachment%s", nfiles, nfiles > 1 ? "s" : "");
            putchar('\n');
        }
    } else if (strcmp(sub, "list") == 0) {
        rc = ts__call(c, "GET", "/api/notices", NULL, &res);
        if (rc == 0 && !ctl->json) {
            size_t i;
            json_t *it;
            json_array_foreach(json_object_get(res, "notices"), i, it) {
                const json_t *cnt = json_object_get(it, "counts");
                ts_text_col(stdout, ts__s(it, "id"), 24);
                fputc(' ', stdout);
                ts_text_col(stdout, ts__label(ts_notice_urgencies, 4, ts__s(it, "urgency")), 28);
                fputc(' ', stdout);
                ts_text_col(stdout, ts__s(it, "number"), 14);
                printf(" %s\n    %lld sent, %lld delivered, %lld acknowledged, %lld in progress, %lld done, %lld overdue\n",
                       ts__s(it, "subject"), (long long)json_integer_value(json_object_get(cnt, "sent")),
                       (long long)json_integer_value(json_object_get(cnt, "delivered")),
                       (long long)json_integer_value(json_object_get(cnt, "acknowledged")),
                       (long long)json_integer_value(json_object_get(cnt, "in_progress")),
                       (long long)json_integer_value(json_object_get(cnt, "done")),
                       (long long)json_integer_value(json_object_get(cnt, "overdue")));
            }
        }
    } else if ((strcmp(sub, "show") == 0 || strcmp(sub, "status") == 0) && nrest == 1) {
        snprintf(path, sizeof path, "/api/notices/%s", rest[0]);
        rc = ts__call(c, "GET", path, NULL, &res);
        if (rc == 0 && !ctl->json) {
            const json_t *f = json_object_get(res, "fields");
            if (strcmp(sub, "show") == 0)
                printf("%s  %s  %s\n  %s\n  %s, %s — %s\n  deadline %s, responsible %s\n%s%s\n", ts__s(res, "id"),
                       ts__s(f, "number"), ts__label(ts_notice_urgencies, 4, ts__s(f, "urgency")), ts__s(f, "subject"),
                       ts__s(f, "issuer"), ts__s(f, "issue_date"), ts__label(ts_notice_categories, 12, ts__s(f, "category")),
                       json_object_get(f, "deadline") ? ts__s(f, "deadline") : "-",
                       json_object_get(f, "responsible") ? ts__s(f, "responsible") : "-",
                       json_object_get(f, "body") ? "\n" : "", ts__s(f, "body"));
            size_t k;
            json_t *a;
            json_array_foreach(strcmp(sub, "show") == 0 ? json_object_get(res, "attachments") : NULL, k, a) {
                if (k == 0)
                    printf("attachments:\n");
                printf("  %s  ", ts__s(a, "id"));
                ts_text_col(stdout, ts__s(a, "name"), 40);
                printf(" %8lld bytes  %-28s sha256 %.16s...\n", (long long)json_integer_value(json_object_get(a, "size")),
                       ts__s(a, "mime"), ts__s(a, "sha256"));
            }
            printf("%-16s %-30s %-22s %-28s %s\n", "STATION", "STATE", "WHEN", "WHO", "FLAGS");
            size_t i;
            json_t *r;
            json_array_foreach(json_object_get(res, "recipients"), i, r) {
                const char *state = ts__s(r, "state");
                const char *when = strcmp(state, "done") == 0           ? ts__s(r, "done_at")
                                   : strcmp(state, "acknowledged") == 0 ? ts__s(r, "acknowledged_at")
                                   : strcmp(state, "in_progress") == 0  ? ts__s(r, "progress_at")
                                   : strcmp(state, "delivered") == 0    ? ts__s(r, "delivered_at")
                                                                        : ts__s(r, "sent_at");
                ts_text_col(stdout, ts__s(r, "station"), 16);
                fputc(' ', stdout);
                ts_text_col(stdout, ts__label(ts_notice_states, 5, state), 30);
                fputc(' ', stdout);
                ts_text_col(stdout, when, 22);
                fputc(' ', stdout);
                ts_text_col(stdout, json_object_get(r, "acknowledged_by") ? ts__s(r, "acknowledged_by") : "-", 28);
                printf(" %s%s\n", json_is_true(json_object_get(r, "overdue")) ? "OVERDUE " : "",
                       json_object_get(r, "escalated_at") ? "ESCALATED" : "");
            }
        }
    } else if (strcmp(sub, "redistribute") == 0 && nrest == 1) {
        json_t *body = json_pack("{s:o}", "recipients", ts__recipients(o.to, o.stations, o.communes));
        json_t *n = json_object();
        if (o.urgency)
            json_object_set_new(n, "urgency", json_string(o.urgency));
        if (o.subject)
            json_object_set_new(n, "subject", json_string(o.subject));
        if (o.deadline)
            json_object_set_new(n, "deadline", json_string(o.deadline));
        json_object_set_new(body, "notice", n);
        snprintf(path, sizeof path, "/api/reports/%s/redistribute", rest[0]);
        rc = ts__call(c, "POST", path, body, &res);
        json_decref(body);
        if (rc == 0 && !ctl->json)
            printf("report %s passed on as notice %s to %zu station(s)\n", rest[0], ts__s(res, "id"),
                   json_array_size(json_object_get(res, "recipients")));
    } else {
        return TS_CTL_USAGE;
    }
    if (rc == 0 && ctl->json)
        ts__print(ctl, res);
    json_decref(res);
    return rc;
}

/* outbreak open REPORT_ID [--stations a,b] | outbreak list | outbreak show ID */
static int ts__outbreak(ts_ctl *ctl, ts__client *c, int argc, char **argv)
{
    ts__opts o;
    memset(&o, 0, sizeof o);
    int first;
    if (argc < 2 || ts__parse(argc - 1, argv + 1, &o, c, &first) != 0)
        return TS_CTL_USAGE;
    const char *sub = argv[1];
    char **rest = argv + 1 + first;
    int nrest = argc - 1 - first;
    if (!((strcmp(sub, "open") == 0 && nrest == 1) || (strcmp(sub, "list") == 0 && nrest == 0) ||
          (strcmp(sub, "show") == 0 && nrest == 1)))
        return TS_CTL_USAGE;
    int rc = ts__login(c);
    if (rc != 0)
        return rc;
    json_t *res = NULL;
    char path[512];
    if (strcmp(sub, "open") == 0) {
        json_t *body = json_pack("{s:s}", "report", rest[0]);
        if (o.stations) {
            json_t *r = ts__recipients(NULL, o.stations, NULL);
            json_object_set(body, "stations", json_object_get(r, "stations"));
            json_decref(r);
        }
        rc = ts__call(c, "POST", "/api/epidemic/outbreaks", body, &res);
        json_decref(body);
        if (rc == 0 && !ctl->json) {
            printf("outbreak %s opened (%s):", ts__s(res, "id"), ts__s(res, "disease_vi"));
            size_t i;
            json_t *s;
            json_array_foreach(json_object_get(json_object_get(res, "fields"), "stations"), i, s)
                printf(" %s", json_string_value(s));
            putchar('\n');
        }
    } else if (strcmp(sub, "list") == 0) {
        rc = ts__call(c, "GET", "/api/epidemic/outbreaks", NULL, &res);
        if (rc == 0 && !ctl->json) {
            size_t i;
            json_t *it;
            json_array_foreach(json_object_get(res, "outbreaks"), i, it) {
                const json_t *f = json_object_get(it, "fields");
                printf("%s  %-10s %s  %s, %lld cases, %lld deaths\n", ts__s(it, "id"), ts__s(f, "status"),
                       ts__s(f, "started_on"), ts__s(it, "disease_vi"),
                       (long long)json_integer_value(json_object_get(f, "cases_total")),
                       (long long)json_integer_value(json_object_get(f, "deaths")));
            }
        }
    } else {
        snprintf(path, sizeof path, "/api/epidemic/outbreaks/%s", rest[0]);
        rc = ts__call(c, "GET", path, NULL, &res);
        if (rc == 0 && !ctl->json)
            printf("%s  %s  %s, may end from %s, %zu timeline entries\n", ts__s(res, "id"), ts__s(res, "disease_vi"),
                   ts__s(json_object_get(res, "fields"), "status"), ts__s(res, "can_end_from"),
                   json_array_size(json_object_get(res, "timeline")));
    }
    if (rc == 0 && ctl->json)
        ts__print(ctl, res);
    json_decref(res);
    return rc;
}


/* A recurring task's periods at one station, newest first (at most 8):
 * "    Quý IV/2026     Đang thực hiện 10%". */
static void ts__task_periods(const json_t *periods, const char *station)
{
    static const char *const status[][2] = {{"done", "Hoàn thành"},
                                            {"in_progress", "Đang thực hiện"},
                                            {"not_reported", "Chưa báo cáo"},
                                            {"overdue", "QUÁ HẠN"}};
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(periods, "stations"), i, st) {
        if (strcmp(ts__s(st, "station"), station) != 0)
            continue;
        size_t k;
        json_t *r;
        json_array_foreach(json_object_get(st, "rows"), k, r) {
            if (k == 8)
                break;
            const char *word = ts__s(r, "status");
            for (size_t w = 0; w < sizeof status / sizeof *status; w++)
                if (strcmp(status[w][0], word) == 0)
                    word = status[w][1];
            printf("      ");
            ts_text_col(stdout, ts__s(r, "label_vi"), 16);
            printf("%s", word);
            if (json_is_integer(json_object_get(r, "percent")))
                printf(" %lld%%", (long long)json_integer_value(json_object_get(r, "percent")));
            printf("\n");
        }
    }
}

static int ts__task(ts_ctl *ctl, ts__client *c, int argc, char **argv)
{
    ts__opts o;
    memset(&o, 0, sizeof o);
    int first;
    if (argc < 2 || ts__parse(argc - 1, argv + 1, &o, c, &first) != 0)
        return TS_CTL_USAGE;
    const char *sub = argv[1];
    char **rest = argv + 1 + first;
    int nrest = argc - 1 - first;
    int rc = ts__login(c);
    if (rc != 0)
        return rc;
    json_t *res = NULL;
    char path[256];
    if (strcmp(sub, "list") == 0) {
        rc = ts__call(c, "GET", "/api/tasks", NULL, &res);
        if (rc == 0 && !ctl->json) {
            size_t i;
            json_t *t;
            json_array_foreach(json_object_get(res, "tasks"), i, t) {
                const json_t *f = json_object_get(t, "fields");
                char counts[256] = "";
                const char *k;
                json_t *v;
                size_t off = 0;
                json_object_foreach(json_object_get(t, "assignment_counts"), k, v)
                    off += (size_t)snprintf(counts + off, sizeof counts - off, "%s%s %lld", off ? ", " : "", k,
                                            (long long)json_integer_value(v));
                printf("%-6s ", ts__s(t, "id"));
                ts_text_col(stdout, ts__s(f, "task"), ts_text_width(ts__s(f, "task")) > 100 ? 100 : 0);
                fputs("\n       lead: ", stdout);
                ts_text_col(stdout, ts__s(f, "lead"), ts_text_width(ts__s(f, "lead")) > 60 ? 60 : 0);
                printf(" | deadline: %s | assigned: %s\n", ts__s(f, "deadline_text"), counts[0] ? counts : "none");
            }
        }
    } else if (strcmp(sub, "status") == 0 && nrest == 1) {
        snprintf(path, sizeof path, "/api/tasks/%s", rest[0]);
        rc = ts__call(c, "GET", path, NULL, &res);
        if (rc == 0 && !ctl->json) {
            printf("%s  %s\n", ts__s(res, "id"), ts__s(json_object_get(res, "fields"), "task"));
            size_t i;
            json_t *a;
            json_array_foreach(json_object_get(res, "assignments"), i, a)
            {
                printf("  %-16s ", ts__s(a, "station"));
                ts_text_col(stdout, ts__label(ts_notice_states, 5, ts__s(a, "state")), 30);
                printf(" deadline %-12s %s%s\n", ts__s(a, "deadline"),
                       json_is_true(json_object_get(a, "overdue")) ? "OVERDUE " : "", ts__s(a, "progress_note"));
                ts__task_periods(json_object_get(res, "periods"), ts__s(a, "station"));
            }
        }
    } else if ((strcmp(sub, "not-applicable") == 0 || strcmp(sub, "applicable") == 0) && nrest == 1) {
        bool back = strcmp(sub, "applicable") == 0;
        if (!back && (o.reason == NULL || o.reason[0] == '\0'))
            return ts__err("task not-applicable needs --reason TEXT (why the task no longer applies)");
        json_t *body = back ? json_pack("{s:b}", "applicable", true) : json_pack("{s:s}", "reason", o.reason);
        snprintf(path, sizeof path, "/api/tasks/%s/not-applicable", rest[0]);
        rc = ts__call(c, "POST", path, body, &res);
        json_decref(body);
        if (rc == 0 && !ctl->json)
            printf(back ? "Nhiệm vụ %s áp dụng trở lại / task %s applies again\n"
                        : "Nhiệm vụ %s: không áp dụng / task %s set aside as not applicable\n",
                   rest[0], rest[0]);
    } else if (strcmp(sub, "assign") == 0 && nrest == 1) {
        json_t *body = json_pack("{s:o}", "recipients", ts__recipients(o.to, o.stations, o.communes));
        if (o.deadline)
            json_object_set_new(body, "deadline", json_string(o.deadline));
        if (o.instructions)
            json_object_set_new(body, "instructions", json_string(o.instructions));
        snprintf(path, sizeof path, "/api/tasks/%s/assign", rest[0]);
        rc = ts__call(c, "POST", path, body, &res);
        json_decref(body);
        if (rc == 0 && !ctl->json)
            printf("task %s assigned to %lld station(s)\n", rest[0],
                   (long long)json_integer_value(json_object_get(res, "assigned")));
    } else {
        return TS_CTL_USAGE;
    }
    if (rc == 0 && ctl->json)
        ts__print(ctl, res);
    json_decref(res);
    return rc;
}

static int ts__simple(ts_ctl *ctl, ts__client *c, int argc, char **argv, const char *path, const char *key)
{
    ts__opts o;
    memset(&o, 0, sizeof o);
    int first;
    if (ts__parse(argc, argv, &o, c, &first) != 0 || first != argc)
        return TS_CTL_USAGE;
    int rc = ts__login(c);
    json_t *res = NULL;
    if (rc == 0)
        rc = ts__call(c, "GET", path, NULL, &res);
    if (rc == 0) {
        if (ctl->json || key == NULL) {
            ts__print(ctl, res);
        } else {
            size_t i;
            json_t *it;
            json_array_foreach(json_object_get(res, key), i, it) {
                char *line = json_dumps(it, JSON_COMPACT);
                printf("%s\n", line);
                free(line);
            }
        }
    }
    json_decref(res);
    return rc;
}

static int ts__user(ts_ctl *ctl, ts__client *c, int argc, char **argv)
{
    ts__opts o;
    memset(&o, 0, sizeof o);
    int first;
    if (argc < 2 || ts__parse(argc - 1, argv + 1, &o, c, &first) != 0)
        return TS_CTL_USAGE;
    const char *sub = argv[1];
    char **rest = argv + 1 + first;
    int nrest = argc - 1 - first;
    if (strcmp(sub, "list") == 0 && nrest == 0)
        return ts__simple(ctl, c, 1, argv + 1, "/api/users", "users");
    if (strcmp(sub, "unblock") == 0 && nrest <= 1) {
        int rc = ts__login(c);
        if (rc != 0)
            return rc;
        json_t *body = json_pack("{s:s}", "address", nrest ? rest[0] : "");
        json_t *res;
        rc = ts__call(c, "POST", "/api/login-blocks/clear", body, &res);
        json_decref(body);
        if (rc == 0)
            printf("logins from %s are allowed again\n", nrest ? rest[0] : "every address");
        json_decref(res);
        return rc;
    }
    if (strcmp(sub, "add") != 0 || nrest != 1 || o.role == NULL)
        return TS_CTL_USAGE;
    int rc = ts__login(c);
    if (rc != 0)
        return rc;
    /* never $TRAMSYNC_PASSWORD: that is the password of whoever logs in */
    char password[256], prompt[200];
    snprintf(prompt, sizeof prompt, "New password for %s", rest[0]);
    ts__read_password("TRAMSYNC_NEW_PASSWORD", prompt, password, sizeof password);
    if (password[0] == '\0')
        return ts__err("no password for %s (set $TRAMSYNC_NEW_PASSWORD or type it)", rest[0]);
    json_t *body = json_pack("{s:s,s:s,s:s}", "username", rest[0], "password", password, "role", o.role);
    if (o.full_name)
        json_object_set_new(body, "full_name", json_string(o.full_name));
    if (o.communes)
        json_object_set_new(body, "communes", json_string(o.communes));
    json_t *res;
    rc = ts__call(c, "POST", "/api/users", body, &res);
    json_decref(body);
    if (rc == 0)
        printf("account %s saved (%s%s%s)\n", rest[0], o.role, o.communes ? ", " : "", o.communes ? o.communes : "");
    json_decref(res);
    return rc;
}

/* record put TABLE ID field=value...: values typed by the table registry the
 * daemon serves (GET /api/tables); district and shared tables only. */
static int ts__record(ts_ctl *ctl, ts__client *c, int argc, char **argv)
{
    ts__opts o;
    memset(&o, 0, sizeof o);
    int first;
    if (argc < 2 || strcmp(argv[1], "put") != 0 || ts__parse(argc - 1, argv + 1, &o, c, &first) != 0)
        return TS_CTL_USAGE;
    char **rest = argv + 1 + first;
    int nrest = argc - 1 - first;
    if (nrest < 3)
        return TS_CTL_USAGE;
    int rc = ts__login(c);
    json_t *tables = NULL, *res = NULL;
    if (rc == 0)
        rc = ts__call(c, "GET", "/api/tables", NULL, &tables);
    if (rc != 0)
        return rc;
    const json_t *def = NULL;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(tables, "tables"), i, t)
        if (strcmp(ts__s(t, "name"), rest[0]) == 0)
            def = t;
    if (def == NULL) {
        json_decref(tables);
        return ts__err("unknown table %s", rest[0]);
    }
    json_t *fields = json_object();
    for (int k = 2; k < nrest && rc == 0; k++) {
        char *eq = strchr(rest[k], '=');
        if (eq == NULL) {
            rc = ts__err("\"%s\": expected field=value", rest[k]);
            break;
        }
        *eq = '\0';
        const char *type = NULL;
        size_t f;
        json_t *fd;
        json_array_foreach(json_object_get(def, "fields"), f, fd)
            if (strcmp(ts__s(fd, "name"), rest[k]) == 0)
                type = ts__s(fd, "type");
        const char *v = eq + 1;
        if (type == NULL) {
            rc = ts__err("table %s has no field %s", rest[0], rest[k]);
        } else if (strcmp(type, "int") == 0) {
            json_object_set_new(fields, rest[k], json_integer(strtoll(v, NULL, 10)));
        } else if (strcmp(type, "real") == 0) {
            json_object_set_new(fields, rest[k], json_real(strtod(v, NULL)));
        } else if (strcmp(type, "bool") == 0) {
            json_object_set_new(fields, rest[k], json_boolean(strcmp(v, "true") == 0 || strcmp(v, "1") == 0));
        } else if (strcmp(type, "list") == 0) {
            json_t *arr = json_array();
            char *copy = ts_xstrdup(v), *save = NULL;
            for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
                json_array_append_new(arr, json_string(tok));
            free(copy);
            json_object_set_new(fields, rest[k], arr);
        } else {
            json_object_set_new(fields, rest[k], v[0] ? json_string(v) : json_null());
        }
    }
    if (rc == 0) {
        char path[512];
        snprintf(path, sizeof path, "/api/records/%s/%s", rest[0], rest[1]);
        json_t *body = json_pack("{s:O}", "fields", fields);
        rc = ts__call(c, "POST", path, body, &res);
        json_decref(body);
        if (rc == 0 && !ctl->json)
            printf("stored %s/%s\n", rest[0], rest[1]);
        else if (rc == 0)
            ts__print(ctl, res);
    }
    json_decref(fields);
    json_decref(tables);
    json_decref(res);
    return rc;
}

int ts_ctl_api(ts_ctl *ctl, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0) {
        fputs(ts__api_help, stdout);
        return 0;
    }
    /* `tramsyncctl notice --help`, `tramsyncctl notice send --help`: help,
     * before any login (further on, --help may be an option's value) */
    for (int i = 1; i < argc && i < 3; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(ts__api_help, stdout);
            return 0;
        }
    ts__client c;
    memset(&c, 0, sizeof c);
    const char *url = getenv("TRAMSYNC_ADMIN_URL");
    snprintf(c.host, sizeof c.host, "localhost");
    snprintf(c.port, sizeof c.port, "7444");
    if (url) {
        ts__opts o;
        int first;
        char *fake[] = {"x", "--server", (char *)url, NULL};
        memset(&o, 0, sizeof o);
        ts__parse(3, fake, &o, &c, &first);
    }
    static char ca_default[1024];
    snprintf(ca_default, sizeof ca_default, "%s/ca.pem", ctl->pki_dir);
    c.ca = getenv("TRAMSYNC_CA") ? getenv("TRAMSYNC_CA") : ca_default;
    c.user = getenv("TRAMSYNC_USER");
    c.cert = getenv("TRAMSYNC_ADMIN_CERT");
    c.key = getenv("TRAMSYNC_ADMIN_KEY");
    const char *cmd = argv[0];
    int rc;
    if (strcmp(cmd, "status") == 0) {
        ts__opts o;
        memset(&o, 0, sizeof o);
        int first;
        if (ts__parse(argc, argv, &o, &c, &first) != 0 || first != argc)
            rc = TS_CTL_USAGE;
        else if ((rc = ts__login(&c)) == 0)
            rc = ts__status(ctl, &c);
    } else if (strcmp(cmd, "notice") == 0) {
        rc = ts__notice(ctl, &c, argc, argv);
    } else if (strcmp(cmd, "task") == 0) {
        rc = ts__task(ctl, &c, argc, argv);
    } else if (strcmp(cmd, "outbreak") == 0) {
        rc = ts__outbreak(ctl, &c, argc, argv);
    } else if (strcmp(cmd, "escalations") == 0) {
        rc = ts__simple(ctl, &c, argc, argv, "/api/escalations", "items");
    } else if (strcmp(cmd, "conflicts") == 0) {
        rc = ts__simple(ctl, &c, argc, argv, "/api/conflicts", "conflicts");
    } else if (strcmp(cmd, "user") == 0) {
        rc = ts__user(ctl, &c, argc, argv);
    } else if (strcmp(cmd, "record") == 0) {
        rc = ts__record(ctl, &c, argc, argv);
    } else if (strcmp(cmd, "plan") == 0) {
        rc = ts_ctl_plan(ctl, &c, argc, argv);
    } else if (strcmp(cmd, "calendar") == 0) {
        rc = ts_ctl_calendar(ctl, &c, argc, argv);
    } else if (strcmp(cmd, "export") == 0 || strcmp(cmd, "report") == 0) {
        rc = ts_ctl_export(ctl, &c, argc, argv);
    } else {
        rc = TS_CTL_USAGE;
    }
    if (rc == TS_CTL_USAGE)
        fputs(ts__api_help, stderr);
    return rc;
}

/* ---------------------------------------------------------------- for ts_ctl_plan.c */

int ts_ctl__request(ts_ctl_client *c, const char *method, const char *path, const json_t *body, ts_ctl_resp *r)
{
    return ts__request(c, method, path, body, r);
}

int ts_ctl__login(ts_ctl_client *c)
{
    return ts__login(c);
}

int ts_ctl__call(ts_ctl_client *c, const char *method, const char *path, const json_t *body, json_t **out)
{
    return ts__call(c, method, path, body, out);
}

int ts_ctl__conn_opts(int argc, char **argv, ts_ctl_client *c, int *first_arg)
{
    ts__opts o;
    memset(&o, 0, sizeof o);
    return ts__parse(argc, argv, &o, c, first_arg);
}
