/* hec_check.h - what the benchmark's HEC receiver does with a request body:
 * split it into envelopes, count the W1 events they carry, and check a
 * sample of them against the generator, byte for byte.
 *
 * A body is HEC's batch format: envelopes {"time":..,"host":..,"source":..,
 * "sourcetype":..,"event":{..}} back to back, optionally separated by white
 * space. Each event is identified by the index in its id (w1.h); a bitmap
 * of seen indexes tells new events from duplicates (a retried batch). For
 * every `verify_every`-th index the event is regenerated from the seed and
 * must equal what arrived exactly (the transform's fields included, in
 * order), and the envelope's time, host, source and sourcetype must be
 * right. Its bench_ts_ns (the sender's CLOCK_MONOTONIC send time) gives
 * each event's latency.
 *
 * No I/O here: the receiver and the standalone ceiling test share it. */
#ifndef HEC_CHECK_H
#define HEC_CHECK_H

#include <stddef.h>
#include <stdint.h>

enum {
    HEC_PLAIN = 0,       /* no site script: events as generated */
    HEC_TRANSFORMED = 1, /* the W1 transform: drops and added fields expected */
    HEC_REDACTED = 2,    /* the transform and labels["aws.accountId"] redacted (w1_redact) */
};

typedef struct hec_checker {
    /* settings */
    uint64_t seed;
    int transformed;       /* HEC_* below: what the site script did */
    unsigned verify_every; /* 1 checks every event; 0 none */
    /* counters */
    uint64_t events;            /* envelopes counted */
    uint64_t unique;            /* distinct event indexes */
    uint64_t duplicates;        /* envelopes whose index was already seen */
    uint64_t verified;          /* events checked in full */
    uint64_t mismatches;        /* checks that failed (first one kept in `first_error`) */
    uint64_t first_ns, last_ns; /* receipt of the first and last event, CLOCK_MONOTONIC */
    char first_error[768];
    /* state */
    uint8_t *seen;
    size_t seen_bytes;
    uint32_t *lat_us; /* latency of each stamped event, microseconds */
    size_t nlat, lat_cap;
    size_t lat_sorted; /* nlat when the samples were last sorted */
} hec_checker;

void hec_checker_init(hec_checker *c, uint64_t seed, int transformed, unsigned verify_every);
/* Forgets every counter and seen index; the settings stay. */
void hec_checker_reset(hec_checker *c);
void hec_checker_free(hec_checker *c);

/* Counts and checks the envelopes of one body received at `now_ns`. Returns
 * the number of envelopes, or -1 when the body is not a sequence of JSON
 * objects; `*bad` is then the 0-based number of the envelope that failed. */
long hec_check_body(hec_checker *c, const char *p, size_t n, uint64_t now_ns, size_t *bad);

/* Latency percentiles (q in [0,1]) over the stamped events, in microseconds;
 * sorts the samples (call it after a run, not during one). 0 when none. */
uint32_t hec_checker_latency(hec_checker *c, double q);

#endif
