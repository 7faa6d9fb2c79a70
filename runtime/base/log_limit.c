/* log_limit.c - per-key bursts of log lines within a time window. */
#include "log_limit.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define SLOTS  256
#define PROBES 8

typedef struct slot {
    uint64_t hash; /* 0: free */
    uint64_t window_start_ms;
    uint64_t lines;      /* written in the current window */
    uint64_t suppressed; /* held back since the last line written */
} slot;

struct sr_log_limit {
    pthread_mutex_t mu;
    unsigned burst, window_ms;
    slot slots[SLOTS];
};

sr_log_limit *sr_log_limit_new(unsigned burst, unsigned window_ms) {
    sr_log_limit *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    pthread_mutex_init(&l->mu, NULL);
    l->burst = burst ? burst : 1;
    l->window_ms = window_ms;
    return l;
}

void sr_log_limit_free(sr_log_limit *l) {
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static uint64_t fnv1a(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

/* The key's slot, or a free one, or one whose window ended with nothing
 * held back (reusing it loses no count); NULL when all are busy. */
static slot *find(sr_log_limit *l, uint64_t h, uint64_t now) {
    slot *reuse = NULL;
    for (unsigned i = 0; i < PROBES; i++) {
        slot *s = &l->slots[(h + i) % SLOTS];
        if (s->hash == h)
            return s;
        if (!reuse &&
            (s->hash == 0 || (s->suppressed == 0 && now - s->window_start_ms >= l->window_ms)))
            reuse = s;
    }
    if (reuse) {
        reuse->hash = h;
        reuse->window_start_ms = now;
        reuse->lines = 0;
        reuse->suppressed = 0;
    }
    return reuse;
}

int sr_log_limit_allow_at(sr_log_limit *l, const char *key, size_t len, uint64_t now_ms,
                          uint64_t *suppressed) {
    *suppressed = 0;
    uint64_t h = fnv1a(key, len);
    pthread_mutex_lock(&l->mu);
    slot *s = find(l, h, now_ms);
    int allow = 1;
    if (s) {
        if (now_ms - s->window_start_ms >= l->window_ms) {
            s->window_start_ms = now_ms;
            s->lines = 0;
        }
        if (s->lines < l->burst) {
            s->lines++;
            *suppressed = s->suppressed;
            s->suppressed = 0;
        } else {
            s->suppressed++;
            allow = 0;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return allow;
}

int sr_log_limit_allow(sr_log_limit *l, const char *key, size_t len, uint64_t *suppressed) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    return sr_log_limit_allow_at(l, key, len, now, suppressed);
}
