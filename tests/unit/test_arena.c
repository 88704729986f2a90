/* The bump allocator (common/ts_arena.c): blocks grow from the first one's
 * size to TS_ARENA_BLOCK_MAX, so that a decoded PUSH of 1,000 records (about
 * a megabyte of small objects) takes a few dozen mallocs, not 270 (they were
 * a tenth of the daemon's loop under make bench ONLY=ingest); a small
 * message still takes one small block; what is handed out stays aligned,
 * and a large one-off does not end the current block. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_arena.h"
#include "tests/support/ts_test.h"

static void test_blocks_grow_to_the_cap(void **state)
{
    (void)state;
    ts_arena a;
    ts_arena_init(&a, 4096);
    char *first = ts_arena_memdup(&a, "ping", 4);
    assert_memory_equal(first, "ping", 4);
    assert_int_equal(a.blocks, 1);
    /* a megabyte in pieces of 200 bytes, each aligned and intact */
    char piece[200];
    memset(piece, 'x', sizeof piece);
    char *last = NULL;
    for (int i = 0; i < 5000; i++) {
        piece[0] = (char)('a' + i % 26);
        last = ts_arena_memdup(&a, piece, sizeof piece);
        assert_int_equal((uintptr_t)last % sizeof(max_align_t), 0);
    }
    assert_int_equal(last[0], 'a' + 4999 % 26);
    assert_memory_equal(first, "ping", 4);
    /* 4, 8, 16, 32 KiB, then 64 KiB blocks: 1 MB in about twenty (270 of 4 KiB) */
    assert_true(a.blocks <= 24);
    assert_int_equal(a.block_size, TS_ARENA_BLOCK_MAX);
    const size_t al = sizeof(max_align_t);
    assert_int_equal(a.total, (4 + al - 1) / al * al + 5000 * ((200 + al - 1) / al * al)); /* aligned pieces */
    ts_arena_free(&a);
    assert_int_equal(a.blocks, 0);
    assert_int_equal(a.total, 0);
}

static void test_large_one_off_keeps_the_block(void **state)
{
    (void)state;
    ts_arena a;
    ts_arena_init(&a, 4096);
    char *small = ts_arena_strndup(&a, "abc", 3);
    char *big = ts_arena_calloc(&a, 1, 1 << 20);
    assert_int_equal(big[(1 << 20) - 1], 0);
    size_t blocks = a.blocks;
    assert_int_equal(blocks, 2);
    char *next = ts_arena_strndup(&a, "def", 3);
    assert_int_equal(a.blocks, blocks); /* from the first block still */
    assert_true(next > small && next - small < 4096);
    assert_int_equal(a.block_size, 8192); /* the one-off did not grow the blocks */
    ts_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_grow_to_the_cap),
        cmocka_unit_test(test_large_one_off_keeps_the_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
