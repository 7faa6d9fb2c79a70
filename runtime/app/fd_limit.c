/* fd_limit.c - raising RLIMIT_NOFILE at start. */
#include "fd_limit.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"

void sr_fd_limit_raise(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        sr_warn("gateway", "cannot read the descriptor limit: %s", strerror(errno));
        return;
    }
    unsigned long long was = (unsigned long long)rl.rlim_cur;
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            sr_warn("gateway", "cannot raise the descriptor limit from %llu to %llu: %s", was,
                    (unsigned long long)rl.rlim_max, strerror(errno));
            return;
        }
    }
    sr_info("gateway", "descriptor limit %llu -> %llu (hard limit)", was,
            (unsigned long long)rl.rlim_cur);
}
