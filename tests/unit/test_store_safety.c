/* The store's safety properties: crash atomicity, migrations, restored
 * replicas, HLC causality, clock skew, per-change outcomes, the cost of
 * "changes since", tombstone purging and idempotent re-application
 * (../../../shared/DESIGN.md: "Records and replicas", "Sync, durability,
 * delivery"). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/ts_mp.h"
#include "common/ts_store.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_store.h"

#define BN "binhnguyen"
#define XL "xuanlang"

/* ================================================================ helpers */

typedef struct fixture {
    char *dir;
    ts_store *srv;
    ts_store *bn; /* Bình Nguyên */
    ts_store *xl; /* Xuân Lãng */
    ts_store *aux[4];
} fixture;

static int setup(void **state)
{
    fixture *f = ts_xcalloc(1, sizeof *f);
    f->dir = ts_tmpdir_make("safety");
    f->srv = ts_test_open(f->dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    f->bn = ts_test_open(f->dir, "bn.db", TS_ROLE_STATION, BN, NULL);
    f->xl = ts_test_open(f->dir, "xl.db", TS_ROLE_STATION, XL, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ts_store_close(f->srv);
    ts_store_close(f->bn);
    ts_store_close(f->xl);
    for (size_t i = 0; i < sizeof f->aux / sizeof f->aux[0]; i++)
        ts_store_close(f->aux[i]);
    ts_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static int open_store(ts_store **out, const char *path, ts_store_role role, const char *station,
                      ts_sync_mode sync, bool create, ts_error *err)
{
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = path;
    opt.role = role;
    opt.registry = ts_test_registry();
    opt.station = station;
    opt.create = create;
    opt.synchronous = sync;
    return ts_store_open(out, &opt, err);
}

/* Up to four "name=value" fields (NULL for fewer); fails the test on error. */
static void put_ok(ts_store *st, const char *table, const char *id, const char *owner, const char *a,
                   const char *b, const char *c, const char *d)
{
    ts_error err;
    if (ts_test_put(st, table, id, owner, &err, a, b, c, d, NULL) < 0)
        fail_msg("put %s/%s: %s", table, id, err.msg);
}

static void resident(ts_store *st, const char *id, const char *owner, const char *name)
{
    char fn[256];
    snprintf(fn, sizeof fn, "full_name=%s", name);
    put_ok(st, "residents", id, owner, fn, "birth_date=1980-02-29", "sex=female", NULL);
}

static void dump(ts_store *st, ts_buf *out)
{
    ts_error err;
    ts_buf_reset(out);
    if (ts_store_dump_buf(st, out, &err) < 0)
        fail_msg("dump: %s", err.msg);
}

static bool buf_eq(const ts_buf *a, const ts_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void assert_dumps_equal(ts_store *a, ts_store *b, const char *what)
{
    ts_buf da = TS_BUF_INIT, db = TS_BUF_INIT;
    dump(a, &da);
    dump(b, &db);
    if (!buf_eq(&da, &db)) {
        print_error("%s: dumps differ\n--- first\n%.*s--- second\n%.*s", what, (int)da.len, (const char *)da.data,
                    (int)db.len, (const char *)db.data);
        ts_buf_free(&da);
        ts_buf_free(&db);
        fail_msg("%s: dumps differ", what);
    }
    ts_buf_free(&da);
    ts_buf_free(&db);
}

/* One integer from a query with up to two text parameters. */
static int64_t q_int(ts_store *st, const char *sql, const char *p1, const char *p2)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st), sql, -1, &q, NULL) != SQLITE_OK)
        fail_msg("prepare %s: %s", sql, sqlite3_errmsg(ts_store_db(st)));
    if (p1)
        sqlite3_bind_text(q, 1, p1, -1, SQLITE_TRANSIENT);
    if (p2)
        sqlite3_bind_text(q, 2, p2, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) != SQLITE_ROW)
        fail_msg("step %s: %s", sql, sqlite3_errmsg(ts_store_db(st)));
    int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static int64_t user_version(sqlite3 *db)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK)
        fail_msg("user_version: %s", sqlite3_errmsg(db));
    int64_t v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
    sqlite3_finalize(q);
    return v;
}

/* Encodes "value" like ts_test_put: true/false, digits -> int, [a,b] -> list, else text. */
static void enc_value(ts_buf *b, const char *v)
{
    bool digits = *v != '\0' && v[0] != '0' && strspn(v, "0123456789") == strlen(v) && strlen(v) < 12;
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
        ts_value_bool(b, strcmp(v, "true") == 0);
    } else if (digits) {
        ts_value_int(b, atoll(v));
    } else if (v[0] == '[') {
        msgpack_packer pk;
        ts_buf_packer(b, &pk);
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%.*s", (int)strlen(v) - 2, v + 1);
        size_t count = tmp[0] ? 1 : 0;
        for (char *p = tmp; *p; p++)
            count += *p == ',';
        msgpack_pack_array(&pk, count);
        char *save = NULL;
        for (char *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            ts_mp_pack_cstr(&pk, tok);
    } else {
        ts_value_str(b, v);
    }
}

/* A change as a (possibly misbehaving) replica `rid` would send it: vv
 * {rid: counter}, every field (value, (rid, counter), hlc), `_deleted` false
 * unless given. specs: "name=value", NULL-terminated. The vv must be freed
 * (ts_version_free); everything else lives in arena. */
static void mk_change(ts_change *c, ts_arena *arena, const char *table, const char *id, const char *owner,
                      const ts_rid *rid, uint64_t counter, uint64_t lseq, uint64_t hlc, const char *const *specs)
{
    memset(c, 0, sizeof *c);
    ts_version_init(&c->v);
    c->table = ts_arena_strndup(arena, table, strlen(table));
    c->id = ts_arena_strndup(arena, id, strlen(id));
    c->owner = ts_arena_strndup(arena, owner, strlen(owner));
    c->lseq = lseq;
    ts_vv_set(&c->v.vv, rid, counter);
    ts_dot dot = {*rid, counter};
    bool has_deleted = false;
    ts_buf val = TS_BUF_INIT;
    for (size_t i = 0; specs[i] != NULL; i++) {
        const char *eq = strchr(specs[i], '=');
        assert_non_null(eq);
        char name[TS_FIELD_NAME_MAX + 1];
        snprintf(name, sizeof name, "%.*s", (int)(eq - specs[i]), specs[i]);
        ts_buf_reset(&val);
        enc_value(&val, eq + 1);
        ts_version_put(&c->v, arena, name, val.data, val.len, &dot, hlc);
        has_deleted |= strcmp(name, TS_FIELD_DELETED) == 0;
    }
    if (!has_deleted) {
        ts_buf_reset(&val);
        ts_value_bool(&val, false);
        ts_version_put(&c->v, arena, TS_FIELD_DELETED, val.data, val.len, &dot, hlc);
    }
    ts_buf_free(&val);
}

/* Pushes everything pending at sta to srv as `code` in one set; returns
 * ts_store_apply's code, results (when not NULL, page.n entries) and how
 * many were sent. Nothing is acknowledged at the station. */
static int push_raw(ts_store *sta, ts_store *srv, const char *code, ts_apply_result **results, uint32_t *n,
                    ts_error *err)
{
    uint64_t acked = 0;
    ts_store_meta_get_u64(sta, "push_acked", &acked);
    ts_change_page page;
    ts_change_page_init(&page);
    if (ts_store_pending(sta, acked, 1000, &page, err) < 0)
        fail_msg("pending: %s", err->msg);
    ts_apply_result *res = ts_xcalloc(page.n ? page.n : 1, sizeof *res);
    ts_actor actor = {TS_ACTOR_STATION, code, ts_store_replica(sta), "test"};
    int rc = ts_store_apply(srv, &actor, page.items, page.n, res, err);
    if (n)
        *n = page.n;
    if (results)
        *results = res;
    else
        free(res);
    ts_change_page_free(&page);
    return rc;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void copy_file(const char *from, const char *to)
{
    size_t len = 0;
    char *data = ts_read_file(from, &len);
    if (data == NULL)
        fail_msg("read %s: %s", from, strerror(errno));
    FILE *out = fopen(to, "wb");
    if (out == NULL || fwrite(data, 1, len, out) != len || fclose(out) != 0)
        fail_msg("write %s: %s", to, strerror(errno));
    free(data);
}

/* Copies a closed database and its -wal (if any); removes a stale -wal/-shm at the target. */
static void copy_db(const char *from, const char *to)
{
    char *fw = ts_xasprintf("%s-wal", from), *tw = ts_xasprintf("%s-wal", to), *ts = ts_xasprintf("%s-shm", to);
    unlink(tw);
    unlink(ts);
    copy_file(from, to);
    if (file_exists(fw))
        copy_file(fw, tw);
    free(fw);
    free(tw);
    free(ts);
}

static const uint8_t *field_value(const ts_change *c, const char *name, uint32_t *len)
{
    const ts_field *fl = ts_version_field(&c->v, name);
    if (fl == NULL)
        return NULL;
    *len = fl->value_len;
    return fl->value;
}

/* The record's field holds exactly the text `want`. */
static bool field_is_str(ts_store *st, const char *table, const char *id, const char *field, const char *want)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    ts_error err;
    bool ok = false;
    if (ts_store_get(st, table, id, &c, &arena, &err) == 0) {
        ts_buf w = TS_BUF_INIT;
        ts_value_str(&w, want);
        uint32_t len = 0;
        const uint8_t *v = field_value(&c, field, &len);
        ok = v != NULL && len == w.len && memcmp(v, w.data, len) == 0;
        ts_buf_free(&w);
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    return ok;
}

static ts_change *page_find(ts_change_page *p, const char *table, const char *id)
{
    for (uint32_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].table, table) == 0 && strcmp(p->items[i].id, id) == 0)
            return &p->items[i];
    return NULL;
}

/* A controllable wall clock. */
typedef struct fake_clock {
    uint64_t ms;
} fake_clock;

static uint64_t fake_now(void *ctx)
{
    return ((fake_clock *)ctx)->ms;
}

typedef struct offset_clock {
    int64_t offset_ms;
} offset_clock;

static uint64_t offset_now(void *ctx)
{
    return (uint64_t)((int64_t)ts_wall_ms() + ((offset_clock *)ctx)->offset_ms);
}

/* ---------------------------------------------------------------- reading the store's own SQL
 * The statements under test live in common/ts_store.c; reading them from
 * there keeps these tests in step with the code. */

static char *store_source(void)
{
    char *path = ts_source_path("common/ts_store.c");
    char *src = ts_read_file(path, NULL);
    if (src == NULL)
        fail_msg("cannot read %s (set TS_SOURCE_DIR)", path);
    free(path);
    return src;
}

/* Concatenates the C string literals starting at p (whitespace and comments
 * between them skipped) up to the first ',' ';' or '}' outside a literal,
 * where *end is left. */
static char *c_literals_at(const char *p, const char **end)
{
    ts_buf out = TS_BUF_INIT;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
            p++;
        if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            if (e == NULL)
                break;
            p = e + 2;
            continue;
        }
        if (*p != '"')
            break;
        for (p++; *p && *p != '"'; p++) {
            char ch = *p;
            if (ch == '\\') {
                p++;
                ch = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
            }
            ts_buf_append(&out, &ch, 1);
        }
        if (*p == '"')
            p++;
    }
    if (*p != ',' && *p != ';' && *p != '}')
        fail_msg("unexpected text after string literal: %.40s", p);
    ts_buf_append(&out, "", 1);
    if (end)
        *end = p;
    size_t len;
    return (char *)ts_buf_steal(&out, &len);
}

static char *c_literals(const char *p)
{
    return c_literals_at(p, NULL);
}

/* The SQL of `[NAME] = "..."` in ts__sql. */
static char *store_stmt_sql(const char *src, const char *name)
{
    char *key = ts_xasprintf("[%s] =", name);
    const char *p = strstr(src, key);
    if (p == NULL)
        fail_msg("%s not found in common/ts_store.c", key);
    free(key);
    return c_literals(strchr(p, '=') + 1);
}

/* The value of `static const char NAME[] = "...";` (NULL for "NULL"). */
static char *store_const_sql(const char *src, const char *name)
{
    if (strcmp(name, "NULL") == 0)
        return NULL;
    char *key = ts_xasprintf("static const char %s[] =", name);
    const char *p = strstr(src, key);
    if (p == NULL)
        fail_msg("%s not found in common/ts_store.c", key);
    free(key);
    return c_literals(strchr(p, '=') + 1);
}

typedef struct migration_sql {
    char *common, *server, *station;
} migration_sql;

/* Parses `ts__migrations[...] = { {common, server, station}, ... };` where
 * each entry is the name of a string constant, NULL, or string literals. */
static size_t store_migrations(const char *src, migration_sql *out, size_t cap)
{
    const char *p = strstr(src, "ts__migrations[TS_STORE_SCHEMA_VERSION] = {");
    if (p == NULL)
        fail_msg("ts__migrations not found in common/ts_store.c: update this test");
    p = strchr(p, '{') + 1;
    size_t n = 0;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == ',')
            p++;
        if (*p == '}')
            break;
        if (*p != '{')
            fail_msg("cannot parse ts__migrations near \"%.40s\": update this test", p);
        p++;
        char *sql[3];
        for (int k = 0; k < 3; k++) {
            while (*p == ' ' || *p == '\n' || *p == '\t')
                p++;
            if (*p == '"') {
                sql[k] = c_literals_at(p, &p);
            } else {
                size_t l = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
                if (l == 0 || l >= 128)
                    fail_msg("cannot parse ts__migrations near \"%.40s\": update this test", p);
                char ident[128];
                snprintf(ident, sizeof ident, "%.*s", (int)l, p);
                p += l;
                sql[k] = store_const_sql(src, ident);
            }
            while (*p == ' ' || *p == '\n' || *p == '\t')
                p++;
            if (*p != (k < 2 ? ',' : '}'))
                fail_msg("cannot parse ts__migrations near \"%.40s\": update this test", p);
            p++;
        }
        if (n == cap)
            fail_msg("more migrations than expected");
        out[n].common = sql[0];
        out[n].server = sql[1];
        out[n].station = sql[2];
        n++;
    }
    return n;
}

/* ================================================================ 1. crash safety */

#define CRASH_BATCH 20
#define CRASH_ROUNDS 15

/* The child: applies batches k = first, first+1, ... as station BN and
 * reports each k on fd once ts_store_apply returned 0 (after commit). */
static void crash_child(const char *path, const ts_rid *rid, uint64_t first, int fd)
{
    ts_store *st = NULL;
    ts_error err;
    if (open_store(&st, path, TS_ROLE_SERVER, NULL, TS_SYNC_FULL, true, &err) < 0) {
        fprintf(stderr, "child: open: %s\n", err.msg);
        _exit(2);
    }
    ts_actor actor = {TS_ACTOR_STATION, BN, rid, "crash-test"};
    ts_change ch[CRASH_BATCH];
    ts_apply_result res[CRASH_BATCH];
    ts_arena arena;
    ts_arena_init(&arena, 16384);
    for (uint64_t k = first; k < first + 100000; k++) {
        ts_arena_free(&arena);
        char name[64];
        snprintf(name, sizeof name, "full_name=batch %" PRIu64, k);
        const char *specs[] = {name, "birth_date=1990-01-01", "sex=male", NULL};
        uint64_t hlc = TS_HLC_MAKE(ts_wall_ms(), 0);
        for (int i = 0; i < CRASH_BATCH; i++) {
            char id[64];
            snprintf(id, sizeof id, "%" PRIu64 "-%d", k, i);
            mk_change(&ch[i], &arena, "residents", id, BN, rid, 1, k * CRASH_BATCH + (uint64_t)i + 1, hlc, specs);
        }
        int rc = ts_store_apply(st, &actor, ch, CRASH_BATCH, res, &err);
        for (int i = 0; i < CRASH_BATCH; i++)
            ts_version_free(&ch[i].v);
        if (rc < 0) {
            fprintf(stderr, "child: apply batch %" PRIu64 ": %s\n", k, err.msg);
            _exit(3);
        }
        for (int i = 0; i < CRASH_BATCH; i++) {
            if (res[i].outcome != TS_OUTCOME_APPLIED) {
                fprintf(stderr, "child: batch %" PRIu64 " change %d: outcome %d %s\n", k, i, res[i].outcome,
                        res[i].reason);
                _exit(4);
            }
        }
        if (write(fd, &k, sizeof k) != (ssize_t)sizeof k)
            _exit(5);
    }
    _exit(0);
}

typedef struct kcount {
    uint64_t k;
    int64_t n;
} kcount;

static void test_crash_safety(void **state)
{
    (void)state;
    uint64_t seed = ts_test_seed(0);
    ts_rng rng;
    ts_rng_seed(&rng, seed);
    char *dir = ts_tmpdir_make("crash");
    char *path = ts_xasprintf("%s/district.db", dir);
    ts_rid rid;
    ts_rid_generate(&rid, BN);

    uint64_t *acked = NULL;
    size_t nacked = 0, cap_acked = 0;
    uint64_t total_present = 0;
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        uint64_t first = (uint64_t)(round + 1) * 100000u;
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(path, &rid, first, fds[1]);
        }
        close(fds[1]);
        uint64_t delay_ms = ts_rng_below(&rng, 301);
        struct timespec ts = {(time_t)(delay_ms / 1000), (long)(delay_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
        }
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        ts_check_seed(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, seed,
                      "round %d: child ended by itself (status %d) before the kill", round, status);
        uint64_t k;
        ssize_t r;
        while ((r = read(fds[0], &k, sizeof k)) == (ssize_t)sizeof k) {
            if (nacked == cap_acked) {
                cap_acked = cap_acked ? cap_acked * 2 : 256;
                acked = ts_xreallocarray(acked, cap_acked, sizeof *acked);
            }
            acked[nacked++] = k;
        }
        close(fds[0]);

        /* reopen what the killed child left and check it */
        ts_store *st = NULL;
        ts_error err;
        int rc = open_store(&st, path, TS_ROLE_SERVER, NULL, TS_SYNC_FULL, true, &err);
        ts_check_seed(rc == 0, seed, "round %d (killed after %" PRIu64 " ms): reopen: %s", round, delay_ms, err.msg);
        rc = ts_store_integrity_check(st, &err);
        ts_check_seed(rc == 0, seed, "round %d: %s", round, err.msg);

        /* every batch is all there or not at all */
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(ts_store_db(st),
                                            "SELECT CAST(substr(id, 1, instr(id, '-') - 1) AS INTEGER) AS k,"
                                            " count(*) FROM records WHERE tbl = 'residents' GROUP BY k ORDER BY k",
                                            -1, &q, NULL),
                         SQLITE_OK);
        kcount *counts = NULL;
        size_t ncounts = 0, cap_counts = 0;
        while (sqlite3_step(q) == SQLITE_ROW) {
            if (ncounts == cap_counts) {
                cap_counts = cap_counts ? cap_counts * 2 : 64;
                counts = ts_xreallocarray(counts, cap_counts, sizeof *counts);
            }
            counts[ncounts].k = (uint64_t)sqlite3_column_int64(q, 0);
            counts[ncounts].n = sqlite3_column_int64(q, 1);
            ncounts++;
        }
        sqlite3_finalize(q);
        for (size_t i = 0; i < ncounts; i++) {
            ts_check_seed(counts[i].n == CRASH_BATCH, seed,
                          "round %d (killed after %" PRIu64 " ms): batch %" PRIu64 " has %" PRId64
                          " of %d records",
                          round, delay_ms, counts[i].k, counts[i].n, CRASH_BATCH);
        }
        /* every acknowledged batch is there */
        for (size_t a = 0; a < nacked; a++) {
            bool found = false;
            for (size_t i = 0; i < ncounts && !found; i++)
                found = counts[i].k == acked[a];
            ts_check_seed(found, seed, "round %d: acknowledged batch %" PRIu64 " is missing after the kill", round,
                          acked[a]);
        }
        /* and holds what was written */
        total_present = 0;
        for (size_t i = 0; i < ncounts; i++) {
            char want[64];
            snprintf(want, sizeof want, "batch %" PRIu64, counts[i].k);
            for (int j = 0; j < CRASH_BATCH; j++) {
                char id[64];
                snprintf(id, sizeof id, "%" PRIu64 "-%d", counts[i].k, j);
                ts_check_seed(field_is_str(st, "residents", id, "full_name", want), seed,
                              "round %d: residents/%s does not hold \"%s\"", round, id, want);
            }
            total_present += CRASH_BATCH;
        }
        free(counts);
        /* no sequence number was handed out twice, and the counter did not go back */
        ts_check_seed(q_int(st, "SELECT count(DISTINCT seq) = count(*) FROM records", NULL, NULL) == 1, seed,
                      "round %d: a sequence number is used twice", round);
        ts_check_seed((int64_t)ts_store_last_seq(st) >= q_int(st, "SELECT coalesce(max(seq), 0) FROM records", NULL,
                                                              NULL),
                      seed, "round %d: last seq %" PRIu64 " is behind the records", round, ts_store_last_seq(st));
        ts_store_close(st);
    }
    /* the test proved something: batches were committed and acknowledged */
    ts_check_seed(nacked > 0 && total_present > 0, seed, "no batch was ever acknowledged (%zu) or stored (%" PRIu64 ")",
                  nacked, total_present);
    print_message("crash safety: %d rounds, %zu batches acknowledged, %" PRIu64 " records present (seed %" PRIu64
                  ")\n",
                  CRASH_ROUNDS, nacked, total_present, seed);
    free(acked);
    free(path);
    ts_tmpdir_remove(dir);
}

/* ================================================================ 2. migrations */

static char *schema_of(sqlite3 *db)
{
    ts_buf out = TS_BUF_INIT;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
                           "SELECT type, name, coalesce(sql, '') FROM sqlite_master"
                           " WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
                           -1, &q, NULL) != SQLITE_OK)
        fail_msg("schema: %s", sqlite3_errmsg(db));
    while (sqlite3_step(q) == SQLITE_ROW)
        ts_buf_printf(&out, "%s %s %s\n", sqlite3_column_text(q, 0), sqlite3_column_text(q, 1),
                      sqlite3_column_text(q, 2));
    sqlite3_finalize(q);
    ts_buf_append(&out, "", 1);
    size_t len;
    return (char *)ts_buf_steal(&out, &len);
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        print_error("sql: %s\n", sql);
        fail_msg("exec: %s", msg ? msg : "?");
    }
}

static void exec_bound(sqlite3 *db, const char *sql, const char *a, const char *b)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
    sqlite3_bind_text(q, 1, a, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, b, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) != SQLITE_DONE)
        fail_msg("step %s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(q);
}

#define OLD_STATION_RID "binhnguyen.00000000000000b1"
#define OLD_SERVER_RID "district.00000000000000d1"

/* What a program at schema version 1 left: its identity and one record
 * (pending at a station; numbered, with its pusher known, at the server).
 * The version 1 schema never changes, so neither does this. */
static void seed_v1(sqlite3 *db, ts_store_role role)
{
    bool server = role == TS_ROLE_SERVER;
    ts_rid writer;
    assert_int_equal(ts_rid_set_cstr(&writer, OLD_STATION_RID), 0);
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    static const char *const specs[] = {"full_name=Dữ liệu cũ", "birth_date=1950-06-15", "sex=male", NULL};
    uint64_t hlc = TS_HLC_MAKE(ts_wall_ms() - 60000, 0);
    mk_change(&c, &arena, "residents", "old-1", BN, &writer, 1, 1, hlc, specs);
    ts_buf vv = TS_BUF_INIT, fields = TS_BUF_INIT;
    msgpack_packer pk;
    ts_buf_packer(&vv, &pk);
    ts_vv_pack(&pk, &c.v.vv);
    ts_buf_packer(&fields, &pk);
    ts_fields_pack(&pk, &c.v);

    exec_bound(db, "INSERT INTO meta(key, value) VALUES('role', ?1), ('replica', ?2)", server ? "server" : "station",
               server ? OLD_SERVER_RID : OLD_STATION_RID);
    exec_bound(db, "INSERT INTO meta(key, value) VALUES('db_id', ?1), ('station', ?2)",
               "0123456789abcdef0123456789abcdef", server ? "district" : BN);
    char num[32];
    snprintf(num, sizeof num, "%" PRIu64, hlc);
    exec_bound(db, "INSERT INTO meta(key, value) VALUES('hlc', ?1), (?2, '1')", num, server ? "seq" : "lseq");
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO records(tbl, id, owner, vv, fields, deleted, hlc, seq, lseq,"
                                        " audience, origin, updated_at) VALUES('residents', 'old-1', ?1, ?2, ?3, 0,"
                                        " ?4, ?5, ?6, ?1, ?7, ?8)",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(q, 1, BN, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, vv.data, (int)vv.len, SQLITE_STATIC);
    sqlite3_bind_blob(q, 3, fields.data, (int)fields.len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, (sqlite3_int64)hlc);
    sqlite3_bind_int64(q, 5, server ? 1 : 0);
    sqlite3_bind_int64(q, 6, server ? 0 : 1);
    if (server)
        sqlite3_bind_text(q, 7, OLD_STATION_RID, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, 7);
    sqlite3_bind_int64(q, 8, (sqlite3_int64)ts_wall_ms());
    assert_int_equal(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    if (server)
        exec_bound(db,
                   "INSERT INTO replicas(replica, station, max_lseq, first_seen, last_seen) VALUES(?1, ?2, 1, 0, 0)",
                   OLD_STATION_RID, BN);
    ts_buf_free(&vv);
    ts_buf_free(&fields);
    ts_version_free(&c.v);
    ts_arena_free(&arena);
}

/* Builds a database at schema version v the way the store's migrations do
 * (v = 0: an empty file), with data written at version 1. */
static void build_at_version(const char *path, int v, ts_store_role role, const migration_sql *m)
{
    if (v == 0) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fclose(f);
        return;
    }
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_ok(db, "PRAGMA journal_mode = WAL");
    for (int i = 0; i < v; i++) {
        exec_ok(db, "BEGIN");
        exec_ok(db, m[i].common);
        const char *extra = role == TS_ROLE_SERVER ? m[i].server : m[i].station;
        if (extra)
            exec_ok(db, extra);
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", i + 1);
        exec_ok(db, sql);
        if (i == 0)
            seed_v1(db, role);
        exec_ok(db, "COMMIT");
    }
    sqlite3_close(db);
}

/* The version 1 data came through the migration intact. */
static void check_seeded(ts_store *st, ts_store_role role, int v)
{
    ts_error err;
    const char *want = role == TS_ROLE_SERVER ? OLD_SERVER_RID : OLD_STATION_RID;
    if (strcmp(ts_store_replica(st)->b, want) != 0)
        fail_msg("migrated from version %d: replica id %s, expected %s", v, ts_store_replica(st)->b, want);
    if (!field_is_str(st, "residents", "old-1", "full_name", "Dữ liệu cũ"))
        fail_msg("migrated from version %d: residents/old-1 lost", v);
    if (role == TS_ROLE_SERVER) {
        assert_true(ts_store_last_seq(st) >= 1);
        ts_change_page page;
        ts_change_page_init(&page);
        uint64_t next;
        bool more;
        assert_int_equal(ts_store_changes_since(st, BN, NULL, 0, 10, &page, &next, &more, &err), 0);
        assert_non_null(page_find(&page, "residents", "old-1"));
        ts_change_page_free(&page);
        ts_rid r;
        assert_int_equal(ts_rid_set_cstr(&r, OLD_STATION_RID), 0);
        /* the replica bookkeeping survived: going back is still noticed */
        assert_int_equal(ts_store_check_replica(st, BN, &r, 0, &err), TS_EREKEY_REQUIRED);
    } else {
        uint64_t pending = 0;
        assert_int_equal(ts_store_pending_count(st, &pending), 0);
        assert_int_equal(pending, 1);
    }
}

static void check_works(ts_store *st, ts_store_role role, const char *what)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    ts_error err;
    if (role == TS_ROLE_SERVER) {
        put_ok(st, "stations", BN, NULL, "name=Trạm Y tế xã Bình Nguyên", "commune=Bình Nguyên", NULL, NULL);
        if (ts_store_get(st, "stations", BN, &c, &arena, &err) < 0)
            fail_msg("%s: get: %s", what, err.msg);
    } else {
        resident(st, "bn-mig", NULL, "Nguyễn Văn Di");
        if (ts_store_get(st, "residents", "bn-mig", &c, &arena, &err) < 0)
            fail_msg("%s: get: %s", what, err.msg);
    }
    assert_false(ts_version_deleted(&c.v));
    assert_int_equal(c.v.vv.n, 1);
    assert_true(ts_rid_eq(&c.v.vv.e[0].rid, ts_store_replica(st)));
    ts_version_free(&c.v);
    ts_arena_free(&arena);
    assert_int_equal(ts_store_integrity_check(st, &err), 0);
}

static void test_migrations_from_every_version(void **state)
{
    (void)state;
    char *src = store_source();
    migration_sql m[64];
    size_t nm = store_migrations(src, m, 64);
    /* migrations[k] takes k to k + 1: exactly one per schema version */
    assert_int_equal(nm, TS_STORE_SCHEMA_VERSION);
    for (size_t i = 0; i < nm; i++)
        assert_non_null(m[i].common);

    char *dir = ts_tmpdir_make("migrate");
    ts_error err;
    static const ts_store_role roles[2] = {TS_ROLE_SERVER, TS_ROLE_STATION};
    for (int r = 0; r < 2; r++) {
        ts_store_role role = roles[r];
        const char *station = role == TS_ROLE_STATION ? BN : NULL;
        /* the schema a fresh database gets, to compare migrated ones with */
        char *fresh_path = ts_xasprintf("%s/fresh-%d.db", dir, r);
        ts_store *fresh = NULL;
        assert_int_equal(open_store(&fresh, fresh_path, role, station, TS_SYNC_OFF, true, &err), 0);
        char *want_schema = schema_of(ts_store_db(fresh));
        ts_store_close(fresh);

        for (int v = 0; v < TS_STORE_SCHEMA_VERSION; v++) {
            char *path = ts_xasprintf("%s/v%d-%d.db", dir, v, r);
            build_at_version(path, v, role, m);
            ts_store *st = NULL;
            int rc = open_store(&st, path, role, station, TS_SYNC_OFF, false, &err);
            if (rc < 0)
                fail_msg("open a %s database at version %d: %s", role == TS_ROLE_SERVER ? "server" : "station", v,
                         err.msg);
            assert_int_equal(user_version(ts_store_db(st)), TS_STORE_SCHEMA_VERSION);
            char *got_schema = schema_of(ts_store_db(st));
            if (strcmp(got_schema, want_schema) != 0)
                fail_msg("schema migrated from version %d differs from a fresh one:\n%s\n---\n%s", v, got_schema,
                         want_schema);
            free(got_schema);
            if (v >= 1)
                check_seeded(st, role, v);
            uint64_t seq_before = ts_store_last_seq(st);
            check_works(st, role, "migrated");
            if (role == TS_ROLE_SERVER)
                assert_int_equal(ts_store_last_seq(st), seq_before + 1);
            ts_rid rid = *ts_store_replica(st);
            ts_store_close(st);
            /* opening again migrates nothing and keeps the identity */
            assert_int_equal(open_store(&st, path, role, station, TS_SYNC_OFF, false, &err), 0);
            assert_true(ts_rid_eq(&rid, ts_store_replica(st)));
            assert_int_equal(user_version(ts_store_db(st)), TS_STORE_SCHEMA_VERSION);
            ts_store_close(st);
            free(path);
        }
        free(want_schema);
        free(fresh_path);
    }

    /* a database from a newer program is refused, and left alone */
    char *path = ts_xasprintf("%s/refuse.db", dir);
    ts_store *st = NULL;
    assert_int_equal(open_store(&st, path, TS_ROLE_STATION, BN, TS_SYNC_OFF, true, &err), 0);
    ts_rid rid = *ts_store_replica(st);
    ts_store_close(st);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", TS_STORE_SCHEMA_VERSION + 1);
    exec_ok(db, sql);
    sqlite3_close(db);
    memset(&err, 0, sizeof err);
    assert_true(open_store(&st, path, TS_ROLE_STATION, BN, TS_SYNC_OFF, false, &err) < 0);
    assert_null(st);
    if (strstr(err.msg, "newer") == NULL)
        fail_msg("unclear error for a newer schema: \"%s\"", err.msg);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(user_version(db), TS_STORE_SCHEMA_VERSION + 1);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", TS_STORE_SCHEMA_VERSION);
    exec_ok(db, sql);
    sqlite3_close(db);

    /* a station database opened as the server is refused */
    memset(&err, 0, sizeof err);
    assert_true(open_store(&st, path, TS_ROLE_SERVER, NULL, TS_SYNC_OFF, false, &err) < 0);
    assert_null(st);
    if (strstr(err.msg, "station") == NULL || strstr(err.msg, "server") == NULL)
        fail_msg("unclear error for a station database opened as server: \"%s\"", err.msg);
    /* ... and with another station's code */
    memset(&err, 0, sizeof err);
    assert_true(open_store(&st, path, TS_ROLE_STATION, XL, TS_SYNC_OFF, false, &err) < 0);
    assert_null(st);
    if (strstr(err.msg, BN) == NULL || strstr(err.msg, XL) == NULL)
        fail_msg("unclear error for a station database opened as another station: \"%s\"", err.msg);
    /* ... and a server database opened as a station */
    char *spath = ts_xasprintf("%s/district.db", dir);
    assert_int_equal(open_store(&st, spath, TS_ROLE_SERVER, NULL, TS_SYNC_OFF, true, &err), 0);
    ts_store_close(st);
    st = NULL;
    memset(&err, 0, sizeof err);
    assert_true(open_store(&st, spath, TS_ROLE_STATION, BN, TS_SYNC_OFF, false, &err) < 0);
    assert_null(st);
    /* the refusals changed nothing: the station database opens as itself */
    assert_int_equal(open_store(&st, path, TS_ROLE_STATION, BN, TS_SYNC_OFF, false, &err), 0);
    assert_true(ts_rid_eq(&rid, ts_store_replica(st)));
    assert_string_equal(ts_store_station(st), BN);
    check_works(st, TS_ROLE_STATION, "reopened");
    ts_store_close(st);

    for (size_t i = 0; i < nm; i++) {
        free(m[i].common);
        free(m[i].server);
        free(m[i].station);
    }
    free(spath);
    free(path);
    free(src);
    ts_tmpdir_remove(dir);
}

/* ================================================================ 3. restored station */

/* Every (record, field, dot) seen anywhere maps to one (value, hlc). */
typedef struct dot_entry {
    char *key; /* table \x1f id \x1f field \x1f rid \x1f counter */
    uint8_t *value;
    size_t len;
    uint64_t hlc;
    char *where;
} dot_entry;

typedef struct dot_map {
    dot_entry *e;
    size_t n, cap;
} dot_map;

static void dot_map_add(dot_map *m, const char *table, const char *id, const char *field, const char *rid,
                        uint64_t counter, const void *value, size_t len, uint64_t hlc, const char *where)
{
    char *key = ts_xasprintf("%s\x1f%s\x1f%s\x1f%s\x1f%" PRIu64, table, id, field, rid, counter);
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->e[i].key, key) != 0)
            continue;
        if (m->e[i].len != len || memcmp(m->e[i].value, value, len) != 0 || m->e[i].hlc != hlc)
            fail_msg("dot (%s, %" PRIu64 ") of %s/%s field %s carries two writes: %s (hlc %" PRIu64
                     ") and %s (hlc %" PRIu64 ")",
                     rid, counter, table, id, field, m->e[i].where, m->e[i].hlc, where, hlc);
        free(key);
        return;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->e = ts_xreallocarray(m->e, m->cap, sizeof *m->e);
    }
    m->e[m->n++] = (dot_entry){key, ts_xmemdup(value, len ? len : 1), len, hlc, ts_xstrdup(where)};
}

static void dot_map_free(dot_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].key);
        free(m->e[i].value);
        free(m->e[i].where);
    }
    free(m->e);
}

static void dot_map_scan(dot_map *m, ts_store *st, const char *name)
{
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(ts_store_db(st), "SELECT tbl, id FROM records ORDER BY tbl, id", -1, &q, NULL),
                     SQLITE_OK);
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(q, 0), *id = (const char *)sqlite3_column_text(q, 1);
        ts_change c;
        ts_error err;
        if (ts_store_get(st, table, id, &c, &arena, &err) < 0)
            fail_msg("%s: get %s/%s: %s", name, table, id, err.msg);
        char where[300];
        for (uint32_t i = 0; i < c.v.nfields; i++) {
            const ts_field *fl = &c.v.fields[i];
            snprintf(where, sizeof where, "%s record", name);
            dot_map_add(m, table, id, fl->name, fl->dot.rid.b, fl->dot.counter, fl->value, fl->value_len, fl->hlc,
                        where);
            /* a stored version covers the dots it holds */
            assert_true(ts_vv_covers(&c.v.vv, &fl->dot));
        }
        ts_version_free(&c.v);
    }
    sqlite3_finalize(q);
    ts_arena_free(&arena);
    assert_int_equal(sqlite3_prepare_v2(ts_store_db(st),
                                        "SELECT tbl, rec_id, field, winner_value, winner_replica, winner_counter,"
                                        " winner_hlc, loser_value, loser_replica, loser_counter, loser_hlc"
                                        " FROM conflicts ORDER BY id",
                                        -1, &q, NULL),
                     SQLITE_OK);
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(q, 0), *id = (const char *)sqlite3_column_text(q, 1);
        const char *field = (const char *)sqlite3_column_text(q, 2);
        char where[300];
        snprintf(where, sizeof where, "%s conflict winner", name);
        dot_map_add(m, table, id, field, (const char *)sqlite3_column_text(q, 4), (uint64_t)sqlite3_column_int64(q, 5),
                    sqlite3_column_blob(q, 3), (size_t)sqlite3_column_bytes(q, 3), (uint64_t)sqlite3_column_int64(q, 6),
                    where);
        snprintf(where, sizeof where, "%s conflict loser", name);
        dot_map_add(m, table, id, field, (const char *)sqlite3_column_text(q, 8), (uint64_t)sqlite3_column_int64(q, 9),
                    sqlite3_column_blob(q, 7), (size_t)sqlite3_column_bytes(q, 7),
                    (uint64_t)sqlite3_column_int64(q, 10), where);
    }
    sqlite3_finalize(q);
}

/* The text `value` of table/id/field is at srv: its current value, or a
 * logged conflict entry. */
static bool kept_at_server(ts_store *srv, const char *table, const char *id, const char *field, const char *value)
{
    if (field_is_str(srv, table, id, field, value))
        return true;
    ts_buf v = TS_BUF_INIT;
    ts_value_str(&v, value);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(ts_store_db(srv),
                                        "SELECT count(*) FROM conflicts WHERE tbl = ?1 AND rec_id = ?2 AND field = ?3"
                                        " AND (loser_value = ?4 OR winner_value = ?4)",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, field, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 4, v.data, (int)v.len, SQLITE_STATIC);
    bool found = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0) > 0;
    sqlite3_finalize(q);
    ts_buf_free(&v);
    return found;
}

static void reopen(fixture *f, ts_store **st, const char *name, ts_store_role role, const char *station)
{
    ts_store_close(*st);
    *st = ts_test_open(f->dir, name, role, station, NULL);
}

static void test_restored_station_rekeys(void **state)
{
    fixture *f = *state;
    ts_error err;
    char *bn_path = ts_xasprintf("%s/bn.db", f->dir), *backup = ts_xasprintf("%s/bn-backup.db", f->dir);
    char *srv_path = ts_xasprintf("%s/district.db", f->dir), *srv2_path = ts_xasprintf("%s/district2.db", f->dir);

    /* before the backup */
    resident(f->bn, "A1", NULL, "A A1");
    resident(f->bn, "A2", NULL, "A A2");
    resident(f->bn, "A3", NULL, "A A3");
    assert_int_equal(ts_test_push(f->bn, f->srv, BN, false), 3);
    ts_test_pull(f->srv, f->bn, BN);

    ts_store_close(f->bn);
    f->bn = NULL;
    copy_db(bn_path, backup);
    f->bn = ts_test_open(f->dir, "bn.db", TS_ROLE_STATION, BN, NULL);
    ts_rid old = *ts_store_replica(f->bn);

    /* after the backup: acknowledged by the server */
    resident(f->bn, "B1", NULL, "B B1");
    put_ok(f->bn, "residents", "A1", NULL, "phone=0911111111", NULL, NULL, NULL);
    put_ok(f->bn, "residents", "A2", NULL, "full_name=B A2", NULL, NULL, NULL);
    assert_int_equal(ts_test_push(f->bn, f->srv, BN, false), 3);
    uint64_t lseq_before_restore = 0;
    assert_int_equal(ts_store_meta_get_u64(f->bn, "lseq", &lseq_before_restore), 0);

    /* a second copy of the district database, to see the push-time check alone */
    ts_store_close(f->srv);
    f->srv = NULL;
    copy_db(srv_path, srv2_path);
    f->srv = ts_test_open(f->dir, "district.db", TS_ROLE_SERVER, NULL, NULL);
    f->aux[0] = ts_test_open(f->dir, "district2.db", TS_ROLE_SERVER, NULL, NULL);
    ts_store *srv2 = f->aux[0];

    /* the restore */
    ts_store_close(f->bn);
    f->bn = NULL;
    copy_db(backup, bn_path);
    f->bn = ts_test_open(f->dir, "bn.db", TS_ROLE_STATION, BN, NULL);
    assert_true(ts_rid_eq(&old, ts_store_replica(f->bn)));
    uint64_t lseq = 0;
    assert_int_equal(ts_store_meta_get_u64(f->bn, "lseq", &lseq), 0);
    assert_true(lseq < lseq_before_restore);

    /* the server recognises it when it connects */
    assert_int_equal(ts_store_check_replica(f->srv, BN, ts_store_replica(f->bn), lseq, &err), TS_EREKEY_REQUIRED);

    /* after the restore, still under the old id: new records, a record only
     * the lost copy had written, and updates reusing counters */
    resident(f->bn, "C1", NULL, "C C1");
    resident(f->bn, "B1", NULL, "C B1");
    put_ok(f->bn, "residents", "A2", NULL, "full_name=C A2", NULL, NULL, NULL);
    put_ok(f->bn, "residents", "A3", NULL, "address=C A3", NULL, NULL, NULL);

    /* pushing without the check is refused whole, and changes nothing */
    ts_buf before = TS_BUF_INIT, after = TS_BUF_INIT;
    dump(srv2, &before);
    uint64_t seq2 = ts_store_last_seq(srv2);
    memset(&err, 0, sizeof err);
    assert_int_equal(push_raw(f->bn, srv2, BN, NULL, NULL, &err), TS_EREKEY_REQUIRED);
    dump(srv2, &after);
    assert_true(buf_eq(&before, &after));
    assert_int_equal(ts_store_last_seq(srv2), seq2);
    /* and the replica stays refused afterwards */
    assert_int_equal(push_raw(f->bn, srv2, BN, NULL, NULL, &err), TS_EREKEY_REQUIRED);
    assert_int_equal(ts_store_check_replica(srv2, BN, ts_store_replica(f->bn), lseq + 4, &err), TS_EREKEY_REQUIRED);
    /* the server that already retired it refuses too */
    dump(f->srv, &before);
    assert_int_equal(push_raw(f->bn, f->srv, BN, NULL, NULL, &err), TS_EREKEY_REQUIRED);
    dump(f->srv, &after);
    assert_true(buf_eq(&before, &after));
    uint64_t pending = 0;
    assert_int_equal(ts_store_pending_count(f->bn, &pending), 0);
    assert_int_equal(pending, 4);

    /* a new id; then everything goes through */
    assert_int_equal(ts_store_rekey(f->bn, &err), 0);
    ts_rid fresh = *ts_store_replica(f->bn);
    assert_false(ts_rid_eq(&fresh, &old));
    uint64_t lseq_now = 0;
    assert_int_equal(ts_store_meta_get_u64(f->bn, "lseq", &lseq_now), 0);
    assert_int_equal(ts_store_check_replica(f->srv, BN, &fresh, lseq_now, &err), 0);
    /* the old id stays refused */
    assert_int_equal(ts_store_check_replica(f->srv, BN, &old, lseq_now + 100, &err), TS_EREKEY_REQUIRED);
    assert_int_equal(ts_test_push(f->bn, f->srv, BN, false), 4);
    ts_test_pull(f->srv, f->bn, BN);
    /* the rekeyed database survives a reopen with its new id */
    reopen(f, &f->bn, "bn.db", TS_ROLE_STATION, BN);
    assert_true(ts_rid_eq(&fresh, ts_store_replica(f->bn)));
    ts_test_push(f->bn, f->srv, BN, false);
    ts_test_pull(f->srv, f->bn, BN);

    /* every write that was not knowingly overwritten is at the server */
    static const char *const kept[][3] = {
        {"A1", "full_name", "A A1"}, {"A1", "phone", "0911111111"}, {"A2", "full_name", "B A2"},
        {"A2", "full_name", "C A2"}, {"A3", "full_name", "A A3"},  {"A3", "address", "C A3"},
        {"B1", "full_name", "B B1"}, {"B1", "full_name", "C B1"},  {"C1", "full_name", "C C1"},
    };
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        if (!kept_at_server(f->srv, "residents", kept[i][0], kept[i][1], kept[i][2]))
            fail_msg("residents/%s %s = \"%s\" was lost", kept[i][0], kept[i][1], kept[i][2]);
    /* the two sides agree */
    assert_dumps_equal(f->srv, f->bn, "server and rekeyed station");
    /* no dot names two different writes, anywhere */
    dot_map m = {0};
    dot_map_scan(&m, f->srv, "server");
    dot_map_scan(&m, f->bn, "station");
    dot_map_scan(&m, srv2, "server copy");
    dot_map_free(&m);

    ts_buf_free(&before);
    ts_buf_free(&after);
    free(bn_path);
    free(backup);
    free(srv_path);
    free(srv2_path);
}

/* A restored copy whose new writes land on exactly the counters the lost
 * copy used: the version vectors look known, but the contents differ. The
 * push must still be refused whole (DESIGN: never reuse a (replica,
 * counter) pair), or the station's write is acknowledged and silently
 * dropped while both sides hold different records under one vv. */
static void test_restored_station_same_counters(void **state)
{
    fixture *f = *state;
    ts_error err;
    char *bn_path = ts_xasprintf("%s/bn.db", f->dir), *backup = ts_xasprintf("%s/bn-backup.db", f->dir);

    resident(f->bn, "A1", NULL, "A A1");
    resident(f->bn, "A2", NULL, "A A2");
    assert_int_equal(ts_test_push(f->bn, f->srv, BN, false), 2);
    ts_store_close(f->bn);
    f->bn = NULL;
    copy_db(bn_path, backup);
    f->bn = ts_test_open(f->dir, "bn.db", TS_ROLE_STATION, BN, NULL);

    /* the copy that will be lost: one update, acknowledged */
    put_ok(f->bn, "residents", "A2", NULL, "full_name=lost A2", NULL, NULL, NULL);
    assert_int_equal(ts_test_push(f->bn, f->srv, BN, false), 1);

    ts_store_close(f->bn);
    f->bn = NULL;
    copy_db(backup, bn_path);
    f->bn = ts_test_open(f->dir, "bn.db", TS_ROLE_STATION, BN, NULL);
    ts_rid old = *ts_store_replica(f->bn);

    /* the restored copy writes before it connects: change 3 reuses the dot
     * (bn, 2) of A2 for another value, change 4 is beyond what the server saw */
    put_ok(f->bn, "residents", "A2", NULL, "full_name=restored A2", NULL, NULL, NULL);
    put_ok(f->bn, "residents", "A1", NULL, "phone=0922222222", NULL, NULL, NULL);

    ts_buf before = TS_BUF_INIT, after = TS_BUF_INIT;
    dump(f->srv, &before);
    uint64_t seq = ts_store_last_seq(f->srv);
    ts_apply_result *res = NULL;
    uint32_t n = 0;
    memset(&err, 0, sizeof err);
    int rc = push_raw(f->bn, f->srv, BN, &res, &n, &err);
    if (rc != TS_EREKEY_REQUIRED) {
        char detail[512] = "";
        for (uint32_t i = 0; rc == 0 && i < n; i++)
            snprintf(detail + strlen(detail), sizeof detail - strlen(detail), " [%u] %s", i,
                     ts_outcome_name(res[i].outcome));
        free(res);
        ts_buf_free(&before);
        ts_buf_free(&after);
        free(bn_path);
        free(backup);
        fail_msg("a push reusing dot (%s, 2) of residents/A2 with another value returned %d (%s), expected "
                 "REKEY_REQUIRED; outcomes:%s",
                 old.b, rc, rc ? err.msg : "accepted", detail);
    }
    free(res);
    dump(f->srv, &after);
    assert_true(buf_eq(&before, &after));
    assert_int_equal(ts_store_last_seq(f->srv), seq);

    assert_int_equal(ts_store_rekey(f->bn, &err), 0);
    assert_false(ts_rid_eq(&old, ts_store_replica(f->bn)));
    ts_test_push(f->bn, f->srv, BN, false);
    ts_test_pull(f->srv, f->bn, BN);
    if (!kept_at_server(f->srv, "residents", "A2", "full_name", "lost A2") ||
        !kept_at_server(f->srv, "residents", "A2", "full_name", "restored A2"))
        fail_msg("a write to residents/A2 was lost");
    assert_true(kept_at_server(f->srv, "residents", "A1", "phone", "0922222222"));
    assert_dumps_equal(f->srv, f->bn, "server and rekeyed station");
    dot_map m = {0};
    dot_map_scan(&m, f->srv, "server");
    dot_map_scan(&m, f->bn, "station");
    dot_map_free(&m);

    ts_buf_free(&before);
    ts_buf_free(&after);
    free(bn_path);
    free(backup);
}

/* ================================================================ 4. HLC after receiving */

static uint64_t record_max_hlc(ts_store *st, const char *table, const char *id)
{
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    ts_error err;
    if (ts_store_get(st, table, id, &c, &arena, &err) < 0)
        fail_msg("get %s/%s: %s", table, id, err.msg);
    uint64_t h = ts_version_max_hlc(&c.v);
    ts_version_free(&c.v);
    ts_arena_free(&arena);
    return h;
}

static void test_hlc_next_write_after_received(void **state)
{
    fixture *f = *state;
    offset_clock ahead = {60 * 60 * 1000};
    ts_hlc_set_clock(ts_store_hlc(f->srv), offset_now, &ahead);
    put_ok(f->srv, "stations", BN, NULL, "name=Trạm Y tế xã Bình Nguyên", "commune=Bình Nguyên", NULL, NULL);
    resident(f->srv, "bn-srv", BN, "Viết ở huyện");
    uint64_t sent = record_max_hlc(f->srv, "residents", "bn-srv");
    assert_true(TS_HLC_MS(sent) > ts_wall_ms() + 50 * 60 * 1000);

    assert_int_equal(ts_test_pull(f->srv, f->bn, BN), 2);
    uint64_t received = record_max_hlc(f->bn, "stations", BN);
    uint64_t r2 = record_max_hlc(f->bn, "residents", "bn-srv");
    if (r2 > received)
        received = r2;
    assert_int_equal(received, sent); /* the station keeps HLCs as they came */

    /* the next local write is later than everything received */
    put_ok(f->bn, "residents", "bn-srv", NULL, "phone=0912345678", NULL, NULL, NULL);
    uint64_t mine = record_max_hlc(f->bn, "residents", "bn-srv");
    if (mine <= received)
        fail_msg("local write HLC %" PRIu64 " is not after the received %" PRIu64, mine, received);
    resident(f->bn, "bn-new", NULL, "Ghi tại trạm");
    uint64_t mine2 = record_max_hlc(f->bn, "residents", "bn-new");
    assert_true(mine2 > mine);

    /* also after a restart: the advanced clock was saved */
    reopen(f, &f->bn, "bn.db", TS_ROLE_STATION, BN);
    resident(f->bn, "bn-after-restart", NULL, "Sau khi khởi động lại");
    uint64_t mine3 = record_max_hlc(f->bn, "residents", "bn-after-restart");
    if (mine3 <= mine2)
        fail_msg("after reopening, local write HLC %" PRIu64 " is not after %" PRIu64, mine3, mine2);

    /* the station's edit wins over the district's at the server (a plain
     * overwrite, since it had seen it), and every replica agrees */
    ts_test_push(f->bn, f->srv, BN, false);
    ts_test_pull(f->srv, f->bn, BN);
    assert_true(field_is_str(f->srv, "residents", "bn-srv", "phone", "0912345678"));
    uint64_t conflicts = 1;
    assert_int_equal(ts_store_conflict_count(f->srv, false, &conflicts), 0);
    assert_int_equal(conflicts, 0);
    assert_dumps_equal(f->srv, f->bn, "server and station");
}

/* ================================================================ 5. clock ahead */

static void test_clock_ahead_rejected_whole(void **state)
{
    fixture *f = *state;
    uint64_t base = ts_wall_ms();
    fake_clock srv_clock = {base}, bn_clock = {base + 10 * 60 * 1000};
    ts_hlc_set_clock(ts_store_hlc(f->srv), fake_now, &srv_clock);
    ts_hlc_set_clock(ts_store_hlc(f->bn), fake_now, &bn_clock);
    put_ok(f->srv, "stations", BN, NULL, "name=Trạm Y tế xã Bình Nguyên", "commune=Bình Nguyên", NULL, NULL);

    resident(f->bn, "bn-1", NULL, "Một");
    resident(f->bn, "bn-2", NULL, "Hai");
    resident(f->bn, "bn-3", NULL, "Ba");

    ts_buf before = TS_BUF_INIT, after = TS_BUF_INIT;
    dump(f->srv, &before);
    uint64_t seq = ts_store_last_seq(f->srv);
    ts_error err;
    memset(&err, 0, sizeof err);
    uint32_t n = 0;
    assert_int_equal(push_raw(f->bn, f->srv, BN, NULL, &n, &err), TS_ECLOCK_AHEAD);
    assert_int_equal(n, 3);
    if (strstr(err.msg, "clock ahead by") == NULL)
        fail_msg("unclear clock error: \"%s\"", err.msg);
    if (strstr(err.msg, "600") == NULL) /* by exactly 10 minutes */
        fail_msg("the clock error does not say by how much: \"%s\"", err.msg);
    dump(f->srv, &after);
    assert_true(buf_eq(&before, &after));
    assert_int_equal(ts_store_last_seq(f->srv), seq);
    assert_int_equal(q_int(f->srv, "SELECT count(*) FROM replicas", NULL, NULL), 0);
    /* the station keeps all three pending */
    uint64_t pending = 0;
    assert_int_equal(ts_store_pending_count(f->bn, &pending), 0);
    assert_int_equal(pending, 3);
    /* its HLC stays ahead even once its wall clock is fixed (HLCs never go back) */
    bn_clock.ms = base;
    resident(f->bn, "bn-4", NULL, "Bốn");
    assert_true(TS_HLC_MS(record_max_hlc(f->bn, "residents", "bn-4")) >= base + 10 * 60 * 1000);
    assert_int_equal(push_raw(f->bn, f->srv, BN, NULL, &n, &err), TS_ECLOCK_AHEAD);
    assert_int_equal(n, 4);
    dump(f->srv, &after);
    assert_true(buf_eq(&before, &after));
    /* one change too far ahead refuses its valid neighbours with it */
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change mixed[2];
    static const char *const specs[] = {"full_name=Lan", "birth_date=2000-01-01", "sex=female", NULL};
    const ts_rid *xl_rid = ts_store_replica(f->xl);
    mk_change(&mixed[0], &arena, "residents", "xl-ok", XL, xl_rid, 1, 1, TS_HLC_MAKE(base, 0), specs);
    mk_change(&mixed[1], &arena, "residents", "xl-ahead", XL, xl_rid, 1, 2, TS_HLC_MAKE(base + 10 * 60 * 1000, 0),
              specs);
    ts_apply_result mres[2];
    ts_actor xl = {TS_ACTOR_STATION, XL, xl_rid, "test"};
    memset(&err, 0, sizeof err);
    assert_int_equal(ts_store_apply(f->srv, &xl, mixed, 2, mres, &err), TS_ECLOCK_AHEAD);
    assert_non_null(strstr(err.msg, "clock ahead by"));
    dump(f->srv, &after);
    assert_true(buf_eq(&before, &after));
    ts_version_free(&mixed[0].v);
    ts_version_free(&mixed[1].v);
    ts_arena_free(&arena);

    /* the server's clock catches up: 4 minutes ahead is within the bound */
    srv_clock.ms = base + 6 * 60 * 1000;
    assert_int_equal(ts_test_push(f->bn, f->srv, BN, false), 4);
    assert_int_equal(ts_store_pending_count(f->bn, &pending), 0);
    assert_int_equal(pending, 0);
    assert_true(field_is_str(f->srv, "residents", "bn-1", "full_name", "Một"));
    assert_true(field_is_str(f->srv, "residents", "bn-3", "full_name", "Ba"));
    assert_true(field_is_str(f->srv, "residents", "bn-4", "full_name", "Bốn"));
    ts_test_pull(f->srv, f->bn, BN);
    assert_dumps_equal(f->srv, f->bn, "server and station");
    ts_buf_free(&before);
    ts_buf_free(&after);
}

/* ================================================================ 6. outcomes */

static int64_t conflicts_of(ts_store *st, const char *id, const char *field, bool unresolved_only)
{
    const char *sql = unresolved_only ? "SELECT count(*) FROM conflicts WHERE tbl = 'residents' AND rec_id = ?1"
                                        " AND field = coalesce(?2, field) AND resolved_at IS NULL"
                                      : "SELECT count(*) FROM conflicts WHERE tbl = 'residents' AND rec_id = ?1"
                                        " AND field = coalesce(?2, field)";
    return q_int(st, sql, id, field);
}

static void test_outcomes(void **state)
{
    fixture *f = *state;
    ts_error err;
    resident(f->bn, "bn-dup", NULL, "Gửi lại");
    resident(f->bn, "bn-merge", NULL, "Sửa khác trường");
    resident(f->bn, "bn-conflict", NULL, "Tên gốc");
    assert_int_equal(ts_test_push(f->bn, f->srv, BN, false), 3);

    /* the district and the station edit concurrently */
    put_ok(f->srv, "residents", "bn-merge", NULL, "phone=0912345678", NULL, NULL, NULL);
    put_ok(f->srv, "residents", "bn-conflict", NULL, "full_name=Tên do huyện sửa", NULL, NULL, NULL);
    put_ok(f->bn, "residents", "bn-merge", NULL, "address=Thôn 3", NULL, NULL, NULL);
    put_ok(f->bn, "residents", "bn-conflict", NULL, "full_name=Tên do trạm sửa", NULL, NULL, NULL);
    resident(f->bn, "bn-new", NULL, "Mới");

    ts_change_page page;
    ts_change_page_init(&page);
    assert_int_equal(ts_store_pending(f->bn, 0, 100, &page, &err), 0);
    ts_change *dup = page_find(&page, "residents", "bn-dup"), *mrg = page_find(&page, "residents", "bn-merge");
    ts_change *cfl = page_find(&page, "residents", "bn-conflict"), *nw = page_find(&page, "residents", "bn-new");
    assert_non_null(dup);
    assert_non_null(mrg);
    assert_non_null(cfl);
    assert_non_null(nw);

    /* what a faulty station might also send */
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    const ts_rid *rid = ts_store_replica(f->bn);
    uint64_t hlc = TS_HLC_MAKE(ts_wall_ms(), 0);
    static const char *const unknown_specs[] = {"name=x", NULL};
    static const char *const invalid_specs[] = {"full_name=Sai ngày", "birth_date=2023-02-29", "sex=male", NULL};
    static const char *const forged_specs[] = {"full_name=Không phải của tôi", "birth_date=2000-01-01", "sex=male",
                                               NULL};
    ts_change bad[3];
    mk_change(&bad[0], &arena, "patients", "bn-p", BN, rid, 1, 100, hlc, unknown_specs);
    mk_change(&bad[1], &arena, "residents", "bn-invalid", BN, rid, 1, 101, hlc, invalid_specs);
    mk_change(&bad[2], &arena, "residents", "xl-forged", XL, rid, 1, 102, hlc, forged_specs);

    enum { N = 7 };
    ts_change set[N] = {bad[0], *dup, bad[1], *mrg, bad[2], *cfl, *nw};
    ts_apply_result res[N];
    ts_actor actor = {TS_ACTOR_STATION, BN, rid, "test"};
    uint64_t seq = ts_store_last_seq(f->srv);
    /* the district's entry the station's edit meets */
    uint64_t dist_hlc;
    ts_rid dist_rid;
    {
        ts_arena a2;
        ts_arena_init(&a2, 4096);
        ts_change cur;
        assert_int_equal(ts_store_get(f->srv, "residents", "bn-conflict", &cur, &a2, &err), 0);
        const ts_field *e = ts_version_field(&cur.v, "full_name");
        assert_non_null(e);
        dist_hlc = e->hlc;
        dist_rid = e->dot.rid;
        assert_true(ts_rid_eq(&dist_rid, ts_store_replica(f->srv)));
        ts_version_free(&cur.v);
        ts_arena_free(&a2);
    }
    int64_t audits = q_int(f->srv, "SELECT count(*) FROM audit WHERE action = 'reject'", NULL, NULL);
    assert_int_equal(ts_store_apply(f->srv, &actor, set, N, res, &err), 0);

    assert_int_equal(res[0].outcome, TS_OUTCOME_REJECTED);
    assert_int_equal(res[0].code, TS_EUNKNOWN_TABLE);
    assert_non_null(strstr(res[0].reason, "patients"));
    assert_int_equal(res[1].outcome, TS_OUTCOME_DUPLICATE);
    assert_int_equal(res[2].outcome, TS_OUTCOME_REJECTED);
    assert_int_equal(res[2].code, TS_EINVALID_RECORD);
    /* the reason names the field and the rule, never the value: it goes to
     * the log and the audit log */
    if (strstr(res[2].reason, "birth_date") == NULL || strstr(res[2].reason, "valid date") == NULL)
        fail_msg("imprecise reason for an invalid record: \"%s\"", res[2].reason);
    if (strstr(res[2].reason, "2023-02-29") != NULL)
        fail_msg("the reason copies the refused value: \"%s\"", res[2].reason);
    assert_int_equal(q_int(f->srv, "SELECT count(*) FROM audit WHERE detail LIKE '%2023-02-29%'", NULL, NULL), 0);
    assert_int_equal(res[4].outcome, TS_OUTCOME_REJECTED);
    assert_int_equal(res[4].code, TS_EFORBIDDEN);
    assert_non_null(strstr(res[4].reason, XL));
    assert_int_equal(res[5].outcome, TS_OUTCOME_CONFLICT);
    assert_true(res[5].conflicts >= 1);
    assert_int_equal(res[6].outcome, TS_OUTCOME_APPLIED);
    /* a concurrent edit of different fields loses nothing: merged, not a
     * conflict (checked last, so the rest is checked either way) */
    char merged_msg[300] = "";
    if (res[3].outcome != TS_OUTCOME_MERGED)
        snprintf(merged_msg, sizeof merged_msg,
                 "concurrent edit of different fields: outcome %s (conflicts %u), expected MERGED; conflict rows: %"
                 PRId64 " (unresolved %" PRId64 ")",
                 ts_outcome_name(res[3].outcome), res[3].conflicts, conflicts_of(f->srv, "bn-merge", NULL, false),
                 conflicts_of(f->srv, "bn-merge", NULL, true));
    assert_int_equal(conflicts_of(f->srv, "bn-merge", NULL, true), 0);

    /* what was accepted is there; nothing of the refused ones */
    assert_true(field_is_str(f->srv, "residents", "bn-merge", "phone", "0912345678"));
    assert_true(field_is_str(f->srv, "residents", "bn-merge", "address", "Thôn 3"));
    assert_true(field_is_str(f->srv, "residents", "bn-new", "full_name", "Mới"));
    ts_arena garena;
    ts_arena_init(&garena, 4096);
    ts_change c;
    assert_int_equal(ts_store_get(f->srv, "patients", "bn-p", &c, &garena, &err), TS_ENOT_FOUND);
    assert_int_equal(ts_store_get(f->srv, "residents", "bn-invalid", &c, &garena, &err), TS_ENOT_FOUND);
    assert_int_equal(ts_store_get(f->srv, "residents", "xl-forged", &c, &garena, &err), TS_ENOT_FOUND);
    ts_arena_free(&garena);
    assert_int_equal(q_int(f->srv, "SELECT count(*) FROM records WHERE id IN ('bn-p', 'bn-invalid', 'xl-forged')",
                           NULL, NULL),
                     0);
    assert_int_equal(ts_store_last_seq(f->srv), seq + 3);
    assert_int_equal(q_int(f->srv, "SELECT count(*) FROM audit WHERE action = 'reject'", NULL, NULL), audits + 3);
    /* the conflict: the entry later in (hlc, replica) wins, the other is logged as the loser */
    const ts_field *sta_entry = ts_version_field(&cfl->v, "full_name");
    assert_non_null(sta_entry);
    bool station_wins = sta_entry->hlc != dist_hlc ? sta_entry->hlc > dist_hlc
                                                   : ts_rid_cmp(&sta_entry->dot.rid, &dist_rid) > 0;
    const char *winner = station_wins ? "Tên do trạm sửa" : "Tên do huyện sửa";
    const char *loser = station_wins ? "Tên do huyện sửa" : "Tên do trạm sửa";
    if (!field_is_str(f->srv, "residents", "bn-conflict", "full_name", winner))
        fail_msg("bn-conflict: \"%s\" should have won by (hlc, replica)", winner);
    assert_int_equal(conflicts_of(f->srv, "bn-conflict", "full_name", false), 1);
    {
        ts_buf lv = TS_BUF_INIT;
        ts_value_str(&lv, loser);
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(ts_store_db(f->srv),
                                            "SELECT count(*) FROM conflicts WHERE rec_id = 'bn-conflict'"
                                            " AND field = 'full_name' AND loser_value = ?1 AND resolved_at IS NULL",
                                            -1, &q, NULL),
                         SQLITE_OK);
        sqlite3_bind_blob(q, 1, lv.data, (int)lv.len, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(q, 0), 1);
        sqlite3_finalize(q);
        ts_buf_free(&lv);
    }
    int64_t rows_conflict = conflicts_of(f->srv, "bn-conflict", NULL, false);
    int64_t rows_all = q_int(f->srv, "SELECT count(*) FROM conflicts", NULL, NULL);

    /* the same set again */
    ts_buf before = TS_BUF_INIT, after = TS_BUF_INIT;
    dump(f->srv, &before);
    assert_int_equal(ts_store_apply(f->srv, &actor, set, N, res, &err), 0);
    static const int codes[N] = {TS_EUNKNOWN_TABLE, 0, TS_EINVALID_RECORD, 0, TS_EFORBIDDEN, 0, 0};
    for (int i = 0; i < N; i++) {
        if (codes[i]) {
            assert_int_equal(res[i].outcome, TS_OUTCOME_REJECTED);
            assert_int_equal(res[i].code, codes[i]);
        } else if (res[i].outcome != TS_OUTCOME_DUPLICATE) {
            fail_msg("re-applied %s: outcome %s", set[i].id, ts_outcome_name(res[i].outcome));
        }
    }
    dump(f->srv, &after);
    assert_true(buf_eq(&before, &after));
    assert_int_equal(ts_store_last_seq(f->srv), seq + 3);
    assert_int_equal(conflicts_of(f->srv, "bn-conflict", "full_name", false), 1);
    assert_int_equal(conflicts_of(f->srv, "bn-conflict", NULL, false), rows_conflict);
    assert_int_equal(q_int(f->srv, "SELECT count(*) FROM conflicts", NULL, NULL), rows_all);

    for (int i = 0; i < 3; i++)
        ts_version_free(&bad[i].v);
    ts_arena_free(&arena);
    ts_change_page_free(&page);
    ts_buf_free(&before);
    ts_buf_free(&after);
    if (merged_msg[0])
        fail_msg("%s", merged_msg);
}

/* ================================================================ 7. changes since: cost */

static sqlite3_stmt *live_stmt(ts_store *st, const char *sql)
{
    for (sqlite3_stmt *s = sqlite3_next_stmt(ts_store_db(st), NULL); s; s = sqlite3_next_stmt(ts_store_db(st), s))
        if (strcmp(sqlite3_sql(s), sql) == 0)
            return s;
    return NULL;
}

/* Fails when the plan reads a whole table (or index) instead of searching
 * it; with need_eq, every search must pin a key by equality (a range on seq
 * alone walks every station's versions). */
static void assert_plan_searches(ts_store *st, const char *sql, bool need_eq, const char *what)
{
    char *eqp = ts_xasprintf("EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ts_store_db(st), eqp, -1, &q, NULL) != SQLITE_OK)
        fail_msg("%s: prepare: %s", what, sqlite3_errmsg(ts_store_db(st)));
    ts_buf plan = TS_BUF_INIT;
    int searches = 0;
    bool scan = false;
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(q, 3);
        ts_buf_printf(&plan, "  %s\n", d);
        if (strncmp(d, "SEARCH ", 7) == 0) {
            searches++;
            if (need_eq && strstr(d, "=?") == NULL)
                scan = true;
        }
        /* reading a subquery's or co-routine's own rows is not a table scan */
        if (strncmp(d, "SCAN ", 5) == 0 && strncmp(d + 5, "(subquery", 9) != 0 && strncmp(d + 5, "CONSTANT", 8) != 0)
            scan = true;
    }
    sqlite3_finalize(q);
    ts_buf_append(&plan, "", 1);
    if (scan || searches == 0)
        fail_msg("%s: the plan does not only search indexes:\n%s", what, (const char *)plan.data);
    ts_buf_free(&plan);
    free(eqp);
}

static void test_changes_since_uses_indexes(void **state)
{
    fixture *f = *state;
    ts_error err;
    ts_store *srv = f->srv;
    const char *target = "targetst";

    /* 5,000 records of 50 other stations, pushed as they would be; notices
     * to other stations (audience lists); and among them, three versions
     * the target can see */
    enum { STATIONS = 50, PER = 100 };
    ts_arena arena;
    ts_arena_init(&arena, 65536);
    ts_change *set = ts_xcalloc(PER, sizeof *set);
    ts_apply_result *res = ts_xcalloc(PER, sizeof *res);
    for (int s = 0; s < STATIONS; s++) {
        char code[32];
        snprintf(code, sizeof code, "st%02d", s);
        ts_rid rid;
        ts_rid_generate(&rid, code);
        ts_arena_free(&arena);
        uint64_t hlc = TS_HLC_MAKE(ts_wall_ms(), 0);
        for (int i = 0; i < PER; i++) {
            char id[64], name[64];
            snprintf(id, sizeof id, "%s-%d", code, i);
            snprintf(name, sizeof name, "full_name=Người %d", i);
            const char *specs[] = {name, "birth_date=1970-01-01", "sex=male", NULL};
            mk_change(&set[i], &arena, "residents", id, code, &rid, 1, (uint64_t)i + 1, hlc, specs);
        }
        ts_actor actor = {TS_ACTOR_STATION, code, &rid, "test"};
        if (ts_store_apply(srv, &actor, set, PER, res, &err) < 0)
            fail_msg("bulk apply: %s", err.msg);
        for (int i = 0; i < PER; i++) {
            assert_int_equal(res[i].outcome, TS_OUTCOME_APPLIED);
            ts_version_free(&set[i].v);
        }
        if (s % 10 == 3) {
            for (int i = 0; i < 20; i++) {
                char id[32], rec[64];
                snprintf(id, sizeof id, "n-%d-%d", s, i);
                snprintf(rec, sizeof rec, "recipients=[st%02d,st%02d]", s, (s + 1) % STATIONS);
                assert_int_equal(ts_test_put(srv, "notices", id, NULL, &err, "number=1/TB", "doc_type=thong_bao",
                                             "issuer=TTYT", "issue_date=2026-05-06", "subject=Họp giao ban",
                                             "category=programs", "urgency=thuong", rec, NULL),
                                 0);
            }
        }
        /* the target's three, spread through the sequence */
        if (s == 10)
            resident(srv, "t-1", target, "Của trạm đích");
        if (s == 25)
            put_ok(srv, "stations", target, NULL, "name=Trạm đích", "commune=Đích", NULL, NULL);
        if (s == 40)
            assert_int_equal(ts_test_put(srv, "notices", "t-notice", NULL, &err, "number=2/TB", "doc_type=thong_bao",
                                         "issuer=TTYT", "issue_date=2026-05-06", "subject=Gửi trạm đích",
                                         "category=programs", "urgency=khan", "recipients=[targetst,st01]", NULL),
                             0);
    }
    free(set);
    free(res);
    ts_arena_free(&arena);
    int64_t total = q_int(srv, "SELECT count(*) FROM records", NULL, NULL);
    assert_true(total >= STATIONS * PER + 3);

    /* the plans */
    char *src = store_source();
    char *sql_for = store_stmt_sql(src, "TS__CHANGES_FOR"), *sql_all = store_stmt_sql(src, "TS__CHANGES_ALL");
    assert_int_equal(sqlite3_exec(ts_store_db(srv), "ANALYZE", NULL, NULL, NULL), SQLITE_OK);
    assert_plan_searches(srv, sql_for, true, "changes for a station");
    assert_plan_searches(srv, sql_all, false, "all changes");
    assert_int_equal(sqlite3_exec(ts_store_db(srv), "DROP TABLE IF EXISTS sqlite_stat1; DROP TABLE IF EXISTS sqlite_stat4",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_plan_searches(srv, sql_for, true, "changes for a station (no statistics)");

    /* the statement the store really runs */
    sqlite3_stmt *live = live_stmt(srv, sql_for);
    if (live == NULL)
        fail_msg("the store has no prepared statement with the TS__CHANGES_FOR text of common/ts_store.c");

    ts_change_page page;
    ts_change_page_init(&page);
    uint64_t next = 0;
    bool more = true;
    sqlite3_stmt_status(live, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
    sqlite3_stmt_status(live, SQLITE_STMTSTATUS_VM_STEP, 1);
    sqlite3_stmt_status(live, SQLITE_STMTSTATUS_SORT, 1);
    assert_int_equal(ts_store_changes_since(srv, target, NULL, 0, 100, &page, &next, &more, &err), 0);
    int fullscan = sqlite3_stmt_status(live, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
    int vm = sqlite3_stmt_status(live, SQLITE_STMTSTATUS_VM_STEP, 1);
    print_message("changes since: %u of %" PRId64 " records, %d VM steps, %d full-scan steps\n", page.n, total, vm,
                  fullscan);
    assert_int_equal(page.n, 3);
    assert_false(more);
    assert_string_equal(page.items[0].id, "t-1");
    assert_string_equal(page.items[1].id, target);
    assert_string_equal(page.items[2].id, "t-notice");
    assert_true(page.items[0].seq < page.items[1].seq && page.items[1].seq < page.items[2].seq);
    assert_int_equal(next, ts_store_last_seq(srv));
    if (fullscan != 0 || vm > 1000)
        fail_msg("returning 3 of %" PRId64 " records took %d VM steps and %d full-scan steps", total, vm, fullscan);

    /* cost follows what is returned: from the middle, the same */
    uint64_t mid = page.items[0].seq;
    sqlite3_stmt_status(live, SQLITE_STMTSTATUS_VM_STEP, 1);
    assert_int_equal(ts_store_changes_since(srv, target, NULL, mid, 100, &page, &next, &more, &err), 0);
    vm = sqlite3_stmt_status(live, SQLITE_STMTSTATUS_VM_STEP, 1);
    assert_int_equal(page.n, 2);
    assert_true(vm <= 1000);

    /* paging */
    assert_int_equal(ts_store_changes_since(srv, target, NULL, 0, 2, &page, &next, &more, &err), 0);
    assert_int_equal(page.n, 2);
    assert_true(more);
    assert_string_equal(page.items[0].id, "t-1");
    assert_string_equal(page.items[1].id, target);
    assert_int_equal(next, page.items[1].seq);
    assert_int_equal(ts_store_changes_since(srv, target, NULL, next, 2, &page, &next, &more, &err), 0);
    assert_int_equal(page.n, 1);
    assert_false(more);
    assert_string_equal(page.items[0].id, "t-notice");
    assert_int_equal(ts_store_changes_since(srv, target, NULL, next, 2, &page, &next, &more, &err), 0);
    assert_int_equal(page.n, 0);
    assert_false(more);

    /* the same through a fresh statement from the source text */
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(ts_store_db(srv), sql_for, -1, &q, NULL), SQLITE_OK);
    sqlite3_bind_text(q, 1, target, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, 0);
    sqlite3_bind_int64(q, 3, 101);
    sqlite3_bind_null(q, 4);
    int rows = 0;
    while (sqlite3_step(q) == SQLITE_ROW)
        rows++;
    assert_int_equal(rows, 3);
    assert_int_equal(sqlite3_stmt_status(q, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0), 0);
    assert_true(sqlite3_stmt_status(q, SQLITE_STMTSTATUS_VM_STEP, 0) <= 1000);
    sqlite3_finalize(q);

    ts_change_page_free(&page);
    free(sql_for);
    free(sql_all);
    free(src);
}

/* ================================================================ 8. tombstones */

static void pull_and_cursor(ts_store *srv, ts_store *sta, const char *code)
{
    ts_error err;
    ts_test_pull(srv, sta, code);
    uint64_t cursor = 0;
    assert_int_equal(ts_store_meta_get_u64(sta, "pull_cursor", &cursor), 0);
    assert_int_equal(ts_store_station_cursor(srv, code, cursor, &err), 0);
}

static void test_tombstone_purge_never_resurrects(void **state)
{
    fixture *f = *state;
    ts_error err;
    ts_actor admin = {TS_ACTOR_ADMIN, "admin", NULL, "test"};
    put_ok(f->srv, "drug_catalog", "PARA500", NULL, "name=Paracetamol 500mg", "unit=viên", NULL, NULL);
    put_ok(f->srv, "drug_catalog", "AMOX500", NULL, "name=Amoxicillin 500mg", "unit=viên", NULL, NULL);
    pull_and_cursor(f->srv, f->bn, BN);
    pull_and_cursor(f->srv, f->xl, XL);

    /* the version every station holds, kept to re-send later */
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change old;
    assert_int_equal(ts_store_get(f->srv, "drug_catalog", "PARA500", &old, &arena, &err), 0);

    ts_actor me = {TS_ACTOR_LOCAL, "test", NULL, NULL};
    assert_int_equal(ts_store_delete(f->srv, &me, "drug_catalog", "PARA500", &err), 0);
    uint64_t tomb_seq = ts_store_last_seq(f->srv);

    /* Bình Nguyên has the tombstone, Xuân Lãng does not yet */
    pull_and_cursor(f->srv, f->bn, BN);
    uint64_t purged = 9;
    assert_int_equal(ts_store_purge_tombstones(f->srv, 0, &purged, &err), 0);
    assert_int_equal(purged, 0);
    assert_int_equal(q_int(f->srv, "SELECT purged FROM records WHERE id = 'PARA500'", NULL, NULL), 0);
    /* a cursor just below the tombstone is still below it */
    assert_int_equal(ts_store_station_cursor(f->srv, XL, tomb_seq - 1, &err), 0);
    assert_int_equal(ts_store_purge_tombstones(f->srv, 0, &purged, &err), 0);
    assert_int_equal(purged, 0);

    pull_and_cursor(f->srv, f->xl, XL);
    assert_int_equal(ts_store_purge_tombstones(f->srv, 0, &purged, &err), 0);
    assert_int_equal(purged, 1);
    assert_int_equal(q_int(f->srv, "SELECT purged FROM records WHERE id = 'PARA500'", NULL, NULL), 1);
    ts_change c;
    assert_int_equal(ts_store_get(f->srv, "drug_catalog", "PARA500", &c, &arena, &err), 0);
    assert_true(ts_version_deleted(&c.v));
    assert_int_equal(c.v.nfields, 1); /* only the deletion is left */
    assert_true(ts_vv_leq(&old.v.vv, &c.v.vv));
    ts_version_free(&c.v);
    /* purging again finds nothing */
    assert_int_equal(ts_store_purge_tombstones(f->srv, 0, &purged, &err), 0);
    assert_int_equal(purged, 0);

    /* the old version comes back: already known, stays deleted */
    ts_buf before = TS_BUF_INIT, after = TS_BUF_INIT;
    dump(f->srv, &before);
    uint64_t seq = ts_store_last_seq(f->srv);
    ts_apply_result res;
    assert_int_equal(ts_store_apply(f->srv, &admin, &old, 1, &res, &err), 0);
    assert_int_equal(res.outcome, TS_OUTCOME_DUPLICATE);
    assert_int_equal(ts_store_last_seq(f->srv), seq);
    dump(f->srv, &after);
    assert_true(buf_eq(&before, &after));
    assert_int_equal(ts_store_get(f->srv, "drug_catalog", "PARA500", &c, &arena, &err), 0);
    assert_true(ts_version_deleted(&c.v));
    ts_version_free(&c.v);
    /* ... and at a station */
    assert_int_equal(ts_store_apply(f->bn, NULL, &old, 1, &res, &err), 0);
    assert_int_equal(res.outcome, TS_OUTCOME_DUPLICATE);
    assert_int_equal(ts_store_get(f->bn, "drug_catalog", "PARA500", &c, &arena, &err), 0);
    assert_true(ts_version_deleted(&c.v));
    ts_version_free(&c.v);

    /* a new station pulls from 0: the bare tombstone */
    f->aux[0] = ts_test_open(f->dir, "new.db", TS_ROLE_STATION, "tramsmoi", NULL);
    ts_store *nw = f->aux[0];
    ts_change_page page;
    ts_change_page_init(&page);
    uint64_t next;
    bool more;
    assert_int_equal(ts_store_changes_since(f->srv, "tramsmoi", ts_store_replica(nw), 0, 100, &page, &next, &more, &err),
                     0);
    ts_change *t = page_find(&page, "drug_catalog", "PARA500");
    assert_non_null(t);
    assert_true(ts_version_deleted(&t->v));
    assert_int_equal(t->v.nfields, 1);
    assert_non_null(page_find(&page, "drug_catalog", "AMOX500"));
    ts_change_page_free(&page);
    pull_and_cursor(f->srv, nw, "tramsmoi");
    assert_int_equal(ts_store_get(nw, "drug_catalog", "PARA500", &c, &arena, &err), 0);
    assert_true(ts_version_deleted(&c.v));
    ts_version_free(&c.v);
    /* the old version reaches the new station too: still deleted */
    assert_int_equal(ts_store_apply(nw, NULL, &old, 1, &res, &err), 0);
    assert_int_equal(res.outcome, TS_OUTCOME_DUPLICATE);

    assert_dumps_equal(f->srv, f->bn, "server and Bình Nguyên");
    assert_dumps_equal(f->srv, f->xl, "server and Xuân Lãng");
    assert_dumps_equal(f->srv, nw, "server and the new station");

    ts_version_free(&old.v);
    ts_arena_free(&arena);
    ts_buf_free(&before);
    ts_buf_free(&after);
}

/* ================================================================ 9. idempotence */

static void apply_twice(ts_store *st, const ts_actor *actor, ts_change_page *page, const char *what)
{
    ts_error err;
    ts_apply_result *res = ts_xcalloc(page->n, sizeof *res);
    if (ts_store_apply(st, actor, page->items, page->n, res, &err) < 0)
        fail_msg("%s: first apply: %s", what, err.msg);
    int non_dup = 0;
    for (uint32_t i = 0; i < page->n; i++) {
        if (res[i].outcome == TS_OUTCOME_REJECTED)
            fail_msg("%s: %s/%s rejected: %s", what, page->items[i].table, page->items[i].id, res[i].reason);
        non_dup += res[i].outcome != TS_OUTCOME_DUPLICATE;
    }
    assert_true(non_dup > 0); /* the first time did something */

    ts_buf before = TS_BUF_INIT, after = TS_BUF_INIT;
    dump(st, &before);
    uint64_t seq = ts_store_last_seq(st), pending = 0, pending2 = 0, conflicts = 0, conflicts2 = 0;
    uint64_t lseq = 0, lseq2 = 0;
    ts_store_meta_get_u64(st, "lseq", &lseq);
    assert_int_equal(ts_store_pending_count(st, &pending), 0);
    assert_int_equal(ts_store_conflict_count(st, false, &conflicts), 0);
    if (ts_store_apply(st, actor, page->items, page->n, res, &err) < 0)
        fail_msg("%s: second apply: %s", what, err.msg);
    for (uint32_t i = 0; i < page->n; i++)
        if (res[i].outcome != TS_OUTCOME_DUPLICATE)
            fail_msg("%s: re-applied %s/%s: outcome %s", what, page->items[i].table, page->items[i].id,
                     ts_outcome_name(res[i].outcome));
    dump(st, &after);
    if (!buf_eq(&before, &after))
        fail_msg("%s: the second apply changed the dump", what);
    assert_int_equal(ts_store_last_seq(st), seq);
    ts_store_meta_get_u64(st, "lseq", &lseq2);
    assert_int_equal(lseq2, lseq);
    assert_int_equal(ts_store_pending_count(st, &pending2), 0);
    assert_int_equal(pending2, pending);
    assert_int_equal(ts_store_conflict_count(st, false, &conflicts2), 0);
    assert_int_equal(conflicts2, conflicts);
    ts_buf_free(&before);
    ts_buf_free(&after);
    free(res);
}

static void test_reapply_is_idempotent(void **state)
{
    fixture *f = *state;
    ts_error err;
    ts_actor me = {TS_ACTOR_LOCAL, "test", NULL, NULL};

    /* at the server: new records, updates, a deletion, concurrent edits */
    resident(f->bn, "bn-1", NULL, "Một");
    resident(f->bn, "bn-2", NULL, "Hai");
    resident(f->bn, "bn-3", NULL, "Ba");
    ts_test_push(f->bn, f->srv, BN, false);
    put_ok(f->srv, "residents", "bn-2", NULL, "phone=0912345678", NULL, NULL, NULL);
    put_ok(f->srv, "residents", "bn-3", NULL, "full_name=Ba (huyện)", NULL, NULL, NULL);
    put_ok(f->bn, "residents", "bn-1", NULL, "address=Thôn 1", NULL, NULL, NULL);
    put_ok(f->bn, "residents", "bn-2", NULL, "address=Thôn 2", NULL, NULL, NULL);
    put_ok(f->bn, "residents", "bn-3", NULL, "full_name=Ba (trạm)", NULL, NULL, NULL);
    assert_int_equal(ts_store_delete(f->bn, &me, "residents", "bn-1", &err), 0);
    resident(f->bn, "bn-4", NULL, "Bốn");
    ts_change_page page;
    ts_change_page_init(&page);
    uint64_t acked = 0;
    ts_store_meta_get_u64(f->bn, "push_acked", &acked);
    assert_int_equal(ts_store_pending(f->bn, acked, 100, &page, &err), 0);
    assert_int_equal(page.n, 4);
    ts_actor bn = {TS_ACTOR_STATION, BN, ts_store_replica(f->bn), "test"};
    apply_twice(f->srv, &bn, &page, "server");
    ts_store_ack_pushed(f->bn, page.items[page.n - 1].lseq, &err);

    /* at a station: district records and versions merging with its own unpushed edits */
    put_ok(f->srv, "stations", XL, NULL, "name=Trạm Y tế xã Xuân Lãng", "commune=Xuân Lãng", NULL, NULL);
    put_ok(f->srv, "drug_catalog", "PARA500", NULL, "name=Paracetamol 500mg", "unit=viên", NULL, NULL);
    resident(f->xl, "xl-1", NULL, "Hoa");
    ts_test_push(f->xl, f->srv, XL, false);
    put_ok(f->srv, "residents", "xl-1", NULL, "phone=0987654321", NULL, NULL, NULL);
    put_ok(f->srv, "residents", "xl-1", NULL, "full_name=Hoa (huyện)", NULL, NULL, NULL);
    put_ok(f->xl, "residents", "xl-1", NULL, "full_name=Hoa (trạm)", "address=Thôn 5", NULL, NULL);
    uint64_t next;
    bool more;
    assert_int_equal(ts_store_changes_since(f->srv, XL, ts_store_replica(f->xl), 0, 100, &page, &next, &more, &err),
                     0);
    assert_int_equal(page.n, 3);
    apply_twice(f->xl, NULL, &page, "station");

    /* and the two converge once the station pushes its merge */
    ts_test_push(f->xl, f->srv, XL, false);
    ts_test_pull(f->srv, f->xl, XL);
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change a, b;
    assert_int_equal(ts_store_get(f->srv, "residents", "xl-1", &a, &arena, &err), 0);
    assert_int_equal(ts_store_get(f->xl, "residents", "xl-1", &b, &arena, &err), 0);
    assert_true(ts_vv_equal(&a.v.vv, &b.v.vv));
    assert_int_equal(a.v.nfields, b.v.nfields);
    for (uint32_t i = 0; i < a.v.nfields; i++)
        assert_true(ts_field_equal(&a.v.fields[i], &b.v.fields[i]));
    ts_version_free(&a.v);
    ts_version_free(&b.v);
    ts_arena_free(&arena);
    ts_change_page_free(&page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_safety),
        cmocka_unit_test(test_migrations_from_every_version),
        cmocka_unit_test_setup_teardown(test_restored_station_rekeys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restored_station_same_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hlc_next_write_after_received, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_ahead_rejected_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_since_uses_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_purge_never_resurrects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reapply_is_idempotent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
