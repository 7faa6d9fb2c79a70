/* test_queue_events.c - records carry their original event through both
 * queue types (queue.keep_events): read back beside the record, counted
 * against max_bytes, dropped with it; with keep_events false nothing is
 * kept. And the setting resolves per integration over the global one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "queue.h"

static char root[64];

static sr_queue *open_queue(sr_queue_type type, sr_keep_events keep, const char *name) {
    sr_queue_conf none = {0}, want = {.type = type, .keep_events = keep}, c;
    sr_queue_conf_resolve(&none, &want, &c);
    char dir[128], err[256] = "";
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    sr_queue *q = sr_queue_open(&c, dir, name, err, sizeof err);
    if (!q)
        fprintf(stderr, "%s\n", err);
    CHECK(q != NULL);
    return q;
}

static const char *const recs[] = {"rec-1", "rec-22", "rec-333"};
static const uint32_t lens[] = {5, 6, 7};
/* The second record has no event; the first one's holds a newline. */
static const char *const events[] = {"{\"id\":1,\n\"n\":9007199254740993}", NULL, "{\"id\":3}"};
static const uint32_t event_lens[] = {30, 0, 8};

static void push(sr_queue *q) {
    char err[256];
    CHECK_INT(sr_queue_push(q, (const char *const *)recs, lens, (const char *const *)events,
                            event_lens, 3, err, sizeof err),
              0);
}

static void check_read(sr_queue *q, int kept) {
    sr_queue_batch b = SR_QUEUE_BATCH_INIT;
    char err[256];
    CHECK_INT(sr_queue_read(q, 1, 10, 1 << 20, &b, err, sizeof err), 0);
    CHECK_INT(b.n, 3);
    CHECK_INT(b.bytes, 5 + 6 + 7); /* records only: the batch budget */
    for (size_t i = 0; i < b.n && i < 3; i++) {
        CHECK(b.recs[i].len == lens[i] && memcmp(b.recs[i].data, recs[i], lens[i]) == 0);
        if (kept && events[i]) {
            CHECK_INT(b.recs[i].event_len, event_lens[i]);
            CHECK(b.recs[i].event && memcmp(b.recs[i].event, events[i], event_lens[i]) == 0);
        } else {
            CHECK(b.recs[i].event == NULL && b.recs[i].event_len == 0);
        }
    }
    /* The budget counts records: 11 bytes take the first two. */
    CHECK_INT(sr_queue_read(q, 1, 10, 11, &b, err, sizeof err), 0);
    CHECK_INT(b.n, 2);
    sr_queue_batch_free(&b);
}

static void test_memory(sr_keep_events keep, const char *name) {
    int kept = keep != SR_KEEP_EVENTS_OFF;
    sr_queue *q = open_queue(SR_QUEUE_MEMORY, keep, name);
    if (!q)
        return;
    uint64_t want = 18 + (kept ? 38 : 0);
    CHECK_INT(sr_queue_push_bytes(q, lens, (const char *const *)events, event_lens, 3), want);
    push(q);
    CHECK_INT(sr_queue_bytes(q), want);
    CHECK_INT(sr_queue_record_bytes(q), 18); /* what batches count */
    check_read(q, kept);
    /* Dropping the oldest frees what it counted, event included. */
    uint64_t next;
    CHECK_INT(sr_queue_drop_oldest(q, 1, sr_queue_limit(q) - want + 1, &next), 1);
    CHECK_INT(next, 2);
    CHECK_INT(sr_queue_bytes(q), want - 5 - (kept ? 30 : 0));
    CHECK_INT(sr_queue_record_bytes(q), 13);
    char err[256];
    CHECK_INT(sr_queue_ack(q, 4, err, sizeof err), 0);
    CHECK_INT(sr_queue_bytes(q), 0);
    sr_queue_close(q);
}

static void test_disk(sr_keep_events keep, const char *name) {
    int kept = keep == SR_KEEP_EVENTS_ON;
    sr_queue *q = open_queue(SR_QUEUE_DISK, keep, name);
    if (!q)
        return;
    push(q);
    /* Framing (16) and the record length (4) per record, as on disk. */
    CHECK_INT(sr_queue_bytes(q), 3 * 20 + 18 + (kept ? 38 : 0));
    /* Records' share, estimated from what was pushed: 18 of 56 stored. */
    CHECK_INT(sr_queue_record_bytes(q), kept ? (3 * 20 + 18 + 38) * 18 / 56 : 3 * 20 + 18);
    check_read(q, kept);
    sr_queue_close(q);
    q = open_queue(SR_QUEUE_DISK, keep, name); /* the events survive a restart */
    if (!q)
        return;
    check_read(q, kept);
    sr_queue_close(q);
}

static void test_resolve(void) {
    sr_queue_conf global = {.keep_events = SR_KEEP_EVENTS_OFF}, unset = {0}, out;
    sr_queue_conf on = {.keep_events = SR_KEEP_EVENTS_ON};
    sr_queue_conf disk = {.type = SR_QUEUE_DISK}, memory = {.type = SR_QUEUE_MEMORY};
    sr_queue_conf_resolve(&unset, &unset, &out);
    CHECK_INT(out.keep_events, SR_KEEP_EVENTS_ON); /* the default: memory */
    sr_queue_conf_resolve(&unset, &disk, &out);
    CHECK_INT(out.keep_events, SR_KEEP_EVENTS_OFF); /* disk: only when asked */
    sr_queue_conf_resolve(&disk, &memory, &out);
    CHECK_INT(out.keep_events, SR_KEEP_EVENTS_ON); /* by the integration's own type */
    sr_queue_conf_resolve(&on, &disk, &out);
    CHECK_INT(out.keep_events, SR_KEEP_EVENTS_ON); /* asked for globally */
    sr_queue_conf_resolve(&global, &unset, &out);
    CHECK_INT(out.keep_events, SR_KEEP_EVENTS_OFF);
    sr_queue_conf_resolve(&global, &on, &out);
    CHECK_INT(out.keep_events, SR_KEEP_EVENTS_ON);
}

int main(void) {
    sr_log_configure(SR_LOG_ERROR, SR_LOG_TEXT);
    snprintf(root, sizeof root, "/tmp/test_queue_events.XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_memory(SR_KEEP_EVENTS_UNSET, "mem-default");
    test_memory(SR_KEEP_EVENTS_OFF, "mem-off");
    test_disk(SR_KEEP_EVENTS_ON, "disk-on");
    test_disk(SR_KEEP_EVENTS_OFF, "disk-off");
    test_disk(SR_KEEP_EVENTS_UNSET, "disk-default"); /* off on disk */
    test_resolve();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", root);
    return CHECK_DONE();
}
