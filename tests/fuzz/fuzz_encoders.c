/* fuzz_encoders.c - the syslog, CEF and LEEF encoders (lua/lib/syslog.lua,
 * cef.lua, leef.lua, through lua/integrations/syslog.lua and qradar.lua) on
 * arbitrary request bodies, through the Lua host as a worker runs them.
 *
 * The body goes through sr_test_run (runtime/app/test_run.h): the ingest
 * parser frames it (object, array, NDJSON), the event parser validates and
 * classifies each event (Falco output normalised), and the Lua host runs
 * routing and each integration's encode, as configured in encoders.yaml
 * (every header format, framing and formatter). Nothing is sent.
 *
 * What must hold for every record: a syslog message is one line (no CR or
 * LF inside it: CEF and LEEF escape them, JSON never has them raw), an
 * octet-counted frame's count is its length, a line-framed one ends with
 * exactly one LF, and the header starts with a PRI. An event the parser
 * accepted is never refused by an encoder: that would dead-letter a valid
 * event. */
#include "fuzz.h"

#include "log.h"
#include "test_run.h"

static sr_test_run *run;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    sr_log_configure(SR_LOG_ERROR, SR_LOG_TEXT);
    const char *cfg = SR_FUZZ_DIR "/encoders.yaml";
    char err[1024];
    run = sr_test_run_new(&cfg, 1, NULL, 0, err, sizeof err);
    if (!run)
        fprintf(stderr, "%s\n", err);
    FZ_ASSERT(run != NULL);
    return 0;
}

static void check_message(const char *m, size_t n, const char *name) {
    (void)name;
    FZ_ASSERT(n > 3 && m[0] == '<');
    FZ_ASSERT(memchr(m, '\n', n) == NULL && memchr(m, '\r', n) == NULL);
}

static void check_record(const char *name, const char *r, size_t n) {
    FZ_ASSERT(n > 0);
    if (r[0] >= '1' && r[0] <= '9') { /* octet counting: "LEN SP MSG" */
        size_t count = 0, i = 0;
        while (i < n && r[i] >= '0' && r[i] <= '9')
            count = count * 10 + (size_t)(r[i++] - '0');
        FZ_ASSERT(i < n && r[i] == ' ');
        FZ_ASSERT(count == n - i - 1);
        check_message(r + i + 1, count, name);
    } else if (r[n - 1] == '\n') {
        check_message(r, n - 1, name);
    } else {
        check_message(r, n, name); /* a datagram */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    sr_test_body *b = sr_test_run_body(run, (const char *)data, size, err, sizeof err);
    if (!b)
        fprintf(stderr, "%s\n", err);
    FZ_ASSERT(b != NULL);
    size_t nint = sr_test_run_count(run);
    for (size_t i = 0; i < b->nevents; i++) {
        const sr_test_event *te = &b->events[i];
        if (te->status != SR_TEST_ACCEPTED)
            continue;
        for (size_t k = 0; k < nint; k++) {
            const sr_test_target *t = &te->targets[k];
            const char *name = sr_test_run_integration(run, k)->name;
            if (t->kind == SR_TARGET_FAILED)
                fprintf(stderr, "%s: %s: %s\n", name, t->stage, t->why);
            FZ_ASSERT(t->kind != SR_TARGET_FAILED);
            if (t->kind == SR_TARGET_RECORD)
                check_record(name, t->rec, t->rec_len);
        }
    }
    sr_test_body_free(b);
    return 0;
}
