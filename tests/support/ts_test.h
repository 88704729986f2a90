/* Shared helpers for the test suites: cmocka includes, a seeded PRNG whose
 * seed is printed on failure, hex helpers, temporary directories. */
#ifndef TS_TEST_H
#define TS_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

typedef struct ts_rng {
    uint64_t state;
    uint64_t seed;
} ts_rng;

void ts_rng_seed(ts_rng *r, uint64_t seed);
uint64_t ts_rng_next(ts_rng *r);
/* uniform in [0, n) */
uint64_t ts_rng_below(ts_rng *r, uint64_t n);
/* true with probability p */
bool ts_rng_chance(ts_rng *r, double p);

/* Seeds for property tests: TS_TEST_SEED=N runs just that seed. */
uint64_t ts_test_seed_count(uint64_t default_count);
uint64_t ts_test_seed(uint64_t i);

/* Fails the current test with the seed in the message. */
#define ts_check_seed(cond, seed, ...)                                                   \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            print_error("seed=%llu (rerun with TS_TEST_SEED=%llu): ", (unsigned long long)(seed), \
                        (unsigned long long)(seed));                                     \
            print_error(__VA_ARGS__);                                                    \
            print_error("\n");                                                           \
            fail_msg("%s", #cond);                                                       \
        }                                                                                \
    } while (0)

/* Hex: "0a 1B ff" (spaces and newlines ignored) -> bytes; returns length or -1. */
long ts_hex_decode(const char *hex, uint8_t *out, size_t cap);
/* bytes -> lowercase hex (2*len+1 bytes in out) */
void ts_hex_encode(const uint8_t *in, size_t len, char *out);

/* A fresh directory under $TMPDIR (or /tmp); removed by ts_tmpdir_remove. */
char *ts_tmpdir_make(const char *tag);
void ts_tmpdir_remove(char *path);

/* Reads a whole file; NULL when it cannot. */
char *ts_read_file(const char *path, size_t *len);
/* Path of a file in the source tree (TS_SOURCE_DIR or "."); caller frees. */
char *ts_source_path(const char *rel);

#endif
