/* docs/PROTOCOL.md is the protocol's specification; this test keeps it true.
 * Every ```hex vector=NAME block must be one complete frame that the frame
 * decoder and ts_msg_decode accept as a NAME message and that encodes back to
 * the same bytes; every message type must have a vector; and the error-code
 * table must match common/ts_error.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_buf.h"
#include "common/ts_error.h"
#include "proto/tramsync-protocol.h"
#include "proto/ts_frame.h"
#include "proto/ts_msg.h"
#include "tests/support/ts_test.h"

#define FENCE "```hex vector="

static char *read_protocol(void)
{
    char *path = ts_source_path("docs/PROTOCOL.md");
    char *text = ts_read_file(path, NULL);
    if (text == NULL)
        fail_msg("cannot read %s", path);
    free(path);
    return text;
}

/* Checks the block's layout (lowercase hex pairs, one space between, 16 per
 * line but the last) and decodes it. Returns the byte count. */
static size_t parse_block(const char *name, const char *start, const char *end, uint8_t *out, size_t cap)
{
    size_t n = 0;
    const char *line = start;
    while (line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            eol = end;
        size_t pairs = 0;
        for (const char *p = line; p < eol;) {
            bool hex2 = eol - p >= 2 && strchr("0123456789abcdef", p[0]) != NULL && p[0] != '\0' &&
                        strchr("0123456789abcdef", p[1]) != NULL && p[1] != '\0';
            if (!hex2)
                fail_msg("vector %s: \"%.*s\" is not lowercase hex pairs", name, (int)(eol - line), line);
            if (n == cap)
                fail_msg("vector %s: longer than %zu bytes", name, cap);
            unsigned v;
            sscanf(p, "%2x", &v);
            out[n++] = (uint8_t)v;
            pairs++;
            p += 2;
            if (p < eol) {
                if (*p != ' ' || p + 1 == eol)
                    fail_msg("vector %s: pairs must be separated by one space: \"%.*s\"", name, (int)(eol - line),
                             line);
                p++;
            }
        }
        bool last = eol + 1 >= end;
        if (pairs == 0 || pairs > 16 || (!last && pairs != 16))
            fail_msg("vector %s: %zu bytes on a line (16 per line, fewer only on the last)", name, pairs);
        line = eol + 1;
    }
    return n;
}

/* Decodes one vector as a frame stream and checks the round trip. */
static void check_vector(const char *name, const uint8_t *bytes, size_t len)
{
    ts_frame_decoder d;
    ts_frame_decoder_init(&d, 0);
    size_t consumed;
    const uint8_t *frame = NULL;
    size_t frame_len = 0;
    ts_error err;
    int rc = ts_frame_decoder_feed(&d, bytes, len, &consumed, &frame, &frame_len, &err);
    if (rc != 1)
        fail_msg("vector %s: not one complete frame (%d: %s)", name, rc, rc < 0 ? err.msg : "needs more bytes");
    if (consumed != len)
        fail_msg("vector %s: %zu bytes after the frame", name, len - consumed);

    ts_msg m;
    if (ts_msg_decode(frame, frame_len, NULL, &m, &err) != 0)
        fail_msg("vector %s: %s (%s)", name, err.msg, ts_err_name(err.code));
    const char *got = ts_msg_type_name(m.type);
    ts_buf again = TS_BUF_INIT;
    ts_msg_encode(&m, &again);
    ts_msg_free(&m);
    ts_frame_decoder_free(&d);
    bool same = again.len == len && memcmp(again.data, bytes, len) == 0;
    size_t again_len = again.len;
    ts_buf_free(&again);
    if (strcmp(got, name) != 0)
        fail_msg("vector %s decodes as a %s message", name, got);
    if (!same)
        fail_msg("vector %s: re-encoding gives %zu different bytes (vector: %zu)", name, again_len, len);
}

static void test_every_vector_round_trips(void **state)
{
    (void)state;
    char *doc = read_protocol();
    bool seen[TS_MSG__COUNT] = {false};
    size_t blocks = 0;
    uint8_t *bytes = malloc(TS_PROTO_DEFAULT_MAX_FRAME);
    assert_non_null(bytes);
    for (const char *p = strstr(doc, FENCE); p != NULL; p = strstr(p, FENCE)) {
        /* a fence only counts at the start of a line */
        if (p != doc && p[-1] != '\n') {
            p += strlen(FENCE);
            continue;
        }
        const char *name = p + strlen(FENCE);
        const char *eol = strchr(name, '\n');
        assert_non_null(eol);
        char tname[32];
        size_t nlen = (size_t)(eol - name);
        if (nlen == 0 || nlen >= sizeof tname)
            fail_msg("vector name \"%.*s\"", (int)nlen, name);
        memcpy(tname, name, nlen);
        tname[nlen] = '\0';
        const char *body = eol + 1;
        const char *close = strstr(body, "\n```");
        if (close == NULL)
            fail_msg("vector %s: no closing fence", tname);

        ts_msg_type type = ts_msg_type_parse(tname, nlen);
        if (type == TS_MSG_NONE)
            fail_msg("vector %s: not a message type", tname);
        if (seen[type])
            fail_msg("vector %s appears twice", tname);
        seen[type] = true;
        size_t len = parse_block(tname, body, close + 1, bytes, TS_PROTO_DEFAULT_MAX_FRAME);
        check_vector(tname, bytes, len);
        blocks++;
        p = close + 4;
    }
    free(bytes);
    free(doc);
    for (int t = 1; t < TS_MSG__COUNT; t++)
        if (!seen[t])
            fail_msg("docs/PROTOCOL.md has no vector for %s", ts_msg_type_name((ts_msg_type)t));
    assert_int_equal(blocks, TS_MSG__COUNT - 1);
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
