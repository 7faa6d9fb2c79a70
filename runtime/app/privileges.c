/* privileges.c - giving up root after the listeners are bound. */
#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "log.h"

/* A decimal id; -1 when `s` is not one. */
static long numeric_id(const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return *s && !*end && !errno && v >= 0 && v < (long)(unsigned)-1 ? v : -1;
}

int sr_drop_privileges(const char *user, const char *group, char *err, size_t errlen) {
    struct passwd *pw = NULL;
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (user) {
        long id = numeric_id(user);
        errno = 0;
        pw = id >= 0 ? getpwuid((uid_t)id) : getpwnam(user);
        if (!pw && id < 0) {
            snprintf(err, errlen, "user '%s': %s", user, errno ? strerror(errno) : "no such user");
            return -1;
        }
        uid = pw ? pw->pw_uid : (uid_t)id;
        gid = pw ? pw->pw_gid : gid;
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
        gid = gr ? gr->gr_gid : (gid_t)id;
    }
    /* Groups first: once the user is dropped, nothing else may change. */
    int rc = pw && !group ? initgroups(pw->pw_name, gid) : setgroups(1, &gid);
    if (rc != 0) {
        snprintf(err, errlen, "cannot set the supplementary groups for %s: %s", user ? user : group,
                 strerror(errno));
        return -1;
    }
    if (setresgid(gid, gid, gid) != 0) {
        snprintf(err, errlen, "cannot run as group %u: %s", (unsigned)gid, strerror(errno));
        return -1;
    }
    if (setresuid(uid, uid, uid) != 0) {
        snprintf(err, errlen, "cannot run as user %s (uid %u): %s", user ? user : "?",
                 (unsigned)uid, strerror(errno));
        return -1;
    }
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(err, errlen, "root could be taken back after running as uid %u", (unsigned)uid);
        return -1;
    }
    sr_info("gateway", "running as uid %u, gid %u", (unsigned)getuid(), (unsigned)getgid());
    return 0;
}
