/* send_tcp.c - sends an NDJSON file over one TCP connection.
 *
 *   send_tcp --connect HOST:PORT --file F [--count N] [--rate EVENTS_PER_S]
 *
 * Without --rate it writes as fast as the peer takes the bytes, in large
 * writes, so TCP flow control (the gateway's back-pressure) sets the pace.
 * With --rate it sends on a fixed schedule (event k is due at k/rate
 * seconds), writing whatever is due in one go, for latency runs.
 *
 * Lines that look like W1 events (w1.h) get their bench_ts_ns overwritten
 * with the CLOCK_MONOTONIC time at which they are handed to write(): the
 * receiver subtracts it from its own clock for the latency. The file is
 * mapped read-only and copied into the write buffer, where the stamping
 * happens. At the end it prints one JSON line: events, bytes, start_ns,
 * end_ns, seconds, events_per_s. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_net.h"
#include "w1.h"

#define CHUNK (1u << 20)

/* Copies up to `max_events` whole lines (at most CHUNK bytes, but always at
 * least one line) from src into buf, stamping each; returns the bytes
 * copied and the lines through *lines. */
static size_t fill(const char *src, size_t avail, uint64_t max_events, char *buf, size_t cap,
                   uint64_t t, uint64_t *lines) {
    size_t off = 0;
    uint64_t k = 0;
    while (k < max_events && off < avail) {
        const char *nl = memchr(src + off, '\n', avail - off);
        size_t len = nl ? (size_t)(nl - (src + off)) + 1 : avail - off;
        if (off + len > cap && k > 0)
            break;
        if (off + len > cap) {
            fprintf(stderr, "send_tcp: line longer than %zu bytes\n", cap);
            exit(1);
        }
        memcpy(buf + off, src + off, len);
        w1_stamp(buf + off, len, t);
        off += len;
        k++;
    }
    *lines = k;
    return off;
}

int main(int argc, char **argv) {
    const char *spec = NULL, *path = NULL;
    uint64_t count = UINT64_MAX;
    double rate = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--connect") && i + 1 < argc)
            spec = argv[++i];
        else if (!strcmp(argv[i], "--file") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = strtod(argv[++i], NULL);
        else
            spec = NULL, i = argc;
    }
    if (!spec || !path) {
        fputs("usage: send_tcp --connect HOST:PORT --file F [--count N] [--rate EVENTS_PER_S]\n",
              stderr);
        return 2;
    }
    int rc = 1, in = open(path, O_RDONLY | O_CLOEXEC), fd = -1;
    const char *data = MAP_FAILED;
    char *buf = NULL;
    struct stat st = {0};
    if (in < 0 || fstat(in, &st) != 0) {
        perror(path);
        goto done;
    }
    size_t size = (size_t)st.st_size;
    data = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, in, 0) : "";
    if (data == MAP_FAILED) {
        perror("send_tcp: mmap");
        goto done;
    }
    madvise((void *)data, size, MADV_SEQUENTIAL);
    if ((fd = bench_connect(spec, "send_tcp")) < 0 || !(buf = malloc(CHUNK)))
        goto done;

    uint64_t sent = 0, bytes = 0, start = bench_now_ns();
    size_t off = 0;
    while (off < size && sent < count) {
        uint64_t t = bench_now_ns(), due = count - sent;
        if (rate > 0) {
            uint64_t should = (uint64_t)((double)(t - start) * rate / 1e9) + 1;
            if (should <= sent) {
                /* Sleep until the next event is due, but at least 1 ms:
                 * waking for every event would burn the CPU the gateway
                 * is measured on. What is due then goes in one write, and
                 * each event is stamped when it is written. */
                uint64_t at = start + (uint64_t)((double)sent * 1e9 / rate);
                if (at < t + 1000000)
                    at = t + 1000000;
                struct timespec ts = {(time_t)(at / 1000000000ull), (long)(at % 1000000000ull)};
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                continue;
            }
            due = should - sent < due ? should - sent : due;
        }
        uint64_t lines;
        size_t n = fill(data + off, size - off, due, buf, CHUNK, t, &lines);
        if (bench_write_all(fd, buf, n) != 0) {
            perror("send_tcp: write");
            goto done;
        }
        off += n;
        sent += lines;
        bytes += n;
    }
    uint64_t end = bench_now_ns();
    double secs = (double)(end - start) / 1e9;
    printf("{\"events\":%llu,\"bytes\":%llu,\"start_ns\":%llu,\"end_ns\":%llu,\"seconds\":%.3f,"
           "\"events_per_s\":%.0f}\n",
           (unsigned long long)sent, (unsigned long long)bytes, (unsigned long long)start,
           (unsigned long long)end, secs, secs > 0 ? (double)sent / secs : 0.0);
    rc = 0;

done:
    free(buf);
    if (fd >= 0)
        close(fd);
    if (data != MAP_FAILED && st.st_size)
        munmap((void *)data, (size_t)st.st_size);
    if (in >= 0)
        close(in);
    return rc;
}
