/* Setting a station up and handing it to the agent: init, enroll, run.
 * These come before there is a working station to open (init creates it,
 * enroll installs its certificate, run gives it to the agent), so they read
 * the configuration themselves instead of through ts_cli__open; and they are
 * the only commands that deal with keys, certificates, signals and the event
 * loop, which is why they are apart from the commands on records. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/x509v3.h>
#include <uv.h>

#include "client/ts_agent.h"
#include "client/ts_cli_int.h"
#include "common/ts_log.h"
#include "common/ts_pki.h"
#include "common/ts_xmalloc.h"

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

static const char ts__init_help_vi[] =
    "cách dùng: tramsync [-d THƯ_MỤC] init --station MÃ_TRẠM --commune TÊN_XÃ [--server MÁY:CỔNG]\n"
    "                    [--server-name TÊN]\n"
    "\n"
    "Tạo cơ sở dữ liệu của trạm, khóa bí mật của trạm (không bao giờ rời máy này) và\n"
    "yêu cầu cấp chứng thư (station.csr) để gửi trung tâm y tế. Sau đó: tramsync enroll.\n";
static const char ts__init_help_en[] =
    "usage: tramsync [-d DIR] init --station CODE --commune NAME [--server HOST:PORT] [--server-name NAME]\n"
    "\n"
    "Creates this station's replica database, its private key (never leaves this PC) and a\n"
    "certificate request (station.csr) to send to the district. Then: tramsync enroll.\n";

int ts_cli_init(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(cli, ts__init_help_vi, ts__init_help_en);
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
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
        default: return ts_cli__usage(help, argc, argv);
        }
    }
    if (station == NULL || commune == NULL || optind != argc)
        return ts_cli__usage(help, argc, argv);
    const char *bad = ts_ident_problem(station, strlen(station));
    if (bad != NULL)
        return ts_cli__fail(cli, TS_EBAD_VALUE,
                            TS__L(cli, "mã trạm không hợp lệ (it %s)", "not a valid station code: it %s"), bad);

    const char *dir = cli->data_dir;
    if (ts__mkdir_p(dir) != 0)
        return ts_cli__fail(cli, TS_EIO, TS__L(cli, "không tạo được thư mục %s: %s", "cannot create %s: %s"), dir,
                            strerror(errno));
    char *conf = ts_agent_config_path(dir);
    struct stat st;
    if (stat(conf, &st) == 0) {
        int rc = ts_cli__fail(cli, TS_EBAD_VALUE,
                              TS__L(cli, "%s đã có một trạm (%s)", "%s already holds a station (%s)"), dir, conf);
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
            return ts_cli__fail_err(cli, err.code, "thiết lập không hợp lệ", err.msg);
        }
    FILE *f = fopen(conf, "w");
    if (f == NULL) {
        int rc = ts_cli__fail(cli, TS_EIO, TS__L(cli, "không ghi được %s: %s", "cannot write %s: %s"), conf,
                              strerror(errno));
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
        return ts_cli__fail_err(cli, rc, "không tạo được khóa hoặc yêu cầu cấp chứng thư", err.msg);
    }

    ts_cli__ctx x;
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
            ts_cli__print_json(o);
            json_decref(o);
        } else {
            if (cli->en) {
                printf("Station %s (%s) initialised in %s\n", station, commune, dir);
                printf("  replica     %s\n  database    %s\n  private key %s (stays on this PC)\n  request     %s\n\n",
                       ts_store_replica(x.store)->b, db, key_path, csr_path);
                printf("Next: send %s to the district; they run\n"
                       "  tramsyncctl ca issue-station %s --csr station.csr --commune \"%s\"\n"
                       "and give you back station.pem and ca.pem. Then run\n"
                       "  tramsync -d %s enroll --cert station.pem --ca ca.pem\n",
                       csr_path, station, commune, dir);
            } else {
                printf("Đã tạo trạm %s (%s) trong %s\n", station, commune, dir);
                printf("  bản sao dữ liệu  %s\n  cơ sở dữ liệu    %s\n  khóa bí mật      %s (chỉ nằm trên máy này)\n"
                       "  yêu cầu cấp      %s\n\n",
                       ts_store_replica(x.store)->b, db, key_path, csr_path);
                printf("Tiếp theo: gửi %s cho trung tâm y tế; trung tâm chạy\n"
                       "  tramsyncctl ca issue-station %s --csr station.csr --commune \"%s\"\n"
                       "rồi gửi lại station.pem và ca.pem. Sau đó chạy\n"
                       "  tramsync -d %s enroll --cert station.pem --ca ca.pem\n",
                       csr_path, station, commune, dir);
            }
        }
        ts_store_close(x.store);
    }
    ts_registry_free(&reg);
    free(db);
    free(conf);
    free(key_path);
    free(csr_path);
    return rc < 0 ? ts_cli__fail_err(cli, rc, "không tạo được cơ sở dữ liệu của trạm", err.msg) : 0;
}

static const char ts__enroll_help_vi[] =
    "cách dùng: tramsync [-d THƯ_MỤC] enroll --cert station.pem --ca ca.pem\n"
    "\n"
    "Cài chứng thư trung tâm y tế cấp cho khóa của trạm, sau khi kiểm tra chứng thư\n"
    "khớp với khóa, với mã trạm và do đúng cơ quan cấp chứng thư (CA) của trung tâm cấp.\n";
static const char ts__enroll_help_en[] =
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
    const char *help = TS__L(cli, ts__enroll_help_vi, ts__enroll_help_en);
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
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
        default: return ts_cli__usage(help, argc, argv);
        }
    }
    if (cert_path == NULL || optind != argc)
        return ts_cli__usage(help, argc, argv);
    ts_agent_config cfg;
    ts_error err;
    if (ts_agent_config_load(&cfg, cli->data_dir, cli->config, cli->overrides, cli->noverrides, &err) < 0)
        return ts_cli__fail_err(cli, err.code, "không đọc được cấu hình của trạm", err.msg);
    int rc = 0;
    X509 *cert = ts_pki_read_cert(cert_path, &err), *ca = NULL;
    EVP_PKEY *key = ts_pki_read_key(cfg.key, &err);
    if (cert == NULL || key == NULL) {
        rc = ts_cli__fail_err(cli, TS_EBAD_VALUE, "không đọc được chứng thư hoặc khóa", err.msg);
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        rc = ts_cli__fail(cli, TS_EBAD_VALUE,
                          TS__L(cli, "%s không được cấp cho khóa của trạm này (%s)",
                                "%s was not issued for this station's key (%s)"),
                          cert_path, cfg.key);
        goto out;
    }
    char cn[128] = "", ou[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_organizationalUnitName, ou, sizeof ou);
    if (strcmp(cn, cfg.code) != 0 || strcmp(ou, "station") != 0) {
        rc = ts_cli__fail(cli, TS_EBAD_VALUE,
                          TS__L(cli, "%s cấp cho \"%s\" (%s), không phải trạm %s", "%s is for \"%s\" (%s), not station %s"),
                          cert_path, cn, ou, cfg.code);
        goto out;
    }
    const char *ca_file = ca_path ? ca_path : cfg.ca;
    ca = ts_pki_read_cert(ca_file, &err);
    if (ca == NULL) {
        rc = ts_cli__fail(cli, TS_ENOT_FOUND,
                          TS__L(cli, "cần chứng thư CA của trung tâm: --ca ca.pem (%s)",
                                "the district CA is needed: --ca ca.pem (%s)"),
                          err.msg);
        goto out;
    }
    EVP_PKEY *ca_pub = X509_get0_pubkey(ca);
    if (X509_verify(cert, ca_pub) != 1) {
        rc = ts_cli__fail(cli, TS_EBAD_VALUE,
                          TS__L(cli, "%s không do CA trong %s cấp", "%s was not issued by the CA in %s"), cert_path,
                          ca_file);
        goto out;
    }
    if ((ca_path && (rc = ts__copy(ca_path, cfg.ca, &err)) < 0) || (rc = ts__copy(cert_path, cfg.cert, &err)) < 0) {
        rc = ts_cli__fail_err(cli, rc, "không cài được chứng thư", err.msg);
        goto out;
    }
    /* a ticket resumes the session of the certificate it was issued to:
     * with a new one, the next connection is a full handshake */
    if (cfg.session_file != NULL)
        unlink(cfg.session_file);
    if (cli->json) {
        json_t *o = json_pack("{s:s,s:s,s:s}", "station", cfg.code, "cert", cfg.cert, "ca", cfg.ca);
        ts_cli__print_json(o);
        json_decref(o);
    } else {
        printf(TS__L(cli,
                     "Trạm %s đã đăng ký: đã cài %s. Bắt đầu đồng bộ bằng `tramsync -d %s run`\n"
                     "(hoặc `systemctl enable --now tramsync`).\n",
                     "Station %s enrolled: %s installed. Start syncing with `tramsync -d %s run`\n"
                     "(or `systemctl enable --now tramsync`).\n"),
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
    const char *help =
        TS__L(cli,
              "cách dùng: tramsync [-d THƯ_MỤC] run\n\nChạy agent của trạm ở tiền cảnh: tự đồng bộ và ghi nhật ký\n"
              "ra đầu ra lỗi chuẩn (stderr). SIGTERM hoặc Ctrl-C dừng agent an toàn.\n",
              "usage: tramsync [-d DIR] run\n\nRuns the station agent in the foreground: it syncs by itself and\n"
              "logs to standard error. SIGTERM or Ctrl-C stop it cleanly.\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc > 1)
        return ts_cli__usage(help, argc, argv);
    ts_agent_config cfg;
    ts_error err;
    if (ts_agent_config_load(&cfg, cli->data_dir, cli->config, cli->overrides, cli->noverrides, &err) < 0)
        return ts_cli__fail_err(cli, err.code, "không đọc được cấu hình của trạm", err.msg);
    /* a write to a connection the district has just reset must fail with
     * EPIPE (and the agent reconnect), not kill the agent with SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    ts_agent *a;
    if (ts_agent_start(&a, loop, &cfg, &err) < 0) {
        ts_agent_config_free(&cfg);
        return ts_cli__fail_err(cli, err.code, "không khởi động được agent", err.msg);
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
