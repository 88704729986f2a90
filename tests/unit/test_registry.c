/* The table registry (common/ts_registry.h): loading and checking the
 * schema file, and validating versions against it, with the focus on the
 * checksum option `sha256_of` (a text field that must hold the SHA-256 of
 * another field's bytes, checked on every write and every applied change).
 *
 *  - the built-in registry loads; notice_attachments.sha256 is the checksum
 *    of notice_attachments.content
 *  - every refusal of a bad sha256_of names the table, field and rule
 *  - validation: a matching checksum passes; a changed byte, a missing or
 *    cleared data field, a wrong length, upper-case or non-hex digits are
 *    refused with a reason that says which; no checksum (optional) passes
 *  - the built-in notice_attachments: file names without path separators or
 *    control characters, MIME types of one token/token, the 256 KiB cap
 *  - the store refuses the same at a station applying a change from the
 *    district (a forged or corrupted attachment) and on a local write */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_arena.h"
#include "common/ts_mp.h"
#include "common/ts_registry.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_store.h"

/* A small registry: a district table with a bin field and its checksum, a
 * text field and its (optional) checksum. */
static const char reg_json[] =
    "{\"version\": 1, \"tables\": {"
    " \"files\": {\"kind\": \"district\", \"audience\": \"all\", \"fields\": {"
    "   \"data\":      {\"type\": \"bin\", \"max\": 1024},"
    "   \"digest\":    {\"type\": \"text\", \"required\": true, \"sha256_of\": \"data\"},"
    "   \"note\":      {\"type\": \"text\", \"max\": 200},"
    "   \"note_hash\": {\"type\": \"text\", \"sha256_of\": \"note\"}}}}}";

/* SHA-256("abc") (FIPS 180-2, appendix B.1) and of the empty string */
#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct ver {
    ts_version v;
    ts_arena arena;
    uint64_t n;
} ver;

static void ver_init(ver *x)
{
    ts_version_init(&x->v);
    ts_arena_init(&x->arena, 4096);
    x->n = 0;
}

static void ver_free(ver *x)
{
    ts_version_free(&x->v);
    ts_arena_free(&x->arena);
}

static void put_raw(ver *x, const char *name, const uint8_t *value, size_t len)
{
    ts_dot dot;
    memset(&dot, 0, sizeof dot);
    ts_rid_set_cstr(&dot.rid, "district.test");
    dot.counter = ++x->n;
    ts_vv_bump(&x->v.vv, &dot.rid);
    ts_version_put(&x->v, &x->arena, name, value, len, &dot, 1000 + x->n);
}

static void put_str(ver *x, const char *name, const char *s)
{
    ts_buf b = TS_BUF_INIT;
    ts_value_str(&b, s);
    put_raw(x, name, b.data, b.len);
    ts_buf_free(&b);
}

static void put_bin(ver *x, const char *name, const void *bytes, size_t len)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_bin(&pk, len);
    msgpack_pack_bin_body(&pk, bytes, len);
    put_raw(x, name, b.data, b.len);
    ts_buf_free(&b);
}

static void put_nil(ver *x, const char *name)
{
    static const uint8_t nil = 0xc0;
    put_raw(x, name, &nil, 1);
}

static void load(ts_registry *reg, const char *json)
{
    ts_error err;
    if (ts_registry_load_json(reg, json, strlen(json), &err) < 0)
        fail_msg("registry refused: %s", err.msg);
}

/* Validation must refuse with a reason holding every needle. */
static void refused(const ts_table_def *t, const ts_version *v, const char *needle1, const char *needle2)
{
    ts_error err;
    memset(&err, 0, sizeof err);
    int rc = ts_table_validate(t, v, &err);
    if (rc == 0)
        fail_msg("accepted, expected a refusal saying \"%s\"", needle1);
    assert_int_equal(rc, TS_EINVALID_RECORD);
    assert_int_equal(err.code, TS_EINVALID_RECORD);
    if (strstr(err.msg, needle1) == NULL || (needle2 && strstr(err.msg, needle2) == NULL))
        fail_msg("refusal \"%s\" does not say \"%s\"%s%s", err.msg, needle1, needle2 ? " and " : "",
                 needle2 ? needle2 : "");
}

static void accepted(const ts_table_def *t, const ts_version *v)
{
    ts_error err;
    if (ts_table_validate(t, v, &err) < 0)
        fail_msg("refused: %s", err.msg);
}

/* ---------------------------------------------------------------- helper */

static void test_sha256_hex(void **state)
{
    (void)state;
    char out[65];
    assert_true(ts_sha256_hex("abc", 3, out));
    assert_string_equal(out, SHA_ABC);
    assert_true(ts_sha256_hex("", 0, out));
    assert_string_equal(out, SHA_EMPTY);
}

/* ---------------------------------------------------------------- loading */

static void test_builtin_registry(void **state)
{
    (void)state;
    ts_registry reg;
    ts_error err;
    assert_int_equal(ts_registry_load_default(&reg, &err), 0);
    const ts_table_def *t = ts_registry_table(&reg, "notice_attachments");
    assert_non_null(t);
    assert_int_equal(t->kind, TS_TABLE_DISTRICT);
    assert_true(t->has_checksums);
    const ts_field_def *sum = ts_table_field(t, "sha256");
    assert_non_null(sum);
    assert_non_null(sum->sha256_of);
    assert_string_equal(sum->sha256_of->name, "content");
    const ts_field_def *content = ts_table_field(t, "content");
    assert_int_equal(content->type, TS_FT_BIN);
    assert_true(content->max == 262144);
    assert_string_equal(t->audience->name, "recipients");
    /* no other table carries a checksum */
    for (size_t i = 0; i < reg.ntables; i++)
        if (&reg.tables[i] != t)
            assert_false(reg.tables[i].has_checksums);
    ts_registry_free(&reg);
}

static void test_load_refusals(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"{\"tables\":{\"f\":{\"kind\":\"district\",\"audience\":\"all\",\"fields\":{"
         "\"d\":{\"type\":\"bin\"},\"s\":{\"type\":\"int\",\"sha256_of\":\"d\"}}}}}",
         "table f, field s: sha256_of needs a text field"},
        {"{\"tables\":{\"f\":{\"kind\":\"district\",\"audience\":\"all\",\"fields\":{"
         "\"d\":{\"type\":\"bin\"},\"s\":{\"type\":\"text\",\"sha256_of\":\"nosuch\"}}}}}",
         "table f, field s: sha256_of names unknown field nosuch"},
        {"{\"tables\":{\"f\":{\"kind\":\"district\",\"audience\":\"all\",\"fields\":{"
         "\"s\":{\"type\":\"text\",\"sha256_of\":\"s\"}}}}}",
         "table f, field s: sha256_of cannot name the field itself"},
        {"{\"tables\":{\"f\":{\"kind\":\"district\",\"audience\":\"all\",\"fields\":{"
         "\"n\":{\"type\":\"int\"},\"s\":{\"type\":\"text\",\"sha256_of\":\"n\"}}}}}",
         "table f, field s: sha256_of must name a bin or text field"},
        {"{\"tables\":{\"f\":{\"kind\":\"district\",\"audience\":\"all\",\"fields\":{"
         "\"d\":{\"type\":\"bin\"},\"s\":{\"type\":\"text\",\"sha256_of\":[\"d\"]}}}}}",
         "table f, field s: sha256_of must name a field"},
        {"{\"tables\":{\"f\":{\"kind\":\"shared\",\"audience_field\":\"st\",\"station_writable\":[\"d\"],"
         "\"fields\":{\"st\":{\"type\":\"text\",\"required\":true},"
         "\"d\":{\"type\":\"bin\"},\"s\":{\"type\":\"text\",\"sha256_of\":\"d\"}}}}}",
         "table f: fields s and d must both be station-writable or neither"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ts_registry reg;
        ts_error err;
        memset(&err, 0, sizeof err);
        if (ts_registry_load_json(&reg, bad[i][0], strlen(bad[i][0]), &err) == 0) {
            ts_registry_free(&reg);
            fail_msg("case %zu accepted: %s", i, bad[i][0]);
        }
        assert_int_equal(err.code, TS_EBAD_VALUE);
        if (strstr(err.msg, bad[i][1]) == NULL)
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err.msg, bad[i][1]);
    }
    /* both station-writable is fine, and so is a text field as the data */
    static const char ok[] = "{\"tables\":{\"f\":{\"kind\":\"shared\",\"audience_field\":\"st\","
                             "\"station_writable\":[\"d\",\"s\"],\"fields\":{\"st\":{\"type\":\"text\",\"required\":true},"
                             "\"d\":{\"type\":\"text\"},\"s\":{\"type\":\"text\",\"sha256_of\":\"d\"}}}}}";
    ts_registry reg;
    load(&reg, ok);
    assert_non_null(ts_table_field(ts_registry_table(&reg, "f"), "s")->sha256_of);
    ts_registry_free(&reg);
}

/* ---------------------------------------------------------------- validation */

static void test_checksum_match(void **state)
{
    (void)state;
    ts_registry reg;
    load(&reg, reg_json);
    const ts_table_def *t = ts_registry_table(&reg, "files");
    ver x;
    ver_init(&x);
    put_bin(&x, "data", "abc", 3);
    put_str(&x, "digest", SHA_ABC);
    accepted(t, &x.v);
    /* empty bytes have a checksum too */
    ver_free(&x);
    ver_init(&x);
    put_bin(&x, "data", "", 0);
    put_str(&x, "digest", SHA_EMPTY);
    accepted(t, &x.v);
    /* a text field as the data; an optional checksum may be absent or nil */
    put_str(&x, "note", "abc");
    accepted(t, &x.v);
    put_nil(&x, "note_hash");
    accepted(t, &x.v);
    put_str(&x, "note_hash", SHA_ABC);
    accepted(t, &x.v);
    ver_free(&x);
    ts_registry_free(&reg);
}

static void test_checksum_mismatch(void **state)
{
    (void)state;
    ts_registry reg;
    load(&reg, reg_json);
    const ts_table_def *t = ts_registry_table(&reg, "files");
    ver x;
    ver_init(&x);
    put_bin(&x, "data", "abd", 3); /* one byte changed */
    put_str(&x, "digest", SHA_ABC);
    refused(t, &x.v, "field digest: the 3 bytes of field data do not match their SHA-256", "recorded ba7816bf8f01");
    /* the checksum of other bytes, a valid digest all the same */
    put_bin(&x, "data", "abc", 3);
    put_str(&x, "digest", SHA_EMPTY);
    refused(t, &x.v, "do not match their SHA-256", "computed ba7816bf8f01");
    /* a text data field and its checksum */
    put_str(&x, "digest", SHA_ABC);
    put_str(&x, "note", "abcd");
    put_str(&x, "note_hash", SHA_ABC);
    refused(t, &x.v, "field note_hash: the 4 bytes of field note", NULL);
    ver_free(&x);
    ts_registry_free(&reg);
}

static void test_checksum_missing_data(void **state)
{
    (void)state;
    ts_registry reg;
    load(&reg, reg_json);
    const ts_table_def *t = ts_registry_table(&reg, "files");
    ver x;
    ver_init(&x);
    put_str(&x, "digest", SHA_ABC);
    refused(t, &x.v, "table files: field digest holds a SHA-256 but field data is missing", NULL);
    put_nil(&x, "data");
    refused(t, &x.v, "field data is missing", NULL);
    /* a deleted record keeps its rule: what it holds must still agree */
    static const uint8_t yes = 0xc3;
    put_raw(&x, "_deleted", &yes, 1);
    refused(t, &x.v, "field data is missing", NULL);
    ver_free(&x);
    ts_registry_free(&reg);
}

static void test_checksum_bad_form(void **state)
{
    (void)state;
    ts_registry reg;
    load(&reg, reg_json);
    const ts_table_def *t = ts_registry_table(&reg, "files");
    static const char *const bad[] = {
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",   /* 63 digits */
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0", /* 65 */
        "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",  /* upper case */
        "za7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",  /* not hex */
        " a7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ver x;
        ver_init(&x);
        put_bin(&x, "data", "abc", 3);
        put_str(&x, "digest", bad[i]);
        refused(t, &x.v, "field digest: a SHA-256 is 64 lowercase hex digits", NULL);
        ver_free(&x);
    }
    /* the required checksum missing is the usual required-field refusal */
    ver x;
    ver_init(&x);
    put_bin(&x, "data", "abc", 3);
    refused(t, &x.v, "required field \"digest\" is missing", NULL);
    ver_free(&x);
    ts_registry_free(&reg);
}

/* ---------------------------------------------------------------- the built-in table */

static void attachment(ver *x, const char *filename, const char *mime, const void *bytes, size_t len)
{
    char sum[65];
    assert_true(ts_sha256_hex(bytes, len, sum));
    put_str(x, "notice_id", "TB-20261120-0a1b2c3d");
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_array(&pk, 2);
    ts_mp_pack_cstr(&pk, "binhnguyen");
    ts_mp_pack_cstr(&pk, "xuanlang");
    put_raw(x, "recipients", b.data, b.len);
    ts_buf_free(&b);
    put_str(x, "filename", filename);
    if (mime)
        put_str(x, "mime", mime);
    put_bin(x, "content", bytes, len);
    put_str(x, "sha256", sum);
}

static void test_builtin_attachments(void **state)
{
    (void)state;
    const ts_table_def *t = ts_registry_table(ts_test_registry(), "notice_attachments");
    assert_non_null(t);
    static const char pdf[] = "%PDF-1.4\n% tramsync\n";
    ver x;
    ver_init(&x);
    attachment(&x, "Kế hoạch tiêm chủng 12-2026.pdf", "application/pdf", pdf, sizeof pdf - 1);
    accepted(t, &x.v);
    ver_free(&x);
    /* the bytes of a stored attachment altered on the way */
    ver_init(&x);
    attachment(&x, "ke-hoach.pdf", "application/pdf", pdf, sizeof pdf - 1);
    char altered[sizeof pdf];
    memcpy(altered, pdf, sizeof pdf);
    altered[3] ^= 1;
    put_bin(&x, "content", altered, sizeof pdf - 1);
    refused(t, &x.v, "field sha256: the 20 bytes of field content do not match their SHA-256", NULL);
    ver_free(&x);

    static const char *const bad_names[] = {"../../etc/passwd", "a/b.pdf", "C:\\temp\\x.pdf", "tab\there.pdf",
                                            "new\nline.pdf", "del\x7f.pdf"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        ver_init(&x);
        attachment(&x, bad_names[i], NULL, "x", 1);
        refused(t, &x.v, "field filename", "does not match");
        ver_free(&x);
    }
    static const char *const bad_mimes[] = {"pdf", "text/plain\r\nX-Evil: 1", "text/plain; charset=utf-8", "/x", "a/"};
    for (size_t i = 0; i < sizeof bad_mimes / sizeof *bad_mimes; i++) {
        ver_init(&x);
        attachment(&x, "x.txt", bad_mimes[i], "x", 1);
        refused(t, &x.v, "field mime", "does not match");
        ver_free(&x);
    }
    ver_init(&x);
    attachment(&x, "bảng.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "x", 1);
    accepted(t, &x.v);
    ver_free(&x);
    /* the cap: 256 KiB, not a byte more */
    uint8_t *big = ts_xcalloc(262145, 1);
    ver_init(&x);
    attachment(&x, "big.bin", "application/octet-stream", big, 262144);
    accepted(t, &x.v);
    ver_free(&x);
    ver_init(&x);
    attachment(&x, "big.bin", "application/octet-stream", big, 262145);
    refused(t, &x.v, "field content: more than 262144 bytes", NULL);
    ver_free(&x);
    free(big);
}

/* The store enforces it: a station applying a district change whose bytes
 * do not match (a forged or corrupted attachment) refuses that change and
 * keeps the others; a local write that breaks it is refused too. */
static void test_store_refuses(void **state)
{
    (void)state;
    char *dir = ts_tmpdir_make("registry");
    ts_store *sta = ts_test_open(dir, "station.db", TS_ROLE_STATION, "binhnguyen", NULL);
    ts_store *srv = ts_test_open(dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    static const char doc[] = "Kế hoạch phòng chống dịch";
    ver good, bad;
    ver_init(&good);
    ver_init(&bad);
    attachment(&good, "ke-hoach.txt", "text/plain", doc, sizeof doc - 1);
    attachment(&bad, "ke-hoach.txt", "text/plain", doc, sizeof doc - 1);
    put_bin(&bad, "content", "Kế hoạch phòng chống dịcH", sizeof doc - 1);
    static const uint8_t no = 0xc2;
    put_raw(&good, "_deleted", &no, 1);
    put_raw(&bad, "_deleted", &no, 1);
    ts_change ch[2];
    memset(ch, 0, sizeof ch);
    ch[0].table = "notice_attachments";
    ch[0].id = "TB-20261120-0a1b2c3d:1";
    ch[0].owner = "district";
    ch[0].v = bad.v;
    ch[1] = ch[0];
    ch[1].id = "TB-20261120-0a1b2c3d:2";
    ch[1].v = good.v;
    ts_actor server = {TS_ACTOR_SERVER, "district", NULL, "test"};
    ts_apply_result res[2];
    ts_error err;
    assert_int_equal(ts_store_apply(sta, &server, ch, 2, res, &err), 0);
    assert_int_equal(res[0].outcome, TS_OUTCOME_REJECTED);
    assert_int_equal(res[0].code, TS_EINVALID_RECORD);
    if (strstr(res[0].reason, "do not match their SHA-256") == NULL)
        fail_msg("reason: %s", res[0].reason);
    assert_int_equal(res[1].outcome, TS_OUTCOME_APPLIED);
    ts_arena arena;
    ts_arena_init(&arena, 1024);
    ts_change got;
    assert_int_equal(ts_store_get(sta, "notice_attachments", ch[0].id, &got, &arena, &err), TS_ENOT_FOUND);
    assert_int_equal(ts_store_get(sta, "notice_attachments", ch[1].id, &got, &arena, &err), 0);
    ts_version_free(&got.v);
    ts_arena_free(&arena);

    /* the district's own write: a checksum that is not of the bytes */
    ts_buf content = TS_BUF_INIT, sum = TS_BUF_INIT, name = TS_BUF_INIT, notice = TS_BUF_INIT, to = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&content, &pk);
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "abd", 3);
    ts_value_str(&sum, SHA_ABC);
    ts_value_str(&name, "x.txt");
    ts_value_str(&notice, "TB-x");
    ts_buf_packer(&to, &pk);
    msgpack_pack_array(&pk, 1);
    ts_mp_pack_cstr(&pk, "*");
    ts_kv kv[] = {{"notice_id", notice.data, notice.len}, {"recipients", to.data, to.len},
                  {"filename", name.data, name.len},   {"content", content.data, content.len},
                  {"sha256", sum.data, sum.len}};
    ts_actor admin = {TS_ACTOR_ADMIN, "admin-test", NULL, "test"};
    assert_int_equal(ts_store_put(srv, &admin, "notice_attachments", "TB-x:1", NULL, kv, 5, &err), TS_EINVALID_RECORD);
    assert_non_null(strstr(err.msg, "do not match their SHA-256"));
    ts_buf_reset(&content);
    ts_buf_packer(&content, &pk);
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "abc", 3);
    kv[3].value = content.data;
    kv[3].len = content.len;
    assert_int_equal(ts_store_put(srv, &admin, "notice_attachments", "TB-x:1", NULL, kv, 5, &err), 0);
    /* changing the bytes alone breaks the pair: refused, the record unchanged */
    ts_buf_reset(&content);
    ts_buf_packer(&content, &pk);
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "xyz", 3);
    ts_kv only[] = {{"content", content.data, content.len}};
    assert_int_equal(ts_store_put(srv, &admin, "notice_attachments", "TB-x:1", NULL, only, 1, &err),
                     TS_EINVALID_RECORD);
    ts_buf_free(&content);
    ts_buf_free(&sum);
    ts_buf_free(&name);
    ts_buf_free(&notice);
    ts_buf_free(&to);
    ver_free(&good);
    ver_free(&bad);
    ts_store_close(sta);
    ts_store_close(srv);
    ts_tmpdir_remove(dir);
}

/* Patterns: the built-in matcher (simple class sequences on ASCII values)
 * must agree with regexec, the definition, on every input; the rest must
 * be left to regexec. Random inputs over an alphabet that hits the classes'
 * edges, plus every schema pattern of the built-in registry. */
static void test_patterns_agree_with_regexec(void **state)
{
    (void)state;
    static const struct {
        const char *re;
        bool fast;
    } pats[] = {
        {"^[0-9]{12}$", true},
        {"^[A-Z]{2}[0-9]{13}$", true},
        {"^[+]?[0-9]{8,15}$", true},
        {"^[0-9a-f]{64}$", true},
        {"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$", true},
        {"^a?b?a$", true},
        {"^[ab]*b[ab]{2}$", true},
        {"^[^0-9]+[0-9]{0,3}$", true},
        {"^[]a]+-[a-]x{2,}$", true},
        {"^\\.[.]\\+$", true},
        {"^$", true},
        {"^x{0}y$", true},
        {"^[^/\\[:cntrl:]]+$", false}, /* POSIX class */
        {"^(ab)+$", false},
        {"^a|b$", false},
        {"^a.c$", false},
        {"[0-9]+", false}, /* not anchored */
        {"^a**$", false},
        {"^\\w+$", false},
    };
    static const char alphabet[] = "0123456789aAbBfFzZ+-./]x y#\\";
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (size_t k = 0; k < sizeof pats / sizeof *pats; k++) {
        char json[512];
        ts_buf esc = TS_BUF_INIT;
        for (const char *c = pats[k].re; *c; c++) {
            if (*c == '\\' || *c == '"')
                ts_buf_append(&esc, "\\", 1);
            ts_buf_append(&esc, c, 1);
        }
        snprintf(json, sizeof json,
                 "{\"version\": 1, \"tables\": {\"t\": {\"kind\": \"district\", \"audience\": \"all\", \"fields\": "
                 "{\"f\": {\"type\": \"text\", \"pattern\": \"%.*s\"}}}}}",
                 (int)esc.len, (const char *)esc.data);
        ts_buf_free(&esc);
        ts_registry reg;
        load(&reg, json);
        const ts_field_def *f = ts_table_field(ts_registry_table(&reg, "t"), "f");
        assert_non_null(f);
        if (ts_pattern_fast(f) != pats[k].fast)
            fail_msg("pattern %s: fast %d, expected %d", pats[k].re, ts_pattern_fast(f), pats[k].fast);
        regex_t re;
        assert_int_equal(regcomp(&re, pats[k].re, REG_EXTENDED | REG_NOSUB), 0);
        for (int i = 0; i < 20000; i++) {
            char in[80];
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t n = (size_t)(rng >> 33) % (i < 10000 ? 8 : 70);
            for (size_t j = 0; j < n; j++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                in[j] = alphabet[(rng >> 33) % (sizeof alphabet - 1)];
            }
            in[n] = '\0';
            ts_buf v = TS_BUF_INIT;
            ts_value_str(&v, in);
            ts_error err;
            bool ours = ts_field_validate(f, v.data, v.len, &err) == 0;
            bool theirs = regexec(&re, in, 0, NULL, 0) == 0;
            ts_buf_free(&v);
            if (ours != theirs)
                fail_msg("pattern %s, input \"%s\": ours %d, regexec %d", pats[k].re, in, ours, theirs);
        }
        regfree(&re);
        ts_registry_free(&reg);
    }
    /* the built-in schema's own patterns: those that can be fast are */
    ts_registry reg;
    ts_error err;
    assert_int_equal(ts_registry_load_default(&reg, &err), 0);
    const ts_table_def *res = ts_registry_table(&reg, "residents");
    assert_true(ts_pattern_fast(ts_table_field(res, "national_id")));
    assert_true(ts_pattern_fast(ts_table_field(res, "bhyt_number")));
    assert_true(ts_pattern_fast(ts_table_field(res, "phone")));
    ts_registry_free(&reg);
}

/* A text value is checked in one pass: invalid UTF-8 is named before a NUL,
 * a NUL before the length, the length in characters (not bytes). */
static void test_text_checks(void **state)
{
    (void)state;
    ts_registry reg;
    load(&reg, "{\"version\": 1, \"tables\": {\"t\": {\"kind\": \"district\", \"audience\": \"all\", \"fields\": "
               "{\"f\": {\"type\": \"text\", \"max\": 10, \"pattern\": \"^[a-z\\u00e0-\\u00ff ]*$\"}}}}}");
    const ts_field_def *f = ts_table_field(ts_registry_table(&reg, "t"), "f");
    static const struct {
        const char *bytes;
        size_t len;
        const char *verdict; /* NULL: accepted */
    } cases[] = {
        {"abcdefghij", 10, NULL},
        {"abcdefghijk", 11, "longer than 10"},
        {"\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0", 20, NULL},
        {"\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0", 22, "longer than 10"},
        {"abc\0def", 7, "NUL"},
        {"ab\0\xc3", 4, "not valid UTF-8"},
        {"abcdefgh\xed\xa0\x80", 11, "not valid UTF-8"},
        {"abcdefgh\xc3", 9, "not valid UTF-8"},
        {"ABC", 3, "does not match"},
        {"abc d", 5, NULL},
        /* ASCII runs cut short by an accented letter inside an 8-byte word */
        {"ab\0d\xc3\xa0" "xyzw", 10, "NUL"},
        {"abc\0\xc3\xa0" "xyzw", 10, "NUL"},
        {"abcdefg\0\xc3\xa0" "xyz", 13, "NUL"},
        {"abcde\xc3\xa0" "fghi", 11, NULL},
        {"abcdefg\xc3\xa0" "fghi", 13, "longer than 10"},
        {"a\xc3\xa0" "b\xc3\xa0" "c\xc3\xa0" "d\xc3\xa0" "e\xc3\xa0", 15, NULL},
        {"a\xc3\xa0" "b\xc3\xa0" "c\xc3\xa0" "d\xc3\xa0" "e\xc3\xa0" "f", 16, "longer than 10"},
        {"abcdefg\xc3\x28" "bcdefgh", 16, "not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ts_buf v = TS_BUF_INIT;
        msgpack_packer pk;
        ts_buf_packer(&v, &pk);
        msgpack_pack_str(&pk, cases[i].len);
        msgpack_pack_str_body(&pk, cases[i].bytes, cases[i].len);
        ts_error err;
        memset(&err, 0, sizeof err);
        int rc = ts_field_validate(f, v.data, v.len, &err);
        ts_buf_free(&v);
        if (cases[i].verdict == NULL && rc != 0)
            fail_msg("case %zu refused: %s", i, err.msg);
        if (cases[i].verdict != NULL && (rc == 0 || strstr(err.msg, cases[i].verdict) == NULL))
            fail_msg("case %zu: rc %d \"%s\", expected \"%s\"", i, rc, err.msg, cases[i].verdict);
    }
    ts_registry_free(&reg);
}

/* The text check decodes UTF-8 on its own (in one pass with the NUL and the
 * length, eight bytes at a time where it can): it must say exactly what
 * ts_utf8_valid says, for every two-byte sequence and every lead byte of the
 * longer ones, placed at every offset of an eight-byte word (0 to 7 ASCII
 * bytes before it, eight after, so the word path meets it), and alone. */
static int text_accepted(const ts_field_def *f, const uint8_t *bytes, size_t len)
{
    uint8_t v[32];
    assert_true(len < 32);
    v[0] = (uint8_t)(0xa0 | len); /* fixstr */
    memcpy(v + 1, bytes, len);
    ts_error err;
    return ts_field_validate(f, v, len + 1, &err) == 0;
}

static void check_utf8_agrees(const ts_field_def *f, const uint8_t *seq, size_t n)
{
    bool want = ts_utf8_valid(seq, n) && memchr(seq, 0, n) == NULL;
    if (text_accepted(f, seq, n) != want)
        fail_msg("%zu bytes %02x %02x %02x %02x alone: ts_utf8_valid says %s", n, seq[0], n > 1 ? seq[1] : 0,
                 n > 2 ? seq[2] : 0, n > 3 ? seq[3] : 0, want ? "valid" : "invalid");
    for (size_t before = 0; before < 8; before++) {
        uint8_t text[24];
        memcpy(text, "abcdefg", before);
        memcpy(text + before, seq, n);
        memcpy(text + before + n, "ijklmnop", 8);
        if (text_accepted(f, text, before + n + 8) != want)
            fail_msg("%zu bytes %02x %02x %02x %02x after %zu ASCII: ts_utf8_valid says %s", n, seq[0],
                     n > 1 ? seq[1] : 0, n > 2 ? seq[2] : 0, n > 3 ? seq[3] : 0, before, want ? "valid" : "invalid");
    }
}

static void test_text_utf8_agrees(void **state)
{
    (void)state;
    ts_registry reg;
    load(&reg, "{\"version\": 1, \"tables\": {\"t\": {\"kind\": \"district\", \"audience\": \"all\", \"fields\": "
               "{\"f\": {\"type\": \"text\"}, \"g\": {\"type\": \"text\", \"max\": 10}}}}}");
    const ts_table_def *t = ts_registry_table(&reg, "t");
    const ts_field_def *f = ts_table_field(t, "f"), *g = ts_table_field(t, "g");
    static const uint8_t edges[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned b = 0; b < 256; b++) {
            uint8_t seq[4] = {(uint8_t)a, (uint8_t)b, 0, 0};
            check_utf8_agrees(f, seq, 2);
            if (a < 0xe0 || b % 8 != 0) /* longer sequences: every lead, a spread of second bytes */
                continue;
            for (size_t c = 0; c < sizeof edges; c++) {
                seq[2] = edges[c];
                check_utf8_agrees(f, seq, 3);
                for (size_t d = 0; d < sizeof edges; d += 3) {
                    seq[3] = edges[d];
                    check_utf8_agrees(f, seq, 4);
                }
            }
        }
        uint8_t one = (uint8_t)a;
        check_utf8_agrees(f, &one, 1);
    }
    /* within one word: a NUL anywhere before an accented letter is found,
     * and the letter counts as one character wherever it stands */
    for (size_t letter = 0; letter < 10; letter++) {
        uint8_t text[16];
        memcpy(text, "abcdefghijk", 11);
        text[letter] = 0xc3;
        memmove(text + letter + 2, text + letter + 1, 10 - letter);
        text[letter + 1] = 0xa0; /* 10 characters in 11 bytes, then 11 in 12 */
        if (!text_accepted(g, text, 11) || text_accepted(g, text, 12))
            fail_msg("accented letter at %zu: counted wrong", letter);
        for (size_t nul = 0; nul < letter; nul++) {
            uint8_t with_nul[16];
            memcpy(with_nul, text, 12);
            with_nul[nul] = 0;
            if (text_accepted(f, with_nul, 12))
                fail_msg("NUL at %zu before an accented letter at %zu: accepted", nul, letter);
        }
    }
    ts_registry_free(&reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_hex),
        cmocka_unit_test(test_builtin_registry),
        cmocka_unit_test(test_load_refusals),
        cmocka_unit_test(test_checksum_match),
        cmocka_unit_test(test_checksum_mismatch),
        cmocka_unit_test(test_checksum_missing_data),
        cmocka_unit_test(test_checksum_bad_form),
        cmocka_unit_test(test_builtin_attachments),
        cmocka_unit_test(test_store_refuses),
        cmocka_unit_test(test_patterns_agree_with_regexec),
        cmocka_unit_test(test_text_checks),
        cmocka_unit_test(test_text_utf8_agrees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
