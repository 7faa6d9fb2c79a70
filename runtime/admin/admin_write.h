/* admin_write.h - the admin API's write routes (admin role only):
 *
 *   POST   /api/integrations                 create: 201 + the integration
 *   PUT    /api/integrations/{name}          replace: 200 + the integration
 *   DELETE /api/integrations/{name}?queued=discard   200 {"deleted",...}
 *   DELETE /api/integrations/{name}?queued=deliver   200 when nothing is
 *          queued, else 202: the integration takes no new events, delivers
 *          what it has, and is removed once its queue is empty
 *   POST   /api/integrations/{name}/test     200 {"outcome",...} (admin_probe.h)
 *   POST   /api/reload                       200 {"reloaded":true}
 *
 * A body is one entry of the configuration's `integrations:` list, as JSON.
 * Changes are applied one at a time, in arrival order: the new list of
 * API-defined integrations is written to a temporary file (admin_store.h),
 * the whole configuration (-c files plus that file) is checked as --check
 * does, the file replaces <data_dir>/api-integrations.yaml, and the gateway
 * reloads as on SIGHUP (other integrations keep their queues); the answer
 * comes after the reload completed. A failed check is 400 {"error","field"};
 * a reload that fails puts the previous file back.
 *
 * Integrations from -c files cannot be changed here (409). A configuration
 * value "******" in a PUT keeps the stored secret. Deleting discards a
 * memory queue's events (counted and logged) and removes a disk spool and
 * the saved status.
 *
 * Every answer is recorded in the audit trail. Loop thread only. */
#ifndef SR_ADMIN_WRITE_H
#define SR_ADMIN_WRITE_H

#include "admin.h"
#include "admin_auth.h"
#include "http_server.h"

typedef struct sr_admin_writer sr_admin_writer;

typedef enum {
    SR_WRITE_CREATE,
    SR_WRITE_UPDATE,
    SR_WRITE_DELETE,
    SR_WRITE_TEST,
    SR_WRITE_RELOAD,
} sr_write_op;

/* `src` is borrowed: the API keeps it current. Loads the API file. */
sr_admin_writer *sr_admin_writer_new(uv_loop_t *loop, const sr_admin_sources *src);

/* Takes one write request (authorised already); answers it, now or later.
 * `name` is the decoded integration name (NULL for create and reload). */
void sr_admin_writer_handle(sr_admin_writer *w, sr_write_op op, const char *name,
                            sr_http_request *req, sr_http_response *resp,
                            const sr_admin_identity *who);

/* Answers what waits with 503 and frees the writer once its timers are
 * closed. NULL is ignored. */
void sr_admin_writer_close(sr_admin_writer *w);

#endif
