/* Notice fan-out benchmark (`make bench ONLY=notices`): one Hỏa tốc notice
 * to 1,000 connected stations over mutual TLS 1.3 on 127.0.0.1, the release
 * daemon with its default durability (synchronous=full), a fresh PKI in a
 * temporary directory.
 *
 * The stations are raw protocol clients (tests/support/ts_test_client.h),
 * BENCH_THREADS threads of them, each station with its own certificate;
 * every thread polls all of its connections, so a frame is taken as soon as
 * it arrives. The clock starts when the notice is POSTed to the admin API
 * (send to {"all": true}).
 *
 *   notice_fanout_stored_max_ms   until the last station has received and
 *                                 decoded its NOTICE frame (goal <= 1000 ms)
 *   notice_fanout_stored_p50/p99  the same, by station
 *   notice_fanout_acked_p99_ms    until a station has answered NOTICE_ACK,
 *                                 pushed its notice_recipients record moved to
 *                                 "delivered", and the district's PUSH_ACK
 *                                 (after commit) is back; p50 and max too
 *   notice_fanout_post_ms         the POST /api/notices round trip (the
 *                                 district stores the notice and 1,000
 *                                 handling records and frames them)
 *   ping_round_max_ms             baseline of the same run: every station
 *                                 sends PING, until the last PONG is back
 *
 * Environment: TS_BIN_DIR (set by make), BENCH_STATIONS (1000),
 * BENCH_THREADS (4), BENCH_SET (one extra daemon --set, e.g.
 * "server.synchronous=normal"). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/ts_hlc.h"
#include "common/ts_notice.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_client.h"
#include "tests/support/ts_test_daemon.h"
#include "tests/support/ts_test_pki.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static long env_long(const char *name, long def)
{
    const char *s = getenv(name);
    return s && *s ? strtol(s, NULL, 10) : def;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_notices: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---------------------------------------------------------------- stations */

typedef enum st_phase { PH_IDLE, PH_PING, PH_WAIT_NOTICE, PH_WAIT_ACK, PH_DONE } st_phase;

typedef struct bstation {
    char code[16];
    ts_rid rid;
    ts_tc c;
    st_phase phase;
    double stored_ms; /* since the POST started */
    double acked_ms;
    double pong_ms;
    uint64_t batch;
    char error[200];
} bstation;

typedef struct bthread {
    pthread_t thread;
    bstation *st;
    size_t n;
    int port;
    const ts_test_pki *pki;
    int job; /* 1: connect, 2: ping round, 3: notice */
    double t0;
    size_t failed;
} bthread;

static atomic_int g_ready; /* threads that finished their current job */

static void st_fail(bstation *s, const char *what)
{
    if (s->error[0] == '\0')
        snprintf(s->error, sizeof s->error, "%s: %.150s", what, s->c.error);
    s->phase = PH_DONE;
}

static void put_str(ts_version *v, ts_arena *a, const char *name, const char *s, const ts_dot *dot, uint64_t hlc)
{
    ts_buf b = TS_BUF_INIT;
    ts_value_str(&b, s);
    ts_version_put(v, a, name, b.data, b.len, dot, hlc);
    ts_buf_free(&b);
}

/* What a station store writes when it marks the notice delivered: the
 * district's version of the handling record, plus this replica's write of
 * state and delivered_at. */
static void send_delivered(bstation *s, const ts_msg *notice)
{
    const ts_change *h = NULL;
    for (uint32_t i = 0; i < notice->u.notice.changes.n; i++)
        if (strcmp(notice->u.notice.changes.items[i].table, "notice_recipients") == 0)
            h = &notice->u.notice.changes.items[i];
    if (h == NULL) {
        snprintf(s->error, sizeof s->error, "NOTICE without a handling record");
        s->phase = PH_DONE;
        return;
    }
    ts_msg ack;
    ts_msg_init(&ack, TS_MSG_NOTICE_ACK);
    ack.u.notice_ack.seq = notice->u.notice.seq;
    ack.u.notice_ack.id = notice->u.notice.id;
    ts_msg p;
    ts_msg_init(&p, TS_MSG_PUSH);
    p.u.push.batch = ++s->batch;
    ts_change *c = ts_msg_alloc_changes(&p, &p.u.push.changes, 1);
    c->table = ts_msg_strdup(&p, h->table);
    c->id = ts_msg_strdup(&p, h->id);
    c->owner = ts_msg_strdup(&p, h->owner);
    c->lseq = s->batch;
    ts_version_copy(&c->v, &h->v, &p.arena);
    uint64_t counter = ts_vv_get(&c->v.vv, &s->rid) + 1;
    ts_vv_set(&c->v.vv, &s->rid, counter);
    ts_dot dot = {s->rid, counter};
    uint64_t wall = ts_wall_ms();
    char iso[32];
    ts_time_iso(wall, iso, sizeof iso);
    put_str(&c->v, &p.arena, "state", "delivered", &dot, TS_HLC_MAKE(wall, 0));
    put_str(&c->v, &p.arena, "delivered_at", iso, &dot, TS_HLC_MAKE(wall, 0));
    ts_buf b = TS_BUF_INIT;
    ts_msg_encode(&ack, &b);
    ts_msg_encode(&p, &b);
    if (ts_tc_send_raw(&s->c, b.data, b.len) < 0)
        st_fail(s, "send NOTICE_ACK + PUSH");
    else
        s->phase = PH_WAIT_ACK;
    ts_buf_free(&b);
    ts_msg_free(&ack);
    ts_msg_free(&p);
}

/* One frame arrived for station s. */
static void on_frame(bthread *t, bstation *s, ts_msg *m)
{
    double at = now_ms() - t->t0;
    if (m->type == TS_MSG_ERROR) {
        snprintf(s->error, sizeof s->error, "ERROR %s: %.150s", m->u.error.name, m->u.error.message);
        s->phase = PH_DONE;
        return;
    }
    switch (s->phase) {
    case PH_PING:
        if (m->type == TS_MSG_PONG) {
            s->pong_ms = at;
            s->phase = PH_IDLE;
        }
        break;
    case PH_WAIT_NOTICE:
        if (m->type == TS_MSG_NOTICE) {
            s->stored_ms = at;
            if (strcmp(m->u.notice.urgency, "hoa_toc") != 0 || m->u.notice.changes.n != 2) {
                snprintf(s->error, sizeof s->error, "unexpected NOTICE %s (%s)", m->u.notice.id, m->u.notice.urgency);
                s->phase = PH_DONE;
                return;
            }
            send_delivered(s, m);
        }
        break;
    case PH_WAIT_ACK:
        if (m->type == TS_MSG_PUSH_ACK) {
            if (m->u.push_ack.code != 0 || m->u.push_ack.nresults != 1 ||
                m->u.push_ack.results[0].outcome != TS_OUTCOME_APPLIED) {
                snprintf(s->error, sizeof s->error, "PUSH_ACK: code %llu, outcome %s: %.100s",
                         (unsigned long long)m->u.push_ack.code,
                         m->u.push_ack.nresults ? ts_outcome_name(m->u.push_ack.results[0].outcome) : "-",
                         m->u.push_ack.nresults && m->u.push_ack.results[0].reason ? m->u.push_ack.results[0].reason
                         : m->u.push_ack.message                                    ? m->u.push_ack.message
                                                                                    : "");
                s->phase = PH_DONE;
                return;
            }
            s->acked_ms = at;
            s->phase = PH_DONE;
        }
        break;
    default:
        break;
    }
}

/* Polls every connection of the thread until none is in `waiting` phase or
 * the deadline passes. */
static void poll_until(bthread *t, st_phase waiting, st_phase waiting2, double deadline_ms)
{
    struct pollfd *pf = ts_xcalloc(t->n, sizeof *pf);
    size_t *who = ts_xcalloc(t->n, sizeof *who);
    for (;;) {
        size_t np = 0;
        for (size_t i = 0; i < t->n; i++) {
            bstation *s = &t->st[i];
            if (s->phase != waiting && s->phase != waiting2)
                continue;
            /* bytes TLS already holds, or a frame already buffered */
            ts_msg m;
            int rc;
            while ((s->phase == waiting || s->phase == waiting2) && (rc = ts_tc_recv(&s->c, &m, 0)) != 0) {
                if (rc < 0) {
                    st_fail(s, "session ended");
                    break;
                }
                on_frame(t, s, &m);
                ts_msg_free(&m);
            }
            if (s->phase == waiting || s->phase == waiting2) {
                pf[np].fd = s->c.fd;
                pf[np].events = POLLIN;
                pf[np].revents = 0;
                who[np++] = i;
            }
        }
        if (np == 0)
            break;
        double left = deadline_ms - now_ms();
        if (left <= 0) {
            for (size_t k = 0; k < np; k++)
                if (t->st[who[k]].error[0] == '\0')
                    snprintf(t->st[who[k]].error, sizeof t->st[who[k]].error, "timed out (phase %d)",
                             (int)t->st[who[k]].phase);
            break;
        }
        int pr = poll(pf, (nfds_t)np, left > 50 ? 50 : (int)left + 1);
        if (pr < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
    }
    free(pf);
    free(who);
}

static void *thread_main(void *arg)
{
    bthread *t = arg;
    if (t->job == 1) {
        for (size_t i = 0; i < t->n; i++) {
            bstation *s = &t->st[i];
            char *cert = ts_test_pki_cert(t->pki, s->code), *key = ts_test_pki_key(t->pki, s->code);
            ts_tc_opts o = {cert, key, t->pki->ca, 0, 0};
            ts_msg w;
            if (ts_tc_connect(&s->c, t->port, &o) < 0 || ts_tc_hello(&s->c, s->code, s->rid.b, 0, "", 0, &w) < 0) {
                st_fail(s, "connect/HELLO");
                t->failed++;
            } else {
                ts_msg_free(&w);
                /* one context per station is needed only for the handshake */
                SSL_CTX_free(s->c.ctx);
                s->c.ctx = NULL;
                s->phase = PH_IDLE;
            }
            free(cert);
            free(key);
        }
    } else if (t->job == 2) {
        ts_msg m;
        ts_msg_init(&m, TS_MSG_PING);
        m.u.ping.nonce = 7;
        ts_buf b = TS_BUF_INIT;
        ts_msg_encode(&m, &b);
        ts_msg_free(&m);
        for (size_t i = 0; i < t->n; i++) {
            bstation *s = &t->st[i];
            if (s->phase != PH_IDLE)
                continue;
            s->phase = PH_PING;
            if (ts_tc_send_raw(&s->c, b.data, b.len) < 0)
                st_fail(s, "PING");
        }
        ts_buf_free(&b);
        poll_until(t, PH_PING, PH_PING, now_ms() + 30000);
    } else {
        poll_until(t, PH_WAIT_NOTICE, PH_WAIT_ACK, t->t0 + 60000);
    }
    atomic_fetch_add(&g_ready, 1);
    return NULL;
}

static void run_threads(bthread *th, int nthreads, int job, double t0)
{
    atomic_store(&g_ready, 0);
    for (int i = 0; i < nthreads; i++) {
        th[i].job = job;
        th[i].t0 = t0;
        pthread_create(&th[i].thread, NULL, thread_main, &th[i]);
    }
}

static void join_threads(bthread *th, int nthreads)
{
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i].thread, NULL);
}

/* ---------------------------------------------------------------- admin API */

typedef struct http_resp {
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

/* POST with the admin certificate; returns the HTTP status, the body in out. */
static int api_post(const ts_test_pki *pki, int port, const char *path, const char *json, ts_buf *out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {60, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        die("admin API connect: %s", strerror(errno));
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    char *cert = ts_test_pki_cert(pki, "admin"), *key = ts_test_pki_key(pki, "admin");
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_load_verify_locations(ctx, pki->ca, NULL) != 1)
        die("cannot load the admin certificate");
    free(cert);
    free(key);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (SSL_connect(ssl) != 1)
        die("admin API TLS handshake failed");
    ts_buf req = TS_BUF_INIT;
    ts_buf_printf(&req,
                  "POST %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n"
                  "Content-Length: %zu\r\n\r\n%s",
                  path, strlen(json), json);
    SSL_write(ssl, req.data, (int)req.len);
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
    int status = r.done ? (int)parser.status_code : 0;
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    ts_buf_append(&r.body, "", 1);
    *out = r.body;
    return status;
}

/* ---------------------------------------------------------------- figures */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* p in [0, 100] of n sorted values (nearest rank) */
static double pct(const double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t k = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    int nst = (int)env_long("BENCH_STATIONS", 1000);
    int nthreads = (int)env_long("BENCH_THREADS", 4);
    if (nst < 1)
        nst = 1;
    if (nthreads < 1 || nthreads > 64)
        nthreads = 4;
    /* one descriptor per station here, one per station in the daemon (which
     * inherits this limit and raises its own to the hard limit) */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if ((rlim_t)nst + 200 > rl.rlim_cur) {
        int was = nst;
        nst = (int)rl.rlim_cur - 200;
        fprintf(stderr, "bench_notices: descriptor limit %lu: %d stations instead of %d\n", (unsigned long)rl.rlim_cur,
                nst, was);
    }

    char *dir = ts_tmpdir_make("bench-notices");
    ts_test_pki pki;
    double t = now_ms();
    ts_test_pki_make(&pki, dir, NULL, 0);
    bstation *st = ts_xcalloc((size_t)nst, sizeof *st);
    for (int i = 0; i < nst; i++) {
        snprintf(st[i].code, sizeof st[i].code, "st%04d", i);
        char rid[64];
        snprintf(rid, sizeof rid, "%s.%016x", st[i].code, i + 1);
        ts_rid_set_cstr(&st[i].rid, rid);
        ts_test_pki_station(&pki, st[i].code, st[i].code);
    }
    fprintf(stderr, "bench_notices: PKI with %d station certificates in %.1f s\n", nst, (now_ms() - t) / 1e3);

    char maxconn[64];
    snprintf(maxconn, sizeof maxconn, "server.max_connections=%d", nst + 100);
    const char *extra = getenv("BENCH_SET");
    const char *sets[] = {"server.log_level=warn", "admin.targets_every=0", maxconn, "notices.escalate_every=1h",
                          extra && *extra ? extra : NULL, NULL};
    char *ddir = ts_xasprintf("%s/district", dir);
    mkdir(ddir, 0700);
    ts_test_daemon d;
    ts_test_daemon_start(&d, ddir, &pki, sets);

    bthread *th = ts_xcalloc((size_t)nthreads, sizeof *th);
    size_t per = ((size_t)nst + (size_t)nthreads - 1) / (size_t)nthreads;
    for (int i = 0; i < nthreads; i++) {
        size_t from = (size_t)i * per, to = from + per > (size_t)nst ? (size_t)nst : from + per;
        th[i].st = st + from;
        th[i].n = to > from ? to - from : 0;
        th[i].port = d.port;
        th[i].pki = &pki;
    }

    /* every station connects and says HELLO */
    t = now_ms();
    run_threads(th, nthreads, 1, 0);
    join_threads(th, nthreads);
    size_t failed = 0;
    for (int i = 0; i < nthreads; i++)
        failed += th[i].failed;
    if (failed)
        die("%zu stations could not connect (first: %s)", failed, st[0].error[0] ? st[0].error : "see the daemon log");
    fprintf(stderr, "bench_notices: %d stations connected in %.1f s\n", nst, (now_ms() - t) / 1e3);
    ts_test_sleep_ms(500); /* let the daemon finish the HELLO bookkeeping */

    /* baseline: one PING/PONG round from every station */
    double t0 = now_ms();
    run_threads(th, nthreads, 2, t0);
    join_threads(th, nthreads);
    double *v = ts_xcalloc((size_t)nst, sizeof *v);
    size_t nv = 0;
    for (int i = 0; i < nst; i++)
        if (st[i].error[0] == '\0')
            v[nv++] = st[i].pong_ms;
    if (nv < (size_t)nst)
        die("%zu stations got no PONG", (size_t)nst - nv);
    qsort(v, nv, sizeof *v, cmp_double);
    double ping_max = v[nv - 1], ping_p50 = pct(v, nv, 50);

    /* the notice: stations listen first, then the POST starts the clock */
    for (int i = 0; i < nst; i++)
        st[i].phase = PH_WAIT_NOTICE;
    t0 = now_ms();
    run_threads(th, nthreads, 3, t0);
    ts_buf body;
    int status = api_post(&pki, d.admin_port, "/api/notices",
                          "{\"notice\": {\"subject\": \"Công điện hỏa tốc về phòng chống dịch\", \"urgency\": "
                          "\"hoa_toc\", \"category\": \"emergency\", \"doc_type\": \"cong_dien\", \"issuer\": "
                          "\"Trung tâm Y tế khu vực Bình Xuyên\", \"body\": "
                          "\"Triển khai ngay các biện pháp giám sát.\"}, \"recipients\": {\"all\": true}}",
                          &body);
    double post_ms = now_ms() - t0;
    if (status != 201)
        die("POST /api/notices: HTTP %d %s", status, (const char *)body.data);
    json_t *res = json_loads((const char *)body.data, 0, NULL);
    size_t nrecip = json_array_size(json_object_get(res, "recipients"));
    json_decref(res);
    ts_buf_free(&body);
    join_threads(th, nthreads);

    double *stored = ts_xcalloc((size_t)nst, sizeof *stored), *acked = ts_xcalloc((size_t)nst, sizeof *acked);
    size_t ns = 0, na = 0, errors = 0;
    const char *first_error = NULL;
    for (int i = 0; i < nst; i++) {
        if (st[i].stored_ms > 0)
            stored[ns++] = st[i].stored_ms;
        if (st[i].acked_ms > 0)
            acked[na++] = st[i].acked_ms;
        if (st[i].error[0]) {
            errors++;
            if (first_error == NULL)
                first_error = st[i].error;
        }
    }
    qsort(stored, ns, sizeof *stored, cmp_double);
    qsort(acked, na, sizeof *acked, cmp_double);
    if (errors)
        fprintf(stderr, "bench_notices: %zu stations failed, first: %s\n", errors, first_error);
    if (nrecip != (size_t)nst)
        fprintf(stderr, "bench_notices: the notice went to %zu stations, not %d\n", nrecip, nst);

    printf("BENCH notice_fanout_stored_max_ms %.0f ms (goal <= 1000; one Hỏa tốc notice to all %d connected stations, "
           "mutual TLS 1.3 on loopback, %d client threads, %zu of %d received)\n",
           ns ? stored[ns - 1] : -1.0, nst, nthreads, ns, nst);
    printf("BENCH notice_fanout_stored_p50_ms %.0f ms\n", pct(stored, ns, 50));
    printf("BENCH notice_fanout_stored_p99_ms %.0f ms\n", pct(stored, ns, 99));
    printf("BENCH notice_fanout_acked_p99_ms %.0f ms (NOTICE_ACK + PUSH of the record moved to delivered, until the "
           "PUSH_ACK after commit; %zu of %d)\n",
           pct(acked, na, 99), na, nst);
    printf("BENCH notice_fanout_acked_p50_ms %.0f ms\n", pct(acked, na, 50));
    printf("BENCH notice_fanout_acked_max_ms %.0f ms\n", na ? acked[na - 1] : -1.0);
    printf("BENCH notice_fanout_post_ms %.0f ms (POST /api/notices: the notice, %zu handling records and their frames)\n",
           post_ms, nrecip);
    printf("BENCH ping_round_max_ms %.0f ms (baseline, same run: a PING from each of the %d stations until the last "
           "PONG; p50 %.0f ms)\n",
           ping_max, nst, ping_p50);

    for (int i = 0; i < nst; i++)
        ts_tc_close(&st[i].c);
    if (ts_test_daemon_stop(&d, SIGTERM, 60000) != 0)
        fprintf(stderr, "bench_notices: the daemon did not stop cleanly (log %s)\n", d.log);
    ts_test_daemon_free(&d);
    ts_test_pki_free(&pki);
    free(ddir);
    free(stored);
    free(acked);
    free(v);
    free(th);
    free(st);
    ts_tmpdir_remove(dir);
    return errors || ns < (size_t)nst ? 1 : 0;
}
