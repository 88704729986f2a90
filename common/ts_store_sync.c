/* Store: applying change sets, handing out changes, and the bookkeeping of
 * both ends (pending pushes, cursors, replicas, rekeying, tombstones). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_log.h"
#include "common/ts_mp.h"
#include "common/ts_store_int.h"
#include "common/ts_xmalloc.h"

static void ts__reject(ts_apply_result *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void ts__reject(ts_apply_result *r, int code, const char *fmt, ...)
{
    r->outcome = TS_OUTCOME_REJECTED;
    r->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
}

static bool ts__is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* ---------------------------------------------------------------- authorisation (server) */

/* What a station may push, per ../DESIGN.md "Visibility and authority".
 * Returns false with r filled when the change is refused. */
static bool ts__authorize_station(ts_store *st, const ts_actor *actor, const ts_table_def *t, const ts_change *c,
                                  const ts__row *cur, ts_apply_result *r)
{
    const char *me = actor->name;
    switch (t->kind) {
    case TS_TABLE_STATION:
        if (!ts__is(c->owner, me)) {
            ts__reject(r, TS_EFORBIDDEN, "a station writes only its own records (owner %s)", c->owner);
            return false;
        }
        break;
    case TS_TABLE_DISTRICT:
        ts__reject(r, TS_EFORBIDDEN, "table %s is written by the district only", t->name);
        return false;
    case TS_TABLE_SHARED:
        if (!cur->found) {
            ts__reject(r, TS_EFORBIDDEN, "shared %s records are created by the district", t->name);
            return false;
        }
        break;
    }
    if (cur->found && !ts__is(cur->owner, c->owner)) {
        ts__reject(r, TS_EFORBIDDEN, "record belongs to %s%s", cur->owner,
                   t->kind == TS_TABLE_STATION ? " (choose another id)" : "");
        return false;
    }
    if (t->kind == TS_TABLE_SHARED) {
        ts_audience aud;
        ts_error e;
        if (ts_table_audience(t, cur->owner, &cur->v, &aud, &e) < 0 || !ts_audience_has(&aud, me)) {
            ts__reject(r, TS_EFORBIDDEN, "this %s record is not addressed to station %s", t->name, me);
            return false;
        }
    }

    /* Everything new in the change must be this replica's own write: a
     * station cannot speak for another replica, and on shared records it
     * writes only the fields the registry gives it. */
    for (uint32_t i = 0; i < c->v.nfields; i++) {
        const ts_field *f = &c->v.fields[i];
        if (cur->found && ts_vv_covers(&cur->v.vv, &f->dot))
            continue;
        if (!ts_rid_eq(&f->dot.rid, actor->replica)) {
            ts__reject(r, TS_EFORBIDDEN, "field %s carries a write of replica %s the district has not seen",
                       f->name, f->dot.rid.b);
            return false;
        }
        if (t->kind == TS_TABLE_SHARED) {
            const ts_field_def *def = ts_table_field(t, f->name);
            if (def == NULL || !def->station_writable) {
                ts__reject(r, TS_EFORBIDDEN, "field %s of %s is written by the district only", f->name, t->name);
                return false;
            }
        }
    }
    for (uint32_t i = 0; i < c->v.vv.n; i++) {
        const ts_dot *e = &c->v.vv.e[i];
        if (ts_rid_eq(&e->rid, actor->replica))
            continue;
        if (!cur->found || ts_vv_get(&cur->v.vv, &e->rid) < e->counter) {
            ts__reject(r, TS_EFORBIDDEN, "version vector claims writes of replica %s the district has not seen",
                       e->rid.b);
            return false;
        }
    }
    for (uint32_t i = 0; i < c->nlosers; i++) {
        const ts_field *l = &c->losers[i];
        if (!ts_vv_covers(&c->v.vv, &l->dot) ||
            (!ts__is(l->name, TS_FIELD_DELETED) && ts_table_field(t, l->name) == NULL)) {
            ts__reject(r, TS_EINVALID_RECORD, "conflict entry for field %s does not belong to this version",
                       l->name);
            return false;
        }
    }
    (void)st;
    return true;
}

/* ---------------------------------------------------------------- apply */

typedef struct ts__apply_ctx {
    ts_store *st;
    const ts_actor *actor;
    ts_arena *arena;
    ts_conflicts conflicts;
    uint64_t max_lseq; /* highest change number seen from the pushing replica */
    uint64_t max_hlc;
    bool restored;     /* the pusher reuses change numbers: restored from an old copy */
    char restored_why[200];
    int64_t replica_num; /* the pushing replica's number (replicas.num) */
    const bool *valid;   /* checked against the schema already (ts_store_precheck), or NULL */
    char origin[24];     /* records.origin of what it pushes: "#<num>" */
} ts__apply_ctx;

/* Two writes of the same value lose nothing to each other: such a conflict
 * is logged already resolved and does not make the outcome a conflict. */
static bool ts__same_value(const ts_field *a, const ts_field *b)
{
    return a->value_len == b->value_len && memcmp(a->value, b->value, a->value_len) == 0;
}

static int ts__log_losers(ts__apply_ctx *ax, const ts_change *c, const ts_version *merged, uint64_t lseq,
                          uint32_t *logged, ts_error *err)
{
    ts_store *st = ax->st;
    for (uint32_t i = 0; i < ax->conflicts.n; i++) {
        const ts_conflict *x = &ax->conflicts.items[i];
        int rc = ts__log_conflict(st, c->table, c->id, &x->winner, &x->loser, x->rule, ax->actor, lseq, err);
        if (rc < 0)
            return rc;
        *logged += (uint32_t)sqlite3_changes(st->db) && !ts__same_value(&x->winner, &x->loser);
    }
    for (uint32_t i = 0; i < c->nlosers; i++) {
        const ts_field *l = &c->losers[i];
        const ts_field *w = ts_version_field(merged, l->name);
        if (w == NULL || (w->dot.counter == l->dot.counter && ts_rid_eq(&w->dot.rid, &l->dot.rid)))
            continue; /* the "loser" is what we hold: nothing was lost */
        const char *rule = w->hlc != l->hlc ? "later-hlc" : "higher-replica";
        int rc = ts__log_conflict(st, c->table, c->id, w, l, rule, ax->actor, lseq, err);
        if (rc < 0)
            return rc;
        *logged += (uint32_t)sqlite3_changes(st->db) && !ts__same_value(w, l);
    }
    return 0;
}

/* The merge found the two versions contradicting each other. When a dot of
 * the pushing replica carries the contradiction, that replica reuses its own
 * numbers (restored from an old copy: rekey); when only other replicas' dots
 * do, the change carries someone else's write altered, and is refused alone
 * (INCONSISTENT) without retiring the replica that relayed it. */
static bool ts__contradicts_own(const ts_version *held, const ts_version *pushed, const ts_rid *me)
{
    for (uint32_t i = 0; i < pushed->nfields; i++) {
        const ts_field *eb = &pushed->fields[i], *ea = ts_version_field(held, eb->name);
        if (ea == NULL || ts_field_equal(ea, eb))
            continue;
        bool same_dot = ea->dot.counter == eb->dot.counter && ts_rid_eq(&ea->dot.rid, &eb->dot.rid);
        bool both_seen = ts_vv_covers(&pushed->vv, &ea->dot) && ts_vv_covers(&held->vv, &eb->dot);
        if ((same_dot || both_seen) && (ts_rid_eq(&ea->dot.rid, me) || ts_rid_eq(&eb->dot.rid, me)))
            return true;
    }
    return false;
}

static int ts__apply_one(ts__apply_ctx *ax, const ts_change *c, bool checked, ts_apply_result *r, ts_error *err)
{
    ts_store *st = ax->st;
    const ts_actor *actor = ax->actor;
    bool from_station = st->role == TS_ROLE_SERVER && actor->kind == TS_ACTOR_STATION;
    ts_error verr;
    int rc = 0;

    const ts_table_def *t = ts_registry_table(st->reg, c->table);
    if (t == NULL) {
        ts__reject(r, TS_EUNKNOWN_TABLE, "unknown table \"%s\"", c->table);
        return 0;
    }
    if (!ts_key_valid(c->id, strlen(c->id)) || !ts_key_valid(c->owner, strlen(c->owner))) {
        ts__reject(r, TS_EBAD_VALUE, "invalid record id or owner");
        return 0;
    }
    if (t->kind != TS_TABLE_STATION && !ts__is(c->owner, st->reg->district_owner)) {
        ts__reject(r, TS_EFORBIDDEN, "%s records are owned by the district, not %s", t->name, c->owner);
        return 0;
    }
    if (!checked && ts_table_validate(t, &c->v, &verr) < 0) {
        ts__reject(r, TS_EINVALID_RECORD, "%s", verr.msg);
        return 0;
    }

    ts__row cur;
    ts_version_init(&cur.v);
    ts_version merged;
    ts_version_init(&merged);

    /* The district holds new ids to the identifier rule (look-alike and
     * invisible characters); a record that predates the rule stays usable. */
    const char *bad_id = st->role == TS_ROLE_SERVER ? ts_ident_problem(c->id, strlen(c->id)) : NULL;

    /* Fast path for what stations mostly push: a new record of their own.
     * Authorised as if absent, then inserted unless the key exists; when it
     * does, the full path below loads, authorises and merges. */
    if (from_station && bad_id == NULL && t->kind == TS_TABLE_STATION && c->nlosers == 0 &&
        !(c->lseq != 0 && c->lseq <= ax->max_lseq)) {
        ts__row none;
        memset(&none, 0, sizeof none);
        ts_apply_result probe;
        memset(&probe, 0, sizeof probe);
        char why[256];
        if (ts__authorize_station(st, actor, t, c, &none, &probe) &&
            (st->check == NULL || st->check(st->check_ctx, t, NULL, &c->v, &c->v, why, sizeof why))) {
            bool inserted = false;
            if ((rc = ts__insert_new(st, c->table, c->id, c->owner, &c->v, st->seq + 1, ax->origin, &inserted,
                                     err)) < 0)
                goto out;
            if (inserted) {
                r->outcome = TS_OUTCOME_APPLIED;
                r->seq = ++st->seq;
                if (c->lseq > ax->max_lseq)
                    ax->max_lseq = c->lseq;
                uint64_t h = ts_version_max_hlc(&c->v);
                if (h > ax->max_hlc)
                    ax->max_hlc = h;
                goto out;
            }
        }
    }

    if ((rc = ts__load(st, c->table, c->id, &cur, ax->arena, err)) < 0)
        goto out;
    if (bad_id != NULL && !cur.found) {
        ts__reject(r, TS_EBAD_VALUE, "the record id %s", bad_id);
        goto out;
    }

    /* A change numbered at or below what this replica already pushed, yet
     * new to us: either the replica was restored from an old copy and reuses
     * its numbers (and maybe its dots), or it is a version the station has
     * since superseded, from an earlier push still travelling (resending is
     * always safe). Only the first contradicts what we hold: checked below. */
    bool renumbered = false;
    if (from_station) {
        if (!ts__authorize_station(st, actor, t, c, &cur, r))
            goto out;
        renumbered = c->lseq != 0 && c->lseq <= ax->max_lseq && !(cur.found && ts_vv_leq(&c->v.vv, &cur.v.vv));
    } else if (cur.found && !ts__is(cur.owner, c->owner)) {
        ts__reject(r, TS_EFORBIDDEN, "record belongs to %s, not %s", cur.owner, c->owner);
        goto out;
    }

    ts_merge_result how;
    ts_conflicts_reset(&ax->conflicts);
    rc = ts_version_merge(cur.found ? &cur.v : NULL, &c->v, &merged, ax->arena, &how, &ax->conflicts, &verr);
    if (rc < 0) {
        rc = 0;
        if (from_station && ts__contradicts_own(&cur.v, &c->v, actor->replica)) {
            ax->restored = true;
            snprintf(ax->restored_why, sizeof ax->restored_why, "%.40s/%.60s: %.90s", c->table, c->id, verr.msg);
        } else {
            ts__reject(r, TS_EINCONSISTENT, "%s", verr.msg);
            ts_log_error("merge_inconsistent", "table=%s id=%s msg=%s", c->table, c->id, verr.msg);
        }
        goto out;
    }
    if (renumbered && how == TS_MERGE_REPLACED) {
        /* A genuine later version holds each of our entries, or one written
         * after it (a dot we do not cover); a concurrent merge checked that
         * field by field already. */
        for (uint32_t i = 0; i < cur.v.nfields; i++) {
            const ts_field *ea = &cur.v.fields[i], *eb = ts_version_field(&c->v, ea->name);
            if (eb == NULL || (!(eb->dot.counter == ea->dot.counter && ts_rid_eq(&eb->dot.rid, &ea->dot.rid)) &&
                               ts_vv_covers(&cur.v.vv, &eb->dot))) {
                ax->restored = true;
                snprintf(ax->restored_why, sizeof ax->restored_why,
                         "change %" PRIu64 " of %.32s/%.40s is new, numbered at or below %" PRIu64
                         ", and contradicts field %.32s",
                         c->lseq, c->table, c->id, ax->max_lseq, ea->name);
                goto out;
            }
        }
    }
    if (from_station && c->lseq > ax->max_lseq)
        ax->max_lseq = c->lseq;
    uint64_t h = ts_version_max_hlc(&c->v);
    if (h > ax->max_hlc)
        ax->max_hlc = h;

    if (how == TS_MERGE_KEPT && from_station) {
        /* "Already known" must really be known: a write of this replica that
         * we hold under the same dot with other contents means the replica
         * was restored from an old copy and is reusing its dots. */
        for (uint32_t i = 0; i < c->v.nfields; i++) {
            const ts_field *f = &c->v.fields[i];
            if (!ts_rid_eq(&f->dot.rid, actor->replica))
                continue;
            const ts_field *held = ts_version_field(&cur.v, f->name);
            if (held && held->dot.counter == f->dot.counter && ts_rid_eq(&held->dot.rid, &f->dot.rid) &&
                !ts_field_equal(held, f)) {
                ax->restored = true;
                snprintf(ax->restored_why, sizeof ax->restored_why,
                         "%.40s/%.60s field %.40s: dot %" PRIu64 " reused for another write", c->table, c->id, f->name,
                         f->dot.counter);
                goto out;
            }
        }
    }
    if (how == TS_MERGE_KEPT) {
        r->outcome = TS_OUTCOME_DUPLICATE;
        r->seq = cur.seq;
        /* a station may still report conflicts it found on a version we hold */
        if (c->nlosers && (rc = ts__log_losers(ax, c, &cur.v, 0, &r->conflicts, err)) < 0)
            goto out;
        goto out;
    }

    if (from_station && st->check != NULL) {
        char why[256] = "";
        if (!st->check(st->check_ctx, t, cur.found ? &cur.v : NULL, &c->v, &merged, why, sizeof why)) {
            ts__reject(r, TS_EINVALID_RECORD, "%s", why);
            goto out;
        }
    }

    uint64_t seq = 0, lseq = 0;
    if (st->role == TS_ROLE_SERVER) {
        seq = ++st->seq;
    } else {
        seq = c->seq;
        /* a merge that holds this station's writes the server has not seen
         * yet is pushed; one of only district writes is not (after the
         * district's database was replaced, old and new district versions
         * meet here, and the district refuses a station writing its records) */
        if (how == TS_MERGE_MERGED && cur.found && ts_vv_get(&cur.v.vv, &st->replica) > ts_vv_get(&c->v.vv, &st->replica))
            lseq = ++st->lseq;
    }
    const char *origin = from_station && how == TS_MERGE_REPLACED ? ax->origin : NULL;
    if ((rc = ts__write(st, t, c->table, c->id, c->owner, &merged, seq, lseq, origin, err)) < 0)
        goto out;
    if ((rc = ts__log_losers(ax, c, &merged, lseq, &r->conflicts, err)) < 0)
        goto out;
    r->seq = seq;
    if (how == TS_MERGE_REPLACED)
        r->outcome = r->conflicts ? TS_OUTCOME_CONFLICT : TS_OUTCOME_APPLIED;
    else
        r->outcome = r->conflicts ? TS_OUTCOME_CONFLICT : TS_OUTCOME_MERGED;

out:
    ts_version_free(&cur.v);
    ts_version_free(&merged);
    return rc;
}

static int ts__replica_row(ts_store *st, const ts_rid *replica, char *station, size_t station_size,
                           uint64_t *max_lseq, bool *retired, bool *found, int64_t *num)
{
    sqlite3_stmt *s = st->stmt[TS__REPLICA_GET];
    sqlite3_bind_text(s, 1, replica->b, replica->len, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *found = rc == SQLITE_ROW;
    if (*found) {
        snprintf(station, station_size, "%s", (const char *)sqlite3_column_text(s, 0));
        *max_lseq = (uint64_t)sqlite3_column_int64(s, 1);
        *retired = ts__is((const char *)sqlite3_column_text(s, 2), "retired");
        *num = sqlite3_column_int64(s, 3); /* 0 when NULL */
    } else {
        station[0] = '\0';
        *max_lseq = 0;
        *retired = false;
        *num = 0;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : TS_ESTORAGE;
}

/* The number a replica new to the district (or numbered before schema 11
 * did not) gets: one above the highest given. */
static int ts__replica_next_num(ts_store *st, int64_t *num)
{
    sqlite3_stmt *s = st->stmt[TS__REPLICA_NEXT_NUM];
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *num = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : TS_ESTORAGE;
}

static int ts__replica_put(ts_store *st, const char *station, const ts_rid *replica, uint64_t max_lseq, int64_t num)
{
    sqlite3_stmt *s = st->stmt[TS__REPLICA_PUT];
    sqlite3_bind_text(s, 1, replica->b, replica->len, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, station, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)max_lseq);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)ts_wall_ms());
    if (num > 0)
        sqlite3_bind_int64(s, 5, (sqlite3_int64)num);
    else
        sqlite3_bind_null(s, 5);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : TS_ESTORAGE;
}

static int ts__retire_replica(ts_store *st, const char *station, const ts_rid *replica, const char *why)
{
    sqlite3_stmt *q;
    if (ts__replica_put(st, station, replica, 0, 0) < 0 ||
        sqlite3_prepare_v2(st->db,
                           "UPDATE replicas SET status = 'retired', retired_at = ?2, retired_reason = ?3"
                           " WHERE replica = ?1",
                           -1, &q, NULL) != SQLITE_OK)
        return TS_ESTORAGE;
    sqlite3_bind_text(q, 1, replica->b, replica->len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)ts_wall_ms());
    sqlite3_bind_text(q, 3, why, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : TS_ESTORAGE;
    sqlite3_finalize(q);
    ts_log_warn("replica_retired", "station=%s replica=%s reason=%s", station, replica->b, why);
    return rc;
}

static int ts__audit_batch(ts_store *st, const ts_actor *actor, const ts_change *changes, size_t n,
                           const ts_apply_result *results, ts_error *err)
{
    size_t counts[TS_OUTCOME_REJECTED + 1] = {0};
    ts_buf detail = TS_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        counts[results[i].outcome]++;
    ts_buf_printf(&detail, "applied=%zu merged=%zu conflict=%zu duplicate=%zu rejected=%zu changed:",
                  counts[TS_OUTCOME_APPLIED], counts[TS_OUTCOME_MERGED], counts[TS_OUTCOME_CONFLICT],
                  counts[TS_OUTCOME_DUPLICATE], counts[TS_OUTCOME_REJECTED]);
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        ts_outcome o = results[i].outcome;
        if (o == TS_OUTCOME_APPLIED || o == TS_OUTCOME_MERGED || o == TS_OUTCOME_CONFLICT) {
            ts_buf_append(&detail, " ", 1);
            ts_buf_append_str(&detail, changes[i].table);
            ts_buf_append(&detail, "/", 1);
            ts_buf_append_str(&detail, changes[i].id);
            changed++;
        }
    }
    ts_buf_append(&detail, "", 1);
    int rc = 0;
    if (changed > 0 && ts_store_audit(st, actor, "push", NULL, NULL, "applied", (const char *)detail.data) < 0)
        rc = ts__sql_error(st, err, "audit");
    ts_buf_free(&detail);
    return rc;
}

void ts_store_precheck(const ts_registry *reg, const ts_change *changes, size_t n, bool *valid)
{
    for (size_t i = 0; i < n; i++) {
        const ts_table_def *t = ts_registry_table(reg, changes[i].table);
        ts_error verr;
        valid[i] = t != NULL && ts_table_validate(t, &changes[i].v, &verr) == 0;
    }
}

int ts_store_apply(ts_store *st, const ts_actor *actor, const ts_change *changes, size_t n,
                   ts_apply_result *results, ts_error *err)
{
    return ts_store_apply_checked(st, actor, changes, n, NULL, results, err);
}

int ts_store_apply_checked(ts_store *st, const ts_actor *actor, const ts_change *changes, size_t n,
                           const bool *valid, ts_apply_result *results, ts_error *err)
{
    ts_actor none = {TS_ACTOR_SERVER, NULL, NULL, NULL};
    if (actor == NULL)
        actor = &none;
    bool from_station = st->role == TS_ROLE_SERVER && actor->kind == TS_ACTOR_STATION;
    if (from_station && (actor->replica == NULL || actor->name == NULL))
        return ts_error_set(err, TS_EBAD_VALUE, "a station change set needs the station and its replica");

    /* Refuse the whole set before touching anything when a timestamp is too
     * far in our future: the station keeps it and is flagged until its clock
     * is fixed (../DESIGN.md). Never rewrite an HLC. */
    if (st->role == TS_ROLE_SERVER) {
        /* the latest timestamp against one reading of the clock (a clock
         * read per field was a measurable part of applying a set) */
        const ts_change *latest_change = NULL;
        const ts_field *latest = NULL;
        for (size_t i = 0; i < n; i++) {
            for (uint32_t k = 0; k < changes[i].v.nfields; k++) {
                const ts_field *f = &changes[i].v.fields[k];
                if (latest == NULL || f->hlc > latest->hlc) {
                    latest = f;
                    latest_change = &changes[i];
                }
            }
        }
        uint64_t ahead;
        if (latest != NULL && ts_hlc_check(&st->hlc, latest->hlc, &ahead) < 0)
            return ts_error_set(err, TS_ECLOCK_AHEAD,
                                "clock ahead by %" PRIu64 ".%03" PRIu64 " s (%s/%s field %s); the limit is %" PRIu64
                                " s",
                                ahead / 1000, ahead % 1000, latest_change->table, latest_change->id, latest->name,
                                st->hlc.max_ahead_ms / 1000);
    }

    ts__apply_ctx ax;
    memset(&ax, 0, sizeof ax);
    ax.st = st;
    ax.actor = actor;
    ax.valid = valid;
    ts_conflicts_init(&ax.conflicts);
    ts_arena arena;
    ts_arena_init(&arena, 64 * 1024);
    ax.arena = &arena;
    uint64_t seq_before = st->seq, lseq_before = st->lseq, hlc_before = st->hlc.last;
    char station_of_replica[TS_KEY_MAX + 1] = "";
    bool retired = false, known = false;

    int rc = ts__tx_begin(st, err);
    if (rc < 0)
        goto done;
    if (from_station) {
        if (ts__replica_row(st, actor->replica, station_of_replica, sizeof station_of_replica, &ax.max_lseq,
                            &retired, &known, &ax.replica_num) < 0 ||
            (ax.replica_num <= 0 && ts__replica_next_num(st, &ax.replica_num) < 0)) {
            rc = ts__sql_error(st, err, "replica");
            goto rollback;
        }
        snprintf(ax.origin, sizeof ax.origin, "#%" PRId64, ax.replica_num);
        if (retired || (known && !ts__is(station_of_replica, actor->name))) {
            rc = ts_error_set(err, TS_EREKEY_REQUIRED, "replica %s is retired: take a new replica id",
                              actor->replica->b);
            goto rollback;
        }
    }

    for (size_t i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof results[i]);
        if ((rc = ts__apply_one(&ax, &changes[i], ax.valid != NULL && ax.valid[i], &results[i], err)) < 0)
            goto rollback;
        if (ax.restored)
            break;
        if (results[i].outcome == TS_OUTCOME_REJECTED) {
            /* station=, as every line about a station, so one grep finds
             * them (at a station: from=district) */
            ts_log_warn("change_rejected", "%s=%s table=%s id=%s code=%s reason=%s",
                        actor && actor->kind == TS_ACTOR_SERVER ? "from" : "station", ts__actor_name(st, actor),
                        changes[i].table, changes[i].id, ts_err_name(results[i].code), results[i].reason);
            if (ts_store_audit(st, actor, "reject", changes[i].table, changes[i].id, ts_err_name(results[i].code),
                               results[i].reason) < 0) {
                rc = ts__sql_error(st, err, "audit");
                goto rollback;
            }
        } else if (from_station && results[i].outcome == TS_OUTCOME_CONFLICT) {
            if (ts_store_audit(st, actor, "push", changes[i].table, changes[i].id,
                               ts_outcome_name(results[i].outcome), NULL) < 0) {
                rc = ts__sql_error(st, err, "audit");
                goto rollback;
            }
        }
    }
    /* One audit entry per change set names every record it changed (rejects
     * and conflicts have their own entries above): who, what, which, when,
     * from where, without doubling the writes of a push. */
    if (from_station && !ax.restored && (rc = ts__audit_batch(st, actor, changes, n, results, err)) < 0)
        goto rollback;

    if (ax.restored) {
        ts__tx_rollback(st);
        st->seq = seq_before;
        st->lseq = lseq_before;
        st->hlc.last = hlc_before;
        if (ts__retire_replica(st, actor->name, actor->replica, ax.restored_why) < 0)
            ts_log_error("storage_error", "what=retire_replica replica=%s", actor->replica->b);
        rc = ts_error_set(err, TS_EREKEY_REQUIRED, "replica %s was restored from an old copy (%s): take a new id",
                          actor->replica->b, ax.restored_why);
        goto done;
    }

    if (from_station && ts__replica_put(st, actor->name, actor->replica, ax.max_lseq, ax.replica_num) < 0) {
        rc = ts__sql_error(st, err, "replica");
        goto rollback;
    }
    if (ax.max_hlc)
        ts_hlc_observe(&st->hlc, ax.max_hlc);
    if ((rc = ts__save_clocks(st, err)) < 0)
        goto rollback;
    if ((rc = ts__tx_commit(st, err)) < 0)
        goto restore;
    rc = 0;
    goto done;

rollback:
    ts__tx_rollback(st);
restore:
    st->seq = seq_before;
    st->lseq = lseq_before;
    st->hlc.last = hlc_before;
done:
    ts_conflicts_free(&ax.conflicts);
    ts_arena_free(&arena);
    return rc;
}

/* ---------------------------------------------------------------- reading changes */

static ts_change *ts__page_add(ts_change_page *p)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->items = ts_xreallocarray(p->items, p->cap, sizeof *p->items);
    }
    ts_change *c = &p->items[p->n++];
    memset(c, 0, sizeof *c);
    ts_version_init(&c->v);
    return c;
}

/* Rows are (tbl, id, owner, vv, fields, number). */
static int ts__page_row(ts_store *st, sqlite3_stmt *s, ts_change_page *p, bool is_lseq, ts_error *err)
{
    ts_change *c = ts__page_add(p);
    c->table = ts_arena_strndup(&p->arena, (const char *)sqlite3_column_text(s, 0), (size_t)sqlite3_column_bytes(s, 0));
    c->id = ts_arena_strndup(&p->arena, (const char *)sqlite3_column_text(s, 1), (size_t)sqlite3_column_bytes(s, 1));
    c->owner = ts_arena_strndup(&p->arena, (const char *)sqlite3_column_text(s, 2), (size_t)sqlite3_column_bytes(s, 2));
    if (is_lseq)
        c->lseq = (uint64_t)sqlite3_column_int64(s, 5);
    else
        c->seq = (uint64_t)sqlite3_column_int64(s, 5);
    return ts__decode_version(st, sqlite3_column_blob(s, 3), sqlite3_column_bytes(s, 3), sqlite3_column_blob(s, 4),
                              sqlite3_column_bytes(s, 4), &c->v, &p->arena, err);
}

int ts_store_changes_since(ts_store *st, const char *station, const ts_rid *replica, uint64_t since,
                           uint32_t limit, ts_change_page *page, uint64_t *next, bool *more, ts_error *err)
{
    ts_change_page_reset(page);
    if (limit == 0)
        limit = 1;
    sqlite3_stmt *s = st->stmt[station ? TS__CHANGES_FOR : TS__CHANGES_ALL];
    uint64_t seq_now = st->seq;
    char num_text[24];
    if (station) {
        sqlite3_bind_text(s, 1, station, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)since);
        sqlite3_bind_int64(s, 3, (sqlite3_int64)limit + 1);
        if (replica) {
            sqlite3_bind_text(s, 4, replica->b, replica->len, SQLITE_STATIC);
            char owner[TS_KEY_MAX + 1];
            uint64_t max_lseq;
            bool retired, found;
            int64_t num = 0;
            if (ts__replica_row(st, replica, owner, sizeof owner, &max_lseq, &retired, &found, &num) < 0)
                return ts__sql_error(st, err, "replica");
            if (num > 0) {
                snprintf(num_text, sizeof num_text, "#%" PRId64, num);
                sqlite3_bind_text(s, 5, num_text, -1, SQLITE_STATIC);
            } else /* never pushed: its id alone */
                sqlite3_bind_text(s, 5, replica->b, replica->len, SQLITE_STATIC);
        } else {
            sqlite3_bind_null(s, 4);
            sqlite3_bind_null(s, 5);
        }
    } else {
        sqlite3_bind_int64(s, 1, (sqlite3_int64)since);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)limit + 1);
    }
    int rc = 0, step;
    uint64_t last = since;
    *more = false;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (page->n == limit) {
            *more = true;
            break;
        }
        if ((rc = ts__page_row(st, s, page, false, err)) < 0)
            break;
        last = page->items[page->n - 1].seq;
    }
    if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = ts__sql_error(st, err, "changes since");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    /* with nothing more waiting, everything up to now has been seen (what
     * was skipped was not for this station) */
    *next = *more ? last : (seq_now > last ? seq_now : last);
    return rc;
}

int ts_store_pending(ts_store *st, uint64_t after, uint32_t limit, ts_change_page *page, ts_error *err)
{
    ts_change_page_reset(page);
    sqlite3_stmt *s = st->stmt[TS__PENDING];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)after);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)(limit ? limit : 1));
    int rc = 0, step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        if ((rc = ts__page_row(st, s, page, true, err)) < 0)
            break;
    if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = ts__sql_error(st, err, "pending");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc < 0)
        return rc;

    uint64_t unreported = 0;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM conflicts WHERE reported = 0", -1, &q, NULL) != SQLITE_OK)
        return ts__sql_error(st, err, "pending conflicts");
    if (sqlite3_step(q) == SQLITE_ROW)
        unreported = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    if (unreported == 0)
        return 0;

    /* conflicts found here travel with the version that settled them */
    s = st->stmt[TS__PENDING_LOSERS];
    for (uint32_t i = 0; i < page->n && rc == 0; i++) {
        ts_change *c = &page->items[i];
        sqlite3_bind_text(s, 1, c->table, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, c->id, -1, SQLITE_STATIC);
        uint32_t cap = 0;
        while ((step = sqlite3_step(s)) == SQLITE_ROW) {
            if (c->nlosers == cap) {
                cap = cap ? cap * 2 : 4;
                ts_field *nl = ts_arena_alloc(&page->arena, cap * sizeof *nl);
                if (c->nlosers)
                    memcpy(nl, c->losers, c->nlosers * sizeof *nl);
                c->losers = nl;
            }
            ts_field *l = &c->losers[c->nlosers];
            l->name = ts_arena_strndup(&page->arena, (const char *)sqlite3_column_text(s, 0),
                                       (size_t)sqlite3_column_bytes(s, 0));
            l->name_len = (uint32_t)sqlite3_column_bytes(s, 0);
            l->value_len = (uint32_t)sqlite3_column_bytes(s, 1);
            l->value = ts_arena_memdup(&page->arena, sqlite3_column_blob(s, 1), l->value_len);
            if (ts_rid_set(&l->dot.rid, (const char *)sqlite3_column_text(s, 2), (size_t)sqlite3_column_bytes(s, 2)) < 0)
                continue;
            l->dot.counter = (uint64_t)sqlite3_column_int64(s, 3);
            l->hlc = (uint64_t)sqlite3_column_int64(s, 4);
            /* only what this version's vv covers belongs with it */
            if (ts_vv_covers(&c->v.vv, &l->dot))
                c->nlosers++;
        }
        if (step != SQLITE_DONE)
            rc = ts__sql_error(st, err, "pending conflicts");
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    return rc;
}

int ts_store_pending_count(ts_store *st, uint64_t *count)
{
    uint64_t acked = 0;
    ts_store_meta_get_u64(st, "push_acked", &acked);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM records WHERE lseq > ?1", -1, &q, NULL) != SQLITE_OK)
        return TS_ESTORAGE;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)acked);
    int rc = sqlite3_step(q) == SQLITE_ROW ? 0 : TS_ESTORAGE;
    *count = rc == 0 ? (uint64_t)sqlite3_column_int64(q, 0) : 0;
    sqlite3_finalize(q);
    return rc;
}

/* ---------------------------------------------------------------- station bookkeeping */

static int ts__exec_bound(ts_store *st, const char *sql, uint64_t a, ts_error *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return ts__sql_error(st, err, "prepare");
    sqlite3_bind_int64(q, 1, (sqlite3_int64)a);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : ts__sql_error(st, err, sql);
    sqlite3_finalize(q);
    return rc;
}

int ts_store_ack_pushed(ts_store *st, uint64_t upto, ts_error *err)
{
    uint64_t acked = 0;
    ts_store_meta_get_u64(st, "push_acked", &acked);
    if (upto <= acked)
        return 0;
    int rc = ts__tx_begin(st, err);
    if (rc < 0)
        return rc;
    if (ts_store_meta_set_u64(st, "push_acked", upto) < 0 ||
        ts_store_meta_set_u64(st, "last_push_ok_ms", ts_wall_ms()) < 0)
        rc = ts__sql_error(st, err, "ack");
    /* A conflict travels with whatever version of its record is pending
     * (ts_store_pending): when the record was written again since the
     * conflict was logged, the version that carries it is numbered above
     * upto and has not been acknowledged yet. */
    if (rc == 0)
        rc = ts__exec_bound(st,
                            "UPDATE conflicts SET reported = 1 WHERE reported = 0 AND lseq <= ?1 AND NOT EXISTS"
                            " (SELECT 1 FROM records r WHERE r.tbl = conflicts.tbl AND r.id = conflicts.rec_id"
                            " AND r.lseq > ?1)",
                            upto, err);
    if (rc == 0)
        rc = ts__tx_commit(st, err);
    if (rc < 0)
        ts__tx_rollback(st);
    return rc;
}

int ts_store_mark_rejected(ts_store *st, const ts_change *c, int code, const char *reason, ts_error *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR REPLACE INTO rejected(tbl, rec_id, lseq, code, reason, at)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &q, NULL) != SQLITE_OK)
        return ts__sql_error(st, err, "rejected");
    sqlite3_bind_text(q, 1, c->table, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)c->lseq);
    sqlite3_bind_int(q, 4, code);
    sqlite3_bind_text(q, 5, reason ? reason : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, (sqlite3_int64)ts_wall_ms());
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : ts__sql_error(st, err, "rejected");
    sqlite3_finalize(q);
    return rc;
}

int ts_store_rekey(ts_store *st, ts_error *err)
{
    if (st->role != TS_ROLE_STATION)
        return ts_error_set(err, TS_EBAD_VALUE, "only a station rekeys");
    ts_rid old = st->replica, fresh;
    ts_rid_generate(&fresh, st->station);
    uint64_t acked = 0;
    ts_store_meta_get_u64(st, "push_acked", &acked);

    ts_change_page page;
    ts_change_page_init(&page);
    ts_arena arena;
    ts_arena_init(&arena, 16384);
    uint64_t lseq_before = st->lseq, restamped = 0;
    int rc = ts__tx_begin(st, err);
    if (rc < 0)
        goto out;
    /* Only unacknowledged versions can hold writes the server may have under
     * other contents: write each of this replica's fields in them again under
     * the new id, keeping value and HLC, and forget the old id in their vv. */
    for (uint64_t after = acked;;) {
        if ((rc = ts_store_pending(st, after, 500, &page, err)) < 0)
            goto rollback;
        if (page.n == 0)
            break;
        for (uint32_t i = 0; i < page.n; i++) {
            ts_change *c = &page.items[i];
            after = c->lseq;
            if (ts_vv_get(&c->v.vv, &old) == 0)
                continue;
            ts_vv_set(&c->v.vv, &old, 0);
            uint64_t counter = ts_vv_get(&c->v.vv, &fresh) + 1;
            bool any = false;
            for (uint32_t k = 0; k < c->v.nfields; k++) {
                if (ts_rid_eq(&c->v.fields[k].dot.rid, &old)) {
                    c->v.fields[k].dot.rid = fresh;
                    c->v.fields[k].dot.counter = counter;
                    any = true;
                }
            }
            if (any)
                ts_vv_set(&c->v.vv, &fresh, counter);
            const ts_table_def *t = ts_registry_table(st->reg, c->table);
            if ((rc = ts__write(st, t, c->table, c->id, c->owner, &c->v, c->seq, ++st->lseq, NULL, err)) < 0)
                goto rollback;
            restamped++;
        }
        if (page.n < 500)
            break;
    }
    char prev[1024] = "";
    ts_store_meta_get(st, "previous_replicas", prev, sizeof prev);
    char joined[1200];
    snprintf(joined, sizeof joined, "%s%s%s", prev, prev[0] ? " " : "", old.b);
    if (ts_store_meta_set(st, "replica", fresh.b) < 0 || ts_store_meta_set(st, "previous_replicas", joined) < 0 ||
        ts__save_clocks(st, err) < 0) {
        rc = ts__sql_error(st, err, "rekey");
        goto rollback;
    }
    ts_actor self = {TS_ACTOR_LOCAL, NULL, NULL, NULL};
    char detail[200];
    snprintf(detail, sizeof detail, "old=%s new=%s restamped=%" PRIu64, old.b, fresh.b, restamped);
    ts_store_audit(st, &self, "rekey", NULL, NULL, "applied", detail);
    if ((rc = ts__tx_commit(st, err)) < 0)
        goto rollback;
    st->replica = fresh;
    ts_log_warn("replica_rekeyed", "old=%s new=%s restamped=%" PRIu64, old.b, fresh.b, restamped);
    goto out;
rollback:
    ts__tx_rollback(st);
    st->lseq = lseq_before;
out:
    ts_change_page_free(&page);
    ts_arena_free(&arena);
    return rc;
}

uint64_t ts_store_clock_ahead_ms(ts_store *st)
{
    uint64_t now = ts_hlc_physical_ms(&st->hlc), at = TS_HLC_MS(st->hlc.last);
    return at > now ? at - now : 0;
}

static int ts__u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

typedef struct ts__key {
    char *table;
    char *id;
} ts__key;

int ts_store_restamp_ahead(ts_store *st, uint64_t bound_ms, ts_restamp_result *out, ts_error *err)
{
    memset(out, 0, sizeof *out);
    if (st->role != TS_ROLE_STATION)
        return ts_error_set(err, TS_EBAD_VALUE, "only a station sets its clock back");
    int rc = ts__tx_begin(st, err);
    if (rc < 0)
        return rc;
    uint64_t now = ts_hlc_physical_ms(&st->hlc);
    uint64_t limit = TS_HLC_MAKE(now + bound_ms, 0xffff);
    if (st->hlc.last <= limit)
        return ts__tx_commit(st, err); /* nothing ahead */
    out->ahead_ms = TS_HLC_MS(st->hlc.last) - now;

    ts__key *keys = NULL;
    size_t nkeys = 0;
    uint64_t *olds = NULL;
    size_t nolds = 0;
    ts_arena arena;
    ts_arena_init(&arena, 16384);
    uint64_t lseq_before = st->lseq, hlc_before = st->hlc.last, epoch_before = st->hlc_epoch;

    /* the new stamps start past everything else held: entries at or below
     * the limit (a record's hlc column is its latest), then other
     * replicas' entries in the records that hold ours above it */
    uint64_t base = TS_HLC_MAKE(now, 0);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT max(hlc) FROM records WHERE hlc <= ?1", -1, &q, NULL) != SQLITE_OK) {
        rc = ts__sql_error(st, err, "restamp");
        goto rollback;
    }
    sqlite3_bind_int64(q, 1, (sqlite3_int64)limit);
    if (sqlite3_step(q) == SQLITE_ROW && (uint64_t)sqlite3_column_int64(q, 0) > base)
        base = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    if (sqlite3_prepare_v2(st->db, "SELECT tbl, id FROM records WHERE hlc > ?1 ORDER BY lseq", -1, &q, NULL) !=
        SQLITE_OK) {
        rc = ts__sql_error(st, err, "restamp");
        goto rollback;
    }
    sqlite3_bind_int64(q, 1, (sqlite3_int64)limit);
    while (sqlite3_step(q) == SQLITE_ROW) {
        keys = ts_xreallocarray(keys, nkeys + 1, sizeof *keys);
        keys[nkeys].table = ts_xstrdup((const char *)sqlite3_column_text(q, 0));
        keys[nkeys].id = ts_xstrdup((const char *)sqlite3_column_text(q, 1));
        nkeys++;
    }
    sqlite3_finalize(q);
    for (size_t i = 0; i < nkeys; i++) {
        ts__row row;
        ts_version_init(&row.v);
        if ((rc = ts__load(st, keys[i].table, keys[i].id, &row, &arena, err)) < 0)
            goto rollback;
        for (uint32_t k = 0; k < row.v.nfields; k++) {
            const ts_field *f = &row.v.fields[k];
            if (f->hlc > limit && ts_rid_eq(&f->dot.rid, &st->replica)) {
                olds = ts_xreallocarray(olds, nolds + 1, sizeof *olds);
                olds[nolds++] = f->hlc;
            } else if (f->hlc > base) {
                base = f->hlc;
            }
        }
        ts_version_free(&row.v);
    }
    /* one new stamp per old one, in the old order: a write keeps its place
     * among this replica's writes and all its fields keep one stamp */
    if (nolds > 1)
        qsort(olds, nolds, sizeof *olds, ts__u64_cmp);
    size_t nuniq = 0;
    for (size_t i = 0; i < nolds; i++)
        if (nuniq == 0 || olds[nuniq - 1] != olds[i])
            olds[nuniq++] = olds[i];
    for (size_t i = 0; i < nkeys; i++) {
        ts__row row;
        ts_version_init(&row.v);
        if ((rc = ts__load(st, keys[i].table, keys[i].id, &row, &arena, err)) < 0)
            goto rollback;
        uint64_t changed = 0;
        for (uint32_t k = 0; k < row.v.nfields; k++) {
            ts_field *f = &row.v.fields[k];
            if (f->hlc <= limit || !ts_rid_eq(&f->dot.rid, &st->replica))
                continue;
            const uint64_t *at = olds ? bsearch(&f->hlc, olds, nuniq, sizeof *olds, ts__u64_cmp) : NULL;
            if (at == NULL)
                continue; /* cannot be: the first pass listed every such stamp */
            f->hlc = base + 1 + (uint64_t)(at - olds);
            changed++;
        }
        if (changed) {
            const ts_table_def *t = ts_registry_table(st->reg, keys[i].table);
            rc = ts__write(st, t, keys[i].table, keys[i].id, row.owner, &row.v, row.seq, ++st->lseq, NULL, err);
            if (rc < 0) {
                ts_version_free(&row.v);
                goto rollback;
            }
            out->fields += changed;
            out->records++;
        }
        ts_version_free(&row.v);
    }
    st->hlc.last = base + nuniq;
    st->hlc_epoch++;
    if (ts_store_meta_set_u64(st, "hlc_epoch", st->hlc_epoch) < 0 || ts__save_clocks(st, err) < 0) {
        rc = ts__sql_error(st, err, "restamp");
        goto rollback;
    }
    ts_actor self = {TS_ACTOR_LOCAL, NULL, NULL, NULL};
    char detail[160];
    snprintf(detail, sizeof detail, "ahead_ms=%" PRIu64 " fields=%" PRIu64 " records=%" PRIu64, out->ahead_ms,
             out->fields, out->records);
    ts_store_audit(st, &self, "restamp", NULL, NULL, "applied", detail);
    if ((rc = ts__tx_commit(st, err)) < 0)
        goto rollback;
    ts_log_warn("clock_set_back", "ahead_ms=%" PRIu64 " fields=%" PRIu64 " records=%" PRIu64, out->ahead_ms,
                out->fields, out->records);
    goto out;
rollback:
    ts__tx_rollback(st);
    st->lseq = lseq_before;
    st->hlc.last = hlc_before;
    st->hlc_epoch = epoch_before;
    memset(out, 0, sizeof *out);
out:
    for (size_t i = 0; i < nkeys; i++) {
        free(keys[i].table);
        free(keys[i].id);
    }
    free(keys);
    free(olds);
    ts_arena_free(&arena);
    return rc;
}

/* ---------------------------------------------------------------- server bookkeeping */

int ts_store_station_cursor(ts_store *st, const char *station, uint64_t seq, ts_error *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO station_cursors(station, cursor, updated_at) VALUES(?1, ?2, ?3)"
                           " ON CONFLICT(station) DO UPDATE SET cursor = excluded.cursor,"
                           " updated_at = excluded.updated_at",
                           -1, &q, NULL) != SQLITE_OK)
        return ts__sql_error(st, err, "cursor");
    sqlite3_bind_text(q, 1, station, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)seq);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)ts_wall_ms());
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : ts__sql_error(st, err, "cursor");
    sqlite3_finalize(q);
    return rc;
}

int ts_store_check_replica(ts_store *st, const char *station, const ts_rid *replica, uint64_t lseq,
                           ts_error *err)
{
    char owner[TS_KEY_MAX + 1];
    uint64_t max_lseq;
    bool retired, found;
    int64_t num;
    if (ts__replica_row(st, replica, owner, sizeof owner, &max_lseq, &retired, &found, &num) < 0)
        return ts__sql_error(st, err, "replica");
    if (found && !ts__is(owner, station))
        return ts_error_set(err, TS_EREKEY_REQUIRED, "replica %s belongs to station %s: take a new id", replica->b,
                            owner);
    if (retired)
        return ts_error_set(err, TS_EREKEY_REQUIRED, "replica %s is retired: take a new id", replica->b);
    if (lseq == TS_LSEQ_ABSENT) {
        if (found && max_lseq > 0)
            return ts_error_set(err, TS_EMISSING_KEY,
                                "HELLO: missing required key \"lseq\" (replica %s has pushed changes up to %" PRIu64
                                ")",
                                replica->b, max_lseq);
        lseq = 0;
    }
    if (found && lseq < max_lseq) {
        char why[160];
        snprintf(why, sizeof why, "change counter %" PRIu64 " is behind %" PRIu64 " already received", lseq,
                 max_lseq);
        if (ts__retire_replica(st, station, replica, why) < 0)
            return ts__sql_error(st, err, "replica");
        return ts_error_set(err, TS_EREKEY_REQUIRED, "replica %s was restored from an old copy (%s): take a new id",
                            replica->b, why);
    }
    if (ts__replica_put(st, station, replica, 0, 0) < 0)
        return ts__sql_error(st, err, "replica");
    return 0;
}

static int ts__cursor_of(ts_store *st, const char *station, uint64_t *cursor, bool *known)
{
    sqlite3_stmt *q;
    /* unreadable: as if known and behind, so nothing is purged */
    *known = true;
    *cursor = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT cursor FROM station_cursors WHERE station = ?1", -1, &q, NULL) != SQLITE_OK)
        return TS_ESTORAGE;
    sqlite3_bind_text(q, 1, station, -1, SQLITE_STATIC);
    *known = sqlite3_step(q) == SQLITE_ROW;
    *cursor = *known ? (uint64_t)sqlite3_column_int64(q, 0) : 0;
    sqlite3_finalize(q);
    return 0;
}

int ts_store_purge_tombstones(ts_store *st, uint32_t limit, uint64_t *purged, ts_error *err)
{
    *purged = 0;
    if (st->role != TS_ROLE_SERVER)
        return ts_error_set(err, TS_EBAD_VALUE, "tombstones are purged at the district");
    uint64_t min_all = UINT64_MAX;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT min(cursor), count(*) FROM station_cursors", -1, &q, NULL) != SQLITE_OK)
        return ts__sql_error(st, err, "purge");
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 1) > 0)
        min_all = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);

    if (sqlite3_prepare_v2(st->db,
                           "SELECT tbl, id, audience, seq, fields FROM records"
                           " WHERE deleted = 1 AND purged = 0 ORDER BY seq LIMIT ?1",
                           -1, &q, NULL) != SQLITE_OK)
        return ts__sql_error(st, err, "purge");
    sqlite3_bind_int(q, 1, (int)(limit ? limit : 1000));
    sqlite3_stmt *upd = NULL, *aud = NULL;
    int rc = ts__tx_begin(st, err);
    if (rc < 0)
        goto out;
    if (sqlite3_prepare_v2(st->db, "UPDATE records SET fields = ?3, purged = 1 WHERE tbl = ?1 AND id = ?2", -1, &upd,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "SELECT station FROM record_audience WHERE tbl = ?1 AND id = ?2", -1, &aud,
                           NULL) != SQLITE_OK) {
        rc = ts__sql_error(st, err, "purge");
        goto rollback;
    }
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    while (rc == 0 && sqlite3_step(q) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(q, 0);
        const char *id = (const char *)sqlite3_column_text(q, 1);
        const char *audience = (const char *)sqlite3_column_text(q, 2);
        uint64_t seq = (uint64_t)sqlite3_column_int64(q, 3);
        /* every station that can see it must have stored it; a station never
         * seen has never held it, and will receive the bare tombstone */
        bool ok = true;
        if (ts__is(audience, "*")) {
            ok = min_all == UINT64_MAX || min_all >= seq;
        } else if (ts__is(audience, "+")) {
            sqlite3_bind_text(aud, 1, table, -1, SQLITE_STATIC);
            sqlite3_bind_text(aud, 2, id, -1, SQLITE_STATIC);
            while (ok && sqlite3_step(aud) == SQLITE_ROW) {
                uint64_t c;
                bool known;
                ts__cursor_of(st, (const char *)sqlite3_column_text(aud, 0), &c, &known);
                ok = !known || c >= seq;
            }
            sqlite3_reset(aud);
        } else {
            uint64_t c;
            bool known;
            ts__cursor_of(st, audience, &c, &known);
            ok = !known || c >= seq;
        }
        if (!ok)
            continue;
        /* keep the key, owner, vv and the deletion itself: any older version
         * that arrives later is recognised as already known */
        ts_version v;
        ts_version_init(&v);
        msgpack_unpacked up;
        ts_arena_free(&arena);
        if (ts_mp_unpack(sqlite3_column_blob(q, 4), (size_t)sqlite3_column_bytes(q, 4), NULL, &up, err) == 0) {
            rc = ts_fields_unpack(&up.data, &v, &arena, &st->scratch, "stored fields", err);
            msgpack_unpacked_destroy(&up);
        } else {
            rc = TS_ESTORAGE;
        }
        const ts_field *del = rc == 0 ? ts_version_field(&v, TS_FIELD_DELETED) : NULL;
        if (del != NULL) {
            ts_version bare = {v.vv, (ts_field *)del, 1};
            ts_buf b = TS_BUF_INIT;
            msgpack_packer pk;
            ts_buf_packer(&b, &pk);
            ts_fields_pack(&pk, &bare);
            sqlite3_bind_text(upd, 1, table, -1, SQLITE_STATIC);
            sqlite3_bind_text(upd, 2, id, -1, SQLITE_STATIC);
            sqlite3_bind_blob(upd, 3, b.data, (int)b.len, SQLITE_STATIC);
            if (sqlite3_step(upd) != SQLITE_DONE)
                rc = ts__sql_error(st, err, "purge");
            sqlite3_reset(upd);
            ts_buf_free(&b);
            (*purged)++;
        }
        ts_version_free(&v);
    }
    ts_arena_free(&arena);
    if (rc == 0)
        rc = ts__tx_commit(st, err);
    if (rc == 0)
        goto out;
rollback:
    ts__tx_rollback(st);
    *purged = 0;
out:
    sqlite3_finalize(upd);
    sqlite3_finalize(aud);
    sqlite3_finalize(q);
    return rc;
}
