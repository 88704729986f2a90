/* tramsyncd benchmarks (`make bench ONLY=daemon`): the release daemon on
 * 127.0.0.1 with a fresh PKI in a temporary directory.
 *
 *   tls_handshakes_per_s   full mutual TLS 1.3 handshakes (no resumption: the
 *                          daemon issues tickets only to a HELLO that asks, and
 *                          these clients send none),
 *                          each confirmed by a PING/PONG round trip, from several
 *                          client threads of this process for BENCH_SECONDS; the
 *                          clients share the machine's cores with the daemon, so
 *                          tls_handshakes_per_daemon_cpu_s (handshakes per CPU
 *                          second the daemon used) is printed too
 *   openssl_*              `openssl speed` figures of this machine for what a
 *                          handshake costs (ECDSA P-256 sign/verify, X25519)
 *   idle_conn_kb           daemon RSS growth per idle station session (TLS up,
 *                          HELLO/WELCOME done, distinct stations) over 2,000 of them
 *
 * Output: lines "BENCH <name> <value> <unit>". Environment: TS_BIN_DIR (set by
 * make), BENCH_SECONDS (default 5), BENCH_THREADS (default 3), BENCH_IDLE (2000),
 * BENCH_SET (one extra daemon --set, e.g. "tls.crl=" for no CRL). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long env_long(const char *name, long def)
{
    const char *s = getenv(name);
    return s && *s ? strtol(s, NULL, 10) : def;
}

/* CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
static double proc_cpu_s(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *txt = ts_read_file(path, NULL);
    if (txt == NULL)
        return 0;
    const char *p = strrchr(txt, ')');
    unsigned long ut = 0, st = 0;
    /* after "pid (comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        ut = st = 0;
    free(txt);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---------------------------------------------------------------- handshakes */

typedef struct hs_thread {
    pthread_t thread;
    int port;
    SSL_CTX *ctx;
    double until;
    long done;
    long failed;
    char error[200];
} hs_thread;

static bool ssl_read_n(SSL *ssl, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        int r = SSL_read(ssl, buf + got, (int)(n - got));
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

/* One full handshake, then PING -> PONG. */
static bool hs_once(hs_thread *t, const uint8_t *ping, size_t ping_len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)t->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct linger lg = {1, 0}; /* RST on close: no TIME_WAIT pile-up over thousands of connections */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    bool ok = false;
    SSL *ssl = NULL;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(t->error, sizeof t->error, "connect: %s", strerror(errno));
        goto out;
    }
    ssl = SSL_new(t->ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    ERR_clear_error();
    if (SSL_connect(ssl) != 1) {
        ERR_error_string_n(ERR_get_error(), t->error, sizeof t->error);
        goto out;
    }
    if (SSL_write(ssl, ping, (int)ping_len) != (int)ping_len)
        goto out;
    uint8_t hdr[4], body[256];
    if (!ssl_read_n(ssl, hdr, 4)) {
        snprintf(t->error, sizeof t->error, "no PONG (handshake refused?)");
        goto out;
    }
    uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (n == 0 || n > sizeof body || !ssl_read_n(ssl, body, n))
        goto out;
    ts_msg m;
    ts_error err;
    if (ts_msg_decode(body, n, NULL, &m, &err) == 0) {
        ok = m.type == TS_MSG_PONG;
        ts_msg_free(&m);
    }
out:
    if (ssl != NULL)
        SSL_free(ssl);
    close(fd);
    return ok;
}

static void *hs_main(void *arg)
{
    hs_thread *t = arg;
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PING);
    m.u.ping.nonce = 1;
    ts_buf b = TS_BUF_INIT;
    ts_msg_encode(&m, &b);
    ts_msg_free(&m);
    while (now_s() < t->until) {
        if (hs_once(t, b.data, b.len))
            t->done++;
        else if (++t->failed > 100)
            break;
    }
    ts_buf_free(&b);
    return NULL;
}

static SSL_CTX *client_ctx(const ts_test_pki *pki, const char *code)
{
    char *cert = ts_test_pki_cert(pki, code), *key = ts_test_pki_key(pki, code);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_load_verify_locations(ctx, pki->ca, NULL) != 1) {
        fprintf(stderr, "bench: cannot load %s\n", cert);
        exit(1);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    free(cert);
    free(key);
    return ctx;
}

static void bench_handshakes(const ts_test_pki *pki, const ts_test_daemon *d)
{
    int nthreads = (int)env_long("BENCH_THREADS", 3);
    double seconds = (double)env_long("BENCH_SECONDS", 5);
    if (nthreads < 1 || nthreads > 64)
        nthreads = 3;
    hs_thread *th = ts_xcalloc((size_t)nthreads, sizeof *th);
    /* warm up: one handshake */
    hs_thread warm = {.port = d->port, .ctx = client_ctx(pki, "st0000"), .until = now_s() + 0.2};
    hs_main(&warm);
    SSL_CTX_free(warm.ctx);
    if (warm.done == 0) {
        fprintf(stderr, "bench: warm-up handshake failed: %s\n", warm.error);
        exit(1);
    }

    double cpu0 = proc_cpu_s(d->pid);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_s();
    for (int i = 0; i < nthreads; i++) {
        char code[16];
        snprintf(code, sizeof code, "st%04d", i);
        th[i].port = d->port;
        th[i].ctx = client_ctx(pki, code);
        th[i].until = t0 + seconds;
        pthread_create(&th[i].thread, NULL, hs_main, &th[i]);
    }
    long done = 0, failed = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i].thread, NULL);
        done += th[i].done;
        failed += th[i].failed;
        if (th[i].failed)
            fprintf(stderr, "bench: thread %d: %ld failed, last: %s\n", i, th[i].failed, th[i].error);
        SSL_CTX_free(th[i].ctx);
    }
    double elapsed = now_s() - t0;
    double cpu = proc_cpu_s(d->pid) - cpu0;
    getrusage(RUSAGE_SELF, &ru1);
    double client_cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                        (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    printf("BENCH tls_handshakes_per_s %.0f handshakes/s (full mutual TLS 1.3 + PING/PONG, %d client threads on "
           "%ld cores shared with the daemon, %.1f s, %ld failed)\n",
           (double)done / elapsed, nthreads, sysconf(_SC_NPROCESSORS_ONLN), elapsed, failed);
    printf("BENCH tls_handshakes_per_daemon_cpu_s %.0f handshakes/cpu-s (daemon used %.2f CPU s of its one loop "
           "thread = %.0f%% of one core)\n",
           cpu > 0 ? (double)done / cpu : 0.0, cpu, 100.0 * cpu / elapsed);
    printf("BENCH tls_handshake_client_cpu_us %.0f us/handshake (this process's clients)\n",
           done ? 1e6 * client_cpu / (double)done : 0.0);
    free(th);
}

/* ---------------------------------------------------------------- openssl speed */

static void bench_openssl_speed(void)
{
    FILE *p = popen("openssl speed -seconds 2 ecdhx25519 ecdsap256 2>/dev/null", "r");
    if (p == NULL) {
        printf("BENCH openssl_speed_missing 0 -\n");
        return;
    }
    char line[512];
    double sign = 0, verify = 0, x25519 = 0;
    while (fgets(line, sizeof line, p) != NULL) {
        if (strstr(line, "ecdsa (nistp256)") != NULL) {
            const char *q = strchr(line, ')');
            double s1, s2;
            if (q && sscanf(q + 1, " %lfs %lfs %lf %lf", &s1, &s2, &sign, &verify) != 4)
                sign = verify = 0;
        } else if (strstr(line, "ecdh (X25519)") != NULL) {
            const char *q = strchr(line, ')');
            double s1;
            if (q && sscanf(q + 1, " %lfs %lf", &s1, &x25519) != 2)
                x25519 = 0;
        }
    }
    pclose(p);
    printf("BENCH openssl_ecdsap256_sign_per_s %.0f ops/s (one core)\n", sign);
    printf("BENCH openssl_ecdsap256_verify_per_s %.0f ops/s (one core)\n", verify);
    printf("BENCH openssl_x25519_per_s %.0f ops/s (one core)\n", x25519);
    if (sign > 0 && verify > 0 && x25519 > 0) {
        /* the daemon's share of one handshake: sign its CertificateVerify,
         * verify the station certificate and the station's CertificateVerify
         * (plus the CRL signature when a CRL is configured), one X25519
         * key generation and one derivation */
        double us = 1e6 / sign + 3e6 / verify + 2e6 / x25519;
        printf("BENCH handshake_crypto_bound_per_core %.0f handshakes/s (1 sign + 3 verify + 2 X25519 = %.0f us)\n",
               1e6 / us, us);
    }
}

/* ---------------------------------------------------------------- idle sessions */

/* RSS once the daemon stops moving by itself (it does background work a
 * couple of seconds after start, e.g. the console's figures). */
static long rss_settled(pid_t pid, double started)
{
    while (now_s() - started < 3.5)
        ts_test_sleep_ms(100);
    long prev = ts_test_rss_kb(pid);
    for (int i = 0, stable = 0; i < 60 && stable < 4; i++) {
        ts_test_sleep_ms(250);
        long cur = ts_test_rss_kb(pid);
        stable = labs(cur - prev) < 128 ? stable + 1 : 0;
        prev = cur;
    }
    return prev;
}

static void bench_idle(const ts_test_pki *pki, const ts_test_daemon *d, int nidle, double started)
{
    /* warm up with a few sessions of their own */
    for (int i = 0; i < 10; i++) {
        char code[16], rid[64];
        snprintf(code, sizeof code, "st%04d", nidle + i);
        snprintf(rid, sizeof rid, "%s.%016x", code, i + 1);
        char *cert = ts_test_pki_cert(pki, code), *key = ts_test_pki_key(pki, code);
        ts_tc_opts o = {cert, key, pki->ca, 0, 0};
        ts_tc c;
        ts_msg w;
        if (ts_tc_connect(&c, d->port, &o) < 0 || ts_tc_hello(&c, code, rid, 0, "", 0, &w) < 0) {
            fprintf(stderr, "bench: warm-up session %s: %s\n", code, c.error);
            exit(1);
        }
        ts_msg_free(&w);
        ts_tc_close(&c);
        free(cert);
        free(key);
    }
    long rss0 = rss_settled(d->pid, started);
    ts_tc *cs = ts_xcalloc((size_t)nidle, sizeof *cs);
    double t0 = now_s();
    for (int i = 0; i < nidle; i++) {
        char code[16], rid[64];
        snprintf(code, sizeof code, "st%04d", i);
        snprintf(rid, sizeof rid, "%s.%016x", code, i + 1);
        char *cert = ts_test_pki_cert(pki, code), *key = ts_test_pki_key(pki, code);
        ts_tc_opts o = {cert, key, pki->ca, 0, 0};
        ts_msg w;
        if (ts_tc_connect(&cs[i], d->port, &o) < 0 || ts_tc_hello(&cs[i], code, rid, 0, "", 0, &w) < 0) {
            fprintf(stderr, "bench: idle session %d (%s): %s\n", i, code, cs[i].error);
            exit(1);
        }
        ts_msg_free(&w);
        /* the client side keeps no more than it must */
        SSL_CTX_free(cs[i].ctx);
        cs[i].ctx = NULL;
        free(cert);
        free(key);
    }
    double setup = now_s() - t0;
    long rss1 = rss_settled(d->pid, started);
    printf("BENCH idle_conn_kb %.1f KiB/session (daemon RSS %ld -> %ld KiB over %d idle stations after HELLO; "
           "set up in %.1f s)\n",
           (double)(rss1 - rss0) / nidle, rss0, rss1, nidle, setup);
    for (int i = 0; i < nidle; i++)
        ts_tc_close(&cs[i]);
    free(cs);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int nidle = (int)env_long("BENCH_IDLE", 2000);
    if (nidle < 1)
        nidle = 1;
    if ((rlim_t)nidle + 100 > rl.rlim_cur) {
        nidle = (int)rl.rlim_cur - 100;
        fprintf(stderr, "bench: descriptor limit %lu: only %d idle stations\n", (unsigned long)rl.rlim_cur, nidle);
    }

    char *dir = ts_tmpdir_make("bench-daemon");
    ts_test_pki pki;
    const char *first[] = {"st0000"};
    double t0 = now_s();
    ts_test_pki_make(&pki, dir, first, 1);
    for (int i = 1; i < nidle + 10; i++) {
        char code[16];
        snprintf(code, sizeof code, "st%04d", i);
        ts_test_pki_station(&pki, code, code);
    }
    fprintf(stderr, "bench: PKI with %d station certificates in %.1f s\n", nidle + 10, now_s() - t0);

    /* BENCH_SET: one more daemon setting, e.g. "tls.crl=" to measure without a CRL */
    const char *extra = getenv("BENCH_SET");
    const char *sets[] = {"server.log_level=warn", extra && *extra ? extra : NULL, NULL};
    char *d1 = ts_xasprintf("%s/hs", dir), *d2 = ts_xasprintf("%s/idle", dir);
    mkdir(d1, 0700);
    mkdir(d2, 0700);

    ts_test_daemon d;
    ts_test_daemon_start(&d, d1, &pki, sets);
    bench_handshakes(&pki, &d);
    if (ts_test_daemon_stop(&d, SIGTERM, 20000) != 0)
        fprintf(stderr, "bench: the daemon did not stop cleanly (log %s)\n", d.log);
    ts_test_daemon_free(&d);

    bench_openssl_speed();

    double started = now_s();
    ts_test_daemon_start(&d, d2, &pki, sets);
    bench_idle(&pki, &d, nidle, started);
    if (ts_test_daemon_stop(&d, SIGTERM, 60000) != 0)
        fprintf(stderr, "bench: the daemon did not stop cleanly (log %s)\n", d.log);
    ts_test_daemon_free(&d);

    ts_test_pki_free(&pki);
    free(d1);
    free(d2);
    ts_tmpdir_remove(dir);
    return 0;
}
