/* gen_w1.c - writes the W1 workload as NDJSON, and what a receiver should
 * count once the gateway is done with it.
 *
 *   gen_w1 [--seed S] [--count N] --out FILE
 *
 * FILE gets one event per line (w1.h). FILE.expected gets a JSON summary:
 * the mix actually drawn, the average size, and the number of events the
 * receiver must count with the W1 transform (severity 7 dropped) and
 * without it, also for every prefix of `prefix_step` events so a run that
 * sends only the first K events (latency runs) knows its target too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w1.h"

#define PREFIX_STEP 10000

static int usage(void) {
    fputs("usage: gen_w1 [--seed S] [--count N] --out FILE\n", stderr);
    return 2;
}

int main(int argc, char **argv) {
    uint64_t seed = 1, count = 1000000;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else
            return usage();
    }
    if (!out || count == 0 || count > W1_MAX_INDEX)
        return usage();

    /* Written under a temporary name and renamed: a cached workload is
     * either complete or absent, never half-written by an interrupted run. */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "gen_w1: %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    static char iobuf[1 << 20];
    setvbuf(f, iobuf, _IOFBF, sizeof iobuf);

    size_t nprefix = (size_t)(count / PREFIX_STEP);
    uint64_t *prefix = calloc(nprefix + 1, sizeof *prefix);
    uint64_t kinds[W1_NKINDS] = {0}, sev[8] = {0}, bytes = 0, kept = 0, with_cluster = 0;
    size_t maxlen = 0;
    char ev[W1_MAX_EVENT];
    for (uint64_t i = 0; i < count; i++) {
        w1_info info;
        size_t n = w1_event(seed, i, ev, &info);
        ev[n] = '\n';
        fwrite(ev, 1, n + 1, f);
        bytes += n + 1;
        maxlen = n > maxlen ? n : maxlen;
        kinds[info.kind]++;
        if (info.severity >= 0)
            sev[info.severity]++;
        with_cluster += (uint64_t)info.has_cluster;
        kept += (uint64_t)w1_kept(&info);
        if ((i + 1) % PREFIX_STEP == 0)
            prefix[(i + 1) / PREFIX_STEP - 1] = kept;
    }
    if (fclose(f) != 0 || rename(tmp, out) != 0) {
        fprintf(stderr, "gen_w1: %s: %s\n", out, strerror(errno));
        return 1;
    }

    char path[4200];
    snprintf(path, sizeof path, "%s.expected", out);
    FILE *e = fopen(path, "w");
    if (!e) {
        fprintf(stderr, "gen_w1: %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(e,
            "{\"seed\":%llu,\"events\":%llu,\"bytes\":%llu,\"avg_bytes\":%.1f,\"max_bytes\":%zu,",
            (unsigned long long)seed, (unsigned long long)count, (unsigned long long)bytes,
            (double)bytes / (double)count, maxlen);
    fputs("\"kinds\":{", e);
    for (int k = 0; k < W1_NKINDS; k++)
        fprintf(e, "%s\"%s\":%llu", k ? "," : "", w1_kind_name((w1_kind)k),
                (unsigned long long)kinds[k]);
    fputs("},\"severity\":[", e);
    for (int s = 0; s < 8; s++)
        fprintf(e, "%s%llu", s ? "," : "", (unsigned long long)sev[s]);
    fprintf(e,
            "],\"with_cluster\":%llu,\"expected_transformed\":%llu,\"expected_plain\":%llu,"
            "\"prefix_step\":%d,\"prefix_transformed\":[",
            (unsigned long long)with_cluster, (unsigned long long)kept, (unsigned long long)count,
            PREFIX_STEP);
    for (size_t p = 0; p < nprefix; p++)
        fprintf(e, "%s%llu", p ? "," : "", (unsigned long long)prefix[p]);
    fputs("]}\n", e);
    free(prefix);
    if (fclose(e) != 0) {
        fprintf(stderr, "gen_w1: %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(stderr, "gen_w1: %llu events, %.1f bytes on average, %llu kept by the transform\n",
            (unsigned long long)count, (double)bytes / (double)count, (unsigned long long)kept);
    return 0;
}
