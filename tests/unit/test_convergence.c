/* Randomized convergence: one district server and five stations, each its own
 * SQLite replica, exchanging PUSH / PUSH_ACK / PULL / CHANGES messages through
 * a simulated network that reorders, duplicates and drops them, while every
 * replica keeps writing to a handful of records (../DESIGN.md "Records and
 * replicas", "Visibility and authority", "Sync, durability, delivery").
 *
 * Tables come from a registry made for the test: "notes" (station table),
 * "board" (shared, addressed by the district to every station, fields a..d
 * writable by stations) and "dirs" (district table seen by all). The district
 * writes everything, stations' notes included (admin edits), so concurrent
 * edits of the few records happen all the time.
 *
 * Each station behaves like the agent: at most one PUSH outstanding (the
 * pending versions after push_acked, a random 1..50 of them, often just 1..3),
 * at most one PULL outstanding (from the cursor kept in its meta). The server
 * answers a PUSH with the results of ts_store_apply and a PULL with a page of
 * ts_store_changes_since. Messages travel as encoded frames (ts_msg_encode /
 * ts_msg_decode). A lost message is noticed by its sender as a timeout and the
 * request is sent again from the durable state; a slow one may time out too
 * and still arrive later. Responses to requests that are no longer
 * outstanding are processed all the same: acknowledgements are cumulative,
 * stale CHANGES harmless.
 *
 * After the random phase the network stops losing messages and everybody
 * syncs until nothing moves. Then:
 *   1. every station dumps byte for byte what the server dumps of the records
 *      it may see (board and dirs records, its own notes);
 *   2. no write was lost silently: each one is the field's entry at the
 *      server, or was overwritten by a write whose writer had seen it, or is
 *      a loser in the server's conflict log;
 *   3. re-applying recorded change sets (PUSH at the server, CHANGES at the
 *      stations) is "duplicate" for every change and changes no dump.
 *
 * Two variants, both on fake clocks so a seed replays exactly: "steady" (one
 * clock for everybody, 1 ms per step) and "drift" (a clock per replica
 * jumping within +-2 min of true time, well inside the server's 5 min skew
 * bound; coarse time, so equal HLCs and clocks going back both happen).
 *
 * TS_TEST_SEED=N runs seed N of each variant; TS_CONVERGENCE_SEEDS=N runs N
 * seeds per variant (default 4); TS_CONVERGENCE_OPS=N local writes per seed
 * (default 10000); TS_CONVERGENCE_TRACE=<record id> prints every version of
 * that record as it is written, pushed and pulled. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "common/ts_hlc.h"
#include "common/ts_log.h"
#include "common/ts_mp.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_store.h"

#define NSTA 5
#define NREP (NSTA + 1) /* replica 0 is the server, 1..NSTA the stations */
#define NOTES_PER 3     /* notes records per station */
#define NBOARD 3
#define NDIRS 2
#define NKEYS (NSTA * NOTES_PER + NBOARD + NDIRS)
#define NFLD 6
#define SAMPLE 40                 /* change sets kept per kind for the re-apply check */
#define MAX_SKEW_MS 120000        /* drift: every clock within +-2 min of true time */
#define START_MS 1767225600000ull /* 2026-01-01T00:00:00Z */
#define DROP_P 0.08
#define DUP_P 0.08

static const char *const codes[NSTA] = {"binh", "cao", "ea", "tan", "xuan"}; /* around "district" */
static const char *const fnames[NFLD] = {"_deleted", "a", "b", "c", "d", "stations"};

#define INT4 "\"a\": {\"type\": \"int\"}, \"b\": {\"type\": \"int\"}, " \
             "\"c\": {\"type\": \"int\"}, \"d\": {\"type\": \"int\"}"
static const char registry_json[] =
    "{\"version\": 1, \"district_owner\": \"district\", \"tables\": {"
    " \"notes\": {\"kind\": \"station\", \"fields\": {" INT4 "}},"
    " \"board\": {\"kind\": \"shared\", \"audience_field\": \"stations\","
    "   \"station_writable\": [\"a\", \"b\", \"c\", \"d\"],"
    "   \"fields\": {\"stations\": {\"type\": \"list\", \"required\": true, \"max\": 128}, " INT4 "}},"
    " \"dirs\": {\"kind\": \"district\", \"audience\": \"all\", \"fields\": {" INT4 "}}"
    "}}";

typedef enum mkind { M_PUSH, M_ACK, M_PULL, M_CHANGES } mkind;

/* A message in flight: the bytes of one frame, and (outside the bytes, as
 * the connection would know it) which station it belongs to and which
 * request of that station it is or answers. */
typedef struct flight {
    mkind kind;
    int sta;
    uint64_t req;
    ts_buf frame;
} flight;

typedef struct sample {
    int sta;
    ts_buf frame;
} sample;

typedef struct station {
    ts_store *st;
    const char *code;
    bool push_out, pull_out;
    uint64_t push_req, pull_req; /* latest batch / pull issued */
    uint64_t *upto;              /* batch -> highest lseq it carried */
    uint64_t srv_max_lseq;       /* highest change number the district applied from it */
    size_t capbatch;
} station;

/* One field written by one local write. */
typedef struct wlog {
    uint16_t key;
    uint8_t field;
    uint8_t rep;
    uint64_t counter;
    uint32_t vv;  /* the writer's vv of the record right after the write (index into vvs) */
    int32_t next; /* the next write to the same field of the same record, -1 */
} wlog;

struct sim;
typedef struct clockctx {
    struct sim *s;
    int rep;
} clockctx;

typedef struct stats {
    uint64_t steps, writes, deletes, refused, pushes, pulls, delivered, drops, dups, stale_acks, stale_changes,
        push_conflicts, pull_merges, slow, late_superseded, conflicts, value_conflicts, ties, station_conflicts,
        redelivered;
} stats;

typedef struct sim {
    const char *variant;
    bool drift;
    uint64_t seed;
    ts_rng rng;
    char *dir;
    ts_registry reg;
    ts_store *srv;
    station sta[NSTA];
    ts_store *rep[NREP];
    flight *bag;
    size_t nbag, capbag;
    bool faults, activity;
    uint64_t now;
    int64_t off[NREP];
    clockctx cc[NREP];
    ts_change_page page;
    wlog *w;
    size_t nw, capw;
    ts_vv *vvs;
    size_t nvv, capvv;
    int32_t last_w[NKEYS][NFLD];
    sample pushes[SAMPLE], changes[SAMPLE];
    uint64_t npush_seen, nchg_seen;
    char ids[NKEYS][24];
    const char *tables[NKEYS];
    const char *owners[NKEYS];
    stats n;
} sim;

static stats g_total;

/* ---------------------------------------------------------------- helpers */

static uint64_t fake_clock(void *ctx)
{
    clockctx *c = ctx;
    return (uint64_t)((int64_t)c->s->now + c->s->off[c->rep]);
}

static int key_notes(int sta, int k)
{
    return sta * NOTES_PER + k;
}

static int key_board(int k)
{
    return NSTA * NOTES_PER + k;
}

static int key_dirs(int k)
{
    return NSTA * NOTES_PER + NBOARD + k;
}

static int field_index(const char *name)
{
    for (int i = 0; i < NFLD; i++)
        if (strcmp(fnames[i], name) == 0)
            return i;
    return -1;
}

static flight *bag_add(sim *s, mkind kind, int sta, uint64_t req)
{
    if (s->nbag == s->capbag) {
        s->capbag = s->capbag ? s->capbag * 2 : 64;
        s->bag = ts_xreallocarray(s->bag, s->capbag, sizeof *s->bag);
    }
    flight *f = &s->bag[s->nbag++];
    f->kind = kind;
    f->sta = sta;
    f->req = req;
    ts_buf_init(&f->frame);
    return f;
}

/* Reservoir sampling of change sets for the re-apply check. */
static void sample_add(sim *s, sample *set, uint64_t *seen, int sta, const ts_buf *frame)
{
    uint64_t i = (*seen)++;
    if (i >= SAMPLE) {
        i = ts_rng_below(&s->rng, i + 1);
        if (i >= SAMPLE)
            return;
    }
    ts_buf_reset(&set[i].frame);
    ts_buf_append(&set[i].frame, frame->data, frame->len);
    set[i].sta = sta;
}

static void decode(sim *s, const ts_buf *frame, ts_msg_type want, ts_msg *m)
{
    ts_error err;
    int rc = ts_msg_decode(frame->data + 4, frame->len - 4, NULL, m, &err);
    ts_check_seed(rc == 0, s->seed, "%s: decode: %s", s->variant, err.msg);
    ts_check_seed(m->type == want, s->seed, "%s: decoded %s, expected %s", s->variant, ts_msg_type_name(m->type),
                  ts_msg_type_name(want));
}

/* TS_CONVERGENCE_TRACE=<record id> prints every version of that record as it
 * is written, pushed, pulled and merged (to follow a failing seed). */
static const char *trace_id(void)
{
    static const char *id;
    static bool read;
    if (!read) {
        id = getenv("TS_CONVERGENCE_TRACE");
        read = true;
    }
    return id;
}

static void trace(const sim *s, const char *where, const ts_change *c, const ts_apply_result *r)
{
    if (trace_id() == NULL || strcmp(trace_id(), c->id) != 0)
        return;
    char vv[512];
    ts_buf line = TS_BUF_INIT;
    ts_buf_printf(&line, "[%" PRIu64 "] %s %s/%s lseq=%" PRIu64 " seq=%" PRIu64 " vv=%s", s->n.steps, where, c->table,
                  c->id, c->lseq, c->seq, ts_vv_format(&c->v.vv, vv, sizeof vv));
    if (r != NULL)
        ts_buf_printf(&line, " -> %s (conflicts %u)", ts_outcome_name(r->outcome), r->conflicts);
    for (uint32_t i = 0; i < c->v.nfields; i++)
        ts_buf_printf(&line, "\n      %s (%s,%" PRIu64 ") hlc=%" PRIu64, c->v.fields[i].name, c->v.fields[i].dot.rid.b,
                      c->v.fields[i].dot.counter, c->v.fields[i].hlc);
    for (uint32_t i = 0; i < c->nlosers; i++)
        ts_buf_printf(&line, "\n      loser %s (%s,%" PRIu64 ")", c->losers[i].name, c->losers[i].dot.rid.b,
                      c->losers[i].dot.counter);
    ts_buf_append(&line, "", 1);
    print_message("%s\n", (const char *)line.data);
    ts_buf_free(&line);
}

/* ---------------------------------------------------------------- local writes */

/* Records the fields one successful local write at replica r set. */
static void log_write(sim *s, int r, int key)
{
    ts_store *st = s->rep[r];
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    ts_error err;
    int rc = ts_store_get(st, s->tables[key], s->ids[key], &c, &arena, &err);
    ts_check_seed(rc == 0, s->seed, "%s: get %s/%s after a write: %s", s->variant, s->tables[key], s->ids[key],
                  err.msg);
    const ts_rid *rid = ts_store_replica(st);
    uint64_t ctr = ts_vv_get(&c.v.vv, rid);
    if (s->nvv == s->capvv) {
        s->capvv = s->capvv ? s->capvv * 2 : 1024;
        s->vvs = ts_xreallocarray(s->vvs, s->capvv, sizeof *s->vvs);
    }
    ts_vv *vv = &s->vvs[s->nvv];
    ts_vv_init(vv);
    ts_vv_copy(vv, &c.v.vv);
    int logged = 0;
    for (uint32_t i = 0; i < c.v.nfields; i++) {
        const ts_field *f = &c.v.fields[i];
        if (f->dot.counter != ctr || !ts_rid_eq(&f->dot.rid, rid))
            continue;
        int fi = field_index(f->name);
        ts_check_seed(fi >= 0, s->seed, "%s: unexpected field %s", s->variant, f->name);
        if (s->nw == s->capw) {
            s->capw = s->capw ? s->capw * 2 : 4096;
            s->w = ts_xreallocarray(s->w, s->capw, sizeof *s->w);
        }
        wlog *w = &s->w[s->nw];
        w->key = (uint16_t)key;
        w->field = (uint8_t)fi;
        w->rep = (uint8_t)r;
        w->counter = ctr;
        w->vv = (uint32_t)s->nvv;
        w->next = -1;
        if (s->last_w[key][fi] >= 0)
            s->w[s->last_w[key][fi]].next = (int32_t)s->nw;
        s->last_w[key][fi] = (int32_t)s->nw;
        s->nw++;
        logged++;
    }
    ts_check_seed(logged > 0, s->seed, "%s: write to %s/%s set no field", s->variant, s->tables[key], s->ids[key]);
    s->nvv++;
    trace(s, r == 0 ? "write at district" : codes[r - 1], &c, NULL);
    ts_version_free(&c.v);
    ts_arena_free(&arena);
}

static bool record_exists(ts_store *st, const char *table, const char *id)
{
    ts_arena arena;
    ts_arena_init(&arena, 1024);
    ts_change c;
    ts_error err;
    bool found = ts_store_get(st, table, id, &c, &arena, &err) == 0;
    if (found)
        ts_version_free(&c.v);
    ts_arena_free(&arena);
    return found;
}

static void local_write(sim *s)
{
    int r = ts_rng_chance(&s->rng, 0.35) ? 0 : 1 + (int)ts_rng_below(&s->rng, NSTA);
    ts_store *st = s->rep[r];
    uint64_t x = ts_rng_below(&s->rng, 100);
    int key;
    bool del;
    if (r == 0) { /* the district: admin edits of station notes, the board, the directory */
        if (x < 45) {
            key = key_notes((int)ts_rng_below(&s->rng, NSTA), (int)ts_rng_below(&s->rng, NOTES_PER));
            del = x >= 37;
        } else if (x < 80) {
            key = key_board((int)ts_rng_below(&s->rng, NBOARD));
            del = x >= 73;
        } else {
            key = key_dirs((int)ts_rng_below(&s->rng, NDIRS));
            del = x >= 94;
        }
    } else {
        if (x < 70) {
            key = key_notes(r - 1, (int)ts_rng_below(&s->rng, NOTES_PER));
            del = x >= 58;
        } else {
            key = key_board((int)ts_rng_below(&s->rng, NBOARD));
            del = false;
        }
    }
    ts_actor actor = {r == 0 ? TS_ACTOR_ADMIN : TS_ACTOR_LOCAL, r == 0 ? "admin" : "staff", NULL, NULL};
    ts_error err;
    int rc;
    if (del) {
        rc = ts_store_delete(st, &actor, s->tables[key], s->ids[key], &err);
        if (rc == TS_ENOT_FOUND) {
            s->n.refused++;
            return;
        }
        s->n.deletes += rc == 0;
    } else {
        ts_kv kv[5];
        ts_buf vals[5];
        size_t n = 0;
        unsigned mask = 1 + (unsigned)ts_rng_below(&s->rng, 15);
        for (int i = 0; i < 4; i++) {
            if (!(mask & (1u << i)))
                continue;
            ts_buf_init(&vals[n]);
            ts_value_int(&vals[n], (int64_t)ts_rng_below(&s->rng, 100));
            kv[n].name = fnames[1 + i];
            n++;
        }
        /* the district addresses board records to every station */
        if (r == 0 && strcmp(s->tables[key], "board") == 0 &&
            (ts_rng_chance(&s->rng, 0.2) || !record_exists(st, "board", s->ids[key]))) {
            ts_buf_init(&vals[n]);
            msgpack_packer pk;
            ts_buf_packer(&vals[n], &pk);
            msgpack_pack_array(&pk, 1);
            ts_mp_pack_cstr(&pk, "*");
            kv[n].name = "stations";
            n++;
        }
        for (size_t i = 0; i < n; i++) {
            kv[i].value = vals[i].data;
            kv[i].len = vals[i].len;
        }
        rc = ts_store_put(st, &actor, s->tables[key], s->ids[key], s->owners[key], kv, n, &err);
        for (size_t i = 0; i < n; i++)
            ts_buf_free(&vals[i]);
        /* a station cannot write a board record it has not received yet */
        if (rc == TS_EFORBIDDEN && r != 0 && strcmp(s->tables[key], "board") == 0) {
            s->n.refused++;
            return;
        }
    }
    ts_check_seed(rc == 0, s->seed, "%s: %s of %s/%s at %s: %s", s->variant, del ? "delete" : "put", s->tables[key],
                  s->ids[key], r == 0 ? "the district" : codes[r - 1], err.msg);
    s->n.writes++;
    log_write(s, r, key);
}

/* ---------------------------------------------------------------- the agent's side */

static void start_push(sim *s, int i)
{
    station *t = &s->sta[i];
    if (t->push_out)
        return;
    uint64_t acked = 0;
    ts_store_meta_get_u64(t->st, "push_acked", &acked);
    /* small batches half of the time: a later batch then often stops before
     * a record rewritten since an earlier batch that is still travelling */
    uint32_t limit = 1 + (uint32_t)ts_rng_below(&s->rng, ts_rng_chance(&s->rng, 0.5) ? 3 : 50);
    ts_error err;
    int rc = ts_store_pending(t->st, acked, limit, &s->page, &err);
    ts_check_seed(rc == 0, s->seed, "%s: pending at %s: %s", s->variant, t->code, err.msg);
    if (s->page.n == 0)
        return;
    uint64_t batch = ++t->push_req;
    if (batch >= t->capbatch) {
        t->capbatch = t->capbatch ? t->capbatch * 2 : 256;
        t->upto = ts_xreallocarray(t->upto, t->capbatch, sizeof *t->upto);
    }
    t->upto[batch] = s->page.items[s->page.n - 1].lseq;
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PUSH);
    m.u.push.batch = batch;
    m.u.push.changes.items = s->page.items;
    m.u.push.changes.n = s->page.n;
    flight *f = bag_add(s, M_PUSH, i, batch);
    ts_msg_encode(&m, &f->frame);
    m.u.push.changes.items = NULL; /* the page owns them */
    m.u.push.changes.n = 0;
    ts_msg_free(&m);
    t->push_out = true;
    s->n.pushes++;
    sample_add(s, s->pushes, &s->npush_seen, i, &f->frame);
}

static void start_pull(sim *s, int i)
{
    station *t = &s->sta[i];
    if (t->pull_out)
        return;
    uint64_t cursor = 0;
    ts_store_meta_get_u64(t->st, "pull_cursor", &cursor);
    ts_msg m;
    ts_msg_init(&m, TS_MSG_PULL);
    m.u.pull.since = cursor;
    m.u.pull.limit = 1 + ts_rng_below(&s->rng, 50);
    flight *f = bag_add(s, M_PULL, i, ++t->pull_req);
    ts_msg_encode(&m, &f->frame);
    ts_msg_free(&m);
    t->pull_out = true;
    s->n.pulls++;
}

static void on_ack(sim *s, const flight *f)
{
    station *t = &s->sta[f->sta];
    ts_msg m;
    decode(s, &f->frame, TS_MSG_PUSH_ACK, &m);
    const ts_msg_push_ack *ack = &m.u.push_ack;
    ts_check_seed(ack->code == 0, s->seed, "%s: batch %" PRIu64 " of %s refused whole: %s", s->variant, ack->batch,
                  t->code, ack->message ? ack->message : "");
    for (uint32_t i = 0; i < ack->nresults; i++) {
        /* the agent would ts_store_mark_rejected() it; here nothing may be refused */
        ts_check_seed(ack->results[i].outcome != TS_OUTCOME_REJECTED, s->seed,
                      "%s: batch %" PRIu64 " of %s: change %u rejected: %s", s->variant, ack->batch, t->code, i,
                      ack->results[i].reason ? ack->results[i].reason : "");
        s->n.push_conflicts += ack->results[i].outcome == TS_OUTCOME_CONFLICT;
    }
    ts_check_seed(ack->batch >= 1 && ack->batch <= t->push_req, s->seed, "%s: ack for unknown batch", s->variant);
    ts_error err;
    int rc = ts_store_ack_pushed(t->st, t->upto[ack->batch], &err);
    ts_check_seed(rc == 0, s->seed, "%s: ack at %s: %s", s->variant, t->code, err.msg);
    if (t->push_out && t->push_req == ack->batch)
        t->push_out = false;
    else
        s->n.stale_acks++;
    ts_msg_free(&m);
}

static void on_changes(sim *s, const flight *f)
{
    station *t = &s->sta[f->sta];
    ts_msg m;
    decode(s, &f->frame, TS_MSG_CHANGES, &m);
    const ts_msg_changes *ch = &m.u.changes;
    ts_error err;
    if (ch->changes.n > 0) {
        ts_apply_result *res = ts_xcalloc(ch->changes.n, sizeof *res);
        ts_actor server = {TS_ACTOR_SERVER, "district", NULL, "sim"};
        int rc = ts_store_apply(t->st, &server, ch->changes.items, ch->changes.n, res, &err);
        ts_check_seed(rc == 0, s->seed, "%s: %s applying CHANGES: %s", s->variant, t->code, err.msg);
        for (uint32_t i = 0; i < ch->changes.n; i++) {
            trace(s, t->code, &ch->changes.items[i], &res[i]); /* pulled by this station */
            ts_check_seed(res[i].outcome != TS_OUTCOME_REJECTED, s->seed, "%s: %s refused %s/%s from the district: %s",
                          s->variant, t->code, ch->changes.items[i].table, ch->changes.items[i].id, res[i].reason);
            s->n.pull_merges += res[i].outcome == TS_OUTCOME_MERGED || res[i].outcome == TS_OUTCOME_CONFLICT;
        }
        free(res);
        s->activity = true;
    }
    /* the cursor moves only after the changes are committed, and never back */
    uint64_t cursor = 0;
    ts_store_meta_get_u64(t->st, "pull_cursor", &cursor);
    if (ch->cursor > cursor)
        ts_store_meta_set_u64(t->st, "pull_cursor", ch->cursor);
    if (t->pull_out && t->pull_req == f->req)
        t->pull_out = false;
    else
        s->n.stale_changes++;
    ts_msg_free(&m);
}

/* ---------------------------------------------------------------- the server's side */

static void on_push(sim *s, const flight *f)
{
    station *t = &s->sta[f->sta];
    ts_msg m;
    decode(s, &f->frame, TS_MSG_PUSH, &m);
    const ts_msg_push *p = &m.u.push;
    size_t n = p->changes.n;
    ts_apply_result *res = ts_xcalloc(n ? n : 1, sizeof *res);
    ts_actor actor = {TS_ACTOR_STATION, t->code, ts_store_replica(t->st), "sim"};
    ts_error err;
    /* count versions numbered below what the district already has from this
     * station yet new to it: superseded at the station, arriving late */
    for (size_t i = 0; i < n; i++) {
        const ts_change *c = &p->changes.items[i];
        if (c->lseq > t->srv_max_lseq)
            continue;
        ts_arena arena;
        ts_arena_init(&arena, 4096);
        ts_change cur;
        bool known = ts_store_get(s->srv, c->table, c->id, &cur, &arena, &err) == 0;
        if (known) {
            known = ts_vv_leq(&c->v.vv, &cur.v.vv);
            ts_version_free(&cur.v);
        }
        ts_arena_free(&arena);
        s->n.late_superseded += !known;
    }
    int rc = ts_store_apply(s->srv, &actor, p->changes.items, n, res, &err);
    ts_check_seed(rc == 0, s->seed, "%s: the district refused batch %" PRIu64 " of %s whole: %s", s->variant, p->batch,
                  t->code, err.msg);
    char label[64];
    snprintf(label, sizeof label, "push %s->district batch %" PRIu64, t->code, p->batch);
    for (size_t i = 0; i < n; i++)
        trace(s, label, &p->changes.items[i], &res[i]);
    ts_msg ack;
    ts_msg_init(&ack, TS_MSG_PUSH_ACK);
    ack.u.push_ack.batch = p->batch;
    ack.u.push_ack.nresults = (uint32_t)n;
    ack.u.push_ack.results = ts_arena_calloc(&ack.arena, n ? n : 1, sizeof *ack.u.push_ack.results);
    for (size_t i = 0; i < n; i++) {
        ts_push_result *r = &ack.u.push_ack.results[i];
        r->outcome = res[i].outcome;
        r->seq = res[i].seq;
        if (res[i].outcome == TS_OUTCOME_REJECTED) {
            r->code = (uint64_t)-res[i].code;
            r->reason = ts_msg_strdup(&ack, res[i].reason);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (p->changes.items[i].lseq > t->srv_max_lseq)
            t->srv_max_lseq = p->changes.items[i].lseq;
    flight *a = bag_add(s, M_ACK, f->sta, f->req);
    ts_msg_encode(&ack, &a->frame);
    ts_msg_free(&ack);
    ts_msg_free(&m);
    free(res);
    s->activity = true;
}

static void on_pull(sim *s, const flight *f)
{
    station *t = &s->sta[f->sta];
    ts_msg m;
    decode(s, &f->frame, TS_MSG_PULL, &m);
    ts_error err;
    int rc = ts_store_station_cursor(s->srv, t->code, m.u.pull.since, &err);
    ts_check_seed(rc == 0, s->seed, "%s: station cursor: %s", s->variant, err.msg);
    uint64_t next = 0;
    bool more = false;
    rc = ts_store_changes_since(s->srv, t->code, ts_store_replica(t->st), m.u.pull.since, (uint32_t)m.u.pull.limit,
                                &s->page, &next, &more, &err);
    ts_check_seed(rc == 0, s->seed, "%s: changes since for %s: %s", s->variant, t->code, err.msg);
    ts_msg c;
    ts_msg_init(&c, TS_MSG_CHANGES);
    c.u.changes.changes.items = s->page.items;
    c.u.changes.changes.n = s->page.n;
    c.u.changes.cursor = next;
    c.u.changes.more = more;
    flight *out = bag_add(s, M_CHANGES, f->sta, f->req);
    ts_msg_encode(&c, &out->frame);
    c.u.changes.changes.items = NULL;
    c.u.changes.changes.n = 0;
    ts_msg_free(&c);
    ts_msg_free(&m);
    if (s->page.n > 0)
        sample_add(s, s->changes, &s->nchg_seen, f->sta, &out->frame);
}

/* ---------------------------------------------------------------- the network */

/* The sender of a lost message notices a timeout: the request is no longer
 * outstanding, and the next sync step sends it again from the durable state. */
static void timeout(sim *s, const flight *f)
{
    station *t = &s->sta[f->sta];
    if (f->kind == M_PUSH || f->kind == M_ACK) {
        if (t->push_out && t->push_req == f->req)
            t->push_out = false;
    } else if (t->pull_out && t->pull_req == f->req) {
        t->pull_out = false;
    }
}

static void deliver(sim *s, size_t idx)
{
    flight f = s->bag[idx];
    s->bag[idx] = s->bag[--s->nbag];
    if (s->faults && ts_rng_chance(&s->rng, DROP_P)) {
        s->n.drops++;
        timeout(s, &f);
        ts_buf_free(&f.frame);
        return;
    }
    if (s->faults && ts_rng_chance(&s->rng, DUP_P)) { /* a copy arrives again later */
        s->n.dups++;
        flight *c = bag_add(s, f.kind, f.sta, f.req);
        ts_buf_append(&c->frame, f.frame.data, f.frame.len);
    }
    s->n.delivered++;
    switch (f.kind) {
    case M_PUSH: on_push(s, &f); break;
    case M_ACK: on_ack(s, &f); break;
    case M_PULL: on_pull(s, &f); break;
    case M_CHANGES: on_changes(s, &f); break;
    }
    ts_buf_free(&f.frame);
}

static void tick_clocks(sim *s)
{
    if (!s->drift) {
        s->now++;
        return;
    }
    /* coarse time: many steps share a millisecond, so equal HLCs happen */
    if (ts_rng_chance(&s->rng, 0.4))
        s->now++;
    if (ts_rng_chance(&s->rng, 0.03)) {
        int r = (int)ts_rng_below(&s->rng, NREP);
        uint64_t x = ts_rng_below(&s->rng, 10);
        s->off[r] = x < 4   ? 0
                    : x < 6 ? (int64_t)ts_rng_below(&s->rng, 7) - 3
                            : (int64_t)ts_rng_below(&s->rng, 2 * MAX_SKEW_MS + 1) - MAX_SKEW_MS;
    }
}

static void step(sim *s)
{
    s->n.steps++;
    tick_clocks(s);
    uint64_t x = ts_rng_below(&s->rng, 100);
    if (x < 2) { /* a slow network: a request times out while it (or its answer) is still travelling */
        station *t = &s->sta[ts_rng_below(&s->rng, NSTA)];
        s->n.slow += t->push_out || t->pull_out;
        t->push_out = t->pull_out = false;
    } else if (x < 40)
        local_write(s);
    else if (x < 50)
        start_push(s, (int)ts_rng_below(&s->rng, NSTA));
    else if (x < 60)
        start_pull(s, (int)ts_rng_below(&s->rng, NSTA));
    else if (s->nbag > 0)
        deliver(s, (size_t)ts_rng_below(&s->rng, s->nbag));
}

/* No more losses: everybody pushes and pulls until nothing moves. */
static void quiesce(sim *s)
{
    s->faults = false;
    for (int round = 0;; round++) {
        ts_check_seed(round < 1000, s->seed, "%s: no quiescence after %d rounds", s->variant, round);
        s->activity = false;
        for (int i = 0; i < NSTA; i++) {
            start_push(s, i);
            start_pull(s, i);
        }
        while (s->nbag > 0)
            deliver(s, (size_t)ts_rng_below(&s->rng, s->nbag));
        if (!s->activity)
            break;
    }
    for (int i = 0; i < NSTA; i++) {
        uint64_t pending = 1;
        ts_store_pending_count(s->sta[i].st, &pending);
        ts_check_seed(pending == 0 && !s->sta[i].push_out && !s->sta[i].pull_out, s->seed,
                      "%s: %s still has %" PRIu64 " pending after quiescence", s->variant, s->sta[i].code, pending);
    }
}

/* ---------------------------------------------------------------- checks */

static void dump(sim *s, ts_store *st, ts_buf *out)
{
    ts_error err;
    ts_buf_reset(out);
    int rc = ts_store_dump_buf(st, out, &err);
    ts_check_seed(rc == 0, s->seed, "%s: dump: %s", s->variant, err.msg);
}

/* Copies `"key":"value"` of a dump line into out. */
static void json_field(const char *line, size_t len, const char *key, char *out, size_t size)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    out[0] = '\0';
    size_t plen = strlen(pat);
    for (size_t i = 0; i + plen <= len; i++) {
        if (memcmp(line + i, pat, plen) != 0)
            continue;
        size_t j = i + plen, k = 0;
        while (j < len && line[j] != '"' && k + 1 < size)
            out[k++] = line[j++];
        out[k] = '\0';
        return;
    }
}

/* The lines of the server's dump that station `code` may see. */
static void restrict_dump(const ts_buf *all, const char *code, ts_buf *out)
{
    ts_buf_reset(out);
    size_t at = 0;
    while (at < all->len) {
        const char *line = (const char *)all->data + at;
        const char *nl = memchr(line, '\n', all->len - at);
        size_t len = nl ? (size_t)(nl - line) + 1 : all->len - at;
        char table[64], owner[64];
        /* "table" and "owner" come first, before "vv" and "fields" */
        json_field(line, len, "table", table, sizeof table);
        json_field(line, len, "owner", owner, sizeof owner);
        if (strcmp(table, "notes") != 0 || strcmp(owner, code) == 0)
            ts_buf_append(out, line, len);
        at += len;
    }
}

static void first_difference(const ts_buf *a, const ts_buf *b, char *out, size_t size)
{
    size_t i = 0, line = 0, start = 0;
    while (i < a->len && i < b->len && a->data[i] == b->data[i]) {
        if (a->data[i] == '\n') {
            line++;
            start = i + 1;
        }
        i++;
    }
    const char *pa = (const char *)a->data + start, *pb = (const char *)b->data + start;
    const char *ea = start < a->len ? memchr(pa, '\n', a->len - start) : NULL;
    const char *eb = start < b->len ? memchr(pb, '\n', b->len - start) : NULL;
    snprintf(out, size, "line %zu:\n  district: %.*s\n  station:  %.*s", line + 1,
             start < a->len ? (int)(ea ? ea - pa : (long)(a->len - start)) : 0, start < a->len ? pa : "",
             start < b->len ? (int)(eb ? eb - pb : (long)(b->len - start)) : 0, start < b->len ? pb : "");
}

static void check_dumps(sim *s)
{
    ts_buf all = TS_BUF_INIT, want = TS_BUF_INIT, got = TS_BUF_INIT;
    dump(s, s->srv, &all);
    for (int i = 0; i < NSTA; i++) {
        restrict_dump(&all, codes[i], &want);
        dump(s, s->sta[i].st, &got);
        if (want.len != got.len || memcmp(want.data, got.data, want.len) != 0) {
            char diff[2048];
            first_difference(&want, &got, diff, sizeof diff);
            ts_check_seed(false, s->seed, "%s: %s does not hold what the district shows it; first difference at %s",
                          s->variant, codes[i], diff);
        }
    }
    ts_buf_free(&all);
    ts_buf_free(&want);
    ts_buf_free(&got);
}

static void check_nothing_lost(sim *s)
{
    ts_arena arena;
    ts_arena_init(&arena, 65536);
    ts_change fin[NKEYS];
    bool found[NKEYS];
    ts_error err;
    for (int k = 0; k < NKEYS; k++)
        found[k] = ts_store_get(s->srv, s->tables[k], s->ids[k], &fin[k], &arena, &err) == 0;
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(ts_store_db(s->srv),
                                "SELECT count(*) FROM conflicts WHERE tbl = ?1 AND rec_id = ?2 AND field = ?3"
                                " AND loser_replica = ?4 AND loser_counter = ?5",
                                -1, &q, NULL);
    ts_check_seed(rc == SQLITE_OK, s->seed, "%s: prepare", s->variant);
    uint64_t kept = 0, overwritten = 0, logged = 0;
    for (size_t i = 0; i < s->nw; i++) {
        const wlog *w = &s->w[i];
        ts_dot dot = {*ts_store_replica(s->rep[w->rep]), w->counter};
        const ts_field *e = found[w->key] ? ts_version_field(&fin[w->key].v, fnames[w->field]) : NULL;
        if (e != NULL && e->dot.counter == dot.counter && ts_rid_eq(&e->dot.rid, &dot.rid)) {
            kept++;
            continue;
        }
        bool covered = false;
        for (int32_t j = w->next; j >= 0 && !covered; j = s->w[j].next)
            covered = ts_vv_covers(&s->vvs[s->w[j].vv], &dot);
        if (covered) {
            overwritten++;
            continue;
        }
        sqlite3_bind_text(q, 1, s->tables[w->key], -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, s->ids[w->key], -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, fnames[w->field], -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, dot.rid.b, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 5, (sqlite3_int64)dot.counter);
        bool in_log = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0) > 0;
        sqlite3_reset(q);
        if (in_log) {
            logged++;
            continue;
        }
        char vvbuf[512];
        ts_check_seed(false, s->seed,
                      "%s: write lost silently: %s/%s field %s dot (%s, %" PRIu64 ") by %s, writer's vv %s;"
                      " the district"
                      " holds %s%s%s%" PRIu64 ")",
                      s->variant, s->tables[w->key], s->ids[w->key], fnames[w->field], dot.rid.b, dot.counter,
                      w->rep == 0 ? "the district" : codes[w->rep - 1],
                      ts_vv_format(&s->vvs[w->vv], vvbuf, sizeof vvbuf),
                      e ? "(" : "nothing", e ? e->dot.rid.b : "", e ? ", " : "", e ? e->dot.counter : 0);
    }
    sqlite3_finalize(q);
    for (int k = 0; k < NKEYS; k++)
        if (found[k])
            ts_version_free(&fin[k].v);
    ts_arena_free(&arena);
    ts_check_seed(kept + overwritten + logged == s->nw, s->seed, "%s: write accounting", s->variant);
}

static uint64_t count_rows(sim *s, ts_store *st, const char *sql)
{
    sqlite3_stmt *q;
    ts_check_seed(sqlite3_prepare_v2(ts_store_db(st), sql, -1, &q, NULL) == SQLITE_OK, s->seed, "%s: %s", s->variant,
                  sql);
    uint64_t n = sqlite3_step(q) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(q, 0) : 0;
    sqlite3_finalize(q);
    return n;
}

/* Re-applying change sets that were already applied changes nothing. */
static void check_reapply(sim *s)
{
    ts_buf before[NREP], after = TS_BUF_INIT;
    for (int r = 0; r < NREP; r++) {
        ts_buf_init(&before[r]);
        dump(s, s->rep[r], &before[r]);
    }
    uint64_t seq = ts_store_last_seq(s->srv);
    ts_error err;
    for (int kind = 0; kind < 2; kind++) {
        sample *set = kind == 0 ? s->pushes : s->changes;
        for (int i = 0; i < SAMPLE; i++) {
            if (set[i].frame.len == 0)
                continue;
            station *t = &s->sta[set[i].sta];
            ts_msg m;
            decode(s, &set[i].frame, kind == 0 ? TS_MSG_PUSH : TS_MSG_CHANGES, &m);
            const ts_change_list *list = kind == 0 ? &m.u.push.changes : &m.u.changes.changes;
            ts_apply_result *res = ts_xcalloc(list->n ? list->n : 1, sizeof *res);
            ts_actor from_station = {TS_ACTOR_STATION, t->code, ts_store_replica(t->st), "sim"};
            ts_actor from_server = {TS_ACTOR_SERVER, "district", NULL, "sim"};
            int rc = kind == 0 ? ts_store_apply(s->srv, &from_station, list->items, list->n, res, &err)
                               : ts_store_apply(t->st, &from_server, list->items, list->n, res, &err);
            ts_check_seed(rc == 0, s->seed, "%s: re-applying a %s of %s: %s", s->variant,
                          kind == 0 ? "PUSH" : "CHANGES", t->code, err.msg);
            for (uint32_t k = 0; k < list->n; k++)
                ts_check_seed(res[k].outcome == TS_OUTCOME_DUPLICATE, s->seed,
                              "%s: re-applying %s/%s (%s of %s) was \"%s\", not \"duplicate\" %s", s->variant,
                              list->items[k].table, list->items[k].id, kind == 0 ? "PUSH" : "CHANGES", t->code,
                              ts_outcome_name(res[k].outcome), res[k].reason);
            s->n.redelivered += list->n;
            free(res);
            ts_msg_free(&m);
        }
    }
    ts_check_seed(ts_store_last_seq(s->srv) == seq, s->seed, "%s: re-applying moved the district's sequence",
                  s->variant);
    for (int r = 0; r < NREP; r++) {
        dump(s, s->rep[r], &after);
        ts_check_seed(after.len == before[r].len && memcmp(after.data, before[r].data, after.len) == 0, s->seed,
                      "%s: re-applying changed the dump of %s", s->variant, r == 0 ? "the district" : codes[r - 1]);
        ts_buf_free(&before[r]);
    }
    ts_buf_free(&after);
}

/* ---------------------------------------------------------------- one run */

static uint64_t ops_per_seed(void)
{
    const char *e = getenv("TS_CONVERGENCE_OPS");
    return e ? strtoull(e, NULL, 10) : 10000;
}

static void run_seed(const char *variant, bool drift, uint64_t seed)
{
    sim *s = ts_xcalloc(1, sizeof *s);
    s->variant = variant;
    s->drift = drift;
    s->seed = seed;
    ts_rng_seed(&s->rng, seed * 2 + drift);
    s->faults = true;
    s->now = START_MS;
    ts_error err;
    ts_check_seed(ts_registry_load_json(&s->reg, registry_json, sizeof registry_json - 1, &err) == 0, seed,
                  "registry: %s", err.msg);
    s->dir = ts_tmpdir_make("convergence");
    s->srv = ts_test_open(s->dir, "district.db", TS_ROLE_SERVER, NULL, &s->reg);
    s->rep[0] = s->srv;
    for (int i = 0; i < NSTA; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s.db", codes[i]);
        s->sta[i].code = codes[i];
        s->sta[i].st = ts_test_open(s->dir, name, TS_ROLE_STATION, codes[i], &s->reg);
        s->rep[i + 1] = s->sta[i].st;
    }
    for (int r = 0; r < NREP; r++) {
        s->cc[r].s = s;
        s->cc[r].rep = r;
        ts_hlc_set_clock(ts_store_hlc(s->rep[r]), fake_clock, &s->cc[r]);
    }
    for (int k = 0; k < NKEYS; k++) {
        if (k < NSTA * NOTES_PER) {
            snprintf(s->ids[k], sizeof s->ids[k], "%s-n%d", codes[k / NOTES_PER], k % NOTES_PER);
            s->tables[k] = "notes";
            s->owners[k] = codes[k / NOTES_PER];
        } else if (k < NSTA * NOTES_PER + NBOARD) {
            snprintf(s->ids[k], sizeof s->ids[k], "b%d", k - NSTA * NOTES_PER);
            s->tables[k] = "board";
            s->owners[k] = NULL;
        } else {
            snprintf(s->ids[k], sizeof s->ids[k], "dir%d", k - NSTA * NOTES_PER - NBOARD);
            s->tables[k] = "dirs";
            s->owners[k] = NULL;
        }
        for (int f = 0; f < NFLD; f++)
            s->last_w[k][f] = -1;
    }
    ts_change_page_init(&s->page);
    for (int i = 0; i < SAMPLE; i++) {
        ts_buf_init(&s->pushes[i].frame);
        ts_buf_init(&s->changes[i].frame);
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t ops = ops_per_seed();
    while (s->n.writes < ops)
        step(s);
    quiesce(s);
    check_dumps(s);
    check_nothing_lost(s);
    check_reapply(s);
    s->n.conflicts = count_rows(s, s->srv, "SELECT count(*) FROM conflicts");
    s->n.value_conflicts = count_rows(s, s->srv, "SELECT count(*) FROM conflicts WHERE resolved_at IS NULL");
    s->n.ties = count_rows(s, s->srv, "SELECT count(*) FROM conflicts WHERE rule = 'higher-replica'");
    for (int i = 0; i < NSTA; i++)
        s->n.station_conflicts += count_rows(s, s->sta[i].st, "SELECT count(*) FROM conflicts");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("%s seed=%" PRIu64 ": %" PRIu64 " writes (%" PRIu64 " deletes, %" PRIu64 " refused) in %" PRIu64
                  " steps; %" PRIu64 " pushes, %" PRIu64 " pulls, %" PRIu64 " delivered, %" PRIu64 " dropped, %" PRIu64
                  " duplicated, %" PRIu64 " slow timeouts, %" PRIu64 " stale acks, %" PRIu64 " stale pages, %" PRIu64
                  " superseded versions arriving late; %" PRIu64 " merges at stations, %" PRIu64
                  " conflict outcomes pushed; %" PRIu64 " conflicts logged by the district (%" PRIu64
                  " with different values, %" PRIu64 " equal-HLC ties), %" PRIu64 " by stations; %zu field writes"
                  " checked, %" PRIu64 " changes re-applied; %.1f s\n",
                  variant, seed, s->n.writes, s->n.deletes, s->n.refused, s->n.steps, s->n.pushes, s->n.pulls,
                  s->n.delivered, s->n.drops, s->n.dups, s->n.slow, s->n.stale_acks, s->n.stale_changes,
                  s->n.late_superseded, s->n.pull_merges, s->n.push_conflicts, s->n.conflicts, s->n.value_conflicts,
                  s->n.ties, s->n.station_conflicts, s->nw, s->n.redelivered, secs);

    g_total.writes += s->n.writes;
    g_total.drops += s->n.drops;
    g_total.dups += s->n.dups;
    g_total.stale_acks += s->n.stale_acks;
    g_total.stale_changes += s->n.stale_changes;
    g_total.late_superseded += s->n.late_superseded;
    g_total.conflicts += s->n.conflicts;
    g_total.value_conflicts += s->n.value_conflicts;
    g_total.ties += s->n.ties;
    g_total.station_conflicts += s->n.station_conflicts;
    g_total.redelivered += s->n.redelivered;

    for (int r = 0; r < NREP; r++)
        ts_store_close(s->rep[r]);
    for (int i = 0; i < NSTA; i++)
        free(s->sta[i].upto);
    for (size_t i = 0; i < s->nbag; i++)
        ts_buf_free(&s->bag[i].frame);
    free(s->bag);
    for (int i = 0; i < SAMPLE; i++) {
        ts_buf_free(&s->pushes[i].frame);
        ts_buf_free(&s->changes[i].frame);
    }
    for (size_t i = 0; i < s->nvv; i++)
        ts_vv_free(&s->vvs[i]);
    free(s->vvs);
    free(s->w);
    ts_change_page_free(&s->page);
    ts_registry_free(&s->reg);
    ts_tmpdir_remove(s->dir);
    free(s);
}

static void run_variant(const char *variant, bool drift, uint64_t default_seeds)
{
    memset(&g_total, 0, sizeof g_total);
    uint64_t nseeds = ts_test_seed_count(default_seeds);
    for (uint64_t i = 0; i < nseeds; i++)
        run_seed(variant, drift, ts_test_seed(i));
    /* the run must have exercised what it claims to test */
    assert_true(g_total.writes >= nseeds * ops_per_seed());
    assert_true(g_total.conflicts > 0);
    assert_true(g_total.value_conflicts > 0);
    assert_true(g_total.drops > 0);
    assert_true(g_total.dups > 0);
    assert_true(g_total.stale_acks > 0);
    assert_true(g_total.stale_changes > 0);
    assert_true(g_total.redelivered > 0);
    if (drift)
        assert_true(g_total.ties > 0);
}

static uint64_t seeds_per_variant(void)
{
    const char *e = getenv("TS_CONVERGENCE_SEEDS");
    return e ? strtoull(e, NULL, 10) : 4;
}

static void test_convergence_steady_clocks(void **state)
{
    (void)state;
    run_variant("steady", false, seeds_per_variant());
}

static void test_convergence_drifting_clocks(void **state)
{
    (void)state;
    run_variant("drift", true, seeds_per_variant());
}

int main(void)
{
    ts_log_set_level(TS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_convergence_steady_clocks),
        cmocka_unit_test(test_convergence_drifting_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
