/* Internals shared by server/ts_session.c (the protocol state machine, on
 * the loop) and server/ts_session_jobs.c (the store work it hands to the DB
 * queue, on the DB thread). A job carries copies of the session facts it
 * needs, so the worker never reads the session itself. */
#ifndef TS_SESSION_INT_H
#define TS_SESSION_INT_H

#include <stdatomic.h>

#include "server/ts_notices.h"
#include "server/ts_server_int.h"

typedef enum ts__job_kind { JOB_HELLO, JOB_PUSH, JOB_PULL, JOB_LIVE } ts__job_kind;

typedef struct ts__job {
    ts_dbjob base;
    ts_session *s;
    ts__job_kind kind;
    ts_msg req;
    bool *valid;       /* PUSH: each change checked against the schema on the loop (ts_store_precheck) */
    ts_buf out;        /* encoded reply frames */
    ts_buf notices;    /* NOTICE frames to send after WELCOME */
    size_t nnotices;
    int rc;
    ts_error err;
    bool rekey;
    bool cursor_reset;
    bool more;
    bool stream; /* a PULL with stream: the next page follows by itself while more */
    bool follow; /* a page that follows one (a streamed answer): no cursor to record */
    uint32_t window; /* the streamed answer's window (PULL.window), 0: none */
    bool zstd;   /* the session compresses: the answer is compressed where that wins */
    uint64_t since; /* where the page starts (PULL.since, or the live cursor) */
    uint64_t next;
    bool read_again; /* a page read again alone, writing nothing (ts__work_read_again) */
    uint64_t nchanges;
    uint64_t nrejected;
    uint64_t nconflicts;
    bool notify_all;
    char **notify; /* station codes that can see what this job committed */
    bool epidemic; /* it committed cases or station reports */
    ts_strlist periodic; /* the periodic reports it committed (the calendar grades them) */
    size_t nnotify;
    /* copies of session facts, so the worker never reads the session */
    char station[TS_KEY_MAX + 1];
    char peer[64];
    ts_rid replica;
    char commune[128];
    char serial[48];
    int64_t cert_not_after;
    uint64_t connected_ms;
    uint64_t now_ms; /* when the request was taken */
    uint32_t limit;
    atomic_bool cancelled; /* the station's certificate was revoked meanwhile */
} ts__job;

ts__job *ts__job_new(ts_session *s, ts__job_kind kind);
void ts__job_free(ts__job *j);
/* The store work of each kind of job (ts_dbjob_work, on the DB thread). */
void ts__work_hello(ts_dbjob *base, ts_store *st);
void ts__work_push(ts_dbjob *base, ts_store *st);
void ts__work_pull(ts_dbjob *base, ts_store *st);
void ts__work_live(ts_dbjob *base, ts_store *st);
/* A PULL or live page whose group failed (its commit, or the PULL's cursor),
 * read again alone from what is committed, writing nothing. */
void ts__work_read_again(ts_dbjob *base, ts_store *st);
/* The group commit that held j failed: its answer becomes a storage failure. */
void ts__job_not_committed(ts__job *j);
/* A session that reached READY ended: the station's last_seen/last_sync. */
void ts__seen_submit(ts_server *srv, const char *station, uint64_t last_seen, uint64_t last_sync);

#endif
