/* Incremental frame decoder: bytes in arbitrary chunks (one at a time works)
 * in, whole frame bodies out. It never trusts the declared length: the buffer
 * grows only as bytes actually arrive, and a length above the limit is an
 * error before anything is allocated for it (redis networking.c does the same). */
#ifndef TS_FRAME_H
#define TS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/ts_buf.h"
#include "common/ts_error.h"

typedef struct ts_frame_decoder {
    ts_buf body;
    uint32_t max_frame;
    uint32_t need; /* body length of the frame being read */
    uint8_t hdr[4];
    uint8_t hdr_have;
    uint8_t have_frame; /* a frame was returned and must be released on the next feed */
    uint8_t stop_at_header; /* feed returns TS_FRAME_HEADER once a header is read */
    uint8_t header_told;    /* TS_FRAME_HEADER was returned for the frame in progress */
    int error;          /* sticky: once set, every feed returns it */
} ts_frame_decoder;

/* ts_frame_decoder_feed's "a header was read" result (stop_at_header only). */
#define TS_FRAME_HEADER 2

void ts_frame_decoder_init(ts_frame_decoder *d, uint32_t max_frame);
void ts_frame_decoder_free(ts_frame_decoder *d);

/* Consumes bytes from data until one frame is complete or data runs out.
 * Returns 1 with *frame and *frame_len set when a frame is ready (valid until the
 * next call or ts_frame_decoder_release), 0 when every byte was consumed and
 * more are needed, or a negative TS_E* code (sticky). *consumed says how many
 * bytes were used. With stop_at_header set it also returns TS_FRAME_HEADER
 * right after a frame's length was read and checked, before any byte of its
 * body is buffered, so the caller can decide whether to take the body now
 * (ts_frame_decoder_need tells its length); feeding again goes on with it. */
int ts_frame_decoder_feed(ts_frame_decoder *d, const uint8_t *data, size_t len, size_t *consumed,
                          const uint8_t **frame, size_t *frame_len, ts_error *err);

/* Bytes currently held for a partial frame (for memory accounting). */
size_t ts_frame_decoder_buffered(const ts_frame_decoder *d);

/* Changes the frame limit for the frames that follow (a frame whose header
 * was already read keeps the limit it was checked against). */
void ts_frame_decoder_set_max(ts_frame_decoder *d, uint32_t max_frame);
/* Body length declared by the frame in progress; 0 between frames. */
uint32_t ts_frame_decoder_need(const ts_frame_decoder *d);
/* True while a frame is partly read (some of its header or body). */
int ts_frame_decoder_in_frame(const ts_frame_decoder *d);
/* Gives back the frame returned by the last feed now rather than at the
 * next feed, so a large body is not kept while the connection is quiet. */
void ts_frame_decoder_release(ts_frame_decoder *d);

/* Appends a frame header for a body of len bytes. */
void ts_frame_put_header(ts_buf *out, uint32_t len);

#endif
