/* test_deadletter_replay.c - the replay's time bounds (instants, whatever
 * the zone), the dead-letter files it is given (every rotated file that
 * exists, oldest first, then the current one; the pipeline's for NULL), the
 * lines it reads (a record with the event it came from, each on one line)
 * and writing other files' dead letters while one is being rewritten. */
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
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* A rejected record's line holds the event beside it, compacted onto the
 * line even when the raw text spans lines; exact integers stay as written. */
static void test_record_with_event(void) {
    sr_deadletter *dl = sr_deadletter_new(dir);
    const char rec[] = "{\"id\":\"r1\",\"mapping\":\"v1\"}";
    const char ev[] =
        "{\"id\":\"r1\",\n  \"big\": 9223372036854775807,\n  \"odd\":9007199254740993}";
    sr_deadletter_entry e = {.integration = "siem",
                             .stage = "rejected",
                             .reason = "HTTP 400",
                             .payload = rec,
                             .payload_len = sizeof rec - 1,
                             .event = ev,
                             .event_len = sizeof ev - 1};
    CHECK_INT(sr_deadletter_write(dl, &e), 0);
    e.event = NULL; /* a queue without keep_events: the record alone */
    CHECK_INT(sr_deadletter_write(dl, &e), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/deadletter/siem.jsonl", dir);
    const char *text = slurp(path);
    CHECK(text != NULL);
    /* Two lines: the first ends with record and event, the second with the
     * record alone. */
    static const char first_end[] = ",\"record\":{\"id\":\"r1\",\"mapping\":\"v1\"},\"event\":"
                                    "{\"id\":\"r1\",\"big\":9223372036854775807,\"odd\":"
                                    "9007199254740993}}\n";
    static const char second_end[] = ",\"record\":{\"id\":\"r1\",\"mapping\":\"v1\"}}\n";
    const char *nl = text ? strchr(text, '\n') : NULL;
    CHECK(nl != NULL);
    if (nl) {
        size_t n1 = (size_t)(nl + 1 - text), n2 = strlen(nl + 1);
        CHECK(n1 > sizeof first_end &&
              memcmp(nl + 1 - (sizeof first_end - 1), first_end, sizeof first_end - 1) == 0);
        CHECK(n2 > sizeof second_end &&
              strcmp(nl + 1 + n2 - (sizeof second_end - 1), second_end) == 0);
        CHECK(strchr(nl + 1, '\n') == nl + n2); /* exactly two lines */
    }
    unlink(path);
    sr_deadletter_free(dl);
}

typedef struct nested {
    sr_deadletter *dl;
    char paths[8][512];
    size_t n;
} nested;

/* Inside a rewrite of the pipeline's files: another integration's dead
 * letter is written (as the pipeline's replay does) without deadlocking. */
static int write_inside(void *ud, const char *const *paths, size_t n) {
    nested *s = ud;
    for (size_t i = 0; i < n && i < 8; i++)
        snprintf(s->paths[i], sizeof s->paths[i], "%s", paths[i]);
    s->n = n;
    sr_emit emit;
    sr_emit_init(&emit);
    sr_emit_fail f = {.ev = 0, .integ = 1};
    snprintf(f.stage, sizeof f.stage, "script");
    snprintf(f.msg, sizeof f.msg, "poisoned event");
    snprintf(f.where, sizeof f.where, "other.lua:3");
    const char ev[] = "{\"id\":\"p1\",\n\"poison\":true}";
    int rc = sr_deadletter_write_failure(s->dl, "other", &emit, &f, ev, sizeof ev - 1);
    sr_emit_free(&emit);
    return rc == 0 ? 5 : -1;
}

static void test_pipeline_files_and_nested_write(void) {
    sr_deadletter *dl = sr_deadletter_new(dir);
    nested s = {.dl = dl, .n = 0};
    char want[600];
    touch("_pipeline.jsonl.2");
    CHECK_INT(sr_deadletter_rewrite(dl, NULL, write_inside, &s), 5);
    CHECK_INT(s.n, 2);
    snprintf(want, sizeof want, "%s/deadletter/_pipeline.jsonl.2", dir);
    CHECK_STR(s.paths[0], want);
    unlink(want);
    snprintf(want, sizeof want, "%s/deadletter/_pipeline.jsonl", dir);
    CHECK_STR(s.paths[1], want);
    CHECK_INT(sr_deadletter_count(dl), 1);
    snprintf(want, sizeof want, "%s/deadletter/other.jsonl", dir);
    const char *text = slurp(want);
    CHECK(text && strstr(text, "\"integration\":\"other\",\"stage\":\"script\",\"reason\":"
                               "\"poisoned event\",\"where\":\"other.lua:3\",\"event\":{\"id\":"
                               "\"p1\",\"poison\":true}}\n") != NULL);
    unlink(want);
    sr_deadletter_free(dl);
}

int main(void) {
    test_times();
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_files();
    test_record_with_event();
    test_pipeline_files_and_nested_write();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return CHECK_DONE();
}
