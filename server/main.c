/* tramsyncd: command line, signals, systemd readiness. */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <systemd/sd-daemon.h>
#include <uv.h>

#include "common/ts_log.h"
#include "common/ts_record.h"
#include "common/ts_version.h"
#include "common/ts_xmalloc.h"
#include "server/ts_admin.h"
#include "server/ts_server.h"

typedef struct ts_daemon {
    uv_loop_t *loop;
    ts_server *srv;
    const char *config_path;
    char **overrides;
    int noverrides;
    uv_signal_t sig_term, sig_int, sig_hup;
    int exit_code;
    bool stopping;
} ts_daemon;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tramsyncd [options]\n"
            "\n"
            "The tramsync district daemon: stations sync with it over mutual TLS.\n"
            "\n"
            "  -c, --config FILE        configuration file (INI); without one, built-in defaults\n"
            "      --set SEC.KEY=VALUE  override one setting (repeatable), e.g. --set server.listen=:7443\n"
            "  -l, --listen ADDR        same as --set server.listen=ADDR\n"
            "  -d, --data-dir DIR       same as --set server.data_dir=DIR\n"
            "      --log-level LEVEL    same as --set server.log_level=LEVEL (debug, info, warn, error)\n"
            "      --port-file FILE     once listening, write the ports bound (sync, then admin) to FILE\n"
            "      --check-config       check the configuration (files, certificates) and exit\n"
            "      --print-config       print the effective configuration, documented, and exit\n"
            "      --add-user NAME      create or update an admin account (with --role; the password is\n"
            "                           read from $TRAMSYNC_PASSWORD or the first line of standard input)\n"
            "      --role ROLE          viewer, operator, admin, commune (one commune's UBND) or monitor\n"
            "      --communes CODES     the communes a commune account (exactly one) or a viewer (any)\n"
            "                           is limited to: commune or station codes, comma-separated\n"
            "  -V, --version            print the version and exit\n"
            "  -h, --help               this help\n"
            "\n"
            "Signals: SIGTERM or SIGINT drain sessions and stop; SIGHUP reloads the configuration,\n"
            "certificates and CRL without dropping sessions. Logs go to standard error.\n");
}

static char *ts__assign(const char *key, const char *value)
{
    return ts_xasprintf("%s=%s", key, value);
}

static void on_stopped(ts_server *srv, void *arg)
{
    (void)srv;
    ts_daemon *d = arg;
    uv_close((uv_handle_t *)&d->sig_term, NULL);
    uv_close((uv_handle_t *)&d->sig_int, NULL);
    uv_close((uv_handle_t *)&d->sig_hup, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    ts_daemon *d = h->data;
    if (signum == SIGHUP) {
        sd_notify(0, "RELOADING=1");
        ts_server_config cfg;
        ts_error err;
        int rc = ts_server_config_load(&cfg, d->config_path, d->overrides, d->noverrides, &err);
        if (rc == 0)
            rc = ts_server_reload(d->srv, &cfg, &err);
        if (rc < 0)
            ts_log_error("reload_failed", "reason=%s", err.msg);
        if (rc == 0 || cfg.listen != NULL)
            ts_server_config_free(&cfg);
        sd_notify(0, "READY=1");
        return;
    }
    if (d->stopping) {
        ts_log_warn("forced_exit", "signal=%d", signum);
        exit(1);
    }
    d->stopping = true;
    ts_log_info("signal", "signal=%s action=drain", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    sd_notify(0, "STOPPING=1");
    ts_server_shutdown(d->srv, on_stopped, d);
}

/* Bootstrap: the first admin account is made on the server itself. */
static int ts__add_user(const ts_server_config *cfg, const char *name, const char *role, const char *communes)
{
    char password[256] = "";
    const char *env = getenv("TRAMSYNC_PASSWORD");
    if (env != NULL) {
        snprintf(password, sizeof password, "%s", env);
    } else if (fgets(password, sizeof password, stdin) != NULL) {
        password[strcspn(password, "\r\n")] = '\0';
    }
    if (role == NULL) {
        fprintf(stderr, "tramsyncd: --add-user cần --role / needs --role viewer|operator|admin|commune|monitor\n");
        return 2;
    }
    ts_registry reg;
    ts_error err;
    if (ts_registry_load_default(&reg, &err) < 0) {
        fprintf(stderr, "tramsyncd: %s\n", err.msg);
        return 1;
    }
    mkdir(cfg->data_dir, 0750);
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = cfg->database;
    opt.role = TS_ROLE_SERVER;
    opt.registry = &reg;
    opt.create = true;
    ts_store *st;
    int rc = ts_store_open(&st, &opt, &err);
    if (rc == 0) {
        /* the account, its communes (checked against the station directory
         * and the role) and the audit entry: all stored, or nothing */
        rc = ts_store_begin(st, &err);
        if (rc == 0)
            rc = ts_admin_user_set(st, name, password[0] ? password : NULL, role, NULL, NULL, &err);
        if (rc == 0 && communes != NULL)
            rc = ts_admin_user_set_communes(st, name, communes, &err);
        if (rc == 0)
            rc = ts_admin_user_check_scope(st, name, &err);
        if (rc == 0) {
            ts_actor me = {TS_ACTOR_LOCAL, "tramsyncd --add-user", NULL, "console"};
            if (ts_store_audit(st, &me, "user", "admin_users", name, "ok", role) < 0)
                rc = ts_error_set(&err, TS_ESTORAGE, "the audit entry could not be stored");
        }
        if (rc == 0)
            rc = ts_store_commit(st, &err);
        else
            ts_store_rollback(st);
        ts_store_close(st);
    }
    ts_registry_free(&reg);
    if (rc < 0) {
        fprintf(stderr, "tramsyncd: %s\n", err.msg);
        return 1;
    }
    char stored[TS_ACCOUNT_NAME_MAX + 1];
    ts_account_name_fold(name, stored, sizeof stored);
    if (communes != NULL && communes[0])
        printf("account %s saved with role %s (communes %s)\n", stored, role, communes);
    else
        printf("account %s saved with role %s\n", stored, role);
    return 0;
}

static int ts__serve(ts_daemon *d, bool check, bool print, const char *port_file, const char *add_user,
                     const char *role, const char *communes);

int main(int argc, char **argv)
{
    /* a station whose connection resets mid-write must cost an EPIPE on that
     * connection, not the daemon */
    signal(SIGPIPE, SIG_IGN);
    ts_daemon d;
    memset(&d, 0, sizeof d);
    d.overrides = ts_xcalloc((size_t)argc + 1, sizeof *d.overrides);
    bool check = false, print = false;
    const char *port_file = NULL;
    const char *add_user = NULL, *role = NULL, *communes = NULL;
    enum { OPT_SET = 256, OPT_LOG, OPT_CHECK, OPT_PRINT, OPT_PORT_FILE, OPT_ADD_USER, OPT_ROLE, OPT_COMMUNES };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},   {"set", required_argument, NULL, OPT_SET},
        {"listen", required_argument, NULL, 'l'},   {"data-dir", required_argument, NULL, 'd'},
        {"log-level", required_argument, NULL, OPT_LOG}, {"check-config", no_argument, NULL, OPT_CHECK},
        {"print-config", no_argument, NULL, OPT_PRINT}, {"port-file", required_argument, NULL, OPT_PORT_FILE},
        {"add-user", required_argument, NULL, OPT_ADD_USER}, {"role", required_argument, NULL, OPT_ROLE},
        {"communes", required_argument, NULL, OPT_COMMUNES},
        {"version", no_argument, NULL, 'V'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:l:d:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': d.config_path = optarg; break;
        case OPT_SET: d.overrides[d.noverrides++] = ts_xstrdup(optarg); break;
        case 'l': d.overrides[d.noverrides++] = ts__assign("server.listen", optarg); break;
        case 'd': d.overrides[d.noverrides++] = ts__assign("server.data_dir", optarg); break;
        case OPT_LOG: d.overrides[d.noverrides++] = ts__assign("server.log_level", optarg); break;
        case OPT_CHECK: check = true; break;
        case OPT_PRINT: print = true; break;
        case OPT_PORT_FILE: port_file = optarg; break;
        case OPT_ADD_USER: add_user = optarg; break;
        case OPT_ROLE: role = optarg; break;
        case OPT_COMMUNES: communes = optarg; break;
        case 'V': printf("tramsyncd %s (protocol %d-%d)\n", TS_VERSION, TS_PROTO_VERSION_MIN, TS_PROTO_VERSION_MAX);
            return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int rc;
    if (optind < argc) {
        fprintf(stderr, "tramsyncd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        rc = 2;
    } else {
        rc = ts__serve(&d, check, print, port_file, add_user, role, communes);
    }
    for (int i = 0; i < d.noverrides; i++)
        free(d.overrides[i]);
    free(d.overrides);
    return rc;
}

/* Everything after the options: the one-shot modes, or the daemon. */
static int ts__serve(ts_daemon *d, bool check, bool print, const char *port_file, const char *add_user,
                     const char *role, const char *communes)
{
    /* the database, its -wal and -shm, the port file and anything else the
     * daemon (or --add-user, which may create the database) makes are the
     * service's and its group's only, whatever the umask it was started
     * with (systemd sets UMask= too) */
    umask(0027);
    ts_server_config cfg;
    ts_error err;
    if (ts_server_config_load(&cfg, d->config_path, d->overrides, d->noverrides, &err) < 0) {
        fprintf(stderr, "tramsyncd: %s\n", err.msg);
        return 2;
    }
    if (print) {
        ts_cfg_write(stdout, &cfg, ts_server_config_keys, "tramsyncd configuration");
        ts_server_config_free(&cfg);
        return 0;
    }
    if (add_user != NULL) {
        int rc = ts__add_user(&cfg, add_user, role, communes);
        ts_server_config_free(&cfg);
        return rc;
    }
    if (check) {
        int rc = ts_server_config_check(&cfg, &err);
        if (rc < 0)
            fprintf(stderr, "tramsyncd: configuration error: %s\n", err.msg);
        else
            printf("tramsyncd: configuration OK (%s)\n", d->config_path ? d->config_path : "built-in defaults");
        ts_server_config_free(&cfg);
        return rc < 0 ? 1 : 0;
    }

    /* Frames of stations (up to max_frame, 4 MiB) are large, short-lived
     * buffers. glibc raises its mmap threshold each time such a buffer is
     * freed, after which they come from the heap and a burst leaves the
     * heap grown for good; a fixed threshold keeps them mmap()ed, so they
     * go back to the system as soon as they are freed (the rest is trimmed,
     * ts_server_note_freed). */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    /* every station is a descriptor: take all the system allows */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    d->loop = uv_default_loop();
    if (ts_server_start(&d->srv, d->loop, &cfg, &err) < 0) {
        ts_log_error("start_failed", "reason=%s", err.msg);
        fprintf(stderr, "tramsyncd: %s\n", err.msg);
        ts_server_config_free(&cfg);
        return 1;
    }
    ts_server_config_free(&cfg);
    if (port_file != NULL) {
        FILE *f = fopen(port_file, "w");
        /* the sync port, then the admin port (-1 when off) */
        if (f == NULL || fprintf(f, "%d\n%d\n", ts_server_port(d->srv), ts_server_admin_port(d->srv)) < 0 ||
            fclose(f) != 0) {
            fprintf(stderr, "tramsyncd: cannot write %s\n", port_file);
            return 1;
        }
    }
    uv_signal_init(d->loop, &d->sig_term);
    uv_signal_init(d->loop, &d->sig_int);
    uv_signal_init(d->loop, &d->sig_hup);
    d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
    uv_signal_start(&d->sig_term, on_signal, SIGTERM);
    uv_signal_start(&d->sig_int, on_signal, SIGINT);
    uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
    sd_notify(0, "READY=1");

    uv_run(d->loop, UV_RUN_DEFAULT);

    ts_server_free(d->srv);
    uv_loop_close(d->loop);
    return d->exit_code;
}
