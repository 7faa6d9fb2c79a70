/* spool.c - durable per-integration disk queue: segments, cursor, recovery.
 *
 * In memory the spool keeps, per segment, its first and one-past-last
 * sequence numbers, its valid size and a sparse index (one entry per
 * INDEX_STRIDE bytes), so finding a record costs at most one window read;
 * sequential reads skip even that through `hint`. Records themselves are
 * never held here: appends go straight from the caller's buffers to the
 * file, reads straight from the file into the caller's batch. */
#include "spool.h"
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "array.h"
#include "errmsg.h"
#include "log.h"

/* SR_SPOOL_NO_CRC_HW forces the table-driven CRC (to test it on x86). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(SR_SPOOL_NO_CRC_HW)
#include <nmmintrin.h>
#define SR_SPOOL_CRC_HW 1
#endif

#define SEG_HDR       16
#define REC_HDR       16
#define SEG_VERSION   2 /* what appends write; version 1 is still read */
#define SEG_VERSION_1 1
/* Version 2 payloads start with the record's length: [u32][record][event]. */
#define PAYLOAD_HDR   4
#define CURSOR_BYTES  16
#define CURSOR_NAME   "cursor"
#define CURSOR_TMP    "cursor.tmp"
#define SPARE_NAME    "spare"
#define NAME_LEN      40
#define INDEX_STRIDE  ((uint64_t)64 << 10)
#define SCRATCH_BYTES ((size_t)1 << 20)
/* Records per pwritev: up to three iovecs each (framing with the record
 * length, record, event), and IOV_MAX is 1024 on Linux. */
#define WRITE_RECS 340
/* Read-ahead allowance for record headers when sizing a read region. */
#define READ_AHEAD_HDRS 4096
/* Counting the records of a damaged tail is informational; bound its cost. */
#define TORN_HOPS_MAX 4096

static const unsigned char seg_magic[4] = {'S', 'R', 'S', 'P'};
static const unsigned char cursor_magic[4] = {'S', 'R', 'C', 'U'};

typedef struct seg_index {
    uint64_t seq, off;
} seg_index;

typedef struct seg {
    uint64_t first_seq; /* from the file name, checked against the header */
    uint64_t end_seq;   /* one past the last valid record */
    uint64_t size;      /* valid bytes, segment header included */
    uint32_t version;   /* SEG_VERSION_1: payload = record; SEG_VERSION: see spool.h */
    seg_index *idx;     /* ascending; a hint only, may be sparse or empty */
    size_t nidx, idx_cap;
} seg;

/* A record's place. Segments are named by first sequence number rather than
 * array index because acks delete older segments under a saved position. */
typedef struct spos {
    uint64_t seg_first, off, seq;
} spos;

struct sr_spool {
    char *dir;
    int dirfd; /* holds the flock */
    sr_spool_conf conf;
    seg *segs; /* oldest first; the last one takes the appends */
    size_t nsegs, segs_cap;
    int wfd;          /* the last segment, O_RDWR; -1 exactly when nsegs == 0 */
    int rfd;          /* cached read descriptor of an older segment */
    uint64_t rfd_seg; /* its first_seq */
    uint64_t next_seq, cursor;
    /* Every record below durable_seq is as durable as the policy makes it. */
    uint64_t durable_seq;
    spos cursor_pos; /* first record >= cursor, for pending_bytes */
    spos hint;       /* where the last read stopped */
    int must_roll;   /* the last segment must not be appended to (damage, gap) */
    int wfd_reused;  /* the last segment is a reused file: stale bytes past `size` */
    int have_spare;  /* SPARE_NAME exists: a delivered segment file kept for reuse */
    uint64_t spare_bytes;
    int data_dirty, dir_dirty, cursor_dirty;
    uint64_t last_sync_ms, lost_records;
    unsigned char *scratch; /* recovery scans and index walks */
    size_t scratch_cap;
    struct iovec iov[3 * WRITE_RECS];
    unsigned char hdrs[WRITE_RECS][REC_HDR + PAYLOAD_HDR];
    int crc_hw;
    uint32_t crc_tab[8][256];   /* software CRC-32C, only built without SSE4.2 */
    uint32_t crc_shift[4][256]; /* SSE4.2: "append CRC_LANE zero bytes", by byte */
};

/* ---- small helpers ------------------------------------------------------ */

static void put_le32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const unsigned char *p) {
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void seg_name(char *out, uint64_t first, const char *suffix) {
    snprintf(out, NAME_LEN, "%020" PRIu64 ".seg%s", first, suffix);
}

static int parse_seg_name(const char *name, uint64_t *first) {
    if (strlen(name) != 24 || strcmp(name + 20, ".seg") != 0)
        return -1;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        unsigned d = (unsigned)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *first = v;
    return 0;
}

/* ---- CRC-32C (Castagnoli) ------------------------------------------------ */

#ifdef SR_SPOOL_CRC_HW
/* The crc32 instruction has a latency of three cycles and a throughput of
 * one: one dependent chain runs at a third of its speed. Long inputs are
 * therefore cut into three lanes of CRC_LANE bytes computed side by side,
 * and the lanes' registers combined: the register is linear, so
 * reg(A B C, r) = shift(shift(reg(A, r)) ^ reg(B, 0)) ^ reg(C, 0), where
 * shift appends CRC_LANE zero bytes (crc_shift, a table per register byte). */
#define CRC_LANE 512

__attribute__((target("sse4.2"))) static void crc32c_hw_init(uint32_t (*t)[256]) {
    for (int j = 0; j < 4; j++)
        for (uint32_t b = 0; b < 256; b++) {
            uint64_t r = (uint64_t)b << (8 * j);
            for (int k = 0; k < CRC_LANE / 8; k++)
                r = _mm_crc32_u64(r, 0);
            t[j][b] = (uint32_t)r;
        }
}

static inline uint32_t crc_shift(const uint32_t (*t)[256], uint32_t r) {
    return t[0][r & 0xff] ^ t[1][(r >> 8) & 0xff] ^ t[2][(r >> 16) & 0xff] ^ t[3][r >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(const uint32_t (*t)[256], uint32_t crc,
                                                            const unsigned char *p, size_t n) {
    uint64_t c = (uint32_t)~crc;
    for (; n >= 3 * CRC_LANE; p += 3 * CRC_LANE, n -= 3 * CRC_LANE) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < CRC_LANE; i += 8) {
            uint64_t w0, w1, w2;
            memcpy(&w0, p + i, 8);
            memcpy(&w1, p + CRC_LANE + i, 8);
            memcpy(&w2, p + 2 * CRC_LANE + i, 8);
            c = _mm_crc32_u64(c, w0);
            c1 = _mm_crc32_u64(c1, w1);
            c2 = _mm_crc32_u64(c2, w2);
        }
        c = crc_shift(t, crc_shift(t, (uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
    }
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
    }
    uint32_t c32 = (uint32_t)c;
    for (; n; p++, n--)
        c32 = _mm_crc32_u8(c32, *p);
    return ~c32;
}
#endif

static void crc32c_init(sr_spool *sp) {
#ifdef SR_SPOOL_CRC_HW
    __builtin_cpu_init();
    sp->crc_hw = __builtin_cpu_supports("sse4.2");
    if (sp->crc_hw) {
        crc32c_hw_init(sp->crc_shift);
        return;
    }
#endif
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        sp->crc_tab[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++) {
            uint32_t prev = sp->crc_tab[t - 1][i];
            sp->crc_tab[t][i] = (prev >> 8) ^ sp->crc_tab[0][prev & 0xff];
        }
}

/* Slicing-by-8: eight table lookups per eight bytes. */
static uint32_t crc32c_sw(const uint32_t (*t)[256], uint32_t crc, const unsigned char *p,
                          size_t n) {
    crc = ~crc;
    for (; n >= 8; p += 8, n -= 8) {
        uint32_t lo = crc ^ get_le32(p), hi = get_le32(p + 4);
        crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
              t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    }
    for (; n; p++, n--)
        crc = t[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t crc32c(const sr_spool *sp, uint32_t crc, const void *p, size_t n) {
#ifdef SR_SPOOL_CRC_HW
    if (sp->crc_hw)
        return crc32c_hw((const uint32_t(*)[256])sp->crc_shift, crc, p, n);
#endif
    return crc32c_sw(sp->crc_tab, crc, p, n);
}

/* Covers length and sequence too, so a zeroed or stale block never passes
 * for a record. `hdr` is the 16-byte record header. */
static uint32_t record_crc(const sr_spool *sp, const unsigned char *hdr, const void *payload,
                           uint32_t len) {
    uint32_t c = crc32c(sp, 0, hdr, 4);
    c = crc32c(sp, c, hdr + 8, 8);
    return crc32c(sp, c, payload, len);
}

/* ---- file I/O ------------------------------------------------------------ */

/* Reads up to `n` bytes at `off`; fewer only at end of file. */
static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Writes every iovec (none empty) at `off`, resuming after short writes.
 * Modifies `iov`. */
static int pwritev_full(int fd, struct iovec *iov, int cnt, uint64_t off) {
    while (cnt > 0) {
        ssize_t w = pwritev(fd, iov, cnt, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        off += (uint64_t)w;
        sr_iov_consume(&iov, &cnt, (size_t)w);
    }
    return 0;
}

static int pwrite_full(int fd, const void *buf, size_t n, uint64_t off) {
    struct iovec iov = {(void *)buf, n};
    return pwritev_full(fd, &iov, 1, off);
}

static int write_seg_header(int fd, uint64_t first) {
    unsigned char h[SEG_HDR];
    memcpy(h, seg_magic, 4);
    put_le32(h + 4, SEG_VERSION);
    put_le64(h + 8, first);
    return pwrite_full(fd, h, SEG_HDR, 0);
}

/* Sequence numbers start at 1 and never come near 2^63 (centuries at ten
 * million records a second): a segment claiming 0, or a segment or cursor
 * claiming 2^63 or more, is damage. Taken for real, a segment 0 would be
 * appended to under numbers its name does not cover, and a number near
 * 2^64 would wrap (both found by tests/fuzz/fuzz_spool.c). */
#define SEQ_LIMIT ((uint64_t)1 << 63)

static int seq_plausible(uint64_t seq) { return seq > 0 && seq < SEQ_LIMIT; }

/* The segment's version (1 or 2) when its header is sound, else 0. */
static uint32_t seg_header_version(int fd, uint64_t first) {
    unsigned char h[SEG_HDR];
    if (!seq_plausible(first) || pread_full(fd, h, SEG_HDR, 0) != SEG_HDR)
        return 0;
    uint32_t v = get_le32(h + 4);
    if (memcmp(h, seg_magic, 4) != 0 || (v != SEG_VERSION && v != SEG_VERSION_1) ||
        get_le64(h + 8) != first)
        return 0;
    return v;
}

/* The record's length within a payload of `len` bytes (version 2: read
 * from its first four bytes, which must be there when len allows them):
 * NULL, or why the payload is not sound (a record length beyond it). */
static const char *split_payload(uint32_t version, const unsigned char *p, uint32_t len,
                                 uint32_t *rec_len) {
    if (version == SEG_VERSION_1) {
        *rec_len = len;
        return NULL;
    }
    if (len < PAYLOAD_HDR || get_le32(p) > len - PAYLOAD_HDR)
        return "record length out of bounds";
    *rec_len = get_le32(p);
    return NULL;
}

/* A file's creation, rename or removal is durable only once its directory
 * is synced. Best effort for the parents of a new spool directory. */
static void fsync_parent(const char *path) {
    char *copy = strdup(path);
    if (!copy)
        return;
    char *slash = strrchr(copy, '/');
    const char *parent = ".";
    if (slash == copy)
        parent = "/";
    else if (slash) {
        *slash = '\0';
        parent = copy;
    }
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(copy);
}

/* ---- segment list and index ---------------------------------------------- */

static seg *seg_push(sr_spool *sp, uint64_t first) {
    seg *segs = sr_array_grow(sp->segs, &sp->segs_cap, sp->nsegs + 1, sizeof *segs, 16);
    if (!segs)
        return NULL;
    sp->segs = segs;
    seg *s = &sp->segs[sp->nsegs++];
    memset(s, 0, sizeof *s);
    s->first_seq = s->end_seq = first;
    s->size = SEG_HDR;
    s->version = SEG_VERSION;
    return s;
}

static void seg_remove(sr_spool *sp, size_t i) {
    free(sp->segs[i].idx);
    memmove(&sp->segs[i], &sp->segs[i + 1], (sp->nsegs - i - 1) * sizeof *sp->segs);
    sp->nsegs--;
}

static seg *last_seg(sr_spool *sp) { return sp->nsegs ? &sp->segs[sp->nsegs - 1] : NULL; }

static int cmp_seg(const void *a, const void *b) {
    uint64_t x = ((const seg *)a)->first_seq, y = ((const seg *)b)->first_seq;
    return x < y ? -1 : x > y;
}

/* Index of the first segment holding a record >= seq; nsegs if none. Relies
 * on end_seq never decreasing along the list. */
static size_t seg_find(const sr_spool *sp, uint64_t seq) {
    size_t lo = 0, hi = sp->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sp->segs[mid].end_seq > seq)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The index only speeds up seeks, so a failed allocation is not an error:
 * the seek walks from an earlier entry. */
static void index_add(seg *s, uint64_t seq, uint64_t off) {
    if (s->nidx && off < s->idx[s->nidx - 1].off + INDEX_STRIDE)
        return;
    seg_index *x = sr_array_grow(s->idx, &s->idx_cap, s->nidx + 1, sizeof *x, 16);
    if (!x)
        return;
    s->idx = x;
    s->idx[s->nidx++] = (seg_index){seq, off};
}

/* Moves `at` forward to the last indexed record at or before `target`. */
static void index_seek(const seg *s, uint64_t target, spos *at) {
    size_t lo = 0, hi = s->nidx;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->idx[mid].seq <= target)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo && s->idx[lo - 1].seq > at->seq) {
        at->seq = s->idx[lo - 1].seq;
        at->off = s->idx[lo - 1].off;
    }
}

static int grow_scratch(sr_spool *sp, size_t need, char *err, size_t errlen) {
    unsigned char *p = realloc(sp->scratch, need);
    if (!p) {
        sr_set_err(err, errlen, "out of memory (%zu-byte read buffer)", need);
        return -1;
    }
    sp->scratch = p;
    sp->scratch_cap = need;
    return 0;
}

/* Makes sp->scratch hold file bytes [off, off + need), reading as much as
 * fits below `limit` in one pread. The window is [*base, *base + *len). */
static int window(sr_spool *sp, int fd, uint64_t *base, uint64_t *len, uint64_t off, size_t need,
                  uint64_t limit, char *err, size_t errlen) {
    if (*len && off >= *base && off + need <= *base + *len)
        return 0;
    if (need > sp->scratch_cap && grow_scratch(sp, need, err, errlen) < 0)
        return -1;
    size_t want = sp->scratch_cap;
    if (limit - off < want)
        want = (size_t)(limit - off);
    ssize_t got = pread_full(fd, sp->scratch, want, off);
    if (got < 0 || (size_t)got < need) {
        sr_set_err(err, errlen, "%s: read at offset %" PRIu64 ": %s", sp->dir, off,
                   got < 0 ? strerror(errno) : "file shorter than expected");
        return -1;
    }
    *base = off;
    *len = (uint64_t)got;
    return 0;
}

/* Why a record header is not the one expected at this place, or NULL. */
static const char *check_header(const unsigned char *h, uint64_t seq, uint64_t room) {
    uint32_t len = get_le32(h);
    if (get_le64(h + 8) != seq)
        return "sequence mismatch";
    if (len > SR_SPOOL_RECORD_MAX || room - REC_HDR < len)
        return "length out of bounds";
    return NULL;
}

/* Opens a read descriptor for segment i; the newest is read through wfd. */
static int seg_fd(sr_spool *sp, size_t i, char *err, size_t errlen) {
    seg *s = &sp->segs[i];
    if (i + 1 == sp->nsegs)
        return sp->wfd;
    if (sp->rfd >= 0 && sp->rfd_seg == s->first_seq)
        return sp->rfd;
    char name[NAME_LEN];
    seg_name(name, s->first_seq, "");
    int fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sr_set_err(err, errlen, "%s/%s: %s", sp->dir, name, strerror(errno));
        return -1;
    }
    if (sp->rfd >= 0)
        close(sp->rfd);
    sp->rfd = fd;
    sp->rfd_seg = s->first_seq;
    return fd;
}

/* A bad record met after recovery (media damage): the rest of the segment
 * is skipped, as recovery does for older segments. */
static void cut_segment(sr_spool *sp, size_t i, uint64_t off, uint64_t seq, const char *why) {
    seg *s = &sp->segs[i];
    uint64_t lost = s->end_seq - seq;
    sr_warn("spool",
            "%s: segment %020" PRIu64 ": %s at offset %" PRIu64 " (seq %" PRIu64
            "): skipping %" PRIu64 " records",
            sp->dir, s->first_seq, why, off, seq, lost);
    s->end_seq = seq;
    s->size = off;
    while (s->nidx && s->idx[s->nidx - 1].seq >= seq)
        s->nidx--;
    sp->lost_records += lost;
    if (i + 1 == sp->nsegs)
        sp->must_roll = 1; /* never append behind the damage */
}

/* Walks record headers of segment i from `at` to `target` (no CRC: records
 * were checked when written or recovered). 1 when damage cut the segment. */
static int walk(sr_spool *sp, size_t i, uint64_t target, spos *at, char *err, size_t errlen) {
    seg *s = &sp->segs[i];
    int fd = seg_fd(sp, i, err, errlen);
    if (fd < 0)
        return -1;
    uint64_t base = 0, len = 0;
    while (at->seq < target) {
        const char *why = "record missing";
        if (s->size - at->off >= REC_HDR) {
            if (window(sp, fd, &base, &len, at->off, REC_HDR, s->size, err, errlen) < 0)
                return -1;
            why = check_header(sp->scratch + (at->off - base), at->seq, s->size - at->off);
        }
        if (why) {
            cut_segment(sp, i, at->off, at->seq, why);
            return 1;
        }
        at->off += REC_HDR + get_le32(sp->scratch + (at->off - base));
        at->seq++;
    }
    return 0;
}

/* Finds the first record with seq >= target: segment *si (nsegs if none)
 * and its position. */
static int locate(sr_spool *sp, uint64_t target, size_t *si, spos *at, char *err, size_t errlen) {
    for (;;) {
        size_t i = seg_find(sp, target);
        *si = i;
        if (i == sp->nsegs) {
            *at = (spos){0, 0, sp->next_seq};
            return 0;
        }
        seg *s = &sp->segs[i];
        *at = (spos){s->first_seq, SEG_HDR, s->first_seq};
        if (target <= s->first_seq)
            return 0;
        index_seek(s, target, at);
        const spos *h = &sp->hint;
        if (h->seg_first == s->first_seq && h->seq <= target && h->seq > at->seq)
            *at = *h;
        int rc = walk(sp, i, target, at, err, errlen);
        if (rc <= 0)
            return rc;
        /* The segment was cut short: the target now lies further on. */
    }
}

/* ---- cursor file ----------------------------------------------------------- */

/* 1 with *out set, 0 when there is no cursor file, -1 (reason in `why`) when
 * it cannot be trusted. */
static int read_cursor(sr_spool *sp, uint64_t *out, char *why, size_t whylen) {
    int fd = openat(sp->dirfd, CURSOR_NAME, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0) {
        sr_set_err(why, whylen, "open: %s", strerror(errno));
        return -1;
    }
    unsigned char b[CURSOR_BYTES + 1]; /* one more, to notice a longer file */
    ssize_t got = pread_full(fd, b, sizeof b, 0);
    int saved = errno;
    close(fd);
    if (got < 0) {
        sr_set_err(why, whylen, "read: %s", strerror(saved));
        return -1;
    }
    if (got != CURSOR_BYTES) {
        sr_set_err(why, whylen, "%zd bytes, expected %d", got, CURSOR_BYTES);
        return -1;
    }
    if (memcmp(b, cursor_magic, 4) != 0 || get_le32(b + 4) != crc32c(sp, 0, b + 8, 8)) {
        sr_set_err(why, whylen, "bad magic or checksum");
        return -1;
    }
    *out = get_le64(b + 8);
    if (*out >= SEQ_LIMIT) { /* 0 is a cursor before anything was appended */
        sr_set_err(why, whylen, "sequence number %" PRIu64 " out of range", *out);
        return -1;
    }
    return 1;
}

/* Replaces the cursor file atomically (temp file, then rename), so a crash
 * leaves the old or the new one. The caller syncs the directory. */
static int write_cursor(sr_spool *sp, int durable, char *err, size_t errlen) {
    unsigned char b[CURSOR_BYTES];
    memcpy(b, cursor_magic, 4);
    put_le64(b + 8, sp->cursor);
    put_le32(b + 4, crc32c(sp, 0, b + 8, 8));
    const char *what = "open";
    int fd = openat(sp->dirfd, CURSOR_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        goto fail;
    what = "write";
    if (pwrite_full(fd, b, sizeof b, 0) < 0)
        goto fail;
    what = "fdatasync";
    if (durable && fdatasync(fd) < 0)
        goto fail;
    what = "close";
    int rc = close(fd);
    fd = -1;
    if (rc < 0)
        goto fail;
    what = "rename";
    if (renameat(sp->dirfd, CURSOR_TMP, sp->dirfd, CURSOR_NAME) < 0)
        goto fail;
    return 0;

fail:
    sr_set_err(err, errlen, "%s/%s: %s: %s", sp->dir, CURSOR_TMP, what, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlinkat(sp->dirfd, CURSOR_TMP, 0);
    return -1;
}

/* ---- recovery ------------------------------------------------------------ */

static int open_dir(sr_spool *sp, char *err, size_t errlen) {
    if (sr_mkdir_p(sp->dir, 0, sp->conf.fsync != SR_FSYNC_NEVER ? fsync_parent : NULL, err,
                   errlen) < 0)
        return -1;
    sp->dirfd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dirfd < 0) {
        sr_set_err(err, errlen, "%s: %s", sp->dir, strerror(errno));
        return -1;
    }
    /* Two writers would interleave records; the lock goes with dirfd. */
    if (flock(sp->dirfd, LOCK_EX | LOCK_NB) < 0) {
        sr_set_err(err, errlen, "%s: %s", sp->dir,
                   errno == EWOULDBLOCK ? "spool already open (locked)" : strerror(errno));
        return -1;
    }
    if (unlinkat(sp->dirfd, CURSOR_TMP, 0) < 0 && errno != ENOENT)
        sr_warn("spool", "%s/%s: %s", sp->dir, CURSOR_TMP, strerror(errno));
    struct stat st;
    if (fstatat(sp->dirfd, SPARE_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
        sp->have_spare = 1;
        sp->spare_bytes = (uint64_t)st.st_size;
    }
    return 0;
}

static int list_segments(sr_spool *sp, char *err, size_t errlen) {
    int fd = openat(sp->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        sr_set_err(err, errlen, "%s: %s", sp->dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t first;
        if (parse_seg_name(de->d_name, &first) < 0)
            continue;
        if (!seg_push(sp, first)) {
            sr_set_err(err, errlen, "out of memory");
            rc = -1;
            break;
        }
    }
    closedir(d);
    if (sp->nsegs)
        qsort(sp->segs, sp->nsegs, sizeof *sp->segs, cmp_seg);
    return rc;
}

static void load_cursor(sr_spool *sp, sr_spool_recovery *rep) {
    char why[160];
    int rc = read_cursor(sp, &sp->cursor, why, sizeof why);
    if (rc >= 0) {
        if (rc == 0)
            sp->cursor = 0;
        return;
    }
    /* At least once: resending delivered records beats skipping others. */
    sr_warn("spool", "%s/%s unreadable (%s): resending from the oldest record", sp->dir,
            CURSOR_NAME, why);
    sp->cursor = 0;
    rep->cursor_reset = 1;
}

/* Keeps an older segment's file as the spare when there is none. Filling a
 * new file makes the filesystem allocate blocks and page-cache pages for
 * every byte (and free them again on unlink); overwriting a delivered
 * segment, whose pages are likely still cached, is little more than a
 * memcpy. Returns 1 if kept, 0 if the caller should unlink. */
static int keep_as_spare(sr_spool *sp, size_t i, const char *name) {
    struct stat st;
    if (sp->have_spare || i + 1 >= sp->nsegs)
        return 0; /* one spare is enough; the newest segment is never retired */
    if (fstatat(sp->dirfd, name, &st, 0) < 0 || !S_ISREG(st.st_mode) ||
        renameat(sp->dirfd, name, sp->dirfd, SPARE_NAME) < 0)
        return 0;
    sp->have_spare = 1;
    sp->spare_bytes = (uint64_t)st.st_size;
    return 1;
}

static int unlink_segment(sr_spool *sp, size_t i, char *err, size_t errlen) {
    char name[NAME_LEN];
    seg_name(name, sp->segs[i].first_seq, "");
    if (!keep_as_spare(sp, i, name) && unlinkat(sp->dirfd, name, 0) < 0 && errno != ENOENT) {
        sr_set_err(err, errlen, "%s/%s: unlink: %s", sp->dir, name, strerror(errno));
        return -1;
    }
    if (sp->rfd >= 0 && sp->rfd_seg == sp->segs[i].first_seq) {
        close(sp->rfd);
        sp->rfd = -1;
    }
    seg_remove(sp, i);
    sp->dir_dirty = 1;
    return 0;
}

/* Segments left behind by a crash between the cursor write and their
 * deletion: delete them before spending a scan on them. */
static int drop_delivered(sr_spool *sp, char *err, size_t errlen) {
    while (sp->nsegs > 1 && sp->segs[1].first_seq <= sp->cursor)
        if (unlink_segment(sp, 0, err, errlen) < 0)
            return -1;
    return 0;
}

typedef struct scan_bad {
    int bad;
    const char *why;
} scan_bad;

/* Verifies segment records from the header on, filling end_seq, size and
 * the index; stops at the first bad record (reported in *bad). */
static int scan_segment(sr_spool *sp, int fd, seg *s, uint64_t fsize, uint64_t limit_seq,
                        scan_bad *bad, char *err, size_t errlen) {
    uint64_t off = SEG_HDR, seq = s->first_seq, base = 0, len = 0;
    bad->bad = 0;
    s->nidx = 0;
    while (off < fsize) {
        const char *why = "partial header";
        if (fsize - off >= REC_HDR) {
            if (window(sp, fd, &base, &len, off, REC_HDR, fsize, err, errlen) < 0)
                return -1;
            why = check_header(sp->scratch + (off - base), seq, fsize - off);
            if (!why && seq >= limit_seq)
                why = "sequence overlaps the next segment";
        }
        uint32_t rlen = 0;
        if (!why) {
            rlen = get_le32(sp->scratch + (off - base));
            if (window(sp, fd, &base, &len, off, REC_HDR + (size_t)rlen, fsize, err, errlen) < 0)
                return -1;
            const unsigned char *h = sp->scratch + (off - base);
            uint32_t rec_len;
            if (record_crc(sp, h, h + REC_HDR, rlen) != get_le32(h + 4))
                why = "checksum mismatch";
            else
                why = split_payload(s->version, h + REC_HDR, rlen, &rec_len);
        }
        if (why) {
            bad->bad = 1;
            bad->why = why;
            break;
        }
        index_add(s, seq, off);
        off += REC_HDR + rlen;
        seq++;
    }
    s->size = off;
    s->end_seq = seq;
    return 0;
}

/* How many (partial) records a damaged tail held, following length fields
 * while they stay plausible; at least one. */
static uint64_t count_torn(int fd, uint64_t off, uint64_t seq, uint64_t fsize) {
    uint64_t n = 0;
    while (off < fsize && n < TORN_HOPS_MAX) {
        unsigned char h[REC_HDR];
        n++;
        if (fsize - off < REC_HDR || pread_full(fd, h, REC_HDR, off) != REC_HDR)
            break;
        uint32_t len = get_le32(h);
        if (get_le64(h + 8) != seq || fsize - off - REC_HDR < len)
            break;
        off += REC_HDR + len;
        seq++;
    }
    return n;
}

/* The newest segment ends in a torn write (or damage): cut it there so
 * appends continue right after the last good record. */
static void cut_tail(sr_spool *sp, int fd, seg *s, uint64_t fsize, const char *why,
                     sr_spool_recovery *rep) {
    uint64_t torn = count_torn(fd, s->size, s->end_seq, fsize);
    sr_warn("spool",
            "%s: segment %020" PRIu64 ": %s at offset %" PRIu64 " (seq %" PRIu64
            "): truncating %" PRIu64 " bytes, %" PRIu64 " record(s)",
            sp->dir, s->first_seq, why, s->size, s->end_seq, fsize - s->size, torn);
    rep->torn_records += torn;
    rep->bytes_truncated += fsize - s->size;
    if (ftruncate(fd, (off_t)s->size) < 0) {
        /* Appending behind the damage would bury new records: roll instead
         * (open_active notices the size mismatch). */
        sr_warn("spool", "%s: segment %020" PRIu64 ": truncate: %s", sp->dir, s->first_seq,
                strerror(errno));
        return;
    }
    if (sp->conf.fsync != SR_FSYNC_NEVER)
        (void)fdatasync(fd);
}

/* Damage inside an older segment: its remaining records are lost. */
static void skip_rest(sr_spool *sp, const seg *s, uint64_t limit_seq, const char *why,
                      sr_spool_recovery *rep) {
    uint64_t lost = limit_seq > s->end_seq ? limit_seq - s->end_seq : 0;
    sr_warn("spool",
            "%s: segment %020" PRIu64 ": %s at offset %" PRIu64 " (seq %" PRIu64
            "): skipping to the next segment, %" PRIu64 " records lost",
            sp->dir, s->first_seq, why, s->size, s->end_seq, lost);
    rep->lost_records += lost;
    rep->corrupt_segments++;
    sp->lost_records += lost;
}

/* An unreadable header: keep the file for an operator, under a name the
 * spool ignores. Returns 1 (segment gone from the list) or -1. */
static int set_aside(sr_spool *sp, size_t i, sr_spool_recovery *rep, char *err, size_t errlen) {
    char name[NAME_LEN], aside[NAME_LEN];
    seg *s = &sp->segs[i];
    seg_name(name, s->first_seq, "");
    seg_name(aside, s->first_seq, ".corrupt");
    uint64_t lost = i + 1 < sp->nsegs ? sp->segs[i + 1].first_seq - s->first_seq : 0;
    sr_warn("spool", "%s/%s: bad segment header: renamed to %s, %" PRIu64 " records lost", sp->dir,
            name, aside, lost);
    if (renameat(sp->dirfd, name, sp->dirfd, aside) < 0) {
        sr_set_err(err, errlen, "%s/%s: rename: %s", sp->dir, name, strerror(errno));
        return -1;
    }
    rep->lost_records += lost;
    rep->corrupt_segments++;
    sp->lost_records += lost;
    seg_remove(sp, i);
    sp->dir_dirty = 1;
    return 1;
}

/* Recovers segment i: 0 kept, 1 set aside, -1 error. */
static int recover_segment(sr_spool *sp, size_t i, sr_spool_recovery *rep, char *err,
                           size_t errlen) {
    seg *s = &sp->segs[i];
    int last = i + 1 == sp->nsegs;
    uint64_t limit = last ? UINT64_MAX : sp->segs[i + 1].first_seq;
    char name[NAME_LEN];
    seg_name(name, s->first_seq, "");
    int fd = openat(sp->dirfd, name, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        sr_set_err(err, errlen, "%s/%s: %s", sp->dir, name, strerror(errno));
        goto fail;
    }
    uint64_t fsize = (uint64_t)st.st_size;
    if (last && fsize < SEG_HDR) {
        /* Crashed between creating the segment and writing its header. */
        if (ftruncate(fd, 0) < 0 || write_seg_header(fd, s->first_seq) < 0) {
            sr_set_err(err, errlen, "%s/%s: rewrite header: %s", sp->dir, name, strerror(errno));
            goto fail;
        }
        rep->bytes_truncated += fsize;
        close(fd);
        return 0;
    }
    if (fsize < SEG_HDR || !(s->version = seg_header_version(fd, s->first_seq))) {
        close(fd);
        return set_aside(sp, i, rep, err, errlen);
    }
    scan_bad bad;
    if (scan_segment(sp, fd, s, fsize, limit, &bad, err, errlen) < 0)
        goto fail;
    rep->records += s->end_seq - s->first_seq;
    if (bad.bad && last)
        cut_tail(sp, fd, s, fsize, bad.why, rep);
    else if (bad.bad)
        skip_rest(sp, s, limit, bad.why, rep);
    close(fd);
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

static int recover_segments(sr_spool *sp, sr_spool_recovery *rep, char *err, size_t errlen) {
    for (size_t i = 0; i < sp->nsegs;) {
        int rc = recover_segment(sp, i, rep, err, errlen);
        if (rc < 0)
            return -1;
        if (rc == 0)
            i++;
    }
    return 0;
}

static int open_active(sr_spool *sp, char *err, size_t errlen) {
    seg *s = last_seg(sp);
    if (!s)
        return 0;
    char name[NAME_LEN];
    seg_name(name, s->first_seq, "");
    struct stat st;
    sp->wfd = openat(sp->dirfd, name, O_RDWR | O_CLOEXEC);
    if (sp->wfd < 0 || fstat(sp->wfd, &st) < 0) {
        sr_set_err(err, errlen, "%s/%s: %s", sp->dir, name, strerror(errno));
        return -1;
    }
    /* Bytes past the valid end (a cut we could not truncate, or damage in
     * what was an older segment) must stay behind the next append; a
     * version-1 segment (an older release's) only takes records of its
     * own format, so appends start a version-2 one. */
    if ((uint64_t)st.st_size != s->size || s->version != SEG_VERSION)
        sp->must_roll = 1;
    return 0;
}

/* Derives next_seq and normalizes the cursor once the segments are known. */
static void settle_sequences(sr_spool *sp) {
    seg *s = last_seg(sp);
    sp->next_seq = s && s->end_seq > 1 ? s->end_seq : 1;
    if (sp->cursor > sp->next_seq) {
        /* Appended data was lost but the cursor was not (INTERVAL/NEVER):
         * numbers below the cursor are spent, and within a segment they
         * must stay contiguous. */
        sp->next_seq = sp->cursor;
        if (s)
            sp->must_roll = 1;
    }
    uint64_t oldest = sp->nsegs ? sp->segs[0].first_seq : sp->next_seq;
    if (sp->cursor < oldest)
        sp->cursor = oldest;
    sp->durable_seq = sp->next_seq; /* recovery read it back from disk */
}

static void conf_init(sr_spool_conf *c, const sr_spool_conf *in) {
    if (in)
        *c = *in;
    else
        memset(c, 0, sizeof *c);
    if (!c->segment_bytes)
        c->segment_bytes = SR_SPOOL_SEGMENT_BYTES_DEFAULT;
    if (!c->fsync_interval_ms)
        c->fsync_interval_ms = SR_SPOOL_FSYNC_INTERVAL_MS_DEFAULT;
}

static void spool_free(sr_spool *sp) {
    if (sp->wfd >= 0)
        close(sp->wfd);
    if (sp->rfd >= 0)
        close(sp->rfd);
    if (sp->dirfd >= 0)
        close(sp->dirfd); /* releases the flock */
    for (size_t i = 0; i < sp->nsegs; i++)
        free(sp->segs[i].idx);
    free(sp->segs);
    free(sp->scratch);
    free(sp->dir);
    free(sp);
}

static void update_cursor_pos(sr_spool *sp);

sr_spool *sr_spool_open(const char *dir, const sr_spool_conf *conf, sr_spool_recovery *report,
                        char *err, size_t errlen) {
    sr_spool_recovery rep;
    memset(&rep, 0, sizeof rep);
    sr_spool *sp = calloc(1, sizeof *sp);
    if (!sp) {
        sr_set_err(err, errlen, "out of memory");
        return NULL;
    }
    sp->dirfd = sp->wfd = sp->rfd = -1;
    conf_init(&sp->conf, conf);
    crc32c_init(sp);
    if ((unsigned)sp->conf.fsync > SR_FSYNC_NEVER) {
        sr_set_err(err, errlen, "%s: unknown fsync policy %d", dir, (int)sp->conf.fsync);
        goto fail;
    }
    sp->dir = strdup(dir);
    sp->scratch = malloc(SCRATCH_BYTES);
    sp->scratch_cap = SCRATCH_BYTES;
    if (!sp->dir || !sp->scratch) {
        sr_set_err(err, errlen, "out of memory");
        goto fail;
    }
    if (open_dir(sp, err, errlen) < 0 || list_segments(sp, err, errlen) < 0)
        goto fail;
    load_cursor(sp, &rep);
    if (drop_delivered(sp, err, errlen) < 0 || recover_segments(sp, &rep, err, errlen) < 0 ||
        open_active(sp, err, errlen) < 0)
        goto fail;
    settle_sequences(sp);
    update_cursor_pos(sp);
    if (sp->dir_dirty && sp->conf.fsync != SR_FSYNC_NEVER && fsync(sp->dirfd) == 0)
        sp->dir_dirty = 0;
    /* A huge record may have grown the scan buffer; do not keep it (if the
     * shrink fails, the larger buffer simply stays). */
    if (sp->scratch_cap > SCRATCH_BYTES)
        (void)grow_scratch(sp, SCRATCH_BYTES, NULL, 0);
    rep.segments = sp->nsegs;
    sr_spool_info info;
    sr_spool_stats(sp, &info);
    rep.pending = info.pending_records;
    if (report)
        *report = rep;
    return sp;

fail:
    spool_free(sp);
    return NULL;
}

/* ---- append ---------------------------------------------------------------- */

/* Deletes older segments the cursor left fully delivered. The newest stays
 * (it takes the appends); a failed unlink is retried on the next ack. */
static void reclaim(sr_spool *sp) {
    char e[256];
    while (sp->nsegs > 1 && sp->segs[0].end_seq <= sp->cursor)
        if (unlink_segment(sp, 0, e, sizeof e) < 0) {
            sr_warn("spool", "%s", e);
            return;
        }
}

static int need_roll(const sr_spool *sp, uint64_t bytes) {
    if (sp->nsegs == 0 || sp->must_roll)
        return 1;
    const seg *s = &sp->segs[sp->nsegs - 1];
    return s->size > SEG_HDR && s->size + bytes > sp->conf.segment_bytes;
}

/* A reused file still holds its previous records past the valid end: cut
 * them off before the segment stops being the newest (recovery treats bad
 * bytes inside an older segment as damage) or the spool closes. Failure
 * only costs a warning at the next recovery; the valid records are intact. */
static void trim_reused(sr_spool *sp) {
    const seg *s = last_seg(sp);
    if (!sp->wfd_reused || sp->wfd < 0 || !s)
        return;
    if (ftruncate(sp->wfd, (off_t)s->size) < 0)
        sr_warn("spool", "%s: segment %020" PRIu64 ": truncate: %s", sp->dir, s->first_seq,
                strerror(errno));
    else
        sp->data_dirty = 1; /* the new size goes with the next data sync */
    sp->wfd_reused = 0;
}

/* Opens the spare under `name` with a fresh header, or returns -1 (then the
 * caller creates the file). The header is written before the rename, so a
 * crash leaves either a spare or a valid segment, never a misnamed one. */
static int take_spare(sr_spool *sp, const char *name) {
    if (!sp->have_spare)
        return -1;
    sp->have_spare = 0;
    int fd = openat(sp->dirfd, SPARE_NAME, O_RDWR | O_CLOEXEC);
    if (fd >= 0 && write_seg_header(fd, sp->next_seq) == 0 &&
        renameat2(sp->dirfd, SPARE_NAME, sp->dirfd, name, RENAME_NOREPLACE) == 0)
        return fd;
    sr_warn("spool", "%s: cannot reuse %s (%s): creating a new segment", sp->dir, SPARE_NAME,
            strerror(errno));
    if (fd >= 0)
        close(fd);
    unlinkat(sp->dirfd, SPARE_NAME, 0);
    return -1;
}

/* Starts a segment named for next_seq and makes it the one appended to. */
static int roll(sr_spool *sp, char *err, size_t errlen) {
    trim_reused(sp);
    /* Older segments are never written again: syncing the outgoing one now
     * (once per segment) leaves INTERVAL syncs only the newest to care for. */
    if (sp->wfd >= 0 && sp->data_dirty && sp->conf.fsync != SR_FSYNC_NEVER) {
        if (fdatasync(sp->wfd) < 0) {
            sr_set_err(err, errlen, "%s: fdatasync: %s", sp->dir, strerror(errno));
            return -1;
        }
        sp->data_dirty = 0;
    }
    seg *l = last_seg(sp);
    if (l && l->first_seq == sp->next_seq) {
        /* Only damage rolls a segment that holds no valid record (one we
         * could not truncate): replace it rather than collide with its name. */
        close(sp->wfd);
        sp->wfd = -1;
        if (unlink_segment(sp, sp->nsegs - 1, err, errlen) < 0)
            return -1;
    }
    char name[NAME_LEN];
    seg_name(name, sp->next_seq, "");
    int fd = take_spare(sp, name);
    int reused = fd >= 0;
    if (!reused)
        fd = openat(sp->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        sr_set_err(err, errlen, "%s/%s: create: %s", sp->dir, name, strerror(errno));
        return -1;
    }
    if ((!reused && write_seg_header(fd, sp->next_seq) < 0) || !seg_push(sp, sp->next_seq)) {
        sr_set_err(err, errlen, "%s/%s: %s", sp->dir, name, strerror(errno));
        close(fd);
        unlinkat(sp->dirfd, name, 0);
        return -1;
    }
    if (sp->wfd >= 0)
        close(sp->wfd);
    sp->wfd = fd;
    sp->wfd_reused = reused;
    sp->must_roll = 0;
    sp->data_dirty = 1;
    sp->dir_dirty = 1;
    reclaim(sp);
    if (sp->conf.fsync == SR_FSYNC_ALWAYS) {
        if (fsync(sp->dirfd) < 0) {
            sr_set_err(err, errlen, "%s: fsync: %s", sp->dir, strerror(errno));
            return -1;
        }
        sp->dir_dirty = 0;
    }
    return 0;
}

/* The event stored with record i (0 bytes: none). */
static uint32_t event_len(const char *const *events, const uint32_t *event_lens, size_t i) {
    return events && events[i] ? event_lens[i] : 0;
}

/* A version-2 payload's size on disk. */
static uint64_t payload_len(uint32_t rec_len, uint32_t ev_len) {
    return (uint64_t)PAYLOAD_HDR + rec_len + ev_len;
}

/* Writes records at the end of the newest segment: framing (with the
 * record's length) built in sp->hdrs, records and events straight from the
 * caller, one pwritev per WRITE_RECS. */
static int write_records(sr_spool *sp, const char *const *recs, const uint32_t *lens,
                         const char *const *events, const uint32_t *event_lens, size_t n, char *err,
                         size_t errlen) {
    const seg *s = &sp->segs[sp->nsegs - 1];
    uint64_t off = s->size, seq = sp->next_seq;
    for (size_t i = 0; i < n;) {
        int cnt = 0;
        uint64_t chunk = 0;
        for (size_t k = 0; k < WRITE_RECS && i < n; k++, i++, seq++) {
            unsigned char *h = sp->hdrs[k];
            uint32_t elen = event_len(events, event_lens, i);
            uint32_t plen = (uint32_t)payload_len(lens[i], elen);
            put_le32(h, plen);
            put_le64(h + 8, seq);
            put_le32(h + REC_HDR, lens[i]);
            /* The CRC covers length, sequence and the whole payload. */
            uint32_t c = crc32c(sp, 0, h, 4);
            c = crc32c(sp, c, h + 8, 8 + PAYLOAD_HDR);
            c = crc32c(sp, c, recs[i], lens[i]);
            if (elen)
                c = crc32c(sp, c, events[i], elen);
            put_le32(h + 4, c);
            sp->iov[cnt++] = (struct iovec){h, REC_HDR + PAYLOAD_HDR};
            if (lens[i])
                sp->iov[cnt++] = (struct iovec){(void *)recs[i], lens[i]};
            if (elen)
                sp->iov[cnt++] = (struct iovec){(void *)events[i], elen};
            chunk += REC_HDR + plen;
        }
        if (pwritev_full(sp->wfd, sp->iov, cnt, off) < 0) {
            sr_set_err(err, errlen, "%s: segment %020" PRIu64 ": write: %s", sp->dir, s->first_seq,
                       strerror(errno));
            return -1;
        }
        off += chunk;
    }
    return 0;
}

/* Takes a failed batch back out. It was never acknowledged, so dropping it
 * is safe; what matters is that no later record lands behind half of it. */
static void rollback(sr_spool *sp, uint64_t size, size_t n) {
    if (ftruncate(sp->wfd, (off_t)size) == 0)
        return;
    sr_warn("spool", "%s: cannot take back a failed append (%s): starting a new segment", sp->dir,
            strerror(errno));
    /* What was written keeps its numbers, so nothing later reuses them. */
    sp->next_seq += n;
    sp->must_roll = 1;
}

static void commit(sr_spool *sp, const uint32_t *lens, const char *const *events,
                   const uint32_t *event_lens, size_t n) {
    seg *s = &sp->segs[sp->nsegs - 1];
    for (size_t i = 0; i < n; i++) {
        index_add(s, s->end_seq, s->size);
        s->size += REC_HDR + payload_len(lens[i], event_len(events, event_lens, i));
        s->end_seq++;
    }
    sp->next_seq += n;
}

int sr_spool_append(sr_spool *sp, const char *const *recs, const uint32_t *lens,
                    const char *const *events, const uint32_t *event_lens, size_t n,
                    uint64_t *first_seq, char *err, size_t errlen) {
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t plen = payload_len(lens[i], event_len(events, event_lens, i));
        if (plen > SR_SPOOL_RECORD_MAX) {
            sr_set_err(err, errlen,
                       "record of %" PRIu32 " bytes with its event (%" PRIu64
                       " bytes in all) exceeds the %" PRIu32 "-byte limit",
                       lens[i], plen, SR_SPOOL_RECORD_MAX);
            return -1;
        }
        bytes += REC_HDR + plen;
    }
    if (n == 0) {
        if (first_seq)
            *first_seq = sp->next_seq;
        return 0;
    }
    if (need_roll(sp, bytes) && roll(sp, err, errlen) < 0)
        return -1;
    uint64_t size = sp->segs[sp->nsegs - 1].size;
    if (write_records(sp, recs, lens, events, event_lens, n, err, errlen) < 0)
        goto fail;
    if (sp->conf.fsync == SR_FSYNC_ALWAYS && fdatasync(sp->wfd) < 0) {
        sr_set_err(err, errlen, "%s: fdatasync: %s", sp->dir, strerror(errno));
        goto fail;
    }
    if (first_seq)
        *first_seq = sp->next_seq;
    commit(sp, lens, events, event_lens, n);
    if (sp->conf.fsync != SR_FSYNC_ALWAYS)
        sp->data_dirty = 1;
    if (sp->conf.fsync != SR_FSYNC_INTERVAL)
        sp->durable_seq = sp->next_seq;
    return 0;

fail:
    rollback(sp, size, n);
    return -1;
}

/* ---- read -------------------------------------------------------------------- */

void sr_spool_batch_free(sr_spool_batch *b) {
    free(b->recs);
    sr_buf_free(&b->buf);
    memset(b, 0, sizeof *b);
}

static int push_record(sr_spool_batch *out, uint64_t seq, size_t off, uint32_t len, uint32_t ev_len,
                       uint32_t stored) {
    sr_spool_record *r = sr_array_grow(out->recs, &out->cap, out->n + 1, sizeof *r, 64);
    if (!r)
        return -1;
    out->recs = r;
    out->recs[out->n++] = (sr_spool_record){
        .seq = seq, .len = len, .event_len = ev_len, .stored = stored, .off = off};
    out->bytes += len;
    out->stored += stored;
    return 0;
}

/* The budget a read has left, for sizing one pread of the region ahead. */
typedef struct read_budget {
    size_t max_records, max_bytes;
} read_budget;

/* Payload bytes on disk the rest of the budget likely covers: the budget
 * counts records, and version-2 payloads carry events too (guessed as large
 * as their records until some were read). */
static uint64_t ahead_bytes(const seg *s, const sr_spool_batch *out, const read_budget *b) {
    uint64_t left = b->max_bytes > out->bytes ? b->max_bytes - out->bytes : 0;
    if (s->version == SEG_VERSION_1 || left >= s->size)
        return left;
    if (!out->bytes)
        return 2 * left;
    return (uint64_t)((double)left * (double)out->stored / (double)out->bytes);
}

/* Extends the region of segment `s` held in out->buf (file bytes from
 * `rbase`, ending at *rend) to at least `need_end`, reading ahead as far as
 * the budget could use, so a typical read is a single pread. */
static int extend(sr_spool *sp, int fd, const seg *s, sr_spool_batch *out, uint64_t *rend,
                  uint64_t at, uint64_t need_end, const read_budget *b, char *err, size_t errlen) {
    if (need_end <= *rend)
        return 0;
    size_t recs_left = b->max_records - out->n;
    uint64_t ahead =
        ahead_bytes(s, out, b) + (uint64_t)(REC_HDR + PAYLOAD_HDR) *
                                     (recs_left < READ_AHEAD_HDRS ? recs_left : READ_AHEAD_HDRS);
    uint64_t end = s->size - at < ahead ? s->size : at + ahead;
    if (end < need_end)
        end = need_end;
    size_t want = (size_t)(end - *rend);
    if (sr_buf_reserve(&out->buf, want) < 0) {
        sr_set_err(err, errlen, "out of memory (%zu-byte read)", want);
        return -1;
    }
    ssize_t got = pread_full(fd, out->buf.data + out->buf.len, want, *rend);
    if (got < 0 || (size_t)got != want) {
        sr_set_err(err, errlen, "%s: segment %020" PRIu64 ": read: %s", sp->dir, s->first_seq,
                   got < 0 ? strerror(errno) : "file shorter than expected");
        return -1;
    }
    out->buf.len += want;
    *rend = end;
    return 0;
}

/* Reads records of segment i from `at` into `out`. 1 when the segment is
 * exhausted (or cut by damage), 0 when the budget is, -1 on error. */
static int read_segment(sr_spool *sp, size_t i, spos *at, const read_budget *b, sr_spool_batch *out,
                        char *err, size_t errlen) {
    const seg *s = &sp->segs[i];
    int fd = seg_fd(sp, i, err, errlen);
    if (fd < 0)
        return -1;
    /* Version 2: the record's length, ahead of it in the payload. */
    uint32_t pre = s->version == SEG_VERSION_1 ? 0 : PAYLOAD_HDR;
    /* out->buf holds file bytes [rbase, rend) of this segment from bstart. */
    uint64_t rbase = at->off, rend = at->off;
    size_t bstart = out->buf.len;
    while (at->off < s->size) {
        if (out->n == b->max_records)
            return 0;
        const char *why = "record missing";
        uint32_t len = 0, rec_len = 0;
        if (s->size - at->off >= REC_HDR) {
            /* Framing and record length, as far as the segment goes (a
             * damaged length shorter than the prefix is caught below). */
            uint64_t room = s->size - at->off;
            uint64_t need = room < REC_HDR + pre ? room : REC_HDR + pre;
            if (extend(sp, fd, s, out, &rend, at->off, at->off + need, b, err, errlen) < 0)
                return -1;
            const unsigned char *h = (unsigned char *)out->buf.data + bstart + (at->off - rbase);
            why = check_header(h, at->seq, s->size - at->off);
            len = get_le32(h);
            if (!why)
                why = split_payload(s->version, h + REC_HDR, len, &rec_len);
        }
        if (why) {
            cut_segment(sp, i, at->off, at->seq, why);
            return 1;
        }
        /* The budget counts records (what is sent), not the events beside
         * them; a first record larger than max_bytes still goes, alone. */
        if (out->n && out->bytes + rec_len > b->max_bytes)
            return 0;
        if (extend(sp, fd, s, out, &rend, at->off, at->off + REC_HDR + len, b, err, errlen) < 0)
            return -1;
        size_t hpos = bstart + (size_t)(at->off - rbase);
        const unsigned char *h = (unsigned char *)out->buf.data + hpos;
        if (record_crc(sp, h, h + REC_HDR, len) != get_le32(h + 4)) {
            cut_segment(sp, i, at->off, at->seq, "checksum mismatch");
            return 1;
        }
        if (push_record(out, at->seq, hpos + REC_HDR + pre, rec_len, len - pre - rec_len, len) <
            0) {
            sr_set_err(err, errlen, "out of memory");
            return -1;
        }
        at->off += REC_HDR + len;
        at->seq++;
    }
    return 1;
}

int sr_spool_read(sr_spool *sp, uint64_t from_seq, size_t max_records, size_t max_bytes,
                  sr_spool_batch *out, char *err, size_t errlen) {
    out->n = 0;
    out->bytes = out->stored = 0;
    out->buf.len = 0;
    if (from_seq < sp->cursor)
        from_seq = sp->cursor;
    out->next_seq = from_seq;
    if (max_records == 0)
        return 0;
    read_budget b = {max_records, max_bytes};
    size_t i;
    spos at;
    if (locate(sp, from_seq, &i, &at, err, errlen) < 0)
        return -1;
    while (i < sp->nsegs) {
        int rc = read_segment(sp, i, &at, &b, out, err, errlen);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        if (++i < sp->nsegs)
            at = (spos){sp->segs[i].first_seq, SEG_HDR, sp->segs[i].first_seq};
    }
    if (i < sp->nsegs) {
        out->next_seq = at.seq;
        sp->hint = at;
    } else {
        out->next_seq = sp->next_seq;
    }
    /* Pointers only now: the buffer may have moved while growing. */
    for (size_t k = 0; k < out->n; k++) {
        sr_spool_record *r = &out->recs[k];
        r->data = out->buf.data + r->off;
        r->event = r->event_len ? r->data + r->len : NULL;
    }
    return 0;
}

/* ---- ack, sync, stats, close --------------------------------------------- */

static void update_cursor_pos(sr_spool *sp) {
    char e[256];
    size_t i;
    spos at;
    if (locate(sp, sp->cursor, &i, &at, e, sizeof e) < 0) {
        /* Only pending_bytes depends on it: count the whole segment. */
        sr_warn("spool", "%s", e);
        at = (spos){0, 0, sp->cursor};
    }
    sp->cursor_pos = at;
}

int sr_spool_ack(sr_spool *sp, uint64_t upto_seq, char *err, size_t errlen) {
    if (upto_seq <= sp->cursor)
        return 0;
    if (upto_seq > sp->next_seq) {
        sr_set_err(err, errlen, "%s: ack up to %" PRIu64 " is past the last record (%" PRIu64 ")",
                   sp->dir, upto_seq, sp->next_seq - 1);
        return -1;
    }
    sp->cursor = upto_seq;
    update_cursor_pos(sp);
    /* Deleting before the cursor is on disk is safe: a stale cursor below
     * the oldest segment only means "start at the oldest". */
    reclaim(sp);
    sp->cursor_dirty = 1;
    if (sp->conf.fsync != SR_FSYNC_ALWAYS)
        return 0;
    if (write_cursor(sp, 1, err, errlen) < 0)
        return -1;
    sp->cursor_dirty = 0;
    if (fsync(sp->dirfd) < 0) {
        sr_set_err(err, errlen, "%s: fsync: %s", sp->dir, strerror(errno));
        sp->dir_dirty = 1;
        return -1;
    }
    sp->dir_dirty = 0;
    return 0;
}

static int flush(sr_spool *sp, int durable, char *err, size_t errlen) {
    if (durable && sp->data_dirty && sp->wfd >= 0) {
        if (fdatasync(sp->wfd) < 0) {
            sr_set_err(err, errlen, "%s: fdatasync: %s", sp->dir, strerror(errno));
            return -1;
        }
    }
    if (durable) {
        sp->data_dirty = 0;
        sp->durable_seq = sp->next_seq;
    }
    if (sp->cursor_dirty) {
        if (write_cursor(sp, durable, err, errlen) < 0)
            return -1;
        sp->cursor_dirty = 0;
        sp->dir_dirty = 1;
    }
    if (durable && sp->dir_dirty) {
        if (fsync(sp->dirfd) < 0) {
            sr_set_err(err, errlen, "%s: fsync: %s", sp->dir, strerror(errno));
            return -1;
        }
        sp->dir_dirty = 0;
    }
    return 0;
}

int sr_spool_sync(sr_spool *sp, char *err, size_t errlen) { return flush(sp, 1, err, errlen); }

int sr_spool_sync_if_due(sr_spool *sp, uint64_t now_ms, char *err, size_t errlen) {
    int durable = sp->conf.fsync != SR_FSYNC_NEVER;
    if (!sp->cursor_dirty && !(durable && (sp->data_dirty || sp->dir_dirty)))
        return 0;
    if (now_ms >= sp->last_sync_ms && now_ms - sp->last_sync_ms < sp->conf.fsync_interval_ms)
        return 0;
    sp->last_sync_ms = now_ms;
    return flush(sp, durable, err, errlen);
}

void sr_spool_stats(const sr_spool *sp, sr_spool_info *out) {
    memset(out, 0, sizeof *out);
    out->segments = sp->nsegs;
    out->cursor = sp->cursor;
    out->next_seq = sp->next_seq;
    out->durable_seq = sp->durable_seq;
    out->oldest_seq = sp->next_seq;
    out->lost_records = sp->lost_records;
    out->disk_bytes = sp->have_spare ? sp->spare_bytes : 0;
    int seen = 0;
    for (size_t i = 0; i < sp->nsegs; i++) {
        const seg *s = &sp->segs[i];
        out->disk_bytes += s->size;
        if (s->end_seq <= sp->cursor)
            continue;
        uint64_t from = s->first_seq > sp->cursor ? s->first_seq : sp->cursor;
        if (!seen)
            out->oldest_seq = from;
        seen = 1;
        out->pending_records += s->end_seq - from;
        uint64_t off = SEG_HDR;
        if (from > s->first_seq && sp->cursor_pos.seg_first == s->first_seq)
            off = sp->cursor_pos.off;
        out->pending_bytes += s->size > off ? s->size - off : 0;
    }
}

void sr_spool_close(sr_spool *sp) {
    if (!sp)
        return;
    char e[256];
    trim_reused(sp);
    if (flush(sp, sp->conf.fsync != SR_FSYNC_NEVER, e, sizeof e) < 0)
        sr_warn("spool", "%s: close: %s", sp->dir, e);
    spool_free(sp);
}
