/* The replicated record store: one SQLite database per replica (the district
 * server, or one station). It applies the merge rules of ../DESIGN.md, keeps
 * the conflict and audit logs, hands out changes by cursor, and never
 * acknowledges anything it has not committed.
 *
 * Roles: a server store authorises every change against the table registry
 * and the pushing station, gives each accepted version a sequence number and
 * answers "what is visible to station S since sequence N". A station store
 * numbers its own changes (lseq) so it can push exactly what the server has
 * not acknowledged.
 *
 * A ts_store is used from one thread at a time. Other processes may open the
 * same file (the station CLI while the agent runs): SQLite's locking and WAL
 * make that safe; writers wait up to the busy timeout. */
#ifndef TS_STORE_H
#define TS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/ts_arena.h"
#include "common/ts_buf.h"
#include "common/ts_error.h"
#include "common/ts_hlc.h"
#include "common/ts_record.h"
#include "common/ts_registry.h"
#include "common/ts_vv.h"

#define TS_STORE_SCHEMA_VERSION 11

typedef struct ts_store ts_store;

typedef enum ts_store_role {
    TS_ROLE_SERVER = 1,
    TS_ROLE_STATION = 2
} ts_store_role;

typedef enum ts_sync_mode {
    TS_SYNC_OFF = 0,
    TS_SYNC_NORMAL = 1,
    TS_SYNC_FULL = 2
} ts_sync_mode;

struct ts_table_def;
struct ts_version;
/* A rule the store cannot know about (e.g. the order of a notice's handling
 * states), checked on each change a station pushes that would change a record:
 * before is the stored version (NULL when new), change what the station sent,
 * after the merged result. Returns false to refuse the change, why saying so. */
typedef bool (*ts_change_check_fn)(void *ctx, const struct ts_table_def *t, const struct ts_version *before,
                                   const struct ts_version *change, const struct ts_version *after, char *why,
                                   size_t why_size);

typedef struct ts_store_options {
    const char *path;
    ts_store_role role;
    const ts_registry *registry; /* required; must outlive the store */
    /* Station code: the station's own code (station role), or the district
     * owner name (server role; defaults to registry->district_owner). */
    const char *station;
    ts_sync_mode synchronous;   /* default TS_SYNC_FULL */
    uint64_t max_ahead_ms;      /* HLC skew bound (server), default 5 min */
    ts_clock_fn clock;          /* wall clock override (tests); NULL = real */
    void *clock_ctx;
    int busy_timeout_ms;        /* default 5000 */
    bool create;                /* create the database when missing (default: must exist) */
    bool read_only;
    ts_change_check_fn check; /* server role: station changes; NULL = none */
    void *check_ctx;
    const char *vfs;          /* a registered SQLite VFS (tests: power cuts); NULL = the default */
} ts_store_options;

void ts_store_options_init(ts_store_options *opt);

int ts_store_open(ts_store **out, const ts_store_options *opt, ts_error *err);
void ts_store_close(ts_store *st);

ts_store_role ts_store_get_role(const ts_store *st);
const ts_rid *ts_store_replica(const ts_store *st);
/* A random id fixed when the database was created: a cursor from another
 * server database is recognised by it. */
const char *ts_store_db_id(const ts_store *st);
const char *ts_store_station(const ts_store *st);
const ts_registry *ts_store_registry(const ts_store *st);
ts_hlc *ts_store_hlc(ts_store *st);
/* Highest sequence number given so far (server). */
uint64_t ts_store_last_seq(const ts_store *st);
/* The SQLite handle, for read-only reporting queries in the layers above. */
struct sqlite3 *ts_store_db(ts_store *st);

/* A transaction around several operations (an import chunk): each store
 * operation inside becomes a savepoint, so one failing undoes only itself. */
int ts_store_begin(ts_store *st, ts_error *err);
/* A COMMIT that fails (a full disk) is rolled back: nothing of the
 * transaction stays, in the file or in the store's counters. */
int ts_store_commit(ts_store *st, ts_error *err);
void ts_store_rollback(ts_store *st);
/* Whether a transaction is open: a write made now is not stored until its
 * outermost commit. */
bool ts_store_in_tx(const ts_store *st);

/* WAL checkpoints off the store's thread (common/ts_store_wal.c). After
 * ts_store_wal_offload the store's connection no longer checkpoints after
 * its commits unless the WAL holds inline_pages or more; the owner runs
 * ts_store_ckpt_run on a connection of its own, on another thread, when
 * ts_store_wal_take says a commit left at least min_pages in the WAL (it
 * reads and clears "a commit happened"; any thread). */
typedef struct ts_store_ckpt ts_store_ckpt;
void ts_store_wal_offload(ts_store *st, uint32_t inline_pages);
bool ts_store_wal_take(ts_store *st, uint32_t min_pages);
uint64_t ts_store_wal_inline_checkpoints(const ts_store *st);
/* Opens the checkpointer's connection (same file, VFS and synchronous). */
int ts_store_ckpt_open(ts_store *st, ts_store_ckpt **out, ts_error *err);
/* A PASSIVE checkpoint: never waits for the writer; *wal_pages, *copied as
 * sqlite3_wal_checkpoint_v2 reports them. */
int ts_store_ckpt_run(ts_store_ckpt *ck, int *wal_pages, int *copied, ts_error *err);
void ts_store_ckpt_close(ts_store_ckpt *ck);

/* ---------------------------------------------------------------- metadata */
int ts_store_meta_get(ts_store *st, const char *key, char *out, size_t size);
int ts_store_meta_get_u64(ts_store *st, const char *key, uint64_t *out);
int ts_store_meta_set(ts_store *st, const char *key, const char *value);
int ts_store_meta_set_u64(ts_store *st, const char *key, uint64_t value);

/* ---------------------------------------------------------------- actors */
typedef enum ts_actor_kind {
    TS_ACTOR_LOCAL = 0,   /* this replica's own user (CLI, import, admin UI on the server) */
    TS_ACTOR_STATION = 1, /* a station, identified by its certificate (server side) */
    TS_ACTOR_SERVER = 2,  /* the district server (station side) */
    TS_ACTOR_ADMIN = 3    /* a district admin, through the admin API */
} ts_actor_kind;

typedef struct ts_actor {
    ts_actor_kind kind;
    const char *name;     /* station code or admin user */
    const ts_rid *replica; /* the pushing replica (stations) */
    const char *peer;     /* address, for the audit log */
} ts_actor;

/* ---------------------------------------------------------------- local writes */
typedef struct ts_kv {
    const char *name;
    const uint8_t *value; /* canonical msgpack (see ts_value_* helpers) */
    size_t len;
} ts_kv;

/* Writes fields of one record at this replica: vv[self] += 1, one fresh HLC,
 * each field (value, (self, vv[self]), hlc), and `_deleted` = false only when
 * the record is new or was deleted (an edit of a live record writes only the
 * fields it changes, so it never conflicts with a delete). The result is
 * validated against the registry before commit. owner NULL means "mine" (the
 * station's code, or the district owner on the server). On the server the
 * new version gets a sequence number like any accepted change. */
int ts_store_put(ts_store *st, const ts_actor *actor, const char *table, const char *id, const char *owner,
                 const ts_kv *fields, size_t nfields, ts_error *err);
/* Sets `_deleted` = true (a local write). TS_ENOT_FOUND when absent. */
int ts_store_delete(ts_store *st, const ts_actor *actor, const char *table, const char *id, ts_error *err);

/* Canonical msgpack of simple values, for ts_kv. */
void ts_value_str(ts_buf *b, const char *s);
void ts_value_int(ts_buf *b, int64_t v);
void ts_value_real(ts_buf *b, double v);
void ts_value_bool(ts_buf *b, bool v);
void ts_value_nil(ts_buf *b);

/* ---------------------------------------------------------------- reading */
/* Reads one record; fields in arena, vv owned by out (ts_version_free).
 * TS_ENOT_FOUND when absent. */
int ts_store_get(ts_store *st, const char *table, const char *id, ts_change *out, ts_arena *arena,
                 ts_error *err);

typedef struct ts_change_page {
    ts_change *items;
    uint32_t n;
    uint32_t cap;
    ts_arena arena;
} ts_change_page;

void ts_change_page_init(ts_change_page *p);
void ts_change_page_reset(ts_change_page *p);
void ts_change_page_free(ts_change_page *p);

/* Server: versions visible to `station` (NULL: everything) with seq > since,
 * in seq order, at most limit; versions that are exactly what `replica`
 * pushed (when not NULL) are skipped, since it has them. *next is the cursor
 * to ask from next time and *more whether more are waiting. Costs in
 * proportion to what it returns. */
int ts_store_changes_since(ts_store *st, const char *station, const ts_rid *replica, uint64_t since,
                           uint32_t limit, ts_change_page *page, uint64_t *next, bool *more, ts_error *err);

/* Station: local versions the server has not acknowledged, lseq > after,
 * in lseq order. Each carries its lseq (and the conflicts found here, see
 * ts_store_apply). */
int ts_store_pending(ts_store *st, uint64_t after, uint32_t limit, ts_change_page *page, ts_error *err);
/* Number of pending versions. */
int ts_store_pending_count(ts_store *st, uint64_t *count);

/* ---------------------------------------------------------------- applying */
typedef struct ts_apply_result {
    ts_outcome outcome;
    int code;          /* TS_E* when rejected */
    char reason[200];  /* why, when rejected */
    uint64_t seq;      /* server: sequence of the stored version */
    uint32_t conflicts; /* true conflicts logged by this change */
} ts_apply_result;

/* Applies a change set from another replica in one transaction.
 *
 * Server (actor: a station or an admin): each change is authorised (tables,
 * ownership, audience, station-writable fields, only the pusher's own new
 * dots), validated against the registry, then merged; a rejected change
 * never aborts its valid neighbours. The whole set is refused, and nothing
 * changes, when any HLC is beyond the skew bound (TS_ECLOCK_AHEAD) or when
 * the pushing replica is found to have been restored from an old copy
 * (TS_EREKEY_REQUIRED).
 *
 * Station (actor: the server): changes are validated and merged; the HLC
 * advances past them.
 *
 * Returns 0 with one result per change, or a negative code for the whole
 * set (err says why; results untouched). */
int ts_store_apply(ts_store *st, const ts_actor *actor, const ts_change *changes, size_t n,
                   ts_apply_result *results, ts_error *err);
/* ts_store_apply with the schema check done beforehand, off the store's
 * thread (the district's loop does it while the store applies other
 * stations' pushes): valid[i] true says change i passed ts_table_validate
 * against this store's registry (ts_store_precheck), and the store does not
 * check it again; false, or valid NULL, and the store checks it (and says
 * why it is refused). */
int ts_store_apply_checked(ts_store *st, const ts_actor *actor, const ts_change *changes, size_t n,
                           const bool *valid, ts_apply_result *results, ts_error *err);
/* valid[i] for ts_store_apply_checked: needs only the registry (read-only),
 * so any thread may run it. */
void ts_store_precheck(const ts_registry *reg, const ts_change *changes, size_t n, bool *valid);

/* ---------------------------------------------------------------- station bookkeeping */
/* The server acknowledged every pending version with lseq <= upto. */
int ts_store_ack_pushed(ts_store *st, uint64_t upto, ts_error *err);
/* Marks pending changes the server rejected for good (kept, not re-sent). */
int ts_store_mark_rejected(ts_store *st, const ts_change *c, int code, const char *reason, ts_error *err);
/* Takes a new replica id after the server found this database restored from
 * an old copy: every field this replica wrote that the server may not have is
 * written again under the new id, so no dot is ever reused and nothing is lost. */
int ts_store_rekey(ts_store *st, ts_error *err);

/* What ts_store_restamp_ahead did. */
typedef struct ts_restamp_result {
    uint64_t ahead_ms;  /* how far past now this replica's clock was */
    uint64_t fields;    /* field entries given a new timestamp */
    uint64_t records;   /* records written again (now pending) */
} ts_restamp_result;

/* A station whose clock ran ahead keeps stamping writes past the district's
 * skew bound even once the clock is right (a hybrid clock never goes back),
 * and the district refuses them (CLOCK_AHEAD) until real time catches up.
 * This sets the clock back: every field this replica wrote with a timestamp
 * more than bound_ms past now - which the district can never have accepted
 * - gets a new one, in their old order, each later than every other entry
 * this database holds (so no write comes to look older than one it had
 * seen), the records become pending again, and other processes on this
 * database follow the new clock (an epoch in meta). Nothing else changes:
 * values and dots stay, so nothing that left the station is contradicted.
 * Refused (TS_EBAD_VALUE) unless station role; *out zero when nothing was ahead. */
int ts_store_restamp_ahead(ts_store *st, uint64_t bound_ms, ts_restamp_result *out, ts_error *err);
/* How far (ms) this replica's clock runs past real time; 0 when it does not. */
uint64_t ts_store_clock_ahead_ms(ts_store *st);

/* ---------------------------------------------------------------- server bookkeeping */
/* Records that `station` has stored everything visible to it up to seq. */
int ts_store_station_cursor(ts_store *st, const char *station, uint64_t seq, ts_error *err);
/* Checks a connecting replica: TS_EREKEY_REQUIRED when it is retired or its
 * change counter went back (restored from an old copy). Registers new ones.
 * lseq TS_LSEQ_ABSENT (a HELLO without it): TS_EMISSING_KEY, and the replica
 * stays usable, when it has pushed anything: without its counter the check
 * cannot be made, and retiring a replica for a missing key would be wrong. */
#define TS_LSEQ_ABSENT UINT64_MAX
int ts_store_check_replica(ts_store *st, const char *station, const ts_rid *replica, uint64_t lseq,
                           ts_error *err);
/* Reduces tombstones every station that can see them has acknowledged to
 * their key, owner and vv (fields dropped), so nothing can resurrect them.
 * Returns the number purged. */
int ts_store_purge_tombstones(ts_store *st, uint32_t limit, uint64_t *purged, ts_error *err);

/* ---------------------------------------------------------------- logs */
typedef struct ts_conflict_row {
    int64_t id;
    char table[TS_KEY_MAX + 1];
    char record[TS_KEY_MAX + 1];
    char field[TS_FIELD_NAME_MAX + 1];
    char rule[32];
    char detected_by[TS_RID_MAX + 1]; /* the replica whose merge found it */
    char actor[TS_KEY_MAX + 1];       /* who sent the change that revealed it */
    char winner_replica[TS_RID_MAX + 1];
    uint64_t winner_counter, winner_hlc;
    char loser_replica[TS_RID_MAX + 1];
    uint64_t loser_counter, loser_hlc;
    char *winner_json; /* the values, as JSON */
    char *loser_json;
    uint64_t detected_at;
    bool resolved;
    uint64_t resolved_at;
    char resolved_by[TS_KEY_MAX + 1];
    char *resolution;
} ts_conflict_row;

/* Conflicts in id order after after_id (table NULL: all tables). */
int ts_store_conflicts(ts_store *st, bool unresolved_only, const char *table, int64_t after_id, uint32_t limit,
                       ts_conflict_row **rows, size_t *n, ts_error *err);
void ts_conflict_rows_free(ts_conflict_row *rows, size_t n);

/* Records of one table in id order, after `after` (NULL: from the start). */
int ts_store_list(ts_store *st, const char *table, const char *after, uint32_t limit, bool include_deleted,
                  ts_change_page *page, ts_error *err);
/* The live records of one table whose id is in [from, before), in id order
 * (the first `limit`: page on with from = the last id and "\x01"). A search
 * of the records' key: it reads only the range. */
int ts_store_list_range(ts_store *st, const char *table, const char *from, const char *before, uint32_t limit,
                        ts_change_page *page, ts_error *err);
/* Station: changes the district refused for good. */
int ts_store_rejected_count(ts_store *st, uint64_t *count);
/* Station: makes every record this station owns pending again, so a new
 * district database receives all of it (disaster recovery). */
int ts_store_repush_owned(ts_store *st, uint64_t *count, ts_error *err);

int ts_store_conflict_count(ts_store *st, bool unresolved_only, uint64_t *count);
/* Marks a conflict resolved (the resolving write is a separate ts_store_put). */
int ts_store_conflict_resolve(ts_store *st, int64_t id, const char *by, const char *resolution, ts_error *err);

/* Appends an audit entry in its own statement (inside the caller's
 * transaction when one is open). */
int ts_store_audit(ts_store *st, const ts_actor *actor, const char *action, const char *table,
                   const char *record, const char *outcome, const char *detail);

/* ---------------------------------------------------------------- maintenance */
/* Canonical, byte-stable dump of every record (one JSON object per line,
 * ordered by table and id; replica-local bookkeeping left out), so two
 * replicas that hold the same versions dump identical bytes. */
int ts_store_dump(ts_store *st, FILE *out, ts_error *err);
int ts_store_dump_buf(ts_store *st, ts_buf *out, ts_error *err);
/* PRAGMA integrity_check == "ok" */
int ts_store_integrity_check(ts_store *st, ts_error *err);

#endif
