/* admin_write.c - creating, replacing, deleting and testing integrations
 * through the admin API, one change at a time. */
#include "admin_write.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admin_bounds.h"
#include "admin_docs.h"
#include "admin_json.h"
#include "admin_probe.h"
#include "admin_store.h"
#include "admin_audit.h"
#include "delivery.h"
#include "log.h"

#define NAME_MAX_LEN  128
#define DRAIN_POLL_MS 250
#define CLEANUP_MS    200
#define MAX_DRAINING  64

typedef struct job {
    struct job *next;
    struct sr_admin_writer *w;
    sr_write_op op;
    char name[NAME_MAX_LEN];
    char *body;
    size_t body_len;
    char method[16], uri[640], query[512], user[128], ip[64];
    sr_http_response *resp; /* NULL: the writer's own follow-up (a drained delete) */
    /* while a change is applied */
    sr_admin_entries prev; /* the list before it, to put back on failure */
    sr_admin_linemap map;
    int entry;                  /* index of the changed entry in the new list, or -1 */
    char *entry_json;           /* the changed entry */
    int deliver;                /* DELETE ?queued=deliver */
    uint64_t queued;            /* events queued when a delete was asked for */
    char *tmp;                  /* the candidate API file while it is checked */
    sr_admin_entries candidate; /* the list it holds */
} job;

struct sr_admin_writer {
    uv_loop_t *loop;
    const sr_admin_sources *src;     /* kept current by the API; cleared when it closes */
    const sr_admin_control *control; /* outlives the writer */
    sr_admin_sources none;           /* what `src` points at once the API closed */
    sr_admin_entries entries;        /* what the API file holds */
    job *head, *tail;                /* waiting jobs; `running` is not among them */
    job *running;
    char *draining[MAX_DRAINING]; /* deletes waiting for their queue to empty */
    size_t ndraining;
    uv_timer_t drain_timer, cleanup_timer;
    int tests; /* test events running */
    int closing, open_handles;
};

static const sr_http_header no_store[] = {{"Cache-Control", "no-store"}};

static void run_next(sr_admin_writer *w);
static void release(sr_admin_writer *w);

/* ---- answers and the audit trail --------------------------------------------- */

static const char *action_of(sr_write_op op) {
    switch (op) {
    case SR_WRITE_CREATE: return "create";
    case SR_WRITE_UPDATE: return "update";
    case SR_WRITE_DELETE: return "delete";
    case SR_WRITE_TEST: return "test";
    case SR_WRITE_RELOAD: return "reload";
    }
    return "?";
}

static void audit(sr_admin_writer *w, const job *j, int status, const char *description) {
    sr_audit_entry e = {
        .action = action_of(j->op),
        .method = j->method,
        .uri = j->uri,
        .query = j->query,
        .status = status,
        .entity_type = j->op == SR_WRITE_RELOAD ? "configuration" : "integration",
        .entity_id = j->name[0] ? j->name : NULL,
        .user = j->user,
        .origin_ip = j->ip,
        .description = description,
    };
    sr_audit_record(w->src->audit, &e);
}

static void job_free(job *j) {
    if (j->tmp)
        unlink(j->tmp);
    free(j->tmp);
    sr_admin_entries_free(&j->candidate);
    free(j->body);
    free(j->entry_json);
    sr_admin_entries_free(&j->prev);
    sr_admin_linemap_free(&j->map);
    free(j);
}

/* Answers (when someone asked), records, and goes on with the next job. */
static void answer(sr_admin_writer *w, job *j, int status, const sr_buf *body,
                   const char *description) {
    if (j->resp)
        sr_http_respond(j->resp, status, "application/json", no_store, 1, body->data, body->len);
    j->resp = NULL;
    audit(w, j, status, description);
    if (w->running == j) {
        w->running = NULL;
        job_free(j);
        if (w->closing)
            release(w);
        else
            run_next(w);
    } else {
        job_free(j);
    }
}

static void answer_error(sr_admin_writer *w, job *j, int status, const char *msg,
                         const char *field) {
    sr_buf b = SR_BUF_INIT;
    sr_buf_puts(&b, "{\"error\":");
    sr_admin_json_text(&b, msg);
    if (field) {
        sr_buf_puts(&b, ",\"field\":");
        sr_admin_json_text(&b, field[0] ? field : NULL);
    }
    sr_buf_putc(&b, '}');
    answer(w, j, status, &b, msg);
    sr_buf_free(&b);
}

/* ---- draining deletes ---------------------------------------------------------- */

static long draining_index(const sr_admin_writer *w, const char *name) {
    for (size_t i = 0; i < w->ndraining; i++)
        if (strcasecmp(w->draining[i], name) == 0)
            return (long)i;
    return -1;
}

static void draining_remove(sr_admin_writer *w, long i) {
    if (i < 0)
        return;
    free(w->draining[i]);
    memmove(w->draining + i, w->draining + i + 1, (w->ndraining - (size_t)i - 1) * sizeof(char *));
    w->ndraining--;
}

static long running_index(const sr_admin_writer *w, const char *name) {
    return w->src->delivery ? sr_delivery_find(w->src->delivery, name) : -1;
}

static uint64_t queued_events(const sr_admin_writer *w, const char *name) {
    long i = running_index(w, name);
    if (i < 0)
        return 0;
    sr_integration_stats st;
    sr_delivery_stats(w->src->delivery, (size_t)i, &st);
    return st.queued_events;
}

static void enqueue(sr_admin_writer *w, job *j);

/* A drained integration is deleted by a job of the writer's own. */
static void on_drain_poll(uv_timer_t *t) {
    sr_admin_writer *w = t->data;
    for (size_t i = 0; i < w->ndraining;) {
        char name[NAME_MAX_LEN];
        snprintf(name, sizeof name, "%s", w->draining[i]);
        if (running_index(w, name) >= 0 && queued_events(w, name) > 0) {
            i++;
            continue;
        }
        draining_remove(w, (long)i); /* before the job runs: it may start at once */
        job *j = calloc(1, sizeof *j);
        if (!j)
            continue;
        j->op = SR_WRITE_DELETE;
        j->entry = -1;
        j->deliver = 1;
        snprintf(j->name, sizeof j->name, "%s", name);
        snprintf(j->method, sizeof j->method, "DELETE");
        snprintf(j->uri, sizeof j->uri, "/api/integrations/%s", name);
        snprintf(j->query, sizeof j->query, "queued=deliver");
        snprintf(j->user, sizeof j->user, "siemrelay");
        enqueue(w, j);
    }
    if (!w->ndraining)
        uv_timer_stop(t);
}

/* ---- applying a new list of API-defined integrations --------------------------- */

static char *temp_path(const sr_admin_writer *w) {
    const char *p = w->control->api_path;
    size_t n = strlen(p) + sizeof ".tmp";
    char *t = malloc(n);
    if (t)
        snprintf(t, n, "%s.tmp", p);
    return t;
}

/* Writes `entries` to `path` through the temporary file. */
static int write_entries(sr_admin_writer *w, const sr_admin_entries *e, const char *tmp,
                         sr_admin_linemap *map, int install, char *err, size_t errlen) {
    sr_buf text = SR_BUF_INIT;
    int rc = -1;
    if (sr_admin_store_render(e, &text, map) != 0) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (sr_admin_store_write(tmp, text.data, text.len, err, errlen) != 0)
        goto done;
    rc = install ? sr_admin_store_install(tmp, w->control->api_path, err, errlen) : 0;
done:
    sr_buf_free(&text);
    return rc;
}

static void put_back(sr_admin_writer *w, job *j) {
    char err[512];
    char *tmp = temp_path(w);
    if (!tmp || write_entries(w, &j->prev, tmp, NULL, 1, err, sizeof err) != 0)
        sr_error("admin", "cannot put %s back: %s", w->control->api_path,
                 tmp ? err : "out of memory");
    free(tmp);
    sr_admin_entries_free(&w->entries);
    w->entries = j->prev;
    memset(&j->prev, 0, sizeof j->prev);
}

static void on_applied(void *ud, const char *err);
static void on_validated(void *ud, const char *err);

/* Checks `next` (taken) as the new API file, then installs it and reloads
 * (on_validated): the check runs off the loop thread. */
static void apply(sr_admin_writer *w, job *j, sr_admin_entries *next) {
    char err[1024] = "";
    j->candidate = *next;
    memset(next, 0, sizeof *next);
    if (!(j->tmp = temp_path(w))) {
        answer_error(w, j, 500, "out of memory", NULL);
        return;
    }
    if (write_entries(w, &j->candidate, j->tmp, &j->map, 0, err, sizeof err) != 0) {
        answer_error(w, j, 500, err, NULL);
        return;
    }
    if (w->control->validate(w->control->ud, j->tmp, on_validated, j) != 0)
        answer_error(w, j, 503, "the gateway is shutting down", NULL);
}

static void on_validated(void *ud, const char *error) {
    job *j = ud;
    sr_admin_writer *w = j->w;
    char err[1024] = "", field[160];
    if (error) {
        snprintf(err, sizeof err, "%s", error);
        sr_admin_scrub_file_text(err);
        const char *msg = sr_admin_store_explain(err, j->tmp, &j->map, j->entry, j->entry_json,
                                                 field, sizeof field);
        answer_error(w, j, 400, msg, field);
        return;
    }
    if (sr_admin_store_install(j->tmp, w->control->api_path, err, sizeof err) != 0) {
        answer_error(w, j, 500, err, NULL);
        return;
    }
    free(j->tmp); /* installed: nothing left to remove */
    j->tmp = NULL;
    j->prev = w->entries;
    w->entries = j->candidate;
    memset(&j->candidate, 0, sizeof j->candidate);
    if (w->control->reload(w->control->ud, on_applied, j) != 0)
        on_applied(j, "the gateway is shutting down");
}

/* ---- after the reload ---------------------------------------------------------- */

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        sr_warn("admin", "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

/* The deleted integration's spool and saved status (its queue was closed
 * by the reload, a moment ago: the cleanup runs on a timer after that). */
static void on_cleanup(uv_timer_t *t) {
    sr_admin_writer *w = t->data;
    job *j = w->running;
    char path[4096];
    if (!j)
        return;
    const char *dir = w->control->data_dir;
    snprintf(path, sizeof path, "%s/spool/%s", dir, j->name);
    if (access(path, F_OK) == 0)
        nftw(path, remove_one, 8, FTW_DEPTH | FTW_PHYS);
    snprintf(path, sizeof path, "%s/state/%s.json", dir, j->name);
    if (unlink(path) != 0 && errno != ENOENT)
        sr_warn("admin", "cannot remove %s: %s", path, strerror(errno));

    sr_buf b = SR_BUF_INIT;
    char desc[256];
    sr_buf_puts(&b, "{\"deleted\":");
    sr_admin_json_text(&b, j->name);
    sr_buf_printf(&b, ",\"queued\":\"%s\",\"discarded\":%" PRIu64 "}",
                  j->deliver ? "deliver" : "discard", j->deliver ? (uint64_t)0 : j->queued);
    if (j->deliver)
        snprintf(desc, sizeof desc, "deleted integration '%s' after delivering its queue", j->name);
    else
        snprintf(desc, sizeof desc,
                 "deleted integration '%s', discarding %" PRIu64 " queued event(s)", j->name,
                 j->queued);
    if (!j->deliver && j->queued)
        sr_warn("admin", "integration '%s' deleted by %s: %" PRIu64 " queued event(s) discarded",
                j->name, j->user, j->queued);
    else
        sr_info("admin", "%s (by %s)", desc, j->user);
    answer(w, j, 200, &b, desc);
    sr_buf_free(&b);
}

static void answer_integration(sr_admin_writer *w, job *j, int status) {
    sr_buf b = SR_BUF_INIT;
    char desc[256];
    if (sr_admin_doc_integration(w->src, j->name, &b) != 200) {
        sr_buf_reset(&b);
        sr_buf_puts(&b, "{\"name\":");
        sr_admin_json_text(&b, j->name);
        sr_buf_puts(&b, ",\"enabled\":false}");
    }
    snprintf(desc, sizeof desc, "%s integration '%s'",
             j->op == SR_WRITE_CREATE ? "created" : "replaced", j->name);
    sr_info("admin", "%s (by %s)", desc, j->user);
    answer(w, j, status, &b, desc);
    sr_buf_free(&b);
}

static void on_applied(void *ud, const char *err) {
    job *j = ud;
    sr_admin_writer *w = j->w;
    char field[160] = "";
    if (err) {
        char why[1024];
        put_back(w, j);
        snprintf(why, sizeof why, "%s", err);
        sr_admin_scrub_file_text(why);
        const char *msg = sr_admin_store_explain(why, w->control->api_path, &j->map, j->entry,
                                                 j->entry_json, field, sizeof field);
        answer_error(w, j, 400, msg, field);
        return;
    }
    switch (j->op) {
    case SR_WRITE_CREATE: answer_integration(w, j, 201); break;
    case SR_WRITE_UPDATE: answer_integration(w, j, 200); break;
    case SR_WRITE_DELETE: uv_timer_start(&w->cleanup_timer, on_cleanup, CLEANUP_MS, 0); break;
    default: answer_error(w, j, 500, "unexpected change", NULL); break;
    }
}

/* ---- the jobs ---------------------------------------------------------------------- */

static const char *file_defined_message(int defined) {
    return defined == 1 ? "is defined in a configuration file (-c); change it there and reload "
                          "(SIGHUP or POST /api/reload)"
                        : "";
}

static void do_put(sr_admin_writer *w, job *j) {
    char err[512], field[160], name[NAME_MAX_LEN], msg[768];
    sr_buf entry = SR_BUF_INIT;
    sr_admin_entries next;
    const char *path_name = j->op == SR_WRITE_UPDATE ? j->name : NULL;
    long at = path_name ? sr_admin_entries_find(&w->entries, path_name) : -1;
    const sr_admin_control *c = w->control;

    if (path_name) {
        int defined = c->defined(c->ud, path_name);
        if (defined == 1) {
            snprintf(msg, sizeof msg, "integration '%s' %s", path_name,
                     file_defined_message(defined));
            answer_error(w, j, 409, msg, NULL);
            return;
        }
        if (at < 0) {
            snprintf(msg, sizeof msg, "no integration named '%s'", path_name);
            answer_error(w, j, 404, msg, NULL);
            return;
        }
    }
    if (sr_admin_entry_normalise(j->body, j->body_len, path_name,
                                 at >= 0 ? w->entries.v[at].json : NULL, &entry, name, sizeof name,
                                 err, sizeof err, field, sizeof field) != 0) {
        sr_buf_free(&entry);
        answer_error(w, j, 400, err, field);
        return;
    }
    snprintf(j->name, sizeof j->name, "%s", name);
    /* Before anything loads it: loading runs the scripts it names. */
    sr_admin_bounds bounds = {c->script_dir, c->files_dir};
    sr_buf bounded = SR_BUF_INIT;
    if (sr_admin_bounds_check(&bounds, entry.data, entry.len, &bounded, err, sizeof err, field,
                              sizeof field) != 0) {
        sr_buf_free(&entry);
        sr_buf_free(&bounded);
        answer_error(w, j, 400, err, field);
        return;
    }
    sr_buf_free(&entry);
    entry = bounded;
    if (draining_index(w, name) >= 0) {
        snprintf(msg, sizeof msg,
                 "integration '%s' is being deleted (it delivers what it has "
                 "queued first)",
                 name);
        sr_buf_free(&entry);
        answer_error(w, j, 409, msg, NULL);
        return;
    }
    if (!path_name) {
        int defined = c->defined(c->ud, name);
        if (defined) {
            snprintf(msg, sizeof msg, "integration '%s' already exists%s%s", name,
                     defined == 1 ? ": it " : "", file_defined_message(defined));
            sr_buf_free(&entry);
            answer_error(w, j, 409, msg, "name");
            return;
        }
    }
    if (sr_admin_entries_copy(&w->entries, &next) != 0 ||
        sr_admin_entries_put(&next, name, entry.data, entry.len) != 0) {
        sr_admin_entries_free(&next);
        sr_buf_free(&entry);
        answer_error(w, j, 500, "out of memory", NULL);
        return;
    }
    j->entry = (int)sr_admin_entries_find(&next, name);
    j->entry_json = sr_buf_steal(&entry, &entry.len);
    apply(w, j, &next);
}

/* "queued=deliver" or "queued=discard" among the query's parameters. */
static int queued_mode(const char *query) {
    for (const char *p = query; p && *p;) {
        size_t n = strcspn(p, "&");
        if (n == 14 && strncmp(p, "queued=deliver", 14) == 0)
            return 1;
        if (n == 14 && strncmp(p, "queued=discard", 14) == 0)
            return 0;
        p += n + (p[n] == '&');
    }
    return -1;
}

static void on_paused(void *ud, const char *err) {
    job *j = ud;
    sr_admin_writer *w = j->w;
    const sr_admin_control *c = w->control;
    if (err) {
        c->pause(c->ud, j->name, 0);
        draining_remove(w, draining_index(w, j->name));
        answer_error(w, j, 500, err, NULL);
        return;
    }
    sr_buf b = SR_BUF_INIT;
    char desc[256];
    uint64_t left = queued_events(w, j->name);
    sr_buf_puts(&b, "{\"deleting\":");
    sr_admin_json_text(&b, j->name);
    sr_buf_printf(&b, ",\"queued\":\"deliver\",\"remaining\":%" PRIu64 "}", left);
    snprintf(desc, sizeof desc,
             "deleting integration '%s': it takes no new events and is removed once its %" PRIu64
             " queued event(s) are delivered",
             j->name, left);
    sr_info("admin", "%s (by %s)", desc, j->user);
    if (!uv_is_active((uv_handle_t *)&w->drain_timer))
        uv_timer_start(&w->drain_timer, on_drain_poll, DRAIN_POLL_MS, DRAIN_POLL_MS);
    answer(w, j, 202, &b, desc);
    sr_buf_free(&b);
}

static void do_delete(sr_admin_writer *w, job *j) {
    char msg[768];
    const sr_admin_control *c = w->control;
    int mode = j->resp ? queued_mode(j->query) : 1;
    if (mode < 0) {
        answer_error(w, j, 400,
                     "say what happens to the events queued for it: ?queued=deliver (deliver "
                     "them first, then delete) or ?queued=discard (drop them now)",
                     "queued");
        return;
    }
    int defined = c->defined(c->ud, j->name);
    long at = sr_admin_entries_find(&w->entries, j->name);
    if (defined == 1) {
        snprintf(msg, sizeof msg, "integration '%s' %s", j->name, file_defined_message(1));
        answer_error(w, j, 409, msg, NULL);
        return;
    }
    if (at < 0 || !defined) {
        snprintf(msg, sizeof msg, "no integration named '%s'", j->name);
        answer_error(w, j, 404, msg, NULL);
        return;
    }
    snprintf(j->name, sizeof j->name, "%s", w->entries.v[at].name);
    j->deliver = mode == 1;
    j->queued = queued_events(w, j->name);
    long d = draining_index(w, j->name);
    if (j->deliver && j->queued > 0 && j->resp) {
        if (d < 0 && w->ndraining == MAX_DRAINING) {
            answer_error(w, j, 503, "too many deletes are waiting for their queues; try later",
                         NULL);
            return;
        }
        if (d < 0)
            w->draining[w->ndraining++] = strdup(j->name);
        c->pause(c->ud, j->name, 1);
        if (c->reload(c->ud, on_paused, j) != 0)
            on_paused(j, "the gateway is shutting down");
        return;
    }
    draining_remove(w, d);
    c->pause(c->ud, j->name, 0);
    sr_admin_entries next;
    if (sr_admin_entries_copy(&w->entries, &next) != 0) {
        answer_error(w, j, 500, "out of memory", NULL);
        return;
    }
    sr_admin_entries_remove(&next, at);
    j->entry = -1;
    apply(w, j, &next);
}

static void on_reloaded(void *ud, const char *err) {
    job *j = ud;
    sr_buf b = SR_BUF_INIT;
    if (err) {
        char why[1024];
        snprintf(why, sizeof why, "%s", err);
        sr_admin_scrub_file_text(why);
        answer_error(j->w, j, 400, why, NULL);
        return;
    }
    sr_buf_puts(&b, "{\"reloaded\":true}");
    answer(j->w, j, 200, &b, "reloaded the configuration");
    sr_buf_free(&b);
}

static void run_next(sr_admin_writer *w) {
    if (w->running || !w->head || w->closing)
        return;
    job *j = w->head;
    w->head = j->next;
    if (!w->head)
        w->tail = NULL;
    j->next = NULL;
    w->running = j;
    switch (j->op) {
    case SR_WRITE_CREATE:
    case SR_WRITE_UPDATE: do_put(w, j); break;
    case SR_WRITE_DELETE: do_delete(w, j); break;
    case SR_WRITE_RELOAD:
        if (w->control->reload(w->control->ud, on_reloaded, j) != 0)
            on_reloaded(j, "the gateway is shutting down");
        break;
    case SR_WRITE_TEST: answer_error(w, j, 500, "unexpected test job", NULL); break;
    }
}

static void enqueue(sr_admin_writer *w, job *j) {
    j->w = w;
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    run_next(w);
}

/* ---- tests --------------------------------------------------------------------------- */

static void on_tested(void *ud, const sr_probe_result *r) {
    job *j = ud;
    sr_buf b = SR_BUF_INIT;
    char desc[300];
    sr_buf_puts(&b, "{\"integration\":");
    sr_admin_json_text(&b, j->name);
    sr_buf_puts(&b, ",\"outcome\":");
    sr_admin_json_text(&b, r->outcome);
    if (r->status > 0)
        sr_buf_printf(&b, ",\"status\":%ld", r->status);
    else
        sr_buf_puts(&b, ",\"status\":null");
    sr_buf_printf(&b, ",\"latency_ms\":%.3f,\"response\":", r->latency_ms);
    sr_admin_json_text(&b, r->response);
    sr_buf_puts(&b, ",\"error\":");
    sr_admin_json_text(&b, r->error[0] ? r->error : NULL);
    sr_buf_puts(&b, ",\"event_id\":");
    sr_admin_json_text(&b, r->event_id);
    sr_buf_putc(&b, '}');
    snprintf(desc, sizeof desc, "test event to integration '%s': %s%s%s", j->name, r->outcome,
             r->error[0] ? ": " : "", r->error);
    sr_info("admin", "%s (by %s)", desc, j->user);
    sr_admin_writer *w = j->w;
    answer(w, j, strcmp(r->outcome, "cancelled") == 0 ? 503 : 200, &b, desc);
    sr_buf_free(&b);
    w->tests--;
    if (w->closing)
        release(w);
}

static void do_test(sr_admin_writer *w, job *j) {
    char msg[512];
    const sr_admin_control *c = w->control;
    if (draining_index(w, j->name) >= 0) {
        snprintf(msg, sizeof msg, "integration '%s' is being deleted", j->name);
        answer_error(w, j, 409, msg, NULL);
        return;
    }
    w->tests++;
    if (c->test(c->ud, j->name, on_tested, j) == 0)
        return;
    w->tests--;
    int defined = c->defined(c->ud, j->name);
    snprintf(msg, sizeof msg,
             defined ? "integration '%s' is not running (enabled: false)"
                     : "no integration named '%s'",
             j->name);
    answer_error(w, j, defined ? 409 : 404, msg, NULL);
}

/* ---- the writer ---------------------------------------------------------------------- */

void sr_admin_writer_handle(sr_admin_writer *w, sr_write_op op, const char *name,
                            sr_http_request *req, sr_http_response *resp,
                            const sr_admin_identity *who) {
    job *j = calloc(1, sizeof *j);
    if (!j) {
        sr_http_respond_error(resp, 500, "out of memory", NULL, 0);
        return;
    }
    j->w = w;
    j->op = op;
    j->resp = resp;
    j->entry = -1;
    snprintf(j->name, sizeof j->name, "%s", name ? name : "");
    snprintf(j->method, sizeof j->method, "%s", req->method);
    snprintf(j->uri, sizeof j->uri, "%s", req->path);
    snprintf(j->query, sizeof j->query, "%s", req->query ? req->query : "");
    snprintf(j->user, sizeof j->user, "%s", who->name);
    snprintf(j->ip, sizeof j->ip, "%s", req->peer_ip ? req->peer_ip : "");
    j->body = sr_http_request_take_body(req, &j->body_len);
    if (!w->control || w->closing) {
        answer_error(w, j, 503,
                     w->closing ? "shutting down"
                                : "this gateway's admin API is "
                                  "read-only",
                     NULL);
        return;
    }
    if (op == SR_WRITE_TEST)
        do_test(w, j);
    else
        enqueue(w, j);
}

sr_admin_writer *sr_admin_writer_new(uv_loop_t *loop, const sr_admin_sources *src) {
    char err[1024];
    sr_admin_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->loop = loop;
    w->src = src;
    w->control = src->control;
    if (src->control &&
        sr_admin_store_load(src->control->api_path, &w->entries, err, sizeof err) != 0)
        sr_error("admin", "%s; API changes will rewrite the file", err);
    uv_timer_init(loop, &w->drain_timer);
    uv_timer_init(loop, &w->cleanup_timer);
    w->drain_timer.data = w->cleanup_timer.data = w;
    w->open_handles = 2;
    return w;
}

static void on_handle_closed(uv_handle_t *h) {
    sr_admin_writer *w = h->data;
    w->open_handles--;
    release(w);
}

static void release(sr_admin_writer *w) {
    if (w->running || w->open_handles > 0 || w->tests > 0)
        return;
    sr_admin_entries_free(&w->entries);
    for (size_t i = 0; i < w->ndraining; i++)
        free(w->draining[i]);
    free(w);
}

void sr_admin_writer_close(sr_admin_writer *w) {
    if (!w || w->closing)
        return;
    w->closing = 1;
    w->src = &w->none; /* the API's sources go away before the writer may */
    while (w->head) {
        job *j = w->head;
        w->head = j->next;
        answer_error(w, j, 503, "shutting down", NULL);
    }
    w->tail = NULL;
    if (w->running && uv_is_active((uv_handle_t *)&w->cleanup_timer)) {
        uv_timer_stop(&w->cleanup_timer);
        on_cleanup(&w->cleanup_timer);
    }
    if (w->ndraining)
        sr_warn("admin",
                "%zu integration(s) being deleted keep their queues and stay configured "
                "(%s)",
                w->ndraining, w->control ? w->control->api_path : "");
    uv_close((uv_handle_t *)&w->drain_timer, on_handle_closed);
    uv_close((uv_handle_t *)&w->cleanup_timer, on_handle_closed);
}
