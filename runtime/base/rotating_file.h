/* rotating_file.h - synchronous, append-only line writer with size rotation.
 *
 * Shared by the FILE sink (sinks/file.c) and the dead-letter files. Records
 * are appended as lines: each record's bytes followed by '\n'. The writer adds
 * no framing or escaping, so a record must not contain '\n' itself (the
 * callers write compact JSON).
 *
 * Rotation: before a line is written, if it would push the current file past
 * `rotate_bytes`, the file is rotated first:
 *
 *   path.<keep_files-1> -> path.<keep_files>   (the oldest is replaced: gone)
 *   ...
 *   path.1 -> path.2
 *   path   -> path.1                           (path.1 is the newest)
 *
 * and a fresh `path` is opened. `rotate_bytes` 0 means never rotate;
 * `keep_files` 0 means rotated data is simply deleted. A line longer than
 * `rotate_bytes` gets a file to itself (an empty file is never rotated). Files
 * beyond path.<keep_files> (left by an earlier, larger keep_files) are not
 * touched. A file that already exists is appended to, its size counting
 * towards the rotation threshold.
 *
 * Files are opened O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC with mode 0640 (before
 * umask); missing parent directories are created with mode 0750. One writer
 * per path is assumed (sizes are tracked in memory, and a failed append
 * truncates its own partial output).
 *
 * Failure atomicity: a failed append truncates the current file back to where
 * that append (or its last rotation) started, so a retry never glues a torn
 * line onto the next one. Lines that went into a file rotated away during the
 * same call stay there: a retry duplicates them (at least once, never lost).
 * After a failed rotation the writer has no open file; the next append
 * reopens `path` and tries again.
 *
 * Threads: not thread-safe. A writer may move between threads (the FILE sink
 * hands it to the libuv threadpool) as long as one call runs at a time.
 *
 * Errors: functions return 0 (or a pointer) on success, -1 (or NULL) with a
 * message naming the file and strerror(errno) in `err`. */
#ifndef SR_ROTATING_FILE_H
#define SR_ROTATING_FILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sr_rotating_file sr_rotating_file;

/* Creates missing parent directories and opens (or creates) `path`. */
sr_rotating_file *sr_rotating_file_open(const char *path, uint64_t rotate_bytes, int keep_files,
                                        char *err, size_t errlen);

/* The same for a writer confined to the directory `root` (confine.h),
 * created when missing: `path` (relative to root, or absolute under it) is
 * reached without following a symbolic link, and only files this kind of
 * writer created, and marked, are written, truncated or rotated away. An
 * existing file at `path` without the mark (or with other hard links) is
 * refused here; a rotation that would replace such a file fails that
 * append. Used for integrations defined through the admin API. */
sr_rotating_file *sr_rotating_file_open_confined(const char *root, const char *path,
                                                 uint64_t rotate_bytes, int keep_files, char *err,
                                                 size_t errlen);

/* Appends recs[0..n) as lines, in order, rotating as needed. Blocking; writes
 * go through writev (retried on EINTR and after short writes). Data reaches
 * the page cache, not necessarily the disk: see sr_rotating_file_sync. */
int sr_rotating_file_append(sr_rotating_file *f, const char *const *recs, const uint32_t *lens,
                            size_t n, char *err, size_t errlen);

/* One line; a convenience for writers that format a line themselves. */
int sr_rotating_file_append_line(sr_rotating_file *f, const char *line, size_t len, char *err,
                                 size_t errlen);

/* fdatasync(2) of the current file, for callers that must not acknowledge
 * data before it is on disk. A no-op without an open file. */
int sr_rotating_file_sync(sr_rotating_file *f, char *err, size_t errlen);

/* Bytes in the current file (not counting rotated ones). */
uint64_t sr_rotating_file_size(const sr_rotating_file *f);

/* Closes the file and frees `f`; NULL is ignored. */
void sr_rotating_file_close(sr_rotating_file *f);

#endif
