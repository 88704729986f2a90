/* docs/PROTOCOL.md is the protocol's specification; this test keeps it true.
 * Every ```hex vector=NAME block must be one complete frame that the frame
 * decoder and ts_msg_decode accept as a NAME message and that encodes back to
 * the same bytes; the ```json vector=NAME block beside it must encode (through
 * proto/) to exactly those bytes and be exactly what they mean; every message
 * type must have a vector; and the error-code table must match
 * common/ts_error.h. The worked merge examples (```json merge-example=NAME
 * blocks of "Records, clocks and merging") are run through the store's merge
 * (ts_version_merge) and must give the outcome, record and logged conflicts
 * they say. tests/integration/test_conformance.c and
 * test_conformance_story.c check the district's vectors against a real
 * daemon. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_buf.h"
#include "common/ts_error.h"
#include "common/ts_hlc.h"
#include "common/ts_record.h"
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

    unsigned proto;
    ts_msg_type type = ts_tv_type(v->name, &proto);
    ts_proto_limits lim;
    ts_proto_limits_default(&lim);
    lim.proto = proto;
    ts_msg m;
    if (ts_msg_decode(frame, frame_len, &lim, &m, &err) != 0)
        fail_msg("vector %s: %s (%s)", v->name, err.msg, ts_err_name(err.code));
    if (m.type != type)
        fail_msg("vector %s decodes as a %s message", v->name, ts_msg_type_name(m.type));
    /* a version-2 or -3 vector of PUSH or CHANGES is in that version's compact form */
    if (proto >= 2 && (type == TS_MSG_PUSH || type == TS_MSG_CHANGES) && m.proto != proto)
        fail_msg("vector %s: not in the compact form of version %u", v->name, proto);
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
    if (ts_tv_encode_json(v->json, proto, &enc, why, sizeof why) < 0)
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
        unsigned proto;
        ts_tv_type(v->name, &proto);
        if (ts_tv_encode_json(v->json, proto, &enc, why, sizeof why) == 0) {
            char *hex = ts_tv_hex_lines(enc.data, enc.len);
            fprintf(stderr, "```hex vector=%s\n%s```\n\n", v->name, hex);
            free(hex);
        } else {
            fprintf(stderr, "vector %s: %s\n", v->name, why);
        }
        ts_buf_free(&enc);
        /* and the version-2 vectors in the form of version 3 */
        if (proto != 2)
            continue;
        ts_buf v2 = TS_BUF_INIT;
        if (ts_tv_encode_json(v->json, 2, &v2, why, sizeof why) < 0)
            continue;
        ts_proto_limits lim;
        ts_proto_limits_default(&lim);
        lim.proto = 2;
        ts_msg m;
        ts_error err;
        if (ts_msg_decode(v2.data + 4, v2.len - 4, &lim, &m, &err) == 0) {
            m.proto = 3;
            ts_buf v3 = TS_BUF_INIT;
            ts_msg_encode(&m, &v3);
            json_t *j = ts_tv_body_json(v3.data + 4, v3.len - 4);
            char *txt = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            char *hex = ts_tv_hex_lines(v3.data, v3.len);
            size_t nl = strlen(v->name) - 1;
            fprintf(stderr, "```json vector=%.*s3\n%s\n```\n\n```hex vector=%.*s3\n%s```\n\n", (int)nl, v->name, txt,
                    (int)nl, v->name, hex);
            free(txt);
            free(hex);
            json_decref(j);
            ts_buf_free(&v3);
            ts_msg_free(&m);
        }
        ts_buf_free(&v2);
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
        unsigned proto;
        ts_msg_type type = ts_tv_type(v->name, &proto);
        if (type == TS_MSG_NONE)
            fail_msg("vector %s: not a message type", v->name);
        seen[type] = true;
        check_vector(v);
    }
    for (int t = 1; t < TS_MSG__COUNT; t++)
        if (!seen[t])
            fail_msg("docs/PROTOCOL.md has no vector for %s", ts_msg_type_name((ts_msg_type)t));
    /* version 2 changes the form of PUSH and CHANGES only: each has its vector */
    if (ts_tv_find(&doc, "PUSH_V2") == NULL || ts_tv_find(&doc, "CHANGES_V2") == NULL)
        fail_msg("docs/PROTOCOL.md has no PUSH_V2 or CHANGES_V2 vector (\"Compact changes\")");
    if (ts_tv_find(&doc, "PUSH_V3") == NULL || ts_tv_find(&doc, "CHANGES_V3") == NULL)
        fail_msg("docs/PROTOCOL.md has no PUSH_V3 or CHANGES_V3 vector (\"Compact changes, version 3\")");
    assert_int_equal(doc.n, TS_MSG__COUNT - 1 + 4); /* every type, and PUSH and CHANGES in versions 2 and 3 */
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

/* ---------------------------------------------------------------- merge examples */

/* An example's HLC: an integer, or "ms.logical" as the prose writes it. */
static uint64_t ex_hlc(const char *ex, const json_t *j)
{
    if (json_is_integer(j))
        return (uint64_t)json_integer_value(j);
    unsigned long long ms = 0, logical = 0;
    int used = 0;
    const char *s = json_string_value(j);
    if (s == NULL || sscanf(s, "%llu.%llu%n", &ms, &logical, &used) != 2 || s[used] != '\0' || logical > 0xffff)
        fail_msg("merge example %s: an hlc is an integer or \"ms.logical\"", ex);
    return TS_HLC_MAKE(ms, logical);
}

static void ex_rid(const char *ex, const json_t *j, ts_rid *rid)
{
    if (!json_is_string(j) || ts_rid_set_cstr(rid, json_string_value(j)) < 0)
        fail_msg("merge example %s: \"%s\" is not a replica id", ex, json_is_string(j) ? json_string_value(j) : "?");
}

/* An entry [value, replica, counter, hlc] into f (value bytes in arena). */
static void ex_entry(const char *ex, const char *name, const json_t *e, ts_field *f, ts_arena *a)
{
    if (!json_is_array(e) || json_array_size(e) != 4 || !json_is_integer(json_array_get(e, 2)))
        fail_msg("merge example %s: field %s is not [value, replica, counter, hlc]", ex, name);
    memset(f, 0, sizeof *f);
    f->name = ts_arena_strndup(a, name, strlen(name));
    f->name_len = (uint32_t)strlen(name);
    ts_buf v = TS_BUF_INIT;
    ts_tv_pack_value(json_array_get(e, 0), &v);
    f->value = ts_arena_memdup(a, v.data, v.len);
    f->value_len = (uint32_t)v.len;
    ts_buf_free(&v);
    ex_rid(ex, json_array_get(e, 1), &f->dot.rid);
    f->dot.counter = (uint64_t)json_integer_value(json_array_get(e, 2));
    f->hlc = ex_hlc(ex, json_array_get(e, 3));
}

/* {"vv": {...}, "fields": {...}} into v; false for null (no record). */
static bool ex_version(const char *ex, const json_t *j, ts_version *v, ts_arena *a)
{
    ts_version_init(v);
    if (json_is_null(j))
        return false;
    const json_t *vv = json_object_get(j, "vv"), *fields = json_object_get(j, "fields");
    if (!json_is_object(vv) || !json_is_object(fields))
        fail_msg("merge example %s: a version is {\"vv\": {...}, \"fields\": {...}} or null", ex);
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)vv, k, x) {
        ts_rid r;
        json_t *rj = json_string(k);
        ex_rid(ex, rj, &r);
        json_decref(rj);
        ts_vv_set(&v->vv, &r, (uint64_t)json_integer_value(x));
    }
    json_object_foreach((json_t *)fields, k, x) {
        ts_field f;
        ex_entry(ex, k, x, &f, a);
        ts_version_put(v, a, f.name, f.value, f.value_len, &f.dot, f.hlc);
    }
    return true;
}

static json_t *entry_json(const ts_field *f)
{
    return json_pack("[o,s,I,I]", ts_tv_body_json(f->value, f->value_len), f->dot.rid.b, (json_int_t)f->dot.counter,
                     (json_int_t)f->hlc);
}

static json_t *version_json(const ts_version *v)
{
    json_t *vv = json_object(), *fields = json_object();
    for (uint32_t i = 0; i < v->vv.n; i++)
        json_object_set_new(vv, v->vv.e[i].rid.b, json_integer((json_int_t)v->vv.e[i].counter));
    for (uint32_t i = 0; i < v->nfields; i++)
        json_object_set_new(fields, v->fields[i].name, entry_json(&v->fields[i]));
    return json_pack("{s:o,s:o}", "vv", vv, "fields", fields);
}

/* The example's own JSON with every hlc as an integer, to compare with. */
static json_t *normal_version(const char *ex, const json_t *j)
{
    ts_arena a;
    ts_arena_init(&a, 4096);
    ts_version v;
    json_t *out = ex_version(ex, j, &v, &a) ? version_json(&v) : json_null();
    ts_version_free(&v);
    ts_arena_free(&a);
    return out;
}

static json_t *normal_entry(const char *ex, const char *name, const json_t *e)
{
    ts_arena a;
    ts_arena_init(&a, 1024);
    ts_field f;
    ex_entry(ex, name, e, &f, &a);
    json_t *out = entry_json(&f);
    ts_arena_free(&a);
    return out;
}

static void expect_json(const char *ex, int line, const char *what, json_t *got, json_t *want)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT), *w = json_dumps(want, JSON_COMPACT);
        print_error("merge example %s: the merge gives %s\n%s\nthe document says\n%s\n", ex, what, g, w);
        free(g);
        free(w);
        fail_msg("docs/PROTOCOL.md:%d: merge example %s disagrees with ts_version_merge", line, ex);
    }
    json_decref(got);
    json_decref(want);
}

/* Merges received into held; the outcome as PUSH_ACK names it. */
static const char *ex_merge(const char *ex, const json_t *held_j, const json_t *recv_j, json_t **result,
                            json_t **logged)
{
    ts_arena a;
    ts_arena_init(&a, 8192);
    ts_version held, recv, out;
    bool have = ex_version(ex, held_j, &held, &a);
    ex_version(ex, recv_j, &recv, &a);
    ts_version_init(&out);
    ts_conflicts cs;
    ts_conflicts_init(&cs);
    ts_merge_result how;
    ts_error err;
    const char *outcome = NULL;
    *logged = json_array();
    if (ts_version_merge(have ? &held : NULL, &recv, &out, &a, &how, &cs, &err) < 0) {
        outcome = ts_err_name(err.code); /* INCONSISTENT */
        *result = json_null();
    } else {
        bool lost = false;
        for (uint32_t i = 0; i < cs.n; i++) {
            const ts_conflict *c = &cs.items[i];
            lost |= c->winner.value_len != c->loser.value_len ||
                    memcmp(c->winner.value, c->loser.value, c->winner.value_len) != 0;
            json_array_append_new(*logged, json_pack("{s:s,s:o,s:o}", "field", c->field,
                                                     "kept", entry_json(&c->winner), "lost", entry_json(&c->loser)));
        }
        outcome = how == TS_MERGE_KEPT       ? "duplicate"
                  : how == TS_MERGE_REPLACED ? "applied"
                  : lost                     ? "conflict"
                                             : "merged";
        *result = version_json(&out);
    }
    ts_conflicts_free(&cs);
    ts_version_free(&out);
    ts_version_free(&recv);
    ts_version_free(&held);
    ts_arena_free(&a);
    return outcome;
}

static void check_example(const ts_tv_example *x)
{
    const char *ex = x->name;
    const json_t *held = json_object_get(x->json, "held"), *recv = json_object_get(x->json, "received");
    const char *want_outcome = json_string_value(json_object_get(x->json, "outcome"));
    const json_t *want_result = json_object_get(x->json, "result"), *want_logged = json_object_get(x->json, "logged");
    if (held == NULL || recv == NULL || want_outcome == NULL || want_result == NULL || !json_is_array(want_logged))
        fail_msg("docs/PROTOCOL.md:%d: merge example %s needs held, received, outcome, result and logged", x->line, ex);
    json_t *result, *logged;
    const char *outcome = ex_merge(ex, held, recv, &result, &logged);
    expect_json(ex, x->line, "the outcome", json_string(outcome), json_string(want_outcome));
    expect_json(ex, x->line, "the record", result, normal_version(ex, want_result));
    json_t *want_l = json_array();
    size_t i;
    const json_t *l;
    json_array_foreach(want_logged, i, l) {
        const char *f = json_string_value(json_object_get(l, "field"));
        if (f == NULL)
            fail_msg("docs/PROTOCOL.md:%d: merge example %s: a logged entry is {field, kept, lost}", x->line, ex);
        json_array_append_new(want_l, json_pack("{s:s,s:o,s:o}", "field", f, "kept",
                                                normal_entry(ex, f, json_object_get(l, "kept")), "lost",
                                                normal_entry(ex, f, json_object_get(l, "lost"))));
    }
    expect_json(ex, x->line, "the logged conflicts", logged, want_l);
    /* concurrent versions: every replica, whichever it held, ends with the same record */
    if (strcmp(want_outcome, "merged") == 0 || strcmp(want_outcome, "conflict") == 0) {
        json_t *r2, *l2;
        const char *o2 = ex_merge(ex, recv, held, &r2, &l2);
        expect_json(ex, x->line, "the other way round, the outcome", json_string(o2), json_string(want_outcome));
        expect_json(ex, x->line, "the other way round, the record", r2, normal_version(ex, want_result));
        json_decref(l2);
    }
}

static void test_merge_examples(void **state)
{
    (void)state;
    ts_tv_doc doc;
    ts_tv_load(&doc);
    /* the examples the prose gives: each must have its block */
    static const char *const needed[] = {"true-conflict", "overwrite", "equal-hlcs", "delete-and-edit",
                                         "delete-and-restore"};
    for (size_t i = 0; i < sizeof needed / sizeof *needed; i++) {
        bool found = false;
        for (size_t k = 0; k < doc.nex; k++)
            found |= strcmp(doc.ex[k].name, needed[i]) == 0;
        if (!found)
            fail_msg("docs/PROTOCOL.md has no merge example %s", needed[i]);
    }
    for (size_t k = 0; k < doc.nex; k++) {
        print_message("merge example %s\n", doc.ex[k].name);
        check_example(&doc.ex[k]);
    }
    ts_tv_free(&doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_vector_round_trips),
        cmocka_unit_test(test_a_broken_vector_is_caught),
        cmocka_unit_test(test_error_table_matches_code),
        cmocka_unit_test(test_required_sections_present),
        cmocka_unit_test(test_merge_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
