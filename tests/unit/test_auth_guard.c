/* test_auth_guard.c - failure windows per peer, 429 until the window ends,
 * what is reported in full, logged, or left to the summary, and the
 * thresholds taken from a listener's settings. */
#include "auth_guard.h"
#include "check.h"

static void test_limit_and_window(void) {
    sr_auth_guard_conf conf = {.max_failures = 3, .window_ms = 10000};
    sr_auth_guard *g = sr_auth_guard_new(&conf);
    CHECK_INT(sr_auth_guard_window(g), 10000);
    CHECK_INT(sr_auth_guard_check(g, "192.0.2.1", 1000), 0);
    CHECK_INT(sr_auth_guard_failed(g, "192.0.2.1", 1000), SR_AUTH_REPORT_FULL);
    CHECK_INT(sr_auth_guard_failed(g, "192.0.2.1", 2000), SR_AUTH_REPORT_LOG);
    CHECK_INT(sr_auth_guard_check(g, "192.0.2.1", 2500), 0); /* 2 of 3 */
    sr_auth_guard_failed(g, "192.0.2.1", 3000);
    CHECK_INT(sr_auth_guard_check(g, "192.0.2.1", 3000), 8); /* window ends at 11000 */
    CHECK_INT(sr_auth_guard_check(g, "192.0.2.1", 10999), 1);
    CHECK_INT(sr_auth_guard_check(g, "2001:db8::1", 3000), 0); /* others are not limited */
    CHECK_INT(sr_auth_guard_check(g, "192.0.2.1", 11000), 0);  /* a new window */
    sr_auth_guard_stats st;
    sr_auth_guard_stats_get(g, &st);
    CHECK_INT(st.failures, 3);
    CHECK_INT(st.limited, 2);
    sr_auth_guard_free(g);
}

static void test_summary(void) {
    sr_auth_guard *g = sr_auth_guard_new(NULL); /* defaults: 20 in 60 s */
    CHECK_INT(sr_auth_guard_window(g), SR_AUTH_GUARD_WINDOW);
    sr_auth_guard_summary s;
    int logged = 0;
    CHECK_INT(sr_auth_guard_take_summary(g, 0, 1, &s), 0); /* nothing happened */
    for (int i = 0; i < 100; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "198.51.100.%d", i % 5);
        int r = sr_auth_guard_failed(g, ip, 100 + (uint64_t)i);
        CHECK(i == 0 ? r == SR_AUTH_REPORT_FULL : r != SR_AUTH_REPORT_FULL);
        logged += r == SR_AUTH_REPORT_LOG;
    }
    CHECK_INT(logged, SR_AUTH_GUARD_LOG_MAX);
    CHECK_INT(sr_auth_guard_check(g, "198.51.100.1", 200), 60); /* 20 failures each */
    CHECK_INT(sr_auth_guard_take_summary(g, 1000, 0, &s), 0);   /* the interval runs on */
    /* After the interval: one summary, and the next failure is reported in full. */
    CHECK_INT(sr_auth_guard_failed(g, "203.0.113.9", 61000), SR_AUTH_REPORT_FULL);
    CHECK_INT(sr_auth_guard_take_summary(g, 61000, 0, &s), 1);
    CHECK_INT(s.failures, 100);
    CHECK_INT(s.limited, 1);
    CHECK_INT(s.peers, 5);
    CHECK_INT(s.since_ms, 100);
    CHECK_INT(sr_auth_guard_take_summary(g, 61000, 1, &s), 0); /* one failure: reported already */
    sr_auth_guard_free(g);
}

/* A full table forgets the oldest peers instead of growing. */
static void test_table_bound(unsigned peers) {
    sr_auth_guard_conf conf = {.max_failures = 1, .window_ms = 60000, .peers = peers};
    sr_auth_guard *g = sr_auth_guard_new(&conf);
    unsigned n = peers ? peers : SR_AUTH_GUARD_PEERS;
    char ip[32], first[32] = "";
    for (unsigned i = 0; i < n * 4; i++) {
        snprintf(ip, sizeof ip, "10.%u.%u.%u", i >> 16 & 255, i >> 8 & 255, i & 255);
        if (i == 0)
            snprintf(first, sizeof first, "%s", ip);
        sr_auth_guard_failed(g, ip, (uint64_t)i);
    }
    CHECK(sr_auth_guard_check(g, ip, (uint64_t)n * 4) > 0);       /* the newest */
    CHECK_INT(sr_auth_guard_check(g, first, (uint64_t)n * 4), 0); /* forgotten */
    sr_auth_guard_free(g);
}

/* log_lines from the settings. */
static void test_log_lines(void) {
    sr_auth_guard_conf conf = {.log_lines = 2};
    sr_auth_guard *g = sr_auth_guard_new(&conf);
    int logged = 0;
    for (int i = 0; i < 10; i++)
        logged += sr_auth_guard_failed(g, "192.0.2.7", (uint64_t)i) == SR_AUTH_REPORT_LOG;
    CHECK_INT(logged, 2);
    sr_auth_guard_free(g);
}

int main(void) {
    test_limit_and_window();
    test_summary();
    test_table_bound(0);
    test_table_bound(16);
    test_log_lines();
    return CHECK_DONE();
}
