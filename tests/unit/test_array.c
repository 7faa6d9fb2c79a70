/* test_array.c - sr_array_grow: doubling from the first capacity, growing
 * past a doubling when more is needed, keeping what was there, and failing
 * without touching the array when the size would overflow. */
#include <stdint.h>

#include "array.h"
#include "check.h"

static void test_doubles_and_keeps(void) {
    int *v = NULL;
    size_t cap = 0;
    v = sr_array_grow(v, &cap, 1, sizeof *v, 8);
    CHECK(v != NULL);
    CHECK_INT(cap, 8);
    for (int i = 0; i < 8; i++)
        v[i] = i * 3;
    CHECK(sr_array_grow(v, &cap, 8, sizeof *v, 8) == v); /* fits: unchanged */
    CHECK_INT(cap, 8);
    int *w = sr_array_grow(v, &cap, 9, sizeof *w, 8);
    CHECK(w != NULL);
    CHECK_INT(cap, 16);
    int same = 1;
    for (int i = 0; i < 8; i++)
        same &= w[i] == i * 3;
    CHECK(same);
    w[15] = 1; /* all 16 are there (ASan would say otherwise) */
    int *x = sr_array_grow(w, &cap, 100, sizeof *x, 8); /* several doublings at once */
    CHECK(x != NULL);
    CHECK_INT(cap, 128);
    x[127] = 1;
    free(x);
}

static void test_first_capacity_zero_means_one(void) {
    char *v = NULL;
    size_t cap = 0;
    v = sr_array_grow(v, &cap, 3, 1, 0);
    CHECK(v != NULL);
    CHECK_INT(cap, 4);
    free(v);
}

static void test_overflow_fails_and_leaves_the_array(void) {
    size_t cap = 4;
    uint64_t *v = malloc(cap * sizeof *v);
    v[3] = 42;
    CHECK(sr_array_grow(v, &cap, SIZE_MAX / 4, sizeof *v, 4) == NULL); /* bytes overflow */
    CHECK_INT(cap, 4);
    CHECK(sr_array_grow(v, &cap, SIZE_MAX, 1, 4) == NULL); /* the doubling itself overflows */
    CHECK_INT(cap, 4);
    CHECK_INT(v[3], 42);
    free(v);
}

int main(void) {
    test_doubles_and_keeps();
    test_first_capacity_zero_means_one();
    test_overflow_fails_and_leaves_the_array();
    return CHECK_DONE();
}
