/* admin_bounds.h - what an integration defined through the admin API may
 * reach on this machine, checked before its configuration is loaded (the
 * loader runs the scripts it names and each module's setup).
 *
 *   - scripts: only files under admin.script_dir (none when it is unset),
 *     reached without a symbolic link; each path is rewritten to the
 *     absolute one under the directory, so the loader reads the file that
 *     was checked, whatever its working directory;
 *   - FILE paths: under admin.files_dir (default <data_dir>/files), no
 *     symbolic link on the way, and not a file siemrelay did not create
 *     (the FILE sink enforces the same when it opens: file.h `root`);
 *   - settings only a configuration file may hold (lua_dir,
 *     integration_paths, user, group, data_dir) are refused by name.
 *
 * Errors name the path as given and the field, never the content of a
 * file. sr_admin_scrub_file_text() takes what the Lua loader would quote
 * from a file out of an error message, for answers, logs and the audit
 * trail. */
#ifndef SR_ADMIN_BOUNDS_H
#define SR_ADMIN_BOUNDS_H

#include <stddef.h>

#include "buf.h"

typedef struct sr_admin_bounds {
    const char *script_dir; /* NULL: no scripts */
    const char *files_dir;  /* never NULL */
} sr_admin_bounds;

/* Checks the normalised entry (compact JSON, admin_store.h) and writes it,
 * script paths made absolute, into `out`. On -1 `err` says what is refused
 * and `field` names it ("scripts", "configuration.path", ...). */
int sr_admin_bounds_check(const sr_admin_bounds *b, const char *entry, size_t len, sr_buf *out,
                          char *err, size_t errlen, char *field, size_t fieldlen);

/* Refuses a script_dir that holds, or lies in, a directory whose files
 * others choose the bytes of: files_dir and `data_dir` (dead letters, the
 * API file). Directories that do not exist yet are compared as written.
 * 0, or -1 with `err`. */
int sr_admin_bounds_apart(const sr_admin_bounds *b, const char *data_dir, char *err, size_t errlen);

/* Cuts every " near '...'" (the token a Lua syntax error quotes from the
 * file) out of `msg`, in place, keeping FILE:LINE and the kind of error. */
void sr_admin_scrub_file_text(char *msg);

#endif
