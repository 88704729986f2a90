/* A bump allocator for objects that live and die together (a decoded message,
 * one change set being applied): one free releases them all. */
#ifndef TS_ARENA_H
#define TS_ARENA_H

#include <stddef.h>

typedef struct ts_arena_block ts_arena_block;

/* Blocks double from the first one's size up to TS_ARENA_BLOCK_MAX: a
 * PUSH of 1,000 records decodes into about a megabyte of small objects,
 * which 4 KiB blocks took 270 mallocs for (and as many frees), the loop's
 * work; a ping's message still takes one small block. */
#define TS_ARENA_BLOCK_MAX (64u * 1024u)

typedef struct ts_arena {
    ts_arena_block *head;
    size_t block_size; /* the next block's */
    size_t total;      /* bytes handed out, for memory accounting */
    size_t blocks;     /* blocks allocated */
} ts_arena;

void ts_arena_init(ts_arena *arena, size_t block_size);
void *ts_arena_alloc(ts_arena *arena, size_t size);
void *ts_arena_calloc(ts_arena *arena, size_t nmemb, size_t size);
char *ts_arena_strndup(ts_arena *arena, const char *s, size_t n);
void *ts_arena_memdup(ts_arena *arena, const void *p, size_t n);
/* Releases every block; the arena can be used again afterwards. */
void ts_arena_free(ts_arena *arena);

#endif
