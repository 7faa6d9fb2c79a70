/* fd_limit.h - the descriptor limit the gateway runs with.
 *
 * Every connection holds a descriptor; the soft RLIMIT_NOFILE a shell hands
 * down (often 1024) would let a connection flood exhaust them long before
 * the listeners' own limits apply. At start the gateway raises the soft
 * limit to the hard one and logs both figures. */
#ifndef SR_FD_LIMIT_H
#define SR_FD_LIMIT_H

/* Raises the soft limit to the hard one and logs the result ("descriptor
 * limit 1024 -> 524288"); a failure is logged as a warning, not fatal. */
void sr_fd_limit_raise(void);

#endif
