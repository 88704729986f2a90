/* libFuzzer target: bytes from the network, as a station or the daemon reads
 * them. The first input byte picks how the rest is cut into reads (its low
 * 7 bits: 0, one read; n, reads of 1..n bytes, sizes drawn from a PRNG
 * seeded by the input) and, with its high bit, whether the decoder is run
 * as the daemon's sessions run it: the HELLO frame cap until a first frame
 * came, and the stop at each header (nothing buffered yet, the declared
 * length within the limit), each frame released at once;
 * the frame decoder reassembles frames, and every frame goes through
 * ts_msg_decode with tight limits. A message that decodes must encode, decode
 * again and encode to the very same bytes (the encoding is canonical);
 * anything else is a bug and aborts. A compressed frame ("ZSTD") is
 * decompressed within the frame limit and its body checked the same way. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_buf.h"
#include "proto/tramsync-protocol.h"
#include "proto/ts_frame.h"
#include "proto/ts_msg.h"
#include "proto/ts_zframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_FRAME (64u * 1024u)

static void fuzz_limits(ts_proto_limits *l)
{
    /* small enough that every limit is reachable by the fuzzer */
    ts_proto_limits_default(l);
    l->max_frame = FUZZ_MAX_FRAME;
    l->mp.max_depth = 8;
    l->mp.max_elements = 256;
    l->mp.max_objects = 4096;
    l->mp.max_str = 4096;
    l->max_changes = 16;
    l->max_fields = 32;
    l->max_vv = 16;
    /* the highest version reads every form of PUSH and CHANGES: compact of
     * version 3 and 2, and maps */
    l->proto = TS_PROTO_VERSION_MAX;
}

static void die(const char *what, const ts_error *err)
{
    fprintf(stderr, "fuzz_frame: %s%s%s\n", what, err ? ": " : "", err ? err->msg : "");
    abort();
}

static void check_frame(const uint8_t *body, size_t len, const ts_proto_limits *limits)
{
    ts_msg msg;
    ts_error err;
    if (ts_zframe_is(body, len)) {
        /* a compressed frame (docs/PROTOCOL.md, "Frame compression"): the
         * body it holds, never more than the frame limit, goes through the
         * same checks; a refusal must say why */
        ts_buf inner = TS_BUF_INIT;
        if (ts_zframe_unwrap(body, len, limits->max_frame, &inner, &err) != 0) {
            if (err.code >= 0 || err.msg[0] == '\0' || inner.len != 0)
                die("unwrap failed without a code and a message, or kept bytes", NULL);
        } else {
            if (inner.len == 0 || inner.len > limits->max_frame || ts_zframe_is(inner.data, inner.len))
                die("unwrap gave a body outside the limits", NULL);
            check_frame(inner.data, inner.len, limits);
        }
        ts_buf_free(&inner);
        return;
    }
    if (ts_msg_decode(body, len, limits, &msg, &err) != 0) {
        if (err.code >= 0 || err.msg[0] == '\0')
            die("decode failed without a code and a message", NULL);
        return;
    }
    ts_buf first = TS_BUF_INIT;
    ts_msg_encode(&msg, &first);
    if (first.len < 5)
        die("encoding shorter than a frame", NULL);
    uint32_t declared = (uint32_t)first.data[0] << 24 | (uint32_t)first.data[1] << 16 |
                        (uint32_t)first.data[2] << 8 | first.data[3];
    if (declared != first.len - 4)
        die("frame header does not match the body", NULL);

    /* the canonical form may be a little larger than the input (float32
     * widened, optional keys written out), so the second decode uses the
     * protocol defaults: what is checked here is stability, not limits */
    ts_proto_limits wide;
    ts_proto_limits_default(&wide);
    wide.proto = TS_PROTO_VERSION_MAX;
    ts_msg again;
    if (ts_msg_decode(first.data + 4, first.len - 4, &wide, &again, &err) != 0)
        die("own encoding does not decode", &err);
    if (again.type != msg.type)
        die("type changed in the round trip", NULL);
    ts_buf second = TS_BUF_INIT;
    ts_msg_encode(&again, &second);
    if (second.len != first.len || memcmp(second.data, first.data, first.len) != 0)
        die("encode(decode(encode(m))) differs from encode(m)", NULL);

    ts_buf_free(&second);
    ts_msg_free(&again);
    ts_buf_free(&first);
    ts_msg_free(&msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] & 0x7f;
    bool session = (data[0] & 0x80) != 0;
    const uint8_t *stream = data + 1;
    size_t len = size - 1;
    uint32_t rng = 0x9e3779b9u ^ (uint32_t)mode ^ (uint32_t)len << 8;

    ts_proto_limits limits;
    fuzz_limits(&limits);
    ts_frame_decoder d;
    ts_frame_decoder_init(&d, session ? TS_PROTO_MAX_HELLO_FRAME : limits.max_frame);
    d.stop_at_header = session;
    uint32_t max_now = session ? TS_PROTO_MAX_HELLO_FRAME : limits.max_frame;
    size_t pos = 0;
    int failed = 0;
    while (pos < len && !failed) {
        size_t chunk = len - pos;
        if (mode != 0) {
            rng ^= rng << 13; /* xorshift32 */
            rng ^= rng >> 17;
            rng ^= rng << 5;
            size_t want = 1 + rng % mode;
            if (want < chunk)
                chunk = want;
        }
        const uint8_t *p = stream + pos;
        size_t left = chunk;
        for (;;) {
            size_t consumed = 0;
            const uint8_t *frame = NULL;
            size_t frame_len = 0;
            ts_error err;
            int rc = ts_frame_decoder_feed(&d, p, left, &consumed, &frame, &frame_len, &err);
            if (consumed > left)
                die("consumed more than it was given", NULL);
            p += consumed;
            left -= consumed;
            pos += consumed;
            if (rc < 0) {
                /* errors stick */
                size_t c2 = 1;
                if (ts_frame_decoder_feed(&d, p, left, &c2, &frame, &frame_len, &err) != rc || c2 != 0)
                    die("frame error did not stick", NULL);
                failed = 1;
                break;
            }
            if (rc == 0) {
                if (left != 0)
                    die("returned 0 with bytes left", NULL);
                break;
            }
            if (rc == TS_FRAME_HEADER) {
                uint32_t need = ts_frame_decoder_need(&d);
                if (!session || need == 0 || need > max_now || d.body.len != 0)
                    die("a header stop without a checked length, or with body bytes held", NULL);
                continue;
            }
            if (frame_len == 0 || frame_len > max_now)
                die("frame outside the limits", NULL);
            check_frame(frame, frame_len, &limits);
            if (session) {
                ts_frame_decoder_release(&d);
                if (ts_frame_decoder_buffered(&d) > 16u * 1024u || ts_frame_decoder_in_frame(&d))
                    die("a released frame still holds its body", NULL);
                ts_frame_decoder_set_max(&d, limits.max_frame);
                max_now = limits.max_frame;
            }
            if (left == 0)
                break;
        }
    }
    ts_frame_decoder_free(&d);
    return 0;
}
