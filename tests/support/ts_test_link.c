#include "tests/support/ts_test_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"

/* One read from a side is one segment: the unit the bucket serialises and
 * the delay line carries (an Ethernet payload, so a segment's time on a
 * 512 kbit/s link is ~23 ms, not a 64 KiB loopback read's second). */
#define SEG 1448

typedef struct seg {
    struct seg *next;
    uint64_t deliver_us;
    size_t len, off;
    unsigned char data[SEG];
} seg;

struct ts_test_link_queue {
    seg *head, *tail;
    uint64_t free_at_us;      /* when the serialiser has sent everything queued */
    uint64_t last_deliver_us; /* segments leave in order, jitter or not */
};

void ts_test_link_rural(ts_test_link_profile *p)
{
    memset(p, 0, sizeof *p);
    p->down = (ts_test_link_dir){2000000, 150, 0, 64 * 1024};
    p->up = (ts_test_link_dir){512000, 150, 0, 32 * 1024};
    p->seed = 1;
}

static uint64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* Small socket buffers on the relay's sides: the kernel on loopback would
 * otherwise hold megabytes a real path never does, and a sender would look
 * pipelined when it is not. */
#define SOCKBUF (64 * 1024)

static void small_buffers(int fd)
{
    int sz = SOCKBUF;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
}

static int connect_target(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0)
        small_buffers(fd);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void queue_free(ts_test_link_queue *q)
{
    while (q->head) {
        seg *s = q->head;
        q->head = s->next;
        free(s);
    }
    free(q);
}

static void drop(ts_test_link *l, int i, bool reset)
{
    struct ts_test_link_conn *c = &l->c[i];
    for (int k = 0; k < 2; k++) {
        if (reset) {
            struct linger lg = {1, 0}; /* close sends RST: the cut is noticed at once */
            setsockopt(c->fd[k], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(c->fd[k]);
        queue_free(c->q[k]);
    }
    l->n--;
    l->c[i] = l->c[l->n];
}

/* Bytes the bottleneck can still take from side k of connection c now. */
static size_t room(const ts_test_link *l, const struct ts_test_link_conn *c, int k, uint64_t now)
{
    const ts_test_link_dir *d = k == 0 ? &l->prof.up : &l->prof.down;
    if (d->bps == 0)
        return c->q[k]->head ? 0 : SEG; /* unlimited: one segment at a time is enough */
    uint64_t backlog_us = c->q[k]->free_at_us > now ? c->q[k]->free_at_us - now : 0;
    uint64_t queued = backlog_us * d->bps / 8000000u;
    return queued >= d->buffer ? 0 : d->buffer - (size_t)queued;
}

/* When a segment may start on the wire: not during a stall. */
static uint64_t after_stall(const ts_test_link *l, uint64_t t, uint64_t epoch)
{
    if (l->prof.stall_every_ms == 0 || l->prof.stall_ms == 0)
        return t;
    uint64_t every = (uint64_t)l->prof.stall_every_ms * 1000u, len = (uint64_t)l->prof.stall_ms * 1000u;
    uint64_t rel = t - epoch, in = rel % every;
    return in < len ? t + (len - in) : t;
}

/* Reads one segment from side k into its delay line; false when that side is finished. */
static bool take(ts_test_link *l, struct ts_test_link_conn *c, int k, uint64_t now, uint64_t epoch,
                 unsigned int *rnd)
{
    size_t want = room(l, c, k, now);
    if (want == 0)
        return true;
    seg *s = ts_xmalloc(sizeof *s);
    ssize_t n = recv(c->fd[k], s->data, want < SEG ? want : SEG, MSG_DONTWAIT);
    if (n <= 0) {
        free(s);
        if (n == 0) {
            c->eof[k] = true;
            return true;
        }
        return errno == EAGAIN || errno == EINTR;
    }
    const ts_test_link_dir *d = k == 0 ? &l->prof.up : &l->prof.down;
    ts_test_link_queue *q = c->q[k];
    uint64_t start = after_stall(l, q->free_at_us > now ? q->free_at_us : now, epoch);
    uint64_t ser = d->bps ? (uint64_t)n * 8000000u / d->bps : 0;
    q->free_at_us = start + ser;
    uint64_t jitter = d->jitter_ms ? (uint64_t)(rand_r(rnd) % (d->jitter_ms * 1000u + 1)) : 0;
    uint64_t at = q->free_at_us + (uint64_t)d->delay_ms * 1000u + jitter;
    s->deliver_us = at > q->last_deliver_us ? at : q->last_deliver_us;
    q->last_deliver_us = s->deliver_us;
    s->len = (size_t)n;
    s->off = 0;
    s->next = NULL;
    if (q->tail)
        q->tail->next = s;
    else
        q->head = s;
    q->tail = s;
    return true;
}

/* Delivers what is due from side k's line to the other side; false when the
 * connection is gone, *cut when the cut point was reached. */
static bool deliver(ts_test_link *l, struct ts_test_link_conn *c, int k, uint64_t now, bool *cut)
{
    ts_test_link_queue *q = c->q[k];
    while (q->head && q->head->deliver_us <= now) {
        seg *s = q->head;
        size_t len = s->len - s->off;
        atomic_llong *cut_after = k == 1 ? &l->cut_after_down : &l->cut_after_up;
        long long budget = atomic_load(cut_after);
        if (budget >= 0 && (long long)len >= budget) {
            len = (size_t)budget;
            *cut = true;
        }
        ssize_t w = len ? send(c->fd[1 - k], s->data + s->off, len, MSG_NOSIGNAL | MSG_DONTWAIT) : 0;
        if (w < 0)
            return errno == EAGAIN || errno == EINTR;
        atomic_fetch_add(k == 1 ? &l->bytes_down : &l->bytes_up, (unsigned long long)w);
        if (atomic_load(cut_after) >= 0)
            atomic_fetch_sub(cut_after, (long long)w);
        if (*cut)
            return true;
        s->off += (size_t)w;
        if (s->off < s->len)
            return true; /* the receiver is full: later */
        q->head = s->next;
        if (q->head == NULL)
            q->tail = NULL;
        free(s);
    }
    if (q->head == NULL && c->eof[k]) {
        shutdown(c->fd[1 - k], SHUT_WR);
        return !c->eof[1 - k];
    }
    return true;
}

static void *link_main(void *arg)
{
    ts_test_link *l = arg;
    unsigned int rnd = l->prof.seed;
    uint64_t epoch = now_us();
    while (!atomic_load(&l->stop)) {
        uint64_t now = now_us();
        struct pollfd pf[1 + 2 * TS_TEST_LINK_MAX];
        int np = 0;
        pf[np++] = (struct pollfd){l->listen_fd, POLLIN, 0};
        uint64_t next = now + 20000; /* at most 20 ms asleep: stop is seen */
        for (int i = 0; i < l->n; i++) {
            for (int k = 0; k < 2; k++) {
                struct ts_test_link_conn *c = &l->c[i];
                bool want = !c->eof[k] && room(l, c, k, now) > 0;
                pf[np++] = (struct pollfd){want ? c->fd[k] : -1, POLLIN, 0};
                if (c->q[k]->head && c->q[k]->head->deliver_us < next)
                    next = c->q[k]->head->deliver_us;
                if (!want && !c->eof[k] && now + 2000 < next)
                    next = now + 2000; /* the bucket refills */
            }
        }
        int timeout = next > now ? (int)((next - now + 999) / 1000) : 0;
        poll(pf, (nfds_t)np, timeout);
        now = now_us();
        if (pf[0].revents & POLLIN) {
            int s = accept(l->listen_fd, NULL, NULL);
            int d = s >= 0 ? connect_target(l->target_port) : -1;
            if (s >= 0 && d >= 0 && l->n < TS_TEST_LINK_MAX) {
                int one = 1;
                setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                struct ts_test_link_conn *c = &l->c[l->n++];
                memset(c, 0, sizeof *c);
                c->fd[0] = s;
                c->fd[1] = d;
                c->q[0] = ts_xcalloc(1, sizeof *c->q[0]);
                c->q[1] = ts_xcalloc(1, sizeof *c->q[1]);
                atomic_fetch_add(&l->accepted, 1);
            } else {
                if (s >= 0)
                    close(s);
                if (d >= 0)
                    close(d);
            }
        }
        /* backwards: a drop moves the last connection into its place; the
         * one accepted just now has no poll entry yet */
        for (int i = (np - 1) / 2 - 1; i >= 0; i--) {
            struct ts_test_link_conn *c = &l->c[i];
            bool ok = true, cut = false;
            for (int k = 0; k < 2 && ok; k++)
                if (pf[1 + 2 * i + k].revents)
                    ok = take(l, c, k, now, epoch, &rnd);
            for (int k = 0; k < 2 && ok && !cut; k++)
                ok = deliver(l, c, k, now, &cut);
            if (cut) {
                atomic_store(&l->cut_after_down, -1);
                atomic_store(&l->cut_after_up, -1);
                atomic_fetch_add(&l->cuts, 1);
                while (l->n > 0)
                    drop(l, 0, true);
                break;
            }
            if (!ok)
                drop(l, i, false);
        }
    }
    while (l->n > 0)
        drop(l, 0, false);
    return NULL;
}

void ts_test_link_start(ts_test_link *l, int target_port, const ts_test_link_profile *p)
{
    memset(l, 0, sizeof *l);
    l->target_port = target_port;
    l->prof = *p;
    atomic_init(&l->stop, false);
    atomic_init(&l->cut_after_down, -1);
    atomic_init(&l->cut_after_up, -1);
    atomic_init(&l->bytes_down, 0);
    atomic_init(&l->bytes_up, 0);
    atomic_init(&l->accepted, 0);
    atomic_init(&l->cuts, 0);
    l->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (l->listen_fd >= 0)
        small_buffers(l->listen_fd); /* inherited by what it accepts */
    if (l->listen_fd < 0 || bind(l->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(l->listen_fd, 16) != 0 ||
        getsockname(l->listen_fd, (struct sockaddr *)&a, &len) != 0)
        fail_msg("link: cannot listen: %s", strerror(errno));
    l->port = ntohs(a.sin_port);
    if (pthread_create(&l->thread, NULL, link_main, l) != 0)
        fail_msg("link: no thread");
}

void ts_test_link_stop(ts_test_link *l)
{
    if (l->listen_fd <= 0)
        return;
    atomic_store(&l->stop, true);
    pthread_join(l->thread, NULL);
    close(l->listen_fd);
    l->listen_fd = 0;
}

void ts_test_link_cut_after(ts_test_link *l, long long bytes)
{
    atomic_store(&l->cut_after_down, bytes);
}

void ts_test_link_cut_after_up(ts_test_link *l, long long bytes)
{
    atomic_store(&l->cut_after_up, bytes);
}
