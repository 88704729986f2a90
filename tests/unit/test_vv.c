/* Version vectors and dots: named cases, then property tests over random
 * vectors (merge is a join; compare agrees with merge; codec round-trips). */
#include <stdio.h>
#include <string.h>

#include "common/ts_buf.h"
#include "common/ts_mp.h"
#include "common/ts_vv.h"
#include "tests/support/ts_test.h"

static ts_rid rid(const char *s)
{
    ts_rid r;
    assert_int_equal(ts_rid_set_cstr(&r, s), 0);
    return r;
}

static void vv_of(ts_vv *vv, const char *spec)
{
    /* "a:1 b:2" */
    ts_vv_clear(vv);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        char *colon = strchr(tok, ':');
        *colon = '\0';
        ts_rid r = rid(tok);
        ts_vv_set(vv, &r, strtoull(colon + 1, NULL, 10));
    }
}

static void test_rid_rules(void **state)
{
    (void)state;
    ts_rid r;
    assert_int_equal(ts_rid_set_cstr(&r, "st-binhnguyen.0a1b"), 0);
    assert_int_equal(ts_rid_set_cstr(&r, ""), TS_EBAD_VALUE);
    assert_int_equal(ts_rid_set_cstr(&r, "has space"), TS_EBAD_VALUE);
    assert_int_equal(ts_rid_set_cstr(&r, "Bình"), TS_EBAD_VALUE);
    char longid[80];
    memset(longid, 'a', sizeof longid);
    longid[64] = '\0';
    assert_int_equal(ts_rid_set_cstr(&r, longid), 0);
    longid[64] = 'a';
    longid[65] = '\0';
    assert_int_equal(ts_rid_set_cstr(&r, longid), TS_EBAD_VALUE);

    /* byte order: a prefix sorts first */
    ts_rid a = rid("ab"), b = rid("abc"), c = rid("b");
    assert_true(ts_rid_cmp(&a, &b) < 0);
    assert_true(ts_rid_cmp(&b, &c) < 0);
    assert_true(ts_rid_cmp(&c, &a) > 0);

    ts_rid g1, g2;
    ts_rid_generate(&g1, "st-xuanlang");
    ts_rid_generate(&g2, "st-xuanlang");
    assert_false(ts_rid_eq(&g1, &g2));
    assert_true(ts_rid_valid(g1.b, g1.len));
    assert_int_equal(strncmp(g1.b, "st-xuanlang.", 12), 0);
}

static void test_compare_cases(void **state)
{
    (void)state;
    ts_vv a, b;
    ts_vv_init(&a);
    ts_vv_init(&b);
    vv_of(&a, "x:1 y:2");
    vv_of(&b, "x:1 y:2");
    assert_int_equal(ts_vv_compare(&a, &b), TS_VV_EQUAL);
    vv_of(&b, "x:1 y:3");
    assert_int_equal(ts_vv_compare(&a, &b), TS_VV_BEFORE);
    assert_int_equal(ts_vv_compare(&b, &a), TS_VV_AFTER);
    vv_of(&b, "x:2 y:1");
    assert_int_equal(ts_vv_compare(&a, &b), TS_VV_CONCURRENT);
    vv_of(&b, "x:1 y:2 z:1"); /* an entry only b has */
    assert_int_equal(ts_vv_compare(&a, &b), TS_VV_BEFORE);
    vv_of(&a, "w:1");
    assert_int_equal(ts_vv_compare(&a, &b), TS_VV_CONCURRENT);
    vv_of(&a, "");
    assert_int_equal(ts_vv_compare(&a, &b), TS_VV_BEFORE);
    vv_of(&b, "");
    assert_int_equal(ts_vv_compare(&a, &b), TS_VV_EQUAL);
    ts_vv_free(&a);
    ts_vv_free(&b);
}

static void test_covers_and_bump(void **state)
{
    (void)state;
    ts_vv vv;
    ts_vv_init(&vv);
    vv_of(&vv, "district:3 st-a:1");
    ts_dot d = {rid("district"), 3};
    assert_true(ts_vv_covers(&vv, &d));
    d.counter = 4;
    assert_false(ts_vv_covers(&vv, &d));
    ts_dot e = {rid("st-b"), 1};
    assert_false(ts_vv_covers(&vv, &e));
    ts_rid b = rid("st-b");
    assert_int_equal(ts_vv_bump(&vv, &b), 1);
    assert_true(ts_vv_covers(&vv, &e));
    assert_int_equal(ts_vv_bump(&vv, &b), 2);
    assert_int_equal(vv.n, 3);
    ts_vv_set(&vv, &b, 0); /* zero removes */
    assert_int_equal(vv.n, 2);
    ts_vv_free(&vv);
}

static void random_vv(ts_rng *r, ts_vv *vv)
{
    static const char *const names[] = {"district", "st-binhnguyen", "st-binhxuyen", "st-binhtuyen",
                                        "st-xuanlang", "a", "ab", "b"};
    ts_vv_clear(vv);
    uint64_t n = ts_rng_below(r, 6);
    for (uint64_t i = 0; i < n; i++) {
        ts_rid id = rid(names[ts_rng_below(r, 8)]);
        ts_vv_set(vv, &id, 1 + ts_rng_below(r, ts_rng_chance(r, 0.1) ? UINT64_MAX - 1 : 5));
    }
}

static void roundtrip(ts_vv *vv, ts_vv *out, uint64_t seed)
{
    ts_buf buf = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&buf, &pk);
    ts_vv_pack(&pk, vv);
    msgpack_unpacked up;
    ts_error err;
    ts_check_seed(ts_mp_unpack(buf.data, buf.len, NULL, &up, &err) == 0, seed, "unpack: %s", err.msg);
    ts_check_seed(ts_vv_unpack(&up.data, out, "vv", &err) == 0, seed, "vv_unpack: %s", err.msg);
    ts_check_seed(ts_vv_equal(vv, out), seed, "round trip changed the vv");
    /* canonical: re-encoding gives the same bytes */
    ts_buf again = TS_BUF_INIT;
    ts_buf_packer(&again, &pk);
    ts_vv_pack(&pk, out);
    ts_check_seed(again.len == buf.len && memcmp(again.data, buf.data, buf.len) == 0, seed, "not canonical");
    msgpack_unpacked_destroy(&up);
    ts_buf_free(&buf);
    ts_buf_free(&again);
}

static void test_properties(void **state)
{
    (void)state;
    uint64_t seeds = ts_test_seed_count(20);
    ts_vv a, b, c, ab, ba, ab_c, bc, a_bc, aa, tmp;
    ts_vv *all[] = {&a, &b, &c, &ab, &ba, &ab_c, &bc, &a_bc, &aa, &tmp};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        ts_vv_init(all[i]);

    uint64_t cases = 0;
    for (uint64_t s = 0; s < seeds; s++) {
        uint64_t seed = ts_test_seed(s);
        ts_rng r;
        ts_rng_seed(&r, seed);
        for (int iter = 0; iter < 500; iter++, cases++) {
            random_vv(&r, &a);
            random_vv(&r, &b);
            random_vv(&r, &c);
            if (ts_rng_chance(&r, 0.2))
                ts_vv_copy(&b, &a);
            if (ts_rng_chance(&r, 0.2)) { /* b dominates a */
                ts_vv_copy(&tmp, &a);
                ts_vv_merge(&tmp, &b);
                ts_vv_copy(&b, &tmp);
            }

            ts_vv_copy(&ab, &a);
            ts_vv_merge(&ab, &b);
            ts_vv_copy(&ba, &b);
            ts_vv_merge(&ba, &a);
            ts_check_seed(ts_vv_equal(&ab, &ba), seed, "merge not commutative");

            ts_vv_copy(&ab_c, &ab);
            ts_vv_merge(&ab_c, &c);
            ts_vv_copy(&bc, &b);
            ts_vv_merge(&bc, &c);
            ts_vv_copy(&a_bc, &a);
            ts_vv_merge(&a_bc, &bc);
            ts_check_seed(ts_vv_equal(&ab_c, &a_bc), seed, "merge not associative");

            ts_vv_copy(&aa, &a);
            ts_vv_merge(&aa, &a);
            ts_check_seed(ts_vv_equal(&aa, &a), seed, "merge not idempotent");

            /* compare is consistent with merge: a <= b iff merge(a, b) == b */
            ts_vv_order o = ts_vv_compare(&a, &b);
            bool leq = ts_vv_equal(&ab, &b), geq = ts_vv_equal(&ab, &a);
            ts_check_seed((o == TS_VV_EQUAL) == (leq && geq), seed, "EQUAL inconsistent");
            ts_check_seed((o == TS_VV_BEFORE) == (leq && !geq), seed, "BEFORE inconsistent");
            ts_check_seed((o == TS_VV_AFTER) == (geq && !leq), seed, "AFTER inconsistent");
            ts_check_seed((o == TS_VV_CONCURRENT) == (!leq && !geq), seed, "CONCURRENT inconsistent");
            /* antisymmetry of the order */
            ts_vv_order r2 = ts_vv_compare(&b, &a);
            ts_check_seed((o == TS_VV_BEFORE) == (r2 == TS_VV_AFTER), seed, "compare not antisymmetric");
            /* the merge covers every dot of both sides */
            for (uint32_t k = 0; k < a.n; k++)
                ts_check_seed(ts_vv_covers(&ab, &a.e[k]), seed, "merge lost a dot");
            for (uint32_t k = 0; k < b.n; k++)
                ts_check_seed(ts_vv_covers(&ab, &b.e[k]), seed, "merge lost a dot");

            roundtrip(&a, &tmp, seed);
        }
    }
    assert_true(cases >= 10000 || getenv("TS_TEST_SEED"));
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        ts_vv_free(all[i]);
}

static void test_unpack_rejects(void **state)
{
    (void)state;
    /* hand-written msgpack maps */
    struct {
        const char *hex;
        int code;
    } cases[] = {
        {"81a161 00", TS_EBAD_VALUE},        /* zero counter */
        {"81a161 ff", TS_EBAD_VALUE},        /* negative counter */
        {"81a0 01", TS_EBAD_VALUE},          /* empty rid */
        {"82a161 01 a161 02", TS_EDUPLICATE_KEY},
        {"91 01", TS_EWRONG_TYPE},           /* array, not map */
        {"81a3612062 01", TS_EBAD_VALUE},    /* "a b" */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t bytes[64];
        long n = ts_hex_decode(cases[i].hex, bytes, sizeof bytes);
        assert_true(n > 0);
        msgpack_unpacked up;
        ts_error err;
        assert_int_equal(ts_mp_unpack(bytes, (size_t)n, NULL, &up, &err), 0);
        ts_vv vv;
        ts_vv_init(&vv);
        int rc = ts_vv_unpack(&up.data, &vv, "vv", &err);
        if (rc != cases[i].code)
            fail_msg("case %zu (%s): got %d (%s)", i, cases[i].hex, rc, err.msg);
        ts_vv_free(&vv);
        msgpack_unpacked_destroy(&up);
    }
    /* unsorted input is accepted and sorted */
    uint8_t bytes[32];
    long n = ts_hex_decode("82a162 02 a161 01", bytes, sizeof bytes);
    msgpack_unpacked up;
    assert_int_equal(ts_mp_unpack(bytes, (size_t)n, NULL, &up, NULL), 0);
    ts_vv vv;
    ts_vv_init(&vv);
    assert_int_equal(ts_vv_unpack(&up.data, &vv, "vv", NULL), 0);
    assert_string_equal(vv.e[0].rid.b, "a");
    assert_string_equal(vv.e[1].rid.b, "b");
    ts_vv_free(&vv);
    msgpack_unpacked_destroy(&up);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rid_rules),
        cmocka_unit_test(test_compare_cases),
        cmocka_unit_test(test_covers_and_bump),
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_unpack_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
