#include "proto/ts_zframe.h"

#include <pthread.h>
#include <string.h>

#include <zstd.h>

#include "common/ts_log.h"
#include "proto/ts_frame.h"

/* proto/zdict/tramsync-1.dict, embedded by the Makefile */
extern const unsigned char ts_zstd_dict_1[];
extern const size_t ts_zstd_dict_1_len;

/* fixmap 3, "type", "ZSTD": the first eleven bytes of every compressed frame */
static const uint8_t ts__head[] = {0x83, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'Z', 'S', 'T', 'D'};
static const uint8_t ts__size_key[] = {0xa4, 's', 'i', 'z', 'e'};
static const uint8_t ts__data_key[] = {0xa4, 'd', 'a', 't', 'a'};

/* Digested once and shared by every thread (zstd's dictionaries are
 * read-only once made); the contexts are per call. */
static pthread_once_t ts__once = PTHREAD_ONCE_INIT;
static ZSTD_CDict *ts__cdict;
static ZSTD_DDict *ts__ddict;

static void ts__dicts(void)
{
    ts__cdict = ZSTD_createCDict(ts_zstd_dict_1, ts_zstd_dict_1_len, TS_ZFRAME_LEVEL);
    ts__ddict = ZSTD_createDDict(ts_zstd_dict_1, ts_zstd_dict_1_len);
    if (ts__cdict == NULL || ts__ddict == NULL)
        ts_log_error("zstd_dict_failed", "dict=" TS_ZFRAME_NAME);
}

const unsigned char *ts_zframe_dict(size_t *len)
{
    *len = ts_zstd_dict_1_len;
    return ts_zstd_dict_1;
}

bool ts_zframe_is(const uint8_t *body, size_t len)
{
    return len >= sizeof ts__head && memcmp(body, ts__head, sizeof ts__head) == 0;
}

/* A msgpack uint at p (any form); bytes used, 0 when it is not one. */
static size_t ts__uint(const uint8_t *p, size_t n, uint64_t *v)
{
    if (n < 1)
        return 0;
    if (p[0] <= 0x7f) {
        *v = p[0];
        return 1;
    }
    size_t w = p[0] == 0xcc ? 1 : p[0] == 0xcd ? 2 : p[0] == 0xce ? 4 : p[0] == 0xcf ? 8 : 0;
    if (w == 0 || n < 1 + w)
        return 0;
    *v = 0;
    for (size_t i = 0; i < w; i++)
        *v = (*v << 8) | p[1 + i];
    return 1 + w;
}

int ts_zframe_unwrap(const uint8_t *body, size_t len, size_t max, ts_buf *out, ts_error *err)
{
    ts_buf_reset(out);
    size_t off = sizeof ts__head;
    uint64_t size = 0, dlen = 0;
    size_t used;
    if (!ts_zframe_is(body, len) || len - off < sizeof ts__size_key ||
        memcmp(body + off, ts__size_key, sizeof ts__size_key) != 0)
        return ts_error_set(err, TS_EMALFORMED, "a compressed frame is {type: ZSTD, size, data}, in this order");
    off += sizeof ts__size_key;
    if ((used = ts__uint(body + off, len - off, &size)) == 0)
        return ts_error_set(err, TS_EMALFORMED, "ZSTD.size is not an unsigned integer");
    off += used;
    /* the declared size first: nothing is reserved for a size above the limit */
    if (size == 0)
        return ts_error_set(err, TS_EMALFORMED, "ZSTD.size is 0");
    if (size > max)
        return ts_error_set(err, TS_EFRAME_TOO_LARGE, "a compressed frame of %llu bytes once decompressed (limit %zu)",
                            (unsigned long long)size, max);
    if (len - off < sizeof ts__data_key || memcmp(body + off, ts__data_key, sizeof ts__data_key) != 0)
        return ts_error_set(err, TS_EMALFORMED, "a compressed frame is {type: ZSTD, size, data}, in this order");
    off += sizeof ts__data_key;
    size_t w = len - off >= 1 ? (body[off] == 0xc4 ? 1 : body[off] == 0xc5 ? 2 : body[off] == 0xc6 ? 4 : 0) : 0;
    if (w == 0 || len - off < 1 + w)
        return ts_error_set(err, TS_EMALFORMED, "ZSTD.data is not a bin");
    for (size_t i = 0; i < w; i++)
        dlen = (dlen << 8) | body[off + 1 + i];
    off += 1 + w;
    if (dlen != len - off)
        return ts_error_set(err, TS_EMALFORMED, "ZSTD.data does not end where the frame ends");
    const uint8_t *data = body + off;
    /* the zstd frame must say the same size, and be the only one */
    unsigned long long said = ZSTD_getFrameContentSize(data, (size_t)dlen);
    if (said != size)
        return ts_error_set(err, TS_EMALFORMED, "ZSTD.data does not declare %llu bytes", (unsigned long long)size);
    size_t framed = ZSTD_findFrameCompressedSize(data, (size_t)dlen);
    if (ZSTD_isError(framed) || framed != dlen)
        return ts_error_set(err, TS_EMALFORMED, "ZSTD.data is not exactly one zstd frame");
    pthread_once(&ts__once, ts__dicts);
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    int rc = 0;
    if (dctx == NULL || ts__ddict == NULL) {
        rc = ts_error_set(err, TS_EINTERNAL, "no zstd decoder");
        goto out;
    }
    ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, TS_ZFRAME_WINDOW_LOG_MAX);
    ts_buf_reserve(out, (size_t)size);
    /* the output holds exactly the declared size: more is an error, not a realloc */
    size_t got = ZSTD_decompress_usingDDict(dctx, out->data, (size_t)size, data, (size_t)dlen, ts__ddict);
    if (ZSTD_isError(got) || got != size) {
        rc = ts_error_set(err, TS_EMALFORMED, "ZSTD.data does not decompress to its declared %llu bytes%s%s",
                          (unsigned long long)size, ZSTD_isError(got) ? ": " : "",
                          ZSTD_isError(got) ? ZSTD_getErrorName(got) : "");
        goto out;
    }
    out->len = (size_t)size;
    if (ts_zframe_is(out->data, out->len)) {
        rc = ts_error_set(err, TS_EMALFORMED, "a compressed frame inside a compressed frame");
        goto out;
    }
out:
    ZSTD_freeDCtx(dctx);
    if (rc < 0)
        ts_buf_reset(out);
    return rc;
}

bool ts_zframe_wrap(ts_buf *frame)
{
    if (frame->len < 4 + TS_ZFRAME_MIN_BODY)
        return false;
    pthread_once(&ts__once, ts__dicts);
    if (ts__cdict == NULL)
        return false;
    size_t body = frame->len - 4;
    size_t bound = ZSTD_compressBound(body);
    ts_buf z = TS_BUF_INIT;
    ts_buf_reserve(&z, 4 + 32 + bound);
    z.len = 4;
    ts_buf_append(&z, ts__head, sizeof ts__head);
    ts_buf_append(&z, ts__size_key, sizeof ts__size_key);
    uint8_t u[5] = {0xce, 0, 0, 0, 0}; /* uint 32: a frame is below 4 GiB */
    for (int i = 0; i < 4; i++)
        u[1 + i] = (uint8_t)(body >> (24 - 8 * i));
    ts_buf_append(&z, u, sizeof u);
    ts_buf_append(&z, ts__data_key, sizeof ts__data_key);
    size_t bin_at = z.len;
    z.len += 5; /* bin 32: its length once known */
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    size_t n = cctx ? ZSTD_compress_usingCDict(cctx, z.data + z.len, bound, frame->data + 4, body, ts__cdict) : 0;
    ZSTD_freeCCtx(cctx);
    bool won = cctx != NULL && !ZSTD_isError(n) && z.len + n < frame->len;
    if (won) {
        z.data[bin_at] = 0xc6;
        for (int i = 0; i < 4; i++)
            z.data[bin_at + 1 + (size_t)i] = (uint8_t)(n >> (24 - 8 * i));
        z.len += n;
        size_t zbody = z.len - 4;
        for (int i = 0; i < 4; i++)
            z.data[i] = (uint8_t)(zbody >> (24 - 8 * i));
        ts_buf_free(frame);
        *frame = z;
    } else {
        ts_buf_free(&z);
    }
    return won;
}
