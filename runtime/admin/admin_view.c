/* admin_view.c - process figures and UTF-8 repair for the admin renderers. */
#include "admin_view.h"
#include "json.h"

#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

void sr_admin_process_read(int64_t start_time_ms, sr_admin_process *out) {
    struct rusage ru;
    out->start_time_s = (double)start_time_ms / 1000.0;
    out->cpu_seconds = 0;
    out->resident_bytes = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        out->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    /* getrusage only knows the peak; the current resident set is in statm
     * (second field, in pages). */
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        unsigned long long size, resident;
        long page = sysconf(_SC_PAGESIZE);
        if (fscanf(f, "%llu %llu", &size, &resident) == 2 && page > 0)
            out->resident_bytes = (uint64_t)resident * (uint64_t)page;
        fclose(f);
    }
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    return s[0] < 0x80 ? 1 : sr_utf8_seq_len(s, n);
}

int sr_admin_put_utf8(sr_buf *out, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0; /* valid bytes not yet copied start at i - run */
    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);
        if (k) {
            i += k;
            run += k;
            continue;
        }
        if (sr_buf_append(out, s + i - run, run) != 0 || sr_buf_puts(out, "\xEF\xBF\xBD") != 0)
            return -1;
        i++;
        run = 0;
    }
    return sr_buf_append(out, s + i - run, run);
}
