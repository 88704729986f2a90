/* One station's session: the protocol state machine of docs/PROTOCOL.md
 * ("Session"), with the store work handed to the DB queue (that work is in
 * ts_session_jobs.c). While a job runs for a session its reading pauses, so
 * its messages are handled in order and a station can never have more than
 * one job queued. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_log.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_zframe.h"
#include "server/ts_admin.h"
#include "server/ts_server_int.h"
#include "server/ts_session_int.h"

static void ts__process(ts_session *s, const uint8_t *data, size_t len);
static void ts__start_live(ts_session *s);
static void ts__start_pull_page(ts_session *s);
static void ts__replace_others(ts_session *s);

/* Set while a session's frames or a job's results are being handled (the
 * loop is one thread: a plain counter), so that ts__on_drain never starts
 * processing held-back frames in the middle of that. */
static int ts__processing;

/* ---------------------------------------------------------------- lifetime */

void ts_session_unref(ts_session *s)
{
    if (--s->refs > 0)
        return;
    ts_frame_decoder_free(&s->dec);
    ts_buf_free(&s->stash);
    ts_server_session_gone(s->srv, s);
    free(s);
}

static void ts__rate_timer_closed(uv_handle_t *h)
{
    ts_session_unref(h->data);
}

static const char *ts__name(const ts_session *s)
{
    return s->station[0] ? s->station : "-";
}

/* Reading stops while a job runs, the rate limit holds, or a frame waits
 * for the frame budget. */
static void ts__update_pause(ts_session *s)
{
    ts_conn_pause(&s->conn, s->busy || s->rate_paused || s->budget_waiting);
}

/* ---------------------------------------------------------------- sending */

static void ts__send(ts_session *s, ts_msg *msg)
{
    ts_buf b = TS_BUF_INIT;
    ts_msg_encode(msg, &b);
    if (s->zstd)
        ts_zframe_wrap(&b);
    if (ts_conn_write(&s->conn, b.data, b.len) == 0)
        s->srv->stats.frames_out++;
    ts_buf_free(&b);
}

static void ts__send_error(ts_session *s, int code, bool fatal, uint64_t batch, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void ts__send_error(ts_session *s, int code, bool fatal, uint64_t batch, const char *fmt, ...)
{
    char text[TS_PROTO_MAX_MESSAGE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    ts_log_warn("protocol_error", "station=%s peer=%s code=%s fatal=%s reason=%s", ts__name(s), s->conn.peer_addr,
                ts_err_name(code), fatal ? "true" : "false", text);
    s->srv->stats.protocol_errors++;
    ts_msg m;
    ts_msg_init(&m, TS_MSG_ERROR);
    m.u.error.code = (uint64_t)-code;
    m.u.error.name = ts_err_name(code);
    m.u.error.message = text;
    m.u.error.fatal = fatal;
    m.u.error.batch = batch;
    ts__send(s, &m);
    ts_msg_free(&m);
    if (fatal) {
        s->state = TS_SESS_CLOSING;
        ts_conn_close(&s->conn, code, true);
    }
}

static void ts__send_bye(ts_session *s, const char *reason)
{
    if (s->bye_sent || !s->conn.open)
        return;
    ts_msg m;
    ts_msg_init(&m, TS_MSG_BYE);
    m.u.bye.reason = reason;
    ts__send(s, &m);
    ts_msg_free(&m);
    s->bye_sent = true;
}

/* ---------------------------------------------------------------- jobs */

static void ts__job_done(ts_dbjob *base);

static void ts__job_submit(ts_session *s, ts__job *j, ts_dbjob_work work)
{
    s->busy = true;
    s->job = j;
    s->refs++;
    ts__update_pause(s);
    ts_dbq_submit_grouped(&s->srv->dbq, &j->base, work, ts__job_done, j);
}

static void ts__welcome(ts_session *s, ts__job *j)
{
    ts_server *srv = s->srv;
    ts_msg m;
    ts_msg_init(&m, TS_MSG_WELCOME);
    ts_msg_welcome *w = &m.u.welcome;
    w->proto = s->proto;
    w->server = srv->replica.b;
    w->server_db = srv->db_id;
    w->station = s->station;
    w->commune = s->commune;
    w->time = ts_wall_ms();
    w->rekey = j->rekey;
    w->cursor_reset = j->cursor_reset;
    w->max_frame = srv->limits.max_frame;
    w->max_changes = srv->limits.max_changes;
    w->heartbeat = srv->cfg.heartbeat_ms / 1000;
    w->max_clock_ahead = srv->cfg.max_clock_ahead_ms;
    w->compress = s->zstd_offered && !j->rekey ? TS_ZFRAME_NAME : NULL;
    /* the station's days are the district's (a name too long for the wire,
     * which no tz database has, is not said) */
    w->timezone = strlen(srv->cfg.timezone) <= TS_PROTO_MAX_NAME ? srv->cfg.timezone : NULL;
    ts__send(s, &m);
    ts_msg_free(&m);
    /* from the frame after WELCOME on, both ways */
    s->zstd = w->compress != NULL;
}

static void ts__job_done(ts_dbjob *base)
{
    ts__job *j = base->data;
    ts_session *s = j->s;
    ts_server *srv = s->srv;
    s->busy = false;
    s->job = NULL;
    bool open = s->state != TS_SESS_CLOSING && s->conn.open && !s->conn.closing;
    if ((j->kind == JOB_PULL || j->kind == JOB_LIVE) && !j->read_again && open &&
        (base->commit_rc < 0 || j->rc < 0) && !atomic_load(&j->cancelled)) {
        /* a full disk (or another failure to write): the page is served
         * anyway, read again alone from what is committed, and the cursor
         * is not recorded (docs/PROTOCOL.md, "Pulling") */
        ts_log_warn("pull_read_again", "station=%s since=%" PRIu64 " reason=%s", s->station, j->since,
                    base->commit_rc < 0 ? "the group commit failed" : j->err.msg);
        j->read_again = true;
        j->rc = 0;
        ts_buf_reset(&j->out);
        s->busy = true;
        s->job = j; /* keeps the session's reference */
        ts_dbq_submit(&srv->dbq, &j->base, ts__work_read_again, ts__job_done, j);
        return;
    }
    if (base->commit_rc < 0 && j->rc >= 0)
        ts__job_not_committed(j);
    ts__processing++; /* what the job wrote must not start the next request early (ts__on_drain) */

    if (j->rc == TS_EMISSING_KEY && j->kind == JOB_HELLO) {
        /* the station's mistake, not the district's: it is told which */
        if (open)
            ts__send_error(s, TS_EMISSING_KEY, true, 0, "%s", j->err.msg);
        open = false;
    } else if (j->rc < 0 && j->kind != JOB_PUSH) {
        if (open)
            ts__send_error(s, TS_EINTERNAL, true, 0, "the district could not serve this request");
        ts_log_error("job_failed", "station=%s kind=%d reason=%s", s->station, j->kind, j->err.msg);
        open = false;
    }

    switch (j->kind) {
    case JOB_HELLO:
        if (!open)
            break;
        ts__welcome(s, j);
        if (j->rekey) {
            ts_log_warn("session_rekey", "station=%s replica=%s", s->station, s->replica.b);
            ts__send_bye(s, "rekey required: this database was restored from an old copy");
            s->state = TS_SESS_CLOSING;
            ts_conn_close(&s->conn, TS_EREKEY_REQUIRED, true);
            break;
        }
        /* accepted: the station's other READY session, if any, is a dead
         * link (also one that became READY while this HELLO was in the
         * store: two HELLOs at once) */
        ts__replace_others(s);
        s->state = TS_SESS_READY;
        s->hello_done = true;
        /* the station resumes its next connection with this (one use) */
        if (j->req.u.hello.ticket)
            s->ticket_issued = ts_conn_issue_ticket(&s->conn);
        ts_frame_decoder_set_max(&s->dec, srv->limits.max_frame);
        s->last_sync_ms = 0;
        snprintf(s->agent, sizeof s->agent, "%s", j->req.u.hello.agent);
        ts_log_info("session_open", "station=%s replica=%s peer=%s proto=%" PRIu64 " compress=%s agent=%s cursor=%" PRIu64
                    " cursor_reset=%s notices=%zu resumed=%s ticket=%s",
                    s->station, s->replica.b, s->conn.peer_addr, s->proto, s->zstd ? TS_ZFRAME_NAME : "none",
                    j->req.u.hello.agent,
                    j->req.u.hello.cursor, j->cursor_reset ? "true" : "false", j->nnotices,
                    s->conn.tls.resumed ? "true" : "false", s->ticket_issued ? "true" : "false");
        /* notices not yet delivered, most urgent first, before any CHANGES */
        if (j->nnotices > 0 && ts_conn_write(&s->conn, j->notices.data, j->notices.len) == 0) {
            srv->stats.frames_out += j->nnotices;
            srv->stats.notices_sent += j->nnotices;
        }
        break;
    case JOB_PUSH:
        srv->stats.changes_in += j->nchanges;
        srv->stats.changes_rejected += j->nrejected;
        srv->stats.conflicts += j->nconflicts;
        if (j->rc >= 0)
            s->last_sync_ms = ts_wall_ms();
        if (open && j->out.len) {
            ts_conn_write(&s->conn, j->out.data, j->out.len);
            srv->stats.frames_out++;
        }
        if (j->rc < 0) {
            ts_log_warn("push_refused", "station=%s batch=%" PRIu64 " code=%s reason=%s", s->station,
                        j->req.u.push.batch, ts_err_name(j->rc), j->err.msg);
        } else {
            ts_log_debug("push_applied", "station=%s batch=%" PRIu64 " changes=%" PRIu64 " rejected=%" PRIu64
                         " conflicts=%" PRIu64 " db_us=%" PRIu64 " group=%u",
                         s->station, j->req.u.push.batch, j->nchanges, j->nrejected, j->nconflicts, j->base.ran_us,
                         j->base.group_n);
        }
        if (j->rekey && open) {
            ts__send_bye(s, "rekey required: this database was restored from an old copy");
            s->state = TS_SESS_CLOSING;
            ts_conn_close(&s->conn, TS_EREKEY_REQUIRED, true);
        }
        if (j->epidemic && j->rc >= 0)
            ts_admin_store_changed(srv->admin); /* a case or report: the district looks at once */
        if (j->periodic.n > 0 && j->rc >= 0)
            ts_admin_reports_changed(srv->admin, &j->periodic); /* graded, and the grade sent back, at once */
        if (j->notify_all)
            ts_server_notify(srv, NULL);
        for (size_t i = 0; i < j->nnotify && !j->notify_all; i++)
            ts_server_notify(srv, j->notify[i]);
        break;
    case JOB_PULL:
    case JOB_LIVE:
        if (!open)
            break;
        ts_conn_write(&s->conn, j->out.data, j->out.len);
        srv->stats.frames_out++;
        srv->stats.changes_out += j->nchanges;
        if (j->kind == JOB_PULL && !j->more)
            s->last_sync_ms = ts_wall_ms();
        if (j->kind == JOB_PULL && j->stream && j->more) {
            /* the page said "stream": the next one goes as soon as the
             * connection takes it and the window allows (ts__start_pull_page) */
            if (s->stream_window)
                s->stream_unacked++;
            s->pull_again = true;
            s->pull_next = j->next;
            s->pull_limit = j->limit;
        }
        if (j->kind == JOB_PULL && !j->more && s->live_wanted && !s->live) {
            s->live = true;
            s->sent_cursor = j->next;
            ts_log_debug("session_live", "station=%s cursor=%" PRIu64, s->station, j->next);
        } else if (j->kind == JOB_LIVE) {
            s->sent_cursor = j->next;
            if (j->more)
                s->live_again = true;
        }
        break;
    }

    ts__job_free(j);
    ts__processing--;
    if (s->state != TS_SESS_CLOSING && srv->draining) {
        ts_session_shutdown(s);
    } else if (s->state != TS_SESS_CLOSING) {
        ts__update_pause(s);
        if (s->stash.len && !s->rate_paused && !s->budget_waiting) {
            size_t len;
            uint8_t *bytes = ts_buf_steal(&s->stash, &len);
            ts__process(s, bytes, len);
            free(bytes);
        }
        if (!s->busy && s->pull_again)
            ts__start_pull_page(s);
        if (!s->busy && s->live_again)
            ts__start_live(s);
    }
    ts_session_unref(s);
    ts_server_maybe_finish(srv);
}

static void ts__start_live(ts_session *s)
{
    if (s->busy || s->state != TS_SESS_READY || ts_conn_congested(&s->conn)) {
        s->live_again = true;
        return;
    }
    s->live_again = false;
    ts__job *j = ts__job_new(s, JOB_LIVE);
    j->next = s->sent_cursor;
    j->limit = (uint32_t)s->srv->cfg.pull_page;
    ts__job_submit(s, j, ts__work_live);
}

/* The next page of a streamed PULL answer. Bounded like a live page: one
 * page read at a time, and none while the answers queued for the station
 * are above the high-water mark (ts__on_drain starts it again); the rest is
 * TCP's flow control. With a window (PULL.window), none either while that
 * many streamed pages wait for the station's credit (ts__on_pull starts it
 * again): a NOTICE written meanwhile has at most the window's pages ahead
 * of it. The station's own frames (a PUSH, a credit) are taken between two
 * pages. */
static void ts__start_pull_page(ts_session *s)
{
    if (s->busy || s->state != TS_SESS_READY || ts_conn_congested(&s->conn))
        return; /* pull_again stays set */
    if (s->stream_window && s->stream_unacked >= s->stream_window)
        return; /* pull_again stays set until a credit */
    s->pull_again = false;
    ts__job *j = ts__job_new(s, JOB_PULL);
    ts_msg_init(&j->req, TS_MSG_PULL);
    j->req.u.pull.since = s->pull_next;
    j->req.u.pull.stream = true;
    j->stream = true;
    j->follow = true;
    j->window = s->stream_window;
    j->limit = s->pull_limit;
    ts__job_submit(s, j, ts__work_pull);
}

void ts_server_notify(ts_server *srv, const char *station)
{
    for (ts_session *s = srv->sessions; s; s = s->next) {
        if (s->state != TS_SESS_READY || !s->live)
            continue;
        if (station != NULL && strcmp(station, s->station) != 0)
            continue;
        ts__start_live(s);
    }
}

/* ---------------------------------------------------------------- messages */

/* One session per station: the newest wins (the old one is a dead link). */
static void ts__replace_others(ts_session *s)
{
    for (ts_session *o = s->srv->sessions; o; o = o->next) {
        if (o != s && o->state == TS_SESS_READY && strcmp(o->station, s->station) == 0) {
            ts_log_info("session_replaced", "station=%s old_peer=%s new_peer=%s", o->station, o->conn.peer_addr,
                        s->conn.peer_addr);
            ts__send_error(o, TS_EREPLACED, true, 0, "replaced by a newer session from the same station");
        }
    }
}

static void ts__on_hello(ts_session *s, ts_msg *msg)
{
    const ts_msg_hello *h = &msg->u.hello;
    s->hello_seen = true;
    ts_conn_set_deadline(&s->conn, 0);
    uint64_t lo = h->proto_min > TS_PROTO_VERSION_MIN ? h->proto_min : TS_PROTO_VERSION_MIN;
    /* server.proto_max caps what this district offers (a district that
     * behaves as one from before version 2, for stations and tests) */
    uint64_t mine = s->srv->cfg.proto_max < TS_PROTO_VERSION_MAX ? s->srv->cfg.proto_max : TS_PROTO_VERSION_MAX;
    if (mine < TS_PROTO_VERSION_MIN)
        mine = TS_PROTO_VERSION_MIN;
    uint64_t hi = h->proto_max < mine ? h->proto_max : mine;
    if (lo > hi) {
        ts__send_error(s, TS_EUNSUPPORTED_VERSION, true, 0,
                       "this district speaks protocol versions %d to %" PRIu64 ", the station %" PRIu64 " to %" PRIu64,
                       TS_PROTO_VERSION_MIN, mine, h->proto_min, h->proto_max);
        return;
    }
    s->proto = hi;
    s->zstd_offered = s->srv->cfg.compress && h->compress && strcmp(h->compress, TS_ZFRAME_NAME) == 0;
    /* identity comes from the certificate; the claim must agree with it */
    if (strcmp(h->station, s->station) != 0) {
        ts__send_error(s, TS_EFORBIDDEN, true, 0, "this certificate belongs to station %s, not %s", s->station,
                       h->station);
        return;
    }
    if (ts_rid_set_cstr(&s->replica, h->replica) < 0) {
        ts__send_error(s, TS_EBAD_VALUE, true, 0, "invalid replica id");
        return;
    }
    /* the older session is replaced only once this HELLO is accepted (when
     * its job is done): a HELLO refused, or answered with a rekey, replaces
     * nothing */
    s->live_wanted = h->live;
    ts__job *j = ts__job_new(s, JOB_HELLO);
    j->req = *msg;
    ts_msg_init(msg, TS_MSG_NONE); /* the job owns it now */
    ts__job_submit(s, j, ts__work_hello);
}

static void ts__refill(ts_session *s)
{
    const ts_server_config *cfg = &s->srv->cfg;
    uint64_t now = ts_wall_ms();
    double elapsed = (double)(now - s->tokens_at_ms) / 1000.0;
    s->tokens_at_ms = now;
    s->tokens += elapsed * (double)cfg->rate_messages;
    if (s->tokens > (double)cfg->rate_burst)
        s->tokens = (double)cfg->rate_burst;
    s->change_tokens += elapsed * (double)cfg->rate_changes;
    if (s->change_tokens > 2.0 * (double)cfg->rate_changes)
        s->change_tokens = 2.0 * (double)cfg->rate_changes;
}

static bool ts__take(double *bucket, double n)
{
    if (*bucket < n)
        return false;
    *bucket -= n;
    return true;
}

static void ts__on_push(ts_session *s, ts_msg *msg)
{
    ts_msg_push *p = &msg->u.push;
    ts__refill(s);
    if (!ts__take(&s->change_tokens, (double)p->changes.n)) {
        s->srv->stats.rate_limited++;
        ts_log_warn("rate_limited", "station=%s what=changes batch=%" PRIu64 " changes=%u", s->station, p->batch,
                    p->changes.n);
        ts_msg ack;
        ts_msg_init(&ack, TS_MSG_PUSH_ACK);
        ack.u.push_ack.batch = p->batch;
        ack.u.push_ack.code = (uint64_t)-TS_ERATE_LIMITED;
        ack.u.push_ack.message = "too many changes per second: send again later";
        ts__send(s, &ack);
        ts_msg_free(&ack);
        return;
    }
    ts__job *j = ts__job_new(s, JOB_PUSH);
    j->req = *msg;
    ts_msg_init(msg, TS_MSG_NONE);
    /* the schema check needs no store: here, beside the store's thread
     * applying other stations' pushes, instead of on it */
    size_t nch = j->req.u.push.changes.n;
    j->valid = ts_xcalloc(nch ? nch : 1, sizeof *j->valid);
    ts_store_precheck(&s->srv->reg, j->req.u.push.changes.items, nch, j->valid);
    ts__job_submit(s, j, ts__work_push);
}

static void ts__on_pull(ts_session *s, ts_msg *msg)
{
    if (msg->u.pull.credit) {
        /* not a new PULL: the station committed pages of the windowed
         * stream; the district may send as many more (a credit for no
         * running stream changes nothing) */
        uint64_t c = msg->u.pull.credit;
        s->stream_unacked = c >= s->stream_unacked ? 0 : s->stream_unacked - (uint32_t)c;
        if (s->pull_again && !s->busy)
            ts__start_pull_page(s);
        return;
    }
    ts__job *j = ts__job_new(s, JOB_PULL);
    uint64_t page = s->srv->cfg.pull_page;
    j->limit = (uint32_t)(msg->u.pull.limit && msg->u.pull.limit < page ? msg->u.pull.limit : page);
    j->stream = msg->u.pull.stream;
    s->pull_again = false; /* a new PULL ends a streamed answer: its own answer replaces it */
    s->stream_unacked = 0;
    s->stream_window = j->stream ? (uint32_t)(msg->u.pull.window < UINT32_MAX ? msg->u.pull.window : UINT32_MAX) : 0;
    j->window = s->stream_window;
    j->req = *msg;
    ts_msg_init(msg, TS_MSG_NONE);
    ts__job_submit(s, j, ts__work_pull);
}

static void ts__handle(ts_session *s, ts_msg *msg)
{
    if (msg->type == TS_MSG_PING) {
        ts_msg pong;
        ts_msg_init(&pong, TS_MSG_PONG);
        pong.u.ping.nonce = msg->u.ping.nonce;
        ts__send(s, &pong);
        ts_msg_free(&pong);
        return;
    }
    if (msg->type == TS_MSG_BYE) {
        ts_log_info("station_bye", "station=%s reason=%s", ts__name(s), msg->u.bye.reason);
        s->state = TS_SESS_CLOSING;
        ts_conn_close(&s->conn, 0, true);
        return;
    }
    if (msg->type == TS_MSG_ERROR) {
        ts_log_warn("station_error", "station=%s code=%" PRIu64 " name=%s message=%s", ts__name(s),
                    msg->u.error.code, msg->u.error.name, msg->u.error.message);
        if (msg->u.error.fatal) {
            s->state = TS_SESS_CLOSING;
            ts_conn_close(&s->conn, 0, true);
        }
        return;
    }
    if (s->state == TS_SESS_HELLO) {
        if (msg->type != TS_MSG_HELLO) {
            /* a PUSH refused here was not applied: its batch says which */
            ts__send_error(s, TS_EUNEXPECTED_MESSAGE, true, msg->type == TS_MSG_PUSH ? msg->u.push.batch : 0,
                           "expected HELLO, got %s", ts_msg_type_name(msg->type));
            return;
        }
        ts__on_hello(s, msg);
        return;
    }
    switch (msg->type) {
    case TS_MSG_PUSH:
        ts__on_push(s, msg);
        break;
    case TS_MSG_PULL:
        ts__on_pull(s, msg);
        break;
    case TS_MSG_NOTICE_ACK:
        /* the state change itself comes as the station's push of its
         * notice_recipients record; this only says the frame arrived */
        s->srv->stats.notices_acked++;
        ts_log_debug("notice_acked", "station=%s notice=%s seq=%" PRIu64, s->station, msg->u.notice_ack.id,
                     msg->u.notice_ack.seq);
        break;
    case TS_MSG_PONG:
        break;
    default:
        ts__send_error(s, TS_EUNEXPECTED_MESSAGE, true, 0, "%s is not allowed now", ts_msg_type_name(msg->type));
        break;
    }
}

/* Reading resumes after a rate-limit pause or once the frame budget let a
 * waiting frame in (both by this timer, so that never happens in the middle
 * of another session's processing). */
static void ts__resume(uv_timer_t *t)
{
    ts_session *s = t->data;
    s->rate_paused = false;
    if (s->state == TS_SESS_CLOSING)
        return;
    if (!s->busy && !s->budget_waiting) {
        ts__update_pause(s);
        if (s->stash.len) {
            size_t len;
            uint8_t *bytes = ts_buf_steal(&s->stash, &len);
            ts__process(s, bytes, len);
            free(bytes);
        }
    }
}

/* ---------------------------------------------------------------- frame budget */

/* A frame takes budget for its whole declared length before its body is
 * read, so the bytes every connection buffers in partial frames never
 * exceed [server] frame_budget; past it, frames queue in arrival order
 * with their connections paused. Large frames may fill only three quarters
 * of it: the last quarter keeps small ones (pings, pulls, a few records)
 * flowing while big change sets wait. */
#define TS__SMALL_FRAME (64u * 1024u)

static uint64_t ts__frame_deadline_ms(const ts_server *srv, uint32_t need)
{
    return srv->cfg.frame_timeout_ms + (uint64_t)need * 1000 / srv->cfg.frame_min_rate;
}

static bool ts__budget_fits(const ts_server *srv, uint32_t need)
{
    uint64_t cap = srv->cfg.frame_budget;
    if (need > TS__SMALL_FRAME)
        cap -= cap / 4;
    return srv->budget_used + need <= cap;
}

static void ts__budget_grant(ts_session *s, uint32_t need)
{
    ts_server *srv = s->srv;
    srv->budget_used += need;
    s->budget_held = need;
    /* before HELLO its own deadline governs, and frames are tiny */
    if (s->hello_done)
        ts_conn_set_deadline(&s->conn, ts__frame_deadline_ms(srv, need));
}

static void ts__budget_unqueue(ts_session *s)
{
    ts_server *srv = s->srv;
    ts_session **pp = &srv->budget_head, *prev = NULL;
    while (*pp != NULL && *pp != s) {
        prev = *pp;
        pp = &(*pp)->budget_next;
    }
    if (*pp == NULL)
        return;
    *pp = s->budget_next;
    if (srv->budget_tail == s)
        srv->budget_tail = prev;
    s->budget_next = NULL;
    s->budget_waiting = false;
}

/* Lets waiting frames in, in order; a large one that does not fit stops the
 * large ones behind it, not the small ones. */
static void ts__budget_wake(ts_server *srv)
{
    bool large_blocked = false;
    for (ts_session *w = srv->budget_head, *next; w; w = next) {
        next = w->budget_next;
        uint32_t need = ts_frame_decoder_need(&w->dec);
        bool large = need > TS__SMALL_FRAME;
        if ((large && large_blocked) || !ts__budget_fits(srv, need)) {
            large_blocked |= large;
            continue;
        }
        ts__budget_unqueue(w);
        ts__budget_grant(w, need);
        uv_timer_start(&w->rate_timer, ts__resume, 0, 0);
    }
}

/* true: the body may be read now; false: the session waits its turn. */
static bool ts__budget_take(ts_session *s, uint32_t need)
{
    ts_server *srv = s->srv;
    bool queue_ahead = false;
    for (const ts_session *w = srv->budget_head; w && !queue_ahead; w = w->budget_next)
        queue_ahead = need > TS__SMALL_FRAME ? ts_frame_decoder_need(&w->dec) > TS__SMALL_FRAME : false;
    if (!queue_ahead && ts__budget_fits(srv, need)) {
        ts__budget_grant(s, need);
        return true;
    }
    srv->stats.frame_budget_waits++;
    if (srv->budget_head == NULL)
        ts_log_warn("frame_budget_full", "used=%" PRIu64 " budget=%" PRIu64 " station=%s need=%u",
                    srv->budget_used, srv->cfg.frame_budget, ts__name(s), need);
    s->budget_waiting = true;
    s->budget_next = NULL;
    if (srv->budget_tail)
        srv->budget_tail->budget_next = s;
    else
        srv->budget_head = s;
    srv->budget_tail = s;
    ts__update_pause(s);
    return false;
}

/* The frame being read is complete or abandoned: its budget goes back. */
static void ts__budget_return(ts_session *s)
{
    ts_server *srv = s->srv;
    if (s->budget_waiting)
        ts__budget_unqueue(s);
    if (s->budget_held == 0)
        return;
    srv->budget_used -= s->budget_held;
    ts_server_note_freed(srv, s->budget_held);
    s->budget_held = 0;
    if (s->hello_done)
        ts_conn_set_deadline(&s->conn, 0);
    ts__budget_wake(srv);
}

static void ts__process_frames(ts_session *s, const uint8_t *data, size_t len);

static void ts__process(ts_session *s, const uint8_t *data, size_t len)
{
    ts__processing++;
    ts__process_frames(s, data, len);
    ts__processing--;
}

static void ts__process_frames(ts_session *s, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        /* while a job runs, the rate limit holds, or the answers already
         * queued for this station exceed the high-water mark, frames wait:
         * a station that sends requests without reading the answers cannot
         * make the daemon buffer more than that */
        if (s->busy || s->rate_paused || s->budget_waiting || ts_conn_congested(&s->conn) ||
            s->state == TS_SESS_CLOSING || s->conn.closing) {
            if (s->state != TS_SESS_CLOSING)
                ts_buf_append(&s->stash, data + off, len - off);
            return;
        }
        size_t used;
        const uint8_t *frame;
        size_t flen;
        ts_error err;
        int rc = ts_frame_decoder_feed(&s->dec, data + off, len - off, &used, &frame, &flen, &err);
        off += used;
        if (rc < 0) {
            ts__send_error(s, rc, true, 0, "%s", err.msg);
            return;
        }
        if (rc == 0)
            return;
        if (rc == TS_FRAME_HEADER) {
            ts__budget_take(s, ts_frame_decoder_need(&s->dec)); /* when it must wait, the loop stashes */
            continue;
        }
        s->srv->stats.frames_in++;
        ts_msg msg;
        /* the session's version says whether compact changes may come */
        ts_proto_limits lim = s->srv->limits;
        lim.proto = (uint32_t)s->proto;
        ts_buf z = TS_BUF_INIT;
        if (s->zstd && ts_zframe_is(frame, flen)) {
            /* decompressed into a buffer of the declared size, at most
             * max_frame, checked before it is reserved */
            rc = ts_zframe_unwrap(frame, flen, s->srv->limits.max_frame, &z, &err);
            if (rc >= 0)
                rc = ts_msg_decode(z.data, z.len, &lim, &msg, &err);
        } else {
            rc = ts_msg_decode(frame, flen, &lim, &msg, &err);
        }
        ts_buf_free(&z);
        ts_frame_decoder_release(&s->dec);
        ts__budget_return(s);
        if (rc < 0) {
            ts__send_error(s, rc, true, 0, "%s", err.msg);
            return;
        }
        ts__handle(s, &msg);
        ts_msg_free(&msg);

        ts__refill(s);
        if (!ts__take(&s->tokens, 1)) {
            s->srv->stats.rate_limited++;
            s->rate_paused = true;
            ts__update_pause(s);
            double wait = 1000.0 * (1.0 - s->tokens) / (double)(s->srv->cfg.rate_messages ? s->srv->cfg.rate_messages : 1);
            ts_log_info("rate_limited", "station=%s what=messages pause_ms=%.0f", ts__name(s), wait);
            uv_timer_start(&s->rate_timer, ts__resume, (uint64_t)wait + 1, 0);
        }
    }
}

/* ---------------------------------------------------------------- connection callbacks */

/* One certificate holds at most max_station_connections connections: a
 * reconnecting agent overlaps its dead session for a while, nothing more.
 * Past the limit the oldest connection not yet past HELLO goes (a stuck
 * attempt); when every other one is in use, the newcomer does. */
static void ts__station_limit(ts_session *s)
{
    ts_server *srv = s->srv;
    uint64_t others = 0;
    ts_session *oldest = NULL;
    for (ts_session *o = srv->sessions; o; o = o->next) {
        if (o == s || o->state == TS_SESS_CLOSING || strcmp(o->station, s->station) != 0)
            continue;
        others++;
        if (o->state == TS_SESS_HELLO && !o->hello_seen && (oldest == NULL || o->connected_ms <= oldest->connected_ms))
            oldest = o;
    }
    if (others < srv->cfg.max_station_connections)
        return;
    srv->stats.station_conn_limited++;
    ts_session *victim = oldest ? oldest : s;
    ts_log_warn("station_conn_limit", "station=%s limit=%" PRIu64 " closed_peer=%s kept=%s", s->station,
                srv->cfg.max_station_connections, victim->conn.peer_addr, oldest ? "newest" : "older");
    ts__send_error(victim, TS_EBUSY, true, 0,
                   "too many connections from station %s (at most %" PRIu64 "): %s", s->station,
                   srv->cfg.max_station_connections,
                   oldest ? "the oldest one that never said HELLO is closed" : "this one is refused");
}

/* The connection's deadline: no HELLO in time (from accept, TLS included),
 * or a frame that did not complete at frame_min_rate. */
static void ts__on_deadline(ts_conn *c)
{
    ts_session *s = c->data;
    ts_server *srv = s->srv;
    if (s->state == TS_SESS_CLOSING)
        return;
    uint64_t secs = (ts_wall_ms() - s->connected_ms) / 1000;
    if (!c->open || !s->hello_seen) {
        srv->stats.hello_timeouts++;
        ts_log_info("hello_timeout", "peer=%s station=%s tls=%s seconds=%" PRIu64, c->peer_addr, ts__name(s),
                    c->open ? "done" : "unfinished", secs);
        if (!c->open) {
            s->state = TS_SESS_CLOSING;
            ts_conn_close(c, TS_ETIMEOUT, false);
            return;
        }
        ts__send_error(s, TS_ETIMEOUT, true, 0, "no HELLO within %" PRIu64 " s of connecting",
                       srv->cfg.hello_timeout_ms / 1000);
        return;
    }
    srv->stats.frame_timeouts++;
    uint32_t need = ts_frame_decoder_need(&s->dec);
    ts_log_warn("frame_timeout", "station=%s peer=%s expected=%u have=%zu", s->station, c->peer_addr, need,
                s->dec.body.len);
    ts__send_error(s, TS_ETIMEOUT, true, 0,
                   "a frame of %u bytes was not complete within %" PRIu64 " ms (at least %" PRIu64 " bytes/s)", need,
                   ts__frame_deadline_ms(srv, need), srv->cfg.frame_min_rate);
}

static void ts__on_open(ts_conn *c)
{
    ts_session *s = c->data;
    ts_server *srv = s->srv;
    const ts_tls_peer *p = &c->tls.peer;
    srv->stats.handshakes_ok++;
    if (strcmp(p->ou, "station") != 0 || !ts_key_valid(p->cn, strlen(p->cn))) {
        ts_log_warn("tls_not_station", "peer=%s cn=%s ou=%s", c->peer_addr, p->cn, p->ou);
        srv->stats.refused[TS_REFUSED_NOT_STATION]++;
        s->state = TS_SESS_CLOSING;
        ts_conn_close(c, TS_EFORBIDDEN, true);
        return;
    }
    snprintf(s->station, sizeof s->station, "%s", p->cn);
    snprintf(s->commune, sizeof s->commune, "%s", p->l);
    snprintf(s->serial, sizeof s->serial, "%s", p->serial);
    s->state = TS_SESS_HELLO;
    s->tokens = (double)srv->cfg.rate_burst;
    s->change_tokens = (double)srv->cfg.rate_changes * 2;
    s->tokens_at_ms = ts_wall_ms();
    ts_log_info("tls_open", "station=%s peer=%s version=%s serial=%s", s->station, c->peer_addr,
                ts_tls_version(&c->tls), s->serial);
    ts__station_limit(s);
}

static void ts__on_data(ts_conn *c, const uint8_t *data, size_t len)
{
    ts__process(c->data, data, len);
}

static void ts__on_drain(ts_conn *c)
{
    ts_session *s = c->data;
    /* frames held back while the queue was full (not from inside ts__process
     * or ts__job_done: they go on with them themselves) */
    if (!s->busy && !s->rate_paused && ts__processing == 0 && s->stash.len && s->state != TS_SESS_CLOSING) {
        size_t len;
        uint8_t *bytes = ts_buf_steal(&s->stash, &len);
        ts__process(s, bytes, len);
        free(bytes);
    }
    if (s->pull_again && !s->busy)
        ts__start_pull_page(s);
    if (s->live_again && !s->busy)
        ts__start_live(s);
}

static void ts__on_close(ts_conn *c, int reason)
{
    ts_session *s = c->data;
    ts_server *srv = s->srv;
    srv->stats.bytes_in += c->bytes_in;
    srv->stats.bytes_out += c->bytes_out;
    if (!c->open) {
        int why = c->tls.fail != TS_TLS_FAIL_NONE ? (int)c->tls.fail
                  : reason == TS_ETIMEOUT         ? TS_REFUSED_TIMEOUT
                                                  : TS_TLS_FAIL_CLOSED;
        srv->stats.handshakes_failed++;
        srv->stats.refused[why]++;
        ts_log_info("tls_handshake_failed", "peer=%s kind=%s reason=%s", c->peer_addr, ts_refused_name(why),
                    c->tls.error[0] ? c->tls.error : ts_strerror(reason ? reason : TS_EIO));
    } else {
        /* a frame cut short by the end of the session: say so */
        if (!s->dec.error && !s->dec.have_frame && s->dec.hdr_have > 0)
            ts_log_warn("frame_truncated", "station=%s peer=%s have=%zu expected=%u", ts__name(s), c->peer_addr,
                        s->dec.hdr_have < 4 ? (size_t)s->dec.hdr_have : 4 + s->dec.body.len,
                        s->dec.hdr_have < 4 ? 4u : 4u + s->dec.need);
        ts_log_info("session_closed", "station=%s peer=%s reason=%s seconds=%" PRIu64, ts__name(s), c->peer_addr,
                    reason ? ts_err_name(reason) : "normal", (ts_wall_ms() - s->connected_ms) / 1000);
        if (s->hello_done)
            ts__seen_submit(srv, s->station, ts_wall_ms(), s->last_sync_ms);
    }
    s->state = TS_SESS_CLOSING;
    ts__budget_return(s);
    if (s->stash.cap > 0 || s->dec.body.cap > 0)
        ts_server_note_freed(srv, s->stash.cap + s->dec.body.cap);
    if (s->rate_timer_open) {
        s->rate_timer_open = false;
        uv_close((uv_handle_t *)&s->rate_timer, ts__rate_timer_closed);
    }
    ts_session_unref(s);
}

static const ts_conn_cb ts__session_cb = {ts__on_open, ts__on_data, ts__on_drain, ts__on_close, ts__on_deadline};

static void ts__refused_closed(uv_handle_t *h)
{
    free(h);
}

/* Takes the pending connection off the listener and closes it at once. */
static void ts__refuse(ts_server *srv)
{
    uv_tcp_t *t = ts_xmalloc(sizeof *t);
    uv_tcp_init(srv->loop, t);
    uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, ts__refused_closed);
}

void ts_session_accept(ts_server *srv)
{
    ts_session *s = ts_xcalloc(1, sizeof *s);
    ts_error err;
    s->srv = srv;
    s->connected_ms = ts_wall_ms();
    ts_frame_decoder_init(&s->dec, TS_PROTO_MAX_HELLO_FRAME); /* max_frame once past HELLO */
    s->dec.stop_at_header = 1; /* each body waits for the frame budget */
    ts_buf_init(&s->stash);
    if (ts_conn_init(&s->conn, srv->loop, srv->tls, &ts__session_cb, &srv->conn_limits, &err) < 0) {
        ts_log_error("conn_init_failed", "reason=%s", err.msg);
        ts_frame_decoder_free(&s->dec);
        free(s);
        ts__refuse(srv);
        return;
    }
    s->conn.data = s;
    s->refs = 2; /* the connection, the rate timer */
    uv_timer_init(srv->loop, &s->rate_timer);
    s->rate_timer.data = s;
    s->rate_timer_open = true;
    s->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = s;
    srv->sessions = s;
    srv->nconns++;
    srv->stats.connections = srv->nconns;
    if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&s->conn.tcp) != 0) {
        s->state = TS_SESS_CLOSING;
        ts_conn_close(&s->conn, TS_EIO, false);
        return;
    }
    srv->stats.accepted++;
    if (srv->nconns > srv->cfg.max_connections || srv->draining) {
        srv->stats.rejected_busy++;
        ts_conn_start(&s->conn, &err);
        ts_log_warn("conn_refused", "peer=%s reason=%s connections=%" PRIu64, s->conn.peer_addr,
                    srv->draining ? "shutting_down" : "max_connections", srv->nconns);
        s->state = TS_SESS_CLOSING;
        ts_conn_close(&s->conn, TS_EBUSY, false);
        return;
    }
    ts_conn_start(&s->conn, &err);
    ts_conn_set_deadline(&s->conn, srv->cfg.hello_timeout_ms);
}

void ts_session_revoke(ts_session *s)
{
    if (s->state == TS_SESS_CLOSING || !s->conn.open)
        return;
    ts_log_warn("session_revoked", "station=%s peer=%s serial=%s dropped_bytes=%zu job=%s", ts__name(s),
                s->conn.peer_addr, s->serial, s->stash.len, s->job ? "cancelled" : "none");
    if (s->job != NULL)
        atomic_store(&s->job->cancelled, true);
    ts_buf_free(&s->stash); /* what it sent and was not processed yet is not */
    ts__send_error(s, TS_EFORBIDDEN, true, 0, "this station's certificate was revoked");
}

void ts_session_shutdown(ts_session *s)
{
    if (s->state == TS_SESS_CLOSING)
        return;
    if (s->busy)
        return; /* the job's completion calls us again */
    ts__send_bye(s, "the district server is shutting down");
    s->state = TS_SESS_CLOSING;
    ts_conn_close(&s->conn, TS_ESHUTTING_DOWN, true);
}
