/* Frame compression "zstd-1" (docs/PROTOCOL.md, "Frame compression"):
 * negotiated in HELLO/WELCOME; a compressed frame is a body of exactly
 *
 *   {"type": "ZSTD", "size": <the body's size once decompressed>, "data": <bin: one zstd frame>}
 *
 * (the three keys in this order), made with the dictionary built into both
 * programs (proto/zdict/tramsync-1.dict). The declared size is checked
 * against the receiver's frame limit before anything is allocated, and the
 * data must decompress to exactly that many bytes: a decompression bomb is
 * refused like any frame that is too large or malformed. */
#ifndef TS_ZFRAME_H
#define TS_ZFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ts_buf.h"
#include "common/ts_error.h"

#define TS_ZFRAME_NAME "zstd-1"
/* Bodies below this are sent as they are: the wrapper (about 25 bytes) and
 * zstd's own header leave nothing to win on a PING or a PULL. */
#define TS_ZFRAME_MIN_BODY 256u
#define TS_ZFRAME_LEVEL 3
/* The largest window a compressed frame may ask the decoder for (16 MiB):
 * more than our encoder ever uses, far less than zstd's default 128 MiB. */
#define TS_ZFRAME_WINDOW_LOG_MAX 24

/* Whether a body is a compressed frame (it starts as one). */
bool ts_zframe_is(const uint8_t *body, size_t len);

/* The body a compressed frame holds, into out (reset first); `max` is the
 * receiver's frame limit. TS_EFRAME_TOO_LARGE when the declared size is
 * above it (nothing allocated), TS_EMALFORMED for anything else wrong: the
 * wrapper's form, a zstd frame whose own size disagrees, data that
 * decompresses to more or less than declared, a compressed frame inside one. */
int ts_zframe_unwrap(const uint8_t *body, size_t len, size_t max, ts_buf *out, ts_error *err);

/* Replaces the frame in `frame` (4 length bytes and the body) by its
 * compressed form when that is smaller; true when it did. */
bool ts_zframe_wrap(ts_buf *frame);

/* The dictionary's bytes (built in). */
const unsigned char *ts_zframe_dict(size_t *len);

#endif
