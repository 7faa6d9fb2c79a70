/* test_deadletter_replay.c - the replay's time bounds (instants, whatever
 * the zone) and the dead-letter files it is given (every rotated file that
 * exists, oldest first, then the current one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "deadletter.h"
#include "deadletter_replay.h"

#define NS 1000000000LL

static int64_t at(const char *text) {
    int64_t ns = -1;
    CHECK_INT(sr_replay_time_parse(text, &ns), 0);
    return ns;
}

static void test_times(void) {
    /* 2026-03-01T10:00:00Z */
    const int64_t t = 1772359200LL * NS;
    CHECK_INT(at("2026-03-01T10:00:00Z"), t);
    CHECK_INT(at("2026-03-01T10:00:00.000Z"), t);
    CHECK_INT(at("2026-03-01T11:00:00+01:00"), t);
    CHECK_INT(at("2026-03-01T05:30:00-04:30"), t);
    CHECK_INT(at("2026-03-02T00:00:00+14:00"), t); /* another day, the same instant */
    CHECK_INT(at("2026-03-01t10:00:00.25z"), t + NS / 4);
    CHECK_INT(at("2026-03-01T10:00:00.123456789123Z"), t + 123456789); /* beyond ns: cut */
    CHECK_INT(at("1772359200"), t);
    CHECK_INT(at("1772359200.5"), t + NS / 2);
    CHECK_INT(at("0"), 0);
    /* Compared as text these would sort the other way round. */
    CHECK(at("2026-03-01T11:00:01+01:00") > at("2026-03-01T10:00:00.999Z"));

    static const char *const bad[] = {"",
                                      "yesterday",
                                      "2026-03-01T10:00:00", /* no zone: which instant? */
                                      "2026-03-01",
                                      "2026-02-30T10:00:00Z",
                                      "2026-03-01T24:00:00Z",
                                      "2026-03-01T10:00:00+1:00",
                                      "-5",
                                      "12.",
                                      "1e9",
                                      "99999999999999999999",
                                      NULL};
    for (size_t i = 0; bad[i]; i++) {
        int64_t ns;
        if (sr_replay_time_parse(bad[i], &ns) == 0) {
            fprintf(stderr, "'%s' parsed as %lld\n", bad[i], (long long)ns);
            CHECK(0);
        }
    }
}

static char dir[] = "/tmp/sr-test-dlreplay-XXXXXX";

typedef struct seen {
    char paths[8][512];
    size_t n;
} seen;

static int collect(void *ud, const char *const *paths, size_t n) {
    seen *s = ud;
    for (size_t i = 0; i < n && i < 8; i++)
        snprintf(s->paths[i], sizeof s->paths[i], "%s", paths[i]);
    s->n = n;
    return 7;
}

static void touch(const char *name) {
    char path[600];
    snprintf(path, sizeof path, "%s/deadletter/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
}

static void test_files(void) {
    char sub[200], want[600];
    snprintf(sub, sizeof sub, "%s/deadletter", dir);
    CHECK_INT(mkdir(sub, 0700), 0);
    sr_deadletter *dl = sr_deadletter_new(dir);
    seen s = {.n = 0};

    /* Nothing yet: the current file alone, whether it exists or not. */
    CHECK_INT(sr_deadletter_rewrite(dl, "siem", collect, &s), 7);
    CHECK_INT(s.n, 1);
    snprintf(want, sizeof want, "%s/siem.jsonl", sub);
    CHECK_STR(s.paths[0], want);

    /* Rotated files, with a gap: the oldest first, the current last; other
     * integrations' files and files past the kept number are not its. */
    touch("siem.jsonl.1");
    touch("siem.jsonl.3");
    touch("siem.jsonl.9");
    touch("other.jsonl.2");
    CHECK_INT(sr_deadletter_rewrite(dl, "siem", collect, &s), 7);
    CHECK_INT(s.n, 3);
    snprintf(want, sizeof want, "%s/siem.jsonl.3", sub);
    CHECK_STR(s.paths[0], want);
    snprintf(want, sizeof want, "%s/siem.jsonl.1", sub);
    CHECK_STR(s.paths[1], want);
    snprintf(want, sizeof want, "%s/siem.jsonl", sub);
    CHECK_STR(s.paths[2], want);
    sr_deadletter_free(dl);

    static const char *const names[] = {"siem.jsonl.1", "siem.jsonl.3", "siem.jsonl.9",
                                        "other.jsonl.2"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(want, sizeof want, "%s/%s", sub, names[i]);
        unlink(want);
    }
    rmdir(sub);
    rmdir(dir);
}

int main(void) {
    test_times();
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_files();
    return CHECK_DONE();
}
