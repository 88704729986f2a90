/* The incremental frame decoder (proto/ts_frame.c): streams of frames fed
 * whole, one byte at a time and in random chunks; zero-length and oversized
 * frames refused (the oversized one before anything is allocated for it);
 * errors that stick; the exact limit accepted; and memory that grows with
 * the bytes that arrive, never with what a header merely claims. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_buf.h"
#include "proto/tramsync-protocol.h"
#include "proto/ts_frame.h"
#include "tests/support/ts_test.h"

/* ts_frame.c keeps a buffer of up to this size between frames, so an idle
 * connection does not reallocate for every small frame. */
#define IDLE_KEEP_CAP (16u * 1024u)
/* and starts a buffer at this size (capped at the declared length) */
#define FIRST_CHUNK 4096u

/* ---------------------------------------------------------------- allocation watch */
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ALLOC_WATCH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ALLOC_WATCH 1
#endif
#endif

#ifdef HAVE_ALLOC_WATCH
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
#endif

static volatile int alloc_watching;
static size_t alloc_count;
static size_t alloc_largest;

#ifdef HAVE_ALLOC_WATCH
static void on_malloc(const volatile void *ptr, size_t size)
{
    (void)ptr;
    if (alloc_watching) {
        alloc_count++;
        if (size > alloc_largest)
            alloc_largest = size;
    }
}

static void on_free(const volatile void *ptr)
{
    (void)ptr;
}
#endif

static int install_alloc_watch(void **state)
{
    (void)state;
#ifdef HAVE_ALLOC_WATCH
    static int installed;
    if (!installed)
        installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) != 0;
#endif
    return 0;
}

static void alloc_watch_start(void)
{
    alloc_count = 0;
    alloc_largest = 0;
    alloc_watching = 1;
}

static void alloc_watch_stop(void)
{
    alloc_watching = 0;
}

/* ---------------------------------------------------------------- streams */

#define MAX_FRAMES 64

/* A stream of frames and what a reader must get back from it. */
typedef struct stream {
    ts_buf bytes;
    size_t nframes;
    size_t body_at[MAX_FRAMES]; /* offset of each body within bytes */
    size_t body_len[MAX_FRAMES];
} stream;

static void stream_add(stream *s, const uint8_t *body, size_t len)
{
    assert_true(s->nframes < MAX_FRAMES);
    ts_frame_put_header(&s->bytes, (uint32_t)len);
    s->body_at[s->nframes] = s->bytes.len;
    s->body_len[s->nframes] = len;
    s->nframes++;
    ts_buf_append(&s->bytes, body, len);
}

/* Frames of sizes that cross the decoder's interesting boundaries: 1 byte,
 * the first buffer size, the idle-keep size, and random ones in between. */
static void stream_random(stream *s, ts_rng *r, size_t nframes)
{
    static const size_t edges[] = {1, 2, FIRST_CHUNK - 1, FIRST_CHUNK, FIRST_CHUNK + 1, IDLE_KEEP_CAP,
                                   IDLE_KEEP_CAP + 1, 3 * IDLE_KEEP_CAP + 7};
    memset(s, 0, sizeof *s);
    ts_buf_init(&s->bytes);
    uint8_t *body = malloc(4 * IDLE_KEEP_CAP);
    assert_non_null(body);
    for (size_t i = 0; i < nframes; i++) {
        size_t len = ts_rng_chance(r, 0.4) ? edges[ts_rng_below(r, sizeof edges / sizeof *edges)]
                                           : 1 + (size_t)ts_rng_below(r, ts_rng_chance(r, 0.7) ? 300 : 40000);
        for (size_t k = 0; k < len; k++)
            body[k] = (uint8_t)ts_rng_next(r);
        stream_add(s, body, len);
    }
    free(body);
}

static void stream_free(stream *s)
{
    ts_buf_free(&s->bytes);
}

/* How a stream is cut into the pieces handed to feed. */
typedef enum chunking { WHOLE, BYTE_BY_BYTE, RANDOM_CHUNKS } chunking;

/* Feeds the whole stream and checks every frame, every byte count and the
 * memory held after every call. Returns the number of frames seen. */
static size_t feed_stream(const stream *s, uint32_t max_frame, chunking how, ts_rng *r, uint64_t seed)
{
    ts_frame_decoder d;
    ts_frame_decoder_init(&d, max_frame);
    size_t pos = 0, got = 0;
    while (pos < s->bytes.len) {
        size_t left = s->bytes.len - pos;
        size_t chunk = how == WHOLE ? left
                     : how == BYTE_BY_BYTE ? 1
                     : 1 + (size_t)ts_rng_below(r, ts_rng_chance(r, 0.5) ? 8 : 20000);
        if (chunk > left)
            chunk = left;
        const uint8_t *p = s->bytes.data + pos;
        /* one chunk may hold several frames: feed until it is used up */
        for (;;) {
            size_t consumed = 99;
            const uint8_t *frame = NULL;
            size_t frame_len = 0;
            ts_error err;
            int rc = ts_frame_decoder_feed(&d, p, chunk, &consumed, &frame, &frame_len, &err);
            ts_check_seed(rc >= 0, seed, "feed failed at stream byte %zu: %s", pos, err.msg);
            ts_check_seed(consumed <= chunk, seed, "consumed %zu of a %zu-byte chunk", consumed, chunk);
            size_t declared = got < s->nframes ? s->body_len[got] : 0;
            size_t held = ts_frame_decoder_buffered(&d);
            size_t bound = declared > IDLE_KEEP_CAP ? declared : IDLE_KEEP_CAP;
            ts_check_seed(held <= bound, seed, "holds %zu bytes while reading a %zu-byte frame", held, declared);
            if (got == 0)
                ts_check_seed(held <= declared, seed, "fresh decoder holds %zu bytes for a %zu-byte frame", held,
                              declared);
            pos += consumed;
            p += consumed;
            chunk -= consumed;
            if (rc == 0) {
                ts_check_seed(chunk == 0, seed, "returned 0 with %zu bytes of the chunk unused", chunk);
                break;
            }
            ts_check_seed(got < s->nframes, seed, "more frames than were sent");
            ts_check_seed(frame_len == s->body_len[got], seed, "frame %zu: %zu bytes, want %zu", got, frame_len,
                          s->body_len[got]);
            ts_check_seed(memcmp(frame, s->bytes.data + s->body_at[got], frame_len) == 0, seed,
                          "frame %zu: body differs", got);
            ts_check_seed(pos == s->body_at[got] + frame_len, seed, "frame %zu ended at stream byte %zu", got, pos);
            got++;
            if (chunk == 0)
                break;
        }
    }
    /* nothing half-read is left behind */
    size_t consumed;
    const uint8_t *frame;
    size_t frame_len;
    ts_error err;
    ts_check_seed(ts_frame_decoder_feed(&d, NULL, 0, &consumed, &frame, &frame_len, &err) == 0, seed,
                  "empty feed at the end");
    ts_frame_decoder_free(&d);
    return got;
}

static void test_stream_whole_and_byte_by_byte(void **state)
{
    (void)state;
    ts_rng r;
    ts_rng_seed(&r, 7);
    stream s;
    stream_random(&s, &r, 20);
    assert_int_equal(feed_stream(&s, 0, WHOLE, NULL, 7), 20);
    assert_int_equal(feed_stream(&s, 0, BYTE_BY_BYTE, NULL, 7), 20);
    stream_free(&s);
}

static void test_stream_random_chunks(void **state)
{
    (void)state;
    uint64_t seeds = ts_test_seed_count(60);
    for (uint64_t i = 0; i < seeds; i++) {
        uint64_t seed = ts_test_seed(i);
        ts_rng r;
        ts_rng_seed(&r, seed);
        stream s;
        size_t n = 1 + (size_t)ts_rng_below(&r, 12);
        stream_random(&s, &r, n);
        size_t got = feed_stream(&s, 0, RANDOM_CHUNKS, &r, seed);
        ts_check_seed(got == n, seed, "%zu of %zu frames", got, n);
        stream_free(&s);
    }
}

/* ---------------------------------------------------------------- single feeds */

static int feed_hex(ts_frame_decoder *d, const char *hex, size_t *consumed, const uint8_t **frame,
                    size_t *frame_len, ts_error *err)
{
    uint8_t buf[256];
    long n = ts_hex_decode(hex, buf, sizeof buf);
    assert_true(n >= 0);
    ts_error_clear(err);
    return ts_frame_decoder_feed(d, buf, (size_t)n, consumed, frame, frame_len, err);
}

static void test_header_and_body_split_anywhere(void **state)
{
    (void)state;
    ts_frame_decoder d;
    ts_frame_decoder_init(&d, 0);
    size_t consumed;
    const uint8_t *frame = NULL;
    size_t frame_len = 0;
    ts_error err;
    assert_int_equal(feed_hex(&d, "", &consumed, &frame, &frame_len, &err), 0);
    assert_int_equal(consumed, 0);
    assert_int_equal(feed_hex(&d, "00 00", &consumed, &frame, &frame_len, &err), 0);
    assert_int_equal(consumed, 2);
    assert_int_equal(feed_hex(&d, "00", &consumed, &frame, &frame_len, &err), 0);
    assert_int_equal(feed_hex(&d, "03 c0", &consumed, &frame, &frame_len, &err), 0);
    assert_int_equal(consumed, 2);
    assert_int_equal(feed_hex(&d, "", &consumed, &frame, &frame_len, &err), 0);
    /* the rest of the body and the start of the next frame: stops after the first */
    assert_int_equal(feed_hex(&d, "c2 c3 00 00 00 01 90", &consumed, &frame, &frame_len, &err), 1);
    assert_int_equal(consumed, 2);
    assert_int_equal(frame_len, 3);
    assert_memory_equal(frame, "\xc0\xc2\xc3", 3);
    assert_int_equal(feed_hex(&d, "00 00 00 01 90", &consumed, &frame, &frame_len, &err), 1);
    assert_int_equal(consumed, 5);
    assert_int_equal(frame_len, 1);
    assert_int_equal(frame[0], 0x90);
    ts_frame_decoder_free(&d);
}

static void test_put_header_big_endian(void **state)
{
    (void)state;
    ts_buf b = TS_BUF_INIT;
    ts_buf_append(&b, "x", 1);
    ts_frame_put_header(&b, 0x01020304u);
    ts_frame_put_header(&b, 95);
    assert_int_equal(b.len, 9);
    assert_memory_equal(b.data, "x\x01\x02\x03\x04\x00\x00\x00\x5f", 9);
    ts_buf_free(&b);
}

static void test_zero_length_frame_rejected(void **state)
{
    (void)state;
    ts_frame_decoder d;
    ts_frame_decoder_init(&d, 0);
    size_t consumed;
    const uint8_t *frame;
    size_t frame_len;
    ts_error err;
    assert_int_equal(feed_hex(&d, "00 00 00 00 00 00 00 01 c0", &consumed, &frame, &frame_len, &err),
                     TS_EMALFORMED);
    assert_int_equal(err.code, TS_EMALFORMED);
    assert_string_equal(err.msg, "frame of length 0");
    assert_int_equal(consumed, 4);
    assert_int_equal(ts_frame_decoder_buffered(&d), 0);
    ts_frame_decoder_free(&d);

    /* after a good frame, and with the header arriving byte by byte */
    ts_frame_decoder_init(&d, 0);
    assert_int_equal(feed_hex(&d, "00 00 00 01 c0", &consumed, &frame, &frame_len, &err), 1);
    assert_int_equal(feed_hex(&d, "00", &consumed, &frame, &frame_len, &err), 0);
    assert_int_equal(feed_hex(&d, "00 00", &consumed, &frame, &frame_len, &err), 0);
    assert_int_equal(feed_hex(&d, "00", &consumed, &frame, &frame_len, &err), TS_EMALFORMED);
    assert_int_equal(consumed, 1);
    ts_frame_decoder_free(&d);
}

static void test_oversized_frame_rejected_before_allocation(void **state)
{
    (void)state;
    ts_frame_decoder d;
    size_t consumed;
    const uint8_t *frame;
    size_t frame_len;
    ts_error err;

    static const struct {
        uint32_t max_frame;
        const char *hex;
        const char *msg;
    } cases[] = {
        {1000, "00 00 03 e9 c0", "frame of 1001 bytes exceeds the limit of 1000"},
        {1000, "ff ff ff ff 00 01 02", "frame of 4294967295 bytes exceeds the limit of 1000"},
        {0, "00 40 00 01", "frame of 4194305 bytes exceeds the limit of 4194304"},
        {0, "80 00 00 00", "frame of 2147483648 bytes exceeds the limit of 4194304"},
        {UINT32_MAX, "04 00 00 01", "frame of 67108865 bytes exceeds the limit of 67108864"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ts_frame_decoder_init(&d, cases[i].max_frame);
        alloc_watch_start();
        int rc = feed_hex(&d, cases[i].hex, &consumed, &frame, &frame_len, &err);
        alloc_watch_stop();
        if (rc != TS_EFRAME_TOO_LARGE)
            fail_msg("%s: got %d (%s)", cases[i].hex, rc, err.msg);
        assert_string_equal(err.msg, cases[i].msg);
        assert_int_equal(consumed, 4);
        assert_int_equal(ts_frame_decoder_buffered(&d), 0);
#ifdef HAVE_ALLOC_WATCH
        if (alloc_count != 0)
            fail_msg("%s: %zu allocations (largest %zu) for a refused frame", cases[i].hex, alloc_count,
                     alloc_largest);
#endif
        ts_frame_decoder_free(&d);
    }
}

static void test_errors_are_sticky(void **state)
{
    (void)state;
    static const struct {
        const char *bad;
        int code;
    } cases[] = {
        {"00 00 00 00", TS_EMALFORMED},
        {"00 00 10 00", TS_EFRAME_TOO_LARGE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ts_frame_decoder d;
        ts_frame_decoder_init(&d, 100);
        size_t consumed;
        const uint8_t *frame = NULL;
        size_t frame_len = 0;
        ts_error err;
        assert_int_equal(feed_hex(&d, cases[i].bad, &consumed, &frame, &frame_len, &err), cases[i].code);
        /* a perfectly good frame afterwards changes nothing, however it comes */
        for (int k = 0; k < 3; k++) {
            frame = NULL;
            assert_int_equal(feed_hex(&d, "00 00 00 01 c0", &consumed, &frame, &frame_len, &err), cases[i].code);
            assert_int_equal(err.code, cases[i].code);
            assert_string_equal(err.msg, "stream already failed");
            assert_int_equal(consumed, 0);
            assert_null(frame);
        }
        assert_int_equal(feed_hex(&d, "", &consumed, &frame, &frame_len, &err), cases[i].code);
        assert_int_equal(ts_frame_decoder_buffered(&d), 0);
        ts_frame_decoder_free(&d);
    }
}

static void test_frame_exactly_at_limit(void **state)
{
    (void)state;
    const uint32_t max = 5000;
    uint8_t *body = malloc(max + 1);
    assert_non_null(body);
    for (uint32_t i = 0; i <= max; i++)
        body[i] = (uint8_t)(i * 7);

    stream s;
    memset(&s, 0, sizeof s);
    stream_add(&s, body, max);
    stream_add(&s, body, 1);
    stream_add(&s, body, max);
    assert_int_equal(feed_stream(&s, max, WHOLE, NULL, 0), 3);
    assert_int_equal(feed_stream(&s, max, BYTE_BY_BYTE, NULL, 0), 3);
    stream_free(&s);

    /* one byte more is refused */
    ts_frame_decoder d;
    ts_frame_decoder_init(&d, max);
    ts_buf b = TS_BUF_INIT;
    ts_frame_put_header(&b, max + 1);
    ts_buf_append(&b, body, max + 1);
    size_t consumed;
    const uint8_t *frame;
    size_t frame_len;
    ts_error err;
    assert_int_equal(ts_frame_decoder_feed(&d, b.data, b.len, &consumed, &frame, &frame_len, &err),
                     TS_EFRAME_TOO_LARGE);
    ts_frame_decoder_free(&d);
    ts_buf_free(&b);
    free(body);

    /* the default (0) and the hard maximum: their exact sizes pass the header */
    const struct {
        uint32_t init;
        uint32_t effective;
    } lims[] = {{0, TS_PROTO_DEFAULT_MAX_FRAME}, {TS_PROTO_HARD_MAX_FRAME, TS_PROTO_HARD_MAX_FRAME},
                {UINT32_MAX, TS_PROTO_HARD_MAX_FRAME}};
    for (size_t i = 0; i < sizeof lims / sizeof *lims; i++) {
        ts_frame_decoder_init(&d, lims[i].init);
        ts_buf_init(&b);
        ts_frame_put_header(&b, lims[i].effective);
        assert_int_equal(ts_frame_decoder_feed(&d, b.data, b.len, &consumed, &frame, &frame_len, &err), 0);
        assert_int_equal(consumed, 4);
        assert_int_equal(ts_frame_decoder_buffered(&d), 0); /* nothing reserved for the claim */
        ts_frame_decoder_free(&d);
        ts_buf_free(&b);
    }
}

/* ---------------------------------------------------------------- memory */

static void test_buffer_grows_with_arriving_bytes(void **state)
{
    (void)state;
    const uint32_t declared = 3000000;
    ts_frame_decoder d;
    ts_frame_decoder_init(&d, 0);
    size_t consumed;
    const uint8_t *frame;
    size_t frame_len;
    ts_error err;
    ts_buf hdr = TS_BUF_INIT;
    ts_frame_put_header(&hdr, declared);
    alloc_watch_start();
    int rc = ts_frame_decoder_feed(&d, hdr.data, hdr.len, &consumed, &frame, &frame_len, &err);
    alloc_watch_stop();
    assert_int_equal(rc, 0);
    assert_int_equal(ts_frame_decoder_buffered(&d), 0);
#ifdef HAVE_ALLOC_WATCH
    assert_int_equal(alloc_count, 0);
#endif

    uint8_t *chunk = calloc(1, 7777);
    assert_non_null(chunk);
    /* one byte: a first small buffer, not the declared three megabytes */
    assert_int_equal(ts_frame_decoder_feed(&d, chunk, 1, &consumed, &frame, &frame_len, &err), 0);
    assert_true(ts_frame_decoder_buffered(&d) <= FIRST_CHUNK);
    size_t received = 1;
    size_t largest = 0;
    while (received < declared) {
        size_t n = declared - received < 7777 ? declared - received : 7777;
        alloc_watch_start();
        rc = ts_frame_decoder_feed(&d, chunk, n, &consumed, &frame, &frame_len, &err);
        alloc_watch_stop();
        if (alloc_largest > largest)
            largest = alloc_largest;
        received += n;
        size_t held = ts_frame_decoder_buffered(&d);
        size_t grow_bound = 2 * received > FIRST_CHUNK ? 2 * received : FIRST_CHUNK;
        if (held < received || held > grow_bound || held > declared)
            fail_msg("after %zu of %u bytes the decoder holds %zu", received, declared, held);
#ifdef HAVE_ALLOC_WATCH
        if (alloc_largest > grow_bound)
            fail_msg("after %zu bytes an allocation of %zu", received, alloc_largest);
#endif
        assert_int_equal(rc, received == declared ? 1 : 0);
    }
    assert_int_equal(frame_len, declared);
    assert_true(ts_frame_decoder_buffered(&d) <= declared);
#ifdef HAVE_ALLOC_WATCH
    assert_true(largest > 0 && largest <= declared);
#endif

    /* the large buffer is let go: a small next frame gets a small buffer */
    ts_buf_reset(&hdr);
    ts_frame_put_header(&hdr, 10);
    ts_buf_append(&hdr, chunk, 3);
    assert_int_equal(ts_frame_decoder_feed(&d, hdr.data, hdr.len, &consumed, &frame, &frame_len, &err), 0);
    assert_true(ts_frame_decoder_buffered(&d) <= 10);
    assert_int_equal(ts_frame_decoder_feed(&d, chunk, 7, &consumed, &frame, &frame_len, &err), 1);
    assert_int_equal(frame_len, 10);

    /* a fresh decoder never takes more than the declared length */
    ts_frame_decoder fresh;
    ts_frame_decoder_init(&fresh, 0);
    ts_buf_reset(&hdr);
    ts_frame_put_header(&hdr, 100);
    ts_buf_append(&hdr, chunk, 1);
    assert_int_equal(ts_frame_decoder_feed(&fresh, hdr.data, hdr.len, &consumed, &frame, &frame_len, &err), 0);
    assert_int_equal(ts_frame_decoder_buffered(&fresh), 100);
    ts_frame_decoder_free(&fresh);

    ts_frame_decoder_free(&d);
    ts_buf_free(&hdr);
    free(chunk);
}

/* ---------------------------------------------------------------- garbage */

/* Random bytes against a model of the framing rules: the decoder returns
 * exactly the frames the headers describe, and stops with the right code at
 * the first zero or oversized length. */
static void test_random_bytes_match_model(void **state)
{
    (void)state;
    const uint32_t max = 300;
    uint64_t seeds = ts_test_seed_count(300);
    for (uint64_t i = 0; i < seeds; i++) {
        uint64_t seed = ts_test_seed(i);
        ts_rng r;
        ts_rng_seed(&r, seed);
        uint8_t data[2048];
        size_t len = (size_t)ts_rng_below(&r, sizeof data);
        for (size_t k = 0; k < len; k++)
            data[k] = (uint8_t)ts_rng_next(&r);
        /* make sane headers likely: a small length at a random place or two */
        for (int h = 0; h < 3 && len >= 4; h++) {
            size_t at = h == 0 ? 0 : (size_t)ts_rng_below(&r, len - 3);
            uint32_t n = (uint32_t)ts_rng_below(&r, max + 2);
            data[at] = 0;
            data[at + 1] = 0;
            data[at + 2] = (uint8_t)(n >> 8);
            data[at + 3] = (uint8_t)n;
        }

        ts_frame_decoder d;
        ts_frame_decoder_init(&d, max);
        size_t model = 0; /* where the model's next header starts */
        int model_error = 0;
        size_t pos = 0;
        while (pos < len || model_error) {
            size_t chunk = 1 + (size_t)ts_rng_below(&r, 64);
            if (chunk > len - pos)
                chunk = len - pos;
            size_t consumed;
            const uint8_t *frame;
            size_t frame_len;
            ts_error err;
            int rc = ts_frame_decoder_feed(&d, data + pos, chunk, &consumed, &frame, &frame_len, &err);
            pos += consumed;
            if (rc < 0) {
                /* the model must agree the header at `model` is bad */
                ts_check_seed(model + 4 <= len, seed, "error without a whole header");
                uint32_t n = (uint32_t)data[model] << 24 | (uint32_t)data[model + 1] << 16 |
                             (uint32_t)data[model + 2] << 8 | data[model + 3];
                int want = n == 0 ? TS_EMALFORMED : n > max ? TS_EFRAME_TOO_LARGE : 0;
                ts_check_seed(rc == want, seed, "got %d for a header of %u", rc, n);
                ts_check_seed(pos == model + 4, seed, "stopped at %zu, header at %zu", pos, model);
                model_error = rc;
                break;
            }
            if (rc == 1) {
                uint32_t n = (uint32_t)data[model] << 24 | (uint32_t)data[model + 1] << 16 |
                             (uint32_t)data[model + 2] << 8 | data[model + 3];
                ts_check_seed(n >= 1 && n <= max && frame_len == n, seed, "frame of %zu for a header of %u",
                              frame_len, n);
                ts_check_seed(memcmp(frame, data + model + 4, n) == 0, seed, "frame body differs");
                model += 4 + n;
                ts_check_seed(pos == model, seed, "frame ended at %zu, model at %zu", pos, model);
            } else {
                ts_check_seed(consumed == chunk, seed, "0 returned with bytes unused");
            }
            if (pos == len && rc == 0)
                break;
        }
        if (model_error == 0) {
            /* the stream ended inside a frame, or at a boundary: nothing bad was said */
            ts_check_seed(ts_frame_decoder_buffered(&d) <= max, seed, "holds more than a frame");
        }
        ts_frame_decoder_free(&d);
    }
}

/* stop_at_header: the length is reported before a byte of the body is
 * buffered; feeding on completes the frame; release gives the body back at
 * once; set_max applies to the next frame, not the one under way. */
static void test_stop_at_header_release_and_limits(void **state)
{
    (void)state;
    ts_frame_decoder d;
    ts_frame_decoder_init(&d, 4096);
    d.stop_at_header = 1;
    uint8_t wire[4 + 3000];
    wire[0] = 0, wire[1] = 0, wire[2] = 0x0b, wire[3] = 0xb8; /* 3000 */
    for (size_t i = 0; i < 3000; i++)
        wire[4 + i] = (uint8_t)i;
    size_t used;
    const uint8_t *frame;
    size_t flen;
    ts_error err;
    assert_false(ts_frame_decoder_in_frame(&d));
    assert_int_equal(ts_frame_decoder_feed(&d, wire, 2, &used, &frame, &flen, &err), 0);
    assert_true(ts_frame_decoder_in_frame(&d));
    assert_int_equal(ts_frame_decoder_need(&d), 0); /* the length is not known yet */
    assert_int_equal(ts_frame_decoder_feed(&d, wire + 2, sizeof wire - 2, &used, &frame, &flen, &err),
                     TS_FRAME_HEADER);
    assert_int_equal(used, 2);
    assert_int_equal(ts_frame_decoder_need(&d), 3000);
    assert_int_equal(ts_frame_decoder_buffered(&d), 0);
    assert_int_equal(ts_frame_decoder_feed(&d, wire + 4, sizeof wire - 4, &used, &frame, &flen, &err), 1);
    assert_int_equal(used, 3000);
    assert_int_equal(flen, 3000);
    assert_memory_equal(frame, wire + 4, 3000);
    assert_false(ts_frame_decoder_in_frame(&d));
    assert_int_equal(ts_frame_decoder_need(&d), 0);
    ts_frame_decoder_release(&d);
    ts_frame_decoder_release(&d); /* twice is harmless */

    /* a lower limit refuses the next frame at its header */
    ts_frame_decoder_set_max(&d, 1024);
    assert_int_equal(ts_frame_decoder_feed(&d, wire, 4, &used, &frame, &flen, &err), TS_EFRAME_TOO_LARGE);
    ts_frame_decoder_free(&d);

    /* a raised limit takes a frame the old one refused */
    ts_frame_decoder_init(&d, 1024);
    ts_frame_decoder_set_max(&d, 8192);
    assert_int_equal(ts_frame_decoder_feed(&d, wire, sizeof wire, &used, &frame, &flen, &err), 1);
    /* release frees a body above the keep size right away */
    ts_frame_decoder_free(&d);
    ts_frame_decoder_init(&d, 64 * 1024);
    uint8_t *big = calloc(1, 4 + 40000);
    big[1] = 0, big[2] = 0x9c, big[3] = 0x40; /* 40000 */
    assert_int_equal(ts_frame_decoder_feed(&d, big, 4 + 40000, &used, &frame, &flen, &err), 1);
    assert_true(ts_frame_decoder_buffered(&d) >= 40000);
    ts_frame_decoder_release(&d);
    assert_int_equal(ts_frame_decoder_buffered(&d), 0);
    free(big);
    ts_frame_decoder_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_whole_and_byte_by_byte),
        cmocka_unit_test(test_stream_random_chunks),
        cmocka_unit_test(test_header_and_body_split_anywhere),
        cmocka_unit_test(test_put_header_big_endian),
        cmocka_unit_test(test_zero_length_frame_rejected),
        cmocka_unit_test(test_oversized_frame_rejected_before_allocation),
        cmocka_unit_test(test_errors_are_sticky),
        cmocka_unit_test(test_frame_exactly_at_limit),
        cmocka_unit_test(test_buffer_grows_with_arriving_bytes),
        cmocka_unit_test(test_random_bytes_match_model),
        cmocka_unit_test(test_stop_at_header_release_and_limits),
    };
    return cmocka_run_group_tests(tests, install_alloc_watch, NULL);
}
