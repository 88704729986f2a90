/* Protocol version 2's compact changes (docs/PROTOCOL.md, "Compact changes
 * (version 2)"): they carry exactly the versions of the version-1 maps, in
 * fewer bytes, and every malformed compact change is refused with the code
 * the document gives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "common/ts_buf.h"
#include "common/ts_error.h"
#include "proto/ts_frame.h"
#include "proto/ts_msg.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_vectors.h"

static ts_proto_limits lim(unsigned proto)
{
    ts_proto_limits l;
    ts_proto_limits_default(&l);
    l.proto = proto;
    return l;
}

/* Version 1 -> 2 -> 1 gives back the same bytes, for both vectors. */
static void test_round_trip_through_version_2(void **state)
{
    (void)state;
    ts_tv_doc doc;
    ts_tv_load(&doc);
    const char *names[] = {"PUSH", "CHANGES"};
    for (int i = 0; i < 2; i++) {
        const ts_tv *v = ts_tv_find(&doc, names[i]);
        assert_non_null(v);
        ts_proto_limits l1 = lim(1), l2 = lim(2);
        ts_msg m;
        ts_error err;
        assert_int_equal(ts_msg_decode(v->hex + 4, v->hex_len - 4, &l1, &m, &err), 0);
        m.proto = 2;
        ts_buf compact = TS_BUF_INIT;
        ts_msg_encode(&m, &compact);
        ts_msg_free(&m);
        /* about half the bytes */
        assert_true(compact.len * 10 < v->hex_len * 6);
        ts_msg back;
        if (ts_msg_decode(compact.data + 4, compact.len - 4, &l2, &back, &err) != 0)
            fail_msg("%s in version 2: %s", names[i], err.msg);
        assert_int_equal(back.proto, 2);
        back.proto = 1;
        ts_buf again = TS_BUF_INIT;
        ts_msg_encode(&back, &again);
        ts_msg_free(&back);
        assert_int_equal(again.len, v->hex_len);
        assert_memory_equal(again.data, v->hex, v->hex_len);
        /* a version-2 session reads version-1 frames as they are */
        ts_msg same;
        assert_int_equal(ts_msg_decode(v->hex + 4, v->hex_len - 4, &l2, &same, &err), 0);
        assert_int_equal(same.proto, 0);
        ts_msg_free(&same);
        ts_buf_free(&compact);
        ts_buf_free(&again);
    }
    ts_tv_free(&doc);
}

/* A PUSH whose one change is packed by the caller (after the frame's strs). */
typedef void (*change_packer)(msgpack_packer *pk);

static int decode_push(const char *const *strs, int nstrs, change_packer pack, unsigned proto, ts_error *err)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    ts_mp_pack_cstr(&pk, "type");
    ts_mp_pack_cstr(&pk, "PUSH");
    ts_mp_pack_cstr(&pk, "batch");
    msgpack_pack_uint64(&pk, 1);
    ts_mp_pack_cstr(&pk, "strs");
    if (nstrs < 0) {
        msgpack_pack_array(&pk, 1);
        msgpack_pack_uint64(&pk, 7); /* not a str */
    } else {
        msgpack_pack_array(&pk, (size_t)nstrs);
        for (int i = 0; i < nstrs; i++)
            ts_mp_pack_cstr(&pk, strs[i]);
    }
    ts_mp_pack_cstr(&pk, "changes");
    msgpack_pack_array(&pk, 1);
    pack(&pk);
    ts_proto_limits l = lim(proto);
    ts_msg m;
    int rc = ts_msg_decode((const uint8_t *)sb.data, sb.size, &l, &m, err);
    if (rc == 0)
        ts_msg_free(&m);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static const char *const strs[] = {"residents", "binhnguyen.4f3c2a1b0e9d8c7b", "full_name"};

/* [table, id, owner, vv, newest, fields] with the given vv and newest. */
static void pack_head(msgpack_packer *pk, uint32_t len, uint64_t vv_rid, uint64_t vv_counter)
{
    msgpack_pack_array(pk, len);
    msgpack_pack_uint64(pk, 0);
    ts_mp_pack_cstr(pk, "bn-1");
    ts_mp_pack_cstr(pk, "binhnguyen");
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, vv_rid);
    msgpack_pack_uint64(pk, vv_counter);
}

static void newest(msgpack_packer *pk, uint64_t counter)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint64(pk, 1);
    msgpack_pack_uint64(pk, counter);
    msgpack_pack_uint64(pk, 113530975354880000ull);
}

static void name_field(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, 2);
    ts_mp_pack_cstr(pk, "Nguyễn Thị Lan");
}

static void c_good(msgpack_packer *pk)
{
    pack_head(pk, 6, 1, 1);
    newest(pk, 1);
    name_field(pk);
}

static void c_index_beyond(msgpack_packer *pk)
{
    pack_head(pk, 6, 3, 1); /* strs has 3 entries */
    newest(pk, 1);
    name_field(pk);
}

static void c_dot_beyond_vv(msgpack_packer *pk)
{
    pack_head(pk, 6, 1, 1);
    newest(pk, 2); /* vv says 1 */
    name_field(pk);
}

static void c_no_newest(msgpack_packer *pk)
{
    pack_head(pk, 6, 1, 1);
    msgpack_pack_nil(pk);
    name_field(pk);
}

static void c_odd_vv(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 6);
    msgpack_pack_uint64(pk, 0);
    ts_mp_pack_cstr(pk, "bn-1");
    ts_mp_pack_cstr(pk, "binhnguyen");
    msgpack_pack_array(pk, 1);
    msgpack_pack_uint64(pk, 1);
    newest(pk, 1);
    name_field(pk);
}

static void c_short(msgpack_packer *pk)
{
    pack_head(pk, 5, 1, 1);
    newest(pk, 1);
}

static void c_str_index(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 6);
    ts_mp_pack_cstr(pk, "residents"); /* the table by name, not by index */
    ts_mp_pack_cstr(pk, "bn-1");
    ts_mp_pack_cstr(pk, "binhnguyen");
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, 1);
    msgpack_pack_uint64(pk, 1);
    newest(pk, 1);
    name_field(pk);
}

static void c_table_name_as_field(msgpack_packer *pk)
{
    pack_head(pk, 6, 1, 1);
    newest(pk, 1);
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, 0); /* "residents", a table name, used as a field name */
    ts_mp_pack_cstr(pk, "x");
}

static void c_rid_as_field(msgpack_packer *pk)
{
    pack_head(pk, 6, 1, 1);
    newest(pk, 1);
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, 1); /* a replica id is not a field name */
    ts_mp_pack_cstr(pk, "x");
}

static void test_malformed_compact_changes_are_refused(void **state)
{
    (void)state;
    ts_error err;
    assert_int_equal(decode_push(strs, 3, c_good, 2, &err), 0);
    /* read by a version-1 session, a compact change is a change that is not a map */
    assert_int_equal(decode_push(strs, 3, c_good, 1, &err), TS_EWRONG_TYPE);
    assert_non_null(strstr(err.msg, "must be a map"));

    assert_int_equal(decode_push(strs, 3, c_index_beyond, 2, &err), TS_EBAD_VALUE);
    assert_non_null(strstr(err.msg, "beyond strs"));
    assert_int_equal(decode_push(strs, 3, c_dot_beyond_vv, 2, &err), TS_EBAD_VALUE);
    assert_non_null(strstr(err.msg, "beyond the vv"));
    assert_int_equal(decode_push(strs, 3, c_no_newest, 2, &err), TS_EBAD_VALUE);
    assert_int_equal(decode_push(strs, 3, c_odd_vv, 2, &err), TS_EWRONG_TYPE);
    assert_int_equal(decode_push(strs, 3, c_short, 2, &err), TS_EWRONG_TYPE);
    assert_int_equal(decode_push(strs, 3, c_str_index, 2, &err), TS_EWRONG_TYPE);
    assert_int_equal(decode_push(strs, -1, c_good, 2, &err), TS_EWRONG_TYPE);
    assert_int_equal(decode_push(strs, 3, c_rid_as_field, 2, &err), TS_EBAD_VALUE);
    /* "residents" happens to be a valid field name: accepted as one */
    assert_int_equal(decode_push(strs, 3, c_table_name_as_field, 2, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_through_version_2),
        cmocka_unit_test(test_malformed_compact_changes_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
