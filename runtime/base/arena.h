/* arena.h - bump allocator for everything that lives as long as one batch.
 *
 * A batch of events (their parsed indexes, script edits and encoded records)
 * is freed in one call, which keeps allocation off the per-event hot path.
 * Memory is never returned piecemeal. */
#ifndef SR_ARENA_H
#define SR_ARENA_H

#include <stddef.h>

typedef struct sr_arena_chunk sr_arena_chunk;

typedef struct sr_arena {
    sr_arena_chunk *head;
    size_t chunk_size; /* default size of new chunks */
    size_t total;      /* bytes obtained from malloc, for accounting */
} sr_arena;

void sr_arena_init(sr_arena *a, size_t chunk_size);
/* 16-byte aligned; NULL only when malloc fails. */
void *sr_arena_alloc(sr_arena *a, size_t n);
void *sr_arena_memdup(sr_arena *a, const void *p, size_t n);
/* Drops everything but the first chunk, ready for reuse. */
void sr_arena_reset(sr_arena *a);
void sr_arena_free(sr_arena *a);

#endif
