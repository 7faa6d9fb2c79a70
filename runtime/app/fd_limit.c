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

int sr_fd_limit_check(unsigned long long connections, const char *detail) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    unsigned long long limit = (unsigned long long)rl.rlim_cur;
    if (connections + SR_FD_RESERVE <= limit)
        return 0;
    sr_warn("gateway",
            "the descriptor limit %llu is below what the listeners may hold (%s = %llu "
            "connections, plus %d for files and sinks): raise it (LimitNOFILE=, ulimit -Hn) or "
            "lower max_connections; until then a flood runs out of descriptors first, and "
            "idle connections are closed to make room",
            limit, detail, connections, SR_FD_RESERVE);
    return 1;
}
