/* fuzz.h - what the fuzz harnesses share.
 *
 * Each tests/fuzz/fuzz_NAME.c defines LLVMFuzzerTestOneInput (and, when it
 * needs one-time setup, LLVMFuzzerInitialize). Built with SIEMRELAY_FUZZ=ON
 * (clang) they link libFuzzer and explore; in the normal build they link
 * replay.c instead, which runs every file of the directories it is given
 * through the same function: the ctest fuzz/NAME replays the checked-in
 * corpus and every input that once crashed (tests/fuzz/regressions/NAME).
 *
 * A harness checks what must hold whatever the input (written JSON is
 * valid, an inflated body respects its cap, ...) with FZ_ASSERT, which
 * aborts: libFuzzer then saves the input, the replay fails its ctest. */
#ifndef SR_FUZZ_H
#define SR_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: FZ_ASSERT(%s) failed\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Reads an input as a sequence of fields without ever failing: a harness
 * that needs several values (a path and an event, a size cap and a body)
 * takes them one after the other, and what is missing reads as zero or
 * empty, so every byte string is a valid input. */
typedef struct fz_input {
    const uint8_t *p;
    size_t n;
} fz_input;

static inline unsigned fz_byte(fz_input *in) {
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint32_t fz_u32(fz_input *in) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | fz_byte(in);
    return v;
}

/* The bytes up to the next `sep` (consumed, not returned), or all that is
 * left. */
static inline const char *fz_until(fz_input *in, char sep, size_t *len) {
    const char *s = (const char *)in->p;
    const uint8_t *e = memchr(in->p, (unsigned char)sep, in->n);
    size_t n = e ? (size_t)(e - in->p) : in->n;
    *len = n;
    in->p += n + (e != NULL);
    in->n -= n + (e != NULL);
    return s;
}

/* Makes a private scratch directory NAME.XXXXXX under $TMPDIR (or /tmp)
 * into dir[0..n) for a harness that needs files; `cleanup` removes it at
 * exit. */
static inline void fz_scratch_dir(char *dir, size_t n, const char *name, void (*cleanup)(void)) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, n, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    FZ_ASSERT(mkdtemp(dir) != NULL);
    atexit(cleanup);
}

/* Writes [p, p+n) to `path` (a scratch file of the harness). */
static inline void fz_write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    FZ_ASSERT(f != NULL);
    FZ_ASSERT(n == 0 || fwrite(p, 1, n, f) == n);
    FZ_ASSERT(fclose(f) == 0);
}

#endif
