/* docs/PROTOCOL.md is the protocol's specification; this test keeps it true.
 * Every ```hex vector=NAME block must be one complete frame that the frame
 * decoder and ts_msg_decode accept as a NAME message and that encodes back to
 * the same bytes; the ```json vector=NAME block beside it must encode (through
 * proto/) to exactly those bytes and be exactly what they mean; every message
 * type must have a vector; and the error-code table must match
 * common/ts_error.h. tests/integration/test_conformance.c checks the
 * district's WELCOME, PONG, ERROR and BYE vectors against a real daemon. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_buf.h"
#include "common/ts_error.h"
#include "proto/tramsync-protocol.h"
#include "proto/ts_frame.h"
#include "proto/ts_msg.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_vectors.h"

static char *read_protocol(void)
{
    char *path = ts_source_path("docs/PROTOCOL.md");
    char *text = ts_read_file(path, NULL);
    if (text == NULL) {
        fail_msg("cannot read %s", path);
        abort(); /* not reached: the analyzer does not know fail_msg */
    }
    free(path);
    return text;
}

/* One vector: its hex is one whole frame of its type that encodes back to
 * the same bytes; its JSON, packed and run through the codec, gives those
 * bytes (so the hex is what proto/ writes for that message); and the hex,
 * unpacked, means exactly the JSON (so the JSON is what the hex says). */
static void check_vector(const ts_tv *v)
{
    if (v->hex == NULL)
        fail_msg("docs/PROTOCOL.md:%d: json vector %s has no hex vector", v->json_line, v->name);
    if (v->json == NULL)
        fail_msg("docs/PROTOCOL.md:%d: hex vector %s has no json vector saying what it means", v->hex_line, v->name);
    ts_frame_decoder d;
    ts_frame_decoder_init(&d, 0);
    size_t consumed;
    const uint8_t *frame = NULL;
    size_t frame_len = 0;
    ts_error err;
    int rc = ts_frame_decoder_feed(&d, v->hex, v->hex_len, &consumed, &frame, &frame_len, &err);
    if (rc != 1)
        fail_msg("vector %s: not one complete frame (%d: %s)", v->name, rc, rc < 0 ? err.msg : "needs more bytes");
    if (consumed != v->hex_len)
        fail_msg("vector %s: %zu bytes after the frame", v->name, v->hex_len - consumed);

    ts_msg m;
    if (ts_msg_decode(frame, frame_len, NULL, &m, &err) != 0)
        fail_msg("vector %s: %s (%s)", v->name, err.msg, ts_err_name(err.code));
    if (strcmp(ts_msg_type_name(m.type), v->name) != 0)
        fail_msg("vector %s decodes as a %s message", v->name, ts_msg_type_name(m.type));
    ts_buf again = TS_BUF_INIT;
    ts_msg_encode(&m, &again);
    ts_msg_free(&m);
    bool same = again.len == v->hex_len && memcmp(again.data, v->hex, v->hex_len) == 0;
    ts_buf_free(&again);
    if (!same)
        fail_msg("vector %s: the hex is not what the encoder writes for it", v->name);

    json_t *meaning = ts_tv_body_json(frame, frame_len);
    if (!json_equal(meaning, v->json)) {
        char *got = json_dumps(meaning, JSON_COMPACT);
        print_error("vector %s: the hex means\n%s\n", v->name, got);
        free(got);
        fail_msg("docs/PROTOCOL.md:%d: the hex vector %s does not mean what its json vector (line %d) says",
                 v->hex_line, v->name, v->json_line);
    }
    json_decref(meaning);
    ts_frame_decoder_free(&d);

    ts_buf enc = TS_BUF_INIT;
    char why[600];
    if (ts_tv_encode_json(v->json, &enc, why, sizeof why) < 0)
        fail_msg("docs/PROTOCOL.md:%d: json vector %s is not a valid message: %s", v->json_line, v->name, why);
    same = enc.len == v->hex_len && memcmp(enc.data, v->hex, v->hex_len) == 0;
    if (!same) {
        char *hex = ts_tv_hex_lines(enc.data, enc.len);
        print_error("vector %s: the codec writes\n%s", v->name, hex);
        free(hex);
        fail_msg("docs/PROTOCOL.md:%d: json vector %s encodes to other bytes than its hex vector (line %d)",
                 v->json_line, v->name, v->hex_line);
    }
    ts_buf_free(&enc);
}

/* TS_VECTORS_PRINT=1: prints the hex every json vector encodes to, for
 * whoever edits a vector (edit the JSON, paste what this prints). */
static void print_vectors(const ts_tv_doc *doc)
{
    if (getenv("TS_VECTORS_PRINT") == NULL)
        return;
    for (size_t i = 0; i < doc->n; i++) {
        const ts_tv *v = &doc->v[i];
        if (v->json == NULL)
            continue;
        ts_buf enc = TS_BUF_INIT;
        char why[600];
        if (ts_tv_encode_json(v->json, &enc, why, sizeof why) == 0) {
            char *hex = ts_tv_hex_lines(enc.data, enc.len);
            fprintf(stderr, "```hex vector=%s\n%s```\n\n", v->name, hex);
            free(hex);
        } else {
            fprintf(stderr, "vector %s: %s\n", v->name, why);
        }
        ts_buf_free(&enc);
    }
}

static void test_every_vector_round_trips(void **state)
{
    (void)state;
    ts_tv_doc doc;
    ts_tv_load(&doc);
    print_vectors(&doc);
    bool seen[TS_MSG__COUNT] = {false};
    for (size_t i = 0; i < doc.n; i++) {
        const ts_tv *v = &doc.v[i];
        ts_msg_type type = ts_msg_type_parse(v->name, strlen(v->name));
        if (type == TS_MSG_NONE)
            fail_msg("vector %s: not a message type", v->name);
        seen[type] = true;
        check_vector(v);
    }
    for (int t = 1; t < TS_MSG__COUNT; t++)
        if (!seen[t])
            fail_msg("docs/PROTOCOL.md has no vector for %s", ts_msg_type_name((ts_msg_type)t));
    assert_int_equal(doc.n, TS_MSG__COUNT - 1);
    ts_tv_free(&doc);
}

/* A vector that does not round-trip must fail: flip one byte of a real one. */
static void test_a_broken_vector_is_caught(void **state)
{
    (void)state;
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PING);
    m.u.ping.nonce = 300;
    ts_buf b = TS_BUF_INIT;
    ts_msg_encode(&m, &b);
    ts_msg_free(&m);
    /* 300 written as uint32 instead of uint16: decodes, but is not what the encoder writes */
    ts_buf wide = TS_BUF_INIT;
    ts_buf_append(&wide, b.data, b.len - 3);
    ts_buf_append(&wide, "\xce\x00\x00\x01\x2c", 5);
    wide.data[3] = (uint8_t)(wide.len - 4);
    ts_msg d;
    ts_error err;
    assert_int_equal(ts_msg_decode(wide.data + 4, wide.len - 4, NULL, &d, &err), 0);
    ts_buf again = TS_BUF_INIT;
    ts_msg_encode(&d, &again);
    assert_int_equal(again.len, b.len);
    assert_false(again.len == wide.len && memcmp(again.data, wide.data, wide.len) == 0);
    ts_msg_free(&d);
    ts_buf_free(&again);
    ts_buf_free(&wide);
    ts_buf_free(&b);
}

static void test_error_table_matches_code(void **state)
{
    (void)state;
    char *doc = read_protocol();
    const char *section = strstr(doc, "\n## Error codes\n");
    if (section == NULL)
        fail_msg("docs/PROTOCOL.md has no \"## Error codes\" section");
    const char *end = strstr(section + 1, "\n## ");
    size_t rows = 0;
    for (int code = 1; code < -TS_E__LAST; code++) {
        char row[200];
        snprintf(row, sizeof row, "\n| %d | `%s` | %s |\n", code, ts_err_name(-code), ts_strerror(-code));
        const char *at = strstr(section, row);
        if (at == NULL || (end != NULL && at > end))
            fail_msg("the error table lacks the row%s", row);
        rows++;
    }
    assert_int_equal(rows, 31);
    free(doc);
}

static void test_required_sections_present(void **state)
{
    (void)state;
    char *doc = read_protocol();
    static const char *const sections[] = {"\n## Framing\n", "\n## Encoding rules\n", "\n## Limits\n",
                                           "\n## Messages\n", "\n## Session\n", "\n## Error codes\n",
                                           "\n## Test vectors\n"};
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
        if (strstr(doc, sections[i]) == NULL)
            fail_msg("docs/PROTOCOL.md lacks the section%s", sections[i]);
    /* every message type is described under Messages */
    const char *messages = strstr(doc, "\n## Messages\n");
    for (int t = 1; t < TS_MSG__COUNT; t++) {
        char quoted[40];
        snprintf(quoted, sizeof quoted, "`\"%s\"`", ts_msg_type_name((ts_msg_type)t));
        if (strstr(messages, quoted) == NULL)
            fail_msg("docs/PROTOCOL.md does not describe %s", ts_msg_type_name((ts_msg_type)t));
    }
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_vector_round_trips),
        cmocka_unit_test(test_a_broken_vector_is_caught),
        cmocka_unit_test(test_error_table_matches_code),
        cmocka_unit_test(test_required_sections_present),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
