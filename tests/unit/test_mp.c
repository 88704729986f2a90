/* The strict msgpack layer (common/ts_mp.c): every way ts_mp_validate must
 * refuse a document, with its exact TS_E* code; acceptance exactly at the
 * limits; huge declared sizes refused before anything is allocated; the
 * canonical packer against an independent encoder (property test); and the
 * duplicate-key check for small and large maps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_buf.h"
#include "common/ts_mp.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"

/* ---------------------------------------------------------------- allocation watch
 * ASan lets a program observe every allocation. The tests use it to prove that
 * a huge declared count is refused before msgpack-c (or anyone) allocates. */
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

/* ---------------------------------------------------------------- helpers */

static size_t from_hex(const char *hex, uint8_t *out, size_t cap)
{
    long n = ts_hex_decode(hex, out, cap);
    if (n < 0)
        fail_msg("bad hex in test: %s", hex);
    return (size_t)n;
}

/* Validates the bytes and checks the code and, when given, a piece of the message. */
static void expect_bytes(const uint8_t *buf, size_t len, const ts_mp_limits *limits, int code, const char *needle,
                         const char *label)
{
    ts_error err;
    ts_error_clear(&err);
    int rc = ts_mp_validate(buf, len, limits, &err);
    if (rc != code)
        fail_msg("%s: got %d %s (\"%s\"), want %d %s", label, rc, ts_err_name(rc), err.msg, code,
                 ts_err_name(code));
    if (code != 0) {
        if (err.code != code)
            fail_msg("%s: err.code %d differs from the returned %d", label, err.code, code);
        if (needle != NULL && strstr(err.msg, needle) == NULL)
            fail_msg("%s: message \"%s\" lacks \"%s\"", label, err.msg, needle);
    }
}

static void expect_hex(const char *hex, const ts_mp_limits *limits, int code, const char *needle)
{
    uint8_t buf[1024];
    size_t n = from_hex(hex, buf, sizeof buf);
    expect_bytes(buf, n, limits, code, needle, hex);
}

static void expect_ok(const char *hex, const ts_mp_limits *limits)
{
    expect_hex(hex, limits, 0, NULL);
}

/* ---------------------------------------------------------------- empty, trailing, reserved */

static void test_empty_input(void **state)
{
    (void)state;
    ts_error err;
    assert_int_equal(ts_mp_validate((const uint8_t *)"", 0, NULL, &err), TS_EMALFORMED);
    assert_non_null(strstr(err.msg, "empty"));
    assert_int_equal(ts_mp_validate(NULL, 0, NULL, &err), TS_EMALFORMED);
    msgpack_unpacked up;
    assert_int_equal(ts_mp_unpack((const uint8_t *)"", 0, NULL, &up, &err), TS_EMALFORMED);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    expect_hex("01 02", NULL, TS_ETRAILING_BYTES, "1 bytes after");
    expect_hex("80 c0", NULL, TS_ETRAILING_BYTES, "1 bytes after");
    expect_hex("90 00 00", NULL, TS_ETRAILING_BYTES, "2 bytes after");
    expect_hex("81 a1 61 92 01 02 93", NULL, TS_ETRAILING_BYTES, "1 bytes after");
    /* a second complete document is still trailing bytes */
    expect_hex("81 a1 61 01 81 a1 61 01", NULL, TS_ETRAILING_BYTES, "4 bytes after");
    expect_ok("81 a1 61 92 01 02", NULL);
}

static void test_reserved_c1(void **state)
{
    (void)state;
    expect_hex("c1", NULL, TS_EMALFORMED, "reserved type byte 0xc1 at byte 0");
    expect_hex("92 01 c1", NULL, TS_EMALFORMED, "0xc1 at byte 2");
    expect_hex("81 a1 61 c1", NULL, TS_EMALFORMED, "0xc1 at byte 3");
}

static void test_ext_types_rejected(void **state)
{
    (void)state;
    /* every ext form, complete and well-sized, still refused */
    static const struct {
        const char *hex;
        const char *needle;
    } ext[] = {
        {"d4 01 00", "ext type 0xd4 at byte 0"},
        {"d5 01 00 00", "ext type 0xd5 at byte 0"},
        {"d6 01 00 00 00 00", "ext type 0xd6 at byte 0"},
        {"d7 01 00 00 00 00 00 00 00 00", "ext type 0xd7 at byte 0"},
        {"d8 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00", "ext type 0xd8 at byte 0"},
        {"c7 01 05 00", "ext type 0xc7 at byte 0"},
        {"c8 00 01 05 00", "ext type 0xc8 at byte 0"},
        {"c9 00 00 00 01 05 00", "ext type 0xc9 at byte 0"},
        {"c7 00 ff", "ext type 0xc7"}, /* zero-length ext, e.g. a timestamp-like extension */
        {"d6 ff 5f 00 00 00", "ext type 0xd6"}, /* the msgpack timestamp (-1) */
    };
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        expect_hex(ext[i].hex, NULL, TS_EEXT_NOT_ALLOWED, ext[i].needle);

    /* nested as an array element and as a map value */
    expect_hex("92 01 d4 01 00", NULL, TS_EEXT_NOT_ALLOWED, "ext type 0xd4 at byte 2");
    expect_hex("81 a4 74 79 70 65 c7 01 05 00", NULL, TS_EEXT_NOT_ALLOWED, "ext type 0xc7 at byte 6");
    /* a bare ext type byte, body missing: still the ext error, not truncation */
    expect_hex("c9", NULL, TS_EEXT_NOT_ALLOWED, "ext type 0xc9");
}

/* ---------------------------------------------------------------- map keys, UTF-8 */

static void test_map_keys_must_be_str(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "81 01 02",                         /* uint */
        "81 ff 02",                         /* negative fixint */
        "81 c0 02",                         /* nil */
        "81 c3 02",                         /* true */
        "81 90 02",                         /* array */
        "81 80 02",                         /* map */
        "81 c4 01 61 02",                   /* bin "a" */
        "81 cb 3f f0 00 00 00 00 00 00 02", /* float64 */
        "81 cd 01 00 02",                   /* uint16 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_hex(bad[i], NULL, TS_EWRONG_TYPE, "map key at byte 1 is not a str");
    /* the second key, and a key of a nested map */
    expect_hex("82 a1 61 01 02 03", NULL, TS_EWRONG_TYPE, "map key at byte 4");
    expect_hex("91 81 c2 01", NULL, TS_EWRONG_TYPE, "map key at byte 2");
    /* values may be anything */
    expect_ok("84 a1 61 01 a1 62 c0 a1 63 90 a1 64 c4 01 00", NULL);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *str; /* hex of the str payload */
        const char *why;
    } bad[] = {
        {"c0 80", "overlong NUL (2 bytes)"},
        {"c1 bf", "overlong 0x7f"},
        {"e0 80 80", "overlong (3 bytes)"},
        {"e0 9f bf", "overlong U+07FF in 3 bytes"},
        {"f0 80 80 80", "overlong (4 bytes)"},
        {"f0 8f bf bf", "overlong U+FFFF in 4 bytes"},
        {"ed a0 80", "surrogate U+D800"},
        {"ed bf bf", "surrogate U+DFFF"},
        {"ed ad bf ed b0 80", "surrogate pair in CESU-8"},
        {"f4 90 80 80", "U+110000, above U+10FFFF"},
        {"f5 80 80 80", "lead byte 0xf5"},
        {"ff", "byte 0xff"},
        {"80", "lone continuation byte"},
        {"e1 80", "truncated 3-byte sequence"},
        {"f0 9f 98", "truncated 4-byte sequence"},
        {"c3", "truncated 2-byte sequence"},
        {"c3 28", "bad continuation"},
        {"4e 67 75 79 e1 bb", "truncated inside Vietnamese text"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint8_t payload[16], doc[64];
        size_t n = from_hex(bad[i].str, payload, sizeof payload);
        assert_false(ts_utf8_valid(payload, n));
        char label[96];
        /* top-level str */
        doc[0] = (uint8_t)(0xa0 | n);
        memcpy(doc + 1, payload, n);
        snprintf(label, sizeof label, "str %s (%s)", bad[i].str, bad[i].why);
        expect_bytes(doc, n + 1, NULL, TS_EINVALID_UTF8, "str at byte 0 is not valid UTF-8", label);
        /* as a map key */
        doc[0] = 0x81;
        doc[1] = (uint8_t)(0xa0 | n);
        memcpy(doc + 2, payload, n);
        doc[2 + n] = 0x01;
        expect_bytes(doc, n + 3, NULL, TS_EINVALID_UTF8, "str at byte 1", label);
        /* inside an array, as str8 */
        doc[0] = 0x92;
        doc[1] = 0x01;
        doc[2] = 0xd9;
        doc[3] = (uint8_t)n;
        memcpy(doc + 4, payload, n);
        expect_bytes(doc, n + 4, NULL, TS_EINVALID_UTF8, "str at byte 2", label);
        /* the same bytes as bin are fine: bin is not text */
        doc[0] = 0xc4;
        doc[1] = (uint8_t)n;
        memcpy(doc + 2, payload, n);
        expect_bytes(doc, n + 2, NULL, 0, NULL, label);
    }

    static const char *const good[] = {
        "Nguyễn Thị Lan", "Trạm Y tế xã Bình Nguyên", "Hỏa tốc", "", "ascii",
        "\xf0\x9d\x84\x9e", /* U+1D11E, 4 bytes */
        "\xf4\x8f\xbf\xbf", /* U+10FFFF, the last code point */
        "\xed\x9f\xbf",     /* U+D7FF, just below the surrogates */
        "\xee\x80\x80",     /* U+E000, just above them */
        "\xc2\x80",         /* U+0080, smallest 2-byte */
        "\xe0\xa0\x80",     /* U+0800, smallest 3-byte */
        "\xf0\x90\x80\x80", /* U+10000, smallest 4-byte */
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        size_t n = strlen(good[i]);
        assert_true(ts_utf8_valid((const uint8_t *)good[i], n));
        uint8_t doc[64];
        doc[0] = 0xd9;
        doc[1] = (uint8_t)n;
        memcpy(doc + 2, good[i], n);
        expect_bytes(doc, n + 2, NULL, 0, NULL, good[i]);
    }
}

/* ---------------------------------------------------------------- declared sizes */

static void test_declared_length_beyond_input(void **state)
{
    (void)state;
    /* str and bin payloads: malformed, naming what was declared and what remains */
    expect_hex("a5 61 62", NULL, TS_EMALFORMED, "declared 5 bytes at byte 0 but 2 remain");
    expect_hex("d9 0a 61 62 63", NULL, TS_EMALFORMED, "declared 10 bytes at byte 0 but 3 remain");
    expect_hex("da 01 00 61", NULL, TS_EMALFORMED, "declared 256 bytes at byte 0 but 1 remain");
    expect_hex("db 00 00 00 0a 61", NULL, TS_EMALFORMED, "declared 10 bytes");
    expect_hex("c4 0a 00", NULL, TS_EMALFORMED, "declared 10 bytes at byte 0 but 1 remain");
    expect_hex("c5 00 0a 00", NULL, TS_EMALFORMED, "declared 10 bytes");
    expect_hex("c6 00 00 00 0a 00", NULL, TS_EMALFORMED, "declared 10 bytes");
    expect_hex("92 a5 61 62 01", NULL, TS_EMALFORMED, "declared 5 bytes at byte 1 but 3 remain");
    /* fixed-size payloads cut short */
    expect_hex("cd 01", NULL, TS_EMALFORMED, "declared 2 bytes at byte 0 but 1 remain");
    expect_hex("cb 3f f0 00", NULL, TS_EMALFORMED, "declared 8 bytes");
    expect_hex("ca 3f", NULL, TS_EMALFORMED, "declared 4 bytes");
    /* the length field itself cut short */
    expect_hex("d9", NULL, TS_EMALFORMED, "truncated length at byte 0");
    expect_hex("dc 00", NULL, TS_EMALFORMED, "truncated length at byte 0");
    expect_hex("df 00 00 00", NULL, TS_EMALFORMED, "truncated length at byte 0");
    expect_hex("91 c6 00 00", NULL, TS_EMALFORMED, "truncated length at byte 1");

    /* arrays and maps: more elements declared than bytes remain (each element
     * takes at least one byte), refused as a collection-size error */
    expect_hex("95 01 02", NULL, TS_ETOO_MANY_ELEMENTS, "array at byte 0 declares 5 elements but only 2 bytes remain");
    expect_hex("dc 00 05 01 02", NULL, TS_ETOO_MANY_ELEMENTS, "declares 5 elements but only 2 bytes remain");
    expect_hex("dd 00 00 00 05 01", NULL, TS_ETOO_MANY_ELEMENTS, "declares 5 elements but only 1 bytes remain");
    expect_hex("83 a1 61 01", NULL, TS_ETOO_MANY_ELEMENTS, "map at byte 0 declares 3 elements but only 3 bytes remain");
    expect_hex("de 00 03 a1 61 01", NULL, TS_ETOO_MANY_ELEMENTS, "map at byte 0 declares 3 elements");
    expect_hex("df 00 00 00 02 a1 61", NULL, TS_ETOO_MANY_ELEMENTS, "map at byte 0 declares 2 elements");
    expect_hex("81 a1 61 93 01", NULL, TS_ETOO_MANY_ELEMENTS, "array at byte 3 declares 3 elements");
    /* exactly enough bytes is fine */
    expect_ok("dc 00 02 01 02", NULL);
    expect_ok("de 00 01 a1 61 01", NULL);
}

static void test_huge_declared_counts_fail_before_allocation(void **state)
{
    (void)state;
    ts_mp_limits def, open;
    ts_mp_limits_default(&def);
    /* with every limit wide open only the "fits in what remains" check stands */
    open.max_depth = 64;
    open.max_elements = UINT32_MAX;
    open.max_objects = UINT32_MAX;
    open.max_str = UINT32_MAX;

    static const struct {
        const char *hex;
        int code_default;
        const char *needle_default;
        int code_open;
        const char *needle_open;
    } cases[] = {
        {"dd ff ff ff ff 01 02 03", TS_ETOO_MANY_ELEMENTS, "array of 4294967295 elements at byte 0 exceeds 65536",
         TS_ETOO_MANY_ELEMENTS, "declares 4294967295 elements but only 3 bytes remain"},
        {"df ff ff ff ff a1 61 01", TS_ETOO_MANY_ELEMENTS, "map of 4294967295 elements at byte 0",
         TS_ETOO_MANY_ELEMENTS, "map at byte 0 declares 4294967295 elements but only 3 bytes remain"},
        {"dc ff ff 01 02 03", TS_ETOO_MANY_ELEMENTS, "declares 65535 elements but only 3 bytes remain",
         TS_ETOO_MANY_ELEMENTS, "declares 65535 elements but only 3 bytes remain"},
        {"81 a7 63 68 61 6e 67 65 73 dd ff ff ff ff 01 02 03", TS_ETOO_MANY_ELEMENTS, "at byte 9",
         TS_ETOO_MANY_ELEMENTS, "array at byte 9 declares 4294967295 elements"},
        {"db ff ff ff ff 61 62 63", TS_ESTRING_TOO_LONG, "str of 4294967295 bytes at byte 0 exceeds 262144",
         TS_EMALFORMED, "declared 4294967295 bytes at byte 0 but 3 remain"},
        {"c6 ff ff ff ff 00 00 00", TS_ESTRING_TOO_LONG, "bin of 4294967295 bytes", TS_EMALFORMED,
         "declared 4294967295 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t buf[64];
        size_t n = from_hex(cases[i].hex, buf, sizeof buf);
        expect_bytes(buf, n, &def, cases[i].code_default, cases[i].needle_default, cases[i].hex);
        expect_bytes(buf, n, &open, cases[i].code_open, cases[i].needle_open, cases[i].hex);

        /* the unpacker must refuse without allocating anything: msgpack-c
         * would otherwise reserve 24 bytes per declared element */
        const ts_mp_limits *both[] = {&def, &open};
        for (int k = 0; k < 2; k++) {
            msgpack_unpacked up;
            ts_error err;
            alloc_watch_start();
            int rc = ts_mp_unpack(buf, n, both[k], &up, &err);
            alloc_watch_stop();
            assert_true(rc < 0);
#ifdef HAVE_ALLOC_WATCH
            if (alloc_count != 0)
                fail_msg("%s: %zu allocations (largest %zu bytes) before refusing", cases[i].hex, alloc_count,
                         alloc_largest);
#endif
        }
    }

#ifdef HAVE_ALLOC_WATCH
    /* the watch does see the unpacker's allocations for a valid document */
    uint8_t ok[16];
    size_t n = from_hex("93 01 02 03", ok, sizeof ok);
    msgpack_unpacked up;
    ts_error err;
    alloc_watch_start();
    int rc = ts_mp_unpack(ok, n, &def, &up, &err);
    alloc_watch_stop();
    assert_int_equal(rc, 0);
    assert_true(alloc_count > 0);
    msgpack_unpacked_destroy(&up);
#endif
}

/* ---------------------------------------------------------------- limits */

static void nested_arrays(ts_buf *b, size_t levels, bool innermost_empty)
{
    ts_buf_reset(b);
    for (size_t i = 0; i + 1 < levels; i++)
        ts_buf_append(b, "\x91", 1);
    if (innermost_empty)
        ts_buf_append(b, "\x90", 1);
    else
        ts_buf_append(b, "\x91\x01", 2);
}

static void test_nesting_depth(void **state)
{
    (void)state;
    ts_mp_limits l;
    ts_mp_limits_default(&l);
    l.max_depth = 4;
    expect_ok("91 91 91 91 01", &l);
    expect_hex("91 91 91 91 91 01", &l, TS_ETOO_DEEP, "nesting deeper than 4 at byte 4");
    /* an empty container is a level too */
    expect_ok("91 91 91 90", &l);
    expect_hex("91 91 91 91 90", &l, TS_ETOO_DEEP, "nesting deeper than 4 at byte 4");
    /* maps count like arrays, and depth is per path, not in total */
    expect_ok("81 a1 61 81 a1 61 81 a1 61 81 a1 61 01", &l);
    expect_hex("81 a1 61 81 a1 61 81 a1 61 81 a1 61 81 a1 61 01", &l, TS_ETOO_DEEP, "at byte 12");
    expect_ok("93 91 91 91 01 91 91 91 01 91 91 91 01", &l);
    /* going back up frees the level: [[[[1]]], [[[1]]]] stays at 4 */
    expect_ok("92 91 91 91 01 91 91 91 01", &l);

    ts_buf b = TS_BUF_INIT;
    ts_mp_limits def;
    ts_mp_limits_default(&def);
    nested_arrays(&b, TS_MP_DEFAULT_MAX_DEPTH, false);
    expect_bytes(b.data, b.len, &def, 0, NULL, "16 levels");
    nested_arrays(&b, TS_MP_DEFAULT_MAX_DEPTH + 1, false);
    expect_bytes(b.data, b.len, &def, TS_ETOO_DEEP, "nesting deeper than 16 at byte 16", "17 levels");
    expect_bytes(b.data, b.len, NULL, TS_ETOO_DEEP, "nesting deeper than 16", "17 levels, NULL limits");

    /* a limit above the validator's fixed stack is held at the hard maximum (64) */
    ts_mp_limits wide = def;
    wide.max_depth = 100000;
    nested_arrays(&b, 64, true);
    expect_bytes(b.data, b.len, &wide, 0, NULL, "64 levels");
    nested_arrays(&b, 65, true);
    expect_bytes(b.data, b.len, &wide, TS_ETOO_DEEP, "nesting deeper than 64", "65 levels");

    /* very deep input neither recurses nor overflows anything */
    nested_arrays(&b, 200000, false);
    expect_bytes(b.data, b.len, &def, TS_ETOO_DEEP, "at byte 16", "200000 levels");
    expect_bytes(b.data, b.len, &wide, TS_ETOO_DEEP, "at byte 64", "200000 levels, wide");
    ts_buf_free(&b);
}

static void test_too_many_elements(void **state)
{
    (void)state;
    ts_mp_limits l;
    ts_mp_limits_default(&l);
    l.max_elements = 3;
    expect_ok("93 01 02 03", &l);
    expect_hex("94 01 02 03 04", &l, TS_ETOO_MANY_ELEMENTS, "array of 4 elements at byte 0 exceeds 3");
    /* a map's elements are its entries, not keys + values */
    expect_ok("83 a1 61 01 a1 62 02 a1 63 03", &l);
    expect_hex("84 a1 61 01 a1 62 02 a1 63 03 a1 64 04", &l, TS_ETOO_MANY_ELEMENTS, "map of 4 elements at byte 0");
    /* nested, in 16-bit form */
    expect_hex("92 01 dc 00 04 01 02 03 04", &l, TS_ETOO_MANY_ELEMENTS, "array of 4 elements at byte 2");
    /* the limit is per collection: many small ones are fine */
    expect_ok("93 93 01 02 03 93 01 02 03 93 01 02 03", &l);
}

static void test_too_many_objects(void **state)
{
    (void)state;
    ts_mp_limits l;
    ts_mp_limits_default(&l);
    l.max_objects = 5;
    expect_ok("94 01 02 03 04", &l); /* 5 objects */
    expect_hex("95 01 02 03 04 05", &l, TS_ETOO_MANY_ELEMENTS, "more than 5 objects in one message (at byte 0)");
    /* keys and values are objects: {"a": [1, 2]} is 5 */
    expect_ok("81 a1 61 92 01 02", &l);
    expect_hex("81 a1 61 93 01 02 03", &l, TS_ETOO_MANY_ELEMENTS, "more than 5 objects");
    /* the last container's children push it over */
    expect_hex("92 01 93 01 02 03", &l, TS_ETOO_MANY_ELEMENTS, "at byte 2");
    expect_ok("92 01 92 01 02", &l);
}

/* max_objects bounds the memory msgpack-c allocates for the whole document,
 * so a document holding more objects than the limit must be refused however
 * its objects are arranged, in particular when scalars follow a nested
 * container at an outer level. */
static void test_object_limit_counts_every_object(void **state)
{
    (void)state;
    ts_mp_limits l;
    ts_mp_limits_default(&l);
    l.max_objects = 5;
    expect_ok("92 92 01 01 01", &l); /* [[1,1],1]: exactly 5 */
    expect_hex("93 92 01 01 01 01", &l, TS_ETOO_MANY_ELEMENTS, "more than 5 objects"); /* [[1,1],1,1]: 6 */
    l.max_objects = 4;
    expect_hex("92 92 01 01 01", &l, TS_ETOO_MANY_ELEMENTS, "more than 4 objects"); /* 5 objects */

    /* the same at scale: 1000 allowed, [[998 x 1], 998 x 1] holds 1998 */
    l.max_objects = 1000;
    ts_buf b = TS_BUF_INIT;
    ts_buf_append(&b, "\xdc\x03\xe7", 3); /* array16 of 999 */
    ts_buf_append(&b, "\xdc\x03\xe6", 3); /* its first element: array16 of 998 */
    for (int i = 0; i < 998 + 998; i++)
        ts_buf_append(&b, "\x01", 1);
    expect_bytes(b.data, b.len, &l, TS_ETOO_MANY_ELEMENTS, "more than 1000 objects", "1998 objects, limit 1000");
    ts_buf_free(&b);
}

static void test_string_too_long(void **state)
{
    (void)state;
    ts_mp_limits l;
    ts_mp_limits_default(&l);
    l.max_str = 5;
    expect_ok("a5 31 32 33 34 35", &l);
    expect_hex("a6 31 32 33 34 35 36", &l, TS_ESTRING_TOO_LONG, "str of 6 bytes at byte 0 exceeds 5");
    expect_hex("d9 06 31 32 33 34 35 36", &l, TS_ESTRING_TOO_LONG, "str of 6 bytes");
    expect_hex("da 00 06 31 32 33 34 35 36", &l, TS_ESTRING_TOO_LONG, "str of 6 bytes");
    expect_hex("db 00 00 00 06 31 32 33 34 35 36", &l, TS_ESTRING_TOO_LONG, "str of 6 bytes");
    expect_ok("c4 05 00 00 00 00 00", &l);
    expect_hex("c4 06 00 00 00 00 00 00", &l, TS_ESTRING_TOO_LONG, "bin of 6 bytes at byte 0 exceeds 5");
    expect_hex("c5 00 06 00 00 00 00 00 00", &l, TS_ESTRING_TOO_LONG, "bin of 6 bytes");
    /* keys obey the limit too */
    expect_hex("81 a6 31 32 33 34 35 36 01", &l, TS_ESTRING_TOO_LONG, "str of 6 bytes at byte 1");
    /* the length check comes before the remaining-bytes check: a long
     * declared string is reported as too long even when cut short */
    expect_hex("da ff ff 31", &l, TS_ESTRING_TOO_LONG, "str of 65535 bytes");
}

/* A document hitting every limit exactly is accepted; lowering any one
 * limit by one refuses it with that limit's code. */
static void test_accepts_exactly_at_limits(void **state)
{
    (void)state;
    /* {"abcde": [[1,2,3,4], "12345", bin(5), -1], "k": {"x": 1}}
     * depth 3, largest collection 4, longest str/bin 5, 15 objects */
    static const char doc[] = "82 a5 61 62 63 64 65 94 94 01 02 03 04 a5 31 32 33 34 35"
                              " c4 05 00 01 02 03 04 ff a1 6b 81 a1 78 01";
    ts_mp_limits exact = {.max_depth = 3, .max_elements = 4, .max_objects = 15, .max_str = 5};
    expect_ok(doc, &exact);

    ts_mp_limits l = exact;
    l.max_depth = 2;
    expect_hex(doc, &l, TS_ETOO_DEEP, "nesting deeper than 2 at byte 8");
    l = exact;
    l.max_elements = 3;
    expect_hex(doc, &l, TS_ETOO_MANY_ELEMENTS, "array of 4 elements at byte 7 exceeds 3");
    l = exact;
    l.max_objects = 14;
    expect_hex(doc, &l, TS_ETOO_MANY_ELEMENTS, "more than 14 objects");
    l = exact;
    l.max_str = 4;
    expect_hex(doc, &l, TS_ESTRING_TOO_LONG, "str of 5 bytes at byte 1 exceeds 4");

    /* the defaults: a str of exactly 256 KiB and an array of exactly 65536 */
    ts_mp_limits def;
    ts_mp_limits_default(&def);
    ts_buf b = TS_BUF_INIT;
    ts_buf_append(&b, "\xdb\x00\x04\x00\x00", 5);
    for (size_t i = 0; i < TS_MP_DEFAULT_MAX_STR; i++)
        ts_buf_append(&b, "x", 1);
    expect_bytes(b.data, b.len, &def, 0, NULL, "str of 262144");
    ts_buf_reset(&b);
    ts_buf_append(&b, "\xdb\x00\x04\x00\x01", 5);
    for (size_t i = 0; i <= TS_MP_DEFAULT_MAX_STR; i++)
        ts_buf_append(&b, "x", 1);
    expect_bytes(b.data, b.len, &def, TS_ESTRING_TOO_LONG, "str of 262145 bytes", "str of 262145");

    ts_buf_reset(&b);
    ts_buf_append(&b, "\xdd\x00\x01\x00\x00", 5);
    for (size_t i = 0; i < TS_MP_DEFAULT_MAX_ELEMENTS; i++)
        ts_buf_append(&b, "\xc0", 1);
    expect_bytes(b.data, b.len, &def, 0, NULL, "array of 65536");
    ts_buf_reset(&b);
    ts_buf_append(&b, "\xdd\x00\x01\x00\x01", 5);
    for (size_t i = 0; i <= TS_MP_DEFAULT_MAX_ELEMENTS; i++)
        ts_buf_append(&b, "\xc0", 1);
    expect_bytes(b.data, b.len, &def, TS_ETOO_MANY_ELEMENTS, "array of 65537 elements", "array of 65537");
    ts_buf_free(&b);
}

/* ---------------------------------------------------------------- every valid form */

static void test_every_valid_form_accepted(void **state)
{
    (void)state;
    static const char *const forms[] = {
        "c0", "c2", "c3", "00", "7f", "ff", "e0",
        "cc ff", "cd ff ff", "ce ff ff ff ff", "cf ff ff ff ff ff ff ff ff",
        "d0 80", "d1 80 00", "d2 80 00 00 00", "d3 80 00 00 00 00 00 00 00",
        "ca 3f c0 00 00", "cb 3f f8 00 00 00 00 00 00",
        "a0", "a3 61 62 63", "d9 00", "d9 03 61 62 63", "da 00 03 61 62 63", "db 00 00 00 03 61 62 63",
        "c4 00", "c4 02 ff 00", "c5 00 02 ff 00", "c6 00 00 00 02 ff 00",
        "90", "92 01 02", "dc 00 00", "dc 00 02 01 02", "dd 00 00 00 02 01 02",
        "80", "81 a1 61 01", "de 00 00", "de 00 01 a1 61 01", "df 00 00 00 01 a1 61 01",
        /* an empty key is a str */
        "81 a0 c0",
    };
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++)
        expect_ok(forms[i], NULL);

    /* unpacked values and str pointing into the input */
    uint8_t buf[64];
    size_t n = from_hex("83 a1 61 d0 85 a1 62 ca 3f c0 00 00 a1 73 a3 61 62 63", buf, sizeof buf);
    msgpack_unpacked up;
    ts_error err;
    assert_int_equal(ts_mp_unpack(buf, n, NULL, &up, &err), 0);
    assert_int_equal(up.data.type, MSGPACK_OBJECT_MAP);
    const msgpack_object *a = ts_mp_map_get(&up.data, "a");
    assert_non_null(a);
    assert_int_equal(a->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    assert_int_equal(a->via.i64, -123);
    const msgpack_object *b = ts_mp_map_get(&up.data, "b");
    assert_non_null(b);
    assert_true(b->via.f64 == 1.5);
    const msgpack_object *s = ts_mp_map_get(&up.data, "s");
    assert_non_null(s);
    assert_ptr_equal(s->via.str.ptr, (const char *)buf + 15);
    assert_null(ts_mp_map_get(&up.data, "missing"));
    assert_null(ts_mp_map_get(a, "a")); /* not a map */
    msgpack_unpacked_destroy(&up);
}

/* ---------------------------------------------------------------- truncation at every offset */

/* One object of a trusted valid document, for the truncation oracle: where
 * its header ends, how many children it declares, where its bytes end. */
typedef struct mp_token {
    size_t start;
    size_t hdr_end;
    size_t end;
    uint64_t children; /* keys and values both count for maps */
    bool container;
} mp_token;

static uint64_t be_n(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Walks a valid document in order; returns where the object at pos ends. */
static size_t walk(const uint8_t *b, size_t pos, mp_token *toks, size_t *ntok, size_t cap)
{
    assert_true(*ntok < cap);
    mp_token *t = &toks[(*ntok)++];
    uint8_t c = b[pos];
    size_t lenbytes = 0, fixed = 0;
    uint64_t payload = 0, children = 0;
    bool container = false, sized = false, is_map = false;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
        /* one byte */
    } else if (c >= 0x80 && c <= 0x8f) {
        container = is_map = true;
        children = (uint64_t)(c & 0x0f) * 2;
    } else if (c >= 0x90 && c <= 0x9f) {
        container = true;
        children = c & 0x0f;
    } else if (c >= 0xa0 && c <= 0xbf) {
        payload = c & 0x1f;
    } else {
        switch (c) {
        case 0xc4: case 0xc5: case 0xc6: lenbytes = (size_t)1 << (c - 0xc4); sized = true; break;
        case 0xd9: case 0xda: case 0xdb: lenbytes = (size_t)1 << (c - 0xd9); sized = true; break;
        case 0xca: fixed = 4; break;
        case 0xcb: fixed = 8; break;
        case 0xcc: case 0xd0: fixed = 1; break;
        case 0xcd: case 0xd1: fixed = 2; break;
        case 0xce: case 0xd2: fixed = 4; break;
        case 0xcf: case 0xd3: fixed = 8; break;
        case 0xdc: lenbytes = 2; container = true; break;
        case 0xdd: lenbytes = 4; container = true; break;
        case 0xde: lenbytes = 2; container = is_map = true; break;
        case 0xdf: lenbytes = 4; container = is_map = true; break;
        default: fail_msg("walk: unexpected type byte 0x%02x", c);
        }
        if (lenbytes) {
            uint64_t n = be_n(b + pos + 1, lenbytes);
            if (sized)
                payload = n;
            else
                children = is_map ? n * 2 : n;
        }
    }
    t->start = pos;
    t->hdr_end = pos + 1 + lenbytes;
    t->children = children;
    t->container = container;
    size_t end = t->hdr_end + (size_t)payload + fixed;
    size_t index = (size_t)(t - toks);
    for (uint64_t i = 0; i < children; i++)
        end = walk(b, end, toks, ntok, cap);
    toks[index].end = end;
    return end;
}

/* The code a document cut to k bytes must get: the first object (in
 * document order) the cut breaks decides. A container whose declared
 * children can no longer fit is a collection-size error; anything else cut
 * short is malformed. */
static int truncation_code(const mp_token *toks, size_t ntok, size_t k)
{
    for (size_t i = 0; i < ntok; i++) {
        const mp_token *t = &toks[i];
        if (t->start >= k || t->hdr_end > k)
            return TS_EMALFORMED;
        if (t->container && t->children > k - t->hdr_end)
            return TS_ETOO_MANY_ELEMENTS;
        if (!t->container && t->end > k)
            return TS_EMALFORMED;
    }
    fail_msg("cut at %zu breaks nothing", k);
    return 0;
}

/* A realistic document using every encoding form, some of them wider than needed. */
static void build_rich_document(ts_buf *b)
{
    uint8_t tmp[2048];
    static const char head[] =
        "8c a4 74 79 70 65 a4 50 55 53 48"                       /* "type": "PUSH" */
        " a5 62 61 74 63 68 cd 01 2c"                            /* "batch": 300 */
        " a7 63 68 61 6e 67 65 73 91"                            /* "changes": [ */
        " 85 a5 74 61 62 6c 65 a9 72 65 73 69 64 65 6e 74 73"    /* {"table": "residents" */
        " a2 69 64 ab 58 41 30 31 2d 30 30 30 31 32 33"          /* "id": "XA01-000123" */
        " a5 6f 77 6e 65 72 a4 58 41 30 31"                      /* "owner": "XA01" */
        " a2 76 76 82 a4 73 74 2d 61 ce 00 01 11 70 a8 64 69 73 74 72 69 63 74 02" /* vv */
        " a6 66 69 65 6c 64 73 81 a9 66 75 6c 6c 5f 6e 61 6d 65 94" /* "fields": {"full_name": [ */
        " b2 4e 67 75 79 e1 bb 85 6e 20 54 68 e1 bb 8b 20 4c 61 6e" /* "Nguyễn Thị Lan" */
        " a4 73 74 2d 61 05 cf 01 8a 8f 2a 4e 00 00 03"          /* "st-a", 5, hlc] } } ] */
        " a3 6e 69 6c c0 a1 74 c3 a1 66 c2"                      /* "nil": nil, "t": true, "f": false */
        " a3 6e 65 67 93 ff d1 ff 38 d3 ff ff ff ff 4c 4b 40 00" /* "neg": [-1, -200, -3000000000+...] */
        " a3 66 33 32 ca 42 52 00 00 a3 66 36 34 cb 40 4a 40 00 00 00 00 00" /* floats */
        " a3 62 69 6e c5 00 03 00 ff 10"                         /* "bin": bin16 of 3 */
        " a4 77 69 64 65 dc 00 02 de 00 01 a1 6b 90 df 00 00 00 00"; /* "wide": array16[map16, map32] */
    size_t n = from_hex(head, tmp, sizeof tmp);
    ts_buf_reset(b);
    ts_buf_append(b, tmp, n);
    /* "long": a str16 of 300 bytes of Vietnamese text */
    ts_buf_append(b, "\xa4long\xda\x01\x2c", 8);
    static const char *const word = "Trạm Y tế xã ";
    size_t filled = 0;
    while (filled < 300) {
        size_t w = strlen(word) < 300 - filled ? strlen(word) : 300 - filled;
        /* only whole words, padded with spaces, so the text stays valid UTF-8 */
        if (w < strlen(word)) {
            for (size_t i = 0; i < w; i++)
                ts_buf_append(b, " ", 1);
        } else {
            ts_buf_append(b, word, w);
        }
        filled += w;
    }
}

static void test_truncated_at_every_offset(void **state)
{
    (void)state;
    ts_buf doc = TS_BUF_INIT;
    build_rich_document(&doc);
    ts_error err;
    if (ts_mp_validate(doc.data, doc.len, NULL, &err) != 0)
        fail_msg("the rich document is invalid: %s", err.msg);

    mp_token toks[128];
    size_t ntok = 0;
    assert_int_equal(walk(doc.data, 0, toks, &ntok, 128), doc.len);

    for (size_t k = 0; k < doc.len; k++) {
        int want = k == 0 ? TS_EMALFORMED : truncation_code(toks, ntok, k);
        ts_error_clear(&err);
        int rc = ts_mp_validate(doc.data, k, NULL, &err);
        if (rc != want)
            fail_msg("cut at %zu of %zu: got %s (\"%s\"), want %s", k, doc.len, ts_err_name(rc), err.msg,
                     ts_err_name(want));
        if (k > 0 && strstr(err.msg, "byte") == NULL)
            fail_msg("cut at %zu: message \"%s\" does not say where", k, err.msg);
        /* and unpacking refuses too, allocating nothing */
        msgpack_unpacked up;
        alloc_watch_start();
        rc = ts_mp_unpack(doc.data, k, NULL, &up, &err);
        alloc_watch_stop();
        assert_int_equal(rc, want);
#ifdef HAVE_ALLOC_WATCH
        assert_int_equal(alloc_count, 0);
#endif
    }
    /* the cut-off is not what made it fail: whole, it unpacks */
    msgpack_unpacked up;
    assert_int_equal(ts_mp_unpack(doc.data, doc.len, NULL, &up, &err), 0);
    msgpack_unpacked_destroy(&up);
    ts_buf_free(&doc);
}

/* ---------------------------------------------------------------- accessors */

static void test_accessors(void **state)
{
    (void)state;
    uint8_t buf[128];
    /* {"n": 7, "neg": -1, "s": "Lan", "b": true, "bin": bin(2), "arr": [], "map": {}} */
    size_t n = from_hex("87 a1 6e 07 a3 6e 65 67 ff a1 73 a3 4c 61 6e a1 62 c3 a3 62 69 6e c4 02 01 02"
                        " a3 61 72 72 90 a3 6d 61 70 80",
                        buf, sizeof buf);
    msgpack_unpacked up;
    ts_error err;
    assert_int_equal(ts_mp_unpack(buf, n, NULL, &up, &err), 0);
    const msgpack_object *m = &up.data;

    uint64_t u = 99;
    assert_int_equal(ts_mp_get_uint(m, "n", true, &u, "T", &err), 1);
    assert_int_equal(u, 7);
    u = 99;
    assert_int_equal(ts_mp_get_uint(m, "absent", false, &u, "T", &err), 0);
    assert_int_equal(u, 99); /* untouched when absent */
    assert_int_equal(ts_mp_get_uint(m, "absent", true, &u, "T", &err), TS_EMISSING_KEY);
    assert_string_equal(err.msg, "T: missing required key \"absent\"");
    assert_int_equal(ts_mp_get_uint(m, "neg", true, &u, "T", &err), TS_EWRONG_TYPE);
    assert_string_equal(err.msg, "T: key \"neg\" must be uint, not int");
    assert_int_equal(ts_mp_get_uint(m, "s", true, &u, "T", &err), TS_EWRONG_TYPE);
    assert_string_equal(err.msg, "T: key \"s\" must be uint, not str");

    const char *s;
    size_t len;
    assert_int_equal(ts_mp_get_str(m, "s", true, &s, &len, 3, "T", &err), 1);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "Lan", 3);
    assert_int_equal(ts_mp_get_str(m, "s", true, &s, &len, 2, "T", &err), TS_ESTRING_TOO_LONG);
    assert_non_null(strstr(err.msg, "\"s\" is 3 bytes, at most 2"));
    assert_int_equal(ts_mp_get_str(m, "n", true, &s, &len, 0, "T", &err), TS_EWRONG_TYPE);

    bool flag = false;
    assert_int_equal(ts_mp_get_bool(m, "b", true, &flag, "T", &err), 1);
    assert_true(flag);
    assert_int_equal(ts_mp_get_bool(m, "n", true, &flag, "T", &err), TS_EWRONG_TYPE);

    const uint8_t *bin;
    assert_int_equal(ts_mp_get_bin(m, "bin", true, &bin, &len, "T", &err), 1);
    assert_int_equal(len, 2);
    assert_int_equal(ts_mp_get_bin(m, "s", true, &bin, &len, "T", &err), TS_EWRONG_TYPE);

    const msgpack_object *o;
    assert_int_equal(ts_mp_get_array(m, "arr", true, &o, "T", &err), 1);
    assert_int_equal(o->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(ts_mp_get_array(m, "map", true, &o, "T", &err), TS_EWRONG_TYPE);
    assert_string_equal(err.msg, "T: key \"map\" must be array, not map");
    assert_int_equal(ts_mp_get_map(m, "map", true, &o, "T", &err), 1);
    assert_int_equal(ts_mp_get_map(m, "absent", false, &o, "T", &err), 0);
    assert_null(o);

    assert_true(ts_mp_str_eq(ts_mp_map_get(m, "s"), "Lan"));
    assert_false(ts_mp_str_eq(ts_mp_map_get(m, "s"), "La"));
    assert_false(ts_mp_str_eq(ts_mp_map_get(m, "n"), "7"));
    msgpack_unpacked_destroy(&up);
}

/* ---------------------------------------------------------------- canonical packing */

static void expect_canonical(const char *in_hex, const char *want_hex)
{
    uint8_t in[512], want[512];
    size_t n = from_hex(in_hex, in, sizeof in);
    size_t wn = from_hex(want_hex, want, sizeof want);
    msgpack_unpacked up;
    ts_error err;
    if (ts_mp_unpack(in, n, NULL, &up, &err) != 0)
        fail_msg("%s: %s", in_hex, err.msg);
    ts_buf out = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&out, &pk);
    ts_mp_pack_canonical(&pk, &up.data);
    if (out.len != wn || memcmp(out.data, want, wn) != 0) {
        char got[1100];
        ts_hex_encode(out.data, out.len < 512 ? out.len : 512, got);
        fail_msg("canonical(%s) = %s, want %s", in_hex, got, want_hex);
    }
    msgpack_unpacked_destroy(&up);
    ts_buf_free(&out);
}

static void test_pack_canonical_cases(void **state)
{
    (void)state;
    /* integers take their smallest form, whatever width they came in */
    expect_canonical("cf 00 00 00 00 00 00 00 05", "05");
    expect_canonical("cc 7f", "7f");
    expect_canonical("cc 80", "cc 80");
    expect_canonical("ce 00 00 01 00", "cd 01 00");
    expect_canonical("cf 00 00 00 01 00 00 00 00", "cf 00 00 00 01 00 00 00 00");
    expect_canonical("cf 00 00 00 00 ff ff ff ff", "ce ff ff ff ff");
    expect_canonical("d0 05", "05");           /* a positive value in a signed form */
    expect_canonical("d1 00 ff", "cc ff");
    expect_canonical("d3 00 00 00 00 00 01 00 00", "ce 00 01 00 00");
    expect_canonical("d3 ff ff ff ff ff ff ff ff", "ff"); /* -1 */
    expect_canonical("d0 e0", "e0");           /* -32 is a negative fixint */
    expect_canonical("d1 ff df", "d0 df");     /* -33 */
    expect_canonical("d2 ff ff ff 80", "d0 80"); /* -128 */
    expect_canonical("d2 ff ff ff 7f", "d1 ff 7f"); /* -129 */
    expect_canonical("d3 ff ff ff ff ff ff 80 00", "d1 80 00"); /* -32768 */
    expect_canonical("d3 ff ff ff ff 80 00 00 00", "d2 80 00 00 00");
    expect_canonical("d3 80 00 00 00 00 00 00 00", "d3 80 00 00 00 00 00 00 00"); /* INT64_MIN */
    /* float32 widened to float64; float64 kept */
    expect_canonical("ca 3f c0 00 00", "cb 3f f8 00 00 00 00 00 00");
    expect_canonical("ca 42 52 00 00", "cb 40 4a 40 00 00 00 00 00"); /* 52.5 */
    expect_canonical("cb 40 4a 40 00 00 00 00 00", "cb 40 4a 40 00 00 00 00 00");
    expect_canonical("cb 3f f0 00 00 00 00 00 00", "cb 3f f0 00 00 00 00 00 00"); /* 1.0 stays a float */
    /* smallest str, bin, array and map headers */
    expect_canonical("d9 03 61 62 63", "a3 61 62 63");
    expect_canonical("db 00 00 00 03 61 62 63", "a3 61 62 63");
    expect_canonical("c6 00 00 00 02 ff 00", "c4 02 ff 00");
    expect_canonical("dd 00 00 00 02 01 c0", "92 01 c0");
    expect_canonical("df 00 00 00 01 a1 61 c3", "81 a1 61 c3");
    expect_canonical("dc 00 00", "90");
    expect_canonical("de 00 00", "80");
    /* map keys sorted by bytes: shorter prefix first, uppercase before lowercase,
     * multi-byte UTF-8 after ASCII */
    expect_canonical("86 a1 62 01 a1 61 02 a2 61 62 03 a0 04 a1 42 05 a2 c3 a9 06",
                     "86 a0 04 a1 42 05 a1 61 02 a2 61 62 03 a1 62 01 a2 c3 a9 06");
    /* nested maps inside arrays and maps are sorted too */
    expect_canonical("81 a1 7a 92 82 a1 79 01 a1 78 02 81 a1 62 82 a1 64 c0 a1 63 c2",
                     "81 a1 7a 92 82 a1 78 02 a1 79 01 81 a1 62 82 a1 63 c2 a1 64 c0");
    /* nil, bools unchanged */
    expect_canonical("93 c0 c2 c3", "93 c0 c2 c3");

    /* the str helpers pick the smallest header */
    ts_buf out = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&out, &pk);
    char s32[33];
    memset(s32, 'x', 32);
    s32[32] = '\0';
    ts_mp_pack_strn(&pk, s32, 31);
    assert_int_equal(out.data[0], 0xbf);
    ts_buf_reset(&out);
    ts_mp_pack_cstr(&pk, s32);
    assert_int_equal(out.data[0], 0xd9);
    assert_int_equal(out.data[1], 32);
    ts_buf_free(&out);
}

/* A small value tree for the property test, with two encoders: the expected
 * canonical form (msgpack-c's smallest forms, keys sorted) and a random,
 * deliberately wasteful form of the same value. */
enum { V_NIL, V_BOOL, V_UINT, V_NEG, V_F32, V_F64, V_STR, V_BIN, V_ARRAY, V_MAP };

typedef struct vnode {
    int kind;
    uint64_t u;
    int64_t i;
    double f;
    char s[24];
    size_t slen;
    size_t first, n; /* children (maps: key, value, key, value ...) in the pool */
} vnode;

typedef struct vpool {
    vnode nodes[2000];
    size_t n;
} vpool;

static size_t gen_key(ts_rng *r, vpool *p, const size_t *keys, size_t nkeys)
{
    static const char *const names[] = {"", "a", "ab", "b", "B", "full_name", "họ_tên", "vv", "fields", "z",
                                        "type", "Ω", "aa", "ba", "fields2", "_deleted"};
    for (;;) {
        const char *name = names[ts_rng_below(r, sizeof names / sizeof *names)];
        bool taken = false;
        for (size_t i = 0; i < nkeys; i++)
            if (strcmp(p->nodes[keys[i]].s, name) == 0)
                taken = true;
        if (taken)
            continue;
        vnode *k = &p->nodes[p->n];
        memset(k, 0, sizeof *k);
        k->kind = V_STR;
        snprintf(k->s, sizeof k->s, "%s", name);
        k->slen = strlen(name);
        return p->n++;
    }
}

static size_t gen_value(ts_rng *r, vpool *p, int depth)
{
    assert_true(p->n < sizeof p->nodes / sizeof *p->nodes - 100);
    size_t at = p->n++;
    vnode *v = &p->nodes[at];
    memset(v, 0, sizeof *v);
    int kinds = depth >= 4 || p->n > 400 ? V_ARRAY : V_MAP + 1;
    v->kind = (int)ts_rng_below(r, (uint64_t)kinds);
    static const uint64_t umax[] = {0x7f, 0xff, 0xffff, 0xffffffffull, UINT64_MAX};
    switch (v->kind) {
    case V_BOOL: v->u = ts_rng_below(r, 2); break;
    case V_UINT: v->u = ts_rng_next(r) & umax[ts_rng_below(r, 5)]; break;
    case V_NEG: {
        static const int64_t lo[] = {-32, -128, -32768, -2147483647 - 1, INT64_MIN};
        int64_t m = lo[ts_rng_below(r, 5)];
        /* uniform in [m, -1] */
        uint64_t span = (uint64_t)(-(m + 1)) + 1;
        v->i = -1 - (int64_t)ts_rng_below(r, span);
        break;
    }
    case V_F32: v->f = (double)(float)((double)(int64_t)(ts_rng_next(r) >> 40) / 64.0); break;
    case V_F64: v->f = (double)(int64_t)ts_rng_next(r) / 3.0; break;
    case V_STR:
    case V_BIN: {
        static const char *const words[] = {"", "Lan", "Nguyễn Thị Lan", "XA01", "hoa_toc", "1987-03-14"};
        snprintf(v->s, sizeof v->s, "%s", words[ts_rng_below(r, 6)]);
        v->slen = strlen(v->s);
        break;
    }
    case V_ARRAY: {
        size_t n = (size_t)ts_rng_below(r, 5);
        size_t kids[5];
        for (size_t i = 0; i < n; i++)
            kids[i] = gen_value(r, p, depth + 1);
        /* children must be contiguous: copy them after their parent's range */
        v = &p->nodes[at];
        v->first = p->n;
        v->n = n;
        for (size_t i = 0; i < n; i++)
            p->nodes[p->n++] = p->nodes[kids[i]];
        break;
    }
    case V_MAP: {
        size_t n = (size_t)ts_rng_below(r, 5);
        size_t keys[5], vals[5];
        for (size_t i = 0; i < n; i++) {
            keys[i] = gen_key(r, p, keys, i);
            vals[i] = gen_value(r, p, depth + 1);
        }
        v = &p->nodes[at];
        v->first = p->n;
        v->n = n;
        for (size_t i = 0; i < n; i++) {
            p->nodes[p->n++] = p->nodes[keys[i]];
            p->nodes[p->n++] = p->nodes[vals[i]];
        }
        break;
    }
    default: break;
    }
    return at;
}

static int key_cmp(const vnode *a, const vnode *b)
{
    size_t n = a->slen < b->slen ? a->slen : b->slen;
    int c = memcmp(a->s, b->s, n);
    if (c != 0)
        return c;
    return (a->slen > b->slen) - (a->slen < b->slen);
}

static void pack_expected(msgpack_packer *pk, const vpool *p, size_t at)
{
    const vnode *v = &p->nodes[at];
    switch (v->kind) {
    case V_NIL: msgpack_pack_nil(pk); break;
    case V_BOOL: if (v->u) msgpack_pack_true(pk); else msgpack_pack_false(pk); break;
    case V_UINT: msgpack_pack_uint64(pk, v->u); break;
    case V_NEG: msgpack_pack_int64(pk, v->i); break;
    case V_F32:
    case V_F64: msgpack_pack_double(pk, v->f); break;
    case V_STR: msgpack_pack_str(pk, v->slen); msgpack_pack_str_body(pk, v->s, v->slen); break;
    case V_BIN: msgpack_pack_bin(pk, v->slen); msgpack_pack_bin_body(pk, v->s, v->slen); break;
    case V_ARRAY:
        msgpack_pack_array(pk, v->n);
        for (size_t i = 0; i < v->n; i++)
            pack_expected(pk, p, v->first + i);
        break;
    case V_MAP: {
        size_t order[5];
        for (size_t i = 0; i < v->n; i++)
            order[i] = i;
        /* insertion sort of the entries by key bytes */
        for (size_t i = 1; i < v->n; i++)
            for (size_t j = i; j > 0 && key_cmp(&p->nodes[v->first + 2 * order[j]],
                                                &p->nodes[v->first + 2 * order[j - 1]]) < 0; j--) {
                size_t t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        msgpack_pack_map(pk, v->n);
        for (size_t i = 0; i < v->n; i++) {
            pack_expected(pk, p, v->first + 2 * order[i]);
            pack_expected(pk, p, v->first + 2 * order[i] + 1);
        }
        break;
    }
    }
}

static void put_be(ts_buf *b, uint8_t type, uint64_t v, size_t n)
{
    uint8_t tmp[9];
    tmp[0] = type;
    for (size_t i = 0; i < n; i++)
        tmp[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    ts_buf_append(b, tmp, n + 1);
}

/* A header for a length: any form that can hold it, picked at random. */
static void put_len(ts_rng *r, ts_buf *b, size_t len, int fix_base, size_t fix_max, uint8_t t8, uint8_t t16,
                    uint8_t t32)
{
    for (;;) {
        switch (ts_rng_below(r, 4)) {
        case 0:
            if (fix_base >= 0 && len <= fix_max) {
                uint8_t c = (uint8_t)(fix_base | (int)len);
                ts_buf_append(b, &c, 1);
                return;
            }
            break;
        case 1:
            if (t8 && len <= 0xff) {
                put_be(b, t8, len, 1);
                return;
            }
            break;
        case 2:
            if (len <= 0xffff) {
                put_be(b, t16, len, 2);
                return;
            }
            break;
        default: put_be(b, t32, len, 4); return;
        }
    }
}

static void pack_wasteful(ts_rng *r, ts_buf *b, const vpool *p, size_t at)
{
    const vnode *v = &p->nodes[at];
    switch (v->kind) {
    case V_NIL: ts_buf_append(b, "\xc0", 1); break;
    case V_BOOL: ts_buf_append(b, v->u ? "\xc3" : "\xc2", 1); break;
    case V_UINT:
        for (;;) {
            uint64_t form = ts_rng_below(r, 9);
            static const uint8_t types[] = {0, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3};
            static const size_t widths[] = {0, 1, 2, 4, 8, 1, 2, 4, 8};
            uint64_t cap = form == 0 ? 0x7f
                         : form <= 4 ? (widths[form] == 8 ? UINT64_MAX : (1ull << (8 * widths[form])) - 1)
                                     : (1ull << (8 * widths[form] - 1)) - 1;
            if (v->u > cap)
                continue;
            if (form == 0) {
                uint8_t c = (uint8_t)v->u;
                ts_buf_append(b, &c, 1);
            } else {
                put_be(b, types[form], v->u, widths[form]);
            }
            break;
        }
        break;
    case V_NEG:
        for (;;) {
            uint64_t form = ts_rng_below(r, 5);
            static const uint8_t types[] = {0, 0xd0, 0xd1, 0xd2, 0xd3};
            static const size_t widths[] = {0, 1, 2, 4, 8};
            int64_t lo = form == 0 ? -32 : widths[form] == 8 ? INT64_MIN : -(int64_t)(1ull << (8 * widths[form] - 1));
            if (v->i < lo)
                continue;
            if (form == 0) {
                uint8_t c = (uint8_t)(int8_t)v->i;
                ts_buf_append(b, &c, 1);
            } else {
                put_be(b, types[form], (uint64_t)v->i, widths[form]);
            }
            break;
        }
        break;
    case V_F32: {
        float f = (float)v->f;
        uint32_t bits;
        memcpy(&bits, &f, 4);
        put_be(b, 0xca, bits, 4);
        break;
    }
    case V_F64: {
        uint64_t bits;
        memcpy(&bits, &v->f, 8);
        put_be(b, 0xcb, bits, 8);
        break;
    }
    case V_STR:
        put_len(r, b, v->slen, 0xa0, 31, 0xd9, 0xda, 0xdb);
        ts_buf_append(b, v->s, v->slen);
        break;
    case V_BIN:
        put_len(r, b, v->slen, -1, 0, 0xc4, 0xc5, 0xc6);
        ts_buf_append(b, v->s, v->slen);
        break;
    case V_ARRAY:
        put_len(r, b, v->n, 0x90, 15, 0, 0xdc, 0xdd);
        for (size_t i = 0; i < v->n; i++)
            pack_wasteful(r, b, p, v->first + i);
        break;
    case V_MAP: {
        size_t order[5];
        for (size_t i = 0; i < v->n; i++)
            order[i] = i;
        for (size_t i = v->n; i > 1; i--) { /* shuffle the entries */
            size_t j = (size_t)ts_rng_below(r, i);
            size_t t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        put_len(r, b, v->n, 0x80, 15, 0, 0xde, 0xdf);
        for (size_t i = 0; i < v->n; i++) {
            pack_wasteful(r, b, p, v->first + 2 * order[i]);
            pack_wasteful(r, b, p, v->first + 2 * order[i] + 1);
        }
        break;
    }
    }
}

static void test_pack_canonical_property(void **state)
{
    (void)state;
    uint64_t seeds = ts_test_seed_count(300);
    vpool *pool = malloc(sizeof *pool);
    assert_non_null(pool);
    ts_buf want = TS_BUF_INIT, wasteful = TS_BUF_INIT, got = TS_BUF_INIT, again = TS_BUF_INIT;
    for (uint64_t i = 0; i < seeds; i++) {
        uint64_t seed = ts_test_seed(i);
        ts_rng r;
        ts_rng_seed(&r, seed);
        pool->n = 0;
        size_t root = gen_value(&r, pool, 0);

        ts_buf_reset(&want);
        ts_buf_reset(&wasteful);
        ts_buf_reset(&got);
        ts_buf_reset(&again);
        msgpack_packer pk;
        ts_buf_packer(&want, &pk);
        pack_expected(&pk, pool, root);
        pack_wasteful(&r, &wasteful, pool, root);

        ts_error err;
        msgpack_unpacked up;
        ts_check_seed(ts_mp_unpack(wasteful.data, wasteful.len, NULL, &up, &err) == 0, seed,
                      "wasteful form refused: %s", err.msg);
        ts_buf_packer(&got, &pk);
        ts_mp_pack_canonical(&pk, &up.data);
        msgpack_unpacked_destroy(&up);
        ts_check_seed(got.len == want.len && memcmp(got.data, want.data, want.len) == 0, seed,
                      "canonical form differs from the smallest sorted encoding (%zu vs %zu bytes)", got.len,
                      want.len);

        /* canonical is a fixed point and is itself valid */
        ts_check_seed(ts_mp_unpack(got.data, got.len, NULL, &up, &err) == 0, seed, "canonical refused: %s",
                      err.msg);
        ts_buf_packer(&again, &pk);
        ts_mp_pack_canonical(&pk, &up.data);
        msgpack_unpacked_destroy(&up);
        ts_check_seed(again.len == got.len && memcmp(again.data, got.data, got.len) == 0, seed,
                      "canonical(canonical(x)) != canonical(x)");
    }
    ts_buf_free(&want);
    ts_buf_free(&wasteful);
    ts_buf_free(&got);
    ts_buf_free(&again);
    free(pool);
}

/* ---------------------------------------------------------------- duplicate keys */

static void build_map(ts_buf *b, const char *const *keys, size_t n)
{
    ts_buf_reset(b);
    msgpack_packer pk;
    ts_buf_packer(b, &pk);
    msgpack_pack_map(&pk, n);
    for (size_t i = 0; i < n; i++) {
        ts_mp_pack_cstr(&pk, keys[i]);
        msgpack_pack_uint64(&pk, i);
    }
}

static int check_unique(const char *const *keys, size_t n, ts_error *err)
{
    ts_buf b = TS_BUF_INIT;
    build_map(&b, keys, n);
    msgpack_unpacked up;
    assert_int_equal(ts_mp_unpack(b.data, b.len, NULL, &up, err), 0);
    ts_error_clear(err);
    int rc = ts_mp_map_check_unique(&up.data, "PUSH.changes[3]", err);
    msgpack_unpacked_destroy(&up);
    ts_buf_free(&b);
    return rc;
}

static void test_map_check_unique_cases(void **state)
{
    (void)state;
    ts_error err;
    static const char *const none[] = {"x"};
    assert_int_equal(check_unique(none, 0, &err), 0);
    assert_int_equal(check_unique(none, 1, &err), 0);

    /* small maps (8 keys or fewer): prefixes and case are different keys */
    static const char *const small_ok[] = {"a", "ab", "A", "", "b", "ba", "abc", "họ"};
    assert_int_equal(check_unique(small_ok, 8, &err), 0);
    static const char *const small_first_last[] = {"id", "a", "ab", "A", "", "b", "ba", "id"};
    assert_int_equal(check_unique(small_first_last, 8, &err), TS_EDUPLICATE_KEY);
    assert_string_equal(err.msg, "PUSH.changes[3]: key \"id\" appears twice");
    static const char *const small_adjacent[] = {"table", "table"};
    assert_int_equal(check_unique(small_adjacent, 2, &err), TS_EDUPLICATE_KEY);
    assert_non_null(strstr(err.msg, "\"table\""));
    static const char *const small_empty[] = {"", "x", ""};
    assert_int_equal(check_unique(small_empty, 3, &err), TS_EDUPLICATE_KEY);
    assert_string_equal(err.msg, "PUSH.changes[3]: key \"\" appears twice");

    /* large maps (more than 8 keys) take the sorting path */
    static const char *const big_ok[] = {"table", "id", "owner", "vv", "fields", "seq", "lseq", "losers",
                                         "extra", "ab", "a", "abc", "", "Nguyễn"};
    assert_int_equal(check_unique(big_ok, 9, &err), 0);
    assert_int_equal(check_unique(big_ok, 14, &err), 0);
    static const char *const big_dup_ends[] = {"vv", "id", "owner", "table", "fields", "seq", "lseq", "losers",
                                               "vv"};
    assert_int_equal(check_unique(big_dup_ends, 9, &err), TS_EDUPLICATE_KEY);
    assert_string_equal(err.msg, "PUSH.changes[3]: key \"vv\" appears twice");
    static const char *const big_dup_utf8[] = {"a", "b", "c", "d", "e", "f", "g", "h", "Nguyễn", "i", "Nguyễn"};
    assert_int_equal(check_unique(big_dup_utf8, 11, &err), TS_EDUPLICATE_KEY);
    assert_non_null(strstr(err.msg, "\"Nguyễn\""));
    /* a key appearing three times is one error */
    static const char *const big_triple[] = {"k", "a", "b", "k", "c", "d", "e", "f", "k"};
    assert_int_equal(check_unique(big_triple, 9, &err), TS_EDUPLICATE_KEY);
    assert_non_null(strstr(err.msg, "\"k\""));
}

static void test_map_check_unique_property(void **state)
{
    (void)state;
    static const char *const alphabet[] = {"", "a", "b", "ab", "ba", "aa", "A", "ả", "a\xcc\x89", "abc",
                                           "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "k10",
                                           "k11", "k12", "k13", "k14", "k15", "k16", "k17", "k18", "k19", "k20"};
    const size_t nalpha = sizeof alphabet / sizeof *alphabet;
    uint64_t seeds = ts_test_seed_count(400);
    for (uint64_t s = 0; s < seeds; s++) {
        uint64_t seed = ts_test_seed(s);
        ts_rng r;
        ts_rng_seed(&r, seed);
        size_t n = (size_t)ts_rng_below(&r, 40);
        /* sometimes draw from a few names (duplicates likely), sometimes from all */
        size_t pick = ts_rng_chance(&r, 0.5) ? 6 : nalpha;
        const char *keys[40];
        for (size_t i = 0; i < n; i++)
            keys[i] = alphabet[ts_rng_below(&r, pick)];
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            for (size_t j = i + 1; j < n && !dup; j++)
                dup = strcmp(keys[i], keys[j]) == 0;
        ts_error err;
        int rc = check_unique(keys, n, &err);
        ts_check_seed(rc == (dup ? TS_EDUPLICATE_KEY : 0), seed, "%zu keys: got %d, duplicate=%d", n, rc, dup);
        if (dup) {
            /* the key named really is a duplicate */
            const char *q1 = strchr(err.msg, '"');
            ts_check_seed(q1 != NULL, seed, "no key in \"%s\"", err.msg);
            const char *q2 = strchr(q1 + 1, '"');
            size_t len = (size_t)(q2 - q1 - 1);
            size_t count = 0;
            for (size_t i = 0; i < n; i++)
                count += strlen(keys[i]) == len && memcmp(keys[i], q1 + 1, len) == 0;
            ts_check_seed(count >= 2, seed, "\"%s\" names a key that is not duplicated", err.msg);
        }
    }
}

/* ts_mp_scalar must read every scalar form exactly as the validating unpacker
 * does (float32 widened), and refuse containers, truncation and trailing bytes. */
static void put_scalar(ts_rng *r, ts_buf *b)
{
    uint8_t t = (uint8_t)ts_rng_below(r, 256);
    ts_buf_append(b, &t, 1);
    size_t n = 0, strlen_ = 0;
    if ((t >= 0xa0 && t <= 0xbf))
        strlen_ = t & 0x1f;
    else if (t >= 0xcc && t <= 0xcf)
        n = (size_t)1 << (t - 0xcc);
    else if (t >= 0xd0 && t <= 0xd3)
        n = (size_t)1 << (t - 0xd0);
    else if (t == 0xca || t == 0xcb)
        n = t == 0xca ? 4 : 8;
    else if (t == 0xd9 || t == 0xc4)
    {
        strlen_ = (size_t)ts_rng_below(r, 40);
        uint8_t h = (uint8_t)strlen_;
        ts_buf_append(b, &h, 1);
    } else if (t == 0xda || t == 0xc5) {
        strlen_ = (size_t)ts_rng_below(r, 300);
        uint8_t h[2] = {(uint8_t)(strlen_ >> 8), (uint8_t)strlen_};
        ts_buf_append(b, h, 2);
    } else if (t == 0xdb || t == 0xc6) {
        strlen_ = (size_t)ts_rng_below(r, 70000);
        uint8_t h[4] = {0, (uint8_t)(strlen_ >> 16), (uint8_t)(strlen_ >> 8), (uint8_t)strlen_};
        ts_buf_append(b, h, 4);
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)ts_rng_next(r);
        ts_buf_append(b, &c, 1);
    }
    for (size_t i = 0; i < strlen_; i++) {
        uint8_t c = (uint8_t)('a' + ts_rng_below(r, 26));
        ts_buf_append(b, &c, 1);
    }
}

static bool same_scalar(const msgpack_object *a, const msgpack_object *b)
{
    double fa = a->via.f64, fb = b->via.f64;
    switch (a->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (b->type != MSGPACK_OBJECT_FLOAT64 && b->type != MSGPACK_OBJECT_FLOAT32)
            return false;
        return memcmp(&fa, &fb, sizeof fa) == 0 || (fa != fa && fb != fb);
    default:
        if (a->type != b->type)
            return false;
        switch (a->type) {
        case MSGPACK_OBJECT_NIL: return true;
        case MSGPACK_OBJECT_BOOLEAN: return a->via.boolean == b->via.boolean;
        case MSGPACK_OBJECT_POSITIVE_INTEGER: return a->via.u64 == b->via.u64;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return a->via.i64 == b->via.i64;
        case MSGPACK_OBJECT_STR:
        case MSGPACK_OBJECT_BIN:
            return a->via.str.size == b->via.str.size &&
                   (a->via.str.size == 0 || memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0);
        default: return false;
        }
    }
}

static void test_scalar_matches_unpacker(void **state)
{
    (void)state;
    uint64_t seeds = ts_test_seed_count(3000);
    ts_buf b;
    ts_buf_init(&b);
    size_t scalars = 0;
    for (uint64_t s = 0; s < seeds; s++) {
        uint64_t seed = ts_test_seed(s);
        ts_rng r;
        ts_rng_seed(&r, seed);
        ts_buf_reset(&b);
        put_scalar(&r, &b);
        msgpack_object got;
        int rc = ts_mp_scalar(b.data, b.len, &got);
        ts_error err;
        msgpack_unpacked up;
        int urc = ts_mp_unpack(b.data, b.len, NULL, &up, &err);
        bool container = urc == 0 && (up.data.type == MSGPACK_OBJECT_ARRAY || up.data.type == MSGPACK_OBJECT_MAP);
        if (urc == 0 && !container) {
            scalars++;
            ts_check_seed(rc == 0, seed, "scalar 0x%02x refused", b.data[0]);
            ts_check_seed(same_scalar(&up.data, &got), seed, "scalar 0x%02x read differently", b.data[0]);
        } else {
            ts_check_seed(rc == -1, seed, "0x%02x accepted though the unpacker says %s", b.data[0],
                          container ? "container" : err.msg);
        }
        if (urc == 0)
            msgpack_unpacked_destroy(&up);
        if (rc == 0) {
            /* one byte short, or one byte over, is never a scalar */
            ts_check_seed(ts_mp_scalar(b.data, b.len - 1, &got) == -1, seed, "truncated 0x%02x accepted",
                          b.data[0]);
            ts_buf_append(&b, "\xc0", 1);
            ts_check_seed(ts_mp_scalar(b.data, b.len, &got) == -1, seed, "trailing byte after 0x%02x accepted",
                          b.data[0]);
        }
    }
    ts_buf_free(&b);
    assert_true(seeds < 1000 || scalars > seeds / 2);
}

/* The validator against a plain decoder (code point by code point, the
 * definition of well-formed UTF-8): every 1-3 byte input, and random longer
 * ones. */
static bool utf8_reference(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            need = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        uint32_t min = need == 1 ? 0x80 : need == 2 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

static void test_utf8_matches_reference(void **state)
{
    (void)state;
    uint8_t b[8];
    for (uint32_t x = 0; x < (1u << 24); x++) {
        b[0] = (uint8_t)(x >> 16), b[1] = (uint8_t)(x >> 8), b[2] = (uint8_t)x;
        for (size_t n = 1; n <= 3; n++) {
            if (n < 3 && (x & ((1u << (8 * (3 - n))) - 1)) != 0)
                continue; /* shorter inputs once each */
            if (ts_utf8_valid(b, n) != utf8_reference(b, n))
                fail_msg("%02x %02x %02x (%zu bytes): validator %d, reference %d", b[0], b[1], b[2], n,
                         ts_utf8_valid(b, n), !ts_utf8_valid(b, n));
        }
    }
    uint64_t seeds = ts_test_seed_count(200000);
    for (uint64_t i = 0; i < seeds; i++) {
        uint64_t seed = ts_test_seed(i);
        ts_rng r;
        ts_rng_seed(&r, seed);
        size_t n = 1 + (size_t)ts_rng_below(&r, 8);
        for (size_t k = 0; k < n; k++) /* bytes near the interesting ranges */
            b[k] = (uint8_t)(ts_rng_chance(&r, 0.5) ? 0x80 + ts_rng_below(&r, 0x80) : ts_rng_below(&r, 256));
        ts_check_seed(ts_utf8_valid(b, n) == utf8_reference(b, n), seed, "%zu random bytes disagree", n);
    }
}

/* The direct writers produce exactly what msgpack-c's packer does (the
 * store's blobs must not change with the writer used). */
static void test_direct_writers_match_packer(void **state)
{
    (void)state;
    static const uint64_t uints[] = {0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295u, 4294967296u, UINT64_MAX};
    static const uint32_t counts[] = {0, 1, 15, 16, 65535, 65536, 100000};
    static const size_t lens[] = {0, 1, 31, 32, 255, 256, 65535, 65536};
    ts_buf want = TS_BUF_INIT, got = TS_BUF_INIT;
    msgpack_packer pk;
    char *text = ts_xmalloc(65536);
    memset(text, 'x', 65536);
    for (size_t i = 0; i < sizeof uints / sizeof *uints; i++) {
        ts_buf_reset(&want), ts_buf_reset(&got);
        ts_buf_packer(&want, &pk);
        msgpack_pack_uint64(&pk, uints[i]);
        ts_mp_put_uint(&got, uints[i]);
        assert_true(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);
    }
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        ts_buf_reset(&want), ts_buf_reset(&got);
        ts_buf_packer(&want, &pk);
        msgpack_pack_map(&pk, counts[i]);
        msgpack_pack_array(&pk, counts[i]);
        ts_mp_put_map(&got, counts[i]);
        ts_mp_put_array(&got, counts[i]);
        assert_true(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);
    }
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        ts_buf_reset(&want), ts_buf_reset(&got);
        ts_buf_packer(&want, &pk);
        ts_mp_pack_strn(&pk, text, lens[i]);
        ts_mp_put_str(&got, text, lens[i]);
        assert_true(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);
    }
    free(text);
    ts_buf_free(&want);
    ts_buf_free(&got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_reserved_c1),
        cmocka_unit_test(test_ext_types_rejected),
        cmocka_unit_test(test_map_keys_must_be_str),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_utf8_matches_reference),
        cmocka_unit_test(test_direct_writers_match_packer),
        cmocka_unit_test(test_declared_length_beyond_input),
        cmocka_unit_test(test_huge_declared_counts_fail_before_allocation),
        cmocka_unit_test(test_nesting_depth),
        cmocka_unit_test(test_too_many_elements),
        cmocka_unit_test(test_too_many_objects),
        cmocka_unit_test(test_object_limit_counts_every_object),
        cmocka_unit_test(test_string_too_long),
        cmocka_unit_test(test_accepts_exactly_at_limits),
        cmocka_unit_test(test_every_valid_form_accepted),
        cmocka_unit_test(test_truncated_at_every_offset),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_scalar_matches_unpacker),
        cmocka_unit_test(test_pack_canonical_cases),
        cmocka_unit_test(test_pack_canonical_property),
        cmocka_unit_test(test_map_check_unique_cases),
        cmocka_unit_test(test_map_check_unique_property),
    };
    return cmocka_run_group_tests(tests, install_alloc_watch, NULL);
}
