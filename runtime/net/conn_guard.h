/* conn_guard.h - how many connections one listener holds, and from whom.
 *
 * Every listener (HTTP ingest, TCP ingest, the admin API) has one guard.
 * Each of its connections carries an sr_conn_slot and passes through
 * sr_conn_guard_admit() right after accept:
 *   - a peer address that already holds max_per_peer connections is
 *     refused: the new connection is closed (reason "peer_limit");
 *   - when max_connections are open, the oldest idle connection is closed
 *     to make room (reason "evicted_idle"), so floods of idle connections
 *     cannot lock out a client that is about to send a request; with no
 *     idle connection to close the new one is refused ("limit").
 * "Idle" is the owner's word: a connection with no request in progress
 * (an HTTP connection waiting for the first byte of a request, a TCP
 * connection between complete lines). Owners mark it with
 * sr_conn_guard_set_idle(); the guard keeps idle connections in the order
 * they became idle, so the one idle longest goes first. The same list
 * serves a listener that ran out of file descriptors (sr_conn_guard_shed(),
 * reason "fd_evicted_idle"); there only a connection idle for
 * SR_CONN_GUARD_GRACE_MS is closed, because connections accepted in one
 * burst at the descriptor limit would otherwise close each other before
 * any of them could be read (the listener then refuses the new one, which
 * costs no descriptor).
 *
 * Closing an evicted connection is the owner's: the guard calls the slot's
 * `evict` callback, which must close the connection and, at once or later,
 * call sr_conn_guard_leave(). The guard counts a slot as open from admit
 * to leave.
 *
 * Peers are counted by address text (sr_tls_stream_peer_ip()) in a hash
 * table that holds only peers with connections open.
 *
 * All calls on the loop thread. */
#ifndef SR_CONN_GUARD_H
#define SR_CONN_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define SR_CONN_GUARD_GRACE_MS 250

/* The limits of one listener, from its configuration section. */
typedef struct sr_conn_limits {
    unsigned long long max_connections; /* open at once; 0 = no limit */
    unsigned long long max_per_peer;    /* open at once from one address; 0 = no limit */
} sr_conn_limits;

/* Why the guard closed or refused a connection: the `reason` label of
 * siemrelay_connections_shed_total. */
typedef enum sr_conn_shed {
    SR_CONN_SHED_EVICTED_IDLE,    /* the oldest idle one, to make room for a new one */
    SR_CONN_SHED_LIMIT,           /* a new one: max_connections open, none idle */
    SR_CONN_SHED_PEER_LIMIT,      /* a new one: its address holds max_per_peer */
    SR_CONN_SHED_FD_EVICTED_IDLE, /* the oldest idle one, for a file descriptor */
    SR_CONN_SHED_FD_DROPPED,      /* a new one, closed at accept: no descriptor left
                                     (counted by the listener, listener.h) */
    SR_CONN_SHED_REASONS
} sr_conn_shed;

const char *sr_conn_shed_name(sr_conn_shed r);

typedef struct sr_conn_guard sr_conn_guard;
typedef struct sr_conn_peer sr_conn_peer;
typedef struct sr_conn_slot sr_conn_slot;

/* Embedded in the owner's connection; zero it before admit. */
struct sr_conn_slot {
    sr_conn_slot *prev, *next; /* in the idle list */
    sr_conn_peer *peer;        /* NULL: not admitted (or left) */
    int idle;
    uint64_t idle_since;               /* loop time */
    void (*evict)(sr_conn_slot *slot); /* closes the owner's connection */
};

typedef struct sr_conn_guard_stats {
    uint64_t open;
    uint64_t peers; /* distinct addresses with connections open */
    uint64_t shed[SR_CONN_SHED_REASONS];
} sr_conn_guard_stats;

/* `name` (the log component, e.g. "input.http") and `limits` copied.
 * Refusals are logged as warnings, at most one line a second with the
 * count held back. NULL when out of memory. */
sr_conn_guard *sr_conn_guard_new(uv_loop_t *loop, const char *name, const sr_conn_limits *limits);
/* Every slot must have left first. NULL is ignored. */
void sr_conn_guard_free(sr_conn_guard *g);

/* 0: admitted (the slot starts idle); -1: refused and counted, the owner
 * closes the new connection without calling sr_conn_guard_leave(). May
 * evict an idle connection (its `evict` runs before this returns). */
int sr_conn_guard_admit(sr_conn_guard *g, sr_conn_slot *slot, const char *peer_ip);

/* The slot's connection is gone. Idempotent; a slot never admitted is
 * ignored. */
void sr_conn_guard_leave(sr_conn_guard *g, sr_conn_slot *slot);

/* A request started (idle 0) or the connection waits for the next (1). */
void sr_conn_guard_set_idle(sr_conn_guard *g, sr_conn_slot *slot, int idle);

/* Out of file descriptors: evicts the oldest idle connection idle for
 * SR_CONN_GUARD_GRACE_MS at least. 1 if one was evicted, else 0. */
int sr_conn_guard_shed(sr_conn_guard *g);

void sr_conn_guard_stats_get(const sr_conn_guard *g, sr_conn_guard_stats *out);

#endif
