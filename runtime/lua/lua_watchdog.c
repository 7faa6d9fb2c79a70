/* lua_watchdog.c - stopping site scripts that never return.
 *
 * A per-event time budget is enforced in two steps, because a count hook
 * never fires inside JIT-compiled code:
 *
 *  1. The watchdog thread sees the batch's progress counter stuck for
 *     timeout_ms and sets a count hook (lua_sethook is async-safe). In
 *     interpreted code the hook raises "script exceeded its time budget",
 *     which the pipeline's pcall records as a timeout for that event.
 *  2. Still stuck one more timeout later (the loop is a compiled trace), it
 *     sends SR_LUA_INTERRUPT_SIGNAL to the worker. The handler siglongjmp()s
 *     back into sr_lua_watched_pcall() and the caller abandons the state.
 *
 * Jumping out of malloc or out of our own C code would leave locks held or
 * structures half-updated that outlive the state, so such regions are
 * bracketed by a thread-local depth counter (the allocator wrapper, the FFI
 * entry points, and wrapped C libraries). A signal that lands inside one only
 * marks the jump pending; the region's exit takes it.
 *
 * The handler acts only on the event it was sent for (epoch and progress
 * match), so a signal that arrives late never kills an innocent event.
 *
 * Building a state (lua_state.c) runs under a watchdog of its own with the
 * load budget, which interrupts at once (step 2 only): a failed build is
 * thrown away anyway.
 *
 * The allocator also enforces the state's memory limit, and tracks every
 * block, so the heap of an abandoned state can be freed without the state. */
#include "lua_host_impl.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "log.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#define SR_LUA_INTERRUPT_SIGNAL (SIGRTMIN + 5)
#define SR_LUA_HOOK_COUNT       1000

struct sr_lua_watchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    sr_lua_batch *batch;
    unsigned long long timeout_ms;
    int first_level; /* 1: interrupt at once, without trying the hook first */
    /* The call being watched; written by the worker under mu. */
    int active;
    lua_State *L;
    pthread_t worker;
    uint32_t epoch; /* bumped per watched call */
    /* What the escalations were aimed at, read by the hook and handler. */
    uint32_t hook_epoch, hook_progress;
    uint32_t kill_epoch, kill_progress;
};

/* The only process-global state of the Lua host: what the interrupt signal
 * handler of this thread needs, and so must reach without arguments. */
struct sr_lua_interrupt {
    sigjmp_buf *jmp;     /* armed while a watched call runs */
    sr_lua_watchdog *wd; /* ... and who watches it */
    volatile sig_atomic_t depth;
    volatile sig_atomic_t pending;
};
static _Thread_local struct sr_lua_interrupt sr_lua_tls_interrupt;

static uint32_t load_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static void store_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }

/* ---- The guard ---------------------------------------------------------- */

static int target_is_current(const sr_lua_watchdog *wd) {
    return load_u32(&wd->kill_epoch) == load_u32(&wd->epoch) &&
           load_u32(&wd->kill_progress) == load_u32(&wd->batch->progress);
}

void sr_lua_guard_enter(void) {
    sr_lua_tls_interrupt.depth++;
    atomic_signal_fence(memory_order_seq_cst);
}

/* Leaving the outermost region takes a jump the handler left pending. */
void sr_lua_guard_leave(void) {
    struct sr_lua_interrupt *t = &sr_lua_tls_interrupt;
    atomic_signal_fence(memory_order_seq_cst);
    t->depth--;
    atomic_signal_fence(memory_order_seq_cst);
    if (t->depth == 0 && t->pending && t->jmp) {
        t->pending = 0;
        siglongjmp(*t->jmp, 1);
    }
}

/* Every block a state allocates is linked into its heap. A state the
 * watchdog abandons is never closed, but its heap still reaches all of its
 * memory: LuaJIT keeps some blocks referenced only from machine code, which
 * LeakSanitizer does not scan, so the state alone would not do. */
typedef struct sr_lua_block {
    struct sr_lua_block *prev, *next;
} sr_lua_block; /* 16 bytes: keeps malloc's alignment for what follows */

/* Small blocks are what every Lua string and table part of an event is:
 * freed ones wait in per-size lists (by 16-byte class, up to 256 bytes)
 * for the next allocation of their class instead of going back to malloc.
 * A cached block is out of the ring but reachable from its heap. */
#define CACHE_CLASSES   16
#define CACHE_MAX_BYTES ((size_t)1 << 20) /* per heap */

struct sr_lua_heap {
    sr_lua_block ring; /* sentinel of a circular list */
    size_t bytes;
    sr_lua_block *cache[CACHE_CLASSES]; /* through ->next */
    size_t cached_bytes;
    size_t limit;       /* 0: none */
    uint32_t *exceeded; /* set when the limit refused an allocation; may be NULL */
};

/* Once the limit has refused an allocation, this much more is allowed
 * until the flag is cleared: enough for the error's traceback, the dead
 * letter's message and the collection that follows. */
#define SR_LUA_HEAP_SLACK ((size_t)1 << 20)

sr_lua_heap *sr_lua_heap_new(void) {
    sr_lua_heap *heap = calloc(1, sizeof *heap);
    if (heap)
        heap->ring.prev = heap->ring.next = &heap->ring;
    return heap;
}

void sr_lua_heap_free(sr_lua_heap *heap) {
    if (!heap)
        return;
    for (size_t c = 0; c < CACHE_CLASSES; c++)
        for (sr_lua_block *b = heap->cache[c], *next; b; b = next) {
            next = b->next;
            free(b);
        }
    free(heap);
}

/* 1..CACHE_CLASSES for sizes the cache serves (a block of class c holds
 * c * 16 bytes), 0 for larger ones. */
static size_t size_class(size_t n) { return n <= CACHE_CLASSES * 16 ? (n + 15) / 16 : 0; }

/* A block for n bytes: a cached one of its class, else from malloc (with
 * its class's full size, so it can go back to the cache). */
static sr_lua_block *block_get(sr_lua_heap *heap, size_t n) {
    size_t c = size_class(n);
    sr_lua_block *b = c ? heap->cache[c - 1] : NULL;
    if (!b)
        return malloc(sizeof *b + (c ? c * 16 : n));
    heap->cache[c - 1] = b->next;
    heap->cached_bytes -= c * 16;
    return b;
}

/* Gives back a block of n bytes: to its class's list while the cache has
 * room, else to malloc. */
static void block_put(sr_lua_heap *heap, sr_lua_block *b, size_t n) {
    size_t c = size_class(n);
    if (!c || heap->cached_bytes + c * 16 > CACHE_MAX_BYTES) {
        free(b);
        return;
    }
    b->next = heap->cache[c - 1];
    heap->cache[c - 1] = b;
    heap->cached_bytes += c * 16;
}

size_t sr_lua_heap_bytes(const sr_lua_heap *heap) { return heap->bytes; }

void sr_lua_heap_limit(sr_lua_heap *heap, size_t limit, uint32_t *exceeded) {
    heap->limit = limit;
    heap->exceeded = exceeded;
}

#if defined(__SANITIZE_ADDRESS__)
/* What C allocated for the state and only the state points to (lua-cjson's
 * buffers, event.lua's scratch buffers, freed by finalizers that will never
 * run) stays behind, a few KiB per abandoned state: LeakSanitizer is told
 * about every object a word of the heap points to. */
static void lsan_ignore_referenced(const sr_lua_heap *heap) {
    for (const sr_lua_block *b = heap->ring.next; b != &heap->ring; b = b->next) {
        const uintptr_t *w = (const uintptr_t *)(b + 1);
        size_t n = (malloc_usable_size((void *)b) - sizeof *b) / sizeof *w;
        for (size_t i = 0; i < n; i++)
            if (w[i] > 4096)
                __lsan_ignore_object((const void *)w[i]);
    }
}
#else
static void lsan_ignore_referenced(const sr_lua_heap *heap) { (void)heap; }
#endif

size_t sr_lua_heap_release(sr_lua_heap *heap) {
    if (!heap)
        return 0;
    size_t bytes = heap->bytes;
    lsan_ignore_referenced(heap);
    for (sr_lua_block *b = heap->ring.next, *next; b != &heap->ring; b = next) {
        next = b->next;
        free(b);
    }
    heap->ring.prev = heap->ring.next = &heap->ring;
    heap->bytes = 0;
    sr_lua_heap_free(heap);
    return bytes;
}

/* Whether growing the heap by `grow` bytes stays within its limit. The
 * first refusal raises the flag, which buys SR_LUA_HEAP_SLACK for handling
 * the error; the owner clears it once the state has collected. */
static int within_limit(sr_lua_heap *heap, size_t grow) {
    if (!heap->limit || !grow)
        return 1;
    size_t allowed = heap->limit;
    if (heap->exceeded && *heap->exceeded)
        allowed += SR_LUA_HEAP_SLACK;
    if (heap->bytes + grow <= allowed)
        return 1;
    if (heap->exceeded)
        *heap->exceeded = 1;
    return 0;
}

static void block_link(sr_lua_heap *heap, sr_lua_block *b) {
    b->prev = &heap->ring;
    b->next = heap->ring.next;
    b->next->prev = b;
    heap->ring.next = b;
}

static void block_unlink(sr_lua_block *b) {
    b->prev->next = b->next;
    b->next->prev = b->prev;
}

/* The whole body is a guarded region, so an interrupt never finds the
 * heap's list half-updated nor malloc's locks held. */
void *sr_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    sr_lua_heap *heap = ud;
    sr_lua_block *old = ptr ? (sr_lua_block *)ptr - 1 : NULL;
    void *p = NULL;

    size_t oc = old ? size_class(osize) : 0, nc = nsize ? size_class(nsize) : 0;
    if (!within_limit(heap, nsize > (old ? osize : 0) ? nsize - (old ? osize : 0) : 0))
        return NULL; /* Lua raises "not enough memory"; the old block stays */
    sr_lua_guard_enter();
    if (old)
        block_unlink(old);
    if (nsize == 0) {
        if (old)
            block_put(heap, old, osize);
        heap->bytes -= old ? osize : 0;
    } else {
        sr_lua_block *b;
        if (old && oc && oc == nc) {
            b = old; /* still fits its class */
        } else if (nc || oc) {
            /* Into or out of a class: a fresh block, then the old one goes. */
            b = block_get(heap, nsize);
            if (b && old) {
                memcpy(b + 1, old + 1, osize < nsize ? osize : nsize);
                block_put(heap, old, osize);
            }
        } else {
            b = realloc(old, sizeof *b + nsize);
        }
        if (b) {
            block_link(heap, b);
            heap->bytes += nsize - (old ? osize : 0);
            p = b + 1;
        } else if (old) {
            block_link(heap, old); /* a failed allocation keeps the old block */
        }
    }
    sr_lua_guard_leave();
    return p;
}

static void interrupt_handler(int sig) {
    (void)sig;
    struct sr_lua_interrupt *t = &sr_lua_tls_interrupt;
    if (!t->jmp || !target_is_current(t->wd))
        return;
    if (t->depth > 0) {
        t->pending = 1;
        return;
    }
    siglongjmp(*t->jmp, 1);
}

static void timeout_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    struct sr_lua_interrupt *t = &sr_lua_tls_interrupt;
    lua_sethook(L, NULL, 0, 0);
    sr_lua_watchdog *wd = t->wd;
    if (!wd || load_u32(&wd->hook_epoch) != load_u32(&wd->epoch) ||
        load_u32(&wd->hook_progress) != load_u32(&wd->batch->progress))
        return; /* the slow event finished before the hook came round */
    wd->batch->timed_out = 1;
    luaL_error(L, "script exceeded its time budget (%d ms)", (int)wd->timeout_ms);
}

/* Calls a C function with the guard held. A Lua error inside is caught and
 * re-raised after leaving the guard, so the depth never stays raised. */
static int guarded_call(lua_State *L) {
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    sr_lua_guard_enter();
    int rc = lua_pcall(L, n, LUA_MULTRET, 0);
    sr_lua_guard_leave();
    if (rc != 0)
        return lua_error(L);
    return lua_gettop(L);
}

void sr_lua_guard_table(lua_State *L, int idx) {
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_iscfunction(L, -1)) {
            lua_pushvalue(L, -2);
            lua_pushvalue(L, -2);
            lua_pushcclosure(L, guarded_call, 1);
            lua_rawset(L, idx); /* replacing an existing key is allowed mid-traversal */
        }
        lua_pop(L, 1);
    }
}

/* ---- The watched call -------------------------------------------------- */

static void watch_begin(sr_lua_watchdog *wd, lua_State *L) {
    pthread_mutex_lock(&wd->mu);
    wd->L = L;
    wd->worker = pthread_self();
    store_u32(&wd->epoch, wd->epoch + 1);
    wd->active = 1;
    pthread_mutex_unlock(&wd->mu);
}

/* Returns with the watchdog no longer able to touch L. */
static void watch_end(sr_lua_watchdog *wd) {
    pthread_mutex_lock(&wd->mu);
    wd->active = 0;
    wd->L = NULL;
    pthread_mutex_unlock(&wd->mu);
}

int sr_lua_watched_pcall(sr_lua_watchdog *wd, lua_State *L, int nargs) {
    struct sr_lua_interrupt *t = &sr_lua_tls_interrupt;
    sigjmp_buf jmp;
    if (!wd)
        return lua_pcall(L, nargs, 0, 0);

    watch_begin(wd, L);
    if (sigsetjmp(jmp, 1) != 0) {
        t->jmp = NULL;
        t->wd = NULL;
        t->depth = 0;
        t->pending = 0;
        watch_end(wd);
        return SR_LUA_INTERRUPTED;
    }
    t->wd = wd;
    atomic_signal_fence(memory_order_seq_cst);
    t->jmp = &jmp;
    int rc = lua_pcall(L, nargs, 0, 0);
    t->jmp = NULL;
    atomic_signal_fence(memory_order_seq_cst);
    t->wd = NULL;
    watch_end(wd);
    /* A hook the watchdog set just before the batch ended must not fire in
     * whatever the thread runs next on this state. */
    lua_sethook(L, NULL, 0, 0);
    return rc;
}

/* ---- The watchdog thread ----------------------------------------------- */

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void escalate(sr_lua_watchdog *wd, int level) {
    uint32_t progress = load_u32(&wd->batch->progress);
    if (level == 0) {
        store_u32(&wd->hook_progress, progress);
        store_u32(&wd->hook_epoch, wd->epoch);
        lua_sethook(wd->L, timeout_hook, LUA_MASKCOUNT, SR_LUA_HOOK_COUNT);
        return;
    }
    store_u32(&wd->kill_progress, progress);
    store_u32(&wd->kill_epoch, wd->epoch);
    pthread_kill(wd->worker, SR_LUA_INTERRUPT_SIGNAL);
}

static void *watchdog_main(void *arg) {
    sr_lua_watchdog *wd = arg;
    uint64_t period = wd->timeout_ms / 4 ? wd->timeout_ms / 4 : 1;
    uint32_t last_epoch = 0, last_progress = 0;
    uint64_t since = now_ms();
    int level = wd->first_level;

    pthread_mutex_lock(&wd->mu);
    while (!wd->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(period / 1000);
        until.tv_nsec += (long)(period % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&wd->cv, &wd->mu, &until);
        if (wd->stop || !wd->active) {
            level = wd->first_level;
            continue;
        }
        uint32_t progress = load_u32(&wd->batch->progress);
        uint64_t now = now_ms();
        if (wd->epoch != last_epoch || progress != last_progress) {
            last_epoch = wd->epoch;
            last_progress = progress;
            since = now;
            level = wd->first_level;
            continue;
        }
        if (now - since < wd->timeout_ms)
            continue;
        escalate(wd, level);
        /* After the hook, wait a whole timeout for it; after a signal, try
         * again every period until the thread leaves the guarded region. */
        if (level == 0) {
            level = 1;
            since = now;
        } else {
            since = now - wd->timeout_ms + period;
        }
    }
    pthread_mutex_unlock(&wd->mu);
    return NULL;
}

static void install_handler(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = interrupt_handler;
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SR_LUA_INTERRUPT_SIGNAL, &sa, NULL) != 0)
        sr_error("lua", "cannot install the script interrupt handler: %s", strerror(errno));
}

sr_lua_watchdog *sr_lua_watchdog_new(sr_lua_batch *batch, unsigned long long timeout_ms,
                                     int interrupt_first, char *err, size_t errlen) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_condattr_t ca;
    int rc;

    pthread_once(&once, install_handler);
    /* The calling thread is the one watched; some (libuv's threadpool)
     * start with signals blocked. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SR_LUA_INTERRUPT_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    sr_lua_watchdog *wd = calloc(1, sizeof *wd);
    if (!wd)
        goto fail_alloc;
    wd->batch = batch;
    wd->timeout_ms = timeout_ms;
    wd->first_level = interrupt_first ? 1 : 0;
    pthread_mutex_init(&wd->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wd->cv, &ca);
    pthread_condattr_destroy(&ca);
    rc = pthread_create(&wd->thread, NULL, watchdog_main, wd);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the script watchdog: %s", strerror(rc));
        goto fail;
    }
    return wd;

fail:
    pthread_cond_destroy(&wd->cv);
    pthread_mutex_destroy(&wd->mu);
    free(wd);
    return NULL;
fail_alloc:
    snprintf(err, errlen, "out of memory");
    return NULL;
}

void sr_lua_watchdog_free(sr_lua_watchdog *wd) {
    if (!wd)
        return;
    pthread_mutex_lock(&wd->mu);
    wd->stop = 1;
    pthread_cond_signal(&wd->cv);
    pthread_mutex_unlock(&wd->mu);
    pthread_join(wd->thread, NULL);
    pthread_cond_destroy(&wd->cv);
    pthread_mutex_destroy(&wd->mu);
    free(wd);
}
