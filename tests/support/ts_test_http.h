/* A tiny blocking HTTPS/1.1 client for the admin API tests: one keep-alive
 * connection (optionally with a client certificate), requests with any
 * method, headers and body, raw bytes for malformed requests, responses
 * framed by Content-Length, and raw reads for event streams. */
#ifndef TS_TEST_HTTP_H
#define TS_TEST_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <openssl/ssl.h>

typedef struct ts_th_opts {
    const char *ca;   /* verifies the server (NULL: no verification) */
    const char *cert; /* client certificate (NULL: none) */
    const char *key;
    const char *source; /* connect from this loopback address (e.g. "127.0.0.2"); NULL: the default */
} ts_th_opts;

typedef struct ts_th {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char error[300];
    char *pending; /* bytes read past the last response */
    size_t npending;
} ts_th;

typedef struct ts_th_resp {
    int status;
    char *head;   /* status line and headers, NUL-terminated */
    char *body;   /* NUL-terminated */
    size_t body_len;
    json_t *json; /* the body parsed, when it is JSON */
} ts_th_resp;

/* TLS connect to 127.0.0.1:port; 0 or -1 (error says why). */
int ts_th_connect(ts_th *c, int port, const ts_th_opts *o);
void ts_th_close(ts_th *c);
int ts_th_send_raw(ts_th *c, const void *data, size_t len);
/* Reads one response; 0, or -1 on timeout or a closed connection. */
int ts_th_read(ts_th *c, ts_th_resp *r, int timeout_ms);
/* Reads raw bytes until needle appears (event streams); the text read so far
 * goes to *out (caller frees) when not NULL. true when found in time. */
bool ts_th_read_until(ts_th *c, const char *needle, int timeout_ms, char **out);
/* Sends a request and reads its response. headers: extra full lines
 * ("Name: value\r\n"), may be NULL; body may be NULL (then no
 * Content-Type unless ctype is given). */
int ts_th_request(ts_th *c, const char *method, const char *path, const char *headers, const char *ctype,
                  const char *body, ts_th_resp *r);
void ts_th_resp_free(ts_th_resp *r);
/* A response header's value (case-insensitive name); caller frees, NULL
 * when absent. */
char *ts_th_header(const ts_th_resp *r, const char *name);

/* One request on a fresh connection. */
int ts_th_call(int port, const ts_th_opts *o, const char *method, const char *path, const char *headers,
               const char *ctype, const char *body, ts_th_resp *r);

#endif
