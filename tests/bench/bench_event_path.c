/* bench_event_path.c - nanoseconds per event on the worker's path:
 * decode (split NDJSON and parse each event) -> site script -> routing ->
 * SPLUNK encode, through the same library calls a worker makes
 * (sr_ingest_batch_parse, then sr_lua_host_process in chunks of 256).
 *
 *   bench_event_path [--events K] [--rounds R] [--threads T] [--batch B]
 *                    [--no-script] [--script FILE] [--sandbox] [--seed S]
 * (--script: the site script instead of lua/examples/w1_transform.lua; it
 * must keep and drop what the W1 transform does; --sandbox: it runs
 * sandboxed, as with `script_sandbox: true`, so it gets the event's view)
 *
 * K distinct W1 events (w1.h) are generated up front, cut into NDJSON
 * batches of B events, and run R times. With T threads each thread has its
 * own Lua host (as each gateway worker has) and runs the whole set R times;
 * the aggregate rate against T = 1 is the worker stage's scaling, measured
 * without sender, receiver, event loop or delivery in the way. Prints a
 * human line and a JSON line. Not a ctest.
 *
 * The decode and script times are the thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID): on a shared machine, time other processes
 * take from the thread does not count (cache effects of theirs still do).
 * events/s is wall-clock. */
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_batch.h"
#include "yaml_load.h"
#include "bench_net.h"
#include "lua_host.h"
#include "node.h"
#include "w1.h"

#define LUA_CHUNK 256 /* as the worker pool does */

typedef struct {
    char **data;
    size_t *len;
    size_t nbatches;
    uint64_t nevents, kept;
} workload;

typedef struct {
    sr_lua_host *host;
    const workload *w;
    int rounds;
    pthread_barrier_t *start;
    double parse_ns, process_ns;
    uint64_t events, records, dropped, fails;
} job;

static void make_workload(workload *w, uint64_t seed, uint64_t k, size_t per_batch) {
    memset(w, 0, sizeof *w);
    w->nbatches = (size_t)((k + per_batch - 1) / per_batch);
    w->data = calloc(w->nbatches, sizeof *w->data);
    w->len = calloc(w->nbatches, sizeof *w->len);
    char ev[W1_MAX_EVENT];
    for (size_t b = 0; b < w->nbatches; b++) {
        size_t cap = per_batch * (W1_MAX_EVENT + 1), off = 0;
        w->data[b] = malloc(cap);
        for (uint64_t i = b * per_batch; i < k && i < (b + 1) * per_batch; i++) {
            w1_info info;
            size_t n = w1_event(seed, i, ev, &info);
            memcpy(w->data[b] + off, ev, n);
            w->data[b][off + n] = '\n';
            off += n + 1;
            w->nevents++;
            w->kept += (uint64_t)w1_kept(&info);
        }
        w->len[b] = off;
    }
}

static double thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void ingest_noop(void *ud, const sr_ingest_reply *reply) { (void)ud, (void)reply; }

static void *run(void *arg) {
    job *j = arg;
    const workload *w = j->w;
    sr_event_limits limits = {.max_depth = SR_JSON_DEFAULT_MAX_DEPTH, .max_fields = 1024};
    pthread_barrier_wait(j->start);
    for (int r = 0; r < j->rounds; r++) {
        for (size_t b = 0; b < w->nbatches; b++) {
            /* The gateway hands a worker a copy it owns, as here. */
            char *copy = malloc(w->len[b]);
            memcpy(copy, w->data[b], w->len[b]);
            sr_ingest_batch *bt =
                sr_ingest_batch_new(copy, w->len[b], SR_BODY_NDJSON, 1, "bench", ingest_noop, NULL);
            double t0 = thread_cpu_ns();
            sr_ingest_batch_parse(bt, &limits);
            double t1 = thread_cpu_ns();
            for (size_t s = 0; s < bt->nevents; s += LUA_CHUNK) {
                size_t k = bt->nevents - s < LUA_CHUNK ? bt->nevents - s : LUA_CHUNK;
                if (sr_lua_host_process(j->host, bt->events + s, k, &bt->emit) != 0) {
                    fputs("bench_event_path: Lua state lost\n", stderr);
                    exit(1);
                }
            }
            double t2 = thread_cpu_ns();
            j->parse_ns += t1 - t0;
            j->process_ns += t2 - t1;
            j->events += bt->nevents;
            j->records += bt->emit.nrecs;
            j->dropped += bt->emit.ndropped;
            j->fails += bt->emit.nfails + bt->nrejects;
            sr_ingest_batch_free(bt);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    uint64_t seed = 1, k = 20000;
    int rounds = 5, threads = 1, script = 1, sandbox = 0;
    const char *script_file = SR_SOURCE_LUA_DIR "/examples/w1_transform.lua";
    size_t per_batch = 1024;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--events") && i + 1 < argc)
            k = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            per_batch = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--no-script"))
            script = 0;
        else if (!strcmp(argv[i], "--script") && i + 1 < argc)
            script_file = argv[++i];
        else if (!strcmp(argv[i], "--sandbox"))
            sandbox = 1;
        else {
            fputs("usage: bench_event_path [--events K] [--rounds R] [--threads T] [--batch B] "
                  "[--no-script] [--script FILE] [--sandbox] [--seed S]\n",
                  stderr);
            return 2;
        }
    }
    if (k == 0 || rounds < 1 || threads < 1 || per_batch == 0)
        return 2;

    char err[1024];
    const char *yaml = "ServiceURL: http://127.0.0.1:9\nServiceToken: bench\n";
    sr_node *conf = sr_yaml_load_string("bench.yaml", yaml, strlen(yaml), err, sizeof err);
    if (!conf) {
        fprintf(stderr, "bench_event_path: %s\n", err);
        return 1;
    }
    const char *scripts[] = {script_file};
    sr_integration_spec spec = {.name = "hec",
                                .type = "SPLUNK",
                                .configuration = conf,
                                .min_severity = -1,
                                .file = "bench.yaml",
                                .line = 1};
    sr_lua_host_conf hc = {
        .lua_dir = SR_SOURCE_LUA_DIR,
        .scripts = scripts,
        .nscripts = script ? 1 : 0,
        .integrations = &spec,
        .nintegrations = 1,
        .transmit_message_types = SR_MT_POLICY_EVENTS | SR_MT_SECURE_AUDIT | SR_MT_MONITOR_EVENTS,
        .forwarder_enabled = 1,
        .script_timeout_ms = 200, /* the gateway's default: the watchdog is on the real path */
        .sandbox = sandbox,
    };

    workload w;
    make_workload(&w, seed, k, per_batch);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){.w = &w, .rounds = rounds, .start = &start};
        jobs[t].host = sr_lua_host_new(&hc, err, sizeof err);
        if (!jobs[t].host) {
            fprintf(stderr, "bench_event_path: %s\n", err);
            return 1;
        }
        pthread_create(&tids[t], NULL, run, &jobs[t]);
    }
    pthread_barrier_wait(&start);
    double t0 = (double)bench_now_ns();
    for (int t = 0; t < threads; t++)
        pthread_join(tids[t], NULL);
    double wall = (double)bench_now_ns() - t0;

    job sum = {0};
    for (int t = 0; t < threads; t++) {
        sum.parse_ns += jobs[t].parse_ns;
        sum.process_ns += jobs[t].process_ns;
        sum.events += jobs[t].events;
        sum.records += jobs[t].records;
        sum.dropped += jobs[t].dropped;
        sum.fails += jobs[t].fails;
        sr_lua_host_free(jobs[t].host);
    }
    /* The script drops severity 7; every other event becomes one record. */
    uint64_t want = (uint64_t)rounds * (uint64_t)threads * (script ? w.kept : w.nevents);
    if (sum.records != want || sum.fails) {
        fprintf(stderr, "bench_event_path: %llu records (expected %llu), %llu failures\n",
                (unsigned long long)sum.records, (unsigned long long)want,
                (unsigned long long)sum.fails);
        return 1;
    }
    double ev = (double)sum.events;
    double parse = sum.parse_ns / ev, process = sum.process_ns / ev;
    double rate = ev / (wall / 1e9);
    printf("event path (%s%s, %d thread%s): decode %.0f ns + script/route/encode %.0f ns = %.0f "
           "ns per event per thread; %.0f events/s in all\n",
           script ? script_file : "SPLUNK only", sandbox ? ", sandboxed" : "", threads,
           threads == 1 ? "" : "s", parse, process, parse + process, rate);
    printf("{\"threads\":%d,\"script\":%s,\"sandbox\":%s,\"events\":%llu,\"decode_ns\":%.1f,"
           "\"process_ns\":%.1f,"
           "\"total_ns\":%.1f,\"events_per_s\":%.0f}\n",
           threads, script ? "true" : "false", sandbox ? "true" : "false",
           (unsigned long long)sum.events, parse, process, parse + process, rate);
    for (size_t b = 0; b < w.nbatches; b++)
        free(w.data[b]);
    free(w.data);
    free(w.len);
    free(jobs);
    free(tids);
    sr_node_free(conf);
    return 0;
}
