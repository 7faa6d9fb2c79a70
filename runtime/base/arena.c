/* arena.c - bump allocator. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sr_arena_chunk {
    sr_arena_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char mem[];
};

void sr_arena_init(sr_arena *a, size_t chunk_size) {
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
    a->total = 0;
}

void *sr_arena_alloc(sr_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    sr_arena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > a->chunk_size ? n : a->chunk_size;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
        a->total += size;
    }
    void *p = c->mem + c->used;
    c->used += n;
    return p;
}

void *sr_arena_memdup(sr_arena *a, const void *p, size_t n) {
    char *d = sr_arena_alloc(a, n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

void sr_arena_reset(sr_arena *a) {
    if (!a->head)
        return;
    /* Keep the oldest chunk (the last in the list): it is the steady-state size. */
    sr_arena_chunk *c = a->head;
    while (c->next) {
        sr_arena_chunk *next = c->next;
        a->total -= c->size;
        free(c);
        c = next;
    }
    c->used = 0;
    a->head = c;
}

void sr_arena_free(sr_arena *a) {
    sr_arena_chunk *c = a->head;
    while (c) {
        sr_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}
