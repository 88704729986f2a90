/* A growable byte buffer; also the write target of msgpack packers. */
#ifndef TS_BUF_H
#define TS_BUF_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

typedef struct ts_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} ts_buf;

#define TS_BUF_INIT {NULL, 0, 0}

void ts_buf_init(ts_buf *b);
void ts_buf_free(ts_buf *b);
void ts_buf_reset(ts_buf *b);
/* Makes room for `extra` more bytes. */
void ts_buf_reserve(ts_buf *b, size_t extra);
void ts_buf_append(ts_buf *b, const void *data, size_t len);
void ts_buf_append_str(ts_buf *b, const char *s);
void ts_buf_printf(ts_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ts_buf_append_u32be(ts_buf *b, uint32_t v);
/* Drops the first n bytes. */
void ts_buf_consume(ts_buf *b, size_t n);
/* Hands the bytes to the caller (who frees them) and empties the buffer. */
uint8_t *ts_buf_steal(ts_buf *b, size_t *len);

/* msgpack_packer write callback; `data` is a ts_buf. */
int ts_buf_mp_write(void *data, const char *buf, size_t len);
/* Initialises a packer writing into b. */
void ts_buf_packer(ts_buf *b, msgpack_packer *pk);

#endif
