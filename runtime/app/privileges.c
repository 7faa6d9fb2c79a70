/* privileges.c - start-up as the configured user, root only to bind. */
#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* A decimal id; -1 when `s` is not one. */
static long numeric_id(const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return *s && !*end && !errno && v >= 0 && v < (long)(unsigned)-1 ? v : -1;
}

int sr_privileges_resolve(const char *user, const char *group, sr_privileges *p, char *err,
                          size_t errlen) {
    memset(p, 0, sizeof *p);
    p->uid = getuid();
    p->gid = getgid();
    p->only_group = !user;
    if (user) {
        long id = numeric_id(user);
        errno = 0;
        struct passwd *pw = id >= 0 ? getpwuid((uid_t)id) : getpwnam(user);
        if (!pw && id < 0) {
            snprintf(err, errlen, "user '%s': %s", user, errno ? strerror(errno) : "no such user");
            return -1;
        }
        p->uid = pw ? pw->pw_uid : (uid_t)id;
        p->gid = pw ? pw->pw_gid : p->gid;
        if (pw && strlen(pw->pw_name) < sizeof p->user)
            snprintf(p->user, sizeof p->user, "%s", pw->pw_name);
    }
    if (group) {
        long id = numeric_id(group);
        errno = 0;
        struct group *gr = id >= 0 ? getgrgid((gid_t)id) : getgrnam(group);
        if (!gr && id < 0) {
            snprintf(err, errlen, "group '%s': %s", group,
                     errno ? strerror(errno) : "no such group");
            return -1;
        }
        p->gid = gr ? gr->gr_gid : (gid_t)id;
        p->only_group = 1; /* the configured group alone, not the user's list */
    }
    return 0;
}

/* Already that user and group, without root: nothing to give up. */
static int already(const sr_privileges *p) {
    return geteuid() != 0 && getuid() == p->uid && geteuid() == p->uid && getgid() == p->gid &&
           getegid() == p->gid;
}

int sr_privileges_assume(const sr_privileges *p, char *err, size_t errlen) {
    if (already(p))
        return 0;
    /* Groups first: once the effective user is not root they are fixed. */
    int rc = !p->only_group && p->user[0] ? initgroups(p->user, p->gid) : setgroups(1, &p->gid);
    if (rc != 0) {
        snprintf(err, errlen, "cannot set the supplementary groups (running as uid %u%s): %s",
                 (unsigned)geteuid(), geteuid() ? ", not root" : "", strerror(errno));
        return -1;
    }
    if (setresgid((gid_t)-1, p->gid, 0) != 0) {
        snprintf(err, errlen, "cannot run as group %u: %s", (unsigned)p->gid, strerror(errno));
        return -1;
    }
    if (setresuid((uid_t)-1, p->uid, 0) != 0) {
        snprintf(err, errlen, "cannot run as uid %u: %s", (unsigned)p->uid, strerror(errno));
        return -1;
    }
    return 0;
}

int sr_privileges_regain(char *err, size_t errlen) {
    if (geteuid() == 0 || getuid() != 0)
        return 0; /* root already, or never was: bind as who it is */
    if (seteuid(0) != 0 || setegid(0) != 0) {
        snprintf(err, errlen, "cannot take root back to bind the listeners: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int sr_privileges_drop(const sr_privileges *p, char *err, size_t errlen) {
    if (already(p))
        return 0;
    if (setresgid(p->gid, p->gid, p->gid) != 0) {
        snprintf(err, errlen, "cannot run as group %u: %s", (unsigned)p->gid, strerror(errno));
        return -1;
    }
    if (setresuid(p->uid, p->uid, p->uid) != 0) {
        snprintf(err, errlen, "cannot run as uid %u: %s", (unsigned)p->uid, strerror(errno));
        return -1;
    }
    if (p->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(err, errlen, "root could be taken back after running as uid %u", (unsigned)p->uid);
        return -1;
    }
    sr_info("gateway", "running as uid %u, gid %u", (unsigned)getuid(), (unsigned)getgid());
    return 0;
}

void sr_privileges_warn_root(const char *user, const char *group) {
    if (user || group || geteuid() != 0)
        return;
    sr_warn("gateway",
            "running as root with no 'user:' set: site scripts, FILE integrations and what the "
            "admin API configures act with root's power; set 'user:' to give root up once the "
            "listeners are bound (docs/admin.md#running-as-a-user)");
}
