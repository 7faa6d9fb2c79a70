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

/* Descriptors kept for everything but client connections: spool segments,
 * sinks' sockets and files, librdkafka, the Lua tree. */
#define SR_FD_RESERVE 256

/* Warns when `connections` (what the listeners' max_connections allow
 * together, `detail` saying which) plus SR_FD_RESERVE exceed the current
 * limit: a flood would then run out of descriptors before the listeners'
 * own limits apply (it is survived, by closing idle connections, but the
 * limits no longer say what happens). 1 when it warned. */
int sr_fd_limit_check(unsigned long long connections, const char *detail);

#endif
