/* privileges.h - running as an unprivileged user once the listeners are
 * bound (the `user:` and `group:` settings).
 *
 * The gateway may start as root to bind ports below 1024 or to read files
 * only root reads; from then on it needs none of that, so it gives it up
 * before it takes its first event: supplementary groups (the user's, from
 * initgroups, or only `group`), then the group, then the user, real,
 * effective and saved ids alike. It then checks that root cannot be taken
 * back. Any failure is an error: the gateway refuses to run with more
 * privilege than configured.
 *
 * Files the gateway opens after the drop (new spools, rotated dead-letter
 * and audit files, FILE sinks opened by a reload) are opened as that user:
 * data_dir must belong to it (docs/admin.md). */
#ifndef SR_PRIVILEGES_H
#define SR_PRIVILEGES_H

#include <stddef.h>

/* `user` (name or numeric uid; NULL: keep the user) and `group` (name or
 * gid; NULL: the user's primary group). 0, or -1 with `err`. */
int sr_drop_privileges(const char *user, const char *group, char *err, size_t errlen);

#endif
