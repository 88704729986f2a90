#include "tests/support/ts_test_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/ts_test.h"

static int connect_target(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

static void drop(ts_test_proxy *p, int i, bool reset_client)
{
    if (reset_client) {
        struct linger l = {1, 0}; /* close sends RST */
        setsockopt(p->fds[i][0], SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(p->fds[i][0]);
    close(p->fds[i][1]);
    p->n--;
    p->fds[i][0] = p->fds[p->n][0];
    p->fds[i][1] = p->fds[p->n][1];
}

/* Relays what one side has; false when that side is finished. */
static bool relay(ts_test_proxy *p, int from, int to, bool from_server)
{
    char buf[16384];
    ssize_t n = recv(from, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return false;
    if (n < 0)
        return true;
    long budget = atomic_load(&p->cut_after);
    bool cut = false;
    if (from_server && budget >= 0) {
        if (n >= budget) {
            n = budget;
            cut = true;
        }
        atomic_store(&p->cut_after, cut ? -1 : budget - n);
    }
    for (ssize_t off = 0; off < n;) {
        ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        off += w;
    }
    return !cut;
}

static void *proxy_main(void *arg)
{
    ts_test_proxy *p = arg;
    while (!atomic_load(&p->stop)) {
        if (atomic_load(&p->reset_clients) > 0 || atomic_load(&p->cut_clients) > 0) {
            bool reset = atomic_load(&p->reset_clients) > 0;
            while (p->n > 0)
                drop(p, 0, reset);
            atomic_store(&p->reset_clients, 0);
            atomic_store(&p->cut_clients, 0);
        }
        struct pollfd pf[1 + 2 * TS_TEST_PROXY_MAX];
        int np = 0;
        pf[np++] = (struct pollfd){p->listen_fd, POLLIN, 0};
        bool hole = atomic_load(&p->blackhole);
        for (int i = 0; i < p->n && !hole; i++) {
            pf[np++] = (struct pollfd){p->fds[i][0], POLLIN, 0};
            pf[np++] = (struct pollfd){p->fds[i][1], POLLIN, 0};
        }
        if (poll(pf, (nfds_t)np, 50) <= 0)
            continue;
        if (pf[0].revents & POLLIN) {
            int c = accept(p->listen_fd, NULL, NULL);
            int s = c >= 0 ? connect_target(p->target_port) : -1;
            if (c >= 0 && s >= 0 && p->n < TS_TEST_PROXY_MAX) {
                int one = 1;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                p->fds[p->n][0] = c;
                p->fds[p->n][1] = s;
                p->n++;
                atomic_fetch_add(&p->accepted, 1);
            } else {
                if (c >= 0)
                    close(c);
                if (s >= 0)
                    close(s);
            }
        }
        /* the connections polled (one accepted just now has no entry yet);
         * backwards, since a drop moves the last one into its place */
        for (int i = (np - 1) / 2 - 1; i >= 0 && !hole; i--) {
            int k = 1 + 2 * i;
            bool ok = true;
            if (pf[k].revents)
                ok = relay(p, p->fds[i][0], p->fds[i][1], false);
            if (ok && pf[k + 1].revents)
                ok = relay(p, p->fds[i][1], p->fds[i][0], true);
            if (!ok)
                drop(p, i, false);
        }
    }
    while (p->n > 0)
        drop(p, 0, false);
    return NULL;
}

void ts_test_proxy_start(ts_test_proxy *p, int target_port)
{
    memset(p, 0, sizeof *p);
    p->target_port = target_port;
    atomic_init(&p->stop, false);
    atomic_init(&p->blackhole, false);
    atomic_init(&p->reset_clients, 0);
    atomic_init(&p->cut_clients, 0);
    atomic_init(&p->cut_after, -1);
    atomic_init(&p->accepted, 0);
    p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(p->listen_fd, 16) != 0 ||
        getsockname(p->listen_fd, (struct sockaddr *)&a, &len) != 0)
        fail_msg("proxy: cannot listen: %s", strerror(errno));
    p->port = ntohs(a.sin_port);
    if (pthread_create(&p->thread, NULL, proxy_main, p) != 0)
        fail_msg("proxy: no thread");
}

void ts_test_proxy_stop(ts_test_proxy *p)
{
    if (p->listen_fd <= 0)
        return;
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    close(p->listen_fd);
    p->listen_fd = 0;
}
