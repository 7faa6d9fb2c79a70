/* spool.h - durable, append-only disk queue of one integration's records.
 *
 * The spool sits behind the in-memory delivery queue: encoded records are
 * appended before the sender is acknowledged, read back in order by the
 * delivery loop, and acknowledged (`sr_spool_ack`) once the destination took
 * them. Every record gets a sequence number: 1 for the first record ever
 * appended, then +1 per record, never reused (not even after everything was
 * delivered and the files were deleted: the cursor file remembers it).
 *
 * On disk (see docs/delivery.md, "Disk spool"), a spool is one directory:
 *
 *   NNNNNNNNNNNNNNNNNNNN.seg  segment files, named for the sequence number
 *                             of their first record (20 digits, zero-padded)
 *   cursor                    the oldest undelivered sequence number
 *   cursor.tmp                transient; a leftover is removed on open
 *   spare                     a delivered segment's file kept for reuse:
 *                             the next roll overwrites it instead of
 *                             creating a file (see "Reuse" below)
 *   NNN...N.seg.corrupt       a segment set aside because its header is
 *                             unreadable; kept for an operator, never read
 *
 * A segment is a 16-byte header ("SRSP", u32 version, u64 first sequence)
 * followed by records framed as
 *
 *   [u32 length][u32 CRC-32C][u64 sequence][payload: length bytes]
 *
 * The version says what a payload holds. Version 2 (what appends write):
 *
 *   [u32 record length][record][event: the rest, possibly empty]
 *
 * the encoded record and the raw text of the event it was built from, kept
 * so a record the platform rejects can be rebuilt from its event after a
 * fix (deadletter_replay.h). Version 1 (releases before events were kept):
 * the payload is the record alone. Version-1 segments are still read, so
 * an upgrade delivers what an older release spooled; appends never go into
 * one (recovery rolls to a fresh version-2 segment instead), so a segment
 * never mixes the two.
 *
 * all integers little-endian. The CRC covers the length, the sequence and the
 * payload (not only the payload: a zero-filled or stale block then never
 * passes for a record). Only the newest segment is written; a batch is never
 * split across segments, so a segment may exceed `segment_bytes` by one
 * batch, and a record larger than `segment_bytes` gets a segment to itself.
 *
 * Reuse: when acks free an older segment and there is no spare, its file
 * becomes the spare; the next roll writes a fresh header into it and renames
 * it to the new segment's name. Overwriting allocated, usually still cached
 * blocks costs the kernel a fraction of filling a new file (block
 * allocation, page-cache pages, buffer heads, and freeing them all again at
 * unlink). A reused file holds its previous records past the valid end
 * until the segment rolls or the spool closes, when it is truncated; a crash
 * in between leaves those bytes behind the last record, where recovery cuts
 * them off like a torn tail (they never pass for records: their sequence
 * numbers are older, and a cut through one fails its CRC). At most one
 * spare (one segment's worth of disk) is kept.
 *
 * Durability (`sr_spool_conf.fsync`):
 *   ALWAYS    `sr_spool_append` returns only after fdatasync (and a directory
 *             fsync when it started a segment), so the sender may be
 *             acknowledged; `sr_spool_ack` fsyncs the cursor. Costly: two to
 *             three fsyncs per batch on the loop thread.
 *   INTERVAL  data and cursor reach the disk when the owner calls
 *             `sr_spool_sync_if_due` (every `fsync_interval_ms`) or on close;
 *             a crash loses at most the last interval.
 *   NEVER     the page cache decides; survives a process crash, not a
 *             power loss.
 *
 * Recovery (`sr_spool_open`) never fails because of damaged data; it reports
 * what it did in `sr_spool_recovery` and logs a warning:
 *   - a torn or corrupt tail of the newest segment (partial record, CRC or
 *     sequence mismatch) is truncated away: everything from the first bad
 *     record on is discarded. Appends acknowledged under ALWAYS are never in
 *     that tail.
 *   - a bad record inside an older segment ends that segment: the records
 *     after it up to the next segment's first are counted as lost.
 *   - a segment whose header is unreadable, or names a first sequence
 *     number of 0 or of 2^63 and more, is renamed to `.seg.corrupt`.
 *   - an unreadable cursor file (wrong size, magic or CRC, a number of 2^63
 *     or more) falls back to the
 *     oldest record on disk: at least once, so delivered records may be sent
 *     again rather than undelivered ones skipped.
 *   - a cursor beyond the last record (possible under INTERVAL/NEVER when
 *     appended data was lost but the cursor was not) moves the next sequence
 *     number up to it; numbers are never reused.
 * The same rule applies when a read later meets a bad record (media errors):
 * the rest of that segment is skipped, counted in `lost_records`, logged.
 *
 * Ownership and threads: an sr_spool is used by one thread, the delivery
 * loop's, and does blocking file I/O there (acceptable for now; ALWAYS makes
 * it expensive). A spool directory is held with flock(2), so a second open,
 * in this process or another, fails instead of corrupting it.
 *
 * Errors: functions return 0 (or a pointer) on success, -1 (or NULL) on
 * failure with a message in `err`. */
#ifndef SR_SPOOL_H
#define SR_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SR_SPOOL_SEGMENT_BYTES_DEFAULT     ((uint64_t)64 << 20)
#define SR_SPOOL_FSYNC_INTERVAL_MS_DEFAULT 1000
/* Largest payload one record may carry; a longer length on disk is damage. */
#define SR_SPOOL_RECORD_MAX ((uint32_t)256 << 20)

typedef enum {
    SR_FSYNC_ALWAYS, /* the zero value: durable unless asked otherwise */
    SR_FSYNC_INTERVAL,
    SR_FSYNC_NEVER,
} sr_fsync_policy;

typedef struct sr_spool_conf {
    uint64_t segment_bytes;     /* roll size; 0 = SR_SPOOL_SEGMENT_BYTES_DEFAULT */
    sr_fsync_policy fsync;      /* default SR_FSYNC_ALWAYS */
    uint64_t fsync_interval_ms; /* for INTERVAL; 0 = 1000 */
} sr_spool_conf;

/* What sr_spool_open found and repaired. */
typedef struct sr_spool_recovery {
    uint64_t segments;         /* segment files in use after recovery */
    uint64_t records;          /* valid records found, delivered ones included */
    uint64_t pending;          /* records at or after the cursor */
    uint64_t torn_records;     /* (partial) records cut off the newest segment */
    uint64_t bytes_truncated;  /* bytes cut off the newest segment */
    uint64_t lost_records;     /* records skipped inside older segments */
    uint64_t corrupt_segments; /* segments cut short or set aside */
    int cursor_reset;          /* the cursor file was unreadable: fell back */
} sr_spool_recovery;

/* A snapshot for status answers and metrics. */
typedef struct sr_spool_info {
    uint64_t pending_records;
    uint64_t pending_bytes; /* on disk from the cursor on, framing included */
    uint64_t disk_bytes;    /* all segments, delivered records and the spare included */
    uint64_t segments;
    uint64_t cursor;       /* every record below it is delivered */
    uint64_t oldest_seq;   /* first pending record; == next_seq when none */
    uint64_t next_seq;     /* what the next appended record gets */
    uint64_t durable_seq;  /* every record below it is on disk as the fsync policy
                              promises: synced (ALWAYS; INTERVAL once its sync
                              ran), written (NEVER) */
    uint64_t lost_records; /* since open, recovery included */
} sr_spool_info;

typedef struct sr_spool_record {
    uint64_t seq;
    const char *data; /* the record; points into the batch's `buf` */
    uint32_t len;
    const char *event; /* the event stored with it, or NULL (none; version 1) */
    uint32_t event_len;
    uint32_t stored; /* payload bytes on disk: record, event and record length */
    size_t off;      /* offset of `data` in `buf` */
} sr_spool_record;

/* Caller-owned result of sr_spool_read, reused across reads: each read
 * replaces its contents, keeping the allocations. `data` pointers stay valid
 * until the next read into the same batch or sr_spool_batch_free. */
typedef struct sr_spool_batch {
    sr_spool_record *recs;
    size_t n, cap;
    uint64_t bytes;    /* record bytes in recs (events not included) */
    uint64_t stored;   /* payload bytes on disk of recs (events included) */
    uint64_t next_seq; /* pass to the next read to continue after this one */
    sr_buf buf;        /* raw segment bytes; framing included */
} sr_spool_batch;

#define SR_SPOOL_BATCH_INIT                                                                        \
    { NULL, 0, 0, 0, 0, 0, SR_BUF_INIT }

void sr_spool_batch_free(sr_spool_batch *b);

typedef struct sr_spool sr_spool;

/* Opens (creating it and its parents if needed) and recovers the spool in
 * `dir`. `conf` may be NULL for the defaults; `report` may be NULL. */
sr_spool *sr_spool_open(const char *dir, const sr_spool_conf *conf, sr_spool_recovery *report,
                        char *err, size_t errlen);

/* Appends `n` records as one batch (one write(2) per 340 records); their
 * sequence numbers are *first_seq .. *first_seq + n - 1 (first_seq may be
 * NULL). `events` (NULL: none) holds the event to store beside each record,
 * `event_lens` their lengths; a NULL entry stores none. A record with its
 * event and 4 bytes of length may take SR_SPOOL_RECORD_MAX bytes. On -1
 * nothing was appended as far as the spool knows and the sender must not be
 * acknowledged; after a failed rollback the records may still resurface
 * after a restart, under fresh sequence numbers (at least once). */
int sr_spool_append(sr_spool *sp, const char *const *recs, const uint32_t *lens,
                    const char *const *events, const uint32_t *event_lens, size_t n,
                    uint64_t *first_seq, char *err, size_t errlen);

/* Reads, in order, up to `max_records` records with sequence numbers at or
 * after max(from_seq, cursor), stopping before `max_bytes` record bytes
 * (events not counted) would be exceeded (a first record larger than that comes alone). Gaps left
 * by lost records are skipped. out->n == 0 means nothing is pending there.
 * Reading does not move the cursor: the delivery loop may read ahead of its
 * acks (out->next_seq), and rereads from the cursor after a failure. Costs
 * one pread of the region the budget covers (plus one per record that
 * straddles it); payloads are CRC-checked as they are read. */
int sr_spool_read(sr_spool *sp, uint64_t from_seq, size_t max_records, size_t max_bytes,
                  sr_spool_batch *out, char *err, size_t errlen);

/* Marks every record below `upto_seq` delivered: moves the cursor (persisted
 * now under ALWAYS, at the next sync otherwise) and deletes the older
 * segments it leaves fully delivered. The newest segment stays until it
 * rolls, so a drained spool keeps at most one segment. Acks below the cursor
 * are no-ops; acking past next_seq is an error. On a write error the cursor
 * has still moved in memory and is written again at the next ack, sync or
 * close; a crash before that resends the records (at least once). */
int sr_spool_ack(sr_spool *sp, uint64_t upto_seq, char *err, size_t errlen);

/* INTERVAL (and NEVER, for the cursor): persists what is pending when
 * `fsync_interval_ms` passed since the last sync. `now_ms` is any monotonic
 * clock (uv_now). Cheap when nothing is pending. */
int sr_spool_sync_if_due(sr_spool *sp, uint64_t now_ms, char *err, size_t errlen);
/* Persists data, cursor and directory now, whatever the policy. */
int sr_spool_sync(sr_spool *sp, char *err, size_t errlen);

void sr_spool_stats(const sr_spool *sp, sr_spool_info *out);

/* Persists the cursor (and syncs per policy; failures are logged), closes
 * the files and releases the directory lock. NULL is a no-op. */
void sr_spool_close(sr_spool *sp);

#endif
