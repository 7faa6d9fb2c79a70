/* test_spool.c - the disk spool on real files: framing, rolls, acks,
 * restarts, torn tails, damage, cursor files and a SIGKILLed writer. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "crc32c_ref.h"
#include "log.h"
#include "spool.h"

/* ---- helpers ------------------------------------------------------------- */

static char root[64];
static int dir_counter;

/* A fresh spool directory path (not created: open must create it). */
static void new_dir(char *out, size_t len) {
    snprintf(out, len, "%s/d%d/spool/integ", root, ++dir_counter);
}

static void seg_path(char *out, size_t len, const char *dir, uint64_t first) {
    snprintf(out, len, "%s/%020" PRIu64 ".seg", dir, first);
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int count_segments(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t len = strlen(de->d_name);
        n += len > 4 && strcmp(de->d_name + len - 4, ".seg") == 0;
    }
    closedir(d);
    return n;
}

/* Path of the newest segment file (highest first sequence number). */
static uint64_t newest_segment(const char *dir, char *out, size_t len) {
    DIR *d = opendir(dir);
    uint64_t best = 0;
    if (!d)
        return 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t n = strlen(de->d_name);
        uint64_t first = strtoull(de->d_name, NULL, 10);
        if (n == 24 && strcmp(de->d_name + 20, ".seg") == 0 && first > best)
            best = first;
    }
    closedir(d);
    seg_path(out, len, dir, best);
    return best;
}

static ino_t file_inode(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? st.st_ino : 0;
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

static void flip_byte(const char *path, long off) {
    int fd = open(path, O_RDWR);
    unsigned char c = 0;
    if (pread(fd, &c, 1, off) == 1) {
        c ^= 0x5a;
        CHECK(pwrite(fd, &c, 1, off) == 1);
    }
    close(fd);
}

/* Deterministic payload of record `seq`: its length and bytes derive from
 * the number, and it contains NULs and high bytes. `pattern_big` switches to
 * ~64 KiB records for the crash test that wants multi-MiB writes. */
static int pattern_big;

static uint32_t payload_len(uint64_t seq) {
    return pattern_big ? 65536 + (uint32_t)(seq % 4096) : (uint32_t)(seq * 37 % 300);
}

static char payload_byte(uint64_t seq, uint32_t i) { return (char)((seq * 131 + i * 7) & 0xff); }

static void payload_fill(uint64_t seq, char *out) {
    uint32_t len = payload_len(seq);
    for (uint32_t i = 0; i < len; i++)
        out[i] = payload_byte(seq, i);
}

static int payload_ok(uint64_t seq, const char *data, uint32_t len) {
    if (len != payload_len(seq))
        return 0;
    for (uint32_t i = 0; i < len; i++)
        if (data[i] != payload_byte(seq, i))
            return 0;
    return 1;
}

/* Appends records `first`.. `first + n - 1` of the deterministic pattern as
 * one batch; returns the first sequence number the spool assigned. */
static uint64_t append_pattern(sr_spool *sp, uint64_t first, size_t n) {
    char **recs = calloc(n, sizeof *recs);
    uint32_t *lens = calloc(n, sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        lens[i] = payload_len(first + i);
        recs[i] = malloc(lens[i] + 1);
        payload_fill(first + i, recs[i]);
    }
    char err[256] = "";
    uint64_t got = 0;
    int rc =
        sr_spool_append(sp, (const char *const *)recs, lens, NULL, NULL, n, &got, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "append: %s\n", err);
    CHECK_INT(rc, 0);
    for (size_t i = 0; i < n; i++)
        free(recs[i]);
    free(recs);
    free(lens);
    return got;
}

/* Reads everything pending from `from`, checking each record against the
 * pattern and that sequence numbers are contiguous; returns the count. */
static uint64_t read_all_pattern(sr_spool *sp, uint64_t from, uint64_t *first, uint64_t *last) {
    sr_spool_batch b = SR_SPOOL_BATCH_INIT;
    char err[256] = "";
    uint64_t count = 0, expect = 0;
    int bad = 0;
    for (;;) {
        if (sr_spool_read(sp, from, 100, 4096, &b, err, sizeof err) != 0) {
            fprintf(stderr, "read: %s\n", err);
            CHECK(0);
            break;
        }
        if (b.n == 0)
            break;
        for (size_t i = 0; i < b.n; i++) {
            const sr_spool_record *r = &b.recs[i];
            if (count == 0 && first)
                *first = r->seq;
            if ((count && r->seq != expect) || !payload_ok(r->seq, r->data, r->len))
                bad++;
            expect = r->seq + 1;
            count++;
            if (last)
                *last = r->seq;
        }
        from = b.next_seq;
    }
    CHECK_INT(bad, 0);
    sr_spool_batch_free(&b);
    return count;
}

static sr_spool *open_spool(const char *dir, const sr_spool_conf *conf, sr_spool_recovery *rep) {
    char err[256] = "";
    sr_spool *sp = sr_spool_open(dir, conf, rep, err, sizeof err);
    if (!sp)
        fprintf(stderr, "open %s: %s\n", dir, err);
    CHECK(sp != NULL);
    return sp;
}

/* A spool in a fresh directory, whose path goes into dir. */
static sr_spool *fresh_spool(char *dir, size_t len, const sr_spool_conf *conf,
                             sr_spool_recovery *rep) {
    new_dir(dir, len);
    return open_spool(dir, conf, rep);
}

/* A spool in a fresh directory holding the pattern's records 1 to 10. */
static sr_spool *fresh_spool_ten(char *dir, size_t len) {
    sr_spool *sp = fresh_spool(dir, len, NULL, NULL);
    if (sp)
        append_pattern(sp, 1, 10);
    return sp;
}

/* Closes the spool and opens its directory again, as a restart does. */
static sr_spool *reopen_spool(sr_spool *sp, const char *dir, const sr_spool_conf *conf,
                              sr_spool_recovery *rep) {
    sr_spool_close(sp);
    return open_spool(dir, conf, rep);
}

/* Where record `seq` starts in the first segment, when the records before it
 * are the pattern's from 1 on. */
static long pattern_offset(uint64_t seq) {
    long off = 16;
    for (uint64_t s = 1; s < seq; s++)
        off += 16 + payload_len(s);
    return off;
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) {
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* ---- tests --------------------------------------------------------------- */

static void test_empty(void) {
    char dir[128], err[256];
    sr_spool_recovery rep;
    sr_spool *sp = fresh_spool(dir, sizeof dir, NULL, &rep);
    if (!sp)
        return;
    CHECK_INT(rep.segments, 0);
    CHECK_INT(rep.records, 0);
    sr_spool_info st;
    sr_spool_stats(sp, &st);
    CHECK_INT(st.pending_records, 0);
    CHECK_INT(st.pending_bytes, 0);
    CHECK_INT(st.segments, 0);
    CHECK_INT(st.next_seq, 1);
    CHECK_INT(st.oldest_seq, 1);
    sr_spool_batch b = SR_SPOOL_BATCH_INIT;
    CHECK_INT(sr_spool_read(sp, 0, 10, 1000, &b, err, sizeof err), 0);
    CHECK_INT(b.n, 0);
    CHECK_INT(b.next_seq, 1);
    CHECK_INT(sr_spool_ack(sp, 1, err, sizeof err), 0); /* nothing below 1: no-op */
    CHECK_INT(sr_spool_ack(sp, 2, err, sizeof err), -1);
    CHECK(strstr(err, "past the last record") != NULL);
    uint64_t first = 0;
    CHECK_INT(sr_spool_append(sp, NULL, NULL, NULL, NULL, 0, &first, err, sizeof err), 0);
    CHECK_INT(first, 1);
    CHECK_INT(sr_spool_sync(sp, err, sizeof err), 0);
    sr_spool_close(sp);
    CHECK_INT(count_segments(dir), 0);
    sp = open_spool(dir, NULL, &rep);
    sr_spool_stats(sp, &st);
    CHECK_INT(st.next_seq, 1);
    CHECK_INT(st.pending_records, 0);
    sr_spool_batch_free(&b);
    sr_spool_close(sp);
    sr_spool_close(NULL);
}

static void test_round_trip(void) {
    char dir[128], err[256];
    sr_spool *sp = fresh_spool(dir, sizeof dir, NULL, NULL);
    if (!sp)
        return;
    /* Every byte value, an empty record, NULs, and text. */
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    const char *recs[] = {all, "", "a\0b\0c", "{\"k\":\"v\"}"};
    uint32_t lens[] = {256, 0, 5, 9};
    uint64_t first = 0;
    CHECK_INT(sr_spool_append(sp, recs, lens, NULL, NULL, 4, &first, err, sizeof err), 0);
    CHECK_INT(first, 1);
    CHECK_INT(sr_spool_append(sp, recs + 3, lens + 3, NULL, NULL, 1, &first, err, sizeof err), 0);
    CHECK_INT(first, 5);

    sr_spool_batch b = SR_SPOOL_BATCH_INIT;
    CHECK_INT(sr_spool_read(sp, 1, 100, 1 << 20, &b, err, sizeof err), 0);
    CHECK_INT(b.n, 5);
    for (size_t i = 0; i < 4 && b.n == 5; i++) {
        CHECK_INT(b.recs[i].seq, i + 1);
        CHECK_INT(b.recs[i].len, lens[i]);
        CHECK(memcmp(b.recs[i].data, recs[i], lens[i]) == 0);
    }
    CHECK_INT(b.bytes, 256 + 0 + 5 + 9 + 9);
    CHECK_INT(b.next_seq, 6);

    /* Budgets: records, then bytes; a first record over max_bytes comes alone. */
    CHECK_INT(sr_spool_read(sp, 2, 2, 1 << 20, &b, err, sizeof err), 0);
    CHECK_INT(b.n, 2);
    CHECK_INT(b.recs[0].seq, 2);
    CHECK_INT(b.next_seq, 4);
    CHECK_INT(sr_spool_read(sp, 1, 100, 10, &b, err, sizeof err), 0);
    CHECK_INT(b.n, 1);
    CHECK_INT(b.recs[0].len, 256);
    CHECK_INT(sr_spool_read(sp, 2, 100, 14, &b, err, sizeof err), 0);
    CHECK_INT(b.n, 3); /* 0 + 5 + 9 */
    CHECK_INT(sr_spool_read(sp, 6, 100, 100, &b, err, sizeof err), 0);
    CHECK_INT(b.n, 0);

    sr_spool_info st;
    sr_spool_stats(sp, &st);
    CHECK_INT(st.pending_records, 5);
    CHECK_INT(st.pending_bytes, 5 * (16 + 4) + 279); /* framing and record length */
    CHECK_INT(st.segments, 1);
    CHECK_INT(st.oldest_seq, 1);
    CHECK_INT(st.next_seq, 6);

    /* More than one pwritev's worth of records in a single batch. */
    uint64_t f = append_pattern(sp, 6, 1500);
    CHECK_INT(f, 6);
    uint64_t lo = 0, hi = 0;
    CHECK_INT(read_all_pattern(sp, 6, &lo, &hi), 1500);
    CHECK_INT(lo, 6);
    CHECK_INT(hi, 1505);
    sr_spool_batch_free(&b);
    sr_spool_close(sp);
}

static void test_format(void) {
    const unsigned char v[] = "123456789";
    CHECK_INT(ref_crc32c(0, v, 9), 0xE3069283u);

    char dir[128], path[200], err[256];
    sr_spool *sp = fresh_spool(dir, sizeof dir, NULL, NULL);
    if (!sp)
        return;
    /* Version 2: the payload is [u32 record length][record][event]. */
    const char *recs[] = {"123456789"}, *events[] = {"{\"a\":1}"};
    uint32_t lens[] = {9}, elens[] = {7};
    CHECK_INT(sr_spool_append(sp, recs, lens, events, elens, 1, NULL, err, sizeof err), 0);
    seg_path(path, sizeof path, dir, 1);
    unsigned char f[64] = {0};
    FILE *fp = fopen(path, "rb");
    size_t n = fp ? fread(f, 1, sizeof f, fp) : 0;
    if (fp)
        fclose(fp);
    CHECK_INT(n, 16 + 16 + 4 + 9 + 7);
    CHECK(memcmp(f, "SRSP", 4) == 0);
    CHECK_INT(le32(f + 4), 2);
    CHECK_INT(le64(f + 8), 1);
    CHECK_INT(le32(f + 16), 4 + 9 + 7);
    CHECK_INT(le64(f + 24), 1);
    CHECK_INT(le32(f + 32), 9);
    CHECK(memcmp(f + 36, "123456789", 9) == 0);
    CHECK(memcmp(f + 45, "{\"a\":1}", 7) == 0);
    uint32_t c = ref_crc32c(0, f + 16, 4);
    c = ref_crc32c(c, f + 24, 8);
    c = ref_crc32c(c, f + 32, 4 + 9 + 7);
    CHECK_INT(le32(f + 20), c);
    sr_spool_batch b = SR_SPOOL_BATCH_INIT;
    CHECK_INT(sr_spool_read(sp, 1, 10, 1 << 20, &b, err, sizeof err), 0);
    CHECK_INT(b.n, 1);
    if (b.n == 1) {
        CHECK(b.recs[0].len == 9 && memcmp(b.recs[0].data, "123456789", 9) == 0);
        CHECK(b.recs[0].event_len == 7 && b.recs[0].event &&
              memcmp(b.recs[0].event, "{\"a\":1}", 7) == 0);
        CHECK_INT(b.recs[0].stored, 20);
    }
    CHECK_INT(b.bytes, 9);
    CHECK_INT(b.stored, 20);
    sr_spool_batch_free(&b);

    CHECK_INT(sr_spool_ack(sp, 2, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/cursor", dir);
    fp = fopen(path, "rb");
    n = fp ? fread(f, 1, sizeof f, fp) : 0;
    if (fp)
        fclose(fp);
    CHECK_INT(n, 16);
    CHECK(memcmp(f, "SRCU", 4) == 0);
    CHECK_INT(le64(f + 8), 2);
    CHECK_INT(le32(f + 4), ref_crc32c(0, f + 8, 8));
    sr_spool_close(sp);
}

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v) {
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* Appends one record framed by hand to `f` at *off: `payload` as is, CRC
 * over length, sequence and payload, as both versions frame it. */
static void frame(unsigned char *f, size_t *off, uint64_t seq, const void *payload, uint32_t len) {
    unsigned char *h = f + *off;
    put32(h, len);
    put64(h + 8, seq);
    memcpy(h + 16, payload, len);
    uint32_t c = ref_crc32c(0, h, 4);
    c = ref_crc32c(c, h + 8, 8);
    put32(h + 4, ref_crc32c(c, h + 16, len));
    *off += 16 + len;
}

static void seg_header(unsigned char *f, uint32_t version, uint64_t first) {
    memcpy(f, "SRSP", 4);
    put32(f + 4, version);
    put64(f + 8, first);
}

/* Opens a fresh directory (its path into dir) that holds only a hand-made
 * first segment: the `len` bytes at `seg`. */
static sr_spool *open_hand_made(char *dir, size_t dirlen, const unsigned char *seg, size_t len,
                                sr_spool_recovery *rep) {
    char mk[300], path[200];
    new_dir(dir, dirlen);
    snprintf(mk, sizeof mk, "mkdir -p %s", dir);
    CHECK(system(mk) == 0);
    seg_path(path, sizeof path, dir, 1);
    write_file(path, seg, len);
    return open_spool(dir, NULL, rep);
}

/* A spool an older release wrote (version-1 segment: payload = record) is
 * read after the upgrade, records without events; appends go into a new
 * version-2 segment, and both read back, also after a restart. */
static void test_version1_segment(void) {
    char dir[128], path[200], err[256];
    const char *old[] = {"alpha", "", "{\"id\":3}"};
    unsigned char f[256];
    size_t off = 16;
    seg_header(f, 1, 1);
    for (uint64_t i = 0; i < 3; i++)
        frame(f, &off, i + 1, old[i], (uint32_t)strlen(old[i]));

    sr_spool_recovery rep;
    sr_spool *sp = open_hand_made(dir, sizeof dir, f, off, &rep);
    if (!sp)
        return;
    seg_path(path, sizeof path, dir, 1);
    CHECK_INT(rep.pending, 3);
    CHECK_INT(rep.torn_records + rep.lost_records + rep.corrupt_segments, 0);
    const char *recs[] = {"new-1", "new-2"}, *events[] = {"{\"e\":1}", NULL};
    uint32_t lens[] = {5, 5}, elens[] = {7, 0};
    uint64_t first = 0;
    CHECK_INT(sr_spool_append(sp, recs, lens, events, elens, 2, &first, err, sizeof err), 0);
    CHECK_INT(first, 4);
    CHECK_INT(count_segments(dir), 2); /* never appended to the version-1 one */
    CHECK_INT(file_size(path), (long)off);
    for (int round = 0; round < 2; round++) {
        sr_spool_batch b = SR_SPOOL_BATCH_INIT;
        CHECK_INT(sr_spool_read(sp, 1, 100, 1 << 20, &b, err, sizeof err), 0);
        CHECK_INT(b.n, 5);
        for (size_t i = 0; i < 3 && b.n == 5; i++) {
            CHECK(b.recs[i].len == strlen(old[i]) &&
                  memcmp(b.recs[i].data, old[i], b.recs[i].len) == 0);
            CHECK(b.recs[i].event == NULL && b.recs[i].event_len == 0);
            CHECK_INT(b.recs[i].stored, strlen(old[i]));
        }
        if (b.n == 5) {
            CHECK(b.recs[3].len == 5 && memcmp(b.recs[3].data, "new-1", 5) == 0);
            CHECK(b.recs[3].event_len == 7 && memcmp(b.recs[3].event, "{\"e\":1}", 7) == 0);
            CHECK(b.recs[4].len == 5 && memcmp(b.recs[4].data, "new-2", 5) == 0);
            CHECK(b.recs[4].event == NULL);
        }
        sr_spool_batch_free(&b);
        sp = reopen_spool(sp, dir, NULL, &rep);
        if (!sp)
            return;
        CHECK_INT(rep.pending, 5);
        CHECK_INT(rep.torn_records + rep.lost_records + rep.corrupt_segments, 0);
    }
    /* Acking past the version-1 segment retires it. */
    CHECK_INT(sr_spool_ack(sp, 4, err, sizeof err), 0);
    CHECK(!file_exists(path));
    sr_spool_close(sp);
}

/* A version-2 payload whose record length runs past it is damage even with
 * a matching CRC: recovery cuts it off like a torn tail. */
static void test_version2_bad_record_length(void) {
    char dir[128];
    unsigned char f[256], p[32];
    size_t off = 16;
    seg_header(f, 2, 1);
    put32(p, 3);
    memcpy(p + 4, "rec{}", 5);
    frame(f, &off, 1, p, 9); /* record "rec", event "{}" */
    put32(p, 6);
    frame(f, &off, 2, p, 9); /* record length 6 > 5 */
    sr_spool_recovery rep;
    sr_spool *sp = open_hand_made(dir, sizeof dir, f, off, &rep);
    if (!sp)
        return;
    CHECK_INT(rep.pending, 1);
    CHECK_INT(rep.torn_records, 1);
    sr_spool_batch b = SR_SPOOL_BATCH_INIT;
    char err[256];
    CHECK_INT(sr_spool_read(sp, 1, 100, 1 << 20, &b, err, sizeof err), 0);
    CHECK_INT(b.n, 1);
    if (b.n == 1)
        CHECK(b.recs[0].len == 3 && b.recs[0].event_len == 2 &&
              memcmp(b.recs[0].event, "{}", 2) == 0);
    sr_spool_batch_free(&b);
    sr_spool_close(sp);
}

/* The read budget counts records, not the events beside them: a batch
 * sized for records is not halved by large events. */
static void test_budget_counts_records(void) {
    char dir[128], err[256];
    sr_spool *sp = fresh_spool(dir, sizeof dir, NULL, NULL);
    if (!sp)
        return;
    enum { N = 50 };
    static char ev[4000];
    memset(ev, 'e', sizeof ev);
    const char *recs[N], *events[N];
    uint32_t lens[N], elens[N];
    for (int i = 0; i < N; i++) {
        recs[i] = "0123456789";
        lens[i] = 10;
        events[i] = ev;
        elens[i] = sizeof ev;
    }
    CHECK_INT(sr_spool_append(sp, recs, lens, events, elens, N, NULL, err, sizeof err), 0);
    sr_spool_batch b = SR_SPOOL_BATCH_INIT;
    CHECK_INT(sr_spool_read(sp, 1, 1000, 10 * N, &b, err, sizeof err), 0);
    CHECK_INT(b.n, N);
    CHECK_INT(b.bytes, 10 * N);
    CHECK_INT(b.stored, (uint64_t)N * (4 + 10 + sizeof ev));
    for (size_t i = 0; i < b.n; i++)
        CHECK(b.recs[i].event_len == sizeof ev && memcmp(b.recs[i].event, ev, sizeof ev) == 0 &&
              memcmp(b.recs[i].data, "0123456789", 10) == 0);
    CHECK_INT(sr_spool_read(sp, 1, 1000, 10 * N - 1, &b, err, sizeof err), 0);
    CHECK_INT(b.n, N - 1);
    sr_spool_info st;
    sr_spool_stats(sp, &st);
    CHECK_INT(st.pending_bytes, (uint64_t)N * (16 + 4 + 10 + sizeof ev));
    sr_spool_batch_free(&b);
    sr_spool_close(sp);
}

/* Records long enough for the three-lane hardware CRC (and around its lane
 * boundaries) carry the CRC the bitwise reference computes. */
static void test_crc_long_records(void) {
    static const uint32_t sizes[] = {1535, 1536, 1537, 2047, 3072, 4611, 9000};
    enum { N = sizeof sizes / sizeof sizes[0] };
    char dir[128], path[200], err[256];
    sr_spool *sp = fresh_spool(dir, sizeof dir, NULL, NULL);
    if (!sp)
        return;
    char *recs[N];
    uint32_t lens[N];
    size_t total = 16;
    for (size_t i = 0; i < N; i++) {
        lens[i] = sizes[i];
        recs[i] = malloc(sizes[i]);
        for (uint32_t k = 0; recs[i] && k < sizes[i]; k++)
            recs[i][k] = (char)(k * 131 + i * 7 + (k >> 5));
        total += 16 + 4 + sizes[i];
    }
    CHECK_INT(
        sr_spool_append(sp, (const char *const *)recs, lens, NULL, NULL, N, NULL, err, sizeof err),
        0);
    seg_path(path, sizeof path, dir, 1);
    unsigned char *f = malloc(total);
    FILE *fp = fopen(path, "rb");
    size_t n = fp && f ? fread(f, 1, total, fp) : 0;
    if (fp)
        fclose(fp);
    CHECK_INT(n, total);
    size_t off = 16;
    for (size_t i = 0; n == total && i < N; i++) {
        const unsigned char *h = f + off;
        CHECK_INT(le32(h), 4 + sizes[i]);
        CHECK_INT(le32(h + 16), sizes[i]);
        uint32_t c = ref_crc32c(0, h, 4);
        c = ref_crc32c(c, h + 8, 8);
        c = ref_crc32c(c, h + 16, 4 + sizes[i]);
        CHECK_INT(le32(h + 4), c);
        off += 16 + 4 + sizes[i];
    }
    /* And they read back, CRC-checked by the spool itself. */
    sr_spool_batch b = SR_SPOOL_BATCH_INIT;
    CHECK_INT(sr_spool_read(sp, 1, N, 1u << 20, &b, err, sizeof err), 0);
    CHECK_INT(b.n, N);
    for (size_t i = 0; i < b.n && i < N; i++)
        CHECK(b.recs[i].len == sizes[i] && memcmp(b.recs[i].data, recs[i], sizes[i]) == 0);
    sr_spool_batch_free(&b);
    for (size_t i = 0; i < N; i++)
        free(recs[i]);
    free(f);
    sr_spool_close(sp);
}

static void test_roll_and_ack(void) {
    char dir[128], path[200], err[256];
    sr_spool_conf conf = {.segment_bytes = 4096};
    sr_spool *sp = fresh_spool(dir, sizeof dir, &conf, NULL);
    if (!sp)
        return;
    /* ~170 bytes a record on average: several segments. */
    uint64_t next = 1;
    for (int i = 0; i < 40; i++) {
        CHECK_INT(append_pattern(sp, next, 5), next);
        next += 5;
    }
    sr_spool_info st;
    sr_spool_stats(sp, &st);
    CHECK(st.segments >= 5);
    CHECK_INT(count_segments(dir), st.segments);
    CHECK_INT(st.pending_records, 200);
    CHECK_INT(st.disk_bytes, st.pending_bytes + 16 * st.segments);
    seg_path(path, sizeof path, dir, 1);
    CHECK(file_exists(path));
    uint64_t lo = 0, hi = 0;
    CHECK_INT(read_all_pattern(sp, 1, &lo, &hi), 200);
    CHECK_INT(lo, 1);
    CHECK_INT(hi, 200);

    /* Random access across segments, also backwards (index and walk). */
    sr_spool_batch b = SR_SPOOL_BATCH_INIT;
    uint64_t probes[] = {150, 3, 77, 199, 200, 1, 120};
    for (size_t i = 0; i < sizeof probes / sizeof *probes; i++) {
        CHECK_INT(sr_spool_read(sp, probes[i], 1, 1, &b, err, sizeof err), 0);
        CHECK_INT(b.n, 1);
        if (b.n) {
            CHECK_INT(b.recs[0].seq, probes[i]);
            CHECK(payload_ok(probes[i], b.recs[0].data, b.recs[0].len));
        }
    }

    /* Ack into the middle: older segments go, the cursor is persisted. */
    uint64_t before = st.segments;
    CHECK_INT(sr_spool_ack(sp, 101, err, sizeof err), 0);
    sr_spool_stats(sp, &st);
    CHECK(st.segments < before);
    CHECK_INT(count_segments(dir), st.segments);
    CHECK(!file_exists(path));
    CHECK_INT(st.pending_records, 100);
    CHECK_INT(st.oldest_seq, 101);
    CHECK(st.pending_bytes < st.disk_bytes);
    snprintf(path, sizeof path, "%s/cursor", dir);
    CHECK_INT(file_size(path), 16);
    /* Reads never return delivered records. */
    CHECK_INT(sr_spool_read(sp, 1, 1, 1, &b, err, sizeof err), 0);
    CHECK_INT(b.recs[0].seq, 101);
    CHECK_INT(sr_spool_ack(sp, 50, err, sizeof err), 0); /* below the cursor: no-op */
    sr_spool_close(sp);

    /* Restart: same pending records, appends continue the numbering. */
    sr_spool_recovery rep;
    sp = open_spool(dir, &conf, &rep);
    if (!sp)
        return;
    CHECK_INT(rep.pending, 100);
    CHECK_INT(rep.torn_records, 0);
    CHECK_INT(rep.lost_records, 0);
    CHECK_INT(rep.cursor_reset, 0);
    sr_spool_stats(sp, &st);
    CHECK_INT(st.cursor, 101);
    CHECK_INT(st.pending_records, 100);
    CHECK_INT(read_all_pattern(sp, 0, &lo, &hi), 100);
    CHECK_INT(lo, 101);
    CHECK_INT(hi, 200);
    CHECK_INT(append_pattern(sp, 201, 3), 201);

    /* Ack everything: only the newest segment is kept, empty of pending. */
    CHECK_INT(sr_spool_ack(sp, 204, err, sizeof err), 0);
    sr_spool_stats(sp, &st);
    CHECK_INT(st.segments, 1);
    CHECK_INT(st.pending_records, 0);
    CHECK_INT(st.pending_bytes, 0);
    CHECK_INT(st.oldest_seq, 204);
    CHECK_INT(sr_spool_read(sp, 0, 10, 10000, &b, err, sizeof err), 0);
    CHECK_INT(b.n, 0);
    sp = reopen_spool(sp, dir, &conf, &rep);
    if (!sp)
        return;
    CHECK_INT(rep.pending, 0);
    sr_spool_stats(sp, &st);
    CHECK_INT(st.next_seq, 204);
    CHECK_INT(append_pattern(sp, 204, 1), 204);
    sr_spool_batch_free(&b);
    sr_spool_close(sp);
}

/* Appends single records until the newest segment changes; returns it. */
static uint64_t append_until_roll(sr_spool *sp, const char *dir, uint64_t *next, char *path,
                                  size_t len) {
    uint64_t before = newest_segment(dir, path, len), now;
    do {
        append_pattern(sp, *next, 1);
        (*next)++;
    } while ((now = newest_segment(dir, path, len)) == before);
    return now;
}

/* A spool whose newest segment is a reused file still holding its previous
 * records past the new ones: returns the spool, sets the file's path and
 * old size, the cursor and the next record number. */
static sr_spool *reuse_setup(const char *dir, const sr_spool_conf *conf, char *reused, size_t len,
                             long *old_size, uint64_t *acked, uint64_t *next) {
    char path[200], spare[200], err[256];
    snprintf(spare, sizeof spare, "%s/spare", dir);
    sr_spool *sp = open_spool(dir, conf, NULL);
    if (!sp)
        return NULL;
    /* One batch is never split: the first segment grows past 4096 bytes,
     * so its file is longer than what its next use writes into it. */
    append_pattern(sp, 1, 60);
    *next = 61;
    sr_spool_info st;
    do {
        append_pattern(sp, *next, 5);
        *next += 5;
        sr_spool_stats(sp, &st);
    } while (st.segments < 3);
    seg_path(path, sizeof path, dir, 1);
    ino_t first_ino = file_inode(path);
    *old_size = file_size(path);
    CHECK(first_ino != 0 && *old_size > 8192);

    /* Everything delivered: the oldest file becomes the spare, the other
     * older one is deleted (one spare at most), the newest stays. */
    *acked = *next;
    CHECK_INT(sr_spool_ack(sp, *acked, err, sizeof err), 0);
    CHECK_INT(sr_spool_sync(sp, err, sizeof err), 0); /* crash images keep this cursor */
    CHECK(!file_exists(path));
    CHECK_INT(file_inode(spare), first_ino);
    CHECK_INT(count_segments(dir), 1);
    sr_spool_stats(sp, &st);
    CHECK_INT(st.segments, 1);
    CHECK(st.disk_bytes >= (uint64_t)*old_size);

    /* The next roll takes the spare: same file, fresh header. */
    CHECK_INT(append_until_roll(sp, dir, next, reused, len), *next - 1);
    CHECK(!file_exists(spare));
    CHECK_INT(file_inode(reused), first_ino);
    CHECK_INT(file_size(reused), *old_size); /* old bytes still past the end */
    return sp;
}

/* A delivered segment's file is kept as the spare and overwritten by the
 * next roll. Its old bytes past the new valid end are cut when the spool
 * closes or the segment rolls on; a crash image taken while they are still
 * there recovers every new record and none of the old ones. */
static void test_segment_reuse(void) {
    char dir[128], crash[160], reused[200], path[200], cmd[400];
    sr_spool_conf conf = {.segment_bytes = 4096, .fsync = SR_FSYNC_INTERVAL};
    sr_spool_recovery rep;
    long old_size;
    uint64_t acked, next, lo = 0, hi = 0;

    /* Closing trims the newest segment's reused file. */
    new_dir(dir, sizeof dir);
    sr_spool *sp = reuse_setup(dir, &conf, reused, sizeof reused, &old_size, &acked, &next);
    if (!sp)
        return;
    snprintf(crash, sizeof crash, "%s.crash", dir);
    snprintf(cmd, sizeof cmd, "cp -r %s %s", dir, crash);
    CHECK_INT(system(cmd), 0);
    uint64_t crash_next = next;
    sr_spool_close(sp);
    CHECK(file_size(reused) < old_size);
    sp = open_spool(dir, &conf, &rep);
    if (!sp)
        return;
    CHECK_INT(rep.bytes_truncated, 0);
    CHECK_INT(rep.torn_records, 0);
    CHECK_INT(read_all_pattern(sp, 0, &lo, &hi), next - acked);
    sr_spool_close(sp);

    /* The crash image: the old bytes are cut, the new records all there. */
    sp = open_spool(crash, &conf, &rep);
    if (!sp)
        return;
    CHECK(rep.bytes_truncated > 0);
    CHECK_INT(rep.lost_records, 0);
    CHECK_INT(rep.pending, crash_next - acked);
    CHECK_INT(read_all_pattern(sp, 0, &lo, &hi), crash_next - acked);
    CHECK_INT(lo, acked);
    CHECK_INT(hi, crash_next - 1);
    CHECK_INT(append_pattern(sp, crash_next, 2), crash_next);
    CHECK_INT(read_all_pattern(sp, 0, &lo, &hi), crash_next - acked + 2);
    sr_spool_close(sp);

    /* Rolling on trims it too: as an older segment, recovery must find
     * nothing past its last record (that would be damage). */
    new_dir(dir, sizeof dir);
    sp = reuse_setup(dir, &conf, reused, sizeof reused, &old_size, &acked, &next);
    if (!sp)
        return;
    append_until_roll(sp, dir, &next, path, sizeof path);
    CHECK(file_size(reused) < old_size);
    sp = reopen_spool(sp, dir, &conf, &rep);
    if (!sp)
        return;
    CHECK_INT(rep.bytes_truncated, 0);
    CHECK_INT(rep.lost_records, 0);
    CHECK_INT(rep.corrupt_segments, 0);
    CHECK_INT(read_all_pattern(sp, 0, &lo, &hi), next - acked);
    CHECK_INT(lo, acked);
    CHECK_INT(hi, next - 1);
    sr_spool_close(sp);
}

/* Appends 10 records and returns the byte offset of the last one. */
static long ten_records(const char *dir, char *seg, size_t seglen) {
    sr_spool *sp = open_spool(dir, NULL, NULL);
    if (!sp)
        return -1;
    append_pattern(sp, 1, 9);
    seg_path(seg, seglen, dir, 1);
    long last_off = file_size(seg);
    append_pattern(sp, 10, 1);
    sr_spool_close(sp);
    return last_off;
}

static void check_after_tail_cut(const char *dir) {
    sr_spool *sp = open_spool(dir, NULL, NULL);
    if (!sp)
        return;
    /* Appends continue right after the last good record. */
    CHECK_INT(append_pattern(sp, 10, 2), 10);
    uint64_t lo = 0, hi = 0;
    CHECK_INT(read_all_pattern(sp, 1, &lo, &hi), 11);
    CHECK_INT(hi, 11);
    sr_spool_close(sp);
    sr_spool_recovery rep;
    sp = open_spool(dir, NULL, &rep);
    CHECK_INT(rep.torn_records, 0);
    CHECK_INT(rep.bytes_truncated, 0);
    CHECK_INT(rep.records, 11);
    sr_spool_close(sp);
}

static void test_torn_tail(void) {
    char dir[128], seg[200];
    /* Cut mid-record (inside the payload of the last record). */
    new_dir(dir, sizeof dir);
    long off = ten_records(dir, seg, sizeof seg);
    long full = file_size(seg);
    CHECK(truncate(seg, off + 20) == 0);
    sr_spool_recovery rep;
    sr_spool *sp = open_spool(dir, NULL, &rep);
    if (!sp)
        return;
    CHECK_INT(rep.torn_records, 1);
    CHECK_INT(rep.bytes_truncated, 20);
    CHECK_INT(rep.records, 9);
    CHECK_INT(rep.pending, 9);
    CHECK_INT(file_size(seg), off);
    sr_spool_close(sp);
    check_after_tail_cut(dir);

    /* Cut inside the record header. */
    new_dir(dir, sizeof dir);
    off = ten_records(dir, seg, sizeof seg);
    CHECK(truncate(seg, off + 7) == 0);
    sp = open_spool(dir, NULL, &rep);
    CHECK_INT(rep.torn_records, 1);
    CHECK_INT(rep.bytes_truncated, 7);
    sr_spool_close(sp);
    check_after_tail_cut(dir);

    /* A flipped payload byte in the last record: CRC mismatch. */
    new_dir(dir, sizeof dir);
    off = ten_records(dir, seg, sizeof seg);
    flip_byte(seg, off + 16 + 3);
    sp = open_spool(dir, NULL, &rep);
    CHECK_INT(rep.torn_records, 1);
    CHECK_INT(rep.bytes_truncated, full - off);
    CHECK_INT(rep.records, 9);
    sr_spool_close(sp);
    check_after_tail_cut(dir);

    /* Garbage appended after the last record (zeros, as a crash can leave). */
    new_dir(dir, sizeof dir);
    ten_records(dir, seg, sizeof seg);
    CHECK(truncate(seg, full + 4096) == 0);
    sp = open_spool(dir, NULL, &rep);
    CHECK_INT(rep.torn_records, 1);
    CHECK_INT(rep.bytes_truncated, 4096);
    CHECK_INT(rep.records, 10);
    CHECK_INT(append_pattern(sp, 11, 1), 11);
    CHECK_INT(read_all_pattern(sp, 1, NULL, NULL), 11);
    sr_spool_close(sp);

    /* A segment created but its header never written. */
    sp = fresh_spool(dir, sizeof dir, NULL, NULL);
    sr_spool_close(sp);
    seg_path(seg, sizeof seg, dir, 1);
    write_file(seg, "SRS", 3);
    sp = open_spool(dir, NULL, &rep);
    CHECK_INT(rep.bytes_truncated, 3);
    CHECK_INT(rep.records, 0);
    CHECK_INT(append_pattern(sp, 1, 2), 1);
    CHECK_INT(read_all_pattern(sp, 1, NULL, NULL), 2);
    sr_spool_close(sp);
}

static void test_damage_in_older_segment(void) {
    char dir[128], seg[200], err[256];
    sr_spool_conf conf = {.segment_bytes = 2048};
    sr_spool *sp = fresh_spool(dir, sizeof dir, &conf, NULL);
    if (!sp)
        return;
    for (uint64_t s = 1; s <= 60; s += 2)
        append_pattern(sp, s, 2);
    sr_spool_info st;
    sr_spool_stats(sp, &st);
    CHECK(st.segments >= 3);
    /* Find the second segment's first record number. */
    sr_spool_batch b = SR_SPOOL_BATCH_INIT;
    uint64_t second = 0;
    for (uint64_t s = 2; s <= 60 && !second; s++) {
        seg_path(seg, sizeof seg, dir, s);
        if (file_exists(seg))
            second = s;
    }
    CHECK(second > 4);
    sr_spool_close(sp);

    /* Damage the third record of the first segment. */
    seg_path(seg, sizeof seg, dir, 1);
    long off3 = 16 + 2 * 16 + payload_len(1) + payload_len(2);
    flip_byte(seg, off3 + 16 + 1);
    sr_spool_recovery rep;
    sp = open_spool(dir, &conf, &rep);
    if (!sp)
        return;
    CHECK_INT(rep.lost_records, second - 3);
    CHECK_INT(rep.corrupt_segments, 1);
    CHECK_INT(rep.torn_records, 0);
    CHECK_INT(rep.pending, 60 - (second - 3));
    sr_spool_stats(sp, &st);
    CHECK_INT(st.lost_records, second - 3);
    CHECK_INT(st.pending_records, 60 - (second - 3));
    /* Reading skips the gap: 1, 2, then the second segment on. */
    CHECK_INT(sr_spool_read(sp, 1, 3, 1 << 20, &b, err, sizeof err), 0);
    CHECK_INT(b.n, 3);
    CHECK_INT(b.recs[0].seq, 1);
    CHECK_INT(b.recs[1].seq, 2);
    CHECK_INT(b.recs[2].seq, second);
    CHECK(payload_ok(second, b.recs[2].data, b.recs[2].len));
    CHECK_INT(sr_spool_read(sp, 3, 1, 1 << 20, &b, err, sizeof err), 0);
    CHECK_INT(b.recs[0].seq, second);
    sr_spool_close(sp);

    /* An unreadable segment header: set aside, its records counted lost. */
    seg_path(seg, sizeof seg, dir, second);
    flip_byte(seg, 0);
    sp = open_spool(dir, &conf, &rep);
    if (!sp)
        return;
    CHECK_INT(rep.corrupt_segments, 2);
    char aside[220];
    snprintf(aside, sizeof aside, "%s.corrupt", seg);
    CHECK(file_exists(aside));
    CHECK(!file_exists(seg));
    CHECK_INT(sr_spool_read(sp, 3, 1, 1 << 20, &b, err, sizeof err), 0);
    CHECK(b.n == 1 && b.recs[0].seq > second);
    sr_spool_batch_free(&b);
    sr_spool_close(sp);
}

static void test_damage_found_by_read(void) {
    char dir[128], seg[200], err[256];
    sr_spool *sp = fresh_spool_ten(dir, sizeof dir);
    if (!sp)
        return;
    /* Damage record 5 behind the open spool's back (media error). */
    seg_path(seg, sizeof seg, dir, 1);
    flip_byte(seg, pattern_offset(5) + 16);
    uint64_t lo = 0, hi = 0;
    CHECK_INT(read_all_pattern(sp, 1, &lo, &hi), 4);
    CHECK_INT(hi, 4);
    sr_spool_info st;
    sr_spool_stats(sp, &st);
    CHECK_INT(st.lost_records, 6);
    CHECK_INT(st.pending_records, 4);
    /* Appends go to a new segment, numbering continues. */
    CHECK_INT(append_pattern(sp, 11, 2), 11);
    seg_path(seg, sizeof seg, dir, 11);
    CHECK(file_exists(seg));
    sr_spool_batch b = SR_SPOOL_BATCH_INIT;
    CHECK_INT(sr_spool_read(sp, 5, 10, 1 << 20, &b, err, sizeof err), 0);
    CHECK_INT(b.n, 2);
    CHECK_INT(b.recs[0].seq, 11);
    sr_spool_batch_free(&b);
    sr_spool_close(sp);
}

static void test_cursor_files(void) {
    char dir[128], path[200], err[256];
    /* Garbage cursor: falls back to the oldest record, flagged. */
    sr_spool *sp = fresh_spool_ten(dir, sizeof dir);
    if (!sp)
        return;
    CHECK_INT(sr_spool_ack(sp, 6, err, sizeof err), 0);
    sr_spool_close(sp);
    snprintf(path, sizeof path, "%s/cursor", dir);
    write_file(path, "not a cursor at all", 19);
    sr_spool_recovery rep;
    sp = open_spool(dir, NULL, &rep);
    CHECK_INT(rep.cursor_reset, 1);
    CHECK_INT(rep.pending, 10);
    sr_spool_info st;
    sr_spool_stats(sp, &st);
    CHECK_INT(st.cursor, 1);
    CHECK_INT(st.next_seq, 11);
    /* A right-sized file with a wrong checksum, and an empty one. */
    CHECK_INT(sr_spool_ack(sp, 4, err, sizeof err), 0);
    sr_spool_close(sp);
    flip_byte(path, 9);
    sp = open_spool(dir, NULL, &rep);
    CHECK_INT(rep.cursor_reset, 1);
    CHECK_INT(rep.pending, 10);
    sr_spool_close(sp);
    write_file(path, "", 0);
    sp = open_spool(dir, NULL, &rep);
    CHECK_INT(rep.cursor_reset, 1);
    /* A valid ack replaces the bad file. */
    CHECK_INT(sr_spool_ack(sp, 8, err, sizeof err), 0);
    sp = reopen_spool(sp, dir, NULL, &rep);
    CHECK_INT(rep.cursor_reset, 0);
    CHECK_INT(rep.pending, 3);
    sr_spool_close(sp);

    /* A leftover cursor.tmp is ignored and removed. */
    snprintf(path, sizeof path, "%s/cursor.tmp", dir);
    write_file(path, "junk", 4);
    sp = open_spool(dir, NULL, &rep);
    CHECK_INT(rep.pending, 3);
    CHECK(!file_exists(path));
    sr_spool_close(sp);
}

static void test_cursor_past_end(void) {
    /* INTERVAL/NEVER can lose appended records but keep a later cursor:
     * numbering moves up to the cursor and never reuses numbers. */
    char dir[128], seg[200], err[256];
    sr_spool *sp = fresh_spool_ten(dir, sizeof dir);
    if (!sp)
        return;
    seg_path(seg, sizeof seg, dir, 1);
    long off6 = pattern_offset(6);
    CHECK_INT(sr_spool_ack(sp, 9, err, sizeof err), 0);
    sr_spool_close(sp);
    CHECK(truncate(seg, off6) == 0); /* records 6..10 lost */
    sr_spool_recovery rep;
    sp = open_spool(dir, NULL, &rep);
    if (!sp)
        return;
    sr_spool_info st;
    sr_spool_stats(sp, &st);
    CHECK_INT(st.next_seq, 9);
    CHECK_INT(st.pending_records, 0);
    CHECK_INT(append_pattern(sp, 9, 2), 9);
    seg_path(seg, sizeof seg, dir, 9);
    CHECK(file_exists(seg));
    uint64_t lo = 0;
    CHECK_INT(read_all_pattern(sp, 0, &lo, NULL), 2);
    CHECK_INT(lo, 9);
    sp = reopen_spool(sp, dir, NULL, &rep);
    CHECK_INT(rep.pending, 2);
    CHECK_INT(rep.lost_records, 0);
    sr_spool_close(sp);
}

static void test_large_records(void) {
    char dir[128], err[256];
    sr_spool_conf conf = {.segment_bytes = 2u << 20};
    sr_spool *sp = fresh_spool(dir, sizeof dir, &conf, NULL);
    if (!sp)
        return;
    size_t big = 1u << 20, huge = 3u << 20;
    char *a = malloc(big), *h = malloc(huge);
    for (size_t i = 0; i < big; i++)
        a[i] = (char)(i * 2654435761u >> 13);
    for (size_t i = 0; i < huge; i++)
        h[i] = (char)(i ^ (i >> 11));
    const char *recs[] = {a, a, a, h, a};
    uint32_t lens[] = {(uint32_t)big, (uint32_t)big, (uint32_t)big, (uint32_t)huge, (uint32_t)big};
    for (int i = 0; i < 5; i++)
        CHECK_INT(sr_spool_append(sp, recs + i, lens + i, NULL, NULL, 1, NULL, err, sizeof err), 0);
    sr_spool_info st;
    sr_spool_stats(sp, &st);
    CHECK(st.segments >= 4); /* a 3 MiB record takes a segment of its own */
    sr_spool_batch b = SR_SPOOL_BATCH_INIT;
    /* max_bytes below one record: one record per read. */
    uint64_t from = 1;
    for (int i = 0; i < 5; i++) {
        CHECK_INT(sr_spool_read(sp, from, 10, 1000, &b, err, sizeof err), 0);
        CHECK_INT(b.n, 1);
        if (b.n != 1)
            break;
        CHECK_INT(b.recs[0].seq, i + 1);
        CHECK_INT(b.recs[0].len, lens[i]);
        CHECK(memcmp(b.recs[0].data, recs[i], lens[i]) == 0);
        from = b.next_seq;
    }
    sr_spool_close(sp);
    sr_spool_recovery rep;
    sp = open_spool(dir, &conf, &rep);
    CHECK_INT(rep.records, 5);
    CHECK_INT(sr_spool_read(sp, 1, 10, 8u << 20, &b, err, sizeof err), 0);
    CHECK_INT(b.n, 5);
    for (size_t i = 0; i < b.n; i++)
        CHECK(b.recs[i].len == lens[i] && memcmp(b.recs[i].data, recs[i], lens[i]) == 0);
    /* Over the limit is refused, and nothing is appended. */
    uint32_t too_big = SR_SPOOL_RECORD_MAX + 1;
    CHECK_INT(sr_spool_append(sp, recs, &too_big, NULL, NULL, 1, NULL, err, sizeof err), -1);
    sr_spool_stats(sp, &st);
    CHECK_INT(st.next_seq, 6);
    sr_spool_batch_free(&b);
    sr_spool_close(sp);
    free(a);
    free(h);
}

static void test_lock_and_errors(void) {
    char dir[128], err[256] = "";
    sr_spool *sp = fresh_spool(dir, sizeof dir, NULL, NULL);
    sr_spool *again = sr_spool_open(dir, NULL, NULL, err, sizeof err);
    CHECK(again == NULL);
    CHECK(strstr(err, "already open") != NULL);
    sr_spool_close(sp);
    again = open_spool(dir, NULL, NULL);
    sr_spool_close(again);

    char file[160];
    snprintf(file, sizeof file, "%s/plain", root);
    write_file(file, "x", 1);
    CHECK(sr_spool_open(file, NULL, NULL, err, sizeof err) == NULL);
    sr_spool_conf bad = {.fsync = (sr_fsync_policy)7};
    CHECK(sr_spool_open(dir, &bad, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "fsync") != NULL);
}

static void test_interval_policy(void) {
    char dir[128], path[200], err[256];
    sr_spool_conf conf = {.fsync = SR_FSYNC_INTERVAL, .fsync_interval_ms = 500};
    sr_spool *sp = fresh_spool(dir, sizeof dir, &conf, NULL);
    if (!sp)
        return;
    append_pattern(sp, 1, 5);
    CHECK_INT(sr_spool_ack(sp, 3, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/cursor", dir);
    CHECK(!file_exists(path)); /* deferred to the next sync */
    CHECK_INT(sr_spool_sync_if_due(sp, 10000, err, sizeof err), 0);
    CHECK(file_exists(path));
    CHECK_INT(sr_spool_ack(sp, 4, err, sizeof err), 0);
    CHECK_INT(sr_spool_sync_if_due(sp, 10200, err, sizeof err), 0); /* not due yet */
    sr_spool_close(sp);                                             /* close persists it */
    sr_spool_recovery rep;
    sp = open_spool(dir, &conf, &rep);
    CHECK_INT(rep.pending, 2);
    sr_spool_close(sp);

    conf.fsync = SR_FSYNC_NEVER;
    sp = open_spool(dir, &conf, NULL);
    append_pattern(sp, 6, 2);
    CHECK_INT(sr_spool_ack(sp, 7, err, sizeof err), 0);
    sp = reopen_spool(sp, dir, &conf, &rep);
    CHECK_INT(rep.pending, 1);
    sr_spool_close(sp);
}

/* ---- crash simulation ------------------------------------------------------ */

enum { MSG_APPENDED = 1, MSG_ACKED = 2 };

/* The child appends batches with FSYNC_ALWAYS and reports, after each call
 * returns, what is now durable; it is SIGKILLed at a random moment. */
static void crash_child(const char *dir, int wfd, unsigned seed) {
    sr_spool_conf conf = {.segment_bytes = pattern_big ? 4u << 20 : 16u << 10,
                          .fsync = SR_FSYNC_ALWAYS};
    int max_batch = pattern_big ? 24 : 64;
    char err[256];
    sr_spool *sp = sr_spool_open(dir, &conf, NULL, err, sizeof err);
    if (!sp)
        _exit(2);
    sr_spool_info st;
    sr_spool_stats(sp, &st);
    uint64_t next = st.next_seq;
    srand(seed);
    char *recs[64];
    uint32_t lens[64];
    for (int i = 0; i < 64; i++)
        recs[i] = malloc(70000);
    for (int round = 0; round < 100000; round++) {
        size_t n = 1 + (size_t)(rand() % max_batch);
        for (size_t i = 0; i < n; i++) {
            lens[i] = payload_len(next + i);
            payload_fill(next + i, recs[i]);
        }
        uint64_t first;
        if (sr_spool_append(sp, (const char *const *)recs, lens, NULL, NULL, n, &first, err,
                            sizeof err) != 0)
            _exit(3);
        next = first + n;
        uint64_t msg[2] = {MSG_APPENDED, next - 1};
        if (write(wfd, msg, sizeof msg) != sizeof msg)
            _exit(4);
        if (rand() % 8 == 0 && next > 40) {
            uint64_t upto = next - 1 - (uint64_t)(rand() % 30);
            if (sr_spool_ack(sp, upto, err, sizeof err) != 0)
                _exit(5);
            uint64_t m2[2] = {MSG_ACKED, upto};
            if (write(wfd, m2, sizeof m2) != sizeof m2)
                _exit(4);
        }
    }
    pause();
    _exit(0);
}

static void read_reports(int rfd, uint64_t *appended, uint64_t *acked) {
    uint64_t msg[2];
    while (read(rfd, msg, sizeof msg) == sizeof msg) {
        if (msg[0] == MSG_APPENDED && msg[1] > *appended)
            *appended = msg[1];
        if (msg[0] == MSG_ACKED && msg[1] > *acked)
            *acked = msg[1];
    }
}

static void test_crash(int big) {
    pattern_big = big;
    char dir[128];
    new_dir(dir, sizeof dir);
    uint64_t appended = 0, acked = 0, torn = 0;
    for (unsigned round = 0; round < 6; round++) {
        int fds[2];
        if (pipe(fds) != 0) {
            CHECK(0);
            return;
        }
        unsigned seed = (unsigned)time(NULL) * 7919u + round;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            crash_child(dir, fds[1], seed);
        }
        close(fds[1]);
        /* Wait for its first durable batch, so a loaded machine that is
         * slow to schedule the child still kills it with work done; then
         * let it run for a random while and kill it mid-whatever. */
        uint64_t first[2];
        if (read(fds[0], first, sizeof first) == sizeof first && first[0] == MSG_APPENDED &&
            first[1] > appended)
            appended = first[1];
        struct timespec ts = {0, (big ? 20000000L : 2000000L) + (long)(seed % 40) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        read_reports(fds[0], &appended, &acked);
        close(fds[0]);

        sr_spool_recovery rep;
        sr_spool *sp = open_spool(dir, NULL, &rep);
        if (!sp)
            return;
        sr_spool_info st;
        sr_spool_stats(sp, &st);
        /* The cursor was persisted before each ack returned. */
        CHECK(st.cursor >= (acked ? acked : 1));
        CHECK(st.next_seq > appended);
        /* Every reported record is there, intact and in order; anything
         * after it (the batch in flight) is intact too. */
        uint64_t lo = 0, hi = 0;
        uint64_t n = read_all_pattern(sp, 0, &lo, &hi);
        if (appended >= st.cursor) {
            CHECK_INT(lo, st.cursor);
            CHECK(hi >= appended);
            CHECK_INT(n, hi - lo + 1);
        }
        CHECK_INT(rep.lost_records, 0);
        if (getenv("SPOOL_DEBUG"))
            fprintf(stderr,
                    "round %u: appended %" PRIu64 " acked %" PRIu64 " cursor %" PRIu64
                    " next %" PRIu64 " torn %" PRIu64 " segs %" PRIu64 "\n",
                    round, appended, acked, st.cursor, st.next_seq, rep.torn_records, st.segments);
        torn += rep.torn_records;
        sr_spool_close(sp);
    }
    CHECK(appended > 0);
    if (getenv("SPOOL_DEBUG"))
        fprintf(stderr, "crash test (big=%d): %" PRIu64 " torn records repaired\n", big, torn);
    pattern_big = 0;
}

int main(void) {
    sr_log_configure(SR_LOG_ERROR, SR_LOG_TEXT); /* recovery warnings are expected */
    snprintf(root, sizeof root, "/tmp/test_spool.XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_empty();
    test_round_trip();
    test_format();
    test_crc_long_records();
    test_version1_segment();
    test_version2_bad_record_length();
    test_budget_counts_records();
    test_roll_and_ack();
    test_segment_reuse();
    test_torn_tail();
    test_damage_in_older_segment();
    test_damage_found_by_read();
    test_cursor_files();
    test_cursor_past_end();
    test_large_records();
    test_lock_and_errors();
    test_interval_policy();
    test_crash(0);
    test_crash(1);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return CHECK_DONE();
}
