/* Coordination notices on a district store (server/ts_notices.h) and the
 * station side of their handling (client/ts_station_notices.h), without a
 * daemon: records move between the stores with tests/support/ts_test_store.h,
 * and escalation runs at times the test chooses.
 *
 *  - recipients: all, chosen communes (directory commune name, code or
 *    station code), one station; unknown stations and communes refused;
 *    "all" beyond the 128-entry audience list of one record
 *  - a notice reaches exactly its recipients (each station store after a pull)
 *  - NOTICE frames: one per recipient, pending ones most urgent first
 *  - delivered -> acknowledged -> in progress -> done, seen at the district
 *    with who and when
 *  - per-recipient transitions at the station; going back from done needs a
 *    reason; the same rule at the district (the store's check hook)
 *  - a NOTICE stored twice makes one state change, pushed once, audited once
 *  - escalation with a controlled clock: not acknowledged in time -> flagged
 *    and handed back for re-sending exactly once; overdue notices and tasks
 *  - a station report redistributed to two stations reaches exactly them */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "client/ts_station_notices.h"
#include "common/ts_notice.h"
#include "common/ts_recjson.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
#include "server/ts_epidemic.h"
#include "server/ts_notices.h"
#include "server/ts_plan.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_store.h"

#define BN "binhnguyen"
#define BX "binhxuyen"
#define BT "binhtuyen"
#define XL "xuanlang"

#define HOUR_MS 3600000ull

typedef struct fixture {
    char *dir;
    ts_store *srv;
    ts_store *sta[4]; /* BN, BX, BT, XL */
} fixture;

static const char *const codes[4] = {BN, BX, BT, XL};

static ts_actor admin_actor(void)
{
    ts_actor a = {TS_ACTOR_ADMIN, "admin-test", NULL, "test"};
    return a;
}

/* Writes fields given as a JSON object (typed by the registry) at st. */
static void put_json(ts_store *st, const char *table, const char *id, const char *json)
{
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    if (o == NULL)
        fail_msg("bad JSON in test: %s: %s", json, je.text);
    const ts_table_def *t = ts_registry_table(ts_store_registry(st), table);
    assert_non_null(t);
    size_t n = json_object_size(o), i = 0;
    ts_kv *kv = ts_xcalloc(n, sizeof *kv);
    ts_buf *vals = ts_xcalloc(n, sizeof *vals);
    ts_error err;
    const char *name;
    json_t *v;
    json_object_foreach(o, name, v) {
        const ts_field_def *f = ts_table_field(t, name);
        if (f == NULL)
            fail_msg("%s has no field %s", table, name);
        ts_buf_init(&vals[i]);
        if (ts_recjson_to_value(f, v, &vals[i], &err) < 0)
            fail_msg("%s.%s: %s", table, name, err.msg);
        kv[i].name = f->name;
        kv[i].value = vals[i].data;
        kv[i].len = vals[i].len;
        i++;
    }
    ts_actor a = admin_actor();
    if (ts_store_put(st, &a, table, id, NULL, kv, i, &err) < 0)
        fail_msg("put %s/%s: %s", table, id, err.msg);
    for (size_t k = 0; k < i; k++)
        ts_buf_free(&vals[k]);
    free(vals);
    free(kv);
    json_decref(o);
}

static void put_station(ts_store *srv, const char *code, const char *commune, const char *commune_code)
{
    char json[512];
    snprintf(json, sizeof json, "{\"name\": \"Trạm Y tế xã %s\", \"commune\": \"%s\", \"commune_code\": \"%s\"}", commune,
             commune, commune_code);
    put_json(srv, "stations", code, json);
}

static int setup(void **state)
{
    fixture *f = ts_xcalloc(1, sizeof *f);
    f->dir = ts_tmpdir_make("notices");
    /* the district store as tramsyncd opens it: with the handling-state check */
    char *path = ts_xasprintf("%s/district.db", f->dir);
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = path;
    opt.role = TS_ROLE_SERVER;
    opt.registry = ts_test_registry();
    opt.create = true;
    opt.synchronous = TS_SYNC_OFF;
    opt.check = ts_notices_check_change;
    ts_error err;
    if (ts_store_open(&f->srv, &opt, &err) < 0)
        fail_msg("open %s: %s", path, err.msg);
    free(path);
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s.db", codes[i]);
        f->sta[i] = ts_test_open(f->dir, name, TS_ROLE_STATION, codes[i], NULL);
    }
    put_station(f->srv, BN, "Bình Nguyên", "09001");
    put_station(f->srv, BX, "Bình Xuyên", "09002");
    put_station(f->srv, BT, "Bình Tuyền", "09003");
    put_station(f->srv, XL, "Xuân Lãng", "09004");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ts_store_close(f->srv);
    for (int i = 0; i < 4; i++)
        ts_store_close(f->sta[i]);
    ts_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------- helpers */

static int resolve(ts_store *srv, const char *spec_json, ts_strlist *out, ts_error *err)
{
    json_t *spec = json_loads(spec_json, 0, NULL);
    assert_non_null(spec);
    memset(out, 0, sizeof *out);
    int rc = ts_notice_resolve(srv, spec, out, err);
    json_decref(spec);
    return rc;
}

static bool has(const ts_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

/* Sends a notice (fields as JSON) to the stations a recipients spec names. */
static void send_notice(fixture *f, const char *fields_json, const char *spec_json, char *id, size_t size)
{
    ts_strlist to;
    ts_error err;
    if (resolve(f->srv, spec_json, &to, &err) < 0)
        fail_msg("resolve %s: %s", spec_json, err.msg);
    json_t *fields = json_loads(fields_json, 0, NULL);
    assert_non_null(fields);
    if (!json_object_get(fields, "issuer")) /* required (docs/ADMIN-API.md) */
        json_object_set_new(fields, "issuer", json_string("Trung tâm Y tế khu vực Bình Xuyên"));
    ts_actor a = admin_actor();
    if (ts_notice_create(f->srv, &a, fields, &to, id, size, &err) < 0)
        fail_msg("create: %s", err.msg);
    json_decref(fields);
    ts_strlist_free(&to);
}

static bool record_exists(ts_store *st, const char *table, const char *id)
{
    json_t *o = ts_test_record_fields(st, table, id);
    json_decref(o);
    return o != NULL;
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static char *rid_of(const char *notice, const char *station)
{
    return ts_xasprintf("%s:%s", notice, station);
}

/* The state of station's handling record of notice, at store st. */
static void expect_state(ts_store *st, const char *notice, const char *station, const char *want)
{
    char *rid = rid_of(notice, station);
    json_t *o = ts_test_record_fields(st, "notice_recipients", rid);
    if (o == NULL)
        fail_msg("%s has no handling record %s", ts_store_station(st), rid);
    if (strcmp(jstr(o, "state"), want) != 0)
        fail_msg("%s: state %s at %s, expected %s", rid, jstr(o, "state"), ts_store_station(st), want);
    json_decref(o);
    free(rid);
}

/* Records of a table at a store whose id starts with prefix. */
static size_t count_prefix(ts_store *st, const char *table, const char *prefix)
{
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    if (ts_store_list(st, table, NULL, 100000, false, &page, &err) < 0)
        fail_msg("list %s: %s", table, err.msg);
    size_t n = 0;
    for (uint32_t i = 0; i < page.n; i++)
        n += strncmp(page.items[i].id, prefix, strlen(prefix)) == 0;
    ts_change_page_free(&page);
    return n;
}

/* Frames in a buffer, decoded. */
static size_t decode_frames(const ts_buf *b, ts_msg *out, size_t cap)
{
    size_t off = 0, n = 0;
    while (off < b->len) {
        assert_true(b->len - off >= 4);
        uint32_t len = (uint32_t)b->data[off] << 24 | (uint32_t)b->data[off + 1] << 16 |
                       (uint32_t)b->data[off + 2] << 8 | b->data[off + 3];
        assert_true(off + 4 + len <= b->len);
        assert_true(n < cap);
        ts_error err;
        if (ts_msg_decode(b->data + off + 4, len, NULL, &out[n], &err) < 0)
            fail_msg("frame %zu does not decode: %s", n, err.msg);
        n++;
        off += 4 + len;
    }
    return n;
}

/* A station-side handling change that is rejected at the district stays at
 * the station; this tells whether the station has one for the record. */
static bool station_has_rejected(ts_store *sta, const char *rid)
{
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(ts_store_db(sta), "SELECT count(*) FROM rejected WHERE rec_id = ?1", -1, &q,
                                        NULL),
                     SQLITE_OK);
    sqlite3_bind_text(q, 1, rid, -1, SQLITE_STATIC);
    bool any = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) > 0;
    sqlite3_finalize(q);
    return any;
}

/* Audit entries at the district for pushes by `station` that changed `rid`. */
static int audit_pushes(ts_store *srv, const char *station, const char *rid)
{
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(ts_store_db(srv),
                                        "SELECT count(*) FROM audit WHERE actor = ?1 AND action = 'push'"
                                        " AND (detail LIKE '% ' || ?2 OR detail LIKE '% ' || ?2 || ' %'"
                                        " OR rec_id = ?3)",
                                        -1, &q, NULL),
                     SQLITE_OK);
    char *needle = ts_xasprintf("notice_recipients/%s", rid);
    sqlite3_bind_text(q, 1, station, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, needle, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, rid, -1, SQLITE_STATIC);
    int n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
    sqlite3_finalize(q);
    free(needle);
    return n;
}

static uint64_t counter_of(ts_store *st, const char *table, const char *id, const ts_rid *rid)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    ts_error err;
    if (ts_store_get(st, table, id, &c, &arena, &err) < 0)
        fail_msg("get %s/%s: %s", table, id, err.msg);
    uint64_t n = ts_vv_get(&c.v.vv, rid);
    ts_version_free(&c.v);
    ts_arena_free(&arena);
    return n;
}

static void transition_ok(ts_store *sta, const char *id, const char *state, const char *by, const char *note,
                          const char *report, const char *reason)
{
    ts_error err;
    if (ts_station_transition(sta, id, state, by, note, report, reason, true, &err) < 0)
        fail_msg("%s: %s -> %s refused: %s", ts_store_station(sta), id, state, err.msg);
}

static void transition_refused(ts_store *sta, const char *id, const char *state, const char *by, const char *note,
                               const char *report, const char *reason, const char *why_contains)
{
    ts_error err;
    if (ts_station_transition(sta, id, state, by, note, report, reason, true, &err) == 0)
        fail_msg("%s: %s -> %s accepted, expected a refusal", ts_store_station(sta), id, state);
    assert_int_equal(err.code, TS_EBAD_VALUE);
    if (why_contains && strstr(err.msg, why_contains) == NULL)
        fail_msg("refusal \"%s\" does not say \"%s\"", err.msg, why_contains);
}

/* ---------------------------------------------------------------- recipients */

static void test_resolve(void **state)
{
    fixture *f = *state;
    ts_strlist l;
    ts_error err;

    /* a station gone from the directory is nobody's recipient any more */
    put_station(f->srv, "oldstation", "Hương Canh", "09005");
    ts_actor a = admin_actor();
    assert_int_equal(ts_store_delete(f->srv, &a, "stations", "oldstation", &err), 0);

    assert_int_equal(resolve(f->srv, "{\"all\": true}", &l, &err), 0);
    assert_int_equal(l.n, 4);
    for (int i = 0; i < 4; i++)
        assert_true(has(&l, codes[i]));
    assert_false(has(&l, "oldstation"));
    ts_strlist_free(&l);

    /* communes by name or by code, matched against the directory */
    assert_int_equal(resolve(f->srv, "{\"communes\": [\"Bình Nguyên\", \"09004\"]}", &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_true(has(&l, BN));
    assert_true(has(&l, XL));
    ts_strlist_free(&l);

    /* communes and stations together, each station once */
    assert_int_equal(resolve(f->srv, "{\"communes\": [\"Bình Xuyên\"], \"stations\": [\"binhxuyen\", \"binhtuyen\"]}",
                             &l, &err),
                     0);
    assert_int_equal(l.n, 2);
    assert_true(has(&l, BX));
    assert_true(has(&l, BT));
    ts_strlist_free(&l);

    assert_int_equal(resolve(f->srv, "{\"stations\": [\"binhtuyen\"]}", &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0], BT);
    ts_strlist_free(&l);

    assert_int_equal(resolve(f->srv, "{\"communes\": [\"Hương Canh\"]}", &l, &err), TS_ENOT_FOUND);
    ts_strlist_free(&l);
    assert_int_equal(resolve(f->srv, "{}", &l, &err), TS_EBAD_VALUE);
    ts_strlist_free(&l);
    assert_int_equal(resolve(f->srv, "{\"stations\": [7]}", &l, &err), TS_EBAD_VALUE);
    ts_strlist_free(&l);
    /* the header's promise: unknown station codes are refused and named */
    assert_int_equal(resolve(f->srv, "{\"stations\": [\"binhnguyen\", \"nosuchstation\"]}", &l, &err), TS_ENOT_FOUND);
    assert_non_null(strstr(err.msg, "nosuchstation"));
    ts_strlist_free(&l);

    /* a station known only by its sessions (not yet in the directory) counts */
    assert_int_equal(sqlite3_exec(ts_store_db(f->srv),
                                  "INSERT INTO station_status(station, last_seen) VALUES ('newstation', 1)", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(resolve(f->srv, "{\"stations\": [\"newstation\"]}", &l, &err), 0);
    ts_strlist_free(&l);
    assert_int_equal(resolve(f->srv, "{\"all\": true}", &l, &err), 0);
    assert_int_equal(l.n, 5);
    assert_true(has(&l, "newstation"));
    ts_strlist_free(&l);
}

/* A district of 300 stations: "all" goes beyond one record's audience list
 * (128); the notice record is then addressed to every station, and each
 * station still sees only its own handling record. */
static void test_all_beyond_audience_list(void **state)
{
    fixture *f = *state;
    ts_error err;
    assert_int_equal(ts_store_begin(f->srv, &err), 0);
    for (int i = 0; i < 296; i++) {
        char code[16], json[200];
        snprintf(code, sizeof code, "st%04d", i);
        snprintf(json, sizeof json, "{\"name\": \"Trạm %d\", \"commune\": \"Xã %d\"}", i, i);
        put_json(f->srv, "stations", code, json);
    }
    assert_int_equal(ts_store_commit(f->srv, &err), 0);
    ts_strlist all;
    assert_int_equal(resolve(f->srv, "{\"all\": true}", &all, &err), 0);
    assert_int_equal(all.n, 300);

    /* an explicit list that long is refused, and so is creating from one
     * that is not every station (it must not widen who reads the notice) */
    json_t *spec = json_pack("{s:[]}", "stations");
    for (int i = 0; i < 129; i++)
        json_array_append_new(json_object_get(spec, "stations"), json_string(all.v[i]));
    ts_strlist l = {NULL, 0};
    assert_int_equal(ts_notice_resolve(f->srv, spec, &l, &err), TS_EBAD_VALUE);
    ts_strlist_free(&l);
    json_decref(spec);
    ts_strlist part = {NULL, 0};
    for (int i = 0; i < 200; i++)
        ts_strlist_add(&part, all.v[i]);
    json_t *fields = json_pack("{s:s,s:s,s:s,s:s}", "subject", "Công điện khẩn", "urgency", "hoa_toc", "category",
                               "emergency", "issuer", "Trung tâm Y tế khu vực Bình Xuyên");
    char id[64];
    ts_actor a = admin_actor();
    assert_int_equal(ts_notice_create(f->srv, &a, fields, &part, id, sizeof id, &err), TS_EBAD_VALUE);
    ts_strlist_free(&part);

    assert_int_equal(ts_notice_create(f->srv, &a, fields, &all, id, sizeof id, &err), 0);
    json_decref(fields);
    json_t *n = ts_test_record_fields(f->srv, "notices", id);
    assert_non_null(n);
    assert_int_equal(json_array_size(json_object_get(n, "recipients")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(n, "recipients"), 0)), "*");
    json_decref(n);
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s:", id);
    assert_int_equal(count_prefix(f->srv, "notice_recipients", prefix), 300);

    /* Bình Nguyên gets the notice and its own handling record, nothing else */
    ts_test_pull(f->srv, f->sta[0], BN);
    assert_true(record_exists(f->sta[0], "notices", id));
    assert_int_equal(count_prefix(f->sta[0], "notice_recipients", prefix), 1);
    expect_state(f->sta[0], id, BN, "sent");
    ts_strlist_free(&all);
}

/* ---------------------------------------------------------------- sending */

static void test_create_reaches_exactly_its_recipients(void **state)
{
    fixture *f = *state;
    char to_all[64], to_communes[64], to_one[64];
    send_notice(f,
                "{\"subject\": \"Kế hoạch tiêm chủng mở rộng tháng 12\", \"urgency\": \"thuong\","
                " \"category\": \"programs\", \"doc_type\": \"ke_hoach\", \"deadline\": \"2030-12-31T17:00:00+07:00\"}",
                "{\"all\": true}", to_all, sizeof to_all);
    send_notice(f,
                "{\"subject\": \"Giám sát ca sốt xuất huyết\", \"urgency\": \"khan\", \"category\": \"prevention\"}",
                "{\"communes\": [\"Bình Nguyên\", \"Xuân Lãng\"]}", to_communes, sizeof to_communes);
    send_notice(f, "{\"subject\": \"Mời tập huấn\", \"urgency\": \"thuong\", \"category\": \"training\"}",
                "{\"stations\": [\"binhtuyen\"]}", to_one, sizeof to_one);

    /* what the district filled in */
    json_t *n = ts_test_record_fields(f->srv, "notices", to_communes);
    assert_non_null(n);
    assert_string_equal(jstr(n, "doc_type"), "thong_bao");
    assert_true(strlen(jstr(n, "issue_date")) == 10);
    assert_non_null(strstr(jstr(n, "number"), "/TB-TTYT"));
    assert_string_equal(jstr(n, "sent_by"), "admin-test");
    assert_int_equal(json_array_size(json_object_get(n, "recipients")), 2);
    json_decref(n);
    json_t *show;
    ts_error err;
    assert_int_equal(ts_notice_show(f->srv, to_communes, &show, &err), 0);
    assert_int_equal(json_array_size(json_object_get(show, "recipients")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(show, "counts"), "sent")), 2);
    json_decref(show);
    assert_int_equal(ts_notice_show(f->srv, "TB-nosuch", &show, &err), TS_ENOT_FOUND);

    /* every station pulls what it can see */
    for (int i = 0; i < 4; i++)
        ts_test_pull(f->srv, f->sta[i], codes[i]);
    const bool want_communes[4] = {true, false, false, true};
    const bool want_one[4] = {false, false, true, false};
    for (int i = 0; i < 4; i++) {
        ts_store *s = f->sta[i];
        assert_true(record_exists(s, "notices", to_all));
        expect_state(s, to_all, codes[i], "sent");
        if (record_exists(s, "notices", to_communes) != want_communes[i])
            fail_msg("%s %s the notice to Bình Nguyên and Xuân Lãng", codes[i], want_communes[i] ? "lacks" : "has");
        if (record_exists(s, "notices", to_one) != want_one[i])
            fail_msg("%s %s the notice to Bình Tuyền", codes[i], want_one[i] ? "lacks" : "has");
        /* and no other station's handling records */
        ts_change_page page;
        ts_change_page_init(&page);
        assert_int_equal(ts_store_list(s, "notice_recipients", NULL, 1000, true, &page, &err), 0);
        for (uint32_t k = 0; k < page.n; k++) {
            char station[64];
            ts_recjson_text(&page.items[k].v, "station", station, sizeof station);
            if (strcmp(station, codes[i]) != 0)
                fail_msg("%s holds %s's handling record %s", codes[i], station, page.items[k].id);
        }
        assert_int_equal(page.n, 1 + want_communes[i] + want_one[i]);
        ts_change_page_free(&page);
    }
}

static void test_frames_pending_most_urgent_first(void **state)
{
    fixture *f = *state;
    static const char *const urg[] = {"thuong", "hoa_toc", "khan", "thuong_khan", "hoa_toc", "khan"};
    char ids[6][64];
    for (int i = 0; i < 6; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"subject\": \"Văn bản %d\", \"urgency\": \"%s\", \"category\": \"emergency\"}", i,
                 urg[i]);
        send_notice(f, json, "{\"stations\": [\"binhnguyen\", \"xuanlang\"]}", ids[i], sizeof ids[i]);
    }
    /* Bình Nguyên has stored and marked the last khan one delivered */
    ts_test_pull(f->srv, f->sta[0], BN);
    transition_ok(f->sta[0], ids[5], "delivered", NULL, NULL, NULL, NULL);
    assert_int_equal(ts_test_push(f->sta[0], f->srv, BN, false), 1);

    /* one frame: the notice and this station's handling record */
    ts_buf b = TS_BUF_INIT;
    ts_error err;
    assert_int_equal(ts_notice_frame(f->srv, ids[1], XL, &b, &err), 0);
    ts_msg m[8];
    assert_int_equal(decode_frames(&b, m, 8), 1);
    assert_int_equal(m[0].type, TS_MSG_NOTICE);
    assert_string_equal(m[0].u.notice.id, ids[1]);
    assert_string_equal(m[0].u.notice.urgency, "hoa_toc");
    assert_int_equal(m[0].u.notice.changes.n, 2);
    assert_string_equal(m[0].u.notice.changes.items[0].table, "notices");
    assert_string_equal(m[0].u.notice.changes.items[0].id, ids[1]);
    assert_string_equal(m[0].u.notice.changes.items[1].table, "notice_recipients");
    char *rid = rid_of(ids[1], XL);
    assert_string_equal(m[0].u.notice.changes.items[1].id, rid);
    assert_int_equal(m[0].u.notice.seq, m[0].u.notice.changes.items[1].seq);
    assert_true(m[0].u.notice.seq > 0);
    free(rid);
    ts_msg_free(&m[0]);
    ts_buf_reset(&b);
    assert_int_equal(ts_notice_frame(f->srv, ids[1], BX, &b, &err), TS_ENOT_FOUND); /* not addressed there */
    ts_buf_reset(&b);

    /* pending for Xuân Lãng: all six, Hỏa tốc first, then by sequence */
    size_t count = 0;
    assert_int_equal(ts_notice_frames_pending(f->srv, XL, &b, &count, &err), 0);
    assert_int_equal(count, 6);
    assert_int_equal(decode_frames(&b, m, 8), 6);
    const int order_xl[] = {1, 4, 3, 2, 5, 0};
    for (int i = 0; i < 6; i++) {
        if (strcmp(m[i].u.notice.id, ids[order_xl[i]]) != 0)
            fail_msg("pending frame %d is %s (%s), expected %s (%s)", i, m[i].u.notice.id, m[i].u.notice.urgency,
                     ids[order_xl[i]], urg[order_xl[i]]);
        ts_msg_free(&m[i]);
    }
    ts_buf_reset(&b);
    /* for Bình Nguyên: the delivered one is not pending any more */
    assert_int_equal(ts_notice_frames_pending(f->srv, BN, &b, &count, &err), 0);
    assert_int_equal(count, 5);
    assert_int_equal(decode_frames(&b, m, 8), 5);
    const int order_bn[] = {1, 4, 3, 2, 0};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(m[i].u.notice.id, ids[order_bn[i]]);
        ts_msg_free(&m[i]);
    }
    ts_buf_reset(&b);
    assert_int_equal(ts_notice_frames_pending(f->srv, BT, &b, &count, &err), 0);
    assert_int_equal(count, 0);
    assert_int_equal(b.len, 0);
    ts_buf_free(&b);
}

/* ---------------------------------------------------------------- handling */

static void test_handling_flow_seen_at_district(void **state)
{
    fixture *f = *state;
    char id[64];
    send_notice(f,
                "{\"subject\": \"Báo cáo tình hình dịch\", \"urgency\": \"thuong_khan\", \"category\": \"prevention\","
                " \"responsible\": \"Trưởng trạm\", \"task\": \"Rà soát ca bệnh\", \"deadline\": \"2030-01-05T17:00:00+07:00\"}",
                "{\"stations\": [\"binhnguyen\", \"binhxuyen\"]}", id, sizeof id);
    ts_store *bn = f->sta[0];
    ts_test_pull(f->srv, bn, BN);
    size_t marked = 0;
    ts_error err;
    assert_int_equal(ts_station_mark_delivered(bn, &marked, &err), 0);
    assert_int_equal(marked, 1);
    ts_test_push(bn, f->srv, BN, false);
    expect_state(f->srv, id, BN, "delivered");
    expect_state(f->srv, id, BX, "sent");

    transition_ok(bn, id, "acknowledged", "Nguyễn Văn An", NULL, NULL, NULL);
    ts_test_push(bn, f->srv, BN, false);
    transition_ok(bn, id, "in_progress", "Nguyễn Văn An", "đã rà soát 3 thôn", NULL, NULL);
    ts_test_push(bn, f->srv, BN, false);
    transition_ok(bn, id, "done", "Nguyễn Văn An", NULL, "Không phát hiện ca mới", NULL);
    ts_test_push(bn, f->srv, BN, false);

    json_t *show;
    assert_int_equal(ts_notice_show(f->srv, id, &show, &err), 0);
    json_t *r, *mine = NULL;
    size_t i;
    json_array_foreach(json_object_get(show, "recipients"), i, r)
        if (strcmp(jstr(r, "station"), BN) == 0)
            mine = r;
    assert_non_null(mine);
    assert_string_equal(jstr(mine, "state"), "done");
    assert_string_equal(jstr(mine, "acknowledged_by"), "Nguyễn Văn An");
    assert_string_equal(jstr(mine, "report"), "Không phát hiện ca mới");
    assert_string_equal(jstr(mine, "progress_note"), "đã rà soát 3 thôn");
    uint64_t sent, delivered, acked, done;
    assert_true(ts_time_parse(jstr(mine, "sent_at"), &sent));
    assert_true(ts_time_parse(jstr(mine, "delivered_at"), &delivered));
    assert_true(ts_time_parse(jstr(mine, "acknowledged_at"), &acked));
    assert_true(ts_time_parse(jstr(mine, "done_at"), &done));
    assert_true(sent <= delivered && delivered <= acked && acked <= done);
    assert_string_equal(jstr(mine, "deadline"), "2030-01-05T17:00:00+07:00");
    json_t *counts = json_object_get(show, "counts");
    assert_int_equal(json_integer_value(json_object_get(counts, "done")), 1);
    assert_int_equal(json_integer_value(json_object_get(counts, "sent")), 1);
    json_decref(show);

    /* nothing pending for Bình Nguyên any more */
    ts_buf b = TS_BUF_INIT;
    size_t count;
    assert_int_equal(ts_notice_frames_pending(f->srv, BN, &b, &count, &err), 0);
    assert_int_equal(count, 0);
    ts_buf_free(&b);
}

static void test_station_transition_rules(void **state)
{
    fixture *f = *state;
    char id[64];
    send_notice(f, "{\"subject\": \"Kiểm tra an toàn thực phẩm\", \"urgency\": \"khan\", \"category\": \"food_safety\"}",
                "{\"stations\": [\"xuanlang\"]}", id, sizeof id);
    ts_store *xl = f->sta[3];
    ts_test_pull(f->srv, xl, XL);

    ts_error err;
    assert_int_equal(ts_station_transition(xl, "TB-nosuch", "acknowledged", "A", NULL, NULL, NULL, true, &err),
                     TS_ENOT_FOUND);
    transition_refused(xl, id, "acknowledged", NULL, NULL, NULL, NULL, "--by");
    transition_refused(xl, id, "finished", "A", NULL, NULL, NULL, "not a state");
    transition_ok(xl, id, "acknowledged", "Trần Thị Bình", NULL, NULL, NULL);
    transition_refused(xl, id, "delivered", "Trần Thị Bình", NULL, NULL, NULL, "cannot go back");
    transition_refused(xl, id, "done", "Trần Thị Bình", NULL, NULL, NULL, "--report");
    transition_ok(xl, id, "done", "Trần Thị Bình", NULL, "Đã kiểm tra 12 cơ sở", NULL);
    /* back from done: only with a reason, and the reason is kept */
    transition_refused(xl, id, "in_progress", "Trần Thị Bình", NULL, NULL, NULL, "without a reason");
    transition_refused(xl, id, "acknowledged", "Trần Thị Bình", NULL, NULL, "", "without a reason");
    expect_state(xl, id, XL, "done");
    transition_ok(xl, id, "in_progress", "Trần Thị Bình", NULL, NULL, "Phát hiện thêm 2 cơ sở");
    char *rid = rid_of(id, XL);
    json_t *h = ts_test_record_fields(xl, "notice_recipients", rid);
    assert_string_equal(jstr(h, "state"), "in_progress");
    assert_string_equal(jstr(h, "reopen_reason"), "Phát hiện thêm 2 cơ sở");
    json_decref(h);
    ts_test_push(xl, f->srv, XL, false);
    expect_state(f->srv, id, XL, "in_progress");
    free(rid);

    /* the rule itself */
    char why[200];
    assert_true(ts_state_transition_ok("sent", "done", NULL, why, sizeof why));
    assert_true(ts_state_transition_ok("acknowledged", "acknowledged", NULL, why, sizeof why));
    assert_false(ts_state_transition_ok("in_progress", "delivered", "reason", why, sizeof why));
    assert_false(ts_state_transition_ok("done", "sent", NULL, why, sizeof why));
    assert_true(ts_state_transition_ok("done", "sent", "mở lại", why, sizeof why));
}

/* The district checks a station's handling state too (ts_notices_check_change,
 * the store's check hook): a station that writes its record directly (an old
 * agent, a script, a bug) cannot move a done notice back without a reason
 * written in that same change; the change is rejected and stays at the
 * station; with a reason it is a reopening. */
static void test_district_refuses_back_from_done_without_reason(void **state)
{
    fixture *f = *state;
    char id[64];
    send_notice(f, "{\"subject\": \"Báo cáo thống kê tháng\", \"urgency\": \"thuong\", \"category\": \"population\"}",
                "{\"stations\": [\"binhtuyen\"]}", id, sizeof id);
    ts_store *bt = f->sta[2];
    ts_test_pull(f->srv, bt, BT);
    transition_ok(bt, id, "done", "Lê Văn Cường", NULL, "Đã gửi báo cáo", NULL);
    ts_test_push(bt, f->srv, BT, false);
    expect_state(f->srv, id, BT, "done");

    /* around the station's own check: the record written as any record */
    char *rid = rid_of(id, BT);
    ts_error err;
    if (ts_test_put(bt, "notice_recipients", rid, NULL, &err, "state=sent", NULL) < 0)
        fail_msg("station write: %s", err.msg);
    ts_test_push(bt, f->srv, BT, true);
    json_t *h = ts_test_record_fields(f->srv, "notice_recipients", rid);
    char state_now[32];
    snprintf(state_now, sizeof state_now, "%s", jstr(h, "state"));
    json_decref(h);
    bool refused = station_has_rejected(bt, rid);
    if (strcmp(state_now, "done") != 0 || !refused) {
        free(rid);
        fail_msg("the district accepted a station's handling record going back from done to \"%s\" without a "
                 "reopen_reason (state there: %s, rejected at the station: %s)",
                 state_now, state_now, refused ? "yes" : "no");
    }
    /* a reason left over from an earlier reopening does not count: only one
     * written with the change */
    if (ts_test_put(bt, "notice_recipients", rid, NULL, &err, "state=in_progress", "reopen_reason=Số liệu sai", NULL) < 0)
        fail_msg("station write: %s", err.msg);
    ts_test_push(bt, f->srv, BT, false);
    expect_state(f->srv, id, BT, "in_progress");
    if (ts_test_put(bt, "notice_recipients", rid, NULL, &err, "state=done", "report=Đã sửa số liệu", NULL) < 0)
        fail_msg("station write: %s", err.msg);
    ts_test_push(bt, f->srv, BT, false);
    expect_state(f->srv, id, BT, "done");
    if (ts_test_put(bt, "notice_recipients", rid, NULL, &err, "state=acknowledged", NULL) < 0)
        fail_msg("station write: %s", err.msg);
    ts_test_push(bt, f->srv, BT, true);
    expect_state(f->srv, id, BT, "done");
    free(rid);
}

/* The same NOTICE stored twice (a re-send, a reconnection before the
 * acknowledgement) makes one state change, pushed once, audited once. */
static void test_duplicate_delivery_one_transition(void **state)
{
    fixture *f = *state;
    char id[64];
    send_notice(f, "{\"subject\": \"Công điện phòng chống dịch\", \"urgency\": \"hoa_toc\", \"category\": \"emergency\"}",
                "{\"stations\": [\"binhnguyen\"]}", id, sizeof id);
    ts_buf b = TS_BUF_INIT;
    ts_error err;
    assert_int_equal(ts_notice_frame(f->srv, id, BN, &b, &err), 0);
    ts_msg m[1];
    assert_int_equal(decode_frames(&b, m, 1), 1);
    ts_store *bn = f->sta[0];
    ts_actor server = {TS_ACTOR_SERVER, "district", NULL, "test"};
    char *rid = rid_of(id, BN);
    for (int round = 0; round < 3; round++) {
        ts_apply_result res[2];
        assert_int_equal(ts_store_apply(bn, &server, m[0].u.notice.changes.items, 2, res, &err), 0);
        if (round > 0) {
            assert_int_equal(res[0].outcome, TS_OUTCOME_DUPLICATE);
            assert_int_equal(res[1].outcome, TS_OUTCOME_DUPLICATE);
        }
        size_t marked = 0;
        assert_int_equal(ts_station_mark_delivered(bn, &marked, &err), 0);
        assert_int_equal(marked, round == 0 ? 1 : 0);
    }
    /* the station wrote its record once */
    assert_int_equal(counter_of(bn, "notice_recipients", rid, ts_store_replica(bn)), 1);
    uint64_t pending = 0;
    assert_int_equal(ts_store_pending_count(bn, &pending), 0);
    assert_int_equal(pending, 1);

    /* pushed, and pushed again as if the PUSH_ACK had been lost */
    ts_change_page page;
    ts_change_page_init(&page);
    assert_int_equal(ts_store_pending(bn, 0, 100, &page, &err), 0);
    assert_int_equal(page.n, 1);
    ts_actor as_bn = {TS_ACTOR_STATION, BN, ts_store_replica(bn), "test"};
    ts_apply_result res;
    assert_int_equal(ts_store_apply(f->srv, &as_bn, page.items, 1, &res, &err), 0);
    assert_int_equal(res.outcome, TS_OUTCOME_APPLIED);
    uint64_t seq = res.seq, lseq = page.items[0].lseq;
    assert_int_equal(ts_store_apply(f->srv, &as_bn, page.items, 1, &res, &err), 0);
    assert_int_equal(res.outcome, TS_OUTCOME_DUPLICATE);
    ts_change_page_free(&page);
    assert_int_equal(ts_store_ack_pushed(bn, lseq, &err), 0);
    /* the NOTICE comes once more after that: still nothing to do */
    ts_apply_result r2[2];
    assert_int_equal(ts_store_apply(bn, &server, m[0].u.notice.changes.items, 2, r2, &err), 0);
    size_t marked = 0;
    assert_int_equal(ts_station_mark_delivered(bn, &marked, &err), 0);
    assert_int_equal(marked, 0);
    assert_int_equal(ts_store_pending_count(bn, &pending), 0);
    assert_int_equal(pending, 0);

    expect_state(f->srv, id, BN, "delivered");
    assert_int_equal(counter_of(f->srv, "notice_recipients", rid, ts_store_replica(bn)), 1);
    assert_int_equal(audit_pushes(f->srv, BN, rid), 1);
    /* and the district's copy did not move on from that one version */
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    assert_int_equal(ts_store_get(f->srv, "notice_recipients", rid, &c, &arena, &err), 0);
    assert_int_equal(c.seq, seq);
    ts_version_free(&c.v);
    ts_arena_free(&arena);
    ts_msg_free(&m[0]);
    ts_buf_free(&b);
    free(rid);
}

/* ---------------------------------------------------------------- escalation */

static const ts_escalation *find_esc(const ts_escalation *e, size_t n, ts_escalation_kind kind, const char *notice,
                                     const char *station)
{
    for (size_t i = 0; i < n; i++)
        if (e[i].kind == kind && strcmp(e[i].notice, notice) == 0 && strcmp(e[i].station, station) == 0)
            return &e[i];
    return NULL;
}

static size_t count_esc(const ts_escalation *e, size_t n, ts_escalation_kind kind, const char *notice)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += e[i].kind == kind && strcmp(e[i].notice, notice) == 0;
    return k;
}

static void escalate(fixture *f, const ts_notice_policy *p, uint64_t now, ts_escalation **e, size_t *n)
{
    ts_error err;
    if (ts_notices_escalate(f->srv, p, now, e, n, &err) < 0)
        fail_msg("escalate: %s", err.msg);
}

static uint64_t sent_at_ms(fixture *f, const char *notice, const char *station)
{
    char *rid = rid_of(notice, station);
    json_t *h = ts_test_record_fields(f->srv, "notice_recipients", rid);
    assert_non_null(h);
    uint64_t t;
    assert_true(ts_time_parse(jstr(h, "sent_at"), &t));
    json_decref(h);
    free(rid);
    return t;
}

static void test_escalate_unacknowledged_hoa_toc(void **state)
{
    fixture *f = *state;
    ts_notice_policy p = {{72 * HOUR_MS, 24 * HOUR_MS, 4 * HOUR_MS, 1 * HOUR_MS}, {0, 0, 0, 0}}; /* once */
    char urgent[64], routine[64];
    send_notice(f, "{\"subject\": \"Công điện: ổ dịch cúm A/H5N1\", \"urgency\": \"hoa_toc\", \"category\": \"emergency\"}",
                "{\"stations\": [\"binhnguyen\", \"binhxuyen\", \"xuanlang\"]}", urgent, sizeof urgent);
    send_notice(f, "{\"subject\": \"Nhắc báo cáo thống kê\", \"urgency\": \"thuong\", \"category\": \"population\"}",
                "{\"stations\": [\"binhnguyen\"]}", routine, sizeof routine);
    uint64_t t0 = sent_at_ms(f, urgent, BN);

    /* Bình Xuyên acknowledges in time; Xuân Lãng only stores it (delivered) */
    ts_test_pull(f->srv, f->sta[1], BX);
    transition_ok(f->sta[1], urgent, "acknowledged", "Phạm Thị Dung", NULL, NULL, NULL);
    ts_test_push(f->sta[1], f->srv, BX, false);
    ts_test_pull(f->srv, f->sta[3], XL);
    size_t marked;
    ts_error err;
    assert_int_equal(ts_station_mark_delivered(f->sta[3], &marked, &err), 0);
    ts_test_push(f->sta[3], f->srv, XL, false);

    ts_escalation *e;
    size_t n;
    uint64_t seq_before = ts_store_last_seq(f->srv);
    escalate(f, &p, t0, &e, &n);
    assert_int_equal(n, 0);
    free(e);
    escalate(f, &p, t0 + HOUR_MS - 1, &e, &n);
    assert_int_equal(n, 0);
    free(e);
    assert_int_equal(ts_store_last_seq(f->srv), seq_before); /* nothing written */

    /* at the deadline: the two not acknowledged, flagged and handed back for re-sending */
    escalate(f, &p, t0 + HOUR_MS, &e, &n);
    assert_int_equal(n, 2);
    const ts_escalation *x = find_esc(e, n, TS_ESC_NOT_ACKNOWLEDGED, urgent, BN);
    assert_non_null(x);
    assert_string_equal(x->table, "notice_recipients");
    assert_string_equal(x->urgency, "hoa_toc");
    char *rid = rid_of(urgent, BN);
    assert_string_equal(x->id, rid);
    assert_non_null(find_esc(e, n, TS_ESC_NOT_ACKNOWLEDGED, urgent, XL));
    assert_null(find_esc(e, n, TS_ESC_NOT_ACKNOWLEDGED, urgent, BX));
    free(e);
    json_t *h = ts_test_record_fields(f->srv, "notice_recipients", rid);
    char when[32];
    ts_time_iso(t0 + HOUR_MS, when, sizeof when);
    assert_string_equal(jstr(h, "escalated_at"), when);
    assert_int_equal(json_integer_value(json_object_get(h, "resend_count")), 1);
    assert_string_equal(jstr(h, "state"), "sent");
    json_decref(h);
    /* the re-sent frame carries the flag to the station */
    ts_buf b = TS_BUF_INIT;
    assert_int_equal(ts_notice_frame(f->srv, urgent, BN, &b, &err), 0);
    ts_msg m[1];
    assert_int_equal(decode_frames(&b, m, 1), 1);
    ts_change *hc = &m[0].u.notice.changes.items[1];
    assert_non_null(ts_version_field(&hc->v, "escalated_at"));
    ts_msg_free(&m[0]);
    ts_buf_free(&b);

    /* once: not again at the next checks, however late */
    escalate(f, &p, t0 + HOUR_MS + 1, &e, &n);
    assert_int_equal(count_esc(e, n, TS_ESC_NOT_ACKNOWLEDGED, urgent), 0);
    free(e);
    escalate(f, &p, t0 + 10 * HOUR_MS, &e, &n);
    assert_int_equal(count_esc(e, n, TS_ESC_NOT_ACKNOWLEDGED, urgent), 0);
    assert_int_equal(count_esc(e, n, TS_ESC_NOT_ACKNOWLEDGED, routine), 0); /* routine: 72 h */
    free(e);
    h = ts_test_record_fields(f->srv, "notice_recipients", rid);
    assert_int_equal(json_integer_value(json_object_get(h, "resend_count")), 1);
    json_decref(h);

    /* the routine one at its own limit, once */
    uint64_t t1 = sent_at_ms(f, routine, BN);
    escalate(f, &p, t1 + 72 * HOUR_MS - 1, &e, &n);
    assert_int_equal(count_esc(e, n, TS_ESC_NOT_ACKNOWLEDGED, routine), 0);
    free(e);
    escalate(f, &p, t1 + 72 * HOUR_MS, &e, &n);
    assert_int_equal(n, 1);
    assert_non_null(find_esc(e, n, TS_ESC_NOT_ACKNOWLEDGED, routine, BN));
    free(e);

    /* a station acknowledging after the escalation: no longer counted */
    ts_test_pull(f->srv, f->sta[0], BN);
    transition_ok(f->sta[0], urgent, "acknowledged", "Nguyễn Văn An", NULL, NULL, NULL);
    ts_test_push(f->sta[0], f->srv, BN, false);
    h = ts_test_record_fields(f->srv, "notice_recipients", rid);
    assert_string_equal(jstr(h, "state"), "acknowledged");
    assert_string_equal(jstr(h, "escalated_at"), when); /* both writes kept: no conflict */
    json_decref(h);

    /* a zero limit switches escalation off for that urgency */
    ts_notice_policy off = {{0, 0, 0, 0}, {0, 0, 0, 0}};
    char later[64];
    send_notice(f, "{\"subject\": \"Hỏa tốc 2\", \"urgency\": \"hoa_toc\", \"category\": \"emergency\"}",
                "{\"stations\": [\"binhtuyen\"]}", later, sizeof later);
    escalate(f, &off, t0 + 1000 * HOUR_MS, &e, &n);
    assert_int_equal(count_esc(e, n, TS_ESC_NOT_ACKNOWLEDGED, later), 0);
    free(e);
    free(rid);
}

/* Issue 16, point 7: after the first reminder, again every remind_every of
 * the urgency since the last one, each recorded in reminders, until the
 * station acknowledges; ts_notice_next_reminder says when the next goes. */
static void test_escalate_reminds_on_schedule(void **state)
{
    fixture *f = *state;
    ts_notice_policy p = {{72 * HOUR_MS, 24 * HOUR_MS, 4 * HOUR_MS, 1 * HOUR_MS},
                          {24 * HOUR_MS, 8 * HOUR_MS, 2 * HOUR_MS, HOUR_MS / 2}};
    char id[64];
    send_notice(f, "{\"subject\": \"Công điện: ổ dịch sởi\", \"urgency\": \"hoa_toc\", \"category\": \"emergency\"}",
                "{\"stations\": [\"binhnguyen\"]}", id, sizeof id);
    uint64_t t0 = sent_at_ms(f, id, BN);
    char *rid = rid_of(id, BN);
    ts_escalation *e;
    size_t n;
    json_t *h = ts_test_record_fields(f->srv, "notice_recipients", rid);
    assert_true(ts_notice_next_reminder(&p, h) == t0 + HOUR_MS);
    json_decref(h);

    escalate(f, &p, t0 + HOUR_MS, &e, &n);
    assert_int_equal(count_esc(e, n, TS_ESC_NOT_ACKNOWLEDGED, id), 1);
    free(e);
    escalate(f, &p, t0 + HOUR_MS + HOUR_MS / 2 - 1, &e, &n); /* not yet */
    assert_int_equal(count_esc(e, n, TS_ESC_NOT_ACKNOWLEDGED, id), 0);
    free(e);
    h = ts_test_record_fields(f->srv, "notice_recipients", rid);
    assert_true(ts_notice_next_reminder(&p, h) == t0 + HOUR_MS + HOUR_MS / 2);
    json_decref(h);
    escalate(f, &p, t0 + HOUR_MS + HOUR_MS / 2, &e, &n); /* the second */
    assert_int_equal(count_esc(e, n, TS_ESC_NOT_ACKNOWLEDGED, id), 1);
    free(e);
    escalate(f, &p, t0 + 2 * HOUR_MS, &e, &n); /* the third */
    assert_int_equal(count_esc(e, n, TS_ESC_NOT_ACKNOWLEDGED, id), 1);
    free(e);
    h = ts_test_record_fields(f->srv, "notice_recipients", rid);
    assert_int_equal(json_integer_value(json_object_get(h, "resend_count")), 3);
    json_t *list = json_object_get(h, "reminders");
    assert_int_equal(json_array_size(list), 3);
    char when[32];
    ts_time_iso(t0 + HOUR_MS, when, sizeof when);
    assert_string_equal(json_string_value(json_array_get(list, 0)), when);
    ts_time_iso(t0 + 2 * HOUR_MS, when, sizeof when);
    assert_string_equal(json_string_value(json_array_get(list, 2)), when);
    json_decref(h);

    /* acknowledged: no more, and none announced */
    ts_test_pull(f->srv, f->sta[0], BN);
    transition_ok(f->sta[0], id, "acknowledged", "Nguyễn Văn An", NULL, NULL, NULL);
    ts_test_push(f->sta[0], f->srv, BN, false);
    escalate(f, &p, t0 + 10 * HOUR_MS, &e, &n);
    assert_int_equal(count_esc(e, n, TS_ESC_NOT_ACKNOWLEDGED, id), 0);
    free(e);
    h = ts_test_record_fields(f->srv, "notice_recipients", rid);
    assert_true(ts_notice_next_reminder(&p, h) == 0);
    assert_int_equal(json_integer_value(json_object_get(h, "resend_count")), 3);
    json_decref(h);
    free(rid);
}

static void test_escalate_overdue(void **state)
{
    fixture *f = *state;
    ts_notice_policy p = {{0, 0, 0, 0}, {0, 0, 0, 0}}; /* only deadlines here */
    char id[64];
    send_notice(f,
                "{\"subject\": \"Chiến dịch tiêm vắc xin sởi\", \"urgency\": \"khan\", \"category\": \"programs\","
                " \"deadline\": \"2030-01-01T08:00:00+07:00\"}",
                "{\"stations\": [\"binhnguyen\", \"binhxuyen\", \"binhtuyen\"]}", id, sizeof id);
    /* Bình Nguyên is done in time, Bình Xuyên is working on it */
    ts_test_pull(f->srv, f->sta[0], BN);
    transition_ok(f->sta[0], id, "done", "An", NULL, "Đã tiêm 420 trẻ", NULL);
    ts_test_push(f->sta[0], f->srv, BN, false);
    ts_test_pull(f->srv, f->sta[1], BX);
    transition_ok(f->sta[1], id, "in_progress", "Dung", "đã tiêm 200 trẻ", NULL, NULL);
    ts_test_push(f->sta[1], f->srv, BX, false);

    uint64_t deadline;
    assert_true(ts_time_parse("2030-01-01T01:00:00Z", &deadline));
    ts_escalation *e;
    size_t n;
    escalate(f, &p, deadline - 1, &e, &n);
    assert_int_equal(n, 0);
    free(e);
    escalate(f, &p, deadline, &e, &n);
    assert_int_equal(n, 2);
    assert_non_null(find_esc(e, n, TS_ESC_OVERDUE, id, BX));
    assert_non_null(find_esc(e, n, TS_ESC_OVERDUE, id, BT));
    assert_null(find_esc(e, n, TS_ESC_OVERDUE, id, BN));
    free(e);
    char *rid = rid_of(id, BX);
    json_t *h = ts_test_record_fields(f->srv, "notice_recipients", rid);
    assert_true(json_is_true(json_object_get(h, "overdue")));
    assert_string_equal(jstr(h, "state"), "in_progress");
    json_decref(h);
    free(rid);
    escalate(f, &p, deadline + 24 * HOUR_MS, &e, &n);
    assert_int_equal(count_esc(e, n, TS_ESC_OVERDUE, id), 0); /* flagged once */
    free(e);

    /* plan tasks: assigned with a deadline (a date: it lasts until the end
     * of that day, UTC), overdue unless done */
    static const char plan[] =
        "{\"format\": \"tramsync-plan/1\", \"name\": \"KH\", \"issuer\": \"UBND tỉnh\", \"date\": \"2024\","
        " \"version\": 1, \"targets\": [], \"tasks\": ["
        "{\"no\": 1, \"text\": \"Kiện toàn mạng lưới y tế cơ sở\", \"lead\": \"Sở Y tế\", \"coordinating\": \"UBND xã\","
        " \"deadline_text\": \"Quý II năm 2030\"},"
        "{\"no\": 2, \"text\": \"Đào tạo bác sĩ gia đình\", \"lead\": \"Sở Y tế\", \"coordinating\": \"TTYT\","
        " \"deadline_text\": \"Nhiệm vụ thường xuyên\"}]}";
    ts_plan_load_result loaded;
    ts_error err;
    ts_actor loader = admin_actor();
    assert_int_equal(ts_plan_load(f->srv, &loader, plan, sizeof plan - 1, 0, &loaded, &err), 0);
    assert_int_equal(loaded.tasks, 2);
    ts_strlist to = {NULL, 0};
    ts_strlist_add(&to, BN);
    ts_strlist_add(&to, XL);
    ts_actor a = admin_actor();
    assert_int_equal(ts_task_assign(f->srv, &a, "KH-01", &to, NULL, "Báo cáo tiến độ hằng tháng", &err), 0);
    ts_strlist_free(&to);
    json_t *task;
    assert_int_equal(ts_task_show(f->srv, "KH-01", &task, &err), 0);
    assert_int_equal(json_array_size(json_object_get(task, "assignments")), 2);
    json_decref(task);
    ts_test_pull(f->srv, f->sta[3], XL);
    transition_ok(f->sta[3], "KH-01", "done", "Hùng", NULL, "Đã kiện toàn", NULL);
    ts_test_push(f->sta[3], f->srv, XL, false);
    /* assigning again (a new deadline for everyone) keeps each station's progress */
    ts_strlist again = {NULL, 0};
    ts_strlist_add(&again, BN);
    ts_strlist_add(&again, XL);
    assert_int_equal(ts_task_assign(f->srv, &a, "KH-01", &again, "2030-06-30", NULL, &err), 0);
    ts_strlist_free(&again);
    h = ts_test_record_fields(f->srv, "task_assignments", "KH-01:xuanlang");
    assert_string_equal(jstr(h, "state"), "done");
    assert_string_equal(jstr(h, "deadline"), "2030-06-30");
    assert_string_equal(jstr(h, "instructions"), "Báo cáo tiến độ hằng tháng");
    json_decref(h);
    uint64_t q2;
    assert_true(ts_time_parse("2030-07-01", &q2)); /* Quý II năm 2030 ends 2030-06-30 */
    escalate(f, &p, q2 - 1, &e, &n);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(e[i].table, "task_assignments");
    free(e);
    escalate(f, &p, q2, &e, &n);
    const ts_escalation *t = find_esc(e, n, TS_ESC_OVERDUE, "KH-01", BN);
    assert_non_null(t);
    assert_string_equal(t->table, "task_assignments");
    assert_null(find_esc(e, n, TS_ESC_OVERDUE, "KH-01", XL));
    free(e);
    h = ts_test_record_fields(f->srv, "task_assignments", "KH-01:binhnguyen");
    assert_true(json_is_true(json_object_get(h, "overdue")));
    json_decref(h);
}

/* ---------------------------------------------------------------- reports */

static void test_report_redistributed_to_two(void **state)
{
    fixture *f = *state;
    json_t *rep = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s}", "kind", "outbreak_detection", "subject",
                            "Ổ dịch sốt xuất huyết thôn Đông", "body", "3 ca dương tính NS1", "disease",
                            "Sốt xuất huyết Dengue", "cases", 3, "urgency", "thuong_khan");
    char report[TS_KEY_MAX + 1];
    ts_error err;
    assert_int_equal(ts_station_report(f->sta[0], rep, report, sizeof report, &err), 0);
    json_decref(rep);
    ts_test_push(f->sta[0], f->srv, BN, false);
    assert_true(record_exists(f->srv, "reports", report));

    ts_strlist to;
    assert_int_equal(resolve(f->srv, "{\"stations\": [\"binhxuyen\", \"xuanlang\"]}", &to, &err), 0);
    json_t *over = json_pack("{s:s,s:s}", "urgency", "hoa_toc", "source_station", "forged");
    char id[64];
    ts_actor a = admin_actor();
    assert_int_equal(ts_report_redistribute(f->srv, &a, "nosuch-report", over, &to, id, sizeof id, &err),
                     TS_ENOT_FOUND);
    assert_int_equal(ts_report_redistribute(f->srv, &a, report, over, &to, id, sizeof id, &err), 0);
    json_decref(over);
    ts_strlist_free(&to);

    json_t *n = ts_test_record_fields(f->srv, "notices", id);
    assert_non_null(n);
    assert_string_equal(jstr(n, "source_report"), report);
    assert_string_equal(jstr(n, "source_station"), BN); /* not overridable */
    assert_string_equal(jstr(n, "urgency"), "hoa_toc");
    assert_non_null(strstr(jstr(n, "subject"), "Ổ dịch sốt xuất huyết thôn Đông"));
    assert_non_null(strstr(jstr(n, "body"), "3 ca dương tính NS1"));
    json_decref(n);
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s:", id);
    assert_int_equal(count_prefix(f->srv, "notice_recipients", prefix), 2);

    for (int i = 0; i < 4; i++) {
        ts_test_pull(f->srv, f->sta[i], codes[i]);
        bool want = i == 1 || i == 3;
        if (record_exists(f->sta[i], "notices", id) != want)
            fail_msg("%s %s the redistributed report", codes[i], want ? "lacks" : "has");
        assert_int_equal(count_prefix(f->sta[i], "notice_recipients", prefix), want ? 1 : 0);
        /* the report itself stays with its station */
        assert_int_equal(record_exists(f->sta[i], "reports", report), i == 0);
    }
}

/* The district's day (issue 16): at 06:57 on 07/12 in Vietnam (23:57 UTC on
 * 06/12) it is the 7th, and a task due on the 6th is overdue; the day ends at
 * the district's midnight (17:00 UTC), not UTC's. */
static void test_district_day_and_date_deadline(void **state)
{
    fixture *f = *state;
    ts_district_tz_apply("Asia/Ho_Chi_Minh");
    uint64_t now, end;
    assert_true(ts_time_parse("2026-12-06T23:57:00Z", &now));
    char day[16];
    ts_local_day(now, day, sizeof day);
    assert_string_equal(day, "2026-12-07");
    assert_true(ts_local_day_end("2026-12-06", &end));
    uint64_t want;
    assert_true(ts_time_parse("2026-12-06T17:00:00Z", &want));
    assert_int_equal(end, want);
    assert_true(ts_local_day_end("2026-12-31", &end)); /* into the next year */
    assert_true(ts_time_parse("2026-12-31T17:00:00Z", &want));
    assert_int_equal(end, want);
    assert_false(ts_local_day_end("2026-13-01", &end));
    /* the day of a time a station wrote is the district's, not the day printed in it */
    ts_local_day_of("2026-12-14T18:30:00Z", day, sizeof day);
    assert_string_equal(day, "2026-12-15");
    ts_local_day_of("2026-12-05T23:30:00-05:00", day, sizeof day);
    assert_string_equal(day, "2026-12-06");
    ts_local_day_of("2026-12-06T00:30:00+08:00", day, sizeof day);
    assert_string_equal(day, "2026-12-05");
    ts_local_day_of("2026-12-14", day, sizeof day); /* a date is itself */
    assert_string_equal(day, "2026-12-14");
    ts_local_day_of("hôm nay", day, sizeof day);
    assert_string_equal(day, "");
    ts_local_day_of(NULL, day, sizeof day);
    assert_string_equal(day, "");
    /* an outbreak opened from a report with no onset starts on the district's
     * day of the report: 18:30 UTC on the 14th is the 15th in Hà Nội */
    {
        ts_actor st_actor = {TS_ACTOR_LOCAL, "staff", NULL, "cli"};
        json_t *rep = json_pack("{s:s,s:s,s:s,s:s}", "kind", "outbreak_detection", "subject", "Nghi ổ dịch sốt xuất huyết",
                                "disease", "Sốt xuất huyết Dengue", "reported_at", "2026-12-14T18:30:00Z");
        ts_error perr;
        if (ts_record_put_json(f->sta[0], &st_actor, "reports", "BN-BC-OD-1", rep, &perr) < 0)
            fail_msg("report: %s", perr.msg);
        json_decref(rep);
        assert_int_equal(ts_test_push(f->sta[0], f->srv, BN, false), 1);
        ts_actor adm = admin_actor();
        char ob[64];
        if (ts_outbreak_open(f->srv, &adm, "BN-BC-OD-1", NULL, 0, ob, sizeof ob, &perr) < 0)
            fail_msg("outbreak: %s", perr.msg);
        json_t *o = ts_test_record_fields(f->srv, "outbreaks", ob);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, "started_on")), "2026-12-15");
        json_decref(o);
        /* the epidemic scan's alert for it: the same day */
        ts_epi_scan_result res;
        assert_int_equal(ts_epi_scan(f->srv, now, &res, &perr), 0);
        json_t *alerts = NULL;
        assert_int_equal(ts_epi_alerts(f->srv, false, 10, &alerts, &perr), 0);
        if (json_array_size(alerts) != 1)
            fail_msg("alerts: %s", json_dumps(alerts, 0));
        assert_string_equal(json_string_value(json_object_get(json_array_get(alerts, 0), "first_day")), "2026-12-15");
        json_decref(alerts);
    }
    assert_true(ts_tz_valid("Asia/Ho_Chi_Minh"));
    assert_true(ts_tz_valid("UTC"));
    assert_false(ts_tz_valid("Chau_A/Ha_Noi"));
    assert_false(ts_tz_valid("../../etc/passwd"));
    assert_false(ts_tz_valid("/etc/localtime"));
    assert_false(ts_tz_valid(""));

    static const char plan[] =
        "{\"format\": \"tramsync-plan/1\", \"name\": \"KH\", \"issuer\": \"UBND tỉnh\", \"date\": \"2024\","
        " \"version\": 1, \"targets\": [], \"tasks\": ["
        "{\"no\": 1, \"text\": \"Rà soát ca sốt tại các thôn\", \"lead\": \"TTYT\", \"coordinating\": \"UBND xã\","
        " \"deadline_text\": \"Ngày 06/12/2026\"}]}";
    ts_plan_load_result loaded;
    ts_error err;
    ts_actor loader = admin_actor();
    assert_int_equal(ts_plan_load(f->srv, &loader, plan, sizeof plan - 1, 0, &loaded, &err), 0);
    ts_strlist to = {NULL, 0};
    ts_strlist_add(&to, BN);
    ts_actor a = admin_actor();
    assert_int_equal(ts_task_assign(f->srv, &a, "KH-01", &to, "2026-12-06", NULL, &err), 0);
    ts_strlist_free(&to);
    ts_notice_policy p = {{0, 0, 0, 0}, {0, 0, 0, 0}};
    ts_escalation *e;
    size_t n;
    assert_true(ts_time_parse("2026-12-06T16:59:00Z", &now)); /* 23:59 on the 6th in Vietnam */
    escalate(f, &p, now, &e, &n);
    assert_int_equal(count_esc(e, n, TS_ESC_OVERDUE, "KH-01"), 0);
    free(e);
    assert_true(ts_time_parse("2026-12-06T23:57:00Z", &now)); /* 06:57 on the 7th */
    escalate(f, &p, now, &e, &n);
    assert_non_null(find_esc(e, n, TS_ESC_OVERDUE, "KH-01", BN));
    free(e);
    ts_district_tz_apply("UTC");
}

int main(void)
{
    /* the other tests' days are UTC's, whatever this machine's zone */
    ts_district_tz_apply("UTC");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_beyond_audience_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_reaches_exactly_its_recipients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frames_pending_most_urgent_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handling_flow_seen_at_district, setup, teardown),
        cmocka_unit_test_setup_teardown(test_station_transition_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_district_refuses_back_from_done_without_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_delivery_one_transition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escalate_unacknowledged_hoa_toc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escalate_reminds_on_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escalate_overdue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_redistributed_to_two, setup, teardown),
        cmocka_unit_test_setup_teardown(test_district_day_and_date_deadline, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
