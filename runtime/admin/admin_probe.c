/* admin_probe.c - a synthetic event sent through one integration, outside
 * its queue. */
#include "admin_probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin_view.h"
#include "arena.h"
#include "admin_audit.h"
#include "event.h"
#include "log.h"
#include "sink.h"

#define MAX_STEPS        8
#define MAX_AGAIN        2
#define PROBE_TIMEOUT_MS 15000
#define PROBE_CONNECT_MS 5000
#define TEST_NAME        "siemrelay test event"
#define TEST_DESCRIPTION                                                                           \
    "A test event sent from siemrelay's admin API to check this integration; no action is "        \
    "needed."

struct sr_probe {
    sr_probe_list *list;
    sr_probe *next;
    uv_loop_t *loop;
    sr_lua_host *host;
    size_t integ;
    char name[128];
    sr_integration_info info;
    sr_sink *sink;
    uv_timer_t closer;
    char id[33];
    char *rec;
    uint32_t rec_len;
    char step[32];
    unsigned steps, again;
    double latency_ms;
    sr_probe_cb cb;
    void *ud;
    int finished;
};

/* ---- the sample event -------------------------------------------------------- */

static void rfc3339_nano(long long ns, char *out, size_t n) {
    time_t secs = (time_t)(ns / 1000000000);
    struct tm tm;
    char stamp[48];
    gmtime_r(&secs, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%09lldZ", stamp, ns % 1000000000);
}

int sr_probe_sample(unsigned channels, int severity, const char *id, long long now_ns,
                    const char *name, sr_buf *out) {
    char when[64], host[256] = "";
    rfc3339_nano(now_ns, when, sizeof when);
    gethostname(host, sizeof host - 1);
    int rc =
        sr_buf_printf(out, "{\"id\":\"%s\",\"timestamp\":%lld,\"timestampRFC3339Nano\":\"%s\",", id,
                      now_ns, when);
    if (channels & SR_CH_SECURE_EVENTS_POLICIES || !channels) {
        rc |=
            sr_buf_printf(out,
                          "\"type\":\"policy\",\"originator\":\"policy\",\"category\":\"runtime\","
                          "\"source\":\"siemrelay\",\"engine\":\"siemrelay\",\"name\":\"%s\","
                          "\"description\":\"%s\",\"severity\":%d,\"agentId\":0,"
                          "\"containerId\":\"\",\"machineId\":\"\",\"actions\":[],"
                          "\"content\":{\"policyId\":0,\"baselineId\":\"\",\"ruleName\":\"%s\","
                          "\"ruleType\":\"RULE_TYPE_FALCO\",\"ruleTags\":[\"siemrelay_test\"],"
                          "\"output\":\"%s\",\"fields\":{}},",
                          TEST_NAME, TEST_DESCRIPTION, severity, TEST_NAME, TEST_DESCRIPTION);
    } else if (channels & SR_CH_ACTIVITY_AUDIT) {
        rc |= sr_buf_printf(out,
                            "\"type\":\"command\",\"agentId\":0,\"cmdline\":\"%s\","
                            "\"comm\":\"siemrelay\",\"pcomm\":\"siemrelay\",\"containerId\":\"\","
                            "\"count\":1,\"customerId\":0,\"cwd\":\"/\",\"hostname\":\"\","
                            "\"loginShellDistance\":0,\"loginShellId\":0,\"pid\":0,\"ppid\":0,"
                            "\"procExepath\":\"siemrelay\",\"rxTimestamp\":%lld,\"tty\":0,"
                            "\"uid\":0,\"username\":\"siemrelay\",\"userLoginUid\":0,"
                            "\"userLoginName\":\"siemrelay\",\"severity\":%d,",
                            TEST_NAME, now_ns, severity);
    } else if (channels & SR_CH_PLATFORM_AUDIT) {
        rc |=
            sr_buf_printf(out,
                          "\"type\":\"audittrail\",\"originator\":\"siemrelay\",\"category\":\"\","
                          "\"source\":\"auditTrail\",\"name\":\"%s\",\"description\":\"%s\","
                          "\"severity\":%d,\"agentId\":0,\"containerId\":\"\",\"machineId\":\"\","
                          "\"content\":{\"timestampNs\":%lld,\"customerId\":0,\"userId\":0,"
                          "\"teamId\":0,\"username\":\"siemrelay\",\"requestMethod\":\"POST\","
                          "\"requestUri\":\"/api/integrations/test\",\"userOriginIP\":\"\","
                          "\"queryString\":\"\",\"responseStatusCode\":200,"
                          "\"entityType\":\"integration\",\"entityPayload\":\"\"},",
                          TEST_NAME, TEST_DESCRIPTION, severity, now_ns);
    } else {
        rc |= sr_buf_printf(out,
                            "\"type\":\"monitor\",\"source\":\"siemrelay\",\"name\":\"%s\","
                            "\"description\":\"%s\",\"severity\":%d,\"scope\":\"\",",
                            TEST_NAME, TEST_DESCRIPTION, severity);
    }
    rc |= sr_buf_puts(out, "\"labels\":{\"siemrelay.test\":\"true\",\"siemrelay.integration\":");
    rc |= sr_buf_json_string(out, name, strlen(name));
    rc |= sr_buf_puts(out, ",\"host.hostName\":");
    rc |= sr_buf_json_string(out, host, strlen(host));
    rc |= sr_buf_puts(out, "}}");
    return rc ? -1 : 0;
}

/* ---- lifecycle --------------------------------------------------------------- */

static void unlink_probe(sr_probe *p) {
    for (sr_probe **at = &p->list->head; *at; at = &(*at)->next)
        if (*at == p) {
            *at = p->next;
            break;
        }
}

static void on_closed(uv_handle_t *h) {
    sr_probe *p = h->data;
    free(p->rec);
    free(p);
}

static void on_close_timer(uv_timer_t *t) {
    sr_probe *p = t->data;
    if (p->sink)
        sr_sink_close(p->sink);
    p->sink = NULL;
    uv_close((uv_handle_t *)&p->closer, on_closed);
}

/* Reports once, then closes the sink outside its own callback. */
static void finish(sr_probe *p, const char *outcome, long status, const char *response,
                   const char *error) {
    if (p->finished)
        return;
    p->finished = 1;
    unlink_probe(p);
    sr_probe_result r = {
        .outcome = outcome,
        .status = status,
        .latency_ms = p->latency_ms,
        .response = response ? response : "",
        .error = error ? error : "",
        .event_id = p->id,
    };
    p->cb(p->ud, &r);
    uv_timer_start(&p->closer, on_close_timer, 0, 0);
}

/* ---- sending ----------------------------------------------------------------- */

static void on_sent(void *ud, const sr_sink_result *res);

static void send_once(sr_probe *p) {
    char err[256] = "";
    sr_http_request_buf req;
    memset(&req, 0, sizeof req);
    const char *recs[1] = {p->rec};
    sr_sink_payload pl = {.recs = recs, .lens = &p->rec_len, .n = 1};
    p->step[0] = '\0';
    if (strcmp(p->info.transport, "http") == 0) {
        if (sr_lua_host_request(p->host, p->integ, recs, &p->rec_len, 1, &req, err, sizeof err) !=
            0) {
            sr_lua_host_redact(p->host, p->integ, err, strlen(err));
            sr_buf_free(&req.storage);
            finish(p, "reject", 0, NULL, err);
            return;
        }
        snprintf(p->step, sizeof p->step, "%s", req.step);
        pl.http = &req.req;
    }
    int rc = sr_sink_send(p->sink, &pl, on_sent, p);
    sr_buf_free(&req.storage);
    if (rc != 0)
        finish(p, "failed", 0, NULL, "the transport refused the request");
}

static const char *kind_name(sr_outcome_kind k) {
    switch (k) {
    case SR_OUTCOME_OK: return "ok";
    case SR_OUTCOME_REJECT: return "reject";
    default: return "retry";
    }
}

static void on_sent(void *ud, const sr_sink_result *res) {
    sr_probe *p = ud;
    char excerpt[SR_PROBE_EXCERPT + 1], reason[256];
    sr_buf clean = SR_BUF_INIT;
    p->latency_ms += res->latency_ms;
    size_t n = res->body_len < SR_PROBE_EXCERPT ? res->body_len : SR_PROBE_EXCERPT;
    /* Masked whole, then cut: a secret the cut went through would not be
     * recognised in the excerpt, and its first half would show. */
    sr_buf whole = SR_BUF_INIT;
    if (res->body_len && sr_buf_append(&whole, res->body, res->body_len) == 0) {
        sr_lua_host_redact(p->host, p->integ, whole.data, whole.len);
        memcpy(excerpt, whole.data, n);
    } else {
        n = 0;
    }
    sr_buf_free(&whole);
    excerpt[n] = '\0';
    sr_admin_put_utf8(&clean, excerpt, strnlen(excerpt, n));
    sr_buf_putc(&clean, '\0');
    snprintf(reason, sizeof reason, "%s", res->error);
    sr_lua_host_redact(p->host, p->integ, reason, strlen(reason));

    if (p->step[0]) {
        int v = sr_lua_host_step(p->host, p->integ, p->step, res, reason, sizeof reason);
        sr_lua_host_redact(p->host, p->integ, reason, strlen(reason));
        if (v == 0 && ++p->steps <= MAX_STEPS)
            send_once(p);
        else
            finish(p, v == 2 ? "reject" : "retry", res->status, clean.data,
                   v == 0 ? "too many auxiliary requests" : reason);
        goto done;
    }
    if (strcmp(p->info.transport, "http") == 0) {
        sr_outcome o;
        memset(&o, 0, sizeof o);
        if (sr_lua_host_outcome(p->host, p->integ, res, 1, &o) != 0) {
            o.kind = SR_OUTCOME_RETRY;
            snprintf(o.reason, sizeof o.reason, "outcome() failed");
        }
        sr_outcome_kind k = o.items && o.nitems ? (sr_outcome_kind)o.items[0] : o.kind;
        sr_lua_host_redact(p->host, p->integ, o.reason, strlen(o.reason));
        if (k == SR_OUTCOME_AGAIN && ++p->again <= MAX_AGAIN) {
            sr_outcome_free(&o);
            send_once(p);
            goto done;
        }
        if (k == SR_OUTCOME_SPLIT)
            k = SR_OUTCOME_REJECT;
        const char *why = o.reason[0] ? o.reason : res->transport_ok ? "" : reason;
        finish(p, kind_name(k), res->status, clean.data, k == SR_OUTCOME_OK ? "" : why);
        sr_outcome_free(&o);
        goto done;
    }
    if (res->items && res->nitems) {
        sr_sink_item it = (sr_sink_item)res->items[0];
        const char *why = res->item_errors && res->item_errors[0] ? res->item_errors[0] : reason;
        finish(p,
               it == SR_SINK_ITEM_OK       ? "ok"
               : it == SR_SINK_ITEM_REJECT ? "reject"
                                           : "retry",
               res->status, clean.data, it == SR_SINK_ITEM_OK ? "" : why);
    } else {
        finish(p, res->transport_ok ? "ok" : "retry", res->status, clean.data,
               res->transport_ok ? "" : reason);
    }
done:
    sr_buf_free(&clean);
}

/* ---- encoding ---------------------------------------------------------------- */

/* Runs the sample through scripts and encode; 0 with p->rec, or -1 after
 * finish(). */
static int encode(sr_probe *p, int min_severity) {
    struct timespec ts;
    sr_buf doc = SR_BUF_INIT;
    sr_arena arena;
    sr_event ev;
    sr_json_error jerr;
    sr_emit emit;
    int rc = -1;
    clock_gettime(CLOCK_REALTIME, &ts);
    sr_arena_init(&arena, 16384);
    sr_emit_init(&emit);
    if (sr_probe_sample(p->info.channels, min_severity >= 0 ? min_severity : 7, p->id,
                        (long long)ts.tv_sec * 1000000000 + ts.tv_nsec, p->name, &doc) != 0 ||
        sr_event_parse(&ev, &arena, doc.data, doc.len, NULL, &jerr) != 0) {
        finish(p, "failed", 0, NULL, "cannot build the test event");
        goto done;
    }
    if (sr_lua_host_process(p->host, &ev, 1, &emit) != 0) {
        finish(p, "failed", 0, NULL, "the Lua state could not run the event");
        goto done;
    }
    for (size_t i = 0; i < emit.nrecs; i++) {
        const sr_emit_rec *r = &emit.recs[i];
        if (r->integ != p->integ)
            continue;
        if (!(p->rec = malloc(r->len ? r->len : 1))) {
            finish(p, "failed", 0, NULL, "out of memory");
            goto done;
        }
        memcpy(p->rec, emit.data.data + r->off, r->len);
        p->rec_len = r->len;
        rc = 0;
        goto done;
    }
    for (size_t i = 0; i < emit.nfails; i++) {
        const sr_emit_fail *f = &emit.fails[i];
        if (f->integ != -1 && (size_t)f->integ != p->integ)
            continue;
        char why[300];
        snprintf(why, sizeof why, "%s: %s", f->stage, f->msg);
        sr_lua_host_redact(p->host, p->integ, why, strlen(why));
        finish(p, "failed", 0, NULL, why);
        goto done;
    }
    finish(p, "dropped", 0, NULL,
           "no record: a site script dropped the event, or the integration's routing or encode "
           "skipped it");
done:
    sr_emit_free(&emit);
    sr_arena_free(&arena);
    sr_buf_free(&doc);
    return rc;
}

void sr_probe_start(sr_probe_list *list, uv_loop_t *loop, sr_lua_host *host, size_t integ,
                    const char *name, int min_severity, sr_probe_cb cb, void *ud) {
    char err[256] = "";
    sr_probe *p = calloc(1, sizeof *p);
    if (!p) {
        sr_probe_result r = {
            .outcome = "failed", .response = "", .error = "out of memory", .event_id = ""};
        cb(ud, &r);
        return;
    }
    p->list = list;
    p->next = list->head;
    list->head = p;
    p->loop = loop;
    p->host = host;
    p->integ = integ;
    p->cb = cb;
    p->ud = ud;
    snprintf(p->name, sizeof p->name, "%s", name);
    uv_timer_init(loop, &p->closer);
    p->closer.data = p;
    sr_audit_new_id(p->id);
    if (sr_lua_host_info(host, integ, &p->info) != 0 || !p->info.sink) {
        finish(p, "failed", 0, NULL, "unknown integration");
        return;
    }
    if (encode(p, min_severity) != 0)
        return;
    /* A shallow copy: the strings stay the host's. */
    const sr_sink_transport *t = p->info.sink;
    void *s = malloc(t->settings_size);
    if (!s) {
        finish(p, "failed", 0, NULL, "out of memory");
        return;
    }
    memcpy(s, p->info.settings, t->settings_size);
    sr_sink_settings_cap(t, s, "timeout_ms", PROBE_TIMEOUT_MS);
    sr_sink_settings_cap(t, s, "connect_timeout_ms", PROBE_CONNECT_MS);
    p->sink = t->open(loop, s, err, sizeof err);
    free(s);
    if (!p->sink) {
        sr_lua_host_redact(host, integ, err, strlen(err));
        finish(p, "failed", 0, NULL, err);
        return;
    }
    send_once(p);
}

void sr_probe_cancel_all(sr_probe_list *list, const char *why) {
    while (list->head) {
        sr_probe *p = list->head;
        if (p->sink)
            sr_sink_close(p->sink); /* no callback after this */
        p->sink = NULL;
        finish(p, "cancelled", 0, NULL, why); /* unlinks it */
    }
}
