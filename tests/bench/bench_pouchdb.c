/* A peer measured the same way (`make bench ONLY=pouchdb`): PouchDB, on the
 * same realistic residents as tramsync's benchmarks (tests/support/
 * ts_test_records.c), one client on loopback, a push of TS_BENCH_RECORDS
 * (default 20,000) records to an empty server database and a first sync of
 * them into an empty client database, records/s and bytes/record on the wire.
 * The peer itself is tests/bench/pouchdb/bench.mjs (express-pouchdb on the
 * in-memory adapter, a PouchDB client replicating over HTTP through a byte-
 * counting relay); this program writes the residents as JSON lines and runs
 * it. tramsync's figures measured the same way come from
 * `TS_BENCH_STATIONS=1 TS_BENCH_RECORDS=20000 TS_BENCH_FIRST=20000 make bench
 * ONLY=sync` (one agent pushing, one new agent pulling).
 *
 * It needs Node.js and the peer's node modules, which `make deps` does not
 * install (npm is needed for nothing else here): without them it says so,
 * prints no figure and succeeds. To install them:
 *
 *   cd tests/bench/pouchdb && npm ci
 *
 * Output: the peer's "BENCH <name> <value> <unit>" lines, notes on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ts_buf.h"
#include "common/ts_mp.h"
#include "common/ts_xmalloc.h"
#include "tests/support/ts_test.h"
#include "tests/support/ts_test_records.h"

static long env_long(const char *name, long def)
{
    const char *s = getenv(name);
    return s && *s ? strtol(s, NULL, 10) : def;
}

int main(void)
{
    const char *src = getenv("TS_SOURCE_DIR") ? getenv("TS_SOURCE_DIR") : ".";
    char *dir = ts_xasprintf("%s/tests/bench/pouchdb", src);
    char *mods = ts_xasprintf("%s/node_modules/express-pouchdb/package.json", dir);
    if (system("command -v node >/dev/null 2>&1") != 0 || access(mods, R_OK) != 0) {
        fprintf(stderr, "bench_pouchdb: SKIPPED: the PouchDB peer is not installed (Node.js and its modules: "
                        "cd tests/bench/pouchdb && npm ci)\n");
        free(mods);
        free(dir);
        return 0;
    }
    long n = env_long("TS_BENCH_RECORDS", 20000);
    char *tmp = ts_tmpdir_make("bench-pouchdb");
    char *path = ts_xasprintf("%s/residents.jsonl", tmp);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "bench_pouchdb: cannot write %s\n", path);
        return 1;
    }
    /* the residents of bench sync's first sync: commune "firstsync", ids FS-<i> */
    ts_buf line = TS_BUF_INIT;
    size_t values = 0;
    for (long i = 0; i < n; i++) {
        char vals[TS_TEST_NFIELDS][TS_TEST_FIELD_MAX];
        const char *names[TS_TEST_NFIELDS];
        ts_test_resident((uint32_t)i, "firstsync", vals, names);
        ts_buf_reset(&line);
        char id[32];
        snprintf(id, sizeof id, "FS-%06ld", i);
        ts_buf_append(&line, "{\"_id\":", 7);
        ts_json_string(&line, id, strlen(id));
        for (int k = 0; k < TS_TEST_NFIELDS; k++) {
            ts_buf_append(&line, ",", 1);
            ts_json_string(&line, names[k], strlen(names[k]));
            ts_buf_append(&line, ":", 1);
            ts_json_string(&line, vals[k], strlen(vals[k]));
            values += strlen(vals[k]);
        }
        ts_buf_append(&line, "}\n", 2);
        fwrite(line.data, 1, line.len, f);
    }
    ts_buf_free(&line);
    fclose(f);
    fprintf(stderr, "bench_pouchdb: %ld residents, %.0f bytes of values each (as text)\n", n,
            (double)values / (double)n);
    fflush(stdout);
    char *cmd = ts_xasprintf("cd '%s' && node bench.mjs '%s'", dir, path);
    int rc = system(cmd);
    ts_tmpdir_remove(tmp); /* kept with TS_KEEP_TMP=1 */
    free(cmd);
    free(path);
    free(mods);
    free(dir);
    return rc == 0 ? 0 : 1;
}
