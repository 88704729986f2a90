#include "server/ts_http.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/ts_config.h"
#include "common/ts_hlc.h"
#include "common/ts_log.h"
#include "common/ts_xmalloc.h"

#define TS__SSE_MAX_QUEUE (512 * 1024)
/* The admin port speaks only HTTPS: browsers that saw it once never try it
 * in clear text again (a year, as the usual preload minimum). */
#define TS__HSTS "Strict-Transport-Security: max-age=31536000\r\n"

struct ts_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    ts_tls_ctx *tls;
    ts_http_limits limits;
    ts_http_handler handler;
    void *ctx;
    ts_http_conn *conns;
    uint64_t nconns;
    uint64_t requests;
    bool stopping;
    bool listener_closed;
    void (*stop_done)(void *arg);
    void *stop_arg;
};

typedef enum ts__hdr { H_NONE, H_AUTH, H_COOKIE, H_CTYPE, H_XRW, H_ORIGIN, H_OTHER } ts__hdr;

struct ts_http_conn {
    ts_conn conn;
    ts_http_server *srv;
    ts_http_conn *prev, *next;
    int refs;
    http_parser parser;
    ts_http_req req;
    ts__hdr cur_header;
    char header_name[64];
    size_t header_name_len;
    bool in_request;    /* a request is being answered */
    bool keep_alive;
    bool sse;           /* an event stream is open */
    bool closing;
    bool bad_request;
    int bad_status;
    ts_buf stash;       /* bytes after a complete request, fed after the response */
    double tokens;
    uint64_t tokens_at;
    void *data;
    bool authenticated; /* a request on it was authenticated */
    bool in_body;       /* the request's headers are in, its body is coming */
    char addr[48];      /* the peer's address without the port */
};

static const http_parser_settings *ts__settings(void);

const char *ts_http_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

/* ---------------------------------------------------------------- lifetime */

void ts_http_conn_ref(ts_http_conn *hc)
{
    hc->refs++;
}

void ts_http_conn_unref(ts_http_conn *hc)
{
    if (--hc->refs > 0)
        return;
    ts_http_server *srv = hc->srv;
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        srv->conns = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    srv->nconns--;
    ts_buf_free(&hc->req.body);
    ts_buf_free(&hc->stash);
    free(hc->data);
    free(hc);
    if (srv->stopping && srv->conns == NULL && srv->listener_closed) {
        void (*done)(void *) = srv->stop_done;
        void *arg = srv->stop_arg;
        free(srv);
        if (done)
            done(arg);
    }
}

void ts_http_conn_set_data(ts_http_conn *hc, void *data)
{
    free(hc->data);
    hc->data = data;
}

void *ts_http_conn_data(ts_http_conn *hc)
{
    return hc->data;
}

/* ---------------------------------------------------------------- parsing */

static void ts__reset_request(ts_http_conn *hc)
{
    ts_buf body = hc->req.body;
    ts_buf_reset(&body);
    memset(&hc->req, 0, sizeof hc->req);
    hc->req.body = body;
    hc->req.peer = hc->conn.peer_addr;
    hc->req.addr = hc->addr;
    hc->req.cert = hc->conn.tls.peer.cn[0] ? &hc->conn.tls.peer : NULL;
    hc->cur_header = H_NONE;
    hc->header_name_len = 0;
    hc->bad_request = false;
    hc->bad_status = 0;
}

static int ts__fail_parse(ts_http_conn *hc, int status)
{
    hc->bad_request = true;
    hc->bad_status = status;
    return 1; /* stops the parser */
}

static int ts__count_header(ts_http_conn *hc, size_t n)
{
    hc->req.header_bytes += n;
    return hc->req.header_bytes > hc->srv->limits.max_header;
}

static int ts__on_message_begin(http_parser *p)
{
    ts_http_conn *hc = p->data;
    ts__reset_request(hc);
    hc->in_body = false;
    ts_conn_set_deadline(&hc->conn, hc->srv->limits.header_timeout_ms);
    return 0;
}

static int ts__on_url(http_parser *p, const char *at, size_t n)
{
    ts_http_conn *hc = p->data;
    if (ts__count_header(hc, n))
        return ts__fail_parse(hc, 431);
    /* the URL may arrive in pieces: append to path, split at '?' at the end */
    size_t have = strlen(hc->req.path);
    if (have + n >= sizeof hc->req.path)
        return ts__fail_parse(hc, 431);
    memcpy(hc->req.path + have, at, n);
    hc->req.path[have + n] = '\0';
    return 0;
}

static int ts__on_header_field(http_parser *p, const char *at, size_t n)
{
    ts_http_conn *hc = p->data;
    if (ts__count_header(hc, n))
        return ts__fail_parse(hc, 431);
    if (hc->cur_header != H_NONE && hc->cur_header != (ts__hdr)-1) {
        /* a new field begins after a value */
        hc->header_name_len = 0;
    }
    if (hc->header_name_len + n < sizeof hc->header_name) {
        memcpy(hc->header_name + hc->header_name_len, at, n);
        hc->header_name_len += n;
    } else {
        hc->header_name_len = sizeof hc->header_name - 1;
    }
    hc->header_name[hc->header_name_len] = '\0';
    hc->cur_header = (ts__hdr)-1; /* name in progress */
    return 0;
}

static int ts__on_header_value(http_parser *p, const char *at, size_t n)
{
    ts_http_conn *hc = p->data;
    if (ts__count_header(hc, n))
        return ts__fail_parse(hc, 431);
    if (hc->cur_header == (ts__hdr)-1) {
        const char *name = hc->header_name;
        hc->cur_header = strcasecmp(name, "authorization") == 0       ? H_AUTH
                         : strcasecmp(name, "cookie") == 0            ? H_COOKIE
                         : strcasecmp(name, "content-type") == 0      ? H_CTYPE
                         : strcasecmp(name, "x-requested-with") == 0  ? H_XRW
                         : strcasecmp(name, "origin") == 0            ? H_ORIGIN
                                                                       : H_OTHER;
    }
    char *dst = NULL;
    size_t cap = 0;
    switch (hc->cur_header) {
    case H_AUTH: dst = hc->req.authorization; cap = sizeof hc->req.authorization; break;
    case H_COOKIE: dst = hc->req.cookie; cap = sizeof hc->req.cookie; break;
    case H_CTYPE: dst = hc->req.content_type; cap = sizeof hc->req.content_type; break;
    case H_XRW: dst = hc->req.requested_with; cap = sizeof hc->req.requested_with; break;
    case H_ORIGIN: dst = hc->req.origin; cap = sizeof hc->req.origin; break;
    default: return 0;
    }
    size_t have = strlen(dst);
    if (have + n >= cap)
        return ts__fail_parse(hc, 431);
    memcpy(dst + have, at, n);
    dst[have + n] = '\0';
    return 0;
}

static int ts__on_headers_complete(http_parser *p)
{
    ts_http_conn *hc = p->data;
    hc->cur_header = H_NONE;
    /* refuse an oversized body before reading any of it */
    if (p->content_length != ULLONG_MAX && p->content_length > hc->srv->limits.max_body)
    {
        ts__fail_parse(hc, 413);
        return -1; /* neither 0, 1 nor 2: the parser stops with an error */
    }
    char *q = strchr(hc->req.path, '?');
    if (q != NULL) {
        snprintf(hc->req.query, sizeof hc->req.query, "%s", q + 1);
        *q = '\0';
    }
    hc->req.method = (enum http_method)p->method;
    /* the body at body_min_rate; a chunked one is allowed the largest size */
    const ts_http_limits *l = &hc->srv->limits;
    uint64_t len = p->content_length != ULLONG_MAX ? p->content_length : (p->flags & F_CHUNKED ? l->max_body : 0);
    ts_conn_set_deadline(&hc->conn, l->body_timeout_ms + len * 1000 / (l->body_min_rate ? l->body_min_rate : 1));
    hc->in_body = true;
    return 0;
}

static int ts__on_body(http_parser *p, const char *at, size_t n)
{
    ts_http_conn *hc = p->data;
    if (hc->req.body.len + n > hc->srv->limits.max_body)
        return ts__fail_parse(hc, 413);
    ts_buf_append(&hc->req.body, at, n);
    return 0;
}

static int ts__on_message_complete(http_parser *p)
{
    ts_http_conn *hc = p->data;
    ts_conn_set_deadline(&hc->conn, 0); /* the answer's time is not the client's */
    hc->in_body = false;
    hc->in_request = true;
    http_parser_pause(p, 1); /* one request at a time */
    return 0;
}

static const http_parser_settings *ts__settings(void)
{
    static http_parser_settings s;
    static bool init;
    if (!init) {
        http_parser_settings_init(&s);
        s.on_message_begin = ts__on_message_begin;
        s.on_url = ts__on_url;
        s.on_header_field = ts__on_header_field;
        s.on_header_value = ts__on_header_value;
        s.on_headers_complete = ts__on_headers_complete;
        s.on_body = ts__on_body;
        s.on_message_complete = ts__on_message_complete;
        init = true;
    }
    return &s;
}

/* ---------------------------------------------------------------- responses */

static void ts__write(ts_http_conn *hc, const void *data, size_t len)
{
    if (!hc->closing)
        ts_conn_write(&hc->conn, data, len);
}

static void ts__feed(ts_http_conn *hc, const uint8_t *data, size_t len);

void ts_http_respond(ts_http_conn *hc, int status, const char *content_type, const void *body, size_t len,
                     const char *extra_headers)
{
    if (!hc->in_request)
        return;
    hc->in_request = false;
    if (!hc->closing && hc->conn.open) {
        ts_buf b = TS_BUF_INIT;
        ts_buf_printf(&b,
                      "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
                      "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
                      "X-Frame-Options: DENY\r\n" TS__HSTS "%s%s%s%s",
                      status, ts_http_status_text(status), body ? len : 0, content_type ? "Content-Type: " : "",
                      content_type ? content_type : "", content_type ? "\r\n" : "", extra_headers ? extra_headers : "");
        if (!hc->keep_alive)
            ts_buf_append_str(&b, "Connection: close\r\n");
        ts_buf_append_str(&b, "\r\n");
        if (body && len)
            ts_buf_append(&b, body, len);
        ts__write(hc, b.data, b.len);
        ts_buf_free(&b);
    }
    if (!hc->keep_alive || hc->bad_request) {
        hc->closing = true;
        ts_conn_close(&hc->conn, 0, true);
        return;
    }
    /* go on with what the client already sent */
    http_parser_pause(&hc->parser, 0);
    ts_conn_pause(&hc->conn, false);
    if (hc->stash.len) {
        size_t n;
        uint8_t *bytes = ts_buf_steal(&hc->stash, &n);
        ts__feed(hc, bytes, n);
        free(bytes);
    }
}

void ts_http_error(ts_http_conn *hc, int status, const char *code, const char *message)
{
    ts_buf b = TS_BUF_INIT;
    ts_buf_append_str(&b, "{\"error\":{\"code\":\"");
    ts_buf_append_str(&b, code);
    ts_buf_append_str(&b, "\",\"message\":");
    /* JSON string escaping of the message */
    ts_buf_append(&b, "\"", 1);
    for (const char *p = message; *p; p++) {
        if (*p == '"' || *p == '\\')
            ts_buf_printf(&b, "\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            ts_buf_printf(&b, "\\u%04x", (unsigned char)*p);
        else
            ts_buf_append(&b, p, 1);
    }
    ts_buf_append_str(&b, "\"}}");
    ts_http_respond(hc, status, "application/json; charset=utf-8", b.data, b.len, NULL);
    ts_buf_free(&b);
}

void ts_http_sse_start(ts_http_conn *hc)
{
    if (!hc->in_request || hc->closing)
        return;
    hc->in_request = false;
    hc->sse = true;
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                               "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n" TS__HSTS
                               "Connection: keep-alive\r\n\r\n: stream open\n\n";
    ts__write(hc, head, sizeof head - 1);
    ts_conn_set_idle_timeout(&hc->conn, 0); /* an event stream may be quiet for long */
    ts_conn_set_deadline(&hc->conn, 0);
}

bool ts_http_sse_send(ts_http_conn *hc, const char *event, const char *data)
{
    if (!hc->sse || hc->closing || !hc->conn.open)
        return false;
    if (ts_conn_queued(&hc->conn) > TS__SSE_MAX_QUEUE) {
        ts_log_info("sse_dropped", "peer=%s reason=slow_reader", hc->conn.peer_addr);
        hc->closing = true;
        ts_conn_close(&hc->conn, 0, false);
        return false;
    }
    ts_buf b = TS_BUF_INIT;
    if (event)
        ts_buf_printf(&b, "event: %s\n", event);
    /* data lines may not hold newlines */
    const char *p = data;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        ts_buf_append_str(&b, "data: ");
        ts_buf_append(&b, p, n);
        ts_buf_append_str(&b, "\n");
        p += n + (nl != NULL);
    }
    ts_buf_append_str(&b, "\n");
    ts__write(hc, b.data, b.len);
    ts_buf_free(&b);
    return true;
}

void ts_http_each_sse(ts_http_server *srv, ts_http_each_fn fn, void *arg)
{
    for (ts_http_conn *hc = srv->conns, *next; hc; hc = next) {
        next = hc->next;
        if (hc->sse && !hc->closing)
            fn(hc, arg);
    }
}

/* ---------------------------------------------------------------- connection */

static void ts__dispatch(ts_http_conn *hc)
{
    ts_http_server *srv = hc->srv;
    srv->requests++;
    hc->keep_alive = http_should_keep_alive(&hc->parser) != 0;
    /* a per-connection rate limit: a burst, then an average */
    uint64_t now = ts_wall_ms();
    hc->tokens += (double)(now - hc->tokens_at) / 1000.0 * (double)srv->limits.rate_per_s;
    hc->tokens_at = now;
    if (hc->tokens > (double)srv->limits.rate_burst)
        hc->tokens = (double)srv->limits.rate_burst;
    if (hc->tokens < 1) {
        ts_log_warn("admin_rate_limited", "peer=%s", hc->conn.peer_addr);
        static const char body[] = "{\"error\":{\"code\":\"RATE_LIMITED\",\"message\":\"too many requests: slow down\"}}";
        ts_http_respond(hc, 429, "application/json", body, sizeof body - 1, "Retry-After: 1\r\n");
        return;
    }
    hc->tokens -= 1;
    ts_http_conn_ref(hc);
    srv->handler(hc, &hc->req, srv->ctx);
    ts_http_conn_unref(hc);
}

static void ts__feed(ts_http_conn *hc, const uint8_t *data, size_t len)
{
    if (hc->closing)
        return;
    if (hc->in_request || hc->sse) {
        if (hc->sse)
            return; /* an event stream takes no more requests */
        ts_buf_append(&hc->stash, data, len);
        ts_conn_pause(&hc->conn, true);
        return;
    }
    size_t used = http_parser_execute(&hc->parser, ts__settings(), (const char *)data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&hc->parser);
    if (hc->bad_request) {
        int status = hc->bad_status;
        hc->in_request = true;
        hc->keep_alive = false;
        ts_log_warn("admin_bad_request", "peer=%s status=%d", hc->conn.peer_addr, status);
        ts_http_error(hc, status, status == 413 ? "BODY_TOO_LARGE" : "HEADERS_TOO_LARGE",
                      status == 413 ? "request body too large" : "request headers too large");
        return;
    }
    if (e != HPE_OK && e != HPE_PAUSED) {
        ts_log_warn("admin_bad_request", "peer=%s reason=%s", hc->conn.peer_addr, http_errno_description(e));
        hc->in_request = true;
        hc->keep_alive = false;
        hc->bad_request = true;
        ts_http_error(hc, 400, "BAD_REQUEST", http_errno_description(e));
        return;
    }
    if (hc->in_request) {
        if (used < len) {
            ts_buf_append(&hc->stash, data + used, len - used);
            ts_conn_pause(&hc->conn, true);
        }
        ts__dispatch(hc);
    }
}

static void ts__on_open(ts_conn *c)
{
    ts_http_conn *hc = c->data;
    hc->req.cert = c->tls.peer.cn[0] ? &c->tls.peer : NULL;
}

static void ts__on_data(ts_conn *c, const uint8_t *data, size_t len)
{
    ts_http_conn *hc = c->data;
    ts_http_conn_ref(hc);
    ts__feed(hc, data, len);
    /* the analyzer cannot see that this reference keeps hc alive through
     * ts__dispatch's own ref/unref pair */
    ts_http_conn_unref(hc); // NOLINT(clang-analyzer-unix.Malloc)
}

static void ts__on_close(ts_conn *c, int reason)
{
    (void)reason;
    ts_http_conn *hc = c->data;
    hc->closing = true;
    hc->sse = false;
    ts_http_conn_unref(hc);
}

/* A request that did not arrive in time (slow headers or body, or a TLS
 * handshake that never finished): 408 when TLS is up, then close. */
static void ts__on_deadline(ts_conn *c)
{
    ts_http_conn *hc = c->data;
    if (hc->closing || hc->sse)
        return;
    const char *phase = !c->open ? "tls" : hc->in_body ? "body" : "headers";
    ts_log_warn("admin_request_timeout", "peer=%s phase=%s", c->peer_addr, phase);
    if (!c->open || hc->in_request) {
        hc->closing = true;
        ts_conn_close(c, TS_ETIMEOUT, false);
        return;
    }
    hc->in_request = true;
    hc->keep_alive = false;
    hc->bad_request = true;
    ts_http_error(hc, 408, "REQUEST_TIMEOUT", "the request did not arrive in time");
}

static const ts_conn_cb ts__http_cb = {ts__on_open, ts__on_data, NULL, ts__on_close, ts__on_deadline};

void ts_http_conn_authenticated(ts_http_conn *hc)
{
    hc->authenticated = true;
}

void ts_http_conn_close(ts_http_conn *hc)
{
    if (hc->closing)
        return;
    hc->closing = true;
    hc->sse = false;
    ts_conn_close(&hc->conn, 0, true);
}

/* The address part of a peer ("1.2.3.4:5" -> "1.2.3.4", "[::1]:5" -> "::1"). */
static void ts__peer_host(const ts_conn *c, char *out, size_t size)
{
    const char *p = c->peer_addr, *end = strrchr(p, ':');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n >= 2 && p[0] == '[' && p[n - 1] == ']')
        snprintf(out, size, "%.*s", (int)(n - 2), p + 1);
    else
        snprintf(out, size, "%.*s", (int)n, p);
}

/* Connections from addr that no request has authenticated yet. */
static uint64_t ts__unauthenticated(const ts_http_server *srv, const ts_http_conn *self)
{
    uint64_t n = 0;
    for (const ts_http_conn *o = srv->conns; o; o = o->next)
        if (o != self && !o->authenticated && !o->closing && strcmp(o->addr, self->addr) == 0)
            n++;
    return n;
}

static void ts__refused_closed(uv_handle_t *h)
{
    free(h);
}

static void ts__listener_closed(uv_handle_t *h);

static void ts__on_connection(uv_stream_t *listener, int status)
{
    ts_http_server *srv = listener->data;
    if (status < 0)
        return;
    if (srv->stopping || srv->nconns >= srv->limits.max_connections) {
        uv_tcp_t *t = ts_xmalloc(sizeof *t);
        uv_tcp_init(srv->loop, t);
        uv_accept(listener, (uv_stream_t *)t);
        uv_close((uv_handle_t *)t, ts__refused_closed);
        ts_log_warn("admin_conn_refused", "reason=%s", srv->stopping ? "stopping" : "max_connections");
        return;
    }
    ts_http_conn *hc = ts_xcalloc(1, sizeof *hc);
    ts_conn_limits lim;
    ts_conn_limits_default(&lim);
    lim.idle_timeout_ms = srv->limits.idle_timeout_ms;
    if (srv->limits.header_timeout_ms)
        lim.handshake_timeout_ms = srv->limits.header_timeout_ms;
    ts_error err;
    if (ts_conn_init(&hc->conn, srv->loop, srv->tls, &ts__http_cb, &lim, &err) < 0) {
        free(hc);
        uv_tcp_t *t = ts_xmalloc(sizeof *t);
        uv_tcp_init(srv->loop, t);
        uv_accept(listener, (uv_stream_t *)t);
        uv_close((uv_handle_t *)t, ts__refused_closed);
        return;
    }
    hc->conn.data = hc;
    hc->srv = srv;
    hc->refs = 1;
    hc->tokens = (double)srv->limits.rate_burst;
    hc->tokens_at = ts_wall_ms();
    ts_buf_init(&hc->stash);
    ts_buf_init(&hc->req.body);
    http_parser_init(&hc->parser, HTTP_REQUEST);
    hc->parser.data = hc;
    hc->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = hc;
    srv->conns = hc;
    srv->nconns++;
    ts__reset_request(hc);
    if (uv_accept(listener, (uv_stream_t *)&hc->conn.tcp) != 0) {
        ts_conn_close(&hc->conn, 0, false);
        return;
    }
    ts_conn_start(&hc->conn, &err);
    ts__peer_host(&hc->conn, hc->addr, sizeof hc->addr);
    if (srv->limits.max_unauthenticated_per_address &&
        ts__unauthenticated(srv, hc) >= srv->limits.max_unauthenticated_per_address) {
        ts_log_warn("admin_conn_refused", "reason=per_address peer=%s limit=%" PRIu64, hc->conn.peer_addr,
                    srv->limits.max_unauthenticated_per_address);
        hc->closing = true;
        ts_conn_close(&hc->conn, TS_EBUSY, false);
        return;
    }
    /* the handshake and the first request's headers */
    ts_conn_set_deadline(&hc->conn, srv->limits.header_timeout_ms);
}

int ts_http_server_start(ts_http_server **out, uv_loop_t *loop, const char *listen, ts_tls_ctx *tls,
                         const ts_http_limits *limits, ts_http_handler handler, void *ctx, ts_error *err)
{
    struct sockaddr_storage addr;
    int rc = ts_parse_listen(listen, &addr, err);
    if (rc < 0)
        return rc;
    ts_http_server *srv = ts_xcalloc(1, sizeof *srv);
    srv->loop = loop;
    srv->tls = tls;
    ts_tls_ctx_ref(tls);
    srv->limits = *limits;
    srv->handler = handler;
    srv->ctx = ctx;
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    int uvrc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
    if (uvrc == 0)
        uvrc = uv_listen((uv_stream_t *)&srv->listener, 256, ts__on_connection);
    if (uvrc != 0) {
        rc = ts_error_set(err, TS_EIO, "cannot listen on %s: %s", listen, uv_strerror(uvrc));
        /* the handle lives inside srv: libuv frees nothing, srv goes in the callback */
        srv->stopping = true;
        uv_close((uv_handle_t *)&srv->listener, ts__listener_closed);
        return rc;
    }
    *out = srv;
    return 0;
}

void ts_http_server_set_tls(ts_http_server *srv, ts_tls_ctx *tls)
{
    ts_tls_ctx_ref(tls);
    ts_tls_ctx_unref(srv->tls);
    srv->tls = tls;
    for (ts_http_conn *hc = srv->conns; hc; hc = hc->next) {
        if (hc->closing || !hc->conn.open || !ts_tls_ctx_revokes(tls, &hc->conn.tls.peer))
            continue;
        ts_log_warn("admin_session_revoked", "peer=%s cn=%s serial=%s", hc->conn.peer_addr, hc->conn.tls.peer.cn,
                    hc->conn.tls.peer.serial);
        ts_http_conn_close(hc);
    }
}

void ts_http_server_set_limits(ts_http_server *srv, const ts_http_limits *limits)
{
    srv->limits = *limits;
}

int ts_http_server_port(ts_http_server *srv)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

uint64_t ts_http_server_requests(const ts_http_server *srv)
{
    return srv->requests;
}

static void ts__listener_closed(uv_handle_t *h)
{
    ts_http_server *srv = h->data;
    srv->listener_closed = true;
    ts_tls_ctx_unref(srv->tls);
    srv->tls = NULL;
    if (srv->conns != NULL)
        return; /* the last connection's unref finishes */
    void (*done)(void *) = srv->stop_done;
    void *arg = srv->stop_arg;
    free(srv);
    if (done)
        done(arg);
}

void ts_http_server_stop(ts_http_server *srv, void (*done)(void *arg), void *arg)
{
    srv->stopping = true;
    srv->stop_done = done;
    srv->stop_arg = arg;
    for (ts_http_conn *hc = srv->conns; hc; hc = hc->next) {
        hc->closing = true;
        ts_conn_close(&hc->conn, TS_ESHUTTING_DOWN, true);
    }
    uv_close((uv_handle_t *)&srv->listener, ts__listener_closed);
}

/* ---------------------------------------------------------------- query strings */

static int ts__hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool ts_http_query(const ts_http_req *req, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    const char *p = req->query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t seg = amp ? (size_t)(amp - p) : strlen(p);
        if (seg > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t o = 0;
            for (size_t i = nl + 1; i < seg && o + 1 < size; i++) {
                char c = p[i];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%' && i + 2 < seg + 1 && ts__hex(p[i + 1]) >= 0 && ts__hex(p[i + 2]) >= 0) {
                    c = (char)(ts__hex(p[i + 1]) * 16 + ts__hex(p[i + 2]));
                    i += 2;
                }
                out[o++] = c;
            }
            out[o] = '\0';
            return true;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    if (size)
        out[0] = '\0';
    return false;
}
