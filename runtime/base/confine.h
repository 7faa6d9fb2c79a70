/* confine.h - files under a directory that nothing may lead out of: the
 * FILE paths of integrations defined through the admin API (under
 * admin.files_dir) and the scripts they may name (under admin.script_dir).
 *
 * A path is taken relative to its root (an absolute path must lie under the
 * root as written or as resolved), ".." is refused, and the directories
 * are walked from an open descriptor of the root one component at a time,
 * each opened with O_NOFOLLOW|O_DIRECTORY. A symbolic link anywhere below
 * the root (the last component included, which callers open with
 * O_NOFOLLOW relative to the parent's descriptor) is therefore refused, and
 * nothing renamed into place after the walk can redirect it: the
 * descriptors pin the directories that were checked (no gap between check
 * and use).
 *
 * Files a confined writer creates carry a mark (the extended attribute
 * user.siemrelay.created), so that after a restart it still knows which
 * files it may rotate away; a file without the mark is someone else's.
 *
 * Errors: -1 with a message naming the path as given (never the content
 * of any file) in `err`. */
#ifndef SR_CONFINE_H
#define SR_CONFINE_H

#include <stddef.h>

/* The part of `path` below `root` into out[outlen]: a relative path as is,
 * an absolute one with the root's prefix taken off. -1 for a path outside
 * the root, an empty one, one with a ".." component or a NUL. */
int sr_confine_relative(const char *root, const char *path, char *out, size_t outlen, char *err,
                        size_t errlen);

/* Opens `root` as a directory (creating it and its parents with mode 0750
 * when `create`). The descriptor, or -1 with `err`. */
int sr_confine_open_root(const char *root, int create, char *err, size_t errlen);

/* Walks `rel` (from sr_confine_relative) below `rootfd` up to its last
 * component, creating missing directories (mode 0750) when `create`.
 * Returns a descriptor of the directory that holds the last component and
 * points *base into `rel` at that component; -1 with `err` for a symbolic
 * link or a non-directory on the way, or a missing directory (when not
 * `create`). `shown` names the path in messages. */
int sr_confine_parent(int rootfd, const char *rel, int create, const char **base, const char *shown,
                      char *err, size_t errlen);

/* Opens `rel`'s last component below the directory `root` (not created),
 * walking every component without following a link, the last one opened
 * with O_RDONLY|O_NOFOLLOW|O_NONBLOCK. The descriptor; -1 with errno
 * ENOENT when something on the way is missing, else -1 with `err` ("... is
 * a symbolic link (links are not followed here)"). */
int sr_confine_open_below(const char *root, const char *rel, const char *shown, char *err,
                          size_t errlen);

/* sr_confine_relative + sr_confine_open_below, and the file must be a
 * regular one: how a file the admin API named (a script, a certificate) is
 * opened for reading. `what` ("script", "caFile") prefixes errors; the
 * absolute path of what was opened (the root resolved) goes to
 * abs[abslen] when `abs` is not NULL. The descriptor, or -1 with `err`. */
int sr_confine_open_file(const char *root, const char *path, const char *what, char *abs,
                         size_t abslen, char *err, size_t errlen);

/* Marks `fd` as created by siemrelay. -1 (errno set) when the file system
 * keeps no user extended attributes. */
int sr_confine_mark(int fd);
/* 1 when `fd` carries the mark, else 0. */
int sr_confine_marked(int fd);

#endif
