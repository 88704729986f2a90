#include "tests/support/ts_test_records.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/ts_buf.h"
#include "tests/support/ts_test.h"


/* splitmix64: a resident's numbers from its index and commune, the same in
 * every run */
static uint64_t mix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

#define PICK(arr, r) (arr)[(r) % (sizeof(arr) / sizeof(arr)[0])]

/* The fields of resident i of a commune: ~200 bytes of values, varied as a
 * commune's register is (names drawn from common Vietnamese family, middle
 * and given names, random birth dates, house numbers, lanes and phone
 * numbers, a dozen hamlets, a mix of ethnicities and occupations), so that
 * what compression finds is what real registers hold - the commune, district
 * and province repeated, the names from a few hundred, the citizen and
 * insurance numbers as random as they are - and not the handful of values
 * the first version of this generator cycled through. */
void ts_test_resident(uint32_t i, const char *commune, char vals[TS_TEST_NFIELDS][TS_TEST_FIELD_MAX],
                      const char *names[TS_TEST_NFIELDS])
{
    static const char *const family[] = {"Nguyễn", "Nguyễn", "Nguyễn", "Trần", "Trần", "Lê", "Lê", "Phạm", "Hoàng",
                                         "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương",
                                         "Lý", "Đinh", "Lương", "Hà", "Tạ", "Triệu", "Nông", "Lò", "Kiều"};
    static const char *const middle[] = {"Văn", "Thị", "Đức", "Minh", "Ngọc", "Thanh", "Hữu", "Quang", "Xuân",
                                         "Thu", "Kim", "Hồng", "Anh", "Bảo", "Gia", "Công", "Đình", "Khánh"};
    static const char *const given[] = {"Lan", "Hùng", "Mai", "Tuấn", "Hương", "Dũng", "Thảo", "Phúc", "Hằng",
                                        "Quang", "Liên", "Thắng", "An", "Bình", "Chi", "Cường", "Dung", "Giang",
                                        "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Huy", "Khoa", "Linh", "Long",
                                        "Loan", "Minh", "Nam", "Nga", "Ngân", "Nhung", "Oanh", "Phong", "Phương",
                                        "Quân", "Quỳnh", "Sơn", "Tâm", "Thành", "Thủy", "Tiến", "Trang", "Trung",
                                        "Tú", "Uyên", "Vân", "Việt", "Vinh", "Xuân", "Yến", "Đạt", "Đông"};
    static const char *const hamlet[] = {"Đông", "Đoài", "Trung", "Chùa", "Gạo", "Hạ", "Thượng", "Mới",
                                         "Bản Pình", "Nà Lừa", "Khuổi Cuồng", "Lũng Vài"};
    static const char *const ethnic[] = {"Kinh", "Kinh", "Kinh", "Kinh", "Kinh", "Kinh", "Tày", "Nùng",
                                         "Dao", "Mường", "H'Mông", "Sán Dìu", "Thái", "Sán Chay"};
    static const char *const work[] = {"Nông dân trồng lúa", "Trồng chè", "Chăn nuôi", "Công nhân khu công nghiệp",
                                       "Giáo viên", "Học sinh", "Buôn bán nhỏ", "Thợ xây", "Lái xe",
                                       "Cán bộ xã", "Nghỉ hưu", "Nội trợ", "Làm rừng", "Thợ may"};
    static const char *const prefix[] = {"032", "033", "034", "035", "036", "037", "038", "039", "086", "096",
                                         "097", "098", "081", "082", "083", "084", "085", "088", "091", "094",
                                         "070", "076", "077", "078", "079", "089", "090", "093"};
    uint64_t x = (uint64_t)i * 0x100000001b3u;
    for (const char *c = commune; *c; c++)
        x = (x ^ (uint8_t)*c) * 0x100000001b3u;
    int k = 0;
    names[k] = "full_name";
    uint64_t r = mix(&x);
    bool male = r & 1;
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "%s %s %s", PICK(family, r >> 1), male ? "Văn" : PICK(middle, r >> 9),
             PICK(given, r >> 17));
    names[k] = "birth_date";
    r = mix(&x);
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "%04u-%02u-%02u", (unsigned)(1930 + r % 95), (unsigned)(1 + (r >> 8) % 12),
             (unsigned)(1 + (r >> 16) % 28));
    names[k] = "sex";
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "%s", male ? "male" : "female");
    names[k] = "address";
    r = mix(&x);
    unsigned h = (unsigned)((r >> 20) % 12);
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "Số %u, ngõ %u, thôn %s, xã %s, huyện Bình Xuyên, tỉnh Vĩnh Phúc",
             (unsigned)(1 + r % 300), (unsigned)(1 + (r >> 10) % 80), hamlet[h], commune);
    names[k] = "phone";
    r = mix(&x);
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "%s%07u", PICK(prefix, r), (unsigned)((r >> 8) % 10000000));
    names[k] = "village_id";
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "%s-thon-%u", commune, h);
    names[k] = "ethnicity";
    r = mix(&x);
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "%s", PICK(ethnic, r));
    names[k] = "occupation";
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "%s", PICK(work, r >> 8));
    /* CCCD: province 026, the sex-and-century digit, the birth year, six random digits */
    names[k] = "national_id";
    r = mix(&x);
    unsigned year = (unsigned)atoi(vals[1]);
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "026%u%02u%06u", (year >= 2000 ? 2u : 0u) + (male ? 0u : 1u), year % 100,
             (unsigned)(r % 1000000));
    /* BHYT: the beneficiary group, a digit, the province, ten digits */
    static const char *const group[] = {"GD", "GD", "HN", "TE", "HT", "CN", "DN", "HC", "BT", "CK"};
    names[k] = "bhyt_number";
    r = mix(&x);
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "%s%u26%010llu", PICK(group, r), (unsigned)(1 + (r >> 8) % 5),
             (unsigned long long)((r >> 12) % 10000000000ull));
}

ts_store *ts_test_store_open(const char *path, ts_store_role role, const char *station, const ts_registry *reg,
                            bool create, bool read_only)
{
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = path;
    opt.role = role;
    opt.registry = reg;
    opt.station = station;
    opt.create = create;
    opt.read_only = read_only;
    opt.synchronous = TS_SYNC_NORMAL;
    ts_store *st = NULL;
    ts_error err;
    if (ts_store_open(&st, &opt, &err) < 0)
        fail_msg("open %s: %s", path, err.msg);
    return st;
}

/* Writes n residents (ids <prefix>-<i>) owned by `owner` in transactions of
 * `tx_rows`: station stores make them pending, the server store makes them
 * the district's. */
void ts_test_fill(ts_store *st, const char *owner, const char *prefix, const char *commune, uint32_t n,
                 uint32_t tx_rows)
{
    ts_actor me = {TS_ACTOR_LOCAL, "bench", NULL, "bench"};
    ts_error err;
    ts_buf vals[TS_TEST_NFIELDS];
    for (int k = 0; k < TS_TEST_NFIELDS; k++)
        ts_buf_init(&vals[k]);
    for (uint32_t i = 0; i < n; i++) {
        if (i % tx_rows == 0 && ts_store_begin(st, &err) < 0)
            fail_msg("begin: %s", err.msg);
        char text[TS_TEST_NFIELDS][TS_TEST_FIELD_MAX];
        const char *names[TS_TEST_NFIELDS];
        ts_test_resident(i, commune, text, names);
        ts_kv kv[TS_TEST_NFIELDS];
        for (int k = 0; k < TS_TEST_NFIELDS; k++) {
            ts_buf_reset(&vals[k]);
            ts_value_str(&vals[k], text[k]);
            kv[k].name = names[k];
            kv[k].value = vals[k].data;
            kv[k].len = vals[k].len;
        }
        char id[64];
        snprintf(id, sizeof id, "%s-%06u", prefix, i);
        if (ts_store_put(st, &me, "residents", id, owner, kv, TS_TEST_NFIELDS, &err) < 0)
            fail_msg("put %s: %s", id, err.msg);
        if ((i + 1) % tx_rows == 0 || i + 1 == n) {
            if (ts_store_commit(st, &err) < 0)
                fail_msg("commit: %s", err.msg);
        }
    }
    for (int k = 0; k < TS_TEST_NFIELDS; k++)
        ts_buf_free(&vals[k]);
}

