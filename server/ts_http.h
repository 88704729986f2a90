/* A small HTTP/1.1 server over the TLS stream (common/ts_conn.h), parsed by
 * libhttp-parser, for the admin API and the console. One request at a time
 * per connection (the parser pauses until the response is sent); header and
 * body sizes are capped before anything is buffered beyond them; responses
 * may be produced asynchronously (after store work). Server-sent events keep
 * a response open and stream to it. */
#ifndef TS_HTTP_H
#define TS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>
#include <uv.h>

#include "common/ts_buf.h"
#include "common/ts_conn.h"
#include "common/ts_tls.h"

typedef struct ts_http_server ts_http_server;
typedef struct ts_http_conn ts_http_conn;

typedef struct ts_http_req {
    enum http_method method;
    char path[1024];  /* decoded-free raw path, without the query */
    char query[1024];
    char authorization[512];
    char cookie[1024];
    char content_type[128];
    char requested_with[64];
    char origin[256];
    ts_buf body;
    size_t header_bytes;
    const char *peer;          /* address and port */
    const char *addr;          /* the address alone ("10.0.5.23", "::1") */
    const ts_tls_peer *cert;   /* the client certificate, when one was presented */
} ts_http_req;

typedef struct ts_http_limits {
    size_t max_header;   /* total bytes of the request line and headers */
    size_t max_body;
    uint64_t rate_per_s; /* requests per second per connection, on average */
    uint64_t rate_burst;
    uint64_t idle_timeout_ms; /* between requests */
    uint64_t max_connections;
    /* A slow client cannot hold a connection by trickling bytes: the TLS
     * handshake and a request's line and headers must arrive within
     * header_timeout_ms of the connection (first request) or of the
     * request's first byte; its body within body_timeout_ms plus its length
     * at body_min_rate bytes per second. */
    uint64_t header_timeout_ms;
    uint64_t body_timeout_ms;
    uint64_t body_min_rate;
    /* connections from one address that no request has authenticated yet
     * (ts_http_conn_authenticated); 0: no limit */
    uint64_t max_unauthenticated_per_address;
} ts_http_limits;

/* Called for every complete request; must eventually call ts_http_respond
 * (or ts_http_sse_start) exactly once for it. */
typedef void (*ts_http_handler)(ts_http_conn *hc, ts_http_req *req, void *ctx);

int ts_http_server_start(ts_http_server **out, uv_loop_t *loop, const char *listen, ts_tls_ctx *tls,
                         const ts_http_limits *limits, ts_http_handler handler, void *ctx, ts_error *err);
/* New certificates and CRL: connections whose client certificate chain the
 * new CRL revokes are closed at once. */
void ts_http_server_set_tls(ts_http_server *srv, ts_tls_ctx *tls);
void ts_http_server_set_limits(ts_http_server *srv, const ts_http_limits *limits);
int ts_http_server_port(ts_http_server *srv);
/* Closes the listener and every connection; done runs when all are gone. */
void ts_http_server_stop(ts_http_server *srv, void (*done)(void *arg), void *arg);
uint64_t ts_http_server_requests(const ts_http_server *srv);

/* Sends a response. body may be NULL; extra_headers (may be NULL) are full
 * "Name: value\r\n" lines. Keeps the connection unless the client asked to
 * close it. */
void ts_http_respond(ts_http_conn *hc, int status, const char *content_type, const void *body, size_t len,
                     const char *extra_headers);
/* JSON convenience: {"error":{"code":...,"message":...}} with the status. */
void ts_http_error(ts_http_conn *hc, int status, const char *code, const char *message);

/* Server-sent events: answers with text/event-stream and keeps it open. */
void ts_http_sse_start(ts_http_conn *hc);
/* Sends one event on an open stream; false when the stream is gone or its
 * queue is full (the client reads too slowly and is dropped). */
bool ts_http_sse_send(ts_http_conn *hc, const char *event, const char *data);
/* Every open event stream, for broadcasts. */
typedef void (*ts_http_each_fn)(ts_http_conn *hc, void *arg);
void ts_http_each_sse(ts_http_server *srv, ts_http_each_fn fn, void *arg);

/* The owner's state attached to a connection (e.g. who is logged in on an
 * event stream); freed with free() when the connection goes. */
void ts_http_conn_set_data(ts_http_conn *hc, void *data);
void *ts_http_conn_data(ts_http_conn *hc);
/* Keeps a connection alive across an asynchronous handler; every ref needs
 * an unref. A response to a connection that closed meanwhile is dropped. */
void ts_http_conn_ref(ts_http_conn *hc);
void ts_http_conn_unref(ts_http_conn *hc);
/* A request on this connection proved who sent it (a valid login session):
 * it no longer counts against max_unauthenticated_per_address. */
void ts_http_conn_authenticated(ts_http_conn *hc);
/* Ends a connection (an event stream whose session ended) gracefully. */
void ts_http_conn_close(ts_http_conn *hc);

const char *ts_http_status_text(int status);
/* Value of a query parameter (URL-decoded) into out; false when absent. */
bool ts_http_query(const ts_http_req *req, const char *name, char *out, size_t size);

#endif
