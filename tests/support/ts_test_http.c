#include "tests/support/ts_test_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "common/ts_xmalloc.h"

static void th_err(ts_th *c, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[200] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    snprintf(c->error, sizeof c->error, "%s: %s", what, e ? buf : strerror(errno));
    ERR_clear_error();
}

static long long th_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ts_th_connect(ts_th *c, int port, const ts_th_opts *o)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (c->fd >= 0 && o && o->source) {
        struct sockaddr_in from;
        memset(&from, 0, sizeof from);
        from.sin_family = AF_INET;
        inet_pton(AF_INET, o->source, &from.sin_addr);
        if (bind(c->fd, (struct sockaddr *)&from, sizeof from) != 0) {
            th_err(c, "bind");
            return -1;
        }
    }
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        th_err(c, "connect");
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (o && o->cert && (SSL_CTX_use_certificate_chain_file(c->ctx, o->cert) != 1 ||
                         SSL_CTX_use_PrivateKey_file(c->ctx, o->key, SSL_FILETYPE_PEM) != 1)) {
        th_err(c, "client certificate");
        return -1;
    }
    if (o && o->ca) {
        SSL_CTX_load_verify_locations(c->ctx, o->ca, NULL);
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    }
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    struct timeval tv = {10, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ERR_clear_error();
    if (SSL_connect(c->ssl) != 1) {
        th_err(c, "TLS handshake");
        return -1;
    }
    return 0;
}

void ts_th_close(ts_th *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    if (c->fd > 0)
        close(c->fd);
    free(c->pending);
    memset(c, 0, sizeof *c);
}

int ts_th_send_raw(ts_th *c, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        int n = SSL_write(c->ssl, p, len > 1 << 20 ? 1 << 20 : (int)len);
        if (n <= 0) {
            th_err(c, "write");
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Appends what the server sends within the time left; 1 read, 0 timeout, -1 closed. */
static int th_fill(ts_th *c, long long deadline)
{
    char buf[16384];
    for (;;) {
        if (SSL_pending(c->ssl) == 0) {
            long long left = deadline - th_now_ms();
            if (left <= 0)
                return 0;
            struct pollfd pfd = {c->fd, POLLIN, 0};
            int pr = poll(&pfd, 1, (int)left);
            if (pr == 0)
                return 0;
            if (pr < 0 && errno != EINTR)
                return -1;
        }
        int n = SSL_read(c->ssl, buf, sizeof buf);
        if (n > 0) {
            c->pending = ts_xrealloc(c->pending, c->npending + (size_t)n + 1);
            memcpy(c->pending + c->npending, buf, (size_t)n);
            c->npending += (size_t)n;
            c->pending[c->npending] = '\0';
            return 1;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ)
            continue;
        ERR_clear_error();
        snprintf(c->error, sizeof c->error, "connection closed");
        return -1;
    }
}

static void th_consume(ts_th *c, size_t n)
{
    memmove(c->pending, c->pending + n, c->npending - n);
    c->npending -= n;
    c->pending[c->npending] = '\0';
}

int ts_th_read(ts_th *c, ts_th_resp *r, int timeout_ms)
{
    memset(r, 0, sizeof *r);
    long long deadline = th_now_ms() + timeout_ms;
    char *end;
    while (c->pending == NULL || (end = strstr(c->pending, "\r\n\r\n")) == NULL) {
        if (th_fill(c, deadline) <= 0) {
            if (!c->error[0])
                snprintf(c->error, sizeof c->error, "no response within %d ms", timeout_ms);
            return -1;
        }
    }
    size_t head_len = (size_t)(end - c->pending) + 4;
    r->head = ts_xstrndup(c->pending, head_len - 2);
    th_consume(c, head_len);
    r->status = atoi(strchr(r->head, ' ') ? strchr(r->head, ' ') + 1 : "0");
    char *cl = ts_th_header(r, "Content-Length");
    size_t len = cl ? (size_t)strtoull(cl, NULL, 10) : 0;
    free(cl);
    while (c->npending < len)
        if (th_fill(c, deadline) <= 0) {
            snprintf(c->error, sizeof c->error, "body cut short (%zu of %zu bytes)", c->npending, len);
            return -1;
        }
    r->body = ts_xmalloc(len + 1);
    memcpy(r->body, c->pending, len);
    r->body[len] = '\0';
    r->body_len = len;
    th_consume(c, len);
    r->json = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, NULL);
    return 0;
}

bool ts_th_read_until(ts_th *c, const char *needle, int timeout_ms, char **out)
{
    long long deadline = th_now_ms() + timeout_ms;
    bool found;
    while (!(found = c->pending && strstr(c->pending, needle)))
        if (th_fill(c, deadline) <= 0)
            break;
    if (out)
        *out = ts_xstrdup(c->pending ? c->pending : "");
    return found;
}

int ts_th_request(ts_th *c, const char *method, const char *path, const char *headers, const char *ctype,
                  const char *body, ts_th_resp *r)
{
    char *req = ts_xasprintf("%s %s HTTP/1.1\r\nHost: localhost\r\n%s%s%s%s"
                             "Content-Length: %zu\r\n\r\n%s",
                             method, path, headers ? headers : "", ctype ? "Content-Type: " : "", ctype ? ctype : "",
                             ctype ? "\r\n" : "", body ? strlen(body) : 0, body ? body : "");
    /* a server refusing early (413) may close before all is sent: its
     * answer is read all the same */
    ts_th_send_raw(c, req, strlen(req));
    free(req);
    return ts_th_read(c, r, 20000);
}

void ts_th_resp_free(ts_th_resp *r)
{
    free(r->head);
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

char *ts_th_header(const ts_th_resp *r, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = r->head ? strstr(r->head, "\r\n") : NULL; p; p = strstr(p, "\r\n")) {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            return ts_xstrndup(v, e ? (size_t)(e - v) : strlen(v));
        }
    }
    return NULL;
}

int ts_th_call(int port, const ts_th_opts *o, const char *method, const char *path, const char *headers,
               const char *ctype, const char *body, ts_th_resp *r)
{
    ts_th c;
    if (ts_th_connect(&c, port, o) < 0) {
        memset(r, 0, sizeof *r);
        fprintf(stderr, "ts_th_call: %s\n", c.error);
        ts_th_close(&c);
        return -1;
    }
    int rc = ts_th_request(&c, method, path, headers, ctype, body, r);
    if (rc < 0)
        fprintf(stderr, "ts_th_call %s %s: %s\n", method, path, c.error);
    ts_th_close(&c);
    return rc;
}
