/* array.c - arrays that grow by doubling. */
#include "array.h"

#include <stdint.h>
#include <stdlib.h>

void *sr_array_realloc(void *arr, size_t *cap, size_t need, size_t elem, size_t first) {
    size_t ncap = *cap ? *cap : (first ? first : 1);
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return NULL;
        ncap *= 2;
    }
    if (elem && ncap > SIZE_MAX / elem)
        return NULL;
    void *p = realloc(arr, ncap * elem);
    if (!p)
        return NULL;
    *cap = ncap;
    return p;
}
