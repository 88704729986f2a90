/* The message codec (proto/ts_msg.c): every message type built in C with
 * realistic content, encoded, decoded, compared field by field and encoded
 * again to the same bytes; then malformed bodies (made by editing a valid
 * one at a path such as "changes/1/fields/full_name/2") refused with their
 * exact code and a message that names the key and the element. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_buf.h"
#include "common/ts_mp.h"
#include "common/ts_record.h"
#include "common/ts_vv.h"
#include "proto/tramsync-protocol.h"
#include "proto/ts_msg.h"
#include "tests/support/ts_test.h"

/* ---------------------------------------------------------------- realistic content */

#define RID_STATION "st-binhnguyen.4f3c2a1b0e9d8c7b"
#define RID_STATION_OLD "st-binhnguyen.0a1b2c3d4e5f6071" /* the same station before a rekey */
#define RID_DISTRICT "district.9f8e7d6c5b4a3921"
#define SERVER_DB "db-7c1e5a90-2f4d-4b8e-9a61-0d3c2b1a5e77"
#define T0 1732345200000ull /* 2024-11-23 07:00:00 UTC, in ms */
#define DAY 86400000ull
/* HLC: 48-bit milliseconds, 16-bit logical counter */
#define HLC(ms, logical) (((uint64_t)(ms) << 16) | (uint64_t)(logical))

static void put_value(ts_msg *m, ts_version *v, const char *name, const ts_buf *value, const char *rid,
                      uint64_t counter, uint64_t hlc)
{
    ts_dot dot;
    assert_int_equal(ts_rid_set_cstr(&dot.rid, rid), 0);
    dot.counter = counter;
    ts_version_put(v, &m->arena, name, value->data, value->len, &dot, hlc);
}

static void f_str(ts_msg *m, ts_version *v, const char *name, const char *s, const char *rid, uint64_t counter,
                  uint64_t hlc)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    ts_mp_pack_cstr(&pk, s);
    put_value(m, v, name, &b, rid, counter, hlc);
    ts_buf_free(&b);
}

static void f_uint(ts_msg *m, ts_version *v, const char *name, uint64_t u, const char *rid, uint64_t counter,
                   uint64_t hlc)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_uint64(&pk, u);
    put_value(m, v, name, &b, rid, counter, hlc);
    ts_buf_free(&b);
}

static void f_double(ts_msg *m, ts_version *v, const char *name, double d, const char *rid, uint64_t counter,
                     uint64_t hlc)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_double(&pk, d);
    put_value(m, v, name, &b, rid, counter, hlc);
    ts_buf_free(&b);
}

static void f_bool(ts_msg *m, ts_version *v, const char *name, bool x, const char *rid, uint64_t counter,
                   uint64_t hlc)
{
    ts_buf b = TS_BUF_INIT;
    ts_buf_append(&b, x ? "\xc3" : "\xc2", 1);
    put_value(m, v, name, &b, rid, counter, hlc);
    ts_buf_free(&b);
}

static void f_list(ts_msg *m, ts_version *v, const char *name, const char *const *items, size_t n, const char *rid,
                   uint64_t counter, uint64_t hlc)
{
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++)
        ts_mp_pack_cstr(&pk, items[i]);
    put_value(m, v, name, &b, rid, counter, hlc);
    ts_buf_free(&b);
}

static void vv_put(ts_version *v, const char *rid, uint64_t counter)
{
    ts_rid r;
    assert_int_equal(ts_rid_set_cstr(&r, rid), 0);
    ts_vv_set(&v->vv, &r, counter);
}

static void change_key(ts_msg *m, ts_change *c, const char *table, const char *id, const char *owner)
{
    c->table = ts_msg_strdup(m, table);
    c->id = ts_msg_strdup(m, id);
    c->owner = ts_msg_strdup(m, owner);
}

/* A resident edited at the station before and after a rekey, with a field
 * the district wrote, and one true conflict the station found (losers). */
static void fill_resident(ts_msg *m, ts_change *c)
{
    ts_version *v = &c->v;
    change_key(m, c, "residents", "bn-000123", "binhnguyen");
    vv_put(v, RID_DISTRICT, 2);
    vv_put(v, RID_STATION, 7);
    vv_put(v, RID_STATION_OLD, 3);
    const uint64_t created = T0 - 200 * DAY;
    f_bool(m, v, "_deleted", false, RID_STATION_OLD, 1, HLC(created, 0));
    f_str(m, v, "birth_date", "1987-03-14", RID_STATION_OLD, 1, HLC(created, 0));
    f_str(m, v, "sex", "female", RID_STATION_OLD, 1, HLC(created, 0));
    f_str(m, v, "bhyt_number", "GD4010123456789", RID_STATION_OLD, 2, HLC(created + 3600000, 0));
    f_str(m, v, "village_id", "thon-dong", RID_DISTRICT, 1, HLC(T0 - 30 * DAY, 0));
    f_str(m, v, "phone", "0912345678", RID_DISTRICT, 2, HLC(T0 - 2 * DAY, 1));
    f_str(m, v, "address", "Thôn Đông, xã Bình Nguyên", RID_STATION, 5, HLC(T0 - 9 * DAY, 0));
    static const char *const chronic[] = {"tăng huyết áp", "đái tháo đường típ 2"};
    f_list(m, v, "chronic_conditions", chronic, 2, RID_STATION, 6, HLC(T0 - DAY, 3));
    f_str(m, v, "full_name", "Nguyễn Thị Lan", RID_STATION, 7, HLC(T0 + 5000, 0));
    f_bool(m, v, "high_risk", true, RID_STATION, 7, HLC(T0 + 5000, 0));
    c->lseq = 905;
    /* the station's own phone edit lost to the district's concurrent one */
    c->losers = ts_arena_calloc(&m->arena, 1, sizeof *c->losers);
    c->nlosers = 1;
    ts_field *l = &c->losers[0];
    l->name = ts_msg_strdup(m, "phone");
    l->name_len = 5;
    static const uint8_t lost[] = "\xaa" "0987654321";
    l->value = ts_arena_memdup(&m->arena, lost, sizeof lost - 1);
    l->value_len = sizeof lost - 1;
    assert_int_equal(ts_rid_set_cstr(&l->dot.rid, RID_STATION), 0);
    l->dot.counter = 4;
    l->hlc = HLC(T0 - 2 * DAY, 0);
}

static void fill_encounter(ts_msg *m, ts_change *c)
{
    ts_version *v = &c->v;
    change_key(m, c, "encounters", "bn-enc-20241123-0007", "binhnguyen");
    vv_put(v, RID_STATION, 1);
    const uint64_t h = HLC(T0 + 7000, 2);
    f_str(m, v, "resident_id", "bn-000123", RID_STATION, 1, h);
    f_str(m, v, "date", "2024-11-23", RID_STATION, 1, h);
    f_str(m, v, "kind", "checkup", RID_STATION, 1, h);
    f_str(m, v, "reason", "Đau đầu, chóng mặt; huyết áp 160/100 mmHg", RID_STATION, 1, h);
    f_str(m, v, "icd10", "I10", RID_STATION, 1, h);
    f_bool(m, v, "paid_by_bhyt", true, RID_STATION, 1, h);
    f_bool(m, v, "_deleted", false, RID_STATION, 1, h);
    c->lseq = 906;
}

static void fill_followup(ts_msg *m, ts_change *c)
{
    ts_version *v = &c->v;
    change_key(m, c, "ncd_followups", "bn-ncd-0042-2024-11", "binhnguyen");
    vv_put(v, RID_STATION, 3);
    vv_put(v, RID_DISTRICT, 1);
    const uint64_t h = HLC(T0 - 3 * DAY, 0);
    f_str(m, v, "patient_id", "bn-ncd-0042", RID_STATION, 1, h);
    f_str(m, v, "date", "2024-11-20", RID_STATION, 1, h);
    f_uint(m, v, "systolic", 150, RID_STATION, 2, h + 1);
    f_uint(m, v, "diastolic", 95, RID_STATION, 2, h + 1);
    f_double(m, v, "glucose", 7.8, RID_STATION, 3, h + 2);
    f_double(m, v, "weight_kg", 61.5, RID_STATION, 3, h + 2);
    f_bool(m, v, "controlled", false, RID_STATION, 3, h + 2);
    f_str(m, v, "notes", "Nhắc tái khám sau 2 tuần", RID_DISTRICT, 1, HLC(T0 - DAY, 0));
    f_bool(m, v, "_deleted", false, RID_STATION, 1, h);
    c->seq = 18344;
}

static void fill_tombstone(ts_msg *m, ts_change *c)
{
    ts_version *v = &c->v;
    change_key(m, c, "residents", "bn-000087", "binhnguyen");
    vv_put(v, RID_STATION, 4);
    f_str(m, v, "full_name", "Trần Văn Hùng", RID_STATION, 1, HLC(T0 - 90 * DAY, 0));
    f_str(m, v, "birth_date", "1950-07-02", RID_STATION, 1, HLC(T0 - 90 * DAY, 0));
    f_bool(m, v, "moved_out", true, RID_STATION, 3, HLC(T0 - 4 * DAY, 0));
    f_bool(m, v, "_deleted", true, RID_STATION, 4, HLC(T0 - 4 * DAY, 1));
    c->seq = 18351;
}

static void fill_drug(ts_msg *m, ts_change *c)
{
    ts_version *v = &c->v;
    change_key(m, c, "drug_catalog", "PARA500", "district");
    vv_put(v, RID_DISTRICT, 1);
    const uint64_t h = HLC(T0 - 60 * DAY, 0);
    f_str(m, v, "name", "Paracetamol 500 mg", RID_DISTRICT, 1, h);
    f_str(m, v, "active_ingredient", "Paracetamol", RID_DISTRICT, 1, h);
    f_str(m, v, "strength", "500 mg", RID_DISTRICT, 1, h);
    f_str(m, v, "form", "viên nén", RID_DISTRICT, 1, h);
    f_bool(m, v, "essential", true, RID_DISTRICT, 1, h);
    f_bool(m, v, "_deleted", false, RID_DISTRICT, 1, h);
    c->seq = 18359;
}

static void fill_notice(ts_msg *m, ts_change *c)
{
    ts_version *v = &c->v;
    change_key(m, c, "notices", "notice-2024-117", "district");
    vv_put(v, RID_DISTRICT, 2);
    const uint64_t h = HLC(T0 + 60000, 0);
    f_str(m, v, "number", "117/CĐ-TTYT", RID_DISTRICT, 1, h);
    f_str(m, v, "doc_type", "cong_dien", RID_DISTRICT, 1, h);
    f_str(m, v, "issuer", "Trung tâm Y tế khu vực", RID_DISTRICT, 1, h);
    f_str(m, v, "issue_date", "2024-11-23", RID_DISTRICT, 1, h);
    f_str(m, v, "subject", "Về việc tăng cường phòng, chống dịch sốt xuất huyết", RID_DISTRICT, 1, h);
    f_str(m, v, "category", "emergency", RID_DISTRICT, 1, h);
    f_str(m, v, "urgency", "hoa_toc", RID_DISTRICT, 1, h);
    static const char *const recipients[] = {"binhnguyen", "xuanlang"};
    f_list(m, v, "recipients", recipients, 2, RID_DISTRICT, 1, h);
    f_str(m, v, "deadline", "2024-11-30T17:00:00+07:00", RID_DISTRICT, 2, h + 5);
    f_bool(m, v, "_deleted", false, RID_DISTRICT, 1, h);
    c->seq = 18361;
}

static void fill_recipient(ts_msg *m, ts_change *c)
{
    ts_version *v = &c->v;
    change_key(m, c, "notice_recipients", "notice-2024-117:binhnguyen", "binhnguyen");
    vv_put(v, RID_DISTRICT, 1);
    const uint64_t h = HLC(T0 + 60000, 1);
    f_str(m, v, "notice_id", "notice-2024-117", RID_DISTRICT, 1, h);
    f_str(m, v, "station", "binhnguyen", RID_DISTRICT, 1, h);
    f_str(m, v, "state", "sent", RID_DISTRICT, 1, h);
    f_str(m, v, "sent_at", "2024-11-23T07:01:00Z", RID_DISTRICT, 1, h);
    f_bool(m, v, "_deleted", false, RID_DISTRICT, 1, h);
    c->seq = 18362;
}

/* One realistic message of each type, every optional key set. */
static void build_fixture(ts_msg *m, ts_msg_type type)
{
    ts_msg_init(m, type);
    switch (type) {
    case TS_MSG_HELLO: {
        ts_msg_hello *h = &m->u.hello;
        h->proto_min = 1;
        h->proto_max = 1;
        h->agent = "tramsync/0.1.0";
        h->replica = RID_STATION;
        h->station = "binhnguyen";
        h->server_db = SERVER_DB;
        h->cursor = 18342;
        h->lseq = 906;
        h->time = T0 + 9000;
        h->live = true;
        break;
    }
    case TS_MSG_WELCOME: {
        ts_msg_welcome *w = &m->u.welcome;
        w->proto = 1;
        w->server = RID_DISTRICT;
        w->server_db = SERVER_DB;
        w->station = "binhnguyen";
        w->commune = "Xã Bình Nguyên";
        w->time = T0 + 9150;
        w->rekey = false;
        w->cursor_reset = false;
        w->max_frame = TS_PROTO_DEFAULT_MAX_FRAME;
        w->max_changes = TS_PROTO_DEFAULT_MAX_CHANGES;
        w->heartbeat = 60;
        w->timezone = "Asia/Ho_Chi_Minh";
        break;
    }
    case TS_MSG_PUSH: {
        m->u.push.batch = 42;
        ts_change *c = ts_msg_alloc_changes(m, &m->u.push.changes, 2);
        fill_resident(m, &c[0]);
        fill_encounter(m, &c[1]);
        break;
    }
    case TS_MSG_PUSH_ACK: {
        ts_msg_push_ack *a = &m->u.push_ack;
        a->batch = 42;
        a->nresults = 3;
        a->results = ts_arena_calloc(&m->arena, 3, sizeof *a->results);
        a->results[0].outcome = TS_OUTCOME_APPLIED;
        a->results[0].seq = 18343;
        a->results[1].outcome = TS_OUTCOME_CONFLICT;
        a->results[1].seq = 18344;
        a->results[1].reason = "phone: concurrent edits, the district's kept, the station's logged";
        a->results[2].outcome = TS_OUTCOME_REJECTED;
        a->results[2].code = (uint64_t)-TS_EFORBIDDEN;
        a->results[2].reason = "drug_catalog is written by the district only";
        break;
    }
    case TS_MSG_PULL:
        m->u.pull.since = 18342;
        m->u.pull.limit = 500;
        break;
    case TS_MSG_CHANGES: {
        ts_change *c = ts_msg_alloc_changes(m, &m->u.changes.changes, 3);
        fill_followup(m, &c[0]);
        fill_tombstone(m, &c[1]);
        fill_drug(m, &c[2]);
        m->u.changes.cursor = 18360;
        m->u.changes.more = true;
        m->u.changes.live = true;
        break;
    }
    case TS_MSG_NOTICE: {
        m->u.notice.seq = 18362;
        m->u.notice.id = "notice-2024-117";
        m->u.notice.urgency = "hoa_toc";
        ts_change *c = ts_msg_alloc_changes(m, &m->u.notice.changes, 2);
        fill_notice(m, &c[0]);
        fill_recipient(m, &c[1]);
        break;
    }
    case TS_MSG_NOTICE_ACK:
        m->u.notice_ack.seq = 18362;
        m->u.notice_ack.id = "notice-2024-117";
        break;
    case TS_MSG_PING:
    case TS_MSG_PONG:
        m->u.ping.nonce = 17;
        break;
    case TS_MSG_ERROR:
        m->u.error.code = (uint64_t)-TS_ECLOCK_AHEAD;
        m->u.error.name = "CLOCK_AHEAD";
        m->u.error.message = "clock ahead by 7 min 12 s: fix the station clock, changes stay safe at the station";
        m->u.error.fatal = false;
        m->u.error.batch = 43;
        break;
    case TS_MSG_BYE:
        m->u.bye.reason = "station agent stopping";
        break;
    default:
        fail_msg("no fixture for type %d", (int)type);
    }
}

/* ---------------------------------------------------------------- comparison */

static void same_str(const char *a, const char *b, const char *what)
{
    if (a == NULL || b == NULL) {
        if (a != b)
            fail_msg("%s: \"%s\" vs \"%s\"", what, a ? a : "(null)", b ? b : "(null)");
        return;
    }
    if (strcmp(a, b) != 0)
        fail_msg("%s: \"%s\" vs \"%s\"", what, a, b);
}

static void same_u64(uint64_t a, uint64_t b, const char *what)
{
    if (a != b)
        fail_msg("%s: %llu vs %llu", what, (unsigned long long)a, (unsigned long long)b);
}

static void same_field(const ts_field *a, const ts_field *b, const char *what)
{
    if (a->name_len != b->name_len || strcmp(a->name, b->name) != 0 || !ts_field_equal(a, b))
        fail_msg("%s: field \"%s\" differs from \"%s\"", what, a->name, b->name);
}

static void same_change(const ts_change *a, const ts_change *b, const char *what)
{
    same_str(a->table, b->table, what);
    same_str(a->id, b->id, what);
    same_str(a->owner, b->owner, what);
    same_u64(a->seq, b->seq, what);
    same_u64(a->lseq, b->lseq, what);
    if (!ts_vv_equal(&a->v.vv, &b->v.vv))
        fail_msg("%s: vv differs", what);
    same_u64(a->v.nfields, b->v.nfields, what);
    for (uint32_t i = 0; i < a->v.nfields; i++)
        same_field(&a->v.fields[i], &b->v.fields[i], what);
    same_u64(a->nlosers, b->nlosers, what);
    for (uint32_t i = 0; i < a->nlosers; i++)
        same_field(&a->losers[i], &b->losers[i], what);
}

static void same_changes(const ts_change_list *a, const ts_change_list *b, const char *what)
{
    same_u64(a->n, b->n, what);
    for (uint32_t i = 0; i < a->n; i++) {
        char w[64];
        snprintf(w, sizeof w, "%s[%u]", what, i);
        same_change(&a->items[i], &b->items[i], w);
    }
}

static void same_msg(const ts_msg *a, const ts_msg *b)
{
    if (a->type != b->type)
        fail_msg("type %s vs %s", ts_msg_type_name(a->type), ts_msg_type_name(b->type));
    switch (a->type) {
    case TS_MSG_HELLO: {
        const ts_msg_hello *x = &a->u.hello, *y = &b->u.hello;
        same_u64(x->proto_min, y->proto_min, "HELLO.proto_min");
        same_u64(x->proto_max, y->proto_max, "HELLO.proto_max");
        same_str(x->agent, y->agent, "HELLO.agent");
        same_str(x->replica, y->replica, "HELLO.replica");
        same_str(x->station, y->station, "HELLO.station");
        same_str(x->server_db, y->server_db, "HELLO.server_db");
        same_u64(x->cursor, y->cursor, "HELLO.cursor");
        same_u64(x->lseq, y->lseq, "HELLO.lseq");
        same_u64(x->time, y->time, "HELLO.time");
        same_u64(x->live, y->live, "HELLO.live");
        break;
    }
    case TS_MSG_WELCOME: {
        const ts_msg_welcome *x = &a->u.welcome, *y = &b->u.welcome;
        same_u64(x->proto, y->proto, "WELCOME.proto");
        same_str(x->server, y->server, "WELCOME.server");
        same_str(x->server_db, y->server_db, "WELCOME.server_db");
        same_str(x->station, y->station, "WELCOME.station");
        same_str(x->commune, y->commune, "WELCOME.commune");
        same_u64(x->time, y->time, "WELCOME.time");
        same_u64(x->rekey, y->rekey, "WELCOME.rekey");
        same_u64(x->cursor_reset, y->cursor_reset, "WELCOME.cursor_reset");
        same_u64(x->max_frame, y->max_frame, "WELCOME.max_frame");
        same_u64(x->max_changes, y->max_changes, "WELCOME.max_changes");
        same_u64(x->heartbeat, y->heartbeat, "WELCOME.heartbeat");
        same_str(x->timezone, y->timezone, "WELCOME.timezone");
        break;
    }
    case TS_MSG_PUSH:
        same_u64(a->u.push.batch, b->u.push.batch, "PUSH.batch");
        same_changes(&a->u.push.changes, &b->u.push.changes, "PUSH.changes");
        break;
    case TS_MSG_PUSH_ACK: {
        const ts_msg_push_ack *x = &a->u.push_ack, *y = &b->u.push_ack;
        same_u64(x->batch, y->batch, "PUSH_ACK.batch");
        same_u64(x->code, y->code, "PUSH_ACK.code");
        same_str(x->message, y->message, "PUSH_ACK.message");
        same_u64(x->nresults, y->nresults, "PUSH_ACK.results");
        for (uint32_t i = 0; i < x->nresults; i++) {
            same_u64(x->results[i].outcome, y->results[i].outcome, "PUSH_ACK.results.outcome");
            same_u64(x->results[i].seq, y->results[i].seq, "PUSH_ACK.results.seq");
            same_u64(x->results[i].code, y->results[i].code, "PUSH_ACK.results.code");
            same_str(x->results[i].reason, y->results[i].reason, "PUSH_ACK.results.reason");
        }
        break;
    }
    case TS_MSG_PULL:
        same_u64(a->u.pull.since, b->u.pull.since, "PULL.since");
        same_u64(a->u.pull.limit, b->u.pull.limit, "PULL.limit");
        break;
    case TS_MSG_CHANGES:
        same_changes(&a->u.changes.changes, &b->u.changes.changes, "CHANGES.changes");
        same_u64(a->u.changes.cursor, b->u.changes.cursor, "CHANGES.cursor");
        same_u64(a->u.changes.more, b->u.changes.more, "CHANGES.more");
        same_u64(a->u.changes.live, b->u.changes.live, "CHANGES.live");
        break;
    case TS_MSG_NOTICE:
        same_u64(a->u.notice.seq, b->u.notice.seq, "NOTICE.seq");
        same_str(a->u.notice.id, b->u.notice.id, "NOTICE.id");
        same_str(a->u.notice.urgency, b->u.notice.urgency, "NOTICE.urgency");
        same_changes(&a->u.notice.changes, &b->u.notice.changes, "NOTICE.changes");
        break;
    case TS_MSG_NOTICE_ACK:
        same_u64(a->u.notice_ack.seq, b->u.notice_ack.seq, "NOTICE_ACK.seq");
        same_str(a->u.notice_ack.id, b->u.notice_ack.id, "NOTICE_ACK.id");
        break;
    case TS_MSG_PING:
    case TS_MSG_PONG:
        same_u64(a->u.ping.nonce, b->u.ping.nonce, "nonce");
        break;
    case TS_MSG_ERROR:
        same_u64(a->u.error.code, b->u.error.code, "ERROR.code");
        same_str(a->u.error.name, b->u.error.name, "ERROR.name");
        same_str(a->u.error.message, b->u.error.message, "ERROR.message");
        same_u64(a->u.error.fatal, b->u.error.fatal, "ERROR.fatal");
        same_u64(a->u.error.batch, b->u.error.batch, "ERROR.batch");
        break;
    case TS_MSG_BYE:
        same_str(a->u.bye.reason, b->u.bye.reason, "BYE.reason");
        break;
    default:
        fail_msg("unexpected type %d", (int)a->type);
    }
}

/* ---------------------------------------------------------------- codec helpers */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Encodes, checks the frame header, decodes the body from a heap copy that
 * is freed before the comparison (decoded strings must be copies). */
static void round_trip(const ts_msg *m, ts_buf *first, ts_msg *out)
{
    ts_buf_reset(first);
    ts_msg_encode(m, first);
    assert_true(first->len > 4);
    assert_int_equal(be32(first->data), first->len - 4);
    uint8_t *copy = malloc(first->len - 4);
    assert_non_null(copy);
    memcpy(copy, first->data + 4, first->len - 4);
    ts_error err;
    int rc = ts_msg_decode(copy, first->len - 4, NULL, out, &err);
    free(copy);
    if (rc != 0)
        fail_msg("%s: decode failed: %s", ts_msg_type_name(m->type), err.msg);
}

static void expect_same_bytes(const ts_buf *a, const ts_buf *b, const char *what)
{
    if (a->len == b->len && memcmp(a->data, b->data, a->len) == 0)
        return;
    size_t i = 0;
    while (i < a->len && i < b->len && a->data[i] == b->data[i])
        i++;
    fail_msg("%s: encodings differ (%zu vs %zu bytes, first difference at byte %zu)", what, a->len, b->len, i);
}

static void expect_decode_error(const uint8_t *body, size_t len, const ts_proto_limits *limits, int code,
                                const char *needle, const char *needle2, const char *label)
{
    ts_msg m;
    ts_error err;
    ts_error_clear(&err);
    int rc = ts_msg_decode(body, len, limits, &m, &err);
    if (rc == 0) {
        ts_msg_free(&m);
        fail_msg("%s: decoded, want %s", label, ts_err_name(code));
    }
    if (rc != code)
        fail_msg("%s: got %s (\"%s\"), want %s", label, ts_err_name(rc), err.msg, ts_err_name(code));
    if (err.code != code)
        fail_msg("%s: err.code %d, returned %d", label, err.code, rc);
    if (needle != NULL && strstr(err.msg, needle) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", label, err.msg, needle);
    if (needle2 != NULL && strstr(err.msg, needle2) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", label, err.msg, needle2);
}

/* ---------------------------------------------------------------- editing encoded bodies */

typedef enum edit_kind {
    EDIT_DELETE,   /* drop the key (or array element) */
    EDIT_SET,      /* replace its value with raw bytes, adding the key when absent */
    EDIT_DUPLICATE /* repeat the entry */
} edit_kind;

typedef struct edit {
    edit_kind kind;
    const uint8_t *raw;
    size_t rawlen;
} edit;

static bool seg_is(const char *seg, size_t n, const msgpack_object *key)
{
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == n && memcmp(key->via.str.ptr, seg, n) == 0;
}

/* Re-packs o with one edit applied at path: '/'-separated map keys and
 * array indexes, e.g. "changes/1/fields/full_name/2". */
static void repack(msgpack_packer *pk, const msgpack_object *o, const char *path, const edit *e)
{
    const char *slash = strchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : strlen(path);
    const char *rest = slash ? slash + 1 : NULL;
    if (o->type == MSGPACK_OBJECT_MAP) {
        uint32_t size = o->via.map.size, found = 0;
        for (uint32_t i = 0; i < size; i++)
            found += seg_is(path, n, &o->via.map.ptr[i].key);
        if (found == 0 && (rest != NULL || e->kind != EDIT_SET))
            fail_msg("edit: no key \"%.*s\"", (int)n, path);
        uint32_t out = size;
        if (rest == NULL && e->kind == EDIT_DELETE)
            out -= found;
        else if (rest == NULL && e->kind == EDIT_DUPLICATE)
            out += found;
        else if (rest == NULL && found == 0)
            out++;
        msgpack_pack_map(pk, out);
        for (uint32_t i = 0; i < size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (!seg_is(path, n, &kv->key)) {
                msgpack_pack_object(pk, kv->key);
                msgpack_pack_object(pk, kv->val);
            } else if (rest != NULL) {
                msgpack_pack_object(pk, kv->key);
                repack(pk, &kv->val, rest, e);
            } else if (e->kind == EDIT_SET) {
                msgpack_pack_object(pk, kv->key);
                pk->callback(pk->data, (const char *)e->raw, e->rawlen);
            } else if (e->kind == EDIT_DUPLICATE) {
                for (int k = 0; k < 2; k++) {
                    msgpack_pack_object(pk, kv->key);
                    msgpack_pack_object(pk, kv->val);
                }
            }
        }
        if (rest == NULL && e->kind == EDIT_SET && found == 0) {
            ts_mp_pack_strn(pk, path, n);
            pk->callback(pk->data, (const char *)e->raw, e->rawlen);
        }
    } else if (o->type == MSGPACK_OBJECT_ARRAY) {
        char idx[16];
        snprintf(idx, sizeof idx, "%.*s", (int)(n < 15 ? n : 15), path);
        uint32_t at = (uint32_t)strtoul(idx, NULL, 10);
        uint32_t size = o->via.array.size;
        if (at >= size)
            fail_msg("edit: index %u of an array of %u", at, size);
        uint32_t out = size;
        if (rest == NULL && e->kind == EDIT_DELETE)
            out--;
        else if (rest == NULL && e->kind == EDIT_DUPLICATE)
            out++;
        msgpack_pack_array(pk, out);
        for (uint32_t i = 0; i < size; i++) {
            const msgpack_object *el = &o->via.array.ptr[i];
            if (i != at) {
                msgpack_pack_object(pk, *el);
            } else if (rest != NULL) {
                repack(pk, el, rest, e);
            } else if (e->kind == EDIT_SET) {
                pk->callback(pk->data, (const char *)e->raw, e->rawlen);
            } else if (e->kind == EDIT_DUPLICATE) {
                msgpack_pack_object(pk, *el);
                msgpack_pack_object(pk, *el);
            }
        }
    } else {
        fail_msg("edit: \"%s\" goes through a %s", path, ts_mp_type_name(o->type));
    }
}

/* The body of m's encoding with one edit applied. */
static void edited(const ts_msg *m, const char *path, edit_kind kind, const uint8_t *raw, size_t rawlen,
                   ts_buf *out)
{
    ts_buf frame = TS_BUF_INIT;
    ts_msg_encode(m, &frame);
    msgpack_unpacked up;
    ts_error err;
    assert_int_equal(ts_mp_unpack(frame.data + 4, frame.len - 4, NULL, &up, &err), 0);
    ts_buf_reset(out);
    msgpack_packer pk;
    ts_buf_packer(out, &pk);
    edit e = {kind, raw, rawlen};
    repack(&pk, &up.data, path, &e);
    msgpack_unpacked_destroy(&up);
    ts_buf_free(&frame);
}

/* Edits the fixture of `type` at path (raw value as hex), decodes, expects the code. */
static void expect_edit_error(ts_msg_type type, const char *path, edit_kind kind, const char *raw_hex,
                              const ts_proto_limits *limits, int code, const char *needle, const char *needle2)
{
    uint8_t raw[512];
    long rawlen = 0;
    if (raw_hex != NULL) {
        rawlen = ts_hex_decode(raw_hex, raw, sizeof raw);
        assert_true(rawlen >= 0);
    }
    ts_msg m;
    build_fixture(&m, type);
    ts_buf body = TS_BUF_INIT;
    edited(&m, path, kind, raw, (size_t)rawlen, &body);
    char label[160];
    snprintf(label, sizeof label, "%s %s %s %s", ts_msg_type_name(type), path,
             kind == EDIT_DELETE ? "deleted" : kind == EDIT_DUPLICATE ? "duplicated" : "set to",
             raw_hex ? raw_hex : "");
    expect_decode_error(body.data, body.len, limits, code, needle, needle2, label);
    ts_buf_free(&body);
    ts_msg_free(&m);
}

/* Like expect_edit_error with a str value. */
static void expect_edit_str_error(ts_msg_type type, const char *path, const char *s, size_t slen, int code,
                                  const char *needle, const char *needle2)
{
    ts_buf raw = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&raw, &pk);
    ts_mp_pack_strn(&pk, s, slen);
    ts_msg m;
    build_fixture(&m, type);
    ts_buf body = TS_BUF_INIT;
    edited(&m, path, EDIT_SET, raw.data, raw.len, &body);
    char label[160];
    snprintf(label, sizeof label, "%s %s set to a str of %zu bytes", ts_msg_type_name(type), path, slen);
    expect_decode_error(body.data, body.len, NULL, code, needle, needle2, label);
    ts_buf_free(&body);
    ts_buf_free(&raw);
    ts_msg_free(&m);
}

/* Edits, decodes (must succeed) and hands the decoded message back. */
static void decode_edited(ts_msg_type type, const char *path, edit_kind kind, const char *raw_hex, ts_msg *out)
{
    uint8_t raw[512];
    long rawlen = 0;
    if (raw_hex != NULL) {
        rawlen = ts_hex_decode(raw_hex, raw, sizeof raw);
        assert_true(rawlen >= 0);
    }
    ts_msg m;
    build_fixture(&m, type);
    ts_buf body = TS_BUF_INIT;
    edited(&m, path, kind, raw, (size_t)rawlen, &body);
    ts_error err;
    if (ts_msg_decode(body.data, body.len, NULL, out, &err) != 0)
        fail_msg("%s %s: %s", ts_msg_type_name(type), path, err.msg);
    ts_buf_free(&body);
    ts_msg_free(&m);
}

/* ---------------------------------------------------------------- the protocol's keys, as documented */

typedef struct key_spec {
    const char *key;
    char kind; /* u: uint, b: bool, s: str, c: changes array, r: results array */
    bool required;
} key_spec;

typedef struct msg_spec {
    ts_msg_type type;
    key_spec keys[13];
} msg_spec;

static const msg_spec specs[] = {
    {TS_MSG_HELLO,
     {{"proto_min", 'u', true}, {"proto_max", 'u', true}, {"agent", 's', true}, {"replica", 's', true},
      {"station", 's', true}, {"server_db", 's', false}, {"cursor", 'u', false}, {"lseq", 'u', false},
      {"time", 'u', false}, {"live", 'b', false}, {NULL, 0, false}}},
    {TS_MSG_WELCOME,
     {{"proto", 'u', true}, {"server", 's', true}, {"server_db", 's', true}, {"station", 's', true},
      {"commune", 's', true}, {"time", 'u', true}, {"rekey", 'b', true}, {"cursor_reset", 'b', true},
      {"max_frame", 'u', true}, {"max_changes", 'u', true}, {"heartbeat", 'u', true}, {"timezone", 's', false},
      {NULL, 0, false}}},
    {TS_MSG_PUSH, {{"batch", 'u', true}, {"changes", 'c', true}, {NULL, 0, false}}},
    {TS_MSG_PUSH_ACK,
     {{"batch", 'u', true}, {"code", 'u', false}, {"message", 's', false}, {"results", 'r', true},
      {NULL, 0, false}}},
    {TS_MSG_PULL, {{"since", 'u', true}, {"limit", 'u', false}, {NULL, 0, false}}},
    {TS_MSG_CHANGES,
     {{"changes", 'c', true}, {"cursor", 'u', true}, {"more", 'b', true}, {"live", 'b', false}, {NULL, 0, false}}},
    {TS_MSG_NOTICE,
     {{"seq", 'u', true}, {"id", 's', true}, {"urgency", 's', true}, {"changes", 'c', true}, {NULL, 0, false}}},
    {TS_MSG_NOTICE_ACK, {{"seq", 'u', true}, {"id", 's', true}, {NULL, 0, false}}},
    {TS_MSG_PING, {{"nonce", 'u', true}, {NULL, 0, false}}},
    {TS_MSG_PONG, {{"nonce", 'u', true}, {NULL, 0, false}}},
    {TS_MSG_ERROR,
     {{"code", 'u', true}, {"name", 's', true}, {"message", 's', true}, {"fatal", 'b', true},
      {"batch", 'u', false}, {NULL, 0, false}}},
    {TS_MSG_BYE, {{"reason", 's', false}, {NULL, 0, false}}},
};

/* ---------------------------------------------------------------- round trips */

static void test_type_names(void **state)
{
    (void)state;
    for (int t = 1; t < TS_MSG__COUNT; t++) {
        const char *name = ts_msg_type_name((ts_msg_type)t);
        assert_int_equal(ts_msg_type_parse(name, strlen(name)), t);
    }
    assert_string_equal(ts_msg_type_name(TS_MSG_PUSH_ACK), "PUSH_ACK");
    assert_string_equal(ts_msg_type_name(TS_MSG_NONE), "UNKNOWN");
    assert_string_equal(ts_msg_type_name(TS_MSG__COUNT), "UNKNOWN");
    assert_int_equal(ts_msg_type_parse("HELO", 4), TS_MSG_NONE);
    assert_int_equal(ts_msg_type_parse("hello", 5), TS_MSG_NONE);
    assert_int_equal(ts_msg_type_parse("HELLOX", 5), TS_MSG_HELLO); /* length counts, not NUL */
    assert_int_equal(ts_msg_type_parse("NONE", 4), TS_MSG_NONE);
    /* every type has a spec in this test */
    assert_int_equal(sizeof specs / sizeof *specs, TS_MSG__COUNT - 1);
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    ts_buf first = TS_BUF_INIT, second = TS_BUF_INIT;
    for (int t = 1; t < TS_MSG__COUNT; t++) {
        ts_msg m, d;
        build_fixture(&m, (ts_msg_type)t);
        round_trip(&m, &first, &d);
        same_msg(&m, &d);
        ts_buf_reset(&second);
        ts_msg_encode(&d, &second);
        expect_same_bytes(&first, &second, ts_msg_type_name((ts_msg_type)t));
        /* the first key is "type", with the message name */
        char head[32];
        size_t nlen = strlen(ts_msg_type_name((ts_msg_type)t));
        snprintf(head, sizeof head, "\xa4type%c%s", (char)(0xa0 | nlen), ts_msg_type_name((ts_msg_type)t));
        assert_memory_equal(first.data + 5, head, 5 + 1 + nlen);
        ts_msg_free(&d);
        ts_msg_free(&m);
    }
    ts_buf_free(&first);
    ts_buf_free(&second);
}

static void test_decoded_content_is_exact(void **state)
{
    (void)state;
    /* spot checks that do not go through same_msg */
    ts_msg m, d;
    ts_buf b = TS_BUF_INIT;
    build_fixture(&m, TS_MSG_PUSH);
    round_trip(&m, &b, &d);
    const ts_change *c = &d.u.push.changes.items[0];
    assert_string_equal(c->table, "residents");
    assert_string_equal(c->id, "bn-000123");
    assert_int_equal(c->v.vv.n, 3);
    assert_int_equal(c->v.nfields, 10);
    assert_int_equal(c->lseq, 905);
    assert_int_equal(c->seq, 0);
    const ts_field *name = ts_version_field(&c->v, "full_name");
    assert_non_null(name);
    assert_int_equal(name->value_len, 1 + strlen("Nguyễn Thị Lan"));
    assert_memory_equal(name->value + 1, "Nguyễn Thị Lan", strlen("Nguyễn Thị Lan"));
    assert_string_equal(name->dot.rid.b, RID_STATION);
    assert_int_equal(name->dot.counter, 7);
    assert_int_equal(name->hlc, HLC(T0 + 5000, 0));
    assert_false(ts_version_deleted(&c->v));
    /* fields come back sorted by name */
    for (uint32_t i = 1; i < c->v.nfields; i++)
        assert_true(strcmp(c->v.fields[i - 1].name, c->v.fields[i].name) < 0);
    assert_int_equal(c->nlosers, 1);
    assert_string_equal(c->losers[0].name, "phone");
    ts_msg_free(&d);
    ts_msg_free(&m);

    build_fixture(&m, TS_MSG_CHANGES);
    round_trip(&m, &b, &d);
    assert_true(ts_version_deleted(&d.u.changes.changes.items[1].v));
    assert_int_equal(d.u.changes.changes.items[1].seq, 18351);
    const ts_field *glucose = ts_version_field(&d.u.changes.changes.items[0].v, "glucose");
    assert_non_null(glucose);
    assert_int_equal(glucose->value_len, 9);
    assert_int_equal(glucose->value[0], 0xcb);
    ts_msg_free(&d);
    ts_msg_free(&m);
    ts_buf_free(&b);
}

/* Rewrites a document with every map's entries reversed and every integer
 * in its widest form: the same message, spelled differently. */
static void scramble(msgpack_packer *pk, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: {
        uint8_t b[9] = {0xcf};
        for (int i = 0; i < 8; i++)
            b[1 + i] = (uint8_t)(o->via.u64 >> (56 - 8 * i));
        pk->callback(pk->data, (const char *)b, 9);
        break;
    }
    case MSGPACK_OBJECT_STR: {
        uint8_t h[5] = {0xdb, (uint8_t)(o->via.str.size >> 24), (uint8_t)(o->via.str.size >> 16),
                        (uint8_t)(o->via.str.size >> 8), (uint8_t)o->via.str.size};
        pk->callback(pk->data, (const char *)h, 5);
        pk->callback(pk->data, o->via.str.ptr, o->via.str.size);
        break;
    }
    case MSGPACK_OBJECT_ARRAY:
        msgpack_pack_array(pk, o->via.array.size);
        for (uint32_t i = 0; i < o->via.array.size; i++)
            scramble(pk, &o->via.array.ptr[i]);
        break;
    case MSGPACK_OBJECT_MAP:
        msgpack_pack_map(pk, o->via.map.size);
        for (uint32_t i = o->via.map.size; i-- > 0;) {
            scramble(pk, &o->via.map.ptr[i].key);
            scramble(pk, &o->via.map.ptr[i].val);
        }
        break;
    default:
        msgpack_pack_object(pk, *o);
        break;
    }
}

static void test_decoding_ignores_key_order_and_int_width(void **state)
{
    (void)state;
    ts_buf first = TS_BUF_INIT, messy = TS_BUF_INIT, again = TS_BUF_INIT;
    for (int t = 1; t < TS_MSG__COUNT; t++) {
        ts_msg m, d;
        build_fixture(&m, (ts_msg_type)t);
        ts_buf_reset(&first);
        ts_msg_encode(&m, &first);
        msgpack_unpacked up;
        ts_error err;
        assert_int_equal(ts_mp_unpack(first.data + 4, first.len - 4, NULL, &up, &err), 0);
        ts_buf_reset(&messy);
        msgpack_packer pk;
        ts_buf_packer(&messy, &pk);
        scramble(&pk, &up.data);
        msgpack_unpacked_destroy(&up);
        assert_true(messy.len > first.len - 4);
        if (ts_msg_decode(messy.data, messy.len, NULL, &d, &err) != 0)
            fail_msg("%s scrambled: %s", ts_msg_type_name((ts_msg_type)t), err.msg);
        same_msg(&m, &d);
        ts_buf_reset(&again);
        ts_msg_encode(&d, &again);
        expect_same_bytes(&first, &again, ts_msg_type_name((ts_msg_type)t));
        ts_msg_free(&d);
        ts_msg_free(&m);
    }
    ts_buf_free(&first);
    ts_buf_free(&messy);
    ts_buf_free(&again);
}

/* Random change sets: random tables, fields, values and vvs, with every
 * dot covered by its vv. Round trip exact, encoding stable. */
static void random_change(ts_rng *r, ts_msg *m, ts_change *c, uint32_t k)
{
    static const char *const rids[] = {RID_STATION, RID_STATION_OLD, RID_DISTRICT, "st-xuanlang.11aa22bb33cc44dd",
                                       "a", "A:b_c-d.e"};
    static const char *const tables[] = {"residents", "encounters", "immunizations", "stock", "notices"};
    static const char *const names[] = {"_deleted", "full_name", "date", "dose", "lot", "quantity", "notes",
                                        "weight_kg", "z", "a1", "x_y_z", "reaction"};
    static const char *const texts[] = {"", "Nguyễn Thị Lan", "BCG", "Sởi - Rubella", "2024-11-23",
                                        "Hỏa tốc", "🙂 ok"};
    char id[32];
    snprintf(id, sizeof id, "bn-%06u", (unsigned)k);
    change_key(m, c, tables[ts_rng_below(r, 5)], id, ts_rng_chance(r, 0.2) ? "district" : "binhnguyen");
    size_t nrid = 1 + (size_t)ts_rng_below(r, 4);
    uint64_t counters[6] = {0};
    for (size_t i = 0; i < nrid; i++) {
        size_t w = (size_t)ts_rng_below(r, 6);
        counters[w] = 1 + ts_rng_below(r, ts_rng_chance(r, 0.1) ? UINT64_MAX - 1 : 50);
        vv_put(&c->v, rids[w], counters[w]);
    }
    size_t nf = (size_t)ts_rng_below(r, 9);
    for (size_t i = 0; i < nf; i++) {
        size_t w;
        do
            w = (size_t)ts_rng_below(r, 6);
        while (counters[w] == 0);
        uint64_t ctr = 1 + ts_rng_below(r, counters[w]);
        uint64_t hlc = ts_rng_next(r);
        const char *name = names[ts_rng_below(r, sizeof names / sizeof *names)];
        if (strcmp(name, "_deleted") == 0) {
            f_bool(m, &c->v, name, ts_rng_chance(r, 0.5), rids[w], ctr, hlc);
            continue;
        }
        switch (ts_rng_below(r, 5)) {
        case 0: f_str(m, &c->v, name, texts[ts_rng_below(r, 7)], rids[w], ctr, hlc); break;
        case 1: f_uint(m, &c->v, name, ts_rng_next(r) >> ts_rng_below(r, 64), rids[w], ctr, hlc); break;
        case 2: f_double(m, &c->v, name, (double)(int64_t)ts_rng_next(r) / 1000.0, rids[w], ctr, hlc); break;
        case 3: f_bool(m, &c->v, name, ts_rng_chance(r, 0.5), rids[w], ctr, hlc); break;
        default: {
            const char *items[3] = {texts[ts_rng_below(r, 7)], texts[ts_rng_below(r, 7)], texts[0]};
            f_list(m, &c->v, name, items, (size_t)ts_rng_below(r, 4), rids[w], ctr, hlc);
            break;
        }
        }
    }
    c->seq = ts_rng_chance(r, 0.5) ? ts_rng_next(r) >> ts_rng_below(r, 64) : 0;
    c->lseq = ts_rng_chance(r, 0.5) ? 1 + ts_rng_below(r, 100000) : 0;
}

static void test_random_change_sets_round_trip(void **state)
{
    (void)state;
    uint64_t seeds = ts_test_seed_count(150);
    ts_buf first = TS_BUF_INIT, second = TS_BUF_INIT;
    for (uint64_t i = 0; i < seeds; i++) {
        uint64_t seed = ts_test_seed(i);
        ts_rng r;
        ts_rng_seed(&r, seed);
        static const ts_msg_type types[] = {TS_MSG_PUSH, TS_MSG_CHANGES, TS_MSG_NOTICE};
        ts_msg_type type = types[ts_rng_below(&r, 3)];
        ts_msg m;
        ts_msg_init(&m, type);
        uint32_t n = (uint32_t)ts_rng_below(&r, 6);
        ts_change_list *list = type == TS_MSG_PUSH ? &m.u.push.changes
                             : type == TS_MSG_CHANGES ? &m.u.changes.changes
                                                      : &m.u.notice.changes;
        ts_change *c = ts_msg_alloc_changes(&m, list, n);
        for (uint32_t k = 0; k < n; k++)
            random_change(&r, &m, &c[k], k);
        if (type == TS_MSG_PUSH) {
            m.u.push.batch = ts_rng_next(&r);
        } else if (type == TS_MSG_CHANGES) {
            m.u.changes.cursor = ts_rng_next(&r);
            m.u.changes.more = ts_rng_chance(&r, 0.5);
            m.u.changes.live = ts_rng_chance(&r, 0.5);
        } else {
            m.u.notice.seq = ts_rng_next(&r);
            m.u.notice.id = "notice-2024-001";
            m.u.notice.urgency = "khan";
        }
        ts_buf_reset(&first);
        ts_msg_encode(&m, &first);
        ts_msg d;
        ts_error err;
        ts_check_seed(ts_msg_decode(first.data + 4, first.len - 4, NULL, &d, &err) == 0, seed, "decode: %s",
                      err.msg);
        same_msg(&m, &d);
        ts_buf_reset(&second);
        ts_msg_encode(&d, &second);
        ts_check_seed(first.len == second.len && memcmp(first.data, second.data, first.len) == 0, seed,
                      "%s: second encoding differs", ts_msg_type_name(type));
        ts_msg_free(&d);
        ts_msg_free(&m);
    }
    ts_buf_free(&first);
    ts_buf_free(&second);
}

/* Optional strings left out (a station's first HELLO has no server_db yet;
 * BYE may carry no reason): the encoding must survive decode + encode
 * unchanged, and the decoded value must read as absent (NULL or ""). */
static void test_absent_optional_strings_round_trip(void **state)
{
    (void)state;
    ts_buf first = TS_BUF_INIT, second = TS_BUF_INIT;
    static const ts_msg_type types[] = {TS_MSG_HELLO, TS_MSG_BYE};
    char problem[256] = "";
    for (size_t i = 0; i < 2 && problem[0] == '\0'; i++) {
        ts_msg m, d;
        build_fixture(&m, types[i]);
        if (types[i] == TS_MSG_HELLO) {
            m.u.hello.server_db = NULL;
            m.u.hello.cursor = 0;
        } else {
            m.u.bye.reason = NULL;
        }
        round_trip(&m, &first, &d);
        const char *got = types[i] == TS_MSG_HELLO ? d.u.hello.server_db : d.u.bye.reason;
        ts_buf_reset(&second);
        ts_msg_encode(&d, &second);
        /* record the problem, free, then fail: nothing leaks either way */
        if (got != NULL && got[0] != '\0')
            snprintf(problem, sizeof problem, "%s: absent string decoded as \"%s\"", ts_msg_type_name(types[i]),
                     got);
        else if (first.len != second.len || memcmp(first.data, second.data, first.len) != 0)
            snprintf(problem, sizeof problem,
                     "%s without its optional string: %zu bytes, re-encoded after decoding: %zu bytes",
                     ts_msg_type_name(types[i]), first.len, second.len);
        ts_msg_free(&d);
        ts_msg_free(&m);
    }
    ts_buf_free(&first);
    ts_buf_free(&second);
    if (problem[0] != '\0')
        fail_msg("%s", problem);
}

static void test_defaults_of_absent_optional_keys(void **state)
{
    (void)state;
    ts_msg d;
    decode_edited(TS_MSG_HELLO, "live", EDIT_DELETE, NULL, &d);
    assert_true(d.u.hello.live); /* live defaults to true */
    ts_msg_free(&d);
    decode_edited(TS_MSG_HELLO, "live", EDIT_SET, "c2", &d);
    assert_false(d.u.hello.live);
    ts_msg_free(&d);
    decode_edited(TS_MSG_HELLO, "cursor", EDIT_DELETE, NULL, &d);
    assert_int_equal(d.u.hello.cursor, 0);
    assert_int_equal(d.u.hello.lseq, 906);
    ts_msg_free(&d);
    decode_edited(TS_MSG_HELLO, "time", EDIT_DELETE, NULL, &d);
    assert_int_equal(d.u.hello.time, 0);
    ts_msg_free(&d);
    decode_edited(TS_MSG_CHANGES, "live", EDIT_DELETE, NULL, &d);
    assert_false(d.u.changes.live);
    ts_msg_free(&d);
    decode_edited(TS_MSG_PULL, "limit", EDIT_DELETE, NULL, &d);
    assert_int_equal(d.u.pull.limit, 0);
    ts_msg_free(&d);
    decode_edited(TS_MSG_ERROR, "batch", EDIT_DELETE, NULL, &d);
    assert_int_equal(d.u.error.batch, 0);
    ts_msg_free(&d);
    decode_edited(TS_MSG_PUSH_ACK, "batch", EDIT_SET, "07", &d); /* code and message absent in the fixture */
    assert_int_equal(d.u.push_ack.code, 0);
    assert_null(d.u.push_ack.message);
    assert_int_equal(d.u.push_ack.nresults, 3);
    assert_null(d.u.push_ack.results[0].reason);
    assert_int_equal(d.u.push_ack.results[0].code, 0);
    ts_msg_free(&d);
    decode_edited(TS_MSG_PUSH, "changes/0/lseq", EDIT_DELETE, NULL, &d);
    assert_int_equal(d.u.push.changes.items[0].lseq, 0);
    assert_int_equal(d.u.push.changes.items[0].seq, 0);
    ts_msg_free(&d);
    decode_edited(TS_MSG_PUSH, "changes/0/losers", EDIT_DELETE, NULL, &d);
    assert_int_equal(d.u.push.changes.items[0].nlosers, 0);
    ts_msg_free(&d);
    /* empty change lists and result lists are fine */
    decode_edited(TS_MSG_CHANGES, "changes", EDIT_SET, "90", &d);
    assert_int_equal(d.u.changes.changes.n, 0);
    ts_msg_free(&d);
    decode_edited(TS_MSG_PUSH_ACK, "results", EDIT_SET, "90", &d);
    assert_int_equal(d.u.push_ack.nresults, 0);
    ts_msg_free(&d);
}

static void test_unknown_keys_ignored(void **state)
{
    (void)state;
    static const struct {
        ts_msg_type type;
        const char *path;
    } places[] = {
        {TS_MSG_HELLO, "x_future"},
        {TS_MSG_PUSH, "x_future"},
        {TS_MSG_PUSH, "changes/1/x_future"},
        {TS_MSG_PUSH_ACK, "results/2/x_future"},
        {TS_MSG_CHANGES, "changes/0/x_future"},
        {TS_MSG_BYE, "x_future"},
    };
    ts_buf first = TS_BUF_INIT, again = TS_BUF_INIT;
    for (size_t i = 0; i < sizeof places / sizeof *places; i++) {
        ts_msg m, d;
        build_fixture(&m, places[i].type);
        ts_buf_reset(&first);
        ts_msg_encode(&m, &first);
        /* any value, even a nested map with a bin */
        ts_msg_free(&m);
        decode_edited(places[i].type, places[i].path, EDIT_SET, "82 a1 61 92 01 02 a1 62 c4 01 ff", &d);
        build_fixture(&m, places[i].type);
        same_msg(&m, &d);
        /* the unknown key is not carried along */
        ts_buf_reset(&again);
        ts_msg_encode(&d, &again);
        expect_same_bytes(&first, &again, places[i].path);
        ts_msg_free(&d);
        ts_msg_free(&m);
    }
    ts_buf_free(&first);
    ts_buf_free(&again);
}

/* ---------------------------------------------------------------- malformed */

static void test_missing_required_keys(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
        const char *tname = ts_msg_type_name(specs[s].type);
        for (const key_spec *k = specs[s].keys; k->key != NULL; k++) {
            char want[96];
            snprintf(want, sizeof want, "%s: missing required key \"%s\"", tname, k->key);
            if (k->required) {
                expect_edit_error(specs[s].type, k->key, EDIT_DELETE, NULL, NULL, TS_EMISSING_KEY, want, NULL);
            } else if (!(specs[s].type == TS_MSG_PUSH_ACK && (strcmp(k->key, "code") == 0 ||
                                                              strcmp(k->key, "message") == 0))) {
                /* optional keys may go (PUSH_ACK's fixture has no code/message to drop) */
                ts_msg d;
                decode_edited(specs[s].type, k->key, EDIT_DELETE, NULL, &d);
                ts_msg_free(&d);
            }
        }
        /* and "type" itself */
        expect_edit_error(specs[s].type, "type", EDIT_DELETE, NULL, NULL, TS_EMISSING_KEY,
                          "message: missing required key \"type\"", NULL);
    }

    /* inside a change, naming the element */
    static const char *const change_keys[] = {"table", "id", "owner", "vv", "fields"};
    for (size_t i = 0; i < 5; i++) {
        char path[64], want[96];
        snprintf(path, sizeof path, "changes/1/%s", change_keys[i]);
        snprintf(want, sizeof want, "PUSH.changes[1]: missing required key \"%s\"", change_keys[i]);
        expect_edit_error(TS_MSG_PUSH, path, EDIT_DELETE, NULL, NULL, TS_EMISSING_KEY, want, NULL);
        snprintf(path, sizeof path, "changes/2/%s", change_keys[i]);
        snprintf(want, sizeof want, "CHANGES.changes[2]: missing required key \"%s\"", change_keys[i]);
        expect_edit_error(TS_MSG_CHANGES, path, EDIT_DELETE, NULL, NULL, TS_EMISSING_KEY, want, NULL);
        snprintf(path, sizeof path, "changes/0/%s", change_keys[i]);
        snprintf(want, sizeof want, "NOTICE.changes[0]: missing required key \"%s\"", change_keys[i]);
        expect_edit_error(TS_MSG_NOTICE, path, EDIT_DELETE, NULL, NULL, TS_EMISSING_KEY, want, NULL);
    }
    expect_edit_error(TS_MSG_PUSH_ACK, "results/1/outcome", EDIT_DELETE, NULL, NULL, TS_EMISSING_KEY,
                      "PUSH_ACK.results[1]: missing required key \"outcome\"", NULL);
}

static void test_wrong_types(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
        const char *tname = ts_msg_type_name(specs[s].type);
        for (const key_spec *k = specs[s].keys; k->key != NULL; k++) {
            const char *raw, *want_type, *got_type;
            switch (k->kind) {
            case 'u': raw = "a2 31 37"; want_type = "uint"; got_type = "str"; break;
            case 'b': raw = "01"; want_type = "bool"; got_type = "uint"; break;
            case 's': raw = "07"; want_type = "str"; got_type = "uint"; break;
            case 'c': raw = "80"; want_type = "array"; got_type = "map"; break;
            default: raw = "c0"; want_type = "array"; got_type = "nil"; break;
            }
            char want[128];
            snprintf(want, sizeof want, "%s: key \"%s\" must be %s, not %s", tname, k->key, want_type, got_type);
            expect_edit_error(specs[s].type, k->key, EDIT_SET, raw, NULL, TS_EWRONG_TYPE, want, NULL);
        }
    }
    /* a negative number where a uint belongs */
    expect_edit_error(TS_MSG_PUSH, "batch", EDIT_SET, "ff", NULL, TS_EWRONG_TYPE,
                      "PUSH: key \"batch\" must be uint, not int", NULL);
    /* a float where a uint belongs */
    expect_edit_error(TS_MSG_PING, "nonce", EDIT_SET, "cb 40 31 00 00 00 00 00 00", NULL, TS_EWRONG_TYPE,
                      "PING: key \"nonce\" must be uint, not float", NULL);
    /* "type" must be a str */
    expect_edit_error(TS_MSG_PING, "type", EDIT_SET, "09", NULL, TS_EWRONG_TYPE,
                      "message: key \"type\" must be str, not uint", NULL);
    /* inside changes */
    expect_edit_error(TS_MSG_PUSH, "changes/1", EDIT_SET, "93 01 02 03", NULL, TS_EWRONG_TYPE,
                      "PUSH.changes[1] must be a map, not array", NULL);
    expect_edit_error(TS_MSG_PUSH, "changes/1/table", EDIT_SET, "01", NULL, TS_EWRONG_TYPE,
                      "PUSH.changes[1]: key \"table\" must be str, not uint", NULL);
    expect_edit_error(TS_MSG_PUSH, "changes/1/vv", EDIT_SET, "90", NULL, TS_EWRONG_TYPE,
                      "PUSH.changes[1]: key \"vv\" must be map, not array", NULL);
    expect_edit_error(TS_MSG_PUSH, "changes/1/fields", EDIT_SET, "c0", NULL, TS_EWRONG_TYPE,
                      "PUSH.changes[1]: key \"fields\" must be map, not nil", NULL);
    expect_edit_error(TS_MSG_PUSH, "changes/1/seq", EDIT_SET, "c3", NULL, TS_EWRONG_TYPE,
                      "PUSH.changes[1]: key \"seq\" must be uint, not bool", NULL);
    expect_edit_error(TS_MSG_PUSH, "changes/0/losers", EDIT_SET, "80", NULL, TS_EWRONG_TYPE,
                      "PUSH.changes[0]: key \"losers\" must be array, not map", NULL);
    /* a field entry must be [value, replica, counter, hlc] */
    expect_edit_error(TS_MSG_PUSH, "changes/1/fields/icd10", EDIT_SET, "a3 49 31 30", NULL, TS_EWRONG_TYPE,
                      "PUSH.changes[1]: field \"icd10\" must be [value, replica, counter, hlc]", NULL);
    expect_edit_error(TS_MSG_PUSH, "changes/1/fields/icd10/3", EDIT_DELETE, NULL, NULL, TS_EWRONG_TYPE,
                      "PUSH.changes[1]: field \"icd10\" must be [value, replica, counter, hlc]", NULL);
    expect_edit_error(TS_MSG_PUSH, "changes/1/fields/icd10/3", EDIT_SET, "a1 31", NULL, TS_EWRONG_TYPE,
                      "PUSH.changes[1]: field \"icd10\": hlc must be a uint", NULL);
    /* a value may not be a map */
    expect_edit_error(TS_MSG_PUSH, "changes/1/fields/icd10/0", EDIT_SET, "81 a1 61 01", NULL, TS_EWRONG_TYPE,
                      "PUSH.changes[1]: field \"icd10\": a value cannot be a map", NULL);
    /* results */
    expect_edit_error(TS_MSG_PUSH_ACK, "results/2", EDIT_SET, "a7 61 70 70 6c 69 65 64", NULL, TS_EWRONG_TYPE,
                      "PUSH_ACK.results[2] must be a map, not str", NULL);
    expect_edit_error(TS_MSG_PUSH_ACK, "results/0/seq", EDIT_SET, "a1 31", NULL, TS_EWRONG_TYPE,
                      "PUSH_ACK.results[0]: key \"seq\" must be uint, not str", NULL);
    expect_edit_error(TS_MSG_PUSH_ACK, "results/2/reason", EDIT_SET, "0d", NULL, TS_EWRONG_TYPE,
                      "PUSH_ACK.results[2]: key \"reason\" must be str, not uint", NULL);

    /* the body is not a map at all */
    static const char *const roots[] = {"91 a4 74 79 70 65", "a4 50 49 4e 47", "c0", "09"};
    static const char *const kinds[] = {"array", "str", "nil", "uint"};
    for (size_t i = 0; i < 4; i++) {
        uint8_t buf[32];
        long n = ts_hex_decode(roots[i], buf, sizeof buf);
        char want[64];
        snprintf(want, sizeof want, "a message must be a map, not %s", kinds[i]);
        expect_decode_error(buf, (size_t)n, NULL, TS_EWRONG_TYPE, want, NULL, roots[i]);
    }
}

static void test_unknown_message_type(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        const char *name;
    } cases[] = {
        {"82 a4 74 79 70 65 a4 48 45 4c 4f a5 6e 6f 6e 63 65 01", "\"HELO\""},
        {"81 a4 74 79 70 65 a5 68 65 6c 6c 6f", "\"hello\""},
        {"81 a4 74 79 70 65 a4 4e 4f 4e 45", "\"NONE\""},
        {"81 a4 74 79 70 65 a7 55 4e 4b 4e 4f 57 4e", "\"UNKNOWN\""},
        {"81 a4 74 79 70 65 a0", "\"\""},
        {"81 a4 74 79 70 65 a5 50 49 4e 47 00", NULL}, /* NUL inside: not "PING" */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t buf[64];
        long n = ts_hex_decode(cases[i].hex, buf, sizeof buf);
        assert_true(n > 0);
        expect_decode_error(buf, (size_t)n, NULL, TS_EUNKNOWN_MESSAGE, "unknown message type", cases[i].name,
                            cases[i].hex);
    }
    /* a valid PING is the control: the same shape decodes */
    uint8_t ping[32];
    long n = ts_hex_decode("82 a4 74 79 70 65 a4 50 49 4e 47 a5 6e 6f 6e 63 65 01", ping, sizeof ping);
    ts_msg d;
    ts_error err;
    assert_int_equal(ts_msg_decode(ping, (size_t)n, NULL, &d, &err), 0);
    assert_int_equal(d.type, TS_MSG_PING);
    assert_int_equal(d.u.ping.nonce, 1);
    ts_msg_free(&d);
    /* a very long type name is refused as too long, not echoed */
    ts_buf b = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&b, &pk);
    msgpack_pack_map(&pk, 1);
    ts_mp_pack_cstr(&pk, "type");
    char longname[200];
    memset(longname, 'A', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ts_mp_pack_cstr(&pk, longname);
    expect_decode_error(b.data, b.len, NULL, TS_ESTRING_TOO_LONG, "\"type\"", NULL, "long type");
    ts_buf_free(&b);
}

static void test_trailing_bytes_and_frame_limit(void **state)
{
    (void)state;
    ts_msg m;
    build_fixture(&m, TS_MSG_PULL);
    ts_buf frame = TS_BUF_INIT;
    ts_msg_encode(&m, &frame);
    ts_buf_append(&frame, "\xc0", 1);
    expect_decode_error(frame.data + 4, frame.len - 4, NULL, TS_ETRAILING_BYTES, "1 bytes after", NULL,
                        "PULL + nil");
    /* a second message in the same body */
    ts_buf_reset(&frame);
    ts_msg_encode(&m, &frame);
    size_t one = frame.len;
    ts_msg_encode(&m, &frame);
    expect_decode_error(frame.data + 4, frame.len - 4, NULL, TS_ETRAILING_BYTES, NULL, NULL, "two PULLs");

    /* a body above the frame limit is refused before parsing */
    ts_proto_limits l;
    ts_proto_limits_default(&l);
    l.max_frame = (uint32_t)(one - 4 - 1);
    expect_decode_error(frame.data + 4, one - 4, &l, TS_EFRAME_TOO_LARGE, "exceeds", NULL, "PULL above max_frame");
    l.max_frame = (uint32_t)(one - 4);
    ts_msg d;
    ts_error err;
    assert_int_equal(ts_msg_decode(frame.data + 4, one - 4, &l, &d, &err), 0);
    ts_msg_free(&d);
    /* empty and truncated bodies */
    expect_decode_error(frame.data + 4, 0, NULL, TS_EMALFORMED, "empty", NULL, "empty body");
    expect_decode_error(frame.data + 4, one - 5, NULL, TS_EMALFORMED, NULL, NULL, "truncated PULL");
    ts_buf_free(&frame);
    ts_msg_free(&m);
}

static void test_too_deep(void **state)
{
    (void)state;
    /* root 1, changes 2, change 3, fields 4, entry 5: a value of three nested
     * lists reaches 8, the default limit; four go over */
    ts_msg d;
    decode_edited(TS_MSG_PUSH, "changes/1/fields/icd10/0", EDIT_SET, "91 91 91 a3 49 31 30", &d);
    ts_msg_free(&d);
    expect_edit_error(TS_MSG_PUSH, "changes/1/fields/icd10/0", EDIT_SET, "91 91 91 91 a3 49 31 30", NULL,
                      TS_ETOO_DEEP, "nesting deeper than 8", NULL);
    /* a lower limit */
    ts_proto_limits l;
    ts_proto_limits_default(&l);
    l.mp.max_depth = 5;
    expect_edit_error(TS_MSG_PUSH, "changes/1/fields/icd10/0", EDIT_SET, "91 01", &l, TS_ETOO_DEEP,
                      "nesting deeper than 5", NULL);
    /* unknown keys are no way around it */
    expect_edit_error(TS_MSG_PING, "x", EDIT_SET, "91 91 91 91 91 91 91 91 01", NULL, TS_ETOO_DEEP, NULL, NULL);
}

static void test_huge_declared_counts(void **state)
{
    (void)state;
    expect_edit_error(TS_MSG_PUSH, "changes", EDIT_SET, "dd ff ff ff ff c0 c0 c0", NULL, TS_ETOO_MANY_ELEMENTS,
                      "array of 4294967295 elements", NULL);
    expect_edit_error(TS_MSG_PUSH, "changes/0/fields", EDIT_SET, "df ff ff ff ff c0", NULL, TS_ETOO_MANY_ELEMENTS,
                      "map of 4294967295 elements", NULL);
    expect_edit_error(TS_MSG_PUSH_ACK, "results", EDIT_SET, "dc ff ff c0", NULL, TS_ETOO_MANY_ELEMENTS,
                      "declares 65535 elements", NULL);
    expect_edit_error(TS_MSG_BYE, "reason", EDIT_SET, "db ff ff ff ff 61", NULL, TS_ESTRING_TOO_LONG,
                      "str of 4294967295 bytes", NULL);
    /* a declared count that fits the limits but not the bytes */
    expect_edit_error(TS_MSG_PING, "x", EDIT_SET, "dc 01 00 01", NULL, TS_ETOO_MANY_ELEMENTS,
                      "declares 256 elements but only", NULL);
}

static void test_collection_limits(void **state)
{
    (void)state;
    ts_proto_limits l;
    ts_proto_limits_default(&l);
    ts_msg m, d;
    ts_buf frame = TS_BUF_INIT;
    ts_error err;

    /* changes: the fixtures hold 2 (PUSH, NOTICE) and 3 (CHANGES) */
    static const struct {
        ts_msg_type type;
        uint32_t n;
        const char *msg;
    } lists[] = {
        {TS_MSG_PUSH, 2, "PUSH: 2 changes, at most 1"},
        {TS_MSG_CHANGES, 3, "CHANGES: 3 changes, at most 2"},
        {TS_MSG_NOTICE, 2, "NOTICE: 2 changes, at most 1"},
        {TS_MSG_PUSH_ACK, 3, "PUSH_ACK: 3 results, at most 2"},
    };
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        build_fixture(&m, lists[i].type);
        ts_buf_reset(&frame);
        ts_msg_encode(&m, &frame);
        l.max_changes = lists[i].n;
        assert_int_equal(ts_msg_decode(frame.data + 4, frame.len - 4, &l, &d, &err), 0); /* exactly at the limit */
        ts_msg_free(&d);
        l.max_changes = lists[i].n - 1;
        expect_decode_error(frame.data + 4, frame.len - 4, &l, TS_ETOO_MANY_ELEMENTS, lists[i].msg, NULL,
                            lists[i].msg);
        ts_msg_free(&m);
    }
    ts_proto_limits_default(&l);

    /* fields of one record: the resident has 10 */
    build_fixture(&m, TS_MSG_PUSH);
    ts_buf_reset(&frame);
    ts_msg_encode(&m, &frame);
    l.max_fields = 10;
    assert_int_equal(ts_msg_decode(frame.data + 4, frame.len - 4, &l, &d, &err), 0);
    ts_msg_free(&d);
    l.max_fields = 9;
    expect_decode_error(frame.data + 4, frame.len - 4, &l, TS_ETOO_MANY_ELEMENTS, "PUSH.changes[0]: 10 fields, at most 9",
                        NULL, "max_fields");
    ts_proto_limits_default(&l);
    /* vv entries: the resident has 3 */
    l.max_vv = 3;
    assert_int_equal(ts_msg_decode(frame.data + 4, frame.len - 4, &l, &d, &err), 0);
    ts_msg_free(&d);
    l.max_vv = 2;
    expect_decode_error(frame.data + 4, frame.len - 4, &l, TS_ETOO_MANY_ELEMENTS,
                        "PUSH.changes[0]: vv has 3 entries, at most 2", NULL, "max_vv");
    ts_proto_limits_default(&l);
    /* the msgpack limits apply to the whole body */
    l.mp.max_elements = 9;
    expect_decode_error(frame.data + 4, frame.len - 4, &l, TS_ETOO_MANY_ELEMENTS, "map of 10 elements", NULL,
                        "max_elements");
    ts_proto_limits_default(&l);
    l.mp.max_str = 30;
    expect_decode_error(frame.data + 4, frame.len - 4, &l, TS_ESTRING_TOO_LONG, "exceeds 30", NULL, "max_str");
    ts_msg_free(&m);
    ts_buf_free(&frame);
}

static void test_dot_not_covered_by_vv(void **state)
{
    (void)state;
    /* the encounter's vv is {station: 1}; a field claiming (station, 2) */
    char want[160];
    snprintf(want, sizeof want, "PUSH.changes[1]: field \"icd10\" has dot (%s, 2) beyond the vv", RID_STATION);
    expect_edit_error(TS_MSG_PUSH, "changes/1/fields/icd10/2", EDIT_SET, "02", NULL, TS_EBAD_VALUE, want, NULL);
    /* a replica the vv does not name at all */
    ts_buf raw = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&raw, &pk);
    ts_mp_pack_cstr(&pk, RID_DISTRICT);
    ts_msg m;
    build_fixture(&m, TS_MSG_PUSH);
    ts_buf body = TS_BUF_INIT;
    edited(&m, "changes/1/fields/reason/1", EDIT_SET, raw.data, raw.len, &body);
    snprintf(want, sizeof want, "PUSH.changes[1]: field \"reason\" has dot (%s, 1) beyond the vv", RID_DISTRICT);
    expect_decode_error(body.data, body.len, NULL, TS_EBAD_VALUE, want, NULL, "foreign replica");
    ts_msg_free(&m);
    ts_buf_free(&body);
    ts_buf_free(&raw);
    /* a vv lowered below a field's counter (resident: station 7 -> 6) */
    char path[96];
    snprintf(path, sizeof path, "changes/0/vv/%s", RID_STATION);
    expect_edit_error(TS_MSG_PUSH, path, EDIT_SET, "06", NULL, TS_EBAD_VALUE, "PUSH.changes[0]: field", "beyond the vv");
    /* in CHANGES and NOTICE too */
    expect_edit_error(TS_MSG_CHANGES, "changes/2/fields/name/2", EDIT_SET, "05", NULL, TS_EBAD_VALUE,
                      "CHANGES.changes[2]: field \"name\"", NULL);
    expect_edit_error(TS_MSG_NOTICE, "changes/1/fields/state/2", EDIT_SET, "cd 01 00", NULL, TS_EBAD_VALUE,
                      "NOTICE.changes[1]: field \"state\"", ", 256) beyond the vv");
    /* exactly at the vv is fine: the resident's address moved from (station, 5) to (station, 7), vv 7 */
    ts_msg d;
    decode_edited(TS_MSG_PUSH, "changes/0/fields/address/2", EDIT_SET, "07", &d);
    assert_int_equal(ts_version_field(&d.u.push.changes.items[0].v, "address")->dot.counter, 7);
    ts_msg_free(&d);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    expect_edit_error(TS_MSG_PUSH, "batch", EDIT_DUPLICATE, NULL, NULL, TS_EDUPLICATE_KEY,
                      "message: key \"batch\" appears twice", NULL);
    expect_edit_error(TS_MSG_WELCOME, "heartbeat", EDIT_DUPLICATE, NULL, NULL, TS_EDUPLICATE_KEY,
                      "key \"heartbeat\" appears twice", NULL); /* 12 keys: the sorting path */
    expect_edit_error(TS_MSG_PING, "type", EDIT_DUPLICATE, NULL, NULL, TS_EDUPLICATE_KEY,
                      "key \"type\" appears twice", NULL);
    expect_edit_error(TS_MSG_PUSH, "changes/1/table", EDIT_DUPLICATE, NULL, NULL, TS_EDUPLICATE_KEY,
                      "PUSH.changes[1]: key \"table\" appears twice", NULL);
    expect_edit_error(TS_MSG_CHANGES, "changes/0/seq", EDIT_DUPLICATE, NULL, NULL, TS_EDUPLICATE_KEY,
                      "CHANGES.changes[0]: key \"seq\" appears twice", NULL);
    expect_edit_error(TS_MSG_PUSH, "changes/1/fields/icd10", EDIT_DUPLICATE, NULL, NULL, TS_EDUPLICATE_KEY,
                      "PUSH.changes[1]: field \"icd10\" appears twice", NULL);
    char path[96], want[160];
    snprintf(path, sizeof path, "changes/0/vv/%s", RID_DISTRICT);
    snprintf(want, sizeof want, "PUSH.changes[0]: replica \"%s\" appears twice", RID_DISTRICT);
    expect_edit_error(TS_MSG_PUSH, path, EDIT_DUPLICATE, NULL, NULL, TS_EDUPLICATE_KEY, want, NULL);
    expect_edit_error(TS_MSG_PUSH_ACK, "results/1/seq", EDIT_DUPLICATE, NULL, NULL, TS_EDUPLICATE_KEY,
                      "PUSH_ACK.results[1]: key \"seq\" appears twice", NULL);
    /* an optional key twice */
    expect_edit_error(TS_MSG_BYE, "reason", EDIT_DUPLICATE, NULL, NULL, TS_EDUPLICATE_KEY,
                      "key \"reason\" appears twice", NULL);
}

static void test_deleted_must_be_bool(void **state)
{
    (void)state;
    static const char *const bad[] = {"01", "00", "a4 74 72 75 65", "c0", "91 c3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        expect_edit_error(TS_MSG_PUSH, "changes/1/fields/_deleted/0", EDIT_SET, bad[i], NULL, TS_EWRONG_TYPE,
                          "PUSH.changes[1]: \"_deleted\" must be a bool", NULL);
        expect_edit_error(TS_MSG_CHANGES, "changes/1/fields/_deleted/0", EDIT_SET, bad[i], NULL, TS_EWRONG_TYPE,
                          "CHANGES.changes[1]: \"_deleted\" must be a bool", NULL);
    }
    ts_msg d;
    decode_edited(TS_MSG_PUSH, "changes/1/fields/_deleted/0", EDIT_SET, "c3", &d);
    assert_true(ts_version_deleted(&d.u.push.changes.items[1].v));
    ts_msg_free(&d);
}

static void test_invalid_replica_ids(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
    } bad[] = {{"st binh", 7},       {"", 0},       {"Bình", 5},         {"st/binh", 7},
               {"a\0b", 3},          {"st-binh\n", 8},
               {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 65}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (bad[i].n <= TS_RID_MAX)
            expect_edit_str_error(TS_MSG_HELLO, "replica", bad[i].s, bad[i].n, TS_EBAD_VALUE,
                                  "HELLO: \"replica\" is not a valid replica id", NULL);
        else
            expect_edit_str_error(TS_MSG_HELLO, "replica", bad[i].s, bad[i].n, TS_ESTRING_TOO_LONG,
                                  "HELLO: \"replica\" is 65 bytes, at most 64", NULL);
        expect_edit_str_error(TS_MSG_PUSH, "changes/1/fields/kind/1", bad[i].s, bad[i].n, TS_EBAD_VALUE,
                              "PUSH.changes[1]: field \"kind\": replica is not a valid replica id", NULL);
    }
    expect_edit_str_error(TS_MSG_WELCOME, "server", "district 1", 10, TS_EBAD_VALUE,
                          "WELCOME: \"server\" is not a valid replica id", NULL);
    /* the district's time zone is a name: no space, nothing but printable ASCII */
    expect_edit_str_error(TS_MSG_WELCOME, "timezone", "Asia/Ho Chi Minh", 16, TS_EBAD_VALUE,
                          "WELCOME: \"timezone\" is not a valid value", NULL);
    /* vv keys */
    ts_msg m;
    build_fixture(&m, TS_MSG_PUSH);
    ts_buf body = TS_BUF_INIT;
    edited(&m, "changes/1/vv", EDIT_SET, (const uint8_t *)"\x81\xa7st binh\x01", 10, &body);
    expect_decode_error(body.data, body.len, NULL, TS_EBAD_VALUE,
                        "PUSH.changes[1]: version vector key 0 is not a valid replica id", NULL, "vv key");
    ts_msg_free(&m);
    ts_buf_free(&body);
    /* zero counters in a vv or a dot */
    char path[96];
    snprintf(path, sizeof path, "changes/1/vv/%s", RID_STATION);
    expect_edit_error(TS_MSG_PUSH, path, EDIT_SET, "00", NULL, TS_EBAD_VALUE, "must be a uint > 0", RID_STATION);
    expect_edit_error(TS_MSG_PUSH, "changes/1/fields/kind/2", EDIT_SET, "00", NULL, TS_EBAD_VALUE,
                      "PUSH.changes[1]: field \"kind\": counter must be a uint > 0", NULL);
    expect_edit_error(TS_MSG_PUSH, "changes/1/fields/kind/2", EDIT_SET, "ff", NULL, TS_EBAD_VALUE,
                      "counter must be a uint > 0", NULL);
}

static void test_bad_values(void **state)
{
    (void)state;
    /* field names: [a-z0-9_], 1..64, not starting with a digit */
    expect_edit_error(TS_MSG_PUSH, "changes/1/fields", EDIT_SET, "81 a9 46 75 6c 6c 20 4e 61 6d 65 94 c0 a1 61 01 00",
                      NULL, TS_EBAD_VALUE, "PUSH.changes[1]: field \"Full Name\" is not a valid field name", NULL);
    expect_edit_error(TS_MSG_PUSH, "changes/1/fields", EDIT_SET, "81 a2 31 61 94 c0 a1 61 01 00", NULL,
                      TS_EBAD_VALUE, "field \"1a\" is not a valid field name", NULL);
    /* keys: table, id, owner are printable, at most 128 bytes */
    expect_edit_str_error(TS_MSG_PUSH, "changes/1/table", "resi\ndents", 10, TS_EBAD_VALUE,
                          "PUSH.changes[1]: \"table\" is not a valid code", NULL);
    expect_edit_str_error(TS_MSG_PUSH, "changes/1/id", "", 0, TS_EBAD_VALUE, "PUSH.changes[1]: \"id\"", NULL);
    char longkey[140];
    memset(longkey, 'k', sizeof longkey);
    expect_edit_str_error(TS_MSG_PUSH, "changes/1/owner", longkey, 129, TS_ESTRING_TOO_LONG,
                          "PUSH.changes[1]: \"owner\" is 129 bytes, at most 128", NULL);
    expect_edit_str_error(TS_MSG_HELLO, "station", "binh\x7fnguyen", 11, TS_EBAD_VALUE,
                          "HELLO: \"station\" is not a valid code", NULL);
    /* short names: printable ASCII without spaces */
    expect_edit_str_error(TS_MSG_HELLO, "agent", "tram sync", 9, TS_EBAD_VALUE,
                          "HELLO: \"agent\" is not a valid value", NULL);
    expect_edit_str_error(TS_MSG_NOTICE, "urgency", "hỏa_tốc", strlen("hỏa_tốc"), TS_EBAD_VALUE,
                          "NOTICE: \"urgency\" is not a valid value", NULL);
    expect_edit_str_error(TS_MSG_ERROR, "name", "", 0, TS_EBAD_VALUE, "ERROR: \"name\" is not a valid value", NULL);
    expect_edit_str_error(TS_MSG_HELLO, "agent", longkey, 65, TS_ESTRING_TOO_LONG,
                          "HELLO: \"agent\" is 65 bytes, at most 64", NULL);
    /* text: any UTF-8 without NUL, at most 1024 bytes for messages */
    expect_edit_str_error(TS_MSG_ERROR, "message", "clock\0ahead", 11, TS_EBAD_VALUE,
                          "ERROR: \"message\" is not a valid value", NULL);
    char *big = malloc(1025);
    assert_non_null(big);
    memset(big, 'x', 1025);
    expect_edit_str_error(TS_MSG_BYE, "reason", big, 1025, TS_ESTRING_TOO_LONG,
                          "BYE: \"reason\" is 1025 bytes, at most 1024", NULL);
    free(big);
    expect_edit_error(TS_MSG_ERROR, "message", EDIT_SET, "a3 61 ed a0", NULL, TS_EINVALID_UTF8, "not valid UTF-8",
                      NULL);
    expect_edit_error(TS_MSG_PUSH, "changes/1/fields/reason/0", EDIT_SET, "a2 c0 80", NULL, TS_EINVALID_UTF8, NULL,
                      NULL);
    /* results: unknown outcome */
    expect_edit_str_error(TS_MSG_PUSH_ACK, "results/1/outcome", "maybe", 5, TS_EBAD_VALUE,
                          "PUSH_ACK.results[1]: unknown outcome \"maybe\"", NULL);
    expect_edit_str_error(TS_MSG_PUSH_ACK, "results/2/reason", "a\0b", 3, TS_EBAD_VALUE,
                          "PUSH_ACK.results[2]: \"reason\" is not a valid value", NULL);
    /* ext types and the reserved byte, anywhere */
    expect_edit_error(TS_MSG_PUSH, "changes/1/fields/reason/0", EDIT_SET, "d6 ff 5f 00 00 00", NULL,
                      TS_EEXT_NOT_ALLOWED, "ext type 0xd6", NULL);
    expect_edit_error(TS_MSG_PING, "x", EDIT_SET, "c1", NULL, TS_EMALFORMED, "0xc1", NULL);
}

static void test_losers(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "91 94 a5 70 68 6f 6e 65 c0 a1 61 01",          /* four elements */
        "91 95 01 c0 a1 61 01 01",                      /* field name not a str */
        "91 a5 70 68 6f 6e 65",                         /* not an array */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_edit_error(TS_MSG_PUSH, "changes/0/losers", EDIT_SET, bad[i], NULL, TS_EWRONG_TYPE,
                          "PUSH.changes[0]: losers[0] must be [field, value, replica, counter, hlc]", NULL);
    /* the entry is checked like a field */
    expect_edit_error(TS_MSG_PUSH, "changes/0/losers", EDIT_SET, "91 95 a8 5f 64 65 6c 65 74 65 64 01 a1 61 01 01",
                      NULL, TS_EWRONG_TYPE, "PUSH.changes[0].losers[0]: \"_deleted\" must be a bool", NULL);
    expect_edit_error(TS_MSG_PUSH, "changes/0/losers", EDIT_SET, "91 95 a5 70 68 6f 6e 65 c0 a1 20 01 01", NULL,
                      TS_EBAD_VALUE, "PUSH.changes[0].losers[0]: field \"phone\": replica is not a valid", NULL);
    expect_edit_error(TS_MSG_PUSH, "changes/0/losers", EDIT_SET, "91 95 a1 50 c0 a1 61 01 01", NULL, TS_EBAD_VALUE,
                      "losers[0]: field \"P\" is not a valid field name", NULL);
    /* more losers than fields allowed */
    ts_proto_limits l;
    ts_proto_limits_default(&l);
    l.max_fields = 10;
    expect_edit_error(TS_MSG_PUSH, "changes/0/losers", EDIT_SET,
                      "dc 00 0b 95 a1 61 c0 a1 61 01 01 95 a1 61 c0 a1 61 01 01 95 a1 61 c0 a1 61 01 01"
                      " 95 a1 61 c0 a1 61 01 01 95 a1 61 c0 a1 61 01 01 95 a1 61 c0 a1 61 01 01"
                      " 95 a1 61 c0 a1 61 01 01 95 a1 61 c0 a1 61 01 01 95 a1 61 c0 a1 61 01 01"
                      " 95 a1 61 c0 a1 61 01 01 95 a1 61 c0 a1 61 01 01",
                      &l, TS_ETOO_MANY_ELEMENTS, "PUSH.changes[0]: 11 losers, at most 10", NULL);
    /* an empty list is fine and is not re-encoded */
    ts_msg d;
    decode_edited(TS_MSG_PUSH, "changes/0/losers", EDIT_SET, "90", &d);
    assert_int_equal(d.u.push.changes.items[0].nlosers, 0);
    ts_msg_free(&d);
}

static void test_push_ack_code_requires_message(void **state)
{
    (void)state;
    expect_edit_error(TS_MSG_PUSH_ACK, "code", EDIT_SET, "12", NULL, TS_EMISSING_KEY,
                      "PUSH_ACK: \"message\" is required when \"code\" is set", NULL);
    /* with the message it decodes, and a refused change set round-trips */
    ts_msg m, d;
    ts_msg_init(&m, TS_MSG_PUSH_ACK);
    m.u.push_ack.batch = 43;
    m.u.push_ack.code = (uint64_t)-TS_ERATE_LIMITED;
    m.u.push_ack.message = "too many changes per second: send again later";
    ts_buf first = TS_BUF_INIT, second = TS_BUF_INIT;
    round_trip(&m, &first, &d);
    same_msg(&m, &d);
    ts_msg_encode(&d, &second);
    expect_same_bytes(&first, &second, "refused PUSH_ACK");
    ts_msg_free(&d);
    ts_msg_free(&m);
    ts_buf_free(&first);
    ts_buf_free(&second);
    /* code 0 written out means "processed": no message needed */
    decode_edited(TS_MSG_PUSH_ACK, "code", EDIT_SET, "00", &d);
    assert_int_equal(d.u.push_ack.code, 0);
    ts_msg_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_decoded_content_is_exact),
        cmocka_unit_test(test_decoding_ignores_key_order_and_int_width),
        cmocka_unit_test(test_random_change_sets_round_trip),
        cmocka_unit_test(test_absent_optional_strings_round_trip),
        cmocka_unit_test(test_defaults_of_absent_optional_keys),
        cmocka_unit_test(test_unknown_keys_ignored),
        cmocka_unit_test(test_missing_required_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_unknown_message_type),
        cmocka_unit_test(test_trailing_bytes_and_frame_limit),
        cmocka_unit_test(test_too_deep),
        cmocka_unit_test(test_huge_declared_counts),
        cmocka_unit_test(test_collection_limits),
        cmocka_unit_test(test_dot_not_covered_by_vv),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_deleted_must_be_bool),
        cmocka_unit_test(test_invalid_replica_ids),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_losers),
        cmocka_unit_test(test_push_ack_code_requires_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
