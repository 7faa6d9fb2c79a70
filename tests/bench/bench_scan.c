/* bench_scan.c - nanoseconds per event for the scanner and the event model.
 *
 * Not a ctest. `make bench` builds it (target bench_scan, see
 * tests/bench/README.md); run it from the repository root:
 *   build-bench/tests/bench/bench_scan [FILE]
 * It times the policy sample (tests/data/policy_event.json) compacted and
 * as published (pretty-printed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"

#define ROUNDS 200000

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p)
        *len = (size_t)n;
    return p;
}

/* Returns 0, or -1 if the document does not parse. */
static int bench(const char *label, const char *doc, size_t n) {
    sr_arena arena;
    sr_arena_init(&arena, 1 << 20);
    sr_buf out = SR_BUF_INIT;
    sr_json_error err;
    sr_event ev;
    size_t sink = 0;
    int rc = -1;

    double t0 = now_ns();
    for (int k = 0; k < ROUNDS; k++)
        if (sr_json_validate(doc, n, SR_JSON_DEFAULT_MAX_DEPTH, &err) != 0)
            goto done;
    double t1 = now_ns();
    for (int k = 0; k < ROUNDS; k++) {
        if ((k & 255) == 0)
            sr_arena_reset(&arena);
        if (sr_event_parse(&ev, &arena, doc, n, NULL, &err) != 0)
            goto done;
        sr_buf_reset(&out);
        sr_event_write(&ev, &out);
        sink += out.len;
    }
    double t2 = now_ns();
    printf("%-22s %5zu bytes  validate %6.0f ns  parse+write %6.0f ns  (%.2f GB/s validate)\n",
           label, n, (t1 - t0) / ROUNDS, (t2 - t1) / ROUNDS, (double)n * ROUNDS / (t1 - t0));
    rc = sink ? 0 : -1;
done:
    if (rc != 0)
        fprintf(stderr, "%s: %s at %zu\n", label, err.msg, err.offset);
    sr_buf_free(&out);
    sr_arena_free(&arena);
    return rc;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "tests/data/policy_event.json";
    size_t n = 0;
    char *pretty = slurp(path, &n);
    if (!pretty) {
        perror(path);
        return 1;
    }
    sr_buf compact = SR_BUF_INIT;
    sr_json_compact(pretty, n, &compact);
    int rc = bench("policy (compact)", compact.data, compact.len);
    rc |= bench("policy (pretty)", pretty, n);
    sr_buf_free(&compact);
    free(pretty);
    return rc ? 1 : 0;
}
