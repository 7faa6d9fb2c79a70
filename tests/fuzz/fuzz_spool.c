/* fuzz_spool.c - disk spool recovery (runtime/delivery/spool.c) from
 * arbitrary segment bytes.
 *
 * Input: a selector byte, then up to three segment files (each a 2-byte
 * big-endian length and its bytes), then, as the selector says, a cursor
 * file (16 bytes) and a spare file (the rest). A segment is named for the
 * first sequence number its header claims (or its position when it has no
 * header). Checksums are what a fuzzer cannot guess, so with selector bit
 * 16 the harness first makes every well-framed record's CRC-32C (and the
 * cursor's) right: then sequence numbers, lengths and headers are what is
 * explored.
 *
 * What must hold: open never fails for damaged data; reads return records
 * in strictly increasing sequence order from the cursor on; records
 * appended after recovery (with and without an event) read back exactly; after everything is acked
 * and the spool closed, a reopen finds nothing pending. */
#include "fuzz.h"

#include <dirent.h>
#include <inttypes.h>
#include <unistd.h>

#include "crc32c_ref.h"
#include "spool.h"

static char dir[256];

static void clear_dir(void) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[600];
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

static void cleanup(void) {
    clear_dir();
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fz_scratch_dir(dir, sizeof dir, "fuzz_spool", cleanup);
    return 0;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Record framing: [u32 len][u32 crc][u64 seq][payload], after a 16-byte
 * segment header. */
static void fix_record_crcs(uint8_t *s, size_t n) {
    size_t off = 16;
    while (off + 16 <= n) {
        uint32_t len = le32(s + off);
        if (len > n - off - 16)
            break;
        uint32_t c = ref_crc32c(0, s + off, 4);
        c = ref_crc32c(c, s + off + 8, 8);
        c = ref_crc32c(c, s + off + 16, len);
        put_le32(s + off + 4, c);
        off += 16 + (size_t)len;
    }
}

static void write_named(const char *name, const void *p, size_t n) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fz_write_file(path, p, n);
}

static sr_spool *open_spool(sr_spool_recovery *rep) {
    char err[512];
    sr_spool_conf conf = {.segment_bytes = 4096, .fsync = SR_FSYNC_NEVER};
    sr_spool *sp = sr_spool_open(dir, &conf, rep, err, sizeof err);
    if (!sp)
        fprintf(stderr, "sr_spool_open: %s\n", err);
    FZ_ASSERT(sp != NULL);
    return sp;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_input in = {data, size};
    unsigned sel = fz_byte(&in);
    clear_dir();

    unsigned nseg = 1 + sel % 3;
    for (unsigned i = 0; i < nseg; i++) {
        size_t len = fz_byte(&in) << 8;
        len |= fz_byte(&in);
        if (len > in.n)
            len = in.n;
        uint8_t *seg = malloc(len ? len : 1);
        FZ_ASSERT(seg != NULL);
        memcpy(seg, in.p, len);
        in.p += len;
        in.n -= len;
        if (sel & 16)
            fix_record_crcs(seg, len);
        char name[32];
        snprintf(name, sizeof name, "%020" PRIu64 ".seg", len >= 16 ? le64(seg + 8) : i + 1);
        write_named(name, seg, len);
        free(seg);
    }
    if (sel & 4) {
        uint8_t cur[16] = {0};
        for (int i = 0; i < 16; i++)
            cur[i] = (uint8_t)fz_byte(&in);
        if (sel & 16) {
            memcpy(cur, "SRCU", 4);
            put_le32(cur + 4, ref_crc32c(0, cur + 8, 8));
        }
        write_named("cursor", cur, sizeof cur);
    }
    if (sel & 8)
        write_named("spare", in.p, in.n);

    char err[512];
    sr_spool_recovery rep;
    sr_spool *sp = open_spool(&rep);
    sr_spool_info info;
    sr_spool_stats(sp, &info);
    FZ_ASSERT(info.cursor <= info.next_seq && info.oldest_seq <= info.next_seq);

    sr_spool_batch b = SR_SPOOL_BATCH_INIT;
    uint64_t from = 0, last = 0;
    for (int round = 0; round < 64; round++) {
        FZ_ASSERT(sr_spool_read(sp, from, 7, 1000, &b, err, sizeof err) == 0);
        if (b.n == 0)
            break;
        for (size_t i = 0; i < b.n; i++) {
            FZ_ASSERT(b.recs[i].seq >= info.cursor && b.recs[i].seq > last);
            FZ_ASSERT(b.recs[i].seq < info.next_seq);
            last = b.recs[i].seq;
        }
        FZ_ASSERT(b.next_seq > from);
        from = b.next_seq;
    }

    /* One record with its event, one without (version 2). */
    const char *recs[2] = {"appended-one", "appended-two"}, *events[2] = {"{\"e\":1}", NULL};
    uint32_t lens[2] = {12, 12}, elens[2] = {7, 0};
    uint64_t first = 0;
    FZ_ASSERT(sr_spool_append(sp, recs, lens, events, elens, 2, &first, err, sizeof err) == 0);
    FZ_ASSERT(first >= info.next_seq);
    FZ_ASSERT(sr_spool_read(sp, first, 10, 1 << 20, &b, err, sizeof err) == 0);
    FZ_ASSERT(b.n == 2 && b.recs[0].seq == first && b.recs[1].seq == first + 1);
    FZ_ASSERT(b.recs[0].len == 12 && memcmp(b.recs[0].data, recs[0], 12) == 0);
    FZ_ASSERT(b.recs[0].event_len == 7 && memcmp(b.recs[0].event, events[0], 7) == 0);
    FZ_ASSERT(b.recs[1].len == 12 && memcmp(b.recs[1].data, recs[1], 12) == 0);
    FZ_ASSERT(b.recs[1].event == NULL && b.recs[1].event_len == 0);
    FZ_ASSERT(sr_spool_ack(sp, first + 2, err, sizeof err) == 0);
    sr_spool_batch_free(&b);
    sr_spool_close(sp);

    sp = open_spool(&rep);
    sr_spool_stats(sp, &info);
    FZ_ASSERT(rep.pending == 0 && info.pending_records == 0 && info.next_seq == first + 2);
    sr_spool_close(sp);
    return 0;
}
