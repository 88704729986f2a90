/* Record versions and the merge rules of ../DESIGN.md ("Records and replicas").
 *
 * A version is a vv plus fields; each field holds (value, dot, hlc) where the
 * value is kept as canonical msgpack bytes, so comparing and storing values
 * never depends on how a peer encoded them. Field arrays, names and values
 * live in a caller-supplied arena; the vv owns heap memory (ts_version_free). */
#ifndef TS_RECORD_H
#define TS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "common/ts_arena.h"
#include "common/ts_buf.h"
#include "common/ts_error.h"
#include "common/ts_vv.h"

#define TS_FIELD_DELETED "_deleted"
#define TS_FIELD_NAME_MAX 64
#define TS_KEY_MAX 128 /* table names, record ids, owners */

typedef struct ts_field {
    const char *name; /* NUL-terminated */
    uint32_t name_len;
    uint32_t value_len;
    const uint8_t *value; /* canonical msgpack */
    ts_dot dot;
    uint64_t hlc;
} ts_field;

typedef struct ts_version {
    ts_vv vv;
    ts_field *fields; /* sorted by name bytes, names unique */
    uint32_t nfields;
} ts_version;

/* One record version as it travels: key, owner, version and bookkeeping. */
typedef struct ts_change {
    const char *table;
    const char *id;
    const char *owner;
    ts_version v;
    uint64_t seq;  /* server sequence number (0 when not from the server) */
    uint64_t lseq; /* sender's local change number (0 when absent) */
    /* Entries this version beat in true conflicts found at the sender (a
     * station merging the server's version into its own unpushed one), so
     * the district logs them too. name = field, value/dot/hlc = the loser. */
    ts_field *losers;
    uint32_t nlosers;
} ts_change;

/* What applying one change did (PUSH_ACK carries it per change). */
typedef enum ts_outcome {
    TS_OUTCOME_APPLIED = 0,   /* new to us: stored as it came */
    TS_OUTCOME_DUPLICATE = 1, /* already known (its vv <= ours): nothing changed */
    TS_OUTCOME_MERGED = 2,    /* concurrent with ours: merged without a true conflict */
    TS_OUTCOME_CONFLICT = 3,  /* merged, and at least one true conflict was logged */
    TS_OUTCOME_REJECTED = 4   /* refused, with an error code and reason; nothing changed */
} ts_outcome;

const char *ts_outcome_name(ts_outcome outcome);
/* -1 when unknown */
int ts_outcome_parse(const char *s, size_t n);

/* A true conflict found while merging: the entry kept and the entry lost. */
typedef struct ts_conflict {
    const char *field;
    ts_field winner;
    ts_field loser;
    const char *rule; /* "later-hlc" or "higher-replica" (equal HLCs) */
} ts_conflict;

typedef struct ts_conflicts {
    ts_conflict *items;
    uint32_t n;
    uint32_t cap;
} ts_conflicts;

typedef enum ts_merge_result {
    TS_MERGE_KEPT = 0,     /* remote <= local: already known, nothing changes */
    TS_MERGE_REPLACED = 1, /* local <= remote: remote replaces local */
    TS_MERGE_MERGED = 2    /* concurrent: merged field by field */
} ts_merge_result;

void ts_version_init(ts_version *v);
void ts_version_free(ts_version *v);
/* Deep copy of fields into arena (names and values included). */
void ts_version_copy(ts_version *dst, const ts_version *src, ts_arena *arena);
const ts_field *ts_version_field(const ts_version *v, const char *name);
/* True when `_deleted` is present and true. */
bool ts_version_deleted(const ts_version *v);
/* Highest field HLC (0 when no fields). */
uint64_t ts_version_max_hlc(const ts_version *v);

/* Sets or replaces one field (keeps the array sorted); value bytes are copied. */
void ts_version_put(ts_version *v, ts_arena *arena, const char *name, const uint8_t *value,
                    size_t value_len, const ts_dot *dot, uint64_t hlc);

/* Merges remote b into local a (a may be NULL: absent locally) into *out.
 * out's fields point into a's and b's storage (and arena); out->vv is fresh.
 * Conflicts (when not NULL) receive each true conflict. Fails with
 * TS_EINCONSISTENT when the two sides contradict each other (one dot, two
 * different writes), which only a replica reusing dots can cause. */
int ts_version_merge(const ts_version *a, const ts_version *b, ts_version *out, ts_arena *arena,
                     ts_merge_result *result, ts_conflicts *conflicts, ts_error *err);

void ts_conflicts_init(ts_conflicts *c);
void ts_conflicts_free(ts_conflicts *c);
void ts_conflicts_reset(ts_conflicts *c);

/* Wire and storage form of the fields: a map {name: [value, rid, counter, hlc]}
 * with names in byte order. */
void ts_fields_pack(msgpack_packer *pk, const ts_version *v);
/* The same bytes, written straight into b. */
void ts_fields_pack_buf(struct ts_buf *b, const ts_version *v);
/* Decodes a fields map into v (fields in arena, values re-encoded canonically
 * through scratch). Validates names, dots and `_deleted` being a bool. */
int ts_fields_unpack(const msgpack_object *o, ts_version *v, ts_arena *arena, ts_buf *scratch,
                     const char *where, ts_error *err);

/* Field names: 1..64 bytes of [a-z0-9_], not starting with a digit. */
bool ts_field_name_valid(const char *s, size_t n);
/* Keys on the wire (table names, ids, owners): 1..128 bytes of UTF-8
 * without control characters. A frame with anything else is malformed;
 * what a key may be beyond that is ts_ident_problem's, checked per change
 * so one bad id is refused on its own rather than failing its whole frame. */
bool ts_key_valid(const char *s, size_t n);
/* The identifier rule, for new record ids on every path (sync push at the
 * district, admin API, the station's command line), station codes (at
 * enrolment) and, with ts_account_name_problem's narrower set, console
 * account names: 1..128 bytes of UTF-8 holding only printable ASCII other
 * than space, " ' \ < > and `, and the precomposed letters of the Latin
 * script (Latin-1 letters, Latin Extended-A and -B, Latin Extended
 * Additional: every Vietnamese letter). So no space of any kind (NBSP
 * included), no invisible or direction character (U+200B, U+202E, ...), no
 * combining mark (a decomposed "ễ" is refused, the composed one is taken),
 * and no letter of another script that looks like a Latin one (Cyrillic
 * "а" in "аdmin"). Returns NULL when s is an identifier, else why not (a
 * fixed English phrase that names no byte of s). */
const char *ts_ident_problem(const char *s, size_t n);
bool ts_ident_valid(const char *s, size_t n);
/* Console account names: an identifier of ASCII letters, digits, '.', '_'
 * and '-' only, 1..64 bytes, compared without case (ts_account_name_fold
 * makes the stored form: lowercase). */
#define TS_ACCOUNT_NAME_MAX 64
const char *ts_account_name_problem(const char *s);
void ts_account_name_fold(const char *s, char *out, size_t size);

bool ts_field_equal(const ts_field *a, const ts_field *b);

#endif
