/* script_stats.c - per-script counters shared by every Lua host. */
#include "script_stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "log_limit.h"

typedef struct row {
    char *path, *integration;
    _Atomic uint64_t c[SR_SCRIPT_NCOUNTERS];
    _Atomic int disabled;
    /* under the mutex: */
    uint64_t runaway_at[SR_SCRIPT_RUNAWAY_MAX]; /* ring of the latest runaways' times */
    unsigned nrunaway, next_runaway;
    uint64_t runaways, disablings;
} row;

struct sr_script_stats {
    pthread_mutex_t mu;
    row **rows; /* a row never moves: once found, it is read without the lock */
    _Atomic size_t nrows;
    size_t cap;
    char **unknown; /* route names already logged */
    size_t nunknown;
    _Atomic uint64_t unknown_routes;
    sr_log_limit *log_limit; /* scripts' own log lines */
    _Atomic uint64_t abandoned_states, abandoned_bytes;
};

sr_script_stats *sr_script_stats_new(void) {
    sr_script_stats *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    s->log_limit = sr_log_limit_new(SR_SCRIPT_LOG_BURST, SR_SCRIPT_LOG_WINDOW_MS);
    if (!s->log_limit) {
        sr_script_stats_free(s);
        return NULL;
    }
    return s;
}

void sr_script_stats_free(sr_script_stats *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->nrows; i++) {
        free(s->rows[i]->path);
        free(s->rows[i]->integration);
        free(s->rows[i]);
    }
    free(s->rows);
    for (size_t i = 0; i < s->nunknown; i++)
        free(s->unknown[i]);
    free(s->unknown);
    sr_log_limit_free(s->log_limit);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static int find_row(const sr_script_stats *s, const char *path, const char *integration) {
    for (size_t i = 0; i < s->nrows; i++)
        if (strcmp(s->rows[i]->path, path) == 0 &&
            strcmp(s->rows[i]->integration, integration) == 0)
            return (int)i;
    return -1;
}

static int add_row(sr_script_stats *s, const char *path, const char *integration) {
    if (s->nrows == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        row **rows = malloc(cap * sizeof *rows);
        if (!rows)
            return -1;
        if (s->nrows)
            memcpy(rows, s->rows, s->nrows * sizeof *rows);
        free(s->rows); /* readers index it only under the mutex */
        s->rows = rows;
        s->cap = cap;
    }
    row *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->path = strdup(path);
    r->integration = strdup(integration);
    if (!r->path || !r->integration) {
        free(r->path);
        free(r->integration);
        free(r);
        return -1;
    }
    s->rows[s->nrows] = r;
    return (int)atomic_fetch_add(&s->nrows, 1);
}

int sr_script_stats_row(sr_script_stats *s, const char *path, const char *integration) {
    if (!integration)
        integration = "";
    pthread_mutex_lock(&s->mu);
    int i = find_row(s, path, integration);
    if (i < 0)
        i = add_row(s, path, integration);
    pthread_mutex_unlock(&s->mu);
    return i;
}

void sr_script_stats_add(sr_script_stats *s, int i, const uint64_t *counts) {
    if (i < 0 || (size_t)i >= s->nrows)
        return;
    pthread_mutex_lock(&s->mu);
    row *r = s->rows[i];
    pthread_mutex_unlock(&s->mu);
    for (int k = 0; k < SR_SCRIPT_NCOUNTERS; k++)
        if (counts[k])
            atomic_fetch_add_explicit(&r->c[k], counts[k], memory_order_relaxed);
}

size_t sr_script_stats_count(const sr_script_stats *s) { return s->nrows; }

void sr_script_stats_get(const sr_script_stats *s, size_t i, sr_script_stat *out) {
    pthread_mutex_lock((pthread_mutex_t *)&s->mu);
    const row *r = s->rows[i];
    pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
    out->path = r->path;
    out->integration = r->integration;
    for (int k = 0; k < SR_SCRIPT_NCOUNTERS; k++)
        out->c[k] = atomic_load_explicit(&r->c[k], memory_order_relaxed);
    pthread_mutex_lock((pthread_mutex_t *)&s->mu);
    out->disabled = atomic_load(&r->disabled);
    out->runaways = r->runaways;
    out->disablings = r->disablings;
    pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
}

int sr_script_stats_runaway(sr_script_stats *s, int i, uint64_t now_ms, unsigned limit,
                            uint64_t window_ms) {
    if (!s || i < 0 || (size_t)i >= s->nrows)
        return 0;
    if (limit > SR_SCRIPT_RUNAWAY_MAX)
        limit = SR_SCRIPT_RUNAWAY_MAX;
    pthread_mutex_lock(&s->mu);
    row *r = s->rows[i];
    r->runaways++;
    r->runaway_at[r->next_runaway] = now_ms;
    r->next_runaway = (r->next_runaway + 1) % SR_SCRIPT_RUNAWAY_MAX;
    if (r->nrunaway < SR_SCRIPT_RUNAWAY_MAX)
        r->nrunaway++;
    unsigned recent = 0;
    for (unsigned k = 0; k < r->nrunaway; k++)
        recent += now_ms - r->runaway_at[k] <= window_ms;
    int was = atomic_load(&r->disabled);
    if (!was && limit > 0 && recent >= limit) {
        atomic_store(&r->disabled, 1);
        r->disablings++;
        sr_error("script",
                 "site script %s%s%s ran away %u times within %llu s (timeouts or memory); "
                 "disabled until the next reload: its events are dead-lettered with stage "
                 "'disabled'",
                 r->path, *r->integration ? " of integration " : "", r->integration, recent,
                 (unsigned long long)(window_ms / 1000));
    }
    int now = atomic_load(&r->disabled);
    pthread_mutex_unlock(&s->mu);
    return now;
}

int sr_script_stats_disabled(const sr_script_stats *s, int i) {
    if (!s || i < 0 || (size_t)i >= s->nrows)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&s->mu);
    const row *r = s->rows[i];
    pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
    return atomic_load(&r->disabled);
}

void sr_script_stats_enable_all(sr_script_stats *s) {
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nrows; i++) {
        row *r = s->rows[i];
        if (atomic_load(&r->disabled))
            sr_info("script", "site script %s%s%s enabled again by the reload", r->path,
                    *r->integration ? " of integration " : "", r->integration);
        atomic_store(&r->disabled, 0);
        r->nrunaway = r->next_runaway = 0;
    }
    pthread_mutex_unlock(&s->mu);
}

void sr_script_stats_abandoned(sr_script_stats *s, size_t bytes) {
    if (!s)
        return;
    atomic_fetch_add(&s->abandoned_states, 1);
    atomic_fetch_add(&s->abandoned_bytes, bytes);
}

void sr_script_stats_abandoned_get(const sr_script_stats *s, uint64_t *states, uint64_t *bytes) {
    *states = s ? atomic_load(&s->abandoned_states) : 0;
    *bytes = s ? atomic_load(&s->abandoned_bytes) : 0;
}

void sr_script_stats_unknown_route(sr_script_stats *s, const char *name, size_t len) {
    atomic_fetch_add_explicit(&s->unknown_routes, 1, memory_order_relaxed);
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nunknown; i++)
        if (strlen(s->unknown[i]) == len && memcmp(s->unknown[i], name, len) == 0)
            goto done;
    char **u = realloc(s->unknown, (s->nunknown + 1) * sizeof *u);
    char *copy = u ? strndup(name, len) : NULL;
    if (u)
        s->unknown = u;
    if (copy)
        s->unknown[s->nunknown++] = copy;
    sr_warn("script",
            "ev:route/ev:unroute: no integration is named '%.*s'; counted in "
            "siemrelay_script_unknown_routes_total, logged only once",
            (int)(len > 200 ? 200 : len), name);
done:
    pthread_mutex_unlock(&s->mu);
}

uint64_t sr_script_stats_unknown_routes(const sr_script_stats *s) {
    return atomic_load_explicit(&s->unknown_routes, memory_order_relaxed);
}

void sr_script_log(sr_script_stats *s, int level, const char *where, size_t wlen, const char *msg,
                   size_t mlen, const char *fields, size_t flen) {
    if (level < SR_LOG_DEBUG || level > SR_LOG_ERROR || !sr_log_enabled((sr_log_level)level))
        return;
    uint64_t held = 0;
    if (s) {
        sr_buf key = SR_BUF_INIT;
        int rc = sr_buf_append(&key, where, wlen) || sr_buf_putc(&key, '|') ||
                 sr_buf_append(&key, msg, mlen);
        int allow = rc || sr_log_limit_allow(s->log_limit, key.data, key.len, &held);
        sr_buf_free(&key);
        if (!allow)
            return;
    }
    sr_buf script = SR_BUF_INIT;
    char count[32];
    sr_log_field f[3];
    size_t n = 0;
    if (sr_buf_json_string(&script, where, wlen) == 0)
        f[n++] = (sr_log_field){"script", script.data, script.len};
    if (flen)
        f[n++] = (sr_log_field){"fields", fields, flen};
    if (held) {
        snprintf(count, sizeof count, "%llu", (unsigned long long)held);
        f[n++] = (sr_log_field){"suppressed", count, strlen(count)};
    }
    sr_log_fields((sr_log_level)level, "script", f, n, "%.*s", (int)(mlen > 4096 ? 4096 : mlen),
                  msg);
    sr_buf_free(&script);
}
