/* Power cuts, in the manner of SQLite's crash tests: a store opened through
 * the "powercut" VFS (tests/support/ts_test_vfs.h), whose files live in
 * memory and lose, keep or tear whatever was written since their last sync
 * when the power goes off (../../../shared/DESIGN.md "Sync, durability,
 * delivery": acknowledged only after commit, a crash never leaves half a
 * change set, nothing acknowledged is ever lost).
 *
 * Two scenarios, each a series of runs on fresh databases, each run cut
 * RUN_CUTS times at random:
 *   - district: the district store applies change sets pushed by two
 *     stations (ts_store_apply, as the daemon's store jobs do; the set is
 *     acknowledged when it returns 0), takes its own writes (admin edits of
 *     station records, the drug catalogue), answers pulls and HELLOs;
 *   - station: a station store takes local writes, the district's
 *     acknowledgements of its pushes (ts_store_ack_pushed) and the changes it
 *     pulls (ts_store_apply, then the cursor), as the agent does.
 * The other replicas are ordinary in-memory stores the cut does not touch.
 *
 * A cut is armed a random number of VFS writes, syncs, truncates and deletes
 * ahead, so it lands inside transactions (in WAL mode they write their
 * frames as they commit), on the commit's sync, inside checkpoints (a small
 * wal_autocheckpoint makes them frequent; closing the store makes one and
 * removes the WAL) and inside WAL resets; now and then it comes between two
 * operations instead. The operation it interrupts fails like any I/O error,
 * or returns success when only the checkpoint after its commit was cut: then
 * it counts as acknowledged.
 *
 * After each cut: the store must reopen through the VFS (recovery), pass
 * PRAGMA integrity_check, and hold for every record exactly the version the
 * last acknowledged operation left, or the version the interrupted operation
 * would have left (for all of that operation's records or none). Then the
 * replicas sync as after a restart (HELLO, push, pull until nothing moves;
 * resending is always safe) and must hold identical records (owner, vv,
 * fields with their dots and HLCs) for every record the station may see.
 *
 * Versions are predicted as the store makes them: ts_version_merge(stored,
 * change) for an applied change, and for a local write the stored version
 * with vv[self] + 1 and the written fields under that dot and the write's
 * HLC. While the store is alive, every acknowledged prediction is checked
 * against what it reads back, so the predictions are the store's.
 *
 * TS_TEST_SEED=N reruns run N of each scenario (its cuts included);
 * TS_POWERCUT_ROUNDS=N makes N cuts in all (half per scenario; default 2000). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/ts_log.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_store.h"
#include "tests/support/ts_test_vfs.h"

#define BN "binhnguyen"
#define XL "xuanlang"
#define RUN_CUTS 4        /* cuts per run; each run starts from fresh databases */
#define DEFAULT_CUTS 2000 /* in all, under `make test` */
#define MAX_OPS 20000     /* operations one cut may take to come */

/* ================================================================ versions */

/* A version as bytes (owner, vv, fields: equal bytes, same version) and its
 * vv as text for messages. */
typedef struct rec {
    ts_buf bytes;
    char vv[240];
} rec;

static void rec_set(rec *r, const char *owner, const ts_version *v)
{
    ts_buf_reset(&r->bytes);
    ts_buf_append(&r->bytes, owner, strlen(owner) + 1);
    ts_vv_pack_buf(&r->bytes, &v->vv);
    ts_fields_pack_buf(&r->bytes, v);
    ts_vv_format(&v->vv, r->vv, sizeof r->vv);
}

static void rec_copy(rec *dst, const rec *src)
{
    ts_buf_reset(&dst->bytes);
    ts_buf_append(&dst->bytes, src->bytes.data, src->bytes.len);
    memcpy(dst->vv, src->vv, sizeof dst->vv);
}

static bool rec_eq(const rec *a, const rec *b)
{
    return a->bytes.len == b->bytes.len && (a->bytes.len == 0 || memcmp(a->bytes.data, b->bytes.data, a->bytes.len) == 0);
}

/* ================================================================ the world */

/* What the store under test must hold for one record. */
typedef struct expect {
    char *table, *id;
    rec acked;      /* after the last acknowledged operation (empty bytes: absent) */
    rec next;       /* after the operation in flight */
    bool in_flight; /* an operation on it is in flight */
} expect;

typedef struct stats {
    const char *name;
    uint64_t cuts, runs, ops, checked, landed, rolled_back, acked_cut, rekeys, restarts;
    char kinds[16][40];
    uint64_t kind_count[16];
} stats;

typedef struct world {
    ts_rng rng;
    uint64_t seed;
    bool district;  /* the district store is cut (else a station's) */
    char path[64];  /* the store under test, in the VFS */
    ts_store *sub;  /* it; NULL once a cut closed it */
    ts_store *peer[2]; /* district: the stations; station: [0] the district */
    const char *code[2];
    int npeers;
    int autockpt;
    expect *e;
    size_t ne, cap;
    uint64_t push_acked, pull_cursor; /* station: acknowledged bookkeeping */
    uint64_t cuts_seen;               /* ts_test_vfs_cuts() when the last cut was handled */
    stats *st;
    rec r1, r2; /* scratch */
} world;

#define CHECK(w, cond, ...) ts_check_seed(cond, (w)->seed, __VA_ARGS__)

static bool cut_happened(world *w)
{
    return ts_test_vfs_cuts(NULL) != w->cuts_seen;
}

/* The record at st as a change (fields in arena, vv to free); false when absent. */
static bool get_change(world *w, ts_store *st, const char *table, const char *id, ts_change *out, ts_arena *arena)
{
    ts_error err;
    int rc = ts_store_get(st, table, id, out, arena, &err);
    CHECK(w, rc == 0 || rc == TS_ENOT_FOUND, "get %s/%s: %s", table, id, err.msg);
    return rc == 0;
}

/* The record at st as a rec; false (and empty bytes) when absent. */
static bool get_rec(world *w, ts_store *st, const char *table, const char *id, rec *out)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    bool found = get_change(w, st, table, id, &c, &arena);
    if (found) {
        rec_set(out, c.owner, &c.v);
        ts_version_free(&c.v);
    } else {
        ts_buf_reset(&out->bytes);
        snprintf(out->vv, sizeof out->vv, "(absent)");
    }
    ts_arena_free(&arena);
    return found;
}

static expect *model_find(world *w, const char *table, const char *id, bool add)
{
    for (size_t i = 0; i < w->ne; i++)
        if (strcmp(w->e[i].table, table) == 0 && strcmp(w->e[i].id, id) == 0)
            return &w->e[i];
    if (!add)
        return NULL;
    if (w->ne == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->e = ts_xreallocarray(w->e, w->cap, sizeof *w->e);
    }
    expect *e = &w->e[w->ne++];
    memset(e, 0, sizeof *e);
    e->table = ts_xstrdup(table);
    e->id = ts_xstrdup(id);
    snprintf(e->acked.vv, sizeof e->acked.vv, "(absent)");
    return e;
}

static void model_clear(world *w)
{
    for (size_t i = 0; i < w->ne; i++) {
        free(w->e[i].table);
        free(w->e[i].id);
        ts_buf_free(&w->e[i].acked.bytes);
        ts_buf_free(&w->e[i].next.bytes);
    }
    w->ne = 0;
}

/* The operation about to run would leave `v` (owner, version) at table/id. */
static void model_next(world *w, const char *table, const char *id, const char *owner, const ts_version *v)
{
    expect *e = model_find(w, table, id, true);
    rec_set(&e->next, owner, v);
    e->in_flight = true;
}

/* The operation in flight was acknowledged. While the store is alive, what
 * it reads back must be what was predicted. */
static void model_ack(world *w)
{
    bool counted = false;
    for (size_t i = 0; i < w->ne; i++) {
        expect *e = &w->e[i];
        if (!e->in_flight)
            continue;
        e->in_flight = false;
        rec_copy(&e->acked, &e->next);
        if (cut_happened(w)) { /* in the checkpoint after the commit */
            w->st->acked_cut += !counted;
            counted = true;
            continue;
        }
        get_rec(w, w->sub, e->table, e->id, &w->r1);
        CHECK(w, rec_eq(&w->r1, &e->acked), "%s/%s: the store wrote vv %s, the test predicted vv %s", e->table,
              e->id, w->r1.vv, e->acked.vv);
    }
}

/* Everything the store under test holds is acknowledged now (after a check). */
static void model_reset(world *w)
{
    model_clear(w);
    sqlite3_stmt *q;
    CHECK(w, sqlite3_prepare_v2(ts_store_db(w->sub), "SELECT tbl, id FROM records", -1, &q, NULL) == SQLITE_OK,
          "list records");
    while (sqlite3_step(q) == SQLITE_ROW) {
        expect *e = model_find(w, (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1),
                               true);
        get_rec(w, w->sub, e->table, e->id, &e->acked);
    }
    sqlite3_finalize(q);
    if (!w->district) {
        w->push_acked = w->pull_cursor = 0;
        ts_store_meta_get_u64(w->sub, "push_acked", &w->push_acked);
        ts_store_meta_get_u64(w->sub, "pull_cursor", &w->pull_cursor);
    }
}

/* ================================================================ predictions */

/* The version ts_store_apply leaves for change c over what st holds. */
static void predict_apply(world *w, ts_store *st, const ts_change *c)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change cur;
    bool found = get_change(w, st, c->table, c->id, &cur, &arena);
    ts_version merged;
    ts_version_init(&merged);
    ts_merge_result how;
    ts_error err;
    int rc = ts_version_merge(found ? &cur.v : NULL, &c->v, &merged, &arena, &how, NULL, &err);
    CHECK(w, rc == 0, "merge %s/%s: %s", c->table, c->id, err.msg);
    model_next(w, c->table, c->id, found ? cur.owner : c->owner, &merged);
    ts_version_free(&merged);
    if (found)
        ts_version_free(&cur.v);
    ts_arena_free(&arena);
}

/* The version a local write at st leaves: what it held (pre), vv[self] + 1,
 * each written field under the dot (self, vv[self]) with the write's HLC
 * (the store's latest: the write took it), and `_deleted` too when the write
 * deletes, creates the record or brings a deleted one back (a put writes
 * only what it changes). */
static void predict_put(world *w, ts_store *st, const ts_change *pre, const char *table, const char *id,
                        const char *owner, const ts_kv *kv, size_t n, bool deleting)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_version v;
    ts_version_init(&v);
    if (pre)
        ts_version_copy(&v, &pre->v, &arena);
    ts_dot dot = {*ts_store_replica(st), ts_vv_bump(&v.vv, ts_store_replica(st))};
    uint64_t hlc = ts_store_hlc(st)->last;
    for (size_t i = 0; i < n; i++)
        ts_version_put(&v, &arena, kv[i].name, kv[i].value, kv[i].len, &dot, hlc);
    const uint8_t flag = deleting ? 0xc3 : 0xc2; /* msgpack true, false */
    if (deleting || pre == NULL || ts_version_deleted(&pre->v))
        ts_version_put(&v, &arena, TS_FIELD_DELETED, &flag, 1, &dot, hlc);
    model_next(w, table, id, pre ? pre->owner : owner, &v);
    ts_version_free(&v);
    ts_arena_free(&arena);
}

/* ================================================================ opening */

static void sub_open(world *w, bool create)
{
    ts_store_options opt;
    ts_store_options_init(&opt); /* synchronous = FULL, as tramsyncd and the agent run */
    opt.path = w->path;
    opt.role = w->district ? TS_ROLE_SERVER : TS_ROLE_STATION;
    opt.registry = ts_test_registry();
    opt.station = w->district ? NULL : BN;
    opt.create = create;
    opt.vfs = TS_TEST_VFS_NAME;
    ts_error err;
    int rc = ts_store_open(&w->sub, &opt, &err);
    CHECK(w, rc == 0, "opening %s%s: %s", w->path, create ? "" : " again (recovery)", err.msg);
    /* checkpoints every few pages, so cuts land in them too */
    sqlite3_wal_autocheckpoint(ts_store_db(w->sub), w->autockpt);
}

static ts_store *peer_open(world *w, ts_store_role role, const char *station)
{
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = ":memory:";
    opt.role = role;
    opt.registry = ts_test_registry();
    opt.station = station;
    opt.create = true;
    ts_store *st = NULL;
    ts_error err;
    CHECK(w, ts_store_open(&st, &opt, &err) == 0, "open a peer: %s", err.msg);
    return st;
}

/* ================================================================ writes */

typedef struct fields {
    ts_kv kv[8];
    ts_buf val[8];
    size_t n;
} fields;

static void fields_text(fields *f, const char *name, const char *text)
{
    ts_buf_init(&f->val[f->n]);
    ts_value_str(&f->val[f->n], text);
    f->kv[f->n] = (ts_kv){name, NULL, 0};
    f->n++;
}

static void fields_bool(fields *f, const char *name, bool v)
{
    ts_buf_init(&f->val[f->n]);
    ts_value_bool(&f->val[f->n], v);
    f->kv[f->n] = (ts_kv){name, NULL, 0};
    f->n++;
}

static void fields_done(fields *f)
{
    for (size_t i = 0; i < f->n; i++) {
        f->kv[i].value = f->val[i].data;
        f->kv[i].len = f->val[i].len;
    }
}

static void fields_free(fields *f)
{
    for (size_t i = 0; i < f->n; i++)
        ts_buf_free(&f->val[i]);
}

/* Text of a random length (up to max), so records span from a few bytes to
 * a good part of a page and transactions touch many pages. */
static void random_text(ts_rng *r, char *out, size_t max, const char *prefix)
{
    size_t len = (size_t)snprintf(out, max + 1, "%s ", prefix);
    size_t want = len + (size_t)ts_rng_below(r, max - len + 1);
    while (len < want)
        out[len++] = (char)('a' + ts_rng_below(r, 26));
    out[len] = '\0';
}

/* Random fields of a resident (all the required ones when new) or of a drug. */
static void random_fields(world *w, fields *f, const char *table, bool is_new)
{
    static char text[4][512];
    f->n = 0;
    if (strcmp(table, "drug_catalog") == 0) {
        random_text(&w->rng, text[0], 120, "thuốc");
        fields_text(f, "name", text[0]);
        if (ts_rng_chance(&w->rng, 0.5))
            fields_text(f, "strength", ts_rng_chance(&w->rng, 0.5) ? "500 mg" : "250 mg");
        if (ts_rng_chance(&w->rng, 0.5))
            fields_bool(f, "essential", ts_rng_chance(&w->rng, 0.5));
        fields_done(f);
        return;
    }
    if (is_new || ts_rng_chance(&w->rng, 0.3)) {
        random_text(&w->rng, text[0], 60, "Nguyễn Thị");
        fields_text(f, "full_name", text[0]);
        snprintf(text[1], sizeof text[1], "19%02d-%02d-%02d", (int)ts_rng_below(&w->rng, 100),
                 1 + (int)ts_rng_below(&w->rng, 12), 1 + (int)ts_rng_below(&w->rng, 28));
        fields_text(f, "birth_date", text[1]);
        fields_text(f, "sex", ts_rng_chance(&w->rng, 0.5) ? "male" : "female");
    }
    if (f->n == 0 || ts_rng_chance(&w->rng, 0.6)) {
        random_text(&w->rng, text[2], 300, "thôn");
        fields_text(f, "address", text[2]);
    }
    if (ts_rng_chance(&w->rng, 0.4)) {
        snprintf(text[3], sizeof text[3], "09%08u", (unsigned)ts_rng_below(&w->rng, 100000000));
        fields_text(f, "phone", text[3]);
    }
    if (ts_rng_chance(&w->rng, 0.2))
        fields_bool(f, "high_risk", ts_rng_chance(&w->rng, 0.5));
    fields_done(f);
}

/* A local write (put, or now and then a delete) at st of a random record of
 * `table` with ids "<prefix>-<k>" (only records it holds when existing_only:
 * an admin edits station records, never creates them). At the store under
 * test it is predicted, and acknowledged when it returns 0. */
static void local_write(world *w, ts_store *st, const char *table, const char *prefix, const char *owner,
                        bool existing_only)
{
    char id[64];
    snprintf(id, sizeof id, "%s-%u", prefix, (unsigned)ts_rng_below(&w->rng, 40));
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change pre;
    bool found = get_change(w, st, table, id, &pre, &arena);
    bool subject = st == w->sub;
    if (found || !existing_only) {
        bool deleting = found && !ts_version_deleted(&pre.v) && ts_rng_chance(&w->rng, 0.08);
        fields f;
        random_fields(w, &f, table, !found);
        ts_actor actor = {ts_store_get_role(st) == TS_ROLE_SERVER ? TS_ACTOR_ADMIN : TS_ACTOR_LOCAL, "powercut",
                          NULL, NULL};
        ts_error err;
        int rc = deleting ? ts_store_delete(st, &actor, table, id, &err)
                          : ts_store_put(st, &actor, table, id, owner, f.kv, f.n, &err);
        if (subject && (rc == 0 || cut_happened(w)))
            predict_put(w, st, found ? &pre : NULL, table, id, owner, f.kv, deleting ? 0 : f.n, deleting);
        if (rc == 0 && subject)
            model_ack(w);
        CHECK(w, rc == 0 || (subject && cut_happened(w)), "%s %s/%s failed without a power cut: %s",
              deleting ? "delete" : "put", table, id, err.msg);
        fields_free(&f);
    }
    if (found)
        ts_version_free(&pre.v);
    ts_arena_free(&arena);
}

/* ================================================================ the district scenario */

/* Station i pushes a page of what it has pending to the district, as a
 * session's PUSH job does: the set is acknowledged when ts_store_apply
 * returns 0, and the station then stores the acknowledgement. Returns the
 * number of changes sent. */
static size_t push_to_district(world *w, int i)
{
    ts_store *sta = w->peer[i];
    uint64_t acked = 0;
    ts_store_meta_get_u64(sta, "push_acked", &acked);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    CHECK(w, ts_store_pending(sta, acked, 1 + (uint32_t)ts_rng_below(&w->rng, 30), &page, &err) == 0, "pending: %s",
          err.msg);
    size_t n = page.n;
    if (n > 0) {
        for (uint32_t k = 0; k < page.n; k++)
            predict_apply(w, w->sub, &page.items[k]);
        ts_apply_result *res = ts_xcalloc(page.n, sizeof *res);
        ts_actor actor = {TS_ACTOR_STATION, w->code[i], ts_store_replica(sta), "powercut"};
        int rc = ts_store_apply(w->sub, &actor, page.items, page.n, res, &err);
        CHECK(w, rc == 0 || cut_happened(w), "a push of %s failed without a power cut: %s", w->code[i], err.msg);
        if (rc == 0) {
            for (uint32_t k = 0; k < page.n; k++)
                CHECK(w, res[k].outcome != TS_OUTCOME_REJECTED, "push of %s: %s/%s rejected: %s", w->code[i],
                      page.items[k].table, page.items[k].id, res[k].reason);
            model_ack(w);
            CHECK(w, ts_store_ack_pushed(sta, page.items[page.n - 1].lseq, &err) == 0, "ack: %s", err.msg);
        }
        free(res);
    }
    ts_change_page_free(&page);
    return n;
}

/* Station i pulls a page from the district and stores it, then its cursor. */
static size_t pull_from_district(world *w, int i)
{
    ts_store *sta = w->peer[i];
    uint64_t cursor = 0, next = 0;
    bool more = false;
    ts_store_meta_get_u64(sta, "pull_cursor", &cursor);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    CHECK(w,
          ts_store_changes_since(w->sub, w->code[i], ts_store_replica(sta), cursor,
                                 1 + (uint32_t)ts_rng_below(&w->rng, 60), &page, &next, &more, &err) == 0,
          "changes since %" PRIu64 ": %s", cursor, err.msg);
    size_t n = page.n;
    if (n > 0) {
        ts_apply_result *res = ts_xcalloc(n, sizeof *res);
        ts_actor server = {TS_ACTOR_SERVER, "district", NULL, "powercut"};
        CHECK(w, ts_store_apply(sta, &server, page.items, page.n, res, &err) == 0, "pull apply: %s", err.msg);
        for (size_t k = 0; k < n; k++)
            CHECK(w, res[k].outcome != TS_OUTCOME_REJECTED, "pull: %s/%s rejected: %s", page.items[k].table,
                  page.items[k].id, res[k].reason);
        free(res);
    }
    CHECK(w, ts_store_meta_set_u64(sta, "pull_cursor", next) == 0, "cursor");
    ts_change_page_free(&page);
    return n;
}

/* Station i says HELLO: the district checks its replica (a station whose
 * counters went back must take a new id: it does, as the agent does) and
 * records the station's cursor. */
static void hello_district(world *w, int i)
{
    ts_store *sta = w->peer[i];
    uint64_t lseq = 0, cursor = 0;
    ts_store_meta_get_u64(sta, "lseq", &lseq);
    ts_store_meta_get_u64(sta, "pull_cursor", &cursor);
    ts_error err;
    int rc = ts_store_check_replica(w->sub, w->code[i], ts_store_replica(sta), lseq, &err);
    if (rc == TS_EREKEY_REQUIRED && !cut_happened(w)) {
        CHECK(w, ts_store_rekey(sta, &err) == 0, "rekey %s: %s", w->code[i], err.msg);
        w->st->rekeys++;
        return;
    }
    CHECK(w, rc == 0 || cut_happened(w), "HELLO of %s failed without a power cut: %s", w->code[i], err.msg);
    if (rc == 0 && !cut_happened(w) && cursor > 0) {
        rc = ts_store_station_cursor(w->sub, w->code[i], cursor, &err);
        CHECK(w, rc == 0 || cut_happened(w), "station cursor failed without a power cut: %s", err.msg);
    }
}

/* ================================================================ the station scenario */

/* The station pushes a page to the district, and stores its acknowledgement. */
static size_t push_from_station(world *w)
{
    ts_store *d = w->peer[0];
    uint64_t acked = 0;
    ts_store_meta_get_u64(w->sub, "push_acked", &acked);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    CHECK(w, ts_store_pending(w->sub, acked, 1 + (uint32_t)ts_rng_below(&w->rng, 30), &page, &err) == 0,
          "pending: %s", err.msg);
    size_t n = page.n;
    if (n > 0) {
        ts_apply_result *res = ts_xcalloc(n, sizeof *res);
        ts_actor actor = {TS_ACTOR_STATION, BN, ts_store_replica(w->sub), "powercut"};
        CHECK(w, ts_store_apply(d, &actor, page.items, page.n, res, &err) == 0, "district apply: %s", err.msg);
        for (size_t k = 0; k < n; k++)
            CHECK(w, res[k].outcome != TS_OUTCOME_REJECTED, "push: %s/%s rejected: %s", page.items[k].table,
                  page.items[k].id, res[k].reason);
        free(res);
        uint64_t upto = page.items[n - 1].lseq;
        int rc = ts_store_ack_pushed(w->sub, upto, &err);
        CHECK(w, rc == 0 || cut_happened(w), "storing an acknowledgement failed without a power cut: %s", err.msg);
        if (rc == 0 && upto > w->push_acked)
            w->push_acked = upto;
    }
    ts_change_page_free(&page);
    return n;
}

/* The station pulls a page from the district and stores it (acknowledged
 * when ts_store_apply returns 0), then its cursor. */
static size_t pull_to_station(world *w)
{
    ts_store *d = w->peer[0];
    uint64_t cursor = 0, next = 0;
    bool more = false;
    ts_store_meta_get_u64(w->sub, "pull_cursor", &cursor);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    CHECK(w,
          ts_store_changes_since(d, BN, ts_store_replica(w->sub), cursor, 1 + (uint32_t)ts_rng_below(&w->rng, 60),
                                 &page, &next, &more, &err) == 0,
          "changes since %" PRIu64 ": %s", cursor, err.msg);
    size_t n = page.n;
    int rc = 0;
    if (n > 0) {
        for (size_t k = 0; k < n; k++)
            predict_apply(w, w->sub, &page.items[k]);
        ts_apply_result *res = ts_xcalloc(n, sizeof *res);
        ts_actor server = {TS_ACTOR_SERVER, "district", NULL, "powercut"};
        rc = ts_store_apply(w->sub, &server, page.items, page.n, res, &err);
        CHECK(w, rc == 0 || cut_happened(w), "storing pulled changes failed without a power cut: %s", err.msg);
        if (rc == 0) {
            for (size_t k = 0; k < n; k++)
                CHECK(w, res[k].outcome != TS_OUTCOME_REJECTED, "pull: %s/%s rejected: %s", page.items[k].table,
                      page.items[k].id, res[k].reason);
            model_ack(w);
        }
        free(res);
    }
    if (rc == 0 && !cut_happened(w)) { /* only after the changes are committed does the cursor move */
        rc = ts_store_meta_set_u64(w->sub, "pull_cursor", next);
        CHECK(w, rc == 0 || cut_happened(w), "storing the cursor failed without a power cut");
        if (rc == 0 && next > w->pull_cursor)
            w->pull_cursor = next;
    }
    ts_change_page_free(&page);
    return n;
}

/* ================================================================ steps, cuts, recovery */

/* A restart: closing checkpoints and removes the WAL (a cut may land there). */
static void restart(world *w)
{
    w->st->restarts++;
    ts_store_close(w->sub);
    w->sub = NULL;
    if (!cut_happened(w))
        sub_open(w, false);
}

/* One operation of the scenario, at random. */
static void step(world *w)
{
    uint64_t r = ts_rng_below(&w->rng, 100);
    if (ts_rng_chance(&w->rng, 0.004)) { /* between operations: what the last ones left unsynced */
        ts_test_vfs_power_cut(&w->rng, TS_VFS_CUT_TORN);
        return;
    }
    int i = (int)ts_rng_below(&w->rng, 2);
    const char *prefix = i ? "xl" : "bn";
    if (w->district) {
        if (r < 30) {
            for (int k = 1 + (int)ts_rng_below(&w->rng, 3); k > 0; k--)
                local_write(w, w->peer[i], "residents", prefix, w->code[i], false);
        } else if (r < 55) {
            push_to_district(w, i);
        } else if (r < 70) {
            pull_from_district(w, i);
        } else if (r < 76) {
            hello_district(w, i);
        } else if (r < 86) {
            local_write(w, w->sub, "drug_catalog", "drug", "district", false);
        } else if (r < 97) {
            local_write(w, w->sub, "residents", prefix, w->code[i], true);
        } else {
            restart(w);
        }
    } else {
        if (r < 40) {
            local_write(w, w->sub, "residents", "bn", BN, false);
        } else if (r < 60) {
            push_from_station(w);
        } else if (r < 78) {
            pull_to_station(w);
        } else if (r < 88) {
            local_write(w, w->peer[0], "drug_catalog", "drug", "district", false);
        } else if (r < 97) {
            local_write(w, w->peer[0], "residents", "bn", BN, true);
        } else {
            restart(w);
        }
    }
}

/* Every record the store holds is the version the last acknowledged
 * operation left, or the one the interrupted operation would have left, for
 * all the records that operation changes or for none. */
static void check_acked(world *w, const char *what)
{
    size_t changed = 0, landed = 0;
    for (size_t i = 0; i < w->ne; i++) {
        expect *e = &w->e[i];
        bool found = get_rec(w, w->sub, e->table, e->id, &w->r1);
        bool is_acked = rec_eq(&w->r1, &e->acked), is_next = e->in_flight && rec_eq(&w->r1, &e->next);
        CHECK(w, is_acked || is_next, "after a power cut (%s), %s/%s holds vv %s; acknowledged: vv %s%s%s: %s", what,
              e->table, e->id, w->r1.vv, e->acked.vv, e->in_flight ? "; in flight: vv " : "",
              e->in_flight ? e->next.vv : "",
              !found ? "an acknowledged write was lost"
              : e->acked.bytes.len ? "an acknowledged version was changed"
                                   : "a version never acknowledged appeared");
        w->st->checked += e->acked.bytes.len > 0;
        if (e->in_flight && !rec_eq(&e->acked, &e->next)) {
            changed++;
            landed += is_next;
        }
        e->in_flight = false;
    }
    CHECK(w, landed == 0 || landed == changed,
          "after a power cut (%s), %zu of the %zu records the interrupted operation changes have changed", what,
          landed, changed);
    if (changed > 0)
        *(landed ? &w->st->landed : &w->st->rolled_back) += 1;
    sqlite3_stmt *q;
    CHECK(w, sqlite3_prepare_v2(ts_store_db(w->sub), "SELECT tbl, id FROM records", -1, &q, NULL) == SQLITE_OK,
          "list records");
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(q, 0), *id = (const char *)sqlite3_column_text(q, 1);
        CHECK(w, model_find(w, table, id, false) != NULL, "after a power cut (%s), %s/%s is there, never written",
              what, table, id);
    }
    sqlite3_finalize(q);
}

/* The station and the district hold the same version of every record the
 * station may see. */
static void check_converged(world *w, ts_store *sta, const char *code, ts_store *d, const char *what)
{
    sqlite3_stmt *q;
    CHECK(w, sqlite3_prepare_v2(ts_store_db(sta), "SELECT tbl, id FROM records", -1, &q, NULL) == SQLITE_OK,
          "list records");
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(q, 0), *id = (const char *)sqlite3_column_text(q, 1);
        get_rec(w, sta, table, id, &w->r1);
        get_rec(w, d, table, id, &w->r2);
        CHECK(w, rec_eq(&w->r1, &w->r2), "after a power cut (%s) and a sync, %s/%s: %s holds vv %s, the district %s",
              what, table, id, code, w->r1.vv, w->r2.vv);
    }
    sqlite3_finalize(q);
    ts_change_page page;
    ts_change_page_init(&page);
    uint64_t after = 0;
    for (bool more = true; more;) {
        ts_error err;
        CHECK(w, ts_store_changes_since(d, code, NULL, after, 500, &page, &after, &more, &err) == 0, "changes: %s",
              err.msg);
        for (uint32_t k = 0; k < page.n; k++) {
            rec_set(&w->r1, page.items[k].owner, &page.items[k].v);
            get_rec(w, sta, page.items[k].table, page.items[k].id, &w->r2);
            CHECK(w, rec_eq(&w->r1, &w->r2),
                  "after a power cut (%s) and a sync, %s/%s: the district holds vv %s, %s %s", what,
                  page.items[k].table, page.items[k].id, w->r1.vv, code, w->r2.vv);
        }
    }
    ts_change_page_free(&page);
}

/* As after a restart: each station says HELLO, pushes and pulls until
 * nothing moves (resending is always safe), then both sides must agree. */
static void resync(world *w, const char *what)
{
    for (int i = 0; i < w->npeers; i++) {
        ts_store *sta = w->district ? w->peer[i] : w->sub, *d = w->district ? w->sub : w->peer[0];
        uint64_t lseq = 0, cursor = 0;
        ts_store_meta_get_u64(sta, "lseq", &lseq);
        ts_store_meta_get_u64(sta, "pull_cursor", &cursor);
        ts_error err;
        int rc = ts_store_check_replica(d, w->code[i], ts_store_replica(sta), lseq, &err);
        if (rc == TS_EREKEY_REQUIRED) { /* as the agent: a new replica id, then HELLO again */
            CHECK(w, ts_store_rekey(sta, &err) == 0, "rekey: %s", err.msg);
            w->st->rekeys++;
            ts_store_meta_get_u64(sta, "lseq", &lseq);
            rc = ts_store_check_replica(d, w->code[i], ts_store_replica(sta), lseq, &err);
        }
        CHECK(w, rc == 0, "HELLO of %s after a power cut (%s): %s", w->code[i], what, err.msg);
        CHECK(w, cursor <= ts_store_last_seq(d),
              "after a power cut (%s), %s has pulled up to %" PRIu64 " but the district's last sequence is %" PRIu64
              ": what it delivered was lost",
              what, w->code[i], cursor, ts_store_last_seq(d));
        for (int round = 0;; round++) {
            CHECK(w, round < 20, "syncing %s does not settle", w->code[i]);
            size_t moved = 0, n;
            do
                moved += n = w->district ? push_to_district(w, i) : push_from_station(w);
            while (n > 0);
            do
                moved += n = w->district ? pull_from_district(w, i) : pull_to_station(w);
            while (n > 0);
            if (moved == 0)
                break;
        }
        check_converged(w, sta, w->code[i], d, what);
    }
}

static void tally(stats *st, const char *what)
{
    const char *file = strstr(what, "-wal") ? "wal" : strstr(what, "-journal") ? "journal" : "database";
    char kind[40];
    if (strchr(what, '/') == NULL) /* between operations */
        snprintf(kind, sizeof kind, "%s", what);
    else
        snprintf(kind, sizeof kind, "%.*s %s", (int)strcspn(what, " "), what, file);
    size_t k = 0;
    while (k < 16 && st->kinds[k][0] && strcmp(st->kinds[k], kind) != 0)
        k++;
    if (k == 16)
        return;
    snprintf(st->kinds[k], sizeof st->kinds[k], "%s", kind);
    st->kind_count[k]++;
}

/* After a cut: recovery, the checks, a sync as after a restart, and what
 * the store then holds is the new baseline. */
static void recover(world *w)
{
    const char *what = NULL;
    w->cuts_seen = ts_test_vfs_cuts(&what);
    if (what[0] == '\0')
        what = "between operations";
    tally(w->st, what);
    ts_store_close(w->sub); /* its handles are dead: letting go is all it can do */
    w->sub = NULL;
    sub_open(w, false);
    ts_error err;
    CHECK(w, ts_store_integrity_check(w->sub, &err) == 0, "after a power cut (%s): %s", what, err.msg);
    check_acked(w, what);
    if (!w->district) {
        uint64_t acked = 0, cursor = 0;
        ts_store_meta_get_u64(w->sub, "push_acked", &acked);
        ts_store_meta_get_u64(w->sub, "pull_cursor", &cursor);
        CHECK(w, acked >= w->push_acked && cursor >= w->pull_cursor,
              "after a power cut (%s), push_acked is %" PRIu64 " (%" PRIu64 " was stored) and pull_cursor %" PRIu64
              " (%" PRIu64 " was stored)",
              what, acked, w->push_acked, cursor, w->pull_cursor);
    }
    resync(w, what);
    model_reset(w);
}

/* ================================================================ runs */

static void world_init(world *w, bool district, uint64_t seed, stats *st)
{
    memset(w, 0, sizeof *w);
    ts_rng_seed(&w->rng, seed);
    w->seed = seed;
    w->district = district;
    w->st = st;
    snprintf(w->path, sizeof w->path, "/powercut/%s.db", district ? "district" : BN);
    /* mostly a checkpoint every few pages; now and then SQLite's default */
    w->autockpt = ts_rng_chance(&w->rng, 0.2) ? 1000 : 1 + (int)ts_rng_below(&w->rng, 12);
    w->cuts_seen = ts_test_vfs_cuts(NULL);
    sub_open(w, true);
    if (district) {
        w->npeers = 2;
        w->code[0] = BN;
        w->code[1] = XL;
        w->peer[0] = peer_open(w, TS_ROLE_STATION, BN);
        w->peer[1] = peer_open(w, TS_ROLE_STATION, XL);
    } else {
        w->npeers = 1;
        w->code[0] = BN;
        w->peer[0] = peer_open(w, TS_ROLE_SERVER, NULL);
    }
    model_reset(w);
}

static void world_free(world *w)
{
    ts_store_close(w->sub);
    for (int i = 0; i < w->npeers; i++)
        ts_store_close(w->peer[i]);
    model_clear(w);
    free(w->e);
    ts_buf_free(&w->r1.bytes);
    ts_buf_free(&w->r2.bytes);
    ts_test_vfs_clear();
}

static void run_scenario(bool district)
{
    stats st = {.name = district ? "district" : "station"};
    assert_int_equal(ts_test_vfs_register(), SQLITE_OK);
    const char *env = getenv("TS_POWERCUT_ROUNDS");
    uint64_t cuts = (env ? strtoull(env, NULL, 10) : DEFAULT_CUTS) / 2;
    uint64_t runs = ts_test_seed_count((cuts + RUN_CUTS - 1) / RUN_CUTS);
    for (uint64_t i = 0; i < runs; i++) {
        world w;
        world_init(&w, district, ts_test_seed(i), &st);
        st.runs++;
        for (int c = 0; c < RUN_CUTS; c++) {
            uint64_t r = ts_rng_below(&w.rng, 20);
            ts_vfs_cut mode = r < 14 ? TS_VFS_CUT_TORN : r < 17 ? TS_VFS_CUT_DROP : TS_VFS_CUT_KEEP;
            ts_test_vfs_cut_after(1 + ts_rng_below(&w.rng, 300), &w.rng, mode);
            for (uint64_t ops = 0; !cut_happened(&w); ops++) {
                CHECK(&w, ops < MAX_OPS, "no power cut after %d operations", MAX_OPS);
                step(&w);
                st.ops++;
            }
            st.cuts++;
            recover(&w);
        }
        world_free(&w);
    }
    printf("powercut %s: %" PRIu64 " cuts in %" PRIu64 " runs of %" PRIu64 " operations; cut before:", st.name,
           st.cuts, st.runs, st.ops);
    for (size_t k = 0; k < 16 && st.kinds[k][0]; k++)
        printf("%s %s %" PRIu64, k ? "," : "", st.kinds[k], st.kind_count[k]);
    printf("; the interrupted operation was found applied %" PRIu64 " times, undone %" PRIu64 " times, acknowledged "
           "(cut after its commit) %" PRIu64 " times; %" PRIu64 " acknowledged versions checked; %" PRIu64
           " restarts; %" PRIu64 " rekeys\n",
           st.landed, st.rolled_back, st.acked_cut, st.checked, st.restarts, st.rekeys);
}

static void test_powercut_district(void **state)
{
    (void)state;
    run_scenario(true);
}

static void test_powercut_station(void **state)
{
    (void)state;
    run_scenario(false);
}

int main(void)
{
    ts_log_set_level(TS_LOG_OFF); /* every cut makes storage errors, as it should */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_powercut_district),
        cmocka_unit_test(test_powercut_station),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
