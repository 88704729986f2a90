/* tramsyncctl ca: the district CA on disk.
 *
 * <pki>/ca.pem, ca.key (0600)   the CA (ECDSA P-256)
 * <pki>/crl.pem                 the revocation list the daemon loads (SIGHUP reloads it)
 * <pki>/index.tsv               every certificate issued: serial, kind, name, commune,
 *                               not_after, status, revoked_at, file
 * <pki>/issued/                 certificates (and keys made here) by name */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/ts_notice.h"
#include "common/ts_text.h"
#include "common/ts_pki.h"
#include "common/ts_record.h"
#include "common/ts_xmalloc.h"
#include "server/ctl/ts_ctl.h"

#define TS__CRL_DAYS 180
#define TS__WARN_DAYS 30

typedef struct ts__entry {
    char serial[48];
    char kind[16];
    char name[160];
    char commune[160];
    int64_t not_after;
    char status[16];
    int64_t revoked_at;
    char file[512];
} ts__entry;

typedef struct ts__index {
    ts__entry *e;
    size_t n;
} ts__index;

/* The language asked for (ts_ctl.en), for the helpers below that have no ctl. */
static struct {
    bool en;
} ts__lang;
#define TS__T(in_vi, in_en) TS__L(&ts__lang, in_vi, in_en)

/* A certificate's kind and status in words (the index keeps the codes). */
static const char *ts__word(const char *code)
{
    static const ts_label words[] = {{"server", "máy chủ", "server"},     {"station", "trạm", "station"},
                                     {"admin", "quản trị", "admin"},      {"valid", "còn hiệu lực", "valid"},
                                     {"revoked", "đã thu hồi", "revoked"}};
    const ts_label *l = ts_label_find(words, sizeof words / sizeof *words, code);
    return l ? TS__T(l->vi, l->en) : code;
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

/* --days: a whole number of days from 1 to 100 years; anything else (0,
 * negative, "90d") is refused rather than silently replaced by a default. */
static int ts__days(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 36500)
        return ts__err(TS__T("--days %s: số ngày từ 1 đến 36500", "--days %s: a number of days from 1 to 36500"), s);
    *out = (int)v;
    return 0;
}

static char *ts__path(const ts_ctl *ctl, const char *name)
{
    return ts_xasprintf("%s/%s", ctl->pki_dir, name);
}

static int ts__index_load(const ts_ctl *ctl, ts__index *idx)
{
    idx->e = NULL;
    idx->n = 0;
    char *path = ts__path(ctl, "index.tsv");
    FILE *f = fopen(path, "r");
    free(path);
    if (f == NULL)
        return 0;
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        ts__entry e;
        memset(&e, 0, sizeof e);
        char *fields[8] = {0};
        int nf = 0;
        char *save = NULL;
        for (char *tok = strtok_r(line, "\t\n", &save); tok && nf < 8; tok = strtok_r(NULL, "\t\n", &save))
            fields[nf++] = tok;
        if (nf < 8)
            continue;
        snprintf(e.serial, sizeof e.serial, "%s", fields[0]);
        snprintf(e.kind, sizeof e.kind, "%s", fields[1]);
        snprintf(e.name, sizeof e.name, "%s", fields[2]);
        snprintf(e.commune, sizeof e.commune, "%s", strcmp(fields[3], "-") ? fields[3] : "");
        e.not_after = strtoll(fields[4], NULL, 10);
        snprintf(e.status, sizeof e.status, "%s", fields[5]);
        e.revoked_at = strtoll(fields[6], NULL, 10);
        snprintf(e.file, sizeof e.file, "%s", fields[7]);
        idx->e = ts_xreallocarray(idx->e, idx->n + 1, sizeof *idx->e);
        idx->e[idx->n++] = e;
    }
    fclose(f);
    return 0;
}

static int ts__index_save(const ts_ctl *ctl, const ts__index *idx)
{
    char *path = ts__path(ctl, "index.tsv"), *tmp = ts__path(ctl, "index.tsv.tmp");
    FILE *f = fopen(tmp, "w");
    int rc = 0;
    if (f == NULL) {
        rc = ts__err(TS__T("không ghi được %s: %s", "cannot write %s: %s"), tmp, strerror(errno));
    } else {
        fprintf(f, "# serial\tkind\tname\tcommune\tnot_after\tstatus\trevoked_at\tfile\n");
        for (size_t i = 0; i < idx->n; i++) {
            const ts__entry *e = &idx->e[i];
            fprintf(f, "%s\t%s\t%s\t%s\t%" PRId64 "\t%s\t%" PRId64 "\t%s\n", e->serial, e->kind, e->name,
                    e->commune[0] ? e->commune : "-", e->not_after, e->status, e->revoked_at, e->file);
        }
        if (fclose(f) != 0 || rename(tmp, path) != 0)
            rc = ts__err(TS__T("không ghi được %s", "cannot write %s"), path);
    }
    free(path);
    free(tmp);
    return rc;
}

static int ts__load_ca(const ts_ctl *ctl, EVP_PKEY **key, X509 **cert)
{
    ts_error err;
    char *kp = ts__path(ctl, "ca.key"), *cp = ts__path(ctl, "ca.pem");
    *key = ts_pki_read_key(kp, &err);
    *cert = *key ? ts_pki_read_cert(cp, &err) : NULL;
    free(kp);
    free(cp);
    if (*key == NULL || *cert == NULL) {
        EVP_PKEY_free(*key);
        return ts__err(TS__T("chưa có CA của huyện ở %s (%s): hãy chạy `tramsyncctl --pki %s ca init` trước",
                             "no district CA in %s (%s): run `tramsyncctl --pki %s ca init` first"),
                       ctl->pki_dir, err.msg, ctl->pki_dir);
    }
    return 0;
}

static int ts__write_crl(const ts_ctl *ctl, const ts__index *idx, int days)
{
    EVP_PKEY *key;
    X509 *ca;
    if (ts__load_ca(ctl, &key, &ca) != 0)
        return TS_CTL_ERROR;
    ts_revoked *r = ts_xcalloc(idx->n + 1, sizeof *r);
    size_t n = 0;
    for (size_t i = 0; i < idx->n; i++)
        if (strcmp(idx->e[i].status, "revoked") == 0) {
            r[n].serial_hex = idx->e[i].serial;
            r[n].when = idx->e[i].revoked_at;
            n++;
        }
    ts_error err;
    int rc = 0;
    X509_CRL *crl = ts_pki_crl(key, ca, r, n, days, (uint64_t)time(NULL), &err);
    char *path = ts__path(ctl, "crl.pem");
    if (crl == NULL || ts_pki_write_crl(path, crl, &err) < 0)
        rc = ts__err("%s", err.msg);
    X509_CRL_free(crl);
    free(path);
    free(r);
    X509_free(ca);
    EVP_PKEY_free(key);
    return rc;
}

static void ts__record(ts__index *idx, X509 *cert, const char *kind, const char *name, const char *commune,
                       const char *file)
{
    ts__entry e;
    memset(&e, 0, sizeof e);
    ts_pki_serial_hex(cert, e.serial, sizeof e.serial);
    snprintf(e.kind, sizeof e.kind, "%s", kind);
    snprintf(e.name, sizeof e.name, "%s", name);
    snprintf(e.commune, sizeof e.commune, "%s", commune ? commune : "");
    struct tm tm;
    ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm);
    e.not_after = (int64_t)timegm(&tm);
    snprintf(e.status, sizeof e.status, "valid");
    snprintf(e.file, sizeof e.file, "%s", file);
    idx->e = ts_xreallocarray(idx->e, idx->n + 1, sizeof *idx->e);
    idx->e[idx->n++] = e;
}

/* ---------------------------------------------------------------- commands */

static int ts__init(ts_ctl *ctl, int argc, char **argv)
{
    const char *name = "tramsync district CA";
    int days = 3650;
    static const struct option opts[] = {{"name", required_argument, NULL, 'n'}, {"days", required_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'n')
            name = optarg;
        else if (c == 'd') {
            if (ts__days(optarg, &days) != 0)
                return TS_CTL_ERROR;
        } else
            return TS_CTL_USAGE;
    }
    if (mkdir(ctl->pki_dir, 0700) != 0 && errno != EEXIST)
        return ts__err(TS__T("không tạo được %s: %s", "cannot create %s: %s"), ctl->pki_dir, strerror(errno));
    char *issued = ts__path(ctl, "issued"), *cp = ts__path(ctl, "ca.pem"), *kp = ts__path(ctl, "ca.key");
    mkdir(issued, 0700);
    struct stat st;
    int rc = 0;
    if (stat(cp, &st) == 0) {
        rc = ts__err(TS__T("%s đã có: mỗi huyện có một CA (chỉ xóa khi làm lại từ đầu)",
                           "%s already exists: a district has one CA (remove it only to start over)"),
                     cp);
        goto out;
    }
    EVP_PKEY *key = ts_pki_new_key();
    ts_cert_request req = {.kind = TS_CERT_CA, .cn = name, .org = name, .days = days};
    ts_error err;
    X509 *cert = ts_pki_issue(&req, key, NULL, NULL, &err);
    if (cert == NULL || ts_pki_write_key(kp, key, &err) < 0 || ts_pki_write_cert(cp, cert, &err) < 0)
        rc = ts__err("%s", err.msg);
    X509_free(cert);
    EVP_PKEY_free(key);
    if (rc == 0) {
        ts__index idx = {NULL, 0};
        rc = ts__index_save(ctl, &idx);
        if (rc == 0)
            rc = ts__write_crl(ctl, &idx, TS__CRL_DAYS);
    }
    if (rc == 0)
        printf(TS__T("đã tạo CA của huyện ở %s (hiệu lực %d ngày); hãy giữ ca.key ngoại tuyến hoặc bảo vệ kỹ\n",
                     "district CA created in %s (valid %d days); keep ca.key offline or well protected\n"),
               ctl->pki_dir, days);
out:
    free(issued);
    free(cp);
    free(kp);
    return rc;
}

typedef struct ts__issue_args {
    const char *name;
    const char *commune;
    const char *csr;
    const char *out;
    const char *key_out;
    const char *san;
    const char *role;
    int days;
} ts__issue_args;

static int ts__issue(ts_ctl *ctl, ts_cert_kind kind, ts__issue_args *a)
{
    EVP_PKEY *ca_key;
    X509 *ca;
    if (ts__load_ca(ctl, &ca_key, &ca) != 0)
        return TS_CTL_ERROR;
    ts_error err;
    int rc = 0;
    EVP_PKEY *pub = NULL;
    bool made_key = false;
    if (a->csr != NULL) {
        X509_REQ *req = ts_pki_read_csr(a->csr, &err);
        if (req == NULL) {
            rc = ts__err("%s", err.msg);
            goto out;
        }
        pub = X509_REQ_get_pubkey(req);
        char cn[160] = "";
        X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, sizeof cn);
        int ok = pub && X509_REQ_verify(req, pub) == 1;
        X509_REQ_free(req);
        if (!ok) {
            rc = ts__err(TS__T("%s: chữ ký của yêu cầu không hợp lệ", "%s: the request's signature does not verify"), a->csr);
            goto out;
        }
        if (cn[0] && strcmp(cn, a->name) != 0) {
            rc = ts__err(TS__T("%s xin cho \"%s\", không phải \"%s\"", "%s asks for \"%s\", not \"%s\""), a->csr, cn, a->name);
            goto out;
        }
    } else {
        pub = ts_pki_new_key();
        made_key = true;
    }
    char ou[64];
    snprintf(ou, sizeof ou, "admin-%s", a->role ? a->role : "viewer");
    ts_cert_request req = {.kind = kind,
                           .cn = a->name,
                           .ou = kind == TS_CERT_ADMIN ? ou : NULL,
                           .locality = a->commune,
                           .org = NULL,
                           .san = a->san,
                           .days = a->days};
    X509 *cert = ts_pki_issue(&req, pub, ca_key, ca, &err);
    if (cert == NULL) {
        rc = ts__err("%s", err.msg);
        goto out;
    }
    static const char *const kinds[] = {"ca", "server", "station", "admin"};
    char *cert_path = a->out ? ts_xstrdup(a->out)
                      : kind == TS_CERT_SERVER
                          ? ts__path(ctl, "server.pem")
                          : ts_xasprintf("%s/issued/%s%s.pem", ctl->pki_dir, kind == TS_CERT_ADMIN ? "admin-" : "",
                                         a->name);
    char *key_path = NULL;
    if (made_key) {
        if (a->key_out)
            key_path = ts_xstrdup(a->key_out);
        else {
            size_t n = strlen(cert_path);
            key_path = ts_xasprintf("%.*s.key", (int)(n > 4 && strcmp(cert_path + n - 4, ".pem") == 0 ? n - 4 : n),
                                    cert_path);
        }
    }
    if (ts_pki_write_cert(cert_path, cert, &err) < 0 || (key_path && ts_pki_write_key(key_path, pub, &err) < 0)) {
        rc = ts__err("%s", err.msg);
    } else {
        ts__index idx;
        ts__index_load(ctl, &idx);
        ts__record(&idx, cert, kinds[kind], a->name, a->commune, cert_path);
        rc = ts__index_save(ctl, &idx);
        free(idx.e);
        char serial[48];
        ts_pki_serial_hex(cert, serial, sizeof serial);
        if (ctl->json)
            printf("{\"serial\":\"%s\",\"kind\":\"%s\",\"name\":\"%s\",\"cert\":\"%s\"%s%s%s}\n", serial, kinds[kind],
                   a->name, cert_path, key_path ? ",\"key\":\"" : "", key_path ? key_path : "", key_path ? "\"" : "");
        else
            printf(TS__T("đã cấp chứng thư %s cho %s (số sê-ri %s): %s%s%s\n",
                         "issued %s certificate for %s (serial %s): %s%s%s\n"),
                   ts__word(kinds[kind]), a->name, serial, cert_path, key_path ? TS__T(", khóa ", ", key ") : "",
                   key_path ? key_path : "");
    }
    free(cert_path);
    free(key_path);
    X509_free(cert);
out:
    EVP_PKEY_free(pub);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return rc;
}

static int ts__issue_cmd(ts_ctl *ctl, ts_cert_kind kind, int argc, char **argv)
{
    ts__issue_args a;
    memset(&a, 0, sizeof a);
    static const struct option opts[] = {{"commune", required_argument, NULL, 'm'}, {"csr", required_argument, NULL, 'r'},
                                         {"out", required_argument, NULL, 'o'},     {"key-out", required_argument, NULL, 'k'},
                                         {"san", required_argument, NULL, 's'},     {"days", required_argument, NULL, 'd'},
                                         {"role", required_argument, NULL, 'R'},    {"cn", required_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': a.commune = optarg; break;
        case 'r': a.csr = optarg; break;
        case 'o': a.out = optarg; break;
        case 'k': a.key_out = optarg; break;
        case 's': a.san = optarg; break;
        case 'd':
            if (ts__days(optarg, &a.days) != 0)
                return TS_CTL_ERROR;
            break;
        case 'R': a.role = optarg; break;
        case 'c': a.name = optarg; break;
        default: return TS_CTL_USAGE;
        }
    }
    if (optind < argc)
        a.name = argv[optind++];
    if (kind == TS_CERT_SERVER && a.name == NULL)
        a.name = "localhost";
    if (a.name == NULL || optind != argc)
        return TS_CTL_USAGE;
    if (kind == TS_CERT_STATION) {
        if (a.commune == NULL)
            return ts__err(TS__T("chứng thư trạm cần --commune", "a station certificate needs --commune"));
        const char *bad = ts_ident_problem(a.name, strlen(a.name));
        if (bad != NULL)
            return ts__err(TS__T("mã trạm không hợp lệ: %s", "not a valid station code: it %s"), bad);
    }
    /* a certificate names no commune: a commune account is a login */
    if (kind == TS_CERT_ADMIN && a.role && strcmp(a.role, "viewer") && strcmp(a.role, "operator") &&
        strcmp(a.role, "admin") && strcmp(a.role, "monitor"))
        return ts__err(TS__T("--role phải là viewer, operator, admin hoặc monitor",
                             "--role must be viewer, operator, admin or monitor"));
    return ts__issue(ctl, kind, &a);
}

static int ts__revoke(ts_ctl *ctl, int argc, char **argv)
{
    if (argc != 2)
        return TS_CTL_USAGE;
    ts__index idx;
    ts__index_load(ctl, &idx);
    int hits = 0;
    for (size_t i = 0; i < idx.n; i++) {
        ts__entry *e = &idx.e[i];
        if ((strcasecmp(e->serial, argv[1]) == 0 || strcmp(e->name, argv[1]) == 0) && strcmp(e->status, "valid") == 0) {
            snprintf(e->status, sizeof e->status, "revoked");
            e->revoked_at = (int64_t)time(NULL);
            printf(TS__T("đã thu hồi chứng thư %s %s (số sê-ri %s)\n", "revoked %s certificate %s (serial %s)\n"),
                   ts__word(e->kind), e->name, e->serial);
            hits++;
        }
    }
    int rc = 0;
    if (hits == 0)
        rc = ts__err(TS__T("không có chứng thư còn hiệu lực nào mang tên hoặc số %s (xem `tramsyncctl ca list`)",
                           "no valid certificate named or numbered %s (see `tramsyncctl ca list`)"),
                     argv[1]);
    else if ((rc = ts__index_save(ctl, &idx)) == 0 && (rc = ts__write_crl(ctl, &idx, TS__CRL_DAYS)) == 0)
        printf(TS__T("đã cập nhật CRL: %s/crl.pem. Hãy cho dịch vụ nạp lại: systemctl reload tramsyncd (hoặc kill "
                     "-HUP).\n",
                     "CRL updated: %s/crl.pem. Make the daemon load it: systemctl reload tramsyncd (or kill -HUP).\n"),
               ctl->pki_dir);
    free(idx.e);
    return rc == 0 ? 0 : (hits == 0 ? TS_CTL_NOT_FOUND : rc);
}

static int ts__list(ts_ctl *ctl)
{
    ts__index idx;
    ts__index_load(ctl, &idx);
    int64_t now = (int64_t)time(NULL);
    json_t *arr = json_array();
    if (!ctl->json)
    {
        static const size_t cols[] = {18, 8, 24, 20, 12};
        const char *titles[] = {TS__T("SỐ SÊ-RI", "SERIAL"),      TS__T("LOẠI", "KIND"),
                                TS__T("TÊN", "NAME"),             TS__T("XÃ", "COMMUNE"),
                                TS__T("TÌNH TRẠNG", "STATUS"),    TS__T("HẾT HẠN", "EXPIRES")};
        for (size_t k = 0; k < 5; k++) {
            ts_text_col(stdout, titles[k], cols[k]);
            fputc(' ', stdout);
        }
        printf("%s\n", titles[5]);
    }
    for (size_t i = 0; i < idx.n; i++) {
        const ts__entry *e = &idx.e[i];
        int64_t days = (e->not_after - now) / 86400;
        const char *note = strcmp(e->status, "revoked") == 0 ? ""
                           : e->not_after < now                ? TS__T("  ĐÃ HẾT HẠN", "  EXPIRED")
                           : days < TS__WARN_DAYS              ? TS__T("  SẮP HẾT HẠN: cấp lại", "  EXPIRES SOON: re-issue")
                                                               : "";
        if (ctl->json) {
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "serial", e->serial, "kind", e->kind,
                                                 "name", e->name, "commune", e->commune, "status", e->status,
                                                 "not_after", (json_int_t)e->not_after, "days_left", (json_int_t)days));
        } else {
            char when[32];
            time_t t = (time_t)e->not_after;
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(when, sizeof when, "%d/%m/%Y", &tm);
            printf("%-18s ", e->serial);
            ts_text_col(stdout, ts__word(e->kind), 8);
            fputc(' ', stdout);
            ts_text_col(stdout, e->name, 24);
            fputc(' ', stdout);
            ts_text_col(stdout, e->commune[0] ? e->commune : "-", 20);
            fputc(' ', stdout);
            ts_text_col(stdout, ts__word(e->status), 12);
            printf(TS__T(" %s (%" PRId64 " ngày)%s\n", " %s (%" PRId64 " days)%s\n"), when, days, note);
        }
    }
    if (ctl->json) {
        json_dumpf(arr, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    }
    json_decref(arr);
    free(idx.e);
    return 0;
}

static const char ts__ca_help_vi[] =
    "cách dùng: tramsyncctl [--pki THƯ_MỤC] [--json] ca LỆNH\n"
    "\n"
    "  init [--name TÊN] [--days N]                  tạo CA của huyện (ECDSA P-256)\n"
    "  issue-server [CN] [--san DNS:x,IP:y] [--out F] chứng thư của dịch vụ (mặc định CN localhost)\n"
    "  issue-station MÃ --commune TÊN [--csr F] [--out F]\n"
    "                                                chứng thư trạm; --csr cho khóa trạm đã tạo\n"
    "                                                (tramsync init), không có thì tạo cả khóa mới\n"
    "  issue-admin TÊN --role viewer|operator|admin|monitor  chứng thư cho người quản trị\n"
    "  revoke MÃ|SỐ_SÊ_RI                            thu hồi và ghi lại CRL (rồi nạp lại dịch vụ)\n"
    "  crl [--days N]                                cấp lại CRL (trước khi hết hạn)\n"
    "  list                                          mọi chứng thư đã cấp, với ngày hết hạn\n";

static const char ts__ca_help_en[] =
    "usage: tramsyncctl [--pki DIR] [--json] ca COMMAND\n"
    "\n"
    "  init [--name NAME] [--days N]                 create the district CA (ECDSA P-256)\n"
    "  issue-server [CN] [--san DNS:x,IP:y] [--out F] the daemon's certificate (default CN localhost)\n"
    "  issue-station CODE --commune NAME [--csr F] [--out F]\n"
    "                                                a station certificate; with --csr for the key the\n"
    "                                                station made (tramsync init), else a new key too\n"
    "  issue-admin NAME --role viewer|operator|admin|monitor  an admin client certificate\n"
    "  revoke CODE|SERIAL                            revoke and rewrite the CRL (then reload the daemon)\n"
    "  crl [--days N]                                re-issue the CRL (do so before it expires)\n"
    "  list                                          every certificate issued, with its expiry\n";

int ts_ctl_ca(ts_ctl *ctl, int argc, char **argv)
{
    ts__lang.en = ctl->en;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(TS__L(ctl, ts__ca_help_vi, ts__ca_help_en), argc < 2 ? stderr : stdout);
        return argc < 2 ? TS_CTL_USAGE : 0;
    }
    const char *cmd = argv[1];
    int rc;
    if (strcmp(cmd, "init") == 0)
        rc = ts__init(ctl, argc - 1, argv + 1);
    else if (strcmp(cmd, "issue-server") == 0)
        rc = ts__issue_cmd(ctl, TS_CERT_SERVER, argc - 1, argv + 1);
    else if (strcmp(cmd, "issue-station") == 0)
        rc = ts__issue_cmd(ctl, TS_CERT_STATION, argc - 1, argv + 1);
    else if (strcmp(cmd, "issue-admin") == 0)
        rc = ts__issue_cmd(ctl, TS_CERT_ADMIN, argc - 1, argv + 1);
    else if (strcmp(cmd, "revoke") == 0)
        rc = ts__revoke(ctl, argc - 1, argv + 1);
    else if (strcmp(cmd, "list") == 0)
        rc = ts__list(ctl);
    else if (strcmp(cmd, "crl") == 0) {
        int days = TS__CRL_DAYS;
        static const struct option opts[] = {{"days", required_argument, NULL, 'd'}, {NULL, 0, NULL, 0}};
        int c;
        optind = 1;
        while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
            if (c != 'd')
                return TS_CTL_USAGE;
            if (ts__days(optarg, &days) != 0)
                return TS_CTL_ERROR;
        }
        if (optind != argc - 1)
            return TS_CTL_USAGE;
        ts__index idx;
        ts__index_load(ctl, &idx);
        rc = ts__write_crl(ctl, &idx, days);
        if (rc == 0)
            printf(TS__L(ctl, "đã cấp lại CRL cho %d ngày: %s/crl.pem\n", "CRL re-issued for %d days: %s/crl.pem\n"), days,
                   ctl->pki_dir);
        free(idx.e);
    } else {
        fprintf(stderr, TS__L(ctl, "tramsyncctl: không có lệnh ca \"%s\"\n", "tramsyncctl: unknown ca command \"%s\"\n"),
                cmd);
        rc = TS_CTL_USAGE;
    }
    if (rc == TS_CTL_USAGE)
        fputs(TS__L(ctl, ts__ca_help_vi, ts__ca_help_en), stderr);
    return rc;
}
