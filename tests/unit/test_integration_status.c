/* test_integration_status.c - Sysdig statuses over a window, on a clock the
 * test drives: Error -> Warning on recovery, Connected only after a full
 * clean window, rejections in the history, persistence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "integration_status.h"

#define WINDOW 10000 /* ms */

static const sr_status_change *last(const sr_status_state *s) {
    return sr_status_history_at(&s->history, s->history.n - 1);
}

static void test_outage_then_a_full_window(void) {
    sr_status_state s;
    CHECK_INT(sr_status_init(&s, NULL, "t", WINDOW), 0);
    int64_t t = 1000000;
    CHECK_INT(s.status, SR_STATUS_NOT_CONNECTED);
    sr_status_delivered(&s, "t", 0, t);
    CHECK_INT(s.status, SR_STATUS_CONNECTED);
    CHECK_STR(last(&s)->reason, "delivered");

    /* A failed attempt, then the last one: Warning, Error. */
    sr_status_note_retry(&s, t + 100);
    sr_status_set(&s, "t", SR_STATUS_WARNING, "HTTP 503", t + 100);
    sr_status_note_retry(&s, t + 300);
    sr_status_set(&s, "t", SR_STATUS_ERROR, "failed after 3 attempts: HTTP 503", t + 300);
    CHECK_INT(s.status, SR_STATUS_ERROR);
    /* The window passing does not clear an Error: only a delivery does. */
    sr_status_settle(&s, "t", t + 300 + 2 * WINDOW);
    CHECK_INT(s.status, SR_STATUS_ERROR);

    /* Delivered at the first attempt after the inhibition: Warning, not
     * Connected, and the reason says when Connected comes. */
    int64_t back = t + 300 + 2 * WINDOW + 10;
    sr_status_delivered(&s, "t", 0, back);
    CHECK_INT(s.status, SR_STATUS_WARNING);
    CHECK(strstr(last(&s)->reason, "after the Error") != NULL);
    CHECK(strstr(last(&s)->reason, "10s") != NULL);
    CHECK_INT(last(&s)->from, SR_STATUS_ERROR);
    /* The window counts from the last failed attempt, which is long past
     * here: the next tick settles it. */
    sr_status_settle(&s, "t", back + 1);
    CHECK_INT(s.status, SR_STATUS_CONNECTED);
    CHECK(strstr(last(&s)->reason, "no failed attempt or rejection in the last 10s") != NULL);
    sr_status_free(&s);
}

static void test_window_counts_from_the_last_issue(void) {
    sr_status_state s;
    CHECK_INT(sr_status_init(&s, NULL, "t", WINDOW), 0);
    int64_t t = 5000000;
    sr_status_delivered(&s, "t", 0, t);
    sr_status_note_retry(&s, t + 10);
    sr_status_set(&s, "t", SR_STATUS_WARNING, "HTTP 503", t + 10);
    sr_status_delivered(&s, "t", 1, t + 20);
    CHECK_INT(s.status, SR_STATUS_WARNING);
    /* A clean delivery inside the window keeps Warning. */
    sr_status_delivered(&s, "t", 0, t + 5000);
    CHECK_INT(s.status, SR_STATUS_WARNING);
    sr_status_settle(&s, "t", t + 10 + WINDOW - 1);
    CHECK_INT(s.status, SR_STATUS_WARNING);
    /* A rejection inside the window restarts it. */
    CHECK_INT(sr_status_rejected(&s, "t", SR_STATUS_WARNING, "1 of 5 record(s) rejected: HTTP 400",
                                 t + 9000),
              1);
    CHECK_INT(s.status, SR_STATUS_WARNING);
    CHECK_INT(last(&s)->from, SR_STATUS_WARNING);
    CHECK_INT(last(&s)->to, SR_STATUS_WARNING);
    CHECK(strstr(last(&s)->reason, "HTTP 400") != NULL);
    sr_status_settle(&s, "t", t + 10 + WINDOW + 1);
    CHECK_INT(s.status, SR_STATUS_WARNING);
    sr_status_settle(&s, "t", t + 9000 + WINDOW);
    CHECK_INT(s.status, SR_STATUS_CONNECTED);
    sr_status_free(&s);
}

static void test_rejections(void) {
    sr_status_state s;
    CHECK_INT(sr_status_init(&s, NULL, "t", WINDOW), 0);
    int64_t t = 9000000;
    /* Rejected before anything was delivered: Warning with the reason. */
    CHECK_INT(sr_status_rejected(&s, "t", SR_STATUS_WARNING, "HTTP 400: bad", t), 1);
    CHECK_INT(s.status, SR_STATUS_WARNING);
    size_t n = s.history.n;
    /* The same status again soon after: no new entry (rate-limited). */
    CHECK_INT(sr_status_rejected(&s, "t", SR_STATUS_WARNING, "HTTP 400: bad", t + 10), 0);
    CHECK_INT(s.history.n, n);
    /* A change of status is always recorded. */
    CHECK_INT(sr_status_rejected(&s, "t", SR_STATUS_ERROR, "every record ... rejected", t + 20), 1);
    CHECK_INT(s.status, SR_STATUS_ERROR);
    CHECK_INT(s.history.n, n + 1);
    /* A lesser rejection does not lift an Error. */
    sr_status_rejected(&s, "t", SR_STATUS_WARNING, "HTTP 400", t + SR_STATUS_NOTE_MS + 30);
    CHECK_INT(s.status, SR_STATUS_ERROR);
    sr_status_delivered(&s, "t", 0, t + SR_STATUS_NOTE_MS + 40);
    CHECK_INT(s.status, SR_STATUS_WARNING);
    sr_status_free(&s);
}

static void test_persisted(void) {
    char dir[] = "/tmp/sr-status-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/x.json", dir);
    sr_status_state s;
    CHECK_INT(sr_status_init(&s, path, "x", WINDOW), 0);
    int64_t t = 7000000;
    sr_status_delivered(&s, "x", 0, t);
    sr_status_rejected(&s, "x", SR_STATUS_WARNING, "HTTP 400", t + 1);
    sr_status_free(&s);

    sr_status_state r;
    CHECK_INT(sr_status_init(&r, path, "x", WINDOW), 0);
    CHECK_INT(r.status, SR_STATUS_WARNING);
    CHECK_INT(r.last_reject_ms, t + 1);
    CHECK_INT(r.window_ms, WINDOW);
    CHECK_INT(r.history.n, 2);
    /* The window survives the restart: a clean delivery keeps Warning. */
    sr_status_delivered(&r, "x", 0, t + 2);
    CHECK_INT(r.status, SR_STATUS_WARNING);
    sr_status_settle(&r, "x", t + 1 + WINDOW);
    CHECK_INT(r.status, SR_STATUS_CONNECTED);
    sr_status_free(&r);
    unlink(path);
    rmdir(dir);
}

static void test_window_text(void) {
    char b[32];
    sr_status_window_text(24LL * 3600 * 1000, b, sizeof b);
    CHECK_STR(b, "24h");
    sr_status_window_text(90000, b, sizeof b);
    CHECK_STR(b, "90s");
    sr_status_window_text(120000, b, sizeof b);
    CHECK_STR(b, "2m");
    sr_status_window_text(1500, b, sizeof b);
    CHECK_STR(b, "1500ms");
}

int main(void) {
    test_outage_then_a_full_window();
    test_window_counts_from_the_last_issue();
    test_rejections();
    test_persisted();
    test_window_text();
    return CHECK_DONE();
}
