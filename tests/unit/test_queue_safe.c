/* test_queue_safe.c - sr_queue_safe_seq, what the Kafka input's offset
 * commits wait for: a memory queue's records are safe once acked (delivered
 * or dead-lettered), a disk queue's once on disk as its fsync policy
 * promises (at once for always and never, after the interval's sync for
 * interval). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "queue.h"

static char root[64];

static sr_queue *open_queue(sr_queue_type type, sr_fsync_conf fsync, const char *name) {
    sr_queue_conf none = {0}, want = {.type = type, .fsync = fsync, .fsync_interval_ms = 1000}, c;
    sr_queue_conf_resolve(&none, &want, &c);
    char dir[128], err[256] = "";
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    sr_queue *q = sr_queue_open(&c, dir, name, err, sizeof err);
    if (!q)
        fprintf(stderr, "%s\n", err);
    return q;
}

static void push3(sr_queue *q) {
    const char *recs[] = {"a", "b", "c"};
    uint32_t lens[] = {1, 1, 1};
    char err[256];
    CHECK_INT(sr_queue_push(q, recs, lens, NULL, NULL, 3, err, sizeof err), 0);
}

static void test_memory(void) {
    sr_queue *q = open_queue(SR_QUEUE_MEMORY, SR_FSYNC_UNSET, "mem");
    char err[256];
    CHECK_INT(sr_queue_safe_seq(q), 1);
    push3(q);
    CHECK_INT(sr_queue_next_seq(q), 4);
    CHECK_INT(sr_queue_safe_seq(q), 1); /* queued is not safe: a crash loses it */
    CHECK_INT(sr_queue_ack(q, 3, err, sizeof err), 0);
    CHECK_INT(sr_queue_safe_seq(q), 3);
    CHECK_INT(sr_queue_ack(q, 4, err, sizeof err), 0);
    CHECK_INT(sr_queue_safe_seq(q), 4);
    sr_queue_close(q);
}

static void test_disk(sr_fsync_conf fsync, const char *name, int at_once) {
    sr_queue *q = open_queue(SR_QUEUE_DISK, fsync, name);
    CHECK(q != NULL);
    if (!q)
        return;
    CHECK_INT(sr_queue_safe_seq(q), 1);
    push3(q);
    CHECK_INT(sr_queue_safe_seq(q), at_once ? 4 : 1);
    sr_queue_tick(q, 10);          /* the interval has not passed */
    sr_queue_tick(q, 1000 * 1000); /* it has: synced */
    CHECK_INT(sr_queue_safe_seq(q), 4);
    sr_queue_close(q);
    /* Reopened, what recovery read back from disk is safe. */
    q = open_queue(SR_QUEUE_DISK, fsync, name);
    CHECK_INT(sr_queue_safe_seq(q), 4);
    push3(q);
    CHECK_INT(sr_queue_safe_seq(q), at_once ? 7 : 4);
    sr_queue_close(q);
}

int main(void) {
    sr_log_configure(SR_LOG_ERROR, SR_LOG_TEXT);
    snprintf(root, sizeof root, "/tmp/test_queue_safe.XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_memory();
    test_disk(SR_FSYNC_CONF_ALWAYS, "always", 1);
    test_disk(SR_FSYNC_CONF_NEVER, "never", 1);
    test_disk(SR_FSYNC_CONF_INTERVAL, "interval", 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", root);
    return CHECK_DONE();
}
