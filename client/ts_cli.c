#include "client/ts_cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/x509v3.h>
#include <uv.h>

#include "client/ts_agent.h"
#include "client/ts_station_notices.h"
#include "common/ts_notice.h"
#include "common/ts_text.h"
#include "common/ts_log.h"
#include "common/ts_mp.h"
#include "common/ts_pki.h"
#include "common/ts_version.h"
#include "common/ts_xmalloc.h"

int ts_cli_exit_code(int err)
{
    switch (err) {
    case 0: return TS_EXIT_OK;
    case TS_ENOT_FOUND:
    case TS_EUNKNOWN_TABLE: return TS_EXIT_NOT_FOUND;
    case TS_EINVALID_RECORD:
    case TS_EBAD_VALUE: return TS_EXIT_INVALID;
    case TS_EFORBIDDEN: return TS_EXIT_FORBIDDEN;
    default: return TS_EXIT_ERROR;
    }
}

/* Prints an error the way scripts and people both can read. */
static int ts__fail(const ts_cli *cli, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int ts__fail(const ts_cli *cli, int code, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "tramsync: %s\n", msg);
    if (cli->json) {
        json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", ts_err_name(code), "message", msg);
        json_dumpf(o, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(o);
    }
    return ts_cli_exit_code(code);
}

static int ts__usage(const char *text, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs(text, stderr);
    return TS_EXIT_USAGE;
}

static bool ts__wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------- context */

typedef struct ts__ctx {
    ts_agent_config cfg;
    ts_registry reg;
    ts_store *store;
} ts__ctx;

static int ts__open(ts_cli *cli, ts__ctx *x, bool read_only)
{
    memset(x, 0, sizeof *x);
    ts_error err;
    if (ts_agent_config_load(&x->cfg, cli->data_dir, cli->config, cli->overrides, cli->noverrides, &err) < 0)
        return ts__fail(cli, err.code, "%s", err.msg);
    if (x->cfg.code[0] == '\0') {
        ts_agent_config_free(&x->cfg);
        return ts__fail(cli, TS_ENOT_FOUND, "no station here (%s): run `tramsync init` first", x->cfg.data_dir);
    }
    int rc = x->cfg.tables[0] ? ts_registry_load_file(&x->reg, x->cfg.tables, &err)
                              : ts_registry_load_default(&x->reg, &err);
    if (rc < 0) {
        ts_agent_config_free(&x->cfg);
        return ts__fail(cli, rc, "%s", err.msg);
    }
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = x->cfg.database;
    opt.role = TS_ROLE_STATION;
    opt.registry = &x->reg;
    opt.station = x->cfg.code;
    opt.read_only = read_only;
    opt.busy_timeout_ms = 15000; /* the agent may hold the write lock briefly */
    if ((rc = ts_store_open(&x->store, &opt, &err)) < 0) {
        ts_registry_free(&x->reg);
        ts_agent_config_free(&x->cfg);
        return ts__fail(cli, rc, "%s", err.msg);
    }
    return 0;
}

static void ts__close(ts__ctx *x)
{
    ts_store_close(x->store);
    ts_registry_free(&x->reg);
    ts_agent_config_free(&x->cfg);
}

static const ts_table_def *ts__table(ts_cli *cli, ts__ctx *x, const char *name, int *rc)
{
    const ts_table_def *t = ts_registry_table(&x->reg, name);
    if (t == NULL)
        *rc = ts__fail(cli, TS_EUNKNOWN_TABLE, "unknown table \"%s\" (see `tramsync tables`)", name);
    return t;
}

static void ts__format_time(uint64_t ms, char *out, size_t size)
{
    if (ms == 0) {
        snprintf(out, size, "never");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, size, "%d/%m/%Y %H:%M:%S", &tm);
}

/* ---------------------------------------------------------------- values */

int ts_cli_parse_value(const ts_field_def *f, const char *text, ts_buf *out, ts_error *err)
{
    msgpack_packer pk;
    ts_buf_packer(out, &pk);
    if (text[0] == '\0') {
        msgpack_pack_nil(&pk); /* `field=` clears an optional field */
        return 0;
    }
    char *end;
    switch (f->type) {
    case TS_FT_INT: {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (*end != '\0' || errno)
            return ts_error_set(err, TS_EBAD_VALUE, "%s: \"%s\" is not a whole number", f->name, text);
        if (v >= 0)
            msgpack_pack_uint64(&pk, (uint64_t)v);
        else
            msgpack_pack_int64(&pk, v);
        return 0;
    }
    case TS_FT_REAL: {
        errno = 0;
        double v = strtod(text, &end);
        if (*end != '\0' || errno)
            return ts_error_set(err, TS_EBAD_VALUE, "%s: \"%s\" is not a number", f->name, text);
        msgpack_pack_double(&pk, v);
        return 0;
    }
    case TS_FT_BOOL: {
        static const char *const yes[] = {"true", "yes", "1", "có", "co"};
        static const char *const no[] = {"false", "no", "0", "không", "khong"};
        for (size_t i = 0; i < 5; i++) {
            if (strcasecmp(text, yes[i]) == 0) {
                msgpack_pack_true(&pk);
                return 0;
            }
            if (strcasecmp(text, no[i]) == 0) {
                msgpack_pack_false(&pk);
                return 0;
            }
        }
        return ts_error_set(err, TS_EBAD_VALUE, "%s: \"%s\" is not true or false", f->name, text);
    }
    case TS_FT_LIST: {
        size_t count = 1;
        for (const char *p = text; *p; p++)
            count += *p == ',';
        msgpack_pack_array(&pk, count);
        const char *start = text;
        for (;;) {
            const char *comma = strchr(start, ',');
            size_t n = comma ? (size_t)(comma - start) : strlen(start);
            while (n && *start == ' ')
                start++, n--;
            while (n && start[n - 1] == ' ')
                n--;
            ts_mp_pack_strn(&pk, start, n);
            if (!comma)
                break;
            start = comma + 1;
        }
        return 0;
    }
    case TS_FT_BIN: {
        if (text[0] != '@')
            return ts_error_set(err, TS_EBAD_VALUE, "%s: give a file as @path", f->name);
        FILE *fp = fopen(text + 1, "rb");
        if (fp == NULL)
            return ts_error_set(err, TS_ENOT_FOUND, "%s: cannot read %s", f->name, text + 1);
        ts_buf content = TS_BUF_INIT;
        char chunk[8192];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
            ts_buf_append(&content, chunk, n);
        fclose(fp);
        msgpack_pack_bin(&pk, content.len);
        msgpack_pack_bin_body(&pk, content.data, content.len);
        ts_buf_free(&content);
        return 0;
    }
    default:
        ts_mp_pack_cstr(&pk, text);
        return 0;
    }
}

/* Builds ts_kv fields from "name=value" arguments. */
static int ts__parse_fields(ts_cli *cli, const ts_table_def *t, int n, char **args, ts_kv *kv, ts_buf *vals)
{
    for (int i = 0; i < n; i++) {
        char *eq = strchr(args[i], '=');
        if (eq == NULL || eq == args[i])
            return ts__fail(cli, TS_EBAD_VALUE, "\"%s\": expected field=value", args[i]);
        *eq = '\0';
        const ts_field_def *f = ts_table_field(t, args[i]);
        if (f == NULL) {
            int rc = ts__fail(cli, TS_EINVALID_RECORD, "table %s has no field \"%s\"", t->name, args[i]);
            *eq = '=';
            return rc;
        }
        ts_error err;
        ts_buf_init(&vals[i]);
        if (ts_cli_parse_value(f, eq + 1, &vals[i], &err) < 0)
            return ts__fail(cli, err.code, "%s", err.msg);
        kv[i].name = args[i];
        kv[i].value = vals[i].data;
        kv[i].len = vals[i].len;
    }
    return 0;
}

static json_t *ts__record_json(const ts_change *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "table", json_string(c->table));
    json_object_set_new(o, "id", json_string(c->id));
    json_object_set_new(o, "owner", json_string(c->owner));
    json_object_set_new(o, "deleted", json_boolean(ts_version_deleted(&c->v)));
    json_t *fields = json_object();
    for (uint32_t i = 0; i < c->v.nfields; i++) {
        const ts_field *f = &c->v.fields[i];
        if (strcmp(f->name, TS_FIELD_DELETED) == 0)
            continue;
        ts_buf b = TS_BUF_INIT;
        ts_value_to_json(&b, f->value, f->value_len);
        json_t *v = json_loadb((const char *)b.data, b.len, JSON_DECODE_ANY, NULL);
        json_object_set_new(fields, f->name, v ? v : json_null());
        ts_buf_free(&b);
    }
    json_object_set_new(o, "fields", fields);
    json_t *vv = json_object();
    for (uint32_t i = 0; i < c->v.vv.n; i++)
        json_object_set_new(vv, c->v.vv.e[i].rid.b, json_integer((json_int_t)c->v.vv.e[i].counter));
    json_object_set_new(o, "vv", vv);
    return o;
}

static void ts__print_json(json_t *o)
{
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII * 0);
    fputc('\n', stdout);
}

static void ts__print_record_text(const ts_change *c)
{
    printf("%s/%s%s\n", c->table, c->id, ts_version_deleted(&c->v) ? "  (deleted)" : "");
    for (uint32_t i = 0; i < c->v.nfields; i++) {
        const ts_field *f = &c->v.fields[i];
        if (strcmp(f->name, TS_FIELD_DELETED) == 0)
            continue;
        ts_buf b = TS_BUF_INIT;
        ts_value_to_json(&b, f->value, f->value_len);
        printf("  %-20s %.*s\n", f->name, (int)b.len, (const char *)b.data);
        ts_buf_free(&b);
    }
}

/* ---------------------------------------------------------------- init / enroll */

static int ts__mkdir_p(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static const char ts__init_help[] =
    "usage: tramsync [-d DIR] init --station CODE --commune NAME [--server HOST:PORT] [--server-name NAME]\n"
    "\n"
    "Creates this station's replica database, its private key (never leaves this PC) and a\n"
    "certificate request (station.csr) to send to the district. Then: tramsync enroll.\n";

int ts_cli_init(ts_cli *cli, int argc, char **argv)
{
    if (ts__wants_help(argc, argv)) {
        fputs(ts__init_help, stdout);
        return 0;
    }
    const char *station = NULL, *commune = NULL, *server = "127.0.0.1:7443", *server_name = NULL;
    static const struct option opts[] = {{"station", required_argument, NULL, 's'},
                                         {"commune", required_argument, NULL, 'm'},
                                         {"server", required_argument, NULL, 'a'},
                                         {"server-name", required_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': station = optarg; break;
        case 'm': commune = optarg; break;
        case 'a': server = optarg; break;
        case 'n': server_name = optarg; break;
        default: return ts__usage(ts__init_help, argc, argv);
        }
    }
    if (station == NULL || commune == NULL || optind != argc)
        return ts__usage(ts__init_help, argc, argv);
    const char *bad = ts_ident_problem(station, strlen(station));
    if (bad != NULL)
        return ts__fail(cli, TS_EBAD_VALUE, "not a valid station code: it %s", bad);

    const char *dir = cli->data_dir;
    if (ts__mkdir_p(dir) != 0)
        return ts__fail(cli, TS_EIO, "cannot create %s: %s", dir, strerror(errno));
    char *conf = ts_agent_config_path(dir);
    struct stat st;
    if (stat(conf, &st) == 0) {
        int rc = ts__fail(cli, TS_EBAD_VALUE, "%s already holds a station (%s)", dir, conf);
        free(conf);
        return rc;
    }
    ts_agent_config cfg;
    ts_error err;
    memset(&cfg, 0, sizeof cfg);
    ts_cfg_defaults(&cfg, ts_agent_config_keys, &err);
    ts_cfg_set(&cfg, ts_agent_config_keys, "station", "code", station, &err);
    ts_cfg_set(&cfg, ts_agent_config_keys, "station", "commune", commune, &err);
    ts_cfg_set(&cfg, ts_agent_config_keys, "station", "data_dir", dir, &err);
    ts_cfg_set(&cfg, ts_agent_config_keys, "server", "address", server, &err);
    if (server_name)
        ts_cfg_set(&cfg, ts_agent_config_keys, "server", "server_name", server_name, &err);
    for (int i = 0; i < cli->noverrides; i++)
        if (ts_cfg_override(&cfg, ts_agent_config_keys, cli->overrides[i], &err) < 0) {
            free(conf);
            ts_agent_config_free(&cfg);
            return ts__fail(cli, err.code, "%s", err.msg);
        }
    FILE *f = fopen(conf, "w");
    if (f == NULL) {
        int rc = ts__fail(cli, TS_EIO, "cannot write %s: %s", conf, strerror(errno));
        free(conf);
        ts_agent_config_free(&cfg);
        return rc;
    }
    ts_cfg_write(f, &cfg, ts_agent_config_keys, "tramsync station configuration (written by tramsync init)");
    fclose(f);
    ts_agent_config_free(&cfg);

    char *key_path = ts_xasprintf("%s/station.key", dir), *csr_path = ts_xasprintf("%s/station.csr", dir);
    EVP_PKEY *key = ts_pki_new_key();
    int rc = ts_pki_write_key(key_path, key, &err);
    if (rc == 0)
        rc = ts_pki_write_csr(csr_path, key, station, commune, &err);
    EVP_PKEY_free(key);
    if (rc < 0) {
        free(conf);
        free(key_path);
        free(csr_path);
        return ts__fail(cli, rc, "%s", err.msg);
    }

    ts__ctx x;
    ts_store_options opt;
    ts_store_options_init(&opt);
    ts_registry reg;
    ts_registry_load_default(&reg, &err);
    char *db = ts_xasprintf("%s/station.db", dir);
    opt.path = db;
    opt.role = TS_ROLE_STATION;
    opt.registry = &reg;
    opt.station = station;
    opt.create = true;
    rc = ts_store_open(&x.store, &opt, &err);
    if (rc == 0) {
        ts_store_meta_set(x.store, "commune", commune);
        if (cli->json) {
            json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "station", station, "replica", ts_store_replica(x.store)->b,
                                  "database", db, "key", key_path, "csr", csr_path);
            ts__print_json(o);
            json_decref(o);
        } else {
            printf("Station %s (%s) initialised in %s\n", station, commune, dir);
            printf("  replica     %s\n  database    %s\n  private key %s (stays on this PC)\n  request     %s\n\n",
                   ts_store_replica(x.store)->b, db, key_path, csr_path);
            printf("Next: send %s to the district; they run\n"
                   "  tramsyncctl ca issue-station %s --csr station.csr --commune \"%s\"\n"
                   "and give you back station.pem and ca.pem. Then run\n"
                   "  tramsync -d %s enroll --cert station.pem --ca ca.pem\n",
                   csr_path, station, commune, dir);
        }
        ts_store_close(x.store);
    }
    ts_registry_free(&reg);
    free(db);
    free(conf);
    free(key_path);
    free(csr_path);
    return rc < 0 ? ts__fail(cli, rc, "%s", err.msg) : 0;
}

static const char ts__enroll_help[] =
    "usage: tramsync [-d DIR] enroll --cert station.pem --ca ca.pem\n"
    "\n"
    "Installs the certificate the district issued for this station's key, after checking\n"
    "that it matches the key, this station's code, and the district CA.\n";

static int ts__copy(const char *from, const char *to, ts_error *err)
{
    char *data = NULL;
    FILE *in = fopen(from, "rb");
    if (in == NULL)
        return ts_error_set(err, TS_ENOT_FOUND, "cannot read %s: %s", from, strerror(errno));
    ts_buf b = TS_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, in)) > 0)
        ts_buf_append(&b, chunk, n);
    fclose(in);
    (void)data;
    char *tmp = ts_xasprintf("%s.tmp", to);
    FILE *out = fopen(tmp, "wb");
    int rc = 0;
    if (out == NULL || fwrite(b.data, 1, b.len, out) != b.len || fclose(out) != 0 || rename(tmp, to) != 0)
        rc = ts_error_set(err, TS_EIO, "cannot write %s", to);
    free(tmp);
    ts_buf_free(&b);
    return rc;
}

int ts_cli_enroll(ts_cli *cli, int argc, char **argv)
{
    if (ts__wants_help(argc, argv)) {
        fputs(ts__enroll_help, stdout);
        return 0;
    }
    const char *cert_path = NULL, *ca_path = NULL;
    static const struct option opts[] = {{"cert", required_argument, NULL, 'c'}, {"ca", required_argument, NULL, 'a'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': cert_path = optarg; break;
        case 'a': ca_path = optarg; break;
        default: return ts__usage(ts__enroll_help, argc, argv);
        }
    }
    if (cert_path == NULL || optind != argc)
        return ts__usage(ts__enroll_help, argc, argv);
    ts_agent_config cfg;
    ts_error err;
    if (ts_agent_config_load(&cfg, cli->data_dir, cli->config, cli->overrides, cli->noverrides, &err) < 0)
        return ts__fail(cli, err.code, "%s", err.msg);
    int rc = 0;
    X509 *cert = ts_pki_read_cert(cert_path, &err), *ca = NULL;
    EVP_PKEY *key = ts_pki_read_key(cfg.key, &err);
    if (cert == NULL || key == NULL) {
        rc = ts__fail(cli, TS_EBAD_VALUE, "%s", err.msg);
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        rc = ts__fail(cli, TS_EBAD_VALUE, "%s was not issued for this station's key (%s)", cert_path, cfg.key);
        goto out;
    }
    char cn[128] = "", ou[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_organizationalUnitName, ou, sizeof ou);
    if (strcmp(cn, cfg.code) != 0 || strcmp(ou, "station") != 0) {
        rc = ts__fail(cli, TS_EBAD_VALUE, "%s is for \"%s\" (%s), not station %s", cert_path, cn, ou, cfg.code);
        goto out;
    }
    const char *ca_file = ca_path ? ca_path : cfg.ca;
    ca = ts_pki_read_cert(ca_file, &err);
    if (ca == NULL) {
        rc = ts__fail(cli, TS_ENOT_FOUND, "the district CA is needed: --ca ca.pem (%s)", err.msg);
        goto out;
    }
    EVP_PKEY *ca_pub = X509_get0_pubkey(ca);
    if (X509_verify(cert, ca_pub) != 1) {
        rc = ts__fail(cli, TS_EBAD_VALUE, "%s was not issued by the CA in %s", cert_path, ca_file);
        goto out;
    }
    if ((ca_path && (rc = ts__copy(ca_path, cfg.ca, &err)) < 0) || (rc = ts__copy(cert_path, cfg.cert, &err)) < 0) {
        rc = ts__fail(cli, rc, "%s", err.msg);
        goto out;
    }
    if (cli->json) {
        json_t *o = json_pack("{s:s,s:s,s:s}", "station", cfg.code, "cert", cfg.cert, "ca", cfg.ca);
        ts__print_json(o);
        json_decref(o);
    } else {
        printf("Station %s enrolled: %s installed. Start syncing with `tramsync -d %s run`\n"
               "(or `systemctl enable --now tramsync`).\n",
               cfg.code, cfg.cert, cfg.data_dir);
    }
out:
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
    ts_agent_config_free(&cfg);
    return rc;
}

/* ---------------------------------------------------------------- run */

static void ts__run_stopped(ts_agent *a, void *arg)
{
    (void)a;
    uv_signal_t *sigs = arg;
    uv_close((uv_handle_t *)&sigs[0], NULL);
    uv_close((uv_handle_t *)&sigs[1], NULL);
}

static void ts__run_signal(uv_signal_t *h, int signum)
{
    ts_agent *a = h->data;
    static bool stopping;
    if (stopping) {
        ts_log_warn("forced_exit", "signal=%d", signum);
        _exit(1);
    }
    stopping = true;
    ts_log_info("signal", "signal=%s action=stop", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    uv_signal_t *sigs = (uv_signal_t *)h->loop->data;
    ts_agent_stop(a, ts__run_stopped, sigs);
}

int ts_cli_run(ts_cli *cli, int argc, char **argv)
{
    if (ts__wants_help(argc, argv)) {
        printf("usage: tramsync [-d DIR] run\n\nRuns the station agent in the foreground: it syncs by itself and\n"
               "logs to standard error. SIGTERM or Ctrl-C stop it cleanly.\n");
        return 0;
    }
    if (argc > 1)
        return ts__usage("usage: tramsync [-d DIR] run\n", argc, argv);
    ts_agent_config cfg;
    ts_error err;
    if (ts_agent_config_load(&cfg, cli->data_dir, cli->config, cli->overrides, cli->noverrides, &err) < 0)
        return ts__fail(cli, err.code, "%s", err.msg);
    /* a write to a connection the district has just reset must fail with
     * EPIPE (and the agent reconnect), not kill the agent with SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    ts_agent *a;
    if (ts_agent_start(&a, loop, &cfg, &err) < 0) {
        ts_agent_config_free(&cfg);
        return ts__fail(cli, err.code, "%s", err.msg);
    }
    ts_agent_config_free(&cfg);
    uv_signal_t sigs[2];
    loop->data = sigs;
    uv_signal_init(loop, &sigs[0]);
    uv_signal_init(loop, &sigs[1]);
    sigs[0].data = sigs[1].data = a;
    uv_signal_start(&sigs[0], ts__run_signal, SIGTERM);
    uv_signal_start(&sigs[1], ts__run_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    ts_agent_free(a);
    uv_loop_close(loop);
    return 0;
}

/* ---------------------------------------------------------------- records */

static const char ts__put_help[] =
    "usage: tramsync [-d DIR] [--json] put TABLE ID field=value...\n"
    "\n"
    "Writes fields of one record (creating it when new). Values are parsed by the field's\n"
    "type: numbers, true/false, lists as a,b,c, files for binary fields as @path;\n"
    "`field=` clears an optional field. The agent syncs it within seconds.\n";

int ts_cli_put(ts_cli *cli, int argc, char **argv)
{
    if (ts__wants_help(argc, argv)) {
        fputs(ts__put_help, stdout);
        return 0;
    }
    if (argc < 4)
        return ts__usage(ts__put_help, argc, argv);
    ts__ctx x;
    int rc = ts__open(cli, &x, false);
    if (rc != 0)
        return rc;
    const ts_table_def *t = ts__table(cli, &x, argv[1], &rc);
    int n = argc - 3;
    ts_kv *kv = ts_xcalloc((size_t)n, sizeof *kv);
    ts_buf *vals = ts_xcalloc((size_t)n, sizeof *vals);
    if (t != NULL && (rc = ts__parse_fields(cli, t, n, argv + 3, kv, vals)) == 0) {
        ts_actor me = {TS_ACTOR_LOCAL, getenv("USER") ? getenv("USER") : "station", NULL, "cli"};
        ts_error err;
        int r = ts_store_put(x.store, &me, argv[1], argv[2], NULL, kv, (size_t)n, &err);
        if (r < 0) {
            rc = ts__fail(cli, r, "%s", err.msg);
        } else if (cli->json) {
            json_t *o = json_pack("{s:s,s:s,s:s}", "table", argv[1], "id", argv[2], "result", "stored");
            ts__print_json(o);
            json_decref(o);
        } else {
            printf("stored %s/%s\n", argv[1], argv[2]);
        }
    }
    for (int i = 0; i < n; i++)
        ts_buf_free(&vals[i]);
    free(vals);
    free(kv);
    ts__close(&x);
    return rc;
}

int ts_cli_delete(ts_cli *cli, int argc, char **argv)
{
    static const char help[] = "usage: tramsync [-d DIR] [--json] delete TABLE ID\n\nDeletes a record "
                               "(a tombstone that syncs like any write).\n";
    if (ts__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 3)
        return ts__usage(help, argc, argv);
    ts__ctx x;
    int rc = ts__open(cli, &x, false);
    if (rc != 0)
        return rc;
    ts_actor me = {TS_ACTOR_LOCAL, getenv("USER") ? getenv("USER") : "station", NULL, "cli"};
    ts_error err;
    int r = ts_store_delete(x.store, &me, argv[1], argv[2], &err);
    if (r < 0)
        rc = ts__fail(cli, r, "%s", err.msg);
    else if (cli->json)
        printf("{\"table\":\"%s\",\"id\":\"%s\",\"result\":\"deleted\"}\n", argv[1], argv[2]);
    else
        printf("deleted %s/%s\n", argv[1], argv[2]);
    ts__close(&x);
    return rc;
}

int ts_cli_get(ts_cli *cli, int argc, char **argv)
{
    static const char help[] = "usage: tramsync [-d DIR] [--json] get TABLE ID\n";
    if (ts__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 3)
        return ts__usage(help, argc, argv);
    ts__ctx x;
    int rc = ts__open(cli, &x, true);
    if (rc != 0)
        return rc;
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change c;
    ts_error err;
    int r = ts_store_get(x.store, argv[1], argv[2], &c, &arena, &err);
    if (r < 0) {
        rc = ts__fail(cli, r, "%s", err.msg);
    } else {
        if (cli->json) {
            json_t *o = ts__record_json(&c);
            ts__print_json(o);
            json_decref(o);
        } else {
            ts__print_record_text(&c);
        }
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    ts__close(&x);
    return rc;
}

int ts_cli_list(ts_cli *cli, int argc, char **argv)
{
    static const char help[] = "usage: tramsync [-d DIR] [--json] list TABLE [--limit N] [--after ID] [--deleted]\n";
    if (ts__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    uint32_t limit = 100;
    const char *after = NULL;
    bool deleted = false;
    static const struct option opts[] = {{"limit", required_argument, NULL, 'l'},
                                         {"after", required_argument, NULL, 'a'},
                                         {"deleted", no_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'l': limit = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'a': after = optarg; break;
        case 'd': deleted = true; break;
        default: return ts__usage(help, argc, argv);
        }
    }
    if (optind != argc - 1)
        return ts__usage(help, argc, argv);
    const char *table = argv[optind];
    ts__ctx x;
    int rc = ts__open(cli, &x, true);
    if (rc != 0)
        return rc;
    if (ts__table(cli, &x, table, &rc) == NULL) {
        ts__close(&x);
        return rc;
    }
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    int r = ts_store_list(x.store, table, after, limit ? limit : 100, deleted, &page, &err);
    if (r < 0) {
        rc = ts__fail(cli, r, "%s", err.msg);
    } else if (cli->json) {
        json_t *arr = json_array();
        for (uint32_t i = 0; i < page.n; i++)
            json_array_append_new(arr, ts__record_json(&page.items[i]));
        json_t *out = json_pack("{s:s,s:o,s:b}", "table", table, "records", arr, "more", page.n == limit);
        ts__print_json(out);
        json_decref(out);
    } else {
        for (uint32_t i = 0; i < page.n; i++)
            ts__print_record_text(&page.items[i]);
        if (page.n == 0)
            printf("(no records in %s)\n", table);
        else if (page.n == limit)
            printf("(more: --after %s)\n", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    ts__close(&x);
    return rc;
}

/* ---------------------------------------------------------------- status */

int ts_cli_status(ts_cli *cli, int argc, char **argv)
{
    static const char help[] =
        "usage: tramsync [-d DIR] [--json] status [--brief]\n\nWhen this station last synced, what waits to be sent,\n"
        "conflicts, and whether the district server is reachable. --brief: one line.\n";
    if (ts__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    bool brief = argc == 2 && strcmp(argv[1], "--brief") == 0;
    if (argc != 1 && !brief)
        return ts__usage(help, argc, argv);
    ts__ctx x;
    int rc = ts__open(cli, &x, true);
    if (rc != 0)
        return rc;
    uint64_t last_sync = 0, alive = 0, pending = 0, conflicts = 0, rejected = 0, cursor = 0, connect_ok = 0;
    char connected[8] = "", last_error[600] = "", clock[300] = "", server_db[64] = "", skew[32] = "";
    ts_store_meta_get_u64(x.store, "last_sync_ok_ms", &last_sync);
    ts_store_meta_get_u64(x.store, "agent_alive_ms", &alive);
    ts_store_meta_get_u64(x.store, "pull_cursor", &cursor);
    ts_store_meta_get_u64(x.store, "last_connect_ok_ms", &connect_ok);
    ts_store_meta_get(x.store, "connected", connected, sizeof connected);
    ts_store_meta_get(x.store, "last_error", last_error, sizeof last_error);
    ts_store_meta_get(x.store, "clock_problem", clock, sizeof clock);
    ts_store_meta_get(x.store, "server_db", server_db, sizeof server_db);
    ts_store_meta_get(x.store, "clock_skew_ms", skew, sizeof skew);
    ts_store_pending_count(x.store, &pending);
    ts_store_conflict_count(x.store, true, &conflicts);
    ts_store_rejected_count(x.store, &rejected);
    uint64_t now = ts_wall_ms();
    bool agent_running = alive != 0 && now - alive < 30000;
    bool reachable = agent_running && strcmp(connected, "1") == 0;
    char t_sync[40], t_alive[40];
    ts__format_time(last_sync, t_sync, sizeof t_sync);
    ts__format_time(alive, t_alive, sizeof t_alive);
    if (brief && !cli->json) {
        printf("%-12s last sync %s, %" PRIu64 " pending, %" PRIu64 " conflict(s), %s%s%s\n", x.cfg.code, t_sync, pending,
               conflicts, reachable ? "connected" : agent_running ? "OFFLINE (retrying)" : "agent not running",
               clock[0] ? ", CLOCK PROBLEM" : "", rejected ? ", some changes refused" : "");
    } else if (cli->json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:b,s:b,s:I,s:I,s:I,s:I,s:s,s:s,s:s}", "station", x.cfg.code, "replica",
                              ts_store_replica(x.store)->b, "server", x.cfg.address, "last_sync_ok_ms",
                              (json_int_t)last_sync, "agent_running", agent_running, "server_reachable", reachable,
                              "pending_changes", (json_int_t)pending, "conflicts", (json_int_t)conflicts, "rejected",
                              (json_int_t)rejected, "cursor", (json_int_t)cursor, "last_error", last_error,
                              "clock_problem", clock, "clock_skew_ms", skew);
        ts__print_json(o);
        json_decref(o);
    } else {
        printf("Trạm / station     %s\n", x.cfg.code);
        printf("Lần đồng bộ cuối   %s   (last successful sync)\n", t_sync);
        printf("Chờ gửi            %" PRIu64 " change(s) waiting to be sent\n", pending);
        printf("Xung đột           %" PRIu64 " unresolved conflict(s)\n", conflicts);
        if (rejected)
            printf("Bị từ chối         %" PRIu64 " change(s) refused by the district (see the agent log)\n", rejected);
        printf("Máy chủ            %s — %s\n", x.cfg.address,
               reachable       ? "reachable, connected"
               : agent_running ? "not reachable now (the agent keeps retrying)"
                               : "unknown: the agent is not running (tramsync run)");
        if (!agent_running)
            printf("Agent last seen    %s\n", t_alive);
        if (last_error[0])
            printf("Last error         %s\n", last_error);
        if (clock[0])
            printf("Clock problem      %s — fix this PC's date and time\n", clock);
    }
    ts__close(&x);
    return 0;
}

int ts_cli_conflicts(ts_cli *cli, int argc, char **argv)
{
    static const char help[] =
        "usage: tramsync [-d DIR] [--json] conflicts [--all]\n\nConflicts found at this station: both values, and\n"
        "which one the merge rules kept. The district resolves them from its console.\n";
    if (ts__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    bool all = argc == 2 && strcmp(argv[1], "--all") == 0;
    if (argc > 2 || (argc == 2 && !all))
        return ts__usage(help, argc, argv);
    ts__ctx x;
    int rc = ts__open(cli, &x, true);
    if (rc != 0)
        return rc;
    ts_conflict_row *rows;
    size_t n;
    ts_error err;
    if (ts_store_conflicts(x.store, !all, NULL, 0, 1000, &rows, &n, &err) < 0) {
        rc = ts__fail(cli, err.code, "%s", err.msg);
        ts__close(&x);
        return rc;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        ts_conflict_row *r = &rows[i];
        char when[40];
        ts__format_time(r->detected_at, when, sizeof when);
        if (cli->json) {
            json_t *kept = json_loads(r->winner_json, JSON_DECODE_ANY, NULL);
            json_t *lost = json_loads(r->loser_json, JSON_DECODE_ANY, NULL);
            json_array_append_new(
                arr, json_pack("{s:I,s:s,s:s,s:s,s:o,s:o,s:s,s:I,s:b}", "id", (json_int_t)r->id, "table", r->table,
                               "id_record", r->record, "field", r->field, "kept", kept ? kept : json_null(), "lost",
                               lost ? lost : json_null(), "rule", r->rule, "detected_at_ms",
                               (json_int_t)r->detected_at, "resolved", r->resolved));
        } else {
            printf("#%" PRId64 " %s/%s field %s (%s)%s\n   kept: %s  (written by %s)\n   lost: %s  (written by %s)\n",
                   r->id, r->table, r->record, r->field, when, r->resolved ? " — resolved" : "", r->winner_json,
                   r->winner_replica, r->loser_json, r->loser_replica);
        }
    }
    if (cli->json)
        ts__print_json(arr);
    else if (n == 0)
        printf("no %sconflicts\n", all ? "" : "unresolved ");
    json_decref(arr);
    ts_conflict_rows_free(rows, n);
    ts__close(&x);
    return 0;
}

int ts_cli_dump(ts_cli *cli, int argc, char **argv)
{
    (void)argv;
    if (ts__wants_help(argc, argv) || argc != 1) {
        fputs("usage: tramsync [-d DIR] dump\n\nThe canonical dump of this replica (one JSON line per record),\n"
              "byte-identical between replicas that hold the same versions.\n",
              argc != 1 ? stderr : stdout);
        return argc != 1 ? TS_EXIT_USAGE : 0;
    }
    ts__ctx x;
    int rc = ts__open(cli, &x, true);
    if (rc != 0)
        return rc;
    ts_error err;
    if (ts_store_dump(x.store, stdout, &err) < 0)
        rc = ts__fail(cli, err.code, "%s", err.msg);
    ts__close(&x);
    return rc;
}

int ts_cli_tables(ts_cli *cli, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fputs("usage: tramsync [--json] tables\n", stderr);
        return TS_EXIT_USAGE;
    }
    ts_registry reg;
    ts_error err;
    if (ts_registry_load_default(&reg, &err) < 0)
        return ts__fail(cli, err.code, "%s", err.msg);
    json_t *arr = json_array();
    for (size_t i = 0; i < reg.ntables; i++) {
        const ts_table_def *t = &reg.tables[i];
        if (cli->json) {
            json_t *fields = json_array();
            for (size_t k = 0; k < t->nfields; k++)
                json_array_append_new(fields, json_pack("{s:s,s:s,s:b}", "name", t->fields[k].name, "type",
                                                        ts_field_type_name(t->fields[k].type), "required",
                                                        t->fields[k].required));
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:o}", "name", t->name, "kind",
                                                 ts_table_kind_name(t->kind), "label_vi", t->label_vi, "label_en",
                                                 t->label_en, "fields", fields));
        } else {
            printf("%-24s %-8s %s / %s\n", t->name, ts_table_kind_name(t->kind), t->label_vi, t->label_en);
            for (size_t k = 0; k < t->nfields; k++)
                printf("    %-22s %s%s\n", t->fields[k].name, ts_field_type_name(t->fields[k].type),
                       t->fields[k].required ? " (required)" : "");
        }
    }
    if (cli->json)
        ts__print_json(arr);
    json_decref(arr);
    ts_registry_free(&reg);
    return 0;
}

/* ---------------------------------------------------------------- import */

/* One CSV record (RFC 4180: quoted fields may hold commas, quotes as "" and
 * line breaks). Returns the number of fields, 0 at the end, -1 when broken. */
static int ts__csv_record(FILE *f, ts_buf *storage, size_t *offsets, int max_fields, long *line)
{
    ts_buf_reset(storage);
    int n = 0, c = fgetc(f);
    if (c == EOF)
        return 0;
    bool quoted = false, field_start = true;
    offsets[n++] = 0;
    for (;; c = fgetc(f)) {
        if (c == EOF) {
            if (quoted)
                return -1;
            break;
        }
        if (field_start && c == '"') {
            quoted = true;
            field_start = false;
            continue;
        }
        field_start = false;
        if (quoted) {
            if (c == '"') {
                int next = fgetc(f);
                if (next == '"') {
                    ts_buf_append(storage, "\"", 1);
                    continue;
                }
                quoted = false;
                if (next == EOF)
                    break;
                c = next;
            } else {
                if (c == '\n')
                    (*line)++;
                char ch = (char)c;
                ts_buf_append(storage, &ch, 1);
                continue;
            }
        }
        if (c == ',') {
            ts_buf_append(storage, "", 1);
            if (n == max_fields)
                return -1;
            offsets[n++] = storage->len;
            field_start = true;
            continue;
        }
        if (c == '\r')
            continue;
        if (c == '\n') {
            (*line)++;
            break;
        }
        char ch = (char)c;
        ts_buf_append(storage, &ch, 1);
    }
    ts_buf_append(storage, "", 1);
    return n;
}

static const char ts__import_help[] =
    "usage: tramsync [-d DIR] [--json] import FILE.csv --table TABLE [--id-column NAME] [--chunk N]\n"
    "\n"
    "Loads a CSV file whose first row names the fields (one column holds the record id,\n"
    "\"id\" unless --id-column says otherwise). Rows are written N at a time (default 500),\n"
    "one transaction per chunk; a refused row is reported and skipped, the rest are kept.\n"
    "Empty cells leave a field unset. Exit code 4 when some rows were refused.\n";

int ts_cli_import(ts_cli *cli, int argc, char **argv)
{
    if (ts__wants_help(argc, argv)) {
        fputs(ts__import_help, stdout);
        return 0;
    }
    const char *table = NULL, *id_col = "id";
    long chunk = 500;
    static const struct option opts[] = {{"table", required_argument, NULL, 't'},
                                         {"id-column", required_argument, NULL, 'i'},
                                         {"chunk", required_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 't': table = optarg; break;
        case 'i': id_col = optarg; break;
        case 'c': chunk = strtol(optarg, NULL, 10); break;
        default: return ts__usage(ts__import_help, argc, argv);
        }
    }
    if (table == NULL || optind != argc - 1 || chunk <= 0)
        return ts__usage(ts__import_help, argc, argv);
    const char *path = argv[optind];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return ts__fail(cli, TS_ENOT_FOUND, "cannot read %s: %s", path, strerror(errno));
    ts__ctx x;
    int rc = ts__open(cli, &x, false);
    if (rc != 0) {
        fclose(f);
        return rc;
    }
    const ts_table_def *t = ts__table(cli, &x, table, &rc);
    enum { MAXF = 128 };
    ts_buf header = TS_BUF_INIT, row = TS_BUF_INIT;
    size_t hoff[MAXF], roff[MAXF];
    const ts_field_def *defs[MAXF];
    long line = 1, rows = 0, stored = 0, refused = 0;
    int id_index = -1, ncols = 0;
    if (t != NULL) {
        ncols = ts__csv_record(f, &header, hoff, MAXF, &line);
        if (ncols <= 0)
            rc = ts__fail(cli, TS_EBAD_VALUE, "%s: no header row", path);
        for (int i = 0; rc == 0 && i < ncols; i++) {
            const char *name = (const char *)header.data + hoff[i];
            if (strcmp(name, id_col) == 0) {
                id_index = i;
                defs[i] = NULL;
                continue;
            }
            defs[i] = ts_table_field(t, name);
            if (defs[i] == NULL)
                rc = ts__fail(cli, TS_EINVALID_RECORD, "%s: column \"%s\" is not a field of %s", path, name, table);
        }
        if (rc == 0 && id_index < 0)
            rc = ts__fail(cli, TS_EBAD_VALUE, "%s: no \"%s\" column for the record ids", path, id_col);
    }
    ts_actor me = {TS_ACTOR_LOCAL, getenv("USER") ? getenv("USER") : "station", NULL, "import"};
    ts_kv kv[MAXF];
    ts_buf vals[MAXF];
    for (int i = 0; i < MAXF; i++)
        ts_buf_init(&vals[i]);
    ts_error err;
    bool in_tx = false;
    json_t *problems = json_array();
    while (rc == 0) {
        long at = line;
        int n = ts__csv_record(f, &row, roff, MAXF, &line);
        if (n == 0)
            break;
        if (!in_tx) {
            if (ts_store_begin(x.store, &err) < 0) {
                rc = ts__fail(cli, err.code, "%s", err.msg);
                break;
            }
            in_tx = true;
        }
        rows++;
        const char *problem = NULL;
        char why[400];
        size_t nkv = 0;
        if (n < 0 || n != ncols) {
            snprintf(why, sizeof why, "has %d cells, the header %d", n, ncols);
            problem = why;
        }
        for (int i = 0; !problem && i < n; i++) {
            const char *cell = (const char *)row.data + roff[i];
            if (i == id_index || cell[0] == '\0')
                continue;
            ts_buf_reset(&vals[nkv]);
            if (ts_cli_parse_value(defs[i], cell, &vals[nkv], &err) < 0) {
                snprintf(why, sizeof why, "%s", err.msg);
                problem = why;
                break;
            }
            kv[nkv].name = defs[i]->name;
            kv[nkv].value = vals[nkv].data;
            kv[nkv].len = vals[nkv].len;
            nkv++;
        }
        const char *id = !problem ? (const char *)row.data + roff[id_index] : "";
        if (!problem && ts_store_put(x.store, &me, table, id, NULL, kv, nkv, &err) < 0) {
            snprintf(why, sizeof why, "%s", err.msg);
            problem = why;
        }
        if (problem) {
            refused++;
            fprintf(stderr, "tramsync: %s line %ld (id %s): %s\n", path, at, id[0] ? id : "?", problem);
            json_array_append_new(problems, json_pack("{s:I,s:s,s:s}", "line", (json_int_t)at, "id", id, "reason", problem));
        } else {
            stored++;
        }
        if (rows % chunk == 0) {
            if (ts_store_commit(x.store, &err) < 0) {
                rc = ts__fail(cli, err.code, "%s", err.msg);
                break;
            }
            in_tx = false;
            fprintf(stderr, "import: %ld rows read, %ld stored, %ld refused\n", rows, stored, refused);
        }
    }
    if (in_tx) {
        if (rc == 0 && ts_store_commit(x.store, &err) < 0)
            rc = ts__fail(cli, err.code, "%s", err.msg);
        else if (rc != 0)
            ts_store_rollback(x.store);
    }
    if (rc == 0) {
        if (cli->json) {
            json_t *out = json_pack("{s:s,s:I,s:I,s:I,s:O}", "table", table, "rows", (json_int_t)rows, "stored",
                                    (json_int_t)stored, "refused", (json_int_t)refused, "problems", problems);
            ts__print_json(out);
            json_decref(out);
        } else {
            printf("imported %ld of %ld rows into %s%s\n", stored, rows, table, refused ? " (see the refused rows above)" : "");
        }
        if (refused)
            rc = TS_EXIT_INVALID;
    }
    json_decref(problems);
    for (int i = 0; i < MAXF; i++)
        ts_buf_free(&vals[i]);
    ts_buf_free(&header);
    ts_buf_free(&row);
    fclose(f);
    ts__close(&x);
    return rc;
}

/* ---------------------------------------------------------------- notices and tasks */

static const char *ts__label_vi_en(const ts_label *list, size_t n, const char *code, char *buf, size_t size)
{
    const ts_label *l = ts_label_find(list, n, code);
    if (l)
        snprintf(buf, size, "%s (%s)", l->vi, l->en);
    else
        snprintf(buf, size, "%s", code ? code : "");
    return buf;
}

static const char *ts__s(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

int ts_cli_notices(ts_cli *cli, int argc, char **argv)
{
    static const char help[] = "usage: tramsync [-d DIR] [--json] notices [--all]\n\nNotices from the district: "
                               "unread (not yet acknowledged) first, most urgent first.\n"
                               "--all includes the ones already done.\n";
    if (ts__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    bool all = argc == 2 && strcmp(argv[1], "--all") == 0;
    if (argc > 2 || (argc == 2 && !all))
        return ts__usage(help, argc, argv);
    ts__ctx x;
    int rc = ts__open(cli, &x, true);
    if (rc != 0)
        return rc;
    json_t *list;
    ts_error err;
    if (ts_station_notices(x.store, all, &list, &err) < 0) {
        rc = ts__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        ts__print_json(list);
    } else {
        size_t i;
        json_t *it;
        if (json_array_size(list) == 0)
            printf("no notices%s\n", all ? "" : " waiting (--all shows the finished ones)");
        json_array_foreach(list, i, it) {
            const json_t *n = json_object_get(it, "notice"), *h = json_object_get(it, "handling");
            char u[128], st[128];
            printf("%s %-26s %s  %s\n    %s — %s\n", json_is_true(json_object_get(it, "unread")) ? "*" : " ",
                   ts__s(it, "id"), ts__label_vi_en(ts_notice_urgencies, 4, ts__s(n, "urgency"), u, sizeof u),
                   ts__s(n, "number"), ts__s(n, "subject"),
                   ts__label_vi_en(ts_notice_states, 5, ts__s(h, "state"), st, sizeof st));
        }
    }
    json_decref(list);
    ts__close(&x);
    return rc;
}

int ts_cli_notice(ts_cli *cli, int argc, char **argv)
{
    static const char help[] = "usage: tramsync [-d DIR] [--json] notice show ID\n";
    if (ts__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 3 || strcmp(argv[1], "show") != 0)
        return ts__usage(help, argc, argv);
    ts__ctx x;
    int rc = ts__open(cli, &x, true);
    if (rc != 0)
        return rc;
    json_t *o;
    ts_error err;
    if (ts_station_show(x.store, argv[2], &o, &err) < 0) {
        rc = ts__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        ts__print_json(o);
        json_decref(o);
    } else {
        const json_t *n = json_object_get(o, "notice"), *h = json_object_get(o, "handling");
        if (n == NULL)
            n = json_object_get(o, "task");
        char a[160], b[160], c[160], d[160];
        printf("%s  %s\n", ts__s(o, "id"), ts__s(n, "number"));
        printf("  Trích yếu / subject   %s\n", json_object_get(n, "subject") ? ts__s(n, "subject") : ts__s(n, "task"));
        if (json_object_get(n, "urgency"))
            printf("  Độ khẩn / urgency     %s\n", ts__label_vi_en(ts_notice_urgencies, 4, ts__s(n, "urgency"), a, sizeof a));
        if (json_object_get(n, "category"))
            printf("  Lĩnh vực / category   %s\n", ts__label_vi_en(ts_notice_categories, 12, ts__s(n, "category"), b, sizeof b));
        if (json_object_get(n, "doc_type"))
            printf("  Loại / type           %s\n", ts__label_vi_en(ts_notice_doc_types, 7, ts__s(n, "doc_type"), c, sizeof c));
        if (json_object_get(n, "issuer"))
            printf("  Nơi ban hành          %s, %s\n", ts__s(n, "issuer"), ts__s(n, "issue_date"));
        if (json_object_get(n, "responsible"))
            printf("  Người phụ trách       %s\n", ts__s(n, "responsible"));
        if (json_object_get(n, "task") && json_object_get(n, "subject"))
            printf("  Nhiệm vụ / task       %s\n", ts__s(n, "task"));
        if (json_object_get(n, "deadline") || json_object_get(h, "deadline"))
            printf("  Hạn xử lý / deadline  %s\n", json_object_get(h, "deadline") ? ts__s(h, "deadline") : ts__s(n, "deadline"));
        if (json_object_get(n, "expected_result"))
            printf("  Kết quả cần đạt       %s\n", ts__s(n, "expected_result"));
        printf("  Trạng thái / state    %s%s\n", ts__label_vi_en(ts_notice_states, 5, ts__s(h, "state"), d, sizeof d),
               json_is_true(json_object_get(h, "overdue")) ? "  — QUÁ HẠN / OVERDUE" : "");
        if (json_object_get(h, "acknowledged_by"))
            printf("  Xác nhận bởi          %s, %s\n", ts__s(h, "acknowledged_by"), ts__s(h, "acknowledged_at"));
        if (json_object_get(n, "body"))
            printf("\n%s\n", ts__s(n, "body"));
        size_t k;
        json_t *f;
        json_array_foreach(json_object_get(o, "attachments"), k, f) {
            if (k == 0)
                printf("\n  Tệp đính kèm / attachments (tramsync attachment save %s N [PATH])\n", ts__s(o, "id"));
            const char *fid = ts__s(f, "id");
            const char *colon = strrchr(fid, ':');
            printf("  %3s  ", colon ? colon + 1 : fid);
            ts_text_col(stdout, ts__s(f, "name"), 40);
            printf(" %8lld bytes  %s%s\n", (long long)json_integer_value(json_object_get(f, "size")), ts__s(f, "mime"),
                   json_is_true(json_object_get(f, "verified")) ? "" : "  — HỎNG / CORRUPT (checksum)");
        }
        json_decref(o);
    }
    ts__close(&x);
    return rc;
}

int ts_cli_attachment(ts_cli *cli, int argc, char **argv)
{
    static const char help[] =
        "usage: tramsync [-d DIR] [--json] attachment save NOTICE N [PATH] [--force]\n\n"
        "Saves attachment N of a notice (its number in `tramsync notice show`, its id,\n"
        "or its file name) to PATH: a file, or a folder to save it under its own name\n"
        "(default: the current folder). Its bytes are checked against the SHA-256 the\n"
        "district recorded first. An existing file is kept unless --force.\n";
    if (ts__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    bool force = false;
    const char *pos[4];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            force = true;
        else if (argv[i][0] == '-' || npos == 4)
            return ts__usage(help, argc, argv);
        else
            pos[npos++] = argv[i];
    }
    if (npos < 3 || npos > 4 || strcmp(pos[0], "save") != 0)
        return ts__usage(help, argc, argv);
    ts__ctx x;
    int rc = ts__open(cli, &x, true);
    if (rc != 0)
        return rc;
    char written[4096];
    ts_attachment info;
    ts_error err;
    if (ts_station_attachment_save(x.store, pos[1], pos[2], npos == 4 ? pos[3] : ".", force, written, sizeof written,
                                   &info, &err) < 0) {
        rc = ts__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s}", "id", info.id, "name", info.name, "mime", info.mime, "size",
                              (json_int_t)info.len, "sha256", info.sha256, "path", written);
        ts__print_json(o);
        json_decref(o);
    } else {
        printf("saved %s (%zu bytes, SHA-256 checked) to %s\n", info.name, info.len, written);
    }
    ts__close(&x);
    return rc;
}

static int ts__transition_cmd(ts_cli *cli, const char *id, const char *state, const char *by, const char *note,
                              const char *report, const char *reason)
{
    ts__ctx x;
    int rc = ts__open(cli, &x, false);
    if (rc != 0)
        return rc;
    ts_error err;
    if (ts_station_transition(x.store, id, state, by, note, report, reason, &err) < 0) {
        rc = ts__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        json_t *o = json_pack("{s:s,s:s}", "id", id, "state", state);
        ts__print_json(o);
        json_decref(o);
    } else {
        char l[160];
        printf("%s: %s\n", id, ts__label_vi_en(ts_notice_states, 5, state, l, sizeof l));
    }
    ts__close(&x);
    return rc;
}

int ts_cli_ack(ts_cli *cli, int argc, char **argv)
{
    static const char help[] = "usage: tramsync [-d DIR] [--json] ack ID --by NAME\n\nAcknowledges a notice or task "
                               "in the name of the person responsible.\n";
    if (ts__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 4 || strcmp(argv[2], "--by") != 0)
        return ts__usage(help, argc, argv);
    return ts__transition_cmd(cli, argv[1], "acknowledged", argv[3], NULL, NULL, NULL);
}

int ts_cli_progress(ts_cli *cli, int argc, char **argv)
{
    static const char help[] =
        "usage: tramsync [-d DIR] [--json] progress ID --state in_progress|done [--by NAME]\n"
        "                [--note TEXT] [--report TEXT] [--reason TEXT]\n\n"
        "Reports progress on a notice or task: in_progress with a note, done with a short report.\n"
        "Going back from done needs --reason.\n";
    if (ts__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    const char *state = NULL, *by = NULL, *note = NULL, *report = NULL, *reason = NULL;
    static const struct option opts[] = {{"state", required_argument, NULL, 's'}, {"by", required_argument, NULL, 'b'},
                                         {"note", required_argument, NULL, 'n'},  {"report", required_argument, NULL, 'r'},
                                         {"reason", required_argument, NULL, 'R'}, {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 's': state = optarg; break;
        case 'b': by = optarg; break;
        case 'n': note = optarg; break;
        case 'r': report = optarg; break;
        case 'R': reason = optarg; break;
        default: return ts__usage(help, argc, argv);
        }
    }
    if (optind != argc - 1 || state == NULL)
        return ts__usage(help, argc, argv);
    return ts__transition_cmd(cli, argv[optind], state, by, note, report, reason);
}

int ts_cli_report(ts_cli *cli, int argc, char **argv)
{
    static const char help[] =
        "usage: tramsync [-d DIR] [--json] report --kind KIND --subject TEXT [--body TEXT]\n"
        "       [--urgency thuong|khan|thuong_khan|hoa_toc] [--category CODE] [--disease NAME]\n"
        "       [--cases N] [--deaths N] [--onset YYYY-MM-DD] [--location TEXT] [--by NAME]\n\n"
        "Sends a report or request up to the district. KIND: case_report, outbreak_detection,\n"
        "outbreak_update, outbreak_end, incident, request_drugs, request_staff,\n"
        "request_supervision, other.\n";
    if (ts__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    json_t *f = json_object();
    static const struct option opts[] = {
        {"kind", required_argument, NULL, 'k'},     {"subject", required_argument, NULL, 's'},
        {"body", required_argument, NULL, 'b'},     {"urgency", required_argument, NULL, 'u'},
        {"category", required_argument, NULL, 'c'}, {"disease", required_argument, NULL, 'd'},
        {"cases", required_argument, NULL, 'n'},    {"deaths", required_argument, NULL, 'D'},
        {"onset", required_argument, NULL, 'o'},    {"location", required_argument, NULL, 'l'},
        {"by", required_argument, NULL, 'y'},       {NULL, 0, NULL, 0}};
    static const char *const keys[] = {"kind", "subject", "body", "urgency", "category", "disease",
                                       "cases", "deaths", "onset_date", "location", "reported_by"};
    static const char letters[] = "ksbucdnDoly";
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *k = strchr(letters, o);
        if (o == '?' || k == NULL) {
            json_decref(f);
            return ts__usage(help, argc, argv);
        }
        const char *key = keys[k - letters];
        if (o == 'n' || o == 'D')
            json_object_set_new(f, key, json_integer(strtoll(optarg, NULL, 10)));
        else
            json_object_set_new(f, key, json_string(optarg));
    }
    if (optind != argc || !json_object_get(f, "kind") || !json_object_get(f, "subject")) {
        json_decref(f);
        return ts__usage(help, argc, argv);
    }
    ts__ctx x;
    int rc = ts__open(cli, &x, false);
    if (rc != 0) {
        json_decref(f);
        return rc;
    }
    ts_error err;
    char id[TS_KEY_MAX + 1];
    if (ts_station_report(x.store, f, id, sizeof id, &err) < 0) {
        rc = ts__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        json_t *out = json_pack("{s:s,s:s}", "id", id, "result", "stored");
        ts__print_json(out);
        json_decref(out);
    } else {
        printf("report %s stored; the agent sends it to the district within seconds\n", id);
    }
    json_decref(f);
    ts__close(&x);
    return rc;
}

int ts_cli_tasks(ts_cli *cli, int argc, char **argv)
{
    static const char help[] = "usage: tramsync [-d DIR] [--json] tasks\n\nPlan tasks the district assigned to "
                               "this station.\n";
    if (ts__wants_help(argc, argv) || argc != 1) {
        fputs(help, argc != 1 ? stderr : stdout);
        return argc != 1 ? TS_EXIT_USAGE : 0;
    }
    ts__ctx x;
    int rc = ts__open(cli, &x, true);
    if (rc != 0)
        return rc;
    json_t *list;
    ts_error err;
    if (ts_station_tasks(x.store, &list, &err) < 0) {
        rc = ts__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        ts__print_json(list);
        json_decref(list);
    } else {
        size_t i;
        json_t *it;
        if (json_array_size(list) == 0)
            printf("no tasks assigned to this station\n");
        json_array_foreach(list, i, it) {
            const json_t *t = json_object_get(it, "task"), *h = json_object_get(it, "handling");
            char st[128];
            printf("%-8s %s\n    %.160s\n    hạn / deadline: %s\n", ts__s(it, "id"),
                   ts__label_vi_en(ts_notice_states, 5, ts__s(h, "state"), st, sizeof st), ts__s(t, "task"),
                   json_object_get(h, "deadline") ? ts__s(h, "deadline") : ts__s(t, "deadline_text"));
        }
        json_decref(list);
    }
    ts__close(&x);
    return rc;
}
