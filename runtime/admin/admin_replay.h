/* admin_replay.h - POST /api/integrations/{name}/replay: an integration's
 * dead letters sent again (deadletter_replay.h), by an admin, audited.
 *
 * Query (all optional, percent-encoded): stage=STAGE (exact), reason=TEXT
 * (a substring), since=TIME and until=TIME (RFC 3339 text, UTC, compared
 * with each line's "time"). Answers
 *   200 {"replayed":N,"kept":K,"events":E}
 * (E: matching lines holding an event, which have no record to resend),
 * 404 when no integration of that name runs, 400 for a malformed query,
 * 500 with the reason when nothing could be replayed. Every answer is an
 * audit event (action "replay"). */
#ifndef SR_ADMIN_REPLAY_H
#define SR_ADMIN_REPLAY_H

#include "admin.h"
#include "admin_audit.h"
#include "http_server.h"

void sr_admin_replay(const sr_admin_control *control, sr_audit *audit, const char *name,
                     const sr_http_request *req, sr_http_response *resp, const char *user);

#endif
