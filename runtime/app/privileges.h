/* privileges.h - running as an unprivileged user (the `user:` and `group:`
 * settings).
 *
 * The gateway may start as root to bind ports below 1024 or to read an
 * input's TLS key only root reads; it needs root for nothing else. So, as
 * start-up begins, it takes the user's groups and effective ids
 * (sr_privileges_assume): every file and directory it creates from then on
 * (spools, states, dead letters, the audit trail, FILE sinks) belongs to
 * the user. Root comes back only around binding the listeners
 * (sr_privileges_regain), and is then given up for good, real, effective
 * and saved ids alike (sr_privileges_drop), before the first event is
 * taken; the drop checks that root cannot be taken back.
 *
 * Any failure is an error: the gateway refuses to run with more privilege
 * than configured. data_dir must belong to the user (docs/admin.md). */
#ifndef SR_PRIVILEGES_H
#define SR_PRIVILEGES_H

#include <stddef.h>
#include <sys/types.h>

typedef struct sr_privileges {
    uid_t uid;
    gid_t gid;
    char user[64]; /* for initgroups; "" with only a group */
    int only_group;
} sr_privileges;

/* `user` (name or numeric uid; NULL: keep the user) and `group` (name or
 * gid; NULL: the user's primary group) into `p`. 0, or -1 with `err`. */
int sr_privileges_resolve(const char *user, const char *group, sr_privileges *p, char *err,
                          size_t errlen);

/* Takes the supplementary groups and the effective ids of `p`, keeping
 * root as the saved id. Needs root unless `p` is who the process is. */
int sr_privileges_assume(const sr_privileges *p, char *err, size_t errlen);

/* Root again as the effective user, to bind listeners. */
int sr_privileges_regain(char *err, size_t errlen);

/* Gives root up for good. */
int sr_privileges_drop(const sr_privileges *p, char *err, size_t errlen);

/* Warns, once the listeners are bound, when the process runs as root with
 * neither `user:` nor `group:` set: site scripts, FILE sinks and what the
 * admin API configures then act with root's power. Only at start, never in
 * --check: who runs the check says nothing about who runs the service (the
 * systemd unit's User=). */
void sr_privileges_warn_root(const char *user, const char *group);

#endif
