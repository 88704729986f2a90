#include "tests/support/ts_test_records.h"

#include <stdio.h>

#include "common/ts_buf.h"
#include "tests/support/ts_test.h"


/* The fields of resident i of a station: ~200 bytes of values. */
void ts_test_resident(uint32_t i, const char *commune, char vals[TS_TEST_NFIELDS][TS_TEST_FIELD_MAX], const char *names[TS_TEST_NFIELDS])
{
    static const char *const family[] = {"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"};
    static const char *const given[] = {"Lan", "Hùng", "Mai", "Tuấn", "Hương", "Dũng", "Thảo", "Phúc",
                                        "Hằng", "Quang", "Liên", "Thắng"};
    static const char *const hamlet[] = {"Đông", "Đoài", "Trung", "Chùa", "Gạo", "Hạ", "Thượng", "Mới"};
    int k = 0;
    names[k] = "full_name";
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "%s %s %s", family[i % 8], i % 2 ? "Văn" : "Thị", given[(i / 8) % 12]);
    names[k] = "birth_date";
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "%04u-%02u-%02u", 1940 + i % 80, 1 + i % 12, 1 + i % 28);
    names[k] = "sex";
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "%s", i % 2 ? "male" : "female");
    names[k] = "address";
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "Số %u, ngõ %u, thôn %s, xã %s, huyện Bình Xuyên, tỉnh Vĩnh Phúc", 1 + i % 150,
             1 + i % 40, hamlet[i % 8], commune);
    names[k] = "phone";
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "09%08u", i);
    names[k] = "village_id";
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "%s-thon-%u", commune, i % 8);
    names[k] = "ethnicity";
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "%s", i % 5 ? "Kinh" : "Sán Dìu");
    names[k] = "occupation";
    snprintf(vals[k++], TS_TEST_FIELD_MAX, "%s", i % 3 ? "Nông dân trồng lúa" : "Công nhân khu công nghiệp");
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

