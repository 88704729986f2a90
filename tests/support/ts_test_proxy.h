/* A TCP proxy on loopback for fault tests: it relays connections to a
 * target port and, on request, misbehaves the way a rural link or a broken
 * middlebox does - stops forwarding both ways without FIN or RST (a black
 * hole), resets or cuts (FIN, no TLS close_notify) the client's side, or cuts
 * after forwarding a number of bytes from the server. One thread; bounded. */
#ifndef TS_TEST_PROXY_H
#define TS_TEST_PROXY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define TS_TEST_PROXY_MAX 32

typedef struct ts_test_proxy {
    int listen_fd;
    int port;        /* where clients connect */
    int target_port; /* where it relays to */
    pthread_t thread;
    atomic_bool stop;
    atomic_bool blackhole;      /* relay nothing, close nothing */
    atomic_int reset_clients;   /* > 0: reset (RST) every client side now */
    atomic_int cut_clients;     /* > 0: close every client side with FIN now */
    atomic_long cut_after;      /* >= 0: after this many more server bytes, FIN the client */
    atomic_int accepted;
    int fds[TS_TEST_PROXY_MAX][2]; /* client, server */
    int n;
} ts_test_proxy;

/* Listens on 127.0.0.1 (a port of the kernel's choosing) and relays to
 * 127.0.0.1:target_port. */
void ts_test_proxy_start(ts_test_proxy *p, int target_port);
void ts_test_proxy_stop(ts_test_proxy *p);

#endif
