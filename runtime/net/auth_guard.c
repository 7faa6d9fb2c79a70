/* auth_guard.c - per-peer failure windows in an open-addressed table. */
#include "auth_guard.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE 16 /* slots looked at per lookup */

typedef struct peer {
    char ip[INET6_ADDRSTRLEN];
    uint64_t window_start;
    unsigned failures;
    uint64_t interval; /* the summary interval it was last counted in */
} peer;

struct sr_auth_guard {
    unsigned max_failures;
    uint64_t window_ms;
    unsigned log_max;
    size_t npeers;
    peer *peers;
    /* The summary interval: one window long, from its first event. */
    uint64_t interval;
    int interval_open;
    sr_auth_guard_summary current;
    sr_auth_guard_summary finished; /* ended intervals not yet taken */
    int have_finished;
    unsigned logged;
    sr_auth_guard_stats stats;
};

sr_auth_guard *sr_auth_guard_new(const sr_auth_guard_conf *conf) {
    static const sr_auth_guard_conf none;
    if (!conf)
        conf = &none;
    sr_auth_guard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->max_failures = conf->max_failures ? conf->max_failures : SR_AUTH_GUARD_FAILURES;
    g->window_ms = conf->window_ms ? conf->window_ms : SR_AUTH_GUARD_WINDOW;
    g->log_max = conf->log_lines ? conf->log_lines : SR_AUTH_GUARD_LOG_MAX;
    g->npeers = conf->peers ? conf->peers : SR_AUTH_GUARD_PEERS;
    g->interval = 1;
    if (!(g->peers = calloc(g->npeers, sizeof *g->peers))) {
        free(g);
        return NULL;
    }
    return g;
}

void sr_auth_guard_free(sr_auth_guard *g) {
    if (g)
        free(g->peers);
    free(g);
}

uint64_t sr_auth_guard_window(const sr_auth_guard *g) { return g->window_ms; }

static size_t hash(const char *s) {
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The peer's slot; with `add`, a new (or the stalest) one when unknown. */
static peer *find(sr_auth_guard *g, const char *ip, int add) {
    size_t h = hash(ip);
    peer *stalest = NULL;
    for (size_t i = 0; i < PROBE && i < g->npeers; i++) {
        peer *p = &g->peers[(h + i) % g->npeers];
        if (p->ip[0] && strcmp(p->ip, ip) == 0)
            return p;
        if (!stalest || !p->ip[0] || (stalest->ip[0] && p->window_start < stalest->window_start))
            stalest = p;
    }
    if (!add)
        return NULL;
    memset(stalest, 0, sizeof *stalest);
    snprintf(stalest->ip, sizeof stalest->ip, "%s", ip);
    return stalest;
}

/* Ends the current interval, keeping its summary when it is worth one. */
static void end_interval(sr_auth_guard *g) {
    sr_auth_guard_summary *c = &g->current;
    if (c->failures > 1 || c->limited > 0) {
        if (!g->have_finished)
            g->finished = *c;
        else { /* not taken yet: one summary covers both */
            g->finished.failures += c->failures;
            g->finished.limited += c->limited;
            g->finished.peers += c->peers;
        }
        g->have_finished = 1;
    }
    memset(c, 0, sizeof *c);
    g->interval_open = 0;
    g->interval++;
    g->logged = 0;
}

static void roll(sr_auth_guard *g, uint64_t now_ms) {
    if (g->interval_open && now_ms >= g->current.since_ms + g->window_ms)
        end_interval(g);
}

/* Counts the peer once per summary interval. */
static void note_interval(sr_auth_guard *g, peer *p, uint64_t now_ms) {
    roll(g, now_ms);
    if (!g->interval_open) {
        g->interval_open = 1;
        g->current.since_ms = now_ms;
    }
    if (p->interval != g->interval) {
        p->interval = g->interval;
        g->current.peers++;
    }
}

long sr_auth_guard_check(sr_auth_guard *g, const char *ip, uint64_t now_ms) {
    peer *p = find(g, ip, 0);
    if (!p || p->failures < g->max_failures)
        return 0;
    uint64_t end = p->window_start + g->window_ms;
    if (now_ms >= end)
        return 0;
    note_interval(g, p, now_ms);
    g->current.limited++;
    g->stats.limited++;
    return (long)((end - now_ms + 999) / 1000);
}

int sr_auth_guard_failed(sr_auth_guard *g, const char *ip, uint64_t now_ms) {
    peer *p = find(g, ip, 1);
    if (p->failures == 0 || now_ms >= p->window_start + g->window_ms) {
        p->window_start = now_ms;
        p->failures = 0;
    }
    p->failures++;
    note_interval(g, p, now_ms);
    g->stats.failures++;
    if (g->current.failures++ == 0)
        return SR_AUTH_REPORT_FULL;
    return g->logged++ < g->log_max ? SR_AUTH_REPORT_LOG : SR_AUTH_REPORT_NONE;
}

int sr_auth_guard_take_summary(sr_auth_guard *g, uint64_t now_ms, int force,
                               sr_auth_guard_summary *out) {
    roll(g, now_ms);
    if (force && g->interval_open)
        end_interval(g);
    if (!g->have_finished)
        return 0;
    *out = g->finished;
    g->have_finished = 0;
    return 1;
}

void sr_auth_guard_stats_get(const sr_auth_guard *g, sr_auth_guard_stats *out) { *out = g->stats; }
