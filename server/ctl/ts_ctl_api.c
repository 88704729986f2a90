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

#include "common/ts_recjson.h"
#include "common/ts_text.h"
#include "common/ts_buf.h"
#include "common/ts_notice.h"
#include "common/ts_registry.h"
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

int ts_ctl__err(const char *fmt, ...)
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
        return ts_ctl__err(TS__L(c, "không tìm thấy máy chủ %s", "cannot resolve %s"), c->host);
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return ts_ctl__err(TS__L(c, "không kết nối được API quản trị ở %s:%s: %s (tramsyncd có đang chạy với [admin] "
                                    "listen không?)",
                                 "cannot connect to the admin API at %s:%s: %s (is tramsyncd running with [admin] "
                                 "listen?)"),
                           c->host, c->port, strerror(errno));
    }
    freeaddrinfo(res);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    int rc = 0;
    if (c->ca == NULL || SSL_CTX_load_verify_locations(ctx, c->ca, NULL) != 1) {
        rc = ts_ctl__err(TS__L(c, "không nạp được CA của huyện (%s): hãy ghi --ca TỆP",
                              "cannot load the district CA (%s): give --ca FILE"),
                         c->ca ? c->ca : TS__L(c, "không có", "none"));
        goto out;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (c->cert && (SSL_CTX_use_certificate_chain_file(ctx, c->cert) != 1 ||
                    SSL_CTX_use_PrivateKey_file(ctx, c->key ? c->key : c->cert, SSL_FILETYPE_PEM) != 1)) {
        rc = ts_ctl__err(TS__L(c, "không nạp được chứng thư quản trị %s", "cannot load the admin certificate %s"), c->cert);
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
        rc = ts_ctl__err(TS__L(c, "kết nối TLS với %s không thành công: %s", "TLS with %s failed: %s"), c->host, e);
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
        rc = ts_ctl__err(TS__L(c, "API quản trị không trả lời", "no answer from the admin API"));
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

/* A request whose answer must be 2xx JSON; the JSON goes to *out. */
static int ts__call(ts__client *c, const char *method, const char *path, const json_t *body, json_t **out);

/* The district's time zone (GET /api/labels), made this process's: a date
 * or time shown is the district's, wherever tramsyncctl runs. Left as it is
 * when the daemon does not say (an older one). */
static void ts__district_tz(ts__client *c)
{
    json_t *labels = NULL;
    if (ts__call(c, "GET", "/api/labels", NULL, &labels) == 0) {
        const char *tz = json_string_value(json_object_get(labels, "timezone"));
        if (tz != NULL && ts_tz_valid(tz))
            ts_district_tz_apply(tz);
    }
    json_decref(labels);
}

static int ts__login_as(ts__client *c)
{
    if (c->cert != NULL)
        return 0;
    if (c->user == NULL)
        return ts_ctl__err(TS__L(c,
                                 "hãy đăng nhập bằng --user TÊN (mật khẩu lấy từ $TRAMSYNC_PASSWORD hoặc được hỏi) "
                                 "hoặc --cert TỆP",
                                 "authenticate with --user NAME (password from $TRAMSYNC_PASSWORD or asked) or "
                                 "--cert FILE"));
    char password[256];
    ts__read_password("TRAMSYNC_PASSWORD", TS__L(c, "Mật khẩu", "Password"), password, sizeof password);
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
        rc = ts_ctl__err(TS__L(c, "đăng nhập bị từ chối: %s", "login refused: %s"), msg ? msg : (const char *)r.body.data);
    } else {
        snprintf(c->token, sizeof c->token, "%s", json_string_value(json_object_get(j, "token")));
    }
    json_decref(j);
    ts_buf_free(&r.body);
    return rc;
}

static int ts__login(ts__client *c)
{
    int rc = ts__login_as(c);
    if (rc == 0 && c->want_tz)
        ts__district_tz(c);
    return rc;
}

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
        /* the daemon's words as it gives them, after a Vietnamese sentence
         * saying what happened (its messages may be in English) */
        const char *what = r.status == 404                     ? "không tìm thấy"
                           : r.status == 401 || r.status == 403 ? "không được phép"
                           : r.status == 400 || r.status == 422 ? "dữ liệu bị từ chối"
                           : r.status >= 500                    ? "lỗi phía máy chủ"
                                                                : "máy chủ từ chối";
        if (c->en)
            ts_ctl__err("%s %s: %d %s", method, path, r.status, msg ? msg : "");
        else
            ts_ctl__err("%s %s: %d %s: %s", method, path, r.status, what, msg ? msg : "");
        rc = r.status == 404 ? TS_CTL_NOT_FOUND : r.status == 422 || r.status == 400 ? TS_CTL_INVALID : TS_CTL_ERROR;
        json_decref(j);
        j = NULL;
    }
    ts_buf_free(&r.body);
    *out = j;
    return rc;
}

/* ---------------------------------------------------------------- output */

void ts_ctl__print(json_t *j)
{
    json_dumpf(j, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
}

const char *ts_ctl__s(const json_t *o, const char *key)
{
    return ts_json_str(o, key);
}

json_int_t ts_ctl__i(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

const char *ts_ctl__label(const ts_ctl *ctl, const ts_label *list, size_t n, const char *code)
{
    const ts_label *l = ts_label_find(list, n, code);
    return l ? TS__L(ctl, l->vi, l->en) : code;
}

/* The registry built in (common/schema/tables.json): the same value_labels
 * as the daemon's, without asking it. */
static ts_registry ts__reg;
static bool ts__reg_loaded;

const ts_registry *ts_ctl__registry(void)
{
    if (!ts__reg_loaded) {
        ts_error err;
        if (ts_registry_load_default(&ts__reg, &err) < 0)
            return NULL;
        ts__reg_loaded = true;
    }
    return &ts__reg;
}

const char *ts_ctl__value(const ts_ctl *ctl, const char *table, const char *field, const char *code)
{
    const ts_registry *reg = ts_ctl__registry();
    const ts_table_def *t = reg ? ts_registry_table(reg, table) : NULL;
    const ts_field_def *f = t ? ts_table_field(t, field) : NULL;
    return f ? ts_field_value_label(f, code, ctl->en) : code;
}

void ts_ctl__labels_free(void)
{
    if (ts__reg_loaded)
        ts_registry_free(&ts__reg);
    ts__reg_loaded = false;
}

/* ---------------------------------------------------------------- recipients */

/* --to all | --stations a,b | --communes x,y  ->  {"all":true} / {"stations":[...]} / ... */
json_t *ts_ctl__recipients(const char *to, const char *stations, const char *communes)
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

static const char ts__api_help_vi[] =
    "Các lệnh qua API quản trị (tùy chọn: --server https://MÁY:CỔNG --ca TỆP, và --user TÊN hoặc --cert TỆP --key TỆP):\n"
    "  status                              dịch vụ, các trạm (trạm im lặng được đánh dấu), xung đột, việc cần đôn đốc\n"
    "  notice send --subject S --urgency thuong|khan|thuong_khan|hoa_toc --category MÃ\n"
    "              (--to all | --stations a,b | --communes x,y) [--doc-type T] [--number N]\n"
    "              [--body VĂN_BẢN | --body-file F] [--deadline ISO] [--responsible R] [--task T]\n"
    "              [--expected VĂN_BẢN] [--legal-basis VĂN_BẢN] [--issuer VĂN_BẢN] [--cc-committee]\n"
    "              [--attach TỆP]...   (tối đa 5 tệp, mỗi tệp 256 KiB; kiểu MIME theo đuôi tệp)\n"
    "              [--outbreak MÃ]     (chỉ đạo về một ổ dịch: mã ổ dịch ghi trong văn bản)\n"
    "  notice list | notice show MÃ | notice status MÃ\n"
    "  notice redistribute MÃ_BÁO_CÁO (--stations a,b | --communes x,y | --to all) [--urgency U]\n"
    "  outbreak open MÃ_BÁO_CÁO [--stations a,b]   mở ổ dịch từ báo cáo ổ dịch của một trạm,\n"
    "                                      liên quan cả các trạm lân cận đó\n"
    "  outbreak list | outbreak show MÃ\n"
    "  task list | task status MÃ | task assign MÃ (--stations a,b | ...) [--deadline YYYY-MM-DD]\n"
    "              [--instructions VĂN_BẢN]\n"
    "  task not-applicable MÃ --reason LÝ_DO   để riêng một nhiệm vụ (đơn vị chủ trì không còn): không bao\n"
    "                                      giờ quá hạn; task applicable MÃ áp dụng lại\n"
    "  plan load TỆP                       nạp tệp kế hoạch của tỉnh (docs/PLANS.md): quyền quản trị\n"
    "  plan show                           kế hoạch đang áp dụng và các phiên bản đã nạp\n"
    "  export [--format xlsx|csv] [--part targets|tasks|reporting|periodic] [--quarter YYYY-Qn] --out TỆP\n"
    "                                      số liệu của quý gửi tỉnh (tên TTYT, kỳ báo cáo)\n"
    "  report quarterly [--quarter YYYY-Qn] --out TỆP.pdf   báo cáo tổng hợp quý (A4)\n"
    "  report notice MÃ --out TỆP.pdf      in một văn bản thành văn bản hành chính (A4, thể thức\n"
    "                                      Nghị định 30/2020)\n"
    "  calendar duty TỆP.json              tạo hoặc sửa một việc định kỳ ({\"id\"?, \"fields\": {...}}):\n"
    "                                      báo cáo định kỳ và mẫu của nó, giao ban, sơ kết, tổng kết\n"
    "  calendar remind MÃ_KỲ               nhắc mọi trạm nộp muộn báo cáo của kỳ đó (một văn bản)\n"
    "  calendar grid [MÃ_VIỆC]             báo cáo định kỳ: trạm × kỳ, đúng hạn, muộn, chưa nộp\n"
    "  escalations                         văn bản khẩn chưa xác nhận, văn bản và nhiệm vụ quá hạn\n"
    "  conflicts                           các xung đột chờ xem xét\n"
    "  user add TÊN --role viewer|operator|admin|commune|monitor [--full-name N]   (mật khẩu được hỏi)\n"
    "              [--commune MÃ | --communes a,b]   xã của tài khoản xã (một), của người xem (tùy ý):\n"
    "                                      mã xã hoặc mã trạm; tài khoản chỉ thấy các xã đó\n"
    "  user list\n"
    "  user unblock [ĐỊA_CHỈ]              cho đăng nhập lại từ ĐỊA_CHỈ sau quá nhiều lần sai (mọi địa chỉ\n"
    "                                      khi không ghi); đăng nhập từ máy này không bao giờ bị chặn\n"
    "  record put BẢNG MÃ trường=giá_trị...  ghi một bản ghi của huyện (danh mục trạm, thôn, danh mục\n"
    "                                      thuốc...): quyền quản trị\n";

static const char ts__api_help_en[] =
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

int ts_ctl__parse(int argc, char **argv, ts_ctl_opts *o, ts__client *c, int *first_arg)
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
                return ts_ctl__err(TS__L(c, "--attach chỉ dùng với notice send", "--attach goes with notice send only"));
            if (o->nattach == TS_CTL_MAX_ATTACH_ARGS)
                return ts_ctl__err(TS__L(c, "tối đa %d --attach", "at most %d --attach"), TS_CTL_MAX_ATTACH_ARGS);
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

int ts_ctl__parse_sub(int argc, char **argv, ts_ctl_opts *o, ts_ctl_client *c, ts_ctl_sub *sub)
{
    int first;
    int rc = argc < 2 ? TS_CTL_USAGE : ts_ctl__parse(argc - 1, argv + 1, o, c, &first);
    if (rc != 0)
        return rc;
    sub->name = argv[1];
    sub->rest = argv + 1 + first;
    sub->nrest = argc - 1 - first;
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
        ts_ctl__print(all);
        json_decref(all);
        json_decref(st);
        return 0;
    }
    const json_t *s = json_object_get(ov, "stations"), *n = json_object_get(ov, "notices"),
                 *svc = json_object_get(ov, "service");
    /* the heads in one column, however many bytes their letters take */
    const char *heads[4] = {TS__L(ctl, "Trạm", "Stations"), TS__L(ctl, "Xung đột", "Conflicts"),
                            TS__L(ctl, "Văn bản", "Notices"), TS__L(ctl, "Dịch vụ", "Service")};
    ts_text_col(stdout, heads[0], 14);
    printf(TS__L(ctl, "%lld/%lld trực tuyến, %lld mất liên lạc\n", "%lld online of %lld, %lld silent\n"),
           (long long)ts_ctl__i(s, "online"), (long long)ts_ctl__i(s, "total"), (long long)ts_ctl__i(s, "silent"));
    ts_text_col(stdout, heads[1], 14);
    printf(TS__L(ctl, "%lld chờ xem xét\n", "%lld waiting for review\n"), (long long)ts_ctl__i(ov, "conflicts_open"));
    ts_text_col(stdout, heads[2], 14);
    printf(TS__L(ctl, "%lld khẩn chưa xác nhận, %lld quá hạn, %lld đã nhắc lại\n",
                 "%lld urgent not acknowledged, %lld overdue, %lld escalated\n"),
           (long long)ts_ctl__i(n, "urgent_unacknowledged"), (long long)ts_ctl__i(n, "overdue"),
           (long long)ts_ctl__i(n, "escalated"));
    ts_text_col(stdout, heads[3], 14);
    printf(TS__L(ctl,
                 "%lld kết nối, %lld thay đổi nhận, %lld gửi, độ trễ vòng lặp p99 %lld ms, cơ sở dữ liệu %.1f MB\n",
                 "%lld connections, %lld changes in, %lld out, loop lag p99 %lld ms, database %.1f MB\n"),
           (long long)ts_ctl__i(svc, "connections"), (long long)ts_ctl__i(svc, "changes_in"),
           (long long)ts_ctl__i(svc, "changes_out"), (long long)ts_ctl__i(svc, "loop_lag_p99_ms"),
           (double)ts_ctl__i(ov, "db_bytes") / 1e6);
    static const size_t cols[] = {16, 13, 17, 17, 10};
    const char *titles[] = {TS__L(ctl, "TRẠM", "STATION"), TS__L(ctl, "TÌNH TRẠNG", "STATE"),
                            TS__L(ctl, "LẦN CUỐI THẤY", "LAST SEEN"), TS__L(ctl, "ĐỒNG BỘ CUỐI", "LAST SYNC"),
                            TS__L(ctl, "CHỜ", "LAG"), TS__L(ctl, "CHỨNG THƯ", "CERTIFICATE")};
    putchar('\n');
    for (size_t k = 0; k < 5; k++) {
        ts_text_col(stdout, titles[k], cols[k]);
        putchar(' ');
    }
    printf("%s\n", titles[5]);
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(st, "stations"), i, o) {
        char seen[32] = "-", sync[32] = "-", cert[96], lag[24];
        json_int_t seen_ms = ts_ctl__i(o, "last_seen_ms"), sync_ms = ts_ctl__i(o, "last_sync_ms");
        if (seen_ms > 0)
            ts_text_time_ms((uint64_t)seen_ms, seen, sizeof seen);
        if (sync_ms > 0)
            ts_text_time_ms((uint64_t)sync_ms, sync, sizeof sync);
        json_t *days = json_object_get(o, "cert_days_left");
        if (days)
            snprintf(cert, sizeof cert, TS__L(ctl, "còn %lld ngày%s", "%lld days%s"), (long long)json_integer_value(days),
                     json_integer_value(days) < 30 ? TS__L(ctl, " SẮP HẾT HẠN, CẤP LẠI", " RENEW SOON") : "");
        else
            snprintf(cert, sizeof cert, "-");
        snprintf(lag, sizeof lag, "%10lld", (long long)ts_ctl__i(o, "lag_changes"));
        const char *state = json_is_true(json_object_get(o, "connected")) ? TS__L(ctl, "trực tuyến", "online")
                            : json_is_true(json_object_get(o, "silent"))  ? TS__L(ctl, "MẤT LIÊN LẠC", "SILENT")
                                                                          : TS__L(ctl, "mất kết nối", "offline");
        const char *vals[] = {ts_ctl__s(o, "code"), state, seen, sync, lag};
        for (size_t k = 0; k < 5; k++) {
            ts_text_col(stdout, vals[k], cols[k]);
            putchar(' ');
        }
        printf("%s\n", cert);
    }
    json_decref(ov);
    json_decref(st);
    json_decref(esc);
    return 0;
}


int ts_ctl__list(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv, const char *path, const char *key,
                 void (*line)(const ts_ctl *ctl, const json_t *item))
{
    ts_ctl_opts o;
    memset(&o, 0, sizeof o);
    int first;
    if (ts_ctl__parse(argc, argv, &o, c, &first) != 0 || first != argc)
        return TS_CTL_USAGE;
    c->want_tz = !ctl->json && line != NULL;
    int rc = ts__login(c);
    json_t *res = NULL;
    if (rc == 0)
        rc = ts__call(c, "GET", path, NULL, &res);
    if (rc == 0) {
        if (ctl->json) {
            ts_ctl__print(res);
        } else {
            size_t i;
            json_t *it;
            json_array_foreach(json_object_get(res, key), i, it) {
                if (line != NULL) {
                    line(ctl, it);
                    continue;
                }
                char *text = json_dumps(it, JSON_COMPACT);
                printf("%s\n", text);
                free(text);
            }
        }
    }
    json_decref(res);
    return rc;
}

/* A conflict waiting for review: where (the table's and the field's names),
 * when it was found and whose change revealed it; its two values are for
 * the console or --json. */
static void ts__conflict_line(const ts_ctl *ctl, const json_t *cf)
{
    const ts_registry *reg = ts_ctl__registry();
    const ts_table_def *t = reg ? ts_registry_table(reg, ts_ctl__s(cf, "table")) : NULL;
    const ts_field_def *f = t ? ts_table_field(t, ts_ctl__s(cf, "field")) : NULL;
    char when[32] = "-";
    if (ts_ctl__i(cf, "detected_at_ms") > 0)
        ts_text_time_ms((uint64_t)ts_ctl__i(cf, "detected_at_ms"), when, sizeof when);
    printf(TS__L(ctl, "#%lld  %s, bản ghi %s, trường %s: phát hiện %s (thay đổi của %s)\n",
                 "#%lld  %s, record %s, field %s: found %s (a change by %s)\n"),
           (long long)ts_ctl__i(cf, "id"), t ? TS__L(ctl, t->label_vi, t->label_en) : ts_ctl__s(cf, "table"),
           ts_ctl__s(cf, "record"), f ? TS__L(ctl, f->label_vi, f->label_en) : ts_ctl__s(cf, "field"), when,
           ts_ctl__s(cf, "actor"));
}

/* An account's role in words, as the console names it (server/console/i18n.js). */
static const char *ts__role(const ts_ctl *ctl, const char *code)
{
    static const ts_label roles[] = {{"viewer", "xem", "viewer"},
                                     {"operator", "điều hành", "operator"},
                                     {"admin", "quản trị", "admin"},
                                     {"commune", "UBND xã", "commune committee"},
                                     {"monitor", "giám sát hệ thống", "monitor"}};
    return ts_ctl__label(ctl, roles, sizeof roles / sizeof *roles, code);
}

static int ts__user(ts_ctl *ctl, ts__client *c, int argc, char **argv)
{
    ts_ctl_opts o;
    memset(&o, 0, sizeof o);
    ts_ctl_sub sc;
    if (ts_ctl__parse_sub(argc, argv, &o, c, &sc) != 0)
        return TS_CTL_USAGE;
    if (strcmp(sc.name, "list") == 0 && sc.nrest == 0)
        return ts_ctl__list(ctl, c, 1, argv + 1, "/api/users", "users", NULL);
    if (strcmp(sc.name, "unblock") == 0 && sc.nrest <= 1) {
        int rc = ts__login(c);
        if (rc != 0)
            return rc;
        json_t *body = json_pack("{s:s}", "address", sc.nrest ? sc.rest[0] : "");
        json_t *res;
        rc = ts__call(c, "POST", "/api/login-blocks/clear", body, &res);
        json_decref(body);
        if (rc == 0)
            printf(TS__L(ctl, "đã cho đăng nhập lại từ %s\n", "logins from %s are allowed again\n"),
                   sc.nrest ? sc.rest[0] : TS__L(ctl, "mọi địa chỉ", "every address"));
        json_decref(res);
        return rc;
    }
    if (strcmp(sc.name, "add") != 0 || sc.nrest != 1 || o.role == NULL)
        return TS_CTL_USAGE;
    int rc = ts__login(c);
    if (rc != 0)
        return rc;
    /* never $TRAMSYNC_PASSWORD: that is the password of whoever logs in */
    char password[256], prompt[200];
    snprintf(prompt, sizeof prompt, TS__L(ctl, "Mật khẩu mới cho %s", "New password for %s"), sc.rest[0]);
    ts__read_password("TRAMSYNC_NEW_PASSWORD", prompt, password, sizeof password);
    if (password[0] == '\0')
        return ts_ctl__err(TS__L(ctl, "chưa có mật khẩu cho %s (đặt $TRAMSYNC_NEW_PASSWORD hoặc gõ vào)",
                                 "no password for %s (set $TRAMSYNC_NEW_PASSWORD or type it)"),
                           sc.rest[0]);
    json_t *body = json_pack("{s:s,s:s,s:s}", "username", sc.rest[0], "password", password, "role", o.role);
    if (o.full_name)
        json_object_set_new(body, "full_name", json_string(o.full_name));
    if (o.communes)
        json_object_set_new(body, "communes", json_string(o.communes));
    json_t *res;
    rc = ts__call(c, "POST", "/api/users", body, &res);
    json_decref(body);
    if (rc == 0)
        printf(TS__L(ctl, "đã lưu tài khoản %s (%s%s%s)\n", "account %s saved (%s%s%s)\n"), sc.rest[0],
               ts__role(ctl, o.role), o.communes ? ", " : "", o.communes ? o.communes : "");
    json_decref(res);
    return rc;
}

/* record put TABLE ID field=value...: values typed by the table registry the
 * daemon serves (GET /api/tables); district and shared tables only. */
static int ts__record(ts_ctl *ctl, ts__client *c, int argc, char **argv)
{
    ts_ctl_opts o;
    memset(&o, 0, sizeof o);
    int first;
    if (argc < 2 || strcmp(argv[1], "put") != 0 || ts_ctl__parse(argc - 1, argv + 1, &o, c, &first) != 0)
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
        if (strcmp(ts_ctl__s(t, "name"), rest[0]) == 0)
            def = t;
    if (def == NULL) {
        json_decref(tables);
        return ts_ctl__err(TS__L(ctl, "không có bảng %s", "unknown table %s"), rest[0]);
    }
    json_t *fields = json_object();
    for (int k = 2; k < nrest && rc == 0; k++) {
        char *eq = strchr(rest[k], '=');
        if (eq == NULL) {
            rc = ts_ctl__err(TS__L(ctl, "\"%s\": cần dạng trường=giá_trị", "\"%s\": expected field=value"), rest[k]);
            break;
        }
        *eq = '\0';
        const char *type = NULL;
        size_t f;
        json_t *fd;
        json_array_foreach(json_object_get(def, "fields"), f, fd)
            if (strcmp(ts_ctl__s(fd, "name"), rest[k]) == 0)
                type = ts_ctl__s(fd, "type");
        const char *v = eq + 1;
        if (type == NULL) {
            rc = ts_ctl__err(TS__L(ctl, "bảng %s không có trường %s", "table %s has no field %s"), rest[0], rest[k]);
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
            printf(TS__L(ctl, "đã lưu %s/%s\n", "stored %s/%s\n"), rest[0], rest[1]);
        else if (rc == 0)
            ts_ctl__print(res);
    }
    json_decref(fields);
    json_decref(tables);
    json_decref(res);
    return rc;
}

int ts_ctl_api(ts_ctl *ctl, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0) {
        fputs(TS__L(ctl, ts__api_help_vi, ts__api_help_en), stdout);
        return 0;
    }
    /* `tramsyncctl notice --help`, `tramsyncctl notice send --help`: help,
     * before any login (further on, --help may be an option's value) */
    for (int i = 1; i < argc && i < 3; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(TS__L(ctl, ts__api_help_vi, ts__api_help_en), stdout);
            return 0;
        }
    ts__client c;
    memset(&c, 0, sizeof c);
    c.en = ctl->en;
    const char *url = getenv("TRAMSYNC_ADMIN_URL");
    snprintf(c.host, sizeof c.host, "localhost");
    snprintf(c.port, sizeof c.port, "7444");
    if (url) {
        ts_ctl_opts o;
        int first;
        char *fake[] = {"x", "--server", (char *)url, NULL};
        memset(&o, 0, sizeof o);
        ts_ctl__parse(3, fake, &o, &c, &first);
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
        ts_ctl_opts o;
        memset(&o, 0, sizeof o);
        int first;
        if (ts_ctl__parse(argc, argv, &o, &c, &first) != 0 || first != argc)
            rc = TS_CTL_USAGE;
        else if ((c.want_tz = !ctl->json, rc = ts__login(&c)) == 0)
            rc = ts__status(ctl, &c);
    } else if (strcmp(cmd, "notice") == 0) {
        rc = ts_ctl_notice(ctl, &c, argc, argv);
    } else if (strcmp(cmd, "task") == 0) {
        rc = ts_ctl_task(ctl, &c, argc, argv);
    } else if (strcmp(cmd, "outbreak") == 0) {
        rc = ts_ctl_outbreak(ctl, &c, argc, argv);
    } else if (strcmp(cmd, "escalations") == 0) {
        rc = ts_ctl_escalations(ctl, &c, argc, argv);
    } else if (strcmp(cmd, "conflicts") == 0) {
        rc = ts_ctl__list(ctl, &c, argc, argv, "/api/conflicts", "conflicts", ts__conflict_line);
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
        fputs(TS__L(ctl, ts__api_help_vi, ts__api_help_en), stderr);
    ts_ctl__labels_free();
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
    ts_ctl_opts o;
    memset(&o, 0, sizeof o);
    return ts_ctl__parse(argc, argv, &o, c, first_arg);
}
