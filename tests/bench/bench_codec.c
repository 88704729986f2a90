/* Wire codec benchmark (`make bench ONLY=codec`): one PUSH frame of 1,000
 * resident records as a station sends them (nine text fields of realistic
 * Vietnamese data, ~200 bytes of values, plus `_deleted`), encoded
 * repeatedly and decoded repeatedly, each for TS_BENCH_SECONDS (default 2)
 * in ten slices; the fastest slice is reported (the mean goes to stderr).
 *
 *   codec_encode_fps / _mbps   ts_msg_encode of the whole frame (length prefix
 *                              and canonical msgpack body)
 *   codec_decode_fps / _mbps   ts_msg_decode of the body: strict validation,
 *                              msgpack-c unpack, every key checked, values
 *                              re-encoded canonically, strings copied
 *   codec_frame_bytes          size of the frame (MB = 1e6 bytes of frame)
 *
 * Output: lines "BENCH <name> <value> <unit>"; notes go to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ts_buf.h"
#include "common/ts_hlc.h"
#include "common/ts_record.h"
#include "common/ts_store.h"
#include "proto/ts_msg.h"

#define PUSH_CHANGES 1000
#define SLICES 10
#define STATION_CODE "binhnguyen"
#define STATION_REPLICA "binhnguyen.3f9a0c1d2e4b5a69"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double env_double(const char *name, double def)
{
    const char *s = getenv(name);
    return s && *s ? strtod(s, NULL) : def;
}

/* ---------------------------------------------------------------- residents */

#define RESIDENT_FIELDS 9

typedef struct resident_field {
    const char *name;
    char value[200];
} resident_field;

/* The text fields of resident number i, deterministic and schema-valid. */
static void resident_fields(uint32_t i, resident_field out[RESIDENT_FIELDS])
{
    static const char *const family[] = {"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ",
                                         "Hồ", "Ngô", "Dương"};
    static const char *const middle[] = {"Thị", "Văn", "Đức", "Minh", "Ngọc", "Thanh", "Hữu", "Xuân"};
    static const char *const given[] = {"Lan", "Hùng", "Mai", "Tuấn", "Hương", "Dũng", "Thảo", "Phúc",
                                        "Hằng", "Quang", "Liên", "Thắng", "Nhung", "Khánh", "Yến", "Sơn"};
    static const char *const hamlet[] = {"Đông", "Đoài", "Trung", "Chùa", "Gạo", "Hạ", "Thượng", "Mới"};
    static const char *const hamlet_slug[] = {"dong", "doai", "trung", "chua", "gao", "ha", "thuong", "moi"};
    static const char *const commune[] = {"Bình Nguyên", "Xuân Lãng", "Bình Xuyên", "Bình Tuyền"};
    static const char *const ethnicity[] = {"Kinh", "Kinh", "Kinh", "Sán Dìu", "Tày", "Mường"};
    static const char *const occupation[] = {"Nông dân trồng lúa", "Giáo viên tiểu học", "Công nhân may mặc",
                                             "Buôn bán tạp hóa",   "Nội trợ",            "Hưu trí",
                                             "Học sinh THCS"};
    size_t k = 0;
    out[k].name = "full_name";
    if (i % 3 == 0) /* some names have two given names */
        snprintf(out[k++].value, sizeof out[0].value, "%s %s %s %s", family[i % 12], middle[(i / 12) % 8],
                 given[(i / 7) % 16], given[(i / 96) % 16]);
    else
        snprintf(out[k++].value, sizeof out[0].value, "%s %s %s", family[i % 12], middle[(i / 12) % 8],
                 given[(i / 96) % 16]);
    out[k].name = "birth_date";
    snprintf(out[k++].value, sizeof out[0].value, "%04u-%02u-%02u", 1940 + i % 80, 1 + i % 12, 1 + i % 28);
    out[k].name = "sex";
    snprintf(out[k++].value, sizeof out[0].value, "%s", i % 2 ? "male" : "female");
    out[k].name = "address";
    snprintf(out[k++].value, sizeof out[0].value, "Số %u, ngõ %u, thôn %s, xã %s, huyện Bình Xuyên, tỉnh Vĩnh Phúc",
             1 + i % 150, 1 + i % 40, hamlet[i % 8], commune[(i / 8) % 4]);
    out[k].name = "village_id";
    snprintf(out[k++].value, sizeof out[0].value, "thon-%s", hamlet_slug[i % 8]);
    out[k].name = "phone";
    snprintf(out[k++].value, sizeof out[0].value, "09%08u", (i * 7919u) % 100000000u);
    out[k].name = "ethnicity";
    snprintf(out[k++].value, sizeof out[0].value, "%s", ethnicity[i % 6]);
    out[k].name = "occupation";
    snprintf(out[k++].value, sizeof out[0].value, "%s", occupation[i % 7]);
    out[k].name = "bhyt_number";
    snprintf(out[k++].value, sizeof out[0].value, "GD4%012u", 10000000u + i);
}

/* Change i of the PUSH: a resident written at the station (counter 1..3). */
static size_t fill_change(ts_msg *m, ts_change *c, uint32_t i, const ts_rid *replica, uint64_t base_ms)
{
    char id[32];
    snprintf(id, sizeof id, "bn-%06u", i);
    c->table = ts_msg_strdup(m, "residents");
    c->id = ts_msg_strdup(m, id);
    c->owner = ts_msg_strdup(m, STATION_CODE);
    c->lseq = 1 + i;
    ts_dot dot = {*replica, 1 + i % 3};
    ts_vv_set(&c->v.vv, replica, dot.counter);
    uint64_t hlc = TS_HLC_MAKE(base_ms + i * 37u, i % 3);

    resident_field rf[RESIDENT_FIELDS];
    resident_fields(i, rf);
    ts_buf value = TS_BUF_INIT;
    size_t value_bytes = 0;
    for (size_t k = 0; k < RESIDENT_FIELDS; k++) {
        ts_buf_reset(&value);
        ts_value_str(&value, rf[k].value);
        value_bytes += value.len;
        ts_version_put(&c->v, &m->arena, rf[k].name, value.data, value.len, &dot, hlc);
    }
    ts_buf_reset(&value);
    ts_value_bool(&value, false);
    ts_version_put(&c->v, &m->arena, TS_FIELD_DELETED, value.data, value.len, &dot, hlc);
    ts_buf_free(&value);
    return value_bytes;
}

int main(void)
{
    double seconds = env_double("TS_BENCH_SECONDS", 2.0);
    ts_rid replica;
    if (ts_rid_set_cstr(&replica, STATION_REPLICA) < 0) {
        fprintf(stderr, "bench: bad replica id\n");
        return 1;
    }

    ts_msg push;
    ts_msg_init(&push, TS_MSG_PUSH);
    push.u.push.batch = 7;
    ts_change *changes = ts_msg_alloc_changes(&push, &push.u.push.changes, PUSH_CHANGES);
    size_t value_bytes = 0;
    uint64_t base_ms = ts_wall_ms() - 3600u * 1000u;
    for (uint32_t i = 0; i < PUSH_CHANGES; i++)
        value_bytes += fill_change(&push, &changes[i], i, &replica, base_ms);

    ts_buf frame = TS_BUF_INIT;
    ts_msg_encode(&push, &frame);
    size_t frame_bytes = frame.len;
    fprintf(stderr, "bench: PUSH of %d residents, %.0f bytes of field values per record, frame %zu bytes\n",
            PUSH_CHANGES, (double)value_bytes / PUSH_CHANGES, frame_bytes);

    /* the frame must decode to the same message, or the figures mean nothing */
    ts_proto_limits limits;
    ts_proto_limits_default(&limits);
    ts_msg decoded;
    ts_error err;
    if (ts_msg_decode(frame.data + 4, frame.len - 4, &limits, &decoded, &err) < 0) {
        fprintf(stderr, "bench: the PUSH does not decode: %s\n", err.msg);
        return 1;
    }
    ts_buf again = TS_BUF_INIT;
    ts_msg_encode(&decoded, &again);
    if (decoded.type != TS_MSG_PUSH || decoded.u.push.changes.n != PUSH_CHANGES || again.len != frame.len ||
        memcmp(again.data, frame.data, frame.len) != 0) {
        fprintf(stderr, "bench: decode + encode does not give back the frame\n");
        return 1;
    }
    ts_msg_free(&decoded);

    /* encode, then decode: each for `seconds`, in SLICES slices; the fastest
     * slice is reported (the machine may be shared), the mean goes to stderr */
    ts_buf out = TS_BUF_INIT;
    long enc_frames = 0, dec_frames = 0;
    double enc_fps = 0, enc_total = 0, dec_fps = 0, dec_total = 0;
    for (int slice = 0; slice < SLICES; slice++) {
        long frames = 0;
        double t0 = now_s(), t1;
        do {
            ts_buf_reset(&out);
            ts_msg_encode(&push, &out);
            if (out.len != frame_bytes) {
                fprintf(stderr, "bench: encode gave %zu bytes, expected %zu\n", out.len, frame_bytes);
                return 1;
            }
            frames++;
        } while ((t1 = now_s()) - t0 < seconds / SLICES);
        enc_total += t1 - t0;
        if ((double)frames / (t1 - t0) > enc_fps)
            enc_fps = (double)frames / (t1 - t0);
        enc_frames += frames;
    }
    for (int slice = 0; slice < SLICES; slice++) {
        long frames = 0;
        double t0 = now_s(), t1;
        do {
            if (ts_msg_decode(frame.data + 4, frame.len - 4, &limits, &decoded, &err) < 0 ||
                decoded.u.push.changes.n != PUSH_CHANGES) {
                fprintf(stderr, "bench: decode failed: %s\n", err.msg);
                return 1;
            }
            ts_msg_free(&decoded);
            frames++;
        } while ((t1 = now_s()) - t0 < seconds / SLICES);
        dec_total += t1 - t0;
        if ((double)frames / (t1 - t0) > dec_fps)
            dec_fps = (double)frames / (t1 - t0);
        dec_frames += frames;
    }
    fprintf(stderr, "bench: mean over %.1f s: encode %.1f frames/s, decode %.1f frames/s\n", seconds,
            (double)enc_frames / enc_total, (double)dec_frames / dec_total);

    printf("BENCH codec_encode_fps %.1f frames/s\n", enc_fps);
    printf("BENCH codec_encode_mbps %.1f MB/s\n", enc_fps * (double)frame_bytes / 1e6);
    printf("BENCH codec_decode_fps %.1f frames/s\n", dec_fps);
    printf("BENCH codec_decode_mbps %.1f MB/s\n", dec_fps * (double)frame_bytes / 1e6);
    printf("BENCH codec_frame_bytes %zu bytes\n", frame_bytes);

    ts_buf_free(&out);
    ts_buf_free(&again);
    ts_buf_free(&frame);
    ts_msg_free(&push);
    return 0;
}
