/* hec_load.c - the HEC receiver's own ceiling, without a gateway.
 *
 *   hec_load --connect HOST:PORT --token T [--seed S] [--events N]
 *            [--distinct K] [--batch B] [--no-transform]
 *
 * Pre-generates the requests a gateway would send for the first K W1
 * events (the transform applied unless --no-transform, SPLUNK envelopes, B
 * envelopes per request), then sends them over one keep-alive connection,
 * one request at a time like the gateway's sink, until N events went,
 * cycling through the K (repeats count as duplicates at the receiver, which
 * does the same work for them). Events are stamped with their send time so
 * the receiver's latency bookkeeping is exercised too.
 *
 * Prints events/s over the wire, and the receiver's CPU seconds for the run
 * (from GET /bench/stats): events per receiver CPU-second is its ceiling on
 * a core of its own, which is the figure to compare with the gateway's
 * throughput. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_net.h"
#include "w1.h"

typedef struct {
    char *data;
    size_t len;
    size_t *events; /* offset of each event */
    size_t nevents;
} request;

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) {
        fputs("hec_load: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

/* Reads one response; returns its status, its body in `body` (NUL-ended). */
static int read_response(int fd, char *body, size_t cap) {
    static char buf[65536];
    size_t len = 0;
    for (;;) {
        char *end = memmem(buf, len, "\r\n\r\n", 4);
        if (end) {
            size_t head = (size_t)(end - buf) + 4;
            char *cl = memmem(buf, head, "Content-Length:", 15);
            size_t blen = cl ? strtoul(cl + 15, NULL, 10) : 0;
            if (len >= head + blen) {
                size_t n = blen < cap - 1 ? blen : cap - 1;
                memcpy(body, buf + head, n);
                body[n] = 0;
                return atoi(buf + 9);
            }
        }
        if (len == sizeof buf)
            return -1;
        ssize_t r = read(fd, buf + len, sizeof buf - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        len += (size_t)r;
    }
}

static int http(int fd, const char *head, const char *body, size_t blen, char *out, size_t cap) {
    if (bench_write_all(fd, head, strlen(head)) != 0 ||
        (blen && bench_write_all(fd, body, blen) != 0))
        return -1;
    return read_response(fd, out, cap);
}

/* Builds the requests for the first k events, `per` envelopes each. */
static request *build(uint64_t seed, uint64_t k, size_t per, int transformed, const char *token,
                      size_t *nreq) {
    size_t cap = (size_t)(k / per + 2);
    request *reqs = calloc(cap, sizeof *reqs);
    char ev[W1_MAX_EVENT], want[W1_MAX_EVENT + 128];
    size_t body_cap = per * (W1_MAX_EVENT + 512);
    char *body = xmalloc(body_cap);
    size_t n = 0, blen = 0, nev = 0;
    size_t *starts = xmalloc(per * sizeof *starts);
    for (uint64_t i = 0; i <= k; i++) {
        if (i < k) {
            w1_info info;
            size_t len = w1_event(seed, i, ev, &info);
            if (transformed && !w1_kept(&info))
                continue;
            size_t wl = w1_expected(ev, len, &info, transformed, want);
            char t[32];
            w1_time_text(info.timestamp, t);
            blen += (size_t)snprintf(body + blen, body_cap - blen,
                                     "{\"time\":%s,\"host\":\"%s\",\"source\":\"siemrelay\","
                                     "\"sourcetype\":\"%s%s\",\"event\":",
                                     t, info.host,
                                     info.kind == W1_POLICY ? "sysdig:secure:policy"
                                                            : "sysdig:secure:activity:",
                                     info.kind == W1_POLICY ? "" : w1_kind_name(info.kind));
            starts[nev++] = blen;
            memcpy(body + blen, want, wl);
            blen += wl;
            body[blen++] = '}';
        }
        if (nev == per || (i == k && nev)) {
            char head[512];
            int hl = snprintf(head, sizeof head,
                              "POST /services/collector/event HTTP/1.1\r\nHost: bench\r\n"
                              "Authorization: Splunk %s\r\nContent-Type: application/json\r\n"
                              "Content-Length: %zu\r\n\r\n",
                              token, blen);
            request *r = &reqs[n++];
            r->len = (size_t)hl + blen;
            r->data = xmalloc(r->len);
            memcpy(r->data, head, (size_t)hl);
            memcpy(r->data + hl, body, blen);
            r->nevents = nev;
            r->events = xmalloc(nev * sizeof *r->events);
            for (size_t e = 0; e < nev; e++)
                r->events[e] = starts[e] + (size_t)hl;
            blen = nev = 0;
        }
    }
    free(body);
    free(starts);
    *nreq = n;
    return reqs;
}

static double json_number(const char *doc, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(doc, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

int main(int argc, char **argv) {
    const char *spec = NULL, *token = NULL;
    uint64_t seed = 1, total = 1000000, distinct = 100000;
    size_t per = 500;
    int transformed = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--connect") && i + 1 < argc)
            spec = argv[++i];
        else if (!strcmp(argv[i], "--token") && i + 1 < argc)
            token = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--events") && i + 1 < argc)
            total = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--distinct") && i + 1 < argc)
            distinct = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            per = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--no-transform"))
            transformed = 0;
        else
            spec = NULL, i = argc;
    }
    if (!spec || !token || !per || !distinct) {
        fputs("usage: hec_load --connect HOST:PORT --token T [--seed S] [--events N] "
              "[--distinct K] [--batch B] [--no-transform]\n",
              stderr);
        return 2;
    }
    size_t nreq;
    request *reqs = build(seed, distinct, per, transformed, token, &nreq);
    int fd = bench_connect(spec, "hec_load");
    if (fd < 0)
        return 1;
    char resp[4096];
    if (http(fd, "POST /bench/reset HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n", NULL, 0,
             resp, sizeof resp) != 200) {
        fputs("hec_load: the receiver refused /bench/reset\n", stderr);
        return 1;
    }
    /* The receiver's CPU time is its process total: take the difference. */
    if (http(fd, "GET /bench/stats HTTP/1.1\r\nHost: bench\r\n\r\n", NULL, 0, resp, sizeof resp) !=
        200) {
        fputs("hec_load: no stats from the receiver\n", stderr);
        return 1;
    }
    double cpu0 = json_number(resp, "cpu_s");
    uint64_t sent = 0, bytes = 0, start = bench_now_ns();
    for (size_t i = 0; sent < total; i = (i + 1) % nreq) {
        request *r = &reqs[i];
        uint64_t t = bench_now_ns();
        for (size_t e = 0; e < r->nevents; e++)
            w1_stamp(r->data + r->events[e], r->len - r->events[e], t);
        if (bench_write_all(fd, r->data, r->len) != 0) {
            perror("hec_load: write");
            return 1;
        }
        int st = read_response(fd, resp, sizeof resp);
        if (st != 200) {
            fprintf(stderr, "hec_load: HTTP %d: %s\n", st, resp);
            return 1;
        }
        sent += r->nevents;
        bytes += r->len;
    }
    double secs = (double)(bench_now_ns() - start) / 1e9;
    if (http(fd, "GET /bench/stats HTTP/1.1\r\nHost: bench\r\n\r\n", NULL, 0, resp, sizeof resp) !=
        200) {
        fputs("hec_load: no stats from the receiver\n", stderr);
        return 1;
    }
    double cpu = json_number(resp, "cpu_s") - cpu0, mism = json_number(resp, "mismatches");
    double verified = json_number(resp, "verified");
    printf("hec_load: %llu events in %.2f s over one connection: %.0f events/s, %.0f MB/s; "
           "receiver %.2f CPU s = %.0f events per receiver CPU-second\n",
           (unsigned long long)sent, secs, (double)sent / secs, (double)bytes / secs / 1e6, cpu,
           cpu > 0 ? (double)sent / cpu : 0.0);
    printf("{\"events\":%llu,\"seconds\":%.3f,\"events_per_s\":%.0f,\"receiver_cpu_s\":%.3f,"
           "\"receiver_events_per_cpu_s\":%.0f,\"verified\":%.0f,\"mismatches\":%.0f}\n",
           (unsigned long long)sent, secs, (double)sent / secs, cpu,
           cpu > 0 ? (double)sent / cpu : 0.0, verified, mism);
    close(fd);
    for (size_t i = 0; i < nreq; i++) {
        free(reqs[i].data);
        free(reqs[i].events);
    }
    free(reqs);
    return mism == 0 ? 0 : 1;
}
