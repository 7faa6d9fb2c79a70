/* array.h - arrays that grow by doubling.
 *
 * The gateway's growable arrays are a pointer, a count and a capacity in
 * elements, owned by whoever holds the pointer. sr_array_grow is the one
 * place their capacity grows: the caller keeps its typed pointer and
 * assigns what comes back,
 *
 *     item *v = sr_array_grow(r->items, &r->items_cap, r->nitems + 1, sizeof *v, 64);
 *     if (!v)
 *         return -1;
 *     r->items = v;
 */
#ifndef SR_ARRAY_H
#define SR_ARRAY_H

#include <stddef.h>

/* sr_array_grow's slow path: the reallocation, when there is no room. */
void *sr_array_realloc(void *arr, size_t *cap, size_t need, size_t elem, size_t first);

/* Room for at least `need` elements of `elem` bytes in `arr`, which holds
 * *cap: the capacity doubles (from `first` when it is 0) until they fit,
 * by realloc. Returns the array, moved or not, with *cap updated; NULL
 * when out of memory or when the size would overflow, `arr` and *cap then
 * unchanged and still the caller's. Inline so that per-event callers pay a
 * compare, not a call, while there is room. */
static inline void *sr_array_grow(void *arr, size_t *cap, size_t need, size_t elem, size_t first) {
    if (need <= *cap && arr)
        return arr;
    return sr_array_realloc(arr, cap, need, elem, first);
}

#endif
