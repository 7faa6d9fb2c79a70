/* listener.h - a listening TCP socket whose accept loop survives running
 * out of file descriptors.
 *
 * libuv's own accept loop, on EMFILE/ENFILE, silently accepts and closes
 * every pending connection: nothing is counted, nothing is logged, and the
 * owner never gets a chance to free a descriptor first. This listener
 * accepts by itself (accept4 on a socket watched by a uv_poll_t) and, when
 * the process or the system is out of descriptors:
 *   1. asks the owner to free one (`shed`: close its oldest idle
 *      connection); if it did, accepting goes on at once, since libuv
 *      closes a handle's descriptor synchronously in uv_close();
 *   2. otherwise closes its spare descriptor (opened on /dev/null at
 *      start), accepts the pending connection, closes it and reopens the
 *      spare, so the client gets an immediate close instead of waiting in
 *      the backlog, and the listener is not woken again for it.
 * Each connection dropped that way is counted (`fd_dropped`) and logged at
 * most once per second with the number held back.
 *
 * At most SR_LISTENER_ACCEPT_BATCH connections are accepted per loop
 * iteration, so one listener under a flood does not starve the others.
 *
 * Accepted descriptors are non-blocking and close-on-exec; `on_accept`
 * owns each one (sr_tls_stream_open() takes it over).
 *
 * All calls on the loop thread. Errors: constructors return NULL and
 * write e.g. "cannot listen on 127.0.0.1:8080: address already in use". */
#ifndef SR_LISTENER_H
#define SR_LISTENER_H

#include <stdint.h>

#include <uv.h>

#define SR_LISTENER_ACCEPT_BATCH 128

typedef struct sr_listener sr_listener;

typedef struct sr_listener_cbs {
    /* A connection was accepted from `peer_ip` ("192.0.2.1", "2001:db8::1"):
     * `fd` is the caller's (close it or hand it on). The listener may be
     * closed from here. */
    void (*on_accept)(void *ud, int fd, const char *peer_ip);
    /* Out of descriptors: close one idle connection if there is one and
     * return 1, else 0. May be NULL. */
    int (*shed)(void *ud);
} sr_listener_cbs;

typedef struct sr_listener_stats {
    uint64_t accepted;    /* connections handed to on_accept */
    uint64_t fd_shed;     /* idle connections the owner closed to free a descriptor */
    uint64_t fd_dropped;  /* accepted and closed at once: no descriptor left */
    uint64_t accept_errs; /* other accept failures */
} sr_listener_stats;

/* Binds host:port (an address, or a name resolved once, now) and listens.
 * `name` is the log component (copied); `cbs` is copied. */
sr_listener *sr_listener_new(uv_loop_t *loop, const char *name, const char *host, int port,
                             const sr_listener_cbs *cbs, void *ud, char *err, size_t errlen);

/* The bound port (useful after port 0), or -1. */
int sr_listener_port(const sr_listener *l);

const sr_listener_stats *sr_listener_get_stats(const sr_listener *l);

/* Stops listening and closes the socket and the spare; `cb` (may be NULL)
 * runs once done, after which the listener is freed. No callback runs
 * after this call. */
void sr_listener_close(sr_listener *l, void (*cb)(void *ud), void *ud);

#endif
