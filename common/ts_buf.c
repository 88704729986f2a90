#include "common/ts_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_xmalloc.h"

void ts_buf_init(ts_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void ts_buf_free(ts_buf *b)
{
    free(b->data);
    ts_buf_init(b);
}

void ts_buf_reset(ts_buf *b)
{
    b->len = 0;
}

void ts_buf_reserve(ts_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return;
    size_t want = b->len + extra;
    if (want < b->len)
        want = SIZE_MAX; /* overflow: fatal below */
    size_t cap = b->cap ? b->cap : 64;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    b->data = ts_xrealloc(b->data, cap);
    b->cap = cap;
}

void ts_buf_append(ts_buf *b, const void *data, size_t len)
{
    if (len == 0)
        return;
    ts_buf_reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void ts_buf_append_str(ts_buf *b, const char *s)
{
    ts_buf_append(b, s, strlen(s));
}

void ts_buf_printf(ts_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    ts_buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ts_buf_append_u32be(ts_buf *b, uint32_t v)
{
    uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    ts_buf_append(b, be, 4);
}

void ts_buf_consume(ts_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

uint8_t *ts_buf_steal(ts_buf *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len != NULL)
        *len = b->len;
    ts_buf_init(b);
    return p;
}

int ts_buf_mp_write(void *data, const char *buf, size_t len)
{
    ts_buf_append(data, buf, len);
    return 0;
}

void ts_buf_packer(ts_buf *b, msgpack_packer *pk)
{
    msgpack_packer_init(pk, b, ts_buf_mp_write);
}
