/* admin_replay.h - POST /api/integrations/{name}/replay: an integration's
 * dead letters sent again, and POST /api/replay: the pipeline's dead letters
 * (_pipeline.jsonl) run through the whole pipeline again
 * (deadletter_replay.h); by an admin, audited.
 *
 * Query (all optional, percent-encoded): stage=STAGE (exact), reason=TEXT
 * (a substring), since=TIME and until=TIME (RFC 3339 with any zone offset,
 * or seconds since the epoch; compared as times with each line's "time":
 * since <= time < until), and for an integration reencode=true|false
 * (rebuild records from the stored events through the current scripts and
 * encoder; the pipeline's replay always does, and refuses reencode=).
 * An integration's replay answers
 *   200 {"replayed":N,"reencoded":R,"kept":K,"events":E,"records":C,
 *        "files":F[,"error":"..."]}
 * (E: matching lines holding an event that gave no record; C: with
 * reencode, matching lines with no event to rebuild from), 404 when no
 * integration of that name runs. The pipeline's answers
 *   200 {"replayed":N,"queued":Q,"dead_lettered":D,"failed":X,"kept":K,
 *        "files":F[,"error":"..."]}
 * (N: events taken out of the file; Q: records they gave, queued for every
 * integration; D: failures of integrations' own scripts or encoders, now in
 * those integrations' dead letters; X: matching lines kept, failing again
 * or giving no record). Both: "error" is why the first event run gave no
 * record (secrets masked); 400 for a malformed query (a time that is not
 * one), 500 with the reason when nothing could be replayed. Every answer is
 * an audit event (action "replay", entity "integration" or "pipeline"). */
#ifndef SR_ADMIN_REPLAY_H
#define SR_ADMIN_REPLAY_H

#include "admin.h"
#include "admin_audit.h"
#include "http_server.h"

/* `name` NULL: the pipeline's dead letters. */
void sr_admin_replay(const sr_admin_control *control, sr_audit *audit, const char *name,
                     const sr_http_request *req, sr_http_response *resp, const char *user);

#endif
