/* admin_replay.h - POST /api/integrations/{name}/replay: an integration's
 * dead letters sent again (deadletter_replay.h), by an admin, audited.
 *
 * Query (all optional, percent-encoded): stage=STAGE (exact), reason=TEXT
 * (a substring), since=TIME and until=TIME (RFC 3339 with any zone offset,
 * or seconds since the epoch; compared as times with each line's "time":
 * since <= time < until), reencode=true|false (rebuild records from the
 * stored events through the current scripts and encoder). Answers
 *   200 {"replayed":N,"reencoded":R,"kept":K,"events":E,"records":C,
 *        "files":F[,"error":"..."]}
 * (E: matching lines holding an event that gave no record; C: with
 * reencode, matching lines holding only a record; "error": why the first
 * re-encoded event gave none, secrets masked), 404 when no integration of
 * that name runs, 400 for a malformed query (a time that is not one), 500
 * with the reason when nothing could be replayed. Every answer is an audit
 * event (action "replay"). */
#ifndef SR_ADMIN_REPLAY_H
#define SR_ADMIN_REPLAY_H

#include "admin.h"
#include "admin_audit.h"
#include "http_server.h"

void sr_admin_replay(const sr_admin_control *control, sr_audit *audit, const char *name,
                     const sr_http_request *req, sr_http_response *resp, const char *user);

#endif
