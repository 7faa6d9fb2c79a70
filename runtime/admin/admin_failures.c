/* admin_failures.c - the admin API's auth guard and its audit summaries. */
#include "admin_failures.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "auth_guard.h"
#include "log.h"

struct sr_admin_failures {
    uv_loop_t *loop;
    uv_timer_t timer; /* ends the summary interval */
    sr_auth_guard *guard;
    sr_audit *audit; /* where the last failure's summary goes */
};

sr_admin_failures *sr_admin_failures_new(uv_loop_t *loop, const sr_auth_guard_conf *conf) {
    sr_admin_failures *f = calloc(1, sizeof *f);
    if (!f || !(f->guard = sr_auth_guard_new(conf))) {
        free(f);
        return NULL;
    }
    f->loop = loop;
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    return f;
}

long sr_admin_failures_check(sr_admin_failures *f, const char *ip) {
    return sr_auth_guard_check(f->guard, ip, uv_now(f->loop));
}

static void record_summary(sr_admin_failures *f, int force) {
    sr_auth_guard_summary s;
    char text[256];
    uint64_t now = uv_now(f->loop);
    if (!sr_auth_guard_take_summary(f->guard, now, force, &s))
        return;
    snprintf(text, sizeof text,
             "%" PRIu64 " failed authentications and %" PRIu64
             " rate-limited attempts from %" PRIu64 " address(es) in %" PRIu64 " s",
             s.failures, s.limited, s.peers, (now - s.since_ms + 999) / 1000);
    sr_warn("admin", "%s", text);
    sr_audit_entry e = {
        .action = "authenticate",
        .method = "-",
        .uri = "/",
        .status = 401,
        .entity_type = "api",
        .user = "unknown",
        .description = text,
    };
    sr_audit_record(f->audit, &e);
}

static void on_timer(uv_timer_t *t) { record_summary(t->data, 1); }

int sr_admin_failures_note(sr_admin_failures *f, const char *ip, sr_audit *audit) {
    f->audit = audit;
    int report = sr_auth_guard_failed(f->guard, ip, uv_now(f->loop));
    record_summary(f, 0); /* an interval that ended before this failure */
    if (!uv_is_active((uv_handle_t *)&f->timer))
        uv_timer_start(&f->timer, on_timer, sr_auth_guard_window(f->guard), 0);
    return report == SR_AUTH_REPORT_FULL;
}

static void on_closed(uv_handle_t *h) {
    sr_admin_failures *f = h->data;
    sr_auth_guard_free(f->guard);
    free(f);
}

void sr_admin_failures_close(sr_admin_failures *f) {
    if (!f)
        return;
    record_summary(f, 1);
    f->audit = NULL;
    uv_close((uv_handle_t *)&f->timer, on_closed);
}
