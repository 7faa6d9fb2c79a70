/* admin_failures.h - failed authentication at the admin API: limited per
 * peer, and summarised in the audit trail instead of recorded one by one.
 * The figures below are the defaults of `admin.failed_auth`.
 *
 * A flood of bad tokens must neither lock others out of the API nor rotate
 * the admin actions out of the audit trail. Built on auth_guard.h: a peer
 * with 20 failures within 60 s gets 429 (with Retry-After) until its window
 * ends; of the failures in one 60 s interval only the first becomes an audit
 * event of its own, the rest one summary event ("action":"authenticate",
 * "requestMethod":"-", the counts in the description) when the interval
 * ends, or when the API closes.
 *
 * Loop thread only. */
#ifndef SR_ADMIN_FAILURES_H
#define SR_ADMIN_FAILURES_H

#include <uv.h>

#include "admin_audit.h"
#include "auth_guard.h"

typedef struct sr_admin_failures sr_admin_failures;

/* NULL `conf`: the defaults. */
sr_admin_failures *sr_admin_failures_new(uv_loop_t *loop, const sr_auth_guard_conf *conf);

/* 0 when `ip` may present a token now; else the seconds to tell it to wait
 * (answer 429). */
long sr_admin_failures_check(sr_admin_failures *f, const char *ip);

/* Notes a failed authentication from `ip`; summaries go to `audit` (may be
 * NULL). Returns 1 when this failure is to be audited in full. */
int sr_admin_failures_note(sr_admin_failures *f, const char *ip, sr_audit *audit);

/* Records the pending summary, then frees `f` once its timer is closed.
 * NULL is ignored. */
void sr_admin_failures_close(sr_admin_failures *f);

#endif
