/* A slow link on loopback for benchmarks and tests (this machine has no
 * netem): a TCP relay between a station and the district that gives each
 * direction a bandwidth (a token bucket, one segment at a time), a one-way
 * delay with jitter, a bounded bottleneck buffer (so TCP's flow control sees
 * the link, as on a real modem, instead of the relay swallowing everything),
 * stalls (nothing crosses for a while), and cuts (both sides reset once a
 * number of bytes has crossed downstream). One thread with poll; every wait is
 * bounded. Bytes are counted as they are delivered, per direction. */
#ifndef TS_TEST_LINK_H
#define TS_TEST_LINK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TS_TEST_LINK_MAX 8

typedef struct ts_test_link_dir {
    uint64_t bps;         /* bits per second; 0: unlimited */
    uint32_t delay_ms;    /* one way */
    uint32_t jitter_ms;   /* each segment is late by up to this much more (order kept) */
    uint32_t buffer;      /* bytes the bottleneck queues before the sender is held back */
} ts_test_link_dir;

typedef struct ts_test_link_profile {
    ts_test_link_dir down; /* district -> station */
    ts_test_link_dir up;   /* station -> district */
    uint32_t stall_every_ms; /* > 0: the link stalls this often ... */
    uint32_t stall_ms;       /* ... for this long, both directions */
    uint32_t seed;           /* jitter's */
} ts_test_link_profile;

/* 2 Mbit/s down, 512 kbit/s up, 150 ms each way: a commune on 3G or shared ADSL. */
void ts_test_link_rural(ts_test_link_profile *p);

typedef struct ts_test_link_queue ts_test_link_queue;

typedef struct ts_test_link {
    int listen_fd;
    int port;        /* where the station connects */
    int target_port; /* the district */
    ts_test_link_profile prof;
    pthread_t thread;
    atomic_bool stop;
    atomic_llong cut_after_down;  /* >= 0: reset both sides once this many more bytes went down */
    atomic_llong cut_after_up;    /* >= 0: the same, upstream */
    atomic_ullong bytes_down;     /* delivered to the station, all connections */
    atomic_ullong bytes_up;       /* delivered to the district */
    atomic_int accepted;
    atomic_int cuts;              /* connections cut so far */
    int n;
    struct ts_test_link_conn {
        int fd[2]; /* station, district */
        ts_test_link_queue *q[2]; /* q[0]: station -> district (up), q[1]: district -> station (down) */
        bool eof[2];
    } c[TS_TEST_LINK_MAX];
} ts_test_link;

/* Listens on 127.0.0.1 (a port of the kernel's choosing), relays to
 * 127.0.0.1:target_port through the profile. */
void ts_test_link_start(ts_test_link *l, int target_port, const ts_test_link_profile *p);
void ts_test_link_stop(ts_test_link *l);
/* Resets both sides of every connection once `bytes` more have been
 * delivered downstream (the point a transfer is cut at). */
void ts_test_link_cut_after(ts_test_link *l, long long bytes);
/* The same, counting the bytes delivered upstream (a push cut). */
void ts_test_link_cut_after_up(ts_test_link *l, long long bytes);

#endif
