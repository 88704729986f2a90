/* Frame compression (docs/PROTOCOL.md, "Frame compression"): the vector, a
 * round trip, and every refusal of a compressed frame - the declared size
 * above the limit (nothing reserved), a decompression bomb in each form, a
 * wrapper out of form, data that is not exactly one zstd frame, a
 * compressed frame inside one. TS_VECTORS_PRINT=1 prints the vector's hex. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "common/ts_xmalloc.h"
#include "proto/ts_frame.h"
#include "proto/ts_zframe.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_vectors.h"

static ts_tv_doc doc;

/* A compressed frame's body by hand: the wrapper around `data`, declaring `size`. */
static void wrapper(ts_buf *out, uint64_t size, const void *data, size_t dlen)
{
    static const uint8_t head[] = {0x83, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'Z', 'S', 'T', 'D', 0xa4, 's', 'i', 'z', 'e',
                                   0xcf};
    ts_buf_reset(out);
    ts_buf_append(out, head, sizeof head);
    for (int i = 0; i < 8; i++) {
        uint8_t b = (uint8_t)(size >> (56 - 8 * i));
        ts_buf_append(out, &b, 1);
    }
    static const uint8_t dk[] = {0xa4, 'd', 'a', 't', 'a', 0xc6};
    ts_buf_append(out, dk, sizeof dk);
    uint8_t l[4] = {(uint8_t)(dlen >> 24), (uint8_t)(dlen >> 16), (uint8_t)(dlen >> 8), (uint8_t)dlen};
    ts_buf_append(out, l, 4);
    ts_buf_append(out, data, dlen);
}

/* One zstd frame of src with the dictionary (content size in its header). */
static size_t zcompress(void *dst, size_t cap, const void *src, size_t len)
{
    size_t dlen;
    const unsigned char *dict = ts_zframe_dict(&dlen);
    ZSTD_CCtx *c = ZSTD_createCCtx();
    size_t n = ZSTD_compress_usingDict(c, dst, cap, src, len, dict, dlen, TS_ZFRAME_LEVEL);
    ZSTD_freeCCtx(c);
    assert_false(ZSTD_isError(n));
    return n;
}

static int unwrap(const ts_buf *body, size_t max, ts_buf *out, ts_error *err)
{
    return ts_zframe_unwrap(body->data, body->len, max, out, err);
}

static const uint8_t *zvector(size_t *len)
{
    const char *p = strstr(doc.text, "```hex zframe=PUSH_V2\n");
    assert_non_null(p);
    p = strchr(p, '\n') + 1;
    const char *end = strstr(p, "\n```");
    uint8_t *b = ts_xmalloc((size_t)(end - p) / 2 + 1);
    size_t n = 0;
    for (const char *q = p; q < end;) {
        unsigned v;
        if (*q == ' ' || *q == '\n') {
            q++;
            continue;
        }
        if (sscanf(q, "%2x", &v) != 1)
            break;
        b[n++] = (uint8_t)v;
        q += 2;
    }
    *len = n;
    return b;
}

static void test_vector(void **state)
{
    (void)state;
    const ts_tv *v = ts_tv_find(&doc, "PUSH_V2");
    assert_non_null(v);
    const uint8_t *body = v->hex + 4;
    size_t blen = v->hex_len - 4;
    if (getenv("TS_VECTORS_PRINT")) {
        uint8_t z[4096];
        size_t n = zcompress(z, sizeof z, body, blen);
        ts_buf w = TS_BUF_INIT;
        wrapper(&w, blen, z, n);
        ts_buf f = TS_BUF_INIT;
        ts_frame_put_header(&f, (uint32_t)w.len);
        ts_buf_append(&f, w.data, w.len);
        char *hex = ts_tv_hex_lines(f.data, f.len);
        printf("```hex zframe=PUSH_V2\n%s```\n", hex);
        free(hex);
        ts_buf_free(&w);
        ts_buf_free(&f);
    }
    size_t zlen;
    const uint8_t *zf = zvector(&zlen);
    assert_true(zlen > 4);
    assert_true(ts_zframe_is(zf + 4, zlen - 4));
    ts_buf out = TS_BUF_INIT;
    ts_error err;
    if (ts_zframe_unwrap(zf + 4, zlen - 4, TS_PROTO_DEFAULT_MAX_FRAME, &out, &err) < 0)
        fail_msg("the zframe vector: %s", err.msg);
    assert_int_equal(out.len, blen);
    assert_memory_equal(out.data, body, blen);
    ts_buf_free(&out);
    free((void *)zf);
}

/* What the sender makes, the receiver reads back; small or incompressible
 * frames stay as they are. */
static void test_round_trip(void **state)
{
    (void)state;
    ts_buf f = TS_BUF_INIT;
    ts_frame_put_header(&f, 0);
    for (int i = 0; i < 200; i++)
        ts_buf_printf(&f, "residents full_name Nguyễn Văn %d village_id thon-%d ", i, i % 7);
    size_t blen = f.len - 4;
    uint8_t *orig = ts_xmalloc(blen);
    memcpy(orig, f.data + 4, blen);
    assert_true(ts_zframe_wrap(&f));
    uint32_t n = ((uint32_t)f.data[0] << 24) | ((uint32_t)f.data[1] << 16) | ((uint32_t)f.data[2] << 8) | f.data[3];
    assert_int_equal(n, f.len - 4);
    assert_true(f.len - 4 < blen / 3);
    ts_buf out = TS_BUF_INIT;
    ts_error err;
    assert_int_equal(ts_zframe_unwrap(f.data + 4, f.len - 4, blen, &out, &err), 0);
    assert_int_equal(out.len, blen);
    assert_memory_equal(out.data, orig, blen);
    /* one byte under the body's size as the limit: refused */
    assert_int_equal(ts_zframe_unwrap(f.data + 4, f.len - 4, blen - 1, &out, &err), TS_EFRAME_TOO_LARGE);

    ts_buf small = TS_BUF_INIT;
    ts_frame_put_header(&small, 20);
    ts_buf_append(&small, "01234567890123456789", 20);
    assert_false(ts_zframe_wrap(&small));
    assert_int_equal(small.len, 24);
    ts_buf rnd = TS_BUF_INIT;
    ts_frame_put_header(&rnd, 4096);
    ts_rng r;
    ts_rng_seed(&r, 7);
    for (int i = 0; i < 512; i++) {
        uint64_t x = ts_rng_next(&r);
        ts_buf_append(&rnd, &x, 8);
    }
    assert_false(ts_zframe_wrap(&rnd)); /* incompressible: sent as it is */
    assert_int_equal(rnd.len, 4100);
    ts_buf_free(&f);
    ts_buf_free(&out);
    ts_buf_free(&small);
    ts_buf_free(&rnd);
    free(orig);
}

static void test_refusals(void **state)
{
    (void)state;
    ts_buf b = TS_BUF_INIT, out = TS_BUF_INIT;
    ts_error err;
    size_t big = 1024 * 1024;
    uint8_t *zeros = ts_xcalloc(1, big);
    size_t cap = ZSTD_compressBound(big);
    uint8_t *z = ts_xmalloc(cap);
    size_t zn = zcompress(z, cap, zeros, big);

    /* the declared size above the limit: refused before anything is reserved */
    wrapper(&b, TS_PROTO_DEFAULT_MAX_FRAME + 1ull, z, zn);
    assert_int_equal(unwrap(&b, TS_PROTO_DEFAULT_MAX_FRAME, &out, &err), TS_EFRAME_TOO_LARGE);
    assert_int_equal(out.cap, 0);
    wrapper(&b, UINT64_MAX, z, zn);
    assert_int_equal(unwrap(&b, TS_PROTO_DEFAULT_MAX_FRAME, &out, &err), TS_EFRAME_TOO_LARGE);
    assert_int_equal(out.cap, 0);

    /* a bomb: 1 MiB of zeros declared as 1000 bytes */
    wrapper(&b, 1000, z, zn);
    assert_int_equal(unwrap(&b, TS_PROTO_DEFAULT_MAX_FRAME, &out, &err), TS_EMALFORMED);
    assert_int_equal(out.cap, 0);

    /* a bomb whose zstd frame does not say its size (streamed) */
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_outBuffer ob = {z, cap, 0};
    ZSTD_inBuffer ib = {zeros, big, 0};
    ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_continue);
    while (ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end) != 0)
        ;
    ZSTD_freeCCtx(c);
    assert_true(ZSTD_getFrameContentSize(z, ob.pos) == ZSTD_CONTENTSIZE_UNKNOWN);
    wrapper(&b, 1000, z, ob.pos);
    assert_int_equal(unwrap(&b, TS_PROTO_DEFAULT_MAX_FRAME, &out, &err), TS_EMALFORMED);
    assert_int_equal(out.cap, 0);

    /* data that lies about its size inside: a zstd header saying 1000 over
     * a frame of 1 MiB cannot be made by zstd, so the frame of 1000 bytes
     * is truncated instead: decompressing fails, nothing is kept */
    uint8_t src[1000];
    memset(src, 'a', sizeof src);
    size_t sn = zcompress(z, cap, src, sizeof src);
    wrapper(&b, 1000, z, sn - 3);
    assert_int_equal(unwrap(&b, TS_PROTO_DEFAULT_MAX_FRAME, &out, &err), TS_EMALFORMED);
    assert_int_equal(out.len, 0);
    /* two zstd frames, or trailing bytes */
    memcpy(z + sn, z, sn);
    wrapper(&b, 1000, z, 2 * sn);
    assert_int_equal(unwrap(&b, TS_PROTO_DEFAULT_MAX_FRAME, &out, &err), TS_EMALFORMED);
    /* size 0; the bin's length not the frame's end; keys out of order */
    wrapper(&b, 0, z, sn);
    assert_int_equal(unwrap(&b, TS_PROTO_DEFAULT_MAX_FRAME, &out, &err), TS_EMALFORMED);
    wrapper(&b, 1000, z, sn);
    ts_buf_append(&b, "x", 1);
    assert_int_equal(unwrap(&b, TS_PROTO_DEFAULT_MAX_FRAME, &out, &err), TS_EMALFORMED);
    wrapper(&b, 1000, z, sn);
    memcpy(b.data + 12, "data", 4);
    assert_int_equal(unwrap(&b, TS_PROTO_DEFAULT_MAX_FRAME, &out, &err), TS_EMALFORMED);
    /* the right one passes */
    wrapper(&b, 1000, z, sn);
    assert_int_equal(unwrap(&b, TS_PROTO_DEFAULT_MAX_FRAME, &out, &err), 0);
    assert_int_equal(out.len, 1000);

    /* compressed twice */
    ts_buf inner = TS_BUF_INIT;
    wrapper(&inner, 1000, z, sn);
    size_t in2 = zcompress(z, cap, inner.data, inner.len);
    wrapper(&b, inner.len, z, in2);
    assert_int_equal(unwrap(&b, TS_PROTO_DEFAULT_MAX_FRAME, &out, &err), TS_EMALFORMED);
    assert_non_null(strstr(err.msg, "inside"));

    ts_buf_free(&inner);
    ts_buf_free(&b);
    ts_buf_free(&out);
    free(z);
    free(zeros);
}

int main(void)
{
    ts_tv_load(&doc);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_tv_free(&doc);
    return rc;
}
