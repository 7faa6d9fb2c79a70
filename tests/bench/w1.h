/* w1.h - the standard benchmark workload W1, one event at a time.
 *
 * Event i of seed s is a pure function of (s, i): the generator writes them
 * all, and the receiver regenerates any one of them to check what arrived
 * byte for byte. That is why there is no shared state and no sequence here.
 *
 * Mix (drawn per event): 60% runtime policy events with severity 0-7 evenly,
 * 40% activity audit (command, connection, fileaccess, kubernetes, 10% each).
 * Events are compact single-line JSON shaped like the samples in tests/data, about
 * 1.9 KB on average, with values varied per event. Every event starts with
 *   {"id":"<32 hex>","bench_ts_ns":"<20 digits>",...
 * The id's hex digits [W1_ID_INDEX_POS, +8) are the index, so a receiver can
 * tell which event it holds; bench_ts_ns is a fixed-width field a sender
 * overwrites with its send time (CLOCK_MONOTONIC, ns) for latency runs. Both
 * sit at fixed offsets so neither side has to search for them.
 *
 * Shared by gen_w1, send_tcp (offsets only), hec_recv and the
 * micro-benchmark; depends on nothing but libc. */
#ifndef W1_H
#define W1_H

#include <stddef.h>
#include <stdint.h>

#define W1_MAX_EVENT 6144 /* no event is longer (checked by w1_event) */

/* `{"id":"` is 7 bytes, the id 32, `","bench_ts_ns":"` 17. */
#define W1_ID_POS       7
#define W1_ID_INDEX_POS (W1_ID_POS + 16)
#define W1_TS_POS       (W1_ID_POS + 32 + 17)
#define W1_TS_DIGITS    20
#define W1_MAX_INDEX    0xffffffffu

typedef enum {
    W1_POLICY,
    W1_COMMAND,
    W1_CONNECTION,
    W1_FILEACCESS,
    W1_KUBERNETES,
    W1_NKINDS
} w1_kind;

/* What the gateway's transform and the SPLUNK envelope depend on. */
typedef struct w1_info {
    w1_kind kind;
    int severity;       /* 0..7 for policy events, -1 for audit */
    uint64_t timestamp; /* the event's "timestamp" (ns) */
    char host[64];      /* what SPLUNK puts in "host": hostname, else label host.hostName */
    char cluster[48];   /* labels["kubernetes.cluster.name"], "" when absent */
    int has_cluster;
} w1_info;

/* Writes event `index` of `seed` into out (W1_MAX_EVENT bytes), without a
 * newline; returns its length. */
size_t w1_event(uint64_t seed, uint64_t index, char *out, w1_info *info);

/* "policy", "command", ... (the event's "type"). */
const char *w1_kind_name(w1_kind k);

/* Whether the W1 site transform keeps the event (it drops severity 7). */
static inline int w1_kept(const w1_info *info) { return info->severity != 7; }

/* The event as the gateway must deliver it: with the transform, the original
 * bytes followed by "severity_label" (policy events only), "cluster" and
 * "gateway", in the order the script sets them; without, the original. `ev`
 * is w1_event's output; out needs W1_MAX_EVENT + 128 bytes. Returns the
 * length. */
size_t w1_expected(const char *ev, size_t n, const w1_info *info, int transformed, char *out);

/* The bench's redacting script (tests/bench/scripts/w1_redact.lua) applied
 * to an expected event in place: labels["aws.accountId"]'s value becomes
 * "[redacted]". `ev` holds n bytes and has room for W1_MAX_EVENT + 128;
 * returns the new length (n when the event has no such label). */
size_t w1_redact(char *ev, size_t n);

/* Writes `t` as the event's bench_ts_ns (20 digits, zero-padded) into the
 * event starting at `ev`, if it looks like a W1 event of length n. */
void w1_stamp(char *ev, size_t n, uint64_t t);

/* The SPLUNK envelope's "time": the timestamp as seconds with 9 decimals. */
size_t w1_time_text(uint64_t timestamp, char out[32]);

/* The deterministic random stream the generator draws from. */
static inline uint64_t w1_mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

#endif
