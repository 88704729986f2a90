#include "common/ts_conn.h"

#include <stdlib.h>
#include <string.h>

#include "common/ts_hlc.h"
#include "common/ts_log.h"

#define TS__CONN_CLOSE_GRACE_MS 2000
#define TS__CONN_KEEP_CAP 4096
#define TS__READ_BUF 65536

/* One read buffer per thread: a read is consumed before the next begins. */
static _Thread_local char ts__read_buf[TS__READ_BUF];
static _Thread_local ts_buf ts__plain;

void ts_conn_limits_default(ts_conn_limits *l)
{
    l->high_water = 256 * 1024;
    l->low_water = 64 * 1024;
    l->handshake_timeout_ms = 10000;
    l->idle_timeout_ms = 0;
    l->early_min_rate = 0;
}

static void ts__conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void ts__conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void ts__trim(ts_buf *b)
{
    if (b->len == 0 && b->cap > TS__CONN_KEEP_CAP)
        ts_buf_free(b);
}

size_t ts_conn_queued(const ts_conn *c)
{
    return c->out.len + c->inflight.len;
}

bool ts_conn_congested(const ts_conn *c)
{
    return ts_conn_queued(c) > c->limits.high_water;
}

size_t ts_conn_memory(const ts_conn *c)
{
    return sizeof *c + c->out.cap + c->inflight.cap + c->early.cap + c->tls.early.cap;
}

static void ts__update_reading(ts_conn *c)
{
    if (c->closing || !c->initialised)
        return;
    bool want = !c->user_paused && !c->queue_paused;
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, ts__conn_alloc, ts__conn_read) == 0)
            c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void ts__handle_closed(uv_handle_t *h)
{
    ts_conn *c = h->data;
    if (--c->handles_open > 0)
        return;
    ts_tls_free(&c->tls);
    ts_buf_free(&c->early);
    ts_buf_free(&c->out);
    ts_buf_free(&c->inflight);
    if (c->cb->on_close)
        c->cb->on_close(c, c->close_reason);
}

static void ts__close_now(ts_conn *c)
{
    if (c->handles_open == 0 || uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    c->closing = true;
    c->reading = false;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->tcp, ts__handle_closed);
    uv_close((uv_handle_t *)&c->timer, ts__handle_closed);
}

static void ts__flush(ts_conn *c);

static void ts__write_done(uv_write_t *req, int status)
{
    ts_conn *c = req->data;
    c->writing = false;
    c->bytes_out += c->inflight.len;
    ts_buf_reset(&c->inflight);
    ts__trim(&c->inflight);
    if (status < 0) {
        if (!c->closing)
            ts_log_debug("conn_write_failed", "peer=%s error=%s", c->peer_addr, uv_strerror(status));
        if (c->read_error == 0)
            c->read_error = status;
        c->close_reason = c->close_reason ? c->close_reason : TS_EIO;
        ts__close_now(c);
        return;
    }
    ts__flush(c);
}

static void ts__flush(ts_conn *c)
{
    if (c->writing || uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    if (c->out.len == 0) {
        ts__trim(&c->out);
        if (c->close_after_flush) {
            ts__close_now(c);
            return;
        }
        if (c->queue_paused && ts_conn_queued(c) <= c->limits.low_water) {
            c->queue_paused = false;
            ts__update_reading(c);
            if (c->cb->on_drain && c->open && !c->closing)
                c->cb->on_drain(c);
        }
        return;
    }
    /* swap: what waited becomes the write in flight */
    ts_buf tmp = c->inflight;
    c->inflight = c->out;
    c->out = tmp;
    uv_buf_t b = uv_buf_init((char *)c->inflight.data, (unsigned)c->inflight.len);
    c->wreq.data = c;
    c->writing = true;
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, ts__write_done);
    if (rc < 0) {
        c->writing = false;
        c->close_reason = c->close_reason ? c->close_reason : TS_EIO;
        ts__close_now(c);
        return;
    }
    if (!c->queue_paused && ts_conn_queued(c) > c->limits.high_water) {
        c->queue_paused = true;
        ts__update_reading(c);
    } else if (c->queue_paused && ts_conn_queued(c) <= c->limits.low_water) {
        c->queue_paused = false;
        ts__update_reading(c);
        if (c->cb->on_drain && c->open && !c->closing)
            c->cb->on_drain(c);
    }
}

static void ts__timer_fired(uv_timer_t *t);

/* While the handshake runs and the server has accepted early data (only a
 * ticket's holder gets that far), what has come in adds its time at
 * early_min_rate: 64 KiB of early data on a slow link must not cost the
 * connection, as a frame's size does not. Counted in bytes received, not
 * early data decrypted: a 16 KiB record is read only once it is whole. */
static uint64_t ts__early_grace_ms(const ts_conn *c)
{
    if (c->open || c->limits.early_min_rate == 0 || !c->tls.server || !ts_tls_early_accepted(&c->tls))
        return 0;
    uint64_t in = c->bytes_in < TS_TLS_EARLY_DATA_MAX ? c->bytes_in : TS_TLS_EARLY_DATA_MAX;
    return in * 1000 / c->limits.early_min_rate;
}

/* One timer serves three clocks: the handshake (from start), the owner's
 * deadline, and idleness (from the last read); it is set for the earliest. */
static void ts__arm(ts_conn *c)
{
    if (c->closing || c->close_after_flush || !c->initialised)
        return;
    uint64_t now = uv_now(c->tcp.loop), wait = UINT64_MAX, grace = ts__early_grace_ms(c);
    if (!c->open) {
        uint64_t due = c->started_at + c->limits.handshake_timeout_ms + grace;
        wait = due > now ? due - now : 0;
    } else if (c->limits.idle_timeout_ms) {
        uint64_t idle = ts_wall_ms() - c->last_read_ms;
        wait = idle < c->limits.idle_timeout_ms ? c->limits.idle_timeout_ms - idle : 0;
    }
    if (c->deadline_at) {
        uint64_t at = c->deadline_at + grace;
        uint64_t w = at > now ? at - now : 0;
        if (w < wait)
            wait = w;
    }
    if (wait == UINT64_MAX)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, ts__timer_fired, wait, 0);
}

static void ts__timer_fired(uv_timer_t *t)
{
    ts_conn *c = t->data;
    if (c->close_after_flush || c->closing) {
        ts__close_now(c); /* the peer did not take our last bytes in time */
        return;
    }
    uint64_t now = uv_now(c->tcp.loop), grace = ts__early_grace_ms(c);
    if (c->deadline_at && now >= c->deadline_at + grace) {
        c->deadline_at = 0;
        if (c->cb->on_deadline) {
            c->cb->on_deadline(c);
            ts__arm(c);
        } else {
            c->close_reason = TS_ETIMEOUT;
            ts__close_now(c);
        }
        return;
    }
    if (!c->open) {
        if (now >= c->started_at + c->limits.handshake_timeout_ms + grace) {
            ts_log_info("tls_handshake_timeout", "peer=%s", c->peer_addr);
            c->close_reason = TS_ETIMEOUT;
            ts__close_now(c);
            return;
        }
        ts__arm(c);
        return;
    }
    uint64_t idle = ts_wall_ms() - c->last_read_ms;
    if (c->limits.idle_timeout_ms && idle >= c->limits.idle_timeout_ms) {
        ts_log_info("conn_idle_timeout", "peer=%s idle_ms=%llu", c->peer_addr, (unsigned long long)idle);
        ts_conn_close(c, TS_ETIMEOUT, true);
        return;
    }
    ts__arm(c);
}

void ts_conn_set_deadline(ts_conn *c, uint64_t in_ms)
{
    if (!c->initialised || c->closing)
        return;
    c->deadline_at = in_ms ? uv_now(c->tcp.loop) + in_ms : 0;
    if (c->started_at || c->open) /* before ts_conn_start, the start arms it */
        ts__arm(c);
}

void ts_conn_set_idle_timeout(ts_conn *c, uint64_t ms)
{
    c->limits.idle_timeout_ms = ms;
    if (c->open)
        ts__arm(c);
}

static void ts__conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(ts__read_buf, sizeof ts__read_buf);
}

static void ts__conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    ts_conn *c = s->data;
    if (n == 0)
        return;
    if (n < 0) {
        c->read_error = (int)n;
        if (n != UV_EOF)
            ts_log_debug("conn_read_failed", "peer=%s error=%s", c->peer_addr, uv_strerror((int)n));
        c->close_reason = c->close_reason ? c->close_reason : (c->open ? 0 : TS_ETLS);
        if (!c->open && c->tls.error[0] == '\0')
            snprintf(c->tls.error, sizeof c->tls.error, "connection closed during the TLS handshake");
        ts__close_now(c);
        return;
    }
    if (c->closing || c->close_after_flush)
        return;
    c->bytes_in += (uint64_t)n;
    c->last_read_ms = ts_wall_ms();

    bool done = false;
    ts_error err;
    ts_buf_reset(&ts__plain);
    int rc = ts_tls_feed(&c->tls, (const uint8_t *)buf->base, (size_t)n, &ts__plain, &c->out, &done, &err);
    if (rc < 0) {
        ts_log_info("tls_failed", "peer=%s reason=%s", c->peer_addr, c->tls.error);
        c->close_reason = TS_ETLS;
        c->close_after_flush = true; /* send the alert, then close */
        uv_timer_start(&c->timer, ts__timer_fired, TS__CONN_CLOSE_GRACE_MS, 0);
        ts__flush(c);
        return;
    }
    if (done && !c->tls.server && c->early.len > 0) {
        /* what did not go early, or all of it when the server refused it */
        bool accepted = ts_tls_early_accepted(&c->tls);
        size_t from = accepted ? c->tls.early_sent : 0;
        ts_log_debug("tls_early_data", "peer=%s status=%s early_bytes=%zu sent_after=%zu", c->peer_addr,
                     ts_tls_early_status(&c->tls), from, c->early.len - from);
        if (from < c->early.len &&
            ts_tls_write(&c->tls, c->early.data + from, c->early.len - from, &c->out, &err) < 0) {
            c->close_reason = TS_ETLS;
            ts__close_now(c);
            return;
        }
        ts_buf_free(&c->early);
    }
    if (done) {
        c->open = true;
        ts__arm(c);
        if (c->cb->on_open)
            c->cb->on_open(c);
    }
    if (ts__plain.len > 0 && c->cb->on_data && !c->closing && !c->close_after_flush)
        c->cb->on_data(c, ts__plain.data, ts__plain.len);
    if (ts__plain.cap > 4 * TS__READ_BUF)
        ts_buf_free(&ts__plain);
    if (c->tls.state == TS_TLS_CLOSED && !c->closing) {
        /* the peer said close_notify: answer and close */
        ts_conn_close(c, c->close_reason, true);
        return;
    }
    ts__flush(c);
}

int ts_conn_init(ts_conn *c, uv_loop_t *loop, ts_tls_ctx *ctx, const ts_conn_cb *cb,
                 const ts_conn_limits *limits, ts_error *err)
{
    memset(c, 0, sizeof *c);
    c->cb = cb;
    if (limits)
        c->limits = *limits;
    else
        ts_conn_limits_default(&c->limits);
    int rc = ts_tls_init(&c->tls, ctx, NULL, err);
    if (rc < 0)
        return rc;
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    c->initialised = true;
    snprintf(c->peer_addr, sizeof c->peer_addr, "?");
    return 0;
}

static void ts__format_peer(ts_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    char ip[48];
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof ip);
        snprintf(c->peer_addr, sizeof c->peer_addr, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof ip);
        snprintf(c->peer_addr, sizeof c->peer_addr, "%s:%u", ip, ntohs(a->sin_port));
    }
}

int ts_conn_start(ts_conn *c, ts_error *err)
{
    (void)err;
    ts__format_peer(c);
    uv_tcp_nodelay(&c->tcp, 1);
    uv_tcp_keepalive(&c->tcp, 1, 60);
    c->last_read_ms = ts_wall_ms();
    c->started_at = uv_now(c->tcp.loop);
    ts__arm(c);
    ts__update_reading(c);
    return 0;
}

static void ts__connected(uv_connect_t *req, int status)
{
    ts_conn *c = req->data;
    free(req);
    if (c->closing)
        return;
    if (status < 0) {
        snprintf(c->tls.error, sizeof c->tls.error, "cannot connect: %s", uv_strerror(status));
        c->close_reason = TS_EIO;
        ts__close_now(c);
        return;
    }
    ts_error err;
    ts_conn_start(c, &err);
    if (ts_tls_start_early(&c->tls, c->early.data, c->early.len, &c->out, &err) < 0) {
        c->close_reason = TS_ETLS;
        ts__close_now(c);
        return;
    }
    ts__flush(c);
}

int ts_conn_connect(ts_conn *c, uv_loop_t *loop, ts_tls_ctx *ctx, const char *server_name,
                    const struct sockaddr *addr, const ts_conn_cb *cb, const ts_conn_limits *limits,
                    ts_error *err)
{
    memset(c, 0, sizeof *c);
    c->cb = cb;
    if (limits)
        c->limits = *limits;
    else
        ts_conn_limits_default(&c->limits);
    int rc = ts_tls_init(&c->tls, ctx, server_name, err);
    if (rc < 0)
        return rc;
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    c->initialised = true;
    snprintf(c->peer_addr, sizeof c->peer_addr, "%s", server_name ? server_name : "server");
    uv_connect_t *req = malloc(sizeof *req);
    if (req == NULL)
        abort();
    req->data = c;
    rc = uv_tcp_connect(req, &c->tcp, addr, ts__connected);
    if (rc < 0) {
        free(req);
        snprintf(c->tls.error, sizeof c->tls.error, "cannot connect: %s", uv_strerror(rc));
        c->close_reason = TS_EIO;
        ts__close_now(c); /* on_close still comes, from the loop */
        return ts_error_set(err, TS_EIO, "cannot connect: %s", uv_strerror(rc));
    }
    return 0;
}

size_t ts_conn_early_budget(const ts_conn *c)
{
    return c->initialised && !c->open && !c->closing && !c->tls.server && c->bytes_out == 0 && c->out.len == 0
               ? ts_tls_early_budget(&c->tls)
               : 0;
}

int ts_conn_write(ts_conn *c, const uint8_t *data, size_t len)
{
    if (c->closing || c->close_after_flush || !c->initialised)
        return TS_EIO;
    if (!c->open) {
        if (c->tls.server)
            return TS_EIO;
        ts_buf_append(&c->early, data, len);
        return 0;
    }
    ts_error err;
    if (ts_tls_write(&c->tls, data, len, &c->out, &err) < 0) {
        c->close_reason = TS_ETLS;
        ts__close_now(c);
        return TS_ETLS;
    }
    ts__flush(c);
    /* ts__flush leaves the queue alone while a write is in flight: above the
     * high-water mark, stop reading all the same */
    if (!c->queue_paused && !c->closing && ts_conn_queued(c) > c->limits.high_water) {
        c->queue_paused = true;
        ts__update_reading(c);
    }
    return 0;
}

bool ts_conn_issue_ticket(ts_conn *c)
{
    if (c->closing || c->close_after_flush || !c->open)
        return false;
    bool issued = ts_tls_issue_ticket(&c->tls, &c->out);
    ts__flush(c);
    return issued;
}

void ts_conn_pause(ts_conn *c, bool paused)
{
    c->user_paused = paused;
    ts__update_reading(c);
}

void ts_conn_close(ts_conn *c, int reason, bool graceful)
{
    if (c->closing || !c->initialised)
        return;
    if (reason && !c->close_reason)
        c->close_reason = reason;
    if (!graceful || !c->open || uv_is_closing((uv_handle_t *)&c->tcp)) {
        ts__close_now(c);
        return;
    }
    if (c->close_after_flush)
        return;
    ts_tls_shutdown(&c->tls, &c->out);
    c->close_after_flush = true;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    uv_timer_start(&c->timer, ts__timer_fired, TS__CONN_CLOSE_GRACE_MS, 0);
    ts__flush(c);
}
