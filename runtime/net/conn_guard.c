/* conn_guard.c - connection limits per listener and per peer, idle list. */
#include "conn_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h> /* INET6_ADDRSTRLEN */

#include "log.h"
#include "log_limit.h"

/* Buckets of the peer table; chains stay short up to a few thousand
 * distinct addresses, and longer chains only cost a little CPU. */
#define PEER_BUCKETS 1024
/* Refusals come in floods: one log line per this at most. */
#define REFUSAL_LOG_MS 1000

struct sr_conn_peer {
    sr_conn_peer *next;
    uint64_t hash;
    unsigned long long open;
    char ip[INET6_ADDRSTRLEN];
};

struct sr_conn_guard {
    uv_loop_t *loop;
    sr_conn_limits limits;
    sr_conn_slot *idle_head, *idle_tail; /* idle longest first */
    sr_conn_peer *buckets[PEER_BUCKETS];
    sr_conn_guard_stats stats;
    sr_log_limit *log; /* NULL (out of memory): every refusal is logged */
    char name[32];
};

static const char *const shed_names[SR_CONN_SHED_REASONS] = {
    [SR_CONN_SHED_EVICTED_IDLE] = "evicted_idle",
    [SR_CONN_SHED_LIMIT] = "limit",
    [SR_CONN_SHED_PEER_LIMIT] = "peer_limit",
    [SR_CONN_SHED_FD_EVICTED_IDLE] = "fd_evicted_idle",
    [SR_CONN_SHED_FD_DROPPED] = "fd_dropped",
};

const char *sr_conn_shed_name(sr_conn_shed r) {
    return (unsigned)r < SR_CONN_SHED_REASONS ? shed_names[r] : "unknown";
}

sr_conn_guard *sr_conn_guard_new(uv_loop_t *loop, const char *name, const sr_conn_limits *limits) {
    sr_conn_guard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->loop = loop;
    g->limits = *limits;
    g->log = sr_log_limit_new(1, REFUSAL_LOG_MS);
    snprintf(g->name, sizeof g->name, "%s", name);
    return g;
}

static int refuse(sr_conn_guard *g, sr_conn_shed reason, const char *peer_ip) {
    uint64_t held = 0;
    g->stats.shed[reason]++;
    if (g->log && !sr_log_limit_allow(g->log, "refused", 7, &held))
        return -1;
    sr_warn(g->name,
            "refusing a connection from %s (%llu more refused since the last report): %s "
            "(max_connections %llu, max_connections_per_peer %llu)",
            peer_ip, (unsigned long long)held,
            reason == SR_CONN_SHED_PEER_LIMIT ? "too many from this address"
                                              : "too many open, none idle",
            g->limits.max_connections, g->limits.max_per_peer);
    return -1;
}

void sr_conn_guard_free(sr_conn_guard *g) {
    if (!g)
        return;
    for (size_t i = 0; i < PEER_BUCKETS; i++)
        for (sr_conn_peer *p = g->buckets[i], *next; p; p = next) {
            next = p->next;
            free(p);
        }
    sr_log_limit_free(g->log);
    free(g);
}

/* FNV-1a */
static uint64_t hash_ip(const char *ip) {
    uint64_t h = 1469598103934665603ull;
    for (; *ip; ip++)
        h = (h ^ (unsigned char)*ip) * 1099511628211ull;
    return h;
}

static sr_conn_peer *peer_find(sr_conn_guard *g, const char *ip, uint64_t h) {
    for (sr_conn_peer *p = g->buckets[h % PEER_BUCKETS]; p; p = p->next)
        if (p->hash == h && strcmp(p->ip, ip) == 0)
            return p;
    return NULL;
}

static void peer_drop(sr_conn_guard *g, sr_conn_peer *peer) {
    sr_conn_peer **pp = &g->buckets[peer->hash % PEER_BUCKETS];
    while (*pp != peer)
        pp = &(*pp)->next;
    *pp = peer->next;
    free(peer);
    g->stats.peers--;
}

static void idle_unlink(sr_conn_guard *g, sr_conn_slot *s) {
    if (!s->idle)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        g->idle_head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        g->idle_tail = s->prev;
    s->prev = s->next = NULL;
    s->idle = 0;
}

static void idle_append(sr_conn_guard *g, sr_conn_slot *s) {
    if (s->idle)
        return;
    s->idle = 1;
    s->idle_since = uv_now(g->loop);
    s->next = NULL;
    s->prev = g->idle_tail;
    if (g->idle_tail)
        g->idle_tail->next = s;
    else
        g->idle_head = s;
    g->idle_tail = s;
}

/* Evicts the connection idle longest, if idle for `grace_ms` at least;
 * 0 when there is none. */
static int evict_oldest(sr_conn_guard *g, sr_conn_shed reason, uint64_t grace_ms) {
    sr_conn_slot *s = g->idle_head;
    if (!s || uv_now(g->loop) - s->idle_since < grace_ms)
        return 0;
    g->stats.shed[reason]++;
    sr_conn_guard_leave(g, s); /* counts drop now; the owner's close may take a while */
    s->evict(s);
    return 1;
}

int sr_conn_guard_admit(sr_conn_guard *g, sr_conn_slot *slot, const char *peer_ip) {
    uint64_t h = hash_ip(peer_ip);
    sr_conn_peer *peer = peer_find(g, peer_ip, h);
    if (peer && g->limits.max_per_peer && peer->open >= g->limits.max_per_peer)
        return refuse(g, SR_CONN_SHED_PEER_LIMIT, peer_ip);
    if (g->limits.max_connections && g->stats.open >= g->limits.max_connections) {
        if (!evict_oldest(g, SR_CONN_SHED_EVICTED_IDLE, 0))
            return refuse(g, SR_CONN_SHED_LIMIT, peer_ip);
        peer = peer_find(g, peer_ip, h); /* the evicted one may have been its last */
    }
    if (!peer) {
        peer = calloc(1, sizeof *peer);
        if (!peer)
            return refuse(g, SR_CONN_SHED_LIMIT, peer_ip);
        peer->hash = h;
        strncpy(peer->ip, peer_ip, sizeof peer->ip - 1);
        peer->next = g->buckets[h % PEER_BUCKETS];
        g->buckets[h % PEER_BUCKETS] = peer;
        g->stats.peers++;
    }
    peer->open++;
    g->stats.open++;
    slot->prev = slot->next = NULL;
    slot->idle = 0;
    slot->peer = peer;
    idle_append(g, slot);
    return 0;
}

void sr_conn_guard_leave(sr_conn_guard *g, sr_conn_slot *slot) {
    if (!slot->peer)
        return;
    idle_unlink(g, slot);
    if (--slot->peer->open == 0)
        peer_drop(g, slot->peer);
    slot->peer = NULL;
    g->stats.open--;
}

void sr_conn_guard_set_idle(sr_conn_guard *g, sr_conn_slot *slot, int idle) {
    if (!slot->peer)
        return;
    if (idle) {
        idle_unlink(g, slot); /* to the end: idle from now on */
        idle_append(g, slot);
    } else {
        idle_unlink(g, slot);
    }
}

int sr_conn_guard_shed(sr_conn_guard *g) {
    return evict_oldest(g, SR_CONN_SHED_FD_EVICTED_IDLE, SR_CONN_GUARD_GRACE_MS);
}

void sr_conn_guard_stats_get(const sr_conn_guard *g, sr_conn_guard_stats *out) { *out = g->stats; }
