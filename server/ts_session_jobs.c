/* The store work of a station's session (docs/PROTOCOL.md, "Session"): what
 * HELLO, PUSH, PULL and a live page do in the database, run by the DB queue
 * off the loop. ts_session.c submits the jobs and sends what they encoded. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_log.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_zframe.h"
#include "server/ts_notices.h"
#include "server/ts_session_int.h"
#include "server/ts_station_status.h"

ts__job *ts__job_new(ts_session *s, ts__job_kind kind)
{
    ts__job *j = ts_xcalloc(1, sizeof *j);
    j->s = s;
    j->kind = kind;
    ts_buf_init(&j->out);
    snprintf(j->station, sizeof j->station, "%s", s->station);
    snprintf(j->peer, sizeof j->peer, "%s", s->conn.peer_addr);
    snprintf(j->commune, sizeof j->commune, "%s", s->commune);
    snprintf(j->serial, sizeof j->serial, "%s", s->serial);
    j->cert_not_after = s->conn.tls.peer.not_after;
    j->connected_ms = s->connected_ms;
    j->replica = s->replica;
    j->now_ms = ts_wall_ms();
    j->zstd = s->zstd;
    ts_buf_init(&j->notices);
    return j;
}

void ts__job_free(ts__job *j)
{
    ts_msg_free(&j->req);
    free(j->valid);
    ts_buf_free(&j->out);
    ts_buf_free(&j->notices);
    for (size_t i = 0; i < j->nnotify; i++)
        free(j->notify[i]);
    free(j->notify);
    ts_strlist_free(&j->periodic);
    free(j);
}

static void ts__notify_add(ts__job *j, const char *station)
{
    for (size_t i = 0; i < j->nnotify; i++)
        if (strcmp(j->notify[i], station) == 0)
            return;
    j->notify = ts_xreallocarray(j->notify, j->nnotify + 1, sizeof *j->notify);
    j->notify[j->nnotify++] = ts_xstrdup(station);
}

/* Who can see what a change set committed: they get it at once if live. */
static void ts__collect_audience(ts__job *j, const ts_registry *reg, const ts_change *changes, size_t n,
                                 const ts_apply_result *res)
{
    for (size_t i = 0; i < n; i++) {
        if (res[i].outcome == TS_OUTCOME_REJECTED || res[i].outcome == TS_OUTCOME_DUPLICATE)
            continue;
        if (strcmp(changes[i].table, "disease_cases") == 0 || strcmp(changes[i].table, "reports") == 0)
            j->epidemic = true;
        if (strcmp(changes[i].table, "periodic_reports") == 0)
            ts_strlist_add(&j->periodic, changes[i].id);
        if (j->notify_all)
            continue;
        const ts_table_def *t = ts_registry_table(reg, changes[i].table);
        if (t == NULL)
            continue;
        ts_audience aud;
        if (ts_table_audience(t, changes[i].owner, &changes[i].v, &aud, NULL) < 0 || aud.all) {
            j->notify_all = true;
            continue;
        }
        for (size_t k = 0; k < aud.n; k++)
            ts__notify_add(j, aud.code[k]);
    }
}

/* Encodes a CHANGES page that fits in a frame, halving the page if not. */
static int ts__encode_changes(ts__job *j, ts_store *st, uint64_t since, bool live, ts_error *err)
{
    ts_server *srv = j->s->srv;
    ts_change_page page;
    ts_change_page_init(&page);
    uint32_t limit = j->limit;
    int rc;
    for (;;) {
        rc = ts_store_changes_since(st, j->station, &j->replica, since, limit, &page, &j->next, &j->more, err);
        if (rc < 0)
            break;
        ts_msg m;
        ts_msg_init(&m, TS_MSG_CHANGES);
        m.proto = (uint8_t)j->s->proto; /* version 2 and 3: compact changes */
        m.u.changes.changes.items = page.items;
        m.u.changes.changes.n = page.n;
        m.u.changes.cursor = j->next;
        m.u.changes.more = j->more;
        m.u.changes.live = live;
        m.u.changes.stream = !live && j->stream && j->more;
        m.u.changes.window = m.u.changes.stream ? j->window : 0;
        ts_buf_reset(&j->out);
        ts_msg_encode(&m, &j->out);
        m.u.changes.changes.n = 0; /* the page owns them */
        ts_msg_free(&m);
        if (j->out.len - 4 <= srv->limits.max_frame || limit == 1)
            break;
        limit /= 2;
    }
    j->nchanges = page.n;
    ts_change_page_free(&page);
    if (rc == 0 && j->zstd)
        ts_zframe_wrap(&j->out); /* here, off the loop */
    return rc;
}

/* A job queued before its station's certificate was revoked does nothing. */
static bool ts__job_cancelled(ts__job *j)
{
    if (!atomic_load(&j->cancelled))
        return false;
    j->rc = ts_error_set(&j->err, TS_EFORBIDDEN, "the station's certificate was revoked");
    return true;
}

void ts__work_hello(ts_dbjob *base, ts_store *st)
{
    ts__job *j = base->data;
    ts_server *srv = j->s->srv;
    const ts_msg_hello *h = &j->req.u.hello;
    if (ts__job_cancelled(j))
        return;
    j->rc = ts_store_check_replica(st, j->station, &j->replica, h->lseq_given ? h->lseq : TS_LSEQ_ABSENT, &j->err);
    if (j->rc == TS_EREKEY_REQUIRED) {
        j->rekey = true;
        j->rc = 0;
    }
    if (j->rc < 0)
        return;
    j->cursor_reset = (h->server_db[0] != '\0' && strcmp(h->server_db, srv->db_id) != 0) ||
                      (h->server_db[0] == '\0' && h->cursor > 0) || h->cursor > ts_store_last_seq(st);
    if (!j->rekey && !j->cursor_reset && h->cursor > 0)
        j->rc = ts_store_station_cursor(st, j->station, h->cursor, &j->err);
    if (j->rc < 0 || j->rekey)
        return;
    ts_station_hello sh = {
        .station = j->station,
        .replica = j->replica.b,
        .agent = h->agent,
        .peer = j->peer,
        .commune = j->commune,
        .cert_serial = j->serial,
        .cert_not_after = j->cert_not_after,
        .connected_at = j->connected_ms,
        .clock_skew_ms = h->time ? (int64_t)h->time - (int64_t)j->now_ms : 0,
    };
    ts_error err;
    /* the console's view and the notices are not worth refusing a session for */
    if (ts_station_status_hello(st, &sh, &err) < 0)
        ts_log_warn("station_status_failed", "station=%s reason=%s", j->station, err.msg);
    if (ts_notice_frames_pending(st, j->station, &j->notices, &j->nnotices, &err) < 0) {
        ts_log_warn("notices_pending_failed", "station=%s reason=%s", j->station, err.msg);
        ts_buf_reset(&j->notices);
        j->nnotices = 0;
    }
}

/* A session's activity: last_seen, and last_sync when it pushed or caught up. */
static void ts__note_seen(ts__job *j, ts_store *st, bool synced)
{
    ts_error err;
    if (ts_station_status_seen(st, j->station, j->now_ms, synced ? ts_wall_ms() : 0, &err) < 0)
        ts_log_warn("station_status_failed", "station=%s reason=%s", j->station, err.msg);
}

void ts__work_push(ts_dbjob *base, ts_store *st)
{
    ts__job *j = base->data;
    ts_server *srv = j->s->srv;
    const ts_msg_push *p = &j->req.u.push;
    if (ts__job_cancelled(j))
        return;
    size_t n = p->changes.n;
    ts_apply_result *res = ts_xcalloc(n ? n : 1, sizeof *res);
    ts_actor actor = {TS_ACTOR_STATION, j->station, &j->replica, j->peer};
    int rc = ts_store_apply_checked(st, &actor, p->changes.items, n, j->valid, res, &j->err);

    ts_msg ack;
    ts_msg_init(&ack, TS_MSG_PUSH_ACK);
    ack.u.push_ack.batch = p->batch;
    if (rc < 0) {
        j->rc = rc;
        ack.u.push_ack.code = (uint64_t)-rc;
        ack.u.push_ack.message = j->err.msg;
        if (rc == TS_EREKEY_REQUIRED)
            j->rekey = true;
    } else {
        ack.u.push_ack.nresults = (uint32_t)n;
        ack.u.push_ack.results = ts_arena_calloc(&ack.arena, n ? n : 1, sizeof *ack.u.push_ack.results);
        for (size_t i = 0; i < n; i++) {
            ts_push_result *r = &ack.u.push_ack.results[i];
            r->outcome = res[i].outcome;
            r->seq = res[i].seq;
            if (res[i].outcome == TS_OUTCOME_REJECTED) {
                r->code = (uint64_t)-res[i].code;
                r->reason = ts_msg_strdup(&ack, res[i].reason);
                j->nrejected++;
            }
            j->nconflicts += res[i].conflicts;
        }
        j->nchanges = n;
        ts__collect_audience(j, &srv->reg, p->changes.items, n, res);
    }
    ts__note_seen(j, st, rc >= 0);
    ts_msg_encode(&ack, &j->out);
    if (j->zstd)
        ts_zframe_wrap(&j->out);
    ts_msg_free(&ack);
    free(res);
}

void ts__work_pull(ts_dbjob *base, ts_store *st)
{
    ts__job *j = base->data;
    const ts_msg_pull *p = &j->req.u.pull;
    j->since = p->since;
    /* asking from `since` means everything up to it is stored at the station;
     * a page that follows another of a streamed answer was not asked for,
     * and the station may not have stored the one before it yet */
    j->rc = j->follow ? 0 : ts_store_station_cursor(st, j->station, p->since, &j->err);
    if (j->rc == 0)
        j->rc = ts__encode_changes(j, st, p->since, false, &j->err);
    if (j->rc == 0)
        ts__note_seen(j, st, !j->more);
}

void ts__work_live(ts_dbjob *base, ts_store *st)
{
    ts__job *j = base->data;
    j->since = j->next;
    j->rc = ts__encode_changes(j, st, j->since, true, &j->err);
}

/* The station's cursor is only the district's note of how far the station
 * has stored (tombstones wait for it); a page read from what is committed
 * is right without it. A page read in a group whose commit failed is not:
 * it may hold versions the group wrote and that are gone. */
void ts__work_read_again(ts_dbjob *base, ts_store *st)
{
    ts__job *j = base->data;
    if (ts__job_cancelled(j))
        return;
    j->rc = ts__encode_changes(j, st, j->since, j->kind == JOB_LIVE, &j->err);
}

/* The group commit that held this job failed: whatever it did is undone, so
 * it answers as a storage failure (a push is refused whole, the station
 * keeps its changes and sends them again). */
void ts__job_not_committed(ts__job *j)
{
    j->rc = TS_ESTORAGE;
    snprintf(j->err.msg, sizeof j->err.msg, "the district could not store this (its disk?)");
    if (j->kind == JOB_PUSH) {
        ts_msg ack;
        ts_msg_init(&ack, TS_MSG_PUSH_ACK);
        ack.u.push_ack.batch = j->req.u.push.batch;
        ack.u.push_ack.code = (uint64_t)-TS_ESTORAGE;
        ack.u.push_ack.message = j->err.msg;
        ts_buf_reset(&j->out);
        ts_msg_encode(&ack, &j->out);
        ts_msg_free(&ack);
        j->nchanges = j->nrejected = j->nconflicts = 0;
        j->notify_all = false;
        j->rekey = false;
        ts_strlist_free(&j->periodic);
    }
    for (size_t i = 0; i < j->nnotify; i++)
        free(j->notify[i]);
    j->nnotify = 0;
    ts_buf_reset(&j->notices);
    j->nnotices = 0;
}

/* When a session ends, the station was last seen now: a job of its own,
 * since the session is going away. */
typedef struct ts__seen_job {
    ts_dbjob base;
    ts_server *srv;
    char station[TS_KEY_MAX + 1];
    uint64_t last_seen;
    uint64_t last_sync;
} ts__seen_job;

static void ts__seen_work(ts_dbjob *base, ts_store *st)
{
    ts__seen_job *j = base->data;
    ts_error err;
    if (ts_station_status_seen(st, j->station, j->last_seen, j->last_sync, &err) < 0)
        ts_log_warn("station_status_failed", "station=%s reason=%s", j->station, err.msg);
}

static void ts__seen_done(ts_dbjob *base)
{
    ts__seen_job *j = base->data;
    ts_server *srv = j->srv;
    free(j);
    ts_server_maybe_finish(srv);
}

void ts__seen_submit(ts_server *srv, const char *station, uint64_t last_seen, uint64_t last_sync)
{
    ts__seen_job *j = ts_xcalloc(1, sizeof *j);
    j->srv = srv;
    snprintf(j->station, sizeof j->station, "%s", station);
    j->last_seen = last_seen;
    j->last_sync = last_sync;
    ts_dbq_submit_grouped(&srv->dbq, &j->base, ts__seen_work, ts__seen_done, j);
}
