#include "proto/ts_frame.h"

#include <string.h>

#include "common/ts_xmalloc.h"
#include "proto/tramsync-protocol.h"

/* Buffers above this are released between frames so idle connections stay small. */
#define TS__FRAME_KEEP_CAP (16u * 1024u)

void ts_frame_decoder_set_max(ts_frame_decoder *d, uint32_t max_frame)
{
    if (max_frame == 0 || max_frame > TS_PROTO_HARD_MAX_FRAME)
        max_frame = max_frame == 0 ? TS_PROTO_DEFAULT_MAX_FRAME : TS_PROTO_HARD_MAX_FRAME;
    d->max_frame = max_frame;
}

void ts_frame_decoder_init(ts_frame_decoder *d, uint32_t max_frame)
{
    memset(d, 0, sizeof *d);
    ts_buf_init(&d->body);
    ts_frame_decoder_set_max(d, max_frame);
}

uint32_t ts_frame_decoder_need(const ts_frame_decoder *d)
{
    return d->have_frame || d->hdr_have < 4 ? 0 : d->need;
}

int ts_frame_decoder_in_frame(const ts_frame_decoder *d)
{
    return !d->have_frame && d->hdr_have > 0;
}

void ts_frame_decoder_release(ts_frame_decoder *d)
{
    if (!d->have_frame)
        return;
    d->have_frame = 0;
    d->hdr_have = 0;
    d->header_told = 0;
    d->need = 0;
    if (d->body.cap > TS__FRAME_KEEP_CAP)
        ts_buf_free(&d->body);
    else
        ts_buf_reset(&d->body);
}

void ts_frame_decoder_free(ts_frame_decoder *d)
{
    ts_buf_free(&d->body);
}

size_t ts_frame_decoder_buffered(const ts_frame_decoder *d)
{
    return d->body.cap;
}

int ts_frame_decoder_feed(ts_frame_decoder *d, const uint8_t *data, size_t len, size_t *consumed,
                          const uint8_t **frame, size_t *frame_len, ts_error *err)
{
    size_t used = 0;
    *consumed = 0;
    if (d->error)
        return ts_error_set(err, d->error, "stream already failed");
    ts_frame_decoder_release(d);

    while (d->hdr_have < 4) {
        if (used == len) {
            *consumed = used;
            return 0;
        }
        d->hdr[d->hdr_have++] = data[used++];
        if (d->hdr_have == 4) {
            uint32_t n = (uint32_t)d->hdr[0] << 24 | (uint32_t)d->hdr[1] << 16 | (uint32_t)d->hdr[2] << 8 |
                         d->hdr[3];
            if (n == 0) {
                d->error = TS_EMALFORMED;
                *consumed = used;
                return ts_error_set(err, TS_EMALFORMED, "frame of length 0");
            }
            if (n > d->max_frame) {
                d->error = TS_EFRAME_TOO_LARGE;
                *consumed = used;
                return ts_error_set(err, TS_EFRAME_TOO_LARGE, "frame of %u bytes exceeds the limit of %u",
                                    n, d->max_frame);
            }
            d->need = n;
        }
    }
    if (d->stop_at_header && !d->header_told) {
        d->header_told = 1;
        *consumed = used;
        return TS_FRAME_HEADER;
    }

    size_t missing = d->need - d->body.len;
    size_t take = len - used < missing ? len - used : missing;
    if (d->body.cap - d->body.len < take) {
        /* grow geometrically with what arrives, never past the declared length */
        size_t want = d->body.cap ? d->body.cap * 2 : 4096;
        if (want < d->body.len + take)
            want = d->body.len + take;
        if (want > d->need)
            want = d->need;
        d->body.data = ts_xrealloc(d->body.data, want);
        d->body.cap = want;
    }
    ts_buf_append(&d->body, data + used, take);
    used += take;
    *consumed = used;
    if (d->body.len < d->need)
        return 0;
    d->have_frame = 1;
    *frame = d->body.data;
    *frame_len = d->body.len;
    return 1;
}

void ts_frame_put_header(ts_buf *out, uint32_t len)
{
    ts_buf_append_u32be(out, len);
}
