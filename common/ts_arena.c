#include "common/ts_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_xmalloc.h"

struct ts_arena_block {
    ts_arena_block *next;
    size_t used;
    size_t size;
    max_align_t data[];
};

void ts_arena_init(ts_arena *arena, size_t block_size)
{
    arena->head = NULL;
    arena->block_size = block_size ? block_size : 4096;
    arena->total = 0;
    arena->blocks = 0;
}

void *ts_arena_alloc(ts_arena *arena, size_t size)
{
    const size_t align = sizeof(max_align_t);
    if (size > SIZE_MAX / 2)
        return ts_xmalloc(SIZE_MAX); /* cannot be satisfied: fatal */
    size = (size + align - 1) & ~(align - 1);

    ts_arena_block *b = arena->head;
    if (b == NULL || b->size - b->used < size) {
        size_t bsize = size > arena->block_size ? size : arena->block_size;
        b = ts_xmalloc(sizeof *b + bsize);
        b->size = bsize;
        b->used = 0;
        arena->blocks++;
        if (bsize == arena->block_size && arena->block_size < TS_ARENA_BLOCK_MAX)
            arena->block_size = arena->block_size * 2 < TS_ARENA_BLOCK_MAX ? arena->block_size * 2 : TS_ARENA_BLOCK_MAX;
        /* A large one-off allocation goes behind the current block so that
         * the current block keeps serving small requests. */
        if (arena->head != NULL && bsize > arena->block_size) {
            b->next = arena->head->next;
            arena->head->next = b;
        } else {
            b->next = arena->head;
            arena->head = b;
        }
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    arena->total += size;
    return p;
}

void *ts_arena_calloc(ts_arena *arena, size_t nmemb, size_t size)
{
    if (size != 0 && nmemb > SIZE_MAX / size)
        return ts_xmalloc(SIZE_MAX); /* cannot be satisfied: fatal */
    void *p = ts_arena_alloc(arena, nmemb * size);
    memset(p, 0, nmemb * size);
    return p;
}

char *ts_arena_strndup(ts_arena *arena, const char *s, size_t n)
{
    char *p = ts_arena_alloc(arena, n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *ts_arena_memdup(ts_arena *arena, const void *src, size_t n)
{
    void *p = ts_arena_alloc(arena, n ? n : 1);
    if (n)
        memcpy(p, src, n);
    return p;
}

void ts_arena_free(ts_arena *arena)
{
    ts_arena_block *b = arena->head;
    while (b != NULL) {
        ts_arena_block *next = b->next;
        free(b);
        b = next;
    }
    arena->head = NULL;
    arena->total = 0;
    arena->blocks = 0;
}
